"""Region runs (issue 17, part 1): counties as dask.distributed tasks, then added up.

Two hand-built counties side by side (EPSG:4545, metres), 10 km x 10 km each:

- county ``a`` (x 500-510 km): village A1 (40 persons, 10 households) at x = 505 km, village A2
  (50 persons, 12 households) at x = 509 km, 1 km from the border; one site SA at x = 503 km
  for ``cap_a`` persons (45: A1 fits, A2 does not: unserved in the county's own run);
- county ``b`` (x 510-520 km): village B1 (20 persons, 5 households) at x = 515 km; one site SB
  at x = 511 km for 100 persons (80 left after B1).

The cross-county pass moves A2 to SB: 2,000 m straight x 1.3 (``fallback_detour``) = 2,600 m at
30 km/h (``fallback_speed_kph``) = 5.2 minutes.
"""

from __future__ import annotations

import json
import os
from html.parser import HTMLParser
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from demo_helpers import invoke
from shapely.geometry import Point, box

from geofupin import io as gio
from geofupin import pipeline, scenario
from geofupin import region as region_mod
from geofupin.config.region import from_dict
from geofupin.errors import ScenarioError

Y = 4_005_000


def write_county(
    root: Path,
    name: str,
    x0: float,
    villages: list[tuple[str, float, int, int]],
    sites: list[tuple[str, float, int]],
    *,
    county_name: str | None = None,
) -> Path:
    """A county folder with villages, candidate sites (with capacity) and its boundary; its scenario file."""
    d = root / name
    d.mkdir(parents=True, exist_ok=True)
    v = gpd.GeoDataFrame(
        {
            "village_id": [a for a, *_ in villages],
            "name": [f"{a}村" for a, *_ in villages],
            "township": ["甲乡"] * len(villages),
            "households": [h * 2 for *_, h in villages],
            "persons": [p * 2 for *_, p, _h in villages],
            "relocate_households": [h for *_, h in villages],
            "relocate_persons": [p for *_, p, _h in villages],
        },
        geometry=[Point(x, Y) for _, x, *_ in villages],
        crs=4545,
    )
    gio.write_vector(v, d / "villages.gpkg", layer="villages")
    c = gpd.GeoDataFrame(
        {
            "site_id": [s for s, *_ in sites],
            "name": [f"{s}安置点" for s, *_ in sites],
            "tier": ["central_village"] * len(sites),
            "capacity_persons": [cap for *_, cap in sites],
        },
        geometry=[Point(x, Y).buffer(100) for _, x, _ in sites],
        crs=4545,
    )
    gio.write_vector(c, d / "candidates.gpkg", layer="candidates")
    b = gpd.GeoDataFrame(
        {"boundary_id": ["C"], "name": [county_name or f"{name}县"], "level": ["county"]},
        geometry=[box(x0, Y - 5000, x0 + 10_000, Y + 5000)],
        crs=4545,
    )
    gio.write_vector(b, d / "boundaries.gpkg", layer="boundaries")
    s = d / "s.yaml"
    s.write_text(
        f"name: {name}\ncrs: EPSG:4545\nlayers:\n  villages: villages.gpkg\n  candidates: candidates.gpkg\n"
        "  boundaries: boundaries.gpkg\nsteps: [allocate, plan]\noutputs:\n  tables: [csv]\n",
        encoding="utf-8",
    )
    return s


def two_counties(root: Path, *, cap_a: int = 45, extra: str = "", title: str = "测试区域") -> Path:
    """Counties a and b (see the module docstring) and a region file listing them."""
    write_county(root, "a", 500_000, [("A1", 505_000, 40, 10), ("A2", 509_000, 50, 12)], [("SA", 503_000, cap_a)])
    write_county(root, "b", 510_000, [("B1", 515_000, 20, 5)], [("SB", 511_000, 100)])
    p = root / "region.yaml"
    p.write_text(
        f"region:\n  name: tiny\n  title: {{zh: {json.dumps(title, ensure_ascii=False)}}}\n  province: 测试省\n"
        "  counties:\n    - {scenario: a/s.yaml, city: 甲市}\n    - {scenario: b/s.yaml, city: 乙市}\n" + extra,
        encoding="utf-8",
    )
    return p


