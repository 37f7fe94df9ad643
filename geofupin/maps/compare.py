"""Two runs side by side with synchronised views, and a table of what differs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from folium.plugins import DualMap

from ..config.maps import MapConfig
from ..context import RunContext
from .elements import HtmlBox
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
    return out


METRICS = (
    ("top_sites", "前列安置点", "top sites"),
    ("persons_served", "安置人数", "persons served"),
    ("households_served", "安置户数", "households served"),
    ("persons_unserved", "未安置人数", "persons not placed"),
    ("sites_used", "使用安置点数", "sites used"),
    ("mean_time_min", "平均行程（分钟）", "mean travel time, min"),
    ("works_cost_yuan", "配套工程投资（元）", "planned works cost, yuan"),
    ("site_works_cost_yuan", "安置点配套投资（元）", "site works cost, yuan"),
    ("village_works_cost_yuan", "村级基础设施投资（元）", "village works cost, yuan"),
    ("subsidy_budget_yuan", "补助资金总额（元）", "subsidy budget, yuan"),
)


def compare_table(
    ctx_a: RunContext, ctx_b: RunContext, *, labels: Sequence[str] = ("A", "B"), top_k: int = 5
) -> pd.DataFrame:
    """What differs between two runs, one row per figure.

    Columns: ``metric_zh``, ``metric_en``, the two labels, ``difference`` (B - A for
    numbers; for the top sites the names only in A / only in B) and ``same`` (bool).
    """
    fa, fb = run_figures(ctx_a, top_k=top_k), run_figures(ctx_b, top_k=top_k)
    rows: list[tuple[Any, ...]] = []
    for key, zh, en in METRICS:
        if key not in fa and key not in fb:
            continue
        a, b = fa.get(key), fb.get(key)
        if isinstance(a, list) or isinstance(b, list):
            la, lb = list(a or []), list(b or [])
            only_a = [x for x in la if x not in lb]
            only_b = [x for x in lb if x not in la]
            diff = ("仅A: " + "、".join(only_a) if only_a else "") + ("；" if only_a and only_b else "")
            diff += "仅B: " + "、".join(only_b) if only_b else ""
            rows.append((zh, en, "、".join(la), "、".join(lb), diff or "相同 same", la == lb))
        else:
            d = (b - a) if isinstance(a, (int, float)) and isinstance(b, (int, float)) else None
            rows.append((zh, en, a, b, d, a == b))
    return pd.DataFrame(rows, columns=["metric_zh", "metric_en", labels[0], labels[1], "difference", "same"])


def build_compare_map(
    ctx_a: RunContext,
    ctx_b: RunContext,
    *,
    config: MapConfig | None = None,
    labels: Sequence[str] = ("方案A", "方案B"),
    top_k: int = 5,
) -> DualMap:
    """Two runs side by side (synchronised pan/zoom) with a differences table on the left map.

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
    rows = []
    for r in table.itertuples(index=False):
        rows.append([f"{r.metric_zh} {r.metric_en}", _cell(r[2]), _cell(r[3]), _cell(r[4])])
    HtmlBox(
        {
            "position": "bottomright",
            "title": "方案差异",
            "title_en": "What differs",
            "header": ["指标 metric", str(labels[0]), str(labels[1]), "差值 difference"],
            "rows": rows,
        }
    ).add_to(dual.m1)
    return dual


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
