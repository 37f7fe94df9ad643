"""Tests of geofupin.siting scoring and sensitivity on hand-written matrices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geofupin._schema import parse
from geofupin.ahp import ahp_weights
from geofupin.config.siting import CriterionConfig, SitingConfig
from geofupin.errors import Problems, ScenarioError
from geofupin.siting.scoring import (
    explain,
    normalise,
    rank_scores,
    resolve_weights,
    topsis,
    weighted_sum,
)
from geofupin.siting.sensitivity import monte_carlo, one_at_a_time, score_many, topk_counts

# --- AHP ------------------------------------------------------------------------------------


def test_ahp_saaty_three_criteria_example() -> None:
    # The classic 3 x 3 example of the Saaty scale: weights 0.637/0.258/0.105, lambda 3.039, CR 0.033.
    r = ahp_weights(np.array([[1, 3, 5], [1 / 3, 1, 3], [1 / 5, 1 / 3, 1]]))
    assert r.weights == pytest.approx([0.6370, 0.2583, 0.1047], abs=5e-4)
    assert r.lambda_max == pytest.approx(3.0385, abs=5e-4)
    assert r.ci == pytest.approx(0.0193, abs=5e-4)
    assert r.ri == 0.58
    assert r.cr == pytest.approx(0.033, abs=1e-3)


def test_ahp_consistent_matrix_recovers_weights_with_zero_cr() -> None:
    w = np.array([0.4, 0.3, 0.2, 0.1])
    r = ahp_weights(w[:, None] / w[None, :])
    assert r.weights == pytest.approx(w, abs=1e-12)
    assert r.lambda_max == pytest.approx(4.0)
    assert r.cr == pytest.approx(0.0, abs=1e-12)


def test_ahp_weights_equal_power_iteration() -> None:
    # independent check: the principal eigenvector by power iteration
    a = np.array([[1, 2, 4, 3], [1 / 2, 1, 3, 2], [1 / 4, 1 / 3, 1, 1 / 2], [1 / 3, 1 / 2, 2, 1]])
    v = np.ones(4)
    for _ in range(200):
        v = a @ v
        v /= v.sum()
    lam = float((a @ v / v).mean())
    r = ahp_weights(a)
    assert r.weights == pytest.approx(v, abs=1e-10)
    assert r.cr == pytest.approx((lam - 4) / 3 / 0.90, abs=1e-8)


def _raw(method: str, **extra: object) -> dict[str, object]:
    return {
        "method": method,
        "criteria": [{"name": "dist_water_m"}, {"name": "dist_road_m"}, {"name": "slope_mean_deg"}],
        **extra,
    }


def test_inconsistent_pairwise_matrix_is_an_error_naming_judgements() -> None:
    problems = Problems()
    raw = _raw("ahp", pairwise=[[1, 9, 1 / 9], [1 / 9, 1, 9], [9, 1 / 9, 1]])
    assert parse(SitingConfig, raw, "siting", problems) is None
    text = " ".join(str(p) for p in problems.errors)
    assert "consistency ratio" in text and "exceeds 0.1" in text
    assert "dist_water_m vs dist_road_m = 9" in text
    with pytest.raises(ScenarioError, match="most inconsistent judgements"):
        resolve_weights(
            tuple(CriterionConfig(name=n) for n in ("dist_water_m", "dist_road_m", "slope_mean_deg")),  # type: ignore[arg-type]
            "ahp",
            [[1, 9, 1 / 9], [1 / 9, 1, 9], [9, 1 / 9, 1]],
            "normalise",
        )


def test_non_reciprocal_matrix_is_an_error_with_the_fix() -> None:
    problems = Problems()
    assert (
        parse(SitingConfig, _raw("ahp", pairwise=[[1, 3, 5], [3, 1, 3], [0.2, 0.3333, 1]]), "siting", problems) is None
    )
    msgs = [str(p) for p in problems.errors]
    assert any("not reciprocal" in m and "dist_water_m vs dist_road_m is 3" in m and "0.3333" in m for m in msgs)


def test_reciprocal_matrix_with_rounded_entries_parses() -> None:
    problems = Problems()
    cfg = parse(SitingConfig, _raw("ahp", pairwise=[[1, 3, 5], [0.333, 1, 3], [0.2, 0.333, 1]]), "siting", problems)
    assert cfg is not None and not problems.errors
    w, ahp, _ = resolve_weights(cfg.criteria, cfg.method, cfg.pairwise, cfg.weight_sum)
    assert w == pytest.approx([0.637, 0.258, 0.105], abs=1e-3)
    assert ahp is not None and ahp.cr < 0.1


def test_weights_not_summing_to_one_normalise_or_refuse() -> None:
    raw = {
        "criteria": [{"name": "dist_water_m", "weight": 2}, {"name": "dist_road_m", "weight": 2}],
        "criteria_replace": True,
    }
    problems = Problems()
    cfg = parse(SitingConfig, raw, "siting", problems)
    assert cfg is not None and not problems.errors
    assert any("sum to 4" in str(p) for p in problems.warnings)
    w, _, warns = resolve_weights(cfg.criteria, cfg.method, None, cfg.weight_sum)
    assert w == pytest.approx([0.5, 0.5]) and warns
    problems = Problems()
    assert parse(SitingConfig, {**raw, "weight_sum": "refuse"}, "siting", problems) is None
    assert any("sum to 4" in str(p) and p.severity == "error" for p in problems)


def test_scenario_criteria_merge_by_name_with_the_defaults() -> None:
    problems = Problems()
    raw = {
        "criteria": [
            {"name": "dist_hazard_m", "weight": 0},  # one weight changed, the rest kept
            {"name": "dist_road_m", "normalise": "fuzzy", "lower": 200, "upper": 2000},  # no weight: keeps 0.15
            {"name": "time_min_county_seat", "weight": 0.1},  # not a default: added at the end
        ]
    }
    cfg = parse(SitingConfig, raw, "siting", problems)
    assert cfg is not None and not problems.errors
    names = [c.name for c in cfg.criteria]
    assert names == [
        "dist_water_m",
        "dist_power_m",
        "dist_road_m",
        "time_min_town",
        "time_min_school",
        "time_min_clinic",
        "slope_mean_deg",
        "buildable_area_m2",
        "dist_hazard_m",
        "time_min_county_seat",
    ]
    road = cfg.criteria[2]
    assert (road.weight, road.normalise, road.lower, road.upper) == (0.15, "fuzzy", 200, 2000)
    # 0.9 of defaults + 0.1 added = 1.0: no normalisation warning
    assert not problems.warnings
    w, _, _ = resolve_weights(cfg.criteria, cfg.method, None, cfg.weight_sum)
    assert w.tolist() == pytest.approx([0.15, 0.10, 0.15, 0.15, 0.10, 0.05, 0.10, 0.10, 0.0, 0.10])
    # the old behaviour on request: only the listed criteria
    problems = Problems()
    # (dist_road_m then has no weight to inherit: an error naming it)
    assert parse(SitingConfig, {**raw, "criteria_replace": True}, "siting", problems) is None
    assert any("weights missing for dist_road_m" in str(p) for p in problems.errors)
    problems = Problems()
    raw["criteria"][1]["weight"] = 0.5  # type: ignore[index]
    only = parse(SitingConfig, {**raw, "criteria_replace": True}, "siting", problems)
    assert only is not None
    assert [c.name for c in only.criteria] == ["dist_hazard_m", "dist_road_m", "time_min_county_seat"]


def test_changing_one_weight_renormalises_the_defaults() -> None:
    problems = Problems()
    cfg = parse(SitingConfig, {"criteria": [{"name": "dist_hazard_m", "weight": 0}]}, "siting", problems)
    assert cfg is not None and len(cfg.criteria) == 9
    assert any("sum to 0.9" in str(p) for p in problems.warnings)  # divided by their sum, with a warning
    w, _, _ = resolve_weights(cfg.criteria, cfg.method, None, cfg.weight_sum)
    assert w[0] == pytest.approx(0.15 / 0.9) and w[-1] == 0.0


def test_partial_weights_and_unknown_keys_are_errors() -> None:
    problems = Problems()
    raw = {"criteria": [{"name": "dist_water_m", "weight": 1}, {"name": "dist_road_m"}], "metod": "ahp"}
    assert parse(SitingConfig, raw, "siting", problems) is None
    text = " ".join(str(p) for p in problems.errors)
    assert "did you mean 'method'" in text


def test_default_config_parses_and_weights_sum_to_one() -> None:
    problems = Problems()
    cfg = parse(SitingConfig, {}, "siting", problems)
    assert cfg is not None and not problems.errors
    w, _, _ = resolve_weights(cfg.criteria, cfg.method, None, cfg.weight_sum)
    assert w.sum() == pytest.approx(1.0)


def test_housing_norms_are_enforced() -> None:
    problems = Problems()
    raw = {"capacity": {"housing_m2_per_person": 18, "max_housing_m2_per_household": 150}}
    assert parse(SitingConfig, raw, "siting", problems) is None
    text = " ".join(str(p) for p in problems.errors)
    assert "20 m2" in text and "120 m2" in text


# --- TOPSIS ---------------------------------------------------------------------------------


def test_topsis_worked_example() -> None:
    # Worked example (3 alternatives, criteria cost/benefit/cost/benefit, weights .3/.05/.6/.05)
    # published with its intermediate values in the tests of the `decision_making` TOPSIS package:
    # closeness 0.78562925, 0.66099579, 0.21437075.
    x = np.array([[15, 6, 25000, 7], [12, 7, 35000, 7], [10, 9, 55000, 8]])
    c = topsis(x, np.array([0.3, 0.05, 0.6, 0.05]), benefit=[False, True, False, True])
    assert c == pytest.approx([0.78562925, 0.66099579, 0.21437075], abs=1e-8)


def test_topsis_hand_computed_two_by_two() -> None:
    # vector-normalised [[3,4],[4,3]] -> [[.6,.8],[.8,.6]]; weights .5/.5; both benefit
    # v = [[.3,.4],[.4,.3]]; best (.4,.4), worst (.3,.3): d+ = .1 each, d- = .1 each -> 0.5
    c = topsis(np.array([[3.0, 4.0], [4.0, 3.0]]), np.array([0.5, 0.5]), benefit=[True, True])
    assert c == pytest.approx([0.5, 0.5])


# --- normalisation, weighted sum, ranks, explanation ----------------------------------------


def test_normalisations() -> None:
    df = pd.DataFrame(
        {
            "dist_water_m": [100.0, 300.0, 500.0, np.nan],
            "buildable_area_m2": [1.0, 2.0, 3.0, np.inf],
            "slope_mean_deg": [5.0, 15.0, 20.0, 30.0],
            "dist_road_m": [100.0, 550.0, 1000.0, 2000.0],
        }
    )
    crit = (
        CriterionConfig(name="dist_water_m"),
        CriterionConfig(name="buildable_area_m2"),
        CriterionConfig(name="slope_mean_deg", normalise="threshold", threshold=15),
        CriterionConfig(name="dist_road_m", normalise="fuzzy", lower=100, upper=1000),
    )
    r = normalise(df, crit)
    assert r["dist_water_m"].tolist() == pytest.approx([1.0, 0.5, 0.0, 0.0])  # cost min-max; unknown scores 0
    assert r["buildable_area_m2"].tolist() == pytest.approx([0.0, 0.5, 1.0, 1.0])  # benefit; +inf is best
    assert r["slope_mean_deg"].tolist() == [1.0, 1.0, 0.0, 0.0]
    assert r["dist_road_m"].tolist() == pytest.approx([1.0, 0.5, 0.0, 0.0])
    const = normalise(pd.DataFrame({"dist_water_m": [7.0, 7.0]}), crit[:1])
    assert const["dist_water_m"].tolist() == [1.0, 1.0]


def test_weighted_sum_ranks_and_explanation() -> None:
    r = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.2, 0.2]])
    w = np.array([0.5, 0.5])
    s = weighted_sum(r, w)
    assert s.tolist() == pytest.approx([0.5, 0.5, 0.5, 0.2])
    rank = rank_scores(np.append(s, np.nan), ["c", "b", "a", "d", "e"])
    assert rank.tolist() == [3, 2, 1, 4, 0]  # ties broken by id; NaN (failed) not ranked
    crit = (CriterionConfig(name="dist_water_m"), CriterionConfig(name="dist_road_m"))
    vals = pd.DataFrame({"dist_water_m": [10.0, 30.0], "dist_road_m": [5.0, 1.0]})
    ex = explain(["x", "y"], vals, pd.DataFrame(r[:2], columns=["dist_water_m", "dist_road_m"]), w, crit)
    assert ex.groupby("site_id")["contribution"].sum().tolist() == pytest.approx([0.5, 0.5])
    assert ex.loc[0, ["criterion", "value", "normalised", "unit"]].tolist() == ["dist_water_m", 10.0, 1.0, "m"]


# --- sensitivity ----------------------------------------------------------------------------


def test_topk_counts_with_ties_is_deterministic() -> None:
    s = np.array([[3.0, 1.0, 3.0, 3.0], [1.0, 2.0, 3.0, 0.0]])  # draws x candidates
    assert topk_counts(s, 2).tolist() == [1, 1, 2, 0]


def test_monte_carlo_reproducible_chunk_invariant_and_equal_to_brute_force() -> None:
    rng = np.random.default_rng(7)
    r = rng.random((60, 4))
    w = np.array([0.4, 0.3, 0.2, 0.1])
    ids = [f"S{i:03d}" for i in range(60)]
    a = monte_carlo(r, w, tie_key=ids, draws=300, seed=11, k=5, chunk=300)
    b = monte_carlo(r, w, tie_key=ids, draws=300, seed=11, k=5, chunk=7)
    assert np.array_equal(a.p_topk, b.p_topk)
    assert a.p_topk.sum() == pytest.approx(5.0)
    # brute force: the same draws, one sort per draw
    draws = np.random.default_rng(11).dirichlet(100.0 * w, size=300)
    counts = np.zeros(60)
    for wd in draws:
        order = np.lexsort((np.asarray(ids), -(r @ wd)))
        counts[order[:5]] += 1
    assert a.p_topk == pytest.approx(counts / 300)
    assert np.array_equal(a.stable, a.p_topk >= 0.9)
    c = monte_carlo(r, w, tie_key=ids, draws=300, seed=12, k=5)
    assert not np.array_equal(a.p_topk, c.p_topk)
    t = monte_carlo(r, w, tie_key=ids, draws=50, seed=1, k=3, method="topsis")
    assert t.p_topk.sum() == pytest.approx(3.0)


def test_score_many_topsis_equals_topsis() -> None:
    rng = np.random.default_rng(2)
    r = rng.random((30, 3))
    w = np.array([[0.5, 0.3, 0.2], [0.2, 0.2, 0.6]])
    got = score_many(r, w, "topsis")
    for d in range(2):
        assert got[d] == pytest.approx(topsis(r, w[d], benefit=[True] * 3, normalisation="none"))


def test_one_at_a_time() -> None:
    r = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.6]])
    oat = one_at_a_time(r, np.array([0.5, 0.5]), ["a", "b"], site_ids=["x", "y", "z"], steps=(-0.2, 0.2), k=1)
    assert len(oat) == 4
    row = oat[(oat.criterion == "a") & (oat.change == 0.2)].iloc[0]
    assert row.weight == pytest.approx(0.6)
    assert row.top1_site_id == "x"  # 0.6 vs z's 0.6: tie broken by id, x first
    base = oat[(oat.criterion == "a") & (oat.change == -0.2)].iloc[0]
    assert base.top1_site_id == "y"  # y and z both 0.6: tie broken by id
