"""The published run map: every layer a run has, in one page.

:func:`build_run_map` is what the pipeline calls. It shows whatever is present: township
boundaries with labels, villages sized by persons and coloured by relocation status, roads
by class, water, power, facilities with icons, candidate sites coloured by score with rank
labels (excluded ones with their reasons), isochrones and coverage, allocation flows and
site load, planned roads/water/power, and the DEM hillshade as an embedded image. The
thinner builders (:func:`build_siting_map`, ...) draw one theme.
"""

from __future__ import annotations

import html
import logging
import math
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import folium
import folium.plugins
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..config.maps import MapConfig
from ..context import Layers, RunContext, StepResult
from ..siting import SITE_FRONT_COLUMNS, SITE_SCORE_COLUMNS
from . import data as D
from .basemaps import add_basemap, uses_gcj02
from .elements import DataLayer, FirstView, InfoBox, LayerControl, Legend, NorthArrow, SearchBox, SummaryPanel
from .hillshade import hillshade_overlay

log = logging.getLogger(__name__)

Theme = Literal["overview", "siting", "access", "allocation", "plan"]
ALL_THEMES: tuple[Theme, ...] = ("overview", "siting", "access", "allocation", "plan")

#: Household-level village attributes hidden in public-notice mode (公示).
PRIVATE_VILLAGE_COLUMNS = ("poor_households", "poor_persons", "income_per_capita", "poverty_cause", "group")

VILLAGE_FIELDS_PUBLIC: tuple[D.Field, ...] = (
    ("village_id", "村编号", "village id", ""),
    ("township", "乡镇", "township", ""),
    ("households", "户数", "households", "int"),
    ("persons", "人口", "persons", "int"),
    ("relocate_households", "搬迁户数", "relocating households", "int"),
    ("relocate_persons", "搬迁人数", "relocating persons", "int"),
    ("_status", "状态", "status", ""),
)
VILLAGE_FIELDS_PRIVATE: tuple[D.Field, ...] = (
    ("poor_households", "贫困户数", "poor households", "int"),
    ("poor_persons", "贫困人口", "poor persons", "int"),
    ("group", "村民小组", "village group", ""),
    ("income_per_capita", "人均纯收入（元）", "income per capita, yuan", "int"),
    ("poverty_cause", "致贫原因", "poverty cause", ""),
    ("elevation_m", "海拔（米）", "elevation_m", "int"),
)
#: Site columns that are not criteria (the criteria are the remaining numeric columns).
SITE_KNOWN = {*SITE_FRONT_COLUMNS, *SITE_SCORE_COLUMNS, "planned_area_m2", "geometry"}
SCORE_COLORS = ("#f7fcb9", "#addd8e", "#41ab5d", "#006837")
BAND_COLORS = ("#08519c", "#3182bd", "#6baed6", "#bdd7e7", "#eff3ff")


def _find(results: Mapping[str, StepResult], name: str, what: Literal["layers", "tables"]) -> Any:
    for res in results.values():
        got = getattr(res, what).get(name)
        if got is not None:
            return got
    return None


class _Page:
    """Collects the legend sections and corner notes while layers are added."""

    def __init__(self, m: folium.Map, config: MapConfig) -> None:
        self.m = m
        self.config = config
        self.gcj = uses_gcj02(config)
        self.legend: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.bounds: list[tuple[float, float, float, float]] = []
        self.focus: list[tuple[float, float, float, float]] = []
        self.summary: dict[str, Any] | None = None
        #: site id -> (verdict, reasons, passed), for every popup that belongs to a site
        self.verdicts: dict[str, tuple[str, list[str], bool]] = {}

    def display(self, gdf: gpd.GeoDataFrame, *, simplify: bool = True) -> gpd.GeoDataFrame:
        out = D.to_display(gdf, gcj02=self.gcj, simplify_m=self.config.simplify_tolerance_m if simplify else 0.0)
        if len(out) and not out.geometry.is_empty.all():
            self.bounds.append(tuple(out.total_bounds))
        return out

    def focus_on(self, shown: gpd.GeoDataFrame) -> None:
        """The first view fits what the plan is about (villages, sites), not the whole extract."""
        if len(shown) and not shown.geometry.is_empty.all():
            self.focus.append(tuple(shown.total_bounds))

    def spec(self, gdf: gpd.GeoDataFrame, **kw: Any) -> dict[str, Any]:
        kw.setdefault("max_width", self.config.popup_max_width_px)
        return D.layer_spec(gdf, decimals=self.config.coord_decimals, **kw)

    def add(self, spec: dict[str, Any], name: str, *, show: bool = True) -> DataLayer:
        layer = DataLayer(spec, name=html.escape(name), show=show)
        layer.add_to(self.m)
        return layer

    def section(self, zh: str, en: str, items: list[dict[str, Any]]) -> None:
        if items:
            self.legend.append({"zh": zh, "en": en, "items": items})


