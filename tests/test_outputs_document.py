"""``outputs.document``: which plan-document formats ``run`` writes (plan.docx, plan.pdf, both or none)."""

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
from geofupin.errors import ScenarioError
from geofupin.pipeline import RunOutput, document_files
from geofupin.scenario import from_dict


def run_output(document: list[str] | None) -> RunOutput:
    data: dict = {"name": "t", "title": {"zh": "示范县规划"}, "layers": {"villages": "v.gpkg"}}
    if document is not None:
        data["outputs"] = {"document": document}
    sc = from_dict(data, base_dir=Path("."))
    v = gpd.GeoDataFrame({"village_id": ["A"]}, geometry=[Point(0, 0)], crs="EPSG:4545")
    tt = pd.DataFrame(
        {"township": ["甲乡", "合计"], "village": ["乙村", ""], "group": ["丙组", ""], "households": [3, 3],
         "persons": [10, 10], "row_kind": ["detail", "total"]}
    )  # fmt: skip
    res = StepResult(tables={"township_table": tt}, summary={})
    ctx = RunContext(scenario=sc, layers=Layers(crs=CRS.from_epsg(4545), villages=v), results={"plan": res})
    return RunOutput(ctx=ctx, timings_s={})


def test_default_writes_docx_and_pdf() -> None:
    pytest.importorskip("matplotlib")
    out = run_output(None)
    assert out.ctx.scenario.outputs.document == ("docx", "pdf")
    files = document_files(out, out.ctx.scenario.outputs.document)
    assert set(files) == {"plan.docx", "plan.pdf"}
    assert files["plan.pdf"].startswith(b"%PDF")
    paras = [p.text for p in docx.Document(io.BytesIO(files["plan.docx"])).paragraphs]
    assert any("10人" in p for p in paras)


def test_docx_only_and_none() -> None:
    out = run_output(["docx"])
    assert set(document_files(out, out.ctx.scenario.outputs.document)) == {"plan.docx"}
    out = run_output([])
    assert document_files(out, out.ctx.scenario.outputs.document) == {}


def test_unknown_format_is_named() -> None:
    with pytest.raises(ScenarioError) as exc:
        run_output(["odt"])
    assert "outputs.document[0]" in str(exc.value) and "'docx', 'pdf'" in str(exc.value)
