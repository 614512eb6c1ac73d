"""What the HTTP layer reads of a worker: a read-only view, so views need no faust app to be tested."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from prometheus_client import CollectorRegistry

from monitor.actions import ActionBook, AlertAction
from monitor.delivery.feed import FeedItem
from monitor.kafka.batches import OutboundRecord
from monitor.kafka.records import InboundRecord
from monitor.kafka.topics import Topics
from monitor.metrics import Metrics
from monitor.publishers import Admission, RefusalLog, Tally
from monitor.settings import Settings
from monitor.silences import Silence, SilenceBook
from monitor.state.deliveries import DeliveryLog
from monitor.state.history import AlertHistory
from monitor.state.packs import PackLog
from monitor.viewers import ViewersFile
from rules.language import RulePack, WorkCalendar
from rules.state import AlertTransition, UnitState

__all__ = ["AlertFeedView", "OperatorsView", "PublishedView", "SilencesView", "WorkerView"]


class AlertFeedView(Protocol):
    """The live feed: subscriptions to new transitions and operators' actions."""

    def subscribe(self) -> asyncio.Queue[FeedItem]:
        """A queue that receives every transition and action from now on (``None``: reload)."""

    def unsubscribe(self, queue: asyncio.Queue[FeedItem]) -> None:
        """Stop delivering to ``queue``."""


class PublishedView(Protocol):
    """The alerts topic as the worker reads it whole: its last record per alert, and the history index."""

    @property
    def current(self) -> bool:
        """Whether the topic was read through once since the worker started."""

    def firing(self) -> list[AlertTransition]:
        """Every alert the topic says is firing, for every unit."""

    def last_record(self, fingerprint: str) -> AlertTransition | None:
        """The topic's last record of one alert (firing or resolved), if any."""

    def resolved(self, limit: int = 1000) -> list[AlertTransition]:
        """The ``limit`` alerts resolved last, for every unit."""

    def history_state(self) -> tuple[AlertHistory | None, str | None]:
        """The alert history index, and why it cannot answer now (``None`` when it can)."""


class SilencesView(Protocol):
    """The silences made by viewers, as a worker reads and writes them."""

    @property
    def book(self) -> SilenceBook:
        """Every silence read from the silences topic so far."""

    @property
    def calendar(self) -> WorkCalendar:
        """The time zone and holidays weekly silences are read in (the rule pack's)."""

    @property
    def current(self) -> bool:
        """Whether the silences topic has been read through once since the worker started."""

    def silencing(self, labels: Mapping[str, str], now: datetime | None = None) -> Silence | None:
        """The silence that silences an alert with ``labels`` now, if any."""

    async def put(self, silence: Silence) -> bool:
        """Publish a silence (new, or its early end); whether this worker read it back in time."""


class OperatorsView(Protocol):
    """Operators' actions on alerts, as a worker reads and writes them."""

    @property
    def book(self) -> ActionBook:
        """Every action read from the actions topic so far."""

    @property
    def current(self) -> bool:
        """Whether the actions topic has been read through once since the worker started."""

    async def act(self, action: AlertAction) -> bool:
        """Publish an action and wait until this worker has read it back; ``False``: not read back in time."""


class WorkerView(Protocol):
    """A worker as its HTTP routes see it."""

    @property
    def settings(self) -> Settings:
        """The worker's settings."""

    @property
    def pack(self) -> RulePack:
        """The rules."""

    @property
    def pack_applied_at(self) -> datetime:
        """Since when the worker evaluates ``pack`` (its start, or the reload that put it in force)."""

    @property
    def pack_log(self) -> PackLog:
        """The packs the worker has evaluated under or read from the rules topic, oldest first."""

    @property
    def topics(self) -> Topics:
        """The topic names."""

    @property
    def registry(self) -> CollectorRegistry:
        """The worker's metrics."""

    @property
    def metrics(self) -> Metrics:
        """The instruments the worker updates (HTTP ingestion counts its refusals in them)."""

    @property
    def admission(self) -> Admission | None:
        """Which publisher may report which unit; ``None`` in open mode (no publisher registry)."""

    @property
    def viewers(self) -> ViewersFile | None:
        """Who may read which units (``MONITOR_VIEWERS``); ``None``: anyone reads every unit."""

    async def dead_letter(self, record: InboundRecord, reason: str) -> None:
        """Send a refused record to the dead-letter topic and wait for the broker to have it."""

    @property
    def refusals(self) -> RefusalLog:
        """Each publisher's refused events, from the dead-letter topic."""

    @property
    def tally(self) -> Tally:
        """The events this worker took from each publisher since it started."""

    @property
    def feed(self) -> AlertFeedView:
        """The live alert feed."""

    def now(self) -> datetime:
        """The worker's clock."""

    def owned_partitions(self) -> set[int]:
        """Partitions this worker owns now."""

    def owned_states(self) -> list[UnitState]:
        """The states of the units in this worker's partitions."""

    def unit_state(self, unit_id: str) -> UnitState | None:
        """One unit's state, if this worker holds it."""

    @property
    def alerts_topic(self) -> PublishedView:
        """The alerts topic as this worker reads it (every worker follows all of it)."""

    @property
    def deliveries(self) -> DeliveryLog:
        """The delivery ledger: each notification's attempts and the peers' answers (every worker's)."""

    @property
    def silences(self) -> SilencesView:
        """The silences made by viewers (every worker follows all of them)."""

    @property
    def operators(self) -> OperatorsView:
        """Operators' actions on alerts: the actions topic, which every worker follows whole."""

    def answers_for(self, partition: int) -> bool:
        """Whether this worker owns ``partition`` and has read its units."""

    def partition_owners(self) -> dict[int, str]:
        """Each partition's owner (its advertised URL); empty while the group's assignment changes."""

    def is_ready(self) -> bool:
        """Whether the worker has joined its group and read its partitions' units."""

    def problems(self) -> dict[str, str]:
        """Why the worker cannot work now, by cause."""

    async def yield_to_records(self) -> None:
        """Let the loop turn between two slices of an answer's work, the records waiting for the agent first."""

    async def produce(self, records: Sequence[OutboundRecord]) -> None:
        """Produce records and return once the broker acknowledged each."""
