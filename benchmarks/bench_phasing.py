"""Benchmark the annual implementation plan (:func:`geofupin.phasing.solve`) on a 2,000-group county.

A synthetic county: 2,000 village groups (5-60 households, 3-5 persons each) allocated to 40
sites, five plan years, an annual subsidy ceiling at 115 % of a fifth of the total, and a
construction capacity per site per year at 150 % of a fifth of the site's households. Priority
weights: households x (1 + score), score 0-110 (hazard 100, poverty 0-10).

Baseline, measured in the same run: :func:`geofupin.phasing.greedy` (groups by priority per
household, each into the earliest year it fits). Candidate: the HiGHS MILP within its time limit
(started from the greedy plan). Each is run ``--repeats`` times; medians are reported.

Usage: ``python benchmarks/bench_phasing.py [--groups 2000] [--time-limit 60] [--repeats 3]``;
the last lines print the objective ratio (greedy / MILP: > 1 means the MILP plan moves
priority households earlier) and the time ratio (MILP / greedy).
"""

from __future__ import annotations

import argparse
import math
import statistics

import numpy as np
import scipy.sparse as sp

from geofupin.phasing import PhasingProblem, greedy, solve


def county(n: int, *, sites: int = 40, years: int = 5, seed: int = 2011) -> PhasingProblem:
    rng = np.random.default_rng(seed)
    hh = rng.integers(5, 61, n).astype(float)
    persons = np.round(hh * rng.uniform(3.0, 5.0, n))
    site = rng.integers(0, sites, n)
    # seed policy, roughly: 3,800 + 5,000 + 2,000 + 4,600 per person; 1,000 + 10,000 + 10,000 + 5,000 per household
    cost = np.stack([persons * 6100 + hh * 1000, persons * 5000 + hh * 10000, persons * 3150 + hh * 15000], axis=1)
    hazard = rng.random(n) < 0.15
    score = 100 * hazard + 10 * rng.random(n)
    site_hh = np.bincount(site, weights=hh, minlength=sites)
    return PhasingProblem(
        weight=hh * (1 + score),
        cost=cost,
        payers=("province", "city", "county"),
        site_households=sp.csr_matrix((hh, (np.arange(n), site)), shape=(n, sites)),
        persons=persons,
        years=tuple(range(2011, 2011 + years)),
        budget_ceiling=np.full(years, cost.sum() / years * 1.15),
        payer_ceiling=np.full((years, 3), math.inf),
        site_capacity=np.repeat((site_hh / years * 1.50)[:, None], years, axis=1),
        households_ceiling=np.full(years, math.inf),
        persons_ceiling=np.full(years, math.inf),
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--groups", type=int, default=2000)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--gap", type=float, default=1e-4)
    args = ap.parse_args()
    p = county(args.groups)
    print(f"county: {p.n} groups, {p.site_households.shape[1]} sites, {len(p.years)} years, {len(p.rows())} ceilings")
    g_times, m_times = [], []
    g = m = None
    for _ in range(args.repeats):
        g = greedy(p)
        g_times.append(g.seconds)
        m = solve(p, time_limit_s=args.time_limit, mip_gap=args.gap)
        m_times.append(m.seconds)
    assert g is not None and m is not None
    tg, tm = statistics.median(g_times), statistics.median(m_times)
    print(f"greedy: objective {g.objective:,.1f} feasible={g.feasible} median {tg:.3f} s")
    print(f"milp:   objective {m.objective:,.1f} status={m.status} gap={m.mip_gap:.2e} median {tm:.3f} s")
    print(f"within time limit ({args.time_limit:g} s): {max(m_times) <= args.time_limit + 5}")
    print(f"objective ratio greedy/milp: {g.objective / m.objective:.4f}")
    print(f"time ratio milp/greedy: {tm / tg:.1f}")


if __name__ == "__main__":
    main()
