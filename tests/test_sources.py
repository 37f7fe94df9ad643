"""Several sources per layer kind, 三调 land classes, File Geodatabases, headerless CSVs and input hashing.

The end-to-end test builds a county's 三调 / 三区三线 deliveries from the demo county: a DLTB
(地类图斑) Shapefile in GBK with DLBM/DLMC, a File Geodatabase holding YJJBNTTB (永久基本农田) and
STBHHX (生态保护红线), and the demo's own hazard and flood constraints filtered with ``where:``;
then runs ``geofupin check`` and ``geofupin run`` on them and reads the results back.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
import yaml
from demo_helpers import invoke, scenario_copy, sha

from geofupin import io as gio
from geofupin import landuse
from geofupin import scenario as scenario_mod
from geofupin.errors import LayerError, Problems, ScenarioError
from geofupin.layers import SourceFrame, kind_from_values, prepare_layers
from geofupin.scenario import KindFrom

CRS = "EPSG:4545"


# --------------------------------------------------------------------------- the land-use table
def test_landuse_table_has_every_gbt21010_class() -> None:
    assert len(landuse.GBT21010_LEVEL1) == 12
    # GB/T 21010-2017 has 73 second-level classes: 3+4+7+4+7+4+2+10+6+9+10+7
    per_level1 = pd.Series([c[:2] for c in landuse.GBT21010_LEVEL2]).value_counts().sort_index()
    assert per_level1.tolist() == [3, 4, 7, 4, 7, 4, 2, 10, 6, 9, 10, 7]
    assert all(code[:2] in landuse.GBT21010_LEVEL1 for code in landuse.GBT21010_LEVEL2)
    assert landuse.GBT21010_LEVEL2["0103"] == "旱地" and landuse.GBT21010_LEVEL1["12"] == "其他土地"
    assert set(landuse.WETLAND_CODES) <= set(landuse.GBT21010_LEVEL2)
    codes = [c.code for c in landuse.classes()]
    assert len(codes) == len(set(codes)) == 12 + 73 + len(landuse.SANDIAO_WORK_CODES)


@pytest.mark.parametrize(
    ("value", "code", "name", "level1_name", "kind"),
    [
        ("0103", "0103", "旱地", "耕地", "basic_farmland"),
        ("旱地", "0103", "旱地", "耕地", "basic_farmland"),
        (" 水田 ", "0101", "水田", "耕地", "basic_farmland"),
        ("01", "01", "耕地", "耕地", "basic_farmland"),
        ("102", "0102", "水浇地", "耕地", "basic_farmland"),  # a .dbf number field lost the leading zero
        ("0301", "0301", "乔木林地", "林地", None),
        ("0303", "0303", "红树林地", "林地", None),
        ("05H1", "05H1", "商业服务业设施用地", "商服用地", None),
        ("0810a", "0810A", "广场用地", "公共管理与公共服务用地", None),
        ("种植园用地", "02", "园地", "园地", None),
        ("1207", "1207", "裸岩石砾地", "其他土地", None),
    ],
)
def test_lookup_by_code_or_name(value: str, code: str, name: str, level1_name: str, kind: str | None) -> None:
    found = landuse.lookup(value)
    assert found is not None
    assert (found.code, found.name, found.level1_name, found.constraint_kind) == (code, name, level1_name, kind)
    assert landuse.constraint_kind(value) == kind


def test_adjustable_k_codes_and_unknown_values() -> None:
    k = landuse.lookup("0201K")
    assert k is not None and (k.code, k.name, k.adjustable, k.source) == ("0201", "果园", True, "三调工作分类")
    assert landuse.lookup("0103K") is not None and landuse.constraint_kind("0103K") is None  # not 耕地 today
    named = landuse.lookup("可调整果园")
    assert named is not None and (named.code, named.adjustable) == ("0201", True)
    for bad in ("", None, "9999", "耕田", "0113", "K"):
        assert landuse.lookup(bad) is None
    aliases = landuse.constraint_kind_aliases()
    assert {aliases[v] for v in ("0101", "0102", "0103", "01", "水田", "水浇地", "旱地", "耕地")} == {"basic_farmland"}
    assert "0301" not in aliases and "乔木林地" not in aliases


def test_kind_from_exact_prefix_and_table() -> None:
    values = pd.Series(["0101", "0102", "0103", "0301", "0305", "旱地", None, "1203", " 0404 "])
    by_prefix = KindFrom(column="DLBM", map={"01": "basic_farmland", "0305": "hazard_zone", "03": "flood_zone"})
    assert kind_from_values(values, by_prefix).tolist() == [
        "basic_farmland",
        "basic_farmland",
        "basic_farmland",
        "flood_zone",
        "hazard_zone",  # the longest matching key wins
        None,
        None,
        None,
        None,
    ]
    table = KindFrom(column="DLBM", table="gbt21010", map={"0404": "ecological_redline"})
    assert kind_from_values(values, table).tolist() == [
        *["basic_farmland"] * 3,
        None,
        None,
        "basic_farmland",  # a DLMC name through the table
        None,
        None,
        "ecological_redline",  # map entries before the table; spaces ignored
    ]


# --------------------------------------------------------------------------- scenario schema
def _scenario(tmp_path: Path, layers: dict[str, object]) -> scenario_mod.Scenario:
    return scenario_mod.from_dict({"name": "t", "layers": layers}, base_dir=tmp_path)


def test_layer_kind_takes_a_path_a_mapping_or_a_list(tmp_path: Path) -> None:
    sc = _scenario(
        tmp_path,
        {
            "villages": "v.gpkg",
            "constraints": [
                {"path": "DLTB.shp", "encoding": "GBK", "kind_from": {"column": "DLBM", "table": "gbt21010"}},
                {"path": "county.gdb", "layer": "YJJBNTTB", "kind": "永久基本农田"},
                {"path": "county.gdb", "layer": "STBHHX", "kind": "ecological_redline", "where": "HXLX = '红线'"},
                "hazards.gpkg",
            ],
        },
    )
    srcs = sc.layers.all_sources()
    assert [s.display_label for s in srcs["constraints"]] == ["DLTB", "YJJBNTTB", "STBHHX", "hazards"]
    assert srcs["constraints"][2].where == "HXLX = '红线'" and srcs["constraints"][0].encoding == "GBK"
    assert sc.layers.sources()["villages"].path == tmp_path / "v.gpkg"
    assert len(srcs["villages"]) == 1


@pytest.mark.parametrize(
    ("source", "where", "text"),
    [
        ({"path": "a.gpkg", "kind": "旱田"}, "layers.constraints[0].kind", "'旱田' is not a constraints kind"),
        (
            {"path": "a.gpkg", "kind_from": {"column": "DLBM", "map": {101: "basic_farmland"}}},
            "layers.constraints[0].kind_from.map.101",
            "YAML drops leading zeros",
        ),
        ({"path": "a.gpkg", "kind_from": {"column": "DLBM"}}, "layers.constraints[0].kind_from", "neither 'map:'"),
        (
            {"path": "a.gpkg", "kind_from": {"column": "DLBM", "map": {"0101": "farmland"}}},
            "layers.constraints[0].kind_from.map.0101",
            "not a constraints kind",
        ),
        ({"path": "a.gpkg", "kind": "basic_farmland", "kind_from": {"column": "x", "table": "gbt21010"}}, "", "both"),
        ({"path": "a.csv", "header": False}, "layers.constraints[0].header", "needs the column names"),
        ({"path": "a.csv", "names": ["a", "a"]}, "layers.constraints[0].names", "given twice: a"),
        ({"path": "a.gpkg", "where": "1=1; DROP TABLE x"}, "layers.constraints[0].where", "only one expression"),
        ({"path": "a.gpkg", "where": "a = 1 -- c"}, "layers.constraints[0].where", "only one expression"),
        ({"path": "a.gpkg", "where": "  "}, "layers.constraints[0].where", "the filter is empty"),
    ],
)
def test_bad_sources_are_scenario_errors(tmp_path: Path, source: dict[str, object], where: str, text: str) -> None:
    with pytest.raises(ScenarioError) as exc:
        _scenario(tmp_path, {"villages": "v.gpkg", "constraints": [source]})
    assert any(text in p.message and p.where.startswith(where) for p in exc.value.problems), exc.value


def test_kind_on_a_layer_without_kinds_and_an_empty_list(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as exc:
        _scenario(tmp_path, {"villages": {"path": "v.gpkg", "kind": "x"}, "roads": []})
    msgs = {p.where: p.message for p in exc.value.problems}
    assert "villages have no 'kind' column" in msgs["layers.villages.kind"]
    assert "empty" in msgs["layers.roads"]


def test_a_semicolon_inside_quotes_is_text(tmp_path: Path) -> None:
    sc = _scenario(tmp_path, {"villages": "v.gpkg", "constraints": {"path": "a.gpkg", "where": "name = 'a;b'"}})
    assert sc.layers.sources()["constraints"].where == "name = 'a;b'"


# --------------------------------------------------------------------------- reading
def _polys(n: int, x0: float = 600_000.0, y0: float = 4_090_000.0) -> list[shapely.Polygon]:
    return [shapely.box(x0 + 100 * i, y0, x0 + 100 * i + 50, y0 + 50) for i in range(n)]


def test_where_on_a_gpkg_and_a_bad_expression(tmp_path: Path) -> None:
    g = gpd.GeoDataFrame({"DLBM": ["0101", "0103", "0301", "1203"]}, geometry=_polys(4), crs=CRS)
    p = tmp_path / "dltb.gpkg"
    pyogrio.write_dataframe(g, p, layer="DLTB")
    assert gio.read_vector(p, where="DLBM LIKE '01%'")["DLBM"].tolist() == ["0101", "0103"]
    with pytest.raises(ScenarioError) as exc:
        gio.read_vector(p, where="DLBM LIKE")
    assert exc.value.problems[0].where == "where" and "cannot be applied to dltb.gpkg" in str(exc.value)
    with pytest.raises(ScenarioError, match="no such column: DLMC"):
        gio.read_vector(p, where="DLMC = '旱地'")


def test_csv_where_header_false_names_and_xlsx_sheet(tmp_path: Path) -> None:
    rows = [
        ["610603101200", "张家塬村", "village", "220", "109.1", "36.6"],
        ["610603101201", "曹家洼村", "village", "121", "109.2", "36.7"],
        ["610603101000", "砖窑湾镇", "town", "", "", ""],
    ]
    csv = tmp_path / "codes.csv"
    csv.write_text("\n".join(",".join(r) for r in rows) + "\n", encoding="gbk")
    names = ["code", "name", "level", "ur_code", "lon", "lat"]
    got = gio.read_vector(csv, header=False, names=names, encoding="GBK", where="level = 'village' AND ur_code = 220")
    # the first row is data, not a header; '220' compares as text with the number 220 (SQLite affinity)
    assert got["code"].tolist() == ["610603101200"] and got["name"].tolist() == ["张家塬村"]
    assert got.geometry.x.tolist() == [109.1]
    # without the filter, the town row has no coordinates: its line (3: no header) is named
    with pytest.raises(ValueError, match=r"at line 3\..*leave those rows out with 'where:'"):
        gio.read_vector(csv, header=False, names=names, encoding="GBK")
    with pytest.raises(ValueError, match="'names' gives 5 column name"):
        gio.read_vector(csv, header=False, names=names[:5], encoding="GBK")
    xlsx = tmp_path / "codes.xlsx"
    with pd.ExcelWriter(xlsx) as w:
        pd.DataFrame({"x": [1]}).to_excel(w, sheet_name="说明", index=False)
        pd.DataFrame(rows[:2]).to_excel(w, sheet_name="村", index=False, header=False)
    by_name = gio.read_vector(xlsx, sheet="村", header=False, names=names)
    by_number = gio.read_vector(xlsx, sheet=1, header=False, names=names, where="CAST(lon AS REAL) > 109.15")
    assert by_name["name"].tolist() == ["张家塬村", "曹家洼村"] and by_number["name"].tolist() == ["曹家洼村"]
    with pytest.raises(ValueError, match="has no sheet '村庄'; its sheets: 说明, 村"):
        gio.read_vector(xlsx, sheet="村庄", header=False, names=names)
    with pytest.raises(ValueError, match="has no sheet 5; its sheets: 说明, 村"):
        gio.read_vector(xlsx, sheet=5)
    with pytest.raises(ScenarioError, match="no such column: levl"):
        gio.read_vector(csv, header=False, names=names, encoding="GBK", where="levl = 'village'")


def test_headerless_ansai_village_codes(shared_data: Path) -> None:
    names = [
        "code", "parent", "name", "level", "rank", "adcode", "post_code", "area_code", "ur_code", "municipality",
        "virtual", "dummy", "longitude", "latitude", "center", "province", "city", "county", "town", "village",
    ]  # fmt: skip
    csv = shared_data / "ansai-villages" / "610603.csv"
    table = gio.read_table(csv, header=False, names=names)
    assert len(table) == 227  # the first line is a record (安塞区), not a header
    assert table["name"].iloc[0] == "安塞区" and table["code"].iloc[0] == "610603000000"
    assert table["level"].value_counts().to_dict() == {"village": 217, "town": 9, "county": 1}
    pts = gio.read_vector(csv, header=False, names=names, where="level = 'village' AND longitude IS NOT NULL")
    assert len(pts) == 6 and pts.crs.to_epsg() == 4326
    assert pts["code"].str.len().eq(12).all() and pts["code"].str.startswith("610603").all()
    rural = gio.read_vector(
        csv, header=False, names=names, where="level = 'village' AND ur_code = '220' AND longitude IS NOT NULL"
    )
    assert sorted(rural["name"]) == ["杨园村委会", "沐浴村委会", "黄崖根村委会"]
    # the README recipe: the towns with coordinates as facilities of kind town
    sc = readme_recipes(csv.parent)[1]
    (src,) = sc.layers.all_sources()["facilities"]
    assert src.path == csv.parent / "610603.csv" and src.names == tuple(names)
    towns = gio.read_vector(csv, header=src.header, names=src.names, where=src.where, lon=src.lon, lat=src.lat)
    assert sorted(towns["name"]) == ["化子坪镇", "坪桥镇", "建华镇", "招安镇", "沿河湾镇", "砖窑湾镇", "高桥镇"]


def readme_recipes(base: Path) -> list[scenario_mod.Scenario]:
    """The scenario YAML blocks of the README's 三调 section, validated (paths resolved against ``base``)."""
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = text.split("## 三调、三区三线成果直接读入")[1].split("\n## ")[0]
    blocks = [b.split("```")[0] for b in section.split("```yaml\n")[1:]]
    assert len(blocks) == 2
    first = yaml.safe_load(blocks[0])
    second = yaml.safe_load("layers:\n  villages: v.gpkg\n" + blocks[1].replace("../data/", ""))
    return [scenario_mod.from_dict({"name": "recipe", **d}, base_dir=base) for d in (first, second)]


