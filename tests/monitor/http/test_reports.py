"""A worker's part of a review report: every task counted, the event loop turning while they are."""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import Awaitable, Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

import msgspec

from events.models import TaskStatus
from monitor.actions import ActionBook, AlertAction
from monitor.http.reports import decode_scorecards, local_scorecards, notified_of, response_of, scorecards_answer
from monitor.notifications import Delivery
from monitor.report import report_of
from monitor.state.deliveries import DeliveryLog
from monitor.state.history import AlertHistory, HistoryRecord
from monitor.turns import SLICE, one_turn, records_first
from rules.engine import apply_event, seed
from rules.language import RulePack
from rules.loading import BUNDLED_PACK, load_pack
from rules.review import DeadlineOutcome, UnitScorecard, parse_period, scorecard
from rules.review.deadlines import order
from rules.state import AlertTransition, TaskMap, TaskState, UnitState, identity_fingerprint
from tests.conftest import vn
from tests.monitor.test_turns import _Agent
from tests.rules.fixtures import task

BUNDLED = load_pack([BUNDLED_PACK])
NOW = vn(2024, 10, 2, 9)
TASKS = 3 * SLICE + 17
R = TypeVar("R")


class _Read(TaskMap):
    """The unit's tasks in memory, counting those read."""

    read = 0

    def values(self) -> Iterator[TaskState]:  # type: ignore[override]
        for value in super().values():
            self.read += 1
            yield value


class _Indexed(_Read):
    """Tasks in memory that find those due in a span without reading every one (as a worker's store does)."""

    def due_within(self, first: float, last: float) -> Iterator[TaskState]:
        return (t for t in dict.values(self) if first <= (t.indexed_due() or math.nan) <= last)


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


def _card(state: UnitState) -> UnitScorecard:
    """Nghệ An's scorecard of the third quarter, counted in one go."""
    return scorecard(BUNDLED, "VN-22", state, (), parse_period("2024-Q3").bounds(BUNDLED.tz), NOW)


