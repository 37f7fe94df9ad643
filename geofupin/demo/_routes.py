"""Least-cost routes on the coarse grid and their conversion to a noded line network."""

from __future__ import annotations

import itertools

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra


def trace(pred: np.ndarray, target: int) -> list[int]:
    """Cells from ``target`` back to its source along a predecessor array (source last)."""
    out = [int(target)]
    cur = int(target)
    while pred[cur] >= 0:
        cur = int(pred[cur])
        out.append(cur)
    return out


def route_many(graph: csr_matrix, sources: np.ndarray, targets: np.ndarray) -> tuple[list[list[int]], np.ndarray]:
    """Least-cost paths from each target to the nearest of ``sources`` (one Dijkstra for all).

    Returns the paths (target first) and the cost of each; unreachable targets get an
    empty path and ``inf``.
    """
    dist, pred, _ = dijkstra(graph, indices=np.unique(sources), min_only=True, return_predecessors=True)
    paths: list[list[int]] = []
    for t in targets:
        paths.append(trace(pred, int(t)) if np.isfinite(dist[t]) else [])
    return paths, dist[np.asarray(targets, dtype=np.int64)]


class EdgeSet:
    """The union of routed paths as undirected grid edges; each edge keeps its first owner."""

    def __init__(self) -> None:
        self.owner: dict[tuple[int, int], int] = {}

    def add_path(self, cells: list[int], owner: int) -> None:
        """Add the consecutive cell pairs of ``cells``; edges already present keep their owner."""
        for a, b in itertools.pairwise(cells):
            key = (a, b) if a < b else (b, a)
            self.owner.setdefault(key, owner)

    def cells(self) -> np.ndarray:
        """Every cell on some edge."""
        if not self.owner:
            return np.empty(0, dtype=np.int64)
        return np.unique(np.array(list(self.owner), dtype=np.int64).ravel())

    def chains(self) -> list[tuple[list[int], int]]:
        """Maximal runs of edges with one owner between junctions: ``(cells, owner)``.

        A chain ends at every node whose degree is not 2 or whose two edges have different
        owners, so chains meet only at their end cells (the network is noded).
        """
        if not self.owner:
            return []
        keys = np.array(list(self.owner), dtype=np.int64)
        own = np.array(list(self.owner.values()), dtype=np.int64)
        adj: dict[int, list[tuple[int, int]]] = {}
        for (a, b), o in zip(keys.tolist(), own.tolist(), strict=True):
            adj.setdefault(a, []).append((b, o))
            adj.setdefault(b, []).append((a, o))
        breaks = {n for n, nb in adj.items() if len(nb) != 2 or nb[0][1] != nb[1][1]}
        seen: set[tuple[int, int]] = set()
        out: list[tuple[list[int], int]] = []

        def walk(start: int, nxt: int, o: int) -> list[int]:
            line = [start, nxt]
            seen.add((min(start, nxt), max(start, nxt)))
            prev, cur = start, nxt
            while cur not in breaks:
                cand = [(m, oo) for m, oo in adj[cur] if m != prev]
                if not cand:
                    break
                m = cand[0][0]
                key = (min(cur, m), max(cur, m))
                if key in seen:  # closed loop
                    break
                seen.add(key)
                line.append(m)
                prev, cur = cur, m
            return line

        for n in sorted(breaks):
            for m, o in sorted(adj[n]):
                if (min(n, m), max(n, m)) not in seen:
                    out.append((walk(n, m, o), o))
        # loops with no break node at all
        for (a, b), o in sorted(zip(map(tuple, keys.tolist()), own.tolist(), strict=True)):
            if (a, b) not in seen:
                breaks.add(a)
                out.append((walk(a, b, o), o))
        return out
