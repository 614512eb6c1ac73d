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

from events.models import IndicatorEvent, TaskStatus, TaskStatusEvent
from monitor.state.keys import decode_unit, encode_changes
from rules.state import (
    AlertMap,
    AlertState,
    Change,
    IndicatorState,
    Reached,
    Subject,
    SubjectKind,
    TaskState,
    UnitState,
    has_seen,
    seen_keys,
    task_key,
    task_named,
)
from tests.conftest import VN, vn
from tests.rules.fixtures import NV99_COMPLETED, NV99_STARTED, indicator, task

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
    assert [again.first_reached.get(s) for s in TaskStatus] == [built.first_reached.get(s) for s in TaskStatus]
    assert again.kind is built.kind  # interned: one string for every task of a kind


def test_an_indicator_and_an_alert_read_back_are_what_was_written() -> None:
    state = UnitState(unit_id="VN-40", pack_version="p1", last_event_at=vn(2024, 7, 19))
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
        details={"due": "2024-07-20 00:00", "days_overdue": "2"},
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
    assert again.last_event_at == vn(2024, 7, 19)  # stored with the unit's own fields


def test_a_unit_stored_in_format_1_has_its_newest_event_read_from_its_items() -> None:
    report = IndicatorState.from_event(indicator(vn(2024, 7, 19), 0.458))
    later = TaskState.from_event(task(vn(2024, 7, 21)))
    items = [
        ("", b'{"pack_version":"p1"}'),  # what the format-1 worker wrote: no counts, no newest event
        ("sindicator:online_dossier_ratio", msgspec.json.encode({"indicator": report})),
        ("stask:T-1", msgspec.json.encode({"task": later})),
    ]
    again = decode_unit("VN-40", items)
    assert again.last_event_at == vn(2024, 7, 21) and again.pack_version == "p1"
    assert again.task_tally() == {("task", "in_progress"): 1}


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


def test_an_item_written_by_the_pydantic_version_reads_back() -> None:
    stored = (
        b'{"task":{"task_id":"HS-0000244","kind":"dossier","status":"in_progress","deadline":"2027-08-12",'
        b'"labels":{},"occurred_at":"2026-12-01T07:02:43.232190Z","event_id":"s-VN-03-244",'
        b'"first_reached":{"in_progress":"2026-12-01T07:02:43.232190Z"},"seen":["b\\u001fs-VN-03-244"]},'
        b'"wakeup":1818003600.0}'
    )
    state = decode_unit("VN-03", [("stask:HS-0000244", stored)])
    read = state.tasks["HS-0000244"]
    assert read.deadline == date(2027, 8, 12) and read.seen == ("b\x1fs-VN-03-244",)
    assert read.first_reached.get(TaskStatus.IN_PROGRESS) is read.occurred_at
    assert read.first_reached.get(TaskStatus.COMPLETED) is None
    redelivered = task(vn(2026, 12, 1), event_id="s-VN-03-244").model_copy(update={"source": "b"})
    assert seen_keys(read) == ("b\x1fs-VN-03-244",) and has_seen(read, redelivered)  # its key was kept in ``seen``
    assert state.wakeups == {"task:HS-0000244": 1818003600.0}


def test_a_status_is_first_reached_once() -> None:
    first = TaskState.from_event(task(vn(2024, 7, 19)))
    later = TaskState.from_event(task(vn(2024, 7, 25)), first)  # still in progress
    done = TaskState.from_event(task(vn(2024, 7, 30), "completed"), later)
    assert later.first_reached.get(TaskStatus.IN_PROGRESS) == vn(2024, 7, 19)
    assert done.first_reached == Reached(in_progress=vn(2024, 7, 19), completed=vn(2024, 7, 30))
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"done":"2024-07-19T08:00:00+07:00"}', type=Reached)  # not a status


def test_a_task_remembers_its_latest_events_without_a_copy_of_its_own_key() -> None:
    first = TaskState.from_event(task(vn(2024, 7, 19), event_id="a"))
    assert first.seen == () and seen_keys(first) == ("test\x1fa",)  # its own key: (source, event_id)
    assert has_seen(first, task(vn(2024, 7, 19), event_id="a")) and not has_seen(first, task(vn(2024, 7, 19)))
    later = TaskState.from_event(task(vn(2024, 7, 20), event_id="b"), first)
    assert seen_keys(later) == ("test\x1fa", "test\x1fb") and has_seen(later, task(vn(2024, 7, 19), event_id="a"))


