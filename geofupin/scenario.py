"""Scenario files: what to read, which CRS, what to compute and where to write.

A scenario is YAML. :func:`load` reads it and validates it fully: every problem at once,
unknown keys rejected with a suggestion, YAML line numbers where possible. The result is a
frozen :class:`Scenario`. Its step sections are frozen dataclasses declared in
:mod:`geofupin.config` and parsed the same way: ``access`` (:class:`geofupin.config.access.AccessConfig`),
``siting`` (:class:`geofupin.config.siting.SitingConfig`), ``allocation``
(:class:`geofupin.config.allocate.AllocationConfig`), ``policy``
(:class:`geofupin.config.policy.PolicyConfig`), ``plans`` (:class:`geofupin.config.plans.PlansConfig`),
``roster`` (:class:`geofupin.config.roster.RosterConfig`, optional: the household roster) and
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
      constraints:                 # several sources, merged into one layer with a `source` column
        - {path: ../data/county.gdb, layer: DLTB, kind_from: {column: DLBM, table: gbt21010}}
        - {path: ../data/YJJBNTTB.shp, encoding: GBK, kind: basic_farmland}
        - {path: ../data/county.gdb, layer: STBHHX, where: "BHLX = '红线'", kind: ecological_redline}
      dem: ../layers/demo/dem.tif
    outputs: {dir: ../maps/demo}

Sources: see :class:`LayerSource` (``where:``, ``kind:``, ``kind_from:``, ``header:``/``names:``,
``sheet:``) and :class:`LayersSection` (how several sources merge).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ._schema import RunFile, kind_of, line_for, parse, suggest
from .config.access import AccessConfig
from .config.allocate import AllocationConfig
from .config.funding import FundingConfig
from .config.maps import MapConfig
from .config.phasing import PhasingConfig
from .config.placement import PlacementConfig
from .config.plans import PlansConfig
from .config.policy import PolicyConfig
from .config.reclamation import ReclamationConfig
from .config.roster import RosterConfig
from .config.siting import SitingConfig
from .errors import Problem, Problems, ScenarioError

log = logging.getLogger(__name__)

StepName = Literal["access", "site", "allocate", "plan", "phase", "roster", "map"]
TableFormat = Literal["csv", "xlsx"]
StaticFormat = Literal["png", "pdf"]
DocumentFormat = Literal["docx", "pdf"]

#: Order in which steps run; a step only runs when its module is installed and its inputs exist.
STEP_ORDER: tuple[str, ...] = ("access", "site", "allocate", "plan", "phase", "roster", "map")


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


#: Layer kinds whose features carry a ``kind`` column, which a source's ``kind:``/``kind_from:`` may set.
KIND_COLUMN_LAYERS: tuple[str, ...] = ("water", "power", "facilities", "constraints")


@dataclass(frozen=True)
class KindFrom:
    """``kind_from:``: the ``kind`` of each feature, read from one of its columns through a mapping.

    Attributes
    ----------
    column
        The column holding the class, as named in the file (e.g. ``DLBM`` or ``DLMC`` of a 三调 DLTB layer).
    map
        ``{value: kind}``. A value matches a key when equal to it (spaces around ignored); a key of
        digits also matches every code it begins (``'01': basic_farmland`` maps 0101, 0102 and 0103),
        the longest such key winning. Kinds may be written as geofupin names or their Chinese
        aliases (``永久基本农田``). Write codes in quotes: YAML reads an unquoted ``0101`` as a number.
    table
        ``gbt21010``: values are GB/T 21010-2017 / 三调 codes or names (``0103``, ``旱地``) and get
        the constraint kind of their class (:data:`geofupin.landuse.CONSTRAINT_KIND_OF_CLASS`: the
        耕地 classes are ``basic_farmland``); ``map`` entries take precedence over it.
    unmapped
        Features whose value no entry maps: ``drop`` (default; left out, with one warning counting
        them by value) or ``error`` (the run stops, naming the values).
    """

    column: str
    map: dict[int | str, str] = field(default_factory=dict)
    table: Literal["gbt21010"] | None = None
    unmapped: Literal["drop", "error"] = "drop"

    def validate(self, where: str, problems: Problems) -> None:
        if not self.map and self.table is None:
            problems.add(
                where,
                f"kind_from on column '{self.column}' gives neither 'map:' nor 'table:'.",
                "Add map: {'0101': basic_farmland, ...} or table: gbt21010.",
            )
        for key in self.map:
            if isinstance(key, int):
                problems.add(
                    join_where(where, f"map.{key}"),
                    f"map key {key} is a number: YAML drops leading zeros and reads 0101 as the octal number 65.",
                    f"Write codes in quotes, e.g. '0{key}': basic_farmland.",
                )


@dataclass(frozen=True)
class LayerSource:
    """Where one layer (or one of several sources of a layer kind) comes from.

    Attributes
    ----------
    path
        File path, relative to the scenario file: a GeoPackage, Shapefile, GeoJSON, GeoParquet,
        File Geodatabase folder (``county.gdb``), CSV or XLSX of points (or ``url:`` instead, for a database).
    url
        A PostGIS database, ``postgresql://user@host:5432/dbname``, read with ``table:`` or ``sql:``
        (see :mod:`geofupin.dbio`). The password comes from ``~/.pgpass``, ``PGPASSWORD`` or the URL; it is
        never logged nor written to ``run.json``.
    table, sql
        With ``url``: the table (``schema.table`` or ``table``) or a query (``SELECT ...``) giving the layer.
    geometry
        With ``url``: the geometry column to use when the rows have several (any name; default: the only one).
    layer
        Layer name inside a multi-layer file (GeoPackage, File Geodatabase); default: the only or first layer.
    sheet
        Sheet of an XLSX file (name or 0-based number); default the first.
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
        Coordinate columns of a CSV/XLSX (default: found among lon/lng/longitude/经度 and lat/latitude/纬度).
    header, names
        ``header: false``: the CSV/XLSX has no header row (the public village code lists have none);
        ``names`` then gives the column names, one per column, in order. With a header row, ``names``
        replaces its names.
    columns
        Column renames ``{your_name: canonical_name}`` on top of the built-in Chinese/English aliases.
    where
        An attribute filter: only the features it selects are read. For GeoPackage, Shapefile,
        File Geodatabase and GeoJSON it is the file's own SQL (``DLBM LIKE '01%'``, ``DLMC IN ('水田',
        '旱地')``, ``ZHLX = '滑坡'``: SQLite for GeoPackage, OGR SQL otherwise); CSV and XLSX rows are
        filtered with the same SQLite subset, every column being text (compare numbers with
        ``CAST(col AS REAL) > 3``; empty cells are NULL). One expression, no ``;``.
    kind
        The ``kind`` of every feature of this source (``basic_farmland``, ``ecological_redline``...,
        or a Chinese alias); replaces any kind column of the file.
    kind_from
        The ``kind`` of each feature from a column (:class:`KindFrom`).
    label
        The name of this source in the merged layer's ``source`` column and in id prefixes
        (default: its ``layer``, or the file name without extension).
    """

    path: Path | None = None
    url: str | None = field(default=None, metadata={"check": lambda v, w, p: _check_url(v, w, p)})
    table: str | None = None
    sql: str | None = None
    geometry: str | None = None
    layer: str | None = None
    sheet: int | str | None = None
    encoding: str | None = field(default=None, metadata={"check": lambda v, w, p: _check_encoding(v, w, p)})
    crs: str | None = field(default=None, metadata={"check": lambda v, w, p: _check_crs(v, w, p, use="layer")})
    lon: str | None = None
    lat: str | None = None
    header: bool = True
    names: tuple[str, ...] | None = None
    columns: dict[str, str] = field(default_factory=dict)
    datum_shift: DatumShift | None = field(default=None, metadata={"check": lambda v, w, p: _check_shift(v, w, p)})
    where: str | None = field(default=None, metadata={"check": lambda v, w, p: _check_where(v, w, p)})
    kind: str | None = None
    kind_from: KindFrom | None = None
    label: str | None = None

    @property
    def display_label(self) -> str:
        """``label``, or the layer name, or the file name without extension."""
        if self.label:
            return self.label
        if self.layer:
            return self.layer
        if self.url is not None:  # a database source: its table, or "sql"
            return self.table or "sql"
        return Path(str(self.path)).stem or str(self.path)

    def validate(self, where: str, problems: Problems) -> None:
        _check_source(self, where, problems)
        if not self.header and not self.names:
            problems.add(
                join_where(where, "header"),
                "header: false needs the column names.",
                "Add names: [code, parent, name, ...], one per column in order.",
            )
        if self.names is not None:
            twice = sorted({n for n in self.names if self.names.count(n) > 1})
            if twice:
                problems.add(
                    join_where(where, "names"),
                    f"column name(s) given twice: {', '.join(twice)}.",
                    "Name each column once.",
                )
            blank = [i for i, n in enumerate(self.names) if not n.strip()]
            if blank:
                problems.add(
                    join_where(where, f"names[{blank[0]}]"), "a column name is empty.", "Give every column a name."
                )
        if self.kind is not None and self.kind_from is not None:
            problems.add(
                join_where(where, "kind_from"),
                "both 'kind:' and 'kind_from:' are given.",
                "Keep one: kind for one kind for the whole source, kind_from to read it from a column.",
            )


LayerEntry = LayerSource | Path | tuple[LayerSource | Path, ...]


@dataclass(frozen=True)
class LayersSection:
    """The county's layers: each a path, a :class:`LayerSource`, or a list of them (merged into one layer).

    Only ``villages`` is required. A list merges its sources into one layer: each source read
    with its own path, layer, encoding, CRS, filter and kind; the merged layer has a ``source``
    column naming the source of each feature, and ids that occur in two sources get the later
    source's label as a prefix (``YJJBNTTB:12``), with a warning.
    """

    villages: LayerEntry
    boundaries: LayerEntry | None = None
    roads: LayerEntry | None = None
    water: LayerEntry | None = None
    power: LayerEntry | None = None
    facilities: LayerEntry | None = None
    constraints: LayerEntry | None = None
    candidates: LayerEntry | None = None
    dem: Path | None = None

    def all_sources(self) -> dict[str, tuple[LayerSource, ...]]:
        """Every source of every vector layer kind, in the order given (paths expanded to :class:`LayerSource`)."""
        out: dict[str, tuple[LayerSource, ...]] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name == "dem" or v is None:
                continue
            items = v if isinstance(v, tuple) else (v,)
            out[f.name] = tuple(s if isinstance(s, LayerSource) else LayerSource(path=s) for s in items)
        return out

    def sources(self) -> dict[str, LayerSource]:
        """The first source of each vector layer kind (see :meth:`all_sources` for every one)."""
        return {k: v[0] for k, v in self.all_sources().items() if v}

    def validate(self, where: str, problems: Problems) -> None:
        from . import vocabulary as voc
        from .landuse import constraint_kind_aliases

        kind_values: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
            "water": (voc.WATER_KINDS, voc.WATER_KIND_ALIASES),
            "power": (voc.POWER_KINDS, voc.POWER_KIND_ALIASES),
            "facilities": (voc.FACILITY_KINDS, voc.FACILITY_KIND_ALIASES),
            "constraints": (voc.CONSTRAINT_KINDS, {**voc.CONSTRAINT_KIND_ALIASES, **constraint_kind_aliases()}),
        }
        for kind, sources in self.all_sources().items():
            entry = getattr(self, kind)
            if isinstance(entry, tuple) and not entry:
                problems.add(
                    join_where(where, kind),
                    "the list of sources is empty.",
                    f"List at least one source, or remove '{kind}:'.",
                )
            for i, src in enumerate(sources):
                here = join_where(where, f"{kind}[{i}]" if isinstance(entry, tuple) else kind)
                wants = [k for k in ("kind", "kind_from") if getattr(src, k) is not None]
                if wants and kind not in KIND_COLUMN_LAYERS:
                    problems.add(
                        join_where(here, wants[0]),
                        f"{kind} have no 'kind' column, so '{wants[0]}:' does not apply.",
                        f"Remove it; 'kind:' and 'kind_from:' apply to {', '.join(KIND_COLUMN_LAYERS)}.",
                    )
                    continue
                if not wants:
                    continue
                values, aliases = kind_values[kind]
                accepted = {*values, *aliases}
                given: list[tuple[str, str]] = []
                if src.kind is not None:
                    given.append((join_where(here, "kind"), src.kind))
                if src.kind_from is not None:
                    given += [(join_where(here, f"kind_from.map.{k}"), v) for k, v in src.kind_from.map.items()]
                for w, value in given:
                    if value not in accepted:
                        problems.add(
                            w,
                            f"'{value}' is not a {kind} kind{suggest(value, list(values))}.",
                            f"Use one of {', '.join(values)} (or their Chinese names).",
                        )
            labels = [s.display_label for s in sources]
            twice = sorted({lb for lb in labels if labels.count(lb) > 1 and any(s.label == lb for s in sources)})
            if twice:
                problems.add(
                    join_where(where, kind),
                    f"label(s) given to two sources: {', '.join(twice)}.",
                    "Give each source its own label.",
                )
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Path) and any(part.lower() in ("postgresql:", "postgres:") for part in v.parts):
                problems.add(
                    join_where(where, f.name),
                    "a database is not a file path.",
                    f"Write it as {{url: postgresql://user@host:5432/dbname, table: {f.name}}} (or sql: SELECT ...).",
                )


@dataclass(frozen=True)
class DemoSection:
    """Generate the layers with :mod:`geofupin.demo` when they are missing (a cache)."""

    seed: int = field(default=20160101, metadata={"check": lambda v, w, p: _check_seed(v, w, p)})
    dir: Path | None = None


def _check_k(value: Any, where: str, problems: Problems) -> None:
    if isinstance(value, int) and value < 1:
        problems.add(where, f"od_k_nearest must be at least 1, got {value}.", "Give a whole number >= 1, or 'all'.")


@dataclass(frozen=True)
class PostgisOutput:
    """Where ``outputs.postgis`` writes every result layer and table of a run (see :func:`geofupin.dbio.write_schema`).

    Attributes
    ----------
    url
        The database, ``postgresql://user@host:5432/dbname`` (password from ``~/.pgpass``, ``PGPASSWORD``
        or the URL; never written to ``run.json``).
    schema
        The schema the run replaces as a whole (atomically; only a schema geofupin created).
    """

    url: str = field(metadata={"check": lambda v, w, p: _check_url(v, w, p)})
    schema: str = field(metadata={"check": lambda v, w, p: _check_schema_name(v, w, p)})


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
    document
        Formats of the plan document (规划文本) ``run`` writes: ``plan.docx`` and/or ``plan.pdf``
        (default both; ``[]`` writes none -- ``geofupin report`` still writes both on demand).
    od_k_nearest
        The written OD table (``tables/od_village_site.csv``) keeps, for each relocating village,
        its ``od_k_nearest`` quickest sites (default 20); ``all`` or ``null`` writes every pair within
        the cut-off. Allocation always uses the full OD; the workbook never holds it.
    postgis
        Also write the results into a PostGIS schema (:class:`PostgisOutput`); default: not.
    """

    dir: Path | None = None
    tables: tuple[TableFormat, ...] = ("csv", "xlsx")
    static_maps: tuple[StaticFormat, ...] = ()
    paper: Literal["A4", "A3"] = "A3"
    document: tuple[DocumentFormat, ...] = ("docx", "pdf")
    od_k_nearest: int | Literal["all"] | None = field(default=20, metadata={"check": lambda v, w, p: _check_k(v, w, p)})
    postgis: PostgisOutput | None = None


