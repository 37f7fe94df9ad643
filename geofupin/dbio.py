"""PostGIS: layers read from a PostgreSQL database, results written into a schema of one.

A layer source ``{url: postgresql://user@host:5432/db, table: villages}`` (or ``sql: SELECT ...``)
is read with SQLAlchemy and psycopg 3 through :func:`geopandas.read_postgis`, in a read-only
transaction, whatever its geometry column is called; its CRS comes from the SRID of its
geometries. ``outputs.postgis: {url: ..., schema: ...}`` writes every result layer and table of a
run into one schema *atomically*: everything goes into a fresh temporary schema in one
transaction, the previous schema is dropped and the new one renamed in that same transaction, so a
failed run leaves the previous schema as it was. geofupin replaces only schemas it created: each
carries a marker (``COMMENT ON SCHEMA``, like the ``.geofupin`` file of output folders).

Passwords come from the URL, ``PGPASSWORD`` or ``~/.pgpass`` (libpq's own rules); they are
never logged, never put in an error message and never written to ``run.json``
(:func:`redact_url`). The database drivers are the optional extra ``postgis``.

This module sits beside :mod:`geofupin.io` (the ``io`` layer): it is the only one that talks to
a database.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import geopandas as gpd
import pandas as pd
from pyproj import CRS

from ._optional import require
from .crs import apply_datum_shift, offset_code, unshift
from .errors import CRSError, DataError, GeofupinError, OutputError, OutputExistsError, UnsafeOutputError
from .io import layer_crs_of

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

#: URL schemes read as a PostgreSQL database (libpq's two, and SQLAlchemy's psycopg spelling).
SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")

#: Seconds to wait for the server before giving up (libpq ``connect_timeout``).
CONNECT_TIMEOUT_S = 10

#: First words of the marker geofupin puts on every schema it writes (``COMMENT ON SCHEMA``).
MARKER_PREFIX = "geofupin:"
MARKER_VERSION = 1
#: The table in every written schema that records the run (one row).
RUN_TABLE = "geofupin_run"
#: Longest schema name accepted (PostgreSQL allows 63 bytes; the temporary name adds 14).
SCHEMA_MAX_LEN = 48
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]*")
#: Schemas geofupin never writes, whatever their marker says.
RESERVED_SCHEMAS = ("public", "information_schema", "topology", "tiger", "tiger_data")


# ----------------------------------------------------------------------------- URLs (no driver needed)
def is_database_url(text: object) -> bool:
    """Whether ``text`` is a PostgreSQL URL (``postgresql://...``) rather than a file path."""
    if not isinstance(text, str) or "://" not in text:
        return False
    return text.split("://", 1)[0].lower() in SCHEMES


def redact_url(url: str) -> str:
    """``url`` without its password: what logs, messages and ``run.json`` show.

    Examples
    --------
    >>> redact_url("postgresql://gis:s3cret@db.example:5432/county")
    'postgresql://gis@db.example:5432/county'
    """
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
    except ValueError:
        return "postgresql://(unreadable URL)"
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.split(':', 1)[0]}@{host}"
    query = "&".join(q for q in parts.query.split("&") if q and not q.lower().startswith("password="))
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def url_problem(url: str) -> tuple[str, str] | None:
    """``(message, fix)`` when ``url`` cannot name a PostgreSQL database, else ``None`` (no connection made)."""
    shown = redact_url(url)
    example = "postgresql://user@host:5432/dbname (the password in ~/.pgpass or PGPASSWORD)"
    if not is_database_url(url):
        return f"{shown!r} is not a PostgreSQL URL.", f"Write it as {example}."
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"the URL {shown} cannot be read ({exc}).", f"Write it as {example}."
    if port == 0:
        return f"the URL {shown} gives port 0.", "Give the server's port (PostgreSQL's default is 5432)."
    if not parts.path.strip("/"):
        return f"the URL {shown} names no database.", f"Add the database name after the host: {example}."
    return None


def schema_problem(name: str) -> tuple[str, str] | None:
    """``(message, fix)`` when ``name`` cannot be an output schema, else ``None``."""
    if not _SCHEMA_NAME.fullmatch(name) or len(name) > SCHEMA_MAX_LEN:
        return (
            f"schema name {name!r} is not a plain lower-case name of at most {SCHEMA_MAX_LEN} characters.",
            "Use lower-case letters, digits and '_' (starting with a letter), e.g. geofupin_demo.",
        )
    if name.startswith("pg_") or name in RESERVED_SCHEMAS:
        return (
            f"schema {name!r} belongs to PostgreSQL or PostGIS; geofupin writes only schemas of its own.",
            "Choose a new name, e.g. geofupin_demo.",
        )
    return None


