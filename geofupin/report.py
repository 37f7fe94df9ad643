"""Report tables: the seed's township table, village plan lines, plan tables with Chinese headers.

The wording of a plan lives here, its computation in :mod:`geofupin.plans`: :func:`plan_step`
(the ``plan`` step) reads the policy through :mod:`geofupin.io`, computes with
:func:`geofupin.plans.plan`, and adds the township table and each village's plan line in
report-5 wording (:func:`plan_line`).

Result tables keep canonical English column names (``households``, ``total_yuan``) so code can
use them; :func:`localize` gives each column its Chinese header and English label, and
:func:`write_tables` writes CSV (UTF-8 with BOM, Chinese header row then English header
row) and one XLSX workbook (a sheet per table, the same two header rows) through
:mod:`geofupin.io`'s atomic writers.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from . import io as gio
from . import plans
from .config.plans import PlansConfig, PlanTargets
from .context import RunContext, StepResult, run_policy
from .policy import PAYER_ZH, PURPOSE_ZH, payer_purpose_label, plan_units
from .siting import CRITERIA

log = logging.getLogger(__name__)

#: Column -> (Chinese header, English label).
COLUMN_LABELS: dict[str, tuple[str, str]] = {
    # the placement (安置方式: 集中安置, 分散安置, 集中供养, 周转房安置)
    "mode": ("安置方式代码", "placement mode"),
    "mode_zh": ("安置方式", "placement mode (Chinese)"),
    "household_id": ("户编号", "household id"),
    "head_name": ("户主姓名", "head of household"),
    "status_zh": ("户类型", "household status"),
    "wish_zh": ("安置意愿", "wish"),
    "note_zh": ("备注", "note"),
    "destinations": ("安置去处(个)", "destinations"),
    "wanted_mode": ("申请安置方式代码", "mode asked for"),
    "wanted_mode_zh": ("申请安置方式", "mode asked for (Chinese)"),
    "reason": ("原因代码", "reason code"),
    "fallback_mode": ("改为安置方式代码", "placed instead"),
    "fallback_mode_zh": ("改为安置方式", "placed instead (Chinese)"),
    "township": ("乡镇", "township"),
    "village": ("村", "village"),
    "group": ("村民小组", "village group"),
    "households": ("户", "households"),
    "persons": ("人", "persons"),
    "row_kind": ("行类型", "row kind"),
    "village_id": ("村编码", "village id"),
    "name": ("名称", "name"),
    "name_en": ("英文名称", "name (English)"),
    "site_id": ("安置点编码", "site id"),
    "tier": ("安置类型", "tier"),
    "hardship_households": ("特困户(户)", "hardship households"),
    "total_yuan": ("合计(元)", "total (yuan)"),
    "rule_id": ("补助项目编码", "rule id"),
    "payer": ("出资方", "payer"),
    "purpose": ("用途", "purpose"),
    "payer_zh": ("出资方(中文)", "payer (Chinese)"),
    "purpose_zh": ("用途(中文)", "purpose (Chinese)"),
    "basis": ("计算方式", "basis"),
    "quantity": ("数量", "quantity"),
    "quantity_unit": ("数量单位", "quantity unit"),
    "rate": ("标准", "rate"),
    "amount_yuan": ("金额(元)", "amount (yuan)"),
    "paid_to": ("拨付对象", "paid to"),
    "name_zh": ("补助项目", "rule (Chinese)"),
    "source": ("政策依据", "source"),
    "county_yuan": ("全县(元)", "county (yuan)"),
    "townships_yuan": ("各乡镇合计(元)", "sum of townships (yuan)"),
    "villages_yuan": ("各村合计(元)", "sum of villages (yuan)"),
    "sites_yuan": ("各安置点合计(元)", "sum of sites (yuan)"),
    "unsited_yuan": ("未定安置点(元)", "no site (yuan)"),
    "diff_yuan": ("差额(元)", "difference (yuan)"),
    "option": ("选项", "option"),
    "value": ("取值", "value"),
    "default": ("默认值", "default"),
    "is_default": ("是否默认", "is default"),
    "description_zh": ("说明", "description (Chinese)"),
    "totals_by_value": ("各取值下的预算总额", "budget total under each value"),
    "description_en": ("英文说明", "description"),
    "size": ("每户人数", "household size"),
    "count": ("户数", "households"),
    "floor_area_m2": ("建房面积(平方米)", "floor area (m2)"),
    "area_m2_per_person": ("人均面积(平方米)", "floor area per person (m2)"),
    "ok": ("是否符合", "complies"),
    "reasons_zh": ("不符合原因", "reasons (Chinese)"),
    "reasons_en": ("英文原因", "reasons"),
    "persons_in": ("迁入人数", "persons moving in"),
    "households_in": ("迁入户数", "households moving in"),
    "road_action": ("道路措施", "road action"),
    "road_method": ("道路计算方法", "road method"),
    "road_surface": ("路面", "road surface"),
    "road_length_m": ("道路长度(米)", "road length (m)"),
    "road_cost_yuan": ("道路投资(元)", "road cost (yuan)"),
    "water_feature_id": ("水源编码", "water source id"),
    "water_kind": ("水源类型", "water source kind"),
    "water_length_m": ("供水管长度(米)", "water pipe length (m)"),
    "water_cost_yuan": ("供水投资(元)", "water cost (yuan)"),
    "power_feature_id": ("电源编码", "power id"),
    "power_kind": ("电源类型", "power kind"),
    "power_length_m": ("输电线长度(米)", "power line length (m)"),
    "power_cost_yuan": ("电力投资(元)", "power cost (yuan)"),
    "kindergarten_places": ("幼儿园学位", "kindergarten places"),
    "primary_places": ("小学学位", "primary school places"),
    "school_cost_yuan": ("学校投资(元)", "school cost (yuan)"),
    "total_cost_yuan": ("总投资(元)", "total cost (yuan)"),
    "infrastructure_subsidy_yuan": ("基础设施补助(元)", "infrastructure subsidy (yuan)"),
    "off_site_cost_yuan": ("场外配套投资(元)", "off-site works cost (yuan)"),
    "works_built": ("县已建成配套", "works already built by the county"),
    "in_site_lane_yuan": ("巷道硬化(元)", "in-site lanes (yuan)"),
    "in_site_water_drainage_yuan": ("给排水(元)", "in-site water supply and drainage (yuan)"),
    "in_site_power_yuan": ("电力入户(元)", "power to each house (yuan)"),
    "in_site_cost_yuan": ("村内配套投资(元)", "in-site works cost (yuan)"),
    "in_site_gap_yuan": ("村内配套投资减补助(元)", "in-site works minus infrastructure subsidy (yuan)"),
    "poor_households": ("贫困户(户)", "poor households"),
    "poor_persons": ("贫困人口(人)", "poor persons"),
    "gravel_road_km": ("新建碎石路(公里)", "new gravel road (km)"),
    "cement_road_km": ("新建水泥路(公里)", "new cement road (km)"),
    "upgrade_road_km": ("硬化道路(公里)", "road upgraded to cement (km)"),
    "footpath_km": ("便民路(公里)", "footpaths (km)"),
    "pond_new": ("新建山坪塘(口)", "new ponds"),
    "pond_repair": ("维修山坪塘(口)", "ponds repaired"),
    "canal_repair_m": ("维修水渠(米)", "canals repaired (m)"),
    "clinic": ("村卫生室(个)", "village clinics"),
    "clinic_cost_yuan": ("卫生室投资(元)", "clinic cost (yuan)"),
    "groups": ("村民小组", "village groups"),
    "homesteads": ("旧宅基地(处)", "old homesteads"),
    "homestead_clearance_yuan": ("宅基地整理费(元)", "homestead clearance (yuan)"),
    "area_known": ("面积已知", "area known"),
    "income_per_capita": ("人均纯收入(元)", "income per capita (yuan)"),
    "line_yuan": ("贫困线(元)", "poverty line (yuan)"),
    "stay_households": ("留守户数", "households staying"),
    "stay_persons": ("留守人数", "persons staying"),
    "relocating_households": ("搬迁户数", "households relocating"),
    "derived_from": ("数据来源", "derived from"),
    "plan_zh": ("规划", "plan (Chinese)"),
    "plan_en": ("英文规划", "plan"),
    "project_id": ("项目编码", "project id"),
    "item_zh": ("项目", "item (Chinese)"),
    "item_en": ("英文项目", "item"),
    "cost_yuan": ("项目资金(元)", "project cost (yuan)"),
    "tranche": ("拨付批次", "tranche"),
    "tranche_order": ("批次序号", "tranche order"),
    "tranche_zh": ("拨付节点", "tranche (Chinese)"),
    "tranche_en": ("英文拨付节点", "tranche"),
    "share": ("比例", "share"),
    "day": ("距开工天数", "days from start"),
    "date": ("日期", "date"),
    "unit": ("单位", "unit"),
    "inspected_unit": ("验收单位", "unit inspected"),
    "facility_kind": ("设施类型", "facility kind"),
    "planned_area_m2": ("规划用地面积(平方米)", "planned area (m2)"),
    "area_m2": ("面积(平方米)", "area (m2)"),
    "band_min": ("时间圈(分钟)", "time band (min)"),
    "persons_share": ("人口覆盖率", "share of persons"),
    "poor_persons_share": ("贫困人口覆盖率", "share of poor persons"),
    "time_min": ("出行时间(分钟)", "travel time (min)"),
    "dist_m": ("距离(米)", "distance (m)"),
    "time_min_to_site": ("到安置点时间(分钟)", "time to site (min)"),
    "dist_m_to_site": ("到安置点距离(米)", "distance to site (m)"),
    "site_source": ("安置点来源", "site from"),
    "rank": ("排名", "rank"),
    "p_topk": ("进入前k名概率", "probability of top k"),
    "stable_topk": ("稳居前k名", "stable in top k"),
    "capacity_persons": ("容量(人)", "capacity (persons)"),
    "capacity_households": ("容量(户)", "capacity (households)"),
    "criterion": ("评价指标", "criterion"),
    "label_zh": ("指标名称", "label (Chinese)"),
    "label_en": ("英文名称", "label"),
    "direction": ("指标方向", "direction"),
    "normalised": ("标准化值", "normalised value"),
    "normalise": ("标准化方法", "normalisation"),
    "weight": ("权重", "weight"),
    "method": ("评价方法", "method"),
    "contribution": ("得分贡献", "contribution to score"),
    "change": ("权重变动", "weight change"),
    "top1_site_id": ("第一名安置点", "top site"),
    "topk_site_ids": ("前k名安置点", "top k sites"),
    "topk_changed": ("前k名是否变化", "top k changed"),
    "rank_corr": ("排名相关系数", "rank correlation"),
    "rule": ("选址规则", "rule"),
    "passed": ("是否通过", "passed"),
    "threshold": ("阈值", "threshold"),
    "op": ("比较方式", "comparison"),
    "failed": ("未通过(个)", "sites failing"),
    "failed_only": ("仅因此项未通过(个)", "sites failing only this rule"),
    "unit_id": ("搬迁单元编码", "relocation unit id"),
    "site_name": ("安置点名称", "site name"),
    "site_name_en": ("安置点英文名称", "site name (English)"),
    "cost": ("分配成本", "allocation cost"),
    "assigned_persons": ("安置人数", "persons assigned"),
    "assigned_households": ("安置户数", "households assigned"),
    "open": ("是否启用", "in use"),
    "occupancy_share": ("入住率", "occupancy"),
    "reason_zh": ("原因", "reason (Chinese)"),
    "reason_en": ("英文原因", "reason"),
    # plan package: phasing, funding, reclamation
    "homestead_m2": ("旧宅基地面积(平方米)", "old homesteads (m2)"),
    "reclaimable_m2": ("可复垦面积(平方米)", "reclaimable (m2)"),
    "land_m2": ("安置点用地(平方米)", "site land (m2)"),
    "site_land_m2": ("安置点用地(平方米)", "site land (m2)"),
    "balance_m2": ("增减挂钩结余(平方米)", "land quota balance (m2)"),
    "land_source": ("用地面积来源", "site land from"),
    "household_no": ("户序号", "household no."),
    "hardship": ("特困户", "hardship household"),
    "building_cost_yuan": ("建房成本(元)", "building cost (yuan)"),
    "subsidy_province_yuan": ("省建房补助(元)", "province housing subsidy (yuan)"),
    "subsidy_city_yuan": ("市建房补助(元)", "city housing subsidy (yuan)"),
    "subsidy_county_yuan": ("县建房补助(元)", "county housing subsidy (yuan)"),
    "subsidy_household_yuan": ("到户补助合计(元)", "subsidies to the household (yuan)"),
    "income_yuan": ("家庭年收入(元)", "household income (yuan)"),
    "own_share_of_income": ("自筹占收入倍数", "own funds / income"),
    "over_limit": ("自筹超限", "own funds over the limit"),
    "surplus_yuan": ("资金结余(元)", "surplus (yuan)"),
    "constraint": ("约束编码", "constraint"),
    "county": ("县", "county"),
    "feasible": ("是否可行", "feasible"),
    "policy": ("补助政策", "subsidy policy"),
    "weight_configured": ("设定权重", "weight as configured"),
    "status": ("状态", "status"),
    "cumulative_persons": ("累计搬迁人数", "cumulative persons"),
    "year": ("年度", "year"),
    "planned_groups": ("村民小组数", "village groups"),
    "hazard_households": ("受灾害威胁户数", "households threatened by hazards"),
    "subsidy_total_yuan": ("补助资金合计(元)", "subsidies (yuan)"),
    "site_works_yuan": ("安置点工程(元)", "site works (yuan)"),
    "sites_opened": ("新开工安置点", "sites started"),
    "budget_ceiling_yuan": ("年度资金上限(元)", "annual ceiling (yuan)"),
    "cumulative_households": ("累计搬迁户数", "cumulative households"),
    "cumulative_share": ("累计完成比例", "cumulative share"),
    "planned_households": ("计划搬迁户数", "households planned"),
    "planned_persons": ("计划搬迁人数", "persons planned"),
    "target_households": ("规划总户数", "plan households"),
    "completed_households": ("实际完成户数", "households completed"),
    "constraint_zh": ("约束", "constraint"),
    "ceiling": ("上限", "ceiling"),
    "used": ("占用", "used"),
    "extra_needed": ("须追加", "extra needed"),
    "payer_or_site": ("资金来源/安置点", "payer or site"),
    "subsidy_yuan": ("补助资金(元)", "subsidies (yuan)"),
    "priority_score": ("优先得分", "priority score"),
    "hazard": ("受灾害威胁", "threatened by hazards"),
    "province_yuan": ("省级资金(元)", "province funds (yuan)"),
    "city_yuan": ("市级资金(元)", "city funds (yuan)"),
    "city_county_yuan": ("市县配套(元)", "city and county funds (yuan)"),
    "township_village_yuan": ("乡镇村(元)", "township/village funds (yuan)"),
    "department_yuan": ("部门配套(元)", "department co-funding (yuan)"),
    "county_gap_yuan": ("县财政兜底(元)", "county gap funding (yuan)"),
    "own_housing_yuan": ("群众自筹建房(元)", "households' own funds for housing (yuan)"),
    "own_works_yuan": ("群众自筹基础设施(元)", "households' own funds for works (yuan)"),
    "own_total_yuan": ("群众自筹合计(元)", "households' own funds (yuan)"),
    "total_wan": ("合计(万元)", "total (10,000 yuan)"),
    "over_limit_households": ("自筹超收入户数", "households over the income limit"),
    "works_yuan": ("工程造价(元)", "works cost (yuan)"),
    "shortfall_yuan": ("资金缺口(元)", "shortfall (yuan)"),
    "homestead_mu": ("旧宅基地(亩)", "old homesteads (mu)"),
    "reclaimable_mu": ("可复垦(亩)", "reclaimable (mu)"),
    "homestead_fee_yuan": ("宅基地整理费(元)", "homestead clearance fee (yuan)"),
    "size_source": ("户规模来源", "household sizes from"),
    "policy_conflict": ("政策冲突", "policy conflict"),
    "item_id": ("验收项目编码", "item id"),
    "max_points": ("满分", "maximum points"),
    "score": ("得分", "score"),
    "remarks": ("备注", "remarks"),
    "from_townships": ("迁出乡镇", "townships moved from"),
    "cross_township": ("跨乡镇安置", "across townships"),
    "phases": ("分期安置", "phases"),
    "first_year": ("开始年度", "first year"),
    "last_year": ("完成年度", "last year"),
    "house_types": ("户型与户数", "house types"),
    "house_floor_area_m2": ("建筑面积合计(平方米)", "total floor area (m2)"),
    "build_mode": ("建设方式", "build mode"),
    "build_mode_basis": ("建设方式依据", "why this build mode"),
    "clinic_dist_m": ("距最近卫生院(室)(米)", "distance to the nearest clinic (m)"),
    "clinic_needed": ("需配建卫生室", "clinic needed"),
    "phase": ("期次", "phase"),
    "phase_zh": ("期别", "phase name"),
}

#: Sheet titles of the plan tables.
TABLE_TITLES: dict[str, tuple[str, str]] = {
    "township_table": ("搬迁任务表", "relocation targets by township"),
    "budget_county": ("全县补助资金", "county budget by rule"),
    "budget_township": ("乡镇补助资金", "budget by township"),
    "budget_village": ("村补助资金", "budget by village"),
    "budget_site": ("安置点补助资金", "budget by site"),
    "budget_reconciliation": ("资金核对", "budget reconciliation"),
    "policy_options": ("政策选项", "policy options"),
    "homesteads": ("旧宅基地清理", "old homesteads"),
    "poverty_line_check": ("贫困识别核查", "poverty line check"),
    "housing_check": ("建房面积核查", "housing floor-area check"),
    "plan_sites": ("安置点配套规划", "site infrastructure plans"),
    "site_construction": ("安置点建设规划表", "site construction plan"),
    "site_phases": ("安置点分期建设", "site phases"),
    "plan_villages": ("村基础设施规划", "village infrastructure plans"),
    "disbursement": ("资金拨付计划", "disbursement schedule"),
    "acceptance_form": ("检查验收评分表", "acceptance form"),
    "roster_households": ("搬迁对象名册", "household roster"),
    "roster_checks": ("名册检查", "roster checks"),
    "roster_workflow": ("工作程序进度", "workflow per household"),
    "roster_notice": ("公示名单", "public notice list"),
    "roster_notice_villages": ("公示村", "public notice per village"),
    "roster_payment": ("直补到户清册", "payment roster"),
    "roster_payment_lines": ("直补到户明细", "payment roster lines"),
    "roster_payment_check": ("直补资金核对", "payment roster against the budget"),
}


#: Column -> code -> Chinese wording, for the codes that tables keep in English (CSV stays as it is;
#: the workbook, which people read, shows the Chinese).
VALUE_LABELS: dict[str, dict[str, str]] = {
    "tier": {
        "county_seat": "县城安置",
        "market_town": "集镇安置",
        "central_community": "中心社区安置",
        "central_village": "中心村安置",
    },
    "payer": {**PAYER_ZH, "total": "合计"},
    "purpose": {**PURPOSE_ZH, "total": "合计"},
    "basis": {"per_person": "按人", "per_household": "按户", "share_of": "按比例"},
    "quantity_unit": {"person": "人", "household": "户", "yuan": "元"},
    "paid_to": {
        "household": "直补到户",
        "project": "项目建设",
        "township_village": "乡镇、村",
        "administration": "管理部门",
    },
    "facility_kind": {
        "county_seat": "县城",
        "town": "集镇",
        "school": "学校",
        "kindergarten": "幼儿园",
        "clinic": "卫生院",
        "hospital": "医院",
        "industrial_park": "产业园区",
        "market": "集贸市场",
    },
    "tranche": {
        "before_start": "开工前预拨",
        "halfway": "过半检查后拨付",
        "acceptance": "竣工验收合格后拨付",
        "deposit_release": "质量保证金",
    },
    "road_action": {"none": "无需新建", "new": "新建", "upgrade": "硬化改造"},
    "road_method": {
        "none": "—",
        "least_cost": "沿地形最小成本路径",
        "straight_line": "直线估算",
        "existing_road": "利用现有道路",
    },
    "road_surface": {"paved": "硬化路面", "gravel": "碎石路面", "earth": "土路"},
    "water_kind": {
        "river": "河流",
        "stream": "溪流",
        "reservoir": "水库",
        "lake": "湖泊",
        "well": "水井",
        "spring": "泉水",
        "waterworks": "水厂",
    },
    "power_kind": {"line": "输电线路", "substation": "变电站"},
    "direction": {"benefit": "越大越好", "cost": "越小越好"},
    "op": {"le": "不大于", "ge": "不小于", "lt": "小于", "gt": "大于"},
    "unit": {"deg": "度", "°": "度", "m": "米", "min": "分钟", "m2": "平方米", "share": "比例", "persons": "人"},
    "row_kind": {"detail": "明细", "subtotal": "小计", "total": "合计"},
    "status": {"used": "采用"},
    "size_source": {"estimated": "按人数平均估算", "roster": "花名册"},
    "build_mode": {"centralised": "集中统建", "joint": "联户建设", "self_built": "群众自建"},
    "normalise": {"minmax": "极差标准化"},
    "method": {"weighted_sum": "加权求和", "ahp": "层次分析法", "topsis": "TOPSIS法"},
}

#: Square metres in one 亩 (mu): 1 hectare is 15 mu.
M2_PER_MU = 10_000 / 15


_UNIT_WORDS = {"m": ("米", "m"), "min": ("分钟", "min"), "°": ("度", "deg"), "m2": ("平方米", "m2")}
_TIME_COLUMN = re.compile(r"(?:(before|after|change)_)?time_min_([a-z_]+?)(?:_(before|after))?")
_CHANGE_COLUMN = re.compile(r"change_min_([a-z_]+)")


def _time_label(column: str) -> tuple[str, str] | None:
    kinds = VALUE_LABELS["facility_kind"]
    m = _TIME_COLUMN.fullmatch(column)
    when = None
    if m and m.group(2) in kinds:
        kind, when = m.group(2), m.group(1) or m.group(3)
    else:
        c = _CHANGE_COLUMN.fullmatch(column)
        if not (c and c.group(1) in kinds):
            return None
        kind, when = c.group(1), "change"
    zh_kind, en_kind = kinds[kind], kind.replace("_", " ")
    if when == "change":
        return f"到{zh_kind}时间变化(分钟)", f"change in time to {en_kind} (min)"
    pre_zh = {"before": "搬迁前", "after": "搬迁后"}.get(when or "", "")
    pre_en = {"before": " before", "after": " after"}.get(when or "", "")
    return f"{pre_zh}到{zh_kind}时间(分钟)", f"time to {en_kind}{pre_en} (min)"


def label(column: str) -> tuple[str, str]:
    """Chinese header and English label of a column (the name itself when unknown)."""
    if column in COLUMN_LABELS:
        return COLUMN_LABELS[column]
    if column in CRITERIA:
        _, unit, zh, en, _ = CRITERIA[column]
        uz, ue = _UNIT_WORDS.get(unit, (unit, unit))
        return f"{zh}({uz})", f"{en} ({ue})"
    timed = _time_label(column)
    if timed is not None:
        return timed
    pp = payer_purpose_label(column)
    return pp if pp is not None else (column, column)


def _for_people(df: pd.DataFrame) -> pd.DataFrame:
    """Codes in Chinese, and 万元 beside every yuan column and 亩 beside every land-area column."""
    out = df.copy()
    for col, words in VALUE_LABELS.items():
        if col in out.columns:
            s = out[col]
            out[col] = s.map(lambda v, w=words: w.get(v, v) if isinstance(v, str) else v)
    cols: list[str] = []
    extra: dict[str, pd.Series] = {}
    for col in out.columns:
        cols.append(col)
        c = str(col)
        numeric = pd.api.types.is_numeric_dtype(out[col]) and not pd.api.types.is_bool_dtype(out[col])
        if numeric and c.endswith("_yuan"):
            extra[c[: -len("_yuan")] + "_wan_yuan"] = (out[col] / 1e4).round(4)
            cols.append(c[: -len("_yuan")] + "_wan_yuan")
        elif numeric and c.endswith("area_m2") and "floor" not in c:
            extra[c[: -len("_m2")] + "_mu"] = (out[col] / M2_PER_MU).round(2)
            cols.append(c[: -len("_m2")] + "_mu")
    for k, v in extra.items():
        out[k] = v
    return out[cols]


def _derived_label(column: str) -> tuple[str, str] | None:
    if column.endswith("_wan_yuan"):
        zh, en = label(column[: -len("_wan_yuan")] + "_yuan")
        return zh.replace("(元)", "") + "(万元)", en.replace(" (yuan)", "") + " (10,000 yuan)"
    if column.endswith("_mu"):
        zh, en = label(column[: -len("_mu")] + "_m2")
        return zh.replace("(平方米)", "").replace("(m2)", "") + "(亩)", en.replace(" (m2)", "") + " (mu)"
    return None


#: Columns whose meaning depends on the table: (table name prefix, column) -> (Chinese, English).
TABLE_COLUMN_LABELS: dict[tuple[str, str], tuple[str, str]] = {
    ("funding_", "county_yuan"): ("县级资金(元)", "county funds (yuan)"),
    # the household roster (搬迁对象名册, geofupin.roster)
    **{
        ("roster_", c): words
        for c, words in {
            "row": ("名册行号", "roster row"),
            "household_id": ("户编号", "household id"),
            "head_name": ("户主姓名", "head of household"),
            "id_number": ("身份证号码", "ID number"),
            "phone": ("联系电话", "phone"),
            "status": ("户类型编码", "status"),
            "status_zh": ("户类型", "status (Chinese)"),
            "poverty_cause": ("致贫原因", "cause of poverty"),
            "village": ("所在村(名册)", "village as written"),
            "village_name": ("村", "village"),
            "current_floor_area_m2": ("现住房面积(平方米)", "current house (m2)"),
            "planned_floor_area_m2": ("新建住房面积(平方米)", "planned house (m2)"),
            "wish": ("安置意愿编码", "wish"),
            "wish_zh": ("安置方式", "wish (Chinese)"),
            "destination": ("安置去向", "destination"),
            "relocate": ("是否搬迁", "relocates"),
            "bank_account": ("银行账号", "bank account"),
            "apply_date": ("户主申请日期", "applied"),
            "village_review_date": ("村评议公示日期", "village review and posting"),
            "township_review_date": ("乡镇审查日期", "township check"),
            "county_approval_date": ("县扶贫办审批日期", "county approval"),
            "city_filing_date": ("市扶贫局备案日期", "city filing"),
            "stage": ("工作程序编码", "workflow stage"),
            "stage_zh": ("工作程序进度", "workflow stage (Chinese)"),
            "notice_start": ("公示开始日期", "notice posted"),
            "notice_end": ("公示截止日期", "notice ends"),
            "check": ("检查项", "check"),
            "severity": ("级别", "severity"),
            "message_zh": ("问题", "problem (Chinese)"),
            "message_en": ("英文说明", "problem"),
            "fix": ("更正方法", "fix"),
            "no": ("序号", "no."),
            "id_masked": ("身份证号码(公示)", "ID number (masked)"),
            "phone_masked": ("联系电话(公示)", "phone (masked)"),
            "posting_date": ("公示日期", "posting date"),
            "period_days": ("公示天数", "notice days"),
            "period_end": ("公示截止日期", "notice ends"),
            "hardship": ("特困户补助(户)", "hardship subsidy (households)"),
            "province_yuan": ("省级补助(元)", "province subsidy (yuan)"),
            "city_yuan": ("市级补助(元)", "city subsidy (yuan)"),
            "county_yuan": ("县级补助(元)", "county subsidy (yuan)"),
            "total_yuan": ("补助合计(元)", "subsidy total (yuan)"),
            "signature": ("领款人签字(按手印)", "signature"),
            "signed_date": ("领款日期", "date received"),
            "budget_households": ("预算户数", "households in the budget"),
            "roster_households": ("清册户数", "households in the roster"),
            "budget_yuan": ("预算直补资金(元)", "budget paid to households (yuan)"),
            "roster_yuan": ("清册合计(元)", "payment roster total (yuan)"),
        }.items()
    },
}


def _table_label(table: str | None, column: str) -> tuple[str, str] | None:
    if table is None:
        return None
    for (prefix, col), words in TABLE_COLUMN_LABELS.items():
        if col == column and table.startswith(prefix):
            return words
    if table.startswith("roster_"):  # the payment roster's instalments are named in the scenario
        if column.endswith("_wan_yuan") and (base := _table_label(table, column[: -len("_wan_yuan")] + "_yuan")):
            return base[0].replace("(元)", "") + "(万元)", base[1].replace(" (yuan)", "") + " (10,000 yuan)"
        if m := re.fullmatch(r"tranche_(\w+)_yuan", column):
            return f"分批拨付 {m.group(1)}(元)", f"instalment {m.group(1)} (yuan)"
    return None


def localize(df: pd.DataFrame, table: str | None = None) -> tuple[pd.DataFrame, dict[str, str]]:
    """A copy of ``df`` for people, with Chinese headers, and the map Chinese header -> English label.

    ``table`` (the table's name) picks the wording of columns that mean different things in
    different tables (:data:`TABLE_COLUMN_LABELS`). Value codes are worded in Chinese
    (:data:`VALUE_LABELS`); every ``*_yuan`` column gets a
    ``万元`` column beside it and every land ``*area_m2`` column an ``亩`` column (floor areas stay in
    平方米, the unit of housing standards).
    """
    out, en, _ = _localize(df, table)
    return out, en


def _localize(df: pd.DataFrame, table: str | None) -> tuple[pd.DataFrame, dict[str, str], dict[str, str]]:
    """:func:`localize`, and the map Chinese header -> the column's own (canonical) name."""
    df = _for_people(df)
    zh, en = (
        zip(
            *(
                (_table_label(table, str(c)) or COLUMN_LABELS.get(str(c)) or _derived_label(str(c)) or label(str(c)))
                for c in df.columns
            ),
            strict=True,
        )
        if len(df.columns)
        else ((), ())
    )
    seen: dict[str, int] = {}
    unique = []
    for z in zh:
        n = seen.get(z, 0)
        seen[z] = n + 1
        unique.append(z if n == 0 else f"{z}_{n + 1}")
    out = df.copy()
    out.columns = unique
    return out, dict(zip(unique, en, strict=True)), dict(zip(unique, (str(c) for c in df.columns), strict=True))


#: Sheet titles of a run's other tables (``tables.xlsx``), beside :data:`TABLE_TITLES`.
RUN_TABLE_TITLES: dict[str, tuple[str, str]] = {
    "assignment": ("搬迁安置分配表", "assignment of villages to sites"),
    "unserved": ("未安置村庄", "villages not placed"),
    "site_ranking": ("安置点排序", "site ranking"),
    "site_rules": ("选址规则", "site rule checks"),
    "site_rule_summary": ("选址规则汇总", "site rule summary"),
    "site_weights": ("选址指标权重", "site criteria weights"),
    "site_explanation": ("安置点得分说明", "site score explanation"),
    "site_sensitivity": ("权重敏感性分析", "weight sensitivity"),
    "site_load": ("安置点容量利用", "site load vs capacity"),
    "coverage": ("公共服务覆盖率", "facility coverage"),
    "before_after": ("搬迁前后可达性对比", "access before and after"),
    "relocation_access": ("搬迁后可达性", "access after relocation"),
    "od_village_site": ("村庄至安置点行程", "village to site travel"),
    "funding_county": ("全县资金筹措", "county funding"),
    "funding_township": ("乡镇资金筹措", "funding by township"),
    "funding_village": ("村资金筹措", "funding by village"),
    "funding_site": ("安置点资金筹措", "funding by site"),
    "funding_household": ("农户资金筹措", "funding by household"),
    "funding_works": ("工程资金筹措", "funding by works"),
    "phasing_plan": ("分年度实施计划", "phasing plan"),
    "phasing_years": ("年度任务汇总", "tasks by year"),
    "phasing_progress": ("年度实施进度", "progress by year"),
    "phasing_disbursement": ("分年度资金拨付", "disbursement by year"),
    "phasing_shortfall": ("年度资金缺口", "funding shortfall by year"),
    "reclamation_county": ("全县旧宅基地复垦", "county homestead reclamation"),
    "reclamation_village": ("村旧宅基地复垦", "homestead reclamation by village"),
    "reclamation_site": ("安置点复垦挂钩", "reclamation by site"),
    "placement": ("搬迁户安置方式与去向", "placement of households by mode"),
    "placement_modes": ("安置方式汇总", "placement modes"),
    "placement_unplaced": ("未能按意愿安置的户", "households not placed as they asked"),
    "budget_mode": ("分安置方式补助资金", "subsidies by placement mode"),
}


def sheet_title(table: str) -> str:
    """The Chinese sheet title of a table (its own name when none is set)."""
    return TABLE_TITLES.get(table, RUN_TABLE_TITLES.get(table, (table, table)))[0]


#: Words in a column name that make it a ratio, never a count (``persons_share``).
_NOT_COUNTS = frozenset({"share", "pct", "ratio", "rate", "per", "norm"})


def number_format(column: str) -> str | None:
    """The Excel number format of a canonical column: ``#,##0`` for 元, persons, households and m²,
    ``#,##0.00`` for 万元 and 亩 (thousand separators, as offices write them); None: Excel's own."""
    words = set(column.split("_"))
    if column.endswith(("_wan_yuan", "_mu")):
        return "#,##0.00"
    if column.endswith("_yuan") or column == "yuan":
        return "#,##0"
    if words & _NOT_COUNTS:
        return None
    if words & {"persons", "households", "hh"} or column.endswith("_m2"):
        return "#,##0"
    return None


@dataclasses.dataclass(frozen=True)
class Sheet:
    """One table as a workbook sheet: Chinese title and headers, English headers, number formats."""

    title: str
    frame: pd.DataFrame
    headers_en: dict[str, str]
    number_formats: dict[str, str]


def workbook_sheet(df: pd.DataFrame, table: str) -> Sheet:
    """``df`` laid out as the sheet ``table`` of a workbook for officials (:func:`localize`, :func:`sheet_title`)."""
    out, en, source = _localize(df, table)
    formats = {zh: f for zh, col in source.items() if (f := number_format(col)) is not None}
    return Sheet(sheet_title(table), out, en, formats)


def _whole(x: float) -> int:
    return round(float(x))


_TARGET_WORDS = {
    "townships": ("个乡镇", "townships"),
    "villages": ("个村", "villages"),
    "groups": ("个村民小组", "village groups"),
    "households": ("户", "households"),
    "persons": ("人", "persons"),
}


def target_remarks(counts: Mapping[str, int], targets: PlanTargets) -> tuple[str, str]:
    """Where the registry's counts differ from the plan's summary: "规划汇总为61个村民小组,名单合计59个(差2个)"."""
    zh, en = [], []
    for key, (unit_zh, unit_en) in _TARGET_WORDS.items():
        want = getattr(targets, key)
        if want is None or key not in counts:
            continue
        have = int(counts[key])
        if have != want:
            measure = "个" if unit_zh.startswith("个") else unit_zh
            zh.append(f"规划汇总为{want}{unit_zh},名单合计{have}{measure}(相差{abs(want - have)}{measure})")
            en.append(f"the plan's summary says {want} {unit_en}, the lists add up to {have}")
    if not zh:
        return ("与规划汇总一致", "agrees with the plan's summary") if targets != PlanTargets() else ("", "")
    src = f"({targets.source})" if targets.source else ""
    return "；".join(zh) + src, "; ".join(en) + (f" ({targets.source})" if targets.source else "")


def township_table(units: pd.DataFrame, targets: PlanTargets | None = None) -> pd.DataFrame:
    """The seed's relocation table: 乡镇, 村, 村民小组, 户, 人.

    One ``detail`` row per village (its groups joined with "、"), a ``subtotal`` row per
    township (村 = "N个村", 村民小组 = "M个村民小组") and a ``total`` row for the county.

    Parameters
    ----------
    units
        Plan units (:func:`geofupin.policy.plan_units`): ``township``, ``name``, ``group``,
        ``households``, ``persons``.
    """
    u = units.copy()
    u["group"] = u.get("group", "").fillna("").astype(str) if "group" in u else ""
    rows = []
    total_v = total_g = 0
    for town, tdf in u.groupby("township", sort=False):
        n_v = n_g = 0
        for village, vdf in tdf.groupby("name", sort=False):
            parts = [g for s in vdf["group"] if s for g in s.split("、")]
            groups = [g for g in dict.fromkeys(parts) if g]
            rows.append(
                {
                    "township": town,
                    "village": village,
                    "group": "、".join(groups),
                    "households": _whole(vdf["households"].sum()),
                    "persons": _whole(vdf["persons"].sum()),
                    "row_kind": "detail",
                }
            )
            n_v += 1
            n_g += len(groups)
        rows.append(
            {
                "township": f"{town}小计",
                "village": f"{n_v}个村",
                "group": f"{n_g}个村民小组",
                "households": _whole(tdf["households"].sum()),
                "persons": _whole(tdf["persons"].sum()),
                "row_kind": "subtotal",
            }
        )
        total_v += n_v
        total_g += n_g
    n_t = u["township"].nunique()
    total = {
        "township": f"合计({n_t}个乡镇)",
        "village": f"{total_v}个村",
        "group": f"{total_g}个村民小组",
        "households": _whole(u["households"].sum()),
        "persons": _whole(u["persons"].sum()),
        "row_kind": "total",
    }
    cols = ["township", "village", "group", "households", "persons", "row_kind"]
    if targets is not None:
        counts = {
            "townships": n_t,
            "villages": total_v,
            "groups": total_g,
            "households": total["households"],
            "persons": total["persons"],
        }
        zh, en = target_remarks(counts, targets)
        for r in rows:
            r["remarks"] = ""
        total["remarks"] = zh + (" / " + en if en else "")
        cols.append("remarks")
    rows.append(total)
    return pd.DataFrame(rows, columns=cols)


# --------------------------------------------------------------------------- plan wording
#: Surfaces of new roads in words.
SURFACE_ZH = {"paved": "水泥路", "gravel": "碎石路"}
SURFACE_EN = {"paved": "cement road", "gravel": "gravel road"}


def _num(v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if math.isnan(f) else f


def _fmt(x: float) -> str:
    """4.5 -> '4.5', 5.0 -> '5', 1000.0 -> '1000'."""
    return f"{round(x, 1):g}" if abs(x) < 1e6 else f"{x:.0f}"


def _road_text(km: float) -> tuple[str, str]:
    if km < 1:
        m = round(km * 1000 / 10) * 10
        return f"{m:.0f}米", f"{m:.0f} m"
    return f"{_fmt(km)}公里", f"{_fmt(km)} km"


#: Report-5 plan items in their order: registry column, numbered group (1. roads, 2. water, 3. other),
#: Chinese and English wording, and whether the amount is a length in km (written as 米 below 1 km).
_PLAN_ITEMS: tuple[tuple[str, str, str, str, bool], ...] = (
    ("gravel_road_km", "roads", "新建碎石路{0}", "new gravel road {0}", True),
    ("cement_road_km", "roads", "新建水泥路{0}", "new cement road {0}", True),
    ("upgrade_road_km", "roads", "硬化道路{0}", "upgrade road to cement {0}", True),
    ("footpath_km", "roads", "便民路{0}", "footpaths {0}", True),
    ("pond_new", "water", "新建山坪塘{0:.0f}口", "build {0:.0f} pond{s}", False),
    ("pond_repair", "water", "维修山坪塘{0:.0f}口", "repair {0:.0f} pond{s}", False),
    ("canal_repair_m", "water", "维修水渠{0:.0f}米", "repair {0:.0f} m of canals", False),
    ("clinic", "other", "修建村卫生室{0:.0f}个", "build {0:.0f} village clinic{s}", False),
)


def plan_line(row: pd.Series) -> tuple[str, str]:
    """A village's plan in report-5 wording, Chinese and English.

    ``大扁山村:贫困户50户153人,1.新建碎石路4.5公里,便民路5公里。2.维修山坪塘4口。`` A village some
    of whose households relocate quotes those who stay:
    ``白台村:留守5户18人,其中贫困户0户,1.新建碎石路8.2公里。``
    """
    name = str(row.get("name", ""))
    name_en = str(row.get("name_en", "") or name)
    ph, pp = int(_num(row.get("poor_households"))), int(_num(row.get("poor_persons")))
    moving = _num(row.get("relocating_households")) > 0
    parts: dict[str, tuple[list[str], list[str]]] = {"roads": ([], []), "water": ([], []), "other": ([], [])}
    for key, group, zh_item, en_item, is_km in _PLAN_ITEMS:
        x = _num(row.get(key))
        if x > 0:
            tz, te = _road_text(x) if is_km else (x, x)
            parts[group][0].append(zh_item.format(tz))
            parts[group][1].append(en_item.format(te, s="s" if x > 1 else ""))
    if moving:
        sh, sp = int(_num(row.get("stay_households"))), int(_num(row.get("stay_persons")))
        zh = f"{name}:留守{sh}户{sp}人,其中贫困户{ph}户"
        en = f"{name_en}: {sh} households, {sp} persons stay, {ph} of them poor"
    else:
        zh = f"{name}:贫困户{ph}户{pp}人"
        en = f"{name_en}: {ph} poor households, {pp} persons"
    groups = [(g_zh, g_en) for g_zh, g_en in parts.values() if g_zh]
    for k, (g_zh, g_en) in enumerate(groups, start=1):
        zh += ("," if k == 1 else "") + f"{k}.{','.join(g_zh)}。"
        en += ("; " if k == 1 else " ") + f"{k}. {', '.join(g_en)}."
    if not groups:
        zh += "。"
        en += "."
    return zh, en


def plan_lines(village_plans: pd.DataFrame) -> pd.DataFrame:
    """A copy of the village plans (:func:`geofupin.plans.village_gaps`) with ``plan_zh``/``plan_en``.

    A village planned for several of its groups (村民小组) lists them after its name:
    ``岳中庄村(白台、麻山组)``.
    """
    tab = village_plans.copy()
    label = tab[["name", "name_en"]].copy()
    if "groups" in tab:
        grp = tab["groups"].fillna("").astype(str).to_numpy()
        has = grp != ""
        label.loc[has, "name"] = [f"{n}({g}组)" for n, g in zip(tab["name"][has], grp[has], strict=True)]
        en = [e or n for e, n in zip(tab["name_en"][has], tab["name"][has], strict=True)]
        label.loc[has, "name_en"] = [
            f"{n} ({g.replace('、', ', ')} group{'s' if '、' in g else ''})" for n, g in zip(en, grp[has], strict=True)
        ]
    text = [plan_line(r) for _, r in tab.assign(name=label["name"], name_en=label["name_en"]).iterrows()]
    tab["plan_zh"] = [t[0] for t in text]
    tab["plan_en"] = [t[1] for t in text]
    return tab


def plan_villages(
    villages: gpd.GeoDataFrame,
    *,
    roads: gpd.GeoDataFrame | None,
    facilities: gpd.GeoDataFrame | None,
    cfg: PlansConfig,
    dem: Path | None = None,
) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Report-5 gaps of every village where someone stays, costed, with its plan line.

    :func:`geofupin.plans.village_gaps` and :func:`plan_lines`.

    Returns
    -------
    (table ``plan_villages``, line layer of planned village roads).
    """
    tab, roads_planned = plans.village_gaps(villages, roads=roads, facilities=facilities, cfg=cfg, dem=dem)
    return plan_lines(tab), roads_planned


def plan_step(ctx: RunContext) -> StepResult:
    """The ``plan`` step: budgets, infrastructure plans, disbursement, acceptance form, township table.

    Uses the run's policy (:func:`geofupin.context.run_policy`: read once a run), computes with
    :func:`geofupin.plans.plan` and adds the wording: the township table (first) and each
    village's plan line.
    """
    res = plans.plan(ctx, run_policy(ctx))  # the run's policy, read once (RunContext.policy)
    units = plan_units(ctx.layers.villages, ctx.table("assignment"))
    targets = getattr(getattr(ctx.scenario, "plans", None), "targets", None)
    table = township_table(units, targets)
    tables = {"township_table": table, **res.tables}
    warnings = list(res.warnings)
    if "remarks" in table and (remark := str(table["remarks"].iloc[-1])) and "规划汇总为" in remark:
        warnings.append(f"名单与规划汇总不符 / the registry differs from the plan's summary: {remark}")
    res = dataclasses.replace(res, warnings=tuple(warnings))
    tables["plan_villages"] = plan_lines(tables["plan_villages"])
    return dataclasses.replace(res, tables=tables)


def write_tables(
    tables: Mapping[str, pd.DataFrame],
    out_dir: str | os.PathLike[str],
    *,
    xlsx_name: str | None = "plan_tables.xlsx",
    csv: bool = True,
) -> dict[str, Path]:
    """Write tables with Chinese headers and an English second header row.

    Parameters
    ----------
    tables
        Tables by name (canonical English columns).
    out_dir
        Output folder.
    xlsx_name
        Workbook file name (one sheet per table, named by its Chinese title); None: no XLSX.
    csv
        Also write ``<name>.csv`` per table (UTF-8 with BOM; two header rows).

    Returns
    -------
    Written files by name.
    """
    out = Path(out_dir)
    written: dict[str, Path] = {}
    sheets: dict[str, pd.DataFrame] = {}
    headers_en: dict[str, dict[str, str]] = {}
    formats: dict[str, dict[str, str]] = {}
    for name, df in tables.items():
        local, en = localize(df)
        if csv:
            two = local.copy()
            two.columns = pd.MultiIndex.from_arrays([list(local.columns), [en[c] for c in local.columns]])
            written[f"{name}.csv"] = gio.write_csv(two, out / f"{name}.csv")
        sheet = sheet_title(name)
        sheets[sheet] = local
        headers_en[sheet] = en
        formats[sheet] = workbook_sheet(df, name).number_formats
    if xlsx_name:
        written[xlsx_name] = gio.write_xlsx(sheets, out / xlsx_name, headers_en=headers_en, number_formats=formats)
    return written


__all__: Sequence[str] = (
    "COLUMN_LABELS",
    "RUN_TABLE_TITLES",
    "TABLE_TITLES",
    "Sheet",
    "label",
    "localize",
    "number_format",
    "plan_line",
    "plan_lines",
    "plan_step",
    "plan_villages",
    "sheet_title",
    "township_table",
    "workbook_sheet",
    "write_tables",
)
