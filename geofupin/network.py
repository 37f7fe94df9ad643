"""Road lines to a routable graph: noding, class speeds, one-way, slope, snapping.

:func:`build` turns a road layer (LineStrings in a metric CRS) into a :class:`RoadNetwork`,
a frozen value of numpy arrays and CSR matrices that :mod:`geofupin.accessibility` runs
``scipy.sparse.csgraph`` shortest paths on. :meth:`RoadNetwork.to_networkx` gives the same
graph as a networkx ``MultiDiGraph`` to reason with and to check results against.

Noding
    Lines are split into *pieces* (edges between junctions) at

    * their ends;
    * vertices shared with another line or repeated in the same line (OSM junctions);
    * true crossings between two lines on the same *level* when ``node_intersections`` is
      on (official data often has no shared vertex at junctions). The level is the OSM
      ``layer`` when given, else ``1`` for a bridge, ``-1`` for a tunnel, ``0`` otherwise: a
      bridge over a road only joins it at a shared vertex, never where it merely crosses;
    * the point of a same-level line nearest to a dangling line end within
      ``snap_tolerance_m`` (undershoots; overshoots are crossings).

    Junction points closer than ``snap_tolerance_m`` are merged into one node when they are
    on the same level (points at the very same coordinate are always one node); the free end
    of a bridge or tunnel, where it comes down to the ground, also merges with (and snaps to)
    ground roads. A loop (a closed way, the ring of a lollipop) is split in three so that it
    stays in the graph. Zero-length and duplicate pieces (same ends, length and vertices)
    are dropped and counted.

One-way
    ``oneway`` is read as a direction (:func:`oneway_direction`): forward along the line as
    drawn, backward against it (OSM ``-1``, Geofabrik ``T``: the geometry is reversed here, in
    one place), or both ways.

Travel time
    ``speed_kph`` of the road when present and positive, else the class speed
    (``speeds_kph``, with OSM ``highway`` values and Chinese class names mapped by
    :data:`geofupin.vocabulary.ROAD_CLASS_ALIASES`), else ``default_speed_kph`` with a warning;
    multiplied by the surface factor (``gravel`` 0.7: 30 km/h becomes 21 km/h).
    With ``slope_penalty`` and a DEM, tracks and paths are slowed by Tobler's hiking function
    relative to flat ground (:func:`tobler_factor`), separately in each direction, with the
    grade taken between elevations sampled along each line at the DEM's cell size (a 0.5 m
    segment of the geometry has no slope a 30-90 m DEM can tell) and the factor bounded by
    ``slope_max_factor`` (10). Tracks use the same relative factor as paths: no vehicle
    model of its own, bounded alike.

Snapping
    :func:`snap` joins points to the nearest point of the nearest piece (not the nearest
    node), with an off-road walking leg; :meth:`RoadNetwork.attach` splits the pieces
    virtually at the snapped points and adds one node per point, so shortest paths start
    and end exactly there, including two points on the same piece.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from pyproj import CRS
from scipy.sparse.csgraph import connected_components

from .config.access import DEFAULT_SLOPE_MAX_FACTOR, DEFAULT_SLOPE_SAMPLE_M, AccessConfig
from .crs import require_projected
from .errors import DataError
from .vocabulary import ONEWAY_ALIASES, ROAD_CLASS_ALIASES, ROAD_CLASSES

if TYPE_CHECKING:
    import networkx as nx

log = logging.getLogger(__name__)

#: The public API (docs/reference/network.md documents each name).
__all__ = [
    "BuildReport",
    "RoadNetwork",
    "Snap",
    "build",
    "dem_sampler",
    "from_roads",
    "snap",
]

M_PER_MIN_PER_KPH = 1000.0 / 60.0


def tobler_speed_kph(slope: np.ndarray) -> np.ndarray:
    """Walking speed of Tobler's hiking function (Tobler 1993), ``W = 6 exp(-3.5 |S + 0.05|)``
    km/h for slope ``S = dz/dx`` (downhill negative): 6 km/h at -5 %, 5.04 km/h on the flat."""
    s = np.asarray(slope, dtype=float)
    return 6.0 * np.exp(-3.5 * np.abs(s + 0.05))


def tobler_factor(slope: np.ndarray) -> np.ndarray:
    """Time multiplier of Tobler's hiking function relative to flat ground.

    Tobler: ``v = 6 exp(-3.5 |S + 0.05|)`` km/h for slope ``S = dz/dx`` (downhill negative),
    so the multiplier is ``exp(3.5 (|S + 0.05| - 0.05))``: 1 on the flat, about 0.84 on a
    gentle descent of -5 %, about 2.0 at +15 %.
    """
    s = np.asarray(slope, dtype=float)
    return np.exp(3.5 * (np.abs(s + 0.05) - 0.05))  # = tobler_speed_kph(0) / tobler_speed_kph(s)


@dataclass(frozen=True)
class BuildReport:
    """Counts of what :func:`build` repaired or assumed, and the messages for the user.

    Attributes
    ----------
    n_lines, n_pieces
        Road features read and pieces (edges between junctions) built.
    dropped_zero_length, dropped_duplicates, dropped_loops
        Pieces left out: of no length, repeated, loops that could not be split.
    default_speed_roads
        Roads timed at ``default_speed_kph`` (no speed and an unknown class).
    slope_applied_pieces, slope_missing_pieces
        Pieces slowed by the slope, and those the DEM does not cover.
    warnings
        Messages for the user.
    """

    n_lines: int
    n_pieces: int
    dropped_zero_length: int
    dropped_duplicates: int
    dropped_loops: int
    default_speed_roads: int
    slope_applied_pieces: int
    slope_missing_pieces: int
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class RoadNetwork:
    """A routable road graph as arrays (frozen; built once per run by :func:`build`).

    Nodes are junctions (and, after :meth:`attach`, snapped points and the points
    themselves). *Pieces* are the undirected road parts between junctions, with geometry
    (held as coordinate arrays; the shapely LineStrings are made on first use);
    *edges* are directed: a forward edge per piece (along its geometry) and a backward edge
    unless the piece is one-way.

    Attributes
    ----------
    crs
        The metric CRS of the coordinates.
    node_xy
        ``(n, 2)`` node coordinates.
    edge_u, edge_v, edge_length_m, edge_time_min
        Directed edges.
    edge_piece, edge_f0, edge_f1
        The piece an edge runs along (``-1`` for off-road legs) and the fractions of the
        piece geometry where it starts and ends (``0, 1`` forward, ``1, 0`` backward).
    piece_u, piece_v, piece_length_m, piece_road_id, piece_class, piece_oneway
        Undirected pieces with their road's id, class and one-way flag.
    piece_coords, piece_coord_start
        ``(m, 2)`` vertices of all pieces, piece ``i`` being rows
        ``piece_coord_start[i]:piece_coord_start[i + 1]`` (see :attr:`piece_geometry`).
    piece_fwd_edge, piece_bwd_edge
        The directed edge of each piece in each direction (``-1`` when one-way).
    forward, reverse
        CSR matrices of travel time (min), ``reverse`` the transpose; parallel edges keep the
        fastest.
    forward_length, reverse_length
        The lengths (m) of those edges.
    n_base_nodes
        Number of junction nodes before :meth:`attach` added points.
    report
        What :func:`from_roads` repaired or assumed (:class:`BuildReport`); ``None`` on an
        attached network or one made by :func:`build` or :func:`network_from_frame`.
    elevation
        The DEM sampler the network was timed with (``slope_penalty``), which :func:`snap`
        then uses for the off-road legs; ``None`` without slopes.
    """

    crs: CRS | None
    node_xy: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_length_m: np.ndarray
    edge_time_min: np.ndarray
    edge_piece: np.ndarray
    edge_f0: np.ndarray
    edge_f1: np.ndarray
    piece_u: np.ndarray
    piece_v: np.ndarray
    piece_coords: np.ndarray
    piece_coord_start: np.ndarray
    piece_length_m: np.ndarray
    piece_road_id: np.ndarray
    piece_class: np.ndarray
    piece_oneway: np.ndarray
    piece_fwd_edge: np.ndarray
    piece_bwd_edge: np.ndarray
    forward: sp.csr_matrix
    reverse: sp.csr_matrix
    forward_length: sp.csr_matrix
    reverse_length: sp.csr_matrix
    n_base_nodes: int
    report: BuildReport | None = field(default=None, compare=False, repr=False)
    elevation: Callable[[np.ndarray], np.ndarray] | None = field(default=None, compare=False, repr=False)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.node_xy.shape[0])

    @property
    def n_edges(self) -> int:
        """Number of directed edges."""
        return int(self.edge_u.shape[0])

    @property
    def attached(self) -> bool:
        """True for a network that :meth:`attach` extended with points."""
        return self.n_nodes != self.n_base_nodes

    @cached_property
    def piece_geometry(self) -> np.ndarray:
        """LineString of every piece (along ``piece_u`` -> ``piece_v``), made on first use."""
        k = len(self.piece_u)
        if k == 0:
            return np.empty(0, dtype=object)
        idx = np.repeat(np.arange(k), np.diff(self.piece_coord_start))
        return np.asarray(shapely.linestrings(self.piece_coords, indices=idx), dtype=object)

    @cached_property
    def _cache(self) -> dict[str, Any]:
        """Lookups derived from the arrays, built on first use by other modules
        (e.g. the in-edge tables of :mod:`geofupin.accessibility`)."""
        return {}

    @cached_property
    def component(self) -> np.ndarray:
        """Weakly connected component label of every node."""
        _, labels = connected_components(self.forward, directed=True, connection="weak")
        return labels

    @cached_property
    def main_component(self) -> int:
        """Label of the component holding the most road length."""
        if len(self.piece_u) == 0:
            return 0
        comp_len = np.bincount(self.component[self.piece_u], weights=self.piece_length_m)
        return int(np.argmax(comp_len))

    def _tree(self, snap_to: Literal["nearest", "main_component"]) -> tuple[shapely.STRtree, np.ndarray]:
        """The STRtree of the pieces :func:`snap` searches (all, or those of the main component)
        and their piece numbers, built on first use of each (at 2 M nodes a tree is seconds and
        hundreds of MB: a run that snaps to ``nearest`` never builds the other)."""
        key = f"tree_{snap_to}"
        if key not in self._cache:
            if snap_to == "nearest":
                ids = np.arange(len(self.piece_u))
                self._cache[key] = (shapely.STRtree(self.piece_geometry), ids)
            else:
                ids = np.flatnonzero(self.component[self.piece_u] == self.main_component)
                self._cache[key] = (shapely.STRtree(self.piece_geometry[ids]), ids)
        tree, ids = self._cache[key]
        return tree, ids

    def summary(self) -> dict[str, Any]:
        """Graph size, components and the share of road length outside the main component."""
        labels = self.component
        n_comp = int(labels.max()) + 1 if len(labels) else 0
        total = float(self.piece_length_m.sum())
        in_main = self.component[self.piece_u] == self.main_component
        outside = float(self.piece_length_m[~in_main].sum())
        return {
            "nodes": self.n_nodes,
            "edges": self.n_edges,
            "pieces": len(self.piece_u),
            "road_length_km": round(total / 1000.0, 3),
            "components": n_comp,
            "main_component_nodes": int(np.count_nonzero(labels == self.main_component)),
            "share_length_outside_main": round(outside / total, 6) if total > 0 else 0.0,
        }

    def to_networkx(self) -> nx.MultiDiGraph:
        """The graph as a networkx ``MultiDiGraph``, in the form osmnx reads.

        The graph carries ``crs`` (the metric CRS, as ``osmnx.graph_to_gdfs`` and
        ``osmnx.distance.nearest_nodes`` expect); nodes carry ``x`` and ``y``; every directed
        edge carries osmnx's ``length`` (metres), ``travel_time`` (seconds) and ``speed_kph``
        beside geofupin's ``time_min``, ``length_m`` and ``piece`` (``-1`` for an off-road leg).
        Shortest paths by ``travel_time`` there are the ones :mod:`geofupin.accessibility`
        finds on the CSR arrays (times 60).

        Returns
        -------
        networkx.MultiDiGraph
            Node ``i`` is row ``i`` of :attr:`node_xy`.
        """
        import networkx as nx

        g = nx.MultiDiGraph(crs=self.crs)
        g.add_nodes_from((i, {"x": float(x), "y": float(y)}) for i, (x, y) in enumerate(self.node_xy))
        with np.errstate(invalid="ignore", divide="ignore"):
            kph = np.where(self.edge_time_min > 0, self.edge_length_m / self.edge_time_min / M_PER_MIN_PER_KPH, np.nan)
        g.add_edges_from(
            (
                int(u),
                int(v),
                {
                    "time_min": float(t),
                    "length_m": float(d),
                    "piece": int(p),
                    "length": float(d),
                    "travel_time": float(t) * 60.0,
                    "speed_kph": float(k),
                },
            )
            for u, v, t, d, p, k in zip(
                self.edge_u, self.edge_v, self.edge_time_min, self.edge_length_m, self.edge_piece, kph, strict=True
            )
        )
        return g

    def pieces_frame(self) -> gpd.GeoDataFrame:
        """The pieces as a GeoDataFrame (road_id, road_class, oneway, length_m, u, v, component)."""
        return gpd.GeoDataFrame(
            {
                "road_id": self.piece_road_id,
                "road_class": self.piece_class,
                "oneway": self.piece_oneway,
                "length_m": self.piece_length_m,
                "u": self.piece_u,
                "v": self.piece_v,
                "component": self.component[self.piece_u],
            },
            geometry=self.piece_geometry,
            crs=self.crs,
        )

    def attach(self, snaps: Mapping[str, Snap]) -> tuple[RoadNetwork, dict[str, np.ndarray]]:
        """Extend the network with snapped points, splitting pieces virtually where they join.

        Each reachable point gets a *snap node* on its piece (the piece's directed edges are
        replaced by chains through the snap nodes, times and lengths split in proportion to
        the length)
        and a *point node* linked to it by the off-road leg in both directions.

        Parameters
        ----------
        snaps
            Snapped point sets by name (``{"villages": snap(net, ...), ...}``).

        Returns
        -------
        tuple[RoadNetwork, dict[str, numpy.ndarray]]
            The extended network and, per name, the node of every point (``-1`` when the
            point is unreachable).
        """
        if self.attached:
            raise DataError(
                "RoadNetwork.attach: this network already has attached points. Fix: attach all point sets in one call."
            )
        names = list(snaps)
        sizes = [len(snaps[k].piece) for k in names]
        piece = np.concatenate([snaps[k].piece for k in names]) if names else np.empty(0, np.int64)
        frac = np.concatenate([snaps[k].frac for k in names]) if names else np.empty(0)
        ok = np.concatenate([snaps[k].reachable for k in names]) if names else np.empty(0, bool)
        snap_xy = np.concatenate([snaps[k].snap_xy for k in names]) if names else np.empty((0, 2))
        pt_xy = np.concatenate([snaps[k].xy for k in names]) if names else np.empty((0, 2))
        w_in = np.concatenate([snaps[k].walk_in_min for k in names]) if names else np.empty(0)
        w_out = np.concatenate([snaps[k].walk_out_min for k in names]) if names else np.empty(0)
        dsnap = np.concatenate([snaps[k].snap_dist_m for k in names]) if names else np.empty(0)

        n0 = self.n_nodes
        idx = np.flatnonzero(ok)
        k = len(idx)
        snap_node = n0 + np.arange(k)
        point_node = n0 + k + np.arange(k)
        node_of = np.full(len(piece), -1, dtype=np.int64)
        node_of[idx] = point_node

        # chains along split pieces, forward (along geometry) and backward
        order = np.lexsort((frac[idx], piece[idx]))
        sp_piece = piece[idx][order]
        sp_frac = frac[idx][order]
        sp_node = snap_node[order]
        first = np.r_[True, sp_piece[1:] != sp_piece[:-1]] if k else np.empty(0, bool)
        last = np.r_[sp_piece[1:] != sp_piece[:-1], True] if k else np.empty(0, bool)
        prev_node = np.where(first, self.piece_u[sp_piece], np.r_[-1, sp_node[:-1]])
        prev_frac = np.where(first, 0.0, np.r_[0.0, sp_frac[:-1]])
        # chain segments: (a -> b) for each snap point from its predecessor, plus last -> v
        seg_a = np.r_[prev_node, sp_node[last]]
        seg_b = np.r_[sp_node, self.piece_v[sp_piece[last]]]
        seg_f0 = np.r_[prev_frac, sp_frac[last]]
        seg_f1 = np.r_[sp_frac, np.ones(int(last.sum()))]
        seg_piece = np.r_[sp_piece, sp_piece[last]]
        split = np.unique(sp_piece)
        keep = np.ones(self.n_edges, dtype=bool)
        keep[self.piece_fwd_edge[split]] = False
        bwd = self.piece_bwd_edge[split]
        keep[bwd[bwd >= 0]] = False

        fe = self.piece_fwd_edge[seg_piece]
        be = self.piece_bwd_edge[seg_piece]
        dfrac = seg_f1 - seg_f0
        plen = self.piece_length_m[seg_piece]
        new_u = [self.edge_u[keep], seg_a]
        new_v = [self.edge_v[keep], seg_b]
        new_len = [self.edge_length_m[keep], dfrac * plen]
        new_time = [self.edge_time_min[keep], dfrac * self.edge_time_min[fe]]
        new_piece = [self.edge_piece[keep], seg_piece]
        new_f0 = [self.edge_f0[keep], seg_f0]
        new_f1 = [self.edge_f1[keep], seg_f1]
        two = be >= 0
        new_u.append(seg_b[two])
        new_v.append(seg_a[two])
        new_len.append((dfrac * plen)[two])
        new_time.append(dfrac[two] * self.edge_time_min[be[two]])
        new_piece.append(seg_piece[two])
        new_f0.append(seg_f1[two])
        new_f1.append(seg_f0[two])
        # off-road legs: point -> snap (walk in) and snap -> point (walk out)
        sn = snap_node
        pn = point_node
        new_u += [pn, sn]
        new_v += [sn, pn]
        new_len += [dsnap[idx], dsnap[idx]]
        new_time += [w_in[idx], w_out[idx]]
        new_piece += [np.full(k, -1), np.full(k, -1)]
        new_f0 += [np.zeros(k), np.zeros(k)]
        new_f1 += [np.zeros(k), np.zeros(k)]

        node_xy = np.vstack([self.node_xy, snap_xy[idx], pt_xy[idx]])
        net = _assemble(
            crs=self.crs,
            node_xy=node_xy,
            edge_u=np.concatenate(new_u).astype(np.int64),
            edge_v=np.concatenate(new_v).astype(np.int64),
            edge_length_m=np.concatenate(new_len),
            edge_time_min=np.concatenate(new_time),
            edge_piece=np.concatenate(new_piece).astype(np.int64),
            edge_f0=np.concatenate(new_f0),
            edge_f1=np.concatenate(new_f1),
            pieces=self,
            n_base_nodes=self.n_base_nodes,
        )
        out: dict[str, np.ndarray] = {}
        start = 0
        for name, size in zip(names, sizes, strict=True):
            out[name] = node_of[start : start + size]
            start += size
        return net, out


@dataclass(frozen=True)
class Snap:
    """Points joined to a network at the nearest point of the nearest piece.

    Attributes
    ----------
    xy
        ``(k, 2)`` the points.
    piece
        The piece each point snaps to.
    frac
        Position of the snapped point along the piece geometry (0 at ``piece_u``, 1 at ``piece_v``).
    snap_xy
        The snapped points on the roads.
    snap_dist_m
        Straight-line distance from the point to its road (the off-road leg).
    walk_in_min, walk_out_min
        Off-road walking time from the point to the road and back (min).
    reachable
        False where ``snap_dist_m`` exceeds ``max_snap_dist_m`` (or the point is empty).
    """

    xy: np.ndarray
    piece: np.ndarray
    frac: np.ndarray
    snap_xy: np.ndarray
    snap_dist_m: np.ndarray
    walk_in_min: np.ndarray
    walk_out_min: np.ndarray
    reachable: np.ndarray


def snap(
    net: RoadNetwork,
    points: np.ndarray | gpd.GeoSeries,
    *,
    max_snap_dist_m: float = 2000.0,
    walk_speed_kph: float = 4.0,
    snap_to: Literal["nearest", "main_component"] = "nearest",
    elevation: Callable[[np.ndarray], np.ndarray] | None = None,
    slope_max_factor: float = DEFAULT_SLOPE_MAX_FACTOR,
) -> Snap:
    """Snap points to the nearest point on the nearest piece of ``net``.

    Parameters
    ----------
    net
        A network from :func:`build` (not yet attached).
    points
        ``(k, 2)`` coordinates or a GeoSeries (polygons use a representative point).
    max_snap_dist_m
        Points farther than this from the chosen piece are unreachable.
    walk_speed_kph
        Off-road walking speed on the flat.
    snap_to
        ``nearest`` piece, or nearest piece of the main component.
    elevation
        Optional ``f(xy) -> z`` (NaN where unknown); the off-road legs are then timed with
        Tobler's hiking function uphill and downhill, the grade taken over at least the DEM
        cell size (``elevation.cell_size_m``, else 30 m).
    slope_max_factor
        The slope makes an off-road leg at most this many times slower than on the flat.

    Returns
    -------
    Snap
        One entry per point, for :meth:`RoadNetwork.attach`.
    """
    if isinstance(points, gpd.GeoSeries):
        geoms = np.asarray(points.values)
        empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
        pts = shapely.point_on_surface(np.where(empty, shapely.Point(0, 0), geoms))
        xy = shapely.get_coordinates(pts)
        xy[empty] = np.nan
    else:
        xy = np.asarray(points, dtype=float).reshape(-1, 2)
        empty = ~np.isfinite(xy).all(axis=1)
    k = len(xy)
    tree, ids = net._tree(snap_to)
    piece = np.zeros(k, dtype=np.int64)
    frac = np.zeros(k)
    dist = np.full(k, np.inf)
    valid = ~empty
    if len(ids) and valid.any():
        qp = shapely.points(xy[valid])
        (qi, ti), d = tree.query_nearest(qp, return_distance=True, all_matches=False)
        vi = np.flatnonzero(valid)[qi]
        piece[vi] = ids[ti]
        dist[vi] = d
        frac[vi] = shapely.line_locate_point(net.piece_geometry[ids[ti]], qp[qi], normalized=True)
    frac = np.nan_to_num(frac, nan=0.0)
    snap_pts = shapely.line_interpolate_point(net.piece_geometry[piece], frac, normalized=True) if len(ids) else None
    snap_xy = shapely.get_coordinates(snap_pts) if snap_pts is not None else np.full((k, 2), np.nan)
    reachable = np.isfinite(dist) & (dist <= max_snap_dist_m)
    base = np.where(np.isfinite(dist), dist, 0.0) / (walk_speed_kph * M_PER_MIN_PER_KPH)
    w_in = base.copy()
    w_out = base.copy()
    if elevation is not None and k:
        z0 = elevation(np.where(np.isfinite(xy), xy, 0.0))
        z1 = elevation(np.where(np.isfinite(snap_xy), snap_xy, 0.0))
        # the grade over at least a DEM cell: two cells' step over a 3 m leg is no slope
        run = np.maximum(dist, getattr(elevation, "cell_size_m", None) or DEFAULT_SLOPE_SAMPLE_M)
        with np.errstate(invalid="ignore", divide="ignore"):
            slope = np.where(dist > 0, (z1 - z0) / run, 0.0)
        known = np.isfinite(slope)
        g = np.nan_to_num(slope)
        w_in = np.where(known, base * np.minimum(tobler_factor(g), slope_max_factor), base)
        w_out = np.where(known, base * np.minimum(tobler_factor(-g), slope_max_factor), base)
    return Snap(xy, piece, frac, snap_xy, dist, w_in, w_out, reachable)


# --------------------------------------------------------------------------- building


def _csr(n: int, u: np.ndarray, v: np.ndarray, t: np.ndarray, d: np.ndarray) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """CSR of time and length with the fastest of parallel edges, canonical (sorted, unique)."""
    if 0 < len(u) < 2**53:
        # scipy's counting sort by row, carrying each edge's position as the value; without
        # parallel edges nothing is summed and the positions give the order directly
        pos = sp.coo_matrix((np.arange(len(u), dtype=float), (u, v)), shape=(n, n)).tocsr()
        if pos.nnz == len(u):
            order = pos.data.astype(np.int64)
            tm = sp.csr_matrix((t[order], pos.indices, pos.indptr), shape=(n, n))
            lm = sp.csr_matrix((d[order], pos.indices.copy(), pos.indptr.copy()), shape=(n, n))
            tm.has_sorted_indices = True
            lm.has_sorted_indices = True
            return tm, lm
    key = u.astype(np.int64) * n + v
    order = np.argsort(key)
    if len(key) > 1 and (np.diff(key[order]) == 0).any():  # parallel edges: fastest first (stable)
        order = np.lexsort((t, key))
    u, v, t, d = u[order], v[order], t[order], d[order]
    first = np.r_[True, (u[1:] != u[:-1]) | (v[1:] != v[:-1])] if len(u) else np.empty(0, bool)
    u, v, t, d = u[first], v[first], t[first], d[first]
    indptr = np.r_[0, np.cumsum(np.bincount(u, minlength=n))].astype(np.int64)
    idx = v.astype(np.int32 if n < 2**31 else np.int64)
    tm = sp.csr_matrix((t, idx, indptr), shape=(n, n))
    lm = sp.csr_matrix((d, idx.copy(), indptr.copy()), shape=(n, n))
    tm.has_sorted_indices = True
    lm.has_sorted_indices = True
    return tm, lm


def _assemble(
    *,
    crs: CRS | None,
    node_xy: np.ndarray,
    edge_u: np.ndarray,
    edge_v: np.ndarray,
    edge_length_m: np.ndarray,
    edge_time_min: np.ndarray,
    edge_piece: np.ndarray,
    edge_f0: np.ndarray,
    edge_f1: np.ndarray,
    pieces: RoadNetwork | dict[str, np.ndarray],
    n_base_nodes: int,
) -> RoadNetwork:
    n = len(node_xy)
    fwd, fwd_len = _csr(n, edge_u, edge_v, edge_time_min, edge_length_m)
    # the reverse graph is the transpose (the same fastest parallel edges), sorted by construction
    rev, rev_len = fwd.T.tocsr(), fwd_len.T.tocsr()
    rev.has_sorted_indices = True
    rev_len.has_sorted_indices = True
    get = (lambda k: getattr(pieces, k)) if isinstance(pieces, RoadNetwork) else pieces.__getitem__
    net = RoadNetwork(
        crs=crs,
        node_xy=node_xy,
        edge_u=edge_u,
        edge_v=edge_v,
        edge_length_m=edge_length_m,
        edge_time_min=edge_time_min,
        edge_piece=edge_piece,
        edge_f0=edge_f0,
        edge_f1=edge_f1,
        piece_u=get("piece_u"),
        piece_v=get("piece_v"),
        piece_coords=get("piece_coords"),
        piece_coord_start=get("piece_coord_start"),
        piece_length_m=get("piece_length_m"),
        piece_road_id=get("piece_road_id"),
        piece_class=get("piece_class"),
        piece_oneway=get("piece_oneway"),
        piece_fwd_edge=get("piece_fwd_edge"),
        piece_bwd_edge=get("piece_bwd_edge"),
        forward=fwd,
        reverse=rev,
        forward_length=fwd_len,
        reverse_length=rev_len,
        n_base_nodes=n_base_nodes,
    )
    if isinstance(pieces, RoadNetwork) and "piece_geometry" in pieces.__dict__:
        net.__dict__["piece_geometry"] = pieces.__dict__["piece_geometry"]  # same pieces: share the LineStrings
    return net


def _column(df: pd.DataFrame, name: str, default: Any) -> pd.Series:
    if name in df.columns:
        return df[name]
    return pd.Series(default, index=df.index, dtype=bool if isinstance(default, bool) else object)


def _canon_class(val: Any, aliases: Mapping[str, str]) -> str | None:
    """The road class of a raw ``road_class`` value (a class, a Chinese name or an OSM
    ``highway`` value), None when unknown."""
    txt = str(val).strip()
    return txt if txt in ROAD_CLASSES else aliases.get(txt, aliases.get(txt.lower()))


def oneway_direction(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Direction of travel of each road from its ``oneway`` value.

    Every spelling of :data:`geofupin.vocabulary.ONEWAY_ALIASES` is understood (OSM ``yes``/``-1``/
    ``no``, booleans, ``1``/``0``/``-1``, Geofabrik's ``F``/``T``/``B``, 是/否, and the
    canonical ``forward``/``backward``/``both`` that layer validation writes).

    Returns
    -------
    ``(direction, unknown)``: ``1`` forward only (along the line as drawn), ``-1`` backward
    only (against it), ``0`` both ways; ``unknown`` marks values not understood (taken as
    both ways). Missing values are both ways.
    """
    code = {"forward": 1, "backward": -1, "both": 0}
    # the distinct values only (values equal in Python, e.g. 1, 1.0 and True, are alike here)
    codes, uniq = pd.factorize(values.astype(object), use_na_sentinel=True)
    d = np.zeros(len(uniq) + 1, dtype=np.int8)
    bad = np.zeros(len(uniq) + 1, dtype=bool)
    for i, v in enumerate(uniq):
        if isinstance(v, (bool, np.bool_)):
            d[i] = 1 if v else 0
            continue
        txt = str(v).strip()
        canon = ONEWAY_ALIASES.get(txt, ONEWAY_ALIASES.get(txt.lower()))
        if canon is None and txt != "":
            bad[i] = True
        d[i] = code.get(canon or "both", 0)
    return d[codes], bad[codes]


