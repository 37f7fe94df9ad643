"""OSM PBF import (Andorra, north of Bayreuth) and routing on the imported graphs.

Data © OpenStreetMap contributors (ODbL), from ../shared/data (skipped when absent).
"""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from geofupin.accessibility import nearest, od_matrix
from geofupin.errors import DataError
from geofupin.network import build, snap
from geofupin.osm import OSM_ATTRIBUTION, import_osm, parse_maxspeed
from geofupin.vocabulary import ROAD_CLASSES

pytestmark = pytest.mark.shared

EXTRACTS = {"andorra": ("andorra/andorra.osm.pbf", 32631), "bayreuth": ("north-bayreuth/north-bayreuth.osm.pbf", 32632)}


@pytest.fixture(scope="module", params=sorted(EXTRACTS))
def imported(request, shared_data):
    path, epsg = EXTRACTS[request.param]
    layers = import_osm(shared_data / path)
    net, rep = build(layers["roads"])
    return request.param, epsg, layers, net, rep


def test_parse_maxspeed():
    s = parse_maxspeed(pd.Series(["50", "30 mph", "RU:rural", None, "70;50", "walk"]))
    assert s.iloc[0] == 50 and s.iloc[1] == pytest.approx(48.28, abs=0.01) and s.iloc[4] == 70
    assert s.iloc[[2, 3, 5]].isna().all()


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        import_osm(tmp_path / "nope.osm.pbf")


def test_layers_in_the_canonical_model(imported):
    name, epsg, layers, _, _ = imported
    assert {"roads", "water", "power", "villages", "boundaries"} <= set(layers)
    for gdf in layers.values():
        assert gdf.crs.to_epsg() == epsg  # UTM chosen from the centre
        assert gdf.attrs["attribution"] == OSM_ATTRIBUTION
        assert isinstance(gdf.index, pd.RangeIndex)
    roads = layers["roads"]
    assert set(roads.road_class) <= set(ROAD_CLASSES)
    assert roads.road_id.is_unique and roads.road_id.str.startswith("w").all()
    assert roads.geom_type.eq("LineString").all()
    assert roads.bridge.any() and roads.oneway.any()
    assert set(roads.surface.dropna()) <= {"paved", "gravel", "earth"}
    v = layers["villages"]
    assert v["estimated"].all() and (v["persons"] > 0).all()  # placeholders, flagged on every row
    assert set(v["place"]) <= {"village", "hamlet", "isolated_dwelling", "farm"}  # no unpopulated locality
    moving = v["place"].isin(["hamlet", "isolated_dwelling", "farm"])
    assert (v.loc[moving, "relocate_persons"] == v.loc[moving, "persons"]).all()
    assert (v.loc[~moving, "relocate_persons"] == 0).all()
    assert set(layers["water"].kind) <= {"river", "stream", "reservoir", "lake", "well", "spring", "waterworks"}
    assert set(layers["power"].kind) <= {"line", "substation"}
    assert set(layers["boundaries"].level) <= {"county", "township"}
    if name == "andorra":
        assert len(roads) > 1500 and len(v) > 40
        # the study area plus the parishes (Canillo is missing from the extract)
        assert len(layers["boundaries"]) == 7 and (layers["boundaries"].level == "county").sum() == 1
        assert (layers["facilities"].kind == "town").any()
        # roughly 2,800 edges between junctions (SOURCES.md)
        assert len(imported[3].piece_u) == pytest.approx(2800, rel=0.1)
    else:
        assert (roads.road_class == "track").sum() > 800
        assert roads.highway.isin(["motorway"]).any()


def test_graph_size_and_components(imported):
    _, _, layers, net, rep = imported
    s = net.summary()
    assert s["components"] >= 1 and 0 <= s["share_length_outside_main"] < 0.2
    km = layers["roads"].length.sum() / 1000
    assert s["road_length_km"] == pytest.approx(km, rel=0.01)  # noding keeps the length (less duplicates)
    assert rep.n_lines == len(layers["roads"])


def test_routing_equals_networkx_on_imported_graph(imported):
    _, _, layers, net, _ = imported
    v = layers["villages"]
    s = snap(net, v.geometry, max_snap_dist_m=3000)
    routed, nodes = net.attach({"villages": s})
    vn = nodes["villages"]
    rng = np.random.default_rng(0)
    sources = rng.choice(vn[vn >= 0], 5, replace=False)
    res = nearest(routed, sources)
    g = routed.to_networkx()
    dist = nx.multi_source_dijkstra_path_length(g.reverse(copy=False), set(sources.tolist()), weight="time_min")
    reach = np.array([i in dist for i in range(routed.n_nodes)])
    assert (np.isfinite(res.time_min) == reach).all()
    exp = np.array([dist.get(i, np.inf) for i in range(routed.n_nodes)])
    np.testing.assert_allclose(res.time_min[reach], exp[reach], rtol=1e-9)
    # OD from 8 villages to all others, one-way roads honoured, against networkx
    o = vn[vn >= 0][:8]
    od = od_matrix(routed, o, vn, cutoff_min=60)
    for i, oi in enumerate(o):
        t, paths = nx.single_source_dijkstra(g, int(oi), cutoff=60, weight="time_min")
        got = od.time_min[i]
        want = np.array([t.get(int(x), np.inf) if x >= 0 else np.inf for x in vn])
        np.testing.assert_allclose(got, want, rtol=1e-9)
        j = int(np.argmax(np.where(np.isfinite(want), want, -1)))  # the slowest reachable village
        path = paths[int(vn[j])]
        length = sum(
            min(
                d["length_m"] for d in g[a][b].values() if d["time_min"] == min(x["time_min"] for x in g[a][b].values())
            )
            for a, b in itertools.pairwise(path)
        )
        assert od.dist_m[i, j] == pytest.approx(length, rel=1e-9)


def test_access_step_on_andorra_with_dem(shared_data):
    import types

    from geofupin.accessibility import step
    from geofupin.config.access import AccessConfig
    from geofupin.context import Layers, RunContext

    layers = import_osm(shared_data / "andorra/andorra.osm.pbf")
    v = layers["villages"].assign(persons=100, poor_persons=10)
    lay = Layers(
        crs=v.crs,
        villages=v,
        roads=layers["roads"],
        facilities=layers["facilities"],
        boundaries=layers["boundaries"],
        dem=shared_data / "andorra/andorra_srtm3.tif",
    )
    cfg = AccessConfig(slope_penalty=True, facility_kinds=("town",), bands_min=(30.0,))
    res = step(RunContext(scenario=types.SimpleNamespace(access=cfg), layers=lay))
    assert res.summary["build"]["slope_applied_pieces"] > 500  # SRTM covers Andorra's tracks and paths
    va = res.layers["village_access"]
    assert va["time_min_town"].notna().mean() > 0.9
    # the same times from networkx on the routing graph the step built
    routing, nodes = res.artifacts["routing"], res.artifacts["nodes"]
    g = routing.to_networkx().reverse(copy=False)
    fac = layers["facilities"]
    towns = nodes["facilities"][(fac.kind == "town").to_numpy() & (nodes["facilities"] >= 0)]
    dist = nx.multi_source_dijkstra_path_length(g, set(towns.tolist()), weight="time_min")
    want = np.array([dist.get(int(n), np.nan) if n >= 0 else np.nan for n in nodes["villages"]])
    np.testing.assert_allclose(va["time_min_town"].to_numpy(float), want, rtol=1e-9)
    assert len(res.layers["isochrones"]) == 1 and res.layers["isochrones"].geometry[0].area > 0
