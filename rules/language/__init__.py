"""The rule language and its compiled form: what a rule file can say, and the pack it compiles to.

One module per rule kind (``deadline``, ``threshold``, ``staleness``,
``aggregate``), each with its pure assessment; what they share (``base``:
identity, severity, selection, messages, and the condition a rule yields;
``limits``: lines with hysteresis; ``matchers`` and ``patterns``: selecting
events; ``templates``: summaries; ``durations`` and ``calendar``: spans,
working days and holidays; ``roster``: the units a rule expects); and
``pack``: ``RulePack`` and ``CompiledRule``, the rules a worker evaluates.
"""

from rules.language.aggregate import (
    OPEN_STATUSES,
    AggregateIndex,
    AggregateRule,
    evaluate_aggregate,
    measure,
    next_aggregate_change,
)
from rules.language.base import (
    BREACH,
    DUE_SOON,
    OVERDUE,
    SEVERITIES,
    STAGES,
    STALE,
    WARNING,
    Condition,
    Severity,
    urgency,
    worst_severity,
)
from rules.language.calendar import WorkCalendar, whole_days
from rules.language.deadline import (
    DeadlineClock,
    DeadlineRule,
    RosterIndex,
    counts_working_days,
    deadline_stage,
    due_is_date,
    is_roster_deadline,
    is_waiting,
    next_deadline_boundary,
    original_due,
    original_is_date,
    roster_due,
    task_due,
)
from rules.language.durations import Duration, WorkingDays, format_duration, parse_duration, parse_span
from rules.language.escalation import ESCALATION_LABEL, EscalationStep, escalated
from rules.language.limits import breached
from rules.language.matchers import Matcher
from rules.language.pack import AnyRule, CompiledRule, IndicatorBounds, Lifetime, RuleFile, RuleGroup, RulePack
from rules.language.patterns import MAX_MATCHED_CHARS, compile_pattern
from rules.language.roster import Roster, RosterSelect
from rules.language.staleness import StalenessRule, evaluate_staleness, next_staleness_change
from rules.language.templates import check_template, render
from rules.language.threshold import ThresholdRule, evaluate_threshold, next_target_change

__all__ = [
    "BREACH",
    "DUE_SOON",
    "ESCALATION_LABEL",
    "MAX_MATCHED_CHARS",
    "OPEN_STATUSES",
    "OVERDUE",
    "SEVERITIES",
    "STAGES",
    "STALE",
    "WARNING",
    "AggregateIndex",
    "AggregateRule",
    "AnyRule",
    "CompiledRule",
    "Condition",
    "DeadlineClock",
    "DeadlineRule",
    "Duration",
    "EscalationStep",
    "IndicatorBounds",
    "Lifetime",
    "Matcher",
    "Roster",
    "RosterIndex",
    "RosterSelect",
    "RuleFile",
    "RuleGroup",
    "RulePack",
    "Severity",
    "StalenessRule",
    "ThresholdRule",
    "WorkCalendar",
    "WorkingDays",
    "breached",
    "check_template",
    "compile_pattern",
    "counts_working_days",
    "deadline_stage",
    "due_is_date",
    "escalated",
    "evaluate_aggregate",
    "evaluate_staleness",
    "evaluate_threshold",
    "format_duration",
    "is_roster_deadline",
    "is_waiting",
    "measure",
    "next_aggregate_change",
    "next_deadline_boundary",
    "next_staleness_change",
    "next_target_change",
    "original_due",
    "original_is_date",
    "parse_duration",
    "parse_span",
    "render",
    "roster_due",
    "task_due",
    "urgency",
    "whole_days",
    "worst_severity",
]
