"""The ``geofupin`` command: parse, load, call the library, write. Nothing else lives here."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import click

from . import __version__
from .errors import GeofupinError, Problems

if TYPE_CHECKING:
    from .scenario import Scenario

log = logging.getLogger("geofupin")


def _setup_logging(verbose: int, quiet: int) -> None:
    level = logging.WARNING - 10 * verbose + 10 * quiet
    logging.basicConfig(level=max(level, logging.DEBUG), format="%(levelname)s %(name)s: %(message)s")


def _fail(exc: Exception) -> None:
    click.echo(f"错误 error: {exc}", err=True)
    sys.exit(1)


#: What an interrupted command says (Ctrl-C): outputs are published whole, so none is left half-written.
INTERRUPTED = (
    "已中断 interrupted. 输出文件夹只在完整写出后才发布,中断不会留下写了一半的文件夹;原有的文件夹保持原样 / "
    "an output folder is published only once complete: none is left half-written, an existing one stays as it was."
)


def _handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn geofupin errors into a readable message and exit code 1 (tracebacks with -v); Ctrl-C exits 130."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except GeofupinError as exc:
            if logging.getLogger().isEnabledFor(logging.DEBUG):
                raise
            _fail(exc)
        except KeyboardInterrupt:
            if logging.getLogger().isEnabledFor(logging.DEBUG):
                raise
            click.echo(INTERRUPTED, err=True)
            sys.exit(130)

    return wrapper


scenario_arg = click.argument("scenario", type=click.Path(exists=True, dir_okay=False, path_type=Path))
out_opt = click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output folder (default: the scenario's outputs.dir, or maps/<name>).",
)
workers_opt = click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=None,
    help="Region scenarios: worker processes of the local dask cluster, one county a task "
    "(run: one per CPU, at most one per county; check: 0; 0: in this process, one county after the other).",
)
scheduler_opt = click.option(
    "--scheduler",
    default=None,
    metavar="ADDRESS",
    help="Region scenarios: run the counties on an existing dask.distributed cluster (e.g. tcp://10.0.0.5:8786).",
)
memory_limit_opt = click.option(
    "--memory-limit",
    default=None,
    metavar="SIZE",
    help="Region scenarios: memory of each local worker, e.g. 4GiB (default: the region's cluster.memory_limit, "
    "else 'auto' = the machine's memory / workers; 'none': no limit). A worker past 95 % of it is restarted and "
    "its county retried (cluster.retries), then reported as failed.",
)
overwrite_opt = click.option(
    "--overwrite",
    is_flag=True,
    help="Replace an existing output folder that geofupin wrote (never the home, current or an input's folder).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="geofupin")
@click.option("-v", "--verbose", count=True, help="More messages (-vv for debug).")
@click.option("-q", "--quiet", count=True, help="Fewer messages; no progress bars.")
@click.pass_context
def main(ctx: click.Context, verbose: int, quiet: int) -> None:
    """geofupin: 扶贫易地搬迁规划 — plan poverty-alleviation resettlement from spatial layers."""
    _setup_logging(verbose, quiet)
    ctx.obj = {"quiet": quiet > 0}


def _run_and_write(
    ctx: click.Context,
    scenario_path: Path | Scenario,
    out: Path | None,
    overwrite: bool,
    steps: list[str] | None,
    *,
    maps_only: bool = False,
) -> None:
    """Load (unless given) and run a scenario, write its outputs, report what was written."""
    from . import pipeline, scenario

    with pipeline.capture_warnings():  # the run reports the scenario's warnings itself, once
        sc = scenario_path if isinstance(scenario_path, scenario.Scenario) else scenario.load(scenario_path)
    quiet = ctx.obj.get("quiet", False)
    out_dir = pipeline.check_output_dir(  # before computing
        sc, out or sc.output_dir(), overwrite=overwrite, postgis=not maps_only
    )
    result = pipeline.run(sc, steps=steps, progress=not quiet)
    written = pipeline.write_outputs(result, out_dir, overwrite=overwrite, maps_only=maps_only)
    if not quiet:
        for w in result.warnings:
            click.echo(f"警告 warning: {w}", err=True)
        click.echo(f"已写出 wrote {len(written)} file(s) to {out_dir}:")
        for name in written:
            click.echo(f"  {name}")
        steps_run = ", ".join(result.ctx.results) or "none"
        total = sum(result.timings_s.values())
        click.echo(f"steps: {steps_run}; {total:.1f} s")
        click.echo("主要结果 key figures:")
        for line in pipeline.key_figures_text(pipeline.key_figures(result)):
            click.echo(f"  {line}")


@main.command()
@scenario_arg
@out_opt
@overwrite_opt
@workers_opt
@scheduler_opt
@memory_limit_opt
@click.pass_context
@_handle_errors
def run(
    ctx: click.Context,
    scenario: Path,
    out: Path | None,
    overwrite: bool,
    workers: int | None,
    scheduler: str | None,
    memory_limit: str | None,
) -> None:
    """Run every step of SCENARIO and write maps, tables, results.gpkg and run.json.

    A region scenario (top-level key 'region') runs each of its counties as one task on a
    dask.distributed cluster and writes each county's folder plus the region's totals.
    """
    from . import region as region_mod

    if region_mod.is_region_file(scenario):
        _run_region(ctx, scenario, out, overwrite, workers, scheduler, memory_limit)
        return
    if workers is not None or scheduler is not None or memory_limit is not None:
        click.echo(
            "警告 warning: --workers/--scheduler/--memory-limit apply to region scenarios only; ignored.", err=True
        )
    _run_and_write(ctx, scenario, out, overwrite, None)


def _memory_limit(text: str | None) -> str | None:
    """Check ``--memory-limit`` as the region key ``cluster.memory_limit`` is checked."""
    if text is None:
        return None
    from .config.region import check_memory_limit

    problems = Problems()
    check_memory_limit(text, "--memory-limit", problems)
    if problems.errors:
        raise click.BadParameter(
            str(problems.errors[0]).removeprefix("error: --memory-limit: "), param_hint="'--memory-limit'"
        )
    return text


def _run_region(
    ctx: click.Context,
    path: Path,
    out: Path | None,
    overwrite: bool,
    workers: int | None,
    scheduler: str | None,
    memory_limit: str | None,
) -> None:
    """Run a region scenario, print each county's outcome and the totals; exit 1 when a county failed."""
    import os

    from . import region as region_mod

    reg = region_mod.load(path)
    if workers is None:
        n = len(reg.entries()) or (reg.tiles.rows * reg.tiles.cols if reg.tiles else 1)
        workers = max(1, min(os.cpu_count() or 1, n))
    result = region_mod.run(
        reg,
        out_dir=out,
        overwrite=overwrite,
        workers=workers,
        scheduler=scheduler,
        memory_limit=_memory_limit(memory_limit),
    )
    quiet = ctx.obj.get("quiet", False)
    t = result.record["totals"]
    if not quiet:
        moved = False
        for r in result.record["counties"]:  # after the cross-county pass, as the region's totals
            if r["status"] == "ok":
                across = ""
                if r["moved_out_persons"] or r["moved_in_persons"]:
                    moved = True
                    across = f"(含跨县迁出 {r['moved_out_persons']:,} 人、迁入 {r['moved_in_persons']:,} 人 *)"
                click.echo(
                    f"  {r['name']}: 安置 {r['placed_persons']:,} 人,未安置 {r['unserved_persons']:,} 人{across},"
                    f"补助 {r['budget_total_yuan'] / 1e4:,.2f} 万元 ({r['wall_s']:.1f} s)"
                )
        if moved:
            click.echo(
                "  * 计入跨县安置;该县文件夹为第一轮(本县内)结果 / counts the cross-county moves; "
                "the county's folder holds its own first pass"
            )
        click.echo(f"已写出 wrote the region to {result.out_dir} ({len(result.counties)} counties, {workers=})")
        click.echo(
            f"区域合计 region: 安置 {t['placed_persons']:,} 人,未安置 {t['unserved_persons']:,} 人,"
            f"补助 {t['budget_wan_yuan']:,.2f} 万元; {result.timings_s['total']:.1f} s"
        )
    for c in result.failed:
        click.echo(f"错误 error: county {c.name} failed: {c.error}", err=True)
    if result.failed:
        click.echo(
            f"{len(result.counties)} 个县中 {len(result.failed)} 个未完成,未计入合计(见 region.json) / "
            f"{len(result.failed)} of {len(result.counties)} counties failed, left out of the totals "
            "(see region.json).",
            err=True,
        )
        sys.exit(1)


