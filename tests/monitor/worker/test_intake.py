"""The intake's loop: the checkpoint runs as soon as every record fetched is handled."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

from monitor.turns import each_in_turns, records_first
from monitor.worker.intake import Intake


class _Fetched:
    """An agent's stream: records arrive in fetches; those fetched and not yet handed over wait in its queue."""

    def __init__(self, *fetches: list[str]) -> None:
        self._fetches = deque(fetches)
        self._queue: deque[str] = deque()
        self.channel = SimpleNamespace(queue=SimpleNamespace(qsize=lambda: len(self._queue)))

    async def events(self) -> AsyncIterator[Any]:
        while self._queue or self._fetches:
            if not self._queue:
                self._queue.extend(self._fetches.popleft())
            yield SimpleNamespace(message=self._queue.popleft())


class _Recorded(Intake):
    """The intake with each record's handling recorded, next to each checkpoint run when idle."""

    def __init__(self, log: list[str], positions: Any = None) -> None:
        async def when_idle() -> None:
            log.append("checkpoint")

        self._between = asyncio.Lock()
        self._when_idle = when_idle
        self._log = log
        self._positions = positions or SimpleNamespace(handing_over=lambda: False)

    async def handle(self, message: Any) -> None:
        self._log.append(message)


async def test_a_record_that_comes_alone_is_checkpointed_at_once_and_a_burst_once_at_its_end() -> None:
    log: list[str] = []
    await _Recorded(log).process(_Fetched(["a"], ["b", "c", "d"], ["e"]))
    assert log == ["a", "checkpoint", "b", "c", "d", "checkpoint", "e", "checkpoint"]


class _HandedOver:
    """An agent's stream fed as faust feeds it: a fetch's records handed over one per turn of the event loop."""

    def __init__(self, *fetches: list[str]) -> None:
        self._fetches = deque(fetches)
        self._queue: deque[str] = deque()
        self.channel = SimpleNamespace(queue=SimpleNamespace(qsize=lambda: len(self._queue)))
        self.positions = SimpleNamespace(handing_over=lambda: self._handing)
        self._handing = False

    async def _hand_over(self) -> None:
        while self._fetches:
            self._handing = True
            for record in self._fetches.popleft():
                self._queue.append(record)
                for _ in range(2):  # faust's drain loop waits on each delivery
                    await asyncio.sleep(0)
            self._handing = False
            await asyncio.sleep(0.01)  # the next fetch

    async def events(self) -> AsyncIterator[Any]:
        feeder = asyncio.get_running_loop().create_task(self._hand_over())
        while not feeder.done() or self._queue:
            if self._queue:
                yield SimpleNamespace(message=self._queue.popleft())
            else:
                await asyncio.sleep(0)
        await feeder


async def test_records_of_one_fetch_handed_over_one_at_a_time_share_one_checkpoint() -> None:
    log: list[str] = []
    stream = _HandedOver(["a", "b", "c"], ["d"])
    await _Recorded(log, stream.positions).process(stream)
    assert log == ["a", "b", "c", "checkpoint", "d", "checkpoint"]


async def test_other_work_waits_while_a_fetch_is_handed_over_and_its_records_queued() -> None:
    """``records_waiting`` holds from a fetch's first record handed over until its last is handled: a slice of
    other work that pauses on it (``records_first``) never comes between two records of one fetch."""
    log: list[str] = []
    stream = _HandedOver(["a", "b", "c"], ["d", "e"])
    intake = _Recorded(log, stream.positions)
    intake._stream = None
    assert not intake.records_waiting(), "no agent yet: nothing waits"
    agent = asyncio.ensure_future(intake.process(stream))
    other = asyncio.ensure_future(
        each_in_turns(
            range(1000),
            lambda n: log.append("slice"),
            size=1,
            pause=lambda: records_first(intake.records_waiting, lambda: 0.0),
        )
    )
    await agent
    other.cancel()
    records = [n for n, entry in enumerate(log) if entry in "abcde"]
    assert log[records[0] : records[2] + 1] == ["a", "b", "c"], log[: records[2] + 2]
    assert log[records[3] : records[4] + 1] == ["d", "e"]
    assert "slice" in log[: records[0]] + log[records[2] : records[3]], "other work goes on between two fetches"
