"""Hostile unit ids in the links alerts carry: a unit id is one query value, never more query or a fragment."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.topics import Topics
from tests.integration.kafka import produce, task_event, wait_for, worker_process
from tests.integration.peers import WebhookReceiver

pytestmark = pytest.mark.integration
EVIL = "EVIL\"q'&severity=critical#frag /?x=1%20+"


def test_a_unit_id_with_url_syntax_stays_one_query_value_in_the_generator_url(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    with WebhookReceiver() as hook:
        env = {"MONITOR_WEBHOOK_URL": hook.url, "MONITOR_PUBLIC_URL": "https://compliance.example.org/feed/"}
        with worker_process(broker.url, tmp_path, env=env) as worker:
            worker.wait_ready()
            produce(broker.bootstrap, Topics().task_status, task_event("e-1", "T-1", "in_progress", unit=EVIL))

            def evil() -> list[dict[str, Any]]:
                return [a for a in hook.alerts("firing") if a["labels"].get("unit_id") == EVIL]

            (alert,) = wait_for("the webhook for the hostile unit", evil, log=worker.log)  # type: ignore[misc]
    link = urlsplit(alert["generatorURL"])
    assert (link.scheme, link.netloc, link.path, link.fragment) == ("https", "compliance.example.org", "/feed/", "")
    assert parse_qs(link.query, strict_parsing=True) == {"unit": [EVIL]}
    # Only unreserved characters and percent-escapes: the value's own "/", "?", "&", "#"… are all escaped.
    assert re.fullmatch(r"unit=(?:[A-Za-z0-9._~-]|%[0-9A-F]{2})+", link.query), link.query
