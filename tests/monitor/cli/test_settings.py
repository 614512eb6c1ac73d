"""A bad setting is an operator's mistake: one line naming it, a non-zero exit, no traceback."""

from __future__ import annotations

import pytest

from monitor.cli import main


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
