"""The plan document's 搬迁对象 chapter, built from the household roster, and the PDF drawn from the same blocks.

The tiny county is the roster tests' (tests/test_roster.py): two villages, five households, paid
with the seed's report-4 policy. By hand:

- 一乡 甲村: 张三 (特困户, 4 persons), 李四 (一般贫困户, 3), 王五 (非贫困户, 3) -> 3 households, 10 persons,
  poor 2 households, 7 persons; 二乡 乙村 一组: 赵六 (五保, 1), 钱七 (低保户, 4) -> 2, 5, poor 2, 5.
- current houses 60, 45, 80, 20, 50 m2 -> 20—40: 1, 40—60: 2, 60—80: 1, 80—100: 1.
- wish: 4 households / 12 persons 集中, 王五 (3) 分散.
- workflow: 5 applied (2011-02-10 .. 02-14), 3 approved by the county (04-01 .. 04-02), 1 filed (04-20).
- payments: per household 1,000 + 10,000 + 10,000, per person 3,800 + 5,000 + 2,000, and 10,000 for
  the one hardship household: province 3,800 x 15 + 1,000 x 5 + 10,000 = 72,000; city 10,000 x 5 +
  5,000 x 15 = 125,000; county 10,000 x 5 + 2,000 x 15 = 80,000; 277,000 yuan in all (27.70 万元).
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import docx
import geopandas as gpd
import pandas as pd
import pytest
from pyproj import CRS
from shapely.geometry import Point

from geofupin import policy as pol
from geofupin import roster as ro
from geofupin.config.policy import seed_policy
from geofupin.config.roster import RosterConfig
from geofupin.context import Layers, RunContext, StepResult
from geofupin.document import _layout, _pdf, plan_blocks, plan_document, roster_summary
from geofupin.report import township_table
from geofupin.scenario import from_dict

HEAD = "{{7*7}}"  # a household head's name that looks like a template
TOWN = "=1+1"  # a township that looks like a formula
VILLAGE = "<b>x</b>"  # a village that looks like markup
CAUSE = "$x^2$"  # a cause of poverty that looks like maths


def _id(first17: str) -> str:
    return first17 + ro.id_check_char(first17)


def villages(*, hostile: bool = False) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "village_id": ["V1", "V2"],
            "name": ["甲村", VILLAGE if hostile else "乙村"],
            "township": ["一乡", TOWN if hostile else "二乡"],
            "group": ["", "一组"],
            "households": [10, 6],
            "persons": [40, 20],
            "poor_households": [2, 2],
            "poor_persons": [7, 5],
            "relocate_households": [3, 2],
            "relocate_persons": [10, 5],
            "poverty_cause": ["缺水", "因病"],
        },
        geometry=[Point(0, 0), Point(1000, 0)],
        crs="EPSG:4545",
    )


def raw_roster(*, hostile: bool = False) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "户主姓名": ["张三", "李四", "王五", "赵六", HEAD if hostile else "钱七"],
            "身份证号码": [_id(f"6106241960010100{i}") for i in range(1, 6)],
            "联系电话": ["13812345678", "", "", "0911-8123456", "12" if hostile else "15800001234"],
            "家庭人口": ["4", "3", "3", "1", "4"],
            "户类型": ["特困户", "一般贫困户", "非贫困户", "五保", "低保户"],
            "致贫原因": ["因病", "缺水", "", "因残", CAUSE if hostile else "缺技术"],
            "所在村": ["甲村", "甲村", "V1", VILLAGE if hostile else "乙村", "V2"],
            "村民小组": ["", "", "", "一组", "一组"],
            "现住房面积": ["60", "45", "80", "20", "50"],
            "安置意愿": ["集中", "集中", "分散", "集中", "集中安置"],
            "申请日期": ["2011-02-10", "2011-02-11", "2011-02-12", "2011-02-13", "2011-02-14"],
            "村评议日期": ["2011-03-01", "2011-03-01", "2011-03-01", "2011-03-05", "2011-03-05"],
            "乡镇审查日期": ["2011-03-08", "2011-03-10", "2011-03-10", "2011-03-12", "2011-03-12"],
            "县审批日期": ["2011-04-01", "", "2011-04-01", "2011-04-02", ""],
            "市备案日期": ["2011-04-20", "", "", "", ""],
        }
    )


def context(*, roster: bool = True, hostile: bool = False) -> RunContext:
    v = villages(hostile=hostile)
    units = pol.plan_units(v)
    budget = pol.compute_budget(units, seed_policy())
    plan = StepResult(
        tables={"township_table": township_table(units), "budget_county": pol.budget_by_rule(budget)},
        summary={"policy": "范文4"},
    )
    results = {"plan": plan}
    if roster:
        cfg = RosterConfig(path=Path("hand.xlsx"))
        res = ro.run_roster(raw_roster(hostile=hostile), v, cfg, budget, source="hand.xlsx")
        results["roster"] = StepResult(tables=res.tables)
    sc = from_dict({"name": "t", "title": {"zh": "示范"}, "layers": {"villages": "v.gpkg"}}, base_dir=Path("."))
    return RunContext(scenario=sc, layers=Layers(crs=CRS.from_epsg(4545), villages=v), results=results)


def tables_by_caption(data: bytes) -> dict[str, list[list[str]]]:
    """Each DOCX table, keyed by the caption paragraph right before it (without its number)."""
    d = docx.Document(io.BytesIO(data))
    out: dict[str, list[list[str]]] = {}
    caption = ""
    for el in d.element.body.iterchildren():
        tag = el.tag.rsplit("}", 1)[-1]
        if tag == "p":
            caption = "".join(t.text or "" for t in el.iter() if t.tag.endswith("}t"))
        elif tag == "tbl":
            table = docx.table.Table(el, d)
            out[caption.split(" ", 1)[-1]] = [[c.text for c in r.cells] for r in table.rows]
    return out


def paragraphs(data: bytes) -> list[str]:
    return [p.text for p in docx.Document(io.BytesIO(data)).paragraphs]


def pdftotext(data: bytes, tmp_path: Path) -> str:
    """The PDF's text without white space."""
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils (pdftotext) not installed")
    f = tmp_path / "plan.pdf"
    f.write_bytes(data)
    out = subprocess.run(["pdftotext", "-raw", str(f), "-"], capture_output=True, text=True, check=True).stdout
    # in content-stream order (-raw); matplotlib draws a space as an advance, so compare without white space
    return re.sub(r"\s+", "", out)


