"""A SQLite file of the data directory removed under the worker is written back from its open connection."""

from __future__ import annotations

import shutil
from pathlib import Path

from monitor.state.sqlite import connect, save_removed


def test_a_removed_file_is_written_back_whole_from_the_connection_that_holds_it(tmp_path: Path) -> None:
    path = tmp_path / "data" / "index.sqlite3"
    path.parent.mkdir()
    db = connect(path)
    db.execute("CREATE TABLE t (n INTEGER)")
    db.executemany("INSERT INTO t VALUES (?)", [(n,) for n in range(100)])  # in the write-ahead log, not checkpointed
    assert save_removed(db, path) is None, "nothing to do while the file is there"
    shutil.rmtree(tmp_path / "data")
    saved = save_removed(db, path)
    assert saved is not None
    assert connect(path).execute("SELECT count(*), sum(n) FROM t").fetchone() == (100, 4950)
    saved.execute("INSERT INTO t VALUES (100)")  # the writer goes on, in the file readers open
    assert connect(path).execute("SELECT count(*) FROM t").fetchone() == (101,)
