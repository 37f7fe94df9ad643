"""The write and roster steps made cheaper without changing what they write (issue 17, session 5).

- Sheets cut from one table (:class:`geofupin.io.SheetRows`, the roster's sheet a village) are written from
  one conversion of the table: the same workbook parts, byte for byte, as each sheet written as a table of
  its own; their widths are the widths :func:`geofupin.io._column_width` gives each sheet's rows.
- A missing value of a mixed column is an empty cell whatever kind of missing it is (the writer before
  wrote a float32 NaN as ``-inf`` and a NumPy NaT as the text ``NaT``).
- The roster's checks, units, posting dates and hardship subsidies, computed column-wise: the same rows as
  the row-by-row code before (kept below as the reference) on a messy roster with every kind of problem.
"""

from __future__ import annotations

import datetime as dt
import itertools
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal

from geofupin import io as gio
from geofupin import roster as ro
from geofupin.config.policy import HousingPlan, HousingRules, seed_policy
from geofupin.config.roster import STAGE_EN, STAGE_ZH, STAGES, NoticeConfig
from geofupin.policy import check_housing, largest_remainder, unit_modes
from geofupin.roster import (
    POOR_STATUSES,
    _Checks,
    _village_index,
    clean_id,
    id_problem,
    notice_end,
    phone_ok,
)


# ------------------------------------------------------------------------ workbooks of SheetRows
def parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in sorted(z.namelist()) if n != "docProps/core.xml"}


def messy_table(n: int, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    texts = np.array(["张家塬村", "=1+1", "-3", "@x", "\t=y", "a\rb", "长" * 70, "", "ok", "_x0041_"], dtype=object)
    mixed = [1, "=a", 2.5, dt.date(2016, 1, 1), None, [1], {"k": "v"}, -7, "x", np.nan]
    floats = rng.uniform(-1e6, 1e7, n)
    floats[rng.integers(0, n, 5)] = np.nan
    floats[rng.integers(0, n, 2)] = np.inf
    return pd.DataFrame(
        {
            "village_id": [f"V{i % 7}" for i in rng.permutation(n)],
            "名称": pd.Series(texts[rng.integers(0, len(texts), n)], dtype=object),
            "str": pd.Series(texts[rng.integers(0, len(texts), n)], dtype="str"),
            "人": pd.array(rng.integers(-5, 500, n), dtype="Int64"),
            "元": np.round(floats, 2),
            "比例": rng.uniform(0, 1, n),
            "户": rng.integers(0, 10**6, n),
            "是": rng.integers(0, 2, n).astype(bool),
            "可空": pd.array(rng.choice([True, False, None], n), dtype="boolean"),
            "日期": pd.Timestamp("2011-03-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="h"),
            "混合": [mixed[i] for i in rng.integers(0, len(mixed), n)],
        }
    )


def village_cut(df: pd.DataFrame) -> dict[str, np.ndarray]:
    where = df.groupby("village_id", sort=True).indices
    return {f"村{k}": where.get(k, np.array([], dtype=np.intp)) for k in [*sorted(where), "V99"]}  # V99: no rows


@pytest.mark.parametrize("cells", [0, 10**9], ids=["streamed", "in_memory"])
def test_sheet_rows_write_the_same_workbook_as_tables_of_their_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cells: int
) -> None:
    monkeypatch.setattr(gio, "XLSX_IN_MEMORY_CELLS", cells)
    df = messy_table(300)
    cut = village_cut(df)
    fmts = {name: {"元": "#,##0.00", "人": "#,##0"} for name in cut}
    head = pd.DataFrame({"村": list(cut), "户数": [len(ix) for ix in cut.values()]})
    shared = {"目录": head, **{name: gio.SheetRows(df, ix) for name, ix in cut.items()}}
    own = {"目录": head, **{name: df.take(ix) for name, ix in cut.items()}}
    a = gio.write_xlsx(shared, tmp_path / "shared.xlsx", number_formats=fmts)
    b = gio.write_xlsx(own, tmp_path / "own.xlsx", number_formats=fmts)
    pa, pb = parts(a), parts(b)
    assert list(pa) == list(pb)
    for name in pa:
        assert pa[name] == pb[name], name
    wb = openpyxl.load_workbook(a)
    assert wb.sheetnames == ["目录", *cut]
    ws = wb["村V3"]
    assert ws.max_row == 1 + len(cut["村V3"])
    assert [c.value for c in ws[1]] == list(df.columns)
    assert ws.cell(row=2, column=1).value == "V3"
    assert wb["村V99"].max_row == 1  # the header alone


def test_sheet_rows_over_the_row_limit_split_like_a_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gio, "XLSX_MAX_ROWS", 40)
    df = messy_table(200)
    ix = np.flatnonzero(df["village_id"].isin(["V1", "V2"]).to_numpy())  # about 57 rows: two sheets
    a = gio.write_xlsx({"村": gio.SheetRows(df, ix)}, tmp_path / "a.xlsx", over_limit="split")
    b = gio.write_xlsx({"村": df.take(ix)}, tmp_path / "b.xlsx", over_limit="split")
    assert openpyxl.load_workbook(a).sheetnames == ["村~1", "村~2"]
    assert parts(a) == parts(b)
    with pytest.raises(gio.OutputError, match="村"):
        gio.write_xlsx({"村": gio.SheetRows(df, ix)}, tmp_path / "c.xlsx")


