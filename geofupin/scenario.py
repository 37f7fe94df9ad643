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

from ._schema import kind_of, line_for, parse, suggest
from .config.access import AccessConfig
from .config.allocate import AllocationConfig
from .config.funding import FundingConfig
from .config.maps import MapConfig
from .config.phasing import PhasingConfig
from .config.plans import PlansConfig
from .config.policy import PolicyConfig
from .config.reclamation import ReclamationConfig
from .config.siting import SitingConfig
from .errors import Problem, Problems, ScenarioError

log = logging.getLogger(__name__)

StepName = Literal["access", "site", "allocate", "plan", "phase", "map"]
TableFormat = Literal["csv", "xlsx"]
StaticFormat = Literal["png", "pdf"]

#: Order in which steps run; a step only runs when its module is installed and its inputs exist.
STEP_ORDER: tuple[str, ...] = ("access", "site", "allocate", "plan", "phase", "map")


@dataclass(frozen=True)
class Title:
    """A bilingual title: Chinese first, English available."""

    zh: str
    en: str = ""


def _check_pipeline(value: str | None, where: str, problems: Problems) -> None:
    if value is None:
        return
    from pyproj import Transformer

    try:
        Transformer.from_pipeline(value)
    except Exception as exc:  # pyproj's ProjError
        problems.add(
            where,
            f"PROJ cannot read this pipeline ({exc}).",
            "Give a PROJ pipeline string such as '+proj=pipeline +step ...' (see proj.org, 'pipeline'), "
            "ending in CGCS2000 longitude/latitude in degrees.",
        )


def _check_towgs84(value: tuple[float, ...] | None, where: str, problems: Problems) -> None:
    if value is not None and len(value) not in (3, 7):
        problems.add(
            where,
            f"towgs84 has {len(value)} value(s); a datum shift has 3 (dx, dy, dz) or 7.",
            "Give [dx, dy, dz] in metres, or [dx, dy, dz, rx, ry, rz, ds] (metres, arc-seconds, ppm; "
            "position-vector convention, as PROJ's +towgs84).",
        )


def _check_shift(value: DatumShift | None, where: str, problems: Problems) -> None:
    if value is not None and (value.towgs84 is None) == (value.pipeline is None):
        problems.add(
            where,
            "give exactly one of 'towgs84' and 'pipeline'.",
            "Write 'datum_shift: {towgs84: [dx, dy, dz, rx, ry, rz, ds]}' or 'datum_shift: {pipeline: \"...\"}'.",
        )


