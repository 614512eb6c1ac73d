"""What every rule kind shares: identity, severity, selection, messages, and the condition it yields."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from rules.language.matchers import Selector, selects
from rules.language.templates import Template

__all__ = [
    "BREACH",
    "DUE_SOON",
    "OVERDUE",
    "SEVERITIES",
    "STAGES",
    "STALE",
    "WARNING",
    "Condition",
    "LabelName",
    "RuleBase",
    "RuleId",
    "Severity",
    "urgency",
]

Severity = Literal["info", "warning", "critical"]
WARNING: Severity = "warning"
#: Every severity, the most urgent first: the order of every list of alerts, on every screen.
SEVERITIES: tuple[Severity, ...] = ("critical", WARNING, "info")


def worst_severity(severities: Iterable[str]) -> str | None:
    """The most urgent of ``severities`` (critical, warning, info), or ``None`` when there is none."""
    present = set(severities)
    return next((s for s in SEVERITIES if s in present), None)


# The stages an alert can be in; each rule kind's module says which of them it yields.
DUE_SOON = "due_soon"  # a deadline's warning steps (``warn_before``)
OVERDUE = "overdue"  # a deadline passed
BREACH = "breach"  # a threshold or an aggregate crossed
STALE = "stale"  # no report for too long
#: Every stage, the most urgent first.
STAGES = (OVERDUE, BREACH, STALE, DUE_SOON)


def urgency(order: tuple[str, ...], value: object) -> int:
    """Where ``value`` stands in ``order`` (``SEVERITIES``, ``STAGES``): 0 is the most urgent; unknown values last."""
    return order.index(value) if value in order else len(order)


RuleId = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9][a-z0-9_.-]{0,99}$",
        description="Lowercase letters, digits, '.', '_' and '-'; starts with a letter or digit.",
    ),
]

#: Prometheus/Alertmanager's label-name grammar; Alertmanager rejects an alert with any other name.
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def _label_name(name: str) -> str:
    if not _LABEL_NAME.fullmatch(name):
        raise ValueError(
            f"label name '{name}' is not valid for Prometheus/Alertmanager: use letters, digits and '_', "
            "not starting with a digit"
        )
    if name.startswith("__"):
        raise ValueError(f"label name '{name}' starts with '__', which Prometheus/Alertmanager reserve; rename it")
    return name


LabelName = Annotated[str, AfterValidator(_label_name)]


class RuleBase(BaseModel):
    """Fields common to every rule kind."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    id: RuleId = Field(description="Unique rule id; becomes the alertname label.")
    severity: Severity = Field(default="warning", description="Severity when the rule is breached.")
    select: Selector = Field(
        default_factory=dict,
        description='Matchers on fields (kind, unit_id, task_id, indicator) or labels: value, {"!=": v}, {"=~": re}, {in: [...]}.',
    )
    labels: dict[LabelName, str] = Field(
        default_factory=dict,
        description="Extra labels put on every alert; names as Prometheus/Alertmanager allow.",
        json_schema_extra={"propertyNames": {"pattern": "^(?!__)[a-zA-Z_][a-zA-Z0-9_]*$"}},
    )
    summary: Template | None = Field(default=None, description="Message template, e.g. '{unit_name}: {task_title}'.")

    def selects(self, fields: Mapping[str, str], labels: Mapping[str, str]) -> bool:
        """Whether every matcher passes on the subject."""
        return selects(self.select, fields, labels)

    def kinds_selected(self) -> Callable[[str], bool] | None:
        """Which kinds of task the rule can select (``None``: any): a view over its tasks reads those alone."""
        matcher = self.select.get("kind")
        return matcher.matches if matcher is not None else None


@dataclass(frozen=True, slots=True)
class Condition:
    """What a rule says about one subject at one instant: the alert that should be firing.

    ``since`` is the instant the condition began (a deadline's breach, a
    report's event time), used as ``starts_at`` when the alert first fires.
    ``details`` are extra template fields and annotations (``due``, ``last_report``…).
    """

    stage: str
    severity: Severity
    since: datetime
    value: float | None = None
    step: str | None = None
    details: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)  # labels an escalation adds (``escalate_to``)
