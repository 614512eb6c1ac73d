"""Alert transitions: the records the monitor writes to the alerts topic."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from json.encoder import encode_basestring as _quote  # what json.dumps uses, ensure_ascii=False
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

__all__ = ["AlertTransition", "fingerprint"]


def fingerprint(identity: Mapping[str, str]) -> str:
    """A stable hash of the identity labels (rule + unit + task or indicator).

    The hash is of the labels' compact JSON, ``[["name","value"],…]`` sorted
    by name, built here directly (the same bytes ``json.dumps`` writes, at a
    fraction of the cost: this runs for every rule on every event).
    """
    canonical = ",".join(f"[{_quote(name)},{_quote(value)}]" for name, value in sorted(identity.items()))
    return hashlib.sha256(f"[{canonical}]".encode()).hexdigest()[:16]


class AlertTransition(BaseModel):
    """One change of an alert: it started firing, changed stage, or resolved."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fingerprint: str
    status: Literal["firing", "resolved"]
    stage: str
    rule_id: str
    severity: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: AwareDatetime
    ends_at: AwareDatetime | None = None
    value: float | None = None
    event_ids: list[str]
    rule_version: str

    @property
    def unit_id(self) -> str:
        """The unit the alert is about."""
        return self.labels.get("unit_id", "")
