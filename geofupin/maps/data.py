"""Turn metric-CRS layers into compact, escaped-on-embed layer specs for the page.

Only maps reproject: :func:`to_display` goes to WGS84 (and shifts to GCJ-02 for Gaode
tiles). Lines and polygons are simplified in the metric CRS, then their coordinates are
quantised (``coord_decimals``) and delta-coded as integers, which keeps a county of
50,000 road segments a few megabytes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..crs import WGS84, wgs84_to_gcj02

#: Field = (column, label_zh, label_en, format) where format is '' | 'int' | 'pct' | 'm2' (square metres, with 亩).
Field = tuple[str, str, str, str]

FACILITY_ZH: dict[str, tuple[str, str, str]] = {
    # kind: (Chinese name, glyph, colour)
    "county_seat": ("县城", "县", "#7a0177"),
    "town": ("乡镇驻地", "镇", "#ae017e"),
    "school": ("学校", "校", "#2171b5"),
    "kindergarten": ("幼儿园", "幼", "#6baed6"),
    "clinic": ("卫生室", "医", "#238b45"),
    "hospital": ("医院", "院", "#005a32"),
    "industrial_park": ("工业园区", "园", "#8c510a"),
    "market": ("集市", "市", "#d95f0e"),
    "nursing_home": ("敬老院", "老", "#6a3d9a"),
}
ROAD_STYLE: dict[str, tuple[str, str, float]] = {
    # class: (Chinese, colour, weight px)
    "national": ("国道", "#d7301f", 4.0),
    "provincial": ("省道", "#fc8d59", 3.5),
    "county": ("县道", "#fdae61", 3.0),
    "township": ("乡道", "#a6761d", 2.4),
    "village": ("村道", "#7f7f7f", 1.8),
    "track": ("机耕道", "#b8a48a", 1.4),
    "path": ("小路", "#c7b9a5", 1.0),
}
TIER_ZH = {"county_seat": "县城", "market_town": "集镇", "central_community": "中心社区", "central_village": "中心村"}
WATER_ZH = {
    "river": "河流",
    "stream": "溪流",
    "reservoir": "水库",
    "lake": "湖泊",
    "well": "水井",
    "spring": "泉",
    "waterworks": "水厂",
}
CONSTRAINT_STYLE = {
    "basic_farmland": ("基本农田", "#b8e186"),
    "ecological_redline": ("生态保护红线", "#e31a1c"),
    "hazard_zone": ("地质灾害区", "#ff7f00"),
    "hazard_point": ("地质灾害点", "#ff7f00"),
    "flood_zone": ("洪涝区", "#1f78b4"),
}
STATUS_STYLE = {
    # code: (zh, en, colour)
    "stay": ("不搬迁", "staying", "#3182bd"),
    "relocate": ("搬迁村", "relocating", "#e6550d"),
    "unserved": ("搬迁未安置", "relocating, not placed", "#756bb1"),
}
_TOKENS_ZH = {
    "time": "时间",
    "dist": "距离",
    "distance": "距离",
    "min": "（分钟）",
    "m": "（米）",
    "km": "（公里）",
    "m2": "（平方米）",
    "deg": "（度）",
    "pct": "（%）",
    "share": "比例",
    "yuan": "（元）",
    "slope": "坡度",
    "elev": "高程",
    "elevation": "高程",
    "mean": "平均",
    "max": "最大",
    "area": "面积",
    "buildable": "可建",
    "road": "道路",
    "water": "水源",
    "power": "电力",
    "hazard": "灾害点",
    "flood": "洪涝",
    "farmland": "农田",
    "capacity": "容量",
    "persons": "人",
    "households": "户",
    "score": "得分",
    "contrib": "贡献",
    "to": "到",
    "nearest": "最近",
    "cost": "费用",
    "length": "长度",
    **{k: v[0] for k, v in FACILITY_ZH.items()},
}
_TOKENS_ZH.update(
    {
        "county": "县城",
        "industrial": "工业",
        "park": "园区",
        "basic": "基本",
        "ecological": "生态",
        "redline": "保护红线",
        "zone": "区",
        "free": "可用",
        "dem": "高程数据",
        "valid": "有效",
        "steep": "陡坡",
        "gain": "增量",
        "norm": "标准",
    }
)
_TARGETS = {"road", "water", "power", "hazard", "flood", "farmland"}


def label_zh(column: str) -> str:
    """A readable Chinese label for a column such as ``time_min_school`` (到学校时间（分钟）)."""
    parts = column.lower().split("_")
    for kind in sorted(FACILITY_ZH, key=len, reverse=True):  # multi-token kinds first
        k = kind.split("_")
        for i in range(len(parts) - len(k) + 1):
            if parts[i : i + len(k)] == k:
                parts[i : i + len(k)] = [kind]
    words = [_TOKENS_ZH.get(p, p) for p in parts]
    units = [w for w in words if w.startswith("（")]
    rest = [w for w in words if not w.startswith("（")]
    targets = [_TOKENS_ZH[p] for p in parts if p in FACILITY_ZH or p in _TARGETS]
    if targets and ("时间" in rest or "距离" in rest):
        rest = ["到", *targets, *[w for w in rest if w not in targets and w != "到"]]
    if "贡献" in rest:
        rest = [w for w in rest if w != "贡献"] + ["贡献"]
    return "".join(rest + units[:1])


def to_display(gdf: gpd.GeoDataFrame, *, gcj02: bool = False, simplify_m: float = 0.0) -> gpd.GeoDataFrame:
    """Copy of ``gdf`` simplified in its metric CRS, then in WGS84 (GCJ-02 shifted when asked)."""
    out = gdf.copy()
    if simplify_m > 0:
        geoms = out.geometry.values
        kinds = shapely.get_type_id(geoms)
        lines = (kinds == 1) | (kinds == 2) | (kinds == 5)
        polys = (kinds == 3) | (kinds == 6)
        if lines.any() or polys.any():
            simp = np.asarray(geoms, dtype=object).copy()
            # lines cannot become invalid in a way that matters on screen: the fast variant
            simp[lines] = shapely.simplify(simp[lines], simplify_m, preserve_topology=False)
            simp[polys] = shapely.simplify(simp[polys], simplify_m, preserve_topology=True)
            out = out.set_geometry(gpd.GeoSeries(simp, index=out.index, crs=out.crs))
    if out.crs is not None and not out.crs.equals(WGS84):
        out = out.to_crs(WGS84)
    if gcj02:
        shifted = shapely.transform(
            out.geometry.values, lambda c: np.column_stack(wgs84_to_gcj02(c[:, 0], c[:, 1])) if len(c) else c
        )
        out = out.set_geometry(gpd.GeoSeries(shifted, index=out.index, crs=WGS84))
    return out


def encode_geometry(geoms: Sequence[Any] | np.ndarray, *, decimals: int = 5, polygons: bool = False) -> dict[str, Any]:
    """Delta-coded integer coordinates (lat, lon order) of lines or polygons, vectorised.

    Returns ``{'scale', 'xy', 'nv', 'ppf'}`` (plus ``'rpp'`` for polygons): ``xy`` is the
    flat list of coordinate differences (first pair absolute), ``nv`` the vertex count of
    each line/ring, ``rpp`` the ring count of each polygon part and ``ppf`` the part count
    of each feature. ``gfp.decode`` in the page inverts it.
    """
    arr = np.asarray(geoms, dtype=object)
    if len(arr):
        missing = pd.isna(arr)
        missing[~missing] = shapely.is_empty(arr[~missing].astype(object))
        arr = np.where(missing, np.asarray(None, dtype=object), arr)
    parts, part_feat = shapely.get_parts(arr, return_index=True)
    if polygons:
        rings, ring_part = shapely.get_rings(parts, return_index=True)
    else:
        rings, ring_part = parts, np.arange(len(parts))
    coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
    scale = 10**decimals
    q = np.round(coords[:, ::-1] * scale).astype(np.int64)
    dq = np.diff(q, axis=0, prepend=np.zeros((1, 2), dtype=np.int64)) if len(q) else q
    spec: dict[str, Any] = {
        "scale": scale,
        "xy": dq.ravel().tolist(),
        "nv": np.bincount(coord_ring, minlength=len(rings)).tolist(),
        "ppf": np.bincount(part_feat, minlength=len(arr)).tolist(),
    }
    if polygons:
        spec["rpp"] = np.bincount(ring_part, minlength=len(parts)).tolist()
    return spec


def decode_geometry(spec: dict[str, Any]) -> list[list[Any]]:
    """Python twin of ``gfp.decode`` (for tests): nested ``[lat, lon]`` lists per feature."""
    xy = np.cumsum(np.asarray(spec["xy"], dtype=np.int64).reshape(-1, 2), axis=0) / spec["scale"]
    out: list[list[Any]] = []
    k = r = p = 0
    for nparts in spec["ppf"]:
        feat = []
        for _ in range(nparts):
            nr = spec["rpp"][p] if "rpp" in spec else 1
            rings = []
            for _ in range(nr):
                n = spec["nv"][r]
                rings.append(xy[k : k + n].tolist())
                k += n
                r += 1
            feat.append(rings if "rpp" in spec else rings[0])
            p += 1
        out.append(feat)
    return out


def column_values(series: pd.Series) -> list[Any]:
    """JSON-ready values: numbers stay numbers (NaN -> null), everything else becomes text.

    Text, NumPy number and boolean columns are converted as whole arrays (``tolist`` gives the
    Python values element access gives, without a pandas call per element); other columns
    (object, nullable) value by value.
    """
    dtype = series.dtype
    if isinstance(dtype, pd.StringDtype):  # every value a str, or missing
        return list(series.to_numpy(dtype=object, na_value=None).tolist())
    if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
        values = series.to_numpy().tolist()
        if dtype.kind == "b":
            return [bool(v) for v in values]
        if dtype.kind in "iu":
            return [int(v) for v in values]
        return [None if not math.isfinite(v) else round(v, 4) for v in values]
    if pd.api.types.is_bool_dtype(series):
        return [None if pd.isna(v) else bool(v) for v in series]
    if pd.api.types.is_integer_dtype(series):
        return [None if pd.isna(v) else int(v) for v in series]
    if pd.api.types.is_float_dtype(series):
        return [None if (v is None or not math.isfinite(v)) else round(float(v), 4) for v in series]
    out: list[Any] = []
    for v in series:
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
            out.append(None)
        elif isinstance(v, (bool, np.bool_)):
            out.append(bool(v))
        elif isinstance(v, (int, np.integer)):
            out.append(int(v))
        elif isinstance(v, (float, np.floating)):
            out.append(round(float(v), 4) if math.isfinite(v) else None)
        elif isinstance(v, (list, tuple)):
            out.append([str(x) for x in v])
        else:
            out.append(str(v))
    return out


def split_reasons(value: Any) -> list[str]:
    """Split a reasons text (``'坡度过大；距道路太远'``) into items; lists pass through."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    if isinstance(value, (list, tuple, np.ndarray)):
        return [str(v) for v in value if str(v).strip()]
    text = str(value)
    for sep in ("；", ";", "\n", "|"):
        text = text.replace(sep, "\u0001")
    return [t.strip() for t in text.split("\u0001") if t.strip()]


