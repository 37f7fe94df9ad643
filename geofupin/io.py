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
import dataclasses
import errno
import fnmatch
import gc
import glob
import hashlib
import json
import logging
import math
import os
import re
import shutil
import tempfile
import uuid
import warnings
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeAlias

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
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
#: A text starting with one of :data:`FORMULA_START` (for Arrow's regular expressions).
_FORMULA_REGEX = r"^[=+\-@\t\r]"
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


#: GeoPackage version written: 1.2 is read without warnings by every QGIS LTR, GDAL >= 2.2 and ArcGIS
#: (GDAL >= 3.11 would stamp 1.4, which older QGIS and ArcGIS warn about on every layer).
GPKG_VERSION = "1.2"
#: Geometry column name in GeoPackages geofupin writes (the GDAL default, stated so styles can name it).
GPKG_GEOMETRY_COLUMN = "geom"
#: The table QGIS reads a layer's default style from (QGIS's own schema, see :func:`write_layers`).
LAYER_STYLES_TABLE = "layer_styles"
#: Columns of QGIS's ``layer_styles`` table, in QGIS's order (``id`` is the primary key).
LAYER_STYLES_COLUMNS = (
    "f_table_catalog",
    "f_table_schema",
    "f_table_name",
    "f_geometry_column",
    "styleName",
    "styleQML",
    "styleSLD",
    "useAsDefault",
    "description",
    "owner",
    "ui",
    "update_time",
)

GeomFamily = Literal["points", "lines", "areas", "collections"]
#: Geometry family of each simple-features type: a Multi type belongs with its single type.
GEOM_FAMILY: dict[str, GeomFamily] = {
    "Point": "points",
    "MultiPoint": "points",
    "LineString": "lines",
    "LinearRing": "lines",
    "MultiLineString": "lines",
    "Polygon": "areas",
    "MultiPolygon": "areas",
    "GeometryCollection": "collections",
}
_SINGLE_TYPE = {"points": "Point", "lines": "LineString", "areas": "Polygon", "collections": "GeometryCollection"}
_FAMILY_ORDER: tuple[GeomFamily, ...] = ("points", "lines", "areas", "collections")
#: Shapely's geometry type ids (:func:`shapely.get_type_id`, plus one: -1 is a missing geometry) -> position of
#: their family in :data:`_FAMILY_ORDER` (-1: none), as :data:`GEOM_FAMILY` names them.
_FAMILY_OF_TYPE_ID = np.array(
    # missing, Point, LineString, LinearRing, Polygon, MultiPoint, MultiLineString, MultiPolygon, GeometryCollection
    [-1, 0, 1, 1, 2, 0, 1, 2, 3],
    dtype=np.int64,
)
#: Type ids of the Multi types (MultiPoint, MultiLineString, MultiPolygon).
_MULTI_TYPE_IDS = np.array([4, 5, 6])


@dataclasses.dataclass(frozen=True)
class OutputLayer:
    """One layer as written: a single geometry family, declared with one geometry type.

    Attributes
    ----------
    name
        The layer's name in the file: ``source`` itself when the source holds one geometry family,
        else ``<source>_points``, ``<source>_lines``, ``<source>_areas`` (``_collections`` for
        geometry collections).
    source
        The layer it was cut from (``input_water``).
    family
        ``points``, ``lines``, ``areas`` or ``collections``; ``None`` for a layer with no geometry.
    geometry_type
        The declared geometry type: the Multi type when any feature is Multi (single features are
        promoted), else the single type; `` Z`` appended when any feature has heights.
    frame
        The features.
    """

    name: str
    source: str
    family: GeomFamily | None
    geometry_type: str | None
    frame: gpd.GeoDataFrame


def split_geometry_families(frames: Mapping[str, gpd.GeoDataFrame]) -> dict[str, OutputLayer]:
    """Cut every layer into one layer per geometry family, so each has ONE geometry type.

    QGIS shows one geometry type per layer (the rest of a mixed layer is hidden) and Shapefile and
    FileGDB refuse mixed layers. A layer whose features are all points, all lines or all polygons
    (Multi types included) keeps its name; a layer that mixes families is split into
    ``<name>_points``, ``<name>_lines`` and ``<name>_areas`` (``<name>_collections`` for geometry
    collections), in that order, and empty splits are not written. Features without a geometry
    stay with the first family present. Row order within each split is the source's order.

    Examples
    --------
    ``input_water`` with rivers, wells and reservoirs becomes ``input_water_points``,
    ``input_water_lines`` and ``input_water_areas``; ``input_roads`` stays ``input_roads``.
    """
    out: dict[str, OutputLayer] = {}
    for name, gdf in frames.items():
        if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf.columns:
            out[name] = OutputLayer(name, name, None, None, gdf)
            continue
        type_ids = shapely.get_type_id(np.asarray(gdf.geometry.values))  # -1: no geometry
        fam = _FAMILY_OF_TYPE_ID[type_ids + 1]  # position in _FAMILY_ORDER, -1: no geometry
        present = [k for k in range(len(_FAMILY_ORDER)) if (fam == k).any()]
        if not present:
            out[name] = OutputLayer(name, name, None, None, gdf)
            continue
        fam = np.where(fam < 0, present[0], fam)
        for k in present:
            f = _FAMILY_ORDER[k]
            rows = fam == k
            part = gdf[rows] if len(present) > 1 else gdf
            gtype = _SINGLE_TYPE[f]
            if f != "collections" and np.isin(type_ids[rows], _MULTI_TYPE_IDS).any():
                gtype = "Multi" + gtype
            if bool(part.geometry.has_z.any()):
                gtype += " Z"
            layer = name if len(present) == 1 else f"{name}_{f}"
            if layer in out or (layer != name and layer in frames):
                raise OutputError(
                    f"无法写出图层 {layer}:名称重复 / cannot write layer {layer!r}: splitting {name!r} by geometry "
                    f"gives a name another layer has. Fix: rename the layer {layer!r}."
                )
            out[layer] = OutputLayer(layer, name, f, gtype, part)
    return out


def write_layers(
    frames: Mapping[str, gpd.GeoDataFrame] | Mapping[str, OutputLayer],
    path: str | os.PathLike[str],
    *,
    styles: Iterable[Mapping[str, Any]] = (),
) -> Path:
    """Write several layers into one GeoPackage (version :data:`GPKG_VERSION`) atomically (all or nothing).

    Every layer is written with one geometry type (:func:`split_geometry_families`: a layer that mixes
    points, lines and polygons is split into ``<name>_points``, ``<name>_lines``, ``<name>_areas``).

    Parameters
    ----------
    frames
        Layer name -> features; or the layers :func:`split_geometry_families` cut already (a run has them
        for its QGIS project too), written as they are.
    path
        The GeoPackage.
    styles
        Rows of QGIS's ``layer_styles`` table (keys of :data:`LAYER_STYLES_COLUMNS`; missing keys are
        empty, ``update_time`` defaults to the pinned :data:`GPKG_TIMESTAMP`), written as the
        attribute table QGIS creates itself: QGIS applies the row with ``useAsDefault`` as the layer's
        style when the layer is opened.
    """
    target = Path(path)
    given = {k: v for k, v in frames.items() if isinstance(v, OutputLayer)}
    if given and len(given) != len(frames):
        raise TypeError("write_layers: give either frames or the layers split_geometry_families cut, not both")
    layers = given or split_geometry_families({k: v for k, v in frames.items() if not isinstance(v, OutputLayer)})
    rows = [dict(r) for r in styles]
    with atomic_write(target) as tmp:
        # a new file nobody reads before it is moved into place: SQLite need not wait for the disk at each
        # of its commits (several a layer); the finished file is synced once instead (same bytes either way)
        with pyogrio_config({"OGR_SQLITE_SYNCHRONOUS": "OFF"}):
            for name, layer in layers.items():
                _write_one(
                    layer.frame, tmp, layer=name, driver="GPKG", append=tmp.exists(), geometry_type=layer.geometry_type
                )
            if rows:
                _write_layer_styles(rows, tmp)
        if tmp.exists():  # (no layers: nothing written, the move below says so)
            _fsync(tmp)
    return target


