"""Scoring candidate sites: normalisation, weights (explicit or AHP), weighted sum, TOPSIS, ranks.

Solvers see numbers, not geometry: every function here takes arrays or DataFrames of
criterion values and returns new ones, so it can be checked on hand-written matrices.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from ..ahp import AhpResult, ahp_weights, check_weights, inconsistent_judgements, pairwise_matrix
from ..config.siting import CRITERIA, CriterionConfig
from ..errors import Problems, ScenarioError

log = logging.getLogger(__name__)

__all__ = [
    "explain",
    "normalise",
    "rank_scores",
    "resolve_weights",
    "topsis",
    "weighted_sum",
]


# ---------------------------------------------------------------------------------------
# weights
# ---------------------------------------------------------------------------------------


def resolve_weights(
    criteria: Sequence[CriterionConfig],
    method: str,
    pairwise: Sequence[Sequence[float]] | None,
    policy: Literal["normalise", "refuse"],
    *,
    max_cr: float = 0.1,
    where: str = "siting",
) -> tuple[np.ndarray, AhpResult | None, tuple[str, ...]]:
    """The weights in use, the AHP result (for ``ahp``) and warnings; raises :class:`ScenarioError`."""
    names = [c.name for c in criteria]
    problems = Problems()
    ahp = None
    if method == "ahp":
        if pairwise is None:
            raise ScenarioError("siting", [_p(f"{where}.pairwise", "method is ahp but no pairwise matrix is given.")])
        m = pairwise_matrix(pairwise, names, where=f"{where}.pairwise", problems=problems)
        if m is None:
            raise ScenarioError("siting AHP matrix", problems.errors)
        ahp = ahp_weights(m)
        if ahp.cr > max_cr:
            worst = inconsistent_judgements(m, ahp.weights, names)
            raise ScenarioError(
                "siting AHP matrix",
                [
                    _p(
                        f"{where}.pairwise",
                        f"consistency ratio CR = {ahp.cr:.3f} "
                        f"exceeds {max_cr:g}; most inconsistent judgements: {worst}.",
                        "Revise those judgements towards the implied values.",
                    )
                ],
            )
        w = ahp.weights
    else:
        w_opt = check_weights([c.weight for c in criteria], names, policy, where=f"{where}.criteria", problems=problems)
        if w_opt is None:
            raise ScenarioError("siting weights", problems.errors)
        w = w_opt
    return w, ahp, tuple(str(p) for p in problems.warnings)


def _p(where: str, message: str, fix: str = ""):  # type: ignore[no-untyped-def]
    from ..errors import Problem

    return Problem(where, message, fix)


# ---------------------------------------------------------------------------------------
# normalisation and scores
# ---------------------------------------------------------------------------------------


def normalise(values: pd.DataFrame, criteria: Sequence[CriterionConfig]) -> pd.DataFrame:
    """Scores in [0, 1] (1 best) per criterion, as each criterion declares.

    ``minmax`` uses the finite values of the column: benefit (x - min) / (max - min), cost
    (max - x) / (max - min); a constant column scores 1. ``+inf`` (e.g. no hazard at all) is
    best for a benefit criterion and worst for a cost one; NaN (unknown) scores 0.

    Parameters
    ----------
    values
        One column per criterion name (rows: candidates).
    criteria
        The criteria and their normalisation.

    Returns
    -------
    DataFrame indexed like ``values``, same columns.
    """
    out = {}
    for c in criteria:
        x = values[c.name].to_numpy(dtype=float)
        benefit = c.dir == "benefit"
        fin = np.isfinite(x)
        if c.normalise == "minmax":
            if fin.any():
                lo, hi = float(x[fin].min()), float(x[fin].max())
                span = hi - lo
                with np.errstate(invalid="ignore"):
                    r = np.ones_like(x) if span == 0 else ((x - lo) / span if benefit else (hi - x) / span)
            else:
                r = np.zeros_like(x)
            r = np.where(np.isposinf(x), 1.0 if benefit else 0.0, r)
            r = np.where(np.isneginf(x), 0.0 if benefit else 1.0, r)
        elif c.normalise == "threshold":
            t = float(c.threshold)  # type: ignore[arg-type]
            r = (x >= t if benefit else x <= t).astype(float)
        else:
            lo, hi = float(c.lower), float(c.upper)  # type: ignore[arg-type]
            with np.errstate(invalid="ignore"):
                up = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
            r = up if benefit else 1.0 - up
            r = np.where(np.isposinf(x), 1.0 if benefit else 0.0, r)
        out[c.name] = np.where(np.isnan(x), 0.0, r)
    return pd.DataFrame(out, index=values.index)


def weighted_sum(scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted sum of normalised scores: ``scores @ weights`` (weights sum to 1)."""
    return np.asarray(scores, dtype=float) @ np.asarray(weights, dtype=float)


