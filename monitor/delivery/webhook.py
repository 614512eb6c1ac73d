"""Generic webhook sink: Alertmanager's webhook payload (version 4), with an optional bearer token."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

from monitor.delivery.http import HttpSink, generator_url, post_json
from monitor.delivery.queue import DeliveryQueue
from monitor.delivery.targets import Target
from monitor.metrics import DeliveryMetrics
from rules.alerts import AlertTransition, transition_key

__all__ = ["WebhookSink", "webhook_payloads"]

_ZERO_TIME = "0001-01-01T00:00:00Z"  # what Alertmanager sends as endsAt of a firing alert
RECEIVER = "compliance-monitor"


def _common(maps: Iterable[dict[str, str]]) -> dict[str, str]:
    maps = list(maps)
    if not maps:
        return {}
    first = maps[0]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}


def webhook_payloads(transitions: list[AlertTransition], external_url: str) -> list[dict[str, Any]]:
    """Alertmanager webhook (version 4) payloads: one per status present in the batch."""
    payloads = []
    for status in ("firing", "resolved"):
        group = [t for t in transitions if t.status == status]
        if not group:
            continue
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
                "groupKey": f'{{}}:{{status="{status}"}}',
                "truncatedAlerts": 0,
                "status": status,
                "receiver": RECEIVER,
                "groupLabels": {},
                "commonLabels": _common(t.labels for t in group),
                "commonAnnotations": _common(t.annotations for t in group),
                "externalURL": external_url,
                "alerts": alerts,
            }
        )
    return payloads


class WebhookSink(HttpSink):
    """Delivers every alert transition to one or more webhook URLs."""

    def __init__(
        self,
        targets: list[Target],
        public_url: str,
        metrics: DeliveryMetrics,
        token: str | None = None,
        *,
        limit: int = 10_000,
    ) -> None:
        self._public_url = public_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        super().__init__()
        self.queues = [
            DeliveryQueue(target.sink, partial(self._post, target.url), self._key, metrics, limit=limit, batch=100)
            for target in targets
        ]

    @staticmethod
    def _key(transition: AlertTransition) -> str:
        return "/".join((transition.fingerprint, *transition_key(transition)))

    def on_transition(self, transition: AlertTransition) -> None:
        """Queue the transition for every webhook; never blocks."""
        for queue in self.queues:
            queue.offer(transition)

    async def _post(self, url: str, transitions: list[AlertTransition]) -> None:
        for payload in webhook_payloads(transitions, self._public_url):
            await post_json(self.client(), url, payload, self._headers)
