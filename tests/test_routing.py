"""Least-cost paths over a DEM grid: slope cost, the 8-neighbour graph, Dijkstra, by hand and against networkx."""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pytest

from geofupin.routing import grid_graph, least_cost_path, slope_cost


def test_slope_cost_factors() -> None:
    deg = np.degrees(np.arctan(np.array([0.0, 0.1, 0.3, 0.6, 0.61, np.nan])))
    f = slope_cost(deg, slope_ref_pct=10, max_slope_pct=60)
    assert f[:4] == pytest.approx([1, 2, 10, 37])
    assert math.isinf(f[4]) and f[5] == pytest.approx(37)  # a void costs the steepest passable slope


def test_path_around_a_wall_by_hand() -> None:
    """A wall in column 3 with one gap in row 4: 3 diagonals + 1 step down, then the same up."""
    factor = np.ones((5, 7))
    factor[:4, 3] = np.inf
    src = np.zeros_like(factor, dtype=bool)
    tgt = np.zeros_like(src)
    src[0, 0] = True
    tgt[0, 6] = True
    path = least_cost_path(factor, src, tgt, xres_m=1, yres_m=1)
    assert path.cost == pytest.approx(6 * math.sqrt(2) + 2)
    assert path.length_m == pytest.approx(6 * math.sqrt(2) + 2)
    assert tuple(path.cells[0]) == (0, 0) and tuple(path.cells[-1]) == (0, 6)
    assert [tuple(c) for c in path.cells if c[1] == 3] == [(4, 3)]


def test_path_cost_matches_networkx_on_a_slope_surface() -> None:
    rng = np.random.default_rng(7)
    z = np.cumsum(rng.normal(0, 8, size=(12, 15)), axis=1)
    from geofupin.terrain import horn_slope_deg

    factor = slope_cost(horn_slope_deg(z, xres_m=30, yres_m=30), max_slope_pct=80)
    src = np.zeros(factor.shape, dtype=bool)
    tgt = np.zeros_like(src)
    src[6, 0] = True
    tgt[:, -1] = True
    path = least_cost_path(factor, src, tgt, xres_m=30, yres_m=30)
    g = nx.Graph()
    coo = grid_graph(factor, xres_m=30, yres_m=30).tocoo()
    g.add_weighted_edges_from(zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(), strict=True))
    w = factor.shape[1]
    lengths = nx.single_source_dijkstra_path_length(g, 6 * w)
    best = min(lengths[r * w + w - 1] for r in range(factor.shape[0]) if r * w + w - 1 in lengths)
    assert path.cost == pytest.approx(best)
    # the path's cost recomputed from its own cells equals the reported cost
    cells = path.cells
    step_cost = [
        math.hypot(30 * (b[0] - a[0]), 30 * (b[1] - a[1])) * (factor[tuple(a)] + factor[tuple(b)]) / 2
        for a, b in itertools.pairwise(cells)
    ]
    assert sum(step_cost) == pytest.approx(path.cost)


def test_unreachable_target() -> None:
    factor = np.ones((3, 3))
    factor[:, 1] = np.inf
    src = np.zeros((3, 3), dtype=bool)
    tgt = np.zeros_like(src)
    src[1, 0] = True
    tgt[1, 2] = True
    assert not least_cost_path(factor, src, tgt, xres_m=1, yres_m=1).reached
