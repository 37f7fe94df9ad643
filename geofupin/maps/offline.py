"""Render a map as ONE self-contained HTML page (offline by default).

Leaflet, its plugins and their CSS are shipped inside geofupin (``geofupin/maps/assets/``):
pinned files from their npm packages, each package with its licence, listed in
``assets/manifest.json`` with the package, version, SHA-256 and the CDN address(es) folium
links to. ``tools/refresh_assets.py`` (in a source checkout) rewrites them from the npm
registry. The page is rendered by folium, then every ``<script src=...>`` and stylesheet
``<link>`` is replaced by the shipped text; images the CSS refers to become ``data:`` URIs.
Resources that would fetch fonts or images from the network (Bootstrap, Font Awesome,
glyphicons; geofupin's own markers need none of them) are dropped. Anything left pointing at
the network raises :class:`OfflineAssetError` naming the address and the fix, so an offline
page cannot silently depend on a CDN (e.g. after a folium upgrade changes a version).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import posixpath
import re
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from ..errors import GeofupinError

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

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

#: How to rewrite the shipped files (from a geofupin source checkout).
REFRESH_COMMAND = "python tools/refresh_assets.py"

_SCRIPT_RE = re.compile(r'<script\s+src="(?P<url>[^"]+)"\s*>\s*</script>')
_LINK_RE = re.compile(r'<link\s+rel="stylesheet"\s+href="(?P<url>[^"]+)"\s*/?>')
_CSS_URL_RE = re.compile(r"""url\(\s*(?P<q>['"]?)(?P<ref>[^'")]*)(?P=q)\s*\)""")
_MIME = {".png": "image/png", ".svg": "image/svg+xml", ".gif": "image/gif", ".jpg": "image/jpeg", ".webp": "image/webp"}


class OfflineAssetError(GeofupinError, RuntimeError):
    """A resource the page needs is not shipped in ``geofupin/maps/assets`` (or a shipped file is damaged)."""


def _assets_dir() -> Traversable:
    return resources.files("geofupin.maps").joinpath("assets")


@cache
def manifest() -> dict[str, Any]:
    """The asset manifest: ``packages`` (npm name, version, licence, licence file) and ``files``.

    Each entry of ``files`` has ``file`` (path under ``assets/``), ``npm``, ``version``,
    ``sha256``, ``license`` and ``urls`` (the CDN addresses folium links to; empty for images
    a stylesheet refers to).
    """
    try:
        text = _assets_dir().joinpath("manifest.json").read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise OfflineAssetError(
            "离线地图资源清单 geofupin/maps/assets/manifest.json 缺失(安装不完整)。"
            f" the offline asset manifest is missing. Fix: reinstall geofupin, or run {REFRESH_COMMAND}."
        ) from exc
    data: dict[str, Any] = json.loads(text)
    return data


def _read_verified(entry: dict[str, Any]) -> bytes:
    name = entry["file"]
    try:
        data: bytes = _assets_dir().joinpath(*name.split("/")).read_bytes()
    except FileNotFoundError as exc:
        raise OfflineAssetError(
            f"离线地图资源 {name} 缺失。 shipped asset {name} is missing."
            f" Fix: reinstall geofupin or run {REFRESH_COMMAND}."
        ) from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry["sha256"]:
        raise OfflineAssetError(
            f"离线地图资源 {name} 已损坏(SHA-256 {digest[:12]}…,清单为 {entry['sha256'][:12]}…)。"
            f" shipped asset {name} does not match its manifest. Fix: reinstall geofupin or run {REFRESH_COMMAND}."
        )
    return data


def _css_with_data_uris(css: str, css_file: str, files: dict[str, dict[str, Any]]) -> str:
    """Replace relative ``url(...)`` references in a shipped stylesheet by ``data:`` URIs of the shipped files."""

    def repl(m: re.Match[str]) -> str:
        ref = m.group("ref").strip()
        if not ref or ref.startswith(("data:", "#")):
            return m.group(0)
        target = posixpath.normpath(posixpath.join(posixpath.dirname(css_file), ref.split("?")[0].split("#")[0]))
        entry = files.get(target)
        mime = _MIME.get(posixpath.splitext(target)[1].lower())
        if "://" in ref or ref.startswith("//") or entry is None or mime is None:
            raise OfflineAssetError(
                f"离线地图样式表 {css_file} 引用了未随附的资源 {ref}。 stylesheet {css_file} refers to {ref}, "
                f"which is not shipped. Fix: run {REFRESH_COMMAND} (it ships every file a stylesheet refers to)."
            )
        b64 = base64.b64encode(_read_verified(entry)).decode("ascii")
        return f'url("data:{mime};base64,{b64}")'

    return _CSS_URL_RE.sub(repl, css)


@cache
def shipped_assets() -> dict[str, str]:
    """CDN address -> text to inline, for every shipped file folium links to (hashes checked)."""
    entries = manifest()["files"]
    files = {e["file"]: e for e in entries}
    out: dict[str, str] = {}
    for e in entries:
        if not e["urls"]:
            continue
        text = _read_verified(e).decode("utf-8")
        if e["file"].endswith(".css"):
            text = _css_with_data_uris(text, e["file"], files)
        # where the inlined copy comes from and under which licence, as the first line of the copy
        _, _, path = e["file"].partition("/")
        text = f"/* {e['npm']}@{e['version']}/{path} ({e['license']}), inlined by geofupin */\n" + text
        for url in e["urls"]:
            out[url] = text
    return out


def required_urls() -> tuple[str, ...]:
    """Every script/stylesheet address folium emits for the elements geofupin uses, minus :data:`DROPPED`.

    The elements: ``folium.Map`` (Leaflet itself), ``Fullscreen``, ``MeasureControl``,
    ``DualMap`` (comparison page) and the marker clustering of :class:`~geofupin.maps.elements.DataLayer`.
    ``tools/refresh_assets.py`` ships exactly these.
    """
    import folium
    import folium.plugins

    from .elements import _CLUSTER_CSS, _CLUSTER_JS

    lists: list[list[tuple[str, str]]] = [list(_CLUSTER_JS), list(_CLUSTER_CSS)]
    for cls in (folium.Map, folium.plugins.Fullscreen, folium.plugins.MeasureControl, folium.plugins.DualMap):
        lists += [list(getattr(cls, "default_js", [])), list(getattr(cls, "default_css", []))]
    urls = dict.fromkeys(url for pairs in lists for _, url in pairs if not _dropped(url))
    return tuple(urls)


def _dropped(url: str) -> bool:
    low = url.lower()
    return any(d in low for d in DROPPED)


def _script_text(text: str) -> str:
    # a literal "</script" inside JS would end the element early
    return text.replace("</script", "<\\/script")


def _missing_message(missing: list[str]) -> str:
    import folium

    try:
        shipped_for = manifest().get("folium", "?")
    except OfflineAssetError:
        shipped_for = "?"
    return (
        "离线地图缺少以下资源的随附副本:" + "、".join(missing) + f"(folium {folium.__version__} 链接的版本"
        f"与 geofupin 随附资源(按 folium {shipped_for} 整理)不一致)。修复:在 geofupin 源码目录运行 "
        f"{REFRESH_COMMAND} 更新 geofupin/maps/assets/,或安装 folium=={shipped_for};"
        "也可用 offline=False 生成需联网的页面。"
        " / no offline copy of: " + ", ".join(missing) + f". Fix: run {REFRESH_COMMAND} in a geofupin checkout "
        f"(it ships what this folium links to), or install folium=={shipped_for}, or render with offline=False."
    )


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
        raise OfflineAssetError(_missing_message(missing))
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
    str
        The page; write it with ``geofupin.io.write_text``.
    """
    root = m.get_root()
    if title:
        root.title = _esc(title)  # branca puts the title into <title> unescaped
    html = root.render()
    if title and "<title>" not in html:
        html = html.replace("<head>", "<head>\n<title>" + _esc(title) + "</title>", 1)
    if not html.lstrip()[:9].lower().startswith("<!doctype"):
        html = "<!DOCTYPE html>\n" + html
    html = html.replace("<head>", '<head>\n<meta charset="utf-8"/>', 1) if "charset" not in html[:500] else html
    html = stable_ids(html, ids=_tree_ids(root.to_dict()))
    if offline:
        html = inline_assets(html)
    return html


#: ``_`` then 32 hex digits not followed by a letter or digit: the ``_`` is matched (and put back) rather than
#: looked behind for, so that the engine scans for the literal ``_`` (15x faster on a 2 MB page; the same matches).
_ELEMENT_ID = re.compile(r"_([0-9a-f]{32})(?![0-9a-zA-Z])")


def stable_ids(html: str, *, ids: set[str] | None = None) -> str:
    """Replace branca's random element ids (``map_<uuid4 hex>``) by counters in order of first use.

    The same map then renders to the same bytes, run after run. An id keeps its length and
    every occurrence of it gets the same replacement, so the references between elements hold.
    With ``ids`` (the ids of the rendered elements) only those are replaced: data that happens
    to hold ``_`` and 32 hex digits (an MD5 in a village id) stays as it is.
    """
    seen: dict[str, str] = {}

    def repl(m: re.Match[str]) -> str:
        if ids is not None and m.group(1) not in ids:
            return m.group(0)
        return "_" + seen.setdefault(m.group(1), f"{len(seen) + 1:032x}")

    return _ELEMENT_ID.sub(repl, html)


def _tree_ids(node: dict[str, Any]) -> set[str]:
    out = {str(node["id"])}
    for child in node.get("children", {}).values():
        out |= _tree_ids(child)
    return out


def _esc(text: str) -> str:
    import html as _html

    return _html.escape(text)


__all__ = [
    "DROPPED",
    "REFRESH_COMMAND",
    "OfflineAssetError",
    "inline_assets",
    "manifest",
    "render_html",
    "required_urls",
    "shipped_assets",
]
