"""Import an OpenStreetMap PBF extract into geofupin's data model.

:func:`import_osm` reads a ``.osm.pbf`` with pyosmium (libosmium; node locations and
multipolygon areas assembled in C++) and returns the canonical layers, projected to one
metric CRS:

* ``roads``: ``highway`` ways with a routable value, ``road_class`` mapped by
  :data:`geofupin.vocabulary.ROAD_CLASS_ALIASES` (``primary`` -> provincial, ``track`` ->
  track, ...), the raw ``highway``, ``name``/``name_en``, ``speed_kph`` from numeric
  ``maxspeed`` (mph converted), ``surface`` (paved/gravel/earth), ``oneway`` (``-1`` ways are
  reversed; roundabouts are one-way), ``bridge``, ``tunnel``, ``layer``;
* ``water``: waterways (river/canal -> river, others -> stream), water areas (lake, or
  reservoir), wells, springs, water works;
* ``power``: power lines (``voltage_kv``) and substations (points);
* ``villages``: places ``village``, ``hamlet``, ``isolated_dwelling``, ``locality`` as
  villages with zero counts (to be filled from the poverty registry);
* ``facilities``: places ``city``/``town`` as ``town`` (the largest ``city`` or ``town`` is
  not assumed to be the county seat), amenities school, kindergarten, clinic/doctors,
  hospital and marketplace;
* ``boundaries``: administrative areas; the highest ``admin_level`` present is
  ``township``, lower levels ``county``.

Every layer carries ``attrs["attribution"] = OSM_ATTRIBUTION``; maps and reports built
from them must show it. The CLI ``geofupin import-osm FILE --out DIR`` writes them with
:mod:`geofupin.io`; this module never writes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from ._optional import require
from .crs import WGS84, choose_metric_crs, parse_crs
from .errors import DataError
from .vocabulary import ROAD_CLASS_ALIASES, SURFACE_ALIASES

log = logging.getLogger(__name__)

OSM_ATTRIBUTION = "© OpenStreetMap contributors (ODbL)"

#: OSM ``highway`` values imported as roads (those with a geofupin class).
ROUTABLE_HIGHWAYS: frozenset[str] = frozenset(k for k in ROAD_CLASS_ALIASES if k.isascii())

_PAVED = {"paved", "asphalt", "concrete", "concrete:plates", "concrete:lanes", "paving_stones", "sett", "cobblestone"}
_GRAVEL = {"gravel", "fine_gravel", "compacted", "unpaved", "pebblestone", "rock"}
_EARTH = {"dirt", "earth", "ground", "mud", "grass", "sand", "soil", "grass_paver"}
_VILLAGE_PLACES = {"village", "hamlet", "isolated_dwelling", "locality"}
_TOWN_PLACES = {"city", "town"}
_AMENITY_KIND = {
    "school": "school",
    "kindergarten": "kindergarten",
    "clinic": "clinic",
    "doctors": "clinic",
    "hospital": "hospital",
    "marketplace": "market",
}
_TRUE = {"yes", "true", "1"}


@dataclass
class _Rows:
    rows: list[dict[str, Any]] = field(default_factory=list)
    wkb: list[str] = field(default_factory=list)

    def add(self, geom: str, **attrs: Any) -> None:
        self.rows.append(attrs)
        self.wkb.append(geom)

    def frame(self, columns: Iterable[str]) -> gpd.GeoDataFrame:
        df = pd.DataFrame(self.rows, columns=list(columns))
        geoms = shapely.from_wkb(np.asarray(self.wkb, dtype=object)) if self.wkb else np.empty(0, dtype=object)
        return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, crs=WGS84), crs=WGS84)


def parse_maxspeed(values: pd.Series) -> pd.Series:
    """Numeric km/h from OSM ``maxspeed`` (``"50"``, ``"30 mph"``, ``"50;70"`` -> first);
    NaN for symbolic values (``RU:rural``, ``walk``, ``none``)."""
    s = values.fillna("").astype(str).str.strip().str.lower()
    num = pd.to_numeric(s.str.extract(r"^(\d+(?:\.\d+)?)", expand=False), errors="coerce")
    mph = s.str.contains("mph", regex=False)
    return num.where(~mph, num * 1.609344)


def _surface(v: str | None) -> str | None:
    if not v:
        return None
    v = v.lower()
    if v in _PAVED:
        return "paved"
    if v in _GRAVEL:
        return "gravel"
    if v in _EARTH:
        return "earth"
    return SURFACE_ALIASES.get(v)


def _voltage_kv(v: str | None) -> float:
    if not v:
        return float("nan")
    m = re.match(r"\s*(\d+(?:\.\d+)?)", v.split(";")[0])
    return float(m.group(1)) / 1000.0 if m else float("nan")


def _layer(v: str | None) -> int | None:
    if v is None:
        return None
    try:
        return int(float(v.split(";")[0]))
    except ValueError:
        return None


def import_osm(pbf_path: str | Path, *, out_crs: str | int | CRS | None = None) -> dict[str, gpd.GeoDataFrame]:
    """Read an OSM PBF extract into geofupin layers.

    Parameters
    ----------
    pbf_path
        ``.osm.pbf`` (or ``.osm``/``.osm.bz2``) file.
    out_crs
        Target metric CRS; default chosen from the centre of the roads
        (:func:`geofupin.crs.choose_metric_crs`: CGCS2000 Gauss-Kruger in China, UTM elsewhere).

    Returns
    -------
    Non-empty layers by kind: ``roads``, ``water``, ``power``, ``villages``, ``facilities``,
    ``boundaries``, each with a fresh RangeIndex and ``attrs["attribution"]``.
    """
    require("osmium")  # the `osm` extra: a named error when absent
    import osmium

    path = Path(pbf_path)
    if not path.is_file():
        raise DataError(f"OSM file {path} does not exist. Fix: give the path of a .osm.pbf extract.")
    wkb = osmium.geom.WKBFactory()
    roads, water, power, places, facilities, bounds = _Rows(), _Rows(), _Rows(), _Rows(), _Rows(), _Rows()
    skipped = 0
    fp = (
        osmium.FileProcessor(str(path))
        .with_locations()
        .with_areas()
        .with_filter(
            osmium.filter.KeyFilter(
                "highway", "waterway", "natural", "landuse", "power", "place", "amenity", "man_made", "boundary"
            )
        )
    )
    o: Any
    seen_bounds: dict[int, str] = {}  # admin relations in the file (id -> name)
    built_bounds: set[int] = set()  # ... and those that became polygons
    for o in fp:
        tags = o.tags
        try:
            if o.is_relation():
                if tags.get("boundary") == "administrative" and (_layer(tags.get("admin_level")) or 0) >= 5:
                    seen_bounds[o.id] = str(tags.get("name") or o.id)
            elif o.is_node():
                oid = f"n{o.id}"
                place = tags.get("place")
                amenity = tags.get("amenity")
                if place in _VILLAGE_PLACES or place in _TOWN_PLACES:
                    rows = places if place in _VILLAGE_PLACES else facilities
                    kind = "village" if place in _VILLAGE_PLACES else "town"
                    rows.add(
                        wkb.create_point(o),
                        id=oid,
                        name=tags.get("name"),
                        name_en=tags.get("name:en"),
                        kind=kind,
                        place=place,
                    )
                if amenity in _AMENITY_KIND:
                    facilities.add(
                        wkb.create_point(o),
                        id=oid,
                        name=tags.get("name"),
                        name_en=tags.get("name:en"),
                        kind=_AMENITY_KIND[amenity],
                        place=None,
                    )
                if tags.get("power") == "substation":
                    power.add(
                        wkb.create_point(o),
                        id=oid,
                        kind="substation",
                        voltage_kv=_voltage_kv(tags.get("voltage")),
                        name=tags.get("name"),
                    )
                if tags.get("man_made") in ("water_well", "water_works") or tags.get("natural") == "spring":
                    kind = {"water_well": "well", "water_works": "waterworks"}.get(
                        str(tags.get("man_made", "")), "spring"
                    )
                    water.add(wkb.create_point(o), id=oid, kind=kind, name=tags.get("name"))
            elif o.is_way():
                oid = f"w{o.id}"
                hw = tags.get("highway")
                if hw in ROUTABLE_HIGHWAYS and tags.get("area") != "yes":
                    ow = tags.get("oneway", "")
                    geom = wkb.create_linestring(o)
                    reverse = ow == "-1"
                    roads.add(
                        geom,
                        road_id=oid,
                        road_class=ROAD_CLASS_ALIASES[hw],
                        highway=hw,
                        name=tags.get("name"),
                        name_en=tags.get("name:en"),
                        maxspeed=tags.get("maxspeed"),
                        surface=_surface(tags.get("surface")),
                        oneway=reverse or ow in _TRUE or tags.get("junction") == "roundabout" or hw == "motorway",
                        reverse=reverse,
                        bridge=tags.get("bridge", "no") not in ("no", "false", "0"),
                        tunnel=tags.get("tunnel", "no") not in ("no", "false", "0"),
                        layer=_layer(tags.get("layer")),
                    )
                ww = tags.get("waterway")
                if ww in ("river", "canal", "stream", "ditch", "drain", "brook"):
                    kind = "river" if ww in ("river", "canal") else "stream"
                    water.add(wkb.create_linestring(o), id=oid, kind=kind, name=tags.get("name"))
                if tags.get("power") in ("line", "minor_line"):
                    power.add(
                        wkb.create_linestring(o),
                        id=oid,
                        kind="line",
                        voltage_kv=_voltage_kv(tags.get("voltage")),
                        name=tags.get("name"),
                    )
            elif o.is_area():
                oid = ("w" if o.from_way() else "r") + str(o.orig_id())
                if tags.get("natural") == "water" or tags.get("landuse") == "reservoir":
                    kind = (
                        "reservoir"
                        if tags.get("water") == "reservoir" or tags.get("landuse") == "reservoir"
                        else "lake"
                    )
                    water.add(wkb.create_multipolygon(o), id=oid, kind=kind, name=tags.get("name"))
                elif tags.get("boundary") == "administrative" and tags.get("admin_level"):
                    level = _layer(tags.get("admin_level"))
                    if level is not None and level >= 5:
                        if not o.from_way():
                            built_bounds.add(o.orig_id())
                        bounds.add(
                            wkb.create_multipolygon(o),
                            id=oid,
                            name=tags.get("name"),
                            name_en=tags.get("name:en"),
                            admin_level=level,
                        )
                if tags.get("power") == "substation":
                    pt = shapely.to_wkb(
                        shapely.point_on_surface(shapely.from_wkb(wkb.create_multipolygon(o))), hex=True
                    )
                    power.add(
                        pt,
                        id=oid,
                        kind="substation",
                        voltage_kv=_voltage_kv(tags.get("voltage")),
                        name=tags.get("name"),
                    )
                if tags.get("amenity") in _AMENITY_KIND:
                    pt = shapely.to_wkb(
                        shapely.point_on_surface(shapely.from_wkb(wkb.create_multipolygon(o))), hex=True
                    )
                    facilities.add(
                        pt,
                        id=oid,
                        name=tags.get("name"),
                        name_en=tags.get("name:en"),
                        kind=_AMENITY_KIND[tags["amenity"]],
                        place=None,
                    )
        except (RuntimeError, osmium.InvalidLocationError):
            skipped += 1
    if skipped:
        log.warning("OSM import: %d object(s) with missing node locations or broken areas were skipped.", skipped)
    lost = sorted(name for rid, name in seen_bounds.items() if rid not in built_bounds)
    if lost:
        log.warning(
            "OSM import: %d administrative boundary relation(s) could not be assembled into polygons (ways missing "
            "from the extract?): %s. Villages inside them will lie outside the study area; add the boundary by hand "
            "or use a larger extract.",
            len(lost),
            ", ".join(lost),
        )

    out: dict[str, gpd.GeoDataFrame] = {}
    r = roads.frame(
        [
            "road_id",
            "road_class",
            "highway",
            "name",
            "name_en",
            "maxspeed",
            "surface",
            "oneway",
            "reverse",
            "bridge",
            "tunnel",
            "layer",
        ]
    )
    if len(r):
        rev = r["reverse"].to_numpy(bool)
        if rev.any():
            g = np.asarray(r.geometry.values)
            g[rev] = shapely.reverse(g[rev])
            r = r.set_geometry(gpd.GeoSeries(g, crs=WGS84, index=r.index))
        r["speed_kph"] = parse_maxspeed(r["maxspeed"])
        r["layer"] = pd.array(r["layer"], dtype="Int64")
        r = r.drop(columns=["maxspeed", "reverse"])
        out["roads"] = r
    w = water.frame(["id", "kind", "name"]).rename(columns={"id": "water_id"})
    if len(w):
        out["water"] = w
    p = power.frame(["id", "kind", "voltage_kv", "name"]).rename(columns={"id": "power_id"})
    if len(p):
        out["power"] = p
    b = bounds.frame(["id", "name", "name_en", "admin_level"]).rename(columns={"id": "boundary_id"})
    if len(b):
        levels = sorted(b["admin_level"].unique())
        b["level"] = np.where(b["admin_level"] == levels[-1], "township", "county")
        out["boundaries"] = b
    v = places.frame(["id", "name", "name_en", "kind", "place"]).rename(columns={"id": "village_id"})
    if len(v):
        v = v.drop(columns=["kind"])
        v["name"] = v["name"].fillna(v["village_id"])
        for c in (
            "households",
            "persons",
            "poor_households",
            "poor_persons",
            "relocate_households",
            "relocate_persons",
        ):
            v[c] = 0
        out["villages"] = v
    f = facilities.frame(["id", "name", "name_en", "kind", "place"]).rename(columns={"id": "facility_id"})
    if len(f):
        out["facilities"] = f.drop(columns=["place"])

    if out_crs is None:
        ref = out.get("roads")
        if ref is None:
            ref = next(iter(out.values()), None)
        if ref is None:
            raise DataError(f"OSM file {path} holds no roads, water, power, places or boundaries geofupin can use.")
        x0, y0, x1, y1 = ref.total_bounds
        crs = choose_metric_crs((x0 + x1) / 2, (y0 + y1) / 2)
    else:
        crs = parse_crs(out_crs)
    result: dict[str, gpd.GeoDataFrame] = {}
    for kind, gdf in out.items():
        g = gdf.to_crs(crs).reset_index(drop=True)
        if "township" not in g and kind in ("villages", "facilities") and "boundaries" in out:
            g = _add_township(g, out["boundaries"].to_crs(crs))
        g.attrs["attribution"] = OSM_ATTRIBUTION
        result[kind] = g
    return result


def _add_township(points: gpd.GeoDataFrame, bounds: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Township name of the township boundary holding each point ('' when none)."""
    twp = bounds[bounds["level"] == "township"]
    out = points.copy()
    out["township"] = ""
    if len(twp):
        pi, bi = shapely.STRtree(np.asarray(twp.geometry.values)).query(
            np.asarray(points.geometry.values), predicate="within"
        )
        first = ~pd.Series(pi).duplicated().to_numpy()
        names = twp["name"].fillna("").astype(str).to_numpy()
        out.loc[out.index[pi[first]], "township"] = names[bi[first]]
    return out
