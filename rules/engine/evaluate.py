"""The engine's entry points: (pack, state, input, now) → (state, transitions).

Nothing here reads the clock or does I/O. The worker, the rule test runner
and replay all call the same three functions: ``apply_event`` when an event
arrives, ``advance`` when time passes, ``seed`` for a rostered unit that has
never reported; ``catch_up_instant`` says at which instant to judge an event
read from a backlog, and ``restate`` gives the firing record of an alert the
state holds. An event already seen is refused as a duplicate, one older than
what the state holds as stale (``Outcome``).

State is evaluated per *subject*: a task (``task:ID``), an indicator
(``indicator:NAME``; ``indicator:*`` for "no indicator ever"), or the unit as
a whole (``unit:``). Each subject remembers when its rules next change
(``UnitState.wakeups``), so time costs nothing until something is due.
Unit-wide rules (roster deadlines, aggregates, unit staleness) are marked due
when a unit's data changes and evaluated on the next ``advance``: once per
tick however many events arrived, instead of a scan of the unit's tasks per
event.

Here an input is folded into the state and the subjects it touched are
chosen; what a rule says of a subject is assessed in
``rules.engine.assessment``, the unit's alerts and wake-ups are brought in
line with it in ``rules.engine.reconciliation``, whose transitions are the
records of ``rules.engine.records`` (their Vietnamese texts come from
``rules.vietnamese``).
"""

from __future__ import annotations

from datetime import datetime

from events.models import Event, ExtensionEvent, TaskStatusEvent
from rules.engine.reconciliation import alert_fingerprint, reconcile
from rules.engine.records import Provenance, record
from rules.engine.result import Outcome, Result
from rules.language import CompiledRule, RulePack, is_roster_deadline
from rules.state import (
    NO_INDICATOR,
    UNIT,
    AlertState,
    AlertTransition,
    Change,
    Extension,
    IndicatorState,
    SubjectKey,
    TaskState,
    UnitState,
    has_seen,
    indicator_key,
    task_key,
)

__all__ = ["advance", "apply_event", "catch_up_instant", "move", "restate", "seed"]


def apply_event(pack: RulePack, state: UnitState | None, event: Event, now: datetime) -> Result:
    """Fold one event into a unit's state and evaluate the rules about what it changed.

    ``state`` is updated in place (its tasks, indicators, alerts, pending
    breaches, wake-ups and newest event time), because copying a unit with a
    hundred thousand tracked items on every event would cost more than
    everything else together; the result holds the same object (a new one
    for a unit never seen before).

    An event whose (source, event_id) is among the latest few that updated
    its task or indicator is a duplicate; one older than what the state holds
    is stale. Neither changes anything.

    Args:
        pack: The rules.
        state: The unit's state, or ``None`` for a unit never seen before.
        event: A validated event of this unit.
        now: The current instant (aware).
    """
    current = state if state is not None else UnitState(unit_id=event.unit_id, pack_version=pack.version)
    if isinstance(event, ExtensionEvent):
        return _extend(pack, current, event, now)
    subjects: list[SubjectKey]
    if isinstance(event, TaskStatusEvent):
        task = current.tasks.get(event.task_id)
        if (outcome := _refused(task, event)) is not None:
            return Result(current, (), outcome)
        current.put_task(TaskState.from_event(event, task), task)  # in place: see above
        subjects = [task_key(event.task_id)]
        reassigned = task is not None and task.kind != event.kind
    else:
        report = current.indicators.get(event.indicator)
        if (outcome := _refused(report, event)) is not None:
            return Result(current, (), outcome)
        current.indicators[event.indicator] = IndicatorState.from_event(event, report)
        subjects = [indicator_key(event.indicator)]
        reassigned = False
        if _awaits_first_indicator(pack, current):
            subjects.append(NO_INDICATOR)
    # The unit's own fields hold its newest event and its tasks counted by kind and status: written with every event.
    changed: set[Change] = {Change.subject(subjects[0]), Change.unit()}
    if state is None and NO_INDICATOR not in subjects and pack.indicator_rules_for("*"):
        # A unit's first contact: "has it ever reported an indicator?" is asked on the next advance, not
        # now: its first indicator may be the very next record (of the other topic), and an alert that
        # fires and resolves within a tick says nothing but noise.
        current.set_wakeup(NO_INDICATOR, now.timestamp())  # a new unit: no wake-up of its own yet
        changed.add(Change.subject(NO_INDICATOR))
    last = current.last_event_at
    if last is None or last < event.occurred_at:
        _note_last_event(current, event)
    moving = current.pack_version != pack.version  # its own subjects under ``pack`` now, the rest by ``move``
    # Unit-wide rules look at every task: evaluate them once on the next advance, not per event.
    unit_due = now.timestamp() if pack.unit_rules else None
    return reconcile(
        pack,
        current,
        subjects,
        now,
        event=event,
        reassigned=reassigned or moving,
        unit_due=unit_due,
        changed=changed,
        settle=not moving,
    )


