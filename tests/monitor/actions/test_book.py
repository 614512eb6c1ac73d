"""Where an alert stands with its operators: the last word decides, an escalation clears an acknowledgement."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from monitor.actions import ActionBook, ActionKind, ActionRequest, AlertAction
from tests.conftest import vn

STARTED = vn(2026, 11, 20, 8)
_ids = itertools.count()


def act(
    kind: ActionKind,
    *,
    stage: str = "overdue",
    severity: str = "warning",
    starts_at: datetime = STARTED,
    owner: str | None = None,
    note: str | None = None,
    by: str = "nghean-stttt",
) -> AlertAction:
    n = next(_ids)
    return AlertAction(
        id=f"{n:032x}",
        action=kind,
        fingerprint="fp-1",
        starts_at=starts_at,
        unit_id="VN-22",
        stage=stage,
        severity=severity,
        by=by,
        by_name="Sở TT&TT Nghệ An",
        at=STARTED + timedelta(minutes=n),
        owner=owner,
        note=note,
    )


def test_an_acknowledgement_holds_until_taken_back_or_the_alert_escalates() -> None:
    book = ActionBook()
    ack = act(ActionKind.ACKNOWLEDGE, note="đầu mối đang xử lý")
    assert book.take(ack) and not book.take(ack)  # published twice: one action
    assert len(book) == 1
    assert book.standing("fp-1", STARTED, "overdue", "warning").acknowledged == ack
    # Escalated: a new severity, or a new stage, and it is nobody's again (the acknowledgement is kept, as cleared).
    for stage, severity in (("overdue", "critical"), ("due_soon", "warning")):
        standing = book.standing("fp-1", STARTED, stage, severity)
        assert (standing.acknowledged, standing.cleared) == (None, ack)
    book.take(act(ActionKind.UNACKNOWLEDGE))
    assert book.standing("fp-1", STARTED, "overdue", "warning").acknowledged is None
    again = act(ActionKind.ACKNOWLEDGE, severity="critical")
    book.take(again)
    assert book.standing("fp-1", STARTED, "overdue", "critical").acknowledged == again


def test_the_owner_is_the_last_assigned_and_outlives_an_escalation() -> None:
    book = ActionBook()
    first = act(ActionKind.ASSIGN, owner="Anh Tuấn")
    book.take_all([first, act(ActionKind.NOTE, note="đã gọi điện"), act(ActionKind.ASSIGN, owner="")])
    standing = book.standing("fp-1", STARTED, "overdue", "critical")
    assert standing.owner is None  # given back to nobody
    second = act(ActionKind.ASSIGN, owner="Chị Lan")
    book.take(second)
    standing = book.standing("fp-1", STARTED, "overdue", "critical")
    assert standing.owner == second and [a.note for a in standing.notes] == ["đã gọi điện"]
    shown = standing.as_json()
    assert shown["owner"]["owner"] == "Chị Lan" and shown["notes"][0]["note"] == "đã gọi điện"
    assert shown["actions"] == 4 and shown["acknowledged"] is None


def test_a_new_firing_interval_starts_with_nothing_but_the_trail_keeps_every_action() -> None:
    book = ActionBook()
    old = act(ActionKind.ACKNOWLEDGE)
    book.take(old)
    later = STARTED + timedelta(days=3)
    assert book.standing("fp-1", later, "overdue", "warning").actions == ()
    assert book.standing("fp-1", STARTED.astimezone(tz=None), "overdue", "warning").acknowledged == old  # an instant
    assert book.of_alert("fp-1") == (old,) and book.of_alert("fp-2") == ()


@given(st.lists(st.sampled_from(list(ActionKind)), max_size=12), st.sampled_from(["warning", "critical"]))
def test_the_acknowledgement_in_force_is_the_last_word_while_the_severity_stands(
    kinds: list[ActionKind], severity_now: str
) -> None:
    book = ActionBook()
    taken = [
        act(kind, owner="x" if kind is ActionKind.ASSIGN else None, note="n" if kind is ActionKind.NOTE else None)
        for kind in kinds
    ]
    book.take_all(taken)
    last = next((a for a in reversed(taken) if a.action in (ActionKind.ACKNOWLEDGE, ActionKind.UNACKNOWLEDGE)), None)
    in_force = last if last is not None and last.action is ActionKind.ACKNOWLEDGE else None
    expected = in_force if severity_now == "warning" else None  # every action here was taken at "warning"
    assert book.standing("fp-1", STARTED, "overdue", severity_now).acknowledged == expected


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"action": "assign"}, "needs an owner"),
        ({"action": "note"}, "needs its text"),
        ({"action": "note", "note": "   "}, "at least 1 character"),
        ({"action": "acknowledge", "owner": "x"}, "takes no owner"),
        ({"action": "unacknowledge", "note": "x"}, "takes no note"),
        ({"action": "silence"}, "acknowledge"),
        ({"action": "note", "note": "x" * 2001}, "at most 2000"),
        ({"action": "note", "note": "x", "by": "someone"}, "Extra inputs"),
    ],
)
def test_a_request_that_does_not_fit_its_action_is_refused_with_the_reason(body: dict[str, str], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        ActionRequest.model_validate(body)
