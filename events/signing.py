"""What a signed CloudEvent's signature must cover, recomputed from the record as received. No I/O, no keys.

The CloudEvents Verifiability extension signs an event with a DSSE envelope
carried in its ``dssematerial`` attribute. The envelope's payload holds
``core``: the SHA-256 of the digests of the context attributes (``id``,
``source``, ``specversion``, ``type``, ``datacontenttype``, ``dataschema``,
``subject``, ``time`` in UTC to the second), each the digest of the empty
string when absent, and of the event's ``data`` *as the bytes it was sent
in*. This module recomputes that digest from a record (binary mode: the
``ce_*`` headers and the value; structured mode: the members of the JSON
object, ``data`` as the exact text between its colon and the next member)
into a ``Seal``; checking the envelope's signature against a publisher's keys
is the publisher registry's work (``monitor.publishers.signatures``).
Extension attributes the envelope may also sign are not read by the monitor,
so only ``core`` is compared.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = [
    "CORE_ATTRIBUTES",
    "MATERIAL_ATTRIBUTE",
    "PAYLOAD_TYPE",
    "Seal",
    "core_digest",
    "seal_binary",
    "seal_structured",
    "signed_items",
]

#: The DSSE payload type of the Verifiability extension (its version of the signing rules).
PAYLOAD_TYPE = "https://cloudevents.io/verifiability/dsse/v0.1"
#: The extension attribute that carries the envelope.
MATERIAL_ATTRIBUTE = "dssematerial"
#: The context attributes ``core`` covers, in the order they are hashed (then the data).
CORE_ATTRIBUTES = ("id", "source", "specversion", "type", "datacontenttype", "dataschema", "subject", "time")
_EMPTY = hashlib.sha256(b"").digest()
_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


@dataclass(frozen=True, slots=True)
class Seal:
    """A signed event's envelope and the digest its signature must match.

    Attributes:
        material: The ``dssematerial`` attribute as received (Base64 of the DSSE envelope's JSON).
        core: ``core`` recomputed from the event as received.
        forward: The event as one structured-mode CloudEvent with its data bytes unchanged: what HTTP ingestion
            passes on to the events topic, so that the worker owning the unit checks the same signature.
    """

    material: str
    core: bytes
    forward: bytes


def _text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _utc_second(value: str) -> str:
    """``time`` as the extension hashes it: RFC 3339 in UTC, to the second (unchanged when it is no timestamp)."""
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            return value
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, OverflowError):  # no timestamp, or one whose UTC falls outside years 1-9999
        return value


def core_digest(attributes: Mapping[str, object], data: bytes) -> bytes:
    """The extension's ``core``: SHA-256 over the digests of the context attributes and the data bytes."""
    parts = []
    for name in CORE_ATTRIBUTES:
        value = attributes.get(name)
        if value is None:
            parts.append(_EMPTY)
            continue
        text = _text(value)
        if name == "time":
            text = _utc_second(text)
        parts.append(hashlib.sha256(text.encode("utf-8")).digest())
    parts.append(hashlib.sha256(data).digest())
    return hashlib.sha256(b"".join(parts)).digest()


def _members(text: str, start: int) -> tuple[dict[str, tuple[int, int]], int]:
    """The spans of a JSON object's member values, and where the object ends (``text`` is valid JSON)."""
    spans: dict[str, tuple[int, int]] = {}
    index = _SPACE.match(text, start + 1).end()  # type: ignore[union-attr]  # the pattern matches everywhere
    if text[index] == "}":
        return spans, index + 1
    while True:
        name, index = _DECODER.raw_decode(text, index)
        index = _SPACE.match(text, index).end() + 1  # type: ignore[union-attr]  # past ':'
        begin = _SPACE.match(text, index).end()  # type: ignore[union-attr]
        _, index = _DECODER.raw_decode(text, begin)
        spans[name] = (begin, index)
        index = _SPACE.match(text, index).end()  # type: ignore[union-attr]
        if text[index] == "}":
            return spans, index + 1
        index = _SPACE.match(text, index + 1).end()  # type: ignore[union-attr]  # past ','


def _sealed(item: Mapping[str, object], text: str, span: tuple[int, int]) -> Seal | None:
    material = item.get(MATERIAL_ATTRIBUTE)
    if not isinstance(material, str) or not material:
        return None
    spans, _ = _members(text, span[0])
    data = text[slice(*spans["data"])].encode("utf-8") if "data" in spans else b""
    return Seal(material, core_digest(item, data), text[slice(*span)].encode("utf-8"))


def seal_structured(text: str, item: Mapping[str, object]) -> Seal | None:
    """The seal of a structured-mode CloudEvent whose JSON text is ``text`` (``None`` when it is unsigned)."""
    start = _SPACE.match(text).end()  # type: ignore[union-attr]
    return _sealed(item, text, (start, _members(text, start)[1]))


def signed_items(text: str, items: list[object]) -> list[Seal | None]:
    """The seal of each item of a JSON array record (``None`` for an unsigned one or one that is no CloudEvent)."""
    seals: list[Seal | None] = []
    index = _SPACE.match(text).end() + 1  # type: ignore[union-attr]  # past '['
    for position, item in enumerate(items):
        begin = _SPACE.match(text, index).end()  # type: ignore[union-attr]
        _, end = _DECODER.raw_decode(text, begin)
        if isinstance(item, dict) and MATERIAL_ATTRIBUTE in item:
            seals.append(_sealed(item, text, (begin, end)))
        else:
            seals.append(None)
        if position + 1 < len(items):
            index = _SPACE.match(text, end).end() + 1  # type: ignore[union-attr]  # past ','
    return seals


def seal_binary(attributes: Mapping[str, str], data: bytes) -> Seal | None:
    """The seal of a binary-mode CloudEvent: its ``ce_*`` attributes (prefix removed) and its value."""
    material = attributes.get(MATERIAL_ATTRIBUTE)
    if not material:
        return None
    head = json.dumps(dict(attributes), ensure_ascii=False, separators=(",", ":"))
    forward = head[:-1].encode("utf-8") + (b',"data":' + data if data.strip() else b"") + b"}"
    return Seal(material, core_digest(attributes, data), forward)