def test_readme_recipes_are_valid_scenarios(tmp_path: Path) -> None:
    sc = readme_recipes(tmp_path)[0]
    srcs = sc.layers.all_sources()["constraints"]
    assert [s.display_label for s in srcs] == ["DLTB", "YJJBNTTB", "STBHHX", "地质灾害隐患点"]
    assert srcs[0].kind_from == KindFrom("DLBM", table="gbt21010") and srcs[1].encoding == "GBK"
    assert srcs[3].sheet == "隐患点" and srcs[3].kind_from is not None
    assert set(srcs[3].kind_from.map.values()) == {"hazard_point"}


# --------------------------------------------------------------------------- merging
def test_merge_keeps_the_source_prefixes_colliding_ids_and_aligns_crs() -> None:
    a = gpd.GeoDataFrame({"BSM": ["1", "2"], "DLBM": ["0103", "0301"]}, geometry=_polys(2), crs=CRS)
    b = gpd.GeoDataFrame({"BSM": ["1", "9"]}, geometry=_polys(2, y0=4_091_000.0), crs=CRS).to_crs(4490)
    villages = gpd.GeoDataFrame(
        {"village_id": ["v1"], "name": ["村"], "households": [1], "persons": [2]},
        geometry=[shapely.Point(600_100, 4_090_500)],
        crs=CRS,
    )
    p = Problems()
    layers = prepare_layers(
        {
            "villages": villages,
            "constraints": [
                SourceFrame(a, "DLTB", columns={"BSM": "constraint_id"}, kind_from=KindFrom("DLBM", table="gbt21010")),
                SourceFrame(b, "YJJBNTTB", columns={"BSM": "constraint_id"}, kind="基本农田"),
            ],
        },
        crs=CRS,
        problems=p,
    )
    c = layers.constraints
    assert c is not None
    assert c["constraint_id"].tolist() == ["1", "YJJBNTTB:1", "9"]
    assert c["source"].tolist() == ["DLTB", "YJJBNTTB", "YJJBNTTB"]
    assert c["kind"].tolist() == ["basic_farmland"] * 3
    # the lon/lat source was brought to the first source's CRS before merging: its box is back in place
    assert c.geometry.iloc[1].bounds == pytest.approx((600_000, 4_091_000, 600_050, 4_091_050), abs=1e-3)
    texts = [str(w) for w in p.warnings]
    assert any("1 of 2 feature(s) of DLTB left out" in t and "0301 乔木林地 1" in t for t in texts)
    assert any("1 constraint_id(s) of YJJBNTTB also occur" in t and "1 -> YJJBNTTB:1" in t for t in texts)


