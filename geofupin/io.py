"""All reading and writing of files.

Every other module takes and returns GeoDataFrames, arrays or dataclasses; only this module
(and the windowed DEM readers of :mod:`geofupin.terrain`) opens files. Writes are atomic: data
goes to a temporary file beside the target, then :func:`os.replace` moves it into place, so a
failed run never leaves a half-written output. Outputs are byte-deterministic where the format
allows (GeoPackage timestamps are pinned).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from io import BytesIO
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import yaml

from ._optional import require
from .config.policy import Policy, PolicyConfig, parse_policy, seed_policy
from .errors import DataError, OutputExistsError

log = logging.getLogger(__name__)

#: Fixed timestamp written into GeoPackage metadata so equal data give equal bytes.
GPKG_TIMESTAMP = "2016-01-01T00:00:00.000Z"

VECTOR_DRIVERS: dict[str, str] = {
    ".gpkg": "GPKG",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".shp": "ESRI Shapefile",
    ".parquet": "Parquet",
    ".geoparquet": "Parquet",
    ".csv": "CSV",
}

#: Column names recognised as longitude / latitude in CSV files (lower-cased).
LON_NAMES = ("lon", "lng", "long", "longitude", "x", "经度", "東經", "东经")
LAT_NAMES = ("lat", "latitude", "y", "纬度", "北纬")


# --------------------------------------------------------------------------- atomic writes
@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds.

    Examples
    --------
    >>> with atomic_write("out.csv") as tmp:  # doctest: +SKIP
    ...     df.to_csv(tmp)
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp{target.suffix}")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_dir(
    path: str | os.PathLike[str], *, overwrite: bool = False, protect: Iterable[str | os.PathLike[str]] = ()
) -> Iterator[Path]:
    """Yield a temporary directory that replaces ``path`` as a whole when the block succeeds.

    Parameters
    ----------
    path
        The output folder.
    overwrite
        Replace an existing, non-empty folder.
    protect
        Files that must survive (the scenario, its inputs): a folder holding any of them is
        never replaced, whatever ``overwrite`` says.

    Raises
    ------
    OutputExistsError
        When ``path`` exists, is not empty and ``overwrite`` is false.
    DataError
        When ``path`` is, or lies above, a protected file's folder.
    """
    target = Path(path)
    resolved = target.resolve()
    for p in protect:
        q = Path(p).resolve()
        if resolved == q or resolved in q.parents:
            raise DataError(
                f"output folder {target} holds the input {p}; replacing the folder would delete it. "
                "Fix: write outputs to a folder of their own (--out, or outputs.dir in the scenario)."
            )
    if target.exists() and any(target.iterdir()) and not overwrite:
        raise OutputExistsError(
            f"output folder {target} already exists. Fix: pass --overwrite to replace it, or --out another folder."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; the published folder follows the umask
    try:
        yield tmp
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.old")
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _driver_for(path: Path, driver: str | None) -> str:
    if driver:
        return driver
    drv = VECTOR_DRIVERS.get(path.suffix.lower())
    if drv is None:
        raise DataError(
            f"cannot tell the format of {path}: unknown extension '{path.suffix}'. "
            f"Fix: use one of {', '.join(sorted(VECTOR_DRIVERS))}."
        )
    return drv


# --------------------------------------------------------------------------- writers
def write_vector(
    gdf: gpd.GeoDataFrame,
    path: str | os.PathLike[str],
    *,
    layer: str | None = None,
    driver: str | None = None,
) -> Path:
    """Write one layer atomically (GeoPackage, GeoJSON, Shapefile, GeoParquet by extension)."""
    target = Path(path)
    drv = _driver_for(target, driver)
    with atomic_write(target) as tmp:
        _write_one(gdf, tmp, layer=layer, driver=drv)
        if drv == "ESRI Shapefile":  # move the sidecar files too
            for side in tmp.parent.glob(tmp.stem + ".*"):
                if side != tmp:
                    os.replace(side, target.with_suffix(side.suffix))
    return target


def write_layers(frames: Mapping[str, gpd.GeoDataFrame], path: str | os.PathLike[str]) -> Path:
    """Write several layers into one GeoPackage atomically (all or nothing)."""
    target = Path(path)
    with atomic_write(target) as tmp:
        for name, gdf in frames.items():
            _write_one(gdf, tmp, layer=name, driver="GPKG", append=tmp.exists())
    return target


def _write_one(gdf: gpd.GeoDataFrame, path: Path, *, layer: str | None, driver: str, append: bool = False) -> None:
    if driver == "Parquet":
        require("pyarrow")  # the `parquet` extra
        gdf.to_parquet(path, index=False)
        return
    frame = _plain_columns(gdf)
    kwargs: dict[str, Any] = {}
    if driver == "GPKG":
        kwargs["layer"] = layer
    if driver == "ESRI Shapefile":
        kwargs["encoding"] = "UTF-8"
    with pyogrio_config({"OGR_CURRENT_DATE": GPKG_TIMESTAMP}):
        pyogrio.write_dataframe(frame, path, driver=driver, append=append, **kwargs)


def _plain_columns(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Copy with types every vector format can hold (lists/dicts as JSON text, bool as int where needed)."""
    out = gdf.copy()
    for col in out.columns:
        if col == out.geometry.name:
            continue
        s = out[col]
        if s.dtype == object and s.map(lambda v: isinstance(v, (list, tuple, dict))).any():
            out[col] = s.map(lambda v: json.dumps(v, ensure_ascii=False) if isinstance(v, (list, tuple, dict)) else v)
    return out.reset_index(drop=True)


