"""Coordinate reference systems: one metric CRS per run.

Inside China a run uses the CGCS2000 3-degree Gauss-Kruger zone whose central meridian is
nearest the study area (EPSG:4534 for 75E up to EPSG:4554 for 135E, eastings without the
zone prefix); elsewhere the WGS84 UTM zone. Everything is projected once on load; compute
functions call :func:`require_projected` at entry. Only maps go back to WGS84.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pyproj import CRS

from .errors import CRSError

if TYPE_CHECKING:
    import geopandas as gpd

WGS84 = CRS.from_epsg(4326)
CGCS2000 = CRS.from_epsg(4490)

#: Rough extent of China used to decide between Gauss-Kruger and UTM (lon/lat degrees).
CHINA_BBOX = (73.4, 18.0, 135.1, 53.6)


def in_china(lon: float, lat: float) -> bool:
    """True when the point falls in the rough bounding box of China (:data:`CHINA_BBOX`)."""
    x0, y0, x1, y1 = CHINA_BBOX
    return x0 <= lon <= x1 and y0 <= lat <= y1


def gauss_kruger_3deg(lon: float) -> CRS:
    """CGCS2000 3-degree Gauss-Kruger CRS (no zone prefix) for the meridian nearest ``lon``."""
    cm = 3 * round(lon / 3)
    cm = min(max(cm, 75), 135)
    return CRS.from_epsg(4534 + (cm - 75) // 3)


def utm(lon: float, lat: float) -> CRS:
    """WGS84 UTM zone CRS for a point."""
    zone = math.floor((lon + 180) / 6) % 60 + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def choose_metric_crs(lon: float, lat: float) -> CRS:
    """The metric CRS for a study area centred at ``(lon, lat)`` in degrees.

    Examples
    --------
    >>> choose_metric_crs(109.3, 36.9).to_epsg()  # Ansai, Shaanxi: CM 108E
    4545
    >>> choose_metric_crs(1.55, 42.55).to_epsg()  # Andorra: UTM 31N
    32631
    """
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise CRSError(f"centre ({lon}, {lat}) is not a longitude/latitude in degrees.")
    return gauss_kruger_3deg(lon) if in_china(lon, lat) else utm(lon, lat)


#: What a ``crs:`` entry may be, for messages.
ACCEPTED_CRS = (
    "an EPSG code (EPSG:4490 CGCS2000 经纬度, EPSG:4326 WGS84, EPSG:4545 CGCS2000 3° Gauss-Kruger CM 108E), "
    "another authority code (e.g. ESRI:102100), WKT or a PROJ string"
)

#: China's offset coordinate systems (no EPSG code describes them), by their normalised spellings.
_OFFSET_SYSTEMS: dict[str, str] = {
    "gcj": "GCJ-02 (火星坐标: Gaode/AMap, Tencent)",
    "火星": "GCJ-02 (火星坐标: Gaode/AMap, Tencent)",
    "国测局": "GCJ-02 (火星坐标: Gaode/AMap, Tencent)",
    "bd09": "BD-09 (百度坐标: Baidu)",
    "百度": "BD-09 (百度坐标: Baidu)",
}


def offset_system(value: str) -> str | None:
    """The name of the Chinese offset system ``value`` spells (``GCJ-02``, ``gcj02``, ``BD-09``, 百度...), or None."""
    key = "".join(c for c in str(value).lower() if c not in " -_:.")
    return next((name for prefix, name in _OFFSET_SYSTEMS.items() if key.startswith(prefix)), None)


def offset_code(value: Any) -> Literal["GCJ-02", "BD-09"] | None:
    """``'GCJ-02'`` or ``'BD-09'`` when ``value`` spells one of China's offset systems, else None."""
    if not isinstance(value, str):
        return None
    name = offset_system(value)
    if name is None:
        return None
    return "GCJ-02" if name.startswith("GCJ") else "BD-09"


