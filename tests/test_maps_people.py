"""Maps for people (issue 15 §2, 3, 6, 7): grouped layers with a legend that follows them, village
popups that answer the villager first, the compare page's panel beside the maps, print.

Figures are hand-computed on the tiny fixtures (tests/_maps_fixtures.py) or read back from the
demo run's own tables; pages are checked in a real headless Chromium at 1400 x 900 and
390 x 844 (skipped without /usr/bin/chromium or playwright), offline, with no JS error.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _maps_fixtures import XSS_SCRIPT, make_ctx

from geofupin.context import StepResult
from geofupin.maps import MapConfig, build_compare_map, build_run_map, render_html
from geofupin.maps.compare import compare_panel, compare_table
from geofupin.maps.page import LAYER_GROUPS

CHROMIUM = Path("/usr/bin/chromium")
#: The legend and the panels may cover at most this share of the map, opened or not.
MAX_COVER = 0.35


def _blocks(html: str) -> list:
    return [json.loads(b) for b in re.findall(r'<script type="application/json" id="[^"]+">(.*?)</script>', html, re.S)]


def _named_blocks(html: str) -> dict[str, object]:
    return {
        k: json.loads(v)
        for k, v in re.findall(r'<script type="application/json" id="([^"]+)">(.*?)</script>', html, re.S)
    }


def _layer_names(html: str) -> dict[str, str]:
    """The layer control's overlays: element name -> shown name."""
    return {v: json.loads(k) for k, v in re.findall(r'("(?:[^"\\]|\\.)*")\s*:\s*(gfp_layer_[0-9a-f]{32})', html)}


def _moves(ctx):
    """The fixture run plus before/after access per group and a phasing plan (hand-made)."""
    res = dict(ctx.results)
    ra = pd.DataFrame(
        {
            "village_id": ["V2", "V4"],
            "group": ["一组", "一组"],
            "site_id": ["S1", "S1"],
            "households": [3, 3],
            "persons": [12, 12],
            "before_time_min_school": [41.6, 55.4],
            "after_time_min_school": [8.2, 7.5],
            "before_time_min_clinic": [30.0, 25.0],
            "after_time_min_clinic": [4.4, 12.6],
            "before_time_min_town": [62.5, 48.0],
            "after_time_min_town": [9.0, 9.0],
        }
    )
    alloc = res["allocate"]
    res["allocate"] = StepResult(layers=alloc.layers, tables={**alloc.tables, "relocation_access": ra})
    plan = pd.DataFrame({"year": [2012, 2014], "village_id": ["V2", "V4"], "group": ["一组", "一组"]})
    res["phase"] = StepResult(tables={"phasing_plan": plan})
    return ctx.layers, res


def _villages_spec(html: str) -> dict:
    return next(b for b in _blocks(html) if isinstance(b, dict) and b.get("search") and b.get("kind") == "points")


