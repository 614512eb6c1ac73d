"""The outbox over faust's producer: a send nobody waits for that fails is no 'exception never retrieved'."""

from __future__ import annotations

import asyncio
import gc
from types import SimpleNamespace
from typing import Any

from monitor.exceptions import Fenced
from monitor.kafka.topics import Topics
from monitor.worker.outbox import FaustOutbox


class _Producer:
    """faust's producer as the outbox uses it: ``send`` hands back the record's future, settled later."""

    def __init__(self) -> None:
        self.futures: list[asyncio.Future[Any]] = []
        self.sent: list[tuple[Any, ...]] = []

    async def send(self, *args: Any) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.futures.append(future)
        self.sent.append(args)
        return future


async def _scenario() -> tuple[list[dict[str, Any]], BaseException | None]:
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: reported.append(context))
    producer = _Producer()
    outbox = FaustOutbox(SimpleNamespace(producer=producer), Topics())
    await outbox.tick("compliance.ticks", 1, b"{}")  # nobody waits for a tick
    unwaited = await outbox._send("compliance.dead-letter", b"key", b"{}")
    waited = await outbox._send("compliance.alerts", b"fp", b"{}")
    assert producer.sent[0][:4] == ("compliance.ticks", b"tick", b"{}", 1), "a tick goes to its own partition"
    for future in producer.futures:
        future.set_exception(Fenced("this worker lost its group membership"))
    try:
        await waited
        told: BaseException | None = None
    except Fenced as exc:
        told = exc
    del unwaited, waited
    producer.futures.clear()
    await asyncio.sleep(0)
    gc.collect()
    await asyncio.sleep(0)
    return reported, told


def test_a_failed_send_is_told_to_whoever_waits_and_logged_for_none_that_does_not() -> None:
    reported, told = asyncio.run(_scenario())
    assert isinstance(told, Fenced), "the one waiting for its send hears why it failed"
    assert reported == [], f"no 'exception was never retrieved' for the send nobody waited for: {reported}"
