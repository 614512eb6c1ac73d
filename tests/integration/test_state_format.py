"""State written by the worker of commit 72f2c26 is read by today's worker, never misread.

The fixture ``tests/fixtures/state_v1`` is what an old worker left behind
(its data directory, every record of its broker, its group's offsets; see its
``make_fixture.py``), with what that worker reported just before it stopped
(``expected.json``). Restored on a fresh broker (``old_state.restore``), today's
worker must come up on it and report the same units, tasks and alerts, and
publish nothing on the alerts topic but the correction of alerts the old
worker left naming a deadline their task no longer has (it did not re-fire a
deadline moved while overdue). Either from
the old data directory as it is (migrated, or rebuilt, as the worker sees
fit) or from an empty one (rebuilt from the changelog). The events the old
worker applied, published again, must all be known to it (none applied
twice): the events' dedup keys were read too.

Today's worker runs under the old pack (the fixture's ``rules/``): today's
pack ends the provinces merged away in 2025, and resolving their alerts is
right, but is not what this test is about. Every instant in the fixture is
in 2024 or 2031: nothing is due between the day it was made and the day the
test runs (until 2031).
"""

from __future__ import annotations

import base64
import gzip
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import rocksdict

from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.topics import Topics
from monitor.state.keys import FORMAT, FORMAT_KEY, SEP, SUBJECT_ITEM, UNIT_ITEM, due_key, kind_prefix, wake_key
from tests.conftest import REPO
from tests.integration.kafka import MonitorProcess, http_get, publish_records, read_all, sample, wait_for
from tests.integration.old_state import restore

pytestmark = pytest.mark.integration

FIXTURE = REPO / "tests" / "fixtures" / "state_v1"
EXPECTED: dict[str, Any] = json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))
TOPICS = Topics()
TICKS = 3  # ticks of every partition to let pass before judging: each unit's due rules have run


def _worker(broker: EmbeddedBroker, workdir: Path) -> MonitorProcess:
    args = ["worker", "--broker", broker.url, "--data-dir", str(workdir / "data"), "--rules", str(FIXTURE / "rules")]
    args += ["--partitions", str(EXPECTED["partitions"]), "--tick-interval", "1"]
    return MonitorProcess(args, workdir)


def _get(worker: MonitorProcess, path: str) -> Any:
    status, body = http_get(worker.base_url + path)
    assert status == 200, f"GET {path}: {status} {body[:500]}"
    return json.loads(body)


