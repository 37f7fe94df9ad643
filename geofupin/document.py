"""The plan document (规划文本): one DOCX a county office edits, built from a run's tables.

:func:`plan_document` writes the chapters report 4's plan needs — 总论, 搬迁对象, 安置点选址与论证,
安置方式与分配, 基础设施与公共服务规划, 资金估算与筹措, 分年度实施计划, 旧房拆除与复垦, 保障措施 —
with the run's tables, the printable map when the run drew one, and the run id and the
inputs' SHA-256 on the cover for the audit trail. Every figure is read from the run's tables
(never retyped); chapters whose step did not run say so. The office's own text goes where the
document says 「(由编制单位补充)」.

Text from layers, scenarios and policy files is inserted as text runs (python-docx escapes it):
a village called ``{{7*7}}``, ``=1+1`` or ``<b>x</b>`` appears exactly so. Characters XML cannot
hold (control characters) are dropped.

Returns bytes; :mod:`geofupin.io` writes them.
"""

from __future__ import annotations

import io
import itertools
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pandas as pd

from .config.roster import STAGE_ZH, STAGES, STATUS_ZH, WISH_ZH
from .context import RunContext, attributes
from .errors import MissingDependencyError
from .report import M2_PER_MU, VALUE_LABELS, label
from .roster import POOR_STATUSES

log = logging.getLogger(__name__)

_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
OFFICE_TEXT = "(由编制单位补充)"

#: Headers the plan document words differently from the workbook (:func:`geofupin.report.label` gives the rest).
LABELS: dict[str, str] = {
    "households": "户数",
    "persons": "人数",
    "area_mu": "用地面积(亩)",
    "groups": "村民小组数",
    "villages": "村数",
    "site_name": "安置点",
    "county_yuan": "县级资金(元)",
    "label_zh": "评价指标",
    "unit": "单位",
    "direction": "方向",
    "method": "方法",
    "weight": "权重",
    "score": "综合得分",
    "capacity_persons": "可容纳人数",
    "reasons_zh": "未通过原因",
    "payer_zh": "资金来源",
    "purpose_zh": "用途",
    "name_zh": "补助标准",
    "rate": "标准(元)",
    "category": "类别",
    "household_share": "占搬迁户比例",
    "poor_households": "其中贫困户数",
    "poor_persons": "其中贫困人口",
    "stage_zh": "工作环节",
    "done_households": "已完成户数",
    "done_share": "完成比例",
    "at_stage_households": "停留在本环节户数",
    "first_date": "最早日期",
    "last_date": "最晚日期",
    "village_name": "村",
    "posting_date": "张榜日期",
    "period_days": "公示天数",
    "period_end": "公示截止日期",
    "check_zh": "核查项目",
    "severity_zh": "性质",
    "count": "处数",
    "example_zh": "示例",
    "budget_yuan": "资金测算直补到户(元)",
    "roster_yuan": "直补到户清册(元)",
    "diff_yuan": "差额(元)",
    "tranche_zh": "拨付批次",
    "amount_yuan": "金额(元)",
    "site_name_zh": "安置点",
    "time_min": "车程(分钟)",
    "dist_km": "路程(公里)",
    "rule_zh": "筛选规则",
    "threshold_zh": "标准",
    "failed": "未通过点数",
    "failed_only": "仅因此项未通过点数",
    "criterion_zh": "评价指标",
    "change_zh": "权重变动幅度",
    "top1_changed": "第一名是否变化",
    "top1_site_id": "排名第一的安置点",
    "topk_site_ids": "前几位安置点",
    "topk_changed": "前列名单是否变化",
    "rank_corr": "排序相关系数",
}

#: Chinese names of the roster checks (:mod:`geofupin.roster`, table ``roster_checks``).
CHECK_ZH: dict[str, str] = {
    "bad_value": "无法识别的内容",
    "unknown_village": "所在村无法对应",
    "id_number": "身份证号码无效",
    "duplicate_id": "身份证号码重复",
    "registry_households": "贫困户数与建档立卡不符",
    "registry_persons": "贫困人口与建档立卡不符",
    "move_households": "搬迁户数与规划不符",
    "move_persons": "搬迁人数与规划不符",
    "poor_not_moving": "项目村贫困户未纳入搬迁",
    "housing_area": "建房面积超出标准",
    "housing_conflict": "建房面积无法同时满足两项标准",
    "workflow_order": "工作程序日期倒置",
    "workflow_gap": "工作程序缺少前一环节日期",
    "notice_period": "公示期未满即审查",
    "phone": "联系电话格式不对",
    "hardship_quota": "特困户数与测算不符",
}

#: Current house area classes (m², lower bounds) of the 搬迁对象 chapter.
HOUSE_AREA_CLASSES_M2: tuple[float, ...] = (0, 20, 40, 60, 80, 100, 120)

_INT_COLUMNS = ("households", "persons", "groups", "villages", "count", "rank", "year", "period_days")
_INT_SUFFIXES = ("_households", "_persons", "_places", "_groups")


def _t(value: Any) -> str:
    """Data as plain text that XML can hold."""
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return ""
    return _XML_BAD.sub("", str(value))


def _num(v: Any, *, digits: int = 0) -> str:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return _t(v)
    if pd.isna(x):
        return ""
    return f"{x:,.{digits}f}"


