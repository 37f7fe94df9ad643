"""geofupin: planning poverty-alleviation resettlement (扶贫易地搬迁) from spatial layers.

The Python API works on GeoDataFrames in one metric CRS, osmnx style: modules of functions,
keyword-only options, results indexed like the input or frozen dataclasses::

    import geofupin

    net = geofupin.network.from_roads(roads)
    village_access = geofupin.access.nearest(net, villages, facilities)
    od = geofupin.access.od(net, villages, candidates)
    site_access = geofupin.access.nearest(net, candidates, facilities)
    siting = geofupin.siting.evaluate(candidates, villages=villages, roads=roads, site_access=site_access)
    run = geofupin.allocate.assign(villages, siting.sites, od)
    budget = geofupin.policy.budget(villages, run.assignment)
    geofupin.maps.explore(villages, roads=roads, siting=siting, allocation=run)   # a folium.Map

The command line (``geofupin run``) calls exactly these functions, one step at a time.
Submodules are imported on first use, so ``import geofupin`` stays light.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    import geopandas as gpd
    from pyproj import CRS

    from . import access, allocate, maps, network, policy, siting
    from .config.policy import Policy
    from .context import Layers
    from .scenario import Scenario

#: The public modules, imported on first use (``geofupin.network``, ...).
_MODULES = ("access", "allocate", "maps", "network", "policy", "siting")

__all__ = [
    "__version__",
    "access",
    "allocate",
    "maps",
    "network",
    "policy",
    "read_layers",
    "read_policy",
    "siting",
]


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULES})


def read_layers(
    source: str | Path | Scenario | Mapping[str, str | Path | gpd.GeoDataFrame],
    *,
    crs: str | CRS | None = "auto",
    dem: str | Path | None = None,
) -> Layers:
    """Read, check and project a county's layers into one metric CRS.

    Parameters
    ----------
    source
        A scenario file (``.yaml``) or a loaded scenario: its layers and DEM, read exactly as
        ``geofupin run`` reads them; or a mapping of layer kind (``villages``, ``roads``,
        ``water``, ``power``, ``facilities``, ``constraints``, ``candidates``,
        ``boundaries``) to a file (GeoPackage, GeoJSON, Shapefile, GeoParquet, CSV with
        coordinates) or a GeoDataFrame. ``villages`` is required.
    crs
        For a mapping: ``'auto'`` (the CGCS2000 Gauss-Kruger zone of the villages in China, UTM
        elsewhere) or any projected CRS pyproj reads (``'EPSG:4545'``). A scenario names its own.
    dem
        For a mapping: the DEM file (GeoTIFF, any CRS).

    Returns
    -------
    Layers
        Every layer as a GeoDataFrame with canonical English columns, ids as text and a
        fresh index, in one metric CRS (``layers.crs``); absent layers are ``None``.

    Raises
    ------
    LayerError
        Listing every problem in every layer (unreadable file, missing column, bad value with
        the feature id, geometry type), each with its fix.
    ScenarioError
        The scenario file is invalid.
    """
    from .errors import DataError, LayerError, Problems
    from .scenario import Scenario, load

    if isinstance(source, (str, Path)):
        source = load(source)
    if isinstance(source, Scenario):
        from .pipeline import load_inputs

        return load_inputs(source)
    from . import io as gio
    from .layers import prepare_layers

    problems = Problems()
    raw: dict[str, gpd.GeoDataFrame] = {}
    names: dict[str, str] = {}
    for kind, src in source.items():
        if not isinstance(src, (str, Path)):
            raw[kind] = src
            continue
        names[kind] = Path(src).name
        try:
            raw[kind] = gio.read_vector(Path(src))
        except DataError as exc:
            message, sep, fix = str(exc).partition(" Fix: ")
            problems.add(f"layers.{kind}", message, fix if sep else "Check the file.")
    if problems.errors:
        raise LayerError("cannot read layers", problems)
    return prepare_layers(raw, crs=crs, dem=None if dem is None else Path(dem), sources=names, problems=problems)


def read_policy(path: str | Path | None = None) -> Policy:
    """Read a county's subsidy policy file (YAML; ``scenarios/policy/seed-county.yaml`` shows the format).

    Parameters
    ----------
    path
        The policy file; ``None`` gives the built-in seed-county policy (report 4).

    Returns
    -------
    Policy
        The rules (per person, per household, shares, caps), options and acceptance
        rules, for :func:`geofupin.policy.budget`.

    Raises
    ------
    ScenarioError
        Every problem of the file, with its line numbers.
    """
    from . import io as gio
    from .config.policy import PolicyConfig

    return gio.load_policy(PolicyConfig() if path is None else Path(path))
