"""Event contract: models and the ingress record decoder."""

from events.codec import Decoded, Rejection, decode_record
from events.models import Event, EventKind, IndicatorEvent, TaskStatus, TaskStatusEvent

__all__ = [
    "Decoded",
    "Event",
    "EventKind",
    "IndicatorEvent",
    "Rejection",
    "TaskStatus",
    "TaskStatusEvent",
    "decode_record",
]
