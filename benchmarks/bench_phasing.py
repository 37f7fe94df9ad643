"""Benchmark the annual implementation plan (:mod:`geofupin.phasing`): the MILP's two formulations and the greedy.

Problems:

- ``demo``: the demo county's phasing problem (59 groups x 5 years, 85 ceilings), taken from a run of
  ``scenarios/demo.yaml`` (the steps up to ``plan``; light outputs, nothing written);
- ``4x``: the problem of bench_county's 2x2 tile of the demo as one county (236 groups, four counties'
  budget ceiling; ``--sizes`` with ``4x``, built under ``--cache`` on first use, a few minutes);
- ``rN``: a synthetic county of N village groups (5-60 households, 3-5 persons each) at N/50 sites, five
  plan years, an annual subsidy ceiling at ``--budget-slack`` x a fifth of the total and a construction
  capacity per site per year at ``--site-slack`` x a fifth of the site's households; priority weights
  households x (1 + score), score 0-110 (hazard 100, poverty 0-10).

Solvers, on the same problem and greedy start, at ``--gap`` and ``--time-limit``, ``--repeats`` times,
alternating; medians (wall and CPU seconds) are reported:

- ``yearly``: ``x[g, t]`` = group g moves in year t, the first release's model and HiGHS options
  (``phasing._milp_yearly``, what :func:`~geofupin.phasing.solve` used before);
- ``cumulative``: ``y[g, t]`` = group g has moved by year t, with the cumulative ceiling rows
  (``phasing._milp_cumulative``, what :func:`~geofupin.phasing.solve` uses now up to
  ``phasing._CUMULATIVE_MAX_GROUPS`` groups; the yearly model beyond);
- ``greedy``: :func:`geofupin.phasing.greedy` (groups by priority per household, each into the earliest
  year it fits), the baseline plan;
- ``cumulative+``: with ``--options key=value,...``, the cumulative model with those HiGHS options added
  to ``phasing._CUMULATIVE_OPTIONS`` (e.g. ``--options presolve=off,mip_heuristic_run_feasibility_jump=false``),
  to judge an option set on several problems (its plan is compared with the cumulative model's).

Each line prints the status, the objective (priority-weighted delay), the gap HiGHS proved and whether the
cumulative model's objective equals the yearly one's (1e-6 relative). The machine's load average is
printed before and after: on a shared machine read the CPU seconds too.

Usage: ``python benchmarks/bench_phasing.py [--sizes demo,4x,r200,r800] [--repeats 3] [--time-limit 60]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from geofupin import phasing
from geofupin.phasing import PhasingProblem, greedy

REPO = Path(__file__).resolve().parents[1]


def county(
    n: int,
    *,
    sites: int | None = None,
    years: int = 5,
    seed: int = 2011,
    budget_slack: float = 1.15,
    site_slack: float = 1.5,
) -> PhasingProblem:
    """A synthetic county of ``n`` groups at ``sites`` sites (default ``n / 50``, at least 4)."""
    sites = sites if sites is not None else max(4, n // 50)
    rng = np.random.default_rng(seed)
    hh = rng.integers(5, 61, n).astype(float)
    persons = np.round(hh * rng.uniform(3.0, 5.0, n))
    site = rng.integers(0, sites, n)
    # seed policy, roughly: 3,800 + 5,000 + 2,000 + 4,600 per person; 1,000 + 10,000 + 10,000 + 5,000 per household
    cost = np.stack([persons * 6100 + hh * 1000, persons * 5000 + hh * 10000, persons * 3150 + hh * 15000], axis=1)
    hazard = rng.random(n) < 0.15
    score = np.round(100 * hazard + 10 * rng.random(n), 6)
    site_hh = np.bincount(site, weights=hh, minlength=sites)
    return PhasingProblem(
        weight=hh * (1 + score),
        cost=cost,
        payers=("province", "city", "county"),
        site_households=sp.csr_matrix((hh, (np.arange(n), site)), shape=(n, sites)),
        persons=persons,
        years=tuple(range(2011, 2011 + years)),
        budget_ceiling=np.full(years, cost.sum() / years * budget_slack),
        payer_ceiling=np.full((years, 3), math.inf),
        site_capacity=np.repeat(np.maximum(site_hh / years * site_slack, hh.max())[:, None], years, axis=1),
        households_ceiling=np.full(years, math.inf),
        persons_ceiling=np.full(years, math.inf),
    )


def scenario_problem(path: Path) -> PhasingProblem:
    """The phasing problem of a scenario's run: the steps up to ``phase``, ``phasing.solve`` intercepted."""
    from geofupin import pipeline, scenario

    sc = scenario.load(path)
    sc = dataclasses.replace(sc, outputs=dataclasses.replace(sc.outputs, tables=("csv",), static_maps=(), document=()))
    seen: list[PhasingProblem] = []

    class Caught(Exception):
        pass

    def catch(problem: PhasingProblem, **_: Any) -> Any:
        seen.append(problem)
        raise Caught

    real = phasing.solve
    phasing.solve = catch  # type: ignore[assignment]
    try:
        pipeline.run(sc)
    except Caught:
        pass
    finally:
        phasing.solve = real  # type: ignore[assignment]
    if not seen:
        raise SystemExit(f"{path}: the run has no phasing problem")
    return seen[0]


