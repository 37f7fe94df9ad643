"""The ``roster`` section of a scenario: the household roster (搬迁对象名册), its public notice and payments.

Plain frozen dataclasses (see ARCHITECTURE.md); :mod:`geofupin.roster` reads nothing and computes
the checks, the workflow, the 公示名单 and the 直补到户清册; :mod:`geofupin.io` reads the file.

Example
-------
.. code-block:: yaml

    roster:
      path: ../layers/demo/households.xlsx     # CSV or XLSX, in the office's own column names
      sheet: 名册                              # XLSX sheet (default: the first)
      columns: {户主: head_name}               # your_name: canonical_name, on top of the built-in aliases
      notice: {period_days: 7, contact_zh: 乡镇扶贫办 0911-1234567}
      payment:
        tranches:
          - {id: main_structure, name_zh: 主体完工验收后拨付, share: 0.6}
          - {id: moved_in, name_zh: 竣工验收入住后拨付, share: 0.4}
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import Problems

#: 户类型 of a household: the registry's categories (建档立卡), and the non-poor who move with their group.
HouseholdStatus = Literal["poor", "low_income", "five_guarantee", "extreme_poor", "non_poor"]
HOUSEHOLD_STATUSES: tuple[HouseholdStatus, ...] = ("poor", "low_income", "five_guarantee", "extreme_poor", "non_poor")
#: Status -> the Chinese the public notice and the tables print.
STATUS_ZH: dict[str, str] = {
    "poor": "一般贫困户",
    "low_income": "低保户",
    "five_guarantee": "五保户",
    "extreme_poor": "特困户",
    "non_poor": "非贫困户(同步搬迁)",
}
#: What offices write in the status column (after trimming and dropping a trailing 户) -> status.
STATUS_ALIASES: dict[str, HouseholdStatus] = {
    "一般贫困": "poor",
    "贫困": "poor",
    "一般": "poor",
    "扶贫": "poor",
    "建档立卡贫困": "poor",
    "poor": "poor",
    "低保": "low_income",
    "低保贫困": "low_income",
    "dibao": "low_income",
    "low_income": "low_income",
    "五保": "five_guarantee",
    "五保供养": "five_guarantee",
    "wubao": "five_guarantee",
    "five_guarantee": "five_guarantee",
    "特困": "extreme_poor",
    "特困供养": "extreme_poor",
    "特困人员": "extreme_poor",
    "extreme_poor": "extreme_poor",
    "非贫困": "non_poor",
    "同步搬迁": "non_poor",
    "非建档立卡": "non_poor",
    "non_poor": "non_poor",
}

#: 安置意愿.
Wish = Literal["central", "scattered", "nursing_home", "transitional"]
WISH_ZH: dict[str, str] = {
    "central": "集中安置",
    "scattered": "分散安置",
    "nursing_home": "集中供养",
    "transitional": "周转房安置",
}
WISH_ALIASES: dict[str, Wish] = {
    "集中": "central",
    "集中安置": "central",
    "统建": "central",
    "central": "central",
    "分散": "scattered",
    "分散安置": "scattered",
    "投亲靠友": "scattered",
    "自主安置": "scattered",
    "分散供养": "scattered",
    "scattered": "scattered",
    "集中供养": "nursing_home",
    "敬老院": "nursing_home",
    "入住敬老院": "nursing_home",
    "nursing_home": "nursing_home",
    "周转房": "transitional",
    "周转房安置": "transitional",
    "入住周转房": "transitional",
    "transitional": "transitional",
}

#: The workflow of report 4 (四、扶贫移民搬迁工作程序), in order.
Stage = Literal["apply", "village_review", "township_review", "county_approval", "city_filing"]
STAGES: tuple[Stage, ...] = ("apply", "village_review", "township_review", "county_approval", "city_filing")
STAGE_ZH: dict[str, str] = {
    "apply": "户主申请",
    "village_review": "村评议并张榜公布",
    "township_review": "乡镇审查",
    "county_approval": "县扶贫办审批",
    "city_filing": "市扶贫局备案",
}
STAGE_EN: dict[str, str] = {
    "apply": "household applied",
    "village_review": "village review and posting",
    "township_review": "township check",
    "county_approval": "county office approval",
    "city_filing": "filed with the city bureau",
}


def _as_date(value: Any) -> dt.date | None:
    """A date from YAML (an unquoted 2011-03-01 is already a date) or ISO text; ``None`` stays ``None``."""
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


@dataclass(frozen=True)
class NoticeConfig:
    """The 公示 of the relocation list (村委会将评议出的搬迁对象张榜公布).

    Attributes
    ----------
    posting_date
        The day the lists are posted (``2011-03-01``); default: each village's earliest
        ``village_review`` date in the roster; none: the notice leaves the date to be written in.
    period_days
        Length of the public notice, the posting day counted as day 1 (report 5: at least 7 days):
        a list posted on 1 March runs to 7 March; the township check may follow from 8 March.
    contact_zh
        Who takes objections, printed on the notice (e.g. ``乡镇扶贫办 0911-1234567``).
    """

    #: ``str`` (ISO) or ``datetime.date``: YAML reads an unquoted 2011-03-01 as a date.
    posting_date: Any = None
    period_days: int = 7
    contact_zh: str = ""

    def validate(self, where: str, problems: Problems) -> None:
        try:
            _as_date(self.posting_date)
        except ValueError:
            problems.add(f"{where}.posting_date", f"{self.posting_date!r} is not a date.", "Write e.g. 2011-03-01.")
        if not 1 <= self.period_days <= 366:
            problems.add(
                f"{where}.period_days",
                f"{self.period_days} days is not a public-notice period.",
                "Give 7 (report 5: at least 7 days) or more, at most 366.",
            )

    @property
    def posted(self) -> dt.date | None:
        """The posting date as a date, or ``None``."""
        return _as_date(self.posting_date)


@dataclass(frozen=True)
class PaymentTranche:
    """One instalment of the housing subsidies paid to each household (直补到户).

    Attributes
    ----------
    id
        Short code (a column of the payment roster: ``tranche_<id>_yuan``).
    name_zh, name_en
        When it is paid, in words (``主体完工验收后拨付``).
    share
        Share of each household's subsidy from every payer; the shares add up to 1. Every
        tranche but the last is whole yuan; the last takes the rest, so each household's
        tranches add up to its subsidy exactly.
    """

    id: str
    name_zh: str
    share: float
    name_en: str = ""

    def validate(self, where: str, problems: Problems) -> None:
        if not 0 < self.share <= 1:
            problems.add(f"{where}.share", f"{self.share} is not a share in (0, 1].", "Write 0.6 for 60 %.")
        if not self.id.replace("_", "").isalnum() or not self.id.isascii():
            problems.add(
                f"{where}.id", f"{self.id!r} is not a short code.", "Use letters, digits and _, e.g. moved_in."
            )


@dataclass(frozen=True)
class PaymentConfig:
    """The payment roster (直补到户清册): how each household's housing subsidy is paid.

    Report 4 (七(二)) pays the housing subsidies 「由县扶贫办和财政局共同负责直补到户。不经搬迁户同意,
    不得统一支付」 but names no instalments; the default pays once, on acceptance of the house.

    Attributes
    ----------
    tranches
        :class:`PaymentTranche` list, in the order they are paid.
    hardship_order
        Who receives the hardship subsidy (特困户补助, counted in the budget as 10 % of the
        households): households of these statuses first, in this order, then the other poor;
        within a status the lowest income per person first.
    """

    tranches: tuple[PaymentTranche, ...] = (
        PaymentTranche("acceptance", "竣工验收合格后一次性直补到户", 1.0, "once, on acceptance of the house"),
    )
    hardship_order: tuple[HouseholdStatus, ...] = ("extreme_poor", "five_guarantee", "low_income", "poor")

    def validate(self, where: str, problems: Problems) -> None:
        if not self.tranches:
            problems.add(
                f"{where}.tranches", "no tranche given.", "Give at least one, e.g. {id: acceptance, share: 1}."
            )
            return
        total = sum(t.share for t in self.tranches)
        if abs(total - 1.0) > 1e-9:
            problems.add(
                f"{where}.tranches",
                f"the shares add up to {total:g}, not 1.",
                "Make the tranches' shares add up to 1 (e.g. 0.6 and 0.4).",
            )
        ids = [t.id for t in self.tranches]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            problems.add(
                f"{where}.tranches", f"tranche id(s) listed twice: {', '.join(twice)}.", "Give each its own id."
            )
        if len(set(self.hardship_order)) != len(self.hardship_order):
            problems.add(f"{where}.hardship_order", "a status is listed twice.", "List each status once.")
        if "non_poor" in self.hardship_order:
            problems.add(
                f"{where}.hardship_order",
                "non_poor households cannot receive the hardship subsidy.",
                "List only poor statuses (extreme_poor, five_guarantee, low_income, poor).",
            )


@dataclass(frozen=True)
class RosterConfig:
    """Scenario section ``roster``: the household roster and where it comes from.

    The file is read like a layer (``path`` relative to the scenario, ``encoding`` for a CSV,
    ``columns`` renames ``{your_name: canonical_name}`` on top of the built-in Chinese and English
    aliases of :data:`geofupin.roster.COLUMNS`), but it is a table: no geometry, one row a household.

    Attributes
    ----------
    path
        The roster, CSV or XLSX.
    sheet
        Sheet of an XLSX (default: the first).
    encoding
        Text encoding of a CSV (``GBK`` for most files saved by Chinese Excel); default UTF-8.
    columns
        Column renames ``{your_name: canonical_name}``.
    notice
        :class:`NoticeConfig`.
    payment
        :class:`PaymentConfig`.
    """

    path: Path
    sheet: str | None = None
    encoding: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    notice: NoticeConfig = field(default_factory=NoticeConfig)
    payment: PaymentConfig = field(default_factory=PaymentConfig)


__all__ = (
    "HOUSEHOLD_STATUSES",
    "STAGES",
    "STAGE_EN",
    "STAGE_ZH",
    "STATUS_ALIASES",
    "STATUS_ZH",
    "WISH_ALIASES",
    "WISH_ZH",
    "HouseholdStatus",
    "NoticeConfig",
    "PaymentConfig",
    "PaymentTranche",
    "RosterConfig",
    "Stage",
    "Wish",
)
