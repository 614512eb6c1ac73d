"""The rule test file format: the models a rule test file (YAML) is validated against.

A rule test file names the rule files under test and its scenarios: a
start, a timeline of events, the alerts expected at given instants. These
models are its schema (``rule-tests.schema.json`` is generated from
``RuleTestFile``); ``rules.simulation`` runs the scenarios.
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

__all__ = ["Expectation", "RuleTestCase", "RuleTestFile", "TimelineEvent"]


class TimelineEvent(BaseModel):
    """An event delivered at ``at``; ``occurred_at`` defaults to it, ids are made up if missing."""

    model_config = ConfigDict(extra="forbid")

    at: AwareDatetime
    task: dict[str, Any] | None = None
    indicator: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one(self) -> Self:
        if (self.task is None) == (self.indicator is None):
            raise ValueError("each timeline entry has exactly one of 'task' or 'indicator'")
        return self


class Expectation(BaseModel):
    """At ``at``: these alerts are firing (``[]``: none is), these are not, and these have resolved so far."""

    model_config = ConfigDict(extra="forbid")

    at: AwareDatetime
    firing: list[dict[str, str]] | None = None
    absent: list[dict[str, str]] | None = None
    resolved: list[dict[str, str]] | None = None


class RuleTestCase(BaseModel):
    """One scenario."""

    model_config = ConfigDict(extra="forbid")

    name: str
    start: AwareDatetime
    events: list[TimelineEvent] = Field(default_factory=list)
    expect: list[Expectation] = Field(min_length=1)


class RuleTestFile(BaseModel):
    """A rule test file: the rule files under test (relative to it) and the scenarios."""

    model_config = ConfigDict(extra="forbid")

    rule_files: list[str] = Field(min_length=1)
    tests: list[RuleTestCase] = Field(min_length=1)
