"""Tiles of the demo county: the same county shifted, with its own ids and name (a demo region).

Tile ``(row, col)`` is every layer of a generated demo folder moved ``col`` county widths east
and ``row`` county heights south (the county boundary's extent, so neighbouring tiles nearly
touch), every id prefixed ``R{row}C{col}-`` and the county polygon renamed. The DEM is the same
grid with a shifted transform. Deterministic: the same base folder gives the same bytes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np

from ..vocabulary import LAYER_KINDS

log = logging.getLogger(__name__)

#: Bump when a tile's output changes, so that cached tiles are regenerated.
TILE_VERSION = 1
TILE_STAMP = "tile.json"

#: The id column of each layer kind (prefixed per tile, so ids are unique across a region).
ID_COLUMNS = {
    "villages": "village_id",
    "candidates": "site_id",
    "roads": "road_id",
    "facilities": "facility_id",
    "water": "water_id",
    "power": "power_id",
    "constraints": "constraint_id",
    "boundaries": "boundary_id",
}


def tile_code(row: int, col: int) -> str:
    """The id prefix of a tile: ``R0C1``."""
    return f"R{row}C{col}"


def tile_offset(boundaries: gpd.GeoDataFrame, row: int, col: int) -> tuple[float, float]:
    """``(dx, dy)`` in metres of tile ``(row, col)``: whole county extents east and south."""
    county = boundaries[boundaries["level"] == "county"] if "level" in boundaries else boundaries
    x0, y0, x1, y1 = (county if len(county) else boundaries).total_bounds
    return float(col * (x1 - x0)), float(-row * (y1 - y0))


def shift_layer(gdf: gpd.GeoDataFrame, kind: str, *, dx: float, dy: float, code: str) -> gpd.GeoDataFrame:
    """A copy of one layer moved by ``(dx, dy)`` with its id column prefixed ``{code}-``."""
    out = gdf.copy()
    out = out.set_geometry(out.geometry.translate(xoff=dx, yoff=dy))
    col = ID_COLUMNS.get(kind)
    if col is not None and col in out:
        out[col] = code + "-" + out[col].astype(str)
    return out


def shift_placement(placement: Any, code: str) -> Any:
    """A scenario's ``placement`` section for tile ``code``: the village ids it names prefixed ``{code}-``.

    The tile's villages carry prefixed ids (:func:`shift_layer`), so the collectives' transitional housing
    and the scattered households per village must name them the same way.
    """
    housing = tuple(
        dataclasses.replace(
            t, village_id=f"{code}-{t.village_id}", site_id=f"{code}-{t.site_id}" if t.site_id else t.site_id
        )
        for t in placement.transitional_housing
    )
    scattered = {f"{code}-{k}": n for k, n in placement.scattered_households.items()}
    return dataclasses.replace(placement, transitional_housing=housing, scattered_households=scattered)


def _stamp(base: Path, row: int, col: int, county_name: str) -> dict[str, object]:
    base_stamp = {}
    with contextlib.suppress(OSError, ValueError):
        base_stamp = json.loads((base / "demo.json").read_text(encoding="utf-8"))
    return {
        "generator": "geofupin.demo.tile",
        "tile_version": TILE_VERSION,
        "row": row,
        "col": col,
        "county_name": county_name,
        "base": base_stamp,
    }


def ensure_tile(base: Path, out_dir: Path, *, row: int, col: int, county_name: str) -> dict[str, Path]:
    """The files of tile ``(row, col)`` of the demo folder ``base`` in ``out_dir``, written when missing or stale.

    ``base`` must hold a generated demo county (:func:`geofupin.demo.ensure`). Returns the path
    per layer kind and ``"dem"``, like :func:`geofupin.demo.output_paths`.
    """
    import rasterio
    from affine import Affine

    from .. import io
    from . import DEM_FILE, _check_folder, output_paths

    base, out = Path(base), Path(out_dir)
    # the files a tile has: each layer the base folder has, and the DEM (not the base's household roster,
    # which the tiles' scenarios read from the base folder itself)
    kinds = [k for k in LAYER_KINDS if (base / f"{k}.gpkg").exists()]
    paths = {k: p for k, p in output_paths(out).items() if k in kinds or k == "dem"}
    stamp = _stamp(base, row, col, county_name)
    try:
        current = json.loads((out / TILE_STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        current = None
    if current == stamp and all(p.exists() for p in paths.values()):
        return paths
    _check_folder(out)  # never write over someone else's files
    code = tile_code(row, col)
    boundaries = io.read_vector(base / "boundaries.gpkg")
    dx, dy = tile_offset(boundaries, row, col)
    log.info("demo tile %s: shifting %s by (%.0f, %.0f) m into %s", code, base, dx, dy, out)
    for kind in kinds:
        gdf = shift_layer(io.read_vector(base / f"{kind}.gpkg"), kind, dx=dx, dy=dy, code=code)
        if kind == "boundaries" and "level" in gdf:
            county = gdf["level"] == "county"
            gdf.loc[county, "name"] = county_name
            if "name_en" in gdf:
                gdf.loc[county, "name_en"] = f"Demo county tile {code} (synthetic)"
        io.write_vector(gdf, paths[kind], layer=kind)
    with rasterio.open(base / DEM_FILE) as src:
        dem = src.read(1)
        transform = Affine.translation(dx, dy) * src.transform
        crs, nodata = src.crs, src.nodata
    io.write_raster(np.asarray(dem), paths["dem"], transform=transform, crs=crs, nodata=nodata)
    io.write_json(out / TILE_STAMP, stamp)
    io.write_marker(out, [*(p.name for p in paths.values()), TILE_STAMP], kind="demo-layers")
    return paths