def county_alone(scenario: Path, out: Path) -> dict[str, object]:
    """A county run on its own through the CLI: its placed persons and budget by payer, read back from its files."""
    code, text = invoke("-q", "run", str(scenario), "--out", str(out))
    assert code == 0, text
    assignment = pd.read_csv(out / "tables" / "assignment.csv", encoding="utf-8-sig")
    budget = pd.read_csv(out / "tables" / "budget_county.csv", encoding="utf-8-sig")
    return {
        "placed_persons": int(assignment["persons"].sum()),
        "placed_households": int(assignment["households"].sum()),
        "budget": budget.groupby("payer")["amount_yuan"].sum().round(2).to_dict(),
        "budget_total": round(float(budget["amount_yuan"].sum()), 2),
    }


def _headers(p: Path) -> pd.DataFrame:
    """A region CSV: one English header row (as the county's CSV tables), numbers as numbers."""
    return pd.read_csv(p, encoding="utf-8-sig")


# ----------------------------------------------------------------------------- on a real cluster
def test_region_on_a_local_cluster_adds_up_to_the_separate_county_runs(tmp_path: Path) -> None:
    reg = region_mod.load(two_counties(tmp_path / "in"))
    res = region_mod.run(reg, out_dir=tmp_path / "region", workers=2)
    assert not res.failed
    alone = {n: county_alone(tmp_path / "in" / n / "s.yaml", tmp_path / f"alone-{n}") for n in ("a", "b")}
    record = json.loads((tmp_path / "region" / "region.json").read_text(encoding="utf-8"))
    totals = record["totals"]
    # to the person and to the yuan
    assert totals["placed_persons"] == alone["a"]["placed_persons"] + alone["b"]["placed_persons"] == 60
    assert totals["unserved_persons"] == 50 and totals["relocating_persons"] == 110
    assert totals["placed_households"] == alone["a"]["placed_households"] + alone["b"]["placed_households"] == 15
    assert totals["budget_total_yuan"] == pytest.approx(
        alone["a"]["budget_total"] + alone["b"]["budget_total"], abs=0.005
    )
    for payer, yuan in totals["budget_by_payer_yuan"].items():
        assert yuan == pytest.approx(alone["a"]["budget"].get(payer, 0) + alone["b"]["budget"].get(payer, 0), abs=0.005)
    per = {c["name"]: c for c in record["counties"]}
    assert per["a"]["placed_persons"] == 40 and per["a"]["unserved_persons"] == 50
    assert per["b"]["budget_total_yuan"] == pytest.approx(alone["b"]["budget_total"], abs=0.005)
    # each county's folder holds what its own run writes (same assignment, same budget)
    for n in ("a", "b"):
        for t in ("assignment.csv", "budget_county.csv"):
            assert (tmp_path / "region" / n / "tables" / t).read_bytes() == (
                tmp_path / f"alone-{n}" / "tables" / t
            ).read_bytes()
        assert gio.read_marker(tmp_path / "region" / n) is not None
    # the province/city/county table: cities are their counties, the province is both
    budget = _headers(tmp_path / "region" / "budget_region.csv")
    prov = budget[budget["level"] == "province"].iloc[0]
    assert prov["budget_total_yuan"] == pytest.approx(totals["budget_total_yuan"], abs=0.005)
    assert prov["budget_total_wan_yuan"] == pytest.approx(totals["budget_total_yuan"] / 1e4, abs=1e-4)
    city = budget[(budget["level"] == "city") & (budget["name"] == "乙市")].iloc[0]
    assert city["budget_total_yuan"] == pytest.approx(alone["b"]["budget_total"], abs=0.005)
    # run.json: every county's hashes, and the counties really ran in worker processes
    run = json.loads((tmp_path / "region" / "run.json").read_text(encoding="utf-8"))
    executor = {k: run["executor"][k] for k in ("kind", "workers", "scheduler", "memory_limit", "retries")}
    assert executor == {"kind": "local_cluster", "workers": 2, "scheduler": None, "memory_limit": "auto", "retries": 1}
    for n in ("a", "b"):
        c = run["counties"][n]
        assert c["inputs_sha256"]["villages"] == gio.file_sha256(tmp_path / "in" / n / "villages.gpkg")
        assert c["outputs_sha256"]["tables/assignment.csv"] == gio.file_sha256(
            tmp_path / "region" / n / "tables" / "assignment.csv"
        )
        # every file of the county's folder (run.json too), hashed as it is on disk, and the county's run id
        assert c["outputs_sha256"] == {k: gio.file_sha256(tmp_path / "region" / n / k) for k in c["outputs_sha256"]}
        assert {"run.json", "tables/assignment.csv", "plan.docx"} <= set(c["outputs_sha256"])
        county_sc = scenario.load(tmp_path / "in" / n / "s.yaml")
        assert c["inputs_sha256"] == pipeline.input_hashes(county_sc)
        assert c["run_id"] == pipeline.run_id(county_sc)
        assert c["worker_pid"] != os.getpid()
    assert run["outputs_sha256"]["region.json"] == gio.file_sha256(tmp_path / "region" / "region.json")
    assert run["region_resolved"]["outputs"]["dir"] == str(tmp_path / "region")  # the folder written, not the default
    # the region folder is geofupin's: its marker lists every file, so --overwrite may replace it
    marker = gio.read_marker(tmp_path / "region")
    assert marker is not None and "a/tables/assignment.csv" in marker["files"] and "index.html" in marker["files"]


