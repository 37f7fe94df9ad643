"""The subsidy policy as data, and the ``policy`` section of a scenario.

A policy file (``scenarios/policy/seed-county.yaml``) parses into a frozen :class:`Policy`
(subsidy rules, housing limits, disbursement and acceptance rules) with :func:`parse_policy`;
:data:`SEED_COUNTY_POLICY` is report 4 of the seed document. :class:`PolicyConfig` is the
scenario section that names the file and the options for the policy's open points (each
documented in :mod:`geofupin.policy`, which computes budgets from them). Reading the file is
:func:`geofupin.io.load_policy`'s job: this module parses mappings and never touches the disk.
It imports only :mod:`geofupin._schema` and :mod:`geofupin.errors` (see ARCHITECTURE.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .._schema import kind_of, line_for, parse
from ..errors import Problems, ScenarioError
from ..vocabulary import PLACEMENT_MODES, PlacementMode

Payer = Literal["province", "city", "county", "city_county", "township_village"]
Purpose = Literal["housing", "homestead_clearance", "hardship", "infrastructure", "reward", "management"]
Basis = Literal["per_person", "per_household", "share_of"]
AppliesTo = Literal["relocated", "hardship"]
PaidTo = Literal["household", "project", "township_village", "administration"]
Rounding = Literal["exact", "round_half_up", "floor", "ceil"]
HardshipBase = Literal["relocated", "relocated_poor"]
RoundingLevel = Literal["county", "township", "village", "unit"]
ManagementBase = Literal["housing", "housing_infrastructure", "housing_infrastructure_reward"]
RewardMode = Literal["assume_met", "exclude", "listed"]
StandardReading = Literal["additive", "shortfall"]
Inclusion = Literal["included", "excluded"]
TrancheBase = Literal["remainder", "total"]


# --------------------------------------------------------------------------- policy file
#: Largest subsidy per person or household a policy file may state (yuan): far above any real one,
#: low enough that a unit slip (fen for yuan) or a stray exponent is caught.
MAX_AMOUNT_YUAN = 10_000_000.0
#: Largest floor area (m2) a housing rule or plan may state.
MAX_FLOOR_AREA_M2 = 10_000.0


@dataclass(frozen=True)
class SubsidyRule:
    """One line of a subsidy policy.

    Attributes
    ----------
    id
        Unique rule id (``province_housing_person``).
    payer
        Who pays: ``province``, ``city``, ``county``, ``city_county`` (joint, split not stated)
        or ``township_village``.
    purpose
        What for (housing, homestead_clearance, hardship, infrastructure, reward, management).
    basis
        ``per_person``, ``per_household`` or ``share_of`` (a fraction of other rules' amounts).
    amount
        Yuan per person/household, or the fraction (0.015) for ``share_of``.
    applies_to
        The population counted: ``relocated`` households/persons, or ``hardship`` households
        (a share of relocated households, see :class:`Policy.hardship_share`).
    of_payers, of_purposes
        For ``share_of``: the rules whose amounts form the base. An empty ``of_purposes`` on a
        ``management`` rule means "as the ``management_base`` option says".
    paid_to
        Who receives the money (households directly, a works project, the township/village).
    not_for_sites_with_works
        "县上按照城乡统筹发展,统一安排实施完成了项目工程的,省、市配套基础设施项目补助资金不予重复安排":
        the rule pays nothing for persons moving to a site listed in ``sites_with_works`` (the
        scenario's ``policy.sites_with_works``: sites whose works the county has already built).
    standard_includes, shortfall_payer
        For a rate that the text also allows to read as a total standard ("1+5"): the ids of
        other payers' rules counted towards it, and who pays the rest. Used only with the option
        ``standard_reading: shortfall``; under ``additive`` the rule is paid as written.
    modes
        The placement modes (安置方式) the rule pays for: ``central`` (集中安置, the default),
        ``scattered`` (分散安置), ``nursing_home`` (五保户集中供养), ``transitional`` (特困户周转房). A
        ``share_of`` rule takes its base from the other rules and ignores it; for the homestead
        clearance and hardship rules the options ``scattered_homestead`` and ``scattered_hardship``
        decide the ``scattered`` mode (whatever the rule lists).
    name_zh, name_en, source
        Labels and the place in the source document.
    """

    id: str
    payer: Payer
    purpose: Purpose
    basis: Basis
    amount: float
    applies_to: AppliesTo = "relocated"
    of_payers: tuple[Payer, ...] = ()
    of_purposes: tuple[Purpose, ...] = ()
    paid_to: PaidTo = "household"
    not_for_sites_with_works: bool = False
    standard_includes: tuple[str, ...] = ()
    shortfall_payer: Payer | None = None
    modes: tuple[PlacementMode, ...] = ("central",)
    name_zh: str = ""
    name_en: str = ""
    source: str = ""

    def validate(self, where: str, problems: Problems) -> None:
        if not self.modes and self.basis != "share_of":
            problems.add(
                f"{where}.modes",
                "the rule pays for no placement mode.",
                f"List one or more of: {', '.join(PLACEMENT_MODES)} (default: central).",
            )
        if self.standard_includes and self.shortfall_payer is None:
            problems.add(
                f"{where}.shortfall_payer",
                "standard_includes is set but nobody pays the shortfall.",
                "Add shortfall_payer (e.g. county), or remove standard_includes.",
            )
        if self.shortfall_payer is not None and self.basis == "share_of":
            problems.add(f"{where}.shortfall_payer", "a share_of rule cannot be a standard.", "Remove shortfall_payer.")
        if self.amount < 0:
            problems.add(f"{where}.amount", f"amount {self.amount} is negative.", "Give a non-negative amount.")
        elif self.basis != "share_of" and self.amount > MAX_AMOUNT_YUAN:
            problems.add(
                f"{where}.amount",
                f"amount {self.amount:,.0f} yuan {self.basis.replace('_', ' ')} is above {MAX_AMOUNT_YUAN:,.0f} yuan.",
                "Give the amount in yuan (元, not 万元 or fen) per person or household.",
            )
        if self.basis == "share_of":
            if not 0 <= self.amount <= 1:
                problems.add(
                    f"{where}.amount",
                    f"a share_of amount is a fraction, got {self.amount}.",
                    "Write 0.015 for 1.5 %.",
                )
            if not self.of_payers:
                problems.add(
                    f"{where}.of_payers", "a share_of rule needs of_payers.", "List the payers, e.g. [province]."
                )
            if not self.of_purposes and self.purpose != "management":
                problems.add(
                    f"{where}.of_purposes",
                    "a share_of rule other than management needs of_purposes.",
                    "List the purposes the share is taken of.",
                )
        elif self.of_payers or self.of_purposes:
            problems.add(where, "of_payers/of_purposes only apply to basis share_of.", "Remove them or use share_of.")
        if self.applies_to == "hardship" and self.basis != "per_household":
            problems.add(
                f"{where}.applies_to",
                "hardship households are counted in households only.",
                "Use basis per_household for hardship rules.",
            )


IncomeOf = Literal["poor", "village"]


@dataclass(frozen=True)
class PovertyLine:
    """The poverty-identification line of a policy, per capita and year (yuan).

    Either a fixed line (report 5: 2,736 yuan, ``yuan_per_capita``) or a share of last year's
    rural per-capita net income (report 3: about 45 %, ``share_of_rural_income`` with
    ``rural_income_yuan``). ``income_of`` says what the villages layer's ``income_per_capita``
    measures: ``poor`` (the registered poor households' income, as the 建档立卡 registry records
    it: a village whose poor are above the line is flagged) or ``village`` (the whole village's
    average: a village below the line with no registered poor is flagged).
    """

    yuan_per_capita: float | None = None
    share_of_rural_income: float | None = None
    rural_income_yuan: float | None = None
    income_of: IncomeOf = "poor"
    source: str = ""

    @property
    def line_yuan(self) -> float:
        if self.yuan_per_capita is not None:
            return float(self.yuan_per_capita)
        return float(self.share_of_rural_income or 0) * float(self.rural_income_yuan or 0)

    def validate(self, where: str, problems: Problems) -> None:
        share = self.share_of_rural_income is not None and self.rural_income_yuan is not None
        if (self.yuan_per_capita is None) == (not share):
            problems.add(
                where,
                "give either yuan_per_capita, or share_of_rural_income with rural_income_yuan.",
                "e.g. {yuan_per_capita: 2736} or {share_of_rural_income: 0.45, rural_income_yuan: 6000}.",
            )
        if self.share_of_rural_income is not None and not 0 < self.share_of_rural_income <= 1:
            problems.add(f"{where}.share_of_rural_income", "not a fraction.", "Write 0.45 for 45 %.")


@dataclass(frozen=True)
class HousingRules:
    """Floor-area limits of resettlement housing (report 4: >= 20 m2/person, <= 120 m2/household)."""

    min_floor_area_m2_per_person: float = 20.0
    max_floor_area_m2_per_household: float = 120.0

    def validate(self, where: str, problems: Problems) -> None:
        for name in ("min_floor_area_m2_per_person", "max_floor_area_m2_per_household"):
            v = getattr(self, name)
            if not 0 < v <= MAX_FLOOR_AREA_M2:
                problems.add(f"{where}.{name}", f"{v} m2 is outside (0, {MAX_FLOOR_AREA_M2:g}].", "Give m2, e.g. 20.")


@dataclass(frozen=True)
class DisbursementRules:
    """How public-works money is released (report 4, 七(三)).

    5 % of the project total is kept as quality deposit; of the remainder one third is advanced
    before work starts, one third after the half-way inspection, the rest on acceptance; the
    deposit is released as the contract says (``warranty_days`` after acceptance, a scenario
    milestone). ``tranche_base='total'`` reads "one third" as a third of the total instead.
    """

    deposit_share: float = 0.05
    before_start_share: float = 1 / 3
    halfway_share: float = 1 / 3
    tranche_base: TrancheBase = "remainder"

    def validate(self, where: str, problems: Problems) -> None:
        if not 0 <= self.deposit_share < 1:
            problems.add(f"{where}.deposit_share", f"{self.deposit_share} is not in [0, 1).", "Write 0.05 for 5 %.")
        base = 1.0 if self.tranche_base == "total" else 1 - self.deposit_share
        if (
            self.before_start_share + self.halfway_share > 1 + 1e-9
            or base * (self.before_start_share + self.halfway_share) + self.deposit_share > 1 + 1e-9
        ):
            problems.add(where, "the advance and half-way shares exceed the total.", "Lower the shares.")


@dataclass(frozen=True)
class AcceptanceItem:
    """One line of the 100-point acceptance checklist."""

    id: str
    name_zh: str
    name_en: str
    points: float


#: Report 4 lists the eight items but not their weights; these weights are geofupin's default.
SEED_ACCEPTANCE_ITEMS: tuple[AcceptanceItem, ...] = (
    AcceptanceItem("plan_completion", "当年搬迁计划任务完成情况", "plan completion", 15),
    AcceptanceItem("targeting", "瞄准贫困户", "targeting of poor households", 15),
    AcceptanceItem("subsidies_paid", "补助配套资金兑付", "subsidies paid", 15),
    AcceptanceItem("housing", "建房面积及质量", "housing area and quality", 15),
    AcceptanceItem("infrastructure", "新村基础配套设施建设", "village infrastructure", 15),
    AcceptanceItem("moved_in", "移民户入住", "households moved in", 10),
    AcceptanceItem("records", "档案资料", "records", 10),
    AcceptanceItem("stele_plates", "村立碑、户挂牌", "village stele and household plates", 5),
)


@dataclass(frozen=True)
class AcceptanceRules:
    """The 100-point acceptance score: items with weights, and grade thresholds (>= 95, >= 80)."""

    items: tuple[AcceptanceItem, ...] = SEED_ACCEPTANCE_ITEMS
    excellent_min: float = 95.0
    pass_min: float = 80.0

    def validate(self, where: str, problems: Problems) -> None:
        for i, item in enumerate(self.items):
            if item.points < 0:
                problems.add(f"{where}.items[{i}].points", f"{item.points} points is negative.", "Give 0 or more.")
        total = sum(i.points for i in self.items)
        if abs(total - 100) > 1e-9:
            problems.add(f"{where}.items", f"item points add up to {total}, not 100.", "Make the points add up to 100.")
        ids = [i.id for i in self.items]
        if len(set(ids)) != len(ids):
            problems.add(f"{where}.items", "item ids repeat.", "Give each item a unique id.")
        if not self.pass_min <= self.excellent_min:
            problems.add(where, "pass_min is above excellent_min.", "Use pass_min <= excellent_min.")


@dataclass(frozen=True)
class Policy:
    """A subsidy policy: rules, hardship share, housing limits, disbursement and acceptance."""

    name: str
    rules: tuple[SubsidyRule, ...]
    name_en: str = ""
    hardship_share: float = 0.10
    housing: HousingRules = field(default_factory=HousingRules)
    disbursement: DisbursementRules = field(default_factory=DisbursementRules)
    acceptance: AcceptanceRules = field(default_factory=AcceptanceRules)
    poverty_line: PovertyLine | None = None

    def validate(self, where: str, problems: Problems) -> None:
        ids = [r.id for r in self.rules]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            problems.add(f"{where}.rules", f"rule ids repeat: {', '.join(dup)}.", "Give each rule a unique id.")
        by_id = {r.id: r for r in self.rules}
        for i, r in enumerate(self.rules):
            for inc in r.standard_includes:
                other = by_id.get(inc)
                if other is None:
                    problems.add(
                        f"{where}.rules[{i}].standard_includes",
                        f"rule {inc!r} is not in this policy.",
                        f"Use one of: {', '.join(ids)}.",
                    )
                elif other.basis != r.basis or other.applies_to != r.applies_to or other.shortfall_payer:
                    problems.add(
                        f"{where}.rules[{i}].standard_includes",
                        f"rule {inc!r} ({other.basis}, {other.applies_to}) cannot count towards {r.id!r} ({r.basis},"
                        f" {r.applies_to}).",
                        "Include only plain rules counted the same way (per person with per person).",
                    )
        if not 0 <= self.hardship_share <= 1:
            problems.add(f"{where}.hardship_share", f"{self.hardship_share} is not a fraction.", "Write 0.1 for 10 %.")


def _rule(id: str, payer: str, purpose: str, basis: str, amount: float, **kw: Any) -> dict[str, Any]:
    return {"id": id, "payer": payer, "purpose": purpose, "basis": basis, "amount": amount, **kw}


#: Report 4 of the seed as a plain mapping (the same content as scenarios/policy/seed-county.yaml).
SEED_COUNTY_POLICY: dict[str, Any] = {
    "name": "白于山区扶贫移民搬迁补助政策(范文4)",
    "name_en": "Baiyu mountains poverty relocation subsidies (report 4)",
    "hardship_share": 0.10,
    "rules": [
        _rule(
            "province_housing_person",
            "province",
            "housing",
            "per_person",
            3800,
            modes=["central", "scattered"],
            name_zh="省建房补助 每人3800元",
            name_en="province housing, 3,800 yuan/person",
            source="六(一)1",
        ),
        _rule(
            "province_homestead_household",
            "province",
            "homestead_clearance",
            "per_household",
            1000,
            modes=["central", "nursing_home", "transitional"],
            name_zh="省宅基地整理费 每户1000元",
            name_en="province homestead clearance, 1,000 yuan/household",
            source="六(一)1",
        ),
        _rule(
            "province_hardship_household",
            "province",
            "hardship",
            "per_household",
            10000,
            applies_to="hardship",
            name_zh="省特困户补助 每户10000元(按搬迁贫困户10%计)",
            name_en="province hardship, 10,000 yuan/household for 10 % of households",
            source="六(一)1",
        ),
        _rule(
            "city_housing_household",
            "city",
            "housing",
            "per_household",
            10000,
            shortfall_payer="county",
            name_zh="市“1+5” 每户10000元",
            name_en="city 1+5, 10,000 yuan/household",
            source="六(一)2",
        ),
        _rule(
            "city_housing_person",
            "city",
            "housing",
            "per_person",
            5000,
            standard_includes=["province_housing_person"],
            shortfall_payer="county",
            name_zh="市“1+5” 每人5000元",
            name_en="city 1+5, 5,000 yuan/person",
            source="六(一)2",
        ),
        _rule(
            "county_housing_household",
            "county",
            "housing",
            "per_household",
            10000,
            name_zh="县“1+2” 每户10000元",
            name_en="county 1+2, 10,000 yuan/household",
            source="六(一)3",
        ),
        _rule(
            "county_housing_person",
            "county",
            "housing",
            "per_person",
            2000,
            name_zh="县“1+2” 每人2000元",
            name_en="county 1+2, 2,000 yuan/person",
            source="六(一)3",
        ),
        _rule(
            "province_infrastructure_person",
            "province",
            "infrastructure",
            "per_person",
            2300,
            paid_to="project",
            not_for_sites_with_works=True,
            name_zh="省基础设施配套 每人2300元",
            name_en="province infrastructure, 2,300 yuan/person",
            source="六(二)1",
        ),
        _rule(
            "city_county_infrastructure_person",
            "city_county",
            "infrastructure",
            "per_person",
            2300,
            paid_to="project",
            not_for_sites_with_works=True,
            name_zh="市县基础设施配套 每人2300元",
            name_en="city and county infrastructure, 2,300 yuan/person",
            source="六(二)2",
        ),
        _rule(
            "county_reward_household",
            "county",
            "reward",
            "per_household",
            5000,
            paid_to="township_village",
            name_zh="县奖励(自筹资金及时到位) 每户5000元",
            name_en="county reward when own funds arrive in time, 5,000 yuan/household",
            source="六(二)3",
        ),
        _rule(
            "county_management",
            "county",
            "management",
            "share_of",
            0.015,
            paid_to="administration",
            of_payers=["province", "city", "county", "city_county"],
            name_zh="管理经费 省市县补助资金总额的1.5%",
            name_en="management, 1.5 % of province, city and county subsidies",
            source="六(三)",
        ),
        _rule(
            "county_nursing_home_person",
            "county",
            "housing",
            "per_person",
            20000,
            paid_to="project",
            modes=["nursing_home"],
            name_zh="县敬老院集中供养床位补助 每人20000元(示例)",
            name_en="county nursing-home bed for a 五保 person, 20,000 yuan (illustrative)",
            source="示例(范文4未定额)",
        ),
        _rule(
            "county_transitional_household",
            "county",
            "housing",
            "per_household",
            40000,
            paid_to="project",
            modes=["transitional"],
            name_zh="县特困户周转房建设 每户40000元(免租金,产权归村集体;示例)",
            name_en="county rent-free transitional house owned by the collective, 40,000 yuan (illustrative)",
            source="示例(范文4未定额)",
        ),
    ],
    "housing": {"min_floor_area_m2_per_person": 20, "max_floor_area_m2_per_household": 120},
    "disbursement": {"deposit_share": 0.05, "before_start_share": 1 / 3, "halfway_share": 1 / 3},
    "acceptance": {
        "excellent_min": 95,
        "pass_min": 80,
        "items": [dataclasses.asdict(i) for i in SEED_ACCEPTANCE_ITEMS],
    },
}


def parse_policy(raw: Mapping[str, Any], *, where: str = "policy", lines: Mapping[str, int] | None = None) -> Policy:
    """Parse a policy mapping (from YAML) into a validated :class:`Policy`.

    Parameters
    ----------
    raw
        The policy as plain data.
    where
        Prefix of the problems' paths (the file, or ``policy``).
    lines
        Dotted path -> line number in the policy file, for messages.

    Raises
    ------
    ScenarioError
        With every problem found (unknown keys, bad payers, shares that are not fractions...).
    """
    problems = Problems()
    if not isinstance(raw, Mapping):
        problems.add(
            where,
            f"the policy is {kind_of(raw)}.",
            "Start a policy file with 'name: ...' and 'rules: ...' (see scenarios/policy/seed-county.yaml).",
            line=1 if lines is not None else None,
        )
        raise ScenarioError(f"invalid policy {where}", problems.errors)
    pol = parse(Policy, raw, where, problems)
    if lines:
        problems = Problems(dataclasses.replace(p, line=line_for(p.where, lines, prefix=where)) for p in problems)
    if problems.errors or pol is None:
        raise ScenarioError(f"invalid policy {where}", problems.errors)
    return pol  # type: ignore[no-any-return]


def seed_policy() -> Policy:
    """The built-in report-4 policy (:data:`SEED_COUNTY_POLICY`)."""
    return parse_policy(SEED_COUNTY_POLICY, where="seed-county")


# --------------------------------------------------------------------------- scenario section
@dataclass(frozen=True)
class HousingPlan:
    """Planned floor area per household size (m2); sizes above the largest key use the largest key."""

    floor_area_m2_by_size: dict[int, float] = field(
        default_factory=lambda: {1: 40.0, 2: 50.0, 3: 70.0, 4: 90.0, 5: 110.0, 6: 120.0}
    )

    def validate(self, where: str, problems: Problems) -> None:
        if not self.floor_area_m2_by_size:
            problems.add(
                f"{where}.floor_area_m2_by_size", "no household sizes given.", "Map sizes to m2, e.g. {1: 40}."
            )
        for k, v in self.floor_area_m2_by_size.items():
            if not 1 <= k <= 100 or not 0 < v <= MAX_FLOOR_AREA_M2:
                problems.add(
                    f"{where}.floor_area_m2_by_size.{k}",
                    f"size {k} -> {v} m2 is not valid.",
                    f"Use a household size of 1 to 100 persons and an area in (0, {MAX_FLOOR_AREA_M2:g}] m2.",
                )


@dataclass(frozen=True)
class PolicyOptions:
    """How the policy's open points are read (see the module docstring for each default)."""

    hardship_base: HardshipBase = "relocated"
    hardship_rounding: Rounding = "round_half_up"
    hardship_rounding_level: RoundingLevel = "county"
    management_base: ManagementBase = "housing_infrastructure"
    standard_reading: StandardReading = "additive"
    reward: RewardMode = "assume_met"
    reward_units: tuple[str, ...] = ()
    sites_with_works: tuple[str, ...] = ()
    scattered_homestead: Inclusion = "included"
    scattered_hardship: Inclusion = "included"


@dataclass(frozen=True)
class PolicyConfig:
    """Scenario section ``policy``: the policy file, the ambiguity options and the housing plan.

    YAML keys: ``file`` (path to a policy YAML, relative to the scenario; default: the built-in
    report-4 policy), the :class:`PolicyOptions` keys, and ``housing`` (:class:`HousingPlan`).
    """

    file: Path | None = None
    hardship_base: HardshipBase = "relocated"
    hardship_rounding: Rounding = "round_half_up"
    hardship_rounding_level: RoundingLevel = "county"
    management_base: ManagementBase = "housing_infrastructure"
    standard_reading: StandardReading = "additive"
    reward: RewardMode = "assume_met"
    reward_units: tuple[str, ...] = ()
    sites_with_works: tuple[str, ...] = ()
    scattered_homestead: Inclusion = "included"
    scattered_hardship: Inclusion = "included"
    housing: HousingPlan = field(default_factory=HousingPlan)

    def validate(self, where: str, problems: Problems) -> None:
        if self.reward == "listed" and not self.reward_units:
            problems.add(
                f"{where}.reward_units",
                "reward is 'listed' but no townships/villages are listed.",
                "List township names or village ids in reward_units, or use reward: assume_met.",
            )

    @property
    def options(self) -> PolicyOptions:
        """The ambiguity options alone (every :class:`PolicyOptions` field, read from this section)."""
        return PolicyOptions(**{f.name: getattr(self, f.name) for f in dataclasses.fields(PolicyOptions)})


# --------------------------------------------------------------------------- disbursement milestones
@dataclass(frozen=True)
class Milestones:
    """Dates of a works project relative to its start (days)."""

    advance_days_before_start: int = 7
    halfway_day: int = 90
    completion_day: int = 180
    warranty_days: int = 365


__all__ = [
    "SEED_ACCEPTANCE_ITEMS",
    "SEED_COUNTY_POLICY",
    "AcceptanceItem",
    "AcceptanceRules",
    "DisbursementRules",
    "HousingPlan",
    "HousingRules",
    "Milestones",
    "Policy",
    "PolicyConfig",
    "PolicyOptions",
    "PovertyLine",
    "SubsidyRule",
    "parse_policy",
    "seed_policy",
]
