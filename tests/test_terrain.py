"""Tests of geofupin.terrain: analytic slopes, an independent Horn on real SRTM, windowed == whole."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from pyproj import CRS, Geod
from scipy.ndimage import distance_transform_edt

from geofupin import terrain
from geofupin.errors import CRSError, DataError

UTM = CRS.from_epsg(32631)
WGS84 = CRS.from_epsg(4326)


def write_dem(path: Path, z: np.ndarray, transform: Affine, crs: CRS, nodata: float | None = -9999.0) -> Path:
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=z.shape[1],
        height=z.shape[0],
        count=1,
        dtype="float32",
        crs=crs,
        transform=transform,
        nodata=nodata,
    ) as dst:
        dst.write(z.astype("float32"), 1)
    return path


# --- analytic slopes ----------------------------------------------------------------------


def test_tilted_plane_matches_analytic_slope_everywhere_inside() -> None:
    y, x = np.mgrid[0:40, 0:50] * 10.0
    z = 0.3 * x - 0.4 * y  # gradient (0.3, 0.4) -> |grad| 0.5
    s = terrain.horn_slope_deg(z, xres_m=10, yres_m=10)
    assert s[1:-1, 1:-1] == pytest.approx(np.degrees(np.arctan(0.5)), abs=1e-9)
    # gdaldem without -compute_edges: the border is NaN, nothing else
    s_nan = terrain.horn_slope_deg(z, xres_m=10, yres_m=10, edges="nan")
    assert np.isnan(s_nan).sum() == 2 * 40 + 2 * 50 - 4
    assert np.isfinite(s).all()  # -compute_edges: every cell has a value


def test_anisotropic_cells() -> None:
    y, x = np.mgrid[0:20, 0:20]
    z = 2.0 * (x * 30.0) + 1.0 * (y * 10.0)  # in metres: dz/dx = 2, dz/dy = 1
    s = terrain.horn_slope_deg(z, xres_m=30, yres_m=10)
    assert s[1:-1, 1:-1] == pytest.approx(np.degrees(np.arctan(np.sqrt(5))), abs=1e-9)


def test_cone_matches_analytic_slope_away_from_apex() -> None:
    n, h = 201, 5.0
    y, x = (np.mgrid[0:n, 0:n] - n // 2) * h
    r = np.hypot(x, y)
    k = 0.7
    z = 500 - k * r
    s = terrain.horn_slope_deg(z, xres_m=h, yres_m=h)
    ring = (r > 10 * h) & (r < (n // 2 - 2) * h)
    assert np.abs(s[ring] - np.degrees(np.arctan(k))).max() < 0.3
    assert np.abs(s[ring] - np.degrees(np.arctan(k))).mean() < 0.05


def test_voids_are_unknown_not_sea_level() -> None:
    z = np.full((10, 10), 1000.0)
    z[4, 4] = -32768
    s = terrain.horn_slope_deg(z, xres_m=30, yres_m=30, nodata=-32768)
    assert np.isnan(s[4, 4])
    # neighbours of the void stay flat (the void is not a 1000 m pit)
    assert s[3:6, 3:6][~np.isnan(s[3:6, 3:6])] == pytest.approx(0.0)
    s_nan = terrain.horn_slope_deg(z, xres_m=30, yres_m=30, nodata=-32768, edges="nan")
    assert np.isnan(s_nan[3:6, 3:6]).all()


def test_metres_per_degree_on_wgs84() -> None:
    lon_m, lat_m = terrain.metres_per_degree(np.array([0.0, 60.0]))
    g = Geod(ellps="WGS84")
    assert lon_m[1] == pytest.approx(g.inv(0, 60, 0.001, 60)[2] * 1000, rel=1e-6)
    assert lat_m[0] == pytest.approx(g.inv(0, -0.0005, 0, 0.0005)[2] * 1000, rel=1e-6)
    assert lon_m[1] == pytest.approx(lon_m[0] / 2, rel=3e-3)


def test_geographic_dem_slope_uses_metres_per_degree_by_row(tmp_path: Path) -> None:
    # a plane rising 0.1 m per metre eastwards, on a 1 arc-second grid at 60 degrees north
    res = 1 / 3600
    tf = Affine(res, 0, 10.0, 0, -res, 60.05)
    rows = np.arange(300)
    xres, _ = terrain.cell_size_m(tf, WGS84, rows)
    x_m = np.arange(200)[None, :] * xres[:, None]
    z = 100 + 0.1 * x_m
    path = write_dem(tmp_path / "geo.tif", z, tf, WGS84)
    out = terrain.slope_raster(path, tmp_path / "slope.tif", tile=64)
    with rasterio.open(out) as src:
        s = src.read(1)
    assert s[1:-1, 1:-1] == pytest.approx(np.degrees(np.arctan(0.1)), abs=2e-3)


# --- real SRTM vs an independent Horn -----------------------------------------------------


def _independent_horn(z: np.ndarray, tf: Affine) -> np.ndarray:
    """Horn slope with plain numpy, cell sizes from geodesic distances (pyproj.Geod), no edges."""
    g = Geod(ellps="WGS84")
    h, w = z.shape
    lat = tf.f + (np.arange(h) + 0.5) * tf.e
    lon0 = tf.c
    ew = np.asarray(g.inv(np.full(h, lon0), lat, np.full(h, lon0 + tf.a), lat)[2])
    ns = np.asarray(g.inv(np.full(h, lon0), lat - tf.e / 2, np.full(h, lon0), lat + tf.e / 2)[2])
    out = np.full((h, w), np.nan)
    a, b, c = z[:-2, :-2], z[:-2, 1:-1], z[:-2, 2:]
    d, f = z[1:-1, :-2], z[1:-1, 2:]
    gg, hh, ii = z[2:, :-2], z[2:, 1:-1], z[2:, 2:]
    dzdx = ((c + 2 * f + ii) - (a + 2 * d + gg)) / (8 * ew[1:-1, None])
    dzdy = ((gg + 2 * hh + ii) - (a + 2 * b + c)) / (8 * ns[1:-1, None])
    out[1:-1, 1:-1] = np.degrees(np.arctan(np.sqrt(dzdx**2 + dzdy**2)))
    out[np.isnan(z)] = np.nan  # Horn gives the centre no weight: a void centre must be masked explicitly
    return out


@pytest.mark.shared
def test_srtm_andorra_matches_independent_horn(shared_data: Path, tmp_path: Path) -> None:
    dem = shared_data / "andorra" / "andorra_srtm3.tif"
    if not dem.exists():
        pytest.skip("andorra_srtm3.tif absent")
    with rasterio.open(dem) as src:
        raw = src.read(1).astype(float)
        tf, nodata = src.transform, src.nodata
    z = np.where(raw == nodata, np.nan, raw)
    expect = _independent_horn(z, tf)
    out = terrain.slope_raster(dem, tmp_path / "s.tif", tile=300, edges="nan")
    with rasterio.open(out) as src:
        got = src.read(1).astype(float)
    both = np.isfinite(expect) & np.isfinite(got)
    assert both.sum() > 0.95 * z.size
    assert np.abs(got[both] - expect[both]).max() < 0.01
    assert (np.isnan(got) == np.isnan(expect)).all()  # voids and their neighbours unknown, same cells
    voids = np.isnan(z)
    assert voids.any() and np.isnan(got[voids]).all()
    # default (-compute_edges) mode agrees away from voids and borders, and voids stay unknown
    out2 = terrain.slope_raster(dem, tmp_path / "s2.tif", tile=257)
    with rasterio.open(out2) as src:
        got2 = src.read(1).astype(float)
    assert np.abs(got2[both] - expect[both]).max() < 0.01
    assert np.isnan(got2[voids]).all()


# --- windowed == whole array --------------------------------------------------------------


def _rough_dem(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    z = 800 + 80 * np.sin(x / 17.0) * np.cos(y / 23.0) + rng.normal(0, 2, (h, w))
    z[30:45, 50:70] = np.nan  # a void block
    return z


def test_windowed_slope_equals_whole_array(tmp_path: Path) -> None:
    z = _rough_dem(150, 170)
    tf = Affine(30, 0, 400000, 0, -30, 4700000)
    path = write_dem(tmp_path / "d.tif", np.where(np.isnan(z), -9999, z), tf, UTM)
    z32 = np.where(np.isnan(z), np.nan, z.astype(np.float32).astype(float))
    for edges in ("compute", "nan"):
        whole = terrain.horn_slope_deg(z32, xres_m=30, yres_m=30, edges=edges)
        out = terrain.slope_raster(path, tmp_path / f"s_{edges}.tif", tile=37, edges=edges)
        with rasterio.open(out) as src:
            win = src.read(1).astype(float)
        assert np.array_equal(np.isnan(win), np.isnan(whole))
        ok = np.isfinite(whole)
        assert win[ok] == pytest.approx(whole[ok].astype(np.float32), abs=1e-5)


def test_all_nodata_tiles_give_unknown(tmp_path: Path) -> None:
    z = np.full((64, 64), -9999.0)
    z[:, 40:] = 500.0
    path = write_dem(tmp_path / "d.tif", z, Affine(30, 0, 0, 0, -30, 0), UTM)
    out = terrain.slope_raster(path, tmp_path / "s.tif", tile=16)
    with rasterio.open(out) as src:
        s = src.read(1)
    assert np.isnan(s[:, :40]).all()
    assert s[:, 40:] == pytest.approx(0.0)


# --- distance rasters ---------------------------------------------------------------------


def test_distance_raster_matches_brute_force() -> None:
    tf = Affine(10, 0, 0, 0, -20, 400)  # anisotropic cells: 10 m wide, 20 m tall
    shape = (20, 30)
    pts = [shapely.Point(55, 395), shapely.Point(255, 105)]
    d = terrain.distance_raster(gpd.GeoSeries(pts), transform=tf, shape=shape, res_m=(20, 10))
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    cx, cy = terrain.apply_transform(tf, cols + 0.5, rows + 0.5)
    # brute force: distance to the centre of the cell holding each point
    best = np.full(shape, np.inf)
    for p in pts:
        c, r = terrain.apply_transform(~tf, p.x, p.y)
        px, py = terrain.apply_transform(tf, np.floor(c) + 0.5, np.floor(r) + 0.5)
        best = np.minimum(best, np.hypot(cx - px, cy - py))
    assert d == pytest.approx(best, abs=1e-3)
    d2 = terrain.distance_raster(gpd.GeoSeries(pts), transform=tf, shape=shape, res_m=(20, 10), engine="scipy")
    assert d2 == pytest.approx(d, abs=1e-3)
    empty = terrain.distance_raster(gpd.GeoSeries([], dtype="geometry"), transform=tf, shape=shape)
    assert np.isinf(empty).all()


def test_windowed_distance_equals_whole_up_to_max_dist() -> None:
    rng = np.random.default_rng(3)
    tf = Affine(30, 0, 0, 0, -30, 300 * 30)
    shape = (300, 260)
    xs, ys = rng.uniform(0, 260 * 30, 12), rng.uniform(0, 300 * 30, 12)
    lines = [shapely.LineString([(x, y), (x + 400, y + 150)]) for x, y in zip(xs, ys, strict=True)]
    whole = terrain.distance_raster(gpd.GeoSeries(lines), transform=tf, shape=shape)
    win = np.full(shape, np.nan, dtype=np.float32)
    for w, d in terrain.distance_raster_windowed(
        gpd.GeoSeries(lines), transform=tf, shape=shape, max_dist_m=1500, tile=64
    ):
        win[w.row_off : w.row_off + w.height, w.col_off : w.col_off + w.width] = d
    near = whole <= 1500
    assert win[near] == pytest.approx(whole[near], abs=1e-3)
    assert np.isinf(win[~near]).all()
    ref = distance_transform_edt(whole > 0, sampling=(30, 30))
    assert whole == pytest.approx(ref, abs=1e-2)


def test_suitability_pipeline_equals_whole_array(tmp_path: Path) -> None:
    z = _rough_dem(120, 140, seed=5)
    tf = Affine(30, 0, 400000, 0, -30, 4700000)
    path = write_dem(tmp_path / "d.tif", np.where(np.isnan(z), -9999, z), tf, UTM)
    road = gpd.GeoSeries([shapely.LineString([(400000, 4698000), (404200, 4697000)])], crs=UTM)
    water = gpd.GeoSeries([shapely.Point(402000, 4699000)], crs=UTM)
    excl = gpd.GeoSeries([shapely.box(401000, 4697500, 401600, 4698500)], crs=UTM)
    rep = terrain.suitability_raster(
        path,
        tmp_path / "suit.tif",
        features={"roads": road, "water": water},
        max_dist_m={"roads": 600, "water": 1200},
        exclude=excl,
        max_slope_deg=12,
        tile=33,
    )
    with rasterio.open(rep.path) as src:
        got = src.read(1)
    z32 = np.where(np.isnan(z), np.nan, z.astype(np.float32).astype(float))
    s = terrain.horn_slope_deg(z32, xres_m=30, yres_m=30)
    dr = terrain.distance_raster(road, transform=tf, shape=z.shape)
    dw = terrain.distance_raster(water, transform=tf, shape=z.shape)
    inside = rasterio.features.rasterize([(excl.iloc[0], 1)], out_shape=z.shape, transform=tf).astype(bool)
    ok = (s <= 12) & (dr <= 600) & (dw <= 1200) & ~inside
    expect = np.where(np.isnan(z), 255, ok.astype(np.uint8))
    assert np.array_equal(got, expect)
    assert rep.cells_suitable == int((expect == 1).sum())
    assert rep.cells_unknown == int(np.isnan(z).sum())


# --- sampling and zonal statistics --------------------------------------------------------


@pytest.fixture()
def plane_dem(tmp_path: Path) -> Path:
    _, x = np.mgrid[0:100, 0:100]
    z = 1000 + 0.25 * x * 30  # slope atan(0.25) = 14.04 deg, rising east
    z[:, 60:] = 1000 + 0.25 * 60 * 30 + (x[:, 60:] - 60) * 30 * 1.0  # 45 deg east of column 60
    z[0:10, 0:10] = -9999
    return write_dem(tmp_path / "plane.tif", z, Affine(30, 0, 500000, 0, -30, 4003000), UTM)


def test_sample_points_elevation_slope_and_reprojection(plane_dem: Path) -> None:
    pts = gpd.GeoSeries(
        [
            shapely.Point(500000 + 20.5 * 30, 4003000 - 50.5 * 30),
            shapely.Point(0, 0),
            shapely.Point(500000 + 5 * 30, 4003000 - 5 * 30),
        ],
        crs=UTM,
    )
    e = terrain.sample_points(plane_dem, pts)
    assert e.iloc[0] == pytest.approx(1000 + 0.25 * 20 * 30)
    assert np.isnan(e.iloc[1]) and np.isnan(e.iloc[2])  # outside the DEM; on a void
    s = terrain.sample_points(plane_dem, pts, what="slope")
    assert s.iloc[0] == pytest.approx(np.degrees(np.arctan(0.25)), abs=1e-4)
    e84 = terrain.sample_points(plane_dem, pts.iloc[:1].to_crs(WGS84))
    assert e84.iloc[0] == pytest.approx(e.iloc[0])
    assert list(e.index) == list(pts.index)


def test_zonal_terrain(plane_dem: Path) -> None:
    def cells(c0: int, r0: int, nc: int, nr: int) -> shapely.Polygon:
        return shapely.box(500000 + c0 * 30, 4003000 - (r0 + nr) * 30, 500000 + (c0 + nc) * 30, 4003000 - r0 * 30)

    zones = gpd.GeoSeries(
        [
            cells(20, 20, 10, 10),
            cells(55, 20, 10, 10),
            cells(22, 22, 4, 4),
            shapely.box(0, 0, 10, 10),
            shapely.box(500000 + 40 * 30 + 1, 4003000 - 40 * 30 - 10, 500000 + 40 * 30 + 11, 4003000 - 40 * 30),
        ],
        crs=UTM,
        index=[10, 11, 12, 13, 14],
    )
    zs = terrain.zonal_terrain(plane_dem, zones, slope_limit_deg=25, tile=32)
    flat = np.degrees(np.arctan(0.25))
    assert list(zs.index) == [10, 11, 12, 13, 14]
    assert zs.loc[10, "n_cells"] == 100 and zs.loc[10, "valid_share"] == 1.0
    assert zs.loc[10, "slope_mean_deg"] == pytest.approx(flat, abs=1e-6)
    assert zs.loc[10, "steep_share"] == 0.0
    # zone 11 straddles the break at column 60: columns 55..59 gentle, 61..64 steep, 60 in between
    assert zs.loc[11, "steep_share"] == pytest.approx(0.5, abs=0.11)
    assert zs.loc[11, "slope_max_deg"] == pytest.approx(45.0, abs=1e-6)
    assert zs.loc[10, "elev_mean_m"] == pytest.approx(1000 + 0.25 * 24.5 * 30)
    # zone 12 lies inside zone 10 (overlap): it still gets all its 16 cells
    assert zs.loc[12, "n_cells"] == 16
    # outside the DEM: unknown
    assert zs.loc[13, "valid_share"] == 0 and np.isnan(zs.loc[13, "slope_mean_deg"])
    # smaller than a cell: the cell under it
    assert zs.loc[14, "n_cells"] == 0 and zs.loc[14, "slope_mean_deg"] == pytest.approx(flat, abs=1e-6)
    # cells outside excluded polygons: zone 11 minus its western half (columns 55..59, all gentle)
    ex = gpd.GeoSeries([cells(50, 0, 10, 100)], crs=UTM)
    zf = terrain.zonal_terrain(plane_dem, zones, slope_limit_deg=25, exclude=ex, tile=32)
    assert zf.loc[11, "free_cells"] == 50 and zf.loc[10, "free_cells"] == 100
    assert zf.loc[11, "free_steep_share"] == 1.0  # columns 60..64: column 60 has 32°, the rest 45°
    assert zf.loc[11, "steep_share"] == zs.loc[11, "steep_share"]


def test_bad_dem_inputs(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        terrain.dem_info(tmp_path / "nope.tif")
    p = tmp_path / "nocrs.tif"
    with rasterio.open(
        p, "w", driver="GTiff", width=4, height=4, count=1, dtype="float32", transform=Affine(1, 0, 0, 0, -1, 4)
    ) as dst:
        dst.write(np.zeros((4, 4), "float32"), 1)
    with pytest.raises(CRSError, match="no CRS"):
        terrain.dem_info(p)