# ------------------------------------------------------------------------ the roster's figures
def test_roster_summary_by_hand() -> None:
    ctx = context()
    r = roster_summary(ctx.results["roster"].tables | ctx.results["plan"].tables)
    bv = r["by_village"]
    assert bv["township"].tolist() == ["一乡", "一乡小计", "二乡", "二乡小计", "合计(2个乡镇)"]
    assert bv["households"].tolist() == [3, 3, 2, 2, 5]
    assert bv["persons"].tolist() == [10, 10, 5, 5, 15]
    assert bv["poor_households"].tolist() == [2, 2, 2, 2, 4]
    assert bv["poor_persons"].tolist() == [7, 7, 5, 5, 12]
    assert bv["groups"].tolist() == [0, 0, 1, 1, 1]
    st = r["by_status"].set_index("category")
    assert st["households"].to_dict() == {
        "一般贫困户": 1, "低保户": 1, "五保户": 1, "特困户": 1, "非贫困户(同步搬迁)": 1, "合计": 5,
    }  # fmt: skip
    assert st.loc["特困户", "persons"] == 4 and st.loc["合计", "persons"] == 15
    assert st.loc["低保户", "household_share"] == pytest.approx(0.2)
    cause = r["by_cause"]
    assert cause["category"].tolist()[-2:] == ["未填报", "合计"]
    assert set(cause["category"]) == {"因病", "缺水", "因残", "缺技术", "未填报", "合计"}
    area = r["by_house_area"].set_index("category")["households"].to_dict()
    assert area == {
        "20平方米以下": 0, "20—40平方米": 1, "40—60平方米": 2, "60—80平方米": 1, "80—100平方米": 1,
        "100—120平方米": 0, "120平方米及以上": 0, "合计": 5,
    }  # fmt: skip
    wish = r["by_wish"].set_index("category")
    assert wish.loc["集中安置", ["households", "persons"]].tolist() == [4, 12]
    assert wish.loc["分散安置", ["households", "persons"]].tolist() == [1, 3]
    wf = r["workflow"].set_index("stage_zh")
    assert wf["done_households"].tolist() == [5, 5, 5, 3, 1]
    assert wf.loc["户主申请", ["first_date", "last_date"]].tolist() == ["2011-02-10", "2011-02-14"]
    assert wf.loc["县扶贫办审批", ["first_date", "last_date"]].tolist() == ["2011-04-01", "2011-04-02"]
    assert wf.loc["市扶贫局备案", "done_share"] == pytest.approx(0.2)
    assert wf["at_stage_households"].tolist() == [0, 0, 2, 2, 1]
    pay = r["payment"].set_index("payer_zh")
    assert pay["budget_yuan"].to_dict() == {"省": 72000.0, "市": 125000.0, "县": 80000.0, "合计": 277000.0}
    assert (pay["roster_yuan"] == pay["budget_yuan"]).all() and (pay["diff_yuan"] == 0).all()
    assert r["tranches"]["amount_yuan"].tolist() == [277000.0, 277000.0]
    assert r["checks"].empty


