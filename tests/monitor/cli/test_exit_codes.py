"""An operator's mistake is one line naming the setting, flag, file or address, and a documented exit status.

Each case runs the real command in a fresh process, as an operator would:
what matters is what reaches the terminal (no traceback, no aiokafka ERROR
lines) and the exit status (2 usage or configuration, 3 broker unreachable).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.cli import build_parser
from monitor.devtools.broker import free_port
from monitor.version import VERSION

UNREACHABLE = "kafka://127.0.0.1:1"  # nothing listens on port 1 of the loopback


def _run(
    args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")} | (env or {})
    if args[:1] == ["worker"] and "--web-port" not in args and "MONITOR_WEB_PORT" not in environment:
        # not the default port, which a running monitor may hold
        args = [*args, "--web-port", str(free_port())]
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
        cwd=cwd,
        check=False,
    )


def _problem_lines(stderr: str) -> list[str]:
    """Lines other than the routine INFO log lines a worker prints as it starts."""
    return [line for line in stderr.splitlines() if line.strip() and " INFO " not in line]


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.mark.parametrize(
    ("args", "env", "code", "names"),
    [
        (["worker"], {"MONITOR_WEB_PORT": "abc"}, 2, "MONITOR_WEB_PORT=abc"),
        (["worker"], {"MONITOR_WEB_PORT": "99999"}, 2, "MONITOR_WEB_PORT=99999"),
        (["worker"], {"MONITOR_PARTITIONS": "0"}, 2, "MONITOR_PARTITIONS=0"),
        (["worker", "--tick-interval", "-1"], {}, 2, "--tick-interval=-1.0"),
        (["worker"], {"MONITOR_BROKER": "http://127.0.0.1:9092"}, 2, "MONITOR_BROKER=http://127.0.0.1:9092"),
        (["worker"], {"MONITOR_KAFKA_SECURITY_PROTOCOL": "FOO"}, 2, "MONITOR_KAFKA_SECURITY_PROTOCOL=FOO"),
        (["worker", "--broker", UNREACHABLE], {}, 3, "127.0.0.1:1"),
        (["alerts", "tail", "--broker", UNREACHABLE], {}, 3, "127.0.0.1:1"),
    ],
    ids=[
        "port-not-a-number",
        "port-out-of-range",
        "no-partitions",
        "negative-tick",
        "http-broker-url",
        "unknown-security-protocol",
        "worker-unreachable-broker",
        "tail-unreachable-broker",
    ],
)
def test_a_mistake_is_one_line_and_an_exit_status(
    args: list[str], env: dict[str, str], code: int, names: str, tmp_path: Path
) -> None:
    done = _run(args, env, cwd=tmp_path)
    problems = _problem_lines(done.stderr)
    assert done.returncode == code, done.stderr
    assert len(problems) == 1, done.stderr
    assert problems[0].startswith("error: ") and names in problems[0]


def test_publish_to_an_unreachable_broker_is_one_line_and_status_3(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(
        '{"event_id":"e1","source":"s","unit_id":"VN-22","task_id":"t","kind":"task","status":"in_progress",'
        '"occurred_at":"2024-07-01T00:00:00+07:00"}\n',
        encoding="utf-8",
    )
    done = _run(["publish", str(events), "--broker", UNREACHABLE])
    assert done.returncode == 3, done.stderr
    errors = [line for line in done.stderr.splitlines() if "rror" in line or "Traceback" in line]
    assert errors == ["error: cannot reach the broker at 127.0.0.1:1 (--broker or MONITOR_BROKER): no broker answered"]


def test_a_data_directory_under_a_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("", encoding="utf-8")
    done = _run(["worker", "--broker", UNREACHABLE, "--data-dir", str(tmp_path / "afile" / "state")], cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert _problem_lines(done.stderr) == [
        f"error: data directory {tmp_path / 'afile' / 'state'} (--data-dir or MONITOR_DATA_DIR) cannot be created: "
        f"{tmp_path / 'afile'} is a file"
    ]


def test_a_web_port_in_use_is_named_before_anything_starts(taken_port: int, tmp_path: Path) -> None:
    done = _run(["worker", "--broker", UNREACHABLE, "--web-port", str(taken_port)], cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    problems = _problem_lines(done.stderr)
    assert len(problems) == 1 and f"HTTP port 127.0.0.1:{taken_port} is in use" in problems[0]


def test_replay_of_a_file_that_is_not_utf8_names_the_line_and_reads_the_rest(tmp_path: Path) -> None:
    recorded = tmp_path / "legacy.jsonl"
    good = (
        '{"event_id":"e1","source":"s","unit_id":"VN-22","task_id":"t","kind":"task","status":"in_progress",'
        '"deadline":"2024-07-01","occurred_at":"2024-06-01T00:00:00+07:00"}\n'
    )
    recorded.write_bytes(b'{"title": "H\xe0 N\xf4i"}\n' + good.encode())  # Windows-1258 bytes on line 1
    done = _run(["replay", str(recorded), "--until", "2024-07-10T00:00:00+07:00"])
    assert "Traceback" not in done.stderr
    assert f"skipped {recorded}:1: not UTF-8: byte 0xe0 at column 13" in done.stderr
    assert "replayed 1 events" in done.stderr


def test_version_flag_and_command_print_the_installed_version() -> None:
    assert _run(["--version"]).stdout.strip() == f"monitor {VERSION}"
    assert _run(["version"]).stdout.strip() == f"monitor {VERSION}"


def test_help_documents_every_exit_status() -> None:
    text = build_parser().format_help()
    for line in ("0  ok", "1  the work failed", "2  usage or configuration error", "3  cannot reach the broker"):
        assert line in text


def test_errors_show_no_credentials_of_a_broker_or_a_setting(tmp_path: Path) -> None:
    unreachable = _run(["worker", "--broker", "kafka://opsuser:s3cret@127.0.0.1:1"], cwd=tmp_path)
    assert unreachable.returncode == 3 and "s3cret" not in unreachable.stderr and "opsuser" not in unreachable.stderr
    assert "cannot reach the broker at 127.0.0.1:1" in unreachable.stderr
    misplaced = _run(
        ["worker"], {"MONITOR_FLUSH_INTERVAL": "https://ops:hunter2@hooks.example/x?token=abc"}, cwd=tmp_path
    )
    assert misplaced.returncode == 2 and "hunter2" not in misplaced.stderr and "token=abc" not in misplaced.stderr
    assert "MONITOR_FLUSH_INTERVAL=https://***@hooks.example/x?***" in misplaced.stderr
