"""Per-unit state the engine keeps between inputs; serialised into the worker's tables."""

from __future__ import annotations

from datetime import date, datetime
from typing import Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from events.models import IndicatorEvent, TaskStatus, TaskStatusEvent

__all__ = ["AlertState", "IndicatorState", "TaskState", "UnitState"]

_FROZEN = ConfigDict(frozen=True, extra="ignore")


class TaskState(BaseModel):
    """The latest known status of one task."""

    model_config = _FROZEN

    task_id: str
    kind: str
    status: TaskStatus
    deadline: AwareDatetime | date | None = None
    title: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    occurred_at: AwareDatetime
    event_id: str

    @classmethod
    def from_event(cls, event: TaskStatusEvent) -> Self:
        """The task as the event reports it."""
        return cls(
            task_id=event.task_id,
            kind=event.kind,
            status=event.status,
            deadline=event.deadline,
            title=event.title,
            labels=event.labels,
            occurred_at=event.occurred_at,
            event_id=event.event_id,
        )


class IndicatorState(BaseModel):
    """The latest reported value of one indicator."""

    model_config = _FROZEN

    indicator: str
    value: float
    period: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    occurred_at: AwareDatetime
    event_id: str

    @classmethod
    def from_event(cls, event: IndicatorEvent) -> Self:
        """The indicator as the event reports it."""
        return cls(
            indicator=event.indicator,
            value=event.number,
            period=event.period,
            labels=event.labels,
            occurred_at=event.occurred_at,
            event_id=event.event_id,
        )


class AlertState(BaseModel):
    """An alert that is firing now; removed from the state when it resolves."""

    model_config = _FROZEN

    fingerprint: str
    rule_id: str
    stage: str
    step: str | None = None
    severity: str
    labels: dict[str, str]
    starts_at: AwareDatetime
    subject: str = Field(description="Key of the task or indicator the alert is about.")


class UnitState(BaseModel):
    """Everything the monitor knows about one unit."""

    model_config = _FROZEN

    unit_id: str
    tasks: dict[str, TaskState] = Field(default_factory=dict)
    indicators: dict[str, IndicatorState] = Field(default_factory=dict)
    alerts: dict[str, AlertState] = Field(default_factory=dict)
    recent_events: tuple[str, ...] = Field(default=(), description="Recent (source, event_id) keys, for dedup.")
    next_wakeup: datetime | None = None
