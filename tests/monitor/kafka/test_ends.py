from __future__ import annotations

from aiokafka import TopicPartition

from monitor.kafka.ends import seek_to_newest

BUSY, IDLE = TopicPartition("compliance.alerts", 0), TopicPartition("compliance.alerts", 1)


class _Consumer:
    """A consumer on a broker whose ListOffsets answer stops one past the first record of the last batch."""

    def __init__(self, listed: dict[TopicPartition, int], fetched: dict[TopicPartition, int] | None) -> None:
        self.listed = listed
        self.fetched = fetched  # the high watermarks a fetch answer gives (None: no answer ever comes)
        self.known: dict[TopicPartition, int] = {}
        self.seeks: list[tuple[TopicPartition, int]] = []

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self.listed[tp] for tp in partitions}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))

    async def getmany(self, *partitions: TopicPartition, timeout_ms: int) -> dict[TopicPartition, list[object]]:
        if self.fetched is not None:
            self.known |= {tp: self.fetched[tp] for tp in partitions}
        return {}

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.known.get(tp)


async def test_the_start_is_the_high_watermark_a_fetch_gives_not_the_listoffsets_answer() -> None:
    consumer = _Consumer({BUSY: 1, IDLE: 0}, fetched={BUSY: 55, IDLE: 0})
    assert await seek_to_newest(consumer, [BUSY, IDLE]) == {BUSY: 55, IDLE: 0}
    assert consumer.seeks == [(BUSY, 1), (IDLE, 0), (BUSY, 55), (IDLE, 0)]  # near the end, fetch, then the end


async def test_without_a_fetch_answer_the_listoffsets_answer_stands() -> None:
    consumer = _Consumer({BUSY: 1, IDLE: 0}, fetched=None)
    assert await seek_to_newest(consumer, [BUSY, IDLE], timeout=0.3) == {BUSY: 1, IDLE: 0}
