"""Candidate and resettlement sites: score colours, rank labels, the verdict and reasons first in each popup."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..context import Layers, StepResult
from ..siting import SITE_FRONT_COLUMNS, SITE_SCORE_COLUMNS
from . import data as D
from .page import Page, find

#: Site columns that are not criteria (the criteria are the remaining numeric columns).
SITE_KNOWN = {*SITE_FRONT_COLUMNS, *SITE_SCORE_COLUMNS, "planned_area_m2", "geometry"}
SCORE_COLORS = ("#f7fcb9", "#addd8e", "#41ab5d", "#006837")


def site_names(layers: Layers, results: Mapping[str, StepResult]) -> dict[str, str]:
    out: dict[str, str] = {}
    for g in (find(results, "sites", "layers"), layers.candidates):
        if g is not None and "site_id" in g.columns and "name" in g.columns:
            out = dict(zip(g["site_id"].astype(str), g["name"].astype(str), strict=True))
            break
    dests = find(results, "placement_destinations", "layers")  # 敬老院 and 周转房 of the placement
    if dests is not None and len(dests):
        out = {**dict(zip(dests["site_id"].astype(str), dests["name"].astype(str), strict=True)), **out}
    return out


def _explanation_lines(expl: pd.DataFrame, site_ids: pd.Series) -> list[list[str]]:
    """Per site, one readable line per criterion from the ``site_explanation`` table, largest contribution first."""
    e = expl.assign(site_id=expl["site_id"].astype(str))
    e = e.sort_values(["site_id", "contribution"], ascending=[True, False], kind="stable")
    lines: dict[str, list[str]] = {}
    for row in e.itertuples(index=False):
        label = getattr(row, "label_zh", None) or D.label_zh(str(row.criterion))
        value = getattr(row, "value", None)
        unit = getattr(row, "unit", None)
        text = f"{label}"
        if value is not None and pd.notna(value):
            text += f"：{float(value):,.4g}" + (f" {unit}" if unit is not None and pd.notna(unit) else "")
        weight = getattr(row, "weight", None)
        if weight is not None and pd.notna(weight):
            text += f"，权重 {float(weight):.2f}"
        text += f"，贡献 {float(row.contribution):.3f}" if pd.notna(row.contribution) else ""
        lines.setdefault(row.site_id, []).append(text)
    return [lines.get(s, []) for s in site_ids]


def _site_verdicts(
    d: pd.DataFrame, passed: np.ndarray, props: Mapping[str, list[Any]]
) -> tuple[list[str], list[list[str]]]:
    """Per site, the popup's first line (通过/未通过 with rank and score) and its reasons in plain Chinese.

    A failed site's reasons are its ``reasons_zh`` (else its failed rules); a passing site's
    are its ``reasons_zh`` when given, else its three largest score contributions.
    """
    rank = pd.to_numeric(d["rank"], errors="coerce") if "rank" in d.columns else pd.Series(np.nan, index=d.index)
    score = pd.to_numeric(d["score"], errors="coerce") if "score" in d.columns else pd.Series(np.nan, index=d.index)
    reasons = props.get("_reasons_zh") or [[] for _ in range(len(d))]
    fail = props.get("_fail") or [[] for _ in range(len(d))]
    contrib = props.get("_contrib") or [[] for _ in range(len(d))]
    verdicts: list[str] = []
    whys: list[list[str]] = []
    for i, ok in enumerate(passed):
        if ok:
            text = "✔ 通过筛选"
            if pd.notna(rank.iloc[i]):
                text += f"，排名第 {int(rank.iloc[i])}"
            if pd.notna(score.iloc[i]):
                text += f"，综合得分 {float(score.iloc[i]):.3f}"
            whys.append(list(reasons[i]) or list(contrib[i])[:3])
        else:
            text = "✘ 未通过筛选"
            whys.append(list(reasons[i]) or [D.label_zh(r) for r in fail[i]])
        verdicts.append(text)
    return verdicts, whys


def _sites(p: Page, layers: Layers, results: Mapping[str, StepResult]) -> None:
    s = find(results, "sites", "layers")
    scored = s is not None
    if s is None:
        s = layers.candidates
    if s is None or not len(s):
        return
    d = p.display(s)
    tier = (
        d["tier"].astype(str).map(lambda t: D.TIER_ZH.get(t, t))
        if "tier" in d.columns
        else pd.Series("", index=d.index)
    )
    d = d.assign(_tier_zh=tier)
    props: dict[str, list[Any]] = {}
    fields: list[D.Field] = [
        ("site_id", "编号", "site id", ""),
        ("_tier_zh", "层级", "tier", ""),
        ("township", "乡镇", "township", ""),
        ("rank", "排名", "rank", "int"),
        ("score", "综合得分", "score", ""),
        ("passed", "通过筛选", "passed screening", ""),
        ("stable_topk", "稳定入选前k", "stable top-k", ""),
        ("p_topk", "入选前k概率", "P(top-k)", "pct"),
        ("area_m2", "面积（平方米）", "area_m2", "m2"),
        ("buildable_area_m2", "可建面积（平方米）", "buildable_area_m2", "m2"),
        ("planned_area_m2", "规划面积（平方米）", "planned_area_m2", "m2"),
        ("capacity_persons", "容量（人）", "capacity_persons", "int"),
        ("capacity_households", "容量（户）", "capacity_households", "int"),
    ]
    load = find(results, "site_load", "tables")
    if load is not None and len(load) and "site_id" in d.columns:
        lt = load.assign(site_id=load["site_id"].astype(str)).drop_duplicates("site_id").set_index("site_id")
        sid = d["site_id"].astype(str)
        ap = sid.map(lt["assigned_persons"]) if "assigned_persons" in lt.columns else pd.Series(np.nan, index=d.index)
        cap = sid.map(lt["capacity_persons"]) if "capacity_persons" in lt.columns else pd.Series(np.nan, index=d.index)
        props["_assigned"] = D.column_values(ap.astype(float))
        props["_load"] = D.column_values((ap / cap.where(cap > 0)).astype(float))
        fields += [
            ("_assigned", "已安置人数", "assigned persons", "int"),
            ("_load", "容量利用率", "load / capacity", "pct"),
        ]
    criteria = [
        c
        for c in d.columns
        if c not in SITE_KNOWN and not c.startswith("_") and "contrib" not in c and pd.api.types.is_numeric_dtype(d[c])
    ]
    contrib = [c for c in d.columns if "contrib" in c and pd.api.types.is_numeric_dtype(d[c])]
    fields += [(c, D.label_zh(c), c, "") for c in criteria]
    if contrib:
        vals = d[contrib].to_numpy(dtype=float)
        crit_names = [c.replace("contrib_", "").replace("_contrib", "") for c in contrib]
        props["_contrib"] = [
            [f"{D.label_zh(n)} {n}：{x:.3f}" for n, x in zip(crit_names, row, strict=True) if math.isfinite(x)]
            for row in vals
        ]
    expl = find(results, "site_explanation", "tables")
    if expl is not None and len(expl) and {"site_id", "criterion", "contribution"} <= set(expl.columns):
        props["_contrib"] = _explanation_lines(expl, d["site_id"].astype(str))
    if "capacity_norm" in d.columns:
        props["_norm"] = [D.split_reasons(x) for x in d["capacity_norm"]]
    if "reasons_zh" in d.columns:
        props["_reasons_zh"] = [D.split_reasons(x) for x in d["reasons_zh"]]
    if "reasons_en" in d.columns:
        props["_reasons_en"] = [D.split_reasons(x) for x in d["reasons_en"]]
    if "fail_rules" in d.columns:
        props["_fail"] = [D.split_reasons(x) for x in d["fail_rules"]]
    passed = d["passed"].fillna(False).astype(bool).to_numpy() if "passed" in d.columns else np.ones(len(d), bool)
    score = (
        pd.to_numeric(d["score"], errors="coerce").to_numpy(dtype=float)
        if "score" in d.columns
        else np.full(len(d), np.nan)
    )
    colors = D.ramp(np.where(passed, score, np.nan), SCORE_COLORS) if np.isfinite(score).any() else ["#fdae6b"] * len(d)
    colors = [c if ok else "#bdbdbd" for c, ok in zip(colors, passed, strict=True)]
    stable = (
        d["stable_topk"].fillna(False).astype(bool).to_numpy() if "stable_topk" in d.columns else np.zeros(len(d), bool)
    )
    per = {
        "fillColor": colors,
        "color": np.where(stable, "#b8860b", np.where(passed, "#006837", "#636363")).tolist(),
        "weight": np.where(stable, 4.0, 1.5).tolist(),
        "dashArray": np.where(passed, "", "4 4").tolist(),
    }
    label_prio: list[float] = []
    if "rank" in d.columns:
        rank = pd.to_numeric(d["rank"], errors="coerce")
        props["_rank"] = [None if (not ok or pd.isna(r)) else str(int(r)) for r, ok in zip(rank, passed, strict=True)]
        # labels that would overlap are hidden, the best-ranked kept (gfp.declutter); hover shows rank and name
        label_prio = [float(r) if pd.notna(r) else 1e6 for r in rank]
        if "name" in d.columns:
            props["_hover"] = [
                n if lab is None else f"{lab}. {n}"
                for lab, n in zip(props["_rank"], D.column_values(d["name"].astype(str)), strict=True)
            ]
    props["_verdict"], props["_why"] = _site_verdicts(d, passed, props)
    if "site_id" in d.columns:  # the site-load circle drawn over the site answers the same way
        p.verdicts = {
            str(sid): (v, w, bool(ok))
            for sid, v, w, ok in zip(d["site_id"], props["_verdict"], props["_why"], passed, strict=True)
        }
    rp = d.representative_point()
    spec = p.spec(
        d,
        kind="polygons",
        fields=fields,
        props=props,
        title="name",
        title_en="name_en",
        sections=[
            ("_fail", "未通过的规则", "failed rules"),
            ("_reasons_zh", "筛选与评价说明", "reasons"),
            ("_reasons_en", "说明（英文）", "reasons in English"),
            ("_contrib", "各项得分贡献", "score contributions"),
            ("_norm", "容量测算标准", "capacity norm"),
        ],
        style={"fillOpacity": 0.75},
        per=per,
        label="_rank" if "_rank" in props else None,
        label_class="gfp-rank",
        label_at=[[round(y, 5), round(x, 5)] for x, y in zip(rp.x, rp.y, strict=True)],
        label_prio=label_prio or None,
        hover_label="_hover" if "_hover" in props else None,
    )
    # the answer first, the technical rows folded (the Chinese reasons are in the first lines already)
    spec["props"]["_passed"] = passed.tolist()
    spec["lead"], spec["fold"] = ["_verdict", "_why", "_passed"], True
    spec["sections"] = [s for s in spec["sections"] if s[0] != "_reasons_zh"]
    p.focus_on(d[passed] if passed.any() else d)  # excluded grid cells may cover the whole study area
    p.add(spec, "安置点 Resettlement sites" if scored else "候选安置点 Candidate sites", group="siting")
    items = [
        {"shape": "square", "color": SCORE_COLORS[-1], "zh": "得分高", "en": "high score"},
        {"shape": "square", "color": SCORE_COLORS[0], "zh": "得分低", "en": "low score"},
    ]
    if (~passed).any():
        items.append({"shape": "square", "color": "#bdbdbd", "stroke": "#636363", "zh": "未通过筛选", "en": "excluded"})
    if stable.any():
        items.append(
            {"shape": "square", "color": "#ffffff", "stroke": "#b8860b", "zh": "稳定入选前k", "en": "stable top-k"}
        )
    p.section("安置点（数字为排名）", "Sites (number = rank)", items)