def _geom_kind(gdf: gpd.GeoDataFrame) -> pd.Series:
    t = gdf.geom_type.fillna("")
    return t.map(
        lambda s: "points" if "Point" in s else "lines" if "Line" in s else "polygons" if "Polygon" in s else ""
    )


# --------------------------------------------------------------------------------------------- themes
def _hillshade(p: _Page, layers: Layers) -> None:
    if not (p.config.hillshade and layers.dem is not None):
        return
    got = hillshade_overlay(layers.dem, max_px=p.config.hillshade_max_px, gcj02=p.gcj)
    if got is None:
        p.notes.append("未能读取高程数据，未绘制地形晕渲 / DEM unreadable, no hillshade")
        return
    url, bounds = got
    folium.raster_layers.ImageOverlay(
        url,
        bounds=[list(bounds[0]), list(bounds[1])],
        name="地形晕渲 Hillshade",
        opacity=0.8,
        zindex=1,
        pixelated=False,
    ).add_to(p.m)


#: Township labels give way to the three best-ranked sites' labels, and take precedence over the rest.
TOWNSHIP_LABEL_PRIO = 3.5


def _boundaries(p: _Page, layers: Layers, results: Mapping[str, StepResult]) -> None:
    b = layers.boundaries
    if b is None or not len(b):
        return
    d = p.display(b)
    level = d["level"].astype(str) if "level" in d.columns else pd.Series("township", index=d.index)
    coverage = _find(results, "coverage", "tables")
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
    p.add(spec, "乡镇界 Townships")
    p.section(
        "行政界线",
        "Boundaries",
        [{"shape": "line", "color": "#444", "width": 2, "dash": True, "zh": "乡镇界", "en": "township"}],
    )


def _constraints(p: _Page, layers: Layers) -> None:
    c = layers.constraints
    if c is None or not len(c):
        return
    d = p.display(c)
    kinds = d["kind"].astype(str) if "kind" in d.columns else pd.Series("hazard_zone", index=d.index)
    d = d.assign(_kind_zh=kinds.map(lambda k: D.CONSTRAINT_STYLE.get(k, (k, "#999"))[0]))
    colors = kinds.map(lambda k: D.CONSTRAINT_STYLE.get(k, (k, "#999999"))[1]).tolist()
    gk = _geom_kind(d)
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
        p.add(spec, "限制区 Constraints" if kind == "polygons" else "灾害点 Hazard points", show=False)
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


def _water(p: _Page, layers: Layers) -> None:
    w = layers.water
    if w is None or not len(w):
        return
    d = p.display(w)
    kinds = d["kind"].astype(str) if "kind" in d.columns else pd.Series("river", index=d.index)
    d = d.assign(_kind_zh=kinds.map(lambda k: D.WATER_ZH.get(k, k)))
    gk = _geom_kind(d)
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
        p.add(spec, name)
        items.append(
            {
                "shape": {"lines": "line", "points": "circle"}.get(kind, "square"),
                "color": style.get("fillColor", style["color"]),
                "zh": name.split()[0],
                "en": name.split(maxsplit=1)[1].lower(),
            }
        )
    p.section("水系", "Water", items)


def _power(p: _Page, layers: Layers) -> None:
    pw = layers.power
    if pw is None or not len(pw):
        return
    d = p.display(pw)
    gk = _geom_kind(d)
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
            p.add(p.spec(d[sel], kind=kind, fields=fields, title="name", style=style), name, show=False)
    p.section(
        "电力",
        "Power",
        [{"shape": "line", "color": "#6a3d9a", "dash": True, "width": 2, "zh": "电力线", "en": "power line"}],
    )


