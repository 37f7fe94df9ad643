"""Scenario files: what to read, which CRS, what to compute and where to write.

A scenario is YAML. :func:`load` reads it and validates it fully: every problem at once,
unknown keys rejected with a suggestion, YAML line numbers where possible. The result is a
frozen :class:`Scenario`. Its step sections are frozen dataclasses declared in
:mod:`geofupin.config` and parsed the same way: ``access`` (:class:`geofupin.config.access.AccessConfig`),
``siting`` (:class:`geofupin.config.siting.SitingConfig`), ``allocation``
(:class:`geofupin.config.allocate.AllocationConfig`), ``policy``
(:class:`geofupin.config.policy.PolicyConfig`), ``plans`` (:class:`geofupin.config.plans.PlansConfig`) and
``map`` (:class:`geofupin.config.maps.MapConfig`); every key has a documented default.

Example
-------
.. code-block:: yaml

    name: demo
    title: {zh: 示范县扶贫易地搬迁规划, en: Demo county relocation plan}
    crs: auto                      # or EPSG:4545
    demo: {seed: 20160101}         # generate the layers below when missing
    layers:
      villages: ../layers/demo/villages.gpkg
      roads: {path: ../layers/demo/roads.gpkg, layer: roads}
      dem: ../layers/demo/dem.tif
    outputs: {dir: ../maps/demo}
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ._schema import parse
from .config.access import AccessConfig
from .config.allocate import AllocationConfig
from .config.maps import MapConfig
from .config.plans import PlansConfig
from .config.policy import PolicyConfig
from .config.siting import SitingConfig
from .errors import DataError, Problem, Problems, ScenarioError

log = logging.getLogger(__name__)

StepName = Literal["access", "site", "allocate", "plan", "map"]
TableFormat = Literal["csv", "xlsx"]
StaticFormat = Literal["png", "pdf"]

#: Order in which steps run; a step only runs when its module is installed and its inputs exist.
STEP_ORDER: tuple[str, ...] = ("access", "site", "allocate", "plan", "map")


@dataclass(frozen=True)
class Title:
    """A bilingual title: Chinese first, English available."""

    zh: str
    en: str = ""


@dataclass(frozen=True)
class LayerSource:
    """Where one layer comes from.

    Attributes
    ----------
    path
        File path, relative to the scenario file.
    layer
        Layer name inside a multi-layer file (GeoPackage); default: the only or first layer.
    encoding
        Text encoding of a Shapefile's .dbf or a CSV (e.g. ``GBK``); default UTF-8.
    crs
        CRS to assume when the file declares none (e.g. ``EPSG:4490``); never overrides a declared one.
    lon, lat
        Coordinate columns of a CSV (default: found among lon/lng/longitude/经度 and lat/latitude/纬度).
    columns
        Column renames ``{your_name: canonical_name}`` on top of the built-in Chinese/English aliases.
    """

    path: Path
    layer: str | None = None
    encoding: str | None = None
    crs: str | None = None
    lon: str | None = None
    lat: str | None = None
    columns: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LayersSection:
    """The county's layers: each a path or a :class:`LayerSource`; only ``villages`` is required."""

    villages: LayerSource | Path
    boundaries: LayerSource | Path | None = None
    roads: LayerSource | Path | None = None
    water: LayerSource | Path | None = None
    power: LayerSource | Path | None = None
    facilities: LayerSource | Path | None = None
    constraints: LayerSource | Path | None = None
    candidates: LayerSource | Path | None = None
    dem: Path | None = None

    def sources(self) -> dict[str, LayerSource]:
        """Vector layer sources by kind (paths expanded to :class:`LayerSource`)."""
        out: dict[str, LayerSource] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name == "dem" or v is None:
                continue
            out[f.name] = v if isinstance(v, LayerSource) else LayerSource(path=v)
        return out


@dataclass(frozen=True)
class DemoSection:
    """Generate the layers with :mod:`geofupin.demo` when they are missing (a cache)."""

    seed: int = 20160101
    dir: Path | None = None


@dataclass(frozen=True)
class Outputs:
    """Where and what to write.

    Attributes
    ----------
    dir
        Output folder (default ``maps/<name>`` beside the scenario's project).
    tables
        Table formats to write.
    static_maps
        Printable maps to write besides ``index.html``: ``png`` and/or ``pdf`` (``map.png``, ``map.pdf``).
    paper
        Paper size of the printable maps.
    """

    dir: Path | None = None
    tables: tuple[TableFormat, ...] = ("csv", "xlsx")
    static_maps: tuple[StaticFormat, ...] = ()
    paper: Literal["A4", "A3"] = "A3"


