"""The publishers topic: the publisher registries applied, one record each, read and followed by every worker.

``monitor publishers apply`` publishes a registry once it validates against
the rule pack; every worker without a registry file (``MONITOR_PUBLISHERS``)
follows the topic (``RegistryFollower``) and puts the newest one in force.
Compacted by version, as the rules topic is: the newest record (the highest
offset) is the registry in force.
"""

from __future__ import annotations

from typing import Any

from monitor.publishers import MAX_REGISTRY_BYTES, PublishedRegistry
from monitor.publishers.signatures import SignKey, VerifyKey
from monitor.state.compacted import DocumentFollower, Entry, publish_record, read_entries

__all__ = ["RegistryEntry", "RegistryFollower", "publish_registry", "read_registries"]


class RegistryEntry(Entry[PublishedRegistry]):
    """One record of the publishers topic: the registry it holds (``registry``), or why it holds none."""

    model = PublishedRegistry
    kind = "publisher registry"
    noun = "registry"

    @property
    def registry(self) -> PublishedRegistry | None:
        """The registry the record holds."""
        return self.document


class RegistryFollower(DocumentFollower[RegistryEntry]):
    """Reads the publishers topic from its beginning and follows it; ``entries`` grow in offset order."""

    what = "publisher registries"
    entry = RegistryEntry
    topic_name = "publishers topic"


async def read_registries(
    bootstrap: str,
    topic: str,
    client: dict[str, Any],
    timeout: float = 30.0,
    trusted: tuple[VerifyKey, ...] | None = None,
) -> list[RegistryEntry]:
    """Every record of the publishers topic, in offset order (none when the topic does not exist).

    Raises:
        MonitorError: the topic could not be read to its end within ``timeout`` seconds.
    """
    return await read_entries(RegistryFollower(bootstrap, topic, client, trusted), timeout)


async def publish_registry(
    bootstrap: str, topic: str, client: dict[str, Any], registry: PublishedRegistry, sign_key: SignKey | None = None
) -> int:
    """Publish one registry record (signed with ``sign_key``, if given) and wait for every in-sync replica to have it.

    Returns its offset.
    """
    value = registry.model_dump_json().encode("utf-8")
    return await publish_record(
        bootstrap,
        topic,
        client,
        registry.key,
        value,
        limit=MAX_REGISTRY_BYTES,
        what="registry",
        kind=RegistryEntry.kind,
        sign_key=sign_key,
    )
