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

LayerGroup = Literal["base", "facilities", "constraints", "siting", "relocation", "planned"]
#: The layer control's groups, in order: id, Chinese heading, English heading.
LAYER_GROUPS: tuple[tuple[LayerGroup, str, str], ...] = (
    ("base", "基础地理", "Base geography"),
    ("facilities", "现状设施", "Existing facilities"),
    ("constraints", "限制因素", "Constraints"),
    ("siting", "选址评价", "Site evaluation"),
    ("relocation", "搬迁安置", "Relocation"),
    ("planned", "规划建设", "Planned works"),
)

#: Legend sections by the group of their layers: the relocation first, the base geography last.
LEGEND_ORDER: tuple[LayerGroup, ...] = ("relocation", "siting", "planned", "facilities", "constraints", "base")


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
        #: layers added since the last legend section (the section follows them: shown while any is on)
        self._unlegended: list[tuple[str, LayerGroup]] = []

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

    def add(self, spec: dict[str, Any], name: str, *, group: LayerGroup = "base", show: bool = True) -> DataLayer:
        """Add a layer in layer-control ``group``; the next :meth:`section` of the legend belongs to it."""
        layer = DataLayer(spec, name=html.escape(name), show=show, group=group)
        layer.add_to(self.m)
        self._unlegended.append((layer.get_name(), group))
        return layer

    def section(self, zh: str, en: str, items: list[dict[str, Any]], *, first: bool = False) -> None:
        """A legend section for the layers added since the last one: it shows while any of them is on.

        ``first`` puts it first among the sections of its group (the villages among the relocation).
        """
        if items:
            layers = [name for name, _ in self._unlegended]
            group = self._unlegended[0][1] if self._unlegended else "base"
            self.legend.append({"zh": zh, "en": en, "items": items, "layers": layers, "group": group, "first": first})
        self._unlegended = []

    def legend_sections(self) -> list[dict[str, Any]]:
        """The legend for people: what the plan is about first (villages, sites), the base map last."""
        order = {g: i for i, g in enumerate(LEGEND_ORDER)}
        return sorted(self.legend, key=lambda s: (order.get(s["group"], len(order)), not s["first"]))


def geom_kind(gdf: gpd.GeoDataFrame) -> pd.Series:
    t = gdf.geom_type.fillna("")
    return t.map(
        lambda s: "points" if "Point" in s else "lines" if "Line" in s else "polygons" if "Polygon" in s else ""
    )


def frames(layers: Layers, results: Mapping[str, StepResult]) -> list[gpd.GeoDataFrame]:
    return [*layers.present().values(), *(g for res in results.values() for g in res.layers.values())]
