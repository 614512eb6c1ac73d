from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import msgspec

from events.models import TaskStatus
from rules.engine import Outcome, advance, apply_event, catch_up_instant, overdue_by_kind, restate, seed
from rules.language import RulePack
from rules.state import SEEN_KEPT, AlertMap, fingerprint, seen_keys
from tests.conftest import vn
from tests.rules.fixtures import DEADLINE_RULES, THRESHOLD_RULES, indicator, pack, task


def _deadlines(tmp_path: Path) -> RulePack:
    return pack(tmp_path, DEADLINE_RULES)


def test_an_event_already_overdue_fires_once_with_identity_labels(tmp_path: Path) -> None:
    rules = _deadlines(tmp_path)
    event = task(vn(2024, 7, 25), deadline=vn(2024, 7, 20), title="Kế hoạch kiểm tra")
    result = apply_event(rules, None, event, now=vn(2024, 7, 25, 9))
    (firing,) = result.transitions
    assert firing.status == "firing" and firing.stage == "overdue" and firing.severity == "critical"
    assert firing.labels == {"alertname": "task-overdue", "unit_id": "VN-40", "task_id": "T-1", "severity": "critical"}
    assert firing.fingerprint == fingerprint({"alertname": "task-overdue", "unit_id": "VN-40", "task_id": "T-1"})
    assert firing.starts_at == vn(2024, 7, 20)
    assert firing.event_ids == [event.event_id]
    assert firing.rule_version == f"{rules.version}/{rules.rules[0].version}"  # the pack's, then the rule's
    assert "Kế hoạch kiểm tra" in firing.annotations["summary"]
    # Time passing does not fire it again.
    assert advance(rules, result.state, vn(2024, 7, 30)).transitions == ()


def test_stages_escalate_then_late_completion_resolves(tmp_path: Path) -> None:
    rules = _deadlines(tmp_path)
    state = apply_event(rules, None, task(vn(2024, 7, 1), deadline=vn(2024, 7, 20)), vn(2024, 7, 1)).state
    assert state.alerts == {}
    assert state.next_wakeup == vn(2024, 7, 13).timestamp()
    seen = []
    for day in (13, 14, 19, 20, 21):
        result = advance(rules, state, vn(2024, 7, day))
        state = result.state
        seen += [(day, t.stage, t.annotations.get("warn_before")) for t in result.transitions]
    assert seen == [(13, "due_soon", "7d"), (19, "due_soon", "1d"), (20, "overdue", None)]
    (alert,) = state.alerts.values()
    assert alert.starts_at == vn(2024, 7, 13)  # starts_at never changes while firing
    done = apply_event(
        rules, state, task(vn(2024, 7, 22, 8), TaskStatus.COMPLETED, deadline=vn(2024, 7, 20)), vn(2024, 7, 22, 9)
    )
    (resolved,) = done.transitions
    assert resolved.status == "resolved" and resolved.fingerprint == alert.fingerprint
    assert resolved.ends_at == vn(2024, 7, 22, 8)  # when the task was completed
    assert resolved.starts_at == vn(2024, 7, 13)
    assert resolved.annotations["resolution"] == "completed_late"
    assert resolved.annotations["late"] == "true"
    assert done.state.alerts == {} and done.state.next_wakeup is None


def test_completion_in_time_resolves_the_warning_without_late(tmp_path: Path) -> None:
    rules = _deadlines(tmp_path)
    state = apply_event(rules, None, task(vn(2024, 7, 15), deadline=vn(2024, 7, 20)), vn(2024, 7, 15)).state
    result = apply_event(
        rules, state, task(vn(2024, 7, 16), TaskStatus.COMPLETED, deadline=vn(2024, 7, 20)), vn(2024, 7, 16)
    )
    (resolved,) = result.transitions
    assert resolved.annotations["resolution"] == "completed"
    assert "late" not in resolved.annotations


