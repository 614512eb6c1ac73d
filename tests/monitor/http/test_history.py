"""The history answer's pure parts: an interval as the API shows it (``from``/``to``: ``tests/rules/test_periods.py``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from monitor.http.history import interval_view
from monitor.state.history import Interval

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def test_an_ended_interval_says_how_long_it_lasted_and_an_open_one_does_not() -> None:
    started = datetime(2024, 7, 20, tzinfo=VN)
    interval = Interval(
        fingerprint="f",
        unit_id="VN-22",
        rule_id="task-overdue",
        severity="critical",
        labels={"unit_id": "VN-22", "task_id": "NV-1"},
        started_at=started,
        ended_at=datetime(2024, 7, 25, 12, tzinfo=VN),
        stages=[{"stage": "overdue", "at": started.isoformat()}],
        resolution="completed_late",
        late_days=5,
        summary="…",
    )
    view = interval_view(interval, {"VN-22": "Nghệ An"})
    assert view["unit_name"] == "Nghệ An" and view["duration_seconds"] == 5 * 86400 + 12 * 3600
    assert (view["resolution"], view["late_days"]) == ("completed_late", 5)
    still = interval_view(replace(interval, ended_at=None, resolution=None, late_days=None), {})
    assert (still["ended_at"], still["duration_seconds"], still["unit_name"]) == (None, None, "VN-22")