def four_tile_problem(cache: Path) -> PhasingProblem:
    """The 2x2 tile of the demo as one county (bench_county's scenario), without its 周转房 (a demo village's)."""
    import yaml

    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_county import four_tile_scenario

    scen = four_tile_scenario(cache)
    sc = yaml.safe_load(scen.read_text(encoding="utf-8"))
    sc.get("placement", {}).pop("transitional_housing", None)  # names V001-G1, which the tiles rename
    sc.get("placement", {}).pop("transitional_opt_in", None)
    mine = cache / "t4-phasing.yaml"
    mine.write_text(yaml.safe_dump(sc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return scenario_problem(mine)


def timed(f: Callable[[], Any]) -> tuple[Any, float, float]:
    w, c = time.perf_counter(), time.process_time()
    out = f()
    return out, time.perf_counter() - w, time.process_time() - c


def bench(name: str, p: PhasingProblem, args: argparse.Namespace) -> None:
    g = greedy(p)
    start = g.year_index if g.feasible else None
    rows = p.rows()
    uses = "cumulative" if p.n <= phasing._CUMULATIVE_MAX_GROUPS else "yearly"
    print(
        f"{name}: {p.n} groups x {len(p.years)} years, {len(rows)} ceilings; greedy {g.objective:,.2f};"
        f" solve() uses the {uses} model",
        flush=True,
    )
    models = {
        "yearly": lambda: phasing._milp_yearly(
            p, rows, slack=False, time_limit_s=args.time_limit, mip_gap=args.gap, start=start
        ),
        "cumulative": lambda: phasing._milp_cumulative(
            p, rows, time_limit_s=args.time_limit, mip_gap=args.gap, start=start
        ),
    }
    if args.options:
        extra = dict(_option(kv) for kv in args.options.split(","))

        def with_options() -> Any:
            real = phasing._CUMULATIVE_OPTIONS
            phasing._CUMULATIVE_OPTIONS = {**real, **extra}
            try:
                return phasing._milp_cumulative(p, rows, time_limit_s=args.time_limit, mip_gap=args.gap, start=start)
            finally:
                phasing._CUMULATIVE_OPTIONS = real

        models["cumulative+"] = with_options
    res: dict[str, list[tuple[Any, float, float]]] = {k: [] for k in models}
    for _ in range(args.repeats):
        for key, f in models.items():  # alternating
            res[key].append(timed(f))
    gt = [timed(lambda: greedy(p))[1] for _ in range(args.repeats)]
    objective: dict[str, float] = {}
    for key, runs in res.items():
        status, year, _, gap, _ = runs[-1][0]
        objective[key] = p.objective(year) if year is not None else math.nan
        objs = {round(p.objective(r[0][1]), 6) if r[0][1] is not None else None for r in runs}
        print(
            f"  {key:10s} {status:11s} objective {objective[key]:14,.6f} gap {gap:.2e}"
            f"  wall {statistics.median(r[1] for r in runs):7.3f} s  cpu {statistics.median(r[2] for r in runs):7.3f} s"
            f"  (runs: {', '.join(f'{r[1]:.2f}' for r in runs)} s; objectives {sorted(objs, key=str)})",
            flush=True,
        )
    print(f"  greedy     median {statistics.median(gt):.3f} s")
    w = {k: statistics.median(r[1] for r in v) for k, v in res.items()}
    c = {k: statistics.median(r[2] for r in v) for k, v in res.items()}
    if "cumulative+" in res:
        plans = [r[0][1] for r in res["cumulative"] + res["cumulative+"]]
        same_plan = all(y is not None and np.array_equal(y, plans[0]) for y in plans)
        print(
            f"  cumulative+ ({args.options}): the same plan: {same_plan}; cumulative/cumulative+ cpu"
            f" {c['cumulative'] / c['cumulative+']:.2f}x",
            flush=True,
        )
    same = math.isclose(objective["yearly"], objective["cumulative"], rel_tol=1e-6)
    print(
        f"  objective equal (1e-6): {same}; yearly/cumulative wall {w['yearly'] / w['cumulative']:.2f}x,"
        f" cpu {c['yearly'] / c['cumulative']:.2f}x",
        flush=True,
    )


def _option(kv: str) -> tuple[str, Any]:
    """``key=value`` as a HiGHS option: true/false, an int, a float, else the text."""
    key, _, value = kv.partition("=")
    low = value.strip().lower()
    if low in ("true", "false"):
        return key.strip(), low == "true"
    for kind in (int, float):
        try:
            return key.strip(), kind(value)
        except ValueError:
            pass
    return key.strip(), value.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="demo,r200,r800", help="demo, 4x and/or rN (N synthetic groups)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--gap", type=float, default=1e-4)
    ap.add_argument("--options", default="", help="HiGHS options for a 'cumulative+' run: key=value,...")
    ap.add_argument("--budget-slack", type=float, default=1.3)
    ap.add_argument("--site-slack", type=float, default=2.0)
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "geofupin-bench-phasing")
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    for size in args.sizes.split(","):
        if size == "demo":
            p = scenario_problem(REPO / "scenarios" / "demo.yaml")
        elif size == "4x":
            args.cache.mkdir(parents=True, exist_ok=True)
            p = four_tile_problem(args.cache)
        elif size.startswith("r") and size[1:].isdigit():
            p = county(int(size[1:]), budget_slack=args.budget_slack, site_slack=args.site_slack)
        else:
            raise SystemExit(f"--sizes takes demo, 4x and rN, not {size}")
        bench(size, p, args)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
