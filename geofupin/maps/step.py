"""The ``map`` step and the files a published run gets from this package.

Compute only: the step returns the page as text in ``artifacts``; the pipeline (through
``geofupin.io``) writes it to ``maps/<scenario>/index.html``.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable
from dataclasses import replace
from typing import Any, Literal

from ..context import RunContext, StepResult
from .config import MapConfig
from .offline import render_html
from .overview import build_run_map
from .static import Paper, build_static_map

log = logging.getLogger(__name__)


def map_config(ctx: RunContext, **overrides: Any) -> MapConfig:
    """The scenario's ``map`` section (defaults when absent) with CLI overrides (``basemap``, ``public``)."""
    config = getattr(ctx.scenario, "map", None) or MapConfig()
    given = {k: v for k, v in overrides.items() if v is not None}
    return replace(config, **given) if given else config


def figure_bytes(fig: Any, fmt: Literal["png", "pdf"]) -> bytes:
    """A matplotlib figure as PNG or PDF bytes (for ``geofupin.io`` to write)."""
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, metadata={"Creator": "geofupin"} if fmt == "pdf" else None)
    return buf.getvalue()


def map_outputs(
    ctx: RunContext, *, config: MapConfig | None = None, static: Iterable[Paper] = ()
) -> dict[str, str | bytes]:
    """Every map file of a run by file name: ``index.html`` and, per paper, ``map_A4.png``/``.pdf``."""
    config = config or map_config(ctx)
    out: dict[str, str | bytes] = {
        "index.html": render_html(build_run_map(ctx, config=config), offline=config.offline, title=config.title)
    }
    for paper in static:
        fig = build_static_map(ctx, config=config, paper=paper)
        out[f"map_{paper}.png"] = figure_bytes(fig, "png")
        out[f"map_{paper}.pdf"] = figure_bytes(fig, "pdf")
    return out


def step(ctx: RunContext) -> StepResult:
    """The ``map`` step: the published page of everything earlier steps produced.

    Returns
    -------
    ``artifacts['index_html']`` (the self-contained page, text) and a summary (size,
    basemap, public mode, which result layers were drawn).
    """
    config = map_config(ctx)
    html = render_html(build_run_map(ctx, config=config), offline=config.offline, title=config.title)
    drawn = sorted({name for res in ctx.results.values() for name in res.layers})
    warnings: tuple[str, ...] = ()
    if config.basemap == "tianditu":
        from .basemaps import tianditu_key

        if not tianditu_key(config):
            warnings = ("map: Tianditu basemap needs a key (map.tianditu_key or TIANDITU_KEY); drawn without tiles",)
    return StepResult(
        artifacts={"index_html": html},
        summary={
            "html_bytes": len(html.encode("utf-8")),
            "basemap": config.basemap,
            "public": config.public,
            "offline": config.offline,
            "result_layers": drawn,
        },
        warnings=warnings,
    )
