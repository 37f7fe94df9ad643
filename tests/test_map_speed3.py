"""Issue 17, session 6 (map, access, site): the faster ways give the values of the old ways.

- a DEM whose mask is its nodata value is read once (not data and nodata mask band): the hillshade's
  elevations and the load step's valid share equal those of ``masked=True`` reads, for float, NaN,
  integer and unrepresentable nodata, an all-valid DEM and a DEM with its own mask band;
- the page's element ids are found by a literal ``_`` scan: the same matches as the look-behind;
- the comparison sheet's rule rows and per-site values taken by position equal the per-rule
  reindexed frames and ``Series.get`` they replace;
- ``before_after`` with the kinds' columns added at once equals the column-by-column ``reindex``.
"""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from affine import Affine
from rasterio.enums import Resampling

from geofupin import terrain
from geofupin.accessibility import before_after
from geofupin.context import StepResult
from geofupin.maps import hillshade as hs
from geofupin.maps.offline import stable_ids
from geofupin.maps.whatif import _UNIT_DP, _by_site, _rounded, compare_spec


# --------------------------------------------------------------------------- DEMs read once
def _write(path: Path, z: np.ndarray, *, nodata: float | None, mask: np.ndarray | None = None) -> Path:
    h, w = z.shape
    profile = {
        "driver": "GTiff",
        "width": w,
        "height": h,
        "count": 1,
        "dtype": z.dtype.name,
        "crs": "EPSG:32650",
        "transform": Affine(30.0, 0.0, 500000.0, 0.0, -30.0, 4000000.0),
        "tiled": True,
        "blockxsize": 64,
        "blockysize": 64,
    }
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(z, 1)
        if mask is not None:
            dst.write_mask(mask)
    return path


