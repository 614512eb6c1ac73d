"""What runs beside the intake: started in order once faust has started the app, stopped each within its bound.

Started in this order: the rules and publishers topics (read, then followed:
each new newest pack or registry is put in force between two records); the
alerts topic, from where the history index stands; then the publisher
refusals, the fence (on the producer too), the broker watch, the fetch guard, the state flusher,
the ticks and the sinks; last the operators' actions, the delivery ledger
and the silences (each connects to the broker: the watch must run by then).

Stopped with the ticks first, then each part within its own bound
(``monitor.background.bounded``): one that fails or hangs is logged and
passed, and the rest (the producer's flush, the web server) still stop
within the worker's deadline. The history index is closed last.

The state flusher is one of the parts: every ``flush_interval`` seconds the
checkpoint runs between two records, unless a rebalance is under way (which
runs it before it commits). The intake runs the same checkpoint
(``checkpoint_now``) whenever it has handled every record fetched.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from monitor.background import Background, bounded
from monitor.delivery.sinks import Sink
from monitor.state.refusals import RefusalFollower
from monitor.worker.alerts_topic import PublishedAlerts
from monitor.worker.broker_watch import AdminTopics, BrokerWatch
from monitor.worker.fetch_guard import FetchGuard
from monitor.worker.membership import Membership
from monitor.worker.packs import PackInForce
from monitor.worker.publishers import AdmissionInForce
from monitor.worker.shared import SharedRecords
from monitor.worker.ticks import TickSource

__all__ = ["BackgroundParts"]

log = logging.getLogger(__name__)


class BackgroundParts:
    """The worker's background parts, and the order they start and stop in.

    Args:
        packs: The rule pack in force (the rules topic followed, its applier).
        admissions: The publisher registry in force (the publishers topic followed, its applier).
        alerts: The alerts topic as the worker reads it (the ledger, the history index).
        refusals: Each publisher's refused events, read from the dead-letter topic.
        shared: Operators' actions, silences and the delivery ledger (topics every worker follows whole), and
            what tells Alertmanager of the silences.
        membership: The zombie fence (on the worker's writes and, once started, on the producer's requests).
        producer: The aiokafka producer the worker writes through (faust's, once the app has started).
        broker_watch: Whether the broker is there, with the worker's topics.
        broker_topics: The admin client the broker watch asks (closed, if started).
        fetch_guard: Checks the order records arrive in.
        ticks: The wall-clock ticks.
        sinks: Where alerts are delivered.
        checkpoint: Runs the checkpoint between two records (``Intake.checkpoint``); whether it ran to its end.
        rebalancing: Whether a rebalance is under way.
        flush_interval: Seconds between two checkpoints of the state flusher.
    """

    def __init__(
        self,
        *,
        packs: PackInForce,
        admissions: AdmissionInForce,
        alerts: PublishedAlerts,
        refusals: RefusalFollower,
        shared: SharedRecords,
        membership: Membership,
        producer: Callable[[], Any],
        broker_watch: BrokerWatch,
        broker_topics: AdminTopics,
        fetch_guard: FetchGuard,
        ticks: TickSource,
        sinks: Sequence[Sink],
        checkpoint: Callable[[], Awaitable[bool]],
        rebalancing: Callable[[], bool],
        flush_interval: float,
    ) -> None:
        self._packs = packs
        self._admissions = admissions
        self._alerts = alerts
        self._refusals = refusals
        self._shared = shared
        self._membership = membership
        self._producer = producer
        self._broker_watch = broker_watch
        self._broker_topics = broker_topics
        self._fetch_guard = fetch_guard
        self._ticks = ticks
        self._sinks = tuple(sinks)
        self._checkpoint = checkpoint
        self._rebalancing = rebalancing
        self._flush_interval = flush_interval
        self._flusher = Background("flush-state", self._flush_every_interval)

    async def start(self) -> None:
        """Start every part, in order (faust runs this as a task once the app has started)."""
        await self._packs.start()
        await self._admissions.start()
        await self._alerts.start()
        await self._admissions.say_mode()
        await self._refusals.start()
        self._membership.start()
        self._membership.fence_producer(self._producer())
        self._broker_watch.start()
        self._fetch_guard.start()
        self._flusher.start()
        self._ticks.start()
        for sink in self._sinks:
            sink.start()
        # Last: each connects to the broker, and a broker gone meanwhile must be noticed (the watch runs by now).
        await self._shared.operators.start()
        await self._shared.deliveries.start()
        await self._shared.silences.start()
        if self._shared.am_silences is not None:
            self._shared.am_silences.start()

    async def stop(self) -> None:
        """Stop every part, each within its bound; close the history index last."""
        self._ticks.stop()
        alerts = self._alerts
        parts: list[tuple[str, Callable[[], Awaitable[object]]]] = [
            ("rule pack applier", self._packs.applier.stop),
            ("publisher registry applier", self._admissions.applier.stop),
            ("membership", self._membership.stop),
            ("broker watch", self._broker_watch.stop),
            ("fetch guard", self._fetch_guard.stop),
            ("state flusher", self._flusher.stop),
            ("alert ledger read-through", alerts.reader.stop),
            ("alert ledger", alerts.follower.stop),
            ("publisher refusals", self._refusals.stop),
            ("operator actions", self._shared.operators.stop),
            ("delivery ledger", self._shared.deliveries.stop),
            ("silences", self._shared.silences.stop),
        ]
        if self._broker_topics.is_open:
            parts.append(("admin client", self._broker_topics.close))
        if self._packs.follower is not None:
            parts.append(("rules topic", self._packs.follower.stop))
        if self._admissions.registries.follower is not None:
            parts.append(("publishers topic", self._admissions.registries.follower.stop))
        if alerts.indexer is not None:
            parts.append(("alert history indexer", alerts.indexer.stop))
        parts.extend((f"{type(sink).__name__}", sink.stop) for sink in self._sinks)
        if self._shared.am_silences is not None:
            parts.append(("Alertmanager silences", self._shared.am_silences.stop))
        for name, stop in parts:
            await bounded(name, stop())
        alerts.close()

    async def checkpoint_now(self) -> None:
        """Run the checkpoint between two records now, unless a rebalance is under way; a failure is logged."""
        if self._rebalancing():  # a rebalance commits, and checkpoints before it (``Worker._before_commit``)
            return
        try:
            await asyncio.shield(self._checkpoint())  # once begun, it ends (even at shutdown)
        except Exception:  # the next checkpoint tries again; the worker goes on
            log.exception("flushing the state failed")

    async def _flush_every_interval(self) -> None:
        while True:
            await asyncio.sleep(self._flush_interval)
            await self.checkpoint_now()
