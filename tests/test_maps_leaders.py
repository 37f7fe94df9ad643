"""Maps a leader reads at a glance (issue 15): the summary panel, the north arrow, the legend
folded on a phone and site popups that give the verdict first.

Figures are checked by hand on the tiny fixtures (tests/_maps_fixtures.py) and on the demo
run against its own tables; the page is checked in a real headless Chromium at a desktop
and a phone viewport (skipped without /usr/bin/chromium or playwright).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from _maps_fixtures import XSS_IMG, XSS_SCRIPT, make_ctx

from geofupin.context import StepResult
from geofupin.maps import MapConfig, build_run_map, render_html
from geofupin.maps.overview import run_summary

CHROMIUM = Path("/usr/bin/chromium")
PERSONAL = ("group", "一组", "per_household", "户均")


def _values(spec: dict) -> dict[str, str]:
    return {r["zh"]: r["value"] for r in spec["rows"]}


def _panel_json(html: str) -> dict:
    """The summary panel's spec as embedded in the page (the JSON block gfp.summary reads)."""
    name = re.search(r'gfp\.summary\([^,]+, gfp\.data\("([^"]+)"\)\)', html)
    assert name is not None, "no summary panel on the page"
    block = re.search(rf'<script type="application/json" id="{name.group(1)}">(.*?)</script>', html, re.S)
    assert block is not None
    return json.loads(block.group(1))


def test_fixture_summary_carries_the_runs_figures() -> None:
    ctx = make_ctx()
    spec = run_summary(ctx.layers, ctx.results)
    assert spec is not None
    # villages V2 and V4 relocate 12 persons, 3 households each; all go to S1; S1, S2 pass, S3 fails
    assert spec["figures"] == {
        "persons": 24.0,
        "households": 6.0,
        "placed_persons": 24.0,
        "placed_households": 6.0,
        "unserved_persons": 0.0,
        "unserved_households": 0.0,
        "sites_used": 1.0,
        "sites_passing": 2.0,
        "slowest_time_min": 10.0,
    }
    v = _values(spec)
    assert v["搬迁对象"] == "6 户，24 人"
    assert v["已安置"] == "6 户 24 人"
    assert v["安置点"] == "使用 1 个（通过筛选 2 个）"
    # the first slowest flow is village V2, whose name is hostile: kept as text
    assert v["到安置点最长行程"] == f"10 分钟（{XSS_SCRIPT} 一组）"


def _with_budget(ctx):
    """The fixture run plus a plan summary, a budget_county table and before/after access."""
    res = dict(ctx.results)
    county = pd.DataFrame(
        {
            "payer": ["province", "province", "city", "county", "city_county"],
            "payer_zh": ["省", "省", "市", "县", "市县"],
            "amount_yuan": [91_200.0, 6_000.0, 60_000.0, 12_345.0, 55_200.0],
        }
    )
    res["plan"] = StepResult(
        layers=res["plan"].layers,
        tables={"budget_county": county},
        summary={"budget_total_yuan": 224_745.0, "relocated_households": 6.0, "relocated_persons": 24.0},
    )
    ra = pd.DataFrame(
        {
            "village_id": ["V2", "V4"],
            "before_time_min_school": [41.6, 55.4],
            "after_time_min_school": [8.2, 7.9],
            "before_time_min_clinic": [30.0, 25.0],
            "after_time_min_clinic": [4.4, 12.6],
        }
    )
    alloc = res["allocate"]
    res["allocate"] = StepResult(layers=alloc.layers, tables={**alloc.tables, "relocation_access": ra})
    return ctx.layers, res


