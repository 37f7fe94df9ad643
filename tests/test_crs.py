"""One metric CRS per run: CGCS2000 Gauss-Kruger 3-degree zones in China, UTM elsewhere."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import Point

from geofupin.crs import (
    choose_metric_crs,
    crs_problem,
    gauss_kruger_3deg,
    offset_system,
    parse_crs,
    require_projected,
    same_crs,
)
from geofupin.errors import CRSError


def test_hand_checked_zones() -> None:
    assert choose_metric_crs(109.32, 36.86).to_epsg() == 4545  # CM 108E
    assert choose_metric_crs(122.1, 37.5).to_epsg() == 4550  # CM 123E
    assert choose_metric_crs(87.6, 43.8).to_epsg() == 4538  # CM 87E
    assert choose_metric_crs(106.55, 29.56).to_epsg() == 4545  # Chongqing: 106.55 is nearer 108E than 105E
    assert choose_metric_crs(106.4, 29.56).to_epsg() == 4544  # ... and 106.4 nearer 105E
    assert "CM 108E" in choose_metric_crs(109.32, 36.86).name
    assert gauss_kruger_3deg(75.2).to_epsg() == 4534
    assert gauss_kruger_3deg(134.9).to_epsg() == 4554


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [(1.55, 42.55, 32631), (11.6, 49.95, 32632), (151.2, -33.9, 32756), (-74.0, 40.7, 32618)],
)
def test_utm_outside_china(lon: float, lat: float, epsg: int) -> None:
    assert choose_metric_crs(lon, lat).to_epsg() == epsg


def test_require_projected_names_layer_and_fix() -> None:
    g = gpd.GeoDataFrame(geometry=[Point(109, 37)], crs=4490)
    with pytest.raises(CRSError, match=r"layer 'villages' is in a geographic CRS .*to_crs"):
        require_projected(g, "villages")
    with pytest.raises(CRSError, match="has no CRS"):
        require_projected(gpd.GeoDataFrame(geometry=[Point(0, 0)]), "roads")
    with pytest.raises(ValueError, match=r"EPSG:4545.*differs"):
        same_crs(g.to_crs(4545), gauss_kruger_3deg(87.6), "x")
    require_projected(g.to_crs(4545), "villages")


@pytest.mark.parametrize("text", ["GCJ-02", "gcj02", "GCJ_02", "火星坐标", "国测局坐标", "BD-09", "bd09ll", "百度坐标"])
def test_offset_systems_are_recognised_in_their_usual_spellings(text: str) -> None:
    assert offset_system(text) in {"GCJ-02 (火星坐标: Gaode/AMap, Tencent)", "BD-09 (百度坐标: Baidu)"}
    assert crs_problem(text, use="layer") is None  # a layer's coordinates may be GCJ-02/BD-09 (shifted back on load)
    assert "not a metric CRS" in (crs_problem(text, use="run") or ("", ""))[0]
    with pytest.raises(CRSError, match="is not supported here"):
        parse_crs(text)


def test_crs_problem_accepts_what_pyproj_reads_and_lists_the_rest() -> None:
    assert crs_problem("auto", use="run") is None
    assert crs_problem("EPSG:4545", use="run") is None and crs_problem("4545", use="run") is None
    assert crs_problem("EPSG:4490", use="layer") is None and crs_problem("CGCS2000", use="layer") is None
    assert crs_problem("+proj=utm +zone=49 +datum=WGS84", use="run") is None
    message, fix = crs_problem("EPSG:4490", use="run") or ("", "")
    assert "geographic (degrees)" in message
    message, fix = crs_problem("foo", use="layer") or ("", "")
    assert message == "无法识别坐标系 cannot read CRS 'foo'."
    assert "EPSG:4490" in fix and "WKT" in fix and "PROJ string" in fix
    assert "'auto' chooses the run's CRS" in (crs_problem("auto", use="layer") or ("", ""))[0]
    assert "not a map CRS" in (crs_problem("EPSG:4978", use="layer") or ("", ""))[0]  # geocentric
    with pytest.raises(CRSError, match="WKT or a PROJ string"):
        parse_crs("foo")
