"""The planner's what-if weights and site comparison (geofupin.maps.whatif).

Python side: the data block carries the run's normalised matrix exactly, hostile names stay
data, nothing of it reaches the public page. In real headless Chromium: the page's scores
equal the Python scores (1e-9), a slider move re-ranks exactly as a Python re-score of the
same weights, the top-k enter/leave lists, the exported YAML re-runs to the same scores, the
comparison sheet shows the run's values and prints, a phone can fold the panel; no JS error
and no network request anywhere.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import unicodedata
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml
from _maps_fixtures import X0, XSS_IMG, XSS_SCRIPT, Y0, gdf, make_ctx, make_layers
from shapely.geometry import box

from geofupin.config.siting import CriterionConfig, SensitivityConfig, SitingConfig
from geofupin.context import RunContext, StepResult
from geofupin.maps import MapConfig, build_run_map, render_html
from geofupin.maps import overview as ov
from geofupin.maps import whatif as wi
from geofupin.siting import score_sites
from geofupin.siting.scoring import rank_scores, topsis, weighted_sum

HOSTILE_NAMES = [XSS_SCRIPT, XSS_IMG, "{{ 7*7 }}", "王家湾\nsiting: {method: topsis}", "</script><b>x</b>"]
HOSTILE_IDS = ["S1", "S2</script>", "S3", "S4\nsiting: {method: topsis}", "S5"]
TINY_CRITERIA = (
    CriterionConfig(name="dist_water_m", weight=0.5),
    CriterionConfig(name="buildable_area_m2", weight=0.3),
    CriterionConfig(name="slope_mean_deg", weight=0.2, normalise="fuzzy", lower=2.0, upper=15.0),
)


def tiny_results(method: str = "weighted_sum") -> dict[str, StepResult]:
    """Five sites with hostile names and ids (four pass), scored by geofupin's own ``score_sites``."""
    cfg = SitingConfig(
        criteria=TINY_CRITERIA,
        criteria_replace=True,
        method=method,  # type: ignore[arg-type]
        sensitivity=SensitivityConfig(draws=0, top_k=2),
    )
    sites = gdf(
        [
            {
                "site_id": sid,
                "name": name,
                "tier": "central_village",
                "township": "高桥乡",
                "area_m2": 90_000.0,
                "buildable_area_m2": area,
                "capacity_persons": 100 * (i + 1),
                "capacity_households": 25 * (i + 1),
                "passed": i < 4,
                "reasons_zh": "" if i < 4 else "平均坡度 31° 超过上限 14°",
                "dist_water_m": water,
                "slope_mean_deg": slope,
                "geometry": box(X0 + 900 * i, Y0 + 600, X0 + 900 * i + 400, Y0 + 1000),
            }
            for i, (sid, name, water, area, slope) in enumerate(
                zip(
                    HOSTILE_IDS,
                    HOSTILE_NAMES,
                    [100.0, 300.0, 50.0, 900.0, 20.0],
                    [5000.0, 8000.0, 3000.0, 9000.0, 7000.0],
                    [3.0, 8.0, 12.0, 1.0, 31.0],
                    strict=True,
                )
            )
        ]
    )
    passed = sites["passed"].to_numpy()
    sc = score_sites(sites, passed, cfg)
    sites["score"] = sc.score
    sites["rank"] = pd.array(np.where(sc.rank > 0, sc.rank, 0), dtype="Int64")
    sites.loc[sc.rank == 0, "rank"] = pd.NA
    rules = pd.DataFrame(
        {
            "site_id": HOSTILE_IDS,
            "rule": "max_slope",
            "passed": [True, True, True, True, False],
            "value": sites["slope_mean_deg"],
            "threshold": 14.036243,
            "op": "le",
            "unit": "deg",
        }
    )
    summary = pd.DataFrame({"rule": ["max_slope"], "label_zh": ["平均坡度"]})
    return {
        "site": StepResult(
            artifacts={"siting": SimpleNamespace(criteria=cfg)},  # as the step returns its SitingResult
            layers={"sites": sites},
            tables={
                "site_explanation": sc.explanation,
                "site_rules": rules,
                "site_rule_summary": summary,
                "site_weights": pd.DataFrame(
                    {"criterion": [c.name for c in TINY_CRITERIA], "weight": sc.weights, "method": method}
                ),
            },
            summary={"method": method, "monte_carlo": {"top_k": 2}},
        )
    }


