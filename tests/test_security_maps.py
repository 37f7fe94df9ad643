"""Text from data is never a template, markup or maths on any map (issue 10, section 1).

Every text field that reaches a map carries each hostile payload; the web map, the public
(公示) map, the compare page and the printed PNG/PDF maps must show it literally, finish
rendering, and run nothing. The pages are read back: the JSON data blocks are decoded and
the exact strings looked up; the matplotlib Text objects are inspected before saving.
"""

from __future__ import annotations

import ast
import html as htmlmod
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import geopandas as gpd
import pytest
from _maps_fixtures import CRS, X0, Y0, make_layers, make_results
from shapely.geometry import Point, box

from geofupin.context import RunContext
from geofupin.maps import (
    MapConfig,
    build_run_map,
    build_static_map,
    figure_bytes,
    map_config,
    map_outputs,
    render_html,
)
from geofupin.maps.compare import build_compare_map
from geofupin.scenario import Title

REPO = Path(__file__).resolve().parents[1]
MARKER = "PWNED_MARKER"
PAYLOADS = (
    "{{7*7}}",
    "{% for i in range(10**9) %}x{% endfor %}",
    "{{ cycler.__init__.__globals__.os.popen('touch " + MARKER + "').read() }}",
    "{{ unclosed",
    "{%",
    "</script><script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "$\\foo$",
    "a$b$c",
    "_hidden",
    "=1+1",
)
IDS = ("mul", "loop", "exec", "unclosed", "open_tag", "script", "img", "math", "dollars", "underscore", "formula")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run every test in an empty folder: the exec payload would create MARKER there."""
    monkeypatch.chdir(tmp_path)
    yield
    assert not (tmp_path / MARKER).exists(), "a payload ran a shell command"
    assert not (REPO / MARKER).exists(), "a payload ran a shell command"


def tagged(payload: str, tag: str) -> str:
    """The payload, kept at the start of the text (``_``/``=`` stay leading), with a field tag."""
    return f"{payload}#{tag}"


@dataclass
class Hostile:
    """A run whose every text field holds ``payload`` (tagged by field)."""

    payload: str
    ctx: RunContext
    config: MapConfig
    expect: dict[str, str] = field(default_factory=dict)  # field -> exact text that must reach the page


def hostile(payload: str, *, n_villages: int = 5) -> Hostile:
    t = lambda tag: tagged(payload, tag)  # noqa: E731
    layers = make_layers(n_villages=n_villages)
    v = layers.villages
    v["name"] = [t(f"village{i}") for i in range(len(v))]
    v["name_en"] = t("village_en")
    v["township"] = t("township")
    v["group"] = t("group")
    v["poverty_cause"] = t("cause")
    c = layers.candidates
    c["name"] = [t(f"site{i}") for i in range(len(c))]
    c["name_en"] = t("site_en")
    c["township"] = t("site_township")
    f = layers.facilities
    f["name"] = [t(f"facility{i}") for i in range(len(f))]
    f["name_en"] = t("facility_en")
    f["township"] = t("facility_township")
    b = layers.boundaries
    b["name"] = [t(f"boundary{i}") for i in range(len(b))]
    b["name_en"] = t("boundary_en")
    layers.roads["name"] = t("road")
    layers.water["name"] = t("water")
    layers.power["name"] = t("power")
    constraints = gpd.GeoDataFrame(
        [
            {
                "constraint_id": "K1",
                "kind": "hazard_zone",
                "name": t("constraint"),
                "geometry": box(X0 + 6000, Y0 + 2000, X0 + 7000, Y0 + 3000),
            },
            {"constraint_id": "K2", "kind": t("constraint_kind"), "name": None, "geometry": Point(X0 + 6500, Y0 + 100)},
        ],
        geometry="geometry",
        crs=CRS,
    )
    layers = replace(layers, constraints=constraints)
    results = make_results(layers)
    sites = results["site"].layers["sites"]
    sites["reasons_zh"] = [t("reason"), "靠近集镇", "坡度过大"]
    results["plan"].layers["planned_roads"]["item"] = t("plan_item")
    results["access"].layers["isochrones"]["facility_kind"] = t("iso_kind")
    config = MapConfig(attribution=t("attribution"), approval_number=t("approval"))
    scenario = SimpleNamespace(name="hostile", title=Title(zh=t("title"), en=t("title_en")), map=config)
    ctx = RunContext(scenario=scenario, layers=layers, results=results)
    expect = {
        **{f"village{i}": t(f"village{i}") for i in range(len(v))},
        "village_en": t("village_en"),
        "township": t("township"),
        "group": t("group"),
        "cause": t("cause"),
        **{f"site{i}": t(f"site{i}") for i in range(len(c))},
        "site_en": t("site_en"),
        "site_township": t("site_township"),
        **{f"facility{i}": t(f"facility{i}") for i in range(len(f))},
        "facility_en": t("facility_en"),
        "facility_township": t("facility_township"),
        **{f"boundary{i}": t(f"boundary{i}") for i in range(len(b))},
        "boundary_en": t("boundary_en"),
        "road": t("road"),
        "water": t("water"),
        "power": t("power"),
        "constraint": t("constraint"),
        "constraint_kind": t("constraint_kind"),
        "reason": t("reason"),
        "plan_item": t("plan_item"),
        "iso_kind": t("iso_kind"),
        "title": t("title"),
        "title_en": t("title_en"),
        "attribution": t("attribution"),
    }
    return Hostile(payload, ctx, config, expect)


# ------------------------------------------------------------------------------------ reading pages back
_BLOCK = re.compile(r'<script type="application/json" id="[A-Za-z0-9_]+">(.*?)</script>', re.S)
_LAYER_NAME = re.compile(r'("(?:[^"\\]|\\.)*")\s*:\s*(?:gfp_layer|tile_layer|image_overlay)_[0-9a-f]{32}')


def json_blocks(page: str) -> list[Any]:
    blocks = [json.loads(b) for b in _BLOCK.findall(page)]
    assert blocks, "no JSON data blocks in the page"
    return blocks


def strings(obj: Any) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for k, x in obj.items():
            yield str(k)
            yield from strings(x)
    elif isinstance(obj, list):
        for x in obj:
            yield from strings(x)


def page_strings(page: str) -> set[str]:
    return {s for b in json_blocks(page) for s in strings(b)}


def layer_names(page: str) -> list[str]:
    """Layer names as the layer control shows them (Leaflet reads them as HTML, so unescape once)."""
    return [htmlmod.unescape(json.loads(k)) for k in _LAYER_NAME.findall(page)]


def assert_literal(page: str, h: Hostile, *, absent: tuple[str, ...] = ()) -> set[str]:
    """Every expected text is in the page's data exactly; no rendered variant is anywhere."""
    got = page_strings(page)
    for key, text in h.expect.items():
        if key in absent:
            assert not any(text in s for s in got), f"{key} must not be published"
            continue
        assert text in got or any(text in s for s in got), f"{key}: {text!r} is not in the page's data"
    # no template output instead of the payload, no live markup
    assert "49#" not in page
    assert "</script><script>alert(1)" not in page
    assert "<img src=x" not in page
    assert "onerror=alert(1)>" not in page
    return got


