"""Synthetic loess-plateau terrain: a drainage tree first, then the DEM that it drains.

The coarse grid (hydrology, roads) carries a drainage tree grown by Dijkstra from the
outlets over a noisy cost field, so every cell drains to an outlet by construction
(no pits). Channel slope follows Flint's law ``S = k A^-theta`` (steep gullies at the
heads, gentle rivers downstream); elevations are the sum of slope times step length along
the flow path, so rivers always run downhill. The fine DEM adds gully-scale detail on the
slopes and flat valley floors (川道) along the rivers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

#: 8-neighbour offsets (drow, dcol).
OFFSETS = np.array([(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)])


def fractal_noise(shape: tuple[int, int], beta: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean, unit-variance noise with a power spectrum ``~ f^-beta`` (spectral synthesis)."""
    ny, nx = shape
    fy = np.fft.fftfreq(ny)[:, None]
    fx = np.fft.rfftfreq(nx)[None, :]
    f = np.hypot(fy, fx)
    f[0, 0] = 1.0
    amp = f ** (-beta / 2.0)
    amp[0, 0] = 0.0
    phase = rng.uniform(0.0, 2.0 * np.pi, size=amp.shape)
    spec = amp * np.exp(1j * phase)
    out = np.fft.irfft2(spec, s=shape)
    out -= out.mean()
    out /= out.std()
    return out


def grid_graph(cost: np.ndarray, cell_m: float, *, passable: np.ndarray | None = None) -> csr_matrix:
    """Directed 8-neighbour graph whose edge weight is length times the mean cell cost."""
    ny, nx = cost.shape
    idx = np.arange(ny * nx).reshape(ny, nx)
    rows, cols, wts = [], [], []
    for dr, dc in OFFSETS:
        r0, r1 = max(0, -dr), ny - max(0, dr)
        c0, c1 = max(0, -dc), nx - max(0, dc)
        a = idx[r0:r1, c0:c1].ravel()
        b = idx[r0 + dr : r1 + dr, c0 + dc : c1 + dc].ravel()
        length = cell_m * (1.4142135623730951 if dr and dc else 1.0)
        w = length * 0.5 * (cost.ravel()[a] + cost.ravel()[b])
        if passable is not None:
            ok = passable.ravel()[a] & passable.ravel()[b]
            a, b, w = a[ok], b[ok], w[ok]
        rows.append(a)
        cols.append(b)
        wts.append(w)
    n = ny * nx
    return csr_matrix((np.concatenate(wts), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))


def tree_from_sources(
    graph: csr_matrix, sources: np.ndarray, offsets: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Shortest-path forest from several sources, each starting at its own offset.

    Returns ``(dist, pred)``; ``pred`` is ``-9999`` at the sources and unreachable nodes.
    A super-source node joined to every source by its offset does the multi-start.
    """
    n = graph.shape[0]
    sources = np.asarray(sources, dtype=np.int64)
    off = np.zeros(len(sources)) if offsets is None else np.asarray(offsets, dtype=float)
    g = graph.tocoo()
    rows = np.concatenate([g.row, np.full(len(sources), n)])
    cols = np.concatenate([g.col, sources])
    data = np.concatenate([g.data, off + 1e-9])
    big = csr_matrix((data, (rows, cols)), shape=(n + 1, n + 1))
    dist, pred = dijkstra(big, directed=True, indices=n, return_predecessors=True)
    dist = dist[:n]
    pred = pred[:n].astype(np.int64)
    pred[pred == n] = -9999
    return dist, pred


def path_sums(parent: np.ndarray, inc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum of ``inc`` from each node up to its root (exclusive), and the root, by pointer jumping.

    ``parent[i] == i`` marks a root. O(n log n), fully vectorised.
    """
    jump = parent.copy()
    s = np.where(jump == np.arange(len(parent)), 0.0, inc).astype(float)
    while True:
        nxt = jump[jump]
        s = s + s[jump]
        if np.array_equal(nxt, jump):
            break
        jump = nxt
    return s, jump


def accumulate(parent: np.ndarray, depth: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Upstream sum of ``weight`` (including the cell) over a tree, level by level."""
    acc = weight.astype(float).copy()
    order = np.argsort(-depth, kind="stable")
    d_sorted = depth[order]
    bounds = np.flatnonzero(np.diff(d_sorted)) + 1
    for grp in np.split(order, bounds):
        if depth[grp[0]] == 0:
            break
        np.add.at(acc, parent[grp], acc[grp])
    return acc


@dataclass(frozen=True)
class Drainage:
    """The coarse drainage tree and its elevations (row-major flat arrays over the coarse grid)."""

    parent: np.ndarray  # flow target (self at outlets)
    depth: np.ndarray  # hops to the outlet
    acc: np.ndarray  # upstream area in cells, including the cell
    z: np.ndarray  # elevation (m), shape (ny, nx)
    step_m: np.ndarray  # length of the step to the parent (m)


def drainage(
    shape: tuple[int, int],
    cell_m: float,
    outlets: np.ndarray,
    outlet_offsets: np.ndarray,
    cost: np.ndarray,
    erod: np.ndarray,
    *,
    theta: float = 0.5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Grow the drainage tree and integrate channel slopes into relative elevations.

    ``outlet_offsets`` give the later outlets a head start in the tree's cost (smaller basins).
    Returns ``parent, depth, acc, z_rel`` (flat arrays); ``z_rel`` is 0 at every outlet.
    """
    ny, nx = shape
    n = ny * nx
    graph = grid_graph(cost, cell_m)
    _, pred = tree_from_sources(graph, outlets, outlet_offsets)
    parent = np.where(pred < 0, np.arange(n), pred)
    depth, _ = path_sums(parent, np.ones(n))
    depth = depth.astype(np.int64)
    acc = accumulate(parent, depth, np.ones(n))
    r, c = np.divmod(np.arange(n), nx)
    pr, pc = np.divmod(parent, nx)
    step = cell_m * np.hypot(r - pr, c - pc)
    inc = step * erod.ravel() * acc ** (-theta)
    z_rel, _ = path_sums(parent, inc)
    return parent, depth, acc, z_rel


def _lerp_axis(a: np.ndarray, factor: int, n: int, axis: int) -> np.ndarray:
    pos = (np.arange(n) + 0.5) / factor - 0.5
    i0 = np.clip(np.floor(pos).astype(np.int64), 0, a.shape[axis] - 1)
    i1 = np.clip(i0 + 1, 0, a.shape[axis] - 1)
    w = np.clip(pos - i0, 0.0, 1.0)
    shape = [1, 1]
    shape[axis] = n
    w = w.reshape(shape)
    return np.take(a, i0, axis=axis) * (1.0 - w) + np.take(a, i1, axis=axis) * w


def upsample(coarse: np.ndarray, factor: int, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear interpolation of a coarse grid onto a fine grid that splits each cell ``factor`` x ``factor``.

    Fine cell centres that coincide with coarse centres (odd ``factor``) get the coarse value exactly.
    """
    return _lerp_axis(_lerp_axis(coarse, factor, shape[0], 0), factor, shape[1], 1)


def slope_deg(z: np.ndarray, cell_m: float) -> np.ndarray:
    """Slope in degrees (central differences)."""
    gy, gx = np.gradient(z, cell_m)
    return np.degrees(np.arctan(np.hypot(gx, gy)))
