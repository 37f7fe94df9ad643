"""The household roster (搬迁对象名册): checks, masking, 公示名单 and 直补到户清册, on a hand-built county.

The tiny county has two villages and five households (figures checked by hand below), paid with
the seed's report-4 policy: per household 1,000 (homestead) + 10,000 (city) + 10,000 (county) and
per person 3,800 (province) + 5,000 (city) + 2,000 (county), plus 10,000 for the county's one
hardship household (10 % of 5 households = 0.5, rounded half up to 1, which goes to the township
with the larger remainder, 一乡: 0.3 against 0.2).
"""

from __future__ import annotations

import datetime as dt
import html.parser
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from geofupin import policy as pol
from geofupin import roster as ro
from geofupin.config.policy import HousingPlan, seed_policy
from geofupin.config.roster import NoticeConfig, PaymentConfig, PaymentTranche, RosterConfig
from geofupin.errors import LayerError, ScenarioError
from geofupin.notice import notice_html, write_roster_files

XSS = '<script>alert("x")</script>'
IMG = '"><img src=x onerror=alert(1)>'
FORMULA = '=HYPERLINK("http://evil.example","点我")'


def _id(first17: str) -> str:
    return first17 + ro.id_check_char(first17)


ID1 = _id("61062419600101001")
ID2 = _id("61062419650202002")
ID3 = _id("61062419700303003")
ID4 = _id("61062419400404004")
ID5 = _id("61062419750505005")


def villages() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "village_id": ["V1", "V2"],
            "name": ["甲村", "乙村"],
            "township": ["一乡", "二乡"],
            "group": ["", "一组"],
            "households": [10, 6],
            "persons": [40, 20],
            "poor_households": [2, 2],
            "poor_persons": [7, 5],
            "relocate_households": [3, 2],
            "relocate_persons": [10, 5],
        }
    )


def raw_roster(**changes: dict[int, object]) -> pd.DataFrame:
    """The office's table, in its own column names; ``changes`` = {column: {row index: value}}."""
    df = pd.DataFrame(
        {
            "户主姓名": ["张三", "李四", "王五", "赵六", "钱七"],
            "身份证号码": [ID1, ID2, ID3, ID4.lower(), ID5],  # a lower-case x is still valid
            "联系电话": ["13812345678", "139 0000 1111", "", "0911-8123456", "15800001234"],
            "家庭人口": ["4", "3", "3", "1", "4"],
            "户类型": ["特困户", "一般贫困户", "非贫困户", "五保", "低保户"],
            "人均纯收入(元)": ["1357", "2468", "5000", "900", "1800"],
            "致贫原因": ["因病", "缺水", "", "因残", "缺技术"],
            "所在村": ["甲村", "甲村", "V1", "乙村", "乙村"],
            "村民小组": ["", "", "", "一组", "一组"],
            "现住房面积": ["60", "45", "80", "20", "50"],
            "安置意愿": ["集中", "集中", "分散", "集中", "集中安置"],
            "申请日期": ["2011-02-10", "2011/2/11", "2011年2月12日", "20110213", "2011-02-14"],
            "村评议日期": ["2011-03-01", "2011-03-01", "2011-03-02", "2011-03-05", "2011-03-05"],
            "乡镇审查日期": ["2011-03-08", "2011-03-10", "2011-03-10", "2011-03-12", "2011-03-12"],
            "县审批日期": ["2011-04-01", "", "2011-04-01", "2011-04-02", ""],
            "市备案日期": ["2011-04-20", "", "", "", ""],
        }
    )
    for col, rows in changes.items():
        for i, v in rows.items():
            df.loc[i, col] = v
    return df


