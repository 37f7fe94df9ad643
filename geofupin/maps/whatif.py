# ruff: noqa: E501  (embedded JavaScript and CSS)
"""The planner's tools on the run page: what-if weights and a side-by-side site comparison.

Both work in the browser with no network and only on the planner's page (never on the
public notice, 公示, which shows no scoring details).

**What-if weights (权重假设分析).** The page carries the normalised criteria of every site
that passed screening (the ``site_explanation`` table: exactly the matrix the run scored)
as one JSON data block, the matrix as little-endian float64 in base64 (exact, and about
half the size of decimal text). One slider per criterion sets its *relative importance*;
the weights in use are the slider values divided by their sum (as ``weight_sum:
normalise``). Moving a slider re-scores every passing site with the run's own formula
(:func:`geofupin.siting.scoring.weighted_sum`, or :func:`~geofupin.siting.scoring.topsis`
on the normalised matrix), re-ranks them with the run's tie rule (equal scores by
``site_id``), lists the sites that enter and leave the top *k* (k = the sites the
allocation opened, else the scenario's ``sensitivity.top_k``; the planner may set it),
and restyles the site polygons and their rank labels. Screening and normalisation do not
change with the weights, so the browser's scores are the ones a re-run with the exported
weights gives. With the scenario's own weights the browser's scores equal the run's (to
1e-9; tested in Chromium).

With ``method: ahp`` the weights come from the pairwise judgements; the sliders start at
those derived weights and move them directly (the judgements are not edited). Exported
untouched, the snippet repeats the AHP matrix; once a slider moved it exports
``method: weighted_sum`` with the adjusted weights, and says so in a comment.

**Site comparison (安置点比较).** A "加入比较 / compare" button in every site popup puts
the site into a tray (2 to 4 sites); the tray opens a sheet with one column per site:
every hard rule with its value, threshold and verdict, every criterion (value and
normalised score), capacity, load, travel times and costs, in Chinese with units, and a
print button (A4 landscape print CSS for the sheet alone).

Text from data reaches the page only inside the JSON block and is put on screen as DOM
text nodes (never ``innerHTML``); the exported YAML carries site ids only in comments,
with line breaks removed.
"""

from __future__ import annotations

import base64
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from branca.element import Figure, MacroElement
from folium.template import Template

from ..config.maps import MapConfig
from ..config.siting import CRITERIA
from ..context import Layers, StepResult
from .data import FACILITY_ZH, TIER_ZH
from .elements import RawHtml, RawMacroElement, _add_runtime, json_block

log = logging.getLogger(__name__)

__all__ = ["SCORE_COLORS", "PlannerTools", "add_planner_tools", "compare_spec", "whatif_spec"]

#: The site score ramp (low -> high); the same as :data:`geofupin.maps.overview.SCORE_COLORS` (tested).
SCORE_COLORS = ("#f7fcb9", "#addd8e", "#41ab5d", "#006837")

#: Most sites the comparison sheet takes side by side.
MAX_COMPARE = 4

_UNIT_ZH = {"m": "米", "min": "分钟", "°": "°", "deg": "°", "m2": "平方米", "share": "%", "persons": "人", "": ""}
_UNIT_DP = {"m": 1, "min": 1, "°": 2, "deg": 2, "m2": 0, "share": 1, "persons": 0, "": 2}
_METHOD_ZH = {"weighted_sum": "加权求和", "ahp": "层次分析法（AHP）权重 + 加权求和", "topsis": "TOPSIS 逼近理想解"}
#: Travel-time columns of the comparison, in reading order.
_ACCESS_KINDS = ("county_seat", "town", "school", "kindergarten", "clinic", "hospital", "industrial_park")
#: Cost rows: (column of ``plan_sites``/``budget_site``, Chinese label).
_COSTS = (
    ("road_cost_yuan", "plan_sites", "新建改建道路"),
    ("water_cost_yuan", "plan_sites", "供水工程"),
    ("power_cost_yuan", "plan_sites", "供电工程"),
    ("school_cost_yuan", "plan_sites", "学校（幼儿园）"),
    ("off_site_cost_yuan", "plan_sites", "场外配套小计"),
    ("in_site_cost_yuan", "plan_sites", "场内配套小计"),
    ("total_cost_yuan", "plan_sites", "配套工程合计（场外 + 场内）"),
    ("total_yuan", "budget_site", "搬迁补助资金合计"),
)


def _find(results: Mapping[str, StepResult], name: str, what: Literal["layers", "tables", "artifacts"]) -> Any:
    for res in results.values():
        got = getattr(res, what).get(name)
        if got is not None:
            return got
    return None


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _rounded(values: Sequence[Any] | np.ndarray | pd.Series, dp: int, scale: float = 1.0) -> list[float | None]:
    out: list[float | None] = []
    for x in list(values):
        v = _num(x)
        out.append(None if v is None else round(v * scale, dp))
    return out


def _f64(a: np.ndarray) -> str:
    """A float matrix as base64 of its little-endian float64 bytes (row-major): exact and compact."""
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f8").tobytes()).decode("ascii")


# --------------------------------------------------------------------------------------------- data
def _criteria_in_use(results: Mapping[str, StepResult], expl: pd.DataFrame) -> list[dict[str, Any]]:
    """The criteria the run scored, in the scenario's order, with their normalisation options."""
    art = _find(results, "siting", "artifacts")
    cfg = getattr(art, "criteria", None)
    crit_cfg = {c.name: c for c in getattr(cfg, "criteria", ())}
    weights = _find(results, "site_weights", "tables")
    criterion = expl["criterion"].astype(str).tolist()
    first_row: dict[str, int] = {}  # each criterion's first row of the explanation
    for i, name in enumerate(criterion):
        first_row.setdefault(name, i)
    present = list(first_row)
    if crit_cfg:
        names = [n for n in crit_cfg if n in present]
    elif weights is not None and "criterion" in weights.columns:
        names = [n for n in weights["criterion"].astype(str) if n in present]
    else:
        names = sorted(present)
    names += [n for n in present if n not in names]
    out = []
    for n in names:
        cat = CRITERIA.get(n, ("benefit", "", n, n, ""))
        row = expl.iloc[first_row[n]]
        c = crit_cfg.get(n)
        item: dict[str, Any] = {
            "key": n,
            "zh": str(row["label_zh"]) if "label_zh" in row and pd.notna(row["label_zh"]) else cat[2],
            "en": str(row["label_en"]) if "label_en" in row and pd.notna(row["label_en"]) else cat[3],
            "unit": _UNIT_ZH.get(cat[1], cat[1]),
            "dp": _UNIT_DP.get(cat[1], 2),
            "dir": str(row["direction"]) if "direction" in row else cat[0],
        }
        if c is None and weights is not None and {"criterion", "normalise"} <= set(weights.columns):
            norm = weights.loc[weights["criterion"].astype(str) == n, "normalise"]
            if len(norm) and str(norm.iloc[0]) != "minmax":  # its parameters are not in the tables
                item["norm"], item["opts_unknown"] = str(norm.iloc[0]), True
        if c is not None:
            item["norm"] = c.normalise
            if c.direction is not None:
                item["direction"] = c.direction
            for opt in ("threshold", "lower", "upper"):
                if getattr(c, opt) is not None:
                    item[opt] = float(getattr(c, opt))
        out.append(item)
    return out


