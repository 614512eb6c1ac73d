"""Load rule files and rosters from YAML, reporting every mistake with file, line, rule and field.

A directory may hold rule files (top-level ``groups``), rosters (``roster``)
and rule tests (``tests``, run by ``monitor rules test``, skipped here).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from rules.exceptions import RuleFileError, RuleProblem
from rules.pack import CompiledRule, IndicatorBounds, RuleFile, RulePack
from rules.roster import Roster

__all__ = ["BUNDLED_PACK", "load_pack", "load_rule_file", "parse_yaml", "rule_files_in", "validate"]

#: The Project 06 rule pack shipped with the product.
BUNDLED_PACK = Path(__file__).parent / "packs"

Path_ = tuple[int | str, ...]
M = TypeVar("M", bound=BaseModel)


class _Located:
    """YAML turned into plain data, with the line (1-based) of every value."""

    def __init__(self) -> None:
        self.lines: dict[Path_, int] = {}
        self.duplicates: list[tuple[int, str]] = []
        self._loader = yaml.SafeLoader("")

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.build(key_node, (*path, "<key>"))
                if key in out:
                    self.duplicates.append((key_node.start_mark.line + 1, str(key)))
                out[key] = self.build(value_node, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._loader.construct_object(node, deep=True)

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
        """``rules``, ``roster`` or ``tests``, from the top-level keys."""
        if isinstance(self.data, dict):
            for key in ("roster", "tests"):
                if key in self.data:
                    return key
        return "rules"

    def line(self, *path: int | str) -> int | None:
        """The line of a value in the file."""
        return self.located.lines.get(tuple(path))


def parse_yaml(path: Path) -> Parsed:
    """Read a YAML file keeping line numbers; problems instead of exceptions."""
    located = _Located()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return Parsed(path, None, located, [RuleProblem(path, None, None, "(file)", f"cannot read the file: {exc}")])
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        return Parsed(path, None, located, [RuleProblem(path, line, None, "(file)", f"not valid YAML: {exc.problem}")])
    if node is None:
        return Parsed(
            path, None, located, [RuleProblem(path, None, None, "groups", "the file is empty; it needs 'groups:'")]
        )
    data = located.build(node, ())
    problems = [RuleProblem(path, line, None, key, f"duplicate key '{key}'") for line, key in located.duplicates]
    return Parsed(path, data, located, problems)


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
            line, field = parsed.located.line_for(err["loc"], parsed.data)
            message = err["msg"].removeprefix("Value error, ")
            parsed.problems.append(RuleProblem(parsed.path, line, _rule_id(parsed.data, err["loc"]), field, message))
        return None


def load_rule_file(path: Path) -> RuleFile:
    """Load and validate one rule file (rosters are not resolved).

    Raises:
        RuleFileError: with every problem found, each naming file, line, rule id and field.
    """
    parsed = parse_yaml(path)
    rule_file = validate(parsed, RuleFile)
    if parsed.problems or rule_file is None:
        raise RuleFileError(parsed.problems)
    return rule_file


def rule_files_in(paths: Iterable[Path]) -> list[Path]:
    """Expand directories into their ``*.yaml``/``*.yml`` files, in a stable order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()))
        else:
            files.append(path)
    return files


class _Rosters:
    """Rosters by resolved path, loaded once."""

    def __init__(self) -> None:
        self.by_path: dict[Path, Roster | None] = {}
        self.problems: list[RuleProblem] = []

    def add(self, parsed: Parsed) -> Roster | None:
        roster = validate(parsed, Roster)
        self.problems.extend(parsed.problems)
        self.by_path[parsed.path.resolve()] = roster
        return roster

    def get(self, path: Path) -> Roster | None:
        resolved = path.resolve()
        if resolved not in self.by_path and path.is_file():
            self.add(parse_yaml(path))
        return self.by_path.get(resolved)


def load_pack(paths: Iterable[Path]) -> RulePack:
    """Load rule files, rosters (or directories of them) into one pack.

    Raises:
        RuleFileError: with every problem of every file, rule ids used twice and unknown rosters.
    """
    paths = list(paths)
    files = rule_files_in(paths)
    if not files:
        where = ", ".join(map(str, paths))
        raise RuleFileError([RuleProblem(Path(where), None, None, "(file)", "no rule files (*.yaml) found")])
    problems: list[RuleProblem] = []
    rosters = _Rosters()
    compiled: list[CompiledRule] = []
    first_seen: dict[str, tuple[Path, int | None]] = {}
    bounds: dict[str, tuple[IndicatorBounds, Path]] = {}
    for path in files:
        parsed = parse_yaml(path)
        if parsed.kind == "roster":
            rosters.add(parsed)
            continue
        if parsed.kind == "tests":
            continue
        rule_file = validate(parsed, RuleFile)
        problems.extend(parsed.problems)
        if rule_file is None:
            continue
        problems.extend(_merge_bounds(bounds, rule_file, parsed))
        for g, group in enumerate(rule_file.groups):
            for r, rule in enumerate(group.rules):
                line = parsed.line("groups", g, "rules", r, "id")
                if rule.id in first_seen:
                    other, other_line = first_seen[rule.id]
                    problems.append(
                        RuleProblem(
                            path, line, rule.id, "id", f"rule id '{rule.id}' is already used at {other}:{other_line}"
                        )
                    )
                    continue
                first_seen[rule.id] = (path, line)
                refs = getattr(rule, "roster", None)
                found: list[Roster] = []
                for ref in [refs] if isinstance(refs, str) else refs or []:
                    roster = rosters.get(path.parent / ref)
                    if roster is None:
                        problems.append(
                            RuleProblem(
                                path,
                                parsed.line("groups", g, "rules", r, "roster"),
                                rule.id,
                                "roster",
                                f"roster '{ref}' not found or invalid (looked for {path.parent / ref})",
                            )
                        )
                    else:
                        found.append(roster)
                if refs is None or len(found) == len([refs] if isinstance(refs, str) else refs):
                    compiled.append(CompiledRule.compile(rule, group, found or None))
    problems.extend(rosters.problems)
    if problems:
        raise RuleFileError(_unique(problems))
    names: dict[str, str] = {}
    for roster in rosters.by_path.values():
        if roster is not None:
            for unit in roster.units:
                names.setdefault(unit.id, unit.name)
    return RulePack(
        rules=tuple(compiled), unit_names=names, indicator_bounds={name: b for name, (b, _) in bounds.items()}
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


def _unique(problems: list[RuleProblem]) -> list[RuleProblem]:
    seen: set[RuleProblem] = set()
    out = []
    for problem in problems:
        if problem not in seen:
            seen.add(problem)
            out.append(problem)
    return out
