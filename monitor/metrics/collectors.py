"""Gauges read from the units' state and the consumer at scrape time: custom collectors, nothing stored twice."""

from __future__ import annotations

import asyncio
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor.clock import Clock
from rules.engine import overdue_by_kind
from rules.language import WARNING, DeadlineRule, RulePack, ThresholdRule, worst_severity
from rules.state import UnitState
from rules.units import Level

__all__ = [
    "OTHER_KINDS",
    "OTHER_UNITS",
    "ConsumerLag",
    "MemoryCollector",
    "OperatorCollector",
    "RecoverySnapshot",
    "StateCollector",
    "state_families",
]

OTHER_UNITS = "_other"
OTHER_KINDS = "other"  # the kind label of tasks whose kind no rule names


def _fold(unit_ids: Iterable[str], listed: Mapping[str, str], limit: int) -> set[str]:
    """Units shown one by one: every listed (rostered) unit, and the first ``limit`` others by id."""
    unlisted = sorted(u for u in unit_ids if u not in listed)
    return {u for u in unit_ids if u in listed} | set(unlisted[:limit])


def state_families(
    states: Iterable[UnitState],
    unit_names: Mapping[str, str],
    *,
    max_unlisted_units: int = 200,
    rule_severities: Iterable[tuple[str, str]] = (),
    targets: Iterable[tuple[str, str, float]] = (),
    known_kinds: frozenset[str] | None = None,
    known_indicators: frozenset[str] | None = None,
    deadline_kinds: Mapping[str, str] | None = None,
    communes: Mapping[str, str] | None = None,
) -> list[Metric]:
    """Gauges describing the given unit states (the units this worker owns).

    Cardinality guards: units on no roster beyond ``max_unlisted_units`` are
    folded into ``unit_id="_other"`` (their indicators are left out) and
    counted in ``compliance_units_folded``; task kinds no rule names are
    counted under ``kind="other"``; indicators no rule names (nor the pack
    bounds) have no value series, and are counted in
    ``compliance_indicators_unlisted``. A flood of made-up unit ids, kinds or
    indicator names cannot blow up the series count.

    Communes (``communes``: commune id → its province) have no series of their own: 3,321 of them by kind
    and status would swamp Prometheus. They are counted by province in ``compliance_commune_*``: their tasks
    by kind and status, their overdue tasks by kind, how many have reported, how many have a firing alert by
    its worst severity; their alerts count in ``compliance_alerts_firing`` like any other.
    """
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
    folded = GaugeMetricFamily(
        "compliance_units_folded", f"Units on no roster shown as unit_id={OTHER_UNITS!r} (cardinality guard)."
    )
    target = GaugeMetricFamily(
        "compliance_rule_target", "Target in effect of each threshold rule.", labels=["rule_id", "indicator"]
    )
    unlisted = GaugeMetricFamily(
        "compliance_indicators_unlisted",
        "Indicators reported that no rule names (no value series of their own; cardinality guard).",
    )
    unlisted_count = 0
    commune_tasks = GaugeMetricFamily(
        "compliance_commune_tasks",
        "Communes' tasks by current status, by province.",
        labels=["province", "kind", "status"],
    )
    commune_overdue = GaugeMetricFamily(
        "compliance_commune_tasks_overdue",
        "Communes' tasks past their due instant, by province.",
        labels=["province", "kind"],
    )
    communes_reporting = GaugeMetricFamily(
        "compliance_communes_reporting", "Communes that have reported, by province.", labels=["province"]
    )
    communes_alerting = GaugeMetricFamily(
        "compliance_communes_alerting",
        "Communes with a firing alert, by province and the worst severity firing.",
        labels=["province", "severity"],
    )
    communes = communes or {}

    def kind_of(kind: str) -> str:
        return kind if known_kinds is None or kind in known_kinds else OTHER_KINDS

    deadline_kinds = deadline_kinds or {}

    def kind_of_rule(rule_id: str) -> str:
        return deadline_kinds.get(rule_id, "task")

    states = list(states)
    listed = {u: n for u, n in unit_names.items() if u not in communes} if communes else unit_names
    shown = _fold([s.unit_id for s in states if s.unit_id not in communes], listed, max_unlisted_units)
    task_counts: Tally[tuple[str, str, str]] = Tally()
    overdue_counts: Tally[tuple[str, str]] = Tally()
    firing_tally: Tally[tuple[str, str]] = Tally({pair: 0 for pair in rule_severities})
    by_province = _CommuneTallies()
    for state in states:
        province = communes.get(state.unit_id)
        if province is not None:
            by_province.add(province, state, kind_of, kind_of_rule)
            firing_tally.update((alert.rule_id, alert.severity) for alert in state.alerts.values())
            continue
        unit = state.unit_id if state.unit_id in shown else OTHER_UNITS
        if unit != OTHER_UNITS:
            info.add_metric([unit, unit_names.get(unit, unit)], 1)
            for name, report in sorted(state.indicators.items()):
                if known_indicators is not None and name not in known_indicators:
                    unlisted_count += 1
                    continue
                value.add_metric([unit, name], report.value)
                reported.add_metric([unit, name], report.occurred_at.timestamp())
        for (kind, status), count in state.task_tally().items():
            task_counts[(unit, kind_of(kind), status)] += count
            overdue_counts[(unit, kind_of(kind))] += 0
        for kind, count in overdue_by_kind(state, kind_of_rule).items():
            overdue_counts[(unit, kind_of(kind))] += count
        firing_tally.update((alert.rule_id, alert.severity) for alert in state.alerts.values())
    for (unit, kind, status), count in sorted(task_counts.items()):
        tasks.add_metric([unit, kind, status], count)
    for (unit, kind), count in sorted(overdue_counts.items()):
        overdue.add_metric([unit, kind], count)
    for (rule_id, severity), count in sorted(firing_tally.items()):
        firing.add_metric([rule_id, severity], count)
    folded.add_metric([], sum(s.unit_id not in communes for s in states) - len(shown))
    for rule_id, indicator, line in targets:
        target.add_metric([rule_id, indicator], line)
    unlisted.add_metric([], unlisted_count)
    for triple, count in sorted(by_province.tasks.items()):
        commune_tasks.add_metric(list(triple), count)
    for pair, count in sorted(by_province.overdue.items()):
        commune_overdue.add_metric(list(pair), count)
    for province, count in sorted(by_province.reporting.items()):
        communes_reporting.add_metric([province], count)
    for pair, count in sorted(by_province.alerting.items()):
        communes_alerting.add_metric(list(pair), count)
    commune_families = [commune_tasks, commune_overdue, communes_reporting, communes_alerting]
    return [tasks, overdue, value, reported, firing, info, folded, target, unlisted, *commune_families]


