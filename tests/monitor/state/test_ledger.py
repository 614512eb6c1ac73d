"""The alert ledger: what the alerts topic ends with, per fingerprint, and when it has been read to its end."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from aiokafka import TopicPartition

from monitor.state.history import AlertHistory, HistoryRecord
from monitor.state.ledger import AlertLedger, LedgerFollower
from rules.state import AlertTransition
from tests.rules.fixtures import transition


def test_a_transition_the_topic_ends_with_is_not_new() -> None:
    ledger = AlertLedger()
    firing = transition()
    assert ledger.is_new(firing) and ledger.last(firing.fingerprint) is None
    ledger.observe(firing)
    assert not ledger.is_new(firing)
    assert ledger.last(firing.fingerprint) == ("firing", "overdue", "", "")
    resolved = transition(status="resolved", ends_at=firing.starts_at)
    assert ledger.is_new(resolved)
    ledger.observe(resolved)
    assert ledger.is_new(firing)  # firing again after a resolution is a new transition
    assert len(ledger) == 1


def test_a_new_warning_step_is_a_new_transition() -> None:
    ledger = AlertLedger()
    week = transition(stage="due_soon", severity="warning", annotations={"summary": "s", "warn_before": "7d"})
    ledger.observe(week)
    day = transition(stage="due_soon", severity="warning", annotations={"summary": "s", "warn_before": "1d"})
    assert ledger.is_new(day) and not ledger.is_new(week)


def test_the_alerts_resolved_last_come_latest_end_first_whatever_order_they_were_read_in() -> None:
    start = transition().starts_at
    ended = [
        transition(status="resolved", fingerprint=f"fp{n}", ends_at=start + timedelta(days=n % 4)) for n in range(8)
    ]
    orders = []
    for order in (ended, list(reversed(ended))):
        ledger = AlertLedger()
        for t in order:
            ledger.observe(t)
        ledger.observe(transition(fingerprint="firing"))
        orders.append([t.fingerprint for t in ledger.resolved(5)])
    assert orders[0] == orders[1] and len(orders[0]) == 5
    assert orders[0][:2] == ["fp7", "fp3"], "the latest ends first, ties by fingerprint"


def test_firing_in_names_only_firing_alerts_of_the_given_units() -> None:
    ledger = AlertLedger()
    ledger.observe(transition(fingerprint="a"))
    ledger.observe(transition(fingerprint="b", labels={"alertname": "x", "unit_id": "VN-40", "severity": "critical"}))
    ledger.observe(transition(fingerprint="c", status="resolved"))
    assert [t.fingerprint for t in ledger.firing_in({"VN-22"})] == ["a"]


class _ReadIndex:
    """The history index, counting the last records asked of it."""

    def __init__(self, history: AlertHistory) -> None:
        self.history = history
        self.asked: list[str] = []

    def indexed(self, partition: int) -> int:
        return self.history.indexed(partition)

    def last_record(self, fingerprint: str) -> AlertTransition | None:
        self.asked.append(fingerprint)
        return self.history.last_record(fingerprint)


def _raised_and_resolved(n: int) -> list[AlertTransition]:
    """``n`` alerts, each fired then resolved: the topic's records, in order."""
    start = transition().starts_at
    return [
        t
        for k in range(n)
        for t in (
            transition(fingerprint=f"fp{k}"),
            transition(status="resolved", fingerprint=f"fp{k}", ends_at=start + timedelta(minutes=k)),
        )
    ]


def _read(ledger: AlertLedger, records: list[AlertTransition], first: int = 0) -> list[HistoryRecord]:
    """What the follower does with records read at ``first`` on: each observed where it is, then a trim."""
    for offset, t in enumerate(records, start=first):
        ledger.observe(t, 0, offset)
    ledger.trim()
    return [HistoryRecord(0, first + n, 0, t.model_dump_json().encode()) for n, t in enumerate(records)]


