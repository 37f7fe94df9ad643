"""The region scenario (区域/省级汇总): many county scenarios run as one, then added up.

A region scenario is a YAML file with one top-level key, ``region``:

.. code-block:: yaml

    region:
      name: yan-an                       # folder name of the region's outputs (maps/<name>)
      title: {zh: 延安市易地扶贫搬迁汇总, en: Yan'an relocation summary}
      province: 陕西省
      counties:                          # county scenarios, relative to this file
        - ansai.yaml                     # a path ...
        - {scenario: zichang.yaml, city: 延安市}   # ... or a path with its city (地级市)
      cross_county: true                 # second pass: unserved villages may move to a neighbour's site
      cross_county_max_time_min: 60
      cluster: {memory_limit: 4GiB, retries: 1}   # per worker of the local cluster (defaults: auto, 1)
      outputs: {dir: ../maps/yan-an}

``split_by`` cuts the counties from one layer set instead (a county column of its boundaries);
``tiles`` builds them from one county scenario (the demo county tiled
``rows x cols`` with distinct names, ids and offsets; the bundled ``scenarios/region-demo.yaml``
and ``benchmarks/bench_region.py`` use it). The classes here are plain data; reading the file is
:func:`geofupin.region.load`'s job (through :mod:`geofupin.io`).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .._schema import RunFile, kind_of, line_for, parse
from ..errors import Problem, Problems, ScenarioError

#: The top-level key that makes a YAML file a region scenario.
REGION_KEY = "region"


def _check_name(name: str, where: str, problems: Problems) -> None:
    bad = sorted({c for c in name if c in '/\\:*?"<>|' or ord(c) < 32})
    if not name.strip() or bad or name.strip(".") == "" or len(name) > 100:
        problems.add(
            where,
            f"name {name!r} cannot be used as a folder name.",
            "Use letters (汉字 too), digits, '-' or '_', at most 100 characters.",
        )


#: A byte size as dask reads it: a number and a unit (``4GiB``, ``3.5 GB``, ``800MB``).
_BYTES = re.compile(r"^\s*\d+(\.\d+)?\s*(B|kB|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$")


def check_memory_limit(value: str, where: str, problems: Problems) -> None:
    """A worker memory limit: ``auto``, ``none`` or a size with its unit (``4GiB``); else a problem at ``where``."""
    if value.strip().lower() in ("auto", "none") or _BYTES.match(value):
        return
    problems.add(
        where,
        f"{value!r} is not a memory size.",
        "Write a size with its unit, e.g. '4GiB' or '3000MB'; 'auto' (the machine's memory / workers) or 'none'.",
    )


def _check_retries(value: int, where: str, problems: Problems) -> None:
    if value < 0:
        problems.add(where, f"{value!r} is negative.", "Give 0 (no retry) or more.")


def _check_positive(value: float, where: str, problems: Problems) -> None:
    if value <= 0:
        problems.add(where, f"{value!r} must be greater than 0.", "Give a positive number.")


@dataclass(frozen=True)
class RegionTitle:
    """Bilingual title of the region (Chinese first)."""

    zh: str
    en: str = ""


@dataclass(frozen=True)
class CountyEntry:
    """One county of a region: its scenario file and the city (地级市) it belongs to.

    Attributes
    ----------
    scenario
        The county's scenario YAML, relative to the region file.
    city
        The prefecture-level city (地级市) of the county, for the city budget table; empty:
        the region's ``default_city``.
    """

    scenario: Path
    city: str = ""


@dataclass(frozen=True)
class Tiles:
    """Counties built by tiling one county scenario ``rows x cols`` times (the demo region).

    Tile ``(r, c)`` is the base county shifted ``c`` county widths east and ``r`` county heights
    south; its ids are prefixed ``R{r}C{c}-``, its county named ``{county_names[i]}`` and its
    layers generated on first use into ``dir/r{r}c{c}/`` (only for a base scenario with a ``demo``
    section; deterministic, a cache like the demo's own layers).

    Attributes
    ----------
    scenario
        The base county scenario (e.g. ``demo.yaml``).
    rows, cols
        How many tiles down and across.
    dir
        Folder of the tiles' layers.
    cities
        City of each row of tiles (cycled); empty: the region's ``default_city``.
    """

    scenario: Path
    dir: Path
    rows: int = field(default=2, metadata={"check": lambda v, w, p: _check_positive(v, w, p)})
    cols: int = field(default=2, metadata={"check": lambda v, w, p: _check_positive(v, w, p)})
    cities: tuple[str, ...] = ()


@dataclass(frozen=True)
class Split:
    """Counties cut from one layer set: each value of ``column`` in ``layer`` is one county.

    Points (villages, facilities) and candidate sites go to the county holding them; lines and
    polygons (roads, water, power, constraints) to every county they touch, whole, so that a road
    crossing the border keeps its connections; township boundaries to the county holding them.
    The DEM is shared. Each county's layers are written once into ``dir/<value>/`` (a cache,
    rewritten when an input changes).

    Attributes
    ----------
    scenario
        The scenario of the whole layer set (its sections apply to every county).
    dir
        Folder of the counties' layers.
    layer
        The layer kind holding the county polygons (default ``boundaries``).
    column
        The column naming the county of each polygon.
    level
        Only polygons whose ``level`` is this (``county``); ``null``: every polygon of the layer.
    city_column
        A column of the same layer naming each county's city (地级市), or ``null``.
    """

    scenario: Path
    dir: Path
    column: str = "name"
    layer: Literal["boundaries"] = "boundaries"
    level: str | None = "county"
    city_column: str | None = None


@dataclass(frozen=True)
class Cluster:
    """How the county tasks run on the cluster (集群设置).

    Attributes
    ----------
    memory_limit
        Memory of each worker process of the local cluster (``--workers N``), e.g. ``4GiB``: a
        worker that goes beyond 95 % of it is stopped by its nanny and restarted, and its county
        tried again (``retries``). Default ``auto``: the machine's memory divided by the workers
        (dask's own default); ``none``: no limit. ``--memory-limit`` overrides it. An existing
        cluster (``--scheduler``) keeps its own workers' limits.
    retries
        How many more times a county whose worker died (killed, out of memory, crashed) is tried
        on another worker before it is reported as failed (dask's ``allowed-failures``; default 1:
        two attempts). An existing cluster keeps its own setting.
    """

    memory_limit: str = field(default="auto", metadata={"check": lambda v, w, p: check_memory_limit(v, w, p)})
    retries: int = field(default=1, metadata={"check": lambda v, w, p: _check_retries(v, w, p)})


@dataclass(frozen=True)
class CountyOutputs:
    """What each county of a region writes, over its own scenario's ``outputs`` (``None``: as the county says).

    A province run adds the counties up; it may not need 100 plan documents and print maps each time.
    ``{tables: [csv], static_maps: [], document: []}`` writes each county's CSV tables, GeoPackage,
    QGIS project, page and roster files only -- the region's budget and person tables are the same.

    Attributes
    ----------
    tables
        ``csv`` and/or ``xlsx`` (the county scenario's ``outputs.tables``).
    static_maps
        ``png`` and/or ``pdf`` print maps (``outputs.static_maps``).
    document
        ``docx`` and/or ``pdf`` plan document (``outputs.document``).
    """

    tables: tuple[Literal["csv", "xlsx"], ...] | None = None
    static_maps: tuple[Literal["png", "pdf"], ...] | None = None
    document: tuple[Literal["docx", "pdf"], ...] | None = None

    def overrides(self) -> dict[str, tuple[str, ...]]:
        """The county ``outputs`` fields this replaces (those not ``None``)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) is not None}


