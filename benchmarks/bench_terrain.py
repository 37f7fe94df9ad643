"""Benchmark geofupin.terrain: distance rasters vs the `edt` package, and the windowed pipeline.

Usage::

    python benchmarks/bench_terrain.py            # 10k x 10k
    python benchmarks/bench_terrain.py --quick    # 2k x 2k
    python benchmarks/bench_terrain.py --big      # also 20k x 20k (about 1 GB DEM on disk, minutes)

Each measurement runs in a fresh subprocess so its peak memory (ru_maxrss, and tracemalloc
for numpy's allocations) is its own. Generated DEMs are written to a temporary folder and
removed at the end. The last lines are the ratios.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RES_M = 30.0
ORIGIN = (400000.0, 4_800_000.0)
EPSG = 32649
MAX_DIST = {"roads": 1000.0, "water": 1500.0, "power": 2000.0}
TILE = 1024


def _features(n: int, seed: int) -> dict[str, object]:
    """Random road, water and power lines over an n x n grid (same for every measurement)."""
    import geopandas as gpd
    import shapely

    rng = np.random.default_rng(seed)
    span = n * RES_M
    out = {}
    for k, name in enumerate(("roads", "water", "power")):
        m = max(20, n // 100)
        x = ORIGIN[0] + rng.uniform(0, span, (m, 4))
        y = ORIGIN[1] - rng.uniform(0, span, (m, 4))
        lines = shapely.linestrings(np.stack([x, y], axis=-1))
        out[name] = gpd.GeoSeries(lines, crs=EPSG)
        rng = np.random.default_rng(seed + k + 1)
    return out


def _transform(n: int):  # type: ignore[no-untyped-def]
    from affine import Affine

    return Affine(RES_M, 0, ORIGIN[0], 0, -RES_M, ORIGIN[1])


def make_dem(path: Path, n: int) -> None:
    """Write an n x n int16 DEM (tiled, uncompressed), tile by tile: hills plus a void block."""
    import rasterio
    from rasterio.windows import Window

    prof = {
        "driver": "GTiff",
        "width": n,
        "height": n,
        "count": 1,
        "dtype": "int16",
        "crs": f"EPSG:{EPSG}",
        "transform": _transform(n),
        "nodata": -32768,
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
        "BIGTIFF": "IF_SAFER",
    }
    step = 2048
    with rasterio.Env(GDAL_CACHEMAX=64 * 1024 * 1024), rasterio.open(path, "w", **prof) as dst:
        for r in range(0, n, step):
            for c in range(0, n, step):
                h, w = min(step, n - r), min(step, n - c)
                y, x = np.mgrid[r : r + h, c : c + w].astype(np.float32)
                z = 1200 + 400 * np.sin(x / 311.0) * np.cos(y / 257.0) + 60 * np.sin((x + 2 * y) / 37.0)
                z = z.astype(np.int16)
                void = (np.abs(x - n * 0.3) < n * 0.02) & (np.abs(y - n * 0.6) < n * 0.02)
                z[void] = -32768
                dst.write(z, 1, window=Window(c, r, w, h))


def _peak() -> dict[str, float]:
    return {"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}


def worker(kind: str, n: int, dem: str, out: str) -> dict[str, float]:
    """One measurement, in its own process."""
    import rasterio
    import rasterio.features

    from geofupin import terrain

    feats = _features(n, 1)
    tf = _transform(n)
    res: dict[str, float] = {}
    tracemalloc.start()
    t = time.perf_counter()
    if kind == "edt":  # baseline: the edt package on the already-rasterized grid
        import edt

        burned = rasterio.features.rasterize(
            ((g, 1) for g in feats["roads"].values), out_shape=(n, n), transform=tf, all_touched=True, dtype="uint8"
        )
        tracemalloc.reset_peak()
        best = np.inf
        for _ in range(2):  # best of two: the box is shared
            t = time.perf_counter()
            edt.edt(burned == 0, anisotropy=(RES_M, RES_M), black_border=False, parallel=1)
            best = min(best, time.perf_counter() - t)
        t = time.perf_counter() - best
    elif kind == "scipy":
        from scipy.ndimage import distance_transform_edt

        burned = rasterio.features.rasterize(
            ((g, 1) for g in feats["roads"].values), out_shape=(n, n), transform=tf, all_touched=True, dtype="uint8"
        )
        tracemalloc.reset_peak()
        t = time.perf_counter()
        distance_transform_edt(burned == 0, sampling=(RES_M, RES_M))
    elif kind == "distance":  # geofupin: rasterize + exact transform, best of two
        best = np.inf
        for _ in range(2):
            t = time.perf_counter()
            terrain.distance_raster(feats["roads"], transform=tf, shape=(n, n))
            best = min(best, time.perf_counter() - t)
        t = time.perf_counter() - best
    elif kind == "distance_windowed":
        for _ in terrain.distance_raster_windowed(
            feats["roads"], transform=tf, shape=(n, n), max_dist_m=MAX_DIST["roads"], tile=TILE
        ):
            pass
    elif kind == "pipeline":
        rep = terrain.suitability_raster(dem, out, features=feats, max_dist_m=MAX_DIST, max_slope_deg=25.0, tile=TILE)
        res["suitable_share"] = rep.cells_suitable / rep.cells_total
    elif kind == "whole":  # the same pipeline on whole arrays
        with rasterio.open(dem) as src:
            z = src.read(1).astype(np.float64)
            prof = src.profile
        z[z == -32768] = np.nan
        s = terrain.horn_slope_deg(z, xres_m=RES_M, yres_m=RES_M)
        ok = s <= 25.0
        del s
        for name, g in feats.items():
            ok &= terrain.distance_raster(g, transform=tf, shape=(n, n)) <= MAX_DIST[name]
        outa = np.where(np.isnan(z), 255, ok.astype(np.uint8)).astype(np.uint8)
        prof.update(dtype="uint8", nodata=255, compress="deflate")
        with rasterio.open(out, "w", **prof) as dst:
            dst.write(outa, 1)
        res["suitable_share"] = float((outa == 1).sum() / outa.size)
    res["seconds"] = time.perf_counter() - t
    res["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    res.update(_peak())
    return res


def run(kind: str, n: int, dem: Path, tmp: Path) -> dict[str, float]:
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        kind,
        "--size",
        str(n),
        "--dem",
        str(dem),
        "--out",
        str(tmp / f"{kind}_{n}.tif"),
    ]
    p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise RuntimeError(f"{kind} {n} failed:\n{p.stderr[-2000:]}")
    r = json.loads(p.stdout.strip().splitlines()[-1])
    print(
        f"  {kind:18s} {n:6d}^2  {r['seconds']:8.2f} s  peak RSS {r['rss_mb']:7.0f} MB  "
        f"numpy peak {r['traced_peak_mb']:7.0f} MB",
        flush=True,
    )
    return r


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--big", action="store_true", help="also run 20k x 20k")
    ap.add_argument("--sizes", help="comma-separated grid sizes instead of the defaults, e.g. 20000")
    ap.add_argument("--skip-distance", action="store_true", help="only the suitability pipeline")
    ap.add_argument("--worker")
    ap.add_argument("--size", type=int)
    ap.add_argument("--dem")
    ap.add_argument("--out")
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker(a.worker, a.size, a.dem, a.out)))
        return
    sizes = [2000] if a.quick else [10_000] + ([20_000] if a.big else [])
    if a.sizes:
        sizes = [int(x) for x in a.sizes.split(",")]
    whole_n = 2000 if a.quick else 4000
    ratios: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench_terrain_") as d:
        tmp = Path(d)
        if not a.skip_distance:
            print(f"distance raster, engine choice at {whole_n}^2:")
            sc = run("scipy", whole_n, tmp / "none.tif", tmp)
            ed = run("edt", whole_n, tmp / "none.tif", tmp)
            ratios.append(
                f"ratio scipy / edt (distance transform only, {whole_n}^2): {sc['seconds'] / ed['seconds']:.2f}"
            )
        for n in [] if a.skip_distance else sizes:
            print(f"distance raster at {n}^2 (roads, {max(20, n // 100)} lines):")
            base = run("edt", n, tmp / "none.tif", tmp)
            ours = run("distance", n, tmp / "none.tif", tmp)
            win = run("distance_windowed", n, tmp / "none.tif", tmp)
            ratios.append(
                f"ratio geofupin distance_raster / edt ({n}^2): {ours['seconds'] / base['seconds']:.2f} (target <= 1.5)"
            )
            ratios.append(
                f"ratio windowed distance (max {MAX_DIST['roads']:.0f} m) / edt ({n}^2): "
                f"{win['seconds'] / base['seconds']:.2f}"
            )
        print(f"suitability pipeline (read, slope, 3 distances, overlay, write), whole vs windowed at {whole_n}^2:")
        dem = tmp / f"dem_{whole_n}.tif"
        make_dem(dem, whole_n)
        wh = run("whole", whole_n, dem, tmp)
        wi = run("pipeline", whole_n, dem, tmp)
        ratios.append(f"ratio windowed / whole-array pipeline time ({whole_n}^2): {wi['seconds'] / wh['seconds']:.2f}")
        ratios.append(
            f"ratio windowed / whole-array peak RSS ({whole_n}^2): {wi['rss_mb'] / wh['rss_mb']:.2f} "
            f"({wi['rss_mb']:.0f} MB vs {wh['rss_mb']:.0f} MB)"
        )
        for n in sizes:
            if n == whole_n:
                continue
            dem = tmp / f"dem_{n}.tif"
            t = time.perf_counter()
            make_dem(dem, n)
            print(f"windowed pipeline at {n}^2 (DEM written in {time.perf_counter() - t:.1f} s):")
            r = run("pipeline", n, dem, tmp)
            ratios.append(
                f"windowed pipeline {n}^2: {r['seconds']:.1f} s, peak RSS {r['rss_mb']:.0f} MB "
                f"(ratio to the 512 MB budget {r['rss_mb'] / 512:.2f}), "
                f"{n * n / r['seconds'] / 1e6:.1f} Mcells/s"
            )
            dem.unlink()
    print("\n".join(ratios))


if __name__ == "__main__":
    main()
