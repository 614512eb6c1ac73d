"""HTTP ingestion for systems that cannot speak Kafka: checks, then one record per unit.

Pure checks return an ``IngestAnswer`` (status and body); the web layer only
reads the request (``read_body``) and produces the records this module plans.
A body that is not JSON at all (not UTF-8, malformed, nested too deep, a lone
surrogate) is the client's mistake about the protocol: 400. Well-formed JSON
whose events are invalid is 422, naming each bad item and field.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from events.codec import decode_record
from events.grants import UNSEALED_EXTENSION
from events.models import Event, ExtensionEvent
from events.signing import Seal
from monitor.kafka.batches import OutboundRecord, batch_records
from monitor.kafka.topics import Topics
from monitor.publishers import Admission, Refusal
from rules.units import Placed, Refused, UnitRegistry, place

__all__ = [
    "MAX_JSON_DEPTH",
    "IngestAnswer",
    "authorize",
    "bearer",
    "identify",
    "json_problem",
    "plan_records",
    "read_body",
]

#: Deepest nesting of arrays and objects a body may have: an event batch needs four levels
#: (array, CloudEvent, data, labels); far deeper is an attack on the parser, not data.
MAX_JSON_DEPTH = 32


@dataclass(frozen=True, slots=True)
class IngestAnswer:
    """What to answer, and the records to produce when the answer is 202."""

    status: int
    body: dict[str, Any]
    records: list[OutboundRecord] = field(default_factory=list)


def bearer(header: str | None) -> str | IngestAnswer:
    """The bearer token an ``Authorization`` header carries, or the 401 that asks for one."""
    if not header or not header.startswith("Bearer "):
        return IngestAnswer(401, {"error": "missing bearer token: send 'Authorization: Bearer <token>'"})
    return header.removeprefix("Bearer ").strip()


def authorize(configured: str | None, header: str | None) -> IngestAnswer | None:
    """Open mode's one shared token: ``None`` when the request may go on, else the refusal (404 off, 401, 403)."""
    if not configured:
        return IngestAnswer(
            404, {"error": "HTTP ingestion is off on this worker: set MONITOR_INGEST_TOKEN to turn it on"}
        )
    token = bearer(header)
    if isinstance(token, IngestAnswer):
        return token
    if not hmac.compare_digest(token.encode(), configured.encode()):
        return IngestAnswer(403, {"error": "wrong token"})
    return None


def identify(admission: Admission, header: str | None) -> str | IngestAnswer:
    """The publisher whose token the request carries (publisher registry in force), or the 401 or 403."""
    token = bearer(header)
    if isinstance(token, IngestAnswer):
        return token
    publisher = admission.identify(token)
    if publisher is None:
        return IngestAnswer(
            403, {"error": f"wrong token: it is no publisher's in the publisher registry {admission.version}"}
        )
    return publisher


def _cloudevent_headers(headers: Mapping[str, str]) -> list[tuple[str, bytes]]:
    """CloudEvents HTTP binary mode (``ce-*`` headers, ``Content-Type``) as the codec's record headers."""
    # A header's bytes as they came (aiohttp gives undecodable ones as surrogates): the codec reads them as UTF-8.
    # Content-Type goes too: in binary mode it is the event's datacontenttype, as the HTTP binding maps it.
    return [
        ("ce_" + k.lower()[3:] if k.lower().startswith("ce-") else "content-type", v.encode("utf-8", "surrogateescape"))
        for k, v in headers.items()
        if k.lower().startswith("ce-") or k.lower() == "content-type"
    ]


async def read_body(read: Callable[[int], Awaitable[bytes]], limit: int) -> bytes | None:
    """The whole request body, or ``None`` as soon as it is over ``limit`` bytes (the rest is left unread).

    Args:
        read: Reads at most the given number of bytes; returns ``b""`` at the end of the body. One read
            returns what has arrived so far, not the whole body, so it is called until the end.
        limit: The most bytes accepted.
    """
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = await read(limit + 1 - size)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
    return None


