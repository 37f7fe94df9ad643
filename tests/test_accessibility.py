"""Nearest facility, OD, isochrones, coverage and the access step: hand-checked and vs networkx."""

from __future__ import annotations

import itertools
import types

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, Point

from geofupin.accessibility import before_after, coverage, isochrones, nearest, od_matrix, path_lengths, step
from geofupin.config.access import AccessConfig
from geofupin.context import Layers, RunContext, StepResult
from geofupin.errors import DataError
from geofupin.network import build, network_from_frame

CRS = "EPSG:32650"


def random_net(seed: int, n: int = 40, m: int = 110):
    rng = np.random.default_rng(seed)
    u = rng.integers(0, n, m)
    v = rng.integers(0, n, m)
    k = u != v
    e = pd.DataFrame(
        {
            "u": u[k],
            "v": v[k],
            "time_min": rng.uniform(0.5, 10, k.sum()),
            "length_m": rng.uniform(10, 2000, k.sum()).round(1),
            "oneway": rng.random(k.sum()) < 0.3,
        }
    )
    return network_from_frame(e, rng.uniform(0, 5000, (n, 2))), rng


def nx_path_length(g: nx.MultiDiGraph, path: list[int]) -> float:
    """Length of a node path taking, between each pair, the fastest parallel edge."""
    total = 0.0
    for a, b in itertools.pairwise(path):
        best = min(g[a][b].values(), key=lambda d: (d["time_min"], d["length_m"]))
        total += best["length_m"]
    return total


@pytest.mark.parametrize("seed", range(6))
def test_nearest_equals_networkx_on_random_graphs(seed):
    net, rng = random_net(seed)
    sources = rng.choice(net.n_nodes, 4, replace=False)
    res = nearest(net, sources)
    g = net.to_networkx()
    dist, paths = nx.multi_source_dijkstra(g.reverse(copy=True), set(sources.tolist()), weight="time_min")
    for i in range(net.n_nodes):
        if i not in dist:
            assert np.isinf(res.time_min[i]) and np.isnan(res.dist_m[i]) and res.source[i] == -1
            continue
        assert res.time_min[i] == pytest.approx(dist[i])
        path = paths[i][::-1]  # i -> ... -> source in travel direction
        assert sources[res.source[i]] == path[-1]
        assert res.dist_m[i] == pytest.approx(nx_path_length(g, path))


@pytest.mark.parametrize("seed", range(4))
def test_od_equals_networkx_with_cutoff(seed):
    net, rng = random_net(seed + 10)
    o = rng.choice(net.n_nodes, 12, replace=False)
    d = np.r_[rng.choice(net.n_nodes, 5, replace=False), -1]
    g = net.to_networkx()
    for cut in (np.inf, 12.0):
        od = od_matrix(net, o, d, cutoff_min=cut, chunk_size=3)
        for a, oa in enumerate(o):
            t, p = nx.single_source_dijkstra(g, int(oa), weight="time_min")
            for b, db in enumerate(d):
                exp = t.get(int(db), np.inf) if db >= 0 else np.inf
                if np.isinf(exp) or exp > cut:
                    assert np.isinf(od.time_min[a, b]) and np.isnan(od.dist_m[a, b])
                else:
                    assert od.time_min[a, b] == pytest.approx(exp)
                    assert od.dist_m[a, b] == pytest.approx(nx_path_length(g, p[int(db)]))
    # the transposed call (destinations the smaller side -> reverse graph) agrees
    a = od_matrix(net, o, d[:-1])  # 5 destinations < 12 origins: reverse graph from destinations
    b = od_matrix(net, d[:-1], o)  # forward from the 5 origins
    assert a.time_min.shape == (12, 5) and b.time_min.shape == (5, 12)
    for i, oi in enumerate(o):
        t = nx.single_source_dijkstra_path_length(g, int(oi), weight="time_min")
        np.testing.assert_allclose(a.time_min[i], [t.get(int(x), np.inf) for x in d[:-1]])


