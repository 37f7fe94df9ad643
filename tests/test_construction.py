"""The site construction table (安置点建设规划表): hand-checked on a tiny county, then read back from the demo run."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest
from shapely.geometry import Point, box

from geofupin.construction import phase_name, site_construction, site_phases


@pytest.fixture
def county() -> dict[str, pd.DataFrame]:
    sites = gpd.GeoDataFrame(
        {
            "site_id": ["A", "B", "C", "D"],
            "name": ["县城安置点", "东村中心村", "西村中心村", "未用点"],
            "township": ["城关镇", "东乡", "西乡", "西乡"],
            "tier": ["county_seat", "central_village", "central_village", "central_village"],
            "planned_area_m2": [20_000.0, None, None, None],
        },
        # B: 150 m x 100 m = 15,000 m2 = 22.5 mu; C: 60 m x 50 m = 3,000 m2 = 4.5 mu
        geometry=[box(0, 0, 100, 100), box(5000, 0, 5150, 100), box(9000, 0, 9060, 50), box(20000, 0, 20010, 10)],
        crs=4545,
    )
    assignment = pd.DataFrame(
        {
            "unit_id": ["u1", "u2", "u3", "u4", "u5"],
            "township": ["城关镇", "东乡", "东乡", "西乡", "东乡"],
            "site_id": ["A", "A", "B", "C", "C"],
            "households": [10, 5, 8, 4, 3],
            "persons": [40, 21, 30, 15, 12],
        }
    )
    phasing = pd.DataFrame(
        {
            "year": [2012, 2011, 2013, 2011, 2012, 2012],
            "site_id": ["A", "A", "B", "B", "C", "C"],
            "households": [5, 10, 3, 5, 4, 3],
            "persons": [21, 40, 11, 19, 15, 12],
        }
    )
    housing = pd.DataFrame(
        {
            "site_id": ["A", "A", "B", "C", "C"],
            "floor_area_m2": [90.0, 110.0, 90.0, 70.0, 90.0],
            "count": [9, 6, 8, 4, 3],
        }
    )
    plan_sites = pd.DataFrame(
        {
            "site_id": ["A", "B", "C"],
            "in_site_cost_yuan": [285_000.0, 152_000.0, 133_000.0],
            "kindergarten_places": [3.0, 2.0, 2.0],
            "primary_places": [5.0, 3.0, 3.0],
        }
    )
    facilities = gpd.GeoDataFrame(
        {"facility_id": ["f1", "f2"], "kind": ["clinic", "school"]},
        geometry=[Point(150, 50), Point(9030, 25)],  # a clinic 50 m east of A; C only has a school inside
        crs=4545,
    )
    return {
        "sites": sites,
        "assignment": assignment,
        "phasing": phasing,
        "housing": housing,
        "plan_sites": plan_sites,
        "facilities": facilities,
    }


def test_the_tiny_county_by_hand(county: dict[str, pd.DataFrame]) -> None:
    tab, phases = site_construction(
        county["sites"],
        county["assignment"],
        plan_sites=county["plan_sites"],
        housing=county["housing"],
        phasing_plan=county["phasing"],
        facilities=county["facilities"],
        central_village_build_mode="self_built",
        clinic_max_dist_m=3000.0,
    )
    t = tab.set_index("site_id")
    assert list(t.index) == ["A", "B", "C"]  # D receives nobody
    assert list(t["area_m2"]) == [20_000.0, 15_000.0, 3_000.0]  # planned area first, else the polygon's
    assert list(t["households"]) == [15, 8, 7] and list(t["persons"]) == [61, 30, 27]
    assert list(t["from_townships"]) == ["东乡、城关镇", "东乡", "东乡、西乡"]
    assert list(t["cross_township"]) == [True, False, True]
    # A: county seat (and across townships); B: its own township's central village -> the option; C: across townships
    assert list(t["build_mode"]) == ["centralised", "self_built", "centralised"]
    assert t.at["B", "build_mode_basis"] == "中心村安置，按方案设定（plans.central_village_build_mode）"
    assert t.at["C", "build_mode_basis"] == "跨乡镇安置，实行集中统建"
    assert t.at["A", "phases"] == "一期(2011年) 10户40人；二期(2012年) 5户21人"
    assert t.at["B", "phases"] == "一期(2011年) 5户19人；二期(2013年) 3户11人"
    assert (t.at["C", "first_year"], t.at["C", "last_year"]) == (2012, 2012)
    assert t.at["A", "house_types"] == "90平方米×9户；110平方米×6户"
    assert t.at["A", "house_floor_area_m2"] == 9 * 90 + 6 * 110
    assert t.at["C", "house_floor_area_m2"] == 4 * 70 + 3 * 90
    assert list(t["in_site_cost_yuan"]) == [285_000.0, 152_000.0, 133_000.0]
    assert t.at["A", "clinic_dist_m"] == 50.0 and not t.at["A", "clinic_needed"]
    # the clinic is 4,850 m from B's edge (5,000 - 150) and 8,850 m from C's: both need one
    assert t.at["B", "clinic_dist_m"] == 4850.0 and t.at["B", "clinic_needed"]
    assert t.at["C", "clinic_dist_m"] == 8850.0 and t.at["C", "clinic_needed"]
    assert phases.groupby("site_id")["households"].sum().to_dict() == {"A": 15, "B": 8, "C": 7}
    assert list(phases["phase_zh"]) == ["一期", "二期", "一期", "二期", "一期"]


def test_without_an_annual_plan_each_site_is_one_phase(county: dict[str, pd.DataFrame]) -> None:
    tab, phases = site_construction(county["sites"], county["assignment"])
    assert list(phases["phase"]) == [1, 1, 1] and phases["year"].isna().all()
    assert tab.set_index("site_id").at["A", "phases"] == "一期 15户61人"
    assert tab["build_mode"].tolist() == ["centralised", "centralised", "centralised"]  # the default option
    assert tab["clinic_dist_m"].isna().all() and not tab["clinic_needed"].any()  # no facilities: not judged


def test_phase_names() -> None:
    assert [phase_name(n) for n in (1, 2, 10, 11)] == ["一期", "二期", "十期", "11期"]
    assert site_phases(pd.DataFrame({"site_id": [], "households": [], "persons": []}), None).empty


def test_the_demo_run_writes_the_table_the_workbook_and_the_document(demo_run: tuple[Path, Path]) -> None:
    _, out = demo_run
    tab = pd.read_csv(out / "tables" / "site_construction.csv", encoding="utf-8-sig")
    phases = pd.read_csv(out / "tables" / "site_phases.csv", encoding="utf-8-sig")
    assignment = pd.read_csv(out / "tables" / "assignment.csv", encoding="utf-8-sig")
    plan = pd.read_csv(out / "tables" / "phasing_plan.csv", encoding="utf-8-sig")
    # every person the allocation places, site by site, and phase by phase as the annual plan moves them
    # (the demo's 57 households placed scattered, in nursing homes or transitional housing need no site)
    assert tab["households"].sum() == 1469 and tab["persons"].sum() == 6664
    by_site = assignment.groupby("site_id")[["households", "persons"]].sum()
    assert (tab.set_index("site_id")[["households", "persons"]] == by_site.loc[tab["site_id"]]).all().all()
    plan = plan[plan["site_id"].isin(set(tab["site_id"]))]  # the central sites (not 敬老院, 周转房, 分散安置)
    by_year = plan.groupby(["site_id", "year"])[["households", "persons"]].sum().round().astype(int)
    assert (phases.set_index(["site_id", "year"])[["households", "persons"]] == by_year).all().all()
    # the document's rule: every county-seat and market-town site is built centrally
    central = tab["tier"].isin(["county_seat", "market_town"]) | tab["cross_township"]
    assert (tab.loc[central, "build_mode"] == "centralised").all()
    wb = openpyxl.load_workbook(out / "tables.xlsx", read_only=True)
    sheet = next(n for n in wb.sheetnames if n.startswith("安置点建设规划表") or n == "site_construction")
    header = [c.value for c in next(wb[sheet].iter_rows(max_row=1))]
    assert {"建设方式", "分期安置", "户型与户数", "面积(亩)"} <= set(header)
    import docx

    d = docx.Document(str(out / "plan.docx"))
    texts = [p.text for p in d.paragraphs]
    i = texts.index("表5-2 安置点建设规划表")
    assert i >= 0
    table = next(t for t in d.tables if len(t.columns) > 2 and t.rows[0].cells[2].text == "用地面积(亩)")
    rows = [[c.text for c in r.cells] for r in table.rows[1:]]
    assert [r[0] for r in rows] == list(tab["site_id"])
    assert [r[7] for r in rows] == ["集中统建" if m == "centralised" else m for m in tab["build_mode"]]
    assert [float(r[2]) for r in rows] == pytest.approx(list((tab["area_m2"] / (10_000 / 15)).round(2)), abs=0.006)