@contextlib.contextmanager
def pyogrio_config(options: Mapping[str, str]) -> Iterator[None]:
    """Set GDAL config options for the duration of a block."""
    old = {k: pyogrio.get_gdal_config_option(k) for k in options}
    pyogrio.set_gdal_config_options(dict(options))
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options(old)


def write_raster(
    array: np.ndarray,
    path: str | os.PathLike[str],
    *,
    transform: Any,
    crs: Any,
    nodata: float | int | None = None,
    compress: str = "deflate",
) -> Path:
    """Write a single-band (2-D) or multi-band (3-D, bands first) GeoTIFF atomically."""
    import rasterio

    arr = np.asarray(array)
    data = arr[np.newaxis] if arr.ndim == 2 else arr
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "height": data.shape[1],
        "width": data.shape[2],
        "count": data.shape[0],
        "dtype": data.dtype.name,
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
        "compress": compress,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "predictor": 3 if data.dtype.kind == "f" else 2,
    }
    target = Path(path)
    with atomic_write(target) as tmp, rasterio.Env(GDAL_PAM_ENABLED="NO"), rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data)
    return target


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 text atomically."""
    target = Path(path)
    with atomic_write(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return target


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write bytes atomically."""
    target = Path(path)
    with atomic_write(target) as tmp:
        tmp.write_bytes(data)
    return target


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write JSON (UTF-8, Chinese kept readable, keys in insertion order) atomically."""
    return write_text(path, json.dumps(obj, ensure_ascii=False, indent=2, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    return str(obj)


def write_csv(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a table as CSV with a UTF-8 byte-order mark so Excel shows Chinese correctly."""
    target = Path(path)
    with atomic_write(target) as tmp:
        df.to_csv(tmp, index=False, encoding="utf-8-sig", lineterminator="\n")
    return target


