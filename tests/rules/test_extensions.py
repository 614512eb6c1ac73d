"""Extensions: a new deadline granted to a task or to a unit's roster deadline moves its due instant and its alerts.

Pure engine and scorecard, on the simulated clock: the overdue alert resolves
``extended`` with the decision's reference, re-stages against the new due
instant, and the scorecard tells "kept within an extension" from "on time".
"""

from __future__ import annotations

from datetime import date, datetime
from itertools import count
from pathlib import Path

import msgspec
import pytest

from events.models import EXTENSION_SOURCE, ExtensionEvent, TaskStatus, TaskStatusEvent
from rules.engine import Outcome, advance, apply_event
from rules.language import RulePack
from rules.review import DeadlineOutcome, parse_period, scorecard
from rules.state import TaskState, UnitState
from tests.conftest import VN, vn
from tests.rules.fixtures import pack, task

RULES = """
groups:
  - name: test
    timezone: Asia/Ho_Chi_Minh
    rules:
      - id: task-overdue
        kind: deadline
        severity: critical
        select: {kind: task}
        due_from: deadline
        warn_before: [3d]
      - id: inspection-plan
        kind: deadline
        select: {kind: inspection_plan}
        roster: units.yaml
        due: "2024-07-20T00:00:00+07:00"
"""
UNITS = """roster: provinces
units:
  - {id: VN-22, name: Nghệ An}
  - {id: VN-40, name: Bình Thuận}
"""
Q3 = parse_period("2024-Q3").bounds(VN)
_ids = count(1)


@pytest.fixture
def rules(tmp_path: Path) -> RulePack:
    (tmp_path / "units.yaml").write_text(UNITS, encoding="utf-8")
    return pack(tmp_path, RULES)


def extension(
    at: datetime,
    due: date | datetime,
    *,
    task_id: str | None = "T-1",
    rule_id: str | None = None,
    unit: str = "VN-01",
    reference: str = "125/QĐ-BCĐ06",
    event_id: str | None = None,
) -> ExtensionEvent:
    return ExtensionEvent(
        event_id=event_id or f"x-{next(_ids)}",
        source=EXTENSION_SOURCE,
        unit_id=unit,
        occurred_at=at,
        task_id=task_id,
        rule_id=rule_id,
        due=due,
        reference=reference,
        granted_by="to-cong-tac",
        granted_by_name="Tổ công tác Đề án 06",
    )


def tracked(at: datetime, status: TaskStatus = TaskStatus.IN_PROGRESS, **fields: object) -> TaskStatusEvent:
    """A report of T-1 of VN-01 (a unit on no roster: its only alerts are its task's); what it omits it leaves as is."""
    return TaskStatusEvent.model_validate(
        {
            "event_id": f"t-{next(_ids)}",
            "source": "test",
            "unit_id": "VN-01",
            "task_id": "T-1",
            "status": status,
            "occurred_at": at,
            **fields,
        }
    )


def overdue_task(rules: RulePack) -> UnitState:
    """T-1 of VN-01, due at the end of 19/07/2024, in progress and overdue on 22/07."""
    state = apply_event(
        rules, None, tracked(vn(2024, 7, 1), deadline=date(2024, 7, 19), title="Kế hoạch"), vn(2024, 7, 1)
    )
    state = advance(rules, state.state, vn(2024, 7, 22, 8)).state
    assert [a.stage for a in state.alerts.values()] == ["overdue"]
    return state


