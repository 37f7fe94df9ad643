"""Allocation flows village -> site (width by households) and site load against capacity."""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..context import Layers, StepResult
from ..vocabulary import PLACEMENT_MODE_ZH
from . import data as D
from .page import Page, find
from .sites import site_names
from .villages import public_villages

#: Colour and glyph of the non-central destinations (敬老院 for 集中供养, 周转房).
DESTINATION_STYLE: dict[str, tuple[str, str]] = {"nursing_home": ("#6a3d9a", "老"), "transitional": ("#b15928", "周")}


def _allocation(p: Page, layers: Layers, results: Mapping[str, StepResult]) -> None:
    flows = find(results, "allocation_flows", "layers")
    if flows is None or not len(flows):
        return
    f = flows.copy()
    if p.config.public and {"village_id", "site_id"} <= set(f.columns):
        pv, vid_map = public_villages(layers.villages)
        f["village_id"] = f["village_id"].astype(str).map(lambda x: vid_map.get(x, x))
        # each summed flow starts at the published village point and ends where its first piece ended
        start = dict(zip(pv["village_id"].astype(str), pv.geometry, strict=True)) if "village_id" in pv.columns else {}
        ends = shapely.get_point(f.geometry.values, -1)
        f = f.set_geometry(
            [
                shapely.LineString([start[vid].coords[0], e.coords[0]]) if vid in start and e is not None else g
                for vid, e, g in zip(f["village_id"], ends, f.geometry, strict=True)
            ]
        )
        num = [c for c in ("households", "persons") if c in f.columns]
        geo = f.groupby(["village_id", "site_id"], sort=True).geometry.first()
        agg = f.groupby(["village_id", "site_id"], sort=True)[num].sum()
        for c in ("time_min", "dist_m"):
            if c in f.columns:
                agg[c] = f.groupby(["village_id", "site_id"], sort=True)[c].mean()
        f = gpd.GeoDataFrame(agg.reset_index(), geometry=geo.to_numpy(), crs=flows.crs)
    d = p.display(f, simplify=False)
    names = site_names(layers, results)
    vsrc = public_villages(layers.villages)[0] if p.config.public else layers.villages
    vnames = (
        dict(zip(vsrc["village_id"].astype(str), vsrc["name"].astype(str), strict=True))
        if {"village_id", "name"} <= set(vsrc.columns)
        else {}
    )
    d = d.assign(
        _site=d["site_id"].astype(str).map(lambda s: names.get(s, s)) if "site_id" in d.columns else "",
        _village=d["village_id"].astype(str).map(lambda s: vnames.get(s, s)) if "village_id" in d.columns else "",
    )
    d["_title"] = d["_village"].astype(str) + " → " + d["_site"].astype(str)
    d["_mode"] = d["mode"].map(lambda m: PLACEMENT_MODE_ZH.get(str(m), "")) if "mode" in d.columns else ""
    hh = pd.to_numeric(d.get("households", pd.Series(1, index=d.index)), errors="coerce").fillna(0).clip(lower=0)
    hmax = float(hh.max()) or 1.0
    fields: list[D.Field] = [
        ("group", "村民小组", "group", ""),
        ("households", "户数", "households", "int"),
        ("persons", "人数", "persons", "int"),
        ("time_min", "行程时间（分钟）", "time_min", ""),
        ("dist_m", "距离（米）", "dist_m", "int"),
        ("_mode", "安置方式", "placement mode", ""),
    ]
    if p.config.public:
        fields = [x for x in fields if x[0] != "group"]
    spec = p.spec(
        d,
        kind="lines",
        fields=fields,
        title="_title",
        style={"color": "#e6550d", "opacity": 0.75, "lineCap": "round"},
        per={"weight": np.round(1.5 + 7 * np.sqrt(hh.to_numpy() / hmax), 2).tolist()},
    )
    p.add(spec, "搬迁去向 Allocation flows", group="relocation")
    p.section(
        "搬迁去向（线宽表示户数）",
        "Allocation (width = households)",
        [{"shape": "line", "color": "#e6550d", "width": 4, "zh": "村庄 → 安置点", "en": "village → site"}],
    )
    _destinations(p, results)
    load = find(results, "site_load", "tables")
    sites = find(results, "sites", "layers")
    if sites is None:
        sites = layers.candidates
    if load is None or sites is None or not len(load) or "site_id" not in sites.columns:
        return
    lt = load.copy()
    lt["site_id"] = lt["site_id"].astype(str)
    s = sites[["site_id", sites.geometry.name]].copy()
    s["site_id"] = s["site_id"].astype(str)
    s = s.merge(lt, on="site_id", how="inner")
    if not len(s):
        return
    s = s.set_geometry(s.representative_point())
    d2 = p.display(s, simplify=False)
    cap = pd.to_numeric(d2.get("capacity_persons"), errors="coerce")
    ap = pd.to_numeric(d2.get("assigned_persons"), errors="coerce").fillna(0)
    ratio = (ap / cap.where(cap > 0)).astype(float)
    d2["_load"] = ratio
    d2["_name"] = d2["site_id"].map(lambda x: names.get(x, x))
    color = np.where(ratio > 1.0, "#cb181d", np.where(ratio >= 0.9, "#fd8d3c", "#31a354")).tolist()
    cmax = float(cap.max()) if cap.notna().any() else 1.0
    spec = p.spec(
        d2,
        kind="points",
        fields=[
            ("site_id", "编号", "site id", ""),
            ("capacity_persons", "容量（人）", "capacity_persons", "int"),
            ("assigned_persons", "已安置（人）", "assigned_persons", "int"),
            ("assigned_households", "已安置（户）", "assigned_households", "int"),
            ("_load", "容量利用率", "load / capacity", "pct"),
        ],
        title="_name",
        style={"weight": 2, "fillOpacity": 0.55},
        per={
            "radius": np.round(6 + 16 * np.sqrt(cap.fillna(0).to_numpy() / (cmax or 1.0)), 1).tolist(),
            "color": color,
            "fillColor": color,
        },
    )
    if p.verdicts:
        got = [p.verdicts.get(str(x)) for x in d2["site_id"]]
        spec["props"]["_verdict"] = [g[0] if g else None for g in got]
        spec["props"]["_why"] = [g[1] if g else [] for g in got]
        spec["props"]["_passed"] = [g[2] if g else False for g in got]
        spec["lead"], spec["fold"] = ["_verdict", "_why", "_passed"], True
    p.add(spec, "安置点容量 Site load", group="relocation")
    p.section(
        "安置点容量利用",
        "Site load vs capacity",
        [
            {"shape": "circle", "color": "#31a354", "zh": "低于 90%", "en": "< 90%"},
            {"shape": "circle", "color": "#fd8d3c", "zh": "90%–100%", "en": "90–100%"},
            {"shape": "circle", "color": "#cb181d", "zh": "超出容量", "en": "over capacity"},
        ],
    )