def _step_command(name: str, help_text: str) -> None:
    @main.command(name=name, help=help_text)
    @scenario_arg
    @out_opt
    @overwrite_opt
    @click.pass_context
    @_handle_errors
    def cmd(ctx: click.Context, scenario: Path, out: Path | None, overwrite: bool) -> None:
        from . import pipeline

        needed = [s for s in pipeline.STEP_ORDER[: pipeline.STEP_ORDER.index(name) + 1] if s in pipeline.STEPS]
        if name not in pipeline.STEPS:
            raise GeofupinError(f"the '{name}' step is not available in this installation.")
        _run_and_write(ctx, scenario, out, overwrite, needed)


_step_command("access", "Travel times to facilities, OD matrix, isochrones and coverage (可达性分析).")
_step_command("site", "Screen and score candidate sites, with reasons and sensitivity (安置点选址).")
_step_command("allocate", "Assign relocating villages and groups to sites under capacity (搬迁分配).")
_step_command("plan", "Infrastructure plans, subsidy budgets, disbursement and acceptance forms (规划与预算).")


@main.command("map")
@scenario_arg
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output folder (default: maps/<name>-map, or maps/<name>-public with --public).",
)
@overwrite_opt
@click.option(
    "--basemap",
    type=click.Choice(["none", "osm", "tianditu", "gaode"]),
    default=None,
    help="Basemap tiles (default: the scenario's map.basemap; 'none' works offline).",
)
@click.option("--public", is_flag=True, help="Public-notice mode (公示): village totals only, no household details.")
@click.option(
    "--static",
    "static",
    multiple=True,
    type=click.Choice(["png", "pdf"]),
    help="Also write a printable map (repeat for both).",
)
@click.option("--paper", type=click.Choice(["A4", "A3"]), default=None, help="Paper size of printable maps.")
@click.pass_context
@_handle_errors
def map_command(
    ctx: click.Context,
    scenario: Path,
    out: Path | None,
    overwrite: bool,
    basemap: str | None,
    public: bool,
    static: tuple[str, ...],
    paper: str | None,
) -> None:
    """Run SCENARIO and publish only its maps (index.html, optional PNG/PDF)."""
    import dataclasses

    from . import scenario as scenario_mod
    from .config.maps import Basemap
    from .scenario import StaticFormat

    sc = scenario_mod.load(scenario)
    m = dataclasses.replace(sc.map, basemap=cast(Basemap, basemap or sc.map.basemap), public=public or sc.map.public)
    o = dataclasses.replace(
        sc.outputs,
        static_maps=cast(tuple[StaticFormat, ...], tuple(static) or sc.outputs.static_maps),
        paper=cast(Literal["A4", "A3"], paper or sc.outputs.paper),
    )
    sc = dataclasses.replace(sc, map=m, outputs=o, steps=(*(s for s in sc.steps if s != "map"), "map"))
    base = sc.output_dir()
    out_dir = out or base.with_name(f"{base.name}-{'public' if m.public else 'map'}")
    _run_and_write(ctx, sc, out_dir, overwrite, None, maps_only=True)


