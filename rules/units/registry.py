"""The unit registry compiled: which unit a code meant at an instant, which units were in force, lineage.

Pure and immutable: built once from the registry files (``UnitRegistry.of``),
asked on the hot path (``resolve``, a dictionary lookup and an interval test
for a code that names a unit in force), and by rosters, reports and the
console (``in_force``, ``select``, ``successors``, ``predecessors``).
``problems`` names every inconsistency a registry can have: a parent or
successor that is not declared, a cycle, a code naming two units at once, a
unit whose parent or successor does not exist when it must.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import cached_property
from zoneinfo import ZoneInfo

from rules.units.model import CodeKind, Level, UnitSpec

__all__ = ["Refused", "Resolved", "Unit", "UnitProblem", "UnitRegistry"]

#: Answers of ``in_force`` kept (per span between unit changes, level and parent): one per province and level.
_IN_FORCE_KEPT = 512
#: Answers of ``resolve`` kept (per code and span between code or unit changes): every code of a registry, twice.
_RESOLVED_KEPT = 65_536
#: Not yet asked (``None`` is an answer: a code no unit has).
_UNSEEN = object()
#: The registry's dates are days in this time zone unless it is told otherwise.
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"


@dataclass(frozen=True, slots=True)
class Unit:
    """A unit as the registry holds it: its dates are instants (local midnight), ``None`` for unbounded."""

    id: str
    name: str
    level: Level
    kind: str | None
    parent: str | None
    start: datetime | None
    end: datetime | None
    merged_into: tuple[str, ...] = ()
    #: (name, until): the names it had before its current one, oldest first.
    former_names: tuple[tuple[str, datetime], ...] = ()

    def alive(self, at: datetime) -> bool:
        """Whether the unit exists at ``at``."""
        return (self.start is None or self.start <= at) and (self.end is None or at < self.end)

    def overlaps(self, start: datetime | None, end: datetime | None) -> bool:
        """Whether the unit exists at some instant of ``[start, end)`` (``None``: unbounded)."""
        return (self.start is None or end is None or self.start < end) and (
            self.end is None or start is None or start < self.end
        )

    def name_at(self, at: datetime | None) -> str:
        """Its name at ``at`` (its current one when ``None``)."""
        if at is not None:
            for name, until in self.former_names:
                if at < until:
                    return name
        return self.name


@dataclass(frozen=True, slots=True)
class _Claim:
    """A code naming a unit over ``[start, end)``."""

    unit: str
    kind: CodeKind
    start: datetime | None
    end: datetime | None

    def covers(self, at: datetime) -> bool:
        return (self.start is None or self.start <= at) and (self.end is None or at < self.end)


@dataclass(frozen=True, slots=True)
class Resolved:
    """Where an event naming a unit by ``code`` at an instant belongs.

    ``unit`` is the unit it is applied to; ``named`` the unit the code meant (``unit`` itself, or a
    predecessor merged into it by then); ``former`` says the code was no longer in use at that instant.
    """

    unit: str
    code: str
    kind: CodeKind
    named: str
    former: bool = False

    @property
    def through_lineage(self) -> bool:
        """The code named a unit that had been merged into ``unit`` by then."""
        return self.named != self.unit


@dataclass(frozen=True, slots=True)
class Refused:
    """An event naming a unit that did not exist at its instant and has no single successor."""

    reason: str


@dataclass(frozen=True, slots=True)
class UnitProblem:
    """One inconsistency of a registry: the unit, the field, and what is wrong."""

    unit: str
    field: str
    message: str


def _day(value: date | None, tz: ZoneInfo) -> datetime | None:
    return None if value is None else datetime.combine(value, time(), tz)


def _local_day(at: datetime, tz: ZoneInfo) -> date:
    return at.astimezone(tz).date()


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def _earlier(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


@dataclass(frozen=True)
class UnitRegistry:
    """Every unit and every code, compiled for lookups."""

    units: Mapping[str, Unit]
    tz: ZoneInfo
    #: Changes whenever a unit, a code or a date does (part of the pack's version).
    digest: str
    _claims: Mapping[str, tuple[_Claim, ...]] = field(repr=False)
    _children: Mapping[str, tuple[str, ...]] = field(repr=False)
    _merged_from: Mapping[str, tuple[str, ...]] = field(repr=False)
    #: Ids declared more than once (each extra declaration once): ``problems`` names them.
    _declared_again: tuple[str, ...] = field(repr=False)

    @classmethod
    def of(cls, specs: Iterable[UnitSpec], timezone: str = DEFAULT_TIMEZONE) -> UnitRegistry:
        """Compile declared units (an id declared twice keeps its first declaration; ``problems`` names it)."""
        tz = ZoneInfo(timezone)
        specs = tuple(specs)
        days: dict[date | None, datetime | None] = {None: None}

        def day(value: date | None) -> datetime | None:
            found = days.get(value, days)
            if found is days:
                found = days[value] = _day(value, tz)
            return found  # type: ignore[return-value]

        units: dict[str, Unit] = {}
        claims: dict[str, list[_Claim]] = {}
        children: dict[str, list[str]] = {}
        merged_from: dict[str, list[str]] = {}
        digest = hashlib.sha256(timezone.encode())
        again: list[str] = []
        for spec in specs:
            if spec.id in units:
                again.append(spec.id)
                continue
            start, end = day(spec.valid_from), day(spec.until)
            former = tuple((n.name, _day(n.until, tz)) for n in sorted(spec.former_names, key=lambda n: n.until))
            merged_into = tuple(spec.merged_into)
            units[spec.id] = Unit(
                spec.id,
                spec.name,
                spec.level,
                spec.kind,
                spec.parent,
                start,
                end,
                merged_into,
                former,  # type: ignore[arg-type]
            )
            claims.setdefault(spec.id, []).append(_Claim(spec.id, CodeKind.ID, start, end))
            codes = spec.all_codes()
            for code, kind, valid_from, until in codes:
                if code == spec.id:
                    continue
                own_start = _later(start, day(valid_from))
                own_end = _earlier(end, day(until))
                claims.setdefault(code, []).append(_Claim(spec.id, kind, own_start, own_end))
            if spec.parent is not None:
                children.setdefault(spec.parent, []).append(spec.id)
            for successor in merged_into:
                merged_from.setdefault(successor, []).append(spec.id)
            digest.update(
                f"{spec.id}\0{spec.name}\0{spec.level}\0{spec.kind}\0{spec.parent}\0{spec.valid_from}\0{spec.until}"
                f"\0{merged_into}\0{spec.former_names}\0{codes}\n".encode()
            )
        return cls(
            units=units,
            tz=tz,
            digest=digest.hexdigest()[:12],
            _claims={code: tuple(found) for code, found in claims.items()},
            _children={k: tuple(v) for k, v in children.items()},
            _merged_from={k: tuple(v) for k, v in merged_from.items()},
            _declared_again=tuple(again),
        )

    @classmethod
    def empty(cls) -> UnitRegistry:
        """A registry that knows no unit: every code is taken as it comes."""
        return cls.of(())

    def __len__(self) -> int:
        return len(self.units)

    def __contains__(self, unit_id: object) -> bool:
        return unit_id in self.units

    def get(self, unit_id: str) -> Unit | None:
        """The unit with this id, if declared."""
        return self.units.get(unit_id)

    def name(self, unit_id: str, at: datetime | None = None) -> str:
        """The unit's name (at ``at``), or its id when the registry does not declare it."""
        unit = self.units.get(unit_id)
        return unit.name_at(at) if unit is not None else unit_id

    def resolve(self, code: str, at: datetime) -> Resolved | Refused | None:
        """The unit an event naming ``code`` at ``at`` belongs to.

        The code means the unit it named at ``at`` (or, if no longer in use then, the unit it last named); a unit
        merged into another by ``at`` is followed to its successor. ``None``: no unit has or had this code (the
        event keeps it as its unit id); ``Refused``: the code named no unit yet, or a unit that had ended at ``at``
        without a single successor.

        Asked for every event: the answer is the same between two instants at which a code or a unit begins or
        ends, so it is kept per such span (a refusal, whose reason names the event's day, is not kept).
        """
        key = (code, bisect.bisect_right(self._code_changes, at))
        found = self._resolved.get(key, _UNSEEN)
        if found is _UNSEEN:
            found = self._resolve(code, at)
            if not isinstance(found, Refused):
                if len(self._resolved) >= _RESOLVED_KEPT:
                    self._resolved.clear()
                self._resolved[key] = found
        return found  # type: ignore[return-value]

    @cached_property
    def _code_changes(self) -> list[datetime]:
        """Every instant some code or unit begins or ends, in order: between two, ``resolve`` answers alike."""
        claimed = {at for found in self._claims.values() for c in found for at in (c.start, c.end) if at is not None}
        return sorted(claimed.union(self._changes))

    @cached_property
    def _resolved(self) -> dict[tuple[str, int], Resolved | None]:
        return {}

    def _resolve(self, code: str, at: datetime) -> Resolved | Refused | None:
        claims = self._claims.get(code)
        if claims is None:
            return None
        claim = None
        for candidate in claims:
            if candidate.covers(at):
                claim = candidate
                break
        former = claim is None
        if claim is None:
            ended = [c for c in claims if c.end is not None and c.end <= at]
            if not ended:
                first = min(claims, key=lambda c: c.start or at)
                return Refused(
                    f"unit code '{code}' names {self._label(first.unit)} only from "
                    f"{_local_day(first.start or at, self.tz)}; on {_local_day(at, self.tz)} it named no unit"
                )
            claim = max(ended, key=lambda c: c.end or at)
        unit = self.units[claim.unit]
        if unit.alive(at):
            return Resolved(unit.id, code, claim.kind, unit.id, former)
        if unit.start is not None and at < unit.start:
            return Refused(f"{self._label(unit.id)} exists only from {_local_day(unit.start, self.tz)}")
        successors = self.successors(unit.id, at)
        ended_on = _local_day(unit.end, self.tz) if unit.end is not None else None
        if len(successors) == 1:
            return Resolved(successors[0], code, claim.kind, unit.id, True)
        if not successors:
            return Refused(f"{self._label(unit.id)} ceased to exist on {ended_on} and has no successor")
        parts = ", ".join(self._label(s) for s in successors)
        return Refused(
            f"{self._label(unit.id)} was split on {ended_on} among {parts}; report under the new unit's code"
        )

    def _label(self, unit_id: str) -> str:
        return f"{self.name(unit_id)} ({unit_id})"

    def successors(self, unit_id: str, at: datetime) -> tuple[str, ...]:
        """The units in force at ``at`` that ``unit_id`` became (itself, if still in force), in declared order."""
        found: list[str] = []
        seen: set[str] = set()
        pending = [unit_id]
        while pending:
            current = pending.pop(0)
            if current in seen:
                continue
            seen.add(current)
            unit = self.units.get(current)
            if unit is None:
                continue
            if unit.alive(at):
                found.append(current)
            elif unit.end is not None and unit.end <= at:
                pending.extend(unit.merged_into)
        return tuple(found)

    def predecessors(self, unit_id: str) -> tuple[str, ...]:
        """Every unit whose lineage leads into ``unit_id`` (merged, or split, into it), nearest first."""
        found: list[str] = []
        seen = {unit_id}
        pending = list(self._merged_from.get(unit_id, ()))
        while pending:
            current = pending.pop(0)
            if current in seen:
                continue
            seen.add(current)
            found.append(current)
            pending.extend(self._merged_from.get(current, ()))
        return tuple(found)

    def merged_whole(self, predecessor: str) -> bool:
        """Whether the predecessor went whole into one unit (a merger), not split among several."""
        unit = self.units.get(predecessor)
        return unit is not None and len(unit.merged_into) == 1

    def in_force(self, at: datetime, level: Level | None = None, parent: str | None = None) -> list[Unit]:
        """The units that exist at ``at`` (of ``level``, under ``parent``), in declared order.

        The answer is the same between two instants at which some unit begins or ends: it is kept per such
        span, so the console's lists (3,321 communes of 13,444 units) do not walk the registry on each request.
        """
        span = bisect.bisect_right(self._changes, at)
        key = (span, level, parent)
        found = self._in_force.get(key)
        if found is None:
            pool: Iterable[Unit] = (
                (self.units[c] for c in self._children.get(parent, ())) if parent is not None else self.units.values()
            )
            found = tuple(u for u in pool if u.alive(at) and (level is None or u.level is level))
            if len(self._in_force) >= _IN_FORCE_KEPT:
                self._in_force.clear()
            self._in_force[key] = found
        return list(found)

    @cached_property
    def _changes(self) -> list[datetime]:
        """Every instant some unit begins or ends, in order."""
        return sorted({at for u in self.units.values() for at in (u.start, u.end) if at is not None})

    @cached_property
    def _in_force(self) -> dict[tuple[int, Level | None, str | None], tuple[Unit, ...]]:
        return {}

    def select(self, level: Level | None = None, parent: str | None = None) -> list[str]:
        """The ids of the units of ``level`` under ``parent`` (either may be ``None``), whenever they existed."""
        pool = (self.units[c] for c in self._children.get(parent, ())) if parent is not None else self.units.values()
        return [u.id for u in pool if level is None or u.level is level]

    @cached_property
    def problems(self) -> tuple[UnitProblem, ...]:
        """Every inconsistency: ids declared twice, dangling or cyclic references, codes naming two units at once."""
        return tuple(self._problems())

    def _problems(self) -> Iterator[UnitProblem]:
        for unit_id in self._declared_again:
            yield UnitProblem(unit_id, "id", f"unit '{unit_id}' is declared twice")
        for unit in self.units.values():
            yield from self._references(unit)
        yield from self._cycles()
        for code, claims in self._claims.items():
            for i, a in enumerate(claims):
                for b in claims[i + 1 :]:
                    if (a.start is None or b.end is None or a.start < b.end) and (
                        b.start is None or a.end is None or b.start < a.end
                    ):
                        whom = f"'{a.unit}'" if a.unit == b.unit else f"both '{a.unit}' and '{b.unit}'"
                        yield UnitProblem(
                            b.unit, "codes", f"code '{code}' names {whom} at the same time{self._span(a, b)}"
                        )

    def _span(self, a: _Claim, b: _Claim) -> str:
        start, end = _later(a.start, b.start), _earlier(a.end, b.end)
        if start is None and end is None:
            return ""
        since = f" from {_local_day(start, self.tz)}" if start is not None else ""
        until = f" until {_local_day(end, self.tz)}" if end is not None else ""
        return f" ({since.strip()}{' ' if since and until else ''}{until.strip()})"

    def _references(self, unit: Unit) -> Iterator[UnitProblem]:
        if unit.parent is not None:
            parent = self.units.get(unit.parent)
            if parent is None:
                yield UnitProblem(unit.id, "parent", f"parent '{unit.parent}' is not declared in the registry")
            elif (parent.start is not None and (unit.start is None or unit.start < parent.start)) or (
                parent.end is not None and (unit.end is None or unit.end > parent.end)
            ):
                yield UnitProblem(
                    unit.id,
                    "parent",
                    f"exists {self._life(unit)} but its parent '{parent.id}' only {self._life(parent)}",
                )
        for successor_id in unit.merged_into:
            successor = self.units.get(successor_id)
            if successor is None:
                yield UnitProblem(unit.id, "merged_into", f"successor '{successor_id}' is not declared in the registry")
            elif unit.end is not None and not successor.alive(unit.end):
                yield UnitProblem(
                    unit.id,
                    "merged_into",
                    f"merged into '{successor_id}' on {_local_day(unit.end, self.tz)}, "
                    f"but '{successor_id}' exists only {self._life(successor)}",
                )

    def _life(self, unit: Unit) -> str:
        since = f"from {_local_day(unit.start, self.tz)}" if unit.start is not None else ""
        until = f"until {_local_day(unit.end, self.tz)}" if unit.end is not None else ""
        return " ".join(p for p in (since, until) if p) or "always"

    def _cycles(self) -> Iterator[UnitProblem]:
        """Each loop of parents, and each loop of successors, once."""
        for what, step in (("parent", _parent), ("merged_into", _merged_into)):
            done: set[str] = set()
            for root in self.units:
                if root in done:
                    continue
                path: list[str] = [root]
                on_path = {root}
                stack = [iter(step(self.units[root]))]
                while stack:
                    nxt = next(stack[-1], None)
                    if nxt is None:
                        stack.pop()
                        finished = path.pop()
                        on_path.discard(finished)
                        done.add(finished)
                    elif nxt in on_path:
                        loop = [*path[path.index(nxt) :], nxt]
                        yield UnitProblem(path[-1], what, f"a cycle: {' → '.join(loop)}")
                    elif nxt not in done and nxt in self.units:
                        path.append(nxt)
                        on_path.add(nxt)
                        stack.append(iter(step(self.units[nxt])))


def _parent(unit: Unit) -> tuple[str, ...]:
    return (unit.parent,) if unit.parent else ()


def _merged_into(unit: Unit) -> tuple[str, ...]:
    return unit.merged_into
