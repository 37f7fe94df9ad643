"""The public Python API: exported names are the documented ones, each documented in numpydoc with
keyword-only options; a notebook run on the demo's own GeoDataFrames gives the figures of ``geofupin run``;
the networkx export is one osmnx reads."""

from __future__ import annotations

import importlib
import inspect
import json
import re
from functools import cached_property
from pathlib import Path
from types import FunctionType

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

import geofupin
from geofupin.accessibility import od_matrix
from geofupin.config.access import AccessConfig
from geofupin.config.allocate import AllocationConfig
from geofupin.config.placement import PlacementConfig, TransitionalHousing
from geofupin.errors import DataError
from geofupin.placement import nursing_homes, place
from geofupin.roster import normalize

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "docs" / "reference"

#: The public modules: each has ``__all__`` and a page ``docs/reference/<name>.md``.
PUBLIC = (
    "geofupin",
    "geofupin.network",
    "geofupin.access",
    "geofupin.siting",
    "geofupin.allocate",
    "geofupin.policy",
    "geofupin.maps",
)


def documented(module: str) -> set[str]:
    """The names the reference page of ``module`` documents (one ``::: module.name`` directive each)."""
    page = REFERENCE / ("index.md" if module == "geofupin" else f"{module.split('.')[-1]}.md")
    text = page.read_text(encoding="utf-8")
    return set(re.findall(rf"^::: {re.escape(module)}\.(\w+)\s*$", text, flags=re.M))


def exported(module: str) -> dict[str, object]:
    mod = importlib.import_module(module)
    assert isinstance(mod.__all__, (list, tuple)), f"{module}.__all__ must be a list"
    assert len(set(mod.__all__)) == len(mod.__all__), f"{module}.__all__ repeats a name"
    return {name: getattr(mod, name) for name in mod.__all__}


@pytest.mark.parametrize("module", PUBLIC)
def test_exported_names_are_the_documented_ones(module: str) -> None:
    names = {n for n, obj in exported(module).items() if not inspect.ismodule(obj) and not n.startswith("__")}
    assert names == documented(module)


def test_the_package_exports_its_public_modules_each_with_a_page() -> None:
    mods = {n for n, obj in exported("geofupin").items() if inspect.ismodule(obj)}
    assert mods == {m.split(".")[-1] for m in PUBLIC[1:]}
    for m in mods:
        assert (REFERENCE / f"{m}.md").is_file()
    # every page of the reference is in the site's navigation
    nav = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    for page in REFERENCE.glob("*.md"):
        assert f"reference/{page.name}" in nav


def section(doc: str, title: str) -> str:
    """The body of a numpydoc section (``Parameters``, ``Returns``), or '' when absent."""
    m = re.search(rf"^{title}\n-{{{len(title)}}}\n(.*?)(?=^\w[\w ]*\n-{{3,}}\n|\Z)", doc, flags=re.M | re.S)
    return m.group(1) if m else ""


def callables() -> list[tuple[str, object]]:
    out = []
    for module in PUBLIC:
        for name, obj in exported(module).items():
            if callable(obj) and not inspect.ismodule(obj):
                out.append((f"{module}.{name}", obj))
    return out


@pytest.mark.parametrize(("name", "obj"), callables(), ids=[n for n, _ in callables()])
def test_every_exported_callable_has_a_numpydoc_docstring_and_keyword_only_options(name: str, obj: object) -> None:
    doc = inspect.getdoc(obj) or ""
    summary = doc.split("\n", 1)[0]
    assert summary.strip(), f"{name}: no summary line"
    if inspect.isclass(obj):
        attrs = section(doc, "Attributes")
        assert attrs, f"{name}: a class documents its Attributes"
        fields = getattr(obj, "__dataclass_fields__", {})
        for f in fields:
            assert re.search(rf"(?<!\w){f}(?!\w)", attrs), f"{name}: attribute {f} is not documented"
        for attr, member in vars(obj).items():
            if not attr.startswith("_") and isinstance(member, (property, cached_property, FunctionType)):
                assert inspect.getdoc(member), f"{name}.{attr} has no docstring"
        return
    params = section(doc, "Parameters")
    assert section(doc, "Returns"), f"{name}: no Returns section"
    sig = inspect.signature(obj)  # type: ignore[arg-type]
    documented_params = set(re.findall(r"^(\w+(?:, \w+)*)$", params, flags=re.M))
    names = {p for group in documented_params for p in group.split(", ")}
    for p in sig.parameters.values():
        assert p.name in names, f"{name}: parameter {p.name} is not documented"
        if p.default is not inspect.Parameter.empty and p.kind is not inspect.Parameter.KEYWORD_ONLY:
            # an option (a parameter with a default) is keyword-only; the data come first
            assert p.name in DATA_WITH_DEFAULT.get(name, ()), f"{name}: option {p.name} is not keyword-only"