def _count(v: Any) -> str:
    """A count: whole numbers without decimals, a fraction (a share of a household) with two."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        return _t(v)
    if pd.isna(x):
        return ""
    return f"{x:,.0f}" if x.is_integer() else f"{x:,.2f}"


def _header(col: str) -> str:
    if col.endswith("_wan") and col not in LABELS:
        return _header(col[: -len("_wan")] + "_yuan").replace("(元)", "(万元)")
    if col.endswith("_km") and col not in LABELS:
        return _header(col[: -len("_km")] + "_m").replace("(米)", "(公里)")
    return LABELS.get(col) or label(col)[0]


def _cell(col: str, v: Any) -> str:
    if isinstance(v, bool):
        return "是" if v else "否"
    if col.endswith("_share") or col in ("cumulative_share", "occupancy_share"):
        try:
            return f"{float(v):.1%}"
        except (TypeError, ValueError):
            return _t(v)
    if col.endswith(("_wan", "_km", "_mu")):
        return _num(v, digits=2)
    if col.endswith("_yuan"):
        return _num(v, digits=2)
    if col in ("year", "rank"):
        return _t(v)
    if col in _INT_COLUMNS or col.endswith(_INT_SUFFIXES) or col.startswith(("planned_", "capacity_", "quantity")):
        return _count(v)
    if isinstance(v, float):
        return _num(v, digits=2 if abs(v) < 1000 else 0)
    return _t(v)


def _date_zh(iso: str) -> str:
    """``2011-03-01`` as ``2011年3月1日`` (other text unchanged)."""
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", str(iso))
    return f"{m[1]}年{int(m[2])}月{int(m[3])}日" if m else _t(iso)


def _wan(yuan: float) -> str:
    return f"{yuan / 1e4:,.2f}"


def _coded(df: pd.DataFrame, cols: Sequence[str]) -> pd.DataFrame:
    """Codes (tier, direction, unit, build mode...) in the Chinese the workbook prints."""
    out = df
    for c in cols:
        words = VALUE_LABELS.get(c)
        if words is not None and c in df.columns:
            out = out.assign(**{c: df[c].map(lambda v, w=words: w.get(v, v) if isinstance(v, str) else v)})
    return out


def _in_units(df: pd.DataFrame, cols: Sequence[str]) -> tuple[pd.DataFrame, list[str]]:
    """``*_yuan`` columns named ``*_wan`` as 万元, ``*_m`` lengths named ``*_km`` as 公里 (the figures divided)."""
    out, names = df, []
    for c in cols:
        if c.endswith("_wan") and c not in df.columns and c[: -len("_wan")] + "_yuan" in df.columns:
            out = out.assign(**{c: pd.to_numeric(df[c[: -len("_wan")] + "_yuan"], errors="coerce") / 1e4})
        elif c.endswith("_km") and c not in df.columns and c[: -len("_km")] + "_m" in df.columns:
            out = out.assign(**{c: pd.to_numeric(df[c[: -len("_km")] + "_m"], errors="coerce") / 1e3})
        names.append(c)
    return out, names


_CN_NUM = "一二三四五六七八九十"


def _cn(n: int) -> str:
    """1..99 in Chinese numerals (第十二章)."""
    if n <= 10:
        return _CN_NUM[n - 1]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else _CN_NUM[tens - 1]) + "十" + (_CN_NUM[ones - 1] if ones else "")


Block = tuple[Any, ...]


class _Doc:
    """Collects the document as blocks: ``("heading", text, level)``, ``("para", text)``,
    ``("table", name, caption, header, rows)``, ``("picture", png)``; DOCX and PDF are drawn from them.

    Chapters, sections, tables (表3-2) and figures (图3-1) are numbered as they are added, so a
    section that has nothing to show leaves no gap in the numbering.
    """

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.chapter_no = 0
        self.section_no = 0
        self.table_no = 0
        self.figure_no = 0

    def title(self, text: str) -> None:
        self.blocks.append(("heading", _t(text), 0))

    def chapter(self, text: str) -> None:
        self.chapter_no += 1
        self.section_no = self.table_no = self.figure_no = 0
        self.blocks.append(("heading", f"第{_cn(self.chapter_no)}章 {_t(text)}", 1))

    def section(self, text: str) -> None:
        self.section_no += 1
        self.blocks.append(("heading", f"{_cn(self.section_no)}、{_t(text)}", 2))

    def heading(self, text: str, level: int = 1) -> None:
        self.blocks.append(("heading", _t(text), level))

    def para(self, *parts: str) -> None:
        self.blocks.append(("para", "".join(_t(p) for p in parts)))

    def next_table(self) -> str:
        """The number the next table gets (表2-3), for the text that refers to it."""
        return f"表{self.chapter_no}-{self.table_no + 1}"

    def table(self, name: str, df: pd.DataFrame | None, columns: Sequence[str], *, caption: str) -> None:
        if df is None:
            self.para(f"{caption}:无数据。")
            return
        df, columns = _in_units(df, columns)
        cols = [c for c in columns if c in df.columns]
        if not cols or df.empty:
            self.para(f"{caption}:无数据。")
            return
        self.table_no += 1
        header = [_t(_header(c)) for c in cols]
        rows = [[_cell(c, v) for c, v in zip(cols, row, strict=True)] for row in df[cols].itertuples(index=False)]
        self.blocks.append(("table", name, f"表{self.chapter_no}-{self.table_no} {_t(caption)}", header, rows))

    def picture(self, png: bytes, caption: str) -> None:
        self.figure_no += 1
        self.blocks.append(("picture", png))
        self.para(f"图{self.chapter_no}-{self.figure_no} {caption}")


def _docx(blocks: Sequence[Block], *, title: str) -> bytes:
    import docx
    from docx.oxml.ns import qn
    from docx.shared import Cm, RGBColor

    d = docx.Document()
    style = d.styles["Normal"]
    style.font.name = "SimSun"
    style.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), "SimSun")  # Chinese text in 宋体
    for name in ("Title", "Heading 1", "Heading 2", "Heading 3"):  # headings in 黑体, black as official texts are
        hs = d.styles[name]
        hs.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), "SimHei")
        hs.font.color.rgb = RGBColor(0, 0, 0)
    d.core_properties.title = title
    for b in blocks:
        if b[0] == "heading":
            d.add_heading(b[1], level=b[2])
        elif b[0] == "para":
            d.add_paragraph().add_run(b[1])
        elif b[0] == "table":
            _, _, caption, header, rows = b
            d.add_paragraph().add_run(caption).bold = True
            t = d.add_table(rows=1, cols=len(header))
            t.style = "Table Grid"
            for cell, h in zip(t.rows[0].cells, header, strict=True):
                cell.paragraphs[0].add_run(h).bold = True
            for row in rows:
                for cell, v in zip(t.add_row().cells, row, strict=True):
                    cell.text = v
        elif b[0] == "picture":
            d.add_picture(io.BytesIO(b[1]), width=Cm(16.0))
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def _width(text: str) -> float:
    """Display width in ems: CJK and full-width characters 1, others about 0.55."""
    import unicodedata

    return sum(1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.55 for ch in text)


def _wrap(text: str, ems: float) -> list[str]:
    lines, cur, w = [], "", 0.0
    for ch in text:
        cw = _width(ch)
        if w + cw > ems and cur:
            lines.append(cur)
            cur, w = "", 0.0
        cur += ch
        w += cw
    return [*lines, cur] if cur or not lines else lines


#: A4 portrait in inches, and the page margin.
_PAGE_W, _PAGE_H, _MARGIN = 8.27, 11.69, 0.8
_PT = 1 / 72
_WS = re.compile(r"[\t\n\r\v\f\x85\u2028\u2029]")


class _Page:
    """One PDF page as laid out: strings ``(x_in, y_in, text, size_pt, bold)`` (baseline, from the
    bottom left) and pictures ``(png, (left, bottom, width, height) in inches)``."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.strings: list[tuple[float, float, str, float, bool]] = []
        self.pictures: list[tuple[bytes, tuple[float, float, float, float], tuple[int, int]]] = []


def _layout(blocks: Sequence[Block]) -> list[_Page]:
    """Lay the blocks out on A4 pages (a pure function: positions only, nothing drawn).

    Each string is one line; text wraps by display width (:func:`_wrap`); a chapter (level-1
    heading) starts a page; a heading or a table caption is kept with what follows it (never
    alone at the foot of a page); a table row or a picture that does not fit goes to the next
    page, and a table continued on a new page repeats its header row.
    """
    from PIL import Image

    W, H, M = _PAGE_W, _PAGE_H, _MARGIN
    pages: list[_Page] = []
    y = 0.0

    def new_page() -> None:
        nonlocal y
        pages.append(_Page(len(pages) + 1))
        y = H - M

    def room(h: float) -> None:
        nonlocal y
        if y - h < M:
            new_page()
        y -= h

    def line(text: str, size: float, *, bold: bool = False) -> None:
        room(size * _PT * 1.5)
        pages[-1].strings.append((M, y, text, size, bold))

    def keep(h: float) -> None:
        """Start a new page unless ``h`` inches fit below (a heading with the lines that follow it)."""
        if y - h < M:
            new_page()

    def first_lines(i: int) -> float:
        """Height of what must follow block ``i``'s heading on the same page: two lines or a table's first rows."""
        nxt = blocks[i + 1] if i + 1 < len(blocks) else None
        if nxt is None or nxt[0] == "heading":
            return 0.0
        return (10 + 2 * 8) * _PT * 1.5 if nxt[0] == "table" else 2 * 10 * _PT * 1.5

    new_page()
    for i, b in enumerate(blocks):
        if b[0] == "heading":
            size = {0: 20.0, 1: 15.0}.get(b[2], 12.0)
            if b[2] == 1 and y < H - M - 0.1:
                new_page()  # a chapter starts a page
            lines = _wrap(_WS.sub(" ", b[1]), (W - 2 * M) / (size * _PT))
            keep(len(lines) * size * _PT * 1.5 + first_lines(i))
            for ln in lines:
                line(ln, size, bold=True)
            y -= 0.08
        elif b[0] == "para":
            for ln in _wrap(_WS.sub(" ", b[1]), (W - 2 * M) / (10 * _PT)):
                line(ln, 10.0)
        elif b[0] == "table":
            _, _, caption, header, rows = b
            cells = [[_WS.sub(" ", v) for v in r] for r in (header, *rows)]
            widths = [[_width(v) for v in r] for r in cells]
            ems = [max(w[k] for w in widths) + 1 for k in range(len(header))]
            size = min(8.0, (W - 2 * M) / (sum(ems) * _PT))
            xs = [M]
            for e in ems[:-1]:
                xs.append(xs[-1] + e * size * _PT)
            row_h = size * _PT * 1.5
            keep(10 * _PT * 1.5 + row_h * min(len(cells), 3))  # the caption with the header and a row or two
            line(_WS.sub(" ", caption), 10.0, bold=True)
            for j, row in enumerate(cells):
                if j and y - row_h < M:  # continued on the next page: the header row again
                    new_page()
                    y -= row_h
                    pages[-1].strings.extend((x, y, v, size, True) for x, v in zip(xs, cells[0], strict=True) if v)
                room(row_h)
                pages[-1].strings.extend((x, y, v, size, j == 0) for x, v in zip(xs, row, strict=True) if v)
            y -= 0.1
        elif b[0] == "picture":
            with Image.open(io.BytesIO(b[1])) as img:
                px = img.size
            w_in = W - 2 * M
            h_in = w_in * px[1] / px[0]
            if y - h_in < M:
                new_page()
            pages[-1].pictures.append((b[1], (M, y - h_in, w_in, h_in), px))
            y -= h_in + 0.1
    return pages


#: Resolution of a map embedded in the PDF, in pixels per inch at its printed size.
PRINT_PPI = 300


