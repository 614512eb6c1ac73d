"""The publisher registry: which systems may report, for which units, and how they prove who they are. No I/O.

A registry is data (a YAML file, ``monitor publishers check`` reads it): each
publisher is the ``source`` its events carry, the units it may report — by
id, or every unit of a roster of the rule pack — its HTTP tokens, kept only
as SHA-256 hashes (so the file can be read by anyone who runs the monitor,
and a token is rotated by adding the new hash before removing the old), and
the public keys its signed events (CloudEvents ``dssematerial``) are checked
with; ``must_sign`` refuses its unsigned ones.
``admission`` binds a registry to a
rule pack's rosters and answers, for one event, whether its publisher may
report its unit, and why not.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from events.models import Identifier
from events.signing import Seal
from monitor.publishers.signatures import VerifyKey, load_public_key, seal_problem
from rules.language import RulePack

__all__ = [
    "Admission",
    "Cause",
    "Publisher",
    "PublisherRegistry",
    "Refusal",
    "SigningKey",
    "TokenHash",
    "admission",
    "registry_changes",
    "registry_version",
    "token_hash",
]

#: A token's SHA-256, as 64 lowercase hexadecimal digits (``monitor publishers hash-token`` prints one).
Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


def token_hash(token: str) -> str:
    """The SHA-256 of a token as the registry keeps it (lowercase hex): the token itself is never stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenHash(BaseModel):
    """One HTTP bearer token of a publisher, kept as its hash; ``label`` says which (issued when, to whom)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sha256: Sha256Hex = Field(description="SHA-256 of the token, lowercase hex.")
    label: str | None = Field(default=None, max_length=200, description="Which token this is, for people.")


class SigningKey(BaseModel):
    """A public key a publisher signs its events with; ``id`` is the ``keyid`` its signatures name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=200, description="The keyid its DSSE signatures carry.")
    public_key: str = Field(description="The PEM public key (Ed25519, or ECDSA P-256).")

    @field_validator("public_key")
    @classmethod
    def _loads(cls, value: str) -> str:
        load_public_key(value)
        return value

    def verify_key(self) -> VerifyKey:
        """The key, loaded."""
        return VerifyKey(self.id, load_public_key(self.public_key))


class Publisher(BaseModel):
    """One publishing system and what it may report."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Identifier = Field(description="The events' 'source': the publishing system, e.g. nghean-dvc.")
    name: str | None = Field(default=None, max_length=200, description="What people call it.")
    units: tuple[Identifier, ...] = Field(default=(), description="Units it may report, by id.")
    rosters: tuple[str, ...] = Field(default=(), description="Rosters of the rule pack whose every unit it may report.")
    tokens: tuple[TokenHash, ...] = Field(default=(), description="Its HTTP bearer tokens, as hashes.")
    keys: tuple[SigningKey, ...] = Field(default=(), description="Public keys its signed events are checked with.")
    must_sign: bool = Field(default=False, description="Whether its events are refused unless signed by one of 'keys'.")

    @property
    def reports(self) -> str:
        """What it may report, in a few words: its units, and each roster as ``roster NAME``."""
        return ", ".join([*self.units, *(f"roster {name}" for name in self.rosters)])

    @model_validator(mode="after")
    def _reports_something(self) -> Publisher:
        if not self.units and not self.rosters:
            raise ValueError(f"publisher '{self.id}' may report no unit: give 'units' or 'rosters'")
        if self.must_sign and not self.keys:
            raise ValueError(f"publisher '{self.id}' must sign but has no key: give 'keys'")
        if len({key.id for key in self.keys}) != len(self.keys):
            raise ValueError(f"publisher '{self.id}' gives one key id twice")
        return self


class PublisherRegistry(BaseModel):
    """Every publisher, and whether units on no roster of the rule pack may be reported at all."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str | None = Field(default=None, max_length=500)
    allow_unrostered: bool = Field(
        default=False,
        description="Whether an event for a unit on no roster of the rule pack and not in its unit registry is "
        "accepted (from a publisher whose units name it).",
    )
    publishers: tuple[Publisher, ...] = Field(description="Every publisher (at least one).")

    @model_validator(mode="after")
    def _unique(self) -> PublisherRegistry:
        if not self.publishers:
            raise ValueError("the registry names no publisher: give at least one under 'publishers'")
        seen: dict[str, str] = {}
        for publisher in self.publishers:
            if publisher.id in seen:
                raise ValueError(f"publisher '{publisher.id}' is listed twice")
            seen[publisher.id] = publisher.id
        hashes: dict[str, str] = {}
        for publisher in self.publishers:
            for token in publisher.tokens:
                other = hashes.setdefault(token.sha256, publisher.id)
                if other != publisher.id or sum(t.sha256 == token.sha256 for t in publisher.tokens) > 1:
                    raise ValueError(f"one token hash is given twice (publishers '{other}' and '{publisher.id}')")
        return self


