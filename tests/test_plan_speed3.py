"""The plan step made cheaper again gives what it gave before, to the last bit.

- :func:`geofupin.routing.grid_graph` builds its CSR arrays with fewer temporaries (the edge counts
  per cell by four column adds, the weights written in place): the same matrix, bit for bit, as a
  COO -> CSR conversion of the documented edges;
- :func:`geofupin.routing.slope_cost` and the Horn slope (:func:`geofupin.terrain.horn_slope_deg`)
  compute in place: the same operations in the same order, so the same bits as the expressions
  they replaced (written out here as the reference);
- ``_village_works_by_reading`` reads the plan's own reading for the partly relocated villages from the
  plan table instead of planning them a second time: the same totals as planning them again.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import shapely

from geofupin import plans
from geofupin.config.plans import PlansConfig
from geofupin.routing import DemSource, grid_graph, slope_cost
from geofupin.terrain import _horn_cells, horn_slope_deg


def _bits(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    return a.view(np.int64) if a.dtype == np.float64 else a


def assert_same_bits(got: np.ndarray, want: np.ndarray) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, want.shape, got.dtype, want.dtype)
    np.testing.assert_array_equal(_bits(got), _bits(want))


# --------------------------------------------------------------------------- the references (the old expressions)
def reference_slope_cost(slope_deg, *, slope_ref_pct: float = 10.0, max_slope_pct: float = 60.0) -> np.ndarray:
    pct = np.tan(np.radians(np.asarray(slope_deg, dtype=float))) * 100
    factor = 1 + (pct / slope_ref_pct) ** 2
    worst = 1 + (max_slope_pct / slope_ref_pct) ** 2
    factor = np.where(np.isnan(pct), worst, factor)
    return np.where(pct > max_slope_pct, np.inf, factor)


def reference_grid_graph(factor: np.ndarray, *, xres_m: float, yres_m: float) -> sp.csr_matrix:
    """Every forward edge (east, south-west, south, south-east) listed, then COO -> CSR (sorted by scipy)."""
    h, w = factor.shape
    rows, cols, vals = [], [], []
    for r in range(h):
        for c in range(w):
            for dr, dc in ((0, 1), (1, -1), (1, 0), (1, 1)):
                r2, c2 = r + dr, c + dc
                if not (0 <= r2 < h and 0 <= c2 < w):
                    continue
                wt = math.hypot(dr * yres_m, dc * xres_m) * (float(factor[r, c]) + float(factor[r2, c2])) / 2
                if math.isfinite(wt):
                    rows.append(r * w + c)
                    cols.append(r2 * w + c2)
                    vals.append(wt)
    g = sp.coo_matrix((np.array(vals, dtype=float), (rows, cols)), shape=(h * w, h * w)).tocsr()
    g.sort_indices()
    return g


def reference_horn(z: np.ndarray, xres_m: float, yres_m: float) -> np.ndarray:
    """Horn slope cell by cell through ``_horn_cells`` (its own code path: the same sums, the same bits)."""
    zp = np.pad(np.asarray(z, dtype=float), 1, constant_values=np.nan)
    h, w = z.shape
    rr, cc = (a.ravel() for a in np.mgrid[0:h, 0:w])
    out = _horn_cells(zp, rr, cc, np.full(h, float(xres_m)), np.full(h, float(yres_m)), "compute")
    return out.reshape(h, w)


# --------------------------------------------------------------------------- tiny grids by hand
def test_grid_graph_by_hand_with_a_wall() -> None:
    """2 x 3 grid, the middle top cell impassable: only the edges between passable cells, weights by hand."""
    f = np.array([[1.0, np.inf, 3.0], [2.0, 4.0, 1.0]])
    g = grid_graph(f, xres_m=10.0, yres_m=10.0)
    d = math.hypot(10.0, 10.0)
    dense = g.toarray()
    want = np.zeros((6, 6))
    want[0, 3] = 10 * (1 + 2) / 2  # south
    want[0, 4] = d * (1 + 4) / 2  # south-east
    want[2, 4] = d * (3 + 4) / 2  # south-west
    want[2, 5] = 10 * (3 + 1) / 2  # south
    want[3, 4] = 10 * (2 + 4) / 2  # east
    want[4, 5] = 10 * (4 + 1) / 2  # east
    np.testing.assert_array_equal(dense, want)
    assert g.nnz == 6 and g.indptr.tolist() == [0, 2, 2, 4, 5, 6, 6]


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (7, 1), (2, 2), (13, 9), (30, 41)])
def test_grid_graph_is_the_listed_edges_bit_for_bit(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(shape))
    f = 1 + 20 * rng.random(shape)
    f[rng.random(shape) < 0.1] = np.inf
    f[rng.random(shape) < 0.05] = np.nan
    got = grid_graph(f, xres_m=30.0, yres_m=27.5)
    want = reference_grid_graph(f, xres_m=30.0, yres_m=27.5)
    np.testing.assert_array_equal(got.indptr, want.indptr)
    np.testing.assert_array_equal(got.indices, want.indices)
    assert_same_bits(got.data, want.data)
    assert got.has_sorted_indices


def test_slope_cost_is_the_old_expression_bit_for_bit() -> None:
    rng = np.random.default_rng(7)
    slope = rng.uniform(0, 80, size=(40, 50))
    slope[rng.random(slope.shape) < 0.05] = np.nan
    before = slope.copy()
    for ref, top in ((10.0, 60.0), (8.0, 40.0), (12.5, 100.0)):
        assert_same_bits(
            slope_cost(slope, slope_ref_pct=ref, max_slope_pct=top),
            reference_slope_cost(slope, slope_ref_pct=ref, max_slope_pct=top),
        )
    assert_same_bits(slope, before)  # the input is not changed
    for x in (0.0, 3.0, 30.9637565, 31.0, 89.0, math.nan):  # scalars too; 30.96 deg is 60 %
        assert_same_bits(slope_cost(x), reference_slope_cost(x))
    # by hand: 45 degrees is 100 % (impassable at 60 %), 0 degrees costs 1, a void costs 1 + 6^2
    assert slope_cost(np.array([0.0, 45.0, np.nan])).tolist() == [1.0, math.inf, 37.0]


@pytest.mark.parametrize("shape", [(1, 1), (2, 5), (9, 9), (31, 17)])
def test_horn_slope_is_the_cell_by_cell_sums_bit_for_bit(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(shape[0] * 100 + shape[1])
    z = rng.normal(0, 40, size=shape).cumsum(axis=0) + 900
    z[rng.random(shape) < 0.08] = np.nan
    before = z.copy()
    assert_same_bits(horn_slope_deg(z, xres_m=30.0, yres_m=30.0), reference_horn(z, 30.0, 30.0))
    assert_same_bits(horn_slope_deg(z, xres_m=25.0, yres_m=31.0), reference_horn(z, 25.0, 31.0))
    assert_same_bits(z, before)


def test_horn_slope_by_hand() -> None:
    """A plane rising 3 m per 10 m cell eastwards: slope atan(0.3) everywhere (edges take the centre)."""
    z = np.tile(np.arange(5) * 3.0, (4, 1))
    s = horn_slope_deg(z, xres_m=10.0, yres_m=10.0)
    interior = s[1:-1, 1:-1]
    np.testing.assert_allclose(interior, math.degrees(math.atan(0.3)), rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- the demo's own windows
def test_demo_search_grids_are_the_old_ones_bit_for_bit(demo_layers: Path) -> None:
    """Around demo villages far from a suitable road: slope, cost factor and graph of each DEM window equal
    the old expressions' to the last bit."""
    v = gpd.read_file(demo_layers / "villages.gpkg")
    roads = gpd.read_file(demo_layers / "roads.gpkg")
    cfg = PlansConfig()
    index = plans.RoadIndex.build(roads, plans._suitable(roads, cfg))
    checked = 0
    with DemSource(demo_layers / "dem.tif", v.crs) as src:
        for g in v.geometry.to_numpy():
            _, dist = index.nearest_good(g)
            if dist <= cfg.village_access_m or checked >= 8:
                continue
            x, y = g.x, g.y
            pad = 0.5 * dist + 150
            cell = cfg.dem_cell_m
            bounds = tuple(math.floor(b / cell) * cell for b in (x - pad, y - pad)) + tuple(
                math.ceil(b / cell) * cell for b in (x + pad, y + pad)
            )
            win = src.window(bounds, cell)  # type: ignore[arg-type]
            slope = horn_slope_deg(win.z, xres_m=cell, yres_m=cell)
            assert_same_bits(slope, reference_horn(win.z, cell, cell))
            factor = slope_cost(slope, slope_ref_pct=cfg.slope_ref_pct, max_slope_pct=cfg.max_slope_pct)
            assert_same_bits(
                factor, reference_slope_cost(slope, slope_ref_pct=cfg.slope_ref_pct, max_slope_pct=cfg.max_slope_pct)
            )
            got = grid_graph(factor, xres_m=cell, yres_m=cell)
            want = reference_grid_graph(factor, xres_m=cell, yres_m=cell)
            np.testing.assert_array_equal(got.indptr, want.indptr)
            np.testing.assert_array_equal(got.indices, want.indices)
            assert_same_bits(got.data, want.data)
            checked += 1
    assert checked == 8


