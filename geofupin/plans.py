"""Infrastructure plans for resettlement sites and staying villages, costed, and the plan step.

For each **site** (the allocation's sites, else the candidates): what it needs to be liveable
("近水、近电、近路", report 4) and what that costs:

- **road**: nothing when a suitable road (class in ``road_connect_classes``, paved or of
  unknown surface) passes within ``connected_m``; otherwise the cheaper of (a) a new road
  along the least-cost path over the DEM slope to the nearest suitable road
  (:func:`geofupin.routing.least_cost_path`, 8-neighbour Dijkstra on a grid read window by window around the
  site), or (b) upgrading to cement the stretch of an existing earth/gravel road or track
  that comes within ``upgrade_access_m`` of the site and meets a suitable road (from the
  point nearest the site to the junction), plus a straight spur to it. A site or village
  that already sits on such a track (within ``connected_m``) always gets the upgrade, never
  a parallel new road (so no new road is searched for it). Only tracks that meet a suitable
  road directly are considered;
- **water**: a pipe to the nearest water source (straight line x ``pipe_detour_factor``);
- **power**: a line to the nearest power line or substation;
- **schools**: kindergarten and primary places for the persons moving in, from places per
  1,000 persons (defaults 40 and 80: planning rules of thumb, replace them with your
  province's 千人指标).

For each **village that stays** (someone remains: ``relocate_households < households``), the
gaps report 5 lists: new gravel/cement road km (from the layers: a village farther than
``village_access_m`` from a suitable road gets a new gravel road along the least-cost path,
or an upgrade to cement of a nearby earth/gravel road), footpaths, ponds (山坪塘) and canals
(from the registry: village columns ``plan_footpath_km``, ``plan_pond_new``,
``plan_pond_repair``, ``plan_canal_repair_m``), a clinic (none within ``clinic_max_dist_m``,
or ``plan_clinic``). Registry columns ``plan_gravel_road_km`` / ``plan_cement_road_km``
override the derived roads. :mod:`geofupin.report` words each village's plan line as report 5 does.

Slope cost: a cell costs ``1 + (slope_pct / slope_ref_pct)**2`` per metre crossed; cells
steeper than ``max_slope_pct`` are impassable; DEM voids cost as much as the steepest
passable cell (unknown, not flat). Moving between neighbouring cells costs the step length
times the mean of the two cells' factors (as ``skimage.graph.MCP_Geometric``). Without a
DEM, or when no suitable road lies in the window, the road is a straight line (``method``
says which).

The plan step opens the DEM once for all its road searches (:class:`geofupin.routing.DemSource`); a
window on the DEM's own grid reads the DEM's cells directly, any other window is warped as before.

Unit costs are scenario values (:class:`UnitCosts`); the built-in defaults are illustrative
only and the step warns when they are used.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from shapely.geometry import LineString

from . import policy as pol
from .config.plans import NewRoadSurface, PlansConfig, UnitCosts
from .config.policy import Policy, PolicyConfig
from .context import RunContext, StepResult
from .crs import require_projected
from .routing import DemSource, DemWindow, least_cost_path, read_dem_window, slope_cost

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- road connection
@dataclass(frozen=True)
class RoadLink:
    """How one site/village reaches the road network."""

    action: Literal["none", "new", "upgrade"]
    method: Literal["none", "least_cost", "straight_line", "existing_road"]
    length_m: float
    surface: NewRoadSurface
    cost_yuan: float
    geometry: LineString | None
    road_id: str = ""


def _suitable(roads: gpd.GeoDataFrame, cfg: PlansConfig) -> np.ndarray:
    """Roads a site/village must reach: class in ``road_connect_classes``, paved or surface unknown."""
    cls = roads["road_class"].astype(str).to_numpy() if "road_class" in roads else np.full(len(roads), "")
    if "surface" in roads:
        surf = roads["surface"]
        paved_or_unknown = (surf.isna() | (surf.astype(str) == "paved")).to_numpy()
    else:
        paved_or_unknown = np.ones(len(roads), dtype=bool)
    return np.isin(cls, list(cfg.road_connect_classes)) & paved_or_unknown


@dataclass(frozen=True)
class RoadIndex:
    """The roads split into suitable and other roads, each with an STR-tree, built once per plan step.

    Every search :func:`connect_road` makes (the nearest suitable road, the tracks within
    ``upgrade_access_m``, where a track meets a suitable road, the suitable roads in a DEM
    window) goes through these trees, so planning N sites or villages against M roads costs
    about N log M rather than N x M. Results equal a search over every road: ties are broken by
    road order as a scan would.
    """

    good: np.ndarray
    good_tree: shapely.STRtree
    bad: np.ndarray
    bad_tree: shapely.STRtree
    bad_idx: np.ndarray

    @classmethod
    def build(cls, roads: gpd.GeoDataFrame, suitable: np.ndarray) -> RoadIndex:
        """Index ``roads`` split by the mask ``suitable`` (see :func:`_suitable`)."""
        geoms = roads.geometry.to_numpy()
        ok = np.asarray(suitable, dtype=bool)
        good, bad = geoms[ok], geoms[~ok]
        return cls(good, shapely.STRtree(good), bad, shapely.STRtree(bad), np.flatnonzero(~ok))

    def nearest_good(self, geom: shapely.Geometry) -> tuple[int, float]:
        """(position in :attr:`good`, distance) of the suitable road nearest ``geom``; the first of equals."""
        idx, dist = self.good_tree.query_nearest(geom, return_distance=True, all_matches=True)
        return int(np.min(idx)), float(dist[0])

    def good_within(self, geom: shapely.Geometry, distance: float) -> np.ndarray:
        """Positions in :attr:`good` of suitable roads within ``distance`` of ``geom``, in road order."""
        return np.sort(self.good_tree.query(geom, predicate="dwithin", distance=distance))

    def good_meeting(self, geom: shapely.Geometry) -> np.ndarray:
        """Positions in :attr:`good` of suitable roads intersecting ``geom``, in road order."""
        return np.sort(self.good_tree.query(geom, predicate="intersects"))

    def bad_within(self, geom: shapely.Geometry, distance: float) -> np.ndarray:
        """Positions in :attr:`bad` of other roads within ``distance`` of ``geom``, in road order."""
        return np.sort(self.bad_tree.query(geom, predicate="dwithin", distance=distance))


def connect_road(
    geom: shapely.Geometry,
    roads: gpd.GeoDataFrame,
    cfg: PlansConfig,
    *,
    surface: NewRoadSurface,
    dem: Path | DemSource | None = None,
    crs: CRS | None = None,
    suitable: np.ndarray | None = None,
    index: RoadIndex | None = None,
) -> RoadLink:
    """Plan the road connection of one site (polygon) or village (point).

    Parameters
    ----------
    geom
        The site polygon or village point, in the roads' metric CRS.
    roads
        The roads layer.
    cfg
        Plan rules and unit costs.
    surface
        Surface of a new road.
    dem, crs
        DEM path (or the :class:`~geofupin.routing.DemSource` opened once for many features) and the run CRS
        for the least-cost path; without a DEM the road is straight.
    suitable
        Precomputed mask of suitable roads (default: from ``cfg``).
    index
        The roads' :class:`RoadIndex`, built once when connecting many features (default: built here).

    Returns
    -------
    RoadLink
    """
    costs = cfg.unit_costs
    per_m = (costs.cement_road_yuan_per_km if surface == "paved" else costs.gravel_road_yuan_per_km) / 1000
    if index is None:
        index = RoadIndex.build(roads, _suitable(roads, cfg) if suitable is None else suitable)
    good = index.good
    if len(good) == 0:
        return RoadLink("none", "none", math.nan, surface, math.nan, None)
    k, dist = index.nearest_good(geom)
    if dist <= cfg.connected_m:
        return RoadLink("none", "none", 0.0, surface, 0.0, None)
    # (b) first: upgrading the stretch of an earth/gravel road (or track) near the feature up to where it meets a
    # suitable road. A feature that sits on such a track always takes it: its new road is not searched at all
    upgrade = _best_upgrade(geom, roads, index, cfg, per_m)
    if upgrade is not None and upgrade[0]:
        return upgrade[1]
    # (a) a new road
    new = _new_road(geom, index, good[k], dist, cfg, dem, crs) if dist <= cfg.search_radius_m else None
    if new is None:
        line = shapely.shortest_line(geom, good[k])
        new_link = RoadLink("new", "straight_line", float(line.length), surface, float(line.length) * per_m, line)
    else:
        new_link = RoadLink("new", "least_cost", new[1], surface, new[1] * per_m, new[0])
    if upgrade is not None and upgrade[1].cost_yuan < new_link.cost_yuan:
        return upgrade[1]
    return new_link


def _best_upgrade(
    geom: shapely.Geometry, roads: gpd.GeoDataFrame, index: RoadIndex, cfg: PlansConfig, per_m: float
) -> tuple[bool, RoadLink] | None:
    """The cheapest upgrade of a track within ``upgrade_access_m`` that meets a suitable road, and whether
    ``geom`` sits on it (within ``connected_m``; such a track comes before any cheaper one); None without one.
    """
    if not len(index.bad_idx):
        return None
    bad = index.bad
    near = index.bad_within(geom, cfg.upgrade_access_m)
    if not len(near):
        return None
    d_bad = shapely.distance(geom, bad[near])
    meets = np.zeros(len(near), dtype=bool)  # the tracks that meet a suitable road: one query for all of them
    meets[index.good_tree.query(bad[near], predicate="dwithin", distance=cfg.connect_tol_m)[0]] = True
    options = []
    for pos, j in enumerate(near.tolist()):
        if not meets[pos]:
            continue
        seg = _stretch(bad[j], geom, index, cfg.connect_tol_m)
        spur = float(d_bad[pos])
        cost = seg.length * cfg.unit_costs.upgrade_to_cement_yuan_per_km / 1000 + spur * per_m
        on_it = spur <= cfg.connected_m  # the feature already sits on this road: never build beside it
        options.append((not on_it, cost, j, seg, spur))
    if not options:
        return None
    not_on, cost, j, seg, spur = min(options, key=lambda o: (o[0], o[1]))
    at = int(index.bad_idx[j])
    rid = str(roads["road_id"].iat[at] if "road_id" in roads else at)
    return not not_on, RoadLink("upgrade", "existing_road", seg.length + spur, "paved", cost, seg, rid)


def _stretch(track: shapely.Geometry, geom: shapely.Geometry, index: RoadIndex, tol: float) -> LineString:
    """The part of ``track`` between the point nearest ``geom`` and the nearest junction with a suitable road."""
    from shapely.ops import substring

    if not isinstance(track, LineString):
        return track  # a MultiLineString: upgrade it whole
    a = shapely.line_locate_point(track, shapely.get_point(shapely.shortest_line(track, geom), 0))
    cand = index.good[index.good_within(track, tol)]
    b = shapely.line_locate_point(track, shapely.get_point(shapely.shortest_line(track, cand), 0))
    b_best = float(b[np.argmin(np.abs(b - a))])
    seg = substring(track, min(a, b_best), max(a, b_best))
    if not isinstance(seg, LineString):  # a single point: the site is at the junction
        seg = LineString([seg, seg])
    return seg


def _new_road(
    geom: shapely.Geometry,
    index: RoadIndex,
    nearest_road: shapely.Geometry,
    dist: float,
    cfg: PlansConfig,
    dem: Path | DemSource | None,
    crs: CRS | None,
) -> tuple[LineString, float] | None:
    """Least-cost new road from ``geom`` to any suitable road, on a DEM window around both ends."""
    if dem is None or crs is None:
        return None
    # the window: the feature and the nearest point of the nearest suitable road, plus a margin for detours
    end = shapely.shortest_line(geom, nearest_road)
    bx0, by0, bx1, by1 = shapely.bounds(shapely.union(shapely.envelope(geom), shapely.envelope(end)))
    pad = cfg.window_margin * dist + 5 * cfg.dem_cell_m
    side = max(bx1 - bx0, by1 - by0) + 2 * pad
    cell = max(cfg.dem_cell_m, side / cfg.max_window_cells)
    x0 = math.floor((bx0 - pad) / cell) * cell
    y0 = math.floor((by0 - pad) / cell) * cell
    x1 = math.ceil((bx1 + pad) / cell) * cell
    y1 = math.ceil((by1 + pad) / cell) * cell
    win = read_dem_window(dem, crs, (x0, y0, x1, y1), cell)
    from .terrain import horn_slope_deg

    slope = horn_slope_deg(win.z, xres_m=cell, yres_m=cell)
    factor = slope_cost(slope, slope_ref_pct=cfg.slope_ref_pct, max_slope_pct=cfg.max_slope_pct)
    h, w = factor.shape
    box = shapely.box(x0, y0, x1, y1)
    targets = _burn(list(index.good[index.good_meeting(box)]), win, (h, w))
    sources = _burn([geom], win, (h, w), interior=True)
    if not sources.any():
        c = shapely.centroid(geom) if not isinstance(geom, shapely.Point) else geom
        r = min(h - 1, max(0, int((win.y1 - c.y) // cell)))
        q = min(w - 1, max(0, int((c.x - win.x0) // cell)))
        sources[r, q] = True
    # the site's own cells and the road's cells are always passable (a road may leave a steep site)
    ends = sources | targets
    factor[ends] = np.minimum(factor[ends], 1 + (cfg.max_slope_pct / cfg.slope_ref_pct) ** 2)
    path = least_cost_path(factor, sources, targets, xres_m=cell, yres_m=cell)
    if not path.reached:
        return None
    xy = win.centres(path.cells)
    if len(xy) == 1:
        xy = np.vstack([xy, xy])
    return LineString(xy), path.length_m


@contextlib.contextmanager
def _opened(dem: Path | DemSource | None, crs: CRS | None) -> Iterator[DemSource | None]:
    """The DEM opened once for many road searches: a path is opened (and closed after), a source passed on."""
    if dem is None or crs is None or isinstance(dem, DemSource):
        yield dem if isinstance(dem, DemSource) else None
        return
    with DemSource(dem, crs) as src:
        yield src


def _burn(geoms: Sequence[Any], win: DemWindow, shape: tuple[int, int], *, interior: bool = False) -> np.ndarray:
    """Cells of the window the geometries cover (``interior``: cell centres inside) or touch (otherwise)."""
    from rasterio.features import rasterize
    from rasterio.transform import Affine

    if not geoms:
        return np.zeros(shape, dtype=bool)
    if interior and len(geoms) == 1 and isinstance(geoms[0], shapely.Point) and not geoms[0].is_empty:
        # a village point burns the one cell it lies in; within a millionth of a cell of a cell edge
        # GDAL's rounding decides, so rasterize decides there
        p = geoms[0]
        col, row = (p.x - win.x0) / win.cell_m, (win.y1 - p.y) / win.cell_m
        if min(abs(col - round(col)), abs(row - round(row))) >= 1e-6:
            out = np.zeros(shape, dtype=bool)
            if 0 <= col < shape[1] and 0 <= row < shape[0]:
                out[int(row), int(col)] = True
            return out
    transform = Affine(win.cell_m, 0, win.x0, 0, -win.cell_m, win.y1)
    return rasterize(
        [(g, 1) for g in geoms], out_shape=shape, transform=transform, all_touched=not interior, dtype="uint8"
    ).astype(bool)


# --------------------------------------------------------------------------- nearest features
def nearest_links(
    geoms: gpd.GeoSeries, features: gpd.GeoDataFrame | None, id_col: str, kinds: Sequence[str]
) -> pd.DataFrame:
    """Shortest line from each geometry to the nearest feature of the given kinds.

    Returns a frame indexed like ``geoms`` with ``feature_id``, ``kind``, ``dist_m`` and
    ``line`` (NaN/None when no such feature exists).
    """
    out = pd.DataFrame(index=geoms.index, data={"feature_id": "", "kind": "", "dist_m": np.nan, "line": None})
    if features is None or len(features) == 0 or len(geoms) == 0:
        return out
    f = features[features["kind"].isin(list(kinds))] if "kind" in features else features
    if len(f) == 0:
        return out
    f = f.reset_index(drop=True)
    gi, fi = f.sindex.nearest(geoms.to_numpy(), return_all=False)
    lines = shapely.shortest_line(geoms.to_numpy()[gi], f.geometry.to_numpy()[fi])
    # column by column (a row by row .at costs more than the search): the frame the row by row filling gave
    n = len(geoms)
    feature_id = np.full(n, "", dtype=object)
    feature_id[gi] = f[id_col].astype(str).to_numpy()[fi] if id_col in f else fi.astype(str)
    kind = np.full(n, "", dtype=object)
    kind[gi] = f["kind"].astype(str).to_numpy()[fi] if "kind" in f else ""
    dist_m = np.full(n, np.nan)
    dist_m[gi] = shapely.length(lines)
    line = np.full(n, None, dtype=object)
    line[gi] = lines
    return pd.DataFrame(
        {
            "feature_id": pd.array(feature_id, dtype=out["feature_id"].dtype),
            "kind": pd.array(kind, dtype=out["kind"].dtype),
            "dist_m": dist_m,
            "line": line,
        },
        index=geoms.index,
    )


def _nearest(geoms: gpd.GeoSeries, others: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(positions in geoms, positions in others, distances) of each geometry's nearest other (spatial index)."""
    tree = shapely.STRtree(others)
    (gi, oi), dist = tree.query_nearest(geoms.to_numpy(), return_distance=True, all_matches=False)
    return gi, oi, dist