def test_value_widths_are_the_column_widths_of_every_subset() -> None:
    df = messy_table(400, seed=11)
    rng = np.random.default_rng(5)
    subsets = [np.sort(rng.choice(len(df), k, replace=False)) for k in (0, 1, 2, 7, 50, 399)]
    subsets.append(np.flatnonzero(df["元"].isna().to_numpy()))  # only missing numbers
    for fmt in (None, "#,##0", "#,##0.00"):
        for col in df.columns:
            s = df[col]
            number_format = fmt if gio._is_number_column(s) else None
            measure = gio._ValueWidths(s, number_format)
            for rows in subsets:
                want = gio._column_width([str(col)], s.take(rows), number_format)
                got = gio._fit_width(max(gio.text_width(str(col)), measure.width(rows)))
                assert got == want, (col, fmt, len(rows))


def test_every_kind_of_missing_value_is_an_empty_cell(tmp_path: Path) -> None:
    values = [1, "=a", np.float32("nan"), np.datetime64("NaT"), None, pd.NA, float("nan"), pd.NaT, "z"]
    p = gio.write_xlsx({"t": pd.DataFrame({"混合": pd.Series(values, dtype=object)})}, tmp_path / "t.xlsx")
    got = [c.value for c in openpyxl.load_workbook(p)["t"]["A"]][1:]
    assert got == [1, "=a", None, None, None, None, None, None, "z"]


def test_village_totals_sum_as_a_series_sums_them() -> None:
    from geofupin.notice import _sums_of

    rng = np.random.default_rng(1)
    for _ in range(60):
        n = int(rng.integers(1, 3000))  # past NumPy's pairwise blocks
        yuan = np.round(rng.uniform(0, 60000, n), 2)
        yuan[rng.random(n) < 0.05] = np.nan
        picks = [np.sort(rng.choice(n, int(rng.integers(0, n)), replace=False)) for _ in range(3)]
        picks.append(rng.permutation(n))
        for s in (pd.Series(yuan), pd.Series(rng.integers(0, 100, n)), pd.Series(yuan).astype("Float64")):
            assert _sums_of(s, picks) == [float(s.take(ix).sum()) for ix in picks]


