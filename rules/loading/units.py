"""The unit registry of a pack: read from its registry files and tables, checked, each problem at its line.

A pack's units come from three places, in this order of authority: YAML
registry files (top-level ``registry``), CSV unit tables (``*.csv``), and the
rosters' own entries for units no registry declares (a roster written before
registries keeps working: its units are units that never end). A roster entry
for a declared unit may leave out its name; when it gives one, it must be a
name the unit has or had.

Compiling 13,000 rows costs a fraction of a second, and every pack record a
worker holds would carry its own copy: registries are shared by the content of
their files (``_compiled``), so packs that differ only in rules share one.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from pydantic import ValidationError

from rules.exceptions import RuleProblem
from rules.language import Roster
from rules.loading.sources import SourceError, read_source
from rules.loading.suggest import explain
from rules.units import Level, UnitFile, UnitRegistry, UnitSpec, read_table

__all__ = ["UnitDeclarations"]

#: How many distinct registries (by file content) stay compiled in this process.
_KEPT_REGISTRIES = 4
_compiled: OrderedDict[str, object] = OrderedDict()
#: Unit tables read, by the hash of their text: (line, unit) and (line, unit id, field, message) problems.
_KEPT_TABLES = 16
_tables: OrderedDict[str, object] = OrderedDict()
_Read = tuple[list[tuple[int, UnitSpec]], list[tuple[int, str | None, str, str]]]
T = TypeVar("T")


def _remembered(cache: OrderedDict[str, object], key: str, keep: int, make: Callable[[], T]) -> T:
    """``cache[key]``, made by ``make`` if absent; the ``keep`` most recently used stay."""
    if key in cache:
        cache.move_to_end(key)
    else:
        cache[key] = make()
        while len(cache) > keep:
            cache.popitem(last=False)
    return cast(T, cache[key])


_ROSTER_LEVELS = {"province": Level.PROVINCE, "municipality": Level.PROVINCE, "ministry": Level.MINISTRY}
_ROSTER_LEVELS |= {"agency": Level.MINISTRY, "commune": Level.COMMUNE, "ward": Level.COMMUNE}


@dataclass
class UnitDeclarations:
    """The units declared across a pack's files, with where each was declared."""

    specs: list[UnitSpec] = field(default_factory=list)
    where: dict[str, list[tuple[Path, int | None]]] = field(default_factory=dict)
    problems: list[RuleProblem] = field(default_factory=list)
    _digest: Any = field(default_factory=hashlib.sha256)

    def _declare(self, spec: UnitSpec, path: Path, line: int | None) -> None:
        self.specs.append(spec)
        self.where.setdefault(spec.id, []).append((path, line))

    def add_file(self, path: Path, registry: UnitFile, line_of: dict[int, int | None]) -> None:
        """Add a validated YAML registry file (``line_of``: the line of each unit, by index)."""
        self._digest.update(f"{path.name}\0{registry.model_dump_json()}\0".encode())
        for index, spec in enumerate(registry.units):
            self._declare(spec, path, line_of.get(index))

    def add_table(self, path: Path) -> None:
        """Add a CSV unit table; each bad row is a problem at its line, the others are kept."""
        try:
            text = read_source(path)
        except SourceError as exc:
            self.problems.append(RuleProblem(path, exc.line, None, "(file)", exc.message))
            return
        digest = hashlib.sha256(text.encode()).hexdigest()
        self._digest.update(f"{path.name}\0{digest}\0".encode())
        specs, problems = _remembered(_tables, digest, _KEPT_TABLES, lambda: _read_table(text))
        self.problems += [RuleProblem(path, line, unit, where, message) for line, unit, where, message in problems]
        for line, spec in specs:
            self._declare(spec, path, line)

    def compile(self, rosters: Iterable[tuple[Path, Roster, dict[int, int | None]]]) -> UnitRegistry:
        """The registry: declared units, then roster units no registry declares; its problems added here."""
        rosters = list(rosters)
        declared = {spec.id for spec in self.specs}
        extra: dict[str, UnitSpec] = {}
        for path, roster, lines in rosters:
            for index, unit in enumerate(roster.units):
                if unit.id in declared or unit.id in extra:
                    continue
                if unit.name is None:
                    message = f"unit '{unit.id}' is not declared in the pack's unit registry; give its name"
                    self.problems.append(RuleProblem(path, lines.get(index), None, f"units.{index}.name", message))
                    continue
                level = _ROSTER_LEVELS.get(unit.kind or "", Level.OTHER)
                extra[unit.id] = UnitSpec(id=unit.id, name=unit.name, level=level, kind=unit.kind)
                self.where.setdefault(unit.id, []).append((path, lines.get(index)))
                self._digest.update(f"{unit.id}\0{unit.name}\0{unit.kind}\0".encode())
        key = self._digest.hexdigest()
        specs = [*self.specs, *extra.values()]
        registry = _remembered(_compiled, key, _KEPT_REGISTRIES, lambda: UnitRegistry.of(specs))
        for problem in registry.problems:
            places = self.where.get(problem.unit) or [(Path("(registry)"), None)]
            path, line = places[-1] if problem.field == "id" else places[0]
            self.problems.append(
                RuleProblem(path, line, None, f"units.{problem.unit}.{problem.field}", problem.message)
            )
        for path, roster, lines in rosters:
            self._check_names(path, roster, lines, registry)
        return registry

    def _check_names(self, path: Path, roster: Roster, lines: dict[int, int | None], registry: UnitRegistry) -> None:
        for index, unit in enumerate(roster.units):
            known = registry.get(unit.id)
            if unit.name is None or known is None or unit.name == known.name:
                continue
            if unit.name not in {name for name, _ in known.former_names}:
                message = f"unit '{unit.id}' is '{known.name}' in the unit registry, not '{unit.name}'"
                self.problems.append(RuleProblem(path, lines.get(index), None, f"units.{index}.name", message))


def _read_table(text: str) -> _Read:
    """A table's units and problems, validated row by row (a bad row loses only itself)."""
    rows, read_problems = read_table(text)
    problems: list[tuple[int, str | None, str, str]] = [(line, None, where, why) for line, where, why in read_problems]
    specs: list[tuple[int, UnitSpec]] = []
    validate = UnitSpec.model_validate
    for row in rows:
        try:
            specs.append((row.line, validate(row.data)))
        except ValidationError as exc:
            for err in exc.errors():
                column = ".".join(str(p) for p in err["loc"]) or "(row)"
                problems.append((row.line, row.data.get("id"), column, explain(UnitSpec, err)))
    return specs, problems
