"""Threshold rules: an indicator must stay above (or below) a target."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from rules.base import Condition, RuleBase
from rules.state import IndicatorState

__all__ = ["BREACH", "ThresholdRule", "evaluate_threshold"]

BREACH = "breach"


class ThresholdRule(RuleBase):
    """An indicator's value must not fall ``below`` (or rise ``above``) a target.

    ``resolve_above`` / ``resolve_below`` give hysteresis: once firing, the
    alert resolves only when the value crosses that second line.
    """

    kind: Literal["threshold"]
    indicator: str = Field(min_length=1, description="Indicator name, or '*' for every indicator.")
    below: float | None = None
    above: float | None = None
    resolve_above: float | None = None
    resolve_below: float | None = None

    @model_validator(mode="after")
    def _one_direction(self) -> Self:
        if (self.below is None) == (self.above is None):
            raise ValueError("give exactly one of 'below' or 'above'")
        if self.below is not None and self.resolve_below is not None:
            raise ValueError("'resolve_below' goes with 'above'; with 'below' use 'resolve_above'")
        if self.above is not None and self.resolve_above is not None:
            raise ValueError("'resolve_above' goes with 'below'; with 'above' use 'resolve_below'")
        if self.below is not None and self.resolve_above is not None and self.resolve_above < self.below:
            raise ValueError("'resolve_above' must be at least 'below'")
        if self.above is not None and self.resolve_below is not None and self.resolve_below > self.above:
            raise ValueError("'resolve_below' must be at most 'above'")
        return self

    @property
    def target(self) -> float:
        """The line the value must stay on the right side of."""
        target = self.below if self.below is not None else self.above
        assert target is not None
        return target

    def applies_to(self, indicator: str) -> bool:
        """Return whether this rule watches ``indicator``."""
        return self.indicator in ("*", indicator)


def evaluate_threshold(rule: ThresholdRule, report: IndicatorState, firing: bool) -> Condition | None:
    """The condition a threshold rule holds for the latest report.

    Args:
        rule: The rule.
        report: The indicator's latest report.
        firing: Whether the rule's alert is firing now (hysteresis needs it).

    """
    value = report.value
    if rule.below is not None:
        breached = value < (rule.resolve_above if firing and rule.resolve_above is not None else rule.below)
    else:
        assert rule.above is not None
        breached = value > (rule.resolve_below if firing and rule.resolve_below is not None else rule.above)
    if not breached:
        return None
    return Condition(BREACH, rule.severity, since=report.occurred_at, value=value)
