"""Issue 17, session 5 (map, access, site): the faster ways give the numbers of the old ways.

- the hillshade without a trigonometric function per cell equals the trigonometric formula;
- the page's hillshade PNG at a lower zlib level holds the pixels of the ``optimize=True`` file;
- the candidates' zonal terrain, now sloped at their own cells only, equals whole-raster Horn
  statistics (an independent computation) and the whole-window Horn bit for bit.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import rasterio.features
import shapely
from affine import Affine
from PIL import Image
from pyproj import CRS

from geofupin import terrain
from geofupin.maps import hillshade as hs

UTM = CRS.from_epsg(32650)


def _trig_hillshade(elev: np.ndarray, dx_m: float, dy_m: float, azimuth_deg: float, altitude_deg: float) -> np.ndarray:
    """The textbook formula (ESRI aspect), as the page shaded before."""
    gy, gx = np.gradient(elev, dy_m, dx_m)
    slope = np.arctan(np.hypot(gx, gy))
    aspect = np.arctan2(gy, -gx)
    az = np.radians(360.0 - azimuth_deg + 90.0)
    zen = np.radians(90.0 - altitude_deg)
    return np.clip(np.cos(zen) * np.cos(slope) + np.sin(zen) * np.sin(slope) * np.cos(az - aspect), 0.0, 1.0)


def _rough(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    return 900 + 120 * np.sin(x / 13.0) * np.cos(y / 19.0) + rng.normal(0, 3, (h, w))


@pytest.mark.parametrize(("azimuth", "altitude"), [(315.0, 45.0), (90.0, 30.0), (200.0, 60.0)])
def test_hillshade_equals_trigonometric_formula(azimuth: float, altitude: float) -> None:
    elev = _rough(120, 150, 1)
    elev[40:50, 60:75] = 900.0  # a flat patch: slope 0, aspect undefined
    got = hs.hillshade(elev, dx_m=30.0, dy_m=31.0, azimuth_deg=azimuth, altitude_deg=altitude)
    ref = _trig_hillshade(elev, 30.0, 31.0, azimuth, altitude)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-13)
    # what the maps use: float32, then 32 grey levels
    np.testing.assert_array_equal(got.astype("float32"), ref.astype("float32"))
    assert float(got.min()) >= 0.0 and float(got.max()) <= 1.0 and float(got.std()) > 0.05
    assert got[45, 67] == pytest.approx(np.cos(np.radians(90.0 - altitude)))  # flat: cos(zenith)


@pytest.mark.shared
def test_hillshade_equals_trigonometric_formula_real_dem(shared_data: Path) -> None:
    dem = shared_data / "andorra" / "andorra_srtm3.tif"
    if not dem.exists():
        pytest.skip("andorra_srtm3.tif absent")
    with rasterio.open(dem) as src:
        elev = src.read(1, masked=True).astype(float).filled(np.nan)
    elev = np.where(np.isnan(elev), np.nanmean(elev), elev)
    got = hs.hillshade(elev, dx_m=68.0, dy_m=92.0)
    ref = _trig_hillshade(elev, 68.0, 92.0, 315.0, 45.0)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-13)
    np.testing.assert_array_equal(got.astype("float32"), ref.astype("float32"))


def test_hillshade_png_holds_the_pixels_of_the_optimized_file() -> None:
    shade = np.clip((_rough(90, 110, 2) - 780) / 240, 0, 1).astype("float32")
    shade[:5, :7] = np.nan  # nodata: fully transparent
    buf = io.BytesIO()
    hs.encode_png(shade, buf)
    got = Image.open(io.BytesIO(buf.getvalue()))
    assert got.mode == "P" and got.size == (110, 90)
    # the indices are the 32 levels (32 = nodata), written independently here
    idx = np.asarray(got)
    expect = np.where(np.isnan(shade), 32, np.round(np.nan_to_num(shade) * 31)).astype("uint8")
    np.testing.assert_array_equal(idx, expect)
    # the same image as the old optimize=True file, pixel for pixel (colour and opacity)
    old = Image.fromarray(expect)
    old.putpalette(got.getpalette())
    old_buf = io.BytesIO()
    old.save(old_buf, format="PNG", optimize=True, transparency=got.info["transparency"])
    a = np.asarray(Image.open(io.BytesIO(old_buf.getvalue())).convert("RGBA"))
    b = np.asarray(got.convert("RGBA"))
    np.testing.assert_array_equal(a, b)
    assert b[0, 0, 3] == 0 and b[-1, -1, 3] > 0


# --------------------------------------------------------------------------------- zonal terrain
def _write_dem(path: Path, z: np.ndarray, tf: Affine, crs: CRS) -> Path:
    with rasterio.open(
        path, "w", driver="GTiff", width=z.shape[1], height=z.shape[0], count=1, dtype="float32", crs=crs,
        transform=tf, nodata=-9999.0,
    ) as dst:  # fmt: skip
        dst.write(np.where(np.isnan(z), -9999.0, z).astype("float32"), 1)
    return path


def _horn_whole(z: np.ndarray, res: float) -> np.ndarray:
    """Horn slope of the whole raster with edges computed (a missing neighbour takes the centre), plain numpy."""
    zp = np.pad(z, 1, constant_values=np.nan)
    h, w = z.shape
    win = np.stack([zp[i : i + h, j : j + w] for i in range(3) for j in range(3)])
    win = np.where(np.isnan(win), win[4], win)
    z0, z1, z2, z3, _, z5, z6, z7, z8 = win
    dx = ((z0 + 2 * z3 + z6) - (z2 + 2 * z5 + z8)) / (8 * res)
    dy = ((z6 + 2 * z7 + z8) - (z0 + 2 * z1 + z2)) / (8 * res)
    out = np.degrees(np.arctan(np.hypot(dx, dy)))
    out[np.isnan(z)] = np.nan
    return out


def test_horn_at_cells_equals_whole_window_bit_for_bit() -> None:
    rng = np.random.default_rng(3)
    z = _rough(60, 70, 3)
    z[10:14, 20:30] = np.nan
    z[rng.integers(0, 60, 40), rng.integers(0, 70, 40)] = np.nan
    zp = np.pad(z, 1, constant_values=np.nan)
    xres = np.linspace(29.0, 31.0, 60)  # per row, as on a geographic grid
    yres = np.full(60, 30.5)
    rr, cc = np.nonzero(rng.random((60, 70)) < 0.3)
    for edges in ("compute", "nan"):
        whole = terrain._horn_core(zp, xres, yres, edges)
        got = terrain._horn_cells(zp, rr, cc, xres, yres, edges)
        np.testing.assert_array_equal(got, whole[rr, cc])
        assert np.isnan(got).any() and np.isfinite(got).sum() > 1000


def test_zonal_terrain_equals_whole_raster_statistics(tmp_path: Path) -> None:
    z = _rough(140, 160, 4).astype("float32").astype(float)
    z[60:70, 30:50] = np.nan  # a void under some zones
    tf = Affine(30.0, 0.0, 400000.0, 0.0, -30.0, 4500000.0)
    dem = _write_dem(tmp_path / "dem.tif", z, tf, UTM)
    rng = np.random.default_rng(5)
    cx = 400000 + rng.uniform(-300, 160 * 30 + 300, 40)
    cy = 4500000 - rng.uniform(-300, 140 * 30 + 300, 40)
    rad = rng.uniform(20, 500, 40)
    zones = gpd.GeoSeries(shapely.buffer(shapely.points(cx, cy), rad, quad_segs=4), crs=UTM, index=range(100, 140))
    exclude = gpd.GeoSeries(shapely.buffer(shapely.points(cx[:12] + rad[:12], cy[:12]), rad[:12] * 0.8), crs=UTM)
    slope = _horn_whole(z, 30.0)
    excl = rasterio.features.rasterize([(g, 1) for g in exclude], out_shape=z.shape, transform=tf, fill=0) > 0
    for tile in (1024, 37):  # one tile; zones across tile borders
        got = terrain.zonal_terrain(dem, zones, slope_limit_deg=20.0, exclude=exclude, tile=tile)
        assert list(got.index) == list(zones.index)
        checked = 0
        for k, geom in zip(zones.index, zones, strict=True):
            inside = rasterio.features.rasterize([(geom, 1)], out_shape=z.shape, transform=tf, fill=0) > 0
            n = int(inside.sum())
            if n == 0:  # smaller than a cell or outside: sampled at a point (tested in test_terrain)
                continue
            zz, ss = z[inside], slope[inside]
            ok, oks = ~np.isnan(zz), ~np.isnan(ss)
            row = got.loc[k]
            assert row["n_cells"] == n
            assert row["valid_share"] == pytest.approx(ok.mean(), rel=1e-12)
            if not oks.any():
                assert np.isnan(row["slope_mean_deg"]) and np.isnan(row["slope_max_deg"])
                continue
            assert row["elev_mean_m"] == pytest.approx(zz[ok].mean(), rel=1e-12)
            assert row["slope_mean_deg"] == pytest.approx(ss[oks].mean(), rel=1e-12)
            assert row["slope_max_deg"] == ss[oks].max()
            assert row["steep_share"] == pytest.approx((ss[oks] > 20.0).mean(), rel=1e-12)
            free = ~excl[inside] & oks
            assert row["free_cells"] == int(free.sum())
            if free.any():
                assert row["free_steep_share"] == pytest.approx((ss[free] > 20.0).mean(), rel=1e-12)
            checked += 1
        assert checked > 25
        assert got["free_cells"].lt(got["n_cells"]).any() and got["valid_share"].lt(1).any()


# --------------------------------------------------------------------------------- popup values
def _values_one_by_one(series: pd.Series) -> list[object]:
    """Element by element, as the page's popups took them before: numbers stay numbers, the rest is text."""
    out: list[object] = []
    for v in series:
        if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
            out.append(None)
        elif isinstance(v, (bool, np.bool_)):
            out.append(bool(v))
        elif isinstance(v, (int, np.integer)):
            out.append(int(v))
        elif isinstance(v, (float, np.floating)):
            out.append(round(float(v), 4) if math.isfinite(v) else None)
        else:
            out.append(str(v))
    return out


