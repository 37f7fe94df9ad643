"""One run: scenario -> layers -> steps -> outputs.

:func:`load_inputs` reads and validates the layers of a scenario (generating the demo county
first when the scenario asks for it); :func:`run` calls each step in order with a
:class:`~geofupin.context.RunContext`; :func:`write_outputs` writes everything atomically
into the output folder: ``results.gpkg`` (the input layers as used plus every result layer),
``tables/*.csv``, ``tables.xlsx``, ``index.html`` and ``run.json`` (input hashes, the scenario
as resolved, package versions, step timings and summaries).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import logging
import platform
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from . import __version__, dbio
from . import io as gio
from .config.policy import Policy
from .context import Layers, RunContext, StepResult, run_policy
from .errors import DataError, GeofupinError, LayerError, Problems, ProblemsError, ScenarioError
from .layers import SourceFrame, prepare_layers
from .scenario import STEP_ORDER, LayerSource, Scenario

log = logging.getLogger(__name__)

#: Steps by name: ``module:function``, each ``step(ctx) -> StepResult``; ``map`` returns the page as an artifact.
STEPS: dict[str, str] = {
    "access": "geofupin.accessibility:step",
    "site": "geofupin.siting:step",
    "allocate": "geofupin.allocate:step",
    "plan": "geofupin.report:plan_step",
    "phase": "geofupin.phasing:step",
    "roster": "geofupin.roster:step",
    "map": "geofupin.maps:step",
}

#: Steps that always compute with the scenario's policy: :func:`run` reads it before the first of them
#: (when the load did not) and hands it on to every later step (:attr:`~geofupin.context.RunContext.policy`);
#: ``phase`` and ``roster`` use it when they need one (without their sections they read none).
POLICY_STEPS = ("plan",)

#: Packages whose versions go into ``run.json``.
VERSIONED = (
    "numpy", "pandas", "geopandas", "shapely", "pyproj", "pyogrio", "rasterio", "scipy", "networkx",
    "folium", "ortools", "highspy", "scikit-image", "openpyxl", "xlsxwriter", "python-calamine", "pyyaml",
)  # fmt: skip


@dataclass(frozen=True)
class RunOutput:
    """Everything a run computed, before it is written."""

    ctx: RunContext
    timings_s: Mapping[str, float]
    warnings: tuple[str, ...] = ()


def step_function(name: str) -> Callable[[RunContext], StepResult]:
    """Import the step function registered under ``name``."""
    module, func = STEPS[name].split(":")
    return getattr(importlib.import_module(module), func)  # type: ignore[no-any-return]


def ensure_demo_layers(scenario: Scenario) -> list[Path]:
    """Generate the demo county when the scenario has a ``demo`` section and layer files are missing."""
    if scenario.demo is None:
        return []
    paths = [s.path for srcs in scenario.layers.all_sources().values() for s in srcs if s.path is not None]
    if scenario.layers.dem is not None:
        paths.append(scenario.layers.dem)
    missing = [p for p in paths if not p.exists()]
    from . import demo

    villages = scenario.layers.sources()["villages"].path
    if scenario.demo.dir is None and villages is None:
        return []
    out = scenario.demo.dir or villages.parent  # type: ignore[union-attr]
    log.info("demo county (seed %s) in %s", scenario.demo.seed, out)
    demo.ensure(out, seed=scenario.demo.seed)  # checks the seed stamp; regenerates on a mismatch
    return missing


def read_raw_layers(scenario: Scenario, problems: Problems) -> dict[str, list[SourceFrame]]:
    """Read every source of every vector layer of a scenario as it is on disk (filtered by its ``where``).

    Unreadable files and invalid filters become problems at ``layers.<kind>`` (``layers.<kind>[i]``
    for the i-th source of a list; ``...where`` for a filter).
    """
    raw: dict[str, list[SourceFrame]] = {}
    for kind, srcs in scenario.layers.all_sources().items():
        listed = isinstance(getattr(scenario.layers, kind), tuple)
        for i, src in enumerate(srcs):
            here = f"layers.{kind}[{i}]" if listed else f"layers.{kind}"
            shift = src.datum_shift
            try:
                if src.url is not None:  # a PostGIS database (geofupin.dbio)
                    gdf = dbio.read_layer(
                        src.url,
                        table=src.table,
                        sql=src.sql,
                        geometry=src.geometry,
                        crs=src.crs,
                        towgs84=shift.towgs84 if shift is not None else None,
                        shift_pipeline=shift.pipeline if shift is not None else None,
                    )
                else:
                    assert src.path is not None  # a source is a file or a database (scenario)
                    gdf = gio.read_vector(
                        src.path,
                        layer=src.layer,
                        encoding=src.encoding,
                        lon=src.lon,
                        lat=src.lat,
                        crs=src.crs,
                        towgs84=shift.towgs84 if shift is not None else None,
                        shift_pipeline=shift.pipeline if shift is not None else None,
                        where=src.where,
                        sheet=src.sheet,
                        header=src.header,
                        names=src.names,
                    )
            except ScenarioError as exc:  # the source's where: filter
                for pr in exc.problems:
                    problems.add(
                        f"{here}.{pr.where}", f"{kind}, source {i + 1} ({src.display_label}): {pr.message}", pr.fix
                    )
                continue
            except DataError as exc:
                message, fix = _split_fix(str(exc), "Check the file and the scenario's 'layers' section.")
                problems.add(here, message, fix)
                continue
            part = SourceFrame(
                gdf,
                label=src.display_label,
                where=here,
                columns=src.columns,
                kind=src.kind,
                kind_from=src.kind_from,
                file=source_name(src),
            )
            raw.setdefault(kind, []).append(part)
    return raw


def _split_fix(text: str, default: str) -> tuple[str, str]:
    """``(message, fix)`` of an error text that may end in ``Fix: ...`` (so the fix is not given twice)."""
    message, sep, fix = text.partition(" Fix: ")
    return (message, fix) if sep else (text, default)


def load_inputs(scenario: Scenario, *, problems: Problems | None = None) -> Layers:
    """Read and validate every input of a scenario: its layers, in one metric CRS, the DEM and the policy file.

    :func:`read_inputs` without the policy it read.
    """
    return read_inputs(scenario, problems=problems)[0]


def read_inputs(scenario: Scenario, *, problems: Problems | None = None) -> tuple[Layers, Policy | None]:
    """Read and validate every input of a scenario: its layers, in one metric CRS, the DEM and the policy file.

    Returns the layers and the policy as read (``None`` when the run reads none at load: no plan
    step or no policy file, see :func:`check_policy_file`).

    Every problem of every input is collected before anything is raised, so ``check`` and
    ``run`` stop on the same problems and report them all at once.

    Raises
    ------
    LayerError
        Listing every problem in every layer (and of the DEM and the policy file).
    ScenarioError
        The layers are fine but the policy file is missing or invalid.
    """
    problems = problems if problems is not None else Problems()
    before = len(problems.errors)
    ensure_demo_layers(scenario)
    policy = check_policy_file(scenario, problems)
    policy_errors = len(problems.errors)
    raw = read_raw_layers(scenario, problems)
    if len(problems.errors) > policy_errors:
        if scenario.layers.dem is not None:  # report a missing DEM together with the missing layer files
            check_dem_file(scenario.layers.dem, problems)
        if any(p.where.endswith(".where") for p in problems.errors[policy_errors:]):
            raise ScenarioError("invalid layer filter (where:)", problems)
        raise LayerError("cannot read layers", problems)
    layers = prepare_layers(raw, crs=scenario.crs, dem=scenario.layers.dem, problems=problems)
    if len(problems.errors) > before:
        raise ScenarioError("invalid policy file", problems)
    return layers, policy


def source_name(src: LayerSource) -> str:
    """How messages name a layer's source: its file name, or its table/query and database (without password)."""
    if src.url is not None:
        return dbio.describe(src.url, table=src.table, sql=src.sql)
    return src.path.name if src.path is not None else ""


