"""Report tables: the seed's township table, Chinese/English headers, XLSX read back against CSV."""

from __future__ import annotations

import pandas as pd
import pytest
from openpyxl import load_workbook
from seed_figures import SEED_TABLE

from geofupin.config.policy import seed_policy
from geofupin.policy import budget_by, budget_by_rule, compute_budget, plan_units, reconciliation
from geofupin.report import label, localize, township_table, write_tables


@pytest.fixture()
def seed_units() -> pd.DataFrame:
    villages = pd.DataFrame(
        {
            "village_id": [f"v{i}" for i in range(len(SEED_TABLE))],
            "name": [f"{t}各村" for t in SEED_TABLE],
            "township": list(SEED_TABLE),
            "relocate_households": [v[0] for v in SEED_TABLE.values()],
            "relocate_persons": [v[1] for v in SEED_TABLE.values()],
        }
    )
    return plan_units(villages)


def test_seed_county_by_township(seed_units) -> None:
    b = compute_budget(seed_units, seed_policy())
    assert b.total_yuan == pytest.approx(149_344_706)
    towns = budget_by(b, "township").set_index("township")
    assert towns["households"].sum() == 1526 and towns["persons"].sum() == 6886
    assert towns["hardship_households"].sum() == 153  # shared out by largest remainder
    assert towns.loc["招安镇", "hardship_households"] == 42  # quota 41.81
    assert towns.loc["招安镇", "province__housing_yuan"] == 1997 * 3800
    rec = reconciliation(b)
    assert (rec["diff_yuan"] == 0).all()


def test_township_table_in_seed_format() -> None:
    units = pd.DataFrame(
        {
            "village_id": ["1", "2", "3"],
            "name": ["张家塬村", "曹家洼村", "砖窑湾村"],
            "township": ["王家湾乡", "王家湾乡", "砖窑湾镇"],
            "group": ["麻山、南塔", "曹家洼", "砖窑湾"],
            "site_id": ["", "", ""],
            "households": [60.0, 43.0, 80.0],
            "persons": [210.0, 159.0, 407.0],
        }
    )
    t = township_table(units)
    assert list(t.columns[:5]) == ["township", "village", "group", "households", "persons"]
    assert [label(c)[0] for c in t.columns[:5]] == ["乡镇", "村", "村民小组", "户", "人"]
    sub = t[t["row_kind"] == "subtotal"].set_index("township")
    assert sub.loc["王家湾乡小计"].tolist()[:4] == ["2个村", "3个村民小组", 103, 369]
    total = t.iloc[-1]
    assert total["township"] == "合计(2个乡镇)" and (total["households"], total["persons"]) == (183, 776)
    assert t.loc[t["row_kind"] == "detail", "households"].sum() == total["households"]
    assert t.iloc[0]["group"] == "麻山、南塔"


def test_headers_are_chinese_with_english_labels(seed_units) -> None:
    b = compute_budget(seed_units, seed_policy())
    local, en = localize(budget_by(b, "township"))
    assert "省建房补助(元)" in local.columns and en["省建房补助(元)"] == "province housing (yuan)"
    assert "市县基础设施配套(元)" in local.columns
    assert local.columns[0] == "乡镇" and en["乡镇"] == "township"


def test_xlsx_totals_equal_csv_totals(tmp_path, seed_units) -> None:
    b = compute_budget(seed_units, seed_policy())
    tables = {
        "township_table": township_table(b.units),
        "budget_county": budget_by_rule(b),
        "budget_township": budget_by(b, "township"),
    }
    written = write_tables(tables, tmp_path)
    assert set(written) == {"township_table.csv", "budget_county.csv", "budget_township.csv", "plan_tables.xlsx"}
    wb = load_workbook(written["plan_tables.xlsx"], read_only=True)
    assert wb.sheetnames == ["搬迁任务表", "全县补助资金", "乡镇补助资金"]
    for sheet, name, col in (
        ("全县补助资金", "budget_county", "金额(元)"),
        ("乡镇补助资金", "budget_township", "合计(元)"),
        ("搬迁任务表", "township_table", "人"),
    ):
        rows = list(wb[sheet].iter_rows(values_only=True))
        zh, en, body = rows[0], rows[1], rows[2:]
        assert en[zh.index(col)] in {"amount (yuan)", "total (yuan)", "persons"}
        xlsx_total = sum(r[zh.index(col)] for r in body)
        csv = pd.read_csv(written[f"{name}.csv"], header=[0, 1], encoding="utf-8-sig")
        csv_total = csv[next(c for c in csv.columns if c[0] == col)].sum()
        assert xlsx_total == pytest.approx(csv_total)
        if name != "township_table":
            assert xlsx_total == pytest.approx(149_344_706)
        else:
            assert xlsx_total == 3 * 6886  # detail + subtotal + total rows each add to the county
    wb.close()
