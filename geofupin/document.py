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
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pandas as pd

from .context import RunContext, attributes
from .errors import MissingDependencyError
from .report import M2_PER_MU, VALUE_LABELS, label

log = logging.getLogger(__name__)

_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
OFFICE_TEXT = "(由编制单位补充)"

#: Headers the plan document words differently from the workbook (:func:`geofupin.report.label` gives the rest).
LABELS: dict[str, str] = {
    "area_mu": "用地面积(亩)",
    "groups": "村民小组数",
    "site_name": "安置点",
    "county_yuan": "县级资金(元)",
    "label_zh": "评价指标",
    "direction": "方向",
    "method": "方法",
    "score": "综合得分",
    "capacity_persons": "可容纳人数",
    "reasons_zh": "未通过原因",
    "payer_zh": "资金来源",
    "purpose_zh": "用途",
    "name_zh": "补助标准",
    "rate": "标准(元)",
}


def _t(value: Any) -> str:
    """Data as plain text that XML can hold."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
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


def _header(col: str) -> str:
    return LABELS.get(col) or label(col)[0]


def _cell(col: str, v: Any) -> str:
    if isinstance(v, bool):
        return "是" if v else "否"
    if col.endswith("_share") or col in ("cumulative_share", "occupancy_share"):
        try:
            return f"{float(v):.1%}"
        except (TypeError, ValueError):
            return _t(v)
    if col.endswith("_wan"):
        return _num(v, digits=2)
    if col.endswith("_yuan") or col in ("households", "persons") or col.startswith(("planned_", "cumulative_")):
        return _num(v, digits=0 if not col.endswith("_yuan") else 2)
    if isinstance(v, float):
        return _num(v, digits=2 if abs(v) < 1000 else 0)
    return _t(v)


def _wan(yuan: float) -> str:
    return f"{yuan / 1e4:,.2f}"


Block = tuple[Any, ...]


class _Doc:
    """Collects the document as blocks: ``("heading", text, level)``, ``("para", text)``,
    ``("table", name, caption, header, rows)``, ``("picture", png)``; DOCX and PDF are drawn from them."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []

    def title(self, text: str) -> None:
        self.blocks.append(("heading", _t(text), 0))

    def heading(self, text: str, level: int = 1) -> None:
        self.blocks.append(("heading", _t(text), level))

    def para(self, *parts: str) -> None:
        self.blocks.append(("para", "".join(_t(p) for p in parts)))

    def table(self, name: str, df: pd.DataFrame, columns: Sequence[str], *, caption: str) -> None:
        cols = [c for c in columns if c in df.columns]
        if not cols or df.empty:
            self.para(f"{caption}:无数据。")
            return
        header = [_t(_header(c)) for c in cols]
        rows = [[_cell(c, v) for c, v in zip(cols, row, strict=True)] for row in df[cols].itertuples(index=False)]
        self.blocks.append(("table", name, _t(caption), header, rows))

    def picture(self, png: bytes) -> None:
        self.blocks.append(("picture", png))


def _docx(blocks: Sequence[Block], *, title: str) -> bytes:
    import docx
    from docx.oxml.ns import qn
    from docx.shared import Cm

    d = docx.Document()
    style = d.styles["Normal"]
    style.font.name = "SimSun"
    style.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), "SimSun")  # Chinese text in 宋体
    d.core_properties.title = title
    for b in blocks:
        if b[0] == "heading":
            d.add_heading(b[1], level=b[2])
        elif b[0] == "para":
            d.add_paragraph().add_run(b[1])
        elif b[0] == "table":
            _, _, caption, header, rows = b
            d.add_paragraph().add_run(caption)
            t = d.add_table(rows=1, cols=len(header))
            t.style = "Table Grid"
            for cell, h in zip(t.rows[0].cells, header, strict=True):
                cell.text = h
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


