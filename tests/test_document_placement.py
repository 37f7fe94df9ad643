"""第四章 安置方式与分配: the 分散安置 / 集中供养 / 周转房 section from the placement tables (DOCX read back)."""

from __future__ import annotations

import io
from pathlib import Path

import docx
import geopandas as gpd
import pandas as pd
from pyproj import CRS
from shapely.geometry import Point

from geofupin.context import Layers, RunContext, StepResult
from geofupin.document import plan_document
from geofupin.scenario import from_dict


def context(modes: pd.DataFrame, unplaced: pd.DataFrame) -> RunContext:
    sc = from_dict({"name": "t", "title": {"zh": "示范县"}, "layers": {"villages": "v.gpkg"}}, base_dir=Path("."))
    v = gpd.GeoDataFrame({"village_id": ["A"]}, geometry=[Point(0, 0)], crs="EPSG:4545")
    budget = pd.DataFrame({"mode": modes["mode"], "total_yuan": [43_000.0, 25_000.0, 21_000.0, 31_000.0][: len(modes)]})
    tables = {"placement_modes": modes, "budget_mode": budget, "placement_unplaced": unplaced}
    res = StepResult(tables=tables, summary={})
    return RunContext(scenario=sc, layers=Layers(crs=CRS.from_epsg(4545), villages=v), results={"plan": res})


MODES = pd.DataFrame(
    {
        "mode": ["central", "scattered", "nursing_home", "transitional"],
        "mode_zh": ["集中安置", "分散安置", "集中供养", "周转房安置"],
        "households": [3, 2, 1, 1],
        "persons": [13, 7, 1, 4],
        "destinations": [1, 0, 1, 1],
    }
)


def read(data: bytes) -> tuple[list[str], list[list[list[str]]]]:
    d = docx.Document(io.BytesIO(data))
    return [p.text for p in d.paragraphs], [[[c.text for c in r.cells] for r in t.rows] for t in d.tables]


def test_the_section_gives_each_mode_its_households_and_subsidies() -> None:
    unplaced = pd.DataFrame(
        {
            "name": ["甲村"], "head_name": ["{{7*7}}=1+1"], "status_zh": ["五保户"], "persons": [1],
            "wanted_mode_zh": ["集中供养"], "reason_zh": ["敬老院床位已满"], "fallback_mode_zh": ["集中安置"],
        }
    )  # fmt: skip
    paras, tables = read(plan_document(context(MODES, unplaced), run_id="r", inputs_sha256={}))
    assert "二、分散安置与特殊群体安置" in paras
    line = next(p for p in paras if p.startswith("按搬迁户的意愿"))
    assert "集中安置3户、13人(安置点1处)" in line
    assert "分散安置2户、7人(投亲靠友、进城购房等自主安置)" in line
    assert "集中供养1户、1人(入住敬老院1处)" in line and "周转房安置1户、4人(入住村集体周转房1处)" in line
    summary = next(t for t in tables if t[0][0] == "安置方式")
    assert summary[0] == ["安置方式", "户数", "人数", "安置去处(个)", "合计(万元)"]
    assert summary[1:] == [
        ["集中安置", "3", "13", "1", "4.30"],
        ["分散安置", "2", "7", "0", "2.50"],
        ["集中供养", "1", "1", "1", "2.10"],
        ["周转房安置", "1", "4", "1", "3.10"],
    ]
    assert "有1户未能按意愿安置,改为其他方式安置,原因见下表。" in paras
    unplaced_rows = next(t for t in tables if any("{{7*7}}=1+1" in c for c in t[-1]))
    assert unplaced_rows[-1][-2:] == ["敬老院床位已满", "集中安置"]


def test_no_section_when_every_household_moves_to_a_central_site() -> None:
    only = MODES.iloc[:1]
    paras, _ = read(plan_document(context(only, only.iloc[:0]), run_id="r", inputs_sha256={}))
    assert not any("特殊群体安置" in p for p in paras)
