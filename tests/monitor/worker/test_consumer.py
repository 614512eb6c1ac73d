"""The worker's consumer: what it acknowledges and commits (faust's own bookkeeping, made strict)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types.tuples import TP, Message

from monitor.settings import Settings
from monitor.worker.app import build_app
from monitor.worker.handover import YIELD_EVERY, hands_over_at_once
from monitor.worker.lane import IngressLane

TOPIC = "compliance.task-status"
PARTITION = TP(TOPIC, 0)


@pytest.fixture
def consumer() -> Iterator[Any]:
    loop = asyncio.new_event_loop()  # the app's services take the current loop: one the test closes
    asyncio.set_event_loop(loop)
    try:
        app = build_app(Settings())
        # What faust's conductor does when an agent's stream subscribes to the topic with acks on.
        app.topics._acking_topics.add(TOPIC)  # type: ignore[attr-defined]
        consumer = app.consumer
        yield consumer
        consumer._thread.thread_loop.close()  # the consumer thread's own loop, never started here
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def _handed(consumer: Any, offset: int, tp: TP = PARTITION) -> Message:
    """A record the stream handed to the agent (faust tracks it as unacknowledged)."""
    message = Message(tp.topic, tp.partition, offset, 0.0, 0, None, None, b"{}", None, tp=tp)
    message.tracked = True
    consumer._unacked_messages.add(message)
    return message


def test_a_hole_after_the_last_commit_holds_the_commit_until_it_is_handled(consumer: Any) -> None:
    consumer._committed_offset[PARTITION] = 10
    for offset in (11, 12):
        consumer.ack(_handed(consumer, offset))
    assert consumer._new_offset(PARTITION) is None  # faust's own rule would commit 13, past 10
    consumer.ack(_handed(consumer, 10))
    assert consumer._new_offset(PARTITION) == 13


def test_a_hole_in_the_middle_ends_the_commit_before_it(consumer: Any) -> None:
    consumer._committed_offset[PARTITION] = 10
    for offset in (10, 11, 14, 15):
        consumer.ack(_handed(consumer, offset))
    assert consumer._new_offset(PARTITION) == 12
    consumer._committed_offset[PARTITION] = 12
    assert consumer._new_offset(PARTITION) is None


def test_skipped_over_offsets_are_not_a_gap_to_commit(consumer: Any) -> None:
    consumer._committed_offset[PARTITION] = 10
    consumer.loop.run_until_complete(consumer._add_gap(PARTITION, 11, 13))  # a fetch jumped from 10 to 14
    for offset in (10, 14):
        consumer.ack(_handed(consumer, offset))
    assert consumer._new_offset(PARTITION) == 11


def test_a_record_the_agent_leaves_is_not_acknowledged_and_nothing_waits_for_it(consumer: Any) -> None:
    consumer._committed_offset[PARTITION] = 10
    left = _handed(consumer, 10)
    consumer.skip(left)
    assert consumer.ack(left) is False
    assert left not in consumer._unacked_messages  # a rebalance or a shutdown does not wait for it
    consumer.ack(_handed(consumer, 11))
    assert consumer._new_offset(PARTITION) is None
    again = _handed(consumer, 10)  # read again
    assert consumer.ack(again) is True
    assert consumer._new_offset(PARTITION) == 12


def test_a_partition_never_committed_commits_from_where_reading_started(consumer: Any) -> None:
    consumer._read_from[PARTITION] = 0
    assert consumer.floor(PARTITION) == 0
    consumer.ack(_handed(consumer, 1))
    assert consumer._new_offset(PARTITION) is None  # offset 0 was never handled
    consumer._committed_offset[PARTITION] = 5
    assert consumer.floor(PARTITION) == 5


def test_the_fetch_loop_never_drops_a_record_it_fetches_again(consumer: Any) -> None:
    # faust's fetch loop records the offset of each record it passes on (here 16, after the agent
    # sought back to 10 on receiving it) and drops every later-fetched record below it: 10..15.
    consumer._read_offset[PARTITION] = 16
    assert consumer._read_offset[PARTITION] is None  # what the loop reads: nothing to drop below


def test_offsets_are_committed_only_once_the_app_says_the_handled_state_is_durable(consumer: Any) -> None:
    consumer._committed_offset[PARTITION] = 10
    for offset in (10, 11):
        consumer.ack(_handed(consumer, offset))
    steps: list[str] = []
    durable = False

    async def before_commit() -> bool:
        steps.append("flush")
        return durable

    async def commit_offsets(offsets: Any, start_new_transaction: bool = True) -> bool:
        steps.append(f"commit {dict(offsets)[PARTITION]}")  # faust's call into the broker client, recorded
        return True

    consumer.app.before_commit = before_commit
    consumer._commit_offsets = commit_offsets
    run = asyncio.get_event_loop().run_until_complete
    assert run(consumer._commit_tps([PARTITION], True)) is False
    assert steps == ["flush"]  # nothing committed, and nothing forgotten:
    durable = True
    assert run(consumer._commit_tps([PARTITION], True)) is True
    assert steps == ["flush", "flush", "commit 12"]


def test_forgotten_records_are_not_committed_until_handled_again(consumer: Any) -> None:
    consumer._committed_offset[PARTITION] = 10
    for offset in (10, 11):
        consumer.ack(_handed(consumer, offset))
    consumer.forget([PARTITION])
    assert consumer._new_offset(PARTITION) is None
    consumer.ack(_handed(consumer, 10))
    assert consumer._new_offset(PARTITION) == 11


def test_a_record_handled_after_its_partition_was_revoked_is_not_committed_by_this_worker(consumer: Any) -> None:
    other = TP(TOPIC, 1)

    async def app_callback(*args: Any) -> None:  # the app's own rebalance work (tables, recovery): not tested here
        return None

    consumer._on_partitions_revoked = consumer._on_partitions_assigned = app_callback
    run = asyncio.get_event_loop().run_until_complete
    run(consumer.on_partitions_assigned({PARTITION, other}))
    consumer._committed_offset.update({PARTITION: 10, other: 10})
    in_flight = _handed(consumer, 10)  # handed to the agent before the rebalance, done after the revoke
    run(consumer.on_partitions_revoked({PARTITION, other}))
    run(consumer.on_partitions_assigned({other}))  # the partition went to another worker
    consumer._committed_offset[other] = 10
    assert consumer.ack(in_flight) is False
    assert in_flight not in consumer._unacked_messages  # nothing waits for it
    assert consumer.ack(_handed(consumer, 10, other)) is True
    committed: list[dict[Any, int]] = []

    async def before_commit() -> bool:
        return True

    async def commit_offsets(offsets: Any, start_new_transaction: bool = True) -> bool:
        committed.append(dict(offsets))
        return True

    consumer.app.before_commit = before_commit
    consumer._commit_offsets = commit_offsets
    assert run(consumer._commit_tps([PARTITION, other], True)) is True
    assert committed == [{other: 11}]  # the partition it kept, never the one that moved


def test_faust_compiled_stream_acknowledges_a_record_the_agent_left_and_the_commit_still_stops_before_it(
    consumer: Any,
) -> None:
    from faust._cython.streams import StreamIterator  # what faust's streams use whenever the wheel ships it
    from faust.events import Event

    consumer.app.handled_through = {PARTITION: 5}.get  # the worker handled ..4, and left 5 (a hole before it)
    consumer._committed_offset[PARTITION] = 3
    iterator = StreamIterator(consumer.app.topic(TOPIC).stream())
    for offset in (3, 4, 5):
        message = _handed(consumer, offset)
        if offset == 5:
            consumer.skip(message)
        iterator.after(Event(consumer.app, None, b"{}", None, message), True, None)
    assert consumer._acked[PARTITION] == [3, 4, 5]  # acknowledged without asking ``Consumer.ack``
    assert consumer._new_offset(PARTITION) == 5


def test_a_commit_never_passes_the_last_record_the_worker_handled_in_order(consumer: Any) -> None:
    handled: dict[Any, int] = {}
    consumer.app.handled_through = handled.get
    consumer._committed_offset[PARTITION] = 872
    for offset in range(872, 900):  # acknowledged, whatever the reason, while the worker handled none of them
        consumer.ack(_handed(consumer, offset))
    assert consumer._new_offset(PARTITION) is None
    handled[PARTITION] = 880  # it handled 872..879
    assert consumer._new_offset(PARTITION) == 880
    consumer._committed_offset[PARTITION] = 880
    handled[PARTITION] = 900
    assert consumer._new_offset(PARTITION) == 900


def test_faust_s_progress_checks_of_a_partition_taken_over_count_from_its_assignment(consumer: Any) -> None:
    thread, monitor = consumer._thread, consumer.app.monitor
    taken, kept = TP(TOPIC, 2), TP(TOPIC, 0)
    began = thread.time_started = 1000.0  # when the worker started (faust sets it as the consumer starts)
    thread.tp_last_committed_at[taken] = began  # committed by this worker before another owned it a while
    monitor.stream_inbound_time[taken] = began
    monitor.stream_inbound_time[kept] = began + 5.0
    thread.count_from_assignment({taken}, began + 600.0)  # taken over ten minutes after the worker started
    assert thread.time_started == began + 600.0, "'since start' is since the assignment"
    assert taken not in thread.tp_last_committed_at and taken not in monitor.stream_inbound_time
    assert monitor.stream_inbound_time[kept] == began + 5.0, "a partition not assigned now keeps its record"


def _fetched(offsets: range) -> list[Message]:
    return [Message(TOPIC, 0, offset, 0.0, 0, None, None, b"{}", None, tp=PARTITION) for offset in offsets]


def test_a_fetch_s_records_reach_the_conductor_in_a_turn_or_two_of_the_loop(consumer: Any) -> None:
    """faust's loop waits on four tasks per record (three turns or more): a turn costs whatever else runs in it."""
    consumer.app.flow_control.resume()  # as after an assignment
    handed: list[int] = []
    seen: list[int] = []  # records handed over, at each turn of the loop

    async def callback(message: Message) -> None:
        handed.append(message.offset)

    fetcher = SimpleNamespace(_stopped=asyncio.Event())
    fetched = _fetched(range(250))

    async def getmany(timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        for message in fetched:
            yield message.tp, message
        fetcher._stopped.set()  # one fetch, then the fetcher stops

    async def run() -> None:
        async def turns() -> None:
            while True:
                seen.append(len(handed))
                await asyncio.sleep(0)

        watcher = asyncio.ensure_future(turns())
        await asyncio.sleep(0)
        await consumer._drain_messages(fetcher)
        watcher.cancel()

    consumer.callback = callback
    consumer.getmany = getmany
    consumer.loop.run_until_complete(run())
    assert handed == list(range(250))
    assert len(set(seen)) <= 5, f"{len(set(seen))} turns to hand over 250 records"
    assert max(b - a for a, b in itertools.pairwise(seen)) <= YIELD_EVERY + 1, "a turn every hundred records"


def test_a_record_that_could_wait_goes_through_faust_s_wait(consumer: Any) -> None:
    """A rebalance, suspended flow control, a full producer buffer or a full queue can make the conductor wait:
    then faust's wait, which a rebalance interrupts."""
    app = consumer.app
    [message] = _fetched(range(1))
    app.flow_control.resume()
    assert hands_over_at_once(consumer, message)
    consumer.stop_flow()  # a rebalance
    assert not hands_over_at_once(consumer, message)
    consumer.resume_flow()
    app.flow_control.suspend()
    assert not hands_over_at_once(consumer, message)
    app.flow_control.resume()
    app.topics._tp_index[PARTITION] = [SimpleNamespace(queue=SimpleNamespace(full=lambda: True))]
    assert not hands_over_at_once(consumer, message)
    app.topics._tp_index[PARTITION] = [SimpleNamespace(queue=SimpleNamespace(full=lambda: False))]
    assert hands_over_at_once(consumer, message)
    app.producer.buffer.max_messages = -1
    assert not hands_over_at_once(consumer, message)


def _lane(consumer: Any) -> IngressLane:
    lane = IngressLane(consumer.app, [TOPIC])
    consumer.app.lane = lane
    consumer.app.flow_control.resume()  # as after an assignment
    return lane


def test_the_fetch_loop_offers_the_ingress_records_of_a_fetch_to_the_lane_a_partition_at_a_time(consumer: Any) -> None:
    lane = _lane(consumer)
    other = TP(TOPIC, 1)
    changelog = TP("monitor-items-changelog", 0)
    fetched = [
        Message(tp.topic, tp.partition, offset, 0.0, 0, None, None, b"{}", None, tp=tp)
        for offset in range(3)
        for tp in (PARTITION, other, changelog)  # faust's fetch takes partitions in turn
    ]
    conducted: list[tuple[str, int]] = []
    offered: list[tuple[int, bool]] = []  # (partition, whether the fetch was being handed over) at each offer
    fetcher = SimpleNamespace(_stopped=asyncio.Event())

    async def callback(message: Message) -> None:
        conducted.append((message.topic, message.offset))

    async def getmany(timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        for message in fetched:
            yield message.tp, message
        fetcher._stopped.set()

    offer = lane.offer

    async def noted(consumer_: Any, tp: TP, messages: list[Message]) -> None:
        offered.append((tp.partition, consumer_.handing_over))
        await offer(consumer_, tp, messages)

    lane.offer = noted  # type: ignore[method-assign]
    consumer.callback = callback
    consumer.getmany = getmany
    consumer.loop.run_until_complete(consumer._drain_messages(fetcher))
    assert conducted == [("monitor-items-changelog", n) for n in range(3)], "other topics go to faust's conductor"
    assert offered == [(0, True), (1, True)], "one batch per partition, while the intake sees a fetch handed over"
    assert not consumer.handing_over
    batches = [consumer.loop.run_until_complete(lane.take()) for _ in range(2)]
    assert [(b.tp, [m.offset for m in b.messages]) for b in batches] == [(PARTITION, [0, 1, 2]), (other, [0, 1, 2])]


def test_a_record_the_lane_hands_over_is_tracked_until_handled_then_acknowledged(consumer: Any) -> None:
    lane = _lane(consumer)
    consumer._committed_offset[PARTITION] = 10
    message = _fetched(range(10, 11))[0]
    message.generation_id = consumer.app.consumer_generation_id
    assert lane.may_hand(message)
    lane.track(message)
    assert message in consumer._unacked_messages, "a revocation waits for it"
    lane.done(message)
    assert message not in consumer._unacked_messages and consumer._acked[PARTITION] == [10]
    assert consumer._new_offset(PARTITION) == 11


def test_a_record_whose_handling_was_cut_short_is_not_acknowledged_and_nothing_waits_for_it(consumer: Any) -> None:
    lane = _lane(consumer)
    consumer._committed_offset[PARTITION] = 10
    cut, after = _fetched(range(10, 12))
    for message in (cut, after):
        lane.track(message)
    lane.left(cut)
    lane.done(after)
    assert cut not in consumer._unacked_messages
    assert consumer._new_offset(PARTITION) is None, "nothing is committed past the record cut short"
    again = _fetched(range(10, 11))[0]  # read again
    lane.track(again)
    lane.done(again)
    assert consumer._new_offset(PARTITION) == 12


def test_records_fetched_before_a_rebalance_are_not_handed_over(consumer: Any) -> None:
    lane = _lane(consumer)
    message = _fetched(range(1))[0]
    message.generation_id = consumer.app.consumer_generation_id
    assert lane.may_hand(message)
    consumer.app.consumer_generation_id += 1  # a rebalance: another generation
    assert not lane.may_hand(message)
    message.generation_id = consumer.app.consumer_generation_id
    consumer.app.flow_control.suspend()  # a rebalance holds faust's flow
    assert not lane.may_hand(message)


def test_faust_s_progress_check_hears_of_each_batch_the_lane_hands_over(consumer: Any) -> None:
    lane = _lane(consumer)
    consumer.app.monitor.stream_inbound_time.pop(PARTITION, None)
    lane.heard(PARTITION)
    assert consumer.app.monitor.stream_inbound_time[PARTITION] > 0
