"""The rules topic: the rule packs applied, one record each, read and followed by every worker.

``monitor rules apply`` publishes a pack (``publish_pack``) once it loads and
its tests pass; every worker that follows the topic (``PackFollower``) loads
the newest one and evaluates under it. The topic is compacted by the pack's
version: a pack applied again keeps its last record only, and the newest
record (the highest offset) is the pack in force.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.publishers.signatures import SignKey
from monitor.state.compacted import DocumentFollower, Entry, publish_record
from rules.language import RulePack
from rules.loading import MAX_PACK_BYTES, PackDiff, PublishedPack, successive_diffs

__all__ = ["AppliedPack", "PackEntry", "PackFollower", "PackLog", "publish_pack"]


class PackEntry(Entry[PublishedPack]):
    """One record of the rules topic: the pack it holds (``pack``), or why it holds none."""

    model = PublishedPack
    kind = "rule pack"
    noun = "pack"

    @property
    def pack(self) -> PublishedPack | None:
        """The pack the record holds."""
        return self.document


class PackFollower(DocumentFollower[PackEntry]):
    """Reads the rules topic from its beginning and follows it; ``entries`` grow in offset order."""

    what = "rule packs"
    entry = PackEntry
    topic_name = "rules topic"


async def publish_pack(
    bootstrap: str, topic: str, client: dict[str, Any], pack: PublishedPack, sign_key: SignKey | None = None
) -> int:
    """Publish one pack record (signed with ``sign_key``, if given) and wait for every in-sync replica to have it.

    Returns its offset.
    """
    value = pack.model_dump_json().encode("utf-8")
    return await publish_record(
        bootstrap,
        topic,
        client,
        pack.key,
        value,
        limit=MAX_PACK_BYTES,
        what="pack",
        kind=PackEntry.kind,
        sign_key=sign_key,
    )


@dataclass(frozen=True, slots=True)
class AppliedPack:
    """A pack a worker has known: where it came from, when it was applied, by whom and why.

    ``pack`` is ``None`` for a record that did not load here (``problem`` says why).
    """

    version: str
    applied_at: datetime
    applied_by: str
    message: str
    source: str
    pack: RulePack | None = None
    problem: str | None = None


class PackLog:
    """The packs a worker has known, oldest first (the last ``limit``), and what changed from one to the next."""

    def __init__(self, limit: int = 100) -> None:
        self._entries: deque[AppliedPack] = deque(maxlen=limit)

    def add(self, entry: AppliedPack) -> None:
        """Remember ``entry`` as the newest."""
        self._entries.append(entry)

    def entries(self) -> list[AppliedPack]:
        """Every entry, oldest first."""
        return list(self._entries)

    def with_diffs(self) -> list[tuple[AppliedPack, PackDiff | None]]:
        """Each entry, newest first, with what changed from the pack before it (``None`` for the first, or none)."""
        diffs = successive_diffs([entry.pack for entry in self._entries])
        return list(zip(self._entries, diffs, strict=True))[::-1]
