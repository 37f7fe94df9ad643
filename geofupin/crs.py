"""Coordinate reference systems: one metric CRS per run.

Inside China a run uses the CGCS2000 3-degree Gauss-Kruger zone whose central meridian is
nearest the study area (EPSG:4534 for 75E up to EPSG:4554 for 135E, eastings without the
zone prefix); elsewhere the WGS84 UTM zone. Everything is projected once on load; compute
functions call :func:`require_projected` at entry. Only maps go back to WGS84.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

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
            return (
                f"{offset} layers are not supported yet (input in GCJ-02/BD-09 is planned for a later release).",
                "Convert the layer to WGS84 (EPSG:4326) or CGCS2000 (EPSG:4490) first and set that CRS.",
            )
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
# GCJ-02 ("Mars coordinates"), used by Gaode/AMap tiles. Maps only: the shift is applied to
# WGS84 overlays so they sit on GCJ-02 tiles. Vectorised over numpy arrays.
# ---------------------------------------------------------------------------------------------
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

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
