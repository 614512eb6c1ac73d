"""Staleness rules: a unit must keep reporting; silence longer than ``max_age`` is itself a breach."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Self

from pydantic import AwareDatetime, ConfigDict, Field, model_validator

from rules.language.base import STALE, Condition, RuleBase
from rules.language.durations import Duration, format_duration

__all__ = ["StalenessRule", "evaluate_staleness", "next_staleness_change"]


class StalenessRule(RuleBase):
    """No report of ``indicator`` (``*``: of each indicator; absent: any event of the unit) for ``max_age``.

    With a ``roster``, units that never reported are stale from ``start``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    kind: Literal["staleness"]
    indicator: str | None = Field(default=None, description="Indicator name, '*' for each, or absent for any event.")
    max_age: Duration = Field(description="Longest silence allowed, e.g. 30d.")
    roster: str | list[str] | None = Field(
        default=None, description="Roster file (relative to this file): every unit listed is expected."
    )
    start: AwareDatetime | None = Field(
        default=None, description="From when rostered units that never reported are stale."
    )

    @model_validator(mode="after")
    def _roster_needs_start(self) -> Self:
        if self.roster is not None and self.start is None:
            raise ValueError(
                "a staleness rule with a 'roster' needs 'start': from when a unit that never reported is stale"
            )
        if self.max_age.total_seconds() <= 0:
            raise ValueError("max_age must be longer than 0s")
        return self


def _expected_from(rule: StalenessRule, since: datetime | None) -> datetime | None:
    """From when a subject never heard of is stale: the rule's start, or the unit's own when it was formed later."""
    if rule.start is None or since is None:
        return rule.start
    return max(rule.start, since)


def evaluate_staleness(
    rule: StalenessRule, last: datetime | None, now: datetime, since: datetime | None = None
) -> Condition | None:
    """Whether a subject last heard of at ``last`` (``None``: never) is stale at ``now``.

    ``since``: when the unit came to exist, if after the rule's ``start`` (a commune formed in 2025).
    """
    details = {"max_age": format_duration(rule.max_age)}
    if last is None:
        start = _expected_from(rule, since)
        if start is None or now < start:
            return None
        return Condition(STALE, rule.severity, since=start, details={**details, "last_report": "never"})
    stale_at = last + rule.max_age
    if now < stale_at:
        return None
    age_days = (now - last).total_seconds() / 86400
    return Condition(
        STALE,
        rule.severity,
        since=stale_at,
        value=round(age_days, 3),
        details={**details, "last_report": last.isoformat()},
    )


def next_staleness_change(
    rule: StalenessRule, last: datetime | None, now: datetime, since: datetime | None = None
) -> datetime | None:
    """When the subject turns stale, if that is still ahead (``since`` as for ``evaluate_staleness``)."""
    at = (_expected_from(rule, since) if rule.roster is not None else None) if last is None else last + rule.max_age
    return at if at is not None and at > now else None