def _print_image(png: bytes, width_in: float) -> Any:
    """The picture for print: RGB on white, at most :data:`PRINT_PPI` at ``width_in`` (Lanczos)."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as img:
        rgba = img.convert("RGBA")
    rgb = Image.new("RGB", rgba.size, "white")
    rgb.paste(rgba, mask=rgba.getchannel("A"))
    w = round(width_in * PRINT_PPI)
    if rgb.width > w:
        rgb = rgb.resize((w, max(1, round(rgb.height * w / rgb.width))), Image.Resampling.LANCZOS)
    return rgb


def _pdf(blocks: Sequence[Block], *, title: str) -> bytes:
    """The document as an A4 PDF drawn with matplotlib (fonts embedded as subsets).

    The pages are laid out first (:func:`_layout`); each page is then one matplotlib figure
    whose strings are drawn by one artist straight through the renderer's ``draw_text`` (no
    ``Text`` artist per string: a ``Text`` lays its string out twice, once to measure and once
    to draw, and an A4 page of tables holds hundreds). Strings are never parsed as mathtext or
    TeX. One :class:`~matplotlib.font_manager.FontProperties` per size and weight is shared.
    A map is embedded at print resolution (:data:`PRINT_PPI`), not resampled to the figure's dpi.
    """
    from ._optional import require

    require("matplotlib")
    from matplotlib import colors as mcolors
    from matplotlib import rcParams
    from matplotlib.artist import Artist
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

    from .maps.static import find_cjk_font

    family = find_cjk_font()
    if family is None:
        raise MissingDependencyError(
            "规划文本PDF需要中文字体 / the plan PDF needs a CJK font. Fix: install Debian 'fonts-noto-cjk'.",
            module="fonts-noto-cjk",
            extra="",
        )
    fonts: dict[tuple[float, bool], FontProperties] = {}

    def font(size: float, bold: bool) -> FontProperties:
        fp = fonts.get((size, bold))
        if fp is None:
            fp = fonts[(size, bold)] = FontProperties(family=family, size=size, weight="bold" if bold else "normal")
        return fp

    color = mcolors.to_rgba(rcParams["text.color"])

    class Strings(Artist):
        """Every string of a page, drawn as text (literal: never mathtext) at its baseline."""

        def __init__(self, fig: Figure, strings: Sequence[tuple[float, float, str, float, bool]]) -> None:
            super().__init__()
            self._inches = fig.dpi_scale_trans  # follows the dpi the PDF backend sets
            self._strings = strings

        def draw(self, renderer: Any) -> None:
            gc = renderer.new_gc()
            gc.set_foreground(color, isRGBA=True)
            flip = renderer.flipy()
            _, canvas_h = renderer.get_canvas_width_height()
            to_px = self._inches.transform
            for x, y, text, size, bold in self._strings:
                px, py = to_px((x, y))
                renderer.draw_text(gc, px, canvas_h - py if flip else py, text, font(size, bold), 0.0, ismath=False)
            gc.restore()

    pages = _layout(blocks)
    buf = io.BytesIO()
    with PdfPages(buf, metadata={"Title": title, "Creator": "geofupin", "CreationDate": None}) as pdf:
        for page in pages:
            fig = Figure(figsize=(_PAGE_W, _PAGE_H))
            fig.text(0.5, 0.4 / _PAGE_H, f"- {page.number} -", ha="center", fontsize=8, parse_math=False)
            fig.add_artist(Strings(fig, page.strings))
            for png, (left, bottom, w_in, h_in), _px in page.pictures:
                ax = fig.add_axes((left / _PAGE_W, bottom / _PAGE_H, w_in / _PAGE_W, h_in / _PAGE_H))
                ax.imshow(_print_image(png, w_in), interpolation="none")  # embedded as is: no resampling
                ax.set_axis_off()
            pdf.savefig(fig)
    return buf.getvalue()


def plan_blocks(
    ctx: RunContext,
    *,
    run_id: str,
    inputs_sha256: Mapping[str, str],
    map_png: bytes | None = None,
) -> list[Block]:
    """The plan document of a run as blocks (see :func:`plan_document`)."""
    return _plan(ctx, run_id=run_id, inputs_sha256=inputs_sha256, map_png=map_png).blocks


def plan_document(
    ctx: RunContext,
    *,
    run_id: str,
    inputs_sha256: Mapping[str, str],
    map_png: bytes | None = None,
    fmt: Literal["docx", "pdf"] = "docx",
) -> bytes:
    """The plan document of a run as DOCX (or PDF) bytes.

    Parameters
    ----------
    ctx
        The run's context after every step (tables and layers are read from it).
    run_id
        The run's id (printed on the cover).
    inputs_sha256
        SHA-256 of every input file (the cover lists them).
    map_png
        The printable map (PNG), placed in chapter 3.
    fmt
        ``docx`` (python-docx) or ``pdf`` (A4, drawn with matplotlib, the CJK font embedded;
        needs the ``static`` extra).
    """
    blocks = plan_blocks(ctx, run_id=run_id, inputs_sha256=inputs_sha256, map_png=map_png)
    title = _t(ctx.scenario.title.zh)
    return _pdf(blocks, title=title) if fmt == "pdf" else _docx(blocks, title=title)


# --------------------------------------------------------------------------- the roster in figures
def _movers(households: pd.DataFrame) -> pd.DataFrame:
    """The 搬迁对象: the roster's relocating households matched to a village (as the 公示名单 counts them)."""
    h = households
    keep = h["relocate"].astype(bool) & (h["village_id"].fillna("").astype(str) != "")
    return h[keep]


def _shares(df: pd.DataFrame, total: float) -> pd.DataFrame:
    return df.assign(household_share=df["households"] / total if total else 0.0)


def _breakdown(
    movers: pd.DataFrame, key: pd.Series, order: Sequence[str], *, always: Sequence[str] = ()
) -> pd.DataFrame:
    """Households and persons per category of ``key``, in ``order`` (then the others by size), with a 合计 row."""
    persons = pd.to_numeric(movers["persons"], errors="coerce").fillna(0)
    g = pd.DataFrame({"category": key.to_numpy(), "persons": persons.to_numpy()})
    agg = g.groupby("category", sort=False).agg(households=("persons", "size"), persons=("persons", "sum"))
    rest = sorted((c for c in agg.index if c not in order), key=lambda c: (-int(agg.at[c, "households"]), str(c)))
    cats = [c for c in order if c in agg.index or c in always] + rest
    out = pd.DataFrame(
        {
            "category": cats,
            "households": [int(agg.at[c, "households"]) if c in agg.index else 0 for c in cats],
            "persons": [int(agg.at[c, "persons"]) if c in agg.index else 0 for c in cats],
        }
    )
    total = pd.DataFrame({"category": ["合计"], "households": [len(movers)], "persons": [int(persons.sum())]})
    return _shares(pd.concat([out, total], ignore_index=True), float(len(movers)))


def _area_class(area: float, edges: Sequence[float]) -> str:
    if pd.isna(area):
        return "未填报"
    for lo, hi in itertools.pairwise(edges):
        if lo <= area < hi:
            return f"{hi:g}平方米以下" if lo == 0 else f"{lo:g}—{hi:g}平方米"
    return f"{edges[-1]:g}平方米及以上"


def _area_classes(edges: Sequence[float]) -> list[str]:
    return [_area_class(lo, edges) for lo in edges]


