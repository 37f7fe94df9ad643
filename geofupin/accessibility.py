"""Accessibility over a road network: nearest facilities, OD matrices, isochrones, coverage.

Shortest paths run on the CSR arrays of :class:`~geofupin.network.RoadNetwork` with
``scipy.sparse.csgraph.dijkstra``:

* nearest facility of a kind: ONE multi-source run from all facilities of that kind
  (``min_only=True``) on the *reverse* graph, so one-way roads are honoured in the
  direction of travel (village -> facility);
* OD matrices: single-source runs in chunks from the smaller side with ``limit`` as the
  cut-off (the reverse graph when the destinations are the smaller side);
* distances along the fastest path are summed over the predecessor tree by pointer
  doubling (vectorised, ``log2(depth)`` passes), one source row at a time.

Isochrones are the reached road parts, cut fractionally on edges only partly reached,
buffered by ``isochrone_buffer_m`` and merged. A buffered network is used rather than a
concave hull of reached nodes because a hull also claims the unreached valleys and ridges
between roads, which in mountain counties is most of the area; the buffer says honestly
"within this distance of a road you can travel on in time". Every reached road point is
inside its band polygon; a point is outside when it is farther than 1.1 x the buffer from
every reached road part (the parts are simplified by a tenth of the buffer before buffering,
which makes the union about 7x faster).

:func:`step` is the ``access`` step of a run (scenario section ``access``,
:class:`~geofupin.config.access.AccessConfig`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra

from .config.access import AccessConfig
from .context import StepResult, attributes
from .errors import DataError
from .network import RoadNetwork, Snap, from_roads, snap

if TYPE_CHECKING:
    from .context import RunContext

log = logging.getLogger(__name__)

__all__ = [
    "OD",
    "AccessConfig",
    "Nearest",
    "NearestAt",
    "before_after",
    "coverage",
    "isochrones",
    "isochrones_many",
    "nearest",
    "nearest_facilities",
    "od_matrix",
    "od_pairs",
    "od_table",
    "service_areas",
    "step",
]

Direction = Literal["to_source", "from_source"]

#: Memory budget (bytes) for one chunk of OD rows (times and predecessors).
CHUNK_BYTES = 256 * 2**20


@dataclass(frozen=True)
class Nearest:
    """Result of :func:`nearest` for every node of the network.

    The arrays are indexed by node. :meth:`RoadNetwork.attach` marks a point that is too far
    from every road with node ``-1``, and numpy reads ``array[-1]`` as the LAST node: read the
    results at points with :meth:`at`, the checked accessor, which gives ``inf``/NaN/``-1`` for
    node ``-1`` and refuses nodes that are not in the network.

    Attributes
    ----------
    time_min
        Travel time to (or from) the nearest source; ``inf`` where none is reachable.
    dist_m
        Length of that fastest path; NaN where none is reachable.
    source
        Index into the ``sources`` given (``-1`` where none is reachable).
    """

    time_min: np.ndarray
    dist_m: np.ndarray
    source: np.ndarray

    @property
    def n_nodes(self) -> int:
        """Nodes of the network the result was computed on."""
        return len(self.time_min)

    def at(self, nodes: np.ndarray | Sequence[int]) -> NearestAt:
        """The results at ``nodes`` (one per point), ``inf``/NaN/``-1`` where a node is ``-1`` (unreachable).

        Raises
        ------
        DataError
            When a node is below ``-1`` or not a node of the network.
        """
        idx = np.asarray(nodes, dtype=np.int64)
        bad = (idx < -1) | (idx >= self.n_nodes)
        if bad.any():
            raise DataError(
                f"Nearest.at: node {int(idx[bad][0])} is not a node of this network (0..{self.n_nodes - 1}, or -1 "
                "for an unreachable point). Fix: pass the nodes returned by RoadNetwork.attach for the network "
                "nearest() ran on."
            )
        ok = idx >= 0
        safe = np.where(ok, idx, 0)
        if self.n_nodes == 0:
            return NearestAt(np.full(len(idx), np.inf), np.full(len(idx), np.nan), np.full(len(idx), -1, np.int64))
        return NearestAt(
            np.where(ok, self.time_min[safe], np.inf),
            np.where(ok, self.dist_m[safe], np.nan),
            np.where(ok, self.source[safe], -1).astype(np.int64),
        )


@dataclass(frozen=True)
class NearestAt:
    """:class:`Nearest` read at given nodes (:meth:`Nearest.at`): one entry per node asked for,
    ``inf``/NaN/``-1`` where the node is ``-1`` (an unreachable point)."""

    time_min: np.ndarray
    dist_m: np.ndarray
    source: np.ndarray


@dataclass(frozen=True)
class OD:
    """An origin x destination matrix (``inf``/NaN beyond the cut-off or unreachable)."""

    time_min: np.ndarray
    dist_m: np.ndarray | None


def _graphs(net: RoadNetwork, direction: Direction) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """The time CSR to run on and the length CSR of its TRANSPOSE (rows = heads of edges)."""
    if direction == "to_source":
        return net.reverse, net.forward_length
    return net.forward, net.reverse_length


class _InEdges:
    """Lengths of edges ``parent -> child`` looked up by the in-edges of ``child``.

    Built from the length CSR of the transpose (rows = children, canonical). With at most
    :data:`_TABLE_DEGREE` in-edges per node (road networks have 2-5) the in-neighbours are
    laid out in an ``(n, D)`` table, and a lookup is one row gather, compare and ``argmax``;
    otherwise a binary search of ``child * n + parent`` in the sorted entry keys.
    """

    def __init__(self, length_t: sp.csr_matrix) -> None:
        n = length_t.shape[0]
        deg = np.diff(length_t.indptr)
        rows = np.repeat(np.arange(n, dtype=np.int64), deg)
        self.n = n
        self.table = (int(deg.max()) if n else 0) <= _TABLE_DEGREE
        if self.table:
            width = max(int(deg.max()) if n else 0, 1)
            rank = np.arange(len(rows)) - length_t.indptr[rows]
            self.nb = np.full((n, width), n, dtype=np.int64 if n >= 2**31 - 1 else np.int32)  # pad: no node
            self.nb[rows, rank] = length_t.indices
            self.lt = np.zeros((n, width))
            self.lt[rows, rank] = length_t.data
        else:
            self.keys = rows * n + length_t.indices
            self.data = length_t.data

    def lengths(self, parent: np.ndarray, child: np.ndarray, pred: np.ndarray | None = None) -> np.ndarray:
        """Length of the edge ``parent[i] -> child[i]`` (every such edge must exist).

        With ``pred`` (a predecessor row whose nodes with ``pred >= 0`` are exactly
        ``child``, ascending) the whole table is compared at once: the hits come in node order.
        """
        if not self.table:
            return self.data[np.searchsorted(self.keys, child.astype(np.int64) * self.n + parent)]
        d = self.nb.shape[1]
        if pred is not None:
            hit = np.flatnonzero((self.nb == pred[:, None]).ravel())
        else:
            hit = child * d + np.flatnonzero((self.nb[child] == parent[:, None]).ravel()) % d
        if len(hit) != len(child):  # pragma: no cover - canonical CSRs hold each edge once
            raise ValueError("path_lengths: a predecessor edge is missing from the length matrix.")
        return self.lt.ravel()[hit]


#: Widest in-degree laid out as a table by :class:`_InEdges`.
_TABLE_DEGREE = 8


def _in_edges(net: RoadNetwork, direction: Direction) -> tuple[sp.csr_matrix, sp.csr_matrix, _InEdges]:
    """:func:`_graphs` and the in-edge lookup of the length CSR, built once per network."""
    graph, length = _graphs(net, direction)
    cache = net._cache
    key = f"in_edges_{direction}"
    if key not in cache:
        cache[key] = _InEdges(length)
    return graph, length, cache[key]


def _tree_lengths(pred: np.ndarray, edges: _InEdges, need: np.ndarray | None = None) -> np.ndarray:
    """Root-path lengths of ONE predecessor row (see :func:`path_lengths`).

    Only the reached non-root nodes take part: they are numbered ``1..m`` (``0`` is a
    virtual root standing for every root, with length 0 and pointing to itself); then
    pointer doubling adds each node's partial sum to its ancestor's and jumps to the
    ancestor's ancestor, dense over the ``m + 1`` nodes, until every pointer is at the root.

    With ``need`` (nodes), only those nodes' lengths are wanted: the tree's leaves that are
    not needed are pruned first (a node stays if it is needed or a parent; about a third of
    a shortest-path tree are leaves); the lengths of pruned nodes are returned as 0.
    """
    n = pred.shape[0]
    out = np.zeros(n)
    v = np.flatnonzero(pred >= 0)
    p = pred[v]
    # the tree edges' lengths: the whole table at once when most nodes are reached
    ln = edges.lengths(p, v, pred) if len(v) * 4 >= n else None
    if need is not None:
        keep = np.zeros(n, dtype=bool)
        keep[p] = True
        keep[need] = True
        k = keep[v]
        v, p = v[k], p[k]
        ln = ln[k] if ln is not None else None
    m = len(v)
    if m == 0:
        return out
    acc = np.empty(m + 1)
    acc[0] = 0.0
    acc[1:] = ln if ln is not None else edges.lengths(p, v)
    loc = np.zeros(n, dtype=np.int32)
    loc[v] = np.arange(1, m + 1, dtype=np.int32)
    ptr = np.empty(m + 1, dtype=np.int32)
    ptr[0] = 0
    ptr[1:] = loc[p]
    while True:
        acc += acc[ptr]
        nxt = ptr[ptr]
        if np.array_equal(nxt, ptr):
            break
        ptr = nxt
    out[v] = acc[1:]
    return out


def path_lengths(pred: np.ndarray, length_t: sp.csr_matrix) -> np.ndarray:
    """Sum edge lengths from every node to the root of its shortest-path tree.

    Pointer doubling: each pass adds the partial sum of a node's current ancestor and jumps
    to that ancestor's ancestor, so ``log2(depth)`` vectorised passes suffice (dense over the
    reached nodes of one row at a time; the tree edges' lengths from a table of in-edges).

    Parameters
    ----------
    pred
        Predecessors from ``dijkstra`` (``(n,)`` or ``(k, n)``; negative at roots and
        unreached nodes).
    length_t
        Length CSR of the *transpose* of the graph the paths ran on (canonical: sorted,
        unique indices, as :class:`~geofupin.network.RoadNetwork` holds them).

    Returns
    -------
    Array shaped like ``pred`` (0 at roots; unreached nodes also 0, mask them by time).
    """
    edges = _InEdges(length_t)
    if pred.ndim == 1:
        return _tree_lengths(pred, edges)
    rows = pred.reshape(-1, pred.shape[-1])
    return np.stack([_tree_lengths(r, edges) for r in rows]).reshape(pred.shape)


def nearest(
    net: RoadNetwork,
    sources: np.ndarray | Sequence[int],
    *,
    direction: Direction = "to_source",
    limit_min: float = np.inf,
    with_dist: bool = True,
) -> Nearest:
    """Time and distance from every node to its nearest source (one multi-source run).

    Parameters
    ----------
    net
        The network (usually with points attached).
    sources
        Source nodes (facilities); negative entries (unreachable points) are ignored.
    direction
        ``to_source`` (travel from each node to a source: reverse graph) or ``from_source``.
    limit_min
        Stop searching beyond this time.
    with_dist
        Also sum path lengths (one pointer-doubling pass).
    """
    src = _nodes(net, sources, "sources")
    n = net.n_nodes
    valid = np.flatnonzero(src >= 0)
    if valid.size == 0:
        return Nearest(np.full(n, np.inf), np.full(n, np.nan), np.full(n, -1, dtype=np.int64))
    nodes, first = np.unique(src[valid], return_index=True)
    graph, _, edges = _in_edges(net, direction)
    t, pred, origin = dijkstra(graph, indices=nodes, min_only=True, return_predecessors=True, limit=limit_min)
    reached = np.isfinite(t)
    source = np.full(n, -1, dtype=np.int64)
    which = np.zeros(n, dtype=np.int64)  # source node -> index into ``sources``
    which[nodes] = valid[first]
    source[reached] = which[origin[reached]]
    dist = np.where(reached, _tree_lengths(pred, edges), np.nan) if with_dist else np.full(n, np.nan)
    return Nearest(t, dist, source)


def _nodes(net: RoadNetwork, nodes: np.ndarray | Sequence[int], what: str) -> np.ndarray:
    """Node indices as int64; ``-1`` (an unreachable point) is allowed, anything outside the network is not."""
    idx = np.asarray(nodes, dtype=np.int64).reshape(-1)
    bad = (idx < -1) | (idx >= net.n_nodes)
    if bad.any():
        raise DataError(
            f"{what}: node {int(idx[bad][0])} is not a node of this network (0..{net.n_nodes - 1}, or -1 for an "
            "unreachable point). Fix: pass the nodes RoadNetwork.attach returned for this network."
        )
    return idx


def od_matrix(
    net: RoadNetwork,
    origins: np.ndarray | Sequence[int],
    destinations: np.ndarray | Sequence[int],
    *,
    cutoff_min: float = np.inf,
    with_dist: bool = True,
    chunk_size: int | None = None,
) -> OD:
    """Travel time (and distance) between node sets, chunked from the smaller side.

    Parameters
    ----------
    net
        The network.
    origins, destinations
        Node indices; negative entries (unreachable points) give ``inf``/NaN rows/columns.
    cutoff_min
        Searches stop at this time; slower pairs are ``inf``.
    with_dist
        Also compute path lengths (predecessor trees; about 1.3x the time).
    chunk_size
        Sources per ``dijkstra`` call (default: as many as fit in :data:`CHUNK_BYTES`).

    Returns
    -------
    :class:`OD` with ``(len(origins), len(destinations))`` arrays.
    """
    o = _nodes(net, origins, "origins")
    d = _nodes(net, destinations, "destinations")
    flip = len(d) < len(o)
    src, dst = (d, o) if flip else (o, d)
    graph, _, edges = _in_edges(net, "to_source" if flip else "from_source")
    t_out = np.full((len(src), len(dst)), np.inf)
    d_out = np.full((len(src), len(dst)), np.nan) if with_dist else None
    n = net.n_nodes
    ok_s = np.flatnonzero(src >= 0)
    ok_d = np.flatnonzero(dst >= 0)
    if chunk_size is None:
        chunk_size = max(1, int(CHUNK_BYTES // (n * (12 if with_dist else 8) + 1)))
    cols = dst[ok_d]
    for start in range(0, len(ok_s), chunk_size):
        rows = ok_s[start : start + chunk_size]
        if with_dist:
            t, pred = dijkstra(graph, indices=src[rows], limit=cutoff_min, return_predecessors=True)
            tt = t[:, cols]
            # one source row at a time: its arrays stay in cache
            dd = np.stack([_tree_lengths(pred[r], edges, cols)[cols] for r in range(len(rows))])
            t_out[np.ix_(rows, ok_d)] = tt
            assert d_out is not None
            d_out[np.ix_(rows, ok_d)] = np.where(np.isfinite(tt), dd, np.nan)
        else:
            t = dijkstra(graph, indices=src[rows], limit=cutoff_min)
            t_out[np.ix_(rows, ok_d)] = t[:, cols]
    if flip:  # transposed views, not copies: at 15.6k x 1.3k two copies would be another 325 MB
        return OD(t_out.T, None if d_out is None else d_out.T)
    return OD(t_out, d_out)


def od_table(
    od: OD,
    origin_ids: Sequence[str] | np.ndarray,
    destination_ids: Sequence[str] | np.ndarray,
    *,
    names: tuple[str, str] = ("village_id", "site_id"),
) -> pd.DataFrame:
    """The finite pairs of an OD matrix as a long table (``names``, ``time_min``, ``dist_m``)."""
    i, j = np.nonzero(np.isfinite(od.time_min))
    return pd.DataFrame(
        {
            names[0]: np.asarray(origin_ids, dtype=object)[i],
            names[1]: np.asarray(destination_ids, dtype=object)[j],
            "time_min": od.time_min[i, j],
            "dist_m": od.dist_m[i, j] if od.dist_m is not None else np.nan,
        }
    )


def _substrings(geoms: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Parts of lines between normalised positions ``lo <= hi`` (vectorised)."""
    if len(geoms) == 0:
        return np.empty(0, dtype=object)
    coords, idx = shapely.get_coordinates(geoms, return_index=True)
    seg = np.hypot(*np.diff(coords, axis=0).T)
    same = idx[1:] == idx[:-1]
    seg = np.where(same, seg, 0.0)
    cum = np.r_[0.0, np.cumsum(seg)]
    start = np.searchsorted(idx, np.arange(len(geoms)))
    total = np.bincount(idx[1:][same], weights=seg[same], minlength=len(geoms))
    with np.errstate(invalid="ignore", divide="ignore"):
        pos = (cum - cum[start][idx]) / total[idx]
    pos = np.nan_to_num(pos)
    inside = (pos > lo[idx]) & (pos < hi[idx])
    a = shapely.get_coordinates(shapely.line_interpolate_point(geoms, lo, normalized=True))
    b = shapely.get_coordinates(shapely.line_interpolate_point(geoms, hi, normalized=True))
    k = len(geoms)
    item = np.r_[np.arange(k), idx[inside], np.arange(k)]
    order_key = np.r_[np.full(k, -1.0), pos[inside], np.full(k, 2.0)]
    xy = np.vstack([a, coords[inside], b])
    o = np.lexsort((order_key, item))
    return shapely.linestrings(xy[o], indices=item[o])


