"""The page embeds isochrones kind after kind within a vertex budget; the rest stay in results.gpkg."""

from __future__ import annotations

from dataclasses import replace

import geopandas as gpd
import pandas as pd
import shapely
from _maps_fixtures import CRS, X0, Y0, make_ctx
from shapely.geometry import Point

from geofupin.context import StepResult
from geofupin.maps import MapConfig, build_run_map, render_html
from geofupin.maps import data as D
from geofupin.maps.elements import DataLayer


def _ctx_with_kinds():
    ctx = make_ctx()
    rows = []
    for k, kind in enumerate(("school", "clinic", "town")):
        for band in (15, 30, 60):
            rows.append(
                {
                    "facility_kind": kind,
                    "band_min": band,
                    "geometry": Point(X0 + 3000 * k, Y0).buffer(20 * band, quad_segs=16),  # 65 vertices each
                }
            )
    iso = gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS)
    results = dict(ctx.results)
    results["access"] = StepResult(layers={"isochrones": iso}, tables=results["access"].tables)
    return replace(ctx, results=results)


def _iso_layers(m) -> list[str]:
    return [c.layer_name for c in m._children.values() if isinstance(c, DataLayer) and "Isochrones" in c.layer_name]


def test_every_kind_is_embedded_within_the_budget() -> None:
    m = build_run_map(_ctx_with_kinds(), config=MapConfig())
    assert _iso_layers(m) == [
        "等时圈：学校 Isochrones: school",
        "等时圈：卫生室 Isochrones: clinic",
        "等时圈：乡镇驻地 Isochrones: town",
    ]
    assert "未嵌入本页" not in render_html(m)


def test_kinds_beyond_the_budget_are_left_to_the_geopackage_and_named() -> None:
    ctx = _ctx_with_kinds()
    full = render_html(build_run_map(ctx, config=MapConfig()))
    # vertices per kind as drawn (simplified to the display scale)
    iso = D.to_display(ctx.results["access"].layers["isochrones"], simplify_m=MapConfig().simplify_tolerance_m)
    n = iso.groupby("facility_kind").geometry.apply(lambda g: int(shapely.get_num_coordinates(g.values).sum()))
    cap = int(n["school"] + n["clinic"])
    # the first kind always comes (the page shows it); the second fits with it, the third does not
    m = build_run_map(ctx, config=MapConfig(isochrone_max_vertices=cap))
    assert _iso_layers(m) == ["等时圈：学校 Isochrones: school", "等时圈：卫生室 Isochrones: clinic"]
    html = render_html(m)
    assert f"等时圈：乡镇驻地未嵌入本页(超过 map.isochrone_max_vertices = {cap:,} 个顶点),见 results.gpkg" in html
    small = build_run_map(ctx, config=MapConfig(isochrone_max_vertices=1))
    assert _iso_layers(small) == ["等时圈：学校 Isochrones: school"]
    assert "等时圈：卫生室、乡镇驻地未嵌入本页" in render_html(small)
    assert len(render_html(small)) < len(html) < len(full)


def test_the_budget_is_checked() -> None:
    from geofupin._schema import parse
    from geofupin.errors import Problems

    problems = Problems()
    parse(MapConfig, {"isochrone_max_vertices": -1}, "map", problems)
    assert [p.where for p in problems.errors] == ["map.isochrone_max_vertices"]
    assert pd.notna(MapConfig().isochrone_max_vertices)
