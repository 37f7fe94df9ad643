"""The plan document (规划文本): DOCX read back with python-docx and compared with the run's tables."""

from __future__ import annotations

import io
from pathlib import Path

import docx
import geopandas as gpd
import pandas as pd
import pytest
from pyproj import CRS
from shapely.geometry import Point

from geofupin.context import Layers, RunContext, StepResult
from geofupin.document import _cell, plan_document
from geofupin.scenario import from_dict

HOSTILE = ["{{7*7}}", "=1+1", "<b>x</b>", "@SUM(A1)", "${jndi:x}"]


def texts(data: bytes) -> list[str]:
    d = docx.Document(io.BytesIO(data))
    out = [p.text for p in d.paragraphs]
    for t in d.tables:
        for row in t.rows:
            out.extend(c.text for c in row.cells)
    return out


def tiny_context(title: str) -> RunContext:
    sc = from_dict({"name": "t", "title": {"zh": title}, "layers": {"villages": "v.gpkg"}}, base_dir=Path("."))
    v = gpd.GeoDataFrame({"village_id": ["A"]}, geometry=[Point(0, 0)], crs="EPSG:4545")
    tt = pd.DataFrame(
        {
            "township": [HOSTILE[0], HOSTILE[0], "合计"],
            "village": [HOSTILE[1], HOSTILE[2] + "\x07", ""],
            "group": [HOSTILE[3], HOSTILE[4], ""],
            "households": [3, 2, 5],
            "persons": [10, 5, 15],
            "row_kind": ["detail", "detail", "total"],
        }
    )
    bc = pd.DataFrame(
        {
            "payer_zh": ["省"],
            "purpose_zh": ["建房补助"],
            "name_zh": [HOSTILE[1]],
            "purpose": ["housing"],
            "quantity": [15.0],
            "rate": [3800.0],
            "amount_yuan": [57000.0],
        }
    )
    res = StepResult(tables={"township_table": tt, "budget_county": bc}, summary={"policy": HOSTILE[2]})
    return RunContext(scenario=sc, layers=Layers(crs=CRS.from_epsg(4545), villages=v), results={"plan": res})


def test_hostile_text_appears_literally() -> None:
    data = plan_document(tiny_context("{{7*7}}规划 <i>t</i>"), run_id="abc123", inputs_sha256={"villages": "f" * 64})
    got = texts(data)
    joined = "\n".join(got)
    assert "{{7*7}}规划 <i>t</i>" in got
    for h in HOSTILE:
        assert h in joined, h
    assert "49" not in joined  # nothing was evaluated
    assert "<b>x</b>" in got  # the control character was dropped, the markup kept as text
    assert "abc123" in joined and "f" * 64 in joined
    # figures come from the tables: 5 households, 15 persons, 1 township, 2 villages; 5.70 万元
    assert "规划期内全县搬迁安置5户、15人,涉及1个乡镇、2个村。" in got
    assert any("5.70万元(57,000.00元)" in t for t in got)
    assert "补助政策:<b>x</b>。" in got
    assert "场景未设分年度计划(phasing),本章由编制单位补充。" in got


def test_cells_format() -> None:
    assert _cell("total_yuan", 1234567.891) == "1,234,567.89"
    assert _cell("total_wan", 123.456789) == "123.46"
    assert _cell("households", 12.0) == "12"
    assert _cell("cumulative_share", 0.5) == "50.0%"
    assert _cell("hazard", True) == "是"
    assert _cell("name", "=1+1") == "=1+1"


@pytest.mark.slow
def test_demo_document_tables_match_the_run(demo_run) -> None:
    _, out = demo_run
    d = docx.Document(str(out / "plan.docx"))
    heads = [p.text for p in d.paragraphs if p.style is not None and p.style.name.startswith("Heading")]
    for chap in (
        "第一章 总论",
        "第二章 搬迁对象",
        "第三章 安置点选址与论证",
        "第四章 安置方式与分配",
        "第五章 基础设施与公共服务规划",
        "第六章 资金估算与筹措",
        "第七章 分年度实施计划",
        "第八章 旧房拆除与复垦",
        "第九章 保障措施",
    ):
        assert chap in heads
    caps = [p.text for p in d.paragraphs if p.text.startswith("表") and "无数据" not in p.text]

    def table_after(caption: str):  # tables appear in the order of their captions
        return d.tables[caps.index(caption)]

    # 表7-1 against tables/phasing_years.csv: households and subsidies per year, to the yuan
    years = pd.read_csv(out / "tables" / "phasing_years.csv")
    rows = [[c.text for c in r.cells] for r in table_after("表7-1 分年度搬迁任务与资金").rows]
    assert rows[0][0] == "年度"
    assert [r[0] for r in rows[1:]] == [str(y) for y in years["year"]]
    assert [r[2] for r in rows[1:]] == [f"{h:,.0f}" for h in years["households"]]
    assert [r[5] for r in rows[1:]] == [f"{x / 1e4:,.2f}" for x in years["subsidy_total_yuan"]]  # 万元
    assert rows[0][5] == "补助资金合计(万元)"
    # 表6-1 against budget_county.csv
    bc = pd.read_csv(out / "tables" / "budget_county.csv")
    t = table_after("表6-1 补助资金测算")
    assert [r.cells[-1].text for r in t.rows[1:]] == [f"{x:,.2f}" for x in bc["amount_yuan"]]
    # the map is embedded; the cover carries the run id
    assert len(d.inline_shapes) == 1
    assert any(p.text.startswith("运行编号 run id:") for p in d.paragraphs)
    # the funding plan agrees with the budget to the yuan
    fc = pd.read_csv(out / "tables" / "funding_county.csv")
    assert fc["subsidy_total_yuan"].iloc[0] == pytest.approx(bc["amount_yuan"].sum(), abs=0.005)


def test_pdf_embeds_cjk_fonts_and_keeps_text_literal(tmp_path) -> None:
    import shutil
    import subprocess

    pytest.importorskip("matplotlib")
    if shutil.which("pdffonts") is None or shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils (pdffonts, pdftotext) not installed")
    pdf = tmp_path / "plan.pdf"
    pdf.write_bytes(
        plan_document(tiny_context("{{7*7}}规划 $x^2$"), run_id="abc123", inputs_sha256={"v": "0" * 64}, fmt="pdf")
    )
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
    cjk = [f for f in fonts if "CJK" in f]
    assert cjk and all(f.split()[-5] == "yes" for f in fonts)  # every font embedded
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "{{7*7}}规划 $x^2$" in text  # no mathtext, no template
    for h in HOSTILE:
        assert h in text, h
    assert "规划期内全县搬迁安置5户、15人,涉及1个乡镇、2个村。" in text


def test_write_document_writes_docx_and_run_json(tmp_path) -> None:
    import json

    from geofupin.pipeline import RunOutput, write_document

    out = tmp_path / "report"
    written = write_document(RunOutput(ctx=tiny_context("示范"), timings_s={}), out)
    assert {"plan.docx", "run.json"} <= set(written)
    rec = json.loads((out / "run.json").read_text(encoding="utf-8"))
    d = docx.Document(str(out / "plan.docx"))
    assert f"运行编号 run id:{rec['run_id']}" in [p.text for p in d.paragraphs]
    assert rec["outputs_sha256"]["plan.docx"]
