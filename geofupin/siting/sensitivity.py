"""Weight sensitivity of a site ranking: one-at-a-time changes and seeded Monte Carlo.

Both work on the matrix of normalised criterion scores (candidates x criteria), never on
geometry, and are vectorised: Monte Carlo scores a chunk of weight draws with one matrix
product and finds each draw's top k with ``np.partition`` (no loop per candidate).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from .scoring import rank_scores

ScoreMethod = Literal["weighted_sum", "topsis"]

__all__ = ["MonteCarloResult", "monte_carlo", "one_at_a_time", "score_many", "topk_counts"]


def score_many(r: np.ndarray, w: np.ndarray, method: ScoreMethod) -> np.ndarray:
    """Scores of every candidate under each weight vector: ``(n, m) x (d, m) -> (d, n)``.

    One row per draw (contiguous, so the per-draw top-k search is fast). For TOPSIS on
    normalised scores (all benefits) the ideal point is ``w * max(r)``, so the squared
    distances are matrix products too: ``(w**2) @ ((r - r_best)**2).T``.
    """
    if method == "weighted_sum":
        return w @ r.T
    w2 = w**2
    dp = np.sqrt(np.maximum(w2 @ ((r - r.max(axis=0)) ** 2).T, 0.0))
    dm = np.sqrt(np.maximum(w2 @ ((r - r.min(axis=0)) ** 2).T, 0.0))
    tot = dp + dm
    return np.divide(dm, tot, out=np.full_like(tot, 0.5), where=tot > 0)


def topk_counts(scores: np.ndarray, k: int) -> np.ndarray:
    """How often each candidate (column) is in the top ``k`` over the draws (rows) of ``scores``.

    Ties at the k-th score are broken by column order (first columns win), so results are
    deterministic: callers order candidates by their tie key first.
    """
    d, n = scores.shape
    if k >= n:
        return np.full(n, d, dtype=np.int64)
    kth = np.partition(scores, n - k, axis=1)[:, n - k : n - k + 1]
    gt = scores > kth
    eq = scores == kth
    need = k - gt.sum(axis=1)
    if (eq.sum(axis=1) <= need).all():  # no tie straddles the cut: take every tie
        return (gt | eq).sum(axis=0).astype(np.int64)
    take = eq & (np.cumsum(eq, axis=1, dtype=np.int32) <= need[:, None])
    return (gt | take).sum(axis=0).astype(np.int64)


@dataclass(frozen=True)
class MonteCarloResult:
    """Monte Carlo weight perturbation.

    Attributes
    ----------
    p_topk
        Per candidate, the share of draws in which it is in the top k.
    stable
        ``p_topk >= stable_share``.
    draws, k, seed, concentration
        The settings used.
    weight_mean, weight_std
        Mean and standard deviation of the drawn weights per criterion.
    """

    p_topk: np.ndarray
    stable: np.ndarray
    draws: int
    k: int
    seed: int
    concentration: float
    weight_mean: np.ndarray
    weight_std: np.ndarray


def monte_carlo(
    r: np.ndarray,
    weights: np.ndarray,
    *,
    tie_key: Sequence[str] | np.ndarray,
    method: ScoreMethod = "weighted_sum",
    draws: int = 1000,
    seed: int = 42,
    concentration: float = 100.0,
    k: int = 5,
    stable_share: float = 0.9,
    chunk: int = 64,
) -> MonteCarloResult:
    """Probability of each candidate staying in the top ``k`` under random weights.

    Weights are drawn from a Dirichlet distribution with parameters ``concentration x
    weights`` (mean: the weights; zero weights stay zero), with ``numpy.random.default_rng(seed)``,
    ``chunk`` draws at a time so memory stays at ``n x chunk`` numbers.

    Parameters
    ----------
    r
        Normalised scores, candidates x criteria (1 best).
    weights
        Base weights (sum 1).
    tie_key
        Per candidate, the key breaking ties (site id).
    method, draws, seed, concentration, k, stable_share, chunk
        See :class:`~geofupin.config.siting.SensitivityConfig`.
    """
    r = np.asarray(r, dtype=float)
    n, m = r.shape
    w = np.asarray(weights, dtype=float)
    order = np.argsort(np.asarray(tie_key).astype(str), kind="stable")
    ro = np.ascontiguousarray(r[order])
    rng = np.random.default_rng(seed)
    pos = w > 0
    counts = np.zeros(n, dtype=np.int64)
    s1 = np.zeros(m)
    s2 = np.zeros(m)
    done = 0
    while done < draws:
        c = min(chunk, draws - done)
        wd = np.zeros((c, m))
        wd[:, pos] = rng.dirichlet(concentration * w[pos], size=c)
        s1 += wd.sum(axis=0)
        s2 += (wd**2).sum(axis=0)
        counts += topk_counts(score_many(ro, wd, method), min(k, n))
        done += c
    p = np.zeros(n)
    p[order] = counts / max(draws, 1)
    mean = s1 / max(draws, 1)
    std = np.sqrt(np.maximum(s2 / max(draws, 1) - mean**2, 0.0))
    return MonteCarloResult(p, p >= stable_share, draws, k, seed, concentration, mean, std)


def one_at_a_time(
    r: np.ndarray,
    weights: np.ndarray,
    names: Sequence[str],
    *,
    site_ids: Sequence[str],
    steps: Sequence[float] = (-0.2, -0.1, 0.1, 0.2),
    method: ScoreMethod = "weighted_sum",
    k: int = 5,
) -> pd.DataFrame:
    """Change one weight at a time by each relative step; rescale the others to keep the sum 1.

    Returns
    -------
    One row per criterion and step: ``criterion``, ``change`` (relative), ``weight`` (new),
    ``top1_site_id``, ``topk_site_ids`` (in rank order), ``topk_changed`` (members that
    left the base top k), ``rank_corr`` (Spearman correlation of all ranks with the base).
    """
    r = np.asarray(r, dtype=float)
    w = np.asarray(weights, dtype=float)
    ids = np.asarray(site_ids).astype(str)
    n = len(ids)
    k = min(k, n)
    variants = []
    meta = []
    for j, name in enumerate(names):
        for step in steps:
            wj = w[j] * (1 + step)
            rest = 1 - w[j]
            wn = w * ((1 - wj) / rest) if rest > 0 else np.zeros_like(w)
            wn[j] = wj
            variants.append(wn / wn.sum())
            meta.append((name, step, wj))
    wv = np.asarray(variants) if variants else np.zeros((0, len(w)))
    base_rank = rank_scores(score_many(r, w[None, :], method)[0], ids)
    base_top = set(ids[np.argsort(base_rank)[:k]])
    scores = score_many(r, wv, method) if len(wv) else np.zeros((0, n))
    rows = []
    for v, (name, step, wj) in enumerate(meta):
        rk = rank_scores(scores[v], ids)
        top = ids[np.argsort(rk)[:k]]
        corr = float(np.corrcoef(rk, base_rank)[0, 1]) if n > 1 else 1.0
        rows.append(
            {
                "criterion": name,
                "change": step,
                "weight": wj,
                "top1_site_id": top[0] if n else "",
                "topk_site_ids": ",".join(top),
                "topk_changed": len(base_top - set(top)),
                "rank_corr": corr,
            }
        )
    return pd.DataFrame(
        rows, columns=["criterion", "change", "weight", "top1_site_id", "topk_site_ids", "topk_changed", "rank_corr"]
    )