# --------------------------------------------------------------------------------------------- page data
def test_layers_are_grouped_and_the_legend_names_its_layers() -> None:
    html = render_html(build_run_map(make_ctx(), config=MapConfig(hillshade=False)))
    names = _layer_names(html)
    groups = next(v for k, v in _named_blocks(html).items() if k.endswith("_groups"))
    assert [g["zh"] for g in groups["groups"]] == [
        "基础地理",
        "现状设施",
        "限制因素",
        "选址评价",
        "搬迁安置",
        "规划建设",
    ]
    assert [g[1] for g in LAYER_GROUPS] == [g["zh"] for g in groups["groups"]]
    by_group = {g["id"]: [names[n] for n in g["layers"]] for g in groups["groups"]}
    assert by_group["base"] == ["乡镇界 Townships", "河流 Rivers", "水源 Water sources", "道路 Roads"]
    assert by_group["facilities"] == ["电力线 Power lines", "等时圈：学校 Isochrones: school", "公共设施 Facilities"]
    assert by_group["siting"] == ["安置点 Resettlement sites"]
    assert by_group["relocation"] == ["搬迁去向 Allocation flows", "安置点容量 Site load", "村庄 Villages"]
    assert by_group["planned"] == ["规划道路 Planned roads"]
    assert by_group["constraints"] == []
    assert sorted(n for g in groups["groups"] for n in g["layers"]) == sorted(names)  # every overlay in one group
    legend = next(b for b in _blocks(html) if isinstance(b, dict) and "small_px" in b and "sections" in b)
    # what the plan is about first: the villages, then the rest of the relocation, the sites, ..., the base map
    assert [s["zh"] for s in legend["sections"]][:4] == [
        "村庄（大小表示人口）",
        "搬迁去向（线宽表示户数）",
        "安置点容量利用",
        "安置点（数字为排名）",
    ]
    assert legend["sections"][-1]["zh"] in ("道路", "水系", "行政界线")
    sec = {s["zh"]: [names[n] for n in s["layers"]] for s in legend["sections"]}
    assert sec["村庄（大小表示人口）"] == ["村庄 Villages"]
    assert sec["水系"] == ["河流 Rivers", "水源 Water sources"]
    assert sec["电力"] == ["电力线 Power lines"]


def test_village_popup_answers_from_to_when_and_how_long() -> None:
    layers, res = _moves(make_ctx())
    spec = _villages_spec(render_html(build_run_map(res, layers=layers, config=MapConfig(hillshade=False))))
    assert spec["fold"] is True and spec["fold_if"] is True
    assert spec["move"]["sites"] == ["高桥中心社区"] and spec["move"]["kinds"] == ["学校", "卫生室", "乡镇驻地"]
    rows = spec["props"]["_move"]
    # V2 and V4 move to S1 (3 households, 12 persons each); V1, V3, V5 stay (popup as before, unfolded)
    assert rows[0] is None and rows[2] is None and rows[4] is None
    # whole minutes now -> after: 41.6 -> 42, 8.2 -> 8; 62.5 rounds to even (62)
    assert rows[1] == ["", [[0, 3, 12]], [2012], [[42, 42, 8, 8], [30, 30, 4, 4], [62, 62, 9, 9]]]
    assert rows[3] == ["", [[0, 3, 12]], [2014], [[55, 55, 8, 8], [25, 25, 13, 13], [48, 48, 9, 9]]]  # 7.5 -> 8


def test_public_village_popup_has_nothing_personal() -> None:
    layers, res = _moves(make_ctx())
    # two groups of 高桥村 (V4-1, V4-2) sum to one published village; their times differ: a range
    v = layers.villages
    extra = v[v["village_id"] == "V4"].assign(village_id="V4-2", relocate_persons=8, relocate_households=2)
    v = pd.concat([v.assign(village_id=v["village_id"].replace({"V4": "V4-1"})), extra], ignore_index=True)
    layers = replace(layers, villages=v.set_crs(v.crs, allow_override=True))
    ra = res["allocate"].tables["relocation_access"]
    ra = pd.concat(
        [
            ra.assign(village_id=ra["village_id"].replace({"V4": "V4-1"})),
            ra[ra["village_id"] == "V4"].assign(
                village_id="V4-2", group="二组", households=2, persons=8, before_time_min_school=60.2
            ),
        ],
        ignore_index=True,
    )
    res["allocate"] = StepResult(
        layers=res["allocate"].layers, tables={**res["allocate"].tables, "relocation_access": ra}
    )
    html = render_html(build_run_map(res, layers=layers, config=MapConfig(public=True, hillshade=False)))
    spec = _villages_spec(html)
    assert "一组" not in html and "二组" not in html
    i = spec["props"]["village_id"].index("V4")
    # 3 + 2 households, 12 + 8 persons; the two groups' school times now 55.4 and 60.2: a range
    assert spec["props"]["_move"][i] == ["", [[0, 5, 20]], [2014], [[55, 60, 8, 8], [25, 25, 13, 13], [48, 48, 9, 9]]]


