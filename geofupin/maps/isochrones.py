"""Isochrone bands (travel-time rings) per facility kind."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import shapely

from ..context import StepResult
from . import data as D
from .page import Page, find

BAND_COLORS = ("#08519c", "#3182bd", "#6baed6", "#bdd7e7", "#eff3ff")


def _isochrones(p: Page, results: Mapping[str, StepResult]) -> None:
    iso = find(results, "isochrones", "layers")
    if iso is None or not len(iso):
        return
    d = p.display(iso)
    kinds = d["facility_kind"].astype(str) if "facility_kind" in d.columns else pd.Series("facility", index=d.index)
    bands = sorted(pd.to_numeric(d["band_min"], errors="coerce").dropna().unique()) if "band_min" in d.columns else []
    first = True
    cap = p.config.isochrone_max_vertices
    used = 0
    left_out: list[str] = []
    for kind in dict.fromkeys(kinds):
        sub = d[(kinds == kind).to_numpy()].copy()
        n = int(shapely.get_num_coordinates(np.asarray(sub.geometry.values)).sum())
        if cap and not first and used + n > cap:  # the first kind always comes: the page shows it
            left_out.append(D.FACILITY_ZH.get(kind, (kind,))[0])
            continue
        used += n
        if "band_min" in sub.columns:  # large bands first so small ones draw on top
            sub = sub.sort_values("band_min", ascending=False)
        zh = D.FACILITY_ZH.get(kind, (kind,))[0]
        sub["_kind_zh"] = zh
        b = pd.to_numeric(sub.get("band_min", pd.Series(0, index=sub.index)), errors="coerce")
        col = [BAND_COLORS[min(bands.index(x), len(BAND_COLORS) - 1)] if x in bands else "#999999" for x in b]
        spec = p.spec(
            sub,
            kind="polygons",
            fields=[("_kind_zh", "设施", "facility", ""), ("band_min", "时间圈（分钟）", "band_min", "")],
            title="_kind_zh",
            style={"weight": 0.6, "fillOpacity": 0.3, "color": "#08519c"},
            per={"fillColor": col},
        )
        p.add(spec, f"等时圈：{zh} Isochrones: {kind}", group="facilities", show=first)
        first = False
    if left_out:
        p.notes.append(
            f"等时圈：{'、'.join(left_out)}未嵌入本页(超过 map.isochrone_max_vertices = {cap:,} 个顶点),"
            "见 results.gpkg 的 isochrones 图层 / isochrones of these kinds are in results.gpkg"
        )
    p.section(
        "等时圈（分钟）",
        "Isochrones (minutes)",
        [
            {
                "shape": "square",
                "color": BAND_COLORS[min(i, len(BAND_COLORS) - 1)],
                "zh": f"{x:g} 分钟内",
                "en": f"≤ {x:g} min",
            }
            for i, x in enumerate(bands)
        ],
    )
