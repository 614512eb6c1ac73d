"""Rule files and the compiled rule pack the engine runs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from rules.deadline import DeadlineRule
from rules.threshold import ThresholdRule

__all__ = ["CompiledRule", "Rule", "RuleFile", "RuleGroup", "RulePack"]

#: The registry of rule kinds: a discriminated union on ``kind``.
Rule = Annotated[DeadlineRule | ThresholdRule, Field(discriminator="kind")]


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone '{name}'; use an IANA name such as Asia/Ho_Chi_Minh") from exc
    return name


class RuleGroup(BaseModel):
    """Rules that share a name and a time zone."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    timezone: Annotated[str, AfterValidator(_check_timezone)] = "Asia/Ho_Chi_Minh"
    rules: list[Rule] = Field(default_factory=list)


class RuleFile(BaseModel):
    """One YAML rule file: a list of groups."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    groups: list[RuleGroup] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule bound to its group's time zone, with a version that changes when the rule does."""

    rule: DeadlineRule | ThresholdRule
    group: str
    tz: ZoneInfo
    version: str

    @classmethod
    def compile(cls, rule: DeadlineRule | ThresholdRule, group: RuleGroup) -> CompiledRule:
        """Bind ``rule`` to ``group`` and hash its definition into a version."""
        canonical = json.dumps(
            {"group": group.name, "timezone": group.timezone, "rule": rule.model_dump(mode="json")},
            sort_keys=True,
            ensure_ascii=False,
        )
        version = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]
        return cls(rule=rule, group=group.name, tz=ZoneInfo(group.timezone), version=version)


@dataclass(frozen=True)
class RulePack:
    """All rules a worker evaluates, split by kind for fast dispatch."""

    rules: tuple[CompiledRule, ...]
    unit_names: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_files(cls, files: Iterable[RuleFile], unit_names: Mapping[str, str] | None = None) -> RulePack:
        """Compile every rule of every file, in order."""
        compiled = tuple(
            CompiledRule.compile(rule, group) for file in files for group in file.groups for rule in group.rules
        )
        return cls(rules=compiled, unit_names=dict(unit_names or {}))

    @cached_property
    def deadlines(self) -> tuple[CompiledRule, ...]:
        """Deadline rules."""
        return tuple(r for r in self.rules if isinstance(r.rule, DeadlineRule))

    @cached_property
    def thresholds(self) -> tuple[CompiledRule, ...]:
        """Threshold rules."""
        return tuple(r for r in self.rules if isinstance(r.rule, ThresholdRule))

    def by_id(self, rule_id: str) -> CompiledRule | None:
        """The rule with this id, if the pack has it."""
        return next((r for r in self.rules if r.rule.id == rule_id), None)

    def unit_name(self, unit_id: str) -> str:
        """The unit's display name, or its id when no roster names it."""
        return self.unit_names.get(unit_id, unit_id)
