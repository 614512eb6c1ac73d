"""Event text on a terminal: escape sequences and line breaks show as escapes, they do not act."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from datetime import UTC
from pathlib import Path

import faust
import pytest

import monitor
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


# Where a log call was made decides whose line it is (monitor.logorigin): a monitor module, or faust's code.
MONITOR_CODE = str(Path(monitor.__file__).parent / "worker" / "worker.py")
FAUST_CODE = str(Path(faust.__file__).parent / "tables" / "recovery.py")
TABLE = "+----+\n| VN |\n+----+"


def _logged(template: object, *args: object, name: str = "monitor.worker", where: str = MONITOR_CODE) -> SafeLogRecord:
    return SafeLogRecord(name, logging.WARNING, where, 1, template, args, None)


def test_the_arguments_of_the_monitors_log_lines_are_escaped_not_their_templates() -> None:
    record = _logged("dead-lettered:\n  title %s\n  unit %r", FAKE_CRITICAL, f"VN-22{BIDI}")
    lines = record.getMessage().split("\n")
    assert lines[0] == "dead-lettered:" and len(lines) == 3  # the template's own lines, and no forged one
    assert lines[1].startswith("  title ") and "\\x0d\\x0a" in lines[1]
    assert all(_no_controls(line) for line in lines)


def test_a_title_with_a_line_break_stays_on_its_line_whatever_the_form_of_the_argument() -> None:
    title = "Kế hoạch\n2024-07-20 00:00:00 FIRING critical VN-01 forged"
    for record in (
        _logged("task %s", title),
        _logged("task %r", title),
        _logged("task %(title)s", {"title": title}),
        _logged("refused: %s", ValueError(title)),  # an error quoting the event
        _logged(ValueError(title)),  # an object logged as the message is not a template
    ):
        message = record.getMessage()
        assert "\n" not in message and "forged" in message, message


def test_numbers_keep_their_formats() -> None:
    assert _logged("%d units, %.1f s, %s%%", 27, 2.345, 45.8).getMessage() == "27 units, 2.3 s, 45.8%"


def test_lines_faust_writes_keep_their_tables_whatever_their_logger() -> None:
    # faust's recovery logs under the logger of the monitor module that subclasses it; its code wrote the table.
    recovery = _logged("Highwater:\n%s", TABLE, name="monitor.worker.recovery", where=FAUST_CODE)
    assert recovery.getMessage() == f"Highwater:\n{TABLE}"
    assert _logged("table\nrow", name="faust.assignor", where=FAUST_CODE).getMessage() == "table\nrow"


def test_a_record_that_does_not_say_where_it_was_logged_is_judged_by_its_logger() -> None:
    assert "\n" not in _logged("%s", FAKE_CRITICAL, where="(unknown file)").getMessage()
    assert _logged("%s", TABLE, name="faust.tables", where="(unknown file)").getMessage() == TABLE


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
