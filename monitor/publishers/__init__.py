"""Who may report what: the publisher registry, its files, and the admission of each event by it.

``registry``: the models and ``Admission`` (a registry bound to a rule
pack's rosters, asked once per event); ``loading``: reading a registry file;
``published``: a registry as a record of the publishers topic;
``signatures``: DSSE signatures on events and on applied records;
``feedback``: what each publisher is told of its events (taken, refused, why).
"""

from monitor.publishers.feedback import RefusalLog, Refused, Tally, refusals_of, refused_header
from monitor.publishers.loading import RegistryFileError, TrustedKeys, load_registry, load_trusted_keys
from monitor.publishers.published import MAX_REGISTRY_BYTES, PublishedRegistry
from monitor.publishers.registry import (
    Admission,
    Cause,
    Publisher,
    PublisherRegistry,
    Refusal,
    SigningKey,
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
    "SigningKey",
    "Tally",
    "TokenHash",
    "TrustedKeys",
    "admission",
    "load_registry",
    "load_trusted_keys",
    "refusals_of",
    "refused_header",
    "registry_changes",
    "registry_version",
    "token_hash",
]
