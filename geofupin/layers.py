"""Layer schemas, Chinese/English column aliases, validation and normalisation.

Each layer kind (villages, roads, ...) has a :class:`LayerSchema`: its id column, allowed
geometry types and columns with types, aliases (户数 -> households, 村名 -> name, ...) and,
for closed choices, the allowed values with their Chinese aliases (县道 -> county).

:func:`prepare_layers` turns the raw frames read by :mod:`geofupin.io` into a validated
:class:`~geofupin.context.Layers` in one metric CRS. It checks everything before it stops and
raises one :class:`~geofupin.errors.LayerError` listing every problem: missing CRS, missing or
mistyped columns, wrong geometry type, invalid geometry (repaired, with a warning naming the
feature), empty layer, duplicate ids, negative counts, persons < households, features outside
the study area. Each problem names the layer, the feature id and the fix.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from ._schema import suggest
from .context import Layers
from .crs import WGS84, choose_metric_crs, datum_shift_warning, legacy_datum, shared_gauss_kruger
from .errors import CRSError, LayerError, Problems
from .landuse import constraint_kind_aliases
from .landuse import lookup as landuse_lookup
from .scenario import KindFrom
from .vocabulary import (
    BOUNDARY_LEVEL_ALIASES,
    BOUNDARY_LEVELS,
    CONSTRAINT_KIND_ALIASES,
    CONSTRAINT_KINDS,
    FACILITY_KIND_ALIASES,
    FACILITY_KINDS,
    LAYER_KINDS,
    ONEWAY_ALIASES,
    ONEWAY_DIRECTIONS,
    POWER_KIND_ALIASES,
    POWER_KINDS,
    ROAD_CLASS_ALIASES,
    ROAD_CLASSES,
    SURFACE_ALIASES,
    SURFACES,
    TIER_ALIASES,
    TIERS,
    WATER_KIND_ALIASES,
    WATER_KINDS,
)
from .vocabulary import field_name_aliases as _export_names  # names of columns in geofupin exports

log = logging.getLogger(__name__)

ColumnType = Literal["str", "int", "float", "bool"]
GeomFamily = Literal["point", "line", "polygon"]


@dataclass(frozen=True)
class Column:
    """One column of a layer schema."""

    name: str
    type: ColumnType
    required: bool = False
    aliases: tuple[str, ...] = ()
    allowed: tuple[str, ...] | None = None
    value_aliases: Mapping[str, str] | None = None
    non_negative: bool = False
    description: str = ""


@dataclass(frozen=True)
class LayerSchema:
    """Schema of one layer kind."""

    kind: str
    name_zh: str
    id_column: str
    geometry: tuple[GeomFamily, ...]
    columns: tuple[Column, ...]
    required: bool = False

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


_ID_ALIASES = ("id", "fid_", "编号", "代码", "code")
_NAME_ALIASES = ("名称", "名字", "name_zh")
_NAME_EN_ALIASES = ("英文名", "拼音", "pinyin", "name_pinyin")


def _id(name: str, *extra: str) -> Column:
    return Column(name, "str", aliases=(*extra, *_ID_ALIASES), description="unique id (text)")


def _count(name: str, *aliases: str, required: bool = False) -> Column:
    return Column(name, "int", required=required, aliases=aliases, non_negative=True)


SCHEMAS: dict[str, LayerSchema] = {
    "villages": LayerSchema(
        "villages",
        "村庄",
        "village_id",
        ("point",),
        (
            _id("village_id", "村编码", "村代码", "行政区划代码"),
            Column("name", "str", True, ("村名", "村名称", "村庄", "village", "village_name", *_NAME_ALIASES)),
            Column("name_en", "str", aliases=_NAME_EN_ALIASES),
            Column("township", "str", aliases=("乡镇", "乡镇名称", "乡", "镇", "town")),
            Column("group", "str", aliases=("村民小组", "小组", "组")),
            _count("households", "户数", "总户数", "hh", required=True),
            _count("persons", "人数", "总人数", "人口", "总人口", "population", "pop", required=True),
            _count("poor_households", "贫困户数", "贫困户", "建档立卡户数"),
            _count("poor_persons", "贫困人数", "贫困人口", "建档立卡人数"),
            _count("relocate_households", "搬迁户数", "搬迁户", "relocation_households"),
            _count("relocate_persons", "搬迁人数", "搬迁人口", "relocation_persons"),
            Column("income_per_capita", "float", aliases=("人均纯收入", "人均收入", "income"), non_negative=True),
            Column("poverty_cause", "str", aliases=("致贫原因", "cause")),
            Column("elevation_m", "float", aliases=("海拔", "高程", "elevation")),
        ),
        required=True,
    ),
    "roads": LayerSchema(
        "roads",
        "道路",
        "road_id",
        ("line",),
        (
            _id("road_id", "osm_id", "路线编号"),
            Column(  # optional: roads with no class and no speed_kph get the default speed, with a warning
                "road_class",
                "str",
                False,
                ("class", "等级", "道路等级", "公路等级", "行政等级", "highway"),
                ROAD_CLASSES,
                ROAD_CLASS_ALIASES,
            ),
            Column("name", "str", aliases=("路名", *_NAME_ALIASES)),
            Column("speed_kph", "float", aliases=("speed", "设计速度", "速度", "限速", "maxspeed"), non_negative=True),
            Column(
                "surface",
                "str",
                aliases=("路面", "路面类型"),
                allowed=SURFACES,
                value_aliases=SURFACE_ALIASES,
            ),
            Column(
                "oneway",
                "str",
                aliases=("单行", "单向"),
                allowed=ONEWAY_DIRECTIONS,
                value_aliases=ONEWAY_ALIASES,
            ),
            Column("bridge", "bool", aliases=("桥梁", "桥")),
            Column("tunnel", "bool", aliases=("隧道",)),
            Column("layer", "int", aliases=("层",)),
        ),
    ),
    "water": LayerSchema(
        "water",
        "水源",
        "water_id",
        ("point", "line", "polygon"),
        (
            _id("water_id"),
            Column(
                "kind",
                "str",
                True,
                ("类型", "type", "waterway"),
                WATER_KINDS,
                WATER_KIND_ALIASES,
            ),
            Column("name", "str", aliases=_NAME_ALIASES),
            Column("name_en", "str", aliases=_NAME_EN_ALIASES),
        ),
    ),
    "power": LayerSchema(
        "power",
        "电力",
        "power_id",
        ("point", "line"),
        (
            _id("power_id"),
            Column(
                "kind",
                "str",
                True,
                ("类型", "type", "power"),
                POWER_KINDS,
                POWER_KIND_ALIASES,
            ),
            Column("voltage_kv", "float", aliases=("电压", "电压等级", "voltage", "kv"), non_negative=True),
            Column("name", "str", aliases=_NAME_ALIASES),
        ),
    ),
    "facilities": LayerSchema(
        "facilities",
        "公共设施",
        "facility_id",
        ("point",),
        (
            _id("facility_id"),
            Column(
                "kind",
                "str",
                True,
                ("类型", "设施类型", "type", "amenity"),
                FACILITY_KINDS,
                FACILITY_KIND_ALIASES,
            ),
            Column("name", "str", aliases=_NAME_ALIASES),
            Column("name_en", "str", aliases=_NAME_EN_ALIASES),
            Column("township", "str", aliases=("乡镇",)),
            Column("capacity", "float", aliases=("容量", "学位", "床位"), non_negative=True),
        ),
    ),
    "constraints": LayerSchema(
        "constraints",
        "限制区",
        "constraint_id",
        ("point", "polygon"),
        (
            _id("constraint_id"),
            Column(
                "kind",
                "str",
                True,
                ("类型", "type"),
                CONSTRAINT_KINDS,
                {**CONSTRAINT_KIND_ALIASES, **constraint_kind_aliases()},  # 旱地, 0103 ... -> basic_farmland
            ),
            Column("name", "str", aliases=_NAME_ALIASES),
        ),
    ),
    "candidates": LayerSchema(
        "candidates",
        "候选安置点",
        "site_id",
        ("polygon",),
        (
            _id("site_id", "安置点编号"),
            Column("name", "str", True, ("安置点", "安置点名称", *_NAME_ALIASES)),
            Column("name_en", "str", aliases=_NAME_EN_ALIASES),
            Column(
                "tier",
                "str",
                False,
                ("层级", "类型", "安置类型", "type"),
                TIERS,
                TIER_ALIASES,
            ),
            Column("township", "str", aliases=("乡镇",)),
            Column("planned_area_m2", "float", aliases=("规划面积", "面积"), non_negative=True),
        ),
    ),
    "boundaries": LayerSchema(
        "boundaries",
        "行政界线",
        "boundary_id",
        ("polygon",),
        (
            _id("boundary_id"),
            Column("name", "str", True, ("乡镇", "乡镇名称", *_NAME_ALIASES)),
            Column("name_en", "str", aliases=_NAME_EN_ALIASES),
            Column(
                "level",
                "str",
                False,
                ("级别", "层级"),
                BOUNDARY_LEVELS,
                BOUNDARY_LEVEL_ALIASES,
            ),
        ),
    ),
}

_GEOM_FAMILY = {
    "Point": "point",
    "MultiPoint": "point",
    "LineString": "line",
    "MultiLineString": "line",
    "LinearRing": "line",
    "Polygon": "polygon",
    "MultiPolygon": "polygon",
}

#: Layers whose features must lie inside the study area (lines may run beyond it).
_INSIDE_REQUIRED = ("villages", "facilities", "candidates")

#: Tolerance when checking features against the study area (metres).
STUDY_AREA_TOLERANCE_M = 50.0


def _fid(gdf: gpd.GeoDataFrame, schema: LayerSchema, i: int) -> str:
    """Feature id for messages: the id column's value, or the 1-based row number."""
    if schema.id_column in gdf.columns:
        v = gdf[schema.id_column].iloc[i]
        if v is not None and not (isinstance(v, float) and np.isnan(v)):
            return str(v)
    return f"row {i + 1}"