def _block(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="(gfp_planner_[^"]+)">(.*?)</script>', html, re.S)
    assert m, "no planner data block"
    return json.loads(m.group(2))


def _matrix(spec: dict) -> np.ndarray:
    raw = np.frombuffer(base64.b64decode(spec["x"]), dtype="<f8")
    return raw.reshape(len(spec["ids"]), len(spec["crit"]))


# --------------------------------------------------------------------------------------------- Python side
def test_data_block_carries_the_runs_matrix_weights_and_ties_exactly() -> None:
    results = tiny_results()
    spec = wi.whatif_spec(None, results)
    assert spec is not None
    sites = results["site"].layers["sites"]
    expl = results["site"].tables["site_explanation"]
    # the passing sites in the layer's order, the criteria in the scenario's order
    assert spec["ids"] == HOSTILE_IDS[:4]
    assert [c["key"] for c in spec["crit"]] == ["dist_water_m", "buildable_area_m2", "slope_mean_deg"]
    x = _matrix(spec)
    for i, sid in enumerate(spec["ids"]):
        for j, c in enumerate(spec["crit"]):
            want = expl[(expl.site_id == sid) & (expl.criterion == c["key"])]["normalised"].iloc[0]
            assert x[i, j] == want  # bit for bit
    # hand-checked normalisation: water (cost, min-max over the passing 50..900): S1 = (900-100)/850
    assert x[0, 0] == pytest.approx(800 / 850, abs=1e-15)
    # fuzzy slope (cost) 2..15: S3 at 12 deg -> 1 - 10/13
    assert x[2, 2] == pytest.approx(1 - 10 / 13, abs=1e-15)
    assert spec["w"] == [0.5, 0.3, 0.2]
    # the weighted sum of the carried matrix is the run's score
    np.testing.assert_allclose(x @ np.array(spec["w"]), sites["score"].to_numpy()[:4], rtol=0, atol=1e-12)
    assert spec["rank0"] == [int(r) for r in sites["rank"][:4]]
    # tie order = position in site_id order (the run's tie rule)
    assert [spec["ids"][i] for i in np.argsort(spec["tie"])] == sorted(spec["ids"])
    # k: no allocation -> sensitivity.top_k
    assert (spec["k"], spec["k_from"]) == (2, "top_k")
    assert spec["crit"][2]["norm"] == "fuzzy" and (spec["crit"][2]["lower"], spec["crit"][2]["upper"]) == (2.0, 15.0)
    assert spec["colors"] == list(ov.SCORE_COLORS)  # the page's own ramp


def test_k_is_the_sites_the_allocation_opened() -> None:
    results = {**tiny_results(), "allocate": StepResult(summary={"open_sites": 3})}
    spec = wi.whatif_spec(None, results)
    assert spec is not None and (spec["k"], spec["k_from"]) == (3, "open_sites")
    assert wi.whatif_spec(None, results, k=99)["k"] == 4  # at most the passing sites  # type: ignore[index]


def _page(results: dict[str, StepResult], **cfg) -> str:
    layers = make_layers()
    return render_html(build_run_map(results, layers=layers, config=MapConfig(**cfg)))


def test_hostile_names_stay_data_in_the_block() -> None:
    html = _page(tiny_results())
    for bad in (XSS_SCRIPT, XSS_IMG, "</script><b>", "S2</script>"):
        assert bad not in html
    assert "{{ 7*7 }}" in html  # never compiled as a template
    spec = _block(html)
    assert spec["whatif"]["names"] == HOSTILE_NAMES[:4]  # exactly the names, as text
    assert spec["compare"]["names"] == HOSTILE_NAMES
    assert spec["compare"]["ids"] == HOSTILE_IDS
    # the runtime call names only the generated element id
    call = re.search(r"gfp\.planner\((\w+), gfp\.data\(\"(gfp_planner_\w+)\"\)\);", html)
    assert call is not None


def test_absent_on_the_public_page() -> None:
    results = tiny_results()
    public = _page(results, public=True)
    assert "gfp.planner(" not in public and "gfp_planner_" not in public and "权重假设分析" not in public
    assert "gfp-wi" not in public and "gfp-cmp-sheet" not in public and "加入比较" not in public
    planner = _page(results)
    assert "gfp.planner(" in planner and "权重假设分析" in planner


