"""Region runs at growing size: the demo county tiled 1x, 4x, 16x (64x with --sizes), on dask workers vs one process.

For each size (number of counties: 1 = 1x1 tile, 4 = 2x2, 16 = 4x4, 64 = 8x8) it runs the same region
two ways, ``--repeats`` times each, and reports MEDIANS (never best-of):

- ``region``: :func:`geofupin.region.run` with ``--workers`` local dask workers (default 2), one county a task;
- ``baseline``: the same counties in this one process, one after the other (``workers=0``: the per-county
  sequential run, the same task function);
- ``single`` (with ``--single``): the whole tiled region as ONE county scenario in a fresh process (every
  layer a list of the tiles' files, the tiles' DEMs merged into one raster) -- the way the issue measured
  "today's single-process time" (703 s at 64x), and the baseline of its 0.35x goal; ``--single-ref REV``
  runs the same scenario file on the code of revision REV (for example the main the issue was filed
  against), leaving out, and naming, the sections that code does not know.

``--modes region,single`` picks the modes (``--single-repeats`` the single runs: one takes ~15 min at 64x).
``--light`` makes every county (and the single scenario) write its CSV tables, page, GeoPackage and roster
files only -- no workbook, print maps or plan document (the region's ``outputs.county``).

Per size it prints wall time, CPU time (this process plus every county's own CPU) and peak RSS (this process
and the largest worker), the ratios against the 1x run and the growth exponent ``log(t_N / t_1) / log(N)``
(1.0 = linear in the number of counties), the speedup of the workers over the baseline, and per pipeline
step (load, access, site, allocate, plan, phase, roster, map, write) the wall time summed over counties.
CPU time is measured per county (a county is one task), not per pipeline step.

Usage::

    python benchmarks/bench_region.py                      # sizes 1,4,16; 3 repeats; 2 workers
    python benchmarks/bench_region.py --sizes 1,4 --repeats 3
    python benchmarks/bench_region.py --sizes 1,4,16,64 --repeats 1

Tiles are generated once into ``--cache`` (default a folder under the system temp dir); outputs go to a
temporary folder removed at the end.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from geofupin import region as region_mod
from geofupin.config.region import CountyOutputs, Region, RegionOutputs, Tiles

REPO = Path(__file__).resolve().parents[1]
STEPS = ("load", "access", "site", "allocate", "plan", "phase", "roster", "map", "write")


#: ``--light``: what each county writes in a province run that only adds the counties up.
LIGHT = CountyOutputs(tables=("csv",), static_maps=(), document=())


def make_region(n: int, cache: Path, *, light: bool = False) -> Region:
    side = math.isqrt(n)
    if side * side != n:
        raise SystemExit(f"size {n} is not a square number of counties (1, 4, 16, 64)")
    return Region(
        name=f"bench-{n}x",
        tiles=Tiles(scenario=REPO / "scenarios" / "demo.yaml", dir=cache / "tiles", rows=side, cols=side),
        outputs=RegionOutputs(dir=None, county=LIGHT if light else CountyOutputs()),
    )


def warm(reg: Region, work: Path) -> None:
    """Generate the tiles' layers before timing (a cache, like the demo's own layers)."""
    from geofupin import demo

    for j in region_mod.county_jobs(reg, work / "warm"):
        assert j.tile is not None and j.tile_base is not None and j.tile_dir is not None
        demo.ensure_tile(j.tile_base, j.tile_dir, row=j.tile[0], col=j.tile[1], county_name=j.county_name)


def merged_dem(reg: Region, jobs: list[Any], work: Path) -> Path:
    """The tiles' DEMs merged into one raster (written once per region size)."""
    import rasterio
    from rasterio.merge import merge

    dem = work / f"{reg.name}-single-dem.tif"
    if not dem.exists():
        srcs = [rasterio.open(j.scenario.layers.dem) for j in jobs]
        try:
            mosaic, transform = merge(srcs)
            profile = srcs[0].profile | {
                "height": mosaic.shape[1],
                "width": mosaic.shape[2],
                "transform": transform,
                "compress": "deflate",
            }
        finally:
            for src in srcs:
                src.close()
        with rasterio.open(dem, "w", **profile) as dst:
            dst.write(mosaic)
    return dem


