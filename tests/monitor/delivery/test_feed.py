from __future__ import annotations

from pathlib import Path

from monitor.delivery.feed import AlertFeed
from tests.rules.fixtures import transition as _transition


async def test_feed_fans_out_and_tells_slow_subscribers_to_reload(tmp_path: Path) -> None:
    feed = AlertFeed(backlog=2)
    fast = feed.subscribe()
    for n in range(3):
        feed.on_transition(_transition(fingerprint=f"fp{n}"))
    items = [fast.get_nowait() for _ in range(3)]
    assert [i.fingerprint if i else None for i in items] == ["fp0", "fp1", None]
    assert feed.subscribers == 0
