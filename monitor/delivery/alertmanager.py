"""Alertmanager API v2 sink: ``POST /api/v2/alerts``, firing alerts re-sent while they fire.

Alertmanager considers an alert resolved when its ``endsAt`` passes; a firing
alert is sent without ``endsAt`` (Alertmanager then keeps it for its
``resolve_timeout``) and re-sent periodically from the worker's state, so a
restarted or long-unreachable Alertmanager catches up by itself. The
``severity`` label changes when a deadline escalates from ``due_soon`` to
``overdue``: the old label set is resolved when the new one fires.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from monitor.clock import Clock
from monitor.delivery.http import HttpSink, Recorder, generator_url, post_json
from monitor.delivery.queue import DeliveryQueue
from monitor.metrics import DeliveryMetrics
from monitor.notifications import Notified, Outcome, notified
from monitor.settings import DEFAULT_DELIVERY_QUEUE_LIMIT
from monitor.targets import Target
from rules.state import AlertState, AlertTransition

__all__ = ["AlertmanagerSink", "am_alert"]

AmAlert = dict[str, Any]
#: What the queue holds: the alert as Alertmanager wants it, and the transition it tells of (``None``: a re-send).
_Outgoing = tuple[AmAlert, Notified | None]


def am_alert(
    labels: dict[str, str],
    annotations: dict[str, str],
    starts_at: datetime,
    ends_at: datetime | None,
    generator_url: str,
) -> AmAlert:
    """One alert as Alertmanager's API v2 (``postableAlert``) wants it."""
    alert: AmAlert = {
        "labels": labels,
        "annotations": annotations,
        "startsAt": starts_at.isoformat(),
        "generatorURL": generator_url,
    }
    if ends_at is not None:
        alert["endsAt"] = ends_at.isoformat()
    return alert


def _labels_key(outgoing: _Outgoing) -> str:
    canonical = json.dumps(sorted(outgoing[0]["labels"].items()), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class AlertmanagerSink(HttpSink):
    """Delivers alert transitions to one or more Alertmanagers.

    Args:
        targets: The Alertmanagers, one delivery queue each.
        public_url: Where the feed page is, for the links alerts carry.
        metrics: The delivery metrics.
        clock: The wall clock (``endsAt`` of the label set an escalation replaces).
        limit: Alerts queued per Alertmanager while it is down.
        session: The session to send through (see ``HttpSink``); by default one of its own, opened at ``start``.
        record: Told of every attempt worth keeping in the delivery ledger (``monitor.notifications``).
    """

    def __init__(
        self,
        targets: Sequence[Target],
        public_url: str,
        metrics: DeliveryMetrics,
        clock: Clock,
        *,
        limit: int = DEFAULT_DELIVERY_QUEUE_LIMIT,
        session: aiohttp.ClientSession | None = None,
        record: Recorder | None = None,
    ) -> None:
        self._public_url = public_url.rstrip("/")
        self._clock = clock
        super().__init__(session, clock, record)
        self._last_labels: dict[str, dict[str, str]] = {}
        self.queues = [
            DeliveryQueue(
                target.sink,
                partial(self._post, target.url),
                _labels_key,
                metrics,
                limit=limit,
                on_attempt=partial(self._attempted, target.sink),
            )
            for target in targets
        ]

    def _generator_url(self, labels: dict[str, str]) -> str:
        return generator_url(self._public_url, labels.get("unit_id", ""))

    def _offer(self, alert: AmAlert, told: Notified | None = None) -> None:
        for queue in self.queues:
            queue.offer((alert, told))

    def _attempted(
        self, sink: str, outgoing: _Outgoing, attempt: int, outcome: Outcome, status: int | None, answer: str
    ) -> None:
        if outgoing[1] is not None:  # a transition's notification, not a re-send
            self.record_attempt(outgoing[1], sink, attempt, outcome, status, answer)

    def on_transition(self, transition: AlertTransition) -> None:
        """Queue what Alertmanager must hear about this transition; never blocks."""
        fp = transition.fingerprint
        previous = self._last_labels.get(fp)
        if previous is not None and previous != transition.labels:
            self._offer(am_alert(previous, {}, transition.starts_at, self._clock(), self._generator_url(previous)))
        if transition.status == "firing":
            self._last_labels[fp] = transition.labels
            ends_at = None
        else:
            self._last_labels.pop(fp, None)
            ends_at = transition.ends_at
        annotations = {k: v for k, v in transition.annotations.items() if isinstance(v, str)}
        self._offer(
            am_alert(
                transition.labels, annotations, transition.starts_at, ends_at, self._generator_url(transition.labels)
            ),
            notified(transition),
        )

    def resend(self, firing: Iterable[AlertState]) -> int:
        """Re-send every alert that is firing now, as Alertmanager requires; return how many."""
        count = 0
        for alert in firing:
            self._last_labels[alert.fingerprint] = alert.labels
            self._offer(
                am_alert(alert.labels, alert.annotations, alert.starts_at, None, self._generator_url(alert.labels))
            )
            count += 1
        return count

    async def _post(self, url: str, alerts: list[_Outgoing]) -> int:
        return await post_json(self.client(), _alerts_endpoint(url), [alert for alert, _ in alerts])


def _alerts_endpoint(base_url: str) -> str:
    """``/api/v2/alerts`` under a base URL, keeping its query (a proxy's token) where it was."""
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/api/v2/alerts"))
