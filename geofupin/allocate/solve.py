"""Solvers over a :class:`~geofupin.allocate.matrix.CostMatrix` (numbers only).

Models
------
- :func:`solve_flow`: divisible persons (households may be split between sites); a
  transportation problem solved as min-cost flow with OR-Tools ``SimpleMinCostFlow`` (or as
  an LP with HiGHS, ``solver='highs'``, for cross-checks).
- :func:`solve_single_source`: each unit (village or 村民小组) moves whole to one site; MILP
  with HiGHS, time limit and reported gap.
- :func:`solve_p_median`: capacitated p-median: open ``p`` sites (``fixed`` ones stay open)
  and assign units to them at least person-minutes. Uncapacitated on a complete matrix, it
  first solves the LP relaxation with lazily added ``x_ij <= y_j`` rows (row generation);
  an integral LP optimum is the proven optimum, else the full MIP runs.
- :func:`solve_max_coverage`: open ``p`` sites serving the most persons within a service
  standard (capacitated maximal coverage), then the least person-minutes.

Every model serves everyone when it can. When it cannot, it returns the *relaxed* solution
that serves the most persons (lexicographic: first most persons served, then least cost) and
explains each unserved unit (:mod:`geofupin.allocate.diagnose`).

Cost scaling for OR-Tools
-------------------------
OR-Tools needs integer costs. A cost per person ``c`` (minutes) becomes
``round(c * cost_scale)`` with ``cost_scale = 1000`` (1/1000 minute) by default, lowered by
powers of ten when the largest cost times the total demand could overflow int64. Reported
objectives are recomputed from the unscaled costs, so the rounding only affects ties
(at most 0.0005 min per person per arc).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import InfeasibleError, SolverError
from .diagnose import explain_unserved
from .matrix import CostMatrix

logger = logging.getLogger(__name__)

Status = Literal["optimal", "time_limit", "greedy"]


@dataclass(frozen=True, eq=False)
class Allocation:
    """Who goes where: the result of an allocation model.

    Attributes
    ----------
    assignment
        One row per (unit, site) pair that carries persons: ``unit_id``, ``site_id``,
        ``persons``, ``households``, ``cost`` (per person), ``time_min``, ``dist_m``.
    site_load
        One row per site: ``site_id``, ``capacity_persons``, ``assigned_persons``,
        ``assigned_households``, ``open`` (receives anyone, or is fixed/opened).
    unserved
        Units (or their remainders) nobody could place: ``unit_id``, ``persons``,
        ``households``, ``rule``, ``reason_zh``, ``reason_en``.
    objective
        Sum of persons x cost per person over the assignment (person-minutes for the
        ``person_minutes`` objective).
    solver
        Which engine produced it (``ortools-mcf``, ``highs-lp``, ``highs-mip``, ``greedy``).
    gap
        Relative MIP gap reached (0 for a proven optimum; ``None`` for greedy).
    status
        ``optimal``; ``time_limit`` (best incumbent when time ran out, see ``gap``);
        ``greedy`` (no solver solution in time: greedy heuristic, not optimal).
    relaxed
        True when not everyone could be served: the solution serves the most persons.
    open_sites
        Ids of the open sites.
    messages
        Notes for the user (time limit hit, greedy fallback, rules that bind, ...).
    """

    assignment: pd.DataFrame
    site_load: pd.DataFrame
    unserved: pd.DataFrame
    objective: float
    solver: str
    gap: float | None
    status: Status
    relaxed: bool = False
    open_sites: tuple[str, ...] = ()
    messages: tuple[str, ...] = field(default=())

    @property
    def served_persons(self) -> int:
        """Persons placed at a site."""
        return int(self.assignment["persons"].sum())

    @property
    def unserved_persons(self) -> int:
        """Persons nobody could place."""
        return int(self.unserved["persons"].sum())


# --------------------------------------------------------------------------- results


def quiet_highs() -> Any:
    """A HiGHS instance that prints nothing, not even its banner.

    ``highspy.Highs()`` enables its Python callbacks in the constructor, which prints the
    "Running HiGHS ..." header before ``output_flag`` can be switched off (HiGHS issues
    #1702, #2749). The core class has no callbacks (geofupin uses none), so it is built
    directly and silenced first; ``highspy.Highs`` is the fallback if the core class moves.
    """
    import highspy

    core = getattr(getattr(highspy, "_core", None), "_Highs", None)
    h = core() if core is not None else highspy.Highs()
    h.setOptionValue("output_flag", False)
    return h


def _apportion(total: np.ndarray, parts: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Split integer ``total[g]`` over the entries of each group proportionally to ``parts``
    (largest remainder), vectorised. ``groups`` gives each entry's group index."""
    psum = np.bincount(groups, weights=parts, minlength=len(total))
    share = np.where(psum[groups] > 0, parts / np.where(psum[groups] > 0, psum[groups], 1), 0.0)
    exact = share * total[groups]
    base = np.floor(exact + 1e-9).astype(np.int64)
    left = total - np.bincount(groups, weights=base, minlength=len(total)).astype(np.int64)
    rem = exact - base
    order = np.lexsort((-rem, groups))
    g = groups[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]]) if len(g) else np.array([], dtype=np.int64)
    rank = np.arange(len(g)) - np.repeat(starts, np.diff(np.r_[starts, len(g)]))
    bonus = np.zeros(len(g), dtype=np.int64)
    bonus[rank < left[g]] = 1
    out = base.copy()
    out[order] += bonus
    return out


