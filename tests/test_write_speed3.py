"""Writing a county's files made cheaper without changing a byte of them (issue 17, session 6).

- A workbook built in memory has its zip time stamps pinned in place (:func:`geofupin.io._patch_zip_times`):
  the same bytes as the member-by-member copy that re-deflated every part; archives it does not handle (ZIP64,
  extra fields) are left to that copy.
- :func:`geofupin.io.csv_safe` finds Arrow strings that start like a formula from their first bytes
  (:func:`geofupin.io._arrow_formula_starts`): the same rows as Arrow's regular expression, and the same
  table as quoting every text value by value (the reference below).
- A workbook column is converted to cell writes in one comprehension when it is all text, and plain
  numbers of mixed columns skip :func:`geofupin.io._cell_write`: the same writes as the value-by-value
  conversion before (the reference below), on columns with every kind of value.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from geofupin import io as gio

HOSTILE = ["=1+1", "+x", "-3", "@a", "\tt", "\rr", "", "张家塬", "a=b", " =x", "'=x", "é=", "-", "x\n=y", "😀=", "="]


# ------------------------------------------------------------------------------ zip time stamps
def _copied(src: Path, dst: Path, when: tuple[int, ...], monkeypatch: pytest.MonkeyPatch) -> bytes:
    """``src`` pinned by the member-by-member copy (the way before)."""
    with monkeypatch.context() as m:
        m.setattr(gio, "_ZIP_PATCH_MAX_BYTES", -1)
        gio._pin_zip_times(src, dst, when)
    return dst.read_bytes()


def test_pinned_in_place_equals_the_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """XlsxWriter's archive (times 1980-01-01) pinned in place: every byte as the copy writes it."""
    import xlsxwriter

    raw = tmp_path / "raw.xlsx"
    wb = xlsxwriter.Workbook(str(raw), {"in_memory": True})
    for k in range(3):
        ws = wb.add_worksheet(f"表{k}")
        for r in range(200):
            ws.write_string(r, 0, f"村{r}" * (k + 1))
            ws.write_number(r, 1, r * 1.5)
    wb.close()
    when = (2016, 1, 1, 0, 0, 0)
    gio._pin_zip_times(raw, tmp_path / "patched.xlsx", when)
    patched = (tmp_path / "patched.xlsx").read_bytes()
    assert patched == _copied(raw, tmp_path / "copied.xlsx", when, monkeypatch)
    with zipfile.ZipFile(io.BytesIO(patched)) as z:
        assert z.testzip() is None
        assert {i.date_time for i in z.infolist()} == {when}
        assert len(z.infolist()) > 10
    # an odd time too: seconds are stored halved, the year from 1980
    odd = (2031, 12, 31, 23, 59, 58)
    gio._pin_zip_times(raw, tmp_path / "odd.xlsx", odd)
    with zipfile.ZipFile(tmp_path / "odd.xlsx") as z:
        assert {i.date_time for i in z.infolist()} == {odd}


