"""The words geofupin's layers use: layer kinds, road classes, surfaces, feature kinds, tiers, and their aliases.

Every closed choice a layer column may take is declared here once, as a ``Literal`` type and
the tuple of its values (in the order tables and messages list them), with the Chinese names,
English variants and OpenStreetMap tag values that :mod:`geofupin.layers` maps onto them
(县道 -> ``county``, ``secondary`` -> ``county``).

This module imports nothing of geofupin, so configs, readers and compute modules may all use
it (see ARCHITECTURE.md).
"""

from __future__ import annotations

from typing import Literal, get_args

#: Layer kinds a county may supply, in the order they are read and reported.
LayerKind = Literal["boundaries", "villages", "roads", "water", "power", "facilities", "constraints", "candidates"]
LAYER_KINDS: tuple[str, ...] = get_args(LayerKind)

# --------------------------------------------------------------------------- roads
RoadClass = Literal["national", "provincial", "county", "township", "village", "track", "path"]
ROAD_CLASSES: tuple[str, ...] = get_args(RoadClass)

#: Chinese road classes and OSM ``highway`` values mapped onto geofupin's road classes.
ROAD_CLASS_ALIASES: dict[str, str] = {
    "国道": "national",
    "高速": "national",
    "高速公路": "national",
    "省道": "provincial",
    "县道": "county",
    "乡道": "township",
    "村道": "village",
    "通村路": "village",
    "机耕路": "track",
    "土路": "track",
    "便道": "path",
    "便民路": "path",
    "小路": "path",
    "步道": "path",
    "motorway": "national",
    "motorway_link": "national",
    "trunk": "national",
    "trunk_link": "national",
    "primary": "provincial",
    "primary_link": "provincial",
    "secondary": "county",
    "secondary_link": "county",
    "tertiary": "township",
    "tertiary_link": "township",
    "unclassified": "village",
    "residential": "village",
    "living_street": "village",
    "service": "village",
    "road": "village",
    "track": "track",
    "path": "path",
    "footway": "path",
    "bridleway": "path",
    "steps": "path",
    "pedestrian": "path",
    "cycleway": "path",
}

Surface = Literal["paved", "gravel", "earth"]
SURFACES: tuple[str, ...] = get_args(Surface)

#: Chinese surface names and OSM ``surface`` values mapped onto geofupin's surfaces.
SURFACE_ALIASES: dict[str, str] = {
    "沥青": "paved",
    "水泥": "paved",
    "硬化": "paved",
    "asphalt": "paved",
    "concrete": "paved",
    "paving_stones": "paved",
    "砂石": "gravel",
    "碎石": "gravel",
    "compacted": "gravel",
    "fine_gravel": "gravel",
    "unpaved": "gravel",
    "土": "earth",
    "土路": "earth",
    "dirt": "earth",
    "ground": "earth",
    "mud": "earth",
    "grass": "earth",
    "sand": "earth",
}

OnewayDirection = Literal["forward", "backward", "both"]
ONEWAY_DIRECTIONS: tuple[str, ...] = get_args(OnewayDirection)

#: Spellings of a road's ``oneway`` and the direction each means: ``forward`` (along the
#: line as drawn), ``backward`` (against it: OSM ``-1``) or ``both``. Capital ``F``/``T``/``B``
#: are Geofabrik shapefiles' codes (F = forward only, T = backward only, B = both); lower-case
#: ``t``/``f`` are PostgreSQL booleans (true/false).
ONEWAY_ALIASES: dict[str, str] = {
    "是": "forward",
    "单向": "forward",
    "正向": "forward",
    "反向": "backward",
    "逆向": "backward",
    "否": "both",
    "双向": "both",
    "F": "forward",
    "T": "backward",
    "B": "both",
    **dict.fromkeys(("yes", "true", "1", "1.0", "y", "t", "forward"), "forward"),
    **dict.fromkeys(("-1", "-1.0", "reverse", "backward"), "backward"),
    **dict.fromkeys(("no", "false", "0", "0.0", "n", "f", "both", "reversible", "alternating"), "both"),
}

# --------------------------------------------------------------------------- water and power
WaterKind = Literal["river", "stream", "reservoir", "lake", "well", "spring", "waterworks"]
WATER_KINDS: tuple[str, ...] = get_args(WaterKind)
WATER_KIND_ALIASES: dict[str, str] = {
    "河流": "river",
    "河": "river",
    "溪": "stream",
    "沟": "stream",
    "水库": "reservoir",
    "湖": "lake",
    "湖泊": "lake",
    "井": "well",
    "水井": "well",
    "泉": "spring",
    "泉水": "spring",
    "水厂": "waterworks",
    "水源地": "waterworks",
    "canal": "stream",
    "ditch": "stream",
    "drain": "stream",
    "water": "lake",
    "water_works": "waterworks",
}

