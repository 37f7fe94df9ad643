"""Region runs: many counties, each one task on a dask.distributed cluster, then added up.

A region scenario (:mod:`geofupin.config.region`) lists county scenarios (or tiles one). The
runner:

1. checks the region's output folder before computing (the marker rules of
   :func:`geofupin.io.check_output_dir`);
2. runs every county as one task, :func:`run_county`, on a ``dask.distributed`` cluster (a
   ``LocalCluster(n_workers=N, threads_per_worker=1, processes=True)`` by default, or the cluster
   at ``scheduler``), or in this process (``workers=0``: the same task function, one county
   after the other). A county writes its own output folder ``<region>/<county>/`` as a plain
   county run would (atomic, with its marker) and returns a small summary; a county that fails
   returns its error and the others go on;
3. with ``cross_county: true``, a second pass, :func:`cross_county_pass`, over the border
   counties only: units a county could not place may move to a site of a neighbouring county
   that has room left, within ``cross_county_max_time_min``;
4. adds everything up: budget tables by payer for the counties, cities and province (元 and
   万元), persons and households placed and unserved per county, ``region.json``, ``run.json``
   (every county's input and output hashes) and ``index.html`` (offline, linking to each
   county's page).

The whole region folder is written atomically: counties write into the region's temporary
folder, which replaces the output folder only when every file is written. The folder must be
on a file system the workers share with this process (a multi-machine cluster mounts it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import html
import logging
import math
import os
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import __version__
from . import io as gio
from .config.region import Region, from_dict, is_region
from .errors import (
    DataError,
    GeofupinError,
    InfeasibleError,
    OutputExistsError,
    Problem,
    ProblemsError,
    ScenarioError,
)

log = logging.getLogger(__name__)

#: Files of the region's own, beside the county folders.
REGION_FILES = (
    "index.html", "region.json", "run.json", "budget_region.csv", "persons_region.csv", "region.xlsx"
)  # fmt: skip
#: Payers in the order budget tables show them (see geofupin.policy.PAYER_ZH).
PAYERS = ("province", "city", "county", "city_county", "township_village")
PAYER_ZH = {"province": "省级", "city": "市级", "county": "县级", "city_county": "市县", "township_village": "乡镇村"}


# ----------------------------------------------------------------------------- loading
def is_region_file(path: str | os.PathLike[str]) -> bool:
    """True when the YAML file at ``path`` is a region scenario (top-level key ``region``)."""
    try:
        data = gio.read_yaml(Path(path))
    except ScenarioError:
        return False  # the county loader reports what is wrong with it
    return is_region(data)


def load(path: str | os.PathLike[str]) -> Region:
    """Read and validate a region scenario file (every problem at once, with line numbers)."""
    p = Path(path).resolve()
    data, lines = gio.read_yaml_with_lines(p)
    return from_dict(data, base_dir=p.parent, lines=lines, path=p)


@dataclass(frozen=True)
class CountyJob:
    """One county task: everything a worker needs (picklable, small).

    ``tile`` (with ``tile_base`` and ``tile_dir``) makes the worker generate the tile's layers
    first (:func:`geofupin.demo.ensure_tile`).
    """

    name: str
    city: str
    scenario: Any  # geofupin.scenario.Scenario
    out_dir: Path
    county_name: str = ""
    tile: tuple[int, int] | None = None
    tile_base: Path | None = None
    tile_dir: Path | None = None
    border: bool = False


@dataclass(frozen=True)
class BorderData:
    """What the cross-county pass needs of one county (small: its unplaced units and spare sites).

    Attributes
    ----------
    units
        Units the county could not place: ``unit_id, village_id, group, name, township, persons,
        households, geometry`` (the county's run CRS).
    sites
        Sites in play with room left: ``site_id, name, tier, spare_persons, geometry``.
    villages
        The villages-layer rows of ``units`` (no geometry), for the moved units' budget.
    area
        The county's study area (its boundary, or the villages' hull).
    speed_kph, detour
        The county's straight-line travel model (``allocation.fallback_speed_kph``,
        ``allocation.fallback_detour``).
    """

    units: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    villages: pd.DataFrame
    area: Any
    crs: Any
    speed_kph: float
    detour: float


@dataclass(frozen=True)
class CountyResult:
    """What a county task returns (it never raises: a failure is ``ok=False`` with ``error``)."""

    name: str
    city: str
    title: str
    county_name: str
    ok: bool
    error: str | None = None
    folder: str = ""
    run_id: str | None = None
    inputs_sha256: Mapping[str, str] = field(default_factory=dict)
    outputs_sha256: Mapping[str, str] = field(default_factory=dict)
    relocating_persons: int = 0
    relocating_households: int = 0
    placed_persons: int = 0
    placed_households: int = 0
    unserved_persons: int = 0
    unserved_households: int = 0
    sites_used: int = 0
    budget_total_yuan: float = 0.0
    budget_by_payer_yuan: Mapping[str, float] = field(default_factory=dict)
    policy: str | None = None
    warnings: int = 0
    worker: str = ""
    worker_name: str = ""
    worker_pid: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0
    timings_s: Mapping[str, float] = field(default_factory=dict)
    has_page: bool = False
    credits: tuple[str, ...] = ()
    outline_lonlat: Any = None
    border: BorderData | None = None


# ----------------------------------------------------------------------------- counties
def county_jobs(region: Region, region_dir: Path) -> list[CountyJob]:
    """The county tasks of a region, writing into ``region_dir/<county>/``.

    Raises
    ------
    ScenarioError
        A county scenario is invalid, or two counties share a name (every problem at once).
    """
    from . import scenario as scenario_mod
    from .errors import Problems

    problems = Problems()
    jobs: list[CountyJob] = []
    if region.tiles is not None:
        jobs = _tile_jobs(region, region_dir)
    if region.split_by is not None:
        jobs = _split_jobs(region, region_dir, problems)
    for i, entry in enumerate(region.entries()):
        where = f"region.counties[{i}]"
        try:
            sc = scenario_mod.load(entry.scenario)
        except ScenarioError as exc:
            for p in exc.problems:
                problems.add(where, f"{entry.scenario}: {p}", p.fix or "Fix the county scenario.")
            continue
        jobs.append(
            CountyJob(
                name=sc.name,
                city=entry.city,
                scenario=sc,
                out_dir=region_dir / sc.name,
                county_name="",  # the county polygon's name, read with the layers (else the scenario name)
                border=region.cross_county,
            )
        )
    _duplicate_names([j.name for j in jobs], problems)
    if problems.errors:
        raise ScenarioError(f"invalid region scenario {region.path or region.name}", problems)
    over = region.outputs.county.overrides()
    if not over:
        return jobs
    # what every county writes (region.outputs.county), over the county scenario's own outputs
    return [
        dataclasses.replace(
            j, scenario=dataclasses.replace(j.scenario, outputs=dataclasses.replace(j.scenario.outputs, **over))
        )
        for j in jobs
    ]


#: County names of the demo tiles (甲县, 乙县, ...; beyond ten: 县11, 县12, ...).
_TILE_NAMES = "甲乙丙丁戊己庚辛壬癸"


def tile_county_name(i: int) -> str:
    """The name of the ``i``-th demo tile county: 演示甲县, 演示乙县, ... 演示县11."""
    return f"演示{_TILE_NAMES[i]}县" if i < len(_TILE_NAMES) else f"演示县{i + 1}"


def _tile_jobs(region: Region, region_dir: Path) -> list[CountyJob]:
    from . import demo
    from . import scenario as scenario_mod
    from .scenario import LayerSource, LayersSection, Title

    tiles = region.tiles
    assert tiles is not None
    base = scenario_mod.load(tiles.scenario)
    villages_path = base.layers.sources()["villages"].path
    if base.demo is not None and base.demo.dir:
        base_dir = base.demo.dir
    elif villages_path is not None:
        base_dir = villages_path.parent
    else:
        raise ScenarioError(
            "invalid region",
            [
                Problem(
                    "region.tiles.scenario",
                    "a tiled region needs a county scenario whose villages layer is a file.",
                    "Point 'tiles.scenario' at a county scenario with 'layers: villages:' as a file path.",
                )
            ],
        )
    jobs = []
    for r in range(tiles.rows):
        for c in range(tiles.cols):
            i = r * tiles.cols + c
            code = demo.tile_code(r, c)
            tdir = tiles.dir / code.lower()
            layers: dict[str, Any] = {}
            for kind, src in base.layers.sources().items():
                layers[kind] = LayerSource(path=tdir / f"{kind}.gpkg", layer=kind, columns=src.columns)
            if base.layers.dem is not None:
                layers["dem"] = tdir / demo.DEM_FILE
            county = tile_county_name(i)
            sc = dataclasses.replace(
                base,
                name=f"{region.name}-{code.lower()}",
                title=Title(
                    zh=f"{county}易地扶贫搬迁规划(合成地理)", en=f"{county} ({code}) relocation plan (synthetic)"
                ),
                crs=f"EPSG:{demo.CRS_EPSG}" if base.crs == "auto" else base.crs,
                layers=LayersSection(**layers),
                demo=None,
                outputs=dataclasses.replace(base.outputs, dir=None),
                placement=demo.shift_placement(base.placement, code),  # the tile's village ids
            )
            city = tiles.cities[r % len(tiles.cities)] if tiles.cities else region.default_city
            jobs.append(
                CountyJob(
                    name=sc.name,
                    city=city,
                    scenario=sc,
                    out_dir=region_dir / sc.name,
                    county_name=county,
                    tile=(r, c),
                    tile_base=base_dir,
                    tile_dir=tdir,
                    border=region.cross_county,
                )
            )
    if base.demo is not None:  # the base demo county first (once, here), then each worker shifts its tile
        from .pipeline import ensure_demo_layers

        ensure_demo_layers(base)
    return jobs


#: Layer kinds given to the county holding the feature (points; sites and townships by an inner point).
_HELD = ("villages", "facilities", "candidates", "boundaries")


def split_layers(
    layers: Mapping[str, gpd.GeoDataFrame], areas: Mapping[str, Any]
) -> dict[str, dict[str, gpd.GeoDataFrame]]:
    """Cut one layer set into counties (pure).

    Parameters
    ----------
    layers
        Vector layers by kind, all in one CRS.
    areas
        County polygon by county name, in that CRS.

    Returns
    -------
    County -> kind -> its features. Villages, facilities, candidate sites and township
    boundaries go to the first county holding their inner point (each to one county); roads,
    water, power and constraints to every county they touch, whole (a road crossing the border
    keeps its connections).
    """
    out: dict[str, dict[str, gpd.GeoDataFrame]] = {name: {} for name in areas}
    names = list(areas)
    polys = gpd.GeoSeries([areas[n] for n in names], crs=next(iter(layers.values())).crs)
    for kind, gdf in layers.items():
        if kind in _HELD:
            pts = gdf.geometry.representative_point()
            owner = np.full(len(gdf), -1)
            for i in range(len(names) - 1, -1, -1):  # the first county wins a point on a shared border
                owner[pts.intersects(polys.iloc[i]).to_numpy()] = i
            for i, n in enumerate(names):
                out[n][kind] = gdf[owner == i].reset_index(drop=True)
        else:
            for i, n in enumerate(names):
                out[n][kind] = gdf[gdf.geometry.intersects(polys.iloc[i])].reset_index(drop=True)
    return out


def _split_jobs(region: Region, region_dir: Path, problems: Any) -> list[CountyJob]:
    """Counties cut from one layer set: the layers written once per county into ``split_by.dir``."""
    import hashlib
    import json

    from . import pipeline
    from . import scenario as scenario_mod
    from .config.region import _check_name
    from .scenario import LayerSource, LayersSection, Title

    split = region.split_by
    assert split is not None
    base = scenario_mod.load(split.scenario)
    layers = pipeline.load_inputs(base)
    polygons = layers.get(split.layer)
    where = "region.split_by"
    if polygons is None or split.column not in polygons:
        problems.add(
            where,
            f"the {split.layer} layer of {split.scenario.name} has no column {split.column!r}.",
            f"Name the column holding each county's name (split_by.column), or add it to the {split.layer} layer.",
        )
        return []
    if split.level is not None and "level" in polygons:
        polygons = polygons[polygons["level"] == split.level]
    polygons = polygons[polygons[split.column].notna()]
    names = [str(v) for v in dict.fromkeys(polygons[split.column])]
    for n in names:
        _check_name(n, f"{where}.column", problems)
    if not names:
        problems.add(where, f"no {split.layer} polygon has a {split.column}.", "Fill the column (one value a county).")
    if problems.errors:
        return []
    areas = {n: shapely.union_all(polygons.loc[polygons[split.column].astype(str) == n].geometry.values) for n in names}
    cities: dict[str, str] = {}
    if split.city_column is not None and split.city_column in polygons:
        first = polygons.drop_duplicates(split.column)
        cities = dict(
            zip(first[split.column].astype(str), first[split.city_column].fillna("").astype(str), strict=True)
        )
    stamp = {
        "generator": "geofupin.region.split",
        "inputs": pipeline.input_hashes(base),
        "split": {"layer": split.layer, "column": split.column, "level": split.level},
    }
    key = hashlib.sha256(json.dumps(stamp, sort_keys=True).encode()).hexdigest()[:16]
    present = layers.present()
    parts: dict[str, dict[str, gpd.GeoDataFrame]] | None = None
    jobs = []
    for n in names:
        cdir = split.dir / n
        if gio.read_marker(cdir) is None or _split_key(cdir) != key:
            if parts is None:
                parts = split_layers(present, areas)
            protect = pipeline.input_files(base).values()
            with gio.atomic_dir(cdir, overwrite=True, protect=protect, kind="region-split") as tmp:
                for kind, gdf in parts[n].items():
                    gio.write_vector(gdf, tmp / f"{kind}.gpkg", layer=kind)
                gio.write_json(tmp / "split.json", {**stamp, "key": key, "county": n})
        srcs: dict[str, Any] = {k: LayerSource(path=cdir / f"{k}.gpkg", layer=k) for k in present}
        srcs["dem"] = base.layers.dem
        sc = dataclasses.replace(
            base,
            name=n,
            title=Title(zh=f"{n}易地扶贫搬迁规划", en=f"{n} relocation plan"),
            crs=layers.crs.to_string(),
            layers=LayersSection(**srcs),
            demo=None,
            outputs=dataclasses.replace(base.outputs, dir=None),
        )
        jobs.append(
            CountyJob(
                name=n,
                city=cities.get(n) or region.default_city,
                scenario=sc,
                out_dir=region_dir / n,
                county_name=n,
                border=region.cross_county,
            )
        )
    return jobs


def _split_key(folder: Path) -> str | None:
    import json

    try:
        return str(json.loads((folder / "split.json").read_text(encoding="utf-8")).get("key"))
    except (OSError, ValueError, AttributeError):
        return None


def _peak_rss_mb() -> float:
    """Peak resident memory of this process in MB (0 where the OS does not say: Windows).

    Linux's ``VmHWM``, the high-water mark of this program's own memory, where there is one:
    ``ru_maxrss`` carries over ``fork`` and ``exec``, so a worker started by a parent holding 1 GB
    would report the parent's gigabyte as its own peak. ``ru_maxrss`` elsewhere (macOS, BSD).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return 0.0
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024.0


