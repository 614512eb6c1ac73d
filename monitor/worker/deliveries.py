"""The delivery ledger as one worker writes and reads it: its sinks' attempts out, every worker's in."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from monitor.notifications import Delivery
from monitor.state.deliveries import DeliveryFollower, DeliveryLog

__all__ = ["DELIVERIES_FILE", "DeliveryLedger"]

log = logging.getLogger(__name__)

#: The ledger's file in the worker's data directory.
DELIVERIES_FILE = "deliveries.sqlite3"


class DeliveryLedger:
    """Publishes this worker's delivery attempts; follows every worker's into the local ledger.

    Args:
        bootstrap: The brokers.
        topic: The deliveries topic.
        client: The reader's client options (every worker reads all of the topic).
        data_dir: Where the ledger's file is.
        send: Produces one record (topic, key, value); the awaitable ends once the broker has it.
    """

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        client: dict[str, Any],
        data_dir: Path,
        send: Callable[[str, bytes, bytes], Coroutine[Any, Any, Any]],
    ) -> None:
        self.log = DeliveryLog(data_dir / DELIVERIES_FILE)
        self.follower = DeliveryFollower(bootstrap, topic, client, self.log)
        self._topic = topic
        self._send = send
        self._sending: set[asyncio.Task[Any]] = set()

    def record(self, delivery: Delivery) -> None:
        """Publish one attempt (in the background: a sink never waits for its ledger)."""
        value = delivery.model_dump_json(exclude_defaults=True).encode("utf-8")
        task = asyncio.get_running_loop().create_task(self._send(self._topic, delivery.fingerprint.encode(), value))
        self._sending.add(task)
        task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[Any]) -> None:
        self._sending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("delivery ledger: an attempt could not be published: %r", task.exception())

    async def start(self) -> None:
        """Follow the topic from where the local ledger read up to."""
        await self.follower.start()

    async def stop(self) -> None:
        """Stop following; close the file."""
        await self.follower.stop()
        self.log.close()