def reached_parts(net: RoadNetwork, time_min: np.ndarray, band_min: float) -> np.ndarray:
    """Road parts reachable within ``band_min`` given node times to the source set.

    A point at fraction ``s`` of directed edge ``a -> b`` (time ``w``) reaches the source
    along that edge in ``(1 - s) w + t_b``; it is in the band when that is at most
    ``band_min``. Returns LineStrings cut from the piece geometries.
    """
    e = np.flatnonzero(net.edge_piece >= 0)
    tb = time_min[net.edge_v[e]]
    w = net.edge_time_min[e]
    ok = np.isfinite(tb) & (tb <= band_min)
    e, tb, w = e[ok], tb[ok], w[ok]
    with np.errstate(invalid="ignore", divide="ignore"):
        s0 = np.where(w > 0, np.clip(1.0 - (band_min - tb) / w, 0.0, 1.0), 0.0)
    f0, f1 = net.edge_f0[e], net.edge_f1[e]
    fa = f0 + s0 * (f1 - f0)
    lo = np.minimum(fa, f1)
    hi = np.maximum(fa, f1)
    # a piece reached from both ends in full appears twice: keep one copy
    key = np.stack([net.edge_piece[e].astype(float), np.round(lo, 9), np.round(hi, 9)], axis=1)
    _, first = np.unique(key, axis=0, return_index=True)
    first.sort()
    return _substrings(net.piece_geometry[net.edge_piece[e][first]], lo[first], hi[first])