class Cause(StrEnum):
    """Why an event was refused by the registry (the values of the refusal metrics' ``reason`` label)."""

    UNREGISTERED = "unregistered"  # its source is no publisher of the registry
    UNROSTERED = "unrostered"  # its unit is on no roster nor in the unit registry, and the registry allows none such
    NOT_ITS_UNIT = "not_its_unit"  # its publisher may not report its unit
    NOT_ITS_SOURCE = "not_its_source"  # sent over HTTP with another publisher's token
    UNSIGNED = "unsigned"  # its publisher must sign, and it came without a signature
    BAD_SIGNATURE = "bad_signature"  # its signature does not hold: another key, or the event changed since


@dataclass(frozen=True, slots=True)
class Refusal:
    """An event the registry refuses: the cause (for metrics) and the reason (for the publisher)."""

    cause: Cause
    reason: str


@dataclass(frozen=True, slots=True)
class Admission:
    """A registry bound to a rule pack's rosters: who may report which unit, asked once per event.

    ``refusal`` is ``None`` for an event its publisher may report, else the
    reason, naming the registry and what the publisher may report.
    """

    registry: PublisherRegistry
    version: str
    _units: Mapping[str, frozenset[str]]
    _rostered: frozenset[str]
    _by_token: Mapping[str, str]
    _publishers: Mapping[str, Publisher]
    _keys: Mapping[str, tuple[VerifyKey, ...]]

    def publisher(self, publisher_id: str) -> Publisher | None:
        """The registered publisher with this id."""
        return self._publishers.get(publisher_id)

    def units_of(self, publisher_id: str) -> frozenset[str]:
        """The units a publisher may report (none for one the registry lacks)."""
        return self._units.get(publisher_id, frozenset())

    @property
    def publisher_ids(self) -> tuple[str, ...]:
        """Every registered publisher's id, in registry order (the metric label values)."""
        return tuple(p.id for p in self.registry.publishers)

    def refusal(self, source: str, unit_id: str, seal: Seal | None = None, named: str | None = None) -> Refusal | None:
        """Why ``source`` may not report ``unit_id`` under this registry, or ``None`` when it may.

        ``seal`` is the event's signature, if it came signed: checked whenever the publisher has keys, and
        required when it must sign. A signature from a publisher without keys is not checked. ``named``: the
        unit the event's code named when the unit registry placed it on its successor ``unit_id`` (Hà Giang's
        code after the merger): a publisher that may report either may report the event.
        """
        units = self._units.get(source)
        if units is None:
            return Refusal(Cause.UNREGISTERED, f"publisher '{source}' is not in the publisher registry {self.version}")
        either = (unit_id,) if named is None or named == unit_id else (unit_id, named)
        if not self.registry.allow_unrostered and not any(u in self._rostered for u in either):
            return Refusal(
                Cause.UNROSTERED,
                f"unit '{unit_id}' is on no roster of the rule pack nor in its unit registry, and the publisher "
                f"registry {self.version} does not allow such units",
            )
        if not any(u in units for u in either):
            return Refusal(
                Cause.NOT_ITS_UNIT,
                f"publisher '{source}' may not report unit '{unit_id}' (publisher registry {self.version})",
            )
        keys = self._keys.get(source)
        if keys:
            if seal is None:
                if self._publishers[source].must_sign:
                    return Refusal(
                        Cause.UNSIGNED,
                        f"publisher '{source}' must sign its events (publisher registry {self.version}), "
                        "and this one has no dssematerial",
                    )
                return None
            problem = seal_problem(seal, keys, f"the keys of publisher '{source}'")
            if problem is not None:
                return Refusal(Cause.BAD_SIGNATURE, f"signature refused: {problem} (publisher registry {self.version})")
        return None

    def refusal_from(
        self, publisher: str, source: str, unit_id: str, seal: Seal | None = None, named: str | None = None
    ) -> Refusal | None:
        """``refusal`` for an event sent by ``publisher`` (its HTTP token): its ``source`` must be that publisher."""
        if source != publisher:
            return Refusal(
                Cause.NOT_ITS_SOURCE,
                f"the event's source '{source}' is not the publisher whose token was sent ('{publisher}')",
            )
        return self.refusal(source, unit_id, seal, named)

    def identify(self, token: str) -> str | None:
        """The publisher whose HTTP token this is, or ``None``.

        Looked up by the token's hash: how long the lookup takes tells nothing
        of the token (an attacker cannot choose a hash's first digits).
        """
        return self._by_token.get(token_hash(token))


