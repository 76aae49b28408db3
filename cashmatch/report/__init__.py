"""``report.html``: one self-contained receivables page a sales or finance lead reads.

A template (``template.html``, :class:`string.Template`) filled with headline tiles, the
accounts most at risk, and small SVG charts drawn inline (text kept as text, no
fonts or scripts fetched). Rendering is deterministic: the same result gives the same bytes.
"""

from __future__ import annotations

import math
from html import escape
from importlib import resources
from string import Template
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from cashmatch.engine.receivables import Receivables, RiskModel

BUCKET_LABELS = {
    "current": "not yet due",
    "1_30": "1–30 days",
    "31_60": "31–60 days",
    "61_90": "61–90 days",
    "90_plus": "over 90 days",
}
BUCKET_COLOURS = ("#2f7d5b", "#e0b341", "#e08a2e", "#cf5a2b", "#a12a2a")


# ---------------------------------------------------------------- formatting


def money(minor: int | None, currency: str, *, short: bool = False) -> str:
    """``123456789, 'USD'`` -> ``1,234,567.89`` (``1.23M`` when ``short``)."""
    from cashmatch.engine.money import exponent

    if minor is None:
        return "—"
    e = exponent(currency)
    value = int(minor)
    if short:
        major = value / 10**e
        for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
            if abs(major) >= div:
                return f"{major / div:,.1f}{suffix}"
        return f"{major:,.0f}"
    sign = "-" if value < 0 else ""
    q, r = divmod(abs(value), 10**e)
    return f"{sign}{q:,}.{r:0{e}d}" if e else f"{sign}{q:,}"


def number(v: float | None, nd: int = 1) -> str:
    return "—" if v is None else f"{v:,.{nd}f}"


# ---------------------------------------------------------------- charts
# Two kinds of chart, drawn as small SVG by hand: a few rectangles, lines and texts are all they
# hold, and the text stays text (the page's font, selectable, found by the browser test).

_FONT = 'font-family="DejaVu Sans, Arial, sans-serif"'
_AXIS = "#5b6575"


