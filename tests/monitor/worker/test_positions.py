"""The consumer's positions asked with a time limit: a stop that comes as the answer does is not lost."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from monitor.kafka.topics import Topics
from monitor.worker.fetch_guard import Partition
from monitor.worker.positions import ConsumerPositions


def _positions(consumer: Any) -> ConsumerPositions:
    return ConsumerPositions(SimpleNamespace(consumer=consumer), Topics())  # type: ignore[arg-type]


@pytest.mark.parametrize("ask", ["position", "end_offset"])
async def test_a_cancellation_that_arrives_with_the_answer_still_cancels(ask: str) -> None:
    # Python 3.11's asyncio.wait_for returned the answer and dropped the cancellation when both came in the same
    # turn of the loop: the fetch guard's loop then went on checking, and its stop waited 2 s for nothing.
    answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    consumer = SimpleNamespace(position=lambda tp: answer, highwaters=lambda tp: answer)
    asking = asyncio.ensure_future(getattr(_positions(consumer), ask)(Partition("t", 0)))
    await asyncio.sleep(0)  # it waits for the consumer
    answer.set_result(7 if ask == "position" else {"tp": 7})
    asking.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asking


async def test_an_answer_comes_back_within_the_limit() -> None:
    async def position(tp: object) -> int:
        return 42

    assert await _positions(SimpleNamespace(position=position)).position(Partition("t", 0)) == 42