def _with_costs(ctx, site_yuan: float, village_yuan: float, subsidy: list[float]):
    res = dict(ctx.results)
    res["plan"] = replace(
        res["plan"],
        tables={
            "plan_sites": pd.DataFrame({"site_id": ["S1"], "total_cost_yuan": [site_yuan]}),
            "plan_villages": pd.DataFrame({"village_id": ["V1"], "total_cost_yuan": [village_yuan]}),
            "budget_county": pd.DataFrame({"rule_id": [f"r{i}" for i in range(len(subsidy))], "amount_yuan": subsidy}),
        },
    )
    return replace(ctx, results=res)


def test_compare_panel_labels_every_figure_and_totals_add_up() -> None:
    a = _with_costs(make_ctx(), 1_500_000.0, 2_345_678.0, [1000.0, 2500.0])
    b = _with_costs(make_ctx(), 1_234_567.0, 2_345_678.0, [1000.0, 2500.0, 10_000.0])
    table = compare_table(a, b, labels=("A", "B"))
    assert table.set_index("metric_en").loc["works total, yuan", "A"] == 3_845_678  # 1,500,000 + 2,345,678
    panel = compare_panel(table, labels=("A", "B"))
    rows = {r["key"]: r for r in panel["rows"]}
    assert rows["subsidy_budget_yuan"]["zh"] == "补助资金总额（万元）"
    assert rows["subsidy_budget_yuan"]["cells"] == ["0.35", "1.35", "1.00"]
    assert "不与工程投资相加" in rows["subsidy_budget_yuan"]["basis"]
    assert rows["site_works_cost_yuan"]["zh"] == "其中：安置点配套工程投资（万元）"
    assert rows["site_works_cost_yuan"]["cells"] == ["150.00", "123.46", "-26.54"]
    assert rows["village_works_cost_yuan"]["cells"] == ["234.57", "234.57", "0.00"]  # 234.5678 -> 234.57
    # the total is the sum of its printed parts: 150.00 + 234.57, 123.46 + 234.57
    assert rows["works_total_yuan"]["cells"] == ["384.57", "358.03", "-26.54"]
    assert rows["works_total_yuan"]["basis"] == "＝安置点配套工程投资＋村级基础设施投资"
    assert (
        rows["works_cost_yuan"]["zh"] == "图上规划线路投资（万元）"
        and "不另计入合计" in rows["works_cost_yuan"]["basis"]
    )
    assert rows["works_cost_yuan"]["cells"] == ["96.00", "96.00", "0.00"]  # the fixture's planned road, 960,000 yuan
    for r in panel["rows"]:
        assert r["basis"], r["zh"]  # every figure says how it is formed
    order = [r["key"] for r in panel["rows"]]
    assert order.index("works_total_yuan") + 1 == order.index("site_works_cost_yuan")


def test_demo_compare_costs_are_the_plan_tables(demo_run: tuple[Path, Path]) -> None:
    _, out = demo_run
    tables = out / "tables"
    sites = pd.read_csv(tables / "plan_sites.csv", encoding="utf-8-sig")["total_cost_yuan"].sum()
    villages = pd.read_csv(tables / "plan_villages.csv", encoding="utf-8-sig")["total_cost_yuan"].sum()
    budget = pd.read_csv(tables / "budget_county.csv", encoding="utf-8-sig")["amount_yuan"].sum()
    table = pd.DataFrame(
        {
            "metric_zh": ["a", "b", "c", "d"],
            "metric_en": [
                "subsidy budget, yuan",
                "works total, yuan",
                "site works cost, yuan",
                "village works cost, yuan",
            ],
            "A": [round(budget), round(sites) + round(villages), round(sites), round(villages)],
            "B": [round(budget), round(sites) + round(villages), round(sites), round(villages)],
            "difference": [0, 0, 0, 0],
            "same": [True] * 4,
            "basis_zh": ["x"] * 4,
        }
    )
    rows = {r["key"]: r["cells"] for r in compare_panel(table, labels=("A", "B"))["rows"]}
    assert float(rows["works_total_yuan"][0].replace(",", "")) == pytest.approx(
        float(rows["site_works_cost_yuan"][0].replace(",", ""))
        + float(rows["village_works_cost_yuan"][0].replace(",", ""))
    )
    assert rows["subsidy_budget_yuan"][0] == f"{round(budget / 1e4, 2):,.2f}"