def test_alerts_resolved_long_ago_leave_memory_once_the_index_has_them_and_are_read_from_it(tmp_path: Path) -> None:
    ledger, index = AlertLedger(keep_resolved=100), _ReadIndex(AlertHistory(tmp_path / "h.sqlite3"))
    ledger.keep_on_disk(index)
    records = _raised_and_resolved(5_000)
    written = _read(ledger, records)
    assert len(ledger) == 5_000, "nothing leaves memory before the index has it"
    index.history.append(written)
    still = transition(fingerprint="still-firing")
    _read(ledger, [still], first=len(records))
    assert len(ledger) == 100 + 1, "the resolved ones kept, and the one firing: not every alert ever raised"
    assert len(ledger.resolved(1000)) == 100 and ledger.firing() == [still]
    assert ledger.resolved(1)[0].fingerprint == "fp4999"

    old_resolution = records[1]  # fp0's, long left to the index
    assert not ledger.is_new(old_resolution), "read from the index: published already"
    assert index.asked == ["fp0"]
    assert ledger.last("fp0") == ("resolved", "overdue", "", "")
    assert ledger.is_new(transition(fingerprint="fp0")), "firing again is new, and needs no read"
    assert ledger.last_before([transition(fingerprint="fp1")]) is None
    assert index.asked == ["fp0", "fp0"], "transitions that are all firing need no read"
    last = ledger.last_before([transition(fingerprint="fp1"), records[3]])
    assert last == records[3], "a resolution among them: the index says whether the topic has it"


def test_without_an_index_the_ledger_keeps_every_alert(tmp_path: Path) -> None:
    ledger = AlertLedger(keep_resolved=10)
    _read(ledger, _raised_and_resolved(50))
    assert len(ledger) == 50


class _StuckConsumer:
    """A consumer whose broker reports an end offset of 1 and serves nothing (the embedded one, restarted empty)."""

    def __init__(self, end: int) -> None:
        self.tp = TopicPartition("compliance.alerts", 0)
        self.end = end

    def assignment(self) -> set[TopicPartition]:
        return {self.tp}

    async def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self.end for tp in tps}

    async def position(self, tp: TopicPartition) -> int:
        return 0


async def _catch_up(end: int, timeout: float) -> bool:
    follower = LedgerFollower(AlertLedger(), "unused:9092", "compliance.alerts", {})
    follower._consumer = _StuckConsumer(end)  # type: ignore[assignment]
    follower._started.set()

    async def reads() -> None:  # what the follow loop does: reads, empty ones too
        while True:
            await asyncio.sleep(0.01)
            follower._reads += 1

    reader = asyncio.get_running_loop().create_task(reads())
    try:
        return await follower.catch_up(timeout, stalled_reads=20)
    finally:
        reader.cancel()


def test_catch_up_ends_when_reads_stop_moving_although_the_broker_reports_more() -> None:
    assert asyncio.run(_catch_up(end=1, timeout=5.0)) is True


def test_catch_up_of_an_empty_topic_is_immediate_and_a_stalled_read_needs_its_reads() -> None:
    assert asyncio.run(_catch_up(end=0, timeout=5.0)) is True
    assert asyncio.run(_catch_up(end=1, timeout=0.1)) is False  # fewer than 20 reads: not decided yet


def test_what_this_worker_wrote_stands_until_read_back_and_older_records_read_meanwhile_do_not_replace_it() -> None:
    ledger = AlertLedger()
    firing = transition()
    resolved = transition(status="resolved", ends_at=firing.starts_at + timedelta(hours=1))
    ledger.wrote(firing)
    ledger.wrote(resolved)  # the follower, resting, has read neither yet
    ledger.observe(firing, 0, 10)  # the older record, read now
    assert ledger.last(firing.fingerprint) == ("resolved", "overdue", "", "")
    again = transition(starts_at=firing.starts_at + timedelta(hours=2))
    assert ledger.is_new(again), "firing again after the resolution this worker wrote is new"
    ledger.observe(resolved, 0, 11)  # read back: the topic's word again
    ledger.observe(again, 0, 12)  # another worker's, after a takeover
    assert ledger.last_record(firing.fingerprint) == again


def test_a_record_read_back_before_the_broker_acknowledged_it_leaves_nothing_waiting() -> None:
    ledger = AlertLedger()
    firing = transition()
    ledger.observe(firing, 0, 0)  # the follower was quicker than the acknowledgement
    ledger.wrote(firing)
    resolved = transition(status="resolved", ends_at=firing.starts_at)
    ledger.observe(resolved, 0, 1)  # another worker's, later
    assert ledger.last_record(firing.fingerprint) == resolved


def test_a_record_written_and_never_read_back_is_forgotten_once_the_topic_was_read_to_its_end() -> None:
    ledger = AlertLedger()
    firing = transition()
    ledger.wrote(firing)  # then the broker came back empty: it is not on the topic
    mark = ledger.written
    other = transition(starts_at=firing.starts_at + timedelta(hours=1))
    ledger.observe(other, 0, 0)
    assert ledger.last_record(firing.fingerprint) == firing
    assert ledger.forget_unread(mark) == 1
    ledger.observe(other, 0, 0)
    assert ledger.last_record(firing.fingerprint) == other
