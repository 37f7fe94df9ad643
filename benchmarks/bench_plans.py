"""Benchmark the plan step and the least-cost road search of :mod:`geofupin.routing`.

Default (the road search): networkx Dijkstra on the same 8-neighbour grid graph (built from the
same CSR matrix), run in the same process, against :func:`geofupin.routing.least_cost_path`
(scipy.sparse.csgraph Dijkstra from all source cells at once, path traced back).

``--step``: the whole ``plan`` step (:func:`geofupin.report.plan_step`: budgets and every option's
total, site and village road plans over the DEM, disbursement, the township table) of this tree
against a reference revision (default ``322ae4f``, the code before the plan step was made faster;
checked out with ``git worktree add``), on the demo county (``1x``) and on bench_county's 2x2 tile
of it as one county (``4x``). Each tree first runs the steps before ``plan`` (access, site,
allocate) once and keeps their results; then each timed run is a fresh process that times ONE
``plan_step`` call on them, alternating reference / new, ``--repeats`` times each. Medians of wall
and CPU seconds are printed with the ratio new / reference and the load average (the machine may
be shared). The two trees' step results (every table, every layer's attributes and geometry, the
summary and the warnings) are compared exactly; any difference fails the run.

Usage::

    python benchmarks/bench_plans.py [--quick]                # the road search
    python benchmarks/bench_plans.py --step --sizes 1,4 --repeats 3 [--ref 322ae4f]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


# --------------------------------------------------------------------------- the whole plan step
#: Run in a fresh process with ``PYTHONPATH`` = a tree: ``prep SCENARIO CTX`` runs the steps before ``plan``
#: and pickles their context; ``time CTX RESULT`` times one ``plan_step`` on it (printing wall and CPU seconds)
#: and pickles its result.
WORKER = r"""
import dataclasses, pickle, sys, time
mode, a, b = sys.argv[1:4]
if mode == "prep":
    from geofupin import pipeline, scenario
    sc = scenario.load(a)
    sc = dataclasses.replace(sc, outputs=dataclasses.replace(sc.outputs, tables=("csv",), static_maps=(), document=()))
    out = pipeline.run(sc, steps=["access", "site", "allocate"])
    with open(b, "wb") as f:
        pickle.dump(out.ctx, f)
else:
    import rasterio, rasterio.features, rasterio.vrt, scipy.sparse.csgraph  # imported by the earlier steps of a run
    from geofupin.report import plan_step
    with open(a, "rb") as f:
        ctx = pickle.load(f)
    t, c = time.perf_counter(), time.process_time()
    res = plan_step(ctx)
    print(time.perf_counter() - t, time.process_time() - c)
    with open(b, "wb") as f:
        pickle.dump(res, f)
