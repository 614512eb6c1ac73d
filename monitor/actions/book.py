"""Where each alert stands with its operators: acknowledged by whom, owned by whom, with which notes. No I/O.

The book takes actions in the actions topic's order (one partition, so every
worker takes them in the same order and comes to the same answer), once each
by id. What stands for a firing interval is read against the alert as it is
now:

- the last acknowledge or unacknowledge decides, and an acknowledgement holds
  only while the alert keeps the stage and severity it had when it was taken:
  an alert that escalates (overdue after due soon, critical after warning)
  is no one's any more and returns to the top of the list;
- the last assign names the owner (an empty owner: nobody), whatever the
  alert's stage;
- every note is kept, in order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.actions.model import ActionKind, AlertAction

__all__ = ["ActionBook", "Standing"]


@dataclass(frozen=True, slots=True)
class Standing:
    """What stands for one firing interval of an alert, read against its stage and severity now."""

    actions: tuple[AlertAction, ...]  # every action on the interval, in the topic's order
    acknowledged: AlertAction | None  # the acknowledgement in force
    cleared: AlertAction | None  # the last acknowledgement, when the alert escalated since
    owner: AlertAction | None  # the assign in force (none when the last gave the alert back)

    @property
    def notes(self) -> tuple[AlertAction, ...]:
        """The actions that carry a note (notes, and acknowledgements with one), in order."""
        return tuple(action for action in self.actions if action.note is not None)

    def as_json(self) -> dict[str, Any]:
        """As the API shows it beside the alert."""
        return {
            "acknowledged": _said(self.acknowledged),
            "acknowledgement_cleared": _said(self.cleared),
            "owner": None if self.owner is None else {**_fields(self.owner), "owner": self.owner.owner},
            "notes": [_fields(action) for action in self.notes],
            "actions": len(self.actions),
        }


def _said(action: AlertAction | None) -> dict[str, Any] | None:
    return None if action is None else _fields(action)


def _fields(action: AlertAction) -> dict[str, Any]:
    return {
        "by": action.by,
        "by_name": action.by_name,
        "user": action.user,
        "who": action.who,
        "at": action.at.isoformat(),
        "stage": action.stage,
        "severity": action.severity,
        **({"note": action.note} if action.note is not None else {}),
    }


class ActionBook:
    """Every action taken, by the firing interval it is about."""

    def __init__(self) -> None:
        self._ids: set[str] = set()
        self._by_fingerprint: dict[str, list[AlertAction]] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def take(self, action: AlertAction) -> bool:
        """Take one action (in the topic's order); ``False`` when it was taken already (published twice)."""
        if action.id in self._ids:
            return False
        self._ids.add(action.id)
        self._by_fingerprint.setdefault(action.fingerprint, []).append(action)
        return True

    def take_all(self, actions: Iterable[AlertAction]) -> list[AlertAction]:
        """Take each action in order; the ones that were new."""
        return [action for action in actions if self.take(action)]

    def has(self, action_id: str) -> bool:
        """Whether the action with this id has been taken."""
        return action_id in self._ids

    def of_alert(self, fingerprint: str) -> tuple[AlertAction, ...]:
        """Every action on an alert, each firing interval's, in order."""
        return tuple(self._by_fingerprint.get(fingerprint, ()))

    def actions(self, fingerprint: str, starts_at: datetime) -> tuple[AlertAction, ...]:
        """Every action on one firing interval, in order."""
        taken = self._by_fingerprint.get(fingerprint)
        if not taken:  # most alerts: nobody acted on them (every list asks for each alert)
            return ()
        began = starts_at.timestamp()
        return tuple(a for a in taken if a.starts_at.timestamp() == began)

    def standing(self, fingerprint: str, starts_at: datetime, stage: str, severity: str) -> Standing:
        """What stands for the interval that began at ``starts_at``, the alert being at ``stage`` and ``severity``."""
        actions = self.actions(fingerprint, starts_at)
        last_ack: AlertAction | None = None
        owner: AlertAction | None = None
        for action in actions:
            if action.action is ActionKind.ACKNOWLEDGE:
                last_ack = action
            elif action.action is ActionKind.UNACKNOWLEDGE:
                last_ack = None
            elif action.action is ActionKind.ASSIGN:
                owner = action if action.owner else None
        if last_ack is not None and (last_ack.stage, last_ack.severity) != (stage, severity):
            return Standing(actions, None, last_ack, owner)
        return Standing(actions, last_ack, None, owner)