def source_sha256(url: str, *, table: str | None = None, sql: str | None = None) -> str:
    """A fingerprint of a database source for ``run.json``: SHA-256 of the URL without password and the table or query.

    (The rows themselves are not hashed: the database is not a file.)
    """
    blob = json.dumps({"url": redact_url(url), "table": table, "sql": sql}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def describe(url: str, *, table: str | None = None, sql: str | None = None) -> str:
    """A short name of a database source for messages: ``table villages in postgresql://gis@host/db``."""
    what = f"table {table}" if table is not None else "query"
    return f"{what} in {redact_url(url)}"


# ----------------------------------------------------------------------------- connections
def engine(url: str) -> Engine:
    """A SQLAlchemy engine on ``url`` through psycopg 3 (the ``postgis`` extra), without connecting yet."""
    sa = require("sqlalchemy")
    require("psycopg")
    if (why := url_problem(url)) is not None:
        raise DataError(f"{why[0]} Fix: {why[1]}")
    sa_url = sa.engine.make_url(url).set(drivername="postgresql+psycopg")
    return sa.create_engine(  # type: ignore[no-any-return]
        sa_url,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S, "application_name": "geofupin"},
        poolclass=sa.pool.NullPool,
    )


def _reason(exc: BaseException) -> str:
    """The database's own words for a failure, on one line (never the URL or a password)."""
    orig = getattr(exc, "orig", None) or exc
    text = " ".join(str(orig).split())
    return text[:400] or type(orig).__name__


@contextmanager
def connect(url: str, *, readonly: bool = False, what: str = "read") -> Iterator[Connection]:
    """A connection on ``url`` inside one transaction (committed when the block succeeds).

    Raises
    ------
    DataError
        The server cannot be reached, or refuses the login (the message says which and how to fix it).
    """
    sa = require("sqlalchemy")
    eng = engine(url)
    shown = redact_url(url)
    try:
        conn = eng.connect()
    except sa.exc.SQLAlchemyError as exc:
        reason = _reason(exc)
        if "password" in reason.lower() or "authentication" in reason.lower():
            fix = (
                "check the user name, and give the password in ~/.pgpass, in PGPASSWORD or in the URL "
                "(postgresql://user:password@host/db)"
            )
        elif "does not exist" in reason:
            fix = "check the database name at the end of the URL (createdb creates one)"
        else:
            fix = "check the host and port in the URL, and that the PostgreSQL server is running and reachable"
        eng.dispose()
        raise DataError(f"cannot connect to {shown} to {what}: {reason}. Fix: {fix}.") from None
    try:
        if readonly:
            conn = conn.execution_options(postgresql_readonly=True)
        with conn.begin():
            yield conn
    finally:
        conn.close()
        eng.dispose()


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote_identifier(name)  # type: ignore[no-any-return]


def _qualified(conn: Connection, table: str) -> str:
    """``"schema"."table"`` for ``schema.table`` or ``table`` (split at the first dot)."""
    schema, dot, name = table.partition(".")
    return f"{_quote(conn, schema)}.{_quote(conn, name)}" if dot else _quote(conn, table)


