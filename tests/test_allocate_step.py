"""The allocation step on tiny synthetic layers: tables, flow lines, rules, fallbacks."""

from __future__ import annotations

from types import SimpleNamespace

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point, box

from geofupin.allocate import AllocationConfig, step
from geofupin.allocate.step import allocate, relocating_units
from geofupin.context import Layers, RunContext, StepResult
from geofupin.errors import DataError, InfeasibleError

CRS = "EPSG:4545"


def villages() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "village_id": ["V1", "V1", "V2", "V3", "V4"],
            "group": ["一组", "二组", None, None, None],
            "name": ["甲村", "甲村", "乙村", "丙村", "丁村"],
            "township": ["招安镇", "招安镇", "高桥乡", "高桥乡", "高桥乡"],
            "households": [20, 15, 30, 40, 5],
            "persons": [80, 60, 120, 160, 20],
            "relocate_households": [10, 5, 8, 0, 2],
            "relocate_persons": [40, 20, 30, 0, 0],
        },
        geometry=[Point(0, 0), Point(100, 0), Point(5000, 0), Point(9000, 0), Point(9000, 9000)],
        crs=CRS,
    )


def sites() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "site_id": ["S1", "S2", "S3", "S4"],
            "name": ["县城安置点", "集镇安置点", "中心社区", "废弃点"],
            "name_en": ["County seat", "Market town", "Central community", "Rejected"],
            "tier": ["county_seat", "market_town", "central_community", "central_village"],
            "township": ["招安镇", "高桥乡", "高桥乡", "高桥乡"],
            "capacity_persons": [50.0, 40.0, 100.0, 500.0],
            "passed": [True, True, True, False],
            "score": [0.9, 0.5, 0.1, 0.0],
        },
        geometry=[box(1000, -100, 1200, 100), box(4000, -100, 4200, 100), box(8000, -100, 8200, 100), box(0, 0, 1, 1)],
        crs=CRS,
    )


def od() -> pd.DataFrame:
    rows = [
        ("V1", "S1", 5.0, 1000.0),
        ("V1", "S2", 25.0, 4000.0),
        ("V1", "S3", 60.0, 8000.0),
        ("V2", "S1", 20.0, 4000.0),
        ("V2", "S2", 8.0, 1000.0),
        ("V2", "S3", 15.0, 3000.0),
        ("V1", "S4", 1.0, 10.0),
    ]
    return pd.DataFrame(rows, columns=["village_id", "site_id", "time_min", "dist_m"])


def ctx(cfg: AllocationConfig | None = None, *, with_od: bool = True, with_sites: bool = True, **extra) -> RunContext:
    v = villages()
    results = {}
    if with_od:
        results["access"] = StepResult(tables={"od_village_site": od()}, layers=extra.get("access_layers", {}))
    if with_sites:
        results["site"] = StepResult(layers={"sites": sites()})
    cand = extra.get("candidates")
    return RunContext(
        scenario=SimpleNamespace(allocation=cfg),  # type: ignore[arg-type]
        layers=Layers(crs=v.crs, villages=v, candidates=cand),
        results=results,
    )


def test_default_step_places_whole_groups_and_writes_the_contract():
    res = step(ctx())
    a = res.tables["assignment"]
    got = dict(zip(a["unit_id"], a["site_id"], strict=True))
    # S1 holds 50: the two groups of V1 (40 + 20) cannot both go there, and S2 (40) cannot take
    # 二组 (20) and V2 (30) together. Enumerating: 一组 S1 (200) + 二组 S2 (500) + V2 S3 (450)
    # = 1150 beats 二组 S3 + V2 S2 (200 + 1200 + 240) and 一组 S2 + 二组 S1 + V2 S3 (1550).
    assert got == {"V1/一组": "S1", "V1/二组": "S2", "V2": "S3"}
    assert res.artifacts["allocation"].objective == pytest.approx(1150.0)
    assert set(a.columns) >= {"village_id", "group", "site_id", "households", "persons", "time_min", "dist_m"}
    assert a.set_index("unit_id").loc["V1/一组", "households"] == 10
    flows = res.layers["allocation_flows"]
    assert (flows.geom_type == "LineString").all() and flows.crs == CRS
    first = flows[flows["group"] == "一组"].geometry.iloc[0]
    assert shapely.get_coordinates(first)[0].tolist() == [0.0, 0.0]
    assert box(1000, -100, 1200, 100).contains(Point(shapely.get_coordinates(first)[1]))
    load = res.tables["site_load"].set_index("site_id")
    assert load["assigned_persons"].to_dict() == {"S1": 40, "S2": 20, "S3": 30}
    assert load["assigned_households"].to_dict() == {"S1": 10, "S2": 5, "S3": 8}
    assert "S4" not in load.index  # failed screening
    assert res.tables["unserved"].empty
    assert res.summary["served_persons"] == 90 and res.summary["status"] == "optimal"
    assert any("0 relocate_persons" in w for w in res.warnings)  # V4


