"""The actions topic: every operator's action on an alert, read and followed by every worker.

A worker that takes an action (``POST /api/v1/alerts/{fingerprint}/actions``)
publishes it here and waits until its own follower has read it back, so the
answer it gives shows it; every other worker shows it as soon as its follower
reads it (within a poll, 100 ms). The topic has one partition, so every
worker takes the actions in the same order, and is compacted by action id,
so it keeps every action (the audit trail) and an action published twice
counts once. A record that is no action is logged and passed over.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from aiokafka.structs import ConsumerRecord
from pydantic import ValidationError

from monitor.actions import ActionBook, AlertAction
from monitor.state.follower import TopicFollower

__all__ = ["ActionFollower", "action_record"]

log = logging.getLogger(__name__)


def action_record(action: AlertAction) -> tuple[bytes, bytes]:
    """The key and value of an action's record."""
    return action.id.encode("ascii"), action.model_dump_json(exclude_none=True).encode("utf-8")


class ActionFollower(TopicFollower):
    """Follows the actions topic into ``book``; ``on_new`` hears of each batch of actions new to it.

    Args:
        bootstrap: The brokers.
        topic: The actions topic.
        client: The reader's client options.
        book: Where the actions go.
        on_new: Told of the actions each batch added (the console's streams are told of them).
    """

    what = "operator actions"

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        client: dict[str, Any],
        book: ActionBook,
        on_new: Callable[[list[AlertAction]], None] = lambda actions: None,
    ) -> None:
        super().__init__(bootstrap, topic, client)
        self.book = book
        self._on_new = on_new
        self._taken = asyncio.Condition()
        self.passed_over = 0  # records that held no action

    def take(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """Each record's action into the book, once; a record that is none is logged and passed over."""
        actions: list[AlertAction] = []
        for record in records:
            if record.value is None:  # a tombstone: nothing to take
                continue
            try:
                actions.append(AlertAction.model_validate_json(record.value))
            except ValidationError as exc:
                self.passed_over += 1
                first = exc.errors()[0]
                where = ".".join(map(str, first["loc"])) or "(record)"
                log.error(
                    "actions topic, offset %d: not an action: %s: %s; passed over", record.offset, where, first["msg"]
                )
        new = self.book.take_all(actions)
        if new:
            self._on_new(new)
            asyncio.get_running_loop().create_task(self._tell_waiters())

    async def _tell_waiters(self) -> None:
        async with self._taken:
            self._taken.notify_all()

    async def wait_for(self, action_id: str, timeout: float) -> bool:
        """Wait until the action with this id has been read back (``False``: not within ``timeout`` seconds)."""

        async def taken() -> None:
            async with self._taken:
                await self._taken.wait_for(lambda: self.book.has(action_id))

        try:
            await asyncio.wait_for(taken(), timeout)
        except TimeoutError:
            return self.book.has(action_id)
        return True
