"""Decode one Kafka record into events, or say precisely why not.

A record value is a bare event object, a CloudEvents 1.0 structured event, a
binary-mode CloudEvent (``ce_*`` headers) or a JSON array of the first two.
The mode follows the CloudEvents Kafka protocol binding: a ``content-type``
header starting with ``application/cloudevents`` means structured mode
whatever ``ce_*`` headers ride along (gateways copy them); otherwise
``ce_specversion`` means binary mode.
Decoding never raises on bad input: every problem becomes a ``Rejection``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from events.fastpath import fast_event
from events.models import Event, EventKind, ExtensionEvent, IndicatorEvent, TaskStatusEvent
from events.signing import MATERIAL_ATTRIBUTE, Seal, seal_binary, seal_structured, signed_items
from events.text import CONTROL_CHARACTERS, IDENTIFIER_PATTERN, escape

__all__ = [
    "DEFAULT_MAX_RECORD_BYTES",
    "Decoded",
    "Rejection",
    "batch_records",
    "decode_object",
    "decode_record",
    "describe_validation_error",
    "encode_batch",
    "encode_event",
    "infer_kind",
    "is_structured",
    "join_batch",
    "rejection_reason",
    "screen",
]

DEFAULT_MAX_RECORD_BYTES = 1024 * 1024
_MAX_REPORTED_ERRORS = 5
#: Item errors a dead-letter reason lists one by one; the rest are counted.
MAX_REASON_ITEMS = 50
#: Characters a dead-letter reason keeps (it travels in a record header and a log line).
MAX_REASON_CHARS = 8192
_STRUCTURED = "application/cloudevents"
_CONTROL = re.compile(f"[{CONTROL_CHARACTERS}]")
_MODELS: Mapping[EventKind, type[TaskStatusEvent] | type[IndicatorEvent] | type[ExtensionEvent]] = {
    EventKind.TASK_STATUS: TaskStatusEvent,
    EventKind.INDICATOR: IndicatorEvent,
    EventKind.EXTENSION: ExtensionEvent,
}
# CloudEvents context attributes that fill event fields the data leaves out.
_CE_DEFAULTS = (("id", "event_id"), ("source", "source"), ("time", "occurred_at"), ("subject", "unit_id"))


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why (part of) a record was refused. ``index`` is the position in a batch."""

    reason: str
    index: int | None = None

    def __str__(self) -> str:
        return self.reason if self.index is None else f"item {self.index}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Decoded:
    """The events a record carried, and what in it was refused."""

    events: tuple[Event, ...] = ()
    rejections: tuple[Rejection, ...] = field(default=())
    is_batch: bool = False
    #: Where each event was in the record (its batch index); empty means 0, 1, 2, ... in order.
    positions: tuple[int, ...] = ()
    #: Each event's seal when it came signed (``dssematerial``), else ``None``; empty when none did.
    seals: tuple[Seal | None, ...] = ()

    def position(self, number: int) -> int:
        """The batch index of ``events[number]``."""
        return self.positions[number] if self.positions else number

    def seal(self, number: int) -> Seal | None:
        """The seal ``events[number]`` came with, if it was signed."""
        return self.seals[number] if self.seals else None


def describe_validation_error(exc: ValidationError) -> str:
    """Turn a pydantic error into one readable line naming each bad field."""
    parts = []
    for err in exc.errors()[:_MAX_REPORTED_ERRORS]:
        where = escape(".".join(str(p) for p in err["loc"])) or "event"
        got = "" if err["type"] == "missing" else f" (got {_short(err.get('input'))})"
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "string_pattern_mismatch" and err.get("ctx", {}).get("pattern") == IDENTIFIER_PATTERN:
            message = _control_character_message(str(err.get("input")))
        parts.append(f"field '{where}': {escape(message)}{got}")
    more = exc.error_count() - _MAX_REPORTED_ERRORS
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def _control_character_message(value: str) -> str:
    found = _CONTROL.search(value)
    where = f" (U+{ord(found.group()):04X} at position {found.start()})" if found is not None else ""
    return f"must not contain control characters{where}"


