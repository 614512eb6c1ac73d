"""A publisher registry as applied to the publishers topic: the registry, its version, who applied it, when and why.

``monitor publishers apply`` publishes one ``PublishedRegistry``; every worker
without a registry file follows the topic and puts the newest one in force
(``monitor.state.registries``). The record holds the registry as validated
data, so a worker reads exactly what was checked when it was applied.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from monitor.publishers.registry import PublisherRegistry, registry_version

__all__ = ["MAX_REGISTRY_BYTES", "PublishedRegistry"]

#: A registry larger than this as a record is refused by ``publishers apply`` (a broker's default largest
#: record is 1 MiB; 3,400 publishers with one token each take about 700 kB).
MAX_REGISTRY_BYTES = 900_000


class PublishedRegistry(BaseModel):
    """One record of the publishers topic: a whole registry and where it came from."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    format: int = Field(default=1, description="The record's layout; a worker reads layouts it knows.")
    version: str = Field(min_length=1, description="The registry's version (``registry_version``).")
    registry: PublisherRegistry
    applied_at: AwareDatetime
    applied_by: str = Field(min_length=1, max_length=200)
    message: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _version_matches(self) -> PublishedRegistry:
        if registry_version(self.registry) != self.version:
            raise ValueError(
                f"the record says version {self.version}, its registry is {registry_version(self.registry)}"
            )
        return self

    @classmethod
    def of(
        cls, registry: PublisherRegistry, *, applied_at: datetime, applied_by: str, message: str = ""
    ) -> PublishedRegistry:
        """The record of ``registry``."""
        return cls(
            version=registry_version(registry),
            registry=registry,
            applied_at=applied_at,
            applied_by=applied_by,
            message=message,
        )

    @property
    def key(self) -> bytes:
        """The record's key: its version, so that compaction keeps the last record of every version."""
        return self.version.encode("utf-8")
