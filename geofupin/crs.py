"""Coordinate reference systems: one metric CRS per run.

Inside China a run uses the CGCS2000 3-degree Gauss-Kruger zone whose central meridian is
nearest the study area (EPSG:4534 for 75E up to EPSG:4554 for 135E, eastings without the
zone prefix); elsewhere the WGS84 UTM zone. Everything is projected once on load; compute
functions call :func:`require_projected` at entry. Only maps go back to WGS84.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

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


def parse_crs(value: str | int | CRS) -> CRS:
    """Parse ``EPSG:4545``, ``4545`` or a WKT/PROJ string into a CRS, with a clear error."""
    try:
        return CRS.from_user_input(value)
    except Exception as exc:  # pyproj raises its own CRSError
        raise CRSError(f"cannot read CRS {value!r}: {exc}. Fix: give e.g. 'EPSG:4545' or 'auto'.") from exc


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
