"""The worker: a faust app wired to its parts, and the face the HTTP routes read.

Wiring only: each part is built here and handed what it needs; the routes
(``monitor.http``, registered by whoever builds the worker) read it through
``face`` (``WorkerFace``). What each part does is in its own module: ``intake``
(each record checked and passed on; between records, the checkpoint and an
assignment's drop of old state), ``processor``, ``checkpoint``, ``takeover``,
``packs`` and ``publishers`` (the rule pack and publisher registry in force),
``positions`` and ``ownership`` (where the consumer stands; the partitions
owned and answered for), ``alerts_topic`` (the ledger and history index),
``parts`` (what starts and stops beside the intake), ``lane`` (a fetch's records on their way to the
intake), ``membership``,
``fetch_guard``, ``broker_watch``, ``repair`` (a store that breaks).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry

from monitor.clock import Clock, NeverBackwards, utc_now
from monitor.delivery.feed import AlertFeed
from monitor.delivery.sinks import Sink, build_sinks
from monitor.kafka.client import client_options, reader_options
from monitor.kafka.topics import Topics
from monitor.metrics import DeliveryMetrics, MemoryCollector, Metrics, OperatorCollector, StateCollector
from monitor.metrics.stalls import LoopWatch
from monitor.publishers import RefusalLog, Tally
from monitor.settings import Settings
from monitor.state.changelog import ChangelogItemLog
from monitor.state.packs import PackFollower
from monitor.state.refusals import RefusalFollower
from monitor.state.registries import RegistryFollower
from monitor.state.rocks import item_table
from monitor.state.store import ItemStore
from monitor.version import VERSION
from monitor.viewers import ViewersFile
from monitor.worker.alerts_topic import PublishedAlerts
from monitor.worker.app import build_app
from monitor.worker.broker_watch import AdminTopics, BrokerWatch
from monitor.worker.caps import UnitCaps
from monitor.worker.checkpoint import Checkpoint
from monitor.worker.face import WorkerFace
from monitor.worker.fetch_guard import FetchGuard, Partition
from monitor.worker.health import Health
from monitor.worker.intake import Intake
from monitor.worker.lane import IngressLane
from monitor.worker.membership import Membership
from monitor.worker.memory import TRIM_EVERY, heap_parts, trim_slack
from monitor.worker.outbox import RAW, AlertWriter, FaustOutbox
from monitor.worker.ownership import Ownership
from monitor.worker.packs import PackInForce
from monitor.worker.parts import BackgroundParts
from monitor.worker.positions import ConsumerPositions
from monitor.worker.processor import Processor
from monitor.worker.publishers import AdmissionInForce, RegistryInForce, trusted_keys
from monitor.worker.recovery import recovery_snapshot
from monitor.worker.repair import CORRUPT, StoreRepair
from monitor.worker.shared import shared_records
from monitor.worker.takeover import Takeover
from monitor.worker.ticks import TickSource, encode_tick
from rules.language import RulePack, WorkCalendar

__all__ = ["Worker"]

log = logging.getLogger(__name__)


class Worker(WorkerFace):
    """One member of the monitor's consumer group.

    Args:
        settings: The worker's settings.
        pack: The rules.
        registry: Where its metrics are registered (a new registry by default).
        clock: The wall clock.
        monotonic: The clock that times the takeover's grace period.
    """

    def __init__(
        self,
        settings: Settings,
        pack: RulePack,
        registry: CollectorRegistry | None = None,
        clock: Clock = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.topics = Topics(settings.topic_prefix)
        self.registry = registry if registry is not None else CollectorRegistry()
        self.metrics = Metrics(self.registry, VERSION, pack.version)
        applied_at = clock()
        clock = NeverBackwards(clock)
        self._clock = clock
        #: Who may read which units: the viewers file, followed while the worker runs (``None``: anyone, every unit).
        self.viewers = ViewersFile(settings.viewers, pack) if settings.viewers is not None else None
        #: The working group's keys: with them, only the rule packs and registries they signed are put in force.
        self.trusted = trusted_keys(settings.trusted_keys)
        client = functools.partial(client_options, settings)
        reader = functools.partial(reader_options, settings)  # the topics every worker reads whole
        follower = RegistryFollower(settings.bootstrap_servers, self.topics.publishers, reader(), self.trusted)
        #: Who may report what: the registry file (``MONITOR_PUBLISHERS``), else the publishers topic's newest.
        self.registries = RegistryInForce(settings.publishers, pack, follower)
        # Without rule files named, the rules are the rules topic's newest pack (the bundled one until it holds one).
        rules_topic: PackFollower | None = None
        if settings.rules_from_topic:
            rules_topic = PackFollower(settings.bootstrap_servers, self.topics.rules, reader(), self.trusted)
        # A record is handled, a checkpoint runs, or a pack or a registry is put in force: one at a time.
        self._handling = asyncio.Lock()
        self.admissions = AdmissionInForce(
            self.registries,
            pack,
            use_admission=lambda admission: self.processor.use_admission(admission),
            metrics=self.metrics,
            rules=rules_topic,
            checks_signatures=self.trusted is not None,
            ingest_token=settings.ingest_token is not None,
            publishers_topic=self.topics.publishers,
            between=self._handling,
        )
        #: Each publisher's refused events, from the dead-letter topic (every worker reads all of it).
        self.refusals = RefusalLog()
        self._refusal_follower = RefusalFollower(
            settings.bootstrap_servers, self.topics.dead_letter, reader(), self.refusals
        )
        self.app = build_app(settings)
        self._ingress = self.app.topic(*self.topics.partitioned, partitions=settings.partitions, **RAW)
        #: The fetched records of the ingress topics, on their way to the intake (the fetch loop offers them).
        self.lane = IngressLane(self.app, self.topics.partitioned)
        self.app.lane = self.lane
        self._items_table = "items"
        items = item_table(
            self.app,
            self._items_table,
            settings.partitions,
            write_buffer=settings.rocksdb_write_buffer,
            block_cache=settings.rocksdb_block_cache,
            on_corrupt=self.metrics.store_rebuilds.labels(CORRUPT).inc,
        )
        self.feed = AlertFeed()
        #: Operators' actions, silences, the delivery ledger: topics every worker follows whole (``shared``).
        self.shared = shared_records(
            settings,
            self.topics,
            reader,
            pack,
            send=lambda topic, key, value: self.outbox.send_now(topic, key, value),
            clock=clock,
            on_actions=self.feed.on_actions,
            forwards=lambda: 0 in self.owned_partitions(),
        )
        self.operators, self.silences = self.shared.operators, self.shared.silences
        sinks = build_sinks(
            settings,
            DeliveryMetrics(self.registry),
            clock,
            record=self.shared.deliveries.record,
            silencing=self.silences.silencing,
        )
        self.alertmanager, self.webhook = sinks
        self.sinks: list[Sink] = sinks.active
        listeners = tuple(sink.on_transition for sink in self.sinks)  # the owner delivers; every worker shows
        self.health = Health()
        self.alerts_topic = PublishedAlerts(
            settings.bootstrap_servers, self.topics.alerts, reader, settings.data_dir, (self.feed.on_transition,)
        )
        self.ledger = self.alerts_topic.ledger
        self.metrics.ledger_held.set_function(lambda: len(self.ledger))
        self.metrics.units_moving.set_function(
            lambda: sum(1 for s in self._owned_states() if s.pack_version != self.pack.version)
        )
        self.positions = ConsumerPositions(self.app, self.topics)
        self.membership = Membership(
            settings.session_timeout, settings.heartbeat_interval, self.positions.generation, self.health
        )
        store = ItemStore(ChangelogItemLog(self.app, items), cache=settings.item_cache)
        self.outbox = outbox = FaustOutbox(self.app, self.topics, self.positions.generation, settings.max_record_bytes)
        self.checkpoint = Checkpoint(
            store,
            AlertWriter(outbox, self.ledger, self.metrics, listeners),
            self.metrics,
            health=self.health,
            may_act=self.membership.may_act,
            release=lambda: self.app.producer.flush(),  # dead letters and re-routed events too
        )
        self.processor = Processor(
            pack,
            store,
            outbox,
            self.metrics,
            self.topics,
            settings.max_record_bytes,
            self.checkpoint,
            max_staged=settings.max_staged_writes,
            max_skew=timedelta(seconds=settings.max_clock_skew),
            caps=UnitCaps(settings.max_kinds_per_unit, settings.max_indicators_per_unit),
            admission=self.admission,
            tally=Tally(clock()),
            grant_key=settings.grant_key,
        )
        self.app.before_commit = self._before_commit
        self.takeover = Takeover(
            pack,
            self.processor,
            self.checkpoint,
            catch_up=self.alerts_topic.follower.catch_up,
            highwater=self.positions.highwater,
            committed=lambda topic, partition: self.positions.floor(Partition(topic, partition)),
            end_offset=lambda topic, partition: self.positions.end_offset(Partition(topic, partition)),
            data_topics=(self.topics.task_status, self.topics.indicators),
            grace=max(10.0, 3 * settings.tick_interval),
            monotonic=monotonic,
        )
        self.ownership = Ownership(
            self.app,
            self.positions,
            self.membership,
            self.takeover,
            self.health,
            reassigned=lambda: self.intake.reassigned,
            table=self._items_table,
        )
        self._broker_topics = AdminTopics(settings.bootstrap_servers, f"{settings.app_id}-watch", client)
        self.broker_watch = BrokerWatch(
            self._broker_topics.list_topics,
            [*self.topics.all, items.changelog_topic.get_topic_name()],
            self.health,
            give_up_after=settings.broker_loss_timeout,
        )
        self.fetch_guard = FetchGuard(
            assigned=self.positions.ingress,
            position=self.positions.position,
            floor=self.positions.floor,
            end=self.positions.end_offset,
            seek=self.positions.seek,
            can_check=self.ownership.steady,
            clockwork=(self.topics.ticks,),
            on_rewind=lambda tp, position, offset: self.metrics.rewinds.labels(tp.topic).inc(),
        )
        self.app.handled_through = self.fetch_guard.handled_through
        self.ticks = TickSource(self._send_tick, self.positions.assigned, settings.tick_interval, clock)
        self._state_collector = StateCollector(self._owned_states, pack, clock, settings.max_unlisted_units)
        self.registry.register(self._state_collector)
        lag = functools.partial(self.positions.lag, self.fetch_guard.expected)
        self.registry.register(OperatorCollector(lag, lambda: recovery_snapshot(self.app.tables.recovery)))  # type: ignore[attr-defined]
        self.registry.register(MemoryCollector.store(items.memory))
        self.registry.register(MemoryCollector.process(heap_parts))
        self.packs = PackInForce(
            pack,
            applied_at,
            files=settings.rules,
            follower=rules_topic,
            rules_topic=self.topics.rules,
            data_dir=settings.data_dir,
            metrics=self.metrics,
            use=self._use_pack,
            between=self._handling,
            tick=self.ticks.tick,
            on_withheld=self.admissions.count_refused_signatures,
            clock=clock,
        )
        #: The packs this worker has evaluated under or read from the rules topic, oldest first.
        self.pack_log = self.packs.log
        self.intake = Intake(
            between=self._handling,
            positions=self.positions,
            fetch_guard=self.fetch_guard,
            membership=self.membership,
            takeover=self.takeover,
            processor=self.processor,
            before_takeover=(self.packs.catch_up, self.admissions.catch_up),
            tick=self.ticks.tick,
            ticks_topic=self.topics.ticks,
            partitions=settings.partitions,
            clock=clock,
            when_idle=lambda: self.parts.checkpoint_now(),
            record_wait=self.metrics.record_wait,
            repair=StoreRepair(
                self.app,
                items,
                settings.data_dir,
                self.health,
                self.metrics.store_rebuilds,
                others=(self.alerts_topic.save_if_removed, self.deliveries.save_if_removed),
            ),
        )
        for topic in self.topics.partitioned:  # each ingress topic's series from the start, not from its first record
            self.metrics.record_wait.labels(topic)
        self.app.timer(2.0)(self.intake.watch_store)
        self.app.timer(TRIM_EVERY)(self._trim_slack)  # the allocator's leftovers of each burst go back
        self.parts = BackgroundParts(
            packs=self.packs,
            admissions=self.admissions,
            alerts=self.alerts_topic,
            refusals=self._refusal_follower,
            shared=self.shared,
            membership=self.membership,
            producer=lambda: self.app.producer._ensure_producer(),  # type: ignore[attr-defined]
            broker_watch=self.broker_watch,
            broker_topics=self._broker_topics,
            fetch_guard=self.fetch_guard,
            ticks=self.ticks,
            sinks=self.sinks,
            checkpoint=lambda: self.intake.checkpoint(self.checkpoint.flush),
            rebalancing=lambda: bool(self.app.rebalancing),
            flush_interval=settings.flush_interval,
        )
        self.app.topics.add(self._ingress)  # subscribed; its records go to the intake through the lane
        self.app.task(self._run_intake)
        self.app.task(self.parts.start)
        self.loop_watch = LoopWatch(self.registry)
        self.app.task(self.loop_watch.run)
        self.app.on_before_shutdown.connect(self._stop_background)
        self.app.on_partitions_assigned.connect(self.intake.on_assigned)
        if self.alertmanager is not None:
            self.app.timer(settings.alert_resend_interval)(self._resend_firing)

    async def reload_rules(self) -> bool:
        """Read the rule files again (SIGHUP); whether the worker now evaluates what they say (``PackInForce.reload``)."""
        return await self.packs.reload()

    def _use_pack(self, pack: RulePack) -> None:
        """Evaluate, admit and show under ``pack`` from the next record on (call between records)."""
        self.processor.use_pack(pack, self.admissions.use_pack(pack))
        if self.viewers is not None:
            self.viewers.use_pack(pack)
        self.takeover.use_pack(pack)
        self._state_collector.use_pack(pack)
        self.silences.calendar = WorkCalendar.of(pack.tz)

    def on_give_up(self, give_up: Callable[[str], None]) -> None:
        """What to do when the broker stays away: end the process non-zero (set by whoever runs the worker)."""
        self.broker_watch.give_up = give_up

    async def _before_commit(self) -> bool:
        """Whether offsets may be committed now: the checkpoint has run to its end (``Checkpoint.commit``)."""
        return await self.intake.checkpoint(self.checkpoint.commit)

    async def _run_intake(self) -> None:
        await self.intake.run(self.lane)

    async def _stop_background(self, *args: Any, **kwargs: Any) -> None:
        await self.parts.stop()

    async def _trim_slack(self) -> None:  # a timer: faust would hand ``trim_slack`` the app as its bound
        await trim_slack()

    async def _resend_firing(self) -> None:
        if self.alertmanager is not None and self.is_ready():
            log.debug("re-sent %d firing alerts to Alertmanager", self.alertmanager.resend(self.firing_alerts()))

    async def _send_tick(self, partition: int, now: datetime) -> None:
        await self.outbox.tick(self.topics.ticks, partition, encode_tick(now))