def single_spec(reg: Region, work: Path) -> dict[str, Any]:
    """The tiled region as ONE county scenario, as the plain data of a scenario file.

    The county scenario the tiles come from (``scenarios/demo.yaml``) with: each layer kind the list
    of the tiles' files (labelled by tile), the tiles' DEMs merged into one raster, the first tile's
    placement (its village ids, as the first county of the region has them), ``n`` counties' money a
    year (``phasing.budget_ceiling_yuan`` times ``n``) and at least 300 s for the bigger phasing
    MILP, and the region's county outputs. Plain data, so that any revision's ``scenario.load``
    reads it (:data:`SINGLE_DRIVER` drops the keys an older revision does not know, and says so).
    """
    import yaml

    from geofupin import demo

    assert reg.tiles is not None
    jobs = region_mod.county_jobs(reg, work / f"{reg.name}-single-jobs")
    first = jobs[0].scenario
    raw = yaml.safe_load(reg.tiles.scenario.read_text(encoding="utf-8"))
    spec: dict[str, Any] = {k: v for k, v in raw.items() if k not in ("demo", "layers", "outputs")}
    spec["name"] = f"{reg.name}-single"
    spec["title"] = {"zh": f"{reg.name}单一情景", "en": f"{reg.name} as one scenario"}
    spec["crs"] = first.crs
    layers: dict[str, Any] = {}
    for kind, src in first.layers.sources().items():
        layers[kind] = [
            {"path": str(j.scenario.layers.sources()[kind].path), "layer": src.layer, "label": j.name}
            | ({"columns": dict(src.columns)} if src.columns else {})
            for j in jobs
        ]
    if first.layers.dem is not None:
        layers["dem"] = str(merged_dem(reg, jobs, work))
    spec["layers"] = layers
    # the policy file and the roster: relative to the scenarios folder of the tree that runs it (an older
    # revision reads its own policy file, whose rules it knows)
    spec["_relative"] = [f"{sec}.{key}" for sec, key in (("policy", "file"), ("roster", "path"))
                         if isinstance(spec.get(sec), dict) and spec[sec].get(key)]  # fmt: skip
    if isinstance(spec.get("placement"), dict):  # the first tile's village ids (demo.shift_placement)
        code = demo.tile_code(0, 0)
        pl = dict(spec["placement"])
        housing = []
        for t in pl.get("transitional_housing") or []:
            t = t | {"village_id": f"{code}-{t['village_id']}"}
            housing.append(t | {"site_id": f"{code}-{t['site_id']}"} if t.get("site_id") else t)
        pl["transitional_housing"] = housing
        if pl.get("scattered_households"):
            pl["scattered_households"] = {f"{code}-{k}": n for k, n in pl["scattered_households"].items()}
        spec["placement"] = pl
    if isinstance(spec.get("phasing"), dict):  # n counties' money a year, and time to solve the bigger plan
        ph = dict(spec["phasing"])
        if ph.get("budget_ceiling_yuan") is not None:
            ph["budget_ceiling_yuan"] = ph["budget_ceiling_yuan"] * len(jobs)
        ph["time_limit_s"] = max(float(ph.get("time_limit_s") or 0), 300.0)
        spec["phasing"] = ph
    outs = first.outputs
    spec["outputs"] = {
        "tables": list(outs.tables),
        "static_maps": list(outs.static_maps),
        "document": list(outs.document),
        "paper": outs.paper,
    }
    return spec


