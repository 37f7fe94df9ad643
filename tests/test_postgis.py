"""PostGIS in and out, and geometry columns with any name.

The database tests start a real PostgreSQL with PostGIS (``tests/_postgis.py``: Debian's ``postgresql`` and
``postgresql-postgis``, on 127.0.0.1 only) once per session. Where it cannot be started they skip with the
reason; under CI (``CI`` set) they fail instead, so CI really runs them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from demo_helpers import invoke, scenario_copy, sha
from geopandas.testing import assert_geoseries_equal

from geofupin import dbio, pipeline
from geofupin import scenario as sc
from geofupin.allocate.step import allocation_sites, relocating_units
from geofupin.context import attributes
from geofupin.errors import (
    DataError,
    LayerError,
    MissingDependencyError,
    OutputError,
    OutputExistsError,
    ScenarioError,
    UnsafeOutputError,
)
from geofupin.layers import prepare_layers

sys.path.insert(0, str(Path(__file__).parent))
import _postgis

KINDS = ("boundaries", "villages", "roads", "water", "power", "facilities", "constraints", "candidates")


# ----------------------------------------------------------------------------- geometry columns with any name
def _villages(geometry: str) -> gpd.GeoDataFrame:
    g = gpd.GeoDataFrame(
        {
            "village_id": ["v1", "v1", "v2"],
            "group": ["一组", "二组", None],
            "name": ["甲村", "甲村", "乙村"],
            "township": ["城关镇"] * 3,
            "relocate_persons": [10, 5, 7],
            "relocate_households": [3, 2, 2],
        },
        geometry=[shapely.Point(0, 0), shapely.Point(100, 0), shapely.Point(0, 300)],
        crs="EPSG:4545",
    )
    return g.rename_geometry(geometry) if geometry != "geometry" else g


@pytest.mark.parametrize("name", ["geom", "shape"])
def test_relocating_units_use_the_active_geometry_whatever_its_name(name: str) -> None:
    v = _villages(name)
    units, _ = relocating_units(v, unit="group")
    assert list(units["unit_id"]) == ["v1/一组", "v1/二组", "v2"]
    assert units.geometry.name == "geometry"
    assert [(p.x, p.y) for p in units.geometry] == [(0, 0), (100, 0), (0, 300)]
    merged, _ = relocating_units(v, unit="village")
    assert merged.set_index("unit_id")["persons"].to_dict() == {"v1": 15, "v2": 7}
    assert [(p.x, p.y) for p in merged.geometry] == [(0, 0), (0, 300)]  # the first group's point
    assert v.geometry.name == name  # the input is not modified


def test_allocation_sites_keep_a_geom_column() -> None:
    cand = gpd.GeoDataFrame(
        {"site_id": ["s1", "s2"], "planned_area_m2": [None, 1000.0]},
        geometry=[shapely.box(0, 0, 100, 60), shapely.box(500, 0, 510, 10)],
        crs="EPSG:4545",
    ).rename_geometry("geom")
    sites, _ = allocation_sites(None, cand, area_per_person_m2=50.0)
    # capacity: polygon area 6000 m2 / 50 (planned_area_m2 empty), then planned 1000 m2 / 50
    assert list(sites["capacity_persons"]) == [120.0, 20.0]
    assert sites.geometry.name == "geom" and sites.geometry.area.tolist() == [6000.0, 100.0]


def test_attributes_drop_the_active_geometry_only() -> None:
    g = _villages("geom").assign(geometry="a text column called geometry")
    out = attributes(g)
    assert type(out) is pd.DataFrame and "geom" not in out and out["geometry"].iloc[0].startswith("a text")
    plain = pd.DataFrame({"a": [1], "geometry": [shapely.Point(0, 0)]})
    assert list(attributes(plain).columns) == ["a"]


@pytest.mark.slow
def test_the_demo_run_on_geom_layers_equals_the_file_run(demo_run: tuple[Path, Path], tmp_path: Path) -> None:
    """Every step (access, site, allocate, plan, phase, map) on layers whose geometry column is ``geom``
    (as read_postgis gives them, through the Python API) gives the outputs of the GeoPackage run."""
    scenario_file, out_dir = demo_run
    s = sc.load(scenario_file)
    raw = pipeline.read_raw_layers(s, pipeline.Problems())
    raw = {k: [dataclasses.replace(f, frame=f.frame.rename_geometry("geom")) for f in v] for k, v in raw.items()}
    layers = prepare_layers(raw, crs=s.crs, dem=s.layers.dem)
    assert {v.geometry.name for v in layers.present().values()} == {"geom"}
    out = pipeline.run(s, layers=layers)
    mine = tmp_path / "out"
    pipeline.write_outputs(out, mine)
    tables = sorted(p.relative_to(out_dir).as_posix() for p in (out_dir / "tables").glob("*.csv"))
    assert len(tables) > 10
    for t in tables:  # byte for byte: no table gained a geometry column or lost a row
        assert sha(mine / t) == sha(out_dir / t), t
    assert sha(mine / "index.html") == sha(out_dir / "index.html")
    assert (
        json.loads((mine / "run.json").read_text())["key_figures"]
        == json.loads((out_dir / "run.json").read_text())["key_figures"]
    )


# ----------------------------------------------------------------------------- scenario (no database needed)
URL = "postgresql://gis:Top-Secret-42@db.example:5432/county"


def _scenario(layers: dict[str, object], **outputs: object) -> sc.Scenario:
    return sc.from_dict({"name": "t", "layers": layers, "outputs": outputs}, base_dir=Path("/tmp"))


def test_a_database_source_and_output_are_validated_without_a_driver() -> None:
    s = _scenario(
        {"villages": {"url": URL, "table": "county.villages"}, "roads": {"url": URL, "sql": "SELECT * FROM r"}},
        postgis={"url": URL, "schema": "geofupin_demo"},
    )
    src = s.layers.sources()["villages"]
    assert (src.path, src.url, src.table) == (None, URL, "county.villages")
    with pytest.raises(ScenarioError) as err:
        _scenario(
            {
                "villages": {"url": URL},
                "water": {"url": URL, "table": "w", "layer": "w"},
                "power": {"path": "p.gpkg", "sql": "SELECT 1"},
                "facilities": {"url": "mysql://db/x", "table": "f"},
                "candidates": {"path": "c.gpkg", "url": URL, "table": "c"},
            },
            postgis={"url": "postgresql://gis@db", "schema": "public"},
        )
    text = str(err.value)
    for where, words in [
        ("layers.villages", "a database layer needs exactly one of 'table:' or 'sql:'"),
        ("layers.water.layer", "'layer:' applies to a file only"),
        ("layers.power.sql", "'sql:' applies to a database (url:) only"),
        ("layers.facilities.url", "'mysql://db/x' is not a PostgreSQL URL"),
        ("layers.candidates", "'path:' and 'url:' both given"),
        ("outputs.postgis.url", "the URL postgresql://gis@db names no database"),
        ("outputs.postgis.schema", "schema 'public' belongs to PostgreSQL or PostGIS"),
    ]:
        assert f"{where}: {words}" in text, where
    assert "Top-Secret-42" not in text
    with pytest.raises(ScenarioError, match=r"layers.roads: a database is not a file path. Fix: Write it as \{url:"):
        _scenario({"villages": "v.gpkg", "roads": "postgresql://gis@db/county"})


def test_run_json_and_the_run_id_never_hold_the_password() -> None:
    s = _scenario({"villages": {"url": URL, "table": "v"}}, postgis={"url": URL, "schema": "geofupin_demo"})
    blob = json.dumps(s.resolved())
    assert "Top-Secret-42" not in blob
    assert s.resolved()["outputs"]["postgis"]["url"] == "postgresql://gis@db.example:5432/county"
    other = _scenario(
        {"villages": {"url": URL.replace("Top-Secret-42", "other"), "table": "v"}},
        postgis={"url": URL, "schema": "geofupin_demo"},
    )
    assert pipeline.run_id(s) == pipeline.run_id(other)  # the password is not an input


def test_input_hashing_does_not_read_a_url_as_a_file() -> None:
    s = _scenario({"villages": {"url": URL, "table": "v"}, "roads": {"url": URL, "sql": "SELECT * FROM r"}})
    assert "villages" not in pipeline.input_files(s)
    h = pipeline.input_hashes(s)
    assert h["villages"] == dbio.source_sha256(URL, table="v")
    assert h["roads"] == dbio.source_sha256(URL, sql="SELECT * FROM r") != h["villages"]
    assert dbio.source_sha256(URL.replace("Top-Secret-42", "x"), table="v") == h["villages"]


def test_redact_url() -> None:
    assert dbio.redact_url(URL) == "postgresql://gis@db.example:5432/county"
    assert dbio.redact_url("postgresql://db/x?password=p&sslmode=require") == "postgresql://db/x?sslmode=require"
    assert dbio.redact_url("postgresql://a%40b:p%40ss@h/db") == "postgresql://a%40b@h/db"


def test_a_missing_driver_names_the_postgis_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("sqlalchemy", "psycopg", "geoalchemy2"):
        monkeypatch.setitem(sys.modules, name, None)
    s = _scenario({"villages": {"url": URL, "table": "v"}}, postgis={"url": URL, "schema": "geofupin_demo"})
    assert pipeline.input_hashes(s)["villages"]  # validating and hashing need no driver
    with pytest.raises(MissingDependencyError, match=r"pip install 'geofupin\[postgis\]'") as err:
        pipeline.load_inputs(s)
    assert err.value.extra == "postgis" and "Top-Secret-42" not in str(err.value)
    assert str(err.value).startswith("读写 PostGIS 数据库")


# ----------------------------------------------------------------------------- a real PostgreSQL with PostGIS
def _unavailable(why: str) -> None:
    if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
        pytest.fail(f"CI must run the PostGIS tests, but PostgreSQL/PostGIS cannot be started: {why}")
    pytest.skip(f"PostgreSQL with PostGIS cannot be started here: {why}")


@pytest.fixture(scope="session")
def pg() -> Iterator[_postgis.Server]:
    try:
        import geoalchemy2  # noqa: F401
        import psycopg  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError as exc:
        _unavailable(f"the postgis extra is not installed ({exc}): pip install -e '.[postgis]'")
    try:
        server = _postgis.start()
    except _postgis.Unavailable as exc:
        _unavailable(str(exc))
    yield server
    server.stop()


def _sql(pg: _postgis.Server, query: str) -> list[tuple[object, ...]]:
    import psycopg

    with psycopg.connect(pg.url(), autocommit=True) as conn:
        cur = conn.execute(query)
        return list(cur.fetchall()) if cur.description else []


@pytest.fixture(scope="session")
def county_db(pg: _postgis.Server, demo_layers: Path) -> str:
    """The demo layers loaded into schema ``county`` of the test database, geometry column ``geom``."""
    import sqlalchemy as sa

    eng = sa.create_engine(pg.url().replace("postgresql://", "postgresql+psycopg://"))
    with eng.begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA county")
        for kind in KINDS:
            gdf = gpd.read_file(demo_layers / f"{kind}.gpkg").rename_geometry("geom")
            gdf.to_postgis(kind, conn, schema="county", index=False)
    eng.dispose()
    return pg.url()


def _pg_scenario(root: Path, demo_layers: Path, url: str, *, schema: str = "geofupin_demo", extra: str = "") -> Path:
    p = scenario_copy(root, demo_layers)
    text = p.read_text(encoding="utf-8")
    for kind in KINDS:
        line = f"  {kind}: {demo_layers.as_posix()}/{kind}.gpkg\n"
        assert line in text
        text = text.replace(line, f"  {kind}: {{url: '{url}', table: county.{kind}}}\n")
    text = text.replace("outputs:\n", f"outputs:\n  postgis: {{url: '{url}', schema: {schema}}}\n", 1)
    p.write_text(text + extra, encoding="utf-8")
    return p


def test_read_layer_any_geometry_name_srid_and_queries(pg: _postgis.Server, county_db: str) -> None:
    v = dbio.read_layer(county_db, table="county.villages")
    assert v.geometry.name == "geom" and len(v) > 50
    srid = _sql(pg, "SELECT Find_SRID('county', 'villages', 'geom')")[0][0]
    assert v.crs.to_epsg() == srid
    # a query with '%' and ':' in it, a trailing semicolon, two geometry columns: pick one by name
    q = (
        "SELECT village_id, name || ':' AS label, geom, ST_Buffer(geom, 10) AS zone FROM county.villages "
        "WHERE village_id LIKE '%' ORDER BY village_id;"
    )
    with pytest.raises(DataError, match=r"several geometry columns .geom, zone.. Fix: name the one"):
        dbio.read_layer(county_db, sql=q)
    z = dbio.read_layer(county_db, sql=q, geometry="zone")
    assert z.geometry.name == "zone" and z["label"].str.endswith(":").all()
    assert float(z.geometry.area.iloc[0]) == pytest.approx(np.pi * 100, rel=0.01)  # a 10 m buffer
    with pytest.raises(DataError, match="'label' is not a geometry column; geometry columns: geom, zone"):
        dbio.read_layer(county_db, sql=q, geometry="label")


def test_reading_never_changes_the_database(pg: _postgis.Server, county_db: str) -> None:
    with pytest.raises(DataError, match="the query fails"):
        dbio.read_layer(county_db, sql="SELECT * FROM county.water; DROP TABLE county.water")
    with pytest.raises(DataError, match="the query fails: WITH clause containing a data-modifying statement"):
        dbio.read_layer(county_db, sql="WITH d AS (DELETE FROM county.water RETURNING *) SELECT * FROM d")
    assert _sql(pg, "SELECT count(*) FROM county.water")[0][0] > 0
    # a query with a side effect runs in a read-only transaction
    _sql(pg, "CREATE SEQUENCE IF NOT EXISTS county.counter")
    with pytest.raises(DataError, match=r"the query fails: cannot execute nextval\(\) in a read-only transaction"):
        dbio.read_layer(county_db, sql="SELECT nextval('county.counter') AS n, geom FROM county.water")
    assert _sql(pg, "SELECT last_value, is_called FROM county.counter") == [(1, False)]


def test_the_password_may_come_from_pgpassword_or_a_pgpass_file(
    pg: _postgis.Server, county_db: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bare = pg.url(password=False)
    with pytest.raises(DataError, match=r"no password supplied.*Fix: check the user name, and give the password"):
        dbio.read_layer(bare, table="county.power")
    monkeypatch.setenv("PGPASSWORD", _postgis.PASSWORD)
    assert len(dbio.read_layer(bare, table="county.power")) > 0
    monkeypatch.delenv("PGPASSWORD")
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{pg.port}:*:{_postgis.USER}:{_postgis.PASSWORD}\n", encoding="utf-8")
    pgpass.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))  # what ~/.pgpass is, by default
    assert len(dbio.read_layer(bare, table="county.power")) > 0


def test_bad_url_or_table_is_a_layer_error_naming_the_layer_and_the_fix(
    pg: _postgis.Server, county_db: str, demo_layers: Path, tmp_path: Path
) -> None:
    p = _pg_scenario(tmp_path, demo_layers, county_db)
    text = p.read_text(encoding="utf-8").replace("table: county.roads", "table: county.road")
    closed = county_db.replace(f":{pg.port}/", ":1/")
    text = text.replace(f"{{url: '{county_db}', table: county.water}}", f"{{url: '{closed}', table: county.water}}")
    p.write_text(text, encoding="utf-8")
    with pytest.raises(LayerError) as err:
        pipeline.load_inputs(sc.load(p))
    msg = str(err.value)
    assert "layers.roads: table county.road in postgresql://geofupin_test@127.0.0.1" in msg
    assert "no such table or view. Fix: check the name 'county.road'" in msg and "county.roads" in msg
    assert "layers.water: cannot connect to postgresql://geofupin_test@127.0.0.1:1/geofupin_test" in msg
    assert "Connection refused" in msg and "Fix: check the host and port in the URL" in msg
    assert _postgis.PASSWORD not in msg
    for command in ("check", "run"):  # the CLI: a message and exit code 1, no traceback
        code, out = invoke(command, str(p))
        assert code == 1 and "Traceback" not in out and _postgis.PASSWORD not in out, command
        assert "layers.roads" in out and "layers.water" in out, command


def _schema_tables(pg: _postgis.Server, schema: str) -> list[str]:
    rows = _sql(pg, f"SELECT tablename FROM pg_tables WHERE schemaname = '{schema}' ORDER BY 1")
    return [str(r[0]) for r in rows]


def _run_record(pg: _postgis.Server, schema: str) -> dict[str, object]:
    return json.loads(str(_sql(pg, f"SELECT run FROM {schema}.geofupin_run")[0][0]))


@pytest.fixture(scope="session")
def pg_run(
    pg: _postgis.Server, county_db: str, demo_layers: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, str]:
    """``geofupin run`` reading every layer from PostGIS and writing outputs.postgis: (scenario, folder, output)."""
    root = tmp_path_factory.mktemp("pgrun")
    p = _pg_scenario(root, demo_layers, county_db)
    logger = logging.getLogger()
    handler = _Keep()
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        code, out = invoke("run", str(p))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
    assert code == 0, out
    return p, root / "maps" / "demo", out + "\n".join(handler.lines)


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name}: {record.getMessage()}")


@pytest.mark.slow
def test_a_postgis_run_equals_the_geopackage_run(
    pg: _postgis.Server, pg_run: tuple[Path, Path, str], demo_run: tuple[Path, Path]
) -> None:
    _, folder, _ = pg_run
    _, gpkg_folder = demo_run
    mine, theirs = (json.loads((f / "run.json").read_text(encoding="utf-8")) for f in (folder, gpkg_folder))
    assert mine["key_figures"] == theirs["key_figures"]  # the same villages placed, the same budget
    assert mine["key_figures"]["placed_persons"] == 6886
    tables = sorted(p.name for p in (gpkg_folder / "tables").glob("*.csv"))
    for t in tables:  # the same assignment, budget to the yuan, every table byte for byte
        assert sha(folder / "tables" / t) == sha(gpkg_folder / "tables" / t), t
    a = pd.read_csv(folder / "tables" / "assignment.csv", dtype=str)
    b = pd.read_csv(gpkg_folder / "tables" / "assignment.csv", dtype=str)
    pd.testing.assert_frame_equal(a, b)
    for layer in ("sites", "allocation_flows", "input_villages", "planned_roads"):
        x = gpd.read_file(folder / "results.gpkg", layer=layer)
        y = gpd.read_file(gpkg_folder / "results.gpkg", layer=layer)
        assert_geoseries_equal(x.geometry, y.geometry, check_less_precise=False)
    # run.json records the database sources by fingerprint and the schema written
    assert mine["inputs_sha256"]["villages"] == dbio.source_sha256(pg.url(), table="county.villages")
    assert mine["postgis"]["schema"] == "geofupin_demo" and "geofupin_run" in mine["postgis"]["tables"]


@pytest.mark.slow
def test_outputs_postgis_holds_every_layer_and_table_with_srids_and_indexes(
    pg: _postgis.Server, pg_run: tuple[Path, Path, str]
) -> None:
    _, folder, _ = pg_run
    record = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    written = set(_schema_tables(pg, "geofupin_demo"))
    assert written == set(record["layers"]) | set(record["tables"]) | {"geofupin_run"}
    epsg = int(record["crs"].split(":")[1])
    for layer, n in record["layers"].items():
        srid, count = _sql(
            pg, f"SELECT Find_SRID('geofupin_demo', '{layer}', 'geom'), count(*) FROM geofupin_demo.{layer}"
        )[0]
        assert (srid, count) == (epsg, n), layer
        idx = _sql(pg, f"SELECT indexdef FROM pg_indexes WHERE schemaname = 'geofupin_demo' AND tablename = '{layer}'")
        assert any("USING gist (geom)" in str(r[0]) for r in idx), layer
    for table, n in record["tables"].items():
        assert _sql(pg, f"SELECT count(*) FROM geofupin_demo.{table}")[0][0] == n, table
    # read back: the same rows and geometries as results.gpkg and the CSV tables
    url = pg.url()
    sites = dbio.read_layer(url, table="geofupin_demo.sites")
    ref = gpd.read_file(folder / "results.gpkg", layer="sites")
    assert sites.crs.to_epsg() == epsg and list(sites["site_id"]) == list(ref["site_id"])
    assert_geoseries_equal(sites.geometry.rename("geometry"), ref.geometry, check_less_precise=False)
    rows = _sql(pg, "SELECT village_id, total_yuan FROM geofupin_demo.budget_village")
    csv = pd.read_csv(folder / "tables" / "budget_village.csv", dtype={"village_id": str})
    assert dict(rows) == dict(zip(csv["village_id"], csv["total_yuan"], strict=True))  # to the yuan, village by village
    assert _run_record(pg, "geofupin_demo")["run_id"] == pipeline.run_id(sc.load(pg_run[0]))
    (comment,) = _sql(
        pg, "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = 'geofupin_demo'"
    )[0]
    assert str(comment).startswith(dbio.MARKER_PREFIX)


@pytest.mark.slow
def test_the_password_is_never_written_or_logged(pg_run: tuple[Path, Path, str], pg: _postgis.Server) -> None:
    scenario_file, folder, printed = pg_run
    assert _postgis.PASSWORD in scenario_file.read_text(encoding="utf-8")  # it was there to leak
    assert _postgis.PASSWORD not in printed and "geofupin_test@127.0.0.1" in printed
    for f in folder.rglob("*"):
        if f.is_file():
            assert _postgis.PASSWORD.encode() not in f.read_bytes(), f.name
    assert _postgis.PASSWORD not in json.dumps(_run_record(pg, "geofupin_demo"))


@pytest.mark.slow
def test_a_failed_run_leaves_the_previous_schema_and_folder_intact(
    pg: _postgis.Server, pg_run: tuple[Path, Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario_file, folder, _ = pg_run
    before = {t: _sql(pg, f"SELECT count(*) FROM geofupin_demo.{t}")[0][0] for t in _schema_tables(pg, "geofupin_demo")}
    run_before = _run_record(pg, "geofupin_demo")
    json_before = sha(folder / "run.json")
    real = dbio._write_layer
    calls: list[str] = []

    def failing(conn, gdf, name, schema, **kw):  # type: ignore[no-untyped-def]
        real(conn, gdf, name, schema, **kw)
        calls.append(name)
        if len(calls) == 5:  # five layers are in the new schema: the database refuses the next statement
            conn.exec_driver_sql("SELECT 1 / 0")

    monkeypatch.setattr(dbio, "_write_layer", failing)
    code, out = invoke("run", str(scenario_file), "--overwrite")
    assert code == 1 and "Traceback" not in out
    assert "division by zero" in out and "the previous schema, if any, is intact" in out
    assert len(calls) == 5
    after = {t: _sql(pg, f"SELECT count(*) FROM geofupin_demo.{t}")[0][0] for t in _schema_tables(pg, "geofupin_demo")}
    assert after == before and _run_record(pg, "geofupin_demo") == run_before
    assert _sql(pg, "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'geofupin_demo%'") == [("geofupin_demo",)]
    assert sha(folder / "run.json") == json_before  # the folder was not replaced either


def _layers_and_tables() -> tuple[dict[str, gpd.GeoDataFrame], dict[str, pd.DataFrame]]:
    g = gpd.GeoDataFrame({"site_id": ["s1", "s2"]}, geometry=[shapely.Point(1, 2), shapely.Point(3, 4)], crs=4545)
    return {"sites": g}, {"site_load": pd.DataFrame({"site_id": ["s1"], "persons": [7], "tags": [["a", "b"]]})}


def test_write_schema_replaces_only_its_own_schema(pg: _postgis.Server) -> None:
    url = pg.url()
    layers, tables = _layers_and_tables()
    assert dbio.write_schema(url, "gf_own", layers=layers, tables=tables, run={"run_id": "1"}) == [
        "sites",
        "site_load",
        dbio.RUN_TABLE,
    ]
    assert _sql(pg, "SELECT tags FROM gf_own.site_load") == [('["a", "b"]',)]
    with pytest.raises(OutputExistsError, match="pass --overwrite"):
        dbio.write_schema(url, "gf_own", layers=layers, tables=tables, run={"run_id": "2"})
    dbio.write_schema(
        url, "gf_own", layers={"sites": layers["sites"].iloc[:1]}, tables={}, run={"run_id": "3"}, overwrite=True
    )
    assert _schema_tables(pg, "gf_own") == ["geofupin_run", "sites"]  # replaced as a whole: site_load is gone
    assert _sql(pg, "SELECT count(*) FROM gf_own.sites") == [(1,)]
    # someone's table added into geofupin's schema: refused, kept
    _sql(pg, "CREATE TABLE gf_own.notes (t text); INSERT INTO gf_own.notes VALUES ('mine')")
    with pytest.raises(UnsafeOutputError, match=r"holds objects geofupin did not write .notes."):
        dbio.write_schema(url, "gf_own", layers=layers, tables={}, run={}, overwrite=True)
    assert _sql(pg, "SELECT t FROM gf_own.notes") == [("mine",)]
    # a schema geofupin did not create: refused whatever --overwrite says, and checked before computing
    _sql(pg, "CREATE SCHEMA theirs; CREATE TABLE theirs.parcels (id int)")
    with pytest.raises(UnsafeOutputError, match=r"schema theirs .* was not created by geofupin"):
        dbio.write_schema(url, "theirs", layers=layers, tables={}, run={}, overwrite=True)
    with pytest.raises(UnsafeOutputError, match="not created by geofupin"):
        dbio.check_schema(url, "theirs", overwrite=True)
    assert _schema_tables(pg, "theirs") == ["parcels"]


def test_a_view_on_the_results_stops_the_swap_and_nothing_changes(pg: _postgis.Server) -> None:
    url = pg.url()
    layers, tables = _layers_and_tables()
    dbio.write_schema(url, "gf_viewed", layers=layers, tables=tables, run={"run_id": "a"})
    _sql(pg, "CREATE SCHEMA reports; CREATE VIEW reports.v AS SELECT site_id FROM gf_viewed.sites")
    with pytest.raises(OutputError, match=r"depend.*Nothing was changed.*Fix: drop the objects that depend"):
        dbio.write_schema(url, "gf_viewed", layers=layers, tables={}, run={"run_id": "b"}, overwrite=True)
    assert _schema_tables(pg, "gf_viewed") == ["geofupin_run", "site_load", "sites"]
    assert _sql(pg, "SELECT count(*) FROM reports.v") == [(2,)]
    assert json.loads(str(_sql(pg, "SELECT run FROM gf_viewed.geofupin_run")[0][0]))["run_id"] == "a"


def test_the_run_checks_the_schema_before_computing(
    pg: _postgis.Server, county_db: str, demo_layers: Path, tmp_path: Path
) -> None:
    _sql(pg, "CREATE SCHEMA IF NOT EXISTS theirs")
    p = _pg_scenario(tmp_path, demo_layers, county_db, schema="theirs")
    s = sc.load(p)
    with pytest.raises(UnsafeOutputError, match="not created by geofupin"):
        pipeline.check_output_dir(s, tmp_path / "out", overwrite=True)
    code, out = invoke("-q", "run", str(p), "--out", str(tmp_path / "out"))
    assert code == 1 and "schema theirs" in out and not (tmp_path / "out").exists()


def test_empty_mixed_and_null_layers_round_trip_with_their_crs(pg: _postgis.Server) -> None:
    url = pg.url()
    empty = gpd.GeoDataFrame({"a": pd.Series([], dtype="int64")}, geometry=gpd.GeoSeries([], crs=4545), crs=4545)
    shapes = [
        shapely.box(0, 0, 1, 1),
        shapely.MultiPolygon([shapely.box(2, 2, 3, 3)]),
        shapely.LineString([(0, 0), (1, 1)]),
    ]
    mixed = gpd.GeoDataFrame({"k": ["a", "b", "c"]}, geometry=shapes, crs=4545)
    nulls = gpd.GeoDataFrame({"k": ["a", "b"]}, geometry=[None, shapely.Point(1, 1)], crs=4545)
    dbio.write_schema(url, "gf_shapes", layers={"empty": empty, "mixed": mixed, "nulls": nulls}, tables={}, run={})
    e = dbio.read_layer(url, table="gf_shapes.empty")
    assert len(e) == 0 and e.crs.to_epsg() == 4545  # the column's declared SRID when there is no row
    m = dbio.read_layer(url, table="gf_shapes.mixed")
    assert list(m.geom_type) == ["Polygon", "MultiPolygon", "LineString"] and m.crs.to_epsg() == 4545
    assert_geoseries_equal(m.geometry.rename("geometry"), mixed.geometry)
    n = dbio.read_layer(url, table="gf_shapes.nulls")
    assert n.geometry.isna().tolist() == [True, False] and n.crs.to_epsg() == 4545


def test_gcj02_points_in_the_database_are_shifted_as_a_file_is(pg: _postgis.Server, tmp_path: Path) -> None:
    """Gaode coordinates stored as SRID 4326 (as exports declare them): ``crs: GCJ-02`` moves them back to WGS84."""
    from geofupin.io import read_vector

    pts = gpd.GeoDataFrame(
        {"village_id": ["a", "b"]}, geometry=[shapely.Point(109.32, 36.86), shapely.Point(116.40, 39.91)], crs=4326
    )
    pts.to_file(tmp_path / "gcj.geojson")
    import sqlalchemy as sa

    eng = sa.create_engine(pg.url().replace("postgresql://", "postgresql+psycopg://"))
    with eng.begin() as conn:
        pts.rename_geometry("geom").to_postgis("gcj_points", conn, index=False)
    eng.dispose()
    db = dbio.read_layer(pg.url(), table="gcj_points", crs="GCJ-02")
    f = read_vector(tmp_path / "gcj.geojson", crs="GCJ-02")
    assert db.crs.to_epsg() == 4326
    np.testing.assert_allclose(shapely.get_coordinates(db.geometry), shapely.get_coordinates(f.geometry), atol=1e-12)
    moved = shapely.get_coordinates(db.geometry) - shapely.get_coordinates(pts.geometry)
    assert (np.abs(moved) > 1e-4).all() and (np.abs(moved) < 1e-2).all()  # a shift of a few hundred metres


def test_grants_on_the_schema_and_its_tables_survive_a_rerun(pg: _postgis.Server) -> None:
    url = pg.url()
    layers, tables = _layers_and_tables()
    dbio.write_schema(url, "gf_shared", layers=layers, tables=tables, run={"run_id": "1"})
    _sql(pg, "CREATE ROLE qgis_reader NOLOGIN")
    _sql(pg, "GRANT USAGE ON SCHEMA gf_shared TO qgis_reader; GRANT SELECT ON gf_shared.sites TO qgis_reader")
    dbio.write_schema(url, "gf_shared", layers=layers, tables=tables, run={"run_id": "2"}, overwrite=True)
    assert _sql(pg, "SELECT has_schema_privilege('qgis_reader', 'gf_shared', 'USAGE')") == [(True,)]
    assert _sql(pg, "SELECT has_table_privilege('qgis_reader', 'gf_shared.sites', 'SELECT')") == [(True,)]
    assert _sql(pg, "SELECT has_table_privilege('qgis_reader', 'gf_shared.site_load', 'SELECT')") == [(False,)]
    assert _run_record(pg, "gf_shared")["run_id"] == "2"
