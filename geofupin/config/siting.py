"""The ``siting`` section of a scenario: frozen, typed, every default documented.

Parsed by :func:`geofupin._schema.parse`; :meth:`SitingConfig.validate` checks the rules that
involve several fields (weights, the AHP matrix and its consistency, criterion options).

Example YAML::

    siting:
      method: ahp                      # weighted_sum | ahp | topsis
      weight_sum: normalise            # normalise (warn) | refuse (error) when weights do not sum to 1
      criteria:
        - {name: dist_water_m}                         # min-max, cost (the catalogue default)
        - {name: dist_road_m, normalise: fuzzy, lower: 200, upper: 2000}
        - {name: slope_mean_deg, normalise: threshold, threshold: 15}
      pairwise:                        # AHP judgements, rows/columns in criteria order
        - [1, 2, 3]
        - [0.5, 1, 2]
        - [0.3333, 0.5, 1]
      rules: {max_slope_pct: 25, max_dist_water_m: 1000, min_capacity_persons: 50}
      buffers_m: {hazard_point: 200, flood_zone: 50}
      capacity: {land_per_person_m2: 80, housing_m2_per_person: 25}
      sensitivity: {draws: 1000, seed: 42, top_k: 5}

The numeric defaults below are planning assumptions of geofupin, stated so a county can
replace them; only the housing norms (>= 20 m2 per person, <= 120 m2 per household) come
from the seed document.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ..ahp import ahp_weights, check_weights, inconsistent_judgements, pairwise_matrix
from ..errors import Problems
from ..vocabulary import ConstraintKind, Tier

ConstraintGroup = Literal["basic_farmland", "ecological_redline", "hazard", "flood_zone"]
CriterionName = Literal[
    "dist_water_m",
    "dist_power_m",
    "dist_road_m",
    "time_min_county_seat",
    "time_min_town",
    "time_min_school",
    "time_min_clinic",
    "time_min_industrial_park",
    "slope_mean_deg",
    "elev_gain_m",
    "buildable_area_m2",
    "dist_hazard_m",
]
Direction = Literal["benefit", "cost"]
Normalisation = Literal["minmax", "threshold", "fuzzy"]
Method = Literal["weighted_sum", "ahp", "topsis"]

#: Per criterion: (default direction, unit, Chinese label, English label, what it needs).
CRITERIA: dict[str, tuple[Direction, str, str, str, str]] = {
    "dist_water_m": ("cost", "m", "距水源", "distance to water source", "water"),
    "dist_power_m": ("cost", "m", "距电力设施", "distance to power", "power"),
    "dist_road_m": ("cost", "m", "距全天候道路", "distance to all-weather road", "roads"),
    "time_min_county_seat": ("cost", "min", "到县城时间", "travel time to county seat", "access"),
    "time_min_town": ("cost", "min", "到集镇时间", "travel time to town", "access"),
    "time_min_school": ("cost", "min", "到学校时间", "travel time to school", "access"),
    "time_min_clinic": ("cost", "min", "到卫生院时间", "travel time to clinic", "access"),
    "time_min_industrial_park": ("cost", "min", "到产业园时间", "travel time to industrial park", "access"),
    "slope_mean_deg": ("cost", "°", "平均坡度", "mean slope", "dem"),
    "elev_gain_m": ("cost", "m", "较迁出村海拔升高", "elevation gain from origin villages", "dem"),
    "buildable_area_m2": ("benefit", "m2", "可建设面积", "buildable area", ""),
    "dist_hazard_m": ("benefit", "m", "距灾害隐患", "distance to hazards", "constraints"),
}


@dataclass(frozen=True)
class CriterionConfig:
    """One scoring criterion.

    Attributes
    ----------
    name
        A column of :data:`CRITERIA` (units in the name).
    weight
        Weight for ``weighted_sum``/``topsis`` (ignored by ``ahp``). Default ``None``: when
        every weight is ``None`` all criteria weigh the same.
    direction
        ``benefit`` (more is better) or ``cost``; default: the catalogue's direction.
    normalise
        ``minmax`` (default; linear between the passed candidates' min and max),
        ``threshold`` (1 when on the good side of ``threshold``, else 0) or ``fuzzy``
        (linear membership: for a cost criterion 1 at or below ``lower``, 0 at or above
        ``upper``; reversed for a benefit criterion).
    threshold, lower, upper
        Parameters of ``threshold`` and ``fuzzy`` (in the criterion's unit).
    """

    name: CriterionName
    weight: float | None = None
    direction: Direction | None = None
    normalise: Normalisation = "minmax"
    threshold: float | None = None
    lower: float | None = None
    upper: float | None = None

    @property
    def dir(self) -> Direction:
        """The direction in use (explicit or the catalogue default)."""
        return self.direction or CRITERIA[self.name][0]

    def validate(self, where: str, problems: Problems) -> None:
        if self.weight is not None and not (self.weight >= 0 and math.isfinite(self.weight)):
            problems.add(f"{where}.weight", f"weight {self.weight} is negative or not finite.", "Give a weight >= 0.")
        if self.normalise == "threshold" and self.threshold is None:
            problems.add(
                where,
                f"criterion '{self.name}' uses normalise: threshold without 'threshold'.",
                "Add threshold: <value in the criterion's unit>.",
            )
        if self.normalise == "fuzzy":
            if self.lower is None or self.upper is None:
                problems.add(
                    where,
                    f"criterion '{self.name}' uses normalise: fuzzy without 'lower' and 'upper'.",
                    "Add lower: and upper: (the membership ramps linearly between them).",
                )
            elif not self.lower < self.upper:
                problems.add(where, f"fuzzy lower {self.lower} is not below upper {self.upper}.", "Give lower < upper.")


def _default_criteria() -> tuple[CriterionConfig, ...]:
    w = {
        "dist_water_m": 0.15,
        "dist_power_m": 0.10,
        "dist_road_m": 0.15,
        "time_min_town": 0.15,
        "time_min_school": 0.10,
        "time_min_clinic": 0.05,
        "slope_mean_deg": 0.10,
        "buildable_area_m2": 0.10,
        "dist_hazard_m": 0.10,
    }
    return tuple(CriterionConfig(name=k, weight=v) for k, v in w.items())  # type: ignore[arg-type]


def merge_criteria(
    defaults: tuple[CriterionConfig, ...], given: tuple[CriterionConfig, ...]
) -> tuple[CriterionConfig, ...]:
    """The default criteria with the scenario's entries merged in by name.

    A given entry replaces the default of the same name (keeping the default weight when it
    gives none); given criteria that are not defaults follow, in their order. Merging the
    defaults into themselves gives the defaults.
    """
    by_name: dict[str, CriterionConfig] = {}
    for c in given:
        by_name.setdefault(c.name, c)
    out: list[CriterionConfig] = []
    for d in defaults:
        u = by_name.pop(d.name, None)
        if u is None:
            out.append(d)
        else:
            out.append(u if u.weight is not None else dataclasses.replace(u, weight=d.weight))
    seen: set[str] = set()
    for c in given:
        if c.name in by_name and c.name not in seen:
            out.append(c)
            seen.add(c.name)
    return tuple(out)


@dataclass(frozen=True)
class RulesConfig:
    """Hard rules; ``null`` switches a rule off.

    Attributes
    ----------
    max_slope_pct, max_slope_deg
        Slope limit, in percent or in degrees (``max_slope_deg``, when given, is used instead of
        ``max_slope_pct``); also the limit above which cells do not count as buildable. Default
        25 % (about 14.04°): the largest slope of residential land in 城乡建设用地竖向规划规范
        (CJJ 83-2016). 25° is the threshold of the farmland-retirement policy (退耕还林), not a
        building norm. ``max_slope_pct: null`` (with no ``max_slope_deg``) switches the rule off.
    slope_stat
        Which slope statistic the rule tests: ``mean`` (default) or ``max`` over the site.
    outside
        Constraint groups a site must stay out of (default all four: basic farmland,
        ecological red line, hazard zones/points with their buffers, flood zones).
    max_overlap_share
        Share of the site's area that may overlap a (buffered) constraint of an ``outside``
        group before the rule fails (default 0.0: any overlap fails).
    max_dist_water_m, max_dist_power_m, max_dist_road_m
        Furthest a site's edge may be from a water source, a power line/substation, an
        all-weather road (defaults 1000, 2000, 1000 m: 近水、近电、近路).
    min_capacity_persons
        Fewest persons a site must hold (default 50).
    max_time_town_min
        Longest travel time to the nearest town or county seat (default 60 min).
    unknown
        What an unknown measured value (DEM void, DEM not covering a site) does: ``fail``
        (default; the reason says "unknown") or ``pass``.
    """

    max_slope_pct: float | None = 25.0
    max_slope_deg: float | None = None
    slope_stat: Literal["mean", "max"] = "mean"
    outside: tuple[ConstraintGroup, ...] = ("basic_farmland", "ecological_redline", "hazard", "flood_zone")
    max_overlap_share: float = 0.0
    max_dist_water_m: float | None = 1000.0
    max_dist_power_m: float | None = 2000.0
    max_dist_road_m: float | None = 1000.0
    min_capacity_persons: int | None = 50
    max_time_town_min: float | None = 60.0
    unknown: Literal["fail", "pass"] = "fail"

    def validate(self, where: str, problems: Problems) -> None:
        if not 0.0 <= self.max_overlap_share <= 1.0:
            problems.add(
                f"{where}.max_overlap_share",
                f"{self.max_overlap_share} is not a share in [0, 1].",
                "Give e.g. 0.05 for 5 %.",
            )
        for name in (
            "max_slope_pct",
            "max_slope_deg",
            "max_dist_water_m",
            "max_dist_power_m",
            "max_dist_road_m",
            "max_time_town_min",
        ):
            v = getattr(self, name)
            if v is not None and not v > 0:
                problems.add(f"{where}.{name}", f"limit {v} must be positive.", "Give a positive limit or null.")
        if self.max_slope_deg is not None and self.max_slope_deg >= 90:
            problems.add(f"{where}.max_slope_deg", f"{self.max_slope_deg}° is not a slope below 90°.", "Give e.g. 14.")

    @property
    def slope_limit_deg(self) -> float | None:
        """The slope limit in degrees (``max_slope_deg``, else ``max_slope_pct`` converted), or None."""
        if self.max_slope_deg is not None:
            return float(self.max_slope_deg)
        if self.max_slope_pct is not None:
            return math.degrees(math.atan(self.max_slope_pct / 100.0))
        return None


@dataclass(frozen=True)
class CapacityConfig:
    """Norms turning buildable area into persons and households.

    Attributes
    ----------
    land_per_person_m2
        Construction land per person including roads and public space (default 80 m2,
        a planning assumption in the range of rural settlement norms).
    housing_m2_per_person
        Housing floor area per person; at least 20 (seed). Default 25.
    max_housing_m2_per_household
        Housing floor area per household; at most 120 (seed). Default 120.
    persons_per_household
        Household size; default ``None``: relocating persons / households of the villages.
    """

    land_per_person_m2: float = 80.0
    housing_m2_per_person: float = 25.0
    max_housing_m2_per_household: float = 120.0
    persons_per_household: float | None = None

    def validate(self, where: str, problems: Problems) -> None:
        if not self.land_per_person_m2 > 0:
            problems.add(f"{where}.land_per_person_m2", f"{self.land_per_person_m2} must be positive.", "Give e.g. 80.")
        if self.housing_m2_per_person < 20:
            problems.add(
                f"{where}.housing_m2_per_person",
                f"{self.housing_m2_per_person} m2 is below the 20 m2 per person floor of the relocation policy.",
                "Give at least 20.",
            )
        if self.max_housing_m2_per_household > 120:
            problems.add(
                f"{where}.max_housing_m2_per_household",
                f"{self.max_housing_m2_per_household} m2 exceeds "
                "the 120 m2 per household cap of the relocation policy.",
                "Give at most 120.",
            )
        pph = self.persons_per_household
        if pph is not None:
            if not pph > 0:
                problems.add(f"{where}.persons_per_household", f"{pph} must be positive.", "Give e.g. 4.2.")
            elif 20 * pph > self.max_housing_m2_per_household:
                problems.add(
                    f"{where}.persons_per_household",
                    f"{pph} persons x 20 m2 exceeds the {self.max_housing_m2_per_household:g} m2 per household cap.",
                    "Check the household size; the two housing norms cannot both hold.",
                )


@dataclass(frozen=True)
class GridConfig:
    """Generated candidates when the county supplies none.

    Attributes
    ----------
    cell_m
        Side of the square grid cells (default 500 m).
    min_buildable_share
        Cells whose buildable share of area is below this are dropped (default 0.3).
    tier
        Tier given to generated sites (default ``central_village``).
    max_cells
        Refuse grids with more cells than this (default 200,000): raise ``cell_m``.
    """

    cell_m: float = 500.0
    min_buildable_share: float = 0.3
    tier: Tier = "central_village"
    max_cells: int = 200_000

    def validate(self, where: str, problems: Problems) -> None:
        if not self.cell_m > 0:
            problems.add(f"{where}.cell_m", f"{self.cell_m} must be positive.", "Give e.g. 500.")
        if not 0 <= self.min_buildable_share <= 1:
            problems.add(f"{where}.min_buildable_share", f"{self.min_buildable_share} is not in [0, 1].", "Give 0.3.")


@dataclass(frozen=True)
class SensitivityConfig:
    """Weight sensitivity.

    Attributes
    ----------
    oat_steps
        Relative one-at-a-time weight changes (default -20 %, -10 %, +10 %, +20 %); the other
        weights are rescaled so the sum stays 1.
    draws
        Monte Carlo weight draws (default 1000; 0 switches Monte Carlo off).
    seed
        Random seed (default 42): same seed, same probabilities.
    concentration
        Dirichlet concentration: draws follow Dirichlet(concentration x weights), so the mean
        is the weights and a larger value means smaller perturbations (default 100, i.e.
        a weight of 0.15 varies with a standard deviation of about 0.035).
    top_k
        The k of "top k" (default 5).
    stable_share
        A site is stable when it is top-k in at least this share of the draws (default 0.9).
    chunk_draws
        Draws scored at once (default 64), bounding memory to candidates x chunk numbers.
    """

    oat_steps: tuple[float, ...] = (-0.2, -0.1, 0.1, 0.2)
    draws: int = 1000
    seed: int = 42
    concentration: float = 100.0
    top_k: int = 5
    stable_share: float = 0.9
    chunk_draws: int = 64

    def validate(self, where: str, problems: Problems) -> None:
        if self.draws < 0:
            problems.add(f"{where}.draws", f"{self.draws} is negative.", "Give 0 (off) or a positive count.")
        if not self.concentration > 0:
            problems.add(f"{where}.concentration", f"{self.concentration} must be positive.", "Give e.g. 100.")
        if self.top_k < 1:
            problems.add(f"{where}.top_k", f"{self.top_k} must be at least 1.", "Give e.g. 5.")
        if not 0 < self.stable_share <= 1:
            problems.add(f"{where}.stable_share", f"{self.stable_share} is not in (0, 1].", "Give e.g. 0.9.")
        if self.chunk_draws < 1:
            problems.add(f"{where}.chunk_draws", f"{self.chunk_draws} must be at least 1.", "Give e.g. 64.")
        for i, s in enumerate(self.oat_steps):
            if not s > -1:
                problems.add(f"{where}.oat_steps[{i}]", f"{s} would make a weight negative.", "Give steps above -1.")


def _default_buffers() -> dict[str, float]:
    return {
        "basic_farmland": 0.0,
        "ecological_redline": 0.0,
        "hazard_zone": 100.0,
        "hazard_point": 200.0,
        "flood_zone": 50.0,
    }


@dataclass(frozen=True)
class SitingConfig:
    """The ``siting`` section: candidates, hard rules, criteria, scoring, sensitivity, capacity.

    Attributes
    ----------
    rules
        Hard rules (:class:`RulesConfig`).
    criteria
        Scoring criteria (default: water 0.15, power 0.10, road 0.15, town 0.15, school 0.10,
        clinic 0.05, mean slope 0.10, buildable area 0.10, hazard distance 0.10). The entries a
        scenario lists are *merged by name* into these defaults (``- {name: dist_hazard_m,
        weight: 0}`` changes that one weight and keeps the others; an entry without ``weight``
        keeps the default weight; criteria that are not defaults are added). With method
        ``ahp`` the list is taken as given (the pairwise matrix is over exactly those criteria).
        A criterion whose data is absent in a run (its layer, the DEM, or any facility of its
        kind) is dropped with one warning and the remaining weights are renormalised to sum 1.
    criteria_replace
        ``true``: the scenario's ``criteria`` list replaces the defaults instead of being merged
        (only the listed criteria are scored). Default ``false``.
    method
        ``weighted_sum`` (default), ``ahp`` (weights from ``pairwise``, then weighted sum)
        or ``topsis`` (closeness to the ideal over the normalised criteria).
    pairwise
        AHP pairwise comparison matrix, rows and columns in ``criteria`` order (Saaty 1-9
        scale; a_ji = 1 / a_ij). Required for ``ahp``.
    weight_sum
        When explicit weights do not sum to 1: ``normalise`` (default; divide by the sum
        and warn) or ``refuse`` (error).
    max_cr
        Largest acceptable AHP consistency ratio (default 0.1, Saaty).
    buffers_m
        Buffer per constraint kind (defaults: basic_farmland 0, ecological_redline 0,
        hazard_zone 100, hazard_point 200, flood_zone 50 m); kinds not listed keep their default.
    capacity, grid, sensitivity
        See :class:`CapacityConfig`, :class:`GridConfig`, :class:`SensitivityConfig`.
    all_weather_road_classes
        Road classes that count as all-weather (default national to village).
    all_weather_surfaces
        Surfaces that count as all-weather when roads have ``surface`` (default paved, gravel).
    town_kinds
        Facility kinds that count as "a town" for ``max_time_town_min`` (default town,
        county_seat).
    fallback_speed_kph, fallback_detour
        Without the access step's ``site_access`` layer, travel times are estimated from
        straight-line distance x detour / speed (defaults 30 km/h, 1.3) and a warning says so.
    slope_edges
        DEM edges and voids: ``compute`` (default, gdaldem -compute_edges) or ``nan``.
    tile
        Tile size of the windowed DEM processing (default 1024 cells).
    """

    rules: RulesConfig = field(default_factory=RulesConfig)
    criteria: tuple[CriterionConfig, ...] = field(default_factory=_default_criteria)
    criteria_replace: bool = False
    method: Method = "weighted_sum"
    pairwise: tuple[tuple[float, ...], ...] | None = None
    weight_sum: Literal["normalise", "refuse"] = "normalise"
    max_cr: float = 0.1
    buffers_m: dict[ConstraintKind, float] = field(default_factory=_default_buffers)  # type: ignore[arg-type]
    capacity: CapacityConfig = field(default_factory=CapacityConfig)
    grid: GridConfig = field(default_factory=GridConfig)
    sensitivity: SensitivityConfig = field(default_factory=SensitivityConfig)
    all_weather_road_classes: tuple[str, ...] = ("national", "provincial", "county", "township", "village")
    all_weather_surfaces: tuple[str, ...] = ("paved", "gravel")
    town_kinds: tuple[str, ...] = ("town", "county_seat")
    fallback_speed_kph: float = 30.0
    fallback_detour: float = 1.3
    slope_edges: Literal["compute", "nan"] = "compute"
    tile: int = 1024

    def __post_init__(self) -> None:
        if not self.criteria_replace and self.method != "ahp":
            object.__setattr__(self, "criteria", merge_criteria(_default_criteria(), tuple(self.criteria)))

    def buffer_m(self, kind: str) -> float:
        """Buffer of a constraint kind (0 when not given)."""
        return float(self.buffers_m.get(kind, _default_buffers().get(kind, 0.0)))  # type: ignore[call-overload]

    def validate(self, where: str, problems: Problems) -> None:
        names = [c.name for c in self.criteria]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            problems.add(f"{where}.criteria", f"criteria listed twice: {', '.join(dup)}.", "List each criterion once.")
        if not self.criteria:
            problems.add(f"{where}.criteria", "no criteria given.", "List at least one criterion.")
        for k, v in self.buffers_m.items():
            if not v >= 0:
                problems.add(f"{where}.buffers_m.{k}", f"buffer {v} is negative.", "Give a distance >= 0 in metres.")
        if not 0 < self.max_cr < 1:
            problems.add(f"{where}.max_cr", f"{self.max_cr} is not in (0, 1).", "Give 0.1 (Saaty).")
        if self.fallback_speed_kph <= 0 or self.fallback_detour < 1:
            problems.add(
                f"{where}.fallback_speed_kph", "fallback speed must be > 0 and detour >= 1.", "Use 30 and 1.3."
            )
        if self.tile < 16:
            problems.add(f"{where}.tile", f"tile {self.tile} is too small.", "Give e.g. 1024.")
        if self.method == "ahp":
            if any(c.weight is not None for c in self.criteria):
                problems.add(
                    f"{where}.criteria",
                    "weights are ignored with method ahp (the pairwise matrix sets them).",
                    "Remove the weights, or use method: weighted_sum.",
                    severity="warning",
                )
            if self.pairwise is None:
                problems.add(
                    f"{where}.pairwise",
                    "method is ahp but no pairwise matrix is given.",
                    f"Add a {len(names)} x {len(names)} matrix in criteria order: {', '.join(names)}.",
                )
            else:
                a = np.asarray([list(r) for r in self.pairwise], dtype=object)
                if a.ndim != 2 or a.shape != (len(names), len(names)):
                    problems.add(
                        f"{where}.pairwise",
                        f"the matrix is not {len(names)} x {len(names)} "
                        f"(one row and column per criterion: {', '.join(names)}).",
                        "Give one row per criterion, in criteria order.",
                    )
                else:
                    m = pairwise_matrix(self.pairwise, names, where=f"{where}.pairwise", problems=problems)
                    if m is not None:
                        res = ahp_weights(m)
                        if res.cr > self.max_cr:
                            worst = inconsistent_judgements(m, res.weights, names, top=3)
                            problems.add(
                                f"{where}.pairwise",
                                f"consistency ratio CR = {res.cr:.3f} exceeds "
                                f"{self.max_cr:g}; most inconsistent judgements: {worst}.",
                                "Revise those judgements towards the suggested values.",
                            )
        else:
            if self.pairwise is not None:
                problems.add(
                    f"{where}.pairwise",
                    f"a pairwise matrix is given but method is {self.method}.",
                    "Set method: ahp, or remove pairwise.",
                    severity="warning",
                )
            check_weights(
                [c.weight for c in self.criteria], names, self.weight_sum, where=f"{where}.criteria", problems=problems
            )
