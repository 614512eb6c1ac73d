"""A bad setting is an operator's mistake: one line naming it, a non-zero exit, no traceback."""

from __future__ import annotations

import pytest

from monitor.cli import build_parser, main
from monitor.cli.common import settings_from


def test_a_bad_environment_setting_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MONITOR_FLUSH_INTERVAL", "0")
    assert main(["worker", "--broker", "kafka://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "error: MONITOR_FLUSH_INTERVAL=0: Input should be greater than 0"


def test_a_bad_flag_names_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["worker", "--broker", "kafka://127.0.0.1:1", "--tick-interval", "-3"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("error: --tick-interval=-3.0: ")


@pytest.mark.parametrize(
    ("argv", "env", "level"),
    [
        ([], None, "warning"),  # faust's chatter held back by default
        (["--log-level", "INFO"], None, "info"),
        ([], "Debug", "debug"),
        (["--log-level", "error"], "debug", "error"),  # the flag wins over the environment
    ],
)
def test_the_worker_log_level_comes_from_the_flag_or_the_environment(
    argv: list[str], env: str | None, level: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MONITOR_LOG_LEVEL", raising=False)
    if env is not None:
        monkeypatch.setenv("MONITOR_LOG_LEVEL", env)
    args = build_parser().parse_args(["worker", *argv])
    assert settings_from(args).log_level == level


def test_verbose_means_debug_for_a_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MONITOR_LOG_LEVEL", raising=False)
    assert settings_from(build_parser().parse_args(["-v", "worker"])).log_level == "debug"


def test_an_unknown_log_level_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MONITOR_LOG_LEVEL", "loud")
    assert main(["worker", "--broker", "kafka://127.0.0.1:1"]) == 2
    assert capsys.readouterr().err.startswith("error: MONITOR_LOG_LEVEL=loud: Input should be 'debug', 'info'")


def test_a_bad_alertmanager_url_is_refused_before_anything_starts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MONITOR_ALERTMANAGER_URL", "http://am:9093,am2=http://ops:pw@am2:99999/?token=s3cret")
    assert main(["worker", "--broker", "kafka://127.0.0.1:1"]) == 2  # refused before the broker is asked
    err = capsys.readouterr().err
    assert err.strip() == (
        "error: MONITOR_ALERTMANAGER_URL=http://am:9093,am2=http://***@am2:99999/?***: "
        "entry 2 (http://***@am2:99999/?***): not a URL (Port out of range 0-65535); "
        "write http(s)://host[:port][/path] or NAME=URL"
    )