def test_duplicates_and_stale_events_change_nothing(tmp_path: Path) -> None:
    rules = _deadlines(tmp_path)
    first = task(vn(2024, 7, 25), deadline=vn(2024, 7, 20), event_id="same")
    state = apply_event(rules, None, first, vn(2024, 7, 25)).state
    again = apply_event(rules, state, first, vn(2024, 7, 26))
    assert again.outcome is Outcome.DUPLICATE and again.transitions == () and again.state is state
    older = task(vn(2024, 7, 24), TaskStatus.COMPLETED, deadline=vn(2024, 7, 20))
    stale = apply_event(rules, state, older, vn(2024, 7, 26))
    assert stale.outcome is Outcome.STALE and stale.state is state


def test_out_of_order_events_keep_the_newest_status(tmp_path: Path) -> None:
    rules = _deadlines(tmp_path)
    newest = task(vn(2024, 7, 22), TaskStatus.COMPLETED, deadline=vn(2024, 7, 20))
    older = task(vn(2024, 7, 10), TaskStatus.IN_PROGRESS, deadline=vn(2024, 7, 20))
    state = apply_event(rules, None, newest, vn(2024, 7, 25)).state
    result = apply_event(rules, state, older, vn(2024, 7, 25))
    assert result.outcome is Outcome.STALE
    assert result.state.tasks["T-1"].status is TaskStatus.COMPLETED
    assert result.state.alerts == {}


def test_dedup_memory_is_bounded_per_task(tmp_path: Path) -> None:
    rules = _deadlines(tmp_path)
    state = None
    events = [task(vn(2024, 7, 1) + timedelta(seconds=n)) for n in range(SEEN_KEPT + 10)]
    for n, event in enumerate(events):
        state = apply_event(rules, state, event.model_copy(update={"event_id": f"e-{n}"}), vn(2024, 7, 1)).state
    assert (
        state is not None
        and seen_keys(state.tasks["T-1"])[-1] == "test\x1fe-17"
        and len(seen_keys(state.tasks["T-1"])) == SEEN_KEPT
    )


def test_a_redelivered_event_with_the_same_instant_is_a_duplicate(tmp_path: Path) -> None:
    rules = _deadlines(tmp_path)
    at = vn(2024, 7, 25)
    first = task(at, TaskStatus.IN_PROGRESS, deadline=vn(2024, 7, 20)).model_copy(update={"event_id": "a"})
    second = task(at, TaskStatus.COMPLETED, deadline=vn(2024, 7, 20)).model_copy(update={"event_id": "b"})
    state = apply_event(rules, None, first, at).state
    state = apply_event(rules, state, second, at).state
    again = apply_event(rules, state, first, at)  # redelivered after a crash: must not re-open the task
    assert again.outcome is Outcome.DUPLICATE and again.transitions == ()
    assert again.state.tasks["T-1"].status is TaskStatus.COMPLETED


def test_selection_by_kind(tmp_path: Path) -> None:
    rules = _deadlines(tmp_path)
    other_kind = task(vn(2024, 7, 25), kind="dossier", deadline=vn(2024, 7, 20))
    assert apply_event(rules, None, other_kind, vn(2024, 7, 25)).transitions == ()


def test_leaving_the_selection_resolves(tmp_path: Path) -> None:
    rules = _deadlines(tmp_path)
    state = apply_event(rules, None, task(vn(2024, 7, 25), deadline=vn(2024, 7, 20)), vn(2024, 7, 25)).state
    moved = task(vn(2024, 7, 26), kind="dossier", deadline=vn(2024, 7, 20))
    (resolved,) = apply_event(rules, state, moved, vn(2024, 7, 26)).transitions
    assert resolved.status == "resolved" and resolved.annotations["resolution"] == "no_longer_due"


