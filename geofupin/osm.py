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
* ``villages``: places ``village``, ``hamlet``, ``isolated_dwelling``, ``farm`` (nodes, or areas
  at their inner point; ``locality`` names no settlement and is left out; with no place at all,
  ``landuse=residential`` areas), with **placeholder figures flagged on every row**
  (``estimated``, ``figures_source``, ``figures_note``): persons from OSM ``population`` or
  :data:`PLACEHOLDER_PERSONS`, households = persons / :data:`PLACEHOLDER_HOUSEHOLD_SIZE`, the
  place types in :data:`PLACEHOLDER_RELOCATING` relocate whole. :func:`join_registry` puts a
  registry's real figures on them;
* ``facilities``: places ``city``/``town`` and ``amenity=townhall`` as ``town``, amenities school,
  kindergarten, clinic/doctors, hospital and marketplace; the county seat is the town that is a
  capital (``capital=*``) or the admin centre of the highest-ranking administrative unit;
* ``constraints``: nature protection (``boundary=protected_area`` of a nature class,
  ``national_park``, ``leisure=nature_reserve``) as ``ecological_redline``; ``natural=wetland``,
  ``flood_prone=yes``, ``hazard=flooding`` as ``flood_zone``; other ``hazard=*`` as hazard zones
  or points. ``landuse=farmland`` is all cropland, not the legal basic-farmland designation
  (永久基本农田), so it is imported only when asked (``farmland_as_basic_farmland``);
* ``boundaries``: one ``county`` row, the study area (the villages' and facilities' hull buffered
  by :data:`STUDY_AREA_BUFFER_M`, with the townships holding them: an extract rarely holds a
  whole county), and as ``township`` the administrative level holding most villages.

Every layer carries ``attrs["attribution"] = OSM_ATTRIBUTION``; maps and reports built
from them must show it. The CLI ``geofupin import-osm FILE --out DIR`` writes them with
:mod:`geofupin.io`; this module never writes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
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
#: OSM places imported as villages (``locality`` is an unpopulated named place: not imported).
_VILLAGE_PLACES = {"village", "hamlet", "isolated_dwelling", "farm"}
_TOWN_PLACES = {"city", "town"}
_PLACE_ZH = {"village": "村", "hamlet": "自然村", "isolated_dwelling": "独立居民点", "farm": "农庄"}