def test_comparison_rows_hold_the_runs_values() -> None:
    results = tiny_results()
    spec = wi.compare_spec(results)
    assert spec is not None
    sec = {s["zh"]: s["rows"] for s in spec["sections"]}
    rule = next(iter(sec["硬性规则（数值 / 限值 / 结论）"]))
    assert rule["zh"] == "平均坡度" and rule["u"] == "°" and rule["op"] == "le"
    assert rule["v"] == [3.0, 8.0, 12.0, 1.0, 31.0] and rule["thr"] == [14.04] * 5 and rule["ok"] == [1, 1, 1, 1, 0]
    crit = {r["key"].removeprefix("crit_"): r for r in sec["评价准则（数值 · 归一化得分）"]}
    assert crit["dist_water_m"]["v"] == [100.0, 300.0, 50.0, 900.0, 20.0]
    assert crit["dist_water_m"]["n"][:4] == [round(800 / 850, 4), round(600 / 850, 4), 1.0, 0.0]
    assert crit["dist_water_m"]["n"][4] is None  # failed screening: not scored
    assert crit["dist_water_m"]["w"] == 0.5
    cap = {r.get("key"): r for r in sec["容量与安置"]}
    assert cap["capacity_persons"]["v"] == [100.0, 200.0, 300.0, 400.0, 500.0]


def test_no_panel_without_the_explanation_table() -> None:
    # a map of results that carry no site_explanation: the comparison only, no what-if data
    html = render_html(build_run_map(make_ctx()))
    spec = _block(html)
    assert spec["whatif"] is None and spec["compare"]["ids"] == ["S1", "S2", "S3"]


# --------------------------------------------------------------------------------------------- Chromium
try:
    from test_browser import CHROMIUM, _open

    HAVE_BROWSER = CHROMIUM.exists()
except (ImportError, pytest.skip.Exception):  # playwright absent: test_browser skips at import
    HAVE_BROWSER = False


@pytest.fixture(scope="module")
def browser():
    if not HAVE_BROWSER:
        pytest.skip("headless Chromium / playwright absent")
    from playwright.sync_api import sync_playwright
    from test_browser import ARGS

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def demo_ctx(demo_layers: Path, tmp_path_factory: pytest.TempPathFactory) -> RunContext:
    """The demo county run in-process up to the plan (what the map step sees)."""
    from demo_helpers import scenario_copy

    from geofupin import pipeline, scenario

    root = tmp_path_factory.mktemp("whatif")
    sc = scenario.load(scenario_copy(root, demo_layers))
    return pipeline.run(sc, steps=["access", "site", "allocate", "plan"]).ctx


READY = ".gfp-wi"
#: Site id -> the text of its rank label on the map.
LABELS_JS = (
    "() => { const P = gfp.plannerState; "
    "return Object.keys(P.tips).map(i => [i, P.tips[i].getElement().textContent]); }"
)


@pytest.fixture(scope="module")
def demo_page(browser, demo_ctx: RunContext, tmp_path_factory: pytest.TempPathFactory):
    html = render_html(build_run_map(demo_ctx))
    got = _open(browser, tmp_path_factory.mktemp("page") / "index.html", html, READY, width=1400, height=900)
    got.page.wait_for_timeout(200)
    yield got
    got.page.close()


def _passing(ctx: RunContext) -> tuple[pd.DataFrame, np.ndarray, list[str], np.ndarray]:
    """The demo's passing sites, the normalised matrix the run scored (Python), criteria, weights."""
    res = ctx.results["site"]
    sites = res.layers["sites"]
    art = res.artifacts["siting"]
    names = [c.name for c in art.criteria.criteria]
    ok = sites[sites["passed"].astype(bool)]
    e = res.tables["site_explanation"]
    rm = e.pivot(index="site_id", columns="criterion", values="normalised").loc[ok["site_id"], names].to_numpy()
    return ok, rm, names, np.asarray(art.scored.weights, dtype=float)


def _state(page) -> dict:
    return page.evaluate(
        """() => { const W = gfp.plannerState.W; const r = W.rank();
        return {s: Array.from(W.eng.s), rank: Array.from(r), w: Array.from(W.weights()), ids: W.spec.ids,
                enter: W.last.enter.map(i => W.spec.ids[i]), leave: W.last.leave.map(i => W.spec.ids[i]),
                top: Array.from(W.last.top).map(i => W.spec.ids[i]), k: W.k}; }"""
    )


