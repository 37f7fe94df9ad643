"""End-to-end tests of geofupin.siting on a hand-made county (every value checkable by hand).

The DEM is a 100 x 100 grid of 30 m cells whose top-left corner is (500000, 4003000) in
EPSG:4545: a plane rising 0.2 m per metre eastwards (11.31°) west of column 70 and 45°
east of it. Four candidates of 300 x 300 m:

- A: gentle, clear of every constraint -> passes; 90,000 m2 / 80 m2 = 1,125 persons.
- B: a quarter (150 x 150 m) on basic farmland -> fails outside_basic_farmland (25.0 %).
- C: on the 45° slope -> fails max_slope and, with no buildable land, min_capacity.
- D: around a hazard point (200 m buffer) and 1,100 m from the road -> fails both.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from affine import Affine
from pyproj import CRS, Transformer

from geofupin.config.siting import CapacityConfig, CriterionConfig, RulesConfig, SensitivityConfig
from geofupin.context import Layers, RunContext, StepResult
from geofupin.errors import ScenarioError
from geofupin.siting import SitingConfig, site, step
from geofupin.siting.measure import capacity

CRS_GK = CRS.from_epsg(4545)
TF = Affine(30, 0, 500000, 0, -30, 4003000)


def _z(x_m: np.ndarray) -> np.ndarray:
    """Elevation of the test terrain at easting offsets ``x_m`` from 500000."""
    return 1000 + 0.2 * x_m + np.where(x_m > 70 * 30, (x_m - 70 * 30) * 0.8, 0.0)


@pytest.fixture(scope="module")
def dem(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dem") / "dem.tif"
    _, xx = np.mgrid[0:100, 0:100]
    z = _z(xx * 30.0).astype("float32")
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=100,
        height=100,
        count=1,
        dtype="float32",
        crs=CRS_GK,
        transform=TF,
        nodata=-9999,
    ) as d:
        d.write(z, 1)
    return path


def sq(x: float, y: float, s: float = 300) -> shapely.Polygon:
    return shapely.box(x, y, x + s, y + s)


def make_layers(dem: Path | None, **over: object) -> Layers:
    g = CRS_GK
    cands = gpd.GeoDataFrame(
        {
            "site_id": ["A", "B", "C", "D"],
            "name": ["甲", "乙", "丙", "丁"],
            "name_en": list("ABCD"),
            "tier": "central_village",
            "township": "T",
        },
        geometry=[sq(500300, 4001000), sq(500900, 4001000), sq(502400, 4001000), sq(501500, 4002000)],
        crs=g,
    )
    line = shapely.LineString
    kw: dict[str, object] = dict(
        crs=g,
        villages=gpd.GeoDataFrame(
            {"village_id": ["v1"], "relocate_persons": [100], "relocate_households": [25], "elevation_m": [1300.0]},
            geometry=[shapely.Point(502000, 4002500)],
            crs=g,
        ),
        roads=gpd.GeoDataFrame(
            {"road_id": ["r1", "r2"], "road_class": ["county", "path"]},
            geometry=[line([(500000, 4000900), (503000, 4000900)]), line([(501650, 4002400), (501650, 4002900)])],
            crs=g,
        ),
        water=gpd.GeoDataFrame(
            {"water_id": ["w1"], "kind": ["river"]}, geometry=[line([(500000, 4001500), (503000, 4001500)])], crs=g
        ),
        power=gpd.GeoDataFrame(
            {"power_id": ["p1"], "kind": ["line"]}, geometry=[line([(500000, 4001400), (503000, 4001400)])], crs=g
        ),
        facilities=gpd.GeoDataFrame(
            {"facility_id": ["f1", "f2", "f3"], "kind": ["town", "school", "clinic"]},
            geometry=[shapely.Point(501000, 4001200), shapely.Point(501200, 4001200), shapely.Point(500450, 4000000)],
            crs=g,
        ),
        constraints=gpd.GeoDataFrame(
            {"constraint_id": ["c1", "c2"], "kind": ["basic_farmland", "hazard_point"]},
            geometry=[sq(500900, 4001000, 150), shapely.Point(501650, 4002150)],
            crs=g,
        ),
        candidates=cands,
        dem=dem,
    )
    kw.update(over)
    return Layers(**kw)  # type: ignore[arg-type]


def test_screening_reasons_capacity_and_ranking(dem: Path) -> None:
    res = site(make_layers(dem), SitingConfig())
    s = res.sites.set_index("site_id")
    assert s["passed"].to_dict() == {"A": True, "B": False, "C": False, "D": False}
    assert s.loc["A", "fail_rules"] == "" and s.loc["A", "reasons_zh"] == ""
    assert s.loc["B", "fail_rules"] == "outside_basic_farmland"
    assert s.loc["B", "reasons_zh"] == "占用基本农田 25.0% 超过上限 0.0%"
    assert s.loc["B", "reasons_en"] == "overlap with basic farmland 25.0% exceeds limit 0.0%"
    assert s.loc["C", "fail_rules"] == "max_slope,min_capacity"
    # the default limit is the residential-land norm, 25 % (atan 0.25 = 14.04°), stated in both units
    assert s.loc["C", "reasons_zh"] == "平均坡度 45.0°(100%) 超过上限 14.0°(25%)；可容纳人数 0 低于下限 50"
    assert (
        s.loc["C", "reasons_en"]
        == "mean slope 45.0°(100%) exceeds limit 14.0°(25%); capacity (persons) 0 below minimum 50"
    )
    assert s.loc["D", "fail_rules"] == "outside_hazard,max_dist_road,min_capacity"
    assert "距全天候道路 1,100 m 超过上限 1,000 m" in s.loc["D", "reasons_zh"]
    assert "distance to all-weather road 1,100 m exceeds limit 1,000 m" in s.loc["D", "reasons_en"]
    # measured values, hand-computed
    assert s.loc["A", "slope_mean_deg"] == pytest.approx(np.degrees(np.arctan(0.2)), abs=1e-4)
    assert s.loc["A", "dist_water_m"] == pytest.approx(200.0)
    assert s.loc["A", "dist_power_m"] == pytest.approx(100.0)
    assert s.loc["A", "dist_road_m"] == pytest.approx(100.0)
    assert s.loc["B", "basic_farmland_share"] == pytest.approx(0.25)
    assert s.loc["B", "buildable_area_m2"] == pytest.approx(67500.0)
    assert s.loc["C", "steep_share"] == pytest.approx(1.0)
    assert s.loc["A", "capacity_persons"] == 1125 and s.loc["A", "capacity_households"] == 281  # 4 persons/household
    assert s.loc["B", "capacity_persons"] == 843
    assert s.loc["A", "rank"] == 1 and pd.isna(s.loc["B", "rank"])
    assert s.loc["A", "p_topk"] == 1.0 and s.loc["A", "stable_topk"]
    # elevation gain: A's mean elevation (cells 10..19 -> 1000 + 0.2 * 14.5 * 30 = 1087) minus the village's 1300
    assert s.loc["A", "elev_gain_m"] == pytest.approx(1087 - 1300)
    # the rule table: every rule for every candidate
    checks = res.screening.checks
    assert len(checks) == 4 * 10
    row = checks[(checks.site_id == "C") & (checks.rule == "max_slope")].iloc[0]
    assert (row.passed, row.value, row.threshold) == (False, pytest.approx(45.0), pytest.approx(14.036, abs=1e-3))
    removed = res.screening.removed.set_index("rule")
    assert removed.loc["min_capacity", "failed"] == 2 and removed.loc["outside_basic_farmland", "failed_only"] == 1
    # the norm used is reported
    assert (
        "80 m²" in res.summary["capacity_norm_zh"] and "4.00 persons per household" in res.summary["capacity_norm_en"]
    )
    assert any("straight-line" in w for w in res.warnings)
    assert res.ranking["site_id"].tolist() == ["A"]
    # the input is not modified
    assert "passed" not in make_layers(dem).candidates.columns


def test_site_access_times_and_town_rule(dem: Path) -> None:
    acc = pd.DataFrame(
        {
            "site_id": ["A", "B", "C", "D"],
            "time_min_town": [75.0, 10, 10, 10],
            "time_min_county_seat": [90.0, 30, 30, 30],
            "time_min_school": [5.0, 5, 5, 5],
            "time_min_clinic": [5.0, 5, 5, 5],
        }
    )
    res = site(make_layers(dem), SitingConfig(), site_access=acc)
    a = res.sites.set_index("site_id").loc["A"]
    assert a["time_source"] == "access"
    assert a["fail_rules"] == "max_time_town"
    assert a["reasons_zh"] == "到最近集镇/县城时间 75 min 超过上限 60 min"
    assert not any("straight-line" in w for w in res.warnings)
    # nobody passes: the summary says which rule removed how many
    msg = res.summary["no_candidate_passes"]
    assert "max_time_town removed 1" in msg and "max_slope removed 1" in msg and "没有候选点" in msg
    assert res.summary["passed"] == 0 and res.ranking.empty


def test_dem_not_covering_a_site_makes_its_slope_unknown(tmp_path: Path) -> None:
    path = tmp_path / "west.tif"  # only the western 60 columns (x < 501800): C (x >= 502400) is not covered
    _, xx = np.mgrid[0:100, 0:60]
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=60,
        height=100,
        count=1,
        dtype="float32",
        crs=CRS_GK,
        transform=TF,
        nodata=-9999,
    ) as d:
        d.write(_z(xx * 30.0).astype("float32"), 1)
    res = site(make_layers(path), SitingConfig())
    c = res.sites.set_index("site_id").loc["C"]
    assert c["dem_valid_share"] == 0.0 and np.isnan(c["slope_mean_deg"])
    assert "平均坡度未知（无数据）" in c["reasons_zh"] and "mean slope unknown (no data)" in c["reasons_en"]
    assert any("does not cover" in w and "C" in w for w in res.warnings)


def test_unreachable_site_says_so(dem: Path) -> None:
    acc = pd.DataFrame({"site_id": ["A", "B", "C", "D"], "time_min_town": [np.inf, 10, 10, 10]})
    res = site(make_layers(dem), SitingConfig(), site_access=acc)
    a = res.sites.set_index("site_id").loc["A"]
    assert a["reasons_en"] == (
        "travel time to nearest town infinite (unreachable, or no feature in the layer) exceeds limit 60 min"
    )


def test_criteria_without_data_are_dropped_with_one_warning_and_weights_renormalised(dem: Path) -> None:
    # defaults: water .15 power .10 road .15 town .15 school .10 clinic .05 slope .10 buildable .10 hazard .10;
    # without water and DEM, 0.25 is dropped and the other weights are divided by 0.75
    res = site(make_layers(None, water=None), SitingConfig())
    dropped = [w for w in res.warnings if "dropped for missing data" in w]
    assert len(dropped) == 1
    assert "dist_water_m (no water layer)" in dropped[0] and "slope_mean_deg (no DEM)" in dropped[0]
    want = {
        "dist_power_m": 0.10 / 0.75,
        "dist_road_m": 0.15 / 0.75,
        "time_min_town": 0.15 / 0.75,
        "time_min_school": 0.10 / 0.75,
        "time_min_clinic": 0.05 / 0.75,
        "buildable_area_m2": 0.10 / 0.75,
        "dist_hazard_m": 0.10 / 0.75,
    }
    assert res.summary["weights"] == pytest.approx(want)
    assert set(res.summary["criteria_dropped"]) == {"dist_water_m", "slope_mean_deg"}
    assert res.summary["weights_configured"]["dist_water_m"] == 0.15
    table = step(
        RunContext(scenario=SimpleNamespace(siting=SitingConfig()), layers=make_layers(None, water=None))
    ).tables["site_weights"]
    t = table.set_index("criterion")
    assert t.loc["dist_water_m", "weight"] == 0.0 and t.loc["dist_water_m", "weight_configured"] == 0.15
    assert t.loc["dist_water_m", "status"].endswith("dropped: no water layer")
    assert t.loc["dist_road_m", "weight"] == pytest.approx(0.2) and t.loc["dist_road_m", "status"] == "used"
    assert "dist_water_m" not in set(res.scored.explanation["criterion"])


def test_a_criterion_of_a_facility_kind_the_county_lacks_is_dropped(dem: Path) -> None:
    lay = make_layers(dem)
    fac = lay.facilities
    assert fac is not None
    lay = dataclasses.replace(lay, facilities=fac[fac["kind"] != "clinic"])
    res = site(lay, SitingConfig())
    want = {"time_min_clinic": {"zh": "没有 clinic 类设施", "en": "no facility of kind 'clinic'"}}
    assert res.summary["criteria_dropped"] == want
    assert sum(res.summary["weights"].values()) == pytest.approx(1.0)
    assert res.summary["weights"]["dist_water_m"] == pytest.approx(0.15 / 0.95)


def test_only_criteria_without_data_left_is_a_clear_error(dem: Path) -> None:
    cfg = SitingConfig(criteria=(CriterionConfig(name="dist_water_m"),), criteria_replace=True)
    with pytest.raises(ScenarioError, match="every criterion lacks its data"):
        site(make_layers(None, water=None), cfg)


def test_rules_without_data_are_skipped_with_a_warning(dem: Path) -> None:
    cfg = SitingConfig(
        criteria=(CriterionConfig(name="dist_road_m"), CriterionConfig(name="buildable_area_m2")), criteria_replace=True
    )
    res = site(make_layers(None, water=None), cfg)
    assert any("max_slope skipped" in w for w in res.warnings)
    assert any("max_dist_water skipped" in w for w in res.warnings)
    assert "max_slope" not in set(res.screening.checks["rule"])


def test_scoring_methods_and_explanation(dem: Path) -> None:
    rules = RulesConfig(outside=(), max_slope_pct=None, min_capacity_persons=None, max_dist_road_m=None)
    crit = (CriterionConfig(name="dist_road_m", weight=0.5), CriterionConfig(name="buildable_area_m2", weight=0.5))
    res = site(make_layers(dem), SitingConfig(rules=rules, criteria=crit, criteria_replace=True))
    s = res.sites.set_index("site_id")
    assert s["passed"].all()
    # with the slope rule off nothing counts as steep: buildable 90000 / 67500 / 90000 / b_d (D, beside the hazard)
    # road distances 100 / 100 / 100 / 1100 (cost); min-max over the four
    b_d = s.loc["D", "buildable_area_m2"]
    b_norm = (67500 - b_d) / (90000 - b_d)
    expect = {"A": 1.0, "B": 0.5 + 0.5 * b_norm, "C": 1.0, "D": 0.0}
    for k, v in expect.items():
        assert s.loc[k, "score"] == pytest.approx(v, abs=1e-9)
    assert s["rank"].tolist() == [1, 3, 2, 4]  # A and C tie at 1.0: broken by site id
    ex = res.scored.explanation
    a = ex[ex.site_id == "B"].set_index("criterion")
    assert a.loc["buildable_area_m2", "normalised"] == pytest.approx(b_norm)
    assert a.loc["buildable_area_m2", "contribution"] == pytest.approx(0.5 * b_norm)
    assert a.loc["dist_road_m", "value"] == pytest.approx(100.0)
    cfg = SitingConfig(rules=rules, criteria=crit, criteria_replace=True)
    topsis = site(make_layers(dem), dataclasses.replace(cfg, method="topsis"))
    assert topsis.sites.set_index("site_id").loc["A", "rank"] == 1
    ahp_cfg = SitingConfig(rules=rules, criteria=crit, method="ahp", pairwise=((1.0, 3.0), (1 / 3, 1.0)))
    ahp = site(make_layers(dem), ahp_cfg)
    assert ahp.summary["weights"]["dist_road_m"] == pytest.approx(0.75)
    assert ahp.summary["ahp"]["cr"] == 0.0


def test_monte_carlo_is_seeded(dem: Path) -> None:
    rules = RulesConfig(outside=(), max_slope_pct=None, min_capacity_persons=None, max_dist_road_m=None)
    cfg = SitingConfig(rules=rules, sensitivity=SensitivityConfig(draws=200, seed=3, top_k=2))
    a = site(make_layers(dem), cfg).sites["p_topk"].to_numpy()
    b = site(make_layers(dem), cfg).sites["p_topk"].to_numpy()
    assert np.array_equal(a, b) and a.sum() == pytest.approx(2.0)


def test_capacity_hand_computed() -> None:
    vill = pd.DataFrame({"relocate_persons": [45, 0], "relocate_households": [10, 0]})
    persons, households, info = capacity(np.array([10000.0, 79.0, np.nan]), CapacityConfig(), vill)  # type: ignore[arg-type]
    assert persons[:2].tolist() == [125, 0] and np.isnan(persons[2])  # 10000 / 80
    assert households[:2].tolist() == [27, 0]  # 125 / 4.5
    assert info.persons_per_household == 4.5
    assert info.housing_m2_per_household == pytest.approx(112.5)  # 25 x 4.5 <= 120
    _, _, big = capacity(
        np.array([1000.0]),
        CapacityConfig(persons_per_household=None),
        pd.DataFrame({"relocate_persons": [70], "relocate_households": [10]}),
    )  # type: ignore[arg-type]
    assert big.housing_m2_per_household == 120.0  # 25 x 7 capped at 120 ...
    assert big.warnings and "conflict" in big.warnings[0]  # ... which is below 20 m2 per person


def test_generated_grid_drops_unbuildable_cells(dem: Path) -> None:
    layers = make_layers(dem, candidates=None, study_area=shapely.box(500000, 4000000, 503000, 4003000))
    res = site(layers, SitingConfig(grid=dataclasses.replace(SitingConfig().grid, cell_m=500)))
    assert res.generated
    # 6 x 6 cells; the two eastern columns are mostly steeper than 25° and are dropped
    assert res.summary["grid_cells_dropped_unbuildable"] == 12
    assert len(res.sites) == 24
    assert res.sites["site_id"].str.match(r"G\d{6}").all()
    assert res.sites["name"].str.startswith("网格候选点").all()


def test_geographic_dem_gives_the_same_slope(tmp_path: Path) -> None:
    # the same terrain on a lon/lat grid (a DEM in another CRS than the layers)
    to_geo = Transformer.from_crs(CRS_GK, 4326, always_xy=True)
    to_gk = Transformer.from_crs(4326, CRS_GK, always_xy=True)
    lon0, lat0 = to_geo.transform(499800, 4003200)
    lon1, lat1 = to_geo.transform(503200, 3999800)
    res = 1 / 3600
    w, h = int((lon1 - lon0) / res) + 1, int((lat0 - lat1) / res) + 1
    tf = Affine(res, 0, lon0, 0, -res, lat0)
    cols, rows = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    x, _ = to_gk.transform(lon0 + cols * res, lat0 - rows * res)
    z = _z(np.asarray(x) - 500000).astype("float32")
    path = tmp_path / "geo.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=w,
        height=h,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=tf,
        nodata=-9999,
    ) as d:
        d.write(z, 1)
    res_geo = site(make_layers(path), SitingConfig())
    a = res_geo.sites.set_index("site_id").loc["A"]
    assert a["slope_mean_deg"] == pytest.approx(np.degrees(np.arctan(0.2)), abs=0.05)
    assert bool(a["passed"])


def test_step_returns_the_contract(dem: Path) -> None:
    acc = gpd.GeoDataFrame(
        {
            "site_id": ["A", "B", "C", "D"],
            "time_min_town": [5.0] * 4,
            "time_min_school": [5.0] * 4,
            "time_min_clinic": [5.0] * 4,
        },
        geometry=[shapely.Point(0, 0)] * 4,
        crs=CRS_GK,
    )
    ctx = RunContext(
        scenario=SimpleNamespace(siting=SitingConfig()),
        layers=make_layers(dem),  # type: ignore[arg-type]
        results={"access": StepResult(layers={"site_access": acc})},
    )
    out = step(ctx)
    assert set(out.layers) == {"sites"}
    assert {
        "site_ranking",
        "site_rules",
        "site_rule_summary",
        "site_explanation",
        "site_sensitivity",
        "site_weights",
    } <= set(out.tables)
    cols = [
        "site_id",
        "name",
        "name_en",
        "tier",
        "township",
        "area_m2",
        "buildable_area_m2",
        "capacity_persons",
        "capacity_households",
        "passed",
        "fail_rules",
        "reasons_zh",
        "reasons_en",
        "score",
        "rank",
        "p_topk",
        "stable_topk",
        "dist_water_m",
        "dist_power_m",
        "dist_road_m",
        "time_min_town",
        "slope_mean_deg",
    ]
    assert all(c in out.layers["sites"].columns for c in cols)
    assert out.layers["sites"].crs == CRS_GK
    assert out.summary["candidates"] == 4 and out.summary["passed"] == 1
    assert out.layers["sites"].set_index("site_id").loc["A", "time_source"] == "access"
    json.dumps(out.summary)  # run.json needs plain values


def test_sites_layer_writes_to_geopackage(dem: Path, tmp_path: Path) -> None:
    res = site(make_layers(dem), SitingConfig())
    path = tmp_path / "results.gpkg"
    res.sites.to_file(path, layer="sites")
    back = gpd.read_file(path, layer="sites")
    assert back["reasons_zh"].tolist() == res.sites["reasons_zh"].tolist()
    assert back.loc[back.site_id == "A", "rank"].iloc[0] == 1


def test_slope_limit_in_percent_or_degrees() -> None:
    from geofupin._schema import parse
    from geofupin.errors import Problems

    # default: 25 % (CJJ 83-2016, residential land), not the 25° farmland-retirement threshold
    assert RulesConfig().slope_limit_deg == pytest.approx(14.036, abs=1e-3)
    assert RulesConfig(max_slope_pct=10).slope_limit_deg == pytest.approx(5.711, abs=1e-3)
    assert RulesConfig(max_slope_deg=25).slope_limit_deg == 25  # degrees, when given, are used as written
    assert RulesConfig(max_slope_pct=None).slope_limit_deg is None  # the rule is off
    problems = Problems()
    parse(RulesConfig, {"max_slope_pct": -5, "max_slope_deg": 95}, "siting.rules", problems)
    text = " ".join(str(p) for p in problems.errors)
    assert "max_slope_pct" in text and "max_slope_deg" in text