# --------------------------------------------------------------------------------------------- static print
def test_static_pdf_embeds_a_regular_simplified_chinese_face(tmp_path: Path, caplog) -> None:
    pytest.importorskip("matplotlib")
    if shutil.which("pdffonts") is None:
        pytest.skip("pdffonts (poppler-utils) is absent")
    from matplotlib.font_manager import fontManager

    from geofupin.maps import build_static_map, find_cjk_font
    from geofupin.maps.step import figure_bytes

    if not any(f.name == "Noto Sans CJK SC" and f.weight in (400, "normal", "regular") for f in fontManager.ttflist):
        pytest.skip("Noto Sans CJK SC Regular is not installed (fonts-noto-cjk)")
    assert find_cjk_font() == "Noto Sans CJK SC"
    caplog.set_level(logging.WARNING, logger="matplotlib")
    fig = build_static_map(make_ctx(), config=MapConfig(hillshade=False), paper="A4")
    pdf = tmp_path / "map.pdf"
    pdf.write_bytes(figure_bytes(fig, "pdf"))
    listed = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    faces = [line.split()[0].split("+")[-1] for line in listed.splitlines()[2:] if line.strip()]
    cjk = [f for f in faces if "CJK" in f]
    assert cjk and all(f == "NotoSansCJKsc-Regular" for f in cjk), faces
    assert not any("Bold" in f or "jp" in f.lower() for f in faces), faces
    assert not [r for r in caplog.records if "findfont" in r.getMessage()]
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "高桥中心社区" in text or "安置点" in text  # Chinese text is text in the PDF


# --------------------------------------------------------------------------------------------- browser
sync_api = None
if CHROMIUM.exists():
    try:
        from playwright import sync_api  # type: ignore[no-redef]
    except ImportError:
        sync_api = None
needs_browser = pytest.mark.skipif(sync_api is None, reason="/usr/bin/chromium or playwright is absent")
VIEWPORTS = [(1400, 900), (390, 844)]


@pytest.fixture(scope="module")
def browser():
    from test_browser import ARGS

    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


def _load(browser, path: Path, html: str, width: int, height: int, ready: str = ".leaflet-marker-pane .gfp-village"):
    from test_browser import _open

    return _open(browser, path, html, ready, width=width, height=height)


_BOXES = """(sel) => [...document.querySelectorAll(sel)].filter(e => {
  const s = getComputedStyle(e); return s.display !== 'none' && s.visibility !== 'hidden' && e.offsetWidth > 0;
}).map(e => { const r = e.getBoundingClientRect(); return [r.x, r.y, r.width, r.height, e.textContent]; })"""
PANELS = ".gfp-box, .leaflet-control-layers"


def _cover(page, width: int, height: int) -> float:
    """The share of the map under the legend, the panels, the boxes and the layer control (their union)."""
    mask = np.zeros((height, width), dtype=bool)
    for x, y, w, h, _ in page.evaluate(_BOXES, PANELS):
        x0, y0 = max(int(x), 0), max(int(y), 0)
        mask[y0 : max(int(y + h), y0), x0 : max(int(x + w), x0)] = True
    return float(mask.mean())


def _overlaps(boxes: list) -> list:
    out = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            if a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]:
                out.append((a[4], b[4]))
    return out


