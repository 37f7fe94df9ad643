"""Benchmark of geofupin.allocate against baselines measured in the same run.

1. Transportation 3,000 villages x 300 sites (dense, and pruned to the k = 20 nearest):
   geofupin ``solve_flow`` vs raw OR-Tools ``SimpleMinCostFlow`` on the same arcs vs
   ``scipy.optimize.linprog(method='highs')``; all three must reach the same optimum.
2. p-median 1,000 x 100, p = 10 (uncapacitated, whole villages): geofupin ``solve_p_median``
   vs a direct HiGHS model (highspy) vs spopt ``PMedian`` with CBC (spopt + pulp are a
   benchmark extra; skipped with a note when not installed).
3. Whole-village single-sourcing MILP 500 x 50 with tight capacity: solved to a reported gap
   within a time limit.

Usage: ``python benchmarks/bench_allocate.py [--quick]``. The ratios are printed last.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geofupin.allocate import CostMatrix, solve_flow, solve_p_median, solve_single_source


def instance(n: int, m: int, seed: int, *, cap_ratio: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Villages and sites in a 100 km square; cost = minutes at 30 km/h rounded to 0.01."""
    rng = np.random.default_rng(seed)
    v, s = rng.uniform(0, 100_000, (n, 2)), rng.uniform(0, 100_000, (m, 2))
    cost = np.round(np.linalg.norm(v[:, None] - s[None], axis=2) / 500.0, 2)
    demand = rng.integers(20, 300, n)
    w = rng.uniform(0.5, 1.5, m)
    cap = np.floor(w / w.sum() * demand.sum() * cap_ratio) + 1
    return cost, demand, cap


def timed(f, repeat: int = 1):  # type: ignore[no-untyped-def]
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t0)
    return best, out


def raw_ortools(rows: np.ndarray, cols: np.ndarray, cost: np.ndarray, demand: np.ndarray, cap: np.ndarray) -> float:
    from ortools.graph.python import min_cost_flow

    n, m = len(demand), len(cap)
    sink = n + m
    smcf = min_cost_flow.SimpleMinCostFlow()
    tails = np.concatenate([rows, n + np.arange(m)]).astype(np.int32)
    heads = np.concatenate([n + cols, np.full(m, sink)]).astype(np.int32)
    caps = np.concatenate([demand[rows], cap.astype(np.int64)]).astype(np.int64)
    costs = np.concatenate([np.rint(cost * 100).astype(np.int64), np.zeros(m, np.int64)])
    smcf.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    sup = np.zeros(n + m + 1, np.int64)
    sup[:n] = demand
    sup[sink] = -demand.sum()
    smcf.set_nodes_supplies(np.arange(n + m + 1, dtype=np.int32), sup)
    assert smcf.solve() == smcf.OPTIMAL
    flows = smcf.flows(np.arange(len(rows)))
    return float(np.dot(flows, cost))


def scipy_linprog(rows: np.ndarray, cols: np.ndarray, cost: np.ndarray, demand: np.ndarray, cap: np.ndarray) -> float:
    from scipy.optimize import linprog

    n, m, a = len(demand), len(cap), len(rows)
    a_eq = sp.csr_matrix((np.ones(a), (rows, np.arange(a))), shape=(n, a))
    a_ub = sp.csr_matrix((np.ones(a), (cols, np.arange(a))), shape=(m, a))
    res = linprog(cost, A_ub=a_ub, b_ub=cap, A_eq=a_eq, b_eq=demand, bounds=(0, None), method="highs")
    assert res.status == 0, res.message
    return float(res.fun)


def direct_highs_pmedian(cost: np.ndarray, demand: np.ndarray, p: int) -> float:
    """Textbook p-median for HiGHS: x_ij continuous, y_j binary, x_ij <= y_j, sum y = p."""
    import highspy

    n, m = cost.shape
    nx = n * m
    ii, jj = np.divmod(np.arange(nx), m)
    r = np.concatenate([ii, n + np.arange(nx), n + np.arange(nx), np.full(m, n + nx)])
    c = np.concatenate([np.arange(nx), np.arange(nx), nx + jj, nx + np.arange(m)])
    v = np.concatenate([np.ones(nx), np.ones(nx), -np.ones(nx), np.ones(m)])
    mat = sp.csc_matrix((v, (r, c)), shape=(n + nx + 1, nx + m))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = nx + m, n + nx + 1
    lp.col_cost_ = np.concatenate([(demand[:, None] * cost).ravel(), np.zeros(m)])
    lp.col_lower_ = np.zeros(nx + m)
    lp.col_upper_ = np.ones(nx + m)
    lp.row_lower_ = np.concatenate([np.ones(n), np.full(nx, -np.inf), [p]])
    lp.row_upper_ = np.concatenate([np.ones(n), np.zeros(nx), [p]])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = mat.indptr, mat.indices, mat.data
    lp.integrality_ = [highspy.HighsVarType.kContinuous] * nx + [highspy.HighsVarType.kInteger] * m
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.passModel(lp)
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    return float(h.getInfo().objective_function_value)