def test_moving_the_deadline_later_resolves_and_rearms(tmp_path: Path) -> None:
    rules = _deadlines(tmp_path)
    state = apply_event(rules, None, task(vn(2024, 7, 25), deadline=vn(2024, 7, 20)), vn(2024, 7, 25)).state
    extended = apply_event(rules, state, task(vn(2024, 7, 26), deadline=vn(2024, 9, 30)), vn(2024, 7, 26))
    assert [t.status for t in extended.transitions] == ["resolved"]
    assert extended.state.next_wakeup == vn(2024, 9, 23).timestamp()


def test_removed_rule_resolves_its_alerts(tmp_path: Path) -> None:
    rules = _deadlines(tmp_path)
    state = apply_event(rules, None, task(vn(2024, 7, 25), deadline=vn(2024, 7, 20)), vn(2024, 7, 25)).state
    empty = RulePack(rules=())
    (resolved,) = advance(empty, state, vn(2024, 7, 26)).transitions
    assert resolved.status == "resolved" and resolved.annotations["resolution"] == "rule_removed"


def test_threshold_fires_once_and_resolves_above_the_hysteresis_line(tmp_path: Path) -> None:
    rules = pack(tmp_path, THRESHOLD_RULES)
    state = None
    log = []
    for day, value in enumerate((0.458, 0.47, 0.51, 0.53, 0.49), start=1):
        result = apply_event(rules, state, indicator(vn(2024, 7, day), value), vn(2024, 7, day))
        state = result.state
        log += [(value, t.status) for t in result.transitions]
    assert log == [(0.458, "firing"), (0.53, "resolved"), (0.49, "firing")]


def test_threshold_value_and_target_in_the_record(tmp_path: Path) -> None:
    rules = pack(tmp_path, THRESHOLD_RULES)
    (firing,) = apply_event(rules, None, indicator(vn(2024, 7, 3), 0.458), vn(2024, 7, 3)).transitions
    assert firing.value == 0.458
    assert firing.labels["indicator"] == "online_dossier_ratio"
    # No bounds declare the indicator a ratio: plain numbers, with a decimal comma.
    assert firing.annotations["summary"] == "VN-40: online_dossier_ratio = 0,458, mục tiêu 0,5"
    assert firing.annotations["target"] == "0.5"  # the annotation stays machine-readable


def test_a_ratio_indicator_reads_as_a_percentage(tmp_path: Path) -> None:
    rules = pack(tmp_path, "indicators: {online_dossier_ratio: {min: 0, max: 1}}\n" + THRESHOLD_RULES)
    (firing,) = apply_event(rules, None, indicator(vn(2024, 7, 3), 0.458), vn(2024, 7, 3)).transitions
    assert firing.annotations["summary"] == "VN-40: online_dossier_ratio = 45,8\u00a0%, mục tiêu 50\u00a0%"
    assert firing.value == 0.458 and firing.annotations["target"] == "0.5"


def test_the_task_tally_follows_status_changes(tmp_path: Path) -> None:
    rules = _deadlines(tmp_path)
    state = apply_event(rules, None, task(vn(2024, 7, 1), task_id="A"), vn(2024, 7, 1)).state
    assert state.task_tally() == {("task", "in_progress"): 1}  # counted once, then kept in step
    for at, task_id, status in [(2, "B", "in_progress"), (3, "A", "completed"), (4, "C", "not_started")]:
        state = apply_event(rules, state, task(vn(2024, 7, at), status, task_id=task_id), vn(2024, 7, at)).state
    recount: dict[tuple[str, str], int] = {}
    for t in state.tasks.values():
        recount[(t.kind, t.status.value)] = recount.get((t.kind, t.status.value), 0) + 1
    assert (
        state.task_tally()
        == recount
        == {
            ("task", "in_progress"): 1,
            ("task", "completed"): 1,
            ("task", "not_started"): 1,
        }
    )


