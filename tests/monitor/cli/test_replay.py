"""``monitor replay --packs``: a recorded history replayed under the packs applied over time."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.cli import main
from rules.loading import PublishedPack, content_hash, load_pack, pack_files
from tests.conftest import vn
from tests.rules.fixtures import indicator

ROSTER = "roster: provinces\nunits:\n  - {id: VN-22, name: Nghệ An}\n  - {id: VN-40, name: Bình Thuận}\n"

OLD = """
groups:
  - name: g
    rules:
      - {id: backlog-high, kind: threshold, indicator: backlog, above: 10}
"""

NEW = """
groups:
  - name: g
    rules:
      - {id: inspection-plan, kind: deadline, due: "2024-07-20T00:00:00+07:00", roster: [units.yaml]}
"""

SWITCH = vn(2024, 7, 21, 9)


def _monitor(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command in a fresh process, as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args], capture_output=True, text=True, timeout=60, check=False
    )


def _record(directory: Path, rules: str, applied_at: datetime, roster: str | None = None) -> str:
    """One published pack record (a JSON line) of the rule files written to ``directory``."""
    directory.mkdir()
    (directory / "rules.yaml").write_text(rules, encoding="utf-8")
    if roster is not None:
        (directory / "units.yaml").write_text(roster, encoding="utf-8")
    files = pack_files(directory)
    record = PublishedPack.of(load_pack([directory]), files, applied_at=applied_at, applied_by="ops@vn")
    return record.model_dump_json()


@pytest.fixture
def history(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_text(
        indicator(vn(2024, 7, 10), 20, unit="VN-40", name="backlog").model_dump_json() + "\n", encoding="utf-8"
    )
    return path


@pytest.fixture
def packs(tmp_path: Path) -> Path:
    path = tmp_path / "packs.jsonl"
    old = _record(tmp_path / "old", OLD, vn(2024, 7, 1))
    new = _record(tmp_path / "new", NEW, SWITCH, ROSTER)
    path.write_text(f"{old}\n\n{new}\n", encoding="utf-8")  # a blank line is no record
    return path


def test_replay_switches_to_each_pack_when_it_was_applied(history: Path, packs: Path) -> None:
    until = ("--until", "2024-07-22T00:00:00+07:00")
    done = _monitor("replay", str(history), "--packs", str(packs), *until, "--json", "--all-units")
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["status"], r["rule_id"], r["labels"]["unit_id"]) for r in records] == [
        ("firing", "backlog-high", "VN-40"),  # under the old pack
        ("firing", "inspection-plan", "VN-22"),  # the new pack: its roster, VN-22 never reported
        ("resolved", "backlog-high", "VN-40"),
        ("firing", "inspection-plan", "VN-40"),
    ]
    assert records[2]["annotations"]["resolution"] == "rule_removed"
    assert records[2]["ends_at"] == SWITCH.isoformat()
    assert f"2 packs in {packs}:" in done.stderr and "replayed 1 events: 4 transitions" in done.stderr


def _broken(rules: str, layout: int = 2) -> str:
    """A record of a pack of one rule file; layout 1 keeps the files as text (an older record), 2 compresses them."""
    files = {"rules.yaml": rules}
    record = PublishedPack(
        format=layout, version="broken", content=content_hash(files), files=files, applied_at=SWITCH, applied_by="ops"
    )
    return record.model_dump_json()


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("{not json", "not a published pack record: Invalid JSON"),
        ('{"version": "v"}', "not a published pack record: field 'content': Field required (and 3 more)"),
        (
            _broken("groups:\n  - name: g\n    rules:\n      - {id: a, kind: deadlin}\n"),
            "pack broken does not load: rules.yaml:4: rule 'a' field 'groups.0.rules.0.kind': unknown kind 'deadlin'",
        ),
        (
            _broken(OLD, layout=1).replace("backlog-high", "backlog-low"),  # the files no longer match the hash
            "pack broken does not load: <pack broken>: field '(file)': the files do not match the pack's hash",
        ),
    ],
    ids=["not-json", "not-a-record", "does-not-load", "tampered"],
)
def test_a_bad_line_in_the_packs_file_is_one_line_naming_it_and_status_2(
    history: Path, packs: Path, line: str, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    packs.write_text(packs.read_text(encoding="utf-8") + line + "\n", encoding="utf-8")
    assert main(["replay", str(history), "--packs", str(packs)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    [error] = captured.err.splitlines()
    assert error.startswith(f"error: {packs}:4: {said}"), error


def test_an_empty_packs_file_is_a_usage_error(
    history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "none.jsonl"
    empty.write_text("\n", encoding="utf-8")
    assert main(["replay", str(history), "--packs", str(empty)]) == 2
    assert capsys.readouterr().err.splitlines() == [f"error: {empty}: no published pack records"]


def test_packs_and_rules_together_are_one_line_and_status_2(history: Path, packs: Path, tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(OLD, encoding="utf-8")
    done = _monitor("replay", str(history), "--packs", str(packs), "--rules", str(tmp_path / "rules.yaml"))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "error: --packs and --rules cannot be used together: give the packs over time, or one pack"
    ]


def test_replay_lines_show_every_time_in_the_zone_of_its_pack(packs: Path, tmp_path: Path) -> None:
    # Written in UTC; the backlog alert fires then and is resolved at the switch, an instant in +07:00.
    history = tmp_path / "utc.jsonl"
    history.write_text(
        indicator(datetime(2024, 7, 10, 3, tzinfo=UTC), 20, unit="VN-40", name="backlog").model_dump_json() + "\n",
        encoding="utf-8",
    )
    timeline = _monitor("replay", str(history), "--packs", str(packs), "--until", "2024-07-22T00:00:00+07:00")
    assert timeline.returncode == 0, timeline.stderr
    lines = timeline.stdout.splitlines()
    assert len(lines) == 3 and lines[0].startswith("2024-07-10 10:00:00+0700")  # VN-40's own transitions
    assert {line[19:24] for line in lines} == {"+0700"}  # the first pack's zone (Asia/Ho_Chi_Minh by default)

    in_utc = tmp_path / "utc-rules.yaml"
    in_utc.write_text(OLD.replace("- name: g", "- name: g\n    timezone: UTC"), encoding="utf-8")
    one_pack = _monitor("replay", str(history), "--rules", str(in_utc), "--until", "2024-07-22T00:00:00+07:00")
    assert one_pack.returncode == 0, one_pack.stderr
    assert one_pack.stdout.startswith("2024-07-10 03:00:00+0000  FIRING")


def _backlog(tmp_path: Path, timezone: str) -> tuple[Path, Path]:
    """A backlog rule in ``timezone``, and a backlog that goes above it at 03:00 on 21/7 in Việt Nam."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(OLD.replace("  - name: g\n", f"  - name: g\n    timezone: {timezone}\n"), encoding="utf-8")
    events = tmp_path / "events.jsonl"
    lines = [
        indicator(vn(2024, 7, 20, 9), 5, unit="VN-40", name="backlog"),
        indicator(vn(2024, 7, 21, 3), 20, unit="VN-40", name="backlog"),
    ]
    events.write_text("".join(e.model_dump_json() + "\n" for e in lines), encoding="utf-8")
    return events, rules


