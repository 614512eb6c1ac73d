"""Escalation by age: a deadline or threshold rule raises its severity, or names another receiver, after a while.

```yaml
escalate:
  - after: 7wd                  # overdue for 7 working days
    severity: critical
    escalate_to: province-chair # a label Alertmanager routes on
  - after: 30d
    escalate_to: working-group
```

The age is the time the alert has been in its rule's breach stage:
``overdue`` since its due instant (a deadline), ``breach`` since it fired (a
threshold). Working days count as days overdue do (weekends and holidays
not; the step is reached when the unit's count of days overdue reaches it),
calendar time from instant to instant. Each step reached adds to the one
before: the severity is the last reached step's that names one, the
``escalate_to`` label likewise. A step reached is a new transition of the
alert (``escalated_after`` names it), in the same stage and from the same
start; an acknowledgement is cleared by a new severity.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rules.language.base import BREACH, OVERDUE, Condition, Severity
from rules.language.calendar import WorkCalendar
from rules.language.durations import Span, WorkingDays, format_span

__all__ = ["ESCALATION_LABEL", "Escalating", "EscalationStep", "escalated"]

#: The label a step's ``escalate_to`` puts on the alert.
ESCALATION_LABEL = "escalate_to"
#: The stages an alert ages in: a rule's last word.
_AGEING = (OVERDUE, BREACH)
_JUST_BEFORE = timedelta(microseconds=1)


class EscalationStep(BaseModel):
    """After a while in the breach stage: another severity, another receiver, or both."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    after: Span = Field(description="Time in the breach stage: 7d, 12h, or working days as 5wd.")
    severity: Severity | None = Field(default=None, description="The alert's severity from then on.")
    escalate_to: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Put on the alert as its 'escalate_to' label, for Alertmanager to route (e.g. province-chair).",
    )

    @model_validator(mode="after")
    def _does_something(self) -> Self:
        if self.severity is None and self.escalate_to is None:
            raise ValueError("an escalation step needs 'severity', 'escalate_to' or both")
        if (isinstance(self.after, WorkingDays) and self.after.days <= 0) or (
            isinstance(self.after, timedelta) and self.after <= timedelta(0)
        ):
            raise ValueError("'after' must be longer than 0s")
        return self


class Escalating(BaseModel):
    """The ``escalate`` steps of a deadline or threshold rule."""

    escalate: tuple[EscalationStep, ...] = Field(
        default=(), description="Steps after a while in the breach stage, in increasing 'after'."
    )

    @field_validator("escalate")
    @classmethod
    def _in_order(cls, steps: tuple[EscalationStep, ...]) -> tuple[EscalationStep, ...]:
        if any(isinstance(s.after, WorkingDays) for s in steps) and not all(
            isinstance(s.after, WorkingDays) for s in steps
        ):
            raise ValueError("escalation steps count either working days (5wd) or calendar time (7d), not both")
        spans = [s.after.days if isinstance(s.after, WorkingDays) else s.after.total_seconds() for s in steps]
        if any(later <= earlier for earlier, later in pairwise(spans)):
            raise ValueError("escalation steps must be given in increasing 'after', each longer than the one before")
        return steps


def _reached_at(step: EscalationStep, began: datetime, calendar: WorkCalendar) -> datetime:
    """When an alert in its breach stage since ``began`` reaches ``step``."""
    after = step.after
    if isinstance(after, WorkingDays):  # when its count of working days overdue reaches the step
        return calendar.add(began - _JUST_BEFORE, after.days)
    return began + after


def escalated(
    steps: tuple[EscalationStep, ...], condition: Condition, began: datetime, now: datetime, calendar: WorkCalendar
) -> tuple[Condition, datetime | None]:
    """``condition`` with the steps reached by ``now`` applied, and the instant the next step is reached.

    Args:
        steps: The rule's escalation steps.
        condition: What the rule says now.
        began: When the alert entered its breach stage.
        now: The instant.
        calendar: The rule's working days.
    """
    if not steps or condition.stage not in _AGEING:
        return condition, None
    severity, receiver, reached = condition.severity, None, None
    for step in steps:
        at = _reached_at(step, began, calendar)
        if at > now:
            nxt: datetime | None = at
            break
        reached = step
        severity = step.severity or severity
        receiver = step.escalate_to or receiver
    else:
        nxt = None
    if reached is None:
        return condition, nxt
    labels = {**condition.labels, ESCALATION_LABEL: receiver} if receiver is not None else condition.labels
    return (
        Condition(
            condition.stage,
            severity,
            condition.since,
            condition.value,
            format_span(reached.after),
            condition.details,
            labels,
        ),
        nxt,
    )