def _extend(pack: RulePack, state: UnitState, event: ExtensionEvent, now: datetime) -> Result:
    """Put an extension in force: a task's, or the unit's under a roster deadline; its alerts follow the new due.

    An extension is not a report: the unit's newest event stays what it was. Refused (``Outcome.REFUSED``) when
    the unit holds no such task, or the rule is no roster deadline the unit answers to; one granted before the
    extension in force is stale.
    """
    unit = state.unit_id
    if event.task_id is not None:
        task = state.tasks.get(event.task_id)
        if task is None:
            reason = f"unit {unit} holds no task {event.task_id!r}: a task's deadline is extended once it is reported"
            return Result(state, (), Outcome.REFUSED, reason=reason)
        if has_seen(task, event):
            return Result(state, (), Outcome.DUPLICATE)
        if task.extension is not None and event.occurred_at < task.extension.granted_at:
            return Result(state, (), Outcome.STALE)
        state.put_task(task.extended(event), task)
        subject = task_key(event.task_id)
        return reconcile(
            pack, state, [subject], now, event=event, changed={Change.subject(subject)}, **_moving(pack, state)
        )
    assert event.rule_id is not None
    compiled = pack.by_id(event.rule_id)
    if compiled is None or not is_roster_deadline(compiled.rule) or not compiled.covers(unit):
        reason = f"rule {event.rule_id!r} is no roster deadline that unit {unit} answers to under the rules in force"
        return Result(state, (), Outcome.REFUSED, reason=reason)
    known = state.extensions.get(event.rule_id)
    if known is not None and known.event_id == event.event_id:
        return Result(state, (), Outcome.DUPLICATE)
    if known is not None and event.occurred_at < known.granted_at:
        return Result(state, (), Outcome.STALE)
    state.extensions[event.rule_id] = Extension.from_event(event)
    return reconcile(pack, state, [UNIT], now, event=event, changed={Change.unit()}, **_moving(pack, state))


def _moving(pack: RulePack, state: UnitState) -> dict[str, bool]:
    """How an extension reconciles its subject: a unit not under ``pack`` yet is moved by ``advance``, not here.

    Its subject is judged under ``pack`` (alerts of rules gone included); the unit moves at its next
    ``advance``, which evaluates every subject.
    """
    moving = state.pack_version != pack.version
    return {"reassigned": moving, "settle": not moving}


def catch_up_instant(pack: RulePack, state: UnitState | None, event: Event, now: datetime) -> datetime:
    """The instant at which to judge an event read from a backlog: what the broker held before the worker read it.

    Its own time, as if it had been handled when it was published: a task
    reported in progress and the completion that followed it are judged in
    their order, so one completed on time never fires "overdue" first, and a
    report followed by a newer one is never called stale in between. Never
    after ``now``. Judged at ``now`` when what the event is about already
    holds an alert (firing, or pending a rule's ``for``): what was judged at
    an instant is never judged again at an earlier one (an alert fired is not
    taken back in the past). A unit still moving to ``pack`` (``move``) is no
    exception: the event evaluates its own subjects alone, and an alert of a
    rule the pack dropped ends no earlier than it began. Costs a lookup of
    the subject among those holding alerts (``AlertMap.of``), and for one
    that holds some, a fingerprint per rule of the event's subject.

    Args:
        pack: The rules.
        state: The unit's state before the event, ``None`` for a unit never seen before.
        event: The event.
        now: The current instant.
    """
    at = min(event.occurred_at, now)
    if isinstance(event, ExtensionEvent):
        return now  # a decision takes effect when it is applied, never in the past
    if state is None:
        return at
    if state.pending:
        return now
    if isinstance(event, TaskStatusEvent):
        subject = task_key(event.task_id)
        if not state.alerts.of(subject):  # most subjects of a backlog: no task to read, no fingerprint to make
            return at
        known = state.tasks.get(event.task_id)
        kinds = {event.kind, known.kind} if known is not None else {event.kind}
        rules = [compiled for kind in kinds for compiled in pack.task_rules_for(kind)]
        watched = [(compiled, subject) for compiled in rules]
    else:
        if not state.alerts.of(indicator_key(event.indicator)) and not state.alerts.of(NO_INDICATOR):
            return at
        watched = [(compiled, indicator_key(event.indicator)) for compiled in pack.indicator_rules_for(event.indicator)]
        watched += [(compiled, NO_INDICATOR) for compiled in pack.indicator_rules_for("*")]
    return now if any(_holds_alert(state, compiled, subject) for compiled, subject in watched) else at


