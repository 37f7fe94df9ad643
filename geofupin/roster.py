"""The household roster (搬迁对象名册): checks, workflow, the public notice (公示名单) and the payment roster.

An office's roster is one row per household, in its own column names (:data:`COLUMNS` lists the
canonical columns and the Chinese and English names accepted for each). :func:`normalize` turns
the table :func:`geofupin.io.read_table` read into canonical columns and finds each household's
row of the villages layer; :func:`check_roster` runs every check of report 4 and names the
spreadsheet row and the fix of each problem:

=====================  =======  ===========================================================
check                  level    rule
=====================  =======  ===========================================================
``bad_value``          error    a cell that cannot be read (persons, status, wish, date...)
``unknown_village``    error    the village (id or name, with group and township) is not in the villages layer
``id_number``          error    ID number (身份证号) fails GB 11643: 18 characters, a real birth date,
                                the mod 11-2 check character (``X`` for 10)
``duplicate_id``       error    the same ID number on two rows
``registry_households`` error   the roster's poor households of a village differ from the registry
``registry_persons``   error    the roster's poor persons of a village differ from the registry (建档立卡)
``move_households``    error    the roster's relocating households differ from the plan's
``move_persons``       error    the roster's relocating persons differ from the plan's
``poor_not_moving``    error    a poor household of a project village does not move (项目村贫困户全部纳入搬迁范围)
``housing_area``       error    planned floor area outside >= 20 m2/person and <= 120 m2/household
``housing_conflict``   warning  the household is so large that no floor area meets both limits
``workflow_order``     error    a workflow stage dated before the stage before it
``workflow_gap``       warning  a stage dated while an earlier stage has no date
``notice_period``      error    the township check dated inside the 公示 period
``phone``              warning  a phone number that is neither 11 digits nor a landline
``hardship_quota``     warning  the budget's hardship households (10 %) do not match the roster's 特困户
=====================  =======  ===========================================================

The workflow is report 4's (户主申请 → 村评议并张榜公布 → 乡镇审查 → 县扶贫办审批 → 市扶贫局备案):
each household's status is the last stage it has a date for. :func:`notice_table` is the
公示名单 of each village (ID and phone numbers masked by :func:`mask_id` and :func:`mask_phone`; no
income, no cause of poverty), with the posting date and the period's last day
(:func:`notice_end`). :func:`payment_roster` pays each relocating household the housing
subsidies of the budget's rules ``paid_to: household`` (直补到户), by payer and tranche, and
:func:`payment_check` shows that they add up to the budget to the fen, village by village.
"""

from __future__ import annotations

import datetime as dt
import difflib
import itertools
import logging
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .config.policy import HousingPlan, HousingRules
from .config.roster import (
    STAGE_EN,
    STAGE_ZH,
    STAGES,
    STATUS_ALIASES,
    STATUS_ZH,
    WISH_ALIASES,
    WISH_ZH,
    NoticeConfig,
    PaymentConfig,
    RosterConfig,
)
from .context import RunContext, StepResult, run_policy
from .errors import DataError, LayerError, Problems
from .vocabulary import PLACEMENT_MODE_ZH

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RosterColumn:
    """One canonical column of the roster: its kind, the names offices give it, its Chinese header."""

    name: str
    kind: str  # text | int | float | date | status | wish | bool
    aliases: tuple[str, ...]
    zh: str
    required: bool = False


#: The roster's canonical columns and the names accepted for each (the README lists them).
COLUMNS: tuple[RosterColumn, ...] = (
    RosterColumn("household_id", "text", ("户编号", "户编码", "户号", "家庭编号", "hh_id"), "户编号"),
    RosterColumn("head_name", "text", ("户主姓名", "户主", "姓名", "户主名", "head", "name"), "户主姓名", True),
    RosterColumn(
        "id_number",
        "text",
        ("身份证号码", "身份证号", "户主身份证号", "户主身份证号码", "公民身份号码", "证件号码", "id_no", "id_card"),
        "身份证号码",
        True,
    ),
    RosterColumn("phone", "text", ("联系电话", "电话", "手机", "手机号", "手机号码", "tel"), "联系电话"),
    RosterColumn(
        "persons", "int", ("家庭人口", "家庭人口数", "人口", "人口数", "人数", "户人口", "size"), "家庭人口", True
    ),
    RosterColumn("status", "status", ("户类型", "贫困户属性", "贫困属性", "户属性", "类别", "type"), "户类型"),
    RosterColumn("income_per_capita", "float", ("人均纯收入", "人均收入", "家庭人均纯收入", "income"), "人均纯收入"),
    RosterColumn("poverty_cause", "text", ("致贫原因", "主要致贫原因", "cause"), "致贫原因"),
    RosterColumn(
        "village", "text", ("所在村", "村", "村名", "行政村", "村编码", "village_id", "village_name"), "所在村", True
    ),
    RosterColumn("township", "text", ("乡镇", "所在乡镇", "乡(镇)", "town"), "乡镇"),
    RosterColumn("group", "text", ("村民小组", "组", "小组", "所在组"), "村民小组"),
    RosterColumn(
        "current_floor_area_m2", "float", ("现住房面积", "住房面积", "现有住房面积", "house_area"), "现住房面积"
    ),
    RosterColumn(
        "planned_floor_area_m2",
        "float",
        ("新建住房面积", "建房面积", "规划建房面积", "安置房面积", "floor_area_m2"),
        "新建住房面积",
    ),
    RosterColumn("wish", "wish", ("安置意愿", "安置方式", "意愿"), "安置意愿"),
    RosterColumn("destination", "text", ("安置去向", "意向安置点", "安置地点", "去向"), "安置去向"),
    RosterColumn("relocate", "bool", ("是否搬迁", "纳入搬迁", "搬迁"), "是否搬迁"),
    RosterColumn("bank_account", "text", ("银行账号", "一卡通账号", "惠农一卡通", "存折账号", "账号"), "银行账号"),
    RosterColumn("apply_date", "date", ("申请日期", "申请时间", "户申请日期"), "申请日期"),
    RosterColumn(
        "village_review_date", "date", ("村评议日期", "评议日期", "村评议公示日期", "张榜公布日期"), "村评议日期"
    ),
    RosterColumn("township_review_date", "date", ("乡镇审查日期", "乡镇审核日期", "乡镇审查"), "乡镇审查日期"),
    RosterColumn(
        "county_approval_date", "date", ("县审批日期", "县扶贫办审批日期", "审批日期", "县审批"), "县审批日期"
    ),
    RosterColumn("city_filing_date", "date", ("市备案日期", "备案日期", "市扶贫局备案日期", "市备案"), "市备案日期"),
)
COLUMN_BY_NAME: dict[str, RosterColumn] = {c.name: c for c in COLUMNS}
POOR_STATUSES = ("poor", "low_income", "five_guarantee", "extreme_poor")
_TRUE = {"是", "y", "yes", "true", "1", "搬迁", "纳入"}
_FALSE = {"否", "n", "no", "false", "0", "不搬迁", "未纳入"}