def test_site_capacity_respected_in_step():
    res = step(ctx())
    load = res.tables["site_load"].set_index("site_id")
    assert (load["assigned_persons"] <= load["capacity_persons"]).all()


def test_unit_village_merges_groups():
    units, _ = relocating_units(villages(), unit="village")
    assert units.set_index("unit_id").loc["V1", "persons"] == 60
    res = step(ctx(AllocationConfig(unit="village")))
    a = res.tables["assignment"]
    assert (a["unit_id"] == "V1").sum() == 1
    # V1 (60) fits only S3 (100) at 60 min or... S1 is 50: V1 -> S3 (60), V2 -> S2 (8).
    got = dict(zip(a["unit_id"], a["site_id"], strict=True))
    assert got == {"V1": "S3", "V2": "S2"}


def test_flow_model_splits_households():
    res = step(ctx(AllocationConfig(model="flow", unit="household")))
    a = res.tables["assignment"]
    v1g1 = a[a["unit_id"] == "V1/一组"]
    assert v1g1["persons"].sum() == 40
    assert res.artifacts["allocation"].solver == "ortools-mcf"
    # divisible optimum: S1 takes 50 of V1's 60 at 5 min, the rest of V1 at S2 (25), V2 at S2 (8)
    assert res.artifacts["allocation"].objective == pytest.approx(50 * 5 + 10 * 25 + 30 * 8)


def test_rule_reserved_site_and_farming_radius_are_named():
    cfg = AllocationConfig(max_time_from_origin_min=10, reserved_sites={"S1": ("高桥乡",)})
    res = step(ctx(cfg))
    un = res.tables["unserved"].set_index("unit_id")
    assert set(un.index) == {"V1/一组", "V1/二组"}
    assert un.loc["V1/一组", "rule"] == "reserved_sites"
    assert "reserved for other townships" in un.loc["V1/一组", "reason_en"]
    assert "预留" in un.loc["V1/一组", "reason_zh"]
    cfg = AllocationConfig(max_time_from_origin_min=4)
    un = step(ctx(cfg)).tables["unserved"].set_index("unit_id")
    assert (un["rule"] == "max_time_from_origin_min").all() and len(un) == 3
    with pytest.raises(InfeasibleError, match="farming radius of 4"):
        step(ctx(AllocationConfig(max_time_from_origin_min=4, require_all_served=True)))


def test_tier_preference_and_allowed_tiers():
    # penalise the market town: V2 prefers the central community (15 < 8 + 10)
    res = step(ctx(AllocationConfig(tier_preference={"market_town": 10.0})))
    got = dict(zip(res.tables["assignment"]["unit_id"], res.tables["assignment"]["site_id"], strict=True))
    assert got["V2"] == "S3"
    res = step(ctx(AllocationConfig(allowed_tiers=("county_seat",))))
    un = res.tables["unserved"].set_index("unit_id")
    # S1 (50) serves the most persons with 二组 + V2 (50), so 一组 (40) waits
    assert list(un.index) == ["V1/一组"]
    assert un.loc["V1/一组", "rule"] == "capacity"
    assert "(S1) are full: capacity short by 40 persons" in un.loc["V1/一组", "reason_en"]


def test_suitability_weighted_objective_prefers_better_sites():
    res = step(ctx(AllocationConfig(objective="suitability_weighted", suitability_weight_min=100)))
    got = dict(zip(res.tables["assignment"]["unit_id"], res.tables["assignment"]["site_id"], strict=True))
    # scores 0.9/0.5/0.1 -> extra 0, 50, 100 minutes: V2: S1 = 20, S2 = 58, S3 = 115
    assert got["V2"] == "S1"


def test_p_median_opens_p_sites_with_fixed_site():
    res = step(ctx(AllocationConfig(model="p_median", p=2, fixed_sites=("S3",))))
    alloc = res.artifacts["allocation"]
    assert "S3" in alloc.open_sites and len(alloc.open_sites) == 2
    with pytest.raises(InfeasibleError, match="fixed_sites"):
        step(ctx(AllocationConfig(model="p_median", p=2, fixed_sites=("S4",))))