# --------------------------------------------------------------------------- both readings
def reference_by_reading(layers, cfg: PlansConfig, village_tab: pd.DataFrame, dem) -> dict[str, float]:
    """The old way: the partly relocated villages planned again under both readings."""
    v = layers.villages
    this = float(village_tab["total_cost_yuan"].sum())
    who = plans._stayers(v)
    partly = (who["relocate_households"] > 0) & (who["stay_households"] > 0)
    key = ["township", "name"]
    if not partly.any():
        return {"false": this, "true": this}
    hit = v.loc[partly.to_numpy(), key].drop_duplicates()
    sub = gpd.GeoDataFrame(v.merge(hit, on=key, how="inner"), geometry=v.geometry.name, crs=v.crs)
    totals = {}
    for flag in (False, True):
        tab, _ = plans.village_gaps(
            sub,
            roads=layers.roads,
            facilities=layers.facilities,
            cfg=dataclasses.replace(cfg, in_situ_partly_relocated=flag),
            dem=dem,
        )
        totals[flag] = float(tab["total_cost_yuan"].sum())
    mine = cfg.in_situ_partly_relocated
    return {str(f).lower(): round(this - totals[mine] + totals[f], 2) for f in (False, True)}


@dataclasses.dataclass
class _Layers:
    villages: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame | None
    dem: Path | None = None