def read(raw: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    return ro.normalize(raw if raw is not None else raw_roster(), villages(), source="hand.xlsx")


def checks_of(raw: pd.DataFrame, notice: NoticeConfig | None = None) -> pd.DataFrame:
    h, c = read(raw)
    pol_ = seed_policy()
    more = ro.check_roster(h, villages(), housing_rules=pol_.housing, notice=notice)
    return pd.concat([c, more], ignore_index=True)


def budget() -> pol.Budget:
    return pol.compute_budget(pol.plan_units(villages()), seed_policy())


# ------------------------------------------------------------------------ pure helpers
def test_id_check_character_on_the_standard_example() -> None:
    # GB 11643-1999's example: sum of digits x weights = 167, 167 mod 11 = 2 -> 'X'
    assert ro.id_check_char("11010519491231002") == "X"
    assert ro.id_problem("11010519491231002X") is None
    assert ro.id_problem("11010519491231002x") is None  # lower case accepted
    assert "校验码应为X" in ro.id_problem("110105194912310021")[0]
    assert "18位" in ro.id_problem("1101051949123100")[0]
    assert "15位" in ro.id_problem("110105491231002")[0]
    assert "出生日期" in ro.id_problem(_id("11010519491331002"))[0]  # month 13
    assert "非数字" in ro.id_problem("1101051949123100AX")[0]
    assert ro.id_problem("") == ("身份证号码为空", "no ID number")
    assert ro.id_problem("１１０１０５１９４９１２３１００２Ｘ") is None  # full-width digits from a Chinese IME


def test_masking_by_hand() -> None:
    assert ro.mask_id("11010519491231002X") == "1101**********002X"
    assert ro.mask_id("61010119800101123x") == "6101**********123X"
    assert ro.mask_id(" 110105 19491231002X ") == "1101**********002X"
    assert ro.mask_id("110105491231002") == "1101*******1002"  # 15 digits: 4 + 7 + 4
    assert ro.mask_id("12345678901") == "***********"  # short or broken: nothing shows
    assert ro.mask_id("") == "" and ro.mask_id(None) == ""
    assert ro.mask_phone("13812345678") == "138****5678"
    assert ro.mask_phone("138-1234-5678") == "138****5678"
    assert ro.mask_phone("0911-8123456") == "091****3456"
    assert ro.mask_phone("8123456") == "***3456"
    assert ro.mask_phone("12345") == "*****"
    assert ro.mask_phone(float("nan")) == ""


def test_seven_day_notice_ends_on_the_seventh_day() -> None:
    assert ro.notice_end(dt.date(2011, 3, 1)) == dt.date(2011, 3, 7)
    assert ro.notice_end(dt.date(2011, 2, 25)) == dt.date(2011, 3, 3)  # 25..28 Feb, 1..3 Mar
    assert ro.notice_end(dt.date(2012, 2, 25)) == dt.date(2012, 3, 2)  # leap year
    assert ro.notice_end(dt.date(2011, 3, 1), 10) == dt.date(2011, 3, 10)


def test_dates_as_offices_write_them() -> None:
    d = dt.date(2011, 3, 1)
    for text in ("2011-03-01", "2011/3/1", "2011.3.1", "2011年3月1日", "20110301", "2011-03-01 00:00:00", "40603"):
        assert ro.parse_date(text) == d, text
    assert ro.parse_date("") is None
    with pytest.raises(ValueError):
        ro.parse_date("2011-02-30")
    with pytest.raises(ValueError):
        ro.parse_date("三月一日")


# ------------------------------------------------------------------------ reading
def test_office_columns_are_read_and_villages_found() -> None:
    h, c = read()
    assert c.empty
    assert h["village_id"].tolist() == ["V1", "V1", "V1", "V2", "V2"]
    assert h["persons"].tolist() == [4, 3, 3, 1, 4]
    assert h["status"].tolist() == ["extreme_poor", "poor", "non_poor", "five_guarantee", "low_income"]
    assert h["wish"].tolist() == ["central", "central", "scattered", "central", "central"]
    assert h["income_per_capita"].tolist() == [1357.0, 2468.0, 5000.0, 900.0, 1800.0]  # header with (元)
    assert h["apply_date"].tolist()[:4] == [dt.date(2011, 2, d) for d in (10, 11, 12, 13)]
    assert h["stage"].tolist() == ["city_filing", "township_review", "county_approval", "county_approval",
                                   "township_review"]  # fmt: skip
    assert h["row"].tolist() == [2, 3, 4, 5, 6]  # the spreadsheet rows (header = row 1)
    assert h["township"].tolist() == ["一乡", "一乡", "一乡", "二乡", "二乡"]  # filled from the layer


def test_scenario_columns_rename_and_missing_columns_are_one_error() -> None:
    raw = raw_roster().rename(columns={"户主姓名": "户主名字", "家庭人口": "口数"})
    with pytest.raises(LayerError) as exc:
        read(raw)
    text = str(exc.value)
    assert "户主姓名 (head_name) is missing" in text and "家庭人口 (persons) is missing" in text
    h, _ = ro.normalize(raw, villages(), columns={"户主名字": "head_name", "口数": "persons"})
    assert h["head_name"].tolist()[0] == "张三" and int(h["persons"].sum()) == 15
    with pytest.raises(LayerError, match=r"not a roster column.*did you mean 'persons'"):
        ro.normalize(raw, villages(), columns={"户主名字": "head_name", "口数": "person"})


def test_bad_cells_and_unknown_villages_name_the_row() -> None:
    c = checks_of(raw_roster(家庭人口={1: "三"}, 户类型={2: "富户"}, 所在村={4: "丙村"}, 县审批日期={0: "4月1日"}))
    bad = c[c["check"] == "bad_value"]
    assert sorted(bad["row"].tolist()) == [2, 3, 4]
    assert bad.set_index("row").loc[3, "message_zh"].startswith("家庭人口「三」无法识别")
    unknown = c[c["check"] == "unknown_village"]
    assert unknown["row"].tolist() == [6] and "丙村" in unknown["message_zh"].iloc[0]
    assert (c.loc[c["check"].isin(["bad_value", "unknown_village"]), "severity"] == "error").all()


# ------------------------------------------------------------------------ checks
def test_clean_roster_passes_every_check() -> None:
    c = checks_of(raw_roster())
    assert c.empty, c[["check", "message_en"]].to_string()


def test_registry_and_plan_counts_per_village() -> None:
    # 李四 has 2 persons, not 3: 甲村's poor persons 6 (registry 7), relocating persons 9 (plan 10)
    c = checks_of(raw_roster(家庭人口={1: "2"}))
    got = c[c["check"].str.startswith(("registry", "move"))]
    assert sorted(got["check"]) == ["move_persons", "registry_persons"]
    assert set(got["village_id"]) == {"V1"}
    reg = got[got["check"] == "registry_persons"].iloc[0]
    assert reg["message_zh"] == "甲村:名册贫困人口6,建档立卡登记为7"
    # 钱七 marked 非贫困: 乙村's roster has 1 poor household (registry 2) and 1 poor person (registry 5)
    c = checks_of(raw_roster(户类型={4: "非贫困"}))
    got = c[c["check"].str.startswith(("registry", "move"))].set_index("check")
    assert set(got.index) == {"registry_households", "registry_persons"}
    assert "名册贫困户1,建档立卡登记为2" in got.loc["registry_households", "message_zh"]


def test_every_poor_household_of_a_project_village_moves() -> None:
    raw = raw_roster()
    raw["是否搬迁"] = ["是", "否", "是", "是", "是"]
    c = checks_of(raw)
    not_moving = c[c["check"] == "poor_not_moving"]
    assert not_moving["row"].tolist() == [3] and not_moving["severity"].iloc[0] == "error"
    assert "项目村贫困户全部纳入搬迁范围" in not_moving["fix"].iloc[0]
    assert set(c.loc[c["check"].str.startswith("move"), "check"]) == {"move_households", "move_persons"}


def test_housing_limits_on_real_sizes() -> None:
    raw = raw_roster()
    raw["新建住房面积"] = ["80", "50", "130", "", ""]  # 80/4 = 20 ok; 50/3 = 16.7 < 20; 130 > 120; plan's 40/90
    c = checks_of(raw)
    area = c[c["check"] == "housing_area"].set_index("row")
    assert sorted(area.index) == [3, 4]
    assert "人均16.7平方米,少于20平方米" in area.loc[3, "message_zh"]
    assert "每户130平方米,超过120平方米" in area.loc[4, "message_zh"]
    # a 7-person household cannot get both 7 x 20 = 140 m2 and at most 120 m2: a conflict, not an error
    c = checks_of(raw_roster(家庭人口={0: "7"}))
    conflict = c[c["check"] == "housing_conflict"]
    assert conflict["row"].tolist() == [2] and conflict["severity"].iloc[0] == "warning"
    assert "7人户按人均20平方米需140平方米" in conflict["message_zh"].iloc[0]


def test_duplicate_and_invalid_id_numbers() -> None:
    bad = ID3[:-1] + ("0" if ID3[-1] != "0" else "1")
    c = checks_of(raw_roster(身份证号码={1: ID1, 2: bad}))
    dup = c[c["check"] == "duplicate_id"]
    assert sorted(dup["row"]) == [2, 3] and (dup["message_zh"] == "身份证号码重复(第2、3行)").all()
    inv = c[c["check"] == "id_number"]
    assert inv["row"].tolist() == [4] and f"校验码应为{ID3[-1]}" in inv["message_zh"].iloc[0]


def test_workflow_order_gaps_and_the_notice_period() -> None:
    c = checks_of(
        raw_roster(
            县审批日期={2: "2011-03-09"},  # 王五: county approval before the township check (03-10)
            申请日期={3: ""},  # 赵六: no application date, later stages dated
            乡镇审查日期={0: "2011-03-07"},  # 张三: township check on the notice's last day (posted 03-01)
        )
    )
    order = c[c["check"] == "workflow_order"]
    assert order["row"].tolist() == [4]
    assert order["message_zh"].iloc[0] == "县扶贫办审批日期2011-03-09早于乡镇审查日期2011-03-10"
    gap = c[c["check"] == "workflow_gap"]
    assert gap["row"].tolist() == [5] and gap["severity"].iloc[0] == "warning"
    period = c[c["check"] == "notice_period"]
    assert period["row"].tolist() == [2]
    assert "公示期内(2011-03-01至2011-03-07)" in period["message_zh"].iloc[0]
    # the day after the period is allowed: 03-08 is the clean roster's date
    assert checks_of(raw_roster(乡镇审查日期={0: "2011-03-08"})).empty


def test_workflow_table_status_and_dates() -> None:
    h, _ = read()
    w = ro.workflow_table(h, NoticeConfig())
    assert w["stage_zh"].tolist() == ["市扶贫局备案", "乡镇审查", "县扶贫办审批", "县扶贫办审批", "乡镇审查"]
    # each village's notice starts on its earliest 村评议日期
    assert w["notice_start"].tolist() == ["2011-03-01"] * 3 + ["2011-03-05"] * 2
    assert w["notice_end"].tolist() == ["2011-03-07"] * 3 + ["2011-03-11"] * 2
    fixed = ro.workflow_table(h, NoticeConfig(posting_date=dt.date(2011, 3, 20)))
    assert set(fixed["notice_end"]) == {"2011-03-26"}


# ------------------------------------------------------------------------ public notice
def test_notice_table_masks_and_omits_income_and_cause() -> None:
    h, _ = read()
    lst, vil = ro.notice_table(h, notice=NoticeConfig())
    assert list(lst.columns) == list(ro.NOTICE_COLUMNS)
    assert lst["id_masked"].tolist()[0] == ID1[:4] + "*" * 10 + ID1[-4:]
    assert lst["phone_masked"].tolist() == ["138****5678", "139****1111", "", "091****3456", "158****1234"]
    assert lst["no"].tolist() == [1, 2, 3, 1, 2]
    text = lst.to_csv()
    for secret in (ID1, "13812345678", "1357", "因病", "缺水"):
        assert secret not in text
    assert vil[["village_id", "households", "persons", "posting_date", "period_end"]].values.tolist() == [
        ["V1", 3, 10, "2011-03-01", "2011-03-07"],
        ["V2", 2, 5, "2011-03-05", "2011-03-11"],
    ]


class _Page(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[str] = []
        self.sections = 0
        self.text: list[str] = []
        self.cells: list[str] = []
        self._in_td = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(name for name, _ in attrs)
        self.sections += tag == "section"
        self._in_td = tag == "td"

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._in_td = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_td:
            self.cells.append(data)


def _hostile() -> tuple[pd.DataFrame, pd.DataFrame]:
    raw = raw_roster(户主姓名={0: XSS, 1: IMG, 3: FORMULA})
    h, _ = read(raw)
    return ro.notice_table(h, destinations={"H0001": "县城<b>安置点</b>"}, notice=NoticeConfig(contact_zh=XSS))


def test_notice_page_one_village_a_page_escaped_no_script_no_network() -> None:
    lst, vil = _hostile()
    page = notice_html(lst, vil, cfg=NoticeConfig(contact_zh=XSS), title="示范<i>县</i>")
    p = _Page()
    p.feed(page)
    assert p.sections == 2
    assert "script" not in p.tags and "img" not in p.tags and "b" not in p.tags and "i" not in p.tags
    assert not any(t in p.tags for t in ("link", "iframe", "object", "embed"))
    assert page.count("://") == 1  # no URL but the one inside the hostile name, shown as text
    assert not {"src", "href", "action"} & set(p.attrs) and not any(a.startswith("on") for a in p.attrs)
    assert XSS in p.cells and IMG in p.cells and FORMULA in p.cells  # shown as written, as text
    assert "县城<b>安置点</b>" in p.cells
    text = "".join(p.text)
    assert "公示期7天,自2011年3月1日至2011年3月7日" in text and "自2011年3月5日至2011年3月11日" in text
    assert "甲村村民委员会(盖章)" in text and f"受理异议:{XSS}" in text
    for secret in (ID1, "13812345678", "1357", "因病"):
        assert secret not in page
    assert "@page { size: A4 portrait" in page and "break-after: page" in page
    assert "default-src 'none'" in page
    assert "草稿" not in text
    assert "草稿" in notice_html(lst, vil, errors=3)


def test_notice_page_without_dates_leaves_blanks() -> None:
    h, _ = read(raw_roster(村评议日期={i: "" for i in range(5)}))
    lst, vil = ro.notice_table(h)
    assert set(vil["posting_date"]) == {""}
    assert "自____年__月__日至____年__月__日" in notice_html(lst, vil)


def test_notice_and_payment_workbooks_read_back(tmp_path: Path) -> None:
    raw = raw_roster(户主姓名={0: FORMULA})
    raw["银行账号"] = ["6228480000000000001", "", "", "", ""]
    cfg = RosterConfig(path=tmp_path / "r.xlsx", payment=PaymentConfig(tranches=_TRANCHES))
    res = ro.run_roster(raw, villages(), cfg, budget(), source="hand.xlsx")
    written = write_roster_files(res.tables, cfg, tmp_path / "roster")
    assert set(written) == {"public_notice.html", "public_notice.xlsx", "payment_roster.xlsx"}
    wb = openpyxl.load_workbook(written["public_notice.xlsx"])
    assert wb.sheetnames == ["公示村", "甲村", "乙村一组"]
    ws = wb["甲村"]
    rows = list(ws.values)
    assert rows[0] == (
        "序号",
        "村民小组",
        "户主姓名",
        "身份证号码",
        "联系电话",
        "家庭人口(人)",
        "户类型",
        "安置方式",
        "安置去向",
    )
    assert rows[1][2] == FORMULA and ws.cell(2, 3).data_type == "s"  # text, never a formula
    assert rows[1][3] == ro.mask_id(ID1) and rows[3][6] == "非贫困户(同步搬迁)"
    assert list(wb["公示村"].values)[1][6:] == ("2011-03-01", 7, "2011-03-07")
    pay = openpyxl.load_workbook(written["payment_roster.xlsx"])
    assert pay.sheetnames == ["核对", "甲村", "乙村一组"]
    head, *body = list(pay["甲村"].values)
    assert head[-2:] == ("领款人签字(按手印)", "领款日期")
    total_col = head.index("补助合计(元)")
    assert [r[total_col] for r in body] == [74200, 53400, 53400, 181000]  # the 合计 row last
    assert body[-1][0] == "合计" and body[0][head.index("银行账号")] == "6228480000000000001"
    assert body[0][head.index("身份证号码")] == ID1  # the payment roster is signed: full numbers
    check = list(pay["核对"].values)
    assert check[-1][0] == "全县" and check[-1][-1] == 0


# ------------------------------------------------------------------------ payments
_TRANCHES = (
    PaymentTranche("structure", "主体完工验收后拨付", 0.6),
    PaymentTranche("moved_in", "竣工验收入住后拨付", 0.4),
)


def test_payment_roster_by_hand_sums_to_the_budget_to_the_yuan() -> None:
    h, _ = read()
    b = budget()
    pay, lines = ro.payment_roster(h, b, PaymentConfig(tranches=_TRANCHES))
    assert pay["head_name"].tolist() == ["张三", "李四", "王五", "赵六", "钱七"]
    # 21,000 a household + 10,800 a person (+ 10,000 for the hardship household, 张三 the 特困户)
    assert pay["total_yuan"].tolist() == [74200.0, 53400.0, 53400.0, 31800.0, 64200.0]
    assert pay["hardship"].tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]
    z = pay.iloc[0]
    assert (z["province_yuan"], z["city_yuan"], z["county_yuan"]) == (26200.0, 30000.0, 18000.0)
    assert (z["tranche_structure_yuan"], z["tranche_moved_in_yuan"]) == (44520.0, 29680.0)
    assert pay["total_yuan"].sum() == 277000.0
    hh_lines = b.lines[b.lines["paid_to"] == "household"]
    assert hh_lines["amount_yuan"].sum() == 277000.0  # the budget's 直补到户 lines, independently
    assert lines["amount_yuan"].sum() == 277000.0
    assert (pay["tranche_structure_yuan"] + pay["tranche_moved_in_yuan"] == pay["total_yuan"]).all()
    rec = ro.payment_check(pay, b)
    assert rec["diff_yuan"].abs().max() == 0
    assert rec.set_index("village_id").loc["V1", "budget_yuan"] == 74200 + 53400 * 2
    assert pay["signature"].eq("").all()


def test_tranches_are_whole_yuan_and_the_last_takes_the_rest() -> None:
    h, _ = read()
    thirds = (PaymentTranche("a", "一", 1 / 3), PaymentTranche("b", "二", 1 / 3), PaymentTranche("c", "三", 1 / 3))
    pay, lines = ro.payment_roster(h, budget(), PaymentConfig(tranches=thirds))
    # 赵六: province 3,800 + 1,000 = 4,800, city 15,000, county 12,000: 1,600 + 5,000 + 4,000 = 10,600 a tranche
    for col in ("tranche_a_yuan", "tranche_b_yuan"):
        assert (pay[col] % 1 == 0).all()
    assert (pay["tranche_a_yuan"] + pay["tranche_b_yuan"] + pay["tranche_c_yuan"] == pay["total_yuan"]).all()
    # 张三's province 3,800 x 4 + 1,000 + 10,000 = 26,200: 8,733 + 8,733 + 8,734
    z = lines[(lines["head_name"] == "张三") & (lines["payer"] == "province")].set_index("tranche")["amount_yuan"]
    assert z.to_dict() == {"a": 8733.0, "b": 8733.0, "c": 8734.0}
    assert pay.iloc[3][["tranche_a_yuan", "tranche_b_yuan", "tranche_c_yuan"]].tolist() == [10600.0] * 3


def test_hardship_goes_by_status_then_lowest_income() -> None:
    # no 特困户 in the roster: the one hardship household of 甲村 goes to its poorest poor household (李四:
    # 一般贫困 at 2,468 a person; 王五 is not poor); a 五保户 would come first
    h, _ = read(raw_roster(户类型={0: "一般贫困"}, **{"人均纯收入(元)": {0: "3000"}}))
    pay, _ = ro.payment_roster(h, budget())
    assert pay["hardship"].tolist() == [0.0, 1.0, 0.0, 0.0, 0.0]
    res = ro.run_roster(
        raw_roster(户类型={0: "一般贫困"}), villages(), RosterConfig(path=Path("r.csv")), budget(), source="r.csv"
    )
    assert any("hardship_quota" in w for w in res.warnings)


def test_a_roster_that_differs_from_the_plan_is_reported_not_hidden() -> None:
    res = ro.run_roster(raw_roster(家庭人口={1: "2"}), villages(), RosterConfig(path=Path("r.csv")), budget())
    rec = res.tables["roster_payment_check"].set_index("village_id")
    assert rec.loc["V1", "diff_yuan"] == -10800.0  # one person less: 3,800 + 5,000 + 2,000
    assert res.errors == 2
    assert any("直补到户清册与预算不符" in w for w in res.warnings)
    assert any("roster error registry_persons" in w and "甲村:名册贫困人口6" in w for w in res.warnings)


# ------------------------------------------------------------------------ scenario
def test_scenario_section_and_its_validation(tmp_path: Path) -> None:
    from geofupin import scenario

    base = {"name": "t", "layers": {"villages": "v.gpkg"}}
    s = scenario.from_dict(
        {**base, "roster": {"path": "hh.xlsx", "notice": {"posting_date": dt.date(2011, 3, 1)}}}, base_dir=tmp_path
    )
    assert s.roster is not None and s.roster.path == tmp_path / "hh.xlsx"
    assert s.roster.notice.posted == dt.date(2011, 3, 1) and s.roster.notice.period_days == 7
    with pytest.raises(ScenarioError) as exc:
        scenario.from_dict(
            {
                **base,
                "roster": {
                    "path": "hh.xlsx",
                    "notice": {"posting_date": "3月1日", "period_days": 0},
                    "payment": {"tranches": [{"id": "a", "name_zh": "一", "share": 0.5}]},
                },
            },
            base_dir=tmp_path,
        )
    text = str(exc.value)
    assert "roster.notice.posting_date" in text and "roster.notice.period_days" in text
    assert "add up to 0.5, not 1" in text


def test_readme_lists_every_accepted_column(repo_root: Path) -> None:
    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("搬迁对象名册") :]
    for col in ro.COLUMNS:
        assert f"`{col.name}`" in section and col.zh in section, col.name


