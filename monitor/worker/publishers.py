"""Which publisher registry is in force on a worker: a file, or the newest one applied to the publishers topic.

With ``MONITOR_PUBLISHERS`` the registry is that file, fixed for the
worker's life. Without it the worker follows the publishers topic: the
newest record that holds a registry is in force, put there between two
records, on every worker alike, without a restart; a record that holds no
registry is logged and passed over, and the one in force stays. Until the
topic holds one, the worker is in open mode. Before a partition's first
record the topic is read to its end (``catch_up``), so no event is admitted
under an older registry than the newest applied.
"""

from __future__ import annotations

import logging
from typing import Any

from monitor.publishers import Admission, PublisherRegistry, admission, load_registry
from monitor.state.registries import RegistryFollower
from rules.language import RulePack

__all__ = ["RegistryInForce"]

log = logging.getLogger(__name__)


class RegistryInForce:
    """The worker's publisher registry and where it came from.

    Args:
        file: The registry file (``MONITOR_PUBLISHERS``); ``None`` to follow ``follower``'s topic.
        pack: The rule pack it is checked against (a roster it names must be the pack's).
        follower: The publishers topic's follower, used when no file is given.
    """

    def __init__(self, file: Any, pack: RulePack, follower: RegistryFollower | None) -> None:
        self.registry: PublisherRegistry | None = load_registry(file, pack) if file is not None else None
        self.source = f"file {file}" if file is not None else None
        self.follower = follower if file is None else None
        self._taken = 0  # entries of the topic looked at

    def admission_for(self, pack: RulePack) -> Admission | None:
        """The registry in force bound to ``pack``'s rosters (a roster the pack lacks grants nothing, said once)."""
        if self.registry is None:
            return None
        known = {roster.roster for roster in pack.rosters}
        for publisher in self.registry.publishers:
            for name in publisher.rosters:
                if name not in known:
                    log.error(
                        "publisher %s may report roster %s, which rule pack %s does not have: it may report none of it",
                        publisher.id,
                        name,
                        pack.version,
                    )
        return admission(self.registry, pack)

    def take(self) -> bool:
        """Look at the topic's entries not looked at yet; put the newest registry in force. Whether it changed.

        Call between records.
        """
        if self.follower is None:
            return False
        new = self.follower.entries[self._taken :]
        self._taken += len(new)
        newest = next((e for e in reversed(new) if e.registry is not None), None)
        if newest is None or newest.registry is None:
            return False
        published = newest.registry
        if self.registry is not None and published.registry == self.registry:
            return False
        old = self.describe()
        self.registry = published.registry
        self.source = f"publishers topic offset {newest.offset}"
        log.warning(
            "publishers: %s → registry %s from %s (applied by %s%s), %d publishers",
            old,
            published.version,
            self.source,
            published.applied_by,
            f": {published.message}" if published.message else "",
            len(published.registry.publishers),
        )
        return True

    async def catch_up(self, timeout: float = 10.0) -> bool:
        """Read the topic to its end and put its newest registry in force; whether the registry changed."""
        if self.follower is None:
            return False
        if not await self.follower.catch_up(timeout=timeout, stalled_reads=10):
            log.warning("publishers topic not read to its end; going on under %s", self.describe())
        return self.take()

    def describe(self) -> str:
        """The registry in force in a few words, for a log line."""
        if self.registry is None:
            return "open mode"
        return f"registry from {self.source}"
