"""The wall clock: the one place the monitor reads it. Everything else is given ``now`` or a clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeAlias

__all__ = ["Clock", "utc_now"]

#: A source of aware instants: ``utc_now`` in production, a fixed or stepping clock in tests.
Clock: TypeAlias = Callable[[], datetime]


def utc_now() -> datetime:
    """The current instant, in UTC."""
    return datetime.now(UTC)
