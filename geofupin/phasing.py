"""The annual implementation plan (分年度实施计划): which group moves in which year.

Report 4 plans 2011-2015 "一次规划,分步实施" and scores each year against
「当年搬迁计划任务完成情况」. Given the plan years, an annual budget ceiling (every payer
together and/or per payer), an annual construction capacity (households per site per year,
households or persons per year county-wide) and priority rules as data, :func:`solve` decides
the year of every relocating group (村民小组, whole: all its households move in one year, to
every site it is allocated to) as a mixed-integer programme solved by HiGHS:

.. math::

    \\min \\sum_g \\sum_t w_g \\, t \\, x_{gt} \\quad \\text{s.t.} \\quad \\sum_t x_{gt} = 1,\\;
    \\sum_g c_{gk} x_{gt} \\le B_{kt},\\; \\sum_{g} h_{gs} x_{gt} \\le H_{st},\\;
    \\sum_g p_g x_{gt} \\le P_t,\\; x \\in \\{0, 1\\}

with ``t`` the year's index (0 for the first year), ``w_g`` the group's priority weight
(households x (1 + priority score): every household wants to move early, a hazard-threatened
or poor one more so), ``c`` the group's subsidies (from the budget lines, per payer), ``h`` its
households at each site, ``p`` its persons.

When the ceilings cannot hold the plan, :func:`solve` says by how much: a relaxation with one
non-negative slack per ceiling row (extra yuan, households or persons in that year),
minimising the slacks relative to their ceilings, gives the smallest extra budget/capacity
that makes the plan fit (table ``phasing_shortfall``), and the plan is then solved with the
ceilings raised by those amounts (``feasible`` is false and every table says so).

HiGHS solves the plan of a county of up to 150 groups in the equivalent cumulative form ("moved by
year t", :func:`_milp_cumulative`: the same plans and objective, proved several times faster); larger
ones and the slack relaxation in the yearly form above.

:func:`greedy` is the baseline the benchmark compares against (and the MILP's start): groups
by priority, each into the earliest year it fits.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .config.funding import FundingConfig
from .config.phasing import PhasingConfig, PriorityRule
from .config.policy import PolicyConfig
from .config.reclamation import ReclamationConfig
from .context import RunContext, StepResult, attributes, run_policy
from .errors import DataError, SolverError

log = logging.getLogger(__name__)

Status = Literal["optimal", "time_limit", "infeasible_relaxed"]


# --------------------------------------------------------------------------- the problem (numbers only)
@dataclass(frozen=True)
class PhasingProblem:
    """The phasing problem as numbers: solvers see no tables (STYLE 3).

    Attributes
    ----------
    weight
        (n,) priority weight of each group: cost of one year of delay.
    cost
        (n, K) each group's subsidies (yuan) by payer, columns in the order of ``payers``.
    payers
        The payer of each cost column.
    site_households
        (n, S) households of each group at each site.
    persons
        (n,) persons of each group.
    years
        The plan years (T).
    budget_ceiling
        (T,) yuan per year, every payer together (``inf``: none).
    payer_ceiling
        (T, K) yuan per year per payer (``inf``: none).
    site_capacity
        (S, T) households per site per year (``inf``: none).
    households_ceiling, persons_ceiling
        (T,) county-wide households/persons per year (``inf``: none).
    """

    weight: np.ndarray
    cost: np.ndarray
    payers: tuple[str, ...]
    site_households: sp.csr_matrix
    persons: np.ndarray
    years: tuple[int, ...]
    budget_ceiling: np.ndarray
    payer_ceiling: np.ndarray
    site_capacity: np.ndarray
    households_ceiling: np.ndarray
    persons_ceiling: np.ndarray

    @property
    def n(self) -> int:
        return len(self.weight)

    @property
    def households(self) -> np.ndarray:
        return np.asarray(self.site_households.sum(axis=1)).ravel()

    def rows(self) -> list[tuple[str, int, int, np.ndarray, float]]:
        """Every finite ceiling as (constraint, year index, index within the kind, coefficients, ceiling).

        Built once a problem (the greedy, the MILP and the usage tables all read them): the
        coefficient arrays are shared, never to be modified.
        """
        return list(self._rows)

    @functools.cached_property
    def _rows(self) -> tuple[tuple[str, int, int, np.ndarray, float], ...]:
        out: list[tuple[str, int, int, np.ndarray, float]] = []
        total = self.cost.sum(axis=1)
        hh = self.households
        sh = self.site_households.tocsc()
        # each site's column once (not once a year): the same array serves every year's row
        site_cols = {
            s: sh[:, s].toarray().ravel()
            for s in range(self.site_capacity.shape[0])
            if np.isfinite(self.site_capacity[s]).any()
        }
        for t in range(len(self.years)):
            if np.isfinite(self.budget_ceiling[t]):
                out.append(("budget", t, -1, total, float(self.budget_ceiling[t])))
            for k in range(len(self.payers)):
                if np.isfinite(self.payer_ceiling[t, k]):
                    out.append(("payer", t, k, self.cost[:, k], float(self.payer_ceiling[t, k])))
            for s in range(self.site_capacity.shape[0]):
                if np.isfinite(self.site_capacity[s, t]):
                    out.append(("site", t, s, site_cols[s], float(self.site_capacity[s, t])))
            if np.isfinite(self.households_ceiling[t]):
                out.append(("households", t, -1, hh, float(self.households_ceiling[t])))
            if np.isfinite(self.persons_ceiling[t]):
                out.append(("persons", t, -1, self.persons, float(self.persons_ceiling[t])))
        return tuple(out)

    def objective(self, year_index: np.ndarray) -> float:
        """Priority-weighted delay of a plan (years after the first, weighted)."""
        return float(np.dot(self.weight, year_index))


@dataclass(frozen=True)
class PhasingSolution:
    """A phasing: the year index of every group and how it was found.

    Attributes
    ----------
    year_index
        (n,) 0 for the first plan year; -1 for a group the greedy could not place.
    objective
        Priority-weighted delay (lower is better).
    status
        ``optimal`` (within ``mip_gap``), ``time_limit`` (best found, gap below), ``infeasible_relaxed``
        (the ceilings cannot hold the plan; solved with them raised by ``shortfall``) or, for the greedy,
        ``greedy``/``greedy_failed``.
    feasible
        True when every group fits within the ceilings as given.
    mip_gap
        Relative gap HiGHS proved (0 when optimal at gap 0).
    shortfall
        One row per ceiling: ``constraint``, ``year``, ``index`` (payer or site position), ``ceiling``,
        ``used``, ``extra_needed`` (0 when the plan fits).
    seconds
        Solver wall time.
    method
        ``milp`` or ``greedy``.
    """

    year_index: np.ndarray
    objective: float
    status: str
    feasible: bool
    mip_gap: float
    shortfall: pd.DataFrame
    seconds: float
    method: str


def _usage(problem: PhasingProblem, year_index: np.ndarray) -> pd.DataFrame:
    rows = []
    in_year = [year_index == t for t in range(len(problem.years))]
    for kind, t, k, coef, cap in problem.rows():
        used = float(coef[in_year[t]].sum())
        rows.append({"constraint": kind, "year": problem.years[t], "index": k, "ceiling": cap, "used": used})
    return pd.DataFrame(rows, columns=["constraint", "year", "index", "ceiling", "used"])


def greedy(problem: PhasingProblem) -> PhasingSolution:
    """Groups by priority per household (then larger first), each into the earliest year it fits.

    A group that fits in no year gets ``-1`` and the solution is not feasible.
    """
    t0 = time.perf_counter()
    rows = problem.rows()
    T = len(problem.years)
    left = {(kind, t, k): cap for kind, t, k, _, cap in rows}
    coefs = {(kind, t, k): coef for kind, t, k, coef, _ in rows}
    by_year: dict[int, list[tuple[str, int, int]]] = {t: [] for t in range(T)}
    for key in left:
        by_year[key[1]].append(key)
    hh = problem.households
    per = problem.weight / np.maximum(hh, 1e-9)
    order = np.lexsort((np.arange(problem.n), -hh, -per))
    year = np.full(problem.n, -1, dtype=np.int64)
    for g in order:
        for t in range(T):
            keys = by_year[t]
            if all(coefs[key][g] <= left[key] + 1e-6 for key in keys):
                for key in keys:
                    left[key] -= coefs[key][g]
                year[g] = t
                break
    ok = bool((year >= 0).all())
    use = _usage(problem, year)
    use["extra_needed"] = 0.0
    obj = problem.objective(year) if ok else math.inf
    return PhasingSolution(
        year_index=year,
        objective=obj,
        status="greedy" if ok else "greedy_failed",
        feasible=ok,
        mip_gap=math.nan,
        shortfall=use,
        seconds=time.perf_counter() - t0,
        method="greedy",
    )


def _highs() -> Any:
    from .allocate.solve import quiet_highs

    return quiet_highs()


Rows = list[tuple[str, int, int, np.ndarray, float]]
MilpResult = tuple[str, np.ndarray | None, np.ndarray | None, float, Rows]

# HiGHS options of the cumulative model: its sub-MIP heuristics (RINS, RENS) spend most of the time on
# plans the greedy start and the LP lead to anyway (demo: 0.8 s CPU instead of 2.5 s, the same optimum).
# Presolve stays on: without it the demo is faster still (0.6 s) but the 4x tile does not close its gap.
_CUMULATIVE_OPTIONS: Mapping[str, Any] = {
    "mip_heuristic_run_rins": False,
    "mip_heuristic_run_rens": False,
}
# The cumulative model is used up to this many groups: its rows are as dense as the ceilings' groups, and
# on counties of hundreds of groups behind a few ceilings the yearly model closes the gap sooner
# (benchmarks/bench_phasing.py, CPU: demo, 59 groups, 3.1x faster; the 4x tile, 236 groups, 0.85x;
# synthetic counties of 200 and 800 groups at 4 and 16 sites 0.65x and 0.23x).
_CUMULATIVE_MAX_GROUPS = 150


def _milp(
    problem: PhasingProblem,
    *,
    slack: bool,
    time_limit_s: float,
    mip_gap: float,
    start: np.ndarray | None = None,
    raise_by: Mapping[tuple[str, int, int], float] | None = None,
) -> MilpResult:
    """Build and solve the MILP; return (status, year_index, slack values, gap, rows).

    The plan (``slack=False``) of a county of up to ``_CUMULATIVE_MAX_GROUPS`` groups is solved in the
    cumulative formulation (:func:`_milp_cumulative`, the same optimum several times faster); larger
    ones and the slack relaxation in the yearly one (:func:`_milp_yearly`).
    """
    rows = problem.rows()
    if raise_by:
        rows = [(kind, t, k, coef, cap + raise_by.get((kind, t, k), 0.0)) for kind, t, k, coef, cap in rows]
    if slack or len(problem.years) < 2 or problem.n > _CUMULATIVE_MAX_GROUPS:
        return _milp_yearly(problem, rows, slack=slack, time_limit_s=time_limit_s, mip_gap=mip_gap, start=start)
    return _milp_cumulative(problem, rows, time_limit_s=time_limit_s, mip_gap=mip_gap, start=start)


def _run_highs(
    lp: Any, *, time_limit_s: float, mip_gap: float, start_x: np.ndarray | None, options: Mapping[str, Any]
) -> tuple[str, np.ndarray | None, float]:
    """Solve ``lp``; return (status, column values, gap) with status ``optimal``, ``time_limit``,
    ``infeasible`` or ``no_solution`` (no plan found within the time)."""
    import highspy

    h = _highs()
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    h.setOptionValue("random_seed", 0)
    for key, value in options.items():
        h.setOptionValue(key, value)
    h.passModel(lp)
    if start_x is not None:
        sol = highspy.HighsSolution()
        sol.col_value = list(start_x)
        h.setSolution(sol)
    h.run()
    S = highspy.HighsModelStatus
    status = h.getModelStatus()
    info = h.getInfo()
    if status == S.kInfeasible:
        return "infeasible", None, math.nan
    if info.primal_solution_status != 2:
        if status in (S.kTimeLimit, S.kInterrupt, S.kSolutionLimit, S.kIterationLimit):
            return "no_solution", None, math.nan
        raise SolverError(f"phasing: HiGHS ended with status {h.modelStatusToString(status)}.")
    gap = float(info.mip_gap) if np.isfinite(info.mip_gap) else 0.0
    st = "optimal" if status == S.kOptimal else "time_limit"
    return st, np.asarray(h.getSolution().col_value), max(gap, 0.0)


def _lp(
    cost: np.ndarray,
    upper: np.ndarray,
    mat: sp.csc_matrix,
    row_lower: np.ndarray,
    row_upper: np.ndarray,
    integer: int,
    *,
    offset: float = 0.0,
) -> Any:
    """A HiGHS model: columns >= 0 (the first ``integer`` of them integer), rows ``row_lower <= mat x <= row_upper``."""
    import highspy

    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = mat.shape[1], mat.shape[0]
    lp.col_cost_ = cost
    lp.offset_ = float(offset)
    lp.col_lower_ = np.zeros(mat.shape[1])
    lp.col_upper_ = upper
    lp.row_lower_ = row_lower
    lp.row_upper_ = row_upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = mat.indptr
    lp.a_matrix_.index_ = mat.indices
    lp.a_matrix_.value_ = mat.data
    k = highspy.HighsVarType
    lp.integrality_ = [k.kInteger] * integer + [k.kContinuous] * (mat.shape[1] - integer)
    return lp


def _milp_yearly(
    problem: PhasingProblem,
    rows: Rows,
    *,
    slack: bool,
    time_limit_s: float,
    mip_gap: float,
    start: np.ndarray | None = None,
) -> MilpResult:
    """The yearly formulation: ``x[g, t] = 1`` when group ``g`` moves in year ``t``, one row per ceiling
    (with one non-negative slack column each when ``slack``), HiGHS's default options."""
    n, T = problem.n, len(problem.years)
    R = len(rows)
    nx = n * T
    ns = R if slack else 0
    # assignment rows: sum_t x[g, t] = 1 (column g*T + t)
    ri = [np.repeat(np.arange(n), T)]
    ci = [np.arange(nx)]
    vals = [np.ones(nx)]
    for r, (_, t, _, coef, _) in enumerate(rows):
        nz = np.flatnonzero(coef)
        ri.append(np.full(len(nz), n + r))
        ci.append(nz * T + t)
        vals.append(coef[nz].astype(float))
        if slack:
            ri.append(np.array([n + r]))
            ci.append(np.array([nx + r]))
            vals.append(np.array([-1.0]))
    mat = sp.csc_matrix((np.concatenate(vals), (np.concatenate(ri), np.concatenate(ci))), shape=(n + R, nx + ns))
    caps = np.array([cap for *_, cap in rows], dtype=float)
    cost = np.zeros(nx + ns)
    if slack:
        cost[nx:] = 1.0 / np.maximum(caps, 1.0)  # relative shortfall: 10 % of a ceiling costs 0.1
    else:
        cost[:nx] = (problem.weight[:, None] * np.arange(T)[None, :]).ravel()
    lp = _lp(
        cost,
        np.concatenate([np.ones(nx), np.full(ns, math.inf)]),
        mat,
        np.concatenate([np.ones(n), np.full(R, -math.inf)]),
        np.concatenate([np.ones(n), caps]),
        nx,
    )
    x0 = None
    if start is not None and (start >= 0).all():
        x0 = np.zeros(nx + ns)
        x0[np.arange(n) * T + start] = 1.0
    status, xv, gap = _run_highs(lp, time_limit_s=time_limit_s, mip_gap=mip_gap, start_x=x0, options={})
    if xv is None:
        return status, None, None, gap, rows
    year = np.argmax(xv[:nx].reshape(n, T), axis=1).astype(np.int64)
    return status, year, (xv[nx:] if slack else None), gap, rows


