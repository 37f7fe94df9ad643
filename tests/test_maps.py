"""Render-level tests of the maps package (no browser): escaping, offline assets, data specs."""

from __future__ import annotations

import io
import json
import re
import warnings
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from _maps_fixtures import XSS_IMG, XSS_SCRIPT, make_ctx, make_layers, make_results
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import LineString, MultiPolygon, Polygon

from geofupin._schema import parse
from geofupin.crs import WGS84, wgs84_to_gcj02
from geofupin.errors import Problems
from geofupin.maps import MapConfig, build_run_map, render_html
from geofupin.maps.data import decode_geometry, encode_geometry, label_zh, ramp, split_reasons
from geofupin.maps.elements import DataLayer
from geofupin.maps.offline import OfflineAssetError, inline_assets


def data_layers(m) -> dict[str, dict]:
    """Layer name -> spec of every geofupin data layer on a map."""
    return {c.layer_name: c.spec for c in m._children.values() if isinstance(c, DataLayer)}


@pytest.fixture(scope="module")
def ctx():
    return make_ctx()


@pytest.fixture(scope="module")
def page(ctx) -> str:
    return render_html(build_run_map(ctx, config=MapConfig()))


# ----------------------------------------------------------------------------------- escaping
def test_hostile_names_never_reach_the_page_as_markup(page: str) -> None:
    assert XSS_SCRIPT not in page
    assert XSS_IMG not in page
    assert "onerror=alert" not in page.replace("onerror=alert(1)\\u003e", "")  # only inside escaped JSON
    # ... but they are there as escaped JSON text, which the runtime puts into textContent
    assert "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in page
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in page


def test_runtime_never_uses_innerhtml_for_data() -> None:
    from geofupin.maps._runtime import JS

    assert "innerHTML" not in JS
    assert "insertAdjacentHTML" not in JS
    assert "textContent" in JS


def test_layer_names_are_escaped() -> None:
    layer = DataLayer({"kind": "points", "n": 0, "props": {}, "lat": [], "lon": []}, name="a<b>")
    assert layer.layer_name == "a<b>"  # escaping happens in the builder (p.add), checked here:
    import folium

    from geofupin.maps.overview import _Page

    m = folium.Map(tiles=None)
    p = _Page(m, MapConfig())
    added = p.add({"kind": "points", "n": 0, "props": {}, "lat": [], "lon": []}, "x<img src=y>")
    assert added.layer_name == "x&lt;img src=y&gt;"


# ----------------------------------------------------------------------------------- offline
def test_offline_page_links_nothing_on_the_network(page: str) -> None:
    assert not re.search(r'<script[^>]+src="https?:', page)
    assert not re.search(r'<link[^>]+href="https?:', page)
    assert "<link" not in page.replace("<link rel=", "")  # no stylesheet links at all
    assert "Leaflet 1.9.3" in page and "FullScreen" in page and "leaflet-measure" in page  # inlined libraries
    assert "fontawesome" not in page.lower() and "bootstrap" not in page.lower()
    # every url(...) in inlined CSS is a data: URI or a fragment
    for u in re.findall(r"url\(([^)]*)\)", page):
        u = u.strip("'\" ")
        assert u.startswith(("data:", "#")) or "+" in u or not u, u


def test_online_page_links_cdns(ctx) -> None:
    html = render_html(build_run_map(ctx), offline=False)
    assert 'src="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"' in html


def test_unknown_asset_is_an_error_not_a_silent_cdn_link() -> None:
    with pytest.raises(OfflineAssetError, match=r"no offline copy of: https://example\.org/x\.js"):
        inline_assets('<script src="https://example.org/x.js"></script>', assets={})
    out = inline_assets('<script src="https://a/b.js"></script>', assets={"https://a/b.js": "var s='</script>';"})
    assert out == "<script>var s='<\\/script>';</script>"


# ----------------------------------------------------------------------------------- content
def test_run_map_shows_every_present_layer(ctx) -> None:
    m = build_run_map(ctx)
    names = set(data_layers(m))
    assert {
        "乡镇界 Townships",
        "村庄 Villages",
        "道路 Roads",
        "河流 Rivers",
        "水源 Water sources",
        "电力线 Power lines",
        "公共设施 Facilities",
        "安置点 Resettlement sites",
        "等时圈：学校 Isochrones: school",
        "搬迁去向 Allocation flows",
        "安置点容量 Site load",
        "规划道路 Planned roads",
    } <= names
    html = m.get_root().render()
    assert "L.imageOverlay(" not in html  # no DEM given
    assert "gfp.legend" in html and "gfp.searchbox" in html and "L.control.layers" in html


