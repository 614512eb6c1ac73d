"""Viewers: who may read the monitor's answers, and which units each sees. No I/O.

A viewers file is data: each viewer has an id, the units it may see (by id,
every unit of a roster of the rule pack, or ``all``), its bearer tokens kept
as SHA-256 hashes (as the publisher registry keeps publishers' tokens), and
the user names a trusted authenticating proxy may send for it (the
oauth2-proxy pattern: ``X-Forwarded-Email``). ``viewer_access`` binds a file
to a rule pack's rosters: a ``Scope`` per token and per user.

A file may also let requests that bring no credential read some units
(``anonymous``, as Grafana's anonymous viewers): a wall screen, an intranet
page. Such a reader is nobody: it may read, never act on an alert.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, model_validator

from events.models import Identifier
from monitor.publishers.registry import TokenHash, token_hash
from rules.language import RulePack

__all__ = ["ALL_UNITS", "AnonymousReaders", "Scope", "Viewer", "ViewerAccess", "ViewerRegistry", "viewer_access"]

#: The scope of a viewer who sees every unit (the working group).
ALL_UNITS: frozenset[str] | None = None


class Viewer(BaseModel):
    """One viewer (a person, a team, a dashboard) and the units it may see."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Identifier = Field(description="The viewer's id, e.g. nghean-stttt.")
    name: str | None = Field(default=None, max_length=200, description="What people call it.")
    all: bool = Field(default=False, description="Sees every unit (the working group).")
    units: tuple[Identifier, ...] = Field(default=(), description="Units it may see, by id.")
    rosters: tuple[str, ...] = Field(default=(), description="Rosters of the rule pack whose every unit it may see.")
    tokens: tuple[TokenHash, ...] = Field(default=(), description="Its bearer tokens, as hashes.")
    users: tuple[str, ...] = Field(
        default=(), description="User names (e-mail addresses) a trusted authenticating proxy sends for it."
    )
    extends: bool = Field(
        default=False,
        description="May grant extensions of its units' deadlines (the working group's decisions), with a reference.",
    )

    @property
    def sees(self) -> str:
        """What it may see, in a few words."""
        if self.all:
            return "every unit"
        return ", ".join([*self.units, *(f"roster {name}" for name in self.rosters)])

    @model_validator(mode="after")
    def _sees_something(self) -> Viewer:
        if self.all and (self.units or self.rosters):
            raise ValueError(f"viewer '{self.id}' sees every unit ('all: true'): give no 'units' or 'rosters' too")
        if not self.all and not self.units and not self.rosters:
            raise ValueError(f"viewer '{self.id}' may see no unit: give 'units', 'rosters' or 'all: true'")
        if not self.tokens and not self.users:
            raise ValueError(f"viewer '{self.id}' has no way in: give 'tokens' or 'users'")
        return self


class AnonymousReaders(BaseModel):
    """What a request that brings no credential may read (nothing, without this part of the file)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    all: bool = Field(default=False, description="Every unit.")
    units: tuple[Identifier, ...] = Field(default=(), description="Units it may read, by id.")
    rosters: tuple[str, ...] = Field(default=(), description="Rosters of the rule pack whose every unit it may read.")

    @model_validator(mode="after")
    def _reads_something(self) -> AnonymousReaders:
        if self.all and (self.units or self.rosters):
            raise ValueError("anonymous readers read every unit ('all: true'): give no 'units' or 'rosters' too")
        if not self.all and not self.units and not self.rosters:
            raise ValueError(
                "anonymous readers may read no unit: give 'units', 'rosters' or 'all: true', or leave it out"
            )
        return self


class ViewerRegistry(BaseModel):
    """Every viewer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str | None = Field(default=None, max_length=500)
    viewers: tuple[Viewer, ...] = Field(description="Every viewer (at least one).")
    anonymous: AnonymousReaders | None = Field(
        default=None, description="What a request without a credential may read (it may never act on an alert)."
    )

    @model_validator(mode="after")
    def _unique(self) -> ViewerRegistry:
        if not self.viewers:
            raise ValueError("the file names no viewer: give at least one under 'viewers'")
        for what, values in (
            ("viewer id", [v.id for v in self.viewers]),
            ("token hash", [t.sha256 for v in self.viewers for t in v.tokens]),
            ("user", [u.lower() for v in self.viewers for u in v.users]),
        ):
            twice = sorted({value for value in values if values.count(value) > 1})
            if twice:
                raise ValueError(f"one {what} is given twice: {twice[0][:64]}")
        return self


