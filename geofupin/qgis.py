"""QGIS styles and project for a run's ``results.gpkg``: the web map's symbols, colours, labels and groups.

:func:`layer_styles` gives the rows of the ``layer_styles`` table that QGIS reads from a GeoPackage as
each layer's default style (one QML document per layer); :func:`project_qgz` gives a QGIS project
(``.qgz``: a zip holding one ``.qgs`` XML document) whose layers point to the GeoPackage by a
relative path, grouped as the web map's legend (基础地理, 现状设施, 限制因素, 选址评价, 搬迁安置,
规划建设), in the run's CRS, with Chinese layer names and the same styles.

The colours and Chinese names are the web map's own (:mod:`geofupin.maps.data` and
:mod:`geofupin.maps.overview`), so the two cannot drift apart. Widths and sizes are in screen
pixels, as on the web map. Everything here builds text; :mod:`geofupin.io` writes it. Every text
that comes from the data (category values, layer names, the title) goes through
:mod:`xml.etree.ElementTree`, which escapes it, after characters XML cannot hold are replaced.
"""

from __future__ import annotations

import io as _bytesio
import math
import re
import uuid
import warnings
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from pyproj import CRS

from .io import GPKG_GEOMETRY_COLUMN, OutputLayer
from .maps import data as D
from .maps.overview import BAND_COLORS, PLAN_STYLE, SCORE_COLORS

#: QGIS version the documents are written for (QGIS reads documents of older versions).
QGIS_VERSION = "3.22.0-Białowieża"
#: Groups of the project's layer tree, top to bottom, as the web map's legend sections.
GROUPS: tuple[str, ...] = ("基础地理", "现状设施", "限制因素", "选址评价", "搬迁安置", "规划建设", "其他")
#: Style name of the rows written to ``layer_styles``.
STYLE_NAME = "geofupin"
#: Font of labels (the one the web map and the printable maps use).
LABEL_FONT = "Noto Sans CJK SC"

SymbolKind = Literal["marker", "line", "fill"]
_GEOM_OF_FAMILY: dict[str, SymbolKind] = {"points": "marker", "lines": "line", "areas": "fill"}
_QGIS_GEOMETRY = {"points": ("Point", 0), "lines": ("Line", 1), "areas": ("Polygon", 2)}
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_OTHER = "#999999"
#: ElementTree's element (XML built node by node, every text escaped by ElementTree): no branca template.
XmlNode = ET.Element


def xml_text(value: Any) -> str:
    """``value`` as text XML 1.0 can hold: control characters and lone surrogates become U+FFFD.

    Markup characters (``<``, ``&``, quotes) are left as they are: ElementTree escapes them.
    """
    return _XML_FORBIDDEN.sub("\ufffd", str(value))


def expr_string(value: Any) -> str:
    """``value`` as a QGIS expression string literal (``'...'``, quotes doubled, backslashes escaped)."""
    return "'" + xml_text(value).replace("\\", "\\\\").replace("'", "''") + "'"


def expr_field(name: str) -> str:
    """A column name as a QGIS expression field reference (``"name"``, double quotes doubled)."""
    return '"' + xml_text(name).replace('"', '""') + '"'


def rgba(color: str, alpha: float = 1.0) -> str:
    """``#rrggbb`` (or ``#rgb``) as QGIS's ``r,g,b,a`` colour text."""
    c = color.lstrip("#")
    if len(c) == 3:
        c = "".join(ch * 2 for ch in c)
    r, g, b = (int(c[i : i + 2], 16) for i in (0, 2, 4))
    return f"{r},{g},{b},{round(255 * alpha)}"


# ----------------------------------------------------------------------------------------- symbols
@dataclass(frozen=True)
class Sym:
    """One symbol as the web map draws it (colours ``#rrggbb``, widths and sizes in pixels)."""

    kind: SymbolKind
    color: str = _OTHER  # fill (marker, fill) or line colour
    stroke: str | None = None  # outline colour (marker, fill); None: no outline
    width: float = 1.0  # line width or outline width (px)
    size: float = 8.0  # marker diameter (px)
    opacity: float = 1.0  # of the fill (fill, marker) or of the line
    stroke_opacity: float = 1.0
    dash: tuple[float, ...] = ()  # dash pattern (px), as the web map's dashArray
    shape: str = "circle"  # marker shape: circle, square
    glyph: str | None = None  # a character drawn on the marker (facilities)
    dd: Mapping[str, str] = field(default_factory=dict)  # data-defined properties: name -> expression


