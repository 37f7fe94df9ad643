"""The faster plan step computes what the straightforward way computes, to the last bit.

- budgets: :func:`geofupin.policy.compute_budget` builds its lines column by column and
  :func:`geofupin.policy.option_totals` sums the amounts without building lines; both are checked
  against the rule-by-rule recomputation below (one copy of the units per rule, concatenated), on a
  hand case and on the demo county, under every value of every option;
- roads: :class:`geofupin.routing.DemSource` opens the DEM once and reads a window on the DEM's own
  grid directly; every window, and every least-cost road over it, equals the warped-VRT reading.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from rasterio.transform import Affine

from geofupin.config.plans import PlansConfig
from geofupin.config.policy import Policy, PolicyOptions, seed_policy
from geofupin.plans import RoadIndex, _suitable, connect_road
from geofupin.policy import (
    UNIT_COLUMNS,
    Budget,
    budget_total,
    compute_budget,
    effective_policy,
    hardship_households,
    hardship_modes,
    option_totals,
    plan_units,
    rule_modes,
    unit_modes,
)
from geofupin.routing import DemSource, read_dem_window


# --------------------------------------------------------------------------- budgets
def reference_budget(units: pd.DataFrame, policy: Policy, options: PolicyOptions) -> Budget:
    """The budget the plain way: every rule applied to every unit, one frame per rule, concatenated."""
    policy = effective_policy(policy, options)
    u = units.reset_index(drop=True).copy()
    mode = unit_modes(u)
    u["mode"] = mode
    eligible = np.isin(mode, list(hardship_modes(policy, options)))
    u["hardship_households"] = np.where(eligible, hardship_households(u, policy.hardship_share, options), 0.0)
    n = len(u)
    if options.reward == "exclude":
        reward_ok = np.zeros(n, dtype=bool)
    elif options.reward == "listed":
        listed = set(options.reward_units)
        reward_ok = (u["township"].isin(listed) | u["village_id"].isin(listed) | u["name"].isin(listed)).to_numpy()
    else:
        reward_ok = np.ones(n, dtype=bool)
    amounts: dict[str, np.ndarray] = {}
    qty: dict[str, np.ndarray] = {}
    plain = [r for r in policy.rules if r.basis != "share_of"]
    for r in plain:
        if r.applies_to == "hardship":
            q = u["hardship_households"].to_numpy(dtype=float)
        elif r.basis == "per_person":
            q = u["persons"].to_numpy(dtype=float)
        else:
            q = u["households"].to_numpy(dtype=float)
        if r.purpose == "reward":
            q = np.where(reward_ok, q, 0.0)
        if r.not_for_sites_with_works and options.sites_with_works:
            q = np.where(u["site_id"].astype(str).isin(options.sites_with_works).to_numpy(), 0.0, q)
        q = np.where(np.isin(mode, list(rule_modes(r, options))), q, 0.0)
        qty[r.id], amounts[r.id] = q, q * r.amount
    management = {
        "housing": ("housing", "homestead_clearance", "hardship"),
        "housing_infrastructure": ("housing", "homestead_clearance", "hardship", "infrastructure"),
        "housing_infrastructure_reward": ("housing", "homestead_clearance", "hardship", "infrastructure", "reward"),
    }
    for r in (r for r in policy.rules if r.basis == "share_of"):
        purposes = r.of_purposes or (management[options.management_base] if r.purpose == "management" else ())
        base = np.zeros(n)
        for p in plain:
            if p.payer in r.of_payers and p.purpose in purposes:
                base += amounts[p.id]
        qty[r.id], amounts[r.id] = base, base * r.amount
    frames = []
    for r in policy.rules:
        f = u[list(UNIT_COLUMNS)].copy()
        f["unit"] = np.arange(n)
        f["rule_id"] = r.id
        f["payer"] = r.payer
        f["purpose"] = r.purpose
        f["basis"] = r.basis
        f["paid_to"] = r.paid_to
        f["quantity"] = qty[r.id]
        f["rate"] = float(r.amount)
        f["amount_yuan"] = amounts[r.id]
        frames.append(f)
    return Budget(pd.concat(frames, ignore_index=True), u, options, policy)


def every_option(options: PolicyOptions) -> list[PolicyOptions]:
    """``options`` with each closed option set to each of its values in turn (as option_totals varies them)."""
    hints = typing.get_type_hints(PolicyOptions)
    out = []
    for f in dataclasses.fields(PolicyOptions):
        values = typing.get_args(hints[f.name])
        if values and all(isinstance(v, str) for v in values):
            out += [dataclasses.replace(options, **{f.name: v}) for v in values]
    return out


@pytest.fixture()
def hand_units() -> pd.DataFrame:
    """Three villages, two townships, two sites, one scattered household: 10 households, 31 persons."""
    villages = pd.DataFrame(
        {
            "village_id": ["A", "B", "C"],
            "name": ["甲村", "乙村", "丙村"],
            "township": ["T1", "T1", "T2"],
            "relocate_households": [3, 2, 5],
            "relocate_persons": [10, 5, 16],
            "poor_households": [2, 2, 1],
        }
    )
    assignment = pd.DataFrame(
        {
            "village_id": ["A", "B", "C", "C"],
            "site_id": ["S1", "S1", "S2", ""],
            "households": [3, 2, 4, 1],
            "persons": [10, 5, 13, 3],
            "mode": ["central", "central", "central", "scattered"],
        }
    )
    return plan_units(villages, assignment)


def demo_units(demo_layers: Path) -> pd.DataFrame:
    """The demo's villages, each split into a central unit at one of three sites and a scattered household."""
    v = gpd.read_file(demo_layers / "villages.gpkg")
    v = v[v["relocate_households"] > 0].reset_index(drop=True)
    hh = v["relocate_households"].to_numpy()
    pp = v["relocate_persons"].to_numpy()
    split = hh > 1  # one household of the average size goes scattered
    sc_hh = np.where(split, 1, 0)
    sc_pp = np.where(split, np.maximum(1, pp // np.maximum(hh, 1)), 0)
    a = pd.DataFrame(
        {
            "village_id": np.concatenate([v["village_id"], v["village_id"][split]]),
            "site_id": np.concatenate([[f"S{i % 3}" for i in range(len(v))], [""] * int(split.sum())]),
            "households": np.concatenate([hh - sc_hh, sc_hh[split]]),
            "persons": np.concatenate([pp - sc_pp, sc_pp[split]]),
            "mode": ["central"] * len(v) + ["scattered"] * int(split.sum()),
        }
    )
    return plan_units(v, a)


def assert_budget_as_reference(units: pd.DataFrame, options: PolicyOptions) -> None:
    got = compute_budget(units, seed_policy(), options)
    want = reference_budget(units, seed_policy(), options)
    pd.testing.assert_frame_equal(got.lines, want.lines, check_exact=True)
    pd.testing.assert_frame_equal(got.units, want.units, check_exact=True)
    assert got.policy == want.policy
    assert got.total_yuan == want.total_yuan  # the same float, not approximately
    assert budget_total(units, seed_policy(), options) == want.total_yuan


@pytest.mark.parametrize("sites_with_works", [(), ("S1",)])
def test_budget_lines_and_totals_equal_the_rule_by_rule_budget(hand_units, sites_with_works) -> None:
    base = PolicyOptions(reward_units=("T2",), sites_with_works=sites_with_works)
    for options in every_option(base):
        assert_budget_as_reference(hand_units, options)


def test_option_totals_by_hand(hand_units) -> None:
    """Every option total of the hand case, from its rates (report 4's seed policy)."""
    totals = option_totals(hand_units, seed_policy(), PolicyOptions())
    # default: 31 persons x (3,800 + 5,000 + 2,000 + 2,300 + 2,300) + households x 1,000 homestead (10, the
    # scattered one too) + 9 central households x (10,000 + 10,000 + 5,000); 10 % of 10 households = 1 hardship
    # household (10,000, to T1's village A by largest remainder); management 1.5 % of the province, city and
    # county subsidies (everything but the reward 45,000)
    central_pp, all_pp, all_hh, central_hh = 28, 31, 10, 9
    housing = all_pp * 3800 + central_hh * 20_000 + central_pp * (5000 + 2000)
    subsidies = housing + all_hh * 1000 + 10_000 + 2 * central_pp * 2300
    reward = central_hh * 5000
    default = subsidies + reward + 0.015 * subsidies
    assert totals["reward"]["assume_met"] == pytest.approx(default)
    assert totals["reward"]["exclude"] == pytest.approx(default - reward)
    assert "listed" not in totals["reward"]  # nothing listed: it would equal exclude
    assert totals["management_base"]["housing_infrastructure_reward"] == pytest.approx(default + 0.015 * reward)
    assert totals["scattered_homestead"]["excluded"] == pytest.approx(default - 1000 * 1.015)
    # every option total is its full budget's total, to the last bit
    for name, by_value in totals.items():
        for value, total in by_value.items():
            options = dataclasses.replace(PolicyOptions(), **{name: value})
            assert total == reference_budget(hand_units, seed_policy(), options).total_yuan, (name, value)


def test_budget_of_no_units_is_the_rule_by_rule_budget(hand_units) -> None:
    assert_budget_as_reference(hand_units.iloc[:0], PolicyOptions())


def test_demo_budget_and_every_option_total_as_the_rule_by_rule_budget(demo_layers) -> None:
    units = demo_units(demo_layers)
    assert len(units) > 100 and set(units["mode"]) == {"central", "scattered"}
    options = PolicyOptions(reward_units=("V001",), sites_with_works=("S1",))
    for opt in every_option(options):
        assert_budget_as_reference(units, opt)
    totals = option_totals(units, seed_policy(), options)
    assert sum(len(v) for v in totals.values()) == len(every_option(options))
    for name, by_value in totals.items():
        for value, total in by_value.items():
            want = reference_budget(units, seed_policy(), dataclasses.replace(options, **{name: value})).total_yuan
            assert total == want, (name, value)


# --------------------------------------------------------------------------- DEM windows and roads
def write_dem(path: Path, z: np.ndarray, *, crs: str = "EPSG:4545", x0: float = 500_000.0, y1: float = 4_001_200.0):
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=z.shape[0],
        width=z.shape[1],
        count=1,
        dtype=str(z.dtype),
        crs=crs,
        transform=Affine(30, 0, x0, 0, -30, y1),
        nodata=-9999,
    ) as dst:
        dst.write(z, 1)
    return path


def vrt_window(path: Path, crs, bounds, cell) -> np.ndarray:
    """The window through the warped VRT, the way every window was read before."""
    with DemSource(path, crs, direct=False) as src:
        assert not src.direct
        return src.window(bounds, cell).z


def test_window_on_the_dem_grid_is_the_dem_cells_by_hand(tmp_path) -> None:
    z = np.arange(12, dtype="float32").reshape(3, 4) * 10
    z[1, 2] = -9999  # a void
    path = write_dem(tmp_path / "dem.tif", z)
    crs = gpd.GeoSeries([], crs="EPSG:4545").crs
    # one cell west and one north of the DEM, 3 x 6 cells: the DEM's first two rows, shifted by one
    bounds = (500_000 - 30, 4_001_200 - 60, 500_000 + 150, 4_001_200 + 30)
    with DemSource(path, crs) as src:
        win = src.window(bounds, 30)
        assert src.direct
    want = np.full((3, 6), np.nan)
    want[1, 1:5] = [0, 10, 20, 30]
    want[2, 1:5] = [40, 50, np.nan, 70]
    np.testing.assert_array_equal(win.z, want)
    np.testing.assert_array_equal(vrt_window(path, crs, bounds, 30), want)
    assert (win.x0, win.y1, win.cell_m) == (bounds[0], bounds[3], 30)
    # off the DEM's grid (half a cell) or coarser cells: the warped VRT, as read_dem_window by path
    for b, cell in (((500_015, 4_001_110, 500_105, 4_001_185), 30), ((500_000, 4_001_110, 500_120, 4_001_200), 60)):
        with DemSource(path, crs) as src:
            assert src._direct_offsets(b[0], b[3], cell) is None
            got = src.window(b, cell).z
        np.testing.assert_array_equal(got, read_dem_window(path, crs, b, cell).z)


def test_window_with_nan_cells_goes_through_the_warp(tmp_path) -> None:
    """A NaN cell that is not the nodata value: the warp decides what its neighbours read, as before."""
    z = np.arange(48, dtype="float32").reshape(6, 8)
    z[2, 3] = np.nan
    path = write_dem(tmp_path / "dem.tif", z)
    crs = gpd.GeoSeries([], crs="EPSG:4545").crs
    bounds = (500_000.0, 4_001_200.0 - 150, 500_000.0 + 180, 4_001_200.0)
    with DemSource(path, crs) as src:
        got = src.window(bounds, 30).z
        assert src.direct  # the grid fits; the NaN sends this one window to the warp
    np.testing.assert_array_equal(got, vrt_window(path, crs, bounds, 30))


def test_dem_in_another_crs_goes_through_the_warp(tmp_path) -> None:
    z = np.linspace(0, 500, 40 * 60, dtype="float32").reshape(40, 60)
    path = write_dem(tmp_path / "dem.tif", z, crs="EPSG:32649", x0=500_010.0)
    crs = gpd.GeoSeries([], crs="EPSG:4545").crs
    with DemSource(path, crs) as src:
        assert not src.direct


def test_demo_windows_equal_the_warped_windows(demo_layers) -> None:
    """Random windows on the demo DEM's grid, inside, across its edges and over its voids."""
    path = demo_layers / "dem.tif"
    with rasterio.open(path) as ds:
        b = ds.bounds
        crs = gpd.GeoSeries([], crs=ds.crs.to_wkt()).crs
    rng = np.random.default_rng(7)
    with DemSource(path, crs) as fast, DemSource(path, crs, direct=False) as slow:
        direct = 0
        for _ in range(60):
            w, h = (int(x) for x in rng.integers(1, 250, size=2))
            x0 = math.floor(rng.uniform(b.left - 3000, b.right) / 30) * 30
            y0 = math.floor(rng.uniform(b.bottom - 3000, b.top) / 30) * 30
            bounds = (x0, y0, x0 + w * 30, y0 + h * 30)
            direct += fast._direct_offsets(x0, bounds[3], 30) is not None
            np.testing.assert_array_equal(fast.window(bounds, 30).z, slow.window(bounds, 30).z)
    assert direct == 60


def test_demo_roads_with_the_dem_opened_once_equal_the_warped_roads(demo_layers) -> None:
    """The least-cost roads of the demo villages farthest from a road: same cells, length and cost."""
    v = gpd.read_file(demo_layers / "villages.gpkg")
    roads = gpd.read_file(demo_layers / "roads.gpkg")
    cfg = PlansConfig()
    index = RoadIndex.build(roads, _suitable(roads, cfg))
    d = np.array([index.nearest_good(g)[1] for g in v.geometry])
    reach = np.flatnonzero((d > cfg.village_access_m) & (d <= cfg.search_radius_m))
    far = v.geometry.to_numpy()[reach[np.argsort(-d[reach])][:8]]
    assert len(far) == 8
    path = demo_layers / "dem.tif"
    with DemSource(path, v.crs) as once, DemSource(path, v.crs, direct=False) as warped:
        methods = []
        for g in far:
            new = connect_road(g, roads, cfg, surface="gravel", dem=once, crs=v.crs, index=index)
            old = connect_road(g, roads, cfg, surface="gravel", dem=warped, crs=v.crs, index=index)
            by_path = connect_road(g, roads, cfg, surface="gravel", dem=path, crs=v.crs, index=index)
            methods.append(new.method)
            for other in (old, by_path):
                assert (new.action, new.method, new.length_m, new.cost_yuan) == (
                    other.action,
                    other.method,
                    other.length_m,
                    other.cost_yuan,
                )
                assert shapely.equals_exact(new.geometry, other.geometry, tolerance=0)
    assert methods.count("least_cost") >= 4, methods


def reference_budget_by(budget: Budget, level: str) -> pd.DataFrame:
    """budget_by with pandas' pivot table, as it was."""
    keys = {"mode": ["mode"], "county": [], "township": ["township"], "village": ["township", "village_id", "name"]}
    keys["site"] = ["site_id"]
    lines, units = budget.lines, budget.units
    pairs = list(dict.fromkeys((r.payer, r.purpose) for r in budget.policy.rules))
    if level == "site":
        lines, units = lines[lines["site_id"] != ""], units[units["site_id"] != ""]
    k = keys[level]
    if k:
        base = units.groupby(k, sort=True)[["households", "persons", "hardship_households"]].sum()
        wide = lines.pivot_table(index=k, columns=["payer", "purpose"], values="amount_yuan", aggfunc="sum")
    else:
        base = pd.DataFrame(units[["households", "persons", "hardship_households"]].sum()).T
        wide = pd.DataFrame(lines.groupby(["payer", "purpose"])["amount_yuan"].sum()).T
        base.index = wide.index = [0]
    out = base.copy()
    for pair in pairs:
        col = f"{pair[0]}__{pair[1]}_yuan"
        out[col] = wide[pair].reindex(out.index).fillna(0.0) if pair in wide.columns else 0.0
    out["total_yuan"] = out[[f"{p}__{q}_yuan" for p, q in pairs]].sum(axis=1)
    out = out.reset_index() if k else out.reset_index(drop=True)
    for col in ("households", "persons", "hardship_households"):
        if len(out) and np.allclose(out[col], out[col].round()):
            out[col] = out[col].round().astype(int)
    money = [c for c in out.columns if c.endswith("_yuan")]
    out[money] = out[money].round(2)
    return out


@pytest.mark.parametrize("with_sites", [True, False])
def test_budget_tables_and_reconciliation_as_the_pivot_tables(hand_units, with_sites) -> None:
    from geofupin.policy import budget_by, reconciliation

    units = hand_units if with_sites else hand_units.assign(site_id="")
    b = compute_budget(units, seed_policy(), PolicyOptions())
    levels = ("county", "township", "village", "site", "mode")
    tables = {lvl: budget_by(b, lvl) for lvl in levels}
    for lvl in levels:
        pd.testing.assert_frame_equal(tables[lvl], reference_budget_by(b, lvl), check_exact=True)
    pd.testing.assert_frame_equal(reconciliation(b, tables=tables), reconciliation(b), check_exact=True)
    assert tables["county"]["total_yuan"].iloc[0] == round(b.total_yuan, 2)
