"""The fetch guard: a partition whose records were fetched and never handed over is read again, once."""

from __future__ import annotations

import asyncio

from monitor.worker.fetch_guard import FetchGuard, Partition

TP = Partition("compliance.task-status", 0)
TICKS = Partition("compliance.ticks", 0)
OTHER = Partition("compliance.task-status", 1)


class Consumer:
    """Positions, committed offsets and seeks of a consumer, and whether it is steady."""

    def __init__(self) -> None:
        self.positions: dict[Partition, int] = {TP: 0, OTHER: 0}
        self.committed: dict[Partition, int] = {}
        self.ends: dict[Partition, int] = {}
        self.seeks: list[tuple[Partition, int]] = []
        self.steady = True

    async def position(self, tp: Partition) -> int | None:
        return self.positions.get(tp)

    async def end(self, tp: Partition) -> int | None:
        return self.ends.get(tp)

    async def seek(self, tp: Partition, offset: int) -> None:
        self.seeks.append((tp, offset))
        self.positions[tp] = offset


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _guard(consumer: Consumer, clock: Clock) -> FetchGuard:
    return FetchGuard(
        assigned=lambda: [TP, OTHER],
        position=consumer.position,
        floor=consumer.committed.get,
        end=consumer.end,
        seek=consumer.seek,
        can_check=lambda: consumer.steady,
        clockwork=(TICKS.topic,),
        patience=5.0,
        monotonic=clock,
    )


def _look(guard: FetchGuard, clock: Clock, seconds: float) -> list[Partition]:
    """Check once a second for ``seconds``; every partition sought back meanwhile."""
    rewound: list[Partition] = []
    for _ in range(int(seconds)):
        clock.now += 1
        rewound += asyncio.run(guard.check())
    return rewound


def test_a_position_past_what_was_handled_is_sought_back_once_the_worker_is_idle() -> None:
    consumer, clock = Consumer(), Clock()
    guard = _guard(consumer, clock)
    for offset in range(10):
        guard.handled(TP, offset)
    consumer.positions[TP] = 25  # fetched 10..24, never handed over
    assert _look(guard, clock, 4) == []  # not yet: the records may still be on their way
    assert _look(guard, clock, 3) == [TP]
    assert consumer.seeks == [(TP, 10)]
    assert _look(guard, clock, 20) == []  # read again from 10: nothing more to do


def test_the_committed_offset_counts_as_handled() -> None:
    consumer, clock = Consumer(), Clock()
    guard = _guard(consumer, clock)
    consumer.committed[OTHER] = 40  # another worker handled up to 39 before this one took the partition
    consumer.positions[OTHER] = 40
    assert _look(guard, clock, 20) == []
    consumer.positions[OTHER] = 47
    assert _look(guard, clock, 10) == [OTHER]
    assert consumer.seeks == [(OTHER, 40)]


def test_a_worker_at_work_is_left_alone() -> None:
    consumer, clock = Consumer(), Clock()
    guard = _guard(consumer, clock)
    consumer.positions[TP] = 50  # a backlog queued behind other partitions' records
    for _ in range(30):
        clock.now += 1
        guard.handled(OTHER, int(clock.now))
        assert asyncio.run(guard.check()) == []
    assert consumer.seeks == []


def test_a_partition_that_catches_up_is_not_sought() -> None:
    consumer, clock = Consumer(), Clock()
    guard = _guard(consumer, clock)
    consumer.positions[TP] = 3
    clock.now += 10
    asyncio.run(guard.check())  # the gap is seen
    for offset in range(3):
        guard.handled(TP, offset)
    clock.now += 10  # idle again, and nothing left behind
    assert _look(guard, clock, 10) == []
    assert consumer.seeks == []


def test_nothing_is_sought_while_the_group_moves() -> None:
    consumer, clock = Consumer(), Clock()
    guard = _guard(consumer, clock)
    consumer.positions[TP] = 9
    consumer.steady = False  # a rebalance, recovery or held flow: positions are the group's to set
    assert _look(guard, clock, 30) == []
    consumer.steady = True
    assert _look(guard, clock, 4) == []  # the gap is timed again from here
    assert _look(guard, clock, 2) == [TP]


def test_a_worker_busy_with_one_long_record_is_left_alone() -> None:
    consumer, clock = Consumer(), Clock()
    guard = _guard(consumer, clock)
    consumer.positions[TP] = 12
    guard.handling()  # a takeover that waits for the alerts topic, say
    assert _look(guard, clock, 60) == []
    guard.handled(TP, 0)
    assert _look(guard, clock, 10) == [TP]
    assert consumer.seeks == [(TP, 1)]


def test_ticks_handled_every_second_do_not_hide_a_stalled_partition() -> None:
    consumer, clock = Consumer(), Clock()
    guard = _guard(consumer, clock)
    consumer.positions[TP] = 30
    consumer.positions[TICKS] = 0
    rewound: list[Partition] = []
    for second in range(12):
        clock.now += 1
        guard.handling()
        guard.handled(TICKS, second)  # the worker's own tick
        rewound += asyncio.run(guard.check())
    assert rewound == [TP] and consumer.seeks == [(TP, 0)]


