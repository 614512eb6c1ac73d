"""A review report: every unit's scorecard for one period, the national totals and the ranking.

Pure: scorecards in (``rules.review``), a ``Report`` out, and the same
numbers as JSON (``report_json``) or CSV (``report_csv``, one row per unit);
``monitor.report.html`` prints it for a meeting. Whoever builds it gathers the
units' states and the deadlines their alerts warned about: a worker from the
cluster and its history index, ``monitor report --events`` from a replay.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from monitor.notifications import Delivery
from monitor.report.response import ResponseRow
from monitor.spreadsheet import csv_bytes
from rules.language import RulePack
from rules.review import (
    Deadline,
    DeadlineOutcome,
    Period,
    UnitScorecard,
    carrier,
    period_units,
    rank,
    roll_up,
    scorecard,
)
from rules.state import UnitState

__all__ = ["SCORE_FORMULA", "Report", "build_report", "report_csv", "report_json", "report_of"]

_JUST_BEFORE = timedelta(microseconds=1)  # a period's end belongs to the next one

#: The on-time score, as the report prints it.
SCORE_FORMULA = (
    "Điểm đúng hạn = số hạn hoàn thành đúng hạn (kể cả trong thời hạn được gia hạn) ÷ (đúng hạn + trong gia hạn "
    "+ trễ hạn + còn quá hạn cuối kỳ). "
    "Hoàn thành đúng vào thời điểm đến hạn tính là trễ hạn; nhiệm vụ đã hủy và hạn chưa đến không tính. "
    "Xếp hạng theo điểm, rồi ít quá hạn hơn, rồi ít trễ hạn hơn."
)
#: The same, for readers of the JSON and the CSV.
SCORE_FORMULA_EN = (
    "on-time score = (on time + within an extension) / (on time + within an extension + late + overdue at the "
    "period's end); a completion at the due instant "
    "is late; cancelled tasks and deadlines not yet come are left out; ranked by score, then fewer overdue, "
    "then fewer late"
)


@dataclass(frozen=True, slots=True)
class Report:
    """Every unit's scorecard for one period, judged at ``judged_at`` (the period's end, or now if earlier)."""

    period: Period
    tz: ZoneInfo
    made_at: datetime
    judged_at: datetime
    pack_version: str
    cards: tuple[UnitScorecard, ...]  # by unit id
    units_at: datetime  # the units the report is on: those in force then (predecessors rolled up into them)
    communes_of: str | None = None  # a province whose communes the report is of (None: the rostered units)
    province_name: str = ""  # its name
    #: How fast alerts begun in the period were acknowledged and resolved (``None``: no actions to judge by).
    response: tuple[ResponseRow, ...] | None = None
    #: A late or overdue deadline's first notification a peer took, by (unit, rule, task or ""): the ledger's.
    notified: Mapping[tuple[str, str, str], Delivery] = field(default_factory=dict)

    def notified_of(self, card: UnitScorecard, deadline: Deadline) -> Delivery | None:
        """When the unit was first told of ``deadline`` (its alert delivered to a peer), if it was."""
        return self.notified.get((deadline.unit_id or card.unit_id, deadline.rule_id, deadline.task_id or ""))

    @property
    def ranking(self) -> list[UnitScorecard]:
        """Units with a score, best first."""
        return rank(self.cards)

    @property
    def in_rank_order(self) -> list[UnitScorecard]:
        """Every unit, rank 1 first: the ranking, then the units without a score, by unit id.

        ``ranking`` breaks ties by fewer overdue, then fewer late, then unit id, so no two units share a place.
        """
        ranked = self.ranking
        placed = {c.unit_id for c in ranked}
        return ranked + [c for c in self.cards if c.unit_id not in placed]

    @property
    def never_reported(self) -> list[UnitScorecard]:
        """Units that have never reported anything."""
        return [c for c in self.cards if not c.reported]

    def total(self, outcome: DeadlineOutcome) -> int:
        """Deadlines of every unit with ``outcome``."""
        return sum(c.count(outcome) for c in self.cards)

    @property
    def score(self) -> float | None:
        """The national on-time score: every unit's deadlines together."""
        judged = sum(c.judged for c in self.cards)
        return sum(c.kept for c in self.cards) / judged if judged else None

    def extended(self) -> list[tuple[UnitScorecard, Deadline]]:
        """Every deadline of the period an extension set, with the scorecard it is in, by unit then due instant."""
        return [(card, d) for card in self.cards for d in card.extended]


