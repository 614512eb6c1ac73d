"""The alerts topic as a local index: each alert's firing intervals, and the last record per fingerprint.

Every worker keeps one in its data directory (SQLite, one file), fed in topic
order from the alerts topic, so any worker answers "which alerts did Nghệ An
have in Q2, and how long did each last" the same way, and a worker that
restarts loads the last record per fingerprint from here and reads only the
records written since (start-up does not grow with the topic's history).

One batch of records is one SQLite transaction, positions included: after a
crash the index is as of some batch boundary, and the records after it are
read again. Reading a record twice changes nothing (an interval is opened by
the first firing record, and closed once).

Over 400 lines: the index's schema, its batch writes and its queries share
one SQLite connection and its lock, and are kept with them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from monitor.state.sqlite import WrittenFile
from rules.language import OVERDUE
from rules.state import AlertFilter, AlertTransition, due_instant

__all__ = ["HISTORY_FILE", "AlertHistory", "HistoryRecord", "Interval", "TopicReset", "stage_began", "stage_changed_at"]

#: The index's file in a worker's data directory.
HISTORY_FILE = "alert-history.sqlite3"

log = logging.getLogger(__name__)

_SCHEMA_VERSION = "4"
#: Rows read from the file at a time by an answer read as it is asked for.
_PAGE = 500
#: Layouts an index is brought to this one from, in place: what it holds is kept (nothing is read again).
_MIGRATIONS = {
    "3": """
ALTER TABLE last ADD COLUMN status TEXT NOT NULL DEFAULT '';
ALTER TABLE last ADD COLUMN ended TEXT;
UPDATE last SET status = json_extract(record, '$.status'), ended = json_extract(record, '$.ends_at');
""",
}
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS positions (
    partition INTEGER PRIMARY KEY,
    next_offset INTEGER NOT NULL,
    last_timestamp INTEGER NOT NULL  -- the broker's timestamp of the record at next_offset - 1
);
CREATE TABLE IF NOT EXISTS last (
    fingerprint TEXT PRIMARY KEY,
    record BLOB NOT NULL,
    status TEXT NOT NULL,  -- the record's: firing or resolved
    ended TEXT  -- a resolved record's end, UTC (text order is time order)
);
CREATE INDEX IF NOT EXISTS last_firing ON last (fingerprint) WHERE status = 'firing';
CREATE INDEX IF NOT EXISTS last_ended ON last (ended) WHERE status = 'resolved';
CREATE TABLE IF NOT EXISTS intervals (
    id INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    unit_id TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    severity TEXT NOT NULL,
    labels TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    stage TEXT NOT NULL,
    stages TEXT NOT NULL,
    resolution TEXT,
    late_days INTEGER,
    summary TEXT NOT NULL,
    resolved_by TEXT,  -- the publisher whose report resolved it (a completion), and when it reported
    resolved_reported_at TEXT
);
CREATE INDEX IF NOT EXISTS intervals_by_start ON intervals (started_at);
CREATE INDEX IF NOT EXISTS intervals_by_unit ON intervals (unit_id, started_at);
CREATE INDEX IF NOT EXISTS intervals_by_rule ON intervals (rule_id, started_at);
CREATE INDEX IF NOT EXISTS intervals_open ON intervals (fingerprint) WHERE ended_at IS NULL;
CREATE INDEX IF NOT EXISTS intervals_by_firing ON intervals (fingerprint, started_at);
"""


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """One transaction: committed if the block ends, rolled back if it raises."""
    db.execute("BEGIN")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:  # a COMMIT that failed (a full disk) leaves it open
            db.execute("ROLLBACK")
        raise


def _utc(instant: datetime) -> str:
    """An instant as the index stores it: UTC, fixed width, so text order is time order."""
    return instant.astimezone(UTC).isoformat(timespec="microseconds")


class _RecordFailed(Exception):
    """A record of a batch could not be indexed (not the store: the record): the batch is done again, guarded."""


class TopicReset(Exception):
    """Records came from before the index's position: the topic is not the one indexed (it was recreated)."""

    def __init__(self, partition: int, offset: int, position: int) -> None:
        super().__init__(f"partition {partition}: a record at offset {offset}, where the index had read to {position}")


@dataclass(frozen=True, slots=True)
class HistoryRecord:
    """One record of the alerts topic: where it is, when the broker took it, and its value."""

    partition: int
    offset: int
    timestamp_ms: int
    value: bytes