def test_archives_it_does_not_handle_are_copied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Extra fields (which may hold another time stamp) and ZIP64 records: refused, the copy does it."""
    extra = tmp_path / "extra.zip"
    with zipfile.ZipFile(extra, "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo("a.xml", date_time=(1999, 9, 9, 9, 9, 8))
        info.extra = b"UT\x05\x00\x01\x00\x00\x00\x00"  # an extended time stamp
        z.writestr(info, "<a/>" * 100)
    assert gio._patch_zip_times(bytearray(extra.read_bytes()), (2016, 1, 1, 0, 0, 0)) is False
    big = tmp_path / "zip64.zip"
    with zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as z, z.open("a.xml", "w", force_zip64=True) as f:
        f.write(b"<a/>" * 100)
    assert gio._patch_zip_times(bytearray(big.read_bytes()), (2016, 1, 1, 0, 0, 0)) is False
    assert gio._patch_zip_times(bytearray(b"not a zip"), (2016, 1, 1, 0, 0, 0)) is False
    for src in (extra, big):  # still pinned, by the copy
        gio._pin_zip_times(src, tmp_path / "out.zip", (2016, 1, 1, 0, 0, 0))
        with zipfile.ZipFile(tmp_path / "out.zip") as z:
            assert {i.date_time for i in z.infolist()} == {(2016, 1, 1, 0, 0, 0)}
            assert z.read("a.xml") == b"<a/>" * 100


def test_demo_roster_workbook_pinned_as_copied(demo_run: tuple[Path, Path], tmp_path: Path, monkeypatch) -> None:
    """The demo's payment roster (120 parts of real text): pinned in place as the copy pins it."""
    book = demo_run[1] / "roster" / "payment_roster.xlsx"
    with zipfile.ZipFile(book) as z:
        assert {i.date_time for i in z.infolist()} == {(2016, 1, 1, 0, 0, 0)}
    when = (2020, 2, 29, 12, 30, 0)
    gio._pin_zip_times(book, tmp_path / "patched.xlsx", when)
    assert (tmp_path / "patched.xlsx").read_bytes() == _copied(book, tmp_path / "copied.xlsx", when, monkeypatch)


# ------------------------------------------------------------------------------ CSV formula guard
def _regex_starts(values: Any) -> np.ndarray:
    return np.asarray(pc.match_substring_regex(values, gio._FORMULA_REGEX).fill_null(False), dtype=bool)


@pytest.mark.parametrize("kind", [pa.large_string(), pa.string()])
def test_arrow_first_bytes_as_the_regex(kind: pa.DataType) -> None:
    rng = np.random.default_rng(5)
    values = [None if i % 9 == 0 else HOSTILE[j] for i, j in enumerate(rng.integers(0, len(HOSTILE), 400))]
    arr = pa.array(values, type=kind)
    for case in (
        arr,
        arr.slice(37, 200),  # an offset into the buffers
        pa.chunked_array([arr.slice(0, 150), arr.slice(150)]),
        pa.chunked_array([], type=kind),
        pa.array([None, None], type=kind),
        pa.array(["", ""], type=kind),
    ):
        got = gio._arrow_formula_starts(case)
        assert got is not None
        np.testing.assert_array_equal(got, _regex_starts(case))
    assert gio._arrow_formula_starts(pa.array([1, 2])) is None


def _csv_safe_reference(df: pd.DataFrame) -> pd.DataFrame:
    """Every text cell and header quoted value by value (the rule of :func:`geofupin.io.csv_safe`)."""
    out = df.copy()
    for i, dtype in enumerate(df.dtypes):
        if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype):
            continue
        out.isetitem(
            i, df.iloc[:, i].astype(object).map(lambda v: gio.neutralize_formula(v) if isinstance(v, str) else v)
        )
    out.columns = [gio.neutralize_formula(c) if isinstance(c, str) else c for c in df.columns]
    return out


def _csv(df: pd.DataFrame) -> str:
    buf = io.StringIO()
    df.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue()


def test_csv_safe_as_value_by_value() -> None:
    rng = np.random.default_rng(11)
    texts = [HOSTILE[j] for j in rng.integers(0, len(HOSTILE), 300)]
    with_na = [None if i % 5 == 0 else t for i, t in enumerate(texts)]
    df = pd.DataFrame(
        {
            "arrow": pd.Series(with_na, dtype="str"),
            "=header": pd.Series(texts, dtype="str").iloc[::-1].reset_index(drop=True),
            "python": pd.Series(with_na, dtype="string[python]"),
            "object": pd.Series(with_na, dtype=object),
            "mixed": pd.Series([-1.5, "=x", 3, None, "-2", np.nan] * 50, dtype=object),
            "category": pd.Categorical(texts),
            "number": -rng.uniform(0, 9, 300),
            "count": pd.array([None, -3] * 150, dtype="Int64"),
            "flag": [True, False] * 150,
            "when": pd.date_range("2016-01-01", periods=300),
            "span": pd.to_timedelta(np.arange(300), unit="h"),
        }
    )
    sliced = pd.DataFrame({"s": pd.Series(texts, dtype="str").iloc[41:260]})  # Arrow data at an offset
    for table in (df, sliced, df.iloc[:0], pd.DataFrame([[1, "=a"]])):
        safe = gio.csv_safe(table)
        assert _csv(safe) == _csv(_csv_safe_reference(table))
        assert safe.index.equals(table.index)
    assert gio.csv_safe(df)["arrow"].dtype == df["arrow"].dtype  # text columns keep their dtype
    assert list(gio.csv_safe(df).columns)[1] == "'=header"
    assert gio.csv_safe(df)["number"].equals(df["number"])  # numbers untouched, signs kept