@dataclass(frozen=True)
class Scenario(RunFile):
    """A validated scenario (frozen). Built by :func:`load` or :func:`from_dict`."""

    name: str = field(metadata={"check": lambda v, w, p: _check_name(v, w, p)})
    layers: LayersSection
    title: Title = field(default_factory=lambda: Title(zh="扶贫易地搬迁规划", en="Relocation plan"))
    crs: str = field(default="auto", metadata={"check": lambda v, w, p: _check_crs(v, w, p, use="run")})
    demo: DemoSection | None = None
    outputs: Outputs = field(default_factory=Outputs)
    steps: tuple[StepName, ...] = field(
        default=("access", "site", "allocate", "plan", "phase", "roster", "map"),
        metadata={"check": lambda v, w, p: _check_steps(v, w, p)},
    )
    access: AccessConfig = field(default_factory=AccessConfig)
    siting: SitingConfig = field(default_factory=SitingConfig)
    allocation: AllocationConfig = field(default_factory=AllocationConfig)
    #: Scattered and special relocation (分散安置, 五保户集中供养, 特困户周转房), placed before the central allocation.
    placement: PlacementConfig = field(default_factory=PlacementConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    plans: PlansConfig = field(default_factory=PlansConfig)
    #: The annual implementation plan (分年度实施计划); ``None``: the ``phase`` step does nothing.
    phasing: PhasingConfig | None = None
    #: The funding plan by source (资金筹措方案); ``None``: not computed.
    funding: FundingConfig | None = None
    #: Old houses and homesteads (旧房拆除与宅基地复垦); ``None``: not computed.
    reclamation: ReclamationConfig | None = None
    #: The household roster (搬迁对象名册), its 公示名单 and 直补到户清册; ``None``: the ``roster`` step does nothing.
    roster: RosterConfig | None = None
    map: MapConfig = field(default_factory=MapConfig)
    #: The scenario file (set by :func:`load`; not a YAML key).
    path: Path | None = field(default=None, compare=False, metadata={"internal": True})

    # name, crs and steps are checked field by field (see the field metadata), so their problems
    # are reported together with those of every other section.

    def _redact(self, text: str) -> str:
        from .dbio import is_database_url, redact_url

        return redact_url(text) if is_database_url(text) else text  # run.json never holds a password


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


def _check_where(value: str | None, where: str, problems: Problems) -> None:
    """One attribute-filter expression: not empty, no statement separator outside quotes."""
    if value is None:
        return
    if not value.strip():
        problems.add(where, "the filter is empty.", "Write an expression such as DLBM LIKE '01%', or remove 'where:'.")
        return
    outside = re.sub(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"", "", value)
    if ";" in outside or "--" in outside or "/*" in outside:
        problems.add(
            where,
            f"the filter {value!r} holds ';' or a comment: only one expression is allowed.",
            "Write one expression, e.g. DLBM LIKE '01%' AND ZLDWDM LIKE '610603%'.",
        )


def _check_url(value: str | None, where: str, problems: Problems) -> None:
    from .dbio import url_problem

    if value is not None and (why := url_problem(value)) is not None:
        problems.add(where, *why)


def _check_schema_name(value: str, where: str, problems: Problems) -> None:
    from .dbio import schema_problem

    if (why := schema_problem(value)) is not None:
        problems.add(where, *why)


#: Keys of a layer source that only a file, or only a database (``url:``), takes.
_FILE_KEYS = ("layer", "sheet", "encoding", "lon", "lat", "names", "where")
_DB_KEYS = ("table", "sql", "geometry")


def _check_source(src: LayerSource, where: str, problems: Problems) -> None:
    """A source is a file (``path``) or a database (``url`` with ``table`` or ``sql``), never both."""
    if (src.path is None) == (src.url is None):
        problems.add(
            where,
            "give exactly one of 'path:' (a file) or 'url:' (a PostGIS database)."
            if src.path is None
            else "'path:' and 'url:' both given.",
            "Write path: villages.gpkg, or url: postgresql://user@host:5432/dbname with table: (or sql:).",
        )
        return
    keys = _FILE_KEYS if src.url is not None else _DB_KEYS
    for key in keys:
        if getattr(src, key) is not None:
            problems.add(
                join_where(where, key),
                f"'{key}:' applies to {'a file' if src.url is not None else 'a database (url:)'} only.",
                "Use table: or sql: with url:." if src.url is not None else "Remove it, or read a database with url:.",
            )
    if src.url is not None and (src.table is None) == (src.sql is None):
        problems.add(
            where,
            "a database layer needs exactly one of 'table:' or 'sql:'.",
            "Add table: villages (or schema.villages), or sql: SELECT ... giving the rows.",
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
    bad_layers = {w.split(".")[1].split("[")[0] for w in wheres if w.startswith("layers.") and w.count(".") >= 1}
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
