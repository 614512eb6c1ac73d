"""The intake's loop: each batch of the lane handled in order; the checkpoint as soon as every record fetched is."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Histogram

import monitor.worker.intake
from monitor.turns import each_in_turns, records_first
from monitor.worker.intake import Intake
from monitor.worker.lane import Fetched


class _Done(BaseException):
    """The lane has no more fetches: the intake's loop ends (a worker's is cancelled at its stop)."""


class _Record(str):
    """A record as the lane hands it: a data topic's, at its offset, with a timestamp (none: its wait is not observed)."""

    topic = "t"
    value = b""
    timestamp = None
    offset = 0


class _Lane:
    """The lane as the fetch loop feeds it: each fetch's batches offered in a turn, fetches some time apart.

    What the intake does with each record is noted: handed over (``track``), acknowledged (``done``), let go
    (``left``); records of a rebalance (``stale``) are not to be handed over.
    """

    def __init__(self, *fetches: list[list[str]], stale: frozenset[str] = frozenset()) -> None:
        self._fetches = deque(fetches)
        self._queue: deque[Fetched] = deque()
        self.handing = False
        self.positions = SimpleNamespace(handing_over=lambda: self.handing)
        self.noted: list[str] = []
        self._stale = stale
        self._feeder: asyncio.Task[None] | None = None
        self._offset = 0

    def _record(self, name: str) -> _Record:
        record = _Record(name)
        record.offset, self._offset = self._offset, self._offset + 1
        return record

    async def _feed(self) -> None:
        while self._fetches:
            self.handing = True
            for batch in self._fetches.popleft():
                self._queue.append(Fetched(SimpleNamespace(topic="t", partition=0), [self._record(r) for r in batch]))
                await asyncio.sleep(0)  # the fetch loop's offer, one partition's batch at a time
            self.handing = False
            await asyncio.sleep(0.01)  # the next fetch

    async def take(self) -> Fetched:
        if self._feeder is None:
            self._feeder = asyncio.get_running_loop().create_task(self._feed())
        while not self._queue:
            if self._feeder.done():
                raise _Done
            await asyncio.sleep(0)
        return self._queue.popleft()

    def waiting(self) -> int:
        return len(self._queue)

    def may_hand(self, message: Any) -> bool:
        return not isinstance(message, str) or message not in self._stale

    def track(self, message: str) -> None:
        self.noted.append(f"track {message}")

    def done(self, message: str) -> None:
        self.noted.append(f"done {message}")

    def left(self, message: str) -> None:
        self.noted.append(f"left {message}")

    def heard(self, tp: Any) -> None:
        self.noted.append("heard")


class _Recorded(Intake):
    """The intake with each run's handling recorded (its records joined by ``+``), next to each checkpoint run when idle."""

    def __init__(self, log: list[str], lane: _Lane, fail: str | None = None) -> None:
        async def when_idle() -> None:
            log.append("checkpoint")

        self._between = asyncio.Lock()
        self._when_idle = when_idle
        self._log = log
        self._positions = lane.positions
        self._lane = None
        self._busy = False
        self._fail = fail
        self._record_wait = None
        self._ticks_topic = "compliance.ticks"

    async def handle_run(self, run: Sequence[Any]) -> None:
        if self._fail in run:
            raise RuntimeError("a fault outside the records' own handling")
        self._log.append("+".join(map(str, run)))
        await asyncio.sleep(0)  # a run's handling lets the loop turn (the store, the producer)


class _Together(Intake):
    """The intake's dispatch of a run: together as far as they may go (``_handle_together``), or alone (``handle``).

    A run with ``fault`` in it faults together; ``alone`` may not go with the records after it.
    """

    def __init__(self, log: list[str], *, fault: str | None = None, alone: frozenset[str] = frozenset()) -> None:
        self._log, self._fault, self._alone = log, fault, alone

    async def _handle_together(self, run: Sequence[Any]) -> int | None:
        self._log.append("together " + "+".join(run))
        if self._fault in run:
            return None
        return 0 if run[0] in self._alone else len(run)

    async def handle(self, message: Any) -> None:
        self._log.append(f"alone {message}")