def test_path_lengths_pointer_doubling_on_a_chain():
    e = pd.DataFrame({"u": [0, 1, 2, 3], "v": [1, 2, 3, 4], "time_min": 1.0, "length_m": [1.0, 2.0, 4.0, 8.0]})
    net = network_from_frame(e, np.zeros((5, 2)))
    from scipy.sparse.csgraph import dijkstra

    _, pred = dijkstra(net.forward, indices=0, return_predecessors=True)
    assert path_lengths(pred, net.reverse_length) == pytest.approx([0, 1, 3, 7, 15])


@pytest.mark.parametrize("seed", range(3))
def test_distances_same_with_in_edge_table_and_binary_search(seed, monkeypatch):
    """Both in-edge lookups (degree table; binary search for hub nodes) give the same lengths."""
    import geofupin.accessibility as acc

    net, rng = random_net(seed + 20)
    sources = rng.choice(net.n_nodes, 3, replace=False)
    o = rng.choice(net.n_nodes, 9, replace=False)
    a = nearest(net, sources)
    oda = od_matrix(net, o, sources, cutoff_min=15.0)
    monkeypatch.setattr(acc, "_TABLE_DEGREE", 1)
    net2, _ = random_net(seed + 20)  # fresh network: no cached table
    b = nearest(net2, sources)
    odb = od_matrix(net2, o, sources, cutoff_min=15.0)
    assert not net2._cache["in_edges_to_source"].table
    np.testing.assert_array_equal(a.dist_m, b.dist_m)
    np.testing.assert_array_equal(oda.dist_m, odb.dist_m)
    assert np.isfinite(a.dist_m).sum() > net.n_nodes // 2


def grid_net(k: int = 5, spacing: float = 1000.0):
    """A k x k grid of county roads (1000 m = 1.5 min) as lines."""
    lines = [LineString([(0, i * spacing), ((k - 1) * spacing, i * spacing)]) for i in range(k)]
    lines += [LineString([(i * spacing, 0), (i * spacing, (k - 1) * spacing)]) for i in range(k)]
    r = gpd.GeoDataFrame(
        {"road_id": [f"r{i}" for i in range(len(lines))], "road_class": "county"}, geometry=lines, crs=CRS
    )
    return build(r)[0]


def test_isochrones_contain_reached_and_exclude_unreached():
    net = grid_net()
    src = int(np.flatnonzero(np.all(net.node_xy == (0, 0), axis=1))[0])
    near = nearest(net, [src])
    # Manhattan hops x 1.5 min; band 3.75 min reaches 2 hops and half an edge further
    band = 3.75
    (poly,) = isochrones(net, near.time_min, [band], buffer_m=100)
    inside = shapely.contains_xy(poly, net.node_xy[:, 0], net.node_xy[:, 1])
    hops = (net.node_xy.sum(1) / 1000).round()
    assert (inside == (hops <= 2)).all()
    assert inside.sum() == 6 and (~inside).sum() == 19
    # along the edge (2000, 0) -> (3000, 0): reached up to 500 m
    assert shapely.contains_xy(poly, 2400, 0)
    assert not shapely.contains_xy(poly, 2800, 0)
    # several bands in one call, nested
    polys = isochrones(net, near.time_min, [1.5, 3.0, 30.0], buffer_m=100)
    assert polys[0].area < polys[1].area < polys[2].area
    assert polys[2].contains(polys[1])


def test_isochrones_follow_one_way_direction():
    # A -> B one-way: from B (the facility's side), travellers at A reach it; at C beyond B they cannot
    e = pd.DataFrame({"u": [0, 1], "v": [1, 2], "time_min": [1.0, 1.0], "length_m": [1000.0, 1000.0], "oneway": True})
    net = network_from_frame(e, np.array([[0.0, 0.0], [1000.0, 0.0], [2000.0, 0.0]]))
    near = nearest(net, [1])
    assert near.time_min[0] == 1.0 and np.isinf(near.time_min[2])
    (poly,) = isochrones(net, near.time_min, [5.0], buffer_m=50)
    assert shapely.contains_xy(poly, 500, 0)
    assert not shapely.contains_xy(poly, 1500, 0)


