"""Unit-wide measures kept task by task agree with a scan of the unit's tasks, whatever the order of updates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from events.models import TaskStatus
from rules.language import (
    OPEN_STATUSES,
    AggregateIndex,
    AggregateRule,
    DeadlineRule,
    RosterIndex,
    measure,
    next_aggregate_change,
)
from rules.state import TaskState, UnitState

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
UNIT = "VN-22"
START = datetime(2024, 7, 1, tzinfo=UTC)

_update = st.tuples(
    st.integers(0, 3),  # which task (few: most updates replace a task held)
    st.sampled_from(["dossier", "report", "inspection_plan"]),
    st.sampled_from(list(TaskStatus)),
    st.one_of(st.none(), st.integers(-10, 20)),  # deadline: days from the start, or none
    st.integers(0, 40),  # hours after the start it was reported
)


def _task(n: int, kind: str, status: TaskStatus, days: int | None, hours: int) -> TaskState:
    deadline = None if days is None else (START + timedelta(days=days)).date()
    if days is not None and days % 3 == 0:  # some deadlines are instants, not dates
        deadline = START + timedelta(days=days, hours=5)
    return TaskState(
        task_id=f"T-{n}",
        kind=kind,
        status=status,
        deadline=deadline,
        occurred_at=START + timedelta(hours=hours),
        event_id=f"e-{n}-{hours}",
    )


def _scan_measure(rule: AggregateRule, tasks: list[TaskState], now: datetime) -> float | None:
    """The measure as a scan of every task computes it (written out here, independently of the index)."""
    chosen = [t for t in tasks if rule.selects(t.fields(UNIT), t.labels)]
    if len(chosen) < rule.min_tasks:
        return None
    if rule.measure == "count":
        return float(len(chosen))
    if rule.measure.startswith("overdue"):
        hits = sum(1 for t in chosen if t.status in OPEN_STATUSES and (d := t.own_due(TZ)) is not None and now >= d)
    else:
        hits = sum(1 for t in chosen if t.status in OPEN_STATUSES)
    return hits / len(chosen) if rule.measure.endswith("ratio") else float(hits)


@settings(max_examples=200, deadline=None)
@given(
    updates=st.lists(_update, max_size=30),
    measure_name=st.sampled_from(["overdue_ratio", "overdue_count", "open_ratio", "open_count", "count"]),
    built_after=st.integers(0, 3),
    hours=st.integers(-48, 800),
)
def test_an_aggregate_index_counts_what_a_scan_counts(
    updates: list[tuple[int, str, TaskStatus, int | None, int]], measure_name: str, built_after: int, hours: int
) -> None:
    rule = AggregateRule.model_validate(
        {"id": "share", "kind": "aggregate", "select": {"kind": "dossier"}, "measure": measure_name, "above": 0.5}
    )
    state = UnitState(unit_id=UNIT)
    index = None
    for position, update in enumerate(updates):
        if position == built_after:  # the index is built from the tasks held, then kept by each update
            index = state.task_index("share", lambda: AggregateIndex(rule, TZ, UNIT))
        state.put_task(_task(*update))
    if index is None:
        index = state.task_index("share", lambda: AggregateIndex(rule, TZ, UNIT))
    now = START + timedelta(hours=hours)
    tasks = list(state.tasks.values())
    assert measure(rule, index, now) == _scan_measure(rule, tasks, now)
    if measure_name.startswith("overdue"):
        dues = [t for t in tasks if rule.selects(t.fields(UNIT), t.labels) and t.status in OPEN_STATUSES]
        upcoming = [at for t in dues if (at := t.own_due(TZ)) is not None and at > now]
        assert next_aggregate_change(rule, index, now) == min(upcoming, default=None)


@settings(max_examples=200, deadline=None)
@given(updates=st.lists(_update, max_size=30), built_after=st.integers(0, 3))
def test_a_roster_index_finds_the_earliest_task_that_satisfies_the_expectation(
    updates: list[tuple[int, str, TaskStatus, int | None, int]], built_after: int
) -> None:
    rule = DeadlineRule.model_validate(
        {
            "id": "plan",
            "kind": "deadline",
            "select": {"kind": "inspection_plan"},
            "due": "2024-07-20T00:00:00+07:00",
            "expect_status": ["completed", "ongoing"],
        }
    )
    state = UnitState(unit_id=UNIT)
    index = None
    for position, update in enumerate(updates):
        if position == built_after:
            index = state.task_index("plan", lambda: RosterIndex(rule, UNIT))
        state.put_task(_task(*update))
    if index is None:
        index = state.task_index("plan", lambda: RosterIndex(rule, UNIT))
    done = [
        t
        for t in state.tasks.values()
        if t.kind == "inspection_plan" and t.status in (TaskStatus.COMPLETED, TaskStatus.ONGOING)
    ]
    first = index.first()
    if not done:
        assert first is None
    else:
        assert first is not None and first.occurred_at == min(t.occurred_at for t in done)
        assert first in done


def test_a_bare_date_deadline_counts_as_overdue_from_the_end_of_that_day_in_the_groups_zone() -> None:
    rule = AggregateRule.model_validate(
        {"id": "n", "kind": "aggregate", "select": {"kind": "dossier"}, "measure": "overdue_count", "above": 0}
    )
    state = UnitState(unit_id=UNIT)
    state.put_task(
        TaskState(
            task_id="T-1",
            kind="dossier",
            status=TaskStatus.IN_PROGRESS,
            deadline=date(2024, 7, 19),
            occurred_at=START,
            event_id="e",
        )
    )
    index = state.task_index("n", lambda: AggregateIndex(rule, TZ, UNIT))
    midnight = datetime(2024, 7, 20, tzinfo=TZ)  # the end of 19 July in Hà Nội time
    assert measure(rule, index, midnight - timedelta(microseconds=1)) == 0.0
    assert measure(rule, index, midnight) == 1.0
    assert next_aggregate_change(rule, index, midnight - timedelta(hours=1)) == midnight