def _milp_cumulative(
    problem: PhasingProblem,
    rows: Rows,
    *,
    time_limit_s: float,
    mip_gap: float,
    start: np.ndarray | None = None,
) -> MilpResult:
    """The cumulative formulation ("moved by year t"): the same plans and objective as the yearly one.

    ``y[g, t] = 1`` when group ``g`` has moved by the end of year ``t`` (``t < T - 1``; every group has
    moved by the last year), ``y[g, t] <= y[g, t + 1]``; group ``g`` moves in year ``t`` when
    ``y[g, t] - y[g, t - 1] = 1``, so a year's ceiling row reads ``sum_g c_g (y[g, t] - y[g, t - 1]) <= C_t``
    and the delay ``sum_g w_g t_g = sum_g w_g (T - 1) - sum_{g, t} w_g y[g, t]`` (the constant is the
    model's objective offset, so HiGHS's relative gap is the yearly model's). Added rows, each the sum
    of the yearly rows of one ceiling: what has moved by year ``t`` fits in the ceilings of years
    ``0..t`` and what is left fits in those of years ``t+1..``:
    ``sum_g c_g - sum_{s > t} C_s <= sum_g c_g y[g, t] <= sum_{s <= t} C_s``. They cut nothing off, but
    the knapsack covers HiGHS derives from them bound the plan far better than the yearly rows do.
    A ceiling its groups cannot exceed in any year (non-negative coefficients summing to at most the
    ceiling) gives no row.
    """
    n, T = problem.n, len(problem.years)
    m = T - 1
    ny = n * m
    ri: list[np.ndarray] = []
    ci: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    lower: list[float] = []
    upper: list[float] = []

    def add(cols: list[tuple[np.ndarray, np.ndarray]], lo: float, hi: float) -> None:
        for c, v in cols:
            ri.append(np.full(len(c), len(lower)))
            ci.append(c)
            vals.append(v)
        lower.append(lo)
        upper.append(hi)

    g = np.arange(n)
    for t in range(m - 1):  # y[g, t] - y[g, t + 1] <= 0
        ri.extend([len(lower) + g, len(lower) + g])
        ci.extend([g * m + t, g * m + t + 1])
        vals.extend([np.ones(n), -np.ones(n)])
        lower.extend([-math.inf] * n)
        upper.extend([0.0] * n)
    by_ceiling: dict[tuple[str, int], dict[int, float]] = {}
    coefs: dict[tuple[str, int], np.ndarray] = {}
    for kind, t, k, coef, cap in rows:
        by_ceiling.setdefault((kind, k), {})[t] = cap
        coefs[(kind, k)] = coef
        nz = np.flatnonzero(coef)
        c = coef[nz].astype(float)
        total = float(c.sum())
        if not len(nz):
            if cap < 0:
                return "infeasible", None, None, math.nan, rows
            continue
        if (c >= 0).all() and total <= cap:
            continue  # its groups cannot exceed it in any year
        parts = []
        if t < m:
            parts.append((nz * m + t, c))
        if t > 0:
            parts.append((nz * m + t - 1, -c))
        add(parts, -math.inf, cap - (total if t == m else 0.0))
    for key, caps in by_ceiling.items():
        coef = coefs[key]
        nz = np.flatnonzero(coef)
        c = coef[nz].astype(float)
        total = float(c.sum())
        nonneg = bool((c >= 0).all())
        for t in range(m):
            hi = sum(caps[s] for s in range(t + 1)) if t > 0 and all(s in caps for s in range(t + 1)) else math.inf
            lo = total - sum(caps[s] for s in range(t + 1, T)) if all(s in caps for s in range(t + 1, T)) else -math.inf
            if nonneg:
                hi = math.inf if hi >= total else hi
                lo = -math.inf if lo <= 0 else lo
            if len(nz) and (math.isfinite(hi) or math.isfinite(lo)):
                add([(nz * m + t, c)], lo, hi)
    if ri:
        mat = sp.csc_matrix((np.concatenate(vals), (np.concatenate(ri), np.concatenate(ci))), shape=(len(lower), ny))
    else:
        mat = sp.csc_matrix((0, ny))
    w = problem.weight.astype(float)
    lp = _lp(
        np.repeat(-w, m),
        np.ones(ny),
        mat,
        np.array(lower, dtype=float),
        np.array(upper, dtype=float),
        ny,
        offset=float(w.sum()) * m,
    )
    y0 = None
    if start is not None and (start >= 0).all():
        y0 = (np.arange(m)[None, :] >= start[:, None]).astype(float).ravel()
    status, yv, gap = _run_highs(
        lp, time_limit_s=time_limit_s, mip_gap=mip_gap, start_x=y0, options=_CUMULATIVE_OPTIONS
    )
    if yv is None:
        return status, None, None, gap, rows
    moved = yv.reshape(n, m) > 0.5
    year = np.where(moved.any(axis=1), np.argmax(moved, axis=1), m).astype(np.int64)
    return status, year, None, gap, rows


