"""How the API shows an alert: its view, its display texts, and its place in each order a list can be sorted in."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from monitor.actions import ActionBook
from monitor.http.figures import alert_display
from monitor.state.history import stage_began
from rules.language import SEVERITIES, STAGES, RulePack, urgency
from rules.state import AlertFilter, AlertState, AlertTransition
from rules.vietnamese import datetime_text, search_folded

__all__ = [
    "SORTS",
    "SORT_TEXT",
    "Facets",
    "acknowledged",
    "admitted",
    "alert_view",
    "attention_order",
    "filter_alerts",
    "newest_order",
    "order_key",
    "search_text",
    "shown_alert",
    "shown_view",
    "unit_order",
]


def alert_view(
    alert: AlertState | AlertTransition, unit_names: Mapping[str, str], book: ActionBook | None = None
) -> dict[str, Any]:
    """An alert as the API and the feed page show it: a firing alert, or a transition record, with names.

    With ``book``, where the alert's firing interval stands with its operators (``actions``).
    """
    unit = alert.labels.get("unit_id", "")
    named: dict[str, Any] = {"unit_id": unit, "unit_name": unit_names.get(unit, unit)}
    if book is not None:
        named["actions"] = book.standing(alert.fingerprint, alert.starts_at, alert.stage, alert.severity).as_json()
    if isinstance(alert, AlertTransition):
        return {**alert.model_dump(mode="json"), **named, "summary": alert.annotations.get("summary", "")}
    return {
        "fingerprint": alert.fingerprint,
        "status": "firing",
        "rule_id": alert.rule_id,
        "stage": alert.stage,
        "severity": alert.severity,
        **named,
        "labels": alert.labels,
        "summary": alert.summary,
        "starts_at": alert.starts_at.isoformat(),
    }


def shown_alert(
    alert: AlertState | AlertTransition, pack: RulePack, now: datetime, book: ActionBook | None = None
) -> dict[str, Any]:
    """An alert as the API, its event stream and the console show it.

    ``alert_view`` with ``display`` texts (``monitor.http.figures.alert_display``,
    computed at ``now``) and its ``attention`` order key (``attention_order``:
    compared element by element, the smaller comes first).
    """
    return shown_view(alert_view(alert, pack.unit_names, book), alert, pack, now)


def shown_view(
    view: dict[str, Any], alert: AlertState | AlertTransition, pack: RulePack, now: datetime
) -> dict[str, Any]:
    """``view`` (``alert_view`` of ``alert``) with its ``display`` texts at ``now`` and its key for each order."""
    order = {
        sort: [int(part) if isinstance(part, bool) else part for part in key(view)] for sort, key in _ORDERS.items()
    }
    shown = {**view, "display": alert_display(alert, pack, now), "attention": order["attention"], "order": order}
    if view.get("actions"):
        shown["actions"] = _timed_actions(view["actions"], pack.tz)
    return shown


def _timed_actions(actions: Mapping[str, Any], tz: ZoneInfo) -> dict[str, Any]:
    """An alert's ``actions`` with each action's time as the console shows it (``at_text``, in the pack's zone)."""

    def timed(said: Mapping[str, Any] | None) -> dict[str, Any] | None:
        if said is None:
            return None
        return {**said, "at_text": datetime_text(datetime.fromisoformat(said["at"]), tz)}

    return {
        **actions,
        **{key: timed(actions.get(key)) for key in ("acknowledged", "acknowledgement_cleared", "owner")},
        "notes": [timed(note) for note in actions.get("notes", ())],
    }


#: The orders an alert list can be asked for (``?sort=``); the first is the default.
SORTS = ("attention", "newest", "unit")


def _since(alert: Mapping[str, Any]) -> str:
    """When the alert's trouble began (``stage_began``), as ISO in UTC."""
    starts_at = datetime.fromisoformat(str(alert.get("starts_at")))
    return stage_began(str(alert.get("stage")), alert.get("annotations", {}), starts_at).astimezone(UTC).isoformat()


def acknowledged(alert: Mapping[str, Any]) -> bool:
    """Whether an acknowledgement is in force on the alert (its view's ``actions``)."""
    return bool((alert.get("actions") or {}).get("acknowledged"))


def attention_order(alert: Mapping[str, Any]) -> tuple[Any, ...]:
    """What to chase first: firing, critical, nobody's (not acknowledged), overdue, oldest first.

    Firing before resolved, critical before warning, an alert nobody has
    acknowledged before one acknowledged, overdue before due soon. Ties are broken by unit and fingerprint, so every worker lists the same alerts in the same order.
    """
    return (
        alert.get("status") != "firing",
        urgency(SEVERITIES, alert.get("severity")),
        acknowledged(alert),
        urgency(STAGES, alert.get("stage")),
        _since(alert),
        str(alert.get("unit_id")),
        str(alert.get("fingerprint")),
    )


def newest_order(alert: Mapping[str, Any]) -> tuple[float, str]:
    """The latest change first, then by fingerprint.

    A change is when it ended, or started firing: as an instant, so instants
    written with different offsets compare. The key travels in JSON: no
    infinity (an alert without an instant, which none is, would come last).
    """
    at = alert.get("ends_at") or alert.get("starts_at")
    return (-datetime.fromisoformat(str(at)).timestamp() if at else 0.0), str(alert.get("fingerprint"))


def unit_order(alert: Mapping[str, Any]) -> tuple[Any, ...]:
    """By unit id, then in ``attention_order`` within a unit."""
    return (str(alert.get("unit_id")), *attention_order(alert))


#: Each order an alert list can be asked for (``?sort=``), as the key every alert the API shows carries (``order``):
#: the console sorts by it and repeats none of it.
_ORDERS: dict[str, Callable[[Mapping[str, Any]], tuple[Any, ...]]] = {
    "attention": attention_order,
    "newest": newest_order,
    "unit": unit_order,
}
assert tuple(_ORDERS) == SORTS, "an order for every sort"
#: What the console calls each order.
SORT_TEXT = {"attention": "Cần xử lý trước", "newest": "Mới nhất", "unit": "Nhóm theo đơn vị"}
assert tuple(SORT_TEXT) == SORTS, "a name for every sort"


def order_key(sort: str) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """The key of the order ``sort`` names (``SORTS``; the first for any other)."""
    return _ORDERS.get(sort, attention_order)


def admitted(alerts: Iterable[dict[str, Any]], where: AlertFilter) -> list[dict[str, Any]]:
    """The alert views matching every given filter, in their order."""
    return [a for a in alerts if where.admits(a.get("unit_id"), a.get("rule_id"), a.get("severity"))]


def filter_alerts(alerts: Iterable[dict[str, Any]], where: AlertFilter, sort: str = SORTS[0]) -> list[dict[str, Any]]:
    """Alert views matching every given filter, in ``sort`` order (``SORTS``)."""
    return sorted(admitted(alerts, where), key=order_key(sort))


def search_text(view: Mapping[str, Any], display: Mapping[str, Any]) -> str:
    """What a search (``?q=``) looks in, folded (``search_folded``).

    The alert as the console shows it: its summary, the unit's name and id,
    the rule, the task or indicator, and its ``display`` stage and how it ended.
    """
    labels = view.get("labels") or {}
    parts = (
        view.get("summary"),
        view.get("unit_name"),
        view.get("unit_id"),
        view.get("rule_id"),
        labels.get("task_id"),
        labels.get("indicator"),
        display.get("stage"),
        display.get("resolution"),
    )
    return search_folded(" ".join(str(part) for part in parts if part))


class Facets:
    """What the console counts beside a list: how many alerts of each severity, and of each unit.

    Each count leaves its own filter out and keeps the others, so the
    counts say what choosing another severity (or unit) would list. Units
    come by id, each with its total and its count per severity. Alerts are
    added one by one (``add``), so that a long list can be counted in slices.
    """

    def __init__(self, where: AlertFilter) -> None:
        self._any_severity = dataclasses.replace(where, severity=None)
        self._any_unit = dataclasses.replace(where, unit_id=None)
        self._by_severity: dict[str, int] = dict.fromkeys(SEVERITIES, 0)
        self._by_unit: dict[str, dict[str, Any]] = {}

    def add(self, view: Mapping[str, Any]) -> None:
        """Count one alert's view."""
        unit, rule, severity = str(view.get("unit_id")), view.get("rule_id"), str(view.get("severity"))
        if self._any_severity.admits(unit, rule, severity):
            self._by_severity[severity] = self._by_severity.get(severity, 0) + 1
        if self._any_unit.admits(unit, rule, severity):
            row = self._by_unit.get(unit)
            if row is None:
                row = self._by_unit[unit] = {"unit_id": unit, "unit_name": view.get("unit_name"), "total": 0}
                row.update(dict.fromkeys(SEVERITIES, 0))
            row["total"] += 1
            row[severity] = row.get(severity, 0) + 1

    def as_json(self) -> dict[str, Any]:
        """The counts, as the API gives them (``facets``)."""
        return {"severity": self._by_severity, "unit": [self._by_unit[unit] for unit in sorted(self._by_unit)]}
