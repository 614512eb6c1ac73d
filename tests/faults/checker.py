"""The fault suite's checker: what the published events imply, against the alerts topic and the workers' views.

It shares no code with the monitor's engine: the workload is chosen so that
its outcome is plain from the events alone. Every task is published with a
deadline in the past and status ``in_progress`` (so the bundled pack's
``task-overdue`` rule must fire it once, ``overdue``), and some are later
published ``completed`` (so it must resolve once, ``completed_late``, ending
at the completion's ``occurred_at``).

- **lost**: an implied record that is not on the topic;
- **duplicated**: a record that repeats the one before it for the same alert
  (same status, stage, step and due instant), for any rule, or a second firing or
  resolution of a task beyond what the events imply;
- **wrong**: a resolution with another reason or end time than the events
  imply, or one the events do not imply at all (a task still overdue);
- **views wrong**: a unit whose tasks by status, or overdue count, in the
  answer of the worker that owns it differs from the events;
- **zombie**: a record written under an older consumer group generation
  than a record before it on the same partition of the alerts topic (the
  ``monitor-generation`` header): a worker the group had moved on from still
  wrote. Counted apart from the others (it is the window docs/exactly-once.md
  describes), and it must be 0 as well.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["Report", "Workload", "check_alerts", "check_generations", "check_views"]

RULE = "task-overdue"


@dataclass
class Workload:
    """What was published: per (unit, task), its last status and when it was completed, if it was."""

    tasks: dict[tuple[str, str], str] = field(default_factory=dict)
    completed_at: dict[tuple[str, str], datetime] = field(default_factory=dict)
    #: Tasks in progress whose deadline is far ahead: they must never fire.
    not_due: set[tuple[str, str]] = field(default_factory=set)

    def overdue(self, unit: str, task: str) -> None:
        self.tasks[(unit, task)] = "in_progress"

    def pending(self, unit: str, task: str) -> None:
        """A task in progress, due long after the run."""
        self.tasks[(unit, task)] = "in_progress"
        self.not_due.add((unit, task))

    def completed(self, unit: str, task: str, at: datetime) -> None:
        self.tasks[(unit, task)] = "completed"
        self.completed_at[(unit, task)] = at
        self.not_due.discard((unit, task))

    def units(self) -> list[str]:
        return sorted({unit for unit, _ in self.tasks})


@dataclass
class Report:
    """What the checker found; every count must be 0."""

    lost: int = 0
    duplicated: int = 0
    wrong: int = 0
    views_wrong: int = 0
    zombie: int = 0
    detail: list[str] = field(default_factory=list)
    unresolved: list[tuple[str, str]] = field(default_factory=list)  # (unit, task) completed, never resolved

    def note(self, kind: str, text: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        if len(self.detail) < 40:
            self.detail.append(f"{kind}: {text}")

    @property
    def clean(self) -> bool:
        return self.lost == self.duplicated == self.wrong == self.views_wrong == self.zombie == 0


def _same_transition(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """The same status, stage, step (a warning's or an escalation's) and due instant: a repeat (docs/alerts.md)."""

    def key(record: Mapping[str, Any]) -> tuple[str, ...]:
        notes = record.get("annotations", {})
        step = notes.get("warn_before") or notes.get("escalated_after") or ""
        return record["status"], record["stage"], step, notes.get("due", "")

    return key(a) == key(b)


def check_alerts(workload: Workload, records: Sequence[Mapping[str, Any]], report: Report | None = None) -> Report:
    """Compare the alerts topic with the workload; ``records`` in offset order (a fingerprint keeps one partition)."""
    report = report if report is not None else Report()
    by_fingerprint: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        by_fingerprint.setdefault(record["fingerprint"], []).append(record)
    for fingerprint, sequence in by_fingerprint.items():
        for before, after in itertools.pairwise(sequence):
            if _same_transition(before, after):
                report.note("duplicated", f"{fingerprint} {after['rule_id']} {after['status']} {after['stage']} twice")
    firing: Counter[tuple[str, str]] = Counter()
    resolved: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for record in records:
        labels = record.get("labels", {})
        if record.get("rule_id") != RULE or "task_id" not in labels:
            continue
        task = (labels["unit_id"], labels["task_id"])
        if record["status"] == "firing" and record["stage"] == "overdue":
            firing[task] += 1
        elif record["status"] == "resolved":
            resolved.setdefault(task, []).append(record)
    for task, status in sorted(workload.tasks.items()):
        fired = firing.get(task, 0)
        if task in workload.not_due:
            if fired or task in resolved:
                report.note("wrong", f"{task} is due long after the run but has alert records")
            continue
        if fired == 0:
            report.note("lost", f"{task} never fired overdue")
        elif fired > 1:
            report.note("duplicated", f"{task} fired overdue {fired} times")
        ends = resolved.get(task, [])
        if status != "completed":
            for record in ends:
                report.note(
                    "wrong", f"{task} is still overdue but resolved ({record['annotations'].get('resolution')})"
                )
            continue
        if not ends:
            report.note("lost", f"{task} completed but never resolved")
            report.unresolved.append(task)
            continue
        if len(ends) > 1:
            report.note("duplicated", f"{task} resolved {len(ends)} times")
        record = ends[0]
        reason = record.get("annotations", {}).get("resolution")
        ended = datetime.fromisoformat(record["ends_at"]) if record.get("ends_at") else None
        if reason != "completed_late" or ended != workload.completed_at[task]:
            report.note("wrong", f"{task} resolved as {reason} at {ended}, not completed_late at its completion")
    for task in set(firing) - set(workload.tasks):
        report.note("wrong", f"{task} fired but was never published")
    return report


def check_views(
    workload: Workload,
    answers: Iterable[Mapping[str, Any]],
    report: Report | None = None,
    missed: Mapping[str, int] | None = None,
) -> Report:
    """Compare ``/api/v1/units`` answers (one per worker; each answers for every unit) with the workload.

    Every worker must give the same answer, and that answer must hold what was published.
    ``missed`` is, per unit, how many deadlines of its own it has missed (roster deadlines such as the
    20/7 inspection plan, which the workload never meets): they are on its overdue count too.
    """
    report = report if report is not None else Report()
    missed = missed or {}
    answers = list(answers)
    if not answers:
        report.note("views_wrong", "no worker answered")
        return report
    for n, answer in enumerate(answers[1:], start=2):
        if answer.get("units") != answers[0].get("units"):
            report.note("views_wrong", f"worker {n} answers differently from worker 1")
    seen = {unit["unit_id"]: unit for unit in answers[0].get("units", [])}
    not_due = Counter(unit for unit, _ in workload.not_due)
    for unit in workload.units():
        statuses = Counter(status for (u, _), status in workload.tasks.items() if u == unit)
        summary = seen.get(unit)
        if summary is None:
            report.note("views_wrong", f"{unit} is missing")
            continue
        if summary["tasks"] != dict(statuses):
            report.note("views_wrong", f"{unit} tasks {summary['tasks']}, published {dict(statuses)}")
        expected = statuses.get("in_progress", 0) - not_due.get(unit, 0) + missed.get(unit, 0)
        if summary["overdue"] != expected:
            report.note(
                "views_wrong", f"{unit} overdue {summary['overdue']}, expected {expected} from what was published"
            )
    return report


def check_generations(partitions: Mapping[int, Sequence[int | None]], report: Report | None = None) -> Report:
    """Count zombie writes: per alerts partition, the generations of its records in offset order (``None``: unknown)."""
    report = report if report is not None else Report()
    for partition, generations in sorted(partitions.items()):
        newest = -1
        for offset, generation in enumerate(generations):
            if generation is None or generation < 0:
                continue
            if generation < newest:
                report.note(
                    "zombie", f"alerts[{partition}]@{offset} written under generation {generation} after {newest}"
                )
            newest = max(newest, generation)
    return report
