"""Response figures: time to acknowledge and to resolve the alerts begun in a period, per unit and severity."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from monitor.actions import ActionBook, ActionKind, AlertAction
from monitor.report.response import Begun, response_rows
from tests.conftest import vn

_ids = itertools.count()
START = vn(2024, 7, 1, 8)


def _act(book: ActionBook, interval: Begun, kind: ActionKind, after: timedelta) -> None:
    book.take(
        AlertAction(
            id=f"{next(_ids):032x}",
            action=kind,
            fingerprint=interval.fingerprint,
            starts_at=interval.started_at,
            unit_id=interval.unit_id,
            stage="overdue",
            severity=interval.severity,
            by="v",
            by_name="V",
            at=interval.started_at + after,
            note="n" if kind is ActionKind.NOTE else None,
        )
    )


def test_the_first_acknowledgement_and_the_end_count_each_once_and_later_ones_not_yet() -> None:
    judged = vn(2024, 7, 10)
    a = Begun("a", "VN-22", "critical", START, START + timedelta(days=2))
    b = Begun("b", "VN-22", "critical", START + timedelta(hours=1), None)  # still firing
    c = Begun("c", "VN-22", "critical", START, judged + timedelta(days=1))  # ends after the report's instant
    d = Begun("d", "VN-HN", "warning", START, START + timedelta(hours=5))
    book = ActionBook()
    _act(book, a, ActionKind.NOTE, timedelta(minutes=5))  # a note is no acknowledgement
    _act(book, a, ActionKind.ACKNOWLEDGE, timedelta(minutes=30))
    _act(book, a, ActionKind.UNACKNOWLEDGE, timedelta(minutes=40))
    _act(book, a, ActionKind.ACKNOWLEDGE, timedelta(hours=3))  # the first one counts
    _act(book, b, ActionKind.ACKNOWLEDGE, timedelta(hours=2))
    _act(book, c, ActionKind.ACKNOWLEDGE, timedelta(days=20))  # after the report's instant: not yet
    rows = {(r.unit_id, r.severity): r for r in response_rows([a, b, c, d], book.actions, judged)}
    nghe_an = rows[("VN-22", "critical")]
    assert (nghe_an.alerts, nghe_an.acknowledged, nghe_an.ended) == (3, 2, 1)
    assert nghe_an.to_acknowledge == (timedelta(minutes=30), timedelta(hours=2))
    assert nghe_an.median_to_acknowledge == timedelta(minutes=30)  # the lower middle of two
    assert nghe_an.median_to_resolve == timedelta(days=2)
    ha_noi = rows[("VN-HN", "warning")]
    assert (ha_noi.acknowledged, ha_noi.median_to_acknowledge, ha_noi.median_to_resolve) == (
        0,
        None,
        timedelta(hours=5),
    )
    every = rows[("", "critical")]
    assert every.alerts == 3 and rows[("", "warning")].alerts == 1
    shown = every.as_json()
    assert shown["unit_id"] is None and shown["median_to_acknowledge_seconds"] == 1800
    assert shown["longest_to_acknowledge_seconds"] == 7200
    order = [(r.unit_id, r.severity) for r in response_rows([a, b, c, d], book.actions, judged)]
    assert order == [("VN-22", "critical"), ("VN-HN", "warning"), ("", "critical"), ("", "warning")]


def test_no_alert_begun_gives_no_row() -> None:
    assert response_rows([], ActionBook().actions, datetime.now().astimezone()) == []
