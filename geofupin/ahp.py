"""The analytic hierarchy process (AHP): weights from pairwise judgements, and their consistency.

Pure numpy on plain sequences, so both the scenario's validation
(:meth:`geofupin.config.siting.SitingConfig.validate`) and the scoring
(:func:`geofupin.siting.scoring.resolve_weights`) use the same checks. Imports only
:mod:`geofupin.errors` (see ARCHITECTURE.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .errors import Problems

__all__ = ["SAATY_RI", "AhpResult", "ahp_weights", "check_weights", "inconsistent_judgements", "pairwise_matrix"]

#: Saaty's random consistency index RI by matrix size (Saaty 1980, n = 1..15).
SAATY_RI: dict[int, float] = {
    1: 0.0,
    2: 0.0,
    3: 0.58,
    4: 0.90,
    5: 1.12,
    6: 1.24,
    7: 1.32,
    8: 1.41,
    9: 1.45,
    10: 1.49,
    11: 1.51,
    12: 1.48,
    13: 1.56,
    14: 1.57,
    15: 1.59,
}


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