def check_policy_file(scenario: Scenario, problems: Problems) -> Policy | None:
    """Read and validate the scenario's policy file (when the plan step will use one) into ``problems``.

    Returns the policy read (``None`` when not read or invalid).
    """
    if "plan" not in scenario.steps or scenario.policy.file is None:
        return None
    try:
        return gio.load_policy(scenario.policy)
    except ProblemsError as exc:
        problems.extend(exc.problems)
        return None


def check_dem_file(dem: Path, problems: Problems) -> None:
    """Add a problem when the DEM cannot be opened (as :func:`geofupin.layers.check_dem` words it)."""
    from .terrain import dem_info

    try:
        dem_info(dem)
    except GeofupinError as exc:
        problems.add("dem", *_split_fix(str(exc), "Check the 'dem:' entry under 'layers:' in the scenario."))
    except Exception as exc:  # rasterio cannot open it
        problems.add("dem", f"cannot read DEM {dem}: {exc}", "Give a GeoTIFF (or another raster GDAL reads).")


def available_steps(scenario: Scenario) -> list[str]:
    """Steps the scenario asks for that this installation provides, in run order."""
    return [s for s in STEP_ORDER if s in scenario.steps and s in STEPS]


def run(
    scenario: Scenario,
    *,
    layers: Layers | None = None,
    steps: Iterable[str] | None = None,
    progress: bool = False,
) -> RunOutput:
    """Run the steps of a scenario and return their results (nothing is written).

    Parameters
    ----------
    scenario
        A validated scenario.
    layers
        Pre-loaded layers (default: :func:`load_inputs`).
    steps
        Step names to run (default: every available step the scenario lists).
    progress
        Show a progress bar.
    """
    timings: dict[str, float] = {}
    problems = Problems()
    with capture_warnings() as logged:
        t0 = time.perf_counter()
        policy: Policy | None = None  # read once a run (at load, or before the first step that uses it)
        if layers is None:
            layers, policy = read_inputs(scenario, problems=problems)
        timings["load"] = time.perf_counter() - t0
        wanted = list(steps) if steps is not None else available_steps(scenario)
        for s in wanted:
            if s not in STEPS:
                raise DataError(f"step '{s}' is not available in this installation; available: {', '.join(STEPS)}.")
        ctx = RunContext(scenario=scenario, layers=layers, results={}, policy=policy)
        warnings: list[str] = [*config_warnings(scenario), *(str(p) for p in problems.warnings)]
        est = layers.villages.get("estimated", None)
        if est is not None and est.fillna(False).astype(bool).any():
            warnings.append(
                f"villages: {int(est.fillna(False).astype(bool).sum())} 个村的户数人口为占位估计 / "
                f"{int(est.fillna(False).astype(bool).sum())} village(s) carry placeholder figures (column estimated; "
                "e.g. from geofupin import-osm): persons, households and relocation are not the registry's. Fix: "
                "join the registry (geofupin import-osm --registry) or fill the columns."
            )
        bar = _progress(wanted, enabled=progress)
        for name in bar:
            if hasattr(bar, "set_description"):
                bar.set_description(name)
            why = skip_reason(name, layers)
            if why is not None:
                log.warning("%s", why)
                warnings.append(why)
                continue
            t = time.perf_counter()
            if name in POLICY_STEPS and ctx.policy is None:
                ctx = dataclasses.replace(ctx, policy=run_policy(ctx))
            result = step_function(name)(ctx)
            timings[name] = time.perf_counter() - t
            warnings.extend(result.warnings)
            ctx = dataclasses.replace(ctx, results={**ctx.results, name: result})
    # steps and the modules they call also log their warnings: keep each message once, in order
    return RunOutput(ctx=ctx, timings_s=timings, warnings=unique_warnings([*warnings, *logged]))


