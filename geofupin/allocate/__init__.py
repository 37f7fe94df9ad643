"""Allocation: which relocating village (or 村民小组, or household) moves to which site.

Geometry, then matrix, then solver:

1. :func:`~geofupin.allocate.matrix.cost_matrix` builds a sparse units x sites
   :class:`~geofupin.allocate.matrix.CostMatrix` from the access step's OD table (or
   straight-line distance at an assumed speed), the cut-off, the side rules and k-nearest
   pruning;
2. a solver of :mod:`geofupin.allocate.solve` reads numbers only and returns a frozen
   :class:`~geofupin.allocate.solve.Allocation` (assignment, site load, unserved units with
   bilingual reasons, objective, solver, gap, status);
3. :func:`assign` does both on GeoDataFrames (villages, sites, the OD table) and returns an
   :class:`AllocationRun` with the tables ``assignment``, ``site_load``, ``unserved`` and the
   layer of flows; :func:`~geofupin.allocate.step.step`, the ``allocate`` step of a run, calls it
   and adds ``relocation_access`` when the access step ran.
"""

from __future__ import annotations

from ..config.allocate import AllocationConfig as AllocationConfig
from .matrix import RULES as RULES
from .matrix import CostMatrix as CostMatrix
from .matrix import cost_matrix as cost_matrix
from .solve import Allocation
from .solve import build_allocation as build_allocation
from .solve import greedy as greedy
from .solve import solve_divisible_milp as solve_divisible_milp
from .solve import solve_flow as solve_flow
from .solve import solve_max_coverage as solve_max_coverage
from .solve import solve_p_median as solve_p_median
from .solve import solve_single_source as solve_single_source
from .step import AllocationRun, assign
from .step import allocate as allocate
from .step import step as step

#: The public API (docs/reference/allocate.md documents each name). The step, the matrix builder and the
#: solvers stay importable by name (``from geofupin.allocate import solve_flow``).
__all__ = [
    "Allocation",
    "AllocationRun",
    "assign",
]
