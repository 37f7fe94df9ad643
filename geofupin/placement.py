"""Scattered and special relocation (分散安置, 五保户集中供养, 特困户周转房), placed before the central allocation.

Report 4: "整村搬迁为主、分散搬迁为辅"; "五保户实行集中供养与分散供养相结合"; "特困人员在个人自愿的前提下,由政府
建设免租金周转房,产权归集体所有,由村委会统一集中安置". :func:`place` splits each relocating villages row
(a village or 村民小组) into the households that do not go to a central site and the rest, so the
central allocation (:mod:`geofupin.allocate`, unchanged) sees the reduced demand:

=================  ==========  ==============================================================
mode               安置方式    who, and where to
=================  ==========  ==============================================================
``scattered``      分散安置    roster wish 分散 (投亲靠友, 自主安置, 分散供养); without a roster
                               ``placement.scattered_share`` / ``scattered_households``; no site
``nursing_home``   集中供养    五保户 (``placement.five_guarantee``) -> a 敬老院 of the facilities layer
                               (kind ``nursing_home``; beds: ``free_beds``, else ``capacity``) within
                               ``placement.nursing_home_max_min``, fewest unplaced, then least total time
                               (an assignment over the beds, :func:`scipy.optimize.linear_sum_assignment`)
``transitional``   周转房安置  特困户 who opt in (``placement.transitional_opt_in``) -> their village
                               collective's 周转房 (``placement.transitional_housing``), in roster order
``central``        集中安置    everyone else: the central allocation
=================  ==========  ==============================================================

A household that asked for a nursing home or transitional housing and gets none (no 敬老院, none
within the time limit, all beds taken, no 周转房 in its village, or full) is listed in
``placement_unplaced`` with the reason and moves to a central site instead. Each mode has its own
subsidy rules (a rule's ``modes`` in the policy file; see :mod:`geofupin.policy`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .config.placement import PlacementConfig
from .context import RunContext
from .errors import DataError
from .vocabulary import PLACEMENT_MODE_ZH, PLACEMENT_MODES

if TYPE_CHECKING:
    from .roster import RosterRead

log = logging.getLogger(__name__)

#: Columns of the ``placement`` table (one row per roster household, or per unit x mode without a roster).
PLACEMENT_COLUMNS = (
    "village_id", "group", "unit_id", "name", "township", "household_id", "head_name", "status_zh", "wish_zh",
    "households", "persons", "mode", "mode_zh", "site_id", "site_name", "time_min", "dist_m", "note_zh",
)  # fmt: skip
#: Columns of ``placement_unplaced``.
UNPLACED_COLUMNS = (
    "village_id", "group", "unit_id", "name", "household_id", "head_name", "status_zh", "persons",
    "wanted_mode", "wanted_mode_zh", "reason", "reason_zh", "reason_en", "fallback_mode", "fallback_mode_zh",
)  # fmt: skip
#: Columns of ``placement_modes`` (the per-mode totals).
MODE_COLUMNS = ("mode", "mode_zh", "households", "persons", "destinations")

REASONS: dict[str, tuple[str, str]] = {
    "no_nursing_home": ("设施图层中没有敬老院(类型 nursing_home)", "the facilities layer has no nursing home"),
    "beyond_limit": ("{limit:g}分钟内没有敬老院", "no nursing home within {limit:g} min"),
    "nursing_home_full": ("可达敬老院床位已满", "every nursing home within reach is full"),
    "not_five_guarantee": ("非五保户,不安排集中供养", "not a 五保 household: no collective care"),
    "dispersed_care": (
        "方案设定五保户分散供养(placement.five_guarantee: dispersed)",
        "the scenario keeps 五保 households in dispersed care (placement.five_guarantee: dispersed)",
    ),
    "no_transitional": ("本村集体无周转房", "the village collective has no transitional housing"),
    "transitional_full": ("本村周转房已满", "the village's transitional housing is full"),
    "not_extreme_poor": ("非特困户,不安排周转房", "not a 特困 household: no transitional housing"),
}


@dataclass(frozen=True)
class Placement:
    """What :func:`place` decided.

    Attributes
    ----------
    table
        Table ``placement``: :data:`PLACEMENT_COLUMNS`, one row per roster household (or per unit x
        mode without a roster); central rows get their site from :func:`with_central_sites`.
    rows
        The non-central placements as rows of the ``assignment`` table (one per unit x mode x
        destination, with ``mode`` and ``mode_zh``).
    unplaced
        Table ``placement_unplaced``: :data:`UNPLACED_COLUMNS`.
    villages
        The villages layer with ``relocate_households``/``relocate_persons`` less the non-central
        households: what the central allocation places.
    destinations
        Layer ``placement_destinations``: the nursing homes and transitional housing used (points;
        ``site_id``, ``name``, ``mode``, ``mode_zh``, ``capacity_households``, ``households``, ``persons``).
    warnings
        Messages for the user.
    roster
        The roster as read for this placement (:func:`placement_of`), which the allocate step hands on
        to the ``roster`` step (artifact ``roster``); ``None`` without a roster.
    """

    table: pd.DataFrame
    rows: pd.DataFrame
    unplaced: pd.DataFrame
    villages: gpd.GeoDataFrame
    destinations: gpd.GeoDataFrame
    warnings: tuple[str, ...] = ()
    roster: RosterRead | None = None

    @property
    def modes(self) -> pd.DataFrame:
        """Table ``placement_modes``: households and persons per mode (every mode, central included)."""
        return mode_totals(self.table)

    @property
    def placed_elsewhere(self) -> bool:
        """Whether anyone is placed other than at a central site."""
        return bool(len(self.rows))


def mode_totals(table: pd.DataFrame) -> pd.DataFrame:
    """Households, persons and destinations per placement mode (every mode, in :data:`PLACEMENT_MODES` order)."""
    rows = []
    for m in PLACEMENT_MODES:
        t = table[table["mode"] == m] if len(table) else table
        sites = {x for s in t["site_id"] if isinstance(s, str) for x in s.split("、") if x} if len(t) else set()
        rows.append(
            {
                "mode": m,
                "mode_zh": PLACEMENT_MODE_ZH[m],
                "households": int(pd.to_numeric(t["households"]).sum()) if len(t) else 0,
                "persons": int(pd.to_numeric(t["persons"]).sum()) if len(t) else 0,
                "destinations": len(sites),
            }
        )
    return pd.DataFrame(rows, columns=list(MODE_COLUMNS))


# --------------------------------------------------------------------------- villages rows and units
def _row_keys(v: pd.DataFrame, unit: str) -> tuple[np.ndarray, np.ndarray]:
    """``(group text, unit_id)`` of each villages row, as :func:`geofupin.allocate.step.relocating_units` names
    its units."""
    vid = v["village_id"].astype(str).to_numpy()
    if "group" in v.columns:
        g = v["group"]
        has = g.notna().to_numpy()
        group = np.where(has, g.astype(str).to_numpy(), "")
    else:
        has = np.zeros(len(v), dtype=bool)
        group = np.full(len(v), "", dtype=object)
    if unit == "village":
        return group, vid.astype(object)
    return group, np.where(has, np.char.add(np.char.add(vid.astype(str), "/"), group.astype(str)), vid).astype(object)


def _counts(v: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    hh = pd.to_numeric(v["relocate_households"], errors="coerce").fillna(0).to_numpy(dtype=float)
    pp = pd.to_numeric(v["relocate_persons"], errors="coerce").fillna(0).to_numpy(dtype=float)
    return np.round(hh).astype(np.int64), np.round(pp).astype(np.int64)


def _text(x: object) -> str:
    return "" if x is None or (isinstance(x, float) and np.isnan(x)) else str(x)


def _share_households(cfg: PlacementConfig, v: pd.DataFrame, group: np.ndarray, hh: np.ndarray) -> np.ndarray:
    """Scattered households per villages row without a roster (``scattered_share``, ``scattered_households``)."""
    from .policy import largest_remainder, round_count

    n = round_count(cfg.scattered_share * hh, "round_half_up").astype(np.int64)
    vid = v["village_id"].astype(str).to_numpy()
    keys = np.where(group != "", np.char.add(np.char.add(vid.astype(str), "/"), group.astype(str)), vid)
    for key, count in cfg.scattered_households.items():
        key = str(key)
        rows = np.flatnonzero(keys == key)
        if len(rows) == 0:
            rows = np.flatnonzero(vid == key)
            if len(rows) == 0:
                raise DataError(
                    f"placement.scattered_households: village {key!r} is not in the villages layer."
                    " Fix: give a village_id (or village_id/group) of the villages layer."
                )
            n[rows] = largest_remainder(float(count), hh[rows].astype(float)).astype(np.int64)
        else:
            n[rows] = int(count)
    over = np.flatnonzero(n > hh)
    if len(over):
        i = over[0]
        raise DataError(
            f"placement.scattered_households: village {vid[i]} places {int(n[i])} households scattered but relocates"
            f" only {int(hh[i])}. Fix: give at most its relocate_households."
        )
    return n


# --------------------------------------------------------------------------- nursing homes
def nursing_homes(facilities: gpd.GeoDataFrame | None) -> tuple[gpd.GeoDataFrame, list[str]]:
    """The 敬老院 of a facilities layer (kind ``nursing_home``) with their free ``beds`` (column ``free_beds``,
    else ``capacity``)."""
    warnings: list[str] = []
    if facilities is None or "kind" not in facilities.columns:
        return gpd.GeoDataFrame({"facility_id": [], "name": [], "beds": []}, geometry=[]), warnings
    f = facilities[facilities["kind"].astype(str) == "nursing_home"].copy()
    col = "free_beds" if "free_beds" in f.columns else "capacity"
    beds = pd.to_numeric(f[col], errors="coerce") if col in f.columns else pd.Series(np.nan, index=f.index)
    missing = f.loc[beds.isna(), "facility_id"].astype(str).tolist()
    if missing:
        warnings.append(
            f"敬老院 {'、'.join(missing[:5])} 未填床位,按0床计 / nursing homes {', '.join(missing[:5])} have no beds"
            f" ({col}): counted as 0. Fix: fill the facilities' capacity (床位) or free_beds (空余床位)."
        )
    f["beds"] = np.floor(beds.fillna(0).clip(lower=0)).astype(np.int64)
    f["facility_id"] = f["facility_id"].astype(str)
    if "name" not in f.columns:
        f["name"] = f["facility_id"]
    return f.reset_index(drop=True), warnings


def _straight(origins: np.ndarray, dests: np.ndarray, speed_kph: float, detour: float) -> tuple[np.ndarray, np.ndarray]:
    """Straight-line travel time (min) and distance (m) x ``detour`` between every origin and destination."""
    o = shapely.get_coordinates(shapely.point_on_surface(np.asarray(origins, dtype=object)))
    d = shapely.get_coordinates(shapely.point_on_surface(np.asarray(dests, dtype=object)))
    dist = np.hypot(o[:, None, 0] - d[None, :, 0], o[:, None, 1] - d[None, :, 1]) * detour
    return dist / (speed_kph * 1000.0 / 60.0), dist


def assign_beds(time_min: np.ndarray, beds: np.ndarray, max_min: float) -> np.ndarray:
    """The home of each household (``-1``: none) placing the most households within ``max_min`` and capacity,
    then the least total travel time; ties go to the earlier household and home.

    Parameters
    ----------
    time_min
        Households x homes travel times (``inf``: unreachable).
    beds
        Free beds per home.
    max_min
        Longest travel time.
    """
    from scipy.optimize import linear_sum_assignment

    n, k = time_min.shape
    out = np.full(n, -1, dtype=np.int64)
    slots = np.repeat(np.arange(k), np.minimum(beds.astype(np.int64), n))
    if n == 0 or len(slots) == 0:
        return out
    t = time_min[:, slots]
    ok = np.isfinite(t) & (t <= max_min)
    big = 1e6 + float(np.nanmax(np.where(ok, t, 0.0))) * n
    cost = np.where(ok, t, big) + 1e-9 * (np.arange(n)[:, None] + np.arange(len(slots))[None, :])
    r, c = linear_sum_assignment(cost)
    good = ok[r, c]
    out[r[good]] = slots[c[good]]
    return out


# --------------------------------------------------------------------------- the placement
def _empty_unplaced() -> pd.DataFrame:
    return pd.DataFrame(columns=list(UNPLACED_COLUMNS))


def place(
    villages: gpd.GeoDataFrame,
    config: PlacementConfig | None = None,
    *,
    households: pd.DataFrame | None = None,
    facilities: gpd.GeoDataFrame | None = None,
    nursing_od: pd.DataFrame | None = None,
    unit: str = "group",
    fallback_speed_kph: float = 30.0,
    fallback_detour: float = 1.3,
) -> Placement:
    """Place the relocating households that do not go to a central site (see the module docstring).

    Parameters
    ----------
    villages
        The villages layer (``village_id``, ``relocate_households``, ``relocate_persons``, optional
        ``group``, ``name``, ``township``). Not modified.
    config
        The scenario's ``placement`` section (default :class:`PlacementConfig`: nobody is placed
        elsewhere without a roster).
    households
        The roster as :func:`geofupin.roster.normalize` returns it (``village_id``, ``group``,
        ``household_id``, ``head_name``, ``persons``, ``status``, ``wish``, ``relocate``, ``row``);
        ``None``: per unit, from ``config.scattered_share``/``scattered_households``.
    facilities
        The facilities layer (its ``nursing_home`` features are the 敬老院).
    nursing_od
        Travel times ``village_id, facility_id, time_min, dist_m`` from the villages to the nursing
        homes (by road); ``None``: straight line x ``fallback_detour`` at ``fallback_speed_kph``.
    unit
        ``allocation.unit`` (``group`` or ``village``), so unit ids match the allocation's.
    fallback_speed_kph, fallback_detour
        The straight-line travel time's speed and detour factor.

    Returns
    -------
    Placement

    Raises
    ------
    DataError
        When the households placed elsewhere exceed a villages row's relocating households or
        persons, or a listed village is unknown.
    """
    cfg = config or PlacementConfig()
    warnings: list[str] = []
    v = villages.reset_index(drop=True)
    for col in ("village_id", "relocate_persons", "relocate_households"):
        if col not in v.columns:
            raise DataError(f"villages: column '{col}' is missing. Fix: add it (0 for villages that stay).")
    group, unit_id = _row_keys(v, unit)
    hh, pp = _counts(v)
    vid = v["village_id"].astype(str).to_numpy()
    names = v["name"].astype(str).to_numpy() if "name" in v.columns else vid
    towns = v["township"].fillna("").astype(str).to_numpy() if "township" in v.columns else np.full(len(v), "")
    homes, w = nursing_homes(facilities)
    warnings += w
    # one record per placed household (or per row without a roster)
    recs: list[dict[str, object]] = []
    unplaced: list[dict[str, object]] = []
    if households is None:
        if cfg.five_guarantee == "collective" or cfg.transitional_housing:
            warnings.append(
                "五保户集中供养与特困户周转房安置需要搬迁对象名册(roster)/ nursing-home and transitional placement"
                " need a household roster (scenario section roster): without one only scattered placement is made."
            )
        n = _share_households(cfg, v, group, hh)
        for i in np.flatnonzero(n > 0):
            from .policy import round_count

            per = float(round_count(n[i] * pp[i] / max(hh[i], 1), "round_half_up"))
            persons = int(min(max(per, n[i]), pp[i] - (hh[i] - n[i])))
            recs.append({"row": i, "households": int(n[i]), "persons": persons, "mode": "scattered"})
    else:
        recs, unplaced, w = _roster_placement(
            v, cfg, households, group, homes, nursing_od, fallback_speed_kph, fallback_detour
        )
        for u in unplaced:  # the villages row -> its unit
            u["unit_id"] = unit_id[int(u["unit_id"])]  # type: ignore[call-overload]
        warnings += w
    roster_central = [r for r in recs if r["mode"] == "central"]
    recs = [r for r in recs if r["mode"] != "central"]
    # reduce the rows
    new_hh, new_pp = hh.copy(), pp.copy()
    for r in recs:
        i = int(r["row"])  # type: ignore[call-overload]
        new_hh[i] -= int(r["households"])  # type: ignore[call-overload]
        new_pp[i] -= int(r["persons"])  # type: ignore[call-overload]
    touched = (new_hh != hh) | (new_pp != pp)  # rows without a placement stay as they are (the allocation checks them)
    bad = np.flatnonzero(touched & ((new_hh < 0) | (new_pp < new_hh) | ((new_hh == 0) & (new_pp != 0))))
    if len(bad):
        i = bad[0]
        raise DataError(
            f"villages [id {vid[i]}{'/' + str(group[i]) if group[i] else ''}]: the households placed other than at a"
            f" central site ({int(hh[i] - new_hh[i])} households, {int(pp[i] - new_pp[i])} persons) do not fit its"
            f" relocate_households {int(hh[i])} / relocate_persons {int(pp[i])}. Fix: make the roster's relocating"
            " households and persons add up to the villages layer (roster checks move_households, move_persons)."
        )
    out_v = villages.copy()
    if recs:  # the layer as given when nobody is placed elsewhere (its dtypes and empty cells too)
        out_v["relocate_households"] = np.where(touched, new_hh, out_v["relocate_households"])
        out_v["relocate_persons"] = np.where(touched, new_pp, out_v["relocate_persons"])
    # the destinations
    dest_rows: dict[str, dict[str, object]] = {}
    for r in recs:
        sid = str(r.get("site_id", "") or "")
        if not sid:
            continue
        d = dest_rows.setdefault(
            sid,
            {
                "site_id": sid, "name": r.get("site_name", ""), "mode": r["mode"],
                "mode_zh": PLACEMENT_MODE_ZH[str(r["mode"])], "capacity_households": r.get("capacity", np.nan),
                "households": 0, "persons": 0, "geometry": r.get("geometry"),
            },
        )  # fmt: skip
        d["households"] = int(d["households"]) + int(r["households"])  # type: ignore[call-overload]
        d["persons"] = int(d["persons"]) + int(r["persons"])  # type: ignore[call-overload]
    dests = gpd.GeoDataFrame(
        pd.DataFrame(
            list(dest_rows.values()),
            columns=["site_id", "name", "mode", "mode_zh", "capacity_households", "households", "persons", "geometry"],
        ),
        geometry="geometry",
        crs=villages.crs,
    )
    # the households going to a central site: the roster's one by one, the rest of each row (not on the roster) together
    rest_hh, rest_pp = new_hh.copy(), new_pp.copy()
    for r in roster_central:
        i = int(r["row"])  # type: ignore[call-overload]
        rest_hh[i] -= 1
        rest_pp[i] -= int(r["persons"])  # type: ignore[call-overload]
    keep = (rest_hh > 0) | (rest_pp > 0)
    rest_hh, rest_pp = np.where(keep, np.maximum(rest_hh, 0), 0), np.where(keep, np.maximum(rest_pp, 0), 0)
    table = _placement_table([*recs, *roster_central], v, group, unit_id, names, towns, rest_hh, rest_pp,
                             households is not None)  # fmt: skip
    rows = _assignment_rows(recs, vid, group, unit_id, names, towns)
    un = pd.DataFrame(unplaced, columns=list(UNPLACED_COLUMNS)) if unplaced else _empty_unplaced()
    if len(un):
        first = un.iloc[0]
        warnings.append(
            f"{len(un)} 户未能按意愿安置,改为集中安置,如{first['name']} {first['head_name']}:{first['reason_zh']} /"
            f" {len(un)} household(s) could not be placed as asked and move to a central site, e.g."
            f" {first['household_id']}: {first['reason_en']} (table placement_unplaced)."
        )
    return Placement(table, rows, un, out_v, dests, tuple(warnings))


def _roster_placement(
    v: pd.DataFrame,
    cfg: PlacementConfig,
    households: pd.DataFrame,
    group: np.ndarray,
    homes: gpd.GeoDataFrame,
    nursing_od: pd.DataFrame | None,
    speed_kph: float,
    detour: float,
) -> tuple[list[dict[str, object]], list[dict[str, object]], list[str]]:
    """The non-central placements of the roster's households and those refused (their ``unit_id`` the villages row)."""
    from .config.roster import STATUS_ZH

    warnings: list[str] = []
    vid = v["village_id"].astype(str).to_numpy()
    names = v["name"].astype(str).to_numpy() if "name" in v.columns else vid
    h = households[
        households["relocate"].astype(bool) & households["persons"].notna() & (households["village_id"] != "")
    ]
    h = h.sort_values("row", kind="stable") if "row" in h.columns else h
    # each household's villages row: same village and group, else the village's first row
    row_of: dict[tuple[str, str], int] = {}
    first_of: dict[str, int] = {}
    for i, (a, g) in enumerate(zip(vid, group, strict=True)):
        row_of.setdefault((a, str(g)), i)
        first_of.setdefault(a, i)
    unplaced: list[dict[str, object]] = []

    def base(r: Mapping[str, object], i: int) -> dict[str, object]:
        return {
            "row": i, "household_id": _text(r.get("household_id")), "head_name": _text(r.get("head_name")),
            "status_zh": STATUS_ZH.get(str(r.get("status")), ""), "wish": r.get("wish") or "",
            "households": 1, "persons": int(r["persons"]),  # type: ignore[call-overload]
        }  # fmt: skip

    recs: list[dict[str, object]] = []

    def refuse(rec: dict[str, object], wanted_mode: str, rule: str, **fmt: float) -> None:
        zh, en = REASONS[rule]
        i = int(rec["row"])  # type: ignore[call-overload]
        recs.append(
            {**rec, "mode": "central", "note_zh": f"申请{PLACEMENT_MODE_ZH[wanted_mode]}未能安排:{zh.format(**fmt)}"}
        )
        unplaced.append(
            {
                "village_id": vid[i], "group": group[i], "unit_id": i, "name": names[i],
                "household_id": rec["household_id"], "head_name": rec["head_name"], "status_zh": rec["status_zh"],
                "persons": rec["persons"], "wanted_mode": wanted_mode, "wanted_mode_zh": PLACEMENT_MODE_ZH[wanted_mode],
                "reason": rule, "reason_zh": zh.format(**fmt), "reason_en": en.format(**fmt),
                "fallback_mode": "central", "fallback_mode_zh": PLACEMENT_MODE_ZH["central"],
            }
        )  # fmt: skip

    nursing: list[dict[str, object]] = []
    transitional: list[dict[str, object]] = []
    # only the columns read below: the roster's other columns (id numbers, dates...) are not boxed per cell
    read = [c for c in ("village_id", "group", "household_id", "head_name", "status", "wish", "persons") if c in h]
    for r in h[read].to_dict("records"):
        a = str(r["village_id"])
        found = row_of.get((a, _text(r.get("group"))), first_of.get(a))
        if found is None:
            continue
        rec = base(r, found)
        status, wish = str(r.get("status") or ""), str(r.get("wish") or "")
        care = cfg.five_guarantee == "collective" or wish == "nursing_home"
        if status == "five_guarantee" and cfg.five_guarantee != "dispersed" and wish != "scattered" and care:
            nursing.append(rec)
            continue
        if wish == "nursing_home":
            refuse(rec, "nursing_home", "dispersed_care" if status == "five_guarantee" else "not_five_guarantee")
            continue
        if status == "extreme_poor" and (cfg.transitional_opt_in == "all" or wish == "transitional"):
            rec["asked"] = wish == "transitional"
            transitional.append(rec)
            continue
        if wish == "transitional":
            refuse(rec, "transitional", "not_extreme_poor")
            continue
        recs.append({**rec, "mode": "scattered" if wish == "scattered" else "central"})
    # nursing homes: the most households within the limit and the beds, then the least time
    if nursing:
        if not len(homes):
            for rec in nursing:
                refuse(rec, "nursing_home", "no_nursing_home")
        else:
            rows = np.array([int(rec["row"]) for rec in nursing])  # type: ignore[call-overload]
            if nursing_od is not None:
                od = nursing_od.assign(
                    village_id=nursing_od["village_id"].astype(str), facility_id=nursing_od["facility_id"].astype(str)
                ).drop_duplicates(["village_id", "facility_id"])
                tt = od.pivot(index="village_id", columns="facility_id", values="time_min")
                dd = od.pivot(index="village_id", columns="facility_id", values="dist_m")
                ids = homes["facility_id"].tolist()
                t_all = tt.reindex(index=vid[rows], columns=ids).to_numpy(dtype=float)
                d_all = dd.reindex(index=vid[rows], columns=ids).to_numpy(dtype=float)
                t_all = np.where(np.isnan(t_all), np.inf, t_all)
            else:
                geoms = v.geometry.to_numpy()[rows]
                t_all, d_all = _straight(geoms, homes.geometry.to_numpy(), speed_kph, detour)
            beds = homes["beds"].to_numpy(dtype=np.int64)
            got = assign_beds(t_all, beds, cfg.nursing_home_max_min)
            reach = np.asarray((t_all <= cfg.nursing_home_max_min).any(axis=1), dtype=bool)
            for k, rec in enumerate(nursing):
                j = int(got[k])
                if j < 0:
                    rule = "nursing_home_full" if reach[k] else "beyond_limit"
                    refuse(rec, "nursing_home", rule, limit=cfg.nursing_home_max_min)
                    continue
                home = homes.iloc[j]
                recs.append(
                    {
                        **rec, "mode": "nursing_home", "site_id": str(home["facility_id"]),
                        "site_name": _text(home["name"]), "time_min": float(t_all[k, j]),
                        "dist_m": float(d_all[k, j]), "capacity": int(beds[j]), "geometry": homes.geometry.iloc[j],
                    }
                )  # fmt: skip
    # transitional housing of the village collective, in roster order
    housing = {str(t.village_id): t for t in cfg.transitional_housing}
    unknown = sorted(set(housing) - set(vid))
    if unknown:
        raise DataError(
            f"placement.transitional_housing: village {unknown[0]!r} is not in the villages layer."
            " Fix: give the village_id of the collective that owns the housing."
        )
    used: dict[str, int] = {}
    for rec in transitional:
        a = vid[int(rec["row"])]  # type: ignore[call-overload]
        t = housing.get(a)
        if t is None:
            if rec.pop("asked"):
                refuse(rec, "transitional", "no_transitional")
            else:
                recs.append({**rec, "mode": "central"})
            continue
        rec.pop("asked")
        if used.get(a, 0) >= t.capacity_households:
            refuse(rec, "transitional", "transitional_full")
            continue
        used[a] = used.get(a, 0) + 1
        i = first_of[a]
        recs.append(
            {
                **rec, "mode": "transitional", "site_id": t.site_id or f"ZZF-{a}",
                "site_name": t.name or f"{names[i]}周转房", "time_min": 0.0, "dist_m": 0.0,
                "capacity": t.capacity_households, "geometry": v.geometry.iloc[i],
            }
        )  # fmt: skip
    return recs, unplaced, warnings


