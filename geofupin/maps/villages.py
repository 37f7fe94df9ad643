"""Villages: sized by persons, coloured by relocation status; public-notice (公示) village totals."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ..context import Layers, StepResult, attributes
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
    firsts = {c: "first" for c in v.columns if c not in cols and c not in (v.geometry.name, "village_id")}
    agg = attributes(v).assign(_key=key).groupby("_key", sort=False).agg({**firsts, **cols})
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
        acc = attributes(access).drop_duplicates("village_id").set_index("village_id")
        cols = [c for c in acc.columns if c.startswith("time_min_")]
        for c in cols:
            props[c] = D.column_values(d["village_id"].astype(str).map(acc[c]).astype(float))
            fields.append((c, D.label_zh(c), c, ""))
    flows = find(results, "allocation_flows", "layers")
    if flows is not None and len(flows) and "village_id" in d.columns:
        names = site_names(layers, results)
        fl = attributes(flows)
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
        props["_move"] = moves.pop("rows")
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
        spec["move"], spec["fold"], spec["fold_if"] = {"prop": "_move", **moves}, True, True
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


def _rounded(x: Any) -> int | None:
    return None if x is None or pd.isna(x) else int(f"{float(x):.0f}")


def village_moves(
    d: pd.DataFrame,
    results: Mapping[str, StepResult],
    *,
    names: Mapping[str, str],
    vid_map: Mapping[str, str],
    status: np.ndarray,
    public: bool,
) -> dict[str, Any] | None:
    """Per village, its move as compact numbers; the page writes them in plain Chinese (``gfp.move``).

    A relocating village reads ``从 王家湾村 搬到 高桥中心社区``, then one line per site it moves
    to (households and persons), the year(s) of the move when the run has a phasing plan
    (``phasing_plan``), and the time to the school, the clinic and the township seat now and
    after the move (``relocation_access``: the old village, the new site; a range when its
    groups differ), in whole minutes. The public version names no 村民小组.

    Returns
    -------
    ``{'rows': [...], 'sites': [name, ...], 'kinds': [zh, ...]}`` or ``None`` when the run
    placed nobody. A row is ``None`` (staying), ``0`` (not placed) or ``[group, [[site index,
    households, persons], ...], [years], [[now min, now max, after min, after max] | None per kind]]``.
    """
    if "village_id" not in d.columns:
        return None
    ra = find(results, "relocation_access", "tables")
    flows = find(results, "allocation_flows", "layers")
    moved = ra if ra is not None and len(ra) else flows
    if moved is None or not len(moved) or not {"village_id", "site_id"} <= set(moved.columns):
        return None
    m = pd.DataFrame(moved.drop(columns="geometry", errors="ignore"))
    m = m.assign(_vid=m["village_id"].astype(str).map(lambda x: vid_map.get(x, x)), site_id=m["site_id"].astype(str))
    sites = list(dict.fromkeys(m["site_id"]))
    site_ix = {sid: k for k, sid in enumerate(sites)}
    num = [c for c in ("households", "persons") if c in m.columns]
    per_site = m.groupby(["_vid", "site_id"], sort=False)[num].sum()
    dest: dict[str, list[list[Any]]] = {}
    for (vid, sid), row in zip(per_site.index, per_site.itertuples(index=False), strict=True):
        counts = dict(zip(num, row, strict=True))
        dest.setdefault(str(vid), []).append(
            [site_ix[str(sid)], *(_rounded(counts.get(c)) for c in ("households", "persons"))]
        )
    years: dict[str, list[int]] = {}
    phasing = find(results, "phasing_plan", "tables")
    if phasing is not None and len(phasing) and {"village_id", "year"} <= set(phasing.columns):
        ph = pd.DataFrame({"_vid": phasing["village_id"].astype(str).map(lambda x: vid_map.get(x, x))})
        ph["year"] = pd.to_numeric(phasing["year"], errors="coerce").to_numpy()
        for vid, ys in ph.dropna().drop_duplicates().sort_values("year").groupby("_vid", sort=False)["year"]:
            years[str(vid)] = [int(y) for y in ys]
    kinds = [(k, zh) for k, zh in MOVE_KINDS if {f"before_time_min_{k}", f"after_time_min_{k}"} <= set(m.columns)]
    times: dict[str, list[list[int | None] | None]] = {}
    if kinds:
        cols = [f"{w}_time_min_{k}" for k, _ in kinds for w in ("before", "after")]
        t = m[["_vid", *cols]].assign(**{c: pd.to_numeric(m[c], errors="coerce") for c in cols})
        g = t.groupby("_vid", sort=False)[cols]
        lo, hi = (np.round(x.to_numpy(dtype=float)) for x in (g.min(), g.max()))
        # rounded as Python rounds (half to even), like the tables' readers; NaN -> None
        ints = [[[None if np.isnan(x) else int(x) for x in r] for r in arr.tolist()] for arr in (lo, hi)]
        ints_lo, ints_hi = (np.array(x, dtype=object) for x in ints)
        for j, vid in enumerate(g.min().index):
            times[str(vid)] = [
                [ints_lo[j, 2 * q], ints_hi[j, 2 * q], ints_lo[j, 2 * q + 1], ints_hi[j, 2 * q + 1]]
                for q in range(len(kinds))
            ]
    group = d["group"] if "group" in d.columns and not public else pd.Series(None, index=d.index)
    rows: list[Any] = []
    for vid, grp, st in zip(d["village_id"].astype(str), group, status, strict=True):
        if vid not in dest:
            rows.append(0 if st == "unserved" else None)
            continue
        label = str(grp) if grp is not None and pd.notna(grp) and str(grp) else ""
        rows.append([label, dest[vid], years.get(vid, []), times.get(vid, [None] * len(kinds))])
    return {"rows": rows, "sites": [names.get(s, s) for s in sites], "kinds": [zh for _, zh in kinds]}
