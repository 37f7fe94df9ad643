"""Benchmark: a county-scale published map (10,000 villages, 50,000 road segments).

Measures the page size, build time and first render in headless Chromium of geofupin's
map against a baseline built in the same run: plain folium ``GeoJson`` layers of the same
data (what ``gdf.explore()`` would produce). Targets: < 5 MB and < 3 s first render.

    python benchmarks/bench_maps.py [--quick]

The last lines are the ratios (geofupin / baseline; lower is better).

``--steps`` measures instead the demo county's ``access``, ``site`` and ``map`` steps (light outputs:
CSV tables only, no printed maps or plan document) of this tree against a reference git revision
(``--ref``, default ``main``; checked out with ``git worktree add`` as ``bench_county.py`` does),
in wall and in CPU seconds (``time.process_time``: inside a region both cores are busy, so a step's
threads buy no wall time there and CPU is what it costs).
Each of ``--repeats`` rounds (default 3) starts one fresh process per tree, alternating reference /
new; a process runs the demo's steps up to the map, then times each measured step: its first call
(the map's includes importing folium and geofupin.maps, as a county run pays it) and ``--calls``
more calls on the same inputs (each step gets the results of the steps before it, as in a run).
It prints MEDIANS over the rounds (first call) and over all the further calls (warm), the ratios
new / reference and the load average::

    python benchmarks/bench_maps.py --steps --ref main --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from shapely import linestrings, points

from geofupin.context import Layers, RunContext, StepResult
from geofupin.crs import WGS84, gauss_kruger_3deg
from geofupin.maps import MapConfig, build_run_map, render_html
from geofupin.maps.offline import inline_assets

CHROMIUM = Path("/usr/bin/chromium")
TIMEOUT_S = 60
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def synthetic(n_villages: int, n_segments: int, seed: int = 1) -> Layers:
    rng = np.random.default_rng(seed)
    crs = gauss_kruger_3deg(109.3)
    x0, y0, w, h = 560_000.0, 4_050_000.0, 60_000.0, 50_000.0
    vx, vy = x0 + rng.uniform(0, w, n_villages), y0 + rng.uniform(0, h, n_villages)
    persons = rng.integers(40, 900, n_villages)
    households = persons // 4
    reloc = np.where(rng.random(n_villages) < 0.2, persons // 3, 0)
    villages = gpd.GeoDataFrame(
        {
            "village_id": [f"V{i:05d}" for i in range(n_villages)],
            "name": [f"村{i:05d}" for i in range(n_villages)],
            "township": [f"乡{i % 9}" for i in range(n_villages)],
            "households": households,
            "persons": persons,
            "poor_households": households // 5,
            "poor_persons": persons // 5,
            "relocate_households": reloc // 4,
            "relocate_persons": reloc,
        },
        geometry=points(vx, vy),
        crs=crs,
    )
    k = 6  # vertices per segment, a wiggly 600 m segment
    sx, sy = x0 + rng.uniform(0, w, n_segments), y0 + rng.uniform(0, h, n_segments)
    ang = rng.uniform(0, 2 * np.pi, n_segments)[:, None] + np.cumsum(rng.normal(0, 0.4, (n_segments, k)), axis=1)
    xs = sx[:, None] + np.cumsum(120 * np.cos(ang), axis=1)
    ys = sy[:, None] + np.cumsum(120 * np.sin(ang), axis=1)
    classes = np.array(["county", "township", "village", "track", "path"])[rng.integers(0, 5, n_segments)]
    roads = gpd.GeoDataFrame(
        {"road_id": [f"R{i}" for i in range(n_segments)], "road_class": classes},
        geometry=linestrings(np.stack([xs, ys], axis=-1)),
        crs=crs,
    )
    return Layers(crs=crs, villages=villages, roads=roads)


def baseline_html(layers: Layers) -> str:
    m = folium.Map(tiles=None, prefer_canvas=True)
    v = layers.villages.to_crs(WGS84)
    folium.GeoJson(
        v,
        name="villages",
        marker=folium.CircleMarker(radius=4),
        popup=folium.GeoJsonPopup(["name", "persons", "households"]),
    ).add_to(m)
    folium.GeoJson(layers.roads.to_crs(WGS84), name="roads").add_to(m)
    folium.LayerControl().add_to(m)
    return m.get_root().render()


def _tree_cpu_s(root: int) -> float:
    """CPU seconds (user + system) used so far by the descendants of process ``root`` (Linux /proc)."""
    procs: dict[int, tuple[int, float]] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            f = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        procs[int(d.name)] = (int(f[1]), (int(f[11]) + int(f[12])) / tick)
    total, todo, seen = 0.0, [root], set()
    while todo:
        p = todo.pop()
        for pid, (ppid, cpu) in procs.items():
            if ppid == p and pid not in seen:
                seen.add(pid)
                total += cpu
                todo.append(pid)
    return total


def first_render_s(html: str, ready: str, tmp: Path, name: str) -> tuple[float, float] | None:
    """Wall and browser-CPU seconds from navigation to the first drawn feature (median of 2).

    The CPU time of the browser processes does not grow when other jobs compete for the
    cores, so it is the fairer figure on a shared machine. ``None`` without a browser.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not CHROMIUM.exists():
        return None
    path = tmp / name
    path.write_text(html, encoding="utf-8")
    times: list[float] = []
    cpus: list[float] = []
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        for _ in range(2):
            page = b.new_page(viewport={"width": 1280, "height": 800})
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "data:")) else r.abort())
            t = time.perf_counter()
            c = _tree_cpu_s(os.getpid())
            try:
                page.goto(path.as_uri(), timeout=TIMEOUT_S * 1000)
                page.wait_for_selector(ready, state="attached", timeout=TIMEOUT_S * 1000)
                page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
                times.append(time.perf_counter() - t)
                cpus.append(_tree_cpu_s(os.getpid()) - c)
            except Exception:  # playwright TimeoutError: report the limit, a lower bound
                times.append(float("inf"))
                cpus.append(float("inf"))
            page.close()
            if times[-1] == float("inf"):
                break
        b.close()
    return float(np.median(times)), float(np.median(cpus))


