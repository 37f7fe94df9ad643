"""The documentation site builds with ``mkdocs build --strict``, and its Python API tutorial runs and gives the
figures of ``geofupin run`` (so the docs never go stale)."""

from __future__ import annotations

import html
import importlib.util
import json
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
TUTORIAL = DOCS / "tutorial_api.py"
TUTORIAL_PAGES = (DOCS / "zh" / "tutorial.md", DOCS / "en" / "tutorial.md")


def text_of(page: Path) -> str:
    """The visible text of a built HTML page."""
    raw = page.read_text(encoding="utf-8")
    raw = re.sub(r"<(script|style)\b.*?</\1>", "", raw, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", raw))


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None, reason="mkdocs is not installed (extra 'docs')")
def test_the_site_builds_strictly_with_the_reference_and_both_languages(tmp_path: Path) -> None:
    site = tmp_path / "site"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(REPO / "mkdocs.yml"), "-d", str(site)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "WARNING" not in run.stderr, run.stderr
    # the Chinese and English user pages
    assert "快速开始" in text_of(site / "zh" / "quickstart" / "index.html")
    assert "场景文件" in text_of(site / "zh" / "scenario" / "index.html")
    assert "Scenario reference" in text_of(site / "en" / "scenario" / "index.html")
    # the tutorial pages show the code the test below runs
    for lang in ("zh", "en"):
        page = text_of(site / lang / "tutorial" / "index.html")
        assert "geofupin.access.nearest(net, villages, facilities, config=access)" in page
        assert "geofupin.policy.budget(villages, assignment, policy=policy)" in page
    # the API reference, generated from the numpydoc docstrings: parameters with their types and defaults
    ref = text_of(site / "reference" / "access" / "index.html")
    assert "geofupin.access.nearest" in ref and "Parameters" in ref and "Returns" in ref
    assert "max_snap_dist_m" in ref and "AccessConfig | None" in ref
    assert ":func:" not in ref and ":class:" not in ref  # docs/hooks.py shows the roles as code
    config = text_of(site / "reference" / "config" / "index.html")
    assert "od_cutoff_min" in config and "geofupin.config.siting.SitingConfig" in config


def sections(page: Path) -> list[str]:
    return re.findall(r'^--8<-- "tutorial_api\.py:(\w+)"$', page.read_text(encoding="utf-8"), flags=re.M)


def test_both_tutorial_pages_include_every_line_of_the_tutorial_script() -> None:
    code = TUTORIAL.read_text(encoding="utf-8")
    starts = re.findall(r"^# --8<-- \[start:(\w+)\]$", code, flags=re.M)
    ends = re.findall(r"^# --8<-- \[end:(\w+)\]$", code, flags=re.M)
    assert starts == ends and len(starts) >= 4
    for page in TUTORIAL_PAGES:
        assert sections(page) == starts, page
    # nothing runs outside the included sections (but the module docstring)
    outside = re.sub(r"^# --8<-- \[start:(\w+)\]$.*?^# --8<-- \[end:\1\]$", "", code, flags=re.M | re.S)
    outside = re.sub(r'^""".*?"""', "", outside.strip(), flags=re.S)
    assert outside.strip() == ""


def test_the_tutorial_runs_on_the_demo_and_gives_the_run_figures(
    demo_layers: Path, demo_run: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    # the tutorial's own paths, relative to a repository root: layers/demo and scenarios/policy
    (tmp_path / "layers").mkdir()
    (tmp_path / "layers" / "demo").symlink_to(demo_layers, target_is_directory=True)
    (tmp_path / "scenarios").symlink_to(REPO / "scenarios", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    ns = runpy.run_path(str(TUTORIAL), run_name="__main__")
    _, out = demo_run
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    summary = record["summary"]
    # 6,664 persons at central sites and 222 scattered, in nursing homes and in transitional housing
    assert ns["run"].allocation.served_persons == summary["allocate"]["central_relocating_persons"] == 6664
    assert ns["placed_persons"] == summary["allocate"]["served_persons"] == 6886
    assert round(ns["budget"].total_yuan) == round(summary["plan"]["budget_total_yuan"]) == 145_492_996
    printed = capsys.readouterr().out
    assert "安置 6886 人 / placed 6886 persons" in printed
    assert "补助预算 14,549.30 万元 / subsidy budget 145,492,996 yuan" in printed
    # the intermediate results are the run's too: nearest town per village and the isochrones
    va = ns["village_access"]
    written = json.loads((out / "run.json").read_text(encoding="utf-8"))["summary"]["access"]
    assert int((~va["reachable"]).sum()) == written["villages_beyond_snap"]
    assert len(ns["od"]) == written["od_pairs_within_cutoff"]
    assert set(ns["bands"]["band_min"]) == {30.0, 60.0} and (ns["bands"].area > 0).all()
    # the map: one offline page with the first-ranked site in it
    assert ns["page"].startswith("<!DOCTYPE html>") and "cdn.jsdelivr" not in ns["page"]
    assert str(ns["siting"].ranking["name"].iloc[0]) in ns["page"]