# ----------------------------------------------------------------------------- reading
def read_layer(
    url: str,
    *,
    table: str | None = None,
    sql: str | None = None,
    geometry: str | None = None,
    crs: Any = None,
    towgs84: tuple[float, ...] | None = None,
    shift_pipeline: str | None = None,
) -> gpd.GeoDataFrame:
    """Read one layer from PostGIS: a ``table`` (``schema.table`` or ``table``) or the rows of a ``sql`` query.

    The geometry column may have any name (``geom``, ``wkb_geometry``, ``shape``, ...): the one
    column of type ``geometry`` is used, or ``geometry`` when the rows have several. The CRS is the
    SRID's (from ``spatial_ref_sys``); ``crs`` is assumed only when the SRID is 0 (undefined), except
    ``crs: GCJ-02``/``BD-09``, which moves the longitudes/latitudes back to WGS84 whatever the SRID says,
    and ``towgs84``/``shift_pipeline``, a datum shift, as :func:`geofupin.io.read_vector` does. The
    query runs in a read-only transaction: reading never changes the database.

    Raises
    ------
    DataError
        Naming the database (without password), the table or query, and the fix: no connection,
        no such table, no PostGIS, no or several geometry columns, mixed SRIDs, a failing query.
    """
    sa = require("sqlalchemy")
    if (table is None) == (sql is None):
        raise DataError("a database layer needs exactly one of 'table:' or 'sql:'. Fix: give one of them.")
    where = describe(url, table=table, sql=sql)
    with connect(url, readonly=True) as conn:
        geom_oid = conn.exec_driver_sql("SELECT to_regtype('geometry')::oid").scalar()
        if not geom_oid:
            raise DataError(
                f"{where}: the database has no PostGIS (no 'geometry' type). Fix: run "
                "'CREATE EXTENSION postgis;' in that database, or give the database that holds the layer."
            )
        if table is not None:
            if conn.exec_driver_sql(f"SELECT to_regclass({_literal(_qualified(conn, table))})").scalar() is None:
                raise DataError(f"{where}: no such table or view. Fix: {_table_hint(conn, table)}")
            query = f"SELECT * FROM {_qualified(conn, table)}"
        else:
            assert sql is not None
            query = f"SELECT * FROM ({sql.strip().rstrip(';')}) AS geofupin_query"
        raw = conn.execution_options(no_parameters=True)
        try:
            cols = raw.exec_driver_sql(f"SELECT * FROM ({query}) AS q LIMIT 0").cursor.description
        except sa.exc.SQLAlchemyError as exc:
            raise _query_error(where, exc) from None
        geoms = [str(c[0]) for c in cols if c[1] == geom_oid]  # DB-API: (name, type_code, ...)
        names = [str(c[0]) for c in cols]
        if geometry is not None:
            if geometry not in geoms:
                kind = "is not a geometry column" if geometry in names else "is not a column"
                raise DataError(
                    f"{where}: '{geometry}' {kind}; geometry columns: {', '.join(geoms) or 'none'}. "
                    "Fix: set 'geometry:' to one of them (or leave it out when there is one)."
                )
            geom_col = geometry
        elif len(geoms) == 1:
            geom_col = geoms[0]
        elif not geoms:
            raise DataError(
                f"{where}: no geometry column among {', '.join(names)}. Fix: give a table with a PostGIS geometry "
                "column, or select one in 'sql:' (a geography column: cast it, geog::geometry AS geom)."
            )
        else:
            raise DataError(
                f"{where}: several geometry columns ({', '.join(geoms)}). Fix: name the one to use with 'geometry:'."
            )
        if names.count(geom_col) > 1:
            raise DataError(f"{where}: two columns are called '{geom_col}'. Fix: rename one in the query.")
        q = _quote(conn, geom_col)
        try:
            srids = [
                int(s)
                for (s,) in raw.exec_driver_sql(
                    f"SELECT DISTINCT ST_SRID({q}) FROM ({query}) AS q WHERE {q} IS NOT NULL LIMIT 3"
                )
            ]
        except sa.exc.SQLAlchemyError as exc:
            raise _query_error(where, exc) from None
        if len(srids) > 1:
            raise DataError(
                f"{where}: the geometries have different SRIDs ({', '.join(map(str, srids))}). Fix: give one CRS "
                f"to the whole layer (ST_Transform({geom_col}, 4490) in 'sql:', or UpdateGeometrySRID)."
            )
        offset = offset_code(crs)
        if not srids and table is not None:  # no geometry to read an SRID from: the column's declared one
            srids = [
                int(s)
                for (s,) in raw.exec_driver_sql(
                    "SELECT g.srid FROM geometry_columns g JOIN pg_namespace n ON n.nspname = g.f_table_schema "
                    "JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = g.f_table_name "
                    f"WHERE c.oid = to_regclass({_literal(_qualified(conn, table))}) "
                    f"AND g.f_geometry_column = {_literal(geom_col)}"
                )
            ]
        layer_crs = _srid_crs(raw, srids[0]) if srids and srids[0] != 0 else None
        if layer_crs is None and crs is not None:
            layer_crs = CRS.from_epsg(4326) if offset else layer_crs_of(crs, where)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "invalid value encountered", RuntimeWarning)
            try:
                gdf = gpd.read_postgis(query, raw, geom_col=geom_col, crs=layer_crs)
            except sa.exc.SQLAlchemyError as exc:
                raise _query_error(where, exc) from None
    try:
        if offset is not None:
            gdf = unshift(gdf, offset, name=where)
        if towgs84 is not None or shift_pipeline is not None:
            gdf = apply_datum_shift(gdf, towgs84=towgs84, pipeline=shift_pipeline, name=where)
    except CRSError as exc:
        raise DataError(str(exc)) from exc
    log.info("read %d feature(s) from %s", len(gdf), where)
    return gdf


