"""Real data: the Andorra SRTM3 tile (../shared/data; skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from shapely.geometry import Point

from geofupin.layers import prepare_layers
from geofupin.terrain import sample_points

pytestmark = pytest.mark.shared

ANDORRA_LA_VELLA = (1.5218, 42.5063)
ENCAMP = (1.5801, 42.5345)


def test_andorra_dem_metric_crs_and_sampled_elevation(shared_data: Path) -> None:
    dem = shared_data / "andorra" / "andorra_srtm3.tif"
    villages = gpd.GeoDataFrame(
        {"village_id": ["alv", "enc"], "name": ["安道尔城", "恩坎普"], "households": [10, 5], "persons": [30, 12]},
        geometry=[Point(*ANDORRA_LA_VELLA), Point(*ENCAMP)],
        crs=4326,
    )
    layers = prepare_layers({"villages": villages}, dem=dem)
    assert layers.crs.to_epsg() == 32631  # outside China: WGS84 / UTM zone 31N
    assert layers.dem == dem
    got = sample_points(layers.dem, layers.villages)
    # independent read: the pixel under each lon/lat straight from the GeoTIFF
    with rasterio.open(dem) as src:
        band = src.read(1)
        expected = [float(band[src.index(lon, lat)]) for lon, lat in (ANDORRA_LA_VELLA, ENCAMP)]
    assert got.tolist() == pytest.approx(expected)
    assert 950 < got.iloc[0] < 1250  # Andorra la Vella lies at about 1,020-1,100 m in the Valira valley
    assert 1200 < got.iloc[1] < 1500  # Encamp at about 1,250-1,300 m
    assert np.isfinite(got).all()