def worker_identity() -> tuple[str, str]:
    """The address and name of the dask worker running this task; ``("", "")`` outside a worker."""
    try:
        from distributed import get_worker
    except ImportError:
        return "", ""
    try:
        w = get_worker()
    except ValueError:  # not in a worker's task (in-process runs)
        return "", ""
    return str(w.address), str(w.name)


@contextlib.contextmanager
def _fresh_heap(*, worker: bool | None = None) -> Iterator[None]:
    """Collect the previous county's garbage, then keep what lives now out of this county's collections.

    A worker runs county after county; what it holds between them (the imported libraries, its
    own state) is alive throughout, and the collector would scan it again in every full collection
    of every county (about 3 % of a demo county's time). It is frozen here (``gc.freeze``). In a
    dask worker (``worker``: default whether this is one) it stays frozen: the next county's first
    collection then scans only what the county before left, not the whole worker again (0.02 s
    instead of 0.1 s a county; the frozen set grows by some 25 objects a county, what the county
    left alive). Elsewhere (a region run in this process, ``--workers 0``) it is unfrozen after the
    county, so nothing of the caller's is kept out of its collections.
    """
    if worker is None:
        worker = bool(worker_identity()[0])
    gc.collect()
    trim_heap()
    gc.freeze()
    try:
        yield
    finally:
        if not worker:
            gc.unfreeze()


def trim_heap() -> bool:
    """Give the memory the previous county freed back to the system (glibc's ``malloc_trim``).

    A worker's processes run with glibc's own adaptive malloc thresholds (see :data:`WORKER_ENVIRON`):
    freed memory stays in the heap for the next allocation instead of going back to the system at
    every free, so a county's RSS does not shrink by itself between counties. Trimmed here, once a
    county. ``False`` where the C library has no ``malloc_trim`` (not glibc: macOS, Windows, musl).
    """
    import ctypes

    try:  # the symbols this process already has (its C library's among them): no library search,
        trim = ctypes.CDLL(None).malloc_trim  # which would start ldconfig in a subprocess every county
    except (OSError, AttributeError, TypeError):
        return False
    trim.argtypes = [ctypes.c_size_t]
    trim(0)
    return True


def run_county(job: CountyJob) -> CountyResult:
    """Run one county and write its folder; the task every worker runs. Never raises.

    A county that fails (bad layers, an infeasible rule, a write refused, anything else)
    returns ``ok=False`` with the error's message (and, for an unexpected error, its type and
    the last frame), so the region reports it and the other counties are unaffected.
    """
    with _fresh_heap():
        return _run_county(job)


def _run_county(job: CountyJob) -> CountyResult:
    from . import pipeline

    t0, c0 = time.perf_counter(), time.process_time()
    sc = job.scenario
    address, wname = worker_identity()
    base = {"name": job.name, "city": job.city, "title": sc.title.zh, "county_name": job.county_name or job.name}
    where: dict[str, Any] = {"worker": address, "worker_name": wname, "worker_pid": os.getpid()}
    try:
        if job.tile is not None:
            from . import demo

            assert job.tile_base is not None and job.tile_dir is not None
            demo.ensure_tile(job.tile_base, job.tile_dir, row=job.tile[0], col=job.tile[1], county_name=job.county_name)
        # the folder is the region's own temporary one: an attempt of this task that ran before (on a
        # worker that died after it) is replaced
        out_dir = pipeline.check_output_dir(sc, job.out_dir, overwrite=job.out_dir.exists())
        out = pipeline.run(sc)
        tw = time.perf_counter()
        written = pipeline.write_outputs(out, out_dir, overwrite=job.out_dir.exists())
        write_s = time.perf_counter() - tw
        result = _county_figures(out, job)
        # the county's run.json has hashed its inputs and every other file just now: taken from there
        record = gio.read_json(written["run.json"])
        inputs = record["inputs_sha256"]
        hashed = record["outputs_sha256"]  # every file but run.json itself
        outputs = {k: hashed[k] if k in hashed else gio.file_sha256(p) for k, p in written.items()}
        return dataclasses.replace(
            result,
            name=job.name,
            city=job.city,
            title=sc.title.zh,
            ok=True,
            folder=job.out_dir.name,
            run_id=pipeline.run_id(sc, inputs),
            inputs_sha256=inputs,
            outputs_sha256=outputs,
            has_page="index.html" in written,
            **where,
            wall_s=round(time.perf_counter() - t0, 3),
            cpu_s=round(time.process_time() - c0, 3),
            peak_rss_mb=round(_peak_rss_mb(), 1),
            timings_s={k: round(v, 3) for k, v in {**out.timings_s, "write": write_s}.items()},
        )
    except GeofupinError as exc:
        error = str(exc)
    except Exception as exc:  # a bug or an unreadable file: the region still completes; say what it was
        frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        at = f" ({Path(frame.filename).name}:{frame.lineno})" if frame else ""
        error = f"{type(exc).__name__}: {exc}{at}"
    log.info("county %s failed: %s", job.name, error)  # reported with the region's results
    return CountyResult(
        **base,
        **where,
        ok=False,
        error=error,
        wall_s=round(time.perf_counter() - t0, 3),
        cpu_s=round(time.process_time() - c0, 3),
        peak_rss_mb=round(_peak_rss_mb(), 1),
    )


