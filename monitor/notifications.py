"""The delivery ledger's records: which notification of which alert went to which peer, and what the peer answered.

A sink tags each notification it sends about a transition (``Notified``);
its delivery queue says what became of every attempt. A record is kept for
the first attempt, for every attempt whose answer differs from the one
before it (a 503, then a 200), and for the last one: an outage of hours is a
few records, not one per retry. The periodic re-sends of firing alerts to
Alertmanager (its keep-alive) are not notifications and are not recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from rules.state import AlertTransition

__all__ = ["ANSWER_CHARS", "Delivery", "Notified", "Outcome", "notified"]

#: What became of an attempt: the peer took it, refused it for good (4xx), or could not (5xx, down, timeout);
#: or it was not sent, the alert being silenced.
Outcome = Literal["delivered", "rejected", "failed", "silenced"]
#: The most of a peer's answer a record keeps.
ANSWER_CHARS = 200


@dataclass(frozen=True, slots=True)
class Notified:
    """The transition a notification tells of."""

    fingerprint: str
    unit_id: str
    starts_at: str  # the firing interval's start (ISO 8601, as the record has it)
    status: str
    stage: str
    severity: str


def notified(transition: AlertTransition) -> Notified:
    """What a notification about ``transition`` tells of."""
    return Notified(
        transition.fingerprint,
        transition.unit_id,
        transition.starts_at.isoformat(),
        transition.status,
        transition.stage,
        transition.severity,
    )


class Delivery(BaseModel):
    """One attempt to notify a peer of a transition, as the deliveries topic holds it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fingerprint: str
    unit_id: str
    starts_at: AwareDatetime = Field(description="The start of the firing interval the transition belongs to.")
    status: Literal["firing", "resolved"]
    stage: str
    severity: str
    sink: str = Field(description="The peer, as the delivery metrics name it (alertmanager, webhook-ops…).")
    attempt: int = Field(ge=1, description="Which attempt this was for this notification.")
    at: AwareDatetime = Field(description="When the peer answered (or the attempt failed).")
    outcome: Outcome
    http_status: int | None = Field(default=None, description="The peer's HTTP status; none when it was not reached.")
    answer: Annotated[str, Field(max_length=ANSWER_CHARS)] = Field(default="", description="What the peer said.")
