"""Silences as a worker keeps them: published to the silences topic, read back before it answers, asked at delivery."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from datetime import datetime
from typing import Any

from monitor.silences import Silence, SilenceBook
from monitor.state.records import FollowedRecords, RecordFollower
from rules.language import WorkCalendar

__all__ = ["SilencesInForce"]


class SilencesInForce(FollowedRecords[Silence]):
    """The silences topic as one worker follows and writes it (``FollowedRecords``).

    Args:
        bootstrap: The brokers.
        topic: The silences topic.
        client: The reader's client options (every worker reads all of the topic).
        calendar: The rule pack's time zone and holidays, which weekly schedules are read in.
        send: Produces one record (topic, key, value); the awaitable ends once the broker has it.
        clock: The wall clock.
        on_new: Told of the silences each read made or changed.
    """

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        client: dict[str, Any],
        calendar: WorkCalendar,
        send: Callable[[str, bytes, bytes], Coroutine[Any, Any, Any]],
        clock: Callable[[], datetime],
        on_new: Callable[[list[Silence]], None] = lambda silences: None,
    ) -> None:
        self.book = SilenceBook()
        self.calendar = calendar
        self._clock = clock
        super().__init__(RecordFollower(bootstrap, topic, client, Silence, self.book, on_new), send)

    def silencing(self, labels: Mapping[str, str], now: datetime | None = None) -> Silence | None:
        """The silence that silences an alert with ``labels`` now, if any."""
        return self.book.silencing(labels, now or self._clock(), self.calendar)

    def silenced(self, labels: Mapping[str, str]) -> bool:
        """Whether an alert with ``labels`` is silenced now (a sink does not deliver it)."""
        return self.silencing(labels) is not None

    async def put(self, silence: Silence) -> bool:
        """Publish a silence (new, or its early end); whether this worker read it back in time."""
        return await self.publish(silence.id, silence, lambda: self.book.get(silence.id) == silence)
