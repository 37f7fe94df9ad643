"""Maps for stakeholders: offline single-file HTML, Chinese basemaps, comparison, static maps.

:func:`explore` draws GeoDataFrames and the results of :mod:`geofupin.access`,
:mod:`geofupin.siting` and :mod:`geofupin.allocate` (a notebook's map); the builders of
:mod:`.overview` draw a run's layers and step results, for the ``map`` step. Both return a
``folium.Map``; :func:`render_html` turns it into one self-contained page that ``geofupin.io``
writes. Only this package reprojects to WGS84 (or GCJ-02 for Gaode tiles).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..config.maps import MapConfig as MapConfig
from .compare import build_compare_map as build_compare_map
from .compare import compare_table as compare_table
from .notebook import explore
from .offline import OfflineAssetError as OfflineAssetError
from .offline import render_html
from .overview import build_access_map as build_access_map
from .overview import build_allocation_map as build_allocation_map
from .overview import build_map as build_map
from .overview import build_overview_map as build_overview_map
from .overview import build_plan_map as build_plan_map
from .overview import build_run_map as build_run_map
from .overview import build_siting_map as build_siting_map
from .step import figure_bytes as figure_bytes
from .step import map_config as map_config
from .step import map_outputs as map_outputs
from .step import step as step

if TYPE_CHECKING:
    from .static import build_static_map as build_static_map
    from .static import find_cjk_font as find_cjk_font


def __getattr__(name: str) -> Any:
    # the printable maps need matplotlib (the `static` extra): imported on first use, with a named error
    if name in ("build_static_map", "find_cjk_font"):
        from .._optional import require

        require("matplotlib")
        from . import static

        return getattr(static, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: The public API (docs/reference/maps.md documents each name); the step and the run-map builders stay
#: importable by name (``from geofupin.maps import build_run_map``).
__all__ = ["explore", "render_html"]