def _fsync(path: Path) -> None:
    """Wait until the file's bytes are on the disk (before it is moved into place)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_layer_styles(rows: list[dict[str, Any]], path: Path) -> None:
    """Append QGIS's ``layer_styles`` attribute table (primary key ``id``) to a GeoPackage."""
    unknown = sorted({k for r in rows for k in r} - set(LAYER_STYLES_COLUMNS))
    if unknown:
        raise ValueError(f"layer_styles has no column(s) {unknown}; columns are {LAYER_STYLES_COLUMNS}")
    when = pd.Timestamp(GPKG_TIMESTAMP.rstrip("Z"))
    data: dict[str, list[Any]] = {c: [] for c in LAYER_STYLES_COLUMNS}
    for r in rows:
        for c in LAYER_STYLES_COLUMNS:
            default: Any = when if c == "update_time" else (False if c == "useAsDefault" else "")
            v = r.get(c, default)
            data[c].append(_xml_safe(v) if isinstance(v, str) else v)
    df = pd.DataFrame(data)
    df["useAsDefault"] = df["useAsDefault"].astype(bool)
    df["update_time"] = pd.to_datetime(df["update_time"])
    with pyogrio_config({"OGR_CURRENT_DATE": GPKG_TIMESTAMP}):
        try:
            pyogrio.write_dataframe(
                df, path, layer=LAYER_STYLES_TABLE, driver="GPKG", append=True, layer_options={"FID": "id"}
            )
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
            raise OutputError(f"无法写出 cannot write {path.name} table {LAYER_STYLES_TABLE!r}: {exc}") from exc


_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_safe(text: str) -> str:
    """``text`` with the characters XML 1.0 cannot hold (controls, lone surrogates) replaced by U+FFFD."""
    return _XML_FORBIDDEN.sub("\ufffd", text)


def _write_one(
    gdf: gpd.GeoDataFrame,
    path: Path,
    *,
    layer: str | None,
    driver: str,
    append: bool = False,
    geometry_type: str | None = None,
    encoding: str = "UTF-8",
) -> None:
    if driver == "Parquet":
        require("pyarrow")  # the `parquet` extra
        gdf.to_parquet(path, index=False)
        return
    frame = _plain_columns(gdf)
    kwargs: dict[str, Any] = {}
    if driver in ("GPKG", "OpenFileGDB"):
        kwargs["layer"] = layer
    if driver == "GPKG":
        kwargs["layer_options"] = {"GEOMETRY_NAME": GPKG_GEOMETRY_COLUMN}
        if not append:
            kwargs["dataset_options"] = {"VERSION": GPKG_VERSION}
    if driver == "ESRI Shapefile":
        kwargs["encoding"] = encoding
    if geometry_type is not None:
        kwargs["geometry_type"] = geometry_type
        kwargs["promote_to_multi"] = geometry_type.startswith("Multi")
    with pyogrio_config({"OGR_CURRENT_DATE": GPKG_TIMESTAMP}):
        try:
            pyogrio.write_dataframe(frame, path, driver=driver, append=append, **kwargs)
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:  # GDAL: disk full, no access
            what = f"{path.name} layer {layer!r}" if layer else path.name
            raise OutputError(f"无法写出 cannot write {what}: {exc}") from exc


# --------------------------------------------------------------------------- export (Shapefile, FileGDB, GeoPackage)
ExportFormat = Literal["shp", "gdb", "gpkg"]
EXPORT_FORMATS: tuple[str, ...] = ("shp", "gdb", "gpkg")
#: Most bytes of a Shapefile field name (dBase), and of one text value.
SHAPEFILE_NAME_BYTES = 10
SHAPEFILE_TEXT_BYTES = 254
#: Files beside an export that give every column's name in the file (read back by :func:`read_export`).
FIELD_MAP_JSON = "field_names.json"
FIELD_MAP_CSV = "field_names.csv"
_SAFE_NAME = re.compile(r"[^\w]", re.UNICODE)


def _name_bytes(name: str, encoding: str) -> int:
    return len(name.encode(encoding, errors="replace"))


def _cut(name: str, limit: int, encoding: str) -> str:
    out = name
    while out and _name_bytes(out, encoding) > limit:
        out = out[:-1]
    return out.rstrip("_") or out


def _abbreviate(name: str) -> str:
    from .vocabulary import SHORT_FIELD_NAMES, SHORT_NAME_TOKENS

    if name in SHORT_FIELD_NAMES:
        return SHORT_FIELD_NAMES[name]
    out = name
    for long, short in sorted(SHORT_NAME_TOKENS.items(), key=lambda kv: -len(kv[0])):  # multi-word tokens first
        out = re.sub(rf"(?<![^_]){re.escape(long)}(?![^_])", short, out)
    return out


def export_field_names(columns: Iterable[str], *, fmt: ExportFormat, encoding: str = "UTF-8") -> dict[str, str]:
    """The name each column gets in an export of format ``fmt`` (column -> name in the file).

    The rules (documented in the README, "Export"):

    - every format: a name ArcGIS reserves (``group``, ``order``... :data:`~geofupin.vocabulary.RESERVED_FIELD_NAMES`)
      gets a trailing ``_`` (``group_``, as GDAL's FileGDB writer does);
    - ``gdb``: characters other than letters, digits and ``_`` become ``_``; a name starting with a digit
      or ``_`` gets a leading ``f``;
    - ``shp``: as ``gdb``, then names over 10 bytes (in the file's ``encoding``) take their documented short
      name (:data:`~geofupin.vocabulary.SHORT_FIELD_NAMES`: ``relocate_households`` -> ``reloc_hh``), or
      have their words shortened (:data:`~geofupin.vocabulary.SHORT_NAME_TOKENS`: ``time_min_school`` ->
      ``tmin_sch``), then are cut to 10 bytes;
    - names equal but for case get ``_2``, ``_3``... (Shapefile, FileGDB and GeoPackage ignore case);
    - ``gpkg``: names are otherwise kept.
    """
    from .vocabulary import RESERVED_FIELD_NAMES

    out: dict[str, str] = {}
    used: set[str] = set()
    for col in columns:
        name = str(col)
        if fmt != "gpkg":
            name = _SAFE_NAME.sub("_", name)
            if not name or not name[0].isalpha():
                name = "f" + name
            if name.lower() in RESERVED_FIELD_NAMES:
                name += "_"
        if fmt == "shp" and _name_bytes(name, encoding) > SHAPEFILE_NAME_BYTES:
            name = _cut(_abbreviate(name), SHAPEFILE_NAME_BYTES, encoding)
        base, n = name, 1
        while name.lower() in used:
            n += 1
            suffix = f"_{n}"
            name = (_cut(base, SHAPEFILE_NAME_BYTES - len(suffix), encoding) if fmt == "shp" else base) + suffix
        used.add(name.lower())
        out[str(col)] = name
    return out


def _split_text(text: str, limit: int, encoding: str) -> list[str]:
    """``text`` cut into pieces of at most ``limit`` bytes in ``encoding``, never inside a character."""
    parts: list[str] = []
    cur: list[str] = []
    size = 0
    for ch in text:
        n = len(ch.encode(encoding))
        if size + n > limit:
            parts.append("".join(cur))
            cur, size = [], 0
        cur.append(ch)
        size += n
    parts.append("".join(cur))
    return parts


