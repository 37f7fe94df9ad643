"""Benchmark the least-cost road search of :mod:`geofupin.routing`.

Baseline: networkx Dijkstra on the same 8-neighbour grid graph (built from the same CSR
matrix), run in the same process. Candidate: :func:`geofupin.routing.least_cost_path`
(scipy.sparse.csgraph Dijkstra from all source cells at once, path traced back).

Usage: ``python benchmarks/bench_plans.py [--quick]``; the last lines are the ratios.
"""

from __future__ import annotations

import argparse
import time

import networkx as nx
import numpy as np

from geofupin.routing import grid_graph, least_cost_path, slope_cost
from geofupin.terrain import horn_slope_deg


def surface(n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z = np.zeros((n, n))
    for k in (4, 8, 16, 32):
        coarse = rng.normal(0, 60 / k, size=(k + 1, k + 1))
        idx = np.linspace(0, k, n)
        z += coarse[np.ix_(idx.astype(int), idx.astype(int))]
    return z


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n = 150 if args.quick else 350
    z = surface(n)
    factor = slope_cost(horn_slope_deg(z, xres_m=30, yres_m=30), max_slope_pct=100)
    src = np.zeros(factor.shape, dtype=bool)
    tgt = np.zeros_like(src)
    src[n // 2, 2] = True
    factor[src] = 1.0
    tgt[:, -1] = True
    t = time.perf_counter()
    path = least_cost_path(factor, src, tgt, xres_m=30, yres_m=30)
    t_scipy = time.perf_counter() - t
    t = time.perf_counter()
    coo = grid_graph(factor, xres_m=30, yres_m=30).tocoo()
    g = nx.Graph()
    g.add_weighted_edges_from(zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(), strict=True))
    dist = nx.single_source_dijkstra_path_length(g, int(np.flatnonzero(src.ravel())[0]))
    best = min(dist.get(int(i), np.inf) for i in np.flatnonzero(tgt.ravel()))
    t_nx = time.perf_counter() - t
    assert abs(best - path.cost) < 1e-6 * max(1.0, best), (best, path.cost)
    print(f"grid {n}x{n} ({n * n} cells), path {path.length_m:.0f} m, cost {path.cost:.0f}")
    print(f"networkx baseline: {t_nx:.3f} s; geofupin.routing.least_cost_path: {t_scipy:.3f} s")
    print(f"ratio networkx/least_cost_path: {t_nx / t_scipy:.1f}x")


if __name__ == "__main__":
    main()