class _CommuneTallies:
    """The communes' figures, by province: what ``compliance_commune_*`` reports instead of a series per commune."""

    def __init__(self) -> None:
        self.tasks: Tally[tuple[str, str, str]] = Tally()
        self.overdue: Tally[tuple[str, str]] = Tally()
        self.reporting: Tally[str] = Tally()
        self.alerting: Tally[tuple[str, str]] = Tally()

    def add(
        self, province: str, state: UnitState, kind_of: Callable[[str], str], kind_of_rule: Callable[[str], str]
    ) -> None:
        for (kind, status), count in state.task_tally().items():
            self.tasks[(province, kind_of(kind), status)] += count
            self.overdue[(province, kind_of(kind))] += 0
        for kind, count in overdue_by_kind(state, kind_of_rule).items():
            self.overdue[(province, kind_of(kind))] += count
        self.reporting[province] += state.last_event_at is not None
        worst = worst_severity(alert.severity for alert in state.alerts.values())
        if worst is not None:
            self.alerting[(province, worst)] += 1


ConsumerLag = tuple[str, int, int]  # topic, partition, records behind the partition's end


@dataclass(frozen=True, slots=True)
class RecoverySnapshot:
    """Where the replay of changelogs into the local store stands (faust's recovery)."""

    active: bool
    expected: int  # changelog records the current (or last) recovery had to read
    remaining: int  # of those, still to read
    last_seconds: float | None  # how long the last completed recovery took
    written_back: int = 0  # partitions whose local store was written back to a changelog the broker had lost