def layer_spec(
    gdf: gpd.GeoDataFrame,
    *,
    kind: str,
    fields: Iterable[Field] = (),
    props: dict[str, list[Any]] | None = None,
    title: str | None = None,
    title_en: str | None = None,
    sections: Iterable[tuple[str, str, str]] = (),
    style: dict[str, Any] | None = None,
    per: dict[str, list[Any]] | None = None,
    decimals: int = 5,
    **extra: Any,
) -> dict[str, Any]:
    """The JSON spec of one layer for ``gfp.layer`` (``gdf`` already in display coordinates).

    Parameters
    ----------
    gdf
        Features in WGS84/GCJ-02 (see :func:`to_display`).
    kind
        ``points``, ``lines`` or ``polygons``.
    fields
        Popup rows ``(column, label_zh, label_en, format)``; columns absent from ``gdf`` are skipped.
    props
        Extra per-feature values (computed columns, reason lists) by key.
    title, title_en
        Columns used as the popup heading (and the hover tooltip, the search index).
    sections
        Popup lists ``(key in props, heading_zh, heading_en)``.
    style, per
        Leaflet path options shared by all features / per feature (lists).
    extra
        Passed through (``marker``, ``cluster``, ``search``, ``label``, ``glyph`` ...).
    """
    fields = [f for f in fields if f[0] in gdf.columns or (props and f[0] in props)]
    all_props: dict[str, list[Any]] = {}
    wanted = {f[0] for f in fields} | {c for c in (title, title_en) if c}
    for col in wanted:
        if col in gdf.columns:
            all_props[col] = column_values(gdf[col])
    all_props.update(props or {})
    if title and title not in all_props:
        title = None
    if title_en and title_en not in all_props:
        title_en = None
    spec: dict[str, Any] = {
        "kind": kind,
        "n": len(gdf),
        "props": all_props,
        "fields": [list(f) for f in fields],
        "sections": [list(s) for s in sections if s[0] in all_props],
        "title": title,
        "title_en": title_en,
        "style": style or {},
        "per": per or {},
    }
    if kind == "points":
        pts = gdf.geometry.values
        if len(pts) and not (shapely.get_type_id(pts) == 0).all():
            pts = shapely.point_on_surface(pts)
        spec["lat"] = np.round(shapely.get_y(pts), decimals).tolist()
        spec["lon"] = np.round(shapely.get_x(pts), decimals).tolist()
    else:
        spec["geom"] = encode_geometry(gdf.geometry.values, decimals=decimals, polygons=kind == "polygons")
    for key in ("label", "glyph"):  # a label/glyph column that is absent is simply not drawn
        if extra.get(key) is not None and extra[key] not in all_props:
            extra[key] = None
    spec.update(extra)
    return spec