@dataclass(frozen=True)
class Scenario:
    """A validated scenario (frozen). Built by :func:`load` or :func:`from_dict`."""

    name: str
    layers: LayersSection
    title: Title = field(default_factory=lambda: Title(zh="扶贫易地搬迁规划", en="Relocation plan"))
    crs: str = "auto"
    demo: DemoSection | None = None
    outputs: Outputs = field(default_factory=Outputs)
    steps: tuple[StepName, ...] = ("access", "site", "allocate", "plan", "map")
    access: AccessConfig = field(default_factory=AccessConfig)
    siting: SitingConfig = field(default_factory=SitingConfig)
    allocation: AllocationConfig = field(default_factory=AllocationConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    plans: PlansConfig = field(default_factory=PlansConfig)
    map: MapConfig = field(default_factory=MapConfig)
    #: The scenario file (set by :func:`load`; not a YAML key).
    path: Path | None = field(default=None, compare=False, metadata={"internal": True})

    def validate(self, where: str, problems: Problems) -> None:
        if not self.name or any(c in self.name for c in "/\\:"):
            problems.add(
                join_where(where, "name"),
                f"name {self.name!r} cannot be used as a folder name.",
                "Use letters, digits, '-' or '_'.",
            )
        if self.crs != "auto":
            from pyproj import CRS

            try:
                crs = CRS.from_user_input(self.crs)
            except Exception:
                problems.add(
                    join_where(where, "crs"),
                    f"cannot read CRS {self.crs!r}.",
                    "Write 'auto' or an EPSG code such as EPSG:4545.",
                )
            else:
                if not crs.is_projected:
                    problems.add(
                        join_where(where, "crs"),
                        f"CRS {self.crs} is geographic (degrees).",
                        "Use a metric CRS (e.g. EPSG:4545, CGCS2000 Gauss-Kruger CM 108E) or 'auto'.",
                    )
        if len(set(self.steps)) != len(self.steps):
            problems.add(join_where(where, "steps"), "a step is listed twice.", "List each step once.")

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path is not None else Path.cwd()

    def output_dir(self) -> Path:
        """The output folder: ``outputs.dir`` or ``maps/<name>`` next to the scenario's folder."""
        if self.outputs.dir is not None:
            return self.outputs.dir
        return self.base_dir.parent / "maps" / self.name

    def resolved(self) -> dict[str, Any]:
        """The scenario as plain data (paths as text), for ``run.json``."""
        return _plain(dataclasses.asdict(self))


def join_where(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _line_for(where: str, lines: dict[str, int]) -> int | None:
    """Line of the deepest known prefix of a dotted path."""
    probe = where
    while probe:
        if probe in lines:
            return lines[probe]
        cut = max(probe.rfind("."), probe.rfind("["))
        if cut <= 0:
            break
        probe = probe[:cut]
    return lines.get(probe)


def from_dict(
    data: Any,
    *,
    base_dir: Path | None = None,
    lines: dict[str, int] | None = None,
    path: Path | None = None,
) -> Scenario:
    """Validate plain data into a :class:`Scenario`; raise :class:`ScenarioError` listing every problem.

    Parameters
    ----------
    data
        Parsed YAML (a mapping).
    base_dir
        Folder relative paths are resolved against (the scenario file's folder).
    lines
        Dotted path -> line number, for messages.
    path
        The scenario file, recorded on the result.
    """
    problems = Problems()
    if not isinstance(data, dict):
        raise ScenarioError(
            "invalid scenario",
            [Problem("scenario", "the file is not a YAML mapping.", "Start with 'name: ...' and 'layers: ...'.")],
        )
    scenario = parse(Scenario, data, "", problems, base_dir=base_dir)
    if lines:
        problems = Problems(dataclasses.replace(p, line=_line_for(p.where, lines)) for p in problems)
    if problems.errors or scenario is None:
        where = f"invalid scenario {path}" if path else "invalid scenario"
        raise ScenarioError(where, problems)
    for p in problems.warnings:
        log.warning("%s", p)
    return dataclasses.replace(scenario, path=path) if path is not None else scenario


def load(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file.

    Raises
    ------
    ScenarioError
        Every problem found, with YAML line numbers.
    DataError
        The file is missing or is not YAML.
    """
    from .io import read_yaml_with_lines

    p = Path(path).resolve()
    data, lines = read_yaml_with_lines(p)
    if data is None:
        raise DataError(f"scenario file {p} is empty. Fix: start with 'name: ...' and 'layers: ...'.")
    return from_dict(data, base_dir=p.parent, lines=lines, path=p)
