"""The funding plan by source (资金筹措方案): who pays what, per household, village, site, township and county.

Sources (columns ``*_yuan``, with ``total_wan`` in 万元):

- the subsidies of the budget (:func:`geofupin.policy.compute_budget`), by payer: province,
  city, county, city_county (joint), township_village — every budget line, so the funding plan
  agrees with the budget to the yuan;
- ``department_yuan``: department co-funding (部门配套) of the site works, and
  ``county_gap_yuan``: the county's gap funding, from the rule
  「不足部分由部门配套和群众自筹解决,部门配套项目不能安排的部分,由县财政配套解决」 as data
  (:class:`~geofupin.config.funding.FundingConfig.shortfall_order`): a site's works cost beyond
  its infrastructure subsidies is met by the households' own funds (``household_works_yuan_per_household``),
  then by departments (their ``department_share`` of each works item), the county paying the rest;
- ``own_housing_yuan``: each household's own contribution to its house, building cost (floor area
  by household size x ``building_cost_yuan_per_m2``) minus the housing subsidies paid to it
  (every rule with ``paid_to: household``), never below 0.

Households are the even split of each plan unit by size (:func:`geofupin.policy.household_sizes`);
a unit's hardship households (特困户, whole or fractional) are its largest households. A household
is flagged when its own contribution exceeds ``own_share_max_of_income`` x its annual income.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .config.funding import FundingConfig
from .config.policy import HousingPlan
from .context import attributes
from .errors import DataError

log = logging.getLogger(__name__)

PAYERS = ("province", "city", "county", "city_county", "township_village")
WORKS_COLUMNS = {
    "road": "road_cost_yuan",
    "water": "water_cost_yuan",
    "power": "power_cost_yuan",
    "schools": "school_cost_yuan",
    "clinic": "clinic_cost_yuan",
}


@dataclass(frozen=True)
class FundingPlan:
    """The funding plan's tables (``funding_household``, ``funding_village``, ``funding_site``,
    ``funding_township``, ``funding_county``) and its warnings."""

    tables: Mapping[str, pd.DataFrame]
    warnings: tuple[str, ...] = ()


def households(budget: Any, villages: pd.DataFrame, housing: HousingPlan, cfg: FundingConfig) -> pd.DataFrame:
    """One row per relocating household: size, floor area, subsidies paid to it, building cost, own share.

    Columns: the unit columns, ``household_no`` (1.. within its unit), ``persons``,
    ``hardship`` (the household's hardship share, 0..1), ``floor_area_m2``, ``building_cost_yuan``,
    ``subsidy_<payer>_yuan`` (rules paid to households), ``subsidy_household_yuan``,
    ``own_housing_yuan``, ``income_yuan`` (income per capita x persons), ``own_share_of_income``
    and ``over_limit``.
    """
    from .policy import UNIT_COLUMNS, rule_modes, unit_modes

    units = budget.units.reset_index(drop=True)
    # the most even split of each unit's persons over its households (as policy.household_sizes)
    # (a unit's households: the n_hi first of lo + 1 persons, the others of lo; largest first)
    n_hh = np.maximum(np.round(units["households"].to_numpy(dtype=float)).astype(np.int64), 0)
    n_pp = np.round(units["persons"].to_numpy(dtype=float)).astype(np.int64)
    lo, n_hi = np.divmod(n_pp, np.maximum(n_hh, 1))
    unit_idx = np.repeat(np.arange(len(units)), n_hh)
    starts = np.cumsum(n_hh) - n_hh
    no = np.arange(len(unit_idx)) - starts[unit_idx] + 1
    sizes_all = (lo[unit_idx] + (no <= n_hi[unit_idx])).astype(int)
    keep = [c for c in UNIT_COLUMNS if c not in ("households", "persons")]
    h = units.loc[unit_idx, keep].reset_index(drop=True)
    h.insert(0, "unit", unit_idx)
    h["household_no"] = no
    h["persons"] = sizes_all
    hard = units["hardship_households"].to_numpy(dtype=float)[unit_idx]
    h["hardship"] = np.clip(hard - (no - 1), 0.0, 1.0)
    table = housing.floor_area_m2_by_size
    biggest = max(table)
    sizes, inverse = np.unique(sizes_all, return_inverse=True)
    area = np.array([float(table.get(int(s), table[biggest])) for s in sizes], dtype=float)
    h["floor_area_m2"] = area[inverse.reshape(-1)] if len(sizes_all) else []
    # a household in a nursing home (集中供养) or in the collective's rent-free 周转房 builds nothing itself
    mode = unit_modes(units)[unit_idx] if len(unit_idx) else np.zeros(0, dtype=object)
    builds = ~np.isin(mode, ["nursing_home", "transitional"])
    h["building_cost_yuan"] = np.where(builds, h["floor_area_m2"] * cfg.building_cost_yuan_per_m2, 0.0).round(2)
    rules = [r for r in budget.policy.rules if r.paid_to == "household" and r.basis != "share_of"]
    total = np.zeros(len(h))
    for payer in PAYERS:
        amt = np.zeros(len(h))
        for r in rules:
            if r.payer != payer:
                continue
            if r.applies_to == "hardship":
                q = h["hardship"].to_numpy(dtype=float)
            elif r.basis == "per_person":
                q = h["persons"].to_numpy(dtype=float)
            else:
                q = np.ones(len(h))
            q = np.where(np.isin(mode, list(rule_modes(r, budget.options))), q, 0.0)
            amt += q * r.amount
        if amt.any():
            h[f"subsidy_{payer}_yuan"] = amt.round(2)
            total += amt
    h["subsidy_household_yuan"] = total.round(2)
    h["own_housing_yuan"] = np.maximum(h["building_cost_yuan"] - h["subsidy_household_yuan"], 0.0).round(2)
    v = attributes(villages)
    if "income_per_capita" in v.columns:
        inc = v.assign(village_id=v["village_id"].astype(str)).drop_duplicates("village_id")
        per = h["village_id"].astype(str).map(inc.set_index("village_id")["income_per_capita"])
        h["income_yuan"] = (pd.to_numeric(per, errors="coerce") * h["persons"]).round(2)
    else:
        h["income_yuan"] = np.nan
    h["own_share_of_income"] = (h["own_housing_yuan"] / h["income_yuan"].where(h["income_yuan"] > 0)).round(4)
    h["over_limit"] = (h["own_share_of_income"] > cfg.own_share_max_of_income).fillna(False).astype(bool)
    return h


def site_works(budget: Any, site_plans: pd.DataFrame | None, cfg: FundingConfig) -> pd.DataFrame:
    """Per site: works cost, infrastructure subsidies, and who meets the shortfall.

    Columns: ``site_id``, ``name``, ``township``, ``households``, ``works_yuan``,
    ``infrastructure_subsidy_yuan``, ``shortfall_yuan``, ``own_works_yuan``, ``department_yuan``,
    ``county_gap_yuan``, ``surplus_yuan`` (subsidy beyond the works, not spent on them).
    """
    lines = budget.lines
    infra = lines[(lines["purpose"] == "infrastructure") & (lines["site_id"] != "")]
    sub = infra.groupby("site_id")["amount_yuan"].sum()
    hh = budget.units[budget.units["site_id"] != ""].groupby("site_id")["households"].sum()
    cols = ["site_id", "name", "township", "households", "works_yuan", "infrastructure_subsidy_yuan"]
    if site_plans is None or not len(site_plans):
        out = pd.DataFrame({"site_id": sorted(hh.index)})
        out["name"] = ""
        out["township"] = ""
        out["works_yuan"] = 0.0
        dept_cap = np.zeros(len(out))
    else:
        sp_ = site_plans.assign(site_id=site_plans["site_id"].astype(str))
        out = sp_[["site_id"]].copy()
        out["name"] = sp_["name"].astype(str) if "name" in sp_ else ""
        out["township"] = sp_["township"].astype(str) if "township" in sp_ else ""
        works = np.zeros(len(sp_))
        dept_cap = np.zeros(len(sp_))
        for item, col in WORKS_COLUMNS.items():
            if col in sp_:
                c = pd.to_numeric(sp_[col], errors="coerce").fillna(0.0).to_numpy()
                works += c
                dept_cap += c * float(cfg.department_share.get(item, 0.0))  # type: ignore[call-overload]
        out["works_yuan"] = works.round(2)
    out["households"] = out["site_id"].map(hh).fillna(0.0)
    out["infrastructure_subsidy_yuan"] = out["site_id"].map(sub).fillna(0.0).round(2)
    short = np.maximum(out["works_yuan"] - out["infrastructure_subsidy_yuan"], 0.0).to_numpy()
    left = short.copy()
    paid: dict[str, np.ndarray] = {}
    for src in cfg.shortfall_order:
        if src == "households":
            cap = out["households"].to_numpy(dtype=float) * cfg.household_works_yuan_per_household
        elif src == "department":
            cap = dept_cap
        else:
            cap = left
        take = np.minimum(left, cap)
        paid[src] = take
        left = left - take
    out = out[cols].copy()
    out["shortfall_yuan"] = short.round(2)
    out["own_works_yuan"] = paid.get("households", np.zeros(len(out))).round(2)
    out["department_yuan"] = paid.get("department", np.zeros(len(out))).round(2)
    out["county_gap_yuan"] = (short - out["own_works_yuan"] - out["department_yuan"]).round(2)
    out["surplus_yuan"] = np.maximum(out["infrastructure_subsidy_yuan"] - out["works_yuan"], 0.0).round(2)
    return out.reset_index(drop=True)


def _money(df: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in df.columns if c.endswith("_yuan")]
    df[cols] = df[cols].astype(float).round(2)
    parts = [c for c in ("subsidy_total_yuan", "department_yuan", "county_gap_yuan", "own_total_yuan") if c in df]
    df["total_yuan"] = df[parts].sum(axis=1).round(2)
    df["total_wan"] = (df["total_yuan"] / 1e4).round(4)
    return df


def funding_plan(
    budget: Any,
    villages: pd.DataFrame,
    cfg: FundingConfig,
    *,
    housing: HousingPlan | None = None,
    site_plans: pd.DataFrame | None = None,
) -> FundingPlan:
    """The funding plan by source at every level.

    Parameters
    ----------
    budget
        :class:`geofupin.policy.Budget` of the plan.
    villages
        The villages layer (``income_per_capita`` for the debt check).
    cfg
        The ``funding`` section.
    housing
        Floor area by household size (the policy section's ``housing``).
    site_plans
        The plan step's ``plan_sites`` (works cost per item).

    Returns
    -------
    FundingPlan
        Each level's table has one ``<payer>_yuan`` column per payer of the budget (every line:
        housing, infrastructure, reward, management), ``subsidy_total_yuan``, ``department_yuan``,
        ``county_gap_yuan``, ``own_housing_yuan``, ``own_works_yuan``, ``own_total_yuan``,
        ``total_yuan`` and ``total_wan``.
    """
    warnings: list[str] = []
    hh = households(budget, villages, housing or HousingPlan(), cfg)
    works = site_works(budget, site_plans, cfg)
    lines = budget.lines
    payers = [p for p in PAYERS if (lines["payer"] == p).any()]
    # subsidies by payer per unit (every budget line)
    per_unit = lines.pivot_table(index="unit", columns="payer", values="amount_yuan", aggfunc="sum").reindex(
        range(len(budget.units)), fill_value=0.0
    )
    units = budget.units.reset_index(drop=True).copy()
    for p in payers:
        units[f"{p}_yuan"] = per_unit[p].fillna(0.0).to_numpy() if p in per_unit else 0.0
    units["own_housing_yuan"] = np.bincount(
        hh["unit"].to_numpy(), weights=hh["own_housing_yuan"].to_numpy(), minlength=len(units)
    )
    units["over_limit_households"] = np.bincount(
        hh["unit"].to_numpy(), weights=hh["over_limit"].to_numpy(dtype=float), minlength=len(units)
    )

    def level(keys: list[str]) -> pd.DataFrame:
        cols = ["households", "persons", *[f"{p}_yuan" for p in payers], "own_housing_yuan", "over_limit_households"]
        g = units.groupby(keys, sort=True)[cols].sum().reset_index() if keys else units[cols].sum().to_frame().T
        g["subsidy_total_yuan"] = g[[f"{p}_yuan" for p in payers]].sum(axis=1)
        return g

    village = level(["township", "village_id", "name"])
    village["department_yuan"] = 0.0  # works are funded per site (below)
    village["county_gap_yuan"] = 0.0
    village["own_works_yuan"] = 0.0
    site = level(["site_id"]) if (units["site_id"] != "").any() else level(["site_id"]).iloc[0:0]
    site = site[site["site_id"] != ""].reset_index(drop=True)
    w = works.set_index("site_id")
    for c in ("name", "works_yuan", "infrastructure_subsidy_yuan", "department_yuan", "county_gap_yuan"):
        site[c] = site["site_id"].map(w[c]) if len(w) else 0.0
    site["own_works_yuan"] = site["site_id"].map(w["own_works_yuan"]) if len(w) else 0.0
    site = site.fillna({"name": ""})
    township = level(["township"])
    # the works of a site are funded where the site is
    wt = works.groupby("township")[["department_yuan", "county_gap_yuan", "own_works_yuan"]].sum()
    for c in ("department_yuan", "county_gap_yuan", "own_works_yuan"):
        township[c] = township["township"].map(wt[c]).fillna(0.0) if len(wt) else 0.0
    orphan = sorted(set(wt.index) - set(township["township"])) if len(wt) else []
    if orphan:
        warnings.append(
            f"安置点所在乡镇无搬迁户:{'、'.join(orphan)} / sites in townships with no relocating village: {orphan}."
        )
    county = level([])
    for c in ("department_yuan", "county_gap_yuan", "own_works_yuan"):
        county[c] = float(works[c].sum())
    county.insert(0, "county", "全县")
    out: dict[str, pd.DataFrame] = {}
    for name, df in (("funding_village", village), ("funding_site", site), ("funding_township", township),
                     ("funding_county", county)):  # fmt: skip
        df["own_total_yuan"] = df["own_housing_yuan"] + df["own_works_yuan"]
        out[name] = _money(df)
    n_over = int(hh["over_limit"].sum())
    if n_over:
        warnings.append(
            f"{n_over} 户自筹建房资金超过年收入的{cfg.own_share_max_of_income:g}倍 / {n_over} households' own share"
            f" exceeds {cfg.own_share_max_of_income:g} x their annual income (funding_household.over_limit)."
        )
    if float(works["surplus_yuan"].sum()) > 0:
        warnings.append(
            f"{int((works['surplus_yuan'] > 0).sum())} 个安置点基础设施补助超过工程造价 / infrastructure subsidies"
            " exceed the works cost at some sites (funding_works.surplus_yuan)."
        )
    out["funding_household"] = hh.drop(columns="unit")
    out["funding_works"] = works
    return FundingPlan(tables=out, warnings=tuple(warnings))


def check_agrees(plan: FundingPlan, budget: Any) -> float:
    """The largest difference (yuan) between the funding plan's subsidies and the budget, at any level.

    Raises
    ------
    DataError
        When a level differs from the budget by a fen or more.
    """
    total = round(float(budget.lines["amount_yuan"].sum()), 2)
    diffs = {}
    for name in ("funding_village", "funding_township", "funding_county"):
        diffs[name] = abs(round(float(plan.tables[name]["subsidy_total_yuan"].sum()), 2) - total)
    worst = max(diffs, key=lambda k: diffs[k])
    if diffs[worst] >= 0.01:
        raise DataError(
            f"funding plan: {worst} differs from the budget by {diffs[worst]:.2f} yuan. Fix: report this as a bug."
        )
    return float(diffs[worst])


__all__: Sequence[str] = ("FundingPlan", "check_agrees", "funding_plan", "households", "site_works")