def test_chapter_tables_in_the_docx_equal_the_roster_tables() -> None:
    ctx = context()
    data = plan_document(ctx, run_id="r1", inputs_sha256={})
    tabs = tables_by_caption(data)
    t = tabs["搬迁对象分乡镇、分村统计"]
    assert t[0] == ["乡镇", "村", "村民小组数", "户数", "人数", "其中贫困户数", "其中贫困人口"]
    assert t[1:] == [
        ["一乡", "甲村", "0", "3", "10", "2", "7"],
        ["一乡小计", "1个村", "0", "3", "10", "2", "7"],
        ["二乡", "乙村", "1", "2", "5", "2", "5"],
        ["二乡小计", "1个村", "1", "2", "5", "2", "5"],
        ["合计(2个乡镇)", "2个村", "1", "5", "15", "4", "12"],
    ]
    # and against the run's own tables, independently: the 公示名单's villages and the township table
    rt = ctx.results["roster"].tables
    nv = rt["roster_notice_villages"]
    assert [int(x) for x in nv["households"]] == [3, 2] and [int(x) for x in nv["persons"]] == [10, 5]
    tt = ctx.results["plan"].tables["township_table"]
    plan_hh = [str(x) for x in tt.loc[tt.row_kind == "detail", "households"]]
    assert [r[3] for r in t[1:] if r[0] in ("一乡", "二乡")] == plan_hh
    status = {r[0]: r[1:] for r in tabs["搬迁对象按户类型统计"][1:]}
    assert status["特困户"] == ["1", "4", "20.0%"] and status["合计"] == ["5", "15", "100.0%"]
    area = {r[0]: r[1] for r in tabs["搬迁对象按现住房面积统计"][1:]}
    assert area["40—60平方米"] == "2" and area["120平方米及以上"] == "0"
    wish = {r[0]: r[1:3] for r in tabs["搬迁对象按安置意愿统计"][1:]}
    assert wish == {
        "集中安置": ["4", "12"],
        "分散安置": ["1", "3"],
        "集中供养": ["0", "0"],
        "周转房安置": ["0", "0"],
        "合计": ["5", "15"],
    }
    wf = tabs["搬迁对象识别认定程序进度"]
    assert wf[4] == ["县扶贫办审批", "3", "60.0%", "2", "2011-04-01", "2011-04-02"]
    notice = tabs["分村民小组张榜公示"]
    assert notice[1] == ["一乡", "甲村", "", "3", "10", "2011-03-01", "2011-03-07"]
    pay = tabs["直补到户资金核对(分资金来源)"]
    assert pay[-1] == ["合计", "277,000.00", "277,000.00", "0.00"]
    # the payment roster's total equals the budget's lines paid to households, to the yuan
    bc = ctx.results["plan"].tables["budget_county"]
    hh = bc[(bc["paid_to"] == "household") & (bc["basis"] != "share_of")]
    assert float(hh["amount_yuan"].sum()) == float(rt["roster_payment"]["total_yuan"].sum()) == 277000.0
    text = paragraphs(data)
    assert any("共5户、15人,分布在2个乡镇的2个村、1个村民小组;其中建档立卡贫困户4户、12人" in p for p in text)
    assert any("补助资金合计27.70万元(277,000.00元),与资金测算中直补到户各项合计277,000.00元一致。" in p for p in text)
    assert "名册各村搬迁户数、人数与搬迁规划(村庄登记)逐村一致。" in text
    assert any(p.startswith("截至2011年4月20日,3户已经县扶贫办审批,1户已报市扶贫局备案") for p in text)
    assert any("于2011年3月1日至2011年3月5日张榜,最晚于2011年3月11日公示期满" in p for p in text)
    assert any(p.startswith("经对名册逐户核查") and p.endswith("未发现问题。") for p in text)