def _pdf(blocks: Sequence[Block], *, title: str) -> bytes:
    """The document as an A4 PDF drawn with matplotlib (fonts embedded as subsets)."""
    from ._optional import require

    require("matplotlib")
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
    W, H, M = 8.27, 11.69, 0.8  # A4 inches, margin
    pt = 1 / 72
    buf = io.BytesIO()
    with PdfPages(buf, metadata={"Title": title, "Creator": "geofupin", "CreationDate": None}) as pdf:
        state: dict[str, Any] = {"fig": None, "y": 0.0, "page": 0}

        def new_page() -> None:
            if state["fig"] is not None:
                pdf.savefig(state["fig"])
            state["fig"] = Figure(figsize=(W, H))
            state["y"] = H - M
            state["page"] += 1
            state["fig"].text(W / 2 / W, 0.4 / H, f"- {state['page']} -", ha="center", fontsize=8, parse_math=False)

        def line(text: str, size: float, *, x: float = M, bold: bool = False) -> None:
            h = size * pt * 1.5
            if state["y"] - h < M:
                new_page()
            state["y"] -= h
            fp = FontProperties(family=family, size=size, weight="bold" if bold else "normal")
            state["fig"].text(x / W, state["y"] / H, text, fontproperties=fp, parse_math=False)

        new_page()
        for b in blocks:
            if b[0] == "heading":
                size = {0: 20.0, 1: 15.0}.get(b[2], 12.0)
                if b[2] == 1 and state["y"] < H - M - 0.1:
                    new_page()  # a chapter starts a page
                for ln in _wrap(b[1], (W - 2 * M) / (size * pt)):
                    line(ln, size, bold=True)
                state["y"] -= 0.08
            elif b[0] == "para":
                for ln in _wrap(b[1], (W - 2 * M) / (10 * pt)):
                    line(ln, 10.0)
            elif b[0] == "table":
                _, _, caption, header, rows = b
                line(caption, 10.0, bold=True)
                ems = [max(_width(h), *(_width(r[i]) for r in rows)) + 1 for i, h in enumerate(header)]
                size = min(8.0, (W - 2 * M) / (sum(ems) * pt))
                xs = [M]
                for e in ems[:-1]:
                    xs.append(xs[-1] + e * size * pt)
                for j, row in enumerate([header, *rows]):
                    h = size * pt * 1.5
                    if state["y"] - h < M:
                        new_page()
                    state["y"] -= h
                    for x, v in zip(xs, row, strict=True):
                        fp = FontProperties(family=family, size=size, weight="bold" if j == 0 else "normal")
                        state["fig"].text(x / W, state["y"] / H, v, fontproperties=fp, parse_math=False)
                state["y"] -= 0.1
            elif b[0] == "picture":
                from PIL import Image

                img = Image.open(io.BytesIO(b[1]))
                w_in = W - 2 * M
                h_in = w_in * img.height / img.width
                if state["y"] - h_in < M:
                    new_page()
                ax = state["fig"].add_axes(((M / W), (state["y"] - h_in) / H, w_in / W, h_in / H))
                ax.imshow(img)
                ax.set_axis_off()
                state["y"] -= h_in + 0.1
        pdf.savefig(state["fig"])
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


