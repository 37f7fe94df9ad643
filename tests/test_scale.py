"""Steps that must not grow faster than the data: the plan step's road search and the MILP by parts."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, Point

import geofupin.allocate.solve as solve_mod
from geofupin.allocate.matrix import CostMatrix
from geofupin.allocate.solve import _solve_highs, solve_divisible_milp, solve_single_source
from geofupin.config.plans import PlansConfig
from geofupin.plans import RoadIndex, _suitable, connect_road


# --------------------------------------------------------------------------- road search through an index
def _roads(n: int, seed: int = 7) -> tuple[list[LineString], list[str], list[str]]:
    rng = np.random.default_rng(seed)
    lines, classes, surfaces = [], [], []
    for _ in range(n):
        x, y = rng.uniform(0, 20_000, 2)
        ang = rng.uniform(0, np.pi)
        length = rng.uniform(200, 2_000)
        lines.append(LineString([(x, y), (x + length * np.cos(ang), y + length * np.sin(ang))]))
        classes.append(str(rng.choice(["county", "township", "village", "track"])))
        surfaces.append(str(rng.choice(["paved", "gravel", "earth"])))
    return lines, classes, surfaces


def test_connect_road_through_the_index_finds_what_a_scan_of_every_road_finds() -> None:
    import geopandas as gpd

    lines, classes, surfaces = _roads(400)
    roads = gpd.GeoDataFrame(
        {"road_id": [f"r{i}" for i in range(len(lines))], "road_class": classes, "surface": surfaces},
        geometry=lines,
        crs=4545,
    )
    cfg = PlansConfig()
    ok = _suitable(roads, cfg)
    good = roads.geometry.to_numpy()[ok]
    bad = roads.geometry.to_numpy()[~ok]
    index = RoadIndex.build(roads, ok)
    rng = np.random.default_rng(3)
    kinds = set()
    for x, y in rng.uniform(0, 20_000, (120, 2)):
        p = Point(x, y)
        link = connect_road(p, roads, cfg, surface="gravel", index=index)
        d_scan = shapely.distance(p, good)  # the scan the index replaces
        nearest = float(d_scan.min())
        kinds.add(link.action)
        if nearest <= cfg.connected_m:
            assert link.action == "none"
            continue
        assert link.action in ("new", "upgrade")
        if link.action == "new":
            assert link.length_m == pytest.approx(nearest, abs=1e-6)  # no DEM: a straight road to the nearest
        else:
            j = np.flatnonzero((roads["road_id"] == link.road_id).to_numpy())[0]
            track = roads.geometry.iloc[j]
            assert not ok[j] and shapely.distance(p, track) <= cfg.upgrade_access_m
            assert shapely.dwithin(track, good, cfg.connect_tol_m).any()  # it meets a suitable road
        # same answer as building the index inside (the single-feature call)
        assert connect_road(p, roads, cfg, surface="gravel") == link
    assert kinds == {"none", "new", "upgrade"}
    assert len(bad) and len(good)


def test_ties_go_to_the_first_road_as_a_scan_would() -> None:
    import geopandas as gpd

    # two suitable roads at exactly the same distance: the first in the layer wins
    roads = gpd.GeoDataFrame(
        {"road_id": ["b", "a"], "road_class": ["county", "county"], "surface": ["paved", "paved"]},
        geometry=[LineString([(0, 1000), (100, 1000)]), LineString([(0, -1000), (100, -1000)])],
        crs=4545,
    )
    index = RoadIndex.build(roads, np.array([True, True]))
    assert index.nearest_good(Point(50, 0)) == (0, 1000.0)


# --------------------------------------------------------------------------- the MILP part by part
def _blocks(k: int, seed: int = 11) -> CostMatrix:
    """k independent counties of 6 units and 3 sites; capacities force a real choice in each."""
    rng = np.random.default_rng(seed)
    n, m = 6 * k, 3 * k
    cost = np.full((n, m), np.inf)
    for b in range(k):
        cost[6 * b : 6 * b + 6, 3 * b : 3 * b + 3] = rng.integers(5, 90, (6, 3)).astype(float)
    demand = rng.integers(20, 60, n)
    capacity = np.tile([120.0, 90.0, 80.0], k)
    return CostMatrix.from_dense(cost, demand, capacity)


def test_parts_give_the_same_optimum_as_one_solve(monkeypatch: pytest.MonkeyPatch) -> None:
    cm = _blocks(4)
    assert cm.components()[0] == 4
    whole = _solve_highs(cm, binary=True, mip_gap=0.0)
    monkeypatch.setattr(solve_mod, "PARTS_MIN_ARCS", 0)
    monkeypatch.setattr(solve_mod, "PARTS_CHUNK_ARCS", 1)  # one model per part
    parts = solve_single_source(cm, mip_gap=0.0)
    assert parts.status == whole.status == "optimal"
    assert parts.objective == pytest.approx(whole.objective, rel=1e-12)
    assert parts.served_persons == whole.served_persons == int(cm.demand.sum())
    assert parts.messages[0].startswith("solved as 4 independent parts")
    # and equal to the sum of the four counties solved on their own
    _, unit_part, site_part = cm.components()
    alone = 0.0
    for k in range(4):
        sub, _ = cm.part(np.flatnonzero(unit_part == k), np.flatnonzero(site_part == k))
        alone += _solve_highs(sub, binary=True, mip_gap=0.0).objective
    assert parts.objective == pytest.approx(alone, rel=1e-12)
    # packed two parts to a model (18 arcs each, up to 40 a model): the same optimum, in 2 models
    monkeypatch.setattr(solve_mod, "PARTS_CHUNK_ARCS", 40)
    packed = solve_single_source(cm, mip_gap=0.0)
    assert "in 2 models" in packed.messages[0]
    assert packed.objective == pytest.approx(whole.objective, rel=1e-12)
    # capacities hold site by site
    load = parts.site_load.set_index("site_id")
    assert (load["assigned_persons"] <= load["capacity_persons"]).all()


def test_parts_keep_unserved_units_and_their_reasons(monkeypatch: pytest.MonkeyPatch) -> None:
    cm = _blocks(3)  # one of them short of capacity by 43 persons
    # a fourth county whose only site is too small for its one unit of 100 persons
    cost = np.full((cm.n_units + 1, cm.n_sites + 1), np.inf)
    for r, c, v in zip(cm.rows, cm.cols, cm.cost, strict=True):
        cost[r, c] = v
    cost[-1, -1] = 10.0
    big = CostMatrix.from_dense(cost, [*cm.demand, 100], [*cm.capacity, 50.0])
    monkeypatch.setattr(solve_mod, "PARTS_MIN_ARCS", 0)
    monkeypatch.setattr(solve_mod, "PARTS_CHUNK_ARCS", 1)  # one model per part
    res = solve_single_source(big, mip_gap=0.0)
    whole = _solve_highs(big, binary=True, mip_gap=0.0)
    assert res.messages[0].startswith("solved as 4 independent parts")
    assert res.unserved_persons == whole.unserved_persons == 143  # the fourth county's 100 and 43 elsewhere
    assert list(res.unserved["unit_id"]) == list(whole.unserved["unit_id"])
    assert big.unit_ids[-1] in set(res.unserved["unit_id"])
    assert res.objective == pytest.approx(whole.objective, rel=1e-12)
    assert sum("cannot be placed" in m for m in res.messages) == 1  # said once, for the whole region
    div = solve_divisible_milp(big, min_occupancy_persons=30, mip_gap=0.0)
    div_whole = _solve_highs(big, binary=False, min_occ=30, mip_gap=0.0)
    assert div.objective == pytest.approx(div_whole.objective, rel=1e-12)
    assert div.served_persons == div_whole.served_persons


# --------------------------------------------------------------------------- isochrone unions in parallel
def test_isochrone_unions_in_threads_equal_the_serial_ones() -> None:
    import geopandas as gpd

    from geofupin.accessibility import isochrones, isochrones_many, nearest
    from geofupin.network import build

    lines, classes, surfaces = _roads(300, seed=2)
    roads = gpd.GeoDataFrame(
        {"road_id": [f"r{i}" for i in range(len(lines))], "road_class": classes, "surface": surfaces},
        geometry=lines,
        crs=4545,
    )
    net, _ = build(roads)
    times = {k: nearest(net, np.array([s]), direction="to_source").time_min for k, s in (("a", 0), ("b", 7), ("c", 40))}
    serial = isochrones_many(net, times, (15, 30, 60), threads=1)
    threaded = isochrones_many(net, times, (15, 30, 60), threads=4)
    for k in times:
        assert [p.wkb for p in serial[k]] == [p.wkb for p in threaded[k]]
        assert [p.wkb for p in isochrones(net, times[k], (15, 30, 60))] == [p.wkb for p in serial[k]]
        areas = [p.area for p in serial[k]]
        assert areas == sorted(areas) and areas[0] > 0  # nested bands
