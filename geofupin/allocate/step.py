"""The allocation step: layers and earlier results in, allocation layers and tables out.

Relocating units are the rows of the villages layer with ``relocate_persons > 0`` (a row is
a village, or a 村民小组 when the layer has a ``group`` column); ``unit: village`` merges the
groups of a village. Sites are the ``sites`` layer of the site step (``passed == True``,
``capacity_persons > 0``) or, when siting did not run, the candidates layer with a
``capacity_persons`` column or ``planned_area_m2 / area_per_person_m2`` (a warning says so).
Travel times come from the access step's ``od_village_site`` table, or from straight-line
distance at ``fallback_speed_kph`` (a warning says so).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..config.allocate import AllocationConfig
from ..context import RunContext, StepResult
from ..errors import DataError, InfeasibleError
from .matrix import CostMatrix, cost_matrix, straight_line_od
from .solve import (
    Allocation,
    solve_divisible_milp,
    solve_flow,
    solve_max_coverage,
    solve_p_median,
    solve_single_source,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class AllocationRun:
    """Everything :func:`assign` produced: the units, sites, matrix and allocation, and its tables.

    Attributes
    ----------
    units
        The relocating units (a village, 村民小组 or household each): ``unit_id``,
        ``village_id``, ``group``, ``name``, ``township``, ``persons``, ``households``.
    sites
        The sites in play with ``capacity_persons``.
    matrix
        The units x sites cost matrix the solver read.
    allocation
        The solver's :class:`~geofupin.allocate.solve.Allocation`.
    warnings
        Messages for the user.
    assignment, site_load, unserved, flows
        The run's tables ``assignment`` (one row per village or group and site, with names,
        ``households``, ``persons``, ``time_min``, ``dist_m``), ``site_load``, ``unserved``
        and the layer ``allocation_flows`` (lines from each unit to its site).
    """

    units: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    matrix: CostMatrix
    allocation: Allocation
    warnings: tuple[str, ...]

    @cached_property
    def _frames(self) -> tuple[gpd.GeoDataFrame, dict[str, pd.DataFrame]]:
        return _tables(self)

    @property
    def assignment(self) -> pd.DataFrame:
        """Table ``assignment``: who moves where."""
        return self._frames[1]["assignment"]

    @property
    def site_load(self) -> pd.DataFrame:
        """Table ``site_load``: persons and households per site, and its occupancy."""
        return self._frames[1]["site_load"]

    @property
    def unserved(self) -> pd.DataFrame:
        """Table ``unserved``: units nobody could place, with the reason in Chinese and English."""
        return self._frames[1]["unserved"]

    @property
    def flows(self) -> gpd.GeoDataFrame:
        """Layer ``allocation_flows``: a line from each unit to its site."""
        return self._frames[0]


def relocating_units(villages: gpd.GeoDataFrame, *, unit: str = "group") -> tuple[gpd.GeoDataFrame, list[str]]:
    """Units that move: one per village row (or per village with ``unit='village'``).

    Returns the units (``unit_id, village_id, group, name, township, persons, households,
    geometry``) and warnings about rows that were skipped.
    """
    warnings: list[str] = []
    v = villages.copy()
    for col in ("village_id", "relocate_persons", "relocate_households"):
        if col not in v:
            raise DataError(f"villages: column '{col}' is missing. Fix: add it (0 for villages that stay).")
    persons = pd.to_numeric(v["relocate_persons"], errors="coerce")
    hh = pd.to_numeric(v["relocate_households"], errors="coerce").fillna(0)
    bad = v.loc[~(persons >= 0) | (hh < 0), "village_id"]
    if len(bad):
        raise DataError(
            f"villages [id {bad.iloc[0]}]: relocate_persons/relocate_households is negative or empty "
            f"({len(bad)} rows). Fix: give whole numbers >= 0."
        )
    zero = v.loc[(persons == 0) & (hh > 0), "village_id"]
    if len(zero):
        warnings.append(
            f"villages: {len(zero)} rows have relocating households but 0 relocate_persons and are skipped "
            f"(ids {', '.join(map(str, zero.iloc[:5]))}). Fix: fill relocate_persons."
        )
    v = v.loc[persons > 0].copy()
    v["persons"] = persons[persons > 0].astype(np.int64)
    v["households"] = hh[persons > 0].astype(np.int64)
    v["village_id"] = v["village_id"].astype(str)
    has_group = "group" in v.columns
    group = v["group"].where(v["group"].notna(), None) if has_group else pd.Series(None, index=v.index, dtype=object)
    v["group"] = group.astype(object)
    for col in ("name", "township"):
        if col not in v:
            v[col] = ""
    # the layer's active geometry, whatever its column is called (read_postgis gives 'geom')
    v = gpd.GeoDataFrame(v.drop(columns=v.geometry.name), geometry=v.geometry.values, crs=villages.crs)
    if unit == "village":
        agg = v.groupby("village_id", sort=False).agg(
            name=("name", "first"), township=("township", "first"), persons=("persons", "sum"),
            households=("households", "sum"), geometry=("geometry", "first"),
        )  # fmt: skip
        out = gpd.GeoDataFrame(agg.reset_index(), geometry="geometry", crs=villages.crs)
        out["group"] = None
        out["unit_id"] = out["village_id"]
    else:
        out = v[["village_id", "group", "name", "township", "persons", "households", "geometry"]].copy()
        out["unit_id"] = np.where(
            out["group"].notna(), out["village_id"] + "/" + out["group"].astype(str), out["village_id"]
        )
        dup = out["unit_id"][out["unit_id"].duplicated()]
        if len(dup):
            raise DataError(
                f"villages [id {dup.iloc[0]}]: {len(dup)} relocating rows share a village_id without distinct "
                "'group' values. Fix: give each 村民小组 row a 'group', or use allocation.unit: village."
            )
    out = out[["unit_id", "village_id", "group", "name", "township", "persons", "households", "geometry"]]
    return gpd.GeoDataFrame(out.reset_index(drop=True), geometry="geometry", crs=villages.crs), warnings


def allocation_sites(
    sites: gpd.GeoDataFrame | None,
    candidates: gpd.GeoDataFrame | None,
    *,
    area_per_person_m2: float,
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Sites in play with ``capacity_persons`` (> 0), and warnings."""
    warnings: list[str] = []
    if sites is not None:
        s = sites.copy()
        if "passed" in s:
            s = s[s["passed"].fillna(False).astype(bool)]
        if "capacity_persons" not in s:
            raise DataError("sites: column 'capacity_persons' is missing. Fix: run the site step with capacity.")
    elif candidates is not None:
        s = candidates.copy()
        if "capacity_persons" in s:
            warnings.append(
                "the site step did not run: candidate sites are used unscreened with their capacity_persons"
            )
        else:
            if "planned_area_m2" in s:
                area = pd.to_numeric(s["planned_area_m2"], errors="coerce")
                area = area.fillna(pd.Series(s.geometry.area, index=s.index))
                what = "planned_area_m2 (or polygon area where empty)"
            else:
                area = pd.Series(s.geometry.area, index=s.index)
                what = "polygon area"
            s["capacity_persons"] = np.floor(area / area_per_person_m2)
            warnings.append(
                f"the site step did not run: candidate sites are used unscreened, capacity = {what} / "
                f"{area_per_person_m2:g} m2 per person (allocation.area_per_person_m2)"
            )
    else:
        raise DataError("allocation needs sites: run the site step or supply a candidates layer.")
    s["site_id"] = s["site_id"].astype(str)
    cap = pd.to_numeric(s["capacity_persons"], errors="coerce")
    bad = s.loc[~(cap > 0), "site_id"]
    if len(bad):
        warnings.append(
            f"sites: {len(bad)} sites with zero, negative or empty capacity_persons are left out "
            f"(ids {', '.join(bad.iloc[:5])}). Fix: check buildable area or give capacity_persons."
        )
    s = s.loc[cap > 0].copy()
    s["capacity_persons"] = cap[cap > 0].astype(float)
    if s.empty:
        raise InfeasibleError("no site can receive anyone: no site passed screening with a positive capacity_persons.")
    for col in ("name", "name_en", "tier", "township"):
        if col not in s:
            s[col] = ""
    return gpd.GeoDataFrame(s.reset_index(drop=True), geometry=s.geometry.name, crs=s.crs), warnings


