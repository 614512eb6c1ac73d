"""What every rule kind shares: identity, severity, selection, messages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from rules.templates import Template

__all__ = ["WARNING", "Condition", "RuleBase", "RuleId", "Severity"]

Severity = Literal["info", "warning", "critical"]
WARNING: Severity = "warning"
RuleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,99}$")]


class RuleBase(BaseModel):
    """Fields common to every rule kind."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: RuleId = Field(description="Unique rule id; becomes the alertname label.")
    severity: Severity = Field(default="warning", description="Severity when the rule is breached.")
    select: dict[str, str] = Field(
        default_factory=dict,
        description="Field or label matchers (kind, unit_id, task_id, or a label name) that must all equal.",
    )
    labels: dict[str, str] = Field(default_factory=dict, description="Extra labels put on every alert.")
    summary: Template | None = Field(default=None, description="Message template, e.g. '{unit_name}: {task_title}'.")

    def selects(self, fields: dict[str, str], labels: dict[str, str]) -> bool:
        """Return whether every matcher equals the subject's field or label."""
        for name, wanted in self.select.items():
            have = fields.get(name, labels.get(name))
            if have != wanted:
                return False
        return True


@dataclass(frozen=True, slots=True)
class Condition:
    """What a rule says about one subject at one instant: the alert that should be firing.

    ``since`` is the instant the condition began (a deadline's breach, a
    report's event time), used as ``starts_at`` when the alert first fires.
    """

    stage: str
    severity: Severity
    since: datetime
    value: float | None = None
    step: str | None = None
