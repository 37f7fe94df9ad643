"""The demo county: every relocating person of the seed's plan is placed, or the reason is given."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pandas as pd
import pytest

from geofupin.allocate import AllocationConfig, step
from geofupin.context import Layers, RunContext, StepResult

demo = pytest.importorskip("geofupin.demo")


@pytest.fixture(scope="module")
def county():  # type: ignore[no-untyped-def]
    return demo.build()


def _layers(county) -> Layers:  # type: ignore[no-untyped-def]
    lay = county.layers
    return Layers(crs=county.crs, **{k: lay.get(k) for k in ("villages", "boundaries", "roads", "water", "power",
                                                             "facilities", "constraints", "candidates")})  # fmt: skip


def _check_conservation(res: StepResult, villages: pd.DataFrame) -> None:
    total = int(villages["relocate_persons"].sum())
    assert total == demo.TOTAL_PERSONS == 6886
    served = int(res.tables["assignment"]["persons"].sum())
    unserved = res.tables["unserved"]
    assert served + int(unserved["persons"].sum()) == total
    assert res.summary["served_persons"] == served
    # every unserved unit carries a bilingual reason and the rule that caused it
    assert unserved["reason_zh"].str.len().gt(0).all() and unserved["reason_en"].str.len().gt(0).all()
    assert unserved["rule"].notna().all()
    # per township, persons placed + persons explained = the seed's figures
    units = res.artifacts["allocation_run"].units.set_index("unit_id")
    by_town = (
        pd.concat(
            [
                res.tables["assignment"][["unit_id", "persons"]],
                unserved[["unit_id", "persons"]],
            ]
        )
        .assign(township=lambda d: units.loc[d["unit_id"], "township"].to_numpy())
        .groupby("township")["persons"]
        .sum()
    )
    want = villages.groupby("township")["relocate_persons"].sum()
    want = want[want > 0]
    assert by_town.sort_index().to_dict() == want.sort_index().astype(int).to_dict()
    load = res.tables["site_load"]
    assert (load["assigned_persons"] <= load["capacity_persons"]).all()


def test_demo_straight_line_whole_groups(county):  # type: ignore[no-untyped-def]
    layers = _layers(county)
    ctx = RunContext(SimpleNamespace(allocation=AllocationConfig(time_limit_s=30)), layers, {})  # type: ignore[arg-type]
    res = step(ctx)
    _check_conservation(res, layers.villages)
    assert any("straight-line" in w for w in res.warnings)
    assert res.tables["assignment"].groupby("unit_id")["site_id"].nunique().max() == 1  # whole groups


@pytest.mark.slow
def test_demo_full_chain_access_site_allocate(county, tmp_path):  # type: ignore[no-untyped-def]
    accessibility = pytest.importorskip("geofupin.accessibility")
    siting = pytest.importorskip("geofupin.siting")
    rasterio = pytest.importorskip("rasterio")
    dem = tmp_path / "dem.tif"
    h, w = county.dem.shape
    with rasterio.open(
        dem, "w", driver="GTiff", width=w, height=h, count=1, dtype=county.dem.dtype, crs=county.crs,
        transform=county.transform, nodata=county.nodata,
    ) as dst:  # fmt: skip
        dst.write(county.dem, 1)
    layers = dataclasses.replace(_layers(county), dem=dem)
    scen = SimpleNamespace(allocation=AllocationConfig(time_limit_s=30))
    ctx = RunContext(scen, layers, {})  # type: ignore[arg-type]
    acc = accessibility.step(ctx)
    ctx = RunContext(scen, layers, {"access": acc})  # type: ignore[arg-type]
    site = siting.step(ctx)
    ctx = RunContext(scen, layers, {"access": acc, "site": site})  # type: ignore[arg-type]
    res = step(ctx)
    _check_conservation(res, layers.villages)
    assert not any("straight-line" in w for w in res.warnings)
    passed = set(site.layers["sites"].query("passed")["site_id"])
    assert set(res.tables["assignment"]["site_id"]) <= passed
    assert "relocation_access" in res.tables
    # groups the road network does not reach are named as such (the demo has a few with no road)
    od_villages = set(acc.tables["od_village_site"]["village_id"].astype(str))
    un = res.tables["unserved"]
    no_road = un["rule"] == "reachable"
    assert not (set(un.loc[no_road, "village_id"]) & od_villages)
    assert un.loc[no_road, "reason_en"].str.contains("no site is reachable on the road network").all()
