"""GIS-ready outputs: one geometry type per layer, GeoPackage 1.2, QGIS styles and project, export, XLSX layout.

Everything is read back from the files: pyogrio for layers, sqlite3 for the GeoPackage header and
QGIS's ``layer_styles`` table, ElementTree for the QML and the ``.qgz`` project, openpyxl for the
workbook, geofupin's own readers for the Shapefile/FileGDB round trip. Where Debian's QGIS is
installed (``python3-qgis``, for the system Python), QGIS itself opens the project.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
import subprocess
import textwrap
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from demo_helpers import invoke
from openpyxl import load_workbook
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Point, Polygon

from geofupin import io as gio
from geofupin import qgis
from geofupin.layers import SCHEMAS, rename_columns
from geofupin.maps import data as D
from geofupin.maps.overview import SCORE_COLORS
from geofupin.report import number_format, sheet_title, workbook_sheet
from geofupin.vocabulary import SHORT_FIELD_NAMES

CRS = "EPSG:4545"
HOSTILE = "<b>&amp;]]>\"'\x01\x1f村&"


def sq(x: float, y: float, d: float = 50.0) -> Polygon:
    return Polygon([(x, y), (x + d, y), (x + d, y + d), (x, y + d)])


def tiny_layers() -> dict[str, gpd.GeoDataFrame]:
    """A mixed water layer (point, line, multi-line, polygon), mixed constraints, roads, villages, sites."""
    x0, y0 = 600_000.0, 4_100_000.0
    water = gpd.GeoDataFrame(
        {
            "water_id": ["w1", "w2", "w3", "w4"],
            "kind": ["well", "river", "stream", "reservoir"],
            "name": ["一号井", "清水河", None, "红旗水库"],
        },
        geometry=[
            Point(x0, y0),
            LineString([(x0, y0), (x0 + 100, y0 + 100)]),
            MultiLineString([[(x0, y0), (x0 + 5, y0)], [(x0 + 10, y0), (x0 + 20, y0)]]),
            sq(x0 + 200, y0),
        ],
        crs=CRS,
    )
    constraints = gpd.GeoDataFrame(
        {
            "constraint_id": ["c1", "c2", "c3"],
            "kind": ["basic_farmland", "hazard_point", HOSTILE],
            "name": ["基本农田", "滑坡点", HOSTILE],
        },
        geometry=[sq(x0, y0 + 500), Point(x0 + 10, y0 + 510), MultiPolygon([sq(x0 + 300, y0 + 500)])],
        crs=CRS,
    )
    roads = gpd.GeoDataFrame(
        {"road_id": ["r1", "r2"], "road_class": ["county", "village"], "name": ["县道", "村道"]},
        geometry=[LineString([(x0, y0), (x0, y0 + 900)]), LineString([(x0, y0), (x0 + 900, y0)])],
        crs=CRS,
    )
    villages = gpd.GeoDataFrame(
        {
            "village_id": ["v1", "v2", "v'3"],
            "name": ["张家塬村", "李家沟村", HOSTILE],
            "group": ["一组", "", None],
            "households": [120, 80, 5],
            "persons": [400, 250, 9],
            "relocate_households": [30, 0, 5],
            "relocate_persons": [100, 0, 9],
        },
        geometry=[Point(x0 + 1, y0 + 1), Point(x0 + 800, y0 + 800), Point(x0 + 400, y0 + 100)],
        crs=CRS,
    )
    sites = gpd.GeoDataFrame(
        {
            "site_id": ["S1", "S2", "S3"],
            "name": ["中心社区", "集镇安置点", "坡地"],
            "passed": [True, True, False],
            "score": [0.9, 0.3, np.nan],
            "stable_topk": [False, False, False],
        },
        geometry=[sq(x0 + 600, y0 + 600, 80), sq(x0 + 700, y0 + 100, 80), sq(x0 + 100, y0 + 700, 80)],
        crs=CRS,
    )
    return {
        "input_water": water,
        "input_constraints": constraints,
        "input_roads": roads,
        "input_villages": villages,
        "sites": sites,
    }


# ----------------------------------------------------------------------------------------- geometry
def test_mixed_layers_are_split_into_one_geometry_type_each(tmp_path: Path) -> None:
    p = gio.write_layers(tiny_layers(), tmp_path / "r.gpkg")
    layers = {str(n): str(t) for n, t in pyogrio.list_layers(p)}
    assert layers == {
        "input_water_points": "Point",
        "input_water_lines": "MultiLineString",  # a Multi feature among them: declared Multi, singles promoted
        "input_water_areas": "Polygon",
        "input_constraints_points": "Point",
        "input_constraints_areas": "MultiPolygon",
        "input_roads": "LineString",  # one type: the name is kept
        "input_villages": "Point",
        "sites": "Polygon",
    }
    lines = pyogrio.read_dataframe(p, layer="input_water_lines")
    assert list(lines["water_id"]) == ["w2", "w3"] and set(lines.geom_type) == {"MultiLineString"}
    assert lines.geometry.iloc[0].equals(MultiLineString([[(600_000, 4_100_000), (600_100, 4_100_100)]]))
    assert list(pyogrio.read_dataframe(p, layer="input_water_points")["name"]) == ["一号井"]
    # no empty split: constraints have no lines, water no collections
    assert not {"input_constraints_lines", "input_water_collections"} & set(layers)


def test_a_split_name_taken_by_another_layer_is_refused() -> None:
    both = {"w": tiny_layers()["input_water"], "w_points": tiny_layers()["input_villages"]}
    with pytest.raises(gio.OutputError, match="w_points"):
        gio.split_geometry_families(both)


def test_geopackage_is_version_1_2(tmp_path: Path) -> None:
    p = gio.write_layers(tiny_layers(), tmp_path / "r.gpkg")
    with sqlite3.connect(p) as con:
        app_id = con.execute("PRAGMA application_id").fetchone()[0]
        version = con.execute("PRAGMA user_version").fetchone()[0]
    assert app_id == int.from_bytes(b"GPKG", "big") == 0x47504B47
    assert version == 10200  # GeoPackage 1.2 (GDAL 3.11+ stamps 10400 unless told)
    v = gio.write_vector(tiny_layers()["input_roads"], tmp_path / "one.gpkg", layer="roads")
    with sqlite3.connect(v) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == 10200


# --------------------------------------------------------------------------------------- QGIS styles
def styled_gpkg(tmp_path: Path, unserved: tuple[str, ...] = ()) -> tuple[Path, dict[str, gio.OutputLayer]]:
    gis = gio.split_geometry_families(tiny_layers())
    p = gio.write_layers(
        {k: v.frame for k, v in gis.items()},
        tmp_path / "results.gpkg",
        styles=qgis.layer_styles(gis, unserved=unserved),
    )
    return p, gis


def style_rows(p: Path) -> pd.DataFrame:
    with sqlite3.connect(p) as con:
        return pd.read_sql("SELECT * FROM layer_styles ORDER BY id", con)


def symbol_colors(qml_root: ET.Element) -> dict[str, str]:
    """Category value (or '' for a single symbol) -> the first symbol layer's colour as #rrggbb."""
    renderer = qml_root.find("renderer-v2")
    assert renderer is not None
    symbols = {s.get("name"): s for s in renderer.find("symbols")}  # type: ignore[union-attr]

    def color(sym: ET.Element) -> str:
        layer = sym.find("layer")
        assert layer is not None
        opts = {o.get("name"): o.get("value") for o in layer.find("Option")}  # type: ignore[union-attr]
        rgba = opts.get("line_color") if layer.get("class") == "SimpleLine" else opts.get("color")
        r, g, b, _ = (int(x) for x in str(rgba).split(","))
        return f"#{r:02x}{g:02x}{b:02x}"

    if renderer.get("type") == "singleSymbol":
        return {"": color(symbols["0"])}
    return {c.get("value"): color(symbols[c.get("symbol")]) for c in renderer.find("categories")}  # type: ignore