#: Data arguments that may be left out (positional, with a default): they are inputs, not options.
DATA_WITH_DEFAULT = {
    "geofupin.allocate.assign": ("od",),
    "geofupin.policy.budget": ("assignment",),
    "geofupin.read_policy": ("path",),
}


def test_a_missing_section_or_a_positional_option_is_caught() -> None:
    check = test_every_exported_callable_has_a_numpydoc_docstring_and_keyword_only_options

    def bad(gdf: gpd.GeoDataFrame, width: float = 1.0) -> gpd.GeoDataFrame:
        return gdf

    params = "Summary.\n\nParameters\n----------\ngdf\n    Input.\n"
    bad.__doc__ = params
    with pytest.raises(AssertionError, match="Returns"):
        check("bad", bad)
    bad.__doc__ = params + "\nReturns\n-------\nGeoDataFrame\n"
    with pytest.raises(AssertionError, match="width is not documented"):
        check("bad", bad)
    bad.__doc__ = params + "width\n    Width.\n\nReturns\n-------\nGeoDataFrame\n"
    with pytest.raises(AssertionError, match="keyword-only"):
        check("bad", bad)


def test_submodules_load_on_first_use_and_unknown_names_fail() -> None:
    assert geofupin.access.nearest is importlib.import_module("geofupin.accessibility").nearest_facilities
    assert "network" in dir(geofupin)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = geofupin.nope  # type: ignore[attr-defined]


# ----------------------------------------------------------------------------- tiny, hand-checked


def tiny() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """A 4 km county road (40 km/h) with a school at its east end, two villages and two sites.

    Indexes are not 0..n: the results must keep them.
    """
    crs = "EPSG:4545"
    roads = gpd.GeoDataFrame(
        {"road_id": ["R1"], "road_class": ["county"]}, geometry=[shapely.LineString([(0, 0), (4000, 0)])], crs=crs
    )
    fac = gpd.GeoDataFrame(
        {"facility_id": ["F1"], "kind": ["school"]}, geometry=[shapely.Point(4000, 0)], crs=crs, index=[7]
    )
    villages = gpd.GeoDataFrame(
        {"village_id": ["V1", "V2"], "relocate_persons": [10, 0]},
        geometry=[shapely.Point(0, 300), shapely.Point(2000, 0)],
        crs=crs,
        index=[10, 20],
    )
    sites = gpd.GeoDataFrame(
        {"site_id": ["A", "B"]}, geometry=[shapely.Point(1000, 0), shapely.Point(3000, 0)], crs=crs, index=[5, 6]
    )
    return roads, fac, villages, sites