def test_a_region_runs_on_an_existing_cluster_by_its_scheduler_address(tmp_path: Path) -> None:
    from dask.distributed import LocalCluster

    reg = region_mod.load(two_counties(tmp_path / "in", extra="  cross_county: true\n"))
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        res = region_mod.run(reg, out_dir=tmp_path / "region", scheduler=cluster.scheduler_address)
    run = json.loads((tmp_path / "region" / "run.json").read_text(encoding="utf-8"))
    executor = {k: run["executor"][k] for k in ("kind", "workers", "scheduler")}
    assert executor == {"kind": "scheduler", "workers": None, "scheduler": cluster.scheduler_address}
    assert {c["worker_pid"] for c in run["counties"].values()} - {os.getpid()} == {
        c["worker_pid"] for c in run["counties"].values()
    }
    assert res.record["totals"]["placed_persons"] == 110 and res.record["cross_county"]["persons"] == 50


def test_the_in_process_path_gives_the_same_region(tmp_path: Path) -> None:
    reg = region_mod.load(two_counties(tmp_path / "in"))
    one = region_mod.run(reg, out_dir=tmp_path / "r0", workers=0)
    again = region_mod.run(reg, out_dir=tmp_path / "r0", workers=0, overwrite=True)
    assert one.record["totals"] == again.record["totals"]
    assert json.loads((tmp_path / "r0" / "run.json").read_text())["executor"]["kind"] == "in_process"
    with pytest.raises(FileExistsError):
        region_mod.run(reg, out_dir=tmp_path / "r0", workers=0)


