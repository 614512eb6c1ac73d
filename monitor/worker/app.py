"""The faust app: configured from the settings, with the monitor's own web front and a consumer that loses nothing.

Faust mounts a JSON index at ``/`` and pages that expose raw table contents;
the monitor's web server carries none of them: its routes are registered
from outside (``monitor.http``) by whoever builds the worker.

faust skips the events it fetched under an older consumer generation, or
while a rebalance holds the flow, without handing them to the agent, and
its commit counts skipped-over offsets as done. The monitor's consumer
commits only the offsets that follow the last commit without a hole
(``monitor.kafka.positions``), and never past one past the last record the
worker itself handled, in order, since the partition was assigned
(``MonitorApp.handled_through``). That bound is what holds whatever faust
counts as acknowledged: its compiled stream iterator (``faust._cython``,
used whenever the wheel ships it) acknowledges every record it hands to the
agent straight into the consumer's bookkeeping, without calling
``Consumer.ack``, so a record the agent leaves for later (``skip``: a hole
before it, a partition that moved) is acknowledged all the same. Under
churn that committed records handed over between an assignment and faust's
seek to the committed offsets, which the agent had left (seen in two runs
in ten of the churn scenario at 3,000 tasks). ``skip`` still keeps such
a record out of the pure-Python path's acknowledgements. Before it commits,
the worker makes the state of every record it handled durable
(``MonitorApp.before_commit``), and it commits only partitions it owns at
the time: faust commits every partition with acknowledged records, and an
agent that finishes a record after a rebalance revoked its partition would
otherwise move the offset of a partition another worker now reads.
The worker reads a hole again (``monitor.worker.fetch_guard``). And where faust
seeks the partitions back to their committed offsets after a recovery,
partitions the group never committed are sought back too, to their start.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any

import faust
from aiokafka.consumer import group_coordinator
from aiokafka.errors import KafkaError
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Consumer as AiokafkaConsumer
from faust.transport.drivers.aiokafka import Transport as AiokafkaTransport

from monitor.kafka.client import faust_credentials
from monitor.kafka.positions import commit_run, rewind_uncommitted
from monitor.kafka.records import RECORD_OVERHEAD
from monitor.settings import Settings
from monitor.worker.handover import drain_messages
from monitor.worker.recovery import ProgressTableManager
from monitor.worker.web import MonitorWeb, WebLimits

__all__ = ["MonitorApp", "build_app"]

_log = logging.getLogger(__name__)


class _ReadOffsets(dict[Any, int | None]):
    """faust's record of the last offset its fetch loop passed on, per partition, which the loop never filters on.

    The loop drops every fetched record below the last one it passed on, to
    skip what two fetches return twice. After a seek back it drops the very
    records the seek was for: the loop records the offset of a record after
    handing it over, by which time the agent may have sought back from it, and
    faust's own seek after a recovery races with a fetch the same way (seen:
    offsets 10..15 fetched again and dropped, every time). A record passed on
    twice is handled twice, harmlessly (events are applied once, by id; the
    worker checks the order, ``Intake.handle``); a record dropped is lost.
    """

    def __getitem__(self, tp: Any) -> int | None:
        return None


class _Consumer(AiokafkaConsumer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_offset = _ReadOffsets()
        self._read_from: dict[Any, int] = {}  # where reading started, in partitions the group never committed
        self._skipped: set[tuple[Any, int]] = set()  # handed to the intake, left to be read again
        self._owned: set[Any] | None = None  # partitions assigned now (``None``: no assignment seen yet)

    def _new_consumer_thread(self) -> Any:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _drain_messages(self, fetcher: Any) -> None:
        """The fetch loop: the ingress topics' records to the intake's lane, the others to faust's (``handover``)."""
        await drain_messages(self, fetcher)

    #: Whether records of a fetch are still being fetched or offered to the intake (``monitor.worker.lane``).
    handing_over = False

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[Any, Any]]:
        """faust's, noting while a fetch's records are being handed over (``handing_over``).

        A fetch's records reach the intake once the fetch is gathered, a
        partition's batch at a time: an intake that finds its lane empty may be
        in the middle of a fetch. Taking that for idleness split fetches over
        several checkpoints, each a record batch on the changelog and the
        alerts topic: in ``make soak``, 14 % more changelog batches and 9 %
        more alert batches than now.
        """
        try:
            async for item in super().getmany(timeout):
                self.handing_over = True
                yield item
        finally:
            self.handing_over = False

    def read_from(self, offsets: Mapping[Any, int]) -> None:
        """Reading starts at these offsets in partitions the group never committed (their first commit starts there)."""
        self._read_from.update(offsets)

    def floor(self, tp: Any) -> int | None:
        """The first offset of ``tp`` not committed yet, if known: the next commit starts there."""
        committed: int | None = self._committed_offset.get(tp)
        return committed if committed is not None else self._read_from.get(tp)

    def skip(self, message: Any) -> None:
        """The intake was handed ``message`` and leaves it to be read again: its acknowledgement does not count."""
        self._skipped.add((message.tp, message.offset))

    async def on_partitions_revoked(self, revoked: set[Any]) -> None:
        if self._owned is not None:
            self._owned.difference_update(revoked)
        for tp in revoked:  # where reading started goes with the committed offset faust drops here
            self._read_from.pop(tp, None)
        await super().on_partitions_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[Any], generation_id: int = 0) -> None:
        self._owned = set(assigned)
        await super().on_partitions_assigned(assigned, generation_id)

    def ack(self, message: Any) -> bool:
        if not message.tracked:  # never handed to the intake (fetched before a rebalance): not processed
            return False
        if self._owned is not None and message.tp not in self._owned:
            # Handled after its partition was revoked (the intake finishing a record during a rebalance):
            # the partition's next owner reads it again from the committed offset, which this worker
            # must not move (its state for the record is dropped at the next assignment).
            message.acked = True
            self._unacked_messages.discard(message)
            return False
        if (message.tp, message.offset) in self._skipped:
            self._skipped.discard((message.tp, message.offset))
            message.acked = True
            self._unacked_messages.discard(message)  # nothing waits for it (a rebalance, a shutdown)
            return False
        acked: bool = super().ack(message)
        return acked

    def forget(self, tps: Iterable[Any]) -> None:
        """Records of ``tps`` handled since the last commit do not count: the worker will read them again."""
        for tp in tps:
            self._acked.pop(tp, None)
            self._acked_index.pop(tp, None)

    async def _commit_tps(self, tps: Iterable[Any], start_new_transaction: bool) -> bool:
        """Commit only once the state of every handled record is durable (the app's ``before_commit`` says so)."""
        tps = [tp for tp in tps if self._owned is None or tp in self._owned]  # never a partition it does not own
        if not tps:
            return False
        before_commit = getattr(self.app, "before_commit", None)
        if before_commit is not None and not await before_commit():
            return False
        # No await between the hook and the offsets taken here: no record is handled in between.
        committed: bool = await super()._commit_tps(tps, start_new_transaction)
        return committed

    async def _add_gap(self, tp: Any, offset_from: int, offset_to: int) -> None:
        """Not a gap: the monitor's topics are not compacted, so skipped-over offsets were dropped, not absent."""

    def _new_offset(self, tp: Any) -> int | None:
        acked: list[int] = self._acked[tp]
        if not acked:
            return None
        acked.sort()
        run = commit_run(acked, self.floor(tp))
        handled_through = getattr(self.app, "handled_through", None)
        if handled_through is not None:  # never past what the worker itself handled, in order
            limit = handled_through(tp)
            run = [offset for offset in run if limit is not None and offset < limit]
        if not run:
            return None
        done = acked.index(run[-1]) + 1  # offsets below the floor go with the run: committed already
        self._acked_index[tp].difference_update(acked[:done])
        del acked[:done]
        return run[-1] + 1


