"""The phasing MILP's cumulative formulation ("moved by year t") reaches the yearly formulation's plans.

:func:`geofupin.phasing.solve` solves the plan in the cumulative model (``_milp_cumulative``) and the
slack relaxation in the yearly one (``_milp_yearly``, the model of the first release). Checked here
against independent computations: every plan enumerated on tiny counties, and the yearly model (at
gap 0) on small random ones; infeasible counties give the same shortfall table as the yearly model.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import geofupin.phasing as ph
from geofupin.phasing import PhasingProblem, solve


def problem(
    cost: list[float] | np.ndarray,
    weight: list[float] | np.ndarray,
    *,
    years: int,
    budget: float | list[float] = math.inf,
    site: list[int] | None = None,
    households: list[float] | None = None,
    site_capacity: float = math.inf,
    persons: list[float] | None = None,
    persons_ceiling: float = math.inf,
    payer_ceiling: float = math.inf,
) -> PhasingProblem:
    """A county of ``len(cost)`` groups, one payer, optional sites, ceilings the same every year."""
    n = len(cost)
    c = np.asarray(cost, dtype=float)
    hh = np.asarray(households if households is not None else np.ones(n), dtype=float)
    s = np.asarray(site if site is not None else np.zeros(n, dtype=int))
    S = int(s.max()) + 1
    return PhasingProblem(
        weight=np.asarray(weight, dtype=float),
        cost=np.stack([c * 0.6, c * 0.4], axis=1),
        payers=("province", "county"),
        site_households=sp.csr_matrix((hh, (np.arange(n), s)), shape=(n, S)),
        persons=np.asarray(persons if persons is not None else hh * 4, dtype=float),
        years=tuple(range(2011, 2011 + years)),
        budget_ceiling=np.broadcast_to(np.asarray(budget, dtype=float), (years,)).copy(),
        payer_ceiling=np.array([[payer_ceiling, math.inf]] * years),
        site_capacity=np.full((S, years), site_capacity),
        households_ceiling=np.full(years, math.inf),
        persons_ceiling=np.full(years, persons_ceiling),
    )


def enumerate_plans(p: PhasingProblem) -> tuple[float, int]:
    """The least delay over every plan that fits (and how many fit): T^n plans, checked at once."""
    rows = p.rows()
    coef = np.array([r[3] for r in rows])
    year = np.array([r[1] for r in rows])
    cap = np.array([r[4] for r in rows])
    plans = np.array(list(itertools.product(range(len(p.years)), repeat=p.n)))
    used = np.einsum("rg,crg->cr", coef, plans[:, None, :] == year[None, :, None])
    ok = (used <= cap + 1e-6).all(axis=1)
    return (float((plans[ok] @ p.weight).min()) if ok.any() else math.inf), int(ok.sum())


def random_problem(n: int, seed: int, *, years: int = 3, tight: float = 1.0) -> PhasingProblem:
    """Groups of 5-60 households at 1-3 sites, every kind of ceiling; ``tight`` < 1 makes it infeasible."""
    rng = np.random.default_rng(seed)
    hh = rng.integers(5, 61, n).astype(float)
    persons = np.round(hh * rng.uniform(3, 5, n))
    sites = max(2, n // 4)
    main = rng.integers(0, sites, n)
    second = rng.integers(0, sites, n)
    split = np.where(rng.random(n) < 0.3, np.floor(hh / 3), 0.0)  # some groups build at two sites
    sh = sp.csr_matrix(
        (np.concatenate([hh - split, split]), (np.tile(np.arange(n), 2), np.concatenate([main, second]))),
        shape=(n, sites),
    )
    cost = np.stack([persons * 6100 + hh * 1000, persons * 5000 + hh * 10000], axis=1)
    site_hh = np.asarray(sh.sum(axis=0)).ravel()
    share = 1.0 / years
    return PhasingProblem(
        weight=hh * (1 + np.round(100 * (rng.random(n) < 0.2) + 10 * rng.random(n), 6)),
        cost=cost,
        payers=("province", "county"),
        site_households=sh,
        persons=persons,
        years=tuple(range(2011, 2011 + years)),
        budget_ceiling=np.full(years, cost.sum() * share * 1.15 * tight),
        payer_ceiling=np.array([[cost[:, 0].sum() * share * 1.3 * tight, math.inf]] * years),
        site_capacity=np.repeat(np.maximum(site_hh * share * 1.6, hh.max())[:, None], years, axis=1) * tight,
        households_ceiling=np.full(years, hh.sum() * share * 1.4 * tight),
        persons_ceiling=np.full(years, math.inf),
    )


def yearly(p: PhasingProblem, *, mip_gap: float = 0.0) -> tuple[str, np.ndarray | None]:
    """The first release's model, at the same limits."""
    status, year, _, _, _ = ph._milp_yearly(p, p.rows(), slack=False, time_limit_s=60.0, mip_gap=mip_gap)
    return status, year