def whatif_spec(
    layers: Layers | None, results: Mapping[str, StepResult], *, k: int | None = None
) -> dict[str, Any] | None:
    """The what-if data block: the passing sites' normalised criteria, weights, method, k.

    Parameters
    ----------
    layers
        The run's layers (unused today; the signature matches the other page builders).
    results
        Step results; needs the ``sites`` layer and the ``site_explanation`` table.
    k
        Size of the top list; default the sites the allocation opened, else
        ``sensitivity.top_k``, else 5 (at most the number of passing sites).

    Returns
    -------
    ``None`` when the run scored no site. Otherwise ``{'method', 'crit': [...], 'w',
    'pairwise', 'k', 'k_from', 'ids', 'names', 'tie', 'rank0', 'x'}`` where ``ids``/``names``
    are the passing sites in the sites layer's order, ``x`` the n x m normalised matrix
    (base64 float64, row-major), ``tie`` each site's position in ``site_id`` order (the
    run's tie rule) and ``rank0`` the run's ranks.
    """
    sites = _find(results, "sites", "layers")
    expl = _find(results, "site_explanation", "tables")
    if sites is None or expl is None or not len(expl) or "site_id" not in sites.columns:
        return None
    if not {"site_id", "criterion", "normalised", "weight"} <= set(expl.columns):
        return None
    crit = _criteria_in_use(results, expl)
    names = [c["key"] for c in crit]
    passed = sites["passed"].fillna(False).astype(bool).to_numpy() if "passed" in sites.columns else None
    if passed is None or not passed.any():
        return None
    e = expl.assign(site_id=expl["site_id"].astype(str), criterion=expl["criterion"].astype(str))
    ids = sites["site_id"].astype(str).to_numpy()[passed]
    piv = e.pivot_table(index="site_id", columns="criterion", values="normalised", aggfunc="first")
    piv = piv.reindex(index=ids, columns=names)
    if piv.isna().to_numpy().any():  # a passing site without its explanation rows: the table is not this run's
        log.warning("map: site_explanation does not cover every passing site; no what-if panel")
        return None
    x = piv.to_numpy(dtype=float)
    w_by = e.drop_duplicates("criterion").set_index("criterion")["weight"].astype(float)
    w = [float(w_by[n]) for n in names]
    site_res = results.get("site")
    summary = dict(site_res.summary) if site_res is not None else {}
    method = str(summary.get("method") or "weighted_sum")
    wt = _find(results, "site_weights", "tables")
    if "method" not in summary and wt is not None and "method" in wt.columns and len(wt):
        method = str(wt["method"].iloc[0])
    art = _find(results, "siting", "artifacts")
    cfg = getattr(art, "criteria", None)
    pairwise = getattr(cfg, "pairwise", None) if method == "ahp" else None
    order = np.argsort(ids.astype(str), kind="stable")
    tie = np.empty(len(ids), dtype=np.int64)
    tie[order] = np.arange(len(ids))
    rank0 = pd.to_numeric(sites["rank"], errors="coerce").to_numpy()[passed] if "rank" in sites.columns else None
    if rank0 is None or np.isnan(rank0).any():
        rank0 = np.argsort(np.argsort(-x @ np.asarray(w), kind="stable"), kind="stable") + 1.0
    k_from = "scenario"
    if k is None:
        opened = _num(_find_summary(results, "allocate").get("open_sites"))
        top_k = summary.get("monte_carlo", {}).get("top_k") if isinstance(summary.get("monte_carlo"), dict) else None
        if opened:
            k, k_from = int(opened), "open_sites"
        elif top_k:
            k, k_from = int(top_k), "top_k"
        else:
            k, k_from = 5, "default"
    k = max(1, min(int(k), len(ids)))
    spec: dict[str, Any] = {
        "method": method,
        "method_zh": _METHOD_ZH.get(method, method),
        "crit": crit,
        "w": w,
        "pairwise": [list(map(float, r)) for r in pairwise] if pairwise is not None else None,
        "cr": _num(summary.get("ahp", {}).get("cr")) if isinstance(summary.get("ahp"), dict) else None,
        "k": k,
        "k_from": k_from,
        "ids": ids.tolist(),
        "names": sites["name"].astype(str).to_numpy()[passed].tolist() if "name" in sites.columns else ids.tolist(),
        "tie": tie.tolist(),
        "rank0": [int(r) for r in rank0],
        "x": _f64(x),
        "colors": list(SCORE_COLORS),
        "max_compare": MAX_COMPARE,
    }
    return spec


def _find_summary(results: Mapping[str, StepResult], step: str) -> dict[str, Any]:
    res = results.get(step)
    return dict(res.summary) if res is not None else {}


def _by_site(
    table: pd.DataFrame | None,
    ids: list[str],
    column: str,
    indexed: dict[int, tuple[pd.DataFrame, np.ndarray]] | None = None,
) -> list[Any]:
    """``column`` of ``table`` for each site of ``ids`` (a site's first row; ``None`` where it has none).

    ``indexed``: the tables already indexed by site id (by ``id(table)``), filled as they come, so that
    several columns of one table index it once.
    """
    if table is None or "site_id" not in table.columns or column not in table.columns:
        return [None] * len(ids)
    got = None if indexed is None else indexed.get(id(table))
    if got is None:
        by_id = table.assign(site_id=table["site_id"].astype(str)).drop_duplicates("site_id").set_index("site_id")
        # each site's row position (-1: none), found once a table: the values are then taken, not looked up one by one
        got = (by_id, by_id.index.get_indexer(ids))
        if indexed is not None:
            indexed[id(table)] = got
    by_id, pos = got
    values = by_id[column].to_numpy(dtype=object)
    return [values[p] if p >= 0 else None for p in pos.tolist()]