def spopt_pmedian(cost: np.ndarray, demand: np.ndarray, p: int) -> float | None:
    try:
        import pulp
        from spopt.locate import PMedian
    except ImportError:
        print("  spopt/pulp not installed (pip install spopt pulp): spopt baseline skipped")
        return None
    model = PMedian.from_cost_matrix(cost, demand, p_facilities=p)
    model = model.solve(pulp.PULP_CBC_CMD(msg=False, gapRel=0.0))
    return float(pulp.value(model.problem.objective))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    args = ap.parse_args()
    q = args.quick
    ratios: list[str] = []

    # 1. transportation ---------------------------------------------------------
    n, m, k = (600, 60, 20) if q else (3000, 300, 20)
    cost, demand, cap = instance(n, m, 1, cap_ratio=1.15)
    for label, kn in (("dense", None), (f"k={k} nearest", k)):
        cm = CostMatrix.from_dense(cost, demand, cap)
        if kn is not None:
            keep = np.zeros(cm.n_arcs, bool)
            starts = cm.row_starts()
            rank = np.arange(cm.n_arcs) - np.repeat(starts[:-1], np.diff(starts))  # arcs sorted by cost
            keep = rank < kn
            cm = CostMatrix.from_arcs(
                cm.rows[keep], cm.cols[keep], cm.cost[keep], demand, cap, unit_ids=cm.unit_ids, site_ids=cm.site_ids
            )
        print(f"transportation {n} x {m} {label}: {cm.n_arcs} arcs")
        t_geo, alloc = timed(lambda cm=cm: solve_flow(cm), repeat=2)
        t_raw, obj_raw = timed(lambda cm=cm: raw_ortools(cm.rows, cm.cols, cm.cost, demand, cap), repeat=2)
        t_lp, obj_lp = timed(lambda cm=cm: scipy_linprog(cm.rows, cm.cols, cm.cost, demand, cap))
        same = abs(alloc.objective - obj_lp) <= 1e-6 * obj_lp and abs(obj_raw - obj_lp) <= 1e-6 * obj_lp
        print(
            f"  geofupin {t_geo:.3f} s (obj {alloc.objective:.2f}, unserved {alloc.unserved_persons}); "
            f"raw OR-Tools {t_raw:.3f} s (obj {obj_raw:.2f}); scipy linprog HiGHS {t_lp:.3f} s (obj {obj_lp:.2f}); "
            f"same optimum: {same}"
        )
        ratios.append(f"transport {label}: geofupin / raw OR-Tools = {t_geo / t_raw:.2f}x (target <= 1.5)")
        ratios.append(f"transport {label}: scipy linprog / geofupin = {t_lp / t_geo:.1f}x; same optimum {same}")

    # 2. p-median ---------------------------------------------------------------
    n, m, p = (300, 40, 5) if q else (1000, 100, 10)
    cost, demand, _ = instance(n, m, 2, cap_ratio=1.0)
    cm = CostMatrix.from_dense(cost, demand, np.full(m, np.inf))
    print(f"p-median {n} x {m}, p = {p} (uncapacitated)")
    t_geo, alloc = timed(lambda: solve_p_median(cm, p, mip_gap=0.0, time_limit_s=600))
    t_hi, obj_hi = timed(lambda: direct_highs_pmedian(cost, demand, p))
    print(f"  geofupin {t_geo:.2f} s (obj {alloc.objective:.2f}, {alloc.status})")
    print(f"  direct HiGHS {t_hi:.2f} s (obj {obj_hi:.2f})")
    ratios.append(
        f"p-median: geofupin / direct HiGHS = {t_geo / t_hi:.2f}x (target <= 1.2); "
        f"same optimum {abs(alloc.objective - obj_hi) <= 1e-6 * obj_hi}"
    )
    t_sp, obj_sp = timed(lambda: spopt_pmedian(cost, demand, p))
    if obj_sp is not None:
        print(f"  spopt PMedian + CBC {t_sp:.2f} s (obj {obj_sp:.2f})")
        ratios.append(
            f"p-median: spopt CBC / geofupin = {t_sp / t_geo:.1f}x (target >= 2); "
            f"same optimum {abs(alloc.objective - obj_sp) <= 1e-6 * obj_sp}"
        )

    # 3. whole-village MILP ---------------------------------------------------------
    n, m = (200, 20) if q else (500, 50)
    limit = 10.0 if q else 60.0
    cost, demand, cap = instance(n, m, 3, cap_ratio=1.05)
    cm = CostMatrix.from_dense(cost, demand, cap)
    print(f"single-source MILP {n} x {m}, capacity 1.05 x demand, time limit {limit:g} s, mip_gap 0.001")
    t_ms, alloc = timed(lambda: solve_single_source(cm, time_limit_s=limit, mip_gap=0.001))
    t_fl, div = timed(lambda: solve_flow(cm))
    gap = "n/a" if alloc.gap is None else f"{alloc.gap:.3%}"
    print(
        f"  {t_ms:.2f} s, status {alloc.status}, gap {gap}, obj {alloc.objective:.0f}, unserved "
        f"{alloc.unserved_persons}; divisible lower bound {div.objective:.0f} ({t_fl:.3f} s)"
    )
    ratios.append(
        f"single-source MILP {n} x {m}: {t_ms:.1f} s within limit {limit:g} s, status {alloc.status}, gap {gap}, "
        f"whole / divisible objective = {alloc.objective / div.objective:.4f}"
    )

    print("\nratios:")
    for r in ratios:
        print("  " + r)


if __name__ == "__main__":
    main()