def _straight_line_od(units: pd.DataFrame, sites: gpd.GeoDataFrame, cfg: AllocationConfig, key: str) -> pd.DataFrame:
    """OD rows ``key, site_id, time_min, dist_m`` from straight-line distance at the fallback speed."""
    r, c, t, d = straight_line_od(
        units.geometry.representative_point().values,
        sites.geometry.values,
        speed_kph=cfg.fallback_speed_kph,
        detour=cfg.fallback_detour,
    )
    return pd.DataFrame(
        {key: units[key].to_numpy()[r], "site_id": sites["site_id"].to_numpy()[c], "time_min": t, "dist_m": d}
    )


def allocate(
    villages: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    od: pd.DataFrame | None,
    config: AllocationConfig | None = None,
    *,
    routed_sites: set[str] | None = None,
) -> AllocationRun:
    """Allocate relocating units to sites (pure: no pipeline needed).

    Parameters
    ----------
    villages
        The villages layer (rows with ``relocate_persons > 0`` move).
    sites
        Sites in play with ``site_id`` and ``capacity_persons`` (see :func:`allocation_sites`).
    od
        ``village_id, site_id, time_min, dist_m``, or ``None`` for straight-line distance at
        ``config.fallback_speed_kph`` (with a warning).
    config
        The ``allocation`` scenario section (defaults when ``None``).
    routed_sites
        Sites that were routed on the road network (their missing OD rows mean "not reachable
        within the cut-off", not "unknown"): no straight-line fallback for them.
    """
    cfg = config or AllocationConfig()
    units, warnings = relocating_units(villages, unit=cfg.unit)
    if units.empty:
        raise DataError("villages: no row has relocate_persons > 0, nobody to allocate.")
    if od is None:
        od = _straight_line_od(units, sites, cfg, "unit_id")
        warnings.append(
            f"no od_village_site table (access step did not run): travel time = straight-line distance x "
            f"{cfg.fallback_detour:g} at {cfg.fallback_speed_kph:g} km/h (allocation.fallback_speed_kph)"
        )
    else:
        no_od = ~sites["site_id"].astype(str).isin(set(od["site_id"].astype(str)) | (routed_sites or set()))
        if no_od.any():  # e.g. candidates generated on a grid after the access step ran
            key = "unit_id" if "unit_id" in od.columns else "village_id"
            extra = _straight_line_od(units.drop_duplicates(key), sites[no_od], cfg, key)
            od = pd.concat([od[[key, "site_id", "time_min", "dist_m"]], extra], ignore_index=True)
            warnings.append(
                f"{int(no_od.sum())} sites have no row in od_village_site (e.g. generated grid candidates): their "
                f"travel time = straight-line distance x {cfg.fallback_detour:g} at {cfg.fallback_speed_kph:g} km/h"
            )
        missing = sorted(set(units["village_id"]) - set(od["village_id"].astype(str)))
        if missing:
            warnings.append(
                f"od_village_site has no row for {len(missing)} relocating villages (ids {', '.join(missing[:5])}); "
                "they count as unreachable"
            )
    if cfg.objective == "suitability_weighted" and "score" not in sites:
        warnings.append("objective suitability_weighted needs site scores; none found, person_minutes used instead")
        objective = "person_minutes"
    else:
        objective = cfg.objective
    unknown_fixed = sorted(set(cfg.fixed_sites) - set(sites["site_id"]))
    if unknown_fixed:
        raise InfeasibleError(
            f"rule fixed_sites: {', '.join(unknown_fixed)} are not among the sites in play (failed screening, no "
            "capacity, or unknown id). Fix: correct allocation.fixed_sites."
        )
    cm = cost_matrix(
        units, sites, od, objective=objective, suitability_weight_min=cfg.suitability_weight_min,
        cutoff_min=cfg.cutoff_min, max_time_from_origin_min=cfg.max_time_from_origin_min,
        tier_preference=dict(cfg.tier_preference), allowed_tiers=cfg.allowed_tiers,
        reserved_sites=cfg.reserved_sites, k_nearest=cfg.k_nearest,
    )  # fmt: skip
    no_one = cm.site_ids[np.bincount(cm.cols, minlength=cm.n_sites) == 0]
    if len(no_one):
        warnings.append(
            f"{len(no_one)} sites have no relocating village within reach under the rules "
            f"(ids {', '.join(map(str, no_one[:5]))})"
        )
    total_cap = float(cm.capacity.sum())
    if total_cap < cm.demand.sum():
        warnings.append(
            f"total capacity of the sites ({total_cap:.0f} persons) is short of the {int(cm.demand.sum())} "
            f"relocating persons by {int(cm.demand.sum() - total_cap)}"
        )
    rv: dict[str, object] = {
        "cutoff_min": cfg.cutoff_min, "max_time_from_origin_min": cfg.max_time_from_origin_min,
        "allowed_tiers": cfg.allowed_tiers, "k_nearest": cfg.k_nearest,
        "min_occupancy_persons": cfg.min_occupancy_persons,
    }  # fmt: skip
    lim = {"time_limit_s": cfg.time_limit_s, "mip_gap": cfg.mip_gap, "rule_values": rv}
    whole = cfg.unit != "household"
    if cfg.model == "flow":
        if cfg.min_occupancy_persons > 0:
            alloc = solve_divisible_milp(cm, min_occupancy_persons=cfg.min_occupancy_persons, **lim)  # type: ignore[arg-type]
        else:
            alloc = solve_flow(cm, solver="highs" if cfg.solver == "highs" else "ortools", rule_values=rv)
    elif cfg.model == "single_source":
        alloc = solve_single_source(cm, min_occupancy_persons=cfg.min_occupancy_persons, **lim)  # type: ignore[arg-type]
    elif cfg.model == "p_median":
        alloc = solve_p_median(
            cm, int(cfg.p or 1), fixed=cfg.fixed_sites, single_source=whole,
            min_occupancy_persons=cfg.min_occupancy_persons, **lim,  # type: ignore[arg-type]
        )  # fmt: skip
    else:
        alloc = solve_max_coverage(
            cm, int(cfg.p or 1), coverage_min=cfg.coverage_min, fixed=cfg.fixed_sites, single_source=whole,
            min_occupancy_persons=cfg.min_occupancy_persons, **lim,  # type: ignore[arg-type]
        )  # fmt: skip
    warnings.extend(alloc.messages)
    if cfg.require_all_served and alloc.relaxed:
        reasons = "; ".join(f"{r.unit_id}: {r.reason_en}" for r in alloc.unserved.itertuples())
        raise InfeasibleError(
            f"{alloc.unserved_persons} relocating persons cannot be placed (allocation.require_all_served): {reasons}"
        )
    return AllocationRun(units, sites, cm, alloc, tuple(warnings))


