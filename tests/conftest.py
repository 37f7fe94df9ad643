"""Shared test fixtures.

Real data lives in ``../shared/data`` beside the repository (OpenStreetMap extracts and
SRTM/ASTER DEMs, see its SOURCES.md; © OpenStreetMap contributors, ODbL). Tests that use it
take the ``shared_data`` fixture and are skipped cleanly when the folder is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("GEOFUPIN_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The ``../shared/data`` folder, or skip the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO
