"""Errors raised while loading or checking rules."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["RuleError", "RuleFileError", "RuleProblem"]


class RuleError(Exception):
    """Root of every error the ``rules`` package raises."""


@dataclass(frozen=True, slots=True)
class RuleProblem:
    """One mistake in a rule file: where it is and what is allowed instead."""

    path: Path
    line: int | None
    rule_id: str | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        rule = f" rule '{self.rule_id}'" if self.rule_id else ""
        return f"{where}:{rule} field '{self.field}': {self.message}"


class RuleFileError(RuleError):
    """A rule file (or several) could not be loaded; ``problems`` lists every mistake."""

    def __init__(self, problems: list[RuleProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