#: One single-scenario run in a fresh process, by the code on its PYTHONPATH (this tree's or a reference
#: revision's, ``--single-ref``). argv: the scenario's plain data (JSON), the work folder. It writes the
#: scenario file, drops the keys the revision reports as unknown (older code: no roster, no placement...;
#: printed as DROPPED), then times ``pipeline.run`` + ``pipeline.write_outputs`` (imports and the read of
#: the scenario file not timed) and reads the step times and figures back from ``run.json``.
SINGLE_DRIVER = r"""
import json, re, resource, sys, time
from pathlib import Path
import yaml
from geofupin import errors, pipeline, scenario

spec, work = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8")), Path(sys.argv[2])
work.mkdir(parents=True, exist_ok=True)
path, dropped = work / "single.yaml", []
for dotted in spec.pop("_relative", []):  # relative to this tree's scenarios folder
    sec, key = dotted.split(".")
    spec[sec][key] = str((Path.cwd() / "scenarios" / spec[sec][key]).resolve())

def drop(where):
    keys = [int(k) if k.isdigit() else k for k in re.findall(r"[^.\[\]]+", where)]
    node = spec
    for k in keys[:-1]:
        node = node[k]
    del node[keys[-1]]
    dropped.append(where)

def unknown_kinds(exc):
    # a layer's feature kinds this revision does not know (nursing homes, say): left out of its layer
    got = {}
    for p in exc.problems:
        m = re.match(r"'kind' value\(s\) (.+?) not allowed", p.message)
        if m:
            layer = re.match(r"\w+", p.where).group(0)
            got.setdefault(layer, set()).update(re.findall(r"'([^']+)'", m.group(1)))
    return got if got and all("'kind' value" in p.message for p in exc.problems) else {}

for _ in range(50):
    path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    try:
        sc = scenario.load(path)
        pipeline.load_inputs(sc)  # not timed: what this revision can read (and the files warm)
        break
    except errors.ProblemsError as exc:
        kinds = unknown_kinds(exc)
        for layer, values in kinds.items():
            where = "kind NOT IN (" + ", ".join(f"'{v}'" for v in sorted(values)) + ")"
            for src in spec["layers"][layer]:
                src["where"] = where if "where" not in src else f"({src['where']}) AND {where}"
            dropped.append(f"{layer} where {where}")
        unknown = [p.where for p in exc.problems if p.message.startswith("unknown key")]
        if not kinds and (not unknown or len(unknown) != len(exc.problems)):
            raise
        for where in unknown:
            drop(where)
out = work / "out"
c0, t0 = time.process_time(), time.perf_counter()
res = pipeline.run(sc)
pipeline.write_outputs(res, out)
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
rec = json.loads((out / "run.json").read_text(encoding="utf-8"))
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
print("RESULT " + json.dumps({
    "wall_s": wall, "cpu_s": cpu, "rss_self_mb": rss, "rss_worker_mb": rss, "dropped": dropped,
    "steps": {("write" if k == "write_tables" else k): float(v) for k, v in rec.get("timings_s", {}).items()},
    "placed": int(rec["summary"]["allocate"]["served_persons"]),
    "budget_wan": round(float(rec["summary"]["plan"]["budget_total_yuan"]) / 1e4, 2),
}))
"""


def once_single_in(tree: Path, spec: dict[str, Any], work: Path) -> dict[str, Any]:
    """The tiled region as one scenario (``spec``, :func:`single_spec`), run by ``tree``'s code in a fresh process."""
    import json

    work.mkdir(parents=True, exist_ok=True)
    spec_file = work / "single.json"
    spec_file.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [sys.executable, "-c", SINGLE_DRIVER, str(spec_file), str(work)]
    proc = subprocess.run(cmd, env=env, cwd=tree, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"the single scenario failed in {tree} ({proc.returncode}):\n{proc.stderr[-3000:]}")
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    shutil.rmtree(work / "out", ignore_errors=True)
    return dict(json.loads(line[len("RESULT ") :]))