def test_a_firing_alert_keeps_every_annotation_it_fired_with(tmp_path: Path) -> None:
    rules = _deadlines(tmp_path)
    result = apply_event(rules, None, task(vn(2024, 7, 25), deadline=vn(2024, 7, 20)), now=vn(2024, 7, 25, 9))
    (firing,) = result.transitions
    assert set(firing.annotations) > {"summary"}  # the due instant and more, not the summary alone
    (alert,) = result.state.alerts.values()
    assert alert.annotations == firing.annotations  # what a re-send to Alertmanager carries
    assert restate(rules, alert).annotations == {**firing.annotations, "reconciled": "true"}


def test_a_backlog_event_is_judged_at_its_own_time_within_what_the_unit_knows_and_now(tmp_path: Path) -> None:
    rules = pack(tmp_path, DEADLINE_RULES)
    now = vn(2024, 7, 25)
    first = task(vn(2024, 7, 1), deadline=vn(2024, 7, 20))
    assert catch_up_instant(rules, None, first, now) == vn(2024, 7, 1)  # a unit never seen: the event's time
    assert catch_up_instant(rules, None, task(vn(2024, 7, 26)), now) == now  # never after now
    state = apply_event(
        rules, None, task(vn(2024, 7, 10), task_id="T-0", deadline=vn(2024, 7, 30)), vn(2024, 7, 10)
    ).state
    assert state.alerts == {}
    assert catch_up_instant(rules, state, first, now) == vn(2024, 7, 1)  # another subject: its own time
    state = apply_event(rules, state, first, now).state
    assert state.alerts  # T-1 overdue
    assert catch_up_instant(rules, state, task(vn(2024, 7, 21)), now) == now  # T-1 holds an alert
    assert catch_up_instant(rules, state, task(vn(2024, 7, 11), task_id="T-2"), now) == vn(2024, 7, 11)  # T-2 none
    other = apply_event(rules, None, task(vn(2024, 7, 10), unit="VN-22"), vn(2024, 7, 10)).state
    other.pack_version = "an older pack"  # still moving to ``rules``: only the event's own subject is evaluated
    assert catch_up_instant(rules, other, task(vn(2024, 7, 12), unit="VN-22"), now) == vn(2024, 7, 12)


def test_a_backlog_indicator_is_judged_now_only_when_one_of_its_rules_holds_an_alert_about_it(tmp_path: Path) -> None:
    rules = pack(tmp_path, THRESHOLD_RULES)
    now = vn(2024, 7, 25)
    state = apply_event(rules, None, indicator(vn(2024, 7, 10), 0.3), vn(2024, 7, 10)).state
    assert [a.rule_id for a in state.alerts.values()] == ["online-low"]
    assert catch_up_instant(rules, state, indicator(vn(2024, 7, 12), 0.6), now) == now
    other = indicator(vn(2024, 7, 12), 0.6, name="dossiers_digitised")  # no alert about it, no rule of it
    assert catch_up_instant(rules, state, other, now) == vn(2024, 7, 12)
    dropped = pack(tmp_path, THRESHOLD_RULES.replace("online-low", "online-very-low"))  # the alert's rule is gone
    assert catch_up_instant(dropped, state, indicator(vn(2024, 7, 12), 0.6), now) == vn(2024, 7, 12)


def test_a_backlog_task_holding_only_an_alert_of_a_rule_the_pack_dropped_is_judged_at_its_own_time(
    tmp_path: Path,
) -> None:
    rules = _deadlines(tmp_path)
    now = vn(2024, 7, 25)
    state = apply_event(rules, None, task(vn(2024, 7, 21), deadline=vn(2024, 7, 20)), vn(2024, 7, 21)).state
    assert [a.rule_id for a in state.alerts.values()] == ["task-overdue"]
    assert catch_up_instant(rules, state, task(vn(2024, 7, 22)), now) == now
    renamed = pack(tmp_path, DEADLINE_RULES.replace("id: task-overdue", "id: task-late"))
    assert catch_up_instant(renamed, state, task(vn(2024, 7, 22)), now) == vn(2024, 7, 22)
    other_kind = task(vn(2024, 7, 22), kind="report")  # a rule of the task's kind as it was holds the alert
    assert catch_up_instant(rules, state, other_kind, now) == now