def compare_spec(results: Mapping[str, StepResult]) -> dict[str, Any] | None:
    """The comparison sheet's data: every site (passing or not) with its rows in sections.

    Returns
    -------
    ``{'ids', 'names', 'sections': [{'zh', 'en', 'rows': [row]}]}`` where a row is
    ``{'zh', 'u' (unit), 'dp' (decimals), 'v' (one value per site, rounded, None unknown)}``
    plus, for a hard rule, ``'op'`` (``le``/``ge``), ``'thr'`` (per site) and ``'ok'``
    (per site 1/0/None); a criterion row has ``'n'`` (normalised score per site, None
    for sites that failed screening) and ``'w'`` (its weight); text rows have ``'t': 1``.
    ``None`` without a ``sites`` layer.
    """
    sites = _find(results, "sites", "layers")
    if sites is None or not len(sites) or "site_id" not in sites.columns:
        return None
    ids = sites["site_id"].astype(str).tolist()
    n = len(ids)
    col = sites.__getitem__
    indexed: dict[int, tuple[pd.DataFrame, np.ndarray]] = {}  # each table indexed by site id once (they live on)

    def values(c: str, dp: int, scale: float = 1.0) -> list[float | None]:
        return _rounded(col(c), dp, scale) if c in sites.columns else [None] * n

    def text(c: str, mapping: Mapping[str, str] | None = None) -> list[str | None]:
        if c not in sites.columns:
            return [None] * n
        return [None if pd.isna(v) else (mapping or {}).get(str(v), str(v)) for v in col(c)]

    passed = sites["passed"].fillna(False).astype(bool).tolist() if "passed" in sites.columns else [True] * n
    verdict = [
        "通过筛选" if ok else "未通过：" + (str(r) if isinstance(r, str) and r else "见下列规则")
        for ok, r in zip(passed, text("reasons_zh"), strict=True)
    ]
    basics = [
        {"zh": "编号", "t": 1, "v": ids},
        {"zh": "层级", "t": 1, "v": text("tier", TIER_ZH)},
        {"zh": "乡镇", "t": 1, "v": text("township")},
        {"zh": "筛选结论", "t": 1, "v": verdict, "ok": [1 if p else 0 for p in passed]},
        {"zh": "排名（本方案）", "u": "", "dp": 0, "v": values("rank", 0), "key": "rank"},
        {"zh": "综合得分（本方案）", "u": "", "dp": 4, "v": values("score", 4), "key": "score"},
    ]
    sections: list[dict[str, Any]] = [{"zh": "基本情况", "en": "overview", "rows": basics}]

    rules = _find(results, "site_rules", "tables")
    if rules is not None and len(rules) and {"site_id", "rule", "value", "threshold"} <= set(rules.columns):
        summ = _find(results, "site_rule_summary", "tables")
        labels: dict[str, str] = {}
        if summ is not None and {"rule", "label_zh"} <= set(summ.columns):
            labels = dict(zip(summ["rule"].astype(str), summ["label_zh"].astype(str), strict=True))
        r = rules.assign(site_id=rules["site_id"].astype(str), rule=rules["rule"].astype(str))
        # a rule's first row per site (as a per-rule drop_duplicates keeps), its rows in the order of ``ids``:
        # positions taken from one array per column, not a reindexed frame a rule
        r = r.drop_duplicates(["rule", "site_id"])
        cols = {c: r[c].to_numpy(dtype=object) for c in ("unit", "passed", "op", "value", "threshold") if c in r}
        codes, rule_names = pd.factorize(r["rule"])  # the rules in order of first appearance (groupby sort=False)
        site = r["site_id"].to_numpy(dtype=object)
        rows = []
        for k, rule in enumerate(rule_names):
            at = np.flatnonzero(codes == k)
            pos = pd.Index(site[at]).get_indexer(ids)

            def rule_column(c: str, at: np.ndarray = at, pos: np.ndarray = pos) -> list[Any]:
                v = cols[c][at]
                return [v[p] if p >= 0 else np.nan for p in pos.tolist()]

            def first(c: str, default: str) -> str:
                got = [v for v in rule_column(c) if not pd.isna(v)] if c in cols else []
                return str(got[0]) if got else default

            unit = first("unit", "")
            scale = 100.0 if unit == "share" else 1.0
            dp = _UNIT_DP.get(unit, 2)
            ok = (
                [None if pd.isna(p) else int(bool(p)) for p in rule_column("passed")]
                if "passed" in cols
                else [None] * n
            )
            rows.append(
                {
                    "zh": labels.get(str(rule), str(rule)),
                    "u": _UNIT_ZH.get(unit, unit),
                    "dp": dp,
                    "v": _rounded(rule_column("value"), dp, scale),
                    "thr": _rounded(rule_column("threshold"), dp, scale),
                    "op": first("op", "le"),
                    "ok": ok,
                    "rule": str(rule),
                }
            )
        sections.append({"zh": "硬性规则（数值 / 限值 / 结论）", "en": "hard rules", "rows": rows})

    expl = _find(results, "site_explanation", "tables")
    if expl is not None and len(expl) and {"site_id", "criterion", "normalised"} <= set(expl.columns):
        crit = _criteria_in_use(results, expl)
        e = expl.assign(site_id=expl["site_id"].astype(str), criterion=expl["criterion"].astype(str))
        norm = e.pivot_table(index="site_id", columns="criterion", values="normalised", aggfunc="first")
        wts = e.drop_duplicates("criterion").set_index("criterion")["weight"] if "weight" in e.columns else None
        rows = []
        for c in crit:
            key = c["key"]
            nv = norm[key].reindex(ids) if key in norm.columns else pd.Series(np.nan, index=ids)
            raw = sites[key] if key in sites.columns else pd.Series(np.nan, index=sites.index)
            rows.append(
                {
                    "zh": c["zh"],
                    "u": c["unit"],
                    "dp": c["dp"],
                    "v": _rounded(raw, c["dp"]),
                    "n": _rounded(nv, 4),
                    "w": None if wts is None else _num(wts.get(key)),
                    "key": f"crit_{key}",
                    "dir": "越大越好" if c["dir"] == "benefit" else "越小越好",
                }
            )
        sections.append({"zh": "评价准则（数值 · 归一化得分）", "en": "criteria", "rows": rows})

    load = _find(results, "site_load", "tables")
    cap: list[dict[str, Any]] = [
        {"zh": "用地面积", "u": "平方米", "dp": 0, "v": values("area_m2", 0), "mu": 1, "key": "area_m2"},
        {
            "zh": "可建设面积",
            "u": "平方米",
            "dp": 0,
            "v": values("buildable_area_m2", 0),
            "mu": 1,
            "key": "buildable_area_m2",
        },
        {
            "zh": "规划用地面积",
            "u": "平方米",
            "dp": 0,
            "v": values("planned_area_m2", 0),
            "mu": 1,
            "key": "planned_area_m2",
        },
        {"zh": "可容纳人数", "u": "人", "dp": 0, "v": values("capacity_persons", 0), "key": "capacity_persons"},
        {"zh": "可容纳户数", "u": "户", "dp": 0, "v": values("capacity_households", 0), "key": "capacity_households"},
    ]
    if load is not None:
        cap += [
            {
                "zh": "已安置人数",
                "u": "人",
                "dp": 0,
                "v": _rounded(_by_site(load, ids, "assigned_persons", indexed), 0),
            },
            {
                "zh": "已安置户数",
                "u": "户",
                "dp": 0,
                "v": _rounded(_by_site(load, ids, "assigned_households", indexed), 0),
            },
            {
                "zh": "容量利用率",
                "u": "%",
                "dp": 1,
                "v": _rounded(_by_site(load, ids, "occupancy_share", indexed), 1, 100.0),
            },
        ]
    sections.append(
        {"zh": "容量与安置", "en": "capacity", "rows": [r for r in cap if any(v is not None for v in r["v"])]}
    )

    acc = _find(results, "site_access", "layers")
    acc_rows = []
    for kind in _ACCESS_KINDS:
        tc = f"time_min_{kind}"
        src = acc if acc is not None and tc in acc.columns else sites if tc in sites.columns else None
        if src is None:
            continue
        vals = _rounded(_by_site(src, ids, tc, indexed), 1) if src is acc else values(tc, 1)
        if any(v is not None for v in vals):
            acc_rows.append({"zh": f"到{FACILITY_ZH[kind][0]}", "u": "分钟", "dp": 1, "v": vals, "key": f"access_{tc}"})
    if acc_rows:
        sections.append({"zh": "出行时间（路网）", "en": "travel times", "rows": acc_rows})

    cost_rows = []
    for column, table, zh in _COSTS:
        t = _find(results, table, "tables")
        vals = _rounded(_by_site(t, ids, column, indexed), 2, 1e-4)
        if any(v is not None for v in vals):
            cost_rows.append({"zh": zh, "u": "万元", "dp": 2, "v": vals, "key": column})
    if cost_rows:
        sections.append({"zh": "费用（仅开放的安置点）", "en": "costs", "rows": cost_rows})
    names = sites["name"].astype(str).tolist() if "name" in sites.columns else ids
    return {"ids": ids, "names": names, "sections": sections}


