"""Unit state kept in faust tables, as JSON, with a decode cache."""

from __future__ import annotations

import json
from collections.abc import MutableMapping

from rules.state import UnitState

__all__ = ["TableStore"]


class TableStore:
    """``UnitStore`` over two byte-valued tables: units and per-partition wake-ups.

    Writes go to the changelog partition of the record being processed, which
    is the unit's partition, so a partition's units and its wake-up index move
    between workers together.
    """

    def __init__(self, units: MutableMapping[bytes, bytes], wakeups: MutableMapping[bytes, bytes]) -> None:
        self._units = units
        self._wakeups = wakeups
        self._decoded: dict[str, tuple[bytes, UnitState]] = {}

    def get(self, unit_id: str) -> UnitState | None:
        """The unit's state, decoded once per stored version."""
        raw = self._units.get(unit_id.encode("utf-8"))
        if raw is None:
            self._decoded.pop(unit_id, None)
            return None
        cached = self._decoded.get(unit_id)
        if cached is not None and (cached[0] is raw or cached[0] == raw):  # RocksDB hands back fresh bytes
            return cached[1]
        state = UnitState.model_validate_json(raw)
        self._decoded[unit_id] = (raw, state)
        return state

    def put(self, state: UnitState) -> None:
        """Store the unit's state."""
        raw = state.model_dump_json().encode("utf-8")
        self._units[state.unit_id.encode("utf-8")] = raw
        self._decoded[state.unit_id] = (raw, state)

    def forget(self, unit_id: str) -> None:
        """Drop the decoded copy of the unit's state; the next read decodes the stored bytes."""
        self._decoded.pop(unit_id, None)

    def wakeups(self, partition: int) -> dict[str, float | None]:
        """Unit id → next wake-up for every unit stored in ``partition``."""
        raw = self._wakeups.get(str(partition).encode())
        return dict(json.loads(raw)) if raw else {}

    def put_wakeups(self, partition: int, wakeups: dict[str, float | None]) -> None:
        """Store the partition's wake-up index."""
        self._wakeups[str(partition).encode()] = json.dumps(wakeups, separators=(",", ":")).encode()