# ----------------------------------------------------------------------------- a failing county
def test_a_failing_county_is_reported_and_the_others_complete(tmp_path: Path) -> None:
    scenario = two_counties(tmp_path / "in")
    (tmp_path / "in" / "b" / "villages.gpkg").write_bytes(b"this is not a GeoPackage")
    code, text = invoke("run", str(scenario), "--out", str(tmp_path / "region"), "--workers", "0")
    assert code == 1
    assert "county b failed" in text and "villages" in text and "Traceback" not in text
    out = tmp_path / "region"
    record = json.loads((out / "region.json").read_text(encoding="utf-8"))
    assert record["counties_completed"] == 1 and [f["name"] for f in record["failed"]] == ["b"]
    (failed,) = record["failed"]
    assert "villages" in failed["error"]
    per = {c["name"]: c for c in record["counties"]}
    assert per["b"]["status"] == "failed" and per["b"]["placed_persons"] is None
    assert per["a"]["status"] == "ok" and per["a"]["placed_persons"] == 40
    assert record["totals"]["placed_persons"] == 40  # the completed county only
    assert (out / "a" / "tables" / "assignment.csv").exists() and not (out / "b").exists()
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "未完成的县(1 个)" in page and "villages" in page.split("未完成的县")[1]
    budget = _headers(out / "budget_region.csv")
    assert budget.loc[budget["county"] == "b", "status"].tolist() == ["failed"]
    assert budget.loc[budget["level"] == "province", "status"].tolist() == ["1/2"]
    # a failed county has empty figures, not zeros, in every table; the totals say they leave it out
    persons = _headers(out / "persons_region.csv")
    b = persons[persons["county"] == "b"].iloc[0]
    assert b["status"] == "failed" and pd.isna(b["placed_persons"]) and pd.isna(b["budget_total_yuan"])
    assert persons.loc[persons["county"] == "a", "placed_persons"].tolist() == [40]
    assert persons["placed_persons"].dtype.kind in "if"  # read as numbers
    assert "未完成的 1 个县不计入合计" in page
    assert "1 个未完成,未计入合计" in text
    import openpyxl

    wb = openpyxl.load_workbook(out / "region.xlsx", read_only=True)
    rows = list(wb["分县安置人数"].values)
    head_zh, head_en = rows[0], rows[1]
    assert head_zh[head_en.index("placed_persons")] == "已安置人数"
    by = {r[head_en.index("county")]: r for r in rows[2:]}
    assert by["a"][head_en.index("placed_persons")] == 40 and by["b"][head_en.index("placed_persons")] is None
    wb.close()


# ----------------------------------------------------------------------------- cross-county moves
def test_a_border_village_moves_to_the_neighbours_site(tmp_path: Path) -> None:
    scenario = two_counties(tmp_path / "in", extra="  cross_county: true\n  cross_county_max_time_min: 30\n")
    res = region_mod.run(region_mod.load(scenario), out_dir=tmp_path / "region", workers=0)
    moves = pd.read_csv(tmp_path / "region" / "cross_county_moves.csv", dtype={"village_id": str}, encoding="utf-8-sig")
    assert moves[["from_county", "to_county", "village_id", "site_id", "persons", "households"]].values.tolist() == [
        ["a", "b", "A2", "SB", 50, 12]
    ]
    assert moves["dist_m"].iloc[0] == pytest.approx(2000 * 1.3)
    assert moves["time_min"].iloc[0] == pytest.approx(2.6 / 30 * 60)
    totals = res.record["totals"]
    assert totals["placed_persons"] == 110 and totals["unserved_persons"] == 0
    per = {c["name"]: c for c in res.record["counties"]}
    assert per["a"]["moved_out_persons"] == 50 and per["a"]["placed_in_county_persons"] == 40
    assert per["b"]["moved_in_persons"] == 50 and per["b"]["placed_persons"] == 20
    assert res.record["cross_county"]["border_counties"] == ["a", "b"]
    # the page says the county folders hold the first pass, and marks the counties the moves touch
    page = (tmp_path / "region" / "index.html").read_text(encoding="utf-8")
    assert "本表与合计已计入跨县安置" in page and "行程不超过 30 分钟" in page
    assert page.count(" * <small") == 2  # both counties the move touches
    assert '<a href="cross_county_moves.csv">' in page and '<a href="region.xlsx">' in page
    import openpyxl

    wb = openpyxl.load_workbook(tmp_path / "region" / "region.xlsx", read_only=True)
    assert wb.sheetnames == ["区域补助汇总", "分县安置人数", "跨县安置明细"]
    moved = list(wb["跨县安置明细"].values)
    assert moved[0][:2] == ("迁出县", "迁入县") and moved[1][:2] == ("from_county", "to_county")
    assert moved[2][:2] == ("a", "b") and moved[2][moved[1].index("persons")] == 50
    wb.close()
    # the terminal's county lines are those of the region's table (after the moves), as its totals
    code, text = invoke("run", str(scenario), "--out", str(tmp_path / "cli"), "--workers", "0")
    assert code == 0, text
    assert "a: 安置 90 人,未安置 0 人(含跨县迁出 50 人、迁入 0 人 *)" in text
    assert "b: 安置 20 人,未安置 0 人(含跨县迁出 0 人、迁入 50 人 *)" in text
    # the county of origin budgets its moved households by its own policy: county a as if its own
    # site had room for both villages
    roomy = county_alone(write_county(tmp_path / "roomy", "a", 500_000, [("A1", 505_000, 40, 10),
                         ("A2", 509_000, 50, 12)], [("SA", 503_000, 100)]), tmp_path / "roomy-out")  # fmt: skip
    assert per["a"]["budget_total_yuan"] == pytest.approx(roomy["budget_total"], abs=0.005)
    for payer, yuan in roomy["budget"].items():
        assert per["a"]["budget_by_payer_yuan"].get(payer, 0.0) == pytest.approx(yuan, abs=0.005)