@pytest.mark.parametrize(
    "series",
    [
        pd.Series([1.0, np.nan, np.inf, -np.inf, 2.123456789, -0.00005, 0.00015, 1e20, 2.5e-5]),
        pd.Series([1.5, np.nan, 0.1], dtype="float32"),
        pd.Series([1, 2, -3, 2**40], dtype="int64"),
        pd.Series([7, 0], dtype="uint8"),
        pd.Series([True, False, True]),
        pd.Series(["张家塬村", None, "=1+1", "<b>x</b>", ""], dtype="str"),
        pd.Series(["a", None], dtype="string"),
        pd.Series([1, None, 3], dtype="Int64"),
    ],
)
def test_popup_values_equal_element_by_element(series: pd.Series) -> None:
    from geofupin.maps.data import column_values

    got = column_values(series)
    expect = _values_one_by_one(series)
    assert got == expect
    assert [type(x) for x in got] == [type(x) for x in expect]  # 1 stays an int, "1" text, True a bool


def test_zonal_terrain_dense_zones_equal_sparse_zones(tmp_path: Path) -> None:
    """A generated grid covers the whole window (the window's Horn, sliced); one cell a zone (Horn at the cells):
    the same numbers for the zones both hold."""
    z = _rough(80, 90, 6).astype("float32").astype(float)
    z[20:26, 40:47] = np.nan
    tf = Affine(30.0, 0.0, 500000.0, 0.0, -30.0, 4400000.0)
    dem = _write_dem(tmp_path / "dem.tif", z, tf, UTM)
    x0, y0 = np.meshgrid(500000.0 + 30.0 * np.arange(0, 90, 3), 4400000.0 - 30.0 * np.arange(3, 81, 3))
    grid = gpd.GeoSeries(shapely.box(x0.ravel(), y0.ravel(), x0.ravel() + 90.0, y0.ravel() + 90.0), crs=UTM)
    dense = terrain.zonal_terrain(dem, grid, slope_limit_deg=20.0)
    picked = np.arange(0, len(grid), 17)  # a few cells of the window: Horn at those cells only
    sparse = terrain.zonal_terrain(dem, grid.iloc[picked], slope_limit_deg=20.0)
    assert len(picked) * 9 * 4 < z.size  # the sparse path indeed
    pd.testing.assert_frame_equal(sparse, dense.iloc[picked], check_exact=True)
    assert dense["n_cells"].eq(9).all() and dense["slope_mean_deg"].notna().sum() > 0.9 * len(grid)