def roster_summary(
    tables: Mapping[str, pd.DataFrame],
    *,
    order: Sequence[tuple[str, str]] = (),
    area_classes_m2: Sequence[float] = HOUSE_AREA_CLASSES_M2,
) -> dict[str, pd.DataFrame]:
    """The 搬迁对象 chapter's tables, computed from a run's roster tables (nothing retyped).

    The 搬迁对象 are the roster's relocating households matched to a village — the households of
    the 公示名单 and of the 直补到户清册.

    Parameters
    ----------
    tables
        The run's tables: ``roster_households``, ``roster_workflow``, ``roster_notice_villages``,
        ``roster_checks``, ``roster_payment``, ``roster_payment_lines`` (:mod:`geofupin.roster`) and
        ``budget_county`` (:mod:`geofupin.policy`; its lines paid to households).
    order
        ``(township, village)`` pairs in the order the plan lists them (the township table);
        others follow, sorted.
    area_classes_m2
        Lower bounds of the current house area classes, in m², starting at 0.

    Returns
    -------
    dict
        ``by_village`` (``township``, ``village_name``, ``groups``, ``households``, ``persons``,
        ``poor_households``, ``poor_persons``, ``row_kind``: detail, subtotal per township, total);
        ``by_status``, ``by_cause``, ``by_house_area``, ``by_wish`` (``category``, ``households``,
        ``persons``, ``household_share``, the last row 合计); ``workflow`` (one row per stage:
        ``stage_zh``, ``done_households``, ``done_share``, ``at_stage_households``, ``first_date``,
        ``last_date``); ``notice`` (the villages' posting dates); ``checks`` (``check_zh``,
        ``severity_zh``, ``count``, ``example_zh``); ``payment`` (per payer: ``payer_zh``,
        ``budget_yuan``, ``roster_yuan``, ``diff_yuan``, the last row 合计) and ``tranches``
        (``tranche_zh``, ``amount_yuan``, the last row 合计).
    """
    movers = _movers(tables["roster_households"])
    n = float(len(movers))
    persons = pd.to_numeric(movers["persons"], errors="coerce").fillna(0).astype(int)
    poor = movers["status"].isin(POOR_STATUSES)
    out: dict[str, pd.DataFrame] = {}
    # -- by township and village, in the plan's order
    rank = {k: i for i, k in enumerate(dict.fromkeys(order))}
    town_rank = {t: i for i, t in enumerate(dict.fromkeys(t for t, _ in order))}
    m = pd.DataFrame(
        {
            "township": movers["township"].fillna("").astype(str).to_numpy(),
            "village_name": movers["village_name"].fillna("").astype(str).to_numpy(),
            "group": movers["group"].fillna("").astype(str).to_numpy(),
            "persons": persons.to_numpy(),
            "poor": poor.to_numpy(),
        }
    )
    m["poor_persons"] = m["persons"].where(m["poor"], 0)
    g = m.groupby(["township", "village_name"], sort=False).agg(
        groups=("group", lambda s: len({x for x in s if x})),
        households=("persons", "size"),
        persons=("persons", "sum"),
        poor_households=("poor", "sum"),
        poor_persons=("poor_persons", "sum"),
    )
    g = g.reset_index()
    big = len(rank) + 1
    g["_t"] = [town_rank.get(t, big) for t in g["township"]]
    g["_v"] = [rank.get((t, v), big) for t, v in zip(g["township"], g["village_name"], strict=True)]
    g = g.sort_values(["_t", "township", "_v", "village_name"], kind="stable").drop(columns=["_t", "_v"])
    rows = []
    nums = ["groups", "households", "persons", "poor_households", "poor_persons"]
    for town, tg in g.groupby("township", sort=False):
        rows.append(tg.assign(row_kind="detail"))
        sub = {c: int(tg[c].sum()) for c in nums}
        rows.append(
            pd.DataFrame([{"township": f"{town}小计", "village_name": f"{len(tg)}个村", **sub, "row_kind": "subtotal"}])
        )
    tot = {c: int(g[c].sum()) for c in nums}
    n_town = g["township"].nunique()
    rows.append(
        pd.DataFrame(
            [{"township": f"合计({n_town}个乡镇)", "village_name": f"{len(g)}个村", **tot, "row_kind": "total"}]
        )
    )
    out["by_village"] = pd.concat(rows, ignore_index=True)[["township", "village_name", *nums, "row_kind"]]
    # -- by status, cause, current house area, wish
    out["by_status"] = _breakdown(
        movers, movers["status"].map(lambda v: STATUS_ZH.get(v, v)), [STATUS_ZH[s] for s in STATUS_ZH],
        always=[STATUS_ZH[s] for s in POOR_STATUSES],
    )  # fmt: skip
    cause = movers["poverty_cause"].fillna("").astype(str).str.strip().replace("", "未填报")
    out["by_cause"] = _breakdown(movers, cause, [])
    # the 未填报 row last
    bc = out["by_cause"]
    out["by_cause"] = pd.concat(
        [bc[~bc["category"].isin(["未填报", "合计"])], bc[bc["category"].isin(["未填报", "合计"])]]
    )
    out["by_cause"] = out["by_cause"].reset_index(drop=True)
    area = pd.to_numeric(movers["current_floor_area_m2"], errors="coerce")
    classes = _area_classes(area_classes_m2)
    out["by_house_area"] = _breakdown(
        movers, area.map(lambda a: _area_class(a, area_classes_m2)), [*classes, "未填报"], always=classes
    )
    wish = movers["wish"].fillna("").astype(str).map(lambda w: WISH_ZH.get(w, "未填报"))
    out["by_wish"] = _breakdown(movers, wish, [*WISH_ZH.values(), "未填报"], always=list(WISH_ZH.values()))
    # -- workflow: households that finished each stage, and the dates
    wf = tables.get("roster_workflow")
    if wf is not None:
        wf = wf[wf["row"].isin(set(movers["row"]))]
        recs = []
        for st in STAGES:
            dates = wf[f"{st}_date"].fillna("").astype(str)
            done = dates[dates != ""]
            recs.append(
                {
                    "stage_zh": STAGE_ZH[st],
                    "done_households": len(done),
                    "done_share": len(done) / n if n else 0.0,
                    "at_stage_households": int((wf["stage"] == st).sum()),
                    "first_date": done.min() if len(done) else "",
                    "last_date": done.max() if len(done) else "",
                }
            )
        none = int((wf["stage"].fillna("") == "").sum())
        if none:
            recs.insert(0, {"stage_zh": "未申请(无日期)", "done_households": 0, "done_share": 0.0,
                            "at_stage_households": none, "first_date": "", "last_date": ""})  # fmt: skip
        out["workflow"] = pd.DataFrame(recs)
    nv = tables.get("roster_notice_villages")
    if nv is not None:
        out["notice"] = nv
    # -- the roster checks
    ch = tables.get("roster_checks")
    if ch is not None:
        recs = []
        for (check, sev), cg in ch.groupby(["check", "severity"], sort=False):
            recs.append(
                {
                    "check_zh": CHECK_ZH.get(str(check), str(check)),
                    "severity_zh": "错误" if sev == "error" else "提示",
                    "count": len(cg),
                    "example_zh": _check_example(cg.iloc[0]),
                }
            )
        out["checks"] = pd.DataFrame(recs, columns=["check_zh", "severity_zh", "count", "example_zh"])
    # -- the payment roster against the budget's lines paid to households, per payer
    pay = tables.get("roster_payment")
    bc = tables.get("budget_county")
    if pay is not None:
        budget = pd.Series(dtype=float)
        names: dict[str, str] = {}
        if bc is not None and len(bc):
            hh = bc[(bc["paid_to"] == "household") & (bc["basis"] != "share_of") & (bc["payer"] != "total")]
            budget = hh.groupby("payer", sort=False)["amount_yuan"].sum()
            names = dict(zip(hh["payer"], hh["payer_zh"], strict=False))
        payers = list(dict.fromkeys([*budget.index, *(c[: -len("_yuan")] for c in pay.columns if _is_payer(c))]))
        recs = []
        for p in payers:
            got = float(pay[f"{p}_yuan"].sum()) if f"{p}_yuan" in pay.columns else 0.0
            want = float(budget.get(p, 0.0))
            recs.append({"payer_zh": names.get(p) or VALUE_LABELS["payer"].get(p, p), "budget_yuan": round(want, 2),
                         "roster_yuan": round(got, 2)})  # fmt: skip
        recs.append(
            {
                "payer_zh": "合计",
                "budget_yuan": round(float(budget.sum()), 2),
                "roster_yuan": round(float(pay["total_yuan"].sum()), 2),
            }
        )
        pm = pd.DataFrame(recs)
        pm["diff_yuan"] = (pm["roster_yuan"] - pm["budget_yuan"]).round(2)
        out["payment"] = pm
        lines = tables.get("roster_payment_lines")
        if lines is not None and len(lines):
            tr = lines.groupby(["tranche_order", "tranche_zh"], sort=True)["amount_yuan"].sum().reset_index()
            tr = pd.concat(
                [tr, pd.DataFrame({"tranche_zh": ["合计"], "amount_yuan": [float(lines["amount_yuan"].sum())]})],
                ignore_index=True,
            )
            out["tranches"] = tr[["tranche_zh", "amount_yuan"]].assign(amount_yuan=lambda d: d["amount_yuan"].round(2))
    return out


def _check_example(r: pd.Series) -> str:
    """One problem as the office finds it: 第12行 张三:message (the row and head when the check names a household)."""
    where = []
    row = r.get("row")
    if row is not None and pd.notna(row):
        where.append(f"第{int(row)}行")
    if _t(r.get("head_name")):
        where.append(_t(r.get("head_name")))
    return (" ".join(where) + ":" if where else "") + _t(r.get("message_zh"))


def _is_payer(col: str) -> bool:
    return col.endswith("_yuan") and col != "total_yuan" and not col.startswith("tranche_")


def _plan(ctx: RunContext, *, run_id: str, inputs_sha256: Mapping[str, str], map_png: bytes | None) -> _Doc:
    tabs: dict[str, pd.DataFrame] = {}
    for res in ctx.results.values():
        tabs.update(res.tables)
    doc = _Doc()
    _cover(doc, ctx, run_id=run_id, inputs_sha256=inputs_sha256)
    for chapter in CHAPTERS:
        chapter(doc, ctx, tabs, map_png)
    return doc


Tables = Mapping[str, pd.DataFrame]


