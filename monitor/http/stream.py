"""The console's event stream: each alert's text made once for every console, sent in batches.

Every console open on a worker receives every transition its viewer may
see. After a pause (a burst of events handled, a takeover) transitions come
by the thousand; made for each console and sent one by one, with the queue
never empty, they held the worker's event loop for seconds (20 consoles, a
second of transitions: 1.1 to 1.7 s in ``make soak``). So the text of a
transition is made once, for the first console that sends it, and kept for
the others; a console sends what has queued up in one write of at most
``BATCH`` items; and the loop turns between two writes.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict

from monitor.actions import AlertAction
from monitor.delivery.feed import FeedItem
from monitor.http.protocol import WorkerView
from monitor.http.shown import shown_alert
from monitor.viewers import Scope
from rules.state import AlertTransition

__all__ = ["BATCH", "KEEPALIVE", "KEEPALIVE_SECONDS", "RELOAD", "StreamTexts", "event_text", "next_text"]

#: Items sent in one write at most.
BATCH = 200
#: Sent when nothing else was for this long (seconds): a console that left is noticed.
KEEPALIVE_SECONDS = 15.0
KEEPALIVE = b": keepalive\n\n"
#: Sent to a console that fell too far behind (the feed dropped it): it reads the lists again.
RELOAD = b"event: reload\ndata: {}\n\n"


class StreamTexts:
    """The event-stream text of the last ``keep`` items, made once for every console that sends them."""

    def __init__(self, keep: int = 4096) -> None:
        self._keep = keep
        self._made: OrderedDict[int, tuple[AlertTransition | AlertAction, bytes]] = OrderedDict()

    def text(self, item: AlertTransition | AlertAction, worker: WorkerView) -> bytes:
        """``item`` as an event of the stream (the display texts of a transition as of when it is first sent)."""
        made = self._made.get(id(item))
        if made is not None and made[0] is item:  # the very item (an id is reused only once it is gone)
            return made[1]
        text = event_text(item, worker)
        self._made[id(item)] = (item, text)
        if len(self._made) > self._keep:
            self._made.popitem(last=False)
        return text


def event_text(item: AlertTransition | AlertAction, worker: WorkerView) -> bytes:
    """A transition in the shape of ``/api/v1/alerts`` (display texts computed now), or an operator's action."""
    if isinstance(item, AlertAction):  # the console asks for the alerts again
        return f"event: action\ndata: {json.dumps(item.as_json(), ensure_ascii=False)}\n\n".encode()
    body = json.dumps(shown_alert(item, worker.pack, worker.now(), worker.operators.book), ensure_ascii=False)
    return f"event: transition\ndata: {body}\n\n".encode()


async def next_text(
    queue: asyncio.Queue[FeedItem], scope: Scope, worker: WorkerView, texts: StreamTexts
) -> tuple[bytes, bool]:
    """What to send next: the items queued (at most ``BATCH``, the viewer's only), and whether the stream ends.

    A keepalive after ``KEEPALIVE_SECONDS`` with nothing queued; ``RELOAD`` last when the feed dropped the console.
    """
    try:
        async with asyncio.timeout(KEEPALIVE_SECONDS):
            item = await queue.get()
    except TimeoutError:
        return KEEPALIVE, False
    out: list[bytes] = []
    while True:
        if item is None:
            out.append(RELOAD)
            return b"".join(out), True
        if scope.admits(item.unit_id):  # another unit's is not this viewer's to see
            out.append(texts.text(item, worker))
        if len(out) >= BATCH or queue.empty():
            return b"".join(out), False
        item = queue.get_nowait()
