"""Coordinates as offices hold them: GCJ-02/BD-09 spreadsheets, 三调 Gauss-Kruger zones, Xian 1980 / Beijing 1954.

The offset conversions are checked against an independent implementation (``prcoords``), the
datum shift against PROJ's own ``+towgs84`` handling, and every path end to end through the
scenario reader the ``run`` and ``check`` commands use.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import prcoords
import pyogrio
import pytest
from demo_helpers import invoke, scenario_copy
from pyproj import CRS, Geod, Transformer
from shapely.geometry import LineString, Point

from geofupin import crs as gcrs
from geofupin import io as gio
from geofupin import pipeline
from geofupin import scenario as scenario_mod
from geofupin.errors import DataError, ScenarioError
from geofupin.layers import choose_run_crs

GEOD = Geod(ellps="WGS84")


def metres(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


@pytest.fixture(scope="module")
def china_points() -> tuple[np.ndarray, np.ndarray]:
    """2,000 WGS84 points spread over mainland China (deterministic)."""
    rng = np.random.default_rng(20161101)
    return rng.uniform(75.0, 134.0, 2000), rng.uniform(19.0, 53.0, 2000)


# --------------------------------------------------------------------------- the conversions
def test_gcj02_and_bd09_agree_with_an_independent_implementation(china_points: tuple[np.ndarray, np.ndarray]) -> None:
    lon, lat = china_points
    g_lon, g_lat = gcrs.wgs84_to_gcj02(lon, lat)
    b_lon, b_lat = gcrs.wgs84_to_bd09(lon, lat)
    ref_g = np.array([prcoords.wgs_gcj((y, x)) for x, y in zip(lon, lat, strict=True)])  # (lat, lon)
    ref_b = np.array([prcoords.wgs_bd((y, x)) for x, y in zip(lon, lat, strict=True)])
    assert metres(g_lon, g_lat, ref_g[:, 1], ref_g[:, 0]).max() < 0.01
    assert metres(b_lon, b_lat, ref_b[:, 1], ref_b[:, 0]).max() < 0.01
    # the shifts are real: hundreds of metres (typically)
    assert np.median(metres(lon, lat, g_lon, g_lat)) > 100 and metres(lon, lat, b_lon, b_lat).max() < 1500
    # and back: against prcoords' precise ("bored") inverses, and to the original points
    w_lon, w_lat = gcrs.gcj02_to_wgs84(g_lon, g_lat)
    v_lon, v_lat = gcrs.bd09_to_wgs84(b_lon, b_lat)
    ref_wg = np.array([prcoords.gcj_wgs_bored((y, x)) for x, y in zip(g_lon, g_lat, strict=True)])
    ref_wb = np.array([prcoords.bd_wgs_bored((y, x)) for x, y in zip(b_lon, b_lat, strict=True)])
    assert metres(w_lon, w_lat, ref_wg[:, 1], ref_wg[:, 0]).max() < 0.5
    assert metres(v_lon, v_lat, ref_wb[:, 1], ref_wb[:, 0]).max() < 0.5
    assert metres(w_lon, w_lat, lon, lat).max() < 0.001 and metres(v_lon, v_lat, lon, lat).max() < 0.001


def test_bd09_inverse_beats_the_closed_form_and_is_vectorised() -> None:
    # Tiananmen in BD-09 (as Baidu's picker gives it) to GCJ-02: prcoords' closed form and ours agree to centimetres
    lon, lat = gcrs.bd09_to_gcj02(np.array([116.403963, 121.480539]), np.array([39.915119, 31.235929]))
    ref = [prcoords.bd_gcj((39.915119, 116.403963)), prcoords.bd_gcj((31.235929, 121.480539))]
    assert metres(lon, lat, np.array([r.lon for r in ref]), np.array([r.lat for r in ref])).max() < 0.5
    f_lon, f_lat = gcrs.gcj02_to_bd09(lon, lat)
    np.testing.assert_allclose(f_lon, [116.403963, 121.480539], atol=1e-9)
    np.testing.assert_allclose(f_lat, [39.915119, 31.235929], atol=1e-9)


# --------------------------------------------------------------------------- reading shifted layers
def test_a_gaode_spreadsheet_is_read_back_to_wgs84(tmp_path: Path) -> None:
    wgs = np.array([[109.3213, 36.8672], [109.4012, 36.9207], [108.9876, 37.1033]])
    g_lon, g_lat = gcrs.wgs84_to_gcj02(wgs[:, 0], wgs[:, 1])
    b_lon, b_lat = gcrs.wgs84_to_bd09(wgs[:, 0], wgs[:, 1])
    for name, lon, lat, crs in (("gaode", g_lon, g_lat, "GCJ-02"), ("baidu", b_lon, b_lat, "百度坐标 BD-09")):
        p = tmp_path / f"{name}.csv"
        pd.DataFrame({"村名": ["甲", "乙", "丙"], "经度": lon, "纬度": lat}).to_csv(p, index=False)
        gdf = gio.read_vector(p, crs=crs)
        assert gdf.crs.to_epsg() == 4326
        assert metres(gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy(), wgs[:, 0], wgs[:, 1]).max() < 0.01
        assert list(gdf["村名"]) == ["甲", "乙", "丙"]


def test_every_vertex_of_a_gcj02_line_layer_is_shifted(tmp_path: Path) -> None:
    wgs = [(109.30, 36.85), (109.32, 36.86), (109.35, 36.90)]
    gcj = list(zip(*gcrs.wgs84_to_gcj02(*zip(*wgs, strict=True)), strict=True))
    p = tmp_path / "roads.gpkg"
    # exported from an AMap-based tool: declared WGS84, coordinates in GCJ-02
    gpd.GeoDataFrame({"road_id": ["r1"]}, geometry=[LineString(gcj)], crs=4326).to_file(p)
    out = gio.read_vector(p, crs="GCJ-02")
    xy = np.asarray(out.geometry.iloc[0].coords)
    assert metres(xy[:, 0], xy[:, 1], np.array(wgs)[:, 0], np.array(wgs)[:, 1]).max() < 0.01


def test_gcj02_on_a_projected_file_is_refused_with_the_fix(tmp_path: Path) -> None:
    p = tmp_path / "v.gpkg"
    gpd.GeoDataFrame({"village_id": ["a"]}, geometry=[Point(617000, 4080000)], crs=4545).to_file(p)
    with pytest.raises(DataError, match=r"declared as GCJ-02 but its file is in the projected CRS EPSG:4545.*Fix"):
        gio.read_vector(p, crs="GCJ-02")


def test_a_gcj02_villages_csv_runs_through_the_scenario(tmp_path: Path, demo_layers: Path) -> None:
    """The demo villages as a Gaode spreadsheet: after loading they sit where the WGS84 originals are."""
    layers = tmp_path / "layers"
    shutil.copytree(demo_layers, layers)
    v = gpd.read_file(layers / "villages.gpkg")
    ll = v.to_crs(4326)
    lon, lat = gcrs.wgs84_to_gcj02(ll.geometry.x.to_numpy(), ll.geometry.y.to_numpy())
    table = pd.DataFrame(v.drop(columns="geometry"))
    table["经度"], table["纬度"] = lon, lat
    table.to_csv(layers / "villages.csv", index=False, encoding="utf-8-sig")
    sc = scenario_copy(tmp_path, layers)
    text = sc.read_text(encoding="utf-8").replace(
        f"villages: {layers.as_posix()}/villages.gpkg",
        f"villages: {{path: {layers.as_posix()}/villages.csv, crs: GCJ-02}}",
    )
    sc.write_text(text, encoding="utf-8")
    loaded = pipeline.load_inputs(scenario_mod.load(sc))
    moved = loaded.villages.set_index("village_id").geometry
    orig = v.set_index("village_id").geometry.to_crs(loaded.crs)
    assert float(moved.distance(orig.loc[moved.index]).max()) < 0.05  # metres
    code, out = invoke("check", str(sc))
    assert code == 0, out


# --------------------------------------------------------------------------- crs: auto keeps the county's zone
def _reprojected_demo(tmp_path: Path, demo_layers: Path, epsg: int, *, keep: tuple[str, ...] = ()) -> Path:
    layers = tmp_path / f"layers-{epsg}"
    shutil.copytree(demo_layers, layers)
    for f in layers.glob("*.gpkg"):
        if f.stem in keep:
            continue
        for name in pyogrio.list_layers(f)[:, 0]:
            gdf = pyogrio.read_dataframe(f, layer=name)
            pyogrio.write_dataframe(gdf.to_crs(epsg), f, layer=name)
    return scenario_copy(tmp_path / str(epsg), layers)


def test_auto_keeps_a_zone_prefixed_sandiao_crs_and_says_so(tmp_path: Path, demo_layers: Path) -> None:
    sc = _reprojected_demo(tmp_path, demo_layers, 4524)  # CGCS2000 / 3-degree Gauss-Kruger zone 36 (36xxxxxx)
    layers = pipeline.load_inputs(scenario_mod.load(sc))
    assert layers.crs.to_epsg() == 4524
    assert "kept from the input layers" in layers.crs_note
    assert 36_000_000 < float(layers.villages.geometry.x.min()) < 37_000_000
    code, out = invoke("check", str(sc))
    assert code == 0, out
    assert (
        "CRS: EPSG:4524 (CGCS2000 / 3-degree Gauss-Kruger zone 36); 沿用输入图层的坐标系 kept from the input layers"
        in out
    )
    # the same run as in the unprefixed zone: every length is the same, only eastings gain 36,000,000
    base = pipeline.load_inputs(scenario_mod.load(scenario_copy(tmp_path / "base", demo_layers)))
    assert base.crs.to_epsg() == 4545
    dx = layers.villages.geometry.x.to_numpy() - base.villages.geometry.x.to_numpy()
    np.testing.assert_allclose(dx, 36_000_000, atol=1e-3)
    np.testing.assert_allclose(layers.roads.length.sum(), base.roads.length.sum(), rtol=1e-9)


def test_auto_keeps_the_zone_with_a_lonlat_spreadsheet_beside_it(tmp_path: Path, demo_layers: Path) -> None:
    """Villages copied from a map as lon/lat, everything else in the county's 三调 zone: the zone is kept."""
    sc = _reprojected_demo(tmp_path, demo_layers, 4524)
    layers_dir = next(tmp_path.glob("layers-4524"))
    v = gpd.read_file(layers_dir / "villages.gpkg").to_crs(4490)
    v.to_file(layers_dir / "villages.gpkg")
    layers = pipeline.load_inputs(scenario_mod.load(sc))
    assert layers.crs.to_epsg() == 4524