def _nice_ticks(top: float, n: int = 5) -> list[float]:
    """Round tick values 0, step, 2 step ... covering ``top`` (step 1, 2, 2.5 or 5 x 10^k)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    return [i * step for i in range(math.ceil(top / step - 1e-9) + 1)]


def _text(
    x: float,
    y: float,
    text: str,
    *,
    anchor: str = "middle",
    size: int = 11,
    colour: str = "#1d2430",
    extra: str = "",
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
        f'fill="{colour}"{extra}>{escape(text)}</text>'
    )


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" {_FONT} role="img" aria-label="{escape(title)}">'
        f'<rect width="{width}" height="{height}" fill="#fff"/>'
        + _text(12, 22, title, anchor="start", size=14)
        + "".join(body)
        + "</svg>"
    )


def aging_chart(aging: pa.Table, currency: str) -> str:
    """Open amounts of one currency per aging bucket: a bar each, its amount on top."""
    from cashmatch.engine.schema import AGING_BUCKETS

    sub = aging.filter(pc.equal(aging.column("currency"), currency))
    totals = [int(pc.sum(sub.column(b)).as_py() or 0) for b in AGING_BUCKETS]
    width, height, left, right, top, bottom = 640, 300, 64, 16, 40, 36
    ticks = _nice_ticks(max(max(totals), 0) * 1.1)
    y_max = ticks[-1]
    plot_h, plot_w = height - top - bottom, width - left - right

    def y(v: float) -> float:
        return top + plot_h * (1 - max(v, 0) / y_max)

    body = []
    for t in ticks:
        body.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(t):.1f}" y2="{y(t):.1f}" '
            f'stroke="{"#c3cad6" if t == 0 else "#eceff4"}"/>'
        )
        body.append(
            _text(
                left - 6,
                y(t) + 4,
                money(int(t), currency, short=True),
                anchor="end",
                size=11,
                colour=_AXIS,
            )
        )
    slot = plot_w / len(totals)
    for j, (b, t) in enumerate(zip(AGING_BUCKETS, totals, strict=True)):
        x = left + slot * j + slot * 0.15
        body.append(
            f'<rect x="{x:.1f}" y="{y(t):.1f}" width="{slot * 0.7:.1f}" '
            f'height="{y(0) - y(t):.1f}" fill="{BUCKET_COLOURS[j]}"/>'
        )
        mid = x + slot * 0.35
        body.append(_text(mid, y(t) - 5, money(t, currency, short=True), size=12))
        body.append(_text(mid, height - bottom + 18, BUCKET_LABELS[b], size=12, colour=_AXIS))
    return _svg(width, height, f"Open {currency} by days past due", body)


def deductions_chart(deductions: pa.Table, currency: str) -> str:
    """Deductions of one currency by reason: this period's amount against the previous one."""
    sub = deductions.filter(pc.equal(deductions.column("currency"), currency))
    rows = sorted(sub.to_pylist(), key=lambda r: (-r["amount"], r["reason"]))
    left = 24 + 8 * max([len(r["reason"]) for r in rows] + [4])
    width, right, top, bar, gap = 640, 24, 48, 11, 10
    height = top + len(rows) * (2 * bar + gap) + 30
    ticks = _nice_ticks(max([max(r["amount"], r["prev_amount"]) for r in rows] + [0]))
    x_max, plot_w = ticks[-1], width - left - right
    bottom = height - 30

    def x(v: float) -> float:
        return left + plot_w * max(v, 0) / x_max

    body = []
    for t in ticks:
        body.append(
            f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top - 4}" y2="{bottom}" '
            f'stroke="{"#c3cad6" if t == 0 else "#eceff4"}"/>'
        )
        body.append(
            _text(x(t), bottom + 16, money(int(t), currency, short=True), size=11, colour=_AXIS)
        )
    for i, r in enumerate(rows):
        y0 = top + i * (2 * bar + gap)
        for k, (key, colour) in enumerate((("amount", "#2f5d9e"), ("prev_amount", "#b8c4d6"))):
            body.append(
                f'<rect x="{left}" y="{y0 + k * bar}" width="{x(r[key]) - left:.1f}" '
                f'height="{bar - 1}" fill="{colour}"><title>{escape(r["reason"])}: '
                f"{money(r[key], currency)} {escape(currency)}</title></rect>"
            )
        body.append(_text(left - 8, y0 + bar + 4, r["reason"], anchor="end", size=12))
    for k, (label, colour) in enumerate(
        (("this period", "#2f5d9e"), ("previous period", "#b8c4d6"))
    ):
        lx = width - right - 230 + k * 100
        body.append(f'<rect x="{lx}" y="12" width="14" height="9" fill="{colour}"/>')
        body.append(_text(lx + 19, 21, label, anchor="start", size=11, colour=_AXIS))
    return _svg(width, height, f"Deductions in {currency}", body)


# ---------------------------------------------------------------- page parts