def test_a_task_two_rules_call_overdue_counts_once_and_a_missed_unit_deadline_under_its_kind(tmp_path: Path) -> None:
    (tmp_path / "units.yaml").write_text("roster: r\nunits:\n  - {id: VN-40, name: Bình Thuận}\n", encoding="utf-8")
    rules = pack(
        tmp_path,
        DEADLINE_RULES
        + """
      - id: task-overdue-escalated
        kind: deadline
        select: {kind: task}
        due_from: deadline
      - id: plan
        kind: deadline
        select: {kind: inspection_plan}
        roster: units.yaml
        due: "2024-07-20T00:00:00+07:00"
""",
    )
    state = seed(rules, "VN-40", vn(2024, 7, 25)).state
    state = apply_event(rules, state, task(vn(2024, 7, 25), deadline=vn(2024, 7, 20)), vn(2024, 7, 25)).state
    assert sum(1 for alert in state.alerts.values() if alert.stage == "overdue") == 3  # two on the task, the plan
    assert overdue_by_kind(state, rules.selected_kind) == {"task": 1, "inspection_plan": 1}


class _Unread(dict[str, object]):
    """A unit's tasks that must not be read (each read is a point read in the store)."""

    def get(self, key: str, default: object = None) -> object:
        raise AssertionError(f"task {key} read")


def test_overdue_tasks_are_counted_by_the_kind_their_alerts_keep_without_reading_a_task(tmp_path: Path) -> None:
    rules = pack(tmp_path, DEADLINE_RULES.replace("select: {kind: task}", "select: {kind: {in: [task, dossier]}}"))
    state = None
    for number, kind in enumerate(["task", "dossier", "dossier"]):
        event = task(vn(2024, 7, 25), task_id=f"T-{number}", kind=kind, deadline=vn(2024, 7, 20))
        state = apply_event(rules, state, event, vn(2024, 7, 25)).state
    assert state is not None
    held = state.tasks
    state.tasks = _Unread()  # type: ignore[assignment]
    assert overdue_by_kind(state, rules.selected_kind) == {"task": 1, "dossier": 2}
    state.tasks = held
    # T-0 becomes a dossier: still overdue under the same rule, it is counted under its new kind.
    moved = task(vn(2024, 7, 26), task_id="T-0", kind="dossier", deadline=vn(2024, 7, 20))
    state = apply_event(rules, state, moved, vn(2024, 7, 26)).state
    state.tasks = _Unread()  # type: ignore[assignment]
    assert overdue_by_kind(state, rules.selected_kind) == {"dossier": 3}


def test_an_overdue_alert_stored_before_alerts_kept_their_task_s_kind_is_counted_by_its_task(tmp_path: Path) -> None:
    rules = pack(tmp_path, DEADLINE_RULES)
    state = apply_event(rules, None, task(vn(2024, 7, 25), deadline=vn(2024, 7, 20)), vn(2024, 7, 25)).state
    (fingerprint,) = state.alerts
    state.alerts[fingerprint] = msgspec.structs.replace(state.alerts[fingerprint], kind="")  # as stored before
    assert overdue_by_kind(state, rules.selected_kind) == {"task": 1}


def test_a_deadline_moved_while_still_missed_fires_again_with_the_new_due(tmp_path: Path) -> None:
    """The alert's summary and due follow the task's deadline; its start and fingerprint stay; the same deadline again changes nothing."""
    rules = _deadlines(tmp_path)
    first = apply_event(rules, None, task(vn(2024, 7, 25), deadline=vn(2024, 7, 10)), vn(2024, 7, 25))
    (fired,) = first.transitions
    assert "10/07/2024" in fired.annotations["summary"]
    moved = apply_event(rules, first.state, task(vn(2024, 7, 26), deadline=vn(2024, 7, 15)), vn(2024, 7, 26))
    (again,) = moved.transitions
    assert (again.status, again.stage, again.fingerprint) == ("firing", "overdue", fired.fingerprint)
    assert again.starts_at == fired.starts_at  # the same interval: it began when the task was first overdue
    assert "15/07/2024" in again.annotations["summary"] and again.annotations["due"].startswith("2024-07-15")
    (alert,) = moved.state.alerts.values()
    assert alert.summary == again.annotations["summary"]
    same = apply_event(rules, moved.state, task(vn(2024, 7, 27), deadline=vn(2024, 7, 15)), vn(2024, 7, 27))
    assert same.transitions == ()