def registry_version(registry: PublisherRegistry) -> str:
    """The registry's version: the first 12 hex digits of the SHA-256 of its canonical JSON."""
    canonical = json.dumps(registry.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


def admission(registry: PublisherRegistry, pack: RulePack, version: str | None = None) -> Admission:
    """The registry bound to the pack's rosters (a roster the pack lacks grants nothing: check it first)."""
    members = {roster.roster: pack.members(roster) for roster in pack.rosters}
    units = {
        p.id: frozenset(p.units).union(*(members.get(name, frozenset()) for name in p.rosters))
        for p in registry.publishers
    }
    by_token = {t.sha256: p.id for p in registry.publishers for t in p.tokens}
    shown = version if version is not None else registry_version(registry)
    publishers = {p.id: p for p in registry.publishers}
    keys = {p.id: tuple(key.verify_key() for key in p.keys) for p in registry.publishers if p.keys}
    known = pack.rostered_units | pack.units.units.keys()  # a unit the unit registry declares is no stranger
    return Admission(registry, shown, units, known, by_token, publishers, keys)


def registry_changes(old: PublisherRegistry | None, new: PublisherRegistry) -> list[str]:
    """What ``new`` changes from ``old`` (``None``: open mode), one line each: ``+`` added, ``-`` removed, ``~`` changed."""
    if old is None:
        return [f"+ {p.id}: {p.reports}" for p in new.publishers]
    before = {p.id: p for p in old.publishers}
    after = {p.id: p for p in new.publishers}
    lines = [f"- {p.id}: {p.reports}" for p in old.publishers if p.id not in after]
    for publisher in new.publishers:
        previous = before.get(publisher.id)
        if previous is None:
            lines.append(f"+ {publisher.id}: {publisher.reports}")
        elif previous != publisher:
            what = []
            if (previous.units, previous.rosters) != (publisher.units, publisher.rosters):
                what.append(f"{previous.reports} → {publisher.reports}")
            old_tokens, new_tokens = {t.sha256 for t in previous.tokens}, {t.sha256 for t in publisher.tokens}
            if old_tokens != new_tokens:
                what.append(f"tokens: {len(new_tokens - old_tokens)} added, {len(old_tokens - new_tokens)} removed")
            old_keys, new_keys = {k.id: k for k in previous.keys}, {k.id: k for k in publisher.keys}
            if old_keys != new_keys:
                added = sorted(set(new_keys) - set(old_keys))
                removed = sorted(set(old_keys) - set(new_keys))
                replaced = sorted(k for k in set(old_keys) & set(new_keys) if old_keys[k] != new_keys[k])
                what.append(
                    "keys: "
                    + ", ".join([*(f"+{k}" for k in added), *(f"-{k}" for k in removed), *(f"~{k}" for k in replaced)])
                )
            if previous.must_sign != publisher.must_sign:
                what.append("must sign" if publisher.must_sign else "need not sign")
            if previous.name != publisher.name:
                what.append(f"name {previous.name!r} → {publisher.name!r}")
            lines.append(f"~ {publisher.id}: {'; '.join(what) or 'token labels'}")
    if old.allow_unrostered != new.allow_unrostered:
        lines.append(f"~ allow_unrostered: {old.allow_unrostered} → {new.allow_unrostered}")
    return lines