def _placement_table(
    recs: list[dict[str, object]],
    v: pd.DataFrame,
    group: np.ndarray,
    unit_id: np.ndarray,
    names: np.ndarray,
    towns: np.ndarray,
    central_hh: np.ndarray,
    central_pp: np.ndarray,
    roster: bool,
) -> pd.DataFrame:
    from .config.roster import WISH_ZH

    vid = v["village_id"].astype(str).to_numpy()
    rows = []
    for r in recs:
        i = int(r["row"])  # type: ignore[call-overload]
        m = str(r["mode"])
        rows.append(
            {
                "village_id": vid[i], "group": group[i], "unit_id": unit_id[i], "name": names[i], "township": towns[i],
                "household_id": r.get("household_id", ""), "head_name": r.get("head_name", ""),
                "status_zh": r.get("status_zh", ""), "wish_zh": WISH_ZH.get(str(r.get("wish", "")), ""),
                "households": int(r["households"]), "persons": int(r["persons"]),  # type: ignore[call-overload]
                "mode": m, "mode_zh": PLACEMENT_MODE_ZH[m], "site_id": r.get("site_id", ""),
                "site_name": r.get("site_name", ""), "time_min": r.get("time_min", np.nan),
                "dist_m": r.get("dist_m", np.nan), "note_zh": r.get("note_zh", ""),
            }
        )  # fmt: skip
    # the households that go to a central site: per unit (their site is filled in after the allocation)
    for i in np.flatnonzero(central_hh > 0):
        rows.append(
            {
                "village_id": vid[i], "group": group[i], "unit_id": unit_id[i], "name": names[i], "township": towns[i],
                "household_id": "", "head_name": "", "status_zh": "", "wish_zh": "",
                "households": int(central_hh[i]), "persons": int(central_pp[i]), "mode": "central",
                "mode_zh": PLACEMENT_MODE_ZH["central"], "site_id": "", "site_name": "", "time_min": np.nan,
                "dist_m": np.nan, "note_zh": "名册外搬迁户(按单元合计)" if roster else "按单元合计",
            }
        )  # fmt: skip
    out = pd.DataFrame(rows, columns=list(PLACEMENT_COLUMNS))
    order = {m: k for k, m in enumerate(PLACEMENT_MODES)}
    out["_m"] = out["mode"].map(order)
    out = out.sort_values(["village_id", "group", "_m"], kind="stable").drop(columns="_m").reset_index(drop=True)
    return out


