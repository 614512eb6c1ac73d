"""Whether the broker is there, with the worker's topics: ``/readyz`` within seconds, and a bounded wait.

A broker that is gone (or restarted empty, without the monitor's topics)
leaves a faust worker alive and retrying forever. The watch asks the broker
for its topics every ``interval`` seconds; while it cannot answer, or a topic
is missing, the worker is not ready and says why; after ``give_up_after``
seconds of that, the worker gives up so that its orchestrator restarts it
(and the restart recreates the topics).

The worker asks through ``AdminTopics``, an admin client started on the
first look and started anew after one that failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from monitor.background import Background
from monitor.worker.health import Health

__all__ = ["AdminTopics", "BrokerWatch", "TopicLister"]

log = logging.getLogger(__name__)

_CAUSE = "broker"

#: Asks the broker for the names of its topics; raises when it cannot.
TopicLister = Callable[[], Awaitable[Iterable[str]]]


class BrokerWatch:
    """Checks the broker and the topics the worker needs.

    Args:
        list_topics: Asks the broker for its topics.
        required: The topics the worker cannot work without.
        health: Where a problem is reported.
        give_up_after: Seconds of trouble after which ``give_up`` is called.
        give_up: Ends the worker (non-zero exit), with the reason.
        interval: Seconds between checks.
        timeout: Seconds a check may take.
        monotonic: The clock.
        sleep: How to wait.
    """

    def __init__(
        self,
        list_topics: TopicLister,
        required: Iterable[str],
        health: Health,
        *,
        give_up_after: float,
        give_up: Callable[[str], None] | None = None,
        interval: float = 2.0,
        timeout: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._list_topics = list_topics
        self._required = sorted(set(required))
        self._health = health
        self._give_up_after = give_up_after
        self.give_up = give_up
        self._interval = interval
        self._timeout = timeout
        self._monotonic = monotonic
        self._sleep = sleep
        self._since: float | None = None
        self._checker = Background("broker-watch", self._run)

    async def check(self) -> str | None:
        """One look: the problem, or ``None`` when the broker answers with every topic."""
        problem: str | None
        try:
            async with asyncio.timeout(self._timeout):
                topics = set(await self._list_topics())
        except Exception as exc:  # unreachable, timed out, refused: all mean the same to the worker
            problem = f"the broker does not answer: {type(exc).__name__}: {exc}"
        else:
            missing = [t for t in self._required if t not in topics]
            problem = f"topics missing on the broker: {', '.join(missing)}" if missing else None
        now = self._monotonic()
        if problem is None:
            if self._health.clear_problem(_CAUSE):
                log.warning("the broker answers again with every topic")
            self._since = None
            return None
        if self._health.set_problem(_CAUSE, problem):
            log.error("%s; not ready (giving up after %.0fs)", problem, self._give_up_after)
        if self._since is None:
            self._since = now
        elif now - self._since >= self._give_up_after and self.give_up is not None:
            self.give_up(f"{problem} for {now - self._since:.0f}s")
        return problem

    def start(self) -> None:
        """Check in the background."""
        self._checker.start()

    async def stop(self) -> None:
        """Stop checking."""
        await self._checker.stop()

    async def _run(self) -> None:
        while True:
            await self.check()
            await self._sleep(self._interval)


class AdminTopics:
    """A ``TopicLister`` over an aiokafka admin client, started on first use; one that fails is closed and dropped.

    Args:
        bootstrap_servers: The broker.
        client_id: The admin client's id.
        client: Makes the client's options (asked for each client, when it is started).
    """

    def __init__(self, bootstrap_servers: str, client_id: str, client: Callable[[], dict[str, Any]]) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._client_id = client_id
        self._client = client
        self._admin: AIOKafkaAdminClient | None = None

    @property
    def is_open(self) -> bool:
        """Whether an admin client is started (``close`` has one to close)."""
        return self._admin is not None

    async def list_topics(self) -> list[str]:
        """The broker's topics; raises when it cannot say."""
        if self._admin is None:
            admin = AIOKafkaAdminClient(
                bootstrap_servers=self._bootstrap_servers,
                client_id=self._client_id,
                request_timeout_ms=4000,
                **self._client(),
            )
            await admin.start()
            self._admin = admin
        try:
            topics: list[str] = await self._admin.list_topics()
        except Exception:
            admin, self._admin = self._admin, None
            with contextlib.suppress(Exception):
                await admin.close()
            raise
        return topics

    async def close(self) -> None:
        """Close the admin client, if one is started."""
        admin, self._admin = self._admin, None
        if admin is not None:
            await admin.close()