def _cover(doc: _Doc, ctx: RunContext, *, run_id: str, inputs_sha256: Mapping[str, str]) -> None:
    sc = ctx.scenario
    doc.title(sc.title.zh)
    if sc.title.en:
        doc.para(sc.title.en)
    doc.para("编制单位:", OFFICE_TEXT)
    doc.para("编制日期:", OFFICE_TEXT)
    doc.para("运行编号 run id:", run_id)
    for k, h in sorted(inputs_sha256.items()):
        doc.para(f"输入文件 {k} SHA-256:", h)


def _total_row(tt: pd.DataFrame) -> tuple[float, float]:
    detail = tt[tt["row_kind"] == "detail"]
    total = tt[tt["row_kind"] == "total"]
    hh = float(total["households"].iloc[0]) if len(total) else float(detail["households"].sum())
    pp = float(total["persons"].iloc[0]) if len(total) else float(detail["persons"].sum())
    return hh, pp


def _groups_of(detail: pd.DataFrame) -> int:
    return sum(len([g for g in str(s).split("、") if g]) for s in detail["group"].fillna(""))


# --------------------------------------------------------------------------- 第一章 总论
def _ch_general(doc: _Doc, ctx: RunContext, tabs: Tables, map_png: bytes | None) -> None:
    doc.chapter("总论")
    plan_sum = dict(ctx.results["plan"].summary) if "plan" in ctx.results else {}
    doc.section("规划依据")
    if plan_sum:
        doc.para("补助政策:", _t(plan_sum.get("policy", "")), "。")
    doc.para(OFFICE_TEXT)
    doc.section("规划范围与期限")
    tt = tabs.get("township_table")
    yr = tabs.get("phasing_years")
    if tt is not None and len(tt):
        detail = tt[tt["row_kind"] == "detail"]
        n_grp = _groups_of(detail)
        grp = f"、{n_grp}个村民小组" if n_grp else ""
        doc.para(f"规划范围为全县{detail['township'].nunique()}个乡镇的{len(detail)}个搬迁村{grp}。")
    if yr is not None and len(yr):
        doc.para(f"规划期限为{int(yr['year'].min())}—{int(yr['year'].max())}年,一次规划、分步实施。")
    doc.section("规划目标")
    if tt is not None and len(tt):
        detail = tt[tt["row_kind"] == "detail"]
        hh, pp = _total_row(tt)
        doc.para(
            f"规划期内全县搬迁安置{hh:,.0f}户、{pp:,.0f}人,涉及{detail['township'].nunique()}个乡镇、{len(detail)}个村。"
        )
        total = tt[tt["row_kind"] == "total"]
        if len(total) and "remarks" in total and _t(total["remarks"].iloc[0]).strip():
            doc.para("说明:", _t(total["remarks"].iloc[0]).split(" / ")[0], "。")
    else:
        doc.para("未运行规划步骤,无搬迁规模数据。")
    if yr is not None and len(yr):
        used = yr[yr["households"] > 0]
        parts = [f"{int(r.year)}年搬迁{r.households:,.0f}户、{r.persons:,.0f}人" for r in used.itertuples()]
        if parts:
            doc.para("年度目标:", ";".join(parts), "。")
    load = tabs.get("site_load")
    if load is not None and "open" in load:
        opened = load[load["open"].astype(bool)]
        summ = dict(ctx.results["allocate"].summary) if "allocate" in ctx.results else {}
        words = f"规划建设安置点{len(opened)}个"
        if summ.get("unserved_persons"):
            words += f",尚有{_count(summ['unserved_persons'])}人未能安排安置点(见第四章)"
        doc.para(words, ",安置点基础设施和公共服务配套同步规划、同步建设。")


# --------------------------------------------------------------------------- 第二章 搬迁对象
def _ch_objects(doc: _Doc, ctx: RunContext, tabs: Tables, map_png: bytes | None) -> None:
    doc.chapter("搬迁对象")
    if "roster_households" in tabs and len(tabs["roster_households"]):
        _objects_roster(doc, ctx, tabs)
    else:
        _objects_registry(doc, ctx, tabs)


def _plan_order(tabs: Tables) -> list[tuple[str, str]]:
    tt = tabs.get("township_table")
    if tt is None:
        return []
    d = tt[tt["row_kind"] == "detail"]
    return list(zip(d["township"].astype(str), d["village"].astype(str), strict=True))


def _objects_registry(doc: _Doc, ctx: RunContext, tabs: Tables) -> None:
    doc.para("本规划未附搬迁对象名册(户表),搬迁对象按村庄登记数据统计。")
    tt = tabs.get("township_table")
    v = ctx.layers.villages
    if "relocate_households" in v.columns:
        rel = v[pd.to_numeric(v["relocate_households"], errors="coerce").fillna(0) > 0]
        words = [f"登记搬迁{_count(rel['relocate_households'].sum())}户"]
        if "relocate_persons" in rel.columns:
            words[0] += f"、{_count(rel['relocate_persons'].sum())}人"
        if "poor_households" in rel.columns:
            w = f"搬迁村建档立卡贫困户{_count(rel['poor_households'].sum())}户"
            if "poor_persons" in rel.columns:
                w += f"、{_count(rel['poor_persons'].sum())}人"
            words.append(w)
        doc.para(f"据村庄登记,全县{len(rel)}个村民小组(村)", ",".join(words), "。")
        if "poverty_cause" in rel.columns and rel["poverty_cause"].notna().any():
            cause = rel["poverty_cause"].fillna("").astype(str).str.strip().replace("", "未填报")
            hh = pd.to_numeric(rel["relocate_households"], errors="coerce").fillna(0)
            g = pd.DataFrame({"category": cause.to_numpy(), "groups": 1, "households": hh.to_numpy()})
            agg = (
                g.groupby("category", sort=False)
                .sum()
                .reset_index()
                .sort_values(["households", "category"], ascending=[False, True])
            )
            doc.table(
                "registry_causes", agg, ["category", "groups", "households"], caption="搬迁村主要致贫原因(村庄登记)"
            )
    if tt is not None:
        doc.table(
            "township_table",
            tt,
            ["township", "village", "group", "households", "persons"],
            caption="搬迁对象分乡镇、分村统计(村庄登记)",
        )


