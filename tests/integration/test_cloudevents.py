"""CloudEvents over Kafka as the SDK's own converters write them, through a real broker and worker."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cloudevents.v1.http import CloudEvent
from cloudevents.v1.kafka import KafkaMessage, to_binary, to_structured

from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.topics import Topics
from tests.integration.kafka import produce, read_all, sample, wait_for, worker_process

pytestmark = pytest.mark.integration
TOPICS = Topics()


def _event(event_id: str, content_type: str) -> CloudEvent:
    attributes = {
        "type": "compliance.indicator",
        "source": "laocai-igate",
        "id": event_id,
        "subject": "VN-22",
        "time": datetime.now(UTC).isoformat(),
        "datacontenttype": content_type,
        "partitionkey": "VN-22",
    }
    return CloudEvent(attributes, {"indicator": "online_dossier_ratio", "value": 0.61})


def _send(broker: EmbeddedBroker, message: KafkaMessage) -> None:
    key = message.key.encode() if isinstance(message.key, str) else message.key
    value = message.value.encode() if isinstance(message.value, str) else message.value
    produce(broker.bootstrap, TOPICS.indicators, value, key=key, headers=list(message.headers.items()))


def test_the_sdks_structured_and_binary_records_are_accepted(broker: EmbeddedBroker, tmp_path: Path) -> None:
    structured = to_structured(_event("ce-structured", "application/cloudevents+json; charset=utf-8"))
    # A gateway that copies the attributes into ce_* headers of a structured record: content-type still decides.
    copied = to_binary(_event("ce-gateway", "application/cloudevents+json")).headers
    gateway = to_structured(_event("ce-gateway", "application/cloudevents+json"))
    gateway = KafkaMessage({**copied, **gateway.headers}, gateway.key, gateway.value)
    binary = to_binary(_event("ce-binary", "application/json"))
    assert "ce_specversion" in gateway.headers and "ce_specversion" in binary.headers

    with worker_process(broker.url, tmp_path) as worker:
        worker.wait_ready()
        for message in (structured, gateway, binary):
            _send(broker, message)

        def accepted() -> float:
            return sample(worker.metrics(), "compliance_events_total", topic=TOPICS.indicators, outcome="accepted") or 0

        wait_for("three accepted CloudEvents", lambda: accepted() >= 3, timeout=30, log=worker.log)
        assert accepted() == 3
        assert read_all(broker.bootstrap, TOPICS.dead_letter) == []
