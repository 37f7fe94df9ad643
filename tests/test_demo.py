"""The demo county: determinism, the seed's real relocation figures, schema, and plausible geography."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from rasterio.transform import rowcol
from seed_figures import SEED_TABLE

from geofupin import demo
from geofupin.demo import _routes, _terrain
from geofupin.demo._build import _split_exact
from geofupin.demo._names import name_en, pinyin
from geofupin.errors import OutputExistsError
from geofupin.layers import SCHEMAS, prepare_layers
from geofupin.vocabulary import LAYER_KINDS

# Villages and groups per township as the report's per-township lists count them.
SEED_COUNTS = {
    "王家湾乡": (2, 3),
    "镰刀湾乡": (4, 7),
    "化子坪镇": (4, 8),
    "招安镇": (11, 24),
    "沿河湾镇": (7, 10),
    "西河口管委会": (2, 3),
    "高桥乡": (2, 2),
    "砖窑湾镇": (1, 1),
    "真武洞镇": (1, 1),
}
MAIN_CLASSES = ["national", "provincial", "county", "township"]


@pytest.fixture(scope="module")
def county() -> demo.DemoCounty:
    return demo.build()


@pytest.fixture(scope="module")
def villages(county: demo.DemoCounty) -> gpd.GeoDataFrame:
    return county.layers["villages"]


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _dem_at(county: demo.DemoCounty, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    r, c = rowcol(county.transform, np.asarray(x), np.asarray(y))
    return county.dem[np.asarray(r), np.asarray(c)].astype(float)


# ------------------------------------------------------------------------ the seed's figures


def test_relocation_totals_per_township_equal_the_seed(villages: gpd.GeoDataFrame) -> None:
    got = villages.groupby("township")[["relocate_households", "relocate_persons"]].sum()
    assert {t: (int(r.relocate_households), int(r.relocate_persons)) for t, r in got.iterrows()} == SEED_TABLE
    assert villages["relocate_households"].sum() == 1526
    assert villages["relocate_persons"].sum() == 6886


def test_relocating_villages_and_groups_are_the_seeds(villages: gpd.GeoDataFrame) -> None:
    rel = villages[villages["relocate_households"] > 0]
    assert rel["village_id"].is_unique
    assert len(rel) == 59 == demo.NAMED_GROUPS  # the report's lists name 59 groups (its summary says 61)
    assert rel.groupby(["township", "name"]).ngroups == 34
    for town, (n_v, n_g) in SEED_COUNTS.items():
        sub = rel[rel["township"] == town]
        assert sub["name"].nunique() == n_v, town
        assert len(sub) == n_g, town
    expected = {(t, v, g) for t, vs in demo.RELOCATING.items() for v, gs in vs for g in gs}
    assert set(zip(rel["township"], rel["name"], rel["group"], strict=True)) == expected
    # spot checks straight from the report's text
    assert ("招安镇", "九台村", "崖尧河") in expected
    assert ("真武洞镇", "阳庄村", "野家尧则") in expected
    assert ("高桥乡", "高桥村", "陈家沟") in expected


def test_staying_villages_have_no_group_and_no_relocation(villages: gpd.GeoDataFrame) -> None:
    stay = villages[villages["relocate_households"] == 0]
    assert (stay["relocate_persons"] == 0).all()
    assert stay["group"].isna().all()
    n_admin = villages.groupby(["township", "name"]).ngroups
    assert 150 <= n_admin <= 300
    assert villages["village_id"].is_unique


def test_counts_are_consistent(villages: gpd.GeoDataFrame) -> None:
    v = villages
    assert (v["households"] > 0).all()
    assert (v["persons"] >= v["households"]).all()
    assert (v["poor_households"] <= v["households"]).all()
    assert (v["poor_persons"] <= v["persons"]).all()
    assert (v["poor_persons"] >= v["poor_households"]).all()
    assert (v["relocate_households"] <= v["households"]).all()
    assert (v["relocate_persons"] <= v["persons"]).all()
    assert (v["relocate_persons"] >= v["relocate_households"]).all()


def test_split_exact_sums_and_respects_minimum() -> None:
    parts = _split_exact(417, np.array([1.0, 2.0, 3.0, 0.1]), minimum=3)
    assert parts.sum() == 417 and parts.min() >= 3
    assert list(_split_exact(10, np.array([1.0, 1.0, 2.0]))) == [3, 2, 5]  # 2.5, 2.5, 5: first remainder wins


# ------------------------------------------------------------------------ schema and CRS


def test_every_layer_has_exactly_the_canonical_columns_and_types(county: demo.DemoCounty) -> None:
    assert set(county.layers) == set(LAYER_KINDS)
    families = {"Point": "point", "LineString": "line", "Polygon": "polygon"}
    for kind, gdf in county.layers.items():
        schema = SCHEMAS[kind]
        assert gdf.crs.to_epsg() == 4545, kind
        assert isinstance(gdf.index, pd.RangeIndex), kind
        assert [c for c in gdf.columns if c != "geometry"] == [c.name for c in schema.columns], kind
        assert gdf[schema.id_column].is_unique, kind
        assert set(gdf.geom_type.map(families)) <= set(schema.geometry), kind
        assert gdf.is_valid.all() and not gdf.is_empty.any(), kind
        for col in schema.columns:
            s = gdf[col.name]
            if col.type == "int":
                assert pd.api.types.is_integer_dtype(s), (kind, col.name)
            elif col.type == "float":
                assert pd.api.types.is_float_dtype(s), (kind, col.name)
            elif col.type == "bool":
                assert pd.api.types.is_bool_dtype(s), (kind, col.name)
            else:
                assert s.dropna().map(type).eq(str).all(), (kind, col.name)
            if col.allowed is not None:
                assert set(s.dropna()) <= set(col.allowed), (kind, col.name)
            if col.required:
                assert s.notna().all(), (kind, col.name)


def test_layers_pass_the_layer_validation(county: demo.DemoCounty) -> None:
    layers = prepare_layers(county.layers, crs="EPSG:4545")
    assert layers.crs.to_epsg() == 4545
    assert len(layers.villages) == len(county.layers["villages"])


def test_dem_is_float32_in_loess_plateau_range(county: demo.DemoCounty) -> None:
    dem = county.dem
    assert dem.dtype == np.float32
    assert county.transform.a == 30.0 and county.transform.e == -30.0
    valid = dem[dem != county.nodata]
    assert (dem == county.nodata).any()  # nodata outside the county
    assert 950 <= valid.min() < 1100 and 1600 < valid.max() <= 1850
    area_km2 = (dem != county.nodata).sum() * 900 / 1e6
    assert 2950 < area_km2 < 3700  # the county (2,950 km2) plus a 1.5 km margin
    county_poly = county.layers["boundaries"].query("level == 'county'").geometry.iloc[0]
    assert county_poly.area / 1e6 == pytest.approx(2950, rel=0.01)
    lon, lat = gpd.GeoSeries([county_poly.centroid], crs=4545).to_crs(4326).iloc[0].coords[0]
    assert lon == pytest.approx(109.3, abs=0.1) and lat == pytest.approx(36.9, abs=0.1)


def test_names_are_bilingual(county: demo.DemoCounty) -> None:
    for kind in ("villages", "boundaries", "facilities", "candidates"):
        gdf = county.layers[kind]
        assert gdf["name"].str.len().gt(0).all() and gdf["name_en"].str.len().gt(0).all(), kind
        assert gdf["name_en"].map(lambda s: s.isascii()).all(), kind
    assert name_en("招安镇") == "Zhao'an Town"
    assert name_en("西河口管委会") == "Xihekou Management Committee"
    assert pinyin("野家尧则") == "Yejiayaoze"
    towns = county.layers["boundaries"].query("level == 'township'")
    assert set(towns["name"]) == set(SEED_TABLE)
    assert "synthetic" in county.layers["boundaries"].query("level == 'county'")["name_en"].iloc[0].lower()
    assert "SYNTHETIC" in demo.SOURCE and "SYNTHETIC" in (demo.__doc__ or "")


# ------------------------------------------------------------------------ geography


def test_townships_tile_the_county(county: demo.DemoCounty) -> None:
    b = county.layers["boundaries"]
    whole = b.query("level == 'county'").geometry.iloc[0]
    towns = b.query("level == 'township'").geometry
    assert towns.area.sum() == pytest.approx(whole.area, rel=1e-4)
    assert shapely.union_all(towns.to_numpy()).symmetric_difference(whole).area < 1e-4 * whole.area
    # each seat lies in its own township
    fac = county.layers["facilities"]
    seats = fac[fac["kind"].isin(["town", "county_seat"])]
    assert len(seats) == 9
    assert (seats["kind"] == "county_seat").sum() == 1
    assert seats.loc[seats["kind"] == "county_seat", "township"].iloc[0] == "真武洞镇"
    joined = gpd.sjoin(seats, b.query("level == 'township'")[["name", "geometry"]], predicate="within")
    assert (joined["township"] == joined["name_right"]).all()


def test_facilities_cover_every_township(county: demo.DemoCounty) -> None:
    fac = county.layers["facilities"]
    clinics = fac[fac["kind"] == "clinic"]
    assert set(clinics["township"]) == set(SEED_TABLE)
    assert set(fac.loc[fac["kind"] == "school", "township"]) == set(SEED_TABLE)
    hosp = fac[fac["kind"] == "hospital"]
    assert len(hosp) >= 1 and (hosp["township"] == "真武洞镇").all()
    park = fac[fac["kind"] == "industrial_park"]
    seat = fac[fac["kind"] == "county_seat"].geometry.iloc[0]
    assert len(park) == 1 and park.geometry.iloc[0].distance(seat) < 6000
    assert {"kindergarten", "market"} <= set(fac["kind"])


def test_roads_are_noded_and_connected(county: demo.DemoCounty) -> None:
    roads = county.layers["roads"]
    assert set(roads["road_class"]) >= {"provincial", "county", "township", "village", "track", "path"}
    assert (roads["surface"].notna()).all()
    assert (roads.loc[roads["road_class"].isin(["provincial", "county"]), "surface"] == "paved").all()
    assert (roads.loc[roads["road_class"].isin(["track", "path"]), "surface"] == "earth").all()
    geoms = roads.geometry.to_numpy()
    ends = [{g.coords[0], g.coords[-1]} for g in geoms]
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    for i, j in zip(a[a < b], b[a < b], strict=True):
        inter = shapely.intersection(geoms[i], geoms[j])
        # lines meet only at vertices that end both of them (noded), never crossing mid-line
        assert inter.geom_type in ("Point", "MultiPoint"), (i, j, inter.geom_type)
        for p in getattr(inter, "geoms", [inter]):
            assert p.coords[0] in ends[i] and p.coords[0] in ends[j], (i, j)
    g = nx.Graph()
    for geom in geoms:
        g.add_edge(geom.coords[0], geom.coords[-1], length=geom.length)
    main = max(nx.connected_components(g), key=len)
    share = sum(d["length"] for *_, d in g.subgraph(main).edges(data=True)) / roads.length.sum()
    assert share > 0.95
    # every seat is on (or right by) a county or provincial road
    fac = county.layers["facilities"]
    seats = fac[fac["kind"].isin(["town", "county_seat"])].geometry
    major = shapely.union_all(roads.loc[roads["road_class"].isin(["provincial", "county"])].geometry.to_numpy())
    assert seats.distance(major).max() < 100.0


def test_rivers_flow_downhill(county: demo.DemoCounty) -> None:
    water = county.layers["water"]
    rivers = water[water["kind"].isin(["river", "stream"])]
    assert len(rivers) > 50 and (water["kind"] == "river").any()
    start = np.array([g.coords[0] for g in rivers.geometry])
    end = np.array([g.coords[-1] for g in rivers.geometry])
    z0 = _dem_at(county, start[:, 0], start[:, 1])
    z1 = _dem_at(county, end[:, 0], end[:, 1])
    assert (z0 >= z1).all()
    assert np.median(z0 - z1) > 10.0
    main = rivers[rivers["name"] == "延河"].geometry.iloc[0]
    assert main.length > 40_000
    assert {"reservoir", "well", "spring", "waterworks"} <= set(water["kind"])


def test_relocating_groups_are_remote_high_and_steep(county: demo.DemoCounty, villages: gpd.GeoDataFrame) -> None:
    roads = county.layers["roads"]
    main = shapely.union_all(roads.loc[roads["road_class"].isin(MAIN_CLASSES)].geometry.to_numpy())
    any_road = shapely.union_all(roads.geometry.to_numpy())
    rel = villages["relocate_households"].to_numpy() > 0
    d_main = villages.geometry.distance(main).to_numpy()
    d_any = villages.geometry.distance(any_road).to_numpy()
    assert d_main[rel].mean() > 3 * d_main[~rel].mean()
    assert villages["elevation_m"][rel].mean() > villages["elevation_m"][~rel].mean() + 150
    # slope of the 150 m neighbourhood (the hillside the group lives on)
    dem = np.where(county.dem == county.nodata, np.nan, county.dem).astype(float)
    gy, gx = np.gradient(dem, 30.0)
    slope = np.degrees(np.arctan(np.hypot(gx, gy)))
    r, c = rowcol(county.transform, villages.geometry.x.to_numpy(), villages.geometry.y.to_numpy())
    r, c = np.asarray(r), np.asarray(c)
    hood = np.array([np.nanmean(slope[i - 2 : i + 3, j - 2 : j + 3]) for i, j in zip(r, c, strict=True)])
    assert hood[rel].mean() > hood[~rel].mean() + 5
    # realistic gaps: a few groups have no road within 1 km; every staying village has one close by
    assert 1 <= (d_any[rel] > 1000).sum() <= 12
    assert d_any[~rel].max() < 300
    elev = _dem_at(county, villages.geometry.x, villages.geometry.y)
    assert np.allclose(elev, villages["elevation_m"], atol=0.06)


def test_power_water_constraints_present(county: demo.DemoCounty) -> None:
    power = county.layers["power"]
    lines = power[power["kind"] == "line"]
    assert set(lines["voltage_kv"]) == {10.0, 35.0, 110.0}
    assert (power["kind"] == "substation").sum() >= 5
    con = county.layers["constraints"]
    kinds = con["kind"].value_counts()
    assert kinds["ecological_redline"] == 1 and kinds["flood_zone"] >= 1
    assert kinds["basic_farmland"] > 20 and kinds["hazard_point"] > 50 and kinds["hazard_zone"] >= 5
    # landslide points sit on steep ground
    pts = con[con["kind"] == "hazard_point"].geometry
    dem = np.where(county.dem == county.nodata, np.nan, county.dem).astype(float)
    gy, gx = np.gradient(dem, 30.0)
    slope = np.degrees(np.arctan(np.hypot(gx, gy)))
    r, c = rowcol(county.transform, pts.x.to_numpy(), pts.y.to_numpy())
    assert np.nanmedian(slope[np.asarray(r), np.asarray(c)]) > 25
    # the flood zone follows the main river
    main = county.layers["water"].query("name == '延河'").geometry.iloc[0]
    flood = shapely.union_all(con[con["kind"] == "flood_zone"].geometry.to_numpy())
    assert flood.intersection(main).length > 0.9 * main.intersection(flood.buffer(1)).length > 0


def test_candidates_tiers_sizes_and_deliberate_failures(county: demo.DemoCounty) -> None:
    cand = county.layers["candidates"]
    assert 10 <= len(cand) <= 30
    assert set(cand["tier"]) == {"county_seat", "market_town", "central_community", "central_village"}
    assert set(cand["township"]) == set(SEED_TABLE)
    area_ha = cand.area / 1e4
    assert area_ha.max() <= 20.5
    assert np.allclose(cand["planned_area_m2"], cand.area, atol=100)
    con = county.layers["constraints"]
    farm = shapely.union_all(con.loc[con["kind"] == "basic_farmland"].geometry.to_numpy())
    hz = shapely.union_all(con.loc[con["kind"] == "hazard_point"].geometry.to_numpy())
    flood = shapely.union_all(con.loc[con["kind"] == "flood_zone"].geometry.to_numpy())
    red = con.loc[con["kind"] == "ecological_redline"].geometry.iloc[0]
    on_farm = cand.intersects(farm)
    near_hazard = cand.distance(hz) < 200
    small = area_ha < 0.5
    assert on_farm.sum() == 1 and near_hazard.sum() == 1 and small.sum() == 1
    bad = on_farm | near_hazard | small
    good = cand[~bad]
    assert len(good) >= 15
    assert not good.intersects(flood.buffer(60)).any() and not good.intersects(red).any()
    assert (good.area / 1e4).between(2.0, 20.5).all()
    assert set(cand.loc[cand["tier"] == "county_seat", "township"]) == {"真武洞镇"}
    assert cand["name"].str.endswith(("安置点", "中心社区")).all()


# ------------------------------------------------------------------------ determinism and files


def test_generate_is_deterministic_and_equals_build(county: demo.DemoCounty, tmp_path: Path) -> None:
    paths = demo.generate(tmp_path / "a")  # a fresh build
    assert set(paths) == {*LAYER_KINDS, "dem", "households"}
    assert all(p.exists() for p in paths.values())
    demo._write(county, demo.output_paths(tmp_path / "b"), list(paths))  # the fixture's build
    for kind, p in paths.items():
        assert _sha(p) == _sha(tmp_path / "b" / p.name), kind
    # what was written reads back as the same layer
    got = gpd.read_file(paths["villages"], layer="villages")
    assert_geodataframe_equal(got, county.layers["villages"], check_dtype=False, check_less_precise=True)
    assert json.loads((tmp_path / "a" / demo.STAMP_FILE).read_text(encoding="utf-8"))["seed"] == demo.DEFAULT_SEED
    with pytest.raises(OutputExistsError, match="overwrite"):
        demo.generate(tmp_path / "a")


def test_ensure_writes_only_missing_or_stale_files(
    county: demo.DemoCounty, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def fake_build(*, seed: int = demo.DEFAULT_SEED) -> demo.DemoCounty:
        calls.append(seed)
        return county

    monkeypatch.setattr(demo, "build", fake_build)
    paths = demo.ensure(tmp_path)
    assert calls == [demo.DEFAULT_SEED] and all(p.exists() for p in paths.values())
    stamp = json.loads((tmp_path / demo.STAMP_FILE).read_text(encoding="utf-8"))
    assert stamp["seed"] == demo.DEFAULT_SEED and stamp["generator_version"] == demo.GENERATOR_VERSION
    before = {k: p.stat().st_mtime_ns for k, p in paths.items()}
    paths["dem"].unlink()
    demo.ensure(tmp_path)
    assert len(calls) == 2 and paths["dem"].exists()
    assert all(paths[k].stat().st_mtime_ns == before[k] for k in LAYER_KINDS)  # vectors untouched
    demo.ensure(tmp_path)
    assert len(calls) == 2  # nothing missing: no build
    # layers from another seed (or an older generator) are regenerated, not trusted
    demo.ensure(tmp_path, seed=7)
    assert calls[-1] == 7
    assert json.loads((tmp_path / demo.STAMP_FILE).read_text(encoding="utf-8"))["seed"] == 7
    assert all(paths[k].stat().st_mtime_ns != before[k] for k in LAYER_KINDS)


# ------------------------------------------------------------------------ building blocks


def test_path_sums_and_accumulation_on_a_small_tree() -> None:
    #     0 <- 1 <- 2
    #     0 <- 3 <- 4, 3 <- 5
    parent = np.array([0, 0, 1, 0, 3, 3])
    depth, root = _terrain.path_sums(parent, np.ones(6))
    assert list(depth) == [0, 1, 2, 1, 2, 2] and list(root) == [0] * 6
    acc = _terrain.accumulate(parent, depth.astype(int), np.ones(6))
    assert list(acc) == [6, 2, 1, 3, 1, 1]
    z, _ = _terrain.path_sums(parent, np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0]))
    assert list(z) == [0, 1, 3, 3, 7, 8]


def test_edge_chains_break_at_junctions() -> None:
    es = _routes.EdgeSet()
    es.add_path([0, 1, 2, 3, 4], owner=0)  # a road
    es.add_path([10, 11, 2], owner=1)  # a branch joining it at cell 2
    chains = sorted((tuple(c), o) for c, o in es.chains())
    ends = sorted(tuple(sorted((c[0], c[-1]))) for c, _ in chains)
    assert ends == [(0, 2), (2, 4), (2, 10)]
    assert sum(len(c) - 1 for c, _ in chains) == 6


def test_siting_screening_fails_the_three_deliberate_sites(county: demo.DemoCounty, tmp_path: Path) -> None:
    siting = pytest.importorskip("geofupin.siting")
    dem_path = tmp_path / "dem.tif"
    demo._write(county, {"dem": dem_path}, ["dem"])
    layers = prepare_layers(county.layers, crs="EPSG:4545", dem=dem_path)
    res = siting.site(layers)
    sites = res.sites.set_index("site_id")
    cand = county.layers["candidates"].set_index("site_id")
    small = cand.index[cand.area < 5000]
    assert len(small) == 1
    failed = set(sites.index[~sites["passed"].astype(bool)])
    assert small[0] in failed
    assert len(failed) >= 3 and len(sites) - len(failed) >= 15
    reasons = " ".join(sites.loc[sorted(failed), "reasons_en"])
    assert "farmland" in reasons and "hazard" in reasons and "capacity" in reasons
