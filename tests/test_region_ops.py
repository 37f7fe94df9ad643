"""Region operations (issue 17): ``check`` on a region file, a dying worker, every worker used, the index page.

The counties are the hand-built ones of ``test_region.py`` (county ``a``: 40 of 90 relocating persons
placed; ``b``: 20 of 20), plus a county ``c`` far east (30 persons, 8 households, a site for 100).
Cluster tests start a real ``LocalCluster`` (2 single-threaded worker processes, seconds).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
from demo_helpers import invoke
from test_region import county_alone, two_counties, write_county

from geofupin import io as gio
from geofupin import region as region_mod
from geofupin.region import CountyJob, CountyResult, run_county

pytest.importorskip("distributed", reason="the 'region' extra (dask.distributed) is absent")


def three_counties(root: Path, *, extra: str = "") -> Path:
    """Counties a and b of test_region, and c (30 persons, 8 households) 30 km east of b."""
    two_counties(root)
    write_county(root, "c", 540_000, [("C1", 545_000, 30, 8)], [("SC", 541_000, 100)])
    p = root / "region.yaml"
    p.write_text(
        "region:\n  name: three\n  province: 测试省\n"
        "  counties:\n    - {scenario: a/s.yaml, city: 甲市}\n    - {scenario: b/s.yaml, city: 乙市}\n"
        "    - {scenario: c/s.yaml, city: 乙市}\n" + extra,
        encoding="utf-8",
    )
    return p


# ----------------------------------------------------------------------------- task wrappers run by the workers
def exit_in_b(job: CountyJob) -> CountyResult:
    """County b's task ends its worker process at once (as a segfault or an OOM kill would); the others run."""
    if job.name == "b":
        os._exit(13)
    return run_county(job)


def grow_in_b(job: CountyJob) -> CountyResult:
    """County b's task takes memory in 64 MB steps (up to 3 GB) until its worker's nanny stops it."""
    if job.name == "b":
        held = []
        for _ in range(48):
            held.append(np.ones(8 * 1024 * 1024))  # 64 MB, written
            time.sleep(0.05)
        return CountyResult(name="b", city="", title="", county_name="", ok=False, error="never stopped at 3 GB")
    return run_county(job)


# ----------------------------------------------------------------------------- check on a region file
def test_check_a_region_checks_every_county_and_prints_a_summary(tmp_path: Path) -> None:
    scenario = three_counties(tmp_path / "in", extra="  cross_county: true\n")
    code, text = invoke("check", str(scenario))
    assert code == 0, text
    assert "检查区域 check region" in text and "(3 个县 counties)" in text
    for name in ("a", "b", "c"):
        assert f"县 county {name}" in text
    # the counts each county's own check finds: a has two villages, b and c one, each one candidate site
    block_a = text.split("县 county a")[1].split("县 county b")[0]
    assert block_a.startswith(" (a县, 甲市): 通过 passed, 0 个错误 error(s)")  # the county boundary's name, its city
    assert "CRS EPSG:4545; boundaries 1, villages 2, candidates 1" in block_a
    assert "total capacity of the sites (45 persons) is short of the 90 relocating persons by 45" in block_a
    assert "CRS EPSG:4545; boundaries 1, villages 1, candidates 1" in text.split("县 county c")[1]
    assert "区域汇总 summary: 3 个县通过 passed, 0 个县未通过 failed; 0 error(s)" in text
    res = region_mod.check(scenario)
    assert res.ok and [c.name for c in res.counties] == ["a", "b", "c"] and not res.errors
    assert {c.city for c in res.counties} == {"甲市", "乙市"}