# --------------------------------------------------------------------------------------------- page
class PlannerTools(RawMacroElement):
    """The what-if panel and the comparison tray/sheet (``gfp.planner(map, spec)``), from one JSON block.

    Parameters
    ----------
    spec
        ``{'whatif': whatif_spec(...) or None, 'compare': compare_spec(...)}``.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        gfp.planner({{ this._parent.get_name() }}, gfp.data("{{ this.get_name() }}"));
        {% endmacro %}
        """
    )

    def __init__(self, spec: dict[str, Any]) -> None:
        super().__init__()
        self._name = "GfpPlanner"
        self.spec = spec

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]
        _add_runtime(self)
        figure = self.get_root()
        if isinstance(figure, Figure):
            figure.header.add_child(RawHtml(f"<style>{CSS}</style>"), name="gfp_planner_css")
            figure.header.add_child(RawHtml(f"<script>{JS}</script>"), name="gfp_planner_js")
            figure.html.add_child(json_block(self.get_name(), self.spec), name=f"{self.get_name()}_data")
        super().render(**kwargs)


def add_planner_tools(
    m: MacroElement, layers: Layers | None, results: Mapping[str, StepResult], *, config: MapConfig
) -> PlannerTools | None:
    """Add the what-if panel and the site comparison to a planner's page; nothing on a public page.

    Returns the element added, or ``None`` (public page, or no sites in the run).
    """
    if config.public:
        return None
    cmp = compare_spec(results)
    if cmp is None:
        return None
    tools = PlannerTools({"whatif": whatif_spec(layers, results), "compare": cmp})
    tools.add_to(m)
    return tools


CSS = """
.gfp-wi{max-width:340px;min-width:230px}.gfp-wi h4{margin:0}
.gfp-wi .gfp-body{margin-top:4px}
.gfp-wi .help{color:#555;font-size:11px;margin:2px 0 4px 0}
.gfp-wi .crit{display:grid;grid-template-columns:7.5em 1fr 3.4em;gap:0 4px;align-items:center}
.gfp-wi .crit input[type=range]{width:100%;margin:0}
.gfp-wi .crit .pct{text-align:right;font-variant-numeric:tabular-nums}
.gfp-wi .crit .lab{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.gfp-wi .row2{margin:4px 0;display:flex;gap:6px;align-items:center;flex-wrap:wrap}
.gfp-wi input[type=number]{width:4em}
.gfp-wi button,.gfp-tray button,.gfp-cmp-sheet button,.gfp-pop button.gfp-cmp-add{font:12px "Noto Sans CJK SC","Noto Sans SC",sans-serif;padding:1px 6px;cursor:pointer}
.gfp-wi .moves{margin:3px 0}.gfp-wi .moves .in{color:#1a6e1a}.gfp-wi .moves .out{color:#b2182b}
.gfp-wi table{border-collapse:collapse;width:100%}.gfp-wi td{padding:0 4px 0 0;vertical-align:top}
.gfp-wi td.r{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.gfp-wi .up{color:#1a6e1a}.gfp-wi .down{color:#b2182b}
.gfp-wi textarea{width:100%;height:9em;font:11px monospace;box-sizing:border-box}
.gfp-wi .msg{color:#08519c;font-size:11px}
.gfp-pop .gfp-wi-pop{margin-top:5px;padding-top:4px;border-top:1px solid #ddd}
.gfp-tray{max-width:340px}.gfp-tray .chip{display:inline-block;background:#eef3f7;border:1px solid #9ab;border-radius:9px;padding:0 6px;margin:2px 3px 2px 0}
.gfp-tray .chip button{border:none;background:none;padding:0 0 0 4px;color:#b2182b}
.gfp-tray .msg{color:#b2182b;font-size:11px}
.gfp-cmp-sheet{position:fixed;left:0;top:0;right:0;bottom:0;z-index:3000;background:#fff;overflow:auto;padding:14px 18px;
 font:13px/1.45 "Noto Sans CJK SC","Noto Sans SC",sans-serif;color:#111;page:gfpcmp}
.gfp-cmp-sheet h3{margin:0 0 4px 0;font-size:17px}.gfp-cmp-sheet .sub{color:#555;font-size:12px;margin-bottom:6px}
.gfp-cmp-sheet .bar{margin:0 0 8px 0;display:flex;gap:8px}
.gfp-cmp-sheet table{border-collapse:collapse;width:100%;table-layout:fixed}.gfp-cmp-sheet thead th:first-child{width:13em}
.gfp-cmp-sheet th,.gfp-cmp-sheet td{border:1px solid #bbb;padding:2px 6px;vertical-align:top}
.gfp-cmp-sheet thead th{background:#f4f4f4}.gfp-cmp-sheet td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
.gfp-cmp-sheet tr.sec th{background:#e8eff5;text-align:left}.gfp-cmp-sheet td{overflow-wrap:anywhere}
.gfp-cmp-sheet .ok{color:#006837}.gfp-cmp-sheet .no{color:#b2182b;font-weight:bold}.gfp-cmp-sheet .small{color:#555;font-size:11px}
@page gfpcmp{size:A4 landscape;margin:10mm}
@media print{
 body.gfp-cmp-open>*:not(.gfp-cmp-sheet){display:none!important}
 body.gfp-cmp-open .gfp-cmp-sheet{position:static;overflow:visible;padding:0}
 .gfp-cmp-sheet .gfp-noprint{display:none!important}
 .gfp-cmp-sheet tr{break-inside:avoid}.gfp-cmp-sheet thead{display:table-header-group}
}
@media (max-width:600px){.gfp-wi{max-width:86vw;min-width:0}.gfp-wi .crit{grid-template-columns:6em 1fr 3.2em}.gfp-cmp-sheet{padding:8px;font-size:12px}}
"""