# --------------------------------------------------------------------------- site plans
def plan_sites(
    sites: gpd.GeoDataFrame,
    persons_in: pd.Series,
    households_in: pd.Series,
    *,
    roads: gpd.GeoDataFrame | None,
    water: gpd.GeoDataFrame | None,
    power: gpd.GeoDataFrame | None,
    cfg: PlansConfig,
    dem: Path | DemSource | None = None,
    works_built: Sequence[str] = (),
) -> tuple[pd.DataFrame, dict[str, gpd.GeoDataFrame]]:
    """Road, water, power and school needs of each site and their costs.

    Two kinds of works are costed apart, since different money pays for them: the in-site works of
    the new village (``in_site_*``: hardened lanes, water supply and drainage, power to each house,
    per household moving in; what the 2,300 yuan/person infrastructure subsidies are for) and the
    off-site works (``off_site_cost_yuan``: the road spur, water pipe and power line to the site,
    kindergarten and school places). ``total_cost_yuan`` is their sum.

    Parameters
    ----------
    sites
        Site polygons with ``site_id`` (optional ``name``, ``name_en``, ``tier``, ``township``).
    persons_in, households_in
        Persons and households moving in, indexed by ``site_id`` (missing = 0).
    roads, water, power
        Layers (any may be None).
    cfg
        Plan rules and unit costs.
    dem
        DEM path (or :class:`~geofupin.routing.DemSource`) for least-cost roads; a path is opened once for
        every site.
    works_built
        Sites whose in-site works the county has already built: no in-site cost (``works_built``).

    Returns
    -------
    (table ``plan_sites``, {``planned_roads``, ``planned_water``, ``planned_power``} line layers).
    """
    require_projected(sites, "sites")
    s = sites.reset_index(drop=True)
    crs = s.crs
    costs = cfg.unit_costs
    ids = s["site_id"].astype(str)
    tab = pd.DataFrame({"site_id": ids})
    for col in ("name", "name_en", "tier", "township"):
        tab[col] = s[col].astype(str).to_numpy() if col in s else ""
    tab["persons_in"] = ids.map(persons_in).fillna(0).astype(float).to_numpy()
    tab["households_in"] = ids.map(households_in).fillna(0).astype(float).to_numpy()
    lines: dict[str, list[dict[str, Any]]] = {"planned_roads": [], "planned_water": [], "planned_power": []}
    # road
    road_rows = []
    if roads is not None and len(roads):
        index = RoadIndex.build(roads, _suitable(roads, cfg))
        with _opened(dem, crs) as src:
            links = [
                connect_road(g, roads, cfg, surface=cfg.site_road_surface, dem=src, crs=crs, index=index)
                for g in s.geometry.to_numpy()
            ]
        for i, link in enumerate(links):
            road_rows.append(link)
            if link.geometry is not None and link.action != "none":
                lines["planned_roads"].append(
                    {
                        "site_id": ids[i],
                        "village_id": "",
                        "item": f"road_{link.action}",
                        "road_class": cfg.new_road_class,
                        "surface": link.surface,
                        "method": link.method,
                        "length_m": round(link.length_m, 1),
                        "cost_yuan": round(link.cost_yuan, 2),
                        "geometry": link.geometry,
                    }
                )
    else:
        road_rows = [RoadLink("none", "none", math.nan, cfg.site_road_surface, math.nan, None)] * len(s)
    tab["road_action"] = [r.action for r in road_rows]
    tab["road_method"] = [r.method for r in road_rows]
    tab["road_surface"] = [r.surface for r in road_rows]
    tab["road_length_m"] = [round(r.length_m, 1) for r in road_rows]
    tab["road_cost_yuan"] = [round(r.cost_yuan, 2) for r in road_rows]
    # water and power
    for key, layer, id_col, kinds, unit, item in (
        ("water", water, "water_id", cfg.water_source_kinds, costs.water_pipe_yuan_per_m, "water_pipe"),
        ("power", power, "power_id", cfg.power_kinds, costs.power_line_yuan_per_m, "power_line"),
    ):
        near = nearest_links(s.geometry, layer, id_col, kinds)
        length = near["dist_m"].to_numpy(dtype=float) * cfg.pipe_detour_factor
        tab[f"{key}_feature_id"] = near["feature_id"].to_numpy()
        tab[f"{key}_kind"] = near["kind"].to_numpy()
        tab[f"{key}_length_m"] = length.round(1)
        tab[f"{key}_cost_yuan"] = (length * unit).round(2)
        for i, ln in enumerate(near["line"].to_numpy()):
            if ln is not None and length[i] > 0:
                lines[f"planned_{key}"].append(
                    {
                        "site_id": ids[i],
                        "village_id": "",
                        "item": item,
                        "feature_id": near["feature_id"].iat[i],
                        "length_m": round(float(length[i]), 1),
                        "cost_yuan": round(float(length[i] * unit), 2),
                        "geometry": ln,
                    }
                )
    # schools
    p = tab["persons_in"].to_numpy()
    tab["kindergarten_places"] = np.maximum(np.ceil(p * cfg.kindergarten_places_per_1000 / 1000 - 1e-9), 0.0)
    tab["primary_places"] = np.maximum(np.ceil(p * cfg.primary_places_per_1000 / 1000 - 1e-9), 0.0)
    tab["school_cost_yuan"] = (
        tab["kindergarten_places"] * costs.kindergarten_yuan_per_place
        + tab["primary_places"] * costs.primary_school_yuan_per_place
    ).round(2)
    parts = ["road_cost_yuan", "water_cost_yuan", "power_cost_yuan", "school_cost_yuan"]
    tab["off_site_cost_yuan"] = tab[parts].fillna(0).sum(axis=1).round(2)
    built = tab["site_id"].isin([str(x) for x in works_built]).to_numpy()
    hh = np.where(built, 0.0, tab["households_in"].to_numpy(dtype=float))
    tab["works_built"] = built
    tab["in_site_lane_yuan"] = (hh * costs.site_lane_yuan_per_household).round(2)
    tab["in_site_water_drainage_yuan"] = (hh * costs.site_water_drainage_yuan_per_household).round(2)
    tab["in_site_power_yuan"] = (hh * costs.site_power_yuan_per_household).round(2)
    tab["in_site_cost_yuan"] = (
        tab["in_site_lane_yuan"] + tab["in_site_water_drainage_yuan"] + tab["in_site_power_yuan"]
    ).round(2)
    tab["total_cost_yuan"] = (tab["off_site_cost_yuan"] + tab["in_site_cost_yuan"]).round(2)
    layers = {k: _lines_frame(v, crs) for k, v in lines.items()}
    return tab, layers


