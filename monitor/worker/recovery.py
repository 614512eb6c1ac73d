"""Changelog recovery that says how far it has come: records expected, remaining, and how long it took.

faust replays a table's changelog into the local store when a worker takes
a partition over with a store that is behind (a new data directory, a
partition that moved). It knows how many records are left, but not how many
there were, nor how long the last replay took once it ended. This recovery
notes both as a replay starts and ends, for ``/metrics``. It hooks two
methods of faust's ``Recovery`` (faust-streaming 0.11 to 0.15, pinned in
``pyproject.toml``); ``tests/integration/test_operator_metrics.py`` drives a
real recovery to hold them to it.
"""

from __future__ import annotations

import time
from typing import Any

from faust.tables.manager import TableManager
from faust.tables.recovery import Recovery

from monitor.metrics import RecoverySnapshot
from monitor.state.rebuild import ReadAheadRecovery

__all__ = ["ProgressRecovery", "ProgressTableManager", "recovery_snapshot"]


class ProgressRecovery(ReadAheadRecovery):
    """faust's recovery (the changelogs read ahead in bulk), noting the size of each replay and the duration of the last one."""

    expected_records: int = 0
    last_duration: float | None = None
    _began: float | None = None

    def _set_recovery_started(self) -> None:
        super()._set_recovery_started()
        # Called as the read-ahead starts, then by faust (again once it knows each partition's end and local
        # offset): what is left, and what the read-ahead copied, is all there is; the clock runs from the first.
        self.expected_records = self.read_ahead_records + self.active_remaining_total()
        if self._began is None:
            self._began = time.monotonic()

    def _set_recovery_ended(self) -> None:
        super()._set_recovery_ended()
        if self._began is not None:
            self.last_duration = time.monotonic() - self._began
            self._began = None


class ProgressTableManager(TableManager):
    """The table manager faust builds, with a recovery that reports its progress (``conf.TableManager``)."""

    @property
    def recovery(self) -> Recovery:
        """The recovery service of this table manager."""
        if self._recovery is None:
            self._recovery = ProgressRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery


def recovery_snapshot(recovery: Any) -> RecoverySnapshot:
    """What a recovery service says about its progress, for the metrics (any faust ``Recovery``)."""
    active = bool(recovery.in_recovery)
    return RecoverySnapshot(
        active=active,
        expected=int(getattr(recovery, "expected_records", 0)),
        remaining=int(recovery.active_remaining_total()) if active else 0,
        last_seconds=getattr(recovery, "last_duration", None),
        written_back=int(getattr(recovery, "written_back", 0)),
    )