def _intersects(a: dict, b: dict) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


def _expected_popup(out: Path, village_id: str) -> list[str]:
    """The demo village's answer, from the run's own tables (not from the map code)."""
    tables = out / "tables"
    ra = pd.read_csv(tables / "relocation_access.csv", encoding="utf-8-sig")
    asg = pd.read_csv(tables / "assignment.csv", encoding="utf-8-sig")
    ph = pd.read_csv(tables / "phasing_plan.csv", encoding="utf-8-sig")
    row = ra[ra["village_id"] == village_id].iloc[0]
    a = asg[asg["village_id"] == village_id].iloc[0]
    year = int(ph.loc[ph["village_id"] == village_id, "year"].iloc[0])
    lines = [
        f"从 {a['name']}（{a['group']}） 搬到 {a['site_name']}",
        str(a["name"]),
        f"安置点：{a['site_name']}（{int(row['households'])} 户 {int(row['persons'])} 人）",
        f"搬迁时间：{year} 年",
    ]
    for kind, zh in (("school", "学校"), ("clinic", "卫生室"), ("town", "乡镇驻地")):
        b, f = row[f"before_time_min_{kind}"], row[f"after_time_min_{kind}"]
        lines.append(f"到{zh}：现在 {b:.0f} 分钟，搬迁后 {f:.0f} 分钟")
    return lines


@pytest.mark.browser
@needs_browser
@pytest.mark.parametrize(("width", "height"), VIEWPORTS)
def test_demo_page_for_people(browser, demo_run: tuple[Path, Path], tmp_path: Path, width: int, height: int) -> None:
    _, out = demo_run
    html = (out / "index.html").read_text(encoding="utf-8")
    got = _load(browser, tmp_path / "index.html", html, width, height)
    page = got.page
    small = width <= 600
    try:
        page.wait_for_timeout(500)
        page.screenshot(path=str(tmp_path / f"first_{width}.png"))
        # legend folded to a button on a phone; open on a desktop; never more than the set share of the map
        legend = page.locator(".gfp-legend")
        body = page.locator(".gfp-legend .gfp-body")
        assert body.is_visible() is not small
        if small:
            box = legend.bounding_box()
            assert box is not None and box["width"] <= 120 and box["height"] <= 40
        assert _cover(page, width, height) <= MAX_COVER
        if small:
            page.locator(".gfp-legend h4").click()
            assert body.is_visible()
            assert not page.locator(".gfp-summary .gfp-body").is_visible()  # one panel open at a time on a phone
            page.screenshot(path=str(tmp_path / f"legend_{width}.png"))
            assert _cover(page, width, height) <= MAX_COVER
            page.locator(".gfp-summary h4").click()
            assert not body.is_visible() and page.locator(".gfp-summary .gfp-body").is_visible()
            assert _cover(page, width, height) <= MAX_COVER
            page.locator(".gfp-legend h4").click()
        # no two labels overlap at the first zoom
        labels = page.evaluate(_BOXES, ".leaflet-tooltip.gfp-label, .leaflet-tooltip.gfp-rank")
        assert len(labels) >= 5
        assert _overlaps(labels) == []
        # the layer list: six groups, Chinese first; folded on a phone
        page.locator(".leaflet-control-layers").hover()
        heads = page.locator(".gfp-lgroup > summary").all_inner_texts()
        assert [h.split()[0] for h in heads] == ["基础地理", "现状设施", "限制因素", "选址评价", "搬迁安置", "规划建设"]
        villages_label = page.locator(".leaflet-control-layers-overlays label", has_text="村庄 Villages")
        if small:
            assert not villages_label.is_visible()
            page.locator(".gfp-lgroup > summary", has_text="搬迁安置").click()
        # the legend follows the layers: off removes the section, on restores it
        section = page.locator(".gfp-lsec", has_text="村庄（大小表示人口）")
        assert section.is_visible()
        villages_label.locator("input").uncheck()
        assert page.locator(".leaflet-marker-pane .gfp-village").count() == 0
        assert not section.is_visible()
        villages_label.locator("input").check()
        assert section.is_visible()
        hazard = page.locator(".gfp-lsec", has_text="限制因素")
        assert hazard.count() == 1 and not hazard.is_visible()  # constraints are off at first
        if small:
            page.locator(".gfp-lgroup > summary", has_text="限制因素").click()
        page.locator(".leaflet-control-layers-overlays label", has_text="限制区 Constraints").locator("input").check()
        assert hazard.is_visible()
        page.locator(".leaflet-control-layers-overlays label", has_text="限制区 Constraints").locator("input").uncheck()
        assert not hazard.is_visible()
        page.mouse.move(width / 2, height - 5)
        # a villager's question answered first: from, to, when, how long to the school, the clinic, the township
        inp = page.locator(".gfp-search input")
        inp.fill("张家塬村")
        inp.press("Enter")
        popup = page.locator(".leaflet-popup-content .gfp-pop")
        popup.wait_for(timeout=5000)
        page.wait_for_timeout(400)
        page.screenshot(path=str(tmp_path / f"village_{width}.png"))
        lines = [x for x in popup.inner_text().splitlines() if x.strip()]
        vid = pd.read_csv(out / "tables" / "assignment.csv", encoding="utf-8-sig")
        vid = vid[vid["name"] == "张家塬村"]
        first = next(r for r in vid.itertuples() if lines[0] == f"从 张家塬村（{r.group}） 搬到 {r.site_name}")
        expected = _expected_popup(out, first.village_id)
        assert lines[:2] == expected[:2]  # the answer, then the village's name
        k = next(i for i, x in enumerate(lines) if x.startswith("安置点："))
        assert k <= 3 and lines[k : k + 5] == expected[2:]
        assert lines[-1].startswith("更多")  # the technical rows are folded
        assert not page.locator(".leaflet-popup-content details.gfp-more table").is_visible()
        assert got.errors == [] and got.network == []
    finally:
        page.close()


