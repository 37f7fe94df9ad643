"""One county's run, this tree against a reference revision: per step, total wall, CPU and peak RSS.

Runs ``geofupin run`` as a subprocess on

- ``1x``: ``scenarios/demo.yaml`` (the demo county; each tree its own, so a newer demo's outputs may differ), and
- ``4x``: one scenario holding four demo tiles (2x2, built with :mod:`geofupin.demo`'s tile helpers like
  ``benchmarks/bench_region.py``'s tiles, merged into one layer set and one DEM), so that growth with
  size shows,

for the current tree and for a reference git revision (default ``76e2a0f``, checked out with
``git worktree add`` into a temporary folder and run with its own ``PYTHONPATH``), alternating
reference / new, ``--repeats`` times each (default 3), and prints MEDIANS: each step's seconds from
``run.json``'s ``timings_s``, the wall time, the CPU time (user + system of the child) and the peak RSS
of the subprocess, each with its ratio new / reference. The load average before and after is printed:
the machine may be shared, and the numbers are what they are.

With ``--check`` (default on), the outputs of the first new and reference runs of each size are compared
with :func:`compare_runs`: every CSV byte for byte, the GeoPackage layers and styles, the page's embedded
data, the PNG pixels, the PDF pages rendered by ``pdftoppm`` (when installed), the workbooks' sheets and
the roster files. ``python benchmarks/bench_county.py --compare A B`` compares two run folders only.

Usage::

    python benchmarks/bench_county.py                       # 1x and 4x, 3 repeats, against 76e2a0f
    python benchmarks/bench_county.py --sizes 1 --repeats 1 --ref main
    python benchmarks/bench_county.py --compare /tmp/run-old /tmp/run-new
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
STEPS = ("load", "access", "site", "allocate", "plan", "phase", "roster", "map", "write_tables")
#: PDF pages rendered at 60 dpi may differ by at most this many levels (of 255) on at most this share of pixels
#: ("visually the same": an embedded PNG stored as RGB instead of opaque RGBA resamples 1 level apart).
PDF_TOLERANCE = (4, 1e-3)
#: run.json keys that differ from run to run whatever the code (times, hashes of files compared otherwise);
#: ``seconds`` inside (solver times) are dropped too.
VOLATILE = {"timings_s", "outputs_sha256", "versions"}


# --------------------------------------------------------------------------- comparing two run folders
def _json_blocks(html: str) -> tuple[list[Any], str]:
    """The page's embedded JSON data blocks (parsed) and the page with them cut out."""
    blocks: list[Any] = []

    def cut(m: re.Match[str]) -> str:
        blocks.append(json.loads(m.group(2)))
        return m.group(1) + "</script>"

    rest = re.sub(r'(<script type="application/json"[^>]*>)(.*?)</script>', cut, html, flags=re.S)
    return blocks, rest


def _steady(obj: Any) -> Any:
    """``obj`` without the keys that hold a time (``seconds``: a solver's run time in a summary)."""
    if isinstance(obj, dict):
        return {k: _steady(v) for k, v in obj.items() if k not in ("seconds",)}
    if isinstance(obj, list):
        return [_steady(v) for v in obj]
    return obj


def _png_urls(text: str) -> tuple[list[Any], str]:
    """The pixels of the page's ``data:image/png;base64`` images (the hillshade) and the page with them cut out:
    the same image written at another zlib level is the same page for a person."""
    import base64

    images: list[Any] = []

    def cut(m: re.Match[str]) -> str:
        images.append(_png_pixels(base64.b64decode(m.group(1))))
        return "data:image/png;base64,"

    return images, re.sub(r"data:image/png;base64,([A-Za-z0-9+/=]+)", cut, text)


def _png_pixels(data: bytes) -> Any:
    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))


