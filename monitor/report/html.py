"""A review report as one self-contained HTML file: inline CSS and SVG charts, no script, no CDN; it prints on A4.

Pure: a ``Report`` in, the page out. Vietnamese labels, dates as dd/mm/yyyy,
percentages as ``45,8 %``, unit names as the rosters write them. Every text
that came from outside (unit names, task titles) is escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from html import escape

from monitor.report.model import SCORE_FORMULA, Report
from monitor.version import VERSION
from rules.review import Deadline, DeadlineOutcome, IndicatorStanding, UnitScorecard
from rules.vietnamese import (
    SEVERITY_TEXT,
    date_text,
    datetime_text,
    day_text,
    due_text,
    number_text,
    percent_text,
    span_text,
)

__all__ = ["CONTENT_SECURITY_POLICY", "LISTED", "SHOWN", "listed", "report_html", "report_html_parts"]

#: Deadlines a unit's table of overdue, or of late, deadlines lists: the earliest due (the JSON lists every one).
#: A page that prints for a meeting, not hundreds of thousands of dossiers (30 million characters).
LISTED = 100
#: How many of each unit's first overdue and first late deadlines a report's scorecards keep, by the format it is
#: written in, besides every extended one (``None``: every deadline). The JSON lists every deadline; the page, the
#: first ``LISTED`` of each table; the CSV, a row of figures per unit, none. The rest are counted, not kept: a
#: quarter's deadlines cost some 300 bytes each for as long as a report is made.
SHOWN: dict[str, int | None] = {"html": LISTED, "csv": 0, "json": None}

#: What the page needs and nothing more: its own inline styles; no script, no fetch, no frame.
CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"

_CSS = """
@page { size: A4; margin: 14mm 12mm; }
tr.total td { font-weight: 600; }
* { box-sizing: border-box; }
body { font: 10.5pt/1.4 "Noto Sans", "DejaVu Sans", Arial, sans-serif; color: #1f2328; margin: 0 auto;
  max-width: 190mm; padding: 8mm 0; }
