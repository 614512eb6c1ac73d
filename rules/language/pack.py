"""Rule files and the compiled rule pack the engine runs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Annotated, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from events.models import Event, IndicatorEvent
from rules.language.aggregate import AggregateRule
from rules.language.calendar import WorkCalendar
from rules.language.deadline import DeadlineClock, DeadlineRule
from rules.language.matchers import Matcher
from rules.language.roster import Roster
from rules.language.staleness import StalenessRule
from rules.language.threshold import ThresholdRule
from rules.state import IndicatorState, TaskState
from rules.units import UnitRegistry

__all__ = [
    "AnyRule",
    "CompiledRule",
    "IndicatorBounds",
    "Lifetime",
    "Rule",
    "RuleFile",
    "RuleGroup",
    "RulePack",
    "roster_members",
]

AnyRule = DeadlineRule | ThresholdRule | StalenessRule | AggregateRule
#: The registry of rule kinds: a discriminated union on ``kind``.
Rule = Annotated[AnyRule, Field(discriminator="kind")]


#: A rule group's time zone unless it names one: Vietnam's.
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone '{name}'; use an IANA name such as Asia/Ho_Chi_Minh") from exc
    return name


class RuleGroup(BaseModel):
    """Rules that share a name, a time zone and a working-day calendar."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    timezone: Annotated[str, AfterValidator(_check_timezone)] = DEFAULT_TIMEZONE
    non_working_days: list[date] = Field(default_factory=list, description="Extra days off besides public holidays.")
    working_days: list[date] = Field(default_factory=list, description="Weekend days worked (compensatory).")
    rules: list[Rule] = Field(default_factory=list)


class IndicatorBounds(BaseModel):
    """The values an indicator can take (a ratio: ``min: 0, max: 1``); a report outside them is refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min: float | None = Field(default=None, allow_inf_nan=False, description="Smallest value allowed.")
    max: float | None = Field(default=None, allow_inf_nan=False, description="Largest value allowed.")
    description: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g}) is above max ({self.max:g})")
        return self

    def refusal(self, indicator: str, value: float) -> str | None:
        """Why ``value`` cannot be a value of ``indicator``, or ``None`` when it can."""
        if (self.min is None or value >= self.min) and (self.max is None or value <= self.max):
            return None
        low = "-inf" if self.min is None else f"{self.min:g}"
        high = "inf" if self.max is None else f"{self.max:g}"
        return f"indicator '{indicator}': value {value:g} is outside its bounds [{low}, {high}] declared in the rules"


class RuleFile(BaseModel):
    """One YAML rule file: a list of groups, and the bounds of the indicators it knows."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    groups: list[RuleGroup] = Field(min_length=1)
    indicators: dict[Annotated[str, Field(min_length=1)], IndicatorBounds] = Field(
        default_factory=dict, description="Indicator name → the values it can take (ratios: min 0, max 1)."
    )


#: When a unit exists: from, until (``None``: unbounded).
Lifetime = tuple[datetime | None, datetime | None]


def roster_members(
    rule: AnyRule, rosters: list[Roster], units: UnitRegistry
) -> tuple[frozenset[str], dict[str, Lifetime]]:
    """The units a roster rule expects, and the lifetime of those that do not exist forever.

    A roster deadline expects the units in force at its due instant (the 20/7/2024 plan: the 63 provinces of
    2024); a staleness rule those that exist at some time from its ``start``, each while it exists. A unit the
    registry does not know exists forever.
    """
    instant = rule.due if isinstance(rule, DeadlineRule) else getattr(rule, "start", None)
    chosen: dict[str, None] = {}
    for roster in rosters:
        if roster.select is not None:
            chosen.update(dict.fromkeys(units.select(roster.select.level, roster.select.parent)))
        else:
            chosen.update(dict.fromkeys(u.id for u in roster.units))
    members: list[str] = []
    lifetimes: dict[str, Lifetime] = {}
    for unit_id in chosen:
        unit = units.get(unit_id)
        if unit is None or (unit.start is None and unit.end is None):
            members.append(unit_id)
            continue
        if instant is not None:
            if isinstance(rule, DeadlineRule) and not unit.alive(instant):
                continue
            if unit.end is not None and unit.end <= instant:
                continue
        members.append(unit_id)
        lifetimes[unit_id] = (unit.start, unit.end)
    return frozenset(members), lifetimes


