"""The geofupin command end to end on the demo county: outputs written, then opened and read back."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from demo_helpers import invoke, scenario_copy, sha
from openpyxl import load_workbook
from seed_figures import SEED_TABLE

from geofupin import __version__
from geofupin.report import sheet_title

pytestmark = pytest.mark.slow


def test_run_writes_every_output(demo_run: tuple[Path, Path]) -> None:
    _, out = demo_run
    for name in ("index.html", "results.gpkg", "run.json", "tables.xlsx", "map_A3.png", "map_A3.pdf"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    csvs = sorted(p.stem for p in (out / "tables").glob("*.csv"))
    assert {"site_ranking", "assignment", "site_load", "coverage", "budget_county", "township_table"} <= set(csvs)
    assert sorted(p.name for p in out.parent.iterdir()) == ["demo"]  # no temp folders left behind


def test_results_gpkg_reads_back_with_expected_layers_and_counts(
    demo_run: tuple[Path, Path], demo_layers: Path
) -> None:
    _, out = demo_run
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    names = {str(n) for n, _ in pyogrio.list_layers(out / "results.gpkg")}
    expected = {f"input_{k}" for k in ("villages", "roads", "facilities", "candidates", "boundaries")}
    expected |= {f"input_water_{g}" for g in ("points", "lines", "areas")}  # mixed layers: one per geometry type
    expected |= {"input_power_points", "input_power_lines", "input_constraints_points", "input_constraints_areas"}
    expected |= {"village_access", "site_access", "isochrones", "sites", "allocation_flows", "planned_roads"}
    assert expected <= names and "layer_styles" in names
    names.discard("layer_styles")  # QGIS's style table, not a layer
    assert set(record["layers"]) == names
    for name in names:  # run.json's counts are the file's counts
        assert pyogrio.read_info(out / "results.gpkg", layer=name)["features"] == record["layers"][name], name
    villages = gpd.read_file(demo_layers / "villages.gpkg")
    candidates = gpd.read_file(demo_layers / "candidates.gpkg")
    assert record["layers"]["input_villages"] == len(villages)
    assert record["layers"]["village_access"] == len(villages)
    assert record["layers"]["sites"] == len(candidates)
    sites = gpd.read_file(out / "results.gpkg", layer="sites")
    assert sites.crs.to_epsg() == 4545
    assert set(sites["site_id"]) == set(candidates["site_id"])
    failed = sites[~sites["passed"].astype(bool)]
    assert (
        len(failed) >= 1 and failed["reasons_zh"].str.len().gt(0).all() and failed["reasons_en"].str.len().gt(0).all()
    )


def test_run_json_records_hashes_versions_and_timings(demo_run: tuple[Path, Path], demo_layers: Path) -> None:
    scenario, out = demo_run
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert record["geofupin"] == __version__ and record["scenario"] == "demo"
    assert record["crs"] == "EPSG:4545"
    assert record["inputs_sha256"]["scenario"] == sha(scenario)
    assert record["inputs_sha256"]["villages"] == sha(demo_layers / "villages.gpkg")
    assert record["inputs_sha256"]["dem"] == sha(demo_layers / "dem.tif")
    assert {"geopandas", "shapely", "pyproj", "scipy", "gdal"} <= set(record["versions"])
    assert {"load", "access", "site", "allocate", "plan", "map"} <= set(record["timings_s"])
    assert record["steps"] == ["access", "site", "allocate", "plan", "phase", "roster", "map"]
    assert record["scenario_resolved"]["name"] == "demo"
    assert record["outputs_sha256"]["results.gpkg"] == sha(out / "results.gpkg")


def test_seed_totals_per_township_reach_the_tables(demo_run: tuple[Path, Path]) -> None:
    _, out = demo_run
    villages = gpd.read_file(out / "results.gpkg", layer="input_villages")
    per = villages.groupby("township")[["relocate_households", "relocate_persons"]].sum()
    assert {
        t: (int(r.relocate_households), int(r.relocate_persons)) for t, r in per.iterrows() if r.relocate_persons > 0
    } == SEED_TABLE
    budget = pd.read_csv(out / "tables" / "budget_county.csv", encoding="utf-8-sig")
    assert len(budget) > 0
    wb = load_workbook(out / "tables.xlsx", read_only=True)
    assert sheet_title("township_table") == "搬迁任务表" and "搬迁任务表" in wb.sheetnames  # sheets named in Chinese


def test_existing_output_needs_overwrite(demo_run: tuple[Path, Path]) -> None:
    scenario, out = demo_run
    before = sha(out / "run.json")
    code, text = invoke("-q", "run", str(scenario))
    assert code == 1 and "--overwrite" in text
    assert sha(out / "run.json") == before


def test_check_reports_a_clean_demo(demo_run: tuple[Path, Path]) -> None:
    scenario, _ = demo_run
    code, text = invoke("check", str(scenario))
    assert code == 0, text
    assert "EPSG:4545" in text and "0 error(s)" in text


def test_check_lists_every_problem_of_a_broken_copy(demo_layers: Path, tmp_path: Path) -> None:
    broken = tmp_path / "layers"
    shutil.copytree(demo_layers, broken)
    v = gpd.read_file(broken / "villages.gpkg")
    v.loc[0, "households"] = -5
    v.loc[1, "village_id"] = v.loc[2, "village_id"]
    v.loc[3, "persons"] = int(v.loc[3, "households"]) - 1
    v.loc[4, "geometry"] = v.geometry.iloc[4].buffer(100)  # a polygon in a point layer
    v = v.rename(columns={"name": "village_name_typo"})
    v.to_file(broken / "villages.gpkg", layer="villages")
    f = gpd.read_file(broken / "facilities.gpkg")
    f.loc[0, "kind"] = "schoool"
    f.to_file(broken / "facilities.gpkg", layer="facilities")
    scenario = scenario_copy(tmp_path, broken, extra="unknown_section: 1\n")
    code, text = invoke("check", str(scenario))
    assert code == 1
    assert "unknown key 'unknown_section'" in text
    scenario = scenario_copy(tmp_path, broken)
    code, text = invoke("check", str(scenario))
    assert code == 1
    dup = str(v.loc[2, "village_id"])
    for fragment in (
        f"[id {v.loc[0, 'village_id']}]: negative households (-5)",
        f"duplicate village_id: {dup}",
        f"[id {v.loc[3, 'village_id']}]: persons < households",
        f"[id {v.loc[4, 'village_id']}]: 1 feature(s) have geometry type Polygon",
        "missing column 'name'",
        "'schoool' not allowed (did you mean 'school'?)",
    ):
        assert fragment in text, fragment
    assert "error(s)" in text


def test_map_shows_a_hostile_village_name_as_text(demo_layers: Path, tmp_path: Path) -> None:
    layers = tmp_path / "layers"
    shutil.copytree(demo_layers, layers)
    v = gpd.read_file(layers / "villages.gpkg")
    v.loc[0, "name"] = "<script>alert(1)</script>"
    v.loc[1, "name"] = "<img src=x onerror=alert(1)>"
    v.to_file(layers / "villages.gpkg", layer="villages")
    scenario = scenario_copy(tmp_path, layers, extra="steps: [map]\n")
    code, text = invoke("-q", "run", str(scenario))
    assert code == 0, text
    html = (tmp_path / "maps" / "demo" / "index.html").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in html
    assert "<img src=x onerror=alert(1)>" not in html
    # the names are in the page, escaped inside the embedded data
    assert "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in html or "&lt;script&gt;alert(1)" in html


def test_xlsx_has_chinese_then_english_headers(demo_run: tuple[Path, Path]) -> None:
    _, out = demo_run
    ws = load_workbook(out / "tables.xlsx", read_only=True)[sheet_title("site_load")]
    zh, en = (list(r) for r in ws.iter_rows(min_row=1, max_row=2, values_only=True))
    site_load = pd.read_csv(out / "tables" / "site_load.csv", encoding="utf-8-sig")
    assert len(zh) == len(en) == len(site_load.columns)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in "".join(map(str, zh)))  # Chinese header row
    assert ws.max_row == len(site_load) + 2


def test_map_command_publishes_only_maps(demo_layers: Path, tmp_path: Path) -> None:
    scenario = scenario_copy(tmp_path, demo_layers, extra="steps: [access, site, map]\n")
    code, text = invoke("-q", "map", str(scenario), "--public", "--static", "png", "--paper", "A4")
    assert code == 0, text
    out = tmp_path / "maps" / "demo-public"
    assert sorted(p.name for p in out.iterdir()) == [".geofupin", "index.html", "map_A4.png", "run.json"]
    import matplotlib.image as mpimg

    img = mpimg.imread(out / "map_A4.png")
    assert img.shape[1] > img.shape[0] > 1000  # A4 landscape
    assert img[..., :3].std() > 0.05  # not blank
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert record["scenario_resolved"]["map"]["public"] is True


def test_compare_command_lists_what_differs(demo_layers: Path, tmp_path: Path) -> None:
    a = scenario_copy(tmp_path / "a", demo_layers, extra="steps: [access, site]\n")
    b = scenario_copy(tmp_path / "b", demo_layers, extra="steps: [access, site]\nsiting: {method: topsis}\n")
    out = tmp_path / "cmp"
    code, text = invoke("-q", "compare", str(a), str(b), "--out", str(out))
    assert code == 0, text
    table = pd.read_csv(out / "compare.csv", encoding="utf-8-sig")
    assert {"metric_zh", "metric_en", "difference"} <= set(table.columns)
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "sync" in html.lower() and "方案差异" in html


@pytest.mark.shared
def test_import_osm_writes_layers_that_validate(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "andorra"
    code, text = invoke("import-osm", str(shared_data / "andorra" / "andorra.osm.pbf"), "--out", str(out))
    assert code == 0, text
    assert "OpenStreetMap contributors" in text
    roads = gpd.read_file(out / "roads.gpkg")
    assert roads.crs.to_epsg() == 32631 and len(roads) > 1000
    from geofupin.errors import Problems
    from geofupin.layers import validate_layer

    problems = Problems()
    assert validate_layer(roads, "roads", problems) is not None, [str(p) for p in problems]
    assert set(roads["road_class"]) <= {"national", "provincial", "county", "township", "village", "track", "path"}


@pytest.mark.shared
def test_import_osm_names_boundaries_it_could_not_build(shared_data: Path, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from geofupin.io import read_osm

    with caplog.at_level(logging.WARNING, logger="geofupin.osm"):
        layers = read_osm(shared_data / "andorra" / "andorra.osm.pbf")
    # SOURCES.md: 6 parish polygons, Canillo missing (its border ways are cut by the extract); plus the study area
    assert (layers["boundaries"]["level"] == "township").sum() == 6
    (msg,) = [r.getMessage() for r in caplog.records if "could not be assembled" in r.getMessage()]
    assert "Canillo" in msg
