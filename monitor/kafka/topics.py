"""Topic names, which topic an event goes to, and topic creation."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from events.models import Event, EventKind, IndicatorEvent
from monitor.kafka.client import start_client

__all__ = ["Topics", "ensure_topics"]


@dataclass(frozen=True, slots=True)
class Topics:
    """The names of the monitor's topics, under one prefix."""

    prefix: str = "compliance."

    @property
    def task_status(self) -> str:
        """Ingress: task-status events."""
        return f"{self.prefix}task-status"

    @property
    def indicators(self) -> str:
        """Ingress: indicator events."""
        return f"{self.prefix}indicators"

    @property
    def ticks(self) -> str:
        """Wall-clock ticks, co-partitioned with the ingress topics."""
        return f"{self.prefix}ticks"

    @property
    def alerts(self) -> str:
        """Egress: one record per alert transition."""
        return f"{self.prefix}alerts"

    @property
    def dead_letter(self) -> str:
        """Egress: records the monitor could not accept."""
        return f"{self.prefix}dead-letter"

    @property
    def rules(self) -> str:
        """The rule packs applied (``monitor rules apply``): one partition, compacted by pack version."""
        return f"{self.prefix}rules"

    @property
    def publishers(self) -> str:
        """The publisher registries applied (``monitor publishers apply``): one partition, compacted by version."""
        return f"{self.prefix}publishers"

    @property
    def actions(self) -> str:
        """Operators' actions on alerts (acknowledge, assign, note): one partition, compacted by action id."""
        return f"{self.prefix}actions"

    @property
    def silences(self) -> str:
        """Silences made by viewers: one partition, compacted by silence id (the newest record of each in force)."""
        return f"{self.prefix}silences"

    @property
    def deliveries(self) -> str:
        """The delivery ledger: each notification's attempts and the peers' answers, keyed by alert fingerprint."""
        return f"{self.prefix}deliveries"

    @property
    def partitioned(self) -> tuple[str, ...]:
        """Topics whose partition N holds the state of the same units."""
        return (self.task_status, self.indicators, self.ticks)

    @property
    def all(self) -> tuple[str, ...]:
        """Every topic the monitor reads or writes."""
        return (
            *self.partitioned,
            self.alerts,
            self.dead_letter,
            self.rules,
            self.publishers,
            self.actions,
            self.silences,
            self.deliveries,
        )

    def kind_of(self, topic: str) -> EventKind:
        """The kind of a bare event on an ingress topic."""
        return EventKind.INDICATOR if topic == self.indicators else EventKind.TASK_STATUS

    def for_event(self, event: Event) -> str:
        """The ingress topic an event is published to."""
        return self.indicators if isinstance(event, IndicatorEvent) else self.task_status  # an extension: a task's


def _new_topic(topics: Topics, name: str, partitions: int, replication: int) -> NewTopic:
    if name in (
        topics.rules,
        topics.publishers,
        topics.actions,
    ):  # every worker reads all; compaction keeps each key's last
        config = {"cleanup.policy": "compact"}
        return NewTopic(name, num_partitions=1, replication_factor=replication, topic_configs=config)
    return NewTopic(name, num_partitions=partitions, replication_factor=replication)


async def ensure_topics(
    bootstrap_servers: str,
    topics: Topics,
    partitions: int,
    replication: int = 1,
    only: tuple[str, ...] | None = None,
    **client: Any,
) -> list[str]:
    """Create the monitor's topics (or those of ``only``) that do not exist yet; return the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="compliance-monitor-admin", **client)
    await start_client(admin, bootstrap_servers)
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in (only or topics.all) if name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another worker created them first
                await admin.create_topics([_new_topic(topics, name, partitions, replication) for name in missing])
        return missing
    finally:
        await admin.close()