def _assignment_rows(
    recs: list[dict[str, object]], vid: np.ndarray, group: np.ndarray, unit_id: np.ndarray, names: np.ndarray,
    towns: np.ndarray,
) -> pd.DataFrame:  # fmt: skip
    cols = [
        "village_id", "group", "unit_id", "name", "township", "site_id", "site_name", "site_name_en", "tier",
        "households", "persons", "time_min", "dist_m", "cost", "mode", "mode_zh",
    ]  # fmt: skip
    if not recs:
        return pd.DataFrame(columns=cols)
    df = pd.DataFrame(
        {
            "row": [int(r["row"]) for r in recs],  # type: ignore[call-overload]
            "mode": [str(r["mode"]) for r in recs],
            "site_id": [str(r.get("site_id", "") or "") for r in recs],
            "site_name": [_text(r.get("site_name", "")) for r in recs],
            "households": [int(r["households"]) for r in recs],  # type: ignore[call-overload]
            "persons": [int(r["persons"]) for r in recs],  # type: ignore[call-overload]
            "time_min": [float(r.get("time_min", np.nan)) for r in recs],  # type: ignore[arg-type]
            "dist_m": [float(r.get("dist_m", np.nan)) for r in recs],  # type: ignore[arg-type]
        }
    )
    g = df.groupby(["row", "mode", "site_id"], sort=True).agg(
        site_name=("site_name", "first"), households=("households", "sum"), persons=("persons", "sum"),
        time_min=("time_min", "max"), dist_m=("dist_m", "max"),
    ).reset_index()  # fmt: skip
    i = g["row"].to_numpy()
    out = pd.DataFrame(
        {
            "village_id": vid[i], "group": [group[k] if group[k] != "" else None for k in i], "unit_id": unit_id[i],
            "name": names[i], "township": towns[i], "site_id": g["site_id"].to_numpy(),
            "site_name": np.where(g["mode"] == "scattered", PLACEMENT_MODE_ZH["scattered"], g["site_name"]),
            "site_name_en": "", "tier": "", "households": g["households"].to_numpy(),
            "persons": g["persons"].to_numpy(),
            "time_min": g["time_min"].to_numpy(), "dist_m": g["dist_m"].to_numpy(), "cost": np.nan,
            "mode": g["mode"].to_numpy(), "mode_zh": g["mode"].map(PLACEMENT_MODE_ZH).to_numpy(),
        }
    )  # fmt: skip
    order = {m: k for k, m in enumerate(PLACEMENT_MODES)}
    out["_m"] = out["mode"].map(order)
    return out.sort_values(["_m", "village_id", "unit_id"], kind="stable").drop(columns="_m").reset_index(drop=True)


