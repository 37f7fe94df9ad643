"""Old houses and homesteads (旧房拆除与宅基地复垦): the land balance in 亩, by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from geofupin.config.policy import seed_policy
from geofupin.config.reclamation import ReclamationConfig
from geofupin.policy import compute_budget, plan_units
from geofupin.reclamation import mu, reclamation


def budget():
    v = pd.DataFrame(
        {
            "village_id": ["A", "B"],
            "name": ["甲村", "乙村"],
            "township": ["T1", "T1"],
            "relocate_households": [3, 2],
            "relocate_persons": [10, 6],
        }
    )
    a = pd.DataFrame({"village_id": ["A", "B"], "site_id": ["S1", "S1"], "households": [3, 2], "persons": [10, 6]})
    return v, compute_budget(plan_units(v, a), seed_policy())


def test_balance_by_hand() -> None:
    v, b = budget()
    # 5 households x 200 m2 x 0.9 = 900 m2 = 1.35 亩 freed; the site takes 300 m2 x 5 = 1,500 m2 = 2.25 亩: -0.9 亩
    r = reclamation(b, v, ReclamationConfig(reclaimable_share=0.9, site_land_m2_per_household=300))
    c = r.tables["reclamation_county"].iloc[0]
    assert c["homestead_mu"] == pytest.approx(1.5)
    assert c["reclaimable_mu"] == pytest.approx(1.35)
    assert c["site_land_mu"] == pytest.approx(2.25)
    assert c["balance_mu"] == pytest.approx(-0.9)
    assert c["homestead_fee_yuan"] == 5000  # 1,000 yuan per household, from the budget
    vil = r.tables["reclamation_village"].set_index("village_id")
    assert vil.loc["A", "reclaimable_m2"] == 540 and vil.loc["A", "homestead_fee_yuan"] == 3000


def test_areas_from_the_layers() -> None:
    v, b = budget()
    v["homestead_m2"] = [400.0, None]  # A's households have 400 m2 each; B the default
    sites = pd.DataFrame({"site_id": ["S1"], "planned_area_m2": [2000.0]})
    r = reclamation(b, v, ReclamationConfig(), sites=sites)
    vil = r.tables["reclamation_village"].set_index("village_id")
    assert vil.loc["A", "homestead_m2"] == 1200 and vil.loc["B", "homestead_m2"] == 400
    assert r.tables["reclamation_site"].iloc[0]["land_mu"] == pytest.approx(mu(2000.0))
    assert r.tables["reclamation_county"].iloc[0]["balance_mu"] == pytest.approx(mu(1600 - 2000))
    assert mu(10000 / 15) == 1.0
