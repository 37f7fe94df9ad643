"""The large-network changes keep results: build, OD and nearest against independent computations.

``network.build`` frees its noding arrays early (``_break_positions``) and ``od_matrix`` returns
transposed views rather than copies; these tests check the answers against networkx and scipy
computed independently on small layers (no timings asserted).
"""

from __future__ import annotations

import itertools

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.sparse.csgraph import dijkstra
from shapely.geometry import LineString, Point

import geofupin
from geofupin.accessibility import od_matrix
from geofupin.config.access import AccessConfig
from geofupin.network import _break_positions, build, snap

CRS = "EPSG:32650"
KPH = {"county": 40.0, "village": 20.0}


def crossing_roads() -> gpd.GeoDataFrame:
    """A 4 x 4 grid of county roads drawn as whole lines (junctions only where they cross, no shared
    vertices), two village diagonals crossing everything, and a dangling end 1 m short of a road."""
    lines, cls = [], []
    for k in range(4):
        lines.append(LineString([(0, k * 1000.0), (3000, k * 1000.0)]))
        lines.append(LineString([(k * 1000.0, 0), (k * 1000.0, 3000)]))
        cls += ["county", "county"]
    lines.append(LineString([(0, 150.0), (3000, 2850.0)]))
    lines.append(LineString([(150.0, 3000), (2850.0, 0)]))
    cls += ["village", "village"]
    lines.append(LineString([(1500.0, 3600.0), (1500.0, 3001.0)]))  # undershoot of 1 m
    cls.append("county")
    return gpd.GeoDataFrame(
        {"road_id": [f"r{i}" for i in range(len(lines))], "road_class": cls, "surface": "paved"},
        geometry=lines,
        crs=CRS,
    )


def independent_graph(roads: gpd.GeoDataFrame, tol: float = 2.0) -> tuple[nx.Graph, np.ndarray]:
    """The same roads noded by GEOS (``shapely.node``) and timed by class speed, in networkx;
    the dangling end within ``tol`` is joined by extending it, as snapping does."""
    g = nx.Graph()
    geoms = list(roads.geometry)
    speed = [KPH[c] for c in roads["road_class"]]
    # the undershoot: extend the last line onto the road below it
    last = geoms[-1]
    geoms[-1] = LineString([last.coords[0], (1500.0, 3000.0)])
    assert last.coords[-1][1] - 3000.0 <= tol
    # GEOS nodes the union at every crossing; each segment keeps the speed of the road it lies on
    for seg in shapely.get_parts(shapely.union_all(geoms)):
        kph = max(v for line, v in zip(geoms, speed, strict=True) if line.buffer(1e-6).contains(seg))
        a, b = (tuple(np.round(c, 3)) for c in (seg.coords[0], seg.coords[-1]))
        t = seg.length / (kph * 1000.0 / 60.0)
        if not g.has_edge(a, b) or g[a][b]["w"] > t:
            g.add_edge(a, b, w=t)
    return g, np.array(list(g.nodes))


def test_build_matches_geos_noding_and_networkx():
    roads = crossing_roads()
    net, rep = build(roads, config=AccessConfig())
    g, xy = independent_graph(roads)
    # the same junctions: every independent node is a network node (within the 2 m tolerance)
    d = np.hypot(*(net.node_xy[None, :, :] - xy[:, None, :]).transpose(2, 0, 1))
    assert d.min(axis=1).max() <= 1.0 + 1e-6
    assert net.n_nodes == len(xy)
    # the same times between every pair of nodes
    ours = dijkstra(net.forward, indices=np.arange(net.n_nodes))
    match = d.argmin(axis=1)
    theirs = dict(nx.all_pairs_dijkstra_path_length(g, weight="w"))
    nodes = list(g.nodes)
    for i, a in enumerate(nodes):
        for j, b in enumerate(nodes):
            # abs: the undershoot's road is 1 m shorter in the network than extended onto its road here
            assert ours[match[i], match[j]] == pytest.approx(theirs[a][b], rel=1e-6, abs=2e-3)
    assert rep.n_lines == len(roads)


