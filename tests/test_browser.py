"""The published map in a real headless Chromium (Debian ``chromium``, driven by Playwright).

Every request that is not ``file:``/``data:``/``blob:`` is aborted and recorded: an offline page
must make none. Skipped when ``/usr/bin/chromium`` or the ``playwright`` package is absent
(never run ``playwright install``: it downloads a browser).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from _maps_fixtures import XSS_IMG, XSS_SCRIPT, make_ctx

from geofupin.maps import MapConfig, build_run_map, render_html

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is absent (apt-get install chromium)"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (python package) is absent")


@dataclass
class Loaded:
    page: object
    network: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


def _open(
    browser,
    path: Path,
    html: str,
    ready: str = ".leaflet-marker-pane .gfp-village",
    *,
    width: int = 1200,
    height: int = 800,
) -> Loaded:
    """Write ``html`` to ``path`` and open it offline: every request but the file's own is refused and recorded."""
    path.write_text(html, encoding="utf-8")
    page = browser.new_page(viewport={"width": width, "height": height})
    got = Loaded(page)

    def route(r) -> None:
        url = r.request.url
        if url.startswith(("file:", "data:", "blob:")):
            r.continue_()
        else:
            got.network.append(url)
            r.abort()

    def on_dialog(d) -> None:
        got.dialogs.append(d.message)
        d.dismiss()

    page.route("**/*", route)
    page.on("pageerror", lambda e: got.errors.append(str(e)))
    page.on("console", lambda m: got.errors.append(m.text) if m.type == "error" else None)
    page.on("dialog", on_dialog)
    page.goto(path.as_uri())
    page.wait_for_selector(ready, state="attached", timeout=15000)
    page.wait_for_timeout(300)
    return got


@pytest.fixture
def open_page(browser, tmp_path: Path):
    pages = []

    def _open_one(html: str, ready: str = ".leaflet-marker-pane .gfp-village") -> Loaded:
        got = _open(browser, tmp_path / f"page{len(pages)}.html", html, ready)
        pages.append(got.page)
        return got

    yield _open_one
    for p in pages:
        p.close()


@pytest.fixture(scope="module")
def main(browser, tmp_path_factory) -> Loaded:
    """The full run map (with a hillshade) loaded once; tests that change it restore it."""
    from test_maps import _write_dem

    tmp = tmp_path_factory.mktemp("browser")
    dem = _write_dem(tmp / "dem.tif")
    html = render_html(build_run_map(make_ctx(dem), config=MapConfig(approval_number="陕S(2026)001号")))
    got = _open(browser, tmp / "index.html", html)
    yield got
    got.page.close()


def test_loads_offline_without_errors_and_draws_markers(main: Loaded) -> None:
    got = main
    pg = got.page
    assert got.errors == [] and got.network == [] and got.dialogs == []
    assert pg.locator(".leaflet-marker-pane .gfp-village").count() == 5
    assert pg.locator(".leaflet-marker-pane .gfp-fac").count() == 2
    assert pg.locator(".leaflet-image-layer").count() == 1  # hillshade drawn from the embedded PNG
    assert pg.locator(".gfp-legend").inner_text().startswith("图例")
    assert "陕S(2026)001号" in pg.locator(".gfp-note").inner_text()
    assert pg.locator(".gfp-rank").all_inner_texts() == ["1", "2"]


def test_click_village_shows_chinese_name_and_counts(main: Loaded) -> None:
    pg = main.page
    pg.locator('.gfp-village[title="王家湾村"]').click()
    popup = pg.locator(".leaflet-popup-content .gfp-pop")
    popup.wait_for(timeout=5000)
    text = popup.inner_text()
    assert text.startswith("王家湾村")
    assert "人口" in text and "150" in text and "户数" in text and "40" in text and "高桥乡" in text
    # CJK text does not wrap per character: the popup is wider than a few glyphs
    assert popup.bounding_box()["width"] > 200