def assign(
    villages: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    od: pd.DataFrame | None = None,
    *,
    config: AllocationConfig | None = None,
    routed_sites: set[str] | None = None,
) -> AllocationRun:
    """Place the relocating villages (or groups, or households) at sites, within capacity.

    Takes the sites that passed screening with a positive ``capacity_persons`` (a ``passed``
    column is honoured when present), builds the cost matrix from ``od`` under the rules of
    ``config`` and solves the chosen model (min-cost flow, whole villages, p-median, maximal
    coverage) with a real solver.

    Parameters
    ----------
    villages
        The villages layer; rows with ``relocate_persons > 0`` move (one unit per row: a
        village or a 村民小组 with ``group``). Not modified.
    sites
        Sites with ``site_id`` and ``capacity_persons`` (``geofupin.siting.evaluate(...).sites``).
    od
        Travel times ``village_id, site_id, time_min, dist_m`` (:func:`geofupin.access.od`);
        ``None``: straight-line distance at ``config.fallback_speed_kph``, with a warning.
    config
        Model, objective, cut-offs, side rules and solver limits (default
        :class:`~geofupin.config.allocate.AllocationConfig`).
    routed_sites
        Sites routed on the road network, whose missing OD rows mean "not reachable within
        the cut-off"; the others get straight-line times (e.g. grid candidates made after the
        OD table). Default: every site, when ``od`` is given.

    Returns
    -------
    AllocationRun
        The units, sites, matrix and :class:`~geofupin.allocate.solve.Allocation`, with the
        tables ``assignment``, ``site_load``, ``unserved`` and the layer ``flows``.

    Raises
    ------
    InfeasibleError
        No site with capacity, an unknown fixed site, or persons left over under
        ``require_all_served``.
    """
    cfg = config or AllocationConfig()
    in_play, warnings = allocation_sites(sites, None, area_per_person_m2=cfg.area_per_person_m2)
    if routed_sites is None and od is not None:
        routed_sites = set(in_play["site_id"])
    run = allocate(villages, in_play, od, cfg, routed_sites=routed_sites)
    return AllocationRun(run.units, run.sites, run.matrix, run.allocation, (*warnings, *run.warnings))