def crs_problem(value: str, *, use: Literal["run", "layer"]) -> tuple[str, str] | None:
    """Why the text of a ``crs:`` entry cannot be used, as ``(message, fix)``; None when it can.

    Parameters
    ----------
    value
        The text from the scenario.
    use
        ``run``: the scenario's ``crs:`` (``auto`` or a metric CRS); ``layer``: a layer's
        ``crs:``, the CRS its coordinates are in (projected or longitude/latitude).
    """
    text = str(value).strip()
    offset = offset_system(text)
    if use == "run":
        if text == "auto":
            return None
        if offset is not None:
            return (
                f"{offset} is a shifted longitude/latitude, not a metric CRS; a run cannot measure in it.",
                "Write 'crs: auto' (the CGCS2000 Gauss-Kruger zone is chosen from the data) or a metric EPSG "
                "code such as EPSG:4545.",
            )
        fix_unknown = f"Write 'auto', or a metric CRS given as {ACCEPTED_CRS}."
    else:
        if text == "auto":
            return (
                "'auto' chooses the run's CRS; a layer's 'crs:' says which CRS its coordinates are in.",
                "Write the layer's CRS, e.g. EPSG:4490 (CGCS2000 经纬度), or leave 'crs:' out.",
            )
        if offset is not None:
            return None  # read as longitude/latitude and shifted back to WGS84 on load (see unshift)
        fix_unknown = f"Write {ACCEPTED_CRS}; leave 'crs:' out when the file declares its CRS."
    try:
        crs = CRS.from_user_input(text)
    except Exception:  # pyproj raises its own CRSError (and TypeError on odd input)
        return f"无法识别坐标系 cannot read CRS {text!r}.", fix_unknown
    if not (crs.is_projected or crs.is_geographic):
        return (
            f"CRS {text} ({crs.name}) is not a map CRS (neither projected nor longitude/latitude).",
            fix_unknown,
        )
    if use == "run" and not crs.is_projected:
        return (
            f"CRS {text} is geographic (degrees).",
            "Use a metric CRS (e.g. EPSG:4545, CGCS2000 Gauss-Kruger CM 108E) or 'auto'.",
        )
    return None


def parse_crs(value: str | int | CRS) -> CRS:
    """Parse ``EPSG:4545``, ``4545`` or a WKT/PROJ string into a CRS, with a clear error."""
    if isinstance(value, str) and (offset := offset_system(value)) is not None:
        raise CRSError(f"{offset} is not supported here. Fix: give {ACCEPTED_CRS}.")
    try:
        return CRS.from_user_input(value)
    except Exception as exc:  # pyproj raises its own CRSError
        raise CRSError(f"cannot read CRS {value!r}: {exc}. Fix: give 'auto' or {ACCEPTED_CRS}.") from exc


def require_projected(gdf: gpd.GeoDataFrame, name: str) -> None:
    """Raise :class:`CRSError` unless ``gdf`` has a projected (metric) CRS.

    Parameters
    ----------
    gdf
        The layer to check.
    name
        The layer name used in the message.
    """
    if gdf.crs is None:
        raise CRSError(f"layer '{name}' has no CRS. Fix: set it with `gdf.set_crs(...)` or in the scenario.")
    if not gdf.crs.is_projected:
        raise CRSError(
            f"layer '{name}' is in a geographic CRS ({gdf.crs.to_string()}); distances would be in degrees. "
            "Fix: project it first with `to_crs()` to the run's metric CRS (see geofupin.crs.choose_metric_crs)."
        )


def same_crs(gdf: gpd.GeoDataFrame, crs: CRS, name: str) -> None:
    """Raise :class:`CRSError` unless ``gdf`` is in ``crs``; names both CRSs and the fix."""
    if gdf.crs is None or not CRS.from_user_input(gdf.crs).equals(crs):
        left = gdf.crs.to_string() if gdf.crs is not None else "none"
        raise CRSError(
            f"layer '{name}' CRS {left} differs from the run CRS {crs.to_string()}. Fix: use `to_crs()` first."
        )


# ---------------------------------------------------------------------------------------------
# GCJ-02 ("Mars coordinates", Gaode/AMap and Tencent) and BD-09 (Baidu). Layers whose ``crs:``
# is GCJ-02 or BD-09 are shifted back to WGS84 on load (:func:`unshift`); maps shift WGS84
# overlays forward onto GCJ-02 tiles. Vectorised over numpy arrays.
# ---------------------------------------------------------------------------------------------

#: Krasovsky 1940 semi-major axis and first eccentricity squared used by the GCJ-02 formula.
_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323
#: Box outside which GCJ-02 leaves coordinates unshifted (lon0, lat0, lon1, lat1), as the
#: common implementations (eviltransform, prcoords) do.
GCJ02_BBOX = (72.004, 0.8293, 137.8347, 55.8271)