def _tiny_layers(township_b: object = "乙镇") -> _Layers:
    crs = "EPSG:4545"
    villages = gpd.GeoDataFrame(
        {
            "village_id": ["V1", "V2", "V3", "V4", "V5"],
            "township": ["甲镇", "甲镇", township_b, township_b, "甲镇"],
            "name": ["一村", "一村", "二村", "二村", "三村"],
            "group": ["一组", "二组", "一组", "二组", ""],
            "households": [10, 8, 6, 5, 12],
            "persons": [40, 30, 22, 20, 50],
            "relocate_households": [4, 0, 6, 2, 0],  # V1 and V4 partly relocated, V3 wholly
            "relocate_persons": [16, 0, 22, 8, 0],
        },
        geometry=[shapely.Point(500_000 + 3000 * i, 4_000_000) for i in range(5)],
        crs=crs,
    )
    roads = gpd.GeoDataFrame(
        {"road_id": ["R1"], "road_class": ["county"], "surface": ["paved"]},
        geometry=[shapely.LineString([(495_000, 3_998_000), (520_000, 3_998_000)])],
        crs=crs,
    )
    facilities = gpd.GeoDataFrame(
        {"facility_id": ["F1"], "kind": ["clinic"]}, geometry=[shapely.Point(500_000, 4_000_100)], crs=crs
    )
    return _Layers(villages, roads, facilities)