def test_auto_does_not_keep_a_zone_far_from_the_area_and_says_why() -> None:
    far = gpd.GeoDataFrame(geometry=[Point(109.3, 36.9)], crs=4326).to_crs(4543)  # CM 102E, 7.3 degrees away
    crs, note = choose_run_crs("auto", {"villages": far})
    assert crs.to_epsg() == 4545
    assert "central meridian at 102°E, 7.3° from the study area" in note
    mixed = {"villages": far.to_crs(4545), "roads": far.to_crs(4524)}
    crs, note = choose_run_crs("auto", mixed)
    assert crs.to_epsg() == 4545 and "use different CRSs (EPSG:4524, EPSG:4545)" in note
    utm = {"villages": far.to_crs(32649)}
    assert "is not a CGCS2000 Gauss-Kruger zone" in choose_run_crs("auto", utm)[1]
    assert choose_run_crs("EPSG:4545", utm) == (CRS.from_epsg(4545), "set in the scenario")


@pytest.mark.parametrize("epsg", [4491, 4502, 4513, 4534, 4545, 4554])
def test_every_cgcs2000_gauss_kruger_family_is_recognised(epsg: int) -> None:
    assert gcrs.gauss_kruger_meridian(CRS.from_epsg(epsg)) is not None
    assert gcrs.gauss_kruger_meridian(CRS.from_epsg(2381)) is None  # Xian 1980: not CGCS2000
    assert gcrs.gauss_kruger_meridian(CRS.from_epsg(32649)) is None


