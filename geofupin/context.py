"""The values that flow through a run: projected layers, the run context, step results.

A run is a sequence of steps (``access``, ``site``, ``allocate``, ``plan``, ``map``). Each
step is a function ``step(ctx: RunContext) -> StepResult``; it reads the scenario, the
layers and earlier steps' results from ``ctx`` and returns new values. Steps never touch
the disk: the pipeline writes ``StepResult.layers`` to ``results.gpkg`` and
``StepResult.tables`` to CSV/XLSX.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from .vocabulary import LAYER_KINDS

if TYPE_CHECKING:
    from .config.policy import Policy
    from .scenario import Scenario


@dataclass(frozen=True)
class Layers:
    """Every vector layer of a county in ONE metric CRS, plus the DEM path.

    Each GeoDataFrame has a fresh ``RangeIndex`` and its id column (``village_id``,
    ``road_id``, ``site_id``, ...) as text; column names are the canonical English ones
    of :mod:`geofupin.layers`. Absent optional layers are ``None``.
    """

    crs: CRS
    villages: gpd.GeoDataFrame
    boundaries: gpd.GeoDataFrame | None = None
    roads: gpd.GeoDataFrame | None = None
    water: gpd.GeoDataFrame | None = None
    power: gpd.GeoDataFrame | None = None
    facilities: gpd.GeoDataFrame | None = None
    constraints: gpd.GeoDataFrame | None = None
    candidates: gpd.GeoDataFrame | None = None
    dem: Path | None = None
    study_area: BaseGeometry | None = None
    #: Why the run uses its CRS (kept from the inputs, chosen from the centre, or set in the scenario).
    crs_note: str = ""

    def get(self, kind: str) -> gpd.GeoDataFrame | None:
        """The layer of a kind (``'roads'``), or ``None`` when absent."""
        if kind not in LAYER_KINDS:
            raise KeyError(f"unknown layer kind {kind!r}; known: {', '.join(LAYER_KINDS)}")
        return getattr(self, kind)  # type: ignore[no-any-return]

    def present(self) -> dict[str, gpd.GeoDataFrame]:
        """The layers that are present, by kind."""
        return {k: v for k in LAYER_KINDS if (v := getattr(self, k)) is not None}


@dataclass(frozen=True)
class StepResult:
    """What one step of a run produced.

    Attributes
    ----------
    layers
        GeoDataFrames in the run CRS, written to ``results.gpkg`` under these names.
    tables
        Plain tables, written as ``tables/<name>.csv`` and sheets of ``tables.xlsx``.
    artifacts
        In-memory values for later steps (a road network, an allocation), not written.
    summary
        JSON-serialisable figures recorded in ``run.json``.
    warnings
        Messages for the user (the CLI prints them, ``run.json`` keeps them).
    """

    layers: Mapping[str, gpd.GeoDataFrame] = field(default_factory=dict)
    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    artifacts: Mapping[str, Any] = field(default_factory=dict)
    summary: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunContext:
    """Inputs of a step: the validated scenario, the layers and earlier steps' results.

    ``policy`` is the scenario's policy (``scenario.policy``) as this run read and validated it,
    once: :func:`geofupin.pipeline.run` reads it at load (the policy file's check) or before the
    ``plan`` step and hands it on to every later step, so ``plan``, ``phase`` and ``roster`` never
    read the file again within the run (and a new run reads it anew). ``None``: not read yet;
    :func:`run_policy` then reads it.
    """

    scenario: Scenario
    layers: Layers
    results: Mapping[str, StepResult] = field(default_factory=dict)
    policy: Policy | None = None

    def artifact(self, step: str, name: str, default: Any = None) -> Any:
        """An in-memory artifact of an earlier step, or ``default`` when that step did not run."""
        res = self.results.get(step)
        if res is None:
            return default
        return res.artifacts.get(name, default)

    def layer(self, name: str) -> gpd.GeoDataFrame | None:
        """A result layer of any earlier step by name (``'sites_scored'``), or ``None``."""
        for res in self.results.values():
            if name in res.layers:
                return res.layers[name]
        return None

    def table(self, name: str) -> pd.DataFrame | None:
        """A result table of any earlier step by name, or ``None``."""
        for res in self.results.values():
            if name in res.tables:
                return res.tables[name]
        return None


def run_policy(ctx: RunContext) -> Policy:
    """The run's policy: :attr:`RunContext.policy` when the run read it, else the scenario's policy file
    read and validated now (:func:`geofupin.io.load_policy`; the built-in report-4 policy without one)."""
    given: Policy | None = getattr(ctx, "policy", None)  # a step's caller may hand a context of its own
    if given is not None:
        return given
    from .config.policy import PolicyConfig
    from .io import load_policy

    return load_policy(getattr(ctx.scenario, "policy", None) or PolicyConfig())


def attributes(frame: pd.DataFrame) -> pd.DataFrame:
    """The attribute columns of a layer or table as a plain DataFrame (a copy), without its geometry.

    A GeoDataFrame loses its *active* geometry column whatever it is named (``geometry`` from a
    file, ``geom`` from :func:`geopandas.read_postgis`, any name set with ``set_geometry``); a
    plain DataFrame loses a ``geometry`` column if it has one.
    """
    name = frame.active_geometry_name if isinstance(frame, gpd.GeoDataFrame) else None
    if name is None and "geometry" in frame.columns:
        name = "geometry"
    return pd.DataFrame(frame.drop(columns=name) if name is not None else frame).copy()
