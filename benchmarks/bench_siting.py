"""Benchmark geofupin.siting scoring: 100,000 candidates with 1,000 Monte Carlo weight draws.

Usage::

    python benchmarks/bench_siting.py           # 100,000 candidates x 1,000 draws
    python benchmarks/bench_siting.py --quick   # 10,000 x 200

Measures, on generated criterion values (9 criteria): screening with reasons, normalisation
+ weighted sum + ranks, TOPSIS, one-at-a-time sensitivity and the Monte Carlo top-k
probabilities (weighted sum and TOPSIS). The baseline, measured in the same run, is the
straightforward vectorised-per-draw version: one full ``argsort`` of all candidates per
draw, timed on 100 draws and scaled to the full count (it is linear in draws). The last lines
are the ratios.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geofupin.config.siting import SitingConfig
from geofupin.siting.scoring import normalise, rank_scores, resolve_weights, topsis, weighted_sum
from geofupin.siting.screening import build_rules, screen
from geofupin.siting.sensitivity import monte_carlo, one_at_a_time


def generate(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "site_id": np.char.add("S", np.char.zfill(np.arange(n).astype(str), 6)).astype(object),
            "dist_water_m": rng.gamma(2, 400, n),
            "dist_power_m": rng.gamma(2, 600, n),
            "dist_road_m": rng.gamma(2, 300, n),
            "time_min_town": rng.gamma(3, 12, n),
            "time_min_school": rng.gamma(3, 8, n),
            "time_min_clinic": rng.gamma(3, 10, n),
            "slope_mean_deg": rng.uniform(0, 35, n),
            "slope_max_deg": rng.uniform(5, 45, n),
            "buildable_area_m2": rng.uniform(5e3, 2e5, n),
            "dist_hazard_m": rng.gamma(2, 800, n),
            "capacity_persons": rng.integers(0, 2000, n).astype(float),
            "time_min_town_any": rng.gamma(3, 12, n),
            "basic_farmland_share": np.where(rng.random(n) < 0.1, rng.random(n), 0.0),
            "ecological_redline_share": np.where(rng.random(n) < 0.05, rng.random(n), 0.0),
            "hazard_share": np.where(rng.random(n) < 0.05, rng.random(n), 0.0),
            "flood_zone_share": np.where(rng.random(n) < 0.05, rng.random(n), 0.0),
        }
    )


def timed(label: str, f, *args, **kw):  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    out = f(*args, **kw)
    dt = time.perf_counter() - t
    print(f"  {label:46s} {dt:8.3f} s", flush=True)
    return out, dt


def baseline_argsort(r: np.ndarray, w: np.ndarray, ids: np.ndarray, draws: int, seed: int, k: int) -> np.ndarray:
    """Same draws; one full argsort (ties by id) per draw."""
    n = r.shape[0]
    order = np.argsort(ids, kind="stable")
    ro = r[order]
    rng = np.random.default_rng(seed)
    counts = np.zeros(n)
    for _ in range(draws):
        wd = rng.dirichlet(100.0 * w)
        top = np.argsort(-(ro @ wd), kind="stable")[:k]
        counts[top] += 1
    p = np.zeros(n)
    p[order] = counts / draws
    return p


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    n, draws = (10_000, 200) if a.quick else (100_000, 1000)
    k = 10
    cfg = SitingConfig()
    df = generate(n)
    print(f"{n} candidates, {len(cfg.criteria)} criteria, {draws} draws, top {k}:")
    rules, _ = build_rules(cfg.rules, available=["dem", "constraints", "water", "power", "roads", "times"])
    scr, t_screen = timed("screening (10 rules, reasons zh/en)", screen, df, rules)
    crit = cfg.criteria
    names = [c.name for c in crit]
    w, _, _ = resolve_weights(crit, cfg.method, None, cfg.weight_sum)
    ids = df["site_id"].to_numpy().astype(str)

    def ws() -> np.ndarray:
        r = normalise(df[names], crit).to_numpy()
        return rank_scores(weighted_sum(r, w), ids)

    _, t_ws = timed("normalise + weighted sum + ranks", ws)
    r = normalise(df[names], crit).to_numpy()
    _, t_top = timed("TOPSIS", topsis, r, w, benefit=[True] * len(names), normalisation="none")
    _, t_oat = timed("one-at-a-time (9 criteria x 4 steps)", one_at_a_time, r, w, names, site_ids=ids, k=k)
    mc, t_mc = timed(f"Monte Carlo weighted sum ({draws} draws)", monte_carlo, r, w, tie_key=ids, draws=draws, k=k)
    _, t_mct = timed(
        f"Monte Carlo TOPSIS ({draws} draws)", monte_carlo, r, w, tie_key=ids, draws=draws, k=k, method="topsis"
    )
    base_draws = min(draws, 100)  # the baseline is slow: time it on 100 draws and scale (it is linear in draws)
    p0, t_b = timed(f"baseline: argsort per draw ({base_draws} draws)", baseline_argsort, r, w, ids, base_draws, 42, k)
    t_base = t_b * draws / base_draws
    same = np.abs(p0 - monte_carlo(r, w, tie_key=ids, draws=base_draws, k=k).p_topk).max()
    total = t_screen + t_ws + t_top + t_oat + t_mc
    print(
        f"  failed screening: {int((~scr.verdict['passed']).sum())}; stable top-{k}: {int(mc.stable.sum())}; "
        f"max |p - baseline p| = {same:.3g}"
    )
    print(
        f"ratio baseline argsort (scaled from {base_draws} draws) / geofupin Monte Carlo ({n} x {draws}): "
        f"{t_base / t_mc:.2f}"
    )
    print(f"ratio Monte Carlo TOPSIS / weighted sum ({n} x {draws}): {t_mct / t_mc:.2f}")
    print(f"total scoring with sensitivity ({n} x {draws}, weighted sum): {total:.2f} s")


if __name__ == "__main__":
    main()
