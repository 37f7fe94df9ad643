"""Why a unit could not be placed: one bilingual reason per unserved unit.

Reasons, in the order they are checked:

1. the unit has no arc left: the first rule of :data:`~geofupin.allocate.matrix.RULES` (or
   ``coverage_min``) that removed its last site is named (no route; no site within the
   cut-off; no site within the farming radius; tiers not allowed; sites reserved);
2. it moves whole and no site within reach is large enough for it;
3. the sites within reach are full: capacity short by N persons (and the county-wide
   shortage when total capacity is below total demand);
4. free capacity exists within reach but a rule keeps it closed (``p``: the free room is
   in sites left closed; ``min_occupancy_persons``) or it is split across sites each too
   small for the whole unit (``single_source``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .matrix import CostMatrix

_NO_ARC = {
    "reachable": ("路网上无可达的安置点", "no site is reachable on the road network (no route in the OD table)"),
    "cutoff_min": ("{v}分钟截止时间内无安置点", "no site within the cut-off of {v} min (cutoff_min)"),
    "max_time_from_origin_min": (
        "耕作半径{v}分钟内无安置点",
        "no site within the farming radius of {v} min from the old village (max_time_from_origin_min)",
    ),
    "allowed_tiers": (
        "可达安置点的等级均不在允许范围({v})内",
        "every reachable site has a tier outside allowed_tiers ({v})",
    ),
    "reserved_sites": (
        "可达安置点均为其他乡镇预留",
        "every reachable site is reserved for other townships (reserved_sites)",
    ),
    "k_nearest": ("k近邻裁剪后无安置点", "no site left after k_nearest pruning ({v})"),
    "coverage_min": (
        "{v}分钟服务标准内无已开放安置点",
        "no site within the coverage standard of {v} min (coverage_min)",
    ),
}

COLUMNS = ["unit_id", "persons", "households", "rule", "reason_zh", "reason_en"]


def _ids(ids: np.ndarray, limit: int = 5) -> str:
    shown = ", ".join(str(s) for s in ids[:limit])
    return shown + (f" (+{len(ids) - limit})" if len(ids) > limit else "")


def explain_unserved(
    cm: CostMatrix,
    served: np.ndarray,
    load: np.ndarray,
    *,
    served_households: np.ndarray | None = None,
    single_source: bool,
    open_mask: np.ndarray,
    rule_values: Mapping[str, object],
) -> pd.DataFrame:
    """Reasons for every unit with unplaced persons.

    Parameters
    ----------
    cm
        The cost matrix that was solved.
    served
        Persons placed per unit.
    load
        Persons placed per site.
    served_households
        Households placed per unit (default: in proportion to persons).
    single_source
        Units move whole.
    open_mask
        Sites that are open.
    rule_values
        Settings quoted in the reasons (``cutoff_min``, ``p``, ...).

    Returns
    -------
    pandas.DataFrame
        ``unit_id, persons, households, rule, reason_zh, reason_en`` (persons not placed).
    """
    left = cm.demand - served
    todo = np.flatnonzero(left > 0)
    if not len(todo):
        empty = pd.DataFrame({c: np.array([], dtype=object) for c in COLUMNS})
        return empty.astype({"persons": np.int64, "households": np.int64})
    arcs = cm.arcs_per_unit()
    cap = cm.capacity
    free = np.where(np.isfinite(cap), cap - load, np.inf)
    max_cap_reach = np.zeros(cm.n_units)
    np.maximum.at(max_cap_reach, cm.rows, np.where(np.isfinite(cap), cap, np.inf)[cm.cols])
    free_all = np.zeros(cm.n_units)
    np.add.at(free_all, cm.rows, free[cm.cols])
    free_open = np.zeros(cm.n_units)
    np.add.at(free_open, cm.rows, np.where(open_mask[cm.cols], free[cm.cols], 0.0))
    finite = np.isfinite(cap)
    county_short = int(cm.demand.sum() - cap[finite].sum()) if finite.all() else 0
    starts = cm.row_starts()
    out = []
    for i in todo:
        persons = int(left[i])
        if served_households is None:
            hh = int(np.rint(cm.households[i] * persons / cm.demand[i]))
        else:
            hh = int(cm.households[i] - served_households[i])
        if arcs[i] == 0:
            rule = "reachable"
            for name, counts in cm.rule_counts:
                if counts[i] == 0:
                    rule = name
                    break
            zh, en = _NO_ARC.get(rule, ("无可用安置点", f"no site left after rule {rule}"))
            v = rule_values.get(rule, "")
            if isinstance(v, (list, tuple)):
                v = ", ".join(map(str, v))
            out.append((cm.unit_ids[i], persons, hh, rule, zh.format(v=v), en.format(v=v)))
            continue
        reach = cm.site_ids[cm.cols[starts[i] : starts[i + 1]]]
        tail_zh = f"；全县安置容量缺口{county_short}人" if county_short > 0 else ""
        tail_en = f"; county-wide capacity is short by {county_short} persons" if county_short > 0 else ""
        if single_source and max_cap_reach[i] < cm.demand[i]:
            c = int(max_cap_reach[i])
            out.append((
                cm.unit_ids[i], persons, hh, "capacity",
                f"整体搬迁需{cm.demand[i]}人的容量，可达最大安置点仅容纳{c}人{tail_zh}",
                f"moves whole with {cm.demand[i]} persons, but the largest site within reach ({_ids(reach)}) "
                f"takes only {c} persons{tail_en}",
            ))  # fmt: skip
            continue
        short = persons - free_all[i]
        if short > 0:
            gap_p = int(np.ceil(short))
            out.append((
                cm.unit_ids[i], persons, hh, "capacity",
                f"可达安置点({_ids(reach)})已满，容量缺口{gap_p}人{tail_zh}",
                f"the sites within reach ({_ids(reach)}) are full: capacity short by {gap_p} persons{tail_en}",
            ))  # fmt: skip
            continue
        if "p" in rule_values and free_open[i] < persons:
            rule, zh, en = (
                "p",
                f"可达的空余容量位于未开放的安置点(仅开放{rule_values['p']}处)",
                f"free capacity within reach lies in sites left closed (only p = {rule_values['p']} sites open)",
            )
        elif rule_values.get("min_occupancy_persons"):
            v = rule_values["min_occupancy_persons"]
            rule, zh, en = (
                "min_occupancy_persons",
                f"可达的空余容量位于人数不足{v}人而未开放的安置点",
                f"free capacity within reach lies in sites that would stay below min_occupancy_persons = {v}",
            )
        else:
            rule, zh, en = (
                "single_source",
                f"可达安置点空余容量分散，无一处可整体容纳{cm.demand[i]}人",
                f"free capacity within reach is split over sites, none can take all {cm.demand[i]} persons at once",
            )
        out.append((cm.unit_ids[i], persons, hh, rule, zh + tail_zh, en + tail_en))
    df = pd.DataFrame(out, columns=COLUMNS)
    df["unit_id"] = df["unit_id"].astype(str)
    return df