def once(reg: Region, out: Path, workers: int) -> dict[str, Any]:
    """One region run: wall, CPU (this process + every county), peak RSS (this process, largest worker), steps."""
    if out.exists():
        shutil.rmtree(out)
    c0, t0 = time.process_time(), time.perf_counter()
    res = region_mod.run(reg, out_dir=out, workers=workers)
    wall = time.perf_counter() - t0
    own_cpu = time.process_time() - c0
    failed = [c.name for c in res.counties if not c.ok]
    if failed:
        raise SystemExit(f"counties failed: {failed}: {res.counties[0].error}")
    county_cpu = sum(c.cpu_s for c in res.counties)
    cpu = own_cpu + (county_cpu if workers > 0 else 0.0)  # in-process: the counties' CPU is this process's
    steps = {s: sum(float(c.timings_s.get(s, 0.0)) for c in res.counties) for s in STEPS}
    rss_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    rss_worker = max((c.peak_rss_mb for c in res.counties), default=0.0) if workers > 0 else rss_self
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "rss_self_mb": rss_self,
        "rss_worker_mb": rss_worker,
        "counties_s": res.timings_s.get("counties", 0.0),
        "region_s": {k: float(v) for k, v in res.timings_s.items()},
        "steps": steps,
        "placed": res.record["totals"]["placed_persons"],
        "budget_wan": res.record["totals"]["budget_wan_yuan"],
    }


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out = {k: statistics.median(r[k] for r in runs) for k in ("wall_s", "cpu_s", "rss_self_mb", "rss_worker_mb")}
    out["steps"] = {s: statistics.median(r["steps"].get(s, 0.0) for r in runs) for s in STEPS}
    if "region_s" in runs[0]:
        out["region_s"] = {k: statistics.median(r["region_s"].get(k, 0.0) for r in runs) for k in runs[0]["region_s"]}
    out["placed"] = runs[0]["placed"]
    out["budget_wan"] = runs[0]["budget_wan"]
    return out


# ----------------------------------------------------------------------------- first render of the pages (--page)
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
#: What a person first sees on each kind of page: the county map's villages, the region's table rows.
READY = {"county": ".leaflet-marker-pane .gfp-village", "index": "table tbody tr"}
PAGE_TIMEOUT_S = 120

_FIRST_RENDER_JS = """() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => {
    const fcp = performance.getEntriesByName('first-contentful-paint')[0];
    const nav = performance.getEntriesByType('navigation')[0];
    done({fcp_ms: fcp ? fcp.startTime : null, load_ms: nav ? nav.loadEventEnd : null, ready_ms: performance.now()});
})))"""


def first_render(pages: dict[str, tuple[Path, str]], repeats: int) -> dict[str, dict[str, float]]:
    """Open each page (``label -> (index.html, kind)``) offline in headless Chromium; medians of ``repeats``.

    Per page: ``fcp_ms`` (the browser's first-contentful-paint entry), ``load_ms`` (the load event's
    end), ``ready_ms`` (the page's first features attached, ``READY[kind]``, and two animation frames
    drawn: what a person first sees), the wall seconds from navigation to then, and the file's MB.
    A fresh page each time, every non-file request refused; a page past ``PAGE_TIMEOUT_S`` reports inf.
    """
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise SystemExit(f"--page needs {CHROMIUM} (apt-get install chromium) and the playwright package")
    out: dict[str, dict[str, float]] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        for label, (path, kind) in pages.items():
            runs: list[dict[str, float]] = []
            for _ in range(repeats):
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "data:", "blob:"))
                           else r.abort())  # fmt: skip
                t = time.perf_counter()
                try:
                    page.goto(path.as_uri(), timeout=PAGE_TIMEOUT_S * 1000)
                    page.wait_for_selector(READY[kind], state="attached", timeout=PAGE_TIMEOUT_S * 1000)
                    got = page.evaluate(_FIRST_RENDER_JS)
                    runs.append({**{k: float(v) for k, v in got.items() if v is not None},
                                 "wall_s": time.perf_counter() - t})  # fmt: skip
                except Exception:  # playwright's TimeoutError: the limit, a lower bound
                    runs.append({"fcp_ms": math.inf, "load_ms": math.inf, "ready_ms": math.inf, "wall_s": math.inf})
                page.close()
            keys = ("fcp_ms", "load_ms", "ready_ms", "wall_s")
            out[label] = {k: statistics.median(r.get(k, math.nan) for r in runs) for k in keys}
            out[label]["mb"] = path.stat().st_size / 1e6
        browser.close()
    return out


