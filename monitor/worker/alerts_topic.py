"""What the alerts topic says, as every worker reads it: each alert's last record, and its history on disk.

Every worker follows the whole alerts topic, whoever owns the units: the
ledger (``AlertLedger``) holds each alert's last record, which the alert
writer consults so that nothing is published twice, which the takeover
compares the state with, and which the HTTP routes show; its listeners (the
live feed) hear each record read. The history index (``AlertHistory``, in the
data directory) keeps every record for the history views, says where the
ledger may start reading (where the index stands, not the topic's beginning),
and holds the last record of the alerts resolved long ago, which the ledger
leaves to it: the ledger's memory grows with the alerts firing, not with every
alert ever raised.
An index that cannot be opened, or that is of another alerts topic, is
read from the beginning instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from monitor.background import Background
from monitor.state.history import HISTORY_FILE, AlertHistory
from monitor.state.indexer import HistoryIndexer, index_matches_topic
from monitor.state.ledger import KEEP_RESOLVED, AlertLedger, LedgerFollower
from rules.state import AlertTransition

__all__ = ["PublishedAlerts"]

log = logging.getLogger(__name__)


class PublishedAlerts:
    """The alerts topic as this worker reads it: the ledger, kept by following the topic, and the history index.

    Args:
        bootstrap_servers: The broker.
        topic: The alerts topic.
        client: Makes the options of the consumers that read the topic whole (asked for each, when it is built).
        data_dir: The worker's data directory (the history index is ``HISTORY_FILE`` in it).
        listeners: Told of each record read (the live feed).
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        client: Callable[[], dict[str, Any]],
        data_dir: Path,
        listeners: Sequence[Callable[[AlertTransition], None]] = (),
    ) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._topic = topic
        self._client = client
        self._path = data_dir / HISTORY_FILE
        self.ledger = AlertLedger()
        self.follower = LedgerFollower(self.ledger, bootstrap_servers, topic, client(), listeners=listeners)
        #: Reads the topic through to the ledger, in the background.
        self.reader = Background("alerts-read-through", self.follower.read_through)
        self.history: AlertHistory | None = None  # opened at start, in the data directory
        self.indexer: HistoryIndexer | None = None

    @property
    def current(self) -> bool:
        """Whether the topic was read through once since the worker started (the ledger is the topic's)."""
        return self.follower.current

    def firing(self) -> list[AlertTransition]:
        """Every alert the topic says is firing, for every unit (each worker follows the whole topic)."""
        return self.ledger.firing()

    def last_record(self, fingerprint: str) -> AlertTransition | None:
        """The topic's last record of one alert (firing or resolved), if any."""
        return self.ledger.last_record(fingerprint)

    def resolved(self, limit: int = 1000) -> list[AlertTransition]:
        """The ``limit`` alerts resolved last, for every unit, as the topic says."""
        return self.ledger.resolved(limit)

    def history_state(self) -> tuple[AlertHistory | None, str | None]:
        """The alert history index, and why it cannot answer now (``None`` when it can)."""
        indexer = self.indexer
        if self.history is None or indexer is None:
            return None, "this worker has no alert history index (see its log)"
        if indexer.problem is not None:
            return self.history, indexer.problem
        if not indexer.current:
            return self.history, "this worker is still reading the alerts topic into its history index"
        return self.history, None

    async def start(self) -> None:
        """Open the history index, start the ledger where it stands and follow the topic; index what comes."""
        positions, known = await self._open_history()
        started = time.monotonic()
        await self.follower.start(positions, known)
        self.reader.start()
        if self.history is not None:
            self.indexer = HistoryIndexer(self.history, self._bootstrap_servers, self._topic, self._client())
            await self.indexer.start()
        log.info(
            "alert ledger: %d alerts known from the history index in %.1fs", len(known), time.monotonic() - started
        )

    def save_if_removed(self) -> bool:
        """Write the history index back from its open connection if its file was removed under the worker."""
        return self.history is not None and self.history.save_if_removed()

    def close(self) -> None:
        """Close the history index (once the reader, the follower and the indexer are stopped)."""
        if self.history is not None:
            self.history.close()

    async def _open_history(self) -> tuple[dict[int, int], list[AlertTransition]]:
        """Open the history index and read where it stands; without one (it cannot be opened), from the beginning."""
        path = self._path
        try:
            self.history = await asyncio.to_thread(AlertHistory, path)
            marks = self.history.marks()
            if not await index_matches_topic(self._bootstrap_servers, self._topic, self._client(), marks):
                log.warning("alert history: %s is of another alerts topic; indexing this one from its beginning", path)
                await asyncio.to_thread(self.history.clear)
            snapshot = await asyncio.to_thread(self.history.snapshot, KEEP_RESOLVED)
            self.ledger.keep_on_disk(self.history)
            return snapshot
        except Exception as exc:
            log.error("alert history: cannot open %s (%s); reading the alerts topic from its beginning", path, exc)
            if self.history is not None:
                with contextlib.suppress(Exception):
                    self.history.close()
            self.history = None
            return {}, []
