"""Benchmark the plan PDF (``plan.pdf``): the page-by-page matplotlib renderer before and after.

Usage::

    python benchmarks/bench_document.py              # the demo county's plan, medians of 3
    python benchmarks/bench_document.py --repeat 5

The demo scenario is run once (every step, nothing written) and its plan is laid out as blocks
(:func:`geofupin.document.plan_blocks`); then both renderers draw the same blocks, alternately,
``--repeat`` times each:

- "before" is the renderer geofupin used up to issue 14 (kept below as :func:`pdf_before`): a
  matplotlib ``Text`` artist and a new ``FontProperties`` for every string of every page;
- "after" is :func:`geofupin.document._pdf`: the pages laid out first (``_layout``), then every
  string of a page drawn by one artist straight through the renderer's ``draw_text``, with one
  ``FontProperties`` per size and weight.

Two comparisons:

- the text pages (the blocks without the map) laid out once by ``_layout`` and drawn both ways:
  :func:`text_per_string` (a ``Text`` artist and a ``FontProperties`` per string, as before) and
  ``_pdf``. Both must show the same pixels: when poppler's ``pdftoppm`` is installed both PDFs are
  rendered to PNG (60 dpi) and compared page by page;
- the whole document, the previous code exactly (:func:`pdf_before`: its own layout loop, which let
  a heading end a page and did not repeat a table's header on the next page, and the map
  resampled to the figure's 100 dpi) against ``_pdf`` (the map embedded at 300 ppi at its printed
  width, :data:`geofupin.document.PRINT_PPI`).

The last lines are the medians and the ratios (after / before: below 1 is faster).
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geofupin import document, pipeline, scenario  # noqa: E402
from geofupin.document import _layout, _pdf, _width, _wrap  # noqa: E402


def text_per_string(blocks: Sequence[tuple[Any, ...]], *, title: str) -> bytes:
    """The pages of ``_layout`` drawn the previous way: one ``Text`` artist and ``FontProperties`` a string."""
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

    from geofupin.maps.static import find_cjk_font

    family = find_cjk_font()
    W, H = 8.27, 11.69
    buf = io.BytesIO()
    with PdfPages(buf, metadata={"Title": title, "Creator": "geofupin", "CreationDate": None}) as pdf:
        for page in _layout(blocks):
            fig = Figure(figsize=(W, H))
            fig.text(0.5, 0.4 / H, f"- {page.number} -", ha="center", fontsize=8, parse_math=False)
            for x, y, text, size, bold in page.strings:
                fp = FontProperties(family=family, size=size, weight="bold" if bold else "normal")
                fig.text(x / W, y / H, text, fontproperties=fp, parse_math=False)
            pdf.savefig(fig)
    return buf.getvalue()


def pdf_before(blocks: Sequence[tuple[Any, ...]], *, title: str) -> bytes:
    """The previous renderer, as it was: one ``Text`` artist (and one ``FontProperties``) per string."""
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties
    from PIL import Image

    from geofupin.maps.static import find_cjk_font

    family = find_cjk_font()
    W, H, M = 8.27, 11.69, 0.8
    pt = 1 / 72
    buf = io.BytesIO()
    with PdfPages(buf, metadata={"Title": title, "Creator": "geofupin", "CreationDate": None}) as pdf:
        state: dict[str, Any] = {"fig": None, "y": 0.0, "page": 0}

        def new_page() -> None:
            if state["fig"] is not None:
                pdf.savefig(state["fig"])
            state["fig"] = Figure(figsize=(W, H))
            state["y"] = H - M
            state["page"] += 1
            state["fig"].text(W / 2 / W, 0.4 / H, f"- {state['page']} -", ha="center", fontsize=8, parse_math=False)

        def line(text: str, size: float, *, x: float = M, bold: bool = False) -> None:
            h = size * pt * 1.5
            if state["y"] - h < M:
                new_page()
            state["y"] -= h
            fp = FontProperties(family=family, size=size, weight="bold" if bold else "normal")
            state["fig"].text(x / W, state["y"] / H, text, fontproperties=fp, parse_math=False)

        new_page()
        for b in blocks:
            if b[0] == "heading":
                size = {0: 20.0, 1: 15.0}.get(b[2], 12.0)
                if b[2] == 1 and state["y"] < H - M - 0.1:
                    new_page()
                for ln in _wrap(b[1], (W - 2 * M) / (size * pt)):
                    line(ln, size, bold=True)
                state["y"] -= 0.08
            elif b[0] == "para":
                for ln in _wrap(b[1], (W - 2 * M) / (10 * pt)):
                    line(ln, 10.0)
            elif b[0] == "table":
                _, _, caption, header, rows = b
                line(caption, 10.0, bold=True)
                ems = [max(_width(h), *(_width(r[i]) for r in rows)) + 1 for i, h in enumerate(header)]
                size = min(8.0, (W - 2 * M) / (sum(ems) * pt))
                xs = [M]
                for e in ems[:-1]:
                    xs.append(xs[-1] + e * size * pt)
                for j, row in enumerate([header, *rows]):
                    h = size * pt * 1.5
                    if state["y"] - h < M:
                        new_page()
                    state["y"] -= h
                    for x, v in zip(xs, row, strict=True):
                        fp = FontProperties(family=family, size=size, weight="bold" if j == 0 else "normal")
                        state["fig"].text(x / W, state["y"] / H, v, fontproperties=fp, parse_math=False)
                state["y"] -= 0.1
            elif b[0] == "picture":
                img = Image.open(io.BytesIO(b[1]))
                w_in = W - 2 * M
                h_in = w_in * img.height / img.width
                if state["y"] - h_in < M:
                    new_page()
                ax = state["fig"].add_axes(((M / W), (state["y"] - h_in) / H, w_in / W, h_in / H))
                ax.imshow(img)
                ax.set_axis_off()
                state["y"] -= h_in + 0.1
        pdf.savefig(state["fig"])
    return buf.getvalue()


def pages_identical(a: bytes, b: bytes) -> str:
    """Render both PDFs at 60 dpi and compare every page's pixels (``"skipped"`` without pdftoppm)."""
    if shutil.which("pdftoppm") is None:
        return "skipped (no pdftoppm)"
    import numpy as np
    from PIL import Image

    with tempfile.TemporaryDirectory() as d:
        out = {}
        for name, data in (("a", a), ("b", b)):
            (Path(d) / f"{name}.pdf").write_bytes(data)
            subprocess.run(["pdftoppm", "-r", "60", "-png", f"{d}/{name}.pdf", f"{d}/{name}"], check=True)
            out[name] = sorted(Path(d).glob(f"{name}-*.png"))
        if len(out["a"]) != len(out["b"]):
            return f"NO: {len(out['a'])} pages against {len(out['b'])}"
        bad = [
            p.name
            for p, q in zip(out["a"], out["b"], strict=True)
            if not np.array_equal(np.asarray(Image.open(p)), np.asarray(Image.open(q)))
        ]
        return f"yes, {len(out['a'])} pages" if not bad else f"NO: pages {', '.join(bad)} differ"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "demo.yaml"))
    args = ap.parse_args()
    sc = scenario.load(args.scenario)
    t = time.perf_counter()
    out = pipeline.run(sc)
    print(f"demo run (every step): {time.perf_counter() - t:.1f} s")
    png = next((c for n, c in out.ctx.artifact("map", "files", {}).items() if n.endswith(".png")), None)
    t = time.perf_counter()
    blocks = document.plan_blocks(out.ctx, run_id="bench", inputs_sha256=pipeline.input_hashes(sc), map_png=png)
    print(f"plan blocks: {time.perf_counter() - t:.2f} s")
    strings = sum(len(b[3]) * (len(b[4]) + 1) for b in blocks if b[0] == "table")
    print(f"{len(blocks)} blocks, {strings} table cells, map {'yes' if png else 'no'}")
    title = sc.title.zh
    text_only = [b for b in blocks if b[0] != "picture"]
    ratios = {}
    for label, bl, base in (("text pages", text_only, text_per_string), ("whole document", blocks, pdf_before)):
        before: list[float] = []
        after: list[float] = []
        a = b = b""
        for _ in range(args.repeat):  # alternately, so a busy machine slows both alike
            t = time.perf_counter()
            b = base(bl, title=title)
            before.append(time.perf_counter() - t)
            t = time.perf_counter()
            a = _pdf(bl, title=title)
            after.append(time.perf_counter() - t)
        if base is text_per_string:
            print(f"{label}: same pixels on every page: {pages_identical(b, a)}")
        mb, ma = statistics.median(before), statistics.median(after)
        print(f"{label}, before ({base.__name__}): {', '.join(f'{x:.2f}' for x in before)} s; median {mb:.2f} s")
        print(f"{label}, after (_pdf): {', '.join(f'{x:.2f}' for x in after)} s; median {ma:.2f} s")
        print(f"{label}: {len(b):,} bytes before, {len(a):,} after")
        ratios[label] = ma / mb
    for label, r in ratios.items():
        print(f"ratio after / before, {label}: {r:.2f}")


if __name__ == "__main__":
    main()
