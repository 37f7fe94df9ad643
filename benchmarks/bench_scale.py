"""Benchmark the two steps issue 17 found growing faster than the data.

1. The plan step's road search (:func:`geofupin.plans.connect_road`): through the
   :class:`~geofupin.plans.RoadIndex` STR-trees against the scan of every road it replaced
   (``shapely.distance`` to all suitable roads, then to all other roads, and the tracks x
   roads ``dwithin`` matrix), on the same random county, N features x M roads with N and M
   growing together (a region tiled k times has k times both).
2. The single-source MILP on k independent counties (no allowed move between them), solved
   whole (one HiGHS model) against part by part (:func:`geofupin.allocate.solve_single_source`).
3. The isochrone unions of 4 facility kinds x 3 bands: one thread against one per core
   (:func:`geofupin.accessibility.isochrones_many`).

Times are medians of ``--repeats`` runs (never best-of). Growth exponents are fitted between
the smallest and the largest size. Usage: ``python benchmarks/bench_scale.py [--quick]``.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import LineString, Point

import geofupin.allocate.solve as solve_mod
from geofupin.allocate.matrix import CostMatrix
from geofupin.config.plans import PlansConfig
from geofupin.plans import RoadIndex, _suitable, connect_road


def median_time(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


# --------------------------------------------------------------------------- 1. road search
def county(k: int, seed: int = 5) -> tuple[gpd.GeoDataFrame, list[Point]]:
    """k tiles of 20 km x 20 km, each with 500 roads and 50 features (sites and villages)."""
    rng = np.random.default_rng(seed)
    side = math.ceil(math.sqrt(k))
    lines, classes, surfaces, pts = [], [], [], []
    for t in range(k):
        ox, oy = (t % side) * 20_000, (t // side) * 20_000
        for _ in range(500):
            x, y = ox + rng.uniform(0, 20_000), oy + rng.uniform(0, 20_000)
            a, n = rng.uniform(0, np.pi), rng.uniform(200, 2_000)
            lines.append(LineString([(x, y), (x + n * np.cos(a), y + n * np.sin(a))]))
            classes.append(str(rng.choice(["county", "township", "village", "track"])))
            surfaces.append(str(rng.choice(["paved", "gravel", "earth"])))
        pts += [Point(ox + x, oy + y) for x, y in rng.uniform(0, 20_000, (50, 2))]
    roads = gpd.GeoDataFrame(
        {"road_id": [f"r{i}" for i in range(len(lines))], "road_class": classes, "surface": surfaces},
        geometry=lines,
        crs=4545,
    )
    return roads, pts


def scan_connect(geom: Any, geoms: np.ndarray, ok: np.ndarray, cfg: PlansConfig) -> tuple[int, list[int]]:
    """The searches connect_road made before the index: every road, every time (the baseline)."""
    good, bad = geoms[ok], geoms[~ok]
    d_good = shapely.distance(geom, good)
    k = int(np.argmin(d_good))
    d_bad = shapely.distance(geom, bad)
    near = np.flatnonzero(d_bad <= cfg.upgrade_access_m)
    meets = shapely.dwithin(bad[near][:, None], good[None, :], cfg.connect_tol_m).any(axis=1) if len(near) else []
    for j in near[meets].tolist() if len(near) else []:
        shapely.dwithin(bad[j], good, cfg.connect_tol_m)  # _stretch's junction search
    return k, near.tolist()


def bench_roads(sizes: list[int], repeats: int) -> None:
    cfg = PlansConfig()
    print("road search (plan step), no DEM: N features x M roads")
    print(f"{'tiles':>5} {'features':>8} {'roads':>7} {'scan s':>8} {'index s':>8} {'scan/index':>10}")
    rows = []
    for k in sizes:
        roads, pts = county(k)
        ok = _suitable(roads, cfg)
        geoms = roads.geometry.to_numpy()

        def indexed(roads: gpd.GeoDataFrame = roads, pts: list[Point] = pts, ok: np.ndarray = ok) -> None:
            index = RoadIndex.build(roads, ok)
            for p in pts:
                connect_road(p, roads, cfg, surface="gravel", index=index)

        def scanned(pts: list[Point] = pts, geoms: np.ndarray = geoms, ok: np.ndarray = ok) -> None:
            for p in pts:
                scan_connect(p, geoms, ok, cfg)

        t_scan, t_idx = median_time(scanned, repeats), median_time(indexed, repeats)
        rows.append((k, t_scan, t_idx))
        print(f"{k:>5} {len(pts):>8} {len(roads):>7} {t_scan:>8.3f} {t_idx:>8.3f} {t_scan / t_idx:>10.1f}")
    (k0, s0, i0), (k1, s1, i1) = rows[0], rows[-1]
    grow = math.log(k1 / k0)
    print(f"growth exponent in size: scan {math.log(s1 / s0) / grow:.2f}, index {math.log(i1 / i0) / grow:.2f}")


# --------------------------------------------------------------------------- 2. MILP by parts
def region(k: int, seed: int = 3) -> CostMatrix:
    """k counties of 60 village groups and 12 sites each; every group reaches 6 sites of its own county."""
    rng = np.random.default_rng(seed)
    rows, cols, vals = [], [], []
    for c in range(k):
        for u in range(60):
            for s in rng.choice(12, 6, replace=False):
                rows.append(60 * c + u)
                cols.append(12 * c + int(s))
                vals.append(float(rng.uniform(10, 200)))
    demand = rng.integers(20, 120, 60 * k)
    capacity = np.full(12 * k, demand.sum() / (12 * k) * 1.15)
    return CostMatrix.from_arcs(
        np.array(rows), np.array(cols), np.array(vals), demand, capacity,
        unit_ids=[f"g{i}" for i in range(60 * k)], site_ids=[f"s{j}" for j in range(12 * k)],
    )  # fmt: skip


def bench_milp(sizes: list[int], repeats: int, time_limit: float) -> None:
    print(f"\nsingle-source MILP, k counties sharing no move (time limit {time_limit:g} s, gap 1 %)")
    print(f"{'counties':>8} {'binaries':>8} {'whole s':>8} {'parts s':>8} {'whole/parts':>11} {'obj parts/whole':>15}")
    rows = []
    for k in sizes:
        cm = region(k)
        res: dict[str, Any] = {}

        def whole(cm: CostMatrix = cm, res: dict[str, Any] = res) -> None:
            res["whole"] = solve_mod._solve_highs(cm, binary=True, time_limit_s=time_limit, mip_gap=0.01)

        def parts(cm: CostMatrix = cm, res: dict[str, Any] = res) -> None:
            res["parts"] = solve_mod.solve_single_source(cm, time_limit_s=time_limit, mip_gap=0.01)

        t_w, t_p = median_time(whole, repeats), median_time(parts, repeats)
        ratio = res["parts"].objective / res["whole"].objective
        rows.append((k, t_w, t_p))
        print(f"{k:>8} {cm.n_arcs:>8} {t_w:>8.2f} {t_p:>8.2f} {t_w / t_p:>11.2f} {ratio:>15.4f}")
        print(f"{'':>8} status whole {res['whole'].status} gap {res['whole'].gap}; parts {res['parts'].status}")
    (k0, w0, p0), (k1, w1, p1) = rows[0], rows[-1]
    grow = math.log(k1 / k0)
    print(f"growth exponent in counties: whole {math.log(w1 / w0) / grow:.2f}, parts {math.log(p1 / p0) / grow:.2f}")


# --------------------------------------------------------------------------- 3. isochrone unions
def lattice(k: int, step: float = 500.0, side_m: float = 20_000.0) -> gpd.GeoDataFrame:
    """A connected grid of township roads over k tiles of 20 km x 20 km (one segment per block side)."""
    side = math.ceil(math.sqrt(k)) * side_m
    xs = np.arange(0.0, side + 1, step)
    segs = [LineString([(x, y), (x + step, y)]) for y in xs for x in xs[:-1]]
    segs += [LineString([(x, y), (x, y + step)]) for x in xs for y in xs[:-1]]
    return gpd.GeoDataFrame(
        {"road_id": [f"g{i}" for i in range(len(segs))], "road_class": "township", "surface": "paved"},
        geometry=segs,
        crs=4545,
    )


def bench_isochrones(k: int, repeats: int) -> None:
    import os

    from geofupin.accessibility import isochrones_many, nearest
    from geofupin.network import build

    roads = lattice(k)
    net, _ = build(roads)
    rng = np.random.default_rng(1)
    times = {
        kind: nearest(net, rng.choice(net.n_nodes, 3, replace=False), direction="to_source").time_min
        for kind in ("school", "clinic", "town", "county_seat")
    }
    cores = os.cpu_count() or 1
    one = median_time(lambda: isochrones_many(net, times, (15, 30, 60), threads=1), repeats)
    many = median_time(lambda: isochrones_many(net, times, (15, 30, 60), threads=cores), repeats)
    print(
        f"\nisochrone unions, {len(roads)} roads, 4 kinds x 3 bands: 1 thread {one:.2f} s, {cores} threads {many:.2f} s"
    )
    print(f"speed-up {one / many:.2f}x on {cores} cores")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    bench_roads([1, 4] if args.quick else [1, 4, 16], args.repeats)
    bench_isochrones(1 if args.quick else 4, args.repeats)
    bench_milp([8, 32] if args.quick else [8, 32, 128], args.repeats, 30.0 if args.quick else 60.0)


if __name__ == "__main__":
    main()
