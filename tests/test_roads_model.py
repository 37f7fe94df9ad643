"""Road-model defects (issue 11, item 6), each on a tiny hand-checked layer, and the whole
chain against an independent networkx computation on the real OSM extracts.

Real data © OpenStreetMap contributors (ODbL), from ../shared/data (skipped when absent).
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString

from geofupin.config.access import AccessConfig
from geofupin.errors import DataError, Problems
from geofupin.layers import validate_layer
from geofupin.network import (
    build,
    dem_sampler,
    oneway_direction,
    tobler_factor,
    tobler_speed_kph,
)

CRS = "EPSG:32650"


def roads(lines, **cols):
    n = len(lines)
    data = {"road_id": [f"r{i}" for i in range(n)], "road_class": cols.pop("road_class", ["county"] * n)}
    data.update(cols)
    return gpd.GeoDataFrame(data, geometry=[LineString(c) for c in lines], crs=CRS)


def node_at(net, xy):
    d = np.hypot(*(net.node_xy - np.asarray(xy, float)).T)
    i = int(np.argmin(d))
    assert d[i] < 1e-6, f"no node at {xy}"
    return i


def dist(net, a_xy, b_xy):
    """Shortest road length (m) between the nodes at two coordinates, inf when unreachable."""
    g = net.to_networkx()
    try:
        return nx.shortest_path_length(g, node_at(net, a_xy), node_at(net, b_xy), weight="length_m")
    except nx.NetworkXNoPath:
        return math.inf


# --------------------------------------------------------------------------- 1. one-way


# A 1 km square of one-way sides run anticlockwise; the east side is drawn north -> south,
# so it is one-way *against* its drawing: from (1000, 0) to (1000, 1000) is 1 km, back 3 km.
SQUARE = [(0, 0), (1000, 0), (1000, 1000), (0, 1000), (0, 0)]
SQUARE_LINES = [[SQUARE[0], SQUARE[1]], [SQUARE[2], SQUARE[1]], [SQUARE[2], SQUARE[3]], [SQUARE[3], SQUARE[4]]]


@pytest.mark.parametrize(
    "values",
    [
        ["yes", "-1", "yes", "yes"],  # OSM
        [1, -1, 1, 1],  # integers
        [1.0, -1.0, 1.0, 1.0],  # a float column
        ["F", "T", "F", "F"],  # Geofabrik shapefiles: F forward only, T backward only
        ["是", "反向", "正向", "是"],
        ["true", "reverse", "True", "Y"],
    ],
)
def test_backward_oneway_through_layer_validation_runs_against_the_drawing(values):
    p = Problems()
    layer = validate_layer(roads(SQUARE_LINES, oneway=values), "roads", p)
    assert not p.errors
    assert list(layer.oneway) == ["forward", "backward", "forward", "forward"]
    net, _ = build(layer)
    assert net.n_edges == 4  # all one-way
    assert dist(net, (1000, 0), (1000, 1000)) == pytest.approx(1000)
    assert dist(net, (1000, 1000), (1000, 0)) == pytest.approx(3000)  # round the other three sides
    # the raw layer gives the same graph: the direction is read in one place
    raw, _ = build(roads(SQUARE_LINES, oneway=values))
    assert dist(raw, (1000, 1000), (1000, 0)) == pytest.approx(3000)


def test_geofabrik_both_and_no_are_two_way_and_bad_values_are_reported():
    p = Problems()
    layer = validate_layer(roads(SQUARE_LINES, oneway=["B", "no", "否", None]), "roads", p)
    assert not p.errors and list(layer.oneway[:3]) == ["both", "both", "both"] and pd.isna(layer.oneway[3])
    net, _ = build(layer)
    assert net.n_edges == 8
    assert dist(net, (1000, 1000), (1000, 0)) == pytest.approx(1000)
    p = Problems()
    validate_layer(roads(SQUARE_LINES, oneway=["yes", "sometimes", "no", "no"]), "roads", p)
    assert len(p.errors) == 1 and "sometimes" in p.errors[0].message and "r1" in p.errors[0].message
    # build on a raw layer takes an unknown value as two-way, with a warning naming the road
    net, rep = build(roads(SQUARE_LINES, oneway=["yes", "sometimes", "no", "no"]))
    assert net.n_edges == 7
    assert any("unknown oneway" in w and "r1" in w for w in rep.warnings)


def test_oneway_direction_codes():
    d, bad = oneway_direction(pd.Series([True, False, None, "-1", "T", "F", "B", "t", "f", "no", "x"], dtype=object))
    assert d.tolist() == [1, 0, 0, -1, -1, 1, 0, 1, 0, 0, 0]
    assert bad.tolist() == [False] * 10 + [True]


# --------------------------------------------------------------------------- 2. slope


def test_tobler_published_values():
    # Tobler (1993): W = 6 exp(-3.5 |S + 0.05|) km/h
    assert tobler_speed_kph(np.array([0.0]))[0] == pytest.approx(5.036, abs=1e-3)  # 5.04 km/h on the flat
    assert tobler_speed_kph(np.array([-0.05]))[0] == pytest.approx(6.0)  # fastest, gently downhill
    assert tobler_speed_kph(np.array([0.10]))[0] == pytest.approx(6 * math.exp(-0.525))  # 3.55 km/h
    assert tobler_speed_kph(np.array([-0.10]))[0] == pytest.approx(tobler_speed_kph(np.array([0.0]))[0])
    s = np.linspace(-0.6, 0.6, 13)
    np.testing.assert_allclose(tobler_factor(s), tobler_speed_kph(np.zeros(13)) / tobler_speed_kph(s))


def ramp_dem(path: Path, *, cell_m: float = 30.0, grade: float = 0.2) -> Path:
    """A north-up DEM of ``cell_m`` cells over x 0-300 m, y -150..150 m, rising ``grade`` to the east."""
    import rasterio
    from rasterio.transform import from_origin

    nx_, ny_ = int(300 / cell_m), int(300 / cell_m)
    xc = (np.arange(nx_) + 0.5) * cell_m
    z = np.tile(grade * xc, (ny_, 1)).astype("float32")
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=nx_,
        height=ny_,
        count=1,
        dtype="float32",
        crs=CRS,
        transform=from_origin(0, 150, cell_m, cell_m),
        nodata=-9999,
    ) as dst:
        dst.write(z, 1)
    return path


def test_slope_of_short_segments_is_taken_over_the_dem_cell(tmp_path):
    # a 100 m track rising 20 m, drawn with 0.5 m segments, on a 30 m DEM
    xs = np.arange(0, 100.5, 0.5)
    track = roads([list(zip(55 + xs, np.zeros_like(xs), strict=True))], road_class=["track"])
    dem = ramp_dem(tmp_path / "dem.tif")
    flat = 100 / (10 * 1000 / 60)  # 0.6 min at 10 km/h
    el = dem_sampler(dem, track.crs)
    assert el.cell_size_m == pytest.approx(30.0)
    net, rep = build(track, config=AccessConfig(slope_penalty=True), elevation=el)
    # bilinear elevations are exact on the plane: Tobler's factors for +20 % and -20 %
    assert net.edge_time_min[net.piece_fwd_edge[0]] == pytest.approx(flat * math.exp(3.5 * 0.2))  # 1.21 min
    assert net.edge_time_min[net.piece_bwd_edge[0]] == pytest.approx(flat * math.exp(3.5 * 0.1))  # |-0.2+0.05|
    assert rep.slope_applied_pieces == 1
    # nearest cells: samples every 100/3 m at x = 55, 88.3, 121.7, 155 fall in the cells 30-60,
    # 60-90, 120-150, 150-180 (z = 9, 15, 27, 33 m): grades 0.18, 0.36, 0.18 over the intervals
    near = dem_sampler(dem, track.crs, interpolation="nearest")
    net, _ = build(track, config=AccessConfig(slope_penalty=True), elevation=near)
    g = np.array([6.0, 12.0, 6.0]) / (100 / 3)
    up = net.edge_time_min[net.piece_fwd_edge[0]]
    assert up == pytest.approx(flat * np.mean(np.exp(3.5 * g)))  # 1.46 min, not 1e28
    down = net.edge_time_min[net.piece_bwd_edge[0]]
    assert down == pytest.approx(flat * np.mean(np.exp(3.5 * (np.abs(0.05 - g) - 0.05))))  # 0.85 min


def test_dem_sampler_bilinear_and_voids(tmp_path):
    el = dem_sampler(ramp_dem(tmp_path / "dem.tif"), CRS)
    xy = np.array([[15.0, 0.0], [100.0, 7.0], [284.0, -140.0], [5.0, 149.0], [-1.0, 0.0], [301.0, 0.0]])
    z = el(xy)
    np.testing.assert_allclose(z[:4], 0.2 * np.array([15.0, 100.0, 284.0, 15.0]))  # a plane; cell centres clamp
    assert np.isnan(z[4:]).all()  # off the DEM
    # the same in a geographic CRS: the points are reprojected to the DEM's
    lonlat = gpd.GeoSeries(shapely.points(xy[:3]), crs=CRS).to_crs(4326)
    el_geo = dem_sampler(tmp_path / "dem.tif", lonlat.crs)
    np.testing.assert_allclose(el_geo(shapely.get_coordinates(lonlat.values)), z[:3], atol=1e-6)


def test_slope_penalty_is_bounded():
    # a cliff: 100 m of path rising 300 m (grade 3, Tobler factor e^10.5 = 36,000)
    r = roads([[(0, 0), (100, 0)]], road_class=["path"])

    def elev(xy):
        return xy[:, 0] * 3.0

    net, _ = build(r, config=AccessConfig(slope_penalty=True), elevation=elev)
    flat = 100 / (4 * 1000 / 60)
    assert net.edge_time_min[net.piece_fwd_edge[0]] == pytest.approx(10 * flat)  # the cap, default 10
    net, _ = build(r, config=AccessConfig(slope_penalty=True, slope_max_factor=3), elevation=elev)
    assert net.edge_time_min[net.piece_fwd_edge[0]] == pytest.approx(3 * flat)


def test_slope_pieces_take_their_share_of_the_line():
    # a 600 m path rising 10 % on its first 300 m then flat, split by a side road at x = 150
    r = roads([[(0, 0), (600, 0)], [(150, 0), (150, 400)]], road_class=["path", "county"])

    def elev(xy):
        return np.minimum(xy[:, 0], 300.0) * 0.1

    net, _ = build(r, config=AccessConfig(slope_penalty=True, slope_sample_m=50), elevation=elev)
    t = {
        (round(net.node_xy[u][0]), round(net.node_xy[v][0])): tm
        for u, v, tm in zip(net.edge_u, net.edge_v, net.edge_time_min, strict=True)
    }
    per_m = 1 / (4 * 1000 / 60)
    assert t[(0, 150)] == pytest.approx(150 * per_m * math.exp(0.35))
    assert t[(150, 600)] == pytest.approx((150 * math.exp(0.35) + 300) * per_m)
    assert t[(600, 150)] == pytest.approx(450 * per_m)  # -10 % costs as much as the flat


# --------------------------------------------------------------------------- 3. loops


def test_lollipop_keeps_its_loop():
    # a 100 m stick then a 1.2 km x 0.5 km ring back to the stick's end: 100 + 3,400 m in one line
    lol = [(0, 0), (100, 0), (1300, 0), (1300, 500), (100, 500), (100, 0)]
    net, rep = build(roads([lol]))
    assert net.piece_length_m.sum() == pytest.approx(3500)
    assert rep.dropped_loops == 0
    # the ring is routable: from the stick's end to the far corner is 1,200 + 500 m either way round
    far = (1300, 500)
    s = gpd.GeoSeries([shapely.Point(far)], crs=CRS)
    from geofupin.network import snap

    routed, nodes = net.attach({"p": snap(net, s)})
    g = routed.to_networkx()
    assert nx.shortest_path_length(g, node_at(routed, (0, 0)), int(nodes["p"][0]), weight="length_m") == (
        pytest.approx(100 + 1700)
    )


def test_closed_way_joined_at_one_node_and_isolated_closed_way():
    ring = [(0, 0), (500, 0), (500, 500), (0, 500), (0, 0)]
    net, _ = build(roads([ring, [(0, 0), (-300, 0)]]))
    assert net.piece_length_m.sum() == pytest.approx(2000 + 300)
    assert net.summary()["components"] == 1
    alone, rep = build(roads([[(x + 5000, y) for x, y in ring]]))
    assert alone.piece_length_m.sum() == pytest.approx(2000)
    assert len(alone.piece_u) == 3 and rep.dropped_loops == 0


def test_two_halves_of_a_circle_are_not_duplicates():
    ring = np.asarray(shapely.Point(0, 0).buffer(100, quad_segs=16).exterior.coords)
    h = len(ring) // 2
    net, rep = build(roads([ring[: h + 1], np.r_[ring[h:], ring[1:2]][:-1]]))
    assert rep.dropped_duplicates == 0
    assert net.piece_length_m.sum() == pytest.approx(shapely.LineString(ring).length)
    # a line drawn twice is still a duplicate
    net, rep = build(roads([[(0, 0), (500, 0), (500, 300)], [(500, 300), (500, 0), (0, 0)]]))
    assert rep.dropped_duplicates == 2 and net.piece_length_m.sum() == pytest.approx(800)  # split at (500, 0)


# --------------------------------------------------------------------------- 4. levels


def test_bridge_vertex_near_a_ground_junction_is_not_merged_but_its_ends_connect():
    lines = [
        [(0, 0), (500, 0), (1000, 0)],  # ground road with a junction at (500, 0)
        [(500, 0), (500, -500)],  # ground side road
        [(0, 300), (501, 1)],  # a bridge of two ways meeting 1.4 m above the junction
        [(501, 1), (1000, 300)],
        [(-500, 300), (0, 300)],  # ground approach sharing the bridge's west end
        [(1001.5, 300), (1500, 300)],  # ground approach 1.5 m short of the east end
    ]
    r = roads(lines, bridge=[False, False, True, True, False, False])
    over = 500 + math.hypot(501, 299) + math.hypot(499, 299) + 498.5
    for ni in (True, False):
        net, _ = build(r, config=AccessConfig(node_intersections=ni))
        assert net.summary()["components"] == 2  # the bridge does not touch the junction
        assert dist(net, (-500, 300), (1500, 300)) == pytest.approx(over)  # its ends connect
        assert dist(net, (500, -500), (501, 1)) == math.inf
    # without the bridge flag the vertex is merged with the junction (within 2 m)
    net, _ = build(r.assign(bridge=False))
    assert net.summary()["components"] == 1


def test_ground_end_under_a_bridge_does_not_snap_up_to_it():
    # a ground road ending 1 m under a bridge span is not joined to the bridge
    r = roads([[(0, 0), (1000, 0)], [(500, -400), (500, -1)]], bridge=[True, False])
    net, _ = build(r)
    assert net.summary()["components"] == 2
    net, _ = build(r.assign(bridge=False))
    assert net.summary()["components"] == 1
    # a bridge end 1 m short of a ground road comes down onto it
    r = roads([[(0, 0), (1000, 0)], [(500, -400), (500, -1)]], bridge=[False, True])
    net, _ = build(r)
    assert net.summary()["components"] == 1


# --------------------------------------------------------------------------- 5. empty


def test_only_zero_length_lines_is_a_named_error():
    with pytest.raises(DataError, match="roads: none of the 2 road feature"):
        build(roads([[(0, 0), (0, 0)], [(5, 5), (5, 5)]]))
    with pytest.raises(DataError, match="no road network"):
        build(roads([[(0, 0), (0, 1)], [(5, 5), (5, 5.5)]]))  # shorter than snap_tolerance_m


# --------------------------------------------------------------------------- real extracts

EXTRACTS = {
    "andorra": ("andorra/andorra.osm.pbf", "andorra/andorra_srtm3.tif"),
    "bayreuth": ("north-bayreuth/north-bayreuth.osm.pbf", "north-bayreuth/north-bayreuth_srtm3.tif"),
}


def osm_oracle_graph(pbf: Path, crs) -> tuple[dict, dict]:
    """Raw OSM ways read with osmium, independently of geofupin's import and noding: node
    coordinates (projected to ``crs``) and, per pair of consecutive way nodes (the OSM
    topology: ways join only at shared nodes), the directions allowed and the class speed."""
    import osmium
    from pyproj import Transformer

    from geofupin.config.access import DEFAULT_SPEEDS_KPH
    from geofupin.osm import ROUTABLE_HIGHWAYS
    from geofupin.vocabulary import ROAD_CLASS_ALIASES

    ways = []

    class Ways(osmium.SimpleHandler):
        def way(self, w):
            hw = w.tags.get("highway")
            if hw in ROUTABLE_HIGHWAYS and w.tags.get("area") != "yes":
                ow = w.tags.get("oneway", "")
                implied = w.tags.get("junction") == "roundabout" or hw == "motorway"  # OSM wiki
                d = 1 if ow in ("yes", "true", "1") else -1 if ow == "-1" else int(implied and ow != "no")
                ways.append((DEFAULT_SPEEDS_KPH[ROAD_CLASS_ALIASES[hw]], d, [(n.ref, n.lon, n.lat) for n in w.nodes]))

    Ways().apply_file(str(pbf), locations=True)
    to_xy = Transformer.from_crs(4326, crs, always_xy=True)
    xy: dict[int, tuple[float, float]] = {}
    seg: dict[tuple[int, int], tuple[bool, bool, float]] = {}
    for kph, d, nodes in ways:
        for ref, lon, lat in nodes:
            xy.setdefault(ref, to_xy.transform(lon, lat))
        for (a, *_), (b, *_) in itertools.pairwise(nodes):
            if a == b:
                continue
            ab, ba = d >= 0, d <= 0
            key, fw, bw = ((a, b), ab, ba) if a < b else ((b, a), ba, ab)
            f0, b0, k0 = seg.get(key, (False, False, 0.0))
            seg[key] = (f0 or fw, b0 or bw, max(k0, kph))
    return xy, seg


def oracle_od(xy, seg, origins, destinations, *, walk_kph=4.0, max_snap_m=2000.0):
    """Time (min) and length (m) of the fastest path between points on the oracle graph,
    each point joined to the nearest point of the nearest OSM segment by a walk."""
    keys = list(seg)
    a_xy = np.array([xy[a] for a, _ in keys])
    b_xy = np.array([xy[b] for _, b in keys])
    segs = shapely.linestrings(np.stack([a_xy, b_xy], 1))
    pts = shapely.points(np.vstack([origins, destinations]))
    (qi, ti), d = shapely.STRtree(segs).query_nearest(pts, return_distance=True, all_matches=False)
    frac = shapely.line_locate_point(segs[ti], pts[qi], normalized=True)
    g = nx.DiGraph()

    def add(u, v, length, kph):
        t = length / (kph * 1000 / 60)
        if not g.has_edge(u, v) or g[u][v]["time_min"] > t:
            g.add_edge(u, v, length_m=length, time_min=t)

    on_seg: dict[int, list] = {}
    for i, s, f, di in zip(qi, ti, frac, d, strict=True):
        if di <= max_snap_m:
            on_seg.setdefault(int(s), []).append((float(f), int(i)))
            add(("p", int(i)), ("s", int(i)), di, walk_kph)
            add(("s", int(i)), ("p", int(i)), di, walk_kph)
    for k, (a, b) in enumerate(keys):
        fw, bw, kph = seg[(a, b)]
        length = float(np.hypot(*(a_xy[k] - b_xy[k])))
        chain = [(0.0, a), *[(f, ("s", i)) for f, i in sorted(on_seg.get(k, []))], (1.0, b)]
        for (f0, u), (f1, v) in itertools.pairwise(chain):
            if fw:
                add(u, v, (f1 - f0) * length, kph)
            if bw:
                add(v, u, (f1 - f0) * length, kph)
    n_o = len(origins)
    time = np.full((n_o, len(destinations)), np.inf)
    dist_m = np.full(time.shape, np.nan)
    back = g.reverse(copy=True)
    for j in range(len(destinations)):
        dest = ("p", n_o + j)
        if dest not in g:
            continue
        pred, tt = nx.dijkstra_predecessor_and_distance(back, dest, weight="time_min")
        for i in range(n_o):
            node = ("p", i)
            if node in tt:
                time[i, j] = tt[node]
                length = 0.0
                while node != dest:
                    nxt = pred[node][0]
                    length += g[node][nxt]["length_m"]
                    node = nxt
                dist_m[i, j] = length
    return time, dist_m


@pytest.mark.shared
@pytest.mark.slow
@pytest.mark.parametrize("extract", sorted(EXTRACTS))
def test_place_to_facility_times_equal_an_independent_networkx_oracle(extract, shared_data):
    """import-osm -> layer validation -> build -> snap -> attach -> OD against the oracle
    built from the raw OSM ways: every village-to-facility time and distance within 1 %."""
    from geofupin.accessibility import od_matrix
    from geofupin.network import snap
    from geofupin.osm import import_osm

    pbf = shared_data / EXTRACTS[extract][0]
    layers = import_osm(pbf)
    p = Problems()
    road_layer = validate_layer(layers["roads"], "roads", p)
    assert not p.errors
    villages, fac = layers["villages"], layers["facilities"]
    assert len(villages) > 50 and len(fac) >= 3
    # the oracle times roads by class only: no maxspeed, no surface factor
    cfg = AccessConfig(node_intersections=False, use_road_speed=False, surface_factors={"gravel": 1.0, "earth": 1.0})
    net, _ = build(road_layer, config=cfg)
    routed, nodes = net.attach({"v": snap(net, villages.geometry), "f": snap(net, fac.geometry)})
    od = od_matrix(routed, nodes["v"], nodes["f"])
    vxy = shapely.get_coordinates(villages.geometry.values)
    fxy = shapely.get_coordinates(fac.geometry.values)
    want_t, want_d = oracle_od(*osm_oracle_graph(pbf, road_layer.crs), vxy, fxy)
    reach = np.isfinite(want_t)
    assert reach.mean() > 0.8
    np.testing.assert_array_equal(np.isfinite(od.time_min), reach)  # the same pairs connect
    np.testing.assert_allclose(od.time_min[reach], want_t[reach], rtol=0.01)
    np.testing.assert_allclose(od.dist_m[reach], want_d[reach], rtol=0.01)


@pytest.mark.shared
def test_andorra_slope_penalty_gives_no_absurd_village_time(shared_data):
    """With the slope penalty on SRTM3 (80 m cells), every village's time to its nearest town
    stays within what walking and driving up Andorra's valleys can take.

    Bounds: at most ``slope_max_factor`` (10) times the flat time and at least Tobler's fastest
    (0.84 x, gently downhill); and under 12 h: no village is more than ~25 km of road from a
    town (the country is 30 km across), and even walking that at Tobler's speed on a steady
    30 % climb (2.2 km/h) takes under 12 h. The old per-vertex slopes gave 4e23 min here.
    """
    from geofupin.accessibility import nearest
    from geofupin.network import snap
    from geofupin.osm import import_osm

    pbf, dem = (shared_data / f for f in EXTRACTS["andorra"])
    layers = import_osm(pbf)
    villages, fac = layers["villages"], layers["facilities"]
    towns = (fac.kind == "town").to_numpy()
    el = dem_sampler(dem, layers["roads"].crs)
    assert 60 < el.cell_size_m < 100  # 3 arc-seconds at 42.5 N
    times = {}
    for on in (False, True):
        cfg = AccessConfig(slope_penalty=on, node_intersections=False)
        net, rep = build(layers["roads"], config=cfg, elevation=el if on else None)
        opt = {"elevation": el} if on else {}
        routed, nodes = net.attach({"v": snap(net, villages.geometry, **opt), "f": snap(net, fac.geometry, **opt)})
        res = nearest(routed, nodes["f"][towns & (nodes["f"] >= 0)], direction="to_source")
        times[on] = np.where(nodes["v"] >= 0, res.time_min[nodes["v"]], np.inf)
        if on:
            assert rep.slope_applied_pieces > 500
    flat, hilly = times[False], times[True]
    assert np.isfinite(flat).mean() > 0.9 and (np.isfinite(hilly) == np.isfinite(flat)).all()
    ok = np.isfinite(flat)
    ratio = hilly[ok] / flat[ok]
    assert ratio.min() >= math.exp(-3.5 * 0.05) - 1e-9 and ratio.max() <= 10.0
    assert hilly[ok].max() < 12 * 60
    assert np.median(ratio) < 1.5  # most villages reach a town on paved roads


@pytest.mark.parametrize("seed", range(3))
def test_noding_keeps_every_metre_of_random_rings_and_lollipops(seed):
    """Random closed ways (isolated, touching a road at one vertex, or lollipops): the pieces
    add up to the length of the lines and no piece joins a node to itself."""
    rng = np.random.default_rng(seed)
    lines = [[(0.0, 0.0), (5000.0, 0.0)]]
    for k in range(12):
        cx, cy = rng.uniform(200, 4800), rng.uniform(300, 3000) * rng.choice([-1, 1])
        ring = np.asarray(shapely.Point(cx, cy).buffer(rng.uniform(20, 150), quad_segs=4).exterior.coords)
        kind = k % 3
        if kind == 1:  # a stick from the main road to the ring's first vertex
            lines.append([(ring[0][0], 0.0), tuple(ring[0])])
        if kind == 2:  # a lollipop: the stick and the ring in one line
            lines.append([(ring[0][0], 0.0), *map(tuple, ring)])
        else:
            lines.append(list(map(tuple, ring)))
    r = roads(lines)
    net, rep = build(r)
    assert rep.dropped_loops == 0 and rep.dropped_duplicates == 0
    assert net.piece_length_m.sum() == pytest.approx(r.length.sum(), rel=1e-9)
    assert not (net.piece_u == net.piece_v).any()