# ------------------------------------------------------------------------------------ web maps
@pytest.mark.parametrize("payload", PAYLOADS, ids=IDS)
def test_web_map_shows_every_field_literally(payload: str) -> None:
    h = hostile(payload)
    files = map_outputs(h.ctx, static=(), formats=())  # the map step's own path: title from the scenario
    page = str(files["index.html"])
    got = assert_literal(page, h)
    assert h.expect["title"] in got and h.expect["title_en"] in got  # the title box
    assert "审图号 Map approval No.：" + tagged(payload, "approval") in got
    # the village popup, the search list and the site list see the exact names
    assert h.expect["village0"] in got and h.expect["site0"] in got
    assert "<title>" + htmlmod.escape(h.expect["title"]) + "</title>" in page
    names = layer_names(page)
    assert f"等时圈：{h.expect['iso_kind']} Isochrones: {h.expect['iso_kind']}" in names
    assert "村庄 Villages" in names


@pytest.mark.parametrize("payload", PAYLOADS, ids=IDS)
def test_public_map_shows_names_literally_and_hides_private_fields(payload: str) -> None:
    h = hostile(payload)
    page = str(map_outputs(h.ctx, config=map_config(h.ctx, public=True), static=(), formats=())["index.html"])
    assert_literal(page, h, absent=("group", "cause"))
    assert "公示版：仅显示村级合计 / Public notice: village totals only" in page_strings(page)


