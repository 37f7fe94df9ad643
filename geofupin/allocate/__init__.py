"""Allocation: which relocating village (or 村民小组, or household) moves to which site.

Geometry, then matrix, then solver:

1. :func:`~geofupin.allocate.matrix.cost_matrix` builds a sparse units x sites
   :class:`~geofupin.allocate.matrix.CostMatrix` from the access step's OD table (or
   straight-line distance at an assumed speed), the cut-off, the side rules and k-nearest
   pruning;
2. a solver of :mod:`geofupin.allocate.solve` reads numbers only and returns a frozen
   :class:`~geofupin.allocate.solve.Allocation` (assignment, site load, unserved units with
   bilingual reasons, objective, solver, gap, status);
3. :func:`~geofupin.allocate.step.step` runs it inside a pipeline and returns the layer
   ``allocation_flows``, the tables ``assignment``, ``site_load``, ``unserved`` (and
   ``relocation_access`` when the access step ran) and the artifact ``allocation``.
"""

from __future__ import annotations

from ..config.allocate import AllocationConfig
from .matrix import RULES, CostMatrix, cost_matrix
from .solve import (
    Allocation,
    build_allocation,
    greedy,
    solve_divisible_milp,
    solve_flow,
    solve_max_coverage,
    solve_p_median,
    solve_single_source,
)
from .step import allocate, step

__all__ = [
    "RULES",
    "Allocation",
    "AllocationConfig",
    "CostMatrix",
    "allocate",
    "build_allocation",
    "cost_matrix",
    "greedy",
    "solve_divisible_milp",
    "solve_flow",
    "solve_max_coverage",
    "solve_p_median",
    "solve_single_source",
    "step",
]