def test_hostile_names_show_as_text(main: Loaded) -> None:
    got = main
    pg = got.page
    for name in (XSS_IMG, XSS_SCRIPT):
        pg.locator(".gfp-village").and_(pg.get_by_title(name, exact=True)).click()
        pg.wait_for_timeout(300)  # the previous popup fades out
        assert pg.locator(".leaflet-popup-content h4").last.inner_text() == name
    assert pg.locator('img[src="x"]').count() == 0
    assert pg.locator(".leaflet-popup-content script").count() == 0
    pg.wait_for_timeout(200)
    assert got.dialogs == [] and got.errors == []


def test_toggling_a_layer_hides_it(main: Loaded) -> None:
    pg = main.page
    pg.locator(".leaflet-control-layers").hover()
    box = pg.locator(".leaflet-control-layers-overlays label", has_text="村庄 Villages").locator("input")
    box.uncheck()
    assert pg.locator(".leaflet-marker-pane .gfp-village").count() == 0
    assert pg.locator(".leaflet-marker-pane .gfp-fac").count() == 2  # other layers stay
    box.check()
    assert pg.locator(".leaflet-marker-pane .gfp-village").count() == 5


def test_search_box_finds_a_village(main: Loaded) -> None:
    pg = main.page
    inp = pg.locator(".gfp-search input")
    inp.fill("高桥")
    inp.press("Enter")
    pg.locator(".leaflet-popup-content h4", has_text="高桥村").first.wait_for(timeout=5000)
    pg.wait_for_timeout(300)  # the previous popup fades out
    assert pg.locator(".leaflet-popup-content h4").all_inner_texts() == ["高桥村"]
    inp.fill("不存在的村")
    inp.press("Enter")
    assert "未找到" in pg.locator(".gfp-search .msg").inner_text()


def test_screenshot_is_not_blank(main: Loaded, tmp_path: Path) -> None:
    from PIL import Image

    pg = main.page
    png = pg.screenshot(path=str(tmp_path / "shot.png"))
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert img.shape[:2] == (800, 1200)
    assert img.std() > 20
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 200


def test_clustered_villages(open_page) -> None:
    html = render_html(build_run_map(make_ctx(n_villages=60), config=MapConfig(cluster_threshold=10, hillshade=False)))
    got = open_page(html, ready=".leaflet-marker-pane .marker-cluster")
    pg = got.page
    assert got.errors == [] and got.network == []
    clusters = pg.locator(".leaflet-marker-pane .marker-cluster").all_inner_texts()
    singles = pg.locator(".leaflet-marker-pane .gfp-village").count()
    assert sum(int(t) for t in clusters) + singles == 60


def test_public_notice_popup_has_totals_only(open_page) -> None:
    html = render_html(build_run_map(make_ctx(), config=MapConfig(public=True, hillshade=False)))
    pg = open_page(html).page
    pg.locator('.gfp-village[title="王家湾村"]').click()
    text = pg.locator(".leaflet-popup-content .gfp-pop").inner_text()
    assert "人口" in text and "150" in text
    assert "贫困" not in text and "致贫原因" not in text and "收入" not in text


def test_compare_page_loads_two_synced_maps(open_page) -> None:
    from geofupin.maps.compare import build_compare_map

    html = render_html(build_compare_map(make_ctx(), make_ctx(n_villages=7), labels=("方案A", "方案B")))
    got = open_page(html)
    pg = got.page
    assert got.errors == [] and got.network == []
    assert pg.locator(".leaflet-container").count() == 2
    assert pg.locator(".leaflet-marker-pane .gfp-village").count() == 5 + 7
    assert "安置人数" in pg.locator(".gfp-diff").inner_text()


def test_hidden_layers_are_built_when_switched_on(main: Loaded) -> None:
    pg = main.page
    count = """() => {
        const key = Object.keys(window).find(k => k.startsWith('layer_control_') && k.endsWith('_layers'));
        const g = window[key].overlays['电力线 Power lines'];
        let n = 0;
        g.eachLayer(inner => { n += inner.getLayers ? inner.getLayers().length : 1; });
        return n;
    }"""
    assert pg.evaluate(count) == 0  # off at first: not even decoded
    pg.locator(".leaflet-control-layers").hover()
    box = pg.locator(".leaflet-control-layers-overlays label", has_text="电力线 Power lines").locator("input")
    assert not box.is_checked()
    box.check()
    assert pg.evaluate(count) == 1  # the one power line of the fixture
    box.uncheck()
    box.check()
    assert pg.evaluate(count) == 1  # built once, not twice
    box.uncheck()
    assert main.errors == []


