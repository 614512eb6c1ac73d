"""What every worker follows whole and writes to: operators' actions, silences, the delivery ledger.

Each is a topic every worker reads from its beginning (the ledger: from
where its local file stands) and writes to when a request or a delivery
makes a record; built here together, started and stopped with the other
background parts.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.actions import AlertAction
from monitor.delivery.silences import AlertmanagerSilences
from monitor.kafka.topics import Topics
from monitor.settings import Settings
from monitor.worker.actions import OperatorActions
from monitor.worker.deliveries import DeliveryLedger
from monitor.worker.silences import SilencesInForce
from rules.language import RulePack, WorkCalendar

__all__ = ["SharedRecords", "shared_records"]

Send = Callable[[str, bytes, bytes], Coroutine[Any, Any, Any]]


@dataclass(frozen=True, slots=True)
class SharedRecords:
    """The topics of records every worker shares."""

    operators: OperatorActions
    silences: SilencesInForce
    deliveries: DeliveryLedger
    am_silences: AlertmanagerSilences | None  # tells Alertmanager of each silence's windows (none without one)


def shared_records(
    settings: Settings,
    topics: Topics,
    reader: Callable[[], dict[str, Any]],
    pack: RulePack,
    *,
    send: Send,
    clock: Callable[[], datetime],
    on_actions: Callable[[list[AlertAction]], None],
    forwards: Callable[[], bool],
) -> SharedRecords:
    """The shared topics of a worker, built (nothing started).

    Args:
        settings: The worker's settings (the brokers, its data directory, the Alertmanagers).
        topics: The topic names.
        reader: The options of a consumer that reads a topic whole.
        pack: The rule pack in force (weekly silences are read in its time zone).
        send: Produces one record (topic, key, value), returning once the broker has it.
        clock: The wall clock.
        on_actions: Told of the actions each read adds (the console's streams).
        forwards: Whether this worker is the one that tells Alertmanager of the silences now.
    """
    bootstrap = settings.bootstrap_servers
    forwarder: AlertmanagerSilences | None = None

    def changed(made: list[Any]) -> None:  # a silence made or ended: Alertmanager hears of it at once
        if forwarder is not None:
            forwarder.poke()

    calendar = WorkCalendar.of(pack.tz)
    silences = SilencesInForce(bootstrap, topics.silences, reader(), calendar, send, clock, changed)
    if settings.alertmanager_url:
        forwarder = AlertmanagerSilences(
            settings.alertmanager_url, silences.book.all, lambda: silences.calendar, clock, forwards
        )
    return SharedRecords(
        OperatorActions(bootstrap, topics.actions, reader(), on_actions, send),
        silences,
        DeliveryLedger(bootstrap, topics.deliveries, reader(), settings.data_dir, send),
        forwarder,
    )
