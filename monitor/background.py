"""One named background task on the running loop: started once, cancelled and awaited on stop.

A stop is bounded: a task that does not end within ``STOP_SECONDS`` of its
cancellation (it swallowed it, or awaits something that ignores it) is left
behind with its stack logged, so that the worker's own stop goes on and the
log names the part that would have held it up.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

__all__ = ["STOP_SECONDS", "Background", "bounded"]

log = logging.getLogger(__name__)

#: Seconds one part of the worker may take to stop (the worker's whole stop is bounded at 9 s).
STOP_SECONDS = 2.0


async def bounded(name: str, work: Awaitable[Any], timeout: float = STOP_SECONDS) -> bool:
    """Await ``work`` for at most ``timeout`` seconds; whether it ended (its stack is logged if not)."""
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if done:  # one that failed is said, and the rest of the stop goes on
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("%s ended with %r", name, exc)
        return True
    stack = io.StringIO()
    task.print_stack(file=stack)
    log.error("%s did not stop within %gs; going on without it\n%s", name, timeout, stack.getvalue().rstrip())
    return False


class Background:
    """Runs ``work()`` as a task named ``name`` between ``start`` and ``stop``."""

    def __init__(self, name: str, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._name = name
        self._work = work
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether the task was started and not stopped."""
        return self._task is not None

    def start(self) -> None:
        """Start the task on the running loop (once)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._work(), name=self._name)

    async def stop(self, timeout: float = STOP_SECONDS) -> bool:
        """Cancel the task and wait for it to end (at most ``timeout`` seconds); whether it did."""
        task, self._task = self._task, None
        if task is None:
            return True
        task.cancel()
        return await bounded(f"background task {self._name}", task, timeout)