# --------------------------------------------------------------------------- the demo's steps, new vs reference
STEP_NAMES = ("access", "site", "map")
_CHILD = r"""
import dataclasses, json, sys, time
from pathlib import Path
from geofupin import pipeline, scenario
from geofupin.context import RunContext
measured, calls = sys.argv[1].split(","), int(sys.argv[2])
sc = scenario.load(Path("scenarios/demo.yaml"))
sc = dataclasses.replace(sc, outputs=dataclasses.replace(sc.outputs, tables=("csv",), static_maps=(), document=()))
steps = [s for s in pipeline.available_steps(sc) if s != "map"]
ctx = pipeline.run(sc, steps=steps).ctx
before = {}
for i, name in enumerate(pipeline.STEP_ORDER):
    before[name] = {k: v for k, v in ctx.results.items() if k in pipeline.STEP_ORDER[:i]}
out = {"folium_loaded": "folium" in sys.modules}
for name in measured:
    c = RunContext(scenario=ctx.scenario, layers=ctx.layers, results=before[name])
    times, cpus = [], []
    for _ in range(1 + calls):
        t, p = time.perf_counter(), time.process_time()
        pipeline.step_function(name)(c)
        times.append(time.perf_counter() - t)
        cpus.append(time.process_time() - p)
    out[name] = times
    out[name + ":cpu"] = cpus
print("RESULT " + json.dumps(out))
"""


def _child(tree: Path, calls: int) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, ",".join(STEP_NAMES), str(calls)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise SystemExit(f"the step run failed in {tree}:\n{proc.stderr[-3000:]}")
    return dict(json.loads(line[len("RESULT ") :]))


