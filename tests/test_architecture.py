"""The layering of ARCHITECTURE.md holds: no import circle, and every import contract is kept."""

from __future__ import annotations

from pathlib import Path

import grimp
import networkx as nx
import pytest
from importlinter.cli import lint_imports

import geofupin

REPO = Path(__file__).resolve().parents[1]


def import_graph() -> nx.DiGraph:
    """Every geofupin module and the geofupin modules it imports, at module or function level.

    An import of a module's own parent package (``from . import x`` resolving to the package)
    is not an edge, as in ``../shared/tools/import_cycles.py``.
    """
    g = grimp.build_graph("geofupin", cache_dir=None)
    out = nx.DiGraph()
    out.add_nodes_from(g.modules)
    for m in g.modules:
        for t in g.find_modules_directly_imported_by(m):
            if not m.startswith(t + "."):
                out.add_edge(m, t)
    return out


def test_the_graph_is_read_from_this_checkout_and_sees_lazy_imports() -> None:
    g = import_graph()
    assert Path(geofupin.__file__).resolve().parent == REPO / "geofupin"
    assert len(g) == len(list((REPO / "geofupin").rglob("*.py")))
    # function-level imports count: io reads .osm.pbf through osm inside read_osm
    assert g.has_edge("geofupin.io", "geofupin.osm")
    assert g.has_edge("geofupin.network", "geofupin.terrain")


def test_no_import_circles() -> None:
    circles = [sorted(c) for c in nx.strongly_connected_components(import_graph()) if len(c) > 1]
    assert circles == [], f"import circles: {circles}"


def test_a_circle_would_be_found() -> None:
    g = import_graph()
    g.add_edge("geofupin.terrain", "geofupin.plans")  # plans -> terrain exists; this closes a circle
    assert any(len(c) > 1 for c in nx.strongly_connected_components(g))


def test_import_contracts_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    assert lint_imports(config_filename=str(REPO / "pyproject.toml"), no_cache=True, no_logo=True) == 0
