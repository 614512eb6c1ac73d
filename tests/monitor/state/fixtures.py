"""Test doubles for durable state: an ``ItemLog`` over a dict that can be told to fail."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from monitor.exceptions import StoreUnavailable
from monitor.state.store import Write


class DictItemLog:
    """``ItemLog`` over a dict: a write is durable at once, unless ``failing`` says why it is not.

    ``failing_partitions``, when set, limits the failure to those partitions.
    """

    def __init__(self, table: dict[bytes, bytes] | None = None) -> None:
        self.table: dict[bytes, bytes] = table if table is not None else {}
        self.failing: str | None = None
        self.failing_partitions: set[int] | None = None
        self.batches: list[list[Write]] = []

    def items(self) -> Iterable[tuple[bytes, bytes]]:
        return list(self.table.items())

    async def write(self, partition: int, writes: Sequence[Write]) -> None:
        if self.failing is not None and (self.failing_partitions is None or partition in self.failing_partitions):
            raise StoreUnavailable(self.failing)
        self.batches.append(list(writes))
        for key, value in writes:
            if value is None:
                self.table.pop(key, None)
            else:
                self.table[key] = value
