from __future__ import annotations

import logging
from pathlib import Path

import mode

import monitor
from monitor.worker.runner import LibraryLevelFilter, RepeatFilter


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


MONITOR_CODE = str(Path(monitor.__file__).parent / "state" / "store.py")
MODE_CODE = str(Path(mode.__file__).parent / "services.py")


def _line(level: int, where: str, name: str) -> logging.LogRecord:
    return logging.LogRecord(name, level, where, 1, "[^--MonitorApp]: Starting...", None, None)


def test_the_libraries_start_up_chatter_is_held_back_and_the_monitors_own_lines_are_not() -> None:
    quiet = LibraryLevelFilter(logging.WARNING)
    # mode's "Starting..." of a service the monitor subclasses: logged under a monitor module's logger, by mode.
    assert not quiet.filter(_line(logging.INFO, MODE_CODE, "monitor.worker.app"))
    assert not quiet.filter(_line(logging.INFO, MODE_CODE, "faust.worker"))
    assert quiet.filter(_line(logging.WARNING, MODE_CODE, "faust.worker"))
    assert quiet.filter(_line(logging.INFO, MONITOR_CODE, "monitor.state.store"))  # "partitions [0, 1] read"


def test_with_info_the_libraries_lines_are_written_too() -> None:
    chatty = LibraryLevelFilter(logging.INFO)
    assert chatty.filter(_line(logging.INFO, MODE_CODE, "faust.worker"))
    assert not chatty.filter(_line(logging.DEBUG, MODE_CODE, "aiokafka.conn"))
