"""One metric CRS per run: CGCS2000 Gauss-Kruger 3-degree zones in China, UTM elsewhere."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import Point

from geofupin.crs import choose_metric_crs, gauss_kruger_3deg, require_projected, same_crs
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
