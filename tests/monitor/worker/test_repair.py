"""A store that breaks under the worker: telling its damage from other faults, and finding where it is."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import rocksdict
from prometheus_client import CollectorRegistry, Counter

from monitor.state.changelog import CheckedCursor
from monitor.state.rocks import is_broken
from monitor.worker.health import Health
from monitor.worker.repair import StoreRepair


def _database(path: Path, keys: int = 3000) -> rocksdict.Rdict:
    options = rocksdict.Options(raw_mode=True)
    options.create_if_missing(True)
    db = rocksdict.Rdict(str(path), options=options)
    for n in range(keys):
        db.put(f"VN-22\x1fsTask:{n:06d}".encode(), b"x" * 100)
    db.flush()
    return db


def _damage(path: Path) -> None:
    """Overwrite the start of each table file: its first data block, which opening the database does not read."""
    for table in path.glob("*.sst"):
        with table.open("r+b") as file:
            file.seek(64)
            file.write(b"\xff" * 256)


def _reopened(path: Path) -> rocksdict.Rdict:
    return rocksdict.Rdict(str(path), options=rocksdict.Options(raw_mode=True))


def test_a_cursor_stopped_by_a_damaged_block_raises_instead_of_ending(tmp_path: Path) -> None:
    _database(tmp_path / "db").close()
    _damage(tmp_path / "db")
    db = _reopened(tmp_path / "db")
    plain = db.iter()
    plain.seek(b"")
    assert not plain.valid(), "rocksdict's own iterator ends as if the partition were empty"
    cursor = CheckedCursor(db.iter())
    cursor.seek(b"")
    with pytest.raises(Exception, match="Corruption") as raised:
        cursor.valid()
    assert is_broken(raised.value)


def test_the_scan_finds_the_damaged_partition_and_only_it(tmp_path: Path) -> None:
    for name in ("items-0.db", "items-1.db"):
        _database(tmp_path / name).close()
    _damage(tmp_path / "items-1.db")
    dbs = {0: _reopened(tmp_path / "items-0.db"), 1: _reopened(tmp_path / "items-1.db")}
    table = SimpleNamespace(data=SimpleNamespace(_db_for_partition=dbs.__getitem__))
    counter = Counter("rebuilds", "", ["cause"], registry=CollectorRegistry())
    repair = StoreRepair(None, table, tmp_path, Health(), counter)
    assert repair.damaged({0, 1}) == {1}
    assert repair.damaged({0}) == {0}, "none found damaged: every partition asked about is rebuilt"


def test_a_data_directory_or_a_database_removed_under_the_worker_is_noticed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    paths = {p: data / "v1" / "tables" / f"items-{p}.db" for p in (0, 1)}
    for path in paths.values():
        path.mkdir(parents=True)
    store = SimpleNamespace(_dbs={0: object(), 1: object()}, partition_path=paths.__getitem__)
    counter = Counter("rebuilds", "", ["cause"], registry=CollectorRegistry())
    repair = StoreRepair(None, SimpleNamespace(data=store), data, Health(), counter)
    assert repair.lost() is None
    shutil.rmtree(paths[1])
    assert repair.lost() == ({1}, f"the state store's database {paths[1]} removed")
    shutil.rmtree(data)
    assert repair.lost() == ({0, 1}, f"the data directory {data} was removed")
    data.mkdir()  # made again, empty: the databases are still gone
    assert repair.lost() == ({0, 1}, f"the state store's databases {paths[0]}, {paths[1]} removed")


def test_only_damaged_or_missing_files_count_as_a_broken_store() -> None:
    assert is_broken(Exception("Corruption: block checksum mismatch: stored = 1, computed = 2"))
    assert is_broken(Exception("IO error: No such file or directory: While open a file for appending: x/000012.log"))
    assert not is_broken(Exception("IO error: No space left on device: While appending to file: x/000012.log"))
    assert not is_broken(ValueError("field 'status': not a status"))
