"""Which partitions this worker owns now, whether it may answer for them, and who owns the others.

What a worker holds in memory is its own only while the group's assignment
stands: its tables restored, no rebalance under way, its membership not in
doubt (``Membership``). A worker that may have lost its partitions (a
zombie) owns none; nor does one between an assignment and the intake's next
record, while memory still holds the state from before it. A partition is
answered for once its units are read and its alerts reconciled (``Takeover``),
on its first record after the assignment: the worker is ready when every
partition it owns is.
"""

from __future__ import annotations

from collections.abc import Callable

from monitor.worker.app import MonitorApp
from monitor.worker.health import Health
from monitor.worker.membership import Membership
from monitor.worker.positions import ConsumerPositions
from monitor.worker.takeover import Takeover

__all__ = ["Ownership"]


class Ownership:
    """The partitions this worker owns and answers for, and its readiness.

    Args:
        app: The faust app (its table recovery, whether it rebalances, the group's assignment as its router says).
        positions: The consumer (the partitions it was last assigned, whether its flow runs).
        membership: The zombie fence.
        takeover: Says which partitions are taken over since the last rebalance.
        health: The worker's problems (a failing store, a missing broker).
        reassigned: Whether partitions were assigned and the state from before is not dropped yet.
        table: The table whose partitions the group's assignment is read for.
    """

    def __init__(
        self,
        app: MonitorApp,
        positions: ConsumerPositions,
        membership: Membership,
        takeover: Takeover,
        health: Health,
        *,
        reassigned: Callable[[], bool],
        table: str,
    ) -> None:
        self._app = app
        self._positions = positions
        self._membership = membership
        self._takeover = takeover
        self._health = health
        self._reassigned = reassigned
        self._table = table

    def member(self) -> bool:
        """Whether the group's assignment stands: tables restored, no rebalance under way, membership not in doubt."""
        recovery = self._app.tables.recovery  # type: ignore[attr-defined]
        return recovery.completed.is_set() and not self._app.rebalancing and not self._membership.in_doubt()

    def steady(self) -> bool:
        """Whether the consumer's positions are its own: no rebalance, recovery or held flow under way."""
        return self.member() and self._positions.flow_active()

    def owned_partitions(self) -> set[int]:
        """Partitions of the data topics this worker owns now; none while it may have lost them (a zombie).

        None either between an assignment and the intake's next record, while memory holds the old state.
        """
        if self._membership.in_doubt() or self._reassigned():
            return set()
        return self._positions.assigned()

    def is_ready(self) -> bool:
        """Whether the worker has joined its group, restored its tables and read its units into memory.

        A partition's units are read, and its alerts reconciled with the alerts
        topic, on its first record after assignment: within one tick interval.
        """
        if not self.member() or self._health.problems() or self._reassigned():
            return False
        return self._takeover.all_settled(self.owned_partitions())

    def answers_for(self, partition: int) -> bool:
        """Whether this worker owns ``partition`` and has read its units: it may answer for them."""
        return partition in self.owned_partitions() and self._takeover.is_settled(partition) and self.member()

    def partition_owners(self) -> dict[int, str]:
        """Each partition's owner (the URL it advertises), as the group's assignment says; empty while it changes.

        Read from faust's partition assignor, which hands every member the
        other members' ``canonical_url`` with each assignment (``app.router``).
        """
        if not self.member():
            return {}
        metadata = self._app.router.table_metadata(self._table)
        return {p: url for url, topics in metadata.items() for parts in topics.values() for p in parts}