def test_nearest_od_and_isochrones_on_a_tiny_county_by_hand() -> None:
    roads, fac, villages, sites = tiny()
    net = geofupin.network.from_roads(roads)
    assert net.report is not None and net.report.n_pieces == 1
    va = geofupin.access.nearest(net, villages, fac, kinds=["school"])
    assert list(va.index) == [10, 20]  # indexed like the input
    # V1: walk 300 m at 4 km/h (4.5 min) then 4 km at 40 km/h (6 min)
    assert va.loc[10, "time_min_school"] == pytest.approx(4.5 + 6.0)
    assert va.loc[10, "dist_m_school"] == pytest.approx(4300)
    assert va.loc[20, "time_min_school"] == pytest.approx(3.0) and va.loc[20, "nearest_school"] == "F1"
    assert "time_min_school" not in villages  # the input is not modified
    od = geofupin.access.od(net, villages, sites)
    assert list(od.columns) == ["village_id", "site_id", "time_min", "dist_m"]
    got = {(r.village_id, r.site_id): r.time_min for r in od.itertuples()}
    assert got[("V1", "A")] == pytest.approx(4.5 + 1.5) and got[("V2", "B")] == pytest.approx(1.5)
    cut = geofupin.access.od(net, villages, sites, cutoff_min=5.0)
    assert set(zip(cut.village_id, cut.site_id, strict=True)) == {("V2", "A"), ("V2", "B")}
    iso = geofupin.access.isochrones(net, fac, kinds=["school"], bands_min=[3.0], config=AccessConfig())
    assert list(iso.columns) == ["facility_kind", "band_min", "geometry"] and iso.crs == roads.crs
    band = iso.geometry.iloc[0]
    # 3 min at 40 km/h reaches 2 km west of the school: the buffered road from x = 2000 to 4000
    assert band.contains(shapely.Point(2100, 0)) and not band.contains(shapely.Point(1500, 0))


def test_access_functions_use_the_active_geometry_whatever_its_name() -> None:
    frames = tiny()
    roads, fac, villages, sites = (g.rename_geometry("geom") for g in frames)  # as read_postgis gives them
    net = geofupin.network.from_roads(roads)
    va = geofupin.access.nearest(net, villages, fac, kinds=["school"])
    assert va.geometry.name == "geom" and va["time_min_school"].tolist() == pytest.approx([10.5, 3.0])
    want = geofupin.access.od(geofupin.network.from_roads(frames[0]), frames[2], frames[3])
    pd.testing.assert_frame_equal(geofupin.access.od(net, villages, sites), want)
    iso = geofupin.access.isochrones(net, fac, kinds=["school"], bands_min=[3.0])
    assert iso.geometry.iloc[0].contains(shapely.Point(2100, 0))


def test_public_functions_refuse_an_attached_network_or_another_object() -> None:
    roads, fac, villages, sites = tiny()
    net = geofupin.network.from_roads(roads)
    with pytest.raises(DataError, match="from_roads"):
        geofupin.access.nearest(roads, villages, fac)  # type: ignore[arg-type]
    routed, _ = net.attach({"v": geofupin.network.snap(net, villages.geometry)})
    with pytest.raises(DataError, match="already has points attached"):
        geofupin.access.od(routed, villages, sites)


def test_from_roads_says_when_slopes_cannot_be_used() -> None:
    roads, *_ = tiny()
    net = geofupin.network.from_roads(roads, config=AccessConfig(slope_penalty=True))
    assert net.report is not None and any("slope_penalty" in w for w in net.report.warnings)
    assert net.elevation is None


def test_assign_places_a_village_by_hand_and_budget_prices_it() -> None:
    roads, _, villages, sites = tiny()
    villages = villages.assign(
        name=["一村", "二村"], township="东乡", relocate_households=[3, 0], households=[5, 4], persons=[12, 9]
    )
    sites = sites.assign(passed=[True, True], capacity_persons=[100, 100], name=["甲", "乙"], tier="central_village")
    net = geofupin.network.from_roads(roads)
    od = geofupin.access.od(net, villages, sites)
    run = geofupin.allocate.assign(villages, sites, od)
    a = run.assignment
    assert list(zip(a.village_id, a.site_id, a.persons, strict=True)) == [("V1", "A", 10)]  # A is nearer
    assert run.allocation.served_persons == 10 and len(run.flows) == 1
    budget = geofupin.policy.budget(villages, a)
    # the seed-county policy prices it; by rule and by township the same total
    assert budget.total_yuan > 0
    by_rule = geofupin.policy.budget_by_rule(budget)
    assert by_rule["amount_yuan"].sum() == pytest.approx(budget.total_yuan, abs=0.05)
    township = geofupin.policy.budget_by(budget, "township")
    assert township["total_yuan"].sum() == pytest.approx(budget.total_yuan, abs=0.05)
    assert (geofupin.policy.reconciliation(budget)["diff_yuan"].abs() < 0.05).all()


