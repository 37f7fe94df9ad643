"""The funding plan by source (资金筹措方案), checked by hand on a tiny county."""

from __future__ import annotations

import pandas as pd
import pytest

from geofupin.config.funding import FundingConfig
from geofupin.config.policy import seed_policy
from geofupin.errors import ScenarioError
from geofupin.funding import check_agrees, funding_plan
from geofupin.policy import compute_budget, plan_units
from geofupin.scenario import from_dict


def villages() -> pd.DataFrame:
    """A: 2 households of 5; B: 3 of 4 (poorest); C: 1 of 5. 6 households, 27 persons."""
    return pd.DataFrame(
        {
            "village_id": ["A", "B", "C"],
            "name": ["甲村", "乙村", "丙村"],
            "township": ["T1", "T1", "T2"],
            "relocate_households": [2, 3, 1],
            "relocate_persons": [10, 12, 5],
            "income_per_capita": [2000.0, 1500.0, 30000.0],
        }
    )


ASSIGNMENT = pd.DataFrame(
    {"village_id": ["A", "B", "C"], "site_id": ["S1", "S1", "S1"], "households": [2, 3, 1], "persons": [10, 12, 5]}
)
SITE_PLANS = pd.DataFrame(
    {"site_id": ["S1"], "name": ["一号点"], "township": ["T1"], "road_cost_yuan": [100000.0],
     "school_cost_yuan": [200000.0]}
)  # fmt: skip


def plan(cfg: FundingConfig | None = None):
    budget = compute_budget(plan_units(villages(), ASSIGNMENT), seed_policy())
    cfg = cfg or FundingConfig(household_works_yuan_per_household=1000, department_share={"schools": 0.5})
    return budget, funding_plan(budget, villages(), cfg, site_plans=SITE_PLANS)


def test_household_own_share_by_hand() -> None:
    budget, fp = plan()
    h = fp.tables["funding_household"]
    a = h[h["village_id"] == "A"].iloc[0]
    # 5 persons: province 3,800 x 5 + 1,000; city 10,000 + 5,000 x 5; county 10,000 + 2,000 x 5 = 75,000
    assert a["persons"] == 5
    assert a["subsidy_household_yuan"] == 75000
    assert a["subsidy_province_yuan"] == 20000 and a["subsidy_city_yuan"] == 35000
    # 110 m2 x 1,200 = 132,000 -> 57,000 of its own; income 2,000 x 5 = 10,000: 5.7 x, over the limit
    assert a["building_cost_yuan"] == 132000 and a["own_housing_yuan"] == 57000
    assert a["own_share_of_income"] == pytest.approx(5.7) and bool(a["over_limit"])
    # the county's one hardship household (10 % of 6 = 0.6 -> 1, largest remainder: B) is B's first
    b = h[h["village_id"] == "B"]
    assert b["hardship"].tolist() == [1.0, 0.0, 0.0]
    assert b.iloc[0]["subsidy_household_yuan"] == 15200 + 1000 + 10000 + 30000 + 18000
    assert b.iloc[1]["subsidy_household_yuan"] == 15200 + 1000 + 30000 + 18000
    c = h[h["village_id"] == "C"].iloc[0]
    assert not bool(c["over_limit"])  # 57,000 against 150,000 a year
    # households' subsidies = the budget's lines paid to households, to the yuan
    paid = budget.lines[budget.lines["paid_to"] == "household"]["amount_yuan"].sum()
    assert h["subsidy_household_yuan"].sum() == pytest.approx(paid, abs=0.005)
    assert any("over" in w or "超过" in w for w in fp.warnings)


def test_works_shortfall_rule_as_data() -> None:
    _, fp = plan()
    w = fp.tables["funding_works"].set_index("site_id").loc["S1"]
    # subsidies 2,300 + 2,300 per person x 27 = 124,200 against 300,000 of works: 175,800 short;
    # households 1,000 x 6 = 6,000; departments half the schools = 100,000; the county the rest, 69,800
    assert w["infrastructure_subsidy_yuan"] == 124200
    assert w["shortfall_yuan"] == 175800
    assert w["own_works_yuan"] == 6000 and w["department_yuan"] == 100000 and w["county_gap_yuan"] == 69800
    # with no departments listed the county pays all but the households' share
    _, fp2 = plan(FundingConfig(household_works_yuan_per_household=1000))
    w2 = fp2.tables["funding_works"].iloc[0]
    assert w2["department_yuan"] == 0 and w2["county_gap_yuan"] == 169800


def test_levels_agree_with_the_budget_to_the_yuan() -> None:
    budget, fp = plan()
    assert check_agrees(fp, budget) < 0.01
    county = fp.tables["funding_county"].iloc[0]
    assert county["subsidy_total_yuan"] == pytest.approx(budget.total_yuan, abs=0.005)
    by_payer = budget.lines.groupby("payer")["amount_yuan"].sum()
    for payer, amount in by_payer.items():
        assert county[f"{payer}_yuan"] == pytest.approx(amount, abs=0.005)
    assert county["department_yuan"] == 100000 and county["county_gap_yuan"] == 69800
    assert county["own_total_yuan"] == pytest.approx(county["own_housing_yuan"] + 6000)
    own = fp.tables["funding_household"]["own_housing_yuan"].sum()
    assert county["own_housing_yuan"] == pytest.approx(own)
    assert county["total_yuan"] == pytest.approx(budget.total_yuan + 100000 + 69800 + own + 6000)
    assert county["total_wan"] == pytest.approx(county["total_yuan"] / 1e4, abs=1e-4)
    town = fp.tables["funding_township"].set_index("township")
    assert town["subsidy_total_yuan"].sum() == pytest.approx(budget.total_yuan, abs=0.005)
    assert town.loc["T1", "county_gap_yuan"] == 69800 and town.loc["T2", "county_gap_yuan"] == 0


def test_config_checks() -> None:
    base = {"name": "x", "layers": {"villages": "v.gpkg"}}
    with pytest.raises(ScenarioError, match="county must come last"):
        from_dict({**base, "funding": {"shortfall_order": ["county", "department"]}})
    with pytest.raises(ScenarioError, match="department_share"):
        from_dict({**base, "funding": {"department_share": {"road": 1.5}}})