@dataclass(frozen=True, slots=True)
class Interval:
    """One firing interval of one alert: from its first firing record to its resolution (``ended_at``)."""

    fingerprint: str
    unit_id: str
    rule_id: str
    severity: str
    labels: dict[str, str]
    started_at: datetime
    ended_at: datetime | None
    stages: list[dict[str, str]]
    resolution: str | None
    late_days: int | None
    summary: str
    resolved_by: str | None = None  # the publisher whose report resolved it
    resolved_reported_at: datetime | None = None  # … and when that report was made


def stage_began(
    stage: str, annotations: Mapping[str, str], starts_at: datetime, written: datetime | None = None
) -> datetime:
    """When an alert's present trouble began.

    The due instant of a deadline gone overdue (even if the alert was first
    heard of later); else when its record was written (``written``), or when
    it started firing if that is not known.
    """
    due = due_instant(annotations) if stage == OVERDUE else None
    return due if due is not None else written if written is not None else starts_at


def stage_changed_at(transition: AlertTransition, written: datetime) -> datetime:
    """When a firing alert moved to its stage (``stage_began``), never before it started firing.

    Its record was written at ``written``; an interval's stages follow its start.
    """
    return max(
        stage_began(transition.stage, transition.annotations, transition.starts_at, written), transition.starts_at
    )


@dataclass(slots=True)
class _Open:
    rowid: int
    stage: str
    stages: list[dict[str, str]]