def _pdf_pages(path: Path, dpi: int = 60) -> list[Any]:
    """Every page of a PDF rendered to pixels by poppler's ``pdftoppm`` (empty when it is not installed)."""
    if shutil.which("pdftoppm") is None:
        return []
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(path), f"{tmp}/p"], check=True)
        return [_png_pixels(p.read_bytes()) for p in sorted(Path(tmp).glob("p*.png"))]


def _gpkg_tables(path: Path) -> dict[str, Any]:
    import pyogrio

    out: dict[str, Any] = {}
    for name, _ in pyogrio.list_layers(path):
        out[name] = pyogrio.read_dataframe(path, layer=name)
    with sqlite3.connect(path) as con, contextlib.suppress(sqlite3.Error):  # QGIS styles: a plain table
        out["layer_styles"] = sorted(
            con.execute("SELECT f_table_name, styleName, styleQML, useAsDefault FROM layer_styles").fetchall()
        )
    return out


def _zip_parts(path: Path, skip: tuple[str, ...] = ("docProps/core.xml",)) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in sorted(z.namelist()) if n not in skip}


def _same_zip(a: Path, b: Path, name: str, problems: list[str]) -> None:
    pa, pb = _zip_parts(a), _zip_parts(b)
    if set(pa) != set(pb):
        problems.append(f"{name}: parts differ: {sorted(set(pa) ^ set(pb))}")
        return
    for part in pa:
        if pa[part] == pb[part]:
            continue
        if part.endswith(".png"):
            pxa, pxb = _png_pixels(pa[part]), _png_pixels(pb[part])
            if pxa.shape != pxb.shape or (pxa != pxb).any():
                problems.append(f"{name}/{part}: image pixels differ")
        else:
            problems.append(f"{name}/{part}: bytes differ")


