"""Hard-rule screening: every rule for every candidate, with value, threshold and reasons.

A rule is a comparison of one measured column with a threshold. Each candidate gets, per
rule, ``passed``, the measured ``value`` and the ``threshold``; the verdict lists every rule
it fails, in Chinese and English ("最大坡度 31.2° 超过上限 25°" / "max slope 31.2° exceeds
limit 25°"). Unknown values (NaN) fail or pass as ``rules.unknown`` says, and say "unknown".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ..config.siting import RulesConfig

__all__ = ["Rule", "Screening", "build_rules", "screen"]

Fmt = Callable[[float], str]


def _deg(v: float) -> str:
    return f"{v:.1f}°"


def _deg_pct(v: float) -> str:
    """Degrees with the grade in percent, for limits set in percent: 14.0°(25%)."""
    if not np.isfinite(v) or v >= 90:
        return _deg(v)
    return f"{v:.1f}°({100 * np.tan(np.radians(v)):.0f}%)"


def _m(v: float) -> str:
    return f"{v:,.0f} m"


def _pct(v: float) -> str:
    return f"{100 * v:.1f}%"


def _min(v: float) -> str:
    return f"{v:.0f} min"


def _persons(v: float) -> str:
    return f"{v:,.0f}"


@dataclass(frozen=True)
class Rule:
    """One hard rule: ``column op threshold`` with its words.

    Attributes
    ----------
    rule_id
        Stable id (``max_slope``, ``outside_hazard`` ...), used in ``fail_rules``.
    column
        Measured column of the candidates.
    op
        ``le`` (value must be at most the threshold) or ``ge`` (at least).
    threshold
        The limit.
    unit
        Unit of value and threshold.
    label_zh, label_en
        What is measured ("最大坡度" / "max slope").
    fmt
        Formats a value or threshold for the reasons.
    """

    rule_id: str
    column: str
    op: Literal["le", "ge"]
    threshold: float
    unit: str
    label_zh: str
    label_en: str
    fmt: Fmt

    def reason_zh(self, v: float) -> str:
        """The Chinese reason for a failing value ("平均坡度 31.2° 超过上限 25.0°")."""
        return str(self.reasons(np.array([v], dtype=float))[0][0])

    def reason_en(self, v: float) -> str:
        """The English reason for a failing value ("mean slope 31.2° exceeds limit 25.0°")."""
        return str(self.reasons(np.array([v], dtype=float))[1][0])

    def reasons(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Chinese and English reasons for failing values (object arrays; NaN reads "unknown")."""
        num = np.array([self.fmt(x) for x in v.tolist()], dtype=object)
        thr = self.fmt(self.threshold)
        wz, we = ("超过上限", "exceeds limit") if self.op == "le" else ("低于下限", "below minimum")
        zh = (self.label_zh + " ") + num + f" {wz} {thr}"
        en = (self.label_en + " ") + num + f" {we} {thr}"
        inf = np.isposinf(v)
        if inf.any():
            zh[inf] = f"{self.label_zh}无穷大（不可达，或图层中没有要素） {wz} {thr}"
            en[inf] = f"{self.label_en} infinite (unreachable, or no feature in the layer) {we} {thr}"
        unk = np.isnan(v)
        if unk.any():
            zh[unk] = f"{self.label_zh}未知（无数据）"
            en[unk] = f"{self.label_en} unknown (no data)"
        return zh, en


_GROUP_WORDS = {
    "basic_farmland": ("占用基本农田", "overlap with basic farmland"),
    "ecological_redline": ("占用生态保护红线", "overlap with ecological red line"),
    "hazard": ("位于地灾隐患缓冲区", "share in hazard buffers"),
    "flood_zone": ("位于洪涝区（含缓冲）", "share in flood zones (with buffer)"),
}


#: Data a rule needs -> (Chinese, English, fix) for the one warning naming the rules skipped for lack of it.
_MISSING_WORDS: dict[str, tuple[str, str, str]] = {
    "dem": ("没有 DEM", "no DEM", "add layers.dem (a GeoTIFF), or set siting.rules.max_slope_deg: null."),
    "constraints": (
        "没有限制区图层",
        "no constraints layer",
        "add layers.constraints (basic farmland, ecological red line, hazards, flood zones), or list fewer "
        "groups in siting.rules.outside.",
    ),
    "water": ("没有水源图层", "no water layer", "add layers.water, or set siting.rules.max_dist_water_m: null."),
    "power": ("没有电力图层", "no power layer", "add layers.power, or set siting.rules.max_dist_power_m: null."),
    "roads": ("没有道路图层", "no roads layer", "add layers.roads, or set siting.rules.max_dist_road_m: null."),
    "times": (
        "没有到集镇或县城的行程时间",
        "no travel time to a town or county seat (no facility of those kinds, or no travel times)",
        "add facilities of kind town or county_seat, or set siting.rules.max_time_town_min: null.",
    ),
}


