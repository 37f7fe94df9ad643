"""The roster's printed outputs: the 公示名单 (printable page and workbook) and the 直补到户清册 workbook.

:mod:`geofupin.roster` computes the tables; this module words and lays them out, and
:func:`write_roster_files` writes them through :mod:`geofupin.io` into ``roster/`` of a run's folder:

- ``public_notice.html``: one A4 page per village (print CSS, Chinese, no script, no network:
  its Content-Security-Policy allows nothing but its own inline style); every text from the data
  is escaped, so a name is shown as written and never runs as markup;
- ``public_notice.xlsx``: a sheet of the villages with their posting dates, and one sheet per village;
- ``payment_roster.xlsx``: the check against the budget, then one sheet per village with each
  household's subsidies by payer and tranche, a total row and the signature columns (签字).
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import io as gio
from .config.roster import NoticeConfig, PaymentConfig, RosterConfig
from .policy import PAYER_ZH

NOTICE_HEADERS: dict[str, str] = {
    "no": "序号",
    "group": "村民小组",
    "head_name": "户主姓名",
    "id_masked": "身份证号码",
    "phone_masked": "联系电话",
    "persons": "家庭人口(人)",
    "status_zh": "户类型",
    "wish_zh": "安置方式",
    "destination": "安置去向",
}


#: Column widths of the printed list (% of the page width).
_WIDTHS = {
    "no": 5, "group": 9, "head_name": 10, "id_masked": 23, "phone_masked": 14, "persons": 7, "status_zh": 11,
    "wish_zh": 9, "destination": 12,
}  # fmt: skip


def zh_date(iso: str) -> str:
    """``2011-03-01`` as ``2011年3月1日``; empty text as blanks to write in by hand."""
    if not iso:
        return "____年__月__日"
    d = dt.date.fromisoformat(iso)
    return f"{d.year}年{d.month}月{d.day}日"


def _e(v: Any) -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return ""
    return html.escape(str(v), quote=True)


_CSS = """
@page { size: A4 portrait; margin: 15mm 12mm 15mm 12mm; }
* { box-sizing: border-box; }
body { margin: 0; color: #000; background: #fff;
  font-family: "Noto Serif CJK SC", "Source Han Serif SC", "SimSun", "Songti SC", "Noto Sans CJK SC",
  "WenQuanYi Micro Hei", "Microsoft YaHei", serif; font-size: 11pt; line-height: 1.5; }