MAJOR_ROADS = ("national", "provincial", "county", "township")


def _roads(p: _Page, layers: Layers) -> None:
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
        p.add(spec, name, show=show)
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


def _facilities(p: _Page, layers: Layers) -> None:
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
    p.add(spec, "公共设施 Facilities")
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


VILLAGE_TOTALS = ("households", "persons", "relocate_households", "relocate_persons")


def public_villages(villages: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, dict[str, str]]:
    """Village totals for public notice (公示): group rows (村民小组) summed per village.

    Rows with the same township and village name are one village; its counts are summed,
    its point is the mean of its groups' points, its id is the id shared before ``-`` (or
    the first id). Household-level columns (:data:`PRIVATE_VILLAGE_COLUMNS`) are dropped.

    Returns
    -------
    The villages and a mapping from every input ``village_id`` to the published one.
    """
    v = villages.drop(columns=[c for c in PRIVATE_VILLAGE_COLUMNS if c in villages.columns])
    if not {"village_id", "name"} <= set(v.columns):
        return v.copy(), {}
    ids = v["village_id"].astype(str)
    town = v["township"].astype(str) if "township" in v.columns else pd.Series("", index=v.index)
    key = town + "\u0001" + v["name"].astype(str)
    if not key.duplicated().any():
        return v.copy(), dict(zip(ids, ids, strict=True))
    xy = pd.DataFrame({"key": key, "x": v.geometry.x, "y": v.geometry.y})
    cols = {c: "sum" for c in VILLAGE_TOTALS if c in v.columns}
    firsts = {c: "first" for c in v.columns if c not in cols and c not in ("geometry", "village_id")}
    agg = v.drop(columns="geometry").assign(_key=key).groupby("_key", sort=False).agg({**firsts, **cols})
    pid = ids.groupby(key, sort=False).agg(
        lambda s: (
            s.iloc[0].rsplit("-", 1)[0] if len(s) > 1 and s.str.rsplit("-", n=1).str[0].nunique() == 1 else s.iloc[0]
        )
    )
    pts = xy.groupby("key", sort=False)[["x", "y"]].mean()
    out = gpd.GeoDataFrame(
        agg.assign(village_id=pid.reindex(agg.index).to_numpy()).reset_index(drop=True),
        geometry=gpd.points_from_xy(pts.loc[agg.index, "x"], pts.loc[agg.index, "y"]),
        crs=v.crs,
    )
    mapping = dict(zip(ids, key.map(pid), strict=True))
    return out, mapping