@dataclass(frozen=True, slots=True)
class Scope:
    """What one viewer may see: its units (``None``: every unit).

    ``viewer`` is empty for a reader who is nobody (no viewers file, or an
    anonymous reader): it may read, but not act. ``user`` is the person a
    trusted proxy named, when the request came through one.
    """

    viewer: str
    name: str
    units: frozenset[str] | None
    user: str | None = None
    extends: bool = False  # may grant extensions of the deadlines of its units

    @property
    def identified(self) -> bool:
        """Whether a viewer is known: only one may act on an alert."""
        return bool(self.viewer)

    def admits(self, unit_id: str) -> bool:
        """Whether the viewer may see ``unit_id``."""
        return self.units is None or unit_id in self.units

    def only(self, unit_ids: Iterable[str]) -> list[str]:
        """The ids of ``unit_ids`` the viewer may see, in their order."""
        return list(unit_ids) if self.units is None else [u for u in unit_ids if u in self.units]

    def as_json(self) -> dict[str, object]:
        """The scope as ``/api/v1/viewers/me`` shows it."""
        return {
            "viewer": self.viewer,
            "name": self.name,
            "user": self.user,
            "identified": self.identified,
            "all_units": self.units is None,
            "units": sorted(self.units) if self.units is not None else None,
            "extends": self.extends,
        }


@dataclass(frozen=True, slots=True)
class ViewerAccess:
    """A viewers file bound to a rule pack's rosters: the scope of each token and each user."""

    registry: ViewerRegistry
    version: str
    _by_token: Mapping[str, Scope]
    _by_user: Mapping[str, Scope]
    #: What a request without a credential may read (``None``: nothing, it is asked who it is).
    anonymous: Scope | None = None

    @property
    def open_to_anyone(self) -> bool:
        """Whether a request without any credential reads every unit (anonymous readers of ``all``)."""
        return self.anonymous is not None and self.anonymous.units is None

    def for_token(self, token: str) -> Scope | None:
        """The scope of the viewer whose token this is (looked up by its hash), or ``None``."""
        return self._by_token.get(token_hash(token))

    def for_user(self, user: str) -> Scope | None:
        """The scope of the viewer a proxy names by this user name (letter case does not count), or ``None``."""
        scope = self._by_user.get(user.strip().lower())
        return None if scope is None else dataclasses.replace(scope, user=user.strip())


def viewer_access(registry: ViewerRegistry, pack: RulePack) -> ViewerAccess:
    """The file bound to the pack's rosters (a roster the pack lacks gives nothing: ``load_viewers`` checks it)."""
    members = {roster.roster: pack.members(roster) for roster in pack.rosters}
    by_token: dict[str, Scope] = {}
    by_user: dict[str, Scope] = {}

    def units(who: Viewer | AnonymousReaders) -> frozenset[str] | None:
        if who.all:
            return ALL_UNITS
        return frozenset(who.units).union(*(members.get(name, frozenset()) for name in who.rosters))

    for viewer in registry.viewers:
        scope = Scope(viewer.id, viewer.name or viewer.id, units(viewer), extends=viewer.extends)
        by_token.update({token.sha256: scope for token in viewer.tokens})
        by_user.update({user.lower(): scope for user in viewer.users})
    canonical = json.dumps(registry.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    version = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]
    anonymous = None if registry.anonymous is None else Scope("", "", units(registry.anonymous))
    return ViewerAccess(registry, version, by_token, by_user, anonymous)
