"""Operators' actions as a worker takes them: published to the actions topic, read back before it answers."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from monitor.actions import ActionBook, AlertAction
from monitor.state.records import FollowedRecords, RecordFollower

__all__ = ["OperatorActions"]


class OperatorActions(FollowedRecords[AlertAction]):
    """The actions topic as one worker follows and writes it (``FollowedRecords``).

    Args:
        bootstrap: The brokers.
        topic: The actions topic.
        client: The reader's client options (every worker reads all of the topic).
        on_new: Told of the actions each read adds (the console's streams).
        send: Produces one record (topic, key, value); the awaitable ends once the broker has it.
    """

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        client: dict[str, Any],
        on_new: Callable[[list[AlertAction]], None],
        send: Callable[[str, bytes, bytes], Coroutine[Any, Any, Any]],
    ) -> None:
        self.book = ActionBook()
        super().__init__(RecordFollower(bootstrap, topic, client, AlertAction, self.book, on_new), send)

    async def act(self, action: AlertAction) -> bool:
        """Publish ``action``; whether this worker read it back in time."""
        return await self.publish(action.id, action, lambda: self.book.has(action.id))