def test_layer_styles_table_has_qgis_schema_and_one_default_style_per_layer(tmp_path: Path) -> None:
    p, gis = styled_gpkg(tmp_path)
    with sqlite3.connect(p) as con:
        cols = [r[1] for r in con.execute("PRAGMA table_info(layer_styles)")]
        pk = [r[1] for r in con.execute("PRAGMA table_info(layer_styles)") if r[5]]
        kind = con.execute("SELECT data_type FROM gpkg_contents WHERE table_name='layer_styles'").fetchone()
        geom_cols = dict(con.execute("SELECT table_name, column_name FROM gpkg_geometry_columns"))
    assert cols == ["id", *gio.LAYER_STYLES_COLUMNS] and pk == ["id"]
    assert gio.LAYER_STYLES_COLUMNS == (  # QGIS's own schema (QgsOgrProviderMetadata::saveStyle)
        "f_table_catalog",
        "f_table_schema",
        "f_table_name",
        "f_geometry_column",
        "styleName",
        "styleQML",
        "styleSLD",
        "useAsDefault",
        "description",
        "owner",
        "ui",
        "update_time",
    )
    assert kind == ("attributes",)  # an OGR attribute table, as QGIS creates it
    rows = style_rows(p)
    assert sorted(rows["f_table_name"]) == sorted(gis)
    assert (rows.groupby("f_table_name")["useAsDefault"].sum() == 1).all()
    assert (rows["f_table_schema"] == "").all() and (rows["f_table_catalog"] == "").all()  # QGIS's query for GPKG
    assert all(geom_cols[t] == g for t, g in zip(rows["f_table_name"], rows["f_geometry_column"], strict=True))
    assert set(rows["update_time"]) == {"2016-01-01T00:00:00.000Z"} or rows["update_time"].str.startswith("2016").all()
    for text in rows["styleQML"]:
        root = ET.fromstring(text.split("\n", 1)[1])  # after the DOCTYPE line
        assert root.tag == "qgis" and root.find("renderer-v2") is not None


