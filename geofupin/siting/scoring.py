"""Scoring candidate sites: normalisation, weights (explicit or AHP), weighted sum, TOPSIS, ranks.

Solvers see numbers, not geometry: every function here takes arrays or DataFrames of
criterion values and returns new ones, so it can be checked on hand-written matrices.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ..errors import Problems, ScenarioError
from .config import CRITERIA, SAATY_RI, CriterionConfig

log = logging.getLogger(__name__)

__all__ = [
    "AhpResult",
    "ahp_weights",
    "check_weights",
    "explain",
    "inconsistent_judgements",
    "normalise",
    "pairwise_matrix",
    "rank_scores",
    "resolve_weights",
    "topsis",
    "weighted_sum",
]


# ---------------------------------------------------------------------------------------
# weights
# ---------------------------------------------------------------------------------------


def check_weights(
    weights: Sequence[float | None],
    names: Sequence[str],
    policy: Literal["normalise", "refuse"],
    *,
    where: str,
    problems: Problems,
) -> np.ndarray | None:
    """Check explicit weights; return them summing to 1, or ``None`` after adding an error.

    All ``None`` means equal weights. Some ``None`` is an error (which ones are missing is
    named). A sum other than 1 (beyond 1e-6) is normalised with a warning or refused, as
    ``policy`` says.
    """
    given = [w is not None for w in weights]
    if not any(given):
        return np.full(len(names), 1.0 / max(len(names), 1))
    if not all(given):
        missing = [n for n, g in zip(names, given, strict=True) if not g]
        problems.add(where, f"weights missing for {', '.join(missing)}.", "Give every criterion a weight, or none.")
        return None
    w = np.asarray(weights, dtype=float)
    if (w < 0).any() or not np.isfinite(w).all():
        problems.add(where, f"weights {w.tolist()} include a negative or non-finite value.", "Use weights >= 0.")
        return None
    total = float(w.sum())
    if total <= 0:
        problems.add(where, "all weights are zero.", "Give at least one positive weight.")
        return None
    if abs(total - 1.0) > 1e-6:
        text = f"weights sum to {total:g}, not 1 ({', '.join(f'{n}={x:g}' for n, x in zip(names, w, strict=True))})."
        if policy == "refuse":
            problems.add(where, text, "Make them sum to 1, or set weight_sum: normalise.")
            return None
        problems.add(
            where, text + " They were divided by their sum.", "Make them sum to 1 to silence this.", severity="warning"
        )
    return w / total


def pairwise_matrix(
    rows: Sequence[Sequence[float]], names: Sequence[str], *, where: str, problems: Problems, rtol: float = 0.02
) -> np.ndarray | None:
    """Check an AHP matrix: square, positive, unit diagonal, reciprocal (a_ij * a_ji = 1 within ``rtol``).

    Entries like 0.333 for 1/3 are accepted within the tolerance; the matrix returned is made
    exactly reciprocal from its upper triangle.
    """
    a = np.asarray([list(r) for r in rows], dtype=float)
    n = len(names)
    if a.shape != (n, n):
        problems.add(where, f"matrix shape {a.shape} is not {n} x {n}.", "One row and column per criterion.")
        return None
    ok = True
    if not (np.isfinite(a).all() and (a > 0).all()):
        problems.add(where, "the matrix has zero, negative or missing entries.", "Use positive judgements (1/9 .. 9).")
        return None
    for i in range(n):
        if abs(a[i, i] - 1) > 1e-9:
            problems.add(f"{where}[{i}][{i}]", f"diagonal entry {a[i, i]:g} ({names[i]} vs itself) is not 1.", "Set 1.")
            ok = False
    iu, ju = np.triu_indices(n, 1)
    prod = a[iu, ju] * a[ju, iu]
    bad = np.flatnonzero(np.abs(prod - 1) > rtol)
    for k in bad:
        i, j = int(iu[k]), int(ju[k])
        problems.add(
            f"{where}[{j}][{i}]",
            f"not reciprocal: {names[i]} vs {names[j]} is {a[i, j]:g} but {names[j]} vs {names[i]} is {a[j, i]:g}.",
            f"Set it to 1/{a[i, j]:g} = {1 / a[i, j]:.4g}.",
        )
        ok = False
    if not ok:
        return None
    out = a.copy()
    out[ju, iu] = 1.0 / a[iu, ju]
    return out


@dataclass(frozen=True)
class AhpResult:
    """Weights from an AHP pairwise matrix.

    Attributes
    ----------
    weights
        Principal right eigenvector normalised to sum 1.
    lambda_max
        Principal eigenvalue.
    ci
        Consistency index (lambda_max - n) / (n - 1).
    ri
        Saaty's random index for n.
    cr
        Consistency ratio CI / RI (0 for n <= 2).
    """

    weights: np.ndarray
    lambda_max: float
    ci: float
    ri: float
    cr: float


def ahp_weights(matrix: np.ndarray) -> AhpResult:
    """Principal-eigenvector weights and Saaty's consistency ratio of a reciprocal matrix.

    Examples
    --------
    >>> r = ahp_weights(np.array([[1, 3, 5], [1 / 3, 1, 3], [1 / 5, 1 / 3, 1]]))
    >>> [round(x, 3) for x in r.weights], round(r.cr, 3)
    ([0.637, 0.258, 0.105], 0.033)
    """
    a = np.asarray(matrix, dtype=float)
    n = a.shape[0]
    vals, vecs = np.linalg.eig(a)
    k = int(np.argmax(vals.real))
    lam = float(vals[k].real)
    w = np.abs(vecs[:, k].real)
    w = w / w.sum()
    ci = (lam - n) / (n - 1) if n > 2 else 0.0
    ri = SAATY_RI.get(n, 1.59)
    cr = ci / ri if ri > 0 else 0.0
    return AhpResult(w, lam, max(ci, 0.0), ri, max(cr, 0.0))


def inconsistent_judgements(matrix: np.ndarray, weights: np.ndarray, names: Sequence[str], *, top: int = 3) -> str:
    """The judgements furthest from the weights' ratios, in words, worst first.

    Each judgement a_ij is compared with w_i / w_j; the error is |log(a_ij w_j / w_i)|.
    """
    a = np.asarray(matrix, dtype=float)
    n = a.shape[0]
    iu, ju = np.triu_indices(n, 1)
    implied = weights[iu] / weights[ju]
    err = np.abs(np.log(a[iu, ju] / implied))
    order = np.argsort(-err, kind="stable")[:top]
    return "; ".join(
        f"{names[iu[k]]} vs {names[ju[k]]} = {a[iu[k], ju[k]]:.3g} (the other judgements imply {implied[k]:.3g})"
        for k in order
    )


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
