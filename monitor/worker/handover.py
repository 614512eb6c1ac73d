"""How the consumer hands a fetch's records to the agents: straight away when nothing can make one wait.

faust's fetch loop (``Consumer._drain_messages``) hands each record to the
conductor inside ``wait_first(callback(message), suspend_flow.wait())``, so
that a rebalance can interrupt a record waiting for room: four tasks made
and waited on per record, three turns of the event loop or more. A turn
costs whatever else runs in it (a slice of a review report, a console's
answer), and a second's records, sent together, were each that many turns
behind the one before.

Here a record is handed straight to the conductor (its callback awaited in
this task) when nothing in the conductor can make it wait: the flow is on
(no rebalance), faust's flow control is not suspended, the producer's buffer
is not over its bound, the conductor is not changing its subscriptions, and
no queue the record goes to is full. Then the callback runs through without
suspending, and a fetch's records reach the agents' queues in one turn (a
turn is still given every ``YIELD_EVERY`` records, as faust does). Otherwise
the record goes through faust's ``wait_first`` as before. Everything else is
faust's loop as it is: the commit every ``commit_every`` records, the read
offset noted after each record. faust's loop also drops a record below the
last read offset, and notes a gap above it: this consumer's read offsets
never filter (``monitor.worker.app``: a record passed on twice is handled
twice, harmlessly; one dropped is lost), so neither is done here.

Records of the ingress topics do not go to the conductor at all: the app's
lane (``monitor.worker.lane``) takes a fetch's records of each partition at
once, once the fetch is gathered. Those of every other topic (the tables'
changelogs while faust recovers them) go as above.
"""

from __future__ import annotations

import asyncio
from typing import Any

from faust.transport.consumer import CONSUMER_FETCHING

__all__ = ["YIELD_EVERY", "drain_messages", "hands_over_at_once"]

#: Records handed over between two turns of the event loop (faust's ``yield_every``).
YIELD_EVERY = 100


def hands_over_at_once(consumer: Any, message: Any) -> bool:
    """Whether the conductor takes ``message`` without waiting for anything (its callback will not suspend)."""
    if consumer.suspend_flow.is_set() or not consumer.flow_active:
        return False
    app = consumer.app
    if not app.flow_control.is_active():
        return False
    buffer = app.producer.buffer
    if buffer.size > buffer.max_messages:
        return False
    conductor = app.topics
    if conductor._tp_to_callback_lock.locked():
        return False
    return not any(channel.queue.full() for channel in conductor._tp_index.get(message.tp, ()))


async def drain_messages(consumer: Any, fetcher: Any) -> None:
    """The fetch loop of faust (``Consumer._drain_messages``), each record handed over at once when it can be."""
    callback = consumer.callback
    consumer_should_stop = consumer._stopped.is_set
    fetcher_should_stop = fetcher._stopped.is_set
    set_read_offset = consumer._read_offset.__setitem__
    commit_every = consumer._commit_every
    lane = getattr(consumer.app, "lane", None)
    takes = lane.takes if lane is not None else lambda topic: False
    since_turn = 0
    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            consumer.diag.set_flag(CONSUMER_FETCHING)
            fetched = consumer.getmany(timeout=1.0)
            await consumer.sleep(0)  # getmany may come back at once, again and again
            if not consumer.should_stop:
                gathered: dict[Any, list[Any]] = {}  # the fetch's records for the lane, by partition
                async for tp, message in fetched:
                    if takes(tp.topic):
                        batch = gathered.get(tp)
                        if batch is None:
                            gathered[tp] = batch = []
                        batch.append(message)
                        continue
                    since_turn += 1
                    if since_turn > YIELD_EVERY:
                        await asyncio.sleep(0)
                        since_turn = 0
                    if commit_every is not None and consumer._n_acked >= commit_every:
                        consumer._n_acked = 0
                        await consumer.commit()
                    if hands_over_at_once(consumer, message):
                        await callback(message)
                    else:
                        await consumer.wait_first(callback(message), consumer.suspend_flow.wait())
                    set_read_offset(tp, message.offset)
                if gathered:
                    await _offer(consumer, lane, gathered, commit_every)
                consumer.diag.unset_flag(CONSUMER_FETCHING)
    except consumer.consumer_stopped_errors:
        if consumer.transport.app.should_stop:
            consumer.log.info("Broker stopped consumer, shutting down...")
            return
        raise
    except asyncio.CancelledError:
        if consumer.transport.app.should_stop:
            consumer.log.info("Consumer shutting down for user cancel.")
            return
        raise
    except Exception as exc:
        consumer.log.exception("Drain messages raised: %r", exc)
        raise
    finally:
        consumer.diag.unset_flag(CONSUMER_FETCHING)


async def _offer(consumer: Any, lane: Any, gathered: dict[Any, list[Any]], commit_every: int | None) -> None:
    """Offer a fetch's records to the lane, a partition's at a time; the intake sees the fetch as being handed over."""
    consumer.handing_over = True
    try:
        for tp, batch in gathered.items():
            if commit_every is not None and consumer._n_acked >= commit_every:
                consumer._n_acked = 0
                await consumer.commit()
            await lane.offer(consumer, tp, batch)
    finally:
        consumer.handing_over = False