def test_a_roster_that_differs_from_the_plan_is_shown_with_the_differences() -> None:
    ctx = context()
    rt = dict(ctx.results["roster"].tables)
    h = rt["roster_households"].copy()
    h.loc[h["head_name"] == "王五", "relocate"] = False  # the roster moves 2 households of 甲村, the plan 3
    rt["roster_households"] = h
    ctx = RunContext(ctx.scenario, ctx.layers, {**ctx.results, "roster": StepResult(tables=rt)})
    data = plan_document(ctx, run_id="r1", inputs_sha256={})
    diff = tables_by_caption(data)["名册与搬迁规划不一致的村"]
    assert diff[1:] == [["一乡", "甲村", "2", "3", "7", "10"]]
    assert any("名册与搬迁规划有1个村的户数或人数不一致(见表2-1)" in p for p in paragraphs(data))


def test_without_a_roster_the_chapter_says_so_and_uses_the_registry() -> None:
    data = plan_document(context(roster=False), run_id="r1", inputs_sha256={})
    text = paragraphs(data)
    i = text.index("第二章 搬迁对象")
    assert text[i + 1] == "本规划未附搬迁对象名册(户表),搬迁对象按村庄登记数据统计。"
    assert "据村庄登记,全县2个村民小组(村)登记搬迁5户、15人,搬迁村建档立卡贫困户4户、12人。" in text
    tabs = tables_by_caption(data)
    assert tabs["搬迁对象分乡镇、分村统计(村庄登记)"][-1][3:] == ["5", "15"]
    assert not any(k.startswith("搬迁对象按户类型") for k in tabs)


def test_roster_checks_are_listed_with_the_household_literally(tmp_path: Path) -> None:
    ctx = context(hostile=True)
    data = plan_document(ctx, run_id="r1", inputs_sha256={})
    tabs = tables_by_caption(data)
    checks = tabs["名册核查发现的问题"]
    assert checks[1][:3] == ["联系电话格式不对", "提示", "1"]
    assert checks[1][3].startswith(f"第6行 {HEAD}:")
    joined = "\n".join(c for t in tabs.values() for r in t for c in r)
    for s in (HEAD, TOWN, VILLAGE, CAUSE):
        assert s in joined, s
    assert "49" not in joined
    assert any("发现错误0处、提示1处(见表2-" in p for p in paragraphs(data))
    # the PDF: the same strings, literally (no mathtext, no template), and the chapter's key figures
    pdf = plan_document(ctx, run_id="r1", inputs_sha256={}, fmt="pdf")
    text = pdftotext(pdf, tmp_path)
    for s in (HEAD, TOWN, VILLAGE, CAUSE, "表2-2搬迁对象按户类型统计", "277,000.00", "27.70万元"):
        assert s.replace(" ", "") in text, s


# ------------------------------------------------------------------------ the PDF renderer
def _reference_pdf(blocks: list, path: Path) -> None:
    """The same pages drawn the previous way: one matplotlib ``Text`` per string."""
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

    from geofupin.maps.static import find_cjk_font

    family = find_cjk_font()
    with PdfPages(path) as pdf:
        for page in _layout(blocks):
            fig = Figure(figsize=(8.27, 11.69))
            fig.text(0.5, 0.4 / 11.69, f"- {page.number} -", ha="center", fontsize=8, parse_math=False)
            for x, y, s, size, bold in page.strings:
                fp = FontProperties(family=family, size=size, weight="bold" if bold else "normal")
                fig.text(x / 8.27, y / 11.69, s, fontproperties=fp, parse_math=False)
            pdf.savefig(fig)


