"""A county run's I/O made cheaper without changing what it reads or writes (issue 17).

- Workbooks are read with python-calamine (:data:`geofupin.io.XLSX_READ_ENGINE`): every workbook the tests
  and the demo use, and a workbook of hostile cells, read to the same text as with openpyxl.
- The roster is read once a run: the allocate step reads it, the roster step takes it over.
- Small workbooks are built in memory, large ones streamed: both read back cell for cell, format for format.
- The GeoPackage is written with SQLite not waiting for the disk at each commit: the same bytes.
- The CSV formula guard and the roster's village sheets, computed column- and table-wise: the same as before.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely
from openpyxl.styles import Font
from openpyxl.utils.datetime import CALENDAR_MAC_1904
from pandas.testing import assert_frame_equal

from geofupin import io as gio
from geofupin import notice
from geofupin.errors import DataError

REPO = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------ reading workbooks
def read_both(path: Path, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``read_table`` with openpyxl (the reader before) and with calamine (the reader now)."""
    with monkeypatch.context() as m:
        m.setattr(gio, "XLSX_READ_ENGINE", "openpyxl")
        before = gio.read_table(path, **kw)
    return before, gio.read_table(path, **kw)


def sheets_of(path: Path) -> list[str]:
    return openpyxl.load_workbook(path, read_only=True).sheetnames


