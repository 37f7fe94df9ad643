"""Planned works: roads, water and power lines to build."""

from __future__ import annotations

from collections.abc import Mapping

from ..context import StepResult
from . import data as D
from .page import Page, find

PLAN_STYLE = {
    "planned_roads": ("规划道路", "Planned roads", "#d7301f"),
    "planned_water": ("规划供水", "Planned water", "#0570b0"),
    "planned_power": ("规划电力", "Planned power", "#6a51a3"),
}


def _plans(p: Page, results: Mapping[str, StepResult]) -> None:
    items = []
    for key, (zh, en, color) in PLAN_STYLE.items():
        g = find(results, key, "layers")
        if g is None or not len(g):
            continue
        d = p.display(g)
        d["_title"] = zh
        if "road_class" in d.columns:
            d["_class_zh"] = d["road_class"].astype(str).map(lambda c: D.ROAD_STYLE.get(c, (c,))[0])
        spec = p.spec(
            d,
            kind="lines",
            fields=[
                ("item", "项目", "item", ""),
                ("site_id", "安置点", "site", ""),
                ("village_id", "村庄", "village", ""),
                ("_class_zh", "道路等级", "road class", ""),
                ("length_m", "长度（米）", "length_m", "int"),
                ("cost_yuan", "投资（元）", "cost_yuan", "int"),
            ],
            title="_title",
            style={"color": color, "weight": 3.5, "dashArray": "10 6", "opacity": 0.95},
        )
        p.add(spec, f"{zh} {en}", group="planned")
        items.append({"shape": "line", "color": color, "dash": True, "width": 3, "zh": zh, "en": en.lower()})
    p.section("规划建设", "Planned works", items)
