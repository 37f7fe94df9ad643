"""The ``allocation`` section of a scenario: which model, which rules, which solver.

Every field has a default, so an empty section (or none at all) is valid::

    allocation:
      model: single_source        # flow | single_source | p_median | max_coverage
      unit: group                 # village | group | household
      objective: person_minutes   # or suitability_weighted
      cutoff_min: 180
      max_time_from_origin_min: 90   # 耕作半径: farmland must stay within reach
      tier_preference: {central_village: 15}
      reserved_sites: {S07: [招安镇, 沿河湾镇]}
      min_occupancy_persons: 50
      time_limit_s: 60
      mip_gap: 0.01
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .._schema import join
from ..errors import Problems
from ..vocabulary import Tier

Model = Literal["flow", "single_source", "p_median", "max_coverage"]
Unit = Literal["village", "group", "household"]
Objective = Literal["person_minutes", "suitability_weighted"]
SolverChoice = Literal["auto", "ortools", "highs"]


@dataclass(frozen=True)
class AllocationConfig:
    """Settings of the allocation step (scenario section ``allocation``).

    Attributes
    ----------
    model
        ``flow``: persons are divisible (a village's households may go to several sites);
        min-cost flow solved by OR-Tools ``SimpleMinCostFlow``. ``single_source`` (default,
        整村搬迁为主): each unit goes whole to exactly one site; MILP solved by HiGHS.
        ``p_median``: also choose which ``p`` sites to open (capacitated p-median).
        ``max_coverage``: open ``p`` sites that serve the most persons within
        ``coverage_min``, then minimise person-minutes among those solutions.
    unit
        What moves as one piece: ``group`` (default) = each row of the villages layer (a
        村民小组 where the layer has groups, else a village); ``village`` = groups of one
        village are summed and move together; ``household`` = divisible (split by persons).
        ``household`` cannot be used with ``single_source``.
    objective
        ``person_minutes`` (default): minimise the sum over units of persons x travel
        minutes. ``suitability_weighted``: the cost per person of a site is
        ``time_min + suitability_weight_min * (1 - s)``, where ``s`` is the site's score
        rescaled to 0..1 over the sites in play (best site 1): a perfect site adds nothing,
        the worst adds ``suitability_weight_min`` minutes per person.
    suitability_weight_min
        Minutes per person that separate the worst site from the best (default 30).
    cutoff_min
        Arcs (unit, site) with a travel time above this are dropped (default 180 min;
        ``null`` keeps every reachable site).
    k_nearest
        Keep only the ``k`` cheapest sites per unit (sparse matrix; default ``null`` = all).
    max_time_from_origin_min
        耕作半径: a relocated household must stay within this many minutes of its old
        village (its farmland). Default ``null`` (no rule).
    tier_preference
        Extra cost in minutes per person added for a site of each tier (a larger number
        means less preferred), e.g. ``{central_village: 15}``. Tiers not listed add 0.
    allowed_tiers
        Only sites of these tiers may receive anyone (default ``null`` = all tiers).
    reserved_sites
        ``site_id -> [township, ...]``: the site only takes units from these townships.
    min_occupancy_persons
        An opened site must receive at least this many persons, or none (default 0 = off).
    p
        Number of sites to open for ``p_median`` and ``max_coverage`` (required there).
    fixed_sites
        Sites that must stay open in ``p_median``/``max_coverage`` (existing sites); they
        count towards ``p``.
    coverage_min
        Service standard of ``max_coverage`` in minutes (default 60).
    time_limit_s
        Wall-clock limit of each MILP solve (default 60 s). When no feasible solution is
        found in time a greedy solution is returned and marked ``status = 'greedy'``.
    mip_gap
        Relative optimality gap at which the MILP stops (default 0.01 = 1 %); the gap
        reached is reported.
    solver
        ``auto`` (default): OR-Tools min-cost flow for ``flow``, HiGHS for the MILPs;
        ``highs`` solves ``flow`` as an LP with HiGHS (a cross-check); ``ortools`` is valid
        for ``flow`` only.
    require_all_served
        Raise :class:`~geofupin.errors.InfeasibleError` (with every reason) instead of
        returning the relaxed solution that serves the most persons (default false).
    fallback_speed_kph
        Speed assumed when no ``od_village_site`` table exists and straight-line distance is
        used (default 30 km/h, a mountain-road average); a warning says so.
    fallback_detour
        Straight-line distance is multiplied by this detour factor (default 1.3).
    area_per_person_m2
        When the site step did not run, capacity of a candidate = ``planned_area_m2 /
        area_per_person_m2`` (default 80 m2 of construction land per person, inside the
        60-140 m2 range of Chinese town-planning norms; housing alone is at least 20 m2).
    """

    model: Model = "single_source"
    unit: Unit = "group"
    objective: Objective = "person_minutes"
    suitability_weight_min: float = 30.0
    cutoff_min: float | None = 180.0
    k_nearest: int | None = None
    max_time_from_origin_min: float | None = None
    tier_preference: dict[Tier, float] = field(default_factory=dict)
    allowed_tiers: tuple[Tier, ...] | None = None
    reserved_sites: dict[str, tuple[str, ...]] = field(default_factory=dict)
    min_occupancy_persons: int = 0
    p: int | None = None
    fixed_sites: tuple[str, ...] = ()
    coverage_min: float = 60.0
    time_limit_s: float = 60.0
    mip_gap: float = 0.01
    solver: SolverChoice = "auto"
    require_all_served: bool = False
    fallback_speed_kph: float = 30.0
    fallback_detour: float = 1.3
    area_per_person_m2: float = 80.0

    def validate(self, where: str, problems: Problems) -> None:
        """Cross-field rules; every problem is reported."""
        positive = {
            "suitability_weight_min": self.suitability_weight_min,
            "time_limit_s": self.time_limit_s,
            "coverage_min": self.coverage_min,
            "fallback_speed_kph": self.fallback_speed_kph,
            "area_per_person_m2": self.area_per_person_m2,
        }
        for key in ("cutoff_min", "max_time_from_origin_min"):
            val = getattr(self, key)
            if val is not None:
                positive[key] = val
        for key, val in positive.items():
            if not val > 0:
                problems.add(join(where, key), f"must be greater than 0, got {val!r}.", f"Give a positive '{key}'.")
        if self.k_nearest is not None and self.k_nearest < 1:
            problems.add(
                join(where, "k_nearest"), f"must be at least 1, got {self.k_nearest}.", "Use 1 or more, or null."
            )
        if not 0 <= self.mip_gap < 1:
            problems.add(join(where, "mip_gap"), f"must be in [0, 1), got {self.mip_gap}.", "Use e.g. 0.01 for 1 %.")
        if self.fallback_detour < 1:
            problems.add(join(where, "fallback_detour"), f"must be at least 1, got {self.fallback_detour}.", "Use 1.3.")
        if self.min_occupancy_persons < 0:
            problems.add(
                join(where, "min_occupancy_persons"),
                f"must be 0 or more, got {self.min_occupancy_persons}.",
                "Use 0 to switch the rule off.",
            )
        for tier, val in self.tier_preference.items():
            if val < 0:
                problems.add(
                    join(join(where, "tier_preference"), tier),
                    f"must be 0 or more minutes, got {val}.",
                    "Give the extra minutes per person for the less preferred tier.",
                )
        if self.unit == "household" and self.model == "single_source":
            problems.add(
                join(where, "unit"),
                "unit 'household' is divisible, but model 'single_source' keeps units whole.",
                "Use model 'flow' for divisible households, or unit 'village'/'group'.",
            )
        if self.model in ("p_median", "max_coverage"):
            if self.p is None:
                problems.add(
                    join(where, "p"),
                    f"model '{self.model}' needs the number of sites to open.",
                    "Add 'p: <number of sites>'.",
                )
            elif self.p < max(1, len(self.fixed_sites)):
                problems.add(
                    join(where, "p"),
                    f"p = {self.p} is below 1 or below the {len(self.fixed_sites)} fixed sites.",
                    "Raise p to at least the number of fixed_sites.",
                )
        elif self.p is not None or self.fixed_sites:
            problems.add(
                join(where, "p"),
                f"'p'/'fixed_sites' apply to p_median and max_coverage, not to '{self.model}'.",
                "Remove them or change the model.",
                severity="warning",
            )
        if self.solver == "ortools" and self.model != "flow":
            problems.add(
                join(where, "solver"),
                f"solver 'ortools' solves model 'flow' only, not '{self.model}'.",
                "Use solver 'auto' or 'highs'.",
            )
        if self.allowed_tiers is not None and not self.allowed_tiers:
            problems.add(
                join(where, "allowed_tiers"),
                "is empty: no site could receive anyone.",
                "List at least one tier, or remove the key.",
            )
