"""A topic of records every worker follows whole into a book, and writes to: operators' actions, silences.

A worker that publishes a record (an HTTP request made it) waits until its
own follower has read it back before it answers, so the answer shows it;
every other worker has it as soon as its follower reads it (within a poll).
Such a topic has one partition, so every worker takes the records in the
same order, and is compacted by the record's id. A record that does not
validate is logged and passed over.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import Any, Generic, Protocol, TypeVar

from aiokafka.structs import ConsumerRecord
from pydantic import BaseModel, ValidationError

from monitor.background import Background
from monitor.state.follower import TopicFollower

__all__ = ["Book", "FollowedRecords", "RecordFollower"]

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
M_contra = TypeVar("M_contra", bound=BaseModel, contravariant=True)

#: Seconds a request waits for the worker to read its record back (the answer then shows it).
READ_BACK_WAIT = 5.0


class Book(Protocol[M_contra]):
    """Where a topic's records go, in the topic's order."""

    def take_all(self, records: Iterable[M_contra]) -> list[Any]:
        """Take each record; the ones that changed the book."""


class RecordFollower(TopicFollower, Generic[M]):
    """Follows a topic of ``model`` records into ``book``; ``on_new`` hears of what each batch changed."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        client: dict[str, Any],
        model: type[M],
        book: Book[M],
        on_new: Callable[[list[Any]], None] = lambda records: None,
    ) -> None:
        super().__init__(bootstrap, topic, client)
        self.what = f"{topic} follower"
        self.model = model
        self.book = book
        self._on_new = on_new
        self._taken = asyncio.Condition()
        self.passed_over = 0  # records that held none of the topic's records

    def take(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """Each record into the book; one that does not validate is logged and passed over."""
        parsed: list[M] = []
        for record in records:
            if record.value is None:  # a tombstone: nothing to take
                continue
            try:
                parsed.append(self.model.model_validate_json(record.value))
            except ValidationError as exc:
                self.passed_over += 1
                first = exc.errors()[0]
                where = ".".join(map(str, first["loc"])) or "(record)"
                log.error(
                    "%s, offset %d: not a record of it: %s: %s; passed over",
                    self.what,
                    record.offset,
                    where,
                    first["msg"],
                )
        new = self.book.take_all(parsed)
        if new:
            self._on_new(new)
            asyncio.get_running_loop().create_task(self._tell_waiters())

    async def _tell_waiters(self) -> None:
        async with self._taken:
            self._taken.notify_all()

    async def wait_until(self, done: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``done()`` holds of the book (``False``: not within ``timeout`` seconds)."""

        async def taken() -> None:
            async with self._taken:
                await self._taken.wait_for(done)

        try:
            async with asyncio.timeout(timeout):
                await taken()
        except TimeoutError:
            return done()
        return True


class FollowedRecords(Generic[M]):
    """A topic of records as one worker follows and writes it.

    Args:
        follower: Reads the topic into its book (every worker follows all of it).
        send: Produces one record (topic, key, value); the awaitable ends once the broker has it.
    """

    def __init__(
        self, follower: RecordFollower[M], send: Callable[[str, bytes, bytes], Coroutine[Any, Any, Any]]
    ) -> None:
        self.follower = follower
        self._send = send
        self._reader = Background(f"{follower.what}-read-through", follower.read_through)

    @property
    def current(self) -> bool:
        """Whether the topic has been read through once since the worker started."""
        return self.follower.current

    async def publish(self, key: str, record: M, read_back: Callable[[], bool], wait: float = READ_BACK_WAIT) -> bool:
        """Publish ``record`` under ``key``; whether this worker read it back (``read_back()``) within ``wait`` s."""
        value = record.model_dump_json(exclude_none=True).encode("utf-8")
        await self._send(self.follower.topic, key.encode("utf-8"), value)
        return await self.follower.wait_until(read_back, wait)

    async def start(self) -> None:
        """Read the topic from its beginning, and follow it (``current`` once its backlog is read)."""
        await self.follower.start()
        self._reader.start()

    async def stop(self) -> None:
        """Stop reading."""
        await self._reader.stop()
        await self.follower.stop()
