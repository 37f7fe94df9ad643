"""Infrastructure plans: roads along least-cost paths, upgrades, water/power/schools, village plan lines, the step."""

from __future__ import annotations

from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, box

from geofupin.config.plans import PlansConfig, UnitCosts
from geofupin.config.policy import PolicyConfig
from geofupin.context import Layers, RunContext, StepResult
from geofupin.plans import (
    connect_road,
    plan_sites,
)
from geofupin.report import plan_line, plan_villages
from geofupin.report import plan_step as step

CRS = "EPSG:32649"


@pytest.fixture()
def ridge_dem(tmp_path):
    """A 30 m DEM (60 x 40 cells) with a 1,000 m ridge in columns 18-21, cut by a pass in rows 25-35."""
    import rasterio
    from rasterio.transform import Affine

    z = np.zeros((40, 60), dtype="float32")
    z[:, 18:22] = 1000
    z[25:36, 18:22] = 0
    path = tmp_path / "dem.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=40,
        width=60,
        count=1,
        dtype="float32",
        crs=CRS,
        transform=Affine(30, 0, 500_000, 0, -30, 4_001_200),
        nodata=-9999,
    ) as dst:
        dst.write(z, 1)
    return path


def test_least_cost_road_goes_through_the_pass(ridge_dem) -> None:
    # site near the top left, a county road running north-south near the right edge
    site = box(500_090, 4_000_870, 500_150, 4_000_930)  # rows 9-10, cols 3-4
    roads = gpd.GeoDataFrame(
        {"road_id": ["r1"], "road_class": ["county"], "surface": ["paved"]},
        geometry=[LineString([(501_500, 4_000_000), (501_500, 4_001_200)])],
        crs=CRS,
    )
    cfg = PlansConfig(dem_cell_m=30, search_radius_m=5000)
    link = connect_road(site, roads, cfg, surface="paved", dem=ridge_dem, crs=roads.crs)
    assert link.action == "new" and link.method == "least_cost"
    xy = np.asarray(link.geometry.coords)
    # every vertex over the ridge columns (x 500,540 - 500,660) lies in the pass (y 4,000,150 - 4,000,450)
    over = (xy[:, 0] > 500_540) & (xy[:, 0] < 500_660)
    assert over.any() and ((xy[over, 1] > 4_000_150) & (xy[over, 1] < 4_000_450)).all()
    straight = site.distance(roads.geometry.iloc[0])
    assert link.length_m > straight + 200  # the detour to the pass
    assert link.cost_yuan == pytest.approx(link.length_m * 800)


def test_upgrade_beats_new_road_by_hand() -> None:
    site = Point(0, 0).buffer(10)
    roads = gpd.GeoDataFrame(
        {
            "road_id": ["main", "track"],
            "road_class": ["county", "track"],
            "surface": ["paved", "earth"],
        },
        geometry=[LineString([(1000, -500), (1000, 500)]), LineString([(100, 0), (1000, 0)])],
        crs=CRS,
    )
    cheap_upgrade = PlansConfig(unit_costs=UnitCosts(upgrade_to_cement_yuan_per_km=300_000))
    link = connect_road(site, roads, cheap_upgrade, surface="paved")
    # new: 990 m x 800 yuan = 792,000; upgrade: 900 m x 300 + 90 m spur x 800 = 342,000
    assert link.action == "upgrade" and link.road_id == "track"
    assert link.cost_yuan == pytest.approx(900 * 300 + 90 * 800)
    assert link.length_m == pytest.approx(990)
    dear_upgrade = PlansConfig(unit_costs=UnitCosts(upgrade_to_cement_yuan_per_km=900_000))
    link = connect_road(site, roads, dear_upgrade, surface="paved")
    assert link.action == "new" and link.method == "straight_line"
    assert link.cost_yuan == pytest.approx(990 * 800)  # 900*900 + 90*800 = 882,000 > 792,000
    near = connect_road(Point(990, 0), roads, dear_upgrade, surface="paved")
    assert near.action == "none" and near.cost_yuan == 0


