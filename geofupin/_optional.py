"""Optional dependencies: heavy packages only some users need, installed as extras.

Each is imported where it is used, through :func:`require`, so the base install imports and
runs without them and a user who needs one is told which extra to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Literal

from .errors import MissingDependencyError

OptionalModule = Literal["pyarrow", "matplotlib", "osmium", "distributed", "sqlalchemy", "psycopg", "geoalchemy2"]

#: module -> (extra, what needs it in Chinese, in English)
EXTRAS: dict[str, tuple[str, str, str]] = {
    "pyarrow": ("parquet", "读写 GeoParquet 图层", "GeoParquet layers"),
    "matplotlib": ("static", "生成可打印的静态地图(PNG/PDF)", "printable static maps (PNG/PDF)"),
    "osmium": ("osm", "导入 OpenStreetMap 数据(.osm.pbf)", "OpenStreetMap import (.osm.pbf)"),
    "distributed": (
        "region",
        "在 dask 集群上运行区域(多县)情景",
        "region runs on a dask cluster (--workers, --scheduler)",
    ),
    "sqlalchemy": ("postgis", "读写 PostGIS 数据库(postgresql://...)", "PostGIS layers and outputs (postgresql://...)"),
    "psycopg": ("postgis", "读写 PostGIS 数据库(postgresql://...)", "PostGIS layers and outputs (postgresql://...)"),
    "geoalchemy2": (
        "postgis",
        "读写 PostGIS 数据库(postgresql://...)",
        "PostGIS layers and outputs (postgresql://...)",
    ),
}


def missing_message(module: OptionalModule) -> str:
    """The user-facing text naming the extra that provides ``module`` (Chinese first)."""
    extra, zh, en = EXTRAS[module]
    return (
        f"{zh}需要可选依赖 {module},当前未安装。请安装:pip install 'geofupin[{extra}]'(全部可选功能:geofupin[all])。"
        f" {en} need the optional dependency {module}: install geofupin[{extra}] (pip install 'geofupin[{extra}]')."
    )


def require(module: OptionalModule) -> ModuleType:
    """Import an optional dependency or raise :class:`~geofupin.errors.MissingDependencyError` naming its extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(missing_message(module), module=module, extra=EXTRAS[module][0]) from exc


def available(module: OptionalModule) -> bool:
    """Whether an optional dependency can be imported."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True