def _objects_roster(doc: _Doc, ctx: RunContext, tabs: Tables) -> None:
    r = roster_summary(tabs, order=_plan_order(tabs))
    bv = r["by_village"]
    total = bv[bv["row_kind"] == "total"].iloc[0]
    detail = bv[bv["row_kind"] == "detail"]
    st = r["by_status"].set_index("category")
    # -- 一、搬迁规模
    doc.section("搬迁对象与规模")
    flow = "→".join(STAGE_ZH[s] for s in STAGES)
    doc.para(f"搬迁对象按{flow}的程序逐户识别认定,以搬迁对象名册为准。")
    non_poor = int(st.at[STATUS_ZH["non_poor"], "households"]) if STATUS_ZH["non_poor"] in st.index else 0
    kinds = "、".join(f"{STATUS_ZH[s]}{int(st.at[STATUS_ZH[s], 'households']):,}户" for s in POOR_STATUSES)
    doc.para(
        f"全县纳入搬迁的对象共{int(total['households']):,}户、{int(total['persons']):,}人,分布在"
        f"{detail['township'].nunique()}个乡镇的{len(detail)}个村、{int(total['groups'])}个村民小组;其中建档立卡贫困户"
        f"{int(total['poor_households']):,}户、{int(total['poor_persons']):,}人({kinds})"
        + (f",同步搬迁的非贫困户{non_poor:,}户" if non_poor else "")
        + "。"
    )
    diff = _roster_vs_plan(detail, tabs.get("township_table"))
    if diff is None:
        pass
    elif diff.empty:
        doc.para("名册各村搬迁户数、人数与搬迁规划(村庄登记)逐村一致。")
    else:
        doc.para(f"名册与搬迁规划有{len(diff)}个村的户数或人数不一致(见{doc.next_table()}),上报前须逐户核实。")
        doc.table(
            "roster_vs_plan",
            diff,
            ["township", "village_name", "households", "plan_households", "persons", "plan_persons"],
            caption="名册与搬迁规划不一致的村",
        )
    doc.table(
        "roster_by_village",
        bv,
        ["township", "village_name", "groups", "households", "persons", "poor_households", "poor_persons"],
        caption="搬迁对象分乡镇、分村统计",
    )
    # -- 二、构成
    doc.section("搬迁对象构成")
    cause = r["by_cause"]
    named = cause[~cause["category"].isin(["未填报", "合计"])]
    parts = []
    if len(named):
        top = named.iloc[0]
        parts.append(f"主要致贫原因为{top['category']}({int(top['households']):,}户,占{top['household_share']:.1%})")
    area = pd.to_numeric(_movers(tabs["roster_households"])["current_floor_area_m2"], errors="coerce")
    pers = pd.to_numeric(_movers(tabs["roster_households"])["persons"], errors="coerce")
    known = area.notna() & pers.notna()
    if known.any():
        parts.append(f"现住房人均面积{float(area[known].sum() / pers[known].sum()):.1f}平方米")
    wish = r["by_wish"].set_index("category")
    parts.append(
        f"愿意集中安置的{int(wish.at[WISH_ZH['central'], 'households']):,}户、分散安置的"
        f"{int(wish.at[WISH_ZH['scattered'], 'households']):,}户"
    )
    first = doc.next_table()
    doc.para(";".join(parts), f"。分类统计见{first}至表{doc.chapter_no}-{doc.table_no + 4}。")
    for name, key, cap in (
        ("roster_by_status", "by_status", "搬迁对象按户类型统计"),
        ("roster_by_cause", "by_cause", "搬迁对象按致贫原因统计"),
        ("roster_by_house_area", "by_house_area", "搬迁对象按现住房面积统计"),
        ("roster_by_wish", "by_wish", "搬迁对象按安置意愿统计"),
    ):
        doc.table(name, r[key], ["category", "households", "persons", "household_share"], caption=cap)
    # -- 三、工作程序
    wf = r.get("workflow")
    if wf is not None:
        doc.section("识别认定程序与进度")
        last = wf.iloc[-1]
        appr = wf[wf["stage_zh"] == STAGE_ZH["county_approval"]].iloc[0]
        dates = [d for d in wf["last_date"] if d]
        when = f"截至{_date_zh(max(dates))}," if dates else ""
        doc.para(
            f"{when}{int(appr['done_households']):,}户已经{STAGE_ZH['county_approval']},"
            f"{int(last['done_households']):,}户已报{STAGE_ZH['city_filing']}"
            f"(占搬迁户{float(last['done_share']):.1%});各环节完成情况见{doc.next_table()}。"
        )
        doc.table(
            "roster_workflow",
            wf,
            ["stage_zh", "done_households", "done_share", "at_stage_households", "first_date", "last_date"],
            caption="搬迁对象识别认定程序进度",
        )
    # -- 四、公示
    nv = r.get("notice")
    if nv is not None:
        doc.section("张榜公示")
        posted = nv[nv["posting_date"].fillna("") != ""]
        days = sorted({int(d) for d in nv["period_days"]})
        words = f"评议结果由村委会张榜公示,公示期{'、'.join(map(str, days))}天(张榜当日计为第1天)。"
        if len(posted):
            words += (
                f"{len(posted)}个村民小组已于{_date_zh(posted['posting_date'].min())}至"
                f"{_date_zh(posted['posting_date'].max())}张榜,最晚于{_date_zh(posted['period_end'].max())}公示期满"
            )
            words += f";{len(nv) - len(posted)}个村民小组尚未确定张榜日期。" if len(posted) < len(nv) else "。"
        else:
            words += "各村尚未确定张榜日期。"
        doc.para(words)
        doc.table(
            "roster_notice_villages",
            nv,
            ["township", "village_name", "group", "households", "persons", "posting_date", "period_end"],
            caption="分村民小组张榜公示",
        )
    ch = r.get("checks")
    if ch is not None:
        if ch.empty:
            doc.para(
                "经对名册逐户核查(身份证号码、户数人数与建档立卡登记、建房面积标准、工作程序日期、公示期等),未发现问题。"
            )
        else:
            err = int(ch.loc[ch["severity_zh"] == "错误", "count"].sum())
            warn = int(ch.loc[ch["severity_zh"] == "提示", "count"].sum())
            doc.para(f"经对名册逐户核查,发现错误{err}处、提示{warn}处(见{doc.next_table()});错误须在公示和上报前更正。")
            doc.table(
                "roster_checks", ch, ["check_zh", "severity_zh", "count", "example_zh"], caption="名册核查发现的问题"
            )
    # -- 五、直补到户
    pm = r.get("payment")
    if pm is not None:
        doc.section("补助资金直补到户")
        tot = pm.iloc[-1]
        n_paid = len(tabs["roster_payment"])
        text = (
            f"住房补助资金由县扶贫办和财政局共同负责直补到户。直补到户清册共{n_paid:,}户,补助资金合计"
            f"{_wan(float(tot['roster_yuan']))}万元({float(tot['roster_yuan']):,.2f}元),"
        )
        if abs(float(tot["diff_yuan"])) < 0.005:
            text += f"与资金测算中直补到户各项合计{float(tot['budget_yuan']):,.2f}元一致。"
        else:
            text += (
                f"资金测算中直补到户各项合计{float(tot['budget_yuan']):,.2f}元,相差{float(tot['diff_yuan']):,.2f}元,"
                "须核对名册户数、人数。"
            )
        doc.para(text)
        doc.table(
            "roster_payment_check",
            pm,
            ["payer_zh", "budget_yuan", "roster_yuan", "diff_yuan"],
            caption="直补到户资金核对(分资金来源)",
        )
        tr = r.get("tranches")
        if tr is not None:
            doc.table("roster_payment_tranches", tr, ["tranche_zh", "amount_yuan"], caption="直补到户资金拨付批次")


def _roster_vs_plan(detail: pd.DataFrame, tt: pd.DataFrame | None) -> pd.DataFrame | None:
    """Villages whose roster households or persons differ from the plan's township table (``None``: no table)."""
    if tt is None or not len(tt):
        return None
    plan = tt[tt["row_kind"] == "detail"]
    p = plan.groupby(["township", "village"], sort=False)[["households", "persons"]].sum()
    d = detail.set_index(["township", "village_name"])[["households", "persons"]]
    keys = list(dict.fromkeys([*p.index, *d.index]))
    rows = []
    for k in keys:
        ph, pp = (float(p.at[k, "households"]), float(p.at[k, "persons"])) if k in p.index else (0.0, 0.0)
        rh, rp = (float(d.at[k, "households"]), float(d.at[k, "persons"])) if k in d.index else (0.0, 0.0)
        if (ph, pp) != (rh, rp):
            rows.append({"township": k[0], "village_name": k[1], "households": rh, "plan_households": ph,
                         "persons": rp, "plan_persons": pp})  # fmt: skip
    return pd.DataFrame(
        rows, columns=["township", "village_name", "households", "plan_households", "persons", "plan_persons"]
    )


_UNIT_IN_TEXT = ((re.compile(r"(?<=\d) ?min\b"), "分钟"), (re.compile(r"(?<=\d) ?m\b(?![²2])"), "米"))


def _reasons_zh(text: Any) -> str:
    """A rejection reason in the units of Chinese text: ``1,101 m`` as ``1,101米``, ``115 min`` as ``115分钟``."""
    out = _t(text)
    for pat, word in _UNIT_IN_TEXT:
        out = pat.sub(word, out)
    return out