@dataclass(frozen=True)
class RegionOutputs:
    """Where the region writes: ``dir/<county>/`` per county, plus the region's own files in ``dir``.

    ``county`` (:class:`CountyOutputs`) sets what every county writes, over its own scenario.
    """

    dir: Path | None = None
    county: CountyOutputs = field(default_factory=CountyOutputs)


@dataclass(frozen=True)
class Region(RunFile):
    """A validated region scenario (frozen). Built by :func:`from_dict`.

    Attributes
    ----------
    name
        Folder name of the region's outputs.
    title
        Title of the region index page.
    province
        The province (省) the budget tables are headed with.
    default_city
        City of the counties that name none.
    counties
        County scenarios (paths or :class:`CountyEntry`); or none with ``tiles``.
    tiles
        Build the counties by tiling one county scenario (the demo region).
    split_by
        Cut the counties from one layer set by a county column of its boundaries.
    cross_county
        After every county ran, let relocating units a county could not place move to a site of a
        neighbouring county with room left (a second pass over the border counties only).
    cross_county_max_time_min
        The longest cross-county move, in minutes.
    border_m
        Two counties are neighbours when their study areas lie within this distance.
    cluster
        Worker memory limit and retries of the county tasks.
    outputs
        Where to write.
    """

    name: str = field(metadata={"check": lambda v, w, p: _check_name(v, w, p)})
    title: RegionTitle = field(default_factory=lambda: RegionTitle(zh="区域易地扶贫搬迁规划汇总", en="Region summary"))
    province: str = ""
    default_city: str = ""
    counties: tuple[CountyEntry | Path, ...] = ()
    tiles: Tiles | None = None
    split_by: Split | None = None
    cross_county: bool = False
    cross_county_max_time_min: float = field(default=60.0, metadata={"check": lambda v, w, p: _check_positive(v, w, p)})
    border_m: float = field(default=5000.0, metadata={"check": lambda v, w, p: _check_positive(v, w, p)})
    cluster: Cluster = field(default_factory=Cluster)
    outputs: RegionOutputs = field(default_factory=RegionOutputs)
    #: The region file (set by the loader; not a YAML key).
    path: Path | None = field(default=None, compare=False, metadata={"internal": True})

    def validate(self, where: str, problems: Problems) -> None:
        """A region has counties: a list, tiles or a split, exactly one of them."""
        given = [k for k, v in (("counties", self.counties), ("tiles", self.tiles), ("split_by", self.split_by)) if v]
        if not given:
            problems.add(
                where or "region",
                "the region lists no county.",
                "Add 'counties:' (county scenario files), 'split_by:' (one layer set cut by a county column) or "
                "'tiles:' (one county scenario tiled).",
            )
        if len(given) > 1:
            problems.add(where or "region", f"{' and '.join(given)} are given.", "Keep one of them.")

    def entries(self) -> tuple[CountyEntry, ...]:
        """The listed counties as :class:`CountyEntry` (the default city filled in)."""
        out = []
        for c in self.counties:
            e = c if isinstance(c, CountyEntry) else CountyEntry(scenario=c)
            out.append(e if e.city else dataclasses.replace(e, city=self.default_city))
        return tuple(out)