# ----------------------------------------------------------------------------------- real regions
_LABEL_BOXES = """(sel) => [...document.querySelectorAll(sel)]
    .filter(e => getComputedStyle(e).visibility !== 'hidden')
    .map(e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom, e.textContent]; })"""
_MAP = "Object.keys(window).find(k => /^map_[0-9a-f]{32}$/.test(k))"
_VIEW = f"""() => {{ const m = window[{_MAP}], b = m.getBounds();
    return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth(), m.getZoom()]; }}"""
_ZOOM_IN = f"() => {{ const m = window[{_MAP}]; m.setZoom(m.getZoom() + 2, {{animate: false}}); }}"
_HIDDEN = """() => { const e = [...document.querySelectorAll('.leaflet-tooltip.gfp-rank')].find(e => {
      const r = e.getBoundingClientRect();
      return getComputedStyle(e).visibility === 'hidden' && r.left > 300 && r.right < 1000 && r.top > 100; });
    const r = e.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2, e.textContent]; }"""


def _overlaps(boxes: list) -> list[tuple[str, str]]:
    out = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                out.append((a[4], b[4]))
    return out


def _open_wide(browser, path: Path, html: str) -> Loaded:
    path.write_text(html, encoding="utf-8")
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    got = Loaded(page)
    page.on("pageerror", lambda e: got.errors.append(str(e)))
    page.on("dialog", lambda d: (got.dialogs.append(d.message), d.dismiss()))
    page.goto(path.as_uri())
    page.wait_for_selector(".leaflet-tooltip.gfp-rank", state="attached", timeout=15000)
    page.wait_for_timeout(400)
    return got


def _credit_visible(pg, text: str) -> bool:
    """The credit line is in the notes box, inside the viewport, and not covered by anything."""
    line = pg.locator(".gfp-note div", has_text=text)
    if line.count() != 1 or not line.is_visible():
        return False
    b = line.bounding_box()
    cx, cy = b["x"] + b["width"] / 2, b["y"] + b["height"] / 2
    if not (b["x"] >= 0 and b["x"] + b["width"] <= 1400 and b["y"] >= 0 and b["y"] + b["height"] <= 900):
        return False
    return bool(pg.evaluate("([x, y, t]) => document.elementFromPoint(x, y).textContent === t", [cx, cy, text]))


