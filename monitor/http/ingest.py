"""HTTP ingestion for systems that cannot speak Kafka: checks, then one record per unit.

Pure checks return an ``IngestAnswer`` (status and body); the web layer only
reads the request and produces the records this module plans.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from events.codec import decode_record
from monitor.kafka.batches import OutboundRecord, batch_records
from monitor.kafka.topics import Topics

__all__ = ["IngestAnswer", "authorize", "plan_records"]


@dataclass(frozen=True, slots=True)
class IngestAnswer:
    """What to answer, and the records to produce when the answer is 202."""

    status: int
    body: dict[str, Any]
    records: list[OutboundRecord] = field(default_factory=list)


def authorize(configured: str | None, header: str | None) -> IngestAnswer | None:
    """``None`` when the request may go on; otherwise the refusal (404 off, 401 no token, 403 wrong token)."""
    if not configured:
        return IngestAnswer(
            404, {"error": "HTTP ingestion is off on this worker: set MONITOR_INGEST_TOKEN to turn it on"}
        )
    if not header or not header.startswith("Bearer "):
        return IngestAnswer(401, {"error": "missing bearer token: send 'Authorization: Bearer <token>'"})
    if not hmac.compare_digest(header.removeprefix("Bearer ").strip().encode(), configured.encode()):
        return IngestAnswer(403, {"error": "wrong token"})
    return None


def _cloudevent_headers(headers: Mapping[str, str]) -> list[tuple[str, bytes]]:
    """CloudEvents HTTP binary mode (``ce-*`` headers) as the codec's ``ce_*`` record headers."""
    return [("ce_" + k.lower()[3:], v.encode()) for k, v in headers.items() if k.lower().startswith("ce-")]


def plan_records(body: bytes, headers: Mapping[str, str], topics: Topics, max_bytes: int) -> IngestAnswer:
    """Validate a request body (event, array, or CloudEvent) and plan one record per (topic, unit).

    Nothing is produced unless every event is valid: a 422 names each bad item and field.
    """
    decoded = decode_record(body, _cloudevent_headers(headers), default_kind=None, max_bytes=max_bytes)
    if decoded.rejections:
        errors = [{"index": r.index, "reason": r.reason} for r in decoded.rejections]
        return IngestAnswer(422, {"error": "invalid events; nothing was accepted", "errors": errors})
    records = batch_records(topics, list(decoded.events))
    return IngestAnswer(202, {"accepted": len(decoded.events), "records": len(records)}, records)
