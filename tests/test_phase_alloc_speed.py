"""Issue 17 (session 5): the policy read once a run, the phase and allocate steps' speed-ups give the same results.

- :func:`geofupin.pipeline.run` reads and validates the scenario's policy file once and hands it to the
  ``plan``, ``phase`` and ``roster`` steps (:attr:`geofupin.context.RunContext.policy`); the next run
  reads the file again, so an edited file counts at once.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import geofupin.io as gio
from geofupin import pipeline, scenario
from geofupin.context import RunContext, run_policy

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


def test_a_run_reads_its_policy_file_once(demo: scenario.Scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = counting(monkeypatch)
    out = pipeline.run(demo, steps=["allocate", "plan", "phase", "roster"])
    assert len(calls) == 1  # at load (the check), then handed to plan, phase and roster
    assert {"plan", "phase", "roster"} <= set(out.ctx.results)
    assert out.ctx.policy == gio.load_policy(demo.policy)  # the policy as the file says


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