def test_villages_sized_by_persons_coloured_by_status(ctx) -> None:
    spec = data_layers(build_run_map(ctx))["村庄 Villages"]
    assert spec["n"] == 5 and spec["marker"] == "div" and not spec["cluster"] and spec["search"]
    persons = spec["props"]["persons"]
    assert persons == [150, 187, 224, 261, 298]
    sizes = spec["per"]["size"]
    assert sizes == sorted(sizes) and sizes[-1] == 22  # 7 + 15 * sqrt(1)
    # villages 2 and 4 relocate (relocate_persons 12), others stay
    assert spec["per"]["fillColor"] == ["#3182bd", "#e6550d", "#3182bd", "#e6550d", "#3182bd"]
    assert spec["props"]["name"][1] == XSS_SCRIPT  # raw in the spec; escaped when embedded
    # destinations from allocation flows
    assert spec["props"]["_dest"][1] == ["高桥中心社区：3 户 12 人"]


def test_village_coordinates_are_wgs84_rounded(ctx) -> None:
    spec = data_layers(build_run_map(ctx))["村庄 Villages"]
    ll = ctx.layers.villages.to_crs(WGS84)
    np.testing.assert_allclose(spec["lat"], ll.geometry.y.round(5), atol=1e-9)
    np.testing.assert_allclose(spec["lon"], ll.geometry.x.round(5), atol=1e-9)
    assert 36 < spec["lat"][0] < 38 and 109 < spec["lon"][0] < 110


def test_sites_colour_rank_reasons_and_load(ctx) -> None:
    spec = data_layers(build_run_map(ctx))["安置点 Resettlement sites"]
    P = spec["props"]
    assert P["_rank"] == ["1", "2", None]  # excluded site has no rank label
    assert spec["per"]["fillColor"][2] == "#bdbdbd" and spec["per"]["dashArray"] == ["", "", "4 4"]
    assert spec["per"]["fillColor"][0] == "#006837"  # best score = darkest green
    assert spec["per"]["weight"] == [4.0, 1.5, 1.5]  # stable top-k highlighted
    assert P["_reasons_zh"][2] == ["坡度 31° 超过上限 25°", "距道路 2.1 公里"]
    assert P["_fail"][2] == ["slope_max_deg"]
    assert P["_assigned"] == [24, 0, None] and P["_load"] == [0.06, 0.0, None]
    fields = {f[0]: f[1] for f in spec["fields"]}
    assert fields["dist_m_road"] == "到道路距离（米）" and fields["time_min_school"] == "到学校时间（分钟）"
    assert P["_contrib"] == [["到道路距离（米） dist_m_road：0.310"], ["到道路距离（米） dist_m_road：0.220"], []]
    assert spec["max_width"] == 460


def test_flows_width_by_households(ctx) -> None:
    spec = data_layers(build_run_map(ctx))["搬迁去向 Allocation flows"]
    assert spec["n"] == 2
    assert spec["per"]["weight"] == [8.5, 8.5]  # equal households -> 1.5 + 7
    assert spec["props"]["_title"][0].endswith("→ 高桥中心社区")


def test_township_coverage_in_popup(ctx) -> None:
    spec = data_layers(build_run_map(ctx))["乡镇界 Townships"]
    assert spec["props"]["_coverage"][0] == [
        "学校 15 分钟内：人口 40.0%，贫困人口 35.0%",
        "学校 30 分钟内：人口 90.0%，贫困人口 88.0%",
    ]
    assert spec["props"]["_label"] == ["高桥乡", "招安镇", None]  # the county outline has no label


def test_public_mode_shows_village_totals_only(ctx) -> None:
    full = render_html(build_run_map(ctx, config=MapConfig()))
    pub_map = build_run_map(ctx, config=MapConfig(public=True))
    pub = render_html(pub_map)
    assert "因病" in full and "poor_households" in full
    for hidden in ("因病", "poor_households", "poor_persons", "income_per_capita", "一组"):
        assert hidden not in pub, hidden
    spec = data_layers(pub_map)["村庄 Villages"]
    assert {"households", "persons", "relocate_households", "relocate_persons"} <= set(spec["props"])
    assert "公示版" in pub
    flows = data_layers(pub_map)["搬迁去向 Allocation flows"]
    assert "group" not in flows["props"] and flows["props"]["households"] == [3, 3]


def test_public_mode_sums_flows_per_village() -> None:
    ctx = make_ctx()
    flows = ctx.layer("allocation_flows")
    doubled = gpd.GeoDataFrame(pd.concat([flows, flows.assign(group="二组")], ignore_index=True), crs=flows.crs)
    results = dict(ctx.results)
    results["allocate"] = replace(results["allocate"], layers={"allocation_flows": doubled})
    ctx2 = replace(ctx, results=results)
    spec = data_layers(build_run_map(ctx2, config=MapConfig(public=True)))["搬迁去向 Allocation flows"]
    assert spec["n"] == 2 and spec["props"]["persons"] == [24, 24]
    spec_full = data_layers(build_run_map(ctx2))["搬迁去向 Allocation flows"]
    assert spec_full["n"] == 4


def test_clustering_above_threshold_inlines_markercluster() -> None:
    ctx = make_ctx(n_villages=7)
    m = build_run_map(ctx, config=MapConfig(cluster_threshold=6))
    assert data_layers(m)["村庄 Villages"]["cluster"] is True
    html = render_html(m)
    assert "L.MarkerClusterGroup.include(" in html  # the library is inlined
    assert "L.MarkerClusterGroup.include(" not in render_html(build_run_map(ctx))