def _leave_on_close(consumer: Any) -> None:
    """Make the consumer leave its group when it closes, whatever the generation's number.

    aiokafka sends LeaveGroup on close only from generation 1 on, as Kafka
    numbers them; a broker that numbers the first generation 0 (the embedded
    one) keeps the closed member, and the next worker's join waits a session
    timeout for it (seen: 18 s to restart a worker with nothing to recover).
    """
    coordinator = getattr(consumer, "_coordinator", None)
    if coordinator is None or not hasattr(coordinator, "_maybe_leave_group"):
        return
    leave_from_one = coordinator._maybe_leave_group

    async def leave() -> None:
        if coordinator.generation == 0 and coordinator._group_instance_id is None:
            try:
                await coordinator._send_req(
                    group_coordinator.LeaveGroupRequest(coordinator.group_id, coordinator.member_id)
                )
            except KafkaError as exc:
                _log.warning("could not leave the consumer group: %r", exc)
            coordinator.reset_generation()
            return
        await leave_from_one()

    coordinator._maybe_leave_group = leave


class _ConsumerThread(AIOKafkaConsumerThread):
    async def on_partitions_assigned(self, assigned: set[Any], generation_id: int = 0) -> None:
        self.count_from_assignment(assigned, time.monotonic())
        await super().on_partitions_assigned(assigned, generation_id)

    def count_from_assignment(self, assigned: Iterable[Any], now: float) -> None:
        """Let faust's checks of each partition's progress count from ``now``, the assignment, not the worker's start.

        They log an ERROR when a partition behind its end has had no record
        handled ("Stream has not started processing") or no offset committed
        ("Has not committed ... at all since worker start") for a while. Counted
        from the worker's start, a partition taken over in a rebalance is behind
        and has neither yet: every takeover of a worker up for a few minutes was
        reported as a stall ("report as bug"). Counted from the assignment, only
        a partition that makes no progress after it is.
        """
        self.time_started = now
        monitor = self.consumer.app.monitor
        for tp in assigned:
            self.tp_last_committed_at.pop(tp, None)
            if monitor is not None:
                monitor.stream_inbound_time.pop(tp, None)

    async def on_thread_stop(self) -> None:
        _leave_on_close(self._consumer)
        await super().on_thread_stop()

    def _create_worker_consumer(self, transport: Any) -> Any:
        # faust fixes the fetch wait at 1.5 s. A broker answers a fetch as soon as records arrive, or when
        # the wait runs out; one that only answers when it runs out (the embedded broker) holds every event
        # that long. The app's own wait bounds that (on Kafka it only paces fetches of an idle partition).
        consumer = super()._create_worker_consumer(transport)
        app: Any = self.consumer.app
        consumer._fetch_max_wait_ms = app.fetch_max_wait_ms
        return consumer

    async def seek_to_committed(self) -> Mapping[Any, int]:
        return await self.call_thread(self._seek_to_committed)  # type: ignore[no-any-return]

    async def _seek_to_committed(self) -> Mapping[Any, int]:
        consumer = self._ensure_consumer()
        committed: Mapping[Any, int] = await consumer.seek_to_committed()
        streams = {tp: offset for tp, offset in committed.items() if not self.consumer._is_changelog_tp(tp)}
        rewound = await rewind_uncommitted(consumer, streams)  # changelogs: recovery sets their positions
        if rewound:
            owner: Any = self.consumer
            owner.read_from(await consumer.beginning_offsets(rewound))
            names = ", ".join(sorted(f"{tp.topic}[{tp.partition}]" for tp in rewound))
            self.log.info("Read from the beginning (no committed offset): %s", names)
        return committed


