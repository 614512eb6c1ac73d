"""Taking a partition over: effects happen once although work is redone after a crash (no broker, no waiting)."""

from __future__ import annotations

import sys
from pathlib import Path

from monitor.kafka.records import partition_for
from monitor.state.ledger import AlertLedger
from monitor.worker.processor import Processor
from monitor.worker.takeover import Takeover
from rules.state import AlertTransition
from tests.conftest import vn
from tests.monitor.worker.fixtures import (
    GRACE,
    PARTITIONS,
    TOPICS,
    RecordingOutbox,
    WorkerParts,
    deadline_parts,
    worker_parts,
)
from tests.monitor.worker.fixtures import record as _record
from tests.rules.fixtures import DEADLINE_RULES, pack, task


def _processor(
    tmp_path: Path, ledger: AlertLedger, table: dict[bytes, bytes] | None = None
) -> tuple[Processor, RecordingOutbox]:
    """A worker's processor over ``table`` (a new worker over the same durable table, when given)."""
    parts = deadline_parts(tmp_path, ledger, table)
    return parts.processor, parts.outbox


def _worker(tmp_path: Path, ledger: AlertLedger, table: dict[bytes, bytes] | None = None) -> WorkerParts:
    return deadline_parts(tmp_path, ledger, table)


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
    await processor.on_tick(record.partition, PARTITIONS, vn(2024, 7, 25, 0, 1))  # the confirmation is durable
    assert not [key for key in table if b"\x1fo" in key]
    # A new worker, same state, but the alert record never reached the topic.
    fresh = _worker(tmp_path, AlertLedger(), table)
    fixed, suspects = await fresh.takeover.reconcile(record.partition, PARTITIONS, vn(2024, 7, 26))
    assert (fixed, suspects, fresh.outbox.alerts) == (0, {published.fingerprint}, [])  # not yet: a suspect
    assert await fresh.takeover.decide(record.partition, suspects, vn(2024, 7, 26)) == 1  # nothing redone resolved it
    (again,) = fresh.outbox.alerts
    assert (again.fingerprint, again.status, again.stage) == (published.fingerprint, "firing", "overdue")
    assert again.annotations["reconciled"] == "true" and again.starts_at == published.starts_at
    assert await fresh.takeover.decide(record.partition, suspects, vn(2024, 7, 26)) == 0  # once
    assert await fresh.takeover.reconcile(record.partition, PARTITIONS, vn(2024, 7, 26)) == (0, set())  # agreed


async def _resolved_with_the_resolution_lost(
    tmp_path: Path, table: dict[bytes, bytes], *, confirmed: bool
) -> tuple[AlertLedger, list[AlertTransition]]:
    """A task overdue, then completed late; the topic got the firing record but not the resolution.

    ``confirmed``: the worker also made the confirmation of the resolution durable
    (the outbox no longer has it), as it does on its next record or tick.
    """
    processor, outbox = _processor(tmp_path, AlertLedger(), table)
    overdue = task(vn(2024, 7, 25), deadline=vn(2024, 7, 20), event_id="a")
    await processor.on_record(_record(overdue.model_dump_json().encode()), PARTITIONS, vn(2024, 7, 25))
    done = task(vn(2024, 7, 26), status="completed", deadline=vn(2024, 7, 20), event_id="b")
    await processor.on_record(_record(done.model_dump_json().encode()), PARTITIONS, vn(2024, 7, 26))
    if confirmed:
        await processor.on_tick(partition_for(b"VN-40", PARTITIONS), PARTITIONS, vn(2024, 7, 26, 0, 1))
    lost_ledger = AlertLedger()
    lost_ledger.observe(outbox.alerts[0])  # what the topic says: still firing
    return lost_ledger, outbox.alerts


