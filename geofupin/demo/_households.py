"""The demo county's household roster (搬迁对象名册): SYNTHETIC households that add up to the villages layer.

One row per relocating household of every relocating village group, in the column names a county
office uses (户主姓名, 身份证号码, 家庭人口, 人均纯收入, 致贫原因, 所在村, 村民小组, 现住房面积, 安置意愿, the
workflow dates...), so that ``geofupin run scenarios/demo.yaml`` reads it as an office's own file.
Every figure agrees with the villages layer and every check passes:

- per group, the poor households and persons are the registry's ``poor_households`` and
  ``poor_persons``, and all relocating households and persons are ``relocate_households`` and
  ``relocate_persons`` (the rest, 非贫困户, move with their group);
- household sizes are 1-6 persons (so the 20 m2/person and 120 m2/household limits can both be met);
- the 特困户 are the budget's 10 % hardship households (report 4), shared down by largest
  remainder as :func:`geofupin.policy.hardship_households` does;
- wishes (安置意愿): mostly 集中, a few 分散 (投亲靠友), 集中供养 (五保户) and 周转房 (特困户), see :func:`with_wishes`;
- ID numbers are valid GB 11643 numbers (area code 610624, 安塞县) and unique; names, phone numbers
  and dates are invented; the workflow dates are in order, and each township check follows the
  village's 7-day public notice.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

_SURNAMES = "张王李刘杨高郭贺白冯马薛郝呼艾闫雷强拓惠党姬曹霍樊贾常袁秦孟田杜姚任吕魏徐孙朱胡何罗郑董"
_GIVEN = "建国志军明华平安福生宝山海林春秋玉兰英芳强刚勇成德富贵兴旺振学文武利民永忠"
#: Used when a group's registry names no cause.
DEFAULT_CAUSE = "自然条件恶劣"
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
AREA_CODE = "610624"  # 安塞县 (the seed's county)


def _split(persons: int, households: int, rng: np.random.Generator, *, top: int = 6) -> list[int]:
    """``households`` sizes of 1..``top`` adding up to ``persons`` (an even split, then random moves)."""
    if households == 0:
        return []
    lo, n_hi = divmod(persons, households)
    sizes = np.array([lo + 1] * n_hi + [lo] * (households - n_hi), dtype=int)
    for _ in range(households * 2):
        i, j = rng.integers(0, households, size=2)
        if i != j and sizes[i] > 1 and sizes[j] < top:
            sizes[i] -= 1
            sizes[j] += 1
    rng.shuffle(sizes)
    return [int(s) for s in sizes]


def _id_number(rng: np.random.Generator, used: set[str]) -> str:
    while True:
        born = dt.date(1940, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365 * 50)))
        seq = int(rng.integers(0, 500)) * 2 + 1  # odd: a man, as most heads of household in the registry
        first = f"{AREA_CODE}{born:%Y%m%d}{seq:03d}"
        full = first + _ID_CHECK[sum(int(c) * w for c, w in zip(first, _ID_WEIGHTS, strict=True)) % 11]
        if full not in used:
            used.add(full)
            return full


def households_table(villages: pd.DataFrame, *, seed: int, hardship_share: float = 0.10) -> pd.DataFrame:
    """The demo roster of ``villages`` (the demo's villages layer), deterministic for a seed.

    Returns a table with the office's Chinese column names, one row per relocating household.
    """
    from ..config.policy import PolicyOptions
    from ..policy import hardship_households, plan_units

    rng = np.random.Generator(np.random.PCG64([int(seed), 14]))
    v = pd.DataFrame(villages.drop(columns="geometry", errors="ignore")).reset_index(drop=True)
    units = plan_units(v)
    hard = dict(zip(units["village_id"], hardship_households(units, hardship_share, PolicyOptions()), strict=True))
    used: set[str] = set()
    rows = []
    moving = v[v["relocate_households"] > 0]
    for k, (_, r) in enumerate(moving.iterrows()):
        rh, rp = int(r["relocate_households"]), int(r["relocate_persons"])
        ph = min(int(r["poor_households"]), rh)
        pp = min(int(r["poor_persons"]), rp)
        sizes = [*(("poor", s) for s in _split(pp, ph, rng)), *(("non_poor", s) for s in _split(rp - pp, rh - ph, rng))]
        n_hard = round(float(hard.get(str(r["village_id"]), 0.0)))
        poor_idx = [i for i, (kind, _) in enumerate(sizes) if kind == "poor"]
        rng.shuffle(poor_idx)
        hard_set = set(poor_idx[:n_hard])
        singles = [i for i in poor_idx[n_hard:] if sizes[i][1] == 1]
        five = set(singles[: max(0, len(singles) // 2)])
        low = {i for i in poor_idx[n_hard:] if i not in five and rng.random() < 0.25}
        posted = dt.date(2010, 11, 1) + dt.timedelta(days=3 * k)
        base = float(r["income_per_capita"])
        for i, (kind, size) in enumerate(sizes):
            if i in hard_set:
                status = "特困户"
            elif i in five:
                status = "五保户"
            elif i in low:
                status = "低保户"
            elif kind == "poor":
                status = "一般贫困户"
            else:
                status = "非贫困户"
            income = base * (0.55 + 0.35 * rng.random()) if kind == "poor" else base * (1.1 + 0.6 * rng.random())
            name = _SURNAMES[int(rng.integers(len(_SURNAMES)))] + "".join(
                _GIVEN[int(x)] for x in rng.integers(len(_GIVEN), size=int(rng.integers(1, 3)))
            )
            net = int(rng.choice([3, 5, 8])) * 10 + int(rng.integers(0, 10))
            phone = f"1{net:02d}{int(rng.integers(0, 10**8)):08d}"
            applied = posted - dt.timedelta(days=int(rng.integers(10, 40)))
            town = posted + dt.timedelta(days=int(rng.integers(8, 15)))
            county = town + dt.timedelta(days=int(rng.integers(10, 30)))
            city = county + dt.timedelta(days=int(rng.integers(5, 20)))
            rows.append(
                {
                    "户编号": f"{r['village_id']}-{i + 1:03d}",
                    "户主姓名": name,
                    "身份证号码": _id_number(rng, used),
                    "联系电话": phone,
                    "家庭人口": size,
                    "户类型": status,
                    "人均纯收入": round(income / 10) * 10,
                    "致贫原因": (r["poverty_cause"] or DEFAULT_CAUSE) if kind == "poor" else "",
                    "乡镇": r["township"],
                    "所在村": r["name"],
                    "村民小组": r["group"],
                    "现住房面积": int(rng.integers(6, 19)) * 5,
                    "安置意愿": "集中",
                    "申请日期": applied.isoformat(),
                    "村评议日期": posted.isoformat(),
                    "乡镇审查日期": town.isoformat(),
                    "县审批日期": county.isoformat(),
                    "市备案日期": city.isoformat(),
                }
            )
    return with_wishes(pd.DataFrame(rows))


#: Villages whose collective has transitional housing (周转房) in the demo (``placement.transitional_housing`` of
#: ``scenarios/demo.yaml``), and how many of its 特困户 opt in (the first, in roster order).
TRANSITIONAL_VILLAGES: dict[str, int] = {"V001-G1": 3}


def with_wishes(table: pd.DataFrame) -> pd.DataFrame:
    """The demo's placement wishes (安置意愿), deterministic and without random draws (so the other columns stay):

    - every 29th household (from the 8th) that is neither 五保户 nor 特困户 moves scattered (分散安置: 投亲靠友);
    - every second 五保户 (from the first) asks for collective care in a nursing home (集中供养);
    - the first 特困户 of each :data:`TRANSITIONAL_VILLAGES` village ask for its transitional housing (周转房).
    """
    out = table.copy()
    status = out["户类型"].to_numpy()
    k = np.arange(len(out))
    scattered = (k % 29 == 7) & ~np.isin(status, ["五保户", "特困户"])
    out.loc[scattered, "安置意愿"] = "投亲靠友"
    five = np.flatnonzero(status == "五保户")
    out.loc[out.index[five[::2]], "安置意愿"] = "集中供养"
    village = out["户编号"].str.rsplit("-", n=1).str[0]
    for vid, n in TRANSITIONAL_VILLAGES.items():
        idx = np.flatnonzero((village == vid).to_numpy() & (status == "特困户"))[:n]
        out.loc[out.index[idx], "安置意愿"] = "周转房"
    return out


__all__ = ("AREA_CODE", "TRANSITIONAL_VILLAGES", "households_table", "with_wishes")
