"""The alert ledger: what the alerts topic ends with, per fingerprint, and when it has been read to its end."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from aiokafka import TopicPartition

from monitor.state.ledger import AlertLedger, LedgerFollower
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
