"""Geometry, then matrix: the units x sites cost matrix the solvers read.

:func:`cost_matrix` turns relocating units and candidate sites (with the access step's
``od_village_site`` table, or straight-line distance at an assumed speed) into a
:class:`CostMatrix`: arcs (unit, site) that survive the cut-off, the side rules and the
k-nearest pruning, each with its cost per person. Solvers only see a ``CostMatrix``, so they
can be tested with hand-written numbers (:meth:`CostMatrix.from_dense`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import shapely

from ..errors import DataError

logger = logging.getLogger(__name__)

#: Rules that remove arcs, in the order they are applied; the names appear in diagnostics.
RULES: tuple[str, ...] = (
    "reachable",
    "cutoff_min",
    "max_time_from_origin_min",
    "allowed_tiers",
    "reserved_sites",
    "k_nearest",
)


@dataclass(frozen=True, eq=False)
class CostMatrix:
    """A sparse units x sites cost matrix with demands and capacities (numbers only).

    Attributes
    ----------
    unit_ids, site_ids
        Ids of the rows and columns.
    demand
        Persons of each unit (int64, > 0).
    households
        Households of each unit (int64); reported, and apportioned when a unit is split.
    capacity
        Persons each site can take (float; ``inf`` = no limit).
    rows, cols
        The arcs: unit index and site index of each allowed pair (sorted by row, then cost).
    cost
        Cost per person of each arc (minutes, or blended minutes; see the config).
    time_min, dist_m
        Travel time and distance of each arc (for reports and coverage). Built from
        numbers alone (:meth:`from_dense`), the cost is taken as the time and the distance
        is ``nan``.
    rule_counts
        For diagnostics: ``(rule, arcs per unit left after that rule)`` in the order of
        :data:`RULES`; the first rule that leaves a unit with 0 arcs is why it has none.
    """

    unit_ids: np.ndarray
    site_ids: np.ndarray
    demand: np.ndarray
    households: np.ndarray
    capacity: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    cost: np.ndarray
    time_min: np.ndarray
    dist_m: np.ndarray
    rule_counts: tuple[tuple[str, np.ndarray], ...] = field(default=())

    @property
    def n_units(self) -> int:
        return len(self.unit_ids)

    @property
    def n_sites(self) -> int:
        return len(self.site_ids)

    @property
    def n_arcs(self) -> int:
        return len(self.rows)

    def dense(self, fill: float = np.inf) -> np.ndarray:
        """The cost per person as a dense ``(n_units, n_sites)`` array; ``fill`` where no arc."""
        out = np.full((self.n_units, self.n_sites), fill, dtype=float)
        out[self.rows, self.cols] = self.cost
        return out

    def arcs_per_unit(self) -> np.ndarray:
        """Number of arcs of each unit."""
        return np.bincount(self.rows, minlength=self.n_units)

    def row_starts(self) -> np.ndarray:
        """CSR pointer: arcs of unit ``i`` are ``rows[starts[i]:starts[i+1]]`` (rows are sorted)."""
        return np.concatenate([[0], np.cumsum(self.arcs_per_unit())])

    def subset_sites(self, keep: np.ndarray) -> CostMatrix:
        """The same matrix with only the arcs to sites where ``keep`` is true (indices kept)."""
        mask = np.asarray(keep, dtype=bool)[self.cols]
        return CostMatrix(
            self.unit_ids, self.site_ids, self.demand, self.households, self.capacity,
            self.rows[mask], self.cols[mask], self.cost[mask], self.time_min[mask], self.dist_m[mask],
            self.rule_counts,
        )  # fmt: skip

    def components(self) -> tuple[int, np.ndarray, np.ndarray]:
        """Connected parts of the allowed moves: ``(count, part of each unit, part of each site)``.

        Units and sites are the two sides of a bipartite graph whose edges are the arcs; two
        parts share no arc, so capacity, single-source and minimum-occupancy models decompose
        over them exactly (models that count open sites across the county, p-median and maximal
        coverage, do not).
        """
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        n, m = self.n_units, self.n_sites
        g = coo_matrix((np.ones(self.n_arcs, dtype=np.int8), (self.rows, n + self.cols)), shape=(n + m, n + m))
        count, labels = connected_components(g, directed=False)
        return int(count), labels[:n], labels[n:]

    def part(self, units: np.ndarray, sites: np.ndarray) -> tuple[CostMatrix, np.ndarray]:
        """The sub-matrix of the given unit and site positions, and the positions of its arcs in this one.

        Only arcs between the given units and sites are kept; arcs stay in their order (by unit,
        then cost), so the sub-matrix is sorted as :meth:`from_arcs` sorts.
        """
        units = np.asarray(units, dtype=np.int64)
        sites = np.asarray(sites, dtype=np.int64)
        new_row = np.full(self.n_units, -1, dtype=np.int64)
        new_row[units] = np.arange(len(units))
        new_col = np.full(self.n_sites, -1, dtype=np.int64)
        new_col[sites] = np.arange(len(sites))
        arcs = np.flatnonzero((new_row[self.rows] >= 0) & (new_col[self.cols] >= 0))
        rows, cols = new_row[self.rows[arcs]], new_col[self.cols[arcs]]
        order = np.lexsort((self.cost[arcs], rows))  # units keep their order only when `units` is sorted
        arcs, rows, cols = arcs[order], rows[order], cols[order]
        sub = CostMatrix(
            self.unit_ids[units], self.site_ids[sites], self.demand[units], self.households[units],
            self.capacity[sites], rows, cols, self.cost[arcs], self.time_min[arcs], self.dist_m[arcs],
            tuple((name, counts[units]) for name, counts in self.rule_counts),
        )  # fmt: skip
        return sub, arcs

    @classmethod
    def from_dense(
        cls,
        cost: np.ndarray | Sequence[Sequence[float]],
        demand: np.ndarray | Sequence[int],
        capacity: np.ndarray | Sequence[float],
        *,
        households: np.ndarray | Sequence[int] | None = None,
        unit_ids: Sequence[str] | None = None,
        site_ids: Sequence[str] | None = None,
    ) -> CostMatrix:
        """Build a matrix from a dense cost array; ``nan``/``inf`` entries are no arc.

        Examples
        --------
        >>> cm = CostMatrix.from_dense([[1, 2], [3, float("inf")]], [10, 5], [20, 20])
        >>> cm.n_arcs
        3
        """
        c = np.asarray(cost, dtype=float)
        if c.ndim != 2:
            raise DataError(f"cost matrix must be 2-D (units x sites), got shape {c.shape}.")
        n, m = c.shape
        rows, cols = np.nonzero(np.isfinite(c))
        vals = c[rows, cols]
        return cls.from_arcs(
            rows, cols, vals, demand, capacity, households=households,
            unit_ids=unit_ids if unit_ids is not None else [f"u{i}" for i in range(n)],
            site_ids=site_ids if site_ids is not None else [f"s{j}" for j in range(m)],
        )  # fmt: skip

    @classmethod
    def from_arcs(
        cls,
        rows: np.ndarray,
        cols: np.ndarray,
        cost: np.ndarray,
        demand: np.ndarray | Sequence[int],
        capacity: np.ndarray | Sequence[float],
        *,
        households: np.ndarray | Sequence[int] | None = None,
        unit_ids: Sequence[str],
        site_ids: Sequence[str],
        time_min: np.ndarray | None = None,
        dist_m: np.ndarray | None = None,
        rule_counts: tuple[tuple[str, np.ndarray], ...] = (),
    ) -> CostMatrix:
        """Build a matrix from arc arrays, checking demands, capacities and costs."""
        d = np.asarray(demand)
        cap = np.asarray(capacity, dtype=float)
        uids = np.asarray([str(u) for u in unit_ids], dtype=object)
        sids = np.asarray([str(s) for s in site_ids], dtype=object)
        if len(d) != len(uids) or len(cap) != len(sids):
            raise DataError(
                f"{len(uids)} units need {len(uids)} demands (got {len(d)}); "
                f"{len(sids)} sites need {len(sids)} capacities (got {len(cap)})."
            )
        if not np.all(np.isfinite(d)) or np.any(d != np.round(d)):
            raise DataError("demand must be whole numbers of persons.")
        d = d.astype(np.int64)
        bad = np.flatnonzero(d <= 0)
        if len(bad):
            raise DataError(
                f"unit {uids[bad[0]]}: demand {d[bad[0]]} persons (and {len(bad) - 1} more units <= 0). "
                "Fix: drop units that relocate nobody before building the matrix."
            )
        badc = np.flatnonzero(~(cap > 0))
        if len(badc):
            raise DataError(
                f"site {sids[badc[0]]}: capacity {cap[badc[0]]} persons (and {len(badc) - 1} more sites <= 0). "
                "Fix: give a positive capacity_persons or drop the site."
            )
        hh = d.copy() if households is None else np.asarray(households).astype(np.int64)
        r = np.asarray(rows, dtype=np.int64)
        c = np.asarray(cols, dtype=np.int64)
        v = np.asarray(cost, dtype=float)
        if len(r) and (r.min() < 0 or r.max() >= len(uids) or c.min() < 0 or c.max() >= len(sids)):
            raise DataError("arc indices fall outside the units x sites matrix.")
        if not np.all(np.isfinite(v)) or np.any(v < 0):
            raise DataError("arc costs must be finite and >= 0 (use no arc for 'unreachable').")
        t = v.copy() if time_min is None else np.asarray(time_min, dtype=float)
        dist = np.full(len(r), np.nan) if dist_m is None else np.asarray(dist_m, dtype=float)
        order = np.lexsort((v, r))
        return cls(uids, sids, d, hh, cap, r[order], c[order], v[order], t[order], dist[order], rule_counts)


def _keep_k_nearest(rows: np.ndarray, cost: np.ndarray, k: int) -> np.ndarray:
    """Mask of the ``k`` cheapest arcs of each row (vectorised rank within row)."""
    order = np.lexsort((cost, rows))
    r = rows[order]
    starts = np.flatnonzero(np.r_[True, r[1:] != r[:-1]])
    run_start = np.repeat(starts, np.diff(np.r_[starts, len(r)]))
    rank = np.arange(len(r)) - run_start
    keep = np.zeros(len(rows), dtype=bool)
    keep[order[rank < k]] = True
    return keep


def straight_line_od(
    unit_points: np.ndarray,
    site_geoms: np.ndarray,
    *,
    speed_kph: float,
    detour: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Dense straight-line OD: ``(rows, cols, time_min, dist_m)`` for every unit x site.

    Distance is from the unit's point to the nearest edge of the site polygon (0 inside),
    times ``detour``; time is that distance at ``speed_kph``.
    """
    dist = shapely.distance(np.asarray(unit_points)[:, None], np.asarray(site_geoms)[None, :]) * detour
    rows, cols = np.indices(dist.shape).reshape(2, -1)
    d = dist.ravel()
    return rows, cols, d / (speed_kph * 1000.0 / 60.0), d