#: Task kinds whose rules ``RulePack.task_rules_for`` keeps at once.
_KINDS_KEPT = 4096


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule bound to its group's time zone and calendar, its roster resolved, with a version."""

    rule: AnyRule
    group: str
    calendar: WorkCalendar
    version: str
    roster: frozenset[str] | None = None
    #: The roster's units that do not exist forever, and when they exist (``roster_members``).
    lifetimes: Mapping[str, Lifetime] = field(default_factory=dict)
    #: A deadline rule's stages, remembered per due instant (``None`` for other rules).
    clock: DeadlineClock | None = field(init=False, default=None, compare=False, repr=False)
    #: The rule's one matcher when it selects by a task's kind alone (``select: {kind: …}``), else ``None``.
    kind_alone: Matcher | None = field(init=False, default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.rule, DeadlineRule):
            object.__setattr__(self, "clock", DeadlineClock(self.rule, self.calendar))
        if self.rule.select.keys() == {"kind"}:
            object.__setattr__(self, "kind_alone", self.rule.select["kind"])

    def selects_task(self, task: TaskState, unit_id: str) -> bool:
        """``rule.selects`` of the task's fields and labels (its kind alone, without them, when that is all it tests)."""
        kind_alone = self.kind_alone
        if kind_alone is not None:  # a task's fields always name its kind: its labels are never asked
            return kind_alone.matches(task.kind)
        return self.rule.selects(task.fields(unit_id), task.labels)

    @property
    def tz(self) -> ZoneInfo:
        """The group's time zone."""
        return self.calendar.tz

    @classmethod
    def compile(
        cls, rule: AnyRule, group: RuleGroup, rosters: list[Roster] | None = None, units: UnitRegistry | None = None
    ) -> CompiledRule:
        """Bind ``rule`` to ``group`` (and its rosters, read against ``units``) and hash the definition into a version."""
        members, lifetimes = roster_members(rule, rosters, units or UnitRegistry.empty()) if rosters else (None, {})
        canonical = json.dumps(
            {
                "group": group.model_dump(mode="json", exclude={"rules"}),
                "rule": rule.model_dump(mode="json", by_alias=True),
                "roster": sorted(members) if members is not None else None,
            }
            | ({"lifetimes": {u: [str(a), str(b)] for u, (a, b) in sorted(lifetimes.items())}} if lifetimes else {}),
            sort_keys=True,
            ensure_ascii=False,
        )
        version = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]
        calendar = WorkCalendar.of(ZoneInfo(group.timezone), group.non_working_days, group.working_days)
        return cls(rule, group.name, calendar, version, members, lifetimes)

    def covers(self, unit_id: str, at: datetime | None = None) -> bool:
        """Whether the rule applies to ``unit_id`` (any unit, unless it has a roster), at ``at`` if given.

        A unit of the roster that does not exist at ``at`` (it was merged into another, or is yet to be formed)
        is not expected then.
        """
        if self.roster is None:
            return True
        if unit_id not in self.roster:
            return False
        life = self.lifetimes.get(unit_id) if at is not None else None
        return life is None or ((life[0] is None or life[0] <= at) and (life[1] is None or at < life[1]))  # type: ignore[operator]

    def life_change(self, unit_id: str, now: datetime) -> datetime | None:
        """When the unit next begins or ends existing, if that is after ``now`` (the rule's view of it changes)."""
        life = self.lifetimes.get(unit_id)
        if life is None:
            return None
        ahead = [at for at in life if at is not None and at > now]
        return min(ahead) if ahead else None

    def judges_indicator(self, unit_id: str, name: str, report: IndicatorState | None) -> bool:
        """Whether the rule judges indicator ``name`` of ``unit_id``.

        The one question the engine, the review report and the console ask of
        an indicator rule. It covers the unit, watches the indicator (or every one: ``*``) and
        selects the latest ``report``'s fields and labels (the indicator's name
        and the unit's id when no report came yet).
        """
        if not self.covers(unit_id) or getattr(self.rule, "indicator", None) not in ("*", name):
            return False
        if report is None:
            return self.rule.selects({"indicator": name, "unit_id": unit_id}, {})
        return self.rule.selects(report.fields(unit_id), report.labels)


