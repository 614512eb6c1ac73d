"""The SQLite files of a worker's data directory (the alert history index, the delivery ledger): opened, and saved.

Both are derived from a topic and written through one connection; each read
opens its own. A file removed under the running worker (its data directory
removed) is still open in the writing connection, whole: ``save_removed``
writes it back under its name, so the readers find it and the worker goes on
from where it was, instead of reading its topic again.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

__all__ = ["WrittenFile", "connect", "save_removed"]

log = logging.getLogger(__name__)


def connect(path: Path) -> sqlite3.Connection:
    """A connection to ``path``, usable from any thread, transactions explicit, write-ahead logged.

    ``synchronous=NORMAL``: durable at each checkpoint; a lost tail is read
    again from the topic positions the file keeps.
    """
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    return db


def save_removed(db: sqlite3.Connection, path: Path) -> sqlite3.Connection | None:
    """If ``path`` was removed while ``db`` had it open, write the database back there; the new connection to it.

    ``None`` when the file is there. The caller holds its writing lock, closes nothing and uses the new connection.
    """
    if path.exists():
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    copy = sqlite3.connect(path)
    try:
        db.backup(copy)
    finally:
        copy.close()
    db.close()
    log.error("%s was removed while the worker ran: written back from its open connection", path)
    return connect(path)


class WrittenFile:
    """A SQLite file written through one connection (``_db``) under a lock; each read opens its own (``_connect``)."""

    path: Path
    _lock: threading.Lock
    _db: sqlite3.Connection

    def _connect(self) -> sqlite3.Connection:
        return connect(self.path)

    def save_if_removed(self) -> bool:
        """Write the file back from the open connection if it was removed under the worker; whether it was."""
        with self._lock:
            saved = save_removed(self._db, self.path)
            if saved is not None:
                self._db = saved
        return saved is not None