def test_an_indicator_keeps_its_earlier_reports_bounded_and_says_where_it_stood_at_an_instant() -> None:
    from rules.state import EARLIER_REPORTS

    report = IndicatorState.from_event(indicator(vn(2024, 1, 5), 0.10))
    assert report.reports() == [(vn(2024, 1, 5), 0.10)] and report.earlier == b""
    for month in range(2, 13):
        report = IndicatorState.from_event(indicator(vn(2024, month, 5), month / 100), report)
    known = report.reports()
    assert [value for _, value in known] == [0.10, *(m / 100 for m in range(2, 13))]
    assert [at for at, _ in known] == [vn(2024, m, 5) for m in range(1, 13)]  # the same instants, in UTC
    assert report.value_at(vn(2024, 1, 4)) is None  # before the first report
    assert report.value_at(vn(2024, 3, 5)) == (vn(2024, 3, 5), 0.03)  # a report at the instant itself counts
    assert report.value_at(vn(2024, 3, 4, 23)) == (vn(2024, 2, 5), 0.02)
    assert report.value_at(vn(2030, 1, 1)) == (vn(2024, 12, 5), 0.12)
    for day in range(1, 20):  # many more reports: only the latest and the EARLIER_REPORTS before it stay
        report = IndicatorState.from_event(indicator(vn(2025, 1, day), day / 1000), report)
    assert len(report.reports()) == EARLIER_REPORTS + 1
    assert report.reports()[0] == (vn(2025, 1, 19 - EARLIER_REPORTS), (19 - EARLIER_REPORTS) / 1000)
    # … and they are stored with it.
    state = UnitState(unit_id="VN-40", pack_version="p1")
    state.indicators["online_dossier_ratio"] = report
    again = _read_back(state, {Change.subject("indicator:online_dossier_ratio")})
    assert again.indicators["online_dossier_ratio"].reports() == report.reports()


_STARTED = NV99_STARTED | {"kind": "inspection_plan", "labels": {"program": "de-an-06"}}
_COMPLETION = NV99_COMPLETED


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, {"kind": "inspection_plan", "deadline": date(2024, 7, 19), "title": _STARTED["title"]}),
        ({"deadline": None}, {"deadline": None, "title": _STARTED["title"]}),
        ({"title": None}, {"title": None, "deadline": date(2024, 7, 19)}),
        ({"deadline": "2024-07-31"}, {"deadline": date(2024, 7, 31)}),
        ({"kind": "task"}, {"kind": "task"}),
        ({}, {"labels": {"program": "de-an-06"}}),
        ({"labels": {}}, {"labels": {}}),
        ({"labels": {"directive": "05"}}, {"labels": {"directive": "05"}}),
    ],
)
def test_a_field_left_out_of_a_task_event_keeps_its_known_value_and_null_removes_it(
    given: dict[str, object], expected: dict[str, object]
) -> None:
    started = TaskState.from_event(TaskStatusEvent.model_validate(_STARTED))
    completed = TaskState.from_event(TaskStatusEvent.model_validate(_COMPLETION | given), started)
    assert completed.status is TaskStatus.COMPLETED
    assert {name: getattr(completed, name) for name in expected} == expected


def test_a_new_task_takes_the_defaults_of_the_fields_left_out() -> None:
    first = TaskState.from_event(TaskStatusEvent.model_validate(_COMPLETION))
    assert (first.kind, first.deadline, first.title, first.labels) == ("task", None, None, {})


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, {"period": "2024-H1", "labels": {"program": "de-an-06"}}),
        ({"period": None}, {"period": None}),
        ({"period": "2024-07", "labels": {}}, {"period": "2024-07", "labels": {}}),
    ],
)
def test_an_indicator_report_that_leaves_out_period_or_labels_keeps_them(
    given: dict[str, object], expected: dict[str, object]
) -> None:
    report = {
        "event_id": "i-1",
        "source": "nghean-dvc",
        "unit_id": "VN-22",
        "indicator": "online_dossier_ratio",
        "value": 0.4,
        "occurred_at": "2024-07-02T09:00:00+07:00",
    }
    first = IndicatorState.from_event(
        IndicatorEvent.model_validate(report | {"period": "2024-H1", "labels": {"program": "de-an-06"}})
    )
    later = report | {"event_id": "i-2", "value": 0.5, "occurred_at": "2024-08-02T09:00:00+07:00"}
    second = IndicatorState.from_event(IndicatorEvent.model_validate(later | given), first)
    assert second.value == 0.5
    assert {name: getattr(second, name) for name in expected} == expected


