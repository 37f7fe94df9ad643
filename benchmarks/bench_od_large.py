"""Accessibility at province scale: a road network of up to 2 M nodes, 15.6k villages, 1.3k sites.

Usage::

    python benchmarks/bench_od_large.py               # 20k, 200k and 2M road nodes (hours: the full OD at 2M)
    python benchmarks/bench_od_large.py --quick       # 20k and 200k only
    python benchmarks/bench_od_large.py --quick --od-sites 130          # the OD from a tenth of the sites
    python benchmarks/bench_od_large.py --sizes 2000000 --repeats 1 --od-sites 26 --networkx-max 0

At 2M road nodes the build process peaks at about 3.3 GB RSS (1.1 GB of it making the synthetic
roads) and the access process at about 5 GB (it holds the base network, the benchmark's own routing
graph and the one ``access.od`` attaches); ``--od-sites`` times the OD from a fixed sample of the
sites (per-site times are comparable across sizes; the full OD at 2M is ~10 CPU-minutes of raw
scipy alone).

The region is one province-sized square (452 km a side, about 204,000 km2, the 64x demo region's
area) at three levels of road detail: a perturbed grid whose spacing gives about 20k, 200k or 2M
junctions, each link with a bent middle vertex, the grid lines cut into roads of 3-8 links with the
demo's classes (provincial, county, township, village, track) and surfaces (paved, gravel, earth),
8 % of links missing, 2 % one-way, plus national trunk roads running diagonally across the grid
without shared vertices (``build`` nodes their crossings). The points are the same at every size:
15,600 villages (24 % relocating, as in the demo), 1,300 candidate sites and 6,400 facilities of
five kinds, uniformly placed; the OD cut-off is the demo's 300 min.

Each case runs in its own subprocess (so its peak RSS, ``ru_maxrss``, is its own) and is timed as the
MEDIAN of ``--repeats`` runs (default 3; never best-of); geofupin and its baseline run round-robin in
the same process so that the machine's load falls on both alike:

* ``build``: :func:`geofupin.network.from_roads` (noding, crossings, snapping of dangling ends,
  classes, one-way) vs a competent minimal baseline: the vertex graph of the same lines in numpy
  and ``scipy.sparse`` (nodes = distinct coordinates, an edge per segment, CSR; no crossings, no
  tolerance, no pieces), and networkx ``Graph.add_edges_from`` of that edge list up to 200k;
* ``snap``: :func:`geofupin.network.snap` of villages and sites and ``attach``;
* ``od``: :func:`geofupin.access.od` (public API: snapping, attaching, times and path lengths, long
  table) and the engine alone (:func:`geofupin.accessibility.od_matrix`, times only) vs raw
  ``scipy.sparse.csgraph.dijkstra`` from the sites on the same reverse CSR with ``limit``, chunked;
* ``nearest``: :func:`geofupin.access.nearest` for the five kinds (public API) vs one raw
  ``dijkstra(min_only=True, limit=...)`` per kind on the same CSR;
* the bounded OD output: rows of the full OD within the cut-off vs the rows written with
  ``outputs.od_k_nearest`` (20: relocating villages and their 20 quickest sites,
  :func:`geofupin.pipeline.od_k_nearest`) and the size of both as CSV and Parquet.

Printed last: ratios geofupin / baseline per size and growth exponents ``log(t2/t1) / log(n2/n1)``
between sizes (1.0 = linear in road nodes), with the load average at start and end.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import geofupin  # noqa: E402
from geofupin import io as gio  # noqa: E402
from geofupin.accessibility import nearest, od_matrix  # noqa: E402
from geofupin.config.access import AccessConfig  # noqa: E402
from geofupin.network import snap  # noqa: E402
from geofupin.pipeline import od_k_nearest  # noqa: E402

CRS = "EPSG:4545"
SIDE_M = 452_000.0
ORIGIN = (300_000.0, 3_500_000.0)
N_VILLAGES = 15_600
N_SITES = 1_300
FACILITIES = {"county_seat": 64, "town": 512, "school": 1_600, "clinic": 4_096, "hospital": 128}
CUTOFF_MIN = 300.0
K_NEAREST = 20
CONFIG = AccessConfig(max_snap_dist_m=3000.0, od_cutoff_min=CUTOFF_MIN, facility_kinds=tuple(FACILITIES))


# --------------------------------------------------------------------------- the synthetic region


def make_roads(n_nodes: int, seed: int = 0) -> gpd.GeoDataFrame:
    """A perturbed grid of about ``n_nodes`` junctions over the region, as road LineStrings."""
    rng = np.random.default_rng(seed)
    k = max(round(math.sqrt(n_nodes / 0.95)), 4)  # about 5 % of junctions go with the missing links
    step = SIDE_M / (k - 1)
    xs, ys = np.meshgrid(np.arange(k) * step, np.arange(k) * step)
    xy = np.stack([xs.ravel(), ys.ravel()], 1) + rng.uniform(-0.25, 0.25, (k * k, 2)) * step + ORIGIN
    node = np.arange(k * k).reshape(k, k)
    frames = []
    for horizontal in (True, False):
        grid = node if horizontal else node.T  # grid[r] = the junctions of row (column) r
        # each row cut into roads of 3-8 links: road r_id covers links [start, end)
        cuts = np.cumsum(rng.integers(3, 9, (k, k // 3 + 2)), axis=1)
        row_of = np.repeat(np.arange(k), cuts.shape[1])
        c = cuts.ravel()
        keep = c < k - 1
        row_of, c = row_of[keep], c[keep]
        rows_s = np.r_[np.arange(k), row_of]
        starts = np.r_[np.zeros(k, np.int64), c]
        order = np.lexsort((starts, rows_s))
        rows_s, starts = rows_s[order], starts[order]
        last = np.r_[rows_s[1:] != rows_s[:-1], True]
        ends = np.where(last, k - 1, np.r_[starts[1:], 0])
        nlink = ends - starts
        ok = nlink > 0
        rows_s, starts, nlink = rows_s[ok], starts[ok], nlink[ok]
        # vertices: junctions and one bent middle vertex per link
        nv = 2 * nlink + 1
        road = np.repeat(np.arange(len(starts)), nv)
        rank = np.arange(int(nv.sum())) - np.repeat(np.cumsum(nv) - nv, nv)
        j0 = grid[rows_s[road], starts[road] + rank // 2]
        j1 = grid[rows_s[road], np.minimum(starts[road] + rank // 2 + 1, k - 1)]
        mid = rank % 2 == 1
        pts = xy[j0].copy()
        bend = rng.uniform(-0.12, 0.12, (int(mid.sum()), 2)) * step
        pts[mid] = 0.5 * (xy[j0[mid]] + xy[j1[mid]]) + bend
        geoms = shapely.linestrings(pts, indices=road)
        r = rows_s
        cls = np.where(
            r % 40 == 20,
            "provincial",
            np.where(r % 10 == 5, "county", np.where(r % 4 == 2, "township", "village")),
        ).astype(object)
        track = (cls == "village") & (rng.random(len(r)) < 0.15)
        cls[track] = "track"
        paved = np.isin(cls, ["provincial", "county"])
        u = rng.random(len(r))
        surface = np.where(paved | (u < 0.45), "paved", np.where(u < 0.75, "gravel", "earth")).astype(object)
        surface[track] = np.where(rng.random(int(track.sum())) < 0.5, "earth", "gravel")
        frames.append(pd.DataFrame({"road_class": cls, "surface": surface, "geometry": geoms}))
    roads = pd.concat(frames, ignore_index=True)
    roads = roads[rng.random(len(roads)) > 0.08].reset_index(drop=True)
    # national trunk roads: diagonals every ~110 km, vertices every ~1 km, no shared vertices
    trunks = []
    for off in np.arange(-SIDE_M, SIDE_M, 110_000.0) + 37_000.0:
        t = np.linspace(0.0, 1.0, int(SIDE_M * 1.5 / 1000.0))
        x = t * SIDE_M
        y = x + off
        inside = (y >= 0) & (y <= SIDE_M)
        if inside.sum() >= 2:
            line = np.stack([x[inside], y[inside]], 1) + ORIGIN
            trunks.append(shapely.linestrings(line + rng.normal(0, 30.0, line.shape)))
    trunk = pd.DataFrame({"road_class": "national", "surface": "paved", "geometry": trunks})
    roads = pd.concat([roads, trunk], ignore_index=True)
    n = len(roads)
    roads["road_id"] = [f"R{i:07d}" for i in range(n)]
    roads["oneway"] = rng.random(n) < 0.02
    return gpd.GeoDataFrame(roads, geometry="geometry", crs=CRS)


def make_points(seed: int = 1) -> dict[str, gpd.GeoDataFrame]:
    """Villages, candidate sites and facilities, uniform over the region (the same at every size)."""
    rng = np.random.default_rng(seed)

    def pts(n: int) -> np.ndarray:
        return shapely.points(rng.uniform(0, SIDE_M, (n, 2)) + ORIGIN)

    persons = rng.integers(80, 1200, N_VILLAGES)
    villages = gpd.GeoDataFrame(
        {
            "village_id": [f"V{i:05d}" for i in range(N_VILLAGES)],
            "persons": persons,
            "relocate_persons": np.where(rng.random(N_VILLAGES) < 0.24, persons // 3, 0),
        },
        geometry=pts(N_VILLAGES),
        crs=CRS,
    )
    sites = gpd.GeoDataFrame({"site_id": [f"S{i:04d}" for i in range(N_SITES)]}, geometry=pts(N_SITES), crs=CRS)
    kinds = np.concatenate([[k] * n for k, n in FACILITIES.items()])
    facilities = gpd.GeoDataFrame(
        {"facility_id": [f"F{i:05d}" for i in range(len(kinds))], "kind": kinds},
        geometry=pts(len(kinds)),
        crs=CRS,
    )
    return {"villages": villages, "sites": sites, "facilities": facilities}


# --------------------------------------------------------------------------- baselines


def vertex_graph(roads: gpd.GeoDataFrame) -> sp.csr_matrix:
    """The minimal competent build: distinct coordinates as nodes, each segment an edge, a CSR of lengths."""
    coords, li = shapely.get_coordinates(roads.geometry.values, return_index=True)
    key = np.round(coords / 1e-3).astype(np.int64)
    k1 = (key[:, 0] - key[:, 0].min()) * (int(key[:, 1].max() - key[:, 1].min()) + 1) + (key[:, 1] - key[:, 1].min())
    _, node = np.unique(k1, return_inverse=True)
    seg = np.flatnonzero(li[1:] == li[:-1])
    u, v = node[seg], node[seg + 1]
    w = np.hypot(*(coords[seg + 1] - coords[seg]).T)
    n = int(node.max()) + 1
    g = sp.coo_matrix((np.r_[w, w], (np.r_[u, v], np.r_[v, u])), shape=(n, n)).tocsr()
    return g


def networkx_graph(roads: gpd.GeoDataFrame) -> Any:
    import networkx as nx

    g = vertex_graph(roads).tocoo()
    graph = nx.Graph()
    graph.add_weighted_edges_from(zip(g.row.tolist(), g.col.tolist(), g.data.tolist(), strict=True))
    return graph


def raw_od(graph: sp.csr_matrix, src: np.ndarray, dst: np.ndarray, cutoff: float) -> np.ndarray:
    """Chunked multi-row scipy dijkstra with ``limit`` (the same chunk budget as geofupin: 256 MiB)."""
    chunk = max(1, int(256 * 2**20 // (graph.shape[0] * 8 + 1)))
    out = np.empty((len(src), len(dst)))
    for s in range(0, len(src), chunk):
        out[s : s + chunk] = dijkstra(graph, indices=src[s : s + chunk], limit=cutoff)[:, dst]
    return out


# --------------------------------------------------------------------------- one case (a subprocess)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def timed(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, tuple[float, float, Any]]:
    """Median wall and CPU time of each function over ``repeats`` round-robin rounds, and the last result."""
    wall: dict[str, list[float]] = {k: [] for k in fns}
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    outs: dict[str, Any] = {}
    for _ in range(repeats):
        for k, fn in fns.items():
            outs[k] = None
            t0, c0 = time.perf_counter(), time.process_time()
            outs[k] = fn()
            wall[k].append(time.perf_counter() - t0)
            cpu[k].append(time.process_time() - c0)
    return {k: (statistics.median(wall[k]), statistics.median(cpu[k]), outs[k]) for k in fns}


def case_build(n_nodes: int, repeats: int, which: str) -> dict[str, Any]:
    roads = make_roads(n_nodes)
    res: dict[str, Any] = {"lines": len(roads), "rss_input_mb": rss_mb()}
    if which == "geofupin":
        r = timed({"build": lambda: geofupin.network.from_roads(roads, config=CONFIG)}, repeats)
        net = r["build"][2]
        res.update(net.summary())
        res["build_s"], res["build_cpu_s"] = r["build"][:2]
        # the piece LineStrings are made on first use (snapping); time them once
        t0 = time.perf_counter()
        _ = net.piece_geometry
        res["piece_geometry_s"] = time.perf_counter() - t0
    elif which == "vertex_graph":
        r = timed({"build": lambda: vertex_graph(roads)}, repeats)
        res["nodes"] = r["build"][2].shape[0]
        res["build_s"], res["build_cpu_s"] = r["build"][:2]
    else:
        r = timed({"build": lambda: networkx_graph(roads)}, repeats)
        res["nodes"] = r["build"][2].number_of_nodes()
        res["build_s"], res["build_cpu_s"] = r["build"][:2]
    res["rss_mb"] = rss_mb()
    return res


def case_access(n_nodes: int, repeats: int, out_dir: Path, od_sites: int) -> dict[str, Any]:
    roads = make_roads(n_nodes)
    p = make_points()
    villages, sites, facilities = p["villages"], p["sites"], p["facilities"]
    if 0 < od_sites < len(sites):  # a fixed sample (every k-th site) for the OD timings of large sizes
        sites = sites.iloc[np.linspace(0, len(sites) - 1, od_sites).round().astype(int)].reset_index(drop=True)
    res: dict[str, Any] = {"rss_input_mb": rss_mb(), "od_sites": len(sites)}
    net = geofupin.network.from_roads(roads, config=CONFIG)
    del roads
    res["nodes"] = net.n_nodes
    res["rss_build_mb"] = rss_mb()
    opts = {"max_snap_dist_m": CONFIG.max_snap_dist_m, "walk_speed_kph": CONFIG.walk_speed_kph}

    def snap_attach() -> Any:
        sn = {"villages": snap(net, villages.geometry, **opts), "sites": snap(net, sites.geometry, **opts)}
        return net.attach(sn)

    r = timed({"snap": snap_attach}, repeats)
    res["snap_s"], res["snap_cpu_s"] = r["snap"][:2]
    routing, nodes = r["snap"][2]
    res["rss_snap_mb"] = rss_mb()
    vn, sn_ = nodes["villages"], nodes["sites"]
    ok_v, ok_s = vn[vn >= 0], sn_[sn_ >= 0]

    # OD: the public API (with distances and the table), the engine (times only) and raw scipy
    r = timed(
        {
            "od_api": lambda: geofupin.access.od(net, villages, sites, cutoff_min=CUTOFF_MIN, config=CONFIG),
            "od_engine": lambda: od_matrix(routing, ok_v, ok_s, cutoff_min=CUTOFF_MIN, with_dist=False),
            "od_raw": lambda: raw_od(routing.reverse, ok_s, ok_v, CUTOFF_MIN).T,
        },
        repeats,
    )
    for k in ("od_api", "od_engine", "od_raw"):
        res[f"{k}_s"], res[f"{k}_cpu_s"] = r[k][:2]
    od_df = r["od_api"][2]
    eng, raw = r["od_engine"][2].time_min, r["od_raw"][2]
    fin = np.isfinite(raw)
    res["od_engine_equal_raw"] = bool(np.array_equal(np.isfinite(eng), fin) and np.allclose(eng[fin], raw[fin]))
    res["rss_od_mb"] = rss_mb()
    del r, eng, raw, fin
    routing = nodes = None  # free the first routing graph before the second is made

    # nearest facility per kind: the public API vs one raw multi-source run per kind
    fac_snap = snap(net, facilities.geometry, **opts)
    vil_snap = snap(net, villages.geometry, **opts)
    routing2, nodes2 = net.attach({"villages": vil_snap, "facilities": fac_snap})
    kind = facilities["kind"].to_numpy()

    def engine_nearest() -> dict[str, np.ndarray]:
        out = {}
        for k in FACILITIES:
            f = nodes2["facilities"][kind == k]
            out[k] = nearest(routing2, f, with_dist=False).time_min[np.maximum(nodes2["villages"], 0)]
        return out

    def raw_nearest() -> dict[str, np.ndarray]:
        out = {}
        for k in FACILITIES:
            f = nodes2["facilities"][kind == k]
            t = dijkstra(routing2.reverse, indices=f[f >= 0], min_only=True, limit=np.inf)
            out[k] = t[np.maximum(nodes2["villages"], 0)]
        return out

    r = timed(
        {
            "nearest_api": lambda: geofupin.access.nearest(net, villages, facilities, config=CONFIG),
            "nearest_engine": engine_nearest,
            "nearest_raw": raw_nearest,
        },
        repeats,
    )
    for k in ("nearest_api", "nearest_engine", "nearest_raw"):
        res[f"{k}_s"], res[f"{k}_cpu_s"] = r[k][:2]
    va, rawn = r["nearest_api"][2], r["nearest_raw"][2]
    okv = nodes2["villages"] >= 0
    res["nearest_equal_raw"] = bool(
        all(  # unreachable: NaN in the layer, inf from scipy
            np.allclose(
                va[f"time_min_{k}"].to_numpy(float)[okv],
                np.where(np.isinf(rawn[k]), np.nan, rawn[k])[okv],
                equal_nan=True,
            )
            for k in FACILITIES
        )
    )
    res["rss_nearest_mb"] = rss_mb()

    # the bounded OD output
    t0 = time.perf_counter()
    kept = od_k_nearest(od_df, villages, K_NEAREST)
    res["k_nearest_s"] = time.perf_counter() - t0
    res["od_rows_full"] = len(od_df)
    res["od_rows_written"] = len(kept)
    res["od_pairs_possible"] = N_VILLAGES * len(sites)
    for label, frame in (("full", od_df), ("written", kept)):
        csv = gio.write_csv(frame, out_dir / f"od_{label}.csv")
        res[f"od_{label}_csv_mb"] = csv.stat().st_size / 2**20
        if gio.parquet_available():
            pq = gio.write_parquet(frame, out_dir / f"od_{label}.parquet")
            res[f"od_{label}_parquet_mb"] = pq.stat().st_size / 2**20
    res["rss_mb"] = rss_mb()
    return res


# --------------------------------------------------------------------------- the driver


def run_child(case: str, n: int, repeats: int, extra: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", case, "--sizes", str(n), "--repeats", str(repeats), *extra]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        return {"error": f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def exponent(t1: float, t2: float, n1: float, n2: float) -> float:
    if not (t1 > 0 and t2 > 0 and n2 != n1):
        return float("nan")
    return math.log(t2 / t1) / math.log(n2 / n1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="20k and 200k road nodes only")
    ap.add_argument("--sizes", default=None, help="comma-separated target node counts")
    ap.add_argument("--repeats", type=int, default=3, help="runs per case; the median is reported")
    ap.add_argument("--networkx-max", type=int, default=200_000, help="largest size for the networkx build")
    ap.add_argument(
        "--od-sites",
        type=int,
        default=0,
        help="time the OD from this many of the 1,300 sites (a fixed sample; 0 = all), for the large sizes",
    )
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",")]
    else:
        sizes = [20_000, 200_000] if args.quick else [20_000, 200_000, 2_000_000]
    if args.child:
        n = sizes[0]
        if args.child == "access":
            out = case_access(n, args.repeats, Path(args.out), args.od_sites)
        else:
            out = case_build(n, args.repeats, args.child)
        print(json.dumps(out))
        return

    load0 = os.getloadavg()
    print(f"load average at start: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f} on {os.cpu_count()} cores")
    print(
        f"{N_VILLAGES:,} villages, {N_SITES:,} sites, {sum(FACILITIES.values()):,} facilities; "
        f"cut-off {CUTOFF_MIN:g} min"
    )
    print(f"median of {args.repeats} per case; each case in its own process (peak RSS = its ru_maxrss)\n")
    rows: dict[int, dict[str, Any]] = {}
    for n in sizes:
        row: dict[str, Any] = {}
        row["build"] = run_child("geofupin", n, args.repeats, [])
        row["vertex"] = run_child("vertex_graph", n, args.repeats, [])
        if n <= args.networkx_max:
            row["networkx"] = run_child("networkx", n, args.repeats, [])
        with tempfile.TemporaryDirectory(prefix="bench_od_large_") as tmp:
            row["access"] = run_child("access", n, args.repeats, ["--out", tmp, "--od-sites", str(args.od_sites)])
        rows[n] = row
        b, a = row["build"], row["access"]
        print(f"== target {n:,} road nodes ==")
        if "error" in b or "error" in a:
            print(f"  failed: build {b.get('error', 'ok')}, access {a.get('error', 'ok')}\n")
            continue
        print(
            f"  roads {b['lines']:,} lines -> {b['nodes']:,} nodes, {b['edges']:,} edges, {b['pieces']:,} pieces, "
            f"{b['components']} components"
        )
        print(
            f"  build: geofupin {b['build_s']:.2f} s (cpu {b['build_cpu_s']:.2f}, piece LineStrings +"
            f"{b['piece_geometry_s']:.2f} s, peak RSS {b['rss_mb']:.0f} MB, input {b['rss_input_mb']:.0f} MB); "
            f"vertex graph {row['vertex']['build_s']:.2f} s ({row['vertex']['nodes']:,} nodes, "
            f"{row['vertex']['rss_mb']:.0f} MB)"
            + (
                f"; networkx {row['networkx']['build_s']:.2f} s ({row['networkx']['rss_mb']:.0f} MB)"
                if "networkx" in row and "build_s" in row["networkx"]
                else ""
            )
        )
        print(f"  snap 15.6k villages + 1.3k sites + attach: {a['snap_s']:.2f} s (peak RSS {a['rss_snap_mb']:.0f} MB)")
        print(
            f"  OD {N_VILLAGES:,} villages x {a['od_sites']:,} sites within {CUTOFF_MIN:g} min: "
            f"access.od {a['od_api_s']:.2f} s, engine (times) {a['od_engine_s']:.2f} s, "
            f"raw scipy {a['od_raw_s']:.2f} s; engine == raw: {a['od_engine_equal_raw']}; "
            f"peak RSS {a['rss_od_mb']:.0f} MB"
        )
        print(
            f"  nearest {len(FACILITIES)} kinds: access.nearest (snapping 22k points, attaching, distances) "
            f"{a['nearest_api_s']:.2f} s, engine (times) {a['nearest_engine_s']:.2f} s, raw scipy "
            f"{a['nearest_raw_s']:.2f} s; equal: {a['nearest_equal_raw']}; peak RSS {a['rss_nearest_mb']:.0f} MB"
        )
        print(
            f"  OD rows: {a['od_rows_full']:,} within the cut-off of {a['od_pairs_possible']:,} pairs; written "
            f"(od_k_nearest={K_NEAREST}) {a['od_rows_written']:,}; CSV {a['od_full_csv_mb']:.1f} -> "
            f"{a['od_written_csv_mb']:.1f} MB"
            + (
                f", Parquet {a['od_full_parquet_mb']:.1f} -> {a['od_written_parquet_mb']:.1f} MB"
                if "od_full_parquet_mb" in a
                else ""
            )
            + "\n"
        )

    print("== ratios geofupin / baseline (medians, same process) ==")
    for n, row in rows.items():
        b, a = row["build"], row["access"]
        if "error" in b or "error" in a:
            continue
        print(
            f"  [{n // 1000}k] build / vertex graph {b['build_s'] / row['vertex']['build_s']:.2f}x"
            + (
                f", build / networkx {b['build_s'] / row['networkx']['build_s']:.2f}x"
                if "networkx" in row and "build_s" in row["networkx"]
                else ""
            )
            + f"; OD engine / raw scipy {a['od_engine_s'] / a['od_raw_s']:.2f}x"
            f" (access.od with distances and table {a['od_api_s'] / a['od_raw_s']:.2f}x)"
            f"; nearest engine / raw scipy {a['nearest_engine_s'] / a['nearest_raw_s']:.2f}x"
            f" (access.nearest with snapping and distances {a['nearest_api_s'] / a['nearest_raw_s']:.2f}x)"
        )
    # on a loaded machine wall time is mostly waiting for a core: CPU time shows the work
    print("\n== the same ratios in CPU time (process time; one core each) ==")
    for n, row in rows.items():
        b, a = row["build"], row["access"]
        if "error" in b or "error" in a:
            continue
        nx_cpu = row.get("networkx", {}).get("build_cpu_s")
        print(
            f"  [{n // 1000}k] build / vertex graph {b['build_cpu_s'] / row['vertex']['build_cpu_s']:.2f}x"
            + (f", build / networkx {b['build_cpu_s'] / nx_cpu:.2f}x" if nx_cpu else "")
            + f"; OD engine / raw scipy {a['od_engine_cpu_s'] / a['od_raw_cpu_s']:.2f}x"
            f" (access.od {a['od_api_cpu_s'] / a['od_raw_cpu_s']:.2f}x)"
            f"; nearest engine / raw scipy {a['nearest_engine_cpu_s'] / a['nearest_raw_cpu_s']:.2f}x"
            f" (access.nearest {a['nearest_api_cpu_s'] / a['nearest_raw_cpu_s']:.2f}x)"
        )
    print("\n== growth exponents log(t2/t1) / log(n2/n1), n = built road nodes ==")
    ok = [n for n in sizes if "error" not in rows[n]["build"] and "error" not in rows[n]["access"]]
    for n1, n2 in itertools.pairwise(ok):
        r1, r2 = rows[n1], rows[n2]
        m1, m2 = r1["build"]["nodes"], r2["build"]["nodes"]
        parts = [
            ("build", r1["build"]["build_s"], r2["build"]["build_s"]),
            ("build RSS", r1["build"]["rss_mb"], r2["build"]["rss_mb"]),
            ("vertex graph", r1["vertex"]["build_s"], r2["vertex"]["build_s"]),
            ("snap", r1["access"]["snap_s"], r2["access"]["snap_s"]),
            ("access.od", r1["access"]["od_api_s"], r2["access"]["od_api_s"]),
            ("OD engine", r1["access"]["od_engine_s"], r2["access"]["od_engine_s"]),
            # per site: the sizes may time the OD from different samples of the sites
            (
                "OD raw scipy per site",
                r1["access"]["od_raw_s"] / r1["access"]["od_sites"],
                r2["access"]["od_raw_s"] / r2["access"]["od_sites"],
            ),
            ("OD raw scipy", r1["access"]["od_raw_s"], r2["access"]["od_raw_s"]),
            ("nearest", r1["access"]["nearest_api_s"], r2["access"]["nearest_api_s"]),
            ("nearest raw", r1["access"]["nearest_raw_s"], r2["access"]["nearest_raw_s"]),
            ("access RSS", r1["access"]["rss_mb"], r2["access"]["rss_mb"]),
        ]
        txt = ", ".join(f"{name} {exponent(t1, t2, m1, m2):.2f}" for name, t1, t2 in parts)
        print(f"  {m1:,} -> {m2:,}: {txt}")
    load1 = os.getloadavg()
    print(f"\nload average at end: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
    print(json.dumps({str(k): v for k, v in rows.items()}, default=float))


if __name__ == "__main__":
    main()