# ------------------------------------------------------------------------------ workbook cells
def _column_writes_reference(formats: Any, s: pd.Series, number_format: str | None) -> list[Any]:
    """The value-by-value conversion of a text or mixed column before (session 5)."""
    from xlsxwriter.worksheet import Worksheet as W

    quote, fmt = formats.get(quote=True), formats.get(num=number_format)
    out: list[Any] = []
    for v, gone in zip(s.tolist(), pd.isna(s.to_numpy(dtype=object)).tolist(), strict=True):
        if gone:
            out.append(None)
        elif isinstance(v, str):
            t = gio._xlsx_text(v)
            out.append((W.write_string, t, quote if t.startswith(gio.FORMULA_START) else None))
        else:
            out.append(gio._cell_write(formats, v, fmt))
    return out


def _comparable(writes: list[Any]) -> list[Any]:
    return [None if w is None else (w[0].__name__, type(w[1]), w[1], w[2]) for w in writes]


def test_text_and_mixed_columns_as_value_by_value(tmp_path: Path) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(tmp_path / "x.xlsx"), {"in_memory": True})
    formats = gio._XlsxFormats(wb)
    texts = [*HOSTILE, "a\r\nb", "x\x01y", "_x000D_", "\ufffe", None, np.nan]
    mixed = [1, "=a", 2.5, dt.date(2016, 1, 1), None, [1], {"k": "v"}, -7, "x", np.nan, float("inf"), float("-inf")]
    mixed += [np.int64(3), np.float64(2.5), np.str_("=s"), True, pd.Timestamp("2020-01-01"), dt.timedelta(hours=3)]
    mixed += ["a\rb", 10**20, pd.NA, -0.0, "合计", ""]
    columns = [
        pd.Series(texts, dtype=object),
        pd.Series([t for t in texts if t is None or isinstance(t, str)], dtype="str"),
        pd.Series(HOSTILE, dtype="str"),  # text that needs no cleaning
        pd.Series(["ok", "=a", "b"] * 4, dtype=object),
        pd.Series(mixed, dtype=object),
        pd.Series([1, 2, "合计"], dtype=object),
        pd.array([1, None, 3], dtype="Int64"),
        pd.Series([], dtype=object),
    ]
    for s in columns:
        s = pd.Series(s)
        for number_format in (None, "#,##0"):
            got = gio._column_writes(formats, s, number_format)
            assert _comparable(got) == _comparable(_column_writes_reference(formats, s, number_format))
    wb.close()


# ------------------------------------------------------------------------------ geometry families
def _split_reference(gdf: Any) -> list[tuple[str, str, Any]]:
    """(family, geometry type, row positions) of each split, from the type names (the way before)."""
    types = gdf.geom_type
    fam = types.map(lambda t: gio.GEOM_FAMILY.get(t) if isinstance(t, str) else None)
    present = [f for f in gio._FAMILY_ORDER if (fam == f).any()]
    fam = fam.fillna(present[0]) if present else fam
    out = []
    for f in present:
        rows = (fam == f).to_numpy()
        gtype = gio._SINGLE_TYPE[f]
        if f != "collections" and any(t.startswith("Multi") for t in set(types[rows].dropna())):
            gtype = "Multi" + gtype
        if bool(gdf[rows].geometry.has_z.any()):
            gtype += " Z"
        out.append((f, gtype, list(np.flatnonzero(rows))))
    return out