def _villages(p: _Page, layers: Layers, results: Mapping[str, StepResult]) -> None:
    v = layers.villages
    if v is None or not len(v):
        return
    vid_map: dict[str, str] = {}
    if p.config.public:
        v, vid_map = public_villages(v)
    else:
        v = v.copy()
    d = p.display(v)
    persons = pd.to_numeric(d.get("persons", pd.Series(0, index=d.index)), errors="coerce").fillna(0).clip(lower=0)
    reloc = pd.to_numeric(d.get("relocate_persons", pd.Series(0, index=d.index)), errors="coerce").fillna(0)
    status = np.where(reloc > 0, "relocate", "stay").astype(object)
    unserved = _find(results, "unserved", "tables")
    if unserved is not None and len(unserved) and "village_id" in d.columns:
        unserved = unserved.assign(village_id=unserved["village_id"].astype(str).map(lambda x: vid_map.get(x, x)))
        status[(d["village_id"].astype(str).isin(unserved["village_id"].astype(str)) & (reloc > 0)).to_numpy()] = (
            "unserved"
        )
    pmax = float(persons.max()) or 1.0
    size = np.round(7 + 15 * np.sqrt(persons.to_numpy() / pmax)).astype(int)
    props: dict[str, list[Any]] = {"_status": [D.STATUS_STYLE[s][0] + " " + D.STATUS_STYLE[s][1] for s in status]}
    fields = list(VILLAGE_FIELDS_PUBLIC)
    if not p.config.public:
        fields += list(VILLAGE_FIELDS_PRIVATE)
    sections: list[tuple[str, str, str]] = []
    access = _find(results, "village_access", "layers")
    if access is not None and "village_id" in access.columns and "village_id" in d.columns:
        acc = (
            pd.DataFrame(access.drop(columns="geometry", errors="ignore"))
            .drop_duplicates("village_id")
            .set_index("village_id")
        )
        cols = [c for c in acc.columns if c.startswith("time_min_")]
        for c in cols:
            props[c] = D.column_values(d["village_id"].astype(str).map(acc[c]).astype(float))
            fields.append((c, D.label_zh(c), c, ""))
    flows = _find(results, "allocation_flows", "layers")
    if flows is not None and len(flows) and "village_id" in d.columns:
        names = _site_names(layers, results)
        fl = pd.DataFrame(flows.drop(columns="geometry", errors="ignore"))
        fl["village_id"] = fl["village_id"].astype(str).map(lambda x: vid_map.get(x, x))
        g = fl.groupby(["village_id", "site_id"], sort=True)[["households", "persons"]].sum()
        dest: dict[str, list[str]] = {}
        for (vid, sid), row in g.iterrows():
            dest.setdefault(str(vid), []).append(
                f"{names.get(str(sid), str(sid))}：{int(row.households)} 户 {int(row.persons)} 人"
            )
        props["_dest"] = [dest.get(str(x), []) for x in d["village_id"]]
        sections.append(("_dest", "安置去向", "destination"))
    spec = p.spec(
        d,
        kind="points",
        fields=fields,
        props=props,
        title="name",
        title_en="name_en",
        sections=sections,
        style={"cls": "gfp-v"},
        per={"size": size.tolist(), "fillColor": [D.STATUS_STYLE[s][2] for s in status]},
        marker="div",
        divclass="gfp-village",
        cluster=len(d) > p.config.cluster_threshold,
        search=True,
    )
    p.add(spec, "村庄 Villages")
    p.focus_on(d)
    p.section(
        "村庄（大小表示人口）",
        "Villages (size = persons)",
        [
            {"shape": "circle", "color": D.STATUS_STYLE[s][2], "zh": D.STATUS_STYLE[s][0], "en": D.STATUS_STYLE[s][1]}
            for s in ("stay", "relocate", "unserved")
            if (status == s).any()
        ],
    )
    if p.config.public:
        p.notes.append("公示版：仅显示村级合计 / Public notice: village totals only")


def _site_names(layers: Layers, results: Mapping[str, StepResult]) -> dict[str, str]:
    for g in (_find(results, "sites", "layers"), layers.candidates):
        if g is not None and "site_id" in g.columns and "name" in g.columns:
            return dict(zip(g["site_id"].astype(str), g["name"].astype(str), strict=True))
    return {}


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


def _sites(p: _Page, layers: Layers, results: Mapping[str, StepResult]) -> None:
    s = _find(results, "sites", "layers")
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
    load = _find(results, "site_load", "tables")
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
    expl = _find(results, "site_explanation", "tables")
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
    p.add(spec, "安置点 Resettlement sites" if scored else "候选安置点 Candidate sites")
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


def _isochrones(p: _Page, results: Mapping[str, StepResult]) -> None:
    iso = _find(results, "isochrones", "layers")
    if iso is None or not len(iso):
        return
    d = p.display(iso)
    kinds = d["facility_kind"].astype(str) if "facility_kind" in d.columns else pd.Series("facility", index=d.index)
    bands = sorted(pd.to_numeric(d["band_min"], errors="coerce").dropna().unique()) if "band_min" in d.columns else []
    first = True
    for kind in dict.fromkeys(kinds):
        sub = d[(kinds == kind).to_numpy()].copy()
        if "band_min" in sub.columns:  # large bands first so small ones draw on top
            sub = sub.sort_values("band_min", ascending=False)
        zh = D.FACILITY_ZH.get(kind, (kind,))[0]
        sub["_kind_zh"] = zh
        b = pd.to_numeric(sub.get("band_min", pd.Series(0, index=sub.index)), errors="coerce")
        col = [BAND_COLORS[min(bands.index(x), len(BAND_COLORS) - 1)] if x in bands else "#999999" for x in b]
        spec = p.spec(
            sub,
            kind="polygons",
            fields=[("_kind_zh", "设施", "facility", ""), ("band_min", "时间圈（分钟）", "band_min", "")],
            title="_kind_zh",
            style={"weight": 0.6, "fillOpacity": 0.3, "color": "#08519c"},
            per={"fillColor": col},
        )
        p.add(spec, f"等时圈：{zh} Isochrones: {kind}", show=first)
        first = False
    p.section(
        "等时圈（分钟）",
        "Isochrones (minutes)",
        [
            {
                "shape": "square",
                "color": BAND_COLORS[min(i, len(BAND_COLORS) - 1)],
                "zh": f"{x:g} 分钟内",
                "en": f"≤ {x:g} min",
            }
            for i, x in enumerate(bands)
        ],
    )


