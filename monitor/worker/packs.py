"""Which rule pack is in force on a worker: the rule files, or the newest pack applied to the rules topic.

With rule files named (``--rules``, ``MONITOR_RULES``) the pack is theirs,
read again on SIGHUP (``reload``). Without them the worker follows the rules
topic (``follow``): the newest record that loads here is in force, put there
between two records, on every partition at once, and every unit is then
evaluated under it (a tick). A record that does not load, or whose signature
is refused (``MONITOR_TRUSTED_KEYS``), is logged and kept in the pack log,
and the pack in force stays. Before a partition's first record after an
assignment the topic is read to its end (``catch_up``), so a unit is never
evaluated under an older pack than the one its last owner used.

Putting a pack in force on the parts that evaluate, admit or show under it is
the caller's (``use``); here is which pack that is, and when it changes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from monitor.background import Background
from monitor.clock import Clock
from monitor.exceptions import MonitorError
from monitor.metrics import Metrics
from monitor.state.packs import AppliedPack, PackEntry, PackFollower, PackLog
from rules.exceptions import RuleFileError
from rules.language import RulePack
from rules.loading import pack_diff
from rules.simulation import checked_pack

__all__ = ["PACKS_DIR", "PackInForce"]

log = logging.getLogger(__name__)

#: Where, under the data directory, a worker writes the packs it read from the rules topic (one directory each).
PACKS_DIR = "rule-packs"


def _files_source(files: Sequence[Path], from_topic: bool) -> str:
    where = ", ".join(map(str, files))
    return f"the bundled pack {where} (the rules topic holds none yet)" if from_topic else f"files {where}"


class PackInForce:
    """The rule pack a worker evaluates under, and every pack it has known (``log``).

    Args:
        pack: The pack the worker starts under.
        applied_at: Since when it evaluates under ``pack`` (its start).
        files: The rule files (the bundled pack when the rules topic is followed).
        follower: The rules topic's follower, whose newest pack is in force (``None``: the files are the rules).
        rules_topic: The rules topic's name.
        data_dir: The worker's data directory (packs read from the topic are written under ``PACKS_DIR``).
        metrics: The worker's metrics (the pack in force, a newest pack refused).
        use: Puts a pack in force on every part that evaluates, admits or shows under it (called between records).
        between: Held while a record is handled: a pack is put in force holding it.
        tick: Ticks every owned partition now (each unit evaluated under a new pack at once).
        on_withheld: Counts the records kept out of force for their signature.
        clock: The worker's clock.
    """

    def __init__(
        self,
        pack: RulePack,
        applied_at: datetime,
        *,
        files: Sequence[Path],
        follower: PackFollower | None,
        rules_topic: str,
        data_dir: Path,
        metrics: Metrics,
        use: Callable[[RulePack], None],
        between: asyncio.Lock,
        tick: Callable[[], Coroutine[Any, Any, None]],
        on_withheld: Callable[[], None],
        clock: Clock,
    ) -> None:
        self.pack = pack
        self.applied_at = applied_at
        self.follower = follower
        #: The packs this worker has evaluated under or read from the rules topic, oldest first.
        self.log = PackLog()
        self._files = tuple(files)
        self._rules_topic = rules_topic
        self._packs_dir = data_dir / PACKS_DIR
        self._metrics = metrics
        self._use = use
        self._between = between
        self._tick = tick
        self._on_withheld = on_withheld
        self._clock = clock
        self._taken = 0  # entries of the rules topic looked at
        self._read_for = -1  # the assignment after which the rules topic was last read to its end
        self._pack_tick: asyncio.Task[None] | None = None
        #: Puts each new newest pack of the rules topic in force, in the background (``follow``).
        self.applier = Background("rule-pack-applier", self.follow)
        self.log.add(AppliedPack(pack.version, applied_at, "", "", self._source(), pack))

    async def start(self) -> None:
        """Read and follow the rules topic, if the rules are its newest pack."""
        if self.follower is not None:
            await self.follower.start()
            self.applier.start()

    def _source(self) -> str:
        return _files_source(self._files, self.follower is not None)

    async def reload(self) -> bool:
        """Read the rule files again (SIGHUP); whether the worker now evaluates what they say.

        The new pack must load and the rule tests among the files must pass, as
        ``rules check`` and ``rules test`` would say; otherwise every problem is
        logged and the pack in force stays. A new pack takes over between two
        records, on every partition at once, and each unit is evaluated under it
        at once (a tick): rules added fire, alerts of rules removed resolve
        (``rule_removed``), of units off a roster too (``no_longer_rostered``).
        """
        old = self.pack
        if self.follower is not None:
            log.warning(
                "SIGHUP: this worker follows the rules topic %s; apply rules with `monitor rules apply`",
                self._rules_topic,
            )
            return False
        try:
            pack = await asyncio.to_thread(checked_pack, self._files)
        except RuleFileError as exc:
            for problem in exc.problems:
                log.error("rules not reloaded: %s", problem)
            log.error("rules not reloaded: %d problem(s); pack %s stays in force", len(exc.problems), old.version)
            return False
        except (OSError, MonitorError) as exc:
            log.error("rules not reloaded: %s; pack %s stays in force", exc, old.version)
            return False
        if pack.version == old.version:
            log.warning("rules reloaded: pack %s, unchanged", old.version)
            return True
        applied = AppliedPack(pack.version, self._clock(), "", "SIGHUP", self._source(), pack)
        self.log.add(applied)
        async with self._between:
            self._switch(applied)
        await self._tick()  # every unit evaluated under the new pack now, not at the next interval
        return True

    async def follow(self) -> None:
        """Follow the rules topic: each new newest pack is put in force between two records, then every unit ticked."""
        assert self.follower is not None
        while True:
            await self.follower.changed.wait()
            self.follower.changed.clear()
            async with self._between:
                switched = await self.take()
            if switched:
                await self._tick()  # every unit evaluated under the new pack now, not at the next interval

    async def catch_up(self, assignment: int) -> None:
        """Before a partition's first record after an assignment: the rules topic read to its end, its pack in force.

        So a worker never evaluates a unit under an older pack than the one its
        last owner evaluated it under (call between records, with how many
        assignments there have been).
        """
        if self.follower is None or self._read_for == assignment:
            return  # read to its end since the last assignment
        if await self.follower.catch_up(timeout=10.0, stalled_reads=10):
            self._read_for = assignment
        else:
            log.warning("rules topic not read to its end; going on under pack %s", self.pack.version)
        if await self.take():
            self._pack_tick = asyncio.get_running_loop().create_task(self._tick(), name="tick-on-new-pack")

    async def take(self) -> bool:
        """Load the rules topic's entries not looked at yet; put the newest in force if it loads (call between records).

        Whether the pack in force changed. An entry that does not load is
        logged, and the pack in force stays; one whose signature is refused
        (``MONITOR_TRUSTED_KEYS``) is logged, counted and kept in the pack log,
        and passed over.
        """
        if self.follower is None:
            return False
        new = self.follower.entries[self._taken :]
        self._taken += len(new)
        newest: AppliedPack | None = None
        for entry in new:
            if entry.withheld is not None:  # its signature refused: shown in the history, never in force
                withheld = entry.withheld
                source = f"rules topic {self._rules_topic} offset {entry.offset}"
                refused = AppliedPack(
                    withheld.version,
                    withheld.applied_at,
                    withheld.applied_by,
                    withheld.message,
                    source,
                    problem=entry.problem,
                )
                self.log.add(refused)  # not the newest: a forged record must not hold back a signed one
                self._on_withheld()
                continue
            if entry.pack is None:
                continue
            applied = await asyncio.to_thread(self._load_published, entry)
            self.log.add(applied)
            newest = applied
        if newest is None:
            return False
        self._metrics.pack_refused.set(1 if newest.pack is None else 0)
        if newest.pack is None or newest.version == self.pack.version:
            return False
        self._switch(newest)
        return True

    def _switch(self, applied: AppliedPack) -> None:
        """Evaluate under ``applied.pack`` from the next record on, on every partition (call between records)."""
        pack, old = applied.pack, self.pack
        assert pack is not None
        diff = pack_diff(old, pack)
        self.pack, self.applied_at = pack, self._clock()
        self._use(pack)
        self._metrics.pack_changed(old.version, pack.version)
        log.warning(
            "rules: pack %s → %s from %s (%d rule(s) added, %d removed, %d changed, %d roster(s) changed)",
            old.version,
            pack.version,
            applied.source,
            len(diff.added),
            len(diff.removed),
            len(diff.changed),
            len(diff.rosters) + len(diff.rosters_added) + len(diff.rosters_removed),
        )

    def _load_published(self, entry: PackEntry) -> AppliedPack:
        published = entry.pack
        assert published is not None
        source = f"rules topic {self._rules_topic} offset {entry.offset}"
        applied = AppliedPack(published.version, published.applied_at, published.applied_by, published.message, source)
        try:
            pack = published.load(self._packs_dir)
        except RuleFileError as exc:
            for problem in exc.problems:
                log.error(
                    "rules topic offset %d: pack %s does not load here: %s", entry.offset, published.version, problem
                )
            return dataclasses.replace(applied, problem=f"{len(exc.problems)} problem(s): {exc.problems[0]}")
        except OSError as exc:
            log.error(
                "rules topic offset %d: pack %s cannot be written to disk: %s", entry.offset, published.version, exc
            )
            return dataclasses.replace(applied, problem=str(exc))
        if pack.version != published.version:
            log.warning(
                "rules topic offset %d: pack %s loads here as %s (another monitor version applied it)",
                entry.offset,
                published.version,
                pack.version,
            )
        return dataclasses.replace(applied, version=pack.version, pack=pack)
