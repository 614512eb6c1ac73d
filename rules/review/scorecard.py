"""A unit's scorecard for a review period: its deadlines kept, kept late or missed, its warnings, its indicators.

Pure: the rules, a unit's state (what it reported, with when each task first
reached each status and each indicator's recent reports) and the unit's alert
transitions in, figures out. The same engine functions that fire the alerts
say when a task is due and how many days late it is, so a report agrees with
the alerts, the console and the API.

The rules of counting, which the report prints:

- a deadline counts in a period when it falls in it (and has come by the time
  the report is made: a deadline later in a running period is "not yet due"):
  when the last instant to act lies in it (a task due on 30/09 is due at
  midnight that night, and is a deadline of the third quarter);
- it was kept **on time** when the task reached an expected status before the
  due instant, **late** at or after it (as the alerts say: a completion at the
  due instant itself is late), and is **overdue** when it had not been kept by
  the end of the period; a task cancelled by then counts in none of them;
- a deadline the working group extended falls in the period of its new due
  instant; kept before its first due instant it was on time, kept after it but
  before the new one it was **kept within an extension**, and after both, late;
- a roster deadline (every unit listed must, e.g. the 20/7 inspection plan)
  is one deadline of each unit listed;
- the score is (on time + within an extension) ÷ (on time + within an
  extension + late + overdue): an extension is a decision, not a failure, and
  is shown apart;
- a due-soon warning of a deadline in the period was **heeded** when the
  deadline was then kept on time (or within an extension), and **ignored**
  when it was kept late or missed;
- a unit is judged only while it exists: one merged into another during the
  period is judged up to the merger, and its figures are counted in its
  successor's scorecard (``rules.review.lineage``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import chain

from events.models import TaskStatus
from rules.language import (
    DUE_SOON,
    CompiledRule,
    DeadlineRule,
    Matcher,
    RulePack,
    ThresholdRule,
    breached,
    due_is_date,
    is_roster_deadline,
    original_due,
    original_is_date,
    roster_due,
    task_due,
    whole_days,
)
from rules.review.deadlines import Deadline, DeadlineCounts, DeadlineOutcome, DeadlineTally, Warnings
from rules.state import INDEX_MARGIN, AlertTransition, Extension, TaskState, UnitState
from rules.vietnamese import days_overdue

__all__ = [
    "Deadline",
    "DeadlineOutcome",
    "IndicatorStanding",
    "ScorecardBuilder",
    "UnitScorecard",
    "Warnings",
    "rank",
    "scorecard",
    "warned_deadlines",
]


_JUST_BEFORE = timedelta(microseconds=1)  # the end of a period belongs to the next one


@dataclass(frozen=True, slots=True)
class IndicatorStanding:
    """An indicator a threshold rule watches: where it stood at the start and at the end of the period."""

    rule_id: str
    indicator: str
    target: float
    direction: str  # "below" (it must not fall below the target) or "above"
    start: float | None
    end: float | None
    end_at: datetime | None  # when the value in force at the end was reported
    meets_target: bool | None  # at the end; None when nothing was reported by then

    @property
    def change(self) -> float | None:
        """End minus start, when both are known."""
        return None if self.start is None or self.end is None else self.end - self.start


class _Tallied:
    """Where a scorecard keeps its deadlines' counts, once counted (not a field: never sent or compared)."""

    __slots__ = ("_tally",)
    _tally: DeadlineCounts