def test_styles_use_the_web_maps_colours_and_chinese_legend(tmp_path: Path) -> None:
    p, _ = styled_gpkg(tmp_path, unserved=("v1",))
    rows = style_rows(p)
    qml = {t: ET.fromstring(q.split("\n", 1)[1]) for t, q in zip(rows["f_table_name"], rows["styleQML"], strict=True)}
    roads = {k: D.ROAD_STYLE[k][1] for k in ("county", "village")}
    assert symbol_colors(qml["input_roads"]) == roads
    area = symbol_colors(qml["input_constraints_areas"])
    assert area["basic_farmland"] == D.CONSTRAINT_STYLE["basic_farmland"][1] == "#b8e186"
    assert area[HOSTILE.replace("\x01", "\ufffd").replace("\x1f", "\ufffd")] == "#999999"  # unknown kind: grey
    assert symbol_colors(qml["input_constraints_points"]) == {"hazard_point": "#ff7f00"}
    assert symbol_colors(qml["input_water_areas"]) == {"": "#7fcdbb"}
    assert symbol_colors(qml["input_water_points"]) == {"": "#41b6c4"}
    assert symbol_colors(qml["input_water_lines"]) == {"river": "#2c7fb8", "stream": "#2c7fb8"}
    villages = symbol_colors(qml["input_villages"])
    assert villages == {k: D.STATUS_STYLE[k][2] for k in ("stay", "relocate", "unserved")}
    labels = {c.get("value"): c.get("label") for c in qml["input_villages"].iter("category")}
    assert labels == {"stay": "不搬迁", "relocate": "搬迁村", "unserved": "搬迁未安置"}
    sites = symbol_colors(qml["sites"])
    assert sites == {"high": SCORE_COLORS[-1], "low": SCORE_COLORS[0], "excluded": "#bdbdbd"}
    # widths in pixels as on the web map: a county road 3 px
    county = next(s for s in qml["input_roads"].iter("symbol") if s.get("name") == "0")
    props = {o.get("name"): o.get("value") for o in county.find("layer").find("Option")}  # type: ignore[union-attr]
    assert (props["line_width"], props["line_width_unit"]) == ("3", "Pixel")
    labelled = qml["input_villages"].find("labeling/settings/text-style")
    assert labelled is not None and labelled.get("fieldName") == "name"


def ramp_by_hand(expr: str, value: float, lo: float, hi: float) -> str:
    """Evaluate :func:`qgis._ramp_expression`'s text for one value: pick the CASE branch, mix its channels."""
    import re

    n = len(SCORE_COLORS) - 1
    pos = (value - lo) / (hi - lo) * n
    branches = re.findall(r"THEN color_rgb\((.*?)\)(?= WHEN| END)", expr)
    i = min(int(pos), n - 1)
    pairs = re.findall(r"round\((\d+) \* \(1 - .*?\) \+ (\d+) \*", branches[i])
    t = min(1.0, max(0.0, pos - i))
    rgb = [round(int(a) * (1 - t) + int(b) * t) for a, b in pairs]
    return "#" + "".join(f"{x:02x}" for x in rgb)


