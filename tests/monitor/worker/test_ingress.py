"""What the worker holds fetched and not yet handled is bounded in bytes, not only in faust's 4,096 records.

With a backlog on the broker (a bulk load of records of 500 dossiers, about
115 KiB each), faust's queue took in every record fetched up to 3,276 of
them before it paused a partition: 112 MB held at 100,000 of 600,000
dossiers processed, and kept resident by the allocator once handled.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

from monitor.settings import Settings
from monitor.worker.ingress import BUFFER_BYTES, ByteBoundQueue
from monitor.worker.worker import Worker
from rules.loading import BUNDLED_PACK, load_pack

MiB = 1024 * 1024


def _event(size: int) -> SimpleNamespace:
    """An event as faust's conductor queues it: its record as fetched."""
    return SimpleNamespace(message=SimpleNamespace(key=b"VN-22", value=b"x" * size), value=b"x" * size)


def test_the_agents_queue_is_full_once_it_holds_its_bytes_of_records(tmp_path: Path) -> None:
    loop = asyncio.new_event_loop()  # the app's services take the current loop: one the test closes
    asyncio.set_event_loop(loop)
    try:
        worker = Worker(Settings(data_dir=tmp_path), load_pack([BUNDLED_PACK]))
        (agent,) = worker.app.agents.values()
        queue = agent.channel.clone(is_iterator=True).queue  # what the agent's stream reads from
        worker.app.flow_control.resume()  # as once the partitions are assigned
        records = BUFFER_BYTES // MiB
        for _ in range(records):
            assert not queue.full()
            queue.put_nowait(_event(MiB - 5))
        assert queue.full() and queue.qsize() == records < worker.app.conf.stream_buffer_maxsize
        assert isinstance(queue, ByteBoundQueue)

        async def one_more() -> None:  # the conductor's way with a full queue: it waits for the agent
            waiting = asyncio.ensure_future(queue.put(_event(MiB - 5)))
            await asyncio.sleep(0.01)
            assert not waiting.done()
            queue.get_nowait()
            await asyncio.wait_for(waiting, 1)

        loop.run_until_complete(one_more())
        assert queue.full() and queue.bytes == BUFFER_BYTES
        queue.clear()  # a rebalance
        assert queue.bytes == 0 and not queue.full()
        worker.app.consumer._thread.thread_loop.close()  # type: ignore[attr-defined]
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def test_a_record_larger_than_the_bound_enters_an_empty_queue_alone() -> None:
    loop = asyncio.new_event_loop()
    try:
        flow = SimpleNamespace(acquire=lambda: asyncio.sleep(0), manage_queue=lambda queue: None)
        queue = ByteBoundQueue(MiB, maxsize=4096, flow_control=flow)

        async def fill() -> None:
            await queue.put(_event(3 * MiB))
            assert queue.full()
            queue.get_nowait()
            assert queue.bytes == 0 and not queue.full()

        loop.run_until_complete(fill())
    finally:
        loop.close()