async def test_after_a_fault_in_a_run_the_rest_goes_one_at_a_time_and_a_record_that_may_not_join_goes_alone() -> None:
    """Not the run tried again after each record: a fault in its last of 64 evaluated its records 2,000 times."""
    log: list[str] = []
    await _Together(log, fault="d").handle_run(["a", "b", "c", "d", "e"])
    assert log == ["together a+b+c+d+e", "alone a", "alone b", "alone c", "alone d", "alone e"]
    log.clear()
    await _Together(log, alone=frozenset({"a"})).handle_run(["a", "b", "c", "d", "e"])
    assert log == ["together a+b+c+d+e", "alone a", "together b+c+d+e"]


async def _run(intake: Intake, lane: _Lane) -> None:
    with pytest.raises(_Done):
        await intake.run(lane)  # type: ignore[arg-type]


async def test_a_record_that_comes_alone_is_checkpointed_at_once_and_a_burst_once_at_its_end() -> None:
    log: list[str] = []
    lane = _Lane([["a"]], [["b", "c"], ["d"]], [["e"]])
    await _run(_Recorded(log, lane), lane)
    assert log == ["a", "checkpoint", "b+c", "d", "checkpoint", "e", "checkpoint"]


async def test_each_record_is_tracked_while_handled_then_acknowledged_and_those_of_a_rebalance_are_not_handed() -> None:
    log: list[str] = []
    lane = _Lane([["a", "b", "c"]], stale=frozenset({"b"}))
    await _run(_Recorded(log, lane), lane)
    assert log == ["a", "c", "checkpoint"]
    assert lane.noted == ["track a", "done a", "track c", "done c", "heard"]


async def test_a_fault_ends_its_batch_there_and_lets_the_run_go_and_the_intake_goes_on() -> None:
    """The run and the rest of the batch are read again: a hole before the next record (``FetchGuard``)."""
    log: list[str] = []
    lane = _Lane([["a", "b", "c"]], [["d"]], stale=frozenset({"b"}))
    await _run(_Recorded(log, lane, fail="c"), lane)
    assert log == ["a", "checkpoint", "d", "checkpoint"]
    assert lane.noted == ["track a", "done a", "track c", "left c", "track d", "done d", "heard"]
    log.clear()
    lane = _Lane([["a", "b", "c"]], [["d"]])
    await _run(_Recorded(log, lane, fail="b"), lane)
    assert log == ["checkpoint", "d", "checkpoint"]
    assert lane.noted[:6] == ["track a", "track b", "track c", "left a", "left b", "left c"]


def test_a_run_is_consecutive_records_of_a_data_topic_within_its_bounds_and_a_tick_goes_alone() -> None:
    lane = _Lane(stale=frozenset({"s"}))
    intake = _Recorded([], lane)

    def records(*specs: tuple[str, int, int]) -> list[SimpleNamespace]:
        return [
            SimpleNamespace(name=n, topic="t" if n[0] != "k" else "compliance.ticks", offset=o, value=b"x" * size)
            for n, o, size in specs
        ]

    def runs(messages: list[SimpleNamespace]) -> list[list[str]]:
        found, at = [], 0
        while True:
            run, at = intake._next_run(lane, messages, at)  # type: ignore[arg-type]
            if not run:
                return found
            found.append([m.name for m in run])

    assert runs(records(("a", 0, 1), ("b", 1, 1), ("c", 3, 1), ("d", 4, 1))) == [["a", "b"], ["c", "d"]]
    assert runs(records(("a", 0, 1), ("k", 0, 1), ("b", 1, 1))) == [["a"], ["k"], ["b"]]
    big = monitor.worker.intake.RUN_BYTES // 2
    assert runs(records(("a", 0, big), ("b", 1, big), ("c", 2, 1))) == [["a", "b"], ["c"]]
    many = records(*((f"r{n}", n, 1) for n in range(monitor.worker.intake.RUN_RECORDS + 1)))
    assert [len(run) for run in runs(many)] == [monitor.worker.intake.RUN_RECORDS, 1]