def test_site_fill_expression_reproduces_the_web_maps_ramp() -> None:
    """The data-defined fill of scored sites is D.ramp's linear interpolation (checked in QGIS below too)."""
    lo, hi = 0.3, 0.9
    expr = qgis._ramp_expression("score", lo, hi, SCORE_COLORS)
    assert expr.count("color_rgb(") == len(SCORE_COLORS) - 1
    for v in (0.3, 0.41, 0.5, 0.6, 0.77, 0.9):
        assert ramp_by_hand(expr, v, lo, hi) == D.ramp([lo, v, hi], SCORE_COLORS)[1], v


def test_hostile_names_are_escaped_in_qml_and_project(tmp_path: Path) -> None:
    gis = gio.split_geometry_families(tiny_layers())
    xml_text = qgis.project_xml(gis, crs=CRS, title=HOSTILE, unserved=["v'3", "a\\b"])
    root = ET.fromstring(xml_text.split("\n", 1)[1])  # well-formed despite <, &, ]]>, quotes, controls
    assert root.findtext("title") == HOSTILE.replace("\x01", "\ufffd").replace("\x1f", "\ufffd")
    values = {c.get("value") for c in root.iter("category")}
    assert HOSTILE.replace("\x01", "\ufffd").replace("\x1f", "\ufffd") in values
    attr = next(r.get("attr") for r in root.iter("renderer-v2") if "unserved" in (r.get("attr") or ""))
    assert "IN ('a\\\\b', 'v''3')" in attr  # QGIS expression literals: quote doubled, backslash escaped
    for row in qgis.layer_styles(gis):
        ET.fromstring(row["styleQML"].split("\n", 1)[1])


# ----------------------------------------------------------------------------------------- project
def test_qgz_project_points_to_the_gpkg_relatively_with_groups_crs_and_chinese_names(tmp_path: Path) -> None:
    _, gis = styled_gpkg(tmp_path)
    (tmp_path / "results.qgz").write_bytes(qgis.project_qgz(gis, crs=CRS, title="示范县易地扶贫搬迁"))
    with zipfile.ZipFile(tmp_path / "results.qgz") as z:
        assert z.namelist() == ["results.qgs"]
        root = ET.fromstring(z.read("results.qgs").decode("utf-8").split("\n", 1)[1])
    assert root.findtext("projectCrs/spatialrefsys/authid") == CRS
    assert root.findtext("properties/Paths/Absolute") == "false"
    groups = [g.get("name") for g in root.find("layer-tree-group").findall("layer-tree-group")]  # type: ignore
    assert groups == ["基础地理", "限制因素", "选址评价", "搬迁安置"]  # the web map's groups present in this run
    layers = {ml.findtext("datasource"): ml for ml in root.iter("maplayer")}
    assert set(layers) == {f"./results.gpkg|layername={n}" for n in gis}
    names = {ml.findtext("datasource").split("=")[1]: ml.findtext("layername") for ml in layers.values()}  # type: ignore
    assert names["input_water_lines"] == "河流" and names["input_water_areas"] == "水域"
    assert (
        names["input_constraints_points"] == "灾害点" and names["sites"] == "安置点" and names["input_roads"] == "道路"
    )
    for ml in layers.values():
        assert ml.findtext("srs/spatialrefsys/authid") == CRS and ml.findtext("provider") == "ogr"
    order = [i.text for i in root.find("layer-tree-group/custom-order")]  # type: ignore[union-attr]
    assert sorted(order) == sorted(qgis.layer_id(n) for n in gis)  # every layer drawn once
    assert order.index(qgis.layer_id("input_villages")) < order.index(qgis.layer_id("input_roads"))  # on top
    again = qgis.project_qgz(gis, crs=CRS, title="示范县易地扶贫搬迁")
    assert again == (tmp_path / "results.qgz").read_bytes()  # equal runs, equal bytes