def test_unmapped_error_and_missing_kind_column_name_the_source() -> None:
    a = gpd.GeoDataFrame({"DLBM": ["0103", "0301", "0702"]}, geometry=_polys(3), crs=CRS)
    villages = gpd.GeoDataFrame(
        {"village_id": ["v1"], "name": ["村"], "households": [1], "persons": [2]},
        geometry=[shapely.Point(600_100, 4_090_500)],
        crs=CRS,
    )
    strict = KindFrom("DLBM", table="gbt21010", unmapped="error")
    with pytest.raises(LayerError) as exc:
        prepare_layers(
            {
                "villages": villages,
                "constraints": [
                    SourceFrame(a, "DLTB", where="layers.constraints[0]", kind_from=strict),
                    SourceFrame(a, "B", where="layers.constraints[1]", kind_from=KindFrom("DLMC", map={"x": "y"})),
                ],
            },
            crs=CRS,
        )
    msgs = {p.where: p.message for p in exc.value.problems}
    assert "0301 乔木林地 1, 0702 农村宅基地 1" in msgs["layers.constraints[0].kind_from"]
    assert "has no column 'DLMC'" in msgs["layers.constraints[1].kind_from.column"]


# --------------------------------------------------------------------------- hashing
def test_folder_and_database_hashes(tmp_path: Path) -> None:
    gdb = tmp_path / "a" / "county.gdb"
    gdb.parent.mkdir()
    g = gpd.GeoDataFrame({"BSM": ["1"]}, geometry=_polys(1), crs=CRS)
    pyogrio.write_dataframe(g, gdb, layer="YJJBNTTB", driver="OpenFileGDB")
    h = gio.file_sha256(gdb)  # a folder: no IsADirectoryError
    # independent: sorted relative paths with the SHA-256 of each file
    expect = hashlib.sha256(b"geofupin-folder-v1\n")
    for f in sorted(q for q in gdb.rglob("*") if q.is_file()):
        expect.update(f.relative_to(gdb).as_posix().encode() + b"\0" + sha(f).encode() + b"\n")
    assert h == expect.hexdigest() == gio.source_sha256(gdb)
    copy = tmp_path / "b" / "elsewhere.gdb"
    shutil.copytree(gdb, copy)
    assert gio.folder_sha256(copy) == h  # the same wherever it is copied
    (copy / "x.sr.lock").write_bytes(b"open in ArcGIS")
    assert gio.folder_sha256(copy) == h  # lock files do not count
    (copy / "timestamps").write_bytes(b"changed")
    assert gio.folder_sha256(copy) != h
    shp = tmp_path / "DLTB.shp"
    g.assign(DLBM="0103").to_file(shp)
    before = gio.source_sha256(shp)
    assert before != gio.file_sha256(shp)
    g.assign(DLBM="0101").to_file(shp)  # same geometry: only the .dbf changes
    assert gio.file_sha256(shp) == sha(shp) and gio.source_sha256(shp) != before
    url = "postgresql://gis:s3cret@db.example:5432/county?sslmode=require&password=x"
    assert gio.redact_url(url) == "postgresql://gis@db.example:5432/county?sslmode=require"
    one = gio.source_sha256(url, layer="yjjbnttb", where="a = 1")
    assert one == gio.source_sha256(url.replace("s3cret", "other"), layer="yjjbnttb", where="a = 1")
    assert one != gio.source_sha256(url, layer="yjjbnttb") != gio.source_sha256(url, layer="stbhhx")
    text = "geofupin-source-v1\npostgresql://gis@db.example:5432/county?sslmode=require\nyjjbnttb\na = 1"
    assert one == hashlib.sha256(text.encode()).hexdigest()
    assert gio.is_url(url) and not gio.is_url(str(gdb)) and not gio.is_url("C:/data/county.gdb")