# --------------------------------------------------------------------------- pure helpers
def _key(header: Any) -> str:
    """A header as compared with the aliases: NFKC, no spaces, lower case, without a trailing (unit)."""
    t = unicodedata.normalize("NFKC", str(header)).strip().lower()
    t = re.sub(r"\s+", "", t)
    return re.sub(r"\([^()]*\)$", "", t) or t


def clean_id(text: Any) -> str:
    """An ID number as compared and checked: NFKC (full-width digits), no spaces, ``x`` as ``X``."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text))).upper()


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_check_char(first17: str) -> str:
    """The GB 11643-1999 check character of the first 17 digits (ISO 7064 mod 11-2; ``X`` for 10).

    >>> id_check_char("11010519491231002")
    'X'
    """
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def id_problem(text: Any) -> tuple[str, str] | None:
    """Why an ID number (公民身份号码, GB 11643) is invalid, in Chinese and English; ``None`` when valid.

    Checked: 18 characters, 17 digits then a digit or ``X``, a real birth date (characters 7-14)
    and the check character. A 15-digit ID (issued before 1999) is reported as old.
    """
    t = clean_id(text)
    if not t:
        return "身份证号码为空", "no ID number"
    if re.fullmatch(r"\d{15}", t):
        return "15位旧身份证号码,应换为18位", "an old 15-digit ID number; give the 18-digit one"
    if len(t) != 18:
        return f"身份证号码为{len(t)}位,应为18位", f"the ID number has {len(t)} characters, not 18"
    if not re.fullmatch(r"\d{17}[\dX]", t):
        return "身份证号码含非数字字符(仅末位可为X)", "the ID number has characters other than digits (and a final X)"
    try:
        born = dt.date(int(t[6:10]), int(t[10:12]), int(t[12:14]))
    except ValueError:
        return f"出生日期{t[6:14]}不是有效日期", f"the birth date {t[6:14]} is not a date"
    if not dt.date(1900, 1, 1) <= born <= dt.date.today():
        return f"出生日期{t[6:14]}不合理", f"the birth date {t[6:14]} is not plausible"
    want = id_check_char(t[:17])
    if t[17] != want:
        return f"校验码应为{want},实为{t[17]}", f"the check character should be {want}, not {t[17]}"
    return None


def mask_id(text: Any) -> str:
    """An ID number for a public list: the first 4 and last 4 characters, the rest ``*``.

    Text of 11 characters or fewer is masked whole (nothing of a short or broken number shows).

    >>> mask_id("61010119800101123X")
    '6101**********123X'
    """
    t = clean_id(text)
    if len(t) < 12:
        return "*" * len(t)
    return t[:4] + "*" * (len(t) - 8) + t[-4:]


def mask_phone(text: Any) -> str:
    """A phone number for a public list: an 11-digit number as 138****5678; others keep only their last 4 digits.

    Separators are dropped; fewer than 7 digits are masked whole.

    >>> mask_phone("138 1234 5678"), mask_phone("0911-8123456")
    ('138****5678', '091****3456')
    """
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    d = re.sub(r"\D", "", unicodedata.normalize("NFKC", str(text)))
    if len(d) == 11:
        return d[:3] + "****" + d[-4:]
    if len(d) >= 7:
        return "*" * (len(d) - 4) + d[-4:]
    return "*" * len(d)


def phone_ok(text: str) -> bool:
    """An 11-digit mobile (1xx) or a landline of 7-12 digits (with or without the area code)."""
    d = re.sub(r"[\s\-()]", "", unicodedata.normalize("NFKC", text))
    return bool(re.fullmatch(r"1\d{10}", d) or re.fullmatch(r"0\d{9,11}|\d{7,8}", d))


_EXCEL_EPOCH = dt.date(1899, 12, 30)


def parse_date(text: Any) -> dt.date | None:
    """A date as offices write it: ``2011-03-01``, ``2011/3/1``, ``2011.3.1``, ``2011年3月1日``, ``20110301``,
    an Excel date cell (``2011-03-01 00:00:00``) or an Excel day number (``40603``); empty: ``None``.

    Raises
    ------
    ValueError
        For text that is not one of these, or not a real day.
    """
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return None
    if isinstance(text, dt.datetime):
        return text.date()
    if isinstance(text, dt.date):
        return text
    t = unicodedata.normalize("NFKC", str(text)).strip()
    if not t:
        return None
    m = re.fullmatch(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]00:00(?::00)?)?", t)
    if m:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    if re.fullmatch(r"\d{8}", t):
        return dt.date(int(t[:4]), int(t[4:6]), int(t[6:]))
    if re.fullmatch(r"\d{5}(?:\.0+)?", t) and 20000 <= float(t) <= 80000:
        return _EXCEL_EPOCH + dt.timedelta(days=int(float(t)))
    raise ValueError(t)


def notice_end(posted: dt.date, period_days: int = 7) -> dt.date:
    """The last day of a public notice posted on ``posted`` for ``period_days`` days (the posting day is day 1).

    >>> notice_end(dt.date(2011, 3, 1))
    datetime.date(2011, 3, 7)
    """
    return posted + dt.timedelta(days=period_days - 1)


# --------------------------------------------------------------------------- reading
CHECK_COLUMNS = (
    "check", "severity", "row", "household_id", "head_name", "village_id", "message_zh", "message_en", "fix",
)  # fmt: skip


class _Checks:
    """Collects roster problems as rows of the ``roster_checks`` table."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(
        self,
        check: str,
        severity: str,
        zh: str,
        en: str,
        fix: str,
        *,
        row: int | None = None,
        household: Mapping[str, Any] | None = None,
        village_id: str = "",
    ) -> None:
        h = household or {}
        self.rows.append(
            {
                "check": check,
                "severity": severity,
                "row": row if row is not None else h.get("row"),
                "household_id": str(h.get("household_id", "") or ""),
                "head_name": str(h.get("head_name", "") or ""),
                "village_id": village_id or str(h.get("village_id", "") or ""),
                "message_zh": zh,
                "message_en": en,
                "fix": fix,
            }
        )

    def frame(self) -> pd.DataFrame:
        df = pd.DataFrame(self.rows, columns=list(CHECK_COLUMNS))
        df["row"] = pd.array(df["row"], dtype="Int64")
        return df


def rename(raw: pd.DataFrame, columns: Mapping[str, str] | None = None) -> tuple[pd.DataFrame, dict[str, str]]:
    """Rename the office's columns to canonical ones: the scenario's ``columns`` first, then the aliases.

    Returns the renamed copy and the mapping applied ``{original: canonical}``; columns that
    match nothing are kept as they are.
    """
    mapping: dict[str, str] = {}
    present = [str(c) for c in raw.columns]
    for src, dst in (columns or {}).items():
        if src in present:
            mapping[src] = dst
    taken = set(mapping.values())
    keyed: dict[str, str] = {}
    for c in present:
        keyed.setdefault(_key(c), c)
    for col in COLUMNS:
        if col.name in taken:
            continue
        if col.name in present and col.name not in mapping:
            taken.add(col.name)
            continue
        for alias in (col.zh, *col.aliases):
            found = keyed.get(_key(alias))
            if found is not None and found not in mapping and found not in COLUMN_BY_NAME:
                mapping[found] = col.name
                taken.add(col.name)
                break
    out = raw.copy()
    out.columns = [str(c) for c in out.columns]
    return out.rename(columns=mapping), mapping


