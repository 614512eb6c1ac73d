"""The monitor's own seal on an extension record: an HMAC of the record's value under the cluster credential. No I/O.

An extension (``ExtensionEvent``) travels on the events topic, in its unit's
partition, so that the worker owning the unit applies it in order with the
unit's events. Anyone who may write to that topic could write one too: the
worker applies an extension only when its record carries the header
``GRANT_HEADER`` holding the HMAC-SHA256 of its exact value under
``MONITOR_CLUSTER_TOKEN``, which only the workers hold. A publisher's events
never need it; an extension without it is refused.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

__all__ = ["GRANT_HEADER", "UNSEALED_EXTENSION", "grant_seal", "is_granted"]

#: The record header that carries the seal.
GRANT_HEADER = "monitor-grant"
#: Why an extension that is not the monitor's own is refused (on the events topic, and over HTTP ingestion).
UNSEALED_EXTENSION = (
    "an extension is recorded by a viewer who may grant one (POST /api/v1/units/{unit_id}/extensions), never "
    "published: this one does not carry the workers' seal (header monitor-grant)"
)


def grant_seal(key: bytes, value: bytes) -> bytes:
    """The seal of a record value under ``key`` (hex digits, as the header holds them)."""
    return hmac.new(key, value, hashlib.sha256).hexdigest().encode("ascii")


def is_granted(key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]]) -> bool:
    """Whether a record carries the seal of its own value under ``key`` (never without a key)."""
    if not key or value is None:
        return False
    expected = grant_seal(key, value)
    return any(name.lower() == GRANT_HEADER and hmac.compare_digest(seal, expected) for name, seal in headers)