@dataclass(frozen=True)
class RulePack:
    """All rules a worker evaluates, indexed by what they are about."""

    rules: tuple[CompiledRule, ...]
    #: Every unit the pack knows: its registry files, tables and rosters.
    units: UnitRegistry = field(default_factory=UnitRegistry.empty)
    indicator_bounds: Mapping[str, IndicatorBounds] = field(default_factory=dict)
    #: The rosters the rules name, each once, in the order the rules first name them (units in file order).
    rosters: tuple[Roster, ...] = ()

    def refusal(self, event: Event) -> str | None:
        """Why the rules refuse ``event`` (an indicator value outside its declared bounds), or ``None``."""
        if not isinstance(event, IndicatorEvent) or not self.indicator_bounds:
            return None
        bounds = self.indicator_bounds.get(event.indicator)
        if bounds is None:
            return None
        return bounds.refusal(event.indicator, event.number)

    @property
    def tz(self) -> ZoneInfo:
        """The time zone the pack counts days in: its first rule's group's (a group's default without a rule)."""
        return self.rules[0].tz if self.rules else ZoneInfo(DEFAULT_TIMEZONE)

    @cached_property
    def unit_names(self) -> Mapping[str, str]:
        """Unit id → its current name, for every unit the pack knows."""
        return {unit_id: unit.name for unit_id, unit in self.units.units.items()}

    @cached_property
    def version(self) -> str:
        """Changes whenever any rule (or its group, calendar or roster), a unit or an indicator's bounds do."""
        parts = sorted(f"{r.rule.id}={r.version}" for r in self.rules)
        parts.append(f"units={self.units.digest}")
        parts += sorted(f"bounds {name}={b.model_dump_json()}" for name, b in self.indicator_bounds.items())
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]

    def rule_version(self, compiled: CompiledRule | None) -> str:
        """What an alert record says it was evaluated under: ``PACK/RULE`` (``PACK/`` for a rule the pack lacks)."""
        return f"{self.version}/{compiled.version if compiled is not None else ''}"

    @cached_property
    def known_kinds(self) -> frozenset[str]:
        """The task kinds a rule names (``select: {kind: …}``), and ``task``, the kind of a task that gives none."""
        kinds = {"task"}
        for compiled in self.rules:
            matcher = compiled.rule.select.get("kind")
            if matcher is not None and matcher.op in ("=", "in"):
                kinds.update((matcher.value,) if isinstance(matcher.value, str) else matcher.value)
        return frozenset(kinds)

    def selected_kind(self, rule_id: str) -> str:
        """The task kind a rule selects (``select: {kind: …}``); ``task``, the default kind, when it fixes none."""
        compiled = self.by_id(rule_id)
        matcher = compiled.rule.select.get("kind") if compiled is not None else None
        return str(matcher.value) if matcher is not None and matcher.op == "=" else "task"

    @cached_property
    def known_indicators(self) -> frozenset[str]:
        """The indicators a rule names or whose bounds the pack declares (``*``, "every indicator", is not a name)."""
        named = {name for r in self.rules if isinstance(name := getattr(r.rule, "indicator", None), str)}
        return frozenset((named | set(self.indicator_bounds)) - {"*"})

    @cached_property
    def task_rules(self) -> tuple[CompiledRule, ...]:
        """Per-task deadline rules."""
        return tuple(r for r in self.rules if isinstance(r.rule, DeadlineRule) and r.rule.roster is None)

    @cached_property
    def task_rules_by_kind(self) -> dict[str | None, tuple[CompiledRule, ...]]:
        """Per-task rules by the task kind they select (``None``: rules that do not fix the kind)."""
        index: dict[str | None, list[CompiledRule]] = {}
        for compiled in self.task_rules:
            matcher = compiled.rule.select.get("kind")
            key = str(matcher.value) if matcher is not None and matcher.op == "=" else None
            index.setdefault(key, []).append(compiled)
        return {k: tuple(v) for k, v in index.items()}

    def task_rules_for(self, kind: str) -> tuple[CompiledRule, ...]:
        """The per-task rules that may select a task of ``kind`` (asked for every task event: kept per kind)."""
        found = self._task_rules_for.get(kind)
        if found is None:
            index = self.task_rules_by_kind
            found = index.get(kind, ()) + index.get(None, ())
            if len(self._task_rules_for) >= _KINDS_KEPT:  # kinds come from events: a bound, whatever they send
                self._task_rules_for.clear()
            self._task_rules_for[kind] = found
        return found

    @cached_property
    def _task_rules_for(self) -> dict[str, tuple[CompiledRule, ...]]:
        return {}

    @cached_property
    def indicator_rules(self) -> tuple[CompiledRule, ...]:
        """Thresholds and per-indicator staleness rules."""
        return tuple(
            r
            for r in self.rules
            if isinstance(r.rule, ThresholdRule) or (isinstance(r.rule, StalenessRule) and r.rule.indicator is not None)
        )

    @cached_property
    def _indicator_rules_by_name(self) -> dict[str, tuple[CompiledRule, ...]]:
        """For each indicator a rule names, its rules and those about every indicator (``*``), in pack order."""
        named = {name for r in self.indicator_rules if (name := getattr(r.rule, "indicator", None)) is not None}
        return {
            name: tuple(r for r in self.indicator_rules if getattr(r.rule, "indicator", None) in ("*", name))
            for name in named
        }

    def indicator_rules_for(self, name: str) -> tuple[CompiledRule, ...]:
        """The indicator rules about ``name`` (their own, and those about every indicator, ``*``), in pack order."""
        rules = self._indicator_rules_by_name.get(name)
        return rules if rules is not None else self._indicator_rules_by_name.get("*", ())

    @cached_property
    def unit_rules(self) -> tuple[CompiledRule, ...]:
        """Rules about a unit as a whole: roster deadlines, unit staleness, aggregates."""
        return tuple(
            r
            for r in self.rules
            if (isinstance(r.rule, DeadlineRule) and r.rule.roster is not None)
            or (isinstance(r.rule, StalenessRule) and r.rule.indicator is None)
            or isinstance(r.rule, AggregateRule)
        )

    @cached_property
    def rostered_units(self) -> frozenset[str]:
        """Every unit some rule expects whether or not it reports."""
        return frozenset(unit for r in self.rules if r.roster is not None for unit in r.roster)

    def members(self, roster: Roster) -> frozenset[str]:
        """A roster's units: those it lists, or those of the registry it selects (whenever they existed)."""
        if roster.select is None:
            return roster.ids
        return frozenset(self.units.select(roster.select.level, roster.select.parent))

    @cached_property
    def _by_id(self) -> dict[str, CompiledRule]:
        return {r.rule.id: r for r in self.rules}

    def by_id(self, rule_id: str) -> CompiledRule | None:
        """The rule with this id, if the pack has it."""
        return self._by_id.get(rule_id)

    def unit_name(self, unit_id: str) -> str:
        """The unit's display name, or its id when the pack does not know it."""
        return self.units.name(unit_id)