def test_pdf_strings_render_exactly_as_text_artists(tmp_path: Path) -> None:
    """Drawing every string through the renderer shows the same pixels as a ``Text`` per string."""
    pytest.importorskip("matplotlib")
    import numpy as np
    from PIL import Image

    if shutil.which("pdftoppm") is None:
        pytest.skip("poppler-utils (pdftoppm) not installed")
    blocks = [b for b in plan_blocks(context(hostile=True), run_id="r1", inputs_sha256={}) if b[0] != "picture"]
    (tmp_path / "new.pdf").write_bytes(_pdf(blocks, title="t"))
    _reference_pdf(blocks, tmp_path / "old.pdf")
    for name in ("new", "old"):
        pdf = str(tmp_path / f"{name}.pdf")
        subprocess.run(["pdftoppm", "-r", "50", "-png", pdf, str(tmp_path / name)], check=True)
    new = sorted(tmp_path.glob("new-*.png"))
    old = sorted(tmp_path.glob("old-*.png"))
    assert len(new) == len(old) >= 9  # a chapter a page at least
    for a, b in zip(new, old, strict=True):
        x, y = np.asarray(Image.open(a)), np.asarray(Image.open(b))
        assert x.shape == y.shape and (x == y).all(), a.name
        assert (x < 128).any()  # something is drawn


def test_pdf_page_layout_keeps_rows_on_the_page_and_chapters_on_new_pages() -> None:
    blocks = plan_blocks(context(), run_id="r1", inputs_sha256={})
    pages = _layout(blocks)
    chapters = [b[1] for b in blocks if b[0] == "heading" and b[2] == 1]
    firsts = [next((s[2] for s in p.strings), "") for p in pages]
    for c in chapters:
        assert c in firsts, c  # every chapter starts a page
    headings = {b[1] for b in blocks if b[0] == "heading"}
    for p in pages:
        assert all(0.8 - 1e-9 <= s[1] <= 11.69 - 0.8 for s in p.strings)  # inside the margins
        assert p.strings[-1][2] not in headings  # no heading alone at the foot of a page


def test_a_long_table_repeats_its_header_on_every_page() -> None:
    rows = [[f"村{i}", f"{i:,}"] for i in range(200)]
    pages = _layout([("table", "t", "表1-1 长表", ["村", "户数"], rows)])
    assert len(pages) >= 3
    for p in pages:
        top = max(s[1] for s in p.strings if s[2] in ("村", "户数"))
        assert {s[2] for s in p.strings if s[1] == top} >= {"村", "户数"}  # the header row heads each page
        assert all(s[4] for s in p.strings if s[2] in ("村", "户数"))  # in bold
    drawn = [s[2] for p in pages for s in p.strings if s[2].startswith("村") and s[2] != "村"]
    assert drawn == [r[0] for r in rows]  # every row once, in order


# ------------------------------------------------------------------------ the demo county
@pytest.mark.slow
def test_demo_chapter_equals_the_run_tables(demo_run: tuple[Path, Path], tmp_path: Path) -> None:
    _, out = demo_run
    data = (out / "plan.docx").read_bytes()
    tabs = tables_by_caption(data)
    t = tabs["搬迁对象分乡镇、分村统计"]
    rows = {(r[0], r[1]): r for r in t[1:] if not r[0].endswith("小计") and not r[0].startswith("合计")}
    # the 公示名单's villages (one row a village group), summed per village by hand
    nv = pd.read_csv(out / "tables" / "roster_notice_villages.csv", dtype={"group": str})
    by_village = nv.groupby(["township", "village_name"])[["households", "persons"]].sum()
    assert set(rows) == set(by_village.index)
    for (town, village), r in rows.items():
        assert r[3:5] == [
            f"{by_village.at[(town, village), 'households']:,}",
            f"{by_village.at[(town, village), 'persons']:,}",
        ]
    # the same figures as the plan's township table, village by village
    tt = pd.read_csv(out / "tables" / "township_table.csv")
    detail = tt[tt["row_kind"] == "detail"]
    assert [(r[0], r[1], r[3], r[4]) for r in t[1:] if (r[0], r[1]) in rows] == [
        (a, b, f"{h:,}", f"{p:,}")
        for a, b, h, p in detail[["township", "village", "households", "persons"]].itertuples(index=False)
    ]
    assert t[-1][3:5] == ["1,526", "6,886"]
    # status rows against the roster itself
    hh = pd.read_csv(out / "tables" / "roster_households.csv", dtype=str)
    status = {r[0]: r[1] for r in tabs["搬迁对象按户类型统计"][1:]}
    for zh, n in hh["status_zh"].value_counts().items():
        assert status[zh] == f"{n:,}", zh
    # the payment roster against the budget's lines paid to households, to the yuan
    pay = pd.read_csv(out / "tables" / "roster_payment.csv")
    bc = pd.read_csv(out / "tables" / "budget_county.csv")
    lines = bc[(bc["paid_to"] == "household") & (bc["basis"] != "share_of")]
    total = round(float(pay["total_yuan"].sum()), 2)
    assert total == round(float(lines["amount_yuan"].sum()), 2)
    assert tabs["直补到户资金核对(分资金来源)"][-1] == ["合计", f"{total:,.2f}", f"{total:,.2f}", "0.00"]
    # every chapter and section the issue lists
    heads = [p.text for p in docx.Document(io.BytesIO(data)).paragraphs if p.style.name.startswith("Heading")]
    for h in (
        "第一章 总论", "一、规划依据", "二、规划范围与期限", "三、规划目标", "第二章 搬迁对象", "五、补助资金直补到户",
        "第三章 安置点选址与论证", "二、筛选规则", "三、评价指标与权重", "五、敏感性分析", "六、未通过筛选的候选点",
        "第四章 安置方式与分配", "第五章 基础设施与公共服务规划", "第六章 资金估算与筹措", "第七章 分年度实施计划",
        "第八章 旧房拆除与复垦", "第九章 保障措施", "一、组织保障",
    ):  # fmt: skip
        assert h in heads, h
    caps = [c for c in tabs if c]
    assert "未通过筛选的候选点及原因" in caps and "权重敏感性分析" in caps and "选址筛选规则" in caps
    body = "\n".join(p.text for p in docx.Document(io.BytesIO(data)).paragraphs[6:])
    assert not re.search(r"\d ?(m|min|km|yuan)\b", body)  # no English units in the Chinese text
    # the PDF carries the chapter's key figures
    text = pdftotext((out / "plan.pdf").read_bytes(), tmp_path)
    for s in (
        "第二章 搬迁对象",
        "全县纳入搬迁的对象共1,526户、6,886人",
        f"{total / 1e4:,.2f}万元",
        "表2-6 搬迁对象识别认定程序进度",
    ):
        assert s.replace(" ", "") in text, s