def isochrones(
    net: RoadNetwork,
    time_min: np.ndarray,
    bands_min: Sequence[float],
    *,
    buffer_m: float = 250.0,
    quad_segs: int = 4,
) -> list[shapely.Geometry]:
    """Service-area polygons, one per band, from node times to a source set.

    Parameters
    ----------
    net
        The network the times were computed on.
    time_min
        Node times (``Nearest.time_min``).
    bands_min
        Bands in minutes.
    buffer_m
        Half-width of the polygon around reached road parts.
    quad_segs
        Segments per quarter circle of the buffer.

    Returns
    -------
    A (Multi)Polygon per band (empty where nothing is reached).
    """
    return isochrones_many(net, {"": time_min}, bands_min, buffer_m=buffer_m, quad_segs=quad_segs, threads=1)[""]


def _band_polygon(net: RoadNetwork, time_min: np.ndarray, band: float, buffer_m: float, quad_segs: int) -> Any:
    parts = reached_parts(net, time_min, float(band))
    if len(parts) == 0:
        return shapely.Polygon()
    # simplifying by a tenth of the buffer first makes the union ~7x faster (Andorra)
    parts = shapely.simplify(parts, buffer_m / 10.0)
    return shapely.union_all(shapely.buffer(parts, buffer_m, quad_segs=quad_segs))


