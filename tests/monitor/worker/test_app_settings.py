"""Settings that reach the faust app: what a production worker checks, and what the embedded broker needs off."""

from __future__ import annotations

from monitor.settings import Settings
from monitor.worker.app import build_app
from monitor.worker.recovery import ProgressRecovery


def test_recovery_consistency_check_is_on_unless_turned_off() -> None:
    assert build_app(Settings()).conf.recovery_consistency_check is True
    assert build_app(Settings(recovery_consistency_check=False)).conf.recovery_consistency_check is False


def test_the_app_recovers_with_a_recovery_that_reports_progress() -> None:
    app = build_app(Settings())
    assert isinstance(app.tables.recovery, ProgressRecovery)
