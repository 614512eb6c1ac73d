"""Generic webhook sink: Alertmanager's webhook payload (version 4), with an optional bearer token."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from typing import Any

import aiohttp

from monitor.clock import Clock, utc_now
from monitor.delivery.http import HttpSink, Recorder, generator_url, post_json
from monitor.delivery.queue import DeliveryQueue
from monitor.metrics import DeliveryMetrics
from monitor.notifications import Outcome, notified
from monitor.settings import DEFAULT_DELIVERY_QUEUE_LIMIT
from monitor.silences import Silence
from monitor.targets import Target
from rules.state import AlertTransition, transition_key

__all__ = ["WEBHOOK_BATCH", "WebhookSink", "group_key", "webhook_payloads"]

#: Transitions sent to a webhook in one go, at most (one POST per group of them).
WEBHOOK_BATCH = 100

_ZERO_TIME = "0001-01-01T00:00:00Z"  # what Alertmanager sends as endsAt of a firing alert
RECEIVER = "compliance-monitor"


def _common(maps: Iterable[dict[str, str]]) -> dict[str, str]:
    maps = list(maps)
    if not maps:
        return {}
    first = maps[0]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}


def _go_quote(value: str) -> str:
    """A label value quoted as Go's ``%q`` does it (how Alertmanager writes label sets in a ``groupKey``)."""
    out = []
    for char in value:
        if char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


_GO_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def group_key(group_labels: dict[str, str]) -> str:
    """Alertmanager's ``groupKey`` of a group under the root route: ``{}:{alertname="…", unit_id="…"}``."""
    return "{}:{" + ", ".join(f"{k}={_go_quote(v)}" for k, v in sorted(group_labels.items())) + "}"


def webhook_payloads(transitions: list[AlertTransition], external_url: str) -> list[dict[str, Any]]:
    """Alertmanager webhook (version 4) payloads: one per group, grouped as Alertmanager would by rule and unit.

    As in Alertmanager, a group's ``status`` is ``firing`` while any of its
    alerts fires, and its alerts keep their own status.
    """
    groups: dict[tuple[str, str], list[AlertTransition]] = {}
    for t in transitions:
        groups.setdefault((t.labels.get("alertname", t.rule_id), t.unit_id), []).append(t)
    payloads = []
    for (alertname, unit_id), group in groups.items():
        group_labels = {"alertname": alertname, "unit_id": unit_id}
        alerts = [
            {
                "status": t.status,
                "labels": t.labels,
                "annotations": t.annotations,
                "startsAt": t.starts_at.isoformat(),
                "endsAt": t.ends_at.isoformat() if t.ends_at else _ZERO_TIME,
                "generatorURL": generator_url(external_url, t.unit_id),
                "fingerprint": t.fingerprint,
            }
            for t in group
        ]
        payloads.append(
            {
                "version": "4",
                "groupKey": group_key(group_labels),
                "truncatedAlerts": 0,
                "status": "firing" if any(t.status == "firing" for t in group) else "resolved",
                "receiver": RECEIVER,
                "groupLabels": group_labels,
                "commonLabels": _common(t.labels for t in group),
                "commonAnnotations": _common(t.annotations for t in group),
                "externalURL": external_url,
                "alerts": alerts,
            }
        )
    return payloads


class WebhookSink(HttpSink):
    """Delivers every alert transition to one or more webhook URLs.

    Args:
        targets: The webhooks, one delivery queue each.
        public_url: Where the feed page is, for the links alerts carry.
        metrics: The delivery metrics.
        token: The bearer token sent to every webhook, if any.
        limit: Transitions queued per webhook while it is down.
        session: The session to send through (see ``HttpSink``); by default one of its own, opened at ``start``.
        clock: The wall clock (when a peer answered, for the delivery ledger).
        record: Told of every attempt worth keeping in the delivery ledger (``monitor.notifications``).
        silencing: The silence an alert is under now, if any: it is not delivered (and the ledger says so).
    """

    def __init__(
        self,
        targets: Sequence[Target],
        public_url: str,
        metrics: DeliveryMetrics,
        token: str | None = None,
        *,
        limit: int = DEFAULT_DELIVERY_QUEUE_LIMIT,
        session: aiohttp.ClientSession | None = None,
        clock: Clock = utc_now,
        record: Recorder | None = None,
        silencing: Callable[[Mapping[str, str]], Silence | None] = lambda labels: None,
    ) -> None:
        self._public_url = public_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._silencing = silencing
        super().__init__(session, clock, record)
        self.queues = [
            DeliveryQueue(
                target.sink,
                partial(self._post, target.url),
                self._key,
                metrics,
                limit=limit,
                batch=WEBHOOK_BATCH,
                on_attempt=partial(self._attempted, target.sink),
            )
            for target in targets
        ]

    @staticmethod
    def _key(transition: AlertTransition) -> str:
        return "/".join((transition.fingerprint, *transition_key(transition)))

    def on_transition(self, transition: AlertTransition) -> None:
        """Queue the transition for every webhook, unless a silence holds it; never blocks."""
        silence = self._silencing(transition.labels)
        for queue in self.queues:
            if silence is None:
                queue.offer(transition)
            else:
                self.record_attempt(
                    notified(transition), queue.name, 1, "silenced", None, f"silence {silence.id}: {silence.reason}"
                )

    def _attempted(
        self, sink: str, transition: AlertTransition, attempt: int, outcome: Outcome, status: int | None, answer: str
    ) -> None:
        self.record_attempt(notified(transition), sink, attempt, outcome, status, answer)

    async def _post(self, url: str, transitions: list[AlertTransition]) -> int | None:
        status = None
        for payload in webhook_payloads(transitions, self._public_url):
            status = await post_json(self.client(), url, payload, self._headers)
        return status