def test_straight_line_fallback_warns():
    res = step(ctx(with_od=False))
    assert any("straight-line" in w and "30 km/h" in w for w in res.warnings)
    a = res.tables["assignment"].set_index("unit_id")
    # V1/一组 at (0,0) to S1's edge at x=1000: 1000 m x 1.3 at 30 km/h = 2.6 min
    assert a.loc["V1/一组", "dist_m"] == pytest.approx(1300.0)
    assert a.loc["V1/一组", "time_min"] == pytest.approx(2.6)


def test_candidates_fallback_capacity_from_planned_area():
    cand = sites().drop(columns=["capacity_persons", "passed", "score"])
    cand["planned_area_m2"] = [8000.0, 8000.0, 8000.0, 0.0]
    res = step(ctx(with_sites=False, candidates=cand))
    load = res.tables["site_load"].set_index("site_id")
    assert load.loc["S1", "capacity_persons"] == 100.0  # 8000 / 80 m2 per person
    assert "S4" not in load.index
    assert any("site step did not run" in w for w in res.warnings)
    assert any("zero, negative or empty capacity_persons" in w for w in res.warnings)


def test_before_after_access_table():
    va = villages()[["village_id", "geometry"]].assign(time_min_clinic=[50.0, 50.0, 30.0, 10.0, 5.0])
    sa = sites()[["site_id", "geometry"]].assign(time_min_clinic=[5.0, 10.0, 20.0, 1.0])
    res = step(ctx(access_layers={"village_access": va, "site_access": sa}))
    t = res.tables["relocation_access"]
    assert len(t) == 3 and t["persons"].sum() == 90
    row = t[(t["village_id"] == "V2")].iloc[0]  # V2 -> S3
    assert row["before_time_min_clinic"] == 30.0 and row["after_time_min_clinic"] == 20.0
    assert row["change_time_min_clinic"] == -10.0


def test_bad_inputs():
    v = villages()
    v.loc[0, "relocate_persons"] = -3
    with pytest.raises(DataError, match="V1"):
        allocate(v, sites(), od())
    v = villages()
    v["group"] = None
    with pytest.raises(DataError, match="share a village_id"):
        allocate(v, sites(), od())
    v = villages()
    v["relocate_persons"] = 0
    v["relocate_households"] = 0
    with pytest.raises(DataError, match="nobody to allocate"):
        allocate(v, sites(), od())


def test_sites_without_reachable_village_are_reported():
    s = sites()
    run = allocate(villages(), s[s["passed"]], od(), AllocationConfig(cutoff_min=10))
    assert any("1 sites have no relocating village within reach" in w and "S3" in w for w in run.warnings)
    load = step(ctx(AllocationConfig(cutoff_min=10))).tables["site_load"].set_index("site_id")
    assert load.loc["S3", "assigned_persons"] == 0 and not load.loc["S3", "open"]


def test_max_coverage_step_names_the_standard():
    # one site open, 10 min standard: S2 covers V2 (8 min, 30 persons); S1 covers both groups of
    # V1 (5 min) but holds 50, so 一组 (40) alone: S1 wins with 40 > 30
    res = step(ctx(AllocationConfig(model="max_coverage", p=1, coverage_min=10)))
    alloc = res.artifacts["allocation"]
    assert alloc.open_sites == ("S1",) and alloc.served_persons == 40
    un = res.tables["unserved"].set_index("unit_id")
    assert un.loc["V2", "rule"] == "p"  # S2 is within the standard but stays closed
    assert un.loc["V1/二组", "rule"] == "capacity"
    assert "short by 10 persons" in un.loc["V1/二组", "reason_en"]
    # a 3-minute standard leaves nobody covered; the reason names it
    res = step(ctx(AllocationConfig(model="max_coverage", p=1, coverage_min=3)))
    un = res.tables["unserved"]
    assert (un["rule"] == "coverage_min").all() and len(un) == 3
    assert un["reason_en"].str.contains("coverage standard of 3").all()


def test_od_duplicates_keep_the_fastest_route():
    extra = pd.DataFrame([("V2", "S3", 2.0, 500.0)], columns=["village_id", "site_id", "time_min", "dist_m"])
    run = allocate(villages(), sites().query("passed"), pd.concat([od(), extra]), AllocationConfig())
    a = run.allocation.assignment.set_index("unit_id")
    assert a.loc["V2", "time_min"] == 2.0 and a.loc["V2", "site_id"] == "S3"