#: Placeholder persons per settlement when OSM has no ``population`` tag (typical sizes of the place types;
#: placeholders to be replaced from the poverty registry, flagged ``estimated``).
PLACEHOLDER_PERSONS: dict[str, int] = {"village": 300, "hamlet": 60, "isolated_dwelling": 6, "farm": 6}
#: Persons per household used to turn placeholder persons into households.
PLACEHOLDER_HOUSEHOLD_SIZE = 3.0
#: Place types that relocate whole in the placeholder figures (scattered small settlements, the usual target of
#: 易地扶贫搬迁); villages do not move until the registry says so.
PLACEHOLDER_RELOCATING: frozenset[str] = frozenset({"hamlet", "isolated_dwelling", "farm"})
#: Buffer of the study area around the villages and facilities (m).
STUDY_AREA_BUFFER_M = 2000.0
#: ``protect_class`` values that are nature protection (IUCN 1-6, 7 = other nature); 11+ are resources/culture.
_NATURE_PROTECT = {"1", "1a", "1b", "2", "3", "4", "5", "6", "7", "97", "98", "99"}
#: OSM ``hazard`` values read as flood zones (others become hazard zones/points).
_FLOOD_HAZARDS = {"flood", "flooding", "flash_flood", "inundation"}
_NOT_HAZARD = {"no", "none", "false", "0"}
_AMENITY_KIND = {
    "townhall": "town",
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


def _constraint(rows: _Rows, tags: Any, oid: str, geom: str, *, point: bool, farmland: bool = False) -> None:
    """Add the constraint an OSM object stands for, if any (see :func:`import_osm`)."""
    kind = None
    source = ""
    hazard = str(tags.get("hazard", "") or "").lower()
    if hazard and hazard not in _NOT_HAZARD:
        kind = "flood_zone" if hazard in _FLOOD_HAZARDS else ("hazard_point" if point else "hazard_zone")
        source = f"hazard={hazard}"
    elif point:
        return
    elif str(tags.get("flood_prone", "")).lower() in _TRUE:
        kind, source = "flood_zone", "flood_prone=yes"
    elif tags.get("boundary") in ("protected_area", "national_park") or tags.get("leisure") == "nature_reserve":
        pc = str(tags.get("protect_class", "") or "").strip().lower()
        if tags.get("boundary") == "protected_area" and pc and pc not in _NATURE_PROTECT:
            return  # protect_class 11+ : resources, culture, social protection; not nature
        kind = "ecological_redline"
        source = "boundary=" + str(tags.get("boundary")) if tags.get("boundary") else "leisure=nature_reserve"
    elif tags.get("natural") == "wetland":
        kind, source = "flood_zone", "natural=wetland"
    elif farmland and tags.get("landuse") == "farmland":
        kind, source = "basic_farmland", "landuse=farmland"
    if kind is not None:
        rows.add(geom, id=oid, kind=kind, name=tags.get("name"), osm_tag=source)


def _sniff_osm(p: Path) -> None:
    """Refuse an empty file, or a ``.pbf`` that does not start like one, with a named error."""
    with p.open("rb") as fh:
        head = fh.read(64)
    if not head:
        raise DataError(
            f"OSM file {p} is empty (0 bytes). Fix: download the extract again; an interrupted download leaves "
            "an empty file."
        )
    if not p.name.lower().endswith(".pbf"):
        return
    # a PBF starts with the 4-byte big-endian size of its first BlobHeader, whose type is "OSMHeader"
    size = int.from_bytes(head[:4], "big")
    if 0 < size < 64 * 1024 and b"OSMHeader" in head[4 : 4 + size]:
        return
    stripped = head.lstrip()
    if stripped.startswith((b"<?xml", b"<osm")):
        what = "OSM XML text, not PBF. Fix: rename it to .osm (geofupin reads both)."
    elif stripped[:1] == b"<":
        what = "text (HTML?), not PBF: probably an error page saved in place of the extract. Fix: download it again."
    elif all(32 <= c < 127 or c in (9, 10, 13) for c in head):
        what = "text, not PBF. Fix: give the .osm.pbf extract itself."
    else:
        what = "not an OSM PBF file (it does not start with an OSMHeader block). Fix: give a .osm.pbf extract."
    raise DataError(f"OSM file {p} is {what}")


def _objects(fp: Any, path: Path) -> Any:
    """The objects of an osmium file processor; libosmium's parse errors become a named DataError."""
    try:
        yield from fp
    except RuntimeError as exc:  # "PBF error: ...", "XML error: ..."
        raise DataError(
            f"cannot read OSM file {path}: {exc}. Fix: the file is damaged or not an OpenStreetMap extract; "
            "download the .osm.pbf again (e.g. from download.geofabrik.de)."
        ) from exc


def import_osm(
    pbf_path: str | Path,
    *,
    out_crs: str | int | CRS | None = None,
    farmland_as_basic_farmland: bool = False,
) -> dict[str, gpd.GeoDataFrame]:
    """Read an OSM PBF extract into geofupin layers.

    Parameters
    ----------
    pbf_path
        ``.osm.pbf`` (or ``.osm``/``.osm.bz2``) file.
    out_crs
        Target metric CRS; default chosen from the centre of the roads
        (:func:`geofupin.crs.choose_metric_crs`: CGCS2000 Gauss-Kruger in China, UTM elsewhere).
    farmland_as_basic_farmland
        Import ``landuse=farmland`` as ``basic_farmland`` constraints (default off, see above).

    Returns
    -------
    Non-empty layers by kind: ``boundaries``, ``villages`` (always), ``roads``, ``water``,
    ``power``, ``facilities``, ``constraints``, each with a fresh RangeIndex and
    ``attrs["attribution"]``.

    Raises
    ------
    DataError
        The file is missing or holds no settlement.
    """
    require("osmium")  # the `osm` extra: a named error when absent
    import osmium

    path = Path(pbf_path)
    if not path.is_file():
        raise DataError(f"OSM file {path} does not exist. Fix: give the path of a .osm.pbf extract.")
    _sniff_osm(path)
    wkb = osmium.geom.WKBFactory()
    roads, water, power, places, facilities, bounds = _Rows(), _Rows(), _Rows(), _Rows(), _Rows(), _Rows()
    constraints, place_areas, residential = _Rows(), _Rows(), _Rows()
    centres: dict[int, int] = {}  # node id -> lowest admin_level of a boundary naming it admin_centre
    skipped = 0
    fp = (
        osmium.FileProcessor(str(path))
        .with_locations()
        .with_areas()
        .with_filter(
            osmium.filter.KeyFilter(
                "highway",
                "waterway",
                "natural",
                "landuse",
                "power",
                "place",
                "amenity",
                "man_made",
                "boundary",
                "leisure",
                "hazard",
                "flood_prone",
            )
        )
    )
    farmland = farmland_as_basic_farmland
    o: Any
    seen_bounds: dict[int, str] = {}  # admin relations in the file (id -> name)
    built_bounds: set[int] = set()  # ... and those that became polygons
    for o in _objects(fp, path):
        tags = o.tags
        try:
            if o.is_relation():
                level = _layer(tags.get("admin_level")) or 0
                if tags.get("boundary") == "administrative" and level >= 5:
                    seen_bounds[o.id] = str(tags.get("name") or o.id)
                if tags.get("boundary") == "administrative" and level:
                    for m in o.members:
                        if m.type == "n" and m.role in ("admin_centre", "capital"):
                            centres[m.ref] = min(level, centres.get(m.ref, 99))
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
                        population=tags.get("population"),
                        capital=tags.get("capital"),
                        osm_node=o.id,
                    )
                _constraint(constraints, tags, oid, wkb.create_point(o), point=True)
                if amenity in _AMENITY_KIND:
                    facilities.add(
                        wkb.create_point(o),
                        id=oid,
                        name=tags.get("name"),
                        name_en=tags.get("name:en"),
                        kind=_AMENITY_KIND[amenity],
                        place=None,
                        population=None,
                        capital=None,
                        osm_node=None,
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
                    area_level = _layer(tags.get("admin_level"))
                    if area_level is not None and area_level >= 5:
                        if not o.from_way():
                            built_bounds.add(o.orig_id())
                        bounds.add(
                            wkb.create_multipolygon(o),
                            id=oid,
                            name=tags.get("name"),
                            name_en=tags.get("name:en"),
                            admin_level=area_level,
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
                        population=None,
                        capital=None,
                        osm_node=None,
                    )
                if tags.get("place") in _VILLAGE_PLACES:
                    place_areas.add(
                        wkb.create_multipolygon(o),
                        id=oid,
                        name=tags.get("name"),
                        name_en=tags.get("name:en"),
                        place=tags.get("place"),
                        population=tags.get("population"),
                    )
                elif tags.get("landuse") == "residential":
                    residential.add(
                        wkb.create_multipolygon(o),
                        id=oid,
                        name=tags.get("name"),
                        name_en=tags.get("name:en"),
                        place="hamlet",
                        population=None,
                    )
                _constraint(constraints, tags, oid, wkb.create_multipolygon(o), point=False, farmland=farmland)
        except (RuntimeError, osmium.InvalidLocationError):
            skipped += 1
    if skipped:
        log.warning("OSM import: %d object(s) with missing node locations or broken areas were skipped.", skipped)
    lost = sorted(name for rid, name in seen_bounds.items() if rid not in built_bounds)
    if lost:
        log.warning(
            "OSM import: %d administrative boundary relation(s) could not be assembled into polygons (ways missing "
            "from the extract?): %s. They are left out of the townships; the study area still holds every village "
            "(their hull, buffered).",
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
    v = _villages(places, place_areas)
    if v is None and residential.rows:  # no place tags at all: residential areas stand for the settlements
        log.warning(
            "OSM import: no place=village/hamlet/isolated_dwelling in the extract; %d landuse=residential area(s) "
            "are taken as settlements (hamlets).",
            len(residential.rows),
        )
        v = _villages(_Rows(), residential)
    b = bounds.frame(["id", "name", "name_en", "admin_level"]).rename(columns={"id": "boundary_id"})
    if len(b):
        b = _township_level(b, v)
        b["name"] = _fill_names(b["name"], b["name_en"], "未命名行政区 unnamed area", b["boundary_id"])
        b["level"] = "township"
    f = _facilities(facilities, centres)
    c = constraints.frame(["id", "kind", "name", "osm_tag"]).rename(columns={"id": "constraint_id"})
    if len(c):
        c = c[~shapely.is_empty(np.asarray(c.geometry.values))].reset_index(drop=True)
        if len(c):
            out["constraints"] = c

    if out_crs is None:
        ref = out.get("roads")
        if ref is None:
            ref = v if v is not None else next(iter(out.values()), None)
        if ref is None:
            raise DataError(f"OSM file {path} holds no roads, water, power, places or boundaries geofupin can use.")
        x0, y0, x1, y1 = ref.total_bounds
        crs = choose_metric_crs((x0 + x1) / 2, (y0 + y1) / 2)
    else:
        crs = parse_crs(out_crs)
    if v is None:
        raise DataError(
            f"OSM file {path} holds no settlements (place=village/hamlet/isolated_dwelling/farm, or "
            "landuse=residential) "
            "to plan for. Fix: use a larger extract, or give the villages layer from the registry (a CSV with "
            "lon/lat columns) and the other layers from this import."
        )
    vm = v.to_crs(crs)
    fm = f.to_crs(crs) if f is not None else None
    bm = b.to_crs(crs) if len(b) else None
    area = _study_area(vm, fm, bm)
    county = gpd.GeoDataFrame(
        {
            "boundary_id": ["study_area"],
            "name": ["研究区(OSM 数据范围)"],
            "name_en": ["study area (OSM extract)"],
            "admin_level": [pd.NA],
            "level": ["county"],
        },
        geometry=[area],
        crs=crs,
    )
    if bm is not None:
        bm = bm[shapely.intersects(np.asarray(bm.geometry.values), area)]
        out_b = pd.concat([county, bm], ignore_index=True)
    else:
        out_b = county
    out_b["admin_level"] = pd.array(out_b["admin_level"], dtype="Int64")
    result: dict[str, gpd.GeoDataFrame] = {}
    frames = {**out, "villages": vm, "boundaries": gpd.GeoDataFrame(out_b, geometry="geometry", crs=crs)}
    if fm is not None:
        frames["facilities"] = fm
    order = ("boundaries", "villages", "roads", "water", "power", "facilities", "constraints")
    for kind in order:
        gdf = frames.get(kind)
        if gdf is None:
            continue
        g = _valid_polygons(gdf.to_crs(crs).reset_index(drop=True))
        if kind in ("villages", "facilities"):
            g = _add_township(g, frames["boundaries"])
        g.attrs["attribution"] = OSM_ATTRIBUTION
        result[kind] = g
    return result


def _valid_polygons(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Repair invalid (multi)polygons as OSM sometimes has them (self-touching rings), keeping them polygonal."""
    geoms = np.asarray(gdf.geometry.values)
    poly = np.isin(shapely.get_type_id(geoms), (3, 6))
    bad = poly & ~shapely.is_valid(geoms)
    if not bad.any():
        return gdf
    geoms = geoms.copy()
    geoms[bad] = shapely.make_valid(geoms[bad], method="structure", keep_collapsed=False)
    return gdf.set_geometry(gpd.GeoSeries(geoms, crs=gdf.crs, index=gdf.index))


def _township_level(b: gpd.GeoDataFrame, villages: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """The administrative level that holds the most villages (ties: the finer level), as the townships."""
    levels = sorted(b["admin_level"].unique())
    best, best_n = int(levels[-1]), -1
    for lv in levels:
        sub = b[b["admin_level"] == lv]
        n = 0
        if villages is not None and len(villages):
            n = len(
                np.unique(
                    shapely.STRtree(np.asarray(sub.geometry.values)).query(
                        np.asarray(villages.geometry.values), predicate="within"
                    )[0]
                )
            )
        if n >= best_n:
            best, best_n = int(lv), n
    return b[b["admin_level"] == best].reset_index(drop=True)


def _fill_names(name: pd.Series, name_en: pd.Series, label: str, ids: pd.Series) -> pd.Series:
    """``name``, else ``name:en``, else ``<label> <OSM id>`` (a layer's names are never empty)."""
    n = name.where(name.notna() & (name.astype(str).str.strip() != ""), name_en)
    return n.where(n.notna() & (n.astype(str).str.strip() != ""), label + " " + ids.astype(str))


def _villages(places: _Rows, areas: _Rows) -> gpd.GeoDataFrame | None:
    """Settlements with placeholder figures, each flagged (see :func:`import_osm`)."""
    cols = ["id", "name", "name_en", "kind", "place", "population", "capital", "osm_node"]
    v = places.frame(cols).drop(columns=["kind", "capital", "osm_node"])
    a = areas.frame(["id", "name", "name_en", "place", "population"])
    if len(a):  # settlements mapped as areas: their inner point, unless a place node of that name lies inside
        a = a[~shapely.is_empty(np.asarray(a.geometry.values))]
        dup = np.zeros(len(a), dtype=bool)
        if len(v):
            vi, ai = shapely.STRtree(np.asarray(a.geometry.values)).query(
                np.asarray(v.geometry.values), predicate="within"
            )
            same = v["name"].fillna("").to_numpy()[vi] == a["name"].fillna("").to_numpy()[ai]
            dup[ai[same]] = True
        a = a[~dup]
        a = a.set_geometry(shapely.point_on_surface(np.asarray(a.geometry.values)), crs=WGS84)
        v = pd.concat([v, a], ignore_index=True) if len(v) else a.reset_index(drop=True)
    if not len(v):
        return None
    v = gpd.GeoDataFrame(v, geometry="geometry", crs=WGS84).rename(columns={"id": "village_id"})
    v["place"] = v["place"].fillna("village").astype(str)
    zh = v["place"].map(_PLACE_ZH).fillna("居民点")
    v["name"] = _fill_names(v["name"], v["name_en"], "", v["village_id"])
    unnamed = v["name"].astype(str).str.startswith(" ")
    v.loc[unnamed, "name"] = "未命名" + zh[unnamed] + " " + v.loc[unnamed, "village_id"].astype(str)
    pop = pd.to_numeric(
        v["population"].astype("string").str.replace(r"[\s,.]", "", regex=True).str.extract(r"^(\d+)", expand=False),
        errors="coerce",
    )
    typical = v["place"].map(PLACEHOLDER_PERSONS).fillna(PLACEHOLDER_PERSONS["hamlet"])
    persons = pop.where(pop > 0, typical).astype("int64")
    households = np.maximum(np.ceil(persons / PLACEHOLDER_HOUSEHOLD_SIZE), 1).astype("int64")
    moving = v["place"].isin(PLACEHOLDER_RELOCATING).to_numpy()
    v["households"] = households
    v["persons"] = persons
    v["poor_households"] = np.where(moving, households, 0)
    v["poor_persons"] = np.where(moving, persons, 0)
    v["relocate_households"] = np.where(moving, households, 0)
    v["relocate_persons"] = np.where(moving, persons, 0)
    v["estimated"] = True
    v["figures_source"] = np.where(pop.notna() & (pop > 0), "osm_population+placeholder", "placeholder")
    v["figures_note"] = FIGURES_NOTE
    return v.drop(columns=["population"])


#: The note every placeholder row carries (``figures_note``).
FIGURES_NOTE = (
    "占位估计，须按建档立卡台账填写 / placeholder estimate: fill households, persons, poor and relocating "
    "figures from the poverty registry (geofupin import-osm --registry)"
)


def _facilities(rows: _Rows, centres: dict[int, int]) -> gpd.GeoDataFrame | None:
    """Facilities, with one county seat: the capital or admin centre of the largest unit in the file."""
    f = rows.frame(["id", "name", "name_en", "kind", "place", "population", "capital", "osm_node"])
    if not len(f):
        return None
    f = f.rename(columns={"id": "facility_id"})
    seat = _county_seat(f, centres)
    if seat is not None:
        f.loc[seat, "kind"] = "county_seat"
    return f.drop(columns=["place", "population", "capital", "osm_node"])


def _county_seat(f: pd.DataFrame, centres: dict[int, int]) -> Any:
    """Index of the town that is the capital (``capital=*``) or admin centre of the highest-ranking
    administrative unit (lowest ``admin_level``); ties: the larger ``population``, then city before
    town. ``None`` when the file names no capital or admin centre among its towns."""
    towns = f[f["kind"] == "town"]
    if not len(towns):
        return None
    cap = towns["capital"].astype("string").str.lower().replace("yes", "2")
    level = pd.to_numeric(cap, errors="coerce").astype(float)
    node = pd.to_numeric(towns["osm_node"], errors="coerce")
    centre = node.map(lambda n: centres.get(int(n), np.nan) if pd.notna(n) else np.nan)
    rank = pd.concat([level, centre.astype(float)], axis=1).min(axis=1)
    if not rank.notna().any():
        return None
    pop = pd.to_numeric(towns["population"], errors="coerce").fillna(0)
    order = pd.DataFrame({"rank": rank, "pop": -pop, "city": (towns["place"] != "city").astype(int)})
    order = order[order["rank"].notna()].sort_values(["rank", "city", "pop"], kind="stable")
    return order.index[0]


def _study_area(
    villages: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame | None, townships: gpd.GeoDataFrame | None
) -> Any:
    """The county row: the villages' and facilities' hull buffered by :data:`STUDY_AREA_BUFFER_M`, with the
    township areas that hold a village (an extract rarely carries a whole county's boundary)."""
    pts = [np.asarray(villages.geometry.values)]
    if facilities is not None and len(facilities):
        pts.append(np.asarray(facilities.geometry.values))
    geoms = np.concatenate(pts)
    area = shapely.buffer(shapely.convex_hull(shapely.union_all(geoms)), STUDY_AREA_BUFFER_M)
    if townships is not None and len(townships):
        tg = np.asarray(townships.geometry.values)
        holds = shapely.STRtree(tg).query(np.asarray(villages.geometry.values), predicate="within")[1]
        if len(holds):
            area = shapely.union_all(np.concatenate([[area], tg[np.unique(holds)]]))
    return shapely.make_valid(area)


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


_COUNT_COLUMNS = (
    "households",
    "persons",
    "poor_households",
    "poor_persons",
    "relocate_households",
    "relocate_persons",
)


@dataclass(frozen=True)
class RegistryJoin:
    """What :func:`join_registry` did.

    Attributes
    ----------
    villages
        The villages with the registry's figures on the matched rows (``estimated`` False,
        ``figures_source`` ``registry``).
    unmatched
        Registry rows that matched no village (or several), with ``reason``.
    matched
        Number of villages that took registry figures.
    warnings
        Messages for the user.
    """

    villages: gpd.GeoDataFrame
    unmatched: pd.DataFrame
    matched: int
    warnings: tuple[str, ...]


def _norm_name(s: pd.Series) -> pd.Series:
    return s.fillna("").astype(str).str.strip().str.casefold().str.replace(r"\s+", "", regex=True)


def join_registry(
    villages: gpd.GeoDataFrame,
    registry: pd.DataFrame,
    *,
    aliases: Mapping[str, Sequence[str]],
    source: str = "registry",
) -> RegistryJoin:
    """Put a village registry's figures (建档立卡台账) on imported villages, by code or by name.

    The registry's columns are recognised by ``aliases`` (canonical column -> its Chinese and
    English aliases; the CLI passes the villages layer's: 村名/name, 村编码/village_id,
    户数/households, 人数/persons, 贫困户数, 搬迁人数, 乡镇 ...).
    A registry row matches a village whose ``village_id`` equals its code, else whose name is
    the same (ignoring case and spaces; then also without a trailing 村). Rows of one village
    (村民小组) are summed. Count columns the registry lacks become 0 on matched villages.

    Raises
    ------
    DataError
        The registry has no name or code column, no count column, or counts that are not numbers.
    """
    lowered = {str(c).strip().lower(): c for c in registry.columns}
    mapping: dict[Any, str] = {}
    for name, names in aliases.items():
        for alias in (name, *names):
            found = lowered.get(alias.lower())
            if found is not None and found not in mapping:
                mapping[found] = name
                break
    reg = registry.rename(columns=mapping).reset_index(drop=True)
    if "name" not in reg and "village_id" not in reg:
        raise DataError(
            f"registry {source}: no village name or code column among {list(registry.columns)}. "
            "Fix: name them 村名 (or name) and/or 村编码 (or village_id)."
        )
    counts = [c for c in _COUNT_COLUMNS if c in reg]
    if not {"households", "persons"} & set(counts):
        raise DataError(
            f"registry {source}: no households/persons columns among {list(registry.columns)}. "
            "Fix: add 户数 and 人数 (or households, persons)."
        )
    for c in counts:
        raw = reg[c].astype("string").str.replace(",", "", regex=False).str.strip()
        num = pd.to_numeric(raw, errors="coerce")
        bad = num.isna() & raw.notna() & (raw != "")
        if bad.any():
            rows = ", ".join(str(i + 2) for i in np.flatnonzero(bad.to_numpy())[:10])
            raise DataError(
                f"registry {source}: column {c} is not a number in row(s) {rows}. Fix: correct those cells."
            )
        reg[c] = num.fillna(0)
    v = villages.copy()
    target = np.full(len(reg), -1)
    reason = np.full(len(reg), "", dtype=object)
    if "village_id" in reg:
        ids = {str(x): i for i, x in enumerate(v["village_id"].astype(str))}
        code = reg["village_id"].astype("string").str.strip()
        target = np.array([ids.get(str(c), -1) if pd.notna(c) else -1 for c in code])
    if "name" in reg:
        vname = _norm_name(v["name"])
        for strip in (False, True):
            keys = vname.str.removesuffix("村") if strip else vname
            counts_by = keys.value_counts()
            lookup = {k: i for i, k in enumerate(keys) if k and counts_by[k] == 1}
            rname = _norm_name(reg["name"])
            rkeys = rname.str.removesuffix("村") if strip else rname
            for i, k in enumerate(rkeys):
                if target[i] >= 0 or not k:
                    continue
                if k in lookup:
                    target[i] = lookup[k]
                elif counts_by.get(k, 0) > 1:
                    reason[i] = f"名称重复 {counts_by[k]} 处 / name matches {counts_by[k]} villages"
    unmatched_mask = target < 0
    reason[unmatched_mask & (reason == "")] = "无对应村 / no village of this code or name"
    unmatched = registry.reset_index(drop=True)[unmatched_mask].assign(reason=reason[unmatched_mask])
    hit = reg[~unmatched_mask].assign(_row=target[~unmatched_mask])
    sums = hit.groupby("_row")[counts].sum()
    rows = sums.index.to_numpy()
    idx = v.index[rows]
    for c in _COUNT_COLUMNS:
        vals = sums[c].round().astype("int64").to_numpy() if c in sums else np.zeros(len(rows), dtype="int64")
        v.loc[idx, c] = vals
    if "township" in hit:
        tw = hit.groupby("_row")["township"].first()
        v.loc[v.index[tw.index.to_numpy()], "township"] = tw.fillna("").astype(str).to_numpy()
    v.loc[idx, "estimated"] = False
    v.loc[idx, "figures_source"] = "registry"
    v.loc[idx, "figures_note"] = f"台账 / registry {source}"
    warns: list[str] = []
    missing = [c for c in _COUNT_COLUMNS if c not in counts]
    if missing and len(rows):
        warns.append(
            f"台账缺少 {', '.join(missing)} 列，匹配的村计为 0 / registry {source} has no {', '.join(missing)}: "
            "taken as 0 for the matched villages."
        )
    if len(unmatched):
        sample = ", ".join(str(x) for x in unmatched.get("name", unmatched.iloc[:, 0]).head(5))
        warns.append(
            f"台账 {len(unmatched)} 行未匹配到村 / {len(unmatched)} registry row(s) matched no village "
            f"(e.g. {sample}); "
            "see registry_unmatched.csv. Fix: correct their names or codes, or add the villages."
        )
    left = int(v["estimated"].astype(bool).sum())
    if left:
        warns.append(
            f"{left} 个村未在台账中，仍为占位估计 / {left} village(s) are not in the registry and keep placeholder "
            "figures (column estimated = true)."
        )
    return RegistryJoin(v, unmatched, len(rows), tuple(warns))


def scenario_text(
    name: str,
    layers: dict[str, gpd.GeoDataFrame],
    *,
    source: str,
    dem: str | None,
    outputs_dir: str = "outputs",
) -> str:
    """A ready scenario for an imported region (YAML text; paths relative to the scenario's folder).

    ``node_intersections: false`` (OSM ways share nodes at junctions; crossings without a node are
    bridges or tunnels), the ODbL credit as ``map.attribution``, and comments saying which figures
    are placeholders and which policy the budgets use.
    """
    import json

    def q(text: str) -> str:
        return json.dumps(text, ensure_ascii=False)

    v = layers["villages"]
    est = int(v["estimated"].astype(bool).sum()) if "estimated" in v else 0
    crs = v.crs.to_string() if v.crs is not None else "auto"
    lines = [
        f"# 由 geofupin import-osm 从 {source} 生成 / written by geofupin import-osm from {source}.",
        f"# 数据来源 data: {OSM_ATTRIBUTION}.",
    ]
    if est:
        lines += [
            f"# 注意: {est} 个村的户数、人口、贫困和搬迁人数是占位估计(villages.gpkg 的 estimated 列)。",
            f"# NOTE: {est} village(s) carry PLACEHOLDER figures (column estimated = true in villages.gpkg):",
            "#   persons from OSM population or the place type, hamlets and isolated dwellings relocate whole.",
            "#   Join the poverty registry: geofupin import-osm FILE --registry 台账.xlsx --out DIR --overwrite",
        ]
    lines += [
        f"name: {q(name)}",
        "title:",
        f"  zh: {q(f'{name} 扶贫易地搬迁规划(OpenStreetMap 数据)')}",
        f"  en: {q(f'{name} relocation plan (OpenStreetMap data)')}",
        f"crs: {q(crs)}",
        "layers:",
    ]
    for kind in ("boundaries", "villages", "roads", "water", "power", "facilities", "constraints"):
        if kind in layers:
            lines.append(f"  {kind}: {kind}.gpkg")
    if dem is not None:
        lines.append(f"  dem: {q(dem)}")
    else:
        lines.append("  # dem: path/to/dem.tif   # no DEM given: slope is not measured (a warning says so)")
    lines += [
        "outputs:",
        f"  dir: {q(outputs_dir)}",
        "access:",
        "  # OSM ways share a node at every junction; crossings without one are bridges or tunnels",
        "  node_intersections: false",
        "map:",
        f"  attribution: {q(OSM_ATTRIBUTION)}",
        "# policy:",
        "#   file: path/to/your-county-policy.yaml   # without it budgets use the built-in seed-county policy",
        "#   (report 4, Baiyu mountains, Shaanxi, 2011) and every run warns so.",
        "# siting:",
        "#   criteria: [{name: dist_hazard_m, weight: 0.2}]   # merged by name with the defaults",
        "",
    ]
    return "\n".join(lines)