def test_explore_draws_the_notebook_results_names_as_text() -> None:
    roads, fac, villages, sites = tiny()
    villages = villages.assign(
        name=["</script><b>一村", "二村"],
        township="东乡",
        relocate_households=[3, 0],
        households=[5, 4],
        persons=[12, 9],
    )
    sites = sites.assign(
        passed=[True, True], capacity_persons=[100, 100], name=["甲安置点", "乙安置点"], tier="central_village"
    )
    net = geofupin.network.from_roads(roads)
    run = geofupin.allocate.assign(villages, sites, geofupin.access.od(net, villages, sites))
    iso = geofupin.access.isochrones(net, fac, kinds=["school"], bands_min=[3.0])
    m = geofupin.maps.explore(villages, roads=roads, facilities=fac, candidates=sites, isochrones=iso, allocation=run)
    page = geofupin.maps.render_html(m, offline=False)
    import folium

    assert isinstance(m, folium.Map)  # a folium map (geofupin's subclass writes folium's own macros verbatim)
    assert "</script><b>" not in page and "一村" in page  # a name is data shown as text, never markup
    assert "甲安置点" in page and "乙安置点" in page  # the candidates
    assert "搬迁去向（线宽表示户数）" in page  # the flows of the allocation are drawn
    bare = geofupin.maps.render_html(geofupin.maps.explore(villages), offline=False)
    assert "甲安置点" not in bare and "二村" in bare and "搬迁去向（线宽表示户数）" not in bare


def test_read_layers_from_files_and_frames_checks_every_layer(tmp_path: Path) -> None:
    roads, _, villages, _ = tiny()
    v = villages.assign(
        name=["一村", "二村"],
        township="东乡",
        households=[5, 4],
        persons=[12, 9],
        poor_households=0,
        poor_persons=0,
        relocate_households=[3, 0],
        relocate_persons=[10, 0],
    ).to_crs("EPSG:4490")
    v.to_file(tmp_path / "villages.gpkg")
    layers = geofupin.read_layers({"villages": tmp_path / "villages.gpkg", "roads": roads}, crs="EPSG:4545")
    assert layers.crs.to_epsg() == 4545 and layers.villages.crs.to_epsg() == 4545
    assert list(layers.villages.index) == [0, 1] and layers.roads is not None and layers.facilities is None
    np.testing.assert_allclose(layers.villages.geometry.x, [0, 2000], atol=1e-3)
    from geofupin.errors import LayerError

    with pytest.raises(LayerError) as err:
        geofupin.read_layers({"villages": tmp_path / "missing.gpkg", "roads": tmp_path / "nope.gpkg"})
    assert "layers.villages" in str(err.value) and "layers.roads" in str(err.value)


# ----------------------------------------------------------------------------- the demo, as in a notebook