def test_the_collector_is_paused_only_while_a_workbook_is_built_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    seen: list[bool] = []
    real = gio._write_xlsx_table

    def spy(*args: Any, **kw: Any) -> None:
        seen.append(gc.isenabled())
        if args[2] == "boom":
            raise RuntimeError("boom")
        real(*args, **kw)

    monkeypatch.setattr(gio, "_write_xlsx_table", spy)
    df = pd.DataFrame({"村": ["甲", "乙"], "人": [1, 2]})
    was = gc.isenabled()
    try:
        gc.enable()
        gio.write_xlsx({"t": df}, tmp_path / "a.xlsx")  # small: in memory, collector paused
        assert gc.isenabled()
        gc.disable()
        gio.write_xlsx({"t": df}, tmp_path / "b.xlsx")
        assert not gc.isenabled()  # left as it was
        gc.enable()
        with pytest.raises(RuntimeError, match="boom"):
            gio.write_xlsx({"boom": df}, tmp_path / "d.xlsx")
        assert gc.isenabled() and not (tmp_path / "d.xlsx").exists()  # running again, nothing half-written
        monkeypatch.setattr(gio, "XLSX_IN_MEMORY_CELLS", 0)
        gio.write_xlsx({"t": df}, tmp_path / "c.xlsx")  # streamed: collector running
    finally:
        (gc.enable if was else gc.disable)()
    assert seen == [False, False, False, True]


# ------------------------------------------------------------------------ CSV and GeoPackage
def test_arrow_text_columns_are_made_formula_free_as_value_by_value() -> None:
    texts = ["=1+1", None, "a", "-x", "\t=", "b\r", "\rq", "+", "@", "", "ok", "x=", " =", "＝全角", "\n=", "😀=", "-"]
    for dtype in ("str", pd.StringDtype("pyarrow"), pd.StringDtype("python"), object):
        s = pd.Series(texts * 3, dtype=dtype)
        got = gio._formula_safe(s)
        assert got is not None
        hit = np.asarray(s.str.startswith(gio.FORMULA_START, na=False), dtype=bool)  # the way before
        assert_series_equal(got, s.where(~hit, "'" + s.where(hit, "")))
        want = [gio.neutralize_formula(v) if isinstance(v, str) else None for v in s.tolist()]
        assert [v if isinstance(v, str) else None for v in got.tolist()] == want
        assert gio._formula_safe(pd.Series(["a", None, "ok", " =", "＝"], dtype=dtype)) is None


def test_layers_split_already_write_the_same_geopackage(tmp_path: Path) -> None:
    import geopandas as gpd
    import shapely

    water = gpd.GeoDataFrame(
        {"kind": ["river", "well", "reservoir", "=1"]},
        geometry=[
            shapely.LineString([(0, 0), (5, 5)]),
            shapely.Point(2, 3),
            shapely.box(0, 0, 1, 1),
            shapely.MultiPoint([(1, 1), (2, 2)]),
        ],
        crs="EPSG:4547",
    )
    roads = gpd.GeoDataFrame({"name": ["甲"]}, geometry=[shapely.LineString([(0, 0), (1, 0)])], crs="EPSG:4547")
    frames = {"water": water, "roads": roads}
    styles = [{"f_table_name": "roads", "styleName": "默认", "styleQML": "<qgis/>", "useAsDefault": True}]
    a = gio.write_layers(frames, tmp_path / "a.gpkg", styles=styles)
    split = gio.split_geometry_families(frames)
    b = gio.write_layers(split, tmp_path / "b.gpkg", styles=styles)
    assert a.read_bytes() == b.read_bytes()
    assert set(gio.read_results(b)) == {"water_points", "water_lines", "water_areas", "roads"}
    with pytest.raises(TypeError):
        gio.write_layers({"more_roads": roads, **split}, tmp_path / "c.gpkg")