@dataclass(frozen=True, slots=True)
class UnitScorecard(_Tallied):
    """Everything a review meeting asks of one unit for one period.

    It holds every deadline of the unit in the period (``counts`` is ``None``), or, made for a page
    (``ScorecardBuilder``'s ``shown``), their ``counts`` and only the deadlines the page shows: the first
    ``shown`` overdue ones, the first ``shown`` late ones, and every extended one. Its figures (``count``,
    ``kept``, ``judged``, ``score``, ``lateness``, ``oldest_overdue``) come from the counts, made from the
    deadlines the first time one is asked for when it holds every one: a report asks them of each unit many
    times (its ranking, its chart, its tables), and a unit's deadlines are hundreds of thousands in a national
    quarter.
    """

    unit_id: str
    name: str
    deadlines: tuple[Deadline, ...] = ()
    indicators: tuple[IndicatorStanding, ...] = ()
    warnings: Warnings = field(default_factory=Warnings)
    last_report: datetime | None = None  # the last report at or before the end of the period
    days_silent: int | None = None  # whole days from it to the end of the period
    reported: bool = False  # whether the unit has ever reported anything
    ended_at: datetime | None = None  # when the unit ceased to exist, if by the end of the period
    #: The units merged into this one whose figures it counts (``rules.review.lineage``), each as judged alone.
    rolled_up: tuple[UnitScorecard, ...] = ()
    counts: DeadlineCounts | None = None  #: every deadline counted, when ``deadlines`` holds only those shown
    shown: int | None = None  #: with ``counts``: how many of the first overdue, and of the first late, it holds

    def counted(self) -> DeadlineCounts:
        """Its deadlines' counts: ``counts``, or those of ``deadlines``, counted once (a tuple: it never changes)."""
        if self.counts is not None:
            return self.counts
        try:
            return self._tally
        except AttributeError:
            counts = DeadlineCounts.of(self.deadlines)
            object.__setattr__(self, "_tally", counts)
            return counts

    def count(self, outcome: DeadlineOutcome) -> int:
        """Deadlines with ``outcome``."""
        return self.counted().count(outcome)

    @property
    def due(self) -> int:
        """Deadlines of the period that have come: all but those not yet due."""
        counts = self.counted()
        return counts.total - counts.count(DeadlineOutcome.NOT_YET_DUE)

    @property
    def kept(self) -> int:
        """Deadlines kept in time: on time, or within an extension."""
        return self.count(DeadlineOutcome.ON_TIME) + self.count(DeadlineOutcome.EXTENDED)

    @property
    def judged(self) -> int:
        """Deadlines the score counts: on time, within an extension, late or overdue."""
        return self.kept + self.count(DeadlineOutcome.LATE) + self.count(DeadlineOutcome.OVERDUE)

    @property
    def score(self) -> float | None:
        """Kept (on time or within an extension) ÷ judged; ``None`` with no deadline to judge."""
        return self.kept / self.judged if self.judged else None

    @property
    def lateness(self) -> tuple[float | None, int | None]:
        """Median and worst days late of the deadlines kept late."""
        return self.counted().lateness

    @property
    def oldest_overdue(self) -> int | None:
        """The most days a deadline still overdue at the period's end was overdue (``None``: none was)."""
        return self.counted().oldest_overdue

    def first(self, outcome: DeadlineOutcome, n: int) -> list[Deadline]:
        """The first ``n`` deadlines with ``outcome`` (overdue or late), earliest due first.

        Raises:
            ValueError: The scorecard keeps fewer of them (``shown``) than ``n``, and had more.
        """
        if self.counts is not None and n > (self.shown or 0) and self.count(outcome) > (self.shown or 0):
            raise ValueError(
                f"{self.unit_id}'s scorecard keeps the first {self.shown} of its {outcome} deadlines, not {n}"
            )
        return [d for d in self.deadlines if d.outcome is outcome][:n]

    @property
    def extended(self) -> list[Deadline]:
        """Every deadline an extension set (a scorecard keeps each)."""
        return [d for d in self.deadlines if d.extension is not None]


def _falls_in(due: datetime, start: datetime, end: datetime) -> bool:
    """Whether a deadline due at ``due`` falls in the period [``start``, ``end``): its last instant to act does.

    A task due on 30/09 (a date) is due at the next midnight, 1/10 00:00: the end of the third quarter, and a
    deadline of the third quarter, not the fourth.
    """
    return start < due <= end


def _kept_at(rule: DeadlineRule, task: TaskState, end: datetime) -> datetime | None:
    """When ``task`` first reached a status ``rule`` expects, if it is in one now and had by ``end``."""
    if task.status not in rule.expect_status:
        return None
    reached = [at for s in rule.expect_status if (at := task.first_reached.get(s)) is not None]
    kept = min(reached) if reached else task.occurred_at
    return kept if kept < end else None