def test_no_cross_county_move_beyond_the_time_limit_or_without_the_option(tmp_path: Path) -> None:
    slow = two_counties(tmp_path / "in", extra="  cross_county: true\n  cross_county_max_time_min: 5\n")
    res = region_mod.run(region_mod.load(slow), out_dir=tmp_path / "r1", workers=0)  # 5.2 min > 5
    assert res.record["cross_county"]["moves"] == 0 and res.record["totals"]["unserved_persons"] == 50
    off = two_counties(tmp_path / "in2")
    res = region_mod.run(region_mod.load(off), out_dir=tmp_path / "r2", workers=0)
    assert res.record["cross_county"]["enabled"] is False and res.record["totals"]["unserved_persons"] == 50
    assert not (tmp_path / "r2" / "cross_county_moves.csv").exists()


def test_a_site_two_counties_away_is_not_a_neighbour(tmp_path: Path) -> None:
    """Only border counties take part: a far county's room is not offered (its area is beyond border_m)."""
    root = tmp_path / "in"
    write_county(root, "a", 500_000, [("A1", 505_000, 40, 10), ("A2", 509_000, 50, 12)], [("SA", 503_000, 45)])
    write_county(root, "c", 530_000, [("C1", 535_000, 20, 5)], [("SC", 531_000, 100)])
    p = root / "region.yaml"
    p.write_text(
        "region:\n  name: far\n  counties: [a/s.yaml, c/s.yaml]\n  cross_county: true\n"
        "  cross_county_max_time_min: 600\n  border_m: 1000\n",
        encoding="utf-8",
    )
    res = region_mod.run(region_mod.load(p), out_dir=tmp_path / "r", workers=0)
    assert res.record["cross_county"]["moves"] == 0 and res.record["totals"]["unserved_persons"] == 50