PowerKind = Literal["line", "substation"]
POWER_KINDS: tuple[str, ...] = get_args(PowerKind)
POWER_KIND_ALIASES: dict[str, str] = {
    "线路": "line",
    "输电线": "line",
    "电力线": "line",
    "minor_line": "line",
    "cable": "line",
    "变电站": "substation",
    "变电所": "substation",
}

# --------------------------------------------------------------------------- facilities and constraints
FacilityKind = Literal[
    "county_seat", "town", "school", "kindergarten", "clinic", "hospital", "industrial_park", "market", "nursing_home"
]
FACILITY_KINDS: tuple[str, ...] = get_args(FacilityKind)
FACILITY_KIND_ALIASES: dict[str, str] = {
    "县城": "county_seat",
    "县政府": "county_seat",
    "乡镇": "town",
    "镇": "town",
    "乡": "town",
    "集镇": "town",
    "学校": "school",
    "小学": "school",
    "中学": "school",
    "幼儿园": "kindergarten",
    "卫生院": "clinic",
    "卫生室": "clinic",
    "诊所": "clinic",
    "医院": "hospital",
    "工业园区": "industrial_park",
    "产业园": "industrial_park",
    "园区": "industrial_park",
    "集市": "market",
    "市场": "market",
    "敬老院": "nursing_home",
    "养老院": "nursing_home",
    "福利院": "nursing_home",
    "农村幸福院": "nursing_home",
    "五保供养服务中心": "nursing_home",
    "供养服务中心": "nursing_home",
    "doctors": "clinic",
    "marketplace": "market",
    "nursing_home": "nursing_home",
    "social_facility": "nursing_home",
}

# --------------------------------------------------------------------------- placement modes
#: How a relocating household is placed (安置方式): at a central site (集中安置), on its own (分散安置: with
#: relatives, buying in town), in a nursing home (五保户集中供养, 敬老院) or in the village collective's rent-free
#: transitional housing (特困户周转房安置).
PlacementMode = Literal["central", "scattered", "nursing_home", "transitional"]
PLACEMENT_MODES: tuple[str, ...] = get_args(PlacementMode)
PLACEMENT_MODE_ZH: dict[str, str] = {
    "central": "集中安置",
    "scattered": "分散安置",
    "nursing_home": "集中供养",
    "transitional": "周转房安置",
}
PLACEMENT_MODE_EN: dict[str, str] = {
    "central": "central site",
    "scattered": "scattered",
    "nursing_home": "nursing home (collective care)",
    "transitional": "transitional housing",
}

ConstraintKind = Literal["basic_farmland", "ecological_redline", "hazard_zone", "hazard_point", "flood_zone"]
CONSTRAINT_KINDS: tuple[str, ...] = get_args(ConstraintKind)
CONSTRAINT_KIND_ALIASES: dict[str, str] = {
    "基本农田": "basic_farmland",
    "永久基本农田": "basic_farmland",
    "生态红线": "ecological_redline",
    "生态保护红线": "ecological_redline",
    "地质灾害区": "hazard_zone",
    "地灾区": "hazard_zone",
    "地质灾害点": "hazard_point",
    "滑坡": "hazard_point",
    "崩塌": "hazard_point",
    "泥石流": "hazard_point",
    "洪水区": "flood_zone",
    "行洪区": "flood_zone",
    "洪泛区": "flood_zone",
}

# --------------------------------------------------------------------------- sites and boundaries
#: Resettlement site tiers (安置类型), from the county seat down.
Tier = Literal["county_seat", "market_town", "central_community", "central_village"]
TIERS: tuple[str, ...] = get_args(Tier)
TIER_ALIASES: dict[str, str] = {
    "县城": "county_seat",
    "集镇": "market_town",
    "中心社区": "central_community",
    "中心村": "central_village",
}

BoundaryLevel = Literal["county", "township"]
BOUNDARY_LEVELS: tuple[str, ...] = get_args(BoundaryLevel)
BOUNDARY_LEVEL_ALIASES: dict[str, str] = {
    "县": "county",
    "县级": "county",
    "乡镇": "township",
    "乡": "township",
    "镇": "township",
}