def _tables(run: AllocationRun) -> tuple[gpd.GeoDataFrame, dict[str, pd.DataFrame]]:
    units = run.units.set_index("unit_id")
    sites = run.sites.set_index("site_id")
    a = run.allocation.assignment
    u = units.loc[a["unit_id"]]
    s = sites.loc[a["site_id"]]
    assignment = pd.DataFrame(
        {
            "village_id": u["village_id"].to_numpy(),
            "group": u["group"].to_numpy(),
            "unit_id": a["unit_id"].to_numpy(),
            "name": u["name"].to_numpy(),
            "township": u["township"].to_numpy(),
            "site_id": a["site_id"].to_numpy(),
            "site_name": s["name"].to_numpy(),
            "site_name_en": s["name_en"].to_numpy(),
            "tier": s["tier"].to_numpy(),
            "households": a["households"].to_numpy(),
            "persons": a["persons"].to_numpy(),
            "time_min": a["time_min"].to_numpy(),
            "dist_m": a["dist_m"].to_numpy(),
            "cost": a["cost"].to_numpy(),
        }
    )
    start = shapely.get_coordinates(u.geometry.representative_point().values)
    end = shapely.get_coordinates(s.geometry.representative_point().values)
    lines = shapely.linestrings(np.stack([start, end], axis=1)) if len(a) else np.array([], dtype=object)
    flows = gpd.GeoDataFrame(
        assignment[["village_id", "group", "site_id", "households", "persons", "time_min", "dist_m"]].copy(),
        geometry=gpd.GeoSeries(lines, crs=run.units.crs),
    )
    sl = run.allocation.site_load
    site_load = pd.DataFrame(
        {
            "site_id": sl["site_id"].to_numpy(),
            "name": sites.loc[sl["site_id"], "name"].to_numpy(),
            "tier": sites.loc[sl["site_id"], "tier"].to_numpy(),
            "capacity_persons": sl["capacity_persons"].to_numpy(),
            "assigned_persons": sl["assigned_persons"].to_numpy(),
            "assigned_households": sl["assigned_households"].to_numpy(),
            "open": sl["open"].to_numpy(),
            "occupancy_share": (sl["assigned_persons"] / sl["capacity_persons"]).to_numpy(),
        }
    )
    un = run.allocation.unserved
    uu = units.loc[un["unit_id"]] if len(un) else units.iloc[:0]
    unserved = pd.DataFrame(
        {
            "village_id": uu["village_id"].to_numpy(),
            "group": uu["group"].to_numpy(),
            "unit_id": un["unit_id"].to_numpy(),
            "name": uu["name"].to_numpy(),
            "persons": un["persons"].to_numpy(),
            "households": un["households"].to_numpy(),
            "rule": un["rule"].to_numpy(),
            "reason_zh": un["reason_zh"].to_numpy(),
            "reason_en": un["reason_en"].to_numpy(),
        }
    )
    return flows, {"assignment": assignment, "site_load": site_load, "unserved": unserved}