def _move(page, key: str, value: float) -> None:
    page.locator(f'.gfp-wi input[type=range][data-key="{key}"]').evaluate(
        "(e, v) => { e.value = String(v); e.dispatchEvent(new Event('input', {bubbles: true})); }", value
    )
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def _reset(page) -> None:
    page.locator(".gfp-wi button.reset").click()
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def _clean(got) -> None:
    assert got.errors == [] and got.network == []


@pytest.mark.browser
@pytest.mark.slow
def test_page_scores_equal_python_scores(demo_page, demo_ctx: RunContext) -> None:
    ok, rm, _, w = _passing(demo_ctx)
    st = _state(demo_page.page)
    assert st["ids"] == ok["site_id"].tolist()
    np.testing.assert_allclose(st["s"], ok["score"].to_numpy(dtype=float), rtol=0, atol=1e-9)
    np.testing.assert_allclose(st["s"], weighted_sum(rm, w), rtol=0, atol=1e-9)
    assert st["rank"] == [int(r) for r in ok["rank"]]
    assert st["w"] == w.tolist()  # the run's weights exactly while no slider moved
    # k = the sites the allocation opened
    assert st["k"] == demo_ctx.results["allocate"].summary["open_sites"]
    # the map's rank labels are the run's
    labels = demo_page.page.evaluate(LABELS_JS)
    run_rank = dict(zip(ok["site_id"], ok["rank"].astype(int), strict=True))
    assert len(labels) == len(ok) and all(int(t) == run_rank[sid] for sid, t in labels)
    _clean(demo_page)


def _a_move_that_changes_the_top(ok: pd.DataFrame, rm: np.ndarray, names: list[str], w: np.ndarray, k: int):
    base = set(ok["site_id"][ok["rank"].astype(int) <= k])
    for j, key in enumerate(names):
        for value in (100.0, 0.0):
            v = w * 100
            v[j] = value
            ww = v / v.sum()
            r = rank_scores(weighted_sum(rm, ww), ok["site_id"].to_numpy())
            top = set(ok["site_id"][r <= k])
            if top != base:
                return key, value, top - base, base - top
    raise AssertionError("no single slider move changes the demo's top k")


@pytest.mark.browser
@pytest.mark.slow
def test_slider_move_reranks_as_python_and_lists_who_enters_and_leaves(demo_page, demo_ctx: RunContext) -> None:
    page = demo_page.page
    ok, rm, names, w = _passing(demo_ctx)
    k = demo_ctx.results["allocate"].summary["open_sites"]
    key, value, enter, leave = _a_move_that_changes_the_top(ok, rm, names, w, k)
    page.locator(".gfp-wi h4").click()  # unfold
    _move(page, key, value)
    st = _state(page)
    ww = np.asarray(st["w"])
    v = w * 100
    v[names.index(key)] = value
    np.testing.assert_allclose(ww, v / v.sum(), rtol=0, atol=1e-15)  # slider value / sum of sliders
    py = weighted_sum(rm, ww)
    np.testing.assert_allclose(st["s"], py, rtol=0, atol=1e-9)
    py_rank = rank_scores(py, ok["site_id"].to_numpy())
    assert st["rank"] == py_rank.tolist()
    assert st["rank"] != [int(r) for r in ok["rank"]]
    assert set(st["enter"]) == enter and set(st["leave"]) == leave
    assert st["top"] == ok["site_id"].to_numpy()[np.argsort(py_rank)][:k].tolist()
    # the panel names them, in Chinese
    names_of = dict(zip(ok["site_id"], ok["name"], strict=True))
    moves = page.locator(".gfp-wi .moves").inner_text()
    assert f"新进入 {len(enter)} 个" in moves and f"退出 {len(leave)} 个" in moves
    assert all(names_of[s] in moves for s in enter | leave)
    # the map: rank labels are the new ranks, entering sites outlined
    labels = dict(page.evaluate(LABELS_JS))
    assert {s: int(t) for s, t in labels.items()} == dict(zip(ok["site_id"], py_rank.tolist(), strict=True))
    color = page.evaluate(f"() => gfp.plannerState.feat[{json.dumps(sorted(enter)[0])}].poly.options.color")
    assert color == "#08519c"
    # a site's popup tells its what-if rank beside the run's
    sid = sorted(enter)[0]
    j = st["ids"].index(sid)
    run_r = int(ok["rank"].iloc[j])
    assert f"假设权重：排名第 {st['rank'][j]}（本方案第 {run_r}）" in _popup(page, sid).inner_text()
    page.locator(".leaflet-popup-close-button").click()
    # a second slider, then TOPSIS on the same weights
    _move(page, names[0], 3.0)
    st = _state(page)
    ww = np.asarray(st["w"])
    assert st["rank"] == rank_scores(weighted_sum(rm, ww), ok["site_id"].to_numpy()).tolist()
    page.locator(".gfp-wi select.method").select_option("topsis")
    page.evaluate("() => new Promise(r => requestAnimationFrame(r))")
    st = _state(page)
    py_t = topsis(rm, np.asarray(st["w"]), benefit=np.ones(len(names), bool), normalisation="none")
    np.testing.assert_allclose(st["s"], py_t, rtol=0, atol=1e-9)
    assert st["rank"] == rank_scores(py_t, ok["site_id"].to_numpy()).tolist()
    # reset: the run's scores and labels again
    _reset(page)
    st = _state(page)
    np.testing.assert_allclose(st["s"], ok["score"].to_numpy(dtype=float), rtol=0, atol=1e-9)
    assert st["enter"] == [] and st["leave"] == [] and st["rank"] == [int(r) for r in ok["rank"]]
    _clean(demo_page)