def test_break_positions_are_the_builds_breaks():
    """The helper finds the ends, crossings and the undershoot: 4 x 4 grid crossings on every
    grid line, the diagonals' crossings, and the snapped dangling end."""
    roads = crossing_roads()
    coords, li = shapely.get_coordinates(roads.geometry.values, return_index=True)
    nv = np.bincount(li)
    off = np.r_[0, np.cumsum(nv)[:-1]]
    vk = np.arange(len(coords)) - off[li]
    lvl = np.zeros(len(nv), dtype=np.int64)
    bl, bp = _break_positions(coords, li, vk, off, nv, lvl, tol=2.0, crossings=True)
    # the horizontal road y = 3000 (line 6) is split where the four verticals, the diagonal that
    # starts on it and the undershoot meet it
    on6 = np.unique(np.round(bp[bl == 6] * 3000.0, 3))
    assert list(on6) == [0.0, 150.0, 1000.0, 1500.0, 2000.0, 3000.0]
    # no tolerance, no crossings: only the ends (the grid's corners twice: vertices shared by two lines)
    bl0, bp0 = _break_positions(coords, li, vk, off, nv, lvl, tol=0.0, crossings=False)
    assert set(zip(bl0.tolist(), bp0.tolist(), strict=True)) == {(i, p) for i in range(len(nv)) for p in (0.0, 1.0)}
    assert len(bl0) == 2 * len(nv) + 8


@pytest.mark.parametrize("n_sites", [2, 40])  # fewer sites than villages (flip) and more
def test_od_pairs_match_networkx(n_sites):
    roads = crossing_roads()
    net = geofupin.network.from_roads(roads)
    rng = np.random.default_rng(3)
    villages = gpd.GeoDataFrame(
        {"village_id": [f"v{i}" for i in range(12)]},
        geometry=[Point(xy) for xy in rng.uniform(0, 3000, (12, 2))],
        crs=CRS,
    )
    sites = gpd.GeoDataFrame(
        {"site_id": [f"s{i}" for i in range(n_sites)]},
        geometry=[Point(xy) for xy in rng.uniform(0, 3000, (n_sites, 2))],
        crs=CRS,
    )
    # independent: networkx on the same routing graph
    routing, nodes = net.attach({"v": snap(net, villages.geometry), "s": snap(net, sites.geometry)})
    g = routing.to_networkx()
    every = {}
    for i, vn in enumerate(nodes["v"]):
        t, _ = nx.single_source_dijkstra(g, int(vn), weight="time_min")
        for j, sn in enumerate(nodes["s"]):
            every[(f"v{i}", f"s{j}")] = t[int(sn)]
    cut = float(np.median(list(every.values())))  # about half the pairs within the cut-off
    want = {k: t for k, t in every.items() if t <= cut}
    od = geofupin.access.od(net, villages, sites, cutoff_min=cut)
    got = {(a, b): t for a, b, t in zip(od["village_id"], od["site_id"], od["time_min"], strict=True)}
    assert set(got) == set(want) and 0 < len(want) < 12 * n_sites
    for k, t in want.items():
        assert got[k] == pytest.approx(t, rel=1e-9)
    # origins in order, each origin's destinations in order
    key = [(int(a[1:]), int(b[1:])) for a, b in zip(od["village_id"], od["site_id"], strict=True)]
    assert key == sorted(key)
    # distances: the length of the fastest path (networkx with the same path)
    for (a, b), _t in list(want.items())[:5]:
        path = nx.dijkstra_path(g, int(nodes["v"][int(a[1:])]), int(nodes["s"][int(b[1:])]), weight="time_min")
        length = sum(min(e["length_m"] for e in g[u][v].values()) for u, v in itertools.pairwise(path))
        row = od[(od["village_id"] == a) & (od["site_id"] == b)]
        assert float(row["dist_m"].iloc[0]) == pytest.approx(length, rel=1e-6)


