"""Atomic, deterministic writes; nothing half-written; inputs never modified."""

from __future__ import annotations

import hashlib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook
from rasterio.transform import from_origin
from shapely.geometry import Point

from geofupin import io as gio
from geofupin.errors import OutputExistsError


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": ["张家塬村", "b"], "n": [1, 2]}, geometry=[Point(0, 0), Point(1, 1)], crs=4545)


def test_atomic_write_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError), gio.atomic_write(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_atomic_dir_refuses_existing_without_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "maps" / "demo"
    with gio.atomic_dir(out) as tmp:
        (tmp / "a.txt").write_text("1")
    assert (out / "a.txt").read_text() == "1"
    with pytest.raises(OutputExistsError, match="--overwrite"), gio.atomic_dir(out):
        pass
    with pytest.raises(ValueError), gio.atomic_dir(out, overwrite=True) as tmp:
        (tmp / "b.txt").write_text("2")
        raise ValueError("failed run")
    assert sorted(p.name for p in out.iterdir()) == [".geofupin", "a.txt"]  # old output intact (with its marker)
    with gio.atomic_dir(out, overwrite=True) as tmp:
        (tmp / "b.txt").write_text("2")
    assert sorted(p.name for p in out.iterdir()) == [".geofupin", "b.txt"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["demo"]  # no temp folders left


def test_geopackage_and_geotiff_are_byte_deterministic(tmp_path: Path) -> None:
    import time

    a = gio.write_layers({"v": frame(), "w": frame()}, tmp_path / "a.gpkg")
    time.sleep(1.1)  # a timestamp would change within this
    b = gio.write_layers({"v": frame(), "w": frame()}, tmp_path / "b.gpkg")
    assert sha(a) == sha(b)
    arr = np.arange(600 * 500, dtype="float32").reshape(600, 500)
    r1 = gio.write_raster(arr, tmp_path / "r1.tif", transform=from_origin(0, 0, 30, 30), crs="EPSG:4545", nodata=-9999)
    r2 = gio.write_raster(arr, tmp_path / "r2.tif", transform=from_origin(0, 0, 30, 30), crs="EPSG:4545", nodata=-9999)
    assert sha(r1) == sha(r2)
    import rasterio

    with rasterio.open(r1) as src:
        assert src.crs.to_epsg() == 4545 and src.nodata == -9999
        assert float(src.read(1)[599, 499]) == 600 * 500 - 1
    assert gio.list_layers(a) == ["v", "w"]


def test_xlsx_reads_back_with_chinese_and_english_headers(tmp_path: Path) -> None:
    df = pd.DataFrame({"乡镇": ["王家湾乡", "真武洞镇"], "户": [103, 21], "人": [369, 96]})
    p = gio.write_xlsx(
        {"township_table": df},
        tmp_path / "t.xlsx",
        headers_en={"township_table": {"乡镇": "township", "户": "households", "人": "persons"}},
    )
    ws = load_workbook(p)["township_table"]
    rows = list(ws.values)
    assert rows[0] == ("乡镇", "户", "人") and rows[1] == ("township", "households", "persons")
    assert rows[2:] == [("王家湾乡", 103, 369), ("真武洞镇", 21, 96)]
    import time

    time.sleep(2.1)  # zip entry times have a 2-second resolution
    p2 = gio.write_xlsx(
        {"township_table": df},
        tmp_path / "t2.xlsx",
        headers_en={"township_table": {"乡镇": "township", "户": "households", "人": "persons"}},
    )
    assert sha(p) == sha(p2)


def test_csv_has_bom_for_excel(tmp_path: Path) -> None:
    p = gio.write_csv(pd.DataFrame({"村": ["张家塬村"]}), tmp_path / "t.csv")
    assert p.read_bytes().startswith(b"\xef\xbb\xbf")
    assert pd.read_csv(p, encoding="utf-8-sig")["村"].tolist() == ["张家塬村"]


def test_yaml_line_numbers(tmp_path: Path) -> None:
    p = tmp_path / "s.yaml"
    p.write_text("name: x\nlayers:\n  villages: v.gpkg\n  roads:\n    path: r.gpkg\nsteps: [a, b]\n", encoding="utf-8")
    data, lines = gio.read_yaml_with_lines(p)
    assert data["layers"]["roads"]["path"] == "r.gpkg"
    assert lines["layers.villages"] == 3 and lines["layers.roads.path"] == 5 and lines["steps[1]"] == 6


def test_unknown_extension_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown extension '\.kml'"):
        gio.write_vector(frame(), tmp_path / "x.kml")
    with pytest.raises(ValueError, match="does not exist"):
        gio.read_vector(tmp_path / "missing.gpkg")