@pytest.mark.browser
@pytest.mark.slow
def test_exported_yaml_reruns_to_the_pages_scores(
    demo_page, demo_ctx: RunContext, demo_layers: Path, tmp_path: Path
) -> None:
    from demo_helpers import scenario_copy

    from geofupin import scenario

    page = demo_page.page
    _, _, names, _ = _passing(demo_ctx)
    if not page.locator(".gfp-wi .gfp-body").is_visible():
        page.locator(".gfp-wi h4").click()
    _move(page, "dist_road_m", 80.0)
    _move(page, "time_min_clinic", 0.0)
    st = _state(page)
    with page.expect_download() as dl:
        page.locator(".gfp-wi button.download").click()
    text = Path(dl.value.path()).read_text(encoding="utf-8")
    assert dl.value.suggested_filename == "whatif-weights.yaml"
    data = yaml.safe_load(text)
    assert list(data) == ["siting"] and data["siting"]["method"] == "weighted_sum"
    assert [c["name"] for c in data["siting"]["criteria"]] == names
    # the snippet is a valid scenario section; scoring the run's sites with it gives the page's scores
    sc = scenario.load(scenario_copy(tmp_path, demo_layers, extra="\n" + text))
    sites = demo_ctx.results["site"].layers["sites"]
    again = score_sites(
        sites, sites["passed"].to_numpy(bool), dataclasses.replace(sc.siting, sensitivity=SensitivityConfig(draws=0))
    )
    passed = sites["passed"].to_numpy(bool)
    np.testing.assert_allclose(again.score[passed], st["s"], rtol=0, atol=1e-9)
    assert again.rank[passed].tolist() == st["rank"]
    # copy goes to the clipboard or the text box, never anywhere else
    page.locator(".gfp-wi button.copy").click()
    page.wait_for_timeout(200)
    assert page.locator(".gfp-wi textarea").input_value() == text
    _reset(page)
    _clean(demo_page)


def _popup(page, site_id: str):
    """Click a site as a person would (the site layer's click handler); its popup."""
    page.evaluate(
        """(id) => { const P = gfp.plannerState, f = P.feat[id];
        P.site.group.fire('click', {layer: f.poly, latlng: f.poly.getCenter()}); }""",
        site_id,
    )
    page.wait_for_function("() => document.querySelectorAll('.leaflet-popup').length === 1")  # the last one faded
    return page.locator(".leaflet-popup-content")


def _pick(page, site_id: str) -> None:
    """Open a site's popup and press its compare button."""
    _popup(page, site_id)
    btn = page.locator(".leaflet-popup-content .gfp-cmp-add")
    btn.wait_for(timeout=5000)
    assert btn.inner_text() == "加入比较 / compare"
    btn.click()
    assert btn.inner_text() == "移出比较 / remove"