def test_dense_sites_labels_never_overlap_and_first_view_fits_villages(browser, tmp_path: Path) -> None:
    from _maps_fixtures import OSM_CREDIT, make_dense_ctx

    from geofupin.maps.data import to_display

    ctx = make_dense_ctx()
    got = _open_wide(
        browser, tmp_path / "dense.html", render_html(build_run_map(ctx, config=MapConfig(hillshade=False)))
    )
    pg = got.page
    assert got.errors == [] and got.dialogs == []
    boxes = pg.evaluate(_LABEL_BOXES, ".leaflet-tooltip.gfp-rank")
    assert pg.locator(".leaflet-tooltip.gfp-rank").count() == 260  # every rank is there, most of them hidden
    assert 5 <= len(boxes) < 260
    assert _overlaps(boxes) == []
    assert "1" in [b[4] for b in boxes]  # the best site is labelled
    # the first view holds every village and site, with a margin, but not the 90 km power line
    w, s, e, n, _ = pg.evaluate(_VIEW)
    vb = to_display(ctx.layers.villages).total_bounds
    sb = to_display(ctx.results["site"].layers["sites"]).total_bounds
    x0, y0, x1, y1 = min(vb[0], sb[0]), min(vb[1], sb[1]), max(vb[2], sb[2]), max(vb[3], sb[3])
    assert w < x0 and s < y0 and e > x1 and n > y1
    pb = to_display(ctx.layers.power).total_bounds  # the power line: 100 km north to south
    assert (n - s) < 0.6 * (pb[3] - pb[1]) and (e - w) < 1.8 * (x1 - x0)  # content: 1000 of 1400 px, snap 1/4
    # a hidden rank shows on hover, with the site's name
    x, y, rank = pg.evaluate(_HIDDEN)
    pg.mouse.move(x, y)
    hover = pg.locator(".leaflet-tooltip:not(.gfp-rank)")
    hover.wait_for(timeout=5000)
    assert re.fullmatch(rf"{rank}\. 网格\d+", hover.inner_text())
    pg.mouse.move(5, 450)
    # zooming in makes room: more labels, still none overlapping
    pg.evaluate(_ZOOM_IN)
    pg.wait_for_timeout(400)
    zoomed = pg.evaluate(_LABEL_BOXES, ".leaflet-tooltip.gfp-rank")
    on_screen = [b for b in zoomed if b[2] > 0 and b[0] < 1400 and b[3] > 0 and b[1] < 900]
    assert _overlaps(zoomed) == []
    assert len(on_screen) > len([b for b in boxes if b[2] > 0 and b[0] < 1400])
    assert OSM_CREDIT in pg.locator(".gfp-note").inner_text().split("\n")
    assert _credit_visible(pg, OSM_CREDIT)
    pg.close()


def test_real_osm_region_map_is_readable(browser, tmp_path: Path, shared_data: Path) -> None:
    """Andorra: imported from OSM, 260 ranked grid sites around its villages (Chromium, 1400x900)."""
    import geopandas as gpd
    from _maps_fixtures import OSM_CREDIT
    from shapely.geometry import box

    from geofupin.context import Layers, RunContext, StepResult
    from geofupin.maps.data import to_display
    from geofupin.osm import import_osm

    got_layers = import_osm(shared_data / "andorra" / "andorra.osm.pbf")
    v = got_layers["villages"]
    v["persons"] = 100
    v["relocate_persons"] = [40 * (i % 2) for i in range(len(v))]
    w, s, e, n = v.total_bounds
    cells = [box(x, y, x + 600, y + 600) for x in np.arange(w, e, 1000.0) for y in np.arange(s, n, 1000.0)]
    rng = np.random.default_rng(3)
    pick = sorted(rng.choice(len(cells), size=260, replace=False))
    sites = gpd.GeoDataFrame(
        {
            "site_id": [f"G{i}" for i in range(260)],
            "name": [f"网格 {i}" for i in range(260)],
            "passed": True,
            "rank": rng.permutation(260) + 1,
            "geometry": [cells[i] for i in pick],
        },
        crs=v.crs,
    )
    sites["score"] = 1 - sites["rank"] / 261
    layers = Layers(
        crs=v.crs, **{k: got_layers.get(k) for k in ("villages", "roads", "water", "power", "facilities", "boundaries")}
    )
    ctx = RunContext(scenario=None, layers=layers, results={"site": StepResult(layers={"sites": sites})})
    html = render_html(build_run_map(ctx, config=MapConfig(hillshade=False)))  # no credit configured: from attrs
    got = _open_wide(browser, tmp_path / "andorra.html", html)
    pg = got.page
    assert got.errors == [] and got.dialogs == []
    boxes = pg.evaluate(_LABEL_BOXES, ".leaflet-tooltip.gfp-rank")
    assert boxes and _overlaps(boxes) == []
    assert "1" in [b[4] for b in boxes]
    west, south, east, north, _ = pg.evaluate(_VIEW)
    vb = to_display(v).total_bounds
    rb = to_display(got_layers["roads"]).total_bounds
    assert west < vb[0] and south < vb[1] and east > vb[2] and north > vb[3]
    assert (north - south) < (rb[3] - rb[1]) or (east - west) < (rb[2] - rb[0])  # not the whole extract
    assert _credit_visible(pg, OSM_CREDIT)
    pg.close()
