"""The site construction table (安置点建设规划表): what each used site builds, for whom, when and how.

One row per site that receives anyone (``site_construction``) and one row per site and
phase (``site_phases``), assembled from the run's own tables so every figure is the run's:

- **land**: the site's area (``planned_area_m2`` when the candidates layer gives it, else the
  polygon's area), in m² (亩 in the workbook);
- **who**: households and persons moving in (the allocation), the townships they come from;
- **phases**: with an annual plan (``phasing_plan``), the years the site receives households,
  numbered 一期, 二期, ... in year order, with households and persons of each; without one, a
  single phase;
- **houses**: households by floor area (the policy's house sizes, ``housing_check``), total
  floor area;
- **build mode** (建设方式), the document's rule (report 5, 新迁村建设方法): households moved across
  townships, and sites in the county seat or a market town, are built centrally (集中统建);
  a central-village or community site is built as ``plans.central_village_build_mode`` says
  (the document allows 统建, 联户 or 自建: an open reading, default ``centralised``);
- **works and services**: the in-site works and their cost (``plan_sites``), kindergarten and
  primary places, and whether a clinic is needed (no clinic or hospital within
  ``plans.clinic_max_dist_m`` of the site).
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .config.plans import BuildMode
from .plans import nearest_links

#: Facility kinds that count as a clinic for a site (卫生院、卫生室, or a hospital).
CLINIC_KINDS = ("clinic", "hospital")

#: Site tiers that the document builds centrally (县城、集镇安置).
CENTRAL_TIERS = ("county_seat", "market_town")

#: Chinese ordinals for phases (一期, 二期, ...).
_PHASE_ZH = "一二三四五六七八九十"

#: The columns of ``site_construction``, in order.
COLUMNS: tuple[str, ...] = (
    "site_id",
    "name",
    "township",
    "tier",
    "area_m2",
    "households",
    "persons",
    "from_townships",
    "cross_township",
    "phases",
    "first_year",
    "last_year",
    "house_types",
    "house_floor_area_m2",
    "build_mode",
    "build_mode_basis",
    "in_site_lane_yuan",
    "in_site_water_drainage_yuan",
    "in_site_power_yuan",
    "in_site_cost_yuan",
    "off_site_cost_yuan",
    "kindergarten_places",
    "primary_places",
    "clinic_dist_m",
    "clinic_needed",
)


def phase_name(n: int) -> str:
    """``一期`` for 1, ``二期`` for 2, ... (``11期`` beyond ten)."""
    return f"{_PHASE_ZH[n - 1]}期" if 1 <= n <= len(_PHASE_ZH) else f"{n}期"


def site_phases(assignment: pd.DataFrame, phasing_plan: pd.DataFrame | None) -> pd.DataFrame:
    """Households and persons per site and phase.

    With an annual plan, each year in which a site receives households is a phase, numbered
    in year order; without one, each site has one phase (``year`` empty) holding everyone
    the allocation sends there.
    """
    cols = ["site_id", "phase", "phase_zh", "year", "households", "persons"]
    if phasing_plan is not None and len(phasing_plan):
        g = (
            phasing_plan.assign(site_id=phasing_plan["site_id"].astype(str))
            .groupby(["site_id", "year"], sort=True)[["households", "persons"]]
            .sum()
            .reset_index()
        )
        g["phase"] = g.groupby("site_id").cumcount() + 1
    else:
        g = (
            assignment.assign(site_id=assignment["site_id"].astype(str))
            .groupby("site_id", sort=True)[["households", "persons"]]
            .sum()
            .reset_index()
        )
        g["year"] = pd.NA
        g["phase"] = 1
    g["phase_zh"] = [phase_name(int(n)) for n in g["phase"]]
    g["households"] = g["households"].astype(float).round().astype("int64")
    g["persons"] = g["persons"].astype(float).round().astype("int64")
    return g[cols].reset_index(drop=True)


def _house_types(housing: pd.DataFrame | None, site_ids: Sequence[str]) -> tuple[list[str], list[float]]:
    """Per site: '90平方米×35户；110平方米×3户' and the total floor area (m²)."""
    text, total = [], []
    if housing is None or not len(housing) or not {"site_id", "count", "floor_area_m2"} <= set(housing.columns):
        return [""] * len(site_ids), [float("nan")] * len(site_ids)
    h = housing.assign(site_id=housing["site_id"].astype(str))
    g = h.groupby(["site_id", "floor_area_m2"], sort=True)["count"].sum()
    for sid in site_ids:
        if sid not in g.index.get_level_values(0):
            text.append("")
            total.append(float("nan"))
            continue
        rows = g.loc[sid]
        text.append("；".join(f"{float(a):g}平方米×{int(n)}户" for a, n in rows.items() if n > 0))
        total.append(float(sum(float(a) * float(n) for a, n in rows.items())))
    return text, total


def site_construction(
    sites: gpd.GeoDataFrame,
    assignment: pd.DataFrame,
    *,
    plan_sites: pd.DataFrame | None = None,
    housing: pd.DataFrame | None = None,
    phasing_plan: pd.DataFrame | None = None,
    facilities: gpd.GeoDataFrame | None = None,
    central_village_build_mode: BuildMode = "centralised",
    clinic_max_dist_m: float = 3000.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The site construction table and its phases, one row per site that receives anyone.

    Parameters
    ----------
    sites
        The site layer (``site_id``, ``name``, ``township``, ``tier``, optional
        ``planned_area_m2``; polygons in the run's metric CRS).
    assignment
        The allocation (``site_id``, ``township`` of the unit, ``households``, ``persons``).
    plan_sites
        The plan step's site table (in-site works, school places, off-site cost).
    housing
        The housing check (``site_id``, ``floor_area_m2``, ``count`` of households).
    phasing_plan
        The annual plan (``site_id``, ``year``, ``households``, ``persons``), if any.
    facilities
        Facilities (``kind``) for the clinic check.
    central_village_build_mode
        How a central-village or community site is built when the document does not require
        集中统建: ``centralised`` (统建), ``joint`` (联户) or ``self_built`` (自建).
    clinic_max_dist_m
        A site with no clinic or hospital this close needs one.

    Returns
    -------
    (site_construction, site_phases)
    """
    a = assignment.assign(site_id=assignment["site_id"].astype(str))
    used = sorted(set(a["site_id"]))
    s = sites.assign(site_id=sites["site_id"].astype(str)).set_index("site_id")
    used = [sid for sid in used if sid in s.index]
    out = pd.DataFrame({"site_id": used})
    for col in ("name", "township", "tier"):
        out[col] = [str(s.at[sid, col]) if col in s.columns and pd.notna(s.at[sid, col]) else "" for sid in used]
    geom_area = shapely.area(np.asarray(s.geometry.loc[used].values)) if used else np.zeros(0)
    planned = (
        pd.to_numeric(s["planned_area_m2"], errors="coerce").reindex(used).to_numpy(float)
        if "planned_area_m2" in s.columns
        else np.full(len(used), np.nan)
    )
    out["area_m2"] = np.round(np.where(np.isfinite(planned) & (planned > 0), planned, geom_area), 1)
    by_site = a.groupby("site_id")
    out["households"] = by_site["households"].sum().reindex(used).astype(float).round().astype("int64").to_numpy()
    out["persons"] = by_site["persons"].sum().reindex(used).astype(float).round().astype("int64").to_numpy()
    towns = by_site["township"].agg(lambda t: sorted({str(x) for x in t if pd.notna(x)})) if "township" in a else None
    out["from_townships"] = ["、".join(towns.get(sid, [])) if towns is not None else "" for sid in used]
    out["cross_township"] = [
        bool(towns is not None and any(t != own for t in towns.get(sid, [])))
        for sid, own in zip(used, out["township"], strict=True)
    ]
    phases = site_phases(a[a["site_id"].isin(used)], phasing_plan)
    ph = phases.groupby("site_id")
    out["phases"] = [
        "；".join(
            f"{r.phase_zh}{'' if pd.isna(r.year) else f'({int(r.year)}年)'} {int(r.households)}户{int(r.persons)}人"
            for r in ph.get_group(sid).itertuples()
        )
        if sid in ph.groups
        else ""
        for sid in used
    ]
    years = pd.to_numeric(phases["year"], errors="coerce")
    out["first_year"] = years.groupby(phases["site_id"]).min().reindex(used).astype("Int64").to_numpy()
    out["last_year"] = years.groupby(phases["site_id"]).max().reindex(used).astype("Int64").to_numpy()
    out["house_types"], out["house_floor_area_m2"] = _house_types(housing, used)
    modes, basis = [], []
    for tier, cross in zip(out["tier"], out["cross_township"], strict=True):
        if cross:
            modes.append("centralised")
            basis.append("跨乡镇安置，实行集中统建")
        elif tier in CENTRAL_TIERS:
            modes.append("centralised")
            basis.append("县城安置，实行集中统建" if tier == "county_seat" else "集镇安置，实行集中统建")
        else:
            modes.append(central_village_build_mode)
            basis.append("中心村安置，按方案设定（plans.central_village_build_mode）")
    out["build_mode"], out["build_mode_basis"] = modes, basis
    works = (
        "in_site_lane_yuan",
        "in_site_water_drainage_yuan",
        "in_site_power_yuan",
        "in_site_cost_yuan",
        "off_site_cost_yuan",
        "kindergarten_places",
        "primary_places",
    )
    ps = (
        plan_sites.assign(site_id=plan_sites["site_id"].astype(str)).set_index("site_id")
        if plan_sites is not None
        else None
    )
    for col in works:
        out[col] = (
            pd.to_numeric(ps[col], errors="coerce").reindex(used).to_numpy(float)
            if ps is not None and col in ps.columns
            else np.full(len(used), np.nan)
        )
    out["clinic_dist_m"] = np.nan
    out["clinic_needed"] = False
    if facilities is not None and len(facilities) and "kind" in facilities and used:
        near = nearest_links(s.geometry.loc[used].reset_index(drop=True), facilities, "facility_id", CLINIC_KINDS)
        out["clinic_dist_m"] = near["dist_m"].to_numpy(float).round(1)
        out["clinic_needed"] = ~(out["clinic_dist_m"].to_numpy(float) <= clinic_max_dist_m)
    return out[list(COLUMNS)], phases


__all__ = ("CENTRAL_TIERS", "COLUMNS", "phase_name", "site_construction", "site_phases")