# ------------------------------------------------------------------------ the roster, column-wise
def villages() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "village_id": [f"V{i}" for i in range(6)],
            "name": ["甲村", "乙村", "丙村", "丁村", "戊村", "己村"],
            "township": ["一乡", "一乡", "二乡", "二乡", "三乡", "三乡"],
            "group": ["", "一组", "", "", "二组", ""],
            "poor_households": [9, 7, 5, 0, 4, 3],
            "poor_persons": [30, 21, 18, 0, 12, 9],
            "relocate_households": [10, 6, 0, 3, 5, 4],
            "relocate_persons": [35, 20, 0, 9, 16, 13],
        }
    )


def messy_roster(n: int = 150, seed: int = 17) -> pd.DataFrame:
    """An office's roster with every kind of problem the checks look for, here and there."""
    rng = np.random.default_rng(seed)

    def an_id(i: int) -> str:
        first = f"610624{1940 + i % 60}{1 + i % 12:02d}{1 + i % 28:02d}{i % 1000:03d}"
        good = first + ro.id_check_char(first)
        kind = rng.integers(0, 12)
        broken = {0: good[:-1] + ("0" if good[-1] != "0" else "1"), 1: good[:15], 2: good[:10], 3: ""}
        return broken.get(int(kind), good)

    ids = [an_id(i) for i in range(n)]
    for i in rng.integers(0, n, 4):  # duplicates
        ids[int(rng.integers(0, n))] = ids[int(i)]
    day = dt.date(2011, 2, 1)

    def when(i: int, k: int) -> str:
        if rng.random() < 0.08:
            return ""  # a gap
        d = day + dt.timedelta(days=int(10 * k + rng.integers(-12, 8)))  # now and then out of order
        return d.isoformat()

    statuses = ["一般贫困户", "低保户", "五保户", "特困户", "非贫困户"]
    names = ["甲村", "乙村", "V2", "丁村", "戊村", "己村"]
    return pd.DataFrame(
        {
            "户主姓名": [f"户主{i}" for i in range(n)],
            "身份证号码": ids,
            "联系电话": [["13812345678", "0911-8123456", "12345", ""][int(k)] for k in rng.integers(0, 4, n)],
            "家庭人口": [str(int(k)) for k in rng.integers(1, 9, n)],
            "户类型": [statuses[int(k)] for k in rng.integers(0, 5, n)],
            "人均纯收入": [str(int(k)) for k in rng.integers(500, 6000, n)],
            "所在村": [names[int(k)] for k in rng.integers(0, 6, n)],
            "村民小组": [["", "一组", "二组"][int(k)] for k in rng.integers(0, 3, n)],
            "新建住房面积": [["", "", "60", "150", "20"][int(k)] for k in rng.integers(0, 5, n)],
            "是否搬迁": [["是", "是", "是", "否"][int(k)] for k in rng.integers(0, 4, n)],
            "申请日期": [when(i, 0) for i in range(n)],
            "村评议日期": [when(i, 1) for i in range(n)],
            "乡镇审查日期": [when(i, 2) for i in range(n)],
            "县审批日期": [when(i, 3) for i in range(n)],
            "市备案日期": [when(i, 4) for i in range(n)],
        }
    )


@pytest.mark.parametrize("posted", [None, "2011-02-25"])
def test_roster_checks_are_the_rows_the_row_by_row_checks_gave(posted: str | None) -> None:
    h, _ = ro.normalize(messy_roster(), villages())
    notice = NoticeConfig(posting_date=posted)
    rules, plan = seed_policy().housing, HousingPlan()
    got = ro.check_roster(h, villages(), housing_rules=rules, housing_plan=plan, notice=notice)
    want = check_roster_before(h, villages(), housing_rules=rules, housing_plan=plan, notice=notice)
    assert_frame_equal(got, want, check_exact=True)
    kinds = set(got["check"])
    assert {"id_number", "duplicate_id", "phone", "registry_households", "registry_persons", "move_households"} <= kinds
    assert {"move_persons", "poor_not_moving", "housing_area", "workflow_order", "workflow_gap"} <= kinds
    assert "notice_period" in kinds or posted is None  # each village's own first review date: rarely inside
    for hh in (h, h.iloc[:0]):
        known = hh[hh["village_id"] != ""]
        assert ro._posting_dates(known, notice) == posting_dates_before(known, notice)


