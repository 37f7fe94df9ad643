"""Tiny hand-made layers and step results following the result-layer contract (for map tests)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import LineString, Point, box

from geofupin.context import Layers, RunContext, StepResult
from geofupin.crs import gauss_kruger_3deg

CRS = gauss_kruger_3deg(109.3)  # EPSG:4545, CGCS2000 GK CM 108E
X0, Y0 = 620_000.0, 4_085_000.0  # about 109.35E 36.9N

XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = "<img src=x onerror=alert(1)>"


def gdf(rows: list[dict], crs=CRS) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)


def make_layers(dem: Path | None = None, *, n_villages: int = 5) -> Layers:
    names = ["王家湾村", XSS_SCRIPT, XSS_IMG, "高桥村", "砖窑湾村", "李家沟村", "张家坪村"]
    vill = []
    for i in range(n_villages):
        reloc = 12 * (i % 2)
        vill.append(
            {
                "village_id": f"V{i + 1}",
                "name": names[i % len(names)] if i < len(names) else f"村{i + 1}",
                "name_en": f"Village {i + 1}",
                "township": "高桥乡" if i < 3 else "招安镇",
                "households": 40 + 10 * i,
                "persons": 150 + 37 * i,
                "poor_households": 10 + i,
                "poor_persons": 35 + 3 * i,
                "relocate_households": reloc // 4,
                "relocate_persons": reloc,
                "income_per_capita": 2100.0 + i,
                "poverty_cause": "因病",
                "geometry": Point(X0 + 1500 * (i % 5), Y0 + 1200 * (i // 5) + 300 * i),
            }
        )
    villages = gdf(vill)
    boundaries = gdf(
        [
            {
                "boundary_id": "T1",
                "name": "高桥乡",
                "name_en": "Gaoqiao",
                "level": "township",
                "geometry": box(X0 - 1000, Y0 - 1000, X0 + 3500, Y0 + 4000),
            },
            {
                "boundary_id": "T2",
                "name": "招安镇",
                "name_en": "Zhao'an",
                "level": "township",
                "geometry": box(X0 + 3500, Y0 - 1000, X0 + 8000, Y0 + 4000),
            },
            {
                "boundary_id": "C1",
                "name": "安塞区",
                "name_en": "Ansai",
                "level": "county",
                "geometry": box(X0 - 1000, Y0 - 1000, X0 + 8000, Y0 + 4000),
            },
        ]
    )
    roads = gdf(
        [
            {
                "road_id": "R1",
                "road_class": "county",
                "name": "县道X101",
                "surface": "paved",
                "speed_kph": 50.0,
                "geometry": LineString([(X0 - 900, Y0), (X0 + 3000, Y0 + 10), (X0 + 7900, Y0 + 20)]),
            },
            {
                "road_id": "R2",
                "road_class": "village",
                "name": None,
                "surface": "gravel",
                "speed_kph": 25.0,
                "geometry": LineString([(X0 + 1500, Y0), (X0 + 1500, Y0 + 1500)]),
            },
            {
                "road_id": "R3",
                "road_class": "track",
                "name": None,
                "surface": "earth",
                "speed_kph": 10.0,
                "geometry": LineString([(X0 + 4500, Y0), (X0 + 4500, Y0 + 2500)]),
            },
        ]
    )
    water = gdf(
        [
            {
                "water_id": "W1",
                "kind": "river",
                "name": "延河",
                "geometry": LineString([(X0 - 900, Y0 - 500), (X0 + 7900, Y0 - 400)]),
            },
            {"water_id": "W2", "kind": "well", "name": "一号井", "geometry": Point(X0 + 200, Y0 + 400)},
        ]
    )
    power = gdf(
        [
            {
                "power_id": "P1",
                "kind": "line",
                "voltage_kv": 10.0,
                "geometry": LineString([(X0, Y0 + 3000), (X0 + 7000, Y0 + 3000)]),
            }
        ]
    )
    facilities = gdf(
        [
            {
                "facility_id": "F1",
                "kind": "school",
                "name": "高桥小学",
                "name_en": "Gaoqiao Primary",
                "township": "高桥乡",
                "geometry": Point(X0 + 800, Y0 + 200),
            },
            {
                "facility_id": "F2",
                "kind": "clinic",
                "name": XSS_IMG,
                "name_en": "Clinic",
                "township": "招安镇",
                "geometry": Point(X0 + 5000, Y0 + 300),
            },
        ]
    )
    candidates = gdf(
        [
            {
                "site_id": f"S{k}",
                "name": n,
                "name_en": f"Site {k}",
                "tier": t,
                "township": "高桥乡",
                "geometry": box(X0 + dx, Y0 + 600, X0 + dx + 400, Y0 + 1000),
            }
            for k, (n, t, dx) in enumerate(
                [
                    ("高桥中心社区", "central_community", 0),
                    ("招安集镇", "market_town", 4000),
                    ("沟口中心村", "central_village", 6500),
                ],
                start=1,
            )
        ]
    )
    return Layers(
        crs=CRS,
        villages=villages,
        boundaries=boundaries,
        roads=roads,
        water=water,
        power=power,
        facilities=facilities,
        candidates=candidates,
        dem=dem,
    )


def make_results(layers: Layers) -> dict[str, StepResult]:
    c = layers.candidates
    sites = c.copy()
    sites["area_m2"] = sites.area
    sites["buildable_area_m2"] = sites.area * 0.8
    sites["capacity_persons"] = [400, 300, 100]
    sites["capacity_households"] = [100, 75, 25]
    sites["passed"] = [True, True, False]
    sites["fail_rules"] = ["", "", "slope_max_deg"]
    sites["reasons_zh"] = ["近水、近电、近路", "靠近集镇", "坡度 31° 超过上限 25°；距道路 2.1 公里"]
    sites["reasons_en"] = ["near water, power, road", "near market town", "slope 31 deg over 25 deg; 2.1 km from road"]
    sites["dist_m_road"] = [120.0, 300.0, 2100.0]
    sites["time_min_school"] = [6.5, 12.0, 35.0]
    sites["contrib_dist_m_road"] = [0.31, 0.22, np.nan]
    sites["score"] = [0.82, 0.64, np.nan]
    sites["rank"] = [1, 2, np.nan]
    sites["p_topk"] = [0.97, 0.71, 0.0]
    sites["stable_topk"] = [True, False, False]
    v = layers.villages
    flows_rows = []
    for _i, row in v[v["relocate_persons"] > 0].iterrows():
        s = c.iloc[0]
        flows_rows.append(
            {
                "village_id": row.village_id,
                "group": "一组",
                "site_id": s.site_id,
                "households": int(row.relocate_households),
                "persons": int(row.relocate_persons),
                "time_min": 10.0,
                "dist_m": 2000.0,
                "geometry": LineString([row.geometry.coords[0], s.geometry.centroid.coords[0]]),
            }
        )
    flows = gdf(flows_rows)
    load = pd.DataFrame(
        {
            "site_id": ["S1", "S2"],
            "capacity_persons": [400, 300],
            "assigned_persons": [int(flows.persons.sum()), 0],
            "assigned_households": [int(flows.households.sum()), 0],
        }
    )
    school = layers.facilities.iloc[0].geometry
    iso = gdf([{"facility_kind": "school", "band_min": b, "geometry": school.buffer(500 * b / 15)} for b in (15, 30)])
    cov = pd.DataFrame(
        {
            "township": ["高桥乡", "高桥乡"],
            "facility_kind": ["school", "school"],
            "band_min": [15, 30],
            "persons_share": [0.4, 0.9],
            "poor_persons_share": [0.35, 0.88],
        }
    )
    planned = gdf(
        [
            {
                "site_id": "S1",
                "item": "新建村道",
                "length_m": 1200.0,
                "cost_yuan": 960000.0,
                "road_class": "village",
                "geometry": LineString([(X0 + 200, Y0 + 600), (X0 + 200, Y0)]),
            }
        ]
    )
    return {
        "access": StepResult(layers={"isochrones": iso}, tables={"coverage": cov}),
        "site": StepResult(layers={"sites": sites}),
        "allocate": StepResult(
            layers={"allocation_flows": flows},
            tables={"site_load": load, "unserved": pd.DataFrame({"village_id": [], "persons": []})},
        ),
        "plan": StepResult(layers={"planned_roads": planned}),
    }


def make_ctx(dem: Path | None = None, **kw) -> RunContext:
    layers = make_layers(dem, **kw)
    return RunContext(scenario=SimpleNamespace(name="test"), layers=layers, results=make_results(layers))


OSM_CREDIT = "© OpenStreetMap contributors (ODbL)"


def make_dense_ctx(*, n_sites: int = 260, n_villages: int = 40, seed: int = 7) -> RunContext:
    """A county where the sites crowd together: ``n_sites`` ranked grid cells 250 m apart inside
    villages spread over 30 x 20 km, and a power line running 90 km off to the south (an extract
    is much larger than the villages). The roads carry the OpenStreetMap credit in ``attrs``."""
    rng = np.random.default_rng(seed)
    vx = X0 + rng.uniform(0, 30_000, n_villages)
    vy = Y0 + rng.uniform(0, 20_000, n_villages)
    villages = gdf(
        [
            {
                "village_id": f"V{i + 1}",
                "name": f"村{i + 1}",
                "township": "高桥乡",
                "households": 40,
                "persons": 160,
                "relocate_households": 10 * (i % 2),
                "relocate_persons": 40 * (i % 2),
                "geometry": Point(x, y),
            }
            for i, (x, y) in enumerate(zip(vx, vy, strict=True))
        ]
    )
    cols = 20
    ranks = rng.permutation(n_sites) + 1
    cx, cy = X0 + 12_500, Y0 + 8_000
    sites = gdf(
        [
            {
                "site_id": f"S{k + 1}",
                "name": f"网格{k + 1}",
                "tier": "central_village",
                "geometry": box(x, y, x + 150, y + 150),
                "passed": True,
                "score": float(1 - r / (n_sites + 1)),
                "rank": int(r),
            }
            for k, r in enumerate(ranks)
            for x, y in [(cx + 250 * (k % cols), cy + 250 * (k // cols))]
        ]
    )
    roads = gdf(
        [
            {
                "road_id": "R1",
                "road_class": "county",
                "name": "县道",
                "geometry": LineString([(X0 - 20_000, Y0 + 10_000), (X0 + 50_000, Y0 + 10_000)]),
            }
        ]
    )
    roads.attrs["attribution"] = OSM_CREDIT
    power = gdf(
        [
            {
                "power_id": "P1",
                "kind": "line",
                "voltage_kv": 110.0,
                "geometry": LineString([(X0 + 15_000, Y0 + 10_000), (X0 + 15_000, Y0 - 90_000)]),
            }
        ]
    )
    cand = sites[["site_id", "name", "tier", "geometry"]]
    layers = Layers(crs=CRS, villages=villages, roads=roads, power=power, candidates=cand)
    return RunContext(
        scenario=SimpleNamespace(name="dense"), layers=layers, results={"site": StepResult(layers={"sites": sites})}
    )
