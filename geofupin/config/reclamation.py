"""The ``reclamation`` section of a scenario: old houses and homesteads (旧房拆除与宅基地复垦).

Plain frozen dataclasses (see ARCHITECTURE.md); :mod:`geofupin.reclamation` computes the balance.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import Problems


@dataclass(frozen=True)
class ReclamationConfig:
    """Scenario section ``reclamation`` (report 3: "one household, one homestead").

    Attributes
    ----------
    homestead_m2_per_household
        Old homestead area of a relocating household when the villages layer has no
        ``homestead_m2`` column (per household) — illustrative default 200 m2 (0.3 亩).
    reclaimable_share
        Share of the old homestead area that can be reclaimed as farmland.
    site_land_m2_per_household
        Construction land a new site takes per household it receives; ``null``: the site's
        ``planned_area_m2`` (else ``area_m2``) from the sites layer.
    """

    homestead_m2_per_household: float = 200.0
    reclaimable_share: float = 1.0
    site_land_m2_per_household: float | None = None

    def validate(self, where: str, problems: Problems) -> None:
        if self.homestead_m2_per_household < 0:
            problems.add(f"{where}.homestead_m2_per_household", "the area is negative.", "Give m2 >= 0.")
        if not 0 <= self.reclaimable_share <= 1:
            problems.add(f"{where}.reclaimable_share", f"{self.reclaimable_share} is not in [0, 1].", "Write 0.9.")
        if self.site_land_m2_per_household is not None and self.site_land_m2_per_household < 0:
            problems.add(f"{where}.site_land_m2_per_household", "the area is negative.", "Give m2 >= 0 or null.")


__all__ = ("ReclamationConfig",)
