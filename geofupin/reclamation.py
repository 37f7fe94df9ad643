"""Old houses and homesteads (旧房拆除与宅基地复垦): the construction-land balance in 亩.

Report 3's "one household, one homestead": each relocating household's old house is demolished
and its homestead reclaimed; the construction-land quota it frees (城乡建设用地增减挂钩) is set
against the land the new sites take, and the county reallocates the balance. Per village:
relocating households, old homestead area (the villages' ``homestead_m2`` per household, else
``homestead_m2_per_household``), reclaimable area, and the 宅基地整理费 the budget pays for it
(budget lines of purpose ``homestead_clearance``). Per site: the land it takes. County: freed
quota - site land = net balance (negative: the sites need more quota than the homesteads free).
1 亩 = 10,000/15 m2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .config.reclamation import ReclamationConfig
from .context import attributes

M2_PER_MU = 10000.0 / 15.0


def mu(m2: Any) -> Any:
    """Square metres to 亩 (rounded to 0.0001)."""
    return np.round(np.asarray(m2, dtype=float) / M2_PER_MU, 4)


@dataclass(frozen=True)
class Reclamation:
    """Tables ``reclamation_village``, ``reclamation_site`` and ``reclamation_county``."""

    tables: Mapping[str, pd.DataFrame]


def reclamation(
    budget: Any, villages: pd.DataFrame, cfg: ReclamationConfig, *, sites: pd.DataFrame | None = None
) -> Reclamation:
    """The homestead reclamation and land balance of a plan.

    Parameters
    ----------
    budget
        :class:`geofupin.policy.Budget` (units: who moves where).
    villages
        The villages layer (optional ``homestead_m2`` per household).
    cfg
        The ``reclamation`` section.
    sites
        The sites layer (``site_id``, ``planned_area_m2`` or ``area_m2``), when
        ``site_land_m2_per_household`` is not set.
    """
    units = budget.units
    v = attributes(villages)
    v["village_id"] = v["village_id"].astype(str)
    vv = v.drop_duplicates("village_id").set_index("village_id")
    vil = units.groupby(["township", "village_id", "name"], sort=True)[["households", "persons"]].sum().reset_index()
    per = pd.to_numeric(vil["village_id"].map(vv["homestead_m2"]), errors="coerce") if "homestead_m2" in vv else None
    m2_hh = per.fillna(cfg.homestead_m2_per_household) if per is not None else cfg.homestead_m2_per_household
    vil["homestead_m2"] = (vil["households"] * m2_hh).round(2)
    vil["reclaimable_m2"] = (vil["homestead_m2"] * cfg.reclaimable_share).round(2)
    vil["homestead_mu"] = mu(vil["homestead_m2"])
    vil["reclaimable_mu"] = mu(vil["reclaimable_m2"])
    lines = budget.lines
    fee = lines[lines["purpose"] == "homestead_clearance"].groupby("village_id")["amount_yuan"].sum()
    vil["homestead_fee_yuan"] = vil["village_id"].map(fee).fillna(0.0).round(2)
    # sites
    hh = units[units["site_id"] != ""].groupby("site_id")["households"].sum()
    site = pd.DataFrame({"site_id": hh.index.astype(str), "households": hh.to_numpy()})
    if cfg.site_land_m2_per_household is not None:
        site["land_m2"] = site["households"] * cfg.site_land_m2_per_household
        site["land_source"] = "per_household"
    elif sites is not None and len(sites):
        s = attributes(sites)
        s = s.assign(site_id=s["site_id"].astype(str)).drop_duplicates("site_id").set_index("site_id")
        col = "planned_area_m2" if "planned_area_m2" in s else ("area_m2" if "area_m2" in s else None)
        site["land_m2"] = pd.to_numeric(site["site_id"].map(s[col]), errors="coerce").fillna(0.0) if col else 0.0
        site["land_source"] = col or ""
    else:
        site["land_m2"] = 0.0
        site["land_source"] = ""
    site["land_m2"] = site["land_m2"].astype(float).round(2)
    site["land_mu"] = mu(site["land_m2"])
    freed = float(vil["reclaimable_m2"].sum())
    taken = float(site["land_m2"].sum())
    county = pd.DataFrame(
        {
            "county": ["全县"],
            "households": [float(vil["households"].sum())],
            "homestead_mu": [float(mu(vil["homestead_m2"].sum()))],
            "reclaimable_mu": [float(mu(freed))],
            "site_land_mu": [float(mu(taken))],
            "balance_mu": [float(mu(freed - taken))],
            "homestead_fee_yuan": [round(float(vil["homestead_fee_yuan"].sum()), 2)],
        }
    )
    return Reclamation(tables={"reclamation_village": vil, "reclamation_site": site, "reclamation_county": county})


__all__: Sequence[str] = ("M2_PER_MU", "Reclamation", "mu", "reclamation")