def cost_matrix(
    units: pd.DataFrame,
    sites: pd.DataFrame,
    od: pd.DataFrame,
    *,
    objective: str = "person_minutes",
    suitability_weight_min: float = 30.0,
    cutoff_min: float | None = None,
    max_time_from_origin_min: float | None = None,
    tier_preference: Mapping[Any, float] | None = None,
    allowed_tiers: Sequence[str] | None = None,
    reserved_sites: Mapping[str, Sequence[str]] | None = None,
    k_nearest: int | None = None,
) -> CostMatrix:
    """Build the cost matrix of relocating units x sites from an OD table and side rules.

    Parameters
    ----------
    units
        One row per unit: ``unit_id``, ``village_id`` (joins the OD table), ``persons``,
        ``households`` and, for ``reserved_sites``, ``township``.
    sites
        One row per site: ``site_id``, ``capacity_persons``; ``tier`` for tier rules,
        ``score`` for the suitability objective.
    od
        ``village_id, site_id, time_min, dist_m`` (or ``unit_id`` instead of ``village_id``
        for per-unit times); missing pairs or ``nan`` times are unreachable; of duplicate
        pairs the fastest counts.
    objective
        ``person_minutes``: cost = ``time_min``. ``suitability_weighted``: cost =
        ``time_min + suitability_weight_min * (1 - s)`` with ``s`` the site score min-max
        rescaled to 0..1 (all equal -> 1).
    suitability_weight_min, cutoff_min, max_time_from_origin_min, tier_preference,
    allowed_tiers, reserved_sites, k_nearest
        See :class:`~geofupin.config.allocate.AllocationConfig`.

    Returns
    -------
    CostMatrix
        Arcs sorted by unit then cost, with per-rule arc counts for diagnostics.
    """
    uids = units["unit_id"].astype(str).to_numpy()
    sids = sites["site_id"].astype(str).to_numpy()
    n, m = len(uids), len(sids)
    site_index = pd.Index(sids)
    # Join OD rows to units: per unit when the table has ``unit_id`` (straight-line OD from
    # each group's own point), else per village (a village's groups share its travel times).
    key = "unit_id" if "unit_id" in od.columns else "village_id"
    od = od[[key, "site_id", "time_min", "dist_m"]].copy()
    od[key] = od[key].astype(str)
    od["site_id"] = od["site_id"].astype(str)
    od = od[od["site_id"].isin(site_index) & np.isfinite(od["time_min"].to_numpy(dtype=float))]
    od = od.sort_values("time_min", kind="stable").drop_duplicates([key, "site_id"])  # fastest route
    left = pd.DataFrame({"unit": np.arange(n), key: units[key].astype(str).to_numpy()})
    arcs = left.merge(od, on=key, how="inner").sort_values(["unit", "site_id"], kind="stable")
    rows = arcs["unit"].to_numpy(dtype=np.int64)
    cols = site_index.get_indexer(arcs["site_id"]).astype(np.int64)
    time_min = arcs["time_min"].to_numpy(dtype=float)
    dist_m = arcs["dist_m"].to_numpy(dtype=float) if "dist_m" in arcs else np.full(len(rows), np.nan)

    counts: list[tuple[str, np.ndarray]] = []

    def record(rule: str, keep: np.ndarray | None) -> None:
        nonlocal rows, cols, time_min, dist_m
        if keep is not None:
            rows, cols, time_min, dist_m = rows[keep], cols[keep], time_min[keep], dist_m[keep]
        counts.append((rule, np.bincount(rows, minlength=n)))

    record("reachable", None)
    record("cutoff_min", None if cutoff_min is None else time_min <= cutoff_min)
    record(
        "max_time_from_origin_min",
        None if max_time_from_origin_min is None else time_min <= max_time_from_origin_min,
    )
    tiers = sites["tier"].astype(str).to_numpy() if "tier" in sites else np.full(m, "", dtype=object)
    record("allowed_tiers", None if allowed_tiers is None else np.isin(tiers, list(allowed_tiers))[cols])
    if reserved_sites:
        unknown = sorted(set(reserved_sites) - set(sids))
        if unknown:
            logger.warning("reserved_sites names sites not in play: %s", ", ".join(unknown))
        towns = units["township"].astype(str).to_numpy() if "township" in units else np.full(n, "", dtype=object)
        allowed = np.array([f"{s}\x00{t}" for s, ts in reserved_sites.items() for t in ts], dtype=object)
        reserved = np.isin(sids, list(reserved_sites))[cols]
        pair = sids[cols].astype(str).astype(object) + "\x00" + towns[rows].astype(str).astype(object)
        keep = ~reserved | np.isin(pair, allowed)
        record("reserved_sites", keep)
    else:
        record("reserved_sites", None)

    cost = time_min.copy()
    if objective == "suitability_weighted":
        if "score" not in sites:
            raise DataError("objective 'suitability_weighted' needs a 'score' column on the sites (run the site step).")
        score = sites["score"].to_numpy(dtype=float)
        lo, hi = np.nanmin(score), np.nanmax(score)
        s = np.ones(m) if not hi > lo else (score - lo) / (hi - lo)
        s = np.where(np.isfinite(s), s, 0.0)
        cost = cost + suitability_weight_min * (1.0 - s[cols])
    if tier_preference:
        extra = np.array([float(tier_preference.get(t, 0.0)) for t in tiers])
        cost = cost + extra[cols]
    if k_nearest is not None:
        keep = _keep_k_nearest(rows, cost, k_nearest)
        cost = cost[keep]
        record("k_nearest", keep)
    else:
        record("k_nearest", None)
    return CostMatrix.from_arcs(
        rows, cols, cost, units["persons"].to_numpy(), sites["capacity_persons"].to_numpy(dtype=float),
        households=units["households"].to_numpy(), unit_ids=uids, site_ids=sids,
        time_min=time_min, dist_m=dist_m, rule_counts=tuple(counts),
    )  # fmt: skip