def build_report(
    pack: RulePack,
    period: Period,
    states: Mapping[str, UnitState],
    warned: Mapping[str, Collection[tuple[str, str | None]]],
    now: datetime,
    units: Sequence[str] = (),
    units_at: datetime | None = None,
    communes_of: str | None = None,
    shown: int | None = None,
) -> Report:
    """The report of ``period`` for ``units`` (default: every rostered unit and every unit that reported).

    A unit asked for brings the units merged into it, whose figures its scorecard counts. ``communes_of``: the
    report of that province's communes instead (``period_units``). ``shown``: the scorecards keep only that many
    of each unit's first overdue and late deadlines (``monitor.report.html.SHOWN``), and count the rest.
    """
    bounds = period.bounds(pack.tz)
    chosen = period_units(pack, bounds, states, communes_of)
    if units:  # each with the units merged into it, or, merged away itself, the one it became and those in it
        at = _units_at(pack, period, now, units_at)
        became = {carrier(pack.units, u, at) for u in units}
        wanted = set(units) | became | {p for u in became for p in pack.units.predecessors(u)}
        chosen = sorted(wanted & set(chosen) | set(units))
    cards = [scorecard(pack, u, states.get(u), warned.get(u, ()), bounds, now, shown) for u in chosen]
    return report_of(pack, period, cards, now, units_at, only=units, communes_of=communes_of)


def report_of(
    pack: RulePack,
    period: Period,
    cards: Iterable[UnitScorecard],
    now: datetime,
    units_at: datetime | None = None,
    only: Sequence[str] = (),
    communes_of: str | None = None,
) -> Report:
    """The report of scorecards made elsewhere (each worker makes those of its own units), one unit's each.

    The report is on the units in force at ``units_at`` (default: the last instant it judges): a unit merged
    into one of them before then is rolled up into its scorecard (``rules.review.roll_up``). ``only``: keep
    only these units' scorecards (after the roll-up: a unit merged away, in the scorecard of the one it became).
    """
    tz = pack.tz
    judged = min(period.bounds(tz)[1], now)
    at = _units_at(pack, period, now, units_at)
    rolled = roll_up(pack, cards, at, judged)
    if only:  # a unit asked for that was merged away is shown within the unit it became
        wanted = set(only)
        rolled = [c for c in rolled if c.unit_id in wanted or any(r.unit_id in wanted for r in c.rolled_up)]
    name = pack.unit_name(communes_of) if communes_of is not None else ""
    return Report(period, tz, now, judged, pack.version, tuple(rolled), at, communes_of, name)


def _units_at(pack: RulePack, period: Period, now: datetime, units_at: datetime | None) -> datetime:
    """The instant whose units a report is on: ``units_at``, or the last instant it judges."""
    return units_at if units_at is not None else min(period.bounds(pack.tz)[1], now) - _JUST_BEFORE


def _iso(instant: datetime | None) -> str | None:
    return instant.isoformat() if instant is not None else None


def _round(value: float | None, digits: int = 4) -> float | None:
    return round(value, digits) if value is not None else None


def _notified(delivery: Delivery | None) -> dict[str, Any] | None:
    if delivery is None:
        return None
    return {"at": delivery.at.isoformat(), "sink": delivery.sink, "http_status": delivery.http_status}


def _unit(
    card: UnitScorecard,
    place: int | None,
    items: bool = True,
    notified: Mapping[tuple[str, str, str], Delivery] | None = None,
    nested: bool = False,
) -> dict[str, Any]:
    """A scorecard's numbers; with ``items``, each deadline (naming the unit rolled up it is of, if any).

    ``notified``: each late or overdue deadline's first notification, from the delivery ledger. ``nested``: a unit
    rolled up into another (no items, rank or units of its own).

    Raises:
        ValueError: ``items`` asked of a scorecard that keeps only the deadlines a page shows.
    """
    if items and not nested and card.counts is not None:
        raise ValueError(f"{card.unit_id}'s scorecard keeps only the deadlines a page shows: it has no items to list")
    notified = notified or {}
    median, worst = card.lateness
    shown: dict[str, Any] = {
        "unit_id": card.unit_id,
        "name": card.name,
        "rank": place,
        "score": _round(card.score),
        "reported": card.reported,
        "ended_at": _iso(card.ended_at),
        "last_report": _iso(card.last_report),
        "days_silent": card.days_silent,
        "deadlines": {
            "due": card.due,
            "on_time": card.count(DeadlineOutcome.ON_TIME),
            "extended": card.count(DeadlineOutcome.EXTENDED),
            "late": card.count(DeadlineOutcome.LATE),
            "late_median_days": median,
            "late_worst_days": worst,
            "overdue": card.count(DeadlineOutcome.OVERDUE),
            "overdue_oldest_days": card.oldest_overdue,
            "cancelled": card.count(DeadlineOutcome.CANCELLED),
            "not_yet_due": card.count(DeadlineOutcome.NOT_YET_DUE),
        },
        "warnings": {"heeded": card.warnings.heeded, "ignored": card.warnings.ignored, "open": card.warnings.open},
        "rolled_up": [_unit(c, None, nested=True) for c in card.rolled_up],
        "items": [
            {
                "unit_id": d.unit_id or card.unit_id,
                "rule_id": d.rule_id,
                "task_id": d.task_id,
                "title": d.title,
                "due": d.due.isoformat(),
                "outcome": d.outcome.value,
                "kept_at": _iso(d.kept_at),
                "days": d.days_late,
                "notified": _notified(notified.get((d.unit_id or card.unit_id, d.rule_id, d.task_id or ""))),
                "first_due": _iso(d.first_due),
                "extension": d.extension.as_json() if d.extension is not None else None,
            }
            for d in (card.deadlines if items and not nested else ())
        ],
        "indicators": [
            {
                "rule_id": s.rule_id,
                "indicator": s.indicator,
                "target": s.target,
                "direction": s.direction,
                "start": s.start,
                "end": s.end,
                "change": _round(s.change, 6),
                "end_reported_at": _iso(s.end_at),
                "meets_target": s.meets_target,
            }
            for s in card.indicators
        ],
    }
    if nested:
        del shown["items"], shown["rank"], shown["rolled_up"]
    elif not items:
        del shown["items"]
    return shown


