"""The base geography and existing facilities: hillshade, boundaries, constraints, water, power, roads, facilities."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..context import Layers, StepResult
from . import data as D
from .elements import ImageOverlay
from .hillshade import DemShade, hillshade_overlay
from .page import Page, find, geom_kind


def _hillshade(p: Page, layers: Layers, shade: DemShade | None = None) -> None:
    if not (p.config.hillshade and layers.dem is not None):
        return
    got = hillshade_overlay(layers.dem, max_px=p.config.hillshade_max_px, gcj02=p.gcj, shade=shade)
    if got is None:
        p.notes.append("未能读取高程数据，未绘制地形晕渲 / DEM unreadable, no hillshade")
        return
    url, bounds = got
    ImageOverlay(
        url,
        bounds=[list(bounds[0]), list(bounds[1])],
        name="地形晕渲 Hillshade",
        opacity=0.8,
        zindex=1,
        pixelated=False,
    ).add_to(p.m)


#: Township labels give way to the three best-ranked sites' labels, and take precedence over the rest.
TOWNSHIP_LABEL_PRIO = 3.5


def _boundaries(p: Page, layers: Layers, results: Mapping[str, StepResult]) -> None:
    b = layers.boundaries
    if b is None or not len(b):
        return
    d = p.display(b)
    level = d["level"].astype(str) if "level" in d.columns else pd.Series("township", index=d.index)
    coverage = find(results, "coverage", "tables")
    props: dict[str, list[Any]] = {}
    if coverage is not None and len(coverage) and "name" in d.columns:
        lines: dict[str, list[str]] = {}
        for row in coverage.itertuples(index=False):
            kind = D.FACILITY_ZH.get(str(row.facility_kind), (str(row.facility_kind),))[0]
            text = f"{kind} {float(row.band_min):g} 分钟内：人口 {float(row.persons_share) * 100:.1f}%"
            if hasattr(row, "poor_persons_share") and pd.notna(row.poor_persons_share):
                text += f"，贫困人口 {float(row.poor_persons_share) * 100:.1f}%"
            lines.setdefault(str(row.township), []).append(text)
        props["_coverage"] = [lines.get(str(n), []) for n in d["name"]]
    is_county = (level == "county").to_numpy()
    per = {
        "weight": np.where(is_county, 3.5, 1.8).tolist(),
        "dashArray": np.where(is_county, "", "6 4").tolist(),
    }
    spec = p.spec(
        d,
        kind="polygons",
        fields=[("name_en", "英文名", "name", ""), ("level", "级别", "level", "")],
        props=props,
        title="name",
        sections=[("_coverage", "设施覆盖（按乡镇）", "coverage by township")],
        style={"color": "#444", "fill": True, "fillOpacity": 0.02, "fillColor": "#ffffff"},
        per=per,
        label="name" if not is_county.all() else None,
        label_prio=TOWNSHIP_LABEL_PRIO,
        label_at=[
            [y, x]
            for x, y in zip(d.representative_point().x.round(5), d.representative_point().y.round(5), strict=True)
        ],
        hover=False,
    )
    if is_county.any() and not is_county.all() and "name" in d.columns:  # county outline carries no label
        spec["props"]["_label"] = [None if c else n for c, n in zip(is_county, d["name"].astype(str), strict=True)]
        spec["label"] = "_label"
    p.add(spec, "乡镇界 Townships", group="base")
    p.section(
        "行政界线",
        "Boundaries",
        [{"shape": "line", "color": "#444", "width": 2, "dash": True, "zh": "乡镇界", "en": "township"}],
    )


def _constraints(p: Page, layers: Layers) -> None:
    c = layers.constraints
    if c is None or not len(c):
        return
    d = p.display(c)
    kinds = d["kind"].astype(str) if "kind" in d.columns else pd.Series("hazard_zone", index=d.index)
    d = d.assign(_kind_zh=kinds.map(lambda k: D.CONSTRAINT_STYLE.get(k, (k, "#999"))[0]))
    colors = kinds.map(lambda k: D.CONSTRAINT_STYLE.get(k, (k, "#999999"))[1]).tolist()
    gk = geom_kind(d)
    fields = [("_kind_zh", "类型", "kind", ""), ("name", "名称", "name", ""), ("constraint_id", "编号", "id", "")]
    for kind in ("polygons", "points"):
        sel = (gk == kind).to_numpy()
        if not sel.any():
            continue
        sub = d[sel]
        style = (
            {"weight": 1, "fillOpacity": 0.35} if kind == "polygons" else {"radius": 4, "weight": 1, "fillOpacity": 0.9}
        )
        col = [c for c, s in zip(colors, sel, strict=True) if s]
        spec = p.spec(
            sub, kind=kind, fields=fields, title="_kind_zh", style=style, per={"color": col, "fillColor": col}
        )
        p.add(
            spec,
            "限制区 Constraints" if kind == "polygons" else "灾害点 Hazard points",
            group="constraints",
            show=False,
        )
    present = sorted(set(kinds))
    p.section(
        "限制因素",
        "Constraints",
        [
            {
                "shape": "square",
                "color": D.CONSTRAINT_STYLE.get(k, (k, "#999"))[1],
                "zh": D.CONSTRAINT_STYLE.get(k, (k,))[0],
                "en": k.replace("_", " "),
            }
            for k in present
        ],
    )


def _water(p: Page, layers: Layers) -> None:
    w = layers.water
    if w is None or not len(w):
        return
    d = p.display(w)
    kinds = d["kind"].astype(str) if "kind" in d.columns else pd.Series("river", index=d.index)
    d = d.assign(_kind_zh=kinds.map(lambda k: D.WATER_ZH.get(k, k)))
    gk = geom_kind(d)
    fields = [("_kind_zh", "类型", "kind", ""), ("water_id", "编号", "id", "")]
    items = []
    for kind, name, style in (
        (
            "polygons",
            "水域 Water bodies",
            {"color": "#2c7fb8", "weight": 1, "fillColor": "#7fcdbb", "fillOpacity": 0.6},
        ),
        ("lines", "河流 Rivers", {"color": "#2c7fb8", "weight": 2, "opacity": 0.9}),
        (
            "points",
            "水源 Water sources",
            {"color": "#08306b", "fillColor": "#41b6c4", "radius": 5, "weight": 1, "fillOpacity": 1},
        ),
    ):
        sel = (gk == kind).to_numpy()
        if not sel.any():
            continue
        sub = d[sel]
        per = {"weight": np.where(kinds[sel] == "stream", 1.2, 2.2).tolist()} if kind == "lines" else {}
        spec = p.spec(sub, kind=kind, fields=fields, title="name", style=style, per=per)
        if spec["title"] is None:
            spec["title"] = "_kind_zh"
            spec["props"]["_kind_zh"] = D.column_values(sub["_kind_zh"])
        p.add(spec, name, group="base")
        items.append(
            {
                "shape": {"lines": "line", "points": "circle"}.get(kind, "square"),
                "color": style.get("fillColor", style["color"]),
                "zh": name.split()[0],
                "en": name.split(maxsplit=1)[1].lower(),
            }
        )
    p.section("水系", "Water", items)


def _power(p: Page, layers: Layers) -> None:
    pw = layers.power
    if pw is None or not len(pw):
        return
    d = p.display(pw)
    gk = geom_kind(d)
    fields = [("power_id", "编号", "id", ""), ("voltage_kv", "电压（千伏）", "voltage_kv", "")]
    for kind, name, style in (
        ("lines", "电力线 Power lines", {"color": "#6a3d9a", "weight": 1.5, "dashArray": "8 3"}),
        (
            "points",
            "变电站 Substations",
            {"color": "#6a3d9a", "fillColor": "#cab2d6", "radius": 6, "weight": 2, "fillOpacity": 1},
        ),
    ):
        sel = (gk == kind).to_numpy()
        if sel.any():
            p.add(
                p.spec(d[sel], kind=kind, fields=fields, title="name", style=style),
                name,
                group="facilities",
                show=False,
            )
    p.section(
        "电力",
        "Power",
        [{"shape": "line", "color": "#6a3d9a", "dash": True, "width": 2, "zh": "电力线", "en": "power line"}],
    )


MAJOR_ROADS = ("national", "provincial", "county", "township")


def _roads(p: Page, layers: Layers) -> None:
    r = layers.roads
    if r is None or not len(r):
        return
    classes = r["road_class"].astype(str) if "road_class" in r.columns else pd.Series("village", index=r.index)
    merged = len(r) > p.config.merge_roads_over
    if merged:  # one multi-line per class: a few features instead of tens of thousands
        geoms = shapely.simplify(r.geometry.values, p.config.simplify_tolerance_m, preserve_topology=False)
        rows = []
        for cls in [c for c in D.ROAD_STYLE if (classes == c).any()] + sorted(set(classes) - set(D.ROAD_STYLE)):
            sel = (classes == cls).to_numpy()
            rows.append(
                {
                    "road_class": cls,
                    "geometry": shapely.line_merge(shapely.multilinestrings(shapely.get_parts(geoms[sel]))),
                }
            )
        r = gpd.GeoDataFrame(rows, geometry="geometry", crs=r.crs)
        classes = r["road_class"]
    d = p.display(r, simplify=not merged)
    sty = [D.ROAD_STYLE.get(c, (c, "#999999", 1.2)) for c in classes]
    d = d.assign(_class_zh=[s[0] for s in sty])
    major = classes.isin(MAJOR_ROADS).to_numpy()
    # a big county: village roads, tracks and paths are a layer of their own, off at first (legibility, speed)
    parts = [(np.ones(len(d), bool), "道路 Roads", True)]
    if merged and major.any() and (~major).any():
        parts = [(major, "道路 Roads", True), (~major, "村道及便道 Village roads and tracks", False)]
    for sel, name, show in parts:
        sub = d[sel]
        spec = p.spec(
            sub,
            kind="lines",
            fields=[
                ("_class_zh", "等级", "class", ""),
                ("road_id", "编号", "id", ""),
                ("surface", "路面", "surface", ""),
                ("speed_kph", "速度（公里/小时）", "speed_kph", ""),
            ],
            title="name" if "name" in sub.columns else "_class_zh",
            style={"opacity": 0.9, "lineCap": "round"},
            per={
                "color": [s[1] for s, ok in zip(sty, sel, strict=True) if ok],
                "weight": [s[2] for s, ok in zip(sty, sel, strict=True) if ok],
            },
        )
        if spec["title"] is None:
            spec["title"] = "_class_zh"
            spec["props"]["_class_zh"] = D.column_values(sub["_class_zh"])
        p.add(spec, name, group="base", show=show)
    present = [c for c in D.ROAD_STYLE if (classes == c).any()]
    p.section(
        "道路",
        "Roads",
        [
            {
                "shape": "line",
                "color": D.ROAD_STYLE[c][1],
                "width": D.ROAD_STYLE[c][2],
                "zh": D.ROAD_STYLE[c][0],
                "en": c,
            }
            for c in present
        ],
    )


def _facilities(p: Page, layers: Layers) -> None:
    f = layers.facilities
    if f is None or not len(f):
        return
    d = p.display(f)
    kinds = d["kind"].astype(str) if "kind" in d.columns else pd.Series("town", index=d.index)
    look = [D.FACILITY_ZH.get(k, (k, "设", "#555555")) for k in kinds]
    d = d.assign(_kind_zh=[x[0] for x in look], _glyph=[x[1] for x in look])
    spec = p.spec(
        d,
        kind="points",
        fields=[
            ("_kind_zh", "类型", "kind", ""),
            ("township", "乡镇", "township", ""),
            ("capacity", "容量", "capacity", "int"),
            ("facility_id", "编号", "id", ""),
        ],
        props={"_glyph": [x[1] for x in look]},
        title="name",
        title_en="name_en",
        style={"size": 17, "cls": "gfp-f"},
        per={"fillColor": [x[2] for x in look]},
        marker="div",
        divclass="gfp-fac",
        glyph="_glyph",
    )
    p.add(spec, "公共设施 Facilities", group="facilities")
    present = [k for k in D.FACILITY_ZH if (kinds == k).any()]
    p.section(
        "公共设施",
        "Facilities",
        [
            {
                "shape": "glyph",
                "glyph": D.FACILITY_ZH[k][1],
                "color": D.FACILITY_ZH[k][2],
                "zh": D.FACILITY_ZH[k][0],
                "en": k.replace("_", " "),
            }
            for k in present
        ],
    )