# --------------------------------------------------------------------------- Xian 1980 / Beijing 1954
#: An illustrative 7-parameter set (position vector) for Xian 1980 -> WGS84; a county gets its own.
TOWGS84 = (24.0, -123.0, -94.0, 0.02, -0.25, -0.13, 1.1)


def _xian80_demo(tmp_path: Path, demo_layers: Path, *, extra: str = "") -> Path:
    layers = tmp_path / "layers"
    shutil.copytree(demo_layers, layers)
    v = gpd.read_file(layers / "villages.gpkg")
    # the same ground positions as the demo, as a Xian 1980 office would store them (PROJ's own shift)
    v.to_crs(2381).to_file(layers / "villages.gpkg")
    sc = scenario_copy(tmp_path, layers)
    if extra:
        text = sc.read_text(encoding="utf-8").replace(
            f"villages: {layers.as_posix()}/villages.gpkg",
            f"villages: {{path: {layers.as_posix()}/villages.gpkg, {extra}}}",
        )
        sc.write_text(text, encoding="utf-8")
    return sc


def test_xian80_without_a_shift_warns_naming_the_ballpark_and_the_fix(tmp_path: Path, demo_layers: Path) -> None:
    code, out = invoke("check", str(_xian80_demo(tmp_path, demo_layers)))
    assert code == 0, out
    assert "warning: villages: layer 'villages' is on 西安80 Xian 1980; it is converted to CGCS2000" in out
    assert "PROJ's ballpark offset (no datum shift at all)" in out
    assert "datum_shift: {towgs84: [dx, dy, dz, rx, ry, rz, ds]}" in out and "+proj=hgridshift" in out


