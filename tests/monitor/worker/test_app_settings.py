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


async def test_a_checkpoints_alert_transitions_leave_in_record_batches_up_to_the_record_limit() -> None:
    # A broker keeps every batch (the embedded one lists them all for each fetch): faust's 16 KiB batches held
    # 5 transitions of 3 KB each, and made 11 changelog batches a second per partition under the soak's load.
    transition = b"x" * 3_000
    for limit in (1 << 20, 256 << 10):
        client = build_app(Settings(max_record_bytes=limit)).producer._new_producer()
        try:
            batch = client.create_batch()
            fitted = 0
            while batch.append(key=b"fingerprint", value=transition, timestamp=None) is not None:
                fitted += 1
        finally:
            await client.stop()
        assert limit // 3_100 <= fitted <= limit // 3_000, (limit, fitted)
