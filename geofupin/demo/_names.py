"""Chinese place names for the demo county and their pinyin (``name_en``).

A small hand-made pinyin table covers every character the demo uses (the seed's names and
the generated loess-plateau names), so no pinyin package is needed. Readings follow local
place-name usage (咀 zui, 圪 ge, 砭 bian, 峁 mao, 塬 yuan).
"""

from __future__ import annotations

import numpy as np

_PINYIN_TABLE = """
安:an 白:bai 柏:bai 北:bei 背:bei 边:bian 砭:bian 补:bu 曹:cao 岔:cha 柴:chai 陈:chen 川:chuan 刺:ci
大:da 道:dao 定:ding 洞:dong 堵:du 范:fan 高:gao 沟:gou 管:guan 韩:han 海:hai 河:he 侯:hou 化:hua 黄:huang
会:hui 家:jia 街:jie 九:jiu 康:kang 老:lao 梁:liang 刘:liu 龙:long 麻:ma 马:ma 门:men 苗:miao 庙:miao 峁:mao
南:nan 碾:nian 牛:niu 排:pai 畔:pan 盘:pan 坪:ping 坡:po 渠:qu 三:san 山:shan 石:shi 史:shi 树:shu 水:shui
宋:song 塔:ta 台:tai 滩:tan 桃:tao 铁:tie 屯:tun 湾:wan 王:wang 委:wei 五:wu 武:wu 西:xi 乡:xiang 谢:xie
新:xin 学:xue 崖:ya 沿:yan 阳:yang 腰:yao 尧:yao 窑:yao 叶:ye 野:ye 眼:yan 玉:yu 岳:yue 塬:yuan 则:ze
张:zhang 招:zhao 真:zhen 镇:zhen 中:zhong 周:zhou 庄:zhuang 砖:zhuan 子:zi 咀:zui 圪:ge 洼:wa 岘:xian
唐:tang 墙:qiang 来:lai 镰:lian 刀:dao 口:kou 碟:die 寺:si 头:tou 李:li 杨:yang 赵:zhao 吴:wu 徐:xu 孙:sun 朱:zhu
胡:hu 郭:guo 何:he 罗:luo 郑:zheng
冯:feng 董:dong
薛:xue 郝:hao 贺:he 呼:hu 艾:ai 闫:yan 雷:lei 强:qiang 拓:tuo 惠:hui 党:dang 姬:ji
冯:feng 魏:wei 吕:lv 任:ren 姚:yao 杜:du 田:tian 孟:meng 秦:qin 袁:yuan 常:chang 贾:jia 樊:fan 霍:huo
井:jing 泉:quan 峪:yu 原:yuan 岭:ling 墕:yan 涧:jian 湫:qiu 崾:yao 坬:gua 嘴:zui 畛:zhen 后:hou 前:qian
上:shang 下:xia 小:xiao 东:dong 杏:xing 枣:zao 柳:liu 槐:huai 羊:yang 黑:hei 红:hong 青:qing 阴:yin
楼:lou 坊:fang 寨:zhai 城:cheng 堡:bao 营:ying 店:dian 村:cun 县:xian 演:yan 示:shi 延:yan 杏:xing 子:zi
平:ping 桥:qiao 园:yuan 区:qu 工:gong 业:ye 北:bei 城:cheng 社:she 心:xin 置:zhi 点:dian 集:ji 市:shi
库:ku 流:liu 窝:wo 坝:ba 沙:sha 纸:zhi 坊:fang 桑:sang 榆:yu 杨:yang 蔡:cai 兴:xing 丰:feng 福:fu 顺:shun
"""

PINYIN: dict[str, str] = dict(item.split(":") for item in _PINYIN_TABLE.split())

#: Suffixes translated rather than transliterated (longest first).
_SUFFIX_EN: tuple[tuple[str, str], ...] = (
    ("管委会", "Management Committee"),
    ("中心社区", "Central Community"),
    ("中心村", "Central Village"),
    ("安置点", "Resettlement Site"),
    ("工业园区", "Industrial Park"),
    ("水库", "Reservoir"),
    ("乡", "Township"),
    ("镇", "Town"),
    ("村", "Village"),
    ("县", "County"),
)


def pinyin(text: str) -> str:
    """Pinyin of Chinese ``text`` as one capitalised word, e.g. ``招安`` -> ``Zhao'an``.

    Raises
    ------
    KeyError
        When a character is missing from the table (a bug in the demo's name lists).
    """
    out = ""
    for i, ch in enumerate(text):
        syl = PINYIN[ch]
        if i and syl[0] in "aoe":
            out += "'"
        out += syl
    return out[:1].upper() + out[1:]


def name_en(name: str) -> str:
    """English form of a Chinese place name: pinyin plus a translated suffix.

    >>> name_en("招安镇")
    "Zhao'an Town"
    >>> name_en("西河口管委会")
    'Xihekou Management Committee'
    """
    for zh, en in _SUFFIX_EN:
        if name.endswith(zh) and len(name) > len(zh):
            return f"{pinyin(name[: -len(zh)])} {en}"
    return pinyin(name)


# Loess-plateau village names: <surname>家<landform> or <qualifier><landform>.
_SURNAMES = "王张李刘杨赵高马白曹郭何冯薛郝贺呼艾闫雷强拓惠党姬魏任姚杜田孟秦袁常贾樊霍侯史宋韩陈"
_QUALIFIERS = "石杏枣柳槐羊牛黑红青阳阴后前上下大小东西南北新老桃榆沙"
#: landforms of valley floors (川道) and of ridges/plateau remnants (峁梁塬)
_LOW_FORMS = ("沟", "湾", "河", "坪", "渠", "台", "川", "涧", "峪", "坝")
_HIGH_FORMS = ("峁", "塬", "梁", "畔", "岔", "洼", "墕", "坬", "嘴", "塔", "崾岘")


def village_names(rng: np.random.Generator, high: np.ndarray, *, taken: set[str]) -> list[str]:
    """Unique plausible village names (``...村``), a high landform where ``high`` is true.

    Parameters
    ----------
    rng
        The demo's random generator.
    high
        Boolean per village: on a ridge/plateau (峁, 梁, 塬 ...) rather than a valley.
    taken
        Names not to reuse (the seed's villages); updated in place.
    """
    names: list[str] = []
    for is_high in high:
        forms = _HIGH_FORMS if is_high else _LOW_FORMS
        while True:
            form = forms[rng.integers(len(forms))]
            if rng.random() < 0.7:
                stem = _SURNAMES[rng.integers(len(_SURNAMES))] + "家"
            else:
                stem = _QUALIFIERS[rng.integers(len(_QUALIFIERS))]
            name = stem + form + "村"
            if name not in taken:
                taken.add(name)
                names.append(name)
                break
    return names
