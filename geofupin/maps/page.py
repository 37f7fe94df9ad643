"""What every layer drawer shares: the page being assembled (legend sections, notes, bounds), result lookups."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any, Literal

import folium
import folium.plugins
import geopandas as gpd
import pandas as pd

from ..config.maps import MapConfig
from ..context import Layers, StepResult
from . import data as D
from .basemaps import uses_gcj02
from .elements import DataLayer

Theme = Literal["overview", "siting", "access", "allocation", "plan"]
ALL_THEMES: tuple[Theme, ...] = ("overview", "siting", "access", "allocation", "plan")


def find(results: Mapping[str, StepResult], name: str, what: Literal["layers", "tables"]) -> Any:
    for res in results.values():
        got = getattr(res, what).get(name)
        if got is not None:
            return got
    return None


class Page:
    """Collects the legend sections and corner notes while layers are added."""

    def __init__(self, m: folium.Map, config: MapConfig) -> None:
        self.m = m
        self.config = config
        self.gcj = uses_gcj02(config)
        self.legend: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.bounds: list[tuple[float, float, float, float]] = []
        self.focus: list[tuple[float, float, float, float]] = []
        self.summary: dict[str, Any] | None = None
        #: site id -> (verdict, reasons, passed), for every popup that belongs to a site
        self.verdicts: dict[str, tuple[str, list[str], bool]] = {}

    def display(self, gdf: gpd.GeoDataFrame, *, simplify: bool = True) -> gpd.GeoDataFrame:
        out = D.to_display(gdf, gcj02=self.gcj, simplify_m=self.config.simplify_tolerance_m if simplify else 0.0)
        if len(out) and not out.geometry.is_empty.all():
            self.bounds.append(tuple(out.total_bounds))
        return out

    def focus_on(self, shown: gpd.GeoDataFrame) -> None:
        """The first view fits what the plan is about (villages, sites), not the whole extract."""
        if len(shown) and not shown.geometry.is_empty.all():
            self.focus.append(tuple(shown.total_bounds))

    def spec(self, gdf: gpd.GeoDataFrame, **kw: Any) -> dict[str, Any]:
        kw.setdefault("max_width", self.config.popup_max_width_px)
        return D.layer_spec(gdf, decimals=self.config.coord_decimals, **kw)

    def add(self, spec: dict[str, Any], name: str, *, show: bool = True) -> DataLayer:
        layer = DataLayer(spec, name=html.escape(name), show=show)
        layer.add_to(self.m)
        return layer

    def section(self, zh: str, en: str, items: list[dict[str, Any]]) -> None:
        if items:
            self.legend.append({"zh": zh, "en": en, "items": items})


def geom_kind(gdf: gpd.GeoDataFrame) -> pd.Series:
    t = gdf.geom_type.fillna("")
    return t.map(
        lambda s: "points" if "Point" in s else "lines" if "Line" in s else "polygons" if "Polygon" in s else ""
    )


def frames(layers: Layers, results: Mapping[str, StepResult]) -> list[gpd.GeoDataFrame]:
    return [*layers.present().values(), *(g for res in results.values() for g in res.layers.values())]
