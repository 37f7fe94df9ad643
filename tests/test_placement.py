"""Scattered and special relocation (分散安置, 五保户集中供养, 特困户周转房) on a hand-built county.

Three village groups relocate 9 households, 24 persons:

=========  ====  ========================================================================
group      hh/p  roster households (persons, status, wish)
=========  ====  ========================================================================
V1/一组    4/12  H1 (3, 一般, 分散), H2 (4, 非贫困, 分散), H3 (1, 五保, 集中供养), H4 (4, 一般, 集中)
V1/二组    2/5   H5 (3, 特困, 周转房), H6 (2, 一般, 集中)
V2/一组    3/7   H7 (2), H8 (3), H9 (2, 低保), all 集中
=========  ====  ========================================================================

H1 and H2 are placed scattered (2 households, 7 persons), H3 in the nursing home N1 (1 bed), H5 in
V1's transitional housing (1 household); the central site S1 receives the rest: 5 households, 13
persons. The policy (``POLICY``) pays per person 1,000 (province, central and scattered), per household
5,000 (county, central) or 3,000 (county, scattered), 1,000 homestead clearance (central, nursing home,
transitional; scattered by the option ``scattered_homestead``), 10,000 for 10 % hardship households
(central, scattered by ``scattered_hardship``), 20,000 a nursing-home bed and 30,000 a transitional
house (to the project). By hand, per mode (the one hardship household: 10 % of the 9 relocated
households = 0.9 -> 1, in V1 (0.6 against 0.3), in its scattered unit (0.2 against four units of 0.1)):

- central: 13 x 1,000 + 5 x 5,000 + 5 x 1,000 = 43,000
- scattered: 7 x 1,000 + 2 x 3,000 + 2 x 1,000 + 10,000 = 25,000
- nursing home: 1,000 + 20,000 = 21,000; transitional: 1,000 + 30,000 = 31,000
- county: 120,000, of which 70,000 is paid to the households (直补到户).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from geofupin import policy as pol
from geofupin import roster as ro
from geofupin.allocate.step import _with_placement, assign
from geofupin.config.allocate import AllocationConfig
from geofupin.config.funding import FundingConfig
from geofupin.config.placement import PlacementConfig, TransitionalHousing
from geofupin.config.policy import HousingPlan, PolicyOptions, parse_policy
from geofupin.context import StepResult
from geofupin.errors import DataError, ScenarioError
from geofupin.funding import check_agrees, funding_plan
from geofupin.placement import assign_beds, place

CRS = "EPSG:4547"


def _rule(id: str, payer: str, purpose: str, basis: str, amount: float, **kw: object) -> dict[str, object]:
    return {"id": id, "payer": payer, "purpose": purpose, "basis": basis, "amount": amount, **kw}


POLICY = parse_policy(
    {
        "name": "小县安置方式补助(测试)",
        "hardship_share": 0.1,
        "rules": [
            _rule("province_housing_person", "province", "housing", "per_person", 1000, modes=["central", "scattered"]),
            _rule("county_housing_household", "county", "housing", "per_household", 5000),
            _rule("county_scattered_household", "county", "housing", "per_household", 3000, modes=["scattered"]),
            _rule(
                "province_homestead_household", "province", "homestead_clearance", "per_household", 1000,
                modes=["central", "nursing_home", "transitional"],
            ),
            _rule("province_hardship_household", "province", "hardship", "per_household", 10000, applies_to="hardship"),
            _rule(
                "province_nursing_home_person", "province", "housing", "per_person", 20000, paid_to="project",
                modes=["nursing_home"],
            ),
            _rule(
                "county_transitional_household", "county", "housing", "per_household", 30000, paid_to="project",
                modes=["transitional"],
            ),
        ],
    }
)  # fmt: skip


def _id(first17: str) -> str:
    return first17 + ro.id_check_char(first17)


def villages() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "village_id": ["V1", "V1", "V2"],
            "group": ["一组", "二组", "一组"],
            "name": ["甲村", "甲村", "乙村"],
            "township": ["一乡", "一乡", "一乡"],
            "households": [10, 5, 8],
            "persons": [30, 14, 20],
            "poor_households": [4, 2, 3],
            "poor_persons": [12, 5, 7],
            "relocate_households": [4, 2, 3],
            "relocate_persons": [12, 5, 7],
        },
        geometry=[Point(500_000, 4_000_000), Point(500_500, 4_000_000), Point(503_000, 4_000_000)],
        crs=CRS,
    )


ROSTER = [  # 户编号, 户主, persons, status, wish, village, group, income
    ("H1", "张一", 3, "一般贫困户", "分散", "甲村", "一组", 1500),
    ("H2", "张二", 4, "非贫困户", "投亲靠友", "甲村", "一组", 6000),
    ("H3", "张三", 1, "五保户", "集中供养", "甲村", "一组", 800),
    ("H4", "张四", 4, "一般贫困户", "集中", "甲村", "一组", 1200),
    ("H5", "张五", 3, "特困户", "周转房", "甲村", "二组", 700),
    ("H6", "张六", 2, "一般贫困户", "集中", "甲村", "二组", 2000),
    ("H7", "李七", 2, "一般贫困户", "集中", "乙村", "一组", 1600),
    ("H8", "李八", 3, "一般贫困户", "集中", "乙村", "一组", 1700),
    ("H9", "李九", 2, "低保户", "集中", "乙村", "一组", 1400),
]


def raw_roster(rows: list[tuple[str, str, int, str, str, str, str, int]] = ROSTER) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "户编号": [r[0] for r in rows],
            "户主姓名": [r[1] for r in rows],
            "身份证号码": [_id(f"610624196001{k + 1:02d}{k + 1:03d}") for k in range(len(rows))],
            "家庭人口": [str(r[2]) for r in rows],
            "户类型": [r[3] for r in rows],
            "安置意愿": [r[4] for r in rows],
            "所在村": [r[5] for r in rows],
            "村民小组": [r[6] for r in rows],
            "人均纯收入": [str(r[7]) for r in rows],
        }
    )


def households(rows: list[tuple[str, str, int, str, str, str, str, int]] = ROSTER) -> pd.DataFrame:
    h, _ = ro.normalize(raw_roster(rows), villages())
    return h


def facilities(beds: int = 1, x: float = 501_000) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"facility_id": ["N1", "C1"], "kind": ["nursing_home", "clinic"], "name": ["一乡敬老院", "一乡卫生院"],
         "capacity": [float(beds), 5.0]},
        geometry=[Point(x, 4_000_000), Point(500_100, 4_000_000)],
        crs=CRS,
    )  # fmt: skip


def sites() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"site_id": ["S1"], "name": ["一乡集镇安置点"], "tier": ["market_town"], "capacity_persons": [100.0]},
        geometry=[box(501_000, 4_000_500, 501_200, 4_000_700)],
        crs=CRS,
    )


CFG = PlacementConfig(transitional_housing=(TransitionalHousing("V1", 1),))


def run_all(
    rows: list[tuple[str, str, int, str, str, str, str, int]] = ROSTER, beds: int = 1, cfg: PlacementConfig = CFG
) -> tuple[StepResult, object]:
    """What the allocate step does: place, allocate the rest (straight line), join."""
    v = villages()
    placed = place(v, cfg, households=households(rows), facilities=facilities(beds))
    run = assign(placed.villages, sites(), None, config=AllocationConfig(model="single_source"))
    res = StepResult(
        layers={"allocation_flows": run.flows},
        tables={"assignment": run.assignment, "unserved": run.unserved, "site_load": run.site_load},
        summary={"relocating_persons": int(run.matrix.demand.sum()), "served_persons": run.allocation.served_persons},
    )
    return _with_placement(res, placed, v), placed


def test_each_household_gets_its_mode_and_destination() -> None:
    res, placed = run_all()
    t = res.tables["placement"]
    by = t[t["household_id"] != ""].set_index("household_id")
    assert by.loc[["H1", "H2", "H3", "H5"], "mode"].tolist() == [
        "scattered",
        "scattered",
        "nursing_home",
        "transitional",
    ]
    assert by.loc[["H1", "H3", "H5"], "mode_zh"].tolist() == ["分散安置", "集中供养", "周转房安置"]
    assert by.at["H3", "site_id"] == "N1" and by.at["H3", "site_name"] == "一乡敬老院"
    assert by.at["H5", "site_id"] == "ZZF-V1" and by.at["H5", "site_name"] == "甲村周转房"
    assert by.at["H1", "site_id"] == "" and by.at["H2", "wish_zh"] == "分散安置"
    # H3: 1 km straight line x 1.3 at 30 km/h
    assert by.at["H3", "time_min"] == pytest.approx(1300 / 500)
    central = t[t["mode"] == "central"]
    assert central[["household_id", "unit_id", "households", "persons", "site_id"]].values.tolist() == [
        ["H4", "V1/一组", 1, 4, "S1"],
        ["H6", "V1/二组", 1, 2, "S1"],
        ["H7", "V2/一组", 1, 2, "S1"],
        ["H8", "V2/一组", 1, 3, "S1"],
        ["H9", "V2/一组", 1, 2, "S1"],
    ]
    assert len(t) == 9 and t["persons"].sum() == 24  # every household once, none left over
    # the central allocation saw the reduced demand
    v = placed.villages  # type: ignore[attr-defined]
    assert v["relocate_households"].tolist() == [1, 1, 3] and v["relocate_persons"].tolist() == [4, 2, 7]
    load = res.tables["site_load"].set_index("site_id")
    assert load.at["S1", "assigned_persons"] == 13 and load.at["S1", "assigned_households"] == 5
    modes = res.tables["placement_modes"].set_index("mode")
    assert modes["households"].to_dict() == {"central": 5, "scattered": 2, "nursing_home": 1, "transitional": 1}
    assert modes["persons"].to_dict() == {"central": 13, "scattered": 7, "nursing_home": 1, "transitional": 3}
    a = res.tables["assignment"]
    assert a.groupby("mode")["persons"].sum().to_dict() == {
        "central": 13, "nursing_home": 1, "scattered": 7, "transitional": 3
    }  # fmt: skip
    assert res.summary["relocating_persons"] == res.summary["served_persons"] == 24
    assert res.summary["placement"]["nursing_home"] == {"households": 1, "persons": 1, "destinations": 1}
    assert len(res.tables["placement_unplaced"]) == 0
    flows = res.layers["allocation_flows"]
    assert sorted(flows["mode"]) == ["central"] * 3 + ["nursing_home"]
    dests = res.layers["placement_destinations"].set_index("site_id")
    assert dests.loc[["N1", "ZZF-V1"], "mode"].tolist() == ["nursing_home", "transitional"]


def test_subsidies_per_mode_to_the_yuan_and_budget_equals_payments_and_funding() -> None:
    res, _ = run_all()
    v = villages()
    units = pol.plan_units(v, res.tables["assignment"])
    budget = pol.compute_budget(units, POLICY, PolicyOptions())
    by_mode = budget.lines.groupby("mode")["amount_yuan"].sum().to_dict()
    assert by_mode == {"central": 43_000, "scattered": 25_000, "nursing_home": 21_000, "transitional": 31_000}
    assert budget.total_yuan == 120_000
    wide = pol.budget_by(budget, "mode").set_index("mode")
    assert wide.at["scattered", "province__hardship_yuan"] == 10_000 and wide.at["scattered", "households"] == 2
    # the payment roster (直补到户清册): every household of every mode, by hand
    h = ro.with_placement(households(), res.tables["placement"])
    pay, _ = ro.payment_roster(h, budget)
    got = pay.set_index("household_id")["total_yuan"].to_dict()
    assert got == {
        "H1": 7000,
        "H2": 8000,
        "H3": 1000,
        "H4": 20_000,
        "H5": 1000,
        "H6": 8000,
        "H7": 8000,
        "H8": 9000,
        "H9": 8000,
    }  # fmt: skip  (H4: the lowest income of V1's central and scattered poor takes the hardship 10,000)
    assert pay.set_index("household_id").at["H3", "mode_zh"] == "集中供养"
    check = ro.payment_check(pay, budget)
    assert check["diff_yuan"].abs().max() == 0 and check.iloc[-1]["roster_yuan"] == 70_000
    # the funding plan agrees with the budget to the yuan; the nursing home and 周转房 households build nothing
    fp = funding_plan(budget, v, FundingConfig(building_cost_yuan_per_m2=1000), housing=HousingPlan())
    assert check_agrees(fp, budget) == pytest.approx(0, abs=0.005)
    assert fp.tables["funding_county"].iloc[0]["subsidy_total_yuan"] == pytest.approx(120_000)
    fh = fp.tables["funding_household"]
    special = fh[fh["mode"].isin(["nursing_home", "transitional"])]
    assert len(special) == 2 and special["building_cost_yuan"].sum() == 0
    assert fh["subsidy_household_yuan"].sum() == pytest.approx(70_000)


def test_the_two_readings_of_the_scattered_options() -> None:
    res, _ = run_all()
    units = pol.plan_units(villages(), res.tables["assignment"])
    no_home = pol.compute_budget(units, POLICY, PolicyOptions(scattered_homestead="excluded"))
    assert no_home.total_yuan == 118_000  # 2 scattered households x 1,000 less
    no_hard = pol.compute_budget(units, POLICY, PolicyOptions(scattered_hardship="excluded"))
    m = no_hard.lines.groupby("mode")["amount_yuan"].sum()
    # the 10 % is still taken of all 9 households; its one household sat in the scattered unit, which keeps none
    assert m["scattered"] == 15_000 and m["central"] == 43_000 and no_hard.total_yuan == 110_000
    assert no_hard.units["hardship_households"].sum() == 0
    ordered = pol.compute_budget(units.iloc[::-1].reset_index(drop=True), POLICY, PolicyOptions())
    assert ordered.total_yuan == 120_000  # the unit order does not move the hardship household
    totals = pol.option_totals(units, POLICY, PolicyOptions())
    assert totals["scattered_homestead"] == {"included": 120_000, "excluded": 118_000}
    assert totals["scattered_hardship"] == {"included": 120_000, "excluded": 110_000}
    table = pol.options_table(PolicyOptions(), totals).set_index("option")
    assert "excluded: 118,000 元" in table.at["scattered_homestead", "totals_by_value"]


def test_a_full_nursing_home_reports_the_household_left_and_places_it_centrally() -> None:
    rows = [*ROSTER]
    rows[3] = ("H4", "张四", 4, "五保户", "集中供养", "甲村", "一组", 1200)  # a second 五保户 for the one bed
    res, placed = run_all(rows)
    un = res.tables["placement_unplaced"]
    assert un[["household_id", "reason", "fallback_mode"]].values.tolist() == [["H4", "nursing_home_full", "central"]]
    assert un.iloc[0]["reason_zh"] == "可达敬老院床位已满" and un.iloc[0]["unit_id"] == "V1/一组"
    t = res.tables["placement"].set_index("household_id")
    assert t.at["H3", "mode"] == "nursing_home"  # the first in the roster keeps the bed (ties: roster order)
    assert any("placement_unplaced" in w for w in placed.warnings)  # type: ignore[attr-defined]
    load = res.tables["site_load"].set_index("site_id")
    assert load.at["S1", "assigned_persons"] == 13  # H4's 4 persons go to the central site
    # two beds: both placed
    res2, _ = run_all(rows, beds=2)
    assert len(res2.tables["placement_unplaced"]) == 0
    assert res2.tables["placement_modes"].set_index("mode").at["nursing_home", "persons"] == 5


def test_beyond_the_time_limit_and_no_transitional_housing_are_reasons() -> None:
    v = villages()
    far = place(v, CFG, households=households(), facilities=facilities(x=560_000))  # 60 km: 156 min
    assert far.unplaced[["household_id", "reason"]].values.tolist() == [["H3", "beyond_limit"]]
    assert far.unplaced.iloc[0]["reason_zh"] == "60分钟内没有敬老院"
    none = place(v, PlacementConfig(), households=households(), facilities=None)
    assert none.unplaced["reason"].tolist() == ["no_nursing_home", "no_transitional"]
    assert none.villages["relocate_persons"].tolist() == [5, 5, 7]  # only H1, H2 scattered
    dispersed = place(v, PlacementConfig(five_guarantee="dispersed"), households=households(), facilities=facilities())
    assert dispersed.unplaced["reason"].tolist() == ["dispersed_care", "no_transitional"]
    assert dispersed.table.set_index("household_id").at["H3", "mode"] == "central"
    rows = [*ROSTER]
    rows[6] = ("H7", "李七", 2, "一般贫困户", "周转房", "乙村", "一组", 1600)
    wrong = place(v, CFG, households=households(rows), facilities=facilities())
    assert wrong.unplaced.set_index("household_id").at["H7", "reason"] == "not_extreme_poor"


def test_without_a_roster_a_share_or_a_number_per_village() -> None:
    v = villages()
    share = place(v, PlacementConfig(scattered_share=0.5))  # 2 of 4, 1 of 2, 1.5 -> 2 of 3
    assert share.villages["relocate_households"].tolist() == [2, 1, 1]
    assert share.villages["relocate_persons"].tolist() == [6, 2, 2]  # 12 x 2/4; 5 x 1/2 = 2.5 -> 3; 7 x 2/3 -> 5
    s = share.table[share.table["mode"] == "scattered"]
    assert s["households"].tolist() == [2, 1, 2] and s["persons"].tolist() == [6, 3, 5]
    listed = place(v, PlacementConfig(scattered_households={"V1": 3}))  # V1's 3 over its groups by households
    assert listed.villages["relocate_households"].tolist() == [2, 1, 3]
    with pytest.raises(DataError, match="V9"):
        place(v, PlacementConfig(scattered_households={"V9": 1}))
    with pytest.raises(DataError, match="relocates only 3"):
        place(v, PlacementConfig(scattered_households={"V2/一组": 4}))


def test_bed_assignment_places_the_most_then_the_quickest() -> None:
    t = np.array([[10.0, 5.0], [np.inf, 8.0], [20.0, 90.0]])
    # home 1 has one bed: household 1 can reach only home 1, so household 0 goes to home 0
    assert assign_beds(t, np.array([1, 1]), 60).tolist() == [0, 1, -1]
    assert assign_beds(t, np.array([2, 1]), 60).tolist() == [0, 1, 0]
    assert assign_beds(t, np.array([0, 0]), 60).tolist() == [-1, -1, -1]


def test_rules_modes_are_validated() -> None:
    with pytest.raises(ScenarioError, match="modes"):
        parse_policy({"name": "x", "rules": [_rule("a", "province", "housing", "per_person", 1, modes=[])]})
    with pytest.raises(ScenarioError, match="modes"):
        parse_policy({"name": "x", "rules": [_rule("a", "province", "housing", "per_person", 1, modes=["city"])]})


def test_the_demo_run_places_every_mode_and_agrees_to_the_yuan(demo_run) -> None:  # type: ignore[no-untyped-def]
    import json

    _, out = demo_run
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    fig = record["key_figures"]["placement"]
    got = {m: (v["households"], v["persons"]) for m, v in fig.items()}
    assert got == {"central": (1469, 6664), "scattered": (45, 196), "nursing_home": (9, 9), "transitional": (3, 17)}
    assert sum(v["households"] for v in fig.values()) == 1526 and sum(v["persons"] for v in fig.values()) == 6886
    plan = record["summary"]["plan"]
    by_mode = plan["budget_by_mode_yuan"]
    assert sum(by_mode.values()) == pytest.approx(plan["budget_total_yuan"], abs=0.01)
    # 9 beds at 20,000 + 9 homestead clearances, x 1.015; 3 houses at 40,000 + 3 clearances, x 1.015
    assert by_mode["nursing_home"] == pytest.approx((9 * 20_000 + 9 * 1000) * 1.015)
    assert by_mode["transitional"] == pytest.approx((3 * 40_000 + 3 * 1000) * 1.015)
    assert record["summary"]["roster"]["payment_diff_yuan"] == 0
    # 直补到户: 3,800 x 6,860 + 1,000 x 1,526 + 10,000 x 153 + 10,000 x 1,469 x 2 + (5,000 + 2,000) x 6,664
    assert record["summary"]["roster"]["payment_total_yuan"] == 105_152_000
    assert record["summary"]["phase"]["funding"]["subsidy_total_yuan"] == pytest.approx(plan["budget_total_yuan"])
    tables = out / "tables"
    placement = pd.read_csv(tables / "placement.csv", encoding="utf-8-sig", dtype={"household_id": str})
    assert len(placement) == 1526 and placement["persons"].sum() == 6886
    assert set(placement.loc[placement["mode"] == "transitional", "site_name"]) == {"张家塬村麻山组周转房"}
    assert (placement.loc[placement["mode"] == "central", "site_id"].fillna("") != "").all()
    homes = placement[placement["mode"] == "nursing_home"]
    assert (homes["time_min"] <= 180).all() and homes["site_name"].str.endswith("敬老院").all()
    assert pd.read_csv(tables / "placement_unplaced.csv", encoding="utf-8-sig").empty
    pay = pd.read_csv(tables / "roster_payment.csv", encoding="utf-8-sig")
    assert set(pay["mode_zh"]) == {"集中安置", "分散安置", "集中供养", "周转房安置"}
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "集中供养与周转房" in page and "张家塬村麻山组周转房" in page