def _ids(gdf: gpd.GeoDataFrame, schema: LayerSchema, mask: np.ndarray, limit: int = 10) -> str:
    idx = np.flatnonzero(mask)
    shown = ", ".join(_fid(gdf, schema, int(i)) for i in idx[:limit])
    return shown + (f" and {len(idx) - limit} more" if len(idx) > limit else "")


def rename_columns(
    gdf: gpd.GeoDataFrame, schema: LayerSchema, *, columns: Mapping[str, str] | None = None
) -> tuple[gpd.GeoDataFrame, dict[str, str]]:
    """Rename Chinese/English alias columns (and a user mapping) to canonical names.

    Returns the renamed copy and the applied mapping ``{original: canonical}``.
    """
    mapping: dict[str, str] = {}
    geometry = gdf.geometry.name if len(gdf.columns) else None  # once, not a GeoSeries made a column
    present = {str(c): c for c in gdf.columns if c != geometry}
    lowered = {k.strip().lower(): v for k, v in present.items()}
    for src, dst in (columns or {}).items():
        if src in present:
            mapping[present[src]] = dst
    taken = set(mapping.values())
    for col in schema.columns:
        if col.name in present or col.name in taken:
            continue
        shp_name = col.name[:10]  # Shapefile .dbf cuts field names to 10 characters
        for alias in (*col.aliases, shp_name, *_export_names(col.name)):  # reloc_hh, group_ (FileGDB)
            found = present.get(alias, lowered.get(alias.lower()))
            if found is not None and found not in mapping and str(found) not in {c.name for c in schema.columns}:
                mapping[found] = col.name
                taken.add(col.name)
                break
    return gdf.rename(columns=mapping), {str(k): v for k, v in mapping.items()}