def test_geometry_families_from_type_ids() -> None:
    import geopandas as gpd
    import shapely
    from shapely.geometry import (
        GeometryCollection,
        LinearRing,
        LineString,
        MultiLineString,
        MultiPoint,
        MultiPolygon,
        Point,
        Polygon,
    )

    square = Polygon([(0, 0), (1, 0), (1, 1)])
    geoms = [
        None, Point(0, 0), LineString([(0, 0), (1, 1)]), square, MultiPoint([(0, 0), (1, 1)]),
        GeometryCollection([Point(0, 0)]), LinearRing([(0, 0), (1, 0), (1, 1)]), Point(1, 2, 3),
        MultiPolygon([square]), MultiLineString([[(0, 0), (1, 1)]]), Point(),
    ]  # fmt: skip
    layers = {
        "mixed": gpd.GeoDataFrame({"a": range(len(geoms))}, geometry=geoms, crs=4545),
        "lines": gpd.GeoDataFrame({"a": [1, 2]}, geometry=[LineString([(0, 0, 1), (1, 1, 1)]), None], crs=4545),
        "none": gpd.GeoDataFrame({"a": [1]}, geometry=[None], crs=4545),
    }
    out = gio.split_geometry_families(layers)
    assert list(out) == ["mixed_points", "mixed_lines", "mixed_areas", "mixed_collections", "lines", "none"]
    for name, gdf in layers.items():
        got = [(v.family, v.geometry_type, list(v.frame["a"])) for v in out.values() if v.source == name]
        want = [(f, t, [int(gdf["a"].iloc[i]) for i in rows]) for f, t, rows in _split_reference(gdf)]
        assert got == (want or [(None, None, list(gdf["a"]))])
    assert out["mixed_points"].geometry_type == "MultiPoint Z"  # the missing geometry goes with the points
    assert list(out["mixed_points"].frame["a"]) == [0, 1, 4, 7, 10]
    assert out["lines"].geometry_type == "LineString Z"
    wkts = ["POINT (0 0)", "LINESTRING (0 0, 1 1)", "LINEARRING (0 0, 1 0, 1 1, 0 0)", "POLYGON ((0 0, 1 0, 1 1, 0 0))"]
    wkts += ["MULTIPOINT (0 0)", "MULTILINESTRING ((0 0, 1 1))", "MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)))"]
    wkts += ["GEOMETRYCOLLECTION (POINT (0 0))"]
    for i, kind in enumerate(shapely.from_wkt(wkts)):  # the table of type ids agrees with GEOM_FAMILY's names
        assert int(shapely.get_type_id(kind)) == i
        assert gio._FAMILY_ORDER[gio._FAMILY_OF_TYPE_ID[i + 1]] == gio.GEOM_FAMILY[kind.geom_type]


# ------------------------------------------------------------------------------ layers
def test_mojibake_warning_as_value_by_value() -> None:
    """The joined search warns exactly where the value-by-value check did (Chinese anywhere: never)."""
    from geofupin import layers
    from geofupin.errors import Problems

    def reference(text: pd.Series) -> bool:
        values = text.dropna().astype(str)
        if values.empty or values.str.contains(layers._CJK).any():
            return False
        return len(values[values.str.contains(layers._LATIN1_RUN)]) >= max(1, len(values) // 5)

    garbled, plain = "ÕÅ¼Ò", "Zhangjia"
    cases = [
        [garbled] * 3,
        [garbled, plain, plain, plain, plain],  # 1 of 5: warned
        [garbled, plain, plain, plain, plain, plain, plain, plain, plain, plain],  # 1 of 10: not
        [garbled, "张家塬"],
        [None, garbled, np.nan],
        [],
        [None],
        ["Õ\nÅ", "a"],  # a run cut by a line feed is no run
        ["é", "x"],
        [plain],
    ]
    for values in cases:
        text = pd.Series(values, dtype=object)
        problems = Problems()
        layers._warn_mojibake(text, "name", "villages", problems)
        assert bool(problems.warnings) == reference(text), values