def _households_of_pieces(cm: CostMatrix, served: np.ndarray, persons: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Households of each (unit, site) piece: whole households, following persons.

    A unit's placed households are its households x placed share (rounded; at least one per
    piece and at least one left for an unplaced remainder when the unit has enough); each
    piece first gets one household, the rest go by persons (largest remainder). So a piece
    with persons has households whenever the unit has as many households as pieces.
    """
    pieces = np.bincount(rows, minlength=cm.n_units)
    h = cm.households
    total = np.rint(h * served / cm.demand).astype(np.int64)
    leftover = served < cm.demand
    total = np.minimum(total, np.where(leftover & (h - 1 >= pieces), h - 1, h))
    total = np.maximum(total, np.minimum(pieces, h))
    base = np.where(total[rows] >= pieces[rows], 1, 0).astype(np.int64)
    rest = total - np.bincount(rows, weights=base, minlength=cm.n_units).astype(np.int64)
    return base + _apportion(rest, (persons - base).astype(float), rows)


def build_allocation(
    cm: CostMatrix,
    flow: np.ndarray,
    *,
    solver: str,
    gap: float | None,
    status: Status,
    open_mask: np.ndarray | None = None,
    single_source: bool = False,
    rule_values: dict[str, object] | None = None,
    messages: Sequence[str] = (),
) -> Allocation:
    """Turn persons per arc into an :class:`Allocation` (tables, diagnostics)."""
    flow = np.rint(np.asarray(flow, dtype=float)).astype(np.int64)
    used = flow > 0
    rows, cols = cm.rows[used], cm.cols[used]
    persons = flow[used]
    served = np.bincount(rows, weights=persons, minlength=cm.n_units).astype(np.int64)
    if np.any(served > cm.demand):
        raise SolverError("solver returned more persons than a unit has; this is a bug, please report it.")
    hh_served = _households_of_pieces(cm, served, persons, rows)
    assignment = pd.DataFrame(
        {
            "unit_id": cm.unit_ids[rows].astype(str),
            "site_id": cm.site_ids[cols].astype(str),
            "persons": persons,
            "households": hh_served,
            "cost": cm.cost[used],
            "time_min": cm.time_min[used],
            "dist_m": cm.dist_m[used],
        }
    )
    load_p = np.bincount(cols, weights=persons, minlength=cm.n_sites).astype(np.int64)
    load_h = np.bincount(cols, weights=hh_served, minlength=cm.n_sites).astype(np.int64)
    is_open = load_p > 0 if open_mask is None else (np.asarray(open_mask, dtype=bool) | (load_p > 0))
    site_load = pd.DataFrame(
        {
            "site_id": cm.site_ids.astype(str),
            "capacity_persons": cm.capacity,
            "assigned_persons": load_p,
            "assigned_households": load_h,
            "open": is_open,
        }
    )
    if np.any(load_p > cm.capacity + 1e-6):
        j = int(np.argmax(load_p - cm.capacity))
        raise SolverError(
            f"site {cm.site_ids[j]} got {load_p[j]} persons over capacity {cm.capacity[j]}; please report."
        )
    unserved = explain_unserved(
        cm, served, load_p, single_source=single_source, open_mask=is_open, rule_values=rule_values or {},
        served_households=np.bincount(rows, weights=hh_served, minlength=cm.n_units).astype(np.int64),
    )  # fmt: skip
    msgs = list(messages)
    relaxed = bool(len(unserved))
    if relaxed:
        msgs.append(
            f"{int(unserved['persons'].sum())} of {int(cm.demand.sum())} persons cannot be placed; "
            "this is the relaxed solution that serves the most persons."
        )
    return Allocation(
        assignment=assignment,
        site_load=site_load,
        unserved=unserved,
        objective=float(np.dot(persons, cm.cost[used])),
        solver=solver,
        gap=gap,
        status=status,
        relaxed=relaxed,
        open_sites=tuple(str(s) for s in cm.site_ids[is_open]),
        messages=tuple(msgs),
    )


# --------------------------------------------------------------------------- OR-Tools flow


def _cost_scale(cm: CostMatrix, scale: float) -> float:
    max_cost = float(cm.cost.max()) if cm.n_arcs else 0.0
    total = float(cm.demand.sum())
    while scale > 1e-6 and (max_cost * scale + 1) * total * 4 > 2**62:
        scale /= 10
    return scale


def _mcf_flows(cm: CostMatrix, *, cost_scale: float = 1000.0) -> tuple[np.ndarray, float]:
    """Persons per arc of the min-cost flow among those that serve the most persons.

    OR-Tools ``solve()`` when every person can be placed; when that is infeasible,
    ``solve_max_flow_with_min_cost()`` (maximum flow first, then least cost among those).
    """
    from ortools.graph.python import min_cost_flow

    n, m = cm.n_units, cm.n_sites
    sink = n + m
    scale = _cost_scale(cm, cost_scale)
    arc_cost = np.rint(cm.cost * scale).astype(np.int64)
    total = int(cm.demand.sum())
    cap_site = np.where(np.isfinite(cm.capacity), np.floor(np.minimum(cm.capacity, total)), total).astype(np.int64)
    tails = np.concatenate([cm.rows, n + np.arange(m)]).astype(np.int32)
    heads = np.concatenate([n + cm.cols, np.full(m, sink)]).astype(np.int32)
    caps = np.concatenate([cm.demand[cm.rows], cap_site]).astype(np.int64)
    costs = np.concatenate([arc_cost, np.zeros(m, np.int64)])
    smcf = min_cost_flow.SimpleMinCostFlow()
    arcs = smcf.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    supplies = np.zeros(n + m + 1, dtype=np.int64)
    supplies[:n] = cm.demand
    supplies[sink] = -total
    smcf.set_nodes_supplies(np.arange(n + m + 1, dtype=np.int32), supplies)
    status = smcf.solve()  # everyone can be served: the plain (faster) solve is optimal
    if status == smcf.INFEASIBLE:
        status = smcf.solve_max_flow_with_min_cost()
    if status != smcf.OPTIMAL:
        raise SolverError(f"OR-Tools min-cost flow ended with status {status}; check capacities and costs.")
    flows = smcf.flows(arcs[: cm.n_arcs])
    return np.asarray(flows, dtype=np.int64), scale


def solve_flow(
    cm: CostMatrix,
    *,
    solver: Literal["ortools", "highs"] = "ortools",
    cost_scale: float = 1000.0,
    rule_values: dict[str, object] | None = None,
) -> Allocation:
    """Divisible allocation (persons may be split between sites) at least total cost.

    Parameters
    ----------
    cm
        The cost matrix.
    solver
        ``ortools`` (min-cost flow, integer costs scaled by ``cost_scale``) or ``highs``
        (LP on the float costs, lexicographic: most persons served, then least cost).
    cost_scale
        Multiplier before rounding costs to integers for OR-Tools (see the module notes).
    rule_values
        Rule settings quoted in unserved reasons (``{'cutoff_min': 180, ...}``).

    Returns
    -------
    Allocation
        Optimal; ``relaxed`` when capacity or rules leave persons unplaced.

    Examples
    --------
    >>> cm = CostMatrix.from_dense([[1.0, 4.0], [2.0, 1.0]], [10, 10], [15, 15])
    >>> solve_flow(cm).objective
    20.0
    """
    if solver == "highs":
        return _solve_highs(cm, binary=False, rule_values=rule_values, force_lp=True)
    flows, scale = _mcf_flows(cm, cost_scale=cost_scale)
    msgs = () if scale == cost_scale else (f"costs scaled by {scale:g} (not {cost_scale:g}) to avoid overflow",)
    return build_allocation(
        cm, flows, solver="ortools-mcf", gap=0.0, status="optimal", rule_values=rule_values, messages=msgs
    )


# --------------------------------------------------------------------------- greedy


def greedy(
    cm: CostMatrix,
    *,
    single_source: bool = True,
    open_mask: np.ndarray | None = None,
) -> np.ndarray:
    """Persons per arc of a greedy solution: largest units first, each to its cheapest site
    with room (whole when ``single_source``). Used as a MIP start and as the fallback when
    the time limit is too short for the solver; not optimal."""
    free = np.where(np.isfinite(cm.capacity), cm.capacity, np.inf).astype(float)
    flow = np.zeros(cm.n_arcs, dtype=np.int64)
    starts = cm.row_starts()
    allowed = np.ones(cm.n_sites, dtype=bool) if open_mask is None else np.asarray(open_mask, dtype=bool)
    for i in np.argsort(-cm.demand, kind="stable"):
        a0, a1 = starts[i], starts[i + 1]
        if a0 == a1:
            continue
        js = cm.cols[a0:a1]  # sorted by cost within the unit
        need = int(cm.demand[i])
        if single_source:
            ok = np.flatnonzero(allowed[js] & (free[js] >= need))
            if len(ok):
                flow[a0 + ok[0]] = need
                free[js[ok[0]]] -= need
        else:
            room = np.where(allowed[js], np.floor(free[js]), 0)
            take = np.minimum(room, np.maximum(0, need - np.concatenate([[0], np.cumsum(room)[:-1]])))
            take = np.clip(take, 0, None).astype(np.int64)
            flow[a0:a1] = take
            free[js] -= take
    return flow


def round_flow(cm: CostMatrix, flow: np.ndarray) -> np.ndarray:
    """Whole-unit solution from a divisible one: a unit that the flow keeps whole stays; a
    split unit (at most ``n_sites - 1`` of them in a basic transportation solution) goes to
    its cheapest site with room, largest first, else waits. A MIP start, not optimal."""
    served = np.bincount(cm.rows, weights=flow, minlength=cm.n_units)
    whole_arc = (flow == cm.demand[cm.rows]) & (flow > 0)
    out = np.where(whole_arc, flow, 0).astype(np.int64)
    free = cm.capacity - np.bincount(cm.cols, weights=out, minlength=cm.n_sites)
    starts = cm.row_starts()
    split = np.flatnonzero((served > 0) & (np.bincount(cm.rows, weights=whole_arc, minlength=cm.n_units) == 0))
    for i in split[np.argsort(-cm.demand[split], kind="stable")]:
        a0, a1 = starts[i], starts[i + 1]
        ok = np.flatnonzero(free[cm.cols[a0:a1]] >= cm.demand[i])
        if len(ok):
            out[a0 + ok[0]] = cm.demand[i]
            free[cm.cols[a0 + ok[0]]] -= cm.demand[i]
    return out


def local_search(cm: CostMatrix, flow: np.ndarray, *, max_passes: int = 20) -> np.ndarray:
    """Improve a whole-unit solution by shifts (a unit to a cheaper site with room, or an
    unplaced unit into any site with room) and swaps (two units exchange sites), until no move
    helps. Each move is chosen over all sites or all other units at once (numpy). Capacities
    stay respected; min-occupancy and p are not looked at. Returns persons per arc."""
    n, m = cm.n_units, cm.n_sites
    cost = cm.dense(np.inf)
    arc_of = np.full((n, m), -1, dtype=np.int64)
    arc_of[cm.rows, cm.cols] = np.arange(cm.n_arcs)
    d = cm.demand.astype(float)
    site = np.full(n, -1, dtype=np.int64)
    used = flow > 0
    site[cm.rows[used]] = cm.cols[used]
    placed = site >= 0
    free = cm.capacity - np.bincount(site[placed], weights=d[placed], minlength=m)
    here = np.where(placed, cost[np.arange(n), np.maximum(site, 0)], np.inf)
    order = np.argsort(-d, kind="stable")
    for _ in range(max_passes):
        changed = False
        for i in order:
            a = site[i]
            room = free.copy()
            if a >= 0:
                room[a] += d[i]
            ok = (room >= d[i]) & (cost[i] < here[i] - 1e-9)
            if ok.any():
                b = int(np.argmin(np.where(ok, cost[i], np.inf)))
                if a >= 0:
                    free[a] += d[i]
                free[b] -= d[i]
                site[i], here[i] = b, cost[i, b]
                changed = True
                continue
            if a < 0:
                continue
            valid = (site >= 0) & (site != a)
            bb = np.maximum(site, 0)
            with np.errstate(invalid="ignore"):  # inf - inf where no arc: nan, excluded below
                gain = d[i] * (here[i] - cost[i, bb]) + d * (here - cost[:, a])
            feas = valid & (free[bb] + d >= d[i]) & (free[a] + d[i] >= d) & np.isfinite(gain)
            if feas.any():
                k = int(np.argmax(np.where(feas, gain, -np.inf)))
                if gain[k] > 1e-9:
                    bk = site[k]
                    free[a] += d[i] - d[k]
                    free[bk] += d[k] - d[i]
                    site[i], site[k] = bk, a
                    here[i], here[k] = cost[i, bk], cost[k, a]
                    changed = True
        if not changed:
            break
    out = np.zeros(cm.n_arcs, dtype=np.int64)
    placed = site >= 0
    out[arc_of[np.flatnonzero(placed), site[placed]]] = cm.demand[placed]
    return out


def greedy_open(cm: CostMatrix, p: int, fixed: np.ndarray) -> np.ndarray:
    """Greedy-add site opening for p-median (uncapacitated estimate), vectorised per step."""
    cost = cm.dense(fill=np.nan) * cm.demand[:, None]
    big = float(np.max(cm.cost * cm.demand[cm.rows])) * 10 + 1 if cm.n_arcs else 1.0
    cost = np.where(np.isnan(cost), big, cost)
    is_open = np.asarray(fixed, dtype=bool).copy()
    best = cost[:, is_open].min(axis=1) if is_open.any() else np.full(cm.n_units, big)
    while is_open.sum() < min(p, cm.n_sites):
        gain = np.minimum(cost, best[:, None]).sum(axis=0)
        gain[is_open] = np.inf
        j = int(np.argmin(gain))
        is_open[j] = True
        best = np.minimum(best, cost[:, j])
    return is_open


# --------------------------------------------------------------------------- HiGHS models


@dataclass
class _Run:
    flow: np.ndarray | None
    status: str
    gap: float | None
    objective: float | None
    bound: float | None = None


def _highs_solve(
    cm: CostMatrix,
    *,
    binary: bool,
    open_vars: bool,
    p: int | None,
    fixed: np.ndarray | None,
    min_occ: float,
    slack: bool,
    minimise: Literal["cost", "unserved"],
    unserved_max: float | None,
    time_limit_s: float,
    mip_gap: float,
    start: np.ndarray | None,
    force_lp: bool = False,
) -> _Run:
    """Build and solve one HiGHS model; ``flow`` is persons per arc (or None)."""
    import highspy

    n, m, A = cm.n_units, cm.n_sites, cm.n_arcs
    # Site-choosing models: columns in (unit, site) order, as a textbook model lays them out;
    # HiGHS solved the p-median benchmark faster so. Single-sourcing keeps the (unit, cost)
    # order of the matrix, on which it found better incumbents (both benchmarked).
    perm = np.lexsort((cm.cols, cm.rows)) if open_vars else np.arange(A)
    rows, cols, arc_cost = cm.rows[perm], cm.cols[perm], cm.cost[perm]
    if start is not None:
        start = np.asarray(start)[perm]
    d = cm.demand.astype(float)
    capacitated = bool(np.isfinite(cm.capacity).any())
    # z: binary -> share of unit (0/1); divisible -> persons.
    w = d[rows] if binary else np.ones(A)
    ub_z = np.ones(A) if binary else d[rows]
    rhs = np.ones(n) if binary else d
    u_w = d if binary else np.ones(n)
    active = np.bincount(rows, minlength=n) > 0
    act_idx = np.flatnonzero(active)
    n_act = len(act_idx)
    Y = m if open_vars else 0
    U = n_act if slack else 0
    z0, y0, u0 = 0, A, A + Y
    ncol = A + Y + U
    trip_r: list[np.ndarray] = []
    trip_c: list[np.ndarray] = []
    trip_v: list[np.ndarray] = []
    lo: list[np.ndarray] = []
    hi: list[np.ndarray] = []
    r0 = 0
    # assignment rows: sum z + u = rhs
    unit_row = np.full(n, -1)
    unit_row[act_idx] = np.arange(n_act)
    trip_r.append(unit_row[rows])
    trip_c.append(z0 + np.arange(A))
    trip_v.append(np.ones(A))
    if slack:
        trip_r.append(np.arange(n_act))
        trip_c.append(u0 + np.arange(n_act))
        trip_v.append(np.ones(n_act))
    lo.append(rhs[act_idx])
    hi.append(rhs[act_idx])
    r0 += n_act
    # capacity rows
    has_arc = np.bincount(cols, minlength=m) > 0
    cap_sites = np.flatnonzero(has_arc & np.isfinite(cm.capacity))
    site_row = np.full(m, -1)
    site_row[cap_sites] = np.arange(len(cap_sites))
    sel = site_row[cols] >= 0
    trip_r.append(r0 + site_row[cols[sel]])
    trip_c.append(z0 + np.flatnonzero(sel))
    trip_v.append(w[sel])
    if open_vars:
        trip_r.append(r0 + np.arange(len(cap_sites)))
        trip_c.append(y0 + cap_sites)
        trip_v.append(-cm.capacity[cap_sites])
        lo.append(np.full(len(cap_sites), -np.inf))
        hi.append(np.zeros(len(cap_sites)))
    else:
        lo.append(np.full(len(cap_sites), -np.inf))
        hi.append(cm.capacity[cap_sites])
    r0 += len(cap_sites)
    if open_vars:
        if min_occ > 0:
            occ_sites = np.flatnonzero(has_arc)
            occ_row = np.full(m, -1)
            occ_row[occ_sites] = np.arange(len(occ_sites))
            trip_r.append(r0 + occ_row[cols])
            trip_c.append(z0 + np.arange(A))
            trip_v.append(w)
            trip_r.append(r0 + np.arange(len(occ_sites)))
            trip_c.append(y0 + occ_sites)
            trip_v.append(np.full(len(occ_sites), -float(min_occ)))
            lo.append(np.zeros(len(occ_sites)))
            hi.append(np.full(len(occ_sites), np.inf))
            r0 += len(occ_sites)
        # link rows z_a <= ub_a * y_j (strong formulation)
        trip_r.append(r0 + np.arange(A))
        trip_c.append(z0 + np.arange(A))
        trip_v.append(np.ones(A))
        trip_r.append(r0 + np.arange(A))
        trip_c.append(y0 + cols)
        trip_v.append(-ub_z)
        lo.append(np.full(A, -np.inf))
        hi.append(np.zeros(A))
        r0 += A
        if p is not None:
            trip_r.append(np.full(m, r0))
            trip_c.append(y0 + np.arange(m))
            trip_v.append(np.ones(m))
            lo.append(np.array([float(min(p, m))]))
            hi.append(np.array([float(min(p, m))]))
            r0 += 1
    if unserved_max is not None and slack:
        trip_r.append(np.full(n_act, r0))
        trip_c.append(u0 + np.arange(n_act))
        trip_v.append(u_w[act_idx])
        lo.append(np.array([-np.inf]))
        hi.append(np.array([unserved_max + 1e-6]))
        r0 += 1
    mat = sp.csc_matrix((np.concatenate(trip_v), (np.concatenate(trip_r), np.concatenate(trip_c))), shape=(r0, ncol))
    col_cost = np.zeros(ncol)
    if minimise == "cost":
        col_cost[z0 : z0 + A] = arc_cost * w
    else:
        col_cost[u0 : u0 + U] = u_w[act_idx]
    col_lo = np.zeros(ncol)
    col_hi = np.concatenate([ub_z, np.ones(Y), rhs[act_idx] if slack else np.zeros(0)])
    if open_vars and fixed is not None:
        col_lo[y0 : y0 + Y] = np.asarray(fixed, dtype=float)
    # integrality: sites; whole units when capacity/min occupancy make splitting attractive;
    # persons when sites are chosen (so a split stays whole persons).
    z_int = (binary and (capacitated or min_occ > 0)) or (not binary and open_vars)
    integrality = np.zeros(ncol, dtype=np.int32)
    if z_int:
        integrality[z0 : z0 + A] = 1
    if open_vars:
        integrality[y0 : y0 + Y] = 1
    is_mip = bool(integrality.any()) and not force_lp

    lp = highspy.HighsLp()
    lp.num_col_ = ncol
    lp.num_row_ = r0
    lp.col_cost_ = col_cost
    lp.col_lower_ = col_lo
    lp.col_upper_ = col_hi
    lp.row_lower_ = np.concatenate(lo)
    lp.row_upper_ = np.concatenate(hi)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = mat.indptr
    lp.a_matrix_.index_ = mat.indices
    lp.a_matrix_.value_ = mat.data
    t_start = time.perf_counter()

    def new_highs() -> Any:
        h = quiet_highs()
        h.setOptionValue("time_limit", float(max(time_limit_s - (time.perf_counter() - t_start), 0.01)))
        h.setOptionValue("mip_rel_gap", float(mip_gap))
        h.setOptionValue("random_seed", 0)
        return h

    lp_integral = False
    if is_mip and open_vars and not z_int:
        # Only the sites are integer (uncapacitated p-median / coverage): the LP relaxation is
        # often integral, and then it is the optimum; solving it alone skips the MIP machinery.
        h = new_highs()
        h.passModel(lp)
        h.run()
        if h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
            yv = np.asarray(h.getSolution().col_value)[y0 : y0 + Y]
            lp_integral = bool(np.all(np.abs(yv - np.round(yv)) <= 1e-7))
    if not lp_integral:
        if is_mip:
            lp.integrality_ = [
                highspy.HighsVarType.kInteger if v else highspy.HighsVarType.kContinuous for v in integrality
            ]
        h = new_highs()
        h.passModel(lp)
        if is_mip and start is not None:
            x = np.zeros(ncol)
            x[z0 : z0 + A] = start / (d[rows] if binary else 1.0)
            if open_vars:
                x[y0 : y0 + Y] = np.bincount(cols, weights=start, minlength=m) > 0
                if fixed is not None:
                    x[y0 : y0 + Y] = np.maximum(x[y0 : y0 + Y], fixed)
            if slack:
                served = np.bincount(rows, weights=x[z0 : z0 + A], minlength=n)
                x[u0 : u0 + U] = rhs[act_idx] - served[act_idx]
            sol = highspy.HighsSolution()
            sol.col_value = list(x)
            h.setSolution(sol)
        h.run()
    else:
        is_mip = False  # the LP optimum is integral: proven optimal, gap 0
    status = h.getModelStatus()
    info = h.getInfo()
    has_sol = info.primal_solution_status == 2
    S = highspy.HighsModelStatus
    if status == S.kInfeasible:
        return _Run(None, "infeasible", None, None)
    if not has_sol:
        if status in (S.kTimeLimit, S.kInterrupt, S.kSolutionLimit, S.kIterationLimit):
            return _Run(None, "no_solution", None, None)
        raise SolverError(f"HiGHS ended with status {h.modelStatusToString(status)}.")
    x = np.asarray(h.getSolution().col_value)
    z = x[z0 : z0 + A]
    if binary:
        flow = np.zeros(A)
        # whole units: each unit to its arc of largest share (ties in uncapacitated models)
        order = np.lexsort((-z, rows))
        first = order[np.r_[True, rows[order][1:] != rows[order][:-1]]] if A else order
        take = first[z[first] > 1e-6]
        flow[take] = d[rows[take]]
    else:
        flow = np.rint(z)
    out = np.empty(A)
    out[perm] = flow
    flow = out
    gap = float(info.mip_gap) if is_mip else 0.0
    if not np.isfinite(gap):
        gap = None  # type: ignore[assignment]
    st = "optimal" if status == S.kOptimal else "time_limit"
    bound = float(info.mip_dual_bound) if is_mip else float(info.objective_function_value)
    return _Run(flow, st, gap if st == "time_limit" or is_mip else 0.0, float(info.objective_function_value), bound)


def _solve_highs(
    cm: CostMatrix,
    *,
    binary: bool,
    p: int | None = None,
    fixed: np.ndarray | None = None,
    min_occ: float = 0.0,
    coverage_first: bool = False,
    time_limit_s: float = 60.0,
    mip_gap: float = 0.01,
    rule_values: dict[str, object] | None = None,
    force_lp: bool = False,
    extra_messages: Sequence[str] = (),
) -> Allocation:
    """Lexicographic HiGHS solve: serve everyone at least cost; if impossible (or when
    ``coverage_first``), first the most persons served, then the least cost among those."""
    t0 = time.perf_counter()
    open_vars = p is not None or min_occ > 0
    msgs = list(extra_messages)
    if cm.n_arcs == 0:
        return build_allocation(
            cm, np.zeros(0), solver="none", gap=0.0, status="optimal", single_source=binary,
            rule_values=rule_values, messages=[*msgs, "no unit can reach any site under the rules"],
        )  # fmt: skip
    if fixed is not None and not open_vars:
        fixed = None
    # start: greedy (on greedily opened sites when choosing p)
    open_guess = None
    if p is not None:
        open_guess = greedy_open(cm, p, np.zeros(cm.n_sites, bool) if fixed is None else fixed)
    start = greedy(cm, single_source=binary, open_mask=open_guess)
    # A relaxation check: can the divisible flow over all sites serve everyone?
    if np.isfinite(cm.capacity).any():
        relax_flows, _ = _mcf_flows(cm)
        flow_short = int(cm.demand.sum() - relax_flows.sum())
        if binary and p is None:  # a better start: round the divisible optimum
            rounded = round_flow(cm, relax_flows)
            if (rounded.sum(), -np.dot(rounded, cm.cost)) > (start.sum(), -np.dot(start, cm.cost)):
                start = rounded
            if min_occ <= 0:
                start = local_search(cm, start)
    else:  # uncapacitated: everyone with an arc can be served
        flow_short = 0

    def remaining() -> float:
        return time_limit_s - (time.perf_counter() - t0)

    kw: dict[str, Any] = dict(
        binary=binary, open_vars=open_vars, p=p, fixed=fixed, min_occ=min_occ, mip_gap=mip_gap, force_lp=force_lp
    )
    run: _Run | None = None
    solver = "highs-lp" if (force_lp or not (open_vars or binary)) else "highs-mip"
    if not coverage_first and flow_short == 0 and np.all(cm.arcs_per_unit() > 0):
        run = _highs_solve(
            cm, slack=False, minimise="cost", unserved_max=None, time_limit_s=remaining(),
            start=start if start.sum() == cm.demand.sum() and p is None else None, **kw,
        )  # fmt: skip
        if run.status == "infeasible":
            msgs.append("not everyone can be placed under the rules (the model without unserved persons is infeasible)")
            run = None
        elif run.status == "no_solution":
            return _greedy_result(cm, start, open_guess, binary, time_limit_s, rule_values, msgs)
    if run is None:
        phase_b = _highs_solve(
            cm,
            slack=True,
            minimise="unserved",
            unserved_max=None,
            time_limit_s=remaining(),
            start=start if p is None else None,
            **kw,
        )
        if phase_b.flow is None:
            return _greedy_result(cm, start, open_guess, binary, time_limit_s, rule_values, msgs)
        run = phase_b
        if remaining() > 0:
            unserved_best = float(phase_b.objective or 0.0)
            phase_c = _highs_solve(
                cm, slack=True, minimise="cost", unserved_max=unserved_best, time_limit_s=remaining(),
                start=phase_b.flow, **kw,
            )  # fmt: skip
            if phase_c.flow is not None:
                run = phase_c
                if phase_b.status != "optimal":
                    run = _Run(phase_c.flow, "time_limit", phase_c.gap, phase_c.objective)
        else:
            run = _Run(phase_b.flow, "time_limit", None, None)
            msgs.append("time limit reached after maximising persons served; cost not minimised")
    assert run.flow is not None
    if run.status == "time_limit" and binary and not open_vars:
        polished = local_search(cm, run.flow)
        key = (polished.sum(), -np.dot(polished, cm.cost))
        if key > (run.flow.sum(), -np.dot(run.flow, cm.cost)):
            obj = float(np.dot(polished, cm.cost))
            bound = run.bound if run.objective is not None and polished.sum() == run.flow.sum() else None
            gap = None if bound is None or obj <= 0 else max(0.0, (obj - bound) / obj)
            msgs.append("the solver's incumbent was improved by local search (shift/swap)")
            run = _Run(polished, "time_limit", gap, obj, bound)
    if run.status == "time_limit":
        gap_txt = "unknown" if run.gap is None else f"{run.gap:.2%}"
        msgs.append(f"time limit of {time_limit_s:g} s reached: best incumbent returned, gap {gap_txt}")
    open_mask = None
    if open_vars:
        open_mask = np.bincount(cm.cols, weights=run.flow, minlength=cm.n_sites) > 0
        if fixed is not None:
            open_mask |= np.asarray(fixed, dtype=bool)
    return build_allocation(
        cm, run.flow, solver=solver, gap=run.gap, status=run.status,  # type: ignore[arg-type]
        open_mask=open_mask, single_source=binary, rule_values=rule_values, messages=msgs,
    )  # fmt: skip


def _greedy_result(
    cm: CostMatrix,
    start: np.ndarray,
    open_guess: np.ndarray | None,
    binary: bool,
    time_limit_s: float,
    rule_values: dict[str, object] | None,
    msgs: list[str],
) -> Allocation:
    msgs.append(
        f"time limit of {time_limit_s:g} s too short: the solver found no feasible solution; "
        "returning the GREEDY solution (not optimal, min-occupancy not enforced). Raise time_limit_s."
    )
    logger.warning(msgs[-1])
    return build_allocation(
        cm, start, solver="greedy", gap=None, status="greedy", open_mask=open_guess,
        single_source=binary, rule_values=rule_values, messages=msgs,
    )  # fmt: skip


def _fixed_mask(cm: CostMatrix, fixed: Sequence[str]) -> np.ndarray:
    ids = pd.Index(cm.site_ids.astype(str))
    idx = ids.get_indexer(list(fixed))
    missing = [f for f, i in zip(fixed, idx, strict=True) if i < 0]
    if missing:
        raise InfeasibleError(
            f"rule fixed_sites: sites {', '.join(missing)} are not among the sites in play "
            "(not passed by the site step or not in the candidates). Fix: correct fixed_sites."
        )
    mask = np.zeros(cm.n_sites, dtype=bool)
    mask[idx] = True
    return mask


def _p_median_rowgen(
    cm: CostMatrix, p: int, fixed: np.ndarray, *, time_limit_s: float, first_k: int = 5
) -> tuple[np.ndarray, np.ndarray] | None:
    """Uncapacitated p-median by its LP relaxation with lazily added ``x_ij <= y_j`` rows.

    Starts with the link rows of each unit's ``first_k`` cheapest sites, re-solves (dual
    simplex, warm) after adding the violated ones, until none is violated: then the LP optimum
    is that of the full model. When its ``y`` is integral it is the proven p-median optimum and
    ``(persons per arc, open mask)`` is returned; otherwise ``None`` (the caller solves the MIP).
    Needs every unit to reach every site (no unit can be left unserved).
    """
    import highspy

    t0 = time.perf_counter()
    n, m, A = cm.n_units, cm.n_sites, cm.n_arcs
    r, c = cm.rows, cm.cols
    starts = cm.row_starts()
    rank = np.arange(A) - np.repeat(starts[:-1], np.diff(starts))  # arcs are sorted by cost per unit
    # columns: z (arcs) then y (sites); rows: assignment (n), p, then link rows as they come
    mat = sp.csc_matrix((np.ones(A + m), (np.concatenate([r, np.full(m, n)]), np.arange(A + m))), shape=(n + 1, A + m))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = A + m, n + 1
    lp.col_cost_ = np.concatenate([cm.cost * cm.demand[r], np.zeros(m)])
    lp.col_lower_ = np.concatenate([np.zeros(A), np.asarray(fixed, dtype=float)])
    lp.col_upper_ = np.ones(A + m)
    lp.row_lower_ = np.concatenate([np.ones(n), [float(min(p, m))]])
    lp.row_upper_ = lp.row_lower_.copy()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = mat.indptr, mat.indices, mat.data
    h = quiet_highs()
    h.setOptionValue("random_seed", 0)
    h.passModel(lp)
    linked = np.zeros(A, dtype=bool)
    add = rank < first_k
    while add.any():
        idx = np.flatnonzero(add)
        k = len(idx)
        h.addRows(
            k, np.full(k, -np.inf), np.zeros(k), 2 * k,
            np.arange(0, 2 * k, 2, dtype=np.int32),
            np.column_stack([idx, A + c[idx]]).ravel().astype(np.int32),
            np.tile([1.0, -1.0], k),
        )  # fmt: skip
        linked |= add
        left = time_limit_s - (time.perf_counter() - t0)
        if left <= 0:
            return None
        h.setOptionValue("time_limit", float(left))
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        x = np.asarray(h.getSolution().col_value)
        z, y = x[:A], x[A:]
        add = ~linked & (z > y[c] + 1e-9)
    if np.any(np.abs(y - np.round(y)) > 1e-7):
        return None
    open_mask = y > 0.5
    # each unit to its open site with the largest share (its cheapest open site)
    order = np.lexsort((-z, r))
    first = order[np.r_[True, r[order][1:] != r[order][:-1]]]
    flow = np.zeros(A)
    flow[first] = cm.demand[r[first]]
    if not open_mask[c[first]].all():
        return None
    return flow, open_mask


#: Below this many arcs a model is solved whole even when it falls apart into parts.
PARTS_MIN_ARCS = 2_000
#: Parts are packed, largest first, into models of up to this many arcs: HiGHS solves small
#: independent parts of one model well (its presolve separates them), so packing saves the
#: per-solve overhead (start heuristics, relaxation, diagnostics) of many tiny models while
#: keeping each model small enough for branch and bound.
PARTS_CHUNK_ARCS = 20_000


def _solve_by_parts(cm: CostMatrix, *, binary: bool, min_occ: float, time_limit_s: float, **kw: Any) -> Allocation:
    """Solve a model that decomposes over the connected parts of the allowed moves, part by part.

    Counties (or valleys) that share no allowed move are independent problems: solving each
    alone gives the same optimum as solving them together, and a MILP over k parts of size n/k
    is much faster than one of size n (branch and bound grows faster than linearly). Parts are
    packed into models of up to :data:`PARTS_CHUNK_ARCS` arcs; each model gets its share by arcs
    of the time left, so time a model does not need goes to the next. The parts' flows are combined
    and the result built once over the whole matrix, so tables, diagnostics and messages are
    those of a single solve; the gap is the objective-weighted gap of the parts.
    """
    count, unit_part, site_part = cm.components()
    with_arcs = np.unique(unit_part[cm.rows]) if cm.n_arcs else np.zeros(0, dtype=np.int64)
    if len(with_arcs) <= 1 or cm.n_arcs < PARTS_MIN_ARCS:
        return _solve_highs(cm, binary=binary, min_occ=min_occ, time_limit_s=time_limit_s, **kw)
    t0 = time.perf_counter()
    arcs_of = np.bincount(unit_part[cm.rows], minlength=count)
    n_parts = len(with_arcs)
    largest = int(arcs_of[with_arcs].max())
    # pack the parts, largest first, into chunks of up to PARTS_CHUNK_ARCS arcs (first fit)
    chunk_of = np.full(count, -1, dtype=np.int64)
    sizes: list[int] = []
    for k in sorted(with_arcs.tolist(), key=lambda k: -arcs_of[k]):
        fit = next((c for c, size in enumerate(sizes) if size + arcs_of[k] <= PARTS_CHUNK_ARCS), None)
        if fit is None:
            sizes.append(0)
            fit = len(sizes) - 1
        chunk_of[k] = fit
        sizes[fit] += int(arcs_of[k])
    if len(sizes) <= 1:
        return _solve_highs(cm, binary=binary, min_occ=min_occ, time_limit_s=time_limit_s, **kw)
    unit_part, site_part = chunk_of[unit_part], chunk_of[site_part]
    arcs_of = np.asarray(sizes)
    order = list(range(len(sizes)))
    flow = np.zeros(cm.n_arcs)
    statuses: list[str] = []
    solvers: list[str] = []
    messages: list[str] = []
    weighted_gap, total_obj, gap_known = 0.0, 0.0, True
    arcs_left = int(cm.n_arcs)
    for k in order:
        left = max(time_limit_s - (time.perf_counter() - t0), 0.01)
        # this model's share by arcs of the time left: a model that finishes early leaves its time to the rest
        budget = left * arcs_of[k] / max(arcs_left, 1)
        arcs_left -= int(arcs_of[k])
        sub, arcs = cm.part(np.flatnonzero(unit_part == k), np.flatnonzero(site_part == k))
        res = _solve_highs(sub, binary=binary, min_occ=min_occ, time_limit_s=budget, **kw)
        a = res.assignment
        if len(a):
            key = pd.MultiIndex.from_arrays([sub.unit_ids[sub.rows].astype(str), sub.site_ids[sub.cols].astype(str)])
            pos = key.get_indexer(pd.MultiIndex.from_arrays([a["unit_id"], a["site_id"]]))
            flow[arcs[pos]] = a["persons"].to_numpy(dtype=float)
        statuses.append(res.status)
        solvers.append(res.solver)
        messages.extend(m for m in res.messages if "cannot be placed; this is the relaxed solution" not in m)
        if res.gap is None:
            gap_known = False
        else:
            weighted_gap += res.gap * res.objective
        total_obj += res.objective
    status: Status = "greedy" if "greedy" in statuses else "time_limit" if "time_limit" in statuses else "optimal"
    gap = (weighted_gap / total_obj if total_obj > 0 else 0.0) if gap_known else None
    note = (
        f"solved as {n_parts} independent parts (groups of villages and sites that share no allowed move) "
        f"in {len(order)} models; the largest part has {largest} of {cm.n_arcs} arcs"
    )
    return build_allocation(
        cm, flow, solver="+".join(dict.fromkeys(solvers)), gap=gap, status=status, single_source=binary,
        rule_values=kw.get("rule_values"), messages=[note, *dict.fromkeys(messages)],
    )  # fmt: skip


def solve_single_source(
    cm: CostMatrix,
    *,
    min_occupancy_persons: float = 0.0,
    time_limit_s: float = 60.0,
    mip_gap: float = 0.01,
    rule_values: dict[str, object] | None = None,
) -> Allocation:
    """Whole units (villages or groups) to exactly one site each, at least total cost.

    Parameters
    ----------
    cm
        The cost matrix.
    min_occupancy_persons
        A site that receives anyone receives at least this many persons (0 = off).
    time_limit_s, mip_gap
        HiGHS limits; the gap reached is reported in ``Allocation.gap``.
    rule_values
        Rule settings quoted in unserved reasons.

    A matrix that falls apart into parts sharing no arc (counties, valleys) is solved part by
    part (:func:`_solve_by_parts`): the same optimum, far faster for large regions.
    """
    return _solve_by_parts(
        cm, binary=True, min_occ=min_occupancy_persons, time_limit_s=time_limit_s, mip_gap=mip_gap,
        rule_values=rule_values,
    )  # fmt: skip


def solve_divisible_milp(
    cm: CostMatrix,
    *,
    min_occupancy_persons: float = 0.0,
    time_limit_s: float = 60.0,
    mip_gap: float = 0.01,
    rule_values: dict[str, object] | None = None,
) -> Allocation:
    """Divisible persons with a minimum occupancy per opened site (MILP, HiGHS), part by part (see
    :func:`solve_single_source`)."""
    return _solve_by_parts(
        cm, binary=False, min_occ=min_occupancy_persons, time_limit_s=time_limit_s, mip_gap=mip_gap,
        rule_values=rule_values,
    )  # fmt: skip


def solve_p_median(
    cm: CostMatrix,
    p: int,
    *,
    fixed: Sequence[str] = (),
    single_source: bool = True,
    min_occupancy_persons: float = 0.0,
    time_limit_s: float = 60.0,
    mip_gap: float = 0.01,
    rule_values: dict[str, object] | None = None,
) -> Allocation:
    """Capacitated p-median: open exactly ``p`` sites (``fixed`` ones included) and assign
    units to open sites at least total cost. With infinite capacities this is the classic
    p-median (units go to their nearest open site)."""
    if p < max(1, len(fixed)):
        raise InfeasibleError(f"rule p: p = {p} is below 1 or below the {len(fixed)} fixed sites. Fix: raise p.")
    rv = dict(rule_values or {})
    rv["p"] = p
    fixed_mask = _fixed_mask(cm, fixed)
    t0 = time.perf_counter()
    complete = cm.n_arcs == cm.n_units * cm.n_sites > 0
    if complete and not np.isfinite(cm.capacity).any() and min_occupancy_persons <= 0:
        got = _p_median_rowgen(cm, p, fixed_mask, time_limit_s=time_limit_s)
        if got is not None:
            flow, open_mask = got
            return build_allocation(
                cm, flow, solver="highs-lp-rowgen", gap=0.0, status="optimal", open_mask=open_mask,
                single_source=single_source, rule_values=rv,
            )  # fmt: skip
    return _solve_highs(
        cm, binary=single_source, p=p, fixed=fixed_mask, min_occ=min_occupancy_persons,
        time_limit_s=max(time_limit_s - (time.perf_counter() - t0), 0.01), mip_gap=mip_gap, rule_values=rv,
    )  # fmt: skip


def solve_max_coverage(
    cm: CostMatrix,
    p: int,
    *,
    coverage_min: float,
    fixed: Sequence[str] = (),
    single_source: bool = True,
    min_occupancy_persons: float = 0.0,
    time_limit_s: float = 60.0,
    mip_gap: float = 0.01,
    rule_values: dict[str, object] | None = None,
) -> Allocation:
    """Maximal coverage: open ``p`` sites covering the most persons within ``coverage_min``
    minutes (capacities respected), then the least cost among such solutions. Units with no
    open site within the standard are reported unserved with the reason ``coverage_min``."""
    if p < max(1, len(fixed)):
        raise InfeasibleError(f"rule p: p = {p} is below 1 or below the {len(fixed)} fixed sites. Fix: raise p.")
    keep = cm.time_min <= coverage_min
    sub = CostMatrix(
        cm.unit_ids, cm.site_ids, cm.demand, cm.households, cm.capacity,
        cm.rows[keep], cm.cols[keep], cm.cost[keep], cm.time_min[keep], cm.dist_m[keep],
        (*cm.rule_counts, ("coverage_min", np.bincount(cm.rows[keep], minlength=cm.n_units))),
    )  # fmt: skip
    rv = dict(rule_values or {})
    rv["coverage_min"] = coverage_min
    rv["p"] = p
    return _solve_highs(
        sub, binary=single_source, p=p, fixed=_fixed_mask(cm, fixed), min_occ=min_occupancy_persons,
        coverage_first=True, time_limit_s=time_limit_s, mip_gap=mip_gap, rule_values=rv,
    )  # fmt: skip