# --------------------------------------------------------------------------- field names in Shapefiles and FileGDBs
#: The documented short (at most 10-character, ArcGIS-safe) name of each long column, used by
#: ``geofupin export --format shp`` and recognised when a layer is read back (``reloc_hh`` ->
#: ``relocate_households``). Names not listed are shortened by :data:`SHORT_NAME_TOKENS`, then cut.
SHORT_FIELD_NAMES: dict[str, str] = {
    # villages
    "poor_households": "poor_hh",
    "poor_persons": "poor_pp",
    "relocate_households": "reloc_hh",
    "relocate_persons": "reloc_pp",
    "income_per_capita": "income_pc",
    "poverty_cause": "pov_cause",
    "elevation_m": "elev_m",
    # ids and other input columns
    "boundary_id": "bound_id",
    "facility_id": "facil_id",
    "constraint_id": "constr_id",
    "planned_area_m2": "plan_am2",
    # result columns
    "facility_kind": "facil_kind",
    "buildable_area_m2": "build_am2",
    "capacity_persons": "cap_pp",
    "capacity_households": "cap_hh",
    "assigned_persons": "asgn_pp",
    "assigned_households": "asgn_hh",
    "stable_topk": "stable_top",
    "snap_dist_m": "snap_m",
    "basic_farmland_share": "farm_shr",
    "ecological_redline_share": "eco_shr",
    "flood_zone_share": "flood_shr",
    "hazard_share": "hazrd_shr",
    "dem_valid_share": "dem_ok_shr",
    "capacity_norm": "cap_norm",
    "time_source": "time_src",
}
#: Words shortened in column names that :data:`SHORT_FIELD_NAMES` does not list
#: (``time_min_school`` -> ``tmin_sch``, ``dist_m_county_seat`` -> ``dm_cty``).
SHORT_NAME_TOKENS: dict[str, str] = {
    "time_min": "tmin",
    "dist_m": "dm",
    "nearest": "nr",
    "county_seat": "cty",
    "town": "twn",
    "school": "sch",
    "kindergarten": "kg",
    "clinic": "cln",
    "hospital": "hosp",
    "industrial_park": "ind",
    "market": "mkt",
    "households": "hh",
    "persons": "pp",
    "relocate": "reloc",
    "capacity": "cap",
    "distance": "dist",
    "elevation": "elev",
    "area": "a",
    "share": "shr",
    "slope": "slp",
    "mean": "mn",
    "max": "mx",
    "min": "mn",
    "score": "sc",
    "contrib": "ctb",
    "water": "wat",
    "power": "pwr",
    "road": "rd",
    "length": "len",
    "cost": "cost",
    "yuan": "y",
    "village": "vil",
    "site": "site",
    "free": "fr",
    "gain": "gn",
    "steep": "stp",
    "hazard": "hzd",
    "any": "any",
}
#: Names ArcGIS (FileGDB, and Shapefiles in ArcGIS) does not accept as field names: written with a
#: trailing ``_`` (``group`` -> ``group_``, as GDAL's FileGDB writer does), read back as the name.
RESERVED_FIELD_NAMES: frozenset[str] = frozenset(
    {
        "add", "alter", "and", "between", "by", "column", "create", "delete", "drop", "exists", "for", "from",
        "group", "having", "in", "insert", "into", "is", "like", "not", "null", "or", "order", "select", "set",
        "table", "update", "values", "where",
    }
)  # fmt: skip


def field_name_aliases(name: str) -> tuple[str, ...]:
    """The names a column ``name`` may carry in a Shapefile or FileGDB that geofupin (or GDAL) wrote."""
    out = [n for n in (SHORT_FIELD_NAMES.get(name), name + "_" if name in RESERVED_FIELD_NAMES else None) if n]
    return tuple(out)


__all__ = [
    "BOUNDARY_LEVELS",
    "BOUNDARY_LEVEL_ALIASES",
    "CONSTRAINT_KINDS",
    "CONSTRAINT_KIND_ALIASES",
    "FACILITY_KINDS",
    "FACILITY_KIND_ALIASES",
    "LAYER_KINDS",
    "ONEWAY_ALIASES",
    "ONEWAY_DIRECTIONS",
    "PLACEMENT_MODES",
    "PLACEMENT_MODE_EN",
    "PLACEMENT_MODE_ZH",
    "POWER_KINDS",
    "POWER_KIND_ALIASES",
    "RESERVED_FIELD_NAMES",
    "ROAD_CLASSES",
    "ROAD_CLASS_ALIASES",
    "SHORT_FIELD_NAMES",
    "SHORT_NAME_TOKENS",
    "SURFACES",
    "SURFACE_ALIASES",
    "TIERS",
    "TIER_ALIASES",
    "WATER_KINDS",
    "WATER_KIND_ALIASES",
    "BoundaryLevel",
    "ConstraintKind",
    "FacilityKind",
    "LayerKind",
    "OnewayDirection",
    "PlacementMode",
    "PowerKind",
    "RoadClass",
    "Surface",
    "Tier",
    "WaterKind",
    "field_name_aliases",
]
