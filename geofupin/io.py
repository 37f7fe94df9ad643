"""All reading and writing of files.

Every other module takes and returns GeoDataFrames, arrays or dataclasses; only this module
(and the windowed DEM readers of :mod:`geofupin.terrain`) opens files. Writes are atomic: data
goes to a temporary file beside the target, then :func:`os.replace` moves it into place, so a
failed run never leaves a half-written output. Outputs are byte-deterministic where the format
allows (GeoPackage timestamps are pinned).

Output folders are written as a whole by :func:`atomic_dir` and carry a :data:`MARKER_FILE`
listing their files; an existing folder is replaced only when that marker vouches for every file
in it (:func:`check_output_dir`). Spreadsheets are formula-free: :func:`write_xlsx` writes text as
string cells and :func:`write_csv` quotes text that a spreadsheet would run (:func:`csv_safe`).
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import glob
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import uuid
import warnings
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import yaml
from pyproj import CRS

from ._optional import available, require
from .config.policy import Policy, PolicyConfig, parse_policy, seed_policy
from .crs import apply_datum_shift, offset_code, unshift
from .errors import (
    CRSError,
    DataError,
    GeofupinError,
    OutputError,
    OutputExistsError,
    Problem,
    ScenarioError,
    UnsafeOutputError,
)

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
#: The marker geofupin leaves in every folder it writes (run, step commands, map, compare, import-osm,
#: demo): a small JSON stamp listing the files it wrote. A non-empty folder is replaced (``--overwrite``)
#: only when it carries this marker and holds nothing but the files the marker lists; the temporary
#: folders of a write carry it from their first moment, which is how stale ones are recognised.
MARKER_FILE = ".geofupin"
MARKER_VERSION = 1
_MARKER_NOTE = (
    "本文件夹由 geofupin 写出;geofupin 只在其中仅有下列文件时才会替换它(--overwrite)。 "
    "Written by geofupin: --overwrite replaces this folder only while it holds nothing but the files listed here."
)
#: Characters that make a spreadsheet treat a text cell as a formula (OWASP CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_ERRNO_REASONS = {
    errno.ENOSPC: ("磁盘已满 the disk is full", "free disk space or choose another --out"),
    getattr(errno, "EDQUOT", -1): ("磁盘配额已用完 the disk quota is used up", "free space or choose another --out"),
    errno.EACCES: ("没有写权限 permission denied", "choose a folder you can write to (--out)"),
    errno.EPERM: ("没有写权限 permission denied", "choose a folder you can write to (--out)"),
    errno.EROFS: ("只读文件系统 the file system is read-only", "choose a folder on a writable disk (--out)"),
}


def _output_error(target: Path, exc: OSError) -> OutputError:
    """A named error for a failed write; says the previous output is kept."""
    reason, fix = _ERRNO_REASONS.get(exc.errno or 0, (exc.strerror or str(exc), "check the output folder and retry"))
    where = f" ({Path(str(exc.filename)).name})" if exc.filename else ""
    err = OutputError(
        f"无法写出 cannot write {target}: {reason}{where}. The previous output, if any, is unchanged. Fix: {fix}."
    )
    err.errno = exc.errno
    return err


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds.

    Raises
    ------
    OutputError
        When the disk refuses the write (full, read-only, no permission); ``path`` is unchanged.

    Examples
    --------
    >>> with atomic_write("out.csv") as tmp:  # doctest: +SKIP
    ...     df.to_csv(tmp)
    """
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp{target.suffix}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        os.replace(tmp, target)
    except GeofupinError:
        raise
    except OSError as exc:
        err = _output_error(target, exc)
        err.filename = target.name
        raise err from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def read_marker(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """geofupin's marker in ``folder`` (see :data:`MARKER_FILE`), or ``None`` when there is none or it is not one."""
    p = Path(folder) / MARKER_FILE
    if p.is_symlink() or not p.is_file():
        return None
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(data, dict) and data.get("written_by") == "geofupin" and isinstance(data.get("files"), list):
        return data
    return None


def write_marker(folder: str | os.PathLike[str], files: Iterable[str], *, kind: str) -> Path:
    """Write geofupin's marker into ``folder``, listing ``files`` (paths relative to it, ``/``-separated)."""
    record = {
        "written_by": "geofupin",
        "marker_version": MARKER_VERSION,
        "kind": kind,
        "note": _MARKER_NOTE,
        "files": sorted({str(f) for f in files} - {MARKER_FILE}),
    }
    return write_text(Path(folder) / MARKER_FILE, json.dumps(record, ensure_ascii=False, indent=2) + "\n")


def folder_files(folder: str | os.PathLike[str]) -> list[str]:
    """Every file (and symbolic link) under ``folder``, relative and ``/``-separated, without following links."""
    root = Path(folder)
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(dirpath)
        links = [d for d in dirnames if (base / d).is_symlink()]
        out += [(base / n).relative_to(root).as_posix() for n in (*filenames, *links)]
    return sorted(out)


def _refuse_special(target: Path, resolved: Path) -> None:
    """Refuse the filesystem root, the home folder, the current folder and anything above them."""
    why = None
    if resolved.parent == resolved:
        why = "it is the root of the file system"
    else:
        with contextlib.suppress(RuntimeError, KeyError):  # no home folder known
            home = Path.home().resolve()
            if resolved == home:
                why = "it is your home folder"
            elif resolved in home.parents:
                why = f"your home folder {home} lies inside it"
        with contextlib.suppress(OSError):  # the current folder may have been deleted
            cwd = Path.cwd().resolve()
            if why is None and resolved == cwd:
                why = "it is the current folder"
            elif why is None and resolved in cwd.parents:
                why = f"the current folder {cwd} lies inside it"
    if why is not None:
        raise UnsafeOutputError(
            f"拒绝 refused: geofupin never writes its outputs over {target}: {why}, and replacing it would delete "
            "everything in it. Fix: choose a new folder of its own, e.g. --out maps/<name>."
        )


def require_writable_parent(path: str | os.PathLike[str]) -> None:
    """Check, before any computation, that the folder ``path`` can be created (or replaced) where it is.

    Raises
    ------
    OutputError
        When the nearest existing folder above ``path`` is a file, or cannot be written to.
    """
    target = Path(os.path.abspath(Path(path).expanduser()))
    probe = target.parent
    while not os.path.lexists(probe) and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(
            f"无法写出 cannot create the output folder {target}: {probe} is a file, not a folder. "
            "Fix: choose another --out (or outputs.dir in the scenario)."
        )
    if not os.access(probe, os.W_OK | os.X_OK):
        err = OutputError(
            f"无法写出 cannot write in {probe} (read-only or no permission), so the output folder {target} cannot be "
            "written. Fix: choose a folder you can write to (--out), or get write permission for it."
        )
        err.errno = errno.EACCES
        raise err


def check_output_dir(
    path: str | os.PathLike[str], *, overwrite: bool = False, protect: Iterable[str | os.PathLike[str]] = ()
) -> Path:
    """Check that ``path`` may be written as a whole (by :func:`atomic_dir`); call it before computing.

    The folder must be new, empty, or geofupin's own (its :data:`MARKER_FILE` lists every file in
    it) and then ``overwrite`` must be true. Whatever ``overwrite`` says, refused are: the
    filesystem root, the home folder, the current folder and any folder above them, a folder
    holding (or above) a protected file, a file, and a non-empty folder geofupin did not write.

    Returns
    -------
    Path
        ``path`` with ``~`` expanded.

    Raises
    ------
    UnsafeOutputError
        The folder is refused (see above); a :class:`DataError`.
    OutputExistsError
        The folder is geofupin's and ``overwrite`` is false.
    OutputError
        The folder cannot be created where it is (see :func:`require_writable_parent`).
    """
    target = Path(path).expanduser()
    resolved = target.resolve()
    _refuse_special(target, resolved)
    for p in protect:
        q = Path(p).expanduser().resolve()
        if resolved == q or resolved in q.parents:
            raise UnsafeOutputError(
                f"拒绝 refused: output folder {target} holds the input {p}; replacing the folder would delete it. "
                "Fix: write outputs to a folder of their own (--out, or outputs.dir in the scenario)."
            )
    if os.path.lexists(target):
        if target.is_symlink() or not target.is_dir():
            raise UnsafeOutputError(
                f"拒绝 refused: output path {target} is a {'link' if target.is_symlink() else 'file'}, not a folder "
                "geofupin wrote. Fix: delete it yourself or choose another --out."
            )
        if any(target.iterdir()):
            marker = read_marker(target)
            if marker is None:
                older = (target / "run.json").is_file() or (target / "demo.json").is_file()
                hint = " It looks like the output of an older geofupin version, which left no marker." if older else ""
                raise UnsafeOutputError(
                    f"拒绝 refused: output folder {target} was not written by geofupin (no marker {MARKER_FILE}); "
                    f"geofupin replaces only folders it wrote.{hint} Fix: delete it yourself or choose another --out."
                )
            extra = sorted(set(folder_files(target)) - set(marker["files"]) - {MARKER_FILE})
            if extra:
                shown = ", ".join(extra[:5]) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
                raise UnsafeOutputError(
                    f"拒绝 refused: output folder {target} holds files geofupin did not write ({shown}); replacing "
                    "it would delete them. Fix: move them out, or choose another --out."
                )
            if not overwrite:
                raise OutputExistsError(
                    f"output folder {target} already exists. Fix: pass --overwrite to replace it, "
                    "or --out another folder."
                )
    require_writable_parent(target)
    return target


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name == "nt":  # os.kill would terminate the process there: keep the folder
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temp(path: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary folders that killed geofupin runs left beside the output folder ``path``.

    Only folders named like geofupin's own (``.<name>.<pid>-<random>.tmp`` or ``.old``) that carry
    its :data:`MARKER_FILE` and whose process has ended are removed; a look-alike without the
    marker, or one a running process is still writing, is never touched. (On Windows, where a
    process cannot be probed safely, such folders are left in place.)

    Returns
    -------
    list of Path
        The folders removed.
    """
    target = Path(path)
    pattern = re.compile(rf"\.{re.escape(target.name)}\.(\d+)-[a-z0-9_]{{8}}\.(?:tmp|old)")
    removed: list[Path] = []
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return removed
    older = re.compile(rf"\.{re.escape(target.name)}\.[a-z0-9_]{{8}}\.(?:tmp|old)")  # before the marker
    for entry in entries:
        if older.fullmatch(entry.name) and entry.is_dir() and read_marker(entry) is None:
            log.warning(
                "%s looks like a temporary folder left by an older geofupin version; it has no marker, so it is kept. "
                "Delete it yourself if it holds nothing of yours.",
                entry,
            )
            continue
        m = pattern.fullmatch(entry.name)
        if m is None or entry.is_symlink() or not entry.is_dir() or read_marker(entry) is None:
            continue
        if _pid_alive(int(m.group(1))):
            continue
        shutil.rmtree(entry, ignore_errors=True)
        log.info("removed %s, left by an interrupted geofupin run", entry)
        removed.append(entry)
    return removed


@contextlib.contextmanager
def atomic_dir(
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    protect: Iterable[str | os.PathLike[str]] = (),
    kind: str = "outputs",
) -> Iterator[Path]:
    """Yield a temporary directory that replaces ``path`` as a whole when the block succeeds.

    The temporary folder (``.<name>.<pid>-<random>.tmp`` beside ``path``) gets geofupin's marker
    first; when the block succeeds the marker is rewritten with the list of files written, and the
    folder is moved into place. Stale temporary folders of killed runs are removed first
    (:func:`remove_stale_temp`).

    Parameters
    ----------
    path
        The output folder.
    overwrite
        Replace an existing folder that geofupin wrote.
    protect
        Files that must survive (the scenario, its inputs): a folder holding any of them is
        never replaced, whatever ``overwrite`` says.
    kind
        What the folder holds, recorded in the marker (``run``, ``compare``, ``osm-layers`` ...).

    Raises
    ------
    OutputExistsError
        When ``path`` is geofupin's, not empty and ``overwrite`` is false.
    UnsafeOutputError
        When ``path`` is refused whatever ``overwrite`` says (see :func:`check_output_dir`).
    OutputError
        When writing fails (disk full, no permission); the previous output is left intact.
    """
    protect = list(protect)
    target = check_output_dir(path, overwrite=overwrite, protect=protect)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temp(target)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}-", suffix=".tmp", dir=target.parent))
    except OSError as exc:
        raise _output_error(target, exc) from exc
    try:
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; the published folder follows the umask
        write_marker(tmp, (), kind=kind)  # first of all: marks the temporary folder as geofupin's
        try:
            yield tmp
        except OSError as exc:  # also an OutputError of one file: said again for the whole folder
            raise _output_error(target, exc) from exc
        write_marker(tmp, folder_files(tmp), kind=kind)
        check_output_dir(target, overwrite=overwrite, protect=protect)  # unchanged while we computed?
        _publish(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _publish(tmp: Path, target: Path) -> None:
    """Move ``tmp`` into place as ``target``; on failure the previous ``target`` is put back."""
    old = None
    try:
        if target.is_dir():
            if any(target.iterdir()):
                old = target.with_name(f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.old")
                os.replace(target, old)
            else:
                target.rmdir()
        os.replace(tmp, target)
    except OSError as exc:
        if old is not None and not os.path.lexists(target):
            os.replace(old, target)
        raise _output_error(target, exc) from exc
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


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
        try:
            pyogrio.write_dataframe(frame, path, driver=driver, append=append, **kwargs)
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:  # GDAL: disk full, no access
            what = f"{path.name} layer {layer!r}" if layer else path.name
            raise OutputError(f"无法写出 cannot write {what}: {exc}") from exc


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


def neutralize_formula(text: str) -> str:
    """``text`` made inert for spreadsheets: a leading ``= + - @``, tab or CR gets a single quote (OWASP).

    Examples
    --------
    >>> neutralize_formula("=1+1"), neutralize_formula("-1+2"), neutralize_formula("张家塬村")
    ("'=1+1", "'-1+2", '张家塬村')
    """
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells and headers cannot run as spreadsheet formulas.

    Text cells (``str`` values, in any non-numeric column) and text headers (every level of a
    MultiIndex) starting with a character of :data:`FORMULA_START` get a leading single quote, as
    OWASP recommends for CSV. Numbers are never changed: numeric columns, and numbers in mixed
    columns, keep their values and signs (``-3.5`` stays ``-3.5``). Text that merely looks like a
    number (``"-1"`` held as text) is text and is quoted too; numbers that should stay numbers must
    be numbers in the data.
    """
    out = df.copy()
    for i in range(out.shape[1]):
        s = out.iloc[:, i]
        if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_datetime64_any_dtype(s.dtype):
            continue  # numbers (and bools, dates) are never formulas
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype(object)
        out.isetitem(i, s.map(lambda v: neutralize_formula(v) if isinstance(v, str) else v))

    def header(c: Any) -> Any:
        return neutralize_formula(c) if isinstance(c, str) else c

    if isinstance(out.columns, pd.MultiIndex):
        out.columns = pd.MultiIndex.from_tuples(
            [tuple(header(x) for x in t) for t in out.columns], names=out.columns.names
        )
    else:
        out.columns = pd.Index([header(c) for c in out.columns], name=out.columns.name)
    return out


def write_csv(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a table as CSV with a UTF-8 byte-order mark so Excel shows Chinese correctly.

    Text cells and headers are made formula-free with :func:`csv_safe` (numbers are untouched).
    """
    target = Path(path)
    safe = csv_safe(df)
    with atomic_write(target) as tmp:
        safe.to_csv(tmp, index=False, encoding="utf-8-sig", lineterminator="\n")
    return target


def parquet_available() -> bool:
    """Whether Parquet can be written (the optional ``parquet`` extra, pyarrow, is installed)."""
    return available("pyarrow")


def write_parquet(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a table as Parquet atomically (GeoParquet when ``df`` is a GeoDataFrame); needs the ``parquet`` extra."""
    require("pyarrow")
    target = Path(path)
    with atomic_write(target) as tmp:
        df.to_parquet(tmp, index=False)
    return target


#: Most rows an Excel sheet holds (the two header rows included); tests lower it.
XLSX_MAX_ROWS = 1_048_576


def write_xlsx(
    tables: Mapping[str, pd.DataFrame],
    path: str | os.PathLike[str],
    *,
    headers_en: Mapping[str, Mapping[str, str]] | None = None,
    over_limit: Literal["refuse", "split"] = "refuse",
    full_table: Mapping[str, str] | None = None,
) -> Path:
    """Write tables as sheets of one XLSX workbook atomically, row by row (constant memory).

    Sheet names are cut to Excel's 31 characters (made unique). With ``headers_en``
    (table -> {column: English header}) a second header row gives the English names.
    Document timestamps are pinned so equal tables give equal files.

    Every text cell, headers included, is written as a string cell (``t="inlineStr"``), never as a
    formula or an error value, whatever it starts with; text starting with a formula character
    also gets Excel's quote prefix so that editing the cell keeps it text. Numbers stay numbers.

    A table with more rows than a sheet holds (:data:`XLSX_MAX_ROWS`, header rows included) is
    never cut silently: with ``over_limit="refuse"`` (the default) nothing is written and an
    :class:`~geofupin.errors.OutputError` names the table, its rows, the limit and where the full
    table is (``full_table``: table -> file, e.g. its CSV); with ``"split"`` it goes into numbered
    sheets (``name~1``, ``name~2``, ...), each with the header rows.

    Raises
    ------
    OutputError
        A table is over the row limit (``over_limit="refuse"``), or the write failed.
    """
    import datetime as dt

    from openpyxl import Workbook

    target = Path(path)
    heads = {name: 2 if headers_en and name in headers_en else 1 for name in tables}
    per_sheet = {name: XLSX_MAX_ROWS - heads[name] for name in tables}
    over = {name: len(df) for name, df in tables.items() if len(df) > per_sheet[name]}
    if over and over_limit == "refuse":
        where = dict(full_table or {})
        listed = "; ".join(
            f"{name}: {n:,} 行 rows" + (f", 完整表 full table: {where[name]}" if name in where else "")
            for name, n in over.items()
        )
        raise OutputError(
            f"工作簿 {target.name} 未写出:表格超过 Excel 每个工作表 {XLSX_MAX_ROWS:,} 行的上限(含表头)/ "
            f"workbook {target.name} not written: over Excel's {XLSX_MAX_ROWS:,}-row sheet limit (header rows "
            f"included): {listed}. Fix: read the full table from its CSV, or leave it out of the workbook."
        )
    fixed = dt.datetime(2016, 1, 1)
    wb = Workbook(write_only=True)
    wb.properties.created = fixed
    wb.properties.modified = fixed
    used: set[str] = set()
    for name, df in tables.items():
        size = per_sheet[name]
        parts = max(1, -(-len(df) // size))
        header = [[str(c) for c in df.columns]]
        if heads[name] == 2 and headers_en is not None:
            header.append([headers_en[name].get(str(c), str(c)) for c in df.columns])
        for part in range(parts):
            title = name if parts == 1 else _numbered(name, part + 1)
            ws = wb.create_sheet(_sheet_name(title, used))
            ws.freeze_panes = "A3" if heads[name] == 2 else "A2"
            n_rows = len(header) + len(df.iloc[part * size : (part + 1) * size])
            ws.calculate_dimension = _dimension(n_rows, df.shape[1])  # the <dimension> readers size sheets by
            for values in header:
                ws.append([_write_only_cell(ws, v) for v in values])
            end = min((part + 1) * size, len(df))
            for start in range(part * size, end, _XLSX_BATCH):  # a batch of rows at a time: memory stays flat
                batch = df.iloc[start : min(start + _XLSX_BATCH, end)]
                for row in zip(*(_column_cells(ws, batch.iloc[:, i]) for i in range(batch.shape[1])), strict=True):
                    ws.append(list(row))
    if over:
        log.warning("%s: tables over the %s-row limit split into numbered sheets: %s", target, XLSX_MAX_ROWS, over)
    with atomic_write(target) as tmp:
        raw = tmp.with_name(tmp.name + ".raw")
        try:
            wb.save(raw)
            _pin_zip_times(raw, tmp, fixed.timetuple()[:6])
        finally:
            raw.unlink(missing_ok=True)
    return target


def _dimension(rows: int, cols: int) -> Any:
    """The sheet's used range (``A1:E20``) for openpyxl's write-only writer, known before the rows are written."""
    from openpyxl.utils import get_column_letter

    ref = f"A1:{get_column_letter(cols)}{rows}" if cols else "A1"
    return lambda: ref


def _numbered(name: str, n: int) -> str:
    """``name~n``, ``name`` cut so that the number survives Excel's 31-character sheet names."""
    suffix = f"~{n}"
    return str(name)[: 31 - len(suffix)] + suffix


#: Rows converted at a time by :func:`write_xlsx`.
_XLSX_BATCH = 10_000


def _column_cells(ws: Any, s: pd.Series) -> list[Any]:
    """The cells of one column of a batch (as :func:`_write_only_cell`; float and int columns at once)."""
    kind = s.dtype.kind if isinstance(s.dtype, np.dtype) else ""
    if kind in "iub" and kind:
        return s.tolist()  # Python ints and bools
    if kind == "f":
        a = s.to_numpy()
        out: list[Any] = a.tolist()
        if not np.isfinite(a).all():
            for i in np.flatnonzero(~np.isfinite(a)).tolist():
                out[i] = None if np.isnan(a[i]) else ("inf" if a[i] > 0 else "-inf")  # XLSX has no infinity
        return out
    from openpyxl.cell import WriteOnlyCell

    return [_write_only_cell(ws, v, WriteOnlyCell) for v in s]


def _write_only_cell(ws: Any, value: Any, make: Any = None) -> Any:
    """One cell of a write-only sheet: text always as a string cell (never a formula), numbers as numbers.

    ``make`` is openpyxl's ``WriteOnlyCell`` (passed in by callers looping over many cells).
    """
    v = _cell(value)
    if not isinstance(v, str):
        return v  # None (an empty cell), numbers, booleans and dates as openpyxl writes them
    if make is None:
        from openpyxl.cell import WriteOnlyCell

        make = WriteOnlyCell
    cell = make(ws, value=v)
    cell.data_type = "s"  # openpyxl would make "=..." a formula and "#N/A" an error value
    if v.startswith(FORMULA_START):
        cell.quotePrefix = True
    return cell


def _pin_zip_times(src: Path, path: Path, when: tuple[int, ...]) -> None:
    """Copy a zip archive (an XLSX) with every timestamp pinned to ``when``: equal content, equal bytes.

    Members are streamed (a sheet is never held in memory whole).
    """
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=when)  # type: ignore[arg-type]
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = item.external_attr
            if item.filename == "docProps/core.xml":  # openpyxl stamps the save time as "modified"
                data = zin.read(item.filename)
                stamp = "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z".format(*when).encode()
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + stamp, data)
                zout.writestr(info, data)
                continue
            with zin.open(item) as fin, zout.open(info, "w", force_zip64=item.file_size > 2**31) as fout:
                shutil.copyfileobj(fin, fout, 1 << 20)


def _sheet_name(name: str, used: set[str]) -> str:
    """A valid, unique Excel sheet name for ``name`` (``used`` holds the lower-cased names taken)."""
    cleaned = "".join("_" if c in "[]:*?/\\" or ord(c) < 32 else c for c in str(name))
    base = cleaned.strip("'")[:31].strip("'") or "sheet"  # Excel forbids a leading or trailing apostrophe
    if base.lower() == "history":  # reserved by Excel
        base = "history_"
    out, n = base, 1
    while out.lower() in used:  # Excel compares sheet names without case
        n += 1
        out = f"{base[: 31 - len(str(n)) - 1]}~{n}"
    used.add(out.lower())
    return out


def _cell(v: Any) -> Any:
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        v = float(v)
    if isinstance(v, float) and not np.isfinite(v):
        return "inf" if v > 0 else "-inf"  # XLSX has no infinity; the text keeps the meaning
    if isinstance(v, (list, tuple, dict)):
        return _xlsx_text(json.dumps(v, ensure_ascii=False))
    if isinstance(v, str):
        return _xlsx_text(v)
    if isinstance(v, (int, float, bool)) or hasattr(v, "isoformat"):
        return v
    return _xlsx_text(str(v))


def _xlsx_text(text: str) -> str:
    """Text an XLSX cell can hold: control characters XML forbids become U+FFFD (nothing else changes)."""
    return _ILLEGAL_XML.sub("\ufffd", text)


# --------------------------------------------------------------------------- readers
# YAML: scenario and policy files. Everything a hostile or broken file can do is bounded here.
#: Largest YAML file geofupin reads (scenario and policy files are a few kilobytes).
YAML_MAX_BYTES = 5 * 1024 * 1024
#: Most values a YAML document may hold once every alias is written out (bounds "billion laughs" files).
YAML_MAX_NODES = 100_000
#: Deepest nesting of lists and mappings a YAML document may have.
YAML_MAX_DEPTH = 64


class _YAMLRefused(Exception):
    """A YAML document broke one of the limits above (internal; becomes a ScenarioError)."""

    def __init__(self, message: str, fix: str, mark: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.line: int | None = mark.line + 1 if mark is not None else None


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, counting values as aliases expand them and bounding the nesting depth.

    ``_expanded`` counts the values of the document as if every alias were written out in full.
    The expanded size of each node is remembered when it is composed, so an alias costs one
    look-up, never a walk; the count stops the file as soon as it passes :data:`YAML_MAX_NODES`.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._expanded = 0
        self._depth = 0
        self._sizes: dict[int, int] = {}

    def _count(self, n: int, mark: Any) -> None:
        self._expanded += n
        if self._expanded > YAML_MAX_NODES:
            raise _YAMLRefused(
                f"its aliases (*name) expand to more than {YAML_MAX_NODES:,} values "
                "(a 'billion laughs' file), which would exhaust the memory.",
                "Write the values out, or reuse an anchor (&name) only a few times; "
                "a scenario or policy file needs a few thousand values at most.",
                mark,
            )

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)
            size = self._sizes.get(id(node))
            if size is None:  # the anchored node is still being composed: the alias is inside its anchor
                raise _YAMLRefused(
                    f"the alias *{event.anchor} is used inside &{event.anchor} itself (an endless loop).",
                    f"Do not refer to *{event.anchor} within the value it names.",
                    event.start_mark,
                )
            self._count(size, event.start_mark)
            return node
        if self._depth >= YAML_MAX_DEPTH:
            raise _YAMLRefused(
                f"its lists and mappings are nested more than {YAML_MAX_DEPTH} levels deep.",
                "Flatten the file: scenario and policy files need only a few levels.",
                event.start_mark,
            )
        start = self._expanded
        self._depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        self._count(1, event.start_mark)
        self._sizes[id(node)] = self._expanded - start
        return node

    def compose_mapping_node(self, anchor: Any) -> Any:
        node = super().compose_mapping_node(anchor)
        first: dict[str, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.value == "<<":
                continue
            line = key_node.start_mark.line + 1
            if key_node.value in first:
                raise _YAMLRefused(
                    f"the key '{key_node.value}' appears twice in one mapping (lines {first[key_node.value]} "
                    f"and {line}); only the last would count.",
                    f"Keep one '{key_node.value}:' and delete the other.",
                    key_node.start_mark,
                )
            first[key_node.value] = line
        return node

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (yaml.YAMLError, _YAMLRefused):
            raise
        except Exception as exc:  # int('9' * 5000), date 2016-13-45, '!!timestamp x' (a PyYAML AttributeError)...
            raise _YAMLRefused(
                f"the value {str(node.value)[:60]!r} cannot be read ({exc}).",
                "Write a plain number, date (YYYY-MM-DD) or text in quotes.",
                node.start_mark,
            ) from exc


def _yaml_error(p: Path, message: str, fix: str, line: int | None = None) -> ScenarioError:
    return ScenarioError(f"cannot read {p}", [Problem(str(p), message, fix, line=line)])


def _decode_yaml(p: Path) -> str:
    try:
        size = p.stat().st_size
        if size > YAML_MAX_BYTES:
            raise _yaml_error(
                p,
                f"the file is {size / 1e6:.1f} MB; a scenario or policy file is a few kilobytes.",
                "Check that the path names the YAML file, not a data file.",
            )
        data = p.read_bytes()
    except FileNotFoundError:
        raise _yaml_error(
            p, "the file does not exist.", "Check the path (relative paths start at the scenario file)."
        ) from None
    except IsADirectoryError:
        raise _yaml_error(p, "this is a folder, not a file.", "Give the path of a .yaml file.") from None
    except OSError as exc:
        raise _yaml_error(
            p, f"the file cannot be read ({exc.strerror}).", "Check that it exists and is readable."
        ) from None
    if b"\x00" in data[:8192]:
        raise _yaml_error(
            p, "this is a binary file, not YAML text.", "Give a YAML text file (UTF-8), e.g. scenarios/demo.yaml."
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        try:
            data.decode("gb18030")
        except UnicodeDecodeError:
            raise _yaml_error(
                p,
                f"byte {exc.start} is not UTF-8 text; the file looks binary.",
                "Give a YAML text file saved as UTF-8.",
                line,
            ) from None
        raise _yaml_error(
            p,
            "the file is not UTF-8; it looks GBK-encoded (Chinese Windows).",
            "Save it as UTF-8 (另存为 → 编码 UTF-8), or run: iconv -f GBK -t UTF-8 old.yaml > new.yaml",
            line,
        ) from None


def _load_yaml_node(p: Path) -> tuple[Any, Any]:
    """Compose and construct one YAML document under the limits; return ``(data, node)``."""
    text = _decode_yaml(p)
    loader: _BoundedLoader | None = None
    try:
        loader = _BoundedLoader(text)  # the reader checks every character here
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except _YAMLRefused as exc:
        raise _yaml_error(p, exc.message, exc.fix, exc.line) from None
    except yaml.constructor.ConstructorError as exc:  # !!python/object and other tags the safe loader refuses
        mark = exc.problem_mark or exc.context_mark
        raise _yaml_error(
            p,
            f"not valid here: {exc.problem}.",
            "Write plain values (text, numbers, lists, mappings) without '!' tags.",
            mark.line + 1 if mark is not None else None,
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = " ".join(str(s) for s in (exc.context, exc.problem) if s)
        if exc.context_mark is not None and mark is not None and exc.context_mark.line != mark.line:
            what += f" (what is not closed starts on line {exc.context_mark.line + 1})"
        raise _yaml_error(
            p,
            f"not valid YAML (syntax error): {what}.",
            "Check the brackets, quotes and indentation there (indent with spaces, not tabs).",
            mark.line + 1 if mark is not None else None,
        ) from None
    except yaml.reader.ReaderError as exc:  # control characters
        raise _yaml_error(
            p,
            f"not valid YAML: character #x{exc.character:04x} is not allowed in YAML text.",
            "Delete the control character (or give the right file: a YAML text saved as UTF-8).",
            text[: exc.position].count("\n") + 1,
        ) from None
    except yaml.YAMLError as exc:  # pragma: no cover - every YAMLError of PyYAML is handled above
        raise _yaml_error(p, f"not valid YAML: {exc}", "Give a YAML text file saved as UTF-8.") from None
    except RecursionError:  # pragma: no cover - the depth bound comes first
        raise _yaml_error(p, "the file is nested too deeply.", "Flatten the file.") from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, node


def read_yaml(path: str | os.PathLike[str]) -> Any:
    """Read a YAML file with the safe loader, under geofupin's limits.

    Raises
    ------
    ScenarioError
        Naming the file, the line where known and the fix: a missing or unreadable file,
        a file that is not UTF-8 text (GBK, binary), a syntax error, a duplicate key,
        nesting deeper than :data:`YAML_MAX_DEPTH`, or aliases expanding to more than
        :data:`YAML_MAX_NODES` values.
    """
    return _load_yaml_node(Path(path))[0]


def read_yaml_with_lines(path: str | os.PathLike[str]) -> tuple[Any, dict[str, int]]:
    """Read YAML as :func:`read_yaml` and return ``(data, lines)``: dotted paths to 1-based line numbers.

    Paths under an alias are not listed (their problems take the line of the key holding the alias).
    """
    data, node = _load_yaml_node(Path(path))
    lines: dict[str, int] = {}
    if node is not None:
        _collect_lines(node, "", lines, set())
    return data, lines


def _collect_lines(node: yaml.Node, where: str, lines: dict[str, int], seen: set[int]) -> None:
    """Record the line of every key and list item, walking each node once (an alias is never walked)."""
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            path = f"{where}.{key}" if where else key
            lines[path] = key_node.start_mark.line + 1
            if id(value_node) not in seen:
                _collect_lines(value_node, path, lines, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            if id(item) in seen:  # an alias: its line is the list's
                continue
            path = f"{where}[{i}]"
            lines[path] = item.start_mark.line + 1
            _collect_lines(item, path, lines, seen)


def load_policy(source: str | os.PathLike[str] | PolicyConfig) -> Policy:
    """Read a policy YAML file and parse it (:func:`geofupin.config.policy.parse_policy`).

    ``source`` is the file, or a scenario's :class:`~geofupin.config.policy.PolicyConfig`:
    its ``file``, or the built-in report-4 policy when ``file`` is unset.

    Raises
    ------
    ScenarioError
        Every problem of the file, with its path and line numbers; also when the file is
        missing, empty, not UTF-8 text or not valid YAML (as :func:`read_yaml`).
    """
    if isinstance(source, PolicyConfig):
        if source.file is None:
            return seed_policy()
        source = source.file
    raw, lines = read_yaml_with_lines(source)
    return parse_policy(raw, where=str(source), lines=lines)


def list_layers(path: str | os.PathLike[str]) -> list[str]:
    """Names of the layers in a multi-layer file (GeoPackage)."""
    try:
        return [str(name) for name, _ in pyogrio.list_layers(path)]
    except Exception as exc:  # pyogrio's DataSourceError and GDAL errors
        raise DataError(
            f"cannot list the layers of {path}: {exc}. Fix: give a GeoPackage (.gpkg) GDAL can open."
        ) from exc


#: Table files read as point layers (longitude/latitude columns), besides CSV.
XLSX_SUFFIXES = (".xlsx", ".xlsm")


def read_vector(
    path: str | os.PathLike[str],
    *,
    layer: str | None = None,
    encoding: str | None = None,
    lon: str | None = None,
    lat: str | None = None,
    crs: Any = None,
    towgs84: tuple[float, ...] | None = None,
    shift_pipeline: str | None = None,
    where: str | None = None,
    sheet: str | int | None = None,
    header: bool = True,
    names: Iterable[str] | None = None,
) -> gpd.GeoDataFrame:
    """Read a vector layer: GeoPackage, GeoJSON, Shapefile (``encoding``, e.g. ``GBK``), File Geodatabase
    folder (``county.gdb`` with ``layer``), GeoParquet, or a CSV/XLSX of points.

    A CSV or XLSX needs longitude/latitude columns: named by ``lon``/``lat`` or found among common
    names (lon/lng/longitude/x/经度 and lat/latitude/y/纬度); its CRS is ``crs`` or WGS84. ``header``
    and ``names`` read a table without a header row (``header=False``) or rename its columns; ``sheet``
    picks the XLSX sheet. ``crs`` also fills in a missing CRS of other formats (it never overrides a
    declared one). ``crs: GCJ-02`` or ``BD-09`` (Gaode/Tencent or Baidu coordinates): the layer's
    longitudes/latitudes are moved back to WGS84 (:func:`geofupin.crs.unshift`). ``towgs84`` or
    ``shift_pipeline``: a layer on Xian 1980 / Beijing 1954 is converted to CGCS2000 with that
    datum shift (:func:`geofupin.crs.apply_datum_shift`).

    ``where`` keeps the features an SQL expression selects: passed to GDAL for vector files (SQLite
    for GeoPackage, OGR SQL otherwise), and applied to CSV/XLSX rows with SQLite, every column as text.

    Raises
    ------
    DataError
        The file is missing or unreadable (naming it and the fix).
    ScenarioError
        ``where`` is not a valid expression for this file (one problem, at ``where``).
    """
    p = Path(path)
    offset = offset_code(crs)
    gdf = _read_vector(
        p,
        layer=layer,
        encoding=encoding,
        lon=lon,
        lat=lat,
        crs="EPSG:4326" if offset else crs,
        where=where,
        sheet=sheet,
        header=header,
        names=names,
    )
    try:
        if offset is not None:
            gdf = unshift(gdf, offset, name=p.name)
        if towgs84 is not None or shift_pipeline is not None:
            gdf = apply_datum_shift(gdf, towgs84=towgs84, pipeline=shift_pipeline, name=p.name)
    except CRSError as exc:
        raise DataError(str(exc)) from exc
    return gdf


def _read_vector(
    p: Path,
    *,
    layer: str | None,
    encoding: str | None,
    lon: str | None,
    lat: str | None,
    crs: Any,
    where: str | None = None,
    sheet: str | int | None = None,
    header: bool = True,
    names: Iterable[str] | None = None,
) -> gpd.GeoDataFrame:
    if not p.exists():
        raise DataError(f"layer file {p} does not exist. Fix: check the path in the scenario's layers section.")
    suffix = p.suffix.lower()
    if suffix == ".csv" or suffix in XLSX_SUFFIXES:
        return _read_csv_points(
            p, lon=lon, lat=lat, crs=crs, encoding=encoding, where=where, sheet=sheet, header=header, names=names
        )
    if not header or names is not None:
        raise DataError(
            f"{p}: 'header:' and 'names:' apply to CSV and XLSX tables only. Fix: remove them for this layer."
        )
    if suffix == ".shp":
        _check_shapefile_parts(p)
    if suffix == ".gdb" and p.is_dir() and layer is None:
        found = list_layers(p)
        if len(found) > 1:
            raise DataError(
                f"File Geodatabase {p} holds {len(found)} layers ({', '.join(found[:12])}"
                f"{' ...' if len(found) > 12 else ''}). Fix: name the one to read with 'layer:' "
                f"(e.g. layer: {found[0]})."
            )
    if suffix in (".parquet", ".geoparquet"):
        require("pyarrow")  # the `parquet` extra
        gdf = gpd.read_parquet(p)
        if where is not None:
            raise DataError(
                f"{p}: 'where:' is not available for GeoParquet. Fix: filter the file, or convert it to GeoPackage."
            )
    else:
        kwargs: dict[str, Any] = {}
        if layer is not None:
            kwargs["layer"] = layer
        if encoding is not None:
            kwargs["encoding"] = encoding
        try:
            gdf = _read_ogr(p, where=where, **kwargs)
        except Exception as exc:
            if where is not None and _readable_without(p, kwargs):
                raise _where_error(p, where, exc) from exc
            raise DataError(f"cannot read {p}{f' layer {layer!r}' if layer else ''}: {exc}") from exc
    if gdf.crs is None and crs is not None:
        gdf = gdf.set_crs(_user_crs(crs, p))
    return gdf


def _read_ogr(p: Path, *, where: str | None = None, **kwargs: Any) -> gpd.GeoDataFrame:
    with warnings.catch_warnings():
        # NaN coordinates warn in shapely.from_wkb; layers.validate_layer reports them per feature
        warnings.filterwarnings("ignore", "invalid value encountered", RuntimeWarning)
        if where is not None:
            kwargs["where"] = where
        return pyogrio.read_dataframe(p, **kwargs)


def _readable_without(p: Path, kwargs: Mapping[str, Any]) -> bool:
    """True when the layer reads without the filter (so the filter is what failed)."""
    try:
        pyogrio.read_info(p, **{k: v for k, v in kwargs.items() if k in ("layer", "encoding")})
    except Exception:
        return False
    return True


def _where_error(p: Path, where: str, exc: Exception) -> ScenarioError:
    text = str(exc)
    at = text.rfind(where)  # GDAL's message repeats the SQL, then says what is wrong with it
    detail = text[at + len(where) :].lstrip(": ").strip() if at >= 0 else ""
    detail = (detail or text).rstrip(".")
    return ScenarioError(
        f"invalid filter for {p.name}",
        [
            Problem(
                "where",
                f"筛选条件无法执行 / the filter {where!r} cannot be applied to {p.name}: {detail}.",
                "Check the column names (as in the file, e.g. DLBM) and quote text values in single quotes: "
                "DLBM LIKE '01%', DLMC IN ('水田', '旱地').",
            )
        ],
    )


def _user_crs(crs: Any, p: Path) -> CRS:
    try:
        return CRS.from_user_input(crs)
    except Exception as exc:  # pyproj's CRSError
        raise DataError(
            f"{p}: cannot read the CRS {crs!r} given for this layer ({exc}). Fix: give an EPSG code such as "
            "EPSG:4490 (CGCS2000 lon/lat) or EPSG:4326 (WGS84 lon/lat)."
        ) from exc


#: The files a Shapefile is made of besides the ``.shp``: required, and what each one holds.
SHAPEFILE_PARTS = {".shx": "the shape index", ".dbf": "the attribute table"}


def _check_shapefile_parts(p: Path) -> None:
    """Refuse a Shapefile whose ``.shx`` or ``.dbf`` is missing, naming the missing file."""
    present = {q.suffix.lower() for q in p.parent.glob(f"{glob.escape(p.stem)}.*") if q.stem == p.stem}
    missing = [ext for ext in SHAPEFILE_PARTS if ext not in present]
    if missing:
        names = ", ".join(f"{p.stem}{ext} ({SHAPEFILE_PARTS[ext]})" for ext in missing)
        raise DataError(
            f"Shapefile {p} is incomplete: {names} {'is' if len(missing) == 1 else 'are'} missing beside it. "
            f"Fix: copy all the files of the Shapefile together ({p.stem}.shp, .shx, .dbf, .prj and .cpg), "
            "or convert it to one GeoPackage file."
        )


def _read_csv_points(
    p: Path,
    *,
    lon: str | None,
    lat: str | None,
    crs: Any,
    encoding: str | None,
    where: str | None = None,
    sheet: str | int | None = None,
    header: bool = True,
    names: Iterable[str] | None = None,
) -> gpd.GeoDataFrame:
    # every column as text: ids keep their leading zeros ("001"); layers.validate_layer types the counts
    df = read_table(p, encoding=encoding, sheet=0 if sheet is None else sheet, header=header, names=names)
    first = 2 if header else 1  # the file's line (row) of the first data row
    row_word = "row" if p.suffix.lower() in XLSX_SUFFIXES else "line"
    if where is not None:
        df = df[filter_rows(df, where, p)]
    cols = {str(c).strip().lower(): c for c in df.columns}
    lon_col = lon or next((cols[n] for n in LON_NAMES if n in cols), None)
    lat_col = lat or next((cols[n] for n in LAT_NAMES if n in cols), None)
    if lon_col is None or lat_col is None or lon_col not in df.columns or lat_col not in df.columns:
        raise DataError(
            f"{p}: no longitude/latitude columns found among {list(df.columns)}. "
            "Fix: name them lon/lat (or 经度/纬度), or set 'lon:' and 'lat:' for this layer in the scenario."
        )
    x = pd.to_numeric(df[lon_col], errors="coerce").to_numpy(dtype=float)
    y = pd.to_numeric(df[lat_col], errors="coerce").to_numpy(dtype=float)
    rows = df.index.to_numpy()
    bad = ~(np.isfinite(x) & np.isfinite(y))
    if bad.any():
        raise DataError(
            f"{p}: no numeric (finite) {lon_col}/{lat_col} at {_lines(bad, rows=rows, first=first, word=row_word)}. "
            "Fix: fill in the coordinates, or leave those rows out with 'where:' "
            f'(e.g. where: "{lon_col} IS NOT NULL").'
        )
    out_crs = _user_crs(crs or "EPSG:4326", p)
    if out_crs.is_geographic:
        off = (np.abs(x) > 180.0) | (np.abs(y) > 90.0)
        if off.any():
            i = int(np.flatnonzero(off)[0])
            swapped = bool(((np.abs(y[off]) <= 180.0) & (np.abs(x[off]) <= 90.0)).all())
            hint = (
                f"lon/lat swapped? ({lon_col} holds the latitude and {lat_col} the longitude, e.g. "
                f"{lon_col}={x[i]:g}, {lat_col}={y[i]:g}). Fix: swap the two columns, or set "
                f"'lon: {lat_col}' and 'lat: {lon_col}' for this layer in the scenario."
                if swapped
                else f"e.g. {lon_col}={x[i]:g}, {lat_col}={y[i]:g}: these look like metres. Fix: set this layer's "
                "'crs:' in the scenario to the CRS of the coordinates (e.g. EPSG:4545), or correct the values."
            )
            raise DataError(
                f"{p}: {lon_col}/{lat_col} outside longitude -180..180 / latitude -90..90 at "
                f"{_lines(off, rows=rows, first=first, word=row_word)} "
                f"(the layer's CRS is {out_crs.to_string()}); {hint}"
            )
    geom = gpd.points_from_xy(x, y)
    return gpd.GeoDataFrame(df.drop(columns=[lon_col, lat_col]).reset_index(drop=True), geometry=geom, crs=out_crs)


def _lines(
    mask: np.ndarray, limit: int = 10, *, rows: np.ndarray | None = None, first: int = 2, word: str = "line"
) -> str:
    """'lines 3, 5 and 2 more' for rows of a CSV (``first``: the line of data row 0; 2 below a header)."""
    idx = np.flatnonzero(mask)
    numbers = idx if rows is None else rows[idx]
    shown = ", ".join(str(int(i) + first) for i in numbers[:limit])
    more = f" and {len(idx) - limit} more" if len(idx) > limit else ""
    return f"{word if len(idx) == 1 else word + 's'} {shown}{more}"


#: Column names of the scratch table :func:`filter_rows` builds (never a user column name).
_ROW_COLUMN = "__geofupin_row"
_FID_COLUMN = "__geofupin_fid"


def filter_rows(df: pd.DataFrame, where: str, path: str | os.PathLike[str] = "table") -> np.ndarray:
    """The rows of a table (a CSV or XLSX read as text) that an SQL ``where`` expression selects.

    The table goes into an in-memory GeoPackage (GDAL's /vsimem, nothing on disk) and the
    expression is run by SQLite, as for a GeoPackage layer: every column is text (SQLite compares
    ``col = 5`` as text; use ``CAST(col AS REAL) > 5`` for numbers), empty cells are NULL.

    Raises
    ------
    ScenarioError
        The expression is not valid, or names a column the table does not have (one problem, at ``where``).
    DataError
        Two column names differ only by case (SQLite cannot tell them apart).
    """
    p = Path(path)
    lowered: dict[str, str] = {}
    for c in map(str, df.columns):
        other = lowered.setdefault(c.lower(), c)
        if other != c:
            raise DataError(
                f"{p}: columns '{other}' and '{c}' differ only by case, which a 'where:' filter cannot tell apart. "
                "Fix: rename one of them (or give 'names:')."
            )
    table = pd.DataFrame({str(c): df[c].astype(object).where(df[c].notna(), None) for c in df.columns})
    table[_ROW_COLUMN] = np.arange(len(df), dtype=np.int64)
    name = f"/vsimem/geofupin-{uuid.uuid4().hex}.gpkg"
    try:
        pyogrio.write_dataframe(table, name, driver="GPKG", layer="t", layer_options={"FID": _FID_COLUMN})
        try:
            kept = pyogrio.read_dataframe(name, where=where, read_geometry=False, columns=[_ROW_COLUMN])
        except Exception as exc:  # pyogrio's FeatureError / DataLayerError: the SQL did not prepare
            raise _where_error(p, where, exc) from exc
    finally:
        with contextlib.suppress(Exception):
            pyogrio.vsi_unlink(name)
    mask = np.zeros(len(df), dtype=bool)
    mask[kept[_ROW_COLUMN].to_numpy(dtype=np.int64)] = True
    return mask


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes (for ``run.json``); of a folder (a File Geodatabase), see :func:`folder_sha256`."""
    if Path(path).is_dir():
        return folder_sha256(path)
    h = hashlib.sha256()
    try:
        with Path(path).open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    except OSError as exc:
        raise DataError(
            f"cannot read {path} to hash it: {exc}. Fix: check that the file exists and is readable."
        ) from exc
    return h.hexdigest()


#: Files left out of a folder's hash: the lock files ArcGIS and QGIS leave in a File Geodatabase while it is open.
HASH_SKIPPED = ("*.lock", "*.LOCK")


def folder_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 over a folder's tree (a File Geodatabase ``county.gdb``), the same wherever it is copied.

    Every file under the folder (not following links; a link counts by its target's name) is
    taken in sorted order of its relative ``/`` path; the hash covers each path and the SHA-256
    of each file's bytes. Lock files (:data:`HASH_SKIPPED`) are left out, so a geodatabase open
    in ArcGIS hashes as when it is closed.
    """
    root = Path(path)
    h = hashlib.sha256(b"geofupin-folder-v1\n")
    for rel in folder_files(root):
        if any(fnmatch.fnmatchcase(Path(rel).name, pat) for pat in HASH_SKIPPED):
            continue
        f = root / rel
        if f.is_symlink():
            digest = hashlib.sha256(b"link:" + os.fsencode(os.readlink(f))).hexdigest()
        else:
            digest = file_sha256(f)
        h.update(rel.encode("utf-8") + b"\0" + digest.encode("ascii") + b"\n")
    return h.hexdigest()


#: Query parameters of a connection string that carry secrets (left out of its hash and of messages).
_SECRET_PARAMS = ("password", "passwd", "pwd", "sslpassword", "token", "secret")


def redact_url(url: str) -> str:
    """A connection string without its password (``postgresql://gis:secret@db/county`` -> ``postgresql://gis@db/county``).

    Secrets in the query (``?password=...``) are dropped too; everything else is kept as written.
    """
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        netloc = f"{userinfo.split(':', 1)[0]}@{host}"
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() not in _SECRET_PARAMS]
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def is_url(source: object) -> bool:
    """True for a connection string or URL source (``postgresql://...``), as opposed to a file path."""
    return isinstance(source, str) and re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", source) is not None


def source_sha256(source: str | os.PathLike[str], *, layer: str | None = None, where: str | None = None) -> str:
    """The hash ``run.json`` records for one input source.

    A file: :func:`file_sha256` of its bytes. A folder (File Geodatabase): :func:`folder_sha256`.
    A database or URL source (``postgresql://...``): the SHA-256 of its connection string without
    the password (:func:`redact_url`), its ``layer`` and its ``where`` filter, one per line: it
    names what was read, not the rows (a database has no bytes to hash).
    """
    if is_url(source):
        text = "\n".join(("geofupin-source-v1", redact_url(str(source)), layer or "", where or ""))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()
    p = Path(source)
    if p.suffix.lower() == ".shp" and p.is_file():
        return shapefile_sha256(p)
    return file_sha256(p)


#: The files of a Shapefile that hold its data, hashed together by :func:`shapefile_sha256`.
SHAPEFILE_HASHED = (".shp", ".shx", ".dbf", ".prj", ".cpg")


def shapefile_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 over the files of a Shapefile: the ``.shp`` and its ``.shx``, ``.dbf``, ``.prj`` and ``.cpg`` beside it.

    The attributes (a DLTB's DLBM) live in the ``.dbf`` and the CRS in the ``.prj``, so a hash of
    the ``.shp`` alone would not change when they do. Each part present counts by its extension
    and the SHA-256 of its bytes, in the order above (extensions matched case-insensitively).
    """
    p = Path(path)
    beside = {q.suffix.lower(): q for q in p.parent.glob(f"{glob.escape(p.stem)}.*") if q.stem == p.stem}
    beside[".shp"] = p
    h = hashlib.sha256(b"geofupin-shapefile-v1\n")
    for ext in SHAPEFILE_HASHED:
        if ext in beside and beside[ext].is_file():
            h.update(ext.encode("ascii") + b"\0" + file_sha256(beside[ext]).encode("ascii") + b"\n")
    return h.hexdigest()


def read_osm(path: str | os.PathLike[str], *, out_crs: Any = None) -> dict[str, gpd.GeoDataFrame]:
    """Read an OpenStreetMap extract (.osm.pbf) into geofupin layers; see :func:`geofupin.osm.import_osm`."""
    from .osm import import_osm

    return import_osm(Path(path), out_crs=out_crs)


def read_table(
    path: str | os.PathLike[str],
    *,
    encoding: str | None = None,
    sheet: str | int = 0,
    header: bool = True,
    names: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Read a plain table (CSV or XLSX, e.g. a village registry) with every cell as text.

    Ids keep their leading zeros; callers type the numbers. ``encoding`` applies to CSV
    (default UTF-8 with or without BOM); ``sheet`` to XLSX (name or 0-based number).
    ``header=False`` reads a table without a header row, whose columns ``names`` names (one
    name per column, in order); with a header row, ``names`` replaces its names.

    Raises
    ------
    DataError
        The file is missing, unreadable, not in ``encoding``, ``sheet`` is not in it, or
        ``names`` does not give one name per column.
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"table {p} does not exist. Fix: check the path.")
    given = None if names is None else [str(n) for n in names]
    suffix = p.suffix.lower()
    text: dict[str, Any] = {"dtype": str, "keep_default_na": False, "na_values": [""], "header": 0 if header else None}
    try:
        if suffix in (".xlsx", ".xlsm", ".xls"):
            with pd.ExcelFile(p) as book:
                sheets = [str(s) for s in book.sheet_names]
            if (isinstance(sheet, str) and sheet not in sheets) or (
                isinstance(sheet, int) and not 0 <= sheet < len(sheets)
            ):
                raise DataError(
                    f"{p} has no sheet {sheet!r}; its sheets: {', '.join(sheets)}. "
                    "Fix: set 'sheet:' to one of their names (or numbers from 0 for the first)."
                )
            df = pd.read_excel(p, sheet_name=sheet, **text)
        else:
            df = pd.read_csv(p, encoding=encoding or "utf-8-sig", **text)
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{p} is not {encoding or 'UTF-8'} text ({exc}). Fix: save it as UTF-8, or give its encoding "
            "(e.g. 'encoding: GBK' for the layer, --registry-encoding GBK for a registry)."
        ) from exc
    except (ValueError, OSError) as exc:
        raise DataError(f"cannot read table {p}: {exc}. Fix: give a CSV or an XLSX file.") from exc
    if given is not None:
        if len(given) != df.shape[1]:
            raise DataError(
                f"{p}: 'names' gives {len(given)} column name(s) but the table has {df.shape[1]} column(s)"
                f"{'' if header else ' (no header row)'}. Fix: give exactly one name per column, in order."
            )
        df.columns = given
    elif not header:
        df.columns = [f"column_{i + 1}" for i in range(df.shape[1])]
    return df