def _lines_frame(rows: list[dict[str, Any]], crs: Any) -> gpd.GeoDataFrame:
    cols = ["site_id", "village_id", "item", "length_m", "cost_yuan", "geometry"]
    if not rows:
        return gpd.GeoDataFrame({c: [] for c in cols}, geometry="geometry", crs=crs)
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)


# --------------------------------------------------------------------------- village plans
REGISTRY_COLUMNS: tuple[str, ...] = (
    "plan_gravel_road_km",
    "plan_cement_road_km",
    "plan_footpath_km",
    "plan_pond_new",
    "plan_pond_repair",
    "plan_canal_repair_m",
    "plan_clinic",
)


def _stayers(v: pd.DataFrame) -> pd.DataFrame:
    """Who stays in each village row: households, persons and poor households/persons left behind.

    The poor move first (项目村贫困户全部纳入搬迁范围): ``poor_staying = max(0, poor - relocating)``;
    their persons are the village's poor persons in proportion.
    """

    def num(col: str) -> np.ndarray:
        return pd.to_numeric(v[col], errors="coerce").fillna(0).to_numpy(dtype=float) if col in v else np.zeros(len(v))

    hh, pp, rel, rel_p = num("households"), num("persons"), num("relocate_households"), num("relocate_persons")
    poor_h, poor_p = num("poor_households"), num("poor_persons")
    stay_h = np.maximum(hh - rel, 0)
    stay_poor_h = np.minimum(np.maximum(poor_h - rel, 0), stay_h)
    stay_poor_p = np.where(poor_h > 0, np.round(poor_p * stay_poor_h / np.maximum(poor_h, 1)), 0)
    return pd.DataFrame(
        {
            "stay_households": stay_h,
            "stay_persons": np.maximum(pp - rel_p, 0),
            "poor_households": stay_poor_h,
            "poor_persons": stay_poor_p,
            "relocate_households": rel,
        },
        index=v.index,
    )