def test_normalize_names_each_unknown_village_by_its_row_and_fills_in_the_layer() -> None:
    raw = messy_roster(200, seed=5)
    raw.loc[3, "所在村"] = "不存在村"
    raw.loc[7, "所在村"] = ""
    h, checks = ro.normalize(raw, villages())
    bad = checks[checks["check"] == "unknown_village"]
    assert {3, 7} <= set(bad["row"] - 2)
    for r in bad.itertuples():
        i = int(r.row) - 2
        assert (r.head_name, r.household_id, r.village_id) == (raw["户主姓名"][i], f"H{i + 1:04d}", "")
        assert h["village_id"][i] == "" and h["village_name"][i] == raw["所在村"][i]
    vil = villages().set_index("village_id")
    found = h[h["village_id"] != ""]
    assert len(found) + len(bad) == len(h)
    assert (found["village_name"] == vil.loc[found["village_id"], "name"].to_numpy()).all()
    no_group = found[raw.loc[found.index, "村民小组"].to_numpy() == ""]
    assert (no_group["group"] == vil.loc[no_group["village_id"], "group"].to_numpy()).all()
    last = {i: "" for i in range(len(h))}
    for s in STAGES:  # the last stage with a date
        for i in np.flatnonzero(h[f"{s}_date"].notna().to_numpy()):
            last[int(i)] = s
    assert h["stage"].tolist() == [last[i] for i in range(len(h))]


def test_household_units_are_the_units_the_row_by_row_code_gave() -> None:
    rng = np.random.default_rng(23)
    n_units = 40
    units = pd.DataFrame(
        {
            "village_id": [f"V{int(k)}" for k in rng.integers(0, 8, n_units)],
            "group": [["", "一组", "二组"][int(k)] for k in rng.integers(0, 3, n_units)],
            "site_id": [["S1", "S2", "", "S3"][int(k)] for k in rng.integers(0, 4, n_units)],
            "mode": [
                ["central", "central", "scattered", "nursing_home", "transitional"][int(k)]
                for k in rng.integers(0, 5, n_units)
            ],
            "households": rng.integers(1, 30, n_units).astype(float),
        }
    )
    n = 300
    households = pd.DataFrame(
        {
            "village_id": [f"V{int(k)}" for k in rng.integers(0, 9, n)],
            "group": [["", "一组", "二组"][int(k)] for k in rng.integers(0, 3, n)],
            "placed_mode": [
                ["central", "central", "scattered", "nursing_home", "transitional", ""][int(k)]
                for k in rng.integers(0, 6, n)
            ],
            "placed_site": [["S1", "S2", "", "S3"][int(k)] for k in rng.integers(0, 4, n)],
        },
        index=rng.permutation(n) + 1000,  # not numbered from 0: labels and positions differ
    )
    got = ro._household_units(households, units)
    want = household_units_before(households, units)
    assert_series_equal(got, want, check_exact=True)
    assert (got >= 0).sum() > n // 3 and (got == -1).any()


def test_hardship_subsidies_go_as_the_village_by_village_ranking_gave() -> None:
    from geofupin import policy as pol

    vil = villages().assign(households=40, persons=150)
    h, _ = ro.normalize(messy_roster(300, seed=29), vil)
    budget = pol.compute_budget(pol.plan_units(vil), seed_policy())
    pay, _ = ro.payment_roster(h, budget)
    # the reference: each village's households by status order, income per person, row; the k-th gets
    # min(max(quota - k, 0), 1)
    cfg = ro.PaymentConfig()
    rank_of = {s: i for i, s in enumerate(cfg.hardship_order)}
    units = budget.units
    quota = units.groupby(units["village_id"].astype(str))["hardship_households"].sum()
    paid = h.set_index("household_id").loc[pay["household_id"]]
    want = pd.Series(0.0, index=pay.index)
    for vid, g in paid.reset_index().groupby("village_id", sort=False):
        key = g.assign(
            s=g["status"].map(lambda s: rank_of.get(s, len(rank_of) + (s == "non_poor"))),
            i=g["income_per_capita"].fillna(np.inf),
        ).sort_values(["s", "i", "row"], kind="stable")
        for k, ix in enumerate(key.index):
            want[ix] = min(max(float(quota.get(vid, 0.0)) - k, 0.0), 1.0)
    assert pay["hardship"].tolist() == want.tolist()
    assert 0 < pay["hardship"].sum() < len(pay)


