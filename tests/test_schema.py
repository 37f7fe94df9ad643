"""The typed YAML parser behind every scenario section."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from geofupin._schema import parse, suggest
from geofupin.errors import Problems


@dataclass(frozen=True)
class Inner:
    limit_m: float
    mode: Literal["a", "b"] = "a"


@dataclass(frozen=True)
class Outer:
    name: str
    inner: Inner | Path | None = None
    weights: dict[str, float] = field(default_factory=dict)
    bands_min: tuple[int, ...] = (15, 30)

    def validate(self, where: str, problems: Problems) -> None:
        if self.weights and abs(sum(self.weights.values()) - 1) > 1e-9:
            problems.add(f"{where}.weights", f"weights sum to {sum(self.weights.values()):g}, not 1.", "Rescale them.")


def test_valid_mapping_parses_to_frozen_values(tmp_path: Path) -> None:
    p = Problems()
    out = parse(Outer, {"name": "x", "inner": {"limit_m": 3}, "bands_min": [10, 20]}, "s", p, base_dir=tmp_path)
    assert not p.errors
    assert out == Outer(name="x", inner=Inner(limit_m=3.0), bands_min=(10, 20))
    assert isinstance(out.inner.limit_m, float)


def test_path_resolves_against_base_dir(tmp_path: Path) -> None:
    p = Problems()
    out = parse(Outer, {"name": "x", "inner": "layers/v.gpkg"}, "s", p, base_dir=tmp_path)
    assert out.inner == tmp_path / "layers" / "v.gpkg"


def test_every_problem_is_reported_at_once() -> None:
    p = Problems()
    out = parse(
        Outer, {"nam": "x", "inner": {"limit_m": "far", "mode": "c", "extra": 1}, "bands_min": [1, "x"]}, "s", p
    )
    assert out is None
    text = [str(e) for e in p.errors]
    assert any("unknown key 'nam'" in t and "did you mean 'name'" in t for t in text)
    assert any(e.where == "s.name" and "required key 'name'" in e.message for e in p.errors)
    assert any(e.where == "s.inner.limit_m" and "expected a number" in e.message for e in p.errors)
    assert any(e.where == "s.inner.mode" and "'c' is not one of 'a', 'b'" in e.message for e in p.errors)
    assert any(e.where == "s.inner.extra" for e in p.errors)
    assert any(e.where == "s.bands_min[1]" for e in p.errors)
    assert len(p.errors) == 6


def test_validate_hook_runs_after_fields() -> None:
    p = Problems()
    assert parse(Outer, {"name": "x", "weights": {"a": 0.5, "b": 0.6}}, "sec", p) is None
    assert p.errors[0].where == "sec.weights" and "sum to 1.1" in p.errors[0].message


def test_bool_is_not_a_number_and_int_accepts_integral_float() -> None:
    p = Problems()
    assert parse(Inner, {"limit_m": True}, "i", p) is None
    assert "expected a number" in p.errors[0].message
    p2 = Problems()
    assert parse(tuple[int, ...], [1.0, 2], "t", p2) == (1, 2)


def test_suggest() -> None:
    assert suggest("vilages", ["villages", "roads"]) == " (did you mean 'villages'?)"
    assert suggest("zzz", ["villages"]) == ""


@dataclass(frozen=True)
class Limits:
    radius_m: float = 1.0
    cap: float | None = None
    weights: dict[str, float] = field(default_factory=dict)
    ceiling: float = field(default=math.inf, metadata={"nonfinite": True})
    count: int = 0
    label: str = field(default="a", metadata={"check": lambda v, w, p: _no_x(v, w, p)})


def _no_x(value: str, where: str, problems: Problems) -> None:
    if "x" in value:
        problems.add(where, f"{value!r} holds an x.", "Drop the x.")


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 10**400, -(10**400)])
def test_non_finite_numbers_are_refused_everywhere_with_their_path(bad: float) -> None:
    p = Problems()
    assert parse(Limits, {"radius_m": bad, "cap": bad, "weights": {"a": 0.5, "b": bad}}, "sec", p) is None
    assert [e.where for e in p.errors] == ["sec.radius_m", "sec.cap", "sec.weights.b"]
    assert all("is not a finite number" in e.message for e in p.errors)
    shown = {math.nan: "nan", math.inf: "inf", -math.inf: "-inf"}.get(bad, "a 401-digit number")
    assert p.errors[0].message == f"{shown} is not a finite number."


def test_a_field_may_allow_infinity_explicitly() -> None:
    p = Problems()
    assert parse(Limits, {"ceiling": math.inf}, "sec", p) == Limits(ceiling=math.inf)
    assert not p.errors


def test_whole_numbers_beyond_int64_are_refused() -> None:
    p = Problems()
    assert parse(Limits, {"count": 2**63}, "sec", p) is None
    assert p.errors[0].where == "sec.count" and "is too large" in p.errors[0].message
    assert parse(Limits, {"count": 2**63 - 1}, "sec", Problems()) == Limits(count=2**63 - 1)
    p2 = Problems()
    assert parse(Limits, {"count": math.nan}, "sec", p2) is None and "expected a whole number" in p2.errors[0].message


def test_field_checks_run_even_when_other_fields_fail() -> None:
    p = Problems()
    assert parse(Limits, {"label": "xy", "radius_m": "far"}, "sec", p) is None
    assert {e.where for e in p.errors} == {"sec.label", "sec.radius_m"}
    assert [e.message for e in p.errors if e.where == "sec.label"] == ["'xy' holds an x."]


@pytest.mark.parametrize("raw", ["v\x00.gpkg", "v\n.gpkg", "a" * 300 + ".gpkg", "x/" * 2100])
def test_impossible_paths_are_refused_before_the_disk_is_asked(raw: str) -> None:
    p = Problems()
    assert parse(Outer, {"name": "x", "inner": raw}, "s", p) is None
    assert p.errors[0].where == "s.inner"
    assert "file path" in p.errors[0].message or "over 255 bytes" in p.errors[0].message