def _cell_number(text: str) -> float | None:
    m = re.search(r"-?[\d,]+(?:\.\d+)?", text)
    return None if m is None else float(m.group(0).replace(",", ""))


@pytest.mark.browser
@pytest.mark.slow
def test_comparison_sheet_shows_the_runs_values_and_prints(demo_page, demo_ctx: RunContext, tmp_path: Path) -> None:
    from pypdf import PdfReader

    page = demo_page.page
    res = demo_ctx.results
    sites = res["site"].layers["sites"].set_index("site_id")
    rules = res["site"].tables["site_rules"]
    plan_sites = res["plan"].tables["plan_sites"].set_index("site_id")
    access = res["access"].layers["site_access"].set_index("site_id")
    opened = list(plan_sites.index[:2])
    failed = sites.index[~sites["passed"].astype(bool)][0]
    picks = [*opened, failed]
    for sid in picks:
        _pick(page, sid)
    assert page.locator(".gfp-tray .chip").count() == 3
    page.locator(".gfp-tray button.open").click()
    sheet = page.locator(".gfp-cmp-sheet")
    sheet.wait_for()
    heads = sheet.locator("thead th").all_inner_texts()
    assert heads == ["项目", *[sites.at[s, "name"] for s in picks]]

    def cell(attr: str, name: str, sid: str) -> str:
        return sheet.locator(f'tr[data-{attr}="{name}"] td[data-site="{sid}"]').inner_text()

    for sid in picks:
        # every rule: value / threshold and the verdict
        for r in rules[rules.site_id == sid].itertuples():
            text = cell("rule", r.rule, sid)
            scale = 100.0 if r.unit == "share" else 1.0
            dp = {"deg": 2, "share": 1, "m": 1, "min": 1, "persons": 0}[r.unit]
            value, threshold = (float(x.replace(",", "")) for x in re.findall(r"-?[\d,]+(?:\.\d+)?", text)[:2])
            assert value == pytest.approx(r.value * scale, abs=0.51 * 10**-dp)
            assert threshold == pytest.approx(r.threshold * scale, abs=0.51 * 10**-dp)
            assert ("✔" in text) == bool(r.passed) and ("✘" in text) == (not r.passed)
        # every criterion: value, and the normalised score for a scored site
        for key in ("dist_water_m", "time_min_town", "slope_mean_deg", "buildable_area_m2"):
            text = cell("key", f"crit_{key}", sid)
            assert _cell_number(text) == pytest.approx(float(sites.at[sid, key]), abs=0.51)
            if sites.at[sid, "passed"]:
                e = res["site"].tables["site_explanation"]
                want = e[(e.site_id == sid) & (e.criterion == key)]["normalised"].iloc[0]
                assert float(text.split("·")[1]) == pytest.approx(want, abs=5.1e-5)
            else:
                assert "未评分" in text
        assert _cell_number(cell("key", "capacity_persons", sid)) == float(sites.at[sid, "capacity_persons"])
        assert _cell_number(cell("key", "access_time_min_school", sid)) == pytest.approx(
            float(access.at[sid, "time_min_school"]), abs=0.051
        )
        cost = cell("key", "total_cost_yuan", sid)
        if sid in plan_sites.index:
            assert _cell_number(cost) == pytest.approx(float(plan_sites.at[sid, "total_cost_yuan"]) / 1e4, abs=0.0051)
        else:
            assert cost == "—"
    # units and Chinese labels
    body = sheet.inner_text()
    for word in ("硬性规则", "评价准则", "容量与安置", "出行时间", "费用", "（万元）", "（分钟）", "亩"):
        assert word in body
    # print: the button calls window.print; the printed sheet (A4 landscape) holds the site names
    page.evaluate("() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; }")
    sheet.locator("button.print").click()
    assert page.evaluate("() => window.__printed") == 1
    pdf = tmp_path / "compare.pdf"
    page.pdf(path=str(pdf), prefer_css_page_size=True, print_background=True)
    reader = PdfReader(str(pdf))
    # the PDF's ToUnicode maps some ideographs to Kangxi radicals (⽐ for 比): compare NFKC forms
    text = unicodedata.normalize("NFKC", "".join(p.extract_text() for p in reader.pages))
    box_ = reader.pages[0].mediabox
    assert float(box_.width) > float(box_.height)  # landscape
    assert "安置点比较表" in text and all(unicodedata.normalize("NFKC", sites.at[s, "name"]) in text for s in picks)
    assert "图例" not in text and "搬迁安置概况" not in text  # the map and its panels are not printed
    # a fifth pick is refused with a message; close and clear
    sheet.locator("button.close").click()
    assert page.locator(".gfp-cmp-sheet").count() == 0
    more = [s for s in sites.index if s not in picks][:2]
    for sid in more[:1]:
        _pick(page, sid)
    page.evaluate(f"() => gfp.plannerState.toggle({json.dumps(more[1])})")
    assert "最多比较 4 个" in page.locator(".gfp-tray .msg").inner_text()
    # under what-if weights the sheet adds each site's what-if rank and score; Escape closes it
    _move(page, "dist_water_m", 100.0)
    page.locator(".gfp-tray button.open").click()
    st = _state(page)
    for sid in [*picks, more[0]]:
        text = page.locator(f'.gfp-cmp-sheet tr[data-key="whatif"] td[data-site="{sid}"]').inner_text()
        if sid in st["ids"]:
            j = st["ids"].index(sid)
            assert text == f"{st['rank'][j]} · {st['s'][j]:.4f}"
        else:
            assert text == "—"
    page.keyboard.press("Escape")
    assert page.locator(".gfp-cmp-sheet").count() == 0
    _reset(page)
    page.locator(".gfp-tray button.clear").click()
    assert not page.locator(".gfp-tray").is_visible()
    _clean(demo_page)