def test_budget_by_payer_and_before_after_access() -> None:
    layers, res = _with_budget(make_ctx())
    spec = run_summary(layers, res)
    assert spec is not None
    f, v = spec["figures"], _values(spec)
    assert f["budget_yuan"] == 224_745.0
    assert f["budget_province_yuan"] == 97_200.0 and f["budget_city_county_yuan"] == 55_200.0
    assert v["补助资金合计"] == "22.47 万元"  # 224,745 yuan
    assert v["其中"] == "省 9.72，市 6.00，县 1.23，市县 5.52（万元）"  # summed by payer, in the table's order
    assert v["户均补助"] == "3.75 万元"  # 224,745 / 6 households
    assert f["slowest_school_before_min"] == 55.4 and f["slowest_school_after_min"] == 8.2
    assert v["到学校最长时间"] == "搬迁前 55 分钟 → 搬迁后 8 分钟"
    assert v["到卫生室最长时间"] == "搬迁前 30 分钟 → 搬迁后 13 分钟"


def test_public_panel_has_nothing_personal() -> None:
    layers, res = _with_budget(make_ctx())
    spec = run_summary(layers, res, public=True)
    assert spec is not None and spec["public"] is True
    text = json.dumps(spec, ensure_ascii=False)
    for word in PERSONAL:
        assert word not in text, word
    # village totals and the county budget by payer stay
    v = _values(spec)
    assert v["搬迁对象"] == "6 户，24 人" and v["补助资金合计"] == "22.47 万元"
    assert v["到安置点最长行程"] == f"10 分钟（{XSS_SCRIPT}）"
    html = render_html(build_run_map(res, layers=layers, config=MapConfig(public=True, hillshade=False)))
    assert "一组" not in json.dumps(_panel_json(html), ensure_ascii=False)


def test_panel_is_json_data_never_markup() -> None:
    html = render_html(build_run_map(make_ctx(), config=MapConfig(hillshade=False)))
    panel = _panel_json(html)
    assert XSS_SCRIPT in json.dumps(panel, ensure_ascii=False)
    assert XSS_SCRIPT not in html and XSS_IMG not in html  # escaped inside the JSON blocks
    assert "gfp.north(" in html


def test_no_panel_without_relocation_results() -> None:
    ctx = make_ctx()
    assert run_summary(ctx.layers, {"site": ctx.results["site"]}) is None


def test_site_verdict_comes_first() -> None:
    ctx = make_ctx()
    html = render_html(build_run_map(ctx, config=MapConfig(hillshade=False)))
    blocks = [json.loads(b) for b in re.findall(r'<script type="application/json" id="[^"]+">(.*?)</script>', html)]
    sites = next(b for b in blocks if b.get("lead"))
    assert sites["fold"] is True
    assert sites["props"]["_verdict"] == [
        "✔ 通过筛选，排名第 1，综合得分 0.820",
        "✔ 通过筛选，排名第 2，综合得分 0.640",
        "✘ 未通过筛选",
    ]
    assert sites["props"]["_why"][2] == ["坡度 31° 超过上限 25°", "距道路 2.1 公里"]
    assert sites["props"]["_why"][0] == ["近水、近电、近路"]


def test_demo_panel_matches_the_run(demo_run: tuple[Path, Path]) -> None:
    _, out = demo_run
    panel = _panel_json((out / "index.html").read_text(encoding="utf-8"))
    tables = out / "tables"
    county = pd.read_csv(tables / "budget_county.csv", encoding="utf-8-sig")
    assignment = pd.read_csv(tables / "assignment.csv", encoding="utf-8-sig")
    sites = pd.read_csv(tables / "site_load.csv", encoding="utf-8-sig")
    f, v = panel["figures"], _values(panel)
    assert f["persons"] == 6886 and f["households"] == 1526
    assert v["搬迁对象"] == "1,526 户，6,886 人"
    assert f["budget_yuan"] == pytest.approx(county["amount_yuan"].sum())
    assert v["补助资金合计"] == "14,549.30 万元"
    for payer, amount in county.groupby("payer")["amount_yuan"].sum().items():
        assert f[f"budget_{payer}_yuan"] == pytest.approx(amount)
    assert f["placed_persons"] == assignment["persons"].sum() == 6886
    assert f["sites_used"] == (sites["assigned_persons"] > 0).sum()
    assert f["slowest_time_min"] == pytest.approx(assignment["time_min"].max())


# --------------------------------------------------------------------------------------------- browser
sync_api = None
if CHROMIUM.exists():
    try:
        from playwright import sync_api  # type: ignore[no-redef]
    except ImportError:
        sync_api = None
