"""Scenario files: validated fully, unknown keys with suggestions, line numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from geofupin import scenario
from geofupin.errors import ScenarioError


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "s.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_demo_scenario_loads(repo_root: Path) -> None:
    sc = scenario.load(repo_root / "scenarios" / "demo.yaml")
    assert sc.name == "demo" and sc.crs == "auto"
    assert sc.layers.sources()["villages"].path == (repo_root / "layers" / "demo" / "villages.gpkg").resolve()
    assert sc.layers.dem == (repo_root / "layers" / "demo" / "dem.tif").resolve()
    assert sc.output_dir() == (repo_root / "maps" / "demo").resolve()
    assert sc.title.zh.startswith("示范县")


def test_every_problem_with_line_numbers(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "name: demo\n"
        "titel: x\n"
        "layers:\n"
        "  villages: v.gpkg\n"
        "  road: r.gpkg\n"
        "  roads: {path: r.gpkg, layr: x}\n"
        "outputs:\n"
        "  tables: [csv, xls]\n"
        "steps: [access, sit]\n",
    )
    with pytest.raises(ScenarioError) as info:
        scenario.load(p)
    probs = {pr.where: pr for pr in info.value.problems}
    assert set(probs) == {"titel", "layers.road", "layers.roads.layr", "outputs.tables[1]", "steps[1]"}
    assert probs["titel"].line == 2 and "did you mean 'title'" in probs["titel"].message
    assert probs["layers.road"].line == 5 and "did you mean 'roads'" in probs["layers.road"].message
    assert probs["layers.roads.layr"].line == 6 and "did you mean 'layer'" in probs["layers.roads.layr"].message
    assert probs["outputs.tables[1]"].line == 8 and "did you mean 'xlsx'" in probs["outputs.tables[1]"].message
    assert probs["steps[1]"].line == 9 and "did you mean 'site'" in probs["steps[1]"].message
    assert "5 problem(s)" in str(info.value)


def test_geographic_crs_is_refused(tmp_path: Path) -> None:
    p = write(tmp_path, "name: x\ncrs: EPSG:4326\nlayers: {villages: v.gpkg}\n")
    with pytest.raises(ScenarioError, match=r"crs \(line 2\): CRS EPSG:4326 is geographic"):
        scenario.load(p)


def test_missing_required_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="required key 'layers' is missing"):
        scenario.load(write(tmp_path, "name: x\n"))
    with pytest.raises(ValueError, match="is empty"):
        scenario.load(write(tmp_path, ""))
    with pytest.raises(ValueError, match="not valid YAML"):
        scenario.load(write(tmp_path, "name: [x\n"))
