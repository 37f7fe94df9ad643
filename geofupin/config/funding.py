"""The ``funding`` section of a scenario: the funding plan by source (资金筹措方案).

Plain frozen dataclasses (see ARCHITECTURE.md); :mod:`geofupin.funding` computes the plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..errors import Problems

WorksItem = Literal["road", "water", "power", "schools", "clinic"]
ShortfallSource = Literal["households", "department", "county"]


@dataclass(frozen=True)
class FundingConfig:
    """Scenario section ``funding``.

    Attributes
    ----------
    building_cost_yuan_per_m2
        What one m2 of a new house costs to build (illustrative default 1,200 yuan: set your
        county's figure). A household's own contribution is floor area x this - the housing
        subsidies paid to it (直补到户), never below 0.
    own_share_max_of_income
        Flag a household whose own contribution exceeds this multiple of its annual income
        (income per capita x persons): the poorest must not be pushed into debt.
    department_share
        Share of each works item's cost (road, water, power, schools, clinic) that departments'
        own projects can arrange (部门配套: 交通, 水务, 电力, 教育, 卫生); 0 when not listed.
    household_works_yuan_per_household
        Households' own funds toward the site works (群众自筹), per household.
    shortfall_order
        Who meets a site's works shortfall (works - infrastructure subsidies), in order; the
        seed's rule 「不足部分由部门配套和群众自筹解决,部门配套项目不能安排的部分,由县财政配套解决」 is
        ``[households, department, county]``: ``county`` must come last and takes the rest.
    """

    building_cost_yuan_per_m2: float = 1200.0
    own_share_max_of_income: float = 1.0
    department_share: dict[WorksItem, float] = field(default_factory=dict)
    household_works_yuan_per_household: float = 0.0
    shortfall_order: tuple[ShortfallSource, ...] = ("households", "department", "county")

    def validate(self, where: str, problems: Problems) -> None:
        for name in ("building_cost_yuan_per_m2", "own_share_max_of_income", "household_works_yuan_per_household"):
            if getattr(self, name) < 0:
                problems.add(f"{where}.{name}", f"{getattr(self, name)} is negative.", "Give a value >= 0.")
        for k, v in self.department_share.items():
            if not 0 <= v <= 1:
                problems.add(f"{where}.department_share.{k}", f"{v} is not a share in [0, 1].", "Write 0.5 for 50 %.")
        if not self.shortfall_order or self.shortfall_order[-1] != "county":
            problems.add(
                f"{where}.shortfall_order",
                "the county must come last: it pays what the others cannot.",
                "End the list with county, e.g. [households, department, county].",
            )
        if len(set(self.shortfall_order)) != len(self.shortfall_order):
            problems.add(f"{where}.shortfall_order", "a source is listed twice.", "List each source once.")


__all__ = ("FundingConfig", "ShortfallSource", "WorksItem")
