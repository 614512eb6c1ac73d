"""What a unit registry file says: units with their codes, parent, validity and lineage.

A registry file (YAML, top-level ``units``, or a CSV table with the same
columns) declares units once; rosters and rules name them by id. A unit
exists from ``from`` (inclusive) until ``until`` (the first day it no
longer exists: the effective date of the merger that ended it), both dates in
the registry's time zone (Vietnam's). When it ends, ``merged_into`` names its
successor (one unit: a merger) or successors (several: a split).

Codes are how other systems name the unit: the national administrative-unit
code (two digits for a province, five for a commune), ISO 3166-2, or any
other code a publisher sends. A code may be bounded in time (``from`` and
``until`` of its own): after 2025-07-01 the national code 15 names Lào Cai,
before it Yên Bái.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from events.text import IDENTIFIER_PATTERN, MAX_IDENTIFIER_CHARS

__all__ = ["Code", "CodeKind", "FormerName", "Level", "UnitFile", "UnitSpec"]

Identifier = Annotated[str, Field(min_length=1, max_length=MAX_IDENTIFIER_CHARS, pattern=IDENTIFIER_PATTERN)]


class Level(StrEnum):
    """Where a unit sits: a province (or centrally-run city), a commune (xã, phường, đặc khu), a ministry."""

    PROVINCE = "province"
    COMMUNE = "commune"
    MINISTRY = "ministry"
    OTHER = "other"


class CodeKind(StrEnum):
    """What kind of code names a unit; events are counted by the kind of code they came with."""

    ID = "id"  # the unit's own id
    NATIONAL = "national"  # the national administrative-unit code (Mã đơn vị hành chính)
    ISO = "iso"  # ISO 3166-2
    OTHER = "other"  # a code some publishing system uses


class _Dated(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    valid_from: date | None = Field(default=None, alias="from", description="First day (inclusive).")
    until: date | None = Field(default=None, description="First day no longer valid.")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.valid_from is not None and self.until is not None and self.valid_from >= self.until:
            raise ValueError(f"'until' ({self.until}) must come after 'from' ({self.valid_from})")
        return self


class Code(_Dated):
    """One code of a unit, over the unit's whole life unless bounded by its own ``from`` and ``until``."""

    code: Identifier
    kind: CodeKind = CodeKind.OTHER


class FormerName(BaseModel):
    """A name the unit had until a date (Thừa Thiên Huế until 2025-01-01, then Huế)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=300)]
    until: date


class UnitSpec(_Dated):
    """One unit as a registry file declares it."""

    id: Identifier
    name: Annotated[str, Field(min_length=1, max_length=300)]
    level: Level = Level.OTHER
    kind: str | None = Field(default=None, max_length=100, description="e.g. province, municipality, ward, agency.")
    parent: Identifier | None = Field(default=None, description="The unit it belongs to (a commune's province).")
    merged_into: list[Identifier] = Field(
        default_factory=list, description="Its successor when it ends (several: it was split among them)."
    )
    national: Identifier | None = Field(default=None, description="The national administrative-unit code.")
    iso: Identifier | None = Field(default=None, description="The ISO 3166-2 code, when it is not the id.")
    codes: list[Code] = Field(default_factory=list, description="Other codes, each with its own validity if bounded.")
    former_names: list[FormerName] = Field(default_factory=list)

    @model_validator(mode="after")
    def _lineage(self) -> Self:
        if self.merged_into and self.until is None:
            raise ValueError("'merged_into' needs 'until', the day the merger took effect")
        if self.id in self.merged_into:
            raise ValueError("a unit cannot be merged into itself")
        return self

    def all_codes(self) -> list[tuple[str, CodeKind, date | None, date | None]]:
        """Its codes as (code, kind, from, until), the ``national`` and ``iso`` shorthands written out."""
        found = [(c.code, c.kind, c.valid_from, c.until) for c in self.codes]
        if self.iso:
            found.insert(0, (self.iso, CodeKind.ISO, None, None))
        if self.national:
            found.insert(0, (self.national, CodeKind.NATIONAL, None, None))
        return found


class UnitFile(BaseModel):
    """A YAML registry file: a name, and its units."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    registry: str = Field(min_length=1, description="Name of this part of the registry, e.g. provinces.")
    description: str | None = None
    source: str | None = Field(default=None, description="Where the data comes from.")
    units: list[UnitSpec] = Field(min_length=1)