def relocation_access(
    assignment: pd.DataFrame, village_access: pd.DataFrame, site_access: pd.DataFrame
) -> pd.DataFrame | None:
    """Before/after travel time to each facility kind for every relocated unit.

    Joins ``village_access`` (before: the old village) and ``site_access`` (after: the new
    site) on the ``time_min_<kind>`` columns both layers carry; ``None`` if they share none.
    """
    kinds = [c[len("time_min_") :] for c in village_access.columns if c.startswith("time_min_")]
    kinds = [k for k in kinds if f"time_min_{k}" in site_access.columns]
    if not kinds:
        return None
    va = village_access.assign(village_id=village_access["village_id"].astype(str))
    va = va.drop_duplicates("village_id").set_index("village_id")
    sa = site_access.assign(site_id=site_access["site_id"].astype(str))
    sa = sa.drop_duplicates("site_id").set_index("site_id")
    out = assignment[["village_id", "group", "site_id", "households", "persons"]].copy()
    for k in kinds:
        before = va[f"time_min_{k}"].reindex(out["village_id"]).to_numpy(dtype=float)
        after = sa[f"time_min_{k}"].reindex(out["site_id"]).to_numpy(dtype=float)
        out[f"before_time_min_{k}"] = before
        out[f"after_time_min_{k}"] = after
        out[f"change_time_min_{k}"] = after - before
    return out