def _options(parent: ET.Element, props: Mapping[str, str]) -> None:
    """Symbol-layer properties in both forms QGIS reads (``<Option>`` map, and the older ``<prop>``)."""
    opt = ET.SubElement(parent, "Option", type="Map")
    for k, v in props.items():
        ET.SubElement(opt, "Option", name=k, type="QString", value=xml_text(v))
    for k, v in props.items():
        ET.SubElement(parent, "prop", k=k, v=xml_text(v))


def _data_defined(parent: ET.Element, dd: Mapping[str, str]) -> None:
    outer = ET.SubElement(parent, "data_defined_properties")
    opt = ET.SubElement(outer, "Option", type="Map")
    ET.SubElement(opt, "Option", name="name", type="QString", value="")
    props = ET.SubElement(opt, "Option", name="properties", type="Map") if dd else None
    if props is None:
        ET.SubElement(opt, "Option", name="properties")
    for key, expression in dd.items():
        assert props is not None
        p = ET.SubElement(props, "Option", name=key, type="Map")
        ET.SubElement(p, "Option", name="active", type="bool", value="true")
        ET.SubElement(p, "Option", name="expression", type="QString", value=xml_text(expression))
        ET.SubElement(p, "Option", name="type", type="int", value="3")
    ET.SubElement(opt, "Option", name="type", type="QString", value="collection")


def _dash(dash: Sequence[float]) -> dict[str, str]:
    if not dash:
        return {"line_style": "solid", "use_custom_dash": "0"}
    return {
        "line_style": "solid",
        "use_custom_dash": "1",
        "customdash": ";".join(f"{x:g}" for x in dash),
        "customdash_unit": "Pixel",
    }


def symbol_element(sym: Sym, name: str) -> ET.Element:
    """The ``<symbol>`` element of one symbol."""
    el = XmlNode("symbol", type=sym.kind, name=name, alpha="1", clip_to_extent="1", force_rhr="0")
    _data_defined(el, {})
    layer = ET.SubElement(el, "layer", {"enabled": "1", "locked": "0", "pass": "0"})
    props: dict[str, str]
    if sym.kind == "marker":
        layer.set("class", "SimpleMarker")
        props = {
            "name": sym.shape,
            "color": rgba(sym.color, sym.opacity),
            "outline_color": rgba(sym.stroke or sym.color, sym.stroke_opacity if sym.stroke else 0.0),
            "outline_style": "solid" if sym.stroke else "no",
            "outline_width": f"{sym.width:g}",
            "outline_width_unit": "Pixel",
            "size": f"{sym.size:g}",
            "size_unit": "Pixel",
            "scale_method": "diameter",
            "angle": "0",
            "joinstyle": "bevel",
        }
    elif sym.kind == "line":
        layer.set("class", "SimpleLine")
        props = {
            "line_color": rgba(sym.color, sym.opacity),
            "line_width": f"{sym.width:g}",
            "line_width_unit": "Pixel",
            "capstyle": "round",
            "joinstyle": "round",
            **_dash(sym.dash),
        }
    else:
        layer.set("class", "SimpleFill")
        props = {
            "color": rgba(sym.color, sym.opacity),
            "style": "solid" if sym.opacity > 0 else "no",
            "outline_color": rgba(sym.stroke or sym.color, sym.stroke_opacity),
            "outline_style": ("dash" if sym.dash else "solid") if sym.stroke else "no",
            "outline_width": f"{sym.width:g}",
            "outline_width_unit": "Pixel",
            "joinstyle": "round",
        }
    _options(layer, props)
    _data_defined(layer, sym.dd)
    if sym.kind == "marker" and sym.glyph:
        glyph = ET.SubElement(el, "layer", {"enabled": "1", "locked": "0", "pass": "0"})
        glyph.set("class", "FontMarker")
        _options(
            glyph,
            {
                "chr": sym.glyph,
                "font": LABEL_FONT,
                "font_style": "Bold",
                "color": rgba("#ffffff"),
                "size": f"{sym.size * 0.65:g}",
                "size_unit": "Pixel",
                "outline_width": "0",
                "joinstyle": "bevel",
            },
        )
        _data_defined(glyph, {})
    return el


# ---------------------------------------------------------------------------------------- renderers
@dataclass(frozen=True)
class Category:
    """One legend entry of a categorised style: features whose value (of the column or expression) is ``value``."""

    value: str
    label: str
    symbol: Sym