async def test_a_resolution_the_topic_lost_is_published_from_the_outbox_with_its_real_reason(tmp_path: Path) -> None:
    table: dict[bytes, bytes] = {}
    lost_ledger, published = await _resolved_with_the_resolution_lost(tmp_path, table, confirmed=False)
    fresh = _worker(tmp_path, lost_ledger, table)
    partition = partition_for(b"VN-40", PARTITIONS)
    assert await fresh.takeover.reconcile(partition, PARTITIONS, vn(2024, 7, 27)) == (1, set())
    assert fresh.outbox.alerts == [published[1]]  # the very record: completed_late, ending when the task was done
    assert published[1].annotations["resolution"] == "completed_late" and published[1].ends_at == vn(2024, 7, 26)
    assert await fresh.takeover.reconcile(partition, PARTITIONS, vn(2024, 7, 27)) == (0, set())  # once


async def test_reconcile_resolves_what_the_topic_shows_firing_but_the_state_resolved(tmp_path: Path) -> None:
    table: dict[bytes, bytes] = {}
    lost_ledger, published = await _resolved_with_the_resolution_lost(tmp_path, table, confirmed=True)
    fresh = _worker(tmp_path, lost_ledger, table)
    partition = partition_for(b"VN-40", PARTITIONS)
    fixed, suspects = await fresh.takeover.reconcile(partition, PARTITIONS, vn(2024, 7, 27))
    assert (fixed, suspects, fresh.outbox.alerts) == (0, {published[0].fingerprint}, [])  # not yet: a suspect
    assert await fresh.takeover.decide(partition, suspects, vn(2024, 7, 27)) == 1  # nothing redone brought it back
    (resolved,) = fresh.outbox.alerts
    assert resolved.status == "resolved" and resolved.annotations["resolution"] == "reconciled"


async def test_transitions_durable_but_never_published_are_published_by_the_next_owner(tmp_path: Path) -> None:
    """The worker died after its state and outbox were durable, before the alert left."""
    table: dict[bytes, bytes] = {}
    dying = _worker(tmp_path, AlertLedger(), table)
    dying.processor.checkpoint.writer.write = _never  # type: ignore[method-assign]
    record = _record(task(vn(2024, 7, 25), deadline=vn(2024, 7, 20), event_id="e-1").model_dump_json().encode())
    await dying.processor.on_record(record, PARTITIONS, vn(2024, 7, 25))
    assert dying.outbox.alerts == [] and [key for key in table if b"\x1fo" in key]
    fresh = _worker(tmp_path, AlertLedger(), table)
    await fresh.takeover.settle(record.partition, {record.partition}, PARTITIONS, vn(2024, 7, 25, 0, 5))
    (fired,) = fresh.outbox.alerts
    assert (fired.status, fired.stage, fired.event_ids) == ("firing", "overdue", ["e-1"])
    assert "reconciled" not in fired.annotations  # the record as evaluated, not a restatement
    await fresh.processor.on_record(record, PARTITIONS, vn(2024, 7, 25, 0, 6))  # the record is redone: a duplicate
    await fresh.processor.on_tick(record.partition, PARTITIONS, vn(2024, 7, 25, 0, 7))
    assert len(fresh.outbox.alerts) == 1 and not [key for key in table if b"\x1fo" in key]


async def _never(transitions: object) -> int:
    raise ConnectionError("the worker died before the alert left")


