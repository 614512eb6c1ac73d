"""The dead-letter topic read by every worker for what each publisher is told of its refused events.

Every refused record is there, from Kafka and HTTP alike; those whose
events a publisher registry refused carry ``dlq_refused``, which names the
publishers (``monitor.publishers.feedback``). Every worker reads the topic
from its beginning and follows it, so any worker answers any publisher.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiokafka.structs import ConsumerRecord

from monitor.publishers import RefusalLog, refusals_of
from monitor.state.follower import TopicFollower

__all__ = ["RefusalFollower"]


class RefusalFollower(TopicFollower):
    """Follows the dead-letter topic into ``log``: each publisher's recent refusals and its counts by cause."""

    what = "publisher refusals"

    def __init__(self, bootstrap: str, topic: str, client: dict[str, Any], log: RefusalLog) -> None:
        super().__init__(bootstrap, topic, client)
        self.log = log

    def take(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """Each record's attributed refusals, remembered."""
        for record in records:
            self.log.extend(refusals_of(record.headers, record.timestamp))