class OperatorCollector(Collector):
    """Consumer lag in records and changelog recovery progress, read at scrape time."""

    def __init__(self, lag: Callable[[], Iterable[ConsumerLag]], recovery: Callable[[], RecoverySnapshot]) -> None:
        self._lag = lag
        self._recovery = recovery

    def collect(self) -> Iterator[Metric]:
        """Yield the lag and recovery gauges."""
        lag = GaugeMetricFamily(
            "compliance_consumer_lag_records",
            "Records of an owned ingress partition not handled yet (its end offset minus the next offset to handle).",
            labels=["topic", "partition"],
        )
        for topic, partition, behind in sorted(self._lag()):
            lag.add_metric([topic, str(partition)], behind)
        yield lag
        try:
            tasks = len(asyncio.all_tasks())
        except RuntimeError:  # collected off the event loop's thread (never by /metrics)
            tasks = None
        if tasks is not None:
            yield GaugeMetricFamily(
                "compliance_event_loop_tasks", "Tasks alive on the worker's event loop (a leak grows it).", value=tasks
            )
        state = self._recovery()
        yield GaugeMetricFamily(
            "compliance_recovery_active",
            "1 while changelogs are replayed into the local store.",
            value=int(state.active),
        )
        yield GaugeMetricFamily(
            "compliance_recovery_records_expected",
            "Changelog records the current (or last) recovery had to read.",
            value=state.expected,
        )
        yield GaugeMetricFamily(
            "compliance_recovery_records_remaining", "Changelog records still to read.", value=state.remaining
        )
        yield CounterMetricFamily(
            "compliance_state_written_back_partitions",
            "Partitions whose local store was written back to a changelog the broker had lost (a broker back empty).",
            value=state.written_back,
        )
        if state.last_seconds is not None:
            yield GaugeMetricFamily(
                "compliance_recovery_last_duration_seconds",
                "How long the last completed changelog recovery took.",
                value=state.last_seconds,
            )


class StateCollector(Collector):
    """Reads the owned unit states at scrape time (no timers setting gauges)."""

    def __init__(
        self,
        states: Callable[[], Iterable[UnitState]],
        pack: RulePack,
        clock: Clock,
        max_unlisted_units: int = 200,
    ) -> None:
        self._states = states
        self._clock = clock
        self._max_unlisted = max_unlisted_units
        self.use_pack(pack)

    def use_pack(self, pack: RulePack) -> None:
        """Report under ``pack`` from the next scrape (its rules, kinds, indicators and names)."""
        self._pack = pack
        # Communes are counted by province (compliance_commune_*), never one series each.
        self._communes = {u.id: u.parent for u in pack.units.units.values() if u.level is Level.COMMUNE and u.parent}
        # The kind each unit-level deadline counts under in compliance_tasks_overdue.
        self._deadline_kinds = {r.rule.id: pack.selected_kind(r.rule.id) for r in pack.unit_rules}
        self._severities = sorted(
            {(r.rule.id, r.rule.severity) for r in pack.rules}
            | {(r.rule.id, WARNING) for r in pack.rules if isinstance(r.rule, DeadlineRule) and r.rule.warn_before}
        )

    def collect(self) -> Iterator[Metric]:
        """Yield the state gauges."""
        now = self._clock()
        targets = [
            (r.rule.id, r.rule.indicator, r.rule.lines_at(now)[0])
            for r in self._pack.rules
            if isinstance(r.rule, ThresholdRule)
        ]
        yield from state_families(
            self._states(),
            self._pack.unit_names,
            max_unlisted_units=self._max_unlisted,
            rule_severities=self._severities,
            targets=targets,
            known_kinds=self._pack.known_kinds,
            known_indicators=self._pack.known_indicators,
            deadline_kinds=self._deadline_kinds,
            communes=self._communes,
        )


class MemoryCollector(Collector):
    """A gauge of memory by ``part``, read at scrape time: the local store's (``store``), or the process heap's.

    Args:
        name: The gauge.
        documentation: Its help text.
        memory: The parts now, bytes by name (``None``: this process cannot tell; no series).
    """

    def __init__(self, name: str, documentation: str, memory: Callable[[], Mapping[str, int] | None]) -> None:
        self._name = name
        self._documentation = documentation
        self._memory = memory

    @classmethod
    def store(cls, memory: Callable[[], Mapping[str, int]]) -> MemoryCollector:
        """``compliance_state_store_memory_bytes``: the local RocksDB store's memory."""
        return cls(
            "compliance_state_store_memory_bytes",
            "Memory the local RocksDB store holds, by part: write buffers (recent writes of every partition), "
            "block cache (blocks read, index and filter blocks included; bounded by the setting), table readers "
            "(what each open file keeps outside the cache).",
            memory,
        )

    @classmethod
    def process(cls, memory: Callable[[], Mapping[str, int] | None]) -> MemoryCollector:
        """``compliance_process_memory_bytes``: the process heap by allocator, in use or held free."""
        return cls(
            "compliance_process_memory_bytes",
            "The worker's heap by allocator, in use or held free: Python's small objects (512 bytes or less) and "
            "the rest of their arenas, the C allocator's chunks in use (Python's larger objects, RocksDB, SQLite) "
            "and the free chunks it keeps.",
            memory,
        )

    def collect(self) -> Iterator[Metric]:
        """Yield the gauge, a series per part."""
        family = GaugeMetricFamily(self._name, self._documentation, labels=["part"])
        for part, size in sorted((self._memory() or {}).items()):
            family.add_metric([part], size)
        yield family
