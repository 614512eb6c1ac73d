"""State items built from events are what the store writes and reads back, and are lean in memory."""

from __future__ import annotations

import copy
import gc
import pickle
from datetime import date, datetime

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from events.models import TaskStatus
from monitor.state.store import decode_unit, encode_changes
from rules.state import AlertState, IndicatorState, TaskState, UnitState
from rules.subjects import Change
from tests.conftest import VN, vn
from tests.rules.fixtures import indicator, task

_instants = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(VN))
_deadlines = st.none() | st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)) | _instants
_texts = st.text(min_size=1, max_size=20).map(str.strip).filter(bool)


def _read_back(state: UnitState, changed: set[Change]) -> UnitState:
    """``state`` written item by item (what the store sends to the changelog) and decoded again."""
    items = [(key.decode().partition("\x1f")[2], value) for key, value in encode_changes(state, changed)]
    return decode_unit(state.unit_id, [(k, v) for k, v in items if v is not None])


@given(
    statuses=st.lists(st.sampled_from(list(TaskStatus)), min_size=1, max_size=4),
    deadline=_deadlines,
    at=_instants,
    title=st.none() | _texts,
    labels=st.dictionaries(_texts, _texts, max_size=2),
)
def test_a_task_read_back_is_the_task_built_from_its_events(
    statuses: list[TaskStatus],
    deadline: date | datetime | None,
    at: datetime,
    title: str | None,
    labels: dict[str, str],
) -> None:
    built: TaskState | None = None
    for n, status in enumerate(statuses):
        event = task(at, status, deadline=deadline, kind="dossier", title=title, labels=labels, event_id=f"e-{n}")
        built = TaskState.from_event(event, built)
    assert built is not None
    state = UnitState(unit_id="VN-40")
    state.put_task(built)
    again = _read_back(state, {Change.subject("task:T-1")}).tasks["T-1"]
    assert again == built
    assert type(again.deadline) is type(built.deadline)  # a date stays a date: it means the end of that day
    assert list(again.first_reached) == list(built.first_reached)  # the order statuses were reached in
    assert again.kind is built.kind  # interned: one string for every task of a kind


def test_an_indicator_and_an_alert_read_back_are_what_was_written() -> None:
    state = UnitState(unit_id="VN-40", pack_version="p1")
    state.indicators["online_dossier_ratio"] = IndicatorState.from_event(indicator(vn(2024, 7, 19), 0.458))
    state.set_wakeup("indicator:online_dossier_ratio", 1_721_000_000.0)
    state.alerts["f1"] = AlertState(
        fingerprint="f1",
        rule_id="r",
        stage="overdue",
        severity="critical",
        labels={"unit_id": "VN-40"},
        starts_at=vn(2024, 7, 20),
        subject="task:T-1",
        step="3d",
        summary="Bình Thuận: quá hạn",
    )
    state.pending["f2"] = vn(2024, 7, 18)
    changed = {
        Change.subject("indicator:online_dossier_ratio"),
        Change.alert("f1"),
        Change.pending("f2"),
        Change.unit(),
    }
    again = _read_back(state, changed)
    assert again.indicators == state.indicators and again.alerts == state.alerts and again.pending == state.pending
    assert again.wakeups == state.wakeups and again.pack_version == "p1"
    assert again.last_event_at == vn(2024, 7, 19)  # the newest of what the items last reported


@pytest.mark.parametrize(
    ("field", "stored"),
    [("occurred_at", '"2024-07-19T08:00:00"'), ("deadline", '"2024-07-19T08:00:00"'), ("status", '"done"')],
)
def test_a_stored_task_with_a_naive_instant_or_an_unknown_status_is_refused(field: str, stored: str) -> None:
    fields = {
        "task_id": '"T-1"',
        "kind": '"task"',
        "status": '"in_progress"',
        "occurred_at": '"2024-07-19T08:00:00+07:00"',
        "event_id": '"e"',
        field: stored,
    }
    raw = "{" + ",".join(f'"{k}":{v}' for k, v in fields.items()) + "}"
    with pytest.raises((msgspec.ValidationError, ValueError)):
        decode_unit("VN-40", [("stask:T-1", ('{"task":' + raw + "}").encode())])


def test_state_items_are_immutable_untracked_by_the_collector_and_copyable() -> None:
    built = TaskState.from_event(task(vn(2024, 7, 19), deadline=vn(2024, 7, 30), labels={"lĩnh vực": "tư pháp"}))
    with pytest.raises(AttributeError):
        built.status = TaskStatus.COMPLETED  # type: ignore[misc]
    assert not gc.is_tracked(built)  # a million tasks add nothing to a collection's work
    assert copy.deepcopy(built) == built and pickle.loads(pickle.dumps(built)) == built
    assert msgspec.structs.replace(built, title="x").title == "x" and built.title is None
