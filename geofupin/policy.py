"""Subsidy policy at work: budgets, housing checks, disbursement schedules, acceptance scoring.

A *policy* is a list of subsidy rules, one line each (who pays, for what, on which basis, how
much, to whom), plus the housing limits, the disbursement rules for public works and the
acceptance checklist, as data in :mod:`geofupin.config.policy`; this module computes with it.
:data:`~geofupin.config.policy.SEED_COUNTY_POLICY` (and ``scenarios/policy/seed-county.yaml``)
encodes report 4 of the seed document (a county of the Baiyu mountains, Shaanxi):

========================  =========  ====================  ==========================================
rule                      payer      basis                 amount
========================  =========  ====================  ==========================================
housing                   province   per relocated person  3,800 yuan
homestead clearance       province   per household         1,000 yuan
hardship households       province   per hardship hh       10,000 yuan, hardship = 10 % of households
city "1+5"                city       per household/person  10,000 + 5,000 yuan
county "1+2"              county     per household/person  10,000 + 2,000 yuan
infrastructure            province   per person            2,300 yuan
infrastructure            city+county per person           2,300 yuan (joint payer ``city_county``)
reward                    county     per household         5,000 yuan, to the township/village
management                county     share                 1.5 % of province, city and county subsidies
========================  =========  ====================  ==========================================

The seed leaves three things open; each is an option of
:class:`~geofupin.config.policy.PolicyOptions` with a
documented default, and every budget carries the options it was computed with:

``hardship_base``
    "按照搬迁贫困户总数的10%": default ``relocated`` counts every relocated household (the
    county's plan relocates poor households); ``relocated_poor`` counts only the relocated
    poor, ``min(poor_households, relocate_households)`` per village ("项目村贫困户全部纳入
    搬迁范围": the poor move first).
``hardship_rounding`` / ``hardship_rounding_level``
    10 % of 1,526 households is 152.6. Default: round half up once for the whole county (153),
    then share the whole households out to townships, villages and sites by largest remainder,
    so every level adds up. ``exact`` keeps fractional households.
``management_base``
    "省、市、县补助资金总额的1.5%": default ``housing_infrastructure`` = every province, city
    and county *subsidy* (补助: housing, homestead, hardship, infrastructure), not the reward
    (奖励); ``housing`` counts only housing subsidies; ``housing_infrastructure_reward`` adds
    the reward.
``standard_reading``
    "市扶贫移民搬迁建房补助统一实行“1+5”政策。即每搬迁一户补助10000元,每人补助5000元。除省上建房补助外,
    不足部分建房补助由县财政解决。" The last sentence admits two readings. Default ``additive``: the city pays
    its "1+5" on top of the province's 3,800 yuan/person (the county's own "1+2" is then stated "除省市补助外",
    apart from the province's and the city's subsidies, which names them as two separate payments).
    ``shortfall``: "1+5" is a total housing standard of 10,000 yuan/household + 5,000 yuan/person that
    includes the province's 3,800 yuan/person, and the county pays what the province does not cover
    (10,000 + 1,200). A rule takes part through ``standard_includes`` and ``shortfall_payer``.
``reward``
    The 5,000 yuan/household reward is paid only when the township/village's own funds arrive
    in time. Default ``assume_met`` budgets it everywhere (an upper bound); ``exclude`` drops
    it; ``listed`` pays it only to the townships/villages in ``reward_units``.
``scattered_homestead``
    Whether the 1,000 yuan/household 宅基地整理费 is paid for scattered households (分散安置): the seed ties
    it to "one household, one homestead" (the old house is pulled down and its homestead reclaimed) but
    budgets it with the central relocation. Default ``included`` (a scattered household also leaves and
    clears its old homestead); ``excluded`` pays it only for the modes its rule lists.
``scattered_hardship``
    Whether scattered households receive the hardship top-up (特困户补助). The 10 % is always taken of every
    relocated household (按照搬迁贫困户总数), whatever its placement, and shared down to the units; a unit
    whose mode the hardship rule does not pay for keeps none of it. Default ``included``; ``excluded``
    pays it to the other modes its rule lists only (nursing homes and transitional housing are not paid
    by default: their rule lists ``central``). Every rule pays for the placement modes it lists
    (``modes``, default ``central``); these two options decide the ``scattered`` mode of the homestead
    and hardship rules.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from .config.policy import (
    AcceptanceRules,
    DisbursementRules,
    HousingPlan,
    HousingRules,
    Milestones,
    Policy,
    PolicyOptions,
    PovertyLine,
    Rounding,
    SubsidyRule,
    seed_policy,
)
from .context import attributes
from .errors import DataError, Problems, ScenarioError

log = logging.getLogger(__name__)

Grade = Literal["excellent", "pass", "fail"]

PAYER_ZH: dict[str, str] = {
    "province": "省",
    "city": "市",
    "county": "县",
    "city_county": "市县",
    "township_village": "乡镇村",
}
PAYER_EN: dict[str, str] = {
    "province": "province",
    "city": "city",
    "county": "county",
    "city_county": "city and county",
    "township_village": "township/village",
}
PURPOSE_ZH: dict[str, str] = {
    "housing": "建房补助",
    "homestead_clearance": "宅基地整理费",
    "hardship": "特困户补助",
    "infrastructure": "基础设施配套",
    "reward": "奖励",
    "management": "管理经费",
}
PURPOSE_EN: dict[str, str] = {
    "housing": "housing",
    "homestead_clearance": "homestead clearance",
    "hardship": "hardship households",
    "infrastructure": "infrastructure",
    "reward": "reward",
    "management": "management",
}
GRADE_ZH: dict[str, str] = {"excellent": "优秀", "pass": "合格", "fail": "不合格"}

#: Purposes the 1.5 % management fee is computed on, per ``management_base`` option.
MANAGEMENT_PURPOSES: dict[str, tuple[str, ...]] = {
    "housing": ("housing", "homestead_clearance", "hardship"),
    "housing_infrastructure": ("housing", "homestead_clearance", "hardship", "infrastructure"),
    "housing_infrastructure_reward": ("housing", "homestead_clearance", "hardship", "infrastructure", "reward"),
}


OPTION_DOCS: dict[str, tuple[str, str]] = {
    "hardship_base": (
        "特困户10%的计算基数(搬迁户/搬迁贫困户)",
        "base of the 10 %: relocated or relocated poor households",
    ),
    "hardship_rounding": ("特困户数(搬迁户10%)取整方式", "how 10 % of households is rounded to whole households"),
    "hardship_rounding_level": ("特困户数取整层级", "level at which hardship households are rounded"),
    "management_base": ("管理经费1.5%的计算基数", "which subsidies the 1.5 % management fee is taken of"),
    "standard_reading": (
        "市“1+5”建房补助的读法:在省补助之外另行补助(additive),或为含省补助的总标准、不足部分由县财政解决(shortfall)",
        "the city 1+5 housing rate: paid on top of the province's (additive), or a total standard that includes"
        " the province's 3,800 yuan/person with the county paying the shortfall (shortfall)",
    ),
    "reward": ("每户5000元奖励是否计入", "whether the conditional 5,000 yuan/household reward is budgeted"),
    "sites_with_works": (
        "县上已统一实施完成基础设施的安置点(省、市配套基础设施补助不予重复安排)",
        "sites whose works the county has already built (no province/city infrastructure money again)",
    ),
    "reward_units": ("获奖励的乡镇/村", "townships/villages that qualify for the reward (reward: listed)"),
    "scattered_homestead": (
        "分散安置户是否享受宅基地整理费(每户1000元)",
        "whether scattered households (分散安置) get the 1,000 yuan/household homestead clearance",
    ),
    "scattered_hardship": (
        "分散安置户是否享受特困户补助(特困户数按全部搬迁户10%计)",
        "whether scattered households receive the hardship top-up (counted as 10 % of every relocated household)",
    ),
}


def option_totals(units: pd.DataFrame, policy: Policy, options: PolicyOptions) -> dict[str, dict[str, float]]:
    """The budget total under every value of every closed option, the others as ``options`` set them.

    ``reward: listed`` is left out when no ``reward_units`` are given (it would equal ``exclude``).
    Each total is :func:`budget_total`'s; the units' modes are read once, and the hardship households
    once for each reading of them (share, base, rounding and level) the options give.
    """
    hints = typing.get_type_hints(PolicyOptions)
    prepared = _unit_frame(units)
    hardship: dict[tuple[Any, ...], np.ndarray] = {}
    out: dict[str, dict[str, float]] = {}
    for f in dataclasses.fields(PolicyOptions):
        values = typing.get_args(hints[f.name])
        if not values or not all(isinstance(v, str) for v in values):
            continue
        out[f.name] = {
            str(v): _budget_total(
                units, policy, dataclasses.replace(options, **{f.name: v}), prepared=prepared, hardship=hardship
            )
            for v in values
            if not (f.name == "reward" and v == "listed" and not options.reward_units)
        }
    return out


def options_table(options: PolicyOptions, totals: Mapping[str, Mapping[str, float]] | None = None) -> pd.DataFrame:
    """The options a budget was computed with, their defaults and meaning (table ``policy_options``).

    With ``totals`` (from :func:`option_totals`) each closed option also shows the county total
    under every one of its values, so both readings of an open sentence are visible side by side.
    """
    default = PolicyOptions()
    rows = []
    for f in dataclasses.fields(PolicyOptions):
        val = getattr(options, f.name)
        dval = getattr(default, f.name)
        zh, en = OPTION_DOCS[f.name]
        row: dict[str, Any] = {
            "option": f.name,
            "value": ",".join(val) if isinstance(val, tuple) else str(val),
            "default": ",".join(dval) if isinstance(dval, tuple) else str(dval),
            "is_default": val == dval,
            "description_zh": zh,
            "description_en": en,
        }
        if totals is not None:
            by_value = totals.get(f.name, {})
            row["total_yuan"] = round(by_value[str(val)], 2) if str(val) in by_value else float("nan")
            row["totals_by_value"] = "; ".join(f"{v}: {t:,.0f} 元 ({t / 1e4:,.2f} 万元)" for v, t in by_value.items())
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- plan units
UNIT_COLUMNS = ("village_id", "name", "township", "group", "site_id", "mode", "households", "persons")


def plan_units(villages: pd.DataFrame, assignment: pd.DataFrame | None = None) -> pd.DataFrame:
    """The relocation plan as units (village x site rows) with households and persons.

    Parameters
    ----------
    villages
        Villages with ``village_id``, ``name``, ``township``, ``relocate_households``,
        ``relocate_persons`` (optional ``group``).
    assignment
        The allocation's ``assignment`` table (``village_id``, ``site_id``, ``households``,
        ``persons``); when absent the villages' relocation counts are used, with no site.

    Returns
    -------
    DataFrame with :data:`UNIT_COLUMNS` (``site_id`` empty text when unknown; ``mode`` the
    assignment's placement mode, ``central`` when it has none) and
    ``poor_households`` (the unit's share of its village's relocated poor households,
    ``min(poor_households, relocate_households)``); units with no households dropped.
    """
    v = attributes(villages)
    for col in ("village_id", "relocate_households", "relocate_persons"):
        if col not in v.columns:
            raise DataError(f"villages: column '{col}' is missing. Fix: add it (0 for villages that stay).")
    v["village_id"] = v["village_id"].astype(str)
    if "name" not in v.columns:
        v["name"] = v["village_id"]
    if "township" not in v.columns:
        v["township"] = ""
    if "group" not in v.columns:
        v["group"] = ""
    v["group"] = v["group"].fillna("").astype(str)
    v["township"] = v["township"].fillna("").astype(str)
    if assignment is None:
        units = v[["village_id", "name", "township", "group"]].copy()
        units["site_id"] = ""
        units["mode"] = "central"
        units["households"] = v["relocate_households"].to_numpy()
        units["persons"] = v["relocate_persons"].to_numpy()
    else:
        a = pd.DataFrame(assignment).copy()
        for col in ("village_id", "site_id", "households", "persons"):
            if col not in a.columns:
                raise DataError(f"assignment: column '{col}' is missing. Fix: use the allocate step's table.")
        a["village_id"] = a["village_id"].astype(str)
        a["site_id"] = a["site_id"].astype(str)
        unknown = sorted(set(a["village_id"]) - set(v["village_id"]))
        if unknown:
            raise DataError(
                f"assignment: village_id {unknown[0]!r} is not in the villages layer"
                f" ({len(unknown)} unknown). Fix: run allocate on the same villages."
            )
        info = v.drop_duplicates("village_id").set_index("village_id")[["name", "township", "group"]]
        units = a[["village_id", "site_id", "households", "persons"]].join(info, on="village_id")
        if "group" in a.columns:
            units["group"] = a["group"].fillna("").astype(str).to_numpy()
        mode = a["mode"] if "mode" in a.columns else pd.Series("central", index=a.index)
        units["mode"] = mode.where(mode.notna() & (mode.astype(str) != ""), "central").astype(str).to_numpy()
    units = units[list(UNIT_COLUMNS)]
    hh = pd.to_numeric(units["households"], errors="coerce")
    pp = pd.to_numeric(units["persons"], errors="coerce")
    bad = units[hh.isna() | pp.isna() | (hh < 0) | (pp < 0) | ((hh > 0) & (pp < hh)) | ((hh == 0) & (pp > 0))]
    if len(bad):
        r = bad.iloc[0]
        raise DataError(
            f"villages: village {r['village_id']} relocates {r['households']} households and {r['persons']} persons;"
            " every household has at least one person. Fix: correct relocate_households/relocate_persons."
        )
    units = units.assign(households=hh.astype(float), persons=pp.astype(float))
    # relocated poor households: "项目村贫困户全部纳入搬迁范围" - the poor move first, so a village's relocated
    # poor are min(poor_households, relocate_households), shared over its units by households
    vv = v.drop_duplicates("village_id").set_index("village_id")
    rel = pd.to_numeric(vv["relocate_households"], errors="coerce").fillna(0)
    if "poor_households" in vv.columns:
        poor = pd.to_numeric(vv["poor_households"], errors="coerce").fillna(rel).clip(upper=rel)
    else:
        poor = rel
    frac = (poor / rel.where(rel > 0)).fillna(0.0)
    units["poor_households"] = units["households"] * units["village_id"].map(frac).fillna(1.0).to_numpy()
    units = units[units["households"] > 0].reset_index(drop=True)
    return units


# --------------------------------------------------------------------------- budgets
def round_count(x: np.ndarray | float, how: Rounding) -> np.ndarray:
    """Round a count as the option says (``round_half_up`` rounds 0.5 up, unlike numpy)."""
    a = np.asarray(x, dtype=float)
    if how == "exact":
        return a
    if how == "floor":
        return np.floor(a + 1e-9)
    if how == "ceil":
        return np.ceil(a - 1e-9)
    return np.floor(a + 0.5 + 1e-9)


def largest_remainder(target: float, weights: np.ndarray) -> np.ndarray:
    """Share a whole ``target`` out in proportion to ``weights`` as whole numbers (Hamilton).

    Ties go to the earlier element, so the result is deterministic.
    """
    w = np.asarray(weights, dtype=float)
    if len(w) == 0:
        return w
    total = w.sum()
    if total <= 0:
        return np.zeros_like(w)
    quota = target * w / total
    base = np.floor(quota + 1e-9)
    left = round(float(target - base.sum()))
    if left > 0:
        order = np.lexsort((np.arange(len(w)), -(quota - base)))
        base[order[:left]] += 1
    return base


def hardship_households(units: pd.DataFrame, share: float, options: PolicyOptions) -> np.ndarray:
    """Hardship households per unit: ``share`` of the base households, rounded per the options.

    The base is the relocated households (``hardship_base='relocated'``) or the relocated poor
    households (``'relocated_poor'``, column ``poor_households`` of the units).
    """
    col = (
        "poor_households" if options.hardship_base == "relocated_poor" and "poor_households" in units else "households"
    )
    hh = units[col].to_numpy(dtype=float)
    raw = share * hh
    if options.hardship_rounding == "exact":
        return raw
    level = options.hardship_rounding_level
    if level == "unit":
        return round_count(raw, options.hardship_rounding)
    keys = {
        "county": np.zeros(len(units), dtype=int),
        "township": pd.factorize(units["township"])[0],
        "village": pd.factorize(units["village_id"])[0],
    }[level]
    # below the rounding level the whole number is shared down the hierarchy, largest remainder at every
    # level (township, then village, then unit), so each level's share stays within one household of its
    # own 10 % and the shares add up at every level
    below = {"county": ["township", "village_id"], "township": ["village_id"], "village": []}[level]
    out = np.zeros(len(units))
    households = units["households"].to_numpy(dtype=float)
    below_values = [units[c].to_numpy() for c in below]  # once, not once a township or village
    for k in np.unique(keys):
        idx = np.flatnonzero(keys == k)
        target = float(round_count(raw[idx].sum(), options.hardship_rounding))
        quotas = raw[idx] if raw[idx].sum() > 0 else households[idx]
        levels = [pd.factorize(values[idx])[0] for values in below_values]
        out[idx] = share_down(target, quotas, levels)
    return out


def share_down(target: float, quotas: np.ndarray, levels: list[np.ndarray]) -> np.ndarray:
    """Share a whole ``target`` over items down a hierarchy, largest remainder at each level.

    Parameters
    ----------
    target
        The whole number to share (e.g. a county's hardship households).
    quotas
        Each item's exact share (e.g. 10 % of its households); proportions come from these.
    levels
        Group codes per item, outermost first (township codes, then village codes). At each level
        the groups get whole shares of their parent's number in proportion to their quota sums
        (Hamilton's method), then each group's number is shared among its own items the same way.

    Returns
    -------
    Whole numbers per item adding up to ``target``, with every group's total within one of its
    quota sum scaled to ``target``.
    """
    q = np.asarray(quotas, dtype=float)
    if not levels:
        return largest_remainder(target, q)
    codes = levels[0]
    groups = np.unique(codes)
    sums = np.array([q[codes == g].sum() for g in groups])
    shares = largest_remainder(target, sums)
    out = np.zeros(len(q))
    for g, n in zip(groups, shares, strict=True):
        sel = np.flatnonzero(codes == g)
        out[sel] = share_down(float(n), q[sel], [lv[sel] for lv in levels[1:]])
    return out


@dataclass(frozen=True)
class Budget:
    """A budget: one line per plan unit and rule, the options it used and the units.

    Attributes
    ----------
    lines
        One row per unit x rule: the unit columns, ``rule_id``, ``payer``, ``purpose``,
        ``basis``, ``quantity`` (persons, households or the yuan base of a share), ``rate``
        (yuan or fraction) and ``amount_yuan`` (= quantity x rate).
    units
        The plan units with their ``hardship_households``.
    options
        The :class:`PolicyOptions` used.
    policy
        The policy used.
    """

    lines: pd.DataFrame
    units: pd.DataFrame
    options: PolicyOptions
    policy: Policy

    @property
    def total_yuan(self) -> float:
        """The whole budget in yuan (every rule, every payer)."""
        return float(self.lines["amount_yuan"].sum())


def effective_policy(policy: Policy, options: PolicyOptions) -> Policy:
    """The policy as ``options`` read it.

    Under ``standard_reading='shortfall'`` every rule with a ``shortfall_payer`` is a total
    standard: its rate less the rates of its ``standard_includes`` rules (never below 0) is paid
    by the shortfall payer, and its label says so. Under ``additive`` the policy is unchanged.
    """
    if options.standard_reading == "additive" or not any(r.shortfall_payer for r in policy.rules):
        return policy
    by_id = {r.id: r for r in policy.rules}
    rules = []
    for r in policy.rules:
        if r.shortfall_payer is None:
            rules.append(r)
            continue
        covered = sum(by_id[i].amount for i in r.standard_includes)
        gap = max(0.0, r.amount - covered)
        inc = [by_id[i] for i in r.standard_includes]
        less_zh = "扣除" + "、".join(i.name_zh or i.id for i in inc) + "后" if inc else ""
        less_en = " less " + ", ".join(i.name_en or i.id for i in inc) if inc else ""
        unit_zh = "每人" if r.basis == "per_person" else "每户"
        unit_en = "person" if r.basis == "per_person" else "household"
        rules.append(
            dataclasses.replace(
                r,
                payer=r.shortfall_payer,
                amount=gap,
                name_zh=f"{r.name_zh}(按总标准:{less_zh}由{PAYER_ZH[r.shortfall_payer]}补足{unit_zh}{gap:,.0f}元)",
                name_en=f"{r.name_en} (as a total standard{less_en}: {PAYER_EN[r.shortfall_payer]} pays the"
                f" shortfall, {gap:,.0f} yuan/{unit_en})",
            )
        )
    return dataclasses.replace(policy, rules=tuple(rules))


def rule_modes(rule: SubsidyRule, options: PolicyOptions) -> frozenset[str]:
    """The placement modes a rule pays for under ``options``: its ``modes``, with the ``scattered`` mode of the
    hardship and homestead clearance rules as ``scattered_hardship``/``scattered_homestead`` say."""
    modes = set(rule.modes)
    if rule.applies_to == "hardship" or rule.purpose == "hardship":
        option = options.scattered_hardship
    elif rule.purpose == "homestead_clearance":
        option = options.scattered_homestead
    else:
        return frozenset(modes)
    if option == "included":
        modes.add("scattered")
    else:
        modes.discard("scattered")
    return frozenset(modes)


def hardship_modes(policy: Policy, options: PolicyOptions) -> frozenset[str]:
    """The placement modes whose units keep their hardship households (those a hardship rule pays for)."""
    rules = [r for r in policy.rules if r.applies_to == "hardship"]
    if not rules:
        return frozenset({"central", *(("scattered",) if options.scattered_hardship == "included" else ())})
    return frozenset().union(*(rule_modes(r, options) for r in rules))


def unit_modes(units: pd.DataFrame) -> np.ndarray:
    """Each unit's placement mode (``central`` where the units carry none)."""
    if "mode" not in units.columns:
        return np.full(len(units), "central", dtype=object)
    m = units["mode"]
    missing = m.isna().to_numpy(dtype=bool)
    # each value as text, ``central`` where missing or empty (a plain loop: a few hundred units, no pandas passes)
    return np.array(
        [
            "central" if na or (text := str(v)) == "" else text
            for v, na in zip(m.to_numpy(dtype=object), missing, strict=True)
        ],
        dtype=object,
    )


def _unit_frame(units: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The units reindexed (a copy) with each one's ``mode``, and the modes."""
    u = units.reset_index(drop=True).copy()
    mode = unit_modes(u)
    u["mode"] = mode
    return u, mode


def _budget_units(
    units: pd.DataFrame,
    policy: Policy,
    options: PolicyOptions,
    *,
    prepared: tuple[pd.DataFrame, np.ndarray] | None = None,
    hardship: dict[tuple[Any, ...], np.ndarray] | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """The units a budget is computed on: reindexed, each with its ``mode`` and ``hardship_households``.

    ``prepared`` is :func:`_unit_frame` of ``units`` when the caller has it (its frame then gets this
    budget's ``hardship_households``); ``hardship`` holds the hardship households already computed for
    these units within one call of the caller, by the policy share and the options that decide them.
    """
    u, mode = prepared if prepared is not None else _unit_frame(units)
    # "按照搬迁贫困户总数的10%": the share is taken of every relocated household, whatever its placement; a unit
    # whose mode no hardship rule pays for (see scattered_hardship) keeps none of it
    eligible = np.isin(mode, list(hardship_modes(policy, options)))
    key = (policy.hardship_share, options.hardship_base, options.hardship_rounding, options.hardship_rounding_level)
    raw = hardship.get(key) if hardship is not None else None
    if raw is None:
        raw = hardship_households(u, policy.hardship_share, options)
        if hardship is not None:
            hardship[key] = raw
    u["hardship_households"] = np.where(eligible, raw, 0.0)
    return u, mode


def _rule_amounts(
    u: pd.DataFrame, mode: np.ndarray, policy: Policy, options: PolicyOptions
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(quantity, amount in yuan) per unit of every rule of the (effective) ``policy``, by rule id."""
    n = len(u)
    listed = set(options.reward_units)
    reward_ok = np.ones(n, dtype=bool)
    if options.reward == "exclude":
        reward_ok[:] = False
    elif options.reward == "listed":
        reward_ok = (u["township"].isin(listed) | u["village_id"].isin(listed) | u["name"].isin(listed)).to_numpy()
    amounts: dict[str, np.ndarray] = {}
    qty: dict[str, np.ndarray] = {}
    plain = [r for r in policy.rules if r.basis != "share_of"]
    shares = [r for r in policy.rules if r.basis == "share_of"]
    columns = {
        "hardship": u["hardship_households"].to_numpy(dtype=float),
        "per_person": u["persons"].to_numpy(dtype=float),
        "households": u["households"].to_numpy(dtype=float),
    }
    with_works = (
        u["site_id"].astype(str).isin(options.sites_with_works).to_numpy() if options.sites_with_works else None
    )
    paid_modes: dict[frozenset[str], np.ndarray] = {}
    for r in plain:
        if r.applies_to == "hardship":
            q = columns["hardship"]
        elif r.basis == "per_person":
            q = columns["per_person"]
        else:
            q = columns["households"]
        if r.purpose == "reward":
            q = np.where(reward_ok, q, 0.0)
        if r.not_for_sites_with_works and with_works is not None:
            q = np.where(with_works, 0.0, q)
        modes = rule_modes(r, options)
        if modes not in paid_modes:  # the units of a set of modes found once (most rules share one)
            paid_modes[modes] = np.isin(mode, list(modes))
        q = np.where(paid_modes[modes], q, 0.0)
        qty[r.id] = q
        amounts[r.id] = q * r.amount
    for r in shares:
        purposes = r.of_purposes or (MANAGEMENT_PURPOSES[options.management_base] if r.purpose == "management" else ())
        base = np.zeros(n)
        for p in plain:
            if p.payer in r.of_payers and p.purpose in purposes:
                base += amounts[p.id]
        qty[r.id] = base
        amounts[r.id] = base * r.amount
    return qty, amounts


def _budget_lines(
    u: pd.DataFrame, policy: Policy, qty: Mapping[str, np.ndarray], amounts: Mapping[str, np.ndarray]
) -> pd.DataFrame:
    """One row per rule x unit (rules in the policy's order, units in order within a rule), built column by column.

    The same frame as concatenating one copy of the unit columns per rule, without the copies.
    """
    rules = policy.rules
    if not rules:
        return pd.DataFrame()
    n, k = len(u), len(rules)
    base = u[list(UNIT_COLUMNS)]
    cols: dict[str, Any] = {c: base[c].take(np.tile(np.arange(n), k)).reset_index(drop=True) for c in UNIT_COLUMNS}

    cols["unit"] = np.tile(np.arange(n), k)
    for name in ("rule_id", "payer", "purpose", "basis", "paid_to"):
        values = [getattr(r, "id" if name == "rule_id" else name) for r in rules]
        # text, as a text scalar set on each rule's frame would be (also when there are no units)
        text = all(isinstance(x, str) for x in values)
        cols[name] = pd.Series(np.repeat(np.array(values, dtype=object), n), dtype="str" if text else object)
    cols["quantity"] = np.concatenate([np.asarray(qty[r.id], dtype=float) for r in rules])
    cols["rate"] = np.repeat(np.array([float(r.amount) for r in rules]), n)
    cols["amount_yuan"] = np.concatenate([np.asarray(amounts[r.id], dtype=float) for r in rules])
    return pd.DataFrame(cols)


def compute_budget(units: pd.DataFrame, policy: Policy, options: PolicyOptions | None = None) -> Budget:
    """Apply every rule of ``policy`` to every plan unit.

    Parameters
    ----------
    units
        From :func:`plan_units`.
    policy
        The subsidy policy.
    options
        The ambiguity options (defaults: :class:`PolicyOptions`).

    Returns
    -------
    Budget
    """
    options = options or PolicyOptions()
    policy = effective_policy(policy, options)
    u, mode = _budget_units(units, policy, options)
    qty, amounts = _rule_amounts(u, mode, policy, options)
    lines = _budget_lines(u, policy, qty, amounts)
    return Budget(lines=lines, units=u, options=options, policy=policy)


def budget_total(units: pd.DataFrame, policy: Policy, options: PolicyOptions | None = None) -> float:
    """``compute_budget(units, policy, options).total_yuan``, without building the budget's lines.

    The amounts are summed in the lines' order (rule by rule, unit by unit) the same way, so the
    total is the same float to the last bit.
    """
    return _budget_total(units, policy, options or PolicyOptions())


def _budget_total(
    units: pd.DataFrame,
    policy: Policy,
    options: PolicyOptions,
    *,
    prepared: tuple[pd.DataFrame, np.ndarray] | None = None,
    hardship: dict[tuple[Any, ...], np.ndarray] | None = None,
) -> float:
    """:func:`budget_total` (``prepared`` and ``hardship`` as :func:`_budget_units` takes them)."""
    policy = effective_policy(policy, options)
    if not policy.rules:
        return compute_budget(units, policy, options).total_yuan
    u, mode = _budget_units(units, policy, options, prepared=prepared, hardship=hardship)
    _, amounts = _rule_amounts(u, mode, policy, options)
    return float(pd.Series(np.concatenate([np.asarray(amounts[r.id], dtype=float) for r in policy.rules])).sum())


def budget(
    villages: pd.DataFrame,
    assignment: pd.DataFrame | None = None,
    *,
    policy: Policy | None = None,
    options: PolicyOptions | None = None,
) -> Budget:
    """The subsidy budget of a relocation plan: every rule of the policy applied to every village x site.

    Parameters
    ----------
    villages
        Villages with ``village_id``, ``name``, ``township``, ``relocate_households``,
        ``relocate_persons`` (optional ``group``, ``poor_households``). Not modified.
    assignment
        Who moves where (``village_id``, ``site_id``, ``households``, ``persons``): the
        ``assignment`` of :func:`geofupin.allocate.assign`; ``None`` budgets the villages'
        relocation counts without sites.
    policy
        The subsidy policy (:func:`geofupin.read_policy`); default: the built-in seed-county
        policy (report 4).
    options
        How to read the policy where it is open (default :class:`PolicyOptions`).

    Returns
    -------
    Budget
        One line per unit and rule; ``total_yuan`` is the whole budget, :func:`budget_by`
        sums it per township, village or site.
    """
    return compute_budget(plan_units(villages, assignment), policy or seed_policy(), options)


def _quantity_unit(rule: SubsidyRule) -> str:
    if rule.basis == "share_of":
        return "yuan"
    return "person" if rule.basis == "per_person" else "household"


def budget_by_rule(budget: Budget) -> pd.DataFrame:
    """County budget, one row per rule: quantity x rate = amount (table ``budget_county``).

    Parameters
    ----------
    budget
        A budget (:func:`budget`).

    Returns
    -------
    pandas.DataFrame
        ``rule_id``, ``payer``, ``purpose`` (and their Chinese labels), ``basis``,
        ``quantity``, ``quantity_unit``, ``rate``, ``amount_yuan``, ``paid_to``, the rule's
        names and source, in the policy's order.
    """
    g = budget.lines.groupby("rule_id", sort=False)[["quantity", "amount_yuan"]].sum()
    rows = []
    for r in budget.policy.rules:
        q = float(g.loc[r.id, "quantity"]) if r.id in g.index else 0.0
        a = float(g.loc[r.id, "amount_yuan"]) if r.id in g.index else 0.0
        rows.append(
            {
                "rule_id": r.id,
                "payer": r.payer,
                "purpose": r.purpose,
                "payer_zh": PAYER_ZH[r.payer],
                "purpose_zh": PURPOSE_ZH[r.purpose],
                "basis": r.basis,
                "quantity": q,
                "quantity_unit": _quantity_unit(r),
                "rate": float(r.amount),
                "amount_yuan": round(a, 2),
                "paid_to": r.paid_to,
                "name_zh": r.name_zh,
                "name_en": r.name_en,
                "source": r.source,
            }
        )
    return pd.DataFrame(rows)


Level = Literal["county", "township", "village", "site", "mode"]
_LEVEL_KEYS: dict[str, list[str]] = {
    "mode": ["mode"],
    "county": [],
    "township": ["township"],
    "village": ["township", "village_id", "name"],
    "site": ["site_id"],
}


def pay_column(payer: str, purpose: str) -> str:
    """Column name of a payer x purpose amount in wide budget tables."""
    return f"{payer}__{purpose}_yuan"


def budget_by(budget: Budget, level: Level) -> pd.DataFrame:
    """Budget per township, village, site or county: one row per entity, one column per payer x purpose.

    Parameters
    ----------
    budget
        A budget (:func:`budget`).
    level
        ``county``, ``township``, ``village``, ``site`` (units without a site are left out) or
        ``mode`` (the placement mode, 安置方式).

    Returns
    -------
    pandas.DataFrame
        The level's keys, ``households``, ``persons``, ``hardship_households``, one
        ``{payer}__{purpose}_yuan`` column per pair present in the policy, ``total_yuan``.
    """
    keys = _LEVEL_KEYS[level]
    lines = budget.lines
    units = budget.units
    pairs = list(dict.fromkeys((r.payer, r.purpose) for r in budget.policy.rules))
    if level == "site":
        lines = lines[lines["site_id"] != ""]
        units = units[units["site_id"] != ""]
    if keys:
        base = units.groupby(keys, sort=True)[["households", "persons", "hardship_households"]].sum()
        # what lines.pivot_table(index=keys, columns=[payer, purpose], values=amount_yuan, aggfunc=sum) gives
        wide = lines.groupby([*keys, "payer", "purpose"], sort=True)["amount_yuan"].sum().unstack(["payer", "purpose"])
    else:
        base = pd.DataFrame(units[["households", "persons", "hardship_households"]].sum()).T
        wide = pd.DataFrame(lines.groupby(["payer", "purpose"])["amount_yuan"].sum()).T
        base.index = wide.index = [0]
    out = base.copy()
    for payer, purpose in pairs:
        pair = (payer, purpose)
        out[pay_column(payer, purpose)] = wide[pair].reindex(out.index).fillna(0.0) if pair in wide.columns else 0.0
    out["total_yuan"] = out[[pay_column(*p) for p in pairs]].sum(axis=1)
    out = out.reset_index() if keys else out.reset_index(drop=True)
    for col in ("households", "persons", "hardship_households"):
        if len(out) and np.allclose(out[col], out[col].round()):
            out[col] = out[col].round().astype(int)
    money = [c for c in out.columns if c.endswith("_yuan")]
    out[money] = out[money].round(2)
    return out


def reconciliation(budget: Budget, *, tables: Mapping[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Check that sites, villages and townships add up to the county, per payer x purpose.

    Parameters
    ----------
    budget
        A budget (:func:`budget`).
    tables
        ``budget_by(budget, level)`` by level when the caller has them already (any level missing is
        computed here).

    Returns
    -------
    pandas.DataFrame
        One row per payer x purpose plus a ``total`` row; columns ``county_yuan``,
        ``townships_yuan``, ``villages_yuan``, ``sites_yuan`` (sum over units with a site),
        ``unsited_yuan`` (units with no site) and ``diff_yuan`` (largest absolute difference
        of a level from the county; 0 when everything reconciles).
    """
    lines = budget.lines
    pairs = list(dict.fromkeys((r.payer, r.purpose) for r in budget.policy.rules))
    given = tables or {}
    tables = {
        lvl: given[lvl] if lvl in given else budget_by(budget, lvl) for lvl in ("county", "township", "village", "site")
    }
    rows = []
    for payer, purpose in [*pairs, ("total", "total")]:
        col = "total_yuan" if payer == "total" else pay_column(payer, purpose)
        sel = lines if payer == "total" else lines[(lines["payer"] == payer) & (lines["purpose"] == purpose)]
        county = float(tables["county"][col].sum())
        rec: dict[str, Any] = {
            "payer": payer,
            "purpose": purpose,
            "payer_zh": PAYER_ZH.get(payer, "合计"),
            "purpose_zh": PURPOSE_ZH.get(purpose, "合计"),
            "county_yuan": county,
            "townships_yuan": float(tables["township"][col].sum()),
            "villages_yuan": float(tables["village"][col].sum()),
            "sites_yuan": float(tables["site"][col].sum()) if len(tables["site"]) else 0.0,
            "unsited_yuan": float(sel.loc[sel["site_id"] == "", "amount_yuan"].sum()),
        }
        levels = [rec["townships_yuan"], rec["villages_yuan"], rec["sites_yuan"] + rec["unsited_yuan"]]
        rec["diff_yuan"] = round(max(abs(x - county) for x in levels), 2)
        rows.append(rec)
    out = pd.DataFrame(rows)
    money = [c for c in out.columns if c.endswith("_yuan")]
    out[money] = out[money].round(2)
    return out


# --------------------------------------------------------------------------- housing checks
def household_sizes(units: pd.DataFrame) -> pd.DataFrame:
    """Split each unit's households into the most even mix of sizes that matches its persons.

    A unit of 3 households and 10 persons becomes 2 households of 3 and 1 of 4. These sizes are an
    estimate (a real household of 7 may hide in a unit that averages 4): every row says so in
    ``size_source = 'estimated'``; a household roster gives the real sizes.
    Columns: the unit columns, ``size``, ``count``, ``size_source``.
    """
    hh = units["households"].to_numpy(dtype=float).round().astype(int)
    pp = units["persons"].to_numpy(dtype=float).round().astype(int)
    safe = np.maximum(hh, 1)
    lo = pp // safe
    n_hi = pp - lo * safe
    n_lo = hh - n_hi
    keep = [c for c in UNIT_COLUMNS if c in units.columns]
    a = units[keep].assign(size=lo, count=n_lo, size_source="estimated")
    b = units[keep].assign(size=lo + 1, count=n_hi, size_source="estimated")
    out = pd.concat([a, b]).sort_index(kind="stable")
    return out[(out["count"] > 0) & (out["size"] > 0)].reset_index(drop=True)


def check_housing(households: pd.DataFrame, rules: HousingRules, plan: HousingPlan | None = None) -> pd.DataFrame:
    """Check planned floor area against the policy limits.

    Parameters
    ----------
    households
        Rows of households (or groups of equal households with a ``count`` column) with
        ``size`` (persons) and optionally ``floor_area_m2``; when the area is absent it comes
        from ``plan`` by household size.
    rules
        The limits (>= 20 m2 per person, <= 120 m2 per household).
    plan
        Planned floor area by household size.

    Returns
    -------
    The rows with ``size_source`` (``roster`` unless the input says ``estimated``),
    ``floor_area_m2``, ``area_m2_per_person``, ``ok``, ``policy_conflict`` (the household is so
    large that no floor area meets both limits: ``size x min per person > max per household``,
    e.g. 7 x 20 = 140 > 120 m2) and ``reasons_zh`` / ``reasons_en`` ("" when ok). Filter ``~ok`` to
    list the violations.
    """
    df = households.copy()
    if "count" not in df.columns:
        df["count"] = 1
    if "size_source" not in df.columns:
        df["size_source"] = "roster"
    size = df["size"].to_numpy(dtype=float)
    if "floor_area_m2" not in df.columns:
        plan = plan or HousingPlan()
        table = plan.floor_area_m2_by_size
        biggest = max(table)
        df["floor_area_m2"] = [float(table.get(int(s), table[biggest] if s > biggest else np.nan)) for s in size]
        missing = df["floor_area_m2"].isna()
        if missing.any():
            s = int(size[missing.to_numpy()][0])
            raise DataError(
                f"housing plan: no floor area for households of {s} persons. Fix: add {s}: <m2> to"
                " policy.housing.floor_area_m2_by_size."
            )
    area = df["floor_area_m2"].to_numpy(dtype=float)
    per = area / np.maximum(size, 1)
    small = per < rules.min_floor_area_m2_per_person - 1e-9
    big = area > rules.max_floor_area_m2_per_household + 1e-9
    conflict = size * rules.min_floor_area_m2_per_person > rules.max_floor_area_m2_per_household + 1e-9
    df["area_m2_per_person"] = per.round(2)
    df["ok"] = ~(small | big)
    df["policy_conflict"] = conflict
    zh, en = [], []
    for s, b, p, a, c, n in zip(small, big, per, area, conflict, size, strict=True):
        z, e = [], []
        if c:
            need = n * rules.min_floor_area_m2_per_person
            z.append(
                f"政策冲突:{n:g}人户按人均{rules.min_floor_area_m2_per_person:g}平方米需{need:g}平方米,"
                f"超过每户{rules.max_floor_area_m2_per_household:g}平方米上限"
            )
            e.append(
                f"policy conflict: {n:g} persons need {need:g} m2 at {rules.min_floor_area_m2_per_person:g} m2 each,"
                f" above the {rules.max_floor_area_m2_per_household:g} m2 cap"
            )
        if s:
            z.append(f"人均{p:.1f}平方米,少于{rules.min_floor_area_m2_per_person:g}平方米")
            e.append(f"{p:.1f} m2 per person, below {rules.min_floor_area_m2_per_person:g}")
        if b:
            z.append(f"每户{a:g}平方米,超过{rules.max_floor_area_m2_per_household:g}平方米")
            e.append(f"{a:g} m2 per household, above {rules.max_floor_area_m2_per_household:g}")
        zh.append(";".join(z))
        en.append("; ".join(e))
    df["reasons_zh"] = zh
    df["reasons_en"] = en
    return df.reset_index(drop=True)


# --------------------------------------------------------------------------- disbursement
TRANCHES: tuple[tuple[str, str, str], ...] = (
    ("before_start", "开工前预拨", "advance before start"),
    ("halfway", "过半检查后拨付", "after half-way inspection"),
    ("acceptance", "竣工验收合格后拨付", "on acceptance"),
    ("deposit_release", "质量保证金(按合同约定)", "quality deposit release (per contract)"),
)


def disbursement_schedule(
    projects: pd.DataFrame,
    rules: DisbursementRules,
    *,
    start_date: dt.date | None = None,
    milestones: Milestones | None = None,
) -> pd.DataFrame:
    """When the money of each public-works project moves.

    Parameters
    ----------
    projects
        ``project_id`` and ``cost_yuan`` (other columns are carried along).
    rules
        Deposit and tranche shares.
    start_date
        The works' start date; without it ``date`` is empty and only ``day`` (relative to the
        start) is given.
    milestones
        Day offsets of the half-way inspection, completion and deposit release.

    Returns
    -------
    One row per project x tranche (``before_start``, ``halfway``, ``acceptance``,
    ``deposit_release``) with ``share``, ``amount_yuan`` (to the fen; the acceptance tranche
    takes the rounding rest so each project adds up exactly), ``day`` and ``date``.
    """
    ms = milestones or Milestones()
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
    if projects.empty:
        return pd.DataFrame(
            columns=[*keep, "cost_yuan", "tranche", "tranche_order", "amount_yuan", "share", "day", "date"]
        )
    # one block of rows per tranche (the projects in order), built column by column: the same frame as one copy
    # of the projects per tranche with the tranche's columns set on it, concatenated
    n, k = len(projects), len(TRANCHES)
    rows = np.tile(np.arange(n), k)
    cols: dict[str, Any] = {c: projects[c].take(rows).reset_index(drop=True) for c in keep}
    cols["cost_yuan"] = np.tile(cost_fen / 100, k)
    cols["tranche"] = pd.Series(np.repeat(np.array([t for t, _, _ in TRANCHES], dtype=object), n), dtype="str")
    cols["tranche_order"] = np.repeat(np.arange(k, dtype=np.int64), n)
    cols["tranche_zh"] = pd.Series(np.repeat(np.array([z for _, z, _ in TRANCHES], dtype=object), n), dtype="str")
    cols["tranche_en"] = pd.Series(np.repeat(np.array([e for _, _, e in TRANCHES], dtype=object), n), dtype="str")
    cols["amount_yuan"] = np.concatenate([amounts[t] / 100 for t, _, _ in TRANCHES])
    cols["share"] = np.concatenate(
        [np.where(cost_fen > 0, amounts[t] / np.maximum(cost_fen, 1), 0.0).round(6) for t, _, _ in TRANCHES]
    )
    cols["day"] = np.repeat(np.array([days[t] for t, _, _ in TRANCHES], dtype=np.int64), n)
    dates = [(start_date + dt.timedelta(days=days[t])).isoformat() if start_date else "" for t, _, _ in TRANCHES]
    cols["date"] = pd.Series(np.repeat(np.array(dates, dtype=object), n), dtype="str")
    out = pd.DataFrame(cols)
    return out.sort_values(["project_id", "tranche_order"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- acceptance
@dataclass(frozen=True)
class AcceptanceResult:
    """A scored acceptance form."""

    total: float
    grade: Grade
    grade_zh: str
    items: pd.DataFrame


def grade(total: float, rules: AcceptanceRules) -> Grade:
    """Grade a 100-point total: ``excellent`` (>= 95), ``pass`` (>= 80, 80 included), else ``fail``."""
    t = round(float(total), 6)
    if t >= rules.excellent_min:
        return "excellent"
    if t >= rules.pass_min:
        return "pass"
    return "fail"


def acceptance_form(rules: AcceptanceRules, *, unit: str = "", summary_rows: bool = False) -> pd.DataFrame:
    """An empty acceptance form: one row per checklist item, ``score`` to fill in.

    With ``summary_rows`` the form ends as the paper form does: a 合计 row (100 points) and a 等次
    row whose remark states the grade thresholds (优秀/合格/不合格).
    """
    form = pd.DataFrame(
        {
            "inspected_unit": unit,
            "item_id": [i.id for i in rules.items],
            "item_zh": [i.name_zh for i in rules.items],
            "item_en": [i.name_en for i in rules.items],
            "max_points": [float(i.points) for i in rules.items],
            "score": np.nan,
            "remarks": "",
        }
    )
    if not summary_rows:
        return form
    total = float(sum(i.points for i in rules.items))
    tail = pd.DataFrame(
        {
            "inspected_unit": [unit, unit],
            "item_id": ["total", "grade"],
            "item_zh": ["合计", "等次"],
            "item_en": ["total", "grade"],
            "max_points": [total, np.nan],
            "score": [np.nan, np.nan],
            "remarks": [
                "各项得分之和 / sum of the item scores",
                f"{rules.excellent_min:g}分以上为优秀,{rules.pass_min:g}分(含)以上为合格,{rules.pass_min:g}分以下为不合格"
                f" / >= {rules.excellent_min:g} excellent, >= {rules.pass_min:g} pass, below fail",
            ],
        }
    )
    return pd.concat([form, tail], ignore_index=True)


def score_acceptance(scores: Mapping[str, float] | pd.DataFrame, rules: AcceptanceRules) -> AcceptanceResult:
    """Score a filled form (a mapping item_id -> points, or the form with ``score`` filled).

    Raises
    ------
    DataError
        For an unknown item, a missing score, or a score outside 0..max_points.
    """
    if isinstance(scores, pd.DataFrame):
        mapping = dict(zip(scores["item_id"].astype(str), scores["score"], strict=True))
    else:
        mapping = dict(scores)
    known = {i.id: i for i in rules.items}
    unknown = sorted(set(mapping) - set(known))
    if unknown:
        raise DataError(f"acceptance form: unknown item {unknown[0]!r}. Fix: use one of {', '.join(known)}.")
    form = acceptance_form(rules)
    vals = []
    for item in rules.items:
        v = mapping.get(item.id)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            raise DataError(f"acceptance form: item {item.id!r} ({item.name_zh}) has no score. Fix: fill it in.")
        if not 0 <= float(v) <= item.points + 1e-9:
            raise DataError(
                f"acceptance form: item {item.id!r} scores {v}, outside 0..{item.points:g}. Fix: correct the score."
            )
        vals.append(float(v))
    form["score"] = vals
    total = round(float(sum(vals)), 6)
    g = grade(total, rules)
    return AcceptanceResult(total=total, grade=g, grade_zh=GRADE_ZH[g], items=form)


def poverty_line_check(villages: pd.DataFrame, line: PovertyLine) -> pd.DataFrame:
    """Villages whose registry disagrees with the policy's poverty line, with the figures.

    With ``line.income_of == 'poor'`` a village with registered poor households whose
    ``income_per_capita`` is above the line is listed; with ``'village'`` a village whose average
    is below the line but that has no registered poor. Villages without an income are skipped.
    Columns: ``village_id``, ``name``, ``township``, ``poor_households``, ``income_per_capita``,
    ``line_yuan``, ``reason_zh``, ``reason_en``.
    """
    cols = ["village_id", "name", "township", "poor_households", "income_per_capita", "line_yuan"]
    v = attributes(villages)
    if "income_per_capita" not in v.columns:
        return pd.DataFrame(columns=[*cols, "reason_zh", "reason_en"])
    inc = pd.to_numeric(v["income_per_capita"], errors="coerce")
    poor = pd.to_numeric(v.get("poor_households", 0), errors="coerce").fillna(0)
    lim = line.line_yuan
    if line.income_of == "poor":
        bad = inc.notna() & (poor > 0) & (inc > lim)
    else:
        bad = inc.notna() & (poor == 0) & (inc < lim)
    out = pd.DataFrame(
        {
            "village_id": v.loc[bad, "village_id"].astype(str),
            "name": v.loc[bad, "name"].astype(str) if "name" in v else "",
            "township": v.loc[bad, "township"].astype(str) if "township" in v else "",
            "poor_households": poor[bad].astype(int),
            "income_per_capita": inc[bad],
            "line_yuan": lim,
        }
    ).reset_index(drop=True)
    if line.income_of == "poor":
        out["reason_zh"] = [
            f"建档立卡贫困户{p}户,人均纯收入{i:,.0f}元高于贫困线{lim:,.0f}元,请核实识别"
            for p, i in zip(out["poor_households"], out["income_per_capita"], strict=True)
        ]
        out["reason_en"] = [
            f"{p} registered poor households with {i:,.0f} yuan per capita, above the {lim:,.0f} yuan line: check"
            for p, i in zip(out["poor_households"], out["income_per_capita"], strict=True)
        ]
    else:
        out["reason_zh"] = [
            f"人均纯收入{i:,.0f}元低于贫困线{lim:,.0f}元,但无建档立卡贫困户" for i in out["income_per_capita"]
        ]
        out["reason_en"] = [
            f"{i:,.0f} yuan per capita, below the {lim:,.0f} yuan line, but no registered poor"
            for i in out["income_per_capita"]
        ]
    return out


def homestead_table(budget: Budget) -> pd.DataFrame:
    """The old homesteads each village leaves, with the clearance money budgeted for them.

    "一户一宅": every relocating household leaves one homestead; the 1,000 yuan/household
    宅基地整理费 (purpose ``homestead_clearance``) pays for clearing it. Areas are not known
    from the registry: ``area_known`` is False until a household roster or survey gives them.
    Columns: ``township``, ``village_id``, ``name``, ``homesteads`` (households relocating),
    ``homestead_clearance_yuan``, ``area_known``.
    """
    lines = budget.lines
    sel = lines[lines["purpose"] == "homestead_clearance"]
    units = budget.units.groupby(["township", "village_id", "name"], sort=True)["households"].sum()
    money = sel.groupby(["township", "village_id", "name"], sort=True)["amount_yuan"].sum()
    out = pd.DataFrame({"homesteads": units}).join(money.rename("homestead_clearance_yuan")).fillna(0.0)
    out = out.reset_index()
    out["homesteads"] = out["homesteads"].round().astype(int)
    out["homestead_clearance_yuan"] = out["homestead_clearance_yuan"].round(2)
    out["area_known"] = False
    return out


def check_options(options: PolicyOptions, where: str = "policy") -> None:
    """Raise :class:`ScenarioError` when options contradict each other."""
    problems = Problems()
    if options.reward == "listed" and not options.reward_units:
        problems.add(
            f"{where}.reward_units", "reward is 'listed' but nothing is listed.", "List townships or villages."
        )
    if problems.errors:
        raise ScenarioError(where, problems.errors)


def payer_purpose_label(col: str) -> tuple[str, str] | None:
    """Chinese and English labels of a ``{payer}__{purpose}_yuan`` column, or None."""
    if "__" not in col or not col.endswith("_yuan"):
        return None
    payer, purpose = col[: -len("_yuan")].split("__", 1)
    if payer not in PAYER_ZH or purpose not in PURPOSE_ZH:
        return None
    return f"{PAYER_ZH[payer]}{PURPOSE_ZH[purpose]}(元)", f"{PAYER_EN[payer]} {PURPOSE_EN[purpose]} (yuan)"


#: The public API (docs/reference/policy.md documents each name); the other functions stay importable by name.
__all__: Sequence[str] = (
    "Budget",
    "budget",
    "budget_by",
    "budget_by_rule",
    "reconciliation",
)
