"""The ``phasing`` section of a scenario: the annual implementation plan's years, ceilings and priorities.

Plain frozen dataclasses (see ARCHITECTURE.md); :mod:`geofupin.phasing` computes the plan.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from ..errors import Problems

PriorityKind = Literal["hazard", "poorest", "poor_share", "column"]
HazardKind = Literal["hazard_zone", "hazard_point", "flood_zone"]


@dataclass(frozen=True)
class PriorityRule:
    """One priority rule: groups that score higher on it move earlier.

    Attributes
    ----------
    rule
        ``hazard`` (1 for a group threatened by a hazard: within ``hazard_distance_m`` of a
        constraint of ``hazard_kinds``, or whose ``poverty_cause`` is one of ``hazard_causes``;
        else 0), ``poorest`` (1 for the lowest ``income_per_capita`` of the plan, 0 for the
        highest, linear between), ``poor_share`` (poor households / households) or ``column``
        (a numeric villages column, scaled to 0..1, higher first).
    weight
        How much the rule counts: a group's priority score is the sum of weight x value.
    column
        The villages column of a ``column`` rule.
    """

    rule: PriorityKind
    weight: float = 1.0
    column: str | None = None

    def validate(self, where: str, problems: Problems) -> None:
        if self.weight < 0:
            problems.add(f"{where}.weight", f"weight {self.weight} is negative.", "Give a weight >= 0.")
        if self.rule == "column" and not self.column:
            problems.add(f"{where}.column", "a 'column' rule needs a column.", "Name a numeric villages column.")


@dataclass(frozen=True)
class PhasingConfig:
    """Scenario section ``phasing``: plan years, ceilings, priorities (分年度实施计划).

    Attributes
    ----------
    first_year, last_year
        The plan years (report 4: 2011-2015).
    budget_ceiling_yuan
        Subsidies (every budget line: province, city, county...) that may be committed in one
        year; ``null``: no ceiling.
    budget_ceiling_by_year_yuan
        Per-year overrides of ``budget_ceiling_yuan`` (``{2011: 30000000}``).
    payer_ceiling_yuan
        Per payer, per year (``{province: 20000000}``); the budget lines of that payer.
    households_per_site_per_year
        Households one site can house in one year (construction capacity); ``null``: none.
    households_per_year, persons_per_year
        County-wide capacity per year; ``null``: none.
    priority
        :class:`PriorityRule` list (default: hazard-threatened first, weight 100, then the
        poorest, weight 10).
    hazard_kinds, hazard_distance_m, hazard_causes
        What makes a group hazard-threatened (the ``hazard`` rule).
    start_month_day
        Works of a year start on this day of that year (``MM-DD``); the disbursement dates
        follow from it.
    time_limit_s, mip_gap
        HiGHS limits (the plan reports the gap reached).
    """

    first_year: int = 2011
    last_year: int = 2015
    budget_ceiling_yuan: float | None = None
    budget_ceiling_by_year_yuan: dict[int, float] = field(default_factory=dict)
    payer_ceiling_yuan: dict[str, float] = field(default_factory=dict)
    households_per_site_per_year: float | None = None
    households_per_year: float | None = None
    persons_per_year: float | None = None
    priority: tuple[PriorityRule, ...] = (PriorityRule("hazard", 100.0), PriorityRule("poorest", 10.0))
    hazard_kinds: tuple[HazardKind, ...] = ("hazard_zone", "hazard_point")
    hazard_distance_m: float = 200.0
    hazard_causes: tuple[str, ...] = ("因灾",)
    start_month_day: str = "03-01"
    time_limit_s: float = 60.0
    mip_gap: float = 1e-4

    def validate(self, where: str, problems: Problems) -> None:
        if self.last_year < self.first_year:
            problems.add(
                f"{where}.last_year",
                f"last_year {self.last_year} is before first_year {self.first_year}.",
                "Give last_year >= first_year.",
            )
        elif self.last_year - self.first_year > 50:
            problems.add(f"{where}.last_year", "the plan spans more than 50 years.", "Check the plan years.")
        for name in ("budget_ceiling_yuan", "households_per_site_per_year", "households_per_year", "persons_per_year"):
            v = getattr(self, name)
            if v is not None and v < 0:
                problems.add(f"{where}.{name}", f"{v} is negative.", "Give a value >= 0 or null.")
        for y, v in self.budget_ceiling_by_year_yuan.items():
            if not self.first_year <= y <= self.last_year:
                problems.add(
                    f"{where}.budget_ceiling_by_year_yuan.{y}",
                    f"{y} is outside the plan years {self.first_year}-{self.last_year}.",
                    "Use a plan year.",
                )
            if v < 0:
                problems.add(f"{where}.budget_ceiling_by_year_yuan.{y}", f"{v} is negative.", "Give a value >= 0.")
        for k, v in self.payer_ceiling_yuan.items():
            if v < 0:
                problems.add(f"{where}.payer_ceiling_yuan.{k}", f"{v} is negative.", "Give a value >= 0.")
        try:
            dt.date.fromisoformat(f"2000-{self.start_month_day}")
        except ValueError:
            problems.add(f"{where}.start_month_day", f"{self.start_month_day!r} is not MM-DD.", "Write e.g. 03-01.")
        if self.time_limit_s <= 0:
            problems.add(f"{where}.time_limit_s", "the time limit must be positive.", "Give seconds > 0.")
        if not 0 <= self.mip_gap < 1:
            problems.add(f"{where}.mip_gap", f"{self.mip_gap} is not in [0, 1).", "Write e.g. 0.0001.")

    @property
    def years(self) -> tuple[int, ...]:
        return tuple(range(self.first_year, self.last_year + 1))

    def start_date(self, year: int) -> dt.date:
        """The day the works of ``year`` start."""
        return dt.date.fromisoformat(f"{year:04d}-{self.start_month_day}")


__all__ = ("HazardKind", "PhasingConfig", "PriorityKind", "PriorityRule")
