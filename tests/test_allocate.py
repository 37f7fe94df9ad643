"""Allocation solvers on hand-written matrices, cross-checked against brute force and scipy."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import linprog

from geofupin._schema import parse
from geofupin.allocate import (
    AllocationConfig,
    CostMatrix,
    greedy,
    solve_divisible_milp,
    solve_flow,
    solve_max_coverage,
    solve_p_median,
    solve_single_source,
)
from geofupin.allocate import solve as solve_mod
from geofupin.errors import DataError, InfeasibleError, Problems

# 3 x 2: single-sourcing changes the answer (divisible 19, whole 24).
C32 = [[1, 5], [1, 2], [1, 3]]
D32 = [6, 3, 5]
K32 = [10, 10]
# 4 x 3: divisible 24, whole 30 (u0->s0, u1->s1, u2->s1, u3->s2).
C43 = [[2, 4, 7], [3, 1, 6], [5, 2, 1], [1, 5, 3]]
D43 = [4, 3, 2, 5]
K43 = [6, 5, 5]


def lp_optimum(cost: np.ndarray, demand: np.ndarray, cap: np.ndarray) -> float:
    """Independent transportation LP with dense scipy linprog (all demand served)."""
    n, m = cost.shape
    finite = np.isfinite(cost)
    c = np.where(finite, cost, 0.0).ravel()
    bounds = [(0, None) if f else (0, 0) for f in finite.ravel()]
    res = linprog(
        c,
        A_ub=np.kron(np.ones(n), np.eye(m)),
        b_ub=cap,
        A_eq=np.kron(np.eye(n), np.ones(m)),
        b_eq=demand,
        bounds=bounds,
        method="highs",
    )
    assert res.status == 0
    return float(res.fun)


def brute_single_source(cost: np.ndarray, demand: np.ndarray, cap: np.ndarray) -> float:
    best = np.inf
    n, m = cost.shape
    for a in itertools.product(range(m), repeat=n):
        idx = np.array(a)
        if np.bincount(idx, weights=demand, minlength=m).max() > 0 and np.all(
            np.bincount(idx, weights=demand, minlength=m) <= cap
        ):
            best = min(best, float((demand * cost[np.arange(n), idx]).sum()))
    return best


def test_3x2_divisible_optimum_splits_a_village():
    cm = CostMatrix.from_dense(C32, D32, K32)
    a = solve_flow(cm)
    assert a.objective == pytest.approx(19.0)
    assert a.status == "optimal" and a.solver == "ortools-mcf" and a.gap == 0.0
    u2 = a.assignment[a.assignment["unit_id"] == "u2"].set_index("site_id")["persons"]
    assert u2.to_dict() == {"s0": 4, "s1": 1}  # the village is split
    assert solve_flow(cm, solver="highs").objective == pytest.approx(19.0)


def test_3x2_single_source_changes_the_answer():
    cm = CostMatrix.from_dense(C32, D32, K32)
    a = solve_single_source(cm, time_limit_s=10)
    assert a.objective == pytest.approx(24.0)
    assert a.status == "optimal" and a.solver == "highs-mip"
    got = dict(zip(a.assignment["unit_id"], a.assignment["site_id"], strict=True))
    assert got == {"u0": "s0", "u1": "s0", "u2": "s1"}
    assert a.assignment.groupby("unit_id").size().max() == 1
    assert not a.relaxed and a.unserved.empty


def test_4x3_known_optima_and_brute_force():
    cm = CostMatrix.from_dense(C43, D43, K43)
    assert solve_flow(cm).objective == pytest.approx(24.0)
    whole = solve_single_source(cm)
    assert whole.objective == pytest.approx(30.0)
    assert brute_single_source(np.array(C43, float), np.array(D43), np.array(K43)) == 30.0
    got = dict(zip(whole.assignment["unit_id"], whole.assignment["site_id"], strict=True))
    assert got == {"u0": "s0", "u1": "s1", "u2": "s1", "u3": "s2"}
    load = whole.site_load.set_index("site_id")["assigned_persons"].to_dict()
    assert load == {"s0": 4, "s1": 5, "s2": 5}


def test_infeasible_single_source_returns_relaxed_solution_with_reason():
    # two sites of 9, three villages of 6: divisible fits exactly, whole villages cannot.
    cm = CostMatrix.from_dense([[2, 3], [1, 2], [1, 4]], [6, 6, 6], [9, 9])
    div = solve_flow(cm)
    assert not div.relaxed and div.objective == pytest.approx(33.0)
    a = solve_single_source(cm)
    assert a.relaxed and a.served_persons == 12 and a.unserved_persons == 6
    # among solutions serving 12 the cheapest is unique: u2 at s0, u1 at s1 -> 6 + 12
    assert a.objective == pytest.approx(18.0)
    row = a.unserved.iloc[0]
    assert row["unit_id"] == "u0"
    # 3 free places at each site: enough in total, but not in one piece
    assert row["rule"] == "single_source"
    assert "split over sites, none can take all 6 persons" in row["reason_en"]
    assert "无一处可整体容纳6人" in row["reason_zh"]
    assert any("relaxed solution" in m for m in a.messages)


def test_site_too_small_for_a_whole_village():
    cm = CostMatrix.from_dense([[1, 2], [1, 1]], [12, 3], [9, 9])
    a = solve_single_source(cm)
    row = a.unserved.set_index("unit_id").loc["u0"]
    assert row["rule"] == "capacity"
    assert "largest site within reach (s0, s1) takes only 9 persons" in row["reason_en"]
    assert "整体搬迁需12人" in row["reason_zh"]


def test_capacity_short_names_the_shortage():
    cm = CostMatrix.from_dense([[1, 2], [2, 1], [3, 3]], [10, 10, 8], [12, 12])
    a = solve_flow(cm)
    assert a.served_persons == 24 and a.unserved_persons == 4
    assert a.objective == pytest.approx(10 + 10 + 4 * 3)  # u2 gets the leftover 2 + 2
    row = a.unserved.iloc[0]
    assert row["unit_id"] == "u2" and row["persons"] == 4
    assert "short by 4 persons" in row["reason_en"]
    assert "county-wide capacity is short by 4 persons" in row["reason_en"]
    assert "缺口4人" in row["reason_zh"]


def test_no_arc_reason_names_the_rule():
    inf = np.inf
    rule_counts = (
        ("reachable", np.array([2, 2, 1])),
        ("cutoff_min", np.array([2, 1, 0])),
        ("max_time_from_origin_min", np.array([2, 0, 0])),
    )
    base = CostMatrix.from_dense([[1, 2], [inf, inf], [inf, inf]], [5, 5, 5], [20, 20])
    cm = CostMatrix(**{**base.__dict__, "rule_counts": rule_counts})
    a = solve_flow(cm, rule_values={"cutoff_min": 90, "max_time_from_origin_min": 45})
    reasons = a.unserved.set_index("unit_id")
    assert reasons.loc["u1", "rule"] == "max_time_from_origin_min"
    assert "farming radius of 45 min" in reasons.loc["u1", "reason_en"]
    assert "耕作半径45分钟" in reasons.loc["u1", "reason_zh"]
    assert reasons.loc["u2", "rule"] == "cutoff_min"
    assert "cut-off of 90 min" in reasons.loc["u2", "reason_en"]


@pytest.mark.parametrize("seed", range(6))
def test_random_ortools_and_highs_agree(seed: int):
    rng = np.random.default_rng(seed)
    n, m = rng.integers(5, 25), rng.integers(2, 7)
    cost = np.round(rng.uniform(1, 60, (n, m)), 2)
    cost[rng.random((n, m)) < 0.2] = np.inf  # pruned arcs
    cost[np.arange(n), rng.integers(0, m, n)] = rng.uniform(1, 60, n).round(2)  # every unit reaches one
    demand = rng.integers(1, 40, n)
    cap = rng.integers(20, 200, m).astype(float)
    cm = CostMatrix.from_dense(cost, demand, cap)
    a = solve_flow(cm)
    b = solve_flow(cm, solver="highs")
    assert a.served_persons == b.served_persons
    assert a.objective == pytest.approx(b.objective, rel=1e-9, abs=1e-6)
    if not a.relaxed:
        assert a.objective == pytest.approx(lp_optimum(cost, demand, cap), rel=1e-9)
    # loads respect capacity, every unit's persons accounted for
    assert (a.site_load["assigned_persons"] <= cap + 1e-9).all()
    assert a.served_persons + a.unserved_persons == demand.sum()


@pytest.mark.parametrize("seed", range(4))
def test_random_single_source_matches_brute_force(seed: int):
    rng = np.random.default_rng(100 + seed)
    cost = rng.integers(1, 30, (6, 3)).astype(float)
    demand = rng.integers(1, 10, 6)
    cap = np.full(3, demand.sum() / 2.2).round()
    cm = CostMatrix.from_dense(cost, demand, cap)
    bf = brute_single_source(cost, demand, cap)
    a = solve_single_source(cm, mip_gap=0.0)
    if np.isfinite(bf):
        assert a.objective == pytest.approx(bf) and not a.relaxed
    else:
        assert a.relaxed


def _brute_p_median(cost: np.ndarray, demand: np.ndarray, p: int, cap: np.ndarray | None) -> float:
    m = cost.shape[1]
    best = np.inf
    for combo in itertools.combinations(range(m), p):
        sub = cost[:, combo]
        if cap is None:
            val = float((demand * sub.min(axis=1)).sum())
        else:
            try:
                val = lp_optimum(sub, demand, cap[list(combo)])
            except AssertionError:
                continue
        best = min(best, val)
    return best


@pytest.mark.parametrize(("seed", "p"), [(0, 1), (1, 2), (2, 3), (3, 2)])
def test_p_median_uncapacitated_vs_brute_force(seed: int, p: int):
    rng = np.random.default_rng(seed)
    pts, sites = rng.uniform(0, 10, (12, 2)), rng.uniform(0, 10, (6, 2))
    cost = np.linalg.norm(pts[:, None] - sites[None], axis=2).round(3)
    demand = rng.integers(1, 20, 12)
    cm = CostMatrix.from_dense(cost, demand, np.full(6, np.inf))
    a = solve_p_median(cm, p, mip_gap=0.0)
    assert len(a.open_sites) == p
    assert a.objective == pytest.approx(_brute_p_median(cost, demand, p, None), rel=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_p_median_row_generation_and_full_model_agree(seed: int):
    rng = np.random.default_rng(50 + seed)
    cost = rng.integers(1, 15, (30, 8)).astype(float)  # many ties between sites
    demand = rng.integers(1, 50, 30)
    lazy = solve_p_median(CostMatrix.from_dense(cost, demand, np.full(8, np.inf)), 3, fixed=["s7"], mip_gap=0.0)
    # a capacity nobody reaches sends the model down the full x_ij <= y_j MIP
    full = solve_p_median(CostMatrix.from_dense(cost, demand, np.full(8, 1e9)), 3, fixed=["s7"], mip_gap=0.0)
    assert full.solver == "highs-mip"
    assert lazy.objective == pytest.approx(full.objective)
    best = min(
        float((demand * cost[:, list(c)].min(axis=1)).sum()) for c in itertools.combinations(range(8), 3) if 7 in c
    )
    assert lazy.objective == pytest.approx(best)
    assert "s7" in lazy.open_sites and len(lazy.open_sites) == 3
    assert lazy.assignment.groupby("unit_id").size().max() == 1


def test_capacitated_p_median_divisible_vs_brute_force_and_fixed_sites():
    rng = np.random.default_rng(7)
    cost = rng.uniform(1, 20, (10, 5)).round(2)
    demand = rng.integers(5, 15, 10)
    cap = np.full(5, 50.0)
    cm = CostMatrix.from_dense(cost, demand, cap)
    a = solve_p_median(cm, 3, single_source=False, mip_gap=0.0)
    assert a.objective == pytest.approx(_brute_p_median(cost, demand, 3, cap), rel=1e-6)
    # a fixed site stays open even if it is the worst
    worst = int(np.argmax((demand[:, None] * cost).sum(axis=0)))
    b = solve_p_median(cm, 3, fixed=[f"s{worst}"], single_source=False, mip_gap=0.0)
    assert f"s{worst}" in b.open_sites and len(b.open_sites) == 3
    assert b.objective >= a.objective - 1e-9


def test_max_coverage_vs_brute_force():
    rng = np.random.default_rng(3)
    cost = rng.uniform(0, 60, (15, 6)).round(1)
    demand = rng.integers(1, 30, 15)
    cm = CostMatrix.from_dense(cost, demand, np.full(6, np.inf))
    a = solve_max_coverage(cm, 2, coverage_min=20, mip_gap=0.0)
    best = max(int(demand[(cost[:, list(c)] <= 20).any(axis=1)].sum()) for c in itertools.combinations(range(6), 2))
    assert a.served_persons == best
    assert set(a.unserved["rule"]) <= {"coverage_min", "p"}
    assert (a.assignment["time_min"] <= 20).all()


def test_min_occupancy_closes_small_sites():
    # s1 would get only u1 (3 persons) without the rule; with min 5 it stays closed.
    cm = CostMatrix.from_dense([[1, 5], [4, 1], [1, 6]], [6, 3, 4], [20, 20])
    assert solve_single_source(cm).objective == pytest.approx(6 + 3 + 4)
    a = solve_single_source(cm, min_occupancy_persons=5)
    assert a.open_sites == ("s0",)
    assert a.objective == pytest.approx(6 + 12 + 4)
    b = solve_divisible_milp(cm, min_occupancy_persons=5)
    # divisible: 2 persons of u0 join u1 at s1 to reach 5 -> 4 + 10 + 3 + 4
    assert b.objective == pytest.approx(21.0)
    assert (b.site_load.query("assigned_persons > 0")["assigned_persons"] >= 5).all()


def test_greedy_fallback_is_marked(monkeypatch: pytest.MonkeyPatch):
    cm = CostMatrix.from_dense(C43, D43, K43)

    def no_solution(*args: object, **kwargs: object) -> solve_mod._Run:
        return solve_mod._Run(None, "no_solution", None, None)

    monkeypatch.setattr(solve_mod, "_highs_solve", no_solution)
    a = solve_single_source(cm, time_limit_s=0.01)
    assert a.status == "greedy" and a.solver == "greedy" and a.gap is None
    assert any("GREEDY" in m and "too short" in m for m in a.messages)
    assert (a.site_load["assigned_persons"] <= np.array(K43)).all()
    assert a.objective >= 30.0


def test_greedy_respects_capacity_and_wholeness():
    cm = CostMatrix.from_dense(C43, D43, K43)
    flow = greedy(cm, single_source=True)
    assert set(flow[flow > 0]) <= set(D43)
    assert np.all(np.bincount(cm.cols, weights=flow, minlength=3) <= K43)


def test_households_follow_persons_when_split():
    cm = CostMatrix.from_dense([[1, 2]], [10], [7, 10], households=[3])
    a = solve_flow(cm)
    assert a.assignment["persons"].tolist() == [7, 3]
    assert a.assignment["households"].sum() == 3
    assert a.site_load["assigned_households"].sum() == 3


def test_every_piece_of_a_split_unit_has_a_household():
    # 10 persons in 3 households split 9 / 1: the 1-person piece still moves as a household
    cm = CostMatrix.from_dense([[1, 2]], [10], [9, 10], households=[3])
    a = solve_flow(cm).assignment.set_index("site_id")
    assert a["persons"].to_dict() == {"s0": 9, "s1": 1}
    assert a["households"].to_dict() == {"s0": 2, "s1": 1}
    # a remainder that cannot be placed keeps a household of its own
    cm = CostMatrix.from_dense([[1.0]], [10], [9], households=[3])
    b = solve_flow(cm)
    assert b.assignment["households"].tolist() == [2] and b.unserved["households"].tolist() == [1]


def test_bad_matrices_raise_with_the_id():
    with pytest.raises(DataError, match="u1: demand 0"):
        CostMatrix.from_dense([[1.0], [2.0]], [5, 0], [10])
    with pytest.raises(DataError, match="s0: capacity -1"):
        CostMatrix.from_dense([[1.0]], [5], [-1])
    with pytest.raises(DataError, match=">= 0"):
        CostMatrix.from_dense([[-1.0]], [5], [10])
    with pytest.raises(InfeasibleError, match="fixed_sites"):
        solve_p_median(CostMatrix.from_dense([[1.0]], [5], [10]), 1, fixed=["nope"])


def test_config_defaults_and_problems():
    problems = Problems()
    cfg = parse(AllocationConfig, {}, "allocation", problems)
    assert cfg == AllocationConfig() and not problems.errors
    assert cfg.model == "single_source" and cfg.unit == "group" and cfg.cutoff_min == 180.0
    problems = Problems()
    raw = {"model": "p_median", "unit": "household", "cutof_min": 5, "mip_gap": 2}
    assert parse(AllocationConfig, raw, "allocation", problems) is None
    text = " ".join(str(p) for p in problems)
    assert "did you mean 'cutoff_min'" in text
    problems = Problems()
    assert (
        parse(AllocationConfig, {"model": "p_median", "mip_gap": 2, "unit": "household"}, "allocation", problems)
        is None
    )
    text = " ".join(str(p) for p in problems)
    assert "allocation.p" in text and "allocation.mip_gap" in text
    problems = Problems()
    parse(AllocationConfig, {"unit": "household"}, "allocation", problems)
    assert any("single_source" in p.message for p in problems.errors)
    problems = Problems()
    cfg = parse(
        AllocationConfig,
        {"reserved_sites": {"S1": ["招安镇"]}, "tier_preference": {"central_village": 15}, "fixed_sites": []},
        "allocation",
        problems,
    )
    assert cfg.reserved_sites == {"S1": ("招安镇",)} and cfg.tier_preference == {"central_village": 15.0}
