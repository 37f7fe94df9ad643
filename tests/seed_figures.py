"""Figures of the seed document typed in by hand for tests (report 4, 搬迁任务).

Kept apart from ``geofupin.demo`` on purpose: tests check the code against the document,
not against the code's own copy of it.
"""

from __future__ import annotations

#: Township -> (relocating households, persons), 2011-2015; the county total is 1,526 / 6,886.
SEED_TABLE: dict[str, tuple[int, int]] = {
    "王家湾乡": (103, 369),
    "镰刀湾乡": (153, 821),
    "化子坪镇": (135, 617),
    "招安镇": (417, 1997),
    "沿河湾镇": (427, 1721),
    "西河口管委会": (99, 516),
    "高桥乡": (91, 342),
    "砖窑湾镇": (80, 407),
    "真武洞镇": (21, 96),
}
