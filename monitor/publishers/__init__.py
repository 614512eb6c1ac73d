"""Who may report what: the publisher registry, its files, and the admission of each event by it.

``registry``: the models and ``Admission`` (a registry bound to a rule
pack's rosters, asked once per event); ``loading``: reading a registry file.
"""

from monitor.publishers.loading import RegistryFileError, load_registry
from monitor.publishers.registry import (
    Admission,
    Cause,
    Publisher,
    PublisherRegistry,
    Refusal,
    TokenHash,
    admission,
    registry_version,
    token_hash,
)

__all__ = [
    "Admission",
    "Cause",
    "Publisher",
    "PublisherRegistry",
    "Refusal",
    "RegistryFileError",
    "TokenHash",
    "admission",
    "load_registry",
    "registry_version",
    "token_hash",
]