h1 { font-size: 17pt; margin: 0 0 2mm; }
h2 { font-size: 13pt; margin: 7mm 0 2mm; border-bottom: 1px solid #d0d7de; padding-bottom: 1mm; }
h3 { font-size: 11pt; margin: 4mm 0 1mm; }
p.meta { color: #57606a; margin: 0 0 3mm; }
table { border-collapse: collapse; width: 100%; margin: 1mm 0 3mm; }
th, td { border: 1px solid #d0d7de; padding: 1mm 2mm; text-align: left; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
td.n { white-space: nowrap; }
.figures { display: grid; grid-template-columns: repeat(3, 1fr); gap: 2mm; margin: 2mm 0 3mm; }
.figure { border: 1px solid #d0d7de; border-radius: 2mm; padding: 2mm 3mm; }
.figure strong { display: block; font-size: 15pt; }
.formula { background: #f6f8fa; border-left: 3px solid #0969da; padding: 2mm 3mm; }
.unit { break-inside: avoid; page-break-inside: avoid; }
.bad { color: #cf222e; } .good { color: #1a7f37; }
svg { display: block; margin: 1mm 0 3mm; max-width: 100%; height: auto; }
svg text { font: 8pt "Noto Sans", "DejaVu Sans", Arial, sans-serif; fill: #1f2328; }
.chart { break-inside: avoid; page-break-inside: avoid; }
@media print { body { padding: 0; } h2.units { break-before: page; } }
"""

_GOOD, _BAD, _LATE, _GRID = "#2da44e", "#cf222e", "#bf8700", "#d0d7de"


def _pct(value: float | None) -> str:
    return percent_text(value) if value is not None else "—"


def _num(value: float | None, decimals: int = 1) -> str:
    return number_text(value, decimals) if value is not None else "—"


def _bars(
    rows: Sequence[tuple[str, float, str]],
    *,
    maximum: float,
    shown: Callable[[float], str],
    title: str,
    line: float | None = None,
    line_label: str = "",
) -> str:
    """A horizontal bar chart: a bar per (label, value, colour), a value axis to ``maximum``, an optional line."""
    label_w, bar_w, row_h, top = 200, 420, 15, 18
    width, height = label_w + bar_w + 70, top + row_h * len(rows) + 8
    scale = bar_w / maximum if maximum > 0 else 0.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}"'
        f' role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for step in range(5):
        x = label_w + bar_w * step / 4
        parts.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - 6}" stroke="{_GRID}"/>')
        parts.append(f'<text x="{x:.1f}" y="{top - 7}" text-anchor="middle">{escape(shown(maximum * step / 4))}</text>')
    for i, (label, value, colour) in enumerate(rows):
        y = top + i * row_h
        parts.append(f'<text x="{label_w - 6}" y="{y + 11}" text-anchor="end">{escape(label)}</text>')
        parts.append(
            f'<rect x="{label_w}" y="{y + 2}" width="{max(value * scale, 0.5):.1f}" height="{row_h - 4}"'
            f' fill="{colour}"><title>{escape(label)}: {escape(shown(value))}</title></rect>'
        )
        parts.append(f'<text x="{label_w + value * scale + 4:.1f}" y="{y + 11}">{escape(shown(value))}</text>')
    if line is not None and maximum > 0:
        x = label_w + line * scale
        parts.append(
            f'<line x1="{x:.1f}" y1="{top - 2}" x2="{x:.1f}" y2="{height - 6}" stroke="#0969da"'
            ' stroke-width="2" stroke-dasharray="4 2"/>'
        )
        parts.append(f'<text x="{x + 3:.1f}" y="{height - 8}" fill="#0969da">{escape(line_label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _ranking_chart(report: Report) -> str:
    rows = [
        (c.name, c.score or 0.0, _GOOD if (c.score or 0) >= 0.8 else _LATE if (c.score or 0) >= 0.5 else _BAD)
        for c in report.ranking
    ]
    if not rows:
        return "<p>Không có đơn vị nào có hạn đến trong kỳ.</p>"
    chart = _bars(rows, maximum=1.0, shown=lambda v: percent_text(v, 0 if v in (0, 1) else 1), title="Xếp hạng")
    return f'<div class="chart">{chart}</div>'


def _overdue_chart(report: Report) -> str:
    counts = sorted(
        ((c.name, c.count(DeadlineOutcome.OVERDUE)) for c in report.cards if c.count(DeadlineOutcome.OVERDUE)),
        key=lambda r: (-r[1], r[0]),
    )
    if not counts:
        return "<p>Không đơn vị nào còn hạn quá hạn cuối kỳ.</p>"
    rows = [(name, float(n), _BAD) for name, n in counts]
    top = max(n for _, n in counts)
    chart = _bars(rows, maximum=float(max(top, 4)), shown=lambda v: number_text(v, 0), title="Quá hạn theo đơn vị")
    return f'<div class="chart">{chart}</div>'


def _ratio_text(value: float) -> str:
    return percent_text(value, 0)


def _number_text(value: float) -> str:
    return number_text(value, 2)


def _indicator_charts(report: Report) -> str:
    by_rule: dict[tuple[str, str], list[tuple[UnitScorecard, IndicatorStanding]]] = {}
    for card in report.cards:
        for standing in card.indicators:
            if standing.end is not None:
                by_rule.setdefault((standing.rule_id, standing.indicator), []).append((card, standing))
    parts = []
    for (rule_id, indicator), entries in sorted(by_rule.items()):
        target = entries[0][1].target
        ratio = all(0 <= (s.end or 0) <= 1 for _, s in entries) and 0 <= target <= 1
        shown = _ratio_text if ratio else _number_text
        entries.sort(key=lambda e: (-(e[1].end or 0), e[0].unit_id))
        rows = [(c.name, s.end or 0.0, _GOOD if s.meets_target else _BAD) for c, s in entries]
        maximum = 1.0 if ratio else max(max(r[1] for r in rows), target) * 1.1
        word = "tối thiểu" if entries[0][1].direction == "below" else "tối đa"
        title = f"{indicator} cuối kỳ ({rule_id}), mục tiêu {word} {shown(target)}"
        line_label = f"mục tiêu {shown(target)}"
        chart = _bars(rows, maximum=maximum, shown=shown, title=title, line=target, line_label=line_label)
        parts.append(f'<div class="chart"><h3>{escape(title)}</h3>{chart}</div>')
    return "".join(parts) or "<p>Không có chỉ tiêu nào được báo cáo đến cuối kỳ.</p>"


def _summary(report: Report) -> str:
    figures = [
        ("Điểm đúng hạn chung" if report.communes_of else "Điểm đúng hạn toàn quốc", _pct(report.score)),
        ("Hạn đến trong kỳ", number_text(sum(c.judged for c in report.cards), 0)),
        ("Hoàn thành đúng hạn", number_text(report.total(DeadlineOutcome.ON_TIME), 0)),
        ("Hoàn thành trong thời hạn gia hạn", number_text(report.total(DeadlineOutcome.EXTENDED), 0)),
        ("Hoàn thành trễ hạn", number_text(report.total(DeadlineOutcome.LATE), 0)),
        ("Còn quá hạn cuối kỳ", number_text(report.total(DeadlineOutcome.OVERDUE), 0)),
        ("Đơn vị chưa từng báo cáo", number_text(len(report.never_reported), 0)),
    ]
    cells = "".join(f'<div class="figure">{escape(label)}<strong>{value}</strong></div>' for label, value in figures)
    return f'<div class="figures">{cells}</div>'


def _rolled_names(card: UnitScorecard) -> str:
    """``gồm Hà Giang, …``: the units rolled up into the card, or nothing."""
    if not card.rolled_up:
        return ""
    return " <small>gồm " + ", ".join(escape(c.name) for c in card.rolled_up) + "</small>"


def _ranking_table(report: Report) -> str:
    rows = []
    for place, card in enumerate(report.ranking, start=1):
        median, worst = card.lateness
        rows.append(
            f'<tr><td class="n">{place}</td><td>{escape(card.name)} <small>{escape(card.unit_id)}</small>'
            f"{_rolled_names(card)}</td>"
            f'<td class="n">{_pct(card.score)}</td><td class="n">{card.count(DeadlineOutcome.ON_TIME)}</td>'
            f'<td class="n">{card.count(DeadlineOutcome.EXTENDED)}</td>'
            f'<td class="n">{card.count(DeadlineOutcome.LATE)}</td><td class="n">{card.count(DeadlineOutcome.OVERDUE)}</td>'
            f'<td class="n">{_num(median)}</td><td class="n">{_num(worst, 0)}</td></tr>'
        )
    head = (
        '<tr><th class="n">Hạng</th><th>Đơn vị</th><th class="n">Điểm</th><th class="n">Đúng hạn</th>'
        '<th class="n">Trong gia hạn</th><th class="n">Trễ hạn</th><th class="n">Quá hạn</th><th class="n">Trễ trung vị (ngày)</th>'
        '<th class="n">Trễ nhiều nhất (ngày)</th></tr>'
    )
    return f"<table>{head}{''.join(rows)}</table>" if rows else ""


def _told(report: Report, card: UnitScorecard, deadline: Deadline) -> str:
    """When the unit was first told of the deadline's alert, by which peer, with its answer; a dash if never."""
    first = report.notified_of(card, deadline)
    if first is None:
        return "–"
    return f"{datetime_text(first.at, report.tz)} <small>({escape(first.sink)} {first.http_status or ''})</small>"


def _tables(card: UnitScorecard) -> tuple[list[Deadline], list[Deadline]]:
    """The first ``LISTED`` of a unit's overdue deadlines and of its late ones, as its tables list them (earliest due first)."""
    return card.first(DeadlineOutcome.OVERDUE, LISTED), card.first(DeadlineOutcome.LATE, LISTED)


def listed(card: UnitScorecard) -> Iterator[Deadline]:
    """The deadlines the page lists in a unit's section: the first ``LISTED`` of each table."""
    for table in _tables(card):
        yield from table


def _deadline_rows(
    report: Report, card: UnitScorecard, deadlines: Sequence[Deadline], total: int, days_word: str
) -> Iterator[str]:
    """The table of ``deadlines`` (the first of the unit's ``total``), and how many more there are."""
    names = {c.unit_id: c.name for c in card.rolled_up}
    # Who was told when: a column only when the ledger told of any (no peer configured, a report offline: none).
    yield (
        f'<table><tr><th>Nhiệm vụ</th><th>Mã</th><th class="n">Hạn</th><th class="n">{days_word}</th>'
        + ("<th>Đã thông báo</th>" if report.notified else "")
        + "</tr>"
    )
    yield "".join(
        f"<tr><td>{escape(d.title)}"
        + (f" <small>({escape(names.get(d.unit_id, d.unit_id))})</small>" if d.unit_id else "")
        + f"</td><td>{escape(d.task_id or d.rule_id)}</td>"
        f'<td class="n">{due_text(d.due, report.tz, d.dated[0])}</td>'
        f'<td class="n">{number_text(d.days_late or 0, 0)}</td>'
        + (f"<td>{_told(report, card, d)}</td>" if report.notified else "")
        + "</tr>"
        for d in deadlines
    )
    yield "</table>"
    if total > len(deadlines):
        more = number_text(total - len(deadlines), 0)
        yield f'<p class="more">… và {more} hạn khác, hạn sau hơn; bản JSON của báo cáo liệt kê đủ.</p>'


def _rolled_up(report: Report, card: UnitScorecard) -> str:
    """The units merged into the card's whose figures it counts, each with its own: who they were, until when."""
    if not card.rolled_up:
        return ""
    rows = "".join(
        f"<tr><td>{escape(c.name)} <small>{escape(c.unit_id)}</small></td>"
        f'<td class="n">{date_text(c.ended_at, report.tz) if c.ended_at is not None else "—"}</td>'
        f'<td class="n">{c.count(DeadlineOutcome.ON_TIME)}</td><td class="n">{c.count(DeadlineOutcome.LATE)}</td>'
        f'<td class="n">{c.count(DeadlineOutcome.OVERDUE)}</td><td class="n">{_pct(c.score)}</td></tr>'
        for c in card.rolled_up
    )
    head = (
        '<tr><th>Đơn vị sáp nhập vào</th><th class="n">Sáp nhập từ</th><th class="n">Đúng hạn</th>'
        '<th class="n">Trễ hạn</th><th class="n">Quá hạn</th><th class="n">Điểm</th></tr>'
    )
    return (
        "<p>Số liệu gồm cả các đơn vị đã sáp nhập vào, mỗi đơn vị tính đến ngày sáp nhập:</p>"
        f'<table class="rolled">{head}{rows}</table>'
    )


def _unit_section(report: Report, card: UnitScorecard, place: int | None) -> Iterator[str]:
    """A unit's section, in parts (its deadlines' tables apart)."""
    median, worst = card.lateness
    overdue, late = _tables(card)
    silent = (
        f"{number_text(card.days_silent, 0)} ngày (lần cuối {date_text(card.last_report, report.tz)})"
        if card.days_silent is not None and card.last_report is not None
        else "chưa từng báo cáo"
    )
    rank_text = f"hạng {place}/{len(report.ranking)}" if place is not None else "không xếp hạng (không có hạn trong kỳ)"
    figures = (
        "<table>"
        f'<tr><th>Điểm đúng hạn</th><td class="n">{_pct(card.score)} ({rank_text})</td></tr>'
        f'<tr><th>Hạn đến trong kỳ</th><td class="n">{card.judged}</td></tr>'
        f'<tr><th>Hoàn thành đúng hạn</th><td class="n">{card.count(DeadlineOutcome.ON_TIME)}</td></tr>'
        f'<tr><th>Hoàn thành trong thời hạn gia hạn</th><td class="n">{card.count(DeadlineOutcome.EXTENDED)}</td></tr>'
        f'<tr><th>Hoàn thành trễ hạn (trung vị / nhiều nhất)</th><td class="n">{card.count(DeadlineOutcome.LATE)}'
        f" ({_num(median)} / {_num(worst, 0)} ngày)</td></tr>"
        f'<tr><th>Còn quá hạn cuối kỳ</th><td class="n">{card.count(DeadlineOutcome.OVERDUE)}</td></tr>'
        f'<tr><th>Đã hủy / chưa đến hạn</th><td class="n">{card.count(DeadlineOutcome.CANCELLED)} / '
        f"{card.count(DeadlineOutcome.NOT_YET_DUE)}</td></tr>"
        f'<tr><th>Cảnh báo sắp đến hạn: được xử lý / bị bỏ qua</th><td class="n">{card.warnings.heeded} / '
        f"{card.warnings.ignored}</td></tr>"
        f'<tr><th>Không báo cáo</th><td class="n">{escape(silent)}</td></tr>'
        "</table>"
    )
    parts = [f'<section class="unit"><h3>{escape(card.name)} ({escape(card.unit_id)})</h3>']
    if card.ended_at is not None:
        ended = date_text(card.ended_at, report.tz)
        parts.append(f"<p>Đơn vị chấm dứt hoạt động từ {ended}; số liệu tính đến ngày đó.</p>")
    parts += [_rolled_up(report, card), figures]
    yield "".join(parts)
    parts = []
    if overdue:
        yield '<p class="bad">Còn quá hạn cuối kỳ:</p>'
        yield from _deadline_rows(report, card, overdue, card.count(DeadlineOutcome.OVERDUE), "Quá hạn (ngày)")
    if late:
        yield "<p>Hoàn thành trễ hạn:</p>"
        yield from _deadline_rows(report, card, late, card.count(DeadlineOutcome.LATE), "Trễ (ngày)")
    if card.indicators:
        rows = "".join(
            f"<tr><td>{escape(s.indicator)}</td><td class='n'>{_value(s, s.start)}</td>"
            f"<td class='n'>{_value(s, s.end)}</td><td class='n'>{_change(s)}</td>"
            f"<td class='n'>{_value(s, s.target)}</td>"
            f"<td class='{'good' if s.meets_target else 'bad'}'>"
            f"{'đạt' if s.meets_target else 'chưa đạt' if s.meets_target is False else '—'}</td></tr>"
            for s in card.indicators
        )
        head = (
            '<tr><th>Chỉ tiêu</th><th class="n">Đầu kỳ</th><th class="n">Cuối kỳ</th><th class="n">Thay đổi</th>'
            '<th class="n">Mục tiêu</th><th>Kết quả</th></tr>'
        )
        parts.append(f"<table>{head}{rows}</table>")
    parts.append("</section>")
    yield "".join(parts)


def _is_ratio(standing: IndicatorStanding) -> bool:
    values = [v for v in (standing.start, standing.end, standing.target) if v is not None]
    return all(0 <= v <= 1 for v in values)


def _value(standing: IndicatorStanding, value: float | None) -> str:
    if value is None:
        return "—"
    return percent_text(value) if _is_ratio(standing) else number_text(value, 3)


def _change(standing: IndicatorStanding) -> str:
    change = standing.change
    if change is None:
        return "—"
    sign = "+" if change > 0 else ""
    if _is_ratio(standing):
        return f"{sign}{number_text(change * 100, 1)} điểm %"
    return f"{sign}{number_text(change, 3)}"


def _took(value: timedelta | None) -> str:
    """A time to act, to the minute: ``2 giờ 15 phút``; a dash for none."""
    if value is None:
        return "–"
    if value < timedelta(minutes=1):
        return "dưới 1 phút"
    return span_text(timedelta(minutes=int(value.total_seconds() // 60)))


def _response(report: Report) -> str:
    """How fast the alerts begun in the period were acknowledged and resolved: every unit's, then each unit's."""
    if report.response is None:
        return "<p>Không có số liệu thao tác xử lý cho báo cáo này.</p>"
    if not report.response:
        return "<p>Không có cảnh báo nào bắt đầu trong kỳ.</p>"
    names = {c.unit_id: c.name for c in report.cards}
    rows = []
    for row in sorted(report.response, key=lambda r: r.unit_id != ""):  # every unit's first
        unit = (
            "Tất cả đơn vị"
            if not row.unit_id
            else f"{escape(names.get(row.unit_id, row.unit_id))} <small>{escape(row.unit_id)}</small>"
        )
        longest_ack = max(row.to_acknowledge, default=None)
        total = ' class="total"' if not row.unit_id else ""
        severity = SEVERITY_TEXT.get(row.severity, row.severity)  # type: ignore[call-overload]
        rows.append(
            f"<tr{total}><td>{unit}</td><td>{escape(severity)}</td>"
            f'<td class="n">{row.alerts}</td><td class="n">{row.acknowledged}</td>'
            f'<td class="n">{_took(row.median_to_acknowledge)}</td><td class="n">{_took(longest_ack)}</td>'
            f'<td class="n">{row.ended}</td><td class="n">{_took(row.median_to_resolve)}</td></tr>'
        )
    head = (
        '<tr><th>Đơn vị</th><th>Mức độ</th><th class="n">Cảnh báo</th><th class="n">Đã nhận xử lý</th>'
        '<th class="n">Nhận xử lý sau (trung vị)</th><th class="n">Lâu nhất</th><th class="n">Đã kết thúc</th>'
        '<th class="n">Kết thúc sau (trung vị)</th></tr>'
    )
    note = (
        '<p class="formula">Tính các cảnh báo bắt đầu trong kỳ: từ lúc bắt đầu đến lần nhận xử lý đầu tiên, '
        "và đến lúc kết thúc; cảnh báo chưa được nhận xử lý hoặc chưa kết thúc không có thời gian.</p>"
    )
    return f"<table>{head}{''.join(rows)}</table>{note}"


#: How each deadline an extension set stood at the end of the period.
_OUTCOME_TEXT = {
    DeadlineOutcome.ON_TIME: "đúng hạn ban đầu",
    DeadlineOutcome.EXTENDED: "trong thời hạn gia hạn",
    DeadlineOutcome.LATE: "trễ cả hạn gia hạn",
    DeadlineOutcome.OVERDUE: "còn quá hạn",
    DeadlineOutcome.CANCELLED: "đã hủy",
    DeadlineOutcome.NOT_YET_DUE: "chưa đến hạn mới",
}


def _extensions(report: Report) -> str:
    """Every deadline of the period an extension set: whose, from when to when, on whose decision, and how it stood."""
    extended = report.extended()
    if not extended:
        return "<p>Không có hạn nào được gia hạn trong kỳ.</p>"
    rows = []
    for card, d in extended:
        extension = d.extension
        assert extension is not None
        first = due_text(d.first_due, report.tz, d.dated[1]) if d.first_due is not None else "–"
        who = extension.granted_by_name or extension.granted_by
        unit = d.unit_id or card.unit_id
        name = card.name if unit == card.unit_id else next((c.name for c in card.rolled_up if c.unit_id == unit), unit)
        rows.append(
            f"<tr><td>{escape(name)} <small>{escape(unit)}</small></td>"
            f"<td>{escape(d.title)} <small>{escape(d.task_id or d.rule_id)}</small></td>"
            f'<td class="n">{first}</td><td class="n">{due_text(d.due, report.tz, d.dated[0])}</td>'
            f"<td>{escape(extension.reference)}</td>"
            f"<td>{escape(who)} <small>{date_text(extension.granted_at, report.tz)}</small></td>"
            f"<td>{escape(_OUTCOME_TEXT[d.outcome])}</td></tr>"
        )
    head = (
        '<tr><th>Đơn vị</th><th>Nhiệm vụ</th><th class="n">Hạn ban đầu</th><th class="n">Hạn mới</th>'
        "<th>Căn cứ</th><th>Người ghi nhận</th><th>Kết quả</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def report_html(report: Report) -> str:
    """The report as one HTML page."""
    return "".join(report_html_parts(report))


def report_html_parts(report: Report) -> Iterator[str]:
    """The page in parts: its head and summaries, then each unit's section in parts.

    A worker writes a report of the 3,321 communes with a turn of its event loop between two parts.
    """
    places = {c.unit_id: i for i, c in enumerate(report.ranking, start=1)}
    period = report.period
    never = report.never_reported
    silent = (
        "<ul>" + "".join(f"<li>{escape(c.name)} ({escape(c.unit_id)})</li>" for c in never) + "</ul>"
        if never
        else "<p>Mọi đơn vị đều đã báo cáo.</p>"
    )
    unranked = [c for c in report.cards if c.reported and c.score is None]
    title = f"Báo cáo tiến độ Đề án 06 — {period.label}"
    if report.communes_of is not None:
        title += f" — các xã, phường của {report.province_name}"
    yield (
        '<!doctype html><html lang="vi"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{escape(title)}</h1>"
        f'<p class="meta">Kỳ báo cáo: {day_text(period.first)} – {day_text(period.last)}; '
        f"số liệu tính đến {datetime_text(report.judged_at, report.tz)}, theo các đơn vị tồn tại ngày "
        f"{date_text(report.units_at, report.tz)}; lập lúc "
        f"{datetime_text(report.made_at, report.tz)}; bộ quy tắc {escape(report.pack_version)}; "
        f"compliance monitor {escape(VERSION)}.</p>"
        f"<h2>{'Tổng hợp các xã, phường' if report.communes_of else 'Tổng hợp toàn quốc'}</h2>"
        f"{_summary(report)}"
        f'<p class="formula">{escape(SCORE_FORMULA)}</p>'
        "<h2>Xếp hạng đơn vị theo điểm đúng hạn</h2>"
        f"{_ranking_chart(report)}{_ranking_table(report)}"
        + (
            "<p>Không có hạn trong kỳ (không xếp hạng): " + ", ".join(escape(c.name) for c in unranked) + ".</p>"
            if unranked
            else ""
        )
        + "<h2>Quá hạn cuối kỳ theo đơn vị</h2>"
        f"{_overdue_chart(report)}"
        "<h2>Hạn được gia hạn</h2>"
        f"{_extensions(report)}"
        "<h2>Thời gian phản hồi cảnh báo</h2>"
        f"{_response(report)}"
        "<h2>Chỉ tiêu cuối kỳ so với mục tiêu</h2>"
        f"{_indicator_charts(report)}"
        "<h2>Đơn vị chưa từng báo cáo</h2>"
        f"{silent}"
        '<h2 class="units">Từng đơn vị</h2>'
    )
    for card in report.cards:
        yield from _unit_section(report, card, places.get(card.unit_id))
    yield "</body></html>"