def assert_same_reading(path: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """Every sheet of ``path``, with and without a header row, reads the same with both engines; the cells read."""
    cells = 0
    for sheet in sheets_of(path):
        for header in (True, False):
            before, now = read_both(path, monkeypatch, sheet=sheet, header=header)
            assert_frame_equal(now, before, check_exact=True, obj=f"{path.name}[{sheet}] header={header}")
            cells += now.size
    return cells


def hostile_workbook(path: Path) -> Path:
    """Cells an office's workbook may hold, written by openpyxl (as Excel would store them)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "名册"
    rows: list[list[Any]] = [
        ["身份证号码", "家庭人口", None, "登记日期", "备注", "户主姓名", "户主姓名", "是否"],
        ["007", 1.0, None, dt.datetime(2011, 3, 1), "=1+1", "张三", 1, True],
        ["610603199001011234", 0.1, 5, dt.datetime(2011, 3, 1, 12, 30, 15, 123000), " 前后空格 ", "李四", 1e20, False],
        [12345678901234567890, -0.0, None, dt.date(1900, 1, 1), "一\n二\t三", "王五", 1 / 3, None],
        [None, 2.5e-10, None, dt.time(13, 5, 7), "+1", "😀", 123456789.125, "#N/A"],
        ["x", 42, None, dt.timedelta(hours=30, minutes=5), "长" * 32767, "-1", -7, "@SUM(A1)"],
        ["0012", 3, 4, dt.date(2016, 1, 1), "\u200b零宽", "赵六", '=HYPERLINK("x")', "TRUE"],
    ]
    for r in rows:
        ws.append(r)
    ws["D2"].number_format = "yyyy-mm-dd"
    ws["D3"].number_format = "yyyy-mm-dd h:mm:ss.000"
    ws["D4"].number_format = "yyyy-mm-dd"
    ws["D5"].number_format = "h:mm:ss"
    ws["D6"].number_format = "[h]:mm:ss"
    ws["D7"].number_format = "yyyy-mm-dd"
    ws["B4"].number_format = "0.00%"
    ws["H5"] = "#N/A"  # an error cell
    ws["E2"].data_type = ws["G7"].data_type = "s"  # texts that look like formulas (openpyxl: "=..." is one)
    ws["J1"].font = Font(bold=True)  # a formatted empty column and row after the table
    ws["A12"].font = Font(bold=True)
    ws["B9"] = "=B2+1"  # a formula without a cached value
    merged = wb.create_sheet("合并表头")
    merged.append(["村", None, "户数", None])
    merged.merge_cells("A1:B1")
    merged.append(["张家塬村", "麻山组", 1, 2])
    merged.append([None, None, None, None])  # a blank row inside the table
    merged.append(["曹家洼村", None, 3, "4"])
    offset = wb.create_sheet("不从A1开始")
    offset["C3"], offset["D3"], offset["C4"], offset["D4"] = "村", "户", 1, "x"
    hidden = wb.create_sheet("隐藏")
    hidden.sheet_state = "hidden"
    hidden.append(["a"])
    hidden.append(["b"])
    wb.create_sheet("空表")
    wb.save(path)
    return path


def test_every_workbook_the_tests_and_the_demo_read_gives_the_same_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from geofupin import demo

    # the demo's roster (as written by the generator: XlsxWriter, inline strings), read as the run reads it
    households = REPO / "layers" / "demo" / demo.HOUSEHOLDS_FILE
    before, now = read_both(households, monkeypatch, sheet=demo.HOUSEHOLDS_SHEET)
    assert_frame_equal(now, before, check_exact=True)
    assert len(now) == 1526 and now["身份证号码"].str.len().eq(18).all()  # ids stay text
    assert assert_same_reading(households, monkeypatch) > 30_000
    # the workbooks tests/test_sources.py and tests/test_osm_e2e.py read (pandas' own writer)
    rows = [
        ["610603101200", "张家塬村", "village", "220", "109.1", "36.9"],
        ["610603000000", "安塞区", "county", "", "", ""],
    ]
    codes = tmp_path / "codes.xlsx"
    with pd.ExcelWriter(codes) as w:
        pd.DataFrame({"x": [1]}).to_excel(w, sheet_name="说明", index=False)
        pd.DataFrame(rows).to_excel(w, sheet_name="村", index=False, header=False)
    registry = tmp_path / "registry.xlsx"
    pd.DataFrame({"村编码": ["n1000", "n9999"], "households": [10, 1], "persons": [33.0, 2.5]}).to_excel(
        registry, index=False
    )
    for book in (codes, registry, hostile_workbook(tmp_path / "hostile.xlsx")):
        assert assert_same_reading(book, monkeypatch)
    # a workbook of the 1904 date system (Excel for Mac)
    mac = openpyxl.Workbook()
    mac.epoch = CALENDAR_MAC_1904
    ws = mac.active
    assert ws is not None
    ws.append(["日期", "时刻"])
    ws.append([dt.datetime(2011, 3, 1, 8, 30), dt.datetime(1904, 1, 2)])
    mac.save(tmp_path / "mac.xlsx")
    before, now = read_both(tmp_path / "mac.xlsx", monkeypatch)
    assert_frame_equal(now, before, check_exact=True)
    assert now.iloc[0].tolist() == ["2011-03-01 08:30:00", "1904-01-02 00:00:00"]


def test_the_hostile_cells_as_text(tmp_path: Path) -> None:
    df = gio.read_table(hostile_workbook(tmp_path / "h.xlsx"), sheet="名册")
    # duplicate and blank headers as pandas names them; numbers as their shortest text; ids keep their zeros
    assert list(df.columns) == [
        "身份证号码",
        "家庭人口",
        "Unnamed: 2",
        "登记日期",
        "备注",
        "户主姓名",
        "户主姓名.1",
        "是否",
    ]
    # an id typed as a number is a double in the file (openpyxl stores 1.234567890123457e+19): its digits are lost
    assert df["身份证号码"].tolist()[:3] == ["007", "610603199001011234", "12345678901234569216"]
    assert df["家庭人口"].tolist()[:5] == ["1", "0.1", "0", "2.5e-10", "42"]
    assert df["登记日期"].tolist()[:5] == [
        "2011-03-01 00:00:00", "2011-03-01 12:30:15.123000", "1900-01-01 00:00:00", "13:05:07", "1 day, 6:05:00"
    ]  # fmt: skip
    notes = df["备注"].tolist()
    assert notes[0] == "=1+1" and notes[3] == "+1" and notes[1] == " 前后空格 " and notes[2] == "一\n二\t三"
    assert notes[4] == "长" * 32767 and notes[5] == "\u200b零宽"  # the longest text a cell holds, whole
    assert df["户主姓名.1"].tolist()[-1] == '=HYPERLINK("x")'  # a formula's text, never its result
    yes = df["是否"].tolist()  # booleans as Python writes them; an error cell (#N/A) is missing, as an empty one
    assert [yes[k] for k in (0, 1, 4, 5)] == ["True", "False", "@SUM(A1)", "TRUE"] and pd.isna(yes[2:4]).all()
    assert len(df) == 6 and df["户主姓名"].tolist()[3] == "😀"  # row 9 holds a formula without a value: no row


def test_the_formats_own_escapes_are_read_as_excel_shows_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the one deliberate difference: ECMA-376's _xHHHH_ escapes are decoded (openpyxl left them as text)
    raw = openpyxl.Workbook()
    ws = raw.active
    assert ws is not None
    for text in ("文本", "张三_x000D_\n", "_x005F_x000D_", "_xD800_", "a_x00"):
        ws.append([text])
    raw.save(tmp_path / "raw.xlsx")
    before, now = read_both(tmp_path / "raw.xlsx", monkeypatch)
    assert before["文本"].tolist() == ["张三_x000D_\n", "_x005F_x000D_", "_xD800_", "a_x00"]
    assert now["文本"].tolist() == ["张三\r\n", "_x000D_", "_xD800_", "a_x00"]  # no lone surrogate is made
    # geofupin's own workbooks read back as written, streamed or built in memory
    texts = pd.DataFrame({"t": pd.Series(["_x0041_", "lone\ud800", "=1+1", "cr\rlf", "\x07"], dtype=object)})
    for cells in (0, 10**6):
        monkeypatch.setattr(gio, "XLSX_IN_MEMORY_CELLS", cells)
        p = gio.write_xlsx({"s": texts}, tmp_path / f"ours{cells}.xlsx")
        assert gio.read_table(p)["t"].tolist() == ["_x0041_", "lone\ufffd", "=1+1", "cr\nlf", "\ufffd"]


def test_a_damaged_workbook_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "名册.xlsx"
    bad.write_bytes(b"not a workbook")
    with pytest.raises(DataError, match=r"cannot read table .*名册\.xlsx: not a workbook .*Fix: give a CSV or an XLSX"):
        gio.read_table(bad)
    with zipfile.ZipFile(tmp_path / "zip.xlsx", "w") as z:
        z.writestr("a.txt", "x")
    with pytest.raises(DataError, match="not a workbook"):
        gio.read_table(tmp_path / "zip.xlsx")
    ok = hostile_workbook(tmp_path / "ok.xlsx")
    with pytest.raises(DataError, match="has no sheet '名单'; its sheets: 名册, 合并表头, 不从A1开始, 隐藏, 空表"):
        gio.read_table(ok, sheet="名单")
    with pytest.raises(DataError, match="has no sheet 5"):
        gio.read_table(ok, sheet=5)
    assert gio.read_table(ok, sheet=3)["a"].tolist() == ["b"]  # by number, hidden sheets counted


def test_the_workbooks_of_a_demo_run_read_the_same(
    demo_run: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, out = demo_run
    books = [out / "tables.xlsx", out / "roster" / "public_notice.xlsx", out / "roster" / "payment_roster.xlsx"]
    assert sum(assert_same_reading(b, monkeypatch) for b in books) > 100_000


# ------------------------------------------------------------------------ the roster, read once a run
@pytest.fixture(scope="module")
def roster_run(demo_layers: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, list[Path]]:
    """The demo's allocate and roster steps (no files written) and the tables ``read_table`` read meanwhile."""
    from demo_helpers import scenario_copy

    from geofupin import pipeline, scenario

    sc = scenario.load(scenario_copy(tmp_path_factory.mktemp("roster"), demo_layers))
    reads: list[Path] = []
    real = gio.read_table

    def counted(path: Any, **kw: Any) -> pd.DataFrame:
        reads.append(Path(path))
        return real(path, **kw)

    with pytest.MonkeyPatch.context() as m:
        m.setattr(gio, "read_table", counted)
        out = pipeline.run(sc, steps=["allocate", "roster"])
    return out, reads


def test_the_roster_is_read_once_and_the_roster_step_gives_the_same(roster_run: tuple[Any, list[Path]]) -> None:
    from geofupin import roster
    from geofupin.context import RunContext

    out, reads = roster_run
    assert [p.name for p in reads] == ["households.xlsx"]  # once (the allocate and the roster step read it before)
    shared = out.ctx.artifact("allocate", "roster")
    assert isinstance(shared, roster.RosterRead) and len(shared.households) == 1526
    # the roster step reading the file itself (no allocate artifact) gives the same tables
    sc = out.ctx.scenario
    alloc = out.ctx.results["allocate"]
    bare = dataclasses.replace(alloc, artifacts={k: v for k, v in alloc.artifacts.items() if k != "roster"})
    fresh = roster.step(RunContext(scenario=sc, layers=out.ctx.layers, results={"allocate": bare}))
    got = out.ctx.results["roster"]
    assert set(fresh.tables) == set(got.tables) and len(got.tables["roster_households"]) == 1526
    for name, table in fresh.tables.items():
        assert_frame_equal(got.tables[name], table, check_exact=True, obj=name)
    assert fresh.summary == got.summary and fresh.warnings == got.warnings
    # the read handed on is the file as it is: the allocate step changed nothing of it
    again = roster.read_roster(sc.roster, out.ctx.layers.villages)
    assert_frame_equal(shared.households, again.households, check_exact=True)
    assert_frame_equal(shared.raw, again.raw, check_exact=True)
    assert_frame_equal(shared.checks, again.checks, check_exact=True)
    # another roster section than the one read is read anew
    assert roster.roster_of(out.ctx, sc.roster) is shared
    assert roster.roster_of(out.ctx, dataclasses.replace(sc.roster, sheet=0)) is not shared


# ------------------------------------------------------------------------ workbooks: in memory or streamed
def cells_of(path: Path) -> Iterator[tuple[str, Any]]:
    """Everything a person sees of a workbook, cell by cell: values, types, formats, widths, panes, filters."""
    wb = openpyxl.load_workbook(path)
    yield "sheets", wb.sheetnames
    for ws in wb.worksheets:
        yield f"{ws.title} layout", (ws.freeze_panes, ws.auto_filter.ref, ws.dimensions, ws.max_row, ws.max_column)
        yield f"{ws.title} widths", {k: (d.width, d.customWidth) for k, d in sorted(ws.column_dimensions.items())}
        for row in ws.iter_rows():
            for c in row:
                yield c.coordinate, (ws.title, c.value, c.data_type, c.number_format, c.font.b, c.quotePrefix)


def assert_same_workbook(a: Path, b: Path) -> int:
    got, want = list(cells_of(a)), list(cells_of(b))
    assert len(got) == len(want)
    for x, y in zip(got, want, strict=True):
        assert x == y
    return len(got)


def write_both(
    tables: Mapping[str, pd.DataFrame], folder: Path, monkeypatch: pytest.MonkeyPatch, **kw: Any
) -> tuple[Path, Path]:
    """``tables`` written streamed (as every workbook was before) and built in memory."""
    out = []
    for cells, name in ((0, "streamed"), (10**9, "memory")):
        monkeypatch.setattr(gio, "XLSX_IN_MEMORY_CELLS", cells)
        out.append(gio.write_xlsx(tables, folder / f"{name}.xlsx", **kw))
    return out[0], out[1]


def hostile_tables() -> dict[str, pd.DataFrame]:
    texts = ["=1+1", "+1", "-1", "@SUM(A1)", "\t=x", '=HYPERLINK("http://x")', "0012", "长" * 40000, "", None]
    n = len(texts)
    return {
        "@表": pd.DataFrame(
            {
                "名称": pd.Series(texts, dtype=object),
                "人": pd.array([1, None, 3, 4, 5, 6, 7, 8, 9, -10], dtype="Int64"),
                "元": np.linspace(-1.5, 1e7, n),
                "亩": [np.inf, -np.inf, np.nan, 0.1, 2.675, 1e-9, 3, 4, 5, 6],
                "日期": pd.date_range("2011-03-01 08:00", periods=n, freq="37h"),
                "是": [True, False] * 5,
                "混合": [
                    1,
                    "=a",
                    2.5,
                    dt.date(2016, 1, 1),
                    dt.time(8, 0),
                    dt.timedelta(hours=30),
                    None,
                    [1],
                    {"k": 1},
                    "x",
                ],
                "文本": pd.Series(["张家塬村"] * n, dtype="str"),
            }
        ),
        "空": pd.DataFrame({"a": pd.Series([], dtype=object)}),
        "无列": pd.DataFrame(),
    }


def test_in_memory_and_streamed_workbooks_read_back_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tables = hostile_tables()
    kw: dict[str, Any] = {
        "headers_en": {"@表": {"名称": "=name", "人": "persons", "元": "yuan"}},
        "number_formats": {"@表": {"人": "#,##0", "元": "#,##0.00", "亩": "#,##0.00"}},
    }
    streamed, memory = write_both(tables, tmp_path, monkeypatch, **kw)
    assert assert_same_workbook(memory, streamed) > 100
    ws = openpyxl.load_workbook(memory)["@表"]
    names = [ws.cell(row=r, column=1) for r in range(3, 11)]
    assert all(c.data_type == "s" for c in names)  # text is a string cell, never a formula or a link
    assert [c.quotePrefix for c in names] == [True, True, True, True, True, True, False, False]
    assert ws.cell(row=10, column=1).value == "长" * 32767  # cut at Excel's limit, as streamed
    assert ws.cell(row=1, column=1).font.b and ws.freeze_panes == "A3" and ws.auto_filter.ref == "A2:H12"
    with zipfile.ZipFile(memory) as z:
        assert "xl/sharedStrings.xml" in z.namelist() and "<f>" not in z.read("xl/worksheets/sheet1.xml").decode()
    # a table over the row limit is split the same way
    monkeypatch.setattr(gio, "XLSX_MAX_ROWS", 4)
    big = {"村": pd.DataFrame({"村": [f"村{i}" for i in range(10)], "人": range(10)})}
    a, b = write_both(big, tmp_path / "split", monkeypatch, over_limit="split", headers_en={"村": {"人": "persons"}})
    assert openpyxl.load_workbook(b).sheetnames == ["村~1", "村~2", "村~3", "村~4", "村~5"]
    assert assert_same_workbook(b, a)


def test_roster_workbooks_in_memory_are_laid_out_as_streamed(
    roster_run: tuple[Any, list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, _ = roster_run
    res = out.ctx.results["roster"]
    t, cfg = res.tables, res.artifacts["config"]
    books = {
        "public_notice": notice.notice_sheets(t["roster_notice"], t["roster_notice_villages"]),
        "payment_roster": notice.payment_sheets(t["roster_payment"], t["roster_payment_check"], cfg.payment),
    }
    for name, sheets in books.items():
        assert len(sheets) == 60, name  # 59 villages' sheets and the list of them
        streamed, memory = write_both(sheets, tmp_path / name, monkeypatch)
        assert assert_same_workbook(memory, streamed) > 10_000
    # what the run writes: built in memory (a county's roster is small), read back as streamed
    monkeypatch.setattr(gio, "XLSX_IN_MEMORY_CELLS", 100_000)
    written = notice.write_roster_files(t, cfg, tmp_path / "run")
    with zipfile.ZipFile(written["payment_roster.xlsx"]) as z:
        assert "xl/sharedStrings.xml" in z.namelist()
    assert assert_same_workbook(written["payment_roster.xlsx"], tmp_path / "payment_roster" / "streamed.xlsx")
    pay = openpyxl.load_workbook(written["payment_roster.xlsx"])
    village = pay[pay.sheetnames[1]]
    assert village.freeze_panes == "A2" and village.cell(row=village.max_row, column=1).value == "合计"


def test_a_large_workbook_streams_its_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gio, "XLSX_IN_MEMORY_CELLS", 50)  # 3 columns x (1 header + 20 rows) = 63 cells: streamed
    df = pd.DataFrame({"村": ["张家塬村"] * 20, "人": range(20), "=x": ["=1"] * 20})
    p = gio.write_xlsx({"t": df}, tmp_path / "big.xlsx")
    with zipfile.ZipFile(p) as z:
        assert "xl/sharedStrings.xml" not in z.namelist()
        assert z.read("xl/worksheets/sheet1.xml").decode().count('t="inlineStr"') == 3 + 40
    monkeypatch.setattr(gio, "XLSX_IN_MEMORY_CELLS", 63)  # at the size: in memory
    q = gio.write_xlsx({"t": df}, tmp_path / "small.xlsx")
    with zipfile.ZipFile(q) as z:
        assert "xl/sharedStrings.xml" in z.namelist()
        assert {i.date_time for i in z.infolist()} == {(2016, 1, 1, 0, 0, 0)}  # pinned: equal tables, equal bytes
    assert q.read_bytes() == gio.write_xlsx({"t": df}, tmp_path / "again.xlsx").read_bytes()
    assert assert_same_workbook(q, p)


# ------------------------------------------------------------------------ the GeoPackage
def test_the_geopackage_is_the_same_bytes_as_with_synchronous_commits(tmp_path: Path) -> None:
    pts = gpd.GeoDataFrame(
        {"village_id": ["V1", "V2", "V3"], "name": ["张家塬村", "=1+1", None], "persons": [10, 20, 30]},
        geometry=[shapely.Point(0, 0), shapely.Point(1, 1), shapely.MultiPoint([(2, 2), (3, 3)])],
        crs="EPSG:4547",
    )
    water = gpd.GeoDataFrame(
        {"kind": ["river", "well", "reservoir"]},
        geometry=[shapely.LineString([(0, 0), (5, 5)]), shapely.Point(2, 3), shapely.box(0, 0, 1, 1)],
        crs="EPSG:4547",
    )
    frames = {"villages": pts, "water": water}
    styles = [{"f_table_name": "villages", "styleName": "默认", "styleQML": "<qgis/>", "useAsDefault": True}]
    got = gio.write_layers(frames, tmp_path / "new.gpkg", styles=styles)
    ref = tmp_path / "ref.gpkg"  # every layer as before: SQLite waiting for the disk at each commit
    with gio.pyogrio_config({"OGR_SQLITE_SYNCHRONOUS": "FULL"}):
        for name, layer in gio.split_geometry_families(frames).items():
            gio._write_one(
                layer.frame, ref, layer=name, driver="GPKG", append=ref.exists(), geometry_type=layer.geometry_type
            )
        gio._write_layer_styles([dict(r) for r in styles], ref)
    assert got.read_bytes() == ref.read_bytes()
    back = gio.read_results(got)
    assert set(back) == {"villages", "water_points", "water_lines", "water_areas"}
    assert back["villages"]["name"].tolist()[:2] == ["张家塬村", "=1+1"] and pd.isna(back["villages"]["name"][2])


# ------------------------------------------------------------------------ CSV and the roster's sheets, as before
def csv_safe_before(df: pd.DataFrame) -> pd.DataFrame:
    """:func:`geofupin.io.csv_safe` as it was (value by value), the reference."""
    out = df.copy()
    for i in range(out.shape[1]):
        s = out.iloc[:, i]
        if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_datetime64_any_dtype(s.dtype):
            continue
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype(object)
        out.isetitem(i, s.map(lambda v: gio.neutralize_formula(v) if isinstance(v, str) else v))
    out.columns = pd.Index([gio.neutralize_formula(c) if isinstance(c, str) else c for c in out.columns])
    return out


def test_csv_formula_guard_gives_the_same_text(tmp_path: Path) -> None:
    n = 9
    df = pd.DataFrame(
        {
            "=表头": pd.Series(["=1+1", None, "x", "-3", "@a", "\tq", "\rr", "+", ""], dtype=object),
            "str": pd.Series(["=1", "ok", None, "a", "b", "c", "d", "e", "-f"], dtype="str"),
            "cat": pd.Categorical(["=x", "y", "y", "y", "y", "y", "y", "y", None]),
            "mixed": [1, "=2", None, 3.5, "x", b"=y", ["=l"], {"k": "=v"}, np.nan],
            "neg": range(-4, n - 4),
            "none": [None] * n,
            "na": pd.Series([pd.NA] * n, dtype="string"),
            "bool": pd.array([True, False, None, True, True, True, True, True, True], dtype="boolean"),
            "when": pd.date_range("2016-01-01", periods=n),
            "plain": pd.Series(["张家塬村"] * n, dtype=object),
        }
    )
    before = df.copy()
    assert gio.csv_safe(df).to_csv(index=False) == csv_safe_before(df).to_csv(index=False)
    assert_frame_equal(df, before)  # the table itself is never changed
    p = gio.write_csv(df, tmp_path / "t.csv")
    back = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert back.columns[0] == "'=表头" and back["str"].tolist()[0] == "'=1" and back["str"].tolist()[-1] == "'-f"
    assert back["neg"].tolist()[0] == "-4" and back["mixed"].tolist()[:4] == ["1", "'=2", "", "3.5"]


def village_sheets_before(
    table: pd.DataFrame, villages: pd.DataFrame, headers: Mapping[str, str], *, total: Sequence[str] = ()
) -> dict[str, pd.DataFrame]:
    """:func:`geofupin.notice._village_sheets` as it was (a concat a village), the reference."""
    out: dict[str, pd.DataFrame] = {}
    by_village = dict(iter(table.groupby("village_id", sort=False))) if len(table) else {}
    for _, v in villages.iterrows():
        rows = by_village.get(v["village_id"], table.iloc[:0])[list(headers)].copy()
        if total:
            foot: dict[str, Any] = {c: "" for c in headers}
            foot[next(iter(headers))] = "合计"
            for c in total:
                foot[c] = float(rows[c].sum())
            rows = pd.concat([rows, pd.DataFrame([foot])], ignore_index=True)
        rows.columns = [headers[c] for c in headers]
        name = f"{v['village_name']}{v['group'] or ''}"
        key, k = name, 1
        while key in out:
            k += 1
            key = f"{name}({k})"
        out[key] = rows
    return out


def test_village_sheets_are_the_same_as_a_concat_a_village() -> None:
    rng = np.random.default_rng(7)
    n = 400
    vids = [f"V{i % 23:02d}" for i in rng.permutation(n)]
    table = pd.DataFrame(
        {
            "village_id": vids,
            "no": np.arange(1, n + 1),
            "head_name": [f"户主{i}" for i in range(n)],
            "persons": rng.integers(1, 7, n),
            "yuan": np.round(rng.uniform(0, 60000, n), 2),  # cents: the 合计 must sum them as before
            "share": rng.uniform(0, 1, n),
            "hardship": pd.array(rng.integers(0, 2, n), dtype="Int64"),
        }
    )
    vil = pd.DataFrame(
        {
            "village_id": [*(f"V{i:02d}" for i in range(23)), "V00"],
            "village_name": ["张家塬村"] * 3 + [f"村{i}" for i in range(3, 23)] + ["张家塬村"],
            "group": ["麻山组", "麻山组", None, *([""] * 20), "麻山组"],
        }
    )
    heads = {
        "no": "序号",
        "head_name": "户主姓名",
        "persons": "人口",
        "yuan": "元",
        "share": "比例",
        "hardship": "特困",
    }
    totals = ["yuan", "persons", "share", "hardship"]
    for kw in ({}, {"total": totals}):
        got, want = notice._village_sheets(table, vil, heads, **kw), village_sheets_before(table, vil, heads, **kw)
        assert list(got) == list(want) == [*want]  # names made unique the same way: 张家塬村麻山组(2), (3)
        assert "张家塬村麻山组(3)" in got
        for name in want:
            assert_frame_equal(got[name], want[name], check_exact=True, obj=name)
    # a village without rows (the notice's sheet of a village nobody moves from) and an empty table
    none = pd.DataFrame({"village_id": ["V99"], "village_name": ["空村"], "group": [""]})
    for t in (table, table.iloc[:0]):
        got, want = notice._village_sheets(t, none, heads), village_sheets_before(t, none, heads)
        assert_frame_equal(got["空村"], want["空村"], check_exact=True)
        assert got["空村"].empty
