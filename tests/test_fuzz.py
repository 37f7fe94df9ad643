"""Property-based fuzzing of layer loading, validation, siting and allocation (issue 10).

Hostile layers (NaN/inf/huge/swapped coordinates, degenerate and mixed geometry, counts that are
text, negative, fractional, infinite or astronomically large, broken ids, wrong or missing CRS)
are written to GeoPackages and CSVs in temporary folders and read back through the same path a
run takes (``geofupin.io`` readers, ``pipeline.load_inputs``), then sited and allocated through the
Python API. The property: geofupin either works or raises a :class:`~geofupin.errors.GeofupinError`;
any other exception (a traceback) fails the test.

Bounded for CI: a fixed number of examples per test, derandomized (the same examples every run,
no example database), no deadline.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, MultiPoint, Point, Polygon, box

from geofupin import io as gio
from geofupin import pipeline
from geofupin import scenario as scenario_mod
from geofupin.errors import GeofupinError, Problems
from geofupin.layers import MAX_COUNTS, SCHEMAS, prepare_layers, validate_layer

LON, LAT = 109.32, 36.86

_BASE = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def fuzz(examples: int) -> settings:
    """Bounded, reproducible settings: ``examples`` derandomized examples, no deadline, no database."""
    return settings(_BASE, max_examples=examples)


# --------------------------------------------------------------------------- strategies
_GRID_X = [LON + 0.004 * k for k in range(-3, 4)]  # few values: duplicate and collinear vertices are common
_GRID_Y = [LAT + 0.004 * k for k in range(-3, 4)]
_HOSTILE = [np.nan, np.inf, -np.inf, 0.0, 1e300, -1e300, 181.0, -95.0, 617_000.0, 4_080_000.0]

xs = st.one_of(st.sampled_from(_GRID_X), st.floats(LON - 0.05, LON + 0.05), st.sampled_from([*_HOSTILE, LAT]))
ys = st.one_of(st.sampled_from(_GRID_Y), st.floats(LAT - 0.05, LAT + 0.05), st.sampled_from([*_HOSTILE, LON]))
coords = st.tuples(xs, ys)
good_coords = st.tuples(st.sampled_from(_GRID_X), st.sampled_from(_GRID_Y))


def _quiet(make: Callable[..., Any]) -> Callable[..., Any]:
    """shapely warns (numpy 'invalid value') when it builds a geometry with a NaN vertex."""

    def build(*args: Any) -> Any:
        with np.errstate(invalid="ignore", over="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return make(*args)

    return build


points = st.builds(_quiet(lambda c: Point(*c)), coords)
lines = st.builds(_quiet(LineString), st.lists(coords, min_size=2, max_size=4))
# the first vertex is a number: shapely cannot close a ring that starts at NaN (NaN != NaN)
polygons = st.builds(_quiet(lambda a, rest: Polygon([a, *rest])), good_coords, st.lists(coords, min_size=2, max_size=4))
multipoints = st.builds(_quiet(MultiPoint), st.lists(coords, min_size=1, max_size=3))
nothing = st.sampled_from([None, Point(), LineString(), Polygon()])

GEOMETRY: dict[str, st.SearchStrategy[Any]] = {
    "point": st.one_of(points, points, multipoints, nothing, lines),
    "line": st.one_of(lines, lines, nothing, points),
    "polygon": st.one_of(polygons, polygons, nothing, lines),
}

counts = st.one_of(
    st.integers(0, 500),
    st.integers(-5, 10**16),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "abc", "12", " 7 ", "1e3", "inf", "NaN", "-1", "３", "1,000"]),
    st.none(),
)
numbers = st.one_of(st.floats(0, 200), st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(["x", "", "-3"]))
texts = st.one_of(st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=8), st.none())
ids = st.one_of(st.sampled_from(["a", "b", "001", "1", "1.0", " a "]), st.integers(-3, 3), st.none(), texts)
crss = st.sampled_from([4490, 4490, 4326, 4545, None])


def _choices(kind: str, column: str) -> st.SearchStrategy[Any]:
    col = SCHEMAS[kind].column(column)
    allowed = list(col.allowed or ())
    aliases = list(col.value_aliases or {})
    return st.one_of(
        st.sampled_from(allowed + aliases[:10]), st.sampled_from(["", "junk", "County", " 县道 "]), st.none()
    )


@st.composite
def layer_frame(draw: st.DrawFn, kind: str) -> gpd.GeoDataFrame:
    """A small hostile layer of ``kind``: any geometry of roughly the right family, any values."""
    schema = SCHEMAS[kind]
    n = draw(st.integers(1, 5))
    fam = schema.geometry[draw(st.integers(0, len(schema.geometry) - 1))]
    geoms = draw(st.lists(GEOMETRY[fam], min_size=n, max_size=n))
    data: dict[str, list[Any]] = {}
    for col in schema.columns:
        if not (col.required or col.name == schema.id_column) and not draw(st.booleans()):
            continue
        if col.name == schema.id_column:
            values = draw(st.lists(ids, min_size=n, max_size=n))
        elif col.allowed is not None:
            values = draw(st.lists(_choices(kind, col.name), min_size=n, max_size=n))
        elif col.type == "int":
            values = draw(st.lists(counts, min_size=n, max_size=n))
        elif col.type == "float":
            values = draw(st.lists(numbers, min_size=n, max_size=n))
        elif col.type == "bool":
            values = draw(
                st.lists(st.sampled_from([True, False, "yes", "否", "-1", "maybe", None]), min_size=n, max_size=n)
            )
        else:
            values = draw(st.lists(texts, min_size=n, max_size=n))
        data[col.name] = values
    frame = pd.DataFrame({k: _column(v) for k, v in data.items()})
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms), crs=draw(crss))


def _column(values: list[Any]) -> pd.Series:
    """As a table stores them: text when any value is text, else numbers (None -> missing)."""
    if any(isinstance(v, str) for v in values):
        return pd.Series([None if v is None else str(v) for v in values], dtype=object)
    if all(isinstance(v, bool) or v is None for v in values):
        return pd.Series(values, dtype=object)
    return pd.Series([np.nan if v is None else float(v) for v in values], dtype=float)


def base_villages() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "village_id": ["v1", "v2", "v3"],
            "name": ["张家塬村", "曹家洼村", "南塔村"],
            "households": [40, 30, 20],
            "persons": [150, 100, 70],
            "relocate_households": [10, 0, 5],
            "relocate_persons": [36, 0, 18],
        },
        geometry=[Point(LON + 0.01 * i, LAT + 0.01 * i) for i in range(3)],
        crs=4490,
    )


def _write(gdf: gpd.GeoDataFrame, path: Path, layer: str) -> None:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # GDAL notes on laundered names, NaN vertices: the writer is not under test
        gio.write_vector(gdf, path, layer=layer)


SCENARIO = """name: fuzz
title: {{zh: 模糊测试县}}
layers:
{layers}
outputs: {{dir: out, static_maps: []}}
siting:
  criteria: [{{name: dist_road_m}}, {{name: buildable_area_m2}}]
  rules: {{max_slope_deg: null, max_dist_water_m: null, max_dist_power_m: null, max_time_town_min: null, outside: []}}
