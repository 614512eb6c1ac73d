"""The live alert feed inside one worker: subscribers (the console's event stream)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TypeAlias

from monitor.actions import AlertAction
from rules.state import AlertTransition

__all__ = ["AlertFeed", "FeedItem"]

#: What a subscriber receives: a transition, an operator's action, or ``None`` (reload: it fell behind).
FeedItem: TypeAlias = AlertTransition | AlertAction | None


class AlertFeed:
    """Fans alert transitions and operators' actions out to live subscribers.

    Publishing never blocks: a subscriber that falls ``backlog`` transitions
    behind is told to reload (``None`` in its queue) instead of slowing the worker.
    """

    def __init__(self, backlog: int = 1000) -> None:
        self._subscribers: set[asyncio.Queue[FeedItem]] = set()
        self._backlog = backlog

    def on_transition(self, transition: AlertTransition) -> None:
        """Hand a transition to every subscriber; never blocks."""
        self._hand(transition)

    def on_actions(self, actions: Iterable[AlertAction]) -> None:
        """Hand each action taken to every subscriber; never blocks."""
        for action in actions:
            self._hand(action)

    def _hand(self, item: AlertTransition | AlertAction) -> None:
        for queue in list(self._subscribers):
            if queue.qsize() >= self._backlog:
                queue.put_nowait(None)  # the queue is unbounded: None means "reload", then it is dropped
                self._subscribers.discard(queue)
            else:
                queue.put_nowait(item)

    def subscribe(self) -> asyncio.Queue[FeedItem]:
        """A queue that receives every transition and action from now on."""
        queue: asyncio.Queue[FeedItem] = asyncio.Queue()
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[FeedItem]) -> None:
        """Stop delivering to ``queue``."""
        self._subscribers.discard(queue)

    @property
    def subscribers(self) -> int:
        """How many live subscribers there are."""
        return len(self._subscribers)