def test_ten_lines_on_the_demo_geodataframes_give_the_run_figures(
    demo_layers: Path, demo_run: tuple[Path, Path]
) -> None:
    _, out = demo_run
    d = demo_layers
    # a notebook: read with geopandas, then network -> nearest -> od -> screen/score -> allocate -> budget
    v, roads, fac, cands = (gpd.read_file(d / f"{k}.gpkg") for k in ("villages", "roads", "facilities", "candidates"))
    more = {k: gpd.read_file(d / f"{k}.gpkg") for k in ("water", "power", "constraints", "boundaries", "roads")}
    acc = AccessConfig(max_snap_dist_m=3000, od_cutoff_min=300)  # the demo scenario's access section
    net = geofupin.network.from_roads(roads, config=acc)
    sa = geofupin.access.nearest(net, cands, fac, config=acc)
    od = geofupin.access.od(net, v, cands, config=acc)
    siting = geofupin.siting.evaluate(cands, villages=v, facilities=fac, site_access=sa, dem=d / "dem.tif", **more)
    # 分散安置 / 集中供养 / 周转房 first, from the roster, as the demo scenario's placement section says
    households, _ = normalize(pd.read_excel(d / "households.xlsx", sheet_name="名册", engine="openpyxl", dtype=str), v)
    cfg = PlacementConfig(nursing_home_max_min=180, transitional_housing=(TransitionalHousing("V001-G1", 3),))
    to_homes = geofupin.access.od(net, v, nursing_homes(fac)[0], cutoff_min=180, config=acc)
    placed = place(v, cfg, households=households, facilities=fac, nursing_od=to_homes)
    run = geofupin.allocate.assign(placed.villages, siting.sites, od, config=AllocationConfig(cutoff_min=300))
    policy = geofupin.read_policy(REPO / "scenarios" / "policy" / "seed-county.yaml")
    everyone = pd.concat([run.assignment.assign(mode="central"), placed.rows], ignore_index=True)
    budget = geofupin.policy.budget(v, everyone, policy=policy)

    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    summary = record["summary"]
    assert run.allocation.served_persons == summary["allocate"]["central_relocating_persons"] == 6664
    assert int(everyone["persons"].sum()) == summary["allocate"]["served_persons"] == 6886
    assert len(run.allocation.open_sites) == summary["allocate"]["open_sites"]
    assert round(budget.total_yuan) == round(summary["plan"]["budget_total_yuan"])  # to the yuan
    assert round(budget.total_yuan / 1e4, 2) == record["key_figures"]["budget_wan_yuan"]
    # the same pairs, persons and times as the run's assignment table
    written = pd.read_csv(out / "tables" / "assignment.csv", dtype={"village_id": str, "site_id": str})
    per_mode = written.groupby("mode")["persons"].sum().to_dict()
    assert per_mode == everyone.groupby("mode")["persons"].sum().to_dict()
    written = written[written["mode"] == "central"]
    mine = run.assignment
    key = ["village_id", "group", "site_id"]
    a = written.fillna({"group": ""}).astype({"group": str}).sort_values(key).reset_index(drop=True)
    b = mine.fillna({"group": ""}).astype({"group": str}).sort_values(key).reset_index(drop=True)
    assert a[key].values.tolist() == b[key].values.tolist()
    np.testing.assert_array_equal(a["persons"].to_numpy(int), b["persons"].to_numpy(int))
    np.testing.assert_allclose(a["time_min"].to_numpy(float), b["time_min"].to_numpy(float), rtol=1e-6)
    # the ranking the run wrote, and the site layer indexed like the candidates
    ranking = pd.read_csv(out / "tables" / "site_ranking.csv", dtype={"site_id": str})
    assert ranking["site_id"].tolist() == siting.ranking["site_id"].tolist()
    assert siting.sites.index.equals(cands.index)


# ----------------------------------------------------------------------------- osmnx reads the graph


def test_osmnx_routes_and_snaps_on_the_exported_graph_as_geofupin_does(demo_layers: Path) -> None:
    ox = pytest.importorskip("osmnx")
    roads = gpd.read_file(demo_layers / "roads.gpkg")
    net = geofupin.network.from_roads(roads)
    g = net.to_networkx()
    assert g.graph["crs"] == roads.crs and isinstance(g, nx.MultiDiGraph)
    nodes, edges = ox.graph_to_gdfs(g)
    assert nodes.crs == roads.crs and len(nodes) == net.n_nodes and len(edges) == net.n_edges
    np.testing.assert_allclose(nodes.sort_index()[["x", "y"]].to_numpy(), net.node_xy)
    assert edges["length"].sum() == pytest.approx(net.edge_length_m.sum())
    # nearest_nodes: a point 3 m off a node finds that node
    pick = np.array([0, net.n_nodes // 2, net.n_nodes - 1])
    xy = net.node_xy[pick] + 3.0
    assert list(ox.distance.nearest_nodes(g, xy[:, 0], xy[:, 1])) == pick.tolist()
    # shortest_path by travel_time (seconds): the time and length geofupin's CSR Dijkstra finds
    dest = [int(i) for i in pick[1:]]
    want = od_matrix(net, [0], dest)
    for j, d in enumerate(dest):
        route = ox.routing.shortest_path(g, 0, d, weight="travel_time")
        legs = ox.routing.route_to_gdf(g, route, weight="travel_time")
        assert legs["travel_time"].sum() / 60 == pytest.approx(want.time_min[0, j], rel=1e-9)
        assert want.dist_m is not None and legs["length"].sum() == pytest.approx(want.dist_m[0, j], rel=1e-9)
    # the speed osmnx would time with is the one geofupin timed with
    e = edges.iloc[0]
    assert e["travel_time"] == pytest.approx(e["length"] / (e["speed_kph"] / 3.6))