def cumulative(
    p: PhasingProblem, *, mip_gap: float = 0.0, start: np.ndarray | None = None
) -> tuple[str, np.ndarray | None]:
    status, year, _, _, _ = ph._milp_cumulative(p, p.rows(), time_limit_s=60.0, mip_gap=mip_gap, start=start)
    return status, year


def fits(p: PhasingProblem, year: np.ndarray, raise_by: dict[tuple[str, int, int], float] | None = None) -> bool:
    raise_by = raise_by or {}
    return all(
        coef[year == t].sum() <= cap + raise_by.get((kind, t, k), 0.0) + 1e-6 for kind, t, k, coef, cap in p.rows()
    )


# --------------------------------------------------------------------------- tiny counties, by hand
def test_hand_case_budget_only() -> None:
    """Costs 6, 5, 4, 3 (weights 10, 8, 1, 1), 9 a year over 2 years: the 18 yuan fill both years exactly,
    so the first year holds {6, 3} (delay 8 + 1 = 9) or {5, 4} (delay 10 + 1 = 11): {6, 3} first."""
    p = problem([6, 5, 4, 3], [10, 8, 1, 1], years=2, budget=9)
    status, year = cumulative(p)
    assert status == "optimal" and year is not None
    assert year.tolist() == [0, 1, 1, 0]
    assert p.objective(year) == 9.0 == enumerate_plans(p)[0]


def test_hand_case_site_capacity_and_three_years() -> None:
    """One site building 2 households a year, three groups of 2: one a year, by weight (3, 2, 1 -> 0 + 2 + 2 = 4)."""
    p = problem([1, 1, 1], [1, 3, 2], years=3, site=[0, 0, 0], households=[2, 2, 2], site_capacity=2)
    status, year = cumulative(p)
    assert status == "optimal" and year is not None
    assert year.tolist() == [2, 0, 1]
    assert p.objective(year) == 4.0 == enumerate_plans(p)[0]


def test_hand_case_last_year_row_binds() -> None:
    """The last year's ceiling is the one that forces an early move: 4 groups of cost 5, ceilings 10 a year
    over two years, the light ones (weight 1) would rather wait but only two fit in the last year."""
    p = problem([5, 5, 5, 5], [1, 1, 1, 1], years=2, budget=10)
    status, year = cumulative(p)
    assert status == "optimal" and year is not None
    assert sorted(year.tolist()) == [0, 0, 1, 1]
    assert p.objective(year) == 2.0 == enumerate_plans(p)[0]


def test_ceiling_no_group_can_exceed_gives_no_row_and_the_same_plan() -> None:
    """A ceiling above what all groups cost (so no row in the model) changes nothing."""
    p = problem([6, 5, 4, 3], [10, 8, 1, 1], years=2, budget=9, payer_ceiling=1e9)
    assert cumulative(p)[1].tolist() == [0, 1, 1, 0]  # type: ignore[union-attr]