def _query_error(where: str, exc: BaseException) -> DataError:
    return DataError(
        f"{where}: the query fails: {_reason(exc)}. Fix: correct the 'sql:' (run it in psql to check; it must "
        "only read), or give a table."
    )


def _literal(text: str) -> str:
    """``text`` as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _srid_crs(conn: Connection, srid: int) -> CRS:
    """The CRS of an SRID, as ``spatial_ref_sys`` defines it (its EPSG code when it has one)."""
    query = f"SELECT auth_name, auth_srid, srtext FROM spatial_ref_sys WHERE srid = {int(srid)}"
    row = conn.exec_driver_sql(query).first()
    if row is None:
        return CRS.from_epsg(srid)
    auth, code, wkt = row
    if auth and code and str(auth).upper() in ("EPSG", "ESRI"):
        return CRS.from_user_input(f"{str(auth).upper()}:{int(code)}")
    return CRS.from_wkt(wkt)


def _table_hint(conn: Connection, table: str) -> str:
    """What to write instead of a table that does not exist: the layers the database does hold."""
    rows = conn.exec_driver_sql(
        "SELECT f_table_schema, f_table_name FROM geometry_columns "
        "WHERE f_table_schema NOT IN ('topology', 'tiger') ORDER BY 1, 2 LIMIT 21"
    ).all()
    names = [n if s == "public" else f"{s}.{n}" for s, n in rows]
    if not names:
        return f"check the name '{table}'; the database holds no table with a geometry column."
    more = " ..." if len(names) > 20 else ""
    return (
        f"check the name '{table}' (write schema.table outside the search path); tables with geometry there: "
        f"{', '.join(names[:20])}{more}."
    )


# ----------------------------------------------------------------------------- writing
def _marker(tables: list[str], run_id: str) -> str:
    record = {"written_by": "geofupin", "marker_version": MARKER_VERSION, "run_id": run_id, "tables": sorted(tables)}
    return (
        f"{MARKER_PREFIX} 本模式由 geofupin 写出,重新运行时整体替换 / written by geofupin, replaced as a whole by "
        f"the next run. {json.dumps(record, ensure_ascii=False)}"
    )


def _read_marker(comment: str | None) -> dict[str, Any] | None:
    if not comment or not comment.startswith(MARKER_PREFIX):
        return None
    try:
        data = json.loads(comment[comment.index("{") :])
    except ValueError:
        return None
    if isinstance(data, dict) and data.get("written_by") == "geofupin" and isinstance(data.get("tables"), list):
        return data
    return None


def _schema_objects(conn: Connection, schema: str) -> list[str]:
    """Tables, views, sequences and functions in ``schema`` (indexes and row types go with their tables)."""
    rows = conn.exec_driver_sql(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        f"WHERE n.nspname = {_literal(schema)} AND c.relkind IN ('r', 'v', 'm', 'f', 'p') "
        "UNION ALL SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        f"WHERE n.nspname = {_literal(schema)} ORDER BY 1"
    ).all()
    return [str(r[0]) for r in rows]


def _check_target(conn: Connection, schema: str, *, overwrite: bool, shown: str) -> list[str] | None:
    """The tables of the existing geofupin schema (``None``: no such schema); refuse any other schema."""
    if (why := schema_problem(schema)) is not None:
        raise UnsafeOutputError(f"拒绝 refused: {why[0]} Fix: {why[1]}")
    row = conn.exec_driver_sql(
        f"SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = {_literal(schema)}"
    ).first()
    if row is None:
        return None
    marker = _read_marker(row[0])
    if marker is None:
        raise UnsafeOutputError(
            f"拒绝 refused: schema {schema} in {shown} was not created by geofupin (no geofupin marker in its "
            "comment); geofupin replaces only schemas it wrote. Fix: choose another outputs.postgis.schema, or "
            "drop that schema yourself."
        )
    extra = sorted(set(_schema_objects(conn, schema)) - set(marker["tables"]))
    if extra:
        shown_extra = ", ".join(extra[:5]) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
        raise UnsafeOutputError(
            f"拒绝 refused: schema {schema} in {shown} holds objects geofupin did not write ({shown_extra}); "
            "replacing it would delete them. Fix: move them to another schema, or choose another "
            "outputs.postgis.schema."
        )
    if not overwrite:
        raise OutputExistsError(
            f"schema {schema} in {shown} already holds a geofupin run. Fix: pass --overwrite to replace it, "
            "or choose another outputs.postgis.schema."
        )
    return [str(t) for t in marker["tables"]]


def check_schema(url: str, schema: str, *, overwrite: bool = False) -> None:
    """Check, before computing, that :func:`write_schema` may write ``schema`` (it connects, writes nothing).

    Raises
    ------
    DataError
        The database cannot be reached.
    UnsafeOutputError
        The schema exists and geofupin did not create it, or it holds objects geofupin did not write.
    OutputExistsError
        The schema is geofupin's and ``overwrite`` is false.
    """
    with connect(url, readonly=True, what="write the results") as conn:
        _check_target(conn, schema, overwrite=overwrite, shown=redact_url(url))


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose cells PostgreSQL takes: lists/dicts as JSON text, a fresh index."""
    out = frame.copy()
    geom = out.active_geometry_name if isinstance(out, gpd.GeoDataFrame) else None
    for col in out.columns:
        if col == geom:
            continue
        s = out[col]
        if s.dtype == object and s.map(lambda v: isinstance(v, (list, tuple, dict))).any():
            out[col] = s.map(lambda v: json.dumps(v, ensure_ascii=False) if isinstance(v, (list, tuple, dict)) else v)
    return out.reset_index(drop=True)


