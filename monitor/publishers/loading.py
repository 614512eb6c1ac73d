"""Reading a publisher registry file, and the trusted keys file: YAML, every mistake named by file, line and field.

The files are read within the rule files' budgets (size, nesting, aliases:
``rules.loading``) and validated against ``PublisherRegistry`` (a roster a
publisher names must be one of the rule pack's) and ``TrustedKeys``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from monitor.exceptions import MonitorError
from monitor.publishers.registry import PublisherRegistry, SigningKey
from monitor.publishers.signatures import VerifyKey
from rules.exceptions import RuleProblem
from rules.language import RulePack
from rules.loading import Parsed, parse_yaml, validate

__all__ = ["RegistryFileError", "TrustedKeys", "check_rosters", "load_registry", "load_trusted_keys", "parse_document"]


class RegistryFileError(MonitorError):
    """A registry (or trusted keys) file that cannot be used; ``problems`` names every mistake, with file, line, field."""

    def __init__(self, problems: list[RuleProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


M = TypeVar("M", bound=BaseModel)


def parse_document(path: Path, model: type[M], key: str) -> tuple[Parsed, M | None]:
    """A YAML file validated against ``model``: the parsed file (its problems, each located) and the document.

    An empty file is said to need its top-level ``key`` (``publishers``, ``viewers``, ``keys``).
    """
    parsed = parse_yaml(path)
    if parsed.data is None and parsed.problems and parsed.problems[0].field == "groups":  # empty: say what it needs
        parsed.problems[0] = RuleProblem(path, None, None, key, f"the file is empty; it needs '{key}:'")
    return parsed, validate(parsed, model)


def check_rosters(
    parsed: Parsed, entries: Sequence[tuple[str, tuple[str | int, ...], Sequence[str]]], pack: RulePack
) -> None:
    """Add a problem for each roster an entry names that the rule pack does not have.

    Args:
        parsed: The file, where the problems go.
        entries: Each entry's name in a message (``viewer 'nghean'``), where it is in the file
            (``("viewers", 3)``), and the rosters it names, in file order.
        pack: The rule pack whose rosters count.
    """
    known = {roster.roster for roster in pack.rosters}
    for who, where, rosters in entries:
        for position, name in enumerate(rosters):
            if name not in known:
                parsed.problems.append(
                    RuleProblem(
                        parsed.path,
                        parsed.line(*where, "rosters", position),
                        None,
                        ".".join(map(str, (*where, "rosters", position))),
                        f"{who} names roster '{name}', which the rule pack does not have "
                        f"(it has: {', '.join(sorted(known)) or 'none'})",
                    )
                )


def load_registry(path: Path, pack: RulePack | None = None) -> PublisherRegistry:
    """The registry in ``path``, checked against ``pack``'s rosters when one is given.

    Raises:
        RegistryFileError: with every problem found.
    """
    parsed, registry = parse_document(path, PublisherRegistry, "publishers")
    if registry is not None and pack is not None:
        entries = [(f"publisher '{p.id}'", ("publishers", i), p.rosters) for i, p in enumerate(registry.publishers)]
        check_rosters(parsed, entries, pack)
    if parsed.problems or registry is None:
        raise RegistryFileError(parsed.problems)
    return registry


class TrustedKeys(BaseModel):
    """The keys whose signatures a worker trusts on rule pack and registry records (``MONITOR_TRUSTED_KEYS``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str | None = Field(default=None, max_length=500)
    keys: tuple[SigningKey, ...] = Field(description="The working group's public keys (at least one).")

    @model_validator(mode="after")
    def _unique(self) -> TrustedKeys:
        if not self.keys:
            raise ValueError("no key: give at least one under 'keys'")
        ids = [key.id for key in self.keys]
        twice = sorted({keyid for keyid in ids if ids.count(keyid) > 1})
        if twice:
            raise ValueError(f"key id {', '.join(twice)} is given twice")
        return self


def load_trusted_keys(path: Path) -> tuple[VerifyKey, ...]:
    """The keys in a trusted keys file, loaded.

    Raises:
        RegistryFileError: with every problem found.
    """
    parsed, trusted = parse_document(path, TrustedKeys, "keys")
    if parsed.problems or trusted is None:
        raise RegistryFileError(parsed.problems)
    return tuple(key.verify_key() for key in trusted.keys)