needs_browser = pytest.mark.skipif(sync_api is None, reason="/usr/bin/chromium or playwright is absent")


@pytest.fixture(scope="module")
def browser():
    from test_browser import ARGS

    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


def _load(browser, path: Path, html: str, width: int, height: int):
    from test_browser import _open

    got = _open(browser, path, html, width=width, height=height)
    return got.page, got.network, got.errors


@pytest.mark.browser
@needs_browser
@pytest.mark.parametrize(("width", "height", "legend_open"), [(1400, 900, True), (390, 844, False)])
def test_page_at_desktop_and_phone(browser, tmp_path: Path, width: int, height: int, legend_open: bool) -> None:
    layers, res = _with_budget(make_ctx())
    html = render_html(build_run_map(res, layers=layers, config=MapConfig(hillshade=False)))
    page, network, errors = _load(browser, tmp_path / "index.html", html, width, height)
    try:
        panel = page.locator(".gfp-summary")
        assert panel.is_visible()
        text = panel.inner_text()
        assert text.startswith("搬迁安置概况")
        for fig in (
            "6 户，24 人",
            "使用 1 个（通过筛选 2 个）",
            "22.47 万元",
            "省 9.72，市 6.00",
            "搬迁前 55 分钟 → 搬迁后 8 分钟",
        ):
            assert fig in text, fig
        assert XSS_SCRIPT in text  # the hostile village name is literal text
        assert page.locator(".gfp-summary script").count() == 0
        # the panel and the legend do not cover each other
        a, b = panel.bounding_box(), page.locator(".gfp-legend").bounding_box()
        assert a is not None and b is not None
        assert a["y"] + a["height"] <= b["y"] or a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
        # the legend: open on a desktop, folded on a phone, and the heading unfolds it
        body = page.locator(".gfp-legend .gfp-body")
        assert body.is_visible() is legend_open
        if not legend_open:
            page.locator(".gfp-legend h4").click()
            assert body.is_visible()
        north = page.locator(".gfp-north")
        assert north.is_visible() and "北" in north.inner_text()
        box = north.bounding_box()
        assert box is not None and box["x"] + box["width"] <= width and box["y"] >= 0
        # a site popup answers first: click rank label 1 (labels let clicks through to the site)
        rank1 = page.locator(".gfp-rank", has_text=re.compile(r"^1$")).first.bounding_box()
        assert rank1 is not None
        page.mouse.click(rank1["x"] + rank1["width"] / 2, rank1["y"] + rank1["height"] / 2)
        popup = page.locator(".leaflet-popup-content .gfp-pop")
        popup.wait_for(timeout=5000)
        first = popup.inner_text().splitlines()[0]
        assert first == "✔ 通过筛选，排名第 1，综合得分 0.820"
        assert page.locator(".leaflet-popup-content details.gfp-more").count() == 1
        assert not page.locator(".leaflet-popup-content details.gfp-more table").is_visible()
        page.locator(".leaflet-popup-content details.gfp-more summary").click()
        assert page.locator(".leaflet-popup-content details.gfp-more table").is_visible()
        # the summary folds out of the popup's way; its heading brings it back
        assert not page.locator(".gfp-summary .gfp-body").is_visible()
        page.locator(".gfp-summary h4").click()
        assert page.locator(".gfp-summary .gfp-body").is_visible()
        assert errors == [] and network == []
    finally:
        page.close()


@pytest.mark.browser
@needs_browser
def test_public_page_panel_in_browser(browser, tmp_path: Path) -> None:
    layers, res = _with_budget(make_ctx())
    html = render_html(build_run_map(res, layers=layers, config=MapConfig(public=True, hillshade=False)))
    page, network, errors = _load(browser, tmp_path / "public.html", html, 390, 844)
    try:
        text = page.locator(".gfp-summary").inner_text()
        assert text.startswith("搬迁安置概况（公示）") and "22.47 万元" in text
        assert "户均" not in text and "一组" not in text
        assert errors == [] and network == []
    finally:
        page.close()