def _allocation(p: _Page, layers: Layers, results: Mapping[str, StepResult]) -> None:
    flows = _find(results, "allocation_flows", "layers")
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
    names = _site_names(layers, results)
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
    hh = pd.to_numeric(d.get("households", pd.Series(1, index=d.index)), errors="coerce").fillna(0).clip(lower=0)
    hmax = float(hh.max()) or 1.0
    fields: list[D.Field] = [
        ("group", "村民小组", "group", ""),
        ("households", "户数", "households", "int"),
        ("persons", "人数", "persons", "int"),
        ("time_min", "行程时间（分钟）", "time_min", ""),
        ("dist_m", "距离（米）", "dist_m", "int"),
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
    p.add(spec, "搬迁去向 Allocation flows")
    p.section(
        "搬迁去向（线宽表示户数）",
        "Allocation (width = households)",
        [{"shape": "line", "color": "#e6550d", "width": 4, "zh": "村庄 → 安置点", "en": "village → site"}],
    )
    load = _find(results, "site_load", "tables")
    sites = _find(results, "sites", "layers")
    if sites is None:
        sites = layers.candidates
    if load is None or sites is None or not len(load) or "site_id" not in sites.columns:
        return
    lt = load.copy()
    lt["site_id"] = lt["site_id"].astype(str)
    s = sites[["site_id", "geometry"]].copy()
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
    p.add(spec, "安置点容量 Site load")
    p.section(
        "安置点容量利用",
        "Site load vs capacity",
        [
            {"shape": "circle", "color": "#31a354", "zh": "低于 90%", "en": "< 90%"},
            {"shape": "circle", "color": "#fd8d3c", "zh": "90%–100%", "en": "90–100%"},
            {"shape": "circle", "color": "#cb181d", "zh": "超出容量", "en": "over capacity"},
        ],
    )


PLAN_STYLE = {
    "planned_roads": ("规划道路", "Planned roads", "#d7301f"),
    "planned_water": ("规划供水", "Planned water", "#0570b0"),
    "planned_power": ("规划电力", "Planned power", "#6a51a3"),
}


def _plans(p: _Page, results: Mapping[str, StepResult]) -> None:
    items = []
    for key, (zh, en, color) in PLAN_STYLE.items():
        g = _find(results, key, "layers")
        if g is None or not len(g):
            continue
        d = p.display(g)
        d["_title"] = zh
        if "road_class" in d.columns:
            d["_class_zh"] = d["road_class"].astype(str).map(lambda c: D.ROAD_STYLE.get(c, (c,))[0])
        spec = p.spec(
            d,
            kind="lines",
            fields=[
                ("item", "项目", "item", ""),
                ("site_id", "安置点", "site", ""),
                ("village_id", "村庄", "village", ""),
                ("_class_zh", "道路等级", "road class", ""),
                ("length_m", "长度（米）", "length_m", "int"),
                ("cost_yuan", "投资（元）", "cost_yuan", "int"),
            ],
            title="_title",
            style={"color": color, "weight": 3.5, "dashArray": "10 6", "opacity": 0.95},
        )
        p.add(spec, f"{zh} {en}")
        items.append({"shape": "line", "color": color, "dash": True, "width": 3, "zh": zh, "en": en.lower()})
    p.section("规划建设", "Planned works", items)


# --------------------------------------------------------------------------------------------- summary panel
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
    assignment = _find(results, "assignment", "tables")
    flows = _find(results, "allocation_flows", "layers")
    placed_tab = assignment if assignment is not None else flows
    unserved = _find(results, "unserved", "tables")
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
    sites = _find(results, "sites", "layers")
    passing = _num(site.get("passed"))
    if passing is None and sites is not None and "passed" in sites.columns:
        passing = float(sites["passed"].fillna(False).astype(bool).sum())
    used = _num(alloc.get("open_sites"))
    load = _find(results, "site_load", "tables")
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
    county = _find(results, "budget_county", "tables")
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
    ra = _find(results, "relocation_access", "tables")
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


# --------------------------------------------------------------------------------------------- entry points
#: Leaflet map options; a map without tiles needs an explicit maxZoom (marker clustering requires it).
#: Quarter zoom steps let the first view fit the villages closely (whole steps can leave it twice too wide).
MAP_LIMITS: dict[str, Any] = {"minZoom": 6, "maxZoom": 19, "zoomSnap": 0.25}


def new_map(config: MapConfig, **kwargs: Any) -> folium.Map:
    """An empty map without default tiles, canvas rendering, metric scale bar."""
    return folium.Map(
        tiles=None,
        prefer_canvas=True,
        control_scale=False,
        zoom_start=10,
        location=[35.0, 105.0],
        **MAP_LIMITS,
        **kwargs,
    )


def add_run_layers(
    m: folium.Map,
    layers: Layers,
    results: Mapping[str, StepResult],
    *,
    config: MapConfig,
    themes: Iterable[Theme] = ALL_THEMES,
    controls: bool = True,
) -> _Page:
    """Draw a run's layers on ``m`` (any folium map, e.g. one side of a ``DualMap``)."""
    themes = set(themes)
    p = _Page(m, config)
    p.notes.extend(add_basemap(m, config))
    _hillshade(p, layers)
    _boundaries(p, layers, results)
    if "overview" in themes:
        _constraints(p, layers)
        _water(p, layers)
        _power(p, layers)
        _roads(p, layers)
    if "access" in themes:
        _isochrones(p, results)
    if "plan" in themes:
        _plans(p, results)
    if themes & {"siting", "allocation", "overview"}:
        _sites(p, layers, results)
    if "allocation" in themes:
        _allocation(p, layers, results)
    if themes & {"overview", "access"}:
        _facilities(p, layers)
    _villages(p, layers, results)
    p.summary = run_summary(layers, results, public=config.public)
    p.notes.extend(D.credits(config.credits(), _frames(layers, results)))
    plan = results.get("plan")
    if plan is not None and plan.summary.get("policy_source"):  # which policy the budgets use (data, shown as text)
        p.notes.append("补助政策 Policy: " + str(plan.summary["policy_source"]))
    bounds = first_view(p.focus or p.bounds)
    if bounds is not None:
        # set the view BEFORE the layers are drawn: markercluster's chunked loading breaks on a later fitBounds
        m.add_child(FirstView(bounds), index=0)
    if controls:
        finish_map(m, p)
    return p


def first_view(boxes: list[tuple[float, float, float, float]]) -> list[list[float]] | None:
    """``[[south, west], [north, east]]`` around the boxes ``(w, s, e, n)``, in degrees, with a margin.

    The margin is 5 % of the extent on each side, and at least ~1 km (0.01 degree) around
    a lone village.
    """
    if not boxes:
        return None
    b = np.array(boxes, dtype=float)
    w, s, e, n = float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())
    px = max(0.05 * (e - w), 0.01 - (e - w) / 2, 0.0)
    py = max(0.05 * (n - s), 0.01 - (n - s) / 2, 0.0)
    return [[s - py, w - px], [n + py, e + px]]


