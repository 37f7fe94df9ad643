"""Villages: sized by persons, coloured by relocation status; public-notice (公示) village totals."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ..context import Layers, StepResult
from . import data as D
from .page import Page, find
from .sites import site_names

#: Household-level village attributes hidden in public-notice mode (公示).
PRIVATE_VILLAGE_COLUMNS = ("poor_households", "poor_persons", "income_per_capita", "poverty_cause", "group")

VILLAGE_FIELDS_PUBLIC: tuple[D.Field, ...] = (
    ("village_id", "村编号", "village id", ""),
    ("township", "乡镇", "township", ""),
    ("households", "户数", "households", "int"),
    ("persons", "人口", "persons", "int"),
    ("relocate_households", "搬迁户数", "relocating households", "int"),
    ("relocate_persons", "搬迁人数", "relocating persons", "int"),
    ("_status", "状态", "status", ""),
)
VILLAGE_FIELDS_PRIVATE: tuple[D.Field, ...] = (
    ("poor_households", "贫困户数", "poor households", "int"),
    ("poor_persons", "贫困人口", "poor persons", "int"),
    ("group", "村民小组", "village group", ""),
    ("income_per_capita", "人均纯收入（元）", "income per capita, yuan", "int"),
    ("poverty_cause", "致贫原因", "poverty cause", ""),
    ("elevation_m", "海拔（米）", "elevation_m", "int"),
)


VILLAGE_TOTALS = ("households", "persons", "relocate_households", "relocate_persons")


def public_villages(villages: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, dict[str, str]]:
    """Village totals for public notice (公示): group rows (村民小组) summed per village.

    Rows with the same township and village name are one village; its counts are summed,
    its point is the mean of its groups' points, its id is the id shared before ``-`` (or
    the first id). Household-level columns (:data:`PRIVATE_VILLAGE_COLUMNS`) are dropped.

    Returns
    -------
    The villages and a mapping from every input ``village_id`` to the published one.
    """
    v = villages.drop(columns=[c for c in PRIVATE_VILLAGE_COLUMNS if c in villages.columns])
    if not {"village_id", "name"} <= set(v.columns):
        return v.copy(), {}
    ids = v["village_id"].astype(str)
    town = v["township"].astype(str) if "township" in v.columns else pd.Series("", index=v.index)
    key = town + "\u0001" + v["name"].astype(str)
    if not key.duplicated().any():
        return v.copy(), dict(zip(ids, ids, strict=True))
    xy = pd.DataFrame({"key": key, "x": v.geometry.x, "y": v.geometry.y})
    cols = {c: "sum" for c in VILLAGE_TOTALS if c in v.columns}
    firsts = {c: "first" for c in v.columns if c not in cols and c not in ("geometry", "village_id")}
    agg = v.drop(columns="geometry").assign(_key=key).groupby("_key", sort=False).agg({**firsts, **cols})
    pid = ids.groupby(key, sort=False).agg(
        lambda s: (
            s.iloc[0].rsplit("-", 1)[0] if len(s) > 1 and s.str.rsplit("-", n=1).str[0].nunique() == 1 else s.iloc[0]
        )
    )
    pts = xy.groupby("key", sort=False)[["x", "y"]].mean()
    out = gpd.GeoDataFrame(
        agg.assign(village_id=pid.reindex(agg.index).to_numpy()).reset_index(drop=True),
        geometry=gpd.points_from_xy(pts.loc[agg.index, "x"], pts.loc[agg.index, "y"]),
        crs=v.crs,
    )
    mapping = dict(zip(ids, key.map(pid), strict=True))
    return out, mapping


def _villages(p: Page, layers: Layers, results: Mapping[str, StepResult]) -> None:
    v = layers.villages
    if v is None or not len(v):
        return
    vid_map: dict[str, str] = {}
    if p.config.public:
        v, vid_map = public_villages(v)
    else:
        v = v.copy()
    d = p.display(v)
    persons = pd.to_numeric(d.get("persons", pd.Series(0, index=d.index)), errors="coerce").fillna(0).clip(lower=0)
    reloc = pd.to_numeric(d.get("relocate_persons", pd.Series(0, index=d.index)), errors="coerce").fillna(0)
    status = np.where(reloc > 0, "relocate", "stay").astype(object)
    unserved = find(results, "unserved", "tables")
    if unserved is not None and len(unserved) and "village_id" in d.columns:
        unserved = unserved.assign(village_id=unserved["village_id"].astype(str).map(lambda x: vid_map.get(x, x)))
        status[(d["village_id"].astype(str).isin(unserved["village_id"].astype(str)) & (reloc > 0)).to_numpy()] = (
            "unserved"
        )
    pmax = float(persons.max()) or 1.0
    size = np.round(7 + 15 * np.sqrt(persons.to_numpy() / pmax)).astype(int)
    props: dict[str, list[Any]] = {"_status": [D.STATUS_STYLE[s][0] + " " + D.STATUS_STYLE[s][1] for s in status]}
    fields = list(VILLAGE_FIELDS_PUBLIC)
    if not p.config.public:
        fields += list(VILLAGE_FIELDS_PRIVATE)
    sections: list[tuple[str, str, str]] = []
    access = find(results, "village_access", "layers")
    if access is not None and "village_id" in access.columns and "village_id" in d.columns:
        acc = (
            pd.DataFrame(access.drop(columns="geometry", errors="ignore"))
            .drop_duplicates("village_id")
            .set_index("village_id")
        )
        cols = [c for c in acc.columns if c.startswith("time_min_")]
        for c in cols:
            props[c] = D.column_values(d["village_id"].astype(str).map(acc[c]).astype(float))
            fields.append((c, D.label_zh(c), c, ""))
    flows = find(results, "allocation_flows", "layers")
    if flows is not None and len(flows) and "village_id" in d.columns:
        names = site_names(layers, results)
        fl = pd.DataFrame(flows.drop(columns="geometry", errors="ignore"))
        fl["village_id"] = fl["village_id"].astype(str).map(lambda x: vid_map.get(x, x))
        g = fl.groupby(["village_id", "site_id"], sort=True)[["households", "persons"]].sum()
        dest: dict[str, list[str]] = {}
        for (vid, sid), row in g.iterrows():
            dest.setdefault(str(vid), []).append(
                f"{names.get(str(sid), str(sid))}：{int(row.households)} 户 {int(row.persons)} 人"
            )
        props["_dest"] = [dest.get(str(x), []) for x in d["village_id"]]
        sections.append(("_dest", "安置去向", "destination"))
    moves = village_moves(
        d, results, names=site_names(layers, results), vid_map=vid_map, status=status, public=p.config.public
    )
    if moves is not None:
        props["_verdict"], props["_why"] = moves
    spec = p.spec(
        d,
        kind="points",
        fields=fields,
        props=props,
        title="name",
        title_en="name_en",
        sections=sections,
        style={"cls": "gfp-v"},
        per={"size": size.tolist(), "fillColor": [D.STATUS_STYLE[s][2] for s in status]},
        marker="div",
        divclass="gfp-village",
        cluster=len(d) > p.config.cluster_threshold,
        search=True,
    )
    if moves is not None:  # the villager's answer first: from, to, when, how long to school and clinic
        spec["lead"], spec["fold"], spec["fold_if"] = ["_verdict", "_why", None], True, "_verdict"
    p.add(spec, "村庄 Villages", group="relocation")
    p.focus_on(d)
    p.section(
        "村庄（大小表示人口）",
        "Villages (size = persons)",
        [
            {"shape": "circle", "color": D.STATUS_STYLE[s][2], "zh": D.STATUS_STYLE[s][0], "en": D.STATUS_STYLE[s][1]}
            for s in ("stay", "relocate", "unserved")
            if (status == s).any()
        ],
        first=True,
    )
    if p.config.public:
        p.notes.append("公示版：仅显示村级合计 / Public notice: village totals only")


#: The trips a villager asks about first, in this order: (facility kind, Chinese name).
MOVE_KINDS = (("school", "学校"), ("clinic", "卫生室"), ("town", "乡镇驻地"))


def _minutes(values: pd.Series) -> str:
    """``'41 分钟'``, ``'35–41 分钟'`` for several groups, ``'无道路可达'`` when no time is known."""
    t = pd.to_numeric(values, errors="coerce").dropna()
    if not len(t):
        return "无道路可达"
    lo, hi = f"{float(t.min()):.0f}", f"{float(t.max()):.0f}"
    return f"{lo} 分钟" if lo == hi else f"{lo}–{hi} 分钟"


def village_moves(
    d: pd.DataFrame,
    results: Mapping[str, StepResult],
    *,
    names: Mapping[str, str],
    vid_map: Mapping[str, str],
    status: np.ndarray,
    public: bool,
) -> tuple[list[str | None], list[list[str] | None]] | None:
    """Per village, the popup's first line and the lines under it, in plain Chinese.

    A relocating village reads ``从 王家湾村 搬到 高桥中心社区``, then one line per site it moves
    to (households and persons), the year(s) of the move when the run has a phasing plan
    (``phasing_plan``), and the time to the school, the clinic and the township seat now and
    after the move (``relocation_access``: the old village, the new site; a range when its
    groups differ). The public version names no 村民小组. ``None`` when the run placed nobody.
    """
    if "village_id" not in d.columns:
        return None
    ra = find(results, "relocation_access", "tables")
    flows = find(results, "allocation_flows", "layers")
    moved = ra if ra is not None and len(ra) else flows
    if moved is None or not len(moved) or not {"village_id", "site_id"} <= set(moved.columns):
        return None
    m = pd.DataFrame(moved.drop(columns="geometry", errors="ignore")).copy()
    m["_vid"] = m["village_id"].astype(str).map(lambda x: vid_map.get(x, x))
    m["site_id"] = m["site_id"].astype(str)
    years: dict[str, list[int]] = {}
    phasing = find(results, "phasing_plan", "tables")
    if phasing is not None and len(phasing) and {"village_id", "year"} <= set(phasing.columns):
        ph = phasing.assign(_vid=phasing["village_id"].astype(str).map(lambda x: vid_map.get(x, x)))
        for vid, ys in pd.to_numeric(ph["year"], errors="coerce").groupby(ph["_vid"]):
            years[str(vid)] = sorted({int(y) for y in ys.dropna()})
    by_vid = dict(tuple(m.groupby("_vid", sort=False)))
    verdicts: list[str | None] = []
    whys: list[list[str] | None] = []
    vname = d["name"].astype(str) if "name" in d.columns else d["village_id"].astype(str)
    group = d["group"] if "group" in d.columns and not public else pd.Series(None, index=d.index)
    for vid, name, grp, st in zip(d["village_id"].astype(str), vname, group, status, strict=True):
        rows = by_vid.get(vid)
        if rows is None:
            verdicts.append("尚未安置：暂无可去的安置点" if st == "unserved" else None)  # staying: no answer line
            whys.append(None)
            continue
        origin = name + (f"（{grp}）" if grp is not None and pd.notna(grp) and str(grp) else "")
        num = [c for c in ("households", "persons") if c in rows.columns]
        per_site = rows.groupby("site_id", sort=False)[num].sum()
        sites = [names.get(sid, sid) for sid in per_site.index]
        verdicts.append(f"从 {origin} 搬到 {'、'.join(sites)}")
        lines = []
        for sid, row in per_site.iterrows():
            counts = "".join(
                f" {int(row[c])} {u}" for c, u in (("households", "户"), ("persons", "人")) if c in row.index
            )
            lines.append(f"安置点：{names.get(str(sid), str(sid))}" + (f"（{counts.strip()}）" if counts else ""))
        if years.get(vid):
            lines.append("搬迁时间：" + "、".join(str(y) for y in years[vid]) + " 年")
        for kind, zh in MOVE_KINDS:
            b, a = f"before_time_min_{kind}", f"after_time_min_{kind}"
            if b in rows.columns and a in rows.columns:
                lines.append(f"到{zh}：现在 {_minutes(rows[b])}，搬迁后 {_minutes(rows[a])}")
        whys.append(lines)
    return verdicts, whys