def test_map_is_embedded_at_print_resolution() -> None:
    """A 2,400-pixel map printed 6.67 inches wide keeps 300 ppi (2,001 pixels), not the figure's 100 dpi."""
    pytest.importorskip("matplotlib")
    import numpy as np
    from PIL import Image
    from pypdf import PdfReader

    img = np.zeros((1200, 2400, 4), dtype=np.uint8)
    img[..., 0] = 200
    img[..., 3] = 255
    img[:, :1200, 3] = 0  # the transparent half prints white
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    pdf = _pdf([("picture", buf.getvalue())], title="t")
    images = [im for page in PdfReader(io.BytesIO(pdf)).pages for im in page.images]
    assert len(images) == 1
    got = images[0].image
    assert got.size == (round((8.27 - 1.6) * 300), round((8.27 - 1.6) * 300 / 2))
    if shutil.which("pdftoppm") is not None:  # as printed: the transparent half white, the other red
        png = subprocess.run(["pdftoppm", "-r", "30", "-png", "-"], input=pdf, capture_output=True, check=True).stdout
        page = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
        row = page[round(0.8 * 30) + 5]  # just below the top margin
        assert np.allclose(row[round(0.8 * 30) + 5], (255, 255, 255), atol=4)
        assert np.allclose(row[round((8.27 - 0.8) * 30) - 5], (200, 0, 0), atol=4)


def test_units_of_chinese_text_in_rejection_reasons() -> None:
    from geofupin.document import _reasons_zh

    assert _reasons_zh("距全天候道路 1,101 m 超过上限 1,000 m") == "距全天候道路 1,101米 超过上限 1,000米"
    assert _reasons_zh("到最近集镇时间 115 min 超过上限 60 min") == "到最近集镇时间 115分钟 超过上限 60分钟"
    assert _reasons_zh("人均 80 m² ；坡度 5 m2") == "人均 80 m² ；坡度 5 m2"  # areas untouched
    assert _reasons_zh("S5 mine =1+1") == "S5 mine =1+1"


def test_counts_and_amounts_in_cells() -> None:
    from geofupin.document import _cell

    assert _cell("capacity_persons", 769.0) == "769"
    assert _cell("kindergarten_places", 36.0) == "36"
    assert _cell("quantity", 153.0) == "153" and _cell("quantity", 0.5) == "0.50"
    assert _cell("hazard_households", 447.0) == "447"
    assert _cell("road_cost_wan", 19.3705) == "19.37"
    assert _cell("road_length_km", 0.2421) == "0.24"
    assert _cell("year", 2011) == "2011"