# --------------------------------------------------------------------------- end to end
def _sandiao_deliveries(demo_layers: Path, out: Path) -> dict[str, object]:
    """DLTB.shp (GBK), county.gdb (YJJBNTTB, STBHHX) from the demo county; returns hand-counted facts."""
    out.mkdir(parents=True)
    cons = gpd.read_file(demo_layers / "constraints.gpkg")
    farm = cons[cons["kind"] == "basic_farmland"].reset_index(drop=True)
    n = len(farm)
    codes = np.where(np.arange(n) % 3 == 0, "0101", "0103")  # 水田 and 旱地
    extra_codes = ["0301"] * 20 + ["0702"] * 10 + ["1203"] * 5  # 乔木林地, 农村宅基地, 田坎: not constraints
    dltb = gpd.GeoDataFrame(
        {
            "BSM": [str(i + 1) for i in range(n + len(extra_codes))],
            "DLBM": [*codes, *extra_codes],
            "DLMC": [landuse.GBT21010_LEVEL2[c] for c in [*codes, *extra_codes]],
            "ZLDWMC": ["示范村"] * (n + len(extra_codes)),
        },
        geometry=[*farm.geometry, *farm.geometry.iloc[: len(extra_codes)].translate(30, 30)],
        crs=cons.crs,
    )
    dltb.to_file(out / "DLTB.shp", encoding="GBK")
    (out / "DLTB.cpg").unlink(missing_ok=True)  # as many deliveries come: the scenario names the encoding
    assert "旱地".encode("gbk") in (out / "DLTB.dbf").read_bytes()
    sites = gpd.read_file(demo_layers / "candidates.gpkg").set_index("site_id")
    s05 = sites.geometry["S05"]
    gdb = out / "county.gdb"
    yj = gpd.GeoDataFrame(
        {"BSM": ["1", "2", "3"], "DLBM": ["0103", "0101", "0103"]},
        geometry=[s05.buffer(200).envelope, *farm.geometry.iloc[:2]],
        crs=cons.crs,
    ).to_crs("EPSG:4490")  # CGCS2000 lon/lat, unlike the DLTB: sources may differ in CRS
    pyogrio.write_dataframe(yj, gdb, layer="YJJBNTTB", driver="OpenFileGDB")
    red = cons[cons["kind"] == "ecological_redline"]
    stb = gpd.GeoDataFrame(
        {"BSM": ["1", "2"], "HXMC": ["示范县生态保护红线", "评估调出区"], "BHLX": ["红线", "调出"]},
        geometry=[red.geometry.iloc[0], sites.geometry["S01"].buffer(300)],
        crs=cons.crs,
    )
    pyogrio.write_dataframe(stb, gdb, layer="STBHHX", driver="OpenFileGDB")
    return {
        "farm": n,
        "hazard_point": int((cons["kind"] == "hazard_point").sum()),
        "hazard_zone": int((cons["kind"] == "hazard_zone").sum()),
        "flood_zone": int((cons["kind"] == "flood_zone").sum()),
    }


