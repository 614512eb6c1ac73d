"""Silences: which alerts are not to be delivered, when, who said so and why. No I/O.

A silence matches alerts by unit, rule, severity and labels (every matcher
given must match) and holds either in one fixed window or on a weekly
schedule in the rule pack's time zone: on the days named (``sun``, …, and
``holiday``: Vietnam's public holidays, as the pack's calendar knows them),
from a local time, for a duration (a window may run past midnight: Sunday
22:00 for 4h ends Monday 02:00). A silenced alert still fires, is still in
the history and the reports, and is shown as silenced; it is not delivered.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Annotated, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from rules.language import Duration, Severity, WorkCalendar

__all__ = ["DAYS", "Silence", "SilenceMatchers", "SilenceRequest", "Weekly", "Window"]

#: The days a weekly schedule may name, Monday first (``date.weekday()`` order), then public holidays.
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOLIDAY = "holiday"
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun", "holiday"]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
_LONGEST_WINDOW = timedelta(days=7)


class SilenceMatchers(BaseModel):
    """Which alerts: every matcher given must match (at least one is given)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    unit_id: str | None = None
    rule_id: str | None = None
    severity: Severity | None = None
    labels: dict[str, str] = Field(default_factory=dict, description="Other labels, each equal to its value.")

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.unit_id is None and self.rule_id is None and self.severity is None and not self.labels:
            raise ValueError("a silence needs at least one matcher: unit_id, rule_id, severity or labels")
        return self

    def match(self, labels: Mapping[str, str]) -> bool:
        """Whether an alert with these labels is matched."""
        wanted = {"unit_id": self.unit_id, "alertname": self.rule_id, "severity": self.severity, **self.labels}
        return all(labels.get(name) == value for name, value in wanted.items() if value is not None)

    def as_label_pairs(self) -> list[tuple[str, str]]:
        """The matchers as label equalities (Alertmanager's matchers)."""
        pairs = [("unit_id", self.unit_id), ("alertname", self.rule_id), ("severity", self.severity)]
        return [(n, v) for n, v in pairs if v is not None] + sorted(self.labels.items())


class Window(BaseModel):
    """One fixed window."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["window"] = "window"
    starts_at: AwareDatetime
    ends_at: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class Weekly(BaseModel):
    """Every week on the days named, from a local time, for a duration (in the rule pack's time zone)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["weekly"] = "weekly"
    days: tuple[Day, ...] = Field(min_length=1, description="mon … sun, and holiday (Vietnam's public holidays).")
    start: time = Field(description="Local time each window begins, e.g. 22:00.")
    duration: Duration = Field(description="How long each window lasts (at most 7 days), e.g. 4h.")
    until: AwareDatetime | None = Field(default=None, description="No window begins at or after this instant.")

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        if not timedelta(0) < self.duration <= _LONGEST_WINDOW:
            raise ValueError("duration must be longer than 0s and at most 7d")
        return self

    def _on(self, day: date, calendar: WorkCalendar) -> bool:
        return DAYS[day.weekday()] in self.days or (_HOLIDAY in self.days and calendar.is_holiday(day))

    def window_at(self, now: datetime, calendar: WorkCalendar) -> tuple[datetime, datetime] | None:
        """The window ``now`` falls in (one begun the days before, running past midnight, too), if any."""
        local = now.astimezone(calendar.tz).date()
        reach = self.duration.days + 1
        for back in range(reach + 1):
            day = local - timedelta(days=back)
            if not self._on(day, calendar):
                continue
            begins = datetime.combine(day, self.start, calendar.tz)
            if self.until is not None and begins >= self.until:
                continue
            if begins <= now < begins + self.duration:
                return begins, begins + self.duration
        return None

    def next_window(self, now: datetime, calendar: WorkCalendar) -> tuple[datetime, datetime] | None:
        """The window ``now`` is in, else the next one to begin (within 400 days), if any."""
        current = self.window_at(now, calendar)
        if current is not None:
            return current
        day = now.astimezone(calendar.tz).date()
        for ahead in range(400):
            candidate = day + timedelta(days=ahead)
            if not self._on(candidate, calendar):
                continue
            begins = datetime.combine(candidate, self.start, calendar.tz)
            if self.until is not None and begins >= self.until:
                return None
            if begins > now:
                return begins, begins + self.duration
        return None


Schedule = Annotated[Window | Weekly, Field(discriminator="kind")]


class SilenceRequest(BaseModel):
    """What a viewer asks for (``POST /api/v1/silences``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    matchers: SilenceMatchers
    schedule: Schedule
    reason: Reason = Field(description="Why, for whoever sees the alert silenced (required).")


class Silence(BaseModel):
    """One silence as the silences topic holds it (the newest record of its id is in force)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
    matchers: SilenceMatchers
    schedule: Schedule
    reason: Reason
    created_by: str = Field(min_length=1, description="The viewer who made it.")
    created_by_name: str
    user: str | None = Field(default=None, description="The person, as the authenticating proxy named them.")
    created_at: AwareDatetime
    expired_at: AwareDatetime | None = Field(default=None, description="Ended early by a viewer, from this instant.")
    expired_by: str | None = None

    @property
    def who(self) -> str:
        """Who made it, in a few words."""
        return f"{self.user} ({self.created_by_name})" if self.user else self.created_by_name

    def window_at(self, now: datetime, calendar: WorkCalendar) -> tuple[datetime, datetime] | None:
        """The window of this silence ``now`` falls in, if any (none once it was expired)."""
        if self.expired_at is not None and now >= self.expired_at:
            return None
        schedule = self.schedule
        if isinstance(schedule, Window):
            inside = schedule.starts_at <= now < schedule.ends_at
            return (schedule.starts_at, schedule.ends_at) if inside else None
        return schedule.window_at(now, calendar)

    def next_window(self, now: datetime, calendar: WorkCalendar) -> tuple[datetime, datetime] | None:
        """The window in force now, else the next one, cut at its expiry; ``None`` when none is left."""
        if self.expired_at is not None and now >= self.expired_at:
            return None
        schedule = self.schedule
        if isinstance(schedule, Window):
            found = (schedule.starts_at, schedule.ends_at) if now < schedule.ends_at else None
        else:
            found = schedule.next_window(now, calendar)
        if found is None or (self.expired_at is not None and found[0] >= self.expired_at):
            return None
        if self.expired_at is not None and found[1] > self.expired_at:
            found = (found[0], self.expired_at)
        return found

    def state(self, now: datetime, calendar: WorkCalendar) -> str:
        """``active`` (silencing now), ``pending`` (a window to come), or ``expired``."""
        if self.window_at(now, calendar) is not None:
            return "active"
        return "pending" if self.next_window(now, calendar) is not None else "expired"
