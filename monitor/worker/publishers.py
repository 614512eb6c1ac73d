"""Which publisher registry is in force on a worker: a file, or the newest one applied to the publishers topic.

With ``MONITOR_PUBLISHERS`` the registry is that file, fixed for the
worker's life. Without it the worker follows the publishers topic: the
newest record that holds a registry is in force, put there between two
records, on every worker alike, without a restart; a record that holds no
registry is logged and passed over, and the one in force stays. Until the
topic holds one, the worker is in open mode. Before a partition's first
record the topic is read to its end (``catch_up``), so no event is admitted
under an older registry than the newest applied.

``AdmissionInForce`` binds the registry in force to the rule pack in force
(the rosters a publisher may report are the pack's) and keeps the processor
admitting events by it as either changes. With the working group's keys
(``MONITOR_TRUSTED_KEYS``, ``trusted_keys``) only the registries and rule
packs they signed are put in force; the records refused are counted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from monitor.background import Background
from monitor.metrics import Metrics
from monitor.publishers import Admission, PublisherRegistry, admission, load_registry, load_trusted_keys
from monitor.publishers.signatures import VerifyKey
from monitor.state.packs import PackFollower
from monitor.state.registries import RegistryFollower
from rules.language import RulePack

__all__ = ["AdmissionInForce", "RegistryInForce", "trusted_keys"]

log = logging.getLogger(__name__)


def trusted_keys(path: Path | None) -> tuple[VerifyKey, ...] | None:
    """The working group's keys (``MONITOR_TRUSTED_KEYS``), said in the log; ``None`` without a keys file.

    With them, only the rule packs and registries they signed are put in force.
    """
    if path is None:
        return None
    trusted = load_trusted_keys(path)
    log.info(
        "rules and publishers topics: only records signed by key %s count (MONITOR_TRUSTED_KEYS)",
        ", ".join(key.keyid for key in trusted),
    )
    return trusted


class RegistryInForce:
    """The worker's publisher registry and where it came from.

    Args:
        file: The registry file (``MONITOR_PUBLISHERS``); ``None`` to follow ``follower``'s topic.
        pack: The rule pack it is checked against (a roster it names must be the pack's).
        follower: The publishers topic's follower, used when no file is given.
    """

    def __init__(self, file: Any, pack: RulePack, follower: RegistryFollower | None) -> None:
        self.file = file
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


class AdmissionInForce:
    """Which publisher may report which unit now: the registry in force bound to the pack in force.

    The processor admits events by it; it changes when the publishers topic
    puts another registry in force (``follow``, ``catch_up``) and when another
    pack is put in force (``use_pack``).

    Args:
        registries: The publisher registry in force and where it came from.
        pack: The pack in force.
        use_admission: Makes the processor admit events by an admission from the next record (call between records).
        metrics: The worker's metrics (records kept out of force for their signature).
        rules: The rules topic's follower, whose refused records are counted too (``None``: not followed).
        checks_signatures: Whether only records signed by a trusted key are put in force (``MONITOR_TRUSTED_KEYS``).
        ingest_token: Whether a shared ingest token is set (``MONITOR_INGEST_TOKEN``), which a registry overrides.
        publishers_topic: The publishers topic's name.
        between: Held while a record is handled: a registry is put in force holding it.
    """

    def __init__(
        self,
        registries: RegistryInForce,
        pack: RulePack,
        *,
        use_admission: Callable[[Admission | None], None],
        metrics: Metrics,
        rules: PackFollower | None,
        checks_signatures: bool,
        ingest_token: bool,
        publishers_topic: str,
        between: asyncio.Lock,
    ) -> None:
        self.registries = registries
        #: What the registry in force admits under the pack in force (``None``: open mode, every publisher every unit).
        self.admission = registries.admission_for(pack)
        if self.admission is not None:
            log.info(
                "publisher registry %s (%s): %d publishers, each bound to its units",
                registries.file,
                self.admission.version,
                len(self.admission.publisher_ids),
            )
        self._pack = pack
        self._use_admission = use_admission
        self._metrics = metrics
        self._rules = rules
        self._checks_signatures = checks_signatures
        self._ingest_token = ingest_token
        self._publishers_topic = publishers_topic
        self._between = between
        self._read_for = -1  # the assignment after which the publishers topic was last read to its end
        #: Puts each new newest registry of the publishers topic in force, in the background (``follow``).
        self.applier = Background("publisher-registry-applier", self.follow)

    async def start(self) -> None:
        """Read and follow the publishers topic, if the registry is its newest."""
        follower = self.registries.follower
        if follower is not None:
            # Followed, and put in force between two records (``follow``, ``catch_up``): never under
            # the intake's lock here, whose holder may be waiting for what starts after this.
            await follower.start()
            self.applier.start()

    def use_pack(self, pack: RulePack) -> Admission | None:
        """Bind the registry in force to ``pack`` from now on; the admission that makes (call between records)."""
        self._pack = pack
        self.admission = self.registries.admission_for(pack)
        return self.admission

    async def catch_up(self, assignment: int) -> None:
        """Before a partition's first record after an assignment: the publishers topic read to its end, in force.

        So no event is admitted under an older registry than the newest applied
        (call between records, with how many assignments there have been).
        """
        if self.registries.follower is None or self._read_for == assignment:
            return
        self._read_for = assignment
        if await self.registries.catch_up():
            self._use_registry()
        self.count_refused_signatures()

    async def say_mode(self) -> None:
        """Log, once at start, that the worker is in open mode when no registry is configured or applied."""
        follower = self.registries.follower
        if follower is not None:
            await follower.catch_up(timeout=10.0, stalled_reads=10)
            if any(entry.registry is not None for entry in follower.entries):
                return  # in force from the first record on
        if self.admission is None:
            log.warning(
                "open mode: no publisher registry (MONITOR_PUBLISHERS, or one applied to the publishers topic %s "
                "with monitor publishers apply FILE), so every publisher may report every unit",
                self._publishers_topic,
            )

    async def follow(self) -> None:
        """Follow the publishers topic: each new newest registry is put in force between two records."""
        follower = self.registries.follower
        assert follower is not None
        while True:
            await follower.changed.wait()
            follower.changed.clear()
            async with self._between:
                if self.registries.take():
                    self._use_registry()
                self.count_refused_signatures()

    def count_refused_signatures(self) -> None:
        """The records of the rules and publishers topics kept out of force for their signature, as metrics."""
        followers: tuple[tuple[str, PackFollower | RegistryFollower | None], ...] = (
            ("rules", self._rules),
            ("publishers", self.registries.follower),
        )
        for topic, follower in followers:
            if follower is not None and self._checks_signatures:
                refused = sum(1 for entry in follower.entries if entry.withheld is not None)
                self._metrics.signature_refused.labels(topic).set(refused)

    def _use_registry(self) -> None:
        """Admit events by the registry in force from the next record on (call between records)."""
        self.admission = self.registries.admission_for(self._pack)
        self._use_admission(self.admission)
        if self.admission is not None and self._ingest_token:
            log.warning(
                "MONITOR_INGEST_TOKEN is ignored from now on: with a publisher registry each publisher sends its own token"
            )