def compare_runs(ref: Path, new: Path) -> list[str]:
    """What differs between two run folders of the same scenario; empty when the outputs are equivalent.

    CSV, HTML other than the map page, JSON other than run.json: bytes. ``index.html``: its embedded
    data blocks as parsed JSON (key order is free), its embedded PNG images (``data:`` URLs) by pixels and
    the rest of the page as text. ``results.gpkg``:
    every layer with ``assert_geodataframe_equal`` and the ``layer_styles`` rows. PNG: pixels. PDF:
    pages rendered with ``pdftoppm``, pixels within :data:`PDF_TOLERANCE` (printed as a note). XLSX, DOCX,
    QGZ: every part but ``docProps/core.xml``
    (the time stamp) byte for byte, images inside by pixels. ``run.json``: all but times, versions and
    file hashes.
    """
    from geopandas.testing import assert_geodataframe_equal

    problems: list[str] = []
    notes: list[str] = []
    fa = {p.relative_to(ref).as_posix() for p in ref.rglob("*") if p.is_file()}
    fb = {p.relative_to(new).as_posix() for p in new.rglob("*") if p.is_file()}
    if fa != fb:
        problems.append(f"file lists differ: only in ref {sorted(fa - fb)}, only in new {sorted(fb - fa)}")
    for name in sorted(fa & fb):
        a, b = ref / name, new / name
        if name.endswith(".marker") or name.startswith(".") or "/." in name:
            continue
        if a.read_bytes() == b.read_bytes():
            continue
        if name == "index.html":
            ja, ra = _json_blocks(a.read_text(encoding="utf-8"))
            jb, rb = _json_blocks(b.read_text(encoding="utf-8"))
            if ja != jb:
                bad = [i for i, (x, y) in enumerate(zip(ja, jb, strict=False)) if x != y]
                problems.append(f"{name}: data blocks differ ({len(ja)} vs {len(jb)}; differing: {bad[:5]})")
            (ia, ra), (ib, rb) = _png_urls(ra), _png_urls(rb)
            if len(ia) != len(ib) or any(x.shape != y.shape or (x != y).any() for x, y in zip(ia, ib, strict=False)):
                problems.append(f"{name}: embedded images' pixels differ")
            if ra != rb:
                problems.append(f"{name}: page text (outside the data) differs")
        elif name == "run.json":
            da, db = (_steady(json.loads(p.read_text(encoding="utf-8"))) for p in (a, b))
            keys = (set(da) | set(db)) - VOLATILE
            diff = sorted(k for k in keys if da.get(k) != db.get(k))
            if diff:
                problems.append(f"{name}: differs in {diff}")
        elif name.endswith(".gpkg"):
            ta, tb = _gpkg_tables(a), _gpkg_tables(b)
            if set(ta) != set(tb):
                problems.append(f"{name}: layers differ: {sorted(set(ta) ^ set(tb))}")
            for layer in sorted(set(ta) & set(tb)):
                if layer == "layer_styles":
                    if ta[layer] != tb[layer]:
                        problems.append(f"{name}: layer_styles differ")
                    continue
                try:
                    assert_geodataframe_equal(ta[layer], tb[layer])
                except AssertionError as exc:
                    problems.append(f"{name}:{layer}: {str(exc).splitlines()[0]}")
        elif name.endswith(".png"):
            pa, pb = _png_pixels(a.read_bytes()), _png_pixels(b.read_bytes())
            if pa.shape != pb.shape or (pa != pb).any():
                problems.append(f"{name}: pixels differ")
        elif name.endswith(".pdf"):
            pa, pb = _pdf_pages(a), _pdf_pages(b)
            if not pa:
                problems.append(f"{name}: bytes differ (pdftoppm not installed, pages not compared)")
            elif len(pa) != len(pb) or any(x.shape != y.shape for x, y in zip(pa, pb, strict=True)):
                problems.append(f"{name}: page count or sizes differ")
            else:
                import numpy as np

                d = [np.abs(x.astype(int) - y.astype(int)) for x, y in zip(pa, pb, strict=True)]
                worst, n_px = max(int(x.max()) for x in d), sum(int((x.max(axis=-1) > 0).sum()) for x in d)
                share = n_px / sum(x.shape[0] * x.shape[1] for x in d)
                if worst > PDF_TOLERANCE[0] or share > PDF_TOLERANCE[1]:
                    problems.append(f"{name}: rendered pages differ (max {worst}/255 on {n_px} px, {share:.2%})")
                elif worst:
                    notes.append(f"{name}: rendered pages within tolerance (max {worst}/255 on {n_px} px)")
        elif name.endswith((".xlsx", ".docx", ".qgz")):
            _same_zip(a, b, name, problems)
        elif name.endswith(".parquet"):
            import pandas as pd

            if not pd.read_parquet(a).equals(pd.read_parquet(b)):
                problems.append(f"{name}: table differs")
        else:
            problems.append(f"{name}: bytes differ")
    for n in notes:
        print(f"  note: {n}")
    return problems