@dataclass(frozen=True)
class DatumShift:
    """How a layer on Xian 1980 or Beijing 1954 is converted, as the surveying office supplies it.

    Give one of:

    towgs84
        3 or 7 parameters to WGS84 (``[dx, dy, dz, rx, ry, rz, ds]``: metres, arc-seconds, ppm;
        position-vector convention, as PROJ's ``+towgs84``); the layer's CRS gets them attached.
    pipeline
        A PROJ pipeline from the layer's coordinates (as stored, x/easting first) to CGCS2000
        longitude/latitude in degrees (EPSG:4490), e.g. with a ``+proj=hgridshift`` grid.
    """

    towgs84: tuple[float, ...] | None = field(default=None, metadata={"check": lambda v, w, p: _check_towgs84(v, w, p)})
    pipeline: str | None = field(default=None, metadata={"check": lambda v, w, p: _check_pipeline(v, w, p)})


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
        ``GCJ-02`` (Gaode/AMap, Tencent) or ``BD-09`` (Baidu): the coordinates are those shifted
        longitudes/latitudes; they are moved back to WGS84 on load.
    datum_shift
        For a layer on Xian 1980 or Beijing 1954: the conversion to use (:class:`DatumShift`);
        without one PROJ's ballpark offset is used and a warning says so.
    lon, lat
        Coordinate columns of a CSV (default: found among lon/lng/longitude/经度 and lat/latitude/纬度).
    columns
        Column renames ``{your_name: canonical_name}`` on top of the built-in Chinese/English aliases.
    """

    path: Path
    layer: str | None = None
    encoding: str | None = field(default=None, metadata={"check": lambda v, w, p: _check_encoding(v, w, p)})
    crs: str | None = field(default=None, metadata={"check": lambda v, w, p: _check_crs(v, w, p, use="layer")})
    lon: str | None = None
    lat: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    datum_shift: DatumShift | None = field(default=None, metadata={"check": lambda v, w, p: _check_shift(v, w, p)})


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

    seed: int = field(default=20160101, metadata={"check": lambda v, w, p: _check_seed(v, w, p)})
    dir: Path | None = None


def _check_k(value: Any, where: str, problems: Problems) -> None:
    if isinstance(value, int) and value < 1:
        problems.add(where, f"od_k_nearest must be at least 1, got {value}.", "Give a whole number >= 1, or 'all'.")


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
    od_k_nearest
        The written OD table (``tables/od_village_site.csv``) keeps, for each relocating village,
        its ``od_k_nearest`` quickest sites (default 20); ``all`` or ``null`` writes every pair within
        the cut-off. Allocation always uses the full OD; the workbook never holds it.
    """

    dir: Path | None = None
    tables: tuple[TableFormat, ...] = ("csv", "xlsx")
    static_maps: tuple[StaticFormat, ...] = ()
    paper: Literal["A4", "A3"] = "A3"
    od_k_nearest: int | Literal["all"] | None = field(default=20, metadata={"check": lambda v, w, p: _check_k(v, w, p)})