def _destinations(p: Page, results: Mapping[str, StepResult]) -> None:
    """The nursing homes (集中供养) and transitional housing (周转房) that receive households: a distinct point
    each, its popup naming the placement mode. Left out of the public map (a home's few 五保户 are persons)."""
    dests = find(results, "placement_destinations", "layers")
    if p.config.public or dests is None or not len(dests):
        return
    d = p.display(dests.copy(), simplify=False)
    mode = d["mode"].astype(str)
    color = [DESTINATION_STYLE.get(m, ("#555555", ""))[0] for m in mode]
    spec = p.spec(
        d,
        kind="points",
        fields=[
            ("mode_zh", "安置方式", "placement mode", ""),
            ("households", "已安置（户）", "households placed", "int"),
            ("persons", "已安置（人）", "persons placed", "int"),
            ("capacity_households", "容量（户/床）", "capacity (households/beds)", "int"),
        ],
        title="name",
        style={"weight": 3, "fillOpacity": 0.9},
        per={"radius": [7.0] * len(d), "color": color, "fillColor": color},
    )
    p.add(spec, "集中供养与周转房 Nursing homes and transitional housing", group="relocation")
    p.section(
        "集中供养与周转房",
        "Nursing homes and transitional housing",
        [
            {"shape": "circle", "color": DESTINATION_STYLE[m][0], "zh": PLACEMENT_MODE_ZH[m], "en": m.replace("_", " ")}
            for m in ("nursing_home", "transitional")
            if (mode == m).any()
        ],
    )