@pytest.mark.browser
@pytest.mark.slow
def test_phone_panel_folds(browser, demo_ctx: RunContext, tmp_path: Path) -> None:
    html = render_html(build_run_map(demo_ctx))
    got = _open(browser, tmp_path / "phone.html", html, READY, width=390, height=844)
    page = got.page
    body = page.locator(".gfp-wi .gfp-body")
    assert not body.is_visible()  # folded at first
    head = page.locator(".gfp-wi h4")
    hb = head.bounding_box()
    assert hb is not None and hb["x"] >= 0 and hb["x"] + hb["width"] <= 390
    head.click()
    assert body.is_visible()
    panel = page.locator(".gfp-wi").bounding_box()
    assert panel is not None and panel["x"] + panel["width"] <= 390 and panel["height"] <= 0.5 * 844 + 20
    _move(page, "dist_water_m", 90.0)
    assert "前 12 名" in page.locator(".gfp-wi .moves").inner_text()
    head.click()
    assert not body.is_visible()
    page.close()
    _clean(got)


@pytest.mark.browser
def test_hostile_page_works_and_exports_safe_yaml(browser, tmp_path: Path) -> None:
    html = _page(tiny_results())
    got = _open(browser, tmp_path / "hostile.html", html, READY)
    page = got.page
    assert got.dialogs == []
    page.locator(".gfp-wi h4").click()
    text = page.locator(".gfp-wi table.top").inner_text()
    assert XSS_SCRIPT in text and XSS_IMG in text  # shown as text (the top 2)
    assert page.locator(".gfp-wi img, .gfp-wi script, .gfp-wi b").count() == 0
    # move so that the site with a line break in its id enters the top 2
    st0 = _state(page)
    _move(page, "buildable_area_m2", 100.0)
    st = _state(page)
    assert st["top"] != st0["top"] and HOSTILE_IDS[3] in st["enter"]
    with page.expect_download() as dl:
        page.locator(".gfp-wi button.download").click()
    text = Path(dl.value.path()).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert list(data) == ["siting"] and data["siting"]["method"] == "weighted_sum"  # nothing injected
    assert data["siting"]["criteria"][2] == {
        "name": "slope_mean_deg",
        "weight": pytest.approx(st["w"][2]),
        "normalise": "fuzzy",
        "lower": 2.0,
        "upper": 15.0,
    }
    # the comparison of a hostile site shows its name as text
    for i in (1, 2, 4):
        _pick(page, HOSTILE_IDS[i])
    page.locator(".gfp-tray button.open").click()
    heads = page.locator(".gfp-cmp-sheet thead th").all_inner_texts()
    assert heads == ["项目", HOSTILE_NAMES[1], HOSTILE_NAMES[2], HOSTILE_NAMES[4]]
    assert page.locator(".gfp-cmp-sheet img, .gfp-cmp-sheet b").count() == 0
    assert got.dialogs == []
    page.close()
    _clean(got)