def test_sandiao_deliveries_run_end_to_end(demo_layers: Path, tmp_path: Path) -> None:
    data = tmp_path / "三调"
    facts = _sandiao_deliveries(demo_layers, data)
    scenario = scenario_copy(tmp_path, demo_layers, extra="steps: [access, site]\n")
    block = f"""  constraints:
    - path: {data.as_posix()}/DLTB.shp
      encoding: GBK
      where: "DLBM <> '1203'"
      columns: {{BSM: constraint_id}}
      kind_from: {{column: DLBM, table: gbt21010}}
    - path: {data.as_posix()}/county.gdb
      layer: YJJBNTTB
      columns: {{BSM: constraint_id}}
      kind: 永久基本农田
    - path: {data.as_posix()}/county.gdb
      layer: STBHHX
      where: "BHLX = '红线'"
      columns: {{BSM: constraint_id}}
      kind: ecological_redline
    - path: {demo_layers.as_posix()}/constraints.gpkg
      where: "kind IN ('hazard_point', 'hazard_zone', 'flood_zone')"
"""
    text = scenario.read_text(encoding="utf-8")
    line = f"  constraints: {demo_layers.as_posix()}/constraints.gpkg\n"
    assert line in text
    scenario.write_text(text.replace(line, block), encoding="utf-8")
    before = {p.name: sha(p) for p in data.rglob("*") if p.is_file()}

    code, checked = invoke("check", str(scenario))
    assert code == 0, checked
    total = facts["farm"] + 3 + 1 + facts["hazard_point"] + facts["hazard_zone"] + facts["flood_zone"]
    assert f"constraints: {total} feature(s)" in checked
    assert f"    DLTB: {facts['farm']}\n    YJJBNTTB: 3\n    STBHHX: 1\n" in checked  # per source
    left_out = f"30 of {facts['farm'] + 30:,} feature(s) of DLTB left out"  # 田坎 filtered by where: first
    assert left_out in checked and "0301 乔木林地 20, 0702 农村宅基地 10" in checked
    assert "3 constraint_id(s) of YJJBNTTB also occur in an earlier source" in checked

    code, ran = invoke("run", str(scenario))
    assert code == 0, ran
    out = tmp_path / "maps" / "demo"
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    warned = [w.removeprefix("warning: ") for w in record["warnings"]]
    assert len(warned) == 3 and all(w in checked for w in warned)  # check reports what run warns about
    assert "0 error(s), 3 warning(s)" in checked
    c = pd.concat(  # results.gpkg holds one geometry type per layer: zones and points apart
        [gpd.read_file(out / "results.gpkg", layer=f"input_constraints_{g}") for g in ("areas", "points")]
    )
    assert len(c) == total
    assert c["kind"].value_counts().to_dict() == {
        "basic_farmland": facts["farm"] + 3,
        "hazard_point": facts["hazard_point"],
        "hazard_zone": facts["hazard_zone"],
        "ecological_redline": 1,
        "flood_zone": facts["flood_zone"],
    }
    assert c.groupby("source").size().to_dict() == {
        "DLTB": facts["farm"],
        "YJJBNTTB": 3,
        "STBHHX": 1,
        "constraints": facts["hazard_point"] + facts["hazard_zone"] + facts["flood_zone"],
    }
    assert c["constraint_id"].is_unique and {"YJJBNTTB:1", "YJJBNTTB:3", "STBHHX:1"} <= set(c["constraint_id"])
    dl = c[c["source"] == "DLTB"]
    assert set(dl["DLMC"]) == {"水田", "旱地"} and set(dl["ZLDWMC"]) == {"示范村"}  # GBK read back as text
    assert c.loc[c["source"] == "STBHHX", "HXMC"].tolist() == ["示范县生态保护红线"]  # 调出区 filtered out

    sites = gpd.read_file(out / "results.gpkg", layer="sites").set_index("site_id")
    assert not sites.loc["S05", "passed"]
    assert "占用基本农田 100.0%" in sites.loc["S05", "reasons_zh"]
    assert sites.loc["S05", "basic_farmland_share"] == pytest.approx(1.0)
    assert bool(sites.loc["S01", "passed"])  # the 调出 polygon around S01 was filtered out by where:
    assert "占用基本农田" in sites.loc["S19", "reasons_zh"]  # the demo's farmland, now from the DLTB

    hashes = record["inputs_sha256"]
    parts = [data / f"DLTB{ext}" for ext in (".shp", ".shx", ".dbf", ".prj")]  # no .cpg: removed above
    shp_hash = hashlib.sha256(b"geofupin-shapefile-v1\n")
    for f in parts:
        shp_hash.update(f.suffix.encode() + b"\0" + sha(f).encode() + b"\n")
    assert hashes["constraints[0]"] == shp_hash.hexdigest()  # the .dbf (DLBM) and .prj count too
    assert hashes["constraints[1]"] == hashes["constraints[2]"] == gio.folder_sha256(data / "county.gdb")
    assert hashes["constraints[3]"] == sha(demo_layers / "constraints.gpkg")
    assert {p.name: sha(p) for p in data.rglob("*") if p.is_file()} == before  # inputs never modified


