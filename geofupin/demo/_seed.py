"""The real figures of the seed's report 4 that the synthetic demo county carries.

Source: ``seed/000_810a7017beaa69af.txt``, report 4 (a county in the Baiyu mountains,
Shaanxi; the township names are those of Ansai), section 二: 搬迁任务 and 实施范围.

The report's summary says 9 townships, 34 villages and **61** village groups, but its
per-township lists name only **59** groups (3 + 7 + 8 + 24 + 10 + 3 + 2 + 1 + 1). The demo
uses the 59 named groups; the two unnamed groups are not invented.
"""

from __future__ import annotations

#: (township, relocating households, relocating persons), in the report's order.
TOWNSHIP_TARGETS: tuple[tuple[str, int, int], ...] = (
    ("王家湾乡", 103, 369),
    ("镰刀湾乡", 153, 821),
    ("化子坪镇", 135, 617),
    ("招安镇", 417, 1997),
    ("沿河湾镇", 427, 1721),
    ("西河口管委会", 99, 516),
    ("高桥乡", 91, 342),
    ("砖窑湾镇", 80, 407),
    ("真武洞镇", 21, 96),
)

TOTAL_HOUSEHOLDS = 1526
TOTAL_PERSONS = 6886
SUMMARY_GROUPS = 61  # what the report's summary says
NAMED_GROUPS = 59  # what its per-township lists actually name

#: township -> ((village, (group, ...)), ...), exactly as the report names them.
RELOCATING: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "王家湾乡": (
        ("张家塬村", ("麻山", "南塔")),
        ("曹家洼村", ("曹家洼",)),
    ),
    "镰刀湾乡": (
        ("刘沟村", ("定坪", "刘沟", "马沟")),
        ("康河村", ("老庄塔", "老庄畔")),
        ("高沟村", ("牛峁河台",)),
        ("史川村", ("背庄",)),
    ),
    "化子坪镇": (
        ("梁河村", ("庙沟",)),
        ("河西沟村", ("阳山梁", "学水湾")),
        ("曹渠村", ("王大湾", "曹渠")),
        ("咀头峁村", ("牛庄", "史坡塔", "咀头峁")),
    ),
    "招安镇": (
        ("白坪村", ("五圪堵",)),
        ("康岔村", ("高山腰", "叶老庄", "铁龙山")),
        ("周石尧村", ("道渠湾",)),
        ("张新尧村", ("阳畔", "排来沟")),
        ("碾盘沟村", ("碾盘沟", "老树河", "九滩沟", "阳畔")),
        ("柴新庄村", ("补子沟", "崖尧沟")),
        ("九台村", ("南山畔", "阳湾", "高家峁", "九台", "崖尧河")),
        ("周屯村", ("白家沟",)),
        ("岳中庄村", ("苗家山", "白台", "白咀")),
        ("谢屯村", ("中咀",)),
        ("三王河村", ("黄柏刺湾",)),
    ),
    "沿河湾镇": (
        ("玉家河村", ("白家尧",)),
        ("寺腰岘村", ("宋家沟", "韩塔")),
        ("侯沟门村", ("海眼塔", "桃树洼")),
        ("边墙村", ("边墙", "尧台沟")),
        ("碟子沟村", ("新窑湾",)),
        ("砖窑沟村", ("新庄洼",)),
        ("高家峁村", ("崖尧沟",)),
    ),
    "西河口管委会": (
        ("街砭村", ("街砭",)),
        ("崖尧砭村", ("崖尧砭", "范台")),
    ),
    "高桥乡": (
        ("北宋塔村", ("唐家沟",)),
        ("高桥村", ("陈家沟",)),
    ),
    "砖窑湾镇": (("砖窑湾村", ("砖窑湾",)),),
    "真武洞镇": (("阳庄村", ("野家尧则",)),),
}

COUNTY_SEAT = "真武洞镇"
