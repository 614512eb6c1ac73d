"""Who may report what: the publisher registry, its files, and the admission of each event by it.

``registry``: the models and ``Admission`` (a registry bound to a rule
pack's rosters, asked once per event); ``loading``: reading a registry file;
``published``: a registry as a record of the publishers topic;
``feedback``: what each publisher is told of its events (taken, refused, why).
"""

from monitor.publishers.feedback import RefusalLog, Refused, Tally, refusals_of, refused_header
from monitor.publishers.loading import RegistryFileError, load_registry
from monitor.publishers.published import MAX_REGISTRY_BYTES, PublishedRegistry
from monitor.publishers.registry import (
    Admission,
    Cause,
    Publisher,
    PublisherRegistry,
    Refusal,
    TokenHash,
    admission,
    registry_changes,
    registry_version,
    token_hash,
)

__all__ = [
    "MAX_REGISTRY_BYTES",
    "Admission",
    "Cause",
    "PublishedRegistry",
    "Publisher",
    "PublisherRegistry",
    "Refusal",
    "RefusalLog",
    "Refused",
    "RegistryFileError",
    "Tally",
    "TokenHash",
    "admission",
    "load_registry",
    "refusals_of",
    "refused_header",
    "registry_changes",
    "registry_version",
    "token_hash",
]