def report_json(report: Report, items: bool = True) -> dict[str, Any]:
    """Every number of the report, as JSON (without ``items``: each unit's numbers, not its deadlines)."""
    places = {c.unit_id: i for i, c in enumerate(report.ranking, start=1)}
    period = report.period
    return {
        "period": {
            "text": period.text,
            "label": period.label,
            "first_day": period.first.isoformat(),
            "last_day": period.last.isoformat(),
        },
        "made_at": report.made_at.isoformat(),
        "judged_at": report.judged_at.isoformat(),
        "units_at": report.units_at.isoformat(),
        "communes_of": {"id": report.communes_of, "name": report.province_name} if report.communes_of else None,
        "rule_pack": report.pack_version,
        "score_formula": SCORE_FORMULA_EN,
        "totals": {
            "units": len(report.cards),
            "on_time": report.total(DeadlineOutcome.ON_TIME),
            "extended": report.total(DeadlineOutcome.EXTENDED),
            "late": report.total(DeadlineOutcome.LATE),
            "overdue": report.total(DeadlineOutcome.OVERDUE),
            "cancelled": report.total(DeadlineOutcome.CANCELLED),
            "not_yet_due": report.total(DeadlineOutcome.NOT_YET_DUE),
            "score": _round(report.score),
        },
        "ranking": [c.unit_id for c in report.ranking],
        "never_reported": [c.unit_id for c in report.never_reported],
        "units": [_unit(c, places.get(c.unit_id), items, report.notified) for c in report.cards],
        "response": [row.as_json() for row in report.response] if report.response is not None else None,
    }


#: The CSV's columns: one row per unit; an indicator's columns are named after it.
CSV_COLUMNS = (
    "rank",
    "unit_id",
    "name",
    "rolled_up",
    "score",
    "due",
    "on_time",
    "extended",
    "late",
    "late_median_days",
    "late_worst_days",
    "overdue",
    "overdue_oldest_days",
    "cancelled",
    "not_yet_due",
    "warnings_heeded",
    "warnings_ignored",
    "last_report",
    "days_silent",
    "reported",
)


def report_csv(report: Report) -> bytes:
    """One row per unit with the numbers of ``report_json``; each indicator's start, end, change and target met.

    ``rolled_up`` names the units merged into the row's whose deadlines it counts (``VN-03 Hà Giang; …``).
    Rows come in ``Report.in_rank_order``: rank 1 on the first row, the units without a rank (no deadline judged
    in the period) last, by unit id. Cells are as ``monitor.spreadsheet`` writes them (``true``/``false``,
    ``9`` not ``9.0``, ratios as fractions of one).
    """
    data = report_json(report, items=False)
    indicators = sorted({i["indicator"] for u in data["units"] for i in u["indicators"]})
    columns = list(CSV_COLUMNS)
    for name in indicators:
        columns += [f"{name}_start", f"{name}_end", f"{name}_change", f"{name}_meets_target"]
    by_unit = {u["unit_id"]: u for u in data["units"]}
    rows = []
    for unit in (by_unit[c.unit_id] for c in report.in_rank_order):
        row: dict[str, object] = {
            "rank": unit["rank"],
            "unit_id": unit["unit_id"],
            "name": unit["name"],
            "rolled_up": "; ".join(f"{r['unit_id']} {r['name']}" for r in unit["rolled_up"]),
            "score": unit["score"],
            **{k: v for k, v in unit["deadlines"].items()},
            "warnings_heeded": unit["warnings"]["heeded"],
            "warnings_ignored": unit["warnings"]["ignored"],
            "last_report": unit["last_report"],
            "days_silent": unit["days_silent"],
            "reported": unit["reported"],
        }
        for standing in unit["indicators"]:
            name = standing["indicator"]
            row |= {
                f"{name}_start": standing["start"],
                f"{name}_end": standing["end"],
                f"{name}_change": standing["change"],
                f"{name}_meets_target": standing["meets_target"],
            }
        rows.append(row)
    return csv_bytes(columns, rows)
