"""Issue 17, session 6 (phase, allocate, roster and the policy functions): the faster paths give the old numbers.

No timings are asserted. Each test computes the plain way next to the optimised one (or by hand) and
compares exactly: the hardship households at every rounding level by hand, every option total against
the budget built in full, the disbursement schedule against the per-tranche construction it replaced,
and the roster's cells against reading every cell on its own.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import typing
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geofupin import policy as pol
from geofupin import roster
from geofupin.config.policy import DisbursementRules, Milestones, PolicyOptions, seed_policy

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- budgets
def _units() -> pd.DataFrame:
    """Two townships, three villages, four units; modes central/scattered/nursing home; sites S1, S2 and none."""
    return pd.DataFrame(
        {
            "village_id": ["V1", "V1", "V2", "V3"],
            "name": ["一村", "一村", "二村", "三村"],
            "township": ["甲镇", "甲镇", "甲镇", "乙镇"],
            "group": ["", "", "", ""],
            "site_id": ["S1", "S2", "", "S1"],
            "mode": ["central", "central", "scattered", "nursing_home"],
            "households": [13.0, 7.0, 5.0, 16.0],
            "persons": [50.0, 30.0, 20.0, 16.0],
            "poor_households": [5.0, 3.0, 2.0, 16.0],
        }
    )


@pytest.mark.parametrize(
    ("level", "want"),
    [
        # county: round(4.1) = 4 shared 2/2 over the townships (B's remainder .561 > A's .439), A's 2 to V1
        # (1.6 -> 1 + the rest), V1's 2 over its units 1.3/0.7 -> 1/1
        ("county", [1.0, 1.0, 0.0, 2.0]),
        # township: A round(2.5) = 3 -> V1 2, V2 1 (remainder .6 > .4); B round(1.6) = 2
        ("township", [1.0, 1.0, 1.0, 2.0]),
        ("village", [1.0, 1.0, 1.0, 2.0]),  # V1 round(2.0) = 2, V2 round(0.5) = 1 (half up), V3 2
        ("unit", [1.0, 1.0, 1.0, 2.0]),  # 1.3, 0.7, 0.5, 1.6 each rounded half up
    ],
)
def test_hardship_households_by_hand_at_every_rounding_level(level: str, want: list[float]) -> None:
    opts = PolicyOptions(hardship_rounding_level=level)  # type: ignore[arg-type]
    got = pol.hardship_households(_units(), 0.1, opts)
    assert got.tolist() == want
    assert got.sum() == sum(want)


def _every_option(options: PolicyOptions) -> list[tuple[str, str, PolicyOptions]]:
    """(option, value, options with that value) for every value of every closed option."""
    hints = typing.get_type_hints(PolicyOptions)
    out = []
    for f in dataclasses.fields(PolicyOptions):
        values = typing.get_args(hints[f.name])
        if values and all(isinstance(v, str) for v in values):
            out.extend((f.name, str(v), dataclasses.replace(options, **{f.name: v})) for v in values)
    return out


@pytest.mark.parametrize(
    "options",
    [
        PolicyOptions(),
        PolicyOptions(reward="listed", reward_units=("甲镇",), sites_with_works=("S1",), standard_reading="shortfall"),
        PolicyOptions(
            hardship_base="relocated_poor", hardship_rounding_level="township", scattered_hardship="excluded"
        ),
    ],
)
def test_option_totals_equal_the_budget_built_in_full_under_every_option(options: PolicyOptions) -> None:
    units, policy = _units(), seed_policy()
    totals = pol.option_totals(units, policy, options)
    assert set(totals) == {
        f.name for f in dataclasses.fields(PolicyOptions) if f.name not in ("reward_units", "sites_with_works")
    }
    checked = 0
    for name, value, opts in _every_option(options):
        if value not in totals[name]:
            assert name == "reward" and value == "listed" and not options.reward_units
            continue
        full = pol.compute_budget(units, policy, opts)  # every line built, nothing shared between the options
        assert totals[name][value] == full.total_yuan  # the same float to the last bit
        assert pol.budget_total(units, policy, opts) == full.total_yuan
        checked += 1
    assert checked >= 15
    # the input is left as it was (the shared frame is a copy)
    pd.testing.assert_frame_equal(units, _units())
    # the readings differ where they should: hardship base and level move the hardship subsidy
    assert len(set(totals["hardship_base"].values())) == 2
    if options.hardship_base == "relocated":  # 4.1 hardship households: 4 at the county, 5 below it
        assert len(set(totals["hardship_rounding_level"].values())) > 1


# --------------------------------------------------------------------------- disbursement
def _old_disbursement(
    projects: pd.DataFrame, rules: DisbursementRules, *, start_date: dt.date | None, milestones: Milestones
) -> pd.DataFrame:
    """The schedule as the first release built it: one copy of the projects per tranche, concatenated, sorted."""
    ms = milestones
    cost_fen = np.round(projects["cost_yuan"].to_numpy(dtype=float) * 100).astype(np.int64)
    deposit = np.round(cost_fen * rules.deposit_share).astype(np.int64)
    base = cost_fen - deposit if rules.tranche_base == "remainder" else cost_fen
    first = np.round(base * rules.before_start_share).astype(np.int64)
    second = np.round(base * rules.halfway_share).astype(np.int64)
    third = cost_fen - deposit - first - second
    days = {
        "before_start": -ms.advance_days_before_start,
        "halfway": ms.halfway_day,
        "acceptance": ms.completion_day,
        "deposit_release": ms.completion_day + ms.warranty_days,
    }
    amounts = {"before_start": first, "halfway": second, "acceptance": third, "deposit_release": deposit}
    keep = [c for c in projects.columns if c != "cost_yuan"]
    frames = []
    for order, (tranche, zh, en) in enumerate(pol.TRANCHES):
        f = projects[keep].copy()
        f["cost_yuan"] = cost_fen / 100
        f["tranche"] = tranche
        f["tranche_order"] = order
        f["tranche_zh"] = zh
        f["tranche_en"] = en
        f["amount_yuan"] = amounts[tranche] / 100
        f["share"] = np.where(cost_fen > 0, amounts[tranche] / np.maximum(cost_fen, 1), 0.0).round(6)
        f["day"] = days[tranche]
        f["date"] = (start_date + dt.timedelta(days=days[tranche])).isoformat() if start_date else ""
        frames.append(f)
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["project_id", "tranche_order"], kind="stable").reset_index(drop=True)


@pytest.mark.parametrize("start", [dt.date(2012, 3, 1), None])
def test_disbursement_schedule_is_the_per_tranche_construction(start: dt.date | None) -> None:
    projects = pd.DataFrame(
        {
            "year": [2012, 2012, 2013, 2012],
            "project_id": ["P2", "P1", "P3", "P1"],  # P1 twice: the sort keeps the rows' order within a tranche
            "site_id": ["S1", "S2", "S1", "S3"],
            "cost_yuan": [100.0, 12345.67, 0.0, 999.99],
            "note": [None, "甲", "乙", None],
        },
        index=[7, 3, 5, 9],
    )
    rules, ms = DisbursementRules(), Milestones()
    got = pol.disbursement_schedule(projects, rules, start_date=start, milestones=ms)
    pd.testing.assert_frame_equal(got, _old_disbursement(projects, rules, start_date=start, milestones=ms))
    # and by hand: each project's tranches add up to its cost to the fen; P2's rows come last
    assert len(got) == 16
    sums = got.groupby(["project_id", "site_id"])["amount_yuan"].sum().round(2)
    assert sums[("P1", "S2")] == 12345.67 and sums[("P2", "S1")] == 100.0 and sums[("P3", "S1")] == 0.0
    assert got["project_id"].tolist()[:8] == ["P1"] * 8
    assert got["site_id"].tolist()[:2] == ["S2", "S3"]
    if start is not None:
        assert got.loc[0, "date"] == (start - dt.timedelta(days=ms.advance_days_before_start)).isoformat()
    else:
        assert set(got["date"]) == {""}


def test_disbursement_schedule_of_no_projects_keeps_its_columns() -> None:
    empty = pd.DataFrame(columns=["project_id", "site_id", "cost_yuan"])
    got = pol.disbursement_schedule(empty, DisbursementRules())
    assert len(got) == 0
    assert list(got.columns) == [
        "project_id", "site_id", "cost_yuan", "tranche", "tranche_order", "amount_yuan", "share", "day", "date",
    ]  # fmt: skip


# --------------------------------------------------------------------------- roster cells
def test_texts_tell_values_of_different_types_apart() -> None:
    # 1, 1.0 and True are equal (and hash alike) in Python, but their cells read differently
    vals = [1, 1.0, True, "1", None, float("nan"), pd.NA, " ａ ", 1, [1]]
    assert roster._texts(vals) == [roster._text(v) for v in vals]
    assert roster._texts(vals)[:4] == ["1", "1.0", "True", "1"]


def _plain_cells(raw: pd.DataFrame, columns: dict[str, str] | None = None) -> dict[str, list[object]]:
    """Every canonical column read cell by cell (no memo), as normalize did before."""
    df, _ = roster.rename(raw, columns)
    out: dict[str, list[object]] = {}
    for col in roster.COLUMNS:
        vals = df[col.name].tolist() if col.name in df.columns else [None] * len(df)
        cells: list[object] = []
        for x in vals:
            t = roster._text(x)
            if col.kind == "text":
                cells.append(t)
                continue
            try:
                cells.append(roster._parse_cell(col, t))
            except ValueError:
                cells.append(None)
        out[col.name] = cells
    return out


def _villages() -> pd.DataFrame:
    return pd.DataFrame(
        {"village_id": ["V1", "V2"], "name": ["一村", "二村"], "township": ["甲镇", "甲镇"], "group": ["", ""]}
    )


def test_normalize_reports_every_row_of_a_repeated_bad_value() -> None:
    raw = pd.DataFrame(
        {
            "户主姓名": ["张三", "李四", "王五", "赵六"],
            "身份证号码": ["11010519491231002X"] * 4,
            "家庭人口": ["3", "3", "abc", "abc"],
            "所在村": ["一村", "二村", "一村", "二村"],
            "申请日期": ["2011-03-01", "2011/3/1", "2011-13-01", "2011-13-01"],
            "村评议日期": ["", "2011年3月5日", None, "20110305"],
            "户类型": ["低保户", "低保", "五保户", "低保户"],
        }
    )
    h, checks = roster.normalize(raw, _villages())
    plain = _plain_cells(raw)
    for name in ("persons", "apply_date", "village_review_date", "status", "head_name"):
        assert [None if pd.isna(x) else x for x in h[name].tolist()] == plain[name], name
    assert h["apply_date"].tolist()[:2] == [dt.date(2011, 3, 1)] * 2
    assert h["stage"].tolist() == ["apply", "village_review", "", "village_review"]
    bad = checks[checks["check"] == "bad_value"]
    # each bad cell is reported on its own row, in column then row order, with its household
    assert bad["row"].tolist() == [4, 5, 4, 5]
    assert bad["head_name"].tolist() == ["王五", "赵六", "王五", "赵六"]
    assert bad["message_zh"].str.startswith("家庭人口「abc」").tolist() == [True, True, False, False]
    assert bad["message_zh"].str.startswith("申请日期「2011-13-01」").tolist() == [False, False, True, True]


def test_normalize_reads_the_demo_roster_as_cell_by_cell() -> None:
    from geofupin import io as gio

    path = REPO / "layers" / "demo" / "households.xlsx"
    villages = REPO / "layers" / "demo" / "villages.gpkg"
    if not path.exists() or not villages.exists():
        pytest.skip("the demo layers are not generated")
    raw = gio.read_table(path, sheet="名册")
    import geopandas as gpd

    v = gpd.read_file(villages)
    v["village_id"] = v["village_id"].astype(str)
    h, _ = roster.normalize(raw, v)
    plain = _plain_cells(raw)
    assert len(h) > 1000
    for name in plain:
        got = h[name].tolist()
        if name == "persons":
            got = [None if pd.isna(x) else int(x) for x in got]
        elif name in ("income_per_capita", "current_floor_area_m2", "planned_floor_area_m2"):
            want = [math.nan if x is None else float(x) for x in plain[name]]  # type: ignore[arg-type]
            np.testing.assert_array_equal(np.asarray(got, dtype=float), np.asarray(want, dtype=float))
            continue
        elif name == "status":
            got = [x if x != "poor" else None for x in got]
            want_s = [x if x != "poor" else None for x in plain[name]]
            assert got == want_s, name
            continue
        elif name == "relocate":
            assert got == [True if b is None else bool(b) for b in plain[name]]
            continue
        elif name == "household_id":
            assert got == [x or f"H{r - 1:04d}" for x, r in zip(plain[name], h["row"], strict=True)]  # type: ignore[operator]
            continue
        elif name in ("township", "group"):
            continue  # filled in from the villages layer where the roster leaves them empty
        assert got == plain[name], name
    dates = {s: h[f"{s}_date"].tolist() for s in roster.STAGES}
    want_stage = [next((s for s in reversed(roster.STAGES) if dates[s][i] is not None), "") for i in range(len(h))]
    assert h["stage"].tolist() == want_stage


@pytest.mark.parametrize(
    "values",
    [
        pd.Series(["central", None, "", "scattered", "nursing_home", float("nan")], dtype=object),
        pd.Series(["central", None, "", "transitional"], dtype="str"),
        pd.Series([1, 2.5, None, "x"], dtype=object),
        pd.Series([], dtype="str"),
    ],
)
def test_unit_modes_as_the_pandas_reading(values: pd.Series) -> None:
    units = pd.DataFrame({"mode": values})
    m = units["mode"].astype(object)
    want = m.where(m.notna() & (m.astype(str) != ""), "central").astype(str).to_numpy()  # the former reading
    got = pol.unit_modes(units)
    assert got.dtype == object and got.tolist() == want.tolist()
    assert all(type(x) is str for x in got)