@pytest.mark.browser
def test_public_page_has_no_planner_tools(browser, tmp_path: Path) -> None:
    got = _open(browser, tmp_path / "public.html", _page(tiny_results(), public=True), ".gfp-summary, .gfp-legend")
    assert got.page.locator(".gfp-wi, .gfp-tray, .gfp-cmp-add").count() == 0
    assert got.page.evaluate("() => gfp.plannerState === undefined && gfp.planner === undefined")
    got.page.close()
    _clean(got)


@pytest.mark.browser
@pytest.mark.slow
def test_ahp_scenario_sliders_act_on_the_derived_weights(browser, demo_ctx: RunContext, tmp_path: Path) -> None:
    from geofupin.siting import step as site_step

    base = demo_ctx.results["site"].artifacts["siting"].criteria
    names = [c.name for c in base.criteria]
    target = np.array([c.weight for c in base.criteria], dtype=float)
    target[0] *= 2  # water counts double: a consistent matrix a_ij = w_i / w_j
    pairwise = tuple(tuple(float(round(a / b, 6)) for b in target) for a in target)
    cfg = dataclasses.replace(
        base,
        method="ahp",
        pairwise=pairwise,
        criteria=tuple(dataclasses.replace(c, weight=None) for c in base.criteria),
        criteria_replace=True,
        sensitivity=SensitivityConfig(draws=0),
    )
    sc = dataclasses.replace(demo_ctx.scenario, siting=cfg)
    ctx = RunContext(scenario=sc, layers=demo_ctx.layers, results={"access": demo_ctx.results["access"]})
    res = site_step(ctx)
    results = {**demo_ctx.results, "site": res}
    html = render_html(build_run_map(RunContext(scenario=sc, layers=demo_ctx.layers, results=results)))
    got = _open(browser, tmp_path / "ahp.html", html, READY, width=1400, height=900)
    page = got.page
    sites = res.layers["sites"]
    ok = sites[sites["passed"].astype(bool)]
    st = _state(page)
    np.testing.assert_allclose(st["s"], ok["score"].to_numpy(dtype=float), rtol=0, atol=1e-9)
    np.testing.assert_allclose(st["w"], res.artifacts["siting"].scored.weights, rtol=0, atol=0)
    page.locator(".gfp-wi h4").click()
    assert "层次分析法" in page.locator(".gfp-wi .help").inner_text()
    # untouched, the export repeats the AHP judgements
    page.locator(".gfp-wi button.copy").click()
    data = yaml.safe_load(page.locator(".gfp-wi textarea").input_value())
    assert data["siting"]["method"] == "ahp" and data["siting"]["pairwise"] == [list(r) for r in pairwise]
    # a slider moves the derived weight itself
    _move(page, names[1], 50.0)
    st = _state(page)
    v = np.asarray(res.artifacts["siting"].scored.weights) * 100
    v[1] = 50.0
    np.testing.assert_allclose(st["w"], v / v.sum(), rtol=0, atol=1e-15)
    e = res.tables["site_explanation"]
    rm = e.pivot(index="site_id", columns="criterion", values="normalised").loc[ok["site_id"], names].to_numpy()
    assert st["rank"] == rank_scores(weighted_sum(rm, np.asarray(st["w"])), ok["site_id"].to_numpy()).tolist()
    page.locator(".gfp-wi button.copy").click()
    data = yaml.safe_load(page.locator(".gfp-wi textarea").input_value())
    assert data["siting"]["method"] == "weighted_sum" and "pairwise" not in data["siting"]
    assert [c["weight"] for c in data["siting"]["criteria"]] == pytest.approx(st["w"], abs=1e-15)
    page.close()
    _clean(got)


def test_module_needs_no_scenario_object() -> None:
    # the builder reads results only: a plain mapping of step results works (the compare page, re-drawn runs)
    assert wi.whatif_spec(None, {}) is None and wi.compare_spec({}) is None
    assert wi.add_planner_tools(SimpleNamespace(), None, {}, config=MapConfig()) is None  # type: ignore[arg-type]