def page_bench(sizes: list[int], repeats: int, workers: int, cache: Path) -> None:
    """``--page``: first render of the 1x demo page, and of the region index + a county page per region size.

    The 1x page is ``scenarios/demo.yaml`` run as ``geofupin run`` runs it; each region is the demo
    tiled (4 = 2x2 counties) run on ``workers`` local workers. Prints medians and ratios to the 1x page
    (the issue's goal: a region's pages open within 3x of the 1x page).
    """
    from geofupin import pipeline, scenario

    work = Path(tempfile.mkdtemp(prefix="bench-region-page-"))
    try:
        sc = scenario.load(REPO / "scenarios" / "demo.yaml")
        demo_dir = work / "demo"
        pipeline.write_outputs(pipeline.run(sc), pipeline.check_output_dir(sc, demo_dir))
        pages: dict[str, tuple[Path, str]] = {"1x demo page": (demo_dir / "index.html", "county")}
        for n in sizes:
            reg = make_region(n, cache)
            warm(reg, work)
            res = region_mod.run(reg, out_dir=work / f"region-{n}", workers=workers)
            first = next(c for c in res.counties if c.ok and c.has_page)
            pages[f"{n}x region index"] = (res.out_dir / "index.html", "index")
            pages[f"{n}x county page"] = (res.out_dir / first.folder / "index.html", "county")
        got = first_render(pages, repeats)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_render(got, sizes)