@pytest.mark.parametrize("mine", [False, True])
@pytest.mark.parametrize("township_b", ["乙镇", None])  # None: not plain text, planned again (the old way)
def test_both_readings_equal_planning_again(mine: bool, township_b: object) -> None:
    layers = _tiny_layers(township_b)
    cfg = dataclasses.replace(PlansConfig(), in_situ_partly_relocated=mine)
    tab, _ = plans.village_gaps(layers.villages, roads=layers.roads, facilities=layers.facilities, cfg=cfg)
    got = plans._village_works_by_reading(layers, cfg, tab)
    want = reference_by_reading(layers, cfg, tab, None)
    assert got == want
    # by hand: every group is 2 km from the county road (a straight 600,000-yuan gravel road without a DEM).
    # "false": 一村 (V2 only, 3,001.7 m from the clinic F1: a new clinic) and 三村 (V5: road and clinic):
    # 2 x (600,000 + 300,000). "true" adds V1's and V4's roads; 一村 then has V1 100 m from F1 (no new clinic)
    # and 二村 (V4, 9 km from F1) needs one: 1,800,000 + 1,200,000 - 300,000 + 300,000
    costs = cfg.unit_costs
    assert costs.gravel_road_yuan_per_km == 300_000 and costs.clinic_yuan_each == 300_000
    assert got == {"false": 1_800_000.0, "true": 3_000_000.0}


def test_demo_both_readings_equal_planning_again(demo_layers: Path) -> None:
    v = gpd.read_file(demo_layers / "villages.gpkg")
    layers = _Layers(
        v,
        gpd.read_file(demo_layers / "roads.gpkg"),
        gpd.read_file(demo_layers / "facilities.gpkg"),
        demo_layers / "dem.tif",
    )
    cfg = PlansConfig()
    with DemSource(demo_layers / "dem.tif", v.crs) as src:
        tab, _ = plans.village_gaps(v, roads=layers.roads, facilities=layers.facilities, cfg=cfg, dem=src)
        got = plans._village_works_by_reading(layers, cfg, tab, src)
        want = reference_by_reading(layers, cfg, tab, src)
    assert got == want
    assert got["true"] > got["false"] == round(float(tab["total_cost_yuan"].sum()), 2)


# --------------------------------------------------------------------------- a window inside the DEM
def test_window_inside_the_dem_is_its_cells_by_hand(tmp_path: Path) -> None:
    """A window wholly inside the DEM is the cells read (no NaN frame around them), voids as NaN; the same as
    the warped VRT and as a window reaching past the DEM's edge."""
    import rasterio
    from rasterio.transform import Affine

    z = np.arange(20, dtype="float32").reshape(4, 5) * 10
    z[2, 2] = -9999
    path = tmp_path / "dem.tif"
    with rasterio.open(
        path, "w", driver="GTiff", height=4, width=5, count=1, dtype="float32", crs="EPSG:4545",
        transform=Affine(30, 0, 500_000, 0, -30, 4_001_200), nodata=-9999,
    ) as dst:  # fmt: skip
        dst.write(z, 1)
    crs = gpd.GeoSeries([], crs="EPSG:4545").crs
    bounds = (500_030.0, 4_001_200.0 - 90, 500_030.0 + 90, 4_001_200.0 - 30)  # rows 1-2, columns 1-3
    with DemSource(path, crs) as src, DemSource(path, crs, direct=False) as warped:
        win = src.window(bounds, 30)
        assert src.direct
        np.testing.assert_array_equal(win.z, [[60.0, 70.0, 80.0], [110.0, np.nan, 130.0]])
        assert win.z.dtype == np.float64
        np.testing.assert_array_equal(win.z, warped.window(bounds, 30).z)
        wider = src.window((500_030.0, 4_001_200.0 - 90, 500_030.0 + 180, 4_001_200.0 + 30), 30).z  # past the edges
        # rows -1 to 2 and columns 1 to 6 of the DEM (4 x 5 cells): a row north of it, two columns east
        assert wider.shape == (4, 6)
        np.testing.assert_array_equal(wider[2:4, 0:3], win.z)
        assert np.isnan(wider[0]).all() and np.isnan(wider[:, 4:]).all()
