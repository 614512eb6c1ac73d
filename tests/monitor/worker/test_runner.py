from __future__ import annotations

import logging

from monitor.worker.runner import RepeatFilter


def _record(message: str, name: str = "aiokafka") -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, message, None, None)


def test_a_repeated_message_is_written_once_per_window_with_a_count() -> None:
    now = [0.0]
    repeats = RepeatFilter(window=10, monotonic=lambda: now[0])
    written = []
    for second in range(25):
        now[0] = float(second)
        for _ in range(75):  # 75 a second, as a client retrying against a lost broker
            record = _record("OffsetCommit failed: %s")
            if repeats.filter(record):
                written.append(record.getMessage() if not record.args else record.msg)
    assert len(written) == 3
    assert "749 more like this" in str(written[1])
    assert repeats.filter(_record("another message"))  # a different message is not held back
