"""The wall clock: the one place the monitor reads it. Everything else is given ``now`` or a clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeAlias

__all__ = ["Clock", "NeverBackwards", "utc_now"]

#: A source of aware instants: ``utc_now`` in production, a fixed or stepping clock in tests.
Clock: TypeAlias = Callable[[], datetime]


def utc_now() -> datetime:
    """The current instant, in UTC."""
    return datetime.now(UTC)


class NeverBackwards:
    """A clock that holds still while the clock it reads steps back (an NTP correction, a VM restore).

    Rules are evaluated at the instant this returns; were it to step back, a
    deadline that has passed would seem not to have, and its alert would
    resolve, then fire again when the clock caught up. Held, the worker just
    waits until the wall clock passes the latest instant it has seen.
    """

    def __init__(self, clock: Clock = utc_now) -> None:
        self._clock = clock
        self._latest: datetime | None = None

    def __call__(self) -> datetime:
        now = self._clock()
        if self._latest is not None and now < self._latest:
            return self._latest
        self._latest = now
        return now