@dataclass(frozen=True)
class LayerStyle:
    """How one output layer is drawn and listed in QGIS."""

    layer: str  # the layer's name in the GeoPackage
    title: str  # the Chinese layer name shown in QGIS
    group: str  # one of GROUPS
    symbol: Sym  # the single symbol, or the fallback for values without a category
    attr: str | None = None  # column name or expression the categories are of
    categories: tuple[Category, ...] = ()
    label: str | None = None  # column whose text labels the features
    visible: bool = True

    @property
    def colors(self) -> dict[str, str]:
        """Legend label -> fill (or line) colour: what the web map's legend shows."""
        if not self.categories:
            return {self.title: self.symbol.color}
        return {c.label: c.symbol.color for c in self.categories}


def renderer_element(style: LayerStyle) -> ET.Element:
    """The ``<renderer-v2>`` element of a style."""
    common = {"forceraster": "0", "symbollevels": "0", "enableorderby": "0", "referencescale": "-1"}
    if not style.categories:
        r = XmlNode("renderer-v2", {"type": "singleSymbol", **common})
        symbols = ET.SubElement(r, "symbols")
        symbols.append(symbol_element(style.symbol, "0"))
        return r
    assert style.attr is not None
    r = XmlNode("renderer-v2", {"type": "categorizedSymbol", "attr": xml_text(style.attr), **common})
    cats = ET.SubElement(r, "categories")
    symbols = ET.SubElement(r, "symbols")
    for i, cat in enumerate(style.categories):
        ET.SubElement(
            cats, "category", render="true", symbol=str(i), value=xml_text(cat.value), label=xml_text(cat.label)
        )
        symbols.append(symbol_element(cat.symbol, str(i)))
    src = ET.SubElement(r, "source-symbol")
    src.append(symbol_element(style.symbol, "0"))
    return r


def labeling_element(style: LayerStyle) -> ET.Element | None:
    """Labels in Chinese (the ``name`` column), with a white halo, as on the web map."""
    if style.label is None:
        return None
    lab = XmlNode("labeling", type="simple")
    settings = ET.SubElement(lab, "settings", calloutType="simple")
    text = ET.SubElement(
        settings,
        "text-style",
        fieldName=xml_text(style.label),
        isExpression="0",
        fontFamily=LABEL_FONT,
        fontSize="9",
        fontSizeUnit="Point",
        textColor=rgba("#222222"),
        textOpacity="1",
        namedStyle="Regular",
        fontWeight="50",
        fontItalic="0",
        multilineHeight="1",
        allowHtml="0",
    )
    ET.SubElement(
        text,
        "text-buffer",
        bufferDraw="1",
        bufferSize="1",
        bufferSizeUnits="MM",
        bufferColor=rgba("#ffffff"),
        bufferOpacity="0.9",
        bufferJoinStyle="128",
        bufferNoFill="1",
    )
    ET.SubElement(settings, "text-format", wrapChar="", multilineAlign="3", plussign="0", formatNumbers="0")
    family = "points" if style.symbol.kind == "marker" else "lines" if style.symbol.kind == "line" else "areas"
    placement = {"points": "6", "lines": "2", "areas": "0"}[family]  # around the point, along the line, over
    ET.SubElement(settings, "placement", placement=placement, dist="1", distUnits="MM", priority="5")
    ET.SubElement(settings, "rendering", obstacle="1", scaleVisibility="0", displayAll="0", upsidedownLabels="0")
    return lab


def _root_attrs() -> dict[str, str]:
    return {
        "version": QGIS_VERSION,
        "styleCategories": "Symbology|Labeling",
        "hasScaleBasedVisibilityFlag": "0",
        "minScale": "100000000",
        "maxScale": "0",
    }


def qml(style: LayerStyle, family: str | None) -> str:
    """The QML document (QGIS layer style file) of one layer."""
    root = XmlNode("qgis", {"labelsEnabled": "1" if style.label else "0", **_root_attrs()})
    root.append(renderer_element(style))
    lab = labeling_element(style)
    if lab is not None:
        root.append(lab)
    if family in _QGIS_GEOMETRY:
        ET.SubElement(root, "layerGeometryType").text = str(_QGIS_GEOMETRY[family][1])
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(root, encoding="unicode")


# ----------------------------------------------------------------------------- the web map's styles
def _values(frame: pd.DataFrame, column: str) -> list[str]:
    if column not in frame.columns:
        return []
    return [str(v) for v in dict.fromkeys(frame[column].dropna().astype(str))]