def test_upgrade_only_the_stretch_needed_and_never_build_beside_a_track() -> None:
    roads = gpd.GeoDataFrame(
        {"road_id": ["main", "track"], "road_class": ["county", "track"], "surface": ["paved", "earth"]},
        geometry=[LineString([(1000, -500), (1000, 500)]), LineString([(-500, 0), (1000, 0)])],
        crs=CRS,
    )
    cheap = PlansConfig(unit_costs=UnitCosts(upgrade_to_cement_yuan_per_km=300_000))
    link = connect_road(Point(0, 100).buffer(10), roads, cheap, surface="paved")
    # from x = 0 (nearest the site) to the junction at x = 1000, not the track's whole 1,500 m; spur 90 m
    assert link.action == "upgrade" and link.geometry.length == pytest.approx(1000)
    assert link.cost_yuan == pytest.approx(1000 * 300 + 90 * 800)
    # a village on the track: upgrade it even when a new road would be cheaper
    dear = PlansConfig(unit_costs=UnitCosts(upgrade_to_cement_yuan_per_km=2_000_000))
    link = connect_road(Point(0, 20), roads, dear, surface="gravel")
    assert link.action == "upgrade" and link.cost_yuan == pytest.approx(1000 * 2000 + 20 * 300)


# --------------------------------------------------------------------------- sites
def test_site_water_power_schools_by_hand() -> None:
    sites = gpd.GeoDataFrame({"site_id": ["S1"], "name": ["新村"]}, geometry=[box(0, 0, 100, 100)], crs=CRS)
    water = gpd.GeoDataFrame(
        {"water_id": ["w1", "w2"], "kind": ["river", "well"]},
        geometry=[LineString([(600, -100), (600, 300)]), Point(50, 400)],
        crs=CRS,
    )
    power = gpd.GeoDataFrame(
        {"power_id": ["p1"], "kind": ["substation"], "voltage_kv": [35]}, geometry=[Point(100, 1100)], crs=CRS
    )
    cfg = PlansConfig()
    tab, layers = plan_sites(
        sites, pd.Series({"S1": 1001.0}), pd.Series({"S1": 250.0}), roads=None, water=water, power=power, cfg=cfg
    )
    r = tab.iloc[0]
    assert r["water_feature_id"] == "w2" and r["water_length_m"] == pytest.approx(300)
    assert r["water_cost_yuan"] == pytest.approx(300 * 150)
    assert r["power_length_m"] == pytest.approx(1000) and r["power_cost_yuan"] == pytest.approx(200_000)
    # 1,001 persons: 40 and 80 places per 1,000 -> 41 and 81 places (rounded up)
    assert (r["kindergarten_places"], r["primary_places"]) == (41, 81)
    assert r["school_cost_yuan"] == pytest.approx(41 * 20_000 + 81 * 25_000)
    assert r["off_site_cost_yuan"] == pytest.approx(45_000 + 200_000 + 41 * 20_000 + 81 * 25_000)
    # in-site works of 250 households: 250 x (9,000 + 6,000 + 4,000) = 4,750,000
    assert r["in_site_cost_yuan"] == pytest.approx(4_750_000)
    assert r["total_cost_yuan"] == pytest.approx(r["off_site_cost_yuan"] + 4_750_000)
    assert layers["planned_water"]["length_m"].tolist() == [300]
    assert layers["planned_power"].geometry.iloc[0].length == pytest.approx(1000)


# --------------------------------------------------------------------------- villages
def test_plan_line_in_report5_wording() -> None:
    row = pd.Series(
        {
            "name": "大扁山村",
            "name_en": "Dabianshan",
            "poor_households": 50,
            "poor_persons": 153,
            "gravel_road_km": 4.5,
            "footpath_km": 5.0,
            "pond_repair": 4,
        }
    )
    zh, en = plan_line(row)
    assert zh == "大扁山村:贫困户50户153人,1.新建碎石路4.5公里,便民路5公里。2.维修山坪塘4口。"
    assert (
        en
        == "Dabianshan: 50 poor households, 153 persons; 1. new gravel road 4.5 km, footpaths 5 km. 2. repair 4 ponds."
    )
    row = pd.Series(
        {
            "name": "万寿寺村",
            "poor_households": 53,
            "poor_persons": 161,
            "cement_road_km": 0.4,
            "pond_new": 1,
            "pond_repair": 5,
            "canal_repair_m": 5700,
            "clinic": 1,
        }
    )
    zh, _ = plan_line(row)
    assert (
        zh == "万寿寺村:贫困户53户161人,1.新建水泥路400米。"
        "2.新建山坪塘1口,维修山坪塘5口,维修水渠5700米。3.修建村卫生室1个。"
    )


