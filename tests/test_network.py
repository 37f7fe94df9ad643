"""Road graph building and snapping on tiny hand-checkable networks."""

from __future__ import annotations

import math

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
from shapely.geometry import LineString, Point

from geofupin._schema import parse
from geofupin.config.access import AccessConfig
from geofupin.errors import CRSError, Problems
from geofupin.network import build, network_from_frame, snap, tobler_factor

CRS = "EPSG:32650"


def roads(lines, **cols):
    n = len(lines)
    data = {"road_id": [f"r{i}" for i in range(n)], "road_class": cols.pop("road_class", ["county"] * n)}
    data.update(cols)
    return gpd.GeoDataFrame(data, geometry=[LineString(c) for c in lines], crs=CRS)


def time_between(net, a_xy, b_xy):
    """Shortest time (networkx) between the nodes at two coordinates."""
    g = net.to_networkx()
    a = int(np.argmin(np.hypot(*(net.node_xy - a_xy).T)))
    b = int(np.argmin(np.hypot(*(net.node_xy - b_xy).T)))
    return nx.shortest_path_length(g, a, b, weight="time_min")


def test_single_road_time_from_class_speed():
    net, rep = build(roads([[(0, 0), (1000, 0)]]))  # county 40 km/h
    assert net.n_nodes == 2 and net.n_edges == 2
    assert net.edge_length_m == pytest.approx([1000, 1000])
    assert net.edge_time_min == pytest.approx([1.5, 1.5])  # 1 km at 40 km/h
    assert rep.warnings == ()


def test_speed_override_surface_and_default_warning():
    r = roads(
        [[(0, 0), (1200, 0)], [(0, 100), (1200, 100)], [(0, 200), (1200, 200)]],
        road_class=["county", "village", None],
        speed_kph=[60.0, np.nan, np.nan],
        surface=["paved", "gravel", None],
    )
    cfg = AccessConfig(default_speed_kph=12.0)
    net, rep = build(r, config=cfg)
    t = dict(zip(net.piece_road_id, net.edge_time_min[net.piece_fwd_edge], strict=True))
    assert t["r0"] == pytest.approx(1.2)  # own speed 60 km/h
    assert t["r1"] == pytest.approx(1.2 / (20 * 0.7 / 60))  # village 20 km/h on gravel x0.7
    assert t["r2"] == pytest.approx(6.0)  # default 12 km/h
    assert rep.default_speed_roads == 1
    assert any("no known road_class" in w and "r2" in w for w in rep.warnings)


def test_osm_highway_and_chinese_classes_are_mapped():
    r = roads([[(0, 0), (1000, 0)], [(0, 100), (1000, 100)]], road_class=["primary", "乡道"])
    net, rep = build(r)
    assert sorted(net.piece_class) == ["provincial", "township"]
    assert rep.default_speed_roads == 0


def test_crossing_lines_are_noded_at_true_intersection():
    # a cross without a shared vertex: 4 pieces meeting at (500, 0)
    net, _ = build(roads([[(0, 0), (1000, 0)], [(500, -500), (500, 500)]]))
    assert net.n_nodes == 5
    assert len(net.piece_u) == 4
    assert time_between(net, (0, 0), (500, 500)) == pytest.approx(1.5)  # 500 m + 500 m at 40 km/h


def test_bridge_crossing_has_no_junction():
    # the bridge crosses the road at (500, 0) without a junction; a path joins them at the east
    r = roads(
        [[(0, 0), (1000, 0)], [(500, -500), (500, 500)], [(1000, 0), (1000, 500), (500, 500)]],
        bridge=[False, True, False],
    )
    net, _ = build(r)
    assert net.n_nodes == 4  # the four ends; no node at (500, 0)
    assert not np.any(np.all(np.isclose(net.node_xy, (500, 0)), axis=1))
    # from the west end to the bridge's north end: 1000 + 500 + 500 m = 3 min, not 1.5
    assert time_between(net, (0, 0), (500, 500)) == pytest.approx(3.0)
    # the same geometry without the bridge flag has the junction
    net2, _ = build(r.assign(bridge=False))
    assert time_between(net2, (0, 0), (500, 500)) == pytest.approx(1.5)