def _tiles(metrics: pa.Table, period: int) -> str:
    out = []
    rows = sorted(metrics.to_pylist(), key=lambda m: -abs(m["ar"]))
    for m in rows:
        c = m["currency"]
        overdue_share = m["overdue"] / m["ar"] * 100 if m["ar"] > 0 else None
        dso_cls = "bad" if (m["add"] or 0) > 15 else "warn" if (m["add"] or 0) > 5 else "good"
        cei = m["cei"]
        cei_cls = (
            "good"
            if cei is not None and cei >= 80
            else "warn"
            if cei is not None and cei >= 60
            else "bad"
        )
        bdr = m["bad_debt_ratio"]
        overdue_note = (
            f"{number(overdue_share, 0)}% of AR is past due"
            if overdue_share is not None
            else "nothing open"
        )
        tiles = [
            (
                "AR",
                money(m["ar"], c),
                f"owed to us today · {money(m['ar_start'], c, short=True)} {period} days ago",
                "",
                "ar",
            ),
            (
                "Overdue",
                money(m["overdue"], c),
                overdue_note,
                "bad" if (overdue_share or 0) > 30 else "warn" if (overdue_share or 0) > 15 else "",
                "overdue",
            ),
            (
                "DSO",
                f"{number(m['dso'])} <small>days</small>",
                f"best possible {number(m['best_possible_dso'])} · "
                f"ADD {number(m['add'])} days late",
                dso_cls,
                "dso",
            ),
            (
                "CEI",
                f"{number(cei)}<small>%</small>",
                "share of collectable cash collected",
                cei_cls,
                "cei",
            ),
            (
                "Bad-debt ratio",
                f"{number(None if bdr is None else bdr * 100, 2)}<small>%</small>",
                f"written off: {money(m['write_offs'], c, short=True)} of "
                f"{money(m['sales'], c, short=True)} sales",
                "bad" if (bdr or 0) > 0.02 else "",
                "bad_debt_ratio",
            ),
        ]
        out.append(f'<div class="currency-label">{escape(c)}</div><div class="tiles">')
        for label, value, note, cls, key in tiles:
            out.append(
                f'<div class="tile {cls}" data-metric="{key}" data-currency="{escape(c)}">'
                f'<div class="label">{label}</div><div class="value">{value}</div>'
                f'<div class="note">{escape(note)}</div></div>'
            )
        out.append("</div>")
    if not rows:
        out.append('<p class="empty">No invoices issued by this date.</p>')
    return "\n".join(out)


def top_at_risk(accounts: pa.Table, metrics: pa.Table, n: int = 10) -> list[dict]:
    """The ``n`` flagged accounts to call first: highest risk score; on equal scores the
    bigger overdue share of its currency's receivables (amounts in different currencies are
    not comparable, shares are)."""
    ar_of = {m["currency"]: m["ar"] for m in metrics.to_pylist()}
    rows = accounts.filter(accounts.column("at_risk")).to_pylist()
    rows.sort(
        key=lambda r: (
            -r["risk_score"],
            -(r["overdue"] / ar_of[r["currency"]] if ar_of.get(r["currency"], 0) > 0 else 0),
            r["customer_id"],
            r["currency"],
        )
    )
    return rows[:n]


def _at_risk(accounts: pa.Table, metrics: pa.Table) -> tuple[str, str]:
    flagged = accounts.filter(accounts.column("at_risk"))
    total = accounts.num_rows
    lead = (
        f"{flagged.num_rows} of {total} accounts show a change for the worse. The ten below "
        "have the highest risk score; the reasons say what changed."
    )
    if flagged.num_rows == 0:
        return lead, '<p class="empty">No account is at risk.</p>'
    top = pa.Table.from_pylist(top_at_risk(accounts, metrics), schema=accounts.schema)
    rows = [
        '<table id="at-risk"><thead><tr><th>Customer</th><th class="num">Open</th>'
        '<th class="num">Overdue</th><th class="num">Risk</th><th>Why</th></tr></thead><tbody>'
    ]
    for r in top.to_pylist():
        c = r["currency"]
        name = escape(r["customer_name"] or r["customer_id"])
        sub = f"<small>{escape(r['customer_id'])} · {escape(c)}</small>"
        reasons = "".join(f"<li>{escape(x)}</li>" for x in r["risk_reasons"].split("; ") if x)
        cls = "score" if r["risk_score"] >= 60 else "score mid"
        rows.append(
            f'<tr><td class="who">{name}{sub}</td>'
            f'<td class="num">{money(r["open"], c)} <small>{escape(c)}</small></td>'
            f'<td class="num">{money(r["overdue"], c)} <small>{escape(c)}</small></td>'
            f'<td class="num"><span class="{cls}">{r["risk_score"]}</span></td>'
            f'<td><ul class="reasons">{reasons}</ul></td></tr>'
        )
    rows.append("</tbody></table>")
    return lead, "".join(rows)


