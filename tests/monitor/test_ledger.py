"""Effects that happen once although work is redone after a crash: the ledger of published alerts."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from monitor.ledger import AlertLedger
from monitor.metrics import Metrics
from monitor.processor import Processor
from monitor.records import partition_for
from monitor.store import ItemStore
from monitor.topics import Topics
from tests.conftest import vn
from tests.monitor.test_processor import PARTITIONS, RecordingOutbox, _record
from tests.rules.helpers import DEADLINE_RULES, pack, task


def _processor(
    tmp_path: Path, ledger: AlertLedger, table: dict[bytes, bytes] | None = None
) -> tuple[Processor, RecordingOutbox]:
    """A worker's processor over ``table`` (a new worker over the same durable table, when given)."""
    outbox = RecordingOutbox()
    rules = pack(tmp_path, DEADLINE_RULES)
    store = ItemStore(table if table is not None else {})
    processor = Processor(rules, store, outbox, Metrics(CollectorRegistry(), "t"), Topics(), 1 << 20, ledger)
    return processor, outbox


async def test_redoing_a_record_whose_state_was_lost_does_not_repeat_its_alert(tmp_path: Path) -> None:
    ledger = AlertLedger()
    record = _record(task(vn(2024, 7, 25), deadline=vn(2024, 7, 20), event_id="e-1").model_dump_json().encode())
    first, outbox = _processor(tmp_path, ledger)
    await first.on_record(record, PARTITIONS, vn(2024, 7, 25))
    assert [a.status for a in outbox.alerts] == ["firing"]
    # The worker died before its state reached the changelog: a new one redoes the record from scratch.
    second, outbox_after = _processor(tmp_path, ledger)
    await second.on_record(record, PARTITIONS, vn(2024, 7, 25, 0, 1))
    assert outbox_after.alerts == []


async def test_reconcile_publishes_a_firing_alert_the_topic_lost(tmp_path: Path) -> None:
    table: dict[bytes, bytes] = {}
    processor, outbox = _processor(tmp_path, AlertLedger(), table)
    record = _record(task(vn(2024, 7, 25), deadline=vn(2024, 7, 20)).model_dump_json().encode())
    await processor.on_record(record, PARTITIONS, vn(2024, 7, 25))
    (published,) = outbox.alerts
    # A new worker, same state, but the alert record never reached the topic.
    fresh, fresh_outbox = _processor(tmp_path, AlertLedger(), table)
    assert await fresh.reconcile(record.partition, PARTITIONS, vn(2024, 7, 26)) == (1, set())
    (again,) = fresh_outbox.alerts
    assert (again.fingerprint, again.status, again.stage) == (published.fingerprint, "firing", "overdue")
    assert again.annotations["reconciled"] == "true" and again.starts_at == published.starts_at
    assert await fresh.reconcile(record.partition, PARTITIONS, vn(2024, 7, 26)) == (0, set())  # idempotent


async def test_reconcile_resolves_what_the_topic_shows_firing_but_the_state_resolved(tmp_path: Path) -> None:
    ledger = AlertLedger()
    table: dict[bytes, bytes] = {}
    processor, outbox = _processor(tmp_path, ledger, table)
    overdue = task(vn(2024, 7, 25), deadline=vn(2024, 7, 20), event_id="a")
    await processor.on_record(_record(overdue.model_dump_json().encode()), PARTITIONS, vn(2024, 7, 25))
    done = task(vn(2024, 7, 26), status="completed", deadline=vn(2024, 7, 20), event_id="b")
    lost_ledger = AlertLedger()
    lost_ledger.observe(outbox.alerts[0])  # the resolution never reached the topic
    await processor.on_record(_record(done.model_dump_json().encode()), PARTITIONS, vn(2024, 7, 26))
    fresh, fresh_outbox = _processor(tmp_path, lost_ledger, table)
    partition = partition_for(b"VN-40", PARTITIONS)
    fixed, suspects = await fresh.reconcile(partition, PARTITIONS, vn(2024, 7, 27))
    assert (fixed, suspects, fresh_outbox.alerts) == (0, {outbox.alerts[0].fingerprint}, [])  # not yet: a suspect
    assert await fresh.resolve_unheld(partition, suspects, vn(2024, 7, 27)) == 1  # nothing redone brought it back
    (resolved,) = fresh_outbox.alerts
    assert resolved.status == "resolved" and resolved.annotations["resolution"] == "reconciled"


async def test_reconcile_does_not_step_an_alert_back_when_the_state_is_behind_the_topic(tmp_path: Path) -> None:
    table: dict[bytes, bytes] = {}
    processor, outbox = _processor(tmp_path, AlertLedger(), table)
    record = _record(task(vn(2024, 7, 15), deadline=vn(2024, 7, 20)).model_dump_json().encode())
    await processor.on_record(record, PARTITIONS, vn(2024, 7, 15))  # due soon: the state says so
    (due_soon,) = outbox.alerts
    ledger = AlertLedger()
    ledger.observe(due_soon.model_copy(update={"stage": "overdue", "annotations": {}}))  # a later owner went further
    fresh, fresh_outbox = _processor(tmp_path, ledger, table)
    assert await fresh.reconcile(record.partition, PARTITIONS, vn(2024, 7, 21)) == (0, set())
    assert await fresh.on_tick(record.partition, PARTITIONS, vn(2024, 7, 21)) == 1
    assert fresh_outbox.alerts == []  # the tick reaches "overdue", which the topic already has


async def test_an_alert_published_by_a_worker_that_died_before_its_state_write_is_not_resolved(
    tmp_path: Path,
) -> None:
    ledger = AlertLedger()
    table: dict[bytes, bytes] = {}
    known = task(vn(2024, 7, 1), task_id="T-0", deadline=vn(2024, 9, 1), event_id="e-0")
    first, _ = _processor(tmp_path, ledger, table)
    await first.on_record(_record(known.model_dump_json().encode()), PARTITIONS, vn(2024, 7, 1))
    # The next record's alert reaches the topic, its state write does not (the worker dies in between).
    record = _record(task(vn(2024, 7, 25), deadline=vn(2024, 7, 20), event_id="e-1").model_dump_json().encode())
    dying, outbox = _processor(tmp_path, ledger, dict(table))
    await dying.on_record(record, PARTITIONS, vn(2024, 7, 25))
    (fired,) = outbox.alerts
    fresh, fresh_outbox = _processor(tmp_path, ledger, table)
    fixed, suspects = await fresh.reconcile(record.partition, PARTITIONS, vn(2024, 7, 25, 0, 1))
    assert (fixed, suspects) == (0, {fired.fingerprint})
    await fresh.on_record(record, PARTITIONS, vn(2024, 7, 25, 0, 1))  # the uncommitted record is redone
    assert await fresh.resolve_unheld(record.partition, suspects, vn(2024, 7, 25, 0, 2)) == 0
    assert fresh_outbox.alerts == []  # neither a resolution nor a second firing record