def test_coverage_tiny_county_hand_checked():
    v = pd.DataFrame(
        {
            "township": ["东乡", "东乡", "西乡", "西乡"],
            "persons": [100, 300, 200, 200],
            "poor_persons": [50, 10, 20, 0],
            "time_min_school": [10.0, 40.0, np.nan, 20.0],
        }
    )
    cov = coverage(v, ["school"], [15, 30])
    got = cov.set_index(["township", "band_min"])
    assert got.loc[("东乡", 15.0), "persons_share"] == pytest.approx(0.25)
    assert got.loc[("东乡", 15.0), "poor_persons_share"] == pytest.approx(50 / 60)
    assert got.loc[("东乡", 30.0), "persons_share"] == pytest.approx(0.25)
    assert got.loc[("西乡", 30.0), "persons_share"] == pytest.approx(0.5)  # unreachable counts as not covered
    assert got.loc[("西乡", 30.0), "poor_persons_share"] == 0  # the 20 poor live in the unreachable village
    assert got.loc[("全县", 30.0), "persons_share"] == pytest.approx(300 / 800)
    assert got.loc[("全县", 15.0), "poor_persons_share"] == pytest.approx(50 / 80)
    assert list(cov.columns)[:3] == ["township", "facility_kind", "band_min"]


# ------------------------------------------------------------------ the step on a tiny county


def tiny_layers(**over):
    roads = gpd.GeoDataFrame(
        {"road_id": ["a", "b", "c"], "road_class": ["county", "village", "county"]},
        geometry=[
            LineString([(0, 0), (4000, 0)]),  # county road, 6 min
            LineString([(2000, 0), (2000, 2000)]),  # village road north, 6 min
            LineString([(20000, 0), (21000, 0)]),  # an island far away
        ],
        crs=CRS,
    )
    villages = gpd.GeoDataFrame(
        {
            "village_id": ["V1", "V2", "V3"],
            "name": ["甲村", "乙村", "丙村"],
            "township": ["东乡", "东乡", "西乡"],
            "persons": [100, 200, 50],
            "poor_persons": [10, 20, 5],
            "relocate_persons": [100, 0, 50],
        },
        geometry=[Point(2000, 2300), Point(1000, 0), Point(10000, 9000)],  # V1 300 m off the road end, V3 far
        crs=CRS,
    )
    facilities = gpd.GeoDataFrame(
        {"facility_id": ["S1", "C1"], "kind": ["school", "clinic"], "name": ["学校", "卫生院"]},
        geometry=[Point(4000, 0), Point(0, 0)],
        crs=CRS,
    )
    candidates = gpd.GeoDataFrame(
        {"site_id": ["A", "B"], "name": ["安置点A", "安置点B"], "tier": "central_village"},
        geometry=[Point(3000, 100).buffer(50), Point(20500, 0).buffer(20)],
        crs=CRS,
    )
    kw = {"crs": roads.crs, "villages": villages, "roads": roads, "facilities": facilities, "candidates": candidates}
    kw.update(over)
    return Layers(**kw)


def run(layers, results=None, **cfg):
    sc = types.SimpleNamespace(access=AccessConfig(**cfg))
    return step(RunContext(scenario=sc, layers=layers, results=results or {}))