def _all_pages(worker: MonitorProcess, path: str, key: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    offset: int | None = 0
    while offset is not None:
        page = _get(worker, f"{path}{'&' if '?' in path else '?'}limit=5000&offset={offset}")
        items += page[key]
        offset = page["next_offset"]
    return items


def _labels(line: str) -> dict[str, str]:
    head = line.rpartition(" ")[0]
    inner = head[head.index("{") + 1 : head.rindex("}")] if "{" in head else ""
    return {k: v.strip('"') for k, _, v in (part.partition("=") for part in inner.split('",') if "=" in part)}


def _series(metrics: str, name: str, *keys: str) -> dict[str, int]:
    """The non-zero samples of ``name`` by the values of ``keys`` joined with ``/``, summed."""
    found: dict[str, int] = {}
    for line in metrics.splitlines():
        if line.startswith(name + "{") and float(line.rpartition(" ")[2]):
            labels = _labels(line)
            key = "/".join(labels[k] for k in keys)
            found[key] = found.get(key, 0) + int(float(line.rpartition(" ")[2]))
    return found


def _instant(text: str | None) -> float | None:
    return datetime.fromisoformat(text).timestamp() if text else None


def _unit(summary: dict[str, Any]) -> dict[str, Any]:
    """What a unit's summary says of its state; instants as instants (any offset says the same)."""
    return {
        "tasks": summary["tasks"],
        "tasks_total": summary["tasks_total"],
        "alerts_firing": summary["alerts_firing"],
        "indicators": summary["indicators"],
        "last_event_at": _instant(summary["last_event_at"]),
    }


def _overdue_row(row: dict[str, Any]) -> tuple[Any, ...]:
    return row["task_id"], row["kind"], row["status"], _instant(row["due"]), row["rule_id"]


def _ticks(worker: MonitorProcess) -> float:
    return sample(worker.metrics(), "compliance_tick_seconds_count") or 0.0


def _settle(worker: MonitorProcess) -> None:
    """Ready, its alerts topic read through, and ``TICKS`` ticks of every partition handled."""
    worker.wait_ready(timeout=45)
    wait_for(
        "the worker to read the alerts topic through",
        lambda: http_get(worker.base_url + "/api/v1/alerts?limit=1")[0] == 200,
        timeout=20,
        log=worker.log,
    )
    start = _ticks(worker)
    wanted = start + TICKS * EXPECTED["partitions"]
    wait_for(f"{TICKS} ticks of every partition", lambda: _ticks(worker) >= wanted, timeout=20, log=worker.log)


def _assert_reports_expected(worker: MonitorProcess) -> None:
    units = {u["unit_id"]: _unit(u) for u in _all_pages(worker, "/api/v1/units", "units")}
    expected_units = {unit: _unit(summary) for unit, summary in EXPECTED["units"].items()}
    differ = {
        u: (units.get(u), expected_units.get(u))
        for u in {*units, *expected_units}
        if units.get(u) != expected_units.get(u)
    }
    assert not differ, f"units (today's worker, the old one's): {differ}"

    metrics = worker.metrics()
    tasks = _series(metrics, "compliance_tasks", "unit_id", "kind", "status")
    expected_tasks = {
        f"{unit}/{kind_status}": n
        for unit, kinds in EXPECTED["compliance_tasks"].items()
        for kind_status, n in kinds.items()
    }
    assert tasks == expected_tasks, "compliance_tasks (unit/kind/status)"
    firing_by_rule = _series(metrics, "compliance_alerts_firing", "rule_id", "severity")
    assert firing_by_rule == EXPECTED["compliance_alerts_firing"], "compliance_alerts_firing (rule/severity)"

    for unit, rows in EXPECTED["overdue"].items():
        got = sorted(_overdue_row(r) for r in _all_pages(worker, f"/api/v1/units/{unit}/overdue", "overdue"))
        assert got == sorted(_overdue_row(r) for r in rows), f"the overdue list of {unit}"

    firing = sorted(
        (a["fingerprint"], a["rule_id"], a["stage"], a["unit_id"])
        for a in _all_pages(worker, "/api/v1/alerts?state=firing", "alerts")
    )
    assert firing == sorted((a["fingerprint"], a["rule_id"], a["stage"], a["unit_id"]) for a in EXPECTED["firing"])
    resolved = {a["fingerprint"] for a in _all_pages(worker, "/api/v1/alerts?state=resolved", "alerts")}
    assert resolved == set(EXPECTED["resolved"])


def _alert_count(broker: EmbeddedBroker) -> int:
    return len(read_all(broker.bootstrap, TOPICS.alerts))


def _ingress() -> list[tuple[str, bytes, bytes]]:
    """The events the old worker applied, as they were published: (topic, key, value)."""
    records = []
    with gzip.open(FIXTURE / "topics.jsonl.gz", "rt", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            if row["topic"] in (TOPICS.task_status, TOPICS.indicators):
                records.append((row["topic"], base64.b64decode(row["key"]), base64.b64decode(row["value"])))
    return records


def _events(worker: MonitorProcess) -> dict[str, int]:
    return _series(worker.metrics(), "compliance_events_total", "outcome")


def _assert_events_known(broker: EmbeddedBroker, worker: MonitorProcess) -> None:
    """Published again, every event the old worker applied is a duplicate or stale: none is applied twice."""
    again = _ingress()
    assert len(again) == EXPECTED["events_published"]
    before = _events(worker)
    publish_records(broker.bootstrap, again)
    wait_for(
        "the events published again to be handled",
        lambda: sum(_events(worker).values()) - sum(before.values()) >= len(again),
        timeout=20,
        log=worker.log,
    )
    after = _events(worker)
    assert after.get("accepted", 0) == before.get("accepted", 0), f"events applied again: {before} → {after}"


def _corrections(broker: EmbeddedBroker, worker: MonitorProcess) -> int:
    """The records published on start: only alerts the old worker left naming an old deadline, told once.

    The old worker kept an alert's first due instant when its task's deadline moved while it was overdue; the
    task's deadline in force is what today's worker says (as the old worker's own overdue list did). Every other
    alert has nothing new to say.
    """
    records = [json.loads(r.value) for r in read_all(broker.bootstrap, TOPICS.alerts)]
    old, new = records[: EXPECTED["alert_records"]], records[EXPECTED["alert_records"] :]
    assert len({r["fingerprint"] for r in new}) == len(new), "an alert published twice"
    for record in new:
        last = [r for r in old if r["fingerprint"] == record["fingerprint"]][-1]
        same = ("status", "stage", "starts_at", "severity")
        assert {k: record[k] for k in same} == {k: last[k] for k in same}, (last, record)
        assert record["annotations"]["due"] != last["annotations"]["due"], (last, record)
        unit, task = record["labels"]["unit_id"], record["labels"]["task_id"]
        rows = _get(worker, f"/api/v1/units/{unit}/overdue?limit=500")["overdue"]
        (row,) = [r for r in rows if r["task_id"] == task]
        assert datetime.fromisoformat(row["due"]) == datetime.fromisoformat(record["annotations"]["due"])
    return len(records)


def _check(broker: EmbeddedBroker, worker: MonitorProcess) -> None:
    _settle(worker)
    published = _corrections(broker, worker)
    _assert_reports_expected(worker)
    _assert_events_known(broker, worker)
    time.sleep(2)  # two more ticks: what the events might have changed is published by then
    _assert_reports_expected(worker)
    assert _alert_count(broker) == published, "the worker published alert records"


def _assert_in_this_format(data: Path) -> None:
    """Every partition's store is marked with this version's format, has every task's derived keys, and every unit
    its newest task report."""
    for partition in range(EXPECTED["partitions"]):
        db = rocksdict.Rdict(
            str(data / "v1" / "tables" / f"items-{partition}.db"), options=rocksdict.Options(raw_mode=True)
        )
        try:
            assert db.get(FORMAT_KEY) == str(FORMAT).encode()
            keys = set(db.keys())
            for key in keys:
                unit, sep, rest = key.partition(SEP.encode())
                if unit and sep and not rest:  # the unit's own fields (the local store's own keys are in no unit)
                    stored = UNIT_ITEM.decode(db[key])
                    assert stored.format == FORMAT and (stored.newest_task is not None or not stored.tally), stored
                if not rest.startswith(b"stask:"):
                    continue
                item = SUBJECT_ITEM.decode(db[key])
                assert item.task is not None
                assert kind_prefix(unit.decode(), item.task.kind) + item.task.task_id.encode() in keys
                due = item.task.indexed_due()
                if due is not None:
                    assert due_key(unit.decode(), due, item.task.task_id) in keys
                if item.wakeup is not None:
                    assert wake_key(unit.decode(), item.wakeup, rest[1:].decode()) in keys
        finally:
            db.close()


def _run(broker: EmbeddedBroker, workdir: Path) -> str:
    """Run today's worker on the restored state and check it; its log."""
    worker = _worker(broker, workdir).start()
    try:
        _check(broker, worker)
    finally:
        code = worker.stop()
    log = worker.log.read_text()
    assert code == 0, f"the worker exited with {code}\n{log[-4000:]}"
    return log


def test_the_old_data_directory_is_read(broker: EmbeddedBroker, tmp_path: Path) -> None:
    restored = restore(broker, FIXTURE, tmp_path / "data")
    assert restored.records[TOPICS.alerts] == EXPECTED["alert_records"]
    assert any((tmp_path / "data").rglob("*.sst")), "the fixture's data directory holds no RocksDB table"
    _run(broker, tmp_path)
    _assert_in_this_format(tmp_path / "data")  # each partition found in format 1 was brought to this one


def test_an_empty_data_directory_is_rebuilt_from_the_old_changelog(broker: EmbeddedBroker, tmp_path: Path) -> None:
    restore(broker, FIXTURE, None)
    _run(broker, tmp_path)
    _assert_in_this_format(tmp_path / "data")  # derived as the changelog was replayed
