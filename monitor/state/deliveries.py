"""The delivery ledger as every worker keeps it: the deliveries topic, read into a SQLite file of its data directory.

The worker that owns an alert's unit delivers its transitions and publishes
each attempt worth keeping (``monitor.notifications``) to the deliveries
topic; every worker follows the whole topic into ``deliveries.sqlite3`` with
the position it read up to, so any worker answers for any alert, after a
restart without reading the topic again. The file is derived: removed, it is
built again from the topic (as long as the topic's retention has kept it).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka.structs import ConsumerRecord
from pydantic import ValidationError

from monitor.notifications import Delivery
from monitor.state.follower import TopicFollower
from monitor.state.sqlite import WrittenFile

__all__ = ["DeliveryFollower", "DeliveryLog"]

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS positions (partition INTEGER PRIMARY KEY, next_offset INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (
    fingerprint TEXT NOT NULL,
    started_at TEXT NOT NULL,  -- the firing interval's start, in UTC, fixed width
    at TEXT NOT NULL,
    record TEXT NOT NULL       -- the record, as JSON
);
CREATE INDEX IF NOT EXISTS deliveries_by_interval ON deliveries (fingerprint, started_at, at);
"""


def _utc(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat(timespec="microseconds")


class DeliveryLog(WrittenFile):
    """Every delivery attempt recorded, by the firing interval it was about.

    Writes go through one connection under a lock (on the event loop); each read opens its own (readers run in
    other threads: ``asyncio.to_thread``).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = self._connect()
        self._db.executescript(_SCHEMA)

    def positions(self) -> dict[int, int]:
        """Per partition of the topic, the next offset to read."""
        return dict(self._db.execute("SELECT partition, next_offset FROM positions").fetchall())

    def add(self, deliveries: Sequence[Delivery], positions: dict[int, int]) -> None:
        """Keep ``deliveries`` and where the topic was read up to, together."""
        rows = [
            (d.fingerprint, _utc(d.starts_at), _utc(d.at), d.model_dump_json(exclude_defaults=True)) for d in deliveries
        ]
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany("INSERT INTO deliveries VALUES (?, ?, ?, ?)", rows)
                self._db.executemany("INSERT OR REPLACE INTO positions VALUES (?, ?)", list(positions.items()))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def of_interval(self, fingerprint: str, started_at: datetime) -> list[Delivery]:
        """Every attempt recorded about one firing interval of an alert, in the order they were made."""
        db = self._connect()
        try:
            rows = db.execute(
                "SELECT record FROM deliveries WHERE fingerprint = ? AND started_at = ? ORDER BY at, rowid",
                (fingerprint, _utc(started_at)),
            ).fetchall()
        finally:
            db.close()
        return [Delivery.model_validate_json(record) for (record,) in rows]

    def first_delivered(
        self, fingerprints: Collection[str], until: datetime, size: int
    ) -> Iterator[dict[str, Delivery]]:
        """The first notification of each alert's firing that a peer took, no later than ``until``.

        Given for ``size`` fingerprints at a time, as they are asked for, over one connection (a quarter's
        report asks for tens of thousands: the caller turns the event loop between two).
        """
        wanted = sorted(set(fingerprints))
        db = self._connect()
        try:
            for first in range(0, len(wanted), size):
                chunk = wanted[first : first + size]
                rows = db.execute(
                    f"SELECT fingerprint, record FROM deliveries WHERE fingerprint IN ({','.join('?' * len(chunk))})"
                    " AND at <= ? ORDER BY at, rowid",
                    (*chunk, _utc(until)),
                ).fetchall()
                found: dict[str, Delivery] = {}
                for fingerprint, record in rows:
                    if fingerprint in found:
                        continue
                    delivery = Delivery.model_validate_json(record)
                    if delivery.outcome == "delivered" and delivery.status == "firing":
                        found[fingerprint] = delivery
                yield found
        finally:
            db.close()

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()


class DeliveryFollower(TopicFollower):
    """Follows the deliveries topic into ``ledger``, from where it read up to."""

    what = "delivery ledger"

    def __init__(self, bootstrap: str, topic: str, client: dict[str, Any], ledger: DeliveryLog) -> None:
        super().__init__(bootstrap, topic, client)
        self.ledger = ledger

    async def start(self, positions: Any = None) -> None:
        """Read on from where the ledger read up to (from the beginning, for a new file)."""
        await super().start(self.ledger.positions() if positions is None else positions)

    def take(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """Each record's attempt kept, with the positions read; a record that is none is logged and passed over."""
        deliveries: list[Delivery] = []
        positions: dict[int, int] = {}
        for record in records:
            positions[record.partition] = record.offset + 1
            if record.value is None:
                continue
            try:
                deliveries.append(Delivery.model_validate_json(record.value))
            except ValidationError as exc:
                first = exc.errors()[0]
                log.error(
                    "deliveries topic, partition %d offset %d: not a delivery: %s: %s; passed over",
                    record.partition,
                    record.offset,
                    ".".join(map(str, first["loc"])) or "(record)",
                    first["msg"],
                )
        try:
            self.ledger.add(deliveries, positions)
        except sqlite3.Error:  # a full disk: these are read again at the next start, from the positions kept
            log.exception("delivery ledger: %d records could not be kept", len(deliveries))