class _Watched(AlertMap):
    """A unit's alerts that count the times they are walked whole."""

    walks = 0

    def values(self):  # type: ignore[override]
        _Watched.walks += 1
        return super().values()

    def items(self):  # type: ignore[override]
        _Watched.walks += 1
        return super().items()

    def __iter__(self) -> Iterator[str]:
        _Watched.walks += 1
        return super().__iter__()


def test_an_event_of_a_unit_moving_to_a_new_pack_finds_its_alerts_without_walking_the_units(tmp_path: Path) -> None:
    """While a unit moves to a pack (in parts), each event settles its own task's alerts of rules gone or no longer
    judging it, found by fingerprint: not by a walk of the unit's alerts (a second or more per record of 500 events
    once a unit holds thousands of alerts)."""
    rules = _deadlines(tmp_path)
    state = None
    for n in range(300):
        state = apply_event(
            rules, state, task(vn(2024, 7, 25), task_id=f"T-{n}", deadline=vn(2024, 7, 20)), vn(2024, 7, 25)
        ).state
    assert state is not None and len(state.alerts) == 300
    state.alerts = _Watched(state.alerts)
    _Watched.walks = 0
    renamed = pack(tmp_path, DEADLINE_RULES.replace("id: task-overdue", "id: task-late"))  # the old rule is gone
    results = [
        apply_event(renamed, state, task(vn(2024, 7, 26), task_id=f"T-{n}", deadline=vn(2024, 7, 20)), vn(2024, 7, 26))
        for n in range(5)
    ]
    assert _Watched.walks <= 1  # gathered by subject once, then kept
    for n, result in enumerate(results):
        gone = [t for t in result.transitions if t.rule_id == "task-overdue"]
        fired = [t for t in result.transitions if t.rule_id == "task-late"]
        assert [(t.status, t.labels["task_id"], t.annotations["resolution"]) for t in gone] == [
            ("resolved", f"T-{n}", "rule_removed")
        ]
        assert [(t.status, t.labels["task_id"]) for t in fired] == [("firing", f"T-{n}")]
    assert sorted(a.rule_id for a in state.alerts.values()).count("task-overdue") == 295  # the others wait for the move
    assert state.alert_rules_of("task:T-0") == ["task-late"] and state.alert_rules_of("task:T-5") == ["task-overdue"]
    moved = advance(renamed, state, vn(2024, 7, 26))  # the rest of the move, whole
    assert len(moved.transitions) == 2 * 295
    assert all(moved.state.alert_rules_of(f"task:T-{n}") == ["task-late"] for n in range(300))
    assert len(moved.state.alerts) == 300


def test_an_alert_kept_under_another_fingerprint_still_resolves_when_its_rule_leaves(tmp_path: Path) -> None:
    """A rule gone: its alert is found by fingerprint, or, kept under another key, among the unit's alerts."""
    rules = _deadlines(tmp_path)
    state = apply_event(rules, None, task(vn(2024, 7, 25), deadline=vn(2024, 7, 20)), vn(2024, 7, 25)).state
    ((fp, alert),) = state.alerts.items()
    state.alerts = AlertMap({"kept-elsewhere": alert})  # as no fingerprint made here would be
    (resolved,) = advance(RulePack(rules=()), state, vn(2024, 7, 26)).transitions
    assert resolved.annotations["resolution"] == "rule_removed" and state.alerts == {}
    assert fp != "kept-elsewhere"
