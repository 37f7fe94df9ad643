"""The plan step's road search, made cheaper, gives what it gave before, to the last bit.

- a village point's source cell is found by arithmetic instead of ``rasterio.features.rasterize``:
  the same cell as rasterize, which still decides for points within a millionth of a cell of an edge;
- a site or village that sits on a track meeting a suitable road always takes the track's upgrade, so
  its new road is no longer searched (about half the demo's searches); every other link is chosen as
  before: on the demo, each link equals :func:`reference_connect_road` (the new road searched first);
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from rasterio.features import rasterize
from rasterio.transform import Affine
from shapely.geometry import LineString

import geofupin.plans as plans
from geofupin.config.plans import PlansConfig, UnitCosts
from geofupin.plans import RoadIndex, RoadLink, _burn, _new_road, _stretch, _suitable, connect_road
from geofupin.routing import DemSource, DemWindow


# --------------------------------------------------------------------------- a point's source cell
@pytest.mark.parametrize("cell", [30.0, 32.85980210760509, 45.0])
def test_point_cell_is_the_rasterized_cell(cell: float) -> None:
    """Random points inside, outside, on and a hair off cell edges: the cell rasterize burns, every time."""
    rng = np.random.default_rng(int(cell * 1000))
    for trial in range(600):
        x0 = math.floor(rng.uniform(5e5, 6e5) / cell) * cell
        y1 = math.floor(rng.uniform(4.0e6, 4.1e6) / cell) * cell
        h, w = (int(v) for v in rng.integers(1, 40, size=2))
        fx, fy = rng.uniform(-2, w + 2), rng.uniform(-2, h + 2)
        if trial % 4 == 0:
            fx = float(rng.integers(-1, w + 2)) + rng.choice([0.0, 1e-9, -1e-9, 1e-5])
        if trial % 6 == 0:
            fy = float(rng.integers(-1, h + 2)) + rng.choice([0.0, 1e-9, -1e-9, 1e-5])
        p = shapely.Point(x0 + fx * cell, y1 - fy * cell)
        win = DemWindow(np.zeros((h, w)), x0, y1, cell)
        want = rasterize(
            [(p, 1)], out_shape=(h, w), transform=Affine(cell, 0, x0, 0, -cell, y1), all_touched=False, dtype="uint8"
        ).astype(bool)
        np.testing.assert_array_equal(_burn([p], win, (h, w), interior=True), want, err_msg=str((fx, fy)))


def test_point_cell_by_hand() -> None:
    win = DemWindow(np.zeros((3, 4)), 100.0, 200.0, 10.0)
    got = _burn([shapely.Point(125.0, 185.0)], win, (3, 4), interior=True)  # column 2, row 1
    assert np.argwhere(got).tolist() == [[1, 2]]
    assert not _burn([shapely.Point(95.0, 185.0)], win, (3, 4), interior=True).any()  # west of the window
    assert not _burn([shapely.Point(125.0, 165.0)], win, (3, 4), interior=True).any()  # south of the window


# --------------------------------------------------------------------------- the upgrade decided first
def reference_connect_road(geom, roads, cfg, *, surface, dem, crs, index) -> RoadLink:
    """connect_road as it was: the new road searched first, then the tracks' upgrades against it."""
    costs = cfg.unit_costs
    per_m = (costs.cement_road_yuan_per_km if surface == "paved" else costs.gravel_road_yuan_per_km) / 1000
    good = index.good
    k, dist = index.nearest_good(geom)
    if dist <= cfg.connected_m:
        return RoadLink("none", "none", 0.0, surface, 0.0, None)
    new = _new_road(geom, index, good[k], dist, cfg, dem, crs) if dist <= cfg.search_radius_m else None
    if new is None:
        line = shapely.shortest_line(geom, good[k])
        best = RoadLink("new", "straight_line", float(line.length), surface, float(line.length) * per_m, line)
    else:
        best = RoadLink("new", "least_cost", new[1], surface, new[1] * per_m, new[0])
    bad, bad_idx = index.bad, index.bad_idx
    near = index.bad_within(geom, cfg.upgrade_access_m) if len(bad_idx) else np.array([], dtype=int)
    options = []
    for j in near.tolist():
        if not len(index.good_within(bad[j], cfg.connect_tol_m)):
            continue
        seg = _stretch(bad[j], geom, index, cfg.connect_tol_m)
        spur = float(shapely.distance(geom, bad[j]))
        cost = seg.length * costs.upgrade_to_cement_yuan_per_km / 1000 + spur * per_m
        options.append((spur > cfg.connected_m, cost, j, seg, spur))
    if options:
        not_on, cost, j, seg, spur = min(options, key=lambda o: (o[0], o[1]))
        if not not_on or cost < best.cost_yuan:
            rid = str(roads.iloc[bad_idx[j]].get("road_id", bad_idx[j]))
            best = RoadLink("upgrade", "existing_road", seg.length + spur, "paved", cost, seg, rid)
    return best