def _printable(text: str) -> str:
    r"""``text`` safe to put in an answer: lone surrogates as ``\udXXX`` escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _structure_problem(payload: object) -> str | None:
    """Nesting deeper than ``MAX_JSON_DEPTH`` or a lone surrogate, with the JSON path where it is."""
    stack: list[tuple[object, str, int]] = [(payload, "$", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                lone = _printable(value[exc.start : exc.end])
                return f"the string at {path} holds a lone UTF-16 surrogate ({lone}); send valid Unicode"
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > MAX_JSON_DEPTH:
            return f"the body is nested deeper than {MAX_JSON_DEPTH} levels (at {path})"
        if isinstance(value, list):
            stack.extend((item, f"{path}[{index}]", depth + 1) for index, item in enumerate(value))
            continue
        for key, item in value.items():
            child = f"{path}.{_printable(key)}"
            stack.append((key, f"{child} (its key)", depth + 1))
            stack.append((item, child, depth + 1))
    return None


def json_problem(body: bytes) -> str | None:
    """Why ``body`` is not a JSON text the monitor can read, or ``None`` when it is one.

    Catches what the event decoder must never see: bytes that are not UTF-8, malformed JSON,
    nesting deeper than ``MAX_JSON_DEPTH``, strings with a lone surrogate (valid JSON escapes,
    but no text: nothing could encode them again). Each reason says where.
    """
    if not body.strip():
        return "the body is empty: send one event, an array of events, or a CloudEvent"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"the body is not UTF-8 (byte 0x{body[exc.start]:02x} at offset {exc.start}); send JSON as UTF-8"
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"the body is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno} (offset {exc.pos})"
    except RecursionError:  # the parser's own recursion ran out, far below any legitimate body
        return f"the body is nested deeper than {MAX_JSON_DEPTH} levels"
    except ValueError as exc:  # an integer of more digits than Python converts (sys.get_int_max_str_digits)
        return f"the body is not JSON the monitor can read: {exc}"
    return _structure_problem(payload)


def plan_records(
    body: bytes,
    headers: Mapping[str, str],
    topics: Topics,
    max_bytes: int,
    admit: Callable[[Event, Seal | None, str], Refusal | None] | None = None,
    units: UnitRegistry | None = None,
) -> IngestAnswer:
    """Validate a request body (event, array, or CloudEvent) and plan one record per (topic, unit).

    Nothing is produced unless every event is valid, placed and admitted: a 400 says why the body is not
    JSON, a 422 names each bad item and field (an event whose unit code named no unit at its ``occurred_at``
    among them: ``units``, the pack's unit registry, places each event), a 403 each item ``admit`` refuses (the
    publisher registry: another unit's event, another publisher's ``source``; it is given the unit the event's
    code named, too).
    """
    problem = json_problem(body)
    if problem is not None:
        return IngestAnswer(400, {"error": problem})
    decoded = decode_record(body, _cloudevent_headers(headers), default_kind=None, max_bytes=max_bytes)
    if decoded.rejections:
        errors = [{"index": r.index, "reason": r.reason} for r in decoded.rejections]
        return IngestAnswer(422, {"error": "invalid events; nothing was accepted", "errors": errors})
    events = list(decoded.events)
    granted = [decoded.position(i) for i, event in enumerate(events) if isinstance(event, ExtensionEvent)]
    if granted:  # a publisher cannot grant itself a new deadline
        errors = [{"index": i, "reason": UNSEALED_EXTENSION} for i in granted]
        return IngestAnswer(422, {"error": "invalid events; nothing was accepted", "errors": errors})
    named = [event.unit_id for event in events]
    if units is not None and len(units):
        placed = [place(event, units) for event in events]
        unplaced = [{"index": i, "reason": p.reason} for i, p in enumerate(placed) if isinstance(p, Refused)]
        if unplaced:
            return IngestAnswer(422, {"error": "invalid events; nothing was accepted", "errors": unplaced})
        events = [p.event for p in placed if isinstance(p, Placed)]
        named = [p.named for p in placed if isinstance(p, Placed)]
    if admit is not None:
        verdicts = [admit(event, decoded.seal(number), named[number]) for number, event in enumerate(events)]
        refused = [(index, r) for index, r in enumerate(verdicts) if r is not None]
        if refused:
            errors = [{"index": index, "reason": r.reason, "cause": r.cause.value} for index, r in refused]
            return IngestAnswer(
                403, {"error": "refused by the publisher registry; nothing was accepted", "errors": errors}
            )
    records = batch_records(topics, events, decoded.seals)
    return IngestAnswer(202, {"accepted": len(events), "records": len(records)}, records)