# --------------------------------------------------------------------------- the scenarios
def four_tile_scenario(cache: Path) -> Path:
    """A scenario of the demo county tiled 2x2 as ONE county: the tiles' layers merged, their DEMs mosaicked."""
    import geopandas as gpd
    import pandas as pd
    import rasterio
    import rasterio.merge
    import yaml

    from geofupin import demo
    from geofupin import io as gio
    from geofupin.region import tile_county_name
    from geofupin.vocabulary import LAYER_KINDS

    base = REPO / "layers" / "demo"
    demo.ensure(base)
    out = cache / "t4"
    scen = cache / "t4.yaml"
    if scen.exists() and (out / "dem.tif").exists():
        return scen
    tiles = []
    for r in range(2):
        for c in range(2):
            tdir = cache / "tiles" / demo.tile_code(r, c).lower()
            tiles.append(demo.ensure_tile(base, tdir, row=r, col=c, county_name=tile_county_name(r * 2 + c)))
    out.mkdir(parents=True, exist_ok=True)
    for kind in LAYER_KINDS:
        parts = [gio.read_vector(t[kind]) for t in tiles if kind in t]
        if parts:
            merged = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=parts[0].crs)
            gio.write_vector(merged, out / f"{kind}.gpkg", layer=kind)
    sources = [rasterio.open(t["dem"]) for t in tiles]
    try:
        mosaic, transform = rasterio.merge.merge(sources)
        crs, nodata = sources[0].crs, sources[0].nodata
    finally:
        for s in sources:
            s.close()
    gio.write_raster(mosaic[0], out / "dem.tif", transform=transform, crs=crs, nodata=nodata)
    sc = yaml.safe_load((REPO / "scenarios" / "demo.yaml").read_text(encoding="utf-8"))
    sc["name"] = "bench-4tiles"
    sc.pop("demo", None)
    sc["crs"] = f"EPSG:{demo.CRS_EPSG}"
    sc["layers"] = {k: str(out / f"{k}.gpkg") for k in LAYER_KINDS if (out / f"{k}.gpkg").exists()}
    sc["layers"]["dem"] = str(out / "dem.tif")
    sc["outputs"].pop("dir", None)
    if "phasing" in sc:  # four counties' money and houses a year: the ceilings of four, and time to solve
        ph = sc["phasing"]
        if "budget_ceiling_yuan" in ph:
            ph["budget_ceiling_yuan"] = 4 * ph["budget_ceiling_yuan"]
        ph["time_limit_s"] = max(float(ph.get("time_limit_s", 0) or 0), 300.0)
    sc["policy"]["file"] = str((REPO / "scenarios" / sc["policy"]["file"]).resolve())
    placement = sc.get("placement") or {}
    codes = [demo.tile_code(r, c) for r in range(2) for c in range(2)]
    if placement.get("transitional_housing"):  # each tile's collective owns its housing (ids prefixed as the tiles')
        placement["transitional_housing"] = [
            {**t, "village_id": f"{code}-{t['village_id']}"}
            | ({"site_id": f"{code}-{t['site_id']}"} if t.get("site_id") else {})
            for code in codes
            for t in placement["transitional_housing"]
        ]
    if placement.get("scattered_households"):
        placement["scattered_households"] = {
            f"{code}-{k}": n for code in codes for k, n in placement["scattered_households"].items()
        }
    if "roster" in sc:  # the households of the base county (tiles prefix their village ids, as a region's do)
        sc["roster"]["path"] = str((REPO / "scenarios" / sc["roster"]["path"]).resolve())
    scen.write_text(yaml.safe_dump(sc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return scen


# --------------------------------------------------------------------------- running
def reference_tree(rev: str, work: Path) -> Path:
    """A detached worktree of ``rev`` (with this tree's generated demo DEM, which git does not hold)."""
    tree = work / f"ref-{rev}"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), rev], check=True)
    dem = REPO / "layers" / "demo" / "dem.tif"
    if dem.exists() and not (tree / "layers" / "demo" / "dem.tif").exists():
        shutil.copy2(dem, tree / "layers" / "demo" / "dem.tif")
    return tree


