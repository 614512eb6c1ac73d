from __future__ import annotations

import logging

from monitor.worker.runner import RepeatFilter


def _record(message: str, name: str = "aiokafka") -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, message, None, None)


def test_a_repeated_message_is_written_a_few_times_per_window_with_a_count() -> None:
    now = [0.0]
    repeats = RepeatFilter(window=10, burst=3, monotonic=lambda: now[0])
    written = []
    for second in range(25):
        now[0] = float(second)
        for _ in range(75):  # 75 a second, as a client retrying against a lost broker
            record = _record("OffsetCommit failed: %s")
            if repeats.filter(record):
                written.append(record.getMessage() if not record.args else record.msg)
    assert len(written) == 9  # three windows, three each
    assert "747 more like this in the last 10s" in str(written[3])
    assert repeats.filter(_record("another message"))  # a different message is not held back


def test_a_one_off_message_repeated_with_new_figures_in_a_rebalance_is_not_held_back() -> None:
    repeats = RepeatFilter(window=10, burst=3, monotonic=lambda: 0.0)
    lines = []
    for partitions in ([0, 1], [2], [3]):  # three assignments in quick succession
        record = logging.LogRecord(
            "monitor.state.store", logging.INFO, __file__, 1, "partitions %s read", (partitions,), None
        )
        if repeats.filter(record):
            lines.append(record.getMessage())
    assert lines == ["partitions [0, 1] read", "partitions [2] read", "partitions [3] read"]