async def test_reconcile_does_not_step_an_alert_back_when_the_state_is_behind_the_topic(tmp_path: Path) -> None:
    table: dict[bytes, bytes] = {}
    processor, outbox = _processor(tmp_path, AlertLedger(), table)
    record = _record(task(vn(2024, 7, 15), deadline=vn(2024, 7, 20)).model_dump_json().encode())
    await processor.on_record(record, PARTITIONS, vn(2024, 7, 15))  # due soon: the state says so
    (due_soon,) = outbox.alerts
    await processor.on_tick(record.partition, PARTITIONS, vn(2024, 7, 15, 0, 1))  # the confirmation is durable
    ledger = AlertLedger()
    overdue = {"due": due_soon.annotations["due"]}  # the same deadline, passed
    ledger.observe(
        due_soon.model_copy(update={"stage": "overdue", "annotations": overdue})
    )  # a later owner went further
    fresh = _worker(tmp_path, ledger, table)
    assert await fresh.takeover.reconcile(record.partition, PARTITIONS, vn(2024, 7, 21)) == (0, set())
    assert await fresh.processor.on_tick(record.partition, PARTITIONS, vn(2024, 7, 21)) == 1
    assert fresh.outbox.alerts == []  # the tick reaches "overdue", which the topic already has


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
    fresh = _worker(tmp_path, ledger, table)
    fixed, suspects = await fresh.takeover.reconcile(record.partition, PARTITIONS, vn(2024, 7, 25, 0, 1))
    assert (fixed, suspects) == (0, {fired.fingerprint})
    await fresh.processor.on_record(record, PARTITIONS, vn(2024, 7, 25, 0, 1))  # the uncommitted record is redone
    assert await fresh.takeover.decide(record.partition, suspects, vn(2024, 7, 25, 0, 2)) == 0
    assert fresh.outbox.alerts == []  # neither a resolution nor a second firing record


# --- the same pictures through the worker's own calls: settle on the first record, on_tick on each tick -------


async def test_crash_picture_the_suspect_is_brought_back_by_the_redone_record_and_never_resolved(
    tmp_path: Path,
) -> None:
    """The previous owner published a firing alert and died before writing its state."""
    ledger = AlertLedger()
    table: dict[bytes, bytes] = {}
    known = task(vn(2024, 7, 1), task_id="T-0", deadline=vn(2024, 9, 1), event_id="e-0")
    first = _worker(tmp_path, ledger, table)
    await first.processor.on_record(_record(known.model_dump_json().encode(), offset=0), PARTITIONS, vn(2024, 7, 1))
    record = _record(
        task(vn(2024, 7, 25), deadline=vn(2024, 7, 20), event_id="e-1").model_dump_json().encode(), offset=1
    )
    dying = _worker(tmp_path, ledger, dict(table))  # its state writes are lost with it
    await dying.processor.on_record(record, PARTITIONS, vn(2024, 7, 25))
    (fired,) = dying.outbox.alerts

    fresh = _worker(tmp_path, ledger, table)
    partition = record.partition
    fresh.ends[(TOPICS.task_status, partition)] = 2  # the broker holds offsets 0 and 1
    await fresh.takeover.settle(partition, {partition}, PARTITIONS, vn(2024, 7, 25, 0, 1))
    assert fresh.takeover.is_settled(partition) and fresh.takeover.suspects(partition) == {fired.fingerprint}
    fresh.takeover.handled(TOPICS.task_status, partition, 0)
    fresh.clock.now = GRACE + 1
    # The grace period has passed, but offset 1 is not redone yet: the suspect waits.
    assert await fresh.takeover.on_tick(partition, vn(2024, 7, 25, 0, 2)) == 0
    assert fresh.takeover.suspects(partition) == {fired.fingerprint}
    await fresh.processor.on_record(record, PARTITIONS, vn(2024, 7, 25, 0, 3))  # redone: the state holds it again
    fresh.takeover.handled(TOPICS.task_status, partition, 1)
    assert await fresh.takeover.on_tick(partition, vn(2024, 7, 25, 0, 4)) == 0
    assert fresh.takeover.suspects(partition) == set()  # decided: held, so not resolved
    assert fresh.outbox.alerts == []  # neither a second firing record nor a resolution