QGIS_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from qgis.core import QgsApplication, QgsProject, QgsVectorLayer
    from qgis.core import QgsExpression, QgsExpressionContext, QgsExpressionContextUtils
    app = QgsApplication([], False)
    app.initQgis()
    folder = sys.argv[1]
    prj = QgsProject.instance()
    out = {"read": prj.read(os.path.join(folder, "results.qgz")), "crs": prj.crs().authid(), "layers": {}, "gpkg": {}}
    out["groups"] = [g.name() for g in prj.layerTreeRoot().children()]
    for lyr in prj.mapLayers().values():
        r = lyr.renderer()
        cats = [c.symbol().color().name() for c in r.categories()] if r.type() == "categorizedSymbol" else []
        out["layers"][lyr.name()] = {"valid": lyr.isValid(), "crs": lyr.crs().authid(), "renderer": r.type(),
                                     "n": lyr.featureCount(), "cats": cats}
    for name in sys.argv[2:]:
        lyr = QgsVectorLayer(os.path.join(folder, "results.gpkg") + "|layername=" + name, name, "ogr")
        r = lyr.renderer()
        cats = [c.value() for c in r.categories()] if r.type() == "categorizedSymbol" else []
        out["gpkg"][name] = {"valid": lyr.isValid(), "renderer": r.type(), "cats": cats}
        if name == "sites":  # the data-defined fill, evaluated by QGIS for every site
            categories = r.categories()  # kept: the symbols belong to these copies
            symbol = categories[0].symbol()
            props = symbol.symbolLayer(0).dataDefinedProperties()
            expr = QgsExpression(props.property(props.propertyKeys()[0]).expressionString())
            ctx = QgsExpressionContext(QgsExpressionContextUtils.globalProjectLayerScopes(lyr))
            fills = {}
            for f in lyr.getFeatures():
                ctx.setFeature(f)
                fills[f["site_id"]] = expr.evaluate(ctx)
            out["fills"] = fills
    print(json.dumps(out))
    sys.stdout.flush()
    os._exit(0)
    """
)


def _system_qgis() -> str | None:
    py = shutil.which("python3", path="/usr/bin")
    if py is None:
        return None
    ok = subprocess.run([py, "-c", "import qgis.core"], capture_output=True, timeout=120)
    return py if ok.returncode == 0 else None


def test_qgis_opens_the_project_every_layer_valid_styled_and_in_the_crs(tmp_path: Path) -> None:
    """Headless QGIS (Debian's python3-qgis, when installed) loads the project and the styles of the GeoPackage."""
    py = _system_qgis()
    if py is None:
        pytest.skip("QGIS's Python bindings (Debian python3-qgis) are not installed")
    _, gis = styled_gpkg(tmp_path)
    (tmp_path / "results.qgz").write_bytes(qgis.project_qgz(gis, crs=CRS, title="示范县"))
    script = tmp_path / "load.py"
    script.write_text(QGIS_SCRIPT, encoding="utf-8")
    res = subprocess.run(
        [py, str(script), str(tmp_path), *gis], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert res.returncode == 0, res.stderr[-2000:]
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert got["read"] and got["crs"] == CRS
    assert got["groups"] == ["基础地理", "限制因素", "选址评价", "搬迁安置"]
    styles = qgis.styles(gis)
    assert set(got["layers"]) == {s.title for s in styles.values()}
    for name, st in styles.items():
        lyr = got["layers"][st.title]
        assert lyr["valid"] and lyr["crs"] == CRS and lyr["n"] == len(gis[name].frame), name
        assert lyr["renderer"] == ("categorizedSymbol" if st.categories else "singleSymbol"), name
        assert lyr["cats"] == [c.symbol.color for c in st.categories], name
        # opened straight from the GeoPackage, QGIS applies the layer_styles default
        assert got["gpkg"][name]["valid"] and got["gpkg"][name]["renderer"] == lyr["renderer"], name
    assert got["gpkg"]["input_roads"]["cats"] == ["county", "village"]
    sites = gis["sites"].frame
    web = D.ramp(np.where(sites["passed"], sites["score"], np.nan), SCORE_COLORS)  # the web map's fills
    for sid, passed, color in zip(sites["site_id"], sites["passed"], web, strict=True):
        if passed:
            r, g, b = (int(x) for x in got["fills"][sid].split(",")[:3])
            assert f"#{r:02x}{g:02x}{b:02x}" == color, sid


# ------------------------------------------------------------------------------------------- export
def tricky_results(tmp_path: Path) -> Path:
    """A results.gpkg with what Shapefiles and FileGDBs lose: long names, long text, '' and None, group, types."""
    layers = tiny_layers()
    v = layers["input_villages"]
    v["income_per_capita"] = [3200.5, np.nan, 0.0]
    v["poverty_cause"] = ["因病", "缺劳力" * 50, "m² 缺水"]  # 450 bytes in UTF-8, 300 in GB18030: continued
    v["elevation_m"] = pd.array([1200, None, 990], dtype="Int64")
    v["stable_topk"] = [True, False, True]
    v["surveyed"] = pd.to_datetime(["2020-05-01", "2021-06-30", "2019-01-02"])
    v["time_min_county_seat"] = [10.5, 20.25, 30.0]
    v["time_min_county_town"] = [1.0, 2.0, 3.0]  # shortens like the one above: made unique
    folder = tmp_path / "run"
    folder.mkdir()
    gio.write_layers(layers, folder / "results.gpkg")
    return folder


def assert_same_layers(a: dict[str, gpd.GeoDataFrame], b: dict[str, gpd.GeoDataFrame], *, tol: float) -> None:
    assert list(a) == list(b)
    for name in a:
        x, y = a[name].reset_index(drop=True), b[name].reset_index(drop=True)
        pd.testing.assert_frame_equal(
            pd.DataFrame(x.drop(columns=x.geometry.name)), pd.DataFrame(y.drop(columns=y.geometry.name)), obj=name
        )
        same = x.geometry.normalize().geom_equals_exact(y.geometry.normalize(), tolerance=tol)
        assert same.all(), (name, int((~same).sum()))
        assert set(x.geom_type) == set(y.geom_type), name


@pytest.mark.parametrize(("fmt", "encoding"), [("shp", "UTF-8"), ("shp", "GBK"), ("gdb", "UTF-8"), ("gpkg", "UTF-8")])
def test_export_and_reimport_lose_nothing(tmp_path: Path, fmt: str, encoding: str) -> None:
    run = tricky_results(tmp_path)
    source = gio.read_results(run)
    if encoding == "GBK":  # GBK has no m²: refused by name, nothing written
        code, text = invoke("export", str(run), "--format", fmt, "--encoding", "GBK", "--out", str(tmp_path / "x"))
        assert code == 1 and "poverty_cause" in text and "GB18030" in text and not (tmp_path / "x").exists()
        encoding = "GB18030"
    out = tmp_path / "export"
    code, text = invoke("export", str(run), "--format", fmt, "--encoding", encoding, "--out", str(out))
    assert code == 0, text
    assert gio.read_marker(out) is not None and (out / gio.FIELD_MAP_CSV).is_file()
    back = gio.read_export(out)
    # FileGDB keeps coordinates at ArcGIS's default resolution (0.1 mm); the others exactly
    assert_same_layers(source, back, tol=1e-4 if fmt == "gdb" else 0.0)
    record = json.loads((out / gio.FIELD_MAP_JSON).read_text(encoding="utf-8"))
    fields = {(f["layer"], f["field"]): f for f in record["fields"]}
    if fmt == "shp":
        for lname, info in record["layers"].items():
            assert (out / info["file"]).with_suffix(".cpg").read_text() == encoding, lname
            names = pyogrio.read_info(out / info["file"])["fields"]
            assert all(len(n.encode(encoding)) <= 10 for n in names), names
        assert fields[("input_villages", "relocate_households")]["name"] == "reloc_hh"
        assert fields[("input_villages", "group")]["name"] == "group_"
        assert fields[("input_villages", "poverty_cause")]["parts"] == ["pov_caus_2"]
        assert fields[("input_villages", "time_min_county_seat")]["name"] == "tmin_cty"
        assert fields[("input_villages", "time_min_county_town")]["name"] != "tmin_cty"
        dbf = (out / "input_villages.dbf").read_bytes()
        assert "张家塬村".encode(encoding) in dbf
    if fmt == "gdb":
        assert pyogrio.read_info(out / "results.gdb", layer="input_villages")["fields"].tolist().count("group_") == 1
    csv = pd.read_csv(out / gio.FIELD_MAP_CSV, encoding="utf-8-sig", keep_default_na=False)
    assert list(csv.columns) == ["layer", "field", "name_in_file", "type", "continued_in"]
    assert len(csv) == len(record["fields"])


def test_the_layer_reader_knows_the_short_names(tmp_path: Path) -> None:
    run = tricky_results(tmp_path)
    for fmt in ("shp", "gdb"):
        out = tmp_path / fmt
        assert invoke("export", str(run), "--format", fmt, "--out", str(out))[0] == 0
        file = out / ("input_villages.shp" if fmt == "shp" else "results.gdb")
        raw = gio.read_vector(file, layer=None if fmt == "shp" else "input_villages")
        renamed, mapping = rename_columns(raw, SCHEMAS["villages"])
        assert {"relocate_households", "relocate_persons", "poor_households", "group"} - set(renamed.columns) == {
            "poor_households"
        }
        if fmt == "shp":
            assert mapping["reloc_hh"] == "relocate_households" and mapping["group_"] == "group"
            assert mapping["income_pc"] == "income_per_capita"
        else:
            assert mapping == {"group_": "group"}
        assert list(renamed["relocate_households"]) == [30, 0, 5]
    assert all(len(s) <= 10 for s in SHORT_FIELD_NAMES.values())
    long_schema = {c.name for s in SCHEMAS.values() for c in s.columns if len(c.name) > 10}
    assert long_schema <= set(SHORT_FIELD_NAMES)  # every long input column has a documented short name


def test_export_refuses_to_replace_a_folder_it_did_not_write(tmp_path: Path) -> None:
    run = tricky_results(tmp_path)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep", encoding="utf-8")
    code, text = invoke("export", str(run), "--format", "gpkg", "--out", str(mine), "--overwrite")
    assert code == 1 and (mine / "notes.txt").read_text(encoding="utf-8") == "keep"
    code, text = invoke("export", str(tmp_path), "--format", "gpkg", "--out", str(tmp_path / "o"))
    assert code == 1 and "results.gpkg" in text


# --------------------------------------------------------------------------------------------- XLSX
def test_workbook_for_officials_reads_back_with_its_layout(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {
            "township": ["城关镇", '=HYPERLINK("x")', "李家塬乡"],
            "persons": [12_345, 6, 789],
            "subsidy_yuan": [1_234_567.0, 89.0, 0.0],
            "land_area_m2": [66_666.7, 10.0, 0.0],
            "persons_share": [0.5, 0.25, 0.25],
        }
    )
    sheet = workbook_sheet(df, "budget_township")
    assert sheet.title == "乡镇补助资金" == sheet_title("budget_township")
    assert sheet_title("site_load") == "安置点容量利用" and sheet_title("no_such_table") == "no_such_table"
    p = gio.write_xlsx(
        {sheet.title: sheet.frame},
        tmp_path / "t.xlsx",
        headers_en={sheet.title: sheet.headers_en},
        number_formats={sheet.title: sheet.number_formats},
    )
    wb = load_workbook(p)
    assert wb.sheetnames == ["乡镇补助资金"]
    ws = wb["乡镇补助资金"]
    head = [c.value for c in ws[1]]
    assert all(c.font.b for c in ws[1]) and all(c.font.b for c in ws[2]) and not ws["A3"].font.b
    assert ws.freeze_panes == "A3"
    assert ws.auto_filter.ref == f"A2:{chr(ord('A') + len(head) - 1)}5"  # on the English row, over the data
    col = {h: chr(ord("A") + i) for i, h in enumerate(head)}
    fmt = {h: ws[f"{col[h]}3"].number_format for h in head}
    assert fmt[head[1]] == "#,##0"  # persons
    yuan = next(h for h in head if h.endswith("(元)"))
    wan = next(h for h in head if h.endswith("(万元)"))
    mu = next(h for h in head if h.endswith("(亩)"))
    assert (fmt[yuan], fmt[wan], fmt[mu]) == ("#,##0", "#,##0.00", "#,##0.00")
    assert ws[f"{col[wan]}3"].value == pytest.approx(123.4567)
    assert fmt[head[-1]] == "General"  # a share is no count
    # widths fitted: the township column counts CJK double, the formula text is text
    assert ws.column_dimensions["A"].width == stored_width(max(len('=HYPERLINK("x")'), 2 * len("李家塬乡"), 2 * 2) + 2)
    en = ws[f"{col[wan]}2"].value  # the English header, wider than its numbers ("123.46")
    assert ws.column_dimensions[col[wan]].width == stored_width(max(gio.text_width(wan), len(en)) + 2)
    assert ws["A4"].data_type == "s" and ws["A4"].value == '=HYPERLINK("x")'  # string cell, never a formula
    widths = {k: v.width for k, v in ws.column_dimensions.items()}
    assert all(stored_width(6) <= w <= stored_width(gio.XLSX_MAX_WIDTH) for w in widths.values())


def stored_width(chars: float) -> float:
    """The ``<col width>`` Excel stores for a column ``chars`` digits wide (ECMA-376 §18.3.1.13, Calibri 11: 7 px
    a digit, 5 px padding); Excel shows ``chars`` as the width."""
    return math.trunc((chars * 7 + 5) / 7 * 256) / 256


def test_number_formats_by_unit() -> None:
    assert number_format("total_yuan") == "#,##0" and number_format("total_wan_yuan") == "#,##0.00"
    assert number_format("land_area_mu") == "#,##0.00" and number_format("relocate_persons") == "#,##0"
    assert number_format("households") == "#,##0" and number_format("persons_share") is None
    assert number_format("year") is None and number_format("time_min") is None


def test_export_field_names_follow_the_documented_rules() -> None:
    cols = ["relocate_households", "group", "Group", "time_min_school", "2nd", "村民小组名称", "persons", "Persons"]
    shp = gio.export_field_names(cols, fmt="shp", encoding="UTF-8")
    assert shp["relocate_households"] == "reloc_hh" and shp["group"] == "group_" and shp["Group"] == "Group_2"
    assert shp["time_min_school"] == "tmin_sch" and shp["2nd"] == "f2nd"
    assert gio.export_field_names(["dist_m_county_seat"], fmt="shp") == {"dist_m_county_seat": "dm_cty"}
    assert shp["村民小组名称"] == "村民小"  # 9 of 10 bytes in UTF-8: a fourth character would not fit
    assert gio.export_field_names(["村民小组名称"], fmt="shp", encoding="GBK") == {"村民小组名称": "村民小组名"}
    assert shp["persons"] == "persons" and shp["Persons"] == "Persons_2"  # names equal but for case
    gdb = gio.export_field_names(cols, fmt="gdb")
    assert gdb["relocate_households"] == "relocate_households" and gdb["group"] == "group_"
    gpkg = gio.export_field_names(cols, fmt="gpkg")  # kept, but SQLite ignores case too
    assert gpkg == {**{c: c for c in cols}, "Group": "Group_2", "Persons": "Persons_2"}


def test_column_width_counts_cjk_double() -> None:
    assert gio.text_width("abc") == 3 and gio.text_width("搬迁户数") == 8 and gio.text_width("Ａ") == 2


# --------------------------------------------------------------------------------------- demo run
@pytest.mark.slow
def test_demo_run_results_open_as_gis_layers(demo_run: tuple[Path, Path]) -> None:
    _, out = demo_run
    gpkg = out / "results.gpkg"
    with sqlite3.connect(gpkg) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == 10200
    rows = style_rows(gpkg)
    layers = [(str(n), str(t)) for n, t in pyogrio.list_layers(gpkg) if n != "layer_styles"]
    assert sorted(rows["f_table_name"]) == sorted(n for n, _ in layers)
    for name, gtype in layers:  # one declared type per layer, every feature of it
        assert gtype != "Unknown", name
        types = set(pyogrio.read_dataframe(gpkg, layer=name, read_geometry=True).geom_type)
        assert {gio.GEOM_FAMILY[t] for t in types} == {gio.GEOM_FAMILY[gtype]}, name
    power = pyogrio.read_info(gpkg, layer="input_power_lines")
    assert power["geometry_type"] == "LineString" and power["features"] == 228  # QGIS hid all of them before
    with zipfile.ZipFile(out / "results.qgz") as z:
        root = ET.fromstring(z.read("results.qgs").decode("utf-8").split("\n", 1)[1])
    assert root.findtext("projectCrs/spatialrefsys/authid") == "EPSG:4545"
    groups = [g.get("name") for g in root.find("layer-tree-group").findall("layer-tree-group")]  # type: ignore
    assert groups == ["基础地理", "现状设施", "限制因素", "选址评价", "搬迁安置", "规划建设"]
    assert {ml.findtext("datasource") for ml in root.iter("maplayer")} == {
        f"./results.gpkg|layername={n}" for n, _ in layers
    }
    wb = load_workbook(out / "tables.xlsx", read_only=True)
    assert {"搬迁任务表", "安置点排序", "全县补助资金", "安置点容量利用"} <= set(wb.sheetnames)
    assert not [n for n in wb.sheetnames if n.isascii()]  # every sheet named in Chinese


@pytest.mark.slow
def test_demo_results_export_to_shapefile_and_filegdb_and_back(demo_run: tuple[Path, Path], tmp_path: Path) -> None:
    _, out = demo_run
    source = gio.read_results(out)
    for fmt in ("shp", "gdb"):
        dest = tmp_path / fmt
        code, text = invoke("export", str(out), "--format", fmt, "--out", str(dest))
        assert code == 0, text
        assert_same_layers(source, gio.read_export(dest), tol=1e-4 if fmt == "gdb" else 0.0)
    sites = json.loads((tmp_path / "shp" / gio.FIELD_MAP_JSON).read_text(encoding="utf-8"))
    continued = {f["field"] for f in sites["fields"] if f["parts"] and f["layer"] == "sites"}
    assert "capacity_norm" in continued  # over 254 bytes in the demo: kept whole across two fields
    assert os.path.getsize(tmp_path / "shp" / "sites.dbf") > 0
