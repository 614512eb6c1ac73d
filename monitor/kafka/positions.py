"""Consumer positions and commits that never move past a record the worker did not handle.

*Seeking to the committed offsets.*
aiokafka's ``seek_to_committed`` seeks only the partitions with a committed
offset above 0 and leaves the others where they are. faust calls it after
every recovery ("Seek stream partitions to committed offsets") to undo the
fetches it made while the partitions were paused, and drops the records
such a fetch returned. A partition the group never committed (a new topic,
or a worker that died before its first commit) is then left past records
no one processed, and nothing reads them until the next rebalance. Here
those partitions go back to the start, as ``auto_offset_reset="earliest"``
(the monitor's setting) would have put them.

*Committing.* faust commits, per partition, the run of consecutive offsets
its streams acknowledged, and counts as done two kinds of offset no stream
ever saw: the ranges it skipped over when a fetch jumped forward ("gaps",
meant for compacted topics, whose offsets have holes), and one missing
offset right after the last commit (``min(acked) - committed > 1`` lets a
difference of 1 through). On the embedded broker, under rebalance churn,
fetched batches are dropped between the fetch and the agent (a rebalance or
a held flow in the middle of one): the next fetch starts past them, and faust
committed the hole as done; 80 and more task events a time were never
applied (see ``commit_run``). The monitor's topics are not compacted: a
hole is always a drop, and the commit waits until the records are read again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["commit_run", "rewind_uncommitted", "uncommitted"]


def uncommitted(committed: Mapping[Any, int | None]) -> list[Any]:
    """The partitions ``seek_to_committed`` left alone: no committed offset, or offset 0."""
    return [tp for tp, offset in committed.items() if offset is None or offset <= 0]


async def rewind_uncommitted(consumer: Any, committed: Mapping[Any, int | None]) -> list[Any]:
    """Seek an aiokafka consumer's partitions without a committed offset to their beginning; return them.

    Args:
        consumer: An ``aiokafka.AIOKafkaConsumer`` (in its own loop).
        committed: What its ``seek_to_committed`` returned.
    """
    partitions = uncommitted(committed)
    if partitions:
        await consumer.seek_to_beginning(*partitions)
    return partitions


def commit_run(acked: list[int], floor: int | None) -> list[int]:
    """The acknowledged offsets a commit may cover: the run of consecutive ones starting at ``floor``.

    Args:
        acked: The offsets acknowledged since the last commit, sorted.
        floor: The first offset not committed yet (the last commit, or where reading started when
            the group has none); ``None`` when not known, and then the run starts at the lowest.

    Returns:
        The offsets to commit (the commit is one past the last); empty while the offset at
        ``floor`` is not acknowledged: a record there was never handled, whatever came after it.
    """
    position = 0
    if floor is not None:
        while position < len(acked) and acked[position] < floor:  # below the last commit: done already
            position += 1
        if position == len(acked) or acked[position] != floor:
            return []
    run = [acked[position]] if position < len(acked) else []
    for offset in acked[position + 1 :]:
        if offset != run[-1] + 1:
            break
        run.append(offset)
    return run