async def test_lost_resolution_picture_resolved_only_after_the_grace_period_and_the_redo(tmp_path: Path) -> None:
    """The state resolved an alert; the resolution record never reached the topic."""
    ledger = AlertLedger()
    table: dict[bytes, bytes] = {}
    first = _worker(tmp_path, ledger, table)
    overdue = task(vn(2024, 7, 25), deadline=vn(2024, 7, 20), event_id="a")
    await first.processor.on_record(_record(overdue.model_dump_json().encode()), PARTITIONS, vn(2024, 7, 25))
    (fired,) = first.outbox.alerts
    lost = AlertLedger()
    lost.observe(fired)  # what the topic says: still firing
    done = task(vn(2024, 7, 26), status="completed", deadline=vn(2024, 7, 20), event_id="b")
    await first.processor.on_record(_record(done.model_dump_json().encode()), PARTITIONS, vn(2024, 7, 26))
    await first.processor.on_tick(partition_for(b"VN-40", PARTITIONS), PARTITIONS, vn(2024, 7, 26, 0, 1))

    fresh = _worker(tmp_path, lost, table)
    partition = partition_for(b"VN-40", PARTITIONS)
    await fresh.takeover.settle(partition, {partition}, PARTITIONS, vn(2024, 7, 27))
    assert fresh.takeover.suspects(partition) == {fired.fingerprint}
    fresh.clock.now = GRACE - 1
    assert await fresh.takeover.on_tick(partition, vn(2024, 7, 27, 0, 1)) == 0  # within the grace period
    assert fresh.outbox.alerts == []
    fresh.clock.now = GRACE
    assert await fresh.takeover.on_tick(partition, vn(2024, 7, 27, 0, 2)) == 1
    (resolved,) = fresh.outbox.alerts
    assert (resolved.fingerprint, resolved.status) == (fired.fingerprint, "resolved")
    assert resolved.annotations["resolution"] == "reconciled" and resolved.ends_at == vn(2024, 7, 27, 0, 2)
    assert await fresh.takeover.on_tick(partition, vn(2024, 7, 27, 0, 3)) == 0  # once


async def test_a_rebalance_makes_every_partition_settle_again(tmp_path: Path) -> None:
    parts = _worker(tmp_path, AlertLedger())
    await parts.takeover.settle(0, {0, 1}, PARTITIONS, vn(2024, 7, 1))
    await parts.takeover.settle(1, {0, 1}, PARTITIONS, vn(2024, 7, 1))
    assert parts.takeover.all_settled({0, 1}) and not parts.takeover.all_settled({0, 1, 2})
    parts.takeover.reset()
    assert not parts.takeover.is_settled(0) and not parts.takeover.all_settled({0})


async def test_a_batch_durable_only_in_part_is_completed_by_the_redo_and_nothing_is_published_twice(
    tmp_path: Path,
) -> None:
    """The previous owner died while the changelog took its last batch: only the batch's first record is durable."""
    ledger = AlertLedger()
    table: dict[bytes, bytes] = {}
    partition = partition_for(b"VN-40", PARTITIONS)
    first = _worker(tmp_path, ledger, table)
    overdue = task(vn(2024, 7, 25), deadline=vn(2024, 7, 20), event_id="a")
    await first.processor.on_record(_record(overdue.model_dump_json().encode(), offset=0), PARTITIONS, vn(2024, 7, 25))
    await first.processor.on_tick(partition, PARTITIONS, vn(2024, 7, 25, 0, 1))  # the confirmation is durable
    (fired,) = first.outbox.alerts
    done = task(vn(2024, 7, 26), status="completed", deadline=vn(2024, 7, 20), event_id="b")
    record = _record(done.model_dump_json().encode(), offset=1)
    dying = _worker(tmp_path, ledger, dict(table))
    dying.processor.checkpoint.writer.write = _never  # type: ignore[method-assign]
    await dying.processor.on_record(record, PARTITIONS, vn(2024, 7, 26))
    key, value = dying.log.batches[-1][0]  # the outbox entry comes first: the resolution, as evaluated
    assert b"\x1fo" in key and value is not None
    table[key] = value

    fresh = _worker(tmp_path, ledger, table)
    fresh.ends[(TOPICS.task_status, partition)] = 2
    await fresh.takeover.settle(partition, {partition}, PARTITIONS, vn(2024, 7, 27))
    (resolved,) = fresh.outbox.alerts  # published from the outbox, with its real reason
    assert resolved.annotations["resolution"] == "completed_late" and resolved.ends_at == vn(2024, 7, 26)
    # The state still holds the alert firing (its deletion was not durable): a suspect, not a restatement.
    assert fresh.takeover.suspects(partition) == {fired.fingerprint}
    await fresh.processor.on_record(record, PARTITIONS, vn(2024, 7, 27, 0, 1))  # the redo completes the batch
    fresh.takeover.handled(TOPICS.task_status, partition, 1)
    fresh.clock.now = GRACE + 1
    assert await fresh.takeover.on_tick(partition, vn(2024, 7, 27, 0, 2)) == 0
    assert fresh.outbox.alerts == [resolved]  # firing once, resolved once: nothing restated, nothing repeated
    held = fresh.processor.unit_state("VN-40")
    assert held is not None and held.alerts == {} and held.tasks["T-1"].status == "completed"