def test_step_on_tiny_county_hand_checked():
    res = run(tiny_layers(), bands_min=(10.0, 20.0), facility_kinds=("school", "clinic", "hospital"))
    va = res.layers["village_access"].set_index("village_id")
    # V1: walk 300 m (4.5 min) + village road 2 km (6 min) + county 2 km (3 min) to the school
    assert va.loc["V1", "time_min_school"] == pytest.approx(4.5 + 6 + 3)
    assert va.loc["V1", "dist_m_school"] == pytest.approx(300 + 2000 + 2000)
    assert va.loc["V1", "nearest_school"] == "S1"
    assert va.loc["V2", "time_min_clinic"] == pytest.approx(1.5)  # on the road, 1 km from the clinic
    assert va.loc["V2", "snap_dist_m"] == pytest.approx(0)
    assert not va.loc["V3", "reachable"] and va.loc["V3", "snap_dist_m"] > 2000
    assert np.isnan(va.loc["V3", "time_min_school"])
    assert va["time_min_hospital"].isna().all()
    assert any("'hospital'" in w for w in res.warnings)
    assert any("V3" in w and "max_snap_dist_m" in w for w in res.warnings)
    sa = res.layers["site_access"].set_index("site_id")
    pa = shapely.point_on_surface(tiny_layers().candidates.geometry[0])  # the point standing for the site
    walk_a = pa.y / (4000 / 60)
    assert sa.loc["A", "time_min_school"] == pytest.approx(walk_a + (4000 - pa.x) / (40000 / 60))
    assert sa.loc["A", "snap_dist_m"] == pytest.approx(pa.y)
    assert np.isnan(sa.loc["B", "time_min_school"])  # on the island
    od = res.tables["od_village_site"]
    row = od[(od.village_id == "V2") & (od.site_id == "A")].iloc[0]
    assert row.time_min == pytest.approx((pa.x - 1000) / (40000 / 60) + walk_a)
    assert not ((od.site_id == "B") & (od.village_id == "V2")).any()  # unreachable pairs are left out
    cov = res.tables["coverage"].set_index(["township", "facility_kind", "band_min"])
    assert cov.loc[("东乡", "school", 20.0), "persons_share"] == pytest.approx(1.0)
    assert cov.loc[("东乡", "school", 10.0), "persons_share"] == pytest.approx(200 / 300)
    assert cov.loc[("西乡", "school", 20.0), "persons_share"] == 0
    iso = res.layers["isochrones"]
    assert set(iso.facility_kind) == {"school", "clinic"} and len(iso) == 4
    ba = res.tables["before_after"].set_index("village_id")
    assert ba.loc["V1", "site_id"] == "A" and ba.loc["V1", "site_source"] == "best_candidate"
    assert ba.loc["V1", "time_min_school_after"] == pytest.approx(sa.loc["A", "time_min_school"])
    assert ba.loc["V3", "site_source"] == "none"
    s = res.summary
    assert s["network"]["components"] == 2 and s["villages_beyond_snap"] == 1
    assert isinstance(res.artifacts["network"], type(res.artifacts["routing"]))


def test_step_uses_assignment_of_allocate_step():
    asg = pd.DataFrame({"village_id": ["V1"], "site_id": ["B"], "persons": [100]})
    res = run(tiny_layers(), results={"allocate": StepResult(tables={"assignment": asg})}, facility_kinds=("school",))
    ba = res.tables["before_after"].set_index("village_id")
    assert ba.loc["V1", "site_id"] == "B" and ba.loc["V1", "site_source"] == "assignment"
    assert np.isnan(ba.loc["V1", "time_min_to_site"])  # island: no route, flagged as NaN, not inf


def test_step_without_roads_is_a_clear_error():
    with pytest.raises(DataError, match="roads layer is missing"):
        run(tiny_layers(roads=None))


def test_before_after_direct():
    va = pd.DataFrame({"village_id": ["V1", "V2"], "relocate_persons": [10, 0], "time_min_school": [50.0, 5.0]})
    sa = pd.DataFrame({"site_id": ["A", "B"], "time_min_school": [8.0, 2.0]})
    od = pd.DataFrame(
        {"village_id": ["V1", "V1"], "site_id": ["A", "B"], "time_min": [30.0, 20.0], "dist_m": [1.0, 2.0]}
    )
    ba = before_after(va, sa, od, ["school"])
    assert list(ba.village_id) == ["V1"]
    assert ba.site_id[0] == "B" and ba.change_min_school[0] == pytest.approx(-48.0)
