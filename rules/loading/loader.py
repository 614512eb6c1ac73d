"""Load rule files and rosters from YAML, reporting every mistake with file, line, rule and field.

A directory may hold rule files (top-level ``groups``), rosters (``roster``),
unit registry files (``registry``, and unit tables as ``*.csv``: read by
``rules.loading.units``) and rule tests (``tests``, run by ``monitor rules
test``, skipped here).

The module is a little over the house limit of 400 lines: the YAML reader
that remembers the line of every value (``_Located``, ``Parsed``) stays with
the checks that report at those lines (rule ids, rosters, indicator bounds);
the reader is the part to move out if the module grows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from rules.exceptions import RuleFileError, RuleProblem
from rules.language import AnyRule, CompiledRule, IndicatorBounds, Roster, RuleFile, RuleGroup, RulePack
from rules.loading.sources import MAX_DEPTH, MAX_VALUES, SourceError, compose, confined, read_source
from rules.loading.suggest import explain
from rules.loading.units import UnitDeclarations
from rules.units import UnitFile

__all__ = [
    "BUNDLED_PACK",
    "PACK_SUFFIXES",
    "Parsed",
    "links_out_of",
    "load_pack",
    "load_rule_file",
    "parse_yaml",
    "rule_files_in",
    "validate",
]

#: The Project 06 rule pack shipped with the product.
BUNDLED_PACK = Path(__file__).parent.parent / "packs"  # rules/packs: the data folder stays at the top of rules/

#: The files a pack directory holds: YAML (rules, rosters, registries, rule tests) and CSV unit tables.
PACK_SUFFIXES = (".yaml", ".yml", ".csv")

Path_ = tuple[int | str, ...]
M = TypeVar("M", bound=BaseModel)


class _Located:
    """YAML turned into plain data, with the line (1-based) of every value.

    Aliases are expanded here, within a budget of ``MAX_VALUES`` values and ``MAX_DEPTH`` levels; a value that
    contains itself (a recursive alias) is refused.
    """

    def __init__(self) -> None:
        self.lines: dict[Path_, int] = {}
        self.problems: list[tuple[int, str, str]] = []  # line, field, message: the file still loads
        self._loader = yaml.SafeLoader("")
        self._values = 0
        self._shared: set[int] = set()  # nodes seen once: a second visit expands an alias
        self._aliased = False
        self._open: set[int] = set()  # nodes being built: meeting one again is a recursive alias
        self._where: list[tuple[int, bool]] = []  # per open collection: the line to report, inside an alias

    def build(self, node: yaml.Node, path: Path_) -> Any:
        line = node.start_mark.line + 1
        self.lines[path] = line
        # Inside an expanded alias, problems are reported where the alias is used, not where its anchor is.
        outer, in_alias = self._where[-1] if self._where else (line, False)
        in_alias = in_alias or id(node) in self._shared
        where = outer if in_alias else line
        self._count(node, path, where)
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            if id(node) in self._open:
                raise SourceError("a recursive alias: the value contains itself; write it out without the alias", where)
            self._open.add(id(node))
            self._where.append((where, in_alias))
            try:
                return self._mapping(node, path) if isinstance(node, yaml.MappingNode) else self._sequence(node, path)
            finally:
                self._where.pop()
                self._open.discard(id(node))
        try:
            return self._loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError:
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            self.problems.append((line, _field(path), f"the tag {tag} is not allowed; rule files hold plain values"))
        except (ValueError, TypeError, OverflowError) as exc:  # an explicit tag on a value that is not of its type
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            self.problems.append((line, _field(path), f"'{node.value}' is not a valid {tag}: {exc}"))
        return None

    def _count(self, node: yaml.Node, path: Path_, where: int) -> None:
        self._values += 1
        self._aliased = self._aliased or id(node) in self._shared
        self._shared.add(id(node))
        if self._values > MAX_VALUES:
            what = "YAML aliases expand the file to" if self._aliased else "the file holds"
            raise SourceError(f"{what} more than {MAX_VALUES} values; a rule file needs far fewer", where)
        if len(path) > MAX_DEPTH:
            raise SourceError(f"values nested more than {MAX_DEPTH} levels deep; a rule file needs far fewer", where)

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.problems.append((line, _field(path), "merge keys ('<<') are not supported; write the keys out"))
                continue
            key = self.build(key_node, (*path, "<key>"))
            if isinstance(key, list | dict):
                self.problems.append((line, _field(path), "a key must be a plain value, not a list or mapping"))
                continue
            if key in out:
                self.problems.append((line, str(key), f"duplicate key '{key}'"))
            out[key] = self.build(value_node, (*path, key))
        return out

    def _sequence(self, node: yaml.SequenceNode, path: Path_) -> list[Any]:
        return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]

    def line_for(self, loc: Sequence[int | str], data: Any) -> tuple[int | None, str]:
        """The line of the deepest part of ``loc`` present in the data, and the field path."""
        path: Path_ = ()
        fields: list[str] = []
        current = data
        for part in loc:
            if isinstance(current, dict) and part not in current and part == current.get("kind"):
                continue  # the discriminated union names the rule kind in the location
            if isinstance(current, dict) and part in current:
                current = current[part]
            elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
                current = current[part]
            elif isinstance(part, str) and isinstance(current, dict):
                fields.append(part)  # a missing field: report it at its parent
                break
            else:
                continue
            path = (*path, part)
            fields.append(str(part))
        return self.lines.get(path), ".".join(fields) or "(file)"


@dataclass
class Parsed:
    """A YAML file as data, with line numbers, or the problems that stopped it."""

    path: Path
    data: Any
    located: _Located
    problems: list[RuleProblem]

    @property
    def kind(self) -> str:
        """``rules``, ``roster``, ``registry`` or ``tests``, from the top-level keys."""
        if isinstance(self.data, dict):
            for key in ("roster", "registry", "tests"):
                if key in self.data:
                    return key
        return "rules"

    def line(self, *path: int | str) -> int | None:
        """The line of a value in the file."""
        return self.located.lines.get(tuple(path))


def parse_yaml(path: Path) -> Parsed:
    """Read a YAML file keeping line numbers, within size, depth and alias budgets; problems, not exceptions."""
    located = _Located()
    try:
        node = compose(read_source(path))
        data = located.build(node, ()) if node is not None else None
    except SourceError as exc:
        return Parsed(path, None, located, [RuleProblem(path, exc.line, None, "(file)", exc.message)])
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        return Parsed(path, None, located, [RuleProblem(path, line, None, "(file)", f"not valid YAML: {exc.problem}")])
    if node is None:
        return Parsed(
            path, None, located, [RuleProblem(path, None, None, "groups", "the file is empty; it needs 'groups:'")]
        )
    problems = [RuleProblem(path, line, None, field, message) for line, field, message in located.problems]
    return Parsed(path, data, located, problems)


def _field(path: Path_) -> str:
    return ".".join(str(part) for part in path) or "(file)"


def _rule_id(data: Any, loc: Sequence[int | str]) -> str | None:
    if len(loc) >= 4 and loc[0] == "groups" and loc[2] == "rules":
        try:
            rule = data["groups"][loc[1]]["rules"][loc[3]]
        except (KeyError, IndexError, TypeError):
            return None
        if isinstance(rule, dict) and isinstance(rule.get("id"), str):
            return str(rule["id"])
    return None


def validate(parsed: Parsed, model: type[M]) -> M | None:
    """Validate parsed data against a model, adding a located problem per error."""
    if parsed.data is None:
        return None
    try:
        return model.model_validate(parsed.data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = err["loc"]
            if err["type"] == "union_tag_invalid":  # an unknown kind: point at the `kind:` line, not the rule's first
                loc = (*loc, str((err.get("ctx") or {}).get("discriminator", "kind")).strip("'"))
            line, field = parsed.located.line_for(loc, parsed.data)
            message = explain(model, err)
            parsed.problems.append(RuleProblem(parsed.path, line, _rule_id(parsed.data, err["loc"]), field, message))
        return None


def load_rule_file(path: Path) -> RuleFile:
    """Load and validate one rule file (rosters are not resolved).

    Raises:
        RuleFileError: with every problem found, each naming file, line, rule id and field.
    """
    parsed = parse_yaml(path)
    rule_file = validate(parsed, RuleFile)
    _check_ids(parsed, {})
    if parsed.problems or rule_file is None:
        raise RuleFileError(_unique(parsed.problems))
    return rule_file


def _raw_rules(parsed: Parsed) -> Iterator[tuple[int, int, dict[Any, Any]]]:
    """Group index, rule index and data of every rule-like mapping, whether or not the file is valid."""
    groups = parsed.data.get("groups") if isinstance(parsed.data, dict) else None
    for g, group in enumerate(groups if isinstance(groups, list) else []):
        rules = group.get("rules") if isinstance(group, dict) else None
        for r, rule in enumerate(rules if isinstance(rules, list) else []):
            if isinstance(rule, dict):
                yield g, r, rule


def _check_ids(parsed: Parsed, first_seen: dict[str, tuple[Path, int | None]]) -> None:
    """Add a problem for each rule id used before (in this file or one in ``first_seen``), even in an invalid file."""
    for g, r, rule in _raw_rules(parsed):
        rule_id = rule.get("id")
        if not isinstance(rule_id, str):
            continue  # a missing or malformed id is the schema's to report
        line = parsed.line("groups", g, "rules", r, "id")
        if rule_id in first_seen:
            other, other_line = first_seen[rule_id]
            message = f"rule id '{rule_id}' is already used at {other}:{other_line}"
            parsed.problems.append(RuleProblem(parsed.path, line, rule_id, "id", message))
        else:
            first_seen[rule_id] = (parsed.path, line)


def rule_files_in(paths: Iterable[Path]) -> list[Path]:
    """Expand directories into their ``*.yaml``/``*.yml``/``*.csv`` files, in a stable order.

    A link in a directory that leads outside it is left out (``links_out_of`` names them).
    """
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in PACK_SUFFIXES and p.is_file())
            files.extend(p for p in found if p.resolve().is_relative_to(path.resolve()))
        else:
            files.append(path)
    return files


def links_out_of(paths: Iterable[Path]) -> list[RuleProblem]:
    """A problem for each file in the directories among ``paths`` that is a link leading outside its directory."""
    problems = []
    for path in paths:
        if path.is_dir():
            for found in sorted(p for p in path.rglob("*") if p.suffix in PACK_SUFFIXES and p.is_file()):
                if not found.resolve().is_relative_to(path.resolve()):
                    message = f"a link to {found.resolve()}, outside {path}; it is not read: copy the file in instead"
                    problems.append(RuleProblem(found, None, None, "(file)", message))
    return problems


class _Rosters:
    """Rosters by resolved path, loaded once."""

    def __init__(self) -> None:
        self.by_path: dict[Path, Roster | None] = {}
        self.lines: dict[Path, tuple[Path, dict[int, int | None]]] = {}  # resolved path → (path, line of each unit)
        self.problems: list[RuleProblem] = []

    def add(self, parsed: Parsed) -> Roster | None:
        roster = validate(parsed, Roster)
        self.problems.extend(parsed.problems)
        self.by_path[parsed.path.resolve()] = roster
        if roster is not None:
            lines = {i: parsed.line("units", i) for i in range(len(roster.units))}
            self.lines[parsed.path.resolve()] = (parsed.path, lines)
        return roster

    def located(self) -> list[tuple[Path, Roster, dict[int, int | None]]]:
        """Each valid roster with its path and the line of each of its units."""
        return [(self.lines[k][0], r, self.lines[k][1]) for k, r in self.by_path.items() if r is not None]

    def get(self, path: Path) -> Roster | None:
        resolved = path.resolve()
        if resolved not in self.by_path and path.is_file():
            self.add(parse_yaml(path))
        return self.by_path.get(resolved)


def load_pack(paths: Iterable[Path]) -> RulePack:
    """Load rule files, rosters (or directories of them) into one pack.

    Every file is checked in full, so one pass names every mistake: schema errors, rule ids used twice (even in a
    file with schema errors) and rosters that cannot be read.

    Raises:
        RuleFileError: with every problem of every file, rule ids used twice and unknown rosters.
    """
    paths = list(paths)
    files = rule_files_in(paths)
    if not files and not links_out_of(paths):
        where = ", ".join(map(str, paths))
        raise RuleFileError([RuleProblem(Path(where), None, None, "(file)", "no rule files (*.yaml) found")])
    problems = links_out_of(paths)
    rosters = _Rosters()
    units = UnitDeclarations()
    pending: list[tuple[AnyRule, RuleGroup, list[Roster] | None]] = []  # compiled once the units are known
    first_seen: dict[str, tuple[Path, int | None]] = {}
    bounds: dict[str, tuple[IndicatorBounds, Path]] = {}
    used: list[Roster] = []  # the rosters rules name, in the order first named (each file is read once)
    for path in files:
        if path.suffix == ".csv":
            units.add_table(path)
            continue
        parsed = parse_yaml(path)
        if parsed.kind == "roster":
            rosters.add(parsed)
            continue
        if parsed.kind == "registry":
            declared = validate(parsed, UnitFile)
            problems.extend(parsed.problems)
            if declared is not None:
                units.add_file(path, declared, {i: parsed.line("units", i) for i in range(len(declared.units))})
            continue
        if parsed.kind == "tests":
            continue
        rule_file = validate(parsed, RuleFile)
        _check_ids(parsed, first_seen)
        resolved = _resolve_rosters(parsed, rosters)
        problems.extend(parsed.problems)
        if rule_file is None or parsed.problems:
            continue
        problems.extend(_merge_bounds(bounds, rule_file, parsed))
        for g, group in enumerate(rule_file.groups):
            for r, rule in enumerate(group.rules):
                named = resolved.get((g, r))
                used += [roster for roster in named or () if not any(roster is seen for seen in used)]
                pending.append((rule, group, named))
    problems.extend(rosters.problems)
    registry = units.compile(rosters.located())
    problems.extend(units.problems)
    if problems:
        raise RuleFileError(_unique(problems))
    compiled = [CompiledRule.compile(rule, group, named, registry) for rule, group, named in pending]
    return RulePack(
        rules=tuple(compiled),
        units=registry,
        indicator_bounds={name: b for name, (b, _) in bounds.items()},
        rosters=tuple(used),
    )


def _merge_bounds(
    bounds: dict[str, tuple[IndicatorBounds, Path]], rule_file: RuleFile, parsed: Parsed
) -> list[RuleProblem]:
    """Add a file's indicator bounds to the pack's; an indicator two files bound differently is a problem."""
    problems = []
    for name, declared in rule_file.indicators.items():
        earlier = bounds.setdefault(name, (declared, parsed.path))
        if earlier[0] != declared:
            where = parsed.line("indicators", name)
            message = f"indicator '{name}' has other bounds in {earlier[1]}; declare it once"
            problems.append(RuleProblem(parsed.path, where, None, f"indicators.{name}", message))
    return problems


def _resolve_rosters(parsed: Parsed, rosters: _Rosters) -> dict[tuple[int, int], list[Roster]]:
    """The rosters each rule names, by group and rule index; a problem for each missing, invalid or outside.

    Read from the raw data, so that a file with other mistakes still has its roster references checked.
    """
    path = parsed.path
    resolved: dict[tuple[int, int], list[Roster]] = {}
    for g, r, rule in _raw_rules(parsed):
        refs = rule.get("roster")
        if not isinstance(refs, str | list):
            continue  # absent, or of a wrong type the schema reports
        rule_id = rule.get("id") if isinstance(rule.get("id"), str) else None
        found: list[Roster] = []
        for ref in [refs] if isinstance(refs, str) else [ref for ref in refs if isinstance(ref, str)]:
            target = confined(path.parent, ref, path.parent)
            roster = rosters.get(target) if target is not None else None
            if roster is None:
                why = (
                    f"not found or invalid (looked for {target})"
                    if target is not None
                    else f"is outside the rule file's directory {path.parent}; name a file in it or below it"
                )
                line = parsed.line("groups", g, "rules", r, "roster")
                parsed.problems.append(RuleProblem(path, line, rule_id, "roster", f"roster '{ref}' {why}"))
            else:
                found.append(roster)
        if found:
            resolved[(g, r)] = found
    return resolved


def _unique(problems: list[RuleProblem]) -> list[RuleProblem]:
    seen: set[RuleProblem] = set()
    out = []
    for problem in problems:
        if problem not in seen:
            seen.add(problem)
            out.append(problem)
    return out
