"""The published run map: every layer a run has, in one page.

:func:`build_run_map` is what the pipeline calls. It shows whatever is present: township
boundaries with labels, villages sized by persons and coloured by relocation status, roads
by class, water, power, facilities with icons, candidate sites coloured by score with rank
labels (excluded ones with their reasons), isochrones and coverage, allocation flows and
site load, planned roads/water/power, and the DEM hillshade as an embedded image. The
thinner builders (:func:`build_siting_map`, ...) draw one theme.

This module assembles the page; the drawers live by what they draw: :mod:`.layers_base`
(hillshade, boundaries, constraints, water, power, roads, facilities), :mod:`.villages`,
:mod:`.sites`, :mod:`.isochrones`, :mod:`.allocation`, :mod:`.planned` and :mod:`.summary`
(the summary panel's figures); :mod:`.page` holds what they share.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import folium
import folium.plugins
import numpy as np

from ..config.maps import MapConfig
from ..context import Layers, RunContext, StepResult
from . import data as D
from .allocation import _allocation
from .basemaps import add_basemap
from .elements import (
    FirstView,
    Fullscreen,
    GroupedLayerControl,
    InfoBox,
    Legend,
    Map,
    MeasureControl,
    NorthArrow,
    SearchBox,
    SummaryPanel,
)
from .hillshade import DemShade
from .isochrones import BAND_COLORS, _isochrones
from .layers_base import (
    MAJOR_ROADS,
    TOWNSHIP_LABEL_PRIO,
    _boundaries,
    _constraints,
    _facilities,
    _hillshade,
    _power,
    _roads,
    _water,
)
from .page import ALL_THEMES, LAYER_GROUPS, Page, Theme, find, frames, geom_kind
from .planned import PLAN_STYLE, _plans
from .sites import SCORE_COLORS, SITE_KNOWN, _sites, site_names
from .summary import run_summary
from .villages import (
    PRIVATE_VILLAGE_COLUMNS,
    VILLAGE_FIELDS_PRIVATE,
    VILLAGE_FIELDS_PUBLIC,
    VILLAGE_TOTALS,
    _villages,
    public_villages,
)
from .whatif import add_planner_tools

__all__ = [
    "ALL_THEMES",
    "BAND_COLORS",
    "MAJOR_ROADS",
    "MAP_LIMITS",
    "PLAN_STYLE",
    "PRIVATE_VILLAGE_COLUMNS",
    "SCORE_COLORS",
    "SITE_KNOWN",
    "TOWNSHIP_LABEL_PRIO",
    "VILLAGE_FIELDS_PRIVATE",
    "VILLAGE_FIELDS_PUBLIC",
    "VILLAGE_TOTALS",
    "Page",
    "Theme",
    "add_run_layers",
    "build_access_map",
    "build_allocation_map",
    "build_map",
    "build_overview_map",
    "build_plan_map",
    "build_run_map",
    "build_siting_map",
    "finish_map",
    "first_view",
    "new_map",
    "public_villages",
    "run_summary",
]

# the names this module had before it was split by what it draws
_Page, _find, _frames, _geom_kind, _site_names = Page, find, frames, geom_kind, site_names

# --------------------------------------------------------------------------------------------- entry points
#: Leaflet map options; a map without tiles needs an explicit maxZoom (marker clustering requires it).
#: Quarter zoom steps let the first view fit the villages closely (whole steps can leave it twice too wide).
MAP_LIMITS: dict[str, Any] = {"minZoom": 6, "maxZoom": 19, "zoomSnap": 0.25}


def new_map(config: MapConfig, **kwargs: Any) -> folium.Map:
    """An empty map without default tiles, canvas rendering, metric scale bar."""
    return Map(
        tiles=None,
        prefer_canvas=True,
        control_scale=False,
        zoom_start=10,
        location=[35.0, 105.0],
        **MAP_LIMITS,
        **kwargs,
    )


def add_run_layers(
    m: folium.Map,
    layers: Layers,
    results: Mapping[str, StepResult],
    *,
    config: MapConfig,
    themes: Iterable[Theme] = ALL_THEMES,
    controls: bool = True,
    shade: DemShade | None = None,
) -> Page:
    """Draw a run's layers on ``m`` (any folium map, e.g. one side of a ``DualMap``).

    ``shade``: the DEM's hillshade when already computed (:func:`~geofupin.maps.hillshade.dem_shade`).
    """
    themes = set(themes)
    p = Page(m, config)
    p.notes.extend(add_basemap(m, config))
    _hillshade(p, layers, shade)
    _boundaries(p, layers, results)
    if "overview" in themes:
        _constraints(p, layers)
        _water(p, layers)
        _power(p, layers)
        _roads(p, layers)
    if "access" in themes:
        _isochrones(p, results)
    if "plan" in themes:
        _plans(p, results)
    if themes & {"siting", "allocation", "overview"}:
        _sites(p, layers, results)
    if "allocation" in themes:
        _allocation(p, layers, results)
    if themes & {"overview", "access"}:
        _facilities(p, layers)
    _villages(p, layers, results)
    p.summary = run_summary(layers, results, public=config.public)
    p.notes.extend(D.credits(config.credits(), frames(layers, results)))
    plan = results.get("plan")
    if plan is not None and plan.summary.get("policy_source"):  # which policy the budgets use (data, shown as text)
        p.notes.append("补助政策 Policy: " + str(plan.summary["policy_source"]))
    bounds = first_view(p.focus or p.bounds)
    if bounds is not None:
        # set the view BEFORE the layers are drawn: markercluster's chunked loading breaks on a later fitBounds
        m.add_child(FirstView(bounds), index=0)
    if controls:
        finish_map(m, p)
    return p


def first_view(boxes: list[tuple[float, float, float, float]]) -> list[list[float]] | None:
    """``[[south, west], [north, east]]`` around the boxes ``(w, s, e, n)``, in degrees, with a margin.

    The margin is 5 % of the extent on each side, and at least ~1 km (0.01 degree) around
    a lone village.
    """
    if not boxes:
        return None
    b = np.array(boxes, dtype=float)
    w, s, e, n = float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())
    px = max(0.05 * (e - w), 0.01 - (e - w) / 2, 0.0)
    py = max(0.05 * (n - s), 0.01 - (n - s) / 2, 0.0)
    return [[s - py, w - px], [n + py, e + px]]


def finish_map(m: folium.Map, p: Page, *, legend_collapsed: bool = False) -> None:
    """Legend, title and notes, search box, fullscreen, measure and layer control."""
    config = p.config
    notes = list(p.notes)
    notes.append("审图号 Map approval No.：" + (config.approval_number or "（待审 pending）"))
    # on a phone (<= 600 px wide) the legend starts folded: it would cover most of the map
    Legend({"sections": p.legend_sections(), "collapsed": legend_collapsed, "small_px": 600}).add_to(m)
    InfoBox({"title": config.title, "title_en": config.title_en, "lines": notes}).add_to(m)
    NorthArrow().add_to(m)
    SearchBox().add_to(m)
    Fullscreen(position="topleft", title="全屏 Full screen", title_cancel="退出全屏 Exit").add_to(m)
    MeasureControl(
        position="topleft",
        primary_length_unit="meters",
        secondary_length_unit="kilometers",
        primary_area_unit="sqmeters",
        secondary_area_unit="mu",
        units={"mu": {"factor": 0.0015, "display": "亩", "decimals": 2}},
        localization="cn",
    ).add_to(m)
    GroupedLayerControl(list(LAYER_GROUPS), collapsed=True).add_to(m)
    if p.summary is not None:  # top right below the layer control: an opened layer list pushes it down
        SummaryPanel({**p.summary, "collapsed": legend_collapsed}).add_to(m)


def build_map(
    layers: Layers,
    results: Mapping[str, StepResult] | None = None,
    *,
    config: MapConfig | None = None,
    themes: Iterable[Theme] = ALL_THEMES,
    shade: DemShade | None = None,
) -> folium.Map:
    """A map of ``layers`` and ``results`` (metric CRS) for the given themes.

    Parameters
    ----------
    layers
        The run's layers in its metric CRS.
    results
        Step results by step name (``access``, ``site``, ``allocate``, ``plan``); what is
        present is drawn.
    config
        The scenario's ``map`` section (defaults when ``None``).
    themes
        Which themes to draw; all by default.
    shade
        The DEM's hillshade when already computed (:func:`~geofupin.maps.hillshade.dem_shade`; the
        map step shades once for the page and the printed map).
    """
    config = config or MapConfig()
    m = new_map(config)
    themes = tuple(themes)
    add_run_layers(m, layers, results or {}, config=config, themes=themes, shade=shade)
    if set(themes) & {"siting", "allocation", "overview"}:  # the planner's what-if and site comparison
        add_planner_tools(m, layers, results or {}, config=config)
    return m


def build_run_map(
    ctx: RunContext | Mapping[str, StepResult],
    *,
    config: MapConfig | None = None,
    layers: Layers | None = None,
    shade: DemShade | None = None,
) -> folium.Map:
    """The published page of a run: every layer present, with legend and controls.

    Parameters
    ----------
    ctx
        The run context (or a mapping of step results, then ``layers`` is required).
    config
        The ``map`` section; defaults to ``ctx.scenario.map`` when present.
    layers
        The layers, when ``ctx`` is a plain mapping of results.
    shade
        The DEM's hillshade when already computed (see :func:`build_map`).
    """
    if isinstance(ctx, RunContext):
        config = config or getattr(ctx.scenario, "map", None)
        return build_map(ctx.layers, ctx.results, config=config, shade=shade)
    if layers is None:
        raise TypeError("build_run_map(results, ...) needs layers=; or pass a RunContext.")
    return build_map(layers, ctx, config=config, shade=shade)


def build_overview_map(ctx: RunContext, *, config: MapConfig | None = None) -> folium.Map:
    """Townships, villages, roads, water, power, facilities, hillshade."""
    return build_map(ctx.layers, ctx.results, config=config or getattr(ctx.scenario, "map", None), themes=("overview",))


def build_siting_map(ctx: RunContext, *, config: MapConfig | None = None) -> folium.Map:
    """Candidate sites by score with ranks, excluded ones with reasons, stable top-k."""
    return build_map(ctx.layers, ctx.results, config=config or getattr(ctx.scenario, "map", None), themes=("siting",))


def build_access_map(ctx: RunContext, *, config: MapConfig | None = None) -> folium.Map:
    """Isochrone bands, facilities, coverage by township."""
    return build_map(ctx.layers, ctx.results, config=config or getattr(ctx.scenario, "map", None), themes=("access",))


def build_allocation_map(ctx: RunContext, *, config: MapConfig | None = None) -> folium.Map:
    """Flows village -> site (width by households) and site load vs capacity."""
    return build_map(
        ctx.layers, ctx.results, config=config or getattr(ctx.scenario, "map", None), themes=("allocation",)
    )


def build_plan_map(ctx: RunContext, *, config: MapConfig | None = None) -> folium.Map:
    """Planned roads, water and power lines."""
    return build_map(ctx.layers, ctx.results, config=config or getattr(ctx.scenario, "map", None), themes=("plan",))
