"""What the banner of ``monitor up`` tells a user to type: commands that work in their shell, periods of today."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from monitor.cli.run import example_periods, program_name

REPO = Path("/home/user/monitor")


@pytest.mark.parametrize(
    ("argv0", "on_path", "shown"),
    [
        (".venv/bin/monitor", None, ".venv/bin/monitor"),  # make run, in a shell without the venv
        (".venv/bin/monitor", str(REPO / ".venv/bin/monitor"), "monitor"),  # the venv is activated
        ("/usr/local/bin/monitor", "/usr/local/bin/monitor", "monitor"),
        ("/opt/monitor/bin/monitor", "/usr/local/bin/monitor", "/opt/monitor/bin/monitor"),  # PATH finds another
    ],
)
def test_the_banner_names_monitor_as_the_user_s_shell_finds_it(argv0: str, on_path: str | None, shown: str) -> None:
    assert program_name(argv0, REPO, on_path) == shown


@pytest.mark.parametrize(
    ("today", "shown"),
    [(date(2026, 12, 4), "2026-Q3, 2026-11, 2026"), (date(2027, 1, 3), "2026-Q4, 2026-12, 2027")],
)
def test_the_banner_s_example_periods_are_around_today(today: date, shown: str) -> None:
    assert example_periods(today) == shown