def test_village_gaps_from_layers_and_registry() -> None:
    villages = gpd.GeoDataFrame(
        {
            "village_id": ["v1", "v2", "v3"],
            "name": ["甲村", "乙村", "丙村"],
            "township": ["T", "T", "T"],
            "households": [100, 80, 50],
            "persons": [300, 240, 150],
            "poor_households": [20, 10, 5],
            "poor_persons": [60, 30, 15],
            "relocate_households": [0, 0, 50],
            "relocate_persons": [0, 0, 150],
            "plan_pond_repair": [np.nan, 2, np.nan],
            "plan_footpath_km": [1.5, np.nan, np.nan],
        },
        geometry=[Point(0, 2000), Point(100, 50), Point(0, 5000)],
        crs=CRS,
    )
    roads = gpd.GeoDataFrame(
        {"road_id": ["r"], "road_class": ["township"], "surface": ["paved"]},
        geometry=[LineString([(-1000, 0), (1000, 0)])],
        crs=CRS,
    )
    facilities = gpd.GeoDataFrame(
        {"facility_id": ["c1"], "kind": ["clinic"], "name": ["卫生院"]}, geometry=[Point(100, 0)], crs=CRS
    )
    tab, lines = plan_villages(villages, roads=roads, facilities=facilities, cfg=PlansConfig())
    t = tab.set_index("village_id")
    assert list(t.index) == ["v1", "v2"]  # v3 moves out entirely
    assert t.loc["v1", "gravel_road_km"] == pytest.approx(2.0)  # straight to the road (no DEM)
    assert t.loc["v2", "gravel_road_km"] == 0  # 50 m from the road
    assert t.loc["v1", "clinic"] == 0 and t.loc["v2", "clinic"] == 0  # clinic 2 km away, within 3 km
    assert t.loc["v1", "footpath_km"] == 1.5 and t.loc["v2", "pond_repair"] == 2
    assert t.loc["v1", "road_cost_yuan"] == pytest.approx(2.0 * 300_000 + 1.5 * 100_000)
    assert t.loc["v1", "plan_zh"] == "甲村:贫困户20户60人,1.新建碎石路2公里,便民路1.5公里。"
    assert "road:layers" in t.loc["v1", "derived_from"] and "footpath_km:registry" in t.loc["v1", "derived_from"]
    assert lines["village_id"].tolist() == ["v1"] and lines["length_m"].iloc[0] == pytest.approx(2000)


def test_village_planned_once_with_its_groups_listed() -> None:
    villages = gpd.GeoDataFrame(
        {
            "village_id": ["k1", "k2", "s1"],
            "name": ["康河村", "康河村", "史川村"],
            "township": ["镰刀湾乡"] * 3,
            "group": ["老庄塔", "老庄畔", "背庄"],
            "households": [10, 10, 10],
            "poor_households": [2, 3, 4],
            "poor_persons": [5, 6, 7],
            "relocate_households": [0, 0, 0],
        },
        geometry=[Point(0, 0), Point(10, 0), Point(20, 0)],
        crs=CRS,
    )
    tab, _ = plan_villages(villages, roads=None, facilities=None, cfg=PlansConfig())
    # report 5 plans village by village: 康河村's two groups are one plan, its poor added up
    assert tab["plan_zh"].tolist() == ["康河村(老庄塔、老庄畔组):贫困户5户11人。", "史川村(背庄组):贫困户4户7人。"]
    assert tab["groups"].tolist() == ["老庄塔、老庄畔", "背庄"]
    assert tab["plan_en"].iloc[0].startswith("康河村 (老庄塔, 老庄畔 groups): 5 poor households, 11 persons")