def test_layers_and_tunnels_separate_levels():
    r = roads([[(0, 0), (1000, 0)], [(500, -500), (500, 500)]], layer=[np.nan, -1])
    net, _ = build(r)
    assert net.n_nodes == 4
    net2, _ = build(roads([[(0, 0), (1000, 0)], [(500, -500), (500, 500)]], tunnel=[False, True]))
    assert net2.n_nodes == 4


def test_shared_vertex_t_junction_and_near_miss():
    r = roads(
        [
            [(0, 0), (500, 0), (1000, 0)],  # vertex at (500, 0)
            [(500, 0), (500, 800)],  # shares it (OSM-style junction)
            [(800, 0), (800, -600)],  # T: ends on the interior of road 0
            [(200, -1.5), (200, -400)],  # undershoot by 1.5 m (< 2 m tolerance)
        ]
    )
    net, _ = build(r, config=AccessConfig(node_intersections=False))
    assert net.summary()["components"] == 1
    # road 0 is split at 200, 500 and 800: 4 pieces, plus 3 side roads
    assert len(net.piece_u) == 7
    assert time_between(net, (0, 0), (800, -600)) == pytest.approx((800 + 600) / (40 / 0.06))
    net_tight, _ = build(r, config=AccessConfig(snap_tolerance_m=1.0))
    assert net_tight.summary()["components"] == 2  # the undershoot stays loose at 1 m


def test_one_way_loop():
    sq = [(0, 0), (1000, 0), (1000, 1000), (0, 1000), (0, 0)]
    r = roads([[sq[i], sq[i + 1]] for i in range(4)], oneway=[True] * 4)
    net, _ = build(r)
    assert net.n_edges == 4
    assert time_between(net, sq[0], sq[1]) == pytest.approx(1.5)
    assert time_between(net, sq[1], sq[0]) == pytest.approx(4.5)  # three sides round the loop
    # oneway = "-1" means against the digitised direction
    net2, _ = build(roads([[(0, 0), (1000, 0)]], oneway=["-1"]))
    assert net2.node_xy[net2.edge_u[0]] == pytest.approx((1000, 0))


def test_zero_length_duplicate_and_multiline_inputs():
    r = roads([[(0, 0), (1000, 0)], [(0, 0), (1000, 0)], [(300, 300), (300, 300)], [(0, 0), (0, 0.5)]])
    net, rep = build(r)
    assert len(net.piece_u) == 1
    assert rep.dropped_duplicates == 1
    assert rep.dropped_zero_length == 2
    assert any("duplicate" in w for w in rep.warnings)


def test_components_and_share_outside_main():
    net, rep = build(roads([[(0, 0), (3000, 0)], [(0, 5000), (1000, 5000)]]))
    s = net.summary()
    assert s["components"] == 2
    assert s["share_length_outside_main"] == pytest.approx(0.25)
    assert any("disconnected" in w for w in rep.warnings)


def test_geographic_crs_is_refused():
    r = roads([[(0, 0), (1, 0)]]).set_crs(4326, allow_override=True)
    with pytest.raises(CRSError):
        build(r)


def test_snap_to_edge_not_vertex_with_offroad_leg():
    net, _ = build(roads([[(0, 0), (1000, 0)]]))
    s = snap(net, np.array([[400.0, 300.0], [500.0, 5000.0]]), max_snap_dist_m=2000, walk_speed_kph=4)
    assert s.snap_xy[0] == pytest.approx((400, 0))
    assert s.frac[0] == pytest.approx(0.4)
    assert s.snap_dist_m[0] == pytest.approx(300)
    assert s.walk_in_min[0] == pytest.approx(4.5)  # 300 m at 4 km/h
    assert list(s.reachable) == [True, False]
    assert s.snap_dist_m[1] == pytest.approx(5000)  # the distance is kept for the report