def _worker(pack: RulePack, state: UnitState, history: AlertHistory) -> Any:
    return SimpleNamespace(
        pack=pack,
        settings=SimpleNamespace(partitions=1),
        owned_states=lambda: [state],
        alerts_topic=SimpleNamespace(history_state=lambda: (history, None)),
        yield_to_records=one_turn,
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


def test_an_event_after_the_judging_instant_that_comes_in_while_a_report_counts_has_it_read_no_more_tasks(
    tmp_path: Path,
) -> None:
    """Each unit's newest task report is taken before the report's first turn of the loop: an event that happens
    after the judging instant and is handled meanwhile does not make it read all of the unit's tasks to find the
    unit's last report before that instant (with events every second, it would read them for every unit)."""
    state = _nghe_an()
    tasks = _Indexed(state.tasks)
    state.tasks = tasks
    after = TaskState.from_event(task(vn(2024, 10, 1, 12), unit="VN-22", task_id="NV-new", deadline=date(2024, 11, 1)))
    pure = scorecard(BUNDLED, "VN-22", state, (), parse_period("2024-Q3").bounds(BUNDLED.tz), NOW)
    tasks.read = 0

    async def report_while_an_event_comes() -> list[Any]:
        worker = _worker(BUNDLED, state, AlertHistory(tmp_path / "h.sqlite3"))
        counting = asyncio.get_running_loop().create_task(local_scorecards(worker, {0}, parse_period("2024-Q3"), NOW))
        await asyncio.sleep(0)  # the report has begun, and waits for the warnings read in a thread
        assert not counting.done()
        state.put_task(after)
        cards = await counting
        assert isinstance(cards, list)
        return cards

    cards = asyncio.run(report_while_an_event_comes())
    assert tasks.read == 0, "no pass over every task"
    assert next(c for c in cards if c.unit_id == "VN-22") == pure


async def _counted_in_turns(work: Awaitable[R], counted: Callable[[], int]) -> tuple[R, list[int]]:
    """``work``'s result, and what ``counted`` said at each turn of the event loop while it was done."""
    seen: list[int] = []

    async def turns() -> None:
        while True:
            seen.append(counted())
            await asyncio.sleep(0)

    watcher = asyncio.get_running_loop().create_task(turns())
    await asyncio.sleep(0)
    try:
        done = await work
    finally:
        watcher.cancel()
    seen.append(counted())
    return done, seen


def _began(n: int) -> AlertTransition:
    """Alert ``n`` of Nghệ An, begun in the third quarter of 2024 (every third one already resolved)."""
    started = vn(2024, 7, 2) + timedelta(hours=n)
    resolved = n % 3 == 0
    return AlertTransition(
        fingerprint=f"{n:016x}",
        status="resolved" if resolved else "firing",
        stage="overdue",
        rule_id="task-overdue",
        severity="critical",
        labels={"unit_id": "VN-22", "task_id": f"NV-{n}", "alertname": "task-overdue"},
        annotations={"summary": f"NV-{n}"},
        starts_at=started,
        ends_at=started + timedelta(days=1) if resolved else None,
        event_ids=[f"e{n}"],
        rule_version="v1",
    )


def test_the_response_figures_count_every_alert_begun_and_the_loop_turns_at_least_every_slice(tmp_path: Path) -> None:
    history = AlertHistory(tmp_path / "h.sqlite3")
    began = [_began(n) for n in range(TASKS)]
    history.append([HistoryRecord(0, n, 0, t.model_dump_json().encode()) for n, t in enumerate(began)])
    book = ActionBook()
    asked: list[str] = []

    def actions(fingerprint: str, starts_at: datetime) -> tuple[AlertAction, ...]:
        asked.append(fingerprint)
        return book.actions(fingerprint, starts_at)

    operators = SimpleNamespace(current=True, book=SimpleNamespace(actions=actions))
    worker = SimpleNamespace(
        alerts_topic=SimpleNamespace(history_state=lambda: (history, None)),
        operators=operators,
        yield_to_records=one_turn,
    )
    report = report_of(BUNDLED, parse_period("2024-Q3"), [_card(_nghe_an())], NOW)
    rows, seen = asyncio.run(_counted_in_turns(response_of(worker, report), lambda: len(asked)))
    assert seen[-1] == TASKS and sorted(asked) == sorted(t.fingerprint for t in began), "every alert counted once"
    steps = [b - a for a, b in itertools.pairwise(seen)]
    assert max(steps) <= SLICE, f"at most {SLICE} alerts between two turns of the loop, not {max(steps)}"
    assert rows is not None
    every = {r.severity: r for r in rows if r.unit_id == ""}["critical"]
    assert (every.alerts, every.ended) == (TASKS, len(range(0, TASKS, 3)))


def test_the_notifications_of_every_late_deadline_are_found_and_the_loop_turns_while_they_are(tmp_path: Path) -> None:
    card = _card(_nghe_an())
    told = [d for d in card.deadlines if d.outcome in (DeadlineOutcome.LATE, DeadlineOutcome.OVERDUE)]
    assert len(told) > 2 * SLICE
    report = report_of(BUNDLED, parse_period("2024-Q3"), [card], NOW)
    judged = report.judged_at
    ledger = DeliveryLog(tmp_path / "d.sqlite3")
    expected: dict[tuple[str, str, str], int] = {}
    deliveries = []
    for n, deadline in enumerate(told):
        fingerprint = identity_fingerprint(deadline.rule_id, "VN-22", "task_id", deadline.task_id or "")
        attempts = [("failed", judged - timedelta(hours=2)), ("delivered", judged - timedelta(hours=1))]
        if n % 4 == 0:  # taken only after the instant the report judges: not notified yet
            attempts = [("delivered", judged + timedelta(hours=1))]
        for attempt, (outcome, at) in enumerate(attempts, start=1):
            deliveries.append(
                Delivery(
                    fingerprint=fingerprint,
                    unit_id="VN-22",
                    starts_at=vn(2024, 7, 2),
                    status="firing",
                    stage="overdue",
                    severity="critical",
                    sink="alertmanager",
                    attempt=attempt,
                    at=at,
                    outcome=outcome,  # type: ignore[arg-type]
                )
            )
        if n % 4:
            expected[("VN-22", deadline.rule_id, deadline.task_id or "")] = 2
    ledger.add(deliveries, {0: len(deliveries)})
    worker = SimpleNamespace(deliveries=ledger, yield_to_records=one_turn)
    notified, seen = asyncio.run(_counted_in_turns(notified_of(worker, report), lambda: 0))
    assert {key: d.attempt for key, d in notified.items()} == expected, "the first attempt a peer took, by then"
    assert len(seen) - 1 >= len(told) // SLICE, f"the loop turned {len(seen) - 1} times over {len(told)} deadlines"


class _Queued(_Read):
    """The unit's tasks, noting how many records waited for the agent at each task read."""

    def __init__(self, tasks: TaskMap, agent: _Agent) -> None:
        super().__init__(tasks)
        self.agent = agent
        self.queued: list[int] = []

    def values(self) -> Iterator[TaskState]:  # type: ignore[override]
        for value in super().values():
            self.queued.append(self.agent.queued)
            yield value


def test_a_report_counts_no_task_while_records_wait_for_the_agent(tmp_path: Path) -> None:
    """Between two slices the report lets the records queued for the agent be handled first (``records_first``):
    a second's records, sent together, do not each wait for a slice of the report."""
    agent = _Agent(lumps=30, every=40)
    state = _nghe_an()
    tasks = _Queued(state.tasks, agent)
    state.tasks = tasks
    worker = _worker(BUNDLED, state, AlertHistory(tmp_path / "h.sqlite3"))
    worker.yield_to_records = lambda: records_first(agent.waiting, agent.clock)

    async def report() -> list[UnitScorecard]:
        counting = asyncio.ensure_future(local_scorecards(worker, {0}, parse_period("2024-Q3"), NOW))
        await asyncio.gather(counting, agent.run(counting))
        cards = counting.result()
        assert isinstance(cards, list)
        return cards

    cards = asyncio.run(report())
    assert len(tasks.queued) == TASKS
    assert set(tasks.queued) == {0}, f"{sum(1 for q in tasks.queued if q)} tasks read while records waited"
    assert agent.turns > TASKS // SLICE * 30, "records came in lumps while the report counted"
    card = next(c for c in cards if c.unit_id == "VN-22")
    assert card == scorecard(BUNDLED, "VN-22", state, (), parse_period("2024-Q3").bounds(BUNDLED.tz), NOW)


def test_scorecards_go_between_workers_a_line_each_and_are_read_a_line_a_turn(tmp_path: Path) -> None:
    """A quarter's deadlines are megabytes of JSON: encoded or decoded in one piece they held the loop (60 ms at
    14,000 deadlines in ``make soak``). A worker of an earlier version asks without ``lines`` and gets an array."""
    state = _nghe_an()
    worker = _worker(BUNDLED, state, AlertHistory(tmp_path / "h.sqlite3"))
    worker.answers_for = lambda partition: True
    asked = {"partitions": "0", "period": "2024-Q3", "now": NOW.isoformat()}
    paused: list[int] = []

    async def pause() -> None:
        paused.append(len(paused))
        await asyncio.sleep(0)

    async def exchange() -> tuple[Any, Any, list[UnitScorecard], list[UnitScorecard]]:
        lines = await scorecards_answer(worker, asked | {"lines": "1"})
        array = await scorecards_answer(worker, asked)
        return lines, array, await decode_scorecards(lines.body, pause), await decode_scorecards(array.body, pause)

    lines, array, from_lines, from_array = asyncio.run(exchange())
    assert lines.status == 200 and lines.content_type == "application/x-ndjson"
    cards = [msgspec.json.decode(line, type=UnitScorecard) for line in lines.body.split(b"\n")]
    assert len(cards) > 1 and len(paused) == len(cards), "a line per unit, a pause after each read"
    assert from_lines == cards == from_array, "the same scorecards either way"
    assert array.body.startswith(b"[") and array.content_type == "application/json"
    nghe_an = next(c for c in from_lines if c.unit_id == "VN-22")
    assert nghe_an == _card(state)


def test_a_page_s_scorecards_go_between_workers_with_their_counts_and_only_the_deadlines_it_shows(
    tmp_path: Path,
) -> None:
    """A worker making a page asks ``shown``: each scorecard comes with its counts and its first deadlines only."""
    state = _nghe_an()
    worker = _worker(BUNDLED, state, AlertHistory(tmp_path / "h.sqlite3"))
    worker.answers_for = lambda partition: True
    asked = {"partitions": "0", "period": "2024-Q3", "now": NOW.isoformat(), "lines": "1"}

    async def exchange() -> tuple[Any, Any, list[UnitScorecard]]:
        refused = [await scorecards_answer(worker, asked | {"shown": s}) for s in ("-1", "²", "9" * 5000)]
        answer = await scorecards_answer(worker, asked | {"shown": "7"})
        return refused, answer, await decode_scorecards(answer.body)

    refused, answer, cards = asyncio.run(exchange())
    assert all(r.status == 400 and b"shown must be a whole number" in r.body for r in refused)
    page = next(c for c in cards if c.unit_id == "VN-22")
    every = _card(state)
    assert page.counts == every.counted() and page.shown == 7
    assert every.count(DeadlineOutcome.OVERDUE) > 7 and every.count(DeadlineOutcome.LATE) > 7
    first = every.first(DeadlineOutcome.OVERDUE, 7) + every.first(DeadlineOutcome.LATE, 7)
    assert page.deadlines == tuple(sorted(first, key=order))
    assert (page.warnings, page.lateness, page.score) == (every.warnings, every.lateness, every.score)
    (line,) = [line for line in answer.body.split(b"\n") if b'"VN-22"' in line[:40]]
    assert len(line) < 10_000 < len(msgspec.json.encode(every)), "kilobytes, not a quarter's deadlines"
