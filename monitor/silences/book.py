"""The silences in force: the newest record of each silence, and which of them silence an alert now. No I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from monitor.silences.model import Silence
from rules.language import WorkCalendar

__all__ = ["SilenceBook"]


class SilenceBook:
    """Every silence, by id: a newer record of one (its early end) replaces the one before."""

    def __init__(self) -> None:
        self._by_id: dict[str, Silence] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def take_all(self, silences: Iterable[Silence]) -> list[Silence]:
        """Take each record in the topic's order; the ones that changed the book."""
        changed = []
        for silence in silences:
            if self._by_id.get(silence.id) != silence:
                self._by_id[silence.id] = silence
                changed.append(silence)
        return changed

    def get(self, silence_id: str) -> Silence | None:
        """The silence with this id, as its newest record says."""
        return self._by_id.get(silence_id)

    def all(self) -> list[Silence]:
        """Every silence, newest first."""
        return sorted(self._by_id.values(), key=lambda s: (s.created_at, s.id), reverse=True)

    def silencing(self, labels: Mapping[str, str], now: datetime, calendar: WorkCalendar) -> Silence | None:
        """A silence that silences an alert with ``labels`` at ``now`` (the one made first), if any."""
        found = [s for s in self._by_id.values() if s.matchers.match(labels) and s.window_at(now, calendar)]
        return min(found, key=lambda s: (s.created_at, s.id), default=None)