def _frames(layers: Layers, results: Mapping[str, StepResult]) -> list[gpd.GeoDataFrame]:
    return [*layers.present().values(), *(g for res in results.values() for g in res.layers.values())]


def finish_map(m: folium.Map, p: _Page, *, legend_collapsed: bool = False) -> None:
    """Legend, title and notes, search box, fullscreen, measure and layer control."""
    config = p.config
    notes = list(p.notes)
    notes.append("审图号 Map approval No.：" + (config.approval_number or "（待审 pending）"))
    # on a phone (<= 600 px wide) the legend starts folded: it would cover most of the map
    Legend({"sections": p.legend, "collapsed": legend_collapsed, "small_px": 600}).add_to(m)
    InfoBox({"title": config.title, "title_en": config.title_en, "lines": notes}).add_to(m)
    NorthArrow().add_to(m)
    SearchBox().add_to(m)
    folium.plugins.Fullscreen(position="topleft", title="全屏 Full screen", title_cancel="退出全屏 Exit").add_to(m)
    folium.plugins.MeasureControl(
        position="topleft",
        primary_length_unit="meters",
        secondary_length_unit="kilometers",
        primary_area_unit="sqmeters",
        secondary_area_unit="mu",
        units={"mu": {"factor": 0.0015, "display": "亩", "decimals": 2}},
        localization="cn",
    ).add_to(m)
    LayerControl(collapsed=True).add_to(m)
    if p.summary is not None:  # top right below the layer control: an opened layer list pushes it down
        SummaryPanel({**p.summary, "collapsed": legend_collapsed}).add_to(m)


