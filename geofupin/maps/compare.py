"""Two runs side by side with synchronised views, and a table of what differs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from folium.plugins import DualMap

from ..config.maps import MapConfig
from ..context import RunContext
from .elements import ComparePanel
from .overview import MAP_LIMITS, add_run_layers, finish_map


def _layer(ctx: RunContext, name: str) -> Any:
    return ctx.layer(name)


def run_figures(ctx: RunContext, *, top_k: int = 5) -> dict[str, Any]:
    """Headline figures of a run: top sites, persons/households served, unserved, cost, travel time."""
    out: dict[str, Any] = {}
    sites = _layer(ctx, "sites")
    if sites is not None and "rank" in sites.columns:
        ranked = sites[pd.to_numeric(sites["rank"], errors="coerce").notna()].copy()
        if "passed" in ranked.columns:
            ranked = ranked[ranked["passed"].fillna(False).astype(bool)]
        ranked = ranked.sort_values("rank", kind="stable").head(top_k)
        names = ranked["name"].astype(str) if "name" in ranked.columns else ranked["site_id"].astype(str)
        out["top_sites"] = list(names)
    flows = _layer(ctx, "allocation_flows")
    load = ctx.table("site_load")
    if flows is not None and len(flows):
        out["persons_served"] = int(pd.to_numeric(flows["persons"], errors="coerce").fillna(0).sum())
        out["households_served"] = int(pd.to_numeric(flows["households"], errors="coerce").fillna(0).sum())
        if "time_min" in flows.columns:
            w = pd.to_numeric(flows["persons"], errors="coerce").fillna(0).to_numpy(float)
            t = pd.to_numeric(flows["time_min"], errors="coerce").to_numpy(float)
            ok = np.isfinite(t) & (w > 0)
            out["mean_time_min"] = round(float(np.average(t[ok], weights=w[ok])), 1) if ok.any() else None
        out["sites_used"] = int(flows["site_id"].nunique())
    elif load is not None and len(load):
        out["persons_served"] = int(pd.to_numeric(load["assigned_persons"], errors="coerce").fillna(0).sum())
        out["sites_used"] = int((pd.to_numeric(load["assigned_persons"], errors="coerce").fillna(0) > 0).sum())
    unserved = ctx.table("unserved")
    if unserved is not None:
        out["persons_unserved"] = int(
            pd.to_numeric(unserved.get("persons", pd.Series(dtype=float)), errors="coerce").fillna(0).sum()
        )
    cost = 0.0
    seen = False
    for key in ("planned_roads", "planned_water", "planned_power"):
        g = _layer(ctx, key)
        if g is not None and "cost_yuan" in g.columns:
            cost += float(pd.to_numeric(g["cost_yuan"], errors="coerce").fillna(0).sum())
            seen = True
    if seen:
        out["works_cost_yuan"] = round(cost)
    for key, table, col in (
        ("site_works_cost_yuan", "plan_sites", "total_cost_yuan"),
        ("village_works_cost_yuan", "plan_villages", "total_cost_yuan"),
        ("subsidy_budget_yuan", "budget_county", "amount_yuan"),
    ):
        t = ctx.table(table)
        if t is not None and col in t.columns:
            out[key] = round(float(pd.to_numeric(t[col], errors="coerce").fillna(0).sum()))
    parts = [out[k] for k in ("site_works_cost_yuan", "village_works_cost_yuan") if k in out]
    if parts:
        out["works_total_yuan"] = sum(parts)
    return out


#: The figures compared: key, Chinese label, English label, how the figure is formed (Chinese).
METRICS = (
    ("top_sites", "前列安置点", "top sites", "通过筛选、按综合得分排名的前几位"),
    ("persons_served", "安置人数", "persons served", "搬迁去向人数合计"),
    ("households_served", "安置户数", "households served", "搬迁去向户数合计"),
    ("persons_unserved", "未安置人数", "persons not placed", "未安置名单人数合计"),
    ("sites_used", "使用安置点数", "sites used", "有人迁入的安置点个数"),
    ("mean_time_min", "平均行程（分钟）", "mean travel time, min", "村庄到安置点行程时间，按人数加权"),
    (
        "subsidy_budget_yuan",
        "补助资金总额（元）",
        "subsidy budget, yuan",
        "按补助政策测算的各级补助合计（建房、宅基地整理、基础设施配套等）；是资金来源，不与工程投资相加",
    ),
    ("works_total_yuan", "工程投资合计（元）", "works total, yuan", "＝安置点配套工程投资＋村级基础设施投资"),
    (
        "site_works_cost_yuan",
        "其中：安置点配套工程投资（元）",
        "site works cost, yuan",
        "场外道路、供水、供电，场内工程，学校",
    ),
    ("village_works_cost_yuan", "其中：村级基础设施投资（元）", "village works cost, yuan", "村道、水利、卫生室等"),
    (
        "works_cost_yuan",
        "图上规划线路投资（元）",
        "planned works cost, yuan",
        "地图上画出的规划道路、供水、供电线路；已含在上两项中，不另计入合计",
    ),
)
#: Keys whose values are yuan (shown in 万元 on the page).
YUAN_KEYS = frozenset(k for k, *_ in METRICS if k.endswith("_yuan"))


def compare_table(
    ctx_a: RunContext, ctx_b: RunContext, *, labels: Sequence[str] = ("A", "B"), top_k: int = 5
) -> pd.DataFrame:
    """What differs between two runs, one row per figure.

    Columns: ``metric_zh``, ``metric_en``, the two labels, ``difference`` (B - A for
    numbers; for the top sites the names only in A / only in B), ``same`` (bool) and
    ``basis_zh`` (how the figure is formed). Money is in yuan here (万元 on the page).
    """
    fa, fb = run_figures(ctx_a, top_k=top_k), run_figures(ctx_b, top_k=top_k)
    rows: list[tuple[Any, ...]] = []
    for key, zh, en, basis in METRICS:
        if key not in fa and key not in fb:
            continue
        a, b = fa.get(key), fb.get(key)
        if isinstance(a, list) or isinstance(b, list):
            la, lb = list(a or []), list(b or [])
            only_a = [x for x in la if x not in lb]
            only_b = [x for x in lb if x not in la]
            diff = ("仅A: " + "、".join(only_a) if only_a else "") + ("；" if only_a and only_b else "")
            diff += "仅B: " + "、".join(only_b) if only_b else ""
            rows.append((zh, en, "、".join(la), "、".join(lb), diff or "相同 same", la == lb, basis))
        else:
            d = (b - a) if isinstance(a, (int, float)) and isinstance(b, (int, float)) else None
            rows.append((zh, en, a, b, d, a == b, basis))
    return pd.DataFrame(
        rows, columns=["metric_zh", "metric_en", labels[0], labels[1], "difference", "same", "basis_zh"]
    )


def build_compare_map(
    ctx_a: RunContext,
    ctx_b: RunContext,
    *,
    config: MapConfig | None = None,
    labels: Sequence[str] = ("方案A", "方案B"),
    top_k: int = 5,
) -> DualMap:
    """Two runs side by side (synchronised pan/zoom) and a panel of what differs beside them.

    On a wide screen the panel stands right of the two maps; on a narrow one the maps are
    stacked and the panel is below them: it never covers a map.

    Parameters
    ----------
    ctx_a, ctx_b
        The two runs (e.g. the same county with different weights).
    config
        The ``map`` section used for both sides (defaults to ``ctx_a.scenario.map``).
    labels
        Names of the two scenarios shown in the titles and the table.
    top_k
        How many top sites to compare.

    Returns
    -------
    A ``folium.plugins.DualMap``; render it with :func:`geofupin.maps.render_html`.
    """
    config = config or getattr(ctx_a.scenario, "map", None) or MapConfig()
    dual = DualMap(
        tiles=None, prefer_canvas=True, control_scale=False, location=[35.0, 105.0], zoom_start=10, **MAP_LIMITS
    )
    for m, ctx, label in ((dual.m1, ctx_a, labels[0]), (dual.m2, ctx_b, labels[1])):
        cfg = replace(config, title=f"{config.title}：{label}", title_en=f"{config.title_en}: {label}")
        page = add_run_layers(m, ctx.layers, ctx.results, config=cfg, controls=False)
        finish_map(m, page, legend_collapsed=True)
    table = compare_table(ctx_a, ctx_b, labels=labels, top_k=top_k)
    ComparePanel(compare_panel(table, labels=labels), dual.m1.get_name(), dual.m2.get_name()).add_to(dual.m1)
    return dual


def _wan(yuan: Any) -> float | None:
    """Yuan as 万元 to 0.01 (the precision the panel shows), ``None`` when missing."""
    if yuan is None or (isinstance(yuan, float) and not np.isfinite(yuan)):
        return None
    return round(float(yuan) / 1e4, 2)


def compare_panel(table: pd.DataFrame, *, labels: Sequence[str]) -> dict[str, Any]:
    """The page's "what differs" panel from :func:`compare_table`: money in 万元, each row with how it is formed.

    Money rows are rounded to 0.01 万元 first and the works total is the sum of its two
    rounded parts, so the figures add up exactly as printed; the difference is B - A of
    the printed values.
    """
    keys = {en: key for key, _, en, _ in METRICS}
    wan: dict[str, tuple[float | None, float | None]] = {}
    for r in table.itertuples(index=False):
        key = keys.get(str(r.metric_en), "")
        if key in YUAN_KEYS:
            wan[key] = (_wan(r[2]), _wan(r[3]))
    if "works_total_yuan" in wan:
        parts = [wan[k] for k in ("site_works_cost_yuan", "village_works_cost_yuan") if k in wan]
        wan["works_total_yuan"] = (_sum(p[0] for p in parts), _sum(p[1] for p in parts))
    rows = []
    for r in table.itertuples(index=False):
        key = keys.get(str(r.metric_en), "")
        if key in wan:
            a, b = wan[key]
            d = round(b - a, 2) if a is not None and b is not None else None
            zh = str(r.metric_zh).replace("（元）", "（万元）")
            en = str(r.metric_en).replace(", yuan", ", 10,000 yuan")
            cells = [_money(a), _money(b), _money(d)]
        else:
            zh, en = str(r.metric_zh), str(r.metric_en)
            cells = [_cell(r[2]), _cell(r[3]), _cell(r[4])]
        rows.append({"key": key, "zh": zh, "en": en, "basis": str(r.basis_zh), "cells": cells})
    return {
        "title": "方案差异",
        "title_en": "What differs",
        "header": ["指标 metric", str(labels[0]), str(labels[1]), "差值（后者减前者） difference"],
        "rows": rows,
        "note": "金额单位：万元；补助资金是资金来源，工程投资是建设费用，两者不相加。",
    }


def _sum(values: Iterable[float | None]) -> float | None:
    got = [v for v in values if v is not None]
    return round(sum(got), 2) if got else None


def _money(v: float | None) -> str | None:
    return None if v is None else f"{v:,.2f}"


def _cell(v: Any) -> str | None:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return None
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, float):
        return f"{v:,.1f}"
    return str(v)