def test_an_extension_beyond_the_warnings_resolves_the_overdue_alert_extended_and_it_fires_again_after_the_new_due(
    rules: RulePack,
) -> None:
    state = overdue_task(rules)
    (alert,) = state.alerts.values()
    result = apply_event(rules, state, extension(vn(2024, 7, 22, 9), date(2024, 8, 15)), vn(2024, 7, 22, 9))
    assert result.outcome is Outcome.ACCEPTED
    (ended,) = result.transitions
    assert (ended.status, ended.fingerprint, ended.annotations["resolution"]) == (
        "resolved",
        alert.fingerprint,
        "extended",
    )
    assert ended.annotations["extended_to"] == "2024-08-15"
    assert ended.annotations["extension_reference"] == "125/QĐ-BCĐ06"
    assert ended.annotations["summary"] == "VN-01: Kế hoạch được gia hạn đến 15/08/2024 (theo 125/QĐ-BCĐ06)"
    assert ended.ends_at == vn(2024, 7, 22, 9)
    assert ended.reported_by == EXTENSION_SOURCE  # the record rests on the extension, not on the last report
    assert not result.state.alerts
    assert result.state.last_event_at == vn(2024, 7, 1)  # a decision is no report from the unit
    # The new due instant is the end of 15/08: warned 3 days before, overdue again after it.
    warned = advance(rules, result.state, vn(2024, 8, 13, 8))
    assert [(t.status, t.stage) for t in warned.transitions] == [("firing", "due_soon")]
    assert warned.transitions[0].annotations["due"] == vn(2024, 8, 16).isoformat()
    late = advance(rules, warned.state, vn(2024, 8, 16, 8))
    # Overdue from the end of 15/08, one alert with its warning (as any deadline's): it began with the warning.
    assert [(t.status, t.stage, t.starts_at) for t in late.transitions] == [("firing", "overdue", vn(2024, 8, 13))]
    assert late.transitions[0].annotations["due"] == vn(2024, 8, 16).isoformat()


def test_an_extension_into_the_warning_window_ends_the_overdue_alert_and_begins_a_due_soon_one(rules: RulePack) -> None:
    state = overdue_task(rules)
    result = apply_event(rules, state, extension(vn(2024, 7, 22, 9), date(2024, 7, 23)), vn(2024, 7, 22, 9))
    assert [(t.status, t.stage, t.annotations.get("resolution")) for t in result.transitions] == [
        ("resolved", "overdue", "extended"),
        ("firing", "due_soon", None),
    ]
    assert result.transitions[1].starts_at == vn(2024, 7, 21)  # 3 days before the new due instant (end of 23/07)


def test_an_extension_still_in_the_past_restates_the_overdue_alert_with_its_new_due(rules: RulePack) -> None:
    state = overdue_task(rules)
    result = apply_event(rules, state, extension(vn(2024, 7, 22, 9), date(2024, 7, 20)), vn(2024, 7, 22, 9))
    (again,) = result.transitions
    assert (again.status, again.stage, again.annotations["due"]) == ("firing", "overdue", vn(2024, 7, 21).isoformat())


def test_a_status_report_keeps_the_extension_and_a_completion_is_judged_against_it(rules: RulePack) -> None:
    state = overdue_task(rules)
    state = apply_event(rules, state, extension(vn(2024, 7, 22, 9), date(2024, 8, 15)), vn(2024, 7, 22, 9)).state
    still = apply_event(rules, state, tracked(vn(2024, 7, 25), deadline=date(2024, 7, 19)), vn(2024, 7, 25)).state
    kept = still.tasks.get("T-1")
    assert kept is not None and kept.extension is not None and kept.extension.reference == "125/QĐ-BCĐ06"
    assert not still.alerts  # the publisher's deadline is the first one: the extension still holds
    done = apply_event(rules, still, tracked(vn(2024, 8, 10), TaskStatus.COMPLETED), vn(2024, 8, 10)).state
    card = scorecard(rules, "VN-01", done, set(), Q3, vn(2024, 10, 1))
    (deadline,) = card.deadlines
    assert deadline.outcome is DeadlineOutcome.EXTENDED
    assert (deadline.due, deadline.first_due) == (vn(2024, 8, 16), vn(2024, 7, 20))
    assert deadline.extension is not None and deadline.extension.granted_by == "to-cong-tac"
    assert (card.count(DeadlineOutcome.ON_TIME), card.kept, card.judged, card.score) == (0, 1, 1, 1.0)


@pytest.mark.parametrize(
    ("completed", "outcome"),
    [
        (vn(2024, 7, 19, 23), DeadlineOutcome.ON_TIME),  # before the first due instant
        (vn(2024, 7, 20), DeadlineOutcome.EXTENDED),  # at the first due instant: late for it, within the extension
        (vn(2024, 8, 16), DeadlineOutcome.LATE),  # at the extended due instant: late for both
    ],
)
def test_a_completion_is_on_time_kept_within_the_extension_or_late(
    rules: RulePack, completed: datetime, outcome: DeadlineOutcome
) -> None:
    state = apply_event(rules, None, tracked(vn(2024, 7, 1), deadline=date(2024, 7, 19)), vn(2024, 7, 1)).state
    state = apply_event(rules, state, extension(vn(2024, 7, 15), date(2024, 8, 15)), vn(2024, 7, 15)).state
    state = apply_event(rules, state, tracked(completed, TaskStatus.COMPLETED), completed).state
    (deadline,) = scorecard(rules, "VN-01", state, set(), Q3, vn(2024, 10, 1)).deadlines
    assert deadline.outcome is outcome


