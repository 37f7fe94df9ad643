"""Subsidy budgets, options, housing checks, disbursement and acceptance, checked by hand."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from geofupin.config.policy import (
    SEED_COUNTY_POLICY,
    DisbursementRules,
    HousingRules,
    Milestones,
    PolicyConfig,
    PolicyOptions,
    parse_policy,
    seed_policy,
)
from geofupin.errors import DataError, ScenarioError
from geofupin.io import load_policy
from geofupin.policy import (
    budget_by,
    budget_by_rule,
    check_housing,
    compute_budget,
    disbursement_schedule,
    grade,
    household_sizes,
    largest_remainder,
    options_table,
    plan_units,
    reconciliation,
    score_acceptance,
)


@pytest.fixture()
def units() -> pd.DataFrame:
    """Three villages, two townships, two sites: 9 households, 28 persons."""
    villages = pd.DataFrame(
        {
            "village_id": ["A", "B", "C", "D"],
            "name": ["甲村", "乙村", "丙村", "丁村"],
            "township": ["T1", "T1", "T2", "T2"],
            "relocate_households": [3, 2, 4, 0],
            "relocate_persons": [10, 5, 13, 0],
        }
    )
    assignment = pd.DataFrame(
        {"village_id": ["A", "B", "C"], "site_id": ["S1", "S1", "S2"], "households": [3, 2, 4], "persons": [10, 5, 13]}
    )
    return plan_units(villages, assignment)


def amounts(budget) -> dict[str, float]:
    t = budget_by_rule(budget)
    return dict(zip(t["rule_id"], t["amount_yuan"], strict=True))


def test_seed_yaml_equals_builtin(repo_root) -> None:
    assert load_policy(repo_root / "scenarios/policy/seed-county.yaml") == seed_policy()


def test_budget_rule_by_rule(units) -> None:
    b = compute_budget(units, seed_policy())
    a = amounts(b)
    assert a["province_housing_person"] == 28 * 3800 == 106_400
    assert a["province_homestead_household"] == 9 * 1000
    # 10 % of 9 households = 0.9 -> 1 hardship household for the county
    assert a["province_hardship_household"] == 10_000
    assert a["city_housing_household"] == 90_000 and a["city_housing_person"] == 140_000
    assert a["county_housing_household"] == 90_000 and a["county_housing_person"] == 56_000
    assert a["province_infrastructure_person"] == a["city_county_infrastructure_person"] == 64_400
    assert a["county_reward_household"] == 45_000
    # 1.5 % of 106,400 + 9,000 + 10,000 + 230,000 + 146,000 + 64,400 + 64,400 = 630,200
    assert a["county_management"] == pytest.approx(9_453)
    assert b.total_yuan == pytest.approx(684_653)
    # the county's one hardship household goes down by largest remainder: township T1 (quota 0.3 + 0.2 = 0.5)
    # before T2 (0.4), then within T1 to A (0.3) before B (0.2)
    assert b.units.set_index("village_id")["hardship_households"].to_dict() == {"A": 1, "B": 0, "C": 0}


@pytest.mark.parametrize(
    ("options", "total", "hardship_at"),
    [
        (PolicyOptions(), 684_653, {"A": 1}),
        (PolicyOptions(hardship_rounding="floor"), 674_503, {}),  # 0.9 -> 0: -10,000 and -150 management
        (PolicyOptions(hardship_rounding="ceil"), 684_653, {"A": 1}),
        (PolicyOptions(hardship_rounding="exact"), 683_638, {"A": 0.3, "B": 0.2, "C": 0.4}),  # 9,000 yuan
        (PolicyOptions(hardship_rounding_level="village"), 674_503, {}),  # 0.3, 0.2, 0.4 all round to 0
        (PolicyOptions(hardship_rounding_level="township"), 684_653, {"A": 1}),  # T1: 0.5 -> 1, T2: 0.4 -> 0
        (PolicyOptions(management_base="housing"), 682_721, {"A": 1}),  # 1.5 % of 501,400
        (PolicyOptions(management_base="housing_infrastructure_reward"), 685_328, {"A": 1}),  # of 675,200
        (PolicyOptions(reward="exclude"), 639_653, {"A": 1}),
        (PolicyOptions(reward="listed", reward_units=("T2",)), 659_653, {"A": 1}),  # 4 households x 5,000
    ],
)
def test_each_option_changes_the_budget_as_documented(units, options, total, hardship_at) -> None:
    b = compute_budget(units, seed_policy(), options)
    assert b.total_yuan == pytest.approx(total)
    got = {k: v for k, v in b.units.set_index("village_id")["hardship_households"].items() if v}
    assert got == pytest.approx(hardship_at)


def test_seed_county_total_plan() -> None:
    """Report 4: 1,526 households and 6,886 persons, the default options."""
    villages = pd.DataFrame(
        {
            "village_id": ["all"],
            "name": ["全县"],
            "township": [""],
            "relocate_households": [1526],
            "relocate_persons": [6886],
        }
    )
    b = compute_budget(plan_units(villages), seed_policy())
    a = amounts(b)
    assert a["province_hardship_household"] == 153 * 10_000  # 152.6 rounds half up to 153
    subsidies = 6886 * (3800 + 5000 + 2000 + 2300 + 2300) + 1526 * (1000 + 10_000 + 10_000) + 1_530_000
    assert subsidies == 139_620_400
    assert a["county_management"] == pytest.approx(0.015 * subsidies) == pytest.approx(2_094_306)
    assert b.total_yuan == pytest.approx(subsidies + 1526 * 5000 + 2_094_306) == pytest.approx(149_344_706)


def test_levels_reconcile(units) -> None:
    b = compute_budget(units, seed_policy())
    rec = reconciliation(b)
    assert (rec["diff_yuan"] == 0).all()
    body = rec[rec["payer"] != "total"]
    total = rec[rec["payer"] == "total"].iloc[0]
    for col in ("county_yuan", "townships_yuan", "villages_yuan", "sites_yuan"):
        assert body[col].sum() == pytest.approx(total[col])
        assert total[col] == pytest.approx(684_653)
    towns = budget_by(b, "township").set_index("township")
    assert towns.loc["T1", "persons"] == 15 and towns.loc["T2", "households"] == 4
    assert towns.loc["T1", "city__housing_yuan"] == 5 * 10_000 + 15 * 5_000
    sites = budget_by(b, "site").set_index("site_id")
    assert sites.loc["S1", "province__hardship_yuan"] == 10_000  # A moves to S1
    assert sites["total_yuan"].sum() == pytest.approx(684_653)
    villages = budget_by(b, "village")
    assert list(villages["village_id"]) == ["A", "B", "C"]  # D relocates nobody


def test_units_without_allocation_have_no_site(units) -> None:
    villages = pd.DataFrame(
        {
            "village_id": ["A"],
            "name": ["甲村"],
            "township": ["T1"],
            "relocate_households": [3],
            "relocate_persons": [10],
        }
    )
    b = compute_budget(plan_units(villages), seed_policy())
    rec = reconciliation(b)
    tot = rec[rec["payer"] == "total"].iloc[0]
    assert tot["sites_yuan"] == 0 and tot["unsited_yuan"] == pytest.approx(tot["county_yuan"])
    assert budget_by(b, "site").empty


def test_bad_counts_and_unknown_villages_are_named() -> None:
    v = pd.DataFrame(
        {"village_id": ["A"], "name": ["甲村"], "township": ["T"], "relocate_households": [3], "relocate_persons": [2]}
    )
    with pytest.raises(DataError, match="village A"):
        plan_units(v)
    v.loc[0, "relocate_persons"] = 5
    a = pd.DataFrame({"village_id": ["Z"], "site_id": ["S"], "households": [1], "persons": [1]})
    with pytest.raises(DataError, match="'Z'"):
        plan_units(v, a)


def test_policy_file_problems_are_collected() -> None:
    raw = {**SEED_COUNTY_POLICY, "rules": [*SEED_COUNTY_POLICY["rules"]]}
    raw["rules"][0] = {**raw["rules"][0], "payer": "provnce"}
    raw["rules"][1] = {**raw["rules"][1], "basis": "share_of"}
    with pytest.raises(ScenarioError) as ei:
        parse_policy(raw)
    text = str(ei.value)
    assert "did you mean 'province'" in text
    assert "fraction" in text and "of_payers" in text


def test_options_are_shown() -> None:
    t = options_table(PolicyOptions(reward="exclude"))
    row = t.set_index("option").loc["reward"]
    assert row["value"] == "exclude" and row["default"] == "assume_met" and not row["is_default"]
    assert t.set_index("option").loc["management_base", "is_default"]


def test_policy_config_parses_and_checks() -> None:
    from geofupin._schema import parse
    from geofupin.errors import Problems

    problems = Problems()
    cfg = parse(PolicyConfig, {"reward": "listed", "housing": {"floor_area_m2_by_size": {1: 30}}}, "policy", problems)
    assert cfg is None and "reward_units" in str(problems.errors[0])
    problems = Problems()
    cfg = parse(PolicyConfig, {"management_base": "housing"}, "policy", problems)
    assert cfg.options.management_base == "housing" and load_policy(cfg) == seed_policy()


# --------------------------------------------------------------------------- housing
def test_household_sizes_match_totals(units) -> None:
    sizes = household_sizes(units)
    a = sizes[sizes["village_id"] == "A"]
    assert dict(zip(a["size"], a["count"], strict=True)) == {3: 2, 4: 1}
    assert (sizes["size"] * sizes["count"]).sum() == 28
    assert sizes["count"].sum() == 9
    assert set(sizes["size_source"]) == {"estimated"}
    assert set(check_housing(sizes, HousingRules())["size_source"]) == {"estimated"}


def test_housing_limits() -> None:
    rules = HousingRules()
    hh = pd.DataFrame(
        {"household_id": ["h1", "h2", "h3", "h4"], "size": [3, 7, 7, 1], "floor_area_m2": [60, 120, 140, 20]}
    )
    out = check_housing(hh, rules).set_index("household_id")
    assert out.loc["h1", "ok"]  # exactly 20 m2/person is allowed
    assert not out.loc["h2", "ok"] and "17.1" in out.loc["h2", "reasons_zh"]  # 120 / 7
    assert (
        not out.loc["h3", "ok"]
        and "超过120" in out.loc["h3", "reasons_zh"]
        and "少于" not in out.loc["h3", "reasons_zh"]
    )
    assert out.loc["h4", "ok"]
    # from the plan by size: the default plan gives 7-person households 120 m2 -> 17.1 m2/person
    planned = check_housing(pd.DataFrame({"size": [4, 7], "count": [5, 1]}), rules)
    assert list(planned["ok"]) == [True, False]
    # a household of 7 cannot meet both limits: 7 x 20 = 140 m2 > 120 m2, whatever is planned
    assert planned["policy_conflict"].tolist() == [False, True]
    assert "政策冲突:7人户按人均20平方米需140平方米,超过每户120平方米上限" in planned.loc[1, "reasons_zh"]
    assert out.loc["h3", "policy_conflict"] and not out.loc["h1", "policy_conflict"]
    assert set(out["size_source"]) == {"roster"}  # sizes given, not estimated


# --------------------------------------------------------------------------- disbursement
def test_disbursement_amounts_and_dates() -> None:
    projects = pd.DataFrame({"project_id": ["p1", "p2"], "cost_yuan": [300_000, 100]})
    s = disbursement_schedule(projects, DisbursementRules(), start_date=dt.date(2026, 3, 1), milestones=Milestones())
    p1 = s[s["project_id"] == "p1"].set_index("tranche")
    assert p1["amount_yuan"].to_dict() == {
        "before_start": 95_000,
        "halfway": 95_000,
        "acceptance": 95_000,
        "deposit_release": 15_000,
    }
    assert p1["date"].to_dict() == {
        "before_start": "2026-02-22",
        "halfway": "2026-05-30",
        "acceptance": "2026-08-28",
        "deposit_release": "2027-08-28",
    }
    p2 = s[s["project_id"] == "p2"].set_index("tranche")["amount_yuan"]
    assert p2.to_dict() == pytest.approx(
        {"before_start": 31.67, "halfway": 31.67, "acceptance": 31.66, "deposit_release": 5}
    )
    assert s.groupby("project_id")["amount_yuan"].sum().to_dict() == pytest.approx({"p1": 300_000, "p2": 100})


def test_disbursement_third_of_total_option() -> None:
    projects = pd.DataFrame({"project_id": ["p1"], "cost_yuan": [300_000]})
    s = disbursement_schedule(projects, DisbursementRules(tranche_base="total"))
    assert s.set_index("tranche")["amount_yuan"].to_dict() == {
        "before_start": 100_000,
        "halfway": 100_000,
        "acceptance": 85_000,
        "deposit_release": 15_000,
    }
    assert (s["date"] == "").all() and list(s["day"]) == [-7, 90, 180, 545]


# --------------------------------------------------------------------------- acceptance
@pytest.mark.parametrize(
    ("total", "expected"), [(79.9, "fail"), (80, "pass"), (94.9, "pass"), (95, "excellent"), (100, "excellent")]
)
def test_acceptance_thresholds(total, expected) -> None:
    assert grade(total, seed_policy().acceptance) == expected


def test_acceptance_scorer() -> None:
    rules = seed_policy().acceptance
    full = {i.id: i.points for i in rules.items}
    assert score_acceptance(full, rules).grade == "excellent"
    scores = {**full, "plan_completion": 10.0, "records": 4.9}  # 100 - 5 - 5.1 = 89.9
    res = score_acceptance(scores, rules)
    assert res.total == pytest.approx(89.9) and res.grade == "pass" and res.grade_zh == "合格"
    low = {**scores, "housing": 5.0}  # 79.9
    assert score_acceptance(low, rules).grade == "fail"
    with pytest.raises(DataError, match="housing"):
        score_acceptance({**full, "housing": 16}, rules)
    with pytest.raises(DataError, match="no score"):
        score_acceptance({"housing": 10}, rules)


def test_largest_remainder_adds_up() -> None:
    got = largest_remainder(153, [103, 153, 135, 417, 427, 99, 91, 80, 21])
    assert got.sum() == 153 and list(got) == [10, 15, 14, 42, 43, 10, 9, 8, 2]


def test_hardship_base_relocated_poor() -> None:
    villages = pd.DataFrame(
        {
            "village_id": ["A", "B"],
            "name": ["甲村", "乙村"],
            "township": ["T", "T"],
            "poor_households": [4, 12],
            "relocate_households": [10, 10],
            "relocate_persons": [30, 30],
        }
    )
    units = plan_units(villages)
    assert units["poor_households"].tolist() == [4, 10]  # B: at most its relocated households
    default = compute_budget(units, seed_policy())
    poor = compute_budget(units, seed_policy(), PolicyOptions(hardship_base="relocated_poor"))
    assert default.units["hardship_households"].sum() == 2  # 10 % of 20
    assert poor.units["hardship_households"].tolist() == [0, 1]  # 10 % of 14 = 1.4 -> 1, to B (quota 0.71 vs 0.29)
    assert default.total_yuan - poor.total_yuan == pytest.approx(10_000 * 1.015)