def test_without_results_only_base_layers() -> None:
    layers = make_layers()
    m = build_run_map({}, layers=layers)
    names = set(data_layers(m))
    assert "候选安置点 Candidate sites" in names
    assert not any("Allocation" in n or "Isochrones" in n for n in names)


def test_roads_merged_per_class_above_limit(ctx) -> None:
    roads = ctx.layers.roads.copy()
    roads = gpd.GeoDataFrame(pd.concat([roads, roads.assign(road_id=["R4", "R5", "R6"])], ignore_index=True))
    ctx2 = replace(ctx, layers=replace(ctx.layers, roads=roads))
    spec = data_layers(build_run_map(ctx2, config=MapConfig(merge_roads_over=100)))["道路 Roads"]
    assert spec["n"] == 6  # below the limit: one feature per road, with its own popup
    layers = data_layers(build_run_map(ctx2, config=MapConfig(merge_roads_over=5)))
    assert layers["道路 Roads"]["n"] == 1 and layers["村道及便道 Village roads and tracks"]["n"] == 2
    assert "road_id" not in layers["道路 Roads"]["props"]


def test_title_approval_number_and_attribution(ctx) -> None:
    cfg = MapConfig(title="安塞区<b>规划</b>", approval_number="陕S(2026)001号", attribution="数据：县扶贫办")
    html = render_html(build_run_map(ctx, config=cfg))
    assert "陕S(2026)001号" in html and "数据：县扶贫办" in html
    assert "<b>规划</b>" not in html and "\\u003cb\\u003e规划" in html


# ----------------------------------------------------------------------------------- basemaps
def test_basemap_none_has_no_tiles(page: str) -> None:
    assert "L.tileLayer" not in page


def test_osm_basemap(ctx) -> None:
    html = render_html(build_run_map(ctx, config=MapConfig(basemap="osm")))
    assert "https://tile.openstreetmap.org/{z}/{x}/{y}.png" in html and "OpenStreetMap contributors" in html


def test_tianditu_needs_key_from_env_or_config(ctx, monkeypatch) -> None:
    monkeypatch.delenv("TIANDITU_KEY", raising=False)
    html = render_html(build_run_map(ctx, config=MapConfig(basemap="tianditu")))
    assert "tianditu.gov.cn" not in html and "TIANDITU_KEY" in html
    monkeypatch.setenv("TIANDITU_KEY", "abc123")
    html = render_html(build_run_map(ctx, config=MapConfig(basemap="tianditu")))
    assert "/vec_w/wmts" in html and "/cva_w/wmts" in html and "tk=abc123" in html
    html = render_html(build_run_map(ctx, config=MapConfig(basemap="tianditu", imagery=True, tianditu_key="k9")))
    assert "/img_w/wmts" in html and "/cia_w/wmts" in html and "tk=k9" in html


def test_gaode_shifts_overlays_to_gcj02(ctx) -> None:
    plain = data_layers(build_run_map(ctx))["村庄 Villages"]
    gaode_map = build_run_map(ctx, config=MapConfig(basemap="gaode"))
    gaode = data_layers(gaode_map)["村庄 Villages"]
    ll = ctx.layers.villages.to_crs(WGS84)
    glon, glat = wgs84_to_gcj02(ll.geometry.x.to_numpy(), ll.geometry.y.to_numpy())
    np.testing.assert_allclose(gaode["lon"], np.round(glon, 5), atol=1e-9)
    np.testing.assert_allclose(gaode["lat"], np.round(glat, 5), atol=1e-9)
    assert abs(gaode["lon"][0] - plain["lon"][0]) > 0.004  # a shift of ~500 m near Yan'an
    roads = data_layers(gaode_map)["道路 Roads"]["geom"]
    first = decode_geometry(roads)[0][0][0]
    r0 = ctx.layers.roads.to_crs(WGS84).geometry.iloc[0].coords[0]
    g = wgs84_to_gcj02(r0[0], r0[1])
    assert first == pytest.approx([round(float(g[1]), 5), round(float(g[0]), 5)], abs=1e-9)
    assert "autonavi.com" in render_html(gaode_map)


# ----------------------------------------------------------------------------------- geometry coding
def test_encode_decode_lines_and_polygons() -> None:
    line = LineString([(109.0, 36.0), (109.00001, 36.00002), (109.1, 36.1)])
    enc = encode_geometry([line], decimals=5)
    assert enc["xy"] == [3600000, 10900000, 2, 1, 9998, 9999]
    assert enc["nv"] == [3] and enc["ppf"] == [1]
    assert decode_geometry(enc) == [[[[36.0, 109.0], [36.00002, 109.00001], [36.1, 109.1]]]]
    shell = [(0, 0), (1, 0), (1, 1), (0, 1), (0, 0)]
    hole = [(0.2, 0.2), (0.4, 0.2), (0.4, 0.4), (0.2, 0.2)]
    mp = MultiPolygon([Polygon(shell, [hole]), Polygon([(2, 2), (3, 2), (3, 3), (2, 2)])])
    enc = encode_geometry([mp, Polygon(shell)], decimals=3, polygons=True)
    assert enc["ppf"] == [2, 1] and enc["rpp"] == [2, 1, 1] and enc["nv"] == [5, 4, 4, 5]
    dec = decode_geometry(enc)
    assert dec[0][0][1] == [[0.2, 0.2], [0.2, 0.4], [0.4, 0.4], [0.2, 0.2]]  # lat, lon of the hole
    assert dec[1][0][0] == [[y, x] for x, y in shell]


