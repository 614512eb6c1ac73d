"""Rosters: the units a rule expects, reporting or not. Data files, not code.

A roster lists its units (``units``), or selects them from the pack's unit
registry (``select``: every province, every commune of one province). Either
way a rule over it expects each unit only while the unit exists: a roster
deadline over the units in force at its due instant, a staleness rule over
each unit from when it exists until it ends (``CompiledRule.covers``).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rules.units import Level

__all__ = ["Roster", "RosterSelect", "RosterUnit"]


class RosterUnit(BaseModel):
    """One unit: its id, and its Vietnamese name unless the pack's unit registry declares it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, Field(min_length=1, max_length=200)]
    name: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    kind: str | None = Field(default=None, description="e.g. province, municipality, ministry")


class RosterSelect(BaseModel):
    """The units of the registry a roster takes: of a level, under a parent (every commune of Nghệ An)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    level: Level | None = Field(default=None, description="province, commune or ministry.")
    parent: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        default=None, description="The unit they belong to: a province's id for its communes."
    )

    @model_validator(mode="after")
    def _something(self) -> RosterSelect:
        if self.level is None and self.parent is None:
            raise ValueError("give 'level', 'parent' or both: selecting every unit of the registry is not a roster")
        return self


class Roster(BaseModel):
    """A named list of units, e.g. the 63 provincial units before the 2025 merger, or a selection of the registry."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    roster: str = Field(min_length=1, description="Name of the roster.")
    description: str | None = None
    units: list[RosterUnit] = Field(default_factory=list, description="The units, listed.")
    select: RosterSelect | None = Field(default=None, description="Or: the units of the registry it takes.")

    @model_validator(mode="after")
    def _unique_ids(self) -> Roster:
        if bool(self.units) == (self.select is not None):
            raise ValueError("give either 'units' (a list) or 'select' (level, parent), not both and not neither")
        seen: set[str] = set()
        for unit in self.units:
            if unit.id in seen:
                raise ValueError(f"unit '{unit.id}' is listed twice")
            seen.add(unit.id)
        return self

    @property
    def ids(self) -> frozenset[str]:
        """The units listed (none for a roster that selects: ``RulePack.members``)."""
        return frozenset(u.id for u in self.units)
