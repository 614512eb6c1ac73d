"""The instruments the worker updates as it works: counters, histograms and gauges it sets (metric objects, no I/O)."""

from __future__ import annotations

import bisect
import contextlib
from collections.abc import Iterable

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)

__all__ = ["UNREGISTERED", "DeliveryMetrics", "Metrics", "observe_all"]

#: The ``publisher`` label of events whose source is no publisher of the registry (bounded: never the source itself).
UNREGISTERED = "_unregistered"

_LAG_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 86400)
_EVAL_BUCKETS = (0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5)
_STEP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


def observe_all(histogram: Histogram, values: Iterable[float]) -> None:
    """``histogram.observe(value)`` for each value, at the cost of one addition per bucket touched.

    An observation takes a lock for the sum and one for its bucket: per event of a batch of 500, two
    histograms made that a cost the size of a rule's evaluation. This reads the buckets as
    ``Histogram.observe`` does (the first upper bound at or above the value) through prometheus_client's
    own attributes; ``tests/monitor/test_metrics.py`` checks it against ``observe`` value by value.
    """
    histogram._raise_if_not_observable()  # type: ignore[no-untyped-call]  # a labelled parent is not observable
    bounds: list[float] = histogram._upper_bounds
    counts = [0] * len(bounds)
    total = 0.0
    for value in values:
        total += value
        if value == value:  # a NaN falls in no bucket, as with ``observe``
            counts[bisect.bisect_left(bounds, value)] += 1
    if any(counts) or total:
        histogram._sum.inc(total)
        for index, count in enumerate(counts):
            if count:
                histogram._buckets[index].inc(count)