# ------------------------------------------------------------------------ the code before (the reference)
def posting_dates_before(h: pd.DataFrame, cfg: NoticeConfig) -> dict[str, dt.date | None]:
    out: dict[str, dt.date | None] = {}
    for vid, g in h.groupby("village_id", sort=True):
        if cfg.posted is not None:
            out[str(vid)] = cfg.posted
            continue
        dates = [d for d in g["village_review_date"] if d is not None]
        out[str(vid)] = min(dates) if dates else None
    return out


def check_roster_before(
    households: pd.DataFrame,
    villages: pd.DataFrame,
    *,
    housing_rules: HousingRules | None = None,
    housing_plan: HousingPlan | None = None,
    notice: NoticeConfig | None = None,
) -> pd.DataFrame:
    """Every check of the module docstring's table on a normalised roster (rows of ``roster_checks``).

    Parameters
    ----------
    households
        From :func:`normalize`.
    villages
        The villages layer: ``poor_households``, ``poor_persons``, ``relocate_households``,
        ``relocate_persons`` per row.
    housing_rules, housing_plan
        The policy's limits and planned floor area by household size (for households without a
        ``planned_floor_area_m2``).
    notice
        The 公示 (period length and posting date).
    """

    notice = notice or NoticeConfig()
    checks = _Checks()
    h = households
    # -- ID numbers
    records = h.to_dict("records")
    for r in records:
        why = id_problem(r["id_number"])
        if why is not None:
            checks.add(
                "id_number", "error", f"身份证号码无效:{why[0]}", f"invalid ID number: {why[1]}",
                "核对户主身份证原件后重填 / copy the ID number again from the card", household=r,
            )  # fmt: skip
        if r["phone"] and not phone_ok(r["phone"]):
            checks.add(
                "phone", "warning", "联系电话格式不对(应为11位手机号或固定电话)",
                "the phone number is neither an 11-digit mobile nor a landline",
                "核对联系电话 / check the number", household=r,
            )  # fmt: skip
    ids = h["id_number"].map(clean_id)
    twice = (ids != "") & ids.duplicated(keep=False)
    for _idn, g in h[twice].groupby(ids[twice], sort=True):
        if len(g) > 1:
            rows = "、".join(str(x) for x in g["row"])
            for r in g.to_dict("records"):
                checks.add(
                    "duplicate_id", "error", f"身份证号码重复(第{rows}行)", f"the same ID number on rows {rows}",
                    "一户只列一行;核对是否重复登记或录错 / list a household once, or correct the number", household=r,
                )  # fmt: skip
    # -- registry and plan per village
    v = _village_index(villages)
    known = h[h["village_id"] != ""]
    moves = v["relocate_households"] if "relocate_households" in v.columns else pd.Series(0, index=v.index)
    rel = v[pd.to_numeric(moves, errors="coerce").fillna(0) > 0]
    rel_ids = set(rel["village_id"])
    wanted = sorted(set(known["village_id"]) | rel_ids)
    vv = v.set_index("village_id")
    # each village's households (in roster order) and the layer's figures as numbers, found once
    groups = dict(iter(known.groupby("village_id", sort=False)))
    none = known.iloc[:0]
    wants = {
        col: pd.to_numeric(vv[col], errors="coerce").fillna(0)
        for col in ("poor_households", "poor_persons", "relocate_households", "relocate_persons")
        if col in vv.columns
    }
    for vid in wanted:
        g = groups.get(vid, none)
        row = vv.loc[vid]
        label = f"{row['name']}{row['group']}" if row["group"] else str(row["name"])
        poor = g[g["status"].isin(POOR_STATUSES)]
        moving = g[g["relocate"]]
        for check, have, col, what_zh, what_en in (
            ("registry_households", len(poor), "poor_households", "贫困户", "poor households"),
            ("registry_persons", int(poor["persons"].fillna(0).sum()), "poor_persons", "贫困人口", "poor persons"),
            ("move_households", len(moving), "relocate_households", "搬迁户", "relocating households"),
            (
                "move_persons",
                int(moving["persons"].fillna(0).sum()),
                "relocate_persons",
                "搬迁人口",
                "relocating persons",
            ),
        ):
            if col not in wants:
                continue
            want = wants[col].loc[vid]
            if round(float(want)) != have:
                src = "建档立卡登记" if check.startswith("registry") else "搬迁规划"
                checks.add(
                    check, "error",
                    f"{label}:名册{what_zh}{have},{src}为{round(float(want))}",
                    f"{vid}: the roster has {have} {what_en}, the villages layer {col} = {round(float(want))}",
                    f"补全或更正{label}的名册(或村庄图层的{col}),使两者一致 / complete the roster of {vid} or correct"
                    f" the villages layer's {col}",
                    village_id=vid,
                )  # fmt: skip
        staying_poor = g["status"].isin(POOR_STATUSES) & ~g["relocate"] if vid in rel_ids else None
        if staying_poor is not None and staying_poor.any():
            for r in g[staying_poor].to_dict("records"):
                checks.add(
                    "poor_not_moving", "error", f"项目村{label}的贫困户未纳入搬迁",
                    f"a poor household of project village {vid} does not move",
                    "项目村贫困户全部纳入搬迁范围:是否搬迁填「是」 / every poor household of a project village"
                    " moves: set 是否搬迁 to 是", household=r,
                )  # fmt: skip
    # -- housing: planned floor area on the household's real size
    moving = h[h["relocate"] & h["persons"].notna()].copy()
    if len(moving):
        rules = housing_rules or HousingRules()
        plan = housing_plan or HousingPlan()
        given = moving["planned_floor_area_m2"].notna()
        table = plan.floor_area_m2_by_size
        biggest = max(table)
        area = [
            float(a) if ok else float(table.get(int(s), table[biggest]))
            for a, ok, s in zip(moving["planned_floor_area_m2"], given, moving["persons"], strict=True)
        ]
        checked = check_housing(
            pd.DataFrame({"size": moving["persons"].astype(int).to_numpy(), "floor_area_m2": area}), rules, plan
        )
        for r, c, own in zip(moving.to_dict("records"), checked.to_dict("records"), given, strict=True):
            src = "名册新建住房面积" if own else "建房面积标准"
            if c["policy_conflict"]:
                checks.add(
                    "housing_conflict", "warning", f"{src}{c['floor_area_m2']:g}平方米:{c['reasons_zh']}",
                    f"{c['floor_area_m2']:g} m2: {c['reasons_en']}",
                    "按政策报批:分户安置或经批准超面积 / seek approval: split the household or a larger house",
                    household=r,
                )  # fmt: skip
            elif not c["ok"]:
                checks.add(
                    "housing_area", "error", f"{src}{c['floor_area_m2']:g}平方米:{c['reasons_zh']}",
                    f"{c['floor_area_m2']:g} m2: {c['reasons_en']}",
                    f"建房面积须人均不少于{rules.min_floor_area_m2_per_person:g}平方米、每户不超过"
                    f"{rules.max_floor_area_m2_per_household:g}平方米 / keep the floor area within the limits",
                    household=r,
                )  # fmt: skip
    # -- workflow
    posted = posting_dates_before(known, notice)
    for r in records:
        dated = [(s, r[f"{s}_date"]) for s in STAGES if r[f"{s}_date"] is not None]
        if dated:
            last = STAGES.index(dated[-1][0])
            undated = [s for s in STAGES[:last] if r[f"{s}_date"] is None]
            if undated:
                s, gap = dated[-1][0], undated[0]
                checks.add(
                    "workflow_gap", "warning", f"{STAGE_ZH[s]}已有日期,但{STAGE_ZH[gap]}无日期",
                    f"{STAGE_EN[s]} is dated but {STAGE_EN[gap]} is not",
                    f"补填{STAGE_ZH[gap]}日期 / fill in the date of {STAGE_EN[gap]}", household=r,
                )  # fmt: skip
        for (s0, d0), (s, d) in itertools.pairwise(dated):
            if d < d0:
                checks.add(
                    "workflow_order", "error",
                    f"{STAGE_ZH[s]}日期{d.isoformat()}早于{STAGE_ZH[s0]}日期{d0.isoformat()}",
                    f"{STAGE_EN[s]} ({d.isoformat()}) is dated before {STAGE_EN[s0]} ({d0.isoformat()})",
                    "按户申请→村评议公示→乡镇审查→县审批→市备案的顺序更正日期 / correct the dates: each stage follows"
                    " the one before", household=r,
                )  # fmt: skip
        p = posted.get(str(r["village_id"]))
        t = r["township_review_date"]
        if p is not None and t is not None:
            end = notice_end(p, notice.period_days)
            if t <= end:
                checks.add(
                    "notice_period", "error",
                    f"乡镇审查日期{t.isoformat()}在公示期内({p.isoformat()}至{end.isoformat()})",
                    f"township check {t.isoformat()} inside the public notice ({p.isoformat()} to {end.isoformat()})",
                    f"公示{notice.period_days}天无异议后方可上报乡镇审查 / the township check follows the"
                    f" {notice.period_days}-day notice", household=r,
                )  # fmt: skip
    out = checks.frame()
    return out