def test_attach_splits_edges_virtually():
    net, _ = build(roads([[(0, 0), (1000, 0)]]))
    pts = np.array([[200.0, 0.0], [700.0, 100.0], [0.0, 9000.0]])
    s = snap(net, pts, max_snap_dist_m=500)
    routed, nodes = net.attach({"p": s})
    a, b, far = nodes["p"]
    assert far == -1
    g = routed.to_networkx()
    # 500 m along the county road (0.75 min) + 100 m walk out (1.5 min)
    assert nx.shortest_path_length(g, a, b, weight="time_min") == pytest.approx(0.75 + 1.5)
    # from the first point to the road's west end: 200 m
    assert nx.shortest_path_length(g, a, 0, weight="time_min") == pytest.approx(0.3)


def test_attach_respects_one_way_on_split_edges():
    net, _ = build(roads([[(0, 0), (1000, 0)]], oneway=[True]))
    s = snap(net, np.array([[200.0, 0.0], [700.0, 0.0]]))
    routed, nodes = net.attach({"p": s})
    a, b = nodes["p"]
    g = routed.to_networkx()
    assert nx.shortest_path_length(g, a, b, weight="time_min") == pytest.approx(0.75)
    assert not nx.has_path(g, b, a)


def test_tobler_slope_penalty_on_paths():
    assert tobler_factor(np.array([0.0]))[0] == pytest.approx(1.0)
    r = roads([[(0, 0), (1000, 0)], [(0, 100), (1000, 100)]], road_class=["path", "county"])

    def elev(xy):
        return xy[:, 0] * 0.1  # rising 10 % to the east

    net, rep = build(r, config=AccessConfig(slope_penalty=True), elevation=elev)
    p = int(np.flatnonzero(net.piece_class == "path")[0])
    up = net.edge_time_min[net.piece_fwd_edge[p]]
    down = net.edge_time_min[net.piece_bwd_edge[p]]
    assert up == pytest.approx(15 * math.exp(3.5 * 0.10))  # 1 km at 4 km/h, +10 %
    assert down == pytest.approx(15.0)  # -10 %: |S + 0.05| = 0.05, same as flat
    c = int(np.flatnonzero(net.piece_class == "county")[0])
    assert net.edge_time_min[net.piece_fwd_edge[c]] == pytest.approx(1.5)  # no penalty on county roads
    assert rep.slope_applied_pieces == 1


def test_dem_not_covering_roads_is_flagged():
    r = roads([[(0, 0), (1000, 0)], [(5000, 0), (6000, 0)]], road_class=["path", "path"])

    def elev(xy):
        return np.where(xy[:, 0] < 2000, 0.0, np.nan)

    net, rep = build(r, config=AccessConfig(slope_penalty=True), elevation=elev)
    assert rep.slope_missing_pieces == 1
    assert any("DEM" in w and "does not cover" in w for w in rep.warnings)
    assert np.isfinite(net.edge_time_min).all()


def test_access_config_parses_and_validates():
    probs = Problems()
    cfg = parse(AccessConfig, {"speeds_kph": {"village": 25}, "bands_min": [10, 20]}, "access", probs)
    assert not probs.errors
    assert cfg.speeds["village"] == 25 and cfg.speeds["county"] == 40
    probs = Problems()
    assert parse(AccessConfig, {"speeds_kph": {"vilage": 25}, "walk_sped_kph": 3}, "access", probs) is None
    assert len(probs.errors) == 1  # unknown key reported first; validate runs only on clean fields
    probs = Problems()
    assert parse(AccessConfig, {"speeds_kph": {"vilage": 25}, "max_snap_dist_m": -1}, "access", probs) is None
    assert {p.where for p in probs.errors} == {"access.speeds_kph.vilage", "access.max_snap_dist_m"}
    probs = Problems()
    cfg = parse(AccessConfig, {"slope_sample_m": 50, "slope_max_factor": 5}, "access", probs)
    assert not probs.errors and cfg.slope_sample_m == 50 and cfg.slope_max_factor == 5
    probs = Problems()
    assert parse(AccessConfig, {"slope_sample_m": 0, "slope_max_factor": 0.5}, "access", probs) is None
    assert {p.where for p in probs.errors} == {"access.slope_sample_m", "access.slope_max_factor"}