# ------------------------------------------------------------------------ the printed page
@pytest.mark.browser
def test_notice_prints_to_a4_pdf_in_chromium(tmp_path: Path) -> None:
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists() or shutil.which("pdfinfo") is None or shutil.which("pdftotext") is None:
        pytest.skip("chromium or poppler-utils (pdfinfo, pdftotext) is absent")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (python package) is absent")
    from test_browser import ARGS, _open

    lst, vil = _hostile()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=ARGS, headless=True)
        try:
            got = _open(browser, tmp_path / "notice.html", notice_html(lst, vil), "section.village")
            assert got.network == [] and got.errors == [] and got.dialogs == []
            assert got.page.locator("section.village").count() == 2
            assert got.page.locator("script, img").count() == 0
            got.page.pdf(path=str(tmp_path / "notice.pdf"), prefer_css_page_size=True, print_background=True)
        finally:
            browser.close()
    info = subprocess.run(["pdfinfo", str(tmp_path / "notice.pdf")], capture_output=True, text=True, check=True)
    assert "Pages:           2" in info.stdout  # one page per village
    assert "(A4)" in info.stdout
    text = subprocess.run(
        ["pdftotext", "-layout", str(tmp_path / "notice.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "甲村扶贫移民搬迁对象公示" in text.replace(" ", "") and "乙村一组" in text.replace(" ", "")
    assert "\f" in text.rstrip("\f")  # a page break between the villages
    assert ID1 not in text and ro.mask_id(ID1) in text.replace(" ", "")


# ------------------------------------------------------------------------ the demo
def test_demo_roster_is_clean_and_adds_up() -> None:
    import geopandas as gpd

    from geofupin import demo
    from geofupin.demo._households import households_table

    repo = Path(__file__).resolve().parents[1]
    vil = gpd.read_file(repo / "layers" / "demo" / "villages.gpkg")
    raw = households_table(vil, seed=demo.DEFAULT_SEED)
    assert len(raw) == 1526 and pd.to_numeric(raw["家庭人口"]).sum() == 6886
    assert pd.to_numeric(raw["家庭人口"]).between(1, 6).all()
    committed = ro.normalize(
        pd.read_excel(
            repo / "layers" / "demo" / demo.HOUSEHOLDS_FILE, engine="openpyxl", dtype=str, keep_default_na=False
        ),
        vil,
    )[0]
    assert committed["id_number"].tolist() == raw["身份证号码"].tolist()  # the committed file is the generator's
    h, c = ro.normalize(raw.astype(str), vil)
    assert c.empty
    b = pol.compute_budget(pol.plan_units(vil), seed_policy())
    checks = ro.check_roster(h, vil, housing_rules=seed_policy().housing, housing_plan=HousingPlan())
    assert checks.empty, checks.head().to_string()
    assert int((h["status"] == "extreme_poor").sum()) == 153  # 10 % of 1,526, rounded half up
    pay, _ = ro.payment_roster(h, b)
    assert round(pay["total_yuan"].sum(), 2) == round(
        b.lines.loc[b.lines["paid_to"] == "household", "amount_yuan"].sum(), 2
    )


def test_demo_run_writes_the_notice_and_the_payment_roster(demo_run: tuple[Path, Path]) -> None:
    import json

    from demo_helpers import sha

    _, out = demo_run
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    summary = record["summary"]["roster"]
    assert summary["households"] == 1526 and summary["villages"] == 59 and summary["errors"] == 0
    assert summary["payment_diff_yuan"] == 0 and summary["payment_total_yuan"] == summary["budget_household_yuan"]
    for name in ("public_notice.html", "public_notice.xlsx", "payment_roster.xlsx"):
        assert record["outputs_sha256"][f"roster/{name}"]
    scenario_dir = Path(record["scenario_resolved"]["roster"]["path"])
    assert record["inputs_sha256"]["roster"] == sha(scenario_dir)  # the roster is an input: hashed, protected
    p = _Page()
    p.feed((out / "roster" / "public_notice.html").read_text(encoding="utf-8"))
    assert p.sections == 59 and "script" not in p.tags
    pay = openpyxl.load_workbook(out / "roster" / "payment_roster.xlsx", read_only=True)
    check = list(pay["核对"].values)
    assert check[-1][0] == "全县" and check[-1][-1] == 0
    # the payment roster's county total is the budget's 直补到户 rules (budget_county), to the yuan
    by_rule = pd.read_csv(out / "tables" / "budget_county.csv")
    direct = round(float(by_rule.loc[by_rule["paid_to"] == "household", "amount_yuan"].sum()), 2)
    assert check[-1][5] == direct == summary["payment_total_yuan"] > 0
    paid = pd.read_csv(out / "tables" / "roster_payment.csv", dtype={"id_number": str})
    assert round(float(paid["total_yuan"].sum()), 2) == direct and len(paid) == 1526


# ------------------------------------------------------------------------ the step
class _Ctx:
    """What the roster step reads of a run: the scenario's sections, the villages, no allocation."""

    def __init__(self, cfg: RosterConfig) -> None:
        from geofupin.config.policy import PolicyConfig

        self.scenario = type("S", (), {"roster": cfg, "policy": PolicyConfig()})()
        self.layers = type("L", (), {"villages": villages(), "candidates": None})()

    def table(self, name: str) -> None:
        return None

    def layer(self, name: str) -> None:
        return None


def test_step_reads_a_gbk_csv_and_pays_the_budget(tmp_path: Path) -> None:
    path = tmp_path / "名册.csv"
    raw_roster().to_csv(path, index=False, encoding="gbk")  # as Chinese Excel saves a CSV
    res = ro.step(_Ctx(RosterConfig(path=path, encoding="GBK")))  # type: ignore[arg-type]
    assert res.summary["households"] == 5 and res.summary["errors"] == 0
    assert res.summary["payment_total_yuan"] == res.summary["budget_household_yuan"] == 277000.0
    assert res.tables["roster_households"]["head_name"].tolist()[0] == "张三"
    assert res.warnings == ()


def test_step_names_the_scenario_key_when_the_roster_is_missing(tmp_path: Path) -> None:
    from geofupin.errors import DataError

    with pytest.raises(DataError, match=r"roster\.path.*does not exist"):
        ro.step(_Ctx(RosterConfig(path=tmp_path / "none.xlsx")))  # type: ignore[arg-type]
    assert ro.step(type("C", (), {"scenario": object()})()).summary == {"skipped": "no roster section"}  # type: ignore[arg-type]


def test_hardship_quota_is_checked_per_village() -> None:
    # the one 特困户 moved from 甲村 (quota 1) to 乙村 (quota 0): both villages are named
    res = ro.run_roster(
        raw_roster(户类型={0: "一般贫困", 3: "特困"}), villages(), RosterConfig(path=Path("r.csv")), budget()
    )
    q = res.tables["roster_checks"]
    assert sorted(q.loc[q["check"] == "hardship_quota", "village_id"]) == ["V1", "V2"]
    pay = res.tables["roster_payment"]
    assert pay["hardship"].tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]  # the quota stays in 甲村: its poorest, 张三


def test_every_roster_table_has_chinese_headers() -> None:
    """tables.xlsx is read by officials: every roster column (instalments too) has a Chinese header."""
    import re

    from geofupin.report import localize

    cfg = RosterConfig(path=Path("r.csv"), payment=PaymentConfig(tranches=_TRANCHES))
    res = ro.run_roster(raw_roster(家庭人口={1: "2"}), villages(), cfg, budget())
    for name, df in res.tables.items():
        local, _ = localize(df, name)
        bad = [c for c in local.columns if not re.search(r"[\u4e00-\u9fff]", str(c))]
        assert bad == [], (name, bad)
    local, en = localize(res.tables["roster_payment"], "roster_payment")
    assert "分批拨付 structure(元)" in local.columns and en["分批拨付 structure(元)"] == "instalment structure (yuan)"
