"""What changes from one rule pack to another: rules added, removed or changed (a readable diff), roster members.

Pure: two loaded packs in, a ``PackDiff`` out. ``monitor rules diff`` prints it.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from rules.language import CompiledRule, RulePack

__all__ = ["PackDiff", "RosterChange", "RuleChange", "pack_diff", "rule_text", "successive_diffs"]


@dataclass(frozen=True, slots=True)
class RuleChange:
    """A rule in both packs whose definition (or group: time zone, calendar) differs."""

    rule_id: str
    diff: str  # a unified diff of the two definitions as YAML


@dataclass(frozen=True, slots=True)
class RosterChange:
    """A roster in both packs (by name) whose members differ."""

    roster: str
    added: tuple[str, ...]
    removed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PackDiff:
    """Everything that differs between an old and a new pack."""

    old_version: str
    new_version: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[RuleChange, ...]
    rosters: tuple[RosterChange, ...]
    rosters_added: tuple[str, ...]
    rosters_removed: tuple[str, ...]

    @property
    def empty(self) -> bool:
        """Whether the packs hold the same rules and rosters."""
        return not (
            self.added or self.removed or self.changed or self.rosters or self.rosters_added or self.rosters_removed
        )

    def text(self) -> str:
        """The diff for a person to read."""
        lines = [f"pack {self.old_version} → {self.new_version}"]
        if self.empty:
            return lines[0] + ": no rule or roster changes"
        lines += [f"+ rule {rule_id} (added)" for rule_id in self.added]
        lines += [f"- rule {rule_id} (removed)" for rule_id in self.removed]
        for change in self.changed:
            lines.append(f"~ rule {change.rule_id} (changed)")
            lines += ["    " + line for line in change.diff.splitlines()]
        lines += [f"+ roster {name} (added)" for name in self.rosters_added]
        lines += [f"- roster {name} (removed)" for name in self.rosters_removed]
        for roster in self.rosters:
            lines.append(f"~ roster {roster.roster}: {len(roster.added)} unit(s) added, {len(roster.removed)} removed")
            lines += [f"    + {unit}" for unit in roster.added]
            lines += [f"    - {unit}" for unit in roster.removed]
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        """The diff as ``--format json`` prints it."""
        return {
            "old_version": self.old_version,
            "new_version": self.new_version,
            "rules_added": list(self.added),
            "rules_removed": list(self.removed),
            "rules_changed": [{"rule_id": c.rule_id, "diff": c.diff} for c in self.changed],
            "rosters_added": list(self.rosters_added),
            "rosters_removed": list(self.rosters_removed),
            "rosters_changed": [
                {"roster": r.roster, "units_added": list(r.added), "units_removed": list(r.removed)}
                for r in self.rosters
            ],
        }


def rule_text(compiled: CompiledRule) -> str:
    """A rule as YAML, with what its group gives it (time zone, calendar); rosters by name only."""
    rule = compiled.rule
    written = rule.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)
    definition = {"id": rule.id, "kind": rule.kind, **written}  # as written: no defaults to read past
    calendar = compiled.calendar
    definition["(group)"] = {
        "name": compiled.group,
        "timezone": compiled.tz.key,
        "non_working_days": sorted(d.isoformat() for d in calendar.extra_holidays),
        "working_days": sorted(d.isoformat() for d in calendar.extra_working_days),
    }
    return yaml.safe_dump(definition, allow_unicode=True, sort_keys=True, width=120)


def pack_diff(old: RulePack, new: RulePack) -> PackDiff:
    """What ``new`` adds, removes and changes against ``old``."""
    old_rules = {r.rule.id: r for r in old.rules}
    new_rules = {r.rule.id: r for r in new.rules}
    changed = []
    for rule_id in sorted(old_rules.keys() & new_rules.keys()):
        before, after = rule_text(old_rules[rule_id]), rule_text(new_rules[rule_id])
        if before != after:
            diff = difflib.unified_diff(
                before.splitlines(), after.splitlines(), f"{rule_id} (old)", f"{rule_id} (new)", lineterm="", n=2
            )
            changed.append(RuleChange(rule_id, "\n".join(diff)))
    old_rosters = {r.roster: r for r in old.rosters}
    new_rosters = {r.roster: r for r in new.rosters}
    rosters = []
    for name in sorted(old_rosters.keys() & new_rosters.keys()):
        before_ids, after_ids = old.members(old_rosters[name]), new.members(new_rosters[name])
        if before_ids != after_ids:
            rosters.append(
                RosterChange(name, tuple(sorted(after_ids - before_ids)), tuple(sorted(before_ids - after_ids)))
            )
    return PackDiff(
        old_version=old.version,
        new_version=new.version,
        added=tuple(sorted(new_rules.keys() - old_rules.keys())),
        removed=tuple(sorted(old_rules.keys() - new_rules.keys())),
        changed=tuple(changed),
        rosters=tuple(rosters),
        rosters_added=tuple(sorted(new_rosters.keys() - old_rosters.keys())),
        rosters_removed=tuple(sorted(old_rosters.keys() - new_rosters.keys())),
    )


def successive_diffs(packs: Sequence[RulePack | None]) -> list[PackDiff | None]:
    """What each pack changed from the last pack before it that loaded (``None``: the first, or one that did not load)."""
    diffs: list[PackDiff | None] = []
    previous: RulePack | None = None
    for pack in packs:
        diffs.append(pack_diff(previous, pack) if previous is not None and pack is not None else None)
        previous = pack if pack is not None else previous
    return diffs