_ASSIGNMENT_COLUMNS = (
    "village_id", "group", "unit_id", "name", "township", "site_id", "site_name", "site_name_en", "tier",
    "households", "persons", "time_min", "dist_m", "cost",
)  # fmt: skip


def _nobody_placed(villages: gpd.GeoDataFrame, cfg: AllocationConfig, why: str) -> StepResult:
    """The result when no site can take anyone: every relocating unit unserved, with the reason."""
    units, warnings = relocating_units(villages, unit=cfg.unit)
    unserved = pd.DataFrame(
        {
            "village_id": units["village_id"].to_numpy(),
            "group": units["group"].to_numpy(),
            "unit_id": units["unit_id"].to_numpy(),
            "name": units["name"].to_numpy(),
            "persons": units["persons"].to_numpy(),
            "households": units["households"].to_numpy(),
            "rule": "no_site",
            "reason_zh": "没有通过筛选且有容量的安置点",
            "reason_en": "no site passed screening with capacity",
        }
    )
    message = f"{why} All {int(unserved['persons'].sum())} relocating persons are unserved; see table unserved."
    logger.warning("%s", message)
    return StepResult(
        tables={"assignment": pd.DataFrame(columns=list(_ASSIGNMENT_COLUMNS)), "unserved": unserved},
        summary={
            "model": cfg.model,
            "units": len(unserved),
            "sites": 0,
            "relocating_persons": int(unserved["persons"].sum()),
            "served_persons": 0,
            "unserved_persons": int(unserved["persons"].sum()),
            "status": "no_site",
        },
        warnings=(*warnings, message),
    )


