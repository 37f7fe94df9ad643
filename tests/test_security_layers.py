"""Bad layer data gets a named error (layer, feature id, value, fix), never a traceback or silent nonsense.

Each case is a tiny hand-made county written to ``tmp_path`` and read back through the same readers
and checks a run uses (``geofupin check`` / ``geofupin run`` through the CLI where the exit code
matters). Issue 10, section 4 (the layer-data cases).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from demo_helpers import invoke
from rasterio.transform import from_origin
from shapely.geometry import LineString, Point, Polygon, box

from geofupin import io as gio
from geofupin import pipeline
from geofupin import scenario as scenario_mod
from geofupin.accessibility import nearest, od_matrix
from geofupin.errors import DataError, LayerError, Problems
from geofupin.layers import MAX_COUNTS, prepare_layers, validate_layer
from geofupin.network import build, snap
from geofupin.terrain import dem_info, dem_valid_share

LON, LAT = 109.32, 36.86  # Ansai, Shaanxi (EPSG:4545 is its Gauss-Kruger zone)


def villages_frame(geometry: list | None = None, **columns: object) -> gpd.GeoDataFrame:
    data: dict[str, object] = {
        "village_id": ["v1", "v2", "v3"],
        "name": ["张家塬村", "曹家洼村", "南塔村"],
        "households": [40, 30, 20],
        "persons": [150, 100, 70],
        "relocate_households": [10, 0, 5],
        "relocate_persons": [36, 0, 18],
    }
    data.update(columns)
    geom = geometry if geometry is not None else [Point(LON + 0.01 * i, LAT + 0.01 * i) for i in range(3)]
    return gpd.GeoDataFrame(data, geometry=geom, crs=4490)


def roads_frame(lines: list | None = None, *, crs: int = 4490) -> gpd.GeoDataFrame:
    lines = lines or [
        LineString([(LON - 0.01, LAT - 0.01), (LON + 0.05, LAT + 0.05)]),
        LineString([(LON, LAT + 0.03), (LON + 0.03, LAT)]),
    ]
    ids = [f"r{i + 1}" for i in range(len(lines))]
    return gpd.GeoDataFrame({"road_id": ids, "road_class": "county"}, geometry=lines, crs=crs)


def candidates_frame(first: Polygon | None = None) -> gpd.GeoDataFrame:
    geoms = [
        first or box(LON + 0.005, LAT + 0.005, LON + 0.008, LAT + 0.008),
        box(LON + 0.025, LAT + 0.025, LON + 0.028, LAT + 0.028),
    ]
    return gpd.GeoDataFrame({"site_id": ["s1", "s2"], "name": ["城北安置点", "河湾安置点"]}, geometry=geoms, crs=4490)


def county(
    root: Path,
    *,
    villages: gpd.GeoDataFrame | None = None,
    roads: gpd.GeoDataFrame | None = None,
    candidates: gpd.GeoDataFrame | None = None,
    extra_layers: dict[str, gpd.GeoDataFrame] | None = None,
    dem: Path | None = None,
) -> Path:
    """Write a three-village county and a scenario that runs on it (no DEM, water or power needed)."""
    root.mkdir(parents=True, exist_ok=True)
    layers = {
        "villages": villages if villages is not None else villages_frame(),
        "roads": roads if roads is not None else roads_frame(),
        "candidates": candidates if candidates is not None else candidates_frame(),
        **(extra_layers or {}),
    }
    lines = []
    for kind, gdf in layers.items():
        gio.write_vector(gdf, root / f"{kind}.gpkg", layer=kind)
        lines.append(f"  {kind}: {kind}.gpkg")
    if dem is not None:
        lines.append(f"  dem: {dem.as_posix()}")
    body = "\n".join(lines)
    text = f"""name: t
title: {{zh: 测试县}}
layers:
{body}
outputs: {{dir: out, static_maps: []}}
siting:
  criteria: [{{name: dist_road_m}}, {{name: buildable_area_m2}}]
  rules: {{max_slope_deg: null, max_dist_water_m: null, max_dist_power_m: null, max_time_town_min: null, outside: []}}