def test_one_village_clinic_per_village_not_per_group() -> None:
    """Issue 13.2: 碾盘沟村 got three 村卫生室, one per group."""
    villages = gpd.GeoDataFrame(
        {
            "village_id": ["n1", "n2", "n3", "m1"],
            "name": ["碾盘沟村", "碾盘沟村", "碾盘沟村", "马家村"],
            "township": ["T"] * 4,
            "group": ["一组", "二组", "三组", ""],
            "households": [10, 12, 8, 20],
            "poor_households": [1, 2, 0, 3],
            "poor_persons": [3, 5, 0, 9],
            "relocate_households": [0, 0, 0, 0],
        },
        geometry=[Point(0, 0), Point(500, 0), Point(900, 0), Point(0, 20_000)],
        crs=CRS,
    )
    far = gpd.GeoDataFrame({"facility_id": ["c"], "kind": ["clinic"]}, geometry=[Point(10_000, 0)], crs=CRS)
    tab, _ = plan_villages(villages, roads=None, facilities=far, cfg=PlansConfig())
    t = tab.set_index("name")
    assert t.loc["碾盘沟村", "clinic"] == 1 and t.loc["马家村", "clinic"] == 1
    assert t.loc["碾盘沟村", "clinic_cost_yuan"] == 300_000  # one clinic, not three
    assert t.loc["碾盘沟村", "plan_zh"] == "碾盘沟村(一组、二组、三组组):贫困户3户8人,1.修建村卫生室1个。"
    # a clinic within 3 km of any of the village's groups serves the whole village
    near = gpd.GeoDataFrame({"facility_id": ["c"], "kind": ["clinic"]}, geometry=[Point(3_500, 0)], crs=CRS)
    tab, _ = plan_villages(villages, roads=None, facilities=near, cfg=PlansConfig())
    assert tab.set_index("name").loc["碾盘沟村", "clinic"] == 0


def test_groups_that_move_out_get_no_in_situ_works() -> None:
    """Issue 13.1: 岳中庄村白台 (17 households, 12 move, 9 poor) got roads and a clinic for 5 non-poor households."""
    villages = gpd.GeoDataFrame(
        {
            "village_id": ["y1", "y2"],
            "name": ["岳中庄村", "岳中庄村"],
            "township": ["T", "T"],
            "group": ["白台", "前庄"],
            "households": [17, 20],
            "persons": [70, 80],
            "poor_households": [9, 4],
            "poor_persons": [44, 15],
            "relocate_households": [12, 0],
            "relocate_persons": [52, 0],
        },
        geometry=[Point(0, 0), Point(300, 0)],
        crs=CRS,
    )
    road = gpd.GeoDataFrame(
        {"road_id": ["r"], "road_class": ["county"], "surface": ["paved"]},
        geometry=[LineString([(-500, 8_200), (500, 8_200)])],
        crs=CRS,
    )
    far = gpd.GeoDataFrame({"facility_id": ["c"], "kind": ["clinic"]}, geometry=[Point(0, 9_000)], crs=CRS)
    tab, lines = plan_villages(villages, roads=road, facilities=far, cfg=PlansConfig())
    # only 前庄, whose people all stay, is planned; 白台 relocates and its 5 leftover households get nothing
    assert tab["groups"].tolist() == ["前庄"]
    assert tab["plan_zh"].iloc[0] == "岳中庄村(前庄组):贫困户4户15人,1.新建碎石路8.2公里。2.修建村卫生室1个。"
    assert lines["village_id"].tolist() == ["y2"]
    # the other reading plans for those who stay in 白台 too, quoting them: 5 households, 18 persons, none poor
    # (the 9 poor households move first)
    cfg = PlansConfig(in_situ_partly_relocated=True)
    tab, _ = plan_villages(villages, roads=road, facilities=far, cfg=cfg)
    row = tab.iloc[0]
    assert row["groups"] == "白台、前庄" and row["stay_households"] == 25 and row["poor_households"] == 4
    assert row["plan_zh"].startswith("岳中庄村(白台、前庄组):留守25户98人,其中贫困户4户,1.新建碎石路")
    assert row["clinic"] == 1