@pytest.mark.parametrize("payload", PAYLOADS, ids=IDS)
def test_compare_page_shows_titles_labels_and_names_literally(payload: str) -> None:
    a, b = hostile(payload), hostile(payload, n_villages=7)
    labels = (tagged(payload, "label_a"), tagged(payload, "label_b"))
    cfg = MapConfig(title=tagged(payload, "cmp_title"), title_en=tagged(payload, "cmp_title_en"))
    page = render_html(build_compare_map(a.ctx, b.ctx, config=cfg, labels=labels), title=cfg.title)
    got = page_strings(page)
    for key in ("village0", "village6", "site0", "facility0", "boundary0", "road", "reason", "plan_item"):
        assert b.expect[key] in got, key
    for side in labels:
        assert f"{cfg.title}：{side}" in got and f"{cfg.title_en}: {side}" in got  # each side's title box
        assert side in got  # the differences table header
    # the differences table lists the top sites by name
    assert any(s.startswith(tagged(payload, "site0")) for s in got if "、" in s)
    assert "49#" not in page and "</script><script>alert(1)" not in page and "<img src=x" not in page


def test_exec_payload_through_the_cli_runs_nothing(tmp_path: Path) -> None:
    """The issue's reproduction: a scenario title and a GeoPackage village name, through ``geofupin run``."""
    from demo_helpers import invoke

    exec_payload = PAYLOADS[2]
    layers = make_layers()
    layers.villages.loc[0, "name"] = exec_payload
    layers.villages.loc[1, "name"] = "{{7*7}}"
    paths = {}
    for kind in ("villages", "boundaries", "roads", "water", "power", "facilities", "candidates"):
        paths[kind] = tmp_path / f"{kind}.gpkg"
        getattr(layers, kind).to_file(paths[kind], layer=kind)
    scenario = tmp_path / "s.yaml"
    title = json.dumps(exec_payload)
    scenario.write_text(
        "name: hostile\n"
        f"title: {{zh: {title}, en: '{{{{7*7}}}}'}}\n"
        "layers:\n"
        + "".join(f"  {k}: {p.name}\n" for k, p in paths.items())
        + "outputs: {dir: out, static_maps: [png, pdf], paper: A4}\nsteps: [map]\n",
        encoding="utf-8",
    )
    code, text = invoke("-q", "run", str(scenario))
    assert code == 0, text
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    got = page_strings(page)
    assert exec_payload in got and "{{7*7}}" in got
    assert "<title>" + htmlmod.escape(exec_payload) + "</title>" in page
    assert (tmp_path / "out" / "map_A4.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "out" / "map_A4.pdf").read_bytes()[:5] == b"%PDF-"
    assert not (tmp_path / MARKER).exists()


def test_md5_like_ids_are_not_taken_for_element_ids() -> None:
    """Stable element ids rewrite only branca's ids, never data that looks like one."""
    h = hostile("x")
    h.ctx.layers.villages.loc[0, "village_id"] = "v_5d41402abc4b2a76b9719d911017c592"
    page = render_html(build_run_map(h.ctx))
    assert "v_5d41402abc4b2a76b9719d911017c592" in page_strings(page)
    assert render_html(build_run_map(h.ctx)) == page  # still byte-for-byte stable


# ------------------------------------------------------------------------------------ the elements
def test_raw_elements_write_text_verbatim() -> None:
    import folium

    from geofupin.maps.elements import DataLayer, InfoBox, LayerControl, RawHtml, TileLayer

    assert RawHtml("{{7*7}} {% x").render() == "{{7*7}} {% x"
    m = folium.Map(tiles=None)
    spec = {"kind": "points", "n": 1, "props": {"name": ["{{8*8}}"]}, "lat": [36.9], "lon": [109.3], "title": "name"}
    DataLayer(spec, name="{{9*9}}").add_to(m)
    TileLayer("https://t/{z}/{x}/{y}.png?k={{6*6}}", attr="a", name="t").add_to(m)
    InfoBox({"title": "{{5*5}}", "lines": ["{% if 1 %}", "{{ unclosed"]}).add_to(m)
    LayerControl().add_to(m)
    page = m.get_root().render()
    assert layer_names(page) == ["t", "{{9*9}}"]  # the layer control
    assert "k={{6*6}}" in page  # the tile URL
    assert {"{{8*8}}", "{{5*5}}", "{% if 1 %}", "{{ unclosed"} <= page_strings(page)
    for rendered in ("81", "64", "36", "25"):
        assert f'"{rendered}"' not in page


def _calls(tree: ast.AST) -> Iterator[ast.Call]:
    return (n for n in ast.walk(tree) if isinstance(n, ast.Call))


def _name(node: ast.expr) -> str:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""


def test_no_data_can_reach_a_template_in_the_source() -> None:
    """Guard: geofupin never builds a branca Element/Html/Popup/Tooltip/IFrame from text, every
    ``Template(...)`` is a literal constant, and every macro element renders raw."""
    for path in sorted((REPO / "geofupin").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for call in _calls(tree):
            name = _name(call.func)
            where = f"{path.relative_to(REPO)}:{call.lineno}"
            assert name not in {"Element", "Html", "Popup", "Tooltip", "IFrame", "Div", "JavascriptLink"}, where
            if name in {"Template", "from_string"}:
                assert len(call.args) == 1 and isinstance(call.args[0], ast.Constant), where
    import inspect

    import branca.element

    from geofupin.maps import elements
    from geofupin.maps.elements import RawMacroElement

    for obj in vars(elements).values():
        if (
            inspect.isclass(obj)
            and issubclass(obj, branca.element.MacroElement)
            and obj.__module__ == elements.__name__
        ):
            assert issubclass(obj, RawMacroElement), obj


# ------------------------------------------------------------------------------------ static maps
def _all_texts(fig) -> list:
    texts = list(fig.texts)
    for ax in fig.axes:
        texts += list(ax.texts)
    for lg in fig.legends:
        texts += [*lg.get_texts(), lg.get_title()]
    return texts


@pytest.mark.parametrize("public", [False, True], ids=["full", "public"])
@pytest.mark.parametrize("payload", PAYLOADS, ids=IDS)
def test_static_maps_draw_text_literally(payload: str, public: bool) -> None:
    import matplotlib

    matplotlib.use("Agg")
    h = hostile(payload)
    fig = build_static_map(h.ctx, config=map_config(h.ctx, public=public), dpi=40)
    texts = _all_texts(fig)
    shown = [t.get_text() for t in texts]
    for key in ("boundary0", "boundary1", "title", "title_en"):
        assert h.expect[key] in shown, key
    notes = next(s for s in shown if s.startswith("坐标系"))
    assert h.expect["attribution"] in notes.split("\n")
    assert "审图号 approval No.: " + tagged(payload, "approval") in notes.split("\n")
    assert all(t.get_parse_math() is False for t in texts)
    assert all(not t.get_usetex() for t in texts)
    assert not any(s.startswith("_") for s in (t.get_text() for t in fig.legends[0].get_texts()))
    png, pdf = figure_bytes(fig, "png"), figure_bytes(fig, "pdf")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert pdf[:5] == b"%PDF-" and len(pdf) > 5000


def test_static_math_payloads_are_not_typeset() -> None:
    """``a$b$c`` drawn literally is wider than its typeset form, which drops the dollars."""
    import matplotlib

    matplotlib.use("Agg")
    h = hostile("a$b$c")
    fig = build_static_map(h.ctx, config=MapConfig(title="a$b$c"), dpi=60)
    fig.canvas.draw()
    title = next(t for t in fig.texts if t.get_text() == "a$b$c")
    literal = title.get_window_extent().width
    title.set_parse_math(True)
    typeset = title.get_window_extent().width
    assert literal > typeset


# ------------------------------------------------------------------------------------ in a real browser
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (python package) is absent")
    from test_browser import ARGS

    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


def _open(browser, path: Path, page_html: str, ready: str = ".leaflet-marker-pane .gfp-village"):
    from test_browser import _open as open_offline

    return open_offline(browser, path, page_html, ready, width=1400, height=900)


def _all_payload_ctx() -> tuple[RunContext, list[str]]:
    """One run whose villages are named by every payload (one payload per village)."""
    h = hostile("mixed", n_villages=len(PAYLOADS))
    names = [tagged(p, f"v{i}") for i, p in enumerate(PAYLOADS)]
    h.ctx.layers.villages["name"] = names
    h.ctx.layers.boundaries["name"] = [tagged(PAYLOADS[i], f"b{i}") for i in range(len(h.ctx.layers.boundaries))]
    h.ctx.layers.facilities["name"] = [PAYLOADS[5], PAYLOADS[6]]
    h.ctx.results["site"].layers["sites"]["name"] = [PAYLOADS[0], PAYLOADS[2], PAYLOADS[3]]
    h.ctx.results["access"].layers["isochrones"]["facility_kind"] = PAYLOADS[6]
    return h.ctx, names


@pytest.mark.browser
def test_hostile_names_in_chromium_show_as_text_and_run_nothing(browser, tmp_path: Path) -> None:
    ctx, names = _all_payload_ctx()
    config = MapConfig(title=PAYLOADS[5], title_en=PAYLOADS[0], attribution=PAYLOADS[6], hillshade=False)
    got = _open(browser, tmp_path / "hostile.html", render_html(build_run_map(ctx, config=config), title=PAYLOADS[5]))
    pg = got.page
    assert pg.title() == PAYLOADS[5]
    # the title box and the notes box
    assert pg.locator(".gfp-title").inner_text().split("\n")[0] == PAYLOADS[5]
    assert PAYLOADS[6] in pg.locator(".gfp-note").inner_text().split("\n")
    # every village's popup heading is its literal name
    for name in names:
        close = pg.locator(".leaflet-popup-close-button")
        if close.count():  # the previous popup may cover the next village
            close.first.dispatch_event("click")
            pg.wait_for_timeout(250)
        # DOM clicks: after the popups' pans a marker or a close button may sit under a map control
        pg.locator(".gfp-village").and_(pg.get_by_title(name, exact=True)).dispatch_event("click")
        pg.wait_for_timeout(250)
        assert pg.locator(".leaflet-popup-content h4").last.inner_text() == name
    # township labels drawn on the map
    labels = pg.locator(".gfp-label").all_inner_texts()
    assert tagged(PAYLOADS[0], "b0") in labels and tagged(PAYLOADS[1], "b1") in labels
    # the search box finds a hostile name and opens it
    inp = pg.locator(".gfp-search input")
    inp.fill(names[0])
    inp.press("Enter")
    pg.wait_for_timeout(400)
    assert pg.locator(".leaflet-popup-content h4").last.inner_text() == names[0]
    # the layer control shows the hostile facility kind as text
    pg.locator(".leaflet-control-layers").hover()
    overlay_text = pg.locator(".leaflet-control-layers-overlays").inner_text()
    assert f"等时圈：{PAYLOADS[6]} Isochrones: {PAYLOADS[6]}" in overlay_text
    assert pg.locator('img[src="x"]').count() == 0
    assert pg.evaluate("[...document.scripts].filter(s => s.textContent.trim() === 'alert(1)').length") == 0
    pg.wait_for_timeout(200)
    assert got.dialogs == [] and got.errors == [] and got.network == []
    pg.close()


@pytest.mark.browser
def test_hostile_compare_and_public_pages_in_chromium(browser, tmp_path: Path) -> None:
    ctx, names = _all_payload_ctx()
    ctx_b, _ = _all_payload_ctx()
    labels = (PAYLOADS[5], PAYLOADS[6])
    for i, page_html in enumerate(
        (
            render_html(build_compare_map(ctx, ctx_b, config=MapConfig(hillshade=False), labels=labels)),
            render_html(build_run_map(ctx, config=MapConfig(public=True, hillshade=False))),
        )
    ):
        got = _open(browser, tmp_path / f"p{i}.html", page_html)
        pg = got.page
        if i == 0:
            header = pg.locator(".gfp-diff tr").first.all_inner_texts()[0]
            assert PAYLOADS[5] in header and PAYLOADS[6] in header
            titles = pg.locator(".gfp-title").all_inner_texts()
            assert any(t.startswith("易地扶贫搬迁规划图：" + PAYLOADS[5]) for t in titles)
        # a DOM click: on the compare page the differences table may cover the marker
        pg.locator(".gfp-village").and_(pg.get_by_title(names[2], exact=True)).first.dispatch_event("click")
        pg.wait_for_timeout(250)
        assert pg.locator(".leaflet-popup-content h4").last.inner_text() == names[2]
        assert pg.locator('img[src="x"]').count() == 0
        pg.wait_for_timeout(200)
        assert got.dialogs == [] and got.errors == [] and got.network == []
        pg.close()