def with_central_sites(table: pd.DataFrame, assignment: pd.DataFrame, unserved: pd.DataFrame | None) -> pd.DataFrame:
    """The ``placement`` table with each central row's site(s) from the central allocation (``、``-joined when a
    unit is split over sites) and its travel time; units left unserved say so in ``note_zh``."""
    out = table.copy()
    central = out["mode"] == "central"
    if not central.any():
        return out
    a = assignment.assign(unit_id=assignment["unit_id"].astype(str), site_id=assignment["site_id"].astype(str))
    by = a.groupby("unit_id", sort=False)
    sites = by["site_id"].agg(lambda s: "、".join(dict.fromkeys(s)))
    snames = by["site_name"].agg(lambda s: "、".join(dict.fromkeys(str(x) for x in s)))
    t = by["time_min"].max()
    d = by["dist_m"].max()
    u = pd.Index(out.loc[central, "unit_id"].astype(str))
    for col in ("site_id", "site_name", "note_zh"):
        out[col] = out[col].astype(object)
    # each central row's unit looked up at once (a unit the allocation left out: no site, no time)
    out.loc[central, "site_id"] = sites.reindex(u).fillna("").astype(object).to_numpy()
    out.loc[central, "site_name"] = snames.reindex(u).fillna("").astype(object).to_numpy()
    out.loc[central, "time_min"] = t.reindex(u).to_numpy(dtype=float)
    out.loc[central, "dist_m"] = d.reindex(u).to_numpy(dtype=float)
    if unserved is not None and len(unserved):
        lost = set(unserved["unit_id"].astype(str))
        hit = central & out["unit_id"].astype(str).isin(lost)
        out.loc[hit, "note_zh"] = out.loc[hit, "note_zh"].astype(str) + ";未能安置(见 unserved)"
    return out


