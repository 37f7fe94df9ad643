"""The layering of ARCHITECTURE.md holds: no import circle, and every import contract is kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import grimp
import networkx as nx

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


def lint_imports(config: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` in a child process (it configures logging and extends sys.path for its process)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    args = f"config_filename={str(config)!r}, " if config else ""
    code = "import sys; from importlinter.cli import lint_imports; "
    code += f"sys.exit(lint_imports({args}no_cache=True, no_logo=True))"
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def test_import_contracts_are_kept() -> None:
    run = lint_imports()
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 kept, 0 broken" in run.stdout


def test_an_upward_import_breaks_a_contract(tmp_path: Path) -> None:
    # cli reaches vocabulary through config: with vocabulary placed above cli, that chain is upward
    cfg = tmp_path / "contracts.toml"
    cfg.write_text(
        '[tool.importlinter]\nroot_package = "geofupin"\n\n[[tool.importlinter.contracts]]\n'
        'name = "upside down"\ntype = "layers"\nlayers = ["geofupin.vocabulary", "geofupin.cli"]\n',
        encoding="utf-8",
    )
    run = lint_imports(cfg)
    assert run.returncode == 1
    assert "geofupin.cli is not allowed to import geofupin.vocabulary" in run.stdout