def _sum(df: pd.DataFrame | None, col: str) -> int:
    if df is None or not len(df) or col not in df:
        return 0
    return round(float(pd.to_numeric(df[col], errors="coerce").fillna(0).sum()))


def _county_figures(out: Any, job: CountyJob) -> CountyResult:
    """Persons, households and budget by payer of one run (and its border data when asked)."""
    ctx = out.ctx
    assignment, unserved = ctx.table("assignment"), ctx.table("unserved")
    v = ctx.layers.villages
    rel_p = _sum(v, "relocate_persons")
    rel_h = _sum(v, "relocate_households")
    budget = ctx.table("budget_county")
    by_payer: dict[str, float] = {}
    if budget is not None and len(budget):
        g = budget.groupby("payer", sort=False)["amount_yuan"].sum()
        by_payer = {str(k): round(float(x), 2) for k, x in g.items()}
    plan = ctx.results["plan"].summary if "plan" in ctx.results else {}
    alloc = ctx.results["allocate"].summary if "allocate" in ctx.results else {}
    placed_p = _sum(assignment, "persons")
    placed_h = _sum(assignment, "households")
    if "allocate" not in ctx.results:  # nobody to move, or no allocation: nobody placed
        unserved_p, unserved_h = rel_p - placed_p, rel_h - placed_h
    else:
        unserved_p, unserved_h = _sum(unserved, "persons"), _sum(unserved, "households")
    county_name = job.county_name or _boundary_name(ctx.layers.boundaries) or job.name
    outline = None
    area = ctx.layers.study_area
    if area is not None:
        outline = gpd.GeoSeries([area], crs=ctx.layers.crs).simplify(500).to_crs(4326).iloc[0]
    return CountyResult(
        name=job.name,
        city=job.city,
        title="",
        county_name=county_name,
        ok=True,
        relocating_persons=rel_p,
        relocating_households=rel_h,
        placed_persons=placed_p,
        placed_households=placed_h,
        unserved_persons=unserved_p,
        unserved_households=unserved_h,
        sites_used=int(alloc.get("open_sites") or 0),
        budget_total_yuan=round(float(plan.get("budget_total_yuan", 0.0)), 2),
        budget_by_payer_yuan=by_payer,
        policy=plan.get("policy_source"),
        warnings=len(out.warnings),
        credits=tuple(map_credits(ctx.scenario.map.credits(), ctx.layers.present().values())),
        outline_lonlat=outline,
        border=border_data(out) if job.border else None,
    )


def map_credits(configured: Iterable[str], frames: Iterable[gpd.GeoDataFrame]) -> list[str]:
    """A county's data credits: its ``map.attribution``, then its layers' own (OSM's ODbL), as its page prints them."""
    from .maps.data import credits

    return credits(configured, frames)


def _boundary_name(boundaries: gpd.GeoDataFrame | None) -> str:
    """The name of the county polygon of a boundaries layer (``level == county``), or ``""``."""
    if boundaries is None or "level" not in boundaries or "name" not in boundaries:
        return ""
    names = boundaries.loc[boundaries["level"] == "county", "name"].dropna().astype(str)
    return names.iloc[0] if len(names) else ""


def border_data(out: Any) -> BorderData:
    """The units a run could not place and its sites with room left (for :func:`cross_county_pass`)."""
    ctx = out.ctx
    crs = ctx.layers.crs
    cfg = ctx.scenario.allocation
    run = ctx.artifact("allocate", "allocation_run")
    unserved = ctx.table("unserved")
    empty_units = gpd.GeoDataFrame(
        {c: [] for c in ("unit_id", "village_id", "group", "name", "township", "persons", "households")},
        geometry=gpd.GeoSeries([], crs=crs),
    )
    empty_sites = gpd.GeoDataFrame(
        {c: [] for c in ("site_id", "name", "tier", "spare_persons")}, geometry=gpd.GeoSeries([], crs=crs)
    )
    units, sites = empty_units, empty_sites
    if run is not None:
        if unserved is not None and len(unserved):
            u = run.units.set_index("unit_id").loc[unserved["unit_id"].astype(str)]
            units = gpd.GeoDataFrame(u.reset_index()[list(empty_units.columns)], geometry="geometry", crs=crs)
        load = run.allocation.site_load.set_index("site_id")["assigned_persons"]
        s = run.sites.copy()
        s["spare_persons"] = s["capacity_persons"] - s["site_id"].map(load).fillna(0.0)
        s = s[s["spare_persons"] > 0]
        sites = gpd.GeoDataFrame(
            s[["site_id", "name", "tier", "spare_persons", "geometry"]].reset_index(drop=True),
            geometry="geometry",
            crs=crs,
        )
    elif unserved is not None and len(unserved):  # no site at all: every relocating unit, no spare room
        from .allocate.step import relocating_units

        all_units, _ = relocating_units(ctx.layers.villages, unit=cfg.unit)
        units = all_units[all_units["unit_id"].isin(set(unserved["unit_id"].astype(str)))][list(empty_units.columns)]
    ids = set(units["village_id"].astype(str))
    v = ctx.layers.villages
    rows = pd.DataFrame(v[v["village_id"].astype(str).isin(ids)].drop(columns="geometry"))
    area = ctx.layers.study_area
    if area is None:
        area = shapely.convex_hull(shapely.union_all(v.geometry.values))
    return BorderData(
        units=units,
        sites=sites,
        villages=rows,
        area=area,
        crs=crs,
        speed_kph=float(cfg.fallback_speed_kph),
        detour=float(cfg.fallback_detour),
    )


# ----------------------------------------------------------------------------- executing
def execute(
    func: Callable[[Any], Any],
    items: Sequence[Any],
    *,
    workers: int = 0,
    scheduler: str | None = None,
    keys: Sequence[str] | None = None,
    memory_limit: str = "auto",
    retries: int = 1,
) -> list[Any]:
    """``[func(x) for x in items]`` on a dask.distributed cluster, or in this process with ``workers=0``.

    Parameters
    ----------
    func
        A module-level function (workers import it by name).
    items
        Its arguments, one task each.
    workers
        Start a ``LocalCluster`` of this many single-threaded worker processes; ``0``: no
        cluster, the items run one after the other here (what tests and ``--workers 0`` use).
    scheduler
        The address of a running scheduler (``tcp://host:8786``); the cluster's own workers run
        the tasks and ``workers``, ``memory_limit`` and ``retries`` are the cluster's own.
    keys
        Task names (shown on the cluster's dashboard, and in the error of a task whose worker died).
    memory_limit
        Memory of each local worker (``4GiB``; ``auto``: the machine's memory / workers; ``none``).
        A worker past 95 % of it is stopped by its nanny and restarted.
    retries
        How many more times a task whose worker died is tried on another worker (dask's
        ``allowed-failures``) before its result is an error.

    Returns
    -------
    The results in the order of ``items``. A task whose worker died (killed, out of memory)
    more than ``retries`` times gives a :class:`DataError` naming it, in Chinese first, instead
    of its result; ``func`` itself should report its failures as values.
    """
    if scheduler is None and workers <= 0:
        return [func(x) for x in items]
    from ._optional import require

    require("distributed")  # names the 'region' extra when missing (--workers 0 needs none)
    from dask.distributed import Client

    names = list(keys) if keys is not None else [f"task-{i}" for i in range(len(items))]
    task_keys = [f"geofupin-{n}-{os.getpid()}-{time.time_ns()}" for n in names]
    with _quiet_distributed():
        if scheduler is not None:
            with Client(scheduler) as client:
                return _gather(client, func, items, task_keys, names, memory_limit="", retries=None)
        return _local_cluster(func, items, task_keys, names, workers, memory_limit=memory_limit, retries=retries)


def per_county(
    region: Region,
    func: Callable[[Any], Any],
    jobs: Sequence[Any],
    *,
    workers: int,
    scheduler: str | None,
    memory_limit: str | None,
) -> list[Any]:
    """:func:`execute` one task a county (named by the county), with the region's cluster settings."""
    return execute(
        func,
        jobs,
        workers=workers,
        scheduler=scheduler,
        keys=[j.name for j in jobs],
        memory_limit=memory_limit or region.cluster.memory_limit,
        retries=region.cluster.retries,
    )


@contextlib.contextmanager
def _quiet_distributed() -> Iterator[None]:
    """dask.distributed logs every connection at INFO, and a worker it lost at ERROR, on its own handler.

    The region reports what matters itself (a county whose worker died is a failed county with its
    message), so distributed's own messages are kept only with ``geofupin -vv`` (debug).
    """
    logger = logging.getLogger("distributed")
    before = logger.level
    if not logging.getLogger("geofupin").isEnabledFor(logging.DEBUG):
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(before)


def memory_limit_bytes(text: str) -> int | str:
    """``memory_limit`` as ``LocalCluster`` takes it: bytes, ``"auto"``, or ``0`` (no limit)."""
    t = text.strip().lower()
    if t == "auto":
        return "auto"
    if t == "none":
        return 0
    from dask.utils import parse_bytes

    return int(parse_bytes(text.replace(" ", "")))


#: Environment of the local workers, over dask's ``distributed.nanny.pre-spawn-environ`` (``None``
#: unsets). dask sets ``MALLOC_TRIM_THRESHOLD_=65536`` so that freed memory goes back to the system
#: at once; setting it also fixes glibc's mmap threshold at 128 KiB, so every array above that is a
#: fresh ``mmap`` whose pages fault in again: a demo county then takes 15x the page faults (590k
#: instead of 40k) and 0.6 s more system time. Unset, glibc keeps its adaptive thresholds, and each
#: county ends with one :func:`trim_heap` instead. (Workers of an existing cluster, ``--scheduler``,
#: run with their own cluster's dask configuration, where the same key can be set to ``null``.)
WORKER_ENVIRON: dict[str, str | None] = {"MALLOC_TRIM_THRESHOLD_": None}