def test_bad_where_in_a_list_is_a_scenario_error_naming_the_source(demo_layers: Path, tmp_path: Path) -> None:
    scenario = scenario_copy(tmp_path, demo_layers, extra="steps: [site]\n")
    line = f"  constraints: {demo_layers.as_posix()}/constraints.gpkg\n"
    block = f"""  constraints:
    - {demo_layers.as_posix()}/constraints.gpkg
    - path: {demo_layers.as_posix()}/constraints.gpkg
      where: "kind IN ('hazard_point'"
"""
    scenario.write_text(scenario.read_text(encoding="utf-8").replace(line, block), encoding="utf-8")
    code, checked = invoke("check", str(scenario))
    assert code == 1
    assert (
        "error: layers.constraints[1].where: constraints, source 2 (constraints): 筛选条件无法执行 / the filter"
        in checked
    )
    sc = scenario_mod.load(scenario)
    from geofupin.pipeline import load_inputs

    with pytest.raises(ScenarioError) as exc:
        load_inputs(sc)
    assert [p.where for p in exc.value.problems if p.severity == "error"] == ["layers.constraints[1].where"]
    code, ran = invoke("run", str(scenario))
    assert code != 0 and "layers.constraints[1].where" in ran and "Traceback" not in ran


def test_one_source_with_kind_from_has_no_source_column_and_names_rename_a_header(tmp_path: Path) -> None:
    csv = tmp_path / "pts.csv"
    csv.write_text("编号,类别,经度,纬度\nH1,滑坡,109.1,36.6\nH2,已销号,109.2,36.7\n", encoding="utf-8")
    pts = gio.read_vector(csv, names=["id", "ZHLX", "lon", "lat"], where="ZHLX <> '已销号'")
    assert pts.columns.tolist() == ["id", "ZHLX", "geometry"] and pts["id"].tolist() == ["H1"]
    villages = gpd.GeoDataFrame(
        {"village_id": ["v1"], "name": ["村"], "households": [1], "persons": [2]},
        geometry=[shapely.Point(109.1, 36.6)],
        crs=4326,
    )
    layers = prepare_layers(
        {
            "villages": villages,
            "constraints": [SourceFrame(pts, "pts", kind_from=KindFrom("ZHLX", map={"滑坡": "hazard_point"}))],
        },
        crs=CRS,
    )
    assert layers.constraints is not None and "source" not in layers.constraints.columns
    assert layers.constraints["kind"].tolist() == ["hazard_point"]
    assert layers.constraints["constraint_id"].tolist() == ["H1"]  # 'id' is an alias of the id column


