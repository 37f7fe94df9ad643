"""Maps for stakeholders: offline single-file HTML, Chinese basemaps, comparison, static maps.

Builders take the run's layers (metric CRS) and step results and return a ``folium.Map``;
:func:`render_html` turns it into one self-contained page that ``geofupin.io`` writes.
Only this package reprojects to WGS84 (or GCJ-02 for Gaode tiles).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..config.maps import MapConfig
from .compare import build_compare_map, compare_table
from .offline import OfflineAssetError, render_html
from .overview import (
    build_access_map,
    build_allocation_map,
    build_map,
    build_overview_map,
    build_plan_map,
    build_run_map,
    build_siting_map,
)
from .step import figure_bytes, map_config, map_outputs, step

if TYPE_CHECKING:
    from .static import build_static_map, find_cjk_font


def __getattr__(name: str) -> Any:
    # the printable maps need matplotlib (the `static` extra): imported on first use, with a named error
    if name in ("build_static_map", "find_cjk_font"):
        from .._optional import require

        require("matplotlib")
        from . import static

        return getattr(static, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "MapConfig",
    "OfflineAssetError",
    "build_access_map",
    "build_allocation_map",
    "build_compare_map",
    "build_map",
    "build_overview_map",
    "build_plan_map",
    "build_run_map",
    "build_siting_map",
    "build_static_map",
    "compare_table",
    "figure_bytes",
    "find_cjk_font",
    "map_config",
    "map_outputs",
    "render_html",
    "step",
]