def _cancelled_by(task: TaskState, end: datetime) -> bool:
    cancelled = task.first_reached.get(TaskStatus.CANCELLED)
    return task.status is TaskStatus.CANCELLED and cancelled is not None and cancelled < end


def _judge(
    compiled: CompiledRule,
    due: datetime,
    kept: datetime | None,
    cancelled: bool,
    end: datetime,
    first_due: datetime | None = None,
    overdue_days: Callable[[CompiledRule, datetime], int] | None = None,
) -> tuple[DeadlineOutcome, int | None]:
    """How a deadline due at ``due`` stood at ``end`` (``first_due``: its due instant before an extension).

    ``overdue_days`` counts the days from a missed deadline to ``end`` (``days_overdue``, or a count of it kept).
    """
    if cancelled and kept is None:
        return DeadlineOutcome.CANCELLED, None
    if kept is not None:
        if kept < (first_due if first_due is not None else due):
            return DeadlineOutcome.ON_TIME, None
        if kept < due:
            return DeadlineOutcome.EXTENDED, None
        return DeadlineOutcome.LATE, days_overdue(compiled, due, kept)
    if due >= end:
        return DeadlineOutcome.NOT_YET_DUE, None
    days = overdue_days(compiled, due) if overdue_days is not None else days_overdue(compiled, due, end)
    return DeadlineOutcome.OVERDUE, days


class _OverdueDays:
    """``days_overdue`` to one instant, each (rule, due instant) counted once: a unit's tasks share few due days."""

    __slots__ = ("_counted", "_end")

    def __init__(self, end: datetime) -> None:
        self._end = end
        self._counted: dict[tuple[str, datetime], int] = {}

    def __call__(self, compiled: CompiledRule, due: datetime) -> int:
        key = (compiled.rule.id, due)
        days = self._counted.get(key)
        if days is None:
            days = self._counted[key] = days_overdue(compiled, due, self._end)
        return days


@dataclass(frozen=True, slots=True)
class _Judged:
    """The period a scorecard judges: its first instant, the instant after its last, and the judging instant.

    With the first two in epoch seconds: whether a deadline falls in the period (``_falls_in``) is asked of every
    task, and a comparison of instants of two time zones (a deadline sent in UTC, a period in Vietnam's) asks
    each for its offset, a tenth of a scorecard's time.
    """

    start: datetime
    end: datetime
    until: datetime
    first_second: float = field(init=False)
    last_second: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "first_second", self.start.timestamp())
        object.__setattr__(self, "last_second", self.end.timestamp())


def _task_deadlines(
    rules: Iterable[CompiledRule],
    unit: str,
    task: TaskState,
    period: _Judged,
    overdue_days: Callable[[CompiledRule, datetime], int] | None = None,
) -> Iterator[Deadline]:
    """The deadlines of one of the unit's tasks that fall in the ``period``.

    ``rules``: the deadline rules of the task's kind that cover the unit, none a roster's (``_deadline_rules``).
    """
    until, first_second, last_second = period.until, period.first_second, period.last_second
    fields: dict[str, str] | None = None
    for compiled in rules:
        rule = compiled.rule
        assert isinstance(rule, DeadlineRule)
        if fields is None:
            fields = task.fields(unit)
        if not rule.selects(fields, task.labels):
            continue
        due = task_due(rule, task, compiled.calendar)
        if due is None or not first_second < due.timestamp() <= last_second:
            continue
        extension = task.extension
        first = original_due(rule, task, compiled.calendar) if extension is not None else None
        kept = _kept_at(rule, task, until)
        outcome, days = _judge(compiled, due, kept, _cancelled_by(task, until), until, first, overdue_days)
        title = task.title or task.task_id
        dated = (due_is_date(rule, task), original_is_date(rule, task))
        yield Deadline(rule.id, task.task_id, title, due, outcome, kept, days, None, extension, first, dated)