@dataclass(frozen=True)
class Scenario:
    """A validated scenario (frozen). Built by :func:`load` or :func:`from_dict`."""

    name: str = field(metadata={"check": lambda v, w, p: _check_name(v, w, p)})
    layers: LayersSection
    title: Title = field(default_factory=lambda: Title(zh="扶贫易地搬迁规划", en="Relocation plan"))
    crs: str = field(default="auto", metadata={"check": lambda v, w, p: _check_crs(v, w, p, use="run")})
    demo: DemoSection | None = None
    outputs: Outputs = field(default_factory=Outputs)
    steps: tuple[StepName, ...] = field(
        default=("access", "site", "allocate", "plan", "phase", "map"),
        metadata={"check": lambda v, w, p: _check_steps(v, w, p)},
    )
    access: AccessConfig = field(default_factory=AccessConfig)
    siting: SitingConfig = field(default_factory=SitingConfig)
    allocation: AllocationConfig = field(default_factory=AllocationConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    plans: PlansConfig = field(default_factory=PlansConfig)
    #: The annual implementation plan (分年度实施计划); ``None``: the ``phase`` step does nothing.
    phasing: PhasingConfig | None = None
    #: The funding plan by source (资金筹措方案); ``None``: not computed.
    funding: FundingConfig | None = None
    #: Old houses and homesteads (旧房拆除与宅基地复垦); ``None``: not computed.
    reclamation: ReclamationConfig | None = None
    map: MapConfig = field(default_factory=MapConfig)
    #: The scenario file (set by :func:`load`; not a YAML key).
    path: Path | None = field(default=None, compare=False, metadata={"internal": True})

    # name, crs and steps are checked field by field (see the field metadata), so their problems
    # are reported together with those of every other section.

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


def _check_name(name: str, where: str, problems: Problems) -> None:
    """The scenario name becomes a folder name (maps/<name>): no separators, no dots-only, not too long."""
    bad = sorted({c for c in name if c in '/\\:*?"<>|' or ord(c) < 32})
    if not name.strip() or bad or name.strip(".") == "" or len(name) > 100:
        why = f" (it contains {' '.join(repr(c) for c in bad)})" if bad else ""
        problems.add(
            where,
            f"name {name!r} cannot be used as a folder name{why}.",
            "Use letters (汉字 too), digits, '-' or '_', at most 100 characters.",
        )


def _check_crs(value: str | None, where: str, problems: Problems, *, use: Literal["run", "layer"]) -> None:
    from .crs import crs_problem

    if value is not None and (why := crs_problem(value, use=use)) is not None:
        problems.add(where, *why)


#: Encodings Chinese layer files come in, for suggestions.
COMMON_ENCODINGS = ("UTF-8", "GBK", "GB18030", "GB2312", "Big5", "UTF-16", "Latin-1")


def _check_encoding(value: str | None, where: str, problems: Problems) -> None:
    import codecs

    if value is None:
        return
    try:
        codecs.lookup(value)
    except LookupError:
        problems.add(
            where,
            f"unknown text encoding {value!r}{suggest(value.upper(), COMMON_ENCODINGS)}.",
            f"Use one of {', '.join(COMMON_ENCODINGS)} (GBK for most Chinese Windows files).",
        )


def _check_seed(seed: int, where: str, problems: Problems) -> None:
    if seed < 0:
        problems.add(where, f"seed {seed} is negative.", "Give a whole number of 0 or more, e.g. 20160101.")


def _check_steps(steps: tuple[str, ...], where: str, problems: Problems) -> None:
    twice = sorted({s for s in steps if steps.count(s) > 1})
    if twice:
        problems.add(where, f"step(s) listed twice: {', '.join(twice)}.", "List each step once.")


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
            f"invalid scenario {path}" if path else "invalid scenario",
            [
                Problem(
                    str(path) if path else "scenario",
                    f"the scenario is {kind_of(data)}.",
                    "Start the file with 'name: ...' and 'layers: ...' (see scenarios/demo.yaml).",
                    line=1 if path else None,
                )
            ],
        )
    scenario = parse(Scenario, data, "", problems, base_dir=base_dir)
    if lines:
        problems = Problems(dataclasses.replace(p, line=line_for(p.where, lines)) for p in problems)
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
        Every problem found, with YAML line numbers; also when the file is missing, empty,
        not UTF-8 text, not valid YAML or beyond the limits of :func:`geofupin.io.read_yaml`.
    """
    from .io import read_yaml_with_lines

    p = Path(path).resolve()
    data, lines = read_yaml_with_lines(p)
    return from_dict(data, base_dir=p.parent, lines=lines, path=p)


def load_for_check(path: str | Path) -> tuple[Scenario | None, list[Problem]]:
    """Load a scenario for ``geofupin check``: its problems, and a scenario to check the layers with.

    When the file has problems, the returned scenario is built from the top-level sections
    that are fine (an invalid ``name`` is replaced), so the layers, the DEM and the policy file
    can still be checked and every problem is reported at once. It is ``None`` when the file
    cannot be read or its ``layers`` section is itself invalid.
    """
    try:
        return load(path), []
    except ScenarioError as exc:
        problems = exc.problems
    if not any(p.severity == "error" for p in problems):  # pragma: no cover - load raises only on errors
        return None, problems
    from .io import read_yaml

    p = Path(path).resolve()
    try:
        data = read_yaml(p)
    except ScenarioError:
        return None, problems
    if not isinstance(data, dict):
        return None, problems
    wheres = [pr.where for pr in problems if pr.severity == "error"]
    bad = {w.split(".")[0].split("[")[0] for w in wheres}
    bad_layers = {w.split(".")[1] for w in wheres if w.startswith("layers.") and w.count(".") >= 1}
    if "" in bad or not isinstance(data.get("layers"), dict) or "villages" in bad_layers:
        return None, problems
    salvaged = {k: v for k, v in data.items() if str(k) not in bad}
    if "layers" in bad:  # check the layers that are well written
        if any(w == "layers" for w in wheres):
            return None, problems
        salvaged["layers"] = {k: v for k, v in data["layers"].items() if str(k) not in bad_layers}
    if "name" in bad:
        salvaged["name"] = p.stem if not any(c in p.stem for c in '/\\:*?"<>|') else "scenario"
    try:
        return from_dict(salvaged, base_dir=p.parent, path=p), problems
    except ScenarioError:
        return None, problems
