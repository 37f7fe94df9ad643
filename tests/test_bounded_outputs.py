"""Bounded outputs (issue 17, deliverable 2): the workbook holds what people read, within Excel's row limit.

The workbook is written row by row (XlsxWriter, constant memory) and must read back as before: values,
two header rows, text cells as strings, equal bytes for equal tables. The all-pairs OD table
never goes into the workbook, and its CSV keeps relocating villages and their k quickest sites.
"""

from __future__ import annotations

import hashlib
import json
import time
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from openpyxl import load_workbook
from pyproj import CRS
from shapely.geometry import Point

from geofupin import io as gio
from geofupin import pipeline
from geofupin.context import Layers, RunContext, StepResult
from geofupin.errors import OutputError, ScenarioError
from geofupin.scenario import from_dict


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def table(n: int) -> pd.DataFrame:
    return pd.DataFrame({"村": [f"村{i}" for i in range(n)], "人": list(range(n))})


# ----------------------------------------------------------------------------- row limit
def test_a_table_over_the_row_limit_is_refused_with_its_name_rows_and_csv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gio, "XLSX_MAX_ROWS", 6)  # two header rows + 4 data rows
    ok = gio.write_xlsx({"fits": table(4)}, tmp_path / "ok.xlsx", headers_en={"fits": {"村": "village"}})
    assert len(list(load_workbook(ok)["fits"].values)) == 6
    target = tmp_path / "t.xlsx"
    with pytest.raises(OutputError) as err:
        gio.write_xlsx(
            {"small": table(2), "big_table": table(5)},
            target,
            headers_en={"small": {}, "big_table": {}},
            full_table={"big_table": "tables/big_table.csv"},
        )
    text = str(err.value)
    assert "big_table: 5 行 rows" in text and "tables/big_table.csv" in text and "6" in text
    assert "small" not in text.split("included):")[1]  # only the table over the limit is named
    assert not target.exists() and list(tmp_path.iterdir()) == [ok]  # nothing half-written


def test_a_table_over_the_row_limit_splits_into_numbered_sheets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gio, "XLSX_MAX_ROWS", 5)  # two header rows + 3 data rows per sheet
    monkeypatch.setattr(gio, "_XLSX_BATCH", 2)  # rows are converted in batches that cross the sheet breaks
    p = gio.write_xlsx(
        {"big": table(7), "one": table(1)},
        tmp_path / "t.xlsx",
        headers_en={"big": {"村": "village", "人": "persons"}},
        over_limit="split",
    )
    wb = load_workbook(p)
    assert wb.sheetnames == ["big~1", "big~2", "big~3", "one"]
    body = []
    for name in ("big~1", "big~2", "big~3"):
        rows = list(wb[name].values)
        assert rows[:2] == [("村", "人"), ("village", "persons")]
        assert len(rows) <= 5
        body.extend(rows[2:])
    assert body == [(f"村{i}", i) for i in range(7)]
    assert list(wb["one"].values) == [("村", "人"), ("村0", 0)]  # one header row: one more data row would fit


# ----------------------------------------------------------------------------- write-only read-back
def test_write_only_workbook_reads_back_identically(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {
            "名称": ["=1+1", "-1", "#N/A", "张家塬村", None],
            "人": [3, -2, 0, 7, 1],
            "时间_分钟": [1.5, float("nan"), float("inf"), -0.25, 2.0],
            "混合": [-2, "-2", 1.5, "@a", "ok"],
        }
    )
    en = {"名称": "name", "人": "persons", "时间_分钟": "time_min", "混合": "mixed"}
    p = gio.write_xlsx({"表": df}, tmp_path / "t.xlsx", headers_en={"表": en})
    ws = load_workbook(p)["表"]
    rows = list(ws.values)
    assert rows[0] == ("名称", "人", "时间_分钟", "混合") and rows[1] == ("name", "persons", "time_min", "mixed")
    assert rows[2:] == [
        ("=1+1", 3, 1.5, -2),
        ("-1", -2, None, "-2"),
        ("#N/A", 0, "inf", 1.5),
        ("张家塬村", 7, -0.25, "@a"),
        (None, 1, 2, "ok"),
    ]
    names = [ws.cell(row=r, column=1) for r in range(3, 7)]
    assert [c.data_type for c in names] == ["s", "s", "s", "s"]  # never a formula or an error value
    assert [bool(c.quotePrefix) for c in names] == [True, True, False, False]
    assert [ws.cell(row=r, column=4).data_type for r in range(3, 7)] == ["n", "s", "n", "s"]
    assert ws.freeze_panes == "A3"
    fast = load_workbook(p, read_only=True)["表"]  # read-only readers size the sheet by its <dimension>
    assert (fast.max_row, fast.max_column) == (7, 4)
    with zipfile.ZipFile(p) as z:
        xml = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml and "<f " not in xml


def test_equal_tables_give_equal_bytes(tmp_path: Path) -> None:
    tables = {"a": table(50), "b": table(3)}
    p1 = gio.write_xlsx(tables, tmp_path / "1.xlsx", headers_en={"a": {"村": "village"}})
    time.sleep(2.1)  # zip entry times have a 2-second resolution: a new clock second must not show
    p2 = gio.write_xlsx(tables, tmp_path / "2.xlsx", headers_en={"a": {"村": "village"}})
    assert sha(p1) == sha(p2)
    with zipfile.ZipFile(p1) as z:
        assert {i.date_time for i in z.infolist()} == {(2016, 1, 1, 0, 0, 0)}