def test_check_still_reads_the_layers_beside_a_bad_source(demo_layers: Path, tmp_path: Path) -> None:
    scenario = scenario_copy(tmp_path, demo_layers, extra="steps: [site]\n")
    line = f"  constraints: {demo_layers.as_posix()}/constraints.gpkg\n"
    block = f"""  constraints:
    - path: {demo_layers.as_posix()}/constraints.gpkg
      kind: 旱田
"""
    scenario.write_text(scenario.read_text(encoding="utf-8").replace(line, block), encoding="utf-8")
    code, checked = invoke("check", str(scenario))
    assert code == 1
    assert "error: layers.constraints[0].kind" in checked and "'旱田' is not a constraints kind" in checked
    assert "villages: 244 feature(s)" in checked  # the other layers were still checked


def test_an_empty_source_of_several_is_a_warning() -> None:
    a = gpd.GeoDataFrame({"DLBM": ["0103"]}, geometry=_polys(1), crs=CRS)
    empty = a.iloc[:0]
    villages = gpd.GeoDataFrame(
        {"village_id": ["v1"], "name": ["村"], "households": [1], "persons": [2]},
        geometry=[shapely.Point(600_100, 4_090_500)],
        crs=CRS,
    )
    p = Problems()
    layers = prepare_layers(
        {
            "villages": villages,
            "constraints": [
                SourceFrame(a, "DLTB", kind="basic_farmland"),
                SourceFrame(empty, "ZHD", where="layers.constraints[1]", kind="hazard_point"),
            ],
        },
        crs=CRS,
        problems=p,
    )
    assert layers.constraints is not None and layers.constraints["source"].tolist() == ["DLTB"]
    assert [(w.where, w.severity) for w in p if "ZHD" in w.message] == [("layers.constraints[1]", "warning")]
    with pytest.raises(LayerError, match="the layer is empty"):  # alone, an empty source is an error, as before
        prepare_layers({"villages": villages, "constraints": [SourceFrame(empty, "ZHD", kind="hazard_point")]}, crs=CRS)


