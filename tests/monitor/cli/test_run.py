"""What the banner of ``monitor up`` tells a user to type: commands that work in their shell, periods of today."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest

from monitor.cli.run import _announce_when_ready, example_periods, program_name

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


class _Starting:
    """A worker whose partitions are read and whose topics the API answers from are read one after the other."""

    def __init__(self) -> None:
        from monitor.kafka.topics import Topics

        self.topics = Topics()
        self.alerts_topic, self.operators, self.silences = (SimpleNamespace(current=False) for _ in range(3))

    def is_ready(self) -> bool:
        return True

    def problems(self) -> dict[str, str]:
        return {}


async def test_the_banner_waits_until_the_api_answers_every_request(capsys: pytest.CaptureFixture[str]) -> None:
    """Its partitions read, a worker still answers 503 until it has read the actions topic: not ready, as /readyz."""
    worker = _Starting()
    announcing = asyncio.ensure_future(_announce_when_ready(worker, "banner", poll=0.01))  # type: ignore[arg-type]
    for view in (worker.alerts_topic, worker.operators, worker.silences):
        await asyncio.sleep(0.05)
        assert not announcing.done() and capsys.readouterr().out == ""
        view.current = True
    await asyncio.wait_for(announcing, 1)
    assert capsys.readouterr().out == "banner\n"


async def test_a_banner_printed_before_the_worker_is_ready_says_what_it_still_reads(
    caplog: pytest.LogCaptureFixture,
) -> None:
    worker = _Starting()
    await _announce_when_ready(worker, "banner", patience=0.02, poll=0.01)  # type: ignore[arg-type]
    assert "still reading compliance.alerts, compliance.actions, compliance.silences" in caplog.text
