"""``monitor alerts tail`` on the embedded broker: it starts at the newest record, not inside the last batch."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import Sequence

import pytest
from aiokafka import AIOKafkaProducer

from monitor.cli.alerts import tail
from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.topics import Topics, ensure_topics
from rules.state import AlertFilter, AlertTransition
from tests.rules.fixtures import transition

pytestmark = pytest.mark.integration
TOPICS = Topics()


def _resolutions(prefix: str, count: int) -> list[AlertTransition]:
    """Resolved overdue alerts of ``count`` tasks, each its own fingerprint."""
    return [
        transition("resolved", fingerprint=f"{prefix}-{n}", ends_at=transition().starts_at, event_ids=[f"{prefix}-{n}"])
        for n in range(count)
    ]


async def _publish_in_batches(bootstrap: str, transitions: Sequence[AlertTransition]) -> None:
    """Write transitions as a worker's outbox does: sent together, keyed by fingerprint, one batch per partition."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=200)
    await producer.start()
    try:
        sent = [
            await producer.send(TOPICS.alerts, value=t.model_dump_json().encode(), key=t.fingerprint.encode())
            for t in transitions
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def _fingerprints(out: io.StringIO) -> list[str]:
    return [json.loads(line)["fingerprint"] for line in out.getvalue().splitlines()]


async def test_tail_prints_only_transitions_written_after_it_started(broker: EmbeddedBroker) -> None:
    await ensure_topics(broker.bootstrap, TOPICS, partitions=2, only=(TOPICS.alerts,))
    await _publish_in_batches(broker.bootstrap, _resolutions("old", 55))
    options = {"where": AlertFilter(), "as_json": True, "colour": False, "from_beginning": False}

    # Nothing written since it started: nothing printed (the old ones came back from the first fetch).
    quiet = io.StringIO()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(tail(broker.bootstrap, TOPICS.alerts, quiet, max_records=1, **options), timeout=6)
    assert quiet.getvalue() == ""

    # Written while it runs: exactly those, however they were batched.
    new = _resolutions("new", 7)
    out = io.StringIO()
    started = asyncio.Event()
    following = asyncio.create_task(
        tail(broker.bootstrap, TOPICS.alerts, out, max_records=len(new), started=started, **options)
    )
    try:
        await asyncio.wait_for(started.wait(), timeout=30)
        await _publish_in_batches(broker.bootstrap, new)
        assert await asyncio.wait_for(asyncio.shield(following), timeout=30) == len(new)
    finally:
        following.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await following
    assert sorted(_fingerprints(out)) == sorted(t.fingerprint for t in new)

    # --from-beginning still reads the whole topic.
    everything = io.StringIO()
    options["from_beginning"] = True
    count = await asyncio.wait_for(tail(broker.bootstrap, TOPICS.alerts, everything, max_records=62, **options), 30)
    assert count == 62 and len(set(_fingerprints(everything))) == 62