class Metrics:
    """The counters and histograms the stream processor updates as it works."""

    def __init__(self, registry: CollectorRegistry, version: str, pack_version: str | None = None) -> None:
        # One series per counter and histogram, not a second ``_created`` one per label set: Prometheus
        # does not use them, and they doubled the exposition of every labelled counter.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        _process_collectors(registry)
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
        self.record_wait = Histogram(
            "compliance_record_wait_seconds",
            "Time from an ingress record's timestamp (its send, by Kafka's default) to the start of its handling.",
            ["topic"],
            buckets=_STEP_BUCKETS,
            registry=registry,
        )
        self.checkpoint = Histogram(
            "compliance_checkpoint_seconds",
            "Time a checkpoint with work to do took: staged state made durable, its alerts published and confirmed.",
            buckets=_STEP_BUCKETS,
            registry=registry,
        )
        self.tick = Histogram(
            "compliance_tick_seconds",
            "Time to process one tick of one partition (wake-up index checked, due units evaluated).",
            buckets=_EVAL_BUCKETS,
            registry=registry,
        )
        self.over_cap = Counter(
            "compliance_events_over_unit_cap",
            "Events refused because they would give their unit more task kinds or indicators than it may have "
            "(MONITOR_MAX_KINDS_PER_UNIT, MONITOR_MAX_INDICATORS_PER_UNIT).",
            ["topic", "cap"],
            registry=registry,
        )
        self.from_future = Counter(
            "compliance_events_from_future",
            "Events refused because their occurred_at lay further ahead of the worker's clock than "
            "MONITOR_MAX_CLOCK_SKEW.",
            ["topic"],
            registry=registry,
        )
        self.unit_codes = Counter(
            "compliance_event_unit_codes",
            "Events by how their unit was named: kind (id, national, iso, other; unregistered: a code the unit "
            "registry does not know) and lineage (current; former: a code out of use, or a unit merged into another, "
            "at the event's occurred_at; refused: a code that named no unit then, or a unit split or ended).",
            ["kind", "lineage"],
            registry=registry,
        )
        self.suppressed = Counter(
            "compliance_alert_duplicates_suppressed",
            "Alert transitions not written again because the alerts topic already had them (redone work).",
            registry=registry,
        )
        self.rewinds = Counter(
            "compliance_consumer_rewinds",
            "Partitions read again because the consumer fetched records it never handed to the worker.",
            ["topic"],
            registry=registry,
        )
        self.store_failures = Counter(
            "compliance_state_store_failures",
            "Attempts to make state durable that failed (changelog not acknowledged, local store failing).",
            registry=registry,
        )
        self.store_rebuilds = Counter(
            "compliance_state_store_rebuilds",
            "Partitions whose local store broke under the running worker and was rebuilt from the changelog, by cause.",
            ["cause"],
            registry=registry,
        )
        self.items_loaded = Counter(
            "compliance_state_items_loaded",
            "State items read from the local store into memory when partitions were taken over (units' own fields, "
            "alerts, indicators; tasks stay in the store).",
            registry=registry,
        )
        self.load_seconds = Gauge(
            "compliance_state_last_load_seconds",
            "How long the last read of taken-over partitions' state into memory took.",
            registry=registry,
        )
        self.units_moving = Gauge(
            "compliance_units_moving",
            "Units of this worker not evaluated under the rule pack in force yet: each moves in parts at its "
            "partition's ticks (an event's own task is evaluated under the new pack at once).",
            registry=registry,
        )
        self.ledger_held = Gauge(
            "compliance_alert_ledger_alerts",
            "Alerts whose last record the worker holds in memory: every alert firing, and the ones resolved last "
            "(the others are read from the history index).",
            registry=registry,
        )
        self.registry_enforced = Gauge(
            "compliance_publisher_registry_enforced",
            "1 when a publisher registry decides which publisher may report which unit; 0 in open mode "
            "(every publisher may report every unit).",
            registry=registry,
        )
        self.publisher_events = Counter(
            "compliance_publisher_events",
            f"Events by publisher (the registry's ids; {UNREGISTERED!r} for a source it lacks) and outcome "
            "(accepted, refused); counted only while a registry is enforced.",
            ["publisher", "outcome"],
            registry=registry,
        )
        self.publisher_refusals = Counter(
            "compliance_publisher_refusals",
            "Events the publisher registry refused, by publisher and reason (unregistered, unrostered, "
            "not_its_unit, not_its_source, wrong_token, unsigned, bad_signature).",
            ["publisher", "reason"],
            registry=registry,
        )
        self.publisher_last_seen = Gauge(
            "compliance_publisher_last_seen_timestamp_seconds",
            "When the publisher's last accepted event was handled.",
            ["publisher"],
            registry=registry,
        )
        build = Gauge("compliance_build_info", "Version of the running monitor.", ["version"], registry=registry)
        build.labels(version=version).set(1)
        self._pack_info: Gauge | None = None
        if pack_version is not None:
            self._pack_info = Gauge(
                "compliance_rule_pack_info",
                "Version of the rule pack the worker evaluates.",
                ["version"],
                registry=registry,
            )
            self._pack_info.labels(version=pack_version).set(1)
            self.pack_applied = Gauge(
                "compliance_rule_pack_applied_timestamp_seconds",
                "When the worker began evaluating its rule pack (start, or the last reload).",
                registry=registry,
            )
            self.pack_applied.set_to_current_time()
            self.pack_refused = Gauge(
                "compliance_rule_pack_refused",
                "1 while the newest pack on the rules topic does not load on this worker (it goes on under its own).",
                registry=registry,
            )
            self.signature_refused = Gauge(
                "compliance_signature_refused_records",
                "Records of the rules and publishers topics this worker keeps out of force because no trusted key "
                "(MONITOR_TRUSTED_KEYS) signed them, by topic (rules, publishers).",
                ["topic"],
                registry=registry,
            )

    def pack_changed(self, old: str, new: str) -> None:
        """The worker evaluates another rule pack from now on."""
        if self._pack_info is not None:
            with contextlib.suppress(KeyError):
                self._pack_info.remove(old)
            self._pack_info.labels(version=new).set(1)
            self.pack_applied.set_to_current_time()


def _process_collectors(registry: CollectorRegistry) -> None:
    """Memory, CPU, open files, GC and Python version (``process_*``, ``python_*``) in the worker's own registry."""
    if registry is REGISTRY:
        return  # prometheus_client registers them there itself
    ProcessCollector(registry=registry)
    GCCollector(registry=registry)
    PlatformCollector(registry=registry)


class DeliveryMetrics:
    """Counters of every sink, declared once per registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.delivered = Counter(
            "compliance_notifications",
            "Alert notifications by sink and outcome (sent, failed, dropped).",
            ["sink", "outcome"],
            registry=registry,
        )
        self.rejected = Counter(
            "compliance_delivery_rejected",
            "Alert notifications a sink refused (HTTP 4xx): logged once with its answer, dropped, not retried.",
            ["sink"],
            registry=registry,
        )
        self.queued = Gauge(
            "compliance_delivery_queue_length",
            "Alert notifications waiting for a sink (while it is down, retried with backoff).",
            ["sink"],
            registry=registry,
        )
        self.queue_limit = Gauge(
            "compliance_delivery_queue_limit",
            "Alert notifications a sink's queue holds at most; past it the oldest are dropped.",
            ["sink"],
            registry=registry,
        )