async def test_a_suspect_waits_for_records_the_group_has_not_committed(tmp_path: Path) -> None:
    """Nothing handled yet since the takeover: the committed offset says how far the redo is."""
    table: dict[bytes, bytes] = {}
    lost_ledger, published = await _resolved_with_the_resolution_lost(tmp_path, table, confirmed=True)
    fresh = _worker(tmp_path, lost_ledger, table)
    partition = partition_for(b"VN-40", PARTITIONS)
    fresh.ends[(TOPICS.task_status, partition)] = 5
    await fresh.takeover.settle(partition, {partition}, PARTITIONS, vn(2024, 7, 27))
    fresh.clock.now = GRACE + 1
    assert await fresh.takeover.on_tick(partition, vn(2024, 7, 27, 0, 1)) == 0  # offsets 0..4 not redone yet
    fresh.committed[(TOPICS.task_status, partition)] = 5  # the group had handled them all before
    assert await fresh.takeover.on_tick(partition, vn(2024, 7, 27, 0, 2)) == 1
    (resolved,) = fresh.outbox.alerts
    assert (resolved.fingerprint, resolved.annotations["resolution"]) == (published[0].fingerprint, "reconciled")


async def test_an_alert_staged_and_not_yet_durable_is_on_its_way_not_lost(tmp_path: Path) -> None:
    parts = deadline_parts(tmp_path, AlertLedger(), max_staged=1_000)  # writes gathered as the worker runs
    record = _record(task(vn(2024, 7, 25), deadline=vn(2024, 7, 20)).model_dump_json().encode())
    await parts.processor.on_record(record, PARTITIONS, vn(2024, 7, 25))
    assert parts.outbox.alerts == []  # staged with its state, not durable yet
    fixed, suspects = await parts.takeover.reconcile(record.partition, PARTITIONS, vn(2024, 7, 25, 0, 1))
    # Compared with the durable state: made durable and published, not a suspect to restate later.
    assert (fixed, suspects, [a.stage for a in parts.outbox.alerts]) == (1, set(), ["overdue"])
    assert [b"\x1fs" in key for batch in parts.log.batches for key, _ in batch].count(True) == 1


async def _taken_over_with_a_backlog(tmp_path: Path) -> tuple[WorkerParts, Takeover, dict[tuple[str, int], int]]:
    """Partition 0 taken over with three task-status records and one indicator report on the broker."""
    parts = deadline_parts(tmp_path)
    parts.ends[(TOPICS.task_status, 0)] = 3
    parts.ends[(TOPICS.indicators, 0)] = 1
    await parts.takeover.settle(0, {0}, PARTITIONS, vn(2024, 7, 25))
    return parts, parts.takeover, parts.ends


async def test_a_partition_is_judged_only_once_the_records_the_broker_held_when_it_was_taken_over_are_read(
    tmp_path: Path,
) -> None:
    parts, takeover, ends = await _taken_over_with_a_backlog(tmp_path)
    assert not takeover.has_read_backlog(0)
    takeover.handled(TOPICS.task_status, 0, 2)
    assert not takeover.has_read_backlog(0)  # the indicators topic still holds one
    ends[(TOPICS.indicators, 0)] = 50  # records that came after the takeover do not hold the judgement back
    takeover.handled(TOPICS.indicators, 0, 0)
    assert takeover.has_read_backlog(0)
    assert takeover.has_read_backlog(0)  # and stays so until the next rebalance
    takeover.reset()
    await takeover.settle(0, {0}, PARTITIONS, vn(2024, 7, 25))
    assert not takeover.has_read_backlog(0)
    parts.committed[(TOPICS.indicators, 0)] = 50  # the group had committed past them: nothing is left to read
    assert takeover.has_read_backlog(0)


