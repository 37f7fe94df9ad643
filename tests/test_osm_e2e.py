"""Any county end to end: ``import-osm`` -> ``check`` -> ``run`` with no hand edits.

On both real extracts in ../shared/data (© OpenStreetMap contributors, ODbL; skipped when
absent) and on a region written here with osmium (no named places, no amenities, only
tracks), plus small hand-made cases of the registry join and of check/run warning parity.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import yaml
from demo_helpers import invoke

from geofupin.layers import SCHEMAS
from geofupin.osm import OSM_ATTRIBUTION, join_registry

ALIASES = {c.name: c.aliases for c in SCHEMAS["villages"].columns}

EXTRACTS = {
    "andorra": ("andorra/andorra.osm.pbf", "andorra/andorra_srtm3.tif"),
    "bayreuth": ("north-bayreuth/north-bayreuth.osm.pbf", "north-bayreuth/north-bayreuth_srtm3.tif"),
}


def _warnings_count(text: str, pattern: str) -> int:
    m = re.search(pattern, text)
    assert m, text[-2000:]
    return int(m.group(1))


@pytest.fixture(scope="module", params=sorted(EXTRACTS))
def region(request: pytest.FixtureRequest, shared_data: Path, tmp_path_factory: pytest.TempPathFactory):
    pbf, dem = EXTRACTS[request.param]
    out = tmp_path_factory.mktemp(request.param) / "county"
    code, text = invoke("import-osm", str(shared_data / pbf), "--dem", str(shared_data / dem), "--out", str(out))
    assert code == 0, text
    scenario = out / "scenario.yaml"
    code, check_text = invoke("check", str(scenario))
    assert code == 0, check_text
    code, run_text = invoke("run", str(scenario))
    assert code == 0, run_text
    return request.param, out, check_text, run_text


@pytest.mark.shared
def test_import_writes_layers_and_a_scenario_that_check_passes(region) -> None:
    name, out, check_text, _ = region
    assert "0 error(s)" in check_text
    sc = yaml.safe_load((out / "scenario.yaml").read_text(encoding="utf-8"))
    assert sc["access"]["node_intersections"] is False
    assert sc["map"]["attribution"] == OSM_ATTRIBUTION
    assert sc["outputs"]["dir"] == "outputs"  # inside the import folder
    assert not Path(sc["layers"]["dem"]).is_absolute()
    assert (out / sc["layers"]["dem"]).resolve().is_file()
    for kind in ("villages", "roads", "boundaries", "facilities"):
        assert (out / sc["layers"][kind]).is_file()
    v = gpd.read_file(out / "villages.gpkg")
    assert v["name"].notna().all() and (v["name"].astype(str).str.strip() != "").all()
    assert v["estimated"].astype(bool).all() and (v["figures_source"].str.contains("placeholder")).all()
    assert (v["persons"] > 0).all() and (v["persons"] >= v["households"]).all()
    assert (v["relocate_persons"] > 0).sum() > 10  # hamlets and isolated dwellings
    b = gpd.read_file(out / "boundaries.gpkg")
    county = b[b["level"] == "county"]
    assert len(county) == 1 and b["name"].notna().all()
    f = gpd.read_file(out / "facilities.gpkg")
    area = county.geometry.iloc[0]
    assert shapely.contains(area, np.asarray(v.geometry.values)).all()  # every place inside the study area
    assert shapely.contains(area, np.asarray(f.geometry.values)).all()
    if name == "andorra":
        seat = f[f["kind"] == "county_seat"]
        assert seat["name"].tolist() == ["Andorra la Vella"]  # capital / admin centre of the country relation
        c = gpd.read_file(out / "constraints.gpkg")
        assert {"ecological_redline", "flood_zone"} <= set(c["kind"])
        assert "place=locality" not in set(v.get("place", pd.Series(dtype=str)))
        assert not v["place"].eq("locality").any()


@pytest.mark.shared
def test_run_gives_every_village_network_times_to_grid_sites(region) -> None:
    _, out, _, run_text = region
    res = out / "outputs"
    record = json.loads((res / "run.json").read_text(encoding="utf-8"))
    site = record["summary"]["site"]
    assert site["generated"] and site["network_times"] == "grid_network"
    assert site["od_pairs_within_cutoff"] > 0
    od = pd.read_csv(res / "tables" / "od_village_site.csv", dtype={"village_id": str, "site_id": str})
    va = gpd.read_file(res / "results.gpkg", layer="village_access")
    moving = pd.to_numeric(va["relocate_persons"], errors="coerce").fillna(0) > 0
    on_road = set(va.loc[va["reachable"].astype(bool) & moving, "village_id"].astype(str))
    # every relocating village on the network has network times (the written OD keeps relocating villages only)
    assert on_road and on_road <= set(od["village_id"])
    assert od["site_id"].str.startswith("G").all()
    # the allocation used network times, not straight lines
    assert "straight-line" not in " ".join(record["warnings"]).lower().replace("straight-line distance x", "")
    a = pd.read_csv(res / "tables" / "assignment.csv", dtype={"village_id": str, "site_id": str})
    assert len(a) > 0
    pair = a.merge(od, on=["village_id", "site_id"], suffixes=("", "_od"))
    assert len(pair) == len(a)  # every assignment is an OD pair of the network
    np.testing.assert_allclose(pair["time_min"], pair["time_min_od"], rtol=1e-9)
    sa = gpd.read_file(res / "results.gpkg", layer="site_access")
    assert sa["site_id"].str.startswith("G").all() and sa["time_min_town"].notna().any()
    assert int(record["summary"]["allocate"]["served_persons"]) > 0
    # weights renormalised and recorded; policy named on every budget table
    assert sum(site["weights"].values()) == pytest.approx(1.0)
    weights = pd.read_csv(res / "tables" / "site_weights.csv")
    assert set(weights["criterion"]) >= set(site["weights"])
    for t in ("budget_county", "budget_township", "budget_village"):
        bt = pd.read_csv(res / "tables" / f"{t}.csv")
        assert bt["policy"].str.contains("built-in seed-county policy").all()
    assert "built-in seed-county policy" in record["summary"]["plan"]["policy_source"]
    assert record["summary"]["plan"]["policy_file"] is None
    assert record["scenario_resolved"]["map"]["attribution"] == OSM_ATTRIBUTION
    page = (res / "index.html").read_text(encoding="utf-8")  # the map's notes: the ODbL credit and the policy
    assert OSM_ATTRIBUTION in page and "补助政策 Policy: 内置示范政策" in page
    # the key figures, in Chinese and English, at the end of the run
    assert "主要结果 key figures:" in run_text and "placed" in run_text and "万元" in run_text
    budget = float(re.search(r"补助预算 ([\d,.]+) 万元", run_text).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert budget == pytest.approx(record["summary"]["plan"]["budget_total_yuan"] / 1e4, abs=0.01)
    slow = float(re.search(r"slowest access ([\d.]+) min", run_text).group(1))  # type: ignore[union-attr]
    assert slow == pytest.approx(a["time_min"].max(), abs=0.05)
    fig = record["key_figures"]  # the same figures, in run.json
    assert fig["placed_persons"] == int(a["persons"].sum()) and fig["slowest_min"] == pytest.approx(slow)
    assert fig["sites_used"] == a["site_id"].nunique() and fig["sites_passed"] == site["passed"]


@pytest.mark.shared
def test_check_reports_what_run_warns_once_each(region) -> None:
    _, out, check_text, run_text = region
    n_check = _warnings_count(check_text, r"0 error\(s\), (\d+) warning\(s\)")
    n_run = _warnings_count(run_text, r"警告 (\d+) 条")
    assert n_check == n_run
    printed = [ln for ln in run_text.splitlines() if ln.startswith("警告 warning: ")]
    assert len(printed) == n_run and len(set(printed)) == len(printed)  # each once
    assert "times layer" not in run_text and "times layer" not in check_text
    record = json.loads((out / "outputs" / "run.json").read_text(encoding="utf-8"))
    assert len(record["warnings"]) == n_run


# --- a region built here: no named places, no amenities, only tracks --------------------


def _write_bare_region(path: Path) -> None:
    """A 3 x 3 km lattice of tracks near 108.5 E, 36.9 N with four unnamed hamlets beside it."""
    osmium = pytest.importorskip("osmium")

    lon0, lat0, step = 108.50, 36.90, 0.005  # about 450 m x 555 m
    with osmium.SimpleWriter(str(path)) as w:
        nid = 1
        ids: dict[tuple[int, int], int] = {}
        for i in range(7):
            for j in range(7):
                w.add_node(osmium.osm.mutable.Node(id=nid, location=(lon0 + i * step, lat0 + j * step), tags={}))
                ids[(i, j)] = nid
                nid += 1
        places = [(0.3, 0.3), (5.6, 1.2), (2.4, 5.7), (4.2, 3.9)]
        for k, (x, y) in enumerate(places):
            w.add_node(
                osmium.osm.mutable.Node(
                    id=1000 + k,
                    location=(lon0 + x * step, lat0 + y * step),
                    tags={"place": "hamlet"},
                )
            )
        wid = 1
        for i in range(7):
            w.add_way(osmium.osm.mutable.Way(id=wid, nodes=[ids[(i, j)] for j in range(7)], tags={"highway": "track"}))
            wid += 1
            w.add_way(osmium.osm.mutable.Way(id=wid, nodes=[ids[(j, i)] for j in range(7)], tags={"highway": "track"}))
            wid += 1


def test_a_bare_region_degrades_but_runs(tmp_path: Path) -> None:
    pbf = tmp_path / "bare.osm"
    _write_bare_region(pbf)
    out = tmp_path / "bare"
    code, text = invoke("import-osm", str(pbf), "--out", str(out))
    assert code == 0, text
    assert "no protected areas, wetlands or hazards" in text
    layers = {p.stem for p in out.glob("*.gpkg")}
    assert layers == {"villages", "roads", "boundaries"}  # nothing else in the file: nothing else written
    v = gpd.read_file(out / "villages.gpkg")
    assert v["name"].str.startswith("未命名自然村 n100").all()
    assert v["persons"].tolist() == [60] * 4 and v["households"].tolist() == [20] * 4
    scenario = out / "scenario.yaml"
    code, check_text = invoke("check", str(scenario))
    assert code == 0, check_text
    code, run_text = invoke("run", str(scenario))
    assert code == 0, run_text
    assert _warnings_count(check_text, r"0 error\(s\), (\d+) warning\(s\)") == _warnings_count(
        run_text, r"警告 (\d+) 条"
    )
    record = json.loads((out / "outputs" / "run.json").read_text(encoding="utf-8"))
    site = record["summary"]["site"]
    # only buildable area and road distance can be measured here; the others are dropped and recorded
    assert set(site["weights"]) == {"dist_road_m", "buildable_area_m2"}
    assert site["weights"]["dist_road_m"] == pytest.approx(0.15 / 0.25)
    assert site["weights"]["buildable_area_m2"] == pytest.approx(0.10 / 0.25)
    assert "dist_water_m" in site["criteria_dropped"] and "time_min_town" in site["criteria_dropped"]
    dropped = [w for w in record["warnings"] if "dropped for missing data" in w]
    assert len(dropped) == 1


# --- the registry join -------------------------------------------------------------------


def _villages() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "village_id": ["n1", "n2", "n3", "n4"],
            "name": ["张家村", "Li Wan", "王庄", "王庄"],
            "township": ["", "", "", ""],
            "households": [100, 20, 30, 30],
            "persons": [300, 60, 90, 90],
            "poor_households": [0, 20, 0, 0],
            "poor_persons": [0, 60, 0, 0],
            "relocate_households": [0, 20, 0, 0],
            "relocate_persons": [0, 60, 0, 0],
            "estimated": True,
            "figures_source": "placeholder",
            "figures_note": "x",
        },
        geometry=[shapely.Point(i, 0) for i in range(4)],
        crs=32649,
    )


def test_registry_joins_by_name_and_code_with_chinese_headers() -> None:
    reg = pd.DataFrame(
        {
            "村名": ["张家", "li  wan", "王庄", "赵家沟"],
            "村编码": [None, None, None, None],
            "户数": ["50", "12", "8", "3"],
            "人数": ["1,210", "40", "30", "9"],
            "搬迁户数": ["5", "12", "0", "3"],
            "搬迁人数": ["21", "40", "0", "9"],
            "乡镇": ["城关镇", "城关镇", "", ""],
        }
    )
    res = join_registry(_villages(), reg, aliases=ALIASES, source="t.csv")
    v = res.villages.set_index("village_id")
    assert res.matched == 2
    assert v.loc["n1", ["households", "persons", "relocate_persons"]].tolist() == [50, 1210, 21]  # 张家 = 张家村
    assert v.loc["n2", ["households", "persons", "relocate_households"]].tolist() == [12, 40, 12]
    assert v.loc["n1", "poor_persons"] == 0  # the registry has no poor columns: 0, with a warning
    assert v.loc["n1", "township"] == "城关镇"
    assert not v.loc["n1", "estimated"] and v.loc["n1", "figures_source"] == "registry"
    assert v.loc["n3", "estimated"] and v.loc["n3", "persons"] == 90  # 王庄 is ambiguous: not matched
    assert res.unmatched["村名"].tolist() == ["王庄", "赵家沟"]
    assert "matches 2 villages" in res.unmatched["reason"].iloc[0]
    text = " ".join(res.warnings)
    assert "2 registry row(s) matched no village" in text and "poor_households" in text
    assert "2 village(s) are not in the registry" in text
    by_code = join_registry(
        _villages(), pd.DataFrame({"village_id": ["n4"], "households": [7], "persons": [21]}), aliases=ALIASES
    )
    assert by_code.villages.set_index("village_id").loc["n4", "persons"] == 21 and by_code.matched == 1


def test_registry_without_usable_columns_is_a_clear_error() -> None:
    from geofupin.errors import DataError

    with pytest.raises(DataError, match="no village name or code column"):
        join_registry(_villages(), pd.DataFrame({"x": [1]}), aliases=ALIASES)
    with pytest.raises(DataError, match="not a number in row"):
        join_registry(_villages(), pd.DataFrame({"name": ["张家村"], "persons": ["many"]}), aliases=ALIASES)


def test_import_with_registry_xlsx(tmp_path: Path) -> None:
    pbf = tmp_path / "bare.osm"
    _write_bare_region(pbf)
    reg = tmp_path / "registry.xlsx"
    pd.DataFrame(
        {
            "village_code": ["n1000", "n9999"],
            "households": [10, 1],
            "persons": [33, 2],
            "relocate_households": [10, 1],
            "relocate_persons": [33, 2],
        }
    ).rename(columns={"village_code": "村编码"}).to_excel(reg, index=False)
    out = tmp_path / "county"
    code, text = invoke("import-osm", str(pbf), "--registry", str(reg), "--out", str(out))
    assert code == 0, text
    v = gpd.read_file(out / "villages.gpkg").set_index("village_id")
    assert v.loc["n1000", "persons"] == 33 and not v.loc["n1000", "estimated"]
    assert v.loc["n1001", "estimated"]
    un = pd.read_csv(out / "registry_unmatched.csv", dtype=str)
    assert un["村编码"].tolist() == ["n9999"]
    assert "1 registry row(s) matched no village" in text


# --- check / run parity on a tiny hand-made county ----------------------------------------


def test_check_and_run_show_the_same_warnings_once_each(tmp_path: Path) -> None:
    crs = 32649
    v = gpd.GeoDataFrame(
        {
            "village_id": ["v1", "v2"],
            "name": ["甲村", "乙村"],
            "households": [10, 5],
            "persons": [40, 20],
            "relocate_households": [10, 5],
            "relocate_persons": [40, 20],
        },
        geometry=[shapely.Point(500100, 4000050), shapely.Point(503000, 4003050)],
        crs=crs,
    )
    # two disconnected roads: the network warns (and logs) about its parts
    r = gpd.GeoDataFrame(
        {"road_id": ["r1", "r2"], "road_class": ["county", "village"]},
        geometry=[
            shapely.LineString([(500000, 4000000), (502000, 4000000)]),
            shapely.LineString([(503000, 4003000), (503500, 4003000)]),
        ],
        crs=crs,
    )
    v.to_file(tmp_path / "villages.gpkg")
    r.to_file(tmp_path / "roads.gpkg")
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(
        "name: tiny\nlayers: {villages: villages.gpkg, roads: roads.gpkg}\noutputs: {dir: out, tables: [csv]}\n"
        "steps: [access, site, allocate, plan]\nsiting: {criteria: [{name: dist_road_m, weight: 0.5}]}\n",
        encoding="utf-8",
    )
    code, check_text = invoke("check", str(scenario))
    assert code == 0, check_text
    code, run_text = invoke("run", str(scenario))
    assert code == 0, run_text
    n = _warnings_count(check_text, r"0 error\(s\), (\d+) warning\(s\)")
    assert n == _warnings_count(run_text, r"警告 (\d+) 条") and n > 5
    printed = [ln for ln in run_text.splitlines() if ln.startswith("警告 warning: ")]
    assert len(printed) == n and len(set(printed)) == n
    assert run_text.count("disconnected parts") == 1 and check_text.count("disconnected parts") == 1
    assert "weights sum to 1.35" in run_text and "weights sum to 1.35" in check_text  # merged: 0.5 + 0.85
    assert "times layer" not in run_text
    record = json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))
    assert len(record["warnings"]) == n


def _write_tagged_region(path: Path) -> None:
    """The bare region plus one object per constraint tag (closed ways for areas)."""
    osmium = pytest.importorskip("osmium")
    base = path.with_name("base.osm")
    _write_bare_region(base)
    squares = {  # way id -> (tags, lower-left lon/lat)
        901: ({"natural": "wetland"}, (108.505, 36.905)),
        902: ({"boundary": "protected_area", "protect_class": "2", "name": "自然保护区"}, (108.515, 36.905)),
        903: ({"boundary": "protected_area", "protect_class": "24"}, (108.505, 36.915)),  # cultural: not nature
        904: ({"leisure": "nature_reserve"}, (108.515, 36.915)),
        905: ({"landuse": "farmland"}, (108.525, 36.905)),
        906: ({"flood_prone": "yes"}, (108.525, 36.915)),
    }
    with osmium.SimpleWriter(str(path)) as w:
        for o in osmium.FileProcessor(str(base), osmium.osm.NODE):
            w.add_node(o)
        w.add_node(osmium.osm.mutable.Node(id=5000, location=(108.512, 36.912), tags={"hazard": "landslide"}))
        nid = 7000
        for x, y in (ll for _, ll in squares.values()):
            for dx, dy in ((0, 0), (0.002, 0), (0.002, 0.002), (0, 0.002)):
                w.add_node(osmium.osm.mutable.Node(id=nid, location=(x + dx, y + dy), tags={}))
                nid += 1
        for o in osmium.FileProcessor(str(base), osmium.osm.WAY):
            w.add_way(o)
        for k, (wid, (tags, _)) in enumerate(squares.items()):
            first = 7000 + 4 * k
            w.add_way(osmium.osm.mutable.Way(id=wid, nodes=[first, first + 1, first + 2, first + 3, first], tags=tags))


def test_constraints_from_osm_tags(tmp_path: Path) -> None:
    from geofupin.osm import import_osm

    pbf = tmp_path / "tagged.osm"
    _write_tagged_region(pbf)
    c = import_osm(pbf)["constraints"].set_index("constraint_id")
    assert c["kind"].to_dict() == {
        "n5000": "hazard_point",
        "w901": "flood_zone",
        "w902": "ecological_redline",
        "w904": "ecological_redline",
        "w906": "flood_zone",
    }  # the cultural protected area (class 24) and the farmland are not constraints by default
    assert c.loc["w901", "osm_tag"] == "natural=wetland" and c.loc["w902", "name"] == "自然保护区"
    strict = import_osm(pbf, farmland_as_basic_farmland=True)["constraints"].set_index("constraint_id")
    assert strict.loc["w905", "kind"] == "basic_farmland"
    out = tmp_path / "county"
    code, text = invoke("import-osm", str(pbf), "--out", str(out))
    assert code == 0, text
    code, text = invoke("check", str(out / "scenario.yaml"))
    assert code == 0, text  # points and polygons in one constraints layer pass check


def test_gbk_registry_needs_its_encoding(tmp_path: Path) -> None:
    pbf = tmp_path / "bare.osm"
    _write_bare_region(pbf)
    reg = tmp_path / "台账.csv"
    reg.write_bytes("村编码,户数,人数\nn1001,4,13\n".encode("gbk"))
    code, text = invoke("import-osm", str(pbf), "--registry", str(reg), "--out", str(tmp_path / "a"))
    assert code == 1 and "is not UTF-8 text" in text and "--registry-encoding GBK" in text
    assert not (tmp_path / "a").exists()  # nothing half-written
    code, text = invoke(
        "import-osm", str(pbf), "--registry", str(reg), "--registry-encoding", "GBK", "--out", str(tmp_path / "b")
    )
    assert code == 0, text
    v = gpd.read_file(tmp_path / "b" / "villages.gpkg").set_index("village_id")
    assert v.loc["n1001", ["households", "persons"]].tolist() == [4, 13]