def write_schema(
    url: str,
    schema: str,
    *,
    layers: Mapping[str, gpd.GeoDataFrame],
    tables: Mapping[str, pd.DataFrame],
    run: Mapping[str, Any],
    overwrite: bool = False,
    geometry_name: str = "geom",
) -> list[str]:
    """Write result ``layers`` and ``tables`` into ``schema``, replacing geofupin's previous one atomically.

    In ONE transaction: a fresh temporary schema receives every layer (geometry column
    ``geometry_name`` with the SRID of the layer's CRS and a GiST index) and table, plus
    :data:`RUN_TABLE` (one row: ``run`` as JSON); the previous schema (checked to be geofupin's,
    see :func:`check_schema`) is dropped table by table (never ``CASCADE``: a view of yours on a
    result makes the write fail instead of vanishing) and the new one renamed into its place; the
    grants on the old schema and its tables carry over to the new ones (a reader role keeps reading).
    Any failure rolls everything back: the previous schema stays exactly as it was.

    Returns
    -------
    list of str
        The tables written, in order.

    Raises
    ------
    OutputError
        A write failed (nothing changed in the database).
    UnsafeOutputError, OutputExistsError
        As :func:`check_schema`.
    """
    sa = require("sqlalchemy")
    require("geoalchemy2")
    shown = redact_url(url)
    clash = sorted(set(layers) & set(tables)) + ([RUN_TABLE] if RUN_TABLE in {*layers, *tables} else [])
    if clash:
        raise OutputError(f"cannot write {', '.join(clash)} to schema {schema}: a layer and a table share a name.")
    tmp = f"{schema}__tmp{uuid.uuid4().hex[:8]}"
    written: list[str] = []
    with connect(url, what="write the results") as conn:
        try:
            # one geofupin writer per schema at a time (released at the end of the transaction)
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock(hashtext({_literal('geofupin:' + schema)}))")
            old = _check_target(conn, schema, overwrite=overwrite, shown=shown)
            conn.exec_driver_sql(f"CREATE SCHEMA {_quote(conn, tmp)}")
            for name, gdf in layers.items():
                _write_layer(conn, gdf, name, tmp, geometry_name=geometry_name)
                written.append(name)
            for name, df in tables.items():
                frame = _plain(pd.DataFrame(df))
                frame.to_sql(name, conn, schema=tmp, index=False, if_exists="fail")
                written.append(name)
            record = pd.DataFrame({"run": [json.dumps(dict(run), ensure_ascii=False, default=str)]})
            record.to_sql(RUN_TABLE, conn, schema=tmp, index=False, if_exists="fail")
            written.append(RUN_TABLE)
            if old is not None:
                _copy_grants(conn, schema, tmp, written)
                for name in old:
                    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {_quote(conn, schema)}.{_quote(conn, name)}")
                conn.exec_driver_sql(f"DROP SCHEMA {_quote(conn, schema)}")
            conn.exec_driver_sql(f"ALTER SCHEMA {_quote(conn, tmp)} RENAME TO {_quote(conn, schema)}")
            comment = _marker(written, str(run.get("run_id", "")))
            conn.exec_driver_sql(f"COMMENT ON SCHEMA {_quote(conn, schema)} IS {_literal(comment)}")
        except GeofupinError:
            raise
        except (sa.exc.SQLAlchemyError, ValueError, TypeError) as exc:  # the database refused, or a value is unwritable
            reason = _reason(exc)
            fix = (
                "drop the objects that depend on the old results (a view of yours?) or write to another schema"
                if "depend" in reason
                else "check that the user may create schemas in that database (GRANT CREATE ON DATABASE ...)"
                if "permission" in reason
                else "check the database and retry"
            )
            raise OutputError(
                f"无法写出 cannot write the results to schema {schema} in {shown}: {reason}. Nothing was changed "
                f"in the database (the previous schema, if any, is intact). Fix: {fix}."
            ) from None
    log.info("wrote %d table(s) to schema %s in %s", len(written), schema, shown)
    return written