async def test_a_run_of_records_is_caught_up_below_where_its_topic_s_backlog_ends_once_the_others_are_read(
    tmp_path: Path,
) -> None:
    _, takeover, _ = await _taken_over_with_a_backlog(tmp_path)
    assert not takeover.has_read_backlog(0)
    assert takeover.catching_up_below(TOPICS.task_status, 0) == sys.maxsize  # the indicators' backlog holds one
    takeover.handled(TOPICS.indicators, 0, 0)
    assert not takeover.has_read_backlog(0)
    assert takeover.catching_up_below(TOPICS.task_status, 0) == 3
    takeover.handled(TOPICS.task_status, 0, 2)
    assert takeover.has_read_backlog(0)
    assert takeover.catching_up_below(TOPICS.task_status, 0) == 0


async def test_the_end_a_fetch_reports_counts_when_list_offsets_says_less(tmp_path: Path) -> None:
    parts = deadline_parts(tmp_path)
    said: dict[str, int] = {TOPICS.task_status: 1}  # the embedded broker: the start of the last batch, not its end

    async def list_offsets(topic: str, partition: int) -> int | None:
        return said.get(topic)

    parts.takeover._end_offset = list_offsets
    parts.ends[(TOPICS.task_status, 0)] = 5  # what the consumer's fetches report
    await parts.takeover.settle(0, {0}, PARTITIONS, vn(2024, 7, 25))
    parts.takeover.handled(TOPICS.task_status, 0, 0)
    assert not parts.takeover.has_read_backlog(0)
    parts.takeover.handled(TOPICS.task_status, 0, 4)
    assert not parts.takeover.has_read_backlog(0)  # the indicators topic was never fetched: its end is unknown
    assert parts.takeover.catching_up_below(TOPICS.task_status, 0) is None  # records judged one at a time
    parts.clock.now += GRACE  # … and is not waited for past the grace period
    assert parts.takeover.has_read_backlog(0)


async def test_a_partition_whose_end_the_broker_does_not_give_is_held_back_only_for_the_grace_period(
    tmp_path: Path,
) -> None:
    parts = deadline_parts(tmp_path)

    async def silent(topic: str, partition: int) -> int | None:
        raise TimeoutError

    parts.takeover._end_offset = silent  # the broker does not answer ListOffsets in time, nor has anything been fetched
    await parts.takeover.settle(1, {1}, PARTITIONS, vn(2024, 7, 25))
    assert not parts.takeover.has_read_backlog(1)
    parts.clock.now += GRACE
    assert parts.takeover.has_read_backlog(1)


async def test_the_alerts_topic_is_read_to_its_end_once_per_rebalance_and_again_after_one_that_ran_out_of_time(
    tmp_path: Path,
) -> None:
    # Each partition's first record waited for its own read of the topic's end (about a second on the
    # embedded broker, four times over for four partitions): once per rebalance is what the takeover needs.
    answers = [False, True]
    reads: list[bool] = []

    async def catch_up() -> bool:
        reads.append(answers.pop(0) if answers else True)
        return reads[-1]

    parts = worker_parts(pack(tmp_path, DEADLINE_RULES), catch_up=catch_up)
    for partition in range(PARTITIONS):
        await parts.takeover.settle(partition, set(range(PARTITIONS)), PARTITIONS, vn(2024, 7, 25))
    assert reads == [False, True]  # the first read ran out of time: the next partition read again, then none
    parts.takeover.reset()  # a rebalance
    await parts.takeover.settle(0, {0}, PARTITIONS, vn(2024, 7, 25))
    await parts.takeover.settle(1, {0, 1}, PARTITIONS, vn(2024, 7, 25))
    assert reads == [False, True, True]
