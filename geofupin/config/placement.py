"""The ``placement`` section of a scenario: scattered and special relocation (分散安置, 集中供养, 周转房).

Report 4: "整村搬迁为主、分散搬迁为辅"; "五保户实行集中供养与分散供养相结合"; "特困人员在个人自愿的前提下,由政府
建设免租金周转房,产权归集体所有,由村委会统一集中安置". Before the central allocation, each relocating
household (from the roster, else a share or number per village) is placed by :mod:`geofupin.placement`:

- ``scattered`` (分散安置): a roster ``wish`` of 分散 (分散安置, 投亲靠友, 自主安置, 分散供养), or without a
  roster ``scattered_share`` of every unit's households / ``scattered_households`` per village;
- ``nursing_home`` (集中供养): 五保户 (``five_guarantee``: ``wish`` = those whose wish is 集中供养/敬老院,
  ``collective`` = every relocating 五保户 whose wish is not 分散, ``dispersed`` = none) go to a 敬老院 of the
  facilities layer (kind ``nursing_home``) with free beds within ``nursing_home_max_min`` minutes;
- ``transitional`` (周转房安置): 特困户 (``transitional_opt_in``: ``wish`` = those whose wish is 周转房,
  ``all`` = every relocating 特困户) of a village whose collective has transitional housing
  (``transitional_housing``: the village, its capacity in households) are placed there.

Everyone else moves to a central site (集中安置). Plain frozen dataclasses (see ARCHITECTURE.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..errors import Problems

FiveGuaranteeCare = Literal["wish", "collective", "dispersed"]
TransitionalOptIn = Literal["wish", "all"]


@dataclass(frozen=True)
class TransitionalHousing:
    """Rent-free transitional housing (周转房) of a village collective (产权归集体所有, 村委会统一安置).

    Attributes
    ----------
    village_id
        The village whose collective owns it (its 特困户 are placed there; the housing stands at the village).
    capacity_households
        How many households it takes.
    name
        Its name (default ``<village name>周转房``).
    site_id
        Its id in the tables (default ``ZZF-<village_id>``).
    """

    village_id: str
    capacity_households: int
    name: str = ""
    site_id: str = ""

    def validate(self, where: str, problems: Problems) -> None:
        if self.capacity_households < 0:
            problems.add(f"{where}.capacity_households", "the capacity is negative.", "Give households >= 0.")
        if not str(self.village_id).strip():
            problems.add(f"{where}.village_id", "no village is given.", "Give the village_id of the collective.")


@dataclass(frozen=True)
class PlacementConfig:
    """Scenario section ``placement`` (see the module docstring).

    Attributes
    ----------
    scattered_share
        Without a roster: the share of each relocating unit's households placed scattered (分散安置),
        rounded half up per unit; 0 = none.
    scattered_households
        Without a roster: households placed scattered per village (``village_id`` or
        ``village_id/group``); a village's number is shared over its groups by households
        (largest remainder). Overrides ``scattered_share`` for the villages it lists.
    five_guarantee
        Which relocating 五保户 go to a nursing home (集中供养): ``wish`` (default: those whose roster
        wish is 集中供养/敬老院), ``collective`` (all whose wish is not 分散/分散供养), ``dispersed`` (none:
        all 分散供养, they move as their wish says).
    nursing_home_max_min
        Longest travel time (minutes, by road when the access step ran, else straight line at
        ``allocation.fallback_speed_kph``) from the household's village to its nursing home.
    transitional_opt_in
        Which relocating 特困户 opt in to transitional housing: ``wish`` (default: roster wish 周转房)
        or ``all``.
    transitional_housing
        The villages' collective transitional housing (周转房) with capacities.
    """

    scattered_share: float = 0.0
    scattered_households: dict[str, int] = field(default_factory=dict)
    five_guarantee: FiveGuaranteeCare = "wish"
    nursing_home_max_min: float = 60.0
    transitional_opt_in: TransitionalOptIn = "wish"
    transitional_housing: tuple[TransitionalHousing, ...] = ()

    def validate(self, where: str, problems: Problems) -> None:
        if not 0 <= self.scattered_share <= 1:
            problems.add(f"{where}.scattered_share", f"{self.scattered_share} is not in [0, 1].", "Write 0.05 for 5 %.")
        for k, n in self.scattered_households.items():
            if int(n) != n or n < 0:
                problems.add(f"{where}.scattered_households.{k}", f"{n} is not a whole number >= 0.", "Give 0, 1, 2...")
        if not self.nursing_home_max_min > 0:
            problems.add(f"{where}.nursing_home_max_min", "the time limit is not positive.", "Give minutes, e.g. 60.")
        ids = [str(t.village_id) for t in self.transitional_housing]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            problems.add(
                f"{where}.transitional_housing",
                f"villages listed twice: {', '.join(dup)}.",
                "Give each village collective's housing once (add the capacities).",
            )


__all__ = ("FiveGuaranteeCare", "PlacementConfig", "TransitionalHousing", "TransitionalOptIn")
