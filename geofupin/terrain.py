"""Terrain: slope from a DEM, distance rasters, sampling at points, zonal statistics.

Everything here works on a DEM of any size with bounded memory: the raster is processed
tile by tile (``tile`` cells square) with a halo around each tile, so a tile's result is
exactly what the whole-array computation gives for the same cells.

Conventions
-----------
- **Slope** is Horn's (1981) third-order finite difference, the method of ``gdaldem
  slope`` (``-alg Horn``, the default), in degrees::

      dz/dx = ((z0 + 2 z3 + z6) - (z2 + 2 z5 + z8)) / (8 * xres_m)
      dz/dy = ((z6 + 2 z7 + z8) - (z0 + 2 z1 + z2)) / (8 * yres_m)
      slope = atan(sqrt(dz/dx**2 + dz/dy**2))

  with the 3x3 window numbered row by row from the top left.
- **Geographic DEMs** (EPSG:4326 and any lon/lat CRS): the cell size in metres is computed
  per row from the CRS's ellipsoid (metres per degree of longitude shrink with the
  cosine of latitude; metres per degree of latitude vary slightly too), instead of
  ``gdaldem``'s single ``-s 111120`` scale, so slopes are right at every latitude.
- **Nodata and voids** (the nodata value, NaN, SRTM voids) are *unknown*, never sea level:
  a void cell's slope is NaN, its elevation NaN.
- **Edges** (``edges``):

  ``"compute"`` (default) is ``gdaldem slope -compute_edges``: a neighbour that lies
  outside the raster or is nodata takes the value of the centre cell, so border cells and
  cells next to a void get a slope from the neighbours that exist.
  ``"nan"`` is plain ``gdaldem slope``: a cell whose 3x3 window is not complete (border,
  next to a void) gets NaN.
- **Distance rasters** are exact Euclidean distance transforms (the ``edt`` package,
  ``scipy.ndimage.distance_transform_edt`` as a fallback; ``edt`` benchmarks about 4x faster,
  see ``benchmarks/bench_terrain.py``) from cell centres to the nearest cell touched by a
  feature (``rasterio.features.rasterize(all_touched=True)``), in metres with anisotropic
  cell sizes. Windowed, a tile reads a halo of ``ceil(max_dist_m / cell size)`` cells: every
  distance up to ``max_dist_m`` is then exact (any feature within that distance of a core
  cell lies inside the halo), and larger distances are reported as ``+inf`` ("farther than
  ``max_dist_m``"). On a geographic DEM the cell size in metres is taken at each tile's
  centre latitude (relative error below 1e-4 for tiles of 0.1 degree).

Only this module opens raster files (the DEM reader, and the writer of the windowed
pipeline's rasters); vector layers come in as GeoDataFrames/GeoSeries and results go out
as arrays, Series and DataFrames.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.errors
import rasterio.features
import shapely
from affine import Affine
from pyproj import CRS
from rasterio.enums import MaskFlags
from rasterio.windows import Window

from .errors import CRSError, DataError

log = logging.getLogger(__name__)

EdgeMode = Literal["compute", "nan"]
DistanceEngine = Literal["auto", "edt", "scipy"]
Sampled = Literal["elevation", "slope"]

#: Default tile size in cells for windowed processing (a 1024 x 1024 float64 tile is 8 MB).
DEFAULT_TILE = 1024

#: GDAL block cache (MB) while geofupin reads and writes rasters tile by tile. GDAL's default
#: (5 % of RAM) would let the cache, not the tiles, set the memory used on big DEMs.
GDAL_CACHE_MB = 64


def _env() -> rasterio.Env:
    # in bytes: given as a small number ("64", meant as MB) GDAL's rasterize chunks its work
    # as if the cache were 64 bytes and becomes 20x slower
    return rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB * 1024 * 1024)


__all__ = [
    "DEFAULT_TILE",
    "DemInfo",
    "SuitabilityReport",
    "apply_transform",
    "cell_size_m",
    "dem_info",
    "dem_valid_share",
    "distance_raster",
    "distance_raster_windowed",
    "horn_slope_deg",
    "iter_tiles",
    "metres_per_degree",
    "sample_points",
    "slope_raster",
    "suitability_raster",
    "zonal_terrain",
]


# ---------------------------------------------------------------------------------------
# geometry of the grid
# ---------------------------------------------------------------------------------------


def metres_per_degree(lat_deg: np.ndarray | float, crs: CRS | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Metres per degree of longitude and of latitude at latitudes ``lat_deg``.

    Uses the ellipsoid of ``crs`` (WGS84 when ``None``): the radius of the parallel
    ``a cos(phi) / sqrt(1 - e2 sin^2 phi)`` and the meridional radius of curvature
    ``a (1 - e2) / (1 - e2 sin^2 phi)^1.5``, times pi/180.

    Examples
    --------
    >>> lon_m, lat_m = metres_per_degree(0.0)
    >>> round(float(lon_m)), round(float(lat_m))
    (111319, 110574)
    """
    ell = (crs or CRS.from_epsg(4326)).ellipsoid
    a = ell.semi_major_metre if ell is not None else 6378137.0
    inv_f = ell.inverse_flattening if ell is not None else 298.257223563
    f = 1.0 / inv_f if inv_f else 0.0
    e2 = f * (2 - f)
    phi = np.radians(np.asarray(lat_deg, dtype=float))
    s2 = np.sin(phi) ** 2
    w = np.sqrt(1 - e2 * s2)
    lon_m = np.pi / 180 * a * np.cos(phi) / w
    lat_m = np.pi / 180 * a * (1 - e2) / w**3
    return lon_m, lat_m