def household_units_before(households: pd.DataFrame, units: pd.DataFrame) -> pd.Series:
    """The plan unit (row of ``units``) of each household.

    A household placed other than at a central site (columns ``placed_mode``, ``placed_site`` from the
    ``placement`` table) belongs to its village's unit of that mode and destination (its group's first);
    the others fill their village's central units in roster order.
    """
    out = pd.Series(-1, index=households.index, dtype=int)

    umode = unit_modes(units)
    usite = units["site_id"].astype(str).to_numpy()
    uvid = units["village_id"].astype(str).to_numpy()
    ugroup = units["group"].fillna("").astype(str).to_numpy() if "group" in units.columns else np.full(len(units), "")
    placed = households.get("placed_mode", pd.Series("", index=households.index)).fillna("").astype(str)
    site = households.get("placed_site", pd.Series("", index=households.index)).fillna("").astype(str)
    elsewhere = placed.isin(["scattered", "nursing_home", "transitional"])
    for ix in households.index[elsewhere]:
        hit = np.flatnonzero(
            (uvid == str(households.at[ix, "village_id"])) & (umode == placed.at[ix]) & (usite == site.at[ix])
        )
        if len(hit):
            same = hit[ugroup[hit] == str(households.at[ix, "group"])] if "group" in households.columns else hit
            out.at[ix] = int(same[0] if len(same) else hit[0])
    central = umode == "central"
    for vid, g in households[~elsewhere].groupby("village_id", sort=False):
        us = units.index[(uvid == str(vid)) & central].to_numpy()
        if len(us) == 0:
            continue
        counts = largest_remainder(float(len(g)), units.loc[us, "households"].to_numpy(dtype=float)).astype(int)
        out.loc[g.index] = np.repeat(us, counts)[: len(g)]
    return out
