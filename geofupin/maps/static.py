"""Static maps for printed reports (PNG/PDF, A4/A3) drawn with matplotlib.

Static maps stay in the run's metric CRS (a Gauss-Kruger projection prints well and the
scale bar is exact). Chinese text needs a CJK font: :func:`find_cjk_font` looks for Noto
Sans CJK SC (Debian ``fonts-noto-cjk``) and other common CJK fonts in a regular weight,
and falls back to the default font with a warning (Chinese labels then show as boxes).

Text is text: every string is drawn with ``parse_math=False`` and ``usetex=False`` (a
township named ``a$b$c`` is not typeset, ``$\\foo$`` does not crash), and legend labels
always start with geofupin's own words, so none starts with ``_`` (which matplotlib hides).
"""

from __future__ import annotations

import glob
import logging
import math
import warnings
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any, Literal

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, fontManager
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.text import Text

from ..config.maps import MapConfig
from ..context import RunContext, StepResult
from . import data as D
from .hillshade import DemShade, hillshade_warped
from .page import find as _find
from .page import frames as _frames
from .sites import SCORE_COLORS
from .villages import public_villages

log = logging.getLogger(__name__)

Paper = Literal["A4", "A3"]
PAPER_MM: dict[str, tuple[float, float]] = {"A4": (297.0, 210.0), "A3": (420.0, 297.0)}
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "Noto Serif CJK SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Noto Sans CJK JP",
)
CJK_GLOBS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK*.ttc",
    "/usr/share/fonts/**/NotoSansCJK*.tt[cf]",
    "/usr/share/fonts/**/*CJK*.tt[cf]",
    "/usr/share/fonts/**/wqy*.tt[cf]",
    "/usr/local/share/fonts/**/*.tt[cf]",
    "C:/Windows/Fonts/simhei.ttf",
    "C:/Windows/Fonts/msyh.ttc",
    "/System/Library/Fonts/PingFang.ttc",
)


def _is_regular(weight: Any) -> bool:
    """A font entry's weight is regular (400; matplotlib keeps ints or CSS words)."""
    if isinstance(weight, str):
        weight = {"normal": 400, "regular": 400, "book": 400, "roman": 400}.get(weight.lower(), 0)
    return 350 <= int(weight) <= 450


def _regular_cjk_family() -> str | None:
    """The first of :data:`CJK_FAMILIES` that matplotlib knows in a regular weight (Simplified Chinese first)."""
    regular = {f.name for f in fontManager.ttflist if _is_regular(f.weight)}
    return next((fam for fam in CJK_FAMILIES if fam in regular), None)


@cache
def find_cjk_font() -> str | None:
    """The family name of an installed regular-weight (400) CJK face, Simplified Chinese first, or ``None``.

    matplotlib's font manager lists every face of a font collection (``.ttc``) by its own
    family name (``Noto Sans CJK SC``) and weight; the first of :data:`CJK_FAMILIES` it has in
    a regular weight is used, so printed text is neither all bold nor a Japanese face. Font
    files outside matplotlib's search path are registered first (regular files before bold).
    """
    got = _regular_cjk_family()
    if got is not None:
        return got
    for pattern in CJK_GLOBS:
        for path in sorted(glob.glob(pattern, recursive=True), key=lambda f: ("bold" in f.lower(), f)):
            try:
                fontManager.addfont(path)
            except Exception:  # unreadable font file: try the next
                continue
            log.debug("registered font file %s", path)
        got = _regular_cjk_family()
        if got is not None:
            return got
    warnings.warn(
        "no regular-weight CJK font found; Chinese text in static maps will not render. "
        "Fix: install Debian 'fonts-noto-cjk' (or any Noto Sans CJK SC / Source Han Sans SC / WenQuanYi font).",
        stacklevel=2,
    )
    return None


#: Keyword arguments that make matplotlib draw a string literally: no mathtext, no LaTeX.
LITERAL: dict[str, Any] = {"parse_math": False, "usetex": False}


def _literal(texts: Iterable[Text]) -> None:
    for t in texts:
        t.set_parse_math(False)
        t.set_usetex(False)


#: Font size of the rank numbers; their circles are about this many points across per digit, plus padding.
RANK_FONT_PT = 7.0


def _rank_radius_pt(rank: int) -> float:
    digits = len(str(rank))
    return (max(digits * 0.62, 1.0) * RANK_FONT_PT + 2 * 0.2 * RANK_FONT_PT) / 2 + 1.0


