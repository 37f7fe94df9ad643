"""Render a map as ONE self-contained HTML page (offline by default).

Leaflet, its plugins and their CSS come from the ``folium-offline`` package (import name
``offlinefolium``), which ships them keyed by the CDN address folium links to. The page is
rendered by folium, then every ``<script src=...>`` and stylesheet ``<link>`` is replaced
by the shipped text. Resources that would fetch fonts or images from the network
(Bootstrap, Font Awesome, glyphicons; geofupin's own markers need none of them) are
dropped. Anything left pointing at the network raises :class:`OfflineAssetError`, so an
offline page cannot silently depend on a CDN.
"""

from __future__ import annotations

import logging
import re
from functools import cache
from typing import Any

from ..errors import GeofupinError

log = logging.getLogger(__name__)

#: folium default resources geofupin maps never use; each needs web fonts or images from a CDN.
DROPPED = (
    "bootstrap",
    "fontawesome",
    "glyphicons",
    "awesome-markers",
    "awesome.rotate",
    "jquery",
)

_SCRIPT_RE = re.compile(r'<script\s+src="(?P<url>[^"]+)"\s*>\s*</script>')
_LINK_RE = re.compile(r'<link\s+rel="stylesheet"\s+href="(?P<url>[^"]+)"\s*/?>')


class OfflineAssetError(GeofupinError, RuntimeError):
    """A resource the page needs is not shipped by ``folium-offline``."""


@cache
def shipped_assets() -> dict[str, str]:
    """CDN address -> file text, as shipped by the ``folium-offline`` package."""
    try:
        from offlinefolium.elements import _res
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise OfflineAssetError(
            "offline maps need the 'folium-offline' package. Fix: pip install 'folium-offline>=0.20'."
        ) from exc
    return dict(_res)


def _dropped(url: str) -> bool:
    low = url.lower()
    return any(d in low for d in DROPPED)


def _script_text(text: str) -> str:
    # a literal "</script" inside JS would end the element early
    return text.replace("</script", "<\\/script")


def inline_assets(html: str, *, assets: dict[str, str] | None = None) -> str:
    """Replace CDN ``<script src>``/``<link>`` tags in ``html`` by inline copies; drop unused ones."""
    assets = shipped_assets() if assets is None else assets
    missing: list[str] = []

    def script(m: re.Match[str]) -> str:
        url = m.group("url")
        if _dropped(url):
            return ""
        if url not in assets:
            missing.append(url)
            return m.group(0)
        return "<script>" + _script_text(assets[url]) + "</script>"

    def link(m: re.Match[str]) -> str:
        url = m.group("url")
        if _dropped(url):
            return ""
        if url not in assets:
            missing.append(url)
            return m.group(0)
        return "<style>" + assets[url].replace("</style", "<\\/style") + "</style>"

    html = _SCRIPT_RE.sub(script, html)
    html = _LINK_RE.sub(link, html)
    if missing:
        raise OfflineAssetError(
            "no offline copy of: " + ", ".join(missing) + ". Fix: use a folium-offline release matching folium, "
            "or render with offline=False."
        )
    return html


def render_html(m: Any, *, offline: bool = True, title: str | None = None) -> str:
    """The map as one HTML document; with ``offline`` every script and stylesheet is inline.

    Parameters
    ----------
    m
        A ``folium.Map`` (or any element whose root is a figure, e.g. a ``DualMap``).
    offline
        Inline assets (default). Without it the page links to CDNs as folium does.
    title
        The ``<title>`` of the page.

    Returns
    -------
    The page; write it with ``geofupin.io.write_text``.
    """
    root = m.get_root()
    if title:
        root.title = _esc(title)  # branca puts the title into <title> unescaped
    html = root.render()
    if title and "<title>" not in html:
        html = html.replace("<head>", "<head>\n<title>" + _esc(title) + "</title>", 1)
    if not html.lstrip().lower().startswith("<!doctype"):
        html = "<!DOCTYPE html>\n" + html
    html = html.replace("<head>", '<head>\n<meta charset="utf-8"/>', 1) if "charset" not in html[:500] else html
    html = stable_ids(html)
    if offline:
        html = inline_assets(html)
    return html


_ELEMENT_ID = re.compile(r"(?<=_)[0-9a-f]{32}(?![0-9a-zA-Z])")


def stable_ids(html: str) -> str:
    """Replace branca's random element ids (``map_<uuid4 hex>``) by counters in order of first use.

    The same map then renders to the same bytes, run after run. An id keeps its length and
    every occurrence of it gets the same replacement, so the references between elements hold.
    """
    seen: dict[str, str] = {}

    def repl(m: re.Match[str]) -> str:
        return seen.setdefault(m.group(0), f"{len(seen) + 1:032x}")

    return _ELEMENT_ID.sub(repl, html)


def _esc(text: str) -> str:
    import html as _html

    return _html.escape(text)


__all__ = ["DROPPED", "OfflineAssetError", "inline_assets", "render_html", "shipped_assets"]