def print_render(got: dict[str, dict[str, float]], sizes: list[int]) -> None:
    """The first-render table: each page's size and times, and the ratio to the 1x demo page."""
    base = got["1x demo page"]
    print("\nfirst render in headless Chromium (medians); x = ratio to the 1x demo page")
    print(f"{'page':<20} {'MB':>7} {'FCP ms':>8} {'x':>5} {'load ms':>8} {'ready ms':>9} {'x':>5} {'wall s':>7}")
    for label, m in got.items():
        print(
            f"{label:<20} {m['mb']:7.2f} {m['fcp_ms']:8.0f} {m['fcp_ms'] / base['fcp_ms']:5.2f} {m['load_ms']:8.0f} "
            f"{m['ready_ms']:9.0f} {m['ready_ms'] / base['ready_ms']:5.2f} {m['wall_s']:7.2f}"
        )
    for n in sizes:
        both = got[f"{n}x region index"]["ready_ms"] + got[f"{n}x county page"]["ready_ms"]
        print(f"{n}x: region index + a county page, ready {both:.0f} ms = {both / base['ready_ms']:.2f}x the 1x page "
              "(goal <= 3x)")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1,4,16", help="counties per region, square numbers (default 1,4,16)")
    ap.add_argument("--repeats", type=int, default=3, help="runs per size and mode; medians are reported")
    ap.add_argument("--workers", type=int, default=2, help="local dask workers of the region runs")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "geofupin-bench-region")
    ap.add_argument("--skip-baseline", action="store_true", help="only the worker runs (no sequential baseline)")
    ap.add_argument("--single", action="store_true", help="also run the region as ONE scenario in one process")
    ap.add_argument(
        "--modes",
        default=None,
        help="comma list of region,baseline,single to run (default: region,baseline; overrides --skip-baseline "
        "and --single)",
    )
    ap.add_argument(
        "--single-ref",
        default=None,
        metavar="REV",
        help="also run the single scenario on the code of git revision REV (mode single@REV), e.g. the session's "
        "start: 'today's single-process time' of the issue's goal",
    )
    ap.add_argument(
        "--single-repeats",
        type=int,
        default=None,
        help="runs of the single scenario per size (default --repeats; at 64x one run takes ~15 min)",
    )
    ap.add_argument(
        "--light", action="store_true", help="counties (and --single) write CSV only: no workbook, prints, document"
    )
    ap.add_argument(
        "--render",
        action="store_true",
        help="after the timings, first render in Chromium of the 1x demo page and of each size's last timed "
        "region (index + a county page)",
    )
    ap.add_argument(
        "--page",
        action="store_true",
        help="instead: first render in Chromium of the 1x demo page and of each size's region index + a county "
        "page (--sizes default 4 here)",
    )
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    args.cache.mkdir(parents=True, exist_ok=True)
    if args.page:
        page_bench([4] if args.sizes == ap.get_default("sizes") else sizes, args.repeats, args.workers, args.cache)
        return
    work = Path(tempfile.mkdtemp(prefix="bench-region-"))
    results: dict[int, dict[str, dict[str, Any]]] = {}
    ref_tree: Path | None = None
    try:
        for n in sizes:
            reg = make_region(n, args.cache, light=args.light)
            warm(reg, work)
            modes = {"region": args.workers} if args.skip_baseline else {"region": args.workers, "baseline": 0}
            if args.single:
                modes["single"] = -1
            if args.modes:
                known = {"region": args.workers, "baseline": 0, "single": -1}
                wanted = [m.strip() for m in args.modes.split(",") if m.strip()]
                bad = [m for m in wanted if m not in known]
                if bad:
                    raise SystemExit(f"unknown --modes {bad}; choose from {sorted(known)}")
                modes = {m: known[m] for m in wanted}
            if args.single_ref:
                modes[f"single@{args.single_ref}"] = -1
            results[n] = {}
            spec_of: dict[str, Any] = {}

            def spec(reg: Region = reg, spec_of: dict[str, Any] = spec_of) -> dict[str, Any]:
                if not spec_of:
                    spec_of.update(single_spec(reg, work))
                return spec_of

            for mode, w in modes.items():
                runs = []
                repeats = args.single_repeats if mode.startswith("single") and args.single_repeats else args.repeats
                for i in range(repeats):
                    out = work / f"{mode}-{n}"
                    if mode == "single":
                        r = once_single_in(REPO, spec(), work / f"single-{n}")
                    elif mode.startswith("single@"):
                        if ref_tree is None:
                            from bench_county import reference_tree

                            ref_tree = reference_tree(args.single_ref, work)
                        r = once_single_in(ref_tree, spec(), work / f"ref-single-{n}")
                        if i == 0 and r.get("dropped"):
                            print(f"  {mode}: the revision does not know {', '.join(r['dropped'])} (left out there)")
                    else:
                        r = once(reg, out, w)
                    runs.append(r)
                    print(
                        f"  {n:>3}x {mode:<16} run {i + 1}/{repeats}: wall {r['wall_s']:7.1f} s, "
                        f"cpu {r['cpu_s']:7.1f} s, rss self {r['rss_self_mb']:6.0f} MB, "
                        f"worker {r['rss_worker_mb']:6.0f} MB",
                        flush=True,
                    )
                results[n][mode] = median_of(runs)
        if args.render:
            rendered = render_timed(work, sizes, args.repeats)
    finally:
        if ref_tree is not None:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(ref_tree)], check=False)
        shutil.rmtree(work, ignore_errors=True)
    report(results, sizes, args)
    if args.render:
        print_render(rendered, [n for n in sizes if f"{n}x region index" in rendered])


def render_timed(work: Path, sizes: list[int], repeats: int) -> dict[str, dict[str, float]]:
    """``--render``: the pages of the region runs just timed (the last repeat of each size) and the 1x demo page."""
    from geofupin import pipeline, scenario

    sc = scenario.load(REPO / "scenarios" / "demo.yaml")
    demo_dir = work / "demo-page"
    pipeline.write_outputs(pipeline.run(sc), pipeline.check_output_dir(sc, demo_dir))
    pages: dict[str, tuple[Path, str]] = {"1x demo page": (demo_dir / "index.html", "county")}
    for n in sizes:
        out = work / f"region-{n}"
        if not (out / "index.html").exists():
            continue
        folder = sorted(p.parent for p in out.glob("*/index.html"))[0]
        pages[f"{n}x region index"] = (out / "index.html", "index")
        pages[f"{n}x county page"] = (folder / "index.html", "county")
    return first_render(pages, repeats)


