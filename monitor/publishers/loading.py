"""Reading a publisher registry file: YAML, with every mistake named by file, line and field.

The file is read within the rule files' budgets (size, nesting, aliases:
``rules.loading``) and validated against ``PublisherRegistry``; a roster a
publisher names must be one of the rule pack's.
"""

from __future__ import annotations

from pathlib import Path

from monitor.exceptions import MonitorError
from monitor.publishers.registry import PublisherRegistry
from rules.exceptions import RuleProblem
from rules.language import RulePack
from rules.loading import parse_yaml, validate

__all__ = ["RegistryFileError", "load_registry"]


class RegistryFileError(MonitorError):
    """A registry file that cannot be used; ``problems`` names every mistake, each with its file, line and field."""

    def __init__(self, problems: list[RuleProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def load_registry(path: Path, pack: RulePack | None = None) -> PublisherRegistry:
    """The registry in ``path``, checked against ``pack``'s rosters when one is given.

    Raises:
        RegistryFileError: with every problem found.
    """
    parsed = parse_yaml(path)
    if parsed.data is None and parsed.problems and parsed.problems[0].field == "groups":  # empty: say what it needs
        parsed.problems[0] = RuleProblem(path, None, None, "publishers", "the file is empty; it needs 'publishers:'")
    registry = validate(parsed, PublisherRegistry)
    if registry is not None and pack is not None:
        for index, publisher in enumerate(registry.publishers):
            for position, name in enumerate(publisher.rosters):
                if name not in {roster.roster for roster in pack.rosters}:
                    known = ", ".join(sorted(r.roster for r in pack.rosters)) or "none"
                    parsed.problems.append(
                        RuleProblem(
                            path,
                            parsed.line("publishers", index, "rosters", position),
                            None,
                            f"publishers.{index}.rosters.{position}",
                            f"publisher '{publisher.id}' names roster '{name}', which the rule pack does not have "
                            f"(it has: {known})",
                        )
                    )
    if parsed.problems or registry is None:
        raise RegistryFileError(parsed.problems)
    return registry