"""


def _worker(tree: Path, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    proc = subprocess.run(
        [sys.executable, "-c", WORKER, *args], env=env, cwd=tree, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"plan step failed in {tree}:\n{proc.stderr[-3000:]}")
    return proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover
        return "?"


def step_differences(ref_pickle: Path, new_pickle: Path) -> list[str]:
    """Every table, layer (attributes and geometry as WKB), the summary and warnings of two plan step results."""
    import pickle

    import pandas as pd

    with open(ref_pickle, "rb") as f:
        a = pickle.load(f)
    with open(new_pickle, "rb") as f:
        b = pickle.load(f)
    problems = []
    if list(a.tables) != list(b.tables):
        problems.append(f"tables {list(a.tables)} != {list(b.tables)}")
    for k in set(a.tables) & set(b.tables):
        try:
            pd.testing.assert_frame_equal(a.tables[k], b.tables[k], check_exact=True)
        except AssertionError as e:
            problems.append(f"table {k}: {str(e)[:300]}")
    if list(a.layers) != list(b.layers):
        problems.append(f"layers {list(a.layers)} != {list(b.layers)}")
    for k in set(a.layers) & set(b.layers):
        la, lb = a.layers[k], b.layers[k]
        try:
            pd.testing.assert_frame_equal(
                pd.DataFrame(la).assign(geometry=la.geometry.to_wkb()),
                pd.DataFrame(lb).assign(geometry=lb.geometry.to_wkb()),
                check_exact=True,
            )
            assert la.crs == lb.crs, "crs"
        except AssertionError as e:
            problems.append(f"layer {k}: {str(e)[:300]}")
    if a.summary != b.summary:
        keys = sorted(k for k in set(a.summary) | set(b.summary) if a.summary.get(k) != b.summary.get(k))
        problems.append(f"summary differs: {keys}")
    if a.warnings != b.warnings:
        problems.append("warnings differ")
    return problems


def bench_step(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_county import REPO, four_tile_scenario, reference_tree

    cache = args.cache
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-plans-"))
    print(f"load average before: {_load()}", flush=True)
    failed = False
    results: dict[str, dict[str, list[tuple[float, float]]]] = {}
    try:
        trees = {"ref": reference_tree(args.ref, work), "new": REPO}
        for size in args.sizes.split(","):
            if size not in ("1", "4"):
                raise SystemExit(f"--sizes takes 1 and 4, not {size}")
            tile = four_tile_scenario(cache) if size == "4" else None
            runs: dict[str, list[tuple[float, float]]] = {"ref": [], "new": []}
            # the same scenario file (this tree's) for both trees: the same inputs, the same policy file
            scen = tile if tile is not None else REPO / "scenarios" / "demo.yaml"
            for label, tree in trees.items():
                _worker(tree, "prep", str(scen), str(work / f"{size}x-{label}.ctx"))
            for i in range(args.repeats):
                for label, tree in trees.items():  # alternating
                    line = _worker(tree, "time", str(work / f"{size}x-{label}.ctx"), str(work / f"{size}x-{label}.res"))
                    wall, cpu = (float(x) for x in line.split())
                    runs[label].append((wall, cpu))
                    print(
                        f"  {size}x {label} run {i + 1}/{args.repeats}: plan step wall {wall:5.2f} s,"
                        f" cpu {cpu:5.2f} s; load {_load()}",
                        flush=True,
                    )
            problems = step_differences(work / f"{size}x-ref.res", work / f"{size}x-new.res")
            print(f"  {size}x results: " + ("identical" if not problems else "DIFFER:\n    " + "\n    ".join(problems)))
            failed |= bool(problems)
            results[f"{size}x"] = runs
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(work / f"ref-{args.ref}")])
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nplan step, medians of {args.repeats} runs; reference {args.ref}; load {_load()}")
    print(f"{'':6} {'':5} {'reference':>10} {'new':>10} {'new/ref':>8} {'ref/new':>8}")
    for size, runs in results.items():
        for j, what in enumerate(("wall_s", "cpu_s")):
            a = statistics.median(r[j] for r in runs["ref"])
            b = statistics.median(r[j] for r in runs["new"])
            print(f"{size:6} {what:5} {a:10.2f} {b:10.2f} {b / a:8.2f} {a / b:8.1f}")
    if failed:
        raise SystemExit(1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="road search: a 150 x 150 grid instead of 350 x 350")
    ap.add_argument("--step", action="store_true", help="the whole plan step, this tree against --ref")
    ap.add_argument("--ref", default="322ae4f", help="--step: reference git revision (default 322ae4f)")
    ap.add_argument("--sizes", default="1,4", help="--step: 1 (the demo county) and/or 4 (2x2 tiles as one county)")
    ap.add_argument("--repeats", type=int, default=3, help="--step: timed runs per tree and size (medians)")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "geofupin-bench-plans",
                    help="--step: where the 4x tile is built (kept between runs)")  # fmt: skip
    args = ap.parse_args()
    if args.step:
        bench_step(args)
        return
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