@pytest.mark.parametrize("seed", range(12))
def test_tiny_random_counties_match_every_plan_enumerated(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, years = (7, 3) if seed % 2 else (6, 4)
    p = random_problem(n, seed, years=years, tight=float(rng.uniform(0.85, 1.1)))
    best, count = enumerate_plans(p)
    status, year = cumulative(p)
    if count == 0:
        assert status == "infeasible" and year is None
        return
    assert status == "optimal" and year is not None and fits(p, year)
    assert p.objective(year) == pytest.approx(best, rel=1e-9)


@pytest.mark.parametrize("seed", range(12))
def test_small_random_counties_match_the_yearly_model(seed: int) -> None:
    p = random_problem(14 + seed, 100 + seed, years=3 + seed % 3)
    ys, yy = yearly(p)
    cs, cy = cumulative(p, start=ph.greedy(p).year_index)
    assert cs == ys
    if yy is None:
        assert cy is None
        return
    assert cy is not None and fits(p, cy)
    assert p.objective(cy) == pytest.approx(p.objective(yy), rel=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_solve_at_the_default_gap_reaches_the_yearly_optimum(seed: int) -> None:
    """At the scenario's default gap (1e-4) the plan is the yearly model's optimum (gap 0) on these counties,
    and ``solve`` keeps its contract: status, feasible, the gap it proved, the usage table."""
    p = random_problem(30, 500 + seed, years=5)
    sol = solve(p)
    _, yy = yearly(p)
    assert yy is not None
    assert sol.status == "optimal" and sol.feasible and 0 <= sol.mip_gap <= 1e-4
    assert sol.objective == pytest.approx(p.objective(yy), rel=1e-6)
    assert len(sol.shortfall) == len(p.rows()) and (sol.shortfall["extra_needed"] == 0).all()
    assert (sol.shortfall["used"] <= sol.shortfall["ceiling"] + 1e-6).all()


def test_one_year_plan_uses_the_yearly_model() -> None:
    p = problem([6, 5], [1, 1], years=1, budget=20)
    sol = solve(p)
    assert sol.status == "optimal" and sol.year_index.tolist() == [0, 0] and sol.objective == 0.0


# --------------------------------------------------------------------------- infeasible: the same shortfall
def old_solve(p: PhasingProblem, monkeypatch: pytest.MonkeyPatch) -> ph.PhasingSolution:
    """``solve`` with the yearly model for the plan too (the first release)."""
    with monkeypatch.context() as m:
        m.setattr(ph, "_milp_cumulative", lambda problem, rows, **kw: ph._milp_yearly(problem, rows, slack=False, **kw))
        return solve(p, mip_gap=0.0)


def test_hand_infeasible_case_reports_the_extra_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three groups of cost 6, 10 a year over two years: one group a year fits, the third needs 2 more
    (its year holds 12) -- the relaxation raises one year's ceiling by 2."""
    p = problem([6, 6, 6], [3, 2, 1], years=2, budget=10)
    assert enumerate_plans(p)[1] == 0
    sol = solve(p, mip_gap=0.0)
    assert sol.status == "infeasible_relaxed" and not sol.feasible
    extra = sol.shortfall[sol.shortfall["extra_needed"] > 0]
    assert extra["constraint"].tolist() == ["budget"] and extra["extra_needed"].tolist() == [2.0]
    raised = {("budget", int(r.year) - 2011, -1): float(r.extra_needed) for r in extra.itertuples()}
    assert fits(p, sol.year_index, raised)
    old = old_solve(p, monkeypatch)
    pd.testing.assert_frame_equal(sol.shortfall, old.shortfall)
    assert sol.objective == old.objective


@pytest.mark.parametrize("seed", range(6))
def test_infeasible_random_counties_give_the_same_shortfall(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    p = random_problem(9 + seed, 900 + seed, years=3 + seed % 2, tight=0.8)
    sol = solve(p, mip_gap=0.0)
    old = old_solve(p, monkeypatch)
    assert sol.status == old.status and sol.feasible == old.feasible
    pd.testing.assert_frame_equal(
        sol.shortfall[["constraint", "year", "index", "ceiling", "extra_needed"]],
        old.shortfall[["constraint", "year", "index", "ceiling", "extra_needed"]],
    )
    assert sol.objective == pytest.approx(old.objective, rel=1e-9)
    if not sol.feasible:
        assert sol.status == "infeasible_relaxed" and (sol.shortfall["extra_needed"] > 0).any()


# --------------------------------------------------------------------------- the progress table
def progress_by_loops(plan: pd.DataFrame, years: list[int]) -> pd.DataFrame:
    """The first release's township x year table, one filter per cell."""
    towns = sorted(set(plan["township"].astype(str))) if len(plan) else []
    rows = []
    for town in [*towns, "全县"]:
        sel = plan if town == "全县" else plan[plan["township"].astype(str) == town]
        target_hh = float(sel["households"].sum())
        cum_hh = cum_pp = 0.0
        for y in years:
            s = sel[sel["year"] == y]
            hh, pp = float(s["households"].sum()), float(s["persons"].sum())
            cum_hh += hh
            cum_pp += pp
            rows.append(
                {
                    "township": town,
                    "year": int(y),
                    "planned_groups": int(s[["village_id", "group"]].drop_duplicates().shape[0]),
                    "planned_households": hh,
                    "planned_persons": pp,
                    "cumulative_households": cum_hh,
                    "cumulative_persons": cum_pp,
                    "target_households": target_hh,
                    "cumulative_share": round(cum_hh / target_hh, 6) if target_hh > 0 else 0.0,
                    "completed_households": np.nan,
                }
            )
    return pd.DataFrame(rows)


@pytest.mark.parametrize("seed", range(5))
def test_progress_table_matches_the_loops(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = [0, 1, 7, 40, 200][seed]
    years = [2011, 2012, 2013, 2014]
    village = rng.integers(0, max(n // 3, 1), n)
    plan = pd.DataFrame(
        {
            "year": rng.choice(years[:3] if seed == 3 else years, n),  # seed 3: a year nobody moves in
            "township": [f"乡{v % 4}" for v in village],
            "village_id": [f"V{v:03d}" for v in village],
            "group": rng.choice(["", "一组", "二组"], n),
            "site_id": rng.choice(["S1", "S2"], n),
            "households": rng.integers(1, 30, n).astype(float),
            "persons": rng.integers(3, 120, n).astype(float),
        }
    )
    got = ph._progress(plan, years)
    pd.testing.assert_frame_equal(got, progress_by_loops(plan, years))
    county = got[got["township"] == "全县"]
    assert county["planned_households"].sum() == plan["households"].sum()


def test_large_counties_and_the_relaxation_use_the_yearly_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Beyond ``_CUMULATIVE_MAX_GROUPS`` groups the plan is solved as before (the yearly model), same optimum."""
    p = random_problem(9, 77, years=3)
    calls: list[str] = []
    real_y, real_c = ph._milp_yearly, ph._milp_cumulative
    monkeypatch.setattr(ph, "_milp_yearly", lambda *a, **kw: calls.append("yearly") or real_y(*a, **kw))
    monkeypatch.setattr(ph, "_milp_cumulative", lambda *a, **kw: calls.append("cumulative") or real_c(*a, **kw))
    small = solve(p, mip_gap=0.0)
    assert calls == ["cumulative"]
    monkeypatch.setattr(ph, "_CUMULATIVE_MAX_GROUPS", 8)
    large = solve(p, mip_gap=0.0)
    assert calls == ["cumulative", "yearly"]
    assert small.objective == pytest.approx(large.objective, rel=1e-9) == enumerate_plans(p)[0]
