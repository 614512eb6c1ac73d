"""Prometheus metrics: counters the worker increments, and gauges read from state at scrape time."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from rules.engine import is_overdue
from rules.state import UnitState

__all__ = ["Metrics", "StateCollector", "state_families"]

_LAG_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 86400)
_EVAL_BUCKETS = (0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5)


class Metrics:
    """The counters and histograms the stream processor updates as it works."""

    def __init__(self, registry: CollectorRegistry, version: str) -> None:
        self.events = Counter(
            "compliance_events",
            "Ingress events by topic and outcome (accepted, duplicate, stale, rejected).",
            ["topic", "outcome"],
            registry=registry,
        )
        self.transitions = Counter(
            "compliance_alert_transitions",
            "Alert transitions written to the alerts topic.",
            ["rule_id", "severity", "status"],
            registry=registry,
        )
        self.event_lag = Histogram(
            "compliance_event_lag_seconds",
            "Delay from an event's occurred_at to its processing.",
            buckets=_LAG_BUCKETS,
            registry=registry,
        )
        self.evaluation = Histogram(
            "compliance_rule_evaluation_seconds",
            "Time to evaluate the rules for one input (event or tick of one unit).",
            buckets=_EVAL_BUCKETS,
            registry=registry,
        )
        build = Gauge("compliance_build_info", "Version of the running monitor.", ["version"], registry=registry)
        build.labels(version=version).set(1)


def state_families(states: Iterable[UnitState], unit_names: Mapping[str, str]) -> list[Metric]:
    """Gauges describing the given unit states (the units this worker owns)."""
    tasks = GaugeMetricFamily("compliance_tasks", "Tasks by current status.", labels=["unit_id", "kind", "status"])
    overdue = GaugeMetricFamily("compliance_tasks_overdue", "Tasks past their due instant.", labels=["unit_id", "kind"])
    value = GaugeMetricFamily(
        "compliance_indicator_value", "Latest reported indicator value.", labels=["unit_id", "indicator"]
    )
    reported = GaugeMetricFamily(
        "compliance_indicator_last_report_timestamp_seconds",
        "Event time of the latest indicator report.",
        labels=["unit_id", "indicator"],
    )
    firing = GaugeMetricFamily("compliance_alerts_firing", "Alerts firing now.", labels=["rule_id", "severity"])
    info = GaugeMetricFamily(
        "compliance_unit_info", "Units the monitor knows, with their names.", labels=["unit_id", "name"]
    )
    firing_tally: Tally[tuple[str, str]] = Tally()
    for state in states:
        unit = state.unit_id
        info.add_metric([unit, unit_names.get(unit, unit)], 1)
        by_status = Tally((task.kind, task.status.value) for task in state.tasks.values())
        for (kind, status), count in sorted(by_status.items()):
            tasks.add_metric([unit, kind, status], count)
        overdue_tasks = {alert.subject.removeprefix("task:") for alert in state.alerts.values() if is_overdue(alert)}
        overdue_by_kind = Tally(state.tasks[t].kind for t in overdue_tasks if t in state.tasks)
        for kind in sorted({task.kind for task in state.tasks.values()}):
            overdue.add_metric([unit, kind], overdue_by_kind.get(kind, 0))
        for name, report in sorted(state.indicators.items()):
            value.add_metric([unit, name], report.value)
            reported.add_metric([unit, name], report.occurred_at.timestamp())
        firing_tally.update((alert.rule_id, alert.severity) for alert in state.alerts.values())
    for (rule_id, severity), count in sorted(firing_tally.items()):
        firing.add_metric([rule_id, severity], count)
    return [tasks, overdue, value, reported, firing, info]


class StateCollector(Collector):
    """Reads the owned unit states at scrape time (no timers setting gauges)."""

    def __init__(self, states: Callable[[], Iterable[UnitState]], unit_names: Mapping[str, str]) -> None:
        self._states = states
        self._unit_names = unit_names

    def collect(self) -> Iterator[Metric]:
        """Yield the state gauges."""
        yield from state_families(self._states(), self._unit_names)