@main.command()
@scenario_arg
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output folder (default: maps/<name>-report).",
)
@overwrite_opt
@click.pass_context
@_handle_errors
def report(ctx: click.Context, scenario: Path, out: Path | None, overwrite: bool) -> None:
    """Run SCENARIO and write the plan document (规划文本): plan.docx, plan.pdf and run.json."""
    from . import pipeline
    from . import scenario as scenario_mod

    sc = scenario_mod.load(scenario)
    quiet = ctx.obj.get("quiet", False)
    result = pipeline.run(sc, progress=not quiet)
    base = sc.output_dir()
    out_dir = out or base.with_name(f"{base.name}-report")
    written = pipeline.write_document(result, out_dir, overwrite=overwrite)
    if not quiet:
        for w in result.warnings:
            click.echo(f"警告 warning: {w}", err=True)
        click.echo(f"已写出 wrote {len(written)} file(s) to {out_dir}:")
        for name in written:
            click.echo(f"  {name}")


@main.command()
@click.argument("scenario_a", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("scenario_b", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output folder (default: maps/compare-<A>-<B>).",
)
@overwrite_opt
@click.option("--top-k", type=int, default=5, show_default=True, help="How many top sites to compare.")
@click.pass_context
@_handle_errors
def compare(
    ctx: click.Context, scenario_a: Path, scenario_b: Path, out: Path | None, overwrite: bool, top_k: int
) -> None:
    """Run two scenarios and publish them side by side with a table of what differs."""
    from . import io as gio
    from . import pipeline
    from . import scenario as scenario_mod
    from .maps import map_config, render_html
    from .maps.compare import build_compare_map, compare_table

    quiet = ctx.obj.get("quiet", False)
    sca, scb = scenario_mod.load(scenario_a), scenario_mod.load(scenario_b)
    out_dir = out or sca.output_dir().with_name(f"compare-{sca.name}-{scb.name}")
    protect = [*pipeline.input_files(sca).values(), *pipeline.input_files(scb).values()]
    out_dir = gio.check_output_dir(out_dir, overwrite=overwrite, protect=protect)  # before computing
    runs = [pipeline.run(sc, progress=not quiet) for sc in (sca, scb)]
    a, b = (r.ctx for r in runs)
    labels = (a.scenario.name, b.scenario.name)
    if labels[0] == labels[1]:
        labels = (f"{labels[0]} (A)", f"{labels[1]} (B)")
    dual = build_compare_map(a, b, config=map_config(a), labels=labels, top_k=top_k)
    table = compare_table(a, b, labels=labels, top_k=top_k)
    with gio.atomic_dir(out_dir, overwrite=overwrite, protect=protect, kind="compare") as tmp:
        gio.write_text(tmp / "index.html", render_html(dual))
        gio.write_csv(table, tmp / "compare.csv")
    if not quiet:
        click.echo(table.to_string(index=False))
        click.echo(f"已写出 wrote index.html and compare.csv to {out_dir}")


@main.command("import-osm")
@click.argument("pbf", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for the GeoPackage layers and scenario.yaml.",
)
@click.option(
    "--dem",
    "dem",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="DEM GeoTIFF of the region (slope, elevation); referenced by the scenario, not copied.",
)
@click.option(
    "--registry",
    "registry",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Village registry (CSV/XLSX, Chinese or English headers) whose figures replace the placeholders.",
)
@click.option(
    "--registry-encoding",
    default=None,
    help="Text encoding of a CSV registry (e.g. GBK; default UTF-8).",
)
@click.option(
    "--farmland-as-basic-farmland",
    is_flag=True,
    help="Import landuse=farmland as basic_farmland constraints (OSM farmland is all cropland, not 永久基本农田).",
)
@click.option(
    "--crs",
    "crs",
    default="auto",
    show_default=True,
    help="Metric CRS of the layers ('auto': Gauss-Kruger zone in China, UTM elsewhere).",
)
@overwrite_opt
@click.pass_context
@_handle_errors
def import_osm(
    ctx: click.Context,
    pbf: Path,
    out: Path,
    dem: Path | None,
    registry: Path | None,
    registry_encoding: str | None,
    farmland_as_basic_farmland: bool,
    crs: str,
    overwrite: bool,
) -> None:
    """Turn an OpenStreetMap extract (.osm.pbf) into geofupin layers and a ready scenario.yaml
    (© OpenStreetMap contributors, ODbL)."""
    import os
    import re

    from . import io as gio
    from . import osm, pipeline

    quiet = ctx.obj.get("quiet", False)
    protect = [pbf, *(p for p in (dem, registry) if p is not None)]
    out = gio.check_output_dir(out, overwrite=overwrite, protect=protect)  # before the import
    with pipeline.capture_warnings() as logged:
        layers = osm.import_osm(
            pbf, out_crs=None if crs == "auto" else crs, farmland_as_basic_farmland=farmland_as_basic_farmland
        )
    notes = list(logged)
    unmatched = None
    if registry is not None:
        table = gio.read_table(registry, encoding=registry_encoding)
        from .layers import SCHEMAS

        aliases = {c.name: c.aliases for c in SCHEMAS["villages"].columns}
        joined = osm.join_registry(layers["villages"], table, aliases=aliases, source=registry.name)
        layers["villages"] = joined.villages
        notes += joined.warnings
        unmatched = joined.unmatched if len(joined.unmatched) else None
    v = layers["villages"]
    est = int(v["estimated"].astype(bool).sum())
    if est:
        notes.append(
            f"{est} 个村的人口为占位估计，须按建档立卡台账填写 / {est} village(s) carry placeholder figures "
            "(column estimated = true): persons from OSM population or the place type; hamlets and isolated "
            "dwellings relocate whole. Fix: join the registry with --registry."
        )
    if "constraints" not in layers:
        notes.append(
            "OSM 中没有保护区、湿地或灾害数据：未写限制区图层 / no protected areas, wetlands or hazards in the "
            "extract: no constraints layer (the constraint rules are skipped, with a warning)."
        )
    if not farmland_as_basic_farmland:
        notes.append(
            "OSM 没有永久基本农田划定：basic_farmland 为空，请向自然资源部门索取 / OSM has no legal basic-farmland "
            "(永久基本农田) designation: none imported (landuse=farmland is all cropland; "
            "--farmland-as-basic-farmland treats it as such)."
        )
    stem = re.sub(r"\.osm(\.pbf|\.bz2)?$|\.pbf$", "", pbf.name, flags=re.IGNORECASE)
    name = re.sub(r"[^\w.-]+", "-", stem).strip("-.") or "osm-region"
    dem_rel = None
    if dem is not None:
        try:
            dem_rel = os.path.relpath(dem.resolve(), out.resolve())
        except ValueError:  # another drive (Windows)
            dem_rel = str(dem.resolve())
    text = osm.scenario_text(name, layers, source=pbf.name, dem=dem_rel)
    with gio.atomic_dir(out, overwrite=overwrite, protect=protect, kind="osm-layers") as tmp:
        for kind, gdf in layers.items():
            gio.write_vector(gdf, tmp / f"{kind}.gpkg", layer=kind)
        gio.write_text(tmp / "scenario.yaml", text)
        if unmatched is not None:
            gio.write_csv(unmatched, tmp / "registry_unmatched.csv")
    if not quiet:
        for w in pipeline.unique_warnings(notes):
            click.echo(f"警告 warning: {w}", err=True)
        for kind, gdf in layers.items():
            click.echo(f"  {kind}: {len(gdf)} feature(s) -> {out / (kind + '.gpkg')}")
        click.echo(f"  scenario: {out / 'scenario.yaml'}")
        click.echo("数据来源 data: © OpenStreetMap contributors (ODbL)")
        click.echo(f"下一步 next: geofupin check {out / 'scenario.yaml'} && geofupin run {out / 'scenario.yaml'}")


@main.command("export")
@click.argument("results", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["shp", "gdb", "gpkg"]),
    required=True,
    help="shp: one Shapefile per layer (10-character field names); gdb: a File Geodatabase; gpkg: a GeoPackage.",
)
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write (replaced as a whole; with field_names.csv/json listing every field's name in the file).",
)
@click.option(
    "--encoding",
    type=click.Choice(["UTF-8", "GBK", "GB18030"], case_sensitive=False),
    default="UTF-8",
    show_default=True,
    help="Text encoding of Shapefiles (named in their .cpg): GBK for older ArcGIS (refused when a text has a "
    "character GBK lacks, such as m²), GB18030 holds every character.",
)
@overwrite_opt
@click.pass_context
@_handle_errors
def export(ctx: click.Context, results: Path, fmt: str, out: Path, encoding: str, overwrite: bool) -> None:
    """Export a run's results.gpkg (RESULTS: the file or the run folder) for ArcGIS/QGIS: one geometry type per
    layer, ArcGIS-safe field names, nothing lost (导出为 Shapefile / File Geodatabase / GeoPackage)."""
    from . import io as gio

    source = results / "results.gpkg" if results.is_dir() else results
    frames = gio.read_results(source)
    enc = {"GBK": "GBK", "GB18030": "GB18030"}.get(encoding.upper(), "UTF-8")
    with gio.atomic_dir(out, overwrite=overwrite, protect=[source], kind="export") as tmp:
        record = gio.export_layers(frames, tmp, fmt=cast(Literal["shp", "gdb", "gpkg"], fmt), encoding=enc)
    if not ctx.obj.get("quiet", False):
        renamed = sum(1 for f in record["fields"] if f["name"] != f["field"] or f["parts"])
        for name, info in record["layers"].items():
            click.echo(f"  {name}: {info['features']} feature(s), {info['geometry_type']} -> {out / info['file']}")
        click.echo(
            f"  字段名对照 field names: {out / gio.FIELD_MAP_CSV} ({renamed} field(s) renamed or continued; "
            "geofupin reads them back by their short names)"
        )