def isochrones_many(
    net: RoadNetwork,
    times: dict[str, np.ndarray],
    bands_min: Sequence[float],
    *,
    buffer_m: float = 250.0,
    quad_segs: int = 4,
    threads: int = 0,
) -> dict[str, list[shapely.Geometry]]:
    """:func:`isochrones` for several source sets (facility kinds) at once, the unions in parallel.

    Every (kind, band) polygon is one GEOS union; shapely releases the GIL while GEOS works,
    so ``threads`` threads (0: one per core) compute them side by side. The polygons do not
    depend on the number of threads.
    """
    import os
    from concurrent.futures import ThreadPoolExecutor

    tasks = [(kind, float(b)) for kind in times for b in bands_min]
    n = min(len(tasks), threads or os.cpu_count() or 1)
    if n <= 1:
        polys = [_band_polygon(net, times[k], b, buffer_m, quad_segs) for k, b in tasks]
    else:
        with ThreadPoolExecutor(max_workers=n, thread_name_prefix="isochrones") as pool:
            polys = list(pool.map(lambda t: _band_polygon(net, times[t[0]], t[1], buffer_m, quad_segs), tasks))
    out: dict[str, list[shapely.Geometry]] = {k: [] for k in times}
    for (kind, _), poly in zip(tasks, polys, strict=True):
        out[kind].append(poly)
    return out


