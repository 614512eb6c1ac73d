"""What the console shows beside the API's data: Vietnamese texts for alerts, overdue rows, indicators, units.

Every date, percentage and count of days the feed page shows is computed
here, with ``rules.vietnamese``, at answer time: the page only puts these
texts on screen. Pure functions of a rule pack, what the
worker holds and ``now``; no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from rules.language import (
    BREACH,
    ESCALATION_LABEL,
    OVERDUE,
    AggregateRule,
    AnyRule,
    CompiledRule,
    DeadlineRule,
    RulePack,
    StalenessRule,
    ThresholdRule,
    breached,
    counts_working_days,
    due_is_date,
    parse_span,
    whole_days,
    worst_severity,
)
from rules.state import AlertState, AlertTransition, Subject, SubjectKind, UnitState, due_instant
from rules.units import Level
from rules.vietnamese import (
    RESOLUTION_TEXT,
    STAGE_TEXT,
    STATUS_TEXT,
    date_text,
    datetime_text,
    days_overdue,
    due_text,
    figure_texts,
    late_text,
    overdue_text,
    span_text,
)

__all__ = [
    "ALERT_COLUMNS",
    "alert_display",
    "alert_row",
    "indicator_rows",
    "overdue_display",
    "rosters_view",
    "worst_severity",
]


def _tz(pack: RulePack, compiled: CompiledRule | None) -> ZoneInfo:
    """The rule's zone; a rule that left the pack counts in the pack's (``RulePack.tz``)."""
    return compiled.tz if compiled is not None else pack.tz


def _stage_text(rule: AnyRule | None, stage: str) -> str:
    """``quá hạn``, ``sắp đến hạn``…; a breach of a ``below`` line reads "dưới mục tiêu"."""
    if stage == BREACH and isinstance(rule, ThresholdRule | AggregateRule) and rule.below is not None:
        return "dưới mục tiêu"
    return STAGE_TEXT.get(stage, stage)


def _due_reads_as_date(rule: AnyRule | None, due: datetime, tz: ZoneInfo) -> bool:
    """Whether an alert's due instant stands for a date, known from the rule and the instant alone.

    An alert record does not carry the task, so ``due_is_date`` cannot be
    asked about it: a task's own deadline (``due_from: deadline``) that falls
    on a local midnight is taken for a date deadline (the end of the day
    before, as it is stored); a working-day ``within`` always is; a fixed
    ``due`` never is.
    """
    if not isinstance(rule, DeadlineRule):
        return False
    if rule.due_from is not None:
        return due.astimezone(tz).time() == time(0)
    return due_is_date(rule, None)


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def alert_display(alert: AlertTransition | AlertState, pack: RulePack, now: datetime) -> dict[str, Any]:
    """The texts the console shows for an alert, computed now (the firing record's summary may be days old).

    Keys, each present when it applies: ``stage`` (``quá hạn``…), ``starts``
    (``20/07/2024 00:00``), ``due`` (``19/07/2024`` for a date deadline, else
    with its time), ``days_overdue`` (whole days since the due instant, working
    days where the rule counts them) and ``overdue`` (``quá hạn 18 ngày``) for a
    firing overdue alert, ``value`` and ``target`` (``45,8 %``) for a breach,
    ``last_report`` for a stale subject, ``escalated`` (``nâng mức sau 5 ngày
    làm việc``) and ``escalated_to`` for an alert escalated by age; for a resolved alert ``ends``,
    ``resolution`` (``hoàn thành muộn 5 ngày``…) and ``late_days``.
    """
    compiled = pack.by_id(alert.rule_id)
    rule = compiled.rule if compiled is not None else None
    tz = _tz(pack, compiled)
    annotations = alert.annotations
    shown: dict[str, Any] = {
        "stage": _stage_text(rule, alert.stage),
        "starts": datetime_text(alert.starts_at, tz),
    }
    working = isinstance(rule, DeadlineRule) and counts_working_days(rule)
    firing = not isinstance(alert, AlertTransition) or alert.status == "firing"
    instant = due_instant(annotations)
    if instant is not None:
        shown["due"] = due_text(instant, tz, _due_reads_as_date(rule, instant, tz))
        if firing and alert.stage == OVERDUE:
            days = days_overdue(compiled, instant, now) if compiled is not None else whole_days(instant, now, tz)
            shown |= {"days_overdue": days, "overdue": overdue_text(days, working)}
    value = alert.value if isinstance(alert, AlertTransition) else None
    target = _number(annotations.get("target"))
    if compiled is not None and alert.stage == BREACH and (value is not None or target is not None):
        value_text, target_text = figure_texts(
            compiled, alert.labels.get("indicator"), value, target, pack.indicator_bounds
        )
        shown |= {k: v for k, v in (("value", value_text), ("target", target_text)) if v is not None}
    escalation = annotations.get("escalated_after")
    if escalation and firing:  # "nâng mức sau 5 ngày làm việc", and to whom
        try:
            shown["escalated"] = f"nâng mức sau {span_text(parse_span(escalation))}"
        except ValueError:  # a record from elsewhere: its own words
            shown["escalated"] = f"nâng mức sau {escalation}"
        receiver = alert.labels.get(ESCALATION_LABEL)
        if receiver:
            shown["escalated_to"] = receiver
    last = annotations.get("last_report")
    if last:
        shown["last_report"] = "chưa bao giờ" if last == "never" else datetime_text(datetime.fromisoformat(last), tz)
    if isinstance(alert, AlertTransition) and alert.status == "resolved":
        shown |= _resolution(alert, tz, working, isinstance(rule, StalenessRule))
    return shown


def _resolution(alert: AlertTransition, tz: ZoneInfo, working: bool, staleness: bool) -> dict[str, Any]:
    """How a resolved alert ended, and when: ``hoàn thành muộn 5 ngày`` with ``late_days`` 5."""
    annotations = alert.annotations
    resolution = annotations.get("resolution", "")
    shown: dict[str, Any] = {"ends": datetime_text(alert.ends_at, tz)} if alert.ends_at is not None else {}
    late_days = annotations.get("late_days")
    if resolution == "completed_late" and late_days is not None and late_days.isdigit():
        shown |= {"late_days": int(late_days), "resolution": f"hoàn thành {late_text(int(late_days), working)}"}
    elif resolution == "completed_late":
        shown["resolution"] = "hoàn thành muộn"
    elif resolution == "recovered" and staleness:
        shown["resolution"] = "đã có báo cáo mới"
    elif resolution:
        shown["resolution"] = RESOLUTION_TEXT.get(resolution, resolution)
    else:
        shown["resolution"] = "đã kết thúc"
    return shown


#: The columns of an alert list as CSV (``/api/v1/alerts?format=csv``): the API's fields, machine-readable.
ALERT_COLUMNS = (
    "unit_id",
    "unit_name",
    "rule_id",
    "severity",
    "stage",
    "status",
    "summary",
    "starts_at",
    "ends_at",
    "due",
    "days_overdue",
    "value",
    "target",
    "resolution",
    "late_days",
    "task_id",
    "indicator",
    "acknowledged_by",
    "acknowledged_at",
    "owner",
    "fingerprint",
)


def alert_row(view: Mapping[str, Any]) -> dict[str, Any]:
    """An alert view (``views.shown_alert``) as one CSV row of ``ALERT_COLUMNS``: instants ISO 8601, numbers plain."""
    annotations = view.get("annotations") or {}
    labels = view.get("labels") or {}
    late_days = annotations.get("late_days")
    actions = view.get("actions") or {}
    acknowledged, owner = actions.get("acknowledged"), actions.get("owner")
    return {
        **{k: view.get(k) for k in ("unit_id", "unit_name", "rule_id", "severity", "stage", "status", "summary")},
        "starts_at": view.get("starts_at"),
        "ends_at": view.get("ends_at"),
        "due": annotations.get("due"),
        "days_overdue": (view.get("display") or {}).get("days_overdue"),
        "value": view.get("value"),
        "target": _number(annotations.get("target")),
        "resolution": annotations.get("resolution"),
        "late_days": int(late_days) if late_days and late_days.isdigit() else None,
        "task_id": labels.get("task_id"),
        "indicator": labels.get("indicator"),
        "acknowledged_by": (acknowledged or {}).get("who"),
        "acknowledged_at": (acknowledged or {}).get("at"),
        "owner": (owner or {}).get("owner"),
        "fingerprint": view.get("fingerprint"),
    }


def overdue_display(pack: RulePack, state: UnitState, row: Mapping[str, Any]) -> dict[str, Any]:
    """The texts of one overdue-list row (``views.overdue_items``): its due date, days overdue and status.

    The task is in the unit's state here, so a date deadline is known for what it is (``due_is_date``).
    """
    compiled = pack.by_id(str(row["rule_id"]))
    rule = compiled.rule if compiled is not None else None
    task = state.tasks.get(str(row["task_id"])) if row["task_id"] else None
    working = isinstance(rule, DeadlineRule) and counts_working_days(rule)
    shown: dict[str, Any] = {
        "overdue": overdue_text(int(row["days_overdue"]), working),
        "status": STATUS_TEXT.get(str(row["status"]), str(row["status"])),
    }
    if row["due"]:
        date_only = isinstance(rule, DeadlineRule) and due_is_date(rule, task)
        shown["due"] = due_text(datetime.fromisoformat(str(row["due"])), _tz(pack, compiled), date_only)
    if row.get("reported_at"):
        at = datetime_text(datetime.fromisoformat(str(row["reported_at"])), _tz(pack, compiled))
        shown["reported"] = f"{row['reported_by']}, {at}"
    return shown


def _firing_subjects(state: UnitState) -> set[tuple[str, str]]:
    """(rule id, indicator) of every indicator alert firing in the unit."""
    firing = set()
    for alert in state.alerts.values():
        kind, name = Subject.parse(alert.subject)
        if kind is SubjectKind.INDICATOR:
            firing.add((alert.rule_id, name))
    return firing


def indicator_rows(pack: RulePack, state: UnitState, now: datetime) -> list[dict[str, Any]]:
    """The unit's indicators against the targets of the threshold rules about them, by indicator name.

    One row per (indicator, threshold rule): the latest value (``None`` when
    the unit never reported an indicator a rule expects of it), the target in
    effect now, which side of it the value must stay (``below``: at least the
    target; ``above``: at most), whether the rule's alert fires (``breach``),
    and ``display`` texts (``45,8 %``, ``≥ 50 %``, the report's date).
    """
    firing = _firing_subjects(state)
    expected = {
        name
        for compiled in pack.indicator_rules
        if isinstance(compiled.rule, ThresholdRule) and compiled.covers(state.unit_id)
        for name in [compiled.rule.indicator]
        if name != "*"
    }
    rows = []
    for name in sorted(set(state.indicators) | expected):
        report = state.indicators.get(name)
        for compiled in pack.indicator_rules_for(name):
            rule = compiled.rule
            if not isinstance(rule, ThresholdRule) or not compiled.judges_indicator(state.unit_id, name, report):
                continue
            target, resolve = rule.lines_at(now)
            value = report.value if report is not None else None
            value_text, target_text = figure_texts(compiled, name, value, target, pack.indicator_bounds)
            is_firing = (rule.id, name) in firing
            meets = None if value is None else not (is_firing or breached(rule, value, False, target, resolve))
            display: dict[str, Any] = {
                "value": value_text if value_text is not None else "chưa báo cáo",
                "target": f"{'≥' if rule.below is not None else '≤'} {target_text}",
                "assessment": "chưa báo cáo" if meets is None else "đạt" if meets else _stage_text(rule, BREACH),
            }
            if report is not None:
                display["reported"] = date_text(report.occurred_at, compiled.tz)
                display["reported_by"] = report.source
            rows.append(
                {
                    "indicator": name,
                    "rule_id": rule.id,
                    "severity": rule.severity,
                    "value": value,
                    "target": target,
                    "direction": "below" if rule.below is not None else "above",
                    "period": report.period if report is not None else None,
                    "reported_at": report.occurred_at.isoformat() if report is not None else None,
                    "reported_by": report.source if report is not None else None,
                    "breach": is_firing,
                    "meets": meets,
                    "display": display,
                }
            )
    return rows


def rosters_view(pack: RulePack, now: datetime) -> list[dict[str, Any]]:
    """The rosters the pack's rules name, in that order, each with its units.

    A roster's units are those it lists, or those it selects from the unit registry that are in force at ``now``;
    a unit that no longer exists says which unit it ``became`` (Hà Giang: Tuyên Quang), for the map.
    ``in_force`` says every unit of the roster exists at ``now``: the rosters of today come first, those of
    a former structure (the 63 provinces before 2025-07-01) after them, each group in the pack's order.
    """
    shown = []
    for roster in pack.rosters:
        if roster.select is None:
            listed = [(u.id, pack.unit_name(u.id), u.kind or _kind(pack, u.id)) for u in roster.units]
            current = all(unit is None or unit.alive(now) for unit in map(pack.units.get, roster.ids))
        else:
            chosen = pack.units.in_force(now, roster.select.level, roster.select.parent)
            listed, current = [(u.id, u.name, u.kind) for u in chosen], True
        units = [
            {"id": unit_id, "name": name, "kind": kind, **_became(pack, unit_id, now)} for unit_id, name, kind in listed
        ]
        shown.append(
            {
                "roster": roster.roster,
                "description": roster.description,
                "in_force": current,
                "rules": True,
                "units": units,
            }
        )
    return sorted([*shown, *_today_of(pack, shown, now)], key=lambda r: not r["in_force"])


def _today_of(pack: RulePack, shown: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Today's units of each level only former rosters cover: the 17 ministries of today for the 23 of 2024.

    The overview shows them first, the former roster folded. ``rules`` is false: no rule names such a roster.
    """
    levels = {roster["roster"]: {_level(pack, u["id"]) for u in roster["units"]} for roster in shown}
    covered = {level for roster in shown if roster["in_force"] for level in levels[roster["roster"]]}
    today = []
    for roster in shown:
        (level, *others) = levels[roster["roster"]] or {None}
        if roster["in_force"] or others or level is None or level in covered or level == Level.COMMUNE:
            continue
        covered.add(level)
        units = [{"id": u.id, "name": u.name, "kind": u.kind} for u in pack.units.in_force(now, Level(level))]
        description = re.sub(r"\s*\(.*\)$", "", roster["description"] or roster["roster"]) + " (hiện nay)"
        today.append(
            {
                "roster": f"{level}-in-force",
                "description": description,
                "in_force": True,
                "rules": False,
                "units": units,
            }
        )
    return today


def _level(pack: RulePack, unit_id: str) -> str | None:
    unit = pack.units.get(unit_id)
    return unit.level.value if unit is not None else None


def _became(pack: RulePack, unit_id: str, now: datetime) -> dict[str, str]:
    """``{"became": id}`` for a unit that no longer exists and went whole into one in force ``now``; else nothing."""
    unit = pack.units.get(unit_id)
    if unit is None or unit.alive(now):
        return {}
    successors = pack.units.successors(unit_id, now)
    return {"became": successors[0]} if len(successors) == 1 else {}


def _kind(pack: RulePack, unit_id: str) -> str | None:
    unit = pack.units.get(unit_id)
    return unit.kind if unit is not None else None
