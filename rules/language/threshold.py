"""Threshold rules: an indicator must stay above (or below) a target, optionally for a while."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from rules.language.base import BREACH, Condition, RuleBase
from rules.language.durations import Duration
from rules.language.escalation import Escalating
from rules.language.limits import Limits, breached
from rules.state import IndicatorState

__all__ = ["TargetStep", "ThresholdRule", "evaluate_threshold", "next_target_change"]


class TargetStep(BaseModel):
    """From an instant on, the target (and resolve line) change, e.g. the 2025 targets."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    from_: AwareDatetime = Field(alias="from", description="Instant the new target takes effect.")
    target: float
    resolve: float | None = None


class ThresholdRule(RuleBase, Limits, Escalating):
    """An indicator's value must not fall ``below`` (or rise ``above``) a target.

    ``for`` makes the breach count only once it has held that long in event
    time (successive reports); ``schedule`` changes the target on given dates.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    kind: Literal["threshold"]
    indicator: str = Field(min_length=1, description="Indicator name, or '*' for every indicator.")
    for_: Duration = Field(default=timedelta(0), alias="for", description="Breach must hold this long (event time).")
    schedule: tuple[TargetStep, ...] = Field(default=(), description="Target changes on given instants.")

    @model_validator(mode="after")
    def _sorted_schedule(self) -> Self:
        object.__setattr__(self, "schedule", tuple(sorted(self.schedule, key=lambda s: s.from_)))
        return self

    def applies_to(self, indicator: str) -> bool:
        """Whether this rule watches ``indicator``."""
        return self.indicator in ("*", indicator)

    def lines_at(self, now: datetime) -> tuple[float, float | None]:
        """Target and resolve line in effect at ``now``."""
        target, resolve = self.target, self.resolve
        for step in self.schedule:
            if step.from_ <= now:
                target, resolve = step.target, step.resolve
        return target, resolve


def evaluate_threshold(rule: ThresholdRule, report: IndicatorState, firing: bool, now: datetime) -> Condition | None:
    """Whether the latest report is on the wrong side of the target in effect at ``now``.

    ``for`` is not applied here: the engine tracks how long a breach has held.
    """
    target, resolve = rule.lines_at(now)
    if not breached(rule, report.value, firing, target, resolve):
        return None
    return Condition(
        BREACH, rule.severity, since=report.occurred_at, value=report.value, details={"target": f"{target:.4g}"}
    )


def next_target_change(rule: ThresholdRule, now: datetime) -> datetime | None:
    """The next scheduled target change after ``now``."""
    return next((step.from_ for step in rule.schedule if step.from_ > now), None)