def validate_layer(
    gdf: gpd.GeoDataFrame,
    kind: str,
    problems: Problems,
    *,
    columns: Mapping[str, str] | None = None,
    source: str | None = None,
) -> gpd.GeoDataFrame | None:
    """Check and normalise one raw layer; add every problem found to ``problems``.

    Parameters
    ----------
    gdf
        The layer as read (any CRS, any column names). Not modified.
    kind
        Layer kind, a key of :data:`SCHEMAS`.
    problems
        Collector for every problem.
    columns
        Extra column renames ``{source_name: canonical_name}`` from the scenario.
    source
        File name for messages.

    Returns
    -------
    The normalised copy (canonical columns, typed values, repaired geometry, fresh index)
    in its original CRS, or ``None`` when an error makes it unusable.

    Notes
    -----
    Numbers: text that is not a number, ``inf``, and (in integer columns) fractional
    values are errors naming the features; counts are never rounded. A village count above
    :data:`MAX_COUNTS` (1,000,000 persons or households for one village or group) is an error,
    as is any integer beyond :data:`MAX_WHOLE`. Geometry: see :func:`_check_geometry`.
    """
    schema = SCHEMAS[kind]
    where = kind if source is None else f"{kind} ({source})"
    before = len(problems.errors)
    known = [c.name for c in schema.columns]
    for src, dst in (columns or {}).items():
        if dst not in known:
            problems.add(
                f"{where} columns",
                f"'{src}: {dst}' maps onto '{dst}', which is not a {kind} column{suggest(dst, known)}.",
                f"Map onto one of {', '.join(known)}.",
            )
    if len(gdf) == 0:
        problems.add(where, "the layer is empty.", "Give at least one feature, or remove the layer from the scenario.")
        return None
    if gdf.crs is None:
        prj = f"{Path(source).stem}.prj" if source is not None and source.lower().endswith(".shp") else None
        problems.add(
            where,
            "the layer has no CRS" + (f" (the Shapefile's {prj} is missing)." if prj else "."),
            (f"Copy {prj} beside the .shp, or s" if prj else "S")
            + "ave it with a CRS (e.g. EPSG:4490 for CGCS2000 lon/lat) or set 'crs:' for this layer in the scenario.",
        )
    out, _ = rename_columns(gdf.reset_index(drop=True), schema, columns=columns)
    out = out.copy()

    # ids --------------------------------------------------------------------------
    idc = schema.id_column
    if idc not in out.columns:
        out[idc] = [f"{kind[:-1] if kind.endswith('s') else kind}-{i + 1}" for i in range(len(out))]
        problems.add(
            where,
            f"no id column '{idc}'; ids were made from row numbers.",
            f"Add a unique '{idc}' column so results can be joined back.",
            severity="warning",
        )
    else:
        ids = out[idc]
        missing = ids.isna().to_numpy()
        if missing.any():
            problems.add(
                where,
                f"{int(missing.sum())} feature(s) have no {idc} (rows "
                f"{', '.join(str(i + 1) for i in np.flatnonzero(missing)[:10])}).",
                f"Give every feature a unique '{idc}'.",
            )
        as_text = ids.map(_id_text)
        out[idc] = as_text
        dup = as_text.duplicated(keep=False).to_numpy() & ~missing
        if dup.any():
            vals = sorted(set(as_text[dup]))
            problems.add(
                where,
                f"duplicate {idc}: {', '.join(vals[:10])}" + (" ..." if len(vals) > 10 else "") + ".",
                f"Make '{idc}' unique.",
                feature_id=vals[0],
            )

    # columns ----------------------------------------------------------------------
    for col in schema.columns:
        if col.name == idc:
            continue
        if col.name not in out.columns:
            if col.required:
                others = [str(c) for c in out.columns if c not in (idc, out.geometry.name)]
                problems.add(
                    where,
                    f"missing column '{col.name}'{suggest(col.name, others)}; "
                    f"accepted names: {', '.join((col.name, *col.aliases))}.",
                    f"Add a '{col.name}' column, or map yours with 'columns: {{your_name: {col.name}}}'.",
                )
            continue
        out[col.name] = _coerce(out, col, schema, where, problems)

    # geometry ---------------------------------------------------------------------
    out = _check_geometry(out, schema, where, problems)
    types = out.geometry.geom_type.fillna("None").to_numpy()
    wrong = ~np.isin(np.array([_GEOM_FAMILY.get(t, "other") for t in types]), schema.geometry)
    multi_pts = (types == "MultiPoint") & ~wrong
    if multi_pts.any():
        new = np.asarray(out.geometry.values, dtype=object).copy()
        with np.errstate(all="ignore"):  # the mean of the points, in the layer's own CRS
            new[multi_pts] = shapely.centroid(new[multi_pts])
        out = out.set_geometry(gpd.GeoSeries(new, crs=out.crs, index=out.index))
        problems.add(
            where,
            f"{int(multi_pts.sum())} MultiPoint feature(s) replaced by their centroid: {_ids(out, schema, multi_pts)}.",
            "Store one point per feature.",
            severity="warning",
        )

    # counts -----------------------------------------------------------------------
    if kind == "villages":
        _check_village_counts(out, schema, where, problems)
    if len(problems.errors) > before:
        return None
    return out


#: Largest coordinate magnitude accepted in any CRS: 10^9 (metres: 25 times the Earth's circumference).
MAX_ABS_COORDINATE = 1e9

#: Largest whole number accepted in any integer column (2**53: larger floats are not exact integers).
MAX_WHOLE = 2**53

#: Ceiling on the counts of one village (or 村民小组): above it the value is refused as an error.
#: The most populous administrative villages of China hold a few tens of thousands of people;
#: 1,000,000 is far above any village and keeps every total and every solver coefficient exact.
#: Counts must be whole numbers: a fractional count (12.5 households) is refused, never rounded.
MAX_COUNTS: dict[str, int] = {
    c: 1_000_000
    for c in (
        "households",
        "persons",
        "poor_households",
        "poor_persons",
        "relocate_households",
        "relocate_persons",
    )
}