def _short(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (RecursionError, ValueError):  # nested too deep to show, or circular: its type says enough
        text = type(value).__name__
    text = escape(text)  # json.dumps keeps lone surrogates as they are
    return text if len(text) <= 60 else text[:57] + "..."


def rejection_reason(rejections: Sequence[Rejection]) -> str:
    """One line for a record's rejections: the first ``MAX_REASON_ITEMS``, a count of the rest, escaped and capped."""
    parts = [escape(str(r)) for r in rejections[:MAX_REASON_ITEMS]]
    if len(rejections) > MAX_REASON_ITEMS:
        parts.append(f"and {len(rejections) - MAX_REASON_ITEMS} more refused items ({len(rejections)} in all)")
    reason = "; ".join(parts)
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[: MAX_REASON_CHARS - 40] + f"... (cut from {len(reason)} characters)"
    return reason


def screen(decoded: Decoded, check: Callable[[Event, Seal | None], str | Event | None]) -> tuple[Decoded, int]:
    """Refuse the events ``check`` has a reason against, and replace those it gives another event for.

    ``check`` is given each event and its seal (``None`` unless it came signed); it returns a reason (the event
    is refused), an event to take its place (the same event readdressed, say), or ``None``. The refused events
    become rejections at their place in the record. Returns what is left, and how many were refused.
    """
    refused: list[tuple[int, str]] = []
    events = decoded.events
    replaced: list[Event] | None = None
    for number, event in enumerate(events):
        said = check(event, decoded.seal(number))
        if said is None:
            continue
        if isinstance(said, str):
            refused.append((number, said))
            continue
        if replaced is None:
            replaced = list(events)
        replaced[number] = said
    if replaced is not None:
        decoded = dataclasses.replace(decoded, events=tuple(replaced))
    if not refused:
        return decoded, 0
    dropped = {number for number, _ in refused}
    kept = [n for n in range(len(decoded.events)) if n not in dropped]
    added = [Rejection(reason, decoded.position(n) if decoded.is_batch else None) for n, reason in refused]
    rejections = sorted((*decoded.rejections, *added), key=lambda r: -1 if r.index is None else r.index)
    return (
        Decoded(
            tuple(decoded.events[n] for n in kept),
            tuple(rejections),
            decoded.is_batch,
            tuple(decoded.position(n) for n in kept),
            tuple(decoded.seals[n] for n in kept) if decoded.seals else (),
        ),
        len(refused),
    )


def _kind_for_type(ce_type: object) -> EventKind | Rejection:
    try:
        return EventKind(str(ce_type))
    except ValueError:
        allowed = ", ".join(k.value for k in EventKind)
        return Rejection(f"unknown CloudEvents type {_short(ce_type)}; allowed: {allowed}")


def _validate(kind: EventKind, data: object, *, fast: bool = False) -> Event | Rejection:
    """``data`` as an event of ``kind``, or why not; ``fast``: the common event is built without pydantic.

    The fast path (``events.fastpath``) takes only what pydantic is certain to accept, and builds the same object;
    everything else, every refusal with it, is pydantic's. A CloudEvent (its attributes merged into its data) is
    pydantic's alone.
    """
    if not isinstance(data, dict):
        return Rejection(f"an event must be a JSON object, got {type(data).__name__}")
    if fast and (event := fast_event(kind, data)) is not None:
        return event
    try:
        return _MODELS[kind].model_validate(data)
    except ValidationError as exc:
        return Rejection(describe_validation_error(exc))


def _from_cloudevent(attributes: Mapping[str, Any], data: object) -> Event | Rejection:
    if str(attributes.get("specversion")) != "1.0":
        return Rejection(f"unsupported CloudEvents specversion {_short(attributes.get('specversion'))}; use 1.0")
    kind = _kind_for_type(attributes.get("type"))
    if isinstance(kind, Rejection):
        return kind
    if not isinstance(data, dict):
        return Rejection("CloudEvent data must be a JSON object holding the event")
    merged = dict(data)
    for attribute, event_field in _CE_DEFAULTS:
        if attribute in attributes and event_field not in merged:
            merged[event_field] = attributes[attribute]
    if attributes.get(MATERIAL_ATTRIBUTE) and "occurred_at" not in data and "time" in attributes:
        # The signature covers `time` to the second: the instant is taken to the second, so that no fraction
        # changed unseen can reorder two reports.
        merged["occurred_at"] = _whole_seconds(attributes["time"])
    return _validate(kind, merged)


def _whole_seconds(value: object) -> object:
    """A timestamp's text without its fraction of a second (anything else as it is: validation says what is wrong)."""
    try:
        return datetime.fromisoformat(str(value)).replace(microsecond=0).isoformat()
    except ValueError:
        return value


def infer_kind(item: object) -> EventKind | None:
    """The kind of a bare event from its fields: ``task_id`` or ``indicator``."""
    if isinstance(item, dict):
        if "task_id" in item and "indicator" not in item:
            return EventKind.TASK_STATUS
        if "indicator" in item and "task_id" not in item:
            return EventKind.INDICATOR
    return None


def decode_object(item: object, default_kind: EventKind | None) -> Event | Rejection:
    """Validate one parsed JSON value: a bare event or a structured CloudEvent.

    Args:
        item: The parsed value.
        default_kind: The kind of a bare event; ``None`` infers it from the fields.
    """
    if isinstance(item, dict) and "specversion" in item:
        if "data_base64" in item:
            return Rejection("CloudEvent data_base64 is not supported; send data as a JSON object")
        return _from_cloudevent(item, item.get("data"))
    kind = default_kind or infer_kind(item)
    if kind is None:
        return Rejection(
            "cannot tell the event type: give task_id (task-status) or indicator (indicator), or a CloudEvent"
        )
    return _validate(kind, item, fast=True)  # a bare event: the usual batch item


def is_structured(headers: Sequence[tuple[str, bytes]]) -> bool:
    """Whether the headers mark a structured-mode CloudEvent: ``content-type`` decides, per the Kafka binding."""
    for key, value in headers:
        if key.lower() == "content-type":
            return value[: len(_STRUCTURED)].decode("ascii", "replace").lower() == _STRUCTURED
    return False


def decode_record(
    value: bytes | None,
    headers: Sequence[tuple[str, bytes]] = (),
    *,
    default_kind: EventKind | None,
    max_bytes: int = DEFAULT_MAX_RECORD_BYTES,
) -> Decoded:
    """Decode a record value (and headers) into events.

    Args:
        value: The raw record value.
        headers: Kafka record headers; ``ce_*`` headers mark a binary-mode CloudEvent, unless ``content-type``
            says structured mode (``application/cloudevents...``).
        default_kind: The kind of a bare event, given by the topic it came on (``None``: from its fields).
        max_bytes: Larger records are refused whole.

    Returns:
        The valid events and a rejection for each part that was refused.

    """
    if not value:
        return Decoded(rejections=(Rejection("empty record value"),))
    if len(value) > max_bytes:
        return Decoded(rejections=(Rejection(f"record is {len(value)} bytes, over the limit of {max_bytes}"),))
    try:
        text = value.decode("utf-8")
        payload = json.loads(text)
    except UnicodeDecodeError as exc:
        return Decoded(rejections=(Rejection(f"record is not UTF-8: {exc}"),))
    except json.JSONDecodeError as exc:
        return Decoded(rejections=(Rejection(f"record is not JSON: {exc}"),))
    except RecursionError:
        return Decoded(rejections=(Rejection("record is nested too deep to read; events are flat JSON objects"),))
    except ValueError as exc:  # an integer of more digits than Python converts (sys.get_int_max_str_digits)
        return Decoded(rejections=(Rejection(f"record is not JSON the monitor can read: {exc}"),))

    if headers and not is_structured(headers):
        ce_headers = {k.lower()[3:]: v.decode("utf-8", "replace") for k, v in headers if k.lower().startswith("ce_")}
        if "specversion" in ce_headers:
            return _binary(ce_headers, headers, value, payload)
    if isinstance(payload, list):
        if not payload:
            return Decoded(rejections=(Rejection("empty batch"),), is_batch=True)
        signed = any(isinstance(item, dict) and MATERIAL_ATTRIBUTE in item for item in payload)
        return _collect(
            [decode_object(item, default_kind) for item in payload],
            is_batch=True,
            seals=signed_items(text, payload) if signed else None,
        )
    signed = isinstance(payload, dict) and MATERIAL_ATTRIBUTE in payload
    return _collect(
        [decode_object(payload, default_kind)],
        is_batch=False,
        seals=[seal_structured(text, payload)] if signed else None,
    )


def _binary(attributes: dict[str, str], headers: Sequence[tuple[str, bytes]], value: bytes, payload: object) -> Decoded:
    """A binary-mode CloudEvent: its ``ce_*`` attributes, its value as its data.

    Its ``content-type`` header is its ``datacontenttype`` when no ``ce_datacontenttype`` says it (as the Kafka
    and HTTP bindings map it).
    """
    if "datacontenttype" not in attributes:
        for key, header in headers:
            if key.lower() == "content-type":
                attributes["datacontenttype"] = header.decode("utf-8", "replace")
    seal = seal_binary(attributes, value)
    if seal is not None and value.strip() != value:
        reason = (
            "a signed binary-mode event's value must be its JSON and nothing around it (it has whitespace before or "
            "after): sign and send the JSON alone"
        )
        return Decoded(rejections=(Rejection(reason),))
    return _collect([_from_cloudevent(attributes, payload)], is_batch=False, seals=[seal])


def _collect(results: list[Event | Rejection], *, is_batch: bool, seals: list[Seal | None] | None = None) -> Decoded:
    events: list[Event] = []
    rejections: list[Rejection] = []
    positions: list[int] = []
    kept: list[Seal | None] = []
    for index, result in enumerate(results):
        if isinstance(result, Rejection):
            rejections.append(Rejection(result.reason, index if is_batch else None))
        else:
            events.append(result)
            positions.append(index)
            if seals is not None:
                kept.append(seals[index])
    return Decoded(
        tuple(events),
        tuple(rejections),
        is_batch,
        tuple(positions) if rejections else (),
        tuple(kept) if any(seal is not None for seal in kept) else (),
    )


def encode_event(event: Event) -> bytes:
    """An event as a record value: compact JSON with the fields the event was given, and only those.

    A field left out and a field given as ``null`` mean different things (the
    first keeps the known value, the second removes it), so an event forwarded
    or dead-lettered must keep the difference: it is dumped with
    ``exclude_unset``, not ``exclude_none``. An event the unit registry placed on
    another unit keeps the code it came with (``unit_code``): read again, it is
    placed the same way.
    """
    if event.unit_code is not None:
        event = event.model_copy(update={"unit_id": event.unit_code})
    return event.model_dump_json(exclude_unset=True).encode("utf-8")


def join_batch(encoded: Iterable[bytes]) -> bytes:
    """Encoded events as one record value: a JSON array, the batch form bulk publishers send."""
    return b"[" + b",".join(encoded) + b"]"


def batch_records(encoded: Sequence[bytes], max_bytes: int) -> Iterator[bytes]:
    """Encoded events as few record values as fit ``max_bytes`` each, in order: one event alone stays an object.

    An event larger than ``max_bytes`` by itself still goes, alone (it was read in a record no larger).
    """
    if len(encoded) == 1:
        yield encoded[0]
        return
    chunk: list[bytes] = []
    size = 2  # the brackets
    for body in encoded:
        if chunk and size + len(body) + 1 > max_bytes:
            yield join_batch(chunk) if len(chunk) > 1 else chunk[0]
            chunk, size = [], 2
        chunk.append(body)
        size += len(body) + 1
    if chunk:
        yield join_batch(chunk) if len(chunk) > 1 else chunk[0]


def encode_batch(events: Iterable[Event]) -> bytes:
    """Events as one JSON-array record value."""
    return join_batch(encode_event(event) for event in events)