def coverage(
    access: pd.DataFrame,
    kinds: Sequence[str],
    bands_min: Sequence[float],
    *,
    total_label: str = "全县",
) -> pd.DataFrame:
    """Share of persons and poor persons within each band of each facility kind, per township.

    Parameters
    ----------
    access
        Villages with ``township``, ``persons``, ``poor_persons`` and ``time_min_<kind>``
        (NaN = unreachable, counted as not covered).
    kinds, bands_min
        Facility kinds and bands.
    total_label
        Township label of the county-wide rows (also added).

    Returns
    -------
    pandas.DataFrame
        Columns township, facility_kind, band_min, persons, poor_persons, persons_share,
        poor_persons_share (shares in 0..1; NaN where the township has nobody); the
        county-wide rows last within each kind and band.
    """
    twp = access["township"].fillna("").astype(str) if "township" in access else pd.Series("", index=access.index)
    persons = pd.to_numeric(access.get("persons", 0), errors="coerce").fillna(0).to_numpy(float)
    poor = pd.to_numeric(access.get("poor_persons", 0), errors="coerce").fillna(0).to_numpy(float)
    labels = pd.concat([twp, pd.Series(total_label, index=access.index)], ignore_index=True)
    p2 = np.r_[persons, persons]
    q2 = np.r_[poor, poor]
    cases = [(kind, float(band)) for kind in kinds for band in bands_min]
    if not cases:
        return pd.DataFrame(
            columns=[
                "township",
                "facility_kind",
                "band_min",
                "persons",
                "poor_persons",
                "persons_share",
                "poor_persons_share",
            ]
        )
    # every (kind, band)'s covered persons as columns of ONE frame, summed by township in one groupby
    # (each column's sums are those of its own groupby: the same rows, in the same order)
    sums: dict[str, np.ndarray] = {"p": p2, "q": q2}
    for i, (kind, band) in enumerate(cases):
        col = f"time_min_{kind}"
        t = access[col].to_numpy(float) if col in access else np.full(len(access), np.nan)
        cov = np.nan_to_num(np.r_[t, t], nan=np.inf) <= band
        sums[f"pc{i}"] = p2 * cov
        sums[f"qc{i}"] = q2 * cov
    g = pd.DataFrame({"township": labels, **sums}).groupby("township", sort=True).sum()
    k = len(g)
    gp, gq = g["p"].to_numpy(), g["q"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        ps = np.concatenate([np.where(gp > 0, g[f"pc{i}"].to_numpy() / gp, np.nan) for i in range(len(cases))])
        qs = np.concatenate([np.where(gq > 0, g[f"qc{i}"].to_numpy() / gq, np.nan) for i in range(len(cases))])
    out = pd.DataFrame(
        {
            "township": g.index.take(np.tile(np.arange(k), len(cases))),
            "facility_kind": np.repeat(np.array([c[0] for c in cases], dtype=object), k),
            "band_min": np.repeat(np.array([c[1] for c in cases], dtype=float), k),
            "persons": np.tile(gp, len(cases)),
            "poor_persons": np.tile(gq, len(cases)),
            "persons_share": ps,
            "poor_persons_share": qs,
        }
    )
    # county total last within each kind/band
    out["_total"] = out["township"] == total_label
    out = out.sort_values(["facility_kind", "band_min", "_total", "township"], kind="stable").drop(columns="_total")
    return out.reset_index(drop=True)


def before_after(
    village_access: pd.DataFrame,
    site_access: pd.DataFrame | None,
    od: pd.DataFrame,
    kinds: Sequence[str],
    *,
    assignment: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Times to facilities from each relocating village's origin and from its site.

    Parameters
    ----------
    village_access
        ``village_access`` layer (``village_id``, ``relocate_persons``, ``time_min_<kind>``).
    site_access
        ``site_access`` layer (``site_id``, ``time_min_<kind>``), or None.
    od
        ``od_village_site`` table (village_id, site_id, time_min, dist_m).
    kinds
        Facility kinds.
    assignment
        ``assignment`` table of the allocate step (village_id, site_id, optional persons);
        when absent, each village's best candidate by travel time is used.

    Returns
    -------
    One row per relocating village and site: village_id, site_id, site_source
    (``assignment`` | ``best_candidate`` | ``none``), time_min_to_site, dist_m_to_site and
    per kind ``time_min_<kind>_before``, ``time_min_<kind>_after``, ``change_min_<kind>``.
    """
    va = attributes(village_access)
    rel = pd.to_numeric(va.get("relocate_persons", 0), errors="coerce").fillna(0) > 0
    va = va.loc[rel]
    if assignment is not None and len(assignment):
        pairs = assignment[["village_id", "site_id"]].astype(str).drop_duplicates()
        pairs = pairs[pairs["village_id"].isin(va["village_id"].astype(str))]
        pairs["site_source"] = "assignment"
    else:
        best = od.sort_values(["village_id", "time_min"], kind="stable").drop_duplicates("village_id")
        pairs = best[["village_id", "site_id"]].astype(str)
        pairs = pairs[pairs["village_id"].isin(va["village_id"].astype(str))]
        pairs["site_source"] = "best_candidate"
    base = pd.DataFrame({"village_id": va["village_id"].astype(str)})
    out = base.merge(pairs, on="village_id", how="left")
    out["site_source"] = out["site_source"].fillna("none")
    none = out["site_source"] == "none"
    out["reason_zh"] = np.where(none, "截止时间内无可达的安置点", "")
    out["reason_en"] = np.where(none, "no site reachable within the OD cut-off", "")
    odk = od.assign(village_id=od["village_id"].astype(str), site_id=od["site_id"].astype(str))
    out = out.merge(
        odk.rename(columns={"time_min": "time_min_to_site", "dist_m": "dist_m_to_site"}),
        on=["village_id", "site_id"],
        how="left",
    )
    vt = va.assign(village_id=va["village_id"].astype(str)).set_index("village_id")
    st = None
    if site_access is not None:
        sa = attributes(site_access)
        st = sa.assign(site_id=sa["site_id"].astype(str)).set_index("site_id")
    # each row's village and site found once (what reindex finds: -1 -> NaN), the kinds' columns added at once
    vpos = vt.index.get_indexer(out["village_id"])
    spos = st.index.get_indexer(out["site_id"]) if st is not None else None
    added: dict[str, np.ndarray] = {}
    for kind in kinds:
        col = f"time_min_{kind}"
        before = _taken(vt[col], vpos) if col in vt else np.full(len(out), np.nan)
        after = (
            _taken(st[col], spos) if st is not None and spos is not None and col in st else np.full(len(out), np.nan)
        )
        added[f"time_min_{kind}_before"] = before
        added[f"time_min_{kind}_after"] = after
        added[f"change_min_{kind}"] = after - before
    if not added:
        return out
    return pd.concat([out, pd.DataFrame(added, index=out.index)], axis=1)


def _taken(values: pd.Series, pos: np.ndarray) -> np.ndarray:
    """``values`` at positions ``pos`` as float (NaN at -1), the values ``reindex`` gives for the labels found."""
    v = values.to_numpy(float)
    return np.where(pos >= 0, v[np.maximum(pos, 0)] if len(v) else np.nan, np.nan)


# --------------------------------------------------------------------------- on GeoDataFrames
# The functions :mod:`geofupin.access` publishes: GeoDataFrames in, GeoDataFrames out. They log their
# warnings (``logging``); :func:`step` calls them and keeps those warnings in its result.

#: Id column of each layer kind the functions recognise, and the layer's name in messages.
_ID_COLUMNS = (("village_id", "villages"), ("site_id", "sites"), ("facility_id", "facilities"))


def _ids(frame: pd.DataFrame, fallback: str) -> tuple[str, str, np.ndarray]:
    """``(id column, layer name, ids as text)`` of a frame; the index when it has no known id column."""
    for col, layer in _ID_COLUMNS:
        if col in frame:
            return col, layer, frame[col].astype(str).to_numpy(dtype=object)
    return fallback, "points", np.asarray(frame.index.astype(str), dtype=object)


def _snap_options(net: RoadNetwork, cfg: AccessConfig) -> dict[str, Any]:
    return {
        "max_snap_dist_m": cfg.max_snap_dist_m,
        "walk_speed_kph": cfg.walk_speed_kph,
        "snap_to": cfg.snap_to,
        "elevation": net.elevation,
        "slope_max_factor": cfg.slope_max_factor,
    }


def _warn_far(frame: pd.DataFrame, sn: Snap, cfg: AccessConfig) -> None:
    """Log the points farther than ``max_snap_dist_m`` from every road."""
    far = ~sn.reachable
    if not far.any():
        return
    _, layer, ids = _ids(frame, "id")
    sample = ", ".join(f"{i} ({d:.0f} m)" for i, d in zip(ids[far][:5], sn.snap_dist_m[far][:5], strict=False))
    log.warning(
        f"{layer}: {int(far.sum())} feature(s) are farther than max_snap_dist_m = {cfg.max_snap_dist_m:g} m "
        f"from any road and are unreachable (e.g. {sample}). "
        "Fix: add their access roads or raise access.max_snap_dist_m."
    )


def _require_network(net: Any, what: str) -> None:
    if not isinstance(net, RoadNetwork):
        raise DataError(
            f"{what}: the first argument must be a RoadNetwork, not {type(net).__name__}. "
            "Fix: build one with geofupin.network.from_roads(roads)."
        )
    if net.attached:
        raise DataError(
            f"{what}: the network already has points attached. Fix: pass the network from "
            "geofupin.network.from_roads(roads) (each function attaches its own points)."
        )


def _facilities_by_kind(
    net: RoadNetwork,
    facilities: gpd.GeoDataFrame | None,
    kinds: Sequence[str],
    cfg: AccessConfig,
    others: Mapping[str, gpd.GeoDataFrame],
) -> tuple[RoadNetwork, dict[str, np.ndarray], dict[str, Snap], dict[str, tuple[Nearest, np.ndarray] | None]]:
    """Attach ``others`` and the facilities to ``net`` and run one nearest search per kind.

    Logs the kinds without any facility (one message) and those whose facilities are all off the roads.
    """
    opts = _snap_options(net, cfg)
    snaps = {name: snap(net, frame.geometry, **opts) for name, frame in others.items()}
    fac = None
    if facilities is not None and len(facilities):
        fac = facilities.reset_index(drop=True)
        snaps["facilities"] = snap(net, fac.geometry, **opts)
    routing, nodes = net.attach(snaps)
    if fac is not None:
        _warn_far(fac, snaps["facilities"], cfg)
    fac_kind = fac["kind"].astype(str).to_numpy() if fac is not None and "kind" in fac else np.empty(0, dtype=object)
    results: dict[str, tuple[Nearest, np.ndarray] | None] = {}
    absent: list[str] = []
    for kind in kinds:
        sel = np.flatnonzero(fac_kind == kind)
        fac_nodes = nodes["facilities"][sel] if "facilities" in nodes else np.empty(0, np.int64)
        if len(sel) == 0 or not (fac_nodes >= 0).any():
            if len(sel) == 0:
                absent.append(kind)
            else:
                log.warning(
                    f"facilities: kind '{kind}': none of them is near a road; time_min_{kind} is left empty. "
                    f"Fix: add facilities of kind '{kind}' or remove it from access.facility_kinds."
                )
            results[kind] = None
            continue
        assert fac is not None
        _, _, fac_ids = _ids(fac, "facility_id")
        results[kind] = (nearest(routing, fac_nodes, direction="to_source"), fac_ids[sel])
    if absent:
        listed = ", ".join(f"'{k}'" for k in absent)
        log.warning(
            f"设施图层中没有以下类型：{listed}，其行程时间为空 / facilities: no facility of kind {listed}; their "
            f"time_min_<kind> columns are left empty. Fix: add facilities of these kinds or remove them from "
            "access.facility_kinds."
        )
    return routing, nodes, snaps, results


def nearest_facilities(
    net: RoadNetwork,
    points: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame | None,
    *,
    kinds: Sequence[str] | None = None,
    config: AccessConfig | None = None,
) -> gpd.GeoDataFrame:
    """Travel time and distance from every point to its nearest facility of each kind.

    Points (villages, sites, any point or polygon layer) and facilities are snapped to the
    nearest road piece with an off-road walking leg; travel runs from the point to the
    facility, honouring one-way roads. Published as :func:`geofupin.access.nearest`.

    Parameters
    ----------
    net
        A network from :func:`geofupin.network.from_roads` (in the points' CRS).
    points
        The points to measure from; polygons use a point on their surface. Not modified.
    facilities
        Facilities with ``kind`` (``school``, ``clinic``, ...) and ``facility_id``; ``None``
        or empty: every time is empty.
    kinds
        The facility kinds to measure (default ``config.facility_kinds``).
    config
        Snapping options (``max_snap_dist_m``, ``walk_speed_kph``, ``snap_to``) and the
        default kinds (default :class:`~geofupin.config.access.AccessConfig`).

    Returns
    -------
    geopandas.GeoDataFrame
        A copy of ``points`` (same index) with, per kind, ``time_min_<kind>`` (NaN where no
        facility is reachable), ``dist_m_<kind>`` and ``nearest_<kind>`` (the facility id),
        then ``snap_dist_m`` (the off-road leg) and ``reachable`` (within ``max_snap_dist_m``).
    """
    _require_network(net, "access.nearest")
    cfg = config or AccessConfig()
    kinds = list(cfg.facility_kinds if kinds is None else kinds)
    _, nodes, snaps, results = _facilities_by_kind(net, facilities, kinds, cfg, {"points": points})
    _warn_far(points, snaps["points"], cfg)
    return _kind_columns(points, nodes["points"], snaps["points"], results)


def od_pairs(
    net: RoadNetwork,
    origins: gpd.GeoDataFrame,
    destinations: gpd.GeoDataFrame,
    *,
    cutoff_min: float | None = None,
    config: AccessConfig | None = None,
) -> pd.DataFrame:
    """Travel time and distance between every origin and destination within a cut-off, as a long table.

    Published as :func:`geofupin.access.od`; the ``od_village_site`` table of a run and the
    ``od`` argument of :func:`geofupin.allocate.assign`.

    Parameters
    ----------
    net
        A network from :func:`geofupin.network.from_roads`.
    origins, destinations
        Point or polygon layers (villages and sites). Their id column (``village_id``,
        ``site_id``, ``facility_id``) names the pairs, else their index as text
        (columns ``origin`` and ``destination``). Not modified.
    cutoff_min
        Pairs slower than this are left out (default ``config.od_cutoff_min``).
    config
        Snapping options and the default cut-off (default
        :class:`~geofupin.config.access.AccessConfig`).

    Returns
    -------
    pandas.DataFrame
        One row per pair reachable within the cut-off, origins in order and each origin's
        destinations in order: the two id columns, ``time_min`` and ``dist_m``.
    """
    _require_network(net, "access.od")
    cfg = config or AccessConfig()
    cut = cfg.od_cutoff_min if cutoff_min is None else float(cutoff_min)
    opts = _snap_options(net, cfg)
    snaps = {"origins": snap(net, origins.geometry, **opts), "destinations": snap(net, destinations.geometry, **opts)}
    routing, nodes = net.attach(snaps)
    _warn_far(origins, snaps["origins"], cfg)
    _warn_far(destinations, snaps["destinations"], cfg)
    o_col, _, o_ids = _ids(origins, "origin")
    d_col, _, d_ids = _ids(destinations, "destination")
    if d_col == o_col:
        d_col = f"{d_col}_to"
    od = od_matrix(routing, nodes["origins"], nodes["destinations"], cutoff_min=cut)
    return od_table(od, o_ids, d_ids, names=(o_col, d_col))


def service_areas(
    net: RoadNetwork,
    facilities: gpd.GeoDataFrame | None,
    *,
    kinds: Sequence[str] | None = None,
    bands_min: Sequence[float] | None = None,
    config: AccessConfig | None = None,
) -> gpd.GeoDataFrame:
    """Isochrones: the land within each travel-time band of the nearest facility of each kind.

    Each polygon is the reached road parts (cut where a band ends part-way along a road)
    buffered by ``config.isochrone_buffer_m``. Published as :func:`geofupin.access.isochrones`.

    Parameters
    ----------
    net
        A network from :func:`geofupin.network.from_roads`.
    facilities
        Facilities with ``kind``; ``None`` or empty gives an empty layer.
    kinds
        The facility kinds (default ``config.facility_kinds``); kinds with no facility near a
        road get no polygon.
    bands_min
        The bands in minutes (default ``config.bands_min``).
    config
        Snapping and buffer options, and ``threads`` for the unions (default
        :class:`~geofupin.config.access.AccessConfig`).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per kind and band: ``facility_kind``, ``band_min`` and the (Multi)Polygon, in
        the network's CRS.
    """
    _require_network(net, "access.isochrones")
    cfg = config or AccessConfig()
    kinds = list(cfg.facility_kinds if kinds is None else kinds)
    bands = tuple(cfg.bands_min if bands_min is None else bands_min)
    routing, _, _, results = _facilities_by_kind(net, facilities, kinds, cfg, {})
    reached = {str(k): r[0].time_min for k, r in results.items() if r is not None}
    # the (kind, band) unions side by side on config.threads threads; the polygons do not depend on them
    iso = isochrones_many(routing, reached, bands, buffer_m=cfg.isochrone_buffer_m, threads=cfg.threads)
    rows: list[dict[str, Any]] = []
    for kind, polys in iso.items():
        for band, poly in zip(bands, polys, strict=True):
            rows.append({"facility_kind": kind, "band_min": float(band), "geometry": poly})
    return gpd.GeoDataFrame(
        rows or {"facility_kind": [], "band_min": [], "geometry": []}, geometry="geometry", crs=net.crs
    )


# --------------------------------------------------------------------------- the step


def _kind_columns(
    frame: gpd.GeoDataFrame,
    nodes: np.ndarray,
    sn: Snap,
    results: Mapping[str, tuple[Nearest, np.ndarray] | None],
) -> gpd.GeoDataFrame:
    out = frame.copy()
    for kind, res in results.items():
        t = np.full(len(frame), np.nan)
        d = np.full(len(frame), np.nan)
        who = np.full(len(frame), None, dtype=object)
        if res is not None:
            near, fac_ids = res
            at = near.at(nodes)
            fin = np.isfinite(at.time_min)
            t[fin] = at.time_min[fin]
            d[fin] = at.dist_m[fin]
            who[fin] = fac_ids[at.source[fin]]
        out[f"time_min_{kind}"] = t
        out[f"dist_m_{kind}"] = d
        out[f"nearest_{kind}"] = pd.array(who, dtype="string")
    out["snap_dist_m"] = np.where(np.isfinite(sn.snap_dist_m), sn.snap_dist_m, np.nan)
    out["reachable"] = sn.reachable
    return out


class _Collected(logging.Handler):
    """The WARNING messages logged inside :func:`_collect` (the functions above log theirs)."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _collect(*loggers: logging.Logger) -> Iterator[list[str]]:
    handler = _Collected()
    for lg in loggers:
        lg.addHandler(handler)
    try:
        yield handler.messages
    finally:
        for lg in loggers:
            lg.removeHandler(handler)


def step(ctx: RunContext) -> StepResult:
    """The ``access`` step: road graph, nearest facilities, OD villages x sites, isochrones,
    coverage and before/after relocation.

    Calls the public functions: :func:`geofupin.network.from_roads`,
    :func:`geofupin.access.nearest` (villages, sites), :func:`geofupin.access.od`,
    :func:`geofupin.access.isochrones` and :func:`coverage`.

    Needs layers ``roads`` and ``villages``; uses ``facilities``, ``candidates`` (or an earlier
    ``sites``/``candidates`` result layer), ``boundaries`` and the DEM when present, and the
    ``assignment`` table of the allocate step when it ran before.

    Produces layers ``village_access``, ``site_access``, ``isochrones``; tables ``coverage``,
    ``od_village_site``, ``before_after``; artifacts ``network`` (the base
    :class:`RoadNetwork`), ``routing`` (the network with villages, sites and facilities
    attached) and ``nodes`` (node of each village/site/facility in ``routing``).
    """
    cfg: AccessConfig = getattr(ctx.scenario, "access", None) or AccessConfig()
    layers = ctx.layers
    if layers.roads is None or len(layers.roads) == 0:
        raise DataError(
            "access: the roads layer is missing or empty, so travel times cannot be computed. "
            "Fix: add 'roads:' under 'layers:' in the scenario (or import OSM roads with `geofupin import-osm`)."
        )
    villages = layers.villages.reset_index(drop=True)
    sites = layers.candidates
    if sites is None:
        sites = ctx.layer("sites")
        if sites is None:
            sites = ctx.layer("candidates")
    sites = sites.reset_index(drop=True) if sites is not None else None
    facilities = layers.facilities
    facilities = facilities.reset_index(drop=True) if facilities is not None and len(facilities) else None
    kinds = list(cfg.facility_kinds)
    with _collect(log, logging.getLogger("geofupin.network")) as logged:
        net = from_roads(layers.roads, config=cfg, dem=layers.dem)
        village_access = nearest_facilities(net, villages, facilities, config=cfg)
        site_access = nearest_facilities(net, sites, facilities, config=cfg) if sites is not None else None
        od_df = (
            od_pairs(net, villages, sites, config=cfg)
            if sites is not None
            else pd.DataFrame(columns=["village_id", "site_id", "time_min", "dist_m"])
        )
        isochrone_layer = service_areas(net, facilities, config=cfg)
    report = net.report
    assert report is not None
    warnings: list[str] = list(dict.fromkeys([*report.warnings, *logged]))
    # the routing graph of every point, for callers that route on further (e.g. networkx checks)
    opts = _snap_options(net, cfg)
    points = {"villages": villages, "sites": sites, "facilities": facilities}
    routing, nodes = net.attach({k: snap(net, f.geometry, **opts) for k, f in points.items() if f is not None})

    reached = set(isochrone_layer["facility_kind"].astype(str))
    found = [k for k in kinds if village_access[f"nearest_{k}"].notna().any() or k in reached]
    cov = coverage(village_access, found, cfg.bands_min)
    ba = before_after(village_access, site_access, od_df, kinds, assignment=ctx.table("assignment"))

    unreachable = {
        kind: int((~np.isfinite(village_access[f"time_min_{kind}"].to_numpy(float))).sum()) for kind in found
    }
    summ = {
        "network": net.summary(),
        "build": {
            "lines": report.n_lines,
            "pieces": report.n_pieces,
            "dropped_zero_length": report.dropped_zero_length,
            "dropped_duplicates": report.dropped_duplicates,
            "default_speed_roads": report.default_speed_roads,
            "slope_applied_pieces": report.slope_applied_pieces,
            "slope_missing_pieces": report.slope_missing_pieces,
        },
        "villages_beyond_snap": int((~village_access["reachable"].to_numpy(bool)).sum()),
        "sites_beyond_snap": int((~site_access["reachable"].to_numpy(bool)).sum()) if site_access is not None else 0,
        "villages_unreached_by_kind": unreachable,
        "od_pairs_within_cutoff": len(od_df),
    }
    blocked = {k: c for k, c in unreachable.items() if c}
    if blocked:
        listed = ", ".join(f"{k} {c}" for k, c in blocked.items())
        warnings.append(
            f"villages: some cannot reach a facility by road (beyond the snap distance or on a disconnected part "
            f"of the network): {listed}; those time_min_<kind> values are empty."
        )
    layers_out: dict[str, gpd.GeoDataFrame] = {"village_access": village_access, "isochrones": isochrone_layer}
    if site_access is not None:
        layers_out["site_access"] = site_access
    return StepResult(
        layers=layers_out,
        tables={"coverage": cov, "od_village_site": od_df, "before_after": ba},
        artifacts={"network": net, "routing": routing, "nodes": nodes},
        summary=summ,
        warnings=tuple(warnings),
    )


def site_network_access(
    net: RoadNetwork,
    *,
    villages: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame | None,
    config: AccessConfig | None = None,
    elevation: Any = None,
) -> tuple[gpd.GeoDataFrame, RoadNetwork, dict[str, np.ndarray], list[str]]:
    """Network travel times for sites the access step did not see (e.g. grid candidates made by siting).

    Snaps villages, ``sites`` and facilities to the base network ``net`` exactly as :func:`step` does
    and returns the ``site_access`` rows of the sites (``time_min_<kind>``, ``dist_m_<kind>``,
    ``nearest_<kind>``, ``snap_dist_m``, ``reachable``), the routing network with the points
    attached and their nodes (for :func:`od_matrix`), and warnings (sites beyond the snap distance).
    """
    cfg = config or AccessConfig()
    sopt: dict[str, Any] = {
        "max_snap_dist_m": cfg.max_snap_dist_m,
        "walk_speed_kph": cfg.walk_speed_kph,
        "snap_to": cfg.snap_to,
        "elevation": elevation,
    }
    villages = villages.reset_index(drop=True)
    sites = sites.reset_index(drop=True)
    snaps: dict[str, Snap] = {
        "villages": snap(net, villages.geometry, **sopt),
        "sites": snap(net, sites.geometry, **sopt),
    }
    has_fac = facilities is not None and len(facilities) > 0
    if has_fac:
        assert facilities is not None
        facilities = facilities.reset_index(drop=True)
        snaps["facilities"] = snap(net, facilities.geometry, **sopt)
    routing, nodes = net.attach(snaps)
    results: dict[str, tuple[Nearest, np.ndarray] | None] = {}
    fac_kind = facilities["kind"].astype(str).to_numpy() if has_fac and facilities is not None else np.empty(0)
    for kind in cfg.facility_kinds:
        sel = np.flatnonzero(fac_kind == kind)
        fac_nodes = nodes["facilities"][sel] if "facilities" in nodes else np.empty(0, np.int64)
        if len(sel) == 0 or not (fac_nodes >= 0).any():
            results[kind] = None
            continue
        assert facilities is not None
        near = nearest(routing, fac_nodes, direction="to_source")
        results[kind] = (near, facilities["facility_id"].astype(str).to_numpy()[sel])
    site_access = _kind_columns(sites, nodes["sites"], snaps["sites"], results)
    warnings: list[str] = []
    far = ~snaps["sites"].reachable
    if far.any():
        warnings.append(
            f"网格候选点 {int(far.sum())} 个距道路超过 {cfg.max_snap_dist_m:g} m，无路网行程时间 / "
            f"{int(far.sum())} grid "
            f"site(s) lie farther than max_snap_dist_m = {cfg.max_snap_dist_m:g} m from any road and have no network "
            "travel time. Fix: raise access.max_snap_dist_m if tracks are missing from the roads layer."
        )
    return site_access, routing, nodes, warnings