def _check_geometry(out: gpd.GeoDataFrame, schema: LayerSchema, where: str, problems: Problems) -> gpd.GeoDataFrame:
    """Check and repair the geometry column; return the frame without degenerate features.

    Errors (the feature is unusable): no geometry (None or empty); a coordinate that is NaN
    or infinite; in a longitude/latitude CRS, a coordinate outside -180..180 / -90..90; in a
    metric CRS, a layer whose every coordinate looks like degrees; a wrong geometry type.
    Repaired with a warning: invalid geometry (``make_valid``, keeping the layer's geometry
    family). Dropped with a warning naming the ids: degenerate features, i.e. lines of zero
    length and polygons of zero area (also those that collapse when repaired); an error when
    no feature is left.
    """
    geom = out.geometry
    vals = np.asarray(geom.values, dtype=object)
    n = len(out)
    empty = (geom.isna() | geom.is_empty).to_numpy()
    if empty.any():
        problems.add(
            where,
            f"{int(empty.sum())} feature(s) have no geometry: {_ids(out, schema, empty)}.",
            "Give each feature a location, or delete it.",
            feature_id=_fid(out, schema, int(np.flatnonzero(empty)[0])),
        )
    xy, owner = shapely.get_coordinates(vals, return_index=True)
    with np.errstate(invalid="ignore"):
        finite_xy = (np.abs(xy) <= MAX_ABS_COORDINATE).all(axis=1)  # False for NaN and inf too
    nonfinite = np.zeros(n, dtype=bool)
    nonfinite[owner[~finite_xy]] = True
    if nonfinite.any():
        first = int(np.flatnonzero(nonfinite)[0])
        x, y = xy[np.flatnonzero(~finite_xy & (owner == first))[0]]
        problems.add(
            where,
            f"{int(nonfinite.sum())} feature(s) have a coordinate that is not a finite number or absurdly large "
            f"(e.g. x={x:g}, y={y:g}; no CRS goes beyond {MAX_ABS_COORDINATE:g}): {_ids(out, schema, nonfinite)}.",
            "Correct or delete those vertices in a GIS (NaN or inf usually come from an empty cell or a failed "
            "calculation in the source data).",
            feature_id=_fid(out, schema, first),
        )
    unusable = empty | nonfinite
    crs = out.crs
    label = _crs_label(crs)
    if crs is not None and crs.is_geographic:
        off_pt = finite_xy & ((np.abs(xy[:, 0]) > 180.0) | (np.abs(xy[:, 1]) > 90.0))
        off = np.zeros(n, dtype=bool)
        off[owner[off_pt]] = True
        off &= ~unusable
        if off.any():
            first = int(np.flatnonzero(off)[0])
            x, y = xy[np.flatnonzero(off_pt & (owner == first))[0]]
            if abs(x) <= 90.0 and abs(y) <= 180.0:
                hint, fix = (
                    "lon/lat swapped?",
                    "Swap the two coordinates: x is the longitude (73-135 in China), y the latitude (18-54).",
                )
            else:
                hint, fix = (
                    "they look like metres of a projected CRS.",
                    f"Declare the layer's true (metric) CRS instead of {label}, e.g. EPSG:4545, in the file.",
                )
            problems.add(
                where,
                f"{int(off.sum())} feature(s) lie outside longitude -180..180 / latitude -90..90 although the "
                f"layer's CRS is {label} (e.g. ({x:g}, {y:g})): {_ids(out, schema, off)}; {hint}",
                fix,
                feature_id=_fid(out, schema, first),
            )
            unusable |= off
    if crs is not None and crs.is_projected and (~unusable).any():
        mine = ~unusable[owner] & finite_xy
        pts = xy[mine]
        if len(pts) and (np.abs(pts[:, 0]) <= 180.0).all() and (np.abs(pts[:, 1]) <= 90.0).all():
            problems.add(
                where,
                f"declared CRS {label}, coordinates look like longitude/latitude: every x lies within ±180 and "
                f"every y within ±90 (e.g. ({pts[0, 0]:g}, {pts[0, 1]:g})), i.e. the whole layer would sit "
                "within 200 m of the CRS's origin.",
                "set crs: EPSG:4326 on this layer (or EPSG:4490, CGCS2000): a file that declares no CRS takes "
                "the layer's 'crs:' from the scenario; one that declares the wrong CRS must be re-saved with the "
                "right one (QGIS: Set Layer CRS; GDAL: ogr2ogr -a_srs EPSG:4326 fixed.gpkg this.gpkg).",
            )
            unusable[:] = True
    types = geom.geom_type.fillna("None").to_numpy()
    fam = np.array([_GEOM_FAMILY.get(t, "other") for t in types])
    wrong = (~np.isin(fam, schema.geometry)) & ~unusable
    if wrong.any():
        first = int(np.flatnonzero(wrong)[0])
        problems.add(
            where,
            f"{int(wrong.sum())} feature(s) have geometry type {types[first]} "
            f"({_ids(out, schema, wrong)}); expected {' or '.join(schema.geometry)}.",
            "Convert the geometries (e.g. polygons to points with a centroid) or use the right layer kind.",
            feature_id=_fid(out, schema, first),
        )
    usable = ~(unusable | wrong)
    # degenerate: lines of zero length; polygons that collapse when repaired (a valid polygon has an area)
    degenerate = np.zeros(n, dtype=bool)
    degenerate[usable & (fam == "line")] = shapely.length(vals[usable & (fam == "line")]) <= 0.0
    new = vals.copy()
    check = usable & ~degenerate
    valid = np.ones(n, dtype=bool)
    valid[check] = shapely.is_valid(vals[check])
    bad = np.flatnonzero(~valid)
    if len(bad):
        reasons = shapely.is_valid_reason(vals[bad])
        for i, reason in zip(bad, reasons, strict=True):
            try:
                g = shapely.make_valid(vals[i])
            except shapely.errors.GEOSException as exc:  # a safety net: GEOS refuses some inputs
                problems.add(
                    where,
                    f"invalid geometry ({reason}) that cannot be repaired ({exc}).",
                    "Fix the shape in a GIS, or delete the feature.",
                    feature_id=_fid(out, schema, int(i)),
                )
                usable[i] = False
                continue
            g = _polygonal(g) if fam[i] == "polygon" else _lineal(g) if fam[i] == "line" else g
            if g.is_empty or _GEOM_FAMILY.get(g.geom_type) != fam[i]:
                degenerate[i] = True  # collapses when repaired (a ring of one point, a polygon on a line)
                continue
            new[i] = g
        for i, reason in list(zip(bad, reasons, strict=True))[:20]:
            if usable[i] and not degenerate[i]:
                problems.add(
                    where,
                    f"invalid geometry ({reason}); repaired with make_valid.",
                    "Check the repaired shape, or fix it in a GIS.",
                    feature_id=_fid(out, schema, int(i)),
                    severity="warning",
                )
    out = out.set_geometry(gpd.GeoSeries(new, crs=out.crs, index=out.index))
    if degenerate.any():
        what = "lines of zero length or polygons of zero area"
        if degenerate.sum() == n:
            problems.add(
                where,
                f"every feature is degenerate ({what}): {_ids(out, schema, degenerate)}; nothing usable is left.",
                "Redraw the features (a line needs two distinct points, a polygon a non-zero area).",
                feature_id=_fid(out, schema, int(np.flatnonzero(degenerate)[0])),
            )
        else:
            problems.add(
                where,
                f"{int(degenerate.sum())} degenerate feature(s) ({what}) dropped: {_ids(out, schema, degenerate)}.",
                "Redraw or delete them (a line needs two distinct points, a polygon a non-zero area).",
                feature_id=_fid(out, schema, int(np.flatnonzero(degenerate)[0])),
                severity="warning",
            )
            out = out.loc[~degenerate].reset_index(drop=True)
    return out


def _crs_label(crs: CRS | None) -> str:
    if crs is None:
        return "none"
    epsg = crs.to_epsg()
    return f"EPSG:{epsg} ({crs.name})" if epsg else crs.name


def _lineal(g: BaseGeometry) -> BaseGeometry:
    """Keep only the lineal part of a repaired geometry."""
    if g.geom_type in ("LineString", "MultiLineString"):
        return g
    lines = [q for p in getattr(g, "geoms", [g]) for q in getattr(p, "geoms", [p]) if q.geom_type == "LineString"]
    if not lines:
        return g
    return lines[0] if len(lines) == 1 else shapely.MultiLineString(lines)  # parts keep their direction


def _missing(v: object) -> bool:
    """True for None, NaN and pandas' NA (string columns hold NaN or NA for missing text)."""
    return v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v))