# --------------------------------------------------------------------------- 第三章 选址
def _ch_siting(doc: _Doc, ctx: RunContext, tabs: Tables, map_png: bytes | None) -> None:
    doc.chapter("安置点选址与论证")
    doc.section("选址原则")
    doc.para("选址坚持近水、近电、近路,与集镇、中心社区布点相一致,避开基本农田、生态保护红线、地质灾害隐患点和洪涝区。")
    site_sum = dict(ctx.results["site"].summary) if "site" in ctx.results else {}
    rs = tabs.get("site_rule_summary")
    rules = tabs.get("site_rules")
    if rs is not None and len(rs):
        doc.section("筛选规则")
        thr: dict[str, str] = {}
        if rules is not None and len(rules):
            for r in rules.drop_duplicates("rule").itertuples():
                op = VALUE_LABELS["op"].get(str(r.op), str(r.op))
                unit = VALUE_LABELS["unit"].get(str(r.unit), str(r.unit))
                if unit == "比例":
                    thr[str(r.rule)] = f"{op}{float(r.threshold):.0%}"
                else:
                    thr[str(r.rule)] = f"{op}{float(r.threshold):,.4g}{unit}"
        n_all = site_sum.get("candidates")
        n_ok = site_sum.get("passed")
        if n_all is not None and n_ok is not None:
            doc.para(
                f"{int(n_all)}个候选安置点逐一按{len(rs)}项硬性规则筛选,{int(n_ok)}个通过,"
                f"{int(n_all) - int(n_ok)}个未通过。"
            )
        doc.table(
            "site_rule_summary",
            rs.assign(rule_zh=rs["label_zh"], threshold_zh=[thr.get(str(x), "") for x in rs["rule"]]),
            ["rule_zh", "threshold_zh", "failed", "failed_only"],
            caption="选址筛选规则",
        )
    w = tabs.get("site_weights")
    if w is not None and len(w):
        doc.section("评价指标与权重")
        method = VALUE_LABELS["method"].get(str(w["method"].iloc[0]), str(w["method"].iloc[0]))
        doc.para(f"通过筛选的候选点按{len(w)}项指标综合评价,评价方法为{method},各指标经极差标准化后加权。")
        doc.table(
            "site_weights",
            _coded(w, ["unit", "direction", "method"]),
            ["label_zh", "unit", "direction", "weight", "method"],
            caption="选址评价指标与权重",
        )
    r = tabs.get("site_ranking")
    if r is not None:
        doc.section("候选点综合排序")
        doc.table(
            "site_ranking",
            _coded(r, ["tier"]),
            ["rank", "site_id", "name", "township", "tier", "score", "capacity_persons"],
            caption="候选安置点排序",
        )
    sens = tabs.get("site_sensitivity")
    if sens is not None and len(sens):
        doc.section("敏感性分析")
        labels = dict(zip(w["criterion"], w["label_zh"], strict=False)) if w is not None else {}
        base = str(r["site_id"].iloc[0]) if r is not None and len(r) else ""
        rows = []
        for crit, g in sens.groupby("criterion", sort=False):
            lo, hi = float(g["change"].min()), float(g["change"].max())
            rows.append(
                {
                    "criterion_zh": labels.get(crit, crit),
                    "change_zh": f"{lo:+.0%}至{hi:+.0%}",
                    "top1_changed": bool((g["top1_site_id"].astype(str) != base).any()) if base else False,
                    "topk_changed": bool(g["topk_changed"].astype(bool).any()),
                    "rank_corr": float(g["rank_corr"].min()),
                }
            )
        st = pd.DataFrame(rows)
        stable = site_sum.get("stable_topk") or []
        mc = site_sum.get("monte_carlo") or {}
        top_k = int(mc.get("top_k", 0)) or len(str(sens["topk_site_ids"].iloc[0]).split(","))
        n1, nk = int(st["top1_changed"].sum()), int(st["topk_changed"].sum())
        words = f"逐项将各指标权重调整{st['change_zh'].iloc[0]}(其余指标按比例调整):"
        words += f"{n1}项指标的权重变动使排名第一的安置点改变," if n1 else "排名第一的安置点均不变,"
        words += f"{nk}项使前{top_k}位安置点改变," if nk else f"前{top_k}位安置点均不变,"
        words += f"排序相关系数最低为{st['rank_corr'].min():.2f}。"
        if stable and mc:
            words += (
                f"随机抽取权重{int(mc.get('draws', 0)):,}次,{'、'.join(map(str, stable))}在"
                f"{float(mc.get('stable_share', 0)):.0%}以上的抽样中位列前{int(mc.get('top_k', 0))}位,选址结论稳定。"
            )
        doc.para(words)
        doc.table(
            "site_sensitivity",
            st,
            ["criterion_zh", "change_zh", "top1_changed", "topk_changed", "rank_corr"],
            caption="权重敏感性分析",
        )
    sites = ctx.layer("sites")
    if sites is not None and "passed" in sites:
        rej = attributes(sites[~sites["passed"].astype(bool)])
        doc.section("未通过筛选的候选点")
        if len(rej):
            doc.para(f"{len(rej)}个候选点未通过筛选,逐点原因见{doc.next_table()}。")
            doc.table(
                "sites_rejected",
                rej.assign(reasons_zh=rej["reasons_zh"].map(_reasons_zh)),
                ["site_id", "name", "township", "reasons_zh"],
                caption="未通过筛选的候选点及原因",
            )
        else:
            doc.para("全部候选点均通过筛选。")
    if map_png:
        doc.picture(map_png, "安置点选址与搬迁分配图")


# --------------------------------------------------------------------------- 第四章 安置方式与分配
def _alloc_mode(doc: _Doc, ctx: RunContext, tabs: Tables) -> None:
    doc.section("安置方式")
    words = "采取整村搬迁为主、分散搬迁为辅,分步实施的方式"
    summ = dict(ctx.results["allocate"].summary) if "allocate" in ctx.results else {}
    if summ.get("model") == "single_source":
        words += ",每个村民小组整体搬迁至同一安置点"
    doc.para(words, "。")
    if "roster_households" in tabs and len(tabs["roster_households"]):
        wish = roster_summary(tabs)["by_wish"].set_index("category")
        c, d = wish.loc[WISH_ZH["central"]], wish.loc[WISH_ZH["scattered"]]
        doc.para(
            f"据搬迁对象名册,愿意集中安置的{int(c['households']):,}户、{int(c['persons']):,}人,"
            f"愿意分散安置的{int(d['households']):,}户、{int(d['persons']):,}人。"
        )


def _alloc_sites(doc: _Doc, ctx: RunContext, tabs: Tables) -> None:
    load = tabs.get("site_load")
    if load is None:
        return
    doc.section("安置点安置规模")
    opened = load[load["open"].astype(bool)] if "open" in load else load
    doc.para(
        f"全县规划安置点{len(opened)}个,安置{_count(opened['assigned_households'].sum())}户、"
        f"{_count(opened['assigned_persons'].sum())}人。"
    )
    doc.table(
        "site_load",
        _coded(opened, ["tier"]),
        ["site_id", "name", "tier", "capacity_persons", "assigned_households", "assigned_persons", "occupancy_share"],
        caption="安置点安置规模",
    )


def _alloc_groups(doc: _Doc, ctx: RunContext, tabs: Tables) -> None:
    a = tabs.get("assignment")
    if a is None or not len(a):
        return
    doc.section("村民小组搬迁去向")
    a = a.sort_values(["township", "name", "group"], kind="stable").rename(columns={"name": "village"})
    doc.table(
        "assignment",
        a,
        ["township", "village", "group", "site_name", "households", "persons", "time_min", "dist_km"],
        caption="村民小组搬迁去向",
    )
    un = tabs.get("unserved")
    if un is not None and len(un):
        doc.para(f"有{len(un)}个村民小组({_count(un['persons'].sum())}人)未能安排安置点,须调整选址或安置容量。")
        doc.table(
            "unserved",
            un,
            ["village_id", "name", "group", "households", "persons", "reason_zh"],
            caption="未能安置的村民小组",
        )


#: What each placement mode's households go to, in the document's words.
_MODE_WHERE = {
    "central": "安置点{n}处",
    "scattered": "投亲靠友、进城购房等自主安置",
    "nursing_home": "入住敬老院{n}处",
    "transitional": "入住村集体周转房{n}处",
}


def _alloc_placement(doc: _Doc, ctx: RunContext, tabs: Tables) -> None:
    """分散安置与特殊群体安置: the households of each placement mode, their subsidies, and who could not be placed."""
    modes = tabs.get("placement_modes")
    if modes is None or modes.empty or set(modes["mode"]) <= {"central"}:
        return
    doc.section("分散安置与特殊群体安置")
    parts = []
    for r in modes.itertuples(index=False):
        where = _MODE_WHERE.get(str(r.mode), "").format(n=_count(r.destinations))
        parts.append(
            f"{_t(r.mode_zh)}{_count(r.households)}户、{_count(r.persons)}人" + (f"({where})" if where else "")
        )
    doc.para("按搬迁户的意愿和户类型逐户确定安置方式:" + ";".join(parts), "。")
    doc.para("五保户按集中供养与分散供养相结合安置,特困户在自愿的前提下入住政府建设、产权归村集体的免租金周转房。")
    budget = tabs.get("budget_mode")
    table = modes
    if budget is not None and {"mode", "total_yuan"} <= set(budget.columns):
        table = modes.merge(budget[["mode", "total_yuan"]], on="mode", how="left")
    doc.table(
        "placement_modes",
        table,
        ["mode_zh", "households", "persons", "destinations", "total_wan"],
        caption="安置方式汇总",
    )
    un = tabs.get("placement_unplaced")
    if un is not None and len(un):
        doc.para(f"有{len(un)}户未能按意愿安置,改为其他方式安置,原因见下表。")
        doc.table(
            "placement_unplaced",
            un,
            ["name", "head_name", "status_zh", "persons", "wanted_mode_zh", "reason_zh", "fallback_mode_zh"],
            caption="未能按意愿安置的户",
        )


#: The sections of 第四章 安置方式与分配, in order: ``f(doc, ctx, tables)``; a new placement table
#: (分散安置, 集中供养, 周转房) is a new function in this list.
ALLOCATION_SECTIONS: list[Any] = [_alloc_mode, _alloc_placement, _alloc_sites, _alloc_groups]


def _ch_allocation(doc: _Doc, ctx: RunContext, tabs: Tables, map_png: bytes | None) -> None:
    doc.chapter("安置方式与分配")
    for section in ALLOCATION_SECTIONS:
        section(doc, ctx, tabs)


