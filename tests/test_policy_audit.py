"""Issue 13 items 3 and 4: the hardship quota shared township by township, and both readings of "1+5"."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from seed_figures import SEED_TABLE

from geofupin.config.policy import SEED_COUNTY_POLICY, PolicyOptions, parse_policy, seed_policy
from geofupin.errors import ScenarioError
from geofupin.policy import (
    budget_by,
    budget_by_rule,
    compute_budget,
    effective_policy,
    option_totals,
    options_table,
    plan_units,
    reconciliation,
    share_down,
)


def _units(rows: list[tuple[str, str, int, int]]) -> pd.DataFrame:
    villages = pd.DataFrame(
        {
            "village_id": [r[0] for r in rows],
            "name": [r[0] for r in rows],
            "township": [r[1] for r in rows],
            "relocate_households": [r[2] for r in rows],
            "relocate_persons": [r[3] for r in rows],
        }
    )
    return plan_units(villages)


def test_share_down_by_hand() -> None:
    # three townships with 10 % quotas 42.7 (groups 20 + 15 + 7.7), 15.3 and 10.3: the county rounds 68.3 to 68
    quotas = np.array([20.0, 15.0, 7.7, 15.3, 10.3])
    town = np.array([0, 0, 0, 1, 2])
    got = share_down(68, quotas, [town])
    # townships: floors 42, 15, 10 = 67, the one left goes to the largest remainder (0.7) -> 43, 15, 10;
    # inside the first township 43 = floors 20 + 15 + 7 + the one left to the group with remainder 0.7
    assert got.tolist() == [20, 15, 8, 15, 10]
    assert got.sum() == 68


def test_share_down_keeps_every_level_within_one_of_its_quota() -> None:
    rng = np.random.default_rng(7)
    quotas = rng.uniform(0.1, 9.0, 300)
    town = rng.integers(0, 9, 300)
    village = town * 100 + rng.integers(0, 12, 300)
    target = float(np.floor(quotas.sum() + 0.5))
    got = share_down(target, quotas, [town, village])
    assert got.sum() == target
    assert np.allclose(got, np.round(got))
    scale = target / quotas.sum()
    for codes in (town, village):
        for g in np.unique(codes):
            sel = codes == g
            assert abs(got[sel].sum() - scale * quotas[sel].sum()) < 1 + 1e-9
    assert np.all(np.abs(got - scale * quotas) < 1 + 1e-9)


def test_townships_keep_their_own_ten_percent() -> None:
    """The issue's case: 沿河湾镇 (427 households) got 45 hardship households although 10 % is 42.7."""
    # many small groups, as the demo has: sharing the county's 153 straight over groups let one township
    # collect the rounding of many groups; shared township first, every township is within one of 10 %
    rows = []
    for town, (hh, pp) in SEED_TABLE.items():
        sizes = [7] * (hh // 7) + ([hh % 7] if hh % 7 else [])
        for i, h in enumerate(sizes):
            rows.append((f"{town}{i}", town, h, round(pp * h / hh) or h))
    b = compute_budget(_units(rows), seed_policy())
    towns = budget_by(b, "township").set_index("township")
    assert towns["hardship_households"].sum() == 153
    for town, (hh, _) in SEED_TABLE.items():
        assert abs(towns.loc[town, "hardship_households"] - 0.1 * hh) < 1, town
    assert towns.loc["沿河湾镇", "hardship_households"] == 43
    assert towns.loc["镰刀湾乡", "hardship_households"] == 15
    assert towns.loc["王家湾乡", "hardship_households"] == 10
    assert (reconciliation(b)["diff_yuan"] == 0).all()


def test_township_level_rounding_shares_down_by_village() -> None:
    # township T: 10 % of 14 + 13 + 12 households = 3.9 -> 4; villages get 1.4, 1.3, 1.2 -> 1, 1, 1 + 1 to A
    units = _units([("A", "T", 14, 40), ("B", "T", 13, 40), ("C", "T", 12, 40)])
    b = compute_budget(units, seed_policy(), PolicyOptions(hardship_rounding_level="township"))
    assert b.units.set_index("village_id")["hardship_households"].to_dict() == {"A": 2, "B": 1, "C": 1}


@pytest.fixture()
def units() -> pd.DataFrame:
    return _units([("A", "T1", 3, 10), ("B", "T1", 2, 5), ("C", "T2", 4, 13)])


def test_city_1_plus_5_as_a_total_standard_by_hand(units) -> None:
    # 9 households, 28 persons. additive: city pays 9 x 10,000 + 28 x 5,000 = 230,000 (total 684,653)
    add = compute_budget(units, seed_policy())
    short = compute_budget(units, seed_policy(), PolicyOptions(standard_reading="shortfall"))
    a = budget_by_rule(add).set_index("rule_id")
    s = budget_by_rule(short).set_index("rule_id")
    assert a.loc["city_housing_person", "payer"] == "city" and a.loc["city_housing_person", "amount_yuan"] == 140_000
    # shortfall: the standard 5,000/person includes the province's 3,800; the county pays 1,200/person
    assert s.loc["city_housing_person", "payer"] == "county"
    assert s.loc["city_housing_person", "rate"] == 1_200
    assert s.loc["city_housing_person", "amount_yuan"] == 28 * 1_200 == 33_600
    assert s.loc["city_housing_household", "payer"] == "county"
    assert s.loc["city_housing_household", "amount_yuan"] == 90_000
    assert s.loc["province_housing_person", "amount_yuan"] == 28 * 3_800  # the province is unchanged
    assert "由县补足每人1,200元" in s.loc["city_housing_person", "name_zh"]
    # 28 x 3,800 = 106,400 less, and 1.5 % management of it = 1,596
    assert add.total_yuan == pytest.approx(684_653)
    assert short.total_yuan == pytest.approx(684_653 - 106_400 - 1_596) == pytest.approx(576_657)
    towns = budget_by(short, "county")
    assert "city__housing_yuan" not in towns.columns  # no city money at all under this reading
    assert (reconciliation(short)["diff_yuan"] == 0).all()


def test_seed_county_both_readings() -> None:
    units = _units([("all", "", 1526, 6886)])
    totals = option_totals(units, seed_policy(), PolicyOptions())
    assert totals["standard_reading"]["additive"] == pytest.approx(149_344_706)
    # 6,886 x 3,800 = 26,166,800 yuan and its 1.5 % (392,502) fewer
    assert totals["standard_reading"]["shortfall"] == pytest.approx(149_344_706 - 26_166_800 - 392_502)
    table = options_table(PolicyOptions(), totals).set_index("option")
    row = table.loc["standard_reading"]
    assert row["value"] == "additive" and row["total_yuan"] == pytest.approx(149_344_706)
    assert "additive: 149,344,706 元 (14,934.47 万元)" in row["totals_by_value"]
    assert "shortfall: 122,785,404 元 (12,278.54 万元)" in row["totals_by_value"]
    assert "reward" in table.index and "listed" not in table.loc["reward", "totals_by_value"]
    assert table.loc["reward", "totals_by_value"].count("元 (") == 2  # assume_met and exclude


def test_additive_reading_leaves_the_policy_unchanged() -> None:
    pol = seed_policy()
    assert effective_policy(pol, PolicyOptions()) is pol


def test_standard_includes_are_checked() -> None:
    bad = {**SEED_COUNTY_POLICY, "rules": [dict(r) for r in SEED_COUNTY_POLICY["rules"]]}
    for r in bad["rules"]:
        if r["id"] == "city_housing_person":
            r["standard_includes"] = ["province_housing_persons"]
        if r["id"] == "city_housing_household":
            r["standard_includes"] = ["province_housing_person"]  # per person cannot count towards per household
    with pytest.raises(ScenarioError) as err:
        parse_policy(bad)
    text = str(err.value)
    assert "province_housing_persons" in text and "is not in this policy" in text
    assert "cannot count towards 'city_housing_household'" in text


def test_demo_run_shows_both_readings(demo_run) -> None:
    _, out = demo_run
    row = pd.read_csv(out / "tables" / "policy_options.csv").set_index("option").loc["standard_reading"]
    # the demo places 1,469 households (6,664 persons) at central sites, 45 (196) scattered, 9 (9) in nursing
    # homes and 3 (17) in transitional housing: 3,800 x 6,860 + 1,000 x 1,526 + 10,000 x 153 hardship
    # + (10,000 + 10,000) x 1,469 + (5,000 + 2,000 + 2 x 2,300) x 6,664 + 20,000 x 9 + 40,000 x 3
    # = 136,106,400 subsidies, x 1.015 with management, + 5,000 x 1,469 reward
    assert row["value"] == "additive" and row["total_yuan"] == pytest.approx(145_492_996)
    assert "additive: 145,492,996 元" in row["totals_by_value"]
    # shortfall: the county tops the province's 3,800 up to the city's 5,000 for the 6,664 central persons
    assert "shortfall: 119,789,948 元" in row["totals_by_value"]  # 145,492,996 - 3,800 x 6,664 x 1.015


# --------------------------------------------------------------------------- item 7: words and numbers
def test_workbook_wording_for_people() -> None:
    from geofupin.report import localize

    df = pd.DataFrame(
        {
            "tier": ["market_town", "county_seat"],
            "basis": ["per_person", "share_of"],
            "unit": ["deg", "m"],
            "total_yuan": [1_234_567.0, -5_000.0],
            "planned_area_m2": [6_666.67, 0.0],
            "floor_area_m2": [120.0, 90.0],
            "time_min_clinic_after": [12.0, 30.0],
            "name": ["=1+1", "market_town"],
        }
    )
    out, en = localize(df)
    assert list(out.columns) == [
        "安置类型",
        "计算方式",
        "单位",
        "合计(元)",
        "合计(万元)",
        "规划用地面积(平方米)",
        "规划用地面积(亩)",
        "建房面积(平方米)",
        "搬迁后到卫生院时间(分钟)",
        "名称",
    ]
    assert out["安置类型"].tolist() == ["集镇安置", "县城安置"]
    assert out["计算方式"].tolist() == ["按人", "按比例"]
    assert out["单位"].tolist() == ["度", "米"]  # measurement units are not 验收单位 any more
    assert out["合计(万元)"].tolist() == [123.4567, -0.5]
    assert out["规划用地面积(亩)"].tolist() == [10.0, 0.0]  # 6,666.67 m2 = 10 亩; floor areas stay in m2
    assert out["名称"].tolist() == ["=1+1", "market_town"]  # names are data: never re-worded
    assert en["合计(万元)"] == "total (10,000 yuan)" and en["搬迁后到卫生院时间(分钟)"] == "time to clinic after (min)"


def test_demo_workbook_reads_as_an_office_table(demo_run) -> None:
    from openpyxl import load_workbook

    _, out = demo_run
    wb = load_workbook(out / "tables.xlsx", read_only=True)

    def sheet(*names: str) -> list[tuple]:
        name = next(n for n in names if n in wb.sheetnames)
        return list(wb[name].iter_rows(values_only=True))

    county = sheet("budget_county", "全县补助资金")
    head = list(county[0])
    assert "合计(万元)" not in head and "金额(万元)" in head and head.index("金额(万元)") == head.index("金额(元)") + 1
    body = county[2:]
    assert {r[head.index("出资方")] for r in body} == {"省", "市", "县", "市县"}
    wan = sum(r[head.index("金额(万元)")] for r in body)
    assert wan == pytest.approx(14_549.2996, abs=1e-3)  # the demo's budget with its placement modes
    form = sheet("acceptance_form", "检查验收评分表")
    assert form[0][0] == "验收单位" and [r[2] for r in form[-2:]] == ["合计", "等次"]
    rules = sheet("site_rules", "选址规则")
    assert "单位" in rules[0] and "验收单位" not in rules[0]
    assert {r[rules[0].index("单位")] for r in rules[2:]} >= {"度", "米", "分钟"}


def test_demo_in_situ_works_only_where_people_stay(demo_run) -> None:
    """Issue 13.1/13.2 on the demo: the 15 partly relocated groups' 23,863,500 yuan of works are gone."""
    import json

    _, out = demo_run
    plans = pd.read_csv(out / "tables" / "plan_villages.csv")
    assert not plans.duplicated(["township", "name"]).any()  # one plan per administrative village
    assert (plans["clinic"] <= 1).all()
    assert (plans["relocating_households"] == 0).all()  # no relocating group is planned in situ by default
    summary = json.loads((out / "run.json").read_text(encoding="utf-8"))["summary"]["plan"]
    by = summary["village_works_yuan_by_reading"]
    assert by["false"] == pytest.approx(summary["village_works_yuan"]) == pytest.approx(plans["total_cost_yuan"].sum())
    assert by["true"] > by["false"]


# --------------------------------------------------------------------------- item 5: in-site works
def test_no_province_or_city_infrastructure_money_again_for_built_sites(units) -> None:
    """六(二)4: 统一安排实施完成了项目工程的,省、市配套基础设施项目补助资金不予重复安排."""
    # units: A (10 persons) and B (5) move to S1, C (13) to S2
    units = units.assign(site_id=["S1", "S1", "S2"])
    plain = compute_budget(units, seed_policy())
    built = compute_budget(units, seed_policy(), PolicyOptions(sites_with_works=("S1",)))
    a = budget_by_rule(built).set_index("rule_id")["amount_yuan"]
    assert a["province_infrastructure_person"] == 13 * 2300 == 29_900
    assert a["city_county_infrastructure_person"] == 13 * 2300
    # 2 x 15 x 2,300 = 69,000 less, and its 1.5 % management (1,035)
    assert built.total_yuan == pytest.approx(plain.total_yuan - 69_000 - 1_035) == pytest.approx(614_618)
    sites = budget_by(built, "site").set_index("site_id")
    assert sites.loc["S1", "province__infrastructure_yuan"] == 0
    assert "sites_with_works" in options_table(PolicyOptions(sites_with_works=("S1",))).set_index("option").index


def test_in_site_works_are_set_against_the_infrastructure_subsidy() -> None:
    import geopandas as gpd
    from shapely.geometry import box

    from geofupin.config.plans import PlansConfig
    from geofupin.plans import plan_sites

    sites = gpd.GeoDataFrame(
        {"site_id": ["S1", "S2"], "name": ["一号点", "二号点"]},
        geometry=[box(0, 0, 100, 100), box(1000, 0, 1100, 100)],
        crs="EPSG:4547",
    )
    persons = pd.Series({"S1": 40.0, "S2": 20.0})
    households = pd.Series({"S1": 10.0, "S2": 5.0})
    tab, _ = plan_sites(
        sites, persons, households, roads=None, water=None, power=None, cfg=PlansConfig(), works_built=["S2"]
    )
    t = tab.set_index("site_id")
    # 10 households x (9,000 lanes + 6,000 water and drainage + 4,000 power to the house)
    assert t.loc["S1", "in_site_lane_yuan"] == 90_000
    assert t.loc["S1", "in_site_cost_yuan"] == 190_000
    assert t.loc["S2", "works_built"] and t.loc["S2", "in_site_cost_yuan"] == 0  # built by the county already
    # schools are off-site works: 40 persons -> 2 kindergarten and 4 primary places
    assert t.loc["S1", "off_site_cost_yuan"] == 2 * 20_000 + 4 * 25_000
    assert t.loc["S1", "total_cost_yuan"] == 190_000 + 140_000


def test_demo_sites_compare_like_with_like(demo_run) -> None:
    _, out = demo_run
    t = pd.read_csv(out / "tables" / "plan_sites.csv")
    used = t[t["households_in"] > 0]
    assert (used["in_site_cost_yuan"] == (used["households_in"] * 19_000).round(2)).all()
    gap = (used["in_site_cost_yuan"] - used["infrastructure_subsidy_yuan"]).round(2)
    assert (used["in_site_gap_yuan"] == gap).all()
    assert "cost_minus_subsidy_yuan" not in t.columns


# --------------------------------------------------------------------------- items 6 and 10
def test_homesteads_listed_per_village(units) -> None:
    from geofupin.policy import homestead_table

    t = homestead_table(compute_budget(units, seed_policy())).set_index("village_id")
    assert t["homesteads"].to_dict() == {"A": 3, "B": 2, "C": 4}
    assert t["homestead_clearance_yuan"].to_dict() == {"A": 3_000, "B": 2_000, "C": 4_000}
    assert not t["area_known"].any()


def test_poverty_line_both_readings() -> None:
    from geofupin.config.policy import PovertyLine
    from geofupin.policy import poverty_line_check

    villages = pd.DataFrame(
        {
            "village_id": ["a", "b", "c", "d"],
            "name": ["甲村", "乙村", "丙村", "丁村"],
            "township": ["T"] * 4,
            "poor_households": [5, 3, 0, 0],
            "income_per_capita": [2_500, 3_100, 2_000, None],
        }
    )
    line = PovertyLine(yuan_per_capita=2_736, source="范文5")
    poor = poverty_line_check(villages, line)
    assert poor["village_id"].tolist() == ["b"]
    assert poor["reason_zh"].iloc[0] == "建档立卡贫困户3户,人均纯收入3,100元高于贫困线2,736元,请核实识别"
    # report 3: 45 % of last year's rural per-capita net income of 6,000 = 2,700; the village average reading
    avg = PovertyLine(share_of_rural_income=0.45, rural_income_yuan=6_000, income_of="village")
    assert avg.line_yuan == pytest.approx(2_700)
    out = poverty_line_check(villages, avg)
    assert out["village_id"].tolist() == ["c"] and "低于贫困线2,700元" in out["reason_zh"].iloc[0]


def test_poverty_line_in_a_policy_file_is_checked() -> None:
    bad = {**SEED_COUNTY_POLICY, "poverty_line": {"share_of_rural_income": 0.45}}
    with pytest.raises(ScenarioError, match="yuan_per_capita, or share_of_rural_income with rural_income_yuan"):
        parse_policy(bad)
    ok = parse_policy({**SEED_COUNTY_POLICY, "poverty_line": {"yuan_per_capita": 2736}})
    assert ok.poverty_line is not None and ok.poverty_line.line_yuan == 2736


def test_township_table_notes_where_the_lists_differ_from_the_summary() -> None:
    from geofupin.config.plans import PlanTargets
    from geofupin.report import township_table

    units = _units([("A", "T1", 3, 10), ("B", "T1", 2, 5), ("C", "T2", 4, 13)])
    t = township_table(units, PlanTargets(households=9, persons=28, townships=2, villages=3, groups=5, source="范文4"))
    total = t.iloc[-1]
    assert total["row_kind"] == "total"
    # the units carry no groups: the lists name 0 groups where the summary says 5
    assert total["remarks"].startswith("规划汇总为5个村民小组,名单合计0个(相差5个)(范文4)")
    assert "the plan's summary says 5 village groups, the lists add up to 0" in total["remarks"]
    same = township_table(units, PlanTargets(households=9, persons=28))
    assert same.iloc[-1]["remarks"] == "与规划汇总一致 / agrees with the plan's summary"
    assert "remarks" not in township_table(units).columns


def test_demo_township_table_says_59_groups_against_the_summary_61(demo_run) -> None:
    _, out = demo_run
    t = pd.read_csv(out / "tables" / "township_table.csv")
    total = t[t["row_kind"] == "total"].iloc[0]
    assert total["group"] == "59个村民小组"
    assert "规划汇总为61个村民小组,名单合计59个(相差2个)" in total["remarks"]


def test_every_workbook_header_is_chinese(demo_run) -> None:
    """Officials read the workbook: every column of every sheet has a Chinese header (English below it)."""
    import re

    from openpyxl import load_workbook

    _, out = demo_run
    wb = load_workbook(out / "tables.xlsx", read_only=True)
    untranslated = {}
    for ws in wb.worksheets:
        head = next(ws.iter_rows(min_row=1, max_row=1, values_only=True))
        bad = [str(h) for h in head if h is not None and not re.search(r"[\u4e00-\u9fff]", str(h))]
        if bad:
            untranslated[ws.title] = bad
    assert untranslated == {}
    funding = [ws for ws in wb.worksheets if ws.title == "全县资金筹措"]  # the funding_county table
    if funding:
        head = next(funding[0].iter_rows(min_row=1, max_row=1, values_only=True))
        assert "县级资金(元)" in head and "全县(元)" not in head  # county_yuan means county funds here
