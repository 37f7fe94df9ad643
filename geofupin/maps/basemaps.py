"""Basemap tile layers: none, OpenStreetMap, Tianditu (天地图) and Gaode (高德, GCJ-02)."""

from __future__ import annotations

import logging
import os

import folium

from ..config.maps import MapConfig
from .elements import TileLayer

log = logging.getLogger(__name__)

TIANDITU_URL = (
    "https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={layer}"
    "&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}"
)
TIANDITU_ATTR = "天地图 Tianditu © 国家地理信息公共服务平台"
GAODE_VEC = "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}"
GAODE_IMG = "https://webst0{s}.is.autonavi.com/appmaptile?style=6&x={x}&y={y}&z={z}"
GAODE_ATTR = "高德地图 © AutoNavi (GCJ-02)"
OSM_ATTR = "© OpenStreetMap contributors (ODbL)"


def tianditu_key(config: MapConfig) -> str | None:
    """The Tianditu key from the scenario, else from the ``TIANDITU_KEY`` environment variable."""
    return config.tianditu_key or os.environ.get("TIANDITU_KEY") or None


def uses_gcj02(config: MapConfig) -> bool:
    """True when overlays must be shifted to GCJ-02 (Gaode tiles)."""
    return config.basemap == "gaode"


def add_basemap(m: folium.Map, config: MapConfig) -> list[str]:
    """Add the configured tile layers to ``m``; returns notes for the map corner (attribution, warnings)."""
    notes: list[str] = []
    if config.basemap == "osm":
        TileLayer(
            "https://tile.openstreetmap.org/{z}/{x}/{y}.png", attr=OSM_ATTR, name="OpenStreetMap", max_zoom=19
        ).add_to(m)
        notes.append("底图 Basemap: " + OSM_ATTR)
    elif config.basemap == "tianditu":
        key = tianditu_key(config)
        if not key:
            msg = (
                "天地图底图需要密钥（TIANDITU_KEY），已改为无底图 / "
                "Tianditu needs a key (TIANDITU_KEY); no basemap drawn"
            )
            log.warning(msg)
            notes.append(msg)
            return notes
        base, labels = ("img", "cia") if config.imagery else ("vec", "cva")
        sub = "01234567"
        TileLayer(
            TIANDITU_URL.format(s="{s}", layer=base, key=key),
            attr=TIANDITU_ATTR,
            name="天地图影像 Tianditu imagery" if config.imagery else "天地图 Tianditu",
            subdomains=sub,
            max_zoom=18,
        ).add_to(m)
        TileLayer(
            TIANDITU_URL.format(s="{s}", layer=labels, key=key),
            attr=TIANDITU_ATTR,
            name="天地图注记 Tianditu labels",
            subdomains=sub,
            overlay=True,
            max_zoom=18,
        ).add_to(m)
        notes.append("底图 Basemap: " + TIANDITU_ATTR)
    elif config.basemap == "gaode":
        TileLayer(
            GAODE_IMG if config.imagery else GAODE_VEC,
            attr=GAODE_ATTR,
            name="高德影像 Gaode imagery" if config.imagery else "高德地图 Gaode",
            subdomains="1234",
            max_zoom=18,
        ).add_to(m)
        notes.append("底图 Basemap: " + GAODE_ATTR + "；图层已偏移至 GCJ-02 / overlays shifted to GCJ-02")
    return notes