def _declutter(ax, ranks: list[tuple[float, float, int]]) -> list[tuple[float, float, int]]:
    """The rank labels to draw: best rank first, each only where its circle overlaps none drawn before it."""
    if not ranks:
        return []
    ax.apply_aspect()
    x0, x1 = ax.get_xlim()
    box = ax.get_position()
    width_pt = box.width * ax.figure.get_figwidth() * 72.0
    m_per_pt = (x1 - x0) / width_pt
    kept_xy: list[tuple[float, float]] = []
    kept_r: list[float] = []
    out = []
    for x, y, r in sorted(ranks, key=lambda t: t[2]):
        rad = _rank_radius_pt(r) * m_per_pt
        if kept_xy:
            d = np.hypot(*(np.asarray(kept_xy) - (x, y)).T)
            if (d < np.asarray(kept_r) + rad).any():
                continue
        kept_xy.append((x, y))
        kept_r.append(rad)
        out.append((x, y, r))
    return out


def nice_length(span_m: float) -> float:
    """A round scale-bar length (1, 2 or 5 x 10^k metres) close to a fifth of ``span_m``."""
    target = max(span_m / 5.0, 1e-9)
    k = 10 ** math.floor(math.log10(target))
    return float(max((c * k for c in (1, 2, 5, 10) if c * k <= target), default=k))


def _scale_bar(ax, x0: float, y0: float, length_m: float, height: float, font: FontProperties) -> None:
    half = length_m / 2
    for i, fc in enumerate(("black", "white")):
        ax.add_patch(Rectangle((x0 + i * half, y0), half, height, facecolor=fc, edgecolor="black", lw=0.8, zorder=20))
    label = f"{length_m / 1000:g} 公里 km" if length_m >= 1000 else f"{length_m:g} 米 m"
    ax.text(x0, y0 + height * 1.6, "0", ha="center", va="bottom", fontproperties=font, fontsize=7, zorder=20, **LITERAL)
    ax.text(
        x0 + length_m,
        y0 + height * 1.6,
        label,
        ha="center",
        va="bottom",
        fontproperties=font,
        fontsize=7,
        zorder=20,
        **LITERAL,
    )


def _north_arrow(ax, font: FontProperties) -> None:
    ax.annotate(
        "",
        xy=(0.95, 0.95),
        xytext=(0.95, 0.86),
        xycoords="axes fraction",
        arrowprops={"facecolor": "black", "width": 4, "headwidth": 12, "headlength": 12},
        zorder=20,
        **LITERAL,
    )
    ax.text(
        0.95,
        0.965,
        "北 N",
        transform=ax.transAxes,
        ha="center",
        va="bottom",
        fontproperties=font,
        fontsize=10,
        **LITERAL,
    )