def _text(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return ""
    return unicodedata.normalize("NFKC", str(v)).strip()


def _texts(values: Sequence[Any]) -> list[str]:
    """:func:`_text` of every value, each distinct value (of one type) normalised once."""
    seen: dict[tuple[type, Any], str] = {}
    out = []
    for v in values:
        try:
            key = (type(v), v)
            t = seen.get(key)
        except TypeError:  # unhashable
            out.append(_text(v))
            continue
        if t is None:
            t = seen[key] = _text(v)
        out.append(t)
    return out


def _village_index(villages: pd.DataFrame) -> pd.DataFrame:
    v = pd.DataFrame(villages.drop(columns="geometry", errors="ignore")).copy()
    v["village_id"] = v["village_id"].astype(str)
    for c in ("name", "township", "group"):
        v[c] = v[c].fillna("").astype(str).map(_text) if c in v.columns else ""
    return v.reset_index(drop=True)


class _VillageFinder:
    """Finds the villages row of a household from its village (id or name), group and township."""

    def __init__(self, v: pd.DataFrame) -> None:
        self.ids = set(v["village_id"])
        self.by_name: dict[str, list[tuple[str, str, str]]] = {}
        for vid, name, town, group in zip(v["village_id"], v["name"], v["township"], v["group"], strict=True):
            self.by_name.setdefault(name, []).append((vid, town, group))
        self.names = sorted(set(v["name"]) | self.ids)
        self.cache: dict[tuple[str, str, str], tuple[str | None, str]] = {}

    def __call__(self, village: str, group: str, township: str) -> tuple[str | None, str]:
        key = (village, group, township)
        if key not in self.cache:
            self.cache[key] = self._find(village, group, township)
        return self.cache[key]

    def _find(self, village: str, group: str, township: str) -> tuple[str | None, str]:
        if village in self.ids:
            return village, ""
        rows = [
            r
            for n in dict.fromkeys((village, village + "村", village.removesuffix("村")))
            for r in self.by_name.get(n, [])
        ]
        if township:
            rows = [r for r in rows if r[1] == township]
        groups = {group, group + "组", group.removesuffix("组")} if group else set()
        if len(rows) > 1:
            by_group = [r for r in rows if r[2] in groups]
            if len(by_group) == 1:
                return by_group[0][0], ""
            if group and not by_group:
                known = "、".join(sorted({r[2] for r in rows} - {""})[:8])
                return None, f"村民小组「{group}」不在{village}(该村的组:{known})"
            return None, f"{village}有{len(rows)}行(村民小组),请填写村民小组或村编码"
        if len(rows) == 1:
            vid, _, only_group = rows[0]
            if group and only_group and only_group not in groups:
                return None, f"村民小组「{group}」不在{village}(该村的组:{only_group})"
            return vid, ""
        close = difflib.get_close_matches(village, self.names, n=1, cutoff=0.5)
        hint = f"(是否为「{close[0]}」?)" if close else ""
        return None, f"「{village}」不在{township or '村庄图层'}{hint}"


def normalize(
    raw: pd.DataFrame,
    villages: pd.DataFrame,
    *,
    columns: Mapping[str, str] | None = None,
    source: str = "roster",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The roster in canonical columns, each household matched to its villages row, and the reading problems.

    Parameters
    ----------
    raw
        The table as read (every cell text), one row a household.
    villages
        The villages layer (``village_id``, ``name``, ``township``, ``group``).
    columns
        The scenario's renames ``{your_name: canonical_name}``.
    source
        The file name, for messages.

    Returns
    -------
    (households, checks)
        ``households``: ``row`` (the spreadsheet row: the header is row 1), every canonical
        column (``persons`` as a nullable integer, dates as ``datetime.date``, ``status`` and
        ``wish`` as codes, ``relocate`` True unless the roster says 否), ``village_id``,
        ``village_name``, ``stage`` (the last workflow stage with a date, ``""`` for none).
        ``checks``: rows of ``roster_checks`` (``bad_value``, ``unknown_village``).

    Raises
    ------
    LayerError
        When the table is empty, a ``columns`` rename maps onto an unknown column, or a
        required column (户主姓名, 身份证号码, 家庭人口, 所在村) is missing.
    """
    problems = Problems()
    where = f"roster ({source})"
    for src, dst in (columns or {}).items():
        if dst not in COLUMN_BY_NAME:
            known = [c.name for c in COLUMNS]
            close = difflib.get_close_matches(dst, known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.add(
                f"{where} columns",
                f"'{src}: {dst}' maps onto '{dst}', which is not a roster column{hint}.",
                f"Map onto one of {', '.join(known)}.",
            )
    if len(raw) == 0:
        problems.add(where, "the roster has no households.", "Fill in one row per household under the header row.")
    df, _ = rename(raw, columns)
    missing = [c for c in COLUMNS if c.required and c.name not in df.columns]
    for c in missing:
        problems.add(
            where,
            f"column {c.zh} ({c.name}) is missing; the header row has: {', '.join(map(str, raw.columns[:20]))}.",
            f"Name a column {c.zh} (or one of {', '.join(c.aliases[:4])}), or map yours in the scenario: "
            f"roster: {{columns: {{你的列名: {c.name}}}}}.",
        )
    if problems.errors:
        raise LayerError(f"cannot read the household roster {source}", problems)
    checks = _Checks()
    v = _village_index(villages)
    out = pd.DataFrame({"row": np.arange(len(df), dtype=int) + 2})
    heads = _texts(df["head_name"].tolist())
    for col in COLUMNS:
        vals = df[col.name].tolist() if col.name in df.columns else [None] * len(df)
        texts = _texts(vals)
        if col.kind == "text":
            out[col.name] = texts
            continue
        # each distinct cell text parsed once (a column of dates or statuses repeats a few values)
        seen: dict[str, tuple[Any, str | None]] = {}
        parsed: list[Any] = []
        for i, t in enumerate(texts):
            got = seen.get(t)
            if got is None:
                try:
                    got = (_parse_cell(col, t), None)
                except ValueError as exc:
                    got = (None, str(exc))
                seen[t] = got
            parsed.append(got[0])
            if got[1] is not None:
                checks.add(
                    "bad_value", "error",
                    f"{col.zh}「{t}」无法识别:{got[1]}", f"{col.name} {t!r} cannot be read: {got[1]}",
                    _FIXES[col.kind], household={"row": i + 2, "head_name": heads[i]},
                )  # fmt: skip
        out[col.name] = parsed
    out["persons"] = pd.array(out["persons"], dtype="Int64")
    for name in ("income_per_capita", "current_floor_area_m2", "planned_floor_area_m2"):
        out[name] = pd.to_numeric(out[name], errors="coerce").astype(float)
    out["status"] = out["status"].map(lambda s: s or "poor")
    out["relocate"] = out["relocate"].map(lambda b: True if b is None else bool(b))
    out["household_id"] = [h or f"H{r - 1:04d}" for h, r in zip(out["household_id"], out["row"], strict=True)]
    ids, names = [], []
    vv = v.set_index("village_id")
    find = _VillageFinder(v)
    # the villages layer's name, township and group of each village id, looked up in plain dicts
    vname, vtown, vgroup = (vv[c].to_dict() for c in ("name", "township", "group"))
    said = list(zip(out["village"].tolist(), out["group"].tolist(), out["township"].tolist(), strict=True))
    towns, groups = out["township"].tolist(), out["group"].tolist()
    for i, (village, group, township) in enumerate(said):
        vid, why = find(village, group, township) if village else (None, "所在村为空")
        if vid is None:
            checks.add(
                "unknown_village", "error",
                f"所在村无法对应:{why}",
                f"village {village!r} (group {group!r}) is not in the villages layer",
                "填写村庄图层中的村名(及村民小组、乡镇)或村编码 / give the village's name (and group, township) or its"
                " village_id as in the villages layer", household=_who(out.iloc[i : i + 1])[0],
            )  # fmt: skip
            ids.append("")
            names.append(village)
            continue
        ids.append(vid)
        names.append(str(vname[vid]))
        if not township:
            towns[i] = str(vtown[vid])
        if not group:
            groups[i] = str(vgroup[vid])
    out["township"], out["group"] = towns, groups
    out.insert(1, "village_id", ids)
    out.insert(2, "village_name", names)
    dates = zip(*(out[f"{s}_date"].tolist() for s in STAGES), strict=True)
    out["stage"] = [
        next((s for s, d in zip(_STAGES_LAST, reversed(ds), strict=True) if d is not None), "") for ds in dates
    ]
    return out, checks.frame()


_FIXES = {
    "int": "填写正整数 / write a whole number of persons (1 or more)",
    "float": "填写数字(不带单位) / write a number without units",
    "date": "填写日期,如2011-03-01 / write a date such as 2011-03-01",
    "status": "填写一般贫困户、低保户、五保户、特困户或非贫困户 / write one of these statuses",
    "wish": "填写集中、分散、集中供养或周转房 / write 集中 (central), 分散 (scattered), 集中供养 (nursing home)"
    " or 周转房 (transitional housing)",
    "bool": "填写是或否 / write 是 (yes) or 否 (no)",
}


def _parse_cell(col: RosterColumn, t: str) -> Any:
    if not t:
        return None
    if col.kind in ("int", "float"):
        try:
            f = float(t.replace(",", ""))
        except ValueError:
            raise ValueError("不是数字 / not a number") from None
    if col.kind == "int":
        if not f.is_integer() or f < 1 or f > 100:
            raise ValueError("不是1-100的整数 / not a whole number from 1 to 100")
        return int(f)
    if col.kind == "float":
        if not math.isfinite(f) or f < 0:
            raise ValueError("不是非负数 / not a number >= 0")
        return f
    if col.kind == "date":
        try:
            return parse_date(t)
        except ValueError:
            raise ValueError("不是日期 / not a date") from None
    if col.kind == "status":
        k = t.lower().removesuffix("户")
        if k not in STATUS_ALIASES:
            raise ValueError("户类型未知 / unknown status")
        return STATUS_ALIASES[k]
    if col.kind == "wish":
        if t.lower() not in WISH_ALIASES:
            raise ValueError("安置意愿未知 / unknown wish")
        return WISH_ALIASES[t.lower()]
    if col.kind == "bool":
        if t.lower() in _TRUE:
            return True
        if t.lower() in _FALSE:
            return False
        raise ValueError("应为是或否 / not yes or no")
    raise AssertionError(col.kind)  # pragma: no cover


#: the workflow stages, last first: a household's stage is the first of these with a date
_STAGES_LAST: tuple[str, ...] = tuple(reversed(STAGES))


# --------------------------------------------------------------------------- checks
def _posting_dates(h: pd.DataFrame, cfg: NoticeConfig) -> dict[str, dt.date | None]:
    """Posting date per village: the scenario's, else the village's earliest village_review date."""
    out: dict[str, dt.date | None] = {}
    vids = h["village_id"].tolist()
    if cfg.posted is not None:
        return {str(vid): cfg.posted for vid in vids if not pd.isna(vid)}
    for vid, d in zip(vids, h["village_review_date"].tolist(), strict=True):
        if pd.isna(vid):  # as groupby drops them
            continue
        key = str(vid)
        was = out.get(key)
        out[key] = d if was is None or (d is not None and d < was) else was
    return out


def _who(h: pd.DataFrame) -> list[dict[str, Any]]:
    """What a check row names of each household of ``h`` (row, household id, head, village), by position."""
    keys = ("row", "household_id", "head_name", "village_id")
    cols = [h[k].tolist() if k in h.columns else [None] * len(h) for k in keys]
    return [dict(zip(keys, t, strict=True)) for t in zip(*cols, strict=True)]


def check_roster(
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
    from .policy import check_housing

    notice = notice or NoticeConfig()
    checks = _Checks()
    h = households
    # -- ID numbers
    who = _who(h)  # what a check row names of each household, by position
    for r, idn, phone in zip(who, h["id_number"].tolist(), h["phone"].tolist(), strict=True):
        why = id_problem(idn)
        if why is not None:
            checks.add(
                "id_number", "error", f"身份证号码无效:{why[0]}", f"invalid ID number: {why[1]}",
                "核对户主身份证原件后重填 / copy the ID number again from the card", household=r,
            )  # fmt: skip
        if phone and not phone_ok(phone):
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
    # each village's poor and moving households and persons (the roster's), and the layer's figures, found once
    kvid = known["village_id"].tolist()
    is_poor = known["status"].isin(POOR_STATUSES).to_numpy(dtype=bool)
    moves_now = known["relocate"].to_numpy(dtype=bool)
    persons = known["persons"].fillna(0).to_numpy(dtype=np.int64)
    counted = (
        pd.DataFrame(
            {
                "village_id": kvid,
                "poor": is_poor.astype(np.int64),
                "poor_persons": np.where(is_poor, persons, 0),
                "moving": moves_now.astype(np.int64),
                "moving_persons": np.where(moves_now, persons, 0),
            }
        )
        .groupby("village_id", sort=False)
        .sum()
    )
    have_of = {vid: [int(x) for x in t] for vid, t in zip(counted.index, counted.itertuples(index=False), strict=True)}
    staying: dict[str, list[int]] = {}  # each village's poor households that do not move, in roster order
    for i in np.flatnonzero(is_poor & ~moves_now).tolist():
        staying.setdefault(kvid[i], []).append(i)
    kwho = _who(known)
    wants = {
        col: pd.to_numeric(vv[col], errors="coerce").fillna(0).to_dict()
        for col in ("poor_households", "poor_persons", "relocate_households", "relocate_persons")
        if col in vv.columns
    }
    vname, vgroup = vv["name"].to_dict(), vv["group"].to_dict()
    for vid in wanted:
        n_poor, n_poor_persons, n_moving, n_moving_persons = have_of.get(vid, [0, 0, 0, 0])
        name, group = vname[vid], vgroup[vid]
        label = f"{name}{group}" if group else str(name)
        for check, have, col, what_zh, what_en in (
            ("registry_households", n_poor, "poor_households", "贫困户", "poor households"),
            ("registry_persons", n_poor_persons, "poor_persons", "贫困人口", "poor persons"),
            ("move_households", n_moving, "relocate_households", "搬迁户", "relocating households"),
            ("move_persons", n_moving_persons, "relocate_persons", "搬迁人口", "relocating persons"),
        ):
            if col not in wants:
                continue
            want = wants[col][vid]
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
        if vid in rel_ids:
            for r in (kwho[i] for i in staying.get(vid, [])):
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
        fields = ("policy_conflict", "ok", "floor_area_m2", "reasons_zh", "reasons_en")
        cs = [dict(zip(fields, t, strict=True)) for t in zip(*(checked[f].tolist() for f in fields), strict=True)]
        for r, c, own in zip(_who(moving), cs, given.tolist(), strict=True):
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
    posted = _posting_dates(known, notice)
    stage_dates = zip(*(h[f"{s}_date"].tolist() for s in STAGES), strict=True)
    hvid, township = h["village_id"].tolist(), h["township_review_date"].tolist()
    for r, dates, vid, t in zip(who, stage_dates, hvid, township, strict=True):
        dated = [(s, d) for s, d in zip(STAGES, dates, strict=True) if d is not None]
        if dated:
            last = STAGES.index(dated[-1][0])
            undated = [s for s, d in zip(STAGES[:last], dates, strict=False) if d is None]
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
        p = posted.get(str(vid))
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


# --------------------------------------------------------------------------- workflow and notice
def workflow_table(households: pd.DataFrame, notice: NoticeConfig | None = None) -> pd.DataFrame:
    """Each household's workflow: a date per stage, the stage reached (``stage``, ``stage_zh``), the 公示 period.

    Columns: ``row``, ``household_id``, ``head_name``, ``township``, ``village_id``,
    ``village_name``, ``group``, one ``<stage>_date`` per stage (ISO text, ``""`` when none),
    ``stage``, ``stage_zh``, ``notice_start``, ``notice_end``.
    """
    notice = notice or NoticeConfig()
    h = households
    posted = _posting_dates(h[h["village_id"] != ""], notice)
    out = h[["row", "household_id", "head_name", "township", "village_id", "village_name", "group"]].copy()
    for s in STAGES:
        out[f"{s}_date"] = [d.isoformat() if d is not None else "" for d in h[f"{s}_date"]]
    out["stage"] = h["stage"]
    out["stage_zh"] = [STAGE_ZH.get(s, "未申请") for s in h["stage"]]
    starts = [posted.get(str(v)) for v in h["village_id"]]
    out["notice_start"] = [p.isoformat() if p else "" for p in starts]
    out["notice_end"] = [notice_end(p, notice.period_days).isoformat() if p else "" for p in starts]
    return out.reset_index(drop=True)


NOTICE_COLUMNS = (
    "township", "village_id", "village_name", "group", "no", "head_name", "id_masked", "phone_masked", "persons",
    "status_zh", "wish_zh", "destination",
)  # fmt: skip


def notice_table(
    households: pd.DataFrame, *, destinations: Mapping[str, str] | None = None, notice: NoticeConfig | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The 公示名单: one row per relocating household, and one row per village with its posting dates.

    Only what may be posted: name, masked ID and phone, persons, status, wish and destination;
    never the income, the cause of poverty, the bank account or the full numbers.

    Parameters
    ----------
    households
        From :func:`normalize`.
    destinations
        Household id -> destination (the plan's site); default the roster's own ``destination``.
    notice
        Posting date and period.

    Returns
    -------
    (list, villages)
        ``list`` has :data:`NOTICE_COLUMNS` (``no`` numbers the households of each village from
        1); ``villages`` has ``township``, ``village_id``, ``village_name``, ``group``,
        ``households``, ``persons``, ``posting_date``, ``period_days``, ``period_end`` (ISO text,
        ``""`` when no date is known).
    """
    notice = notice or NoticeConfig()
    h = households[households["relocate"] & (households["village_id"] != "")].copy()
    h = h.sort_values(["township", "village_id", "row"], kind="stable")
    dest = destinations or {}
    lst = pd.DataFrame(
        {
            "township": h["township"],
            "village_id": h["village_id"],
            "village_name": h["village_name"],
            "group": h["group"],
            "no": h.groupby("village_id").cumcount().to_numpy() + 1,
            "head_name": h["head_name"],
            "id_masked": h["id_number"].map(mask_id),
            "phone_masked": h["phone"].map(mask_phone),
            "persons": h["persons"],
            "status_zh": h["status"].map(STATUS_ZH),
            "wish_zh": h["wish"].map(lambda w: WISH_ZH.get(w, "") if isinstance(w, str) else ""),
            "destination": [dest.get(i) or d for i, d in zip(h["household_id"], h["destination"], strict=True)],
        }
    ).reset_index(drop=True)
    posted = _posting_dates(h, notice)
    g = h.groupby(["township", "village_id", "village_name", "group"], sort=False)
    vil = g.agg(households=("row", "size"), persons=("persons", "sum")).reset_index()
    vil["persons"] = vil["persons"].astype(int)
    starts = [posted.get(str(v)) for v in vil["village_id"]]
    vil["posting_date"] = [p.isoformat() if p else "" for p in starts]
    vil["period_days"] = notice.period_days
    vil["period_end"] = [notice_end(p, notice.period_days).isoformat() if p else "" for p in starts]
    return lst[list(NOTICE_COLUMNS)], vil


# --------------------------------------------------------------------------- payments
def _household_units(households: pd.DataFrame, units: pd.DataFrame) -> pd.Series:
    """The plan unit (row of ``units``) of each household.

    A household placed other than at a central site (columns ``placed_mode``, ``placed_site`` from the
    ``placement`` table) belongs to its village's unit of that mode and destination (its group's first);
    the others fill their village's central units in roster order. Units are numbered by position
    (callers pass ``units`` numbered from 0), -1 for a household without one.
    """
    from .policy import largest_remainder, unit_modes

    out = np.full(len(households), -1, dtype=int)
    umode = unit_modes(units)
    usite = units["site_id"].astype(str).to_numpy()
    uvid = units["village_id"].astype(str).to_numpy()
    ugroup = units["group"].fillna("").astype(str).to_numpy() if "group" in units.columns else np.full(len(units), "")
    uhouseholds = units["households"].to_numpy(dtype=float)
    placed = households.get("placed_mode", pd.Series("", index=households.index)).fillna("").astype(str)
    site = households.get("placed_site", pd.Series("", index=households.index)).fillna("").astype(str)
    elsewhere = placed.isin(["scattered", "nursing_home", "transitional"]).to_numpy()
    hvid = households["village_id"].astype(str).to_numpy()
    hgroup = households["group"].astype(str).to_numpy() if "group" in households.columns else None
    modes, sites = placed.to_numpy(), site.to_numpy()
    for i in np.flatnonzero(elsewhere).tolist():
        hit = np.flatnonzero((uvid == hvid[i]) & (umode == modes[i]) & (usite == sites[i]))
        if len(hit):
            same = hit[ugroup[hit] == hgroup[i]] if hgroup is not None else hit
            out[i] = int(same[0] if len(same) else hit[0])
    central = umode == "central"
    rest = np.flatnonzero(~elsewhere)
    for vid, at in pd.Series(hvid[rest]).groupby(hvid[rest], sort=False).indices.items():
        us = np.flatnonzero((uvid == str(vid)) & central)
        if len(us) == 0:
            continue
        counts = largest_remainder(float(len(at)), uhouseholds[us]).astype(int)
        out[rest[at]] = np.repeat(us, counts)[: len(at)]
    return pd.Series(out, index=households.index, dtype=int)


def with_placement(households: pd.DataFrame, placement: pd.DataFrame | None) -> pd.DataFrame:
    """The roster's households with ``placed_mode`` and ``placed_site``: their row of the allocate step's
    ``placement`` table (by ``household_id``; ``central`` and no site when the table does not list them)."""
    out = households.copy()
    out["placed_mode"] = "central"
    out["placed_site"] = ""
    if placement is None or not len(placement) or "household_id" not in placement.columns:
        return out
    p = placement[placement["household_id"].fillna("").astype(str) != ""]
    p = p.assign(household_id=p["household_id"].astype(str)).drop_duplicates("household_id").set_index("household_id")
    hid = out["household_id"].astype(str)
    out["placed_mode"] = hid.map(p["mode"]).fillna("central").to_numpy()
    out["placed_site"] = hid.map(p["site_id"]).fillna("").astype(str).to_numpy()
    return out


def payment_roster(
    households: pd.DataFrame, budget: Any, cfg: PaymentConfig | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The 直补到户清册: each relocating household's housing subsidies, by payer and tranche.

    Every rule of the budget's policy with ``paid_to: household`` is paid to the households of
    the units it was budgeted on: a per-person rule on the household's persons, a per-household
    rule once, the hardship rule (特困户补助) to as many households as the budget counted for the
    village (whole, or the fraction of the ``exact`` rounding), chosen by ``cfg.hardship_order``
    then the lowest income per person, then the roster's order. Amounts are computed in fen.

    Returns
    -------
    (roster, lines)
        ``roster``: one row per paid household: ``township``, ``village_id``, ``village_name``,
        ``group``, ``no``, ``household_id``, ``head_name``, ``id_number``, ``bank_account``,
        ``persons``, ``status_zh``, ``site_id``, ``mode_zh`` (安置方式), ``hardship`` (0..1), one ``<payer>_yuan``
        column per payer, one ``tranche_<id>_yuan`` per tranche, ``total_yuan``, ``signature``
        (empty, for 签字) and ``signed_date`` (empty). ``lines``: one row per household x payer x
        tranche (``payer``, ``tranche``, ``tranche_order``, ``tranche_zh``, ``amount_yuan``).
    """
    cfg = cfg or PaymentConfig()
    units = budget.units.reset_index(drop=True)
    h = households[households["relocate"] & households["persons"].notna() & (households["village_id"] != "")].copy()
    h = h[h["village_id"].isin(set(units["village_id"].astype(str)))]
    h = h.sort_values(["township", "village_id", "row"], kind="stable")
    h["unit"] = _household_units(h, units)
    h = h[h["unit"] >= 0]  # a household whose village has no unit of its placement is not paid (payment_check shows it)
    # hardship households: the village's budgeted number, by status order, then income per person
    rank_of = {s: i for i, s in enumerate(cfg.hardship_order)}
    hard = np.zeros(len(h))
    unit_hard = units.groupby(units["village_id"].astype(str))["hardship_households"].sum()
    from .policy import hardship_modes, rule_modes, unit_modes

    hmode = unit_modes(units)[h["unit"].to_numpy()] if len(h) else np.zeros(0, dtype=object)
    eligible = np.flatnonzero(np.isin(hmode, list(hardship_modes(budget.policy, budget.options))))
    if len(eligible):
        # each village's eligible households by status order, income per person, roster row (one stable sort
        # for all villages); the k-th of a village gets min(max(quota - k, 0), 1) of a hardship subsidy
        g = h.iloc[eligible]
        key = pd.DataFrame(
            {
                "village": pd.factorize(g["village_id"])[0],
                "status": [rank_of.get(s, len(rank_of) + (s == "non_poor")) for s in g["status"].tolist()],
                "income": g["income_per_capita"].fillna(np.inf).to_numpy(),
                "row": g["row"].to_numpy(),
                "at": eligible,
            }
        ).sort_values(["village", "status", "income", "row"], kind="stable")
        k = key.groupby("village", sort=False).cumcount().to_numpy()
        vids = g["village_id"].to_numpy()[key.index.to_numpy()]
        quota = np.array([float(unit_hard.get(str(v), 0.0)) for v in vids], dtype=float)
        hard[key["at"].to_numpy()] = np.minimum(np.maximum(quota - k, 0.0), 1.0)
    h["hardship"] = hard
    rules = [r for r in budget.policy.rules if r.paid_to == "household" and r.basis != "share_of"]
    sites_with_works = set(budget.options.sites_with_works)
    site = units["site_id"].astype(str).to_numpy()[h["unit"].to_numpy()]
    persons = h["persons"].astype(int).to_numpy()
    payer_fen: dict[str, np.ndarray] = {}
    for r in rules:
        if r.applies_to == "hardship":
            q = h["hardship"].to_numpy(dtype=float)
        elif r.basis == "per_person":
            q = persons.astype(float)
        else:
            q = np.ones(len(h))
        if r.not_for_sites_with_works and sites_with_works:
            q = np.where(np.isin(site, list(sites_with_works)), 0.0, q)
        q = np.where(np.isin(hmode, list(rule_modes(r, budget.options))), q, 0.0)
        fen = np.round(q * r.amount * 100).astype(np.int64)
        payer_fen[r.payer] = payer_fen.get(r.payer, np.zeros(len(h), dtype=np.int64)) + fen
    # each payer's amount in tranches: whole yuan, the last tranche takes the rest
    tranche_fen: dict[str, np.ndarray] = {t.id: np.zeros(len(h), dtype=np.int64) for t in cfg.tranches}
    line_frames = []
    for payer, fen in payer_fen.items():
        left = fen.copy()
        for k, t in enumerate(cfg.tranches):
            part = left if k == len(cfg.tranches) - 1 else (np.floor(fen * t.share / 100) * 100).astype(np.int64)
            left = left - part
            tranche_fen[t.id] += part
            line_frames.append(
                pd.DataFrame(
                    {
                        "village_id": h["village_id"].to_numpy(),
                        "household_id": h["household_id"].to_numpy(),
                        "head_name": h["head_name"].to_numpy(),
                        "payer": payer,
                        "tranche": t.id,
                        "tranche_order": k,
                        "tranche_zh": t.name_zh,
                        "amount_yuan": part / 100,
                    }
                )
            )
    out = pd.DataFrame(
        {
            "township": h["township"].to_numpy(),
            "village_id": h["village_id"].to_numpy(),
            "village_name": h["village_name"].to_numpy(),
            "group": h["group"].to_numpy(),
            "no": h.groupby("village_id").cumcount().to_numpy() + 1,
            "household_id": h["household_id"].to_numpy(),
            "head_name": h["head_name"].to_numpy(),
            "id_number": h["id_number"].map(clean_id).to_numpy(),
            "bank_account": h["bank_account"].to_numpy(),
            "persons": persons,
            "status_zh": h["status"].map(STATUS_ZH).to_numpy(),
            "site_id": site,
            "mode_zh": [PLACEMENT_MODE_ZH.get(str(m), "") for m in hmode],
            "hardship": h["hardship"].to_numpy(),
        }
    )
    total = np.zeros(len(h), dtype=np.int64)
    for payer, fen in payer_fen.items():
        out[f"{payer}_yuan"] = fen / 100
        total += fen
    for t in cfg.tranches:
        out[f"tranche_{t.id}_yuan"] = tranche_fen[t.id] / 100
    out["total_yuan"] = total / 100
    out["signature"] = ""
    out["signed_date"] = ""
    lines = pd.concat(line_frames, ignore_index=True) if line_frames else pd.DataFrame()
    return out, lines


def payment_check(payments: pd.DataFrame, budget: Any) -> pd.DataFrame:
    """The payment roster against the budget, per village and for the county (to the fen).

    Columns: ``village_id``, ``name``, ``budget_households``, ``roster_households``,
    ``budget_yuan`` (the budget's lines ``paid_to: household`` of the village), ``roster_yuan``,
    ``diff_yuan``; the last row (``village_id`` 全县) is the county.
    """
    lines = budget.lines
    hh_lines = lines[(lines["paid_to"] == "household") & (lines["basis"] != "share_of")]
    b = hh_lines.groupby(hh_lines["village_id"].astype(str))["amount_yuan"].sum()
    bh = budget.units.groupby(budget.units["village_id"].astype(str))["households"].sum()
    u = budget.units.assign(village_id=budget.units["village_id"].astype(str))
    names = u.drop_duplicates("village_id").set_index("village_id")
    got = payments.groupby("village_id")["total_yuan"].sum() if len(payments) else pd.Series(dtype=float)
    gh = payments.groupby("village_id").size() if len(payments) else pd.Series(dtype=int)
    vids = sorted(set(b.index) | set(got.index))
    out = pd.DataFrame({"village_id": vids})
    out["name"] = [str(names.at[v, "name"]) if v in names.index else "" for v in vids]
    out["budget_households"] = [float(bh.get(v, 0.0)) for v in vids]
    out["roster_households"] = [int(gh.get(v, 0)) for v in vids]
    out["budget_yuan"] = [round(float(b.get(v, 0.0)), 2) for v in vids]
    out["roster_yuan"] = [round(float(got.get(v, 0.0)), 2) for v in vids]
    total = pd.DataFrame(
        {
            "village_id": ["全县"],
            "name": ["全县"],
            "budget_households": [float(out["budget_households"].sum())],
            "roster_households": [int(out["roster_households"].sum())],
            "budget_yuan": [round(float(b.sum()), 2)],
            "roster_yuan": [round(float(got.sum()), 2)],
        }
    )
    out = pd.concat([out, total], ignore_index=True)
    out["diff_yuan"] = (out["roster_yuan"] - out["budget_yuan"]).round(2)
    return out


# --------------------------------------------------------------------------- the step
@dataclass(frozen=True)
class RosterRead:
    """The scenario's roster read once a run (:func:`read_roster`): the allocate step reads it for the
    placement and hands it on (artifact ``roster``), so the ``roster`` step does not read the file again.

    Attributes
    ----------
    cfg
        The ``roster`` section it was read for.
    raw
        The table as in the file (every cell text).
    households, checks
        :func:`normalize` of ``raw`` against the villages layer.
    """

    cfg: RosterConfig
    raw: pd.DataFrame
    households: pd.DataFrame
    checks: pd.DataFrame


def read_roster(cfg: RosterConfig, villages: pd.DataFrame) -> RosterRead:
    """Read the roster file of a ``roster`` section and match it to the villages (:func:`normalize`).

    Raises
    ------
    DataError
        The file cannot be read (the message names the scenario key ``roster.path``).
    LayerError
        As :func:`normalize`.
    """
    from . import io as gio

    try:
        raw = gio.read_table(cfg.path, encoding=cfg.encoding, sheet=cfg.sheet if cfg.sheet is not None else 0)
    except DataError as exc:
        raise DataError(f"household roster (scenario key roster.path): {exc}") from exc
    households, checks = normalize(raw, villages, columns=cfg.columns, source=cfg.path.name)
    return RosterRead(cfg=cfg, raw=raw, households=households, checks=checks)


def roster_of(ctx: RunContext, cfg: RosterConfig) -> RosterRead:
    """The run's roster: the allocate step's read (artifact ``roster``) when it read this section, else read now."""
    artifact = getattr(ctx, "artifact", None)  # a RunContext; the steps' tests pass lighter contexts
    shared = artifact("allocate", "roster") if callable(artifact) else None
    if isinstance(shared, RosterRead) and shared.cfg == cfg:
        return shared
    return read_roster(cfg, ctx.layers.villages)


@dataclass(frozen=True)
class RosterResult:
    """Everything computed from a roster: the tables (``roster_*``) and the run's warnings."""

    tables: Mapping[str, pd.DataFrame]
    warnings: tuple[str, ...]
    errors: int


def _destinations(households: pd.DataFrame, units: pd.DataFrame, site_names: Mapping[str, str]) -> dict[str, str]:
    from .policy import unit_modes

    hu = _household_units(households, units).to_numpy()
    site = units["site_id"].tolist()
    modes = unit_modes(units)
    out = {}
    for hid, u in zip(households["household_id"].tolist(), hu.tolist(), strict=True):
        if u >= 0:
            s = str(site[u])
            out[str(hid)] = site_names.get(s, s) if s else PLACEMENT_MODE_ZH.get(str(modes[u]), "")
    return out


def run_roster(
    raw: pd.DataFrame,
    villages: pd.DataFrame,
    cfg: RosterConfig,
    budget: Any,
    *,
    housing_plan: HousingPlan | None = None,
    site_names: Mapping[str, str] | None = None,
    source: str = "roster",
    placement: pd.DataFrame | None = None,
    normalized: tuple[pd.DataFrame, pd.DataFrame] | None = None,
) -> RosterResult:
    """Read, check and tabulate a roster against a plan's budget (see the module docstring).

    ``placement`` is the allocate step's ``placement`` table: households placed other than at a
    central site (分散安置, 集中供养, 周转房) are paid as their unit of that mode. ``normalized`` is
    ``(households, checks)`` of :func:`normalize` of ``raw`` when already computed (:class:`RosterRead`).
    """
    households, read_checks = (
        normalized if normalized is not None else normalize(raw, villages, columns=cfg.columns, source=source)
    )
    households = with_placement(households, placement)
    policy = budget.policy
    checks = check_roster(
        households,
        villages,
        housing_rules=policy.housing,
        housing_plan=housing_plan,
        notice=cfg.notice,
    )
    payments, lines = payment_roster(households, budget, cfg.payment)
    reconcile = payment_check(payments, budget)
    # the budget's hardship households (10 %) per village against the roster's 特困户
    extra = _Checks()
    units = budget.units.assign(village_id=budget.units["village_id"].astype(str))
    quota = units.groupby("village_id")["hardship_households"].sum()
    moving = households[households["relocate"]]
    tekun = moving[moving["status"] == "extreme_poor"].groupby("village_id").size()
    order = "、".join(STATUS_ZH[s] for s in cfg.payment.hardship_order)
    for vid in sorted(set(quota.index) | set(tekun.index) - {""}):
        q, n = float(quota.get(vid, 0.0)), int(tekun.get(vid, 0))
        if round(q, 6) != n:
            extra.add(
                "hardship_quota", "warning",
                f"预算按搬迁户10%计特困户{q:g}户,名册特困户{n}户;特困户补助按{order}及人均收入由低到高的顺序发放",
                f"{vid}: the budget counts {q:g} hardship households, the roster has {n} 特困户; the hardship subsidy"
                " goes by roster.payment.hardship_order, then the lowest income per person",
                "核对特困户认定,或调整policy的hardship选项 / check the hardship households or the policy's options",
                village_id=vid,
            )  # fmt: skip
    bad = reconcile[reconcile["diff_yuan"].abs() >= 0.01]
    all_checks = pd.concat([read_checks, checks, extra.frame()], ignore_index=True)
    sites = dict(site_names or {})
    lst, vil = notice_table(
        households,
        destinations=_destinations(households, budget.units.reset_index(drop=True), sites),
        notice=cfg.notice,
    )
    tables = {
        "roster_households": _for_table(households),
        "roster_checks": all_checks,
        "roster_workflow": workflow_table(households, cfg.notice),
        "roster_notice": lst,
        "roster_notice_villages": vil,
        "roster_payment": payments,
        "roster_payment_lines": lines,
        "roster_payment_check": reconcile,
    }
    warnings: list[str] = []
    n_err = int((all_checks["severity"] == "error").sum())
    for (check, sev), g in all_checks.groupby(["check", "severity"], sort=False):
        rows = [str(int(x)) for x in g["row"].dropna().head(5)]
        at = f"(第{'、'.join(rows)}行{'等' if len(g) > 5 else ''})" if rows else ""
        first = g.iloc[0]
        warnings.append(
            f"花名册{'错误' if sev == 'error' else '提示'} {check}: {len(g)} 处{at},如:{first['message_zh']} / roster"
            f" {sev} {check}: {len(g)} row(s), e.g. {first['message_en']}. Fix: {first['fix']} (table roster_checks)"
        )
    if len(bad):
        b0 = bad.iloc[0]
        warnings.append(
            f"直补到户清册与预算不符:{len(bad)} 处,如{b0['name']} 差{b0['diff_yuan']:,.2f}元 / the payment roster"
            f" differs from the budget at {len(bad)} place(s), e.g. {b0['village_id']} by {b0['diff_yuan']:,.2f} yuan."
            " Fix: correct the roster's households and persons (checks move_households, move_persons)."
        )
    return RosterResult(tables=tables, warnings=tuple(warnings), errors=n_err)


def _for_table(h: pd.DataFrame) -> pd.DataFrame:
    out = h.drop(columns=["placed_mode", "placed_site"], errors="ignore")
    for s in STAGES:
        out[f"{s}_date"] = [d.isoformat() if d is not None else "" for d in out[f"{s}_date"]]
    out["status_zh"] = out["status"].map(STATUS_ZH)
    out["wish"] = out["wish"].fillna("")
    return out


def step(ctx: RunContext) -> StepResult:
    """The ``roster`` step: checks, workflow, 公示名单 and 直补到户清册 of the scenario's ``roster`` (if any).

    Runs after ``allocate`` (the plan's sites) and recomputes the plan's budget from the same
    policy and allocation, as the ``phase`` step does, so the payment roster is a share of the
    same yuan. Without a ``roster`` section it does nothing.
    """
    from . import policy as pol
    from .config.policy import PolicyConfig

    cfg: RosterConfig | None = getattr(ctx.scenario, "roster", None)
    if cfg is None:
        return StepResult(summary={"skipped": "no roster section"})
    read = roster_of(ctx, cfg)  # read once a run: the allocate step's read when it ran
    pcfg: PolicyConfig = getattr(ctx.scenario, "policy", None) or PolicyConfig()
    policy = run_policy(ctx)  # the run's policy, read once (RunContext.policy)
    options = pcfg.options or pol.PolicyOptions()
    # the plan step's budget: the same allocation, policy and options (a caller's own context may have none)
    budget = ctx.artifact("plan", "budget") if hasattr(ctx, "artifact") else None
    if budget is None or budget.options != options or budget.policy != pol.effective_policy(policy, options):
        budget = pol.compute_budget(pol.plan_units(ctx.layers.villages, ctx.table("assignment")), policy, options)
    names: dict[str, str] = {}
    for layer in (ctx.layer("sites"), ctx.layers.candidates, ctx.layer("placement_destinations")):
        if layer is not None and "site_id" in layer and "name" in layer:
            names = {**dict(zip(layer["site_id"].astype(str), layer["name"].astype(str), strict=False)), **names}
    res = run_roster(
        read.raw,
        ctx.layers.villages,
        cfg,
        budget,
        housing_plan=pcfg.housing,
        site_names=names,
        source=cfg.path.name,
        placement=ctx.table("placement"),
        normalized=(read.households, read.checks),
    )
    t = res.tables
    rec = t["roster_payment_check"].iloc[-1]
    summary = {
        "households": len(t["roster_households"]),
        "relocating_households": len(t["roster_notice"]),
        "villages": len(t["roster_notice_villages"]),
        "errors": res.errors,
        "warnings": int((t["roster_checks"]["severity"] == "warning").sum()),
        "payment_total_yuan": float(rec["roster_yuan"]),
        "budget_household_yuan": float(rec["budget_yuan"]),
        "payment_diff_yuan": float(rec["diff_yuan"]),
    }
    return StepResult(tables=t, summary=summary, warnings=res.warnings, artifacts={"config": cfg})


__all__: Sequence[str] = (
    "COLUMNS",
    "NOTICE_COLUMNS",
    "RosterColumn",
    "RosterRead",
    "RosterResult",
    "check_roster",
    "clean_id",
    "id_check_char",
    "id_problem",
    "mask_id",
    "mask_phone",
    "normalize",
    "notice_end",
    "notice_table",
    "parse_date",
    "payment_check",
    "payment_roster",
    "read_roster",
    "rename",
    "roster_of",
    "run_roster",
    "step",
    "workflow_table",
)