def _gcj02_offset(lon: Any, lat: Any) -> tuple[Any, Any]:
    """GCJ-02 offset (dlon, dlat) in degrees at WGS84 ``(lon, lat)``; zero outside :data:`GCJ02_BBOX`."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    x = lon - 105.0
    y = lat - 35.0
    pi = np.pi
    dlat_m = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * np.sqrt(np.abs(x))
        + (
            2.0 * np.sin(x * 6.0 * pi)
            + 2.0 * np.sin(x * 2.0 * pi)
            + 2.0 * np.sin(y * pi)
            + 4.0 * np.sin(y / 3.0 * pi)
            + 16.0 * np.sin(y / 12.0 * pi)
            + 32.0 * np.sin(y / 30.0 * pi)
        )
        * 20.0
        / 3.0
    )
    dlon_m = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * np.sqrt(np.abs(x))
        + (
            2.0 * np.sin(x * 6.0 * pi)
            + 2.0 * np.sin(x * 2.0 * pi)
            + 2.0 * np.sin(x * pi)
            + 4.0 * np.sin(x / 3.0 * pi)
            + 15.0 * np.sin(x / 12.0 * pi)
            + 30.0 * np.sin(x / 30.0 * pi)
        )
        * 20.0
        / 3.0
    )
    rad = np.radians(lat)
    magic = 1.0 - _GCJ_EE * np.sin(rad) ** 2
    lat_deg_m = np.radians(_GCJ_A * (1.0 - _GCJ_EE) / magic**1.5)
    lon_deg_m = np.radians(_GCJ_A * np.cos(rad) / np.sqrt(magic))
    x0, y0, x1, y1 = GCJ02_BBOX
    inside = (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)
    return np.where(inside, dlon_m / lon_deg_m, 0.0), np.where(inside, dlat_m / lat_deg_m, 0.0)


def wgs84_to_gcj02(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Shift WGS84 longitudes/latitudes (degrees, arrays or scalars) to GCJ-02.

    Points outside China (:data:`GCJ02_BBOX`) are returned unchanged.

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02(109.3, 36.9)
    >>> round(float(lon) - 109.3, 5), round(float(lat) - 36.9, 5)
    (0.00536, 0.00031)
    """
    lon_a = np.asarray(lon, dtype=float)
    lat_a = np.asarray(lat, dtype=float)
    dlon, dlat = _gcj02_offset(lon_a, lat_a)
    return lon_a + dlon, lat_a + dlat


def gcj02_to_wgs84(lon: Any, lat: Any, *, tol_deg: float = 1e-10, max_iter: int = 30) -> tuple[Any, Any]:
    """Invert :func:`wgs84_to_gcj02` by fixed-point iteration (vectorised).

    Starting from ``w = g - offset(g)``, it repeats ``w += g - wgs84_to_gcj02(w)`` until every
    point moved by less than ``tol_deg`` (1e-10 degrees is about 0.01 mm); the round trip
    ``wgs84_to_gcj02(gcj02_to_wgs84(g)) == g`` then holds far below a millimetre.

    Parameters
    ----------
    lon, lat
        GCJ-02 longitudes and latitudes in degrees.
    tol_deg
        Convergence threshold in degrees.
    max_iter
        Upper bound on iterations (convergence takes 3-5 in practice).
    """
    g_lon = np.asarray(lon, dtype=float)
    g_lat = np.asarray(lat, dtype=float)
    dlon, dlat = _gcj02_offset(g_lon, g_lat)
    w_lon, w_lat = g_lon - dlon, g_lat - dlat
    for _ in range(max_iter):
        f_lon, f_lat = wgs84_to_gcj02(w_lon, w_lat)
        e_lon, e_lat = g_lon - f_lon, g_lat - f_lat
        w_lon, w_lat = w_lon + e_lon, w_lat + e_lat
        if max(float(np.max(np.abs(e_lon), initial=0.0)), float(np.max(np.abs(e_lat), initial=0.0))) < tol_deg:
            break
    return w_lon, w_lat


#: BD-09's extra rotation/scale constant (pi * 3000 / 180) and its fixed offset in degrees.
_BD_X_PI = np.pi * 3000.0 / 180.0
_BD_DLON = 0.0065
_BD_DLAT = 0.006