def topsis(
    matrix: np.ndarray,
    weights: np.ndarray,
    *,
    benefit: Sequence[bool] | np.ndarray,
    normalisation: Literal["vector", "none"] = "vector",
) -> np.ndarray:
    """TOPSIS relative closeness (Hwang and Yoon 1981) of each row.

    Parameters
    ----------
    matrix
        Alternatives x criteria.
    weights
        One weight per criterion.
    benefit
        True for criteria where more is better.
    normalisation
        ``vector`` (x / ||column||, the classic method) or ``none`` (the matrix is already
        normalised, e.g. geofupin's declared normalisation; then all criteria are benefits).

    Returns
    -------
    Closeness C = d- / (d+ + d-) in [0, 1]; 0.5 where both distances are zero.
    """
    x = np.asarray(matrix, dtype=float)
    if normalisation == "vector":
        norm = np.sqrt((x**2).sum(axis=0))
        x = np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)
    v = x * np.asarray(weights, dtype=float)
    b = np.asarray(benefit, dtype=bool)
    best = np.where(b, v.max(axis=0), v.min(axis=0))
    worst = np.where(b, v.min(axis=0), v.max(axis=0))
    dp = np.sqrt(((v - best) ** 2).sum(axis=1))
    dm = np.sqrt(((v - worst) ** 2).sum(axis=1))
    tot = dp + dm
    return np.divide(dm, tot, out=np.full_like(tot, 0.5), where=tot > 0)


def rank_scores(score: np.ndarray, tie_key: Sequence[str] | np.ndarray) -> np.ndarray:
    """Ranks 1..n by score descending; equal scores ranked by ``tie_key`` ascending (deterministic).

    NaN scores (candidates that failed a hard rule) get rank 0, meaning "not ranked".
    """
    s = np.asarray(score, dtype=float)
    key = np.asarray(tie_key).astype(str)
    ok = ~np.isnan(s)
    order = np.lexsort((key, -np.where(ok, s, -np.inf), ~ok))
    rank = np.zeros(len(s), dtype=np.int64)
    rank[order] = np.arange(1, len(s) + 1)
    rank[~ok] = 0
    return rank


def explain(
    site_ids: Sequence[str],
    values: pd.DataFrame,
    normalised: pd.DataFrame,
    weights: np.ndarray,
    criteria: Sequence[CriterionConfig],
) -> pd.DataFrame:
    """Per site and criterion: value, unit, normalised score, weight and contribution (weight x score).

    The contributions of a site add up to its weighted-sum score (for TOPSIS they are the
    weighted normalised scores the distances are measured on).
    """
    names = [c.name for c in criteria]
    n, m = len(site_ids), len(names)
    return pd.DataFrame(
        {
            "site_id": np.repeat(np.asarray(site_ids, dtype=object), m),
            "criterion": np.tile(np.asarray(names, dtype=object), n),
            "label_zh": np.tile(np.asarray([CRITERIA[c][2] for c in names], dtype=object), n),
            "label_en": np.tile(np.asarray([CRITERIA[c][3] for c in names], dtype=object), n),
            "unit": np.tile(np.asarray([CRITERIA[c][1] for c in names], dtype=object), n),
            "direction": np.tile(np.asarray([c.dir for c in criteria], dtype=object), n),
            "value": values[names].to_numpy(dtype=float).reshape(-1),
            "normalised": normalised[names].to_numpy(dtype=float).reshape(-1),
            "weight": np.tile(np.asarray(weights, dtype=float), n),
            "contribution": (normalised[names].to_numpy(dtype=float) * np.asarray(weights)).reshape(-1),
        }
    )