@main.command()
@scenario_arg
@workers_opt
@scheduler_opt
@memory_limit_opt
@_handle_errors
def check(scenario: Path, workers: int | None, scheduler: str | None, memory_limit: str | None) -> None:
    """Validate SCENARIO and its layers; print every problem; exit 1 on errors.

    A region scenario is checked as a whole (its counties, tiles or split, cross-county options and
    output folder), then each county as a county scenario is (in this process, or on the cluster
    with --workers/--scheduler).
    """
    from . import pipeline
    from . import region as region_mod
    from . import scenario as scenario_mod

    if region_mod.is_region_file(scenario):
        _check_region(scenario, workers or 0, scheduler, _memory_limit(memory_limit))
        return

    problems = Problems()
    # the scenario's problems, and a scenario of its sound sections to check the layers and policy with
    with pipeline.capture_warnings():  # reported below with the run's own warnings
        sc, scenario_problems = scenario_mod.load_for_check(scenario)
    problems.extend(scenario_problems)
    layers = pipeline.check_inputs(sc, problems)
    errors, warnings = problems.errors, problems.warnings
    click.echo(f"检查 check: {scenario}")
    if layers is not None:
        note = f"; {layers.crs_note}" if layers.crs_note else ""
        click.echo(f"  CRS: {layers.crs.to_string()} ({layers.crs.name}){note}")
        for kind, gdf in layers.present().items():
            click.echo(f"  {kind}: {len(gdf)} feature(s)")
            if sc is not None and len(sc.layers.all_sources().get(kind, ())) > 1 and "source" in gdf.columns:
                for label, n in gdf["source"].value_counts(sort=False).items():  # the sources of a merged layer
                    click.echo(f"    {label}: {n}")
        if layers.dem is not None:
            click.echo(f"  dem: {layers.dem}")
    for p in errors + warnings:
        click.echo(f"  - {p}")
    click.echo(f"{len(errors)} error(s), {len(warnings)} warning(s)")
    if errors:
        sys.exit(1)


