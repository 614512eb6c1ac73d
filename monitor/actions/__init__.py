"""Operators' actions on alerts: acknowledge, unacknowledge, assign an owner, add a note; and extensions granted.

``model`` says what an action is, ``book`` where each alert stands with its
operators; neither does I/O. The actions topic (``monitor.worker.actions``)
carries them to every worker.
"""

from monitor.actions.book import ActionBook, Standing
from monitor.actions.model import (
    MAX_NOTE_CHARS,
    MAX_OWNER_CHARS,
    ActionKind,
    ActionRequest,
    AlertAction,
    ExtensionRequest,
)

__all__ = [
    "MAX_NOTE_CHARS",
    "MAX_OWNER_CHARS",
    "ActionBook",
    "ActionKind",
    "ActionRequest",
    "AlertAction",
    "ExtensionRequest",
    "Standing",
]