"""
    (root / "s.yaml").write_text(text, encoding="utf-8")
    return root / "s.yaml"


def load(scenario: Path):
    return pipeline.load_inputs(scenario_mod.load(scenario))


def errors(exc: LayerError) -> list[str]:
    return [str(p) for p in exc.problems if p.severity == "error"]


def test_the_tiny_county_itself_checks_clean(tmp_path: Path) -> None:
    code, text = invoke("check", str(county(tmp_path)))
    assert code == 0, text
    assert "0 error(s)" in text


# --------------------------------------------------------------------------- coordinates
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_village_coordinate_in_a_geopackage(tmp_path: Path, bad: float) -> None:
    pts = [Point(LON, LAT), Point(bad, LAT + 0.01), Point(LON + 0.02, LAT + 0.02)]
    s = county(tmp_path, villages=villages_frame(pts))
    code, text = invoke("check", str(s))
    assert code == 1
    assert "villages (villages.gpkg) [id v2]" in text
    assert "not a finite number" in text and f"x={bad}" in text
    assert "Traceback" not in text and "GEOSException" not in text
    code, text = invoke("-q", "run", str(s))
    assert code == 1 and "[id v2]" in text and not (tmp_path / "out").exists()


def test_nan_polygon_vertex_and_nan_road_vertex_are_named_together(tmp_path: Path) -> None:
    with np.errstate(invalid="ignore"):  # numpy warns when shapely builds a NaN vertex
        ring = Polygon([(LON, LAT), (LON + 0.01, LAT), (np.nan, LAT + 0.01)])
        line = LineString([(LON - 0.01, LAT - 0.01), (np.nan, LAT + 0.05)])
    roads = roads_frame([line, LineString([(LON, LAT + 0.03), (LON + 0.03, LAT)])])
    s = county(tmp_path, roads=roads, candidates=candidates_frame(ring))
    with pytest.raises(LayerError) as info:
        load(s)
    errs = errors(info.value)
    assert any(e.startswith("error: candidates (candidates.gpkg) [id s1]") and "x=nan" in e for e in errs), errs
    assert any(e.startswith("error: roads (roads.gpkg) [id r1]") and "x=nan" in e for e in errs), errs
    assert all("Fix:" in e for e in errs)


@pytest.mark.parametrize("geom", [None, Point()], ids=["none", "empty"])
def test_none_and_empty_geometries(geom: object) -> None:
    v = villages_frame([Point(LON, LAT), geom, Point(LON + 0.02, LAT + 0.02)])
    p = Problems()
    assert validate_layer(v, "villages", p) is None
    (e,) = p.errors
    assert e.where == "villages" and e.feature_id == "v2" and "no geometry" in e.message


def test_swapped_lon_lat_in_a_geographic_layer_is_named_with_the_hint() -> None:
    v = villages_frame([Point(LON, LAT), Point(LAT, LON), Point(LON + 0.02, LAT + 0.02)])
    p = Problems()
    assert validate_layer(v, "villages", p) is None
    (e,) = p.errors
    assert e.feature_id == "v2" and "lon/lat swapped?" in e.message and "(36.86, 109.32)" in e.message


def test_metres_in_a_layer_that_declares_lon_lat() -> None:
    v = villages_frame([Point(617_000, 4_080_000 + i) for i in range(3)])
    p = Problems()
    assert validate_layer(v, "villages", p) is None
    (e,) = p.errors
    assert "look like metres" in e.message and "EPSG:4490" in e.message and e.feature_id == "v1"


def test_village_beyond_the_reach_of_the_run_crs() -> None:
    # 90 degrees of longitude west of the zone's central meridian (108E): Gauss-Kruger gives no finite coordinate
    v = villages_frame([Point(LON, LAT), Point(LON + 0.01, LAT), Point(18.0, 0.0)])
    with pytest.raises(LayerError) as info:
        prepare_layers({"villages": v}, crs="EPSG:4545")
    (e,) = errors(info.value)
    assert "villages [id v3]" in e and "cannot be projected to the run CRS EPSG:4545" in e


# --------------------------------------------------------------------------- counts
@pytest.mark.parametrize(
    ("column", "value", "shown"),
    [
        ("persons", np.inf, "inf"),
        ("persons", 1e15, "1,000,000,000,000,000"),
        ("households", 10**12, "1,000,000,000,000"),
    ],
)
def test_counts_must_be_finite_and_below_the_village_ceiling(tmp_path: Path, column: str, value, shown) -> None:
    cols: dict[str, object] = {
        column: [40 if column == "households" else 150, value, 20 if column == "households" else 70]
    }
    if column == "households":
        cols["persons"] = [150, 2 * 10**12, 70]
    s = county(tmp_path, villages=villages_frame(**cols))
    code, text = invoke("check", str(s))
    assert code == 1
    line = next(x for x in text.splitlines() if f"{column} " in x or f"'{column}'" in x)
    assert "villages (villages.gpkg) [id v2]" in line and shown in line and "Fix:" in line
    assert "HiGHS" not in text and "Traceback" not in text
    if not np.isinf(value):
        assert f"{MAX_COUNTS[column]:,}" in line
    assert "is empty" not in text  # the refused value is reported once, not again as a missing one


def test_persons_at_the_ceiling_are_accepted_and_fractional_counts_refused() -> None:
    ok = villages_frame(persons=[150, MAX_COUNTS["persons"], 70], households=[40, 250_000, 20])
    assert validate_layer(ok, "villages", Problems()) is not None
    p = Problems()
    assert validate_layer(villages_frame(households=[40, 30.5, 20]), "villages", p) is None
    (e,) = p.errors
    assert e.feature_id == "v2" and "30.5" in e.message and "whole number" in e.message


# --------------------------------------------------------------------------- DEM
def _dem(path: Path, value: float | None = None) -> Path:
    rng = np.random.default_rng(1)
    arr = (
        rng.uniform(1000, 1300, (600, 600)).astype("float32")
        if value is None
        else np.full((600, 600), value, "float32")
    )
    tf = from_origin(LON - 0.05, LAT + 0.08, 0.0003, 0.0003)
    return gio.write_raster(arr.astype("float32"), path, transform=tf, crs="EPSG:4326", nodata=-9999)


def test_truncated_dem_fails_check_and_dem_info(tmp_path: Path) -> None:
    full = _dem(tmp_path / "full.tif")
    data = full.read_bytes()
    half = tmp_path / "half.tif"
    half.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="truncated"):
        dem_info(half)
    assert dem_info(full).width == 600
    code, text = invoke("check", str(county(tmp_path / "c", dem=half)))
    assert code == 1
    (line,) = [x for x in text.splitlines() if "error: dem" in x]
    assert "half.tif is truncated" in line and f"{len(data) // 2:,} bytes" in line and "again" in line
    code, text = invoke("check", str(county(tmp_path / "ok", dem=full)))
    assert code == 0, text


@pytest.mark.parametrize("value", [-9999.0, np.nan], ids=["nodata", "nan"])
def test_all_nodata_dem_is_an_error(tmp_path: Path, value: float) -> None:
    dem = _dem(tmp_path / "void.tif", value)
    share, cells = dem_valid_share(dem)
    assert share == 0.0 and cells == 360_000
    assert dem_valid_share(_dem(tmp_path / "full.tif"), max_cells=10_000) == (1.0, 10_000)
    code, text = invoke("check", str(county(tmp_path / "c", dem=dem)))
    assert code == 1
    assert "void.tif holds no elevation" in text and "360,000 cells" in text


def test_junk_dem_is_a_named_error(tmp_path: Path) -> None:
    junk = tmp_path / "dem.tif"
    junk.write_bytes(b"II*\x00" + bytes(range(256)) * 4)
    with pytest.raises(DataError, match="cannot read DEM"):
        dem_info(junk)


# --------------------------------------------------------------------------- degenerate roads
def test_roads_of_only_zero_length_lines(tmp_path: Path) -> None:
    lines = [LineString([(LON, LAT), (LON, LAT)]), LineString([(LON + 0.01, LAT), (LON + 0.01, LAT)])]
    s = county(tmp_path, roads=roads_frame(lines))
    code, text = invoke("check", str(s))
    assert code == 1
    (line,) = [x for x in text.splitlines() if "error: roads" in x]
    assert "[id r1]" in line and "r1, r2" in line and "nothing usable is left" in line
    code, text = invoke("-q", "run", str(s))
    assert code == 1 and "IndexError" not in text


def test_a_zero_length_road_among_good_ones_is_dropped_with_a_warning() -> None:
    lines = [
        LineString([(LON - 0.01, LAT - 0.01), (LON + 0.05, LAT + 0.05)]),
        LineString([(LON, LAT), (LON, LAT)]),
        LineString([(LON, LAT + 0.03), (LON + 0.03, LAT)]),
    ]
    p = Problems()
    layers = prepare_layers({"villages": villages_frame(), "roads": roads_frame(lines)}, problems=p)
    assert list(layers.roads["road_id"]) == ["r1", "r3"]
    (w,) = [x for x in p.warnings if x.where == "roads"]
    assert w.feature_id == "r2" and "dropped" in w.message and "zero length" in w.message


def test_a_polygon_that_collapses_to_a_line_is_dropped() -> None:
    flat = Polygon([(LON, LAT), (LON + 0.01, LAT), (LON + 0.02, LAT)])  # three collinear points
    p = Problems()
    out = validate_layer(candidates_frame(flat), "candidates", p)
    assert out is not None and list(out["site_id"]) == ["s2"]
    assert [w.feature_id for w in p.warnings] == ["s1"]


# --------------------------------------------------------------------------- degrees under a metric CRS
def test_roads_in_lon_lat_declaring_a_metric_crs_fail_check_and_run(tmp_path: Path) -> None:
    s = county(tmp_path, roads=roads_frame(crs=4545))
    code, text = invoke("check", str(s))
    assert code == 1
    (line,) = [x for x in text.splitlines() if "error: roads" in x]
    assert "declared CRS EPSG:4545" in line and "look like longitude/latitude" in line
    assert "Fix: set crs: EPSG:4326 on this layer" in line
    code, text = invoke("-q", "run", str(s))
    assert code == 1 and not (tmp_path / "out").exists()


def test_line_and_polygon_layers_entirely_outside_the_study_area(tmp_path: Path) -> None:
    far = 0.5  # degrees east: about 45 km beyond the villages' 5 km hull
    water = gpd.GeoDataFrame(
        {"water_id": ["w1"], "kind": ["river"]},
        geometry=[LineString([(LON + far, LAT), (LON + far, LAT + 0.05)])],
        crs=4490,
    )
    cons = gpd.GeoDataFrame(
        {"constraint_id": ["c1"], "kind": ["basic_farmland"]},
        geometry=[box(LON + far, LAT, LON + far + 0.01, LAT + 0.01)],
        crs=4490,
    )
    near_water = gpd.GeoDataFrame(
        {"water_id": ["w1"], "kind": ["river"]},
        geometry=[LineString([(LON + 0.005, LAT - 0.2), (LON + 0.005, LAT + 0.2)])],  # runs through and beyond
        crs=4490,
    )
    with pytest.raises(LayerError) as info:
        prepare_layers({"villages": villages_frame(), "water": water, "constraints": cons})
    errs = {p.where: p.message for p in info.value.problems if p.severity == "error"}
    assert set(errs) == {"water", "constraints"}
    assert all("the whole layer lies outside the study area" in m for m in errs.values())
    assert prepare_layers({"villages": villages_frame(), "water": near_water}).water is not None


# --------------------------------------------------------------------------- reader messages
def test_swapped_csv_coordinates_name_the_layer_the_lines_and_the_swap(tmp_path: Path) -> None:
    root = tmp_path / "c"
    s = county(root)
    csv = root / "villages.csv"
    csv.write_text(
        "village_id,name,households,persons,lon,lat\n"
        "v1,张家塬村,40,150,109.32,36.86\n"
        "v2,曹家洼村,30,100,36.87,109.33\n"
        "v3,南塔村,20,70,36.88,109.34\n",
        encoding="utf-8",
    )
    s.write_text(s.read_text(encoding="utf-8").replace("villages.gpkg", "villages.csv"), encoding="utf-8")
    code, text = invoke("check", str(s))
    assert code == 1
    (line,) = [x for x in text.splitlines() if "error: layers.villages" in x]
    assert "villages.csv" in line and "lines 3, 4" in line and "lon/lat swapped?" in line
    assert "lon=36.87, lat=109.33" in line and "is not a longitude/latitude" not in text
    assert line.count("Fix:") == 1 and "Fix: swap the two columns" in line


def test_csv_with_metres_under_the_default_lon_lat(tmp_path: Path) -> None:
    p = tmp_path / "v.csv"
    p.write_text("village_id,name,households,persons,x,y\nv1,a,1,2,617000,4080000\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"line 2 .*look like metres.*EPSG:4545"):
        gio.read_vector(p)
    assert gio.read_vector(p, crs="EPSG:4545").geometry.x.iloc[0] == 617000


def test_csv_with_an_infinite_coordinate(tmp_path: Path) -> None:
    p = tmp_path / "v.csv"
    p.write_text("village_id,name,households,persons,lon,lat\nv1,a,1,2,109.3,36.9\nv2,b,1,2,inf,36.9\n", "utf-8")
    with pytest.raises(DataError, match="no numeric \\(finite\\) lon/lat at line 3"):
        gio.read_vector(p)


@pytest.mark.parametrize("part", [".dbf", ".shx"])
def test_shapefile_missing_a_part_names_the_file(tmp_path: Path, part: str) -> None:
    shp = tmp_path / "村庄.shp"
    gio.write_vector(villages_frame().drop(columns=["relocate_households", "relocate_persons"]), shp)
    shp.with_suffix(part).unlink()
    with pytest.raises(DataError) as info:
        gio.read_vector(shp)
    msg = str(info.value)
    assert f"村庄{part} (" in msg and "is missing" in msg and "Fix:" in msg
    assert "missing column" not in msg


def test_shapefile_missing_its_prj_says_so(tmp_path: Path) -> None:
    shp = tmp_path / "villages.shp"
    gio.write_vector(villages_frame().drop(columns=["relocate_households", "relocate_persons"]), shp)
    shp.with_suffix(".prj").unlink()
    gdf = gio.read_vector(shp)
    p = Problems()
    validate_layer(gdf, "villages", p, source="villages.shp")
    (e,) = [x for x in p.errors if "CRS" in x.message]
    assert "villages.prj is missing" in e.message and "villages.prj" in e.fix


def test_unknown_crs_string_for_a_layer_is_a_named_error(tmp_path: Path) -> None:
    p = tmp_path / "v.csv"
    p.write_text("village_id,name,households,persons,lon,lat\nv1,a,1,2,109.3,36.9\n", encoding="utf-8")
    with pytest.raises(DataError, match="cannot read the CRS 'CGCS-2000-XYZ'"):
        gio.read_vector(p, crs="CGCS-2000-XYZ")
    # GCJ-02 itself is read (Gaode coordinates, shifted back to WGS84 on load)
    assert gio.read_vector(p, crs="GCJ-02").crs.to_epsg() == 4326


# --------------------------------------------------------------------------- OSM
@pytest.mark.parametrize(
    ("content", "expect"),
    [
        (b"", "is empty (0 bytes)"),
        (bytes(np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8)), "not an OSM PBF file"),
        (b"hello, this is only text\n" * 10, "is text, not PBF"),
        (b'<?xml version="1.0"?>\n<osm version="0.6"></osm>\n', "OSM XML text"),
        (b"<html><body>404</body></html>", "HTML"),
    ],
    ids=["empty", "random", "text", "xml", "html"],
)
def test_import_osm_on_files_that_are_not_pbf(tmp_path: Path, content: bytes, expect: str) -> None:
    pytest.importorskip("osmium")  # the geofupin[osm] extra
    pbf = tmp_path / "county.osm.pbf"
    pbf.write_bytes(content)
    code, text = invoke("import-osm", str(pbf), "--out", str(tmp_path / "layers"))
    assert code == 1, text
    assert expect in text and "county.osm.pbf" in text and "Fix:" in text
    assert not (tmp_path / "layers").exists()


def test_import_osm_on_a_truncated_pbf(tmp_path: Path, shared_data: Path) -> None:
    pytest.importorskip("osmium")  # the geofupin[osm] extra
    src = shared_data / "andorra" / "andorra.osm.pbf"
    cut = tmp_path / "cut.osm.pbf"
    cut.write_bytes(src.read_bytes()[:200_000])
    with pytest.raises(DataError, match=r"cannot read OSM file .*cut\.osm\.pbf.*download"):
        gio.read_osm(cut)


# --------------------------------------------------------------------------- unreachable points
def test_unreachable_point_reads_as_unreachable_not_as_the_last_node() -> None:
    crs = "EPSG:4545"
    roads = gpd.GeoDataFrame(
        {"road_id": ["r1"], "road_class": ["county"]},
        geometry=[LineString([(500_000, 4_000_000), (503_000, 4_000_000)])],
        crs=crs,
    )
    net = build(roads)[0]
    pts = gpd.GeoSeries([Point(500_000, 4_000_100), Point(520_000, 4_020_000)], crs=crs)  # v2: 20 km off-road
    fac = gpd.GeoSeries([Point(503_000, 4_000_050)], crs=crs)
    routing, nodes = net.attach(
        {"villages": snap(net, pts, max_snap_dist_m=1000), "facilities": snap(net, fac, max_snap_dist_m=1000)}
    )
    assert nodes["villages"][1] == -1  # the raw marker of network.attach
    near = nearest(routing, nodes["facilities"])
    at = near.at(nodes["villages"])
    assert np.isinf(at.time_min[1]) and np.isnan(at.dist_m[1]) and at.source[1] == -1
    assert np.isfinite(near.time_min[-1])  # what plain indexing with -1 would have read
    # village 1: 100 m walk in, 3000 m of county road, 50 m walk out; same as the raw array at its node
    assert at.dist_m[0] == pytest.approx(near.dist_m[nodes["villages"][0]]) and at.dist_m[0] > 3000
    assert at.source[0] == 0
    with pytest.raises(DataError, match="not a node of this network"):
        near.at([routing.n_nodes])
    with pytest.raises(DataError, match="not a node of this network"):
        near.at([-2])


def test_list_layers_and_hash_of_unreadable_files_are_named_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.gpkg"
    junk.write_bytes(b"not a geopackage")
    with pytest.raises(DataError, match=r"cannot list the layers of .*junk\.gpkg"):
        gio.list_layers(junk)
    with pytest.raises(DataError, match=r"cannot read .*gone\.tif to hash it"):
        gio.file_sha256(tmp_path / "gone.tif")


def test_huge_value_in_an_integer_column_of_another_layer() -> None:
    # found by tests/test_fuzz.py: layer = 1e300 overflowed the cast to whole numbers
    roads = roads_frame().assign(layer=[0.0, 1e300])
    p = Problems()
    assert validate_layer(roads, "roads", p) is None
    (e,) = p.errors
    assert e.feature_id == "r2" and "layer = " in e.message and f"{2**53:,}" in e.message


def test_nearest_and_od_refuse_nodes_outside_the_network() -> None:
    roads = gpd.GeoDataFrame(
        {"road_id": ["r1"], "road_class": ["county"]},
        geometry=[LineString([(500_000, 4_000_000), (503_000, 4_000_000)])],
        crs="EPSG:4545",
    )
    net = build(roads)[0]
    with pytest.raises(DataError, match="sources: node 7 is not a node of this network"):
        nearest(net, [7])
    with pytest.raises(DataError, match="origins: node -3 is not a node"):
        od_matrix(net, [-3], [0])
    assert np.isinf(od_matrix(net, [-1], [0]).time_min).all()  # -1: unreachable, allowed


def test_run_crs_that_cannot_be_set_is_a_layer_problem() -> None:
    with pytest.raises(LayerError) as info:
        prepare_layers({"villages": villages_frame()}, crs="GCJ-02")
    (e,) = info.value.problems
    assert e.where == "crs" and "GCJ-02" in e.message and "EPSG:4545" in e.fix
    # metric coordinates so large that their centre is no longitude/latitude (finite, below the 1e9 bound)
    far = villages_frame([Point(5e8 + i, 5e8) for i in range(3)]).set_crs(4545, allow_override=True)
    with pytest.raises(LayerError) as info:
        prepare_layers({"villages": far})
    assert [p.where for p in info.value.problems if p.severity == "error"] == ["crs"]


def test_dem_without_georeferencing_is_a_named_error(tmp_path: Path) -> None:
    # found by tests/test_fuzz.py: a damaged header opened with rasterio's NotGeoreferencedWarning (a traceback
    # under warnings-as-errors) and the identity transform, i.e. cells placed nowhere
    import warnings

    import rasterio
    from affine import Affine

    path = tmp_path / "plain.tif"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(
            path, "w", driver="GTiff", width=4, height=4, count=1, dtype="float32", crs="EPSG:4326",
            transform=Affine.identity(),
        ) as dst:  # fmt: skip
            dst.write(np.ones((1, 4, 4), dtype="float32"))
    with pytest.raises(DataError, match="has no georeferencing"):
        dem_info(path)