# ----------------------------------------------------------------------------- OD trimming
def od_3x5() -> pd.DataFrame:
    """3 villages x 5 sites; times by hand (v1 has a tie at 10 min broken by distance)."""
    times = {
        "v1": [30, 10, 10, 50, 5],  # quickest: s5 (5), then s2/s3 at 10 -> s3 (dist 900 < 1000)
        "v2": [8, 7, 6, 9, 20],  # quickest: s3 (6), s2 (7)
        "v3": [1, 2, 3, 4, 5],  # does not relocate: left out
    }
    rows = []
    for v, ts in times.items():
        for j, t in enumerate(ts, start=1):
            dist = 900 if (v, j) == ("v1", 3) else 1000 + 10 * j
            rows.append({"village_id": v, "site_id": f"s{j}", "time_min": float(t), "dist_m": float(dist)})
    return pd.DataFrame(rows)


def villages_3() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"village_id": ["v1", "v2", "v3"], "relocate_persons": [12, 5, 0]},
        geometry=[Point(0, 0), Point(1000, 0), Point(2000, 0)],
        crs="EPSG:4545",
    )


def test_od_keeps_relocating_villages_and_their_k_nearest_sites() -> None:
    od = od_3x5()
    got = pipeline.od_k_nearest(od, villages_3(), 2)
    assert list(zip(got["village_id"], got["site_id"], strict=True)) == [
        ("v1", "s3"),
        ("v1", "s5"),
        ("v2", "s2"),
        ("v2", "s3"),
    ]  # the OD table's own order
    every = pipeline.od_k_nearest(od, villages_3(), None)
    assert len(every) == 10 and set(every["village_id"]) == {"v1", "v2"}
    assert len(od) == 15  # the input is not changed


def run_output(tmp_path: Path, k: object) -> pipeline.RunOutput:
    scenario = from_dict(
        {"name": "bounded", "layers": {"villages": "v.gpkg"}, "steps": ["access"], "outputs": {"od_k_nearest": k}},
        base_dir=tmp_path,
    )
    coverage = pd.DataFrame({"village_id": ["v1", "v2", "v3"], "persons": [12, 5, 0]})
    access = StepResult(tables={"coverage": coverage, "od_village_site": od_3x5()})
    layers = Layers(crs=CRS.from_epsg(4545), villages=villages_3())
    ctx = RunContext(scenario=scenario, layers=layers, results={"access": access})
    return pipeline.RunOutput(ctx=ctx, timings_s={})


def test_run_writes_the_trimmed_od_to_csv_never_to_the_workbook(tmp_path: Path) -> None:
    out = run_output(tmp_path, 2)
    written = pipeline.write_outputs(out, tmp_path / "out")
    assert "tables/od_village_site.csv" in written
    csv = pd.read_csv(tmp_path / "out" / "tables" / "od_village_site.csv", encoding="utf-8-sig", dtype=str)
    assert list(zip(csv["village_id"], csv["site_id"], strict=True)) == [
        ("v1", "s3"),
        ("v1", "s5"),
        ("v2", "s2"),
        ("v2", "s3"),
    ]
    wb = load_workbook(tmp_path / "out" / "tables.xlsx", read_only=True)
    assert wb.sheetnames == ["公共服务覆盖率"]  # coverage, in Chinese; never the OD sheet
    record = json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))
    assert record["od_village_site"] == {"k_nearest": 2, "rows_written": 4, "rows_full": 15}
    assert record["tables"]["od_village_site"] == 4
    if gio.parquet_available():
        back = pd.read_parquet(tmp_path / "out" / "tables" / "od_village_site.parquet")
        assert back["site_id"].tolist() == ["s3", "s5", "s2", "s3"]
    assert len(out.ctx.table("od_village_site")) == 15  # the steps keep the full OD


def test_od_k_nearest_all_keeps_every_pair_of_relocating_villages(tmp_path: Path) -> None:
    pipeline.write_outputs(run_output(tmp_path, "all"), tmp_path / "out")
    record = json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))
    assert record["od_village_site"] == {"k_nearest": "all", "rows_written": 10, "rows_full": 15}


def test_od_k_nearest_option_is_parsed_and_checked(tmp_path: Path) -> None:
    base = {"name": "s", "layers": {"villages": "v.gpkg"}}
    assert from_dict(base, base_dir=tmp_path).outputs.od_k_nearest == 20
    assert from_dict({**base, "outputs": {"od_k_nearest": None}}, base_dir=tmp_path).outputs.od_k_nearest is None
    assert from_dict({**base, "outputs": {"od_k_nearest": "all"}}, base_dir=tmp_path).outputs.od_k_nearest == "all"
    for bad in (0, "some"):
        with pytest.raises(ScenarioError, match="od_k_nearest"):
            from_dict({**base, "outputs": {"od_k_nearest": bad}}, base_dir=tmp_path)