def write_xlsx(
    tables: Mapping[str, pd.DataFrame],
    path: str | os.PathLike[str],
    *,
    headers_en: Mapping[str, Mapping[str, str]] | None = None,
) -> Path:
    """Write tables as sheets of one XLSX workbook atomically.

    Sheet names are cut to Excel's 31 characters (made unique). With ``headers_en``
    (table -> {column: English header}) a second header row gives the English names.
    Document timestamps are pinned so equal tables give equal files.
    """
    import datetime as dt

    from openpyxl import Workbook

    target = Path(path)
    wb = Workbook()
    wb.remove(wb.active)
    used: set[str] = set()
    for name, df in tables.items():
        sheet = _sheet_name(name, used)
        ws = wb.create_sheet(sheet)
        ws.append([str(c) for c in df.columns])
        if headers_en and name in headers_en:
            ws.append([headers_en[name].get(str(c), str(c)) for c in df.columns])
        for row in df.itertuples(index=False):
            ws.append([_cell(v) for v in row])
        ws.freeze_panes = "A3" if headers_en and name in headers_en else "A2"
    fixed = dt.datetime(2016, 1, 1)
    wb.properties.created = fixed
    wb.properties.modified = fixed
    raw = BytesIO()
    wb.save(raw)
    with atomic_write(target) as tmp:
        _pin_zip_times(raw.getvalue(), tmp, fixed.timetuple()[:6])
    return target


def _pin_zip_times(data: bytes, path: Path, when: tuple[int, ...]) -> None:
    """Copy a zip archive (an XLSX) with every timestamp pinned to ``when``: equal content, equal bytes."""
    with zipfile.ZipFile(BytesIO(data)) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=when)  # type: ignore[arg-type]
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = item.external_attr
            data = zin.read(item.filename)
            if item.filename == "docProps/core.xml":  # openpyxl stamps the save time as "modified"
                stamp = "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z".format(*when).encode()
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + stamp, data)
            zout.writestr(info, data)


def _sheet_name(name: str, used: set[str]) -> str:
    base = "".join("_" if c in "[]:*?/\\" else c for c in name)[:31] or "sheet"
    out, n = base, 1
    while out in used:
        n += 1
        out = f"{base[: 31 - len(str(n)) - 1]}~{n}"
    used.add(out)
    return out


def _cell(v: Any) -> Any:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (str, int, float, bool)) or hasattr(v, "isoformat"):
        return v
    return str(v)


# --------------------------------------------------------------------------- readers
def read_yaml(path: str | os.PathLike[str]) -> Any:
    """Read a YAML file (safe loader)."""
    p = Path(path)
    try:
        with p.open(encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except FileNotFoundError:
        raise DataError(
            f"file {p} does not exist. Fix: check the path (relative paths start at the scenario file)."
        ) from None
    except yaml.YAMLError as exc:
        raise DataError(f"{p} is not valid YAML: {exc}") from exc


def read_yaml_with_lines(path: str | os.PathLike[str]) -> tuple[Any, dict[str, int]]:
    """Read YAML and return ``(data, lines)`` where ``lines`` maps dotted paths to 1-based line numbers."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"scenario file {p} does not exist.") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DataError(f"{p} is not valid YAML: {exc}") from exc
    lines: dict[str, int] = {}
    if node is not None:
        _collect_lines(node, "", lines)
    return data, lines


def _collect_lines(node: yaml.Node, where: str, lines: dict[str, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            path = f"{where}.{key}" if where else key
            lines[path] = key_node.start_mark.line + 1
            _collect_lines(value_node, path, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            path = f"{where}[{i}]"
            lines[path] = item.start_mark.line + 1
            _collect_lines(item, path, lines)


def load_policy(source: str | os.PathLike[str] | PolicyConfig) -> Policy:
    """Read a policy YAML file and parse it (:func:`geofupin.config.policy.parse_policy`).

    ``source`` is the file, or a scenario's :class:`~geofupin.config.policy.PolicyConfig`:
    its ``file``, or the built-in report-4 policy when ``file`` is unset.
    """
    if isinstance(source, PolicyConfig):
        if source.file is None:
            return seed_policy()
        source = source.file
    return parse_policy(read_yaml(source), where=str(source))


def list_layers(path: str | os.PathLike[str]) -> list[str]:
    """Names of the layers in a multi-layer file (GeoPackage)."""
    return [str(name) for name, _ in pyogrio.list_layers(path)]


def read_vector(
    path: str | os.PathLike[str],
    *,
    layer: str | None = None,
    encoding: str | None = None,
    lon: str | None = None,
    lat: str | None = None,
    crs: Any = None,
) -> gpd.GeoDataFrame:
    """Read a vector layer: GeoPackage, GeoJSON, Shapefile (``encoding``, e.g. ``GBK``), GeoParquet, or CSV.

    A CSV needs longitude/latitude columns: named by ``lon``/``lat`` or found among common names
    (lon/lng/longitude/x/经度 and lat/latitude/y/纬度); its CRS is ``crs`` or WGS84.
    ``crs`` also fills in a missing CRS of other formats (it never overrides a declared one).
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"layer file {p} does not exist. Fix: check the path in the scenario's layers section.")
    suffix = p.suffix.lower()
    if suffix == ".csv":
        return _read_csv_points(p, lon=lon, lat=lat, crs=crs, encoding=encoding)
    if suffix in (".parquet", ".geoparquet"):
        require("pyarrow")  # the `parquet` extra
        gdf = gpd.read_parquet(p)
    else:
        kwargs: dict[str, Any] = {}
        if layer is not None:
            kwargs["layer"] = layer
        if encoding is not None:
            kwargs["encoding"] = encoding
        try:
            gdf = pyogrio.read_dataframe(p, **kwargs)
        except Exception as exc:
            raise DataError(f"cannot read {p}{f' layer {layer!r}' if layer else ''}: {exc}") from exc
    if gdf.crs is None and crs is not None:
        gdf = gdf.set_crs(crs)
    return gdf