def _as_bool(s: pd.Series) -> np.ndarray:
    if s.dtype == bool:
        return s.to_numpy(dtype=bool)
    truthy = ["true", "yes", "1", "1.0", "y", "t", "是"]
    # the distinct values only (values equal in Python, e.g. 1, 1.0 and True, are alike here)
    code, uniq = pd.factorize(s)
    hit = pd.Series(uniq.astype(str)).str.strip().str.lower().isin(truthy).to_numpy()
    return np.r_[hit, False][code]


def _levels(roads: pd.DataFrame) -> np.ndarray:
    layer = pd.to_numeric(_column(roads, "layer", np.nan), errors="coerce").to_numpy(dtype=float)
    bridge = _as_bool(_column(roads, "bridge", False).fillna(False))
    tunnel = _as_bool(_column(roads, "tunnel", False).fillna(False))
    implied = np.where(bridge, 1.0, np.where(tunnel, -1.0, 0.0))
    return np.where(np.isfinite(layer), layer, implied).astype(np.int64)


def _segment_intersections(
    a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parameters ``t`` on ab and ``u`` on cd of the crossing of two segment arrays.

    Collinear overlapping pairs give the projection of ``c`` on ab and of ``a`` on cd (the
    other ends come from the pair seen the other way or from the vertices). ``ok`` marks
    pairs that meet.
    """
    r = b - a
    s = d - c
    qp = c - a
    den = r[:, 0] * s[:, 1] - r[:, 1] * s[:, 0]
    rr = (r * r).sum(1)
    ss = (s * s).sum(1)
    scale = np.sqrt(rr * ss)
    par = np.abs(den) <= 1e-12 * np.maximum(scale, 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (qp[:, 0] * s[:, 1] - qp[:, 1] * s[:, 0]) / den
        u = (qp[:, 0] * r[:, 1] - qp[:, 1] * r[:, 0]) / den
        # collinear: project the far ends so overlaps get split at both ends
        tc = ((c - a) * r).sum(1) / rr
        td = ((d - a) * r).sum(1) / rr
        ua = ((a - c) * s).sum(1) / ss
        ub = ((b - c) * s).sum(1) / ss
    t = np.where(par, np.clip(np.where((tc > 0) & (tc < 1), tc, td), 0, 1), t)
    u = np.where(par, np.clip(np.where((ua > 0) & (ua < 1), ua, ub), 0, 1), u)
    eps = 1e-9
    ok = np.isfinite(t) & np.isfinite(u) & (t >= -eps) & (t <= 1 + eps) & (u >= -eps) & (u <= 1 + eps)
    return np.clip(t, 0, 1), np.clip(u, 0, 1), ok


def _box_pairs(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``i < j`` of boxes that share a cell of a uniform grid, each overlapping pair
    once (every overlapping pair is among them), found by sorting cell keys: no geometry
    objects, no tree. The cell is the median box size (coarser when boxes would cover more
    than 6 cells on average)."""
    n = len(lo)
    if n < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    size = hi - lo
    cell = max(float(np.median(size.max(axis=1))), 1e-6)
    origin = lo.min(axis=0)
    span = float((hi.max(axis=0) - origin).max())
    while True:
        # a few long segments among short ones would cover many cells: coarsen the grid
        # until the boxes cover at most 6 cells each on average (road data: 2-5)
        cell = max(cell, span / 2**30)
        c0 = np.floor((lo - origin) / cell).astype(np.int64)
        c1 = np.floor((hi - origin) / cell).astype(np.int64)
        nx_ = c1[:, 0] - c0[:, 0] + 1
        ny_ = c1[:, 1] - c0[:, 1] + 1
        cnt = nx_ * ny_
        if int(cnt.sum()) <= 6 * n:
            break
        cell *= 2.0
    box = np.repeat(np.arange(n, dtype=np.int32 if n < 2**31 else np.int64), cnt)
    # (the temporaries go as soon as they are used: at 2 M road nodes each is ~160 MB)
    local = np.arange(int(cnt.sum()), dtype=np.int64) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    dx, dy = np.divmod(local, nx_[box])[::-1]
    del local
    key = (c0[box, 0] + dx) * (int(c1[:, 1].max()) + 2) + (c0[box, 1] + dy)
    # each pair is reported in the cell holding the corner max(lo_a, lo_b) (inside both boxes
    # when they overlap): the cell where each box is in its first column or first row
    # (floor is monotone, so that cell is the larger of the two boxes' first cells)
    edge = ((dx == 0) | ((dy == 0) << 1)).astype(np.uint8)
    del dx, dy
    order = np.argsort(key)
    key, box, edge = key[order], box[order], edge[order]
    del order
    start = np.r_[0, np.flatnonzero(key[1:] != key[:-1]) + 1]
    # the pairs of whole cells, a block of about _PAIR_BLOCK entries at a time: the index
    # arrays of every pair at once would be gigabytes at 2 M road nodes (the same pairs, in
    # the same order)
    at = np.minimum(np.searchsorted(start, np.arange(0, len(key), _PAIR_BLOCK)), len(start) - 1)
    cuts = np.unique(np.r_[start[at], len(key)])
    out_a, out_b = [], []
    for c0_, c1_ in itertools.pairwise(cuts.tolist()):
        a, b = _cell_pairs(box[c0_:c1_], edge[c0_:c1_], start[(start >= c0_) & (start < c1_)] - c0_)
        out_a.append(np.minimum(a, b))
        out_b.append(np.maximum(a, b))
    return np.concatenate(out_a), np.concatenate(out_b)


#: Cell entries per block of :func:`_box_pairs`.
_PAIR_BLOCK = 1 << 21


def _cell_pairs(box: np.ndarray, edge: np.ndarray, start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The box pairs of :func:`_box_pairs` within cells: entries sorted by cell, ``start`` the
    first entry of each cell; each pair reported in one cell only (see ``edge`` there)."""
    gsize = np.diff(np.r_[start, len(box)])
    rank = np.arange(len(box)) - np.repeat(start, gsize)
    later = np.repeat(gsize, gsize) - rank - 1  # members after this one in its cell
    n_pairs = int(later.sum())
    it = np.int32 if max(n_pairs, len(box)) < 2**31 - 1 else np.int64
    first = np.repeat(np.arange(len(box), dtype=it), later)
    shift = (np.arange(1, len(box) + 1) - (np.cumsum(later) - later)).astype(it)
    second = np.arange(n_pairs, dtype=it) + np.repeat(shift, later)
    once = (edge[first] | edge[second]) == 3
    return box[first[once]].astype(np.int64), box[second[once]].astype(np.int64)


def _unique_xy(xy: np.ndarray, grid: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """Inverse index and counts of coordinates equal on a ``grid`` (1 mm), via a 1-D key
    (labels in the order of the sorted keys, as ``np.unique`` gives them)."""
    key = np.round(xy / grid).astype(np.int64)
    lo = key.min(axis=0)
    span = key.max(axis=0) - lo + 1
    if float(span[0]) * float(span[1]) < 2.0**62:
        k1 = (key[:, 0] - lo[0]) * span[1] + (key[:, 1] - lo[1])
        order = np.argsort(k1)
        ks = k1[order]
        new = np.r_[True, ks[1:] != ks[:-1]] if len(ks) else np.empty(0, bool)
        inv = np.empty(len(k1), dtype=np.int64)
        inv[order] = np.cumsum(new) - 1
        cnt = np.diff(np.r_[np.flatnonzero(new), len(ks)])
    else:  # pragma: no cover - areas larger than ~2,000 km across
        _, inv, cnt = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    return inv.ravel(), cnt


def _close_pairs(xy: np.ndarray, tol: float) -> np.ndarray:
    """``(k, 2)`` index pairs ``i != j`` of points at most ``tol`` apart, each pair once.

    A grid of ``tol`` cells: a close pair lies in one cell or in two neighbouring
    ones, so only the points of cells with a second point or an occupied neighbour (few:
    junctions are far apart compared with the tolerance) are paired and measured.
    """
    g = np.floor((xy - xy.min(axis=0)) / tol).astype(np.int64)
    w = int(g[:, 1].max()) + 3
    key = g[:, 0] * w + g[:, 1] + 1
    code, cells = pd.factorize(key, sort=True)
    ncell = len(cells)
    size = np.bincount(code, minlength=ncell)
    ca = [np.flatnonzero(size > 1)]
    cb = [ca[0]]
    for off in (1, w - 1, w, w + 1):  # the next cell up, and the three in the next column
        nb = np.minimum(np.searchsorted(cells, cells + off), ncell - 1)  # sorted queries: fast
        has = np.flatnonzero(cells[nb] == cells + off)
        ca.append(has)
        cb.append(nb[has])
    c1, c2 = np.concatenate(ca), np.concatenate(cb)
    if len(c1) == 0:
        return np.empty((0, 2), dtype=np.int64)
    involved = np.zeros(ncell, dtype=bool)
    involved[c1] = involved[c2] = True
    pts = np.flatnonzero(involved[code])
    pts = pts[np.argsort(code[pts], kind="stable")]
    start = np.zeros(ncell + 1, dtype=np.int64)
    np.add.at(start, code[pts] + 1, 1)
    start = np.cumsum(start)
    s1, s2 = size[c1], size[c2]
    n_comb = s1 * s2
    k = np.repeat(np.arange(len(c1)), n_comb)
    local = np.arange(int(n_comb.sum())) - np.repeat(np.cumsum(n_comb) - n_comb, n_comb)
    i = pts[start[c1][k] + local // s2[k]]
    j = pts[start[c2][k] + local % s2[k]]
    keep = (c1[k] != c2[k]) | (i < j)
    i, j = i[keep], j[keep]
    d = xy[i] - xy[j]
    near = (d * d).sum(axis=1) <= tol * tol
    return np.stack([i[near], j[near]], axis=1)


def _cluster(
    xy: np.ndarray, tol: float, *, level: np.ndarray | None = None, line_end: np.ndarray | None = None
) -> np.ndarray:
    """Label points so that points closer than ``tol`` (transitively) share a label.

    With ``level`` (the level of each point's line), points at the same coordinate always
    share a label (a shared vertex is a junction whatever the levels), but nearby points
    merge only when their levels agree: a bridge vertex 1.4 m above a ground junction stays
    apart. The end of a bridge or tunnel line (``line_end``) where no other line of its level
    goes on is where it comes down to the ground: it also merges with ground points.
    """
    if len(xy) == 0:
        return np.empty(0, dtype=np.int64)
    inv, _ = _unique_xy(xy)
    m = int(inv.max()) + 1
    if tol <= 0:
        return inv
    if level is None or len(level) == 0 or int(np.min(level)) == int(np.max(level)):  # one level
        rep = np.zeros((m, 2))
        rep[inv] = xy
        pairs = _close_pairs(rep, tol)
        if len(pairs) == 0:
            return inv
        g = sp.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(m, m))
        _, lab = connected_components(g, directed=False)
        return lab[inv]
    lv = np.asarray(level, dtype=np.int64)
    ends = np.zeros(len(xy), bool) if line_end is None else np.asarray(line_end, bool)
    # one point per (coordinate, level); its levels: its own, and the ground at a transition
    lv0 = int(lv.min())
    _, first, code = np.unique(inv * (int(lv.max()) - lv0 + 1) + (lv - lv0), return_index=True, return_inverse=True)
    code = code.ravel()
    k = len(first)
    n_same = np.bincount(code, minlength=k)
    trans = np.zeros(k, bool)
    trans[code[ends & (lv != 0)]] = True
    trans &= n_same == 1
    c_xy, c_lv, c_inv = xy[first], lv[first], inv[first]
    pairs = _close_pairs(c_xy, tol)
    i, j = pairs[:, 0], pairs[:, 1]
    ok = (c_inv[i] == c_inv[j]) | (c_lv[i] == c_lv[j]) | (trans[i] & (c_lv[j] == 0)) | (trans[j] & (c_lv[i] == 0))
    ok |= trans[i] & trans[j]
    # combos at one coordinate (any level) are one junction
    order = np.argsort(c_inv, kind="stable")
    same = np.flatnonzero(c_inv[order][1:] == c_inv[order][:-1])
    a = np.r_[i[ok], order[same]]
    b = np.r_[j[ok], order[same + 1]]
    if len(a) == 0:
        return code
    g = sp.coo_matrix((np.ones(len(a)), (a, b)), shape=(k, k))
    _, lab = connected_components(g, directed=False)
    return lab[code]


def _metres_at(g_m: np.ndarray, off: np.ndarray, nv: np.ndarray, line: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Metres (on the running scale ``g_m``) of positions ``pos`` = vertex index + fraction on lines ``line``."""
    k = np.minimum(np.floor(pos).astype(np.int64), nv[line] - 2)
    base = off[line] + k
    return g_m[base] + (pos - k) * (g_m[base + 1] - g_m[base])


def _position_at(g_m: np.ndarray, off: np.ndarray, nv: np.ndarray, line: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_metres_at`: vertex index + fraction of running metres ``m`` on lines ``line``."""
    k = np.searchsorted(g_m, m, side="right") - 1
    k = np.clip(k, off[line], off[line] + nv[line] - 2)
    seg = g_m[k + 1] - g_m[k]
    t = np.clip((m - g_m[k]) / np.where(seg > 0, seg, 1.0), 0.0, 1.0)
    return (k - off[line]) + t


def _sorted_breaks(
    coords: np.ndarray, off: np.ndarray, nv: np.ndarray, bl: np.ndarray, bp: np.ndarray, extra: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Breaks (line ``bl``, position ``bp`` = vertex index + fraction) sorted along each line,
    repeats dropped (a junction before an ``extra`` break at the same place), with their
    coordinates and ``extra`` flags."""
    bp = np.minimum(bp, nv[bl] - 1)
    order = np.lexsort((extra, bp, bl))
    bl, bp, extra = bl[order], bp[order], extra[order]
    uniq = np.r_[True, (bl[1:] != bl[:-1]) | (bp[1:] - bp[:-1] > 1e-9)]
    bl, bp, extra = bl[uniq], bp[uniq], extra[uniq]
    kf = np.minimum(np.floor(bp).astype(np.int64), nv[bl] - 2)
    base = off[bl] + kf
    bxy = coords[base] + (bp - kf)[:, None] * (coords[base + 1] - coords[base])
    return bl, bp, bxy, extra


def _pieces(
    coords: np.ndarray,
    off: np.ndarray,
    nv: np.ndarray,
    lvl: np.ndarray,
    bl: np.ndarray,
    bp: np.ndarray,
    bxy: np.ndarray,
    extra: np.ndarray,
    tol: float,
) -> tuple[np.ndarray, ...]:
    """Pieces between consecutive sorted breaks (:func:`_sorted_breaks`) of the same line.

    Junction breaks closer than ``tol`` share a node (:func:`_cluster`); ``extra`` breaks
    (the points that split a loop) are nodes of their own, never merged with anything.

    Returns the piece coordinates ``pc`` with the piece of each (``pidx``) and the count per
    piece (``cnt``), the breaks each piece runs between (``pa``, ``pb``), its line
    (``p_line``), end nodes (``pu``, ``pv``), length (``plen``) and the node label of every
    break.
    """
    j = ~extra
    node_lab = np.empty(len(bl), dtype=np.int64)
    node_lab[j] = _cluster(bxy[j], tol, level=lvl[bl[j]], line_end=((bp == 0) | (bp == nv[bl] - 1))[j])
    n_j = int(node_lab[j].max()) + 1 if j.any() else 0
    node_lab[extra] = n_j + np.arange(int(extra.sum()))

    same = bl[1:] == bl[:-1]
    pa = np.flatnonzero(same)
    pb = pa + 1
    p_line = bl[pa]
    first_v = np.floor(bp[pa]).astype(np.int64) + 1
    last_v = np.ceil(bp[pb]).astype(np.int64) - 1
    n_in = np.maximum(last_v - first_v + 1, 0)
    cnt = n_in + 2
    n_p = len(pa)
    pidx = np.repeat(np.arange(n_p), cnt)
    pstart = np.r_[0, np.cumsum(cnt)[:-1]]
    rank = np.arange(int(cnt.sum())) - pstart[pidx]
    vert = off[p_line][pidx] + first_v[pidx] + rank - 1
    is_first = rank == 0
    is_last = rank == cnt[pidx] - 1
    vert = np.clip(vert, 0, len(coords) - 1)
    pc = coords[vert].copy()
    pc[is_first] = bxy[pa]
    pc[is_last] = bxy[pb]
    seg_len = np.hypot(*(pc[1:] - pc[:-1]).T)
    seg_ok = pidx[1:] == pidx[:-1]
    plen = np.bincount(pidx[1:][seg_ok], weights=seg_len[seg_ok], minlength=n_p)
    return pc, pidx, cnt, pa, pb, p_line, node_lab[pa], node_lab[pb], plen, node_lab


@dataclass(frozen=True)
class _LineGrades:
    """Slope factors along lines, from elevations sampled at a DEM-sized step.

    Each line is cut into ``n`` equal intervals of about ``step_m`` (at least one) and the
    grade of an interval is the rise between its end samples over its length, so a 0.5 m
    segment of a road takes the grade of the 30 m around it, not the step between two DEM
    cells. A piece (part of a line between junctions) takes the length-weighted mean factor
    of the intervals it overlaps (:meth:`mean_factors`).
    """

    row: np.ndarray  # line -> row in the per-line arrays (-1: not sampled)
    start_m: np.ndarray  # running metres at each sampled line's start
    h: np.ndarray  # interval length per sampled line
    first: np.ndarray  # first interval of each sampled line
    n: np.ndarray  # intervals per sampled line
    grade: np.ndarray  # per interval (NaN where the DEM has no value)

    @classmethod
    def sample(
        cls,
        g_m: np.ndarray,
        off: np.ndarray,
        nv: np.ndarray,
        coords: np.ndarray,
        lines: np.ndarray,
        step_m: float,
        elevation: Callable[[np.ndarray], np.ndarray],
    ) -> _LineGrades:
        start = g_m[off[lines]]
        length = g_m[off[lines] + nv[lines] - 1] - start
        n = np.maximum(np.round(length / step_m).astype(np.int64), 1)
        h = length / n
        ns = n + 1
        sl = np.repeat(np.arange(len(lines)), ns)
        kk = np.arange(int(ns.sum())) - np.repeat(np.cumsum(ns) - ns, ns)
        m = start[sl] + kk * h[sl]
        ln = lines[sl]
        pos = _position_at(g_m, off, nv, ln, m)
        k = np.minimum(np.floor(pos).astype(np.int64), nv[ln] - 2)
        base = off[ln] + k
        xy = coords[base] + (pos - k)[:, None] * (coords[base + 1] - coords[base])
        z = np.asarray(elevation(xy), dtype=float)
        inner = np.flatnonzero(sl[1:] == sl[:-1])
        with np.errstate(invalid="ignore", divide="ignore"):
            grade = (z[inner + 1] - z[inner]) / h[sl[inner]]
        row = np.full(len(off), -1, dtype=np.int64)
        row[lines] = np.arange(len(lines))
        return cls(row, start, h, np.r_[0, np.cumsum(n)[:-1]], n, grade)

    def mean_factors(
        self, line: np.ndarray, m0: np.ndarray, m1: np.ndarray, max_factor: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mean time factors forward and backward between running metres ``m0`` < ``m1``
        of ``line`` (Tobler relative to flat, at most ``max_factor``) and whether any part
        lacks elevations (timed on the flat)."""
        known = np.isfinite(self.grade)
        g = np.where(known, self.grade, 0.0)
        r = self.row[line]
        i0, h, n, at0 = self.first[r], self.h[r], self.n[r], self.start_m[r]

        def interval(mm: np.ndarray) -> np.ndarray:
            return np.clip(np.floor((mm - at0) / h).astype(np.int64), 0, n - 1)

        j0, j1 = interval(m0), interval(np.maximum(m1 - 1e-9, m0))
        span = m1 - m0
        safe = np.where(span > 1e-9, span, 1.0)

        def mean(fac: np.ndarray) -> np.ndarray:
            cum = np.r_[0.0, np.cumsum(fac)]
            # metres x factor from the line's start to mm (same line, same h, for both ends)
            i_1 = cum[i0 + j1] * h + (m1 - at0 - j1 * h) * fac[i0 + j1]
            i_0 = cum[i0 + j0] * h + (m0 - at0 - j0 * h) * fac[i0 + j0]
            return np.where(span > 1e-9, (i_1 - i_0) / safe, fac[i0 + j0])

        up = np.where(known, np.minimum(tobler_factor(g), max_factor), 1.0)
        down = np.where(known, np.minimum(tobler_factor(-g), max_factor), 1.0)
        unknown = np.r_[0, np.cumsum(~known)]
        return mean(up), mean(down), unknown[i0 + j1 + 1] - unknown[i0 + j0] > 0


def _break_positions(
    coords: np.ndarray,
    li: np.ndarray,
    vk: np.ndarray,
    off: np.ndarray,
    nv: np.ndarray,
    lvl: np.ndarray,
    *,
    tol: float,
    crossings: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Where lines must be split (line ``bl``, position ``bp`` = vertex index + fraction, unsorted).

    At the ends of every line part, at vertices shared with another line (or repeated), at
    crossings of same-level segments (``crossings``) and where a dangling end lies within
    ``tol`` of a same-level line (see :func:`build`). ``coords`` are the vertices of all
    parts, ``li`` the part of each, ``vk`` its index within the part, ``off``/``nv`` each
    part's first vertex and count, ``lvl`` each part's level.
    """
    n_parts = len(off)
    br_line = [np.arange(n_parts), np.arange(n_parts)]
    br_pos = [np.zeros(n_parts), (nv - 1).astype(float)]
    if len(coords):
        vinv, vcount = _unique_xy(coords)
        shared = vcount[vinv] >= 2
        br_line.append(li[shared])
        br_pos.append(vk[shared].astype(float))
    else:
        vinv = np.empty(0, np.int64)
        vcount = np.empty(0, np.int64)
    segmask = np.r_[li[1:] == li[:-1], False] if len(coords) else np.empty(0, bool)
    s_i = np.flatnonzero(segmask)
    s_line = li[s_i]
    s_k = vk[s_i]
    sa = coords[s_i]
    sb = coords[s_i + 1]
    if len(s_i):
        ends = np.r_[off, off + nv - 1]
        dangling = ends[vcount[vinv[ends]] == 1] if tol > 0 else np.empty(0, np.int64)
        ns = len(s_i)
        # candidate pairs from a uniform grid over segment boxes and dangling-end boxes (+ tol)
        blo = np.vstack([np.minimum(sa, sb), coords[dangling] - tol])
        bhi = np.vstack([np.maximum(sa, sb), coords[dangling] + tol])
        i, j = _box_pairs(blo, bhi)
        if crossings:
            ss = j < ns
            si, sj = i[ss], j[ss]
            # same level, boxes overlap, no shared end vertex (those are junctions already)
            va, vb = vinv[s_i], vinv[s_i + 1]
            m = (va[si] != va[sj]) & (va[si] != vb[sj]) & (vb[si] != va[sj]) & (vb[si] != vb[sj])
            si, sj = si[m], sj[m]
            x0, y0, x1, y1 = blo[:, 0], blo[:, 1], bhi[:, 0], bhi[:, 1]
            m = (x0[si] <= x1[sj]) & (x0[sj] <= x1[si]) & (y0[si] <= y1[sj]) & (y0[sj] <= y1[si])
            m &= lvl[s_line[si]] == lvl[s_line[sj]]
            si, sj = si[m], sj[m]
            t, u, ok = _segment_intersections(sa[si], sb[si], sa[sj], sb[sj])
            # meeting at an end of both segments = a shared vertex, already a break
            ok &= ~(((t == 0) | (t == 1)) & ((u == 0) | (u == 1)))
            br_line += [s_line[si][ok], s_line[sj][ok]]
            br_pos += [s_k[si][ok] + t[ok], s_k[sj][ok] + u[ok]]
        if tol > 0:
            es = (i < ns) & (j >= ns)
            sj, pi = i[es], j[es] - ns
            e_line = li[dangling][pi]
            # same level, or a bridge/tunnel end coming down onto a ground road
            m = (s_line[sj] != e_line) & ((lvl[s_line[sj]] == lvl[e_line]) | (lvl[s_line[sj]] == 0))
            pi, sj = pi[m], sj[m]
            a, b = sa[sj], sb[sj]
            p = coords[dangling][pi]
            ab = b - a
            t = np.clip(((p - a) * ab).sum(1) / np.maximum((ab * ab).sum(1), 1e-300), 0, 1)
            near = np.hypot(*(a + t[:, None] * ab - p).T) <= tol
            br_line.append(s_line[sj][near])
            br_pos.append(s_k[sj][near] + t[near])

    return np.concatenate(br_line).astype(np.int64), np.concatenate(br_pos)


def build(
    roads: gpd.GeoDataFrame,
    *,
    config: AccessConfig | None = None,
    elevation: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[RoadNetwork, BuildReport]:
    """Build a :class:`RoadNetwork` from road lines.

    Parameters
    ----------
    roads
        LineStrings (MultiLineStrings are exploded) in a metric CRS with the columns of the
        roads data model (``road_id``, ``road_class``, optional ``speed_kph``, ``surface``,
        ``oneway``, ``bridge``, ``tunnel``, ``layer``). Not modified.
    config
        Speeds, surfaces, snapping tolerance and slope options (defaults of
        :class:`AccessConfig`).
    elevation
        ``f(xy) -> z`` in metres (NaN outside the DEM), used when ``config.slope_penalty``.

    Returns
    -------
    tuple[RoadNetwork, BuildReport]
        The network and the counts and warnings of what was repaired or assumed
        (:func:`from_roads` returns the network with the report attached).
    """
    cfg = config or AccessConfig()
    require_projected(roads, "roads")
    warnings: list[str] = []
    df = roads.reset_index(drop=True)
    geoms = np.asarray(df.geometry.values)
    bad = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if bad.any():
        warnings.append(f"roads: {int(bad.sum())} feature(s) without geometry were ignored.")
    geoms = geoms.copy()
    geoms[bad] = None
    if (shapely.get_type_id(geoms[~bad]) == 1).all():  # LineStrings only: nothing to explode
        src = np.flatnonzero(~bad)
        parts = geoms[src]
    else:
        parts, src = shapely.get_parts(geoms, return_index=True)
    parts = np.asarray(parts)
    lt = shapely.get_type_id(parts)
    keep = lt == 1  # LineString
    if (lt != 1).any():
        warnings.append(f"roads: {int((lt != 1).sum())} non-line part(s) were ignored.")
    parts, src = parts[keep], src[keep]
    n_lines_in = len(df)

    # attributes per input row
    road_id_raw = _column(df, "road_id", None)
    id_na = road_id_raw.isna().to_numpy()
    road_id = road_id_raw.astype(str).to_numpy(dtype=object)
    if id_na.any():
        road_id[id_na] = np.arange(len(df))[id_na].astype(str)
    raw_class = _column(df, "road_class", None)
    # map the distinct values only (a county has a handful of classes, not one per road)
    raw_vals = raw_class.astype(object).where(raw_class.notna(), None)
    cls_code, cls_raw = pd.factorize(raw_vals)  # code -1: no class
    cls_u = pd.Series([_canon_class(val, ROAD_CLASS_ALIASES) for val in cls_raw] + [None], dtype=object)
    speeds = cfg.speeds
    class_speed = pd.to_numeric(cls_u.map(speeds), errors="coerce").to_numpy(dtype=float)[cls_code]
    own = pd.to_numeric(_column(df, "speed_kph", np.nan), errors="coerce").to_numpy(dtype=float)
    use_own = cfg.use_road_speed & np.isfinite(own) & (own > 0)
    speed = np.where(use_own, own, class_speed)
    defaulted = ~np.isfinite(speed)
    if defaulted.any():
        ids = ", ".join(map(str, road_id[defaulted][:5]))
        warnings.append(
            f"roads: {int(defaulted.sum())} road(s) have no known road_class and no speed_kph (e.g. {ids}); "
            f"they use default_speed_kph = {cfg.default_speed_kph:g} km/h. Fix: set road_class or speed_kph."
        )
    speed = np.where(defaulted, cfg.default_speed_kph, speed)
    surf_code, surf_u = pd.factorize(_column(df, "surface", "paved").fillna("paved"))
    surf_fac = pd.to_numeric(pd.Series(surf_u.astype(str)).map(cfg.surfaces), errors="coerce").fillna(1.0)
    sfac = surf_fac.to_numpy(dtype=float)[surf_code] if len(surf_u) else np.ones(len(df))
    eff_kph = speed * sfac
    direction, unknown_ow = oneway_direction(_column(df, "oneway", None))
    if unknown_ow.any():
        ids = ", ".join(map(str, road_id[unknown_ow][:5]))
        vals = ", ".join(sorted({repr(str(v)) for v in df["oneway"][unknown_ow]})[:5])
        warnings.append(
            f"roads: {int(unknown_ow.sum())} road(s) have an unknown oneway value ({vals}; e.g. {ids}); "
            "they are taken as two-way. Fix: write yes, -1 or no (or 是/否)."
        )
    reverse = direction == -1
    oneway = direction != 0
    level = _levels(df)
    slope_cls = np.isin(cls_u.fillna("").to_numpy(dtype=object), list(cfg.slope_classes))[cls_code]
    cls_out = cls_u.fillna("unknown").to_numpy(dtype=object)[cls_code]

    # flat coordinates per line part, reversed where oneway = -1, consecutive duplicates removed
    if reverse[src].any():
        parts = parts.copy()
        parts[reverse[src]] = shapely.reverse(parts[reverse[src]])
    coords, li = shapely.get_coordinates(parts, return_index=True)
    if len(coords):
        dup = np.r_[False, (li[1:] == li[:-1]) & (coords[1:] == coords[:-1]).all(1)]
        coords, li = coords[~dup], li[~dup]
    nv = np.bincount(li, minlength=len(parts))
    short = nv < 2
    zero_len = int(short.sum())
    if zero_len:
        keep_v = ~short[li]
        coords, li = coords[keep_v], li[keep_v]
        remap = np.cumsum(~short) - 1
        li = remap[li]
        parts, src = parts[~short], src[~short]
        nv = nv[~short]
    n_parts = len(parts)
    if n_parts == 0:
        raise DataError(
            f"roads: none of the {n_lines_in} road feature(s) is a line of two or more distinct points "
            "(all are empty, points or zero-length), so there is no road network to route on. "
            "Fix: give the roads layer real road lines."
        )
    off = np.r_[0, np.cumsum(nv)[:-1]].astype(np.int64)
    vk = np.arange(len(coords)) - off[li] if len(coords) else np.empty(0, np.int64)
    lvl = level[src]

    # break positions (line, pos) with pos = vertex index + t; the segment and candidate-pair
    # arrays of the search live in the helper only (at 2 M nodes they are gigabytes)
    bl, bp = _break_positions(coords, li, vk, off, nv, lvl, tol=cfg.snap_tolerance_m, crossings=cfg.node_intersections)
    # metres along the lines: g_m[k] is the distance of vertex k from the start of its line
    # plus the lengths of all lines before it (0 across line boundaries), increasing
    seg_d = np.hypot(*(coords[1:] - coords[:-1]).T) if len(coords) else np.empty(0)
    seg_d = np.where(li[1:] == li[:-1], seg_d, 0.0) if len(coords) else seg_d
    g_m = np.r_[0.0, np.cumsum(seg_d)]
    del seg_d, li, vk
    tol_loop = 3.0 * max(cfg.snap_tolerance_m, 1e-6)

    def split_loops(
        bl: np.ndarray, bp: np.ndarray, ex: np.ndarray, a: np.ndarray, b: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Breaks plus two *extra* ones at a third and two thirds of the way between breaks
        ``a`` and ``b`` (consecutive on one line), so that the road between them is no loop."""
        ln = bl[a]
        s0 = _metres_at(g_m, off, nv, ln, bp[a])
        s1 = _metres_at(g_m, off, nv, ln, bp[b])
        at = np.r_[s0 + (s1 - s0) / 3.0, s0 + 2.0 * (s1 - s0) / 3.0]
        new = _position_at(g_m, off, nv, np.r_[ln, ln], at)
        return np.r_[bl, ln, ln], np.r_[bp, new], np.r_[ex, np.ones(2 * len(ln), bool)]

    # a loop (a closed way, or the ring of a lollipop) joins a node to itself: split it in
    # three so that its road stays in the graph (loops too short to split into parts longer
    # than snap_tolerance_m are dropped below). Consecutive breaks of a line within the
    # tolerance of each other are split before noding; loops that only merging closes, after.
    tol = cfg.snap_tolerance_m
    bl, bp, bxy, ex = _sorted_breaks(coords, off, nv, bl, bp, np.zeros(len(bl), bool))
    a = np.flatnonzero(bl[1:] == bl[:-1])
    a = a[np.hypot(*(bxy[a + 1] - bxy[a]).T) <= tol]
    if len(a):
        a = a[_metres_at(g_m, off, nv, bl[a + 1], bp[a + 1]) - _metres_at(g_m, off, nv, bl[a], bp[a]) > tol_loop]
    if len(a):
        bl, bp, bxy, ex = _sorted_breaks(coords, off, nv, *split_loops(bl, bp, ex, a, a + 1))
    pc, pidx, cnt, pa, pb, p_line, pu, pv, plen, node_lab = _pieces(coords, off, nv, lvl, bl, bp, bxy, ex, tol)
    loop = (pu == pv) & (plen > tol_loop)
    if loop.any():
        bl, bp, bxy, ex = _sorted_breaks(coords, off, nv, *split_loops(bl, bp, ex, pa[loop], pb[loop]))
        pc, pidx, cnt, pa, pb, p_line, pu, pv, plen, node_lab = _pieces(coords, off, nv, lvl, bl, bp, bxy, ex, tol)
    n_p = len(pa)
    prow = src[p_line]

    # drop zero-length pieces, loops and duplicates
    loop = pu == pv
    zero = loop & (plen <= max(cfg.snap_tolerance_m, 1e-6))
    ow = oneway[prow]
    lo = np.where(ow, pu, np.minimum(pu, pv))
    hi = np.where(ow, pv, np.maximum(pu, pv))
    # duplicates share their ends, length and vertices (their mean, the same either way round):
    # compare the full keys only among pieces that share their ends
    n_lab = int(node_lab.max()) + 1 if len(node_lab) else 1
    dup = np.zeros(len(pu), dtype=bool)
    same_ends = pd.Series(lo.astype(np.int64) * n_lab + hi).duplicated(keep=False).to_numpy()
    if same_ends.any():
        mean_xy = np.stack([np.bincount(pidx, weights=pc[:, k], minlength=n_p) for k in (0, 1)], 1) / cnt[:, None]
        dkey = pd.DataFrame(
            {
                "lo": lo,
                "hi": hi,
                "ow": ow,
                "len": np.round(plen, 1),
                "mx": np.round(mean_xy[:, 0], 1),
                "my": np.round(mean_xy[:, 1], 1),
            }
        )[same_ends]
        dup[same_ends] = dkey.duplicated().to_numpy()
    dup &= ~loop
    keep_p = ~loop & ~dup
    report_counts = {"zero": int(zero.sum()) + zero_len, "dup": int(dup.sum()), "loop": int((loop & ~zero).sum())}
    if report_counts["dup"]:
        warnings.append(f"roads: {report_counts['dup']} duplicate road piece(s) were dropped.")
    if report_counts["zero"]:
        warnings.append(
            f"roads: {report_counts['zero']} zero-length road piece(s) (shorter than snap_tolerance_m between "
            "merged junctions) were dropped."
        )
    if not keep_p.any():
        raise DataError(
            f"roads: none of the {n_lines_in} road line(s) leaves a road piece longer than snap_tolerance_m = "
            f"{cfg.snap_tolerance_m:g} m between junctions, so there is no road network to route on. "
            "Fix: give the roads layer real lines (two or more distinct points each)."
        )

    # travel times: the flat time of each piece, times the mean slope factor along it
    kmin_per_m = 1.0 / (eff_kph[prow] * M_PER_MIN_PER_KPH)
    t_f = plen * kmin_per_m
    t_b = t_f.copy()
    slope_applied = slope_missing = 0
    if cfg.slope_penalty:
        sl = slope_cls[prow] & keep_p
        if elevation is None:
            warnings.append("access.slope_penalty is on but no DEM was given; tracks and paths are timed on the flat.")
        elif sl.any():
            step_m = cfg.slope_sample_m or getattr(elevation, "cell_size_m", None) or DEFAULT_SLOPE_SAMPLE_M
            s0 = _metres_at(g_m, off, nv, bl[pa], bp[pa])
            s1 = _metres_at(g_m, off, nv, bl[pb], bp[pb])
            grade = _LineGrades.sample(g_m, off, nv, coords, np.unique(p_line[sl]), float(step_m), elevation)
            mf, mb, miss = grade.mean_factors(p_line[sl], s0[sl], s1[sl], cfg.slope_max_factor)
            t_f[sl] *= mf
            t_b[sl] *= mb
            slope_missing = int(miss.sum())
            slope_applied = int(sl.sum()) - slope_missing
            if slope_missing:
                warnings.append(
                    f"DEM: it does not cover (or has voids under) {slope_missing} of {int(sl.sum())} track/path "
                    "piece(s); those parts are timed on the flat. Fix: give a DEM covering the whole road network."
                )

    # keep pieces, compact nodes
    kp = np.flatnonzero(keep_p)
    ends = np.r_[pu[kp], pv[kp]]
    is_used = np.zeros(n_lab, dtype=bool)
    is_used[ends] = True
    used = np.flatnonzero(is_used)
    inv = (np.cumsum(is_used) - 1)[ends]
    nk = len(kp)
    u_c, v_c = inv[:nk], inv[nk:]
    node_xy = np.zeros((len(used), 2))
    # node coordinate: first break point of the cluster
    lab_first = np.full(int(node_lab.max()) + 1 if len(node_lab) else 0, -1, dtype=np.int64)
    rev_idx = np.arange(len(node_lab))[::-1]
    lab_first[node_lab[rev_idx]] = rev_idx
    node_xy[:] = bxy[lab_first[used]]
    # geometry: the kept piece coordinates (LineStrings are made on first use)
    piece_coords = pc[keep_p[pidx]]
    # what the pieces were cut from is done with: free it before the edges and CSRs are made
    del coords, pc, pidx, bl, bp, bxy, ex, node_lab, lab_first, rev_idx, lo, hi, dup, same_ends
    coord_start = np.r_[0, np.cumsum(cnt[kp])].astype(np.int64)
    ow_k = ow[kp]
    n_two = int((~ow_k).sum())
    fwd_e = np.arange(nk)
    bwd_e = np.full(nk, -1, dtype=np.int64)
    bwd_e[~ow_k] = nk + np.arange(n_two)
    two = np.flatnonzero(~ow_k)
    edge_u = np.r_[u_c, v_c[two]].astype(np.int64)
    edge_v = np.r_[v_c, u_c[two]].astype(np.int64)
    net = _assemble(
        crs=roads.crs,
        node_xy=node_xy,
        edge_u=edge_u,
        edge_v=edge_v,
        edge_length_m=np.r_[plen[kp], plen[kp][two]],
        edge_time_min=np.r_[t_f[kp], t_b[kp][two]],
        edge_piece=np.r_[np.arange(nk), two].astype(np.int64),
        edge_f0=np.r_[np.zeros(nk), np.ones(n_two)],
        edge_f1=np.r_[np.ones(nk), np.zeros(n_two)],
        pieces={
            "piece_u": u_c.astype(np.int64),
            "piece_v": v_c.astype(np.int64),
            "piece_coords": piece_coords,
            "piece_coord_start": coord_start,
            "piece_length_m": plen[kp],
            "piece_road_id": road_id[prow[kp]],
            "piece_class": cls_out[prow[kp]],
            "piece_oneway": ow_k,
            "piece_fwd_edge": fwd_e.astype(np.int64),
            "piece_bwd_edge": bwd_e,
        },
        n_base_nodes=len(used),
    )
    summ = net.summary()
    if summ["components"] > 1:
        warnings.append(
            f"roads: the network has {summ['components']} disconnected parts; "
            f"{summ['share_length_outside_main'] * 100:.1f}% of road length lies outside the main one. "
            "Points snapped there cannot reach facilities on the main network."
        )
    for w in warnings:
        log.warning(w)
    rep = BuildReport(
        n_lines=n_lines_in,
        n_pieces=nk,
        dropped_zero_length=report_counts["zero"],
        dropped_duplicates=report_counts["dup"],
        dropped_loops=report_counts["loop"],
        default_speed_roads=int(defaulted.sum()),
        slope_applied_pieces=slope_applied,
        slope_missing_pieces=slope_missing,
        warnings=tuple(warnings),
    )
    return net, rep


def from_roads(
    roads: gpd.GeoDataFrame,
    *,
    config: AccessConfig | None = None,
    dem: str | Path | None = None,
    elevation: Callable[[np.ndarray], np.ndarray] | None = None,
) -> RoadNetwork:
    """A routable :class:`RoadNetwork` from a road layer: the ``access`` step's network.

    The GeoDataFrame entry point of :mod:`geofupin.network` (:func:`build` does the work
    and also returns its report separately).

    Parameters
    ----------
    roads
        LineStrings in a metric CRS with the roads data model's columns (``road_id``,
        ``road_class``, optional ``speed_kph``, ``surface``, ``oneway``, ``bridge``, ``tunnel``,
        ``layer``); any geometry column name. Not modified.
    config
        Speeds, surfaces, snapping and slope options (default :class:`AccessConfig`).
    dem
        A DEM file; with ``config.slope_penalty`` tracks, paths and off-road legs are timed
        with Tobler's hiking function on its slopes.
    elevation
        Instead of ``dem``: any ``f(xy) -> z`` in metres (NaN where unknown).

    Returns
    -------
    RoadNetwork
        With :attr:`RoadNetwork.report` (counts and warnings) and
        :attr:`RoadNetwork.elevation` (the sampler in use, or ``None``).
    """
    cfg = config or AccessConfig()
    notes: list[str] = []
    if not cfg.slope_penalty:
        elevation = None
    elif elevation is None:
        if dem is None:
            notes.append("access.slope_penalty is on but the scenario has no DEM; slopes are ignored.")
            log.warning(notes[-1])
        else:
            elevation = dem_sampler(Path(dem), roads.crs)
    net, rep = build(roads, config=cfg, elevation=elevation)
    rep = replace(rep, warnings=(*notes, *rep.warnings))
    out = replace(net, report=rep, elevation=elevation)
    for name in ("piece_geometry", "component", "main_component"):  # same arrays: keep what build computed
        if name in net.__dict__:
            out.__dict__[name] = net.__dict__[name]
    return out


@dataclass(frozen=True)
class DemSampler:
    """``f(xy) -> z``: a DEM (any CRS) sampled at points given in ``crs``, NaN outside the DEM
    and on voids, with the DEM's cell size in metres (``cell_size_m``, the step :func:`build`
    takes grades over).

    ``bilinear`` (default) interpolates between the four cell centres around each point (exact
    on a plane; voids among them are left out, and a point whose own cell is a void or off the
    DEM is NaN); ``nearest`` takes the cell under the point.
    """

    dem: Path
    crs: CRS
    cell_size_m: float
    dem_crs: CRS
    transform: tuple[float, float, float, float, float, float]  # a, b, c, d, e, f (GDAL order as affine)
    interpolation: Literal["bilinear", "nearest"] = "bilinear"

    def __call__(self, xy: np.ndarray) -> np.ndarray:
        from .terrain import sample_points

        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        if not len(xy):
            return np.empty(0)
        if self.interpolation == "nearest":
            pts = gpd.GeoSeries(shapely.points(xy), crs=self.crs)
            return sample_points(self.dem, pts, what="elevation").to_numpy(dtype=float)
        x, y = xy[:, 0], xy[:, 1]
        if not self.crs.equals(self.dem_crs):
            from pyproj import Transformer

            x, y = Transformer.from_crs(self.crs, self.dem_crs, always_xy=True).transform(x, y)
            x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        a, b, c, d, e, f = self.transform
        det = a * e - b * d
        # fractional (column, row) of the point, measured from the first cell's centre
        col = (e * (x - c) - b * (y - f)) / det - 0.5
        row = (a * (y - f) - d * (x - c)) / det - 0.5
        c0, r0 = np.floor(col), np.floor(row)
        fx, fy = col - c0, row - r0
        corners = [(0, 0), (1, 0), (0, 1), (1, 1)]
        cc = np.concatenate([c0 + dc + 0.5 for dc, _ in corners])
        rr = np.concatenate([r0 + dr + 0.5 for _, dr in corners])
        centres = shapely.points(a * cc + b * rr + c, d * cc + e * rr + f)
        z = sample_points(self.dem, gpd.GeoSeries(centres, crs=self.dem_crs), what="elevation").to_numpy(float)
        z = z.reshape(4, -1)
        w = np.stack([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy])
        ok = np.isfinite(z)
        wsum = (w * ok).sum(axis=0)
        own = z[(fx >= 0.5).astype(int) + 2 * (fy >= 0.5).astype(int), np.arange(len(x))]
        with np.errstate(invalid="ignore", divide="ignore"):
            out = (w * np.where(ok, z, 0.0)).sum(axis=0) / wsum
        return np.where(np.isfinite(own) & (wsum > 0), out, np.nan)


def dem_sampler(dem: Path, crs: CRS, *, interpolation: Literal["bilinear", "nearest"] = "bilinear") -> DemSampler:
    """A :class:`DemSampler` of ``dem`` for points in ``crs``.

    Reads through :func:`geofupin.terrain.sample_points` (the DEM's windowed reader); the cell
    size is the geometric mean of the cell width and height at the DEM's middle row.

    Parameters
    ----------
    dem
        The DEM file (any CRS).
    crs
        The CRS of the points it will be asked about.
    interpolation
        ``bilinear`` between the four cell centres around a point, or the ``nearest`` cell.

    Returns
    -------
    DemSampler
        ``f(xy) -> z`` in metres, NaN outside the DEM and on voids.
    """
    from .terrain import cell_size_m, dem_info

    info = dem_info(dem)
    xres, yres = cell_size_m(info.transform, info.crs, np.array([info.height // 2]))
    t = info.transform
    return DemSampler(
        Path(dem),
        CRS.from_user_input(crs),
        float(np.sqrt(abs(float(xres[0]) * float(yres[0])))),
        info.crs,
        (t.a, t.b, t.c, t.d, t.e, t.f),
        interpolation,
    )


def network_from_frame(edges: pd.DataFrame, node_xy: np.ndarray, *, crs: CRS | None = None) -> RoadNetwork:
    """A network straight from an edge table (``u``, ``v``, ``time_min``, ``length_m``,
    optional ``oneway``) and node coordinates, without geometry noding. Pieces are straight
    lines between their nodes. Used by benchmarks and tests on abstract graphs."""
    u = edges["u"].to_numpy(np.int64)
    v = edges["v"].to_numpy(np.int64)
    t = edges["time_min"].to_numpy(float)
    d = edges["length_m"].to_numpy(float)
    ow = edges["oneway"].to_numpy(bool) if "oneway" in edges else np.zeros(len(u), bool)
    nk = len(u)
    two = np.flatnonzero(~ow)
    bwd = np.full(nk, -1, dtype=np.int64)
    bwd[two] = nk + np.arange(len(two))
    node_xy = np.asarray(node_xy, dtype=float)
    return _assemble(
        crs=crs,
        node_xy=node_xy,
        edge_u=np.r_[u, v[two]],
        edge_v=np.r_[v, u[two]],
        edge_length_m=np.r_[d, d[two]],
        edge_time_min=np.r_[t, t[two]],
        edge_piece=np.r_[np.arange(nk), two].astype(np.int64),
        edge_f0=np.r_[np.zeros(nk), np.ones(len(two))],
        edge_f1=np.r_[np.ones(nk), np.zeros(len(two))],
        pieces={
            "piece_u": u,
            "piece_v": v,
            "piece_coords": np.stack([node_xy[u], node_xy[v]], axis=1).reshape(-1, 2),
            "piece_coord_start": np.arange(0, 2 * nk + 1, 2, dtype=np.int64),
            "piece_length_m": d,
            "piece_road_id": np.arange(nk).astype(str).astype(object),
            "piece_class": np.full(nk, "unknown", dtype=object),
            "piece_oneway": ow,
            "piece_fwd_edge": np.arange(nk, dtype=np.int64),
            "piece_bwd_edge": bwd,
        },
        n_base_nodes=len(node_xy),
    )