_NO_PLAN = "phasing: HiGHS found no plan within the time limit. Fix: raise phasing.time_limit_s or the ceilings."


def solve(
    problem: PhasingProblem,
    *,
    time_limit_s: float = 60.0,
    mip_gap: float = 1e-4,
    baseline: PhasingSolution | None = None,
) -> PhasingSolution:
    """The annual plan by MILP (HiGHS), the greedy plan as its start.

    ``baseline`` is :func:`greedy`'s plan of this ``problem`` when the caller has it already (it is
    then not recomputed; its time counts in ``seconds``).

    When the ceilings cannot hold every group (HiGHS proves it, or finds no plan in the time),
    a relaxation with slacks finds the smallest extra per ceiling, and the plan is solved with
    the ceilings raised by it: ``feasible`` is false and ``shortfall.extra_needed`` says how much
    is missing per year and ceiling.

    Raises
    ------
    SolverError
        When HiGHS finds no plan at all within the time limit, even with the ceilings relaxed.
    """
    t0 = time.perf_counter() - (baseline.seconds if baseline is not None else 0.0)
    if problem.n == 0:
        empty = _usage(problem, np.zeros(0, dtype=np.int64)).assign(extra_needed=0.0)
        return PhasingSolution(np.zeros(0, dtype=np.int64), 0.0, "optimal", True, 0.0, empty, 0.0, "milp")
    base = baseline if baseline is not None else greedy(problem)
    start = base.year_index if base.feasible else None
    status, year, _, gap, _ = _milp(problem, slack=False, time_limit_s=time_limit_s, mip_gap=mip_gap, start=start)
    extra: dict[tuple[str, int, int], float] = {}
    feasible = year is not None
    if year is None:
        left = max(time_limit_s - (time.perf_counter() - t0), 1.0)
        _, syear, slack, _, rows = _milp(problem, slack=True, time_limit_s=left, mip_gap=mip_gap)
        if slack is None or syear is None:
            raise SolverError(_NO_PLAN)
        for (kind, t, k, _, _), s in zip(rows, slack, strict=True):
            if s > 1e-6:
                # whole yuan / households / persons, rounded up so the raised ceilings hold
                extra[(kind, t, k)] = float(math.ceil(s - 1e-6))
        if not extra and status == "no_solution":
            # the plan fits; HiGHS only ran out of time before finding one: keep the relaxation's plan
            year, status, gap, feasible = syear, "time_limit", math.nan, True
        else:
            left = max(time_limit_s - (time.perf_counter() - t0), 1.0)
            status, year, _, gap, _ = _milp(problem, slack=False, time_limit_s=left, mip_gap=mip_gap, raise_by=extra)
            if year is None:
                raise SolverError(_NO_PLAN)
            status = "infeasible_relaxed"
    use = _usage(problem, year)
    use["extra_needed"] = [extra.get((r.constraint, r.year - problem.years[0], r.index), 0.0) for r in use.itertuples()]
    return PhasingSolution(
        year_index=year,
        objective=problem.objective(year),
        status=status,
        feasible=feasible,
        mip_gap=gap,
        shortfall=use,
        seconds=time.perf_counter() - t0,
        method="milp",
    )