def _kind_categories(
    frame: pd.DataFrame,
    column: str,
    known: Mapping[str, tuple[str, Sym]],
    fallback: Sym,
) -> tuple[Category, ...]:
    """Categories for the known values (in their order) present in ``frame``, then any other value present."""
    present = _values(frame, column)
    cats = [Category(k, zh, sym) for k, (zh, sym) in known.items() if k in present]
    cats += [Category(v, v, fallback) for v in present if v not in known]
    return tuple(cats)


def _number(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(np.nan, index=frame.index, dtype=float)
    return pd.to_numeric(frame[column], errors="coerce").astype(float)


def _ramp_expression(column: str, lo: float, hi: float, colors: Sequence[str]) -> str:
    """A QGIS expression giving :func:`geofupin.maps.data.ramp`'s colour for ``column``: the same linear
    interpolation between neighbouring ``colors``, channel by channel, rounded (QGIS's ``color_mix_rgb``
    truncates, which would be off by one)."""
    f = expr_field(column)
    if not hi > lo:
        return expr_string(rgba(D.ramp([0.5, 0.5], colors)[0]))  # ramp() puts every value at the middle
    pos = f"(({f} - {lo!r}) / {hi - lo!r} * {len(colors) - 1})"
    parts = []
    for i in range(len(colors) - 1):
        a, b = (rgba(c).split(",")[:3] for c in (colors[i], colors[i + 1]))
        t = f"max(0, min(1, {pos} - {i}))"
        channels = ", ".join(f"round({x} * (1 - {t}) + {y} * {t})" for x, y in zip(a, b, strict=True))
        test = f"{pos} < {i + 1}" if i < len(colors) - 2 else "TRUE"
        parts.append(f"WHEN {test} THEN color_rgb({channels})")
    return "CASE " + " ".join(parts) + " END"


def _villages(layer: OutputLayer, unserved: Iterable[str]) -> LayerStyle:
    frame = layer.frame
    persons = _number(frame, "persons").clip(lower=0)
    pmax = float(persons.max()) if persons.notna().any() and float(persons.max()) > 0 else 1.0
    size = f"round(7 + 15 * sqrt(max(0, coalesce({expr_field('persons')}, 0)) / {pmax!r}))"
    ids = sorted({str(x) for x in unserved})
    moving = f"coalesce({expr_field('relocate_persons')}, 0) > 0"
    status = f"CASE WHEN {moving} THEN 'relocate' ELSE 'stay' END"
    if ids and "village_id" in frame.columns:
        listed = ", ".join(expr_string(x) for x in ids)
        status = f"CASE WHEN {moving} AND {expr_field('village_id')} IN ({listed}) THEN 'unserved' " + status[5:]

    def sym(color: str) -> Sym:
        return Sym("marker", color, "#333333", 1.5, 12, opacity=0.9, stroke_opacity=0.9, dd={"size": size})

    cats = tuple(Category(k, D.STATUS_STYLE[k][0], sym(D.STATUS_STYLE[k][2])) for k in ("stay", "relocate", "unserved"))
    if not ids:
        cats = cats[:2]
    return LayerStyle(layer.name, "", "", sym(D.STATUS_STYLE["stay"][2]), status, cats, label="name")


def _sites(layer: OutputLayer) -> LayerStyle:
    frame = layer.frame
    passed = (
        frame["passed"].fillna(False).astype(bool) if "passed" in frame.columns else pd.Series(True, index=frame.index)
    )
    score = _number(frame, "score").where(passed)
    ok = f"coalesce({expr_field('passed')}, 1)" if "passed" in frame.columns else "TRUE"
    stable = f"coalesce({expr_field('stable_topk')}, 0)" if "stable_topk" in frame.columns else "FALSE"
    excluded = Sym("fill", "#bdbdbd", "#636363", 1.5, opacity=0.75, dash=(4, 4))
    if not score.notna().any():
        base = Sym("fill", "#fdae6b", "#006837", 1.5, opacity=0.75)
        attr = f"CASE WHEN {ok} THEN 'passed' ELSE 'excluded' END"
        plain = (Category("passed", "候选安置点", base), Category("excluded", "未通过筛选", excluded))
        return LayerStyle(layer.name, "", "", base, attr, plain, label="name")
    lo, hi = float(score.min()), float(score.max())
    fill = _ramp_expression("score", lo, hi, SCORE_COLORS)
    mid = (lo + hi) / 2
    high = Sym("fill", SCORE_COLORS[-1], "#006837", 1.5, opacity=0.75, dd={"fillColor": fill})
    low = Sym("fill", SCORE_COLORS[0], "#006837", 1.5, opacity=0.75, dd={"fillColor": fill})
    top = Sym("fill", SCORE_COLORS[-1], "#b8860b", 4.0, opacity=0.75, dd={"fillColor": fill})
    attr = (
        f"CASE WHEN NOT {ok} OR {expr_field('score')} IS NULL THEN 'excluded' WHEN {stable} THEN 'stable' "
        f"WHEN {expr_field('score')} >= {mid!r} THEN 'high' ELSE 'low' END"
    )
    cats: list[Category] = [Category("high", "得分高", high), Category("low", "得分低", low)]
    if not passed.all():
        cats.append(Category("excluded", "未通过筛选", excluded))
    if "stable_topk" in frame.columns and frame["stable_topk"].fillna(False).astype(bool).any():
        cats.append(Category("stable", "稳定入选前k", top))
    return LayerStyle(layer.name, "", "", high, attr, tuple(cats), label="name")


def _isochrones(layer: OutputLayer) -> LayerStyle:
    bands = sorted(_number(layer.frame, "band_min").dropna().unique())

    def sym(color: str) -> Sym:
        return Sym("fill", color, "#08519c", 0.6, opacity=0.3)

    whole = all(float(b).is_integer() for b in bands)
    attr = f"to_string(to_int({expr_field('band_min')}))" if whole else "band_min"
    cats = tuple(
        Category(
            str(int(b)) if whole else repr(float(b)), f"{b:g} 分钟内", sym(BAND_COLORS[min(i, len(BAND_COLORS) - 1)])
        )
        for i, b in enumerate(bands)
    )
    return LayerStyle(layer.name, "", "", sym(_OTHER), attr, cats)


def _flows(layer: OutputLayer) -> LayerStyle:
    hh = _number(layer.frame, "households").clip(lower=0)
    hmax = float(hh.max()) if hh.notna().any() and float(hh.max()) > 0 else 1.0
    width = f"round(1.5 + 7 * sqrt(max(0, coalesce({expr_field('households')}, 1)) / {hmax!r}), 2)"
    return LayerStyle(layer.name, "", "", Sym("line", "#e6550d", width=4, opacity=0.75, dd={"outlineWidth": width}))


def _constraints(layer: OutputLayer) -> LayerStyle:
    def sym(color: str) -> Sym:
        if layer.family == "points":
            return Sym("marker", color, color, 1, 8, opacity=0.9)
        return Sym("fill", color, color, 1, opacity=0.35)

    known = {k: (zh, sym(color)) for k, (zh, color) in D.CONSTRAINT_STYLE.items()}
    cats = _kind_categories(layer.frame, "kind", known, sym(_OTHER))
    return LayerStyle(layer.name, "", "", sym(_OTHER), "kind", cats)


def _roads(layer: OutputLayer, column: str = "road_class") -> LayerStyle:
    known = {k: (zh, Sym("line", color, width=w, opacity=0.9)) for k, (zh, color, w) in D.ROAD_STYLE.items()}
    fallback = Sym("line", _OTHER, width=1.2, opacity=0.9)
    return LayerStyle(layer.name, "", "", fallback, column, _kind_categories(layer.frame, column, known, fallback))


def _water(layer: OutputLayer) -> LayerStyle:
    if layer.family == "areas":
        return LayerStyle(layer.name, "", "", Sym("fill", "#7fcdbb", "#2c7fb8", 1, opacity=0.6), label="name")
    if layer.family == "points":
        return LayerStyle(layer.name, "", "", Sym("marker", "#41b6c4", "#08306b", 1, 10))
    line = {
        k: (zh, Sym("line", "#2c7fb8", width=1.2 if k == "stream" else 2.2, opacity=0.9))
        for k, zh in D.WATER_ZH.items()
    }
    fallback = Sym("line", "#2c7fb8", width=2.2, opacity=0.9)
    return LayerStyle(
        layer.name, "", "", fallback, "kind", _kind_categories(layer.frame, "kind", line, fallback), label="name"
    )


def _facilities(layer: OutputLayer) -> LayerStyle:
    def sym(color: str, glyph: str) -> Sym:
        return Sym("marker", color, "#222222", 1, 17, shape="square", glyph=glyph)

    known = {k: (zh, sym(color, glyph)) for k, (zh, glyph, color) in D.FACILITY_ZH.items()}
    fallback = sym("#555555", "设")
    return LayerStyle(
        layer.name, "", "", fallback, "kind", _kind_categories(layer.frame, "kind", known, fallback), label="name"
    )


def _boundaries(layer: OutputLayer) -> LayerStyle:
    township = Sym("fill", "#ffffff", "#444444", 1.8, opacity=0.02, dash=(6, 4))
    county = Sym("fill", "#ffffff", "#444444", 3.5, opacity=0.02)
    levels = _values(layer.frame, "level")
    if not levels:
        return LayerStyle(layer.name, "", "", township, label="name")
    cats = [Category("county", "县界", county)] if "county" in levels else []
    cats += [Category(v, "乡镇界" if v == "township" else v, township) for v in levels if v != "county"]
    return LayerStyle(layer.name, "", "", township, "level", tuple(cats), label="name")


#: Output layer (source name) -> (Chinese name, group, shown when the project opens).
LAYER_TITLES: dict[str, tuple[str, str, bool]] = {
    "input_boundaries": ("乡镇界", "基础地理", True),
    "input_roads": ("道路", "基础地理", True),
    "input_water": ("水系", "基础地理", True),
    "input_facilities": ("公共设施", "现状设施", True),
    "input_power": ("电力", "现状设施", False),
    "isochrones": ("等时圈", "现状设施", False),
    "input_constraints": ("限制区", "限制因素", False),
    "input_candidates": ("候选安置点", "选址评价", False),
    "site_access": ("安置点可达性", "选址评价", False),
    "sites": ("安置点", "选址评价", True),
    "input_villages": ("村庄", "搬迁安置", False),
    "village_access": ("村庄（可达性）", "搬迁安置", True),
    "allocation_flows": ("搬迁去向", "搬迁安置", True),
    "placement_destinations": ("集中供养与周转房", "搬迁安置", True),
    **{k: (zh, "规划建设", True) for k, (zh, _en, _c) in PLAN_STYLE.items()},
}
#: Chinese names of the splits of a mixed layer, as the web map names them.
SPLIT_TITLES: dict[tuple[str, str], str] = {
    ("input_water", "lines"): "河流",
    ("input_water", "areas"): "水域",
    ("input_water", "points"): "水源",
    ("input_power", "lines"): "电力线",
    ("input_power", "points"): "变电站",
    ("input_constraints", "areas"): "限制区",
    ("input_constraints", "points"): "灾害点",
}
_FAMILY_ZH = {"points": "点", "lines": "线", "areas": "面", "collections": "集合"}


def style_for(layer: OutputLayer, *, unserved: Iterable[str] = ()) -> LayerStyle:
    """The web map's style of one output layer (a plain grey symbol for layers the web map does not draw)."""
    src = layer.source
    if src in ("input_villages", "village_access"):
        st = _villages(layer, unserved)
    elif src in ("sites", "input_candidates", "site_access"):
        st = _sites(layer)
    elif src == "isochrones":
        st = _isochrones(layer)
    elif src == "allocation_flows":
        st = _flows(layer)
    elif src == "input_constraints":
        st = _constraints(layer)
    elif src == "input_roads":
        st = _roads(layer)
    elif src == "input_water":
        st = _water(layer)
    elif src == "input_facilities":
        st = _facilities(layer)
    elif src == "input_power":
        st = LayerStyle(
            layer.name,
            "",
            "",
            Sym("line", "#6a3d9a", width=1.5, dash=(8, 3))
            if layer.family == "lines"
            else Sym("marker", "#cab2d6", "#6a3d9a", 2, 12),
            label="name" if layer.family == "points" else None,
        )
    elif src == "input_boundaries":
        st = _boundaries(layer)
    elif src in PLAN_STYLE:
        color = PLAN_STYLE[src][2]
        st = LayerStyle(layer.name, "", "", Sym("line", color, width=3.5, opacity=0.95, dash=(10, 6)))
    else:
        kind = _GEOM_OF_FAMILY.get(layer.family or "", "marker")
        st = LayerStyle(
            layer.name, "", "", Sym(kind, _OTHER, "#636363" if kind != "line" else None, 1.2, 8, opacity=0.6)
        )
    title, group, visible = LAYER_TITLES.get(src, (src, "其他", True))
    if layer.name != src and layer.family is not None:
        title = SPLIT_TITLES.get((src, layer.family), f"{title}（{_FAMILY_ZH[layer.family]}）")
    if st.label is not None and st.label not in layer.frame.columns:
        st = _replace(st, label=None)
    return _replace(st, title=title, group=group, visible=visible)


def _replace(style: LayerStyle, **changes: Any) -> LayerStyle:
    import dataclasses

    return dataclasses.replace(style, **changes)


def styles(layers: Mapping[str, OutputLayer], *, unserved: Iterable[str] = ()) -> dict[str, LayerStyle]:
    """The style of every layer with a geometry, by layer name."""
    ids = list(unserved)
    return {name: style_for(layer, unserved=ids) for name, layer in layers.items() if layer.family in _QGIS_GEOMETRY}


def layer_styles(layers: Mapping[str, OutputLayer], *, unserved: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Rows of QGIS's ``layer_styles`` table: one default style (QML) per layer with a geometry.

    ``unserved`` holds the ids of relocating villages left without a site (drawn in their own colour).
    """
    rows = []
    for name, st in styles(layers, unserved=unserved).items():
        rows.append(
            {
                "f_table_catalog": "",
                "f_table_schema": "",
                "f_table_name": name,
                "f_geometry_column": GPKG_GEOMETRY_COLUMN,
                "styleName": STYLE_NAME,
                "styleQML": qml(st, layers[name].family),
                "styleSLD": "",
                "useAsDefault": True,
                "description": f"geofupin：{st.title}（与网页地图相同的符号）",
                "owner": "",
                "ui": "",
            }
        )
    return rows


# ------------------------------------------------------------------------------------------ project
def _spatialrefsys(crs: CRS) -> ET.Element:
    srs = XmlNode("spatialrefsys", nativeFormat="Wkt")
    ET.SubElement(srs, "wkt").text = crs.to_wkt()
    with warnings.catch_warnings():  # pyproj warns that a PROJ string loses detail: QGIS reads the WKT first
        warnings.simplefilter("ignore", UserWarning)
        proj4 = crs.to_proj4() or ""
        acronym = str(crs.to_dict().get("proj") or "") if crs.is_projected else "longlat"
    ET.SubElement(srs, "proj4").text = proj4
    auth = crs.to_authority()
    ET.SubElement(srs, "srsid").text = "0"
    ET.SubElement(srs, "srid").text = auth[1] if auth else "0"
    ET.SubElement(srs, "authid").text = f"{auth[0]}:{auth[1]}" if auth else ""
    ET.SubElement(srs, "description").text = xml_text(crs.name)
    ET.SubElement(srs, "projectionacronym").text = acronym
    ET.SubElement(srs, "ellipsoidacronym").text = ""
    ET.SubElement(srs, "geographicflag").text = "true" if crs.is_geographic else "false"
    return srs


def layer_id(name: str) -> str:
    """A stable QGIS layer id for a layer name (equal runs give equal projects)."""
    return "gfp_" + uuid.uuid5(uuid.NAMESPACE_URL, "geofupin:" + name).hex


def datasource(gpkg: str, layer: str) -> str:
    """The OGR data source of a layer of the GeoPackage beside the project (a relative path)."""
    return f"./{gpkg}|layername={layer}"


def project_xml(
    layers: Mapping[str, OutputLayer],
    *,
    crs: Any,
    title: str,
    gpkg: str = "results.gpkg",
    unserved: Iterable[str] = (),
) -> str:
    """The QGIS project document (``.qgs``) for ``layers`` of the GeoPackage ``gpkg`` beside it."""
    crs = CRS.from_user_input(crs)
    sts = styles(layers, unserved=unserved)
    root = XmlNode("qgis", projectname=xml_text(title), version=QGIS_VERSION, saveUser="", saveUserFull="")
    ET.SubElement(root, "homePath", path="")
    ET.SubElement(root, "title").text = xml_text(title)
    ET.SubElement(root, "projectCrs").append(_spatialrefsys(crs))
    tree = ET.SubElement(root, "layer-tree-group")
    ET.SubElement(tree, "customproperties")
    by_group: dict[str, list[str]] = {g: [] for g in GROUPS}
    for name, st in sts.items():
        by_group[st.group if st.group in by_group else "其他"].append(name)
    order: list[str] = []  # drawing order, top first: points over lines over areas within a group
    rank = {"points": 0, "lines": 1, "areas": 2, "collections": 3}
    for group in GROUPS:
        names = by_group[group]
        if not names:
            continue
        g = ET.SubElement(tree, "layer-tree-group", name=group, checked="Qt::Checked", expanded="1")
        ET.SubElement(g, "customproperties")
        for name in names:
            st = sts[name]
            ET.SubElement(
                g,
                "layer-tree-layer",
                id=layer_id(name),
                name=xml_text(st.title),
                source=xml_text(datasource(gpkg, name)),
                providerKey="ogr",
                checked="Qt::Checked" if st.visible else "Qt::Unchecked",
                expanded="1",
            )
    for group in reversed(GROUPS[:-1]):  # the last groups (plans, relocation) draw on top
        order += sorted(by_group[group], key=lambda n: rank.get(layers[n].family or "", 9))
    order = sorted(by_group["其他"], key=lambda n: rank.get(layers[n].family or "", 9)) + order
    canvas = ET.SubElement(tree, "custom-order", enabled="1")
    for name in order:
        ET.SubElement(canvas, "item").text = layer_id(name)
    project_layers = ET.SubElement(root, "projectlayers")
    for name, st in sts.items():
        fam = layers[name].family or "points"
        geom = _QGIS_GEOMETRY[fam][0]
        ml = ET.SubElement(
            project_layers,
            "maplayer",
            type="vector",
            geometry=geom,
            wkbType=xml_text(layers[name].geometry_type or geom).replace(" ", ""),
            labelsEnabled="1" if st.label else "0",
            styleCategories="AllStyleCategories",
            hasScaleBasedVisibilityFlag="0",
            minScale="100000000",
            maxScale="0",
            readOnly="0",
            autoRefreshEnabled="0",
            autoRefreshTime="0",
            simplifyDrawingHints="1",
            simplifyDrawingTol="1",
            simplifyLocal="1",
            simplifyAlgorithm="0",
            simplifyMaxScale="1",
        )
        ET.SubElement(ml, "id").text = layer_id(name)
        ET.SubElement(ml, "datasource").text = xml_text(datasource(gpkg, name))
        ET.SubElement(ml, "layername").text = xml_text(st.title)
        ET.SubElement(ml, "srs").append(_spatialrefsys(crs))
        ET.SubElement(ml, "provider", encoding="UTF-8").text = "ogr"
        ml.append(renderer_element(st))
        lab = labeling_element(st)
        if lab is not None:
            ml.append(lab)
        ET.SubElement(ml, "layerGeometryType").text = str(_QGIS_GEOMETRY[fam][1])
    lo = ET.SubElement(root, "layerorder")
    for name in order:
        ET.SubElement(lo, "layer", id=layer_id(name))
    props = ET.SubElement(root, "properties")
    paths = ET.SubElement(props, "Paths")
    ET.SubElement(paths, "Absolute", type="bool").text = "false"
    ET.SubElement(props, "Measurement")
    srs_props = ET.SubElement(props, "SpatialRefSys")  # QGIS before 3.28 reads <projectCrs> only with this set
    ET.SubElement(srs_props, "ProjectionsEnabled", type="int").text = "1"
    root.append(_canvas(layers, crs))
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(root, encoding="unicode")


def _canvas(layers: Mapping[str, OutputLayer], crs: CRS) -> ET.Element:
    """The map canvas's first view: every layer's extent, in the project CRS."""
    canvas = XmlNode("mapcanvas", name="theMapCanvas", annotationsVisible="1")
    ET.SubElement(canvas, "units").text = "meters" if crs.is_projected else "degrees"
    bounds = [layer.frame.total_bounds for layer in layers.values() if layer.family is not None and len(layer.frame)]
    finite = [b for b in bounds if all(math.isfinite(float(x)) for x in b)]
    if finite:
        b = np.array(finite, dtype=float)
        ext = ET.SubElement(canvas, "extent")
        for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), (*b[:, :2].min(0), *b[:, 2:].max(0)), strict=True):
            ET.SubElement(ext, tag).text = repr(float(value))
    ET.SubElement(canvas, "rotation").text = "0"
    ET.SubElement(canvas, "destinationsrs").append(_spatialrefsys(crs))
    return canvas


#: Name of the project document inside the ``.qgz``.
QGS_NAME = "results.qgs"


def project_qgz(
    layers: Mapping[str, OutputLayer],
    *,
    crs: Any,
    title: str,
    gpkg: str = "results.gpkg",
    unserved: Iterable[str] = (),
) -> bytes:
    """The QGIS project as a ``.qgz`` (a zip holding :data:`QGS_NAME`); timestamps pinned, equal runs equal bytes."""
    text = project_xml(layers, crs=crs, title=title, gpkg=gpkg, unserved=unserved)
    buf = _bytesio.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo(QGS_NAME, date_time=(2016, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, text.encode("utf-8"))
    return buf.getvalue()
