"""``/reports``: the review report of a period from any worker (HTML for the meeting, CSV, JSON).

A unit's scorecard needs its state, which only the worker that owns its
partition holds: each worker makes the scorecards of its own units
(``/api/v1/internal/scorecards``, judged at the instant the asking worker
gives, so all are judged alike), and the asking worker ranks and prints them.
The due-soon warnings come from the alert history index, which every worker
keeps of the whole alerts topic.

Scorecards go between workers a line of JSON each, encoded and decoded one
at a time with a pause between two: a quarter's deadlines are megabytes of
JSON (about 230 bytes each), which in one piece held the loop 60 ms at
14,000 deadlines, and would hold it a second at 250,000. Those of a page or a
CSV carry each unit's counts and only the deadlines the page lists (``SHOWN``):
only the JSON's carry every deadline.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import msgspec

from monitor.http.answers import Answer, json_answer, unavailable
from monitor.http.download import attachment, unit_id_problem
from monitor.http.protocol import WorkerView
from monitor.http.views import unit_partition
from monitor.notifications import Delivery
from monitor.report import CONTENT_SECURITY_POLICY, Report, report_csv, report_html_parts, report_json, report_of
from monitor.report.html import SHOWN, listed
from monitor.report.response import Begun, ResponseRow, ResponseTally
from monitor.turns import SLICE, Pause, each_in_turns, joined_in_turns, one_turn
from rules.language import RulePack
from rules.review import (
    PERIOD_FORMS,
    Deadline,
    DeadlineOutcome,
    Period,
    ScorecardBuilder,
    UnitScorecard,
    day_end,
    parse_day,
    parse_period,
    period_units,
    province_problem,
    quarter_of,
)
from rules.state import identity_fingerprint

__all__ = [
    "FORMATS",
    "SCORECARDS_SECONDS",
    "SHOWN",
    "ReportQuery",
    "decode_scorecards",
    "local_scorecards",
    "parse_report_query",
    "report_answer",
    "scorecards_answer",
]

FORMATS = ("html", "csv", "json")
_CARDS = msgspec.json.Decoder(list[UnitScorecard])
_CARD = msgspec.json.Decoder(UnitScorecard)
_ENCODER = msgspec.json.Encoder()


#: Seconds another worker has to count its units' tasks for a report: those due in the period, or every one for a
#: past period (about 14 µs a task: 10,000,000 take 140 s).
SCORECARDS_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class ReportQuery:
    """What a report was asked for: the period, the format, the units (none: all)."""

    period: Period
    format: str
    units: tuple[str, ...]
    units_at: date | None = None  # the day whose units the report is on (default: the period's last)
    communes_of: str | None = None  # a province: the report of its communes


def parse_report_query(
    query: Mapping[str, str], units: Sequence[str], today: date, pack: RulePack
) -> ReportQuery | Answer:
    """The report asked for (by default, of the quarter ``today`` is in), or a 400 that says what is wrong."""
    text = query.get("period")
    try:
        period = parse_period(text) if text else quarter_of(today)
    except ValueError as exc:
        return json_answer({"error": f"{exc} ({PERIOD_FORMS})" if "write" not in str(exc) else str(exc)}, 400)
    fmt = query.get("format", "html")
    if fmt not in FORMATS:
        return json_answer({"error": f"format must be one of {', '.join(FORMATS)}, not {fmt!r}"}, 400)
    chosen = tuple(u for given in units for u in given.split(",") if u)
    for unit in chosen:
        problem = unit_id_problem(unit)
        if problem is not None:
            return json_answer({"error": problem}, 400)
    try:
        units_at = parse_day(query["units_at"], "units_at") if query.get("units_at") else None
    except ValueError as exc:
        return json_answer({"error": str(exc)}, 400)
    communes_of = query.get("communes_of") or None
    if communes_of is not None and (problem := province_problem(pack, communes_of, "communes_of")) is not None:
        return json_answer({"error": problem}, 404)
    return ReportQuery(period, fmt, chosen, units_at, communes_of)


async def local_scorecards(
    worker: WorkerView,
    partitions: set[int],
    period: Period,
    now: datetime,
    communes_of: str | None = None,
    shown: int | None = None,
) -> list[UnitScorecard] | Answer:
    """The scorecards of the units of ``partitions`` this worker holds (each that reported, each rostered).

    ``shown``: each keeps only the first ``shown`` overdue and late deadlines and counts the rest (``SHOWN``).

    Each unit's alone: the asking worker rolls those of merged units up into their successors' (``report_of``).
    A unit's tasks that may count in the period (``ScorecardBuilder.tasks``: those due in it, through the store's
    index by due instant) are counted in slices of ``SLICE``, the event loop turning between two: a report over
    hundreds of thousands of tasks takes seconds, and the worker goes on handling events meanwhile. Every
    unit's builder is made first, in one go: each takes its unit's newest task report as it stands before any
    event that comes in meanwhile (``ScorecardBuilder``).
    """
    history, problem = worker.alerts_topic.history_state()
    if history is None or problem is not None:
        return unavailable(problem or "this worker has no alert history index")
    pack = worker.pack
    bounds = period.bounds(pack.tz)
    states = {s.unit_id: s for s in worker.owned_states() if unit_partition(worker, s.unit_id) in partitions}
    units = [u for u in period_units(pack, bounds, states, communes_of) if unit_partition(worker, u) in partitions]
    builders = {unit: ScorecardBuilder(pack, unit, states.get(unit), bounds, now, shown=shown) for unit in units}
    warned = await asyncio.to_thread(history.warned)
    cards: list[UnitScorecard] = []
    for unit, builder in builders.items():
        builder.warn(warned.get(unit, ()))
        for n, task in enumerate(builder.tasks(), start=1):
            builder.add(task)
            if n % SLICE == 0:
                await worker.yield_to_records()
        cards.append(builder.card())
        await worker.yield_to_records()
    return cards


async def scorecards_answer(worker: WorkerView, query: Mapping[str, str]) -> Answer:
    """``/api/v1/internal/scorecards?partitions=…&period=…&now=…[&communes_of=…][&shown=…]``: a worker making a report asks.

    ``shown``: the scorecards keep only that many of each unit's first overdue and late deadlines (``SHOWN``).
    """
    try:
        partitions = {int(p) for p in (query.get("partitions") or "").split(",") if p}
        period = parse_period(query.get("period", ""))
        now = datetime.fromisoformat(query.get("now", ""))
    except ValueError as exc:
        return json_answer({"error": f"partitions, period and now are needed: {exc}"}, 400)
    given = query.get("shown")
    if given is not None and not (given.isascii() and given.isdigit() and len(given) <= 9):
        return json_answer({"error": f"shown must be a whole number of deadlines, not {given[:20]!r}"}, 400)
    shown = int(given) if given is not None else None
    if now.tzinfo is None:
        return json_answer({"error": "now needs a UTC offset"}, 400)
    held = {p for p in partitions if worker.answers_for(p)}
    if held != partitions:
        return unavailable(f"this worker does not hold partition(s) {sorted(partitions - held)} now")
    communes_of = query.get("communes_of") or None
    if communes_of is not None and (problem := province_problem(worker.pack, communes_of, "communes_of")) is not None:
        return json_answer({"error": problem}, 404)
    cards = await local_scorecards(worker, partitions, period, now, communes_of, shown)
    if isinstance(cards, Answer):
        return cards
    if query.get("lines") != "1":  # a worker of an earlier version asks: one JSON array
        return Answer(200, _ENCODER.encode(cards), "application/json", {})
    lines = await each_in_turns(cards, _ENCODER.encode, size=1, pause=worker.yield_to_records)
    return Answer(200, b"\n".join(lines), "application/x-ndjson", {})


async def decode_scorecards(body: bytes, pause: Pause = one_turn) -> list[UnitScorecard]:
    """The scorecards another worker sent (a line each, or one JSON array from a worker of an earlier version)."""
    if body.startswith(b"["):
        return _CARDS.decode(body)
    return await each_in_turns((line for line in body.split(b"\n") if line), _CARD.decode, size=1, pause=pause)


async def response_of(worker: WorkerView, report: Report) -> tuple[ResponseRow, ...] | None:
    """How fast the report's units' alerts begun in its period were answered (``None``: the worker cannot say yet).

    From the alert history index and the operators' actions, which every worker holds whole; a unit merged into
    one of the report's counts under it, as in its scorecard. A quarter's intervals are read and counted in
    slices of ``SLICE``, the event loop turning between two.
    """
    index, problem = worker.alerts_topic.history_state()
    if index is None or problem is not None or not worker.operators.current:
        return None
    carrier = {c.unit_id: c.unit_id for c in report.cards}
    carrier |= {r.unit_id: c.unit_id for c in report.cards for r in c.rolled_up}
    start, _ = report.period.bounds(report.tz)
    tally = ResponseTally(worker.operators.book.actions, report.judged_at)

    def count(row: tuple[str, str, str, datetime, datetime | None]) -> None:
        fingerprint, unit, severity, started, ended = row
        if unit in carrier:
            tally.add(Begun(fingerprint, carrier[unit], severity, started, ended))

    await each_in_turns(index.begun(start, report.judged_at), count, pause=worker.yield_to_records)
    return tuple(tally.rows())


def _every_deadline(card: UnitScorecard) -> Iterable[Deadline]:
    return card.deadlines


async def notified_of(
    worker: WorkerView, report: Report, shown: Callable[[UnitScorecard], Iterable[Deadline]] | None = None
) -> dict[tuple[str, str, str], Delivery]:
    """Each late or overdue deadline's first notification a peer took, by (unit, rule, task or ""): the ledger's.

    Of every one (the JSON lists them all), or of those ``shown`` shows of each unit (the page's tables).
    The deadlines' fingerprints are made, and the ledger read, in slices of ``SLICE``, the loop turning between two.
    """
    told = (DeadlineOutcome.LATE, DeadlineOutcome.OVERDUE)
    asked: dict[str, tuple[str, str, str]] = {}

    def ask(told_of: tuple[str, Deadline]) -> None:
        unit, deadline = told_of
        label = "task_id" if deadline.task_id is not None else None
        fingerprint = identity_fingerprint(deadline.rule_id, unit, label, deadline.task_id or "")
        asked[fingerprint] = (unit, deadline.rule_id, deadline.task_id or "")

    pick = shown if shown is not None else _every_deadline
    told_of = ((d.unit_id or card.unit_id, d) for card in report.cards for d in pick(card) if d.outcome in told)
    await each_in_turns(told_of, ask, pause=worker.yield_to_records)
    notified: dict[tuple[str, str, str], Delivery] = {}
    for found in worker.deliveries.first_delivered(asked, report.judged_at, SLICE):
        notified |= {asked[fingerprint]: delivery for fingerprint, delivery in found.items()}
        await worker.yield_to_records()
    return notified


async def report_answer(worker: WorkerView, asked: ReportQuery, cards: list[UnitScorecard], now: datetime) -> Answer:
    """The report of ``cards`` (only the units asked for, if any, with those rolled up into them) as asked.

    A page of tens of thousands of rows is written in parts, the event loop turning between two.
    """
    pack = worker.pack
    units_at = day_end(asked.units_at, pack.tz) if asked.units_at is not None else None
    report = report_of(pack, asked.period, cards, now, units_at, only=asked.units, communes_of=asked.communes_of)
    response = await response_of(worker, report)
    if asked.format != "csv":  # a row per unit: no deadline's notification in it
        shown = listed if asked.format == "html" else None
        report = dataclasses.replace(report, notified=await notified_of(worker, report, shown))
    report = dataclasses.replace(report, response=response)
    name = f"bao-cao-{asked.period.text}" + (f"-xa-{asked.communes_of}" if asked.communes_of else "")
    if asked.format == "csv":
        headers = {"Content-Disposition": attachment(f"{name}.csv")}
        return Answer(200, report_csv(report), "text/csv; charset=utf-8", headers)
    if asked.format == "json":
        body: dict[str, Any] = report_json(report)
        return json_answer(body)
    html = (await joined_in_turns(report_html_parts(report), worker.yield_to_records)).encode("utf-8")
    return Answer(200, html, "text/html; charset=utf-8", {"Content-Security-Policy": CONTENT_SECURITY_POLICY})
