"""The workbook writer (XlsxWriter, constant memory): what a run's workbooks hold, read back with openpyxl and pandas.

Widths are checked as Excel stores them: a column ``w`` characters wide is ``<col width>``
``trunc((7w + 5) / 7 * 256) / 256`` (ECMA-376 Part 1, 18.3.1.13, Calibri 11: 7 pixels a digit, 5 of
padding), which Excel shows as ``w``.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import math
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from geofupin import io as gio
from geofupin import pipeline
from geofupin.errors import OutputError
from geofupin.report import workbook_sheet


def stored_width(chars: float) -> float:
    return math.trunc((chars * 7 + 5) / 7 * 256) / 256


def col_widths(ws: Any) -> dict[int, float]:
    """Column number -> stored width (one ``<col>`` may cover several columns of one width)."""
    return {i: d.width for d in ws.column_dimensions.values() for i in range(d.min, d.max + 1)}


def sheet_xml(path: Path) -> str:
    with zipfile.ZipFile(path) as z:
        return "".join(z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/"))


def ooxml_decoded(text: str) -> str:
    """A string cell as Excel shows it: the ``_xHHHH_`` escapes of ECMA-376 (ST_Xstring) decoded."""
    return re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m[1], 16)), text)


def same_cell(got: Any, want: Any) -> bool:
    """A workbook cell against a value read from a CSV: numbers to 1e-12, texts as texts, missing as empty.

    A CSV writes an empty text as it writes a missing value; the workbook keeps the empty text.
    """
    if want is None or (isinstance(want, float) and math.isnan(want)):
        return got is None or got == ""
    if isinstance(want, (bool, np.bool_)):
        return got is bool(want)
    if isinstance(want, (int, float, np.integer, np.floating)) and isinstance(got, (int, float)):
        return got == pytest.approx(float(want), rel=1e-12, abs=1e-12)
    return str(got) == str(want)


def unquoted(df: pd.DataFrame) -> pd.DataFrame:
    """A table read from a geofupin CSV, without the quote :func:`geofupin.io.csv_safe` puts before formula text."""

    def bare(v: Any) -> Any:
        return v[1:] if isinstance(v, str) and v.startswith("'") and v[1:].startswith(gio.FORMULA_START) else v

    out = df.copy()
    for col in out.columns:
        if not pd.api.types.is_numeric_dtype(out[col]):
            out[col] = out[col].map(bare)
    return out


# ----------------------------------------------------------------------------- a whole run
def test_every_workbook_of_a_demo_run_reads_back_laid_out_and_equal_to_its_csvs(demo_run: tuple[Path, Path]) -> None:
    _, out = demo_run
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    wb = load_workbook(out / "tables.xlsx")
    used: set[str] = set()
    titles: set[str] = set()
    checked = 0
    for name in record["tables"]:
        if name in pipeline.NOT_IN_WORKBOOK:
            continue
        df = unquoted(pd.read_csv(out / "tables" / f"{name}.csv", encoding="utf-8-sig"))
        sh = workbook_sheet(df, name)
        title = sh.title if sh.title not in titles else f"{sh.title}({name})"
        titles.add(title)
        ws = wb[gio._sheet_name(title, used)]  # the sheets come in the run's order, named as the run names them
        rows = list(ws.values)
        assert rows[0] == tuple(sh.frame.columns), name
        assert rows[1] == tuple(sh.headers_en.get(c, c) for c in sh.frame.columns), name
        assert ws.freeze_panes == "A3" and all(c.font.b for c in ws[1]) and all(c.font.b for c in ws[2]), name
        if len(sh.frame):
            assert not ws["A3"].font.b
        last = ws.cell(row=1, column=sh.frame.shape[1]).column_letter
        assert ws.auto_filter.ref == f"A2:{last}{len(sh.frame) + 2}", name
        assert len(rows) == len(sh.frame) + 2, name
        for r, want in enumerate(sh.frame.itertuples(index=False), start=2):
            assert all(same_cell(g, w) for g, w in zip(rows[r], want, strict=True)), (name, rows[r], want)
        widths = col_widths(ws)
        assert sorted(widths) == list(range(1, sh.frame.shape[1] + 1)), name  # every column fitted
        for i, col in enumerate(sh.frame.columns, start=1):
            fmt = sh.number_formats.get(col)
            s = sh.frame[col]
            if fmt and pd.api.types.is_numeric_dtype(s) and s.notna().any():  # money, persons, 亩: formatted
                r = int(np.flatnonzero(s.notna().to_numpy())[0]) + 3
                assert ws.cell(row=r, column=i).number_format == fmt, (name, col)
            width = widths[i]
            assert stored_width(6) <= width <= stored_width(gio.XLSX_MAX_WIDTH), (name, col, width)
            assert width >= stored_width(min(gio.XLSX_MAX_WIDTH, gio.text_width(col) + 2)), (name, col)
        checked += 1
    assert checked == len(wb.sheetnames) >= 40  # every sheet is a table of the run
    money = [c for sh in wb.worksheets for c in sh[3] if c.number_format in ("#,##0", "#,##0.00")]
    assert money  # the budget sheets carry their formats
    for book in ("roster/public_notice.xlsx", "roster/payment_roster.xlsx"):
        rb = load_workbook(out / book)
        assert rb.sheetnames
        for ws in rb.worksheets:
            assert ws.freeze_panes == "A2" and all(c.font.b for c in ws[1]), (book, ws.title)
            assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:"), (book, ws.title)
            widths = col_widths(ws)
            assert sorted(widths) == list(range(1, ws.max_column + 1)), (book, ws.title)
            assert all(stored_width(6) <= w <= stored_width(gio.XLSX_MAX_WIDTH) for w in widths.values())
        assert "<f>" not in sheet_xml(out / book)
    assert "<f>" not in sheet_xml(out / "tables.xlsx") and "<hyperlink" not in sheet_xml(out / "tables.xlsx")


# ----------------------------------------------------------------------------- text is text
HOSTILE = [
    "=1+1",
    "@SUM(A1)",
    "+cmd|' /C calc'!A0",
    "-2+3",
    "http://x",
    "mailto:a@b.c",
    "'apostrophe",
    "''two",
    "#N/A",
    "TRUE",
    "1e5",
    "0012",
    " padded ",
    "tab\tinside",
    "line\nbreak",
    '=HYPERLINK("http://x","y")',
    "张家塬村",
]


def test_hostile_texts_read_back_literally_as_string_cells(tmp_path: Path) -> None:
    df = pd.DataFrame({"名称": HOSTILE, "=cmd|' /C calc'!A0": range(len(HOSTILE))})
    p = gio.write_xlsx({"@表": df}, tmp_path / "t.xlsx", headers_en={"@表": {"名称": "-name"}})
    xml = sheet_xml(p)
    assert "<f>" not in xml and "<f " not in xml and "<hyperlink" not in xml
    with zipfile.ZipFile(p) as z:
        assert not [n for n in z.namelist() if n.endswith(".rels") and "worksheets" in n]  # no links at all
    ws = load_workbook(p)["@表"]
    assert [c.value for c in ws[1]] == ["名称", "=cmd|' /C calc'!A0"] and ws["B1"].data_type == "s"
    assert ws["B1"].quotePrefix and ws["A2"].value == "-name" and ws["A2"].quotePrefix
    cells = [ws.cell(row=r, column=1) for r in range(3, 3 + len(HOSTILE))]
    assert [c.value for c in cells] == HOSTILE
    assert {c.data_type for c in cells} == {"s"}  # never a formula, number, boolean or error
    assert [bool(c.quotePrefix) for c in cells] == [t.startswith(gio.FORMULA_START) for t in HOSTILE]
    assert [ws.cell(row=r, column=2).value for r in range(3, 3 + len(HOSTILE))] == list(range(len(HOSTILE)))
    back = pd.read_excel(
        p, sheet_name="@表", engine="openpyxl", header=[0, 1], dtype=object, keep_default_na=False, na_values=[]
    )
    assert back.iloc[:, 0].tolist() == HOSTILE  # pandas reads the same texts


def test_control_characters_and_the_formats_own_escape(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gio, "XLSX_IN_MEMORY_CELLS", 0)  # streamed: the texts in the sheet (tests/test_county_io.py
    # reads both ways of writing back with the same text)
    texts = ["bell\x07", "nul\x00x", "cr\rlf", "crlf\r\nend", "_x0041_", "lone\ud800", "nonchar\ufffe", "\x1b[31m"]
    p = gio.write_xlsx({"t": pd.DataFrame({"s": pd.Series(texts, dtype=object)})}, tmp_path / "t.xlsx")
    got = [c.value for c in load_workbook(p)["t"]["A"]][1:]
    shown = ["bell\ufffd", "nul\ufffdx", "cr\nlf", "crlf\nend", "_x0041_", "lone\ufffd", "nonchar\ufffd", "\ufffd[31m"]
    assert [ooxml_decoded(g) for g in got] == shown  # what Excel shows
    assert (
        got[:4] == shown[:4] and pd.read_excel(p, engine="openpyxl")["s"].tolist()[:4] == shown[:4]
    )  # and openpyxl/pandas read
    # "_x0041_" is text, not the escape of "A": the file escapes its underscore (openpyxl does not decode it)
    assert "_x005F_x0041_" in sheet_xml(p)


# ----------------------------------------------------------------------------- values and types
def test_numpy_and_pandas_types_missing_values_and_dates(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {
            "i8": np.array([1, -2, 3], dtype="int8"),
            "u64": np.array([0, 2**40, 7], dtype="uint64"),
            "f32": np.array([0.5, np.nan, -1.25], dtype="float32"),
            "inf": [np.inf, -np.inf, 1.0],
            "b": [True, False, True],
            "Int64": pd.array([12_345, None, 3], dtype="Int64"),
            "Float64": pd.array([1.5, None, 2.25], dtype="Float64"),
            "boolean": pd.array([True, None, False], dtype="boolean"),
            "string": pd.array(["a", None, "=b"], dtype="string"),
            "cat": pd.Categorical(["x", "y", None]),
            "when": pd.to_datetime(["2016-01-02 03:04:05", None, "2020-02-29 00:00:00.000000001"], format="ISO8601"),
            "zoned": pd.to_datetime(["2016-01-02 03:04:05"] * 3).tz_localize("Asia/Shanghai"),
            "obj": [dt.date(2016, 5, 1), [1, "村"], pd.Timestamp("2016-01-01 00:00:00.000000001")],
            "none": [None, np.nan, pd.NA],
        }
    )
    p = gio.write_xlsx({"t": df}, tmp_path / "t.xlsx", number_formats={"t": {"Int64": "#,##0", "Float64": "#,##0.00"}})
    ws = load_workbook(p)["t"]
    rows = list(ws.values)
    assert rows[0] == tuple(df.columns)
    col = {c: [r[i] for r in rows[1:]] for i, c in enumerate(df.columns)}
    assert col["i8"] == [1, -2, 3] and col["u64"] == [0, 2**40, 7]
    assert col["f32"] == [0.5, None, -1.25] and col["inf"] == ["inf", "-inf", 1]
    assert col["b"] == [True, False, True] and col["boolean"] == [True, None, False]
    assert col["Int64"] == [12_345, None, 3] and col["Float64"] == [1.5, None, 2.25]
    assert col["string"] == ["a", None, "=b"] and col["cat"] == ["x", "y", None]
    assert col["when"] == [dt.datetime(2016, 1, 2, 3, 4, 5), None, dt.datetime(2020, 2, 29)]
    assert col["zoned"] == [dt.datetime(2016, 1, 2, 3, 4, 5)] * 3  # the wall-clock time
    assert col["obj"] == [dt.datetime(2016, 5, 1), '[1, "村"]', dt.datetime(2016, 1, 1)]
    assert col["none"] == [None, None, None]
    letter = {c: ws.cell(row=1, column=i + 1).column_letter for i, c in enumerate(df.columns)}
    assert ws[f"{letter['when']}2"].number_format == "yyyy-mm-dd h:mm:ss" and ws[f"{letter['when']}2"].is_date
    assert ws[f"{letter['obj']}2"].number_format == "yyyy-mm-dd"
    assert ws[f"{letter['string']}4"].quotePrefix and ws[f"{letter['string']}4"].data_type == "s"
    # nullable integer and float columns get their number formats (the openpyxl writer left them General)
    assert ws[f"{letter['Int64']}2"].number_format == "#,##0"
    assert ws[f"{letter['Float64']}4"].number_format == "#,##0.00"


def test_one_row_and_empty_frames(tmp_path: Path) -> None:
    one = pd.DataFrame({"乡镇": ["王家湾乡"], "人": [369]})
    empty = pd.DataFrame({"乡镇": pd.Series([], dtype=object), "补助资金(元)": pd.Series([], dtype=float)})
    p = gio.write_xlsx(
        {"one": one, "empty": empty, "none": pd.DataFrame()},
        tmp_path / "t.xlsx",
        headers_en={"one": {"乡镇": "township", "人": "persons"}},
        number_formats={"empty": {"补助资金(元)": "#,##0"}},
    )
    wb = load_workbook(p)
    assert wb.sheetnames == ["one", "empty", "none"]
    ws = wb["one"]
    assert list(ws.values) == [("乡镇", "人"), ("township", "persons"), ("王家湾乡", 369)]
    assert ws.freeze_panes == "A3" and ws.auto_filter.ref == "A2:B3"
    assert ws.column_dimensions["A"].width == stored_width(2 * 4 + 2)  # 王家湾乡: 4 wide characters
    assert ws.column_dimensions["B"].width == stored_width(len("persons") + 2)
    ws = wb["empty"]
    assert list(ws.values) == [("乡镇", "补助资金(元)")] and ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:B1"
    assert ws.column_dimensions["B"].width == stored_width(gio.text_width("补助资金(元)") + 2)
    assert all(c.font.b for c in ws[1])
    ws = wb["none"]
    assert ws.max_row == 1 and ws["A1"].value is None and not ws.auto_filter.ref
    ro = load_workbook(p, read_only=True)
    assert (ro["one"].max_row, ro["one"].max_column) == (3, 2)  # the <dimension> read-only readers size sheets by


# ----------------------------------------------------------------------------- widths
def test_widths_are_fitted_over_the_whole_column(tmp_path: Path) -> None:
    n = 6_000
    names = ["村"] * n
    names[-1] = "王家湾乡张家塬村第十二村民小组"  # 15 wide characters, in the last row
    df = pd.DataFrame({"name": names, "yuan": [1.0] * (n - 1) + [-1_234_567.0], "ok": [True] * n})
    p = gio.write_xlsx({"t": df}, tmp_path / "t.xlsx", number_formats={"t": {"yuan": "#,##0"}})
    ws = load_workbook(p, read_only=False)["t"]
    # the last row counts (the openpyxl writer measured the first 5,000 rows only)
    assert ws.column_dimensions["A"].width == stored_width(2 * 15 + 2)
    assert ws.column_dimensions["B"].width == stored_width(len("-1,234,567") + 2)
    assert ws.column_dimensions["C"].width == stored_width(6)  # the floor: "ok", "TRUE" (no FALSE)
    long = pd.DataFrame({"x": ["字" * 100]})
    q = gio.write_xlsx({"t": long}, tmp_path / "long.xlsx")
    assert load_workbook(q)["t"].column_dimensions["A"].width == stored_width(gio.XLSX_MAX_WIDTH)  # the cap


def test_column_text_widths_equal_text_width() -> None:
    texts = ["abc", "搬迁户数", "Ａ１", "mixed 村 x", "", "é", "👍", "ｶﾀｶﾅ", "한국"]
    assert gio.text_widths(texts).tolist() == [gio.text_width(t) for t in texts]
    assert gio.text_widths([]).tolist() == []


# ----------------------------------------------------------------------------- row limit and atomic writing
def test_lowered_row_limit_refuses_or_splits_with_layout_on_every_part(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gio, "XLSX_MAX_ROWS", 4)  # header + 3 data rows a sheet
    df = pd.DataFrame({"村": [f"村{i}" for i in range(8)], "补助(元)": [1000.0 * i for i in range(8)]})
    with pytest.raises(OutputError, match=r"big: 8 行 rows, 完整表 full table: tables/big.csv") as err:
        gio.write_xlsx({"big": df}, tmp_path / "r.xlsx", full_table={"big": "tables/big.csv"})
    assert "4" in str(err.value) and not list(tmp_path.iterdir())
    formats = {"big": {"补助(元)": "#,##0"}}
    p = gio.write_xlsx({"big": df}, tmp_path / "s.xlsx", over_limit="split", number_formats=formats)
    wb = load_workbook(p)
    assert wb.sheetnames == ["big~1", "big~2", "big~3"]
    body = []
    for ws, n in zip(wb.worksheets, (3, 3, 2), strict=True):
        rows = list(ws.values)
        assert rows[0] == ("村", "补助(元)") and len(rows) == n + 1
        assert ws.freeze_panes == "A2" and ws.auto_filter.ref == f"A1:B{n + 1}"
        assert ws["B2"].number_format == "#,##0"
        assert ws.column_dimensions["A"].width == wb.worksheets[0].column_dimensions["A"].width  # one width a table
        body.extend(rows[1:])
    assert body == [(f"村{i}", 1000 * i) for i in range(8)]


def test_a_failed_write_leaves_nothing_and_keeps_the_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "t.xlsx"
    gio.write_xlsx({"a": pd.DataFrame({"x": [1]})}, target)
    before = target.read_bytes()

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(zipfile.ZipFile, "write", full)  # XlsxWriter packs its parts with ZipFile.write
    monkeypatch.setattr(zipfile.ZipFile, "writestr", full)  # (or writestr: a workbook built in memory)
    with pytest.raises(OutputError) as err:
        gio.write_xlsx({"a": pd.DataFrame({"x": [2]}), "b": pd.DataFrame({"y": ["z"]})}, target)
    assert "the disk is full" in err.value.args[0] and "previous output, if any, is unchanged" in err.value.args[0]
    assert target.read_bytes() == before and [q.name for q in tmp_path.iterdir()] == ["t.xlsx"]
    monkeypatch.undo()

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(gio, "_column_writes", broken)  # a failure half-way through the sheets
    with pytest.raises(RuntimeError, match="boom"):
        gio.write_xlsx({"a": pd.DataFrame({"x": [2]})}, target)
    assert target.read_bytes() == before and [q.name for q in tmp_path.iterdir()] == ["t.xlsx"]


def test_rows_stream_as_inline_strings_without_a_shared_string_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gio, "XLSX_IN_MEMORY_CELLS", 0)  # streamed, as a workbook over the in-memory size is
    df = pd.DataFrame({"村": ["张家塬村", "张家塬村"], "人": [1, 2]})
    p = gio.write_xlsx({"t": df}, tmp_path / "t.xlsx")
    with zipfile.ZipFile(p) as z:
        names = z.namelist()
        assert "xl/sharedStrings.xml" not in names  # constant memory: no table of every text
        assert {i.date_time for i in z.infolist()} == {(2016, 1, 1, 0, 0, 0)}
        core = z.read("docProps/core.xml").decode()
    assert sheet_xml(p).count('t="inlineStr"') == 4  # 2 headers + 2 texts
    assert "2016-01-01T00:00:00Z" in core and core.count("2016-01-01T00:00:00Z") == 2  # created and modified