def report(results: dict[int, dict[str, dict[str, Any]]], sizes: list[int], args: argparse.Namespace) -> None:
    base = results[sizes[0]]
    print(f"\nregion runs, medians of {args.repeats}; {args.workers} workers; {os.cpu_count()} CPUs on this machine")
    print(
        f"{'size':>5} {'mode':<16} {'wall s':>8} {'x1x':>6} {'exp':>5} {'cpu s':>8} {'x1x':>6} "
        f"{'rss MB':>7} {'worker MB':>9} {'speedup':>8} {'placed':>8} {'万元':>10}"
    )
    for n in sizes:
        for mode, m in results[n].items():
            b = base[mode]
            ratio_t = m["wall_s"] / b["wall_s"]
            ratio_c = m["cpu_s"] / b["cpu_s"]
            exp = math.log(ratio_t) / math.log(n / sizes[0]) if n != sizes[0] else float("nan")
            speed = ""
            if mode == "region" and "baseline" in results[n]:
                speed = f"{results[n]['baseline']['wall_s'] / m['wall_s']:.2f}x"
            if mode == "region" and "single" in results[n]:
                speed += f" {m['wall_s'] / results[n]['single']['wall_s']:.2f}/1"
            print(
                f"{n:>4}x {mode:<16} {m['wall_s']:8.1f} {ratio_t:6.2f} {exp:5.2f} {m['cpu_s']:8.1f} {ratio_c:6.2f} "
                f"{m['rss_self_mb']:7.0f} {m['rss_worker_mb']:9.0f} {speed:>8} {m['placed']:>8,} "
                f"{m['budget_wan']:>10,.2f}"
            )
    print("\nper pipeline step, wall seconds summed over the counties (median), and x the 1x run:")
    print(f"{'size':>5} {'mode':<16} " + " ".join(f"{s:>14}" for s in STEPS))
    for n in sizes:
        for mode, m in results[n].items():
            b = base[mode]["steps"]
            cells = [f"{m['steps'][s]:7.1f} ({(m['steps'][s] / b[s]) if b[s] else float('nan'):4.1f})" for s in STEPS]
            print(f"{n:>4}x {mode:<16} " + " ".join(f"{c:>14}" for c in cells))
    print("\nthe region's own phases (median seconds): prepare, counties on the cluster, cross-county pass, aggregate")
    for n in sizes:
        rs = results[n].get("region", {}).get("region_s")
        if rs:
            print(f"{n:>4}x " + "  ".join(f"{k} {v:.1f}" for k, v in rs.items()))
    if len(sizes) >= 2 and all("region" in results[n] for n in sizes[-2:]):
        n1, n2 = sizes[-2], sizes[-1]
        g = math.log(results[n2]["region"]["wall_s"] / results[n1]["region"]["wall_s"]) / math.log(n2 / n1)
        print(f"\ngrowth exponent of the region's wall time from {n1}x to {n2}x: {g:.2f} (goal <= 1.1)")
    for n in sizes:
        for mode in [m for m in results[n] if m.startswith("single")]:
            if "region" not in results[n]:
                continue
            r, s1 = results[n]["region"]["wall_s"], results[n][mode]["wall_s"]
            rss = results[n]["region"]["rss_worker_mb"]
            code = "this tree's code" if mode == "single" else f"the code of {mode.split('@', 1)[1]}"
            print(f"{n}x: region on {args.workers} workers {r:.1f} s / one scenario in one process ({code}) "
                  f"{s1:.1f} s = {r / s1:.2f}x (goal at 64x <= 0.35x); largest worker {rss:.0f} MB "
                  "(goal < 1,536 MB)")  # fmt: skip


if __name__ == "__main__":
    main()
