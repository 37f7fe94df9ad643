"""The map of a notebook's results: GeoDataFrames and result values in, a ``folium.Map`` out."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd

from ..config.maps import MapConfig
from ..context import Layers, StepResult
from .overview import ALL_THEMES, Theme, build_map

if TYPE_CHECKING:
    import folium

    from ..allocate import AllocationRun
    from ..siting import SitingResult


def explore(
    villages: gpd.GeoDataFrame,
    *,
    roads: gpd.GeoDataFrame | None = None,
    water: gpd.GeoDataFrame | None = None,
    power: gpd.GeoDataFrame | None = None,
    facilities: gpd.GeoDataFrame | None = None,
    constraints: gpd.GeoDataFrame | None = None,
    boundaries: gpd.GeoDataFrame | None = None,
    candidates: gpd.GeoDataFrame | None = None,
    dem: str | Path | None = None,
    village_access: gpd.GeoDataFrame | None = None,
    isochrones: gpd.GeoDataFrame | None = None,
    siting: SitingResult | None = None,
    allocation: AllocationRun | None = None,
    themes: Iterable[Theme] = ALL_THEMES,
    config: MapConfig | None = None,
) -> folium.Map:
    """An interactive map of a county and of what was computed on it, as a run publishes it.

    Draws with the builder of the published page (``index.html``): the layers, the sites
    coloured by score with the reasons of the failed ones, isochrone bands, the flows of the
    allocation, a bilingual legend and the summary panel. In a notebook the map shows itself;
    :func:`render_html` makes it one self-contained page.

    Parameters
    ----------
    villages
        The villages layer (its CRS is the map's source CRS: a metric one).
    roads, water, power, facilities, constraints, boundaries, candidates
        The other layers to draw, in the same CRS.
    dem
        A DEM file for the hillshade.
    village_access
        :func:`geofupin.access.nearest` of the villages (travel times in the popups).
    isochrones
        :func:`geofupin.access.isochrones`.
    siting
        :func:`geofupin.siting.evaluate` (scored sites, reasons, explanations).
    allocation
        :func:`geofupin.allocate.assign` (flows, site load, unserved).
    themes
        Which themes to draw: ``overview``, ``access``, ``siting``, ``allocation``, ``plan``
        (default all).
    config
        Basemap, public mode, title (default :class:`~geofupin.config.maps.MapConfig`:
        hillshade only, no network needed).

    Returns
    -------
    folium.Map
        The map; nothing is written.
    """
    layers = Layers(
        crs=villages.crs,
        villages=villages,
        boundaries=boundaries,
        roads=roads,
        water=water,
        power=power,
        facilities=facilities,
        constraints=constraints,
        candidates=candidates,
        dem=None if dem is None else Path(dem),
    )
    results: dict[str, StepResult] = {}
    access = {k: v for k, v in (("village_access", village_access), ("isochrones", isochrones)) if v is not None}
    if access:
        results["access"] = StepResult(layers=access)
    if siting is not None:
        results["site"] = StepResult(
            layers={"sites": siting.sites},
            tables={"site_ranking": siting.ranking, "site_explanation": siting.scored.explanation},
            summary=siting.summary,
        )
    if allocation is not None:
        results["allocate"] = StepResult(
            layers={"allocation_flows": allocation.flows},
            tables={
                "assignment": allocation.assignment,
                "site_load": allocation.site_load,
                "unserved": allocation.unserved,
            },
        )
    return build_map(layers, results, config=config, themes=themes)
