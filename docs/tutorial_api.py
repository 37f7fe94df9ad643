"""The Python API tutorial: the demo county from GeoDataFrames to a budget.

Run from the repository root after ``geofupin demo`` (which writes ``layers/demo/``).
``tests/test_docs.py`` runs this file and checks its figures against ``geofupin run``.
"""

# --8<-- [start:read]
from pathlib import Path

import geopandas as gpd

import geofupin
from geofupin.config.access import AccessConfig
from geofupin.config.allocate import AllocationConfig

LAYERS = Path("layers/demo")  # the demo county; any GeoDataFrames in one metric CRS will do


def read(kind: str) -> gpd.GeoDataFrame:
    return gpd.read_file(LAYERS / f"{kind}.gpkg")


villages, roads, facilities, candidates = read("villages"), read("roads"), read("facilities"), read("candidates")
water, power, constraints, boundaries = read("water"), read("power"), read("constraints"), read("boundaries")
# --8<-- [end:read]

# --8<-- [start:access]
access = AccessConfig(max_snap_dist_m=3000, od_cutoff_min=300)  # the demo scenario's `access:` section
net = geofupin.network.from_roads(roads, config=access)
village_access = geofupin.access.nearest(net, villages, facilities, config=access)
site_access = geofupin.access.nearest(net, candidates, facilities, config=access)
od = geofupin.access.od(net, villages, candidates, config=access)
bands = geofupin.access.isochrones(net, facilities, kinds=["town"], bands_min=[30, 60], config=access)
coverage = geofupin.access.coverage(village_access, ["town"], [30, 60])
# --8<-- [end:access]

# --8<-- [start:site]
siting = geofupin.siting.evaluate(
    candidates,
    villages=villages,
    roads=roads,
    water=water,
    power=power,
    facilities=facilities,
    constraints=constraints,
    boundaries=boundaries,
    dem=LAYERS / "dem.tif",
    site_access=site_access,
)
print(siting.ranking[["rank", "site_id", "name", "score", "capacity_persons"]].head())
# --8<-- [end:site]

# --8<-- [start:allocate]
# 分散安置, 五保户集中供养 (敬老院), 特困户周转房 first, household by household from the roster (the demo
# scenario's `placement:` section); the central allocation places the rest
import pandas as pd  # noqa: E402

from geofupin.config.placement import PlacementConfig, TransitionalHousing  # noqa: E402
from geofupin.placement import nursing_homes, place  # noqa: E402
from geofupin.roster import normalize  # noqa: E402

book = pd.read_excel(LAYERS / "households.xlsx", sheet_name="名册", dtype=str, engine="calamine")
households, _ = normalize(book, villages)
placement = PlacementConfig(
    nursing_home_max_min=180, transitional_housing=(TransitionalHousing("V001-G1", 3, "张家塬村麻山组周转房"),)
)
homes, _ = nursing_homes(facilities)
to_homes = geofupin.access.od(net, villages, homes, cutoff_min=180, config=access)
placed = place(villages, placement, households=households, facilities=facilities, nursing_od=to_homes)
print(placed.modes[["mode_zh", "households", "persons"]])
run = geofupin.allocate.assign(placed.villages, siting.sites, od, config=AllocationConfig(cutoff_min=300))
assignment = pd.concat([run.assignment.assign(mode="central"), placed.rows], ignore_index=True)
policy = geofupin.read_policy("scenarios/policy/seed-county.yaml")
budget = geofupin.policy.budget(villages, assignment, policy=policy)
placed_persons = int(assignment["persons"].sum())
print(f"安置 {placed_persons} 人 / placed {placed_persons} persons")
print(f"补助预算 {budget.total_yuan / 1e4:,.2f} 万元 / subsidy budget {budget.total_yuan:,.0f} yuan")
print(geofupin.policy.budget_by(budget, "township")[["township", "persons", "total_yuan"]])
# --8<-- [end:allocate]

# --8<-- [start:map]
m = geofupin.maps.explore(villages, roads=roads, boundaries=boundaries, isochrones=bands, siting=siting, allocation=run)
page = geofupin.maps.render_html(m)  # one self-contained page; in a notebook `m` shows the map itself
# --8<-- [end:map]