@contextlib.contextmanager
def _spawn_environ() -> Iterator[None]:
    """This process's environment while it starts local workers, put back as it was afterwards.

    A worker process inherits this process's environment, and dask's nanny adds its
    ``pre-spawn-environ`` to it for good (``os.environ.update``): after one cluster with dask's
    defaults, ``MALLOC_TRIM_THRESHOLD_`` would reach every later worker. The variables that
    :data:`WORKER_ENVIRON` unsets are taken out while the workers start, and the whole environment
    is restored at the end, dask's additions included.
    """
    saved = dict(os.environ)
    for key, value in WORKER_ENVIRON.items():
        if value is None:
            os.environ.pop(key, None)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _local_cluster(
    func: Callable[[Any], Any],
    items: Sequence[Any],
    task_keys: list[str],
    names: list[str],
    workers: int,
    *,
    memory_limit: str,
    retries: int,
) -> list[Any]:
    import dask
    from dask.distributed import Client, LocalCluster

    settings = {
        # one county at a time per single-threaded worker: a worker that dies takes down only the
        # county it was running (a county queued behind it would count that death against itself)
        "distributed.scheduler.worker-saturation": 1.0,
        # the tasks hold no dask data to spill, and a paused worker would never resume once a county's
        # memory stays with the process: the only memory rule is the nanny's stop at 95 %
        "distributed.worker.memory.target": False,
        "distributed.worker.memory.spill": False,
        "distributed.worker.memory.pause": False,
        # dask's statistical profiler samples the running county's stack 100 times a second from the
        # worker's event loop (for the dashboard's profile page, which a region run does not show): off
        "distributed.worker.profile.enabled": False,
        # the periodic housekeeping of the scheduler, the nannies and the workers, which share the
        # machine's cores with the counties: idle, a 2-worker cluster took 8 % of a core with dask's
        # defaults, 1.7 % with these and work stealing off, 2 % with it on. The event-loop tick (20 ms:
        # it only measures how late the loop runs, for a warning), the dashboard's system monitor
        # (500 ms), and the nanny's memory check (100 ms; every 500 ms still stops a worker long before
        # a county's memory could double). Work stealing stays: a region of few counties (up to twice
        # the workers) is handed out at once, and stealing moves a county queued behind a big one to a
        # worker that is free
        "distributed.admin.tick.interval": "1s",
        "distributed.admin.system-monitor.interval": "2s",
        "distributed.worker.memory.monitor-interval": "500ms",
        **{f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in WORKER_ENVIRON.items()},
    }
    with (
        _spawn_environ(),
        dask.config.set(settings),
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=memory_limit_bytes(memory_limit),
            scheduler_kwargs={"allowed_failures": retries},
            dashboard_address=":0",  # a free port: never collide with another cluster on 8787
            silence_logs=logging.CRITICAL,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(workers)
        return _gather(client, func, items, task_keys, names, memory_limit=memory_limit, retries=retries)


def _gather(
    client: Any,
    func: Callable[[Any], Any],
    items: Sequence[Any],
    keys: list[str],
    names: list[str],
    *,
    memory_limit: str,
    retries: int | None,
) -> list[Any]:
    from distributed import KilledWorker, as_completed

    futures = [client.submit(func, x, key=k, pure=False) for x, k in zip(items, keys, strict=True)]
    name_of = dict(zip(keys, names, strict=True))
    got: dict[str, Any] = {}
    # each result is fetched as soon as its task ends and then released: a result left on a worker
    # that dies later (running another county) would be computed again, its county written twice
    for fut in as_completed(futures):
        name = name_of[fut.key]
        try:
            got[fut.key] = fut.result()
        except KilledWorker as exc:
            got[fut.key] = DataError(killed_message(name, exc.allowed_failures + 1, memory_limit))
        except Exception as exc:  # the result could not travel back, the cluster went away
            got[fut.key] = (
                exc
                if isinstance(exc, GeofupinError)
                else DataError(
                    f"任务 {name} 在集群上失败 / task {name} failed on the cluster: {type(exc).__name__}: {exc}"
                )
            )
        fut.release()
    return [got[k] for k in keys]


def killed_message(name: str, attempts: int, memory_limit: str) -> str:
    """The error of a task whose worker process died on each of its ``attempts`` (dask's ``KilledWorker``)."""
    limit = f"每个工作进程的内存上限 {memory_limit}" if memory_limit else "集群工作进程的内存上限"
    return (
        f"{name}:运行该县的工作进程意外退出,共试 {attempts} 次均未完成,判为失败(可能超出{limit},或进程崩溃);"
        f"其他县照常完成 / the worker process running {name} died on each of {attempts} attempt(s) "
        "(dask KilledWorker: over the worker memory limit, or a crash). Fix: give each worker more memory "
        "(cluster.memory_limit in the region file, or --memory-limit), fewer workers, or run the county alone "
        "with 'geofupin run <county>.yaml' to see where it stops."
    )


# ----------------------------------------------------------------------------- cross-county pass
@dataclass(frozen=True)
class CrossCountyInput:
    """The second pass's task: every border county's data and the rule values."""

    border: Mapping[str, BorderData]
    max_time_min: float
    border_m: float
    policies: Mapping[str, Any] = field(default_factory=dict)  # county -> PolicyConfig (for the budget)


def neighbours(areas: Mapping[str, Any], border_m: float) -> dict[str, set[str]]:
    """Counties whose study areas lie within ``border_m`` of each other (areas in one CRS)."""
    names = list(areas)
    out: dict[str, set[str]] = {n: set() for n in names}
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if shapely.distance(areas[a], areas[b]) <= border_m:
                out[a].add(b)
                out[b].add(a)
    return out


def cross_county_pass(task: CrossCountyInput) -> dict[str, Any]:
    """Place the units counties could not place at sites of neighbouring counties with room left.

    Only border counties take part: a county with unplaced units and its neighbours (study
    areas within ``border_m``) with spare sites. Travel time is the straight line x the origin
    county's ``allocation.fallback_detour`` at its ``fallback_speed_kph`` (county roads are not
    joined across the border), at most ``max_time_min``; each unit moves whole to one site
    (single-source allocation, least person-minutes) within the sites' spare capacity.

    Returns
    -------
    dict
        ``moves`` (DataFrame: ``from_county, to_county, village_id, group, unit_id, name,
        site_id, site_name, households, persons, time_min, dist_m``), ``counties`` (the border
        counties), ``budget`` (origin county -> payer -> yuan of the moved units, by the origin
        county's policy) and ``warnings``.
    """
    from .allocate import allocate
    from .config.allocate import AllocationConfig

    border = dict(task.border)
    columns = [
        "from_county", "to_county", "village_id", "group", "unit_id", "name", "site_id", "site_name",
        "households", "persons", "time_min", "dist_m",
    ]  # fmt: skip
    empty: dict[str, Any] = {"moves": pd.DataFrame(columns=columns), "counties": [], "budget": {}, "warnings": []}
    if not border:
        return empty
    crs = next(iter(border.values())).crs
    areas = {n: gpd.GeoSeries([b.area], crs=b.crs).to_crs(crs).iloc[0] for n, b in border.items()}
    near = neighbours(areas, task.border_m)
    origins = [n for n, b in border.items() if len(b.units)]
    hosts = {m for n in origins for m in near[n] if len(border[m].sites)}
    takers = [n for n in origins if any(m in hosts for m in near[n])]
    if not takers:
        return empty
    units, sites, od_rows = [], [], []
    for n in takers:
        u = border[n].units.to_crs(crs).copy()
        u["county"] = n
        u["village_id"] = n + "|" + u["village_id"].astype(str)
        units.append(u)
    for m in sorted(hosts):
        s = border[m].sites.to_crs(crs).copy()
        s["county"] = m
        s["site_id"] = m + "|" + s["site_id"].astype(str)
        sites.append(s)
    U = gpd.GeoDataFrame(pd.concat(units, ignore_index=True), geometry="geometry", crs=crs)
    S = gpd.GeoDataFrame(pd.concat(sites, ignore_index=True), geometry="geometry", crs=crs)
    U["unit_id"] = np.where(
        U["group"].notna() & (U["group"].astype(str) != ""),
        U["village_id"] + "/" + U["group"].astype(str),
        U["village_id"],
    )
    upts = U.geometry.representative_point()
    spts = S.geometry.representative_point()
    for i, urow in U.iterrows():  # border units are few (the unplaced ones of border counties)
        b = border[str(urow["county"])]
        ok = S["county"].isin(near[str(urow["county"])])
        d = spts[ok].distance(upts.iloc[i]).to_numpy() * b.detour
        t = d / 1000.0 / b.speed_kph * 60.0
        keep = t <= task.max_time_min
        for sid, tt, dd in zip(S.loc[ok, "site_id"].to_numpy()[keep], t[keep], d[keep], strict=True):
            od_rows.append({"unit_id": urow["unit_id"], "village_id": urow["village_id"], "site_id": sid,
                            "time_min": float(tt), "dist_m": float(dd)})  # fmt: skip
    if not od_rows:
        return {**empty, "counties": sorted({*takers, *hosts})}
    villages = U.rename(columns={"persons": "relocate_persons", "households": "relocate_households"})
    villages = villages[
        ["village_id", "group", "name", "township", "relocate_persons", "relocate_households", "geometry"]
    ]
    villages["group"] = villages["group"].where(villages["group"].notna() & (villages["group"].astype(str) != ""), None)
    sites_in = S.rename(columns={"spare_persons": "capacity_persons"})
    for col in ("name_en", "township"):
        sites_in[col] = ""
    cfg = AllocationConfig(model="single_source", unit="group", cutoff_min=task.max_time_min)
    warnings: list[str] = []
    try:
        run = allocate(villages, sites_in, pd.DataFrame(od_rows), cfg, routed_sites=set(S["site_id"]))
    except (DataError, InfeasibleError) as exc:
        return {
            **empty,
            "counties": sorted({*takers, *hosts}),
            "warnings": [f"跨县安置未求解 / cross-county pass: {exc}"],
        }
    a = run.allocation.assignment
    if not len(a):
        return {**empty, "counties": sorted({*takers, *hosts})}
    uinfo = U.set_index("unit_id")
    sinfo = S.set_index("site_id")
    moves = pd.DataFrame(
        {
            "from_county": uinfo.loc[a["unit_id"], "county"].to_numpy(),
            "to_county": sinfo.loc[a["site_id"], "county"].to_numpy(),
            "village_id": [v.split("|", 1)[1] for v in uinfo.loc[a["unit_id"], "village_id"]],
            "group": uinfo.loc[a["unit_id"], "group"].to_numpy(),
            "unit_id": [u.split("|", 1)[1] for u in a["unit_id"]],
            "name": uinfo.loc[a["unit_id"], "name"].to_numpy(),
            "site_id": [s.split("|", 1)[1] for s in a["site_id"]],
            "site_name": sinfo.loc[a["site_id"], "name"].to_numpy(),
            "households": a["households"].astype(int).to_numpy(),
            "persons": a["persons"].astype(int).to_numpy(),
            "time_min": a["time_min"].astype(float).round(2).to_numpy(),
            "dist_m": a["dist_m"].astype(float).round(1).to_numpy(),
        }
    )
    moves = moves.sort_values(["from_county", "unit_id"], kind="stable").reset_index(drop=True)
    budget = {n: moved_budget(border[n].villages, moves[moves["from_county"] == n], task.policies.get(n))
              for n in sorted(set(moves["from_county"]))}  # fmt: skip
    return {"moves": moves, "counties": sorted({*takers, *hosts}), "budget": budget, "warnings": warnings}


def moved_budget(villages: pd.DataFrame, moves: pd.DataFrame, policy_config: Any) -> dict[str, float]:
    """Budget by payer (yuan) of the units a county moves across the border, by its own policy.

    The county of origin (户籍所在县) budgets its households wherever they settle; the rules are
    applied to the moved units exactly as the county's plan step applies them to its own.
    """
    from . import policy as pol
    from .config.policy import PolicyConfig

    pcfg = policy_config or PolicyConfig()
    policy = gio.load_policy(pcfg)
    assignment = moves[["village_id", "group", "site_id", "households", "persons"]].copy()
    assignment["group"] = assignment["group"].fillna("")
    units = pol.plan_units(villages, assignment)
    budget = pol.compute_budget(units, policy, pcfg.options)
    g = pol.budget_by_rule(budget).groupby("payer", sort=False)["amount_yuan"].sum()
    return {str(k): round(float(v), 2) for k, v in g.items()}


# ----------------------------------------------------------------------------- the region run
@dataclass(frozen=True)
class RegionRun:
    """What :func:`run` computed and wrote."""

    region: Region
    out_dir: Path
    counties: tuple[CountyResult, ...]
    moves: pd.DataFrame
    record: Mapping[str, Any]
    written: Mapping[str, Path]
    timings_s: Mapping[str, float]

    @property
    def failed(self) -> list[CountyResult]:
        return [c for c in self.counties if not c.ok]


def region_inputs(region: Region, jobs: Iterable[CountyJob]) -> list[Path]:
    """Every file the region reads (its own file, each county's inputs): never inside the output folder."""
    from .pipeline import input_files

    files = [region.path] if region.path is not None else []
    for j in jobs:
        files += list(input_files(j.scenario).values())
    return files


def run(
    region: Region,
    *,
    out_dir: Path | None = None,
    overwrite: bool = False,
    workers: int = 0,
    scheduler: str | None = None,
    memory_limit: str | None = None,
    task: Callable[[CountyJob], CountyResult] | None = None,
) -> RegionRun:
    """Run every county of a region (one task each), the cross-county pass, and write the aggregate.

    Parameters
    ----------
    region
        A validated region (:func:`load`).
    out_dir
        The region's output folder (default :meth:`Region.output_dir`); replaced as a whole.
    overwrite
        Replace an existing folder that geofupin wrote.
    workers
        Worker processes of the ``LocalCluster``; ``0`` runs the counties here, one by one.
    scheduler
        Address of an existing dask scheduler (``workers`` is then ignored).
    memory_limit
        Memory of each local worker (default the region's ``cluster.memory_limit``).
    task
        The county task, a module-level function (default :func:`run_county`); a wrapper of it
        can watch or limit each county (the tests make one kill its worker).

    Raises
    ------
    ScenarioError
        A county scenario is invalid (before anything runs).
    UnsafeOutputError, OutputExistsError, OutputError
        The output folder is refused (before anything runs) or cannot be written.
    """
    t0 = time.perf_counter()
    target = out_dir if out_dir is not None else region.output_dir()
    timings: dict[str, float] = {}
    probe = county_jobs(region, target)  # validates every county scenario first
    protect = region_inputs(region, probe)
    target = gio.check_output_dir(target, overwrite=overwrite, protect=protect)
    timings["prepare"] = time.perf_counter() - t0
    with gio.atomic_dir(target, overwrite=overwrite, protect=protect, kind="region") as tmp:
        jobs = [dataclasses.replace(j, out_dir=tmp / j.name) for j in probe]
        t = time.perf_counter()
        raw = per_county(
            region, task or run_county, jobs, workers=workers, scheduler=scheduler, memory_limit=memory_limit
        )
        results = tuple(
            r if isinstance(r, CountyResult) else _failed(j, str(r)) for j, r in zip(jobs, raw, strict=True)
        )
        timings["counties"] = time.perf_counter() - t
        t = time.perf_counter()
        cross: dict[str, Any] = {"moves": pd.DataFrame(), "counties": [], "budget": {}, "warnings": []}
        if region.cross_county:
            border = {c.name: c.border for c in results if c.ok and c.border is not None}
            second = CrossCountyInput(
                border=border,
                max_time_min=region.cross_county_max_time_min,
                border_m=region.border_m,
                policies={j.name: j.scenario.policy for j in jobs},
            )
            (res,) = execute(cross_county_pass, [second], workers=0, scheduler=scheduler, keys=["cross-county"])
            if isinstance(res, Exception):
                cross["warnings"] = [f"跨县安置失败 / the cross-county pass failed: {res}"]
            else:
                cross = res
        timings["cross_county"] = time.perf_counter() - t
        results = tuple(dataclasses.replace(c, border=None) for c in results)  # not kept beyond the pass
        t = time.perf_counter()
        written, record = write_region(region, tmp, results, cross, workers=workers, scheduler=scheduler)
        timings["aggregate"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - t0
        run_record = run_json(
            region, results, tmp, written, timings, workers=workers, scheduler=scheduler,
            memory_limit=memory_limit or region.cluster.memory_limit, out_dir=target,
        )  # fmt: skip
        gio.write_json(tmp / "run.json", run_record)
    paths = {k: target / k for k in [*written, "run.json"]}
    moves = cross.get("moves")
    return RegionRun(
        region=region,
        out_dir=target,
        counties=results,
        moves=moves if isinstance(moves, pd.DataFrame) else pd.DataFrame(),
        record=record,
        written=paths,
        timings_s={k: round(v, 3) for k, v in timings.items()},
    )


def _failed(job: CountyJob, error: str) -> CountyResult:
    return CountyResult(
        name=job.name,
        city=job.city,
        title=job.scenario.title.zh,
        county_name=job.county_name or job.name,
        ok=False,
        error=error,
    )


# ----------------------------------------------------------------------------- checking
@dataclass(frozen=True)
class CheckJob:
    """One county to check: its scenario (``None`` when it cannot be read) and the problems found loading it."""

    name: str
    city: str
    county_name: str
    source: str
    scenario: Any  # geofupin.scenario.Scenario | None
    problems: tuple[Problem, ...] = ()
    tile: tuple[int, int] | None = None
    tile_base: Path | None = None
    tile_dir: Path | None = None


class _Found:
    """``errors`` and ``warnings`` of a check's ``problems``."""

    problems: tuple[Problem, ...]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


@dataclass(frozen=True)
class CountyCheck(_Found):
    """What :func:`check_county` found in one county: every problem, its CRS and feature counts."""

    name: str
    county_name: str
    city: str
    source: str
    problems: tuple[Problem, ...]
    crs: str = ""
    features: Mapping[str, int] = field(default_factory=dict)
    worker: str = ""


@dataclass(frozen=True)
class RegionCheck(_Found):
    """What :func:`check` found: the region's own problems and each county's check."""

    path: Path | None
    problems: tuple[Problem, ...]
    counties: tuple[CountyCheck, ...] = ()
    out_dir: Path | None = None

    @property
    def failed(self) -> list[CountyCheck]:
        """The counties with errors (their run would stop)."""
        return [c for c in self.counties if c.errors]

    @property
    def ok(self) -> bool:
        return not self.errors and not self.failed


def _in_file(problems: Iterable[Problem], where: str, file: Path | str) -> list[Problem]:
    """``problems`` of another file (a county scenario) as problems of the region key ``where``, naming the file."""
    out = []
    for p in problems:
        loc = p.where + (f" (line {p.line})" if p.line is not None else "")
        out.append(dataclasses.replace(p, where=where, message=f"{file}: {loc}: {p.message}", line=None))
    return out


def check_jobs(region: Region, region_dir: Path) -> tuple[list[CheckJob], list[Problem]]:
    """The counties to check and the region's own problems in making them (never raises for bad input).

    Listed counties are read here (a county whose file is wrong is still checked: its problems are
    its own); tiles and a split are made as :func:`run` makes them (a split writes its cache).
    """
    from . import scenario as scenario_mod
    from .errors import Problems

    problems = Problems()
    jobs: list[CheckJob] = []
    for what in ("tiles", "split_by"):
        if getattr(region, what) is None:
            continue
        file = getattr(region, what).scenario
        try:
            made = _tile_jobs(region, region_dir) if what == "tiles" else _split_jobs(region, region_dir, problems)
        except ProblemsError as exc:  # the base scenario or its layers: name the region key and the file
            for p in exc.problems:
                problems.extend([p] if p.where.startswith("region") else _in_file([p], f"region.{what}.scenario", file))
            continue
        except GeofupinError as exc:
            message, _, fix = str(exc).partition(" Fix: ")
            problems.add(f"region.{what}", f"{file}: {message}", fix or f"Fix the layers of {file}.")
            continue
        for j in made:
            source = f"{what}: {file}" + (f" [{demo_tile_code(j.tile)}]" if j.tile is not None else f" [{j.name}]")
            jobs.append(
                CheckJob(
                    name=j.name, city=j.city, county_name=j.county_name, source=source, scenario=j.scenario,
                    tile=j.tile, tile_base=j.tile_base, tile_dir=j.tile_dir,
                )
            )  # fmt: skip
    for entry in region.entries():
        sc, found = scenario_mod.load_for_check(entry.scenario)
        name = sc.name if sc is not None else entry.scenario.stem
        jobs.append(
            CheckJob(
                name=name,
                city=entry.city,
                county_name="",  # the county polygon's name, read with the layers
                source=str(entry.scenario),
                scenario=sc,
                problems=tuple(found),
            )
        )
    _duplicate_names([j.name for j in jobs], problems)
    return jobs, list(problems)


def demo_tile_code(tile: tuple[int, int]) -> str:
    """``R0C1`` for the tile in row 0, column 1."""
    from . import demo

    return demo.tile_code(*tile)


def _duplicate_names(names: Sequence[str], problems: Any) -> None:
    seen: dict[str, int] = {}
    for n in names:
        seen[n] = seen.get(n, 0) + 1
    for name, count in seen.items():
        if count > 1:
            problems.add(
                "region.counties",
                f"{count} counties are named {name!r}; each county writes the folder of its name.",
                "Give each county scenario its own 'name:'.",
            )
        if name in REGION_FILES:
            problems.add(
                "region.counties",
                f"a county is named {name!r}, the name of one of the region's own files.",
                "Give the county scenario another 'name:'.",
            )


def check_county(job: CheckJob) -> CountyCheck:
    """Check one county as ``geofupin check`` checks a county scenario (the task of :func:`check`). Never raises."""
    from . import pipeline
    from .errors import Problems

    problems = Problems(job.problems)
    address, _ = worker_identity()
    layers = None
    try:
        if job.tile is not None and job.scenario is not None:
            from . import demo

            assert job.tile_base is not None and job.tile_dir is not None
            demo.ensure_tile(job.tile_base, job.tile_dir, row=job.tile[0], col=job.tile[1], county_name=job.county_name)
        layers = pipeline.check_inputs(job.scenario, problems)
    except GeofupinError as exc:
        message, _, fix = str(exc).partition(" Fix: ")
        problems.add("county", message, fix)
    except Exception as exc:  # a bug or an unreadable file: the other counties are still checked
        problems.add("county", f"{type(exc).__name__}: {exc}", "Run 'geofupin -vv check' on the county for details.")
    county_name = job.county_name
    if layers is not None and job.tile is None:  # a listed county: its boundary's name says more than its title
        county_name = _boundary_name(layers.boundaries) or county_name
    return CountyCheck(
        name=job.name,
        city=job.city,
        county_name=county_name,
        source=job.source,
        problems=tuple(problems),
        crs=layers.crs.to_string() if layers is not None else "",
        features={k: len(g) for k, g in layers.present().items()} if layers is not None else {},
        worker=address,
    )


def check(
    path: str | os.PathLike[str],
    *,
    out_dir: Path | None = None,
    overwrite: bool = False,
    workers: int = 0,
    scheduler: str | None = None,
    memory_limit: str | None = None,
) -> RegionCheck:
    """Check a region file without running it: the region, then each county as ``geofupin check`` does.

    The region's own problems: the file itself (every key, with its line), the county files (or
    the ``split_by`` layer and column, or the ``tiles`` scenario), county names, the
    cross-county options and the output folder (refused folders are errors, an existing
    geofupin folder a warning unless ``overwrite``). Each county is then checked in this process
    (``workers=0``) or as a task on the cluster.

    Never raises for bad input: every problem is in the result.
    """
    p = Path(path)
    try:
        region = load(p)
    except ScenarioError as exc:
        return RegionCheck(path=p, problems=tuple(exc.problems))
    target = out_dir if out_dir is not None else region.output_dir()
    jobs, problems = check_jobs(region, target)
    problems += _cross_county_problems(region, jobs)
    protect = [region.path] if region.path is not None else []
    for j in jobs:
        if j.scenario is not None:
            from .pipeline import input_files

            protect += list(input_files(j.scenario).values())
    try:
        target = gio.check_output_dir(target, overwrite=overwrite, protect=protect)
    except OutputExistsError as exc:
        message, _, fix = str(exc).partition(" Fix: ")
        problems.append(
            Problem("region.outputs.dir", message, fix or "Run with --overwrite to replace it.", severity="warning")
        )
    except GeofupinError as exc:
        message, _, fix = str(exc).partition(" Fix: ")
        problems.append(Problem("region.outputs.dir", message, fix))
    raw = per_county(region, check_county, jobs, workers=workers, scheduler=scheduler, memory_limit=memory_limit)
    counties = tuple(
        r if isinstance(r, CountyCheck) else
        CountyCheck(j.name, j.county_name, j.city, j.source, (Problem("county", str(r)),))
        for j, r in zip(jobs, raw, strict=True)
    )  # fmt: skip
    problems += _same_county_names(counties)
    return RegionCheck(path=region.path, problems=tuple(problems), counties=counties, out_dir=target)


def _same_county_names(counties: Sequence[CountyCheck]) -> list[Problem]:
    """A warning for each name that more than one county is shown under (their boundary polygons' names)."""
    seen: dict[str, list[str]] = {}
    for c in counties:
        if c.county_name:
            seen.setdefault(c.county_name, []).append(c.name)
    return [
        Problem(
            "region.counties",
            f"{len(names)} 个县显示为同一县名 {county!r}(情景 {', '.join(names)}) / {len(names)} counties are shown "
            f"as {county!r} (scenarios {', '.join(names)}): the region's tables and page tell them apart only by "
            "their scenario names.",
            "Give each county's boundary polygon (level: county) its own name, e.g. the county's official name.",
            severity="warning",
        )
        for county, names in seen.items()
        if len(names) > 1
    ]


def _cross_county_problems(region: Region, jobs: Sequence[CheckJob]) -> list[Problem]:
    if not region.cross_county:
        return []
    out = []
    if len(jobs) < 2:
        out.append(
            Problem(
                "region.cross_county",
                f"cross_county is on but the region has {len(jobs)} county: no neighbour to move to.",
                "Add the neighbouring counties, or set cross_county: false.",
                severity="warning",
            )
        )
    for j in jobs:
        sc = j.scenario
        if sc is not None and "allocate" not in sc.steps:
            out.append(
                Problem(
                    "region.cross_county",
                    f"county {j.name} ({j.source}) has no allocate step: it places nobody, so it neither sends "
                    "nor hosts cross-county moves.",
                    "Add 'allocate' (and 'plan') to the county's steps, or leave it out of cross_county.",
                    severity="warning",
                )
            )
    return out


# ----------------------------------------------------------------------------- aggregation
def county_table(results: Sequence[CountyResult], cross: Mapping[str, Any]) -> pd.DataFrame:
    """One row per county: persons and households relocating, placed, unserved, moved across, budget."""
    moves = cross.get("moves")
    moves = (
        moves
        if isinstance(moves, pd.DataFrame) and len(moves)
        else pd.DataFrame(columns=["from_county", "to_county", "persons", "households"])
    )
    extra = cross.get("budget", {})
    rows = []
    for c in results:
        out_p = int(moves.loc[moves["from_county"] == c.name, "persons"].sum())
        out_h = int(moves.loc[moves["from_county"] == c.name, "households"].sum())
        in_p = int(moves.loc[moves["to_county"] == c.name, "persons"].sum())
        in_h = int(moves.loc[moves["to_county"] == c.name, "households"].sum())
        payers = {
            p: float(c.budget_by_payer_yuan.get(p, 0.0)) + float(extra.get(c.name, {}).get(p, 0.0)) for p in PAYERS
        }
        total = round(c.budget_total_yuan + sum(extra.get(c.name, {}).values()), 2)
        rows.append(
            {
                "city": c.city,
                "county": c.name,
                "county_name": c.county_name or c.title,
                "status": "ok" if c.ok else "failed",
                "error": c.error or "",
                "cross_county": in_p + out_p > 0,
                "relocating_persons": c.relocating_persons,
                "relocating_households": c.relocating_households,
                "placed_persons": c.placed_persons + out_p,
                "placed_households": c.placed_households + out_h,
                "placed_in_county_persons": c.placed_persons,
                "moved_out_persons": out_p,
                "moved_out_households": out_h,
                "moved_in_persons": in_p,
                "moved_in_households": in_h,
                "unserved_persons": c.unserved_persons - out_p,
                "unserved_households": c.unserved_households - out_h,
                **{f"{p}_yuan": round(v, 2) for p, v in payers.items()},
                "budget_total_yuan": total,
            }
        )
    out = pd.DataFrame(rows)
    if not len(out):
        return out
    # a failed county has no figures (empty cells, not zeros that would read as a county with nobody to move)
    failed = out["status"] == "failed"
    for k in _COUNTS:
        out[k] = out[k].astype("Int64")
        out.loc[failed, k] = pd.NA
    for k in _MONEY:
        out[k] = out[k].astype(float)
        out.loc[failed, k] = np.nan
    return out


_MONEY = [f"{p}_yuan" for p in PAYERS] + ["budget_total_yuan"]
_COUNTS = [
    "relocating_persons", "relocating_households", "placed_persons", "placed_households", "placed_in_county_persons",
    "moved_out_persons", "moved_out_households", "moved_in_persons", "moved_in_households", "unserved_persons",
    "unserved_households",
]  # fmt: skip


def _row(
    level: str, level_zh: str, name: str, county: str, city: str, status: str, figures: dict[str, Any]
) -> dict[str, Any]:
    return {
        "level": level,
        "level_zh": level_zh,
        "name": name,
        "county": county,
        "city": city,
        "status": status,
        **figures,
    }


def budget_table(counties: pd.DataFrame, province: str) -> pd.DataFrame:
    """Budget by payer for each county, each city (subtotal) and the province (total), in 元 and 万元.

    ``counties`` as :func:`county_table` gives them. Failed counties are listed with their status and no
    figures (NA there); subtotals add the counties
    that completed.
    """
    ok = counties[counties["status"] == "ok"]
    rows: list[dict[str, Any]] = []
    if not len(counties):
        return pd.DataFrame(rows)
    for city in dict.fromkeys(counties["city"]):
        part = counties[counties["city"] == city]
        for _, r in part.iterrows():
            figures = {k: r[k] for k in [*_COUNTS, *_MONEY]}
            rows.append(_row("county", "县", r["county_name"], r["county"], city, r["status"], figures))
        done = ok[ok["city"] == city]
        figures = {k: done[k].sum() for k in [*_COUNTS, *_MONEY]}
        rows.append(_row("city", "市", city or "(未分市)", "", city, f"{len(done)}/{len(part)}", figures))
    figures = {k: ok[k].sum() for k in [*_COUNTS, *_MONEY]}
    rows.append(_row("province", "省", province or "(全区域)", "", "", f"{len(ok)}/{len(counties)}", figures))
    out = pd.DataFrame(rows)
    for k in [*_COUNTS, *_MONEY]:  # a failed county's figures are NA already (county_table): NaN here
        out[k] = pd.array(out[k], dtype="Float64").to_numpy(dtype=float, na_value=np.nan)
    for k in _MONEY:
        out[k] = out[k].round(2)
        out[k.replace("_yuan", "_wan_yuan")] = (out[k] / 1e4).round(4)
    for k in _COUNTS:
        out[k] = out[k].astype("Int64")
    return out


#: Chinese headers of the region tables (English second).
HEADERS_ZH = {
    "level": "级别代码", "level_zh": "级别", "name": "名称", "county": "县情景", "city": "市", "status": "状态",
    "county_name": "县", "error": "错误",
    "relocating_persons": "搬迁人数", "relocating_households": "搬迁户数", "placed_persons": "已安置人数",
    "placed_households": "已安置户数", "placed_in_county_persons": "本县安置人数", "moved_out_persons": "跨县迁出人数",
    "moved_out_households": "跨县迁出户数", "moved_in_persons": "跨县迁入人数", "moved_in_households": "跨县迁入户数",
    "unserved_persons": "未安置人数", "unserved_households": "未安置户数",
    **{f"{p}_yuan": f"{PAYER_ZH[p]}补助(元)" for p in PAYERS},
    **{f"{p}_wan_yuan": f"{PAYER_ZH[p]}补助(万元)" for p in PAYERS},
    "budget_total_yuan": "补助合计(元)", "budget_wan_yuan": "补助合计(万元)", "budget_total_wan_yuan": "补助合计(万元)",
    "cross_county": "含跨县安置",
    "from_county": "迁出县", "to_county": "迁入县", "village_id": "行政村代码", "group": "村民小组",
    "unit_id": "搬迁单元",
    "site_id": "安置点代码", "site_name": "安置点", "households": "户数", "persons": "人数", "time_min": "行程(分钟)",
    "dist_m": "直线距离(米)", "township": "乡镇",
}  # fmt: skip

#: The sheets of ``region.xlsx`` (what the CSV files hold, for people: Chinese headers over English ones).
REGION_SHEETS = {"budget": "区域补助汇总", "persons": "分县安置人数", "moves": "跨县安置明细"}


def region_workbook(tables: Mapping[str, pd.DataFrame], path: Path) -> Path:
    """``region.xlsx``: the region's tables with Chinese headers over English ones, 元 and persons as numbers.

    As the county's ``tables.xlsx``: bold frozen headers, every text a text cell (names from scenarios
    never become formulas), a failed county's figures empty cells.
    """
    sheets: dict[str, pd.DataFrame] = {}
    headers_en: dict[str, dict[str, str]] = {}
    formats: dict[str, dict[str, str]] = {}
    for key, df in tables.items():
        title = REGION_SHEETS[key]
        zh = {c: HEADERS_ZH.get(c, c) for c in df.columns}
        sheets[title] = df.rename(columns=zh)
        headers_en[title] = {z: c for c, z in zh.items()}
        formats[title] = {
            zh[c]: "#,##0" if c in _COUNTS or c in ("households", "persons") else "#,##0.00"
            for c in df.columns
            if c in _COUNTS or c.endswith("_yuan") or c in ("households", "persons", "time_min", "dist_m")
        }
    return gio.write_xlsx(sheets, path, headers_en=headers_en, number_formats=formats)


def _num(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    return v


def region_record(
    region: Region, results: Sequence[CountyResult], counties: pd.DataFrame, cross: Mapping[str, Any]
) -> dict[str, Any]:
    """``region.json``: per-county and total persons and budget, failures with their errors."""
    ok = counties[counties["status"] == "ok"]
    moves = cross.get("moves")
    if not isinstance(moves, pd.DataFrame):
        moves = pd.DataFrame(columns=["persons", "households"])
    n_moves = len(moves)
    per = []
    for (_, r), c in zip(counties.iterrows(), results, strict=True):
        per.append(
            {
                "name": c.name,
                "county_name": c.county_name or c.title,
                "city": c.city,
                "status": r["status"],
                "error": c.error,
                "folder": c.folder or None,
                **{k: _num(r[k]) if c.ok else None for k in _COUNTS},
                "budget_by_payer_yuan": {p: _num(r[f"{p}_yuan"]) for p in PAYERS if r[f"{p}_yuan"]} if c.ok else None,
                "budget_total_yuan": _num(r["budget_total_yuan"]) if c.ok else None,
                "budget_wan_yuan": round(float(r["budget_total_yuan"]) / 1e4, 4) if c.ok else None,
                "policy": c.policy,
                "warnings": c.warnings,
                "wall_s": c.wall_s,
                "cpu_s": c.cpu_s,
                "worker": c.worker or None,
                "worker_name": c.worker_name or None,
                "worker_pid": c.worker_pid or None,
                "worker_peak_rss_mb": c.peak_rss_mb,
            }
        )
    totals: dict[str, Any] = {k: int(ok[k].sum()) for k in _COUNTS}
    totals["budget_by_payer_yuan"] = {
        p: round(float(ok[f"{p}_yuan"].sum()), 2) for p in PAYERS if ok[f"{p}_yuan"].sum()
    }
    totals["budget_total_yuan"] = round(float(ok["budget_total_yuan"].sum()), 2)
    totals["budget_wan_yuan"] = round(totals["budget_total_yuan"] / 1e4, 4)
    cities = {}
    for city in dict.fromkeys(counties["city"]):
        part = ok[ok["city"] == city]
        cities[city] = {
            "counties": int((counties["city"] == city).sum()),
            "completed": len(part),
            "placed_persons": int(part["placed_persons"].sum()),
            "unserved_persons": int(part["unserved_persons"].sum()),
            "budget_total_yuan": round(float(part["budget_total_yuan"].sum()), 2),
        }
    return {
        "geofupin": __version__,
        "region": region.name,
        "title": {"zh": region.title.zh, "en": region.title.en},
        "province": region.province,
        "counties_total": len(results),
        "counties_completed": len(ok),
        "failed": [{"name": c.name, "error": c.error} for c in results if not c.ok],
        "workers_used": workers_used(results),
        "totals": totals,
        "cities": cities,
        "counties": per,
        "cross_county": {
            "enabled": region.cross_county,
            "max_time_min": region.cross_county_max_time_min if region.cross_county else None,
            "travel_time": "straight line x allocation.fallback_detour at allocation.fallback_speed_kph",
            "border_counties": list(cross.get("counties", [])),
            "moves": n_moves,
            "persons": int(moves["persons"].sum()) if n_moves else 0,
            "households": int(moves["households"].sum()) if n_moves else 0,
            "budget_by_origin_yuan": dict(cross.get("budget", {})),
            "warnings": list(cross.get("warnings", [])),
            "note": "county folders hold the first pass; cross_county_moves.csv and region.json add the moves",
        },
    }


def write_region(
    region: Region,
    tmp: Path,
    results: Sequence[CountyResult],
    cross: Mapping[str, Any],
    *,
    workers: int,
    scheduler: str | None,
) -> tuple[dict[str, Path], dict[str, Any]]:
    """Write the region's own files into ``tmp`` (the region's temporary folder): tables, region.json, index.html."""
    counties = county_table(results, cross)
    budget = budget_table(counties, region.province)
    record = region_record(region, results, counties, cross)
    written: dict[str, Path] = {}
    written["budget_region.csv"] = gio.write_csv(budget, tmp / "budget_region.csv")
    written["persons_region.csv"] = gio.write_csv(counties, tmp / "persons_region.csv")
    moves = cross.get("moves")
    book = {"budget": budget, "persons": counties}
    if region.cross_county and isinstance(moves, pd.DataFrame):
        written["cross_county_moves.csv"] = gio.write_csv(moves, tmp / "cross_county_moves.csv")
        book["moves"] = moves
    written["region.xlsx"] = region_workbook(book, tmp / "region.xlsx")
    written["region.json"] = gio.write_json(tmp / "region.json", record)
    written["index.html"] = gio.write_text(tmp / "index.html", index_html(region, results, budget, record))
    return {k: tmp / k for k in written}, record


def run_json(
    region: Region,
    results: Sequence[CountyResult],
    tmp: Path,
    written: Mapping[str, Path],
    timings: Mapping[str, float],
    *,
    workers: int,
    scheduler: str | None,
    memory_limit: str = "auto",
    out_dir: Path | None = None,
) -> dict[str, Any]:
    """The region's ``run.json``: its inputs, every county's input and output hashes, versions, timings.

    ``out_dir``: the folder the region is written to (``--out``), recorded as the resolved ``outputs.dir``.
    """
    from .pipeline import versions

    inputs = {"region": gio.file_sha256(region.path)} if region.path is not None and region.path.exists() else {}
    resolved = region.resolved()
    if out_dir is not None and isinstance(resolved.get("outputs"), dict):
        resolved["outputs"]["dir"] = str(out_dir)
    return {
        "geofupin": __version__,
        "region": region.name,
        "region_resolved": resolved,
        "inputs_sha256": inputs,
        "executor": {
            "kind": "scheduler" if scheduler else ("local_cluster" if workers > 0 else "in_process"),
            "workers": None if scheduler else workers,
            "scheduler": scheduler,
            "memory_limit": None if scheduler or workers <= 0 else memory_limit,
            "retries": None if scheduler or workers <= 0 else region.cluster.retries,
            "workers_used": workers_used(results),
        },
        "versions": {**versions(), **_dask_versions()},
        "counties": {
            c.name: {
                "status": "ok" if c.ok else "failed",
                "error": c.error,
                "run_id": c.run_id,
                "inputs_sha256": dict(c.inputs_sha256),
                "outputs_sha256": dict(c.outputs_sha256),
                "timings_s": dict(c.timings_s),
                "wall_s": c.wall_s,
                "cpu_s": c.cpu_s,
                "worker": c.worker or None,
                "worker_name": c.worker_name or None,
                "worker_pid": c.worker_pid or None,
                "worker_peak_rss_mb": c.peak_rss_mb,
            }
            for c in results
        },
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
        "outputs_sha256": {k: gio.file_sha256(p) for k, p in written.items()},
    }


def workers_used(results: Sequence[CountyResult]) -> dict[str, list[str]]:
    """Worker address -> the counties it ran (``in-process`` for counties run without a cluster)."""
    out: dict[str, list[str]] = {}
    for c in results:
        if c.worker_pid:
            out.setdefault(c.worker or "in-process", []).append(c.name)
    return out


def _dask_versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for name in ("dask", "distributed"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


# ----------------------------------------------------------------------------- the index page
def _fmt_int(v: Any) -> str:
    v = _num(v)
    return "—" if v is None else f"{int(v):,}"


def _fmt_wan(v: Any) -> str:
    v = _num(v)
    return "—" if v is None else f"{float(v) / 1e4:,.2f}"


def county_href(folder: str) -> str:
    """The relative link to a county's page: its folder name percent-encoded (``#``, ``%`` or a space stay text)."""
    from urllib.parse import quote

    return f"{quote(folder, safe='')}/index.html"


def _svg_map(results: Sequence[CountyResult]) -> str:
    """An SVG of the counties' outlines (lon/lat, equirectangular), each linking to its page."""
    shapes = [(c, c.outline_lonlat) for c in results if c.outline_lonlat is not None]
    if not shapes:
        return ""
    bounds = np.array([g.bounds for _, g in shapes])
    x0, y0, x1, y1 = bounds[:, 0].min(), bounds[:, 1].min(), bounds[:, 2].max(), bounds[:, 3].max()
    k = math.cos(math.radians((y0 + y1) / 2))
    w, h = max((x1 - x0) * k, 1e-9), max(y1 - y0, 1e-9)
    scale = 600.0 / max(w, h)

    def path(g: Any) -> str:
        parts = []
        polys = getattr(g, "geoms", [g])
        for p in polys:
            for ring in [getattr(p, "exterior", None), *getattr(p, "interiors", [])]:
                if ring is None:
                    continue
                xy = np.asarray(ring.coords)[:, :2]
                pts = " ".join(f"{(x - x0) * k * scale:.1f},{(y1 - y) * scale:.1f}" for x, y in xy)
                parts.append(f"M{pts}Z")
        return " ".join(parts)

    items = []
    for c, g in shapes:
        label = html.escape(c.county_name or c.title or c.name)
        cx, cy = g.representative_point().x, g.representative_point().y
        tx, ty = (cx - x0) * k * scale, (y1 - cy) * scale
        cls = "ok" if c.ok else "failed"
        body = (
            f'<path class="{cls}" d="{path(g)}"><title>{label}</title></path>'
            f'<text x="{tx:.1f}" y="{ty:.1f}" text-anchor="middle">{label}</text>'
        )
        if c.ok and c.has_page:
            href = html.escape(county_href(c.folder), quote=True)
            body = f'<a href="{href}">{body}</a>'
        items.append(body)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="-5 -5 {w * scale + 10:.1f} {h * scale + 10:.1f}" '
        f'role="img" aria-label="区域县界示意图">{"".join(items)}</svg>'
    )


def index_html(region: Region, results: Sequence[CountyResult], budget: pd.DataFrame, record: Mapping[str, Any]) -> str:
    """The region index page: offline HTML in Chinese, every county linked to its page, with totals.

    Every name and message (from scenarios, layers or errors) is escaped text, never markup.
    """
    e = html.escape
    t = record["totals"]
    failed = record["failed"]
    by_name = {c.name: c for c in results}
    rows = []
    for _, r in budget.iterrows():
        c = by_name.get(str(r["county"])) if r["level"] == "county" else None
        name = e(str(r["name"]))
        if c is not None and c.ok and c.has_page:
            name = f'<a href="{e(county_href(c.folder), quote=True)}">{name}</a>'
        if r["level"] == "county":
            if c is not None and c.ok and (_num(r["moved_out_persons"]) or _num(r["moved_in_persons"])):
                name += " *"  # its own folder holds the first pass, before the moves this row counts
            name += f' <small class="scenario">{e(str(r["county"]))}</small>'
        cls = f' class="{e(str(r["level"]))}{" failed" if r["status"] == "failed" else ""}"'
        status = {"ok": "完成", "failed": "失败"}.get(str(r["status"]), str(r["status"]))
        cells = [
            e(str(r["level_zh"])), name, e(str(r["city"] or "")), e(status),
            _fmt_int(r["relocating_persons"]), _fmt_int(r["placed_persons"]), _fmt_int(r["placed_households"]),
            _fmt_int(r["unserved_persons"]), _fmt_int(r["moved_out_persons"]), _fmt_int(r["moved_in_persons"]),
            *(_fmt_wan(r[f"{p}_yuan"]) for p in PAYERS), _fmt_wan(r["budget_total_yuan"]),
        ]  # fmt: skip
        rows.append(f"<tr{cls}>" + "".join(f"<td>{x}</td>" for x in cells) + "</tr>")
    head = [
        "级别", "名称", "市", "状态", "搬迁人数", "已安置人数", "已安置户数", "未安置人数", "跨县迁出", "跨县迁入",
        *(f"{PAYER_ZH[p]}补助(万元)" for p in PAYERS), "补助合计(万元)",
    ]  # fmt: skip
    errors = ""
    if failed:
        items = "".join(f"<li><b>{e(str(f['name']))}</b>:{e(str(f['error']))}</li>" for f in failed)
        errors = f'<section class="errors"><h2>未完成的县({len(failed)} 个)</h2><ul>{items}</ul></section>'
    cc = record["cross_county"]
    cross = ""
    if cc["enabled"]:
        max_min = f"{float(cc['max_time_min']):g}"
        cross = (
            f"<p>跨县安置(第二轮,仅边界县,行程不超过 {e(max_min)} 分钟,按直线距离估算):"
            f"{_fmt_int(cc['persons'])} 人、{_fmt_int(cc['households'])} 户,明细见 "
            '<a href="cross_county_moves.csv">cross_county_moves.csv</a>。</p>'
        )
        if cc["persons"]:
            cross += (
                '<p class="note">本表与合计已计入跨县安置;各县文件夹(县规划图、表格)为该县第一轮(本县内)'
                "安置结果,标 * 的县涉及跨县迁出或迁入。</p>"
            )
    shown = {c.name for c in results if c.outline_lonlat is not None}
    credit_texts = list(dict.fromkeys(t for c in results if c.name in shown or c.has_page for t in c.credits))
    credits_html = (
        f'<p class="credits">数据来源 data: {"; ".join(e(t) for t in credit_texts)}</p>' if credit_texts else ""
    )
    title = e(region.title.zh)
    summary = (
        f"共 {record['counties_total']} 个县,完成 {record['counties_completed']} 个。"
        f"搬迁 {_fmt_int(t['relocating_persons'])} 人,已安置 {_fmt_int(t['placed_persons'])} 人"
        f"({_fmt_int(t['placed_households'])} 户),未安置 {_fmt_int(t['unserved_persons'])} 人;"
        f"补助合计 {_fmt_wan(t['budget_total_yuan'])} 万元。"
    )
    if failed:
        summary += f"未完成的 {len(failed)} 个县不计入合计(见下)。"
    files = ["region.xlsx", "budget_region.csv", "persons_region.csv", "region.json"]
    if cc["enabled"]:
        files.insert(3, "cross_county_moves.csv")
    links = "、".join(f'<a href="{f}">{f}</a>' for f in files)
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif; margin: 1.5em; color: #222; }}
.wide {{ overflow-x: auto; max-width: 100%; }}
table {{ border-collapse: collapse; font-size: 14px; }}
td, th {{ border: 1px solid #bbb; padding: 3px 6px; text-align: right; white-space: nowrap; }}
td:nth-child(-n+4), th {{ text-align: left; }}
tr.city td {{ background: #eef3f8; font-weight: bold; }}
tr.province td {{ background: #dde8f3; font-weight: bold; }}
tr.failed td {{ color: #a00; }}
.errors {{ border: 1px solid #a00; padding: 0 1em; margin: 1em 0; }}
svg {{ max-width: 640px; width: 100%; height: auto; margin: 1em 0; }}
svg path.ok {{ fill: #cfe3c8; stroke: #456; stroke-width: 1; }}
svg path.failed {{ fill: #f2c8c8; stroke: #a00; stroke-width: 1; }}
svg a:hover path {{ fill: #9fc98f; }}
small.scenario {{ color: #667; }}
svg text {{ font-size: 13px; fill: #123; pointer-events: none; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p>{e(region.title.en)}</p>
<p>{summary}</p>
{errors}
{_svg_map(results)}
{cross}
<div class="wide">
<table>
<thead><tr>{"".join(f"<th>{e(h)}</th>" for h in head)}</tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
</table>
</div>
<p>各县名称链接到该县的规划图;表格与数据:{links}。</p>
{credits_html}
</body>
</html>
"""