def test_exclusions_burn_the_same_cells_as_shapely_geometries() -> None:
    """The exclusions reach ``rasterize`` as GeoJSON mappings built from coordinate arrays: the same cells."""
    rng = np.random.default_rng(8)
    tf = Affine(30.0, 0.0, 500000.0, 0.0, -30.0, 4400000.0)
    pts = shapely.points(500000 + rng.uniform(0, 3000, 30), 4400000 - rng.uniform(0, 3000, 30))
    blobs = shapely.buffer(pts, rng.uniform(30, 400, 30), quad_segs=5)
    holed = shapely.difference(blobs, shapely.buffer(pts, 20.0))  # polygons with holes
    merged = shapely.union_all(blobs)  # a MultiPolygon
    for geoms in (list(holed), [merged], [shapely.Point(500100, 4399900).buffer(45)]):
        expect = rasterio.features.rasterize([(g, 1) for g in geoms], out_shape=(110, 105), transform=tf, fill=0)
        got = rasterio.features.rasterize(
            [(terrain._shape_mapping(g), 1) for g in geoms], out_shape=(110, 105), transform=tf, fill=0
        )
        np.testing.assert_array_equal(got, expect)
        assert expect.sum() > 0
    assert shapely.get_num_interior_rings(holed).sum() > 10 and merged.geom_type == "MultiPolygon"