def _deductions(deductions: pa.Table, currencies: list[str]) -> str:
    if deductions.num_rows == 0:
        return '<p class="empty">No deductions in this or the previous period.</p>'
    rows = [
        '<table id="deductions"><thead><tr><th>Currency</th><th>Reason</th>'
        '<th class="num">Count</th><th class="num">Amount</th>'
        '<th class="num">Previous count</th><th class="num">Previous amount</th>'
        "</tr></thead><tbody>"
    ]
    rank = {c: i for i, c in enumerate(currencies)}
    ordered = sorted(
        deductions.to_pylist(),
        key=lambda r: (rank.get(r["currency"], len(rank)), -r["amount"], r["reason"]),
    )
    for r in ordered:
        c = r["currency"]
        rows.append(
            f"<tr><td>{escape(c)}</td><td>{escape(r['reason'])}</td>"
            f'<td class="num">{r["count"]}</td><td class="num">{money(r["amount"], c)}</td>'
            f'<td class="num">{r["prev_count"]}</td>'
            f'<td class="num">{money(r["prev_amount"], c)}</td></tr>'
        )
    rows.append("</tbody></table>")
    return "".join(rows)


def _metrics_table(metrics: pa.Table) -> str:
    """The metrics exactly as metrics.csv writes them (the browser test reads these cells)."""
    from cashmatch.engine.interchange import receivables_for_csv

    view = receivables_for_csv(metrics)
    head = "".join(f"<th>{escape(n)}</th>" for n in view.column_names)
    body = []
    for row in view.to_pylist():
        cells = "".join(
            f'<td class="num" data-col="{escape(k)}">{escape(str(v))}</td>' for k, v in row.items()
        )
        body.append(f"<tr>{cells}</tr>")
    return (
        f'<table id="metrics"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    )


def render_report(result: Receivables, *, risk: RiskModel | None = None) -> str:
    """The whole page as one HTML string (charts inline, no external resources)."""
    from cashmatch import __version__

    metrics = result.metrics
    currencies = [m["currency"] for m in sorted(metrics.to_pylist(), key=lambda m: -abs(m["ar"]))]
    charts = [aging_chart(result.aging, c) for c in currencies]
    ded_currencies = [
        c for c in currencies if c in set(result.deductions.column("currency").to_pylist())
    ]
    ded_charts = [deductions_chart(result.deductions, c) for c in ded_currencies]
    n_now = int(pc.sum(result.deductions.column("count")).as_py() or 0)
    n_prev = int(pc.sum(result.deductions.column("prev_count")).as_py() or 0)
    risk_lead, at_risk = _at_risk(result.accounts, metrics)
    problems = ""
    if result.problems:
        items = "".join(f"<li>{escape(str(p))}</li>" for p in result.problems[:30])
        more = (
            f"<li>… and {len(result.problems) - 30} more</li>" if len(result.problems) > 30 else ""
        )
        problems = (
            f'<details class="problems"><summary>{len(result.problems)} input rows could not be '
            f"used</summary><ul>{items}{more}</ul></details>"
        )
    page = Template(
        resources.files("cashmatch.report").joinpath("template.html").read_text("utf-8")
    )
    return page.substitute(
        title=f"Receivables as of {result.as_of:%d %B %Y}",
        subtitle=(
            f"What customers owe, how fast they pay, and who is sliding · compared over the "
            f"last {result.period_days} days · {', '.join(currencies) or 'no currency'}"
        ),
        tiles=_tiles(metrics, result.period_days),
        risk_lead=escape(risk_lead),
        at_risk=at_risk,
        aging_charts="\n".join(charts) or '<p class="empty">Nothing open.</p>',
        deductions_lead=escape(
            f"{n_now} deductions taken in the last {result.period_days} days, "
            f"{n_prev} in the {result.period_days} days before."
        ),
        deduction_charts="\n".join(ded_charts),
        deductions_table=_deductions(result.deductions, currencies),
        metrics_table=_metrics_table(metrics),
        problems=problems,
        period_days=result.period_days,
        as_of=result.as_of.isoformat(),
        version=__version__,
    )
