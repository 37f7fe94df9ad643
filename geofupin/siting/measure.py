"""Candidate sites and what is measured on them.

:func:`generate_grid` makes candidates when the county has none; :func:`measure` adds to
each candidate its area, overlaps with (buffered) constraints, buildable area, terrain
statistics, distances to water, power, all-weather roads and hazards, travel times and
capacity. Geometry goes in, a new GeoDataFrame comes out (the input is never modified).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from .. import terrain
from ..config.siting import CapacityConfig, SitingConfig
from ..crs import require_projected
from ..errors import DataError

log = logging.getLogger(__name__)

#: Constraint groups of the "outside" rules and the kinds in each.
GROUPS: dict[str, tuple[str, ...]] = {
    "basic_farmland": ("basic_farmland",),
    "ecological_redline": ("ecological_redline",),
    "hazard": ("hazard_zone", "hazard_point"),
    "flood_zone": ("flood_zone",),
}

#: Facility kinds with a travel-time criterion.
TIME_KINDS: tuple[str, ...] = ("county_seat", "town", "school", "clinic", "industrial_park")

__all__ = [
    "GROUPS",
    "Capacity",
    "capacity",
    "constraint_unions",
    "generate_grid",
    "measure",
    "overlap_area",
    "travel_times",
]


def constraint_unions(
    constraints: gpd.GeoDataFrame | None, buffers_m: dict[str, float]
) -> dict[str, BaseGeometry | None]:
    """Union of the buffered constraints of each group (``None`` when the group is empty)."""
    out: dict[str, BaseGeometry | None] = dict.fromkeys(GROUPS)
    if constraints is None or constraints.empty:
        return out
    geoms = np.asarray(constraints.geometry.values)
    kinds = constraints["kind"].astype(str).to_numpy()
    dist = np.array([buffers_m.get(k, 0.0) for k in kinds], dtype=float)
    buffered = np.where(dist > 0, shapely.buffer(geoms, dist), geoms)
    for g, kk in GROUPS.items():
        sel = np.isin(kinds, kk) & (shapely.area(buffered) > 0)
        if sel.any():
            out[g] = shapely.union_all(buffered[sel])
    return out


def overlap_area(geoms: np.ndarray, union: BaseGeometry | None) -> np.ndarray:
    """Area of each geometry inside ``union`` (vectorised over the union's disjoint parts)."""
    area = np.zeros(len(geoms))
    if union is None or union.is_empty or len(geoms) == 0:
        return area
    parts = np.asarray(shapely.get_parts(union))
    tree = shapely.STRtree(parts)
    gi, pi = tree.query(geoms, predicate="intersects")
    if gi.size:
        a = shapely.area(shapely.intersection(geoms[gi], parts[pi]))
        area += np.bincount(gi, weights=a, minlength=len(geoms))
    return area


def _nearest(geoms: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Distance (m) from each geometry to the nearest target; +inf when there is none."""
    d = np.full(len(geoms), np.inf)
    targets = targets[~shapely.is_missing(targets) & ~shapely.is_empty(targets)] if len(targets) else targets
    if len(targets) == 0 or len(geoms) == 0:
        return d
    tree = shapely.STRtree(targets)
    (gi, _), dist = tree.query_nearest(geoms, return_distance=True, all_matches=False)
    d[gi] = dist
    return d


def generate_grid(
    area: BaseGeometry,
    *,
    cell_m: float,
    crs: object,
    max_cells: int = 200_000,
) -> gpd.GeoDataFrame:
    """Square cells of ``cell_m`` covering ``area``, clipped to it (ids ``G000001``...).

    Raises :class:`DataError` when the grid would exceed ``max_cells`` cells.
    """
    x0, y0, x1, y1 = area.bounds
    nx = max(int(np.ceil((x1 - x0) / cell_m)), 1)
    ny = max(int(np.ceil((y1 - y0) / cell_m)), 1)
    if nx * ny > max_cells:
        raise DataError(
            f"siting grid: {nx} x {ny} = {nx * ny} cells of {cell_m:g} m exceed grid.max_cells = {max_cells}. "
            "Fix: raise siting.grid.cell_m or max_cells, or give a candidates layer."
        )
    ix, iy = np.meshgrid(np.arange(nx), np.arange(ny))
    bx = x0 + ix.ravel() * cell_m
    by = y0 + iy.ravel() * cell_m
    cells = shapely.box(bx, by, bx + cell_m, by + cell_m)
    shapely.prepare(area)
    keep = shapely.intersects(area, cells)
    clipped = cells[keep]
    edge = ~shapely.contains_properly(area, clipped)  # only cells on the boundary need clipping
    clipped[edge] = shapely.intersection(clipped[edge], area)
    ok = shapely.area(clipped) > 0
    clipped = clipped[ok]
    ids = np.char.add("G", np.char.zfill(np.arange(1, len(clipped) + 1).astype(str), 6))
    return gpd.GeoDataFrame({"site_id": ids.astype(object)}, geometry=clipped, crs=crs)


@dataclass(frozen=True)
class Capacity:
    """How capacity was computed (the norm reported with the figures)."""

    land_per_person_m2: float
    housing_m2_per_person: float
    housing_m2_per_household: float
    persons_per_household: float
    text_zh: str
    text_en: str
    warnings: tuple[str, ...]


def capacity(
    buildable_m2: np.ndarray, norms: CapacityConfig, villages: gpd.GeoDataFrame | None
) -> tuple[np.ndarray, np.ndarray, Capacity]:
    """Persons and households a site can hold, from buildable area and the norms.

    ``persons = floor(buildable_area_m2 / land_per_person_m2)``; ``households = floor(persons /
    persons_per_household)``. Housing per household is ``housing_m2_per_person x
    persons_per_household`` capped at ``max_housing_m2_per_household``; a warning says when the
    cap pushes housing below 20 m2 per person (the two seed norms conflict for that household
    size). NaN buildable area (unknown) gives NaN capacity.
    """
    warns: list[str] = []
    pph = norms.persons_per_household
    if pph is None:
        pph = 4.0
        if villages is not None and len(villages):
            for p_col, h_col in (("relocate_persons", "relocate_households"), ("persons", "households")):
                if p_col in villages and h_col in villages:
                    hh = float(pd.to_numeric(villages[h_col], errors="coerce").fillna(0).sum())
                    if hh > 0:
                        pph = float(pd.to_numeric(villages[p_col], errors="coerce").fillna(0).sum()) / hh
                        break
    housing_hh = min(norms.housing_m2_per_person * pph, norms.max_housing_m2_per_household)
    if housing_hh / pph < 20 - 1e-9:
        warns.append(
            f"住房标准冲突：户均 {pph:.2f} 人 x 20 m² 超过每户 {norms.max_housing_m2_per_household:g} m² 上限 / "
            f"housing norms conflict: {pph:.2f} persons per household x 20 m2 exceeds the "
            f"{norms.max_housing_m2_per_household:g} m2 per household cap"
        )
    b = np.asarray(buildable_m2, dtype=float)
    with np.errstate(invalid="ignore"):
        persons = np.floor(b / norms.land_per_person_m2)
        households = np.floor(persons / pph)
    zh = (
        f"人均用地 {norms.land_per_person_m2:g} m²（含道路及公共空间）；人均住房 {norms.housing_m2_per_person:g} m²"
        f"（不低于 20 m²），户均 {housing_hh:.0f} m²（不超过 {norms.max_housing_m2_per_household:g} m²）；"
        f"户均 {pph:.2f} 人"
    )
    en = (
        f"{norms.land_per_person_m2:g} m2 of land per person (incl. roads and public space); housing "
        f"{norms.housing_m2_per_person:g} m2 per person (>= 20), {housing_hh:.0f} m2 per household "
        f"(<= {norms.max_housing_m2_per_household:g}); {pph:.2f} persons per household"
    )
    info = Capacity(norms.land_per_person_m2, norms.housing_m2_per_person, housing_hh, pph, zh, en, tuple(warns))
    return persons, households, info


def _all_weather(roads: gpd.GeoDataFrame, cfg: SitingConfig) -> np.ndarray:
    ok = np.ones(len(roads), dtype=bool)
    if "road_class" in roads:
        ok &= roads["road_class"].astype(str).isin(cfg.all_weather_road_classes).to_numpy()
    if "surface" in roads:
        s = roads["surface"]
        ok &= (s.isna() | s.astype(str).isin(cfg.all_weather_surfaces)).to_numpy()
    return np.asarray(roads.geometry.values)[ok]


def measure(
    candidates: gpd.GeoDataFrame,
    *,
    cfg: SitingConfig,
    villages: gpd.GeoDataFrame | None = None,
    roads: gpd.GeoDataFrame | None = None,
    water: gpd.GeoDataFrame | None = None,
    power: gpd.GeoDataFrame | None = None,
    facilities: gpd.GeoDataFrame | None = None,
    constraints: gpd.GeoDataFrame | None = None,
    dem: Path | None = None,
    site_access: pd.DataFrame | None = None,
    times: bool = True,
) -> tuple[gpd.GeoDataFrame, Capacity, tuple[str, ...]]:
    """Measure every candidate; returns (a new GeoDataFrame, the capacity norm, warnings).

    Columns added: ``area_m2``, overlap shares ``<group>_share`` (of the site's area inside
    the buffered constraints of each group), ``free_area_m2`` (outside every constraint),
    ``slope_mean_deg``, ``slope_max_deg``, ``elev_mean_m``, ``dem_valid_share``,
    ``steep_share`` (of the free part steeper than the slope limit), ``buildable_area_m2`` =
    ``free_area_m2 x (1 - steep_share)``, ``capacity_persons``, ``capacity_households``,
    ``capacity_norm``, ``dist_water_m``, ``dist_power_m``, ``dist_road_m`` (all-weather roads),
    ``dist_hazard_m``, ``time_min_<kind>`` per facility kind, ``time_min_town_any`` (nearest of
    ``town_kinds``), ``time_source`` and ``elev_gain_m``. Distances are from the site's edge
    (0 when touching); absent layers give NaN columns and a warning. ``times=False`` leaves the
    travel times to a later :func:`travel_times` call (grid cells get network times once filtered).
    """
    require_projected(candidates, "candidates")
    warns: list[str] = []
    out = candidates.copy()
    geoms = np.asarray(out.geometry.values)
    area = shapely.area(geoms)
    out["area_m2"] = area
    unions = constraint_unions(
        constraints,
        {k: cfg.buffer_m(k) for k in cfg.buffers_m} | {k: cfg.buffer_m(k) for kk in GROUPS.values() for k in kk},
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        for g, u in unions.items():
            out[f"{g}_share"] = np.where(area > 0, overlap_area(geoms, u) / area, 0.0)
    present = [u for u in unions.values() if u is not None]
    all_union = shapely.union_all(present) if present else None
    out["free_area_m2"] = area - overlap_area(geoms, all_union)

    limit = cfg.rules.slope_limit_deg
    slope_limit = limit if limit is not None else 90.0
    if dem is not None:
        info = terrain.dem_info(dem)
        excl = gpd.GeoSeries(shapely.get_parts(all_union) if all_union is not None else [], crs=out.crs)
        zs = terrain.zonal_terrain(
            dem, out.geometry, slope_limit_deg=slope_limit, exclude=excl, tile=cfg.tile, edges=cfg.slope_edges
        )
        out["slope_mean_deg"] = zs["slope_mean_deg"].to_numpy()
        out["slope_max_deg"] = zs["slope_max_deg"].to_numpy()
        out["elev_mean_m"] = zs["elev_mean_m"].to_numpy()
        out["dem_valid_share"] = zs["valid_share"].to_numpy()
        # steep share of the part outside constraints (its cells); no free cell -> nothing left to lose
        steep = zs["free_steep_share"].to_numpy()
        steep = np.where((zs["free_cells"].to_numpy() == 0) & (zs["valid_share"].to_numpy() > 0), 0.0, steep)
        out["steep_share"] = steep
        poor = out["dem_valid_share"].to_numpy() < 0.5
        if poor.any():
            ids = ", ".join(out.loc[poor, "site_id"].astype(str).head(10))
            warns.append(
                f"DEM {info.path.name} 未覆盖或为空值的候选点 {int(poor.sum())} 个（{ids}）；其坡度未知 / "
                f"the DEM does not cover (or has voids over) {int(poor.sum())} candidate(s) ({ids}); their slope is "
                "unknown. Fix: use a DEM covering the study area."
            )
    else:
        for c in ("slope_mean_deg", "slope_max_deg", "elev_mean_m", "dem_valid_share", "steep_share"):
            out[c] = np.nan
        warns.append(
            "没有 DEM：坡度未扣除 / no DEM: slope is not measured and steep land is not removed from "
            "buildable area. Fix: add layers.dem."
        )
    steep_known = np.where(
        np.isnan(out["steep_share"].to_numpy()), 0.0 if dem is None else np.nan, out["steep_share"].to_numpy()
    )
    out["buildable_area_m2"] = out["free_area_m2"].to_numpy() * (1.0 - steep_known)
    persons, households, cap = capacity(out["buildable_area_m2"].to_numpy(), cfg.capacity, villages)
    warns.extend(cap.warnings)
    out["capacity_persons"] = persons
    out["capacity_households"] = households
    out["capacity_norm"] = cap.text_zh + " / " + cap.text_en

    out["dist_water_m"] = _nearest(geoms, np.asarray(water.geometry.values)) if water is not None else np.nan
    out["dist_power_m"] = _nearest(geoms, np.asarray(power.geometry.values)) if power is not None else np.nan
    out["dist_road_m"] = _nearest(geoms, _all_weather(roads, cfg)) if roads is not None else np.nan
    if constraints is not None:
        hz = constraints["kind"].astype(str).isin(GROUPS["hazard"]).to_numpy()
        out["dist_hazard_m"] = _nearest(geoms, np.asarray(constraints.geometry.values)[hz])
    else:
        out["dist_hazard_m"] = np.nan

    if times:
        travel_times(out, cfg, facilities, site_access, warns)

    out["elev_gain_m"] = np.nan
    if dem is not None and villages is not None and len(villages):
        w = pd.to_numeric(villages.get("relocate_persons", pd.Series(0, index=villages.index)), errors="coerce")
        w = w.fillna(0).to_numpy(dtype=float)
        if w.sum() <= 0:
            w = np.ones(len(villages))
        elev = pd.to_numeric(villages["elevation_m"], errors="coerce") if "elevation_m" in villages else None
        if elev is None or elev.isna().any():
            sampled = terrain.sample_points(dem, villages.geometry, what="elevation", tile=cfg.tile)
            elev = sampled if elev is None else elev.fillna(sampled)
        e = elev.to_numpy(dtype=float)
        ok = ~np.isnan(e) & (w > 0)
        if ok.any():
            origin = float(np.average(e[ok], weights=w[ok]))
            out["elev_gain_m"] = out["elev_mean_m"].to_numpy() - origin
    return out, cap, tuple(warns)


def travel_times(
    out: gpd.GeoDataFrame,
    cfg: SitingConfig,
    facilities: gpd.GeoDataFrame | None,
    site_access: pd.DataFrame | None,
    warns: list[str],
) -> None:
    """Fill ``time_min_<kind>`` (in place) from ``site_access`` or, failing that, straight-line estimates."""
    geoms = np.asarray(out.geometry.values)
    kinds = sorted(set(TIME_KINDS) | set(cfg.town_kinds))
    source = np.full(len(out), "none", dtype=object)
    for k in kinds:
        out[f"time_min_{k}"] = np.nan
    if site_access is not None and "site_id" in site_access:
        acc = site_access.drop_duplicates("site_id").set_index(site_access["site_id"].drop_duplicates().astype(str))
        sid = out["site_id"].astype(str)
        known = sid.isin(acc.index).to_numpy()
        for k in kinds:
            col = f"time_min_{k}"
            if col in acc:
                out.loc[known, col] = pd.to_numeric(acc[col], errors="coerce").reindex(sid[known]).to_numpy()
        source[known] = "access"
    missing = source != "access"
    if missing.any():
        if facilities is None or facilities.empty:
            if site_access is None:
                warns.append(
                    "没有 site_access 和设施图层：行程时间未计算 / no site_access layer and no facilities: "
                    "travel times are unknown. Fix: run the access step or add facilities."
                )
        else:
            speed_mpm = cfg.fallback_speed_kph * 1000.0 / 60.0
            for k in kinds:
                sel = facilities["kind"].astype(str).to_numpy() == k
                if sel.any():
                    d = _nearest(geoms[missing], np.asarray(facilities.geometry.values)[sel])
                    vals = out[f"time_min_{k}"].to_numpy(dtype=float, copy=True)
                    vals[missing] = d * cfg.fallback_detour / speed_mpm
                    out[f"time_min_{k}"] = vals
            source[missing] = "straight_line"
            warns.append(
                f"{int(missing.sum())} 个候选点没有路网行程时间，按直线距离 x {cfg.fallback_detour:g} / "
                f"{cfg.fallback_speed_kph:g} km/h 估算 / {int(missing.sum())} candidate(s) have no network travel "
                f"time (site_access); times estimated from straight-line distance x {cfg.fallback_detour:g} at "
                f"{cfg.fallback_speed_kph:g} km/h."
            )
    out["time_source"] = source
    town_cols = [f"time_min_{k}" for k in cfg.town_kinds]
    out["time_min_town_any"] = out[town_cols].min(axis=1, skipna=True) if town_cols else np.nan
