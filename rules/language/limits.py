"""Lines a number must stay on the right side of, with hysteresis: shared by threshold and aggregate rules."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, model_validator

__all__ = ["Limits", "breached"]


class Limits(BaseModel):
    """``below`` or ``above`` a target; ``resolve_above`` / ``resolve_below`` give hysteresis."""

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

    @property
    def resolve(self) -> float | None:
        """The hysteresis line, if any."""
        return self.resolve_above if self.below is not None else self.resolve_below


def breached(
    limits: Limits, value: float, firing: bool, target: float | None = None, resolve: float | None = None
) -> bool:
    """Whether ``value`` is on the wrong side; once firing, the resolve line applies.

    Args:
        limits: The direction (and default lines).
        value: The number to judge.
        firing: Whether the alert fires now.
        target: A target that overrides the rule's (a scheduled target).
        resolve: A resolve line that overrides the rule's.
    """
    line = limits.target if target is None else target
    back = limits.resolve if target is None else resolve
    if firing and back is not None:
        line = back
    return value < line if limits.below is not None else value > line
