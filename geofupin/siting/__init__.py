"""Siting (选址): candidate sites, hard-rule screening with reasons, criteria, scoring, sensitivity.

Near water, near power, near road (近水、近电、近路), safe ground, room to grow. The step
:func:`step` reads the scenario's ``siting`` section (:class:`SitingConfig`), the county's
layers and (optionally) the access step's ``site_access`` layer, and returns:

- layer ``sites``: every candidate with ``site_id, name, name_en, tier, township, area_m2,
  buildable_area_m2, capacity_persons, capacity_households, passed, fail_rules, reasons_zh,
  reasons_en``, one column per criterion (units in names), ``score, rank, p_topk,
  stable_topk`` and the other measurements;
- tables ``site_ranking`` (passed sites by rank), ``site_rules`` (every rule for every
  candidate: value, threshold, pass/fail), ``site_rule_summary`` (how many each rule
  removed), ``site_explanation`` (per site and criterion: value, normalised score, weight,
  contribution), ``site_sensitivity`` (one-at-a-time weight changes), ``site_weights``.

The public functions, on GeoDataFrames: :func:`evaluate` (screen, measure, score and rank the
candidates; the step calls it) and :func:`score` (score screened sites again, with other weights
or another method). :mod:`.scoring` and :mod:`.sensitivity` hold the methods on arrays.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..ahp import AhpResult
from ..config.access import AccessConfig
from ..config.siting import CRITERIA, CriterionConfig, SitingConfig
from ..config.siting import RulesConfig as RulesConfig
from ..config.siting import SensitivityConfig as SensitivityConfig
from ..context import Layers, RunContext, StepResult, attributes
from ..errors import DataError, Problem, ScenarioError
from ..network import RoadNetwork
from .measure import Capacity, generate_grid, measure, travel_times
from .scoring import explain, normalise, rank_scores, resolve_weights, topsis, weighted_sum
from .screening import Screening, build_rules, screen
from .sensitivity import ScoreMethod, monte_carlo, one_at_a_time

log = logging.getLogger(__name__)

#: The public API (docs/reference/siting.md documents each name); the step and the helpers stay importable by name.
__all__ = [
    "ScoredSites",
    "SitingResult",
    "evaluate",
    "score",
]

#: The contract columns of the ``sites`` layer that come before the criteria, in order.
SITE_FRONT_COLUMNS = [
    "site_id",
    "name",
    "name_en",
    "tier",
    "township",
    "area_m2",
    "buildable_area_m2",
    "capacity_persons",
    "capacity_households",
    "passed",
    "fail_rules",
    "reasons_zh",
    "reasons_en",
]
#: The score columns that follow the criteria.
SITE_SCORE_COLUMNS = ["score", "rank", "p_topk", "stable_topk"]


def _study_area(layers: Layers, cell_m: float) -> Any:
    if layers.study_area is not None:
        return layers.study_area
    b = layers.boundaries
    if b is not None and len(b):
        county = b[b["level"].astype(str) == "county"] if "level" in b else b
        return shapely.union_all(np.asarray((county if len(county) else b).geometry.values))
    pts = np.asarray(layers.villages.geometry.values)
    return shapely.buffer(shapely.convex_hull(shapely.union_all(pts)), 2 * cell_m)


def candidates_from_layers(layers: Layers, cfg: SitingConfig) -> tuple[gpd.GeoDataFrame, bool]:
    """The county's candidate polygons, or a grid over the study area; and whether generated.

    Generated cells get ``site_id`` ``G000001``..., bilingual names, ``cfg.grid.tier`` and the
    township whose polygon holds the cell's representative point.
    """
    if layers.candidates is not None and len(layers.candidates):
        c = layers.candidates.copy()
        c["site_id"] = c["site_id"].astype(str)
        for col in ("name", "name_en", "township"):
            if col not in c:
                c[col] = c["site_id"] if col != "township" else ""
        if "tier" not in c:
            c["tier"] = "central_village"
        return c.reset_index(drop=True), False
    area = _study_area(layers, cfg.grid.cell_m)
    g = generate_grid(area, cell_m=cfg.grid.cell_m, crs=layers.crs, max_cells=cfg.grid.max_cells)
    g["name"] = "网格候选点 " + g["site_id"]
    g["name_en"] = "grid candidate " + g["site_id"]
    g["tier"] = cfg.grid.tier
    g["township"] = ""
    b = layers.boundaries
    if b is not None and len(b) and "level" in b:
        towns = b[b["level"].astype(str) == "township"]
        if len(towns):
            pts = shapely.point_on_surface(np.asarray(g.geometry.values))
            gi, ti = shapely.STRtree(np.asarray(towns.geometry.values)).query(pts, predicate="within")
            first = pd.Series(ti, index=gi).groupby(level=0).min()
            col = "name" if "name" in towns else "boundary_id"
            g.loc[first.index, "township"] = towns[col].astype(str).to_numpy()[first.to_numpy()]
    return g, True


_NEEDS = {
    "water": "water",
    "power": "power",
    "roads": "roads",
    "dem": "dem",
    "constraints": "constraints",
    "access": "site_access or facilities",
}


def available_data(layers: Layers, *, access: bool) -> set[str]:
    """What the criteria and rules can be measured from: layer kinds, ``dem``, and ``access``
    (travel times, from the access step's ``site_access`` or from the facilities layer)."""
    available = {k for k in ("water", "power", "roads", "constraints") if layers.get(k) is not None}
    if layers.dem is not None:
        available.add("dem")
    fac = layers.facilities
    if access or (fac is not None and len(fac)):
        available.add("access")
    return available


def preflight(layers: Layers, cfg: SitingConfig, *, access_will_run: bool) -> list[Problem]:
    """Warnings about criteria :func:`site` will drop for absent data, found before running."""
    kinds = _facility_kinds(layers.facilities)
    drop = criteria_to_drop(cfg.criteria, available_data(layers, access=access_will_run), kinds)
    return [] if not drop else [Problem("siting.criteria", dropped_message(cfg, drop), "", severity="warning")]


def check_criteria_data(criteria: tuple[CriterionConfig, ...], available: set[str]) -> list[Problem]:
    """Problems for criteria whose data is absent (one per criterion, naming the layer)."""
    out = []
    for i, c in enumerate(criteria):
        need = CRITERIA[c.name][4]
        if need and need not in available:
            out.append(
                Problem(
                    f"siting.criteria[{i}].name",
                    f"criterion '{c.name}' needs the {_NEEDS[need]} layer, which is absent.",
                    f"Add the {_NEEDS[need]} layer or remove the criterion.",
                )
            )
    return out


def _facility_kinds(facilities: pd.DataFrame | None) -> set[str]:
    if facilities is None or "kind" not in facilities:
        return set()
    return set(facilities["kind"].dropna().astype(str))


_NEEDS_ZH = {
    "water": "水源图层",
    "power": "电力图层",
    "roads": "道路图层",
    "dem": "DEM",
    "constraints": "限制区图层",
}


def criteria_to_drop(
    criteria: tuple[CriterionConfig, ...],
    available: set[str],
    facility_kinds: set[str],
    measured: pd.DataFrame | None = None,
) -> dict[str, tuple[str, str]]:
    """Criteria that cannot be measured in this run, with why (Chinese, English).

    A criterion is dropped when the data it needs is absent (its layer, the DEM, travel times),
    when it is a travel time to a facility kind the county has none of, or (given ``measured``)
    when its value is unknown at every candidate.
    """
    out: dict[str, tuple[str, str]] = {}
    for c in criteria:
        need = CRITERIA[c.name][4]
        if need and need not in available:
            if need == "access":
                out[c.name] = ("没有设施图层或行程时间", "no facilities layer or travel times")
            else:
                out[c.name] = (f"缺少{_NEEDS_ZH[need]}", f"no {_NEEDS[need]} layer" if need != "dem" else "no DEM")
            continue
        if c.name.startswith("time_min_") and measured is None:
            kind = c.name.removeprefix("time_min_")
            if kind not in facility_kinds:
                out[c.name] = (f"没有 {kind} 类设施", f"no facility of kind '{kind}'")
                continue
        if measured is not None and c.name in measured and not measured[c.name].notna().any():
            kind = c.name.removeprefix("time_min_")
            if c.name.startswith("time_min_") and kind not in facility_kinds:
                out[c.name] = (f"没有 {kind} 类设施", f"no facility of kind '{kind}'")
            else:
                out[c.name] = ("所有候选点数值未知", "unknown at every candidate")
    return out


def dropped_message(cfg: SitingConfig, drop: dict[str, tuple[str, str]]) -> str:
    """The one warning naming the dropped criteria and the renormalised weights."""
    kept = reduce_criteria(cfg, set(drop))
    zh = "；".join(f"{n}（{why[0]}）" for n, why in drop.items())
    en = "; ".join(f"{n} ({why[1]})" for n, why in drop.items())
    if kept.method == "ahp" or all(c.weight is None for c in kept.criteria):
        w_en = "the remaining criteria keep their relative weights"
    else:
        w_en = "remaining weights renormalised to " + ", ".join(f"{c.name}={c.weight:.3f}" for c in kept.criteria)
    return (
        f"选址准则缺少数据，已舍去并按比例重新分配权重：{zh} / siting criteria dropped for missing data: {en}; "
        f"{w_en}. Fix: add the missing data to score on them."
    )


def reduce_criteria(cfg: SitingConfig, drop: set[str]) -> SitingConfig:
    """``cfg`` without the ``drop`` criteria, weights renormalised to sum 1 (AHP: the sub-matrix).

    Raises
    ------
    ScenarioError
        When no criterion is left, or every remaining weight is zero.
    """
    import dataclasses

    keep = [i for i, c in enumerate(cfg.criteria) if c.name not in drop]
    if not keep:
        raise ScenarioError(
            "siting criteria",
            [
                Problem(
                    "siting.criteria",
                    f"every criterion lacks its data ({', '.join(sorted(drop))}).",
                    "Add the layers the criteria need, or add buildable_area_m2 (needs no layer).",
                )
            ],
        )
    crit = [cfg.criteria[i] for i in keep]
    pairwise = cfg.pairwise
    if cfg.method == "ahp" and pairwise is not None:
        pairwise = tuple(tuple(pairwise[i][j] for j in keep) for i in keep)
    elif any(c.weight is not None for c in crit) and all(c.weight is not None for c in crit):
        total = float(sum(c.weight or 0.0 for c in crit))
        if total <= 0:
            raise ScenarioError(
                "siting weights",
                [
                    Problem(
                        "siting.criteria",
                        "every criterion that can be measured has weight 0 "
                        f"(dropped for missing data: {', '.join(sorted(drop))}).",
                        "Give a positive weight to a criterion whose data exists.",
                    )
                ],
            )
        crit = [dataclasses.replace(c, weight=(c.weight or 0.0) / total) for c in crit]
    return dataclasses.replace(cfg, criteria=tuple(crit), criteria_replace=True, pairwise=pairwise)


@dataclass(frozen=True)
class ScoredSites:
    """Scores of the candidates that passed screening.

    Attributes
    ----------
    score, rank, p_topk, stable
        Aligned with the input rows (NaN / 0 / 0.0 / False for failed candidates).
    weights
        Weights in use, criteria order.
    ahp
        AHP result for method ``ahp``.
    explanation, oat
        Per-site explanation and one-at-a-time sensitivity tables.
    warnings
        Messages for the user.
    """

    score: np.ndarray
    rank: np.ndarray
    p_topk: np.ndarray
    stable: np.ndarray
    weights: np.ndarray
    ahp: AhpResult | None
    explanation: pd.DataFrame
    oat: pd.DataFrame
    warnings: tuple[str, ...] = ()


def score_sites(sites: pd.DataFrame, passed: np.ndarray, cfg: SitingConfig) -> ScoredSites:
    """Normalise, weigh, score, rank and test the sensitivity of the passed candidates.

    Normalisation (min-max) uses the passed candidates only. Ranks run 1..P over the passed
    candidates by score, ties broken by ``site_id``; failed ones get rank 0.
    """
    crit = cfg.criteria
    names = [c.name for c in crit]
    w, ahp, warns = resolve_weights(crit, cfg.method, cfg.pairwise, cfg.weight_sum, max_cr=cfg.max_cr)
    n = len(sites)
    score = np.full(n, np.nan)
    p = np.zeros(n)
    stable = np.zeros(n, dtype=bool)
    idx = np.flatnonzero(passed)
    ids = sites["site_id"].astype(str).to_numpy()
    values = sites.iloc[idx][names]
    warn_list = list(warns)
    for c in names:
        k = int(values[c].isna().sum())
        if k:
            warn_list.append(
                f"准则 {c} 有 {k}/{len(values)} 个通过点数值未知，计 0 分 / criterion {c} is unknown for {k} of "
                f"{len(values)} passed site(s); they score 0 on it. Fix: add the missing data (e.g. the facility kind)."
            )
    r = normalise(values, crit)
    rm = r.to_numpy(dtype=float)
    method: ScoreMethod = "topsis" if cfg.method == "topsis" else "weighted_sum"
    if len(idx):
        if method == "topsis":
            score[idx] = topsis(rm, w, benefit=np.ones(len(names), bool), normalisation="none")
        else:
            score[idx] = weighted_sum(rm, w)
    rank = rank_scores(score, ids)
    s = cfg.sensitivity
    if len(idx) and s.draws > 0:
        mc = monte_carlo(
            rm,
            w,
            tie_key=ids[idx],
            method=method,
            draws=s.draws,
            seed=s.seed,
            concentration=s.concentration,
            k=s.top_k,
            stable_share=s.stable_share,
            chunk=s.chunk_draws,
        )
        p[idx] = mc.p_topk
        stable[idx] = mc.stable
    oat = one_at_a_time(rm, w, names, site_ids=ids[idx], steps=s.oat_steps, method=method, k=s.top_k)
    ex = explain(ids[idx], values, r, w, crit)
    ex.insert(1, "rank", np.repeat(rank[idx], len(names)))
    ex = ex.sort_values(["rank", "criterion"], kind="stable").reset_index(drop=True)
    return ScoredSites(score, rank, p, stable, w, ahp, ex, oat, tuple(warn_list))


def score(sites: pd.DataFrame, *, config: SitingConfig | None = None) -> ScoredSites:
    """Score, rank and test the sensitivity of the candidates that passed screening.

    The second half of :func:`evaluate`, for trying other weights or methods on sites
    already screened and measured (``evaluate(...).sites``).

    Parameters
    ----------
    sites
        Candidates with ``site_id``, ``passed`` and one column per criterion of
        ``config.criteria`` (as :func:`evaluate` gives them). Not modified.
    config
        Criteria, weights, method (``weighted_sum``, ``ahp``, ``topsis``) and sensitivity
        (default :class:`~geofupin.config.siting.SitingConfig`).

    Returns
    -------
    ScoredSites
        Scores, ranks and stability aligned with the rows of ``sites``; min-max
        normalisation over the passed sites only; ranks 1..P by score (ties by ``site_id``).
    """
    cfg = config or SitingConfig()
    if "passed" not in sites:
        raise DataError("siting.score: the sites have no 'passed' column. Fix: screen them first (siting.evaluate).")
    missing = [c.name for c in cfg.criteria if c.name not in sites]
    if missing:
        raise DataError(
            f"siting.score: the sites lack criterion column(s) {', '.join(missing)}. "
            "Fix: measure them with siting.evaluate, or score with the criteria they have."
        )
    return score_sites(sites, sites["passed"].fillna(False).to_numpy(bool), cfg)


@dataclass(frozen=True)
class SitingResult:
    """Everything siting computed (frozen): what :func:`evaluate` returns.

    Attributes
    ----------
    sites
        Every candidate with its measurements, ``passed``, ``fail_rules``, ``reasons_zh``,
        ``reasons_en``, one column per criterion, ``score``, ``rank``, ``p_topk``,
        ``stable_topk``, ``capacity_persons`` (the ``sites`` layer of a run).
    ranking
        The passed sites by rank (table ``site_ranking``).
    screening
        Every rule for every candidate (:class:`~geofupin.siting.screening.Screening`).
    scored
        Scores and sensitivity (:class:`ScoredSites`).
    capacity
        The capacity norm used.
    generated
        True when the candidates were generated on a grid.
    summary, warnings
        Figures and messages for the user.
    configured, criteria, dropped
        The siting options as given and as used (criteria without data dropped, with why).
    site_access
        Network times of generated grid sites, when computed.
    """

    sites: gpd.GeoDataFrame
    ranking: pd.DataFrame
    screening: Screening
    scored: ScoredSites
    capacity: Capacity
    generated: bool
    summary: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    #: The siting section as given, and as used (criteria without data dropped, weights renormalised).
    configured: SitingConfig | None = None
    criteria: SitingConfig | None = None
    #: Dropped criteria -> (why in Chinese, in English).
    dropped: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: Network times of generated grid sites (their ``site_access`` rows), when computed.
    site_access: gpd.GeoDataFrame | None = None


def _has_towns(
    facilities: gpd.GeoDataFrame | None, site_access: pd.DataFrame | None, town_kinds: tuple[str, ...]
) -> bool:
    """True when a town or county seat exists to measure travel time to (else the rule is skipped, with a warning)."""
    if facilities is not None and "kind" in facilities and facilities["kind"].isin(town_kinds).any():
        return True
    if site_access is None:
        return False
    cols = [f"time_min_{k}" for k in town_kinds if f"time_min_{k}" in site_access]
    return bool(cols) and bool(site_access[cols].notna().to_numpy().any())


SiteTimes = Callable[[gpd.GeoDataFrame], tuple[gpd.GeoDataFrame, list[str]]]


def site(
    layers: Layers,
    cfg: SitingConfig | None = None,
    *,
    site_access: pd.DataFrame | None = None,
    site_times: SiteTimes | None = None,
) -> SitingResult:
    """Generate or take candidates, measure, screen, score and rank them.

    Parameters
    ----------
    layers
        The county's layers.
    cfg
        The ``siting`` section.
    site_access
        The access step's ``site_access`` rows (travel times of given candidates).
    site_times
        For generated (grid) candidates: a function giving their network ``site_access`` rows
        and warnings (the step wraps :func:`geofupin.accessibility.site_network_access` on the
        access step's network). Called once, on the cells kept after the buildable-share filter.

    Criteria whose data is absent are dropped (one warning) and the remaining weights
    renormalised; ``summary["criteria_dropped"]`` records them.

    Raises
    ------
    ScenarioError
        Bad weights, an inconsistent AHP matrix, no criterion left.
    DataError
        Unusable data (a DEM without CRS, a grid too large).
    """
    cfg = cfg or SitingConfig()
    fac = layers.facilities
    cands, generated = candidates_from_layers(layers, cfg)
    if cands.empty:
        raise DataError(
            "siting: no candidate sites (the candidates layer is empty and no grid cell fits the study "
            "area). Fix: give candidates or check the study area."
        )
    grid_times = generated and site_times is not None
    measured, cap, mwarn = measure(
        cands,
        cfg=cfg,
        villages=layers.villages,
        roads=layers.roads,
        water=layers.water,
        power=layers.power,
        facilities=layers.facilities,
        constraints=layers.constraints,
        dem=layers.dem,
        site_access=site_access,
        times=not grid_times,
    )
    warns = list(mwarn)
    dropped = 0
    if generated:
        with np.errstate(invalid="ignore", divide="ignore"):
            share = measured["buildable_area_m2"] / measured["area_m2"]
        keep = (share >= cfg.grid.min_buildable_share).to_numpy()
        dropped = int((~keep).sum())
        measured = measured[keep].reset_index(drop=True)
        if measured.empty:
            raise DataError(
                f"siting: no grid cell keeps {cfg.grid.min_buildable_share:.0%} of buildable land. "
                "Fix: lower siting.grid.min_buildable_share or check constraints and the DEM."
            )
    grid_access: gpd.GeoDataFrame | None = None
    if grid_times:
        assert site_times is not None
        grid_access, twarn = site_times(measured)
        warns += twarn
        site_access = attributes(grid_access)
        travel_times(measured, cfg, layers.facilities, site_access, warns)
    available = available_data(layers, access=site_access is not None)
    configured = cfg
    drop = criteria_to_drop(cfg.criteria, available, _facility_kinds(fac), measured)
    if drop:
        warns.append(dropped_message(cfg, drop))
        cfg = reduce_criteria(cfg, set(drop))
    rule_data = set(available)
    if "access" in available and _has_towns(fac, site_access, cfg.town_kinds):
        rule_data.add("times")
    rules, rwarn = build_rules(cfg.rules, available=sorted(rule_data))
    warns += rwarn
    scr = screen(measured, rules, unknown=cfg.rules.unknown)
    passed = scr.verdict["passed"].to_numpy()
    scored = score(measured.assign(passed=passed), config=cfg)
    warns += scored.warnings
    names = [c.name for c in cfg.criteria]

    sites = measured.copy()
    for col in scr.verdict:
        sites[col] = scr.verdict[col].to_numpy()
    sites["score"] = scored.score
    sites["rank"] = pd.array(np.where(scored.rank > 0, scored.rank, 0), dtype="Int64")
    sites.loc[scored.rank == 0, "rank"] = pd.NA
    sites["p_topk"] = scored.p_topk
    sites["stable_topk"] = scored.stable
    for col in ("capacity_persons", "capacity_households"):
        sites[col] = pd.array(np.where(np.isnan(sites[col]), 0, sites[col]).astype(np.int64), dtype="Int64")
        sites.loc[measured[col].isna().to_numpy(), col] = pd.NA
    crit_cols = [c for c in names if c not in SITE_FRONT_COLUMNS]
    rest = [
        c for c in sites.columns if c not in SITE_FRONT_COLUMNS + crit_cols + SITE_SCORE_COLUMNS + [sites.geometry.name]
    ]
    sites = sites[SITE_FRONT_COLUMNS + crit_cols + SITE_SCORE_COLUMNS + [*rest, sites.geometry.name]]

    ok = sites[sites["passed"]].sort_values("rank")
    rank_cols = [
        "rank",
        "site_id",
        "name",
        "name_en",
        "tier",
        "township",
        "score",
        "p_topk",
        "stable_topk",
        "capacity_persons",
        "capacity_households",
        "buildable_area_m2",
        *crit_cols,
    ]
    ranking = pd.DataFrame(ok[rank_cols]).reset_index(drop=True)

    removed = scr.removed
    summary: dict[str, Any] = {
        "candidates": len(sites),
        "generated": generated,
        "grid_cells_dropped_unbuildable": dropped,
        "passed": int(passed.sum()),
        "removed_by_rule": {r: int(v) for r, v in zip(removed["rule"], removed["failed"], strict=True)},
        "removed_only_by_rule": {r: int(v) for r, v in zip(removed["rule"], removed["failed_only"], strict=True)},
        "method": cfg.method,
        "weights": {n: float(x) for n, x in zip(names, scored.weights, strict=True)},
        "weights_configured": {c.name: c.weight for c in configured.criteria},
        "criteria_dropped": {n: {"zh": why[0], "en": why[1]} for n, why in drop.items()},
        "network_times": (
            "access" if site_access is not None and not grid_times else "grid_network" if grid_times else "none"
        ),
        "capacity_norm_zh": cap.text_zh,
        "capacity_norm_en": cap.text_en,
        "top_sites": ranking["site_id"].head(cfg.sensitivity.top_k).tolist(),
        "stable_topk": sites.loc[sites["stable_topk"], "site_id"].tolist(),
        "monte_carlo": {
            "draws": cfg.sensitivity.draws,
            "seed": cfg.sensitivity.seed,
            "top_k": cfg.sensitivity.top_k,
            "stable_share": cfg.sensitivity.stable_share,
        },
    }
    if scored.ahp is not None:
        summary["ahp"] = {"lambda_max": scored.ahp.lambda_max, "ci": scored.ahp.ci, "cr": scored.ahp.cr}
    if not passed.any():
        parts_zh = "；".join(f"{r.rule} 淘汰 {r.failed} 个（仅因此 {r.failed_only} 个）" for r in removed.itertuples())
        parts_en = "; ".join(
            f"{r.rule} removed {r.failed} (only reason for {r.failed_only})" for r in removed.itertuples()
        )
        msg = (
            f"没有候选点通过全部硬性规则（共 {len(sites)} 个）：{parts_zh} / no candidate passes every hard rule "
            f"({len(sites)} candidates): {parts_en}. Fix: relax the rules that removed most, or add candidates."
        )
        summary["no_candidate_passes"] = msg
        warns.append(msg)
    if grid_access is not None:
        summary["grid_sites_on_network"] = int(np.asarray(grid_access["reachable"], dtype=bool).sum())
    for w_ in warns:
        log.warning("%s", w_)
    return SitingResult(
        sites,
        ranking,
        scr,
        scored,
        cap,
        generated,
        summary,
        tuple(warns),
        configured=configured,
        criteria=cfg,
        dropped=drop,
        site_access=grid_access,
    )


def evaluate(
    candidates: gpd.GeoDataFrame | None,
    *,
    villages: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame | None = None,
    water: gpd.GeoDataFrame | None = None,
    power: gpd.GeoDataFrame | None = None,
    facilities: gpd.GeoDataFrame | None = None,
    constraints: gpd.GeoDataFrame | None = None,
    boundaries: gpd.GeoDataFrame | None = None,
    dem: str | Path | None = None,
    site_access: pd.DataFrame | None = None,
    network: RoadNetwork | None = None,
    access: AccessConfig | None = None,
    study_area: Any = None,
    config: SitingConfig | None = None,
) -> SitingResult:
    """Screen candidate sites by the hard rules (with reasons), measure the criteria, score and rank them.

    Near water, power and roads, off farmland, red lines and hazards, on gentle slopes, with
    room for the persons who move. Every layer is a GeoDataFrame in one metric CRS.

    Parameters
    ----------
    candidates
        Candidate polygons (``site_id``, optional ``name``, ``tier``, ``township``); ``None``
        generates a grid over ``study_area`` (or the county boundary, or the villages' hull).
    villages
        The villages layer (population near each site, the CRS of the run).
    roads, water, power, facilities, constraints, boundaries
        The other layers; a criterion or rule whose layer is absent is dropped with a warning.
    dem
        The DEM file (slope, elevation, buildable area).
    site_access
        Travel times of the candidates to facilities (:func:`geofupin.access.nearest` of the
        candidates); without it, times come from ``network`` for generated grid sites or from
        straight lines, with a warning.
    network
        A road network (:func:`geofupin.network.from_roads`) to time generated grid sites on.
    access
        Snapping options for ``network`` (default :class:`~geofupin.config.access.AccessConfig`).
    study_area
        The area a grid covers (a shapely geometry).
    config
        Rules, criteria, weights, method, capacity and sensitivity (default
        :class:`~geofupin.config.siting.SitingConfig`).

    Returns
    -------
    SitingResult
        ``sites`` is indexed like ``candidates`` (a fresh index for a generated grid).

    Raises
    ------
    ScenarioError
        Bad weights, an inconsistent AHP matrix, no criterion left.
    DataError
        Unusable data (a DEM without CRS, a grid too large, no candidate).
    """
    if isinstance(site_access, gpd.GeoDataFrame):  # the rows of access.nearest, geometry not needed
        site_access = pd.DataFrame(site_access.drop(columns=site_access.geometry.name))
    layers = Layers(
        crs=villages.crs,
        villages=villages,
        boundaries=boundaries,
        roads=roads,
        water=water,
        power=power,
        facilities=facilities,
        constraints=constraints,
        candidates=candidates,
        dem=None if dem is None else Path(dem),
        study_area=study_area,
    )
    site_times: SiteTimes | None = None
    if network is not None and site_access is None:
        from ..accessibility import site_network_access

        acfg = access or AccessConfig()
        net = network

        def site_times(sites: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, list[str]]:
            sa, _, _, warns = site_network_access(
                net,
                villages=villages,
                sites=sites[["site_id", sites.geometry.name]],
                facilities=facilities,
                config=acfg,
                elevation=net.elevation,
            )
            return sa, warns

    res = site(layers, config, site_access=site_access, site_times=site_times)
    if not res.generated and candidates is not None and len(res.sites) == len(candidates):
        res = dataclasses.replace(res, sites=res.sites.set_axis(candidates.index))
    return res


def _weights_table(cfg: SitingConfig, res: SitingResult) -> pd.DataFrame:
    """Every configured criterion: its weight as configured and as used (0 when dropped for missing data)."""
    used = res.criteria or cfg
    given = res.configured or cfg
    w_used = dict(zip([c.name for c in used.criteria], res.scored.weights, strict=True))
    crit = given.criteria
    return pd.DataFrame(
        {
            "criterion": [c.name for c in crit],
            "label_zh": [CRITERIA[c.name][2] for c in crit],
            "label_en": [CRITERIA[c.name][3] for c in crit],
            "unit": [CRITERIA[c.name][1] for c in crit],
            "direction": [c.dir for c in crit],
            "normalise": [c.normalise for c in crit],
            "weight_configured": [np.nan if c.weight is None else float(c.weight) for c in crit],
            "weight": [float(w_used.get(c.name, 0.0)) for c in crit],
            "status": [
                f"舍去:{res.dropped[c.name][0]} / dropped: {res.dropped[c.name][1]}"
                if c.name in res.dropped
                else "used"
                for c in crit
            ],
            "method": used.method,
        }
    )


def step(ctx: RunContext) -> StepResult:
    """The ``site`` step: layer ``sites``; tables ``site_ranking``, ``site_rules``, ``site_rule_summary``,
    ``site_explanation``, ``site_sensitivity``, ``site_weights``; artifact ``siting`` (:class:`SitingResult`).

    Uses the access step's ``site_access`` layer when present (travel times). Generated grid
    candidates (no candidates layer) are snapped to the access step's road network and get
    network times like any other site: the step then also returns their ``site_access`` layer
    and ``od_village_site`` table. Without the access step, times are estimated from
    straight-line distances, with a warning.
    """
    cfg = getattr(ctx.scenario, "siting", None) or SitingConfig()
    acc = ctx.layer("site_access")
    net = ctx.artifact("access", "network") if acc is None else None
    access_cfg = (getattr(ctx.scenario, "access", None) or AccessConfig()) if net is not None else None
    layers = ctx.layers
    res = evaluate(
        layers.candidates,
        villages=layers.villages,
        roads=layers.roads,
        water=layers.water,
        power=layers.power,
        facilities=layers.facilities,
        constraints=layers.constraints,
        boundaries=layers.boundaries,
        dem=layers.dem,
        site_access=None if acc is None else attributes(acc),
        network=net,
        access=access_cfg,
        study_area=layers.study_area,
        config=cfg,
    )
    layers_out: dict[str, gpd.GeoDataFrame] = {"sites": res.sites}
    tables = {
        "site_ranking": res.ranking,
        "site_rules": res.screening.checks,
        "site_rule_summary": res.screening.removed,
        "site_explanation": res.scored.explanation,
        "site_sensitivity": res.scored.oat,
        "site_weights": _weights_table(cfg, res),
    }
    summary = dict(res.summary)
    if res.site_access is not None and net is not None:
        from ..accessibility import od_pairs

        # OD villages x the grid sites that passed screening (those allocation can use)
        passed = res.sites[res.sites["passed"].to_numpy(bool)]
        od_df = od_pairs(net, layers.villages, passed[["site_id", passed.geometry.name]], config=access_cfg)
        layers_out["site_access"] = res.site_access
        tables["od_village_site"] = od_df
        summary["od_pairs_within_cutoff"] = len(od_df)
    return StepResult(
        layers=layers_out,
        tables=tables,
        artifacts={"siting": res},
        summary=summary,
        warnings=res.warnings,
    )