def test_od_matrix_flipped_views_equal_direct_scipy():
    roads = crossing_roads()
    net, _ = build(roads)
    o = np.arange(net.n_nodes)
    d = np.array([0, 5, 9])
    od = od_matrix(net, o, d, cutoff_min=4.0)  # fewer destinations: runs from them on the reverse graph
    raw = dijkstra(net.forward, indices=o, limit=4.0)[:, d]
    assert od.time_min.shape == (len(o), len(d))
    fin = np.isfinite(raw)
    assert np.array_equal(np.isfinite(od.time_min), fin) and 0 < fin.sum() < fin.size
    np.testing.assert_allclose(od.time_min[fin], raw[fin])
    assert od.dist_m is not None and np.isnan(od.dist_m[~fin]).all()
    # run from the two origins (no flip): the same rows (summed in another order)
    np.testing.assert_allclose(od_matrix(net, o[:2], d, cutoff_min=4.0).time_min, od.time_min[:2], rtol=1e-12)


def test_box_pairs_in_blocks_equal_one_block(monkeypatch):
    """``_box_pairs`` makes its pairs a block of cells at a time: the same pairs in the same order
    as in one block, and every overlapping pair of boxes among them (brute force)."""
    from geofupin import network

    rng = np.random.default_rng(5)
    lo = rng.uniform(0, 1000, (400, 2))
    hi = lo + rng.exponential(30, (400, 2))
    whole = network._box_pairs(lo, hi)
    monkeypatch.setattr(network, "_PAIR_BLOCK", 16)
    blocks = network._box_pairs(lo, hi)
    np.testing.assert_array_equal(whole[0], blocks[0])
    np.testing.assert_array_equal(whole[1], blocks[1])
    got = set(zip(blocks[0].tolist(), blocks[1].tolist(), strict=True))
    assert len(got) == len(blocks[0])  # each pair once
    i, j = np.triu_indices(len(lo), 1)
    overlap = (lo[i, 0] <= hi[j, 0]) & (lo[j, 0] <= hi[i, 0]) & (lo[i, 1] <= hi[j, 1]) & (lo[j, 1] <= hi[i, 1])
    want = set(zip(i[overlap].tolist(), j[overlap].tolist(), strict=True))
    assert want and want <= got


def test_snap_builds_only_the_tree_it_searches_and_finds_the_nearest_piece():
    roads = crossing_roads()
    # a stray road far from the rest: its own component
    stray = gpd.GeoDataFrame(
        {"road_id": ["stray"], "road_class": ["village"], "surface": ["paved"]},
        geometry=[LineString([(5000.0, 5000.0), (5300.0, 5000.0)])],
        crs=CRS,
    )
    net, _ = build(gpd.GeoDataFrame(pd.concat([roads, stray], ignore_index=True), crs=CRS))
    pts = np.array([[500.0, 520.0], [5100.0, 5040.0], [2990.0, 40.0], [4000.0, 4600.0]])
    near = snap(net, pts)
    assert "tree_nearest" in net._cache and "tree_main_component" not in net._cache
    # brute force: the distance to every piece
    dist = shapely.distance(net.piece_geometry[None, :], shapely.points(pts)[:, None])
    np.testing.assert_allclose(near.snap_dist_m, dist.min(axis=1))
    assert near.snap_dist_m[1] == pytest.approx(40.0)  # the stray road
    main = snap(net, pts, snap_to="main_component")
    assert "tree_main_component" in net._cache
    in_main = net.component[net.piece_u] == net.main_component
    np.testing.assert_allclose(main.snap_dist_m, dist[:, in_main].min(axis=1))
    assert main.snap_dist_m[1] > 2000.0 and not main.reachable[1]