section.village { break-after: page; page-break-after: always; }
section.village:last-of-type { break-after: auto; page-break-after: auto; }
h1 { font-size: 17pt; text-align: center; margin: 0 0 3mm; letter-spacing: 0.05em; }
p { margin: 0 0 2mm; text-indent: 2em; }
p.plain { text-indent: 0; }
table { width: 100%; border-collapse: collapse; margin: 2mm 0 4mm; }
thead { display: table-header-group; }
tr { break-inside: avoid; page-break-inside: avoid; }
table { table-layout: fixed; }
th, td { border: 0.6pt solid #000; padding: 0.8mm 1mm; font-size: 10pt; text-align: center; overflow-wrap: anywhere; }
th { font-size: 9.5pt; }
td.nowrap { white-space: nowrap; font-size: 9pt; font-family: "DejaVu Sans Mono", "Noto Sans Mono", monospace; }
td.name, td.dest { text-align: left; }
tfoot td { font-weight: bold; }
.sign { margin-top: 8mm; text-align: right; text-indent: 0; }
.draft { border: 1.5pt solid #b00; color: #b00; padding: 2mm; margin: 0 0 3mm; text-indent: 0; font-weight: bold; }
@media screen { body { max-width: 210mm; margin: 10mm auto; padding: 0 12mm; }
  section.village { border-bottom: 1px dashed #888; padding-bottom: 8mm; margin-bottom: 8mm; } }
"""


def notice_html(
    notice: pd.DataFrame,
    villages: pd.DataFrame,
    *,
    cfg: NoticeConfig | None = None,
    errors: int = 0,
    title: str = "",
) -> str:
    """The printable 公示名单: one A4 page per village (see the module docstring).

    Parameters
    ----------
    notice, villages
        The ``roster_notice`` and ``roster_notice_villages`` tables.
    cfg
        The notice section (period, who takes objections).
    errors
        Errors the roster checks found: when above 0 every page says it is a draft not to be posted.
    title
        The plan's title, shown small on each page.
    """
    cfg = cfg or NoticeConfig()
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>扶贫移民搬迁对象公示名单</title>",
        f"<style>{_CSS}</style></head><body>",
    ]
    cols = list(NOTICE_HEADERS)
    klasses = [
        ' class="nowrap"'
        if c in ("id_masked", "phone_masked")
        else {"head_name": ' class="name"', "destination": ' class="dest"'}.get(c, "")
        for c in cols
    ]
    # every household's table row, escaped column by column once (Python scalars, as iterrows gives), and each
    # village's households in table order, looked up once (a village may have none)
    cells = [[f"<td{klass}>{_e(x)}</td>" for x in notice[c].tolist()] for klass, c in zip(klasses, cols, strict=True)]
    trs = ["<tr>" + "".join(t) + "</tr>" for t in zip(*cells, strict=True)]
    by_village = notice.groupby("village_id", sort=False).indices if len(notice) else {}
    for _, v in villages.iterrows():
        place = f"{v['township']}{v['village_name']}{v['group'] or ''}"
        start, end = str(v["posting_date"]), str(v["period_end"])
        parts.append(f'<section class="village" data-village-id="{_e(v["village_id"])}">')
        if title:
            parts.append(f'<p class="plain" style="font-size:9pt;color:#444">{_e(title)}</p>')
        if errors:
            parts.append(
                f'<p class="draft">草稿:搬迁对象名册尚有{errors}处错误未更正(见 tables/roster_checks),'
                "更正前不得张贴。 / DRAFT: the roster has errors; do not post.</p>"
            )
        parts.append(f"<h1>{_e(place)}扶贫移民搬迁对象公示</h1>")
        parts.append(
            "<p>根据扶贫移民搬迁工作程序,经户主自愿申请、村组评议,现将拟纳入扶贫移民搬迁的"
            f"{int(v['households'])}户{int(v['persons'])}人予以公示。公示期{int(v['period_days'])}天,"
            f"自{zh_date(start)}至{zh_date(end)}。如有异议,请在公示期内向村民委员会或乡(镇)人民政府反映。</p>"
        )
        if cfg.contact_zh:
            parts.append(f'<p class="plain">受理异议:{_e(cfg.contact_zh)}</p>')
        heads = "".join(f"<th>{_e(NOTICE_HEADERS[c])}</th>" for c in cols)
        widths = "".join(f'<col style="width:{_WIDTHS[c]}%">' for c in cols)
        parts.append(f"<table><colgroup>{widths}</colgroup><thead><tr>{heads}</tr></thead>")
        parts.append("<tbody>")
        parts.extend(trs[i] for i in by_village.get(v["village_id"], ()))
        parts.append("</tbody>")
        parts.append(
            f'<tfoot><tr><td colspan="5">合计 {int(v["households"])} 户</td><td>{int(v["persons"])}</td>'
            f'<td colspan="{len(cols) - 6}"></td></tr></tfoot></table>'
        )
        parts.append(f'<p class="sign">{_e(v["village_name"])}村民委员会(盖章)<br>{zh_date(start)}</p>')
        parts.append("</section>")
    if not len(villages):
        parts.append("<p>名册中没有搬迁户。 / No relocating household in the roster.</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _village_rows(
    table: pd.DataFrame, villages: pd.DataFrame, headers: Mapping[str, str], *, total: Sequence[str] = ()
) -> dict[str, gio.SheetRows]:
    """One sheet per village: its rows of ``table`` (table order) under the Chinese ``headers``, with a 合计 row
    summing the ``total`` columns when given. The table is cut once (positions per village), not per sheet,
    and every sheet names rows of the same table (:class:`geofupin.io.SheetRows`), so that the workbook
    converts its cells once."""
    out: dict[str, gio.SheetRows] = {}
    cols = list(headers)
    base = table[cols]
    # each village's rows in table order, found once (a village may have none)
    where = table.groupby("village_id", sort=False).indices if len(table) else {}
    none = np.array([], dtype=np.intp)
    vids, names = villages["village_id"].tolist(), villages["village_name"].tolist()
    groups = villages["group"].tolist()
    picks = [where.get(v, none) for v in vids]
    if total:  # the 合计 rows, one a village: the sum of its rows, as a Series sums them
        sums = {c: _sums_of(base[c], picks) for c in total}
        feet = pd.DataFrame(
            [{c: "" for c in cols} | {cols[0]: "合计"} | {c: sums[c][k] for c in total} for k in range(len(picks))],
            columns=cols,
        )
        base = pd.concat([base, feet], ignore_index=True)  # the dtypes each sheet's rows and 合计 row give
        picks = [np.append(ix, len(table) + i) for i, ix in enumerate(picks)]
    base = base.set_axis([headers[c] for c in cols], axis=1)
    for ix, village, group in zip(picks, names, groups, strict=True):
        name = f"{village}{group or ''}"
        key, n = name, 1
        while key in out:
            n += 1
            key = f"{name}({n})"
        out[key] = gio.SheetRows(base, ix)
    return out


def _sums_of(s: pd.Series, picks: Sequence[np.ndarray]) -> list[float]:
    """``float(s.take(ix).sum())`` for each ``ix`` of ``picks``: a float64 or int64 column summed in NumPy (the
    same pairwise sum of the same values, missing ones as 0, as pandas does, without a Series a village), any
    other column as a Series."""
    if not (isinstance(s.dtype, np.dtype) and s.dtype in (np.float64, np.int64)):
        return [float(s.take(ix).sum()) for ix in picks]
    values = s.to_numpy()
    if values.dtype == np.float64:
        values = np.where(np.isnan(values), 0.0, values)
    return [float(values[ix].sum()) for ix in picks]


def _village_sheets(
    table: pd.DataFrame, villages: pd.DataFrame, headers: Mapping[str, str], *, total: Sequence[str] = ()
) -> dict[str, pd.DataFrame]:
    """:func:`_village_rows` as tables of their own (a sheet with a 合计 row numbered from 0)."""
    out = {}
    for key, rows in _village_rows(table, villages, headers, total=total).items():
        sheet = rows.to_frame()
        out[key] = sheet.reset_index(drop=True) if total else sheet
    return out


def notice_sheets(notice: pd.DataFrame, villages: pd.DataFrame) -> dict[str, gio.XlsxTable]:
    """The 公示名单 workbook's sheets: 公示村 (posting date and period per village), then one per village."""
    head = villages.rename(
        columns={
            "township": "乡镇",
            "village_id": "村编码",
            "village_name": "村",
            "group": "村民小组",
            "households": "户数",
            "persons": "人数",
            "posting_date": "公示日期",
            "period_days": "公示天数",
            "period_end": "公示截止日期",
        }
    )
    return {"公示村": head, **_village_rows(notice, villages, NOTICE_HEADERS)}


def payment_sheets(payments: pd.DataFrame, check: pd.DataFrame, cfg: PaymentConfig) -> dict[str, gio.XlsxTable]:
    """The 直补到户清册 workbook's sheets: 核对 (roster against budget), then one per village with a total row."""
    headers: dict[str, str] = {
        "no": "序号",
        "head_name": "户主姓名",
        "id_number": "身份证号码",
        "bank_account": "银行账号",
        "persons": "家庭人口(人)",
        "status_zh": "户类型",
        "site_id": "安置点",
        "hardship": "特困户补助(户)",
    }
    money = [c for c in payments.columns if c.endswith("_yuan") and not c.startswith("tranche_") and c != "total_yuan"]
    for c in money:
        headers[c] = f"{PAYER_ZH.get(c[: -len('_yuan')], c)}级补助(元)"
    for t in cfg.tranches:
        headers[f"tranche_{t.id}_yuan"] = f"{t.name_zh}(元)"
    headers["total_yuan"] = "补助合计(元)"
    headers["signature"] = "领款人签字(按手印)"
    headers["signed_date"] = "领款日期"
    vil = payments.drop_duplicates("village_id")[["village_id", "village_name", "group"]]
    totals = [*money, *(f"tranche_{t.id}_yuan" for t in cfg.tranches), "total_yuan", "persons", "hardship"]
    head = check.rename(
        columns={
            "village_id": "村编码",
            "name": "村",
            "budget_households": "预算户数",
            "roster_households": "清册户数",
            "budget_yuan": "预算直补资金(元)",
            "roster_yuan": "清册合计(元)",
            "diff_yuan": "差额(元)",
        }
    )
    return {"核对": head, **_village_rows(payments, vil, headers, total=totals)}


def write_roster_files(
    tables: Mapping[str, pd.DataFrame], cfg: RosterConfig, folder: Path, *, title: str = ""
) -> dict[str, Path]:
    """Write ``public_notice.html``, ``public_notice.xlsx`` and ``payment_roster.xlsx`` into ``folder``."""
    folder = Path(folder)
    notice, villages = tables["roster_notice"], tables["roster_notice_villages"]
    errors = int((tables["roster_checks"]["severity"] == "error").sum())
    written = {
        "public_notice.html": gio.write_text(
            folder / "public_notice.html", notice_html(notice, villages, cfg=cfg.notice, errors=errors, title=title)
        ),
        "public_notice.xlsx": gio.write_xlsx(notice_sheets(notice, villages), folder / "public_notice.xlsx"),
        "payment_roster.xlsx": gio.write_xlsx(
            payment_sheets(tables["roster_payment"], tables["roster_payment_check"], cfg.payment),
            folder / "payment_roster.xlsx",
        ),
    }
    return written


__all__: Sequence[str] = (
    "NOTICE_HEADERS",
    "notice_html",
    "notice_sheets",
    "payment_sheets",
    "write_roster_files",
    "zh_date",
)