def test_a_partition_left_paused_with_records_on_the_broker_is_resumed() -> None:
    consumer, clock = Consumer(), Clock()
    guard = _guard(consumer, clock)
    for offset in range(40):
        guard.handled(TP, offset)
    consumer.positions[TP] = 40  # nothing fetched past what was handled...
    consumer.ends[TP] = 55  # ...while the broker holds 15 more records
    consumer.ends[OTHER] = 0
    assert _look(guard, clock, 5) == []  # fetches may simply be on their way
    assert _look(guard, clock, 6) == [TP]
    assert consumer.seeks == [(TP, 40)]
    consumer.ends[TP] = 40  # all read: nothing more to do
    assert _look(guard, clock, 20) == []


def test_a_record_past_a_hole_names_the_first_missing_offset_and_it_is_sought_once() -> None:
    consumer, clock = Consumer(), Clock()
    guard = _guard(consumer, clock)
    for offset in range(10):
        assert guard.gap_before(TP, offset) is None
        guard.handled(TP, offset)
    assert guard.gap_before(TP, 94) == 10  # 10..93 were fetched and dropped: handed 94
    assert asyncio.run(guard.rewind(TP, 10, 94)) is True
    assert asyncio.run(guard.rewind(TP, 10, 95)) is False  # 95 was already on its way: no second seek
    assert consumer.seeks == [(TP, 10)]
    clock.now += 1  # a second on, 10 has not come (faust dropped it again): seek again
    assert asyncio.run(guard.rewind(TP, 10, 96)) is True
    assert consumer.seeks == [(TP, 10), (TP, 10)]
    for offset in range(10, 96):
        assert guard.gap_before(TP, offset) is None
        guard.handled(TP, offset)
    assert guard.gap_before(TP, 97) == 96
    assert asyncio.run(guard.rewind(TP, 96, 97)) is True  # a new hole is sought again


def test_the_first_record_after_an_assignment_must_be_the_first_not_committed() -> None:
    consumer, clock = Consumer(), Clock()
    guard = _guard(consumer, clock)
    for offset in range(50):
        guard.handled(TP, offset)
    guard.reset()  # assigned again: read from the committed offset
    consumer.committed[TP] = 30
    assert guard.gap_before(TP, 30) is None  # read again from the commit: expected
    assert guard.gap_before(TP, 31) == 30  # the record at the commit never came
    consumer.committed[OTHER] = 7
    assert guard.gap_before(OTHER, 7) is None
    assert guard.gap_before(TICKS, 12) is None  # nothing known: nothing to say


def test_records_read_again_before_the_expected_one_are_no_hole() -> None:
    consumer, clock = Consumer(), Clock()
    guard = _guard(consumer, clock)
    for offset in range(20):
        guard.handled(TP, offset)
    assert guard.gap_before(TP, 5) is None  # a duplicate after a seek back: handled again, harmlessly
    guard.handled(TP, 5)
    assert guard.gap_before(TP, 20) is None


class Unanswering(Consumer):
    """A consumer that cannot say where it is in one partition (its position is being reset, or times out)."""

    def __init__(self, stuck: Partition) -> None:
        super().__init__()
        self.stuck = stuck

    async def position(self, tp: Partition) -> int | None:
        if tp == self.stuck and not any(sought == tp for sought, _ in self.seeks):
            raise TimeoutError(f"no position for {tp}")
        return await super().position(tp)


def test_a_partition_that_cannot_say_its_position_does_not_hide_the_others() -> None:
    consumer, clock = Unanswering(TP), Clock()
    guard = _guard(consumer, clock)
    consumer.positions[OTHER] = 7  # fetched 0..6 of the other partition, never handed over
    assert OTHER in _look(guard, clock, 8)
    assert (OTHER, 0) in consumer.seeks


def test_a_partition_without_a_position_while_the_broker_holds_its_records_is_sought_back() -> None:
    consumer, clock = Unanswering(TP), Clock()
    guard = _guard(consumer, clock)
    for offset in range(3):
        guard.handled(TP, offset)
    consumer.ends[TP] = 9
    assert _look(guard, clock, 4) == []  # idle, but not for long enough yet
    assert _look(guard, clock, 8) == [TP]
    assert consumer.seeks == [(TP, 3)]
    for offset in range(3, 9):  # sought: it has a position again, and its records reach the worker
        guard.handled(TP, offset)
    assert _look(guard, clock, 10) == []


def test_a_partition_is_placed_once_its_committed_offset_is_known_or_a_record_was_handled() -> None:
    consumer, clock = Consumer(), Clock()
    guard = _guard(consumer, clock)
    assert not guard.placed(TP)  # assigned, not sought to its committed offset yet: order cannot be checked
    assert guard.handled_through(TP) is None  # nothing handled: nothing may be committed
    consumer.committed[TP] = 872
    assert guard.placed(TP)
    guard.handled(TP, 872)
    guard.handled(TP, 873)
    assert guard.handled_through(TP) == 874
    guard.reset()  # assigned again
    assert guard.handled_through(TP) is None