# --------------------------------------------------------------------------- from the budget to the problem
GROUP_KEYS = ("village_id", "group")


def hazard_flags(
    villages: pd.DataFrame,
    constraints: pd.DataFrame | None,
    *,
    kinds: Sequence[str],
    distance_m: float,
    causes: Sequence[str],
) -> pd.Series:
    """Which villages (rows of ``villages``) are threatened by a hazard.

    A village is threatened when it lies within ``distance_m`` of a constraint feature whose
    ``kind`` is in ``kinds`` (hazard zones and points), or when its ``poverty_cause`` is one of
    ``causes`` (因灾). Returns a boolean Series indexed like ``villages``.
    """
    flag = pd.Series(False, index=villages.index)
    if "poverty_cause" in villages.columns and causes:
        flag |= villages["poverty_cause"].fillna("").astype(str).isin(list(causes))
    geom = getattr(villages, "geometry", None)
    if constraints is not None and len(constraints) and geom is not None and "kind" in constraints.columns:
        haz = constraints[constraints["kind"].isin(list(kinds))]
        if len(haz):
            import shapely

            tree = shapely.STRtree(np.asarray(haz.geometry.values))
            pts = np.asarray(villages.geometry.values)
            idx = tree.query(pts, predicate="dwithin", distance=float(distance_m))
            near = np.zeros(len(villages), dtype=bool)
            near[np.unique(idx[0])] = True
            flag |= near
    return flag