# --------------------------------------------------------------------------- the step
def _scene() -> tuple[RunContext, pd.DataFrame]:
    villages = gpd.GeoDataFrame(
        {
            "village_id": ["A", "B", "C"],
            "name": ["甲村", "乙村", "丙村"],
            "township": ["T1", "T1", "T2"],
            "group": ["麻山、南塔", "曹家洼", "阳庄"],
            "households": [3, 20, 4],
            "persons": [10, 60, 13],
            "poor_households": [3, 5, 4],
            "poor_persons": [10, 15, 13],
            "relocate_households": [3, 2, 4],
            "relocate_persons": [10, 5, 13],
        },
        geometry=[Point(0, 3000), Point(500, 3000), Point(3000, 3000)],
        crs=CRS,
    )
    candidates = gpd.GeoDataFrame(
        {"site_id": ["S1", "S2"], "name": ["一号点", "二号点"], "tier": ["market_town", "central_village"]},
        geometry=[box(0, 0, 100, 100), box(2000, 0, 2100, 100)],
        crs=CRS,
    )
    roads = gpd.GeoDataFrame(
        {"road_id": ["r"], "road_class": ["county"], "surface": ["paved"]},
        geometry=[LineString([(-500, -500), (3000, -500)])],
        crs=CRS,
    )
    layers = Layers(crs=villages.crs, villages=villages, roads=roads, candidates=candidates)
    assignment = pd.DataFrame(
        {"village_id": ["A", "B", "C"], "site_id": ["S1", "S1", "S2"], "households": [3, 2, 4], "persons": [10, 5, 13]}
    )
    scenario = SimpleNamespace(policy=PolicyConfig(), plans=PlansConfig(start_date="2026-03-01"))
    ctx = RunContext(
        scenario=scenario, layers=layers, results={"allocate": StepResult(tables={"assignment": assignment})}
    )
    return ctx, assignment


def test_step_produces_the_contract() -> None:
    ctx, _ = _scene()
    res = step(ctx)
    for name in (
        "budget_county",
        "budget_township",
        "budget_village",
        "budget_site",
        "budget_reconciliation",
        "plan_sites",
        "plan_villages",
        "disbursement",
        "acceptance_form",
        "township_table",
        "policy_options",
    ):
        assert name in res.tables, name
    for name in ("planned_roads", "planned_water", "planned_power"):
        assert name in res.layers and res.layers[name].crs == ctx.layers.crs
    assert res.summary["budget_total_yuan"] == pytest.approx(684_653)  # see test_policy
    sites = res.tables["plan_sites"].set_index("site_id")
    # S1: 15 persons x (2,300 + 2,300) infrastructure subsidy; a new 500 m cement road to the county road
    assert sites.loc["S1", "infrastructure_subsidy_yuan"] == pytest.approx(15 * 4600)
    assert res.tables["budget_site"].set_index("site_id").loc["S2", "name"] == "二号点"
    assert sites.loc["S1", "road_length_m"] == pytest.approx(500) and sites.loc["S1", "road_action"] == "new"
    d = res.tables["disbursement"]
    assert d.groupby("project_id")["amount_yuan"].sum().to_dict() == pytest.approx(
        d.groupby("project_id")["cost_yuan"].first().to_dict()
    )
    assert set(d["date"]) >= {"2026-02-22", "2026-05-30"}
    town = res.tables["township_table"]
    assert town.iloc[-1]["households"] == 9 and town.iloc[-1]["persons"] == 28
    assert any("unit costs" in w for w in res.warnings)


def test_step_without_allocation_uses_relocation_counts() -> None:
    ctx, _ = _scene()
    ctx = RunContext(scenario=ctx.scenario, layers=ctx.layers)
    res = step(ctx)
    assert res.summary["relocated_persons"] == 28
    assert res.tables["budget_site"].empty
    assert any("no allocation" in w for w in res.warnings)