async def test_other_work_waits_while_a_fetch_is_offered_and_its_records_handled() -> None:
    """``records_waiting`` holds from a fetch's first batch offered until its last record is handled: a slice of
    other work that pauses on it (``records_first``) never comes between two records of one fetch."""
    log: list[str] = []
    lane = _Lane([["a"], ["b"], ["c"]], [["d"], ["e"]])
    intake = _Recorded(log, lane)
    assert not intake.records_waiting(), "no intake running yet: nothing waits"
    running = asyncio.ensure_future(_run(intake, lane))
    other = asyncio.ensure_future(
        each_in_turns(
            range(1000),
            lambda n: log.append("slice"),
            size=1,
            pause=lambda: records_first(intake.records_waiting, lambda: 0.0),
        )
    )
    await running
    other.cancel()
    records = [n for n, entry in enumerate(log) if entry in "abcde"]
    assert log[records[0] : records[2] + 1] == ["a", "b", "c"], log[: records[2] + 2]
    assert log[records[3] : records[4] + 1] == ["d", "e"]
    assert "slice" in log[: records[0]] + log[records[2] : records[3]], "other work goes on between two fetches"


class _Busy(_Recorded):
    """Each record takes 0.2 ms and never waits on anything (an event applied in memory); ``seen`` notes ``turns()``."""

    def __init__(self, log: list[str], lane: _Lane, turns: Any) -> None:
        super().__init__(log, lane)
        self._turns = turns
        self.seen: list[int] = []

    async def handle_run(self, run: Sequence[Any]) -> None:
        time.sleep(0.0002 * len(run))
        self._log.extend(run)
        self.seen.append(self._turns())


async def test_a_long_batch_of_records_that_never_wait_still_lets_the_event_loop_turn() -> None:
    log: list[str] = []
    lane = _Lane([[f"r{n}" for n in range(4 * monitor.worker.intake.RUN_RECORDS)]])
    turns = 0

    async def other_work() -> None:  # the web server, the followers, the timers
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    other = asyncio.ensure_future(other_work())
    intake = _Busy(log, lane, lambda: turns)
    await _run(intake, lane)
    other.cancel()
    assert len(log) == 4 * monitor.worker.intake.RUN_RECORDS + 1  # the records, then the checkpoint
    assert len(intake.seen) == 4, "four runs"
    assert intake.seen[-1] - intake.seen[0] >= 3, "a run's 13 ms of records: a turn after each"


async def test_each_record_s_wait_from_its_timestamp_to_its_handling_is_observed_by_topic() -> None:
    registry = CollectorRegistry()
    waits = Histogram("waits", "", ["topic"], buckets=(0.5, 2.0, 10.0), registry=registry)
    now = time.time()
    sent = [
        SimpleNamespace(topic="compliance.ticks", timestamp=at, offset=offset, value=b"")
        for offset, at in enumerate((now - 1.0, now - 5.0, None))
    ]
    lane = _Lane([[]])
    intake = _Recorded([], lane)
    intake._record_wait = waits
    await intake._handle_batch(lane, Fetched(SimpleNamespace(topic="compliance.ticks", partition=0), sent))  # type: ignore[arg-type]
    observed = {
        b: registry.get_sample_value("waits_bucket", {"topic": "compliance.ticks", "le": b})
        for b in ("0.5", "2.0", "10.0")
    }
    assert observed == {"0.5": 0, "2.0": 1, "10.0": 2}, "a record without a timestamp is not observed"
