"""Benchmark the workbook writer: XlsxWriter (constant memory) vs the openpyxl write-only writer before it.

Usage::

    python benchmarks/bench_outputs.py                   # the demo's workbooks at 1x and 16x, medians of 3
    python benchmarks/bench_outputs.py --sizes 1 4 16    # other sizes
    python benchmarks/bench_outputs.py --repeat 5
    python benchmarks/bench_outputs.py --od 200000       # a 200,000-row OD-like table instead of the demo's
    python benchmarks/bench_outputs.py --writers openpyxl-memory openpyxl xlsxwriter   # the older writer too
    python benchmarks/bench_outputs.py --sizes 1 4 --writers xlsxwriter-frames xlsxwriter   # SheetRows or not
    python benchmarks/bench_outputs.py --cache /tmp/books.pkl   # run the demo once, keep its workbooks
    python benchmarks/bench_outputs.py --slice --ref /tmp/main-tree   # load + write CPU, this tree vs another

The demo's workbooks are the three a run of ``scenarios/demo.yaml`` writes (``tables.xlsx`` with its
Chinese sheets, ``roster/public_notice.xlsx``, ``roster/payment_roster.xlsx``), caught as the run
hands them to :func:`geofupin.io.write_xlsx` (the run itself is done once, before any timing). A
size of ``k`` tiles every frame ``k`` times (rows repeated; sheets over the row limit split as a
run splits them). Each write runs in a forked child process (the frames are built before the fork)
that resets its peak-RSS mark (``/proc/self/clear_refs``), writes the workbooks and reports its
wall time, CPU time and the peak RSS above what it held before writing. Medians of ``--repeat`` runs.

Writers:

- ``xlsxwriter``: :func:`geofupin.io.write_xlsx` (XlsxWriter ``constant_memory``, widths per column);
  the roster's sheets a village as :class:`geofupin.io.SheetRows` of one table, converted once;
- ``xlsxwriter-frames``: the same writer with each of those sheets a table of its own (:func:`as_frames`), as
  the roster's workbooks were written before ``SheetRows``;
- ``openpyxl``: the writer geofupin used before it (openpyxl ``Workbook(write_only=True)``, a
  ``WriteOnlyCell`` per styled cell, widths measured cell by cell), kept here as the baseline
  (:func:`write_openpyxl`);
- ``openpyxl-memory``: the writer before that (an openpyxl ``Workbook()`` holding every cell).

With ``--slice`` it measures instead the CPU seconds (``time.process_time``) of a light demo run's load and
write steps, part by part: ``read_inputs`` (load), the GeoPackage and QGIS project (``write_gis``), the 54
CSV tables, the roster's files (``write_roster_files``) and ``write_outputs`` as a whole; each tree (this one,
and ``--ref``: another source tree, e.g. an ``git archive`` of main) in a child process of its own that runs
the demo once and then every part ``--repeat`` times, the trees alternating; medians, with the load average.

Printed last: the ratios new / baseline per size (below 1 is better) and each writer's growth
exponent from the smallest to the largest size (``log(t_k / t_1) / log(k)``: 1.0 is linear).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from io import BytesIO
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geofupin import io as gio  # noqa: E402

#: One workbook to write: its file name, its tables and the keyword arguments of ``write_xlsx``.
Workbook = tuple[str, dict[str, pd.DataFrame], dict[str, Any]]
Writer = Callable[..., Any]


# ----------------------------------------------------------------------------- the workbooks
def demo_workbooks() -> list[Workbook]:
    """The workbooks a run of ``scenarios/demo.yaml`` writes, caught on their way to ``write_xlsx``."""
    from geofupin import pipeline, scenario

    sc = scenario.load(ROOT / "scenarios" / "demo.yaml")
    pipeline.ensure_demo_layers(sc)
    out = pipeline.run(sc)
    caught: list[Workbook] = []
    real = gio.write_xlsx

    def catch(tables: Mapping[str, pd.DataFrame], path: Any, **kwargs: Any) -> Path:
        caught.append((Path(path).name, dict(tables), kwargs))
        return real(tables, path, **kwargs)

    gio.write_xlsx = catch  # type: ignore[assignment]
    try:
        with tempfile.TemporaryDirectory() as d:
            pipeline.write_outputs(out, Path(d) / "demo")
    finally:
        gio.write_xlsx = real  # type: ignore[assignment]
    return caught


def od_workbook(rows: int, seed: int = 0) -> list[Workbook]:
    """One sheet shaped like the OD table, with a Chinese name column."""
    rng = np.random.default_rng(seed)
    v = rng.integers(0, max(rows // 20, 1), rows)
    df = pd.DataFrame(
        {
            "village_id": [f"610602{i:06d}" for i in v],
            "site_id": [f"S{i:04d}" for i in rng.integers(0, 1300, rows)],
            "name": [f"王家湾乡张家塬村{i}组" for i in v],
            "time_min": rng.uniform(1, 300, rows).round(2),
            "dist_m": rng.uniform(100, 90_000, rows).round(1),
        }
    )
    return [("od.xlsx", {"od_like": df}, {"headers_en": {"od_like": {c: c for c in df.columns}}})]


def tiled(books: Sequence[Workbook], k: int) -> list[Workbook]:
    """Every frame repeated ``k`` times (sheets over the row limit split, as a run does); sheets cut from one
    table (:class:`geofupin.io.SheetRows`, the roster's sheet a village) stay cut from one table, tiled once."""
    if k == 1:
        return list(books)
    big: dict[int, pd.DataFrame] = {}

    def tile(table: Any) -> Any:
        if isinstance(table, gio.SheetRows):
            frame = big.setdefault(id(table.frame), pd.concat([table.frame] * k, ignore_index=True))
            n = len(table.frame)
            return gio.SheetRows(frame, np.concatenate([table.rows + j * n for j in range(k)]))
        return pd.concat([table] * k, ignore_index=True)

    return [
        (name, {t: tile(df) for t, df in tables.items()}, {**kw, "over_limit": "split"}) for name, tables, kw in books
    ]


def as_frames(tables: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """Every sheet as a table of its own (:meth:`geofupin.io.SheetRows.to_frame`), as the roster's sheets were."""
    return {t: v.to_frame() if isinstance(v, gio.SheetRows) else v for t, v in tables.items()}


# ----------------------------------------------------------------------------- the writers
def write_xlsxwriter(books: Sequence[Workbook], folder: Path) -> None:
    for name, tables, kw in books:
        gio.write_xlsx(tables, folder / name, **kw)


def write_xlsxwriter_frames(books: Sequence[Workbook], folder: Path) -> None:
    for name, tables, kw in books:
        gio.write_xlsx(as_frames(tables), folder / name, **kw)


def write_openpyxl_books(books: Sequence[Workbook], folder: Path) -> None:
    for name, tables, kw in books:
        write_openpyxl(as_frames(tables), folder / name, **kw)


def write_openpyxl_memory_books(books: Sequence[Workbook], folder: Path) -> None:
    for name, tables, kw in books:
        write_openpyxl_memory(as_frames(tables), folder / name, headers_en=kw.get("headers_en") or {})


WRITERS: dict[str, Writer] = {
    "openpyxl-memory": write_openpyxl_memory_books,
    "openpyxl": write_openpyxl_books,
    "xlsxwriter-frames": write_xlsxwriter_frames,
    "xlsxwriter": write_xlsxwriter,
}


def write_openpyxl(
    tables: Mapping[str, pd.DataFrame],
    path: Path,
    *,
    headers_en: Mapping[str, Mapping[str, str]] | None = None,
    over_limit: Literal["refuse", "split"] = "refuse",
    full_table: Mapping[str, str] | None = None,
    number_formats: Mapping[str, Mapping[str, str]] | None = None,
) -> None:
    """The baseline: geofupin's writer up to the switch to XlsxWriter (openpyxl write-only), as it was.

    Same layout (bold frozen headers, autofilter, fitted widths from the first 5,000 rows, number
    formats, split sheets, pinned zip times); a styled cell is an openpyxl ``WriteOnlyCell``.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    del full_table  # the refusal message is not benchmarked
    heads = {name: 2 if headers_en and name in headers_en else 1 for name in tables}
    per_sheet = {name: gio.XLSX_MAX_ROWS - heads[name] for name in tables}
    if over_limit == "refuse" and any(len(df) > per_sheet[name] for name, df in tables.items()):
        raise ValueError("over the row limit")
    fixed = dt.datetime(2016, 1, 1)
    wb = Workbook(write_only=True)
    wb.properties.created = fixed
    wb.properties.modified = fixed
    used: set[str] = set()
    bold = Font(bold=True)
    for name, df in tables.items():
        size = per_sheet[name]
        parts = max(1, -(-len(df) // size))
        header = [[str(c) for c in df.columns]]
        if heads[name] == 2 and headers_en is not None:
            header.append([headers_en[name].get(str(c), str(c)) for c in df.columns])
        formats = dict((number_formats or {}).get(name, {}))
        col_formats = [
            formats.get(str(c)) if gio._is_number_column(df.iloc[:, i]) else None for i, c in enumerate(df.columns)
        ]
        widths = [_old_width([h[i] for h in header], df.iloc[:, i], col_formats[i]) for i in range(df.shape[1])]
        for part in range(parts):
            title = name if parts == 1 else gio._numbered(name, part + 1)
            ws = wb.create_sheet(gio._sheet_name(title, used))
            ws.freeze_panes = "A3" if heads[name] == 2 else "A2"
            n_rows = len(header) + len(df.iloc[part * size : (part + 1) * size])
            ref = f"A1:{get_column_letter(df.shape[1])}{n_rows}" if df.shape[1] else "A1"
            ws.calculate_dimension = lambda ref=ref: ref
            for i, w in enumerate(widths):
                ws.column_dimensions[get_column_letter(i + 1)].width = w
            if df.shape[1]:
                ws.auto_filter.ref = f"A{len(header)}:{get_column_letter(df.shape[1])}{max(n_rows, len(header))}"
            for values in header:
                row = [_old_cell(ws, v) for v in values]
                for cell in row:
                    if hasattr(cell, "font"):
                        cell.font = bold
                ws.append(row)
            end = min((part + 1) * size, len(df))
            for start in range(part * size, end, 10_000):
                batch = df.iloc[start : min(start + 10_000, end)]
                cols = [_old_column(ws, batch.iloc[:, i], col_formats[i]) for i in range(batch.shape[1])]
                for cells in zip(*cols, strict=True):
                    ws.append(list(cells))
    with gio.atomic_write(path) as tmp:
        raw = tmp.with_name(tmp.name + ".raw")
        try:
            wb.save(raw)
            gio._pin_zip_times(raw, tmp, fixed.timetuple()[:6])
        finally:
            raw.unlink(missing_ok=True)


def _old_column(ws: Any, s: pd.Series, number_format: str | None) -> list[Any]:
    from openpyxl.cell import WriteOnlyCell

    kind = s.dtype.kind if isinstance(s.dtype, np.dtype) else ""
    out: list[Any]
    if kind in "iub" and kind:
        out = s.tolist()
    elif kind == "f":
        a = s.to_numpy()
        out = a.tolist()
        if not np.isfinite(a).all():
            for i in np.flatnonzero(~np.isfinite(a)).tolist():
                out[i] = None if np.isnan(a[i]) else ("inf" if a[i] > 0 else "-inf")
    else:
        return [_old_cell(ws, v) for v in s]
    if number_format is not None and kind in "iuf":
        for i, v in enumerate(out):
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                cell = WriteOnlyCell(ws, value=v)
                cell.number_format = number_format
                out[i] = cell
    return out


def _old_cell(ws: Any, value: Any) -> Any:
    from openpyxl.cell import WriteOnlyCell

    v = gio._cell(value)
    if not isinstance(v, str):
        return v
    cell = WriteOnlyCell(ws, value=v)
    cell.data_type = "s"
    if v.startswith(gio.FORMULA_START):
        cell.quotePrefix = True
    return cell


def _old_width(headers: Sequence[str], s: pd.Series, number_format: str | None) -> float:
    widest = max((gio.text_width(h) for h in headers), default=0)
    head = s.iloc[:5_000]
    if gio._is_number_column(head):
        a = pd.to_numeric(head, errors="coerce").to_numpy(dtype=float)
        a = a[np.isfinite(a)]
        widest = max(widest, gio.number_text_width(a, number_format))
    else:
        values = head.dropna()
        if len(values):
            widest = max(widest, int(values.map(lambda v: gio.text_width(str(v))).max()))
    return float(min(gio.XLSX_MAX_WIDTH, max(6, widest + 2)))


def write_openpyxl_memory(
    tables: Mapping[str, pd.DataFrame], path: Path, headers_en: Mapping[str, Mapping[str, str]]
) -> None:
    """The writer before the write-only one: every cell of every sheet in memory, the archive in memory."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    used: set[str] = set()
    for name, df in tables.items():
        ws = wb.create_sheet(gio._sheet_name(name, used))
        rows: list[list[Any]] = [[str(c) for c in df.columns]]
        if name in headers_en:
            rows.append([headers_en[name].get(str(c), str(c)) for c in df])
        rows.extend(list(row) for row in df.itertuples(index=False))
        for r, values in enumerate(rows, start=1):
            for c, value in enumerate(values, start=1):
                v = gio._cell(value)
                if v is None:
                    continue
                cell = ws.cell(row=r, column=c)
                cell.value = v
                if isinstance(v, str):
                    cell.data_type = "s"
                    if v.startswith(gio.FORMULA_START):
                        cell.quotePrefix = True
        ws.freeze_panes = "A3" if name in headers_en else "A2"
    fixed = dt.datetime(2016, 1, 1)
    wb.properties.created = fixed
    wb.properties.modified = fixed
    raw = BytesIO()
    wb.save(raw)
    with zipfile.ZipFile(BytesIO(raw.getvalue())) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=(2016, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(info, zin.read(item.filename))


# ----------------------------------------------------------------------------- measuring
def _kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field)


BOOKS: dict[int, list[Workbook]] = {}


def _child(fn: Writer, k: int, folder: Path, conn: Any) -> None:
    with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
        fh.write("5")  # reset the peak-RSS mark (VmHWM) to the current RSS
    base = _kib("VmRSS")
    t, c = time.perf_counter(), time.process_time()
    fn(BOOKS[k], folder)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    size = sum(p.stat().st_size for p in folder.iterdir()) / 2**20
    conn.send((wall, cpu, (_kib("VmHWM") - base) / 1024, size))
    conn.close()


def measure(fn: Writer, k: int, folder: Path) -> tuple[float, float, float, float]:
    """(wall s, CPU s, peak RSS MiB above the start, MiB written) of one write in a forked child."""
    folder.mkdir(parents=True)
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(fn, k, folder, child))
    proc.start()
    result = parent.recv()
    proc.join()
    if proc.exitcode != 0:
        raise RuntimeError(f"{fn.__name__} failed ({proc.exitcode})")
    return result  # type: ignore[no-any-return]


def exponent(small: float, large: float, k0: int, k1: int) -> float:
    return math.log(large / small) / math.log(k1 / k0) if small > 0 and large > 0 and k1 > k0 else float("nan")


#: The child of ``--slice``: run the light demo once, then time each part of the load and write steps.
_SLICE_CHILD = """
import dataclasses, json, os, statistics, sys, tempfile, time
from pathlib import Path
from geofupin import io as gio, pipeline, scenario
from geofupin.notice import write_roster_files
sc = scenario.load(Path("scenarios/demo.yaml"))
sc = dataclasses.replace(sc, outputs=dataclasses.replace(sc.outputs, tables=("csv",), static_maps=(), document=()))
out = pipeline.run(sc)
roster = out.ctx.results["roster"]
times = {k: [] for k in ("load", "gis", "csv", "roster", "write_outputs")}
def clock(key, fn):
    t = time.process_time(); r = fn(); times[key].append(time.process_time() - t); return r
with tempfile.TemporaryDirectory() as work:
    for i in range(int(sys.argv[1])):
        d = Path(work) / str(i)
        d.mkdir()
        clock("load", lambda: pipeline.read_inputs(sc))
        gis = gio.split_geometry_families(pipeline.result_layers(out))
        clock("gis", lambda: pipeline.write_gis(out, gis, d))
        tables, _ = pipeline.written_tables(out)
        clock("csv", lambda: [gio.write_csv(df, d / "tables" / f"{n}.csv") for n, df in tables.items()])
        clock("roster", lambda: write_roster_files(roster.tables, roster.artifacts["config"], d / "roster"))
        clock("write_outputs", lambda: pipeline.write_outputs(out, d / "all"))
print(json.dumps({k: statistics.median(v) for k, v in times.items()}))
"""


def slice_times(tree: Path, repeat: int) -> dict[str, float]:
    """Median CPU seconds of each part of the load and write steps of a light demo run of ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, "-c", _SLICE_CHILD, str(repeat)], cwd=tree, env=env, capture_output=True, text=True
    )
    if done.returncode:
        sys.exit(f"{tree}: {done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def run_slice(trees: dict[str, Path], repeat: int, rounds: int) -> None:
    """Print the medians over ``rounds`` alternating child runs of each tree (each the median of ``repeat``)."""
    print(f"load average before: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    runs: dict[str, list[dict[str, float]]] = {label: [] for label in trees}
    for _ in range(rounds):
        for label, tree in trees.items():
            runs[label].append(slice_times(tree, repeat))
    parts = list(next(iter(runs.values()))[0])
    med = {label: {p: statistics.median(r[p] for r in rs) for p in parts} for label, rs in runs.items()}
    for label in trees:
        print(f"{label:>5}: " + "  ".join(f"{p} {med[label][p]:.3f}" for p in parts) + "  (CPU s, medians)")
        print(f"       load + write_outputs: {med[label]['load'] + med[label]['write_outputs']:.3f} s")
    if "ref" in med:
        for p in parts:
            print(f"ratio new/ref {p}: {med['new'][p] / max(med['ref'][p], 1e-9):.2f}x")
    print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 16], help="tile factors (default: 1 16)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--od", type=int, default=0, metavar="ROWS", help="an OD-like table of ROWS rows instead")
    ap.add_argument("--writers", nargs="+", choices=list(WRITERS), default=["openpyxl", "xlsxwriter"])
    ap.add_argument("--cache", type=Path, help="pickle of the demo's workbooks: read if it exists, else written")
    ap.add_argument("--slice", action="store_true", help="CPU of a light demo run's load and write steps, by part")
    ap.add_argument("--ref", type=Path, help="--slice: another source tree to measure too (alternating)")
    ap.add_argument("--rounds", type=int, default=3, help="--slice: child runs of each tree (default 3)")
    args = ap.parse_args()
    if args.slice:
        trees = {"new": ROOT, **({"ref": args.ref.resolve()} if args.ref else {})}
        run_slice(trees, args.repeat, args.rounds)
        return
    if not os.path.exists("/proc/self/clear_refs"):
        sys.exit("needs Linux /proc (peak RSS is read from /proc/self/status)")
    import openpyxl  # noqa: F401 - imported once, before the forks, so no run times the import
    import xlsxwriter  # noqa: F401

    if args.od:
        base = od_workbook(args.od)
    elif args.cache and args.cache.exists():
        base = pd.read_pickle(args.cache)
    else:
        base = demo_workbooks()
        if args.cache:
            pd.to_pickle(base, args.cache)
    sizes = sorted(set(args.sizes))
    for k in sizes:
        BOOKS[k] = tiled(base, k)
    med: dict[tuple[str, int], tuple[float, float, float, float]] = {}
    with tempfile.TemporaryDirectory() as d:
        for k in sizes:
            rows = sum(len(df) for _, tables, _ in BOOKS[k] for df in tables.values())
            sheets = sum(len(tables) for _, tables, _ in BOOKS[k])
            print(f"size {k}x: {len(BOOKS[k])} workbooks, {sheets} tables, {rows:,} rows; medians of {args.repeat}")
            every: dict[str, list[tuple[float, float, float, float]]] = {label: [] for label in args.writers}
            for i in range(args.repeat):  # the writers alternate: a busy spell of the machine hits them alike
                for label in args.writers:
                    every[label].append(measure(WRITERS[label], k, Path(d) / f"{label}-{k}-{i}"))
            for label in args.writers:
                runs = every[label]
                m = tuple(statistics.median(r[j] for r in runs) for j in range(4))
                med[label, k] = m  # type: ignore[assignment]
                print(
                    f"  {label:>15}: wall {m[0]:7.2f} s  cpu {m[1]:7.2f} s  peak RSS +{m[2]:7.1f} MiB  "
                    f"files {m[3]:6.1f} MiB   (walls: {', '.join(f'{r[0]:.2f}' for r in runs)})"
                )
    new = "xlsxwriter"
    for old in ("openpyxl", "xlsxwriter-frames"):
        for k in sizes:
            if (new, k) in med and (old, k) in med:
                a, b = med[new, k], med[old, k]
                print(
                    f"ratio {new}/{old} at {k}x: time {a[0] / b[0]:.2f}x, cpu {a[1] / max(b[1], 1e-9):.2f}x, "
                    f"peak RSS {a[2] / max(b[2], 1e-9):.2f}x"
                )
    print(f"load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if len(sizes) > 1:
        k0, k1 = sizes[0], sizes[-1]
        for label in args.writers:
            t = exponent(med[label, k0][0], med[label, k1][0], k0, k1)
            m = exponent(max(med[label, k0][2], 1.0), max(med[label, k1][2], 1.0), k0, k1)
            print(f"growth {k0}x->{k1}x {label:>15}: time ~ size^{t:.2f}, peak RSS ~ size^{m:.2f}")


if __name__ == "__main__":
    main()