def _check_region(path: Path, workers: int, scheduler: str | None, memory_limit: str | None) -> None:
    """Print a region's own problems, each county's check and a summary; exit 1 when any fails."""
    from . import region as region_mod

    res = region_mod.check(path, workers=workers, scheduler=scheduler, memory_limit=memory_limit)
    click.echo(f"检查区域 check region: {path} ({len(res.counties)} 个县 counties)")
    click.echo(f"  区域 region: {len(res.errors)} 个错误 error(s), {len(res.warnings)} 个警告 warning(s)")
    for p in res.errors + res.warnings:
        click.echo(f"    - {p}")
    for c in res.counties:
        label = ", ".join(x for x in (c.county_name, c.city) if x)
        verdict = "未通过 failed" if c.errors else "通过 passed"
        click.echo(
            f"  县 county {c.name}" + (f" ({label})" if label else "") + f": {verdict}, "
            f"{len(c.errors)} 个错误 error(s), {len(c.warnings)} 个警告 warning(s) [{c.source}]"
        )
        if c.features:
            counts = ", ".join(f"{k} {n}" for k, n in c.features.items())
            click.echo(f"    CRS {c.crs}; {counts}")
        for p in c.errors + c.warnings:
            click.echo(f"    - {p}")
    n_err = len(res.errors) + sum(len(c.errors) for c in res.counties)
    n_warn = len(res.warnings) + sum(len(c.warnings) for c in res.counties)
    passed = len(res.counties) - len(res.failed)
    click.echo(
        f"区域汇总 summary: {passed} 个县通过 passed, {len(res.failed)} 个县未通过 failed; "
        f"{n_err} error(s), {n_warn} warning(s)"
    )
    if not res.ok:
        sys.exit(1)


@main.command()
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("layers/demo"),
    show_default=True,
    help="Folder for the demo layers.",
)
@click.option("--seed", type=int, default=None, help="Random seed (default: the demo's own).")
@overwrite_opt
@_handle_errors
def demo(out: Path, seed: int | None, overwrite: bool) -> None:
    """Generate the synthetic demo county (seed figures, synthetic geography)."""
    from . import demo as demo_mod

    kwargs: dict[str, Any] = {"overwrite": overwrite}
    if seed is not None:
        kwargs["seed"] = seed
    paths = demo_mod.generate(out, **kwargs)
    click.echo(f"已生成 wrote the demo county to {out}:")
    for name, p in paths.items():
        click.echo(f"  {name}: {p}")


if __name__ == "__main__":  # pragma: no cover
    main()