def _deadline_rules(pack: RulePack, unit: str, kind: str) -> tuple[CompiledRule, ...]:
    """The deadline rules that may judge a task of ``kind`` of ``unit``: those of its kind that cover it, no roster's."""
    return tuple(
        compiled
        for compiled in pack.task_rules_for(kind)
        if isinstance(compiled.rule, DeadlineRule) and compiled.rule.roster is None and compiled.covers(unit)
    )


@dataclass
class _RosterDeadline:
    """A roster deadline of the unit that falls in the period, and the first instant one of its tasks kept it."""

    compiled: CompiledRule
    rule: DeadlineRule
    due: datetime
    extension: Extension | None
    kept: datetime | None = None

    def add(self, unit: str, task: TaskState, until: datetime) -> None:
        if self.rule.selects(task.fields(unit), task.labels) and (at := _kept_at(self.rule, task, until)) is not None:
            self.kept = at if self.kept is None else min(self.kept, at)

    def deadline(self, until: datetime) -> Deadline:
        rule, extension = self.rule, self.extension
        first = rule.due if extension is not None else None
        outcome, days = _judge(self.compiled, self.due, self.kept, False, until, first)
        dated = (extension is not None and not isinstance(extension.due, datetime), False)
        return Deadline(rule.id, None, rule.id, self.due, outcome, self.kept, days, None, extension, first, dated)


def _roster_deadlines(pack: RulePack, state: UnitState, start: datetime, end: datetime) -> list[_RosterDeadline]:
    """The unit's roster deadlines that fall in the period, none kept yet (its tasks keep them: ``add``)."""
    found: list[_RosterDeadline] = []
    unit = state.unit_id
    for compiled in pack.unit_rules:
        rule = compiled.rule
        if not isinstance(rule, DeadlineRule) or not is_roster_deadline(rule):
            continue
        extension = state.extensions.get(rule.id)
        due = roster_due(rule, extension, compiled.calendar)
        if compiled.covers(unit) and _falls_in(due, start, end):
            found.append(_RosterDeadline(compiled, rule, due, extension))
    return found


def _kinds_read_whole(
    pack: RulePack, unit: str, rostered: Iterable[_RosterDeadline], start: datetime, end: datetime
) -> tuple[Matcher, ...] | None:
    """The kinds of tasks a scorecard must read whole (``None``: every task), besides those due in the period.

    An index by due instant finds a task due in the period by its own deadline or an extension's. It cannot
    find one due under a rule's own instant: a fixed ``due`` in the period, a ``within`` after a status (any
    task of the rule's kind may be due in it), or a roster deadline (any task the rule selects may keep it).
    """
    rules = [c.rule for c in pack.task_rules if isinstance(c.rule, DeadlineRule) and c.covers(unit)]
    placed = [r for r in rules if r.roster is None and (r.within is not None or _fixed_in(r, start, end))]
    matchers = [r.select.get("kind") for r in chain(placed, (deadline.rule for deadline in rostered))]
    if any(matcher is None for matcher in matchers):
        return None
    return tuple(m for m in matchers if m is not None)


def _fixed_in(rule: DeadlineRule, start: datetime, end: datetime) -> bool:
    return rule.due is not None and _falls_in(rule.due, start, end)


def _each_once(tasks: Iterable[TaskState]) -> Iterator[TaskState]:
    seen: set[str] = set()
    for task in tasks:
        if task.task_id not in seen:
            seen.add(task.task_id)
            yield task


def _indicators(pack: RulePack, state: UnitState, start: datetime, until: datetime) -> list[IndicatorStanding]:
    standings: list[IndicatorStanding] = []
    unit = state.unit_id
    for compiled in pack.indicator_rules:
        rule = compiled.rule
        if not isinstance(rule, ThresholdRule) or not compiled.covers(unit):
            continue
        names = [rule.indicator] if rule.indicator != "*" else sorted(state.indicators)
        for name in names:
            report = state.indicators.get(name)
            if not compiled.judges_indicator(unit, name, report):
                continue
            target, _ = rule.lines_at(until)
            direction = "below" if rule.below is not None else "above"
            at_end = report.value_at(until - _JUST_BEFORE) if report is not None else None
            at_start = report.value_at(start) if report is not None else None
            if at_start is None and report is not None:  # none before the period: its first report in the period
                at_start = next(((at, v) for at, v in report.reports() if start <= at < until), None)
            meets = None if at_end is None else not breached(rule, at_end[1], False, target, None)
            standings.append(
                IndicatorStanding(
                    rule.id,
                    name,
                    target,
                    direction,
                    at_start[1] if at_start is not None else None,
                    at_end[1] if at_end is not None else None,
                    at_end[0] if at_end is not None else None,
                    meets,
                )
            )
    return standings