def _network_od(ctx: RunContext) -> tuple[pd.DataFrame | None, set[str]]:
    """The OD rows villages x sites and the sites routed on the network.

    Generated grid candidates are routed by the site step (its own ``od_village_site`` and
    ``site_access``); given candidates by the access step. Both are merged, the site step's
    rows winning for its sites.
    """
    frames: list[pd.DataFrame] = []
    routed: set[str] = set()
    for name in ("site", "access"):
        res = ctx.results.get(name)
        if res is None:
            continue
        od = res.tables.get("od_village_site")
        sa = res.layers.get("site_access")
        if od is not None:
            done = set().union(*(set(f["site_id"].astype(str)) for f in frames)) if frames else set()
            frames.append(od[~od["site_id"].astype(str).isin(done)] if done else od)
        if sa is not None and "site_id" in sa:
            routed |= set(sa["site_id"].astype(str))
    if not frames:
        return None, routed
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0], routed


def step(ctx: RunContext) -> StepResult:
    """The ``allocate`` pipeline step.

    Reads ``ctx.scenario.allocation`` (defaults when absent), the villages layer, the site
    step's ``sites`` layer (or the candidates layer), the access step's
    ``od_village_site`` table (or straight-line distance) and, when present, the
    ``village_access``/``site_access`` layers for before/after access.

    Returns
    -------
    StepResult
        Layer ``allocation_flows``; tables ``assignment``, ``site_load``, ``unserved``
        (and ``relocation_access``); artifact ``allocation`` (:class:`Allocation`) and
        ``allocation_run`` (:class:`AllocationRun`); summary figures; warnings.
    """
    from ..placement import placement_of

    cfg = getattr(ctx.scenario, "allocation", None) or AllocationConfig()
    # scattered and special relocation first (分散安置, 集中供养, 周转房): the central allocation sees the rest
    placed = placement_of(ctx)
    villages = placed.villages
    for w in placed.warnings:
        logger.warning("%s", w)
    moving = pd.to_numeric(villages["relocate_persons"], errors="coerce").fillna(0)
    try:
        if not (moving > 0).any():
            raise InfeasibleError("every relocating household is placed other than at a central site.")
        sites, warnings = allocation_sites(
            ctx.layer("sites"), ctx.layers.candidates, area_per_person_m2=cfg.area_per_person_m2
        )
    except InfeasibleError as exc:  # nowhere to go: report every unit unserved, keep the rest of the run
        if not (moving > 0).any():
            empty = StepResult(
                tables={"assignment": pd.DataFrame(columns=list(_ASSIGNMENT_COLUMNS)), "unserved": pd.DataFrame()},
                summary={"model": cfg.model, "units": 0, "sites": 0, "relocating_persons": 0, "served_persons": 0,
                         "unserved_persons": 0, "status": "no_central"},
            )  # fmt: skip
            return _with_placement(empty, placed, ctx.layers.villages)
        return _with_placement(_nobody_placed(villages, cfg, str(exc)), placed, ctx.layers.villages)
    od, routed = _network_od(ctx)
    run = assign(villages, sites, od, config=cfg, routed_sites=routed)
    flows, tables = run.flows, dict(run._frames[1])
    va, sa = ctx.layer("village_access"), ctx.layer("site_access")
    if va is not None and sa is not None:
        ra = relocation_access(tables["assignment"], va, sa)
        if ra is not None:
            tables["relocation_access"] = ra
    a = run.allocation
    summary = {
        "model": cfg.model,
        "unit": cfg.unit,
        "units": int(run.matrix.n_units),
        "sites": int(run.matrix.n_sites),
        "arcs": int(run.matrix.n_arcs),
        "relocating_persons": int(run.matrix.demand.sum()),
        "served_persons": a.served_persons,
        "unserved_persons": a.unserved_persons,
        "open_sites": len(a.open_sites),
        "objective": a.objective,
        "solver": a.solver,
        "gap": a.gap,
        "status": a.status,
        "relaxed": a.relaxed,
    }
    all_warnings = tuple(warnings) + run.warnings
    for w in all_warnings:
        logger.warning("%s", w)
    res = StepResult(
        layers={"allocation_flows": flows},
        tables=tables,
        artifacts={"allocation": a, "allocation_run": run},
        summary=summary,
        warnings=all_warnings,
    )
    return _with_placement(res, placed, ctx.layers.villages)


