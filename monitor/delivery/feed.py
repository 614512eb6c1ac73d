"""The live alert feed inside one worker: subscribers (the console's event stream)."""

from __future__ import annotations

import asyncio

from rules.state import AlertTransition

__all__ = ["AlertFeed"]


class AlertFeed:
    """Fans alert transitions out to live subscribers.

    Publishing never blocks: a subscriber that falls ``backlog`` transitions
    behind is told to reload (``None`` in its queue) instead of slowing the worker.
    """

    def __init__(self, backlog: int = 1000) -> None:
        self._subscribers: set[asyncio.Queue[AlertTransition | None]] = set()
        self._backlog = backlog

    def on_transition(self, transition: AlertTransition) -> None:
        """Hand a transition to every subscriber; never blocks."""
        for queue in list(self._subscribers):
            if queue.qsize() >= self._backlog:
                queue.put_nowait(None)  # the queue is unbounded: None means "reload", then it is dropped
                self._subscribers.discard(queue)
            else:
                queue.put_nowait(transition)

    def subscribe(self) -> asyncio.Queue[AlertTransition | None]:
        """A queue that receives every transition from now on."""
        queue: asyncio.Queue[AlertTransition | None] = asyncio.Queue()
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[AlertTransition | None]) -> None:
        """Stop delivering to ``queue``."""
        self._subscribers.discard(queue)

    @property
    def subscribers(self) -> int:
        """How many live subscribers there are."""
        return len(self._subscribers)