"""


def write_county(root: Path, frames: dict[str, gpd.GeoDataFrame], *, csv: str | None = None) -> Path:
    lines = []
    for kind, gdf in frames.items():
        _write(gdf, root / f"{kind}.gpkg", kind)
        lines.append(f"  {kind}: {kind}.gpkg")
    if csv is not None:
        (root / "villages.csv").write_text(csv, encoding="utf-8")
        lines.append("  villages: villages.csv")
    path = root / "s.yaml"
    path.write_text(SCENARIO.format(layers="\n".join(lines)), encoding="utf-8")
    return path


def check_layers(layers: Any) -> None:
    """What a successful load promises: one metric CRS, finite valid geometry, counts in range."""
    assert layers.crs.is_projected
    for kind, gdf in layers.present().items():
        g = np.asarray(gdf.geometry.values)
        assert len(gdf) > 0, kind
        assert np.isfinite(shapely.get_coordinates(g)).all(), kind
        assert shapely.is_valid(g).all() and not shapely.is_empty(g).any(), kind
        fam = {"villages": "Point", "facilities": "Point", "roads": "LineString", "candidates": "Polygon"}
        if kind in fam:
            assert all(fam[kind] in t for t in gdf.geom_type), (kind, set(gdf.geom_type))
    v = layers.villages
    for col, top in MAX_COUNTS.items():
        assert v[col].dtype == np.int64 and v[col].between(0, top).all(), col
    assert (v["persons"] >= v["households"]).all()


# --------------------------------------------------------------------------- properties
@fuzz(70)
@given(st.sampled_from(sorted(SCHEMAS)).flatmap(lambda k: st.tuples(st.just(k), layer_frame(k))))
def test_fuzz_geopackage_layer_through_load_inputs(case: tuple[str, gpd.GeoDataFrame]) -> None:
    kind, gdf = case
    with tempfile.TemporaryDirectory() as d:
        frames = {"villages": gdf} if kind == "villages" else {"villages": base_villages(), kind: gdf}
        path = write_county(Path(d), frames)
        try:
            layers = pipeline.load_inputs(scenario_mod.load(path))
        except GeofupinError:
            return
        check_layers(layers)


@fuzz(60)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.sampled_from(["109.32", "109.33", "36.86", "", "x", "inf", "-nan", "1e309", "181", "617000"])),
            st.one_of(st.sampled_from(["36.86", "36.87", "109.32", "", "nan", "-91", "4080000", " 36.9 "])),
            st.sampled_from(["10", "0", "-1", "2.5", "", "1e7", "inf", "abc"]),
            st.sampled_from(["30", "5", "1000001", "", "NaN", "３０"]),
            st.sampled_from(["v1", "v2", "", "007", "v1"]),
        ),
        min_size=1,
        max_size=5,
    ),
    st.sampled_from([None, "EPSG:4490", "EPSG:4545", "GCJ-02", "bogus"]),
)
def test_fuzz_csv_villages(rows: list[tuple[str, ...]], crs: str | None) -> None:
    body = "".join(f"{vid},村{i},{hh},{pp},{lon},{lat}\n" for i, (lon, lat, hh, pp, vid) in enumerate(rows))
    text = "village_id,name,households,persons,lon,lat\n" + body
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "v.csv"
        p.write_text(text, encoding="utf-8")
        try:
            gdf = gio.read_vector(p, crs=crs)
            layers = prepare_layers({"villages": gdf})
        except GeofupinError:
            return
        check_layers(layers)
        # through the scenario too (the reader and the validation a run uses)
        path = write_county(Path(d), {}, csv=text)
        try:
            pipeline.load_inputs(scenario_mod.load(path))
        except GeofupinError:
            return


@st.composite
def county(draw: st.DrawFn) -> dict[str, gpd.GeoDataFrame]:
    """Plausible layers with extreme-but-legal values: where siting and allocation must cope."""
    n = draw(st.integers(1, 5))
    pts = draw(st.lists(good_coords, min_size=n, max_size=n))
    hh = draw(st.lists(st.sampled_from([1, 7, 40, 1000, 250_000, 0]), min_size=n, max_size=n))
    per = [h * draw(st.sampled_from([1, 3, 4])) for h in hh]
    share = [1.0, *draw(st.lists(st.sampled_from([0.0, 0.5, 1.0]), min_size=n - 1, max_size=n - 1))]
    rh = [int(h * s) for h, s in zip(hh, share, strict=True)]
    rp = [int(p * s) for p, s in zip(per, share, strict=True)]
    villages = gpd.GeoDataFrame(
        {
            "village_id": [f"v{i}" for i in range(n)],
            "name": draw(st.lists(st.text(max_size=4), min_size=n, max_size=n)),
            "households": hh,
            "persons": per,
            "relocate_households": rh,
            "relocate_persons": rp,
        },
        geometry=[Point(*c) for c in pts],
        crs=4490,
    )
    k = draw(st.integers(1, 4))
    road_lines = draw(st.lists(st.lists(good_coords, min_size=2, max_size=4), min_size=k, max_size=k))
    roads = gpd.GeoDataFrame(
        {
            "road_id": [f"r{i}" for i in range(k)],
            "road_class": draw(
                st.lists(st.sampled_from(["county", "village", "track", "path", None]), min_size=k, max_size=k)
            ),
            "speed_kph": draw(
                st.lists(st.sampled_from([np.nan, 0.0, 0.001, 5.0, 60.0, 300.0]), min_size=k, max_size=k)
            ),
            "oneway": draw(st.lists(st.booleans(), min_size=k, max_size=k)),
        },
        geometry=[LineString(c) for c in road_lines],
        crs=4490,
    )
    m = draw(st.integers(1, 3))
    centres = draw(st.lists(good_coords, min_size=m, max_size=m))
    sizes = draw(st.lists(st.sampled_from([1e-6, 0.0005, 0.003, 0.02]), min_size=m, max_size=m))
    cands = gpd.GeoDataFrame(
        {
            "site_id": [f"s{i}" for i in range(m)],
            "name": [f"点{i}" for i in range(m)],
            "planned_area_m2": draw(st.lists(st.sampled_from([np.nan, 0.0, 1.0, 5e4, 1e12]), min_size=m, max_size=m)),
        },
        geometry=[box(x, y, x + s, y + s) for (x, y), s in zip(centres, sizes, strict=True)],
        crs=4490,
    )
    return {"villages": villages, "roads": roads, "candidates": cands}


@fuzz(40)
@given(county(), st.sampled_from([("site", "allocate"), ("access", "site", "allocate")]))
def test_fuzz_siting_and_allocation(frames: dict[str, gpd.GeoDataFrame], steps: tuple[str, ...]) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = write_county(Path(d), frames)
        sc = scenario_mod.load(path)
        try:
            layers = pipeline.load_inputs(sc, problems=Problems())
            out = pipeline.run(sc, layers=layers, steps=steps)
        except GeofupinError:
            return
    assignment = out.ctx.table("assignment")
    moving = int(layers.villages["relocate_persons"].sum())
    if assignment is not None and "persons" in assignment:
        assert 0 <= assignment["persons"].sum() <= moving


def test_fuzz_validate_layer_in_memory_never_mutates_input() -> None:
    """The inputs stay as they were, whatever validation does (checked on a hostile frame)."""
    with np.errstate(invalid="ignore"):
        gdf = gpd.GeoDataFrame(
            {"road_id": ["a", "a"], "road_class": ["县道", "junk"]},
            geometry=[LineString([(LON, LAT), (LON, LAT)]), LineString([(np.nan, LAT), (LON, LAT)])],
            crs=4545,
        )
    before = gdf.copy()
    p = Problems()
    assert validate_layer(gdf, "roads", p) is None
    pd.testing.assert_frame_equal(
        pd.DataFrame(gdf.drop(columns="geometry")), pd.DataFrame(before.drop(columns="geometry"))
    )
    assert gdf.geometry.to_wkb().equals(before.geometry.to_wkb())
    assert {e.message.split(":")[0] for e in p.errors} >= {"duplicate road_id"}


@fuzz(40)
@given(st.floats(0.0, 1.0), st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), max_size=6))
def test_fuzz_damaged_dem(cut: float, flips: list[tuple[float, int]]) -> None:
    """A DEM cut short or with bytes overwritten: the DEM checks end in a value or a GeofupinError."""
    from rasterio.transform import from_origin

    from geofupin.terrain import dem_info, dem_valid_share

    with tempfile.TemporaryDirectory() as d:
        good = Path(d) / "good.tif"
        arr = np.arange(300 * 300, dtype="float32").reshape(300, 300)
        gio.write_raster(arr, good, transform=from_origin(LON, LAT, 0.0003, 0.0003), crs="EPSG:4326", nodata=-9999)
        data = bytearray(good.read_bytes())
        for where, value in flips:
            data[min(int(where * len(data)), len(data) - 1)] = value
        bad = Path(d) / "bad.tif"
        bad.write_bytes(bytes(data[: max(0, int(cut * len(data)))]) if cut < 1.0 else bytes(data))
        try:
            info = dem_info(bad)
            share, cells = dem_valid_share(bad)
        except GeofupinError:
            return
        assert info.width > 0 and 0.0 <= share <= 1.0 and cells > 0
