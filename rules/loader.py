"""Load rule files from YAML, reporting every mistake with file, line, rule and field."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from rules.exceptions import RuleFileError, RuleProblem
from rules.pack import RuleFile, RulePack

__all__ = ["BUNDLED_PACK", "load_pack", "load_rule_file", "rule_files_in"]

#: The Project 06 rule pack shipped with the product.
BUNDLED_PACK = Path(__file__).parent / "packs"

Path_ = tuple[int | str, ...]


class _Located:
    """YAML turned into plain data, with the line (1-based) of every value."""

    def __init__(self) -> None:
        self.lines: dict[Path_, int] = {}

    def build(self, node: yaml.Node, path: Path_, problems: list[str]) -> Any:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.build(key_node, (*path, "<key>"), problems)
                if key in out:
                    problems.append(f"{key_node.start_mark.line + 1}\x1f{key}\x1fduplicate key '{key}'")
                out[key] = self.build(value_node, (*path, key), problems)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i), problems) for i, item in enumerate(node.value)]
        return _scalar(node)

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
                continue  # a union tag that is not in the data
            path = (*path, part)
            fields.append(str(part))
        return self.lines.get(path), ".".join(fields) or "(file)"


def _scalar(node: yaml.Node) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def _rule_id(data: Any, loc: Sequence[int | str]) -> str | None:
    if len(loc) >= 4 and loc[0] == "groups" and loc[2] == "rules":
        try:
            rule = data["groups"][loc[1]]["rules"][loc[3]]
        except (KeyError, IndexError, TypeError):
            return None
        if isinstance(rule, dict) and isinstance(rule.get("id"), str):
            return str(rule["id"])
    return None


def _parse(path: Path) -> tuple[Any, _Located, list[RuleProblem]]:
    located = _Located()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, located, [RuleProblem(path, None, None, "(file)", f"cannot read the file: {exc}")]
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        return None, located, [RuleProblem(path, line, None, "(file)", f"not valid YAML: {exc.problem}")]
    if node is None:
        return None, located, [RuleProblem(path, None, None, "groups", "the file is empty; it needs 'groups:'")]
    raw: list[str] = []
    data = located.build(node, (), raw)
    problems = [
        RuleProblem(path, int(line), None, key, message) for line, key, message in (r.split("\x1f") for r in raw)
    ]
    return data, located, problems


def load_rule_file(path: Path) -> RuleFile:
    """Load and validate one rule file.

    Raises:
        RuleFileError: with every problem found, each naming file, line, rule id and field.

    """
    data, located, problems = _parse(path)
    if data is None and problems:
        raise RuleFileError(problems)
    try:
        rule_file = RuleFile.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            line, field = located.line_for(err["loc"], data)
            message = err["msg"].removeprefix("Value error, ")
            problems.append(RuleProblem(path, line, _rule_id(data, err["loc"]), field, message))
        raise RuleFileError(problems) from None
    if problems:
        raise RuleFileError(problems)
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


def load_pack(paths: Iterable[Path]) -> RulePack:
    """Load rule files (or directories of them) into one pack.

    Raises:
        RuleFileError: with every problem of every file, and rule ids used twice.

    """
    problems: list[RuleProblem] = []
    loaded: list[RuleFile] = []
    first_seen: dict[str, Path] = {}
    files = rule_files_in(paths)
    if not files:
        raise RuleFileError([RuleProblem(Path(", ".join(map(str, paths))), None, None, "(file)", "no rule files")])
    for path in files:
        try:
            rule_file = load_rule_file(path)
        except RuleFileError as exc:
            problems.extend(exc.problems)
            continue
        loaded.append(rule_file)
        for group in rule_file.groups:
            for rule in group.rules:
                if rule.id in first_seen:
                    problems.append(
                        RuleProblem(
                            path, None, rule.id, "id", f"rule id '{rule.id}' is already used in {first_seen[rule.id]}"
                        )
                    )
                first_seen.setdefault(rule.id, path)
    if problems:
        raise RuleFileError(problems)
    return RulePack.from_files(loaded)