# --------------------------------------------------------------------------- 第五章 基础设施
def _ch_infrastructure(doc: _Doc, ctx: RunContext, tabs: Tables, map_png: bytes | None) -> None:
    doc.chapter("基础设施与公共服务规划")
    ps = tabs.get("plan_sites")
    if ps is not None and len(ps):
        doc.section("安置点基础设施")
        doc.para(
            f"安置点场外道路、供水、供电和学校等配套投资合计{_wan(float(ps['total_cost_yuan'].sum()))}万元,"
            f"新建或改造道路{float(ps['road_length_m'].sum()) / 1e3:,.2f}公里,"
            f"需幼儿园学位{_count(ps['kindergarten_places'].sum())}个、小学学位{_count(ps['primary_places'].sum())}个。"
        )
        doc.table(
            "plan_sites",
            ps,
            ["site_id", "name", "road_length_km", "road_cost_wan", "water_cost_wan", "power_cost_wan",
             "kindergarten_places", "primary_places", "total_cost_wan"],
            caption="安置点基础设施与公共服务",
        )  # fmt: skip
    con = tabs.get("site_construction")
    if con is not None and len(con):
        doc.section("安置点建设规划")
        doc.para(
            "跨乡镇安置和县城、集镇安置点实行集中统建;各安置点的用地、分期安置规模、户型、建设方式、"
            f"村内配套和公共服务需求见{doc.next_table()}。"
        )
        con = con.assign(
            area_mu=(con["area_m2"] / M2_PER_MU).round(2),
            build_mode=con["build_mode"].map(lambda v: VALUE_LABELS["build_mode"].get(v, v)),
        )
        doc.table(
            "site_construction",
            con,
            ["site_id", "name", "area_mu", "households", "persons", "phases", "house_types", "build_mode",
             "in_site_cost_wan", "kindergarten_places", "primary_places", "clinic_needed"],
            caption="安置点建设规划表",
        )  # fmt: skip
    if (ps is None or not len(ps)) and (con is None or not len(con)):
        doc.para("未运行规划步骤,本章由编制单位补充。")


# --------------------------------------------------------------------------- 第六章 资金
def _ch_funding(doc: _Doc, ctx: RunContext, tabs: Tables, map_png: bytes | None) -> None:
    doc.chapter("资金估算与筹措")
    bc = tabs.get("budget_county")
    if bc is not None and len(bc):
        doc.section("补助资金估算")
        total = float(bc["amount_yuan"].sum())
        doc.para(f"按补助政策测算,省、市、县各级补助资金合计{_wan(total)}万元({total:,.2f}元)。")
        doc.table(
            "budget_county",
            bc,
            ["payer_zh", "purpose_zh", "name_zh", "quantity", "rate", "amount_yuan"],
            caption="补助资金测算",
        )
    fc = tabs.get("funding_township")
    if fc is not None:
        doc.section("资金筹措")
        county = tabs["funding_county"].iloc[0]
        doc.para(
            f"资金总需求{_wan(float(county['total_yuan']))}万元,其中各级补助{_wan(float(county['subsidy_total_yuan']))}万元,"
            f"部门配套{_wan(float(county['department_yuan']))}万元,县财政兜底{_wan(float(county['county_gap_yuan']))}万元,"
            f"群众自筹{_wan(float(county['own_total_yuan']))}万元。不足部分由部门配套和群众自筹解决,"
            "部门配套项目不能安排的部分,由县财政配套解决。"
        )
        cols = ["township", "households", "persons", "province_wan", "city_wan", "county_wan", "city_county_wan",
                "department_wan", "county_gap_wan", "own_total_wan", "total_wan"]  # fmt: skip
        doc.table(
            "funding_township", fc.drop(columns=["total_wan"], errors="ignore"), cols, caption="资金筹措方案(分乡镇)"
        )
        n_over = int(county.get("over_limit_households", 0))
        if n_over:
            doc.para(f"有{n_over}户自筹建房资金超过其年收入上限,须另行研究帮扶措施。")
    if (bc is None or not len(bc)) and fc is None:
        doc.para("未运行资金测算,本章由编制单位补充。")


# --------------------------------------------------------------------------- 第七章 分年度
def _ch_phasing(doc: _Doc, ctx: RunContext, tabs: Tables, map_png: bytes | None) -> None:
    doc.chapter("分年度实施计划")
    yr = tabs.get("phasing_years")
    if yr is None or not len(yr):
        doc.para("场景未设分年度计划(phasing),本章由编制单位补充。")
        return
    used = yr[yr["households"] > 0]
    doc.para(
        f"规划期{int(yr['year'].min())}—{int(yr['year'].max())}年,一次规划、分步实施,"
        f"搬迁任务安排在{len(used)}个年度完成,受地质灾害威胁的村民小组优先搬迁。"
    )
    short = tabs["phasing_shortfall"]
    short = short[short["extra_needed"] > 0]
    if not bool(yr["feasible"].iloc[0]):
        n = doc.table_no + 3
        doc.para(f"年度资金或建设能力上限不足以容纳全部搬迁任务,须追加的数额见表{doc.chapter_no}-{n}。")
    doc.table(
        "phasing_years",
        yr,
        ["year", "groups", "households", "persons", "hazard_households", "subsidy_total_wan", "site_works_wan",
         "cumulative_share"],
        caption="分年度搬迁任务与资金",
    )  # fmt: skip
    prog = tabs["phasing_progress"]
    doc.table(
        "phasing_progress",
        prog[prog["planned_households"] > 0],
        ["township", "year", "planned_groups", "planned_households", "planned_persons", "cumulative_share"],
        caption="分乡镇年度搬迁计划(当年搬迁计划任务完成情况考核依据)",
    )
    if len(short):
        doc.table(
            "phasing_shortfall",
            short,
            ["year", "constraint_zh", "payer_or_site", "ceiling", "used", "extra_needed"],
            caption="年度上限缺口",
        )
    doc.table(
        "phasing_plan",
        tabs["phasing_plan"].rename(columns={"name": "village"}),
        ["year", "township", "village", "group", "site_name", "households", "persons"],
        caption="村民小组搬迁年度安排",
    )


# --------------------------------------------------------------------------- 第八章 旧房
def _ch_reclamation(doc: _Doc, ctx: RunContext, tabs: Tables, map_png: bytes | None) -> None:
    doc.chapter("旧房拆除与复垦")
    rc = tabs.get("reclamation_county")
    bc = tabs.get("budget_county")
    if rc is not None and len(rc):
        r0 = rc.iloc[0]
        bal = float(r0["balance_mu"])
        doc.para(
            f"实行“一户一宅”,搬迁{float(r0['households']):,.0f}户的旧宅基地{float(r0['homestead_mu']):,.2f}亩,"
            f"可复垦{float(r0['reclaimable_mu']):,.2f}亩;安置点占用建设用地{float(r0['site_land_mu']):,.2f}亩,"
            + (
                f"城乡建设用地增减挂钩结余{bal:,.2f}亩"
                if bal >= 0
                else f"城乡建设用地增减挂钩指标缺口{-bal:,.2f}亩,须由县统筹调剂"
            )
            + f";宅基地整理费{_wan(float(r0['homestead_fee_yuan']))}万元。"
        )
        rv = tabs["reclamation_village"]
        v = ctx.layers.villages
        if "group" not in rv.columns and "group" in v.columns and "village_id" in rv.columns:
            groups = dict(zip(v["village_id"].astype(str), v["group"].fillna("").astype(str), strict=False))
            rv = rv.assign(group=rv["village_id"].astype(str).map(groups).fillna(""))
        doc.table(
            "reclamation_village",
            rv.rename(columns={"name": "village"}),
            ["township", "village", "group", "households", "homestead_mu", "reclaimable_mu", "homestead_fee_yuan"],
            caption="分村宅基地复垦",
        )
    elif bc is not None and len(bc):
        hs = bc[bc["purpose"] == "homestead_clearance"]
        if len(hs):
            doc.para(
                f"实行“一户一宅”,旧房拆除、宅基地复垦,宅基地整理费{_wan(float(hs['amount_yuan'].sum()))}万元"
                f"({float(hs['quantity'].sum()):,.0f}户)。"
            )
    doc.para(OFFICE_TEXT)


# --------------------------------------------------------------------------- 第九章 保障措施
def _ch_safeguards(doc: _Doc, ctx: RunContext, tabs: Tables, map_png: bytes | None) -> None:
    doc.chapter("保障措施")
    for h in ("组织保障", "政策保障", "资金管理", "监督检查"):
        doc.section(h)
        doc.para(OFFICE_TEXT)


#: The chapters, in order: ``f(doc, ctx, tables, map_png)``.
CHAPTERS: list[Any] = [
    _ch_general,
    _ch_objects,
    _ch_siting,
    _ch_allocation,
    _ch_infrastructure,
    _ch_funding,
    _ch_phasing,
    _ch_reclamation,
    _ch_safeguards,
]


__all__: Sequence[str] = ("LABELS", "OFFICE_TEXT", "plan_blocks", "plan_document", "roster_summary")
