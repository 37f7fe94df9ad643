"""Helpers for tests that drive the ``geofupin`` command on copies of the demo county."""

from __future__ import annotations

import hashlib
from pathlib import Path

from click.testing import CliRunner

from geofupin.cli import main

REPO = Path(__file__).resolve().parents[1]


def invoke(*args: str) -> tuple[int, str]:
    """Run ``geofupin ARGS`` in-process; return the exit code and everything it printed."""
    res = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return res.exit_code, res.output


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


POLICY = REPO / "scenarios" / "policy" / "seed-county.yaml"


def scenario_copy(root: Path, layers_dir: Path, *, extra: str = "") -> Path:
    """The demo scenario with its layers read from ``layers_dir`` and its outputs under ``root/maps``."""
    text = (REPO / "scenarios" / "demo.yaml").read_text(encoding="utf-8")
    text = (
        text.replace("../layers/demo/", f"{layers_dir.as_posix()}/")
        .replace("../maps/demo", (root / "maps" / "demo").as_posix())
        .replace(
            "file: policy/seed-county.yaml", f"file: {(REPO / 'scenarios' / 'policy' / 'seed-county.yaml').as_posix()}"
        )
    )
    p = root / "scenarios" / "demo.yaml"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text + extra, encoding="utf-8")
    return p
