"""Rosters: the units a rule expects, reporting or not. Data files, not code."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Roster", "RosterUnit"]


class RosterUnit(BaseModel):
    """One unit: its id, and its Vietnamese name unless the pack's unit registry declares it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, Field(min_length=1, max_length=200)]
    name: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    kind: str | None = Field(default=None, description="e.g. province, municipality, ministry")


class Roster(BaseModel):
    """A named list of units, e.g. the 63 provincial units before the 2025 merger."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    roster: str = Field(min_length=1, description="Name of the roster.")
    description: str | None = None
    units: list[RosterUnit] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> Roster:
        seen: set[str] = set()
        for unit in self.units:
            if unit.id in seen:
                raise ValueError(f"unit '{unit.id}' is listed twice")
            seen.add(unit.id)
        return self

    @property
    def ids(self) -> frozenset[str]:
        """The unit codes."""
        return frozenset(u.id for u in self.units)