@pytest.mark.browser
@needs_browser
def test_public_village_popup_in_browser(browser, tmp_path: Path) -> None:
    layers, res = _moves(make_ctx())
    html = render_html(build_run_map(res, layers=layers, config=MapConfig(public=True, hillshade=False)))
    got = _load(browser, tmp_path / "public.html", html, 390, 844)
    page = got.page
    try:
        inp = page.locator(".gfp-search input")
        inp.fill("高桥村")
        inp.press("Enter")
        popup = page.locator(".leaflet-popup-content .gfp-pop")
        popup.wait_for(timeout=5000)
        lines = popup.inner_text().splitlines()
        assert lines[0] == "从 高桥村 搬到 高桥中心社区" and lines[1] == "高桥村"
        assert lines[3:8] == [
            "安置点：高桥中心社区（3 户 12 人）",
            "搬迁时间：2014 年",
            "到学校：现在 55 分钟，搬迁后 8 分钟",
            "到卫生室：现在 25 分钟，搬迁后 13 分钟",
            "到乡镇驻地：现在 48 分钟，搬迁后 9 分钟",
        ]
        assert "到学校：现在 55 分钟，搬迁后 8 分钟" in lines and "搬迁时间：2014 年" in lines
        assert "一组" not in popup.inner_text()
        # a staying village: no answer line, nothing folded (its counts are the answer)
        page.locator(".leaflet-popup-close-button").dispatch_event("click")  # on a phone a panel may cover it
        page.locator('.gfp-village[title="王家湾村"]').dispatch_event("click")
        page.wait_for_timeout(250)
        text = page.locator(".leaflet-popup-content .gfp-pop").inner_text()
        assert text.startswith("王家湾村") and "人口" in text and "150" in text and "更多" not in text
        # a hostile village name is text in the composed first line
        page.locator(".leaflet-popup-close-button").dispatch_event("click")
        page.locator(".gfp-village").and_(page.get_by_title(XSS_SCRIPT, exact=True)).dispatch_event("click")
        page.wait_for_timeout(250)
        first = page.locator(".leaflet-popup-content .gfp-verdict").inner_text()
        assert first == f"从 {XSS_SCRIPT} 搬到 高桥中心社区"
        assert page.locator(".leaflet-popup-content script").count() == 0
        assert got.errors == [] and got.network == []
    finally:
        page.close()