class AlertHistory(WrittenFile):
    """The index in one SQLite file (WAL: answers are read while records are added).

    ``append`` and the readers may run in other threads (``asyncio.to_thread``):
    writes go through one connection under a lock, each read opens its own.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = self._connect()
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        version = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if version is not None and version[0] in _MIGRATIONS:
            log.info("alert history: %s brought from layout %s to %s", path, version[0], _SCHEMA_VERSION)
            with _transaction(self._db):
                for statement in _MIGRATIONS[version[0]].strip().split(";\n"):
                    self._db.execute(statement)
        elif version is not None and version[0] != _SCHEMA_VERSION:  # the index is derived: built again
            log.warning("alert history: %s was written in another layout (%s); indexing again", path, version[0])
            self._db.executescript(
                "DROP TABLE IF EXISTS positions; DROP TABLE IF EXISTS last; DROP TABLE IF EXISTS intervals;"
            )
        self._db.executescript(_SCHEMA)
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (_SCHEMA_VERSION,))
        self._marks: dict[int, tuple[int, int]] = {
            partition: (offset, stamp)
            for partition, offset, stamp in self._db.execute(
                "SELECT partition, next_offset, last_timestamp FROM positions"
            )
        }
        self._open: dict[str, _Open] = {
            fingerprint: _Open(rowid, stage, json.loads(stages))
            for rowid, fingerprint, stage, stages in self._db.execute(
                "SELECT id, fingerprint, stage, stages FROM intervals WHERE ended_at IS NULL"
            )
        }

    def clear(self) -> None:
        """Start again on another topic (one recreated, or another cluster's), keeping the intervals that ended.

        Forgotten: the positions, the last record per alert, and the open
        intervals, which the new topic says again (a worker restates every
        alert its state holds on a topic that lacks it, with the same start).
        Kept: the intervals that ended, the history the old topic held and the
        new one never will.
        """
        with self._lock:
            with _transaction(self._db):
                for table in ("positions", "last"):
                    self._db.execute(f"DELETE FROM {table}")
                self._db.execute("DELETE FROM intervals WHERE ended_at IS NULL")
            self._marks, self._open = {}, {}

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()

    # --- what a restarted worker reads --------------------------------------------------------------

    def snapshot(self, resolved: int) -> tuple[dict[int, int], list[AlertTransition]]:
        """The positions the index is at; as of them, the last records of alerts firing and resolved last (one read).

        Every alert firing, and the ``resolved`` alerts that ended last. The other alerts' last records stay here: ``last_record`` reads them. Check the positions against the
        topic first (``marks``, ``indexer.index_matches_topic``).
        """
        db = self._connect()
        try:
            with _transaction(db):
                positions = dict(db.execute("SELECT partition, next_offset FROM positions").fetchall())
                rows = db.execute("SELECT record FROM last WHERE status = 'firing'").fetchall()
                rows += db.execute(
                    "SELECT record FROM last WHERE status = 'resolved' ORDER BY ended DESC LIMIT ?", (resolved,)
                ).fetchall()
        finally:
            db.close()
        return positions, [AlertTransition.model_validate_json(value) for (value,) in rows]

    def last_record(self, fingerprint: str) -> AlertTransition | None:
        """The last record of an alert as far as the index has read (``indexed``)."""
        db = self._connect()
        try:
            row = db.execute("SELECT record FROM last WHERE fingerprint = ?", (fingerprint,)).fetchone()
        finally:
            db.close()
        return AlertTransition.model_validate_json(row[0]) if row is not None else None

    def indexed(self, partition: int) -> int:
        """The next offset of ``partition`` to index: every record before it is in the index.

        Read without the lock (the index may be adding a batch): an answer
        from just before the batch stands is lower, never higher.
        """
        return self._marks.get(partition, (0, 0))[0]

    def positions(self) -> dict[int, int]:
        """Per partition of the alerts topic, the next offset to read."""
        with self._lock:
            return {partition: offset for partition, (offset, _) in self._marks.items()}

    def marks(self) -> dict[int, tuple[int, int]]:
        """Per partition, the next offset to read and the broker's timestamp of the record before it.

        A topic that was recreated has other records at those offsets (or none):
        comparing one record per partition tells the index's topic from another.
        """
        with self._lock:
            return dict(self._marks)

    # --- adding records -----------------------------------------------------------------------------

    def append(self, records: Sequence[HistoryRecord]) -> int:
        """Add records read in topic order (per partition), in one transaction; how many were transitions."""
        if not records:
            return 0
        with self._lock:
            behind = [r for r in records if r.offset < self._marks.get(r.partition, (0, 0))[0]]
            if behind:
                # The reader stands at the index's positions: a record before them is of another topic.
                raise TopicReset(behind[0].partition, behind[0].offset, self._marks[behind[0].partition][0])
            added = self._append(records)
        return added

    def _append(self, records: Sequence[HistoryRecord]) -> int:
        try:
            return self._append_batch(records, guarded=False)
        except _RecordFailed:  # one record cannot be indexed: the batch again, each record on its own savepoint
            return self._append_batch(records, guarded=True)

    def _append_batch(self, records: Sequence[HistoryRecord], *, guarded: bool) -> int:
        """Index ``records`` in one transaction; how many were transitions.

        Unguarded, a record that fails fails the batch (``_RecordFailed``);
        guarded, it is left out alone, at the cost of a savepoint per record
        (two statements more for each: a sixth of a firing record's cost).
        """
        with _transaction(self._db):
            added = 0
            last: dict[str, tuple[bytes, str, str | None]] = {}
            marks: dict[int, tuple[int, int]] = {}
            opened = dict(self._open)
            for record in records:
                if record.offset + 1 > marks.get(record.partition, (0, 0))[0]:
                    marks[record.partition] = (record.offset + 1, record.timestamp_ms)
                try:
                    transition = AlertTransition.model_validate_json(record.value)
                except ValidationError:
                    continue  # not a transition: nothing to index
                written = datetime.fromtimestamp(record.timestamp_ms / 1000, UTC)
                if guarded:
                    self._db.execute("SAVEPOINT record")
                try:
                    self._apply(opened, transition, written)
                except sqlite3.Error:
                    raise  # the store: the whole batch is tried again
                except Exception as exc:  # this record: left out, never a batch held up for good
                    if not guarded:
                        raise _RecordFailed from exc
                    log.exception("alert history: cannot index alerts[%d]@%d", record.partition, record.offset)
                    self._db.execute("ROLLBACK TO record")
                    self._db.execute("RELEASE record")
                    continue
                if guarded:
                    self._db.execute("RELEASE record")
                ended = _utc(transition.ends_at) if transition.ends_at is not None else None
                last[transition.fingerprint] = (record.value, transition.status, ended)
                added += 1
            self._db.executemany(
                "INSERT INTO last VALUES (?, ?, ?, ?) ON CONFLICT (fingerprint)"
                " DO UPDATE SET record = excluded.record, status = excluded.status, ended = excluded.ended",
                [(fingerprint, *row) for fingerprint, row in last.items()],
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO positions VALUES (?, ?, ?)",
                [(partition, offset, stamp) for partition, (offset, stamp) in marks.items()],
            )
        self._open = opened  # only once the transaction stands (the caller holds the lock)
        self._marks |= marks
        return added

    def _apply(self, opened: dict[str, _Open], t: AlertTransition, written: datetime) -> None:
        current = opened.get(t.fingerprint)
        summary = t.annotations.get("summary", "")
        if t.status == "firing":
            if current is None:
                restated = self._db.execute(
                    _FIRING,
                    (t.fingerprint, _utc(t.starts_at)),
                ).fetchone()
                if restated is not None:  # the same firing, stated again after its resolution (reconciled)
                    rowid, stage, stages = restated[0], restated[1], json.loads(restated[2])
                    if stage != t.stage:
                        stages.append(_stage(t, stage_changed_at(t, written)))
                    self._db.execute(
                        "UPDATE intervals SET ended_at = NULL, resolution = NULL, late_days = NULL, resolved_by = NULL,"
                        " resolved_reported_at = NULL, stage = ?, stages = ?, summary = ? WHERE id = ?",
                        (t.stage, json.dumps(stages, ensure_ascii=False), summary, rowid),
                    )
                else:
                    rowid, stages = self._insert(t, summary)
                opened[t.fingerprint] = _Open(rowid, t.stage, stages)
            elif current.stage != t.stage:
                stages = [*current.stages, _stage(t, stage_changed_at(t, written))]
                self._db.execute(
                    "UPDATE intervals SET stage = ?, stages = ?, severity = ?, summary = ? WHERE id = ?",
                    (t.stage, json.dumps(stages, ensure_ascii=False), t.severity, summary, current.rowid),
                )
                opened[t.fingerprint] = _Open(current.rowid, t.stage, stages)
            else:  # fired again in its stage (a deadline that moved, still missed): the summary it says now
                self._db.execute("UPDATE intervals SET summary = ? WHERE id = ?", (summary, current.rowid))
            return
        late = t.annotations.get("late_days")
        closing = (
            _utc(t.ends_at or written),
            t.annotations.get("resolution"),
            int(late) if late and late.isdigit() else None,
            summary,
            t.reported_by,
            _utc(t.reported_at) if t.reported_at is not None else None,
        )
        if current is not None:
            self._db.execute(
                _CLOSE,
                (*closing, current.rowid),
            )
            del opened[t.fingerprint]
            return
        # Resolved without a firing record read (the topic's history began later): the interval still stands.
        duplicate = self._db.execute(
            _CLOSED_FIRING,
            (t.fingerprint, _utc(t.starts_at)),
        ).fetchone()
        if duplicate is None:
            rowid, _ = self._insert(t, summary)
            self._db.execute(
                _CLOSE,
                (*closing, rowid),
            )

    def _insert(self, t: AlertTransition, summary: str) -> tuple[int, list[dict[str, str]]]:
        """A new interval, open, in the transition's stage since it started firing: its row id and stages."""
        stages = [_stage(t, t.starts_at)]
        cursor = self._db.execute(
            "INSERT INTO intervals (fingerprint, unit_id, rule_id, severity, labels, started_at, stage, stages, summary)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                t.fingerprint,
                t.unit_id,
                t.rule_id,
                t.severity,
                json.dumps(t.labels, ensure_ascii=False, sort_keys=True),
                _utc(t.starts_at),
                t.stage,
                json.dumps(stages, ensure_ascii=False),
                summary,
            ),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid, stages

    # --- answering ----------------------------------------------------------------------------------

    def intervals(
        self,
        where: AlertFilter,
        start: datetime | None,
        end: datetime | None,
        limit: int,
        offset: int,
        units: frozenset[str] | None = None,
    ) -> tuple[int, list[Interval]]:
        """Intervals that overlap ``[start, end)`` and pass ``where``: how many in all, and one page, newest first.

        ``units``: only those of these units (a viewer's scope); ``None``, of every unit.
        """
        clauses, args = _where(where, start, end)
        if units is not None:
            clauses.append(f"unit_id IN ({','.join('?' * len(units))})" if units else "0")
            args.extend(sorted(units))
        sql = " WHERE " + " AND ".join(clauses) if clauses else ""
        db = self._connect()
        try:
            with _transaction(db):
                (count,) = db.execute(f"SELECT count(*) FROM intervals{sql}", args).fetchone()
                rows = db.execute(
                    f"SELECT {_COLUMNS} FROM intervals{sql} ORDER BY started_at DESC, fingerprint LIMIT ? OFFSET ?",
                    [*args, limit, offset],
                ).fetchall()
        finally:
            db.close()
        return int(count), [_interval(row) for row in rows]

    def begun(self, start: datetime, end: datetime) -> Iterator[tuple[str, str, str, datetime, datetime | None]]:
        """Fingerprint, unit, severity, start and end of every interval that began in ``[start, end)``.

        Read as they are asked for, ``_PAGE`` rows at a time, from one snapshot of the file (a quarter's
        intervals are hundreds of thousands: the caller turns the event loop between two slices of them).
        """
        db = self._connect()
        try:
            cursor = db.execute(
                "SELECT fingerprint, unit_id, severity, started_at, ended_at FROM intervals"
                " WHERE started_at >= ? AND started_at < ?",
                (_utc(start), _utc(end)),
            )
            while rows := cursor.fetchmany(_PAGE):
                for fp, unit, severity, started, ended in rows:
                    yield (
                        fp,
                        unit,
                        severity,
                        datetime.fromisoformat(started),
                        (datetime.fromisoformat(ended) if ended else None),
                    )
        finally:
            db.close()

    def warned(self) -> dict[str, set[tuple[str, str | None]]]:
        """By unit: (rule id, task id) of every alert that went through a due-soon warning (no task id: the unit's)."""
        db = self._connect()
        try:
            rows = db.execute(
                "SELECT unit_id, rule_id, labels FROM intervals WHERE stages LIKE '%\"due_soon\"%'"
            ).fetchall()
        finally:
            db.close()
        warned: dict[str, set[tuple[str, str | None]]] = {}
        for unit_id, rule_id, labels in rows:
            warned.setdefault(unit_id, set()).add((rule_id, json.loads(labels).get("task_id")))
        return warned

    def __iter__(self) -> Iterator[Interval]:
        """Every interval, oldest first (for tests and exports)."""
        db = self._connect()
        try:
            rows = db.execute(f"SELECT {_COLUMNS} FROM intervals ORDER BY started_at, fingerprint").fetchall()
        finally:
            db.close()
        return iter([_interval(row) for row in rows])


#: What ``_interval`` reads of a row, in order.
_COLUMNS = (
    "fingerprint, unit_id, rule_id, severity, labels, started_at, ended_at, stages, resolution, late_days, summary,"
    " resolved_by, resolved_reported_at"
)
#: Closing an interval: how and when it ended, and whose report ended it.
# An alert's interval by its firing (one alert, one start). Without the index on both, every firing record
# scanned the intervals that began at the same instant: quadratic when many alerts start together.
_FIRING = "SELECT id, stage, stages FROM intervals WHERE fingerprint = ? AND started_at = ?"
_CLOSED_FIRING = "SELECT 1 FROM intervals WHERE fingerprint = ? AND started_at = ? AND ended_at IS NOT NULL"
_CLOSE = (
    "UPDATE intervals SET ended_at = ?, resolution = ?, late_days = ?, summary = ?, resolved_by = ?,"
    " resolved_reported_at = ? WHERE id = ?"
)


def _stage(t: AlertTransition, at: datetime) -> dict[str, str]:
    """A stage of an interval: which, since when, and whose report it rests on (when one does)."""
    entry = {"stage": t.stage, "at": _utc(at)}
    if t.reported_by is not None:
        entry["reported_by"] = t.reported_by
    if t.reported_at is not None:
        entry["reported_at"] = _utc(t.reported_at)
    return entry


def _where(where: AlertFilter, start: datetime | None, end: datetime | None) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    for column, value in (("unit_id", where.unit_id), ("rule_id", where.rule_id), ("severity", where.severity)):
        if value is not None:
            clauses.append(f"{column} = ?")
            args.append(value)
    if end is not None:
        clauses.append("started_at < ?")
        args.append(_utc(end))
    if start is not None:
        clauses.append("(ended_at IS NULL OR ended_at > ?)")
        args.append(_utc(start))
    return clauses, args


def _interval(row: tuple[Any, ...]) -> Interval:
    fingerprint, unit_id, rule_id, severity, labels, started, ended, stages, resolution, late_days, summary, by, at = (
        row
    )
    return Interval(
        fingerprint=fingerprint,
        unit_id=unit_id,
        rule_id=rule_id,
        severity=severity,
        labels=json.loads(labels),
        started_at=datetime.fromisoformat(started),
        ended_at=datetime.fromisoformat(ended) if ended else None,
        stages=json.loads(stages),
        resolution=resolution,
        late_days=late_days,
        summary=summary,
        resolved_by=by,
        resolved_reported_at=datetime.fromisoformat(at) if at else None,
    )