@pytest.mark.parametrize(("timezone", "fired"), [("Asia/Ho_Chi_Minh", False), ("UTC", True)])
def test_until_a_date_stops_at_the_midnight_that_begins_it_in_the_packs_time_zone(
    tmp_path: Path, timezone: str, fired: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    events, rules = _backlog(tmp_path, timezone)
    assert main(["replay", str(events), "--rules", str(rules), "--until", "2024-07-21", "--json"]) == 0
    assert bool(capsys.readouterr().out) is fired  # 03:00 on 21/7 in Việt Nam is 20:00 on 20/7 in UTC
    assert main(["replay", str(events), "--rules", str(rules), "--from", "2024-07-21", "--json"]) == 0
    assert bool(capsys.readouterr().out) is not fired


def test_until_a_date_means_what_the_same_midnight_written_as_an_instant_means(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events, rules = _backlog(tmp_path, "Asia/Ho_Chi_Minh")
    outputs = []
    for until in ("2024-07-22", "2024-07-22T00:00:00+07:00"):
        assert main(["replay", str(events), "--rules", str(rules), "--until", until, "--json"]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1] and '"firing"' in outputs[0]


@pytest.mark.parametrize(
    ("until", "said"),
    [
        ("2024-08-01T00:00", "'2024-08-01T00:00' has no UTC offset; write e.g. 2024-08-01T00:00:00+07:00, or a date"),
        ("tomorrow", "'tomorrow' is not a date (2024-08-01"),
    ],
)
def test_until_without_an_offset_or_not_a_date_is_one_line_and_status_2(history: Path, until: str, said: str) -> None:
    done = _monitor("replay", str(history), "--until", until)
    assert done.returncode == 2 and done.stdout == "" and "Traceback" not in done.stderr
    [line] = [line for line in done.stderr.splitlines() if "error" in line]
    assert f"argument --until: {said}" in line


ONE_TASK = (
    '{"event_id": "VN-22-NV-27-1", "source": "demo", "unit_id": "VN-22", "task_id": "NV-27", "kind": "task", '
    '"status": "in_progress", "deadline": "2024-08-15", "occurred_at": "2024-07-01T08:00:00+07:00"}\n'
)


def test_a_one_task_file_prints_only_its_unit_s_transitions_and_says_how_many_were_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "one.jsonl"
    events.write_text(ONE_TASK, encoding="utf-8")
    until = ["--until", "2024-09-01"]  # the bundled pack: an inspection plan and a report from every rostered unit
    assert main(["replay", str(events), *until, "--json"]) == 0
    captured = capsys.readouterr()
    shown = [json.loads(line) for line in captured.out.splitlines()]
    assert shown and {r["labels"]["unit_id"] for r in shown} == {"VN-22"}
    *_, left_out, end = captured.err.splitlines()
    assert re.fullmatch(
        r"left out (\d+) transitions of (\d+) other rostered units not in the replayed events "
        r"\(--all-units shows them\)",
        left_out,
    )
    assert end == f"replayed 1 events: {len(shown)} transitions"
    assert main(["replay", str(events), *until, "--json", "--all-units"]) == 0
    captured = capsys.readouterr()
    every = [json.loads(line) for line in captured.out.splitlines()]
    units = {r["labels"]["unit_id"] for r in every}
    assert {"VN-22", "VN-40", "BCA"} <= units and len(units) > 80
    assert [r for r in every if r["labels"]["unit_id"] == "VN-22"] == shown
    assert left_out == (
        f"left out {len(every) - len(shown)} transitions of {len(units) - 1} other rostered units "
        "not in the replayed events (--all-units shows them)"
    )
    assert "left out" not in captured.err


def test_out_writes_the_same_transitions_as_the_terminal_shows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "one.jsonl"
    events.write_text(ONE_TASK, encoding="utf-8")
    out = tmp_path / "alerts.jsonl"
    assert main(["replay", str(events), "--until", "2024-09-01", "--out", str(out)]) == 0
    assert {json.loads(line)["labels"]["unit_id"] for line in out.read_text(encoding="utf-8").splitlines()} == {"VN-22"}
    assert "--all-units shows them" in capsys.readouterr().err