def _dtype_name(s: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(s.dtype):
        return "bool"
    if isinstance(s.dtype, pd.api.extensions.ExtensionDtype) and pd.api.types.is_integer_dtype(s.dtype):
        return "Int64"
    if pd.api.types.is_integer_dtype(s.dtype):
        return "int64"
    if pd.api.types.is_float_dtype(s.dtype):
        return "float64"
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return str(s.dtype)  # datetime64[ms], datetime64[us, UTC] ...
    return "str"


def _export_frame(
    layer: str, gdf: gpd.GeoDataFrame, *, fmt: ExportFormat, encoding: str
) -> tuple[gpd.GeoDataFrame, list[dict[str, Any]]]:
    """The frame as written (names and types the format holds) and the record of every field."""
    frame = _plain_columns(gdf)
    geom = frame.geometry.name
    cols = [c for c in frame.columns if c != geom]
    names = export_field_names(cols, fmt=fmt, encoding=encoding)
    data: dict[str, Any] = {}
    fields: list[dict[str, Any]] = []
    used = {n.lower() for n in names.values()}
    for col in cols:
        s = frame[col]
        kind = _dtype_name(s)
        record: dict[str, Any] = {"layer": layer, "field": str(col), "name": names[col], "dtype": kind, "parts": []}
        if kind == "str":
            text = s.astype(object).where(s.notna(), None)
            if fmt == "shp":
                _check_encodable(layer, frame, col, text, encoding)
                empty = [i for i, v in enumerate(text) if v == ""]  # a .dbf reads "" back as missing
                if empty and any(v is None for v in text):
                    record["empty_rows"] = empty
                elif empty:
                    record["missing"] = ""
                longest = max((len(str(v).encode(encoding)) for v in text if v is not None), default=0)
                if longest > SHAPEFILE_TEXT_BYTES:  # continued in extra fields: name, name_2, name_3 ...
                    pieces = [
                        _split_text(str(v), SHAPEFILE_TEXT_BYTES, encoding) if v is not None else [] for v in text
                    ]
                    count = max(len(pc) for pc in pieces)
                    extra = []
                    for k in range(2, count + 1):
                        suffix, attempt = f"_{k}", 1
                        nm = _cut(names[col], SHAPEFILE_NAME_BYTES - len(suffix), encoding) + suffix
                        while nm.lower() in used:  # taken by another column: _2a, _2b ...
                            tag = f"{suffix}{chr(ord('a') + attempt - 1)}"
                            nm = _cut(names[col], SHAPEFILE_NAME_BYTES - len(tag), encoding) + tag
                            attempt += 1
                        used.add(nm.lower())
                        extra.append(nm)
                    data[names[col]] = [pc[0] if pc else None for pc in pieces]
                    for k, nm in enumerate(extra, start=1):
                        data[nm] = [pc[k] if len(pc) > k else (None if not pc else "") for pc in pieces]
                    record["parts"] = extra
                    fields.append(record)
                    continue
            data[names[col]] = text
        elif kind == "int64" and fmt == "gdb":  # FileGDB's integers are 32-bit (before ArcGIS Pro 3.2)
            v = s.to_numpy()
            fits = bool(len(v) == 0 or (v.min() >= -(2**31) and v.max() < 2**31))
            data[names[col]] = s.astype("int32") if fits else s.astype(str)
        elif kind == "Int64" and fmt == "gdb":
            data[names[col]] = s.astype("float64")
        elif kind.startswith("datetime64") and fmt == "shp":  # a .dbf holds dates only: the time as ISO text
            data[names[col]] = s.map(lambda v: v.isoformat() if pd.notna(v) else None).astype(object)
        else:
            data[names[col]] = s
        fields.append(record)
    out = gpd.GeoDataFrame(data, geometry=frame.geometry.values, crs=frame.crs, index=frame.index)
    return out, fields


def _check_encodable(layer: str, frame: pd.DataFrame, col: Any, text: pd.Series, encoding: str) -> None:
    bad = [(i, v) for i, v in enumerate(text) if v is not None and not _encodes(str(v), encoding)]
    if bad:
        i, v = bad[0]
        raise DataError(
            f"图层 {layer} 字段 {col} 第 {i + 1} 行的文字无法用 {encoding} 编码 / layer {layer!r} column {col!r} row "
            f"{i + 1}: {str(v)[:40]!r} cannot be written in {encoding} ({len(bad)} value(s)). "
            "Fix: export with --encoding UTF-8 (or GB18030, which holds every character), or --format gdb or gpkg."
        )


def _encodes(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def export_layers(
    frames: Mapping[str, gpd.GeoDataFrame],
    folder: str | os.PathLike[str],
    *,
    fmt: ExportFormat,
    encoding: str = "UTF-8",
    name: str = "results",
) -> dict[str, Any]:
    """Write layers for ArcGIS and QGIS into ``folder``, with one geometry type per layer and no data lost.

    ``shp``: one ``<layer>.shp`` (with ``.shx``, ``.dbf``, ``.prj`` and a ``.cpg`` naming ``encoding``)
    per layer; text over 254 bytes continues in extra fields (``name_2``...). ``gdb``: one
    ``<name>.gdb`` File Geodatabase. ``gpkg``: one ``<name>.gpkg``. Field names follow
    :func:`export_field_names`; :data:`FIELD_MAP_JSON` and :data:`FIELD_MAP_CSV` beside the layers list
    every field (layer, original name, name in the file, type, continuation fields) and are what
    :func:`read_export` uses to give the layers back as they were.

    Mixed layers are split first (:func:`split_geometry_families`). Write ``folder`` inside
    :func:`atomic_dir` (the CLI does).

    Returns
    -------
    The record written to :data:`FIELD_MAP_JSON`.
    """
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use one of {EXPORT_FORMATS}")
    try:
        "".encode(encoding)
    except LookupError as exc:
        raise OutputError(f"unknown encoding {encoding!r}. Fix: use UTF-8 or GBK.") from exc
    out = Path(folder)
    layers = split_geometry_families(frames)
    record: dict[str, Any] = {"format": fmt, "encoding": encoding if fmt == "shp" else "UTF-8", "layers": {}}
    fields_all: list[dict[str, Any]] = []
    target = out / f"{name}.{fmt}"
    for lname, layer in layers.items():
        frame, fields = _export_frame(lname, layer.frame, fmt=fmt, encoding=encoding)
        gtype = layer.geometry_type
        if fmt == "shp":
            file = f"{_SAFE_NAME.sub('_', lname)}.shp"
            _write_one(frame, out / file, layer=None, driver="ESRI Shapefile", geometry_type=gtype, encoding=encoding)
        elif fmt == "gdb":
            file = target.name
            _write_one(frame, target, layer=lname, driver="OpenFileGDB", append=target.exists(), geometry_type=gtype)
        else:
            file = target.name
            _write_one(frame, target, layer=lname, driver="GPKG", append=target.exists(), geometry_type=gtype)
        record["layers"][lname] = {"file": file, "layer": lname, "geometry_type": gtype, "features": len(frame)}
        fields_all += fields
    record["fields"] = fields_all
    (out / FIELD_MAP_JSON).write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    table = pd.DataFrame(
        [
            {
                "layer": f["layer"],
                "field": f["field"],
                "name_in_file": f["name"],
                "type": f["dtype"],
                "continued_in": " ".join(f["parts"]),
            }
            for f in fields_all
        ],
        columns=["layer", "field", "name_in_file", "type", "continued_in"],
    )
    csv_safe(table).to_csv(out / FIELD_MAP_CSV, index=False, encoding="utf-8-sig", lineterminator="\n")
    return record


def read_results(path: str | os.PathLike[str]) -> dict[str, gpd.GeoDataFrame]:
    """Every layer of a run's ``results.gpkg`` (``path`` is the file or the run folder holding it).

    QGIS's ``layer_styles`` table is left out.
    """
    p = Path(path)
    gpkg = p / "results.gpkg" if p.is_dir() else p
    if not gpkg.is_file():
        raise DataError(
            f"没有找到 results.gpkg / no results.gpkg at {p}. Fix: give a run's output folder "
            "(the one `geofupin run` wrote) or its results.gpkg."
        )
    try:
        names = [str(n) for n, _ in pyogrio.list_layers(gpkg)]
        return {n: pyogrio.read_dataframe(gpkg, layer=n) for n in names if n != LAYER_STYLES_TABLE}
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise DataError(f"cannot read {gpkg}: {exc}. Fix: run `geofupin run` again to rewrite it.") from exc


def read_export(folder: str | os.PathLike[str]) -> dict[str, gpd.GeoDataFrame]:
    """Read an export written by :func:`export_layers` back with the original column names and types.

    Short names (``reloc_hh``), FileGDB's renames (``group_``) and continued text fields are undone
    from :data:`FIELD_MAP_JSON`; integer, boolean and date columns get their types back.
    """
    out = Path(folder)
    try:
        record = json.loads((out / FIELD_MAP_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(
            f"{out} has no readable {FIELD_MAP_JSON}: {exc}. Fix: give the folder `geofupin export` wrote."
        ) from exc
    by_layer: dict[str, list[dict[str, Any]]] = {}
    for f in record["fields"]:
        by_layer.setdefault(f["layer"], []).append(f)
    frames: dict[str, gpd.GeoDataFrame] = {}
    for lname, info in record["layers"].items():
        path = out / info["file"]
        gdf = pyogrio.read_dataframe(path, layer=None if record["format"] == "shp" else info["layer"])
        gtype = str(info.get("geometry_type") or "")
        if gtype.startswith("Multi") and len(gdf):  # Shapefiles do not tell Polygon from MultiPolygon
            gdf = gdf.set_geometry(_promote_multi(gdf.geometry.values, gtype))
        elif gtype and len(gdf):  # FileGDB stores every line and polygon as Multi: one part is the single type
            gdf = gdf.set_geometry(_single_parts(gdf.geometry.values))
        data: dict[str, Any] = {}
        for f in by_layer.get(lname, []):
            s = gdf[f["name"]]
            if f["parts"]:
                s = s.astype(object).where(s.notna(), None)
                for extra in f["parts"]:
                    more = gdf[extra].astype(object).where(gdf[extra].notna(), None)
                    s = pd.Series(
                        [a if b is None else (a or "") + b for a, b in zip(s, more, strict=True)], index=gdf.index
                    )
            if "missing" in f or f.get("empty_rows"):
                s = s.astype(object).where(s.notna(), None)
                rows = range(len(s)) if "missing" in f else f["empty_rows"]
                s.iloc[[i for i in rows if s.iloc[i] is None]] = ""
            data[f["field"]] = _restore_dtype(s, f["dtype"])
        frames[lname] = gpd.GeoDataFrame(data, geometry=gdf.geometry.values, crs=gdf.crs, index=gdf.index)
    return frames


def _promote_multi(geoms: Any, gtype: str) -> Any:
    import shapely

    maker = {
        "MultiPolygon": shapely.multipolygons,
        "MultiLineString": shapely.multilinestrings,
        "MultiPoint": shapely.multipoints,
    }[gtype.split()[0]]
    single = np.array([g is not None and not g.geom_type.startswith("Multi") for g in geoms])
    out = np.array(geoms, dtype=object)
    for i in np.flatnonzero(single):
        out[i] = maker([out[i]])
    return gpd.GeoSeries(out).values


def _single_parts(geoms: Any) -> Any:
    out = np.array(geoms, dtype=object)
    for i, g in enumerate(out):
        if g is not None and g.geom_type.startswith("Multi") and len(g.geoms) == 1:
            out[i] = g.geoms[0]
    return gpd.GeoSeries(out).values


def _restore_dtype(s: pd.Series, dtype: str) -> pd.Series:
    if dtype == "bool":
        return s.astype(bool)
    if dtype == "int64":
        return pd.to_numeric(s).astype("int64")
    if dtype == "Int64":
        return pd.to_numeric(s).astype("Int64")
    if dtype == "float64":
        return s.astype("float64")
    if dtype.startswith("datetime64"):
        t = pd.to_datetime(s)
        if t.dt.tz is not None and "," not in dtype:  # FileGDB gives UTC; the column had no time zone
            t = t.dt.tz_convert(None)
        return t.astype(dtype)
    return s.astype("str")


def _plain_columns(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Copy with types every vector format can hold (lists/dicts as JSON text, bool as int where needed)."""
    out = gdf.copy(deep=False)  # columns are replaced, never changed in place: the features' arrays are shared
    for col, dtype in zip(out.columns, out.dtypes.tolist(), strict=True):
        if col == out.geometry.name or not (isinstance(dtype, np.dtype) and dtype.kind == "O"):
            continue
        s = out[col]
        if any(isinstance(v, (list, tuple, dict)) for v in s.to_numpy()):
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


def read_json(path: str | os.PathLike[str]) -> Any:
    """A JSON file geofupin wrote (:func:`write_json`), as Python objects."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


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
    out = df.copy(deep=False)  # only the columns that change are new
    for i, dtype in enumerate(df.dtypes.tolist()):
        if _never_formula(dtype):
            continue  # numbers (and bools, dates) are never formulas
        s = df.iloc[:, i]
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype(object)
            out.isetitem(i, s)
        safe = _formula_safe(s)
        if safe is not None:
            out.isetitem(i, safe)

    def header(c: Any) -> Any:
        return neutralize_formula(c) if isinstance(c, str) else c

    if isinstance(out.columns, pd.MultiIndex):
        out.columns = pd.MultiIndex.from_tuples(
            [tuple(header(x) for x in t) for t in out.columns], names=out.columns.names
        )
    elif any(isinstance(c, str) and c.startswith(FORMULA_START) for c in out.columns):
        out.columns = pd.Index([header(c) for c in out.columns], name=out.columns.name)
    return out


def _never_formula(dtype: Any) -> bool:
    """Whether a column of ``dtype`` holds numbers, booleans or dates only (``is_numeric_dtype`` or
    ``is_datetime64_any_dtype``; a NumPy dtype by its kind, without pandas' checks)."""
    if isinstance(dtype, np.dtype):
        return dtype.kind in "biufcM"
    return bool(pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype))


#: Whether a byte is the first of a text that starts with a character of :data:`FORMULA_START` (all ASCII: in
#: UTF-8, a text's first byte is one of these exactly when its first character is).
_FORMULA_FIRST_BYTE = np.zeros(256, dtype=bool)
_FORMULA_FIRST_BYTE[list("".join(FORMULA_START).encode("ascii"))] = True


def _formula_safe(s: pd.Series) -> pd.Series | None:
    """``s`` with :func:`neutralize_formula` applied to its text values, or ``None`` when none needs it.

    Columns of text (a string dtype, or objects that are all text or missing) are checked at once
    (Arrow strings by the first byte of each value, read from the Arrow buffers in NumPy; others by
    ``str.startswith``); a column mixing text with other values goes value by value.
    """
    if isinstance(s.dtype, pd.StringDtype):
        if s.dtype.storage == "pyarrow":  # no Python object a value, no pandas wrapper per call
            import pyarrow as pa

            hit = _arrow_formula_starts(pa.array(s.array))
            if hit is None:
                import pyarrow.compute as pc

                starts = pc.match_substring_regex(pa.array(s.array), _FORMULA_REGEX)  # missing: null, never
                hit = np.asarray(starts.fill_null(False), dtype=bool)
        else:
            hit = np.asarray(s.str.startswith(FORMULA_START, na=False), dtype=bool)
        return s.where(~hit, "'" + s.where(hit, "")) if hit.any() else None
    if pd.api.types.infer_dtype(s, skipna=True) == "string":
        hit = np.asarray(s.str.startswith(FORMULA_START, na=False), dtype=bool)  # missing values never are
        if not hit.any():
            return None
        return s.where(~hit, "'" + s.where(hit, ""))
    if not any(isinstance(v, str) and v.startswith(FORMULA_START) for v in s.to_numpy(dtype=object)):
        return None
    return s.map(lambda v: neutralize_formula(v) if isinstance(v, str) else v)


def _arrow_formula_starts(values: Any) -> np.ndarray | None:
    """Which of the Arrow strings ``values`` (an array or chunked array) start with a character of
    :data:`FORMULA_START` (missing values never do); ``None`` when they are not Arrow (large) strings.

    Read from the Arrow buffers (the columnar format's offsets and UTF-8 data): the first byte of
    each non-empty value, looked up in :data:`_FORMULA_FIRST_BYTE`.
    """
    import pyarrow as pa

    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    parts = []
    for arr in chunks:
        if pa.types.is_large_string(arr.type):
            offset_type: Any = np.int64
        elif pa.types.is_string(arr.type):
            offset_type = np.int32
        else:
            return None
        if not len(arr):
            parts.append(np.zeros(0, dtype=bool))
            continue
        _, offsets_buf, data_buf = arr.buffers()
        size = np.dtype(offset_type).itemsize
        offsets = np.frombuffer(offsets_buf, dtype=offset_type, count=len(arr) + 1, offset=arr.offset * size)
        data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, dtype=np.uint8)
        starts = offsets[:-1]
        filled = offsets[1:] > starts
        first = np.zeros(len(arr), dtype=np.uint8)
        first[filled] = data[starts[filled]]
        hit = _FORMULA_FIRST_BYTE[first] & filled
        if arr.null_count:
            hit &= np.asarray(arr.is_valid(), dtype=bool)
        parts.append(hit)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)


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
#: Widest column (in Excel's character units) :func:`write_xlsx` sets; longer text wraps off-screen.
XLSX_MAX_WIDTH = 60.0
#: Rows converted at a time by :func:`write_xlsx` (the writer itself keeps one row in memory).
_XLSX_BATCH = 10_000
#: Most cells (header rows included, over all sheets) of a workbook :func:`write_xlsx` builds in memory (about
#: 25 MB); a larger one streams its rows to disk (constant memory). Tests lower it.
XLSX_IN_MEMORY_CELLS = 100_000
#: Number formats of date and time cells (the ones openpyxl gave them, so workbooks look as before).
_XLSX_DATE_FORMATS = {
    "datetime": "yyyy-mm-dd h:mm:ss",
    "date": "yyyy-mm-dd",
    "time": "h:mm:ss",
    "timedelta": "[h]:mm:ss",
}
#: XlsxWriter options: a text is only ever a string cell (rows streamed to disk or the workbook built in memory
#: is decided per workbook, see :data:`XLSX_IN_MEMORY_CELLS`).
_XLSX_OPTIONS = {
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
    "remove_timezone": True,  # Excel has no time zones: a zoned time is written as its wall-clock time
}

#: One cell write: an XlsxWriter ``write_*`` method, the value and the cell format (or None: an empty cell).
_CellWrite = tuple[Any, Any, Any] | None


@dataclasses.dataclass(frozen=True, eq=False)
class SheetRows:
    """Some rows of a table, written as one sheet by :func:`write_xlsx`: ``frame.take(rows)`` without the copy.

    Sheets cut from one table (a roster's sheet a village) name the same ``frame``: its columns
    are converted to cells and measured once for all of them, and each sheet is then written from
    its own ``rows`` (positions in ``frame``). A sheet reads back as :meth:`to_frame` written on its
    own would: the same cells, each column as wide as that sheet's header and values need.
    """

    frame: pd.DataFrame
    rows: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", np.asarray(self.rows, dtype=np.intp).reshape(-1))

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def columns(self) -> pd.Index:
        return self.frame.columns

    def to_frame(self) -> pd.DataFrame:
        """The sheet's rows as a table of their own (the frame's index labels kept)."""
        return self.frame.take(self.rows)


#: A table :func:`write_xlsx` writes: a whole table, or some rows of one (:class:`SheetRows`).
XlsxTable: TypeAlias = pd.DataFrame | SheetRows


def write_xlsx(
    tables: Mapping[str, XlsxTable],
    path: str | os.PathLike[str],
    *,
    headers_en: Mapping[str, Mapping[str, str]] | None = None,
    over_limit: Literal["refuse", "split"] = "refuse",
    full_table: Mapping[str, str] | None = None,
    number_formats: Mapping[str, Mapping[str, str]] | None = None,
) -> Path:
    """Write tables as sheets of one XLSX workbook atomically, row by row (constant memory when large).

    Written with XlsxWriter. A workbook of more than :data:`XLSX_IN_MEMORY_CELLS` cells is written
    in ``constant_memory`` mode: each row goes to disk as soon as it is complete, so memory stays
    flat however long the tables are. A smaller one (a county's roster: a hundred sheets of a
    village each) is built in memory (``in_memory``), without a temporary file per sheet; both
    read back cell for cell the same (values, formats, widths, frozen headers, filters). Sheet
    names are cut to Excel's 31 characters (made unique). With ``headers_en`` (table -> {column:
    English header}) a second header row gives the English names. Document timestamps are pinned
    so equal tables give equal files. A table may be :class:`SheetRows` (some rows of a larger
    table): many sheets cut from one table are converted once, not sheet by sheet.

    Laid out for people: the header rows are bold and frozen, with an autofilter on the last
    header row; every column is as wide as its widest header or value over the whole column (CJK
    characters count double, at most :data:`XLSX_MAX_WIDTH`); ``number_formats`` (table ->
    {column: Excel number format}, e.g. ``#,##0`` for 元 and persons, ``#,##0.00`` for 万元 and 亩)
    formats the numeric cells of numeric columns (nullable ``Int64``/``Float64`` columns too).
    Dates and times are date cells (``yyyy-mm-dd``, ``yyyy-mm-dd h:mm:ss``).

    Every text cell, headers included, is written as a string cell (a shared string, or
    ``t="inlineStr"`` when streamed), never as a formula, a link, a number or an error value,
    whatever it starts with; text starting with a formula character also gets Excel's quote
    prefix so that editing the cell keeps it text.
    Numbers stay numbers; missing values (NaN, None, NA, NaT) are empty cells; infinities are the
    texts ``inf`` and ``-inf``. Characters XML cannot hold (control characters other than tab and line feed, lone
    surrogates, U+FFFE/U+FFFF) become U+FFFD and a carriage return a line feed; text that looks
    like the format's own ``_xHHHH_`` escape is escaped in turn, so Excel shows it as it is. A text
    over Excel's 32,767 characters a cell is cut there (with a logged warning; the CSV keeps it).

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

    import xlsxwriter
    from xlsxwriter.exceptions import FileCreateError

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
    if over:
        log.warning("%s: tables over the %s-row limit split into numbered sheets: %s", target, XLSX_MAX_ROWS, over)
    fixed = dt.datetime(2016, 1, 1)
    cells = sum((len(df) + heads[name]) * max(1, len(df.columns)) for name, df in tables.items())
    streamed = cells > XLSX_IN_MEMORY_CELLS
    with atomic_write(target) as tmp:
        raw = tmp.with_name(tmp.name + ".raw")
        try:
            # streamed, XlsxWriter writes each sheet's rows to a file of its own: in a folder removed whatever happens
            rows = (
                tempfile.TemporaryDirectory(prefix="geofupin-xlsx-", ignore_cleanup_errors=True)
                if streamed
                else contextlib.nullcontext(None)
            )
            # built in memory, every cell is an object that stays alive until the file is written: the cyclic
            # collector's passes over the whole heap (a run's layers and tables) would find nothing to free
            paused = contextlib.nullcontext() if streamed else _collector_paused()
            with rows as rows_dir, paused:
                options = {**_XLSX_OPTIONS, "constant_memory": streamed, "in_memory": not streamed, "tmpdir": rows_dir}
                wb = xlsxwriter.Workbook(str(raw), options)
                try:
                    wb.set_properties({"created": fixed})  # XlsxWriter writes it as "created" and "modified"
                    formats = _XlsxFormats(wb)
                    used: set[str] = set()
                    shared: dict[tuple[int, tuple[tuple[str, str], ...]], _SharedColumns] = {}
                    for name, df in tables.items():
                        header = [[_xlsx_text(str(c)) for c in df.columns]]
                        if heads[name] == 2 and headers_en is not None:
                            header.append([_xlsx_text(headers_en[name].get(str(c), str(c))) for c in df.columns])
                        fmts = dict((number_formats or {}).get(name, {}))
                        source = _sheet_source(df, fmts, formats, shared)
                        _write_xlsx_table(wb, formats, name, source, header, per_sheet[name], used)
                except BaseException:
                    with contextlib.suppress(Exception):
                        wb.close()  # closes its row files; the half-written workbook is removed below
                    raise
                try:
                    wb.close()
                except FileCreateError as exc:  # XlsxWriter wraps the OSError of a failed write
                    cause = exc.args[0] if exc.args and isinstance(exc.args[0], OSError) else OSError(str(exc))
                    raise cause from exc
            _pin_zip_times(raw, tmp, fixed.timetuple()[:6])
        finally:
            raw.unlink(missing_ok=True)
    return target


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused for a block (reference counting still frees what it can)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class _XlsxFormats:
    """The cell formats of one workbook, made once each (XlsxWriter formats belong to their workbook)."""

    def __init__(self, wb: Any) -> None:
        self._wb = wb
        self._made: dict[tuple[bool, bool, str | None], Any] = {}

    def get(self, *, bold: bool = False, quote: bool = False, num: str | None = None) -> Any:
        key = (bold, quote, num)
        if key not in self._made:
            props: dict[str, Any] = {}
            if bold:
                props["bold"] = True
            if quote:
                props["quote_prefix"] = True
            if num:
                props["num_format"] = num
            self._made[key] = self._wb.add_format(props) if props else None
        return self._made[key]


class _FrameSource:
    """A whole table to write: its columns converted a batch of rows at a time (memory stays flat)."""

    def __init__(self, df: pd.DataFrame, number_formats: Mapping[str, str], formats: _XlsxFormats) -> None:
        self.df, self._formats = df, formats
        self.columns = [df.iloc[:, i] for i in range(df.shape[1])]
        self.col_formats = _column_formats(df, self.columns, number_formats)

    def __len__(self) -> int:
        return len(self.df)

    def widths(self, header: list[list[str]]) -> list[float]:
        return [
            _column_width([h[i] for h in header], col, fmt)
            for i, (col, fmt) in enumerate(zip(self.columns, self.col_formats, strict=True))
        ]

    def cells(self, lo: int, hi: int) -> Iterator[tuple[_CellWrite, ...]]:
        for start in range(lo, hi, _XLSX_BATCH):  # a batch of rows at a time: memory stays flat
            stop = min(start + _XLSX_BATCH, hi)
            whole = start == 0 and stop == len(self.df)  # the whole column (most tables): no slice to make
            yield from zip(
                *(
                    _column_writes(self._formats, col if whole else col.iloc[start:stop], fmt)
                    for col, fmt in zip(self.columns, self.col_formats, strict=True)
                ),
                strict=True,
            )


class _SharedColumns:
    """The columns of a table that :class:`SheetRows` cut sheets from: converted and measured once for all."""

    def __init__(self, df: pd.DataFrame, number_formats: Mapping[str, str], formats: _XlsxFormats) -> None:
        columns = [df.iloc[:, i] for i in range(df.shape[1])]
        self.col_formats = _column_formats(df, columns, number_formats)
        cells = [_column_writes(formats, col, fmt) for col, fmt in zip(columns, self.col_formats, strict=True)]
        self.rows: list[tuple[_CellWrite, ...]] = list(zip(*cells, strict=True)) if cells else [()] * len(df)
        self.measures = [_ValueWidths(col, fmt) for col, fmt in zip(columns, self.col_formats, strict=True)]


class _RowsSource:
    """Some rows of a table (:class:`SheetRows`) to write, from the table's shared conversion."""

    def __init__(self, shared: _SharedColumns, rows: np.ndarray) -> None:
        self._shared, self._rows = shared, rows

    def __len__(self) -> int:
        return len(self._rows)

    def widths(self, header: list[list[str]]) -> list[float]:
        return [
            _fit_width(max(max((text_width(h[i]) for h in header), default=0), m.width(self._rows)))
            for i, m in enumerate(self._shared.measures)
        ]

    def cells(self, lo: int, hi: int) -> Iterator[tuple[_CellWrite, ...]]:
        rows = self._shared.rows
        return (rows[i] for i in self._rows[lo:hi].tolist())


_SheetSource: TypeAlias = _FrameSource | _RowsSource


def _sheet_source(
    table: XlsxTable,
    number_formats: Mapping[str, str],
    formats: _XlsxFormats,
    shared: dict[tuple[int, tuple[tuple[str, str], ...]], _SharedColumns],
) -> _SheetSource:
    """How to write ``table``: whole, or as rows of a table converted once for all its sheets (``shared``).

    A table too long to convert whole (over :data:`_XLSX_BATCH` rows) has its sheets' rows taken
    out one sheet at a time, so memory stays flat however the rows are cut."""
    if not isinstance(table, SheetRows):
        return _FrameSource(table, number_formats, formats)
    if len(table.frame) > _XLSX_BATCH:
        return _FrameSource(table.to_frame(), number_formats, formats)
    key = (id(table.frame), tuple(sorted(number_formats.items())))  # the frames live as long as ``tables``
    if key not in shared:
        shared[key] = _SharedColumns(table.frame, number_formats, formats)
    return _RowsSource(shared[key], table.rows)


def _column_formats(df: pd.DataFrame, columns: Sequence[pd.Series], number_formats: Mapping[str, str]) -> list[Any]:
    """The number format of each column: its ``number_formats`` entry when the column is numeric."""
    return [
        number_formats.get(str(c)) if _is_number_column(col) else None
        for col, c in zip(columns, df.columns, strict=True)
    ]


def _write_xlsx_table(
    wb: Any,
    formats: _XlsxFormats,
    name: str,
    source: _SheetSource,
    header: list[list[str]],
    size: int,
    used: set[str],
) -> None:
    """Write one table as one sheet, or as numbered sheets of ``size`` data rows each."""
    n_cols = len(header[0])
    widths = source.widths(header)
    n = len(source)
    parts = max(1, -(-n // size))
    for part in range(parts):
        title = name if parts == 1 else _numbered(name, part + 1)
        sheet = _sheet_name(title, used)
        ws = wb.add_worksheet(sheet)
        lo, hi = part * size, min((part + 1) * size, n)
        for i, w in enumerate(widths):
            ws.set_column(i, i, w)
        ws.freeze_panes(len(header), 0)
        if n_cols:
            ws.autofilter(len(header) - 1, 0, len(header) + hi - lo - 1, n_cols - 1)
        for r, values in enumerate(header):
            for c, text in enumerate(values):
                ws.write_string(r, c, text, formats.get(bold=True, quote=text.startswith(FORMULA_START)))
        cut: set[int] = set()
        for r, cells in enumerate(source.cells(lo, hi), start=len(header)):
            for c, cell in enumerate(cells):
                if cell is not None:
                    write, value, fmt = cell
                    if write(ws, r, c, value, fmt) == -2:  # -2: text over 32,767 characters
                        cut.add(c)
        if cut:
            log.warning(
                "%s: texts over Excel's 32,767 characters a cell cut in columns %s",
                sheet,
                sorted(header[0][c] for c in cut),
            )


def _column_writes(formats: _XlsxFormats, s: pd.Series, number_format: str | None) -> list[_CellWrite]:
    """The cell writes of one column of a batch: whole numeric, boolean and date columns at once.

    ``number_format`` formats the numbers of a numeric column. Each write is an XlsxWriter
    ``Worksheet`` method (called with the sheet), its value and its format.
    """
    from xlsxwriter.worksheet import Worksheet as W

    dtype = s.dtype
    kind = dtype.kind if isinstance(dtype, np.dtype) else ""
    if kind in ("i", "u"):
        fmt = formats.get(num=number_format)
        return [(W.write_number, v, fmt) for v in s.tolist()]
    if kind == "b":
        return [(W.write_boolean, v, None) for v in s.tolist()]
    if kind == "f":
        a = s.to_numpy()
        fmt = formats.get(num=number_format)
        out: list[_CellWrite] = [(W.write_number, v, fmt) for v in a.tolist()]
        for i in np.flatnonzero(~np.isfinite(a)).tolist():
            out[i] = None if np.isnan(a[i]) else (W.write_string, "inf" if a[i] > 0 else "-inf", None)
        return out  # XLSX has no infinity; the text keeps the meaning
    if kind == "M" or isinstance(dtype, pd.DatetimeTZDtype):
        fmt = formats.get(num=_XLSX_DATE_FORMATS["datetime"])
        stamps = s.dt.floor("us").tolist()  # Excel's times go to the millisecond; Python's to the microsecond
        return [None if v is pd.NaT else (W.write_datetime, v.to_pydatetime(), fmt) for v in stamps]
    if kind == "m":
        fmt = formats.get(num=_XLSX_DATE_FORMATS["timedelta"])
        return [None if v is pd.NaT else (W.write_datetime, v.to_pytimedelta(), fmt) for v in s.tolist()]
    # text and anything else, value by value: text as text, a missing value empty, the rest as _cell_write says
    quote, fmt = formats.get(quote=True), formats.get(num=number_format)
    objects = s.to_numpy(dtype=object)
    missing = pd.isna(objects).tolist()
    # a string column's values are the texts to_numpy gave (Arrow converted once, not twice); others as tolist
    values = objects.tolist() if isinstance(s.dtype, pd.StringDtype) else s.tolist()
    texts = [v for v, gone in zip(values, missing, strict=True) if not gone and type(v) is str]
    clean = _texts_clean(texts)  # most columns: no text that _xlsx_text would change, checked once
    write_string, write_number = W.write_string, W.write_number
    if len(texts) + sum(missing) == len(values):  # only text (and missing values): one comprehension
        if not clean:
            values = [_xlsx_text(v) if type(v) is str else v for v in values]
        return [
            None if gone else (write_string, v, quote if v.startswith(FORMULA_START) else None)
            for v, gone in zip(values, missing, strict=True)
        ]
    writes: list[_CellWrite] = []
    for v, gone in zip(values, missing, strict=True):
        of = type(v)
        if gone:
            writes.append(None)
        elif of is str:  # what _cell_write does with a text, without its type checks
            t = v if clean else _xlsx_text(v)
            writes.append((write_string, t, quote if t.startswith(FORMULA_START) else None))
        elif of is int or (of is float and math.isfinite(v)):  # a plain Python number, as _cell_write has it
            writes.append((write_number, v, fmt))
        else:
            writes.append(_cell_write(formats, v, fmt))
    return writes


def _texts_clean(texts: list[str]) -> bool:
    """Whether :func:`_xlsx_text` leaves every one of ``texts`` as it is (no carriage return, no character XML
    forbids): one search over the texts joined by line feeds (a character :func:`_xlsx_text` keeps)."""
    joined = "\n".join(texts)
    return "\r" not in joined and _XML_FORBIDDEN.search(joined) is None


def _cell_write(formats: _XlsxFormats, value: Any, number_fmt: Any) -> _CellWrite:
    """The write of one cell of a mixed column: text as text, numbers as numbers, dates as dates."""
    import datetime as dt

    from xlsxwriter.worksheet import Worksheet as W

    if isinstance(value, dt.timedelta) and not isinstance(value, pd.Timedelta):
        return (W.write_datetime, value, formats.get(num=_XLSX_DATE_FORMATS["timedelta"]))
    v = _cell(value)
    if v is None:
        return None
    if isinstance(v, str):
        return (W.write_string, v, formats.get(quote=True) if v.startswith(FORMULA_START) else None)
    if isinstance(v, bool):
        return (W.write_boolean, v, None)
    if isinstance(v, (int, float)):
        return (W.write_number, v, number_fmt)
    if isinstance(v, pd.Timedelta):
        return (W.write_datetime, v.to_pytimedelta(), formats.get(num=_XLSX_DATE_FORMATS["timedelta"]))
    if isinstance(v, dt.datetime):
        when = v.floor("us").to_pydatetime() if isinstance(v, pd.Timestamp) else v
        return (W.write_datetime, when, formats.get(num=_XLSX_DATE_FORMATS["datetime"]))
    if isinstance(v, dt.date):
        return (W.write_datetime, v, formats.get(num=_XLSX_DATE_FORMATS["date"]))
    if isinstance(v, dt.time):
        return (W.write_datetime, v, formats.get(num=_XLSX_DATE_FORMATS["time"]))
    t = _xlsx_text(str(v))
    return (W.write_string, t, formats.get(quote=True) if t.startswith(FORMULA_START) else None)


def _numbered(name: str, n: int) -> str:
    """``name~n``, ``name`` cut so that the number survives Excel's 31-character sheet names."""
    suffix = f"~{n}"
    return str(name)[: 31 - len(suffix)] + suffix


def _is_number_column(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype)


def text_width(text: str) -> int:
    """Display width of ``text`` in character cells: East Asian wide and full-width characters count 2."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def text_widths(texts: Sequence[str]) -> np.ndarray:
    """:func:`text_width` of every text, for a whole column at once (no Python code per text).

    The wide characters are picked once from the distinct characters of the column (a few hundred
    for Chinese names); every text is then measured by C-level ``str.translate`` (a wide character
    counts as two) and ``len``.
    """
    import itertools
    import unicodedata

    texts = list(texts)
    chars = set("".join(texts))
    for ch in chars.difference(_WIDE):
        _WIDE[ch] = unicodedata.east_asian_width(ch) in "WF"
    wide = {ord(ch): "ww" for ch in chars if _WIDE[ch]}
    measured = map(str.translate, texts, itertools.repeat(wide)) if wide else texts
    return np.fromiter(map(len, measured), dtype=np.int64, count=len(texts))


#: Whether a character is East Asian wide or full-width, for the characters :func:`text_widths` has met.
_WIDE: dict[str, bool] = {}


def number_text_width(a: np.ndarray, number_format: str | None) -> int:
    """Characters of the widest of finite numbers ``a`` as the workbook shows them (its largest or smallest)."""
    if not len(a):
        return 0
    decimals = number_format.split(".")[1].count("0") if number_format and "." in number_format else None
    widest = 0
    for v in (float(a.max()), float(a.min())):
        if decimals is not None:
            text = f"{v:,.{decimals}f}"
        elif number_format:
            text = f"{v:,.0f}"
        else:
            text = repr(round(v, 10)) if not float(v).is_integer() else str(int(v))
        widest = max(widest, len(text))
    return widest


def _fit_width(widest: int) -> float:
    """A column's width for its widest text (header or value): two characters more, at least 6, at most the cap."""
    return float(min(XLSX_MAX_WIDTH, max(6, widest + 2)))


def _numbers_width(a: np.ndarray, number_format: str | None) -> int:
    """Characters of the widest of numbers ``a`` as the workbook shows them (infinities as ``inf``, ``-inf``)."""
    widest = 0
    finite = np.isfinite(a)
    if not finite.all():
        if np.isinf(a).any():  # written as the texts inf and -inf
            widest = len("-inf") if np.isneginf(a).any() else len("inf")
        a = a[finite]
    return max(widest, number_text_width(a, number_format))


def _number_values(s: pd.Series) -> np.ndarray:
    """A numeric column as floats (missing values of nullable columns as NaN)."""
    dtype = s.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in ("i", "u", "f"):
        return s.to_numpy(dtype=float)
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)  # nullable Int64/Float64


def _bool_width(values: np.ndarray) -> int:
    """Characters of the widest of booleans ``values`` (missing ones left out) as the workbook shows them."""
    return 0 if not len(values) else len("FALSE") if not values.all() else len("TRUE")


def _texts_of(values: np.ndarray) -> list[str]:
    return [v if isinstance(v, str) else str(v) for v in values]


def _column_width(headers: Sequence[str], s: pd.Series, number_format: str | None) -> float:
    """Width of a column fitted to its headers and every value (numbers as formatted), vectorised per column."""
    widest = max((text_width(h) for h in headers), default=0)
    dtype = s.dtype
    kind = dtype.kind if isinstance(dtype, np.dtype) else ""
    if _is_number_column(s):
        widest = max(widest, _numbers_width(_number_values(s), number_format))
    elif pd.api.types.is_bool_dtype(dtype):
        widest = max(widest, _bool_width(s.dropna().astype(bool).to_numpy()))
    elif kind == "M" or isinstance(dtype, pd.DatetimeTZDtype):
        widest = max(widest, len("2016-01-01 00:00:00") if s.notna().any() else 0)
    else:
        values = s.to_numpy(dtype=object)
        values = values[~pd.isna(values)]
        if len(values):
            try:
                distinct = pd.unique(values)
            except TypeError:  # unhashable values (lists, dicts): measure them all
                distinct = values
            widest = max(widest, int(text_widths(_texts_of(distinct)).max()))
    return _fit_width(widest)


class _ValueWidths:
    """The widths of one column's values, measured once, for any subset of its rows (:class:`SheetRows`).

    ``width(rows)`` is what :func:`_column_width` finds for the values of those rows: numbers by
    their largest and smallest as formatted, booleans by ``TRUE``/``FALSE``, dates as long as a time
    stamp, every other value by the display width of its text (each row's own text).
    """

    def __init__(self, s: pd.Series, number_format: str | None) -> None:
        dtype = s.dtype
        kind = dtype.kind if isinstance(dtype, np.dtype) else ""
        self._format = number_format
        if _is_number_column(s):
            self._kind, self._values = "number", _number_values(s)
        elif pd.api.types.is_bool_dtype(dtype):
            self._kind, self._present = "bool", s.notna().to_numpy()
            self._values = s.fillna(False).astype(bool).to_numpy()
        elif kind == "M" or isinstance(dtype, pd.DatetimeTZDtype):
            self._kind, self._present = "date", s.notna().to_numpy()
        else:
            values = s.to_numpy(dtype=object)
            self._kind, self._present = "text", ~pd.isna(values)
            self._values = np.zeros(len(values), dtype=np.int64)
            self._values[self._present] = text_widths(_texts_of(values[self._present]))

    def width(self, rows: np.ndarray) -> int:
        if self._kind == "number":
            return _numbers_width(self._values[rows], self._format)
        present = self._present[rows]
        if self._kind == "bool":
            return _bool_width(self._values[rows][present])
        if self._kind == "date":
            return len("2016-01-01 00:00:00") if present.any() else 0
        widths = self._values[rows]
        return int(widths.max()) if len(widths) else 0


def _pin_zip_times(src: Path, path: Path, when: tuple[int, ...]) -> None:
    """Copy a zip archive (an XLSX) with every timestamp pinned to ``when``: equal content, equal bytes.

    A small archive (up to :data:`_ZIP_PATCH_MAX_BYTES`: a workbook built in memory) has the time
    stamps of its headers rewritten in place, its members' compressed bytes copied as they are (the
    same bytes a copy gives: the same data deflated at the same level); a larger one, or one with
    ZIP64 records or extra fields, is copied member by member, streamed (a sheet is never held in
    memory whole).
    """
    if src.stat().st_size <= _ZIP_PATCH_MAX_BYTES:
        data = bytearray(src.read_bytes())
        if _patch_zip_times(data, when):
            path.write_bytes(data)
            return
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=when)  # type: ignore[arg-type]
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = item.external_attr
            with zin.open(item) as fin, zout.open(info, "w", force_zip64=item.file_size > 2**31) as fout:
                shutil.copyfileobj(fin, fout, 1 << 20)


#: Largest archive :func:`_pin_zip_times` rewrites in memory (larger ones are copied member by member).
_ZIP_PATCH_MAX_BYTES = 64 * 1024 * 1024


def _patch_zip_times(data: bytearray, when: tuple[int, ...]) -> bool:
    """Set the modification time of every member of the zip archive ``data`` to ``when``, in place.

    The time and date fields (MS-DOS format) of each central directory record and of the local
    header it points to are overwritten; nothing else changes. Returns False, ``data`` to be thrown
    away, when the archive is not one this handles: ZIP64 records, extra fields (which may hold
    other time stamps), or records that are not where the directory says.
    """
    year, month, day, hour, minute, second = when
    stamp = ((hour << 11) | (minute << 5) | (second // 2)).to_bytes(2, "little") + (
        ((year - 1980) << 9) | (month << 5) | day
    ).to_bytes(2, "little")
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 22 - 0xFFFF))
    if end < 0 or len(data) < end + 22:
        return False
    entries = int.from_bytes(data[end + 10 : end + 12], "little")
    pos = int.from_bytes(data[end + 16 : end + 20], "little")
    if entries == 0xFFFF or pos == 0xFFFFFFFF:  # ZIP64
        return False
    for _ in range(entries):
        if data[pos : pos + 4] != b"PK\x01\x02" or len(data) < pos + 46:
            return False
        name, extra, comment = (int.from_bytes(data[pos + k : pos + k + 2], "little") for k in (28, 30, 32))
        local = int.from_bytes(data[pos + 42 : pos + 46], "little")
        if extra or local == 0xFFFFFFFF or data[local : local + 4] != b"PK\x03\x04":
            return False
        if int.from_bytes(data[local + 28 : local + 30], "little"):  # extra fields in the local header
            return False
        data[pos + 12 : pos + 16] = stamp
        data[local + 10 : local + 14] = stamp
        pos += 46 + name + extra + comment
    return True


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
    """Text an XLSX cell can hold: characters XML forbids become U+FFFD, a carriage return a line feed.

    XlsxWriter would write a carriage return as ``_x000D_``, which Excel reads back as one but
    openpyxl and pandas do not; as a line feed (Excel's own line break in a cell) every reader sees
    the same text. Nothing else changes.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _xml_safe(text)


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
        gdf = gdf.set_crs(layer_crs_of(crs, p))
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


def layer_crs_of(crs: Any, where: object) -> CRS:
    """The CRS a layer's ``crs:`` names; a :class:`DataError` naming ``where`` (file or source) and the fix."""
    try:
        return CRS.from_user_input(crs)
    except Exception as exc:  # pyproj's CRSError
        raise DataError(
            f"{where}: cannot read the CRS {crs!r} given for this layer ({exc}). Fix: give an EPSG code such as "
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
    out_crs = layer_crs_of(crs or "EPSG:4326", p)
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


#: The engine :func:`read_table` reads workbooks with (python-calamine: the Rust calamine reader, about 5x openpyxl).
XLSX_READ_ENGINE = "calamine"


def _read_sheet(p: Path, sheet: str | int, text: Mapping[str, Any], *, engine: str) -> pd.DataFrame:
    """One sheet of a workbook, opened once, every cell as text (see :func:`read_table`).

    ``engine`` is pandas' reader (``calamine``; ``openpyxl`` reads the same text, five times slower,
    but leaves the ``_xHHHH_`` escapes that Excel decodes as they are).
    """
    from python_calamine import CalamineError

    try:
        with pd.ExcelFile(p, engine=engine) as book:
            sheets = [str(s) for s in book.sheet_names]
            if (isinstance(sheet, str) and sheet not in sheets) or (
                isinstance(sheet, int) and not 0 <= sheet < len(sheets)
            ):
                raise DataError(
                    f"{p} has no sheet {sheet!r}; its sheets: {', '.join(sheets)}. "
                    "Fix: set 'sheet:' to one of their names (or numbers from 0 for the first)."
                )
            return pd.read_excel(book, sheet_name=sheet, **text)  # the open book: read once
    except (CalamineError, zipfile.BadZipFile) as exc:  # not a workbook, or a damaged one: read_table says so
        raise ValueError(f"not a workbook ({exc})") from exc


def read_table(
    path: str | os.PathLike[str],
    *,
    encoding: str | None = None,
    sheet: str | int = 0,
    header: bool = True,
    names: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Read a plain table (CSV or XLSX, e.g. a village registry) with every cell as text.

    Ids keep their leading zeros; callers type the numbers. A workbook is opened once and read
    with python-calamine (:data:`XLSX_READ_ENGINE`): the same text as openpyxl gives (numbers
    ``1`` for 1.0, dates ``2011-03-01 00:00:00``, empty cells missing), except that the
    ``_xHHHH_`` escapes of the format are decoded, as Excel shows them (``_x000D_`` is a carriage
    return; openpyxl left the escape as text). ``encoding`` applies to CSV
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
            df = _read_sheet(p, sheet, text, engine=XLSX_READ_ENGINE)
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