def _read_csv_points(p: Path, *, lon: str | None, lat: str | None, crs: Any, encoding: str | None) -> gpd.GeoDataFrame:
    try:
        # every column as text: ids keep their leading zeros ("001"); layers.validate_layer types the counts
        df = pd.read_csv(p, encoding=encoding or "utf-8-sig", dtype=str, keep_default_na=False, na_values=[""])
    except UnicodeDecodeError as exc:
        raise DataError(f"{p} is not UTF-8 text ({exc}). Fix: set 'encoding: GBK' (or the file's encoding).") from exc
    cols = {str(c).strip().lower(): c for c in df.columns}
    lon_col = lon or next((cols[n] for n in LON_NAMES if n in cols), None)
    lat_col = lat or next((cols[n] for n in LAT_NAMES if n in cols), None)
    if lon_col is None or lat_col is None or lon_col not in df.columns or lat_col not in df.columns:
        raise DataError(
            f"{p}: no longitude/latitude columns found among {list(df.columns)}. "
            "Fix: name them lon/lat (or 经度/纬度), or set 'lon:' and 'lat:' for this layer in the scenario."
        )
    x = pd.to_numeric(df[lon_col], errors="coerce")
    y = pd.to_numeric(df[lat_col], errors="coerce")
    bad = x.isna() | y.isna()
    if bad.any():
        rows = ", ".join(str(i + 2) for i in np.flatnonzero(bad.to_numpy())[:10])
        raise DataError(f"{p}: rows {rows} have no numeric {lon_col}/{lat_col}. Fix: fill in the coordinates.")
    geom = gpd.points_from_xy(x, y)
    return gpd.GeoDataFrame(df.drop(columns=[lon_col, lat_col]), geometry=geom, crs=crs or "EPSG:4326")


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes (for ``run.json``)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_osm(path: str | os.PathLike[str], *, out_crs: Any = None) -> dict[str, gpd.GeoDataFrame]:
    """Read an OpenStreetMap extract (.osm.pbf) into geofupin layers; see :func:`geofupin.osm.import_osm`."""
    from .osm import import_osm

    return import_osm(Path(path), out_crs=out_crs)