def test_encode_empty_and_missing_geometry() -> None:
    enc = encode_geometry([None, LineString()], decimals=5)
    assert enc["ppf"] == [0, 0] and enc["xy"] == []


def test_label_zh_and_reason_splitting() -> None:
    assert label_zh("time_min_school") == "到学校时间（分钟）"
    assert label_zh("dist_m_county_seat") == "到县城距离（米）"
    assert label_zh("slope_deg") == "坡度（度）"
    assert label_zh("unknown_thing") == "unknownthing"  # unknown words pass through
    assert split_reasons("甲；乙; 丙\n丁") == ["甲", "乙", "丙", "丁"]
    assert split_reasons(None) == [] and split_reasons(["a", ""]) == ["a"]


def test_ramp_endpoints() -> None:
    assert ramp([0.0, 0.5, 1.0, np.nan], ["#000000", "#ffffff"]) == ["#000000", "#808080", "#ffffff", "#999999"]


# ----------------------------------------------------------------------------------- config
def test_map_config_parses_with_defaults_and_reports_problems() -> None:
    problems = Problems()
    cfg = parse(MapConfig, {"basemap": "gaode", "public": True, "approval_number": "陕S(2026)001号"}, "map", problems)
    assert not problems.errors and cfg.basemap == "gaode" and cfg.public and cfg.hillshade
    problems = Problems()
    assert parse(MapConfig, {"basemap": "google", "publc": True, "coord_decimals": 12}, "map", problems) is None
    text = "\n".join(str(p) for p in problems)
    assert "'google' is not one of" in text and "did you mean 'public'" in text
    problems = Problems()
    assert parse(MapConfig, {"coord_decimals": 12, "simplify_tolerance_m": -1}, "map", problems) is None
    where = {p.where for p in problems.errors}
    assert where == {"map.coord_decimals", "map.simplify_tolerance_m"}


# ----------------------------------------------------------------------------------- hillshade
def _write_dem(path: Path, *, crs: str = "EPSG:4545") -> Path:
    import rasterio
    from _maps_fixtures import X0, Y0
    from rasterio.transform import from_origin

    ny, nx = 60, 80
    yy, xx = np.mgrid[0:ny, 0:nx]
    elev = (1000 + 8.0 * xx + 3.0 * np.sin(yy / 5.0) * 10).astype("float32")  # rising to the east
    elev[:3, :3] = -9999
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)  # rasterio's own Affine use
        transform = from_origin(X0 - 1000, Y0 + 4000, 120.0, 120.0)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=ny,
        width=nx,
        count=1,
        dtype="float32",
        crs=crs,
        transform=transform,
        nodata=-9999,
    ) as dst:
        dst.write(elev, 1)
    return path


def test_hillshade_math_lit_from_northwest() -> None:
    from geofupin.maps.hillshade import hillshade

    x = np.mgrid[0:10, 0:10][1].astype(float)
    east_up = hillshade(x * 10.0, dx_m=10.0, dy_m=10.0)  # slope faces west (towards the light)
    west_up = hillshade(-x * 10.0, dx_m=10.0, dy_m=10.0)  # faces east (away)
    flat = hillshade(np.zeros((10, 10)), dx_m=10.0, dy_m=10.0)
    assert flat[5, 5] == pytest.approx(np.cos(np.radians(45)))
    assert east_up[5, 5] > flat[5, 5] > west_up[5, 5]
    # analytic value: slope 45 deg facing west, light from az 315 alt 45
    expected = np.cos(np.radians(45)) ** 2 + np.sin(np.radians(45)) ** 2 * np.cos(np.radians(45))
    assert east_up[5, 5] == pytest.approx(expected, abs=1e-9)


def test_hillshade_overlay_embedded(tmp_path: Path) -> None:
    from PIL import Image

    from geofupin.maps.hillshade import hillshade_overlay

    dem = _write_dem(tmp_path / "dem.tif")
    url, ((s, w), (n, e)) = hillshade_overlay(dem, max_px=50)
    assert url.startswith("data:image/png;base64,")
    import base64

    img = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert img.mode == "P" and "transparency" in img.info and max(img.size) <= 60
    rgba = np.asarray(img.convert("RGBA"))
    assert (rgba[..., 3] == 0).any() and (rgba[..., 3] > 0).mean() > 0.9  # nodata corner transparent
    from pyproj import Transformer

    # the GK rectangle is rotated against lat/lon (meridian convergence): compare bounding boxes
    w0, s0, e0, n0 = Transformer.from_crs("EPSG:4545", WGS84, always_xy=True).transform_bounds(
        619000, 4081800, 628600, 4089000
    )
    assert (w, s, e, n) == pytest.approx((w0, s0, e0, n0), abs=2.5e-3)  # within one 192 m pixel
    ctx = make_ctx(dem)
    html = render_html(build_run_map(ctx))
    assert "L.imageOverlay(" in html and "data:image/png;base64," in html
    assert "L.imageOverlay(" not in render_html(build_run_map(ctx, config=MapConfig(hillshade=False)))