def _plan(ctx: RunContext, *, run_id: str, inputs_sha256: Mapping[str, str], map_png: bytes | None) -> _Doc:
    sc = ctx.scenario
    tabs: dict[str, pd.DataFrame] = {}
    for res in ctx.results.values():
        tabs.update(res.tables)
    doc = _Doc()
    # -- cover
    doc.title(sc.title.zh)
    if sc.title.en:
        doc.para(sc.title.en)
    doc.para("编制单位:", OFFICE_TEXT)
    doc.para("运行编号 run id:", run_id)
    for k, h in sorted(inputs_sha256.items()):
        doc.para(f"输入文件 {k} SHA-256:", h)
    # -- 1 总论
    doc.heading("第一章 总论")
    plan_sum = dict(ctx.results["plan"].summary) if "plan" in ctx.results else {}
    doc.heading("一、规划依据", 2)
    if plan_sum:
        doc.para("补助政策:", _t(plan_sum.get("policy", "")), "。")
    doc.para(OFFICE_TEXT)
    doc.heading("二、规划范围与目标", 2)
    tt = tabs.get("township_table")
    if tt is not None and len(tt):
        detail = tt[tt["row_kind"] == "detail"]
        n_town = detail["township"].nunique()
        n_vill = len(detail)
        total = tt[tt["row_kind"] == "total"]
        hh = float(total["households"].iloc[0]) if len(total) else float(detail["households"].sum())
        pp = float(total["persons"].iloc[0]) if len(total) else float(detail["persons"].sum())
        doc.para(f"规划期内全县搬迁安置{hh:,.0f}户、{pp:,.0f}人,涉及{n_town}个乡镇、{n_vill}个村。")
    else:
        doc.para("未运行规划步骤,无搬迁规模数据。")
    # -- 2 搬迁对象
    doc.heading("第二章 搬迁对象")
    if tt is not None:
        doc.table(
            "township_table",
            tt,
            ["township", "village", "group", "households", "persons"],
            caption="表2-1 搬迁对象分乡镇统计",
        )
    # -- 3 选址
    doc.heading("第三章 安置点选址与论证")
    doc.para("选址坚持近水、近电、近路,与集镇、中心社区布点相一致。")
    w = tabs.get("site_weights")
    if w is not None:
        doc.table(
            "site_weights", w, ["label_zh", "unit", "direction", "weight", "method"], caption="表3-1 选址评价指标与权重"
        )
    r = tabs.get("site_ranking")
    if r is not None:
        doc.table(
            "site_ranking",
            r,
            ["rank", "site_id", "name", "township", "tier", "score", "capacity_persons"],
            caption="表3-2 候选安置点排序",
        )
    sites = ctx.layer("sites")
    if sites is not None and "passed" in sites:
        rej = attributes(sites[~sites["passed"].astype(bool)])
        doc.table(
            "sites_rejected",
            rej,
            ["site_id", "name", "township", "reasons_zh"],
            caption="表3-3 未通过筛选的候选点及原因",
        )
    if map_png:
        doc.picture(map_png)
        doc.para("图3-1 安置点选址与搬迁分配图")
    # -- 4 分配
    doc.heading("第四章 安置方式与分配")
    doc.para("采取整村搬迁为主、分散搬迁为辅,分步实施的方式。")
    load = tabs.get("site_load")
    if load is not None:
        doc.table(
            "site_load",
            load[load["open"].astype(bool)] if "open" in load else load,
            ["site_id", "name", "tier", "capacity_persons", "assigned_households", "assigned_persons"],
            caption="表4-1 安置点安置规模",
        )
    # -- 5 基础设施
    doc.heading("第五章 基础设施与公共服务规划")
    ps = tabs.get("plan_sites")
    if ps is not None:
        doc.table(
            "plan_sites",
            ps,
            [
                "site_id",
                "name",
                "road_length_m",
                "road_cost_yuan",
                "water_cost_yuan",
                "power_cost_yuan",
                "kindergarten_places",
                "primary_places",
                "total_cost_yuan",
            ],
            caption="表5-1 安置点基础设施与公共服务",
        )
    con = tabs.get("site_construction")
    if con is not None and len(con):
        doc.para(
            "跨乡镇安置和县城、集镇安置点实行集中统建;各安置点的用地、分期安置规模、户型、建设方式、"
            "村内配套和公共服务需求见表5-2。"
        )
        con = con.assign(
            area_mu=(con["area_m2"] / M2_PER_MU).round(2),
            build_mode=con["build_mode"].map(lambda v: VALUE_LABELS["build_mode"].get(v, v)),
        )
        doc.table(
            "site_construction",
            con,
            [
                "site_id",
                "name",
                "area_mu",
                "households",
                "persons",
                "phases",
                "house_types",
                "build_mode",
                "in_site_cost_yuan",
                "kindergarten_places",
                "primary_places",
                "clinic_needed",
            ],
            caption="表5-2 安置点建设规划表",
        )
    # -- 6 资金
    doc.heading("第六章 资金估算与筹措")
    bc = tabs.get("budget_county")
    if bc is not None and len(bc):
        total = float(bc["amount_yuan"].sum())
        doc.para(f"按补助政策测算,省、市、县各级补助资金合计{_wan(total)}万元({total:,.2f}元)。")
        doc.table(
            "budget_county",
            bc,
            ["payer_zh", "purpose_zh", "name_zh", "quantity", "rate", "amount_yuan"],
            caption="表6-1 补助资金测算",
        )
    fc = tabs.get("funding_township")
    if fc is not None:
        cols = [
            "township",
            "households",
            "persons",
            "province_yuan",
            "city_yuan",
            "county_yuan",
            "city_county_yuan",
            "department_yuan",
            "county_gap_yuan",
            "own_total_yuan",
            "total_yuan",
            "total_wan",
        ]
        doc.table("funding_township", fc, cols, caption="表6-2 资金筹措方案(分乡镇)")
        county = tabs["funding_county"].iloc[0]
        doc.para(
            f"资金总需求{_wan(float(county['total_yuan']))}万元,其中各级补助{_wan(float(county['subsidy_total_yuan']))}万元,"
            f"部门配套{_wan(float(county['department_yuan']))}万元,县财政兜底{_wan(float(county['county_gap_yuan']))}万元,"
            f"群众自筹{_wan(float(county['own_total_yuan']))}万元。"
        )
        n_over = int(county.get("over_limit_households", 0))
        if n_over:
            doc.para(f"有{n_over}户自筹建房资金超过其年收入上限,须另行研究帮扶措施。")
    # -- 7 分年度
    doc.heading("第七章 分年度实施计划")
    yr = tabs.get("phasing_years")
    if yr is not None and len(yr):
        used = yr[yr["households"] > 0]
        doc.para(
            f"规划期{int(yr['year'].min())}—{int(yr['year'].max())}年,一次规划、分步实施,"
            f"搬迁任务安排在{len(used)}个年度完成。"
        )
        if not bool(yr["feasible"].iloc[0]):
            doc.para("年度资金或建设能力上限不足以容纳全部搬迁任务,须追加的数额见表7-3。")
        doc.table(
            "phasing_years",
            yr,
            [
                "year",
                "groups",
                "households",
                "persons",
                "hazard_households",
                "subsidy_total_yuan",
                "site_works_yuan",
                "cumulative_share",
            ],
            caption="表7-1 分年度搬迁任务与资金",
        )
        prog = tabs["phasing_progress"]
        doc.table(
            "phasing_progress",
            prog[prog["planned_households"] > 0],
            ["township", "year", "planned_groups", "planned_households", "planned_persons", "cumulative_share"],
            caption="表7-2 分乡镇年度搬迁计划(当年搬迁计划任务完成情况考核依据)",
        )
        short = tabs["phasing_shortfall"]
        short = short[short["extra_needed"] > 0]
        if len(short):
            doc.table(
                "phasing_shortfall",
                short,
                ["year", "constraint_zh", "payer_or_site", "ceiling", "used", "extra_needed"],
                caption="表7-3 年度上限缺口",
            )
        plan = tabs["phasing_plan"]
        doc.table(
            "phasing_plan",
            plan,
            ["year", "township", "name", "group", "site_name", "households", "persons"],
            caption="表7-4 村民小组搬迁年度安排",
        )
    else:
        doc.para("场景未设分年度计划(phasing),本章由编制单位补充。")
    # -- 8 旧房
    doc.heading("第八章 旧房拆除与复垦")
    rc = tabs.get("reclamation_county")
    if rc is not None and len(rc):
        r0 = rc.iloc[0]
        doc.para(
            f"实行“一户一宅”,搬迁{float(r0['households']):,.0f}户的旧宅基地{float(r0['homestead_mu']):,.2f}亩,"
            f"可复垦{float(r0['reclaimable_mu']):,.2f}亩;安置点占用建设用地{float(r0['site_land_mu']):,.2f}亩,"
            f"增减挂钩结余{float(r0['balance_mu']):,.2f}亩(负数为缺口);宅基地整理费"
            f"{_wan(float(r0['homestead_fee_yuan']))}万元。"
        )
        doc.table(
            "reclamation_village",
            tabs["reclamation_village"],
            ["township", "name", "households", "homestead_mu", "reclaimable_mu", "homestead_fee_yuan"],
            caption="表8-1 分村宅基地复垦",
        )
    elif bc is not None and len(bc):
        hs = bc[bc["purpose"] == "homestead_clearance"]
        if len(hs):
            doc.para(
                f"实行“一户一宅”,旧房拆除、宅基地复垦,宅基地整理费{_wan(float(hs['amount_yuan'].sum()))}万元"
                f"({float(hs['quantity'].sum()):,.0f}户)。"
            )
    doc.para(OFFICE_TEXT)
    # -- 9 保障措施
    doc.heading("第九章 保障措施")
    for h in ("一、组织保障", "二、资金管理", "三、监督检查"):
        doc.heading(h, 2)
        doc.para(OFFICE_TEXT)
    return doc


__all__: Sequence[str] = ("LABELS", "OFFICE_TEXT", "plan_blocks", "plan_document")
