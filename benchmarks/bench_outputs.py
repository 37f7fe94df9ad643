"""Benchmark the workbook writer: write-only (row by row) vs the previous in-memory workbook.

Usage::

    python benchmarks/bench_outputs.py                 # 200,000 rows x 5 columns, medians of 3
    python benchmarks/bench_outputs.py --rows 20000    # smaller
    python benchmarks/bench_outputs.py --repeat 5

The table looks like the OD table with a Chinese name column: village_id, site_id, name (text),
time_min, dist_m. Each write runs in a forked child process (the table is built once, before the
fork) that resets its peak-RSS mark (``/proc/self/clear_refs``), writes the workbook and reports
its wall time and the peak RSS above what it held before writing. Medians of ``--repeat`` runs.

"before" is the writer geofupin used up to issue 17 (an openpyxl ``Workbook()`` holding every cell,
saved to memory, then copied with pinned zip times), kept here as the baseline; "after" is
:func:`geofupin.io.write_xlsx` (``Workbook(write_only=True)``, zip members streamed).
The ratios are printed last (after / before: below 1 is better).
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Mapping
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geofupin import io as gio  # noqa: E402


def od_like(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    v = rng.integers(0, max(rows // 20, 1), rows)
    return pd.DataFrame(
        {
            "village_id": [f"610602{i:06d}" for i in v],
            "site_id": [f"S{i:04d}" for i in rng.integers(0, 1300, rows)],
            "name": [f"王家湾乡张家塬村{i}组" for i in v],
            "time_min": rng.uniform(1, 300, rows).round(2),
            "dist_m": rng.uniform(100, 90_000, rows).round(1),
        }
    )


def write_before(tables: Mapping[str, pd.DataFrame], path: Path, headers_en: Mapping[str, Mapping[str, str]]) -> None:
    """The previous writer: every cell of every sheet in memory, the archive in memory, then pinned."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    used: set[str] = set()
    for name, df in tables.items():
        ws = wb.create_sheet(gio._sheet_name(name, used))
        rows: list[list[Any]] = [[str(c) for c in df.columns], [headers_en[name].get(str(c), str(c)) for c in df]]
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
        ws.freeze_panes = "A3"
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


def write_after(tables: Mapping[str, pd.DataFrame], path: Path, headers_en: Mapping[str, Mapping[str, str]]) -> None:
    gio.write_xlsx(tables, path, headers_en=headers_en)


def _kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field)


def _child(fn: Callable[..., None], tables: Any, path: Path, en: Any, conn: Any) -> None:
    with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
        fh.write("5")  # reset the peak-RSS mark (VmHWM) to the current RSS
    base = _kib("VmRSS")
    t = time.perf_counter()
    fn(tables, path, en)
    wall = time.perf_counter() - t
    conn.send((wall, (_kib("VmHWM") - base) / 1024))
    conn.close()


TABLES: dict[str, pd.DataFrame] = {}


def measure(fn: Callable[..., None], path: Path, en: Any) -> tuple[float, float]:
    """(wall s, peak RSS MiB above the start) of one write in a forked child."""
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(fn, TABLES, path, en, child))
    proc.start()
    result = parent.recv()
    proc.join()
    if proc.exitcode != 0:
        raise RuntimeError(f"{fn.__name__} failed ({proc.exitcode})")
    return result  # type: ignore[no-any-return]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if not os.path.exists("/proc/self/clear_refs"):
        sys.exit("needs Linux /proc (peak RSS is read from /proc/self/status)")
    import openpyxl  # noqa: F401 - imported once, before the forks, so no run times the import

    TABLES["od_like"] = od_like(args.rows)
    en = {"od_like": {"village_id": "village_id", "site_id": "site_id", "name": "name"}}
    print(f"table: {args.rows:,} rows x {TABLES['od_like'].shape[1]} columns; medians of {args.repeat}")
    med: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as d:
        for label, fn in (("before", write_before), ("after", write_after)):
            runs = [measure(fn, Path(d) / f"{label}{i}.xlsx", en) for i in range(args.repeat)]
            size = (Path(d) / f"{label}0.xlsx").stat().st_size / 2**20
            med[label] = (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))
            print(
                f"{label:>6}: wall {med[label][0]:7.2f} s   peak RSS +{med[label][1]:7.1f} MiB   "
                f"file {size:.1f} MiB   (runs: {', '.join(f'{w:.2f} s/{m:.0f} MiB' for w, m in runs)})"
            )
    time_ratio = med["after"][0] / med["before"][0]
    print(f"ratio after/before: time {time_ratio:.2f}x, peak RSS {med['after'][1] / med['before'][1]:.3f}x")


if __name__ == "__main__":
    main()