def _scaled(x: pd.Series, *, low_first: bool) -> np.ndarray:
    """Scale to 0..1 (1 = highest, or lowest with ``low_first``); missing values score 0."""
    v = pd.to_numeric(x, errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(v)
    if not ok.any():
        return np.zeros(len(v))
    lo, hi = float(v[ok].min()), float(v[ok].max())
    if hi > lo:
        s = (v - lo) / (hi - lo)
        s = 1.0 - s if low_first else s
    else:
        s = np.ones(len(v))
    return np.where(ok, s, 0.0)


def phase_groups(
    budget: Any,
    villages: pd.DataFrame,
    cfg: PhasingConfig,
    *,
    hazard: pd.Series | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """The relocating groups of a budget with their priority score and subsidies.

    Parameters
    ----------
    budget
        A :class:`geofupin.policy.Budget` (units are village x site rows).
    villages
        The villages layer (``income_per_capita`` and any ``column`` rule's column).
    cfg
        The phasing section (priority rules).
    hazard
        Hazard flag per villages row (:func:`hazard_flags`); default: none threatened.

    Returns
    -------
    (groups, unit_group, warnings): one row per group (``group_key``, ``village_id``, ``name``,
    ``township``, ``group``, ``households``, ``persons``, ``poor_households``, ``hazard``,
    ``income_per_capita``, one ``priority_<rule>`` column per rule, ``priority_score``,
    ``weight``, ``subsidy_yuan``, ``subsidy_<payer>_yuan``), the group position of every budget
    unit, and warnings (a rule whose data is missing).
    """
    warnings: list[str] = []
    units = budget.units.reset_index(drop=True)
    key = units["village_id"].astype(str) + "\x1f" + units["group"].fillna("").astype(str)
    codes, uniq = pd.factorize(key, sort=False)
    unit_group = pd.DataFrame({"unit": np.arange(len(units)), "group_pos": codes})
    first = units.groupby(codes, sort=True).first()
    g = pd.DataFrame(
        {
            "group_key": list(uniq),
            "village_id": first["village_id"].astype(str).to_numpy(),
            "name": first["name"].to_numpy(),
            "township": first["township"].to_numpy(),
            "group": first["group"].fillna("").astype(str).to_numpy(),
        }
    )
    for col in ("households", "persons", "poor_households"):
        g[col] = np.bincount(codes, weights=units[col].to_numpy(dtype=float), minlength=len(uniq))
    v = attributes(villages)
    v["village_id"] = v["village_id"].astype(str)
    v["_hazard"] = False if hazard is None else hazard.reindex(villages.index).fillna(False).astype(bool).to_numpy()
    vv = v.drop_duplicates("village_id").set_index("village_id")
    g["hazard"] = g["village_id"].map(vv["_hazard"]).fillna(False).astype(bool).to_numpy()
    inc = g["village_id"].map(vv["income_per_capita"]) if "income_per_capita" in vv.columns else None
    g["income_per_capita"] = pd.to_numeric(inc, errors="coerce") if inc is not None else np.nan
    score = np.zeros(len(g))
    for i, rule in enumerate(cfg.priority):
        if rule.rule == "hazard":
            val = g["hazard"].to_numpy(dtype=float)
        elif rule.rule == "poorest":
            if inc is None:
                warnings.append(
                    "优先规则“最贫困”缺少人均纯收入 / priority 'poorest': villages have no income_per_capita."
                )
            val = _scaled(g["income_per_capita"], low_first=True)
        elif rule.rule == "poor_share":
            val = (g["poor_households"] / g["households"].where(g["households"] > 0)).fillna(0.0).to_numpy()
        else:
            col = str(rule.column)
            if col not in vv.columns:
                raise DataError(
                    f"phasing.priority[{i}]: villages have no column {col!r}. Fix: add it or name another column."
                )
            val = _scaled(g["village_id"].map(vv[col]), low_first=False)
        g[f"priority_{rule.rule}" if rule.rule != "column" else f"priority_{rule.column}"] = np.round(val, 6)
        score += rule.weight * val
    g["priority_score"] = np.round(score, 6)
    g["weight"] = g["households"] * (1.0 + g["priority_score"])
    lines = budget.lines
    ug = codes[lines["unit"].to_numpy()]
    g["subsidy_yuan"] = np.bincount(ug, weights=lines["amount_yuan"].to_numpy(dtype=float), minlength=len(g))
    for payer in dict.fromkeys(lines["payer"]):
        m = (lines["payer"] == payer).to_numpy()
        g[f"subsidy_{payer}_yuan"] = np.bincount(
            ug[m], weights=lines["amount_yuan"].to_numpy(dtype=float)[m], minlength=len(g)
        )
    return g, unit_group, warnings


def build_problem(
    groups: pd.DataFrame, units: pd.DataFrame, unit_group: pd.DataFrame, cfg: PhasingConfig
) -> tuple[PhasingProblem, list[str]]:
    """The numbers of :class:`PhasingProblem` from :func:`phase_groups`' tables and the ceilings."""
    years = cfg.years
    T = len(years)
    payers = tuple(
        c[len("subsidy_") : -len("_yuan")] for c in groups.columns if c.startswith("subsidy_") and c != "subsidy_yuan"
    )
    cost = groups[[f"subsidy_{p}_yuan" for p in payers]].to_numpy(dtype=float) if payers else np.zeros((len(groups), 0))
    site = units["site_id"].astype(str).to_numpy()
    sites = sorted(set(site))
    s_idx = {s: i for i, s in enumerate(sites)}
    sh = sp.csr_matrix(
        (
            units["households"].to_numpy(dtype=float),
            (unit_group["group_pos"].to_numpy(), np.array([s_idx[s] for s in site], dtype=np.int64)),
        ),
        shape=(len(groups), len(sites)),
    )
    inf = math.inf
    b = np.full(T, inf if cfg.budget_ceiling_yuan is None else float(cfg.budget_ceiling_yuan))
    for y, v in cfg.budget_ceiling_by_year_yuan.items():
        b[years.index(y)] = float(v)
    pc = np.full((T, len(payers)), inf)
    unknown = sorted(set(cfg.payer_ceiling_yuan) - set(payers))
    if unknown:
        raise DataError(
            f"phasing.payer_ceiling_yuan: payer {unknown[0]!r} pays nothing in this budget."
            f" Fix: use one of {', '.join(payers)}."
        )
    for k, p in enumerate(payers):
        if p in cfg.payer_ceiling_yuan:
            pc[:, k] = float(cfg.payer_ceiling_yuan[p])
    cap = np.full(
        (len(sites), T),
        inf if cfg.households_per_site_per_year is None else float(cfg.households_per_site_per_year),
        dtype=float,
    )
    cap[[i for i, s in enumerate(sites) if s == ""], :] = inf  # units with no site are not built at a site
    hc = np.full(T, inf if cfg.households_per_year is None else float(cfg.households_per_year))
    ppc = np.full(T, inf if cfg.persons_per_year is None else float(cfg.persons_per_year))
    prob = PhasingProblem(
        weight=groups["weight"].to_numpy(dtype=float),
        cost=cost,
        payers=payers,
        site_households=sh,
        persons=groups["persons"].to_numpy(dtype=float),
        years=years,
        budget_ceiling=b,
        payer_ceiling=pc,
        site_capacity=cap,
        households_ceiling=hc,
        persons_ceiling=ppc,
    )
    return prob, sites


# --------------------------------------------------------------------------- the annual plan tables
CONSTRAINT_ZH = {
    "budget": "年度资金上限",
    "payer": "年度分级资金上限",
    "site": "安置点年度建设能力",
    "households": "全县年度搬迁户数上限",
    "persons": "全县年度搬迁人数上限",
}
CONSTRAINT_UNIT = {
    "budget": "yuan",
    "payer": "yuan",
    "site": "households",
    "households": "households",
    "persons": "persons",
}


@dataclass(frozen=True)
class AnnualPlan:
    """The annual implementation plan: the solution and its tables.

    Attributes
    ----------
    solution, baseline
        The MILP's :class:`PhasingSolution` and the greedy's (same problem).
    tables
        ``phasing_plan`` (group x site -> year), ``phasing_years`` (per year: groups,
        households, persons, subsidies by payer x purpose, works, ceilings), ``phasing_progress``
        (township x year: planned and cumulative households, the 当年搬迁计划任务 the acceptance
        form scores against), ``phasing_shortfall`` (per ceiling: used, extra needed) and
        ``phasing_disbursement`` (each year's site works, tranches with dates).
    warnings
        Messages for the user.
    """

    solution: PhasingSolution
    baseline: PhasingSolution
    tables: Mapping[str, pd.DataFrame]
    warnings: tuple[str, ...] = ()


def annual_plan(
    budget: Any,
    villages: pd.DataFrame,
    cfg: PhasingConfig,
    *,
    hazard: pd.Series | None = None,
    site_plans: pd.DataFrame | None = None,
    disbursement: Any = None,
    milestones: Any = None,
) -> AnnualPlan:
    """Phase a budget's groups over the plan years and tabulate the result.

    Parameters
    ----------
    budget
        :class:`geofupin.policy.Budget` of the plan (units = groups x sites).
    villages
        The villages layer (priority data).
    cfg
        The ``phasing`` section.
    hazard
        Hazard flag per villages row (:func:`hazard_flags`).
    site_plans
        The plan step's ``plan_sites`` table: each site's works are built in the year its first
        group moves (先建后搬) and disbursed from that year's start date.
    disbursement, milestones
        :class:`~geofupin.policy.DisbursementRules` and :class:`~geofupin.policy.Milestones`
        for the works' tranches (default: the policy's defaults).
    """
    from . import plans
    from . import policy as pol

    groups, unit_group, warnings = phase_groups(budget, villages, cfg, hazard=hazard)
    units = budget.units.reset_index(drop=True)
    problem, _ = build_problem(groups, units, unit_group, cfg)
    base = greedy(problem)
    sol = solve(problem, time_limit_s=cfg.time_limit_s, mip_gap=cfg.mip_gap, baseline=base)
    years = np.asarray(cfg.years)
    groups = groups.assign(year=years[sol.year_index] if len(groups) else np.zeros(0, dtype=int))
    pos = unit_group["group_pos"].to_numpy()
    unit_year = groups["year"].to_numpy()[pos] if len(groups) else np.zeros(0, dtype=int)
    # -- plan: one row per unit (group x site)
    site_names: dict[str, str] = {}
    if site_plans is not None and len(site_plans) and "name" in site_plans:
        site_names = dict(zip(site_plans["site_id"].astype(str), site_plans["name"].astype(str), strict=False))
    unit_sub = np.bincount(
        budget.lines["unit"].to_numpy(), weights=budget.lines["amount_yuan"].to_numpy(dtype=float), minlength=len(units)
    )
    plan = pd.DataFrame(
        {
            "year": unit_year,
            "township": units["township"].to_numpy(),
            "village_id": units["village_id"].astype(str).to_numpy(),
            "name": units["name"].to_numpy(),
            "group": units["group"].fillna("").astype(str).to_numpy(),
            "site_id": units["site_id"].astype(str).to_numpy(),
            "site_name": [site_names.get(s, "") for s in units["site_id"].astype(str)],
            "households": units["households"].to_numpy(dtype=float),
            "persons": units["persons"].to_numpy(dtype=float),
            "hazard": groups["hazard"].to_numpy()[pos] if len(groups) else np.zeros(0, dtype=bool),
            "income_per_capita": groups["income_per_capita"].to_numpy()[pos] if len(groups) else [],
            "priority_score": groups["priority_score"].to_numpy()[pos] if len(groups) else [],
            "subsidy_yuan": np.round(unit_sub, 2),
        }
    )
    plan = plan.sort_values(["year", "township", "village_id", "site_id"], kind="stable").reset_index(drop=True)
    # -- per year
    lines = budget.lines
    ly = unit_year[lines["unit"].to_numpy()] if len(lines) else np.zeros(0, dtype=int)
    pairs = list(dict.fromkeys((r.payer, r.purpose) for r in budget.policy.rules))
    wide = lines.assign(year=ly).pivot_table(
        index="year", columns=["payer", "purpose"], values="amount_yuan", aggfunc="sum"
    )
    yr = pd.DataFrame({"year": list(cfg.years)})
    by_year = plan.groupby("year")
    yr["groups"] = yr["year"].map(groups.groupby("year").size()).fillna(0).astype(int)
    yr["households"] = yr["year"].map(by_year["households"].sum()).fillna(0.0)
    yr["persons"] = yr["year"].map(by_year["persons"].sum()).fillna(0.0)
    yr["hazard_households"] = yr["year"].map(plan[plan["hazard"]].groupby("year")["households"].sum()).fillna(0.0)
    for payer, purpose in pairs:
        col = pol.pay_column(payer, purpose)
        yr[col] = yr["year"].map(wide[(payer, purpose)]).fillna(0.0).round(2) if (payer, purpose) in wide else 0.0
    yr["subsidy_total_yuan"] = yr[[pol.pay_column(*p) for p in pairs]].sum(axis=1).round(2)
    # -- works: each site's in the year its first group moves
    works = pd.DataFrame(columns=["project_id", "site_id", "cost_yuan"])
    open_year: dict[str, int] = {}
    if len(plan):
        open_year = plan[plan["site_id"] != ""].groupby("site_id")["year"].min().astype(int).to_dict()
    if site_plans is not None and len(site_plans):
        empty_v = pd.DataFrame(columns=["village_id", "name"])
        works = plans.works_projects(site_plans[site_plans["site_id"].astype(str).isin(open_year)], empty_v)
        works["site_id"] = works["site_id"].astype(str)
        works.insert(0, "year", works["site_id"].map(open_year).astype(int))
    yr["site_works_yuan"] = yr["year"].map(works.groupby("year")["cost_yuan"].sum() if len(works) else {}).fillna(0.0)
    yr["site_works_yuan"] = yr["site_works_yuan"].astype(float).round(2)
    yr["sites_opened"] = yr["year"].map(pd.Series(list(open_year.values())).value_counts()).fillna(0).astype(int)
    yr["budget_ceiling_yuan"] = problem.budget_ceiling
    total_hh = float(plan["households"].sum())
    yr["cumulative_households"] = yr["households"].cumsum()
    yr["cumulative_share"] = (yr["cumulative_households"] / total_hh).round(6) if total_hh > 0 else 0.0
    yr["feasible"] = sol.feasible
    # -- progress: township x year, what 「当年搬迁计划任务完成情况」 is scored against
    prog = _progress(plan, cfg.years)
    # -- shortfall
    short = sol.shortfall.copy()
    payers = problem.payers
    sites_sorted = sorted(set(units["site_id"].astype(str)))
    short.insert(1, "constraint_zh", short["constraint"].map(CONSTRAINT_ZH))
    short["payer_or_site"] = [
        payers[i] if c == "payer" else (sites_sorted[i] if c == "site" else "")
        for c, i in zip(short["constraint"], short["index"], strict=True)
    ]
    short["unit"] = short["constraint"].map(CONSTRAINT_UNIT)
    short = short.drop(columns="index")
    short["used"] = short["used"].round(2)
    # -- disbursement of each year's works, from that year's start date
    frames = []
    for y in cfg.years:
        w = works[works["year"] == y] if len(works) else works
        if len(w):
            rules = disbursement or pol.DisbursementRules()
            frames.append(pol.disbursement_schedule(w, rules, start_date=cfg.start_date(y), milestones=milestones))
    disb = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["year", "project_id"])
    if not sol.feasible:
        extra = short[short["extra_needed"] > 0]
        parts = [
            f"{r.year}年{r.constraint_zh}{(' ' + r.payer_or_site) if r.payer_or_site else ''}缺{r.extra_needed:,.0f}"
            for r in extra.itertuples()
        ]
        warnings.append(
            "年度上限无法容纳全部搬迁任务,须追加:"
            + ";".join(parts)
            + f" / the ceilings cannot hold the plan: {len(extra)} ceiling(s) short (table phasing_shortfall)."
        )
    if sol.status == "time_limit":
        warnings.append(
            f"分年度计划达到求解时限,相对间隙{sol.mip_gap:.2%} / phasing hit its time limit (gap {sol.mip_gap:.2%})."
        )
    tables = {
        "phasing_plan": plan,
        "phasing_years": yr,
        "phasing_progress": prog,
        "phasing_shortfall": short,
        "phasing_disbursement": disb,
    }
    return AnnualPlan(solution=sol, baseline=base, tables=tables, warnings=tuple(warnings))


def _progress(plan: pd.DataFrame, years: Sequence[int]) -> pd.DataFrame:
    """Township x year: the year's task, cumulative, and the township's share of its whole plan."""
    town = plan["township"].astype(str).to_numpy() if len(plan) else np.zeros(0, dtype=object)
    towns = sorted(set(town))
    T = len(years)
    # every plan row's (township, year) cell; the county-wide row 全县 is the last township
    t_pos = pd.Index(towns).get_indexer(town) if len(plan) else np.zeros(0, dtype=np.int64)
    y_pos = pd.Index([int(y) for y in years]).get_indexer(plan["year"].astype(int)) if len(plan) else t_pos
    ok = y_pos >= 0
    cell = (t_pos * T + y_pos)[ok]
    county_cell = y_pos[ok] + len(towns) * T
    size = (len(towns) + 1) * T

    def total(column: str) -> np.ndarray:
        v = plan[column].to_numpy(dtype=float)[ok] if len(plan) else np.zeros(0)
        return (
            np.bincount(cell, weights=v, minlength=size) + np.bincount(county_cell, weights=v, minlength=size)
        ).reshape(-1, T)

    hh, pp = total("households"), total("persons")
    counts = np.zeros(size, dtype=np.int64)
    if len(plan):
        keys = plan[["village_id", "group"]].astype(str)[ok]
        for where in (cell, county_cell):
            firsts = ~pd.DataFrame(
                {"c": where, "v": keys["village_id"].to_numpy(), "g": keys["group"].to_numpy()}
            ).duplicated()
            counts += np.bincount(where[firsts.to_numpy()], minlength=size)
    groups = counts.reshape(-1, T)
    target = hh.sum(axis=1)
    cum_hh, cum_pp = np.cumsum(hh, axis=1), np.cumsum(pp, axis=1)
    rows = []
    for i, name in enumerate([*towns, "全县"]):
        for j, y in enumerate(years):
            rows.append(
                {
                    "township": name,
                    "year": int(y),
                    "planned_groups": int(groups[i, j]),
                    "planned_households": float(hh[i, j]),
                    "planned_persons": float(pp[i, j]),
                    "cumulative_households": float(cum_hh[i, j]),
                    "cumulative_persons": float(cum_pp[i, j]),
                    "target_households": float(target[i]),
                    "cumulative_share": round(float(cum_hh[i, j]) / float(target[i]), 6) if target[i] > 0 else 0.0,
                    "completed_households": np.nan,
                }
            )
    return pd.DataFrame(rows)


def plan_completion_points(
    progress: pd.DataFrame, completed: Mapping[str, float], *, year: int, max_points: float
) -> pd.DataFrame:
    """Score 「当年搬迁计划任务完成情况」 for one year: points = max_points x min(1, completed / planned).

    Parameters
    ----------
    progress
        The ``phasing_progress`` table.
    completed
        Households actually moved in ``year``, by township.
    year
        The year scored.
    max_points
        The item's points on the acceptance form (``plan_completion``).

    Returns
    -------
    One row per township with a task that year: ``planned_households``, ``completed_households``,
    ``completion_rate``, ``points``.

    Raises
    ------
    DataError
        For a township with no task that year.
    """
    sel = progress[(progress["year"] == year) & (progress["township"] != "全县") & (progress["planned_households"] > 0)]
    unknown = sorted(set(completed) - set(sel["township"]))
    if unknown:
        raise DataError(
            f"plan completion {year}: township {unknown[0]!r} has no relocation task that year."
            " Fix: check the township name and the year against phasing_progress."
        )
    out = sel[["township", "year", "planned_households"]].copy()
    out["completed_households"] = out["township"].map(lambda t: float(completed.get(t, 0.0)))
    out["completion_rate"] = (out["completed_households"] / out["planned_households"]).round(6)
    out["points"] = (max_points * out["completion_rate"].clip(upper=1.0)).round(2)
    return out.reset_index(drop=True)


__all__: Sequence[str] = (
    "AnnualPlan",
    "PhasingConfig",
    "PhasingProblem",
    "PhasingSolution",
    "PriorityRule",
    "annual_plan",
    "build_problem",
    "greedy",
    "hazard_flags",
    "phase_groups",
    "plan_completion_points",
    "solve",
    "step",
)


# --------------------------------------------------------------------------- the step
def _plan_budget(ctx: RunContext, policy: Any, pcfg: PolicyConfig) -> Any:
    """The plan's budget (:class:`geofupin.policy.Budget`) of the run's allocation and policy: the ``plan``
    step's when it computed it with this policy and options, else computed here (the same way)."""
    from . import policy as pol

    options = pcfg.options or pol.PolicyOptions()
    budget = ctx.artifact("plan", "budget")
    if budget is not None and budget.options == options and budget.policy == pol.effective_policy(policy, options):
        return budget
    units = pol.plan_units(ctx.layers.villages, ctx.table("assignment"))
    return pol.compute_budget(units, policy, pcfg.options)


def step(ctx: RunContext) -> StepResult:
    """The ``phase`` step: annual plan (``phasing``), funding plan (``funding``), homesteads (``reclamation``).

    Runs after ``plan`` (its ``plan_sites`` table dates each site's works); recomputes the
    plan's budget from the same policy and allocation, so every yuan of ``phasing_years`` is a
    yuan of ``budget_county``. Without any of the three sections it does nothing.
    """
    from .funding import check_agrees, funding_plan

    cfg: PhasingConfig | None = getattr(ctx.scenario, "phasing", None)
    fcfg: FundingConfig | None = getattr(ctx.scenario, "funding", None)
    rcfg: ReclamationConfig | None = getattr(ctx.scenario, "reclamation", None)
    if cfg is None and fcfg is None and rcfg is None:
        built = _construction_tables(ctx, None)
        return StepResult(tables=built, summary={"skipped": "no phasing, funding or reclamation section"})
    pcfg: PolicyConfig = getattr(ctx.scenario, "policy", None) or PolicyConfig()
    policy = run_policy(ctx)  # read once a run (the plan step's read)
    budget = _plan_budget(ctx, policy, pcfg)
    tables: dict[str, pd.DataFrame] = {}
    warnings: list[str] = []
    summary: dict[str, Any] = {}
    if fcfg is not None:
        fp = funding_plan(budget, ctx.layers.villages, fcfg, housing=pcfg.housing, site_plans=ctx.table("plan_sites"))
        check_agrees(fp, budget)
        tables.update(fp.tables)
        warnings.extend(fp.warnings)
        c = fp.tables["funding_county"].iloc[0]
        summary["funding"] = {
            k: round(float(c[k]), 2)
            for k in ("subsidy_total_yuan", "department_yuan", "county_gap_yuan", "own_total_yuan", "total_yuan")
        }
        summary["funding"]["households_over_limit"] = int(fp.tables["funding_household"]["over_limit"].sum())
    if rcfg is not None:
        from .reclamation import reclamation

        rec = reclamation(budget, ctx.layers.villages, rcfg, sites=ctx.layer("sites"))
        tables.update(rec.tables)
        c = rec.tables["reclamation_county"].iloc[0]
        summary["reclamation"] = {k: float(c[k]) for k in ("reclaimable_mu", "site_land_mu", "balance_mu")}
    if cfg is None:
        tables.update(_construction_tables(ctx, None))
        return StepResult(tables=tables, summary=summary, warnings=tuple(warnings))
    hazard = hazard_flags(
        ctx.layers.villages,
        ctx.layers.constraints,
        kinds=cfg.hazard_kinds,
        distance_m=cfg.hazard_distance_m,
        causes=cfg.hazard_causes,
    )
    plans_cfg = getattr(ctx.scenario, "plans", None)
    res = annual_plan(
        budget,
        ctx.layers.villages,
        cfg,
        hazard=hazard,
        site_plans=ctx.table("plan_sites"),
        disbursement=policy.disbursement,
        milestones=getattr(plans_cfg, "milestones", None),
    )
    sol, base = res.solution, res.baseline
    short = res.tables["phasing_shortfall"]
    summary["phasing"] = {
        "years": [cfg.first_year, cfg.last_year],
        "groups": len(res.tables["phasing_plan"][["village_id", "group"]].drop_duplicates()),
        "status": sol.status,
        "feasible": sol.feasible,
        "objective": round(sol.objective, 4),
        "mip_gap": None if math.isnan(sol.mip_gap) else round(sol.mip_gap, 6),
        "seconds": round(sol.seconds, 3),
        "greedy_objective": round(base.objective, 4) if base.feasible else None,
        "extra_needed": {k: float(v) for k, v in short.groupby("constraint")["extra_needed"].sum().items() if v > 0},
        "years_used": sorted(int(y) for y in set(res.tables["phasing_plan"]["year"])),
    }
    tables.update(res.tables)
    tables.update(_construction_tables(ctx, res.tables["phasing_plan"]))
    warnings.extend(res.warnings)
    return StepResult(tables=tables, summary=summary, warnings=tuple(warnings))


def _construction_tables(ctx: RunContext, phasing_plan: pd.DataFrame | None) -> dict[str, pd.DataFrame]:
    """``site_construction`` and ``site_phases`` (安置点建设规划表) when the run placed anyone at a site."""
    from .config.plans import PlansConfig
    from .construction import site_construction

    assignment = ctx.table("assignment")
    sites = ctx.layer("sites")
    if sites is None:
        sites = ctx.layers.candidates
    if assignment is not None and "mode" in assignment.columns:  # the central sites only (not 敬老院, 周转房, 分散)
        assignment = assignment[assignment["mode"].fillna("central") == "central"]
        if phasing_plan is not None and "site_id" in phasing_plan.columns:
            central = set(assignment["site_id"].astype(str))
            phasing_plan = phasing_plan[phasing_plan["site_id"].astype(str).isin(central)]
    if assignment is None or not len(assignment) or sites is None:
        return {}
    pcfg: PlansConfig = getattr(ctx.scenario, "plans", None) or PlansConfig()
    table, phases = site_construction(
        sites,
        assignment,
        plan_sites=ctx.table("plan_sites"),
        housing=ctx.table("housing_check"),
        phasing_plan=phasing_plan,
        facilities=ctx.layers.facilities,
        central_village_build_mode=pcfg.central_village_build_mode,
        clinic_max_dist_m=pcfg.clinic_max_dist_m,
    )
    return {"site_construction": table, "site_phases": phases}