def cell_size_m(transform: Affine, crs: CRS, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cell width and height in metres for each absolute row index in ``rows``.

    Parameters
    ----------
    transform
        The raster's affine transform (north-up, no rotation).
    crs
        The raster's CRS; geographic CRSs get per-row sizes from the ellipsoid.
    rows
        Absolute row indices.

    Returns
    -------
    ``(xres_m, yres_m)``, each shaped like ``rows``.
    """
    if transform.b != 0 or transform.d != 0:
        raise DataError(
            f"DEM transform {tuple(transform)[:6]} is rotated; geofupin needs a north-up grid. "
            "Fix: warp the DEM first (gdalwarp)."
        )
    rows = np.asarray(rows, dtype=float)
    if crs.is_geographic:
        lat = transform.f + (rows + 0.5) * transform.e
        lon_m, lat_m = metres_per_degree(lat, crs)
        return abs(transform.a) * lon_m, abs(transform.e) * lat_m
    factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    ones = np.ones_like(rows)
    return abs(transform.a) * factor * ones, abs(transform.e) * factor * ones


def apply_transform(tf: Affine, x: np.ndarray | float, y: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Apply an affine transform to coordinates (vectorised; same as ``tf * (x, y)``)."""
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return tf.a * xa + tf.b * ya + tf.c, tf.d * xa + tf.e * ya + tf.f


def _window_box(tf: Affine, win: Window) -> shapely.Polygon:
    """The footprint of a window whose own transform is ``tf``, as a box in map units."""
    xs, ys = apply_transform(tf, np.array([0.0, float(win.width)]), np.array([0.0, float(win.height)]))
    return shapely.box(xs.min(), ys.min(), xs.max(), ys.max())


# ---------------------------------------------------------------------------------------
# slope (Horn)
# ---------------------------------------------------------------------------------------


def _horn_core(zp: np.ndarray, xres_m: np.ndarray, yres_m: np.ndarray, edges: EdgeMode) -> np.ndarray:
    """Horn slope of the interior of ``zp`` (padded by one cell, NaN = missing)."""
    h, w = zp.shape[0] - 2, zp.shape[1] - 2
    c = zp[1 : h + 1, 1 : w + 1]
    xr = np.broadcast_to(np.asarray(xres_m, dtype=float).reshape(-1, 1), (h, 1))
    yr = np.broadcast_to(np.asarray(yres_m, dtype=float).reshape(-1, 1), (h, 1))
    # separable form of Horn's differences: [1, 2, 1] smoothing, then a central difference
    # in place (fewer temporaries), the same operations in the same order: the same bits
    v = 2 * zp[1:-1]  # (h, w + 2): zp[:-2] + 2 zp[1:-1] + zp[2:]
    v += zp[:-2]
    v += zp[2:]
    dx = v[:, :-2] - v[:, 2:]
    dx /= 8 * xr
    del v
    u = 2 * zp[:, 1:-1]  # (h + 2, w)
    u += zp[:, :-2]
    u += zp[:, 2:]
    dy = u[2:] - u[:-2]
    dy /= 8 * yr
    del u
    out = np.hypot(dx, dy, out=dx)
    np.arctan(out, out=out)
    np.degrees(out, out=out)
    if edges == "compute":
        # gdaldem -compute_edges: a missing neighbour takes the centre's value; redo only the
        # cells whose window has a hole (NaN result, known centre)
        rr, cc = np.nonzero(np.isnan(out) & ~np.isnan(c))
        if rr.size:
            win = np.stack([zp[rr + i, cc + j] for i in range(3) for j in range(3)])  # (9, k)
            centre = win[4]
            win = np.where(np.isnan(win), centre, win)
            z0, z1, z2, z3, _, z5, z6, z7, z8 = win
            ddx = ((z0 + 2 * z3 + z6) - (z2 + 2 * z5 + z8)) / (8 * xr[rr, 0])
            ddy = ((z6 + 2 * z7 + z8) - (z0 + 2 * z1 + z2)) / (8 * yr[rr, 0])
            out[rr, cc] = np.degrees(np.arctan(np.hypot(ddx, ddy)))
    out[np.isnan(c)] = np.nan  # a void centre is unknown in both modes
    return out


def _horn_cells(
    zp: np.ndarray, rr: np.ndarray, cc: np.ndarray, xres_m: np.ndarray, yres_m: np.ndarray, edges: EdgeMode
) -> np.ndarray:
    """Horn slope at the core cells ``(rr, cc)`` of ``zp`` (padded by one cell, NaN = missing), one row value each
    of ``xres_m``/``yres_m`` per core row: the values :func:`_horn_core` gives at those cells, for a few cells
    of a large window (the same sums in the same order, so the same bits)."""
    z0, z1, z2, z3, c, z5, z6, z7, z8 = (zp[rr + i, cc + j] for i in range(3) for j in range(3))
    xr, yr = np.asarray(xres_m, dtype=float)[rr], np.asarray(yres_m, dtype=float)[rr]
    dx = ((z0 + 2 * z3 + z6) - (z2 + 2 * z5 + z8)) / (8 * xr)
    dy = ((z6 + 2 * z7 + z8) - (z0 + 2 * z1 + z2)) / (8 * yr)
    out = np.degrees(np.arctan(np.hypot(dx, dy)))
    if edges == "compute":  # as in _horn_core: a missing neighbour takes the centre's value
        k = np.flatnonzero(np.isnan(out) & ~np.isnan(c))
        if k.size:
            win = np.stack([zp[rr[k] + i, cc[k] + j] for i in range(3) for j in range(3)])
            win = np.where(np.isnan(win), win[4], win)
            w0, w1, w2, w3, _, w5, w6, w7, w8 = win
            ddx = ((w0 + 2 * w3 + w6) - (w2 + 2 * w5 + w8)) / (8 * xr[k])
            ddy = ((w6 + 2 * w7 + w8) - (w0 + 2 * w1 + w2)) / (8 * yr[k])
            out[k] = np.degrees(np.arctan(np.hypot(ddx, ddy)))
    out[np.isnan(c)] = np.nan
    return out


def horn_slope_deg(
    z: np.ndarray,
    *,
    xres_m: float | np.ndarray,
    yres_m: float | np.ndarray,
    nodata: float | None = None,
    edges: EdgeMode = "compute",
) -> np.ndarray:
    """Slope in degrees of a whole elevation array by Horn's method (as ``gdaldem slope``).

    Parameters
    ----------
    z
        Elevations (2-D), metres.
    xres_m, yres_m
        Cell width and height in metres: scalars, or one value per row (geographic grids,
        see :func:`cell_size_m`).
    nodata
        Value marking voids (besides NaN); voids are unknown, never sea level.
    edges
        ``"compute"`` (``gdaldem -compute_edges``) or ``"nan"`` (plain ``gdaldem``); see the
        module notes.

    Returns
    -------
    float64 array shaped like ``z``; NaN where unknown.
    """
    zf = np.asarray(z, dtype=float)
    if nodata is not None and not np.isnan(nodata):
        zf = np.where(zf == nodata, np.nan, zf)
    zp = np.pad(zf, 1, constant_values=np.nan)
    return _horn_core(zp, np.asarray(xres_m), np.asarray(yres_m), edges)


# ---------------------------------------------------------------------------------------
# windowed DEM reading
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemInfo:
    """What geofupin needs to know about a DEM file."""

    path: Path
    crs: CRS
    transform: Affine
    width: int
    height: int
    nodata: float | None
    bounds: tuple[float, float, float, float]


def dem_info(path: Path | str) -> DemInfo:
    """Open a DEM's header; raises :class:`DataError`/`CRSError` with a fix when unusable.

    Cheap: reads the header and, for a GeoTIFF, the index of its data blocks (not the data), so a
    file cut short (an interrupted copy or download) is refused here rather than deep in a run.
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"DEM file {p} does not exist. Fix: give the right path under layers.dem in the scenario.")
    try:
        with warnings.catch_warnings(), _env():
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)  # refused just below
            src = rasterio.open(p)
        with src:
            if src.transform.is_identity and not src.gcps[0]:
                raise DataError(
                    f"DEM {p} has no georeferencing (no geotransform: cells are not placed on the ground). "
                    f"Fix: use a georeferenced GeoTIFF, or set it with `gdal_edit.py -a_ullr ... {p.name}`."
                )
            if src.crs is None:
                raise CRSError(f"DEM {p} has no CRS. Fix: set one, e.g. `gdal_edit.py -a_srs EPSG:4326 {p.name}`.")
            _check_tiff_blocks(src, p)
            return DemInfo(
                p, CRS.from_user_input(src.crs), src.transform, src.width, src.height, src.nodata, tuple(src.bounds)
            )
    except rasterio.errors.RasterioError as exc:
        raise DataError(
            f"cannot read DEM {p}: {exc}. Fix: give a GeoTIFF (or another raster GDAL reads); "
            "copy or download it again if it was cut short."
        ) from exc


#: Blocks whose index entries :func:`dem_info` checks against the file size (1 µs each).
MAX_CHECKED_BLOCKS = 4_000_000


def _check_tiff_blocks(src: Any, path: Path) -> None:
    """Raise :class:`DataError` when a GeoTIFF's data blocks end beyond the end of the file (truncated)."""
    if src.driver != "GTiff":
        return
    size = path.stat().st_size
    bh, bw = src.block_shapes[0]
    nby, nbx = -(-src.height // bh), -(-src.width // bw)
    bands = sorted({1, src.count}) if src.interleaving is not None and src.interleaving.name == "BAND" else [1]
    if nby * nbx * len(bands) > MAX_CHECKED_BLOCKS:
        return
    end = 0
    for b in bands:
        for yb in range(nby):
            for xb in range(nbx):
                off = src.get_tag_item(f"BLOCK_OFFSET_{xb}_{yb}", "TIFF", bidx=b)
                n = src.get_tag_item(f"BLOCK_SIZE_{xb}_{yb}", "TIFF", bidx=b)
                if off and n:  # sparse files leave missing blocks at 0 (read as nodata)
                    end = max(end, int(off) + int(n))
    if end > size:
        raise DataError(
            f"DEM {path} is truncated: its data blocks run to byte {end:,} but the file has only {size:,} bytes "
            f"({size / end:.0%}). Fix: copy or download the DEM again (the copy was cut short)."
        )


def nodata_cells(src: Any, values: np.ndarray) -> np.ndarray | None:
    """The cells of ``values`` (band 1 of ``src`` as read) that GDAL's mask marks as nodata, found in the values.

    For a band whose mask is its nodata value (or that is all valid), GDAL's mask of a read is the values read
    compared with nodata, so reading the mask too (``masked=True``) reads and resamples every cell twice. ``None``
    when the values do not settle it exactly: another mask (a mask band, alpha), a nodata the type cannot hold or
    near the float limits (GDAL adjusts those), or a float cell close to but not equal to nodata (GDAL compares
    floats with a tolerance): read those with ``masked=True``.
    """
    flags = list(src.mask_flag_enums[0])
    if flags == [MaskFlags.all_valid]:
        return np.zeros(values.shape, dtype=bool)
    if flags != [MaskFlags.nodata] or src.nodata is None:
        return None
    nd = float(src.nodata)
    if values.dtype.kind == "f":
        if math.isnan(nd):
            return np.isnan(values)
        if not abs(nd) < 1e37 or float(values.dtype.type(nd)) != nd:
            return None
        exact = values == values.dtype.type(nd)
        near = np.abs(values - nd) <= 1e-5 * abs(nd) if nd else np.abs(values) < 1e-30
        return None if (near & ~exact).any() else exact
    if values.dtype.kind in "iu":
        info = np.iinfo(values.dtype)
        if not (nd == math.floor(nd) and info.min <= nd <= info.max):
            return None
        return np.asarray(values == int(nd))
    return None


#: Most cells :func:`dem_valid_share` reads (a decimated read: 1,048,576 float64 cells are 8 MB).
DEM_SAMPLE_CELLS = 1 << 20


def dem_valid_share(path: Path | str, *, max_cells: int = DEM_SAMPLE_CELLS) -> tuple[float, int]:
    """Share of a DEM's cells that hold an elevation, from an evenly decimated read.

    At most ``max_cells`` cells are read (GDAL uses an overview when the file has one), so
    memory and time stay bounded whatever the DEM's size. Nodata, NaN and infinite values do
    not count.

    Returns
    -------
    ``(share, cells_read)``.

    Raises
    ------
    DataError
        When a data block cannot be read (a damaged or truncated file).
    """
    info = dem_info(path)
    factor = max(1, math.ceil(math.sqrt(info.height * info.width / max(max_cells, 1))))
    shape = (max(1, info.height // factor), max(1, info.width // factor))
    try:
        with _env(), rasterio.open(info.path) as src:
            data = src.read(1, out_shape=shape)
            # a nodata mask is the values read compared with nodata: found in them (masked=True reads cells twice)
            missing = nodata_cells(src, data)
            if missing is None:
                masked = src.read(1, out_shape=shape, masked=True)
                data, missing = np.ma.getdata(masked), np.ma.getmaskarray(masked)
    except rasterio.errors.RasterioError as exc:
        raise DataError(
            f"DEM {info.path} is damaged: its data cannot be read ({exc}). Fix: copy or download it again."
        ) from exc
    ok = ~missing & np.isfinite(data.astype(np.float64, copy=False))
    return float(ok.mean()), int(ok.size)


def iter_tiles(height: int, width: int, tile: int = DEFAULT_TILE) -> Iterator[Window]:
    """Core windows of ``tile`` x ``tile`` cells covering a ``height`` x ``width`` raster, row-major."""
    for r in range(0, height, tile):
        for c in range(0, width, tile):
            yield Window(c, r, min(tile, width - c), min(tile, height - r))


def _read_halo(src: Any, win: Window, halo: int, nodata: float | None) -> np.ndarray:
    """Read ``win`` grown by ``halo`` cells as float64; outside the raster and voids are NaN."""
    r0, c0 = int(win.row_off) - halo, int(win.col_off) - halo
    r1, c1 = int(win.row_off + win.height) + halo, int(win.col_off + win.width) + halo
    rr0, cc0 = max(r0, 0), max(c0, 0)
    rr1, cc1 = min(r1, src.height), min(c1, src.width)
    data = src.read(1, window=Window(cc0, rr0, cc1 - cc0, rr1 - rr0)).astype(np.float64)
    if nodata is not None and not np.isnan(nodata):
        data[data == nodata] = np.nan
    return np.pad(data, ((rr0 - r0, r1 - rr1), (cc0 - c0, c1 - cc1)), constant_values=np.nan)


def _tile_slope(src: Any, info: DemInfo, win: Window, edges: EdgeMode) -> tuple[np.ndarray, np.ndarray]:
    """(elevation, slope) of one core window; NaN where unknown."""
    zp = _read_halo(src, win, 1, info.nodata)
    rows = np.arange(int(win.row_off), int(win.row_off + win.height))
    xres, yres = cell_size_m(info.transform, info.crs, rows)
    return zp[1:-1, 1:-1], _horn_core(zp, xres, yres, edges)


def slope_raster(
    dem_path: Path | str,
    dst_path: Path | str,
    *,
    tile: int = DEFAULT_TILE,
    edges: EdgeMode = "compute",
) -> Path:
    """Write the slope (degrees, float32, NaN nodata) of a DEM, tile by tile.

    Memory stays bounded by a few tiles whatever the DEM's size. The output is a tiled
    GeoTIFF on the DEM's grid; it is an intermediate of the windowed pipeline (final user
    outputs are written by :mod:`geofupin.io`).
    """
    info = dem_info(dem_path)
    profile = _tiled_profile(info, dtype="float32", nodata=float("nan"))
    dst_path = Path(dst_path)
    with _env(), rasterio.open(info.path) as src, rasterio.open(dst_path, "w", **profile) as dst:
        for win in iter_tiles(info.height, info.width, tile):
            _, s = _tile_slope(src, info, win, edges)
            dst.write(s.astype(np.float32), 1, window=win)
    return dst_path


def _tiled_profile(info: DemInfo, *, dtype: str, nodata: float) -> dict[str, Any]:
    return {
        "driver": "GTiff",
        "width": info.width,
        "height": info.height,
        "count": 1,
        "dtype": dtype,
        "crs": info.crs,
        "transform": info.transform,
        "nodata": nodata,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
        "BIGTIFF": "IF_SAFER",
    }


# ---------------------------------------------------------------------------------------
# distance rasters
# ---------------------------------------------------------------------------------------


def _edt(mask_free: np.ndarray, sampling: tuple[float, float], engine: DistanceEngine) -> np.ndarray:
    """Exact Euclidean distance (float32) from each True cell to the nearest False cell."""
    if engine in ("auto", "edt"):
        try:
            import edt as _edtpkg

            return _edtpkg.edt(np.ascontiguousarray(mask_free), anisotropy=sampling, black_border=False, parallel=1)
        except ImportError:
            if engine == "edt":
                raise
    from scipy.ndimage import distance_transform_edt

    return distance_transform_edt(mask_free, sampling=sampling).astype(np.float32)


def distance_raster(
    geoms: gpd.GeoSeries | Any,
    *,
    transform: Affine,
    shape: tuple[int, int],
    res_m: tuple[float, float] | None = None,
    engine: DistanceEngine = "auto",
) -> np.ndarray:
    """Whole-array distance in metres from every cell to the nearest feature.

    Parameters
    ----------
    geoms
        Features in the grid's CRS (a GeoSeries or an array of shapely geometries).
    transform, shape
        The grid.
    res_m
        ``(yres_m, xres_m)`` cell size in metres; default: the transform's cell size
        (projected grids in metres).
    engine
        ``"auto"`` (the ``edt`` package when installed, else SciPy), ``"edt"`` or ``"scipy"``.

    Returns
    -------
    float32 array; ``+inf`` everywhere when there is no feature.
    """
    g = np.asarray(getattr(geoms, "values", geoms))
    g = g[~shapely.is_missing(g) & ~shapely.is_empty(g)] if g.size else g
    if res_m is None:
        res_m = (abs(transform.e), abs(transform.a))
    if g.size == 0:
        return np.full(shape, np.inf, dtype=np.float32)
    burned = rasterio.features.rasterize(
        ((geom, 1) for geom in g), out_shape=shape, transform=transform, fill=0, all_touched=True, dtype="uint8"
    )
    if not burned.any():
        return np.full(shape, np.inf, dtype=np.float32)
    return _edt(burned == 0, res_m, engine)


def _halo_cells(max_dist_m: float, res_m: tuple[float, float]) -> int:
    return math.ceil(max_dist_m / min(res_m)) + 1


def _tile_distance(
    tree: shapely.STRtree,
    geoms: np.ndarray,
    transform: Affine,
    win: Window,
    halo: int,
    res_m: tuple[float, float],
    max_dist_m: float,
    engine: DistanceEngine,
) -> np.ndarray:
    """Distance (m) for one core window, exact up to ``max_dist_m`` and +inf beyond."""
    h, w = int(win.height), int(win.width)
    big = Window(win.col_off - halo, win.row_off - halo, w + 2 * halo, h + 2 * halo)
    big_tf = rasterio.windows.transform(big, transform)
    idx = tree.query(_window_box(big_tf, big))
    if idx.size == 0:
        return np.full((h, w), np.inf, dtype=np.float32)
    burned = rasterio.features.rasterize(
        ((geom, 1) for geom in geoms[np.sort(idx)]),
        out_shape=(int(big.height), int(big.width)),
        transform=big_tf,
        fill=0,
        all_touched=True,
        dtype="uint8",
    )
    if not burned.any():
        return np.full((h, w), np.inf, dtype=np.float32)
    d = _edt(burned == 0, res_m, engine)[halo : halo + h, halo : halo + w]
    return np.where(d <= max_dist_m, d, np.float32(np.inf))


def distance_raster_windowed(
    geoms: gpd.GeoSeries | Any,
    *,
    transform: Affine,
    shape: tuple[int, int],
    max_dist_m: float,
    res_m: tuple[float, float] | None = None,
    tile: int = DEFAULT_TILE,
    engine: DistanceEngine = "auto",
) -> Iterator[tuple[Window, np.ndarray]]:
    """Distance to the nearest feature, tile by tile with a ``max_dist_m`` halo.

    Yields ``(window, distance_m)`` for each core tile. Distances up to ``max_dist_m``
    equal :func:`distance_raster`'s; larger ones are ``+inf``. Memory per tile is
    ``(tile + 2 * halo)**2`` cells with ``halo = ceil(max_dist_m / cell size) + 1``.
    """
    if res_m is None:
        res_m = (abs(transform.e), abs(transform.a))
    g = np.asarray(getattr(geoms, "values", geoms))
    g = g[~shapely.is_missing(g) & ~shapely.is_empty(g)] if g.size else g
    tree = shapely.STRtree(g)
    halo = _halo_cells(max_dist_m, res_m)
    for win in iter_tiles(shape[0], shape[1], tile):
        yield win, _tile_distance(tree, g, transform, win, halo, res_m, max_dist_m, engine)


# ---------------------------------------------------------------------------------------
# the windowed suitability pipeline
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SuitabilityReport:
    """What :func:`suitability_raster` wrote.

    Attributes
    ----------
    path
        The uint8 raster: 1 suitable, 0 unsuitable, 255 unknown (DEM void).
    cells_total, cells_suitable, cells_unknown
        Cell counts.
    removed_by
        Cells (with known elevation) failing each condition (a cell may fail several).
    """

    path: Path
    cells_total: int
    cells_suitable: int
    cells_unknown: int
    removed_by: Mapping[str, int]


def _to_crs(geoms: gpd.GeoSeries | gpd.GeoDataFrame, crs: CRS, name: str) -> np.ndarray:
    if geoms.crs is None:
        raise CRSError(f"layer '{name}' has no CRS. Fix: set it with `set_crs(...)`.")
    gs = geoms.geometry if isinstance(geoms, gpd.GeoDataFrame) else geoms
    if not CRS.from_user_input(gs.crs).equals(crs):
        gs = gs.to_crs(crs)
    g = np.asarray(gs.values)
    return g[~shapely.is_missing(g) & ~shapely.is_empty(g)]


def suitability_raster(
    dem_path: Path | str,
    dst_path: Path | str,
    *,
    features: Mapping[str, gpd.GeoSeries | gpd.GeoDataFrame],
    max_dist_m: Mapping[str, float],
    exclude: gpd.GeoSeries | gpd.GeoDataFrame | None = None,
    max_slope_deg: float = 25.0,
    tile: int = DEFAULT_TILE,
    edges: EdgeMode = "compute",
    engine: DistanceEngine = "auto",
) -> SuitabilityReport:
    """Windowed suitability: read, slope, distances, overlay, write — tile by tile.

    A cell is suitable when its slope is at most ``max_slope_deg``, it is within
    ``max_dist_m[name]`` of a feature of every layer in ``features`` (water, power, roads
    ...), and it is outside every polygon of ``exclude`` (buffered constraints). Memory is
    bounded by the tile plus the largest distance halo, whatever the DEM's size.

    Parameters
    ----------
    dem_path, dst_path
        DEM to read, raster to write (uint8 on the DEM grid).
    features
        Layers by name; reprojected to the DEM's CRS when needed.
    max_dist_m
        Distance limit per layer name (every name in ``features`` needs one).
    exclude
        Polygons where nothing may be built.
    max_slope_deg, tile, edges, engine
        See :func:`horn_slope_deg` and :func:`distance_raster`.
    """
    missing = sorted(set(features) - set(max_dist_m))
    if missing:
        raise DataError(f"suitability: no max_dist_m for layer(s) {missing}. Fix: give a limit for each layer.")
    info = dem_info(dem_path)
    layers = {k: _to_crs(v, info.crs, k) for k, v in features.items()}
    trees = {k: shapely.STRtree(g) for k, g in layers.items()}
    excl = _to_crs(exclude, info.crs, "constraints") if exclude is not None else np.array([], dtype=object)
    excl_tree = shapely.STRtree(excl)
    profile = _tiled_profile(info, dtype="uint8", nodata=255)
    removed = {"slope": 0, "constraints": 0, **{f"dist_{k}": 0 for k in layers}}
    total = suitable = unknown = 0
    dst_path = Path(dst_path)
    with _env(), rasterio.open(info.path) as src, rasterio.open(dst_path, "w", **profile) as dst:
        for win in iter_tiles(info.height, info.width, tile):
            z, s = _tile_slope(src, info, win, edges)
            known = ~np.isnan(z)
            ok = known & (s <= max_slope_deg)
            removed["slope"] += int((known & ~(s <= max_slope_deg)).sum())
            if known.any():
                rows = np.array([win.row_off + win.height / 2.0])
                xres, yres = cell_size_m(info.transform, info.crs, rows)
                res = (float(yres[0]), float(xres[0]))
                for name, g in layers.items():
                    d = _tile_distance(
                        trees[name], g, info.transform, win, _halo_cells(max_dist_m[name], res), res,
                        max_dist_m[name], engine,
                    )  # fmt: skip
                    bad = known & ~(d <= max_dist_m[name])
                    removed[f"dist_{name}"] += int(bad.sum())
                    ok &= ~bad
                if excl.size:
                    wtf = rasterio.windows.transform(win, info.transform)
                    idx = excl_tree.query(_window_box(wtf, win))
                    if idx.size:
                        inside = rasterio.features.rasterize(
                            ((geom, 1) for geom in excl[np.sort(idx)]),
                            out_shape=(int(win.height), int(win.width)),
                            transform=wtf,
                            fill=0,
                            dtype="uint8",
                        ).astype(bool)
                        removed["constraints"] += int((known & inside).sum())
                        ok &= ~inside
            out = np.where(known, ok.astype(np.uint8), np.uint8(255))
            dst.write(out, 1, window=win)
            total += out.size
            suitable += int(ok.sum())
            unknown += int((~known).sum())
    return SuitabilityReport(dst_path, total, suitable, unknown, removed)


# ---------------------------------------------------------------------------------------
# sampling and zonal statistics
# ---------------------------------------------------------------------------------------


def sample_points(
    dem_path: Path | str,
    points: gpd.GeoSeries | gpd.GeoDataFrame,
    *,
    what: Sampled = "elevation",
    tile: int = DEFAULT_TILE,
    edges: EdgeMode = "compute",
) -> pd.Series:
    """Elevation (m) or slope (degrees) of the DEM cell under each point.

    Nearest cell, no interpolation. Points outside the DEM or on voids get NaN (unknown).
    Points are reprojected to the DEM's CRS; the DEM is read only in the tiles that hold
    points, one tile at a time.

    Returns
    -------
    Series indexed like ``points``, named ``elevation_m`` or ``slope_deg``.
    """
    info = dem_info(dem_path)
    name = "elevation_m" if what == "elevation" else "slope_deg"
    out = np.full(len(points), np.nan)
    if len(points):
        g = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
        if g.crs is None:
            raise CRSError("points have no CRS. Fix: set it with `set_crs(...)`.")
        if not CRS.from_user_input(g.crs).equals(info.crs):
            g = g.to_crs(info.crs)
        geoms = np.asarray(g.values)
        pts = shapely.point_on_surface(geoms)
        x, y = shapely.get_x(pts), shapely.get_y(pts)
        col, row = apply_transform(~info.transform, x, y)
        valid = np.isfinite(col) & np.isfinite(row)
        col = np.where(valid, np.floor(col), -1).astype(np.int64)
        row = np.where(valid, np.floor(row), -1).astype(np.int64)
        inside = (col >= 0) & (col < info.width) & (row >= 0) & (row < info.height)
        ntx = -(-info.width // tile)
        tid = np.where(inside, (row // tile) * ntx + col // tile, -1)
        with _env(), rasterio.open(info.path) as src:
            for t in np.unique(tid[tid >= 0]):
                sel = np.flatnonzero(tid == t)
                tr, tc = divmod(int(t), ntx)
                w = min(tile, info.width - tc * tile)
                win = Window(tc * tile, tr * tile, w, min(tile, info.height - tr * tile))
                slope = what == "slope"
                arr = _tile_slope(src, info, win, edges)[1] if slope else _read_halo(src, win, 0, info.nodata)
                out[sel] = arr[row[sel] - tr * tile, col[sel] - tc * tile]
    return pd.Series(out, index=points.index, name=name)


def _overlap_layers(geoms: np.ndarray) -> np.ndarray:
    """Assign each polygon a layer so that polygons in one layer do not overlap (by area)."""
    layer = np.zeros(len(geoms), dtype=np.int64)
    if len(geoms) < 2:
        return layer
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    if a.size:
        area = shapely.area(shapely.intersection(geoms[a], geoms[b]))
        a, b = a[area > 0], b[area > 0]
    if a.size == 0:
        return layer
    import networkx as nx

    graph = nx.Graph()
    graph.add_edges_from(zip(a.tolist(), b.tolist(), strict=True))
    for node, colour in nx.greedy_color(graph, strategy="largest_first").items():
        layer[node] = colour
    return layer


def _zone_cells_slope(
    src: Any, info: DemInfo, win: Window, need: np.ndarray, edges: EdgeMode
) -> tuple[np.ndarray, np.ndarray, Window]:
    """(elevation, slope) at the cells ``need`` marks in a core window (its top-left part), over their
    bounding window (returned; NaN at the cells not marked).

    Reads only that window (with its one-cell halo) and computes the slope at the marked cells
    alone (:func:`_horn_cells`): the values :func:`_tile_slope` gives there, where a county's
    candidate sites cover a few hundred cells of a million-cell tile.
    """
    rr, cc = np.nonzero(need)
    r0, c0 = int(rr.min()), int(cc.min())
    sub = Window(int(win.col_off) + c0, int(win.row_off) + r0, int(cc.max()) + 1 - c0, int(rr.max()) + 1 - r0)
    zp = _read_halo(src, sub, 1, info.nodata)
    xres, yres = cell_size_m(info.transform, info.crs, np.arange(int(sub.row_off), int(sub.row_off + sub.height)))
    z = np.full((int(sub.height), int(sub.width)), np.nan)
    s = np.full(z.shape, np.nan)
    z[rr - r0, cc - c0] = zp[rr - r0 + 1, cc - c0 + 1]
    if 4 * rr.size > z.size:  # zones covering most of the window (a generated grid): the window's Horn
        s[rr - r0, cc - c0] = _horn_core(zp, xres, yres, edges)[rr - r0, cc - c0]
    else:
        s[rr - r0, cc - c0] = _horn_cells(zp, rr - r0, cc - c0, xres, yres, edges)
    return z, s, sub


def _shape_mapping(geom: Any) -> Any:
    """A (multi)polygon as the GeoJSON mapping ``rasterize`` reads, its coordinates taken as arrays (shapely's
    ``__geo_interface__`` walks them vertex by vertex in Python); the same coordinates. Other geometries as given."""
    kind = shapely.get_type_id(geom)
    if kind == 3:
        return {"type": "Polygon", "coordinates": _ring_lists(geom)}
    if kind == 6:
        return {"type": "MultiPolygon", "coordinates": [_ring_lists(part) for part in geom.geoms]}
    return geom


def _ring_lists(polygon: Any) -> list[Any]:
    rings = [polygon.exterior, *polygon.interiors]
    return [shapely.get_coordinates(ring).tolist() for ring in rings]


def _burn_shape(tf: Affine, bounds: np.ndarray, shape: tuple[int, int]) -> tuple[int, int]:
    """Rows and columns of a window (transform ``tf``, ``shape``) from its top-left corner down to the last cell
    whose centre can lie inside geometries with these bounds (``minx, miny, maxx, maxy`` rows), one to spare."""
    if not (tf.a > 0 and tf.e < 0 and tf.b == 0 and tf.d == 0) or not len(bounds):
        return shape
    maxx, miny = float(np.nanmax(bounds[:, 2])), float(np.nanmin(bounds[:, 1]))
    rows = math.floor((tf.f - miny) / -tf.e) + 2
    cols = math.floor((maxx - tf.c) / tf.a) + 2
    return (min(shape[0], max(rows, 1)), min(shape[1], max(cols, 1)))


def zonal_terrain(
    dem_path: Path | str,
    zones: gpd.GeoSeries | gpd.GeoDataFrame,
    *,
    slope_limit_deg: float = 25.0,
    exclude: gpd.GeoSeries | None = None,
    tile: int = DEFAULT_TILE,
    edges: EdgeMode = "compute",
) -> pd.DataFrame:
    """Terrain statistics of each polygon, computed tile by tile.

    A cell belongs to a polygon when its centre lies inside (``rasterize`` without
    ``all_touched``); overlapping polygons are handled (each gets all its cells). A polygon
    smaller than a cell gets the values of the cell under its representative point.

    Returns
    -------
    DataFrame indexed like ``zones`` with ``n_cells`` (cells inside), ``valid_share``
    (share of them with data; 0 when the DEM does not cover the polygon), ``elev_mean_m``,
    ``slope_mean_deg``, ``slope_max_deg`` and ``steep_share`` (share of cells with data
    steeper than ``slope_limit_deg``). Statistics are NaN when no cell has data.

    With ``exclude`` (polygons, e.g. buffered constraints) two more columns describe the
    cells of each polygon outside them: ``free_cells`` and ``free_steep_share``.
    """
    info = dem_info(dem_path)
    g = zones.geometry if isinstance(zones, gpd.GeoDataFrame) else zones
    n = len(g)
    if g.crs is None:
        raise CRSError("zones have no CRS. Fix: set it with `set_crs(...)`.")
    if n and not CRS.from_user_input(g.crs).equals(info.crs):
        g = g.to_crs(info.crs)
    geoms = np.asarray(g.values)
    cnt = np.zeros(n)
    nvalid = np.zeros(n)
    sum_z = np.zeros(n)
    sum_s = np.zeros(n)
    steep = np.zeros(n)
    nslope = np.zeros(n)
    smax = np.full(n, -np.inf)
    usable = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms) if n else np.zeros(0, bool)
    tree = shapely.STRtree(np.where(usable, geoms, None))  # type: ignore[call-overload]
    layers = _overlap_layers(np.where(usable, geoms, shapely.Point()))
    excl = _to_crs(exclude, info.crs, "exclude") if exclude is not None else np.array([], dtype=object)
    excl_tree = shapely.STRtree(excl)
    free_n = np.zeros(n)
    free_steep = np.zeros(n)
    with _env(), rasterio.open(info.path) as src:
        for win in iter_tiles(info.height, info.width, tile):
            wtf = rasterio.windows.transform(win, info.transform)
            idx = tree.query(_window_box(wtf, win))
            if idx.size == 0:
                continue
            # the zones' cells lie within their bounds: burn the tile's grid only that far down and right (the
            # same origin, so the same cells)
            shape = _burn_shape(wtf, shapely.bounds(geoms[idx]), (int(win.height), int(win.width)))
            labels = []
            for lay in np.unique(layers[idx]):
                ids = np.sort(idx[layers[idx] == lay])
                lab = rasterio.features.rasterize(
                    ((_shape_mapping(geoms[i]), int(i) + 1) for i in ids),
                    out_shape=shape,
                    transform=wtf,
                    fill=0,
                    dtype="int32",
                )
                if lab.any():
                    labels.append(lab)
            if not labels:
                continue
            z, s, sub = _zone_cells_slope(src, info, win, np.logical_or.reduce([lab > 0 for lab in labels]), edges)
            # the zones' cells, row by row as in the whole tile: the window ``sub`` holds them all
            r0, c0 = int(sub.row_off - win.row_off), int(sub.col_off - win.col_off)
            cut = np.s_[r0 : r0 + int(sub.height), c0 : c0 + int(sub.width)]
            free = np.ones(z.shape, dtype=bool)
            # only the exclusions over the zones' cells matter (``free`` is read there): burn those, on the tile grid
            sub_box = _window_box(rasterio.windows.transform(sub, info.transform), sub)
            eidx = excl_tree.query(sub_box) if excl.size else np.array([], dtype=np.int64)
            if eidx.size:
                burned = rasterio.features.rasterize(
                    ((_shape_mapping(geom), 1) for geom in excl[np.sort(eidx)]),
                    out_shape=shape,
                    transform=wtf,
                    fill=0,
                    dtype="uint8",
                )
                free = burned[cut] == 0
            for lab in labels:
                m = lab[cut] > 0
                li = lab[cut][m] - 1
                zz, ss = z[m], s[m]
                ok = ~np.isnan(zz)
                cnt += np.bincount(li, minlength=n)
                nvalid += np.bincount(li[ok], minlength=n)
                sum_z += np.bincount(li[ok], weights=zz[ok], minlength=n)
                oks = ~np.isnan(ss)
                nslope += np.bincount(li[oks], minlength=n)
                sum_s += np.bincount(li[oks], weights=ss[oks], minlength=n)
                steep += np.bincount(li[oks], weights=(ss[oks] > slope_limit_deg).astype(float), minlength=n)
                np.maximum.at(smax, li[oks], ss[oks])
                fr = free[m] & oks
                free_n += np.bincount(li[fr], minlength=n)
                free_steep += np.bincount(li[fr], weights=(ss[fr] > slope_limit_deg).astype(float), minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        elev = np.where(nvalid > 0, sum_z / nvalid, np.nan)
        df = pd.DataFrame(
            {
                "n_cells": cnt.astype(np.int64),
                "valid_share": np.where(cnt > 0, nvalid / np.maximum(cnt, 1), 0.0),
                "elev_mean_m": elev,
                "slope_mean_deg": np.where(nslope > 0, sum_s / np.maximum(nslope, 1), np.nan),
                "slope_max_deg": np.where(np.isfinite(smax), smax, np.nan),
                "steep_share": np.where(nslope > 0, steep / np.maximum(nslope, 1), np.nan),
            },
            index=zones.index,
        )
        if exclude is not None:
            df["free_cells"] = free_n.astype(np.int64)
            df["free_steep_share"] = np.where(free_n > 0, free_steep / np.maximum(free_n, 1), np.nan)
    small = np.flatnonzero((cnt == 0) & usable)
    if small.size:
        pts = gpd.GeoSeries(shapely.point_on_surface(geoms[small]), crs=info.crs)
        ez = sample_points(info.path, pts, what="elevation", tile=tile).to_numpy()
        es = sample_points(info.path, pts, what="slope", tile=tile, edges=edges).to_numpy()
        pos = df.index[small]
        df.loc[pos, "valid_share"] = np.where(np.isnan(ez), 0.0, 1.0)
        df.loc[pos, "elev_mean_m"] = ez
        df.loc[pos, "slope_mean_deg"] = es
        df.loc[pos, "slope_max_deg"] = es
        df.loc[pos, "steep_share"] = np.where(np.isnan(es), np.nan, (es > slope_limit_deg).astype(float))
        if exclude is not None:
            df.loc[pos, "free_steep_share"] = df.loc[pos, "steep_share"]
    return df