def _id_text(v: object) -> str | None:
    if _missing(v):
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _polygonal(g: BaseGeometry) -> BaseGeometry:
    """Keep only the polygonal part of a repaired geometry."""
    if g.geom_type in ("Polygon", "MultiPolygon"):
        return g
    parts = [p for p in getattr(g, "geoms", [g]) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else g


def _flag(
    mask: np.ndarray,
    out: gpd.GeoDataFrame,
    schema: LayerSchema,
    where: str,
    problems: Problems,
    message: Callable[[int, str], str],
    fix: str,
) -> bool:
    """Report the rows in ``mask`` as one problem; ``message(first, ids)`` words it. True when any row is bad."""
    if not mask.any():
        return False
    first = int(np.flatnonzero(mask)[0])
    problems.add(where, message(first, _ids(out, schema, mask)), fix, feature_id=_fid(out, schema, first))
    return True


def _coerce(out: gpd.GeoDataFrame, col: Column, schema: LayerSchema, where: str, problems: Problems) -> pd.Series:
    s = out[col.name]
    if col.type in ("int", "float"):
        num = pd.to_numeric(s, errors="coerce")
        name = col.name
        bad = (num.isna() & s.notna() & (s.astype(str).str.strip() != "")).to_numpy()
        _flag(
            bad,
            out,
            schema,
            where,
            problems,
            lambda i, ids: (
                f"column '{name}' must be a number; {int(bad.sum())} value(s) are not (e.g. {s.iloc[i]!r}) at {ids}."
            ),
            f"Write plain numbers in '{name}'.",
        )
        inf = np.isinf(num.to_numpy(dtype=float, na_value=np.nan))
        if _flag(
            inf,
            out,
            schema,
            where,
            problems,
            lambda i, ids: f"'{name}' must be a finite number, got {num.iloc[i]} at {ids}.",
            f"Write the real value in '{name}'.",
        ):
            num = num.where(~inf)
            bad = bad | inf  # refused: not reported again as empty
        village_count = schema.kind == "villages" and name in MAX_COUNTS
        ceiling = MAX_COUNTS[name] if village_count else MAX_WHOLE if col.type == "int" else None
        if ceiling is not None:
            big = (num.abs() > ceiling).fillna(False).to_numpy()
            if _flag(
                big,
                out,
                schema,
                where,
                problems,
                lambda i, ids: (
                    f"{name} = {num.iloc[i]:,.0f} at {ids} is beyond the ceiling of {ceiling:,}"
                    + (" for one village (or village group)." if village_count else ".")
                ),
                f"Correct '{name}' (a unit or typing error? an extra digit?)"
                + ("; counts are per village." if village_count else "."),
            ):
                num = num.where(~big)
                bad = bad | big
        if col.non_negative:
            _flag(
                (num < 0).fillna(False).to_numpy(),
                out,
                schema,
                where,
                problems,
                lambda i, ids: f"negative {name} ({num.iloc[i]:g}) at {ids}.",
                f"Counts and sizes cannot be negative: correct '{name}'.",
            )
        if col.type == "int":
            _flag(
                (num.notna() & (num != num.round())).to_numpy(),
                out,
                schema,
                where,
                problems,
                lambda i, ids: f"'{name}' must be a whole number, got {num.iloc[i]!r} at {ids}.",
                "Round the counts.",
            )
            rounded = num.round()
            if rounded.isna().any():
                miss = rounded.isna().to_numpy() & ~bad
                if col.required and miss.any():
                    problems.add(
                        where,
                        f"'{col.name}' is empty at {_ids(out, schema, miss)}.",
                        f"Fill in '{col.name}'.",
                        feature_id=_fid(out, schema, int(np.flatnonzero(miss)[0])),
                    )
                elif col.non_negative and miss.any():
                    problems.add(
                        where,
                        f"'{col.name}' is empty at {_ids(out, schema, miss)}; taken as 0.",
                        f"Fill in '{col.name}'.",
                        severity="warning",
                    )
                    return rounded.fillna(0).astype("int64")
                return rounded.astype("Int64")
            return rounded.astype("int64")
        return num.astype(float)
    if col.type == "bool":
        return s.map(_to_bool).fillna(False).astype(bool)
    text = s.astype(object).map(lambda v: None if _missing(v) else str(v).strip())
    if col.allowed is not None:
        aliases = dict(col.value_aliases or {})
        mapped = text.map(
            lambda v: (
                None
                if _missing(v)
                else aliases.get(v, aliases.get(v.lower(), v.lower() if v.lower() in col.allowed else v))
            )
        )
        bad = (mapped.notna() & ~mapped.isin(col.allowed)).to_numpy()
        if bad.any():
            vals = sorted(set(mapped[bad]))
            first = int(np.flatnonzero(bad)[0])
            problems.add(
                where,
                f"'{col.name}' value(s) {', '.join(repr(v) for v in vals[:8])} not allowed"
                f"{suggest(vals[0], list(col.allowed) + list(aliases))} at {_ids(out, schema, bad)}.",
                f"Use one of {', '.join(col.allowed)} (or the Chinese names {', '.join(list(aliases)[:6])}...).",
                feature_id=_fid(out, schema, first),
            )
        if col.required and mapped.isna().any():
            miss = mapped.isna().to_numpy()
            problems.add(
                where,
                f"'{col.name}' is empty at {_ids(out, schema, miss)}.",
                f"Fill in '{col.name}' ({', '.join(col.allowed)}).",
                feature_id=_fid(out, schema, int(np.flatnonzero(miss)[0])),
            )
        return mapped
    _warn_mojibake(text, col.name, where, problems)
    if col.required and text.isna().any():
        miss = text.isna().to_numpy()
        problems.add(
            where,
            f"'{col.name}' is empty at {_ids(out, schema, miss)}.",
            f"Fill in '{col.name}'.",
            feature_id=_fid(out, schema, int(np.flatnonzero(miss)[0])),
        )
    return text


_LATIN1_RUN = re.compile(r"[\u00c0-\u00ff]{2,}")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _warn_mojibake(text: pd.Series, column: str, where: str, problems: Problems) -> None:
    """Warn when Chinese text was decoded with the wrong encoding (GBK read as Latin-1: 'ÕÅ¼Ò...')."""
    values = text.dropna().astype(str)
    joined = "\n".join(values.tolist())  # neither pattern matches a line feed: searched once for all values
    if values.empty or _CJK.search(joined) is not None or _LATIN1_RUN.search(joined) is None:
        return  # Chinese is there, or no value is garbled
    garbled = values[values.str.contains(_LATIN1_RUN)]
    if len(garbled) >= max(1, len(values) // 5):
        problems.add(
            where,
            f"text in '{column}' looks mis-decoded (e.g. {garbled.iloc[0]!r}): Chinese written in "
            "GBK read as another encoding.",
            "Set 'encoding: GBK' for this layer in the scenario.",
            severity="warning",
        )


def _to_bool(v: object) -> bool | None:
    if _missing(v):
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    t = str(v).strip().lower()
    if t in ("1", "yes", "true", "t", "y", "是", "-1"):
        return True
    if t in ("0", "no", "false", "f", "n", "否", ""):
        return False
    return None


def _check_village_counts(out: gpd.GeoDataFrame, schema: LayerSchema, where: str, problems: Problems) -> None:
    for col in ("poor_households", "poor_persons", "relocate_households", "relocate_persons"):
        if col not in out.columns:
            out[col] = np.zeros(len(out), dtype="int64")
            if col.startswith("relocate"):
                problems.add(
                    where,
                    f"no '{col}' column; taken as 0 (nobody relocates).",
                    f"Add '{col}' (or 搬迁户数/搬迁人数) for the villages that move.",
                    severity="warning",
                )
    pairs = [
        ("persons", "households", "persons < households"),
        ("poor_persons", "poor_households", "poor_persons < poor_households"),
        ("relocate_persons", "relocate_households", "relocate_persons < relocate_households"),
        ("households", "poor_households", "poor_households > households"),
        ("persons", "poor_persons", "poor_persons > persons"),
        ("persons", "relocate_persons", "relocate_persons > persons"),
        ("households", "relocate_households", "relocate_households > households"),
    ]
    if "relocate_persons" in out.columns and "relocate_households" in out.columns:
        rp = pd.to_numeric(out["relocate_persons"], errors="coerce").fillna(0)
        rh = pd.to_numeric(out["relocate_households"], errors="coerce").fillna(0)
        bad = ((rp > 0) & (rh <= 0)).to_numpy()
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            problems.add(
                where,
                f"relocate_persons > 0 but relocate_households = 0 at {_ids(out, schema, bad)}.",
                "Give the number of relocating households (搬迁户数) too: subsidies are paid per household.",
                feature_id=_fid(out, schema, first),
            )
    for big, small, text in pairs:
        if big not in out.columns or small not in out.columns:
            continue
        b = pd.to_numeric(out[big], errors="coerce")
        s = pd.to_numeric(out[small], errors="coerce")
        bad = ((b < s) & (b >= 0) & (s >= 0)).fillna(False).to_numpy()
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            problems.add(
                where,
                f"{text} ({big}={b.iloc[first]:g}, {small}={s.iloc[first]:g}) at {_ids(out, schema, bad)}.",
                f"Correct the counts: {big} must be at least {small}.",
                feature_id=_fid(out, schema, first),
            )


def study_area_of(boundaries: gpd.GeoDataFrame | None, villages: gpd.GeoDataFrame) -> BaseGeometry:
    """The study area: the union of the boundaries, or the villages' hull buffered by 5 km."""
    if boundaries is not None and len(boundaries):
        level = boundaries["level"] if "level" in boundaries.columns else None
        if level is not None and (level == "county").any():
            return shapely.union_all(boundaries.geometry[level == "county"].values)
        return shapely.union_all(boundaries.geometry.values)
    return shapely.convex_hull(shapely.union_all(villages.geometry.values)).buffer(5000.0)


def check_dem(dem: Path, area: BaseGeometry, crs: CRS, problems: Problems) -> None:
    """Check that a DEM exists, is complete (not cut short), holds elevations, has a CRS and covers
    the study area (given in ``crs``)."""
    from .errors import GeofupinError
    from .terrain import dem_info, dem_valid_share

    try:
        info = dem_info(dem)  # also refuses a GeoTIFF cut short
        share, cells = dem_valid_share(dem)  # a decimated read: bounded time and memory
    except GeofupinError as exc:
        text, _, fix = str(exc).partition(" Fix: ")
        problems.add("dem", text, fix or "Check the 'dem:' entry under 'layers:' in the scenario.")
        return
    except Exception as exc:  # rasterio cannot open it
        problems.add("dem", f"cannot read DEM {dem}: {exc}", "Give a GeoTIFF (or another raster GDAL reads).")
        return
    if share == 0.0:
        problems.add(
            "dem",
            f"DEM {dem.name} holds no elevation: all {cells:,} cells read are nodata "
            f"(nodata value {info.nodata}, or NaN).",
            "Use the DEM of this county; check its nodata value with `gdalinfo -stats` (a wrong nodata value "
            "hides every cell).",
        )
        return
    footprint = gpd.GeoSeries([shapely.box(*info.bounds)], crs=info.crs).to_crs(crs).iloc[0]
    if not footprint.intersects(area):
        problems.add(
            "dem",
            f"DEM {dem.name} does not overlap the study area at all.",
            "Use the DEM of this county, or check both CRSs.",
        )
        return
    covered = area.intersection(footprint).area / area.area if area.area > 0 else 1.0
    if covered < 0.99:
        problems.add(
            "dem",
            f"DEM {dem.name} covers only {covered:.0%} of the study area; slope and elevation are unknown outside it.",
            "Use a DEM that covers the whole county.",
            severity="warning",
        )


def resolve_crs(crs: str | CRS | None, frames: Mapping[str, gpd.GeoDataFrame]) -> CRS:
    """The run's metric CRS: as given, or chosen from the data (see :func:`choose_run_crs`)."""
    return choose_run_crs(crs, frames)[0]


def choose_run_crs(crs: str | CRS | None, frames: Mapping[str, gpd.GeoDataFrame]) -> tuple[CRS, str]:
    """The run's metric CRS and a note on why it was chosen.

    ``crs`` other than ``'auto'``/None is used as given. With ``'auto'``: when every projected
    input layer is in the same CGCS2000 Gauss-Kruger CRS (3° or 6°, with or without the zone
    prefix, such as 三调's EPSG:4524 with eastings 36xxxxxx) whose central meridian is within
    3° of the study area, that CRS is kept, so results line up with the county's own data;
    otherwise the CGCS2000 3° zone nearest the villages' (or first layer's) centre is chosen
    (UTM outside China). The note says which and why, in Chinese and English.
    """
    if crs not in (None, "auto"):
        return CRS.from_user_input(crs), "set in the scenario"
    ref = frames.get("villages")
    if ref is None or ref.crs is None:
        ref = next((f for f in frames.values() if f.crs is not None), None)
    if ref is None:
        return choose_metric_crs(0.0, 0.0), ""
    lon, lat = _centre_lonlat(ref)
    projected = [CRS.from_user_input(f.crs) for f in frames.values() if f.crs is not None]
    projected = [c for c in projected if c.is_projected]
    kept, why_not = shared_gauss_kruger(projected, lon)
    if kept is not None:
        return kept, f"沿用输入图层的坐标系 kept from the input layers ({len(projected)} projected layer(s) use it)"
    chosen = choose_metric_crs(lon, lat)
    note = "按研究区中心选定 chosen from the study area's centre"
    return chosen, f"{note} ({why_not})" if why_not else note


def _centre_lonlat(gdf: gpd.GeoDataFrame) -> tuple[float, float]:
    x0, y0, x1, y1 = gdf.total_bounds
    centre = gpd.GeoSeries(gpd.points_from_xy([(x0 + x1) / 2], [(y0 + y1) / 2]), crs=gdf.crs).to_crs(WGS84)
    return float(centre.x.iloc[0]), float(centre.y.iloc[0])


def _check_projected(projected: Mapping[str, gpd.GeoDataFrame], run_crs: CRS, problems: Problems) -> None:
    """Features whose coordinates the run CRS cannot represent (too far from its zone) are errors."""
    for kind, gdf in projected.items():
        xy, owner = shapely.get_coordinates(np.asarray(gdf.geometry.values), return_index=True)
        bad = np.zeros(len(gdf), dtype=bool)
        bad[owner[~np.isfinite(xy).all(axis=1)]] = True
        if bad.any():
            schema = SCHEMAS[kind]
            problems.add(
                kind,
                f"{int(bad.sum())} feature(s) cannot be projected to the run CRS {_crs_label(run_crs)}: "
                f"{_ids(gdf, schema, bad)}; they lie far outside the area that CRS covers.",
                "Check their coordinates and CRS (lon/lat swapped? wrong CRS?), or set the run's 'crs:'.",
                feature_id=_fid(gdf, schema, int(np.flatnonzero(bad)[0])),
            )


def _check_layers_reach_area(projected: Mapping[str, gpd.GeoDataFrame], area: BaseGeometry, problems: Problems) -> None:
    """A layer with no feature at all in or near the study area is an error (its CRS is usually wrong)."""
    zone = area.buffer(STUDY_AREA_TOLERANCE_M)
    shapely.prepare(zone)
    for kind, gdf in projected.items():
        if kind in _INSIDE_REQUIRED or kind == "boundaries" or len(gdf) == 0:
            continue  # those are checked feature by feature; boundaries make the area
        if not shapely.intersects(zone, gdf.geometry.values).any():
            x0, y0, x1, y1 = gdf.total_bounds
            ax0, ay0, ax1, ay1 = area.bounds
            problems.add(
                kind,
                f"the whole layer lies outside the study area: its features span x {x0:,.0f}..{x1:,.0f}, "
                f"y {y0:,.0f}..{y1:,.0f} but the study area spans x {ax0:,.0f}..{ax1:,.0f}, "
                f"y {ay0:,.0f}..{ay1:,.0f} (metres in the run CRS).",
                "Check the layer's CRS (lon/lat stored under a metric CRS? the wrong zone?) and that it is this "
                "county's data; or remove the layer from the scenario.",
            )


@dataclass(frozen=True)
class SourceFrame:
    """One source of a layer kind, as read, with what the scenario says about it.

    Attributes
    ----------
    frame
        The features as read (already filtered by the source's ``where``). Not modified.
    label
        The source's name: in messages, in the merged layer's ``source`` column and as the id prefix.
    where
        Its place in the scenario (``layers.constraints[1]``), for messages.
    columns
        Its column renames ``{file_name: canonical_name}``.
    kind
        A constant ``kind`` for every feature.
    kind_from
        The ``kind`` of each feature from a column (:class:`geofupin.scenario.KindFrom`).
    file
        The file name, for messages about a missing CRS (.prj).
    """

    frame: gpd.GeoDataFrame
    label: str
    where: str = ""
    columns: Mapping[str, str] = field(default_factory=dict)
    kind: str | None = None
    kind_from: KindFrom | None = None
    file: str | None = None


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def kind_from_values(values: pd.Series, spec: KindFrom) -> pd.Series:
    """The ``kind`` each value maps to under ``spec`` (``None`` where nothing maps it).

    A value matches a ``map`` key when equal to it (spaces around ignored); a key of digits also
    matches every code it begins, the longest such key winning; then ``table: gbt21010`` gives
    the constraint kind of the value's land class (:func:`geofupin.landuse.lookup`: code or name).
    """
    exact = {str(k).strip(): v for k, v in spec.map.items()}
    prefixes = sorted((k for k in exact if _digits(k)), key=len, reverse=True)

    def one(value: object) -> str | None:
        if _missing(value):
            return None
        text = str(value).strip()
        if text in exact:
            return exact[text]
        for key in prefixes:
            if text.startswith(key):
                return exact[key]
        if spec.table == "gbt21010":
            found = landuse_lookup(text)
            if found is not None:
                return found.constraint_kind
        return None

    objects = values.astype(object)
    table = {v: one(v) for v in pd.unique(objects.dropna())}  # a county's DLTB has ~100 distinct codes
    mapped = objects.map(table).astype(object)
    return mapped.where(mapped.notna(), None)


def apply_source_kind(part: SourceFrame, layer: str, problems: Problems) -> gpd.GeoDataFrame | None:
    """The source's features with their ``kind`` set by ``kind:`` or ``kind_from:`` (a copy), or ``None`` on error.

    Unmapped values of ``kind_from`` are dropped with one warning counting them by value
    (``unmapped: drop``, the default) or are an error naming them (``unmapped: error``).
    """
    gdf = part.frame
    if part.kind is None and part.kind_from is None:
        return gdf
    here = part.where or f"{layer} ({part.label})"
    out = gdf.copy()
    if part.kind is not None:
        if "kind" in out.columns:
            out = out.rename(columns={"kind": "kind_original"})
        out["kind"] = part.kind
        return out
    spec = part.kind_from
    assert spec is not None
    if spec.column not in out.columns:
        others = [str(c) for c in out.columns if c != out.geometry.name]
        problems.add(
            f"{here}.kind_from.column",
            f"{part.label} 没有字段 {spec.column} / {layer} ({part.label}) has no column '{spec.column}'"
            f"{suggest(spec.column, others)}; its columns: {', '.join(others[:20])}.",
            "Name the column as written in the file (e.g. DLBM or DLMC).",
        )
        return None
    kinds = kind_from_values(out[spec.column], spec)
    unmapped = kinds.isna().to_numpy()
    if unmapped.any():
        raw = out[spec.column].astype(object).map(lambda v: "(空)" if _missing(v) else str(v).strip())
        counts = raw[unmapped].value_counts()
        shown = ", ".join(f"{_class_label(v)} {n:,}" for v, n in counts.head(8).items())
        more = f" and {len(counts) - 8} more value(s)" if len(counts) > 8 else ""
        if spec.unmapped == "error":
            problems.add(
                f"{here}.kind_from",
                f"{part.label} 中 {int(unmapped.sum()):,} 个要素的 {spec.column} "
                f"没有对应的{SCHEMAS[layer].name_zh}类型 / "
                f"{int(unmapped.sum()):,} feature(s) of {part.label} have a {spec.column} that no entry maps: "
                f"{shown}{more}.",
                "Add them to kind_from.map, or set kind_from.unmapped: drop to leave them out.",
            )
            return None
        problems.add(
            f"{here}.kind_from",
            f"{part.label} 中 {int(unmapped.sum()):,} 个要素的 {spec.column} 不属于任何{SCHEMAS[layer].name_zh}类型，"
            f"未纳入 / {int(unmapped.sum()):,} of {len(out):,} feature(s) of {part.label} left out: their "
            f"{spec.column} maps to no {layer} kind ({shown}{more}).",
            f"Nothing to do if they are not {layer}; otherwise add them to kind_from.map.",
            severity="warning",
        )
    if "kind" in out.columns and spec.column != "kind":
        out = out.rename(columns={"kind": "kind_original"})
    out["kind"] = kinds
    return out[~unmapped]


def _class_label(value: str) -> str:
    found = landuse_lookup(value)
    return f"{value} {found.name}" if found is not None and found.name != value else value


def merge_sources(
    layer: str, parts: Sequence[tuple[SourceFrame, gpd.GeoDataFrame]], problems: Problems
) -> gpd.GeoDataFrame:
    """One layer from its validated sources: in the first source's CRS, with a ``source`` column and unique ids.

    An id that already occurs in an earlier source gets the later source's label as a prefix
    (``YJJBNTTB:12``), with one warning per source naming how many and an example. A column
    ``source`` of a file is kept as ``source_original``.
    """
    schema = SCHEMAS[layer]
    idc = schema.id_column
    crs = merge_crs([gdf.crs for _, gdf in parts])
    seen: set[str] = set()
    frames: list[gpd.GeoDataFrame] = []
    for part, gdf in parts:
        if gdf.crs is not None and crs is not None and gdf.crs != crs:
            if shift := datum_shift_warning(CRS.from_user_input(gdf.crs), crs, f"{layer} ({part.label})"):
                problems.add(f"{layer} ({_source_text(part, single=False)})", *shift, severity="warning")
            g = gdf.to_crs(crs)
        else:
            g = gdf.copy()
        if "source" in g.columns:
            g = g.rename(columns={"source": "source_original"})
        ids = g[idc].astype(str)
        clash = ids.isin(seen).to_numpy()
        if clash.any():
            new = ids.copy()
            new[clash] = [f"{part.label}:{v}" for v in ids[clash]]
            while (again := new.isin(seen).to_numpy() | new.duplicated().to_numpy()).any():
                new[again] = [f"{part.label}:{v}" for v in new[again]]
            first = int(np.flatnonzero(clash)[0])
            problems.add(
                f"{layer} ({_source_text(part, single=False)})",
                f"{part.label} 有 {int(clash.sum()):,} 个编号与前面的数据源重复，已加前缀 '{part.label}:' / "
                f"{int(clash.sum()):,} {idc}(s) of {part.label} also occur in an earlier source; they were prefixed "
                f"with '{part.label}:' (e.g. {ids.iloc[first]} -> {new.iloc[first]}).",
                "Nothing to do, unless results are joined back by id: then give each source its own ids.",
                severity="warning",
            )
            g[idc] = new.to_numpy()
        seen.update(g[idc].astype(str))
        g["source"] = part.label
        frames.append(g)
    geom = frames[0].geometry.name
    merged = pd.concat([f.rename_geometry(geom) if f.geometry.name != geom else f for f in frames], ignore_index=True)
    return gpd.GeoDataFrame(merged, geometry=geom, crs=crs)


def merge_crs(crss: Sequence[object]) -> CRS | None:
    """The CRS several sources are merged in: the first projected one on a current datum (a county's
    Gauss-Kruger zone, which ``crs: auto`` may then keep), else the first on a current datum, else the first.

    "Current datum": not Xian 1980 or Beijing 1954 (:func:`geofupin.crs.legacy_datum`), so no source
    is moved onto a legacy datum.
    """
    given = [CRS.from_user_input(c) for c in crss if c is not None]
    current = [c for c in given if legacy_datum(c) is None]
    for pick in ([c for c in current if c.is_projected], current, given):
        if pick:
            return pick[0]
    return None


def prepare_sources(layer: str, parts: Sequence[SourceFrame], problems: Problems) -> gpd.GeoDataFrame | None:
    """Set each source's kind, validate it, and merge the sources of one layer kind (``None`` on error).

    One source is validated and returned as it is (no ``source`` column); several are merged by
    :func:`merge_sources`.
    """
    checked: list[tuple[SourceFrame, gpd.GeoDataFrame]] = []
    ok = True
    for part in parts:
        with_kind = apply_source_kind(part, layer, problems)
        if with_kind is None:
            ok = False
            continue
        if len(with_kind) == 0 and len(parts) > 1:  # one of several sources: the others remain
            if len(part.frame) == 0:  # (every feature dropped by kind_from is warned about above)
                problems.add(
                    part.where or f"{layer} ({part.label})",
                    f"{part.label} 没有选中任何要素 / source {part.label} of {layer} holds no feature "
                    "(after its 'where:' filter, if any).",
                    "Nothing to do if that is right; otherwise check the source's path, layer and 'where:'.",
                    severity="warning",
                )
            continue
        label = _source_text(part, single=len(parts) == 1)
        res = validate_layer(with_kind, layer, problems, columns=part.columns, source=label)
        if res is None:
            ok = False
        else:
            checked.append((part, res))
    if not ok:
        return None
    if not checked:
        problems.add(
            layer, "every source is empty after its filter and kind mapping.", "Check the 'where:' and 'kind_from:'."
        )
        return None
    if len(parts) == 1:
        return checked[0][1]
    return merge_sources(layer, checked, problems)


def _source_text(part: SourceFrame, *, single: bool) -> str:
    """How messages name a source: its file name (``DLTB.shp``), with its label when that adds something."""
    if part.file is None:
        return part.label
    if single or part.label == Path(part.file).stem:
        return part.file
    return f"{part.file}: {part.label}"


def prepare_layers(
    raw: Mapping[str, gpd.GeoDataFrame | Sequence[SourceFrame]],
    *,
    crs: str | CRS | None = "auto",
    dem: Path | None = None,
    columns: Mapping[str, Mapping[str, str]] | None = None,
    sources: Mapping[str, str] | None = None,
    problems: Problems | None = None,
) -> Layers:
    """Validate every raw layer, project them to one metric CRS and return :class:`Layers`.

    Parameters
    ----------
    raw
        Layer kind -> GeoDataFrame as read (not modified), or the kind's sources
        (:class:`SourceFrame`: each gets its kind, is validated, and they are merged; see
        :func:`prepare_sources`).
    crs
        ``'auto'`` (choose from the data), or any CRS pyproj understands; must be projected.
    dem
        DEM path, checked to exist.
    columns
        Per-kind column renames from the scenario.
    sources
        Per-kind file names for messages.
    problems
        A collector to add to (warnings stay in it); a new one by default.

    Raises
    ------
    LayerError
        Listing every error (and warning) found across all layers.
    """
    problems = problems if problems is not None else Problems()
    before = len(problems.errors)
    for kind in raw:
        if kind not in SCHEMAS:
            problems.add(
                kind,
                f"unknown layer kind '{kind}'{suggest(kind, list(SCHEMAS))}.",
                f"Use one of {', '.join(LAYER_KINDS)}.",
            )
    if "villages" not in raw:
        problems.add("villages", "the villages layer is required.", "Add 'villages:' under 'layers:' in the scenario.")
    checked: dict[str, gpd.GeoDataFrame] = {}
    for kind in LAYER_KINDS:
        if kind in raw:
            given = raw[kind]
            if isinstance(given, gpd.GeoDataFrame):
                res = validate_layer(
                    given, kind, problems, columns=(columns or {}).get(kind), source=(sources or {}).get(kind)
                )
            else:
                res = prepare_sources(kind, given, problems)
            if res is not None:
                checked[kind] = res
    try:
        run_crs, crs_note = choose_run_crs(crs, checked)
    except (CRSError, pyproj.exceptions.CRSError) as exc:  # an unknown CRS string, or a centre off the globe
        problems.add(
            "crs",
            f"cannot set the run's metric CRS: {exc}",
            "Give 'crs:' an EPSG code such as EPSG:4545 (or 'auto'), and check the villages' coordinates and CRS.",
        )
        raise LayerError("invalid layers", problems) from exc
    if not run_crs.is_projected:
        problems.add(
            "crs",
            f"the run CRS {run_crs.to_string()} is not projected (metric).",
            "Use 'crs: auto' or a metric CRS such as EPSG:4545.",
        )
    if len(problems.errors) > before:
        raise LayerError("invalid layers", problems)
    for kind, gdf in checked.items():
        if gdf.crs is not None and (shift := datum_shift_warning(CRS.from_user_input(gdf.crs), run_crs, kind)):
            problems.add(kind, *shift, severity="warning")
    projected = {k: v.to_crs(run_crs) for k, v in checked.items()}
    _check_projected(projected, run_crs, problems)
    if len(problems.errors) > before:
        raise LayerError("invalid layers", problems)
    area = study_area_of(projected.get("boundaries"), projected["villages"])
    if dem is not None:
        check_dem(Path(dem), area, run_crs, problems)
    for kind in _INSIDE_REQUIRED:
        gdf = projected.get(kind)
        if gdf is None:
            continue
        inside = shapely.intersects(area.buffer(STUDY_AREA_TOLERANCE_M), gdf.geometry.values)
        if (~inside).any():
            schema = SCHEMAS[kind]
            problems.add(
                kind,
                f"{int((~inside).sum())} feature(s) lie outside the study area: {_ids(gdf, schema, ~inside)}.",
                "Check their coordinates and CRS (lon/lat swapped? wrong CRS?), or widen the boundaries.",
                feature_id=_fid(gdf, schema, int(np.flatnonzero(~inside)[0])),
            )
    _check_layers_reach_area(projected, area, problems)
    if len(problems.errors) > before:
        raise LayerError("invalid layers", problems)
    for p in problems.warnings:
        log.warning("%s", p)
    log.info("run CRS %s (%s): %s", run_crs.to_string(), run_crs.name, crs_note)
    return Layers(
        crs=run_crs, dem=Path(dem) if dem is not None else None, study_area=area, crs_note=crs_note, **projected
    )
