"""Benchmark geofupin's road graph and accessibility engine against raw scipy and networkx.

Usage::

    python benchmarks/bench_access.py            # 50k-node grid + the OSM extracts (a few minutes)
    python benchmarks/bench_access.py --quick    # 10k-node grid, fewer repeats
    python benchmarks/bench_access.py --large    # also the 500k-node grid (several minutes, ~4 GB)

A road-like network is a perturbed grid (100 m spacing, 8 % of links missing, classes
national/county/village by row and column, 2 % one-way) given as LineStrings of 3-8 links
that share vertices at junctions. In one process it times:

* graph build from lines (``network.build``) vs reading the same lines from a GeoPackage,
  also with the piece LineStrings made (``build`` defers them to their first use);
* nearest facility (50 facilities, all nodes): geofupin ``nearest`` vs raw
  ``scipy.sparse.csgraph.dijkstra(min_only=True)`` on the same CSR vs networkx
  ``multi_source_dijkstra_path_length``;
* OD 3,000 x 300 with a 30 min cut-off: geofupin ``od_matrix`` vs raw scipy chunked;
* the OSM extracts in ../shared/data (skipped when absent): import, build, size, components,
  and build with the slope penalty on their SRTM3 DEM.

The ratios are printed last. Goals (issue 3): nearest <= 1.5x raw scipy and >= 15x faster than
networkx; OD <= 1.3x raw scipy chunked; build comparable to reading.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import shapely
from scipy.sparse.csgraph import dijkstra

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geofupin.accessibility import nearest, od_matrix  # noqa: E402
from geofupin.config.access import AccessConfig  # noqa: E402
from geofupin.network import build, dem_sampler  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Best wall time of ``repeat`` runs and the last result."""
    times = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def interleaved(fns: dict[str, Callable[[], Any]], repeat: int) -> dict[str, tuple[float, Any]]:
    """Best wall time of each function over ``repeat`` rounds, run round-robin so that the
    load of a shared machine falls on all of them alike."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    outs: dict[str, Any] = {}
    for _ in range(repeat):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            outs[k] = fn()
            times[k].append(time.perf_counter() - t0)
    return {k: (min(v), outs[k]) for k, v in times.items()}


def grid_roads(n_nodes: int, seed: int = 0) -> gpd.GeoDataFrame:
    """A perturbed grid of about ``n_nodes`` junctions as road LineStrings (vectorised)."""
    rng = np.random.default_rng(seed)
    k = int(np.sqrt(n_nodes))
    xs, ys = np.meshgrid(np.arange(k) * 100.0, np.arange(k) * 100.0)
    xy = np.stack([xs.ravel(), ys.ravel()], 1) + rng.uniform(-30, 30, (k * k, 2))
    node = np.arange(k * k).reshape(k, k)
    lines = []
    classes = []
    for horizontal in (True, False):
        grid = node if horizontal else node.T
        # each row (column) cut into runs of 3-8 links
        for r in range(k):
            ids = grid[r]
            cls = "national" if r % 50 == 25 else "county" if r % 10 == 5 else "village"
            cuts = np.cumsum(rng.integers(3, 9, k))
            cuts = cuts[cuts < k - 1]
            starts = np.r_[0, cuts]
            ends = np.r_[cuts, k - 1]
            for a, b in zip(starts, ends, strict=True):
                lines.append(ids[a : b + 1])
                classes.append(cls)
    keep = rng.random(len(lines)) > 0.08
    counts = np.array([len(s) for s in lines])[keep]
    flat = np.concatenate([s for s, kp in zip(lines, keep, strict=True) if kp])
    geoms = shapely.linestrings(xy[flat], indices=np.repeat(np.arange(len(counts)), counts))
    cls = np.asarray(classes, dtype=object)[keep]
    return gpd.GeoDataFrame(
        {
            "road_id": np.arange(len(geoms)).astype(str),
            "road_class": cls,
            "oneway": rng.random(len(geoms)) < 0.02,
            "surface": np.where(rng.random(len(geoms)) < 0.2, "gravel", "paved"),
        },
        geometry=geoms,
        crs="EPSG:32649",
    )


def raw_od(graph: Any, src: np.ndarray, dst: np.ndarray, cutoff: float, chunk: int) -> np.ndarray:
    out = np.empty((len(src), len(dst)))
    for s in range(0, len(src), chunk):
        out[s : s + chunk] = dijkstra(graph, indices=src[s : s + chunk], limit=cutoff)[:, dst]
    return out


def bench_grid(n_nodes: int, repeat: int, ratios: list[str], *, with_nx: bool = True) -> None:
    print(f"\n== perturbed grid, target {n_nodes:,} nodes ==")
    roads = grid_roads(n_nodes)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "roads.gpkg"
        roads.to_file(path, layer="roads", engine="pyogrio")
        r = interleaved(
            {
                "read": lambda: gpd.read_file(path, layer="roads", engine="pyogrio"),
                "build": lambda: build(roads),
                # the piece LineStrings are made on first use (snapping, isochrones): time them too
                "build_geom": lambda: build(roads)[0].piece_geometry,
            },
            repeat,
        )
    (t_read, _), (t_build, (net, _)), (t_geom, _) = r["read"], r["build"], r["build_geom"]
    s = net.summary()
    print(f"lines {len(roads):,}; graph {s['nodes']:,} nodes, {s['edges']:,} edges, {s['components']} components")
    print(f"read GPKG {t_read:.2f} s   build graph {t_build:.2f} s   build + piece LineStrings {t_geom:.2f} s")
    rng = np.random.default_rng(1)
    n = net.n_nodes
    fac = rng.choice(n, 50, replace=False)
    rev = net.reverse
    r = interleaved(
        {
            "raw": lambda: dijkstra(rev, indices=fac, min_only=True),
            "geo": lambda: nearest(net, fac, with_dist=False),
            "geod": lambda: nearest(net, fac),
        },
        repeat + 2,
    )
    (t_raw, raw), (t_geo, res), (t_geod, resd) = r["raw"], r["geo"], r["geod"]
    assert np.allclose(raw, res.time_min, equal_nan=True) and np.allclose(raw, resd.time_min, equal_nan=True)
    print(
        f"nearest facility (50 facilities, all nodes): raw scipy {t_raw:.3f} s, geofupin {t_geo:.3f} s, "
        f"geofupin with distances {t_geod:.3f} s"
    )
    t_nx = np.nan
    if with_nx:
        g = nx.DiGraph()
        g.add_weighted_edges_from(
            zip(net.edge_v.tolist(), net.edge_u.tolist(), net.edge_time_min.tolist(), strict=True), weight="w"
        )
        t_nx, d = best(lambda: nx.multi_source_dijkstra_path_length(g, set(fac.tolist()), weight="w"), 1)
        check = np.array([d.get(i, np.inf) for i in range(n)])
        assert np.allclose(check, res.time_min)
        print(f"networkx multi_source_dijkstra {t_nx:.3f} s")
    o = rng.choice(n, 3000, replace=False)
    dst = rng.choice(n, 300, replace=False)
    cutoff = 30.0
    chunk = max(1, int(256 * 2**20 // (n * 8 + 1)))
    r = interleaved(
        {
            "raw": lambda: raw_od(rev, dst, o, cutoff, chunk).T,
            "geo": lambda: od_matrix(net, o, dst, cutoff_min=cutoff, with_dist=False),
            "geod": lambda: od_matrix(net, o, dst, cutoff_min=cutoff),
        },
        max(1, repeat - 1),
    )
    (t_rawod, rawod), (t_od, od), (t_odd, _) = r["raw"], r["geo"], r["geod"]
    assert np.array_equal(np.isfinite(rawod), np.isfinite(od.time_min))
    assert np.allclose(rawod[np.isfinite(rawod)], od.time_min[np.isfinite(rawod)])
    print(
        f"OD 3,000 x 300 (cut-off {cutoff:g} min, {np.isfinite(od.time_min).mean():.0%} pairs within): "
        f"raw scipy chunked {t_rawod:.2f} s, geofupin {t_od:.2f} s, geofupin with distances {t_odd:.2f} s"
    )
    tag = f"{s['nodes'] // 1000}k"
    ratios.append(
        f"[{tag}] nearest: geofupin / raw scipy = {t_geo / t_raw:.2f}x (with distances {t_geod / t_raw:.2f}x)"
    )
    if with_nx:
        ratios.append(
            f"[{tag}] nearest: networkx / geofupin = {t_nx / t_geo:.1f}x faster (with distances {t_nx / t_geod:.1f}x)"
        )
    ratios.append(
        f"[{tag}] OD 3000x300: geofupin / raw scipy chunked = {t_od / t_rawod:.2f}x "
        f"(with distances {t_odd / t_rawod:.2f}x)"
    )
    ratios.append(
        f"[{tag}] build graph / read GPKG = {t_build / t_read:.2f}x "
        f"(with the piece LineStrings made {t_geom / t_read:.2f}x)"
    )


def bench_osm(ratios: list[str]) -> None:
    from geofupin.osm import import_osm

    for name, rel in (
        ("andorra", "andorra/andorra.osm.pbf"),
        ("north-bayreuth", "north-bayreuth/north-bayreuth.osm.pbf"),
    ):
        dem = SHARED / rel.replace(".osm.pbf", "_srtm3.tif")
        p = SHARED / rel
        if not p.is_file():
            print(f"\n(skip {name}: {p} absent)")
            continue
        t_imp, layers = best(lambda p=p: import_osm(p), 2)
        t_build, (net, _) = best(lambda layers=layers: build(layers["roads"]), 2)
        s = net.summary()
        fac = np.arange(0, net.n_nodes, max(1, net.n_nodes // 20))
        t_near, _ = best(lambda net=net, fac=fac: nearest(net, fac), 3)
        print(f"\n== OSM {name} (© OpenStreetMap contributors, ODbL) ==")
        print(
            f"import {t_imp:.2f} s ({len(layers['roads'])} road ways); build {t_build:.2f} s: {s['nodes']} nodes, "
            f"{s['pieces']} pieces, {s['edges']} directed edges, {s['road_length_km']:.0f} km, "
            f"{s['components']} components, {s['share_length_outside_main']:.1%} of length outside the main one; "
            f"nearest (20 sources) {t_near * 1000:.1f} ms"
        )
        ratios.append(
            f"[osm {name}] build / import = {t_build / t_imp:.2f}x; {s['pieces']} pieces, {s['components']} components"
        )
        if dem.is_file():  # the slope penalty: grades sampled along tracks and paths at the DEM cell size
            el = dem_sampler(dem, layers["roads"].crs)
            cfg = AccessConfig(slope_penalty=True, node_intersections=False)
            roads = layers["roads"]
            t_slope, (_, rep) = best(lambda roads=roads, el=el, cfg=cfg: build(roads, config=cfg, elevation=el), 2)
            print(
                f"build with slope penalty {t_slope:.2f} s ({rep.slope_applied_pieces} track/path pieces, "
                f"DEM cell {el.cell_size_m:.0f} m)"
            )
            ratios.append(f"[osm {name}] build with slope penalty / build = {t_slope / t_build:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10k-node grid, fewer repeats")
    ap.add_argument("--large", action="store_true", help="also the 500k-node grid (minutes)")
    args = ap.parse_args()
    ratios: list[str] = []
    if args.quick:
        bench_grid(10_000, 2, ratios)
    else:
        bench_grid(50_000, 3, ratios)
    if args.large:
        bench_grid(500_000, 3, ratios, with_nx=True)
    bench_osm(ratios)
    print("\n== ratios ==")
    for r in ratios:
        print(r)


if __name__ == "__main__":
    main()
