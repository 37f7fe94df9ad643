"""Layer validation: every problem class gets a message naming the layer, the feature id and the fix."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, Point, Polygon

from geofupin import io as gio
from geofupin.errors import LayerError, Problems
from geofupin.layers import SCHEMAS, prepare_layers, validate_layer

LON, LAT = 109.32, 36.86  # Ansai


def villages(**overrides: object) -> gpd.GeoDataFrame:
    data = {
        "village_id": ["v1", "v2", "v3"],
        "name": ["张家塬村", "曹家洼村", "南塔村"],
        "township": ["王家湾乡"] * 3,
        "households": [40, 30, 20],
        "persons": [150, 100, 70],
        "relocate_households": [10, 0, 5],
        "relocate_persons": [36, 0, 18],
    }
    data.update(overrides)  # type: ignore[arg-type]
    pts = [Point(LON + 0.01 * i, LAT + 0.01 * i) for i in range(3)]
    return gpd.GeoDataFrame(data, geometry=pts, crs=4490)


def errors_of(raw: dict[str, gpd.GeoDataFrame]) -> list[str]:
    with pytest.raises(LayerError) as info:
        prepare_layers(raw)
    return [str(p) for p in info.value.problems if p.severity == "error"]


def test_chinese_column_names_are_recognised_and_projected() -> None:
    v = villages().rename(
        columns={
            "name": "村名",
            "households": "户数",
            "persons": "人数",
            "township": "乡镇",
            "relocate_households": "搬迁户数",
            "relocate_persons": "搬迁人数",
        }
    )
    layers = prepare_layers({"villages": v})
    assert layers.crs.to_epsg() == 4545
    out = layers.villages
    assert list(out["name"]) == ["张家塬村", "曹家洼村", "南塔村"]
    assert out["persons"].tolist() == [150, 100, 70] and out["persons"].dtype == np.int64
    assert out["poor_persons"].tolist() == [0, 0, 0]
    # 109.32E lies 1.32 degrees east of CM 108E: about 117 km east of the false easting 500 km
    assert 615_000 < out.geometry.x.iloc[0] < 620_000
    assert v.columns[0] == "village_id" and "村名" in v.columns  # input not modified


def test_missing_crs() -> None:
    v = villages().set_crs(None, allow_override=True)
    errs = errors_of({"villages": v})
    assert any("villages: the layer has no CRS" in e and "EPSG:4490" in e for e in errs)


def test_missing_column_with_suggestion() -> None:
    v = villages().rename(columns={"persons": "person"})
    errs = errors_of({"villages": v})
    assert any("missing column 'persons' (did you mean 'person'?)" in e and "人数" in e for e in errs)


def test_mistyped_and_negative_counts_name_the_feature() -> None:
    v = villages(households=[40, "many", -3])
    errs = errors_of({"villages": v})
    assert any("[id v2]" in e and "'households' must be a number" in e and "'many'" in e for e in errs)
    assert any("[id v3]" in e and "negative households (-3)" in e for e in errs)


def test_persons_fewer_than_households() -> None:
    errs = errors_of({"villages": villages(persons=[150, 20, 70])})
    assert any("[id v2]" in e and "persons < households (persons=20, households=30)" in e for e in errs)


def test_relocating_more_than_living_there() -> None:
    errs = errors_of({"villages": villages(relocate_persons=[36, 0, 80])})
    assert any("[id v3]" in e and "relocate_persons > persons" in e for e in errs)


def test_duplicate_ids() -> None:
    errs = errors_of({"villages": villages(village_id=["v1", "v1", "v3"])})
    assert any("duplicate village_id: v1" in e and "unique" in e for e in errs)


def test_wrong_geometry_type() -> None:
    v = villages()
    v.loc[1, "geometry"] = Polygon([(LON, LAT), (LON + 0.01, LAT), (LON, LAT + 0.01)])
    errs = errors_of({"villages": v})
    assert any("[id v2]" in e and "geometry type Polygon" in e and "expected point" in e for e in errs)


def test_empty_layer_and_missing_geometry() -> None:
    v = villages()
    v.loc[2, "geometry"] = None
    errs = errors_of({"villages": v, "roads": gpd.GeoDataFrame({"road_class": []}, geometry=[], crs=4490)})
    assert any("roads: the layer is empty" in e for e in errs)
    assert any("[id v3]" in e and "no geometry" in e for e in errs)


def test_invalid_polygon_is_repaired_with_a_warning() -> None:
    bow = Polygon([(LON, LAT), (LON + 0.02, LAT + 0.02), (LON + 0.02, LAT), (LON, LAT + 0.02)])
    cand = gpd.GeoDataFrame({"site_id": ["s1"], "name": ["城北安置点"]}, geometry=[bow], crs=4490)
    p = Problems()
    out = validate_layer(cand, "candidates", p)
    assert out is not None and out.geometry.is_valid.all()
    assert out.geometry.values[0].area == pytest.approx(0.0002, rel=1e-6)  # two triangles of 0.0001 deg2
    w = p.warnings[0]
    assert w.feature_id == "s1" and "Self-intersection" in w.message and "make_valid" in w.message


def test_unknown_class_value_and_chinese_classes() -> None:
    roads = gpd.GeoDataFrame(
        {"road_id": ["r1", "r2", "r3"], "等级": ["县道", "primary", "高架路"], "路面": ["水泥", "碎石", "土"]},
        geometry=[LineString([(LON, LAT), (LON + 0.01, LAT)])] * 3,
        crs=4490,
    )
    p = Problems()
    out = validate_layer(roads, "roads", p)
    assert out is None
    assert any("'高架路' not allowed" in e.message and e.feature_id == "r3" for e in p.errors)
    roads.loc[2, "等级"] = "村道"
    out = validate_layer(roads, "roads", Problems())
    assert out is not None
    assert out["road_class"].tolist() == ["county", "provincial", "village"]
    assert out["surface"].tolist() == ["paved", "gravel", "earth"]


def test_features_outside_study_area() -> None:
    b = gpd.GeoDataFrame(
        {"name": ["王家湾乡"], "level": ["township"]},
        geometry=[Point(LON, LAT).buffer(0.05)],
        crs=4490,
    )
    v = villages()
    v.loc[2, "geometry"] = Point(LON + 1.0, LAT)
    errs = errors_of({"villages": v, "boundaries": b})
    assert any("[id v3]" in e and "outside the study area" in e and "lon/lat swapped" in e for e in errs)


def test_every_problem_of_every_layer_at_once() -> None:
    v = villages(households=[40, -1, 20], village_id=["a", "a", "c"])
    r = gpd.GeoDataFrame({"road_class": ["县道"]}, geometry=[Point(LON, LAT)], crs=4490)
    errs = errors_of({"villages": v, "roads": r, "facilitis": v})
    assert any("unknown layer kind 'facilitis' (did you mean 'facilities'?)" in e for e in errs)
    assert any("duplicate village_id" in e for e in errs)
    assert any("negative households" in e for e in errs)
    assert any(e.startswith("error: roads") and "geometry type Point" in e for e in errs)


def test_readers_csv_shapefile_gbk_geoparquet_geojson(tmp_path: Path) -> None:
    v = villages()
    csv = tmp_path / "v.csv"
    frame = v.drop(columns="geometry").assign(经度=v.geometry.x, 纬度=v.geometry.y)
    frame.to_csv(csv, index=False, encoding="gbk")
    with pytest.raises(ValueError, match="encoding: GBK"):
        gio.read_vector(csv)
    got = gio.read_vector(csv, encoding="gbk")
    assert got["name"].tolist() == ["张家塬村", "曹家洼村", "南塔村"] and got.crs.to_epsg() == 4326
    assert got.geometry.x.tolist() == pytest.approx(v.geometry.x.tolist())
    shp = tmp_path / "v.shp"
    with pytest.warns((UserWarning, RuntimeWarning)):  # the .dbf truncates long field names
        v.to_file(shp, encoding="gbk")
    from_shp = gio.read_vector(shp, encoding="GBK")
    assert from_shp["name"].iloc[0] == "张家塬村"
    # field names cut to 10 characters by the .dbf still map back to the schema
    assert validate_layer(from_shp, "villages", Problems())["relocate_persons"].tolist() == [36, 0, 18]
    pq = tmp_path / "v.parquet"
    gio.write_vector(v, pq)
    assert gio.read_vector(pq)["persons"].tolist() == [150, 100, 70]
    gj = tmp_path / "v.geojson"
    gio.write_vector(v, gj)
    assert gio.read_vector(gj)["village_id"].tolist() == ["v1", "v2", "v3"]


def test_schemas_cover_every_layer_kind() -> None:
    from geofupin.vocabulary import LAYER_KINDS

    assert set(SCHEMAS) == set(LAYER_KINDS)
    for schema in SCHEMAS.values():
        assert schema.id_column in {c.name for c in schema.columns}


def _dem(path: Path, west: float, north: float, *, crs: str | None = "EPSG:4326") -> Path:
    from rasterio.transform import from_origin

    arr = np.full((60, 60), 1200.0, dtype="float32")
    gio.write_raster(arr, path, transform=from_origin(west, north, 0.002, 0.002), crs=crs, nodata=-9999)
    return path


def test_dem_that_misses_or_half_covers_the_study_area(tmp_path: Path) -> None:
    b = gpd.GeoDataFrame(
        {"name": ["王家湾乡"], "level": ["township"]},
        geometry=[Point(LON + 0.02, LAT + 0.02).buffer(0.04)],
        crs=4490,
    )
    raw = {"villages": villages(), "boundaries": b}
    far = _dem(tmp_path / "far.tif", LON + 5, LAT)
    with pytest.raises(LayerError, match="does not overlap the study area"):
        prepare_layers(raw, dem=far)
    # the DEM (0.12 degrees square) ends at the township's centre meridian: half covered, a warning
    half = _dem(tmp_path / "half.tif", LON + 0.02 - 0.12, LAT + 0.08)
    p = Problems()
    layers = prepare_layers(raw, dem=half, problems=p)
    assert layers.dem == half
    (w,) = [x for x in p.warnings if x.where == "dem"]
    share = int(w.message.split("covers only ")[1].split("%")[0])
    assert 40 <= share <= 60
    with pytest.raises(LayerError, match="does not exist"):
        prepare_layers(raw, dem=tmp_path / "missing.tif")
    with pytest.raises(LayerError, match="has no CRS"):
        prepare_layers(raw, dem=_dem(tmp_path / "nocrs.tif", LON, LAT, crs=None))


def test_roads_without_class_are_accepted_for_the_default_speed() -> None:
    roads = gpd.GeoDataFrame(
        {"road_id": ["r1", "r2"], "等级": ["县道", None]},
        geometry=[LineString([(LON, LAT), (LON + 0.01, LAT)])] * 2,
        crs=4490,
    )
    out = validate_layer(roads, "roads", Problems())
    assert out is not None and out["road_class"].iloc[0] == "county" and out["road_class"].isna().iloc[1]


def test_gbk_read_as_latin1_is_flagged() -> None:
    v = villages()
    v["name"] = [n.encode("gbk").decode("latin-1") for n in v["name"]]
    p = Problems()
    assert validate_layer(v, "villages", p) is not None
    (w,) = [x for x in p.warnings if "mis-decoded" in x.message]
    assert "'name'" in w.message and "encoding: GBK" in w.fix
    p2 = Problems()
    validate_layer(villages(), "villages", p2)
    assert not [x for x in p2.warnings if "mis-decoded" in x.message]