def village_gaps(
    villages: gpd.GeoDataFrame,
    *,
    roads: gpd.GeoDataFrame | None,
    facilities: gpd.GeoDataFrame | None,
    cfg: PlansConfig,
    dem: Path | DemSource | None = None,
) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Report-5 in-situ works of every administrative village where people stay, costed.

    A village listed group by group (村民小组) is planned as one village, its groups listed: roads
    are found group by group and added up; a village clinic (村卫生室) is planned at most once per
    village, when none of its staying groups has a clinic or hospital within
    ``cfg.clinic_max_dist_m``. Groups that relocate are left out unless
    ``cfg.in_situ_partly_relocated`` (see :class:`~geofupin.config.plans.PlansConfig`); the figures
    quoted are those who stay (:func:`_stayers`). :func:`geofupin.report.plan_villages` adds each
    village's plan line.

    Returns
    -------
    (table ``plan_villages``, one row per village; line layer of planned village roads).
    """
    require_projected(villages, "villages")
    v = villages.reset_index(drop=True)
    who = _stayers(v)
    keep = who["stay_households"].to_numpy() > 0
    if not cfg.in_situ_partly_relocated:
        keep &= who["relocate_households"].to_numpy() == 0
    stay = v[keep].reset_index(drop=True)
    who = who[keep].reset_index(drop=True)
    costs = cfg.unit_costs
    rows = pd.DataFrame({"village_id": stay["village_id"].astype(str)})
    for col in ("name", "name_en", "township", "group"):
        rows[col] = stay[col].fillna("").astype(str).to_numpy() if col in stay else ""
    gravel = np.zeros(len(stay))
    cement = np.zeros(len(stay))
    upgrade = np.zeros(len(stay))
    sources: list[list[str]] = [[] for _ in range(len(stay))]
    road_lines: list[dict[str, Any]] = []
    if roads is not None and len(roads):
        index = RoadIndex.build(roads, _suitable(roads, cfg))
        good = index.good
        d = None
        if len(good) and len(stay):
            gi, _, dist = _nearest(stay.geometry, good)
            d = np.full(len(stay), np.inf)
            d[gi] = dist
        far = [i for i in range(len(stay)) if d is not None and d[i] > cfg.village_access_m]
        geoms = stay.geometry.to_numpy()
        with _opened(dem, v.crs) as src:
            links = {
                i: connect_road(geoms[i], roads, cfg, surface=cfg.village_road_surface, dem=src, crs=v.crs, index=index)
                for i in far
            }
        for i, link in links.items():
            if link.action == "none":
                continue
            km = link.length_m / 1000
            if link.action == "upgrade":
                upgrade[i] = km
            elif link.surface == "paved":
                cement[i] = km
            else:
                gravel[i] = km
            sources[i].append("road:layers")
            if link.geometry is not None:
                road_lines.append(
                    {
                        "site_id": "",
                        "village_id": rows["village_id"].iat[i],
                        "item": f"road_{link.action}",
                        "road_class": cfg.new_road_class,
                        "surface": link.surface,
                        "method": link.method,
                        "length_m": round(link.length_m, 1),
                        "cost_yuan": round(link.cost_yuan, 2),
                        "geometry": link.geometry,
                    }
                )
    clinic_dist = np.zeros(len(stay))  # without a facilities layer no clinic is derived
    if facilities is not None and len(facilities) and len(stay):
        near = nearest_links(stay.geometry, facilities, "facility_id", ("clinic", "hospital"))
        clinic_dist = near["dist_m"].to_numpy(dtype=float)
        clinic_dist = np.where(np.isnan(clinic_dist), np.inf, clinic_dist)
    items = {
        "gravel_road_km": gravel,
        "cement_road_km": cement,
        "upgrade_road_km": upgrade,
        "footpath_km": np.zeros(len(stay)),
        "pond_new": np.zeros(len(stay)),
        "pond_repair": np.zeros(len(stay)),
        "canal_repair_m": np.zeros(len(stay)),
    }
    registry_clinic = np.full(len(stay), np.nan)
    for reg in REGISTRY_COLUMNS:
        if reg not in stay:
            continue
        key = reg.removeprefix("plan_")
        vals = pd.to_numeric(stay[reg], errors="coerce")
        has = vals.notna().to_numpy()
        for i in np.flatnonzero(has).tolist():
            sources[i].append(f"{key}:registry")
        if key == "clinic":
            registry_clinic = vals.to_numpy(dtype=float)
            continue
        if key in ("gravel_road_km", "cement_road_km") and has.any():
            # the registry's surveyed roads replace the derived ones
            items["upgrade_road_km"] = np.where(has, 0.0, items["upgrade_road_km"])
            other = "cement_road_km" if key == "gravel_road_km" else "gravel_road_km"
            other_reg = f"plan_{other}"
            if other_reg not in stay:
                items[other] = np.where(has, 0.0, items[other])
        items[key] = np.where(has, vals.fillna(0).to_numpy(dtype=float), items[key])
    for k, arr in items.items():
        rows[k] = arr
    rows = pd.concat([rows, who[["stay_households", "stay_persons", "poor_households", "poor_persons"]]], axis=1)
    rows["relocating_households"] = who["relocate_households"].to_numpy()
    rows["clinic_dist_m"] = clinic_dist
    rows["registry_clinic"] = registry_clinic
    rows["derived_from"] = [";".join(dict.fromkeys(s)) for s in sources]
    # one row per administrative village (township + name), its groups listed
    by = ["township", "name"]
    g = rows.groupby(by, sort=False, dropna=False)
    sums = [*items, "stay_households", "stay_persons", "poor_households", "poor_persons", "relocating_households"]
    tab = g[sums].sum().reset_index()
    first = g[["village_id", "name_en"]].first().reset_index(drop=True)
    tab.insert(0, "village_id", first["village_id"].to_numpy())
    tab.insert(3, "name_en", first["name_en"].to_numpy())
    tab.insert(4, "groups", g["group"].agg(lambda s: "、".join(x for x in dict.fromkeys(s) if x)).to_numpy())
    near_clinic = g["clinic_dist_m"].min().to_numpy()
    reg_clinic = g["registry_clinic"].max().to_numpy()
    derived_clinic = (near_clinic > cfg.clinic_max_dist_m).astype(float)
    tab["clinic"] = np.where(np.isnan(reg_clinic), derived_clinic, np.minimum(reg_clinic, 1.0))
    derived = g["derived_from"].agg(lambda s: ";".join(dict.fromkeys(x for part in s for x in part.split(";") if x)))
    tab["derived_from"] = [
        (d + (";" if d else "") + "clinic:layers") if c and np.isnan(r) and "clinic:layers" not in d else d
        for d, c, r in zip(derived.to_numpy(), tab["clinic"], reg_clinic, strict=True)
    ]
    for k in [*items, "clinic"]:
        tab[k] = tab[k].astype(float).round(3)
    for k in ("stay_households", "stay_persons", "poor_households", "poor_persons", "relocating_households"):
        tab[k] = tab[k].round().astype(int)
    tab["road_cost_yuan"] = (
        tab["gravel_road_km"] * costs.gravel_road_yuan_per_km
        + tab["cement_road_km"] * costs.cement_road_yuan_per_km
        + tab["upgrade_road_km"] * costs.upgrade_to_cement_yuan_per_km
        + tab["footpath_km"] * costs.footpath_yuan_per_km
    ).round(2)
    tab["water_cost_yuan"] = (
        tab["pond_new"] * costs.pond_new_yuan_each
        + tab["pond_repair"] * costs.pond_repair_yuan_each
        + tab["canal_repair_m"] * costs.canal_repair_yuan_per_m
    ).round(2)
    tab["clinic_cost_yuan"] = (tab["clinic"] * costs.clinic_yuan_each).round(2)
    tab["total_cost_yuan"] = (tab["road_cost_yuan"] + tab["water_cost_yuan"] + tab["clinic_cost_yuan"]).round(2)
    return tab, _lines_frame(road_lines, v.crs)


def _village_works_by_reading(
    layers: Any, cfg: PlansConfig, village_tab: pd.DataFrame, dem: Path | DemSource | None = None
) -> dict[str, float]:
    """Village works in yuan under both readings of ``in_situ_partly_relocated``.

    Only the administrative villages holding a partly relocated group differ between the two, so
    only they are planned again, under the other reading. Under the plan's own reading their rows are
    ``village_tab``'s own (a village's row depends on its own groups only), read from it when the layer's
    township and name are plain text (then the table's keys are the layer's values); otherwise they
    are planned again too.
    """
    v = layers.villages
    this = float(village_tab["total_cost_yuan"].sum())
    who = _stayers(v)
    partly = (who["relocate_households"] > 0) & (who["stay_households"] > 0)
    key = ["township", "name"]
    if not partly.any() or not set(key) <= set(v.columns):
        return {"false": this, "true": this}
    hit = v.loc[partly.to_numpy(), key].drop_duplicates()
    sub = v.merge(hit, on=key, how="inner") if len(hit) else v.iloc[:0]
    sub = gpd.GeoDataFrame(sub, geometry=v.geometry.name, crs=v.crs)
    mine = cfg.in_situ_partly_relocated
    totals = {}
    if all(isinstance(x, str) for col in key for x in v[col].tolist()):
        wanted = set(hit.itertuples(index=False, name=None))
        rows = [k in wanted for k in zip(village_tab["township"], village_tab["name"], strict=True)]
        totals[mine] = float(village_tab.loc[np.asarray(rows, dtype=bool), "total_cost_yuan"].sum())
    for flag in (False, True):
        if flag in totals:
            continue
        tab, _ = village_gaps(
            sub,
            roads=layers.roads,
            facilities=layers.facilities,
            cfg=dataclasses.replace(cfg, in_situ_partly_relocated=flag),
            dem=layers.dem if dem is None else dem,
        )
        totals[flag] = float(tab["total_cost_yuan"].sum())
    return {str(flag).lower(): round(this - totals[mine] + totals[flag], 2) for flag in (False, True)}


# --------------------------------------------------------------------------- works projects
def works_projects(site_plans: pd.DataFrame, village_plans: pd.DataFrame) -> pd.DataFrame:
    """Public-works projects (one per site/village item with a cost) for the disbursement schedule."""
    cols = ["project_id", "site_id", "village_id", "name", "item_zh", "item_en", "cost_yuan"]
    out: dict[str, list[Any]] = {c: [] for c in cols}
    for col, item_zh, item_en in (
        ("road_cost_yuan", "道路", "road"),
        ("water_cost_yuan", "供水", "water"),
        ("power_cost_yuan", "电力", "power"),
        ("school_cost_yuan", "幼儿园及小学", "schools"),
        ("clinic_cost_yuan", "村卫生室", "clinic"),
    ):
        for tab, key in ((site_plans, "site_id"), (village_plans, "village_id")):
            if col not in tab or tab.empty:
                continue
            sel = tab[tab[col].fillna(0) > 0]
            ids = sel[key].tolist()  # column by column: the values a row by row walk read
            out["project_id"] += [f"{i}-{item_en}" for i in ids]
            out["site_id"] += ids if key == "site_id" else [""] * len(ids)
            out["village_id"] += ids if key == "village_id" else [""] * len(ids)
            out["name"] += sel["name"].tolist() if "name" in sel else [""] * len(ids)
            out["item_zh"] += [item_zh] * len(ids)
            out["item_en"] += [item_en] * len(ids)
            out["cost_yuan"] += [float(x) for x in sel[col].tolist()]
    if not out["project_id"]:
        return pd.DataFrame([], columns=cols)
    return pd.DataFrame(out, columns=cols)


# --------------------------------------------------------------------------- the step
def _sites_for_plan(ctx: RunContext, assignment: pd.DataFrame | None) -> gpd.GeoDataFrame | None:
    sites = ctx.layer("sites")
    if sites is None:
        sites = ctx.layers.candidates
    if sites is None:
        return None
    if assignment is not None:  # allocation ran: plan the sites that receive someone (none if it placed nobody)
        used = set(assignment["site_id"].astype(str))
        sites = sites[sites["site_id"].astype(str).isin(used)]
    elif "passed" in sites:
        sites = sites[sites["passed"].astype(bool)]
    return sites.reset_index(drop=True)


def plan(ctx: RunContext, policy: Policy) -> StepResult:
    """The ``plan`` step's numbers: budgets, infrastructure plans, disbursement, acceptance form.

    Uses the allocate step's ``assignment`` table and the site step's ``sites`` layer when
    present (else the villages' relocation counts and the candidate sites), and ``policy`` (read
    by the caller through :func:`geofupin.io.load_policy`). The step itself,
    :func:`geofupin.report.plan_step`, adds the wording: the township table and each village's
    plan line.
    """
    layers = ctx.layers
    # the DEM is opened once for every least-cost road of the step (sites, villages, both readings)
    with _opened(layers.dem, layers.villages.crs) as dem:
        return _plan(ctx, policy, dem)


def _plan(ctx: RunContext, policy: Policy, dem: DemSource | None) -> StepResult:
    """:func:`plan` with the DEM opened."""
    pcfg: PolicyConfig = getattr(ctx.scenario, "policy", None) or PolicyConfig()
    cfg: PlansConfig = getattr(ctx.scenario, "plans", None) or PlansConfig()
    layers = ctx.layers
    warnings: list[str] = []
    if pcfg.file is None:  # say which policy the budgets use: the seed county's is not every county's
        policy_source = f"内置示范政策(未指定 policy.file)/ built-in seed-county policy (no policy.file): {policy.name}"
        warnings.append(
            f"预算按{policy_source}。Fix: 在情景的 policy.file 写明本县补助政策文件 / set policy.file to this "
            "county's subsidy policy YAML (scenarios/policy/seed-county.yaml shows the format)."
        )
    else:
        policy_source = f"{policy.name} ({pcfg.file.name})"
    assignment = ctx.table("assignment")
    if assignment is None:
        warnings.append(
            "计划未使用分配结果 / no allocation: budgets use the villages' relocation counts, without sites."
        )
    units = pol.plan_units(layers.villages, assignment)
    unserved = ctx.table("unserved")
    if unserved is not None and len(unserved):
        n = float(pd.to_numeric(unserved["persons"], errors="coerce").fillna(0).sum())
        warnings.append(f"{n:.0f} 人未分配安置点,未计入预算 / {n:.0f} unserved persons are not budgeted.")
    budget = pol.compute_budget(units, policy, pcfg.options)  # = pol.budget(villages, assignment, ...)
    by_level = {lvl: pol.budget_by(budget, lvl) for lvl in ("township", "village", "site")}
    tables: dict[str, pd.DataFrame] = {
        "budget_county": pol.budget_by_rule(budget),
        "budget_township": by_level["township"],
        "budget_village": by_level["village"],
        "budget_site": by_level["site"],
        "budget_reconciliation": pol.reconciliation(budget, tables=by_level),
        "budget_mode": pol.budget_by(budget, "mode"),  # 安置方式: 集中安置, 分散安置, 集中供养, 周转房安置
        "policy_options": pol.options_table(pcfg.options, pol.option_totals(units, policy, pcfg.options)),
    }
    for name in ("budget_county", "budget_township", "budget_village", "budget_site", "budget_reconciliation"):
        tables[name] = tables[name].assign(policy=policy_source)
    housing = pol.check_housing(pol.household_sizes(units), policy.housing, pcfg.housing)
    tables["housing_check"] = housing
    n_bad = int(housing.loc[~housing["ok"], "count"].sum())
    tables["homesteads"] = pol.homestead_table(budget)
    if policy.poverty_line is not None:
        check = pol.poverty_line_check(layers.villages, policy.poverty_line)
        tables["poverty_line_check"] = check
        if len(check):
            first = "; ".join(f"{r.village_id} {r.name}: {r.reason_en}" for r in check.head(3).itertuples())
            warnings.append(
                f"{len(check)} 个村登记与贫困线({policy.poverty_line.line_yuan:,.0f}元)不符 / {len(check)} villages"
                f" disagree with the poverty line ({policy.poverty_line.line_yuan:,.0f} yuan): {first}"
            )
    if (housing["size_source"] == "estimated").any():
        warnings.append(
            "户规模为按人数平均估算 / household sizes are estimated (persons split evenly over households):"
            " the housing check is indicative; give a household roster for real sizes."
        )
    n_conflict = int(housing.loc[housing["policy_conflict"], "count"].sum())
    if n_conflict:
        warnings.append(
            f"{n_conflict} 户人口过多,人均面积与每户上限无法同时满足 / {n_conflict} households are too large to meet"
            " both floor-area limits (policy conflict): decide by a documented exception."
        )
    if n_bad:
        warnings.append(f"{n_bad} 户住房面积不符合标准 / {n_bad} households violate the floor-area limits.")
    # site plans
    out_layers: dict[str, gpd.GeoDataFrame] = {}
    sites = _sites_for_plan(ctx, assignment)
    if sites is not None and len(sites):
        if assignment is not None:
            a = assignment.assign(site_id=assignment["site_id"].astype(str))
            persons = a.groupby("site_id")["persons"].sum()
            households = a.groupby("site_id")["households"].sum()
        else:
            persons = households = pd.Series(dtype=float)
        site_tab, site_layers = plan_sites(
            sites,
            persons,
            households,
            roads=layers.roads,
            water=layers.water,
            power=layers.power,
            cfg=cfg,
            dem=dem,
            works_built=pcfg.sites_with_works,
        )
        unknown = sorted(set(pcfg.sites_with_works) - set(site_tab["site_id"]))
        if unknown:
            warnings.append(
                "policy.sites_with_works 中的安置点不存在 / policy.sites_with_works names unknown sites: "
                + ", ".join(unknown)
            )
        bs = tables["budget_site"]
        infra_cols = [c for c in bs.columns if c.endswith("__infrastructure_yuan")]
        if len(bs) and infra_cols:
            subsidy = bs.set_index("site_id")[infra_cols].sum(axis=1)
            site_tab["infrastructure_subsidy_yuan"] = site_tab["site_id"].map(subsidy).fillna(0.0)
        else:
            site_tab["infrastructure_subsidy_yuan"] = 0.0
        if len(bs):
            names = site_tab.drop_duplicates("site_id").set_index("site_id")["name"]
            bs = bs.copy()
            bs.insert(1, "name", bs["site_id"].astype(str).map(names).fillna("").to_numpy())
            tables["budget_site"] = bs
        # like with like: the infrastructure subsidies are earmarked for the in-site works
        # (巷道硬化、给排水、电力入户); a positive gap is met by 部门配套, the households and the county
        site_tab["in_site_gap_yuan"] = (site_tab["in_site_cost_yuan"] - site_tab["infrastructure_subsidy_yuan"]).round(
            2
        )
        out_layers.update(site_layers)
    else:
        site_tab = pd.DataFrame(columns=["site_id", "total_cost_yuan"])
        warnings.append("没有安置点 / no sites or candidates: no site plans.")
    village_tab, village_roads = village_gaps(
        layers.villages, roads=layers.roads, facilities=layers.facilities, cfg=cfg, dem=dem
    )
    roads_layer = out_layers.get("planned_roads")
    if roads_layer is not None and len(roads_layer) and len(village_roads):
        out_layers["planned_roads"] = gpd.GeoDataFrame(
            pd.concat([roads_layer, village_roads], ignore_index=True), geometry="geometry", crs=roads_layer.crs
        )
    elif len(village_roads) or roads_layer is None:
        out_layers["planned_roads"] = village_roads
    for key in ("planned_water", "planned_power"):
        out_layers.setdefault(key, _lines_frame([], layers.villages.crs))
    tables["plan_sites"] = site_tab
    tables["plan_villages"] = village_tab
    projects = works_projects(site_tab, village_tab)
    if cfg.start is None:
        warnings.append("未设开工日期 / plans.start_date is unset: disbursement gives days from the start only.")
    tables["disbursement"] = pol.disbursement_schedule(
        projects, policy.disbursement, start_date=cfg.start, milestones=cfg.milestones
    )
    towns = [t for t in dict.fromkeys(units["township"]) if t] or [""]
    tables["acceptance_form"] = pd.concat(
        [pol.acceptance_form(policy.acceptance, unit=t, summary_rows=True) for t in towns], ignore_index=True
    )
    if cfg.unit_costs == UnitCosts():
        warnings.append("单价为示例默认值 / unit costs are geofupin's illustrative defaults: set plans.unit_costs.")
    summary = {
        "budget_total_yuan": round(budget.total_yuan, 2),
        "budget_by_mode_yuan": {
            str(k): round(float(x), 2) for k, x in budget.lines.groupby("mode")["amount_yuan"].sum().items()
        },
        "relocated_households": float(units["households"].sum()),
        "relocated_persons": float(units["persons"].sum()),
        "hardship_households": float(budget.units["hardship_households"].sum()),
        "policy": policy.name,
        "policy_file": None if pcfg.file is None else str(pcfg.file),
        "policy_source": policy_source,
        "policy_options": {r["option"]: r["value"] for _, r in tables["policy_options"].iterrows()},
        "site_works_yuan": float(site_tab["total_cost_yuan"].fillna(0).sum()) if len(site_tab) else 0.0,
        "village_works_yuan": float(village_tab["total_cost_yuan"].sum()),
        "village_works_yuan_by_reading": _village_works_by_reading(layers, cfg, village_tab, dem),
        "housing_violations_households": n_bad,
    }
    # the budget goes on to the phase and roster steps (the same units, policy and options: not computed again)
    artifacts = {"budget": budget}
    return StepResult(layers=out_layers, tables=tables, artifacts=artifacts, summary=summary, warnings=tuple(warnings))


__all__: Sequence[str] = (
    "RoadIndex",
    "RoadLink",
    "connect_road",
    "nearest_links",
    "plan",
    "plan_sites",
    "village_gaps",
    "works_projects",
)
