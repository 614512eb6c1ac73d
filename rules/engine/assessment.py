"""Assessment: the condition one rule gives one subject of a unit at an instant, and when it can next change.

A subject is judged by the rules that apply to it (``candidates``: a task's
by its kind, an indicator's by its name, the unit's own), each through the
pure functions of its kind in ``rules.language`` (``assess``). A unit off a
rule's roster, or not existing at the instant (merged into another, not yet
formed), has nothing to answer for, and wakes when that changes. Unit-wide
rules read views over the unit's tasks kept as tasks change (``roster``,
the aggregate index), never a scan.

Nothing here writes an alert: reconciliation (``rules.engine.reconciliation``)
brings the unit's alerts in line with what is assessed.
"""

from __future__ import annotations

from datetime import datetime

from rules.language import (
    AggregateIndex,
    AggregateRule,
    CompiledRule,
    Condition,
    DeadlineRule,
    RosterIndex,
    RulePack,
    StalenessRule,
    ThresholdRule,
    evaluate_aggregate,
    evaluate_staleness,
    evaluate_threshold,
    is_waiting,
    next_aggregate_change,
    next_staleness_change,
    next_target_change,
    roster_due,
    task_due,
)
from rules.state import Subject, SubjectKey, SubjectKind, TaskState, UnitState

__all__ = ["Assessment", "assess", "candidates", "roster"]

#: A rule's condition for a subject (``None``: nothing to say) and when it can next change (``None``: never by time).
Assessment = tuple[Condition | None, datetime | None]
_NOTHING: Assessment = (None, None)


def candidates(pack: RulePack, subject: SubjectKey, task_kind: str) -> tuple[CompiledRule, ...]:
    """The rules that judge ``subject``: a task's by its kind, an indicator's by its name, else the unit's own.

    ``task_kind``: the kind of the task ``subject`` names, "" if the unit holds no such task (or it names none).
    """
    if task_kind:
        return pack.task_rules_for(task_kind)
    kind, name = Subject.parse(subject)
    if kind is SubjectKind.TASK:
        return ()
    if kind is SubjectKind.INDICATOR:
        return pack.indicator_rules_for(name)
    return pack.unit_rules


def assess(
    compiled: CompiledRule,
    state: UnitState,
    subject: SubjectKey,
    now: datetime,
    firing: bool,
    task: TaskState | None = None,
) -> Assessment:
    """What one rule says of one subject at ``now``, and when that can next change.

    Args:
        compiled: The rule.
        state: The unit's state.
        subject: What is judged.
        now: The instant.
        firing: Whether the rule's alert about ``subject`` fires now (a threshold or an aggregate is then judged
            against its resolve line).
        task: The task ``subject`` names, as the caller read it (``None``: the unit holds none, or it names none).
    """
    unit = state.unit_id
    if not compiled.covers(unit, now):  # not on the roster, or not existing now (merged into another, not yet formed)
        return None, compiled.life_change(unit, now)
    ending = compiled.life_change(unit, now) if compiled.lifetimes else None
    if ending is not None:  # the unit ceases to exist (a merger): its alerts end then
        condition, wake = _assess_covered(compiled, state, subject, now, firing, task)
        return condition, ending if wake is None else min(wake, ending)
    return _assess_covered(compiled, state, subject, now, firing, task)


def _assess_covered(
    compiled: CompiledRule, state: UnitState, subject: SubjectKey, now: datetime, firing: bool, task: TaskState | None
) -> Assessment:
    """``assess`` for a unit the rule covers at ``now``."""
    rule, unit = compiled.rule, state.unit_id
    if task is not None:
        return _assess_task(compiled, task, unit, now)
    kind, name = Subject.parse(subject)
    if kind is SubjectKind.TASK:
        return _NOTHING
    if kind is SubjectKind.INDICATOR:
        return _assess_indicator(compiled, state, name, now, firing)
    if isinstance(rule, DeadlineRule):
        if roster(compiled, state).first() is not None:
            return _NOTHING
        assert compiled.clock is not None
        return compiled.clock.assess(roster_due(rule, state.extensions.get(rule.id), compiled.calendar), now)
    if isinstance(rule, StalenessRule):
        since = (compiled.lifetimes.get(unit) or (None, None))[0]  # a unit formed after the rule's start
        last = state.last_event_at
        return evaluate_staleness(rule, last, now, since), next_staleness_change(rule, last, now, since)
    if isinstance(rule, AggregateRule):
        index = state.task_index(
            _index_key(compiled), lambda: AggregateIndex(rule, compiled.tz, unit), rule.kinds_selected()
        )
        return evaluate_aggregate(rule, index, now, firing), next_aggregate_change(rule, index, now)
    return _NOTHING


def roster(compiled: CompiledRule, state: UnitState) -> RosterIndex:
    """The tasks of the unit that satisfy a roster deadline, kept as tasks change."""
    rule = compiled.rule
    assert isinstance(rule, DeadlineRule)
    return state.task_index(_index_key(compiled), lambda: RosterIndex(rule, state.unit_id), rule.kinds_selected())


def _index_key(compiled: CompiledRule) -> str:
    """The key of a rule's view of a unit's tasks: a changed rule (another version) gets a view of its own."""
    return f"{compiled.rule.id}@{compiled.version}"


def _assess_task(compiled: CompiledRule, task: TaskState, unit: str, now: datetime) -> Assessment:
    """A deadline's stage for a task it selects that still waits, when it is due."""
    rule = compiled.rule
    if not isinstance(rule, DeadlineRule) or not compiled.selects_task(task, unit):
        return _NOTHING
    due = task_due(rule, task, compiled.calendar)
    if due is None or not is_waiting(rule, task):
        return _NOTHING
    assert compiled.clock is not None
    return compiled.clock.assess(due, now)


def _assess_indicator(compiled: CompiledRule, state: UnitState, name: str, now: datetime, firing: bool) -> Assessment:
    """A threshold or staleness rule on an indicator (``*``: a unit that has never reported any)."""
    rule, unit = compiled.rule, state.unit_id
    if name == "*":  # a rostered unit that has never reported any indicator
        if not isinstance(rule, StalenessRule) or rule.indicator != "*" or state.indicators:
            return _NOTHING
        return evaluate_staleness(rule, None, now), next_staleness_change(rule, None, now)
    report = state.indicators.get(name)
    if not compiled.judges_indicator(unit, name, report):
        return _NOTHING
    if isinstance(rule, ThresholdRule):
        if report is None:
            return _NOTHING
        return evaluate_threshold(rule, report, firing, now), next_target_change(rule, now)
    if isinstance(rule, StalenessRule):
        last = report.occurred_at if report is not None else None
        return evaluate_staleness(rule, last, now), next_staleness_change(rule, last, now)
    return _NOTHING