def warned_deadlines(transitions: Iterable[AlertTransition]) -> set[tuple[str, str | None]]:
    """(rule id, task id) of the deadlines the alert records warned about (a due-soon firing); no task id for a unit's."""
    return {(t.rule_id, t.labels.get("task_id")) for t in transitions if t.status == "firing" and t.stage == DUE_SOON}


def _task_reported(task: TaskState, until: datetime) -> datetime | None:
    """The task's last report at or before ``until``: when it changed status, or its last event."""
    instants = [at for status in TaskStatus if (at := task.first_reached.get(status)) is not None and at <= until]
    if task.occurred_at <= until:
        instants.append(task.occurred_at)
    return max(instants, default=None)


class ScorecardBuilder:
    """One unit's scorecard, made in one pass over its tasks, given one at a time (``add``), then ``card``.

    ``scorecard`` gives it every task at once. A caller that must not hold its
    thread for a unit that tracks hundreds of thousands of tasks (a worker's
    event loop) gives them in slices (``tasks`` says which, to walk).

    The unit's newest task report is taken when the builder is made: a worker
    makes every unit's builder at once, before events that happen after the
    judging instant can come in while it counts (each would have it read all
    the unit's tasks, to find its last report before that instant), and may
    learn which deadlines were warned about after (``warn``), before any task.

    Args: as ``scorecard``'s.
    """

    def __init__(
        self,
        pack: RulePack,
        unit_id: str,
        state: UnitState | None,
        bounds: tuple[datetime, datetime],
        now: datetime,
        warned: Collection[tuple[str, str | None]] = (),
        shown: int | None = None,
    ) -> None:
        start, end = bounds
        life = pack.units.get(unit_id)
        ended = life.end if life is not None and life.end is not None and life.end <= end else None
        if life is not None and life.start is not None and life.start > start:  # judged only while it exists
            start = min(life.start, end)
        end = min(end, ended) if ended is not None else end
        self._pack, self._unit, self._state = pack, unit_id, state
        self._start, self._end, self._until, self._ended = start, end, min(end, now), ended
        self._subject = state if state is not None else UnitState(unit_id=unit_id, pack_version=pack.version)
        self._rostered = _roster_deadlines(pack, self._subject, start, end)
        self._newest = self._subject.newest_task_report()
        self._warned = warned
        self._tally = DeadlineTally(shown)
        self._begun = False  # whether a task was given (``warn`` comes before)
        self._last: datetime | None = None
        self._last_known = False  # whether ``_last`` is the unit's newest task report already (``tasks``)
        self._rules_of: dict[str, tuple[CompiledRule, ...]] = {}  # ``_deadline_rules`` by kind
        self._overdue_days = _OverdueDays(self._until)
        self._period = _Judged(start, end, self._until)

    def tasks(self) -> Iterable[TaskState]:
        """The unit's tasks that may count in the period, to give ``add``, each once.

        Those due in the period (its tasks' index by due instant) and those of the kinds whose deadlines the
        index cannot place (``_kinds_read_whole``): not the tasks due in other periods, which a national year
        of dossiers is mostly made of. Every task, though, when one reported after the judging instant (a past
        period): the unit's last report is then among them.
        """
        subject, start, end, newest = self._subject, self._start, self._end, self._newest
        if newest is not None and newest > self._until:
            return subject.tasks.values()
        self._last = newest  # every task's last report is at or before it: none needs reading for it
        self._last_known = True
        whole = _kinds_read_whole(self._pack, self._unit, self._rostered, start, end)
        if whole is None:
            return subject.tasks.values()
        due = subject.tasks.due_within(start.timestamp() - INDEX_MARGIN, end.timestamp() + INDEX_MARGIN)
        if not whole:
            return _each_once(due)
        return _each_once(chain(due, subject.tasks_of(lambda kind: any(m.matches(kind) for m in whole))))

    def warn(self, warned: Collection[tuple[str, str | None]]) -> None:
        """The deadlines a due-soon alert warned about (``scorecard``'s ``warned``), given before any task.

        Raises:
            RuntimeError: A task was given already: its deadlines were counted as not warned about.
        """
        if self._begun:
            raise RuntimeError(f"{self._unit}'s deadlines are being counted: what was warned about comes first")
        self._warned = warned

    def add(self, task: TaskState) -> None:
        """Count one of the unit's tasks: its deadlines in the period, and its last report."""
        self._begun = True
        rules = self._rules_of.get(task.kind)
        if rules is None:
            rules = self._rules_of[task.kind] = _deadline_rules(self._pack, self._unit, task.kind)
        if rules:
            tally, warned = self._tally, self._warned
            for deadline in _task_deadlines(rules, self._unit, task, self._period, self._overdue_days):
                tally.add(deadline, (deadline.rule_id, deadline.task_id) in warned)
        for rostered in self._rostered:
            rostered.add(self._unit, task, self._until)
        if self._last_known:
            return
        reported = _task_reported(task, self._until)
        if reported is not None and (self._last is None or reported > self._last):
            self._last = reported

    def card(self) -> UnitScorecard:
        """The scorecard of the tasks given, the unit's roster deadlines and its indicators (once: they are counted)."""
        pack, subject, until, start, tally = self._pack, self._subject, self._until, self._start, self._tally
        for rostered in self._rostered:
            deadline = rostered.deadline(until)
            tally.add(deadline, (deadline.rule_id, None) in self._warned)
        reports = [at for report in subject.indicators.values() for at, _ in report.reports() if at <= until]
        last = max([*reports, *([self._last] if self._last is not None else [])], default=None)
        return UnitScorecard(
            unit_id=self._unit,
            name=pack.units.name(self._unit, max(start, until - _JUST_BEFORE)),
            deadlines=tally.kept(),
            indicators=tuple(_indicators(pack, subject, start, until)),
            warnings=tally.warnings,
            last_report=last,
            days_silent=whole_days(last, until, pack.tz) if last is not None else None,
            reported=self._state is not None and self._state.last_event_at is not None,
            ended_at=self._ended,
            counts=tally.counts() if tally.shown is not None else None,
            shown=tally.shown,
        )