def build_rules(rules: RulesConfig, *, available: Sequence[str]) -> tuple[list[Rule], list[str]]:
    """The rules in force, and warnings for rules skipped because their data is absent.

    Parameters
    ----------
    rules
        The scenario's rules.
    available
        Data present: any of ``dem``, ``constraints``, ``water``, ``power``, ``roads``, ``times``.
    """
    have = set(available)
    out: list[Rule] = []
    warns: list[str] = []
    skipped: dict[str, list[str]] = {}

    def need(what: str, rule_id: str) -> bool:
        if what in have:
            return True
        skipped.setdefault(what, []).append(rule_id)
        return False

    limit = rules.slope_limit_deg
    if limit is not None and need("dem", "max_slope"):
        stat = rules.slope_stat
        zh, en = ("平均坡度", "mean slope") if stat == "mean" else ("最大坡度", "max slope")
        fmt = _deg_pct if rules.max_slope_deg is None else _deg
        out.append(Rule("max_slope", f"slope_{stat}_deg", "le", limit, "deg", zh, en, fmt))
    for g in rules.outside:
        if need("constraints", f"outside_{g}"):
            zh, en = _GROUP_WORDS[g]
            out.append(Rule(f"outside_{g}", f"{g}_share", "le", rules.max_overlap_share, "share", zh, en, _pct))
    for key, col, what, zh, en in (
        ("max_dist_water_m", "dist_water_m", "water", "距水源", "distance to water source"),
        ("max_dist_power_m", "dist_power_m", "power", "距电力设施", "distance to power"),
        ("max_dist_road_m", "dist_road_m", "roads", "距全天候道路", "distance to all-weather road"),
    ):
        limit = getattr(rules, key)
        rid = key.removesuffix("_m")
        if limit is not None and need(what, rid):
            out.append(Rule(rid, col, "le", float(limit), "m", zh, en, _m))
    if rules.min_capacity_persons is not None:
        out.append(
            Rule(
                "min_capacity",
                "capacity_persons",
                "ge",
                float(rules.min_capacity_persons),
                "persons",
                "可容纳人数",
                "capacity (persons)",
                _persons,
            )
        )
    if rules.max_time_town_min is not None and need("times", "max_time_town"):
        out.append(
            Rule(
                "max_time_town",
                "time_min_town_any",
                "le",
                float(rules.max_time_town_min),
                "min",
                "到最近集镇/县城时间",
                "travel time to nearest town",
                _min,
            )
        )
    for what, ids in skipped.items():
        zh, en, fix = _MISSING_WORDS[what]
        warns.append(
            f"规则 {'、'.join(ids)} 缺少数据（{zh}），已跳过 / rule(s) {', '.join(ids)} skipped: {en}. Fix: {fix}"
        )
    return out, warns


@dataclass(frozen=True)
class Screening:
    """The result of screening.

    Attributes
    ----------
    verdict
        Indexed like the candidates: ``passed``, ``fail_rules`` (comma-separated ids),
        ``reasons_zh``, ``reasons_en`` (every failed rule in words, ``；``/``; `` separated).
    checks
        Long table: ``site_id``, ``rule``, ``passed``, ``value``, ``threshold``, ``op``, ``unit``.
    removed
        Per rule: candidates failing it (``failed``) and failing only it (``failed_only``).
    """

    verdict: pd.DataFrame
    checks: pd.DataFrame
    removed: pd.DataFrame


def screen(
    sites: pd.DataFrame,
    rules: Sequence[Rule],
    *,
    unknown: Literal["fail", "pass"] = "fail",
) -> Screening:
    """Evaluate every rule on every candidate (vectorised per rule).

    Parameters
    ----------
    sites
        Candidates with ``site_id`` and the rules' columns.
    rules
        From :func:`build_rules`.
    unknown
        Whether a NaN value fails (default) or passes.
    """
    n = len(sites)
    idx = sites.index
    ok_all = np.ones(n, dtype=bool)
    nfail = np.zeros(n, dtype=np.int64)
    fails: list[np.ndarray] = []
    zh = np.full(n, "", dtype=object)
    en = np.full(n, "", dtype=object)
    ids = np.full(n, "", dtype=object)
    checks = []
    site_ids = sites["site_id"].to_numpy()
    for r in rules:
        if r.column in sites:
            v = pd.to_numeric(sites[r.column], errors="coerce").to_numpy(dtype=float)
        else:
            v = np.full(n, np.nan)
        with np.errstate(invalid="ignore"):
            ok = v <= r.threshold + 1e-9 if r.op == "le" else v >= r.threshold - 1e-9
        ok = np.where(np.isnan(v), unknown == "pass", ok)
        bad = ~ok
        fails.append(bad)
        ok_all &= ok
        nfail += bad
        if bad.any():
            b = np.flatnonzero(bad)
            rz, re_ = r.reasons(v[b])
            first = zh[b] == ""
            zh[b] = np.where(first, rz, zh[b] + "；" + rz)
            en[b] = np.where(first, re_, en[b] + "; " + re_)
            ids[b] = np.where(first, r.rule_id, ids[b] + ("," + r.rule_id))
        checks.append(
            pd.DataFrame(
                {
                    "site_id": site_ids,
                    "rule": r.rule_id,
                    "passed": ok,
                    "value": v,
                    "threshold": r.threshold,
                    "op": r.op,
                    "unit": r.unit,
                }
            )
        )
    verdict = pd.DataFrame({"passed": ok_all, "fail_rules": ids, "reasons_zh": zh, "reasons_en": en}, index=idx)
    cols = ["site_id", "rule", "passed", "value", "threshold", "op", "unit"]
    long = pd.concat(checks, ignore_index=True) if checks else pd.DataFrame(columns=cols)
    removed = pd.DataFrame(
        {
            "rule": [r.rule_id for r in rules],
            "label_zh": [r.label_zh for r in rules],
            "label_en": [r.label_en for r in rules],
            "threshold": [r.threshold for r in rules],
            "failed": [int(b.sum()) for b in fails],
            "failed_only": [int((b & (nfail == 1)).sum()) for b in fails],
        }
    )
    return Screening(verdict, long, removed)
