"""Operators' actions as a worker takes them: published to the actions topic, read back before it answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from monitor.actions import ActionBook, AlertAction
from monitor.background import Background
from monitor.state.actions import ActionFollower, action_record

__all__ = ["ACT_WAIT", "OperatorActions"]

#: Seconds an action's request waits for the worker to read the action back (the answer then shows it).
ACT_WAIT = 5.0


class OperatorActions:
    """The actions topic as one worker follows and writes it.

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
        send: Callable[[str, bytes, bytes], Awaitable[Any]],
    ) -> None:
        self.follower = ActionFollower(bootstrap, topic, client, ActionBook(), on_new)
        self._topic = topic
        self._send = send
        self._reader = Background("actions-read-through", self.follower.read_through)

    async def start(self) -> None:
        """Read the topic from its beginning, and follow it (``current`` once its backlog is read)."""
        await self.follower.start()
        self._reader.start()

    async def stop(self) -> None:
        """Stop reading."""
        await self._reader.stop()
        await self.follower.stop()

    @property
    def book(self) -> ActionBook:
        """Every action read so far."""
        return self.follower.book

    @property
    def current(self) -> bool:
        """Whether the topic has been read through once since the worker started."""
        return self.follower.current

    async def act(self, action: AlertAction, wait: float = ACT_WAIT) -> bool:
        """Publish ``action``; whether this worker read it back within ``wait`` seconds."""
        await self._send(self._topic, *action_record(action))
        return await self.follower.wait_for(action.id, wait)