def test_a_village_on_a_track_takes_the_upgrade_without_a_road_search(monkeypatch) -> None:
    crs = "EPSG:32649"
    roads = gpd.GeoDataFrame(
        {"road_id": ["main", "track"], "road_class": ["county", "track"], "surface": ["paved", "earth"]},
        geometry=[LineString([(1000, -500), (1000, 500)]), LineString([(-500, 0), (1000, 0)])],
        crs=crs,
    )
    searched = []

    def no_search(*args, **kwargs):
        searched.append(args[0])
        return None  # as a search that found no path: the straight line

    monkeypatch.setattr(plans, "_new_road", no_search)
    dear = PlansConfig(unit_costs=UnitCosts(upgrade_to_cement_yuan_per_km=2_000_000))
    # 20 m from the track (within connected_m = 50): the track from x = 0 to the junction, 1,000 m, plus the spur
    link = connect_road(shapely.Point(0, 20), roads, dear, surface="gravel", dem=Path("unused.tif"), crs=roads.crs)
    assert link.action == "upgrade" and link.road_id == "track"
    assert link.cost_yuan == pytest.approx(1000 * 2000 + 20 * 300)
    assert searched == []
    # 100 m off the track: the new road is searched; 1,000 m of gravel is cheaper than the upgrade (2,030,000)
    link = connect_road(shapely.Point(0, 100), roads, dear, surface="gravel", dem=Path("unused.tif"), crs=roads.crs)
    assert len(searched) == 1
    assert link.action == "new" and link.method == "straight_line"
    assert link.cost_yuan == pytest.approx(math.hypot(1000, 0) * 300)  # 1,000 m of gravel < 2,000,000 + 30,000
    cheap = PlansConfig(unit_costs=UnitCosts(upgrade_to_cement_yuan_per_km=100_000))
    link = connect_road(shapely.Point(0, 100), roads, cheap, surface="gravel", dem=Path("unused.tif"), crs=roads.crs)
    assert len(searched) == 2
    assert link.action == "upgrade" and link.cost_yuan == pytest.approx(1000 * 100 + 100 * 300)


def test_demo_links_equal_the_new_road_first_links(demo_layers) -> None:
    """Every demo village farther than village_access_m from a suitable road: the same link as before."""
    v = gpd.read_file(demo_layers / "villages.gpkg")
    roads = gpd.read_file(demo_layers / "roads.gpkg")
    cfg = PlansConfig()
    index = RoadIndex.build(roads, _suitable(roads, cfg))
    d = np.array([index.nearest_good(g)[1] for g in v.geometry])
    far = v.geometry.to_numpy()[np.flatnonzero(d > cfg.village_access_m)]
    assert len(far) > 40
    kinds = []
    with DemSource(demo_layers / "dem.tif", v.crs) as src:
        for g in far:
            new = connect_road(g, roads, cfg, surface="gravel", dem=src, crs=v.crs, index=index)
            old = reference_connect_road(g, roads, cfg, surface="gravel", dem=src, crs=v.crs, index=index)
            assert (new.action, new.method, new.length_m, new.cost_yuan, new.surface, new.road_id) == (
                old.action,
                old.method,
                old.length_m,
                old.cost_yuan,
                old.surface,
                old.road_id,
            )
            assert shapely.equals_exact(new.geometry, old.geometry, tolerance=0)
            kinds.append((new.action, new.method))
    # both kinds occur: upgrades of tracks the village sits on, and least-cost new roads
    assert kinds.count(("upgrade", "existing_road")) >= 10 and kinds.count(("new", "least_cost")) >= 10, kinds
