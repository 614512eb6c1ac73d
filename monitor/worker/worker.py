"""The worker: a faust app wired to the processor, the takeover, ticks, delivery and metrics.

Wiring only: what happens to a record is ``processor``; how what it changed
becomes durable, is published and lets offsets be committed, ``checkpoint``;
what happens when a partition changes hands, ``takeover``; which publisher
registry admits events, ``publishers``. The worker serves no HTTP of its
own; whoever builds it registers the routes (``monitor.http``), reading it
through the ``owned_*``, ``published_firing``, ``partition_owners`` and ``is_ready`` methods below.

It is long (about 860 lines) because it is where faust's callbacks meet the
parts they drive (partitions assigned, offsets about to be committed, each
record the agent is handed, start and stop of every background part); the
logic of each part is in its own module.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from faust.types import TP
from prometheus_client import CollectorRegistry

from monitor.background import Background, bounded
from monitor.clock import Clock, NeverBackwards, utc_now
from monitor.delivery.feed import AlertFeed
from monitor.delivery.sinks import Sink, build_sinks
from monitor.exceptions import Fenced, MonitorError, StoreUnavailable
from monitor.kafka.batches import OutboundRecord
from monitor.kafka.client import client_options
from monitor.kafka.records import InboundRecord, dead_letter
from monitor.kafka.topics import Topics
from monitor.metrics import ConsumerLag, DeliveryMetrics, Metrics, OperatorCollector, StateCollector
from monitor.publishers import RefusalLog, Tally, load_trusted_keys
from monitor.settings import Settings
from monitor.state.changelog import ChangelogItemLog
from monitor.state.history import HISTORY_FILE, AlertHistory
from monitor.state.indexer import HistoryIndexer, index_matches_topic
from monitor.state.ledger import AlertLedger, LedgerFollower
from monitor.state.packs import AppliedPack, PackEntry, PackFollower, PackLog
from monitor.state.refusals import RefusalFollower
from monitor.state.registries import RegistryFollower
from monitor.state.rocks import item_table
from monitor.state.store import ItemStore
from monitor.version import VERSION
from monitor.viewers import ViewersFile
from monitor.worker.app import build_app
from monitor.worker.broker_watch import BrokerWatch
from monitor.worker.caps import UnitCaps
from monitor.worker.checkpoint import Checkpoint
from monitor.worker.fetch_guard import FetchGuard, Partition
from monitor.worker.health import Health
from monitor.worker.membership import Membership
from monitor.worker.outbox import RAW, AlertWriter, FaustOutbox
from monitor.worker.processor import Processor
from monitor.worker.publishers import RegistryInForce
from monitor.worker.recovery import recovery_snapshot
from monitor.worker.takeover import Takeover
from monitor.worker.ticks import TickSource, encode_tick
from rules.exceptions import RuleFileError
from rules.language import RulePack
from rules.loading import pack_diff
from rules.simulation import checked_pack
from rules.state import AlertState, AlertTransition, UnitState

__all__ = ["Worker"]

log = logging.getLogger(__name__)

#: Where, under the data directory, a worker writes the packs it read from the rules topic (one directory each).
PACKS_DIR = "rule-packs"


def _files_source(settings: Settings) -> str:
    where = ", ".join(map(str, settings.rules))
    return (
        f"the bundled pack {where} (the rules topic holds none yet)" if settings.rules_from_topic else f"files {where}"
    )


def _headers(raw: Any) -> tuple[tuple[str, bytes], ...]:
    if not raw:
        return ()
    items = raw.items() if isinstance(raw, dict) else raw
    return tuple((str(k), bytes(v or b"")) for k, v in items)


class Worker:
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
        self.pack = pack
        self.topics = Topics(settings.topic_prefix)
        self.registry = registry if registry is not None else CollectorRegistry()
        self.metrics = Metrics(self.registry, VERSION, pack.version)
        self.pack_applied_at = clock()
        #: The packs this worker has evaluated under or read from the rules topic, oldest first.
        self.pack_log = PackLog()
        self.pack_log.add(AppliedPack(pack.version, self.pack_applied_at, "", "", _files_source(settings), pack))
        clock = NeverBackwards(clock)
        self._clock = clock
        #: Who may report what: the registry file (``MONITOR_PUBLISHERS``), else the publishers topic's newest.
        #: Who may read which units: the viewers file, followed while the worker runs (``None``: anyone, every unit).
        self.viewers = ViewersFile(settings.viewers, pack) if settings.viewers is not None else None
        #: The working group's keys: with them, only the rule packs and registries they signed are put in force.
        self.trusted = load_trusted_keys(settings.trusted_keys) if settings.trusted_keys is not None else None
        if self.trusted is not None:
            log.info(
                "rules and publishers topics: only records signed by key %s count (MONITOR_TRUSTED_KEYS)",
                ", ".join(key.keyid for key in self.trusted),
            )
        follower = RegistryFollower(
            settings.bootstrap_servers, self.topics.publishers, client_options(settings), self.trusted
        )
        self.registries = RegistryInForce(settings.publishers, pack, follower)
        self.admission = self.registries.admission_for(pack)  # ``None``: open mode, every publisher every unit
        self._registries_read_for = -1  # the assignment after which the publishers topic was last read to its end
        #: Each publisher's refused events, from the dead-letter topic (every worker reads all of it).
        self.refusals = RefusalLog()
        self._refusal_follower = RefusalFollower(
            settings.bootstrap_servers, self.topics.dead_letter, client_options(settings), self.refusals
        )
        if self.admission is not None:
            log.info(
                "publisher registry %s (%s): %d publishers, each bound to its units",
                settings.publishers,
                self.admission.version,
                len(self.admission.publisher_ids),
            )
        self.app = build_app(settings)
        self._ingress = self.app.topic(*self.topics.partitioned, partitions=settings.partitions, **RAW)
        self._ticks = self.app.topic(self.topics.ticks, partitions=settings.partitions, **RAW)
        self._items_table = "items"
        items = item_table(
            self.app,
            self._items_table,
            settings.partitions,
            write_buffer=settings.rocksdb_write_buffer,
            block_cache=settings.rocksdb_block_cache,
        )
        self.feed = AlertFeed()
        sinks = build_sinks(settings, DeliveryMetrics(self.registry), clock)
        self.alertmanager, self.webhook = sinks
        self.sinks: list[Sink] = sinks.active
        listeners = tuple(sink.on_transition for sink in self.sinks)  # the owner delivers; every worker shows
        self.health = Health()
        self.ledger = AlertLedger()
        self._ledger_follower = LedgerFollower(
            self.ledger,
            settings.bootstrap_servers,
            self.topics.alerts,
            client_options(settings),
            listeners=(self.feed.on_transition,),
        )
        self._assigned_tick: asyncio.Task[None] | None = None
        self._pack_tick: asyncio.Task[None] | None = None
        self._drop_task: asyncio.Task[None] | None = None
        self._assigned_cache: tuple[object, frozenset[int]] | None = None
        self._reassigned = False  # partitions were assigned; the agent has not dropped the old state yet
        self.membership = Membership(
            settings.session_timeout,
            settings.heartbeat_interval,
            self._generation,
            self.health,
        )
        store = ItemStore(ChangelogItemLog(self.app, items), cache=settings.item_cache)
        outbox = FaustOutbox(self.app, self.topics, self._generation, settings.max_record_bytes)
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
        )
        # The agent handles a record, or a checkpoint runs: never both at once.
        self._handling = asyncio.Lock()
        self.app.before_commit = self._before_commit
        self.takeover = Takeover(
            pack,
            self.processor,
            self.checkpoint,
            catch_up=self._ledger_follower.catch_up,
            highwater=self._highwater,
            committed=lambda topic, partition: self._floor(Partition(topic, partition)),
            end_offset=lambda topic, partition: self._end_offset(Partition(topic, partition)),
            data_topics=(self.topics.task_status, self.topics.indicators),
            grace=max(10.0, 3 * settings.tick_interval),
            monotonic=monotonic,
        )
        self._admin: AIOKafkaAdminClient | None = None
        self.broker_watch = BrokerWatch(
            self._list_topics,
            [*self.topics.all, items.changelog_topic.get_topic_name()],
            self.health,
            give_up_after=settings.broker_loss_timeout,
        )
        self.fetch_guard = FetchGuard(
            assigned=self._assigned_ingress,
            position=self._position,
            floor=self._floor,
            end=self._end_offset,
            seek=self._seek,
            can_check=self._steady,
            clockwork=(self.topics.ticks,),
            on_rewind=lambda tp, position, offset: self.metrics.rewinds.labels(tp.topic).inc(),
        )
        self.app.handled_through = self.fetch_guard.handled_through
        self.ticks = TickSource(self._send_tick, self._assigned, settings.tick_interval, clock)
        self._state_collector = StateCollector(self._owned_states, pack, clock, settings.max_unlisted_units)
        self.registry.register(self._state_collector)
        self.registry.register(
            OperatorCollector(self._consumer_lag, lambda: recovery_snapshot(self.app.tables.recovery))  # type: ignore[attr-defined]
        )
        # Without rule files named, the rules are the rules topic's newest pack (the bundled one until it holds one).
        self._packs: PackFollower | None = None
        self._packs_taken = 0  # entries of the rules topic looked at
        self._assignments = 0  # partitions assigned so far
        self._packs_read_for = -1  # … when the rules topic was last read to its end after one
        if settings.rules_from_topic:
            self._packs = PackFollower(
                settings.bootstrap_servers, self.topics.rules, client_options(settings), self.trusted
            )
        self._pack_applier = Background("rule-pack-applier", self._apply_packs)
        self._registry_applier = Background("publisher-registry-applier", self._apply_registries)
        self.app.agent(self._ingress, name="compliance-process")(self._process)
        self.app.task(self._start_background)
        self.app.on_before_shutdown.connect(self._stop_background)
        self.app.on_partitions_assigned.connect(self._on_assigned)
        self._flusher = Background("flush-state", self._flush_every_interval)
        self._ledger_reader = Background("alerts-read-through", self._ledger_follower.read_through)
        self.history: AlertHistory | None = None  # opened at start, in the data directory
        self._history_indexer: HistoryIndexer | None = None
        if self.alertmanager is not None:
            self.app.timer(settings.alert_resend_interval)(self._resend_firing)

    def now(self) -> datetime:
        """The worker's clock."""
        return self._clock()

    async def produce(self, records: Sequence[OutboundRecord]) -> None:
        """Produce records and return once the broker acknowledged every one (HTTP ingestion)."""
        futures = [await self.app.topic(r.topic, **RAW).send(key=r.key, value=r.value) for r in records]
        for future in futures:
            await future

    async def dead_letter(self, record: InboundRecord, reason: str) -> None:
        """Send a refused record to the dead-letter topic, as the processor does, and wait for the broker (HTTP)."""
        letter = dead_letter(record, reason, self.settings.max_record_bytes)
        acknowledged = await self.app.producer.send(
            self.topics.dead_letter, letter.key, letter.value, None, None, letter.headers
        )
        await acknowledged

    @property
    def tally(self) -> Tally:
        """The events this worker took from each publisher since it started."""
        return self.processor.tally

    def owned_partitions(self) -> set[int]:
        """Partitions of the data topics this worker owns now; none while it may have lost them (a zombie).

        None either between an assignment and the agent's next record, while memory holds the old state.
        """
        if self.membership.in_doubt() or self._reassigned:
            return set()
        return self._assigned()

    def _assigned(self) -> set[int]:
        """Partitions the consumer was last assigned (worked out once per assignment: asked for every record)."""
        assignment = getattr(self.app.assignor, "_assignment", None)  # replaced, never changed, by each assignment
        cached = self._assigned_cache
        if cached is not None and cached[0] is assignment and assignment is not None:
            return set(cached[1])
        partitions = frozenset(
            tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == self.topics.ticks
        )
        self._assigned_cache = (assignment, partitions)
        return set(partitions)

    def is_ready(self) -> bool:
        """Whether the worker has joined its group, restored its tables and read its units into memory.

        A partition's units are read, and its alerts reconciled with the alerts
        topic, on its first record after assignment: within one tick interval.
        """
        if not self._member() or self.health.problems() or self._reassigned:
            return False
        return self.takeover.all_settled(self.owned_partitions())

    def _member(self) -> bool:
        """Whether the group's assignment stands: tables restored, no rebalance under way, membership not in doubt."""
        recovery = self.app.tables.recovery  # type: ignore[attr-defined]
        return recovery.completed.is_set() and not self.app.rebalancing and not self.membership.in_doubt()

    def problems(self) -> dict[str, str]:
        """Why the worker cannot work now, by cause (the state store, the broker, group membership)."""
        return self.health.problems()

    def _owned_states(self) -> Iterator[UnitState]:
        return self.processor.owned_states(self.owned_partitions())

    def owned_states(self) -> list[UnitState]:
        """The states of the units in this worker's partitions."""
        return list(self._owned_states())

    def unit_state(self, unit_id: str) -> UnitState | None:
        """One unit's state, if this worker holds it."""
        return self.processor.unit_state(unit_id)

    def firing_alerts(self) -> list[AlertState]:
        """Every alert firing now in this worker's partitions."""
        return [alert for state in self._owned_states() for alert in state.alerts.values()]

    def published_firing(self) -> list[AlertTransition]:
        """Every alert the alerts topic says is firing, for every unit (each worker follows the whole topic)."""
        return self.ledger.firing()

    def published_resolved(self, limit: int = 1000) -> list[AlertTransition]:
        """The ``limit`` alerts resolved last, for every unit, as the alerts topic says."""
        return self.ledger.resolved(limit)

    def alerts_current(self) -> bool:
        """Whether this worker has read the alerts topic through once since it started (its alerts are the topic's)."""
        return self._ledger_follower.current

    def history_state(self) -> tuple[AlertHistory | None, str | None]:
        """The alert history index, and why it cannot answer now (``None`` when it can)."""
        indexer = self._history_indexer
        if self.history is None or indexer is None:
            return None, "this worker has no alert history index (see its log)"
        if indexer.problem is not None:
            return self.history, indexer.problem
        if not indexer.current:
            return self.history, "this worker is still reading the alerts topic into its history index"
        return self.history, None

    def answers_for(self, partition: int) -> bool:
        """Whether this worker owns ``partition`` and has read its units: it may answer for them."""
        return partition in self.owned_partitions() and self.takeover.is_settled(partition) and self._member()

    def partition_owners(self) -> dict[int, str]:
        """Each partition's owner (the URL it advertises), as the group's assignment says; empty while it changes.

        Read from faust's partition assignor, which hands every member the
        other members' ``canonical_url`` with each assignment (``app.router``).
        """
        if not self._member():
            return {}
        metadata = self.app.router.table_metadata(self._items_table)
        return {p: url for url, topics in metadata.items() for parts in topics.values() for p in parts}

    async def reload_rules(self) -> bool:
        """Read the rule files again (SIGHUP); whether the worker now evaluates what they say.

        The new pack must load and the rule tests among the files must pass, as
        ``rules check`` and ``rules test`` would say; otherwise every problem is
        logged and the pack in force stays. A new pack takes over between two
        records, on every partition at once, and each unit is evaluated under it
        at once (a tick): rules added fire, alerts of rules removed resolve
        (``rule_removed``), of units off a roster too (``no_longer_rostered``).
        """
        old = self.pack
        if self._packs is not None:
            log.warning(
                "SIGHUP: this worker follows the rules topic %s; apply rules with `monitor rules apply`",
                self.topics.rules,
            )
            return False
        try:
            pack = await asyncio.to_thread(checked_pack, self.settings.rules)
        except RuleFileError as exc:
            for problem in exc.problems:
                log.error("rules not reloaded: %s", problem)
            log.error("rules not reloaded: %d problem(s); pack %s stays in force", len(exc.problems), old.version)
            return False
        except (OSError, MonitorError) as exc:
            log.error("rules not reloaded: %s; pack %s stays in force", exc, old.version)
            return False
        if pack.version == old.version:
            log.warning("rules reloaded: pack %s, unchanged", old.version)
            return True
        applied = AppliedPack(pack.version, self._clock(), "", "SIGHUP", _files_source(self.settings), pack)
        self.pack_log.add(applied)
        async with self._handling:  # between records
            self._switch(applied)
        await self.ticks.tick()  # every unit evaluated under the new pack now, not at the next interval
        return True

    def _switch(self, applied: AppliedPack) -> None:
        """Evaluate under ``applied.pack`` from the next record on, on every partition (call between records)."""
        pack, old = applied.pack, self.pack
        assert pack is not None
        diff = pack_diff(old, pack)
        self.pack, self.pack_applied_at = pack, self._clock()
        self.admission = self.registries.admission_for(pack)
        self.processor.use_pack(pack, self.admission)
        if self.viewers is not None:
            self.viewers.use_pack(pack)
        self.takeover.use_pack(pack)
        self._state_collector.use_pack(pack)
        self.metrics.pack_changed(old.version, pack.version)
        log.warning(
            "rules: pack %s → %s from %s (%d rule(s) added, %d removed, %d changed, %d roster(s) changed)",
            old.version,
            pack.version,
            applied.source,
            len(diff.added),
            len(diff.removed),
            len(diff.changed),
            len(diff.rosters) + len(diff.rosters_added) + len(diff.rosters_removed),
        )

    async def _apply_packs(self) -> None:
        """Follow the rules topic: each new newest pack is put in force between two records, then every unit ticked."""
        assert self._packs is not None
        while True:
            await self._packs.changed.wait()
            self._packs.changed.clear()
            async with self._handling:
                switched = await self._take_packs()
            if switched:
                await self.ticks.tick()  # every unit evaluated under the new pack now, not at the next interval

    async def _take_packs(self) -> bool:
        """Load the rules topic's entries not looked at yet; put the newest in force if it loads (call between records).

        Whether the pack in force changed. An entry that does not load is
        logged, and the pack in force stays; one whose signature is refused
        (``MONITOR_TRUSTED_KEYS``) is logged, counted and kept in the pack log,
        and passed over.
        """
        if self._packs is None:
            return False
        new = self._packs.entries[self._packs_taken :]
        self._packs_taken += len(new)
        newest: AppliedPack | None = None
        for entry in new:
            if entry.withheld is not None:  # its signature refused: shown in the history, never in force
                withheld = entry.withheld
                source = f"rules topic {self.topics.rules} offset {entry.offset}"
                refused = AppliedPack(
                    withheld.version,
                    withheld.applied_at,
                    withheld.applied_by,
                    withheld.message,
                    source,
                    problem=entry.problem,
                )
                self.pack_log.add(refused)  # not the newest: a forged record must not hold back a signed one
                self._count_refused_signatures()
                continue
            if entry.pack is None:
                continue
            applied = await asyncio.to_thread(self._load_published, entry)
            self.pack_log.add(applied)
            newest = applied
        if newest is None:
            return False
        self.metrics.pack_refused.set(1 if newest.pack is None else 0)
        if newest.pack is None or newest.version == self.pack.version:
            return False
        self._switch(newest)
        return True

    def _load_published(self, entry: PackEntry) -> AppliedPack:
        published = entry.pack
        assert published is not None
        source = f"rules topic {self.topics.rules} offset {entry.offset}"
        applied = AppliedPack(published.version, published.applied_at, published.applied_by, published.message, source)
        try:
            pack = published.load(self.settings.data_dir / PACKS_DIR)
        except RuleFileError as exc:
            for problem in exc.problems:
                log.error(
                    "rules topic offset %d: pack %s does not load here: %s", entry.offset, published.version, problem
                )
            return dataclasses.replace(applied, problem=f"{len(exc.problems)} problem(s): {exc.problems[0]}")
        except OSError as exc:
            log.error(
                "rules topic offset %d: pack %s cannot be written to disk: %s", entry.offset, published.version, exc
            )
            return dataclasses.replace(applied, problem=str(exc))
        if pack.version != published.version:
            log.warning(
                "rules topic offset %d: pack %s loads here as %s (another monitor version applied it)",
                entry.offset,
                published.version,
                pack.version,
            )
        return dataclasses.replace(applied, version=pack.version, pack=pack)

    async def _publishers_caught_up(self) -> None:
        """Before a partition's first record after an assignment: the publishers topic read to its end, in force.

        So no event is admitted under an older registry than the newest applied (call between records).
        """
        if self.registries.follower is None or self._registries_read_for == self._assignments:
            return
        self._registries_read_for = self._assignments
        if await self.registries.catch_up():
            self._use_registry()
        self._count_refused_signatures()

    async def _say_registry_mode(self) -> None:
        """Log, once at start, that the worker is in open mode when no registry is configured or applied."""
        follower = self.registries.follower
        if follower is not None:
            await follower.catch_up(timeout=10.0, stalled_reads=10)
            if any(entry.registry is not None for entry in follower.entries):
                return  # in force from the first record on
        if self.admission is None:
            log.warning(
                "open mode: no publisher registry (MONITOR_PUBLISHERS, or one applied to the publishers topic %s "
                "with monitor publishers apply FILE), so every publisher may report every unit",
                self.topics.publishers,
            )

    async def _apply_registries(self) -> None:
        """Follow the publishers topic: each new newest registry is put in force between two records."""
        follower = self.registries.follower
        assert follower is not None
        while True:
            await follower.changed.wait()
            follower.changed.clear()
            async with self._handling:
                if self.registries.take():
                    self._use_registry()
                self._count_refused_signatures()

    def _count_refused_signatures(self) -> None:
        """The records of the rules and publishers topics kept out of force for their signature, as metrics."""
        for topic, follower in (("rules", self._packs), ("publishers", self.registries.follower)):
            if follower is not None and self.trusted is not None:
                refused = sum(1 for entry in follower.entries if entry.withheld is not None)
                self.metrics.signature_refused.labels(topic).set(refused)

    def _use_registry(self) -> None:
        """Admit events by the registry in force from the next record on (call between records)."""
        self.admission = self.registries.admission_for(self.pack)
        self.processor.use_admission(self.admission)
        if self.admission is not None and self.settings.ingest_token is not None:
            log.warning(
                "MONITOR_INGEST_TOKEN is ignored from now on: with a publisher registry each publisher sends its own token"
            )

    async def _rules_caught_up(self) -> None:
        """Before a partition's first record after an assignment: the rules topic read to its end, its pack in force.

        So a worker never evaluates a unit under an older pack than the one its
        last owner evaluated it under (call between records).
        """
        assignment = self._assignments
        if self._packs is None or self._packs_read_for == assignment:
            return  # read to its end since the last assignment
        if await self._packs.catch_up(timeout=10.0, stalled_reads=10):
            self._packs_read_for = assignment
        else:
            log.warning("rules topic not read to its end; going on under pack %s", self.pack.version)
        if await self._take_packs():
            self._pack_tick = asyncio.get_running_loop().create_task(self.ticks.tick(), name="tick-on-new-pack")

    def on_give_up(self, give_up: Callable[[str], None]) -> None:
        """What to do when the broker stays away: end the process non-zero (set by whoever runs the worker)."""
        self.broker_watch.give_up = give_up

    async def _list_topics(self) -> list[str]:
        if self._admin is None:
            admin = AIOKafkaAdminClient(
                bootstrap_servers=self.settings.bootstrap_servers,
                client_id=f"{self.settings.app_id}-watch",
                request_timeout_ms=4000,
                **client_options(self.settings),
            )
            await admin.start()
            self._admin = admin
        try:
            topics: list[str] = await self._admin.list_topics()
        except Exception:
            admin, self._admin = self._admin, None
            with contextlib.suppress(Exception):
                await admin.close()
            raise
        return topics

    def _generation(self) -> int | None:
        """The consumer group generation the consumer holds now (-1: not a member), if it can be read."""
        consumer: Any = self.app.consumer
        try:
            coordinator = consumer._thread._consumer._coordinator
            generation: int = coordinator.generation
        except AttributeError:  # not started yet, or another consumer implementation
            return None
        return generation

    def _assigned_ingress(self) -> list[Partition]:
        ingress = set(self.topics.partitioned)
        return [Partition(tp.topic, tp.partition) for tp in self.app.consumer.assignment() if tp.topic in ingress]

    async def _position(self, tp: Partition) -> int | None:
        position: int | None = await asyncio.wait_for(self.app.consumer.position(TP(*tp)), timeout=2.0)
        return position

    def _floor(self, tp: Partition) -> int | None:
        floor: int | None = self.app.consumer.floor(TP(*tp))  # type: ignore[attr-defined]
        return floor

    async def _end_offset(self, tp: Partition) -> int | None:
        ends = await asyncio.wait_for(self.app.consumer.highwaters(TP(*tp)), timeout=2.0)
        end: int | None = next(iter(ends.values()), None)
        return end

    async def _seek(self, tp: Partition, offset: int) -> None:
        self.app.consumer.resume_partitions([TP(*tp)])
        await self.app.consumer.seek(TP(*tp), offset)

    def _steady(self) -> bool:
        """Whether the consumer's positions are its own: no rebalance, recovery or held flow under way."""
        consumer: Any = self.app.consumer
        return self._member() and bool(consumer.flow_active)

    def _consumer_lag(self) -> Iterator[ConsumerLag]:
        """Records behind in each owned ingress partition: its end as last fetched, less the next offset to handle."""
        try:
            assigned = self._assigned_ingress()
        except Exception:  # the consumer is not started yet: nothing is owned
            return
        for tp in assigned:
            end = self._highwater(tp.topic, tp.partition)
            if end is not None:
                yield tp.topic, tp.partition, max(0, end - self.fetch_guard.expected(tp))

    def _highwater(self, topic: str, partition: int) -> int | None:
        try:
            end: int | None = self.app.consumer.highwater(TP(topic, partition))
        except Exception:  # not known yet: the grace period alone decides
            return None
        return end

    async def _open_history(self) -> tuple[dict[int, int], list[AlertTransition]]:
        """Open the history index and read where it stands; without one (it cannot be opened), from the beginning."""
        path = self.settings.data_dir / HISTORY_FILE
        settings = self.settings
        try:
            self.history = await asyncio.to_thread(AlertHistory, path)
            marks = self.history.marks()
            if not await index_matches_topic(
                settings.bootstrap_servers, self.topics.alerts, client_options(settings), marks
            ):
                log.warning("alert history: %s is of another alerts topic; indexing this one from its beginning", path)
                await asyncio.to_thread(self.history.clear)
            return await asyncio.to_thread(self.history.snapshot)
        except Exception as exc:
            log.error("alert history: cannot open %s (%s); reading the alerts topic from its beginning", path, exc)
            if self.history is not None:
                with contextlib.suppress(Exception):
                    self.history.close()
            self.history = None
            return {}, []

    async def _start_background(self) -> None:
        if self._packs is not None:
            await self._packs.start()
            self._pack_applier.start()
        if self.registries.follower is not None:
            # Followed, and put in force between two records (``_apply_registries``, ``_publishers_caught_up``):
            # never under the agent's lock here, whose holder may be waiting for what starts below.
            await self.registries.follower.start()
            self._registry_applier.start()
        positions, known = await self._open_history()
        started = time.monotonic()
        await self._ledger_follower.start(positions, known)
        self._ledger_reader.start()
        if self.history is not None:
            self._history_indexer = HistoryIndexer(
                self.history, self.settings.bootstrap_servers, self.topics.alerts, client_options(self.settings)
            )
            await self._history_indexer.start()
        log.info(
            "alert ledger: %d alerts known from the history index in %.1fs", len(known), time.monotonic() - started
        )
        await self._say_registry_mode()
        await self._refusal_follower.start()
        self.membership.start()
        self.broker_watch.start()
        self.fetch_guard.start()
        self._flusher.start()
        self.ticks.start()
        for sink in self.sinks:
            sink.start()

    async def _on_assigned(self, *args: Any, **kwargs: Any) -> None:
        # State in memory is valid only while this worker owned a partition without a break, and a
        # worker cannot tell a kept partition from one another worker held meanwhile (it was frozen,
        # or cut off): every partition is read again from the local store, which faust has brought
        # up to date with the changelog, before anything is evaluated, published or answered.
        # The agent may be in the middle of a record (faust calls this between its awaits): its
        # staged writes and outbox must reach the store before the state is dropped, so the drop
        # happens at the agent's next record boundary (``_reread_if_assigned``).
        self.membership.assigned()
        self._reassigned = True
        self._assignments += 1
        if not self._assigned():  # no record will come to drop the old state: drop it once the agent is between records
            self._drop_task = asyncio.get_running_loop().create_task(self._drop_when_idle(), name="drop-old-state")
        # Tick the new partitions now rather than at the next interval: their units are
        # read into memory and reconciled on their first record, and only then is the worker ready.
        self._assigned_tick = asyncio.get_running_loop().create_task(self.ticks.tick(), name="tick-on-assignment")

    def _leave(self, message: Any) -> None:
        """The agent leaves a record it was handed: it is not acknowledged, and is read again (here or elsewhere)."""
        self.app.consumer.skip(message)  # type: ignore[attr-defined]
        self.fetch_guard.handled()

    async def _flush_every_interval(self) -> None:
        while True:
            await asyncio.sleep(self.settings.flush_interval)
            if self.app.rebalancing:  # a rebalance commits, and checkpoints before it (``_before_commit``)
                continue
            try:
                await asyncio.shield(self._checkpoint(self.checkpoint.flush))  # once begun, it ends (even at shutdown)
            except Exception:  # the next interval tries again; the worker goes on
                log.exception("flushing the state failed")

    async def _before_commit(self) -> bool:
        """Whether offsets may be committed now: the checkpoint has run to its end (``Checkpoint.commit``)."""
        return await self._checkpoint(self.checkpoint.commit)

    async def _checkpoint(self, run: Callable[[], Awaitable[object]]) -> bool:
        """Run the checkpoint between records; whether it ran to its end.

        Not after an assignment until the agent has dropped the state from
        before it (that state is read again); a fenced worker forgets what it
        has not made durable; a failing store leaves it staged.
        """
        if self._reassigned:
            return False
        async with self._handling:
            if self._reassigned:
                return False
            try:
                await run()
            except Fenced:
                self._forget_unflushed()
                return False
            except StoreUnavailable:
                return False
        return True

    def _forget_unflushed(self) -> None:
        """Drop the state in memory, durable or not; the records handled since the last commit are read again.

        The consumer forgets that it handled them, and the fetch guard, reset,
        seeks each partition back to its committed offset at its next record.
        """
        self.processor.keep(set())
        self.app.consumer.forget([TP(*tp) for tp in self._assigned_ingress()])  # type: ignore[attr-defined]
        self.fetch_guard.reset()

    async def _drop_when_idle(self) -> None:
        async with self._handling:
            self._reread_if_assigned()

    def _reread_if_assigned(self) -> None:
        """At a record boundary after an assignment: drop every partition's state, to be read again."""
        if self._reassigned:
            self._reassigned = False
            self.fetch_guard.reset()
            self.takeover.reset()
            self.processor.keep(set())

    async def _stop_background(self, *args: Any, **kwargs: Any) -> None:
        # Each part stops within its own bound, and one that fails or hangs is logged and passed:
        # the rest (the producer's flush, the web server) still stop within the worker's deadline.
        self.ticks.stop()
        parts: list[tuple[str, Callable[[], Awaitable[object]]]] = [
            ("rule pack applier", self._pack_applier.stop),
            ("publisher registry applier", self._registry_applier.stop),
            ("membership", self.membership.stop),
            ("broker watch", self.broker_watch.stop),
            ("fetch guard", self.fetch_guard.stop),
            ("state flusher", self._flusher.stop),
            ("alert ledger read-through", self._ledger_reader.stop),
            ("alert ledger", self._ledger_follower.stop),
            ("publisher refusals", self._refusal_follower.stop),
        ]
        if self._admin is not None:
            parts.append(("admin client", self._admin.close))
        if self._packs is not None:
            parts.append(("rules topic", self._packs.stop))
        if self.registries.follower is not None:
            parts.append(("publishers topic", self.registries.follower.stop))
        if self._history_indexer is not None:
            parts.append(("alert history indexer", self._history_indexer.stop))
        parts.extend((f"{type(sink).__name__}", sink.stop) for sink in self.sinks)
        for name, stop in parts:
            await bounded(name, stop())
        if self.history is not None:
            self.history.close()

    async def _resend_firing(self) -> None:
        if self.alertmanager is not None and self.is_ready():
            count = self.alertmanager.resend(self.firing_alerts())
            log.debug("re-sent %d firing alerts to Alertmanager", count)

    async def _send_tick(self, partition: int, now: datetime) -> None:
        await self._ticks.send(key=b"tick", value=encode_tick(now), partition=partition)

    async def _reject_after_fault(self, record: InboundRecord, exc: Exception) -> None:
        """Dead-letter a record whose handling failed; a failure to do even that is logged, never raised.

        Raised, it would crash the agent, which faust restarts past the record anyway.
        """
        try:
            await self.processor.reject(record, f"internal error: {type(exc).__name__}: {exc}")
        except Exception:
            log.exception(
                "could not dead-letter %s[%d]@%d (%d bytes)",
                record.topic,
                record.partition,
                record.offset,
                len(record.value or b""),
            )

    async def _process(self, stream: Any) -> None:
        async for event in stream.events():
            async with self._handling:
                await self._handle(event.message)

    async def _handle(self, message: Any) -> None:
        now = self._clock()
        record = InboundRecord(
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key,
            value=message.value,
            headers=_headers(message.headers),
            timestamp=message.timestamp,
        )
        is_tick = record.topic == self.topics.ticks
        self._reread_if_assigned()
        self.fetch_guard.handling()
        tp = Partition(record.topic, record.partition)
        try:
            if not await self.membership.may_act():
                raise Fenced("lost group membership")
            if record.partition not in self._assigned():  # it moved while the record waited: its owner has it
                self._leave(message)
                return
            if not self.fetch_guard.placed(tp):  # before the seek to the committed offset: it comes again
                self._leave(message)
                return
            missing = self.fetch_guard.gap_before(tp, record.offset)
            if missing is not None:  # records before it never reached the agent: read them first
                self._leave(message)
                await self.fetch_guard.rewind(tp, missing, record.offset)
                return
            partitions = self.app.consumer.topic_partitions(record.topic) or self.settings.partitions
            if not self.takeover.is_settled(record.partition):
                await self._rules_caught_up()
                await self._publishers_caught_up()
                await self.takeover.settle(record.partition, self._assigned(), partitions, now)
                self.membership.excuse()  # reading the state was our own work: the consumer kept heartbeating
                if self._reassigned or record.partition not in self._assigned():
                    # Partitions were assigned while this one was being read: what was read may predate the
                    # assignment. The record comes again, after the state is dropped and read anew.
                    self._leave(message)
                    return
            if is_tick:
                if self.takeover.has_read_backlog(record.partition):  # absence is judged only once it is read
                    await self.processor.on_tick(record.partition, partitions, now)
                await self.takeover.on_tick(record.partition, now)
            else:
                catching_up = not self.takeover.has_read_backlog(record.partition)
                await self.processor.on_record(record, partitions, now, catching_up=catching_up)
        except Fenced:  # the partitions' next owner redoes this record, from state rebuilt from the changelog
            self._forget_unflushed()
            self._leave(message)
            return
        except Exception as exc:  # one bad record must never stop the worker
            log.exception("failed to process %s[%d]@%d", record.topic, record.partition, record.offset)
            if not is_tick:
                await self._reject_after_fault(record, exc)
        self.fetch_guard.handled(tp, record.offset)
        if not is_tick:
            self.takeover.handled(record.topic, record.partition, record.offset)
