"""What the worker holds fetched and not yet handled is bounded in bytes, not only in faust's 4,096 records.

With a backlog on the broker (a bulk load of records of 500 dossiers, about
115 KiB each), faust's queue took in every record fetched up to 3,276 of
them before it paused a partition: 112 MB held at 100,000 of 600,000
dossiers processed, and kept resident by the allocator once handled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types.tuples import TP, Message

from monitor.settings import Settings
from monitor.worker.ingress import BUFFER_BYTES, ByteBoundQueue
from monitor.worker.lane import Fetched
from monitor.worker.worker import Worker
from rules.loading import BUNDLED_PACK, load_pack

MiB = 1024 * 1024
PARTITION = TP("compliance.task-status", 0)


def _records(size: int, count: int = 1) -> list[Message]:
    """Records as the fetch loop gathers them, each ``size`` bytes with its key."""
    return [
        Message(PARTITION.topic, 0, n, 0.0, 0, None, b"VN-22", b"x" * (size - 5), None, tp=PARTITION)
        for n in range(count)
    ]


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[Worker]:
    loop = asyncio.new_event_loop()  # the app's services take the current loop: one the test closes
    asyncio.set_event_loop(loop)
    try:
        worker = Worker(Settings(data_dir=tmp_path), load_pack([BUNDLED_PACK]))
        worker.app.flow_control.resume()  # as once the partitions are assigned
        yield worker
        worker.app.consumer._thread.thread_loop.close()  # type: ignore[attr-defined]
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def test_the_lane_is_full_once_it_holds_its_bytes_of_records(worker: Worker) -> None:
    lane = worker.lane
    assert worker.app.lane is lane, "the fetch loop offers the ingress topics' records to the intake's lane"
    assert lane.takes("compliance.task-status") and lane.takes("compliance.ticks") and not lane.takes("other")
    queue = lane.queue
    batches = BUFFER_BYTES // MiB
    consumer: Any = worker.app.consumer
    loop = consumer.loop  # the loop faust's services were made for
    for _ in range(batches):
        assert not queue.full()
        loop.run_until_complete(lane.offer(consumer, PARTITION, _records(MiB // 4, 4)))
    assert queue.full() and lane.waiting() == batches < worker.app.conf.stream_buffer_maxsize
    assert isinstance(queue, ByteBoundQueue)

    async def one_more() -> None:  # the fetch loop waits for the intake to take a batch
        offered = asyncio.ensure_future(lane.offer(consumer, PARTITION, _records(MiB)))
        await asyncio.sleep(0.01)
        assert not offered.done()
        batch = await lane.take()
        assert isinstance(batch, Fetched) and batch.tp == PARTITION and batch.bytes == MiB
        await asyncio.wait_for(offered, 1)

    loop.run_until_complete(one_more())
    assert queue.full() and queue.bytes == BUFFER_BYTES
    worker.app.flow_control.clear()  # a rebalance: what waits is fetched again
    assert queue.bytes == 0 and not queue.full() and lane.waiting() == 0


def test_a_rebalance_ends_the_fetch_loop_s_wait_for_room_and_drops_the_batch(worker: Worker) -> None:
    lane, consumer = worker.lane, worker.app.consumer

    async def full_then_rebalance() -> None:
        while not lane.queue.full():
            await lane.offer(consumer, PARTITION, _records(MiB))
        held = lane.waiting()
        offered = asyncio.ensure_future(lane.offer(consumer, PARTITION, _records(MiB)))
        await asyncio.sleep(0.01)
        assert not offered.done()
        consumer.suspend_flow.set()  # what faust sets when a rebalance starts
        await asyncio.wait_for(offered, 1)
        assert lane.waiting() == held, "the batch was not queued: its records are fetched again"
        consumer.resume_flow()
        offered = asyncio.ensure_future(lane.offer(consumer, PARTITION, _records(MiB)))
        await asyncio.sleep(0.01)
        consumer.stop_flow()  # faust's revocation: the flow stopped, then the queues cleared, in one step
        worker.app.flow_control.clear()
        await asyncio.wait_for(offered, 1)  # neither raised nor waiting: the fetch loop goes on
        assert lane.waiting() == 0

    consumer.loop.run_until_complete(full_then_rebalance())


def test_a_batch_larger_than_the_bound_enters_an_empty_queue_alone() -> None:
    loop = asyncio.new_event_loop()
    try:
        flow = SimpleNamespace(acquire=lambda: asyncio.sleep(0), manage_queue=lambda queue: None)
        queue = ByteBoundQueue(MiB, size=lambda batch: batch.bytes, maxsize=4096, flow_control=flow)

        async def fill() -> None:
            await queue.put(Fetched.of(PARTITION, _records(3 * MiB)))
            assert queue.full()
            queue.get_nowait()
            assert queue.bytes == 0 and not queue.full()

        loop.run_until_complete(fill())
    finally:
        loop.close()