def test_check_reports_a_failing_county_and_still_checks_the_others(tmp_path: Path) -> None:
    scenario = three_counties(tmp_path / "in")
    (tmp_path / "in" / "b" / "villages.gpkg").write_bytes(b"this is not a GeoPackage")
    s = tmp_path / "in" / "c" / "s.yaml"
    s.write_text(s.read_text(encoding="utf-8").replace("crs: EPSG:4545\n", "crs: EPSG:4545\nbogus_key: 1\n"), "utf-8")
    code, text = invoke("check", str(scenario))
    assert code == 1 and "Traceback" not in text
    block_b = text.split("县 county b")[1].split("县 county c")[0]
    assert "未通过 failed" in block_b and "villages" in block_b and "error:" in block_b
    block_c = text.split("县 county c")[1].split("区域汇总")[0]
    assert "未通过 failed" in block_c and "bogus_key" in block_c and "(line 3)" in block_c
    assert "通过 passed, 0 个错误" in text.split("县 county a")[1].split("县 county b")[0]
    assert "区域汇总 summary: 1 个县通过 passed, 2 个县未通过 failed" in text
    res = region_mod.check(scenario)
    assert [c.name for c in res.failed] == ["b", "c"] and not res.ok


def test_check_names_the_file_the_key_and_the_fix_for_bad_region_input(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    p = root / "region.yaml"
    p.write_text(
        "region:\n  name: bad\n  tiles: {scenario: missing.yaml, dir: tiles, rows: 0}\n"
        "  cluster: {memory_limit: lots, retries: -1}\n  cross_county_max_time_min: -5\n  colour: red\n",
        encoding="utf-8",
    )
    code, text = invoke("check", str(p))
    assert code == 1 and "Traceback" not in text
    assert str(p) in text
    for key, words in {
        "region.tiles.rows (line 3)": "greater than 0",
        "region.cluster.memory_limit (line 4)": "'4GiB'",
        "region.cluster.retries (line 4)": "Give 0",
        "region.cross_county_max_time_min (line 5)": "positive",
        "region.colour": "unknown key",
    }.items():
        line = next((x for x in text.splitlines() if key in x), "")
        assert words in line and "Fix:" in line, (key, text)
    # with the keys right, a tiles scenario that does not exist is named by its region key and its file
    p.write_text("region:\n  name: bad\n  tiles: {scenario: missing.yaml, dir: tiles}\n", encoding="utf-8")
    code, text = invoke("check", str(p))
    assert code == 1 and "Traceback" not in text
    line = next(x for x in text.splitlines() if "region.tiles.scenario" in x)
    assert "missing.yaml" in line and "Fix:" in line
    # and a run of the same file stops before computing with the same naming
    code, text = invoke("run", str(p), "--workers", "0")
    assert code == 1 and "Traceback" not in text and "missing.yaml" in text


def test_check_names_a_split_layer_without_its_column(tmp_path: Path) -> None:
    listed = two_counties(tmp_path / "in")
    del listed
    p = tmp_path / "in" / "region-split.yaml"
    p.write_text(
        "region:\n  name: cut\n  split_by: {scenario: a/s.yaml, column: county_code, dir: ../cut-layers}\n",
        encoding="utf-8",
    )
    code, text = invoke("check", str(p))
    assert code == 1 and "Traceback" not in text
    line = next(x for x in text.splitlines() if "region.split_by" in x)
    assert "'county_code'" in line and "boundaries" in line and "Fix:" in line
    assert "(0 个县 counties)" in text


def test_check_refuses_an_output_folder_holding_the_inputs_and_warns_on_an_existing_one(tmp_path: Path) -> None:
    scenario = two_counties(tmp_path / "in")
    scenario.write_text(scenario.read_text(encoding="utf-8") + "  outputs: {dir: .}\n", encoding="utf-8")
    code, text = invoke("check", str(scenario))
    assert code == 1
    line = next(x for x in text.splitlines() if "region.outputs.dir" in x)
    assert line.strip().startswith("- error:") and "拒绝 refused" in line and "Fix:" in line
    # an existing geofupin region folder: run will need --overwrite (a warning, not an error)
    scenario.write_text(scenario.read_text(encoding="utf-8").replace("{dir: .}", "{dir: ../out}"), encoding="utf-8")
    code, text = invoke("-q", "run", str(scenario), "--workers", "0")
    assert code == 0, text
    code, text = invoke("check", str(scenario))
    assert code == 0, text
    line = next(x for x in text.splitlines() if "region.outputs.dir" in x)
    assert line.strip().startswith("- warning:") and "--overwrite" in line


def test_check_warns_when_two_counties_are_shown_under_one_name(tmp_path: Path) -> None:
    root = tmp_path / "in"
    write_county(root, "a", 500_000, [("A1", 505_000, 40, 10)], [("SA", 503_000, 45)], county_name="演示县")
    write_county(root, "b", 510_000, [("B1", 515_000, 20, 5)], [("SB", 511_000, 100)], county_name="演示县")
    write_county(root, "c", 520_000, [("C1", 525_000, 20, 5)], [("SC", 521_000, 100)])
    p = root / "region.yaml"
    p.write_text("region:\n  name: same\n  counties: [a/s.yaml, b/s.yaml, c/s.yaml]\n", encoding="utf-8")
    res = region_mod.check(p)
    (w,) = [x for x in res.warnings if x.where == "region.counties"]
    assert "2 个县显示为同一县名 '演示县'(情景 a, b)" in w.message and "boundary polygon" in w.fix
    assert res.ok  # a warning: the region still runs


def test_check_warns_when_a_cross_county_county_places_nobody(tmp_path: Path) -> None:
    scenario = two_counties(tmp_path / "in", extra="  cross_county: true\n")
    s = tmp_path / "in" / "b" / "s.yaml"
    s.write_text(s.read_text(encoding="utf-8").replace("[allocate, plan]", "[site]"), encoding="utf-8")
    res = region_mod.check(scenario)
    (w,) = [p for p in res.warnings if p.where == "region.cross_county"]
    assert "county b" in w.message and "allocate" in w.message and w.fix


def test_check_on_the_cluster_finds_what_the_in_process_check_finds(tmp_path: Path) -> None:
    scenario = three_counties(tmp_path / "in")
    (tmp_path / "in" / "c" / "villages.gpkg").write_bytes(b"broken")
    here = region_mod.check(scenario)
    there = region_mod.check(scenario, workers=2)
    assert [(c.name, c.problems, dict(c.features)) for c in here.counties] == [
        (c.name, c.problems, dict(c.features)) for c in there.counties
    ]
    assert {c.worker for c in here.counties} == {""}
    assert all(c.worker.startswith("tcp://") for c in there.counties)
    assert [c.name for c in there.failed] == ["c"]


# ----------------------------------------------------------------------------- a dying worker
def test_a_county_that_kills_its_worker_fails_with_killed_worker_and_the_others_complete(tmp_path: Path) -> None:
    reg = region_mod.load(three_counties(tmp_path / "in"))
    res = region_mod.run(reg, out_dir=tmp_path / "region", workers=2, task=exit_in_b)
    assert [c.name for c in res.failed] == ["b"]
    (b,) = res.failed
    assert b.error is not None and b.error.startswith("b:运行该县的工作进程意外退出,共试 2 次")  # Chinese first
    assert "KilledWorker" in b.error and "memory_limit" in b.error
    record = json.loads((tmp_path / "region" / "region.json").read_text(encoding="utf-8"))
    assert record["counties_completed"] == 2 and [f["name"] for f in record["failed"]] == ["b"]
    # the aggregate covers the counties that completed: a (40 placed) and c (30), each as when run alone
    alone = {n: county_alone(tmp_path / "in" / n / "s.yaml", tmp_path / f"alone-{n}") for n in ("a", "c")}
    assert record["totals"]["placed_persons"] == 40 + 30 == sum(a["placed_persons"] for a in alone.values())
    assert record["totals"]["budget_total_yuan"] == pytest.approx(
        sum(a["budget_total"] for a in alone.values()), abs=0.005
    )
    assert (tmp_path / "region" / "a" / "tables" / "assignment.csv").exists()
    assert not (tmp_path / "region" / "b").exists()


def test_the_cli_reports_the_dead_worker_and_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = three_counties(tmp_path / "in", extra="  cluster: {retries: 0}\n")
    # the task the region submits (the workers import this test module's function by name)
    monkeypatch.setattr(region_mod, "run_county", exit_in_b)
    code, text = invoke("run", str(scenario), "--out", str(tmp_path / "region"), "--workers", "2")
    assert code == 1 and "Traceback" not in text
    assert "错误 error: county b failed: b:运行该县的工作进程意外退出,共试 1 次" in text
    assert "1 of 3 counties failed" in text
    assert "区域合计 region: 安置 70 人" in text
    run = json.loads((tmp_path / "region" / "run.json").read_text(encoding="utf-8"))
    assert run["executor"]["retries"] == 0 and run["counties"]["b"]["status"] == "failed"


def test_a_county_over_the_worker_memory_limit_is_stopped_and_reported(tmp_path: Path) -> None:
    reg = region_mod.load(three_counties(tmp_path / "in", extra="  cluster: {memory_limit: 1GiB, retries: 0}\n"))
    res = region_mod.run(reg, out_dir=tmp_path / "region", workers=2, task=grow_in_b)
    assert [c.name for c in res.failed] == ["b"]
    (b,) = res.failed
    assert b.error is not None and "共试 1 次" in b.error and "1GiB" in b.error  # stopped by its nanny, not at 3 GB
    assert res.record["totals"]["placed_persons"] == 70
    run = json.loads((tmp_path / "region" / "run.json").read_text(encoding="utf-8"))
    assert run["executor"]["memory_limit"] == "1GiB"
    # --memory-limit overrides the region key; a size without its unit is refused by name
    code, text = invoke("run", str(reg.path), "--workers", "2", "--memory-limit", "lots")
    assert code == 2 and "--memory-limit" in text and "4GiB" in text


def test_memory_limits_as_dask_takes_them() -> None:
    assert region_mod.memory_limit_bytes("auto") == "auto"
    assert region_mod.memory_limit_bytes("none") == 0
    assert region_mod.memory_limit_bytes("4GiB") == 4 * 1024**3
    assert region_mod.memory_limit_bytes("1.5 GB") == 1_500_000_000


# ----------------------------------------------------------------------------- every worker used
def test_a_two_worker_region_uses_both_workers_and_records_them(tmp_path: Path) -> None:
    reg = region_mod.load(two_counties(tmp_path / "in"))
    res = region_mod.run(reg, out_dir=tmp_path / "region", workers=2)
    assert not res.failed
    record = json.loads((tmp_path / "region" / "region.json").read_text(encoding="utf-8"))
    per = {c["name"]: c for c in record["counties"]}
    workers = {c["worker"] for c in per.values()}
    pids = {c["worker_pid"] for c in per.values()}
    assert len(workers) == 2 and all(w.startswith("tcp://") for w in workers)
    assert len(pids) == 2 and os.getpid() not in pids
    assert {c["worker_name"] for c in per.values()} == {"0", "1"}  # LocalCluster's worker names
    assert record["workers_used"] == {per["a"]["worker"]: ["a"], per["b"]["worker"]: ["b"]}
    for c in per.values():
        assert c["wall_s"] > 0 and c["cpu_s"] > 0
        assert c["worker_peak_rss_mb"] > 50  # a Python process holding geopandas, pandas and shapely
    run = json.loads((tmp_path / "region" / "run.json").read_text(encoding="utf-8"))
    assert run["executor"]["workers_used"] == record["workers_used"]
    assert {run["counties"][n]["worker"] for n in ("a", "b")} == workers
    # in this process: no worker address, this process's pid
    res0 = region_mod.run(reg, out_dir=tmp_path / "r0", workers=0)
    assert {c.worker for c in res0.counties} == {""} and {c.worker_pid for c in res0.counties} == {os.getpid()}
    assert res0.record["workers_used"] == {"in-process": ["a", "b"]}


# ----------------------------------------------------------------------------- the index page: credits
def test_the_index_page_credits_osm_when_a_county_shows_osm_data(tmp_path: Path) -> None:
    scenario = two_counties(tmp_path / "in")
    s = tmp_path / "in" / "a" / "s.yaml"
    s.write_text(
        s.read_text(encoding="utf-8") + "map:\n  attribution: '© OpenStreetMap contributors (ODbL)'\n", "utf-8"
    )
    region_mod.run(region_mod.load(scenario), out_dir=tmp_path / "r", workers=0)
    page = (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    assert page.count("© OpenStreetMap contributors (ODbL)") == 1 and "数据来源 data:" in page
    scenario2 = two_counties(tmp_path / "in2")
    region_mod.run(region_mod.load(scenario2), out_dir=tmp_path / "r2", workers=0)
    assert "OpenStreetMap" not in (tmp_path / "r2" / "index.html").read_text(encoding="utf-8")
    assert gio.read_marker(tmp_path / "r2") is not None


# ----------------------------------------------------------------------------- the index page in a real browser
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is absent (apt-get install chromium)")
def test_the_index_page_in_chromium_shows_hostile_names_as_text_and_links_each_county(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (python package) is absent")
    img, script = "<img src=x onerror=alert(1)>", '<script>alert("x")</script>'
    root = tmp_path / "in"
    write_county(root, "a", 500_000, [("A1", 505_000, 40, 10), ("A2", 509_000, 50, 12)], [("SA", 503_000, 45)],
                 county_name=img)  # fmt: skip
    write_county(root, "b", 510_000, [("B1", 515_000, 20, 5)], [("SB", 511_000, 100)], county_name=script)
    for n in ("a", "b"):
        s = root / n / "s.yaml"
        s.write_text(s.read_text(encoding="utf-8").replace("[allocate, plan]", "[allocate, plan, map]"), "utf-8")
    p = root / "region.yaml"
    p.write_text(
        f"region:\n  name: evil\n  title: {{zh: {json.dumps(img)}}}\n"
        f"  counties:\n    - {{scenario: a/s.yaml, city: {json.dumps(script)}}}\n    - b/s.yaml\n",
        encoding="utf-8",
    )
    res = region_mod.run(region_mod.load(p), out_dir=tmp_path / "r", workers=0)
    per = {c["name"]: c for c in res.record["counties"]}
    dialogs: list[str] = []
    errors: list[str] = []
    network: list[str] = []

    def route(r) -> None:  # r: playwright's Route
        if r.request.url.startswith(("file:", "data:", "blob:")):
            r.continue_()
        else:
            network.append(r.request.url)
            r.abort()

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.route("**/*", route)
        page.goto((tmp_path / "r" / "index.html").as_uri())
        page.wait_for_selector("table tbody tr", state="attached")
        assert page.title() == img  # the region title, literally
        body = page.inner_text("body")
        assert img in body and script in body
        rows = page.eval_on_selector_all(
            "table tbody tr.county", "rows => rows.map(r => [...r.cells].map(c => c.innerText.trim()))"
        )
        assert len(rows) == 2
        head = page.eval_on_selector_all("table thead th", "hs => hs.map(h => h.innerText.trim())")
        col = {h: i for i, h in enumerate(head)}
        row_a = next(r for r in rows if r[1].startswith(img))
        row_b = next(r for r in rows if r[1].startswith(script))
        assert row_a[col["已安置人数"]] == "40" and row_a[col["未安置人数"]] == "50"
        assert row_b[col["已安置人数"]] == "20" and row_b[col["未安置人数"]] == "0"
        for row, name in ((row_a, "a"), (row_b, "b")):
            assert row[col["补助合计(万元)"]] == f"{per[name]['budget_total_yuan'] / 1e4:,.2f}"
        # the table's link opens the county's own page (its map renders, offline)
        links = page.eval_on_selector_all("table a", "as => as.map(a => [a.innerText, a.getAttribute('href')])")
        assert sorted(h for _, h in links) == ["a/index.html", "b/index.html"]
        assert {t for t, _ in links} == {img, script}
        page.click("table a[href='a/index.html']")
        page.wait_for_selector(".leaflet-container", state="attached")
        assert page.url.endswith("/r/a/index.html")
        page.wait_for_timeout(300)
        browser.close()
    assert dialogs == [] and errors == [] and network == []


def test_county_heap_is_frozen_only_while_the_county_runs() -> None:
    """A worker's county runs with what lived before frozen out of collections, and nothing stays frozen."""
    import gc
    import weakref

    from geofupin.region import _fresh_heap

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a  # type: ignore[attr-defined]  # a cycle only the collector frees
    gone = weakref.ref(a)
    del a, b
    assert gc.get_freeze_count() == 0
    with _fresh_heap():
        assert gone() is None  # the previous county's cycles were collected first
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
    with pytest.raises(RuntimeError), _fresh_heap():
        raise RuntimeError("a county that raised")
    assert gc.get_freeze_count() == 0
    # in a worker what lived before stays frozen, and the next county collects only what came after
    try:
        with _fresh_heap(worker=True):
            pass
        frozen = gc.get_freeze_count()
        assert frozen > 0
        c, d = Node(), Node()
        c.other, d.other = d, c  # type: ignore[attr-defined]
        gone = weakref.ref(c)
        del c, d
        with _fresh_heap(worker=True):
            assert gone() is None  # a cycle made after the freeze is still collected
            assert gc.get_freeze_count() >= frozen
    finally:
        gc.unfreeze()


def test_local_workers_keep_glibc_malloc_thresholds_and_other_dask_settings() -> None:
    """dask's MALLOC_TRIM_THRESHOLD_ (15x the page faults of a county) is unset on the local workers only.

    The workers still get dask's other settings (one BLAS thread), and the parent's own environment is
    left as it was.
    """
    import os

    from geofupin import region

    # dask's nanny leaves its settings in the parent's environment for good: as an earlier cluster would
    os.environ["MALLOC_TRIM_THRESHOLD_"] = "65536"
    try:
        before = dict(os.environ)
        got = region.execute(os.getenv, ["MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS"], workers=1)
        assert got == [None, "1"]
        assert dict(os.environ) == before  # the parent's environment as it was (dask's additions too)
    finally:
        os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)


def test_local_workers_run_without_dask_s_statistical_profiler() -> None:
    """The region's own workers do not sample each county's stack for a dashboard page nobody opens."""
    import dask

    from geofupin import region

    assert region.execute(dask.config.get, ["distributed.worker.profile.enabled"], workers=1) == [False]


def test_local_workers_keep_dask_s_housekeeping_slow() -> None:
    """The event-loop tick and the monitors of the region's own cluster run seldom (they share the cores)."""
    import dask

    from geofupin import region

    keys = ["distributed.admin.tick.interval", "distributed.admin.system-monitor.interval"]
    before = [dask.config.get(k) for k in keys]
    assert region.execute(dask.config.get, keys, workers=1) == ["1s", "2s"]
    assert [dask.config.get(k) for k in keys] == before  # this process's own settings as they were


def test_trim_heap_gives_freed_memory_back_on_glibc() -> None:
    """After a county, the memory it freed in the middle of the heap goes back to the system (malloc_trim)."""
    import os
    import platform

    from geofupin.region import trim_heap

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        pytest.skip("malloc_trim is glibc's")

    def rss_mb() -> float:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    # 160 MB in 32 KB blocks (below any mmap threshold: from the heap), every other one freed: the
    # freed half sits between live blocks, where no free() can give it back
    blocks = [bytearray(32 * 1024) for _ in range(5_000)]
    del blocks[::2]
    held = rss_mb()
    assert trim_heap() is True
    assert held - rss_mb() > 40  # about 78 MB of free pages were returned
    del blocks


def test_a_worker_s_peak_memory_is_its_own_not_its_parent_s() -> None:
    """A process started by a parent holding 800 MB reports its own peak (ru_maxrss would report 800 MB)."""
    import multiprocessing
    import platform

    from geofupin.region import _peak_rss_mb

    if platform.system() != "Linux":
        pytest.skip("VmHWM is Linux's")
    held = bytearray(800 * 2**20)  # touched: resident in this process
    assert _peak_rss_mb() >= 800
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        child = pool.apply(_peak_rss_mb)
    del held
    assert 0 < child < 600  # an interpreter with geofupin.region (geopandas...) imported: well under 800 MB


def test_an_interrupted_run_says_so_in_chinese_and_leaves_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while the counties run: a message (not click's bare 'Aborted!' or a traceback), exit 130, nothing left."""
    from geofupin import pipeline

    scenario = two_counties(tmp_path / "in")

    def interrupted(*a: object, **k: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "run", interrupted)
    code, text = invoke("run", str(scenario), "--out", str(tmp_path / "region"), "--workers", "0")
    assert code == 130
    assert "已中断 interrupted" in text and "half-written" in text and "Traceback" not in text
    assert not (tmp_path / "region").exists() and list(tmp_path.iterdir()) == [tmp_path / "in"]
