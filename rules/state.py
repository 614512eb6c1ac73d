"""Per-unit state the engine keeps between inputs; serialised into the worker's tables."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Self
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from events.models import IndicatorEvent, TaskStatus, TaskStatusEvent

__all__ = ["AlertState", "IndicatorState", "TaskState", "UnitState"]

_FROZEN = ConfigDict(frozen=True, extra="ignore")


class TaskState(BaseModel):
    """The latest known status of one task, and when it first reached each status."""

    model_config = _FROZEN

    task_id: str
    kind: str
    status: TaskStatus
    deadline: AwareDatetime | date | None = None
    title: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    occurred_at: AwareDatetime
    event_id: str
    first_reached: dict[TaskStatus, AwareDatetime] = Field(default_factory=dict)

    @classmethod
    def from_event(cls, event: TaskStatusEvent, previous: TaskState | None = None) -> Self:
        """The task as the event reports it, keeping when earlier statuses were first reached."""
        reached = dict(previous.first_reached) if previous is not None else {}
        reached.setdefault(event.status, event.occurred_at)
        return cls(
            task_id=event.task_id,
            kind=event.kind,
            status=event.status,
            deadline=event.deadline,
            title=event.title,
            labels=event.labels,
            occurred_at=event.occurred_at,
            event_id=event.event_id,
            first_reached=reached,
        )

    def fields(self, unit_id: str) -> dict[str, str]:
        """The fields rule matchers can test."""
        return {"kind": self.kind, "task_id": self.task_id, "status": self.status.value, "unit_id": unit_id}

    def own_due(self, tz: ZoneInfo) -> datetime | None:
        """The task's own deadline as an instant; a bare date means the end of that day in ``tz``."""
        deadline = self.deadline
        if deadline is None or isinstance(deadline, datetime):
            return deadline
        return datetime.combine(deadline + timedelta(days=1), time(0), tzinfo=tz)


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

    def fields(self, unit_id: str) -> dict[str, str]:
        """The fields rule matchers can test."""
        return {"indicator": self.indicator, "unit_id": unit_id}


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
    subject: str = Field(description="Key of the task, indicator or unit the alert is about.")
    summary: str = ""


class UnitState(BaseModel):
    """Everything the monitor knows about one unit."""

    model_config = _FROZEN

    unit_id: str
    tasks: dict[str, TaskState] = Field(default_factory=dict)
    indicators: dict[str, IndicatorState] = Field(default_factory=dict)
    alerts: dict[str, AlertState] = Field(default_factory=dict)
    pending: dict[str, AwareDatetime] = Field(default_factory=dict, description="Breaches waiting out a rule's 'for'.")
    wakeups: dict[str, float] = Field(default_factory=dict, description="Subject → next instant its rules change.")
    recent_events: dict[str, None] = Field(
        default_factory=dict, description="Recent (source, event_id) keys, oldest first, for dedup."
    )
    last_event_at: AwareDatetime | None = None
    pack_version: str = Field(default="", description="Rule pack the wake-ups were computed for.")

    @property
    def next_wakeup(self) -> float | None:
        """The earliest instant (epoch seconds) at which any rule's view of this unit changes."""
        return min(self.wakeups.values(), default=None)