# ----------------------------------------------------------------------------- the index page
class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.hrefs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.hrefs += [v or "" for k, v in attrs if k == "href"]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_index_page_escapes_hostile_names(tmp_path: Path) -> None:
    evil = '<script>alert("x")</script>'
    img = "<img src=x onerror=alert(1)>"
    root = tmp_path / "in"
    write_county(root, "a", 500_000, [("A1", 505_000, 40, 10)], [("SA", 503_000, 45)], county_name=evil)
    write_county(root, "b&'x", 510_000, [("B1", 515_000, 20, 5)], [("SB", 511_000, 100)], county_name=img)
    p = root / "region.yaml"
    p.write_text(
        "region:\n  name: evil\n"
        f"  title: {{zh: {json.dumps(evil)}, en: {json.dumps(img)}}}\n"
        f"  province: {json.dumps(evil)}\n"
        f'  counties:\n    - {{scenario: a/s.yaml, city: {json.dumps(img)}}}\n    - "b&\'x/s.yaml"\n',
        encoding="utf-8",
    )
    region_mod.run(region_mod.load(p), out_dir=tmp_path / "r", workers=0)
    page = (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    parser = _Tags()
    parser.feed(page)
    assert "script" not in parser.tags and "img" not in parser.tags
    text = "".join(parser.text)
    assert evil in text and img in text and "b&'x" in text  # shown as text, exactly
    assert "&lt;script&gt;" in page and "&lt;img src=x" in page


def test_the_region_tables_keep_formula_like_names_as_text(tmp_path: Path) -> None:
    """A county or city named like a spreadsheet formula is a text cell in region.xlsx, and neutralised in the CSVs."""
    import openpyxl

    formula = '=HYPERLINK("http://example.invalid","点此")'
    root = tmp_path / "in"
    write_county(root, "a", 500_000, [("A1", 505_000, 40, 10)], [("SA", 503_000, 45)], county_name=formula)
    write_county(root, "b", 510_000, [("B1", 515_000, 20, 5)], [("SB", 511_000, 100)], county_name="+1+2")
    p = root / "region.yaml"
    p.write_text(
        f"region:\n  name: f\n  counties:\n    - {{scenario: a/s.yaml, city: {json.dumps('@SUM(A1)')}}}\n"
        "    - b/s.yaml\n",
        encoding="utf-8",
    )
    region_mod.run(region_mod.load(p), out_dir=tmp_path / "r", workers=0)
    wb = openpyxl.load_workbook(tmp_path / "r" / "region.xlsx")  # not read-only: the cells' types
    ws = wb["区域补助汇总"]
    cells = [c for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    shown = {c.value: c for c in cells}
    for name in (formula, "+1+2", "@SUM(A1)"):
        assert name in shown and shown[name].data_type == "s", name  # text, never a formula
    assert not any(c.data_type == "f" for row in ws.iter_rows() for c in row)
    raw = (tmp_path / "r" / "budget_region.csv").read_text(encoding="utf-8-sig")
    assert "\n=HYPERLINK" not in raw and ",=HYPERLINK" not in raw and ",+1+2" not in raw  # the CSV guard's prefix


def test_the_index_page_links_each_county_page(tmp_path: Path) -> None:
    scenario = two_counties(tmp_path / "in")
    for n in ("a", "b"):
        s = tmp_path / "in" / n / "s.yaml"
        s.write_text(s.read_text(encoding="utf-8").replace("[allocate, plan]", "[allocate, plan, map]"), "utf-8")
    region_mod.run(region_mod.load(scenario), out_dir=tmp_path / "r", workers=0)
    parser = _Tags()
    parser.feed((tmp_path / "r" / "index.html").read_text(encoding="utf-8"))
    links = [h for h in parser.hrefs if h.endswith("index.html")]
    assert sorted(set(links)) == ["a/index.html", "b/index.html"]
    assert all((tmp_path / "r" / h).is_file() for h in links)
    assert "svg" in parser.tags and "http" not in " ".join(parser.hrefs)  # offline: no remote link


# ----------------------------------------------------------------------------- one layer set split by county
def test_a_layer_set_split_by_its_county_column_gives_the_listed_counties(tmp_path: Path) -> None:
    listed = two_counties(tmp_path / "in")
    whole = tmp_path / "whole"
    whole.mkdir()
    for kind in ("villages", "candidates", "boundaries"):
        parts = [gio.read_vector(tmp_path / "in" / n / f"{kind}.gpkg") for n in ("a", "b")]
        gdf = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=parts[0].crs)
        if kind == "boundaries":
            gdf["name"], gdf["city"], gdf["boundary_id"] = ["a", "b"], ["甲市", "乙市"], ["CA", "CB"]
        gio.write_vector(gdf, whole / f"{kind}.gpkg", layer=kind)
    (whole / "s.yaml").write_text(
        (tmp_path / "in" / "a" / "s.yaml").read_text(encoding="utf-8").replace("name: a", "name: whole"), "utf-8"
    )
    region_file = tmp_path / "split.yaml"
    region_file.write_text(
        "region:\n  name: split\n  split_by: {scenario: whole/s.yaml, dir: split-layers, column: name, "
        "city_column: city}\n  cross_county: true\n",
        encoding="utf-8",
    )
    split = region_mod.run(region_mod.load(region_file), out_dir=tmp_path / "r-split", workers=0)
    (listed_file := listed).write_text(listed.read_text(encoding="utf-8") + "  cross_county: true\n", "utf-8")
    ref = region_mod.run(region_mod.load(listed_file), out_dir=tmp_path / "r-list", workers=0)
    assert [c.name for c in split.counties] == ["a", "b"] and [c.city for c in split.counties] == ["甲市", "乙市"]
    assert split.record["totals"] == ref.record["totals"]
    assert split.record["totals"]["placed_persons"] == 110 and split.record["cross_county"]["persons"] == 50
    cut = gio.read_vector(tmp_path / "split-layers" / "a" / "villages.gpkg")
    assert sorted(cut["village_id"]) == ["A1", "A2"]
    assert sorted(gio.read_vector(tmp_path / "split-layers" / "b" / "candidates.gpkg")["site_id"]) == ["SB"]
    before = (tmp_path / "split-layers" / "a" / "villages.gpkg").stat().st_mtime_ns
    region_mod.run(region_mod.load(region_file), out_dir=tmp_path / "r-split", workers=0, overwrite=True)
    assert (tmp_path / "split-layers" / "a" / "villages.gpkg").stat().st_mtime_ns == before  # a cache


def test_split_by_names_a_missing_column(tmp_path: Path) -> None:
    two_counties(tmp_path / "in")
    p = tmp_path / "bad.yaml"
    p.write_text("region:\n  name: bad\n  split_by: {scenario: in/a/s.yaml, dir: cut, column: 县名}\n", "utf-8")
    with pytest.raises(ScenarioError, match="no column '县名'"):
        region_mod.run(region_mod.load(p), out_dir=tmp_path / "r", workers=0)


# ----------------------------------------------------------------------------- config and tiles
def test_region_config_problems_are_reported_together(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as info:
        from_dict({"region": {"name": "x/y", "countys": [], "cross_county_max_time_min": -1}, "steps": []})
    text = str(info.value)
    assert "did you mean 'counties'" in text and "folder name" in text and "must be greater than 0" in text
    assert "unknown top-level key 'steps'" in text
    with pytest.raises(ScenarioError, match="lists no county"):
        from_dict({"region": {"name": "x"}})
    root = tmp_path / "in"
    write_county(root, "a", 500_000, [("A1", 505_000, 40, 10)], [("SA", 503_000, 45)])
    p = root / "region.yaml"
    p.write_text("region:\n  name: twice\n  counties: [a/s.yaml, a/s.yaml]\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="2 counties are named 'a'"):
        region_mod.run(region_mod.load(p), out_dir=tmp_path / "r", workers=0)
    assert not (tmp_path / "r").exists()
    assert region_mod.is_region_file(p) and not region_mod.is_region_file(root / "a" / "s.yaml")


def test_demo_tiles_are_shifted_renamed_and_deterministic(
    demo_layers: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from geofupin import demo

    paths = demo.ensure_tile(demo_layers, tmp_path / "r1c2", row=1, col=2, county_name="演示己县")
    base_b = gpd.read_file(demo_layers / "boundaries.gpkg")
    county = base_b[base_b["level"] == "county"]
    x0, y0, x1, y1 = county.total_bounds
    tb = gpd.read_file(paths["boundaries"])
    assert tb.loc[tb["level"] == "county", "name"].tolist() == ["演示己县"]
    assert tb.loc[tb["level"] == "county"].total_bounds == pytest.approx(
        [x0 + 2 * (x1 - x0), y0 - (y1 - y0), x1 + 2 * (x1 - x0), y1 - (y1 - y0)]
    )
    bv, tv = gpd.read_file(demo_layers / "villages.gpkg"), gpd.read_file(paths["villages"])
    assert tv["village_id"].tolist() == [f"R1C2-{v}" for v in bv["village_id"]]
    assert (tv.geometry.x - bv.geometry.x).round(6).unique().tolist() == [round(2 * (x1 - x0), 6)]
    assert tv["relocate_persons"].sum() == bv["relocate_persons"].sum()
    import rasterio

    with rasterio.open(demo_layers / "dem.tif") as a, rasterio.open(paths["dem"]) as b:
        assert b.transform.c == pytest.approx(a.transform.c + 2 * (x1 - x0))
        assert b.transform.f == pytest.approx(a.transform.f - (y1 - y0))
        assert (a.read(1) == b.read(1)).all()
    before = {k: p.read_bytes() for k, p in paths.items()}
    again = demo.ensure_tile(demo_layers, tmp_path / "other", row=1, col=2, county_name="演示己县")
    assert {k: p.read_bytes() for k, p in again.items()} == before  # deterministic
    assert "households" not in paths and set(paths) == {*(k for k in before if k != "dem"), "dem"}
    # a tile that is there and current is used as it is: nothing read or written again (every county
    # of a tiled region calls this before it runs)
    stamps = {k: p.stat().st_mtime_ns for k, p in paths.items()}

    def no_write(*a: object, **k: object) -> None:
        raise AssertionError("a current tile was written again")

    monkeypatch.setattr(gio, "write_vector", no_write)
    monkeypatch.setattr(gio, "write_raster", no_write)
    assert demo.ensure_tile(demo_layers, tmp_path / "r1c2", row=1, col=2, county_name="演示己县") == paths
    assert {k: p.stat().st_mtime_ns for k, p in paths.items()} == stamps
    # a file gone, or another county name: written again
    monkeypatch.undo()
    paths["water"].unlink()
    assert demo.ensure_tile(demo_layers, tmp_path / "r1c2", row=1, col=2, county_name="演示己县") == paths
    assert paths["water"].read_bytes() == before["water"]


def test_a_county_link_keeps_its_folder_name_as_text() -> None:
    from urllib.parse import unquote

    href = region_mod.county_href("甲县 #1%&'")
    assert href == "%E7%94%B2%E5%8E%BF%20%231%25%26%27/index.html"
    assert unquote(href) == "甲县 #1%&'/index.html"


def test_region_outputs_county_sets_what_every_county_writes(tmp_path: Path) -> None:
    """``outputs.county`` replaces the counties' own outputs: here xlsx and the plan document on, then both off."""
    extra = "  outputs:\n    county: {tables: [csv, xlsx], document: [docx]}\n"
    reg = region_mod.load(two_counties(tmp_path / "on", extra=extra))
    res = region_mod.run(reg, out_dir=tmp_path / "r-on", workers=0)
    assert all(c.ok for c in res.counties)
    for county in ("a", "b"):
        folder = tmp_path / "r-on" / county
        assert (folder / "tables.xlsx").is_file() and (folder / "plan.docx").is_file()
        assert not (folder / "plan.pdf").exists()
    extra = "  outputs:\n    county: {tables: [csv], document: []}\n"
    reg = region_mod.load(two_counties(tmp_path / "off", extra=extra))
    off = region_mod.run(reg, out_dir=tmp_path / "r-off", workers=0)
    for county in ("a", "b"):
        folder = tmp_path / "r-off" / county
        assert not (folder / "tables.xlsx").exists() and not (folder / "plan.docx").exists()
        assert (folder / "tables" / "assignment.csv").is_file()
    assert off.record["totals"] == res.record["totals"]  # what is written does not change the figures


def test_region_demo_tiles_name_their_own_villages_in_the_placement(demo_layers: Path, tmp_path: Path) -> None:
    """The demo's 周转房 (placement.transitional_housing V001-G1) follows each tile's prefixed village ids."""
    from demo_helpers import scenario_copy

    from geofupin import demo
    from geofupin.config.placement import PlacementConfig, TransitionalHousing

    county = scenario_copy(tmp_path, demo_layers)
    p = tmp_path / "region.yaml"
    p.write_text(
        f"region:\n  name: t\n  tiles: {{scenario: {county.as_posix()}, dir: tiles, rows: 1, cols: 2}}\n",
        encoding="utf-8",
    )
    jobs = region_mod.county_jobs(region_mod.load(p), tmp_path / "jobs")
    got = [j.scenario.placement.transitional_housing[0].village_id for j in jobs]
    assert got == ["R0C0-V001-G1", "R0C1-V001-G1"]
    cfg = PlacementConfig(
        scattered_households={"V002": 2}, transitional_housing=(TransitionalHousing("V003-G1", 2, site_id="Z1"),)
    )
    moved = demo.shift_placement(cfg, "R1C2")
    assert moved.scattered_households == {"R1C2-V002": 2}
    housing = moved.transitional_housing[0]
    assert (housing.village_id, housing.site_id, housing.capacity_households) == ("R1C2-V003-G1", "R1C2-Z1", 2)
    assert cfg.scattered_households == {"V002": 2}  # the county's own section is unchanged
