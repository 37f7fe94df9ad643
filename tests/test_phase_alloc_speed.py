"""Issue 17 (session 5): the policy read once a run, the phase and allocate steps' speed-ups give the same results.

- :func:`geofupin.pipeline.run` reads and validates the scenario's policy file once and hands it to the
  ``plan``, ``phase`` and ``roster`` steps (:attr:`geofupin.context.RunContext.policy`); the next run
  reads the file again, so an edited file counts at once; the plan step's budget goes on to phase and roster.
- funding's households split at once and placement's lookups give the same tables (hand-checked here, and
  the demo's outputs compared with ``benchmarks/bench_county.py --compare``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

import geofupin.io as gio
from geofupin import pipeline, scenario
from geofupin.context import RunContext, run_policy
from geofupin.errors import ScenarioError

REPO = Path(__file__).resolve().parents[1]


def light(sc: scenario.Scenario) -> scenario.Scenario:
    return dataclasses.replace(
        sc, outputs=dataclasses.replace(sc.outputs, tables=("csv",), static_maps=(), document=())
    )


@pytest.fixture(scope="module")
def demo() -> scenario.Scenario:
    return light(scenario.load(REPO / "scenarios" / "demo.yaml"))


def counting(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Record every policy read (the steps and the pipeline read through ``geofupin.io.load_policy``)."""
    calls: list[object] = []
    real = gio.load_policy

    def load(source: object) -> object:
        calls.append(source)
        return real(source)  # type: ignore[arg-type]

    monkeypatch.setattr(gio, "load_policy", load)
    return calls


