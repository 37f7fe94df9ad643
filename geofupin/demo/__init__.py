"""The deterministic DEMO COUNTY: SYNTHETIC geography carrying the seed's REAL relocation figures.

Everything here is generated from one integer seed (``numpy.random.Generator(PCG64(seed))``):
the same seed gives identical GeoDataFrames and identical DEM bytes. The geography is
invented: a county of about 2,950 km2 of loess-plateau terrain (ridges, dendritic gullies,
flat valley floors, about 1,000-1,780 m) centred where the seed's real county lies (Ansai, Shaanxi,
about 109.3E 36.9N), in CGCS2000 / 3-degree Gauss-Kruger CM 108E (EPSG:4545), on a 30 m DEM.

What is REAL (from the seed document, report 4, 扶贫移民搬迁 2011-2015):

- the nine townships and their names (王家湾乡, 镰刀湾乡, 化子坪镇, 招安镇, 沿河湾镇,
  西河口管委会, 高桥乡, 砖窑湾镇 and the county seat 真武洞镇);
- the 34 relocating villages and their village groups (村民小组) by name;
- relocating households and persons per township, which the demo's villages add up to
  exactly (1,526 households, 6,886 persons in all).

The report's summary says 61 village groups, but its per-township lists name only 59
(3 + 7 + 8 + 24 + 10 + 3 + 2 + 1 + 1); the demo has the 59 named groups and invents none.
Each relocating group is its own row of the villages layer (``name`` = village,
``group`` = group); households per group are a seeded split of the township's total.

Everything else (positions, terrain, rivers, roads, power, facilities, the other ~190
villages and their counts, constraints and candidate sites) is synthetic. Relocating groups
are placed where they would be in reality: high, steep and far from the main roads, many
next to landslide hazard points, some reached only by earth tracks or footpaths and a few
with no road at all. Among the 21 candidate sites three are meant to FAIL screening: one on
basic farmland, one on a steep slope next to a landslide point, one too small (0.3 ha, room
for fewer than 50 persons at 80 m2 each).

Examples
--------
>>> from geofupin import demo
>>> county = demo.build()  # doctest: +SKIP
>>> county.layers["villages"].groupby("township")["relocate_persons"].sum()["招安镇"]  # doctest: +SKIP
1997
>>> paths = demo.generate(Path("layers/demo"))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from ..errors import OutputExistsError, UnsafeOutputError
from ..vocabulary import LAYER_KINDS
from ._build import AREA_KM2, CRS_EPSG, DEFAULT_SEED, NODATA, SOURCE, DemoCounty, build_county
from ._seed import NAMED_GROUPS, RELOCATING, SUMMARY_GROUPS, TOTAL_HOUSEHOLDS, TOTAL_PERSONS, TOWNSHIP_TARGETS
from ._tile import ensure_tile, shift_placement, tile_code

log = logging.getLogger(__name__)

__all__ = [
    "CRS_EPSG",
    "DEFAULT_SEED",
    "DEM_FILE",
    "GENERATOR_VERSION",
    "HOUSEHOLDS_FILE",
    "HOUSEHOLDS_SHEET",
    "NAMED_GROUPS",
    "NODATA",
    "RELOCATING",
    "SOURCE",
    "STAMP_FILE",
    "SUMMARY_GROUPS",
    "TOTAL_HOUSEHOLDS",
    "TOTAL_PERSONS",
    "TOWNSHIP_TARGETS",
    "DemoCounty",
    "build",
    "ensure",
    "ensure_tile",
    "generate",
    "output_paths",
    "shift_placement",
    "tile_code",
]

DEM_FILE = "dem.tif"
#: The household roster of the relocating groups (key ``households`` of :func:`output_paths`).
HOUSEHOLDS_FILE = "households.xlsx"
#: Its sheet.
HOUSEHOLDS_SHEET = "名册"
#: Written beside the layers: the seed and generator version they came from (``ensure`` checks it).
STAMP_FILE = "demo.json"
#: Bump whenever the generator's output changes, so that cached layers are regenerated.
GENERATOR_VERSION = 3


def build(*, seed: int = DEFAULT_SEED, area_km2: float = AREA_KM2) -> DemoCounty:
    """Build the demo county in memory (pure: touches no file).

    Parameters
    ----------
    seed
        Seed of the ``PCG64`` generator; the same seed gives identical layers and DEM.
    area_km2
        County area. Only for quick experiments: the default (2,950 km2, about Ansai's) is
        the demo; a much smaller county may not have room for every relocating group.

    Returns
    -------
    DemoCounty
        Layers (one GeoDataFrame per kind with the canonical columns), the DEM array, its
        transform and nodata, all in EPSG:4545.
    """
    t0 = time.perf_counter()
    county = build_county(int(seed), float(area_km2))
    log.info("built the demo county (seed %d) in %.1f s", seed, time.perf_counter() - t0)
    return county


def output_paths(out_dir: Path) -> dict[str, Path]:
    """The files :func:`generate` writes: ``{kind}.gpkg`` per layer kind, ``dem.tif`` (key ``dem``) and
    the household roster ``households.xlsx`` (key ``households``)."""
    out = Path(out_dir)
    paths = {kind: out / f"{kind}.gpkg" for kind in LAYER_KINDS}
    paths["dem"] = out / DEM_FILE
    paths["households"] = out / HOUSEHOLDS_FILE
    return paths


def _stamp(seed: int) -> dict[str, object]:
    return {"generator": "geofupin.demo", "generator_version": GENERATOR_VERSION, "seed": int(seed), "source": SOURCE}


def _write(county: DemoCounty, paths: dict[str, Path], which: list[str]) -> None:
    from .. import io

    for kind in which:
        if kind == "dem":
            io.write_raster(county.dem, paths[kind], transform=county.transform, crs=county.crs, nodata=county.nodata)
        elif kind == "households":
            if county.households is None:  # pragma: no cover - build_county always makes it
                continue
            io.write_xlsx({HOUSEHOLDS_SHEET: county.households}, paths[kind])
        else:
            io.write_vector(county.layers[kind], paths[kind], layer=kind)
        log.info("wrote %s", paths[kind])


def _stamp_matches(out_dir: Path, seed: int) -> bool:
    import json

    p = Path(out_dir) / STAMP_FILE
    try:
        return bool(json.loads(p.read_text(encoding="utf-8")) == _stamp(seed))
    except (OSError, ValueError):
        return False


def _is_demo_folder(out_dir: Path) -> bool:
    """True when geofupin wrote ``out_dir``: its marker file, or (folders from older versions) its ``demo.json``."""
    import json

    from .. import io

    if io.read_marker(out_dir) is not None:
        return True
    try:
        stamp = json.loads((Path(out_dir) / STAMP_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(stamp, dict) and stamp.get("generator") == "geofupin.demo"


def _check_folder(out_dir: Path) -> None:
    """Refuse to write the demo's files into a folder that holds someone else's files.

    The demo writes its files into ``out_dir`` and removes nothing; it may do so only in a new
    or empty folder, or in one geofupin wrote (marker file, or the ``demo.json`` of an older
    version), so that a user's ``villages.gpkg`` is never overwritten.
    """
    from .. import io

    out = Path(out_dir)
    io.require_writable_parent(out)
    if os.path.lexists(out) and not out.is_dir():
        raise UnsafeOutputError(f"demo: {out} is a file, not a folder. Fix: choose another --out folder.")
    if out.is_dir() and any(out.iterdir()) and not _is_demo_folder(out):
        raise UnsafeOutputError(
            f"拒绝 refused: demo folder {out} was not written by geofupin (no marker {io.MARKER_FILE}, "
            f"no {STAMP_FILE}); the demo would overwrite files in it. "
            "Fix: choose another --out, or delete it yourself; "
            "if it holds your own layers and a scenario's 'demo:' section names it (that section makes geofupin "
            "generate the demo county there), delete the 'demo:' section to run on your layers."
        )


def _mark(out_dir: Path, paths: dict[str, Path]) -> None:
    from .. import io

    io.write_marker(out_dir, [*(p.name for p in paths.values()), STAMP_FILE], kind="demo-layers")


def generate(out_dir: Path, *, seed: int = DEFAULT_SEED, overwrite: bool = False) -> dict[str, Path]:
    """Build the demo county and write it: one GeoPackage per layer kind and ``dem.tif``.

    Parameters
    ----------
    out_dir
        Folder to write into (created when missing).
    seed
        Generator seed (see :func:`build`).
    overwrite
        Replace existing files; otherwise an existing file raises :class:`OutputExistsError`.

    Returns
    -------
    dict
        Path per layer kind, plus ``"dem"``. ``demo.json`` beside them records the seed and
        :data:`GENERATOR_VERSION` (see :func:`ensure`); geofupin's marker file lists the files.

    Raises
    ------
    UnsafeOutputError
        When ``out_dir`` holds files and geofupin did not write it (whatever ``overwrite`` says).
    OutputExistsError
        When the demo's files exist and ``overwrite`` is false.
    OutputError
        When ``out_dir`` cannot be written.
    """
    _check_folder(Path(out_dir))
    paths = output_paths(Path(out_dir))
    existing = [p for p in [*paths.values(), Path(out_dir) / STAMP_FILE] if p.exists()]
    if existing and not overwrite:
        raise OutputExistsError(
            f"demo: {len(existing)} output file(s) already exist in {Path(out_dir)} (e.g. {existing[0].name}). "
            "Fix: pass overwrite=True (CLI: --overwrite) or choose another --out folder."
        )
    from .. import io

    county = build(seed=seed)
    _write(county, paths, list(paths))
    io.write_json(Path(out_dir) / STAMP_FILE, _stamp(seed))
    _mark(Path(out_dir), paths)
    return paths


def ensure(out_dir: Path, *, seed: int = DEFAULT_SEED) -> dict[str, Path]:
    """Return the demo files in ``out_dir``, generating only what is missing or stale.

    A cache for ``geofupin run``: when ``demo.json`` in ``out_dir`` records this ``seed`` and
    :data:`GENERATOR_VERSION`, the files present (e.g. the committed vector layers) are kept and
    only missing ones (e.g. the DEM, not committed) are written; otherwise everything is
    regenerated.
    """
    from .. import io

    out = Path(out_dir)
    paths = output_paths(out)
    if not _stamp_matches(out, seed):
        _check_folder(out)  # never regenerate over a folder of someone else's files
        log.info("demo: (re)generating every layer in %s (seed %d, generator v%d)", out, seed, GENERATOR_VERSION)
        _write(build(seed=seed), paths, list(paths))
        io.write_json(out / STAMP_FILE, _stamp(seed))
        _mark(out, paths)
        return paths
    missing = [k for k, p in paths.items() if not p.exists()]
    if missing:
        log.info("demo: generating %s in %s", ", ".join(missing), out)
        _write(build(seed=seed), paths, missing)
        _mark(out, paths)
    return paths