def test_hillshade_real_dem(shared_data: Path) -> None:
    from geofupin.maps.hillshade import hillshade_overlay

    dem = shared_data / "andorra" / "andorra_srtm3.tif"
    if not dem.exists():
        pytest.skip("andorra DEM absent")
    url, ((s, w), (n, e)) = hillshade_overlay(dem, max_px=200)
    assert 41.7 < s < n < 42.8 and 1.0 < w < e < 1.85
    assert len(url) > 1000


def test_unreadable_dem_is_a_note_not_a_crash(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"not a tiff")
    html = render_html(build_run_map(make_ctx(bad)))
    assert "DEM unreadable" in html


# ----------------------------------------------------------------------------------- compare
def test_compare_table_and_map() -> None:
    from geofupin.maps.compare import build_compare_map, compare_table

    a, b = make_ctx(), make_ctx(n_villages=7)
    t = compare_table(a, b, labels=("A", "B")).set_index("metric_en")
    assert t.loc["persons served", "A"] == 24 and t.loc["persons served", "B"] == 36
    assert t.loc["persons served", "difference"] == 12 and not t.loc["persons served", "same"]
    assert t.loc["top sites", "A"] == "高桥中心社区、招安集镇" and t.loc["top sites", "same"]
    assert t.loc["planned works cost, yuan", "A"] == 960000
    html = render_html(build_compare_map(a, b, labels=("权重A", "权重B")))
    assert ".sync(" in html and "L.Map.Sync" in html
    assert "权重A" in html and "权重B" in html and "方案差异" in html
    assert not re.search(r'<script[^>]+src="https?:', html)


