"""The ``map`` step and the files a published run gets from this package.

Compute only: the step returns the page as text in ``artifacts``; the pipeline (through
``geofupin.io``) writes it to ``maps/<scenario>/index.html``.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

from .._optional import available, require
from ..config.maps import MapConfig
from ..context import RunContext, StepResult
from .hillshade import dem_shade
from .offline import render_html
from .overview import build_run_map

if TYPE_CHECKING:
    from .static import Paper

log = logging.getLogger(__name__)


def map_config(ctx: RunContext, **overrides: Any) -> MapConfig:
    """The scenario's ``map`` section (defaults when absent) with CLI overrides (``basemap``, ``public``).

    A section that keeps the default title takes the scenario's own bilingual title.
    """
    config = getattr(ctx.scenario, "map", None) or MapConfig()
    title = getattr(ctx.scenario, "title", None)
    if title is not None and config.title == MapConfig.title and config.title_en == MapConfig.title_en:
        config = replace(config, title=title.zh, title_en=title.en or config.title_en)
    given = {k: v for k, v in overrides.items() if v is not None}
    return replace(config, **given) if given else config


#: zlib level of the printable PNG: 3 writes an opaque A3 map at 150 dpi in half the time of PIL's default 6
#: and within 0.1 % of its size.
PNG_COMPRESS_LEVEL = 3


def figure_bytes(fig: Any, fmt: Literal["png", "pdf"]) -> bytes:
    """A matplotlib figure as PNG or PDF bytes (for ``geofupin.io`` to write), with no timestamp inside.

    The PNG holds the pixels ``fig.savefig(format="png")`` draws (Agg, at the figure's dpi), written as
    RGB when every pixel is opaque (a printed map always is; RGBA otherwise) at
    :data:`PNG_COMPRESS_LEVEL`: the same image as matplotlib's RGBA file, about a third of the time.
    """
    buf = io.BytesIO()
    if fmt == "pdf":
        fig.savefig(buf, format="pdf", metadata={"Creator": "geofupin", "CreationDate": None})
        return buf.getvalue()
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    opaque = bool((rgba[..., 3] == 255).all())
    img = Image.fromarray(np.ascontiguousarray(rgba[..., :3]) if opaque else rgba, mode="RGB" if opaque else "RGBA")
    img.save(buf, format="png", dpi=(fig.dpi, fig.dpi), compress_level=PNG_COMPRESS_LEVEL)
    return buf.getvalue()


def map_outputs(
    ctx: RunContext,
    *,
    config: MapConfig | None = None,
    static: Iterable[Paper] = (),
    formats: Iterable[Literal["png", "pdf"]] = ("png", "pdf"),
) -> dict[str, str | bytes]:
    """Every map file of a run by file name: ``index.html`` and, per paper, ``map_A4.png``/``.pdf``.

    Printable maps need matplotlib (the ``static`` extra); asking for them without it raises
    :class:`~geofupin.errors.MissingDependencyError`.
    """
    config = config or map_config(ctx)
    fmts = tuple(formats)
    papers = tuple(static) if fmts else ()
    dem = ctx.layers.dem
    # the DEM is read and shaded once, for the page and every printed map (each warps it to its own CRS)
    shade = dem_shade(dem, max_px=config.hillshade_max_px) if config.hillshade and dem is not None else None
    out: dict[str, str | bytes] = {
        "index.html": render_html(
            build_run_map(ctx, config=config, shade=shade), offline=config.offline, title=config.title
        )
    }
    if not papers:
        return out
    require("matplotlib").use("Agg")
    from matplotlib import pyplot as plt

    from .static import build_static_map

    for paper in papers:
        fig = build_static_map(ctx, config=config, paper=paper, shade=shade)
        try:
            for fmt in fmts:
                out[f"map_{paper}.{fmt}"] = figure_bytes(fig, fmt)
        finally:
            plt.close(fig)
    return out


def step(ctx: RunContext) -> StepResult:
    """The ``map`` step: the published page of everything earlier steps produced.

    The printable maps the scenario's ``outputs.static_maps`` asks for (on ``outputs.paper``)
    come too.

    Returns
    -------
    ``artifacts['files']`` (file name -> text or bytes: ``index.html``, ``map_A3.png`` ...),
    ``artifacts['index_html']`` (the page) and a summary (size, basemap, public mode, which
    result layers were drawn).
    """
    config = map_config(ctx)
    outputs = getattr(ctx.scenario, "outputs", None)
    formats = tuple(getattr(outputs, "static_maps", ()) or ())
    paper: Paper = getattr(outputs, "paper", "A4")
    warnings: tuple[str, ...] = ()
    if formats and not available("matplotlib"):  # the base install: the page still comes, the prints are skipped
        warnings = (
            f"map: 未安装 matplotlib,跳过静态地图 map_{paper}.{'/'.join(formats)};需要时请安装 "
            "pip install 'geofupin[static]' / printable maps skipped: install geofupin[static]",
        )
        log.warning(warnings[0])
        formats = ()
    files = map_outputs(ctx, config=config, static=(paper,) if formats else (), formats=formats)
    html = str(files["index.html"])
    drawn = sorted({name for res in ctx.results.values() for name in res.layers})
    if config.basemap == "tianditu":
        from .basemaps import tianditu_key

        if not tianditu_key(config):
            warnings += ("map: Tianditu basemap needs a key (map.tianditu_key or TIANDITU_KEY); drawn without tiles",)
    return StepResult(
        artifacts={"files": files, "index_html": html},
        summary={
            "html_bytes": len(html.encode("utf-8")),
            "basemap": config.basemap,
            "public": config.public,
            "offline": config.offline,
            "result_layers": drawn,
        },
        warnings=warnings,
    )