def is_region(data: Any) -> bool:
    """True when parsed YAML is a region scenario (a mapping whose only key is ``region``)."""
    return isinstance(data, dict) and REGION_KEY in data


def from_dict(
    data: Any, *, base_dir: Path | None = None, lines: dict[str, int] | None = None, path: Path | None = None
) -> Region:
    """Validate parsed YAML into a :class:`Region`; raise :class:`ScenarioError` listing every problem."""
    where_file = str(path) if path else "region"
    if not is_region(data):
        raise ScenarioError(
            f"invalid region scenario {where_file}",
            [Problem(where_file, f"the file is {kind_of(data)} without a 'region' key.", "Start it with 'region:'.")],
        )
    problems = Problems()
    extra = sorted(str(k) for k in data if k != REGION_KEY)
    for k in extra:
        problems.add(k, f"unknown top-level key '{k}' in a region scenario.", "Put every key under 'region:'.")
    region = parse(Region, data[REGION_KEY], REGION_KEY, problems, base_dir=base_dir)
    if lines:
        problems = Problems(dataclasses.replace(p, line=line_for(p.where, lines)) for p in problems)
    if problems.errors or region is None:
        raise ScenarioError(f"invalid region scenario {where_file}", problems)
    return dataclasses.replace(region, path=path) if path is not None else region
