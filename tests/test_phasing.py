"""The annual implementation plan (分年度实施计划), checked by hand on tiny counties."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from geofupin.config.policy import parse_policy
from geofupin.errors import DataError
from geofupin.phasing import (
    PhasingConfig,
    PhasingProblem,
    PriorityRule,
    annual_plan,
    greedy,
    hazard_flags,
    plan_completion_points,
    solve,
)
from geofupin.policy import compute_budget, plan_units

#: one rule, so every cost is checkable by hand: 1,000 yuan per relocated person, paid by the province
ONE_RULE = {
    "name": "test",
    "rules": [
        {"id": "p", "payer": "province", "purpose": "housing", "basis": "per_person", "amount": 1000},
    ],
}
TWO_PAYERS = {
    "name": "test2",
    "rules": [
        {"id": "p", "payer": "province", "purpose": "housing", "basis": "per_person", "amount": 1000},
        {"id": "c", "payer": "county", "purpose": "housing", "basis": "per_household", "amount": 500},
    ],
}


def villages() -> pd.DataFrame:
    """Three groups: A (hazard, 2 hh / 10 p), B (poorest, 3 hh / 12 p), C (1 hh / 5 p).

    With 1,000 yuan/person: A costs 10,000, B 12,000, C 5,000 (27,000 in all).
    """
    return pd.DataFrame(
        {
            "village_id": ["A", "B", "C"],
            "name": ["甲村", "乙村", "丙村"],
            "township": ["T1", "T1", "T2"],
            "group": ["一组", "一组", "一组"],
            "relocate_households": [2, 3, 1],
            "relocate_persons": [10, 12, 5],
            "poor_households": [2, 3, 1],
            "income_per_capita": [2000.0, 1500.0, 3000.0],
            "poverty_cause": ["因灾", "缺资金", "缺技术"],
        }
    )


def budget(policy=ONE_RULE, assignment=None):
    return compute_budget(plan_units(villages(), assignment), parse_policy(policy))


def plan(cfg: PhasingConfig, policy=ONE_RULE, assignment=None, **kw):
    v = villages()
    haz = hazard_flags(v, None, kinds=cfg.hazard_kinds, distance_m=cfg.hazard_distance_m, causes=cfg.hazard_causes)
    return annual_plan(budget(policy, assignment), v, cfg, hazard=haz, **kw)


def year_of(p) -> dict[str, int]:
    t = p.tables["phasing_plan"]
    return dict(zip(t["village_id"], t["year"], strict=True))


def test_ceiling_forces_a_second_year() -> None:
    # Scores: A = 100 (hazard) + 10 x (3000-2000)/1500 = 106.667; B = 10 x 1 = 10; C = 0.
    # Weights (households x (1 + score)): A 215.33, B 33, C 1. Year 1 holds 20,000 yuan:
    # {A, C} = 15,000 (then B, 12,000, in 2012: delay cost 33) beats {B, C} = 17,000 (A late: 215.33)
    # and {A} alone (B and C late: 34). {A, B} = 22,000 does not fit.
    cfg = PhasingConfig(first_year=2011, last_year=2012, budget_ceiling_yuan=20000)
    p = plan(cfg)
    assert p.solution.feasible and p.solution.status == "optimal"
    assert year_of(p) == {"A": 2011, "B": 2012, "C": 2011}
    assert p.solution.objective == pytest.approx(33.0)
    years = p.tables["phasing_years"].set_index("year")
    assert years.loc[2011, "subsidy_total_yuan"] == 15000
    assert years.loc[2012, "subsidy_total_yuan"] == 12000
    assert years.loc[2011, "households"] == 3 and years.loc[2012, "households"] == 3
    assert years.loc[2011, "hazard_households"] == 2
    assert years.loc[2012, "cumulative_share"] == 1.0
    # the per-year subsidies add up to the budget, to the yuan
    assert years["subsidy_total_yuan"].sum() == pytest.approx(budget().total_yuan, abs=0.005)
    short = p.tables["phasing_shortfall"]
    assert (short["extra_needed"] == 0).all()
    assert short.set_index("year").loc[2011, "used"] == 15000


def test_without_ceilings_everyone_moves_in_the_first_year() -> None:
    p = plan(PhasingConfig(first_year=2011, last_year=2015))
    assert set(year_of(p).values()) == {2011}
    assert p.solution.objective == 0


def test_priority_is_data() -> None:
    # with the poorest first (no hazard rule), B (poorest) must be in 2011: {B, C} = 17,000, A waits
    cfg = PhasingConfig(
        first_year=2011, last_year=2012, budget_ceiling_yuan=20000, priority=(PriorityRule("poorest", 10.0),)
    )
    assert year_of(plan(cfg)) == {"A": 2012, "B": 2011, "C": 2011}


def test_infeasible_reports_the_shortfall() -> None:
    # 27,000 yuan into two years of 11,000: at least 5,000 missing ({B} = 12,000 and {A, C} = 15,000:
    # 1,000 + 4,000); the plan is then solved with the ceilings raised by the shortfall.
    cfg = PhasingConfig(first_year=2011, last_year=2012, budget_ceiling_yuan=11000)
    p = plan(cfg)
    assert not p.solution.feasible and p.solution.status == "infeasible_relaxed"
    short = p.tables["phasing_shortfall"]
    assert short["extra_needed"].sum() == pytest.approx(5000)
    assert (short["used"] <= short["ceiling"] + short["extra_needed"] + 1e-6).all()
    assert any("phasing_shortfall" in w for w in p.warnings)
    assert set(p.tables["phasing_years"]["feasible"]) == {False}
    # one year only: 27,000 - 20,000 = 7,000 missing
    one = plan(PhasingConfig(first_year=2011, last_year=2011, budget_ceiling_yuan=20000))
    assert one.tables["phasing_shortfall"]["extra_needed"].sum() == pytest.approx(7000)


def test_site_capacity_and_whole_groups() -> None:
    # B's group is split over two sites (2 + 1 households): it still moves in one year.
    # Site S1 builds at most 3 households a year: A (2 at S1) and B's 2 at S1 cannot share a year.
    assignment = pd.DataFrame(
        {
            "village_id": ["A", "B", "B", "C"],
            "site_id": ["S1", "S1", "S2", "S2"],
            "households": [2, 2, 1, 1],
            "persons": [10, 8, 4, 5],
        }
    )
    cfg = PhasingConfig(first_year=2011, last_year=2013, households_per_site_per_year=3)
    p = plan(cfg, assignment=assignment)
    t = p.tables["phasing_plan"]
    assert t[t["village_id"] == "B"]["year"].nunique() == 1
    yrs = year_of(p)
    assert yrs["A"] == 2011 and yrs["B"] == 2012 and yrs["C"] == 2011
    # works: each site's in the year its first group moves
    site_plans = pd.DataFrame(
        {"site_id": ["S1", "S2"], "name": ["一号点", "二号点"], "road_cost_yuan": [100000.0, 0.0],
         "water_cost_yuan": [0.0, 50000.0]}
    )  # fmt: skip
    p = plan(cfg, assignment=assignment, site_plans=site_plans)
    y = p.tables["phasing_years"].set_index("year")
    assert y.loc[2011, "site_works_yuan"] == 150000 and y.loc[2012, "site_works_yuan"] == 0
    d = p.tables["phasing_disbursement"]
    s1 = d[d["project_id"] == "S1-road"].set_index("tranche")
    assert s1.loc["before_start", "date"] == (dt.date(2011, 3, 1) - dt.timedelta(days=7)).isoformat()
    assert s1["amount_yuan"].sum() == pytest.approx(100000)
    assert s1.loc["deposit_release", "amount_yuan"] == pytest.approx(5000)
    assert set(p.tables["phasing_plan"]["site_name"]) == {"一号点", "二号点"}


def test_payer_ceiling() -> None:
    # county pays 500/household: A 1,000, B 1,500, C 500. County ceiling 1,500 a year, province unlimited:
    # A + C = 1,500 in 2011, B = 1,500 in 2012.
    cfg = PhasingConfig(first_year=2011, last_year=2012, payer_ceiling_yuan={"county": 1500})
    p = plan(cfg, policy=TWO_PAYERS)
    assert year_of(p) == {"A": 2011, "B": 2012, "C": 2011}
    y = p.tables["phasing_years"].set_index("year")
    assert y.loc[2011, "county__housing_yuan"] == 1500
    with pytest.raises(DataError, match="city"):
        plan(PhasingConfig(payer_ceiling_yuan={"city": 1}), policy=TWO_PAYERS)


def test_progress_and_completion_points() -> None:
    cfg = PhasingConfig(first_year=2011, last_year=2012, budget_ceiling_yuan=20000)
    prog = plan(cfg).tables["phasing_progress"].set_index(["township", "year"])
    assert prog.loc[("T1", 2011), "planned_households"] == 2  # A
    assert prog.loc[("T1", 2012), "planned_households"] == 3  # B
    assert prog.loc[("T1", 2012), "cumulative_share"] == 1.0
    assert prog.loc[("T2", 2011), "planned_households"] == 1
    assert prog.loc[("全县", 2011), "planned_households"] == 3
    pts = plan_completion_points(prog.reset_index(), {"T1": 1, "T2": 1}, year=2011, max_points=15)
    got = dict(zip(pts["township"], pts["points"], strict=True))
    assert got == {"T1": 7.5, "T2": 15.0}
    with pytest.raises(DataError, match="T9"):
        plan_completion_points(prog.reset_index(), {"T9": 1}, year=2011, max_points=15)


def test_hazard_flags_from_constraints() -> None:
    import geopandas as gpd
    from shapely.geometry import Point

    v = gpd.GeoDataFrame(villages(), geometry=[Point(0, 0), Point(1000, 0), Point(5000, 0)], crs="EPSG:4545")
    c = gpd.GeoDataFrame(
        {"kind": ["hazard_point", "basic_farmland"]}, geometry=[Point(1150, 0), Point(5000, 0)], crs="EPSG:4545"
    )
    f = hazard_flags(v, c, kinds=("hazard_point",), distance_m=200, causes=())
    assert f.tolist() == [False, True, False]
    f = hazard_flags(v, c, kinds=("hazard_point",), distance_m=200, causes=("因灾",))
    assert f.tolist() == [True, True, False]


def random_problem(n: int, seed: int) -> PhasingProblem:
    rng = np.random.default_rng(seed)
    hh = rng.integers(5, 60, n).astype(float)
    persons = hh * rng.uniform(3, 5, n)
    site = rng.integers(0, 10, n)
    cost = (persons * 8000 + hh * 20000)[:, None]
    T = 3
    return PhasingProblem(
        weight=hh * (1 + rng.uniform(0, 10, n)),
        cost=cost,
        payers=("all",),
        site_households=sp.csr_matrix((hh, (np.arange(n), site)), shape=(n, 10)),
        persons=persons,
        years=tuple(range(2011, 2011 + T)),
        budget_ceiling=np.full(T, cost.sum() * 0.45),  # a year holds under half the plan
        payer_ceiling=np.full((T, 1), math.inf),
        site_capacity=np.full((10, T), hh.max() * 1.2),
        households_ceiling=np.full(T, math.inf),
        persons_ceiling=np.full(T, math.inf),
    )


def brute_force(p: PhasingProblem) -> float:
    import itertools

    rows = p.rows()
    coef = np.array([r[3] for r in rows])
    year = np.array([r[1] for r in rows])
    cap = np.array([r[4] for r in rows])
    combos = np.array(list(itertools.product(range(len(p.years)), repeat=p.n)))  # (C, n)
    # used[c, r] = sum_g coef[r, g] * (combos[c, g] == year[r])
    used = np.einsum("rg,crg->cr", coef, combos[:, None, :] == year[None, :, None])
    ok = (used <= cap + 1e-6).all(axis=1)
    return float((combos[ok] @ p.weight).min()) if ok.any() else math.inf


@pytest.mark.parametrize("seed", [2, 4, 5])
def test_milp_matches_brute_force_and_beats_greedy(seed: int) -> None:
    p = random_problem(7, seed)  # 3^7 = 2,187 plans, checked at once
    sol = solve(p, mip_gap=0.0)
    g = greedy(p)
    best = brute_force(p)
    assert math.isfinite(best) and sol.feasible and g.feasible
    assert sol.objective == pytest.approx(best)
    assert g.objective > sol.objective + 1e-6  # on these counties the greedy is strictly worse


def test_scenario_section_parses_and_checks() -> None:
    from geofupin.errors import ScenarioError
    from geofupin.scenario import from_dict

    base = {"name": "x", "layers": {"villages": "v.gpkg"}}
    sc = from_dict(
        {
            **base,
            "phasing": {
                "first_year": 2011,
                "last_year": 2013,
                "budget_ceiling_yuan": 1e7,
                "budget_ceiling_by_year_yuan": {2012: 5e6},
                "priority": [{"rule": "hazard", "weight": 50}, {"rule": "column", "column": "elevation_m"}],
            },
        }
    )
    assert sc.phasing is not None and sc.phasing.years == (2011, 2012, 2013)
    assert sc.phasing.priority[1] == PriorityRule("column", 1.0, "elevation_m")
    assert sc.phasing.start_date(2012) == dt.date(2012, 3, 1)
    with pytest.raises(ScenarioError) as e:
        from_dict(
            {**base, "phasing": {"first_year": 2015, "last_year": 2011, "budget_ceiling_by_year_yuan": {1999: 1}}}
        )
    assert "last_year" in str(e.value) and "1999" in str(e.value)
    with pytest.raises(ScenarioError, match="column"):
        from_dict({**base, "phasing": {"priority": [{"rule": "column"}]}})


def test_time_limit_without_a_plan_is_not_called_infeasible(monkeypatch) -> None:
    import geofupin.phasing as ph

    real = ph._milp
    calls = []

    def first_runs_out_of_time(problem, **kw):
        calls.append(kw["slack"])
        if len(calls) == 1:  # the hard model "runs out of time" before finding a plan
            return "no_solution", None, None, math.nan, problem.rows()
        return real(problem, **kw)

    monkeypatch.setattr(ph, "_milp", first_runs_out_of_time)
    p = random_problem(7, 1)
    sol = ph.solve(p)
    assert calls == [False, True]  # the relaxation found the ceilings hold: no third solve
    assert sol.feasible and sol.status == "time_limit"
    assert (sol.shortfall["extra_needed"] == 0).all()
    assert all(coef[sol.year_index == t].sum() <= cap + 1e-6 for _, t, _, coef, cap in p.rows())