JS = r"""
(function() {
var gfp = window.gfp;
// every layer gfp draws is remembered with its spec, so the planner finds the site polygons and labels
var drawn = [];
var baseLayer = gfp.layer;
gfp.layer = function(map, spec) {
  var g = baseLayer.apply(this, arguments);
  drawn.push({map: map, spec: spec, group: g});
  return g;
};
// a site's popup gets the what-if rank and the compare button (spec._gfpPlanner is set by gfp.planner)
var basePopup = gfp.popup;
gfp.popup = function(spec, i) {
  var box = basePopup.apply(this, arguments);
  if (spec && spec._gfpPlanner) { spec._gfpPlanner(box, i); }
  return box;
};
function f64(b64) {
  var bin = atob(b64), buf = new ArrayBuffer(bin.length), u8 = new Uint8Array(buf), i;
  for (i = 0; i < bin.length; i++) { u8[i] = bin.charCodeAt(i); }
  var dv = new DataView(buf), out = new Float64Array(bin.length / 8);
  for (i = 0; i < out.length; i++) { out[i] = dv.getFloat64(8 * i, true); }
  return out;
}
function num(v, dp) {
  if (v === null || v === undefined) { return '—'; }
  return v.toLocaleString('zh-CN', {minimumFractionDigits: dp, maximumFractionDigits: dp});
}
// ------------------------------------------------------------------ the scoring engine (same formulas as geofupin.siting.scoring)
function Engine(spec) {
  this.n = spec.ids.length; this.m = spec.crit.length;
  this.x = f64(spec.x);                       // n x m normalised criteria, row-major
  this.w0 = Float64Array.from(spec.w);        // the run's weights
  this.tie = Int32Array.from(spec.tie);       // position in site_id order: equal scores rank by site_id
  this.s = new Float64Array(this.n);
  this.best = new Float64Array(this.m); this.worst = new Float64Array(this.m);
}
Engine.prototype.score = function(w, method) {
  var x = this.x, n = this.n, m = this.m, s = this.s, i, j, b, acc, v, d;
  if (method === 'topsis') {
    // closeness to the ideal over the weighted normalised matrix (all criteria are benefits once normalised)
    var best = this.best.fill(-Infinity), worst = this.worst.fill(Infinity);
    for (i = 0; i < n; i++) { b = i * m; for (j = 0; j < m; j++) { v = x[b + j] * w[j]; if (v > best[j]) { best[j] = v; } if (v < worst[j]) { worst[j] = v; } } }
    for (i = 0; i < n; i++) {
      b = i * m; var dp = 0, dm = 0;
      for (j = 0; j < m; j++) { v = x[b + j] * w[j]; d = v - best[j]; dp += d * d; d = v - worst[j]; dm += d * d; }
      dp = Math.sqrt(dp); dm = Math.sqrt(dm); acc = dp + dm;
      s[i] = acc > 0 ? dm / acc : 0.5;
    }
  } else {
    // weighted sum: scores @ weights
    for (i = 0; i < n; i++) { b = i * m; acc = 0; for (j = 0; j < m; j++) { acc += x[b + j] * w[j]; } s[i] = acc; }
  }
  return s;
};
Engine.prototype.better = function(a, b) {
  var s = this.s; return s[a] > s[b] || (s[a] === s[b] && this.tie[a] < this.tie[b]);
};
Engine.prototype.topk = function(k) {
  // partial sort: keep the k best in order (binary insertion), O(n log k) plus the few shifts
  var top = new Int32Array(k), c = 0, i, lo, hi, mid, q;
  for (i = 0; i < this.n; i++) {
    if (c === k && !this.better(i, top[k - 1])) { continue; }
    lo = 0; hi = c;
    while (lo < hi) { mid = (lo + hi) >> 1; if (this.better(i, top[mid])) { hi = mid; } else { lo = mid + 1; } }
    for (q = (c < k ? c : k - 1); q > lo; q--) { top[q] = top[q - 1]; }
    top[lo] = i; if (c < k) { c++; }
  }
  return top.subarray(0, c);
};
Engine.prototype.ranks = function() {
  // every site's rank 1..n (score descending, ties by site_id), as geofupin.siting.scoring.rank_scores
  var n = this.n, s = this.s, tie = this.tie, order = new Int32Array(n), rank = new Int32Array(n), i;
  for (i = 0; i < n; i++) { order[i] = i; }
  order.sort(function(a, b) { return s[a] > s[b] ? -1 : s[a] < s[b] ? 1 : tie[a] - tie[b]; });
  for (i = 0; i < n; i++) { rank[order[i]] = i + 1; }
  return rank;
};
gfp.WhatifEngine = Engine;
// ------------------------------------------------------------------ colours (as geofupin.maps.data.ramp)
function ramp(s, colors) {
  var lo = Infinity, hi = -Infinity, i, out = new Array(s.length);
  for (i = 0; i < s.length; i++) { if (s[i] < lo) { lo = s[i]; } if (s[i] > hi) { hi = s[i]; } }
  var rgb = colors.map(function(c) { return [1, 3, 5].map(function(k) { return parseInt(c.substr(k, 2), 16); }); });
  for (i = 0; i < s.length; i++) {
    var t = hi > lo ? (s[i] - lo) / (hi - lo) : 0.5, pos = t * (colors.length - 1);
    var i0 = Math.min(Math.max(Math.floor(pos), 0), colors.length - 2), f = pos - i0, hex = '#';
    for (var c = 0; c < 3; c++) { var v = Math.round(rgb[i0][c] * (1 - f) + rgb[i0 + 1][c] * f); hex += (v < 16 ? '0' : '') + v.toString(16); }
    out[i] = hex;
  }
  return out;
}
function yamlNum(x) {
  var t = String(x);
  if (t.indexOf('e') >= 0 && t.indexOf('.') < 0) { t = t.replace('e', '.0e'); }  // YAML 1.1 floats need a dot
  return t;
}
function plain(t) { return String(t).replace(/[\u0000-\u001f\u007f\u0085\u2028\u2029]/g, ' '); }  // one comment line
// ------------------------------------------------------------------ the planner's tools
gfp.planner = function(map, spec) {
  var P = {map: map, spec: spec, picks: []};
  gfp.plannerState = P;
  var cmp = spec.compare;
  // the site polygons and their rank labels
  var site = null;
  drawn.forEach(function(d) {
    if (!site && d.map === map && d.spec.kind === 'polygons' && d.spec.props && d.spec.props.site_id) { site = d; }
  });
  P.site = site;
  var feat = {}, tips = {};
  if (site) {
    var sp = site.spec, ids = sp.props.site_id, byPos = {};
    ids.forEach(function(id, i) { feat[String(id)] = {i: i}; });
    if (sp.label_at) { sp.label_at.forEach(function(ll, i) { var k = L.latLng(ll).toString(); (byPos[k] = byPos[k] || []).push(i); }); }
    site.group.eachLayer(function(l) {
      if (l._gfp !== undefined) { feat[String(ids[l._gfp])].poly = l; feat[String(ids[l._gfp])].style0 = gfp.style(sp, l._gfp); }
      else if (l instanceof L.Tooltip && sp.label_at) {
        var q = byPos[l.getLatLng().toString()];
        if (q && q.length) { tips[String(ids[q.shift()])] = l; }
      }
    });
  }
  P.feat = feat; P.tips = tips;
  if (spec.whatif) { whatifPanel(P, spec.whatif); }
  if (cmp) { compareTools(P, cmp); }
  if (site) {
    site.spec._gfpPlanner = function(box, i) { decorate(P, box, String(site.spec.props.site_id[i])); };
  }
  return P;
};
function decorate(P, box, id) {
  var d = gfp.el('div', null, 'gfp-wi-pop'), W = P.W;
  if (W && W.pos[id] !== undefined) {
    var j = W.pos[id], r0 = W.spec.rank0[j];
    if (W.active()) {
      d.appendChild(gfp.el('div', '假设权重：排名第 ' + W.rank()[j] + '（本方案第 ' + r0 + '），得分 ' + W.eng.s[j].toFixed(3)));
    }
  }
  if (P.cmpIndex && P.cmpIndex[id] !== undefined) {
    var on = P.picks.indexOf(id) >= 0;
    var b = gfp.el('button', on ? '移出比较 / remove' : '加入比较 / compare', 'gfp-cmp-add');
    b.type = 'button';
    b.addEventListener('click', function() { P.toggle(id); b.textContent = P.picks.indexOf(id) >= 0 ? '移出比较 / remove' : '加入比较 / compare'; });
    d.appendChild(b);
  }
  if (d.childNodes.length) { box.appendChild(d); }
}
function whatifPanel(P, S) {
  var E = new Engine(S), n = E.n, m = E.m, j;
  var W = {spec: S, eng: E, v: new Float64Array(m), method: S.method === 'topsis' ? 'topsis' : 'weighted_sum',
    touched: false, k: S.k, pos: {}, top0: null, last: null, rk: null};
  P.W = W;
  S.ids.forEach(function(id, i) { W.pos[String(id)] = i; });
  var base = S.method === 'topsis' ? 'topsis' : 'weighted_sum';
  W.active = function() { return W.touched || W.method !== base; };
  W.weights = function() {
    if (!W.touched) { return Float64Array.from(E.w0); }  // the run's weights exactly
    var t = 0, w = new Float64Array(m);
    for (j = 0; j < m; j++) { t += W.v[j]; }
    for (j = 0; j < m; j++) { w[j] = t > 0 ? W.v[j] / t : 1 / m; }
    return w;
  };
  W.rank = function() { if (!W.rk) { W.rk = E.ranks(); } return W.rk; };
  // the run's own top k, once
  var rank0 = Int32Array.from(S.rank0);
  W.baseTop = function(k) { var out = []; for (var i = 0; i < n; i++) { if (rank0[i] <= k) { out.push(i); } } return out; };
  W.rerank = function() {
    // the measured step: scores O(n m), the top k by partial sort, who enters and who leaves
    var w = W.weights();
    E.score(w, W.method); W.rk = null;
    var top = E.topk(W.k), inTop = new Uint8Array(n), i, enter = [], leave = [];
    for (i = 0; i < top.length; i++) { inTop[top[i]] = 1; if (rank0[top[i]] > W.k) { enter.push(top[i]); } }
    for (i = 0; i < n; i++) { if (rank0[i] <= W.k && !inTop[i]) { leave.push(i); } }
    W.last = {w: w, top: top, enter: enter, leave: leave};
    return W.last;
  };
  // ---- the panel
  gfp.box(P.map, 'bottomleft', function(d) {
    var h = gfp.el('h4', '权重假设分析 ');
    h.appendChild(gfp.el('span', 'What-if weights', 'en'));
    d.appendChild(h);
    var body = gfp.fold(h, d, true);
    W.body = body;
    var how = S.method === 'ahp'
      ? '本方案权重由层次分析法判断矩阵导出' + (S.cr !== null && S.cr !== undefined ? '（CR = ' + S.cr.toFixed(3) + '）' : '') + '；滑块直接调整导出的权重，不改判断矩阵。'
      : '本方案方法：' + S.method_zh + '。';
    body.appendChild(gfp.el('div', how + '滑块表示各准则的相对重要性，权重 = 滑块值 ÷ 合计。按页面所载归一化准则值重新计算得分和排名（筛选与归一化不变），与重新运行结果一致。', 'help'));
    var r = gfp.el('div', null, 'row2');
    r.appendChild(gfp.el('span', '计算方法'));
    var sel = gfp.el('select'); sel.className = 'method';
    [['weighted_sum', S.method === 'ahp' ? '加权求和（AHP 权重）' : '加权求和'], ['topsis', 'TOPSIS 逼近理想解']].forEach(function(o) {
      var op = gfp.el('option', o[1]); op.value = o[0]; sel.appendChild(op);
    });
    sel.value = W.method;
    r.appendChild(sel);
    r.appendChild(gfp.el('span', '前 k 名 k ='));
    var kin = gfp.el('input'); kin.type = 'number'; kin.min = '1'; kin.max = String(n); kin.step = '1'; kin.value = String(W.k); kin.className = 'k';
    kin.title = {open_sites: 'k = 本方案开放的安置点数', top_k: 'k = sensitivity.top_k'}[S.k_from] || '';
    r.appendChild(kin);
    body.appendChild(r);
    var grid = gfp.el('div', null, 'crit'), sliders = [], pcts = [];
    S.crit.forEach(function(c, jj) {
      var lab = gfp.el('span', c.zh, 'lab'); lab.title = c.zh + ' ' + c.en + '（' + (c.dir === 'benefit' ? '越大越好' : '越小越好') + '）';
      var sl = gfp.el('input'); sl.type = 'range'; sl.min = '0'; sl.max = '100'; sl.step = '0.1';
      sl.value = String(E.w0[jj] * 100); sl.dataset.key = c.key; sl.setAttribute('aria-label', c.zh);
      var pc = gfp.el('span', '', 'pct');
      sl.addEventListener('input', function() { W.v[jj] = +sl.value; W.touched = true; W.update(); });
      grid.appendChild(lab); grid.appendChild(sl); grid.appendChild(pc); sliders.push(sl); pcts.push(pc);
    });
    body.appendChild(grid);
    var moves = gfp.el('div', null, 'moves'), list = gfp.el('table', null, 'top');
    body.appendChild(moves); body.appendChild(list);
    var bar = gfp.el('div', null, 'row2');
    var reset = gfp.el('button', '重置 reset'), copy = gfp.el('button', '复制 YAML'), dl = gfp.el('button', '下载 YAML');
    [reset, copy, dl].forEach(function(b) { b.type = 'button'; bar.appendChild(b); });
    reset.className = 'reset'; copy.className = 'copy'; dl.className = 'download';
    body.appendChild(bar);
    var msg = gfp.el('div', null, 'msg'), ta = gfp.el('textarea');
    ta.readOnly = true; ta.style.display = 'none';
    body.appendChild(msg); body.appendChild(ta);
    W.sliders = sliders; W.textarea = ta;
    W.setAll = function() {
      for (var q = 0; q < m; q++) { W.v[q] = E.w0[q] * 100; sliders[q].value = String(W.v[q]); }
    };
    W.setAll();
    sel.addEventListener('change', function() { W.method = sel.value; W.update(); });
    kin.addEventListener('input', function() { var k = Math.round(+kin.value); if (k >= 1 && k <= n) { W.k = k; W.update(); } });
    reset.addEventListener('click', function() {
      W.touched = false; W.method = base; sel.value = base; W.k = S.k; kin.value = String(S.k); W.setAll(); W.update();
      msg.textContent = '已恢复本方案权重 / reset to the scenario'; ta.style.display = 'none';
    });
    copy.addEventListener('click', function() {
      var text = W.yaml(); ta.value = text; ta.style.display = '';
      var done = function() { msg.textContent = '已复制到剪贴板 / copied'; };
      var fallback = function() { ta.select(); try { document.execCommand('copy'); done(); } catch (e) { msg.textContent = '请手动复制下框内容 / copy the text below'; } };
      if (navigator.clipboard && navigator.clipboard.writeText) { navigator.clipboard.writeText(text).then(done, fallback); } else { fallback(); }
    });
    dl.addEventListener('click', function() {
      var text = W.yaml(), a = gfp.el('a');
      a.href = URL.createObjectURL(new Blob([text], {type: 'text/yaml;charset=utf-8'}));
      a.download = 'whatif-weights.yaml'; document.body.appendChild(a); a.click();
      setTimeout(function() { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
      msg.textContent = '已下载 whatif-weights.yaml / downloaded';
    });
    W.show = function() {
      // the panel: weights in use, who enters and leaves the top k, the top list with rank changes
      var L_ = W.last, w = L_.w, q;
      for (q = 0; q < m; q++) { pcts[q].textContent = (w[q] * 100).toFixed(1) + '%'; }
      moves.textContent = '';
      var head = W.active() ? '前 ' + W.k + ' 名（假设权重）与本方案相比：' : '前 ' + W.k + ' 名（本方案权重）';
      moves.appendChild(gfp.el('div', head));
      if (W.active()) {
        var ein = gfp.el('div', '新进入 ' + L_.enter.length + ' 个：' + (L_.enter.map(function(i) { return S.names[i]; }).join('、') || '无'), 'in');
        var eout = gfp.el('div', '退出 ' + L_.leave.length + ' 个：' + (L_.leave.map(function(i) { return S.names[i]; }).join('、') || '无'), 'out');
        ein.className = 'in'; eout.className = 'out'; moves.appendChild(ein); moves.appendChild(eout);
      }
      list.textContent = '';
      var shown = Math.min(L_.top.length, 30);
      for (q = 0; q < shown; q++) {
        var i = L_.top[q], tr = gfp.el('tr'), d0 = rank0[i] - (q + 1);
        tr.appendChild(gfp.el('td', String(q + 1) + '.', 'r'));
        tr.appendChild(gfp.el('td', S.names[i]));
        tr.appendChild(gfp.el('td', E.s[i].toFixed(3), 'r'));
        tr.appendChild(gfp.el('td', d0 > 0 ? '↑' + d0 : d0 < 0 ? '↓' + (-d0) : '', d0 > 0 ? 'r up' : 'r down'));
        tr.dataset.site = S.ids[i];
        list.appendChild(tr);
      }
      if (L_.top.length > shown) { list.appendChild(gfp.el('tr')).appendChild(gfp.el('td', '… 共 ' + L_.top.length + ' 个')); }
    };
  }, 'gfp-wi');
  W.paint = function() {
    // the map: fill by the new score, top-k outlined, rank labels rewritten and decluttered again
    W.pending = false;
    if (!P.site) { return; }
    var rk = W.rank(), act = W.active(), cols = ramp(E.s, S.colors), inTop = {}, i;
    if (W.last) { for (i = 0; i < W.last.top.length; i++) { inTop[W.last.top[i]] = 1; } }
    var leave = {}; if (W.last) { W.last.leave.forEach(function(i) { leave[i] = 1; }); }
    var prio = new Map();
    for (i = 0; i < n; i++) {
      var f = P.feat[String(S.ids[i])];
      if (!f) { continue; }
      if (f.poly) {
        if (!act) { if (f.restyled) { f.poly.setStyle(f.style0); f.restyled = false; } }
        else {
          f.poly.setStyle({fillColor: cols[i], color: inTop[i] ? '#08519c' : leave[i] ? '#d6604d' : f.style0.color,
            weight: inTop[i] ? 3.5 : leave[i] ? 3 : f.style0.weight, dashArray: leave[i] ? '5 4' : f.style0.dashArray || ''});
          f.restyled = true;
        }
      }
      var t = P.tips[String(S.ids[i])];
      if (t) {
        // the label's own text node is rewritten (no Leaflet re-layout per label: that is quadratic in labels)
        var r = act ? rk[i] : S.rank0[i], c = t.getContent(), txt = String(r);
        if (c && c.nodeType === 1) { if (c.textContent !== txt) { c.textContent = txt; } } else { t.setContent(gfp.el('span', txt)); }
        prio.set(t, r);
      }
    }
    var labels = P.map._gfpLabels || [];
    labels.forEach(function(l) { if (prio.has(l.tip)) { l.prio = prio.get(l.tip); } });
    // the labels are decluttered again once the slider rests (measuring every label is the slow part of a repaint)
    if (labels.length && gfp.declutter) {
      clearTimeout(W.settle);
      W.settle = setTimeout(function() { gfp.declutter(P.map); }, 150);
    }
  };
  W.update = function() {
    W.rerank(); W.show();
    if (!W.pending) { W.pending = true; requestAnimationFrame(W.paint); }
  };
  W.yaml = function() {
    var w = W.weights(), out = [], when = new Date().toISOString().slice(0, 10), q;
    out.push('# 权重假设分析导出（geofupin 规划图，' + when + '）/ what-if weights exported from the planner\'s map');
    out.push('# 本方案：' + S.method_zh + '；前 ' + W.k + ' 名' + (W.active()
      ? '新进入：' + (W.last.enter.map(function(i) { return plain(S.ids[i]); }).join('、') || '无') + '；退出：' + (W.last.leave.map(function(i) { return plain(S.ids[i]); }).join('、') || '无')
      : '不变（本方案权重）'));
    out.push('siting:');
    var ahpAsIs = S.method === 'ahp' && !W.touched && W.method === 'weighted_sum' && S.pairwise;
    if (ahpAsIs) {
      out.push('  method: ahp');
    } else {
      if (S.method === 'ahp') { out.push('  # 原为层次分析法（判断矩阵）；此处改用调整后的权重 / AHP weights adjusted, exported as explicit weights'); }
      out.push('  method: ' + W.method);
    }
    out.push('  criteria_replace: true   # 只用以下准则（与本次运行相同）/ exactly these criteria');
    out.push('  criteria:');
    S.crit.forEach(function(c, jj) {
      var parts = ['name: ' + c.key];
      if (!ahpAsIs) { parts.push('weight: ' + yamlNum(w[jj])); }
      if (c.direction) { parts.push('direction: ' + c.direction); }
      if (c.norm && c.norm !== 'minmax') { parts.push('normalise: ' + c.norm); }
      ['threshold', 'lower', 'upper'].forEach(function(o) { if (c[o] !== undefined) { parts.push(o + ': ' + yamlNum(c[o])); } });
      out.push('    - {' + parts.join(', ') + '}   # ' + plain(c.zh) + (c.opts_unknown ? '；归一化参数未随页面提供，请从原方案复制 / copy its parameters from the scenario' : ''));
    });
    if (ahpAsIs) {
      out.push('  pairwise:');
      S.pairwise.forEach(function(row) { out.push('    - [' + row.map(yamlNum).join(', ') + ']'); });
    }
    return out.join('\n') + '\n';
  };
  W.update();
}
// ------------------------------------------------------------------ the comparison tray and sheet
function compareTools(P, C) {
  var idx = {};
  C.ids.forEach(function(id, i) { idx[String(id)] = i; });
  P.cmpIndex = idx;
  var max = (P.spec.whatif && P.spec.whatif.max_compare) || 4;
  var tray = gfp.box(P.map, 'bottomleft', function(d) {
    var h = gfp.el('h4', '安置点比较 '); h.appendChild(gfp.el('span', 'Compare sites', 'en')); d.appendChild(h);
    var chips = gfp.el('div', null, 'chips'), msg = gfp.el('div', null, 'msg'), bar = gfp.el('div', null, 'row2');
    var open = gfp.el('button', '并排比较 / compare'), clear = gfp.el('button', '清空 clear');
    open.type = 'button'; clear.type = 'button'; open.className = 'open'; clear.className = 'clear';
    bar.appendChild(open); bar.appendChild(clear);
    d.appendChild(chips); d.appendChild(msg); d.appendChild(bar);
    P.tray = {box: d, chips: chips, msg: msg, open: open};
    open.addEventListener('click', function() { P.sheet(); });
    clear.addEventListener('click', function() { P.picks = []; P.drawTray(); });
  }, 'gfp-tray');
  P.drawTray = function() {
    var t = P.tray; t.chips.textContent = '';
    P.picks.forEach(function(id) {
      var c = gfp.el('span', C.names[idx[id]], 'chip'), x = gfp.el('button', '✕');
      x.type = 'button'; x.title = '移出 remove';
      x.addEventListener('click', function() { P.toggle(id); });
      c.appendChild(x); t.chips.appendChild(c);
    });
    t.open.disabled = P.picks.length < 2;
    t.open.textContent = '并排比较 ' + P.picks.length + ' 个 / compare';
    t.box.style.display = P.picks.length ? '' : 'none';
  };
  P.toggle = function(id) {
    var at = P.picks.indexOf(id);
    P.tray.msg.textContent = '';
    if (at >= 0) { P.picks.splice(at, 1); }
    else if (P.picks.length >= max) { P.tray.msg.textContent = '最多比较 ' + max + ' 个安置点 / at most ' + max; }
    else { P.picks.push(id); }
    P.drawTray();
  };
  P.drawTray();
  P.trayControl = tray;
  P.sheet = function() {
    if (P.picks.length < 2) { return null; }
    var old = document.querySelector('.gfp-cmp-sheet'); if (old) { old.remove(); }
    var sh = gfp.el('div', null, 'gfp-cmp-sheet'), cols = P.picks.map(function(id) { return idx[id]; });
    sh.setAttribute('role', 'dialog');
    var bar = gfp.el('div', null, 'bar gfp-noprint'), pr = gfp.el('button', '打印 print'), cl = gfp.el('button', '关闭 close');
    pr.type = 'button'; cl.type = 'button'; pr.className = 'print'; cl.className = 'close';
    bar.appendChild(pr); bar.appendChild(cl); sh.appendChild(bar);
    sh.appendChild(gfp.el('h3', '安置点比较表'));
    var W = P.W, act = W && W.active();
    sh.appendChild(gfp.el('div', '共 ' + cols.length + ' 个安置点；规则一栏为“数值 / 限值”，✔ 符合、✘ 不符合；准则一栏为“数值 · 归一化得分（0–1，1 最好）”；费用为万元。' + (act ? '表中另列假设权重下的排名与得分。' : ''), 'sub'));
    var tb = gfp.el('table'), th = gfp.el('thead'), tr = gfp.el('tr');
    tr.appendChild(gfp.el('th', '项目'));
    cols.forEach(function(c) { tr.appendChild(gfp.el('th', C.names[c])); });
    th.appendChild(tr); tb.appendChild(th);
    var body = gfp.el('tbody');
    C.sections.forEach(function(sec) {
      if (!sec.rows.length) { return; }
      var sr = gfp.el('tr', null, 'sec'), sth = gfp.el('th', sec.zh); sth.colSpan = cols.length + 1; sr.appendChild(sth); body.appendChild(sr);
      sec.rows.forEach(function(r) {
        var row = gfp.el('tr');
        var k = gfp.el('td', r.zh + (r.u && !r.t ? '（' + r.u + '）' : ''), 'k');
        if (r.w !== undefined && r.w !== null) { k.appendChild(gfp.el('div', '权重 ' + (r.w * 100).toFixed(1) + '%，' + r.dir, 'small')); }
        row.appendChild(k);
        if (r.rule) { row.dataset.rule = r.rule; }
        if (r.key) { row.dataset.key = r.key; }
        cols.forEach(function(c) {
          var td;
          if (r.t) {
            td = gfp.el('td', r.v[c] === null ? '—' : r.v[c]);
            if (r.ok) { td.className = r.ok[c] ? 'ok' : 'no'; }
          } else if (r.thr) {
            var okc = r.ok[c];
            td = gfp.el('td', num(r.v[c], r.dp) + ' / ' + (r.op === 'ge' ? '≥ ' : '≤ ') + num(r.thr[c], r.dp) + ' ', 'num');
            td.appendChild(gfp.el('span', okc === null ? '？' : okc ? '✔' : '✘', okc ? 'ok' : 'no'));
          } else if (r.n) {
            td = gfp.el('td', num(r.v[c], r.dp) + ' · ' + (r.n[c] === null ? '未评分' : r.n[c].toFixed(4)), 'num');
          } else {
            var t = num(r.v[c], r.dp);
            if (r.mu && r.v[c] !== null) { t += '（' + (r.v[c] * 0.0015).toFixed(1) + ' 亩）'; }
            td = gfp.el('td', t, 'num');
          }
          td.dataset.site = C.ids[c];
          row.appendChild(td);
        });
        body.appendChild(row);
      });
    });
    if (act) {
      var ar = gfp.el('tr'), rk = W.rank();
      ar.appendChild(gfp.el('td', '假设权重下排名 · 得分', 'k')); ar.dataset.key = 'whatif';
      cols.forEach(function(c) {
        var j = W.pos[C.ids[c]];
        var td = ar.appendChild(gfp.el('td', j === undefined ? '—' : rk[j] + ' · ' + W.eng.s[j].toFixed(4), 'num'));
        td.dataset.site = C.ids[c];
      });
      body.insertBefore(ar, body.children[7] || null);
    }
    tb.appendChild(body); sh.appendChild(tb);
    document.body.appendChild(sh); document.body.classList.add('gfp-cmp-open');
    pr.addEventListener('click', function() { window.print(); });
    var close = function() { sh.remove(); document.body.classList.remove('gfp-cmp-open'); document.removeEventListener('keydown', esc); };
    var esc = function(ev) { if (ev.key === 'Escape') { close(); } };
    cl.addEventListener('click', close);
    document.addEventListener('keydown', esc);
    return sh;
  };
}
})();
"""