def steps_main(ref: str, repeats: int, calls: int) -> None:
    """The demo's access, site and map steps, this tree against ``ref``: medians (see the module doc)."""
    from bench_county import REPO, _load, reference_tree

    work = Path(tempfile.mkdtemp(prefix="bench-maps-"))
    print(f"load average before: {_load()}", flush=True)
    runs: dict[str, list[dict[str, object]]] = {"ref": [], "new": []}
    try:
        trees = {"ref": reference_tree(ref, work), "new": REPO}
        for i in range(repeats):
            for label, tree in trees.items():  # alternating
                runs[label].append(_child(tree, calls))
                print(f"  round {i + 1}/{repeats} {label}: done; load {_load()}", flush=True)
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(work / f"ref-{ref}")])
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nmedians of {repeats} processes per tree ({calls} warm calls each); reference {ref}; load {_load()}")
    for clock, suffix in (("wall", ""), ("CPU (all threads of the process)", ":cpu")):
        print(f"{clock} seconds")
        print(f"{'step':<8} {'':6} {'reference':>10} {'new':>10} {'new/ref':>8}")
        total = {"ref": 0.0, "new": 0.0}
        for name in STEP_NAMES:
            for kind, lo, hi in (("first", 0, 1), ("warm", 1, None)):
                med = {
                    label: statistics.median(x for r in rs for x in list(r[name + suffix])[lo:hi])
                    for label, rs in runs.items()
                }
                if kind == "warm":
                    total = {k: total[k] + med[k] for k in total}
                print(f"{name:<8} {kind:6} {med['ref']:10.3f} {med['new']:10.3f} {med['new'] / med['ref']:8.2f}")
        print(f"{'sum':<8} {'warm':6} {total['ref']:10.3f} {total['new']:10.3f} {total['new'] / total['ref']:8.2f}")
    loaded = {label: [bool(r["folium_loaded"]) for r in rs] for label, rs in runs.items()}
    print(f"folium already imported before the map step: {loaded}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2,000 villages and 10,000 segments")
    ap.add_argument("--steps", action="store_true", help="the demo's access/site/map steps against --ref")
    ap.add_argument("--ref", default="main", help="reference git revision for --steps (default main)")
    ap.add_argument("--repeats", type=int, default=3, help="--steps: processes per tree (medians)")
    ap.add_argument("--calls", type=int, default=3, help="--steps: warm calls of each step per process")
    a = ap.parse_args()
    if a.steps:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        steps_main(a.ref, a.repeats, a.calls)
        return
    nv, ns = (2_000, 10_000) if a.quick else (10_000, 50_000)
    layers = synthetic(nv, ns)
    # step summaries as a run records them: the page draws its summary panel from these
    v = layers.villages
    hh, pp = int(v["relocate_households"].sum()), int(v["relocate_persons"].sum())
    # and the per-village tables the village popups answer from (destination, year, times before/after)
    rng = np.random.default_rng(2)
    moving = v[v["relocate_persons"] > 0]
    n = len(moving)
    access = {"village_id": moving["village_id"].to_numpy(), "group": "一组"}
    access |= {"site_id": [f"S{i:02d}" for i in rng.integers(1, 13, n)]}
    access |= {"households": moving["relocate_households"].to_numpy(), "persons": moving["relocate_persons"].to_numpy()}
    for kind in ("school", "clinic", "town"):
        access[f"before_time_min_{kind}"] = rng.uniform(20, 120, n)
        access[f"after_time_min_{kind}"] = rng.uniform(2, 30, n)
    phasing = pd.DataFrame({"year": rng.integers(2011, 2016, n), "village_id": access["village_id"], "group": "一组"})
    results = {
        "allocate": StepResult(
            tables={"relocation_access": pd.DataFrame(access)},
            summary={"relocating_persons": pp, "served_persons": pp, "unserved_persons": 0, "open_sites": 12},
        ),
        "phase": StepResult(tables={"phasing_plan": phasing}),
        "plan": StepResult(
            summary={"budget_total_yuan": 9_000.0 * pp, "relocated_households": hh, "relocated_persons": pp}
        ),
    }
    ctx = RunContext(scenario=SimpleNamespace(), layers=layers, results=results)
    print(f"data: {nv:,} villages, {ns:,} road segments")

    t = time.perf_counter()
    ours = render_html(build_run_map(ctx, config=MapConfig()))
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    base = baseline_html(layers)
    t_base = time.perf_counter() - t
    mb_ours, mb_base = len(ours.encode()) / 1e6, len(base.encode()) / 1e6
    print(f"geofupin : {mb_ours:7.2f} MB  build {t_ours:6.2f} s  (offline, assets inlined)")
    print(f"baseline : {mb_base:7.2f} MB  build {t_base:6.2f} s  (folium GeoJson, CDN links)")
    with tempfile.TemporaryDirectory() as d:
        got = first_render_s(ours, ".leaflet-marker-pane .marker-cluster", Path(d), "ours.html")
        # the baseline links Leaflet from CDNs, which the measurement blocks: render its inlined twin
        base_offline = inline_assets(base)
        got_base = first_render_s(base_offline, ".leaflet-overlay-pane canvas", Path(d), "base.html") if got else None
    load = os.getloadavg()[0]
    print(f"target size < 5 MB: {'met' if mb_ours < 5 else 'NOT met'}")
    if got is not None and got_base is not None:
        (r_ours, c_ours), (r_base, c_base) = got, got_base
        shown = f"> {TIMEOUT_S} s (gave up)" if r_base == float("inf") else f"{r_base:.2f} s (CPU {c_base:.2f} s)"
        print(f"first render: geofupin {r_ours:.2f} s (browser CPU {c_ours:.2f} s), baseline {shown}")
        print(
            f"first render < 3 s: {'met' if r_ours < 3 else 'NOT met'} wall, {'met' if c_ours < 3 else 'NOT met'} "
            f"CPU (load average {load:.1f} on {os.cpu_count()} cores while measuring)"
        )
    print(f"ratio size   geofupin/baseline: {mb_ours / mb_base:.3f}")
    print(f"ratio build  geofupin/baseline: {t_ours / t_base:.3f}")
    if got is not None and got_base is not None:
        bound = "< " if r_base == float("inf") else ""
        print(f"ratio render geofupin/baseline: {bound}{r_ours / min(r_base, TIMEOUT_S):.3f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