def credits(configured: Iterable[str], frames: Iterable[gpd.GeoDataFrame | None]) -> list[str]:
    """Data credits to print on a map: the scenario's ``map.attribution`` then each layer's own.

    A layer credits its source through ``gdf.attrs["attribution"]`` (a text or a list of
    texts; :func:`geofupin.osm.import_osm` sets ``"© OpenStreetMap contributors (ODbL)"``).
    Each credit appears once, in first-seen order.
    """
    out: dict[str, None] = {}
    for text in configured:
        if str(text).strip():
            out[str(text).strip()] = None
    for g in frames:
        got = None if g is None else g.attrs.get("attribution")
        for text in [got] if isinstance(got, str) else list(got or ()):
            if str(text).strip():
                out[str(text).strip()] = None
    return list(out)


def ramp(values: Sequence[float] | np.ndarray, colors: Sequence[str]) -> list[str]:
    """Hex colours interpolated linearly along ``colors`` for ``values`` scaled to 0..1."""
    v = np.asarray(values, dtype=float)
    finite = np.isfinite(v)
    lo, hi = (np.nanmin(v[finite]), np.nanmax(v[finite])) if finite.any() else (0.0, 1.0)
    t = np.where(finite, (v - lo) / (hi - lo) if hi > lo else 0.5, 0.0)
    rgb = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in colors], dtype=float)
    pos = t * (len(colors) - 1)
    i0 = np.clip(np.floor(pos).astype(int), 0, len(colors) - 2)
    f = (pos - i0)[:, None]
    out = np.round(rgb[i0] * (1 - f) + rgb[i0 + 1] * f).astype(int)
    return [f"#{r:02x}{g:02x}{b:02x}" if ok else "#999999" for (r, g, b), ok in zip(out, finite, strict=True)]