def build_map(
    layers: Layers,
    results: Mapping[str, StepResult] | None = None,
    *,
    config: MapConfig | None = None,
    themes: Iterable[Theme] = ALL_THEMES,
) -> folium.Map:
    """A map of ``layers`` and ``results`` (metric CRS) for the given themes.

    Parameters
    ----------
    layers
        The run's layers in its metric CRS.
    results
        Step results by step name (``access``, ``site``, ``allocate``, ``plan``); what is
        present is drawn.
    config
        The scenario's ``map`` section (defaults when ``None``).
    themes
        Which themes to draw; all by default.
    """
    config = config or MapConfig()
    m = new_map(config)
    add_run_layers(m, layers, results or {}, config=config, themes=themes)
    return m


def build_run_map(
    ctx: RunContext | Mapping[str, StepResult], *, config: MapConfig | None = None, layers: Layers | None = None
) -> folium.Map:
    """The published page of a run: every layer present, with legend and controls.

    Parameters
    ----------
    ctx
        The run context (or a mapping of step results, then ``layers`` is required).
    config
        The ``map`` section; defaults to ``ctx.scenario.map`` when present.
    layers
        The layers, when ``ctx`` is a plain mapping of results.
    """
    if isinstance(ctx, RunContext):
        config = config or getattr(ctx.scenario, "map", None)
        return build_map(ctx.layers, ctx.results, config=config)
    if layers is None:
        raise TypeError("build_run_map(results, ...) needs layers=; or pass a RunContext.")
    return build_map(layers, ctx, config=config)


def build_overview_map(ctx: RunContext, *, config: MapConfig | None = None) -> folium.Map:
    """Townships, villages, roads, water, power, facilities, hillshade."""
    return build_map(ctx.layers, ctx.results, config=config or getattr(ctx.scenario, "map", None), themes=("overview",))


def build_siting_map(ctx: RunContext, *, config: MapConfig | None = None) -> folium.Map:
    """Candidate sites by score with ranks, excluded ones with reasons, stable top-k."""
    return build_map(ctx.layers, ctx.results, config=config or getattr(ctx.scenario, "map", None), themes=("siting",))


def build_access_map(ctx: RunContext, *, config: MapConfig | None = None) -> folium.Map:
    """Isochrone bands, facilities, coverage by township."""
    return build_map(ctx.layers, ctx.results, config=config or getattr(ctx.scenario, "map", None), themes=("access",))


def build_allocation_map(ctx: RunContext, *, config: MapConfig | None = None) -> folium.Map:
    """Flows village -> site (width by households) and site load vs capacity."""
    return build_map(
        ctx.layers, ctx.results, config=config or getattr(ctx.scenario, "map", None), themes=("allocation",)
    )


def build_plan_map(ctx: RunContext, *, config: MapConfig | None = None) -> folium.Map:
    """Planned roads, water and power lines."""
    return build_map(ctx.layers, ctx.results, config=config or getattr(ctx.scenario, "map", None), themes=("plan",))