@pytest.mark.shared
def test_least_cost_road_on_real_srtm(shared_data) -> None:
    """Andorra SRTM (EPSG:4326, voids on peaks) read window by window in UTM 31N."""
    from geofupin.routing import read_dem_window

    dem = shared_data / "andorra" / "andorra_srtm3.tif"
    pts = gpd.GeoSeries([Point(1.52, 42.507), Point(1.60, 42.53), Point(1.50, 42.55)], crs=4326).to_crs(32631)
    site = pts.iloc[0].buffer(100)
    road = LineString([pts.iloc[1].coords[0], pts.iloc[2].coords[0]])
    roads = gpd.GeoDataFrame(
        {"road_id": ["r"], "road_class": ["county"], "surface": ["paved"]}, geometry=[road], crs=32631
    )
    link = connect_road(site, roads, PlansConfig(), surface="paved", dem=dem, crs=roads.crs)
    assert link.method == "least_cost"
    straight = site.distance(road)
    assert straight < link.length_m < 3 * straight
    start, end = Point(link.geometry.coords[0]), Point(link.geometry.coords[-1])
    assert start.distance(site) < 30 and end.distance(road) < 30
    win = read_dem_window(dem, roads.crs, site.bounds, 30)
    assert 900 < np.nanmin(win.z) < np.nanmax(win.z) < 1300  # Andorra la Vella's valley floor


def test_step_forms_per_township_and_unserved_warning() -> None:
    ctx, assignment = _scene()
    unserved = pd.DataFrame({"village_id": ["X"], "persons": [7], "reason_zh": ["无"], "reason_en": ["none"]})
    results = {"allocate": StepResult(tables={"assignment": assignment, "unserved": unserved})}
    res = step(RunContext(scenario=ctx.scenario, layers=ctx.layers, results=results))
    form = res.tables["acceptance_form"]
    assert list(dict.fromkeys(form["inspected_unit"])) == ["T1", "T2"]
    items = form[~form["item_id"].isin(["total", "grade"])]
    assert items.groupby("inspected_unit")["max_points"].sum().eq(100).all()
    # each township's form ends with the 合计 and 等次 rows of the paper form
    t1 = form[form["inspected_unit"] == "T1"]
    assert t1["item_zh"].tolist()[-2:] == ["合计", "等次"] and t1["max_points"].iloc[-2] == 100
    assert "95分以上为优秀,80分(含)以上为合格,80分以下为不合格" in t1["remarks"].iloc[-1]
    assert any("7 unserved persons" in w for w in res.warnings)


def test_plans_section_parses_with_problems_collected(repo_root) -> None:
    from geofupin._schema import parse
    from geofupin.errors import Problems

    problems = Problems()
    raw = {
        "unit_costs": {"gravel_road_yuan_per_km": 250_000},
        "start_date": "2026-03-01",
        "milestones": {"halfway_day": 60},
        "road_connect_classes": ["county", "township"],
    }
    cfg = parse(PlansConfig, raw, "plans", problems)
    assert not problems.errors
    assert cfg.unit_costs.gravel_road_yuan_per_km == 250_000 and cfg.milestones.halfway_day == 60
    assert cfg.start.isoformat() == "2026-03-01"
    import yaml

    unquoted = parse(PlansConfig, yaml.safe_load("start_date: 2026-03-01"), "plans", problems)
    assert unquoted.start.isoformat() == "2026-03-01"
    problems = Problems()
    bad = {"unit_cost": {}, "start_date": "March", "road_connect_classes": ["county", "hiway"]}
    assert parse(PlansConfig, bad, "plans", problems) is None
    text = "\n".join(str(p) for p in problems)
    assert "did you mean 'unit_costs'" in text and "'hiway'" in text
    problems = Problems()
    assert parse(PlansConfig, {"start_date": "March"}, "plans", problems) is None
    assert "plans.start_date" in str(problems.errors[0])
    # the policy file path is relative to the scenario file
    problems = Problems()
    pcfg = parse(
        PolicyConfig, {"file": "policy/seed-county.yaml"}, "policy", problems, base_dir=repo_root / "scenarios"
    )
    assert pcfg.file == repo_root / "scenarios/policy/seed-county.yaml"
    from geofupin.config.policy import seed_policy
    from geofupin.io import load_policy

    assert load_policy(pcfg) == seed_policy()