def test_a_run_reads_its_policy_file_once_and_budgets_once(
    demo: scenario.Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    import geofupin.policy as pol
    from geofupin import phasing

    calls = counting(monkeypatch)
    budgets: list[object] = []
    real_budget = pol.compute_budget

    def compute_budget(*args: object, **kw: object) -> object:
        budgets.append(args)
        return real_budget(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(pol, "compute_budget", compute_budget)
    out = pipeline.run(demo, steps=["access", "site", "allocate", "plan", "phase", "roster"])
    assert len(calls) == 1  # at load (the check), then handed to plan, phase and roster
    assert {"plan", "phase", "roster"} <= set(out.ctx.results)
    assert out.ctx.policy == gio.load_policy(demo.policy)  # the policy as the file says
    assert len(budgets) == 1  # the plan step's budget, handed to phase and roster
    # the demo's annual plan: HiGHS's proved optimum (gap 0 gives the same plan)
    ph = out.ctx.results["phase"].summary["phasing"]
    assert ph["status"] == "optimal" and ph["objective"] == pytest.approx(60459.583175, abs=1e-4)
    # the phase step computing its own budget (no plan step budget) gives the same tables
    res = dict(out.ctx.results)
    res["plan"] = dataclasses.replace(res["plan"], artifacts={})
    before = {k: res[k] for k in ("access", "site", "allocate", "plan")}
    alone = phasing.step(dataclasses.replace(out.ctx, results=before))
    assert len(budgets) == 2
    got = out.ctx.results["phase"].tables
    assert set(alone.tables) == set(got)
    for name, table in alone.tables.items():
        pd.testing.assert_frame_equal(table, got[name], check_exact=True)


def test_steps_given_layers_read_the_policy_once_too(demo: scenario.Scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    layers = pipeline.load_inputs(demo)
    calls = counting(monkeypatch)
    pipeline.run(demo, layers=layers, steps=["allocate", "plan", "phase"])
    assert len(calls) == 1  # before the plan step, handed on to phase


def test_a_changed_policy_file_is_read_again_by_the_next_run(demo: scenario.Scenario, tmp_path: Path) -> None:
    src = REPO / "scenarios" / "policy" / "seed-county.yaml"
    mine = tmp_path / "policy.yaml"
    text = src.read_text(encoding="utf-8")
    mine.write_text(text, encoding="utf-8")
    sc = dataclasses.replace(demo, policy=dataclasses.replace(demo.policy, file=mine))
    layers = pipeline.load_inputs(sc)
    before = pipeline.run(sc, layers=layers, steps=["plan"]).ctx.table("budget_county")
    old = "basis: per_person, amount: 3800,"
    assert text.count(old) == 1
    mine.write_text(text.replace(old, "basis: per_person, amount: 4800,"), encoding="utf-8")
    after = pipeline.run(sc, layers=layers, steps=["plan"]).ctx.table("budget_county")
    assert before is not None and after is not None
    b = before.set_index("rule_id").loc["province_housing_person"]
    a = after.set_index("rule_id").loc["province_housing_person"]
    assert b["quantity"] > 0 and a["quantity"] == b["quantity"]
    assert b["amount_yuan"] == pytest.approx(3800 * b["quantity"])
    assert a["amount_yuan"] == pytest.approx(4800 * b["quantity"])  # the edited file, not the first run's read


def test_run_policy_reads_the_file_when_the_context_has_none(demo: scenario.Scenario) -> None:
    layers = pipeline.load_inputs(demo)
    ctx = RunContext(scenario=demo, layers=layers)
    assert run_policy(ctx) == gio.load_policy(demo.policy)
    given = dataclasses.replace(gio.load_policy(demo.policy), name="另一政策")
    assert run_policy(dataclasses.replace(ctx, policy=given)) is given


# --------------------------------------------------------------------------- funding: households split at once
def test_households_split_each_unit_evenly_largest_first() -> None:
    from geofupin.config.funding import FundingConfig
    from geofupin.config.policy import HousingPlan, seed_policy
    from geofupin.funding import households
    from geofupin.policy import compute_budget, plan_units

    villages = pd.DataFrame(
        {
            "village_id": ["A", "B", "C", "D"],
            "name": ["甲村", "乙村", "丙村", "丁村"],
            "township": ["T1", "T1", "T2", "T2"],
            "relocate_households": [3, 2, 0, 4],
            "relocate_persons": [11, 2, 0, 9],
        }
    )
    assignment = pd.DataFrame(
        {"village_id": ["A", "B", "D"], "site_id": ["S1", "S1", "S2"], "households": [3, 2, 4], "persons": [11, 2, 9]}
    )
    budget = compute_budget(plan_units(villages, assignment), seed_policy())
    housing = HousingPlan(floor_area_m2_by_size={1: 25.0, 2: 50.0, 3: 75.0})
    h = households(budget, villages, housing, FundingConfig(building_cost_yuan_per_m2=1000))
    got = {v: g["persons"].tolist() for v, g in h.groupby("village_id", sort=True)}
    # 11 over 3: 4, 4, 3; 2 over 2: 1, 1; 9 over 4: 3, 2, 2, 2 (the largest first); C moves nobody
    assert got == {"A": [4, 4, 3], "B": [1, 1], "D": [3, 2, 2, 2]}
    assert {v: g["household_no"].tolist() for v, g in h.groupby("village_id")} == {
        "A": [1, 2, 3], "B": [1, 2], "D": [1, 2, 3, 4]
    }  # fmt: skip
    # floor area by size; a size beyond the table takes the largest size's area (4 persons -> 75 m2 here)
    assert dict(zip(h["persons"], h["floor_area_m2"], strict=True)) == {4: 75.0, 3: 75.0, 1: 25.0, 2: 50.0}
    assert h["building_cost_yuan"].tolist() == [1000 * a for a in h["floor_area_m2"]]


def test_steps_that_need_no_policy_read_none(demo: scenario.Scenario, tmp_path: Path) -> None:
    """Without their sections phase and roster do nothing: a run of them alone reads no policy file."""
    layers = pipeline.load_inputs(demo)
    sc = dataclasses.replace(
        demo,
        phasing=None,
        funding=None,
        reclamation=None,
        roster=None,
        policy=dataclasses.replace(demo.policy, file=tmp_path / "missing.yaml"),
    )
    out = pipeline.run(sc, layers=layers, steps=["phase", "roster"])
    assert out.ctx.policy is None
    assert out.ctx.results["roster"].summary == {"skipped": "no roster section"}
    with pytest.raises(ScenarioError, match=r"missing\.yaml"):  # the plan step needs it
        pipeline.run(sc, layers=layers, steps=["plan"])