def test_network_from_frame_matches_networkx_graph():
    import pandas as pd

    e = pd.DataFrame(
        {"u": [0, 1], "v": [1, 2], "time_min": [1.0, 2.0], "length_m": [10.0, 20.0], "oneway": [True, False]}
    )
    net = network_from_frame(e, np.array([[0, 0], [1, 0], [2, 0]], float))
    g = net.to_networkx()
    assert g.number_of_edges() == 3
    assert not g.has_edge(1, 0) and g.has_edge(2, 1)


def test_snap_geoseries_polygons_and_main_component():
    net, _ = build(roads([[(0, 0), (3000, 0)], [(0, 500), (100, 500)]]))
    polys = gpd.GeoSeries([Point(50, 450).buffer(10)], crs=CRS)
    near = snap(net, polys)
    main = snap(net, polys, snap_to="main_component")
    assert near.snap_dist_m[0] == pytest.approx(50, abs=10)  # a point inside the polygon
    assert main.snap_xy[0][1] == pytest.approx(0)


def test_multilines_and_missing_geometry():
    from shapely.geometry import MultiLineString

    r = gpd.GeoDataFrame(
        {"road_id": ["m", "x"], "road_class": ["county", "county"]},
        geometry=[MultiLineString([[(0, 0), (1000, 0)], [(1000, 0), (1000, 1000)]]), None],
        crs=CRS,
    )
    net, rep = build(r)
    assert len(net.piece_u) == 2 and set(net.piece_road_id) == {"m"}
    assert time_between(net, (0, 0), (1000, 1000)) == pytest.approx(3.0)
    assert any("without geometry" in w for w in rep.warnings)


def test_offroad_leg_uses_tobler_with_elevation():
    net, _ = build(roads([[(0, 0), (1000, 0)]]))

    def elev(xy):
        return xy[:, 1] * 0.2  # the point 100 m north stands 20 m higher than the road

    s = snap(net, np.array([[500.0, 100.0]]), walk_speed_kph=4, elevation=elev)
    flat = 100 / (4000 / 60)
    assert s.walk_in_min[0] == pytest.approx(flat * tobler_factor(np.array([-0.2]))[0])  # downhill to the road
    assert s.walk_out_min[0] == pytest.approx(flat * math.exp(3.5 * 0.2))  # uphill home


@pytest.mark.parametrize("seed", range(4))
def test_grid_pairs_report_every_overlapping_box_pair_once(seed):
    """The grid pair finder against brute force, with a few very long boxes among short ones."""
    from geofupin.network import _box_pairs

    rng = np.random.default_rng(seed)
    n = 300
    lo = rng.uniform(0, 1000, (n, 2))
    size = rng.exponential(5, (n, 2))
    size[rng.random(n) < 0.05] *= 200
    hi = lo + size
    a, b = _box_pairs(lo, hi)
    got = list(zip(a.tolist(), b.tolist(), strict=True))
    assert len(got) == len(set(got)) and all(i < j for i, j in got)
    ov = (lo[:, None] <= hi[None, :]).all(axis=2) & (lo[None, :] <= hi[:, None]).all(axis=2)
    i, j = np.nonzero(np.triu(ov, 1))
    assert set(zip(i.tolist(), j.tolist(), strict=True)) <= set(got)


@pytest.mark.parametrize("seed", range(4))
def test_close_pairs_equal_kdtree(seed):
    """Junction merging finds exactly the pairs within the tolerance (vs a k-d tree)."""
    from scipy.spatial import cKDTree

    from geofupin.network import _close_pairs

    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 60, (800, 2))
    xy[:100] = np.round(xy[:100])  # exact repeats and points on cell borders
    for tol in (0.5, 2.0):
        ref = {tuple(p) for p in np.sort(cKDTree(xy).query_pairs(tol, output_type="ndarray"), axis=1).tolist()}
        got = np.sort(_close_pairs(xy, tol), axis=1).tolist()
        assert len(got) == len(ref) and {tuple(p) for p in got} == ref