def unique_warnings(messages: Iterable[str]) -> tuple[str, ...]:
    """Messages in first-seen order, each once."""
    return tuple(dict.fromkeys(m.strip() for m in messages if m and m.strip()))


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def capture_warnings() -> Iterator[list[str]]:
    """Collect the WARNING messages geofupin's modules log inside the block instead of printing them.

    A run gathers every warning (step results and log records) and reports each once, at the
    end; the CLI prints that list. Messages below WARNING still reach the configured handlers.
    """
    logger = logging.getLogger("geofupin")
    collector = _Collector()

    class _Quiet(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return record.levelno < logging.WARNING or not record.name.startswith("geofupin")

    quiet = _Quiet()
    handlers = [h for h in logging.getLogger().handlers]
    for h in handlers:
        h.addFilter(quiet)
    logger.addHandler(collector)
    try:
        yield collector.messages
    finally:
        logger.removeHandler(collector)
        for h in handlers:
            h.removeFilter(quiet)


def config_warnings(scenario: Scenario) -> list[str]:
    """The warnings the scenario's own validation gives (weights not summing to 1, ...), as text."""
    import dataclasses as dc

    problems = Problems()

    def walk(obj: Any, where: str) -> None:
        if dc.is_dataclass(obj) and not isinstance(obj, type):
            for f in dc.fields(obj):
                if f.metadata.get("internal"):
                    continue
                walk(getattr(obj, f.name), f"{where}.{f.name}" if where else f.name)
            validate = getattr(obj, "validate", None)
            if callable(validate):
                validate(where, problems)
        elif isinstance(obj, (tuple, list)):
            for i, item in enumerate(obj):
                walk(item, f"{where}[{i}]")

    walk(scenario, "")
    return [str(p) for p in problems.warnings]


def preview(scenario: Scenario, layers: Layers) -> tuple[tuple[str, ...], list[str]]:
    """Run every step of the scenario without writing: (warnings ``run`` will print, errors that would stop it).

    ``geofupin check`` reports these, so it shows everything ``run`` warns about and ends with
    the same counts.
    """
    from .errors import GeofupinError

    try:
        out = run(scenario, layers=layers)
    except GeofupinError as exc:
        return (), [str(exc)]
    return out.warnings, []


def check_inputs(scenario: Scenario | None, problems: Problems) -> Layers | None:
    """What ``geofupin check`` does after loading a scenario: read its inputs and preview its run.

    Every problem goes into ``problems`` (the inputs' errors and warnings, then the warnings
    ``run`` will print and the errors that would stop it); nothing is written.

    Returns
    -------
    The layers as read, or ``None`` when they cannot be (the problems say why).
    """
    from .errors import GeofupinError, ProblemsError

    if scenario is None:
        return None
    layers = None
    try:  # the same reading and checks as run: layers, DEM and policy file
        with capture_warnings():  # they are in `problems`
            layers = load_inputs(scenario, problems=problems)
    except ProblemsError as exc:
        seen = set(problems)
        problems.extend(p for p in exc.problems if p not in seen)
    except GeofupinError as exc:  # a single stop (e.g. the layers' CRS): still list the other problems
        message, _, fix = str(exc).partition(" Fix: ")
        problems.add("layers", message, fix)
    if layers is not None and not problems.errors:
        # run the steps without writing: every warning `run` will print, and errors that would stop it
        known = {str(p) for p in problems.warnings} | {p.message for p in problems.warnings}
        run_warnings, run_errors = preview(scenario, layers)
        for w in run_warnings:
            if w not in known:
                problems.add("run", w.removeprefix("warning: "), "", severity="warning")
        for e in run_errors:
            problems.add("run", e, "")  # the message names its fix
    return layers


def key_figures(out: RunOutput) -> dict[str, Any]:
    """The figures a run ends with: persons placed and unserved, sites used of those passing,
    the budget (万元), the slowest village-to-site trip, the policy and the warning count.

    Missing steps give ``None`` for their figures.
    """
    res = out.ctx.results
    alloc = res["allocate"].summary if "allocate" in res else {}
    site = res["site"].summary if "site" in res else {}
    plan = res["plan"].summary if "plan" in res else {}
    fig: dict[str, Any] = {
        "relocating_persons": alloc.get("relocating_persons"),
        "placed_persons": alloc.get("served_persons"),
        "unserved_persons": alloc.get("unserved_persons"),
        "sites_used": alloc.get("open_sites"),
        "sites_passed": site.get("passed"),
        "candidates": site.get("candidates"),
        "budget_wan_yuan": None if "budget_total_yuan" not in plan else round(plan["budget_total_yuan"] / 1e4, 2),
        "policy": plan.get("policy_source"),
        "slowest_min": None,
        "slowest_village": None,
        "slowest_site": None,
        "warnings": len(out.warnings),
        "placement": placement_figures(alloc.get("placement"), plan.get("budget_by_mode_yuan")),
    }
    a = out.ctx.table("assignment")
    if a is not None and len(a) and "time_min" in a:
        t = pd.to_numeric(a["time_min"], errors="coerce").reset_index(drop=True)
        if t.notna().any():
            i = int(t.idxmax())
            fig["slowest_min"] = round(float(t.iloc[i]), 1)
            fig["slowest_village"] = str(a["name"].iloc[i]) if "name" in a else str(a["village_id"].iloc[i])
            fig["slowest_site"] = str(a["site_id"].iloc[i])
    return fig


def placement_figures(
    modes: Mapping[str, Mapping[str, Any]] | None, budget_yuan: Mapping[str, float] | None
) -> dict[str, dict[str, Any]] | None:
    """Households, persons and budget (万元) per placement mode (安置方式), from the allocate and plan summaries."""
    if not modes:
        return None
    from .vocabulary import PLACEMENT_MODE_ZH

    out: dict[str, dict[str, Any]] = {}
    for mode, m in modes.items():
        yuan = None if budget_yuan is None else float(budget_yuan.get(mode, 0.0))
        out[mode] = {
            "mode_zh": PLACEMENT_MODE_ZH.get(mode, mode),
            "households": m.get("households"),
            "persons": m.get("persons"),
            "budget_wan_yuan": None if yuan is None else round(yuan / 1e4, 2),
        }
    return out


def key_figures_text(fig: Mapping[str, Any]) -> list[str]:
    """The key figures as lines, Chinese then English (what ``geofupin run`` prints last)."""

    def n(v: Any) -> str:
        return "—" if v is None else f"{v:,}" if isinstance(v, int) else f"{v:,.2f}" if isinstance(v, float) else str(v)

    lines = []
    if fig.get("relocating_persons") is not None:
        lines.append(
            f"安置 {n(fig['placed_persons'])} 人，未安置 {n(fig['unserved_persons'])} 人（共搬迁 "
            f"{n(fig['relocating_persons'])} 人） / placed {n(fig['placed_persons'])} persons, unserved "
            f"{n(fig['unserved_persons'])} (of {n(fig['relocating_persons'])} relocating)"
        )
    if fig.get("sites_passed") is not None:
        lines.append(
            f"使用安置点 {n(fig['sites_used'])} 个（通过筛选 {n(fig['sites_passed'])} 个，"
            f"候选 {n(fig['candidates'])} 个）"
            f" / sites used {n(fig['sites_used'])} of {n(fig['sites_passed'])} passing "
            f"({n(fig['candidates'])} candidates)"
        )
    if fig.get("budget_wan_yuan") is not None:
        lines.append(
            f"补助预算 {fig['budget_wan_yuan']:,.2f} 万元 / subsidy budget {fig['budget_wan_yuan']:,.2f} "
            f"10k yuan (万元); {n(fig.get('policy'))}"
        )
    modes = {k: v for k, v in (fig.get("placement") or {}).items() if v.get("households")}
    if len(modes) > 1:  # more than central placement: one line of every mode
        parts_zh, parts_en = [], []
        for mode, v in modes.items():
            money = "" if v.get("budget_wan_yuan") is None else f" {v['budget_wan_yuan']:,.2f} 万元"
            parts_zh.append(f"{v['mode_zh']} {n(v['households'])} 户 {n(v['persons'])} 人{money}")
            parts_en.append(f"{mode} {n(v['households'])} hh {n(v['persons'])} persons{money}")
        lines.append(f"安置方式:{'；'.join(parts_zh)} / placement: {'; '.join(parts_en)}")
    if fig.get("slowest_min") is not None:
        lines.append(
            f"最远搬迁行程 {fig['slowest_min']:.1f} 分钟（{fig['slowest_village']} → {fig['slowest_site']}） / "
            f"slowest access {fig['slowest_min']:.1f} min ({fig['slowest_village']} -> {fig['slowest_site']})"
        )
    lines.append(f"警告 {fig['warnings']} 条 / {fig['warnings']} warning(s)")
    return lines


def skip_reason(step: str, layers: Layers) -> str | None:
    """Why a step cannot run on these layers (it is skipped with this warning), or ``None``."""
    if step == "access" and layers.roads is None:
        return (
            "可达性分析已跳过:没有道路图层 / access skipped: no roads layer (travel times fall back to straight lines)."
        )
    if step == "allocate":
        moving = pd.to_numeric(layers.villages["relocate_persons"], errors="coerce").fillna(0)
        if not (moving > 0).any():
            return "搬迁分配已跳过:没有搬迁人口 / allocate skipped: no village has relocate_persons > 0."
    return None


def _progress(items: list[str], *, enabled: bool) -> Any:
    if not enabled or not items:
        return items
    from tqdm import tqdm

    return tqdm(items, unit="step", leave=False)


# ----------------------------------------------------------------------------- outputs
def result_layers(out: RunOutput) -> dict[str, gpd.GeoDataFrame]:
    """Input layers as used (prefixed ``input_``) and every step's result layers."""
    layers: dict[str, gpd.GeoDataFrame] = {f"input_{k}": v for k, v in out.ctx.layers.present().items()}
    for res in out.ctx.results.values():
        layers.update(res.layers)
    return layers


def result_tables(out: RunOutput) -> dict[str, pd.DataFrame]:
    """Every step's result tables, as computed (the OD table in full; see :func:`written_tables`)."""
    tables: dict[str, pd.DataFrame] = {}
    for res in out.ctx.results.values():
        tables.update(res.tables)
    return tables


#: Tables that are never put in the workbook (they grow with villages x sites): CSV/Parquet only.
NOT_IN_WORKBOOK: tuple[str, ...] = ("od_village_site",)


def od_k_nearest(od: pd.DataFrame, villages: pd.DataFrame, k: int | None) -> pd.DataFrame:
    """The OD rows of relocating villages (``relocate_persons > 0``), each with its ``k`` quickest sites.

    Ties in ``time_min`` go to the shorter ``dist_m``, then the smaller ``site_id``; ``k=None``
    keeps every site of the relocating villages. Rows keep the OD table's order.
    """
    persons = pd.to_numeric(villages["relocate_persons"], errors="coerce").fillna(0)
    moving = set(villages.loc[persons > 0, "village_id"].astype(str))
    kept = od[od["village_id"].astype(str).isin(moving)]
    if k is None:
        return kept
    order = kept.assign(_v=kept["village_id"].astype(str), _s=kept["site_id"].astype(str))
    order = order.sort_values(["_v", "time_min", "dist_m", "_s"], kind="stable")
    top = order.groupby("_v", sort=False).head(k).index
    return kept.loc[kept.index.isin(top)]


def written_tables(out: RunOutput) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """The tables as written and what ``run.json`` records of the OD table's trimming.

    The OD table is cut to relocating villages and their ``outputs.od_k_nearest`` quickest sites
    (``all``/``null``: every pair of those villages); the steps keep using the full table.
    """
    tables = result_tables(out)
    od = tables.get("od_village_site")
    if od is None:
        return tables, {}
    option = out.ctx.scenario.outputs.od_k_nearest
    k = option if isinstance(option, int) else None
    trimmed = od_k_nearest(od, out.ctx.layers.villages, k)
    record = {"k_nearest": option, "rows_written": len(trimmed), "rows_full": len(od)}
    return {**tables, "od_village_site": trimmed}, record


def input_files(scenario: Scenario) -> dict[str, Path]:
    """Every file (or File Geodatabase folder) a scenario reads: itself, its layers, the DEM and the policy file.

    Keyed by kind; the sources of a kind given as a list are ``<kind>[0]``, ``<kind>[1]``...
    """
    files: dict[str, Path] = {}
    if scenario.path is not None:
        files["scenario"] = scenario.path
    for key, src in _keyed_sources(scenario):
        if src.path is not None and not gio.is_url(src.path):  # database sources are hashed by input_hashes
            files[key] = Path(src.path)
    if scenario.layers.dem is not None:
        files["dem"] = scenario.layers.dem
    policy_file = getattr(scenario.policy, "file", None)
    if policy_file is not None:
        files["policy"] = Path(policy_file)
    roster = getattr(scenario, "roster", None)
    if roster is not None:
        files["roster"] = roster.path
    return files


def _keyed_sources(scenario: Scenario) -> list[tuple[str, Any]]:
    """``(key, source)`` of every layer source: the kind, or ``<kind>[i]`` for the sources of a list."""
    out = []
    for kind, srcs in scenario.layers.all_sources().items():
        listed = isinstance(getattr(scenario.layers, kind), tuple)
        out += [(f"{kind}[{i}]" if listed else kind, src) for i, src in enumerate(srcs)]
    return out


def input_hashes(scenario: Scenario) -> dict[str, str]:
    """SHA-256 of the scenario file and of every input (see :func:`geofupin.io.source_sha256`): files by their
    bytes, a Shapefile with its .shx/.dbf/.prj/.cpg, File Geodatabase folders by their tree, database sources by
    their connection string without password, layer and filter."""
    sources = dict(_keyed_sources(scenario))
    out = {
        k: gio.source_sha256(p) if k in sources else gio.file_sha256(p)  # a Shapefile counts with its .dbf, .prj
        for k, p in input_files(scenario).items()
        if p.exists()
    }
    for key, src in sources.items():
        if gio.is_url(src.path):
            out[key] = gio.source_sha256(src.path, layer=src.layer, where=src.where)
        elif src.url is not None:  # a PostGIS source: its URL without password and its table or query
            out[key] = dbio.source_sha256(src.url, table=src.table, sql=src.sql)
    return out


def versions() -> dict[str, str]:
    """Versions of Python, geofupin, GDAL and the main dependencies."""
    out = {"python": platform.python_version(), "geofupin": __version__}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    try:
        import pyogrio

        out["gdal"] = pyogrio.__gdal_version_string__
    except ImportError:  # pragma: no cover
        pass
    return out


def check_output_dir(scenario: Scenario, out_dir: Path, *, overwrite: bool = False, postgis: bool = True) -> Path:
    """Check, before computing, that :func:`write_outputs` will be allowed to write ``out_dir``.

    The folder must be new, empty or geofupin's own (its marker file lists every file in it;
    with ``overwrite``); it must not be the root, the home or the current folder, nor hold an
    input of the scenario; its parent must be writable. See :func:`geofupin.io.check_output_dir`.
    With ``postgis`` (what a full run writes), the ``outputs.postgis`` schema is checked too
    (:func:`geofupin.dbio.check_schema`: reachable, geofupin's or new, ``overwrite`` to replace it).

    Raises
    ------
    UnsafeOutputError, OutputExistsError, OutputError
        As :func:`geofupin.io.check_output_dir`, and for the schema as :func:`geofupin.dbio.check_schema`
        (a :class:`~geofupin.errors.DataError` when the database cannot be reached).
    """
    target = gio.check_output_dir(out_dir, overwrite=overwrite, protect=input_files(scenario).values())
    pg = scenario.outputs.postgis
    if pg is not None and postgis:  # the schema too: a run that could not write it is refused before computing
        dbio.check_schema(pg.url, pg.schema, overwrite=overwrite)
    return target


def run_id(scenario: Scenario, inputs: Mapping[str, str] | None = None) -> str:
    """A short id of a run's inputs: SHA-256 of the resolved scenario and every input's hash (16 hex digits).

    ``inputs``: the :func:`input_hashes` of ``scenario`` when they are at hand (a run's ``run.json``), so that
    the input files are not read again.
    """
    import hashlib
    import json

    hashes = input_hashes(scenario) if inputs is None else dict(inputs)
    blob = json.dumps({"scenario": scenario.resolved(), "inputs": hashes}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def document_files(out: RunOutput, formats: Iterable[str] = ("docx", "pdf")) -> dict[str, bytes]:
    """The plan document of a run in ``formats``: ``plan.docx``, ``plan.pdf`` (when it can be drawn)."""
    from .document import plan_document
    from .errors import MissingDependencyError

    formats = tuple(formats)
    if not formats:
        return {}
    png = next((c for n, c in out.ctx.artifact("map", "files", {}).items() if n.endswith(".png")), None)
    sc = out.ctx.scenario
    kw: dict[str, Any] = {"run_id": run_id(sc), "inputs_sha256": input_hashes(sc), "map_png": png}
    files: dict[str, bytes] = {}
    if "docx" in formats:
        files["plan.docx"] = plan_document(out.ctx, **kw)
    if "pdf" in formats:
        try:
            files["plan.pdf"] = plan_document(out.ctx, **kw, fmt="pdf")
        except MissingDependencyError as exc:  # matplotlib (extra 'static') or a CJK font missing: no PDF
            log.warning("%s", exc)
    return files


def write_document(out: RunOutput, out_dir: Path, *, overwrite: bool = False) -> dict[str, Path]:
    """Write only the plan document (``plan.docx``, ``plan.pdf``) and ``run.json`` into ``out_dir`` atomically."""
    written: dict[str, Path] = {}
    sc = out.ctx.scenario
    with gio.atomic_dir(out_dir, overwrite=overwrite, protect=input_files(sc).values()) as tmp:
        for name, content in document_files(out).items():
            gio.write_bytes(tmp / name, content)
            written[name] = out_dir / name
        record = {
            "geofupin": __version__,
            "scenario": sc.name,
            "run_id": run_id(sc),
            "inputs_sha256": input_hashes(sc),
            "scenario_resolved": sc.resolved(),
            "versions": versions(),
            "steps": list(out.ctx.results),
            "warnings": list(out.warnings),
            "outputs_sha256": {k: gio.file_sha256(tmp / k) for k in written},
        }
        gio.write_json(tmp / "run.json", record)
        written["run.json"] = out_dir / "run.json"
    return written


#: The QGIS project written beside ``results.gpkg``.
QGIS_PROJECT = "results.qgz"


def unserved_village_ids(out: RunOutput) -> list[str]:
    """Ids of relocating villages the allocation left without a site (the ``unserved`` table)."""
    unserved = result_tables(out).get("unserved")
    if unserved is None or "village_id" not in unserved.columns:
        return []
    return sorted({str(v) for v in unserved["village_id"].dropna()})


def write_gis(out: RunOutput, gis: Mapping[str, gio.OutputLayer], folder: Path) -> None:
    """Write ``results.gpkg`` (one geometry type per layer, QGIS default styles) and the QGIS project beside it."""
    from . import qgis

    unserved = unserved_village_ids(out)
    gio.write_layers(  # the layers as split already (one geometry type each), not split again
        gis,
        folder / "results.gpkg",
        styles=qgis.layer_styles(gis, unserved=unserved),
    )
    title = out.ctx.scenario.title.zh or out.ctx.scenario.name
    project = qgis.project_qgz(gis, crs=out.ctx.layers.crs, title=title, gpkg="results.gpkg", unserved=unserved)
    gio.write_bytes(folder / QGIS_PROJECT, project)


def write_outputs(
    out: RunOutput, out_dir: Path, *, overwrite: bool = False, maps_only: bool = False
) -> dict[str, Path]:
    """Write every output of a run into ``out_dir`` atomically (all or nothing).

    Parameters
    ----------
    out
        The run's results.
    out_dir
        The output folder; replaced as a whole.
    overwrite
        Replace an existing folder.
    maps_only
        Write only the maps (``index.html``, printable maps) and ``run.json``: what a public
        notice publishes, without household-level tables or layers.

    Raises
    ------
    OutputExistsError
        When ``out_dir`` exists and ``overwrite`` is false.
    UnsafeOutputError
        When ``out_dir`` is refused whatever ``overwrite`` says (see :func:`check_output_dir`).
    OutputError
        When a write fails (disk full, no permission); the previous output stays as it was.
    """
    scenario = out.ctx.scenario
    written: dict[str, Path] = {}
    timings = dict(out.timings_s)
    tables, od_record = ({}, {}) if maps_only else written_tables(out)
    protect = input_files(scenario).values()
    with gio.atomic_dir(out_dir, overwrite=overwrite, protect=protect, kind="map" if maps_only else "run") as tmp:
        t = time.perf_counter()
        gis = {} if maps_only else gio.split_geometry_families(result_layers(out))
        if not maps_only:
            write_gis(out, gis, tmp)
            written["results.gpkg"] = out_dir / "results.gpkg"
            written[QGIS_PROJECT] = out_dir / QGIS_PROJECT
        if tables and "csv" in scenario.outputs.tables:
            for name, df in tables.items():
                gio.write_csv(df, tmp / "tables" / f"{name}.csv")
                written[f"tables/{name}.csv"] = out_dir / "tables" / f"{name}.csv"
        if "od_village_site" in tables and gio.parquet_available():
            gio.write_parquet(tables["od_village_site"], tmp / "tables" / "od_village_site.parquet")
            written["tables/od_village_site.parquet"] = out_dir / "tables" / "od_village_site.parquet"
        if tables and "xlsx" in scenario.outputs.tables:
            from .report import workbook_sheet

            sheets, titles = [], set()
            for name, df in tables.items():
                if name in NOT_IN_WORKBOOK:
                    continue
                sh = workbook_sheet(df, name)
                if sh.title in titles:  # two tables with one title: the second says which table it is
                    sh = dataclasses.replace(sh, title=f"{sh.title}({name})")
                titles.add(sh.title)
                sheets.append(sh)
            gio.write_xlsx(  # Chinese sheet titles (unique: the report's titles are), bold frozen headers
                {sh.title: sh.frame for sh in sheets},
                tmp / "tables.xlsx",
                headers_en={sh.title: sh.headers_en for sh in sheets},
                number_formats={sh.title: sh.number_formats for sh in sheets},
                over_limit="split",
            )
            written["tables.xlsx"] = out_dir / "tables.xlsx"
        roster = out.ctx.results.get("roster")
        if not maps_only and roster is not None and "roster_notice" in roster.tables:
            from .notice import write_roster_files  # 公示名单 and 直补到户清册

            title = scenario.title.zh
            for name in write_roster_files(roster.tables, roster.artifacts["config"], tmp / "roster", title=title):
                written[f"roster/{name}"] = out_dir / "roster" / name
        timings["write_tables"] = time.perf_counter() - t
        for name, content in out.ctx.artifact("map", "files", {}).items():
            if isinstance(content, str):
                gio.write_text(tmp / name, content)
            else:
                gio.write_bytes(tmp / name, content)
            written[name] = out_dir / name
        if not maps_only:  # the plan document (规划文本), after the maps it shows
            for name, content in document_files(out, scenario.outputs.document).items():
                gio.write_bytes(tmp / name, content)
                written[name] = out_dir / name
        postgis = None if maps_only else write_postgis(out, tables, overwrite=overwrite)  # last: the folder
        if postgis is not None:  # is published only after the schema was committed
            timings["write_postgis"] = postgis.pop("seconds")
        record = {
            "geofupin": __version__,
            "scenario": scenario.name,
            "title": {"zh": scenario.title.zh, "en": scenario.title.en},
            "crs": out.ctx.layers.crs.to_string(),
            "crs_note": out.ctx.layers.crs_note,
            "inputs_sha256": input_hashes(scenario),
            "scenario_resolved": scenario.resolved(),
            "versions": versions(),
            "steps": list(out.ctx.results),
            "timings_s": {k: round(v, 3) for k, v in timings.items()},
            "summary": {k: dict(v.summary) for k, v in out.ctx.results.items()},
            "layers": {k: len(v.frame) for k, v in gis.items()},
            "tables": {k: len(v) for k, v in tables.items()},
            "od_village_site": od_record,
            "warnings": list(out.warnings),
            "key_figures": key_figures(out),
            "outputs_sha256": {k: gio.file_sha256(tmp / k) for k in written},
        }
        if postgis is not None:
            record["postgis"] = postgis
        gio.write_json(tmp / "run.json", record)
        written["run.json"] = out_dir / "run.json"
    return written


def write_postgis(
    out: RunOutput, tables: Mapping[str, pd.DataFrame], *, overwrite: bool = False
) -> dict[str, Any] | None:
    """Write the run's result layers and ``tables`` into ``outputs.postgis`` (atomically; see
    :func:`geofupin.dbio.write_schema`); ``None`` when the scenario has no ``outputs.postgis``.

    Returns what ``run.json`` records: the database (without password), the schema, the tables, the seconds taken.
    """
    sc = out.ctx.scenario
    pg = sc.outputs.postgis
    if pg is None:
        return None
    t = time.perf_counter()
    run = {
        "geofupin": __version__,
        "scenario": sc.name,
        "run_id": run_id(sc),
        "crs": out.ctx.layers.crs.to_string(),
        "inputs_sha256": input_hashes(sc),
        "key_figures": key_figures(out),
    }
    layers = {k: v.frame for k, v in gio.split_geometry_families(result_layers(out)).items()}  # as in results.gpkg
    names = dbio.write_schema(pg.url, pg.schema, layers=layers, tables=tables, run=run, overwrite=overwrite)
    return {"url": dbio.redact_url(pg.url), "schema": pg.schema, "tables": names, "seconds": time.perf_counter() - t}