class _Transport(AiokafkaTransport):
    Consumer = _Consumer


class MonitorApp(faust.App):
    """A faust app whose web server carries only the routes registered on it.

    ``before_commit``, when set, is awaited before offsets are committed; ``False`` commits nothing this time.
    ``fetch_max_wait_ms`` replaces faust's fixed fetch wait.
    """

    before_commit: Callable[[], Awaitable[bool]] | None = None
    #: When set, a partition's commit never passes this offset (one past the last record the worker
    #: handled, in order, since the partition was assigned; ``None``: none yet, nothing is committed).
    handled_through: Callable[[Any], int | None] | None = None
    #: How long a fetch may wait at the broker for records to arrive, milliseconds.
    fetch_max_wait_ms: int = 1500
    #: Where the fetch loop puts the ingress topics' records (``monitor.worker.lane``); ``None``: faust's agents.
    lane: Any = None

    #: What the web server allows a client; set from the settings by ``build_app``.
    web_limits: WebLimits

    def _new_web(self) -> Any:
        return MonitorWeb(self, self.web_limits)

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)


def build_app(settings: Settings) -> MonitorApp:
    """The faust app for a worker with these settings (constructing it does no I/O)."""
    app = MonitorApp(
        settings.app_id,
        broker=settings.broker,
        store="rocksdb://",  # the items table's store is its own (``monitor.state.rocks``); no other table
        topic_partitions=settings.partitions,
        datadir=str(settings.data_dir),
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=settings.web_port,
        canonical_url=settings.peer_url,  # what the group's assignment tells the others (app.router)
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=settings.heartbeat_interval,
        broker_rebalance_timeout=settings.session_timeout,
        consumer_auto_offset_reset="earliest",
        broker_credentials=faust_credentials(settings),
        autodiscover=False,
        table_standby_replicas=0,
        # Off on the embedded broker only: Tansu reports a changelog's end offset short of its last batch (see
        # monitor/state/changelog.py) and below the offset faust persisted locally, where the check would crash
        # the worker on takeover while recovery from the persisted offset loses nothing.
        recovery_consistency_check=settings.recovery_consistency_check,
        # One limit for what comes in and what goes out: a record the worker may read whole, it can also
        # forward or dead-letter whole (faust's defaults, 1 MiB in and 1,000,000 bytes out, lost records
        # between the two).
        consumer_max_fetch_size=settings.max_record_bytes + RECORD_OVERHEAD,
        producer_max_request_size=settings.max_record_bytes + RECORD_OVERHEAD,
        # What the worker writes at once (a checkpoint's changelog items and alert transitions) leaves in record
        # batches up to the record limit, not faust's 16 KiB (5 alert transitions of 3 KB; a burst's changelog
        # items in thousands of batches): a broker keeps every batch, and the embedded one lists all of a
        # partition's for each fetch that finds new records.
        producer_max_batch_size=settings.max_record_bytes,
        loghandlers=[],
        TableManager=ProgressTableManager,  # recovery progress for /metrics
    )
    app.fetch_max_wait_ms = round(settings.fetch_max_wait * 1000)
    app.web_limits = WebLimits(settings.web_header_timeout, settings.web_max_connections)
    return app
