"""The alert history index's cost per firing record, next to the least any index of those records does.

Printed by ``make bench`` (from ``tests.benchmarks.engine``); run alone:
``.venv/bin/python -m tests.benchmarks.index``. A worker whose events fire
alerts indexes each firing record in a thread of its own, which holds the
interpreter lock for its Python part: in ``make bench`` (b) it took as many
of the worker's samples as the processor.
"""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

from monitor.state.history import AlertHistory, HistoryRecord
from rules.state import AlertTransition

__all__ = ["index_figures"]


def _records(count: int) -> list[HistoryRecord]:
    due = datetime(2024, 7, 20, tzinfo=UTC)
    written = int((due + timedelta(hours=1)).timestamp() * 1000)
    records = []
    for n in range(count):
        unit, task = f"VN-{n % 34:02d}", f"HS-{n}"
        transition = AlertTransition(
            fingerprint=f"{unit}/{task}",
            status="firing",
            stage="overdue",
            rule_id="task-overdue",
            severity="critical",
            labels={"unit_id": unit, "task_id": task, "alertname": "task-overdue"},
            annotations={"summary": f"{unit}: {task} quá hạn", "due": due.isoformat()},
            starts_at=due,
            event_ids=[f"e-{n}"],
            rule_version="v1",
        )
        records.append(HistoryRecord(n % 4, n // 4, written, transition.model_dump_json().encode()))
    return records


def _baseline(path: Path, records: list[HistoryRecord]) -> float:
    """Each record's JSON parsed and one row of it inserted, a batch per transaction, into a table with no index."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE t (fingerprint TEXT, started_at TEXT, record BLOB)")
    began = time.perf_counter()
    for start in range(0, len(records), 500):
        db.execute("BEGIN")
        rows = []
        for record in records[start : start + 500]:
            value = json.loads(record.value)
            rows.append((value["fingerprint"], value["starts_at"], record.value))
        db.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
        db.execute("COMMIT")
    seconds = time.perf_counter() - began
    db.close()
    return seconds


def index_figures(count: int = 20_000) -> str:
    """One line: µs per firing record in the index, in batches of 500, and against the baseline."""
    records = _records(count)
    with TemporaryDirectory() as tmp:
        history = AlertHistory(Path(tmp) / "h.sqlite3")
        began = time.perf_counter()
        for start in range(0, count, 500):
            history.append(records[start : start + 500])
        seconds = time.perf_counter() - began
        history.close()
        floor = _baseline(Path(tmp) / "b.sqlite3", records)
    return (
        f"history index, {count:,} firing records in batches of 500: {seconds / count * 1e6:.1f} µs per record; "
        f"a plain insert of each record's JSON: {floor / count * 1e6:.1f} µs; index/baseline = {seconds / floor:.2f}"
    )


if __name__ == "__main__":
    print(index_figures())