def test_kind_column_accepts_land_class_names_and_a_gdb_needs_its_layer(tmp_path: Path) -> None:
    from geofupin.layers import validate_layer

    g = gpd.GeoDataFrame({"kind": ["旱地", "0103", "水田", "永久基本农田", "耕地"]}, geometry=_polys(5), crs=CRS)
    out = validate_layer(g, "constraints", Problems())
    assert out is not None and out["kind"].tolist() == ["basic_farmland"] * 5  # 旱地 was refused before
    bad = validate_layer(g.assign(kind="乔木林地"), "constraints", p := Problems())
    assert bad is None and "'乔木林地'" in p.errors[0].message
    gdb = tmp_path / "county.gdb"
    pyogrio.write_dataframe(g, gdb, layer="DLTB", driver="OpenFileGDB")
    pyogrio.write_dataframe(g, gdb, layer="YJJBNTTB", driver="OpenFileGDB")
    with pytest.raises(ValueError, match=r"holds 2 layers \(DLTB, YJJBNTTB\).*'layer:'"):
        gio.read_vector(gdb)
    assert len(gio.read_vector(gdb, layer="YJJBNTTB", where="kind = '水田'")) == 1


def test_sources_merge_in_the_county_zone_and_legacy_datums_warn_per_source() -> None:
    gk = gpd.GeoDataFrame({"BSM": ["1"]}, geometry=_polys(1), crs=CRS)  # CGCS2000 GK CM 108E
    lonlat = gpd.GeoDataFrame({"BSM": ["2"]}, geometry=_polys(1, y0=4_091_000.0), crs=CRS).to_crs(4490)
    xian = gpd.GeoDataFrame({"BSM": ["3"]}, geometry=_polys(1, y0=4_092_000.0), crs=CRS).to_crs(4610)  # Xian 1980
    villages = gpd.GeoDataFrame(
        {"village_id": ["v1"], "name": ["村"], "households": [1], "persons": [2]},
        geometry=[shapely.Point(600_100, 4_090_500)],
        crs=CRS,
    ).to_crs(4490)
    p = Problems()
    layers = prepare_layers(
        {
            "villages": villages,
            "constraints": [
                SourceFrame(lonlat, "A", columns={"BSM": "constraint_id"}, kind="hazard_zone"),
                SourceFrame(gk, "B", columns={"BSM": "constraint_id"}, kind="hazard_zone"),
                SourceFrame(xian, "C", columns={"BSM": "constraint_id"}, kind="hazard_zone"),
            ],
        },
        crs="auto",
        problems=p,
    )
    # the merged layer is in the GK zone of source B (not A's lon/lat), so crs: auto keeps that zone
    assert layers.crs.to_epsg() == 4545 and "kept from the input layers" in layers.crs_note
    assert layers.constraints is not None and layers.constraints["constraint_id"].tolist() == ["2", "1", "3"]
    shifts = [w for w in p.warnings if "Xian 1980" in w.message or "西安" in w.message]
    assert [w.where for w in shifts] == ["constraints (C)"]
    assert layers.constraints.geometry.iloc[1].bounds == pytest.approx((600_000, 4_090_000, 600_050, 4_090_050))


def test_a_misspelt_key_in_a_list_item_is_named_with_its_index(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as exc:
        _scenario(tmp_path, {"villages": "v.gpkg", "constraints": [{"path": "a.gpkg", "wher": "x"}, "b.gpkg", 5]})
    msgs = {p.where: p.message for p in exc.value.problems}
    assert msgs["layers.constraints[0].wher"] == "unknown key 'wher' (did you mean 'where'?)."
    assert "layers.constraints[2]" in msgs and len(msgs) == 2
