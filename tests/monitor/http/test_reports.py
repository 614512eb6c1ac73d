"""A worker's part of a review report: every task counted, the event loop turning while they are."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from events.models import TaskStatus
from monitor.http.reports import local_scorecards
from monitor.http.turns import SLICE
from monitor.state.history import AlertHistory
from rules.engine import apply_event, seed
from rules.language import RulePack
from rules.loading import BUNDLED_PACK, load_pack
from rules.review import DeadlineOutcome, parse_period, scorecard
from rules.state import TaskMap, TaskState, UnitState
from tests.conftest import vn
from tests.rules.fixtures import task

BUNDLED = load_pack([BUNDLED_PACK])
NOW = vn(2024, 10, 2, 9)
TASKS = 3 * SLICE + 17


class _Read(TaskMap):
    """The unit's tasks in memory, counting those read."""

    read = 0

    def values(self) -> Iterator[TaskState]:  # type: ignore[override]
        for value in super().values():
            self.read += 1
            yield value


def _nghe_an() -> UnitState:
    """Nghệ An with ``TASKS`` tasks due in the third quarter: a third completed on time, a third late, a third open."""
    state = seed(BUNDLED, "VN-22", NOW).state
    for n in range(TASKS):
        due = date(2024, 7, 1) + timedelta(days=n % 80)
        opened = task(vn(2024, 6, 20), unit="VN-22", task_id=f"NV-{n}", deadline=due)
        state = apply_event(BUNDLED, state, opened, NOW).state
        if n % 3 < 2:
            done = vn(due.year, due.month, due.day) + timedelta(days=-1 if n % 3 == 0 else 2)
            completed = task(done, TaskStatus.COMPLETED, unit="VN-22", task_id=f"NV-{n}", deadline=due)
            state = apply_event(BUNDLED, state, completed, NOW).state
    return state


def _worker(pack: RulePack, state: UnitState, history: AlertHistory) -> Any:
    return SimpleNamespace(
        pack=pack,
        settings=SimpleNamespace(partitions=1),
        owned_states=lambda: [state],
        alerts_topic=SimpleNamespace(history_state=lambda: (history, None)),
    )


async def _report(state: UnitState, history: AlertHistory) -> tuple[list[Any], list[int]]:
    tasks = state.tasks
    assert isinstance(tasks, _Read)
    seen: list[int] = []  # tasks read so far, at each turn of the event loop

    async def turns() -> None:
        while True:
            seen.append(tasks.read)
            await asyncio.sleep(0)

    watcher = asyncio.get_running_loop().create_task(turns())
    await asyncio.sleep(0)
    try:
        cards = await local_scorecards(_worker(BUNDLED, state, history), {0}, parse_period("2024-Q3"), NOW)
    finally:
        watcher.cancel()
    assert isinstance(cards, list)
    return cards, seen


def test_a_report_counts_every_task_and_the_event_loop_turns_at_least_every_slice(tmp_path: Path) -> None:
    state = _nghe_an()
    state.tasks = _Read(state.tasks)
    cards, seen = asyncio.run(_report(state, AlertHistory(tmp_path / "h.sqlite3")))
    steps = [b - a for a, b in itertools.pairwise(seen)]
    assert seen[-1] == TASKS, "every task counted once, in one pass"
    assert max(steps) <= SLICE, f"at most {SLICE} tasks between two turns of the loop, not {max(steps)}"
    card = next(c for c in cards if c.unit_id == "VN-22")
    pure = scorecard(BUNDLED, "VN-22", state, (), parse_period("2024-Q3").bounds(BUNDLED.tz), NOW)
    assert card == pure, "the same scorecard as counted in one go"
    counted = {outcome: card.count(outcome) for outcome in DeadlineOutcome}
    assert counted[DeadlineOutcome.ON_TIME] > 0 and counted[DeadlineOutcome.LATE] > 0
    assert counted[DeadlineOutcome.OVERDUE] > 0