def scorecard(
    pack: RulePack,
    unit_id: str,
    state: UnitState | None,
    warned: Collection[tuple[str, str | None]],
    bounds: tuple[datetime, datetime],
    now: datetime,
    shown: int | None = None,
) -> UnitScorecard:
    """The scorecard of one unit for the period ``bounds`` (start, end), judged at its end or at ``now`` if earlier.

    Args:
        pack: The rules.
        unit_id: The unit.
        state: Its state now (``None``: it never reported).
        warned: (rule id, task id) of its deadlines a due-soon alert warned about (``warned_deadlines``).
        bounds: The period's first instant and the instant after its last.
        now: The instant the report is made.
        shown: Keep only the deadlines a page shows, and count the rest (``UnitScorecard``); ``None``: keep all.

    A unit the registry dates is judged only while it exists: from its first day, and up to its last (then
    ``ended_at`` says when it ended), under the name it had then.
    """
    builder = ScorecardBuilder(pack, unit_id, state, bounds, now, warned, shown)
    for task in builder.tasks():
        builder.add(task)
    return builder.card()


def rank(cards: Iterable[UnitScorecard]) -> list[UnitScorecard]:
    """Units with a score, best first: by score, then fewer overdue, then fewer late, then unit id."""
    scored = [c for c in cards if c.score is not None]
    return sorted(
        scored,
        key=lambda c: (-(c.score or 0.0), c.count(DeadlineOutcome.OVERDUE), c.count(DeadlineOutcome.LATE), c.unit_id),
    )