def _with_placement(res: StepResult, placed: Any, villages: gpd.GeoDataFrame) -> StepResult:
    """The step's result with the placement (:mod:`geofupin.placement`): the non-central rows in ``assignment``
    (every row gets ``mode``, ``mode_zh``), their flow lines, the tables ``placement``, ``placement_modes``,
    ``placement_unplaced``, the layer ``placement_destinations`` and the summary's per-mode figures (persons
    placed other than at a central site count as relocating and placed)."""
    from ..placement import mode_totals, with_central_sites
    from ..vocabulary import PLACEMENT_MODE_ZH

    tables = dict(res.tables)
    a = tables.get("assignment", pd.DataFrame(columns=list(_ASSIGNMENT_COLUMNS)))
    a = a.assign(mode="central", mode_zh=PLACEMENT_MODE_ZH["central"])
    rows = placed.rows
    if len(rows):
        a = pd.concat([a, rows[a.columns]], ignore_index=True) if len(a) else rows[a.columns].reset_index(drop=True)
    tables["assignment"] = a
    table = with_central_sites(placed.table, a[a["mode"] == "central"], tables.get("unserved"))
    tables["placement"] = table
    tables["placement_modes"] = modes = mode_totals(table)
    tables["placement_unplaced"] = placed.unplaced
    layers = dict(res.layers)
    flows = layers.get("allocation_flows")
    dests = placed.destinations
    if flows is not None:
        flows = flows.assign(mode="central")
        to = rows[rows["site_id"].astype(str).isin(set(dests["site_id"]))] if len(dests) else rows.iloc[:0]
        to = to[to["mode"] != "transitional"]  # transitional housing stands in the village: no line
        if len(to):  # lines to the nursing homes
            start = villages.assign(village_id=villages["village_id"].astype(str)).drop_duplicates("village_id")
            start_pt = start.set_index("village_id").geometry.representative_point()
            end_pt = dests.set_index("site_id").geometry
            lines = [
                shapely.LineString([start_pt.loc[str(v)], end_pt.loc[str(s)]])
                for v, s in zip(to["village_id"], to["site_id"], strict=True)
            ]
            cols = ["village_id", "group", "site_id", "households", "persons", "time_min", "dist_m", "mode"]
            extra = gpd.GeoDataFrame(to[cols].reset_index(drop=True), geometry=gpd.GeoSeries(lines, crs=flows.crs))
            flows = gpd.GeoDataFrame(pd.concat([flows, extra], ignore_index=True), geometry="geometry", crs=flows.crs)
        layers["allocation_flows"] = flows
    layers["placement_destinations"] = dests
    summary = dict(res.summary)
    elsewhere_p = int(modes.loc[modes["mode"] != "central", "persons"].sum())
    summary["central_relocating_persons"] = summary.get("relocating_persons")
    summary["relocating_persons"] = int(summary.get("relocating_persons") or 0) + elsewhere_p
    summary["served_persons"] = int(summary.get("served_persons") or 0) + elsewhere_p
    summary["placement"] = {
        str(r.mode): {"households": int(r.households), "persons": int(r.persons), "destinations": int(r.destinations)}
        for r in modes.itertuples()
    }
    summary["placement_unplaced_households"] = len(placed.unplaced)
    artifacts = dict(res.artifacts)
    if getattr(placed, "roster", None) is not None:  # the roster as read: the roster step reads it from here
        artifacts["roster"] = placed.roster
    return dataclasses.replace(
        res, tables=tables, layers=layers, artifacts=artifacts, summary=summary,
        warnings=(*res.warnings, *placed.warnings),
    )  # fmt: skip