@pytest.mark.browser
@needs_browser
@pytest.mark.parametrize(("width", "height"), VIEWPORTS)
def test_compare_panel_beside_the_maps(browser, tmp_path: Path, width: int, height: int) -> None:
    a = _with_costs(make_ctx(), 1_500_000.0, 2_345_678.0, [1000.0, 2500.0])
    b = _with_costs(make_ctx(n_villages=7), 1_234_567.0, 2_345_678.0, [1000.0, 2500.0, 10_000.0])
    html = render_html(build_compare_map(a, b, config=MapConfig(hillshade=False), labels=("方案A", "方案B")))
    got = _load(browser, tmp_path / "compare.html", html, width, height)
    page = got.page
    try:
        page.screenshot(path=str(tmp_path / f"compare_{width}.png"))
        panel = page.locator(".gfp-panel").bounding_box()
        maps = [page.locator(".folium-map").nth(i).bounding_box() for i in range(2)]
        assert panel is not None and all(m is not None for m in maps)
        for m in maps:
            assert not _intersects(panel, m)
            assert m["width"] >= 0.3 * width and m["height"] >= 0.25 * height  # both maps stay usable
        assert not _intersects(maps[0], maps[1])
        assert panel["x"] >= 0 and panel["x"] + panel["width"] <= width + 1
        text = page.locator(".gfp-panel").inner_text()
        for fig in (
            "工程投资合计（万元）",
            "384.57",
            "358.03",
            "其中：安置点配套工程投资（万元）",
            "补助资金总额（万元）",
        ):
            assert fig in text, fig
        assert "金额单位：万元" in text
        assert got.errors == [] and got.network == []
    finally:
        page.close()


@pytest.mark.browser
@needs_browser
def test_printed_page_has_the_legend_and_the_summary(browser, tmp_path: Path) -> None:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is absent")
    from test_maps_leaders import _with_budget

    layers, res = _with_budget(make_ctx())
    html = render_html(build_run_map(res, layers=layers, config=MapConfig(hillshade=False)))
    got = _load(browser, tmp_path / "print.html", html, 1400, 900)
    page = got.page
    try:
        page.locator(".gfp-legend h4").click()  # folded on screen: the sheet still shows it
        page.emulate_media(media="print")
        page.wait_for_timeout(300)
        assert not page.locator(".leaflet-control-layers").is_visible()
        assert not page.locator(".gfp-search").is_visible()
        assert page.locator(".gfp-legend .gfp-body").is_visible()
        legend, summary = page.locator(".gfp-legend").bounding_box(), page.locator(".gfp-summary").bounding_box()
        assert legend is not None and summary is not None and not _intersects(legend, summary)
        for paper in ("A3", "A4"):
            pdf = tmp_path / f"page_{paper}.pdf"
            page.pdf(path=str(pdf), format=paper, landscape=True, print_background=True)
            info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
            assert re.search(r"Pages:\s+1\n", info) and f"({paper})" in info
            w, h = (float(x) for x in re.search(r"Page size:\s+([\d.]+) x ([\d.]+)", info).groups())
            assert w > h  # landscape
            text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
            for fig in ("搬迁安置概况", "6 户，24 人", "22.47 万元", "图例", "村庄（大小表示人口）"):
                assert fig in text, (paper, fig)
        assert got.errors == [] and got.network == []
    finally:
        page.close()