def test_a_unit_tracks_a_kind_while_it_holds_a_task_of_it() -> None:
    state = UnitState("VN-40")
    assert not state.tracks_kind("report")  # asked before any task: counted from none
    state.put_task(TaskState.from_event(task(vn(2024, 7, 1), task_id="T-1", kind="report")))
    state.put_task(TaskState.from_event(task(vn(2024, 7, 1), task_id="T-2", kind="report")))
    assert state.tracks_kind("report") and not state.tracks_kind("dossier")
    moved = task(vn(2024, 7, 2), TaskStatus.COMPLETED, task_id="T-1", kind="dossier")
    state.put_task(TaskState.from_event(moved, state.tasks.get("T-1")))
    assert state.tracks_kind("report") and state.tracks_kind("dossier")
    again = task(vn(2024, 7, 2), task_id="T-2", kind="dossier")
    state.put_task(TaskState.from_event(again, state.tasks.get("T-2")))
    assert not state.tracks_kind("report") and state.tracks_kind("dossier")
    stored = UnitState("VN-40", tally={("dossier", "completed"): 1, ("report", "in_progress"): 0})
    assert stored.tracks_kind("dossier") and not stored.tracks_kind("report")  # from the stored count, no scan


@pytest.mark.parametrize(
    "key", ["task:T-1", "task:", "task:a:b", "indicator:online_ratio", "indicator:*", "unit:", "tasks:x", "other", ""]
)
def test_task_named_answers_as_a_parse_does(key: str) -> None:
    """The task a key names, read by its prefix, is the one ``Subject.parse`` reads (or none for another subject)."""
    parsed = Subject.parse(key)
    assert task_named(key) == (parsed.name if parsed.kind is SubjectKind.TASK else None)
    assert task_named(task_key("NV-1")) == "NV-1"


def test_a_unit_counts_its_tasks_again_from_the_tasks_when_its_stored_tally_lags_them() -> None:
    done = TaskState.from_event(task(vn(2024, 7, 5), "completed", unit="VN-22", task_id="T-1"))
    # Stored counts written before the completion reached the unit's own fields (a checkpoint cut short).
    state = UnitState("VN-22", tasks={"T-1": done}, tally={("task", "in_progress"): 1}, last_event_at=vn(2024, 7, 1))
    assert state.task_tally() == {("task", "in_progress"): 1}
    state.recount()
    assert state.task_tally() == {("task", "completed"): 1} and state.tracks_kind("task")
    assert state.last_event_at == vn(2024, 7, 5)


def _alert(fingerprint: str, subject: str, rule: str = "r") -> AlertState:
    return AlertState(
        fingerprint=fingerprint,
        rule_id=rule,
        stage="overdue",
        severity="critical",
        labels={},
        starts_at=vn(2024, 7, 20),
        subject=subject,
    )


def test_two_states_over_one_units_alerts_agree_on_what_each_subject_holds() -> None:
    # A worker's store adopts a unit built in memory as a state of its own over the same alerts: an alert that
    # one resolves, the other no longer holds (the engine asks this for every event to skip the fingerprints).
    first = UnitState(unit_id="VN-40")
    first.put_alert("f1", _alert("f1", "task:T-1"))
    first.put_alert("f2", _alert("f2", "task:T-1", rule="other"))
    adopted = UnitState(unit_id="VN-40", alerts=first.alerts)
    assert adopted.alerts is first.alerts
    assert adopted.alert_rules_of("task:T-1") == ["r", "other"]
    first.put_alert("f1", None)
    first.put_alert("f3", _alert("f3", "task:T-2"))
    assert adopted.alert_rules_of("task:T-1") == ["other"] and adopted.alert_rules_of("task:T-2") == ["r"]
    adopted.put_alert("f2", None)
    assert first.alert_rules_of("task:T-1") == [] and list(first.alerts.of("task:T-2")) == ["f3"]


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["put", "pop", "del", "update", "setdefault", "clear", "ask"]),
            st.sampled_from(["f1", "f2", "f3", "f4"]),
            st.sampled_from(["task:T-1", "task:T-2", "unit:"]),
        ),
        max_size=40,
    )
)
def test_an_alert_maps_subjects_are_those_of_its_alerts_however_it_is_changed(
    steps: list[tuple[str, str, str]],
) -> None:
    alerts = AlertMap()
    for step, fingerprint, subject in steps:
        alert = _alert(fingerprint, subject)
        if step == "put":
            alerts[fingerprint] = alert
        elif step == "pop":
            alerts.pop(fingerprint, None)
        elif step == "del" and fingerprint in alerts:
            del alerts[fingerprint]
        elif step == "update":
            alerts.update({fingerprint: alert})
        elif step == "setdefault":
            alerts.setdefault(fingerprint, alert)
        elif step == "clear":
            alerts.clear()
        for asked in ("task:T-1", "task:T-2", "unit:"):
            walked = [f for f, a in alerts.items() if a.subject == asked]
            assert sorted(alerts.of(asked)) == sorted(walked), (steps, asked)
