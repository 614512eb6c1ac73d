"""Event text on a terminal: escape sequences and line breaks show as escapes, they do not act."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from datetime import UTC
from pathlib import Path

import pytest

from monitor.cli.alerts import format_line
from monitor.cli.terminal import SafeLogRecord, json_safe, printable
from tests.rules.fixtures import transition as _transition

CLEAR = "\x1b[2J"
TITLE = "\x1b]0;pwned\x07"
FAKE_CRITICAL = "\r\n2024-07-20 00:00:00+0700  FIRING   critical VN-01 forged"
CSI_8BIT = "\x9b31m"
BIDI = "\u202eevil"


def _no_controls(text: str) -> bool:
    return not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or c in "\u202e\u2028" for c in text)


@pytest.mark.parametrize("hostile", [CLEAR, TITLE, FAKE_CRITICAL, CSI_8BIT, BIDI, "a\u2028b"])
def test_printable_shows_every_control_as_an_escape(hostile: str) -> None:
    shown = printable(f"ok {hostile} ok")
    assert _no_controls(shown)
    assert shown.startswith("ok ") and shown.endswith(" ok")


def test_printable_keeps_vietnamese_text_and_tabs() -> None:
    text = "Nghệ An: nhiệm vụ «Kế hoạch» quá hạn\t3 ngày"
    assert printable(text) == text


def test_a_tail_line_with_hostile_summary_and_unit_drives_nothing() -> None:
    hostile = _transition(
        annotations={"summary": f"{CLEAR}{TITLE}{FAKE_CRITICAL}{CSI_8BIT}"},
        labels={"alertname": "task-overdue", "unit_id": "VN-22", "task_id": f"NV{BIDI}", "severity": "critical"},
    )
    plain = format_line(hostile, colour=False, tz=UTC)
    assert _no_controls(plain) and "\\x1b[2J" in plain and "\\x0d\\x0a" in plain
    coloured = format_line(hostile, colour=True, tz=UTC)
    # Only the monitor's own colour codes, at the very start and end.
    assert coloured.count("\x1b") == 2 and coloured.startswith("\x1b[1;31m") and coloured.endswith("\x1b[0m")


def test_json_lines_stay_the_same_json_with_no_raw_control_characters() -> None:
    value = {"summary": f"{CLEAR}{CSI_8BIT}{BIDI}\x7f", "unit": "VN-22"}
    line = json_safe(json.dumps(value, ensure_ascii=False))
    assert _no_controls(line) and json.loads(line) == value


def test_log_lines_of_the_monitor_escape_event_text_and_others_are_left_alone() -> None:
    ours = SafeLogRecord("monitor.worker", logging.WARNING, __file__, 1, "dead-lettered: %s", (FAKE_CRITICAL,), None)
    faust = SafeLogRecord("faust.assignor", logging.INFO, __file__, 1, "table\nrow", (), None)
    assert _no_controls(ours.getMessage()) and "\\x0d\\x0a" in ours.getMessage()
    assert faust.getMessage() == "table\nrow"


def test_replay_prints_a_hostile_title_as_escapes(tmp_path: Path) -> None:
    recorded = tmp_path / "hostile.jsonl"
    event = {
        "event_id": "e1",
        "source": "s",
        "unit_id": "VN-22",
        "task_id": "NV-1",
        "kind": "task",
        "title": f"{CLEAR}{TITLE}{FAKE_CRITICAL}",
        "status": "in_progress",
        "deadline": "2024-07-01",
        "occurred_at": "2024-06-01T00:00:00+07:00",
    }
    recorded.write_text(json.dumps(event) + "\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "replay", str(recorded), "--until", "2024-07-10T00:00:00+07:00"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = done.stdout.splitlines()
    assert all(_no_controls(line) for line in lines)
    ours = [line for line in lines if "VN-22" in line and "task-overdue" in line]
    assert len(ours) == 2 and "\\x1b[2J" in ours[0]  # due soon, then overdue
    assert not any("forged" in line and "task-overdue" not in line for line in lines)  # no line of its own
    as_json = subprocess.run(
        [sys.executable, "-m", "monitor", "replay", str(recorded), "--json", "--until", "2024-07-10T00:00:00+07:00"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.splitlines()
    assert all(_no_controls(line) for line in as_json)
    summaries = [json.loads(line)["annotations"]["summary"] for line in as_json]
    assert any(CLEAR in summary for summary in summaries)  # the data itself is kept, only shown safely
