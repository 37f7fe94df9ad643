"""The land-use classification of the third national land survey (三调), as plain data.

:data:`GBT21010` holds every first- and second-level class of GB/T 21010-2017《土地利用现状分类》
(code and name), :data:`SANDIAO_WORK_CODES` the codes the 三调 working classification (《第三次全国
国土调查工作分类》) adds or merges, and :data:`WETLAND_CODES` the classes the standard groups as
湿地 (三调's class 00). :func:`lookup` finds a class by code (``0103``), by name (``旱地``), or by a
三调 code with the 可调整 suffix ``K`` (``0201K`` is 果园, adjustable).

How the classes become geofupin constraint kinds (:data:`CONSTRAINT_KIND_OF_CLASS`, used by
``kind_from: {column: DLBM, table: gbt21010}`` in a scenario and by the constraints' ``kind``
column): the three 耕地 classes (0101 水田, 0102 水浇地, 0103 旱地) and 01 耕地 itself are
``basic_farmland``, the farmland that resettlement sites must not occupy (易地扶贫搬迁安置点选址
不占或少占耕地、严禁占用永久基本农田). No other class is a constraint: forest, grassland, water
and built-up land are screened by the DEM, water and hazard rules, not by their land class. The
legal line of 永久基本农田 is its own layer (YJJBNTTB); a county that screens only that line
leaves the 耕地 patches of its DLTB layer out with ``where:``.

This module imports nothing of geofupin (see ARCHITECTURE.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: GB/T 21010-2017 first-level classes (一级类): code -> name.
GBT21010_LEVEL1: dict[str, str] = {
    "01": "耕地",
    "02": "园地",
    "03": "林地",
    "04": "草地",
    "05": "商服用地",
    "06": "工矿仓储用地",
    "07": "住宅用地",
    "08": "公共管理与公共服务用地",
    "09": "特殊用地",
    "10": "交通运输用地",
    "11": "水域及水利设施用地",
    "12": "其他土地",
}

#: GB/T 21010-2017 second-level classes (二级类): code -> name.
GBT21010_LEVEL2: dict[str, str] = {
    "0101": "水田",
    "0102": "水浇地",
    "0103": "旱地",
    "0201": "果园",
    "0202": "茶园",
    "0203": "橡胶园",
    "0204": "其他园地",
    "0301": "乔木林地",
    "0302": "竹林地",
    "0303": "红树林地",
    "0304": "森林沼泽",
    "0305": "灌木林地",
    "0306": "灌丛沼泽",
    "0307": "其他林地",
    "0401": "天然牧草地",
    "0402": "沼泽草地",
    "0403": "人工牧草地",
    "0404": "其他草地",
    "0501": "零售商业用地",
    "0502": "批发市场用地",
    "0503": "餐饮用地",
    "0504": "旅馆用地",
    "0505": "商务金融用地",
    "0506": "娱乐用地",
    "0507": "其他商服用地",
    "0601": "工业用地",
    "0602": "采矿用地",
    "0603": "盐田",
    "0604": "仓储用地",
    "0701": "城镇住宅用地",
    "0702": "农村宅基地",
    "0801": "机关团体用地",
    "0802": "新闻出版用地",
    "0803": "教育用地",
    "0804": "科研用地",
    "0805": "医疗卫生用地",
    "0806": "社会福利用地",
    "0807": "文化设施用地",
    "0808": "体育用地",
    "0809": "公用设施用地",
    "0810": "公园与绿地",
    "0901": "军事设施用地",
    "0902": "使领馆用地",
    "0903": "监教场所用地",
    "0904": "宗教用地",
    "0905": "殡葬用地",
    "0906": "风景名胜设施用地",
    "1001": "铁路用地",
    "1002": "轨道交通用地",
    "1003": "公路用地",
    "1004": "城镇村道路用地",
    "1005": "交通服务场站用地",
    "1006": "农村道路",
    "1007": "机场用地",
    "1008": "港口码头用地",
    "1009": "管道运输用地",
    "1101": "河流水面",
    "1102": "湖泊水面",
    "1103": "水库水面",
    "1104": "坑塘水面",
    "1105": "沿海滩涂",
    "1106": "内陆滩涂",
    "1107": "沟渠",
    "1108": "沼泽地",
    "1109": "水工建筑用地",
    "1110": "冰川及永久积雪",
    "1201": "空闲地",
    "1202": "设施农用地",
    "1203": "田坎",
    "1204": "盐碱地",
    "1205": "沙地",
    "1206": "裸土地",
    "1207": "裸岩石砾地",
}

#: Codes of the 三调 working classification that GB/T 21010-2017 does not have: code -> (name, first-level code).
#: 三调 merges 0501-0507 into 05H1 and 0801-0802 / 0803-0807 into 08H1 / 08H2, splits 0508 物流仓储用地 off
#: 仓储, and records 广场, 养殖坑塘, 干渠 and 高教用地 as sub-classes with an ``A`` suffix.
SANDIAO_WORK_CODES: dict[str, tuple[str, str]] = {
    "00": ("湿地", "00"),
    "05H1": ("商业服务业设施用地", "05"),
    "0508": ("物流仓储用地", "05"),
    "08H1": ("机关团体新闻出版用地", "08"),
    "08H2": ("科教文卫用地", "08"),
    "08H2A": ("高教用地", "08"),
    "0810A": ("广场用地", "08"),
    "1104A": ("养殖坑塘", "11"),
    "1107A": ("干渠", "11"),
}

#: First-level names the 三调 working classification uses instead of the standard's (same codes).
SANDIAO_LEVEL1_NAMES: dict[str, str] = {
    "02": "种植园用地",
    "05": "商业服务业用地",
    "06": "工矿用地",
}

#: The classes GB/T 21010-2017 groups as 湿地 (三调's first-level class 00 湿地): their codes stay as they are.
WETLAND_CODES: tuple[str, ...] = ("0303", "0304", "0306", "0402", "0603", "1105", "1106", "1108")

#: The suffix the 三调 gives a class that may be adjusted back to farmland (可调整地类, e.g. ``0201K``).
ADJUSTABLE_SUFFIX = "K"

#: Names of the tables a scenario's ``kind_from: {table: ...}`` may name.
TableName = Literal["gbt21010"]
TABLE_NAMES: tuple[str, ...] = ("gbt21010",)

#: The geofupin constraint kind of a land class (see the module docstring); classes not listed are no constraint.
CONSTRAINT_KIND_OF_CLASS: dict[str, str] = {
    "01": "basic_farmland",
    "0101": "basic_farmland",
    "0102": "basic_farmland",
    "0103": "basic_farmland",
}


@dataclass(frozen=True)
class LandClass:
    """One land-use class.

    Attributes
    ----------
    code
        Its code as written (``0103``, ``05H1``), without the ``K`` suffix.
    name
        Its Chinese name (``旱地``).
    level1
        The code of its first-level class (``01``).
    level1_name
        The name of that first-level class in GB/T 21010-2017 (``耕地``).
    adjustable
        The value carried the 三调 可调整 suffix ``K``.
    source
        ``GB/T 21010-2017`` or ``三调工作分类``.
    """

    code: str
    name: str
    level1: str
    level1_name: str
    adjustable: bool = False
    source: str = "GB/T 21010-2017"

    @property
    def constraint_kind(self) -> str | None:
        """The geofupin constraint kind of this class, or ``None`` (see :data:`CONSTRAINT_KIND_OF_CLASS`)."""
        if self.adjustable:  # 可调整 orchards and forests are not 耕地 today
            return None
        return CONSTRAINT_KIND_OF_CLASS.get(self.code)


def _level1_name(code: str) -> str:
    return GBT21010_LEVEL1.get(code, SANDIAO_WORK_CODES.get(code, ("", ""))[0])


def _by_code(code: str) -> LandClass | None:
    if code in GBT21010_LEVEL1:
        return LandClass(code, GBT21010_LEVEL1[code], code, GBT21010_LEVEL1[code])
    if code in GBT21010_LEVEL2:
        return LandClass(code, GBT21010_LEVEL2[code], code[:2], _level1_name(code[:2]))
    if code in SANDIAO_WORK_CODES:
        name, level1 = SANDIAO_WORK_CODES[code]
        return LandClass(code, name, level1, _level1_name(level1), source="三调工作分类")
    return None


#: Name -> code over both tables (the standard's names first; 三调's first-level names too).
_CODE_OF_NAME: dict[str, str] = {
    **{name: code for code, (name, _) in SANDIAO_WORK_CODES.items()},
    **{name: code for code, name in SANDIAO_LEVEL1_NAMES.items()},
    **{name: code for code, name in GBT21010_LEVEL1.items()},
    **{name: code for code, name in GBT21010_LEVEL2.items()},
}


def lookup(value: object) -> LandClass | None:
    """The land class a DLBM code or DLMC name denotes, or ``None``.

    Accepted: a code of either table (``0103``, ``01``, ``05H1``), a 三调 code with the 可调整
    suffix (``0201K``), a code stored as a number that lost its leading zero (``103`` as read
    from a spreadsheet or a numeric .dbf field), and a class name (``旱地``, ``种植园用地``, or
    ``可调整果园`` for the adjustable class).
    Surrounding spaces are ignored; letters may be lower case.

    Examples
    --------
    >>> lookup("旱地").code
    '0103'
    >>> lookup("0201K").adjustable
    True
    """
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    if text in _CODE_OF_NAME:
        return _by_code(_CODE_OF_NAME[text])
    if text.startswith("可调整") and text[3:] in _CODE_OF_NAME:  # 可调整果园: the 可调整 class of 果园
        found = _by_code(_CODE_OF_NAME[text[3:]])
        if found is not None:
            return LandClass(found.code, found.name, found.level1, found.level1_name, True, "三调工作分类")
    code = text.upper()
    adjustable = False
    if code.endswith(ADJUSTABLE_SUFFIX) and len(code) > 1:
        code, adjustable = code[:-1], True
    if code.endswith(".0") and code[:-2].isdigit():  # 103.0 from a float column
        code = code[:-2]
    if code.isdigit() and len(code) in (1, 3):  # a lost leading zero
        code = "0" + code
    found = _by_code(code)
    if found is None:
        return None
    if adjustable:
        return LandClass(found.code, found.name, found.level1, found.level1_name, True, "三调工作分类")
    return found


def constraint_kind(value: object) -> str | None:
    """The geofupin constraint kind of a DLBM code or DLMC name (``旱地`` -> ``basic_farmland``), or ``None``."""
    found = lookup(value)
    return None if found is None else found.constraint_kind


def constraint_kind_aliases() -> dict[str, str]:
    """Every code and name that denotes a constraint kind (``0103``, ``旱地``, ``耕地`` ... -> ``basic_farmland``).

    The constraints layer's ``kind`` column accepts these besides geofupin's own kind names.
    """
    out: dict[str, str] = {}
    for code, kind in CONSTRAINT_KIND_OF_CLASS.items():
        out[code] = kind
        found = _by_code(code)
        if found is not None:
            out[found.name] = kind
    return out


def classes() -> list[LandClass]:
    """Every class of both tables, in code order (first-level classes before their second-level ones)."""
    codes = [*GBT21010_LEVEL1, *GBT21010_LEVEL2, *SANDIAO_WORK_CODES]
    found = [_by_code(c) for c in sorted(set(codes), key=lambda c: (c[:2], len(c), c))]
    return [c for c in found if c is not None]


__all__ = [
    "ADJUSTABLE_SUFFIX",
    "CONSTRAINT_KIND_OF_CLASS",
    "GBT21010_LEVEL1",
    "GBT21010_LEVEL2",
    "SANDIAO_LEVEL1_NAMES",
    "SANDIAO_WORK_CODES",
    "TABLE_NAMES",
    "WETLAND_CODES",
    "LandClass",
    "TableName",
    "classes",
    "constraint_kind",
    "constraint_kind_aliases",
    "lookup",
]