def _holds_alert(state: UnitState, compiled: CompiledRule, subject: SubjectKey) -> bool:
    """Whether the unit holds the rule's alert about ``subject`` (looked up by fingerprint, not scanned)."""
    return alert_fingerprint(compiled, state.unit_id, subject) in state.alerts


def _awaits_first_indicator(pack: RulePack, state: UnitState) -> bool:
    """Whether "has the unit ever reported an indicator?" is pending or firing."""
    if NO_INDICATOR in state.wakeups:
        return True
    return any(_holds_alert(state, c, NO_INDICATOR) for c in pack.indicator_rules_for("*"))


def _refused(known: TaskState | IndicatorState | None, event: Event) -> Outcome | None:
    """Why an event about a known task or indicator changes nothing, if it does not."""
    if known is None:
        return None
    if has_seen(known, event):
        return Outcome.DUPLICATE
    if event.occurred_at < known.occurred_at:
        return Outcome.STALE
    return None


def _note_last_event(state: UnitState, event: Event) -> None:
    """The unit's newest event is ``event`` (in place, like the maps: see ``apply_event``)."""
    state.last_event_at = event.occurred_at


def advance(pack: RulePack, state: UnitState, now: datetime) -> Result:
    """Let time pass to ``now``: evaluate every subject whose rules were due to change.

    A unit last evaluated under another pack is moved to ``pack`` whole (``move``, all at once).
    """
    if state.pack_version != pack.version:
        result, _ = move(pack, state, now)
        return result
    due = state.due(now.timestamp())
    if not due:
        return Result(state, ())
    return reconcile(pack, state, due, now)


def move(
    pack: RulePack, state: UnitState, now: datetime, after: str | None = None, limit: int | None = None
) -> tuple[Result, str | None]:
    """One part of a unit's move to ``pack``: what is due now, and its next ``limit`` tasks after task ``after``.

    A unit that tracks hundreds of thousands of tasks is moved in parts, so
    that a worker handles events in between: each part is evaluated under
    ``pack`` (alerts of rules gone included). Meanwhile an event evaluates
    its own subjects under ``pack`` (``apply_event``) and leaves the rest to
    this. Returns the result, and the task to go on after (``after`` again
    when ``limit`` is 0); ``None`` once the move is done: the last part also
    evaluates the unit's other subjects (indicators, the unit itself, alerts
    of tasks gone) and puts the unit under ``pack`` (``pack_version``).
    ``limit`` ``None``: the whole move in one part.
    """
    ids = state.tasks.ids_after(after, limit)
    subjects = {*state.due(now.timestamp()), *map(task_key, ids)}
    if limit is not None and len(ids) == limit:
        part = reconcile(pack, state, sorted(subjects), now, reassigned=True, settle=False)
        return part, ids[-1] if ids else after
    subjects |= {indicator_key(i) for i in state.indicators} | {UNIT, NO_INDICATOR}
    subjects |= {a.subject for a in state.alerts.values()}
    return reconcile(pack, state, sorted(subjects), now, reassigned=True), None


def seed(pack: RulePack, unit_id: str, now: datetime) -> Result:
    """The state of a rostered unit that has never reported, evaluated at ``now``."""
    state = UnitState(unit_id=unit_id, pack_version=pack.version)
    return reconcile(pack, state, [UNIT, NO_INDICATOR], now, changed={Change.unit()})


def restate(pack: RulePack, alert: AlertState) -> AlertTransition:
    """The firing record of an alert the state holds (to re-publish what the topic lost)."""
    compiled = pack.by_id(alert.rule_id)
    return record(
        alert,
        annotations={**alert.annotations, "reconciled": "true"},
        value=None,
        provenance=Provenance([]),
        rule_version=pack.rule_version(compiled),
    )
