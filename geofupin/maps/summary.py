"""The summary panel's figures, from the run's step results."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..context import Layers, StepResult
from .page import find


def _summary_of(results: Mapping[str, StepResult], step: str) -> Mapping[str, Any]:
    res = results.get(step)
    return res.summary if res is not None else {}


def _num(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _col_sum(frame: pd.DataFrame | None, col: str) -> float | None:
    if frame is None or col not in frame.columns:
        return None
    return float(pd.to_numeric(frame[col], errors="coerce").fillna(0).sum())


def _wan(yuan: float) -> str:
    return f"{yuan / 1e4:,.2f} 万元"


def _count(x: float) -> str:
    return f"{round(x):,}"


def run_summary(layers: Layers, results: Mapping[str, StepResult], *, public: bool = False) -> dict[str, Any] | None:
    """The figures of the summary panel, taken from the run's step results (never retyped).

    Persons and households come from the ``plan`` step's summary (else the ``allocate``
    summary and the ``assignment``/``allocation_flows`` and ``unserved`` tables); sites
    passing from the ``site`` summary (else the ``sites`` layer); sites used from the
    ``allocate`` summary (else ``site_load``); the budget from the ``plan`` summary and the
    ``budget_county`` table (summed by payer); the slowest access from ``assignment`` (or the
    flows) and ``relocation_access``.

    Returns
    -------
    ``{'figures': {key: number}, 'rows': [{'zh', 'en', 'value'}], 'public': bool}`` or
    ``None`` when the run has no relocation results. The public version (公示) carries
    no per-household budget and no 村民小组 names.
    """
    alloc, plan, site = (_summary_of(results, k) for k in ("allocate", "plan", "site"))
    assignment = find(results, "assignment", "tables")
    flows = find(results, "allocation_flows", "layers")
    placed_tab = assignment if assignment is not None else flows
    unserved = find(results, "unserved", "tables")
    if not (alloc or plan or placed_tab is not None):
        return None
    fig: dict[str, float] = {}
    placed_p, placed_h = _col_sum(placed_tab, "persons"), _col_sum(placed_tab, "households")
    uns_p, uns_h = _col_sum(unserved, "persons"), _col_sum(unserved, "households")
    persons = _num(plan.get("relocated_persons")) or _num(alloc.get("relocating_persons"))
    if persons is None and placed_p is not None:
        persons = placed_p + (uns_p or 0.0)
    households = _num(plan.get("relocated_households"))
    if households is None and placed_h is not None:
        households = placed_h + (uns_h or 0.0)
    served = _num(alloc.get("served_persons"))
    served = placed_p if served is None else served
    unserved_p = _num(alloc.get("unserved_persons"))
    unserved_p = (uns_p or 0.0) if unserved_p is None and served is not None else unserved_p
    for key, val in (
        ("persons", persons),
        ("households", households),
        ("placed_persons", served),
        ("placed_households", placed_h),
        ("unserved_persons", unserved_p),
        ("unserved_households", uns_h if uns_h is not None or placed_h is None else 0.0),
    ):
        if val is not None:
            fig[key] = val
    rows: list[dict[str, str]] = []
    if "persons" in fig or "households" in fig:
        parts = [f"{_count(fig[k])} {u}" for k, u in (("households", "户"), ("persons", "人")) if k in fig]
        rows.append({"zh": "搬迁对象", "en": "to move", "value": "，".join(parts)})
    if "placed_persons" in fig:
        text = f"{_count(fig['placed_persons'])} 人"
        if "placed_households" in fig:
            text = f"{_count(fig['placed_households'])} 户 " + text
        rows.append({"zh": "已安置", "en": "placed", "value": text})
    if "unserved_persons" in fig:
        text = f"{_count(fig['unserved_persons'])} 人"
        if fig.get("unserved_households") is not None and "placed_households" in fig:
            text = f"{_count(fig['unserved_households'])} 户 " + text
        rows.append({"zh": "未能安置", "en": "unserved", "value": text})
    sites = find(results, "sites", "layers")
    passing = _num(site.get("passed"))
    if passing is None and sites is not None and "passed" in sites.columns:
        passing = float(sites["passed"].fillna(False).astype(bool).sum())
    used = _num(alloc.get("open_sites"))
    load = find(results, "site_load", "tables")
    if used is None and load is not None and "assigned_persons" in load.columns:
        used = float((pd.to_numeric(load["assigned_persons"], errors="coerce").fillna(0) > 0).sum())
    if used is not None:
        fig["sites_used"] = used
    if passing is not None:
        fig["sites_passing"] = passing
    if used is not None or passing is not None:
        value = (
            f"使用 {_count(used)} 个（通过筛选 {_count(passing)} 个）"
            if used is not None and passing is not None
            else f"{_count(used if used is not None else passing or 0)} 个"
        )
        rows.append({"zh": "安置点", "en": "sites used (passing)", "value": value})
    budget = _num(plan.get("budget_total_yuan"))
    county = find(results, "budget_county", "tables")
    by_payer: list[str] = []
    if county is not None and {"payer", "amount_yuan"} <= set(county.columns) and len(county):
        c = county.assign(amount_yuan=pd.to_numeric(county["amount_yuan"], errors="coerce").fillna(0.0))
        label = c["payer_zh"].astype(str) if "payer_zh" in c.columns else c["payer"].astype(str)
        sums = c.groupby(c["payer"].astype(str), sort=False)["amount_yuan"].sum()
        labels = dict(zip(c["payer"].astype(str), label, strict=True))
        for payer, amount in sums.items():
            fig[f"budget_{payer}_yuan"] = float(amount)
            by_payer.append(f"{labels[str(payer)]} {float(amount) / 1e4:,.2f}")
        if budget is None:
            budget = float(c["amount_yuan"].sum())
    if budget is not None:
        fig["budget_yuan"] = budget
        rows.append({"zh": "补助资金合计", "en": "budget", "value": _wan(budget)})
        if by_payer:
            rows.append({"zh": "其中", "en": "by payer, 10,000 yuan", "value": "，".join(by_payer) + "（万元）"})
        if not public and fig.get("households"):
            fig["budget_per_household_yuan"] = budget / fig["households"]
            rows.append({"zh": "户均补助", "en": "per household", "value": _wan(budget / fig["households"])})
    if placed_tab is not None and "time_min" in placed_tab.columns and len(placed_tab):
        t = pd.to_numeric(placed_tab["time_min"], errors="coerce")
        if t.notna().any():
            i = t.idxmax()
            fig["slowest_time_min"] = float(t[i])
            who = ""
            if "village_id" in placed_tab.columns:
                vid = str(placed_tab.at[i, "village_id"])
                names = {}
                v = layers.villages
                if v is not None and {"village_id", "name"} <= set(v.columns):
                    names = dict(zip(v["village_id"].astype(str), v["name"].astype(str), strict=True))
                own = placed_tab.at[i, "name"] if "name" in placed_tab.columns else None
                who = str(own) if own is not None and pd.notna(own) else names.get(vid, vid)
                if not public and "group" in placed_tab.columns and pd.notna(placed_tab.at[i, "group"]):
                    who += f" {placed_tab.at[i, 'group']}"
            rows.append(
                {
                    "zh": "到安置点最长行程",
                    "en": "longest trip to the site",
                    "value": f"{float(t[i]):.0f} 分钟" + (f"（{who}）" if who else ""),
                }
            )
    ra = find(results, "relocation_access", "tables")
    for kind, zh in (("school", "学校"), ("clinic", "卫生室")):
        b, a = f"before_time_min_{kind}", f"after_time_min_{kind}"
        if ra is None or not {b, a} <= set(ra.columns):
            continue
        before, after = (pd.to_numeric(ra[c], errors="coerce").max() for c in (b, a))
        if pd.isna(before) or pd.isna(after):
            continue
        fig[f"slowest_{kind}_before_min"], fig[f"slowest_{kind}_after_min"] = float(before), float(after)
        rows.append(
            {
                "zh": f"到{zh}最长时间",
                "en": f"longest to {kind}, before → after",
                "value": f"搬迁前 {float(before):.0f} 分钟 → 搬迁后 {float(after):.0f} 分钟",
            }
        )
    if not rows:
        return None
    return {"figures": fig, "rows": rows, "public": public}