# ----------------------------------------------------------------------------------- static
def test_static_map_paper_sizes_and_files() -> None:
    from geofupin.maps.static import build_static_map, find_cjk_font, nice_length

    ctx = make_ctx()
    fig = build_static_map(ctx, paper="A4")
    w, h = fig.get_size_inches()
    assert (w * 25.4, h * 25.4) == pytest.approx((297, 210))
    fig3 = build_static_map(ctx, paper="A3", orientation="portrait", dpi=50)
    assert tuple(fig3.get_size_inches() * 25.4) == pytest.approx((297, 420))
    texts = [t.get_text() for t in fig.texts] + [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "北 N" in texts and "易地扶贫搬迁规划图" in texts and any("公里" in t for t in texts)
    for fmt, magic in (("png", b"\x89PNG"), ("pdf", b"%PDF")):
        buf = io.BytesIO()
        fig3.savefig(buf, format=fmt)
        assert buf.getvalue().startswith(magic)
    assert nice_length(9000) == 1000 and nice_length(26000) == 5000 and nice_length(700) == 100
    with pytest.raises(ValueError, match="A4"):
        build_static_map(ctx, paper="A5")  # type: ignore[arg-type]
    if find_cjk_font() is None:
        pytest.skip("no CJK font installed")
    font = find_cjk_font()
    assert "CJK" in font or "Hei" in font or "Han" in font


def test_spec_json_is_valid_and_safe(ctx) -> None:
    from geofupin.maps._runtime import safe_json

    s = safe_json({"a": XSS_SCRIPT, "b": "\u2028"})
    assert "<" not in s and ">" not in s and "\u2028" not in s
    assert json.loads(s) == {"a": XSS_SCRIPT, "b": "\u2028"}


def test_results_not_mutated(ctx) -> None:
    before = ctx.layers.villages.copy()
    sites_before = ctx.layer("sites").copy()
    build_run_map(ctx, config=MapConfig(public=True, basemap="gaode"))
    assert_geodataframe_equal(ctx.layers.villages, before)
    assert_geodataframe_equal(ctx.layer("sites"), sites_before)


def test_make_results_contract() -> None:
    res = make_results(make_layers())
    assert set(res) == {"access", "site", "allocate", "plan"}


# ----------------------------------------------------------------------------------- step and outputs
def test_step_returns_the_page_and_a_summary(monkeypatch) -> None:
    from geofupin.maps import step

    ctx = make_ctx()
    ctx = replace(ctx, scenario=type("S", (), {"map": MapConfig(public=True, basemap="tianditu")})())
    monkeypatch.delenv("TIANDITU_KEY", raising=False)
    res = step(ctx)
    html = res.artifacts["index_html"]
    assert html.startswith("<!DOCTYPE html>") and "公示版" in html and "因病" not in html
    assert res.summary["html_bytes"] == len(html.encode()) and res.summary["public"] is True
    assert "sites" in res.summary["result_layers"] and "allocation_flows" in res.summary["result_layers"]
    assert len(res.warnings) == 1 and "TIANDITU_KEY" in res.warnings[0]
    assert res.layers == {} and res.tables == {}


def test_map_config_overrides_and_outputs() -> None:
    from geofupin.maps import map_config, map_outputs

    ctx = make_ctx()
    assert map_config(ctx) == MapConfig()  # scenario without a map section
    cfg = map_config(ctx, basemap="osm", public=None)
    assert cfg.basemap == "osm" and cfg.public is False
    out = map_outputs(ctx, config=MapConfig(title="测试图"), static=("A4",))
    assert set(out) == {"index.html", "map_A4.png", "map_A4.pdf"}
    assert "<title>测试图</title>" in out["index.html"]
    assert out["map_A4.png"][:4] == b"\x89PNG" and out["map_A4.pdf"][:4] == b"%PDF"


def test_site_popup_uses_the_explanation_table() -> None:
    ctx = make_ctx()
    expl = pd.DataFrame(
        {
            "site_id": ["S1", "S1", "S2"],
            "rank": [1, 1, 2],
            "criterion": ["dist_road_m", "slope_mean_deg", "dist_road_m"],
            "label_zh": ["距道路", "平均坡度", "距道路"],
            "label_en": ["distance to road", "mean slope", "distance to road"],
            "unit": ["m", "deg", "m"],
            "direction": ["cost", "cost", "cost"],
            "value": [120.0, 6.5, 300.0],
            "normalised": [0.9, 0.8, 0.5],
            "weight": [0.25, 0.5, 0.25],
            "contribution": [0.225, 0.4, 0.125],
        }
    )
    results = dict(ctx.results)
    results["site"] = replace(results["site"], tables={"site_explanation": expl})
    spec = data_layers(build_run_map(replace(ctx, results=results)))["安置点 Resettlement sites"]
    assert spec["props"]["_contrib"] == [
        ["平均坡度：6.5 deg，权重 0.50，贡献 0.400", "距道路：120 m，权重 0.25，贡献 0.225"],
        ["距道路：300 m，权重 0.25，贡献 0.125"],
        [],
    ]


def test_compare_costs_from_plan_and_budget_tables() -> None:
    from geofupin.maps.compare import compare_table

    a, b = make_ctx(), make_ctx()
    res_b = dict(b.results)
    res_b["plan"] = replace(
        res_b["plan"],
        tables={
            "plan_sites": pd.DataFrame({"site_id": ["S1"], "total_cost_yuan": [1_500_000.0]}),
            "budget_county": pd.DataFrame({"rule_id": ["x", "y"], "amount_yuan": [1000.0, 2500.0]}),
        },
    )
    t = compare_table(a, replace(b, results=res_b)).set_index("metric_en")
    assert t.loc["site works cost, yuan", "B"] == 1_500_000 and pd.isna(t.loc["site works cost, yuan", "A"])
    assert t.loc["subsidy budget, yuan", "B"] == 3500
    assert t.loc["planned works cost, yuan", "difference"] == 0


def test_public_mode_sums_village_groups() -> None:
    from geofupin.maps.overview import public_villages

    ctx = make_ctx()
    v = ctx.layers.villages.copy()
    v.loc[1, "name"] = v.loc[0, "name"]  # V1 and V2 become two groups of 王家湾村 (both in 高桥乡)
    v.loc[0, "village_id"], v.loc[1, "village_id"] = "V9-G1", "V9-G2"
    v["group"] = ["一组", "二组", None, None, None]
    pub, mapping = public_villages(v)
    assert len(pub) == 4 and "group" not in pub.columns and "poor_persons" not in pub.columns
    row = pub[pub["village_id"] == "V9"].iloc[0]
    assert row["name"] == "王家湾村" and row["persons"] == 150 + 187 and row["households"] == 40 + 50
    assert row["relocate_persons"] == 12
    assert row.geometry.x == pytest.approx((v.geometry.x[0] + v.geometry.x[1]) / 2)
    assert mapping["V9-G1"] == mapping["V9-G2"] == "V9" and mapping["V3"] == "V3"
    # flows of the groups are summed onto the published village
    flows = ctx.layer("allocation_flows").copy()
    flows["village_id"] = ["V9-G2", "V4"]
    results = dict(ctx.results)
    results["allocate"] = replace(results["allocate"], layers={"allocation_flows": flows})
    m = build_run_map(
        replace(ctx, layers=replace(ctx.layers, villages=v), results=results), config=MapConfig(public=True)
    )
    spec = data_layers(m)["村庄 Villages"]
    assert spec["n"] == 4 and spec["props"]["name"][0] == "王家湾村"
    assert spec["props"]["_dest"][0] == ["高桥中心社区：3 户 12 人"]
    fl = data_layers(m)["搬迁去向 Allocation flows"]
    assert sorted(fl["props"]["_title"]) == ["王家湾村 → 高桥中心社区", "高桥村 → 高桥中心社区"]
    k = fl["props"]["_title"].index("王家湾村 → 高桥中心社区")
    assert decode_geometry(fl["geom"])[k][0][0] == [spec["lat"][0], spec["lon"][0]]  # starts at the village total


def test_big_road_layers_split_minor_roads_off_at_first(ctx) -> None:
    layers = data_layers(build_run_map(ctx, config=MapConfig(merge_roads_over=2)))
    major, minor = layers["道路 Roads"], layers["村道及便道 Village roads and tracks"]
    assert major["props"]["_class_zh"] == ["县道"] and minor["props"]["_class_zh"] == ["村道", "机耕道"]
    assert minor["per"]["weight"] == [1.8, 1.4]
    m = build_run_map(ctx, config=MapConfig(merge_roads_over=2))
    shown = {c.layer_name: c.show for c in m._children.values() if isinstance(c, DataLayer)}
    assert shown["道路 Roads"] and not shown["村道及便道 Village roads and tracks"]


def test_minimal_layers_still_map() -> None:
    from geofupin.context import Layers

    full = make_layers()
    villages = full.villages[["village_id", "geometry"]].copy()
    boundaries = full.boundaries[["geometry", "level"]].copy()
    roads = full.roads[["geometry"]].copy()
    layers = Layers(crs=full.crs, villages=villages, boundaries=boundaries, roads=roads)
    m = build_run_map({}, layers=layers)
    specs = data_layers(m)
    assert specs["村庄 Villages"]["n"] == 5 and specs["村庄 Villages"]["title"] is None
    assert specs["乡镇界 Townships"]["label"] is None
    assert set(specs["村庄 Villages"]["per"]["fillColor"]) == {"#3182bd"}  # no relocation columns: all stay
    assert "gfp.layer" in render_html(m)


def test_static_public_map_draws_village_totals() -> None:
    from geofupin.maps.static import build_static_map

    ctx = make_ctx()
    v = ctx.layers.villages.copy()
    v.loc[1, "name"] = v.loc[0, "name"]
    ctx2 = replace(ctx, layers=replace(ctx.layers, villages=v))

    def village_points(public: bool) -> int:
        ax = build_static_map(ctx2, config=MapConfig(public=public)).axes[0]
        return sum(len(c.get_offsets()) for c in ax.collections if c.get_zorder() == 10)  # the village scatter

    n_points = {public: village_points(public) for public in (False, True)}
    assert n_points == {False: 5, True: 4}


def test_tianditu_overlays_are_not_shifted(ctx) -> None:
    plain = data_layers(build_run_map(ctx))["村庄 Villages"]
    tdt = data_layers(build_run_map(ctx, config=MapConfig(basemap="tianditu", tianditu_key="k")))["村庄 Villages"]
    assert tdt["lat"] == plain["lat"] and tdt["lon"] == plain["lon"]  # CGCS2000 ~ WGS84 at map scale


def test_gaode_hillshade_bounds_shifted(tmp_path: Path) -> None:
    from geofupin.maps.hillshade import hillshade_overlay

    dem = _write_dem(tmp_path / "dem.tif")
    _, ((s, w), (n, e)) = hillshade_overlay(dem, max_px=40)
    _, ((gs, gw), (gn, ge)) = hillshade_overlay(dem, max_px=40, gcj02=True)
    lon, lat = wgs84_to_gcj02(np.array([w, e]), np.array([s, n]))
    assert (gw, ge, gs, gn) == pytest.approx((lon[0], lon[1], lat[0], lat[1]), abs=1e-12)
    assert gw - w > 0.004


def test_missing_cjk_font_warns_and_falls_back(monkeypatch) -> None:
    from geofupin.maps import static

    static.find_cjk_font.cache_clear()
    monkeypatch.setattr(static, "CJK_FAMILIES", ("No Such Font CJK",))
    monkeypatch.setattr(static, "CJK_GLOBS", ("/nonexistent/*.ttc",))
    try:
        with pytest.warns(UserWarning, match="fonts-noto-cjk"):
            assert static.find_cjk_font() is None
        fig = static.build_static_map(make_ctx(), dpi=40)  # the map is still built, with the default font
        assert "DejaVu Sans" in fig.texts[0].get_fontfamily()
    finally:
        static.find_cjk_font.cache_clear()


def test_page_title_is_escaped(ctx) -> None:
    html = render_html(build_run_map(ctx), title="规划</title><script>alert(1)</script>")
    assert "<script>alert(1)" not in html
    assert "<title>规划&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;</title>" in html


# ----------------------------------------------------------------------------------- real regions
def _fit_bounds(m) -> list[list[float]]:
    from geofupin.maps.elements import _Call

    return next(c.spec["bounds"] for c in m._children.values() if isinstance(c, _Call) and c.func == "fit")


def test_first_view_fits_villages_and_passed_sites_not_the_extract() -> None:
    from _maps_fixtures import make_dense_ctx

    from geofupin.maps.data import to_display

    ctx = make_dense_ctx()
    (s, w), (n, e) = _fit_bounds(build_run_map(ctx, config=MapConfig(hillshade=False)))
    vb = to_display(ctx.layers.villages).total_bounds
    sb = to_display(ctx.results["site"].layers["sites"]).total_bounds
    x0, y0, x1, y1 = min(vb[0], sb[0]), min(vb[1], sb[1]), max(vb[2], sb[2]), max(vb[3], sb[3])
    # 5 % of the extent on each side; the power line 90 km south and the 70 km road are left out
    assert (w, s, e, n) == pytest.approx(
        (x0 - 0.05 * (x1 - x0), y0 - 0.05 * (y1 - y0), x1 + 0.05 * (x1 - x0), y1 + 0.05 * (y1 - y0))
    )
    # excluded sites far away do not widen the view; a lone village gets ~1 km around it
    sites = ctx.results["site"].layers["sites"].copy()
    far = sites.iloc[[0]].copy()
    far["geometry"] = far.translate(0, -60_000)
    far["passed"] = False
    ctx.results["site"].layers["sites"] = pd.concat([sites, far], ignore_index=True)
    (s2, w2), (n2, e2) = _fit_bounds(build_run_map(ctx, config=MapConfig(hillshade=False)))
    assert (s2, w2, n2, e2) == pytest.approx((s, w, n, e))
    from geofupin.maps.overview import first_view

    (s, w), (n, e) = first_view([(109.3, 36.9, 109.3, 36.9)])
    assert (s, w, n, e) == pytest.approx((36.89, 109.29, 36.91, 109.31))
    assert first_view([]) is None


def test_data_credits_from_the_scenario_and_from_layer_attrs(ctx) -> None:
    from _maps_fixtures import OSM_CREDIT, make_dense_ctx

    from geofupin.maps.data import credits

    def notes(page: str) -> list[str]:
        m = re.search(r'"lines":(\[[^\]]*\])', page)
        assert m is not None
        return json.loads(m.group(1))

    page = render_html(build_run_map(make_dense_ctx(), config=MapConfig(hillshade=False)))
    assert OSM_CREDIT in notes(page)  # the roads' attrs say they are OSM-derived
    assert OSM_CREDIT not in notes(render_html(build_run_map(ctx)))  # the synthetic fixture is not
    cfg = MapConfig(attribution=(OSM_CREDIT, "村庄人口：县扶贫办 2016"))
    got = notes(render_html(build_run_map(make_dense_ctx(), config=cfg)))
    assert got.count(OSM_CREDIT) == 1 and "村庄人口：县扶贫办 2016" in got
    g = gpd.GeoDataFrame(geometry=[])
    g.attrs["attribution"] = ["SRTM: NASA", OSM_CREDIT]
    assert credits(["A", " ", OSM_CREDIT], [None, g]) == ["A", OSM_CREDIT, "SRTM: NASA"]
    problems = Problems()
    one = parse(MapConfig, {"attribution": OSM_CREDIT}, "map", problems)
    many = parse(MapConfig, {"attribution": [OSM_CREDIT, "B"]}, "map", problems)
    assert not problems.errors
    assert one.credits() == (OSM_CREDIT,) and many.credits() == (OSM_CREDIT, "B") and MapConfig().credits() == ()


def test_static_map_of_a_dense_county_fits_villages_and_declutters_ranks() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from _maps_fixtures import OSM_CREDIT, make_dense_ctx
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from geofupin.maps.static import build_static_map

    ctx = make_dense_ctx()
    fig = build_static_map(ctx, paper="A4", dpi=100)
    FigureCanvasAgg(fig).draw()
    ax = fig.axes[0]
    v = ctx.layers.villages.total_bounds
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    assert x0 < v[0] and x1 > v[2] and y0 < v[1] and y1 > v[3]
    assert (y1 - y0) < 1.5 * (v[3] - v[1])  # the 90 km power line is off the map
    ranks = [t for t in ax.texts if t.get_text().isdigit() and t.get_bbox_patch() is not None]
    assert 5 <= len(ranks) < 260 and "1" in [t.get_text() for t in ranks]
    boxes = [t.get_bbox_patch().get_window_extent() for t in ranks]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b)
    notes = next(t.get_text() for t in fig.texts if t.get_text().startswith("坐标系")).split("\n")
    assert OSM_CREDIT in notes
    assert f"排名标注 {len(ranks)}/260 个（其余重叠，见网页地图）" in notes[1]


def test_land_areas_in_mu_and_no_acres(ctx, page: str) -> None:
    """Issue 13.7: 亩 is the unit of every Chinese land document; the measuring tool showed acres."""
    spec = data_layers(build_run_map(ctx))["安置点 Resettlement sites"]
    fmt = {f[0]: f[3] for f in spec["fields"]}
    assert {fmt.get(c) for c in ("area_m2", "buildable_area_m2", "planned_area_m2") if c in fmt} == {"m2"}
    start = page.index("L.Control.Measure(")
    call = page[start : page.index(");", start)]
    assert "acres" not in call and '"primaryAreaUnit": "sqmeters"' in call
    assert '"secondaryAreaUnit": "mu"' in call and '"display": "\\u4ea9"' in call and '"localization": "cn"' in call
    # the runtime writes square metres with 亩 beside them (1 亩 = 666.67 m2)
    assert "(v * 0.0015).toFixed(1) + ' 亩）'" in page
