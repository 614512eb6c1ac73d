"""What the HTTP routes read of a worker (``monitor.http.protocol.WorkerView``): its state, answers and health.

Reads only: each method asks the part that knows (``packs``, ``processor``,
``ownership``, ``health``, …), which the worker (``monitor.worker.worker``)
builds and wires.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from monitor.clock import Clock
from monitor.kafka.batches import OutboundRecord
from monitor.kafka.records import InboundRecord
from monitor.publishers import Admission, Tally
from monitor.state.deliveries import DeliveryLog
from monitor.turns import records_first
from monitor.worker.health import Health
from monitor.worker.intake import Intake
from monitor.worker.outbox import FaustOutbox
from monitor.worker.ownership import Ownership
from monitor.worker.packs import PackInForce
from monitor.worker.processor import Processor
from monitor.worker.publishers import AdmissionInForce
from monitor.worker.shared import SharedRecords
from rules.language import RulePack
from rules.state import AlertState, UnitState

__all__ = ["WorkerFace"]


class WorkerFace:
    """The reads the HTTP routes make of a worker; the worker sets the parts below."""

    packs: PackInForce
    admissions: AdmissionInForce
    outbox: FaustOutbox
    processor: Processor
    shared: SharedRecords
    ownership: Ownership
    health: Health
    intake: Intake
    _clock: Clock

    @property
    def pack(self) -> RulePack:
        """The rules in force (``packs``)."""
        return self.packs.pack

    @property
    def pack_applied_at(self) -> datetime:
        """Since when the worker evaluates ``pack`` (its start, or the switch that put it in force)."""
        return self.packs.applied_at

    @property
    def admission(self) -> Admission | None:
        """Which publisher may report which unit; ``None`` in open mode (``admissions``)."""
        return self.admissions.admission

    def now(self) -> datetime:
        """The worker's clock."""
        return self._clock()

    async def produce(self, records: Sequence[OutboundRecord]) -> None:
        """Produce records and return once the broker acknowledged every one (HTTP ingestion)."""
        await self.outbox.send_all_now(records)

    async def dead_letter(self, record: InboundRecord, reason: str) -> None:
        """Send a refused record to the dead-letter topic, as the processor does, and wait for the broker (HTTP)."""
        await self.outbox.dead_letter(record, reason, wait=True)

    @property
    def tally(self) -> Tally:
        """The events this worker took from each publisher since it started."""
        return self.processor.tally

    @property
    def deliveries(self) -> DeliveryLog:
        """The delivery ledger: each notification's attempts and the peers' answers (``DeliveryLedger``)."""
        return self.shared.deliveries.log

    def owned_partitions(self) -> set[int]:
        """Partitions of the data topics this worker owns now (``Ownership.owned_partitions``)."""
        return self.ownership.owned_partitions()

    def is_ready(self) -> bool:
        """Whether the worker has joined its group and read its units into memory (``Ownership.is_ready``)."""
        return self.ownership.is_ready()

    def problems(self) -> dict[str, str]:
        """Why the worker cannot work now, by cause (the state store, the broker, group membership)."""
        return self.health.problems()

    def _owned_states(self) -> Iterator[UnitState]:
        return self.processor.owned_states(self.owned_partitions())

    def owned_states(self) -> list[UnitState]:
        """The states of the units in this worker's partitions."""
        return list(self._owned_states())

    def unit_state(self, unit_id: str) -> UnitState | None:
        """One unit's state, if this worker holds it."""
        return self.processor.unit_state(unit_id)

    def firing_alerts(self) -> list[AlertState]:
        """Every alert firing now in this worker's partitions."""
        return [alert for state in self._owned_states() for alert in state.alerts.values()]

    def answers_for(self, partition: int) -> bool:
        """Whether this worker owns ``partition`` and has read its units: it may answer for them."""
        return self.ownership.answers_for(partition)

    def partition_owners(self) -> dict[int, str]:
        """Each partition's owner (the URL it advertises), as the group's assignment says; empty while it changes."""
        return self.ownership.partition_owners()

    async def yield_to_records(self) -> None:
        """Let the loop turn between two slices of an answer's work, and the records waiting go first."""
        await records_first(self.intake.records_waiting)