def build_static_map(
    ctx: RunContext | None = None,
    *,
    layers=None,
    results: Mapping[str, StepResult] | None = None,
    config: MapConfig | None = None,
    paper: Paper = "A4",
    orientation: Literal["landscape", "portrait"] = "landscape",
    dpi: int = 150,
    shade: DemShade | None = None,
) -> Figure:
    """A printable map of a run: boundaries, roads, water, sites by score, flows, villages.

    Parameters
    ----------
    ctx
        The run (or give ``layers`` and ``results``).
    config
        The ``map`` section (title, public mode, approval number).
    paper
        ``A4`` or ``A3``.
    orientation
        ``landscape`` (default) or ``portrait``.
    dpi
        Resolution for PNG output.
    shade
        The DEM's hillshade when already computed (:func:`~geofupin.maps.hillshade.dem_shade`).

    Returns
    -------
    A matplotlib ``Figure``; save with ``fig.savefig(path)`` through ``geofupin.io``
    (``.png`` or ``.pdf``).
    """
    if ctx is not None:
        layers = ctx.layers
        results = ctx.results
        config = config or getattr(ctx.scenario, "map", None)
    if layers is None:
        raise TypeError("build_static_map needs a RunContext or layers=.")
    results = results or {}
    config = config or MapConfig()
    if paper not in PAPER_MM:
        raise ValueError(f"paper {paper!r} is not one of {', '.join(PAPER_MM)}. Fix: use 'A4' or 'A3'.")
    w_mm, h_mm = PAPER_MM[paper]
    if orientation == "portrait":
        w_mm, h_mm = h_mm, w_mm
    family = find_cjk_font()
    font = FontProperties(family=[family, "DejaVu Sans"] if family else ["DejaVu Sans"])
    fig = Figure(figsize=(w_mm / 25.4, h_mm / 25.4), dpi=dpi)
    ax = fig.add_axes((0.03, 0.05, 0.72, 0.86))
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    handles: list = []
    focus: list[tuple[float, float, float, float]] = []
    ranks: list[tuple[float, float, int]] = []
    if config.hillshade and layers.dem is not None:
        got = hillshade_warped(layers.dem, layers.crs, max_px=config.hillshade_max_px, shade=shade)
        if got is not None:
            relief, t = got
            extent = (t.c, t.c + t.a * relief.shape[1], t.f + t.e * relief.shape[0], t.f)
            ax.imshow(
                np.ma.masked_invalid(relief),
                cmap="Greys_r",
                vmin=0,
                vmax=1,
                alpha=0.45,
                extent=extent,
                interpolation="bilinear",
                zorder=0,
            )

    b = layers.boundaries
    if b is not None and len(b):
        lvl = b["level"].astype(str) if "level" in b.columns else pd.Series("township", index=b.index)
        b[lvl != "county"].boundary.plot(ax=ax, color="#555", lw=0.7, ls="--", zorder=2)
        b[lvl == "county"].boundary.plot(ax=ax, color="#222", lw=1.6, zorder=2)
        for _, row in b[lvl != "county"].iterrows():
            pt = row[b.geometry.name].representative_point()
            ax.text(
                pt.x,
                pt.y,
                str(row.get("name", "")),
                fontproperties=font,
                fontsize=9,
                ha="center",
                color="#333",
                zorder=15,
                alpha=0.8,
                clip_on=True,
                **LITERAL,
            )
        handles.append(Line2D([], [], color="#555", ls="--", lw=0.8, label="乡镇界 township boundary"))
    w = layers.water
    if w is not None and len(w):
        gt = w.geom_type
        if gt.str.contains("Polygon").any():
            w[gt.str.contains("Polygon")].plot(ax=ax, color="#9ecae1", edgecolor="#2c7fb8", lw=0.4, zorder=3)
        if gt.str.contains("Line").any():
            w[gt.str.contains("Line")].plot(ax=ax, color="#2c7fb8", lw=1.0, zorder=3)
        handles.append(Line2D([], [], color="#2c7fb8", lw=1.2, label="河流 river"))
    r = layers.roads
    if r is not None and len(r):
        cls = r["road_class"].astype(str) if "road_class" in r.columns else pd.Series("village", index=r.index)
        for z, (c, (zh, color, width)) in enumerate(D.ROAD_STYLE.items()):
            sel = cls == c
            if sel.any():  # major roads on top of minor ones, listed first
                r[sel].plot(ax=ax, color=color, lw=width * 0.45, zorder=4 + 0.1 * (len(D.ROAD_STYLE) - z))
                handles.append(Line2D([], [], color=color, lw=width * 0.45, label=f"{zh} {c} road"))
    sites = _find(results, "sites", "layers")
    if sites is None:
        sites = layers.candidates
    if sites is not None and len(sites):
        passed = (
            sites["passed"].fillna(False).astype(bool)
            if "passed" in sites.columns
            else pd.Series(True, index=sites.index)
        )
        score = (
            pd.to_numeric(sites["score"], errors="coerce")
            if "score" in sites.columns
            else pd.Series(np.nan, index=sites.index)
        )
        colors = (
            D.ramp(np.where(passed, score, np.nan), SCORE_COLORS) if score.notna().any() else ["#fdae6b"] * len(sites)
        )
        colors = [c if ok else "#bdbdbd" for c, ok in zip(colors, passed, strict=True)]
        sites.plot(ax=ax, color=colors, edgecolor="#333", lw=0.6, zorder=6)
        if "rank" in sites.columns:
            rank = pd.to_numeric(sites["rank"], errors="coerce")
            pts = sites.geometry.representative_point()
            ranks = [
                (float(pt.x), float(pt.y), int(r))
                for pt, r, ok in zip(pts, rank, passed, strict=True)
                if ok and pd.notna(r)
            ]
        focus.append(tuple((sites[passed] if passed.any() else sites).total_bounds))
        handles.append(Patch(facecolor=SCORE_COLORS[-1], edgecolor="#333", label="安置点（数字为排名） site (rank)"))
        if (~passed).any():
            handles.append(Patch(facecolor="#bdbdbd", edgecolor="#333", label="未通过筛选 excluded site"))
    flows = _find(results, "allocation_flows", "layers")
    if flows is not None and len(flows):
        hh = pd.to_numeric(flows.get("households", 1), errors="coerce").fillna(0)
        flows.plot(ax=ax, color="#e6550d", lw=(0.5 + 3 * np.sqrt(hh / (hh.max() or 1))).to_numpy(), alpha=0.7, zorder=7)
        handles.append(Line2D([], [], color="#e6550d", lw=2, label="搬迁去向 village → site"))
    f = layers.facilities
    if f is not None and len(f):
        kinds = f["kind"].astype(str) if "kind" in f.columns else pd.Series("town", index=f.index)
        for k, (zh, _glyph, color) in D.FACILITY_ZH.items():
            sel = kinds == k
            if sel.any():
                ax.scatter(
                    f[sel].geometry.x,
                    f[sel].geometry.y,
                    marker="s",
                    s=22,
                    c=color,
                    edgecolors="white",
                    lw=0.5,
                    zorder=9,
                )
                handles.append(Line2D([], [], marker="s", ls="", color=color, label=f"{zh} {k.replace('_', ' ')}"))
    v = layers.villages
    if v is not None and len(v) and config.public:
        v = public_villages(v)[0]  # village totals only (公示)
    if v is not None and len(v):
        persons = pd.to_numeric(v.get("persons", 0), errors="coerce").fillna(0).clip(lower=0)
        reloc = pd.to_numeric(v.get("relocate_persons", 0), errors="coerce").fillna(0)
        size = 6 + 60 * np.sqrt(persons / (persons.max() or 1))
        col = np.where(reloc > 0, D.STATUS_STYLE["relocate"][2], D.STATUS_STYLE["stay"][2])
        ax.scatter(v.geometry.x, v.geometry.y, s=size, c=col, edgecolors="#222", lw=0.4, zorder=10)
        focus.append(tuple(v.total_bounds))
        for code in ("stay", "relocate"):
            zh, en, color = D.STATUS_STYLE[code]
            handles.append(Line2D([], [], marker="o", ls="", color=color, mec="#222", label=f"{zh} {en} village"))

    ax.set_xlabel("")
    ax.set_ylabel("")
    if focus:  # the villages and sites fill the map, not the whole extract (roads, power lines run off it)
        b = np.array(focus, dtype=float)
        w, s, e, n = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
        px, py = max(0.05 * (e - w), 1000.0 - (e - w) / 2), max(0.05 * (n - s), 1000.0 - (n - s) / 2)
        ax.set_xlim(w - px, e + px)
        ax.set_ylim(s - py, n + py)
    shown_ranks = _declutter(ax, ranks)
    for x, y, r in shown_ranks:
        ax.text(
            x,
            y,
            str(r),
            fontsize=RANK_FONT_PT,
            ha="center",
            va="center",
            zorder=16,
            clip_on=True,
            bbox={"boxstyle": "circle,pad=0.2", "fc": "white", "ec": "#333", "lw": 0.6},
            **LITERAL,
        )
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    span = x1 - x0
    length = nice_length(span)
    _scale_bar(ax, x0 + 0.04 * span, y0 + 0.04 * (y1 - y0), length, 0.008 * (y1 - y0), font)
    _north_arrow(ax, font)
    fig.text(0.03, 0.955, config.title, fontproperties=font, fontsize=17, va="bottom", **LITERAL)
    fig.text(0.03, 0.925, config.title_en, fontproperties=font, fontsize=9, color="#444", va="bottom", **LITERAL)
    lg = fig.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(0.765, 0.91),
        frameon=True,
        fontsize=7,
        title="图例 Legend",
        prop=font,
    )
    lg.get_title().set_fontproperties(font)
    _literal([*lg.get_texts(), lg.get_title()])
    notes = [f"坐标系 CRS: {layers.crs.name}"]
    if config.public:
        notes.append("公示版：仅村级合计 / public notice: village totals only")
    if len(shown_ranks) < len(ranks):
        notes.append(
            f"排名标注 {len(shown_ranks)}/{len(ranks)} 个（其余重叠，见网页地图）/ "
            f"ranks labelled: {len(shown_ranks)} of {len(ranks)} (the rest overlap; see the web map)"
        )
    notes.extend(D.credits(config.credits(), _frames(layers, results)))
    notes.append("审图号 approval No.: " + (config.approval_number or "（待审 pending）"))
    fig.text(0.765, 0.06, "\n".join(notes), fontproperties=font, fontsize=7, va="bottom", color="#333", **LITERAL)
    return fig