@pytest.fixture(scope="module")
def dems(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("dems")
    rng = np.random.default_rng(17)
    y, x = np.mgrid[0:301, 0:413]
    z = (800 + 90 * np.sin(x / 17.0) * np.cos(y / 23.0) + rng.normal(0, 2, x.shape)).astype("float32")
    f = z.copy()
    f[:37, :51] = -9999.0
    f[150:163, 200:290] = -9999.0
    n = z.copy()
    n[:37, :51] = np.nan
    i = np.round(z).astype("int16")
    i[:37, :51] = -32768
    i[210:240, 100:181] = -32768
    big = z.copy()
    big[100:121, 100:141] = np.float32(-3.4028234663852886e38)
    near = f.copy()
    near[5, 300] = np.nextafter(np.float32(-9999.0), np.float32(0))  # one cell a float32 step from nodata
    m = np.full(z.shape, 255, dtype="uint8")
    m[250:, 300:] = 0
    return {
        "float": _write(d / "float.tif", f, nodata=-9999.0),
        "near": _write(d / "near.tif", near, nodata=-9999.0),
        "nan": _write(d / "nan.tif", n, nodata=float("nan")),
        "int": _write(d / "int.tif", i, nodata=-32768),
        "valid": _write(d / "valid.tif", z, nodata=None),
        # a nodata value the tag gives rounded: not the cells' value in float32, so read as GDAL masks it
        "rounded": _write(d / "rounded.tif", big, nodata=-3.40282e38),
        "maskband": _write(d / "maskband.tif", np.round(z).astype("int16"), nodata=None, mask=m),
    }


def _masked_elevation(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """The old read: data and its mask, both decimated by GDAL."""
    with rasterio.open(path) as src:
        band = src.read(1, out_shape=shape, resampling=Resampling.average, masked=True)
    return np.asarray(band.astype(float).filled(np.nan))


def _masked_valid_share(path: Path, max_cells: int) -> tuple[float, int]:
    info = terrain.dem_info(path)
    factor = max(1, int(np.ceil(np.sqrt(info.height * info.width / max_cells))))
    shape = (max(1, info.height // factor), max(1, info.width // factor))
    with rasterio.open(path) as src:
        data = src.read(1, out_shape=shape, masked=True)
    ok = ~np.ma.getmaskarray(data) & np.isfinite(np.ma.getdata(data).astype(float))
    return float(ok.mean()), int(ok.size)


@pytest.mark.parametrize("kind", ["float", "near", "nan", "int", "valid", "rounded", "maskband"])
@pytest.mark.parametrize("shape", [(301, 413), (150, 206), (97, 133), (13, 18)])
def test_decimated_elevation_equals_the_masked_read(dems: dict[str, Path], kind: str, shape: tuple[int, int]) -> None:
    path = dems[kind]
    ref = _masked_elevation(path, shape)
    with rasterio.open(path) as src:
        got = hs._read_elevation(src, shape)
    np.testing.assert_array_equal(got, ref)
    assert got.dtype == np.float64
    if kind in ("float", "int", "nan", "maskband"):
        assert np.isnan(got).any() and np.isfinite(got).any()  # the case is a real one: voids and values


def test_nodata_cells_say_when_the_values_settle_the_mask(dems: dict[str, Path]) -> None:
    def cells(kind: str) -> np.ndarray | None:
        with rasterio.open(dems[kind]) as src:
            return terrain.nodata_cells(src, src.read(1))

    for kind, n in (("float", 37 * 51 + 13 * 90), ("nan", 37 * 51), ("int", 37 * 51 + 30 * 81), ("valid", 0)):
        got = cells(kind)
        assert got is not None and got.dtype == bool and int(got.sum()) == n
    # GDAL's own mask for these: a nodata near the float limit (GDAL adjusts it), a mask band, a cell a hair from
    # nodata (GDAL compares floats with a tolerance)
    assert cells("rounded") is None and cells("maskband") is None and cells("near") is None


@pytest.mark.parametrize("kind", ["float", "near", "nan", "int", "valid", "rounded", "maskband"])
@pytest.mark.parametrize("max_cells", [1 << 20, 5000, 7])
def test_dem_valid_share_equals_the_masked_read(dems: dict[str, Path], kind: str, max_cells: int) -> None:
    assert terrain.dem_valid_share(dems[kind], max_cells=max_cells) == _masked_valid_share(dems[kind], max_cells)


def test_dem_valid_share_by_hand(dems: dict[str, Path]) -> None:
    share, cells = terrain.dem_valid_share(dems["float"])
    assert cells == 301 * 413
    assert share == pytest.approx(1 - (37 * 51 + 13 * 90) / (301 * 413), abs=1e-15)


def test_dem_shade_equals_the_masked_read_on_the_demo(demo_layers: Path) -> None:
    dem = demo_layers / "dem.tif"
    for max_px in (1200, 400):
        got = hs.dem_shade(dem, max_px=max_px)
        assert got is not None
        h, w = got.shade.shape
        elev = _masked_elevation(dem, (h, w))
        filled = np.where(np.isnan(elev), np.nanmean(elev), elev)
        ref = hs.hillshade(filled, dx_m=abs(got.transform.a), dy_m=abs(got.transform.e))
        ref[np.isnan(elev)] = np.nan
        np.testing.assert_array_equal(got.shade, ref)
        assert np.isnan(got.shade).any()  # the demo DEM has voids


# --------------------------------------------------------------------------- page ids
def test_stable_ids_match_the_look_behind() -> None:
    old = re.compile(r"(?<=_)[0-9a-f]{32}(?![0-9a-zA-Z])")
    h = "0123456789abcdef" * 2
    text = (
        f"map_{h} map_{h}x __{h}_ a{h} _{h}{h} _{h}-{h} marker_{h[::-1]}; var x=map_{h};"
        f"_{h[:31]}g _{h.upper()} __{h[::-1]}\n_{h}"
    )
    spans = [m.span() for m in old.finditer(text)]
    assert len(spans) == 7
    got = stable_ids(text)
    seen: dict[str, str] = {}
    ref = old.sub(lambda m: seen.setdefault(m.group(0), f"{len(seen) + 1:032x}"), text)
    assert got == ref
    keep = {h}
    seen = {}
    ref = old.sub(
        lambda m: m.group(0) if m.group(0) not in keep else seen.setdefault(m.group(0), f"{len(seen) + 1:032x}"),
        text,
    )
    assert stable_ids(text, ids=keep) == ref
    assert stable_ids(text, ids=keep).count(f"{1:032x}") == 5  # the five ids that are h itself


# --------------------------------------------------------------------------- comparison sheet
def _old_rule_rows(results: dict[str, StepResult], ids: list[str]) -> list[dict[str, object]]:
    """The rule rows as compare_spec built them before: a reindexed frame per rule."""
    rules = results["site"].tables["site_rules"]
    n = len(ids)
    r = rules.assign(site_id=rules["site_id"].astype(str), rule=rules["rule"].astype(str))
    rows = []
    for rule, g in r.groupby("rule", sort=False):
        g = g.drop_duplicates("site_id").set_index("site_id").reindex(ids)
        unit = str(g["unit"].dropna().iloc[0]) if "unit" in g.columns and g["unit"].notna().any() else ""
        scale = 100.0 if unit == "share" else 1.0
        dp = _UNIT_DP.get(unit, 2)
        ok = [None if pd.isna(p) else int(bool(p)) for p in g["passed"]] if "passed" in g.columns else [None] * n
        op = str(g["op"].dropna().iloc[0]) if "op" in g.columns and g["op"].notna().any() else "le"
        rows.append(
            {
                "v": _rounded(g["value"], dp, scale),
                "thr": _rounded(g["threshold"], dp, scale),
                "op": op,
                "ok": ok,
                "rule": str(rule),
            }
        )
    return rows


def _sites_results(rules: pd.DataFrame) -> dict[str, StepResult]:
    sites = gpd.GeoDataFrame(
        {"site_id": ["S1", "S2", "S3", "S4"], "name": ["甲", "乙", "丙", "丁"], "passed": [True, False, True, None]},
        geometry=[shapely.Point(i, 0) for i in range(4)],
        crs="EPSG:32650",
    )
    return {"site": StepResult(layers={"sites": sites}, tables={"site_rules": rules})}


def test_rule_rows_equal_the_reindexed_frames() -> None:
    rules = pd.DataFrame(
        {
            # S4 has no row of 'slope'; S2 twice in 'road' (its first row counts); a rule whose unit is missing at
            # the first site; the rules in the order they first appear
            "site_id": ["S2", "S1", "S2", "S3", "S1", "S2", "S4", "S2", "S1", "S3", "S9", "S3", "S1"],
            "rule": [*["road"] * 3, *["slope"] * 3, "road", "road", *["flood"] * 3, "road", "x"],
            "value": [120.0, 80.5, 99.0, 7.25, 30.0, np.nan, 3.0, 1.0, 0.123456, 0.5, 0.9, 1e9, 1.0],
            "threshold": [100.0, 100.0, 100.0, 25.0, 25.0, 25.0, 100.0, 100.0, 0.0, 0.0, 0.0, 100.0, 2.0],
            "unit": ["m", "m", "m", None, "deg", "deg", "m", "m", "share", "share", "share", "m", None],
            "op": ["le", "le", "le", None, "le", "le", "le", "ge", "le", "le", "le", "le", None],
            "passed": [False, True, True, True, False, None, True, True, False, False, True, False, True],
        }
    )
    results = _sites_results(rules)
    spec = compare_spec(results)
    assert spec is not None
    got = next(s for s in spec["sections"] if s["en"] == "hard rules")["rows"]
    ref = _old_rule_rows(results, spec["ids"])
    assert [{k: row[k] for k in ("v", "thr", "op", "ok", "rule")} for row in got] == ref
    assert [row["rule"] for row in got] == ["road", "slope", "flood", "x"]
    road = got[0]
    assert road["v"] == [80.5, 120.0, 1e9, 3.0] and road["ok"] == [1, 0, 0, 1]
    assert got[1]["v"] == [30.0, None, 7.25, None] and got[1]["dp"] == 2  # the unit of the first site that has one
    assert got[3]["op"] == "le" and got[3]["ok"] == [1, None, None, None]


def test_by_site_equals_series_get() -> None:
    table = pd.DataFrame(
        {
            "site_id": ["S2", 3, "S1", "S2", "S7"],
            "x": [1.5, 2.5, np.nan, 9.0, 4.0],
            "n": pd.array([1, None, 3, 4, 5], dtype="Int64"),
            "t": pd.array(["a", None, "c", "d", "e"], dtype="string"),
        }
    )
    ids = ["S1", "3", "S9", "S2", "S2"]
    by_id = table.assign(site_id=table["site_id"].astype(str)).drop_duplicates("site_id").set_index("site_id")
    indexed: dict[int, tuple[pd.DataFrame, np.ndarray]] = {}
    for column in ("x", "n", "t"):
        ref = [by_id[column].get(i) for i in ids]
        got = _by_site(table, ids, column, indexed)
        assert [None if v is None or pd.isna(v) else v for v in got] == [
            None if v is None or pd.isna(v) else v for v in ref
        ]
        assert _rounded(got, 2) == _rounded(ref, 2) if column != "t" else True
    assert _by_site(table, ids, "x", indexed)[:4] == [pytest.approx(np.nan, nan_ok=True), 2.5, None, 1.5]


# --------------------------------------------------------------------------- before / after
def _old_before_after_columns(va: pd.DataFrame, sa: pd.DataFrame | None, out: pd.DataFrame, kinds: list[str]):
    vt = va.assign(village_id=va["village_id"].astype(str)).set_index("village_id")
    st = None if sa is None else sa.assign(site_id=sa["site_id"].astype(str)).set_index("site_id")
    ref = out[[c for c in out.columns if not c.startswith(("time_min_", "change_min_")) or c == "time_min_to_site"]]
    ref = ref.copy()
    for kind in kinds:
        col = f"time_min_{kind}"
        before = vt[col].reindex(ref["village_id"]).to_numpy(float) if col in vt else np.full(len(ref), np.nan)
        after = (
            st[col].reindex(ref["site_id"]).to_numpy(float)
            if st is not None and col in st
            else np.full(len(ref), np.nan)
        )
        ref[f"time_min_{kind}_before"] = before
        ref[f"time_min_{kind}_after"] = after
        ref[f"change_min_{kind}"] = after - before
    return ref


@pytest.mark.parametrize("with_sites", [True, False])
def test_before_after_equals_the_column_by_column_reindex(with_sites: bool) -> None:
    va = pd.DataFrame(
        {
            "village_id": ["V1", "V2", "V3", "V4"],
            "relocate_persons": [10, 0, 5, 3],
            "time_min_school": [50.0, 5.0, np.nan, 12.5],
            "time_min_clinic": [20.0, 1.0, 7.0, np.inf],
        }
    )
    sa = pd.DataFrame({"site_id": ["A", "B"], "time_min_school": [8.0, 2.0], "time_min_town": [3.0, 4.0]})
    od = pd.DataFrame(
        {
            "village_id": ["V1", "V1", "V3", "V4"],
            "site_id": ["A", "B", "C", "A"],
            "time_min": [30.0, 20.0, 15.0, 40.0],
            "dist_m": [1.0, 2.0, 3.0, 4.0],
        }
    )
    kinds = ["school", "clinic", "town", "hospital"]
    site_access = sa if with_sites else None
    got = before_after(va, site_access, od, kinds)
    ref = _old_before_after_columns(va, site_access, got, kinds)
    pd.testing.assert_frame_equal(got, ref)
    assert list(got["village_id"]) == ["V1", "V3", "V4"] and list(got["site_id"]) == ["B", "C", "A"]
    if with_sites:
        assert got["change_min_school"].tolist()[0] == pytest.approx(2.0 - 50.0)
        assert np.isnan(got["time_min_school_after"].iloc[1])  # site C is not in site_access
    assert np.isnan(got["time_min_hospital_before"]).all() and np.isnan(got["change_min_hospital"]).all()
    assert got.columns[-1] == "change_min_hospital"