def test_xian80_with_seven_parameters_equals_projs_towgs84(tmp_path: Path, demo_layers: Path) -> None:
    extra = f"datum_shift: {{towgs84: {list(TOWGS84)}}}"
    sc = _xian80_demo(tmp_path, demo_layers, extra=extra)
    code, out = invoke("check", str(sc))
    assert code == 0, out
    assert "Xian 1980" not in out  # the shift is the county's own: no warning
    layers = pipeline.load_inputs(scenario_mod.load(sc))
    stored = gpd.read_file(sc.parent.parent / "layers" / "villages.gpkg")
    # independent: PROJ's bound CRS (+towgs84) from Xian 1980 lon/lat to WGS84, then the run's zone
    geog = Transformer.from_crs(2381, 4610, always_xy=True).transform(stored.geometry.x, stored.geometry.y)
    bound = CRS.from_proj4("+proj=longlat +ellps=IAU76 +towgs84=" + ",".join(map(str, TOWGS84)) + " +no_defs")
    wgs = Transformer.from_crs(bound, 4326, always_xy=True).transform(*geog)
    ref = gpd.GeoSeries(gpd.points_from_xy(*wgs), crs=4326).to_crs(layers.crs)
    assert float(ref.distance(layers.villages.geometry.reset_index(drop=True)).max()) < 0.01
    # and the shift is real: tens of metres from PROJ's no-shift ballpark
    ballpark = stored.to_crs(layers.crs).geometry.reset_index(drop=True)
    assert 10 < float(ballpark.distance(layers.villages.geometry.reset_index(drop=True)).min()) < 200


def test_a_datum_shift_pipeline_is_applied_and_a_bad_one_is_named(tmp_path: Path, demo_layers: Path) -> None:
    # a pipeline that does what the 7 parameters do, spelled out as PROJ steps
    src = CRS.from_epsg(2381)
    text = (
        "+proj=pipeline +step +inv +proj=tmerc +lat_0=0 +lon_0=108 +k=1 +x_0=500000 +y_0=0 +ellps=IAU76 "
        "+step +proj=cart +ellps=IAU76 +step +proj=helmert +x=24 +y=-123 +z=-94 +rx=0.02 +ry=-0.25 +rz=-0.13 "
        "+s=1.1 +convention=position_vector +step +inv +proj=cart +ellps=GRS80 "
        "+step +proj=unitconvert +xy_in=rad +xy_out=deg"
    )
    assert src.name.endswith("CM 108E")
    sc = _xian80_demo(tmp_path / "p", demo_layers, extra=f"datum_shift: {{pipeline: '{text}'}}")
    piped = pipeline.load_inputs(scenario_mod.load(sc))
    sc7 = _xian80_demo(tmp_path / "t", demo_layers, extra=f"datum_shift: {{towgs84: {list(TOWGS84)}}}")
    seven = pipeline.load_inputs(scenario_mod.load(sc7))
    assert float(piped.villages.geometry.distance(seven.villages.geometry).max()) < 0.01
    bad = _xian80_demo(tmp_path / "b", demo_layers, extra="datum_shift: {pipeline: '+proj=nonsense'}")
    with pytest.raises(ScenarioError) as err:
        scenario_mod.load(bad)
    assert "layers.villages.datum_shift.pipeline" in str(err.value) and "PROJ cannot read this pipeline" in str(
        err.value
    )
    both = _xian80_demo(tmp_path / "c", demo_layers, extra="datum_shift: {towgs84: [1, 2, 3], pipeline: '+proj=noop'}")
    with pytest.raises(ScenarioError) as err:
        scenario_mod.load(both)
    assert "give exactly one of 'towgs84' and 'pipeline'" in str(err.value)
    two = _xian80_demo(tmp_path / "d", demo_layers, extra="datum_shift: {towgs84: [1, 2]}")
    with pytest.raises(ScenarioError, match=r"towgs84 has 2 value\(s\)"):
        scenario_mod.load(two)


def test_run_json_records_why_the_crs(demo_run: tuple[Path, Path]) -> None:
    _, out = demo_run
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run["crs"] == "EPSG:4545" and run["crs_note"].startswith("沿用输入图层的坐标系 kept from the input layers")