def test_an_extension_of_a_task_the_unit_does_not_hold_is_refused_with_why(rules: RulePack) -> None:
    state = overdue_task(rules)
    result = apply_event(rules, state, extension(vn(2024, 7, 22), date(2024, 8, 1), task_id="T-9"), vn(2024, 7, 22))
    assert result.outcome is Outcome.REFUSED and result.transitions == ()
    assert result.reason == "unit VN-01 holds no task 'T-9': a task's deadline is extended once it is reported"


def test_an_extension_applied_twice_is_a_duplicate_and_an_older_one_is_stale(rules: RulePack) -> None:
    state = overdue_task(rules)
    granted = extension(vn(2024, 7, 22, 9), date(2024, 8, 15), event_id="x-once")
    state = apply_event(rules, state, granted, vn(2024, 7, 22, 9)).state
    assert apply_event(rules, state, granted, vn(2024, 7, 22, 10)).outcome is Outcome.DUPLICATE
    older = extension(vn(2024, 7, 22, 8), date(2024, 7, 30))
    assert apply_event(rules, state, older, vn(2024, 7, 22, 10)).outcome is Outcome.STALE
    newer = apply_event(rules, state, extension(vn(2024, 7, 23), date(2024, 9, 1)), vn(2024, 7, 23)).state
    held = newer.tasks.get("T-1")
    assert held is not None and held.extension is not None and held.extension.due == date(2024, 9, 1)


def test_a_roster_deadline_is_extended_for_one_unit_alone(rules: RulePack) -> None:
    states = {unit: advance(rules, UnitState(unit), vn(2024, 7, 21)).state for unit in ("VN-22", "VN-40")}
    assert all([a.stage for a in s.alerts.values()] == ["overdue"] for s in states.values())
    granted = extension(vn(2024, 7, 21, 9), date(2024, 7, 31), task_id=None, rule_id="inspection-plan", unit="VN-40")
    result = apply_event(rules, states["VN-40"], granted, vn(2024, 7, 21, 9))
    (ended,) = result.transitions
    assert ended.annotations["resolution"] == "extended"
    assert ended.annotations["summary"] == "Bình Thuận: inspection-plan được gia hạn đến 31/07/2024 (theo 125/QĐ-BCĐ06)"
    plan = task(vn(2024, 7, 25), TaskStatus.COMPLETED, kind="inspection_plan", task_id="KH-1")
    done = apply_event(rules, result.state, plan, vn(2024, 7, 25)).state
    done = advance(rules, done, vn(2024, 8, 2)).state
    assert not done.alerts  # kept within the extension: it never fires again
    (deadline,) = scorecard(rules, "VN-40", done, set(), Q3, vn(2024, 10, 1)).deadlines
    assert (deadline.outcome, deadline.due, deadline.first_due) == (
        DeadlineOutcome.EXTENDED,
        vn(2024, 8, 1),
        vn(2024, 7, 20),
    )
    assert scorecard(rules, "VN-22", states["VN-22"], set(), Q3, vn(2024, 10, 1)).deadlines[0].outcome is (
        DeadlineOutcome.OVERDUE
    )
    off_roster = extension(vn(2024, 7, 21), date(2024, 7, 31), task_id=None, rule_id="task-overdue", unit="VN-22")
    refused = apply_event(rules, states["VN-22"], off_roster, vn(2024, 7, 21))
    assert refused.outcome is Outcome.REFUSED and "no roster deadline" in refused.reason


def test_a_task_stored_with_its_extension_reads_back_the_same() -> None:
    state = apply_event_free_task()
    raw = msgspec.json.encode(state)
    assert msgspec.json.decode(raw, type=TaskState) == state
    assert b'"extension"' in raw
    bare = msgspec.structs.replace(state, extension=None)
    assert b'"extension"' not in msgspec.json.encode(bare)  # a task without one costs nothing more


def apply_event_free_task() -> TaskState:
    first = TaskState.from_event(tracked(vn(2024, 7, 1), deadline=date(2024, 7, 19)))
    return first.extended(extension(vn(2024, 7, 22), vn(2024, 8, 15, 17)))