def _copy_grants(conn: Connection, old: str, new: str, tables: list[str]) -> None:
    """Give the new schema the grants the old one had (``USAGE`` for a reader role), and each new table
    the grants of the old table of its name, so that readers keep their access across runs."""
    role = "CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END"
    rows = conn.exec_driver_sql(
        f"SELECT {role}, a.privilege_type, a.is_grantable FROM pg_namespace n CROSS JOIN LATERAL "
        "aclexplode(n.nspacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee "
        f"WHERE n.nspname = {_literal(old)} AND a.grantee <> n.nspowner"
    ).all()
    for who, privilege, grantable in rows:
        option = " WITH GRANT OPTION" if grantable else ""
        conn.exec_driver_sql(f"GRANT {privilege} ON SCHEMA {_quote(conn, new)} TO {who}{option}")
    rows = conn.exec_driver_sql(
        f"SELECT c.relname, {role}, a.privilege_type, a.is_grantable FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace CROSS JOIN LATERAL aclexplode(c.relacl) a "
        "LEFT JOIN pg_roles r ON r.oid = a.grantee "
        f"WHERE n.nspname = {_literal(old)} AND c.relkind IN ('r', 'p', 'v', 'm') AND a.grantee <> c.relowner"
    ).all()
    for table, who, privilege, grantable in rows:
        if table in tables:
            option = " WITH GRANT OPTION" if grantable else ""
            target = f"{_quote(conn, new)}.{_quote(conn, table)}"
            conn.exec_driver_sql(f"GRANT {privilege} ON TABLE {target} TO {who}{option}")


def _write_layer(conn: Connection, gdf: gpd.GeoDataFrame, name: str, schema: str, *, geometry_name: str) -> None:
    """One layer into ``schema.name`` with its SRID and a GiST index on its geometry."""
    frame = _plain(gdf)
    if frame.geometry.name != geometry_name:
        if geometry_name in frame.columns:  # an attribute already holds the name: keep it, renamed
            frame = frame.rename(columns={geometry_name: f"{geometry_name}_attr"})
        frame = frame.rename_geometry(geometry_name)
    frame.to_postgis(name, conn, schema=schema, index=False, if_exists="fail")
    q = f"{_quote(conn, schema)}.{_quote(conn, name)}"
    has_index = conn.exec_driver_sql(
        f"SELECT count(*) FROM pg_indexes WHERE schemaname = {_literal(schema)} AND tablename = {_literal(name)} "
        "AND position('USING gist' in indexdef) > 0"
    ).scalar()
    if not has_index:
        conn.exec_driver_sql(f"CREATE INDEX ON {q} USING GIST ({_quote(conn, geometry_name)})")