def roster_households(ctx: RunContext) -> pd.DataFrame | None:
    """The scenario's roster read and matched to the villages (:func:`geofupin.roster.normalize`), or ``None``."""
    read = roster_read(ctx)
    return None if read is None else read.households.copy()


def roster_read(ctx: RunContext) -> RosterRead | None:
    """The scenario's roster as read (:func:`geofupin.roster.read_roster`), or ``None`` without a ``roster``
    section: read once a run, here, and handed on to the ``roster`` step in :attr:`Placement.roster`."""
    from .roster import read_roster

    rcfg = getattr(ctx.scenario, "roster", None)
    return None if rcfg is None else read_roster(rcfg, ctx.layers.villages)


def placement_of(ctx: RunContext) -> Placement:
    """The run's placement: the scenario's ``placement`` section, its roster, facilities and (when the access
    step ran) road travel times to the nursing homes."""
    cfg: PlacementConfig = getattr(ctx.scenario, "placement", None) or PlacementConfig()
    acfg = getattr(ctx.scenario, "allocation", None)
    read = roster_read(ctx)
    households = None if read is None else read.households.copy()  # the read stays as read for the roster step
    homes, _ = nursing_homes(ctx.layers.facilities)
    od = None
    access = ctx.results.get("access")
    net = access.artifacts.get("network") if access is not None else None
    if net is not None and len(homes) and households is not None:
        from .accessibility import od_pairs

        acc = getattr(ctx.scenario, "access", None)
        od = od_pairs(net, ctx.layers.villages, homes, cutoff_min=cfg.nursing_home_max_min, config=acc)
    placed = place(
        ctx.layers.villages,
        cfg,
        households=households,
        facilities=ctx.layers.facilities,
        nursing_od=od,
        unit=getattr(acfg, "unit", "group"),
        fallback_speed_kph=getattr(acfg, "fallback_speed_kph", 30.0),
        fallback_detour=getattr(acfg, "fallback_detour", 1.3),
    )
    return dataclasses.replace(placed, roster=read)


__all__: Sequence[str] = (
    "MODE_COLUMNS",
    "PLACEMENT_COLUMNS",
    "UNPLACED_COLUMNS",
    "Placement",
    "assign_beds",
    "mode_totals",
    "nursing_homes",
    "place",
    "placement_of",
    "roster_households",
    "roster_read",
    "with_central_sites",
)