def once(tree: Path, scenario: Path, out: Path) -> dict[str, Any]:
    """One ``geofupin run`` in a subprocess with ``PYTHONPATH=tree``: steps, wall, CPU, peak RSS."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    if out.exists():
        shutil.rmtree(out)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "geofupin.cli", "run", str(scenario), "--out", str(out)],
        env=env,
        cwd=tree,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"run failed in {tree} ({proc.returncode}):\n{err.decode(errors='replace')[-3000:]}")
    timings = json.loads((out / "run.json").read_text(encoding="utf-8"))["timings_s"]
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024.0,
        "steps": {s: float(timings.get(s, 0.0)) for s in STEPS},
    }


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {k: statistics.median(r[k] for r in runs) for k in ("wall_s", "cpu_s", "rss_mb")}
    out["steps"] = {s: statistics.median(r["steps"][s] for r in runs) for s in STEPS}
    return out


def report(results: dict[str, dict[str, dict[str, Any]]], args: argparse.Namespace) -> None:
    print(f"\nmedians of {args.repeats} runs; reference {args.ref}; {os.cpu_count()} CPUs; load {_load()}")
    rows = [*STEPS, "wall_s", "cpu_s", "rss_mb"]
    for size, res in results.items():
        ref, new = res["ref"], res["new"]
        print(f"\n{size}: {'':14} {'reference':>10} {'new':>10} {'new/ref':>8}")
        for k in rows:
            a = ref["steps"][k] if k in STEPS else ref[k]
            b = new["steps"][k] if k in STEPS else new[k]
            ratio = f"{b / a:8.2f}" if a else f"{'—':>8}"
            print(f"    {k:<16} {a:10.2f} {b:10.2f} {ratio}")
    if len(results) == 2:
        (s1, r1), (s2, r2) = results.items()
        print(f"\ngrowth {s1} -> {s2} (wall): reference {r2['ref']['wall_s'] / r1['ref']['wall_s']:.2f}x, "
              f"new {r2['new']['wall_s'] / r1['new']['wall_s']:.2f}x")  # fmt: skip


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover
        return "?"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref", default="76e2a0f", help="reference git revision (default 76e2a0f)")
    ap.add_argument("--sizes", default="1,4", help="1 (the demo county) and/or 4 (2x2 tiles as one scenario)")
    ap.add_argument("--repeats", type=int, default=3, help="runs per tree and size; medians are reported")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "geofupin-bench-county")
    ap.add_argument("--no-check", dest="check", action="store_false", help="do not compare the outputs")
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("REF", "NEW"), help="only compare two run folders")
    args = ap.parse_args()
    if args.compare:
        problems = compare_runs(*args.compare)
        print("\n".join(problems) if problems else "outputs equivalent")
        raise SystemExit(1 if problems else 0)
    args.cache.mkdir(parents=True, exist_ok=True)
    scenarios = {}
    for s in args.sizes.split(","):
        scenarios[f"{s}x"] = REPO / "scenarios" / "demo.yaml" if s == "1" else four_tile_scenario(args.cache)
        if s not in ("1", "4"):
            raise SystemExit(f"--sizes takes 1 and 4, not {s}")
    work = Path(tempfile.mkdtemp(prefix="bench-county-"))
    print(f"load average before: {_load()}", flush=True)
    results: dict[str, dict[str, dict[str, Any]]] = {}
    failed = False
    try:
        ref_tree = reference_tree(args.ref, work)
        for size, scen in scenarios.items():
            runs: dict[str, list[dict[str, Any]]] = {"ref": [], "new": []}
            for i in range(args.repeats):
                for label, tree in (("ref", ref_tree), ("new", REPO)):  # alternating
                    out = work / f"{size}-{label}-{i}"
                    # 1x: each tree runs its OWN demo scenario (a newer demo may use keys the reference lacks)
                    r = once(tree, tree / "scenarios" / "demo.yaml" if size == "1x" else scen, out)
                    runs[label].append(r)
                    print(
                        f"  {size} {label} run {i + 1}/{args.repeats}: wall {r['wall_s']:6.1f} s, "
                        f"cpu {r['cpu_s']:6.1f} s, rss {r['rss_mb']:5.0f} MB; load {_load()}",
                        flush=True,
                    )
                    if i > 0:
                        shutil.rmtree(out, ignore_errors=True)
            if args.check:
                problems = compare_runs(work / f"{size}-ref-0", work / f"{size}-new-0")
                verdict = "equivalent" if not problems else "DIFFER:\n    " + "\n    ".join(problems)
                print(f"  {size} outputs: {verdict}", flush=True)
                failed |= bool(problems)
            results[size] = {k: median_of(v) for k, v in runs.items()}
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(work / f"ref-{args.ref}")])
        shutil.rmtree(work, ignore_errors=True)
    report(results, args)
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