def gcj02_to_bd09(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Shift GCJ-02 longitudes/latitudes (degrees) to Baidu's BD-09 (vectorised).

    Examples
    --------
    >>> lon, lat = gcj02_to_bd09(116.404, 39.915)
    >>> round(float(lon), 6), round(float(lat), 6)
    (116.410369, 39.921337)
    """
    x = np.asarray(lon, dtype=float)
    y = np.asarray(lat, dtype=float)
    z = np.hypot(x, y) + 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _BD_X_PI)
    return z * np.cos(theta) + _BD_DLON, z * np.sin(theta) + _BD_DLAT


def bd09_to_gcj02(lon: Any, lat: Any, *, tol_deg: float = 1e-10, max_iter: int = 30) -> tuple[Any, Any]:
    """Invert :func:`gcj02_to_bd09` (vectorised).

    The closed-form inverse the Baidu SDK documents is off by up to about 1e-6 degrees (0.1 m);
    it is the start of a fixed-point iteration on the forward formula, which then converges to
    ``tol_deg`` (1e-10 degrees, about 0.01 mm) in two or three steps.
    """
    b_lon = np.asarray(lon, dtype=float)
    b_lat = np.asarray(lat, dtype=float)
    x, y = b_lon - _BD_DLON, b_lat - _BD_DLAT
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _BD_X_PI)
    g_lon, g_lat = z * np.cos(theta), z * np.sin(theta)
    for _ in range(max_iter):
        f_lon, f_lat = gcj02_to_bd09(g_lon, g_lat)
        e_lon, e_lat = b_lon - f_lon, b_lat - f_lat
        g_lon, g_lat = g_lon + e_lon, g_lat + e_lat
        if max(float(np.max(np.abs(e_lon), initial=0.0)), float(np.max(np.abs(e_lat), initial=0.0))) < tol_deg:
            break
    return g_lon, g_lat


def wgs84_to_bd09(lon: Any, lat: Any) -> tuple[Any, Any]:
    """WGS84 to BD-09: the GCJ-02 shift, then Baidu's (vectorised)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: Any, lat: Any) -> tuple[Any, Any]:
    """BD-09 to WGS84: :func:`bd09_to_gcj02`, then :func:`gcj02_to_wgs84` (vectorised)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


#: From each offset system back to WGS84.
_TO_WGS84 = {"GCJ-02": gcj02_to_wgs84, "BD-09": bd09_to_wgs84}


def unshift(gdf: gpd.GeoDataFrame, system: str, *, name: str = "layer") -> gpd.GeoDataFrame:
    """A copy of ``gdf`` with its GCJ-02 or BD-09 longitudes/latitudes moved back to WGS84 (EPSG:4326).

    Every vertex of every geometry is converted (points, lines and polygons alike); the shift
    varies smoothly over hundreds of metres, so straight segments stay within centimetres.
    ``gdf`` must hold longitudes/latitudes: no CRS, or a geographic one (which a file exported
    from Gaode or Baidu declares as WGS84 although its coordinates are shifted).

    Raises
    ------
    CRSError
        ``system`` is not GCJ-02/BD-09, or ``gdf`` is in a projected CRS.
    """
    import shapely

    code = offset_code(system)
    if code is None:
        raise CRSError(f"{system!r} is not GCJ-02 or BD-09.")
    if gdf.crs is not None and not CRS.from_user_input(gdf.crs).is_geographic:
        raise CRSError(
            f"layer '{name}' is declared as {code} but its file is in the projected CRS {gdf.crs.to_string()}; "
            f"{code} coordinates are longitudes/latitudes. Fix: remove 'crs: {code}' for this layer, or export "
            "the layer as longitude/latitude."
        )
    convert = _TO_WGS84[code]

    def back(xy: np.ndarray) -> np.ndarray:
        lon, lat = convert(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    out = gdf.copy()
    out[out.geometry.name] = shapely.transform(np.asarray(gdf.geometry.values), back)
    return out.set_crs(WGS84, allow_override=True)


# ---------------------------------------------------------------------------------------------
# CGCS2000 Gauss-Kruger zones kept from the data; legacy datums (Xian 1980, Beijing 1954).
# ---------------------------------------------------------------------------------------------
#: Datum names of China's legacy geodetic systems (as PROJ spells them) -> their Chinese names.
LEGACY_DATUMS = {"Xian 1980": "西安80 Xian 1980", "Beijing 1954": "北京54 Beijing 1954"}


def gauss_kruger_meridian(crs: CRS) -> float | None:
    """The central meridian of a CGCS2000 Gauss-Kruger CRS (zone prefix or not); None for any other CRS."""
    geod = crs.geodetic_crs
    if not crs.is_projected or geod is None or geod.datum is None or geod.datum.name != "China 2000":
        return None
    op = crs.coordinate_operation
    if op is None or op.method_name != "Transverse Mercator":
        return None
    params = {p.name: p.value for p in op.params}
    if params.get("Latitude of natural origin") != 0.0 or params.get("Scale factor at natural origin") != 1.0:
        return None
    cm = params.get("Longitude of natural origin")
    return float(cm) if cm is not None and float(cm) % 3 == 0 else None


def shared_gauss_kruger(crss: list[CRS], lon: float) -> tuple[CRS | None, str]:
    """The CGCS2000 Gauss-Kruger CRS every projected input already shares, if it suits the area.

    Parameters
    ----------
    crss
        The CRSs of the projected input layers (longitude/latitude layers are left out).
    lon
        The study area's central longitude (degrees), to check the zone covers it.

    Returns
    -------
    (crs, why)
        The shared CRS to keep, or None with the reason it is not kept ("" when no layer is
        projected).
    """
    if not crss:
        return None, ""
    first = crss[0]
    if any(not c.equals(first) for c in crss[1:]):
        names = sorted({c.to_string() for c in crss})
        return None, f"the projected input layers use different CRSs ({', '.join(names)})"
    cm = gauss_kruger_meridian(first)
    if cm is None:
        return None, f"the input layers' CRS {first.to_string()} is not a CGCS2000 Gauss-Kruger zone"
    if abs(lon - cm) > 3.0:
        return None, (
            f"the input layers' CRS {first.to_string()} has its central meridian at {cm:g}°E, "
            f"{abs(lon - cm):.1f}° from the study area (more than 3°: lengths would be off by over 0.1 %)"
        )
    return first, ""


def legacy_datum(crs: CRS | None) -> str | None:
    """The Chinese name of the legacy datum (Xian 1980, Beijing 1954) ``crs`` is on, or None."""
    if crs is None:
        return None
    base = crs.source_crs if crs.is_bound and crs.source_crs is not None else crs
    geod = base.geodetic_crs
    return None if geod is None or geod.datum is None else LEGACY_DATUMS.get(geod.datum.name)


def transformation_used(src: CRS, dst: CRS) -> tuple[str, float | None]:
    """The transformation PROJ picks from ``src`` to ``dst``: its description and accuracy in metres.

    The accuracy is None when PROJ does not know it (as for its "ballpark" datum offsets,
    which shift nothing between datums).
    """
    from pyproj import Transformer

    t = Transformer.from_crs(src, dst, always_xy=True)
    acc = t.accuracy if t.accuracy is not None and t.accuracy >= 0 else None
    return t.description, acc


def datum_shift_warning(src: CRS, dst: CRS, name: str) -> tuple[str, str] | None:
    """``(message, fix)`` when a layer on Xian 1980 / Beijing 1954 is converted without a known shift.

    None when the layer is not on a legacy datum, or carries its own shift (a bound CRS with
    ``+towgs84``, as a ``datum_shift:`` in the scenario produces).
    """
    datum = legacy_datum(src)
    if datum is None or src.is_bound:
        return None
    desc, acc = transformation_used(src, dst)
    how = "PROJ's ballpark offset (no datum shift at all)" if "allpark" in desc else f"'{desc}'"
    size = "an error of tens of metres, up to about 100 m" if acc is None else f"an accuracy of {acc:g} m"
    return (
        f"layer '{name}' is on {datum}; it is converted to {dst.name} with {how}, {size}.",
        "If the county's surveying office supplies the conversion, give it for this layer: "
        "'datum_shift: {towgs84: [dx, dy, dz, rx, ry, rz, ds]}' (7 parameters to WGS84, position-vector "
        "convention: metres, arc-seconds, ppm) or 'datum_shift: {pipeline: \"+proj=pipeline ...\"}' (a PROJ "
        "pipeline, e.g. with a +proj=hgridshift grid, from the layer's coordinates to CGCS2000 longitude/latitude); "
        "or supply the layer in CGCS2000.",
    )


def _helmert_pipeline(src: CRS, towgs84: tuple[float, ...]) -> str:
    """PROJ pipeline: ``src``'s geographic lon/lat (degrees) -> Helmert to WGS84 -> CGCS2000 lon/lat (degrees)."""
    geod = src.geodetic_crs
    ell = geod.ellipsoid if geod is not None else None
    if ell is None:
        raise CRSError(f"CRS {src.to_string()} has no ellipsoid to shift from.")
    shape = (
        f"+a={ell.semi_major_metre!r} +rf={ell.inverse_flattening!r}"
        if ell.inverse_flattening
        else (f"+a={ell.semi_major_metre!r} +b={ell.semi_minor_metre!r}")
    )
    names = ("x", "y", "z", "rx", "ry", "rz", "s")
    params = " ".join(f"+{n}={v!r}" for n, v in zip(names, towgs84, strict=False))
    rot = " +convention=position_vector" if len(towgs84) == 7 else ""
    return (
        "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad "
        f"+step +proj=cart {shape} +step +proj=helmert {params}{rot} "
        "+step +inv +proj=cart +ellps=GRS80 +step +proj=unitconvert +xy_in=rad +xy_out=deg"
    )


def apply_datum_shift(
    gdf: gpd.GeoDataFrame,
    *,
    towgs84: tuple[float, ...] | None = None,
    pipeline: str | None = None,
    name: str = "layer",
) -> gpd.GeoDataFrame:
    """A copy of ``gdf`` converted to CGCS2000 longitude/latitude (EPSG:4490) with a supplied datum shift.

    Parameters
    ----------
    towgs84
        3 or 7 Helmert parameters from ``gdf``'s datum to WGS84 (metres, arc-seconds, ppm;
        position-vector convention, as PROJ's ``+towgs84``). The layer is first converted to
        its own datum's longitude/latitude (exact), then shifted; WGS84 and CGCS2000 agree to
        centimetres, so the result is declared CGCS2000.
    pipeline
        A PROJ pipeline from the coordinates as stored (x/easting first) to CGCS2000
        longitude/latitude in degrees.

    Raises
    ------
    CRSError
        The layer has no CRS (for ``towgs84``), or the pipeline does not give degrees.
    """
    import shapely
    from pyproj import Transformer

    if (towgs84 is None) == (pipeline is None):
        raise CRSError("give exactly one of towgs84 and pipeline.")
    out = gdf.copy()
    geoms = np.asarray(gdf.geometry.values)
    if towgs84 is not None:
        if gdf.crs is None:
            raise CRSError(
                f"layer '{name}' has no CRS, so its datum shift has no datum to start from. Fix: set the layer's "
                "'crs:' (e.g. EPSG:2383 for Xian 1980 / 3-degree Gauss-Kruger CM 114E)."
            )
        src = CRS.from_user_input(gdf.crs)
        if src.is_projected and src.geodetic_crs is not None:
            to_geog = Transformer.from_crs(src, src.geodetic_crs, always_xy=True)
            geoms = shapely.transform(geoms, lambda xy: np.column_stack(to_geog.transform(xy[:, 0], xy[:, 1])))
        t = Transformer.from_pipeline(_helmert_pipeline(src, tuple(float(v) for v in towgs84)))
    else:
        t = Transformer.from_pipeline(str(pipeline))

    def step(xy: np.ndarray) -> np.ndarray:
        x, y = t.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    moved = shapely.transform(geoms, step)
    xy = shapely.get_coordinates(moved)
    if len(xy) and not (np.isfinite(xy).all() and (np.abs(xy[:, 0]) <= 180).all() and (np.abs(xy[:, 1]) <= 90).all()):
        raise CRSError(
            f"layer '{name}': its datum shift does not give longitudes/latitudes in degrees "
            f"(e.g. {xy[0, 0]:g}, {xy[0, 1]:g}). Fix: end the pipeline in CGCS2000 longitude/latitude "
            "(+step +proj=unitconvert +xy_in=rad +xy_out=deg)."
        )
    out[out.geometry.name] = moved
    return out.set_crs(CGCS2000, allow_override=True)
