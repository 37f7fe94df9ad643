"""Least-cost paths over a DEM: slope cost, the 8-neighbour grid graph, Dijkstra, the DEM window.

Routing across open terrain where there is no road yet: :func:`least_cost_path` finds the
cheapest 8-neighbour path on a grid of per-metre cost factors (:func:`slope_cost` of the DEM
slope), and :func:`read_dem_window` reads the DEM resampled onto a metric grid around one
feature. :mod:`geofupin.plans` uses them to lay out new roads; the road graph itself is
:mod:`geofupin.network`.

Slope cost: a cell costs ``1 + (slope_pct / slope_ref_pct)**2`` per metre crossed; cells
steeper than ``max_slope_pct`` are impassable; DEM voids cost as much as the steepest
passable cell (unknown, not flat). Moving between neighbouring cells costs the step length
times the mean of the two cells' factors (as ``skimage.graph.MCP_Geometric``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from pyproj import CRS
from scipy.sparse.csgraph import dijkstra

from .errors import DataError


def slope_cost(slope_deg: np.ndarray, *, slope_ref_pct: float = 10.0, max_slope_pct: float = 60.0) -> np.ndarray:
    """Cost factor per metre from slope: ``1 + (pct/ref)**2``; inf above ``max_slope_pct``; voids cost the max."""
    # in place (fewer temporaries), the same operations in the same order: the same bits
    pct = np.array(slope_deg, dtype=float)  # a copy (the input is not changed), also for a scalar
    np.radians(pct, out=pct)
    np.tan(pct, out=pct)
    np.multiply(pct, 100, out=pct)
    factor = np.divide(pct, slope_ref_pct, out=np.empty_like(pct))
    np.square(factor, out=factor)  # what ``** 2`` computes
    np.add(factor, 1, out=factor)
    factor[np.isnan(pct)] = 1 + (max_slope_pct / slope_ref_pct) ** 2
    factor[pct > max_slope_pct] = np.inf
    return factor


def grid_graph(factor: np.ndarray, *, xres_m: float, yres_m: float) -> sp.csr_matrix:
    """Undirected 8-neighbour graph of a cost grid: edge = step length x mean of the two factors.

    Cells with an infinite or NaN factor have no edges. Each edge is stored once, from the lower
    cell index ``u`` to the higher ``v`` (east, south-west, south, south-east neighbours), and the
    CSR arrays are built directly in canonical order (rows ascending, columns ascending within a
    row: ``u+1 < u+w-1 < u+w < u+w+1``), the same matrix a COO -> CSR conversion gives, without
    its sort.
    """
    h, w = factor.shape
    n = h * w
    f = np.asarray(factor, dtype=float)
    wt = np.empty((h, w, 4))
    # the steps that leave the grid do not exist (inf); every other slot is written below
    wt[:, w - 1, 0] = np.inf
    wt[h - 1, :, 1:] = np.inf
    wt[:, 0, 1] = np.inf
    wt[:, w - 1, 3] = np.inf
    # the four forward neighbours in column order: east (0, 1), south-west (1, -1), south (1, 0), south-east (1, 1)
    for k, (dr, dc) in enumerate(((0, 1), (1, -1), (1, 0), (1, 1))):
        r1 = h - dr
        c0, c1 = (0, w - dc) if dc >= 0 else (-dc, w)
        step = f[0:r1, c0:c1] + f[dr : r1 + dr, c0 + dc : c1 + dc]
        step *= math.hypot(dr * yres_m, dc * xres_m)  # step length x (fa + fb), then / 2: the same bits as before
        step /= 2
        wt[0:r1, c0:c1, k] = step
    ok = np.isfinite(wt).reshape(n, 4)
    itype = np.int32 if n + w + 1 < np.iinfo(np.int32).max else np.int64
    cols = np.arange(n, dtype=itype)[:, None] + np.array([1, w - 1, w, w + 1], dtype=itype)
    indptr = np.zeros(n + 1, dtype=itype)
    # edges per cell by four column adds (a bool sum over axis 1 is slow)
    per_cell: np.ndarray = ok.view(np.uint8).astype(itype)
    np.cumsum(per_cell[:, 0] + per_cell[:, 1] + per_cell[:, 2] + per_cell[:, 3], out=indptr[1:])
    graph = sp.csr_matrix((wt.reshape(n, 4)[ok], cols[ok], indptr), shape=(n, n))
    graph.has_sorted_indices = True
    return graph


@dataclass(frozen=True)
class GridPath:
    """A least-cost path on a grid: cells from source to target, its cost and length."""

    cells: np.ndarray  # (n, 2) row, col
    cost: float
    length_m: float

    @property
    def reached(self) -> bool:
        return len(self.cells) > 0


def least_cost_path(
    factor: np.ndarray,
    sources: np.ndarray,
    targets: np.ndarray,
    *,
    xres_m: float,
    yres_m: float,
) -> GridPath:
    """Cheapest 8-neighbour path from any source cell to any target cell.

    Parameters
    ----------
    factor
        Cost per metre of each cell (>= 1 for slope costs; inf = impassable).
    sources, targets
        Boolean masks shaped like ``factor``.
    xres_m, yres_m
        Cell width and height in metres.

    Returns
    -------
    GridPath; empty ``cells`` and ``cost = inf`` when no target can be reached.
    """
    w = factor.shape[1]
    src = np.flatnonzero(np.asarray(sources, dtype=bool).ravel())
    tgt = np.flatnonzero(np.asarray(targets, dtype=bool).ravel())
    if len(src) == 0 or len(tgt) == 0:
        return GridPath(np.empty((0, 2), dtype=int), math.inf, math.inf)
    both = np.intersect1d(src, tgt)
    if len(both):
        cell = np.array([[both[0] // w, both[0] % w]])
        return GridPath(cell, 0.0, 0.0)
    graph = grid_graph(factor, xres_m=xres_m, yres_m=yres_m)
    dist, pred, _ = dijkstra(graph, directed=False, indices=src, return_predecessors=True, min_only=True)
    best = tgt[np.argmin(dist[tgt])]
    if not np.isfinite(dist[best]):
        return GridPath(np.empty((0, 2), dtype=int), math.inf, math.inf)
    chain = [best]
    while pred[chain[-1]] >= 0:
        chain.append(int(pred[chain[-1]]))
    cells_flat = np.array(chain[::-1])
    cells = np.column_stack([cells_flat // w, cells_flat % w])
    steps = np.diff(cells, axis=0)
    length = float(np.hypot(steps[:, 0] * yres_m, steps[:, 1] * xres_m).sum()) if len(steps) else 0.0
    return GridPath(cells, float(dist[best]), length)


# --------------------------------------------------------------------------- DEM window (the one file read)
@dataclass(frozen=True)
class DemWindow:
    """Elevations on a metric grid around one feature: north-up, square cells."""

    z: np.ndarray
    x0: float  # west edge
    y1: float  # north edge
    cell_m: float

    def centres(self, cells: np.ndarray) -> np.ndarray:
        """x, y of cell centres for (row, col) pairs."""
        return np.column_stack(
            [self.x0 + (cells[:, 1] + 0.5) * self.cell_m, self.y1 - (cells[:, 0] + 0.5) * self.cell_m]
        )


def read_dem_window(
    dem: Path | DemSource, crs: CRS, bounds: tuple[float, float, float, float], cell_m: float
) -> DemWindow:
    """Read the DEM resampled (bilinear) onto a ``cell_m`` grid of ``crs`` covering ``bounds``.

    Only the part of the DEM under the window is read (a warped VRT). Cells outside the DEM
    or on voids are NaN. ``dem`` may be a path (opened for this one window) or a
    :class:`DemSource` opened once for many windows (the same values).
    """
    if isinstance(dem, DemSource):
        if dem.crs is crs or dem.crs == crs:  # the run's own CRS object: no comparison through PROJ (80 us)
            return dem.window(bounds, cell_m)
        dem = dem.path  # opened for another CRS: read this window on its own
    with DemSource(dem, crs) as src:
        return src.window(bounds, cell_m)


class DemSource:
    """A DEM opened once for the many windows of one plan step (each site's and village's new road).

    :meth:`window` gives what :func:`read_dem_window` gives. When the window's grid is the DEM's own
    grid (same CRS, north-up, cells of the DEM's size, edges on the DEM's cell edges), bilinear
    resampling samples every cell at its own centre, so the window is the DEM's cells themselves:
    they are read directly (nodata and cells outside the DEM as NaN), without setting up a warp.
    Any other window goes through a warped VRT as before.

    Parameters
    ----------
    path
        The DEM file.
    crs
        The run's metric CRS the windows are laid out in.
    direct
        Read windows on the DEM's grid directly (default); False warps every window (the reference the
        tests compare with).
    """

    def __init__(self, path: Path, crs: CRS, *, direct: bool = True) -> None:
        self.path = Path(path)
        self.crs = crs
        self._allow_direct = direct
        self._opened: Any = None
        self._direct = False

    @property
    def direct(self) -> bool:
        """Whether windows on the DEM's own grid are read directly (``direct=False``: every window is warped)."""
        return bool(self._src is not None and self._direct)

    @property
    def _src(self) -> Any:
        """The open dataset, opened on the first window (a step that builds no road never reads the DEM)."""
        if self._opened is None:
            import rasterio
            from rasterio.crs import CRS as RioCRS
            from rasterio.enums import MaskFlags

            src = rasterio.open(self.path)
            if src.crs is None:
                src.close()
                raise DataError(f"DEM {self.path} has no CRS. Fix: set one, e.g. gdal_edit.py -a_srs EPSG:4326.")
            tf = src.transform
            nodata = src.nodata
            self._direct = bool(
                self._allow_direct
                and src.crs == RioCRS.from_user_input(self.crs)
                and tf.b == 0
                and tf.d == 0
                and tf.a > 0
                and tf.e == -tf.a
                and nodata is not None
                and math.isfinite(nodata)
                and src.mask_flag_enums[0] == [MaskFlags.nodata]
                and np.dtype(src.dtypes[0]).kind in "iuf"
            )
            self._opened = src
        return self._opened

    def close(self) -> None:
        """Close the DEM file (when it was opened)."""
        if self._opened is not None:
            self._opened.close()
            self._opened = None

    def __enter__(self) -> DemSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _direct_offsets(self, x0: float, y1: float, cell_m: float) -> tuple[int, int] | None:
        """(column, row) of the window's north-west cell in the DEM when the window lies on the DEM's grid."""
        tf = self._src.transform
        if not self._direct:
            return None
        if cell_m != tf.a:
            return None
        col, row = (x0 - tf.c) / cell_m, (tf.f - y1) / cell_m
        if col != math.floor(col) or row != math.floor(row) or x0 != tf.c + col * cell_m or y1 != tf.f - row * cell_m:
            return None
        return int(col), int(row)

    def window(self, bounds: tuple[float, float, float, float], cell_m: float) -> DemWindow:
        """The DEM on a ``cell_m`` grid covering ``bounds`` (see :func:`read_dem_window`)."""
        x0, y0, x1, y1 = bounds
        width = max(1, math.ceil((x1 - x0) / cell_m))
        height = max(1, math.ceil((y1 - y0) / cell_m))
        src = self._src
        at = self._direct_offsets(x0, y1, cell_m)
        if at is not None:
            from rasterio.windows import Window

            col, row = at
            c0, r0 = max(col, 0), max(row, 0)
            c1, r1 = min(col + width, src.width), min(row + height, src.height)
            inside = c1 > c0 and r1 > r0
            part = src.read(1, window=Window(c0, r0, c1 - c0, r1 - r0)).astype("float64") if inside else None
            # NaN or infinite cells that are not the nodata value: left to the warp's own rules
            if part is None or np.isfinite(part).all():
                if part is not None:
                    part[part == float(src.nodata)] = np.nan
                if part is not None and part.shape == (height, width):
                    z = part  # the window lies inside the DEM: the cells read are the window (a fresh array)
                else:
                    z = np.full((height, width), np.nan)
                    if part is not None:
                        z[r0 - row : r1 - row, c0 - col : c1 - col] = part
                z[z <= -1e29] = np.nan  # as the warped VRT's nodata (-1e30) would read
                return DemWindow(z, x0, y1, cell_m)
        from rasterio.enums import Resampling
        from rasterio.transform import Affine
        from rasterio.vrt import WarpedVRT

        transform = Affine(cell_m, 0, x0, 0, -cell_m, y1)
        with WarpedVRT(
            src,
            crs=self.crs,
            transform=transform,
            width=width,
            height=height,
            resampling=Resampling.bilinear,
            src_nodata=src.nodata,
            nodata=-1e30,
            dtype="float64",
        ) as vrt:
            z = vrt.read(1)
        z = np.where(z <= -1e29, np.nan, z)
        return DemWindow(z, x0, y1, cell_m)


__all__: Sequence[str] = (
    "DemSource",
    "DemWindow",
    "GridPath",
    "grid_graph",
    "least_cost_path",
    "read_dem_window",
    "slope_cost",
)
