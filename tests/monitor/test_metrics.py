from __future__ import annotations

import asyncio
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from events.models import TaskStatus
from monitor.metrics import Metrics, OperatorCollector, RecoverySnapshot, StateCollector, observe_all
from rules.engine import apply_event, seed
from rules.language import RulePack
from rules.loading import BUNDLED_PACK, load_pack
from rules.state import UnitState
from rules.units import UnitRegistry, UnitSpec
from tests.conftest import vn
from tests.rules.fixtures import BOTH_RULES, indicator, pack, task


def _states(tmp_path: Path) -> list[UnitState]:
    rules = pack(tmp_path, BOTH_RULES)
    now = vn(2024, 7, 25)
    state = None
    for n, (status, deadline) in enumerate(
        [(TaskStatus.COMPLETED, vn(2024, 7, 1)), (TaskStatus.IN_PROGRESS, vn(2024, 7, 20)), (TaskStatus.ONGOING, None)]
    ):
        state = apply_event(rules, state, task(now, status, task_id=f"T-{n}", deadline=deadline), now).state
    assert state is not None
    state = apply_event(rules, state, indicator(now, 0.458), now).state
    return [state]


def test_state_gauges_and_counters_in_exposition(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    Metrics(registry, "1.2.3")
    states = _states(tmp_path)
    rules = pack(tmp_path, BOTH_RULES)
    named = RulePack(rules.rules, UnitRegistry.of([UnitSpec(id="VN-40", name="Bình Thuận")]))
    registry.register(StateCollector(lambda: states, named, lambda: vn(2024, 7, 25)))
    get = registry.get_sample_value
    assert get("compliance_tasks", {"unit_id": "VN-40", "kind": "task", "status": "completed"}) == 1
    assert get("compliance_tasks", {"unit_id": "VN-40", "kind": "task", "status": "in_progress"}) == 1
    assert get("compliance_tasks_overdue", {"unit_id": "VN-40", "kind": "task"}) == 1
    assert get("compliance_indicator_value", {"unit_id": "VN-40", "indicator": "online_dossier_ratio"}) == 0.458
    assert (
        get(
            "compliance_indicator_last_report_timestamp_seconds",
            {"unit_id": "VN-40", "indicator": "online_dossier_ratio"},
        )
        == vn(2024, 7, 25).timestamp()
    )
    assert get("compliance_alerts_firing", {"rule_id": "task-overdue", "severity": "critical"}) == 1
    assert get("compliance_unit_info", {"unit_id": "VN-40", "name": "Bình Thuận"}) == 1
    assert get("compliance_build_info", {"version": "1.2.3"}) == 1
    assert get("compliance_alerts_firing", {"rule_id": "online-low", "severity": "warning"}) == 1
    assert get("compliance_alerts_firing", {"rule_id": "task-overdue", "severity": "warning"}) == 0  # zero, not absent
    assert get("compliance_rule_target", {"rule_id": "online-low", "indicator": "online_dossier_ratio"}) == 0.5
    text = generate_latest(registry).decode()
    assert "compliance_events_total" not in text or "# TYPE compliance_events_total counter" in text
    assert "# TYPE compliance_event_lag_seconds histogram" in text


def test_a_flood_of_unknown_units_is_folded() -> None:
    from monitor.metrics import state_families

    states = [UnitState(unit_id=f"FAKE-{n:04d}") for n in range(500)] + [UnitState(unit_id="VN-22")]
    for state in states:
        state.put_task(_task_state())
    families = {f.name: f for f in state_families(states, {"VN-22": "Nghệ An"}, max_unlisted_units=10)}
    units = {s.labels["unit_id"] for s in families["compliance_tasks"].samples}
    assert len(units) == 12 and "_other" in units and "VN-22" in units
    other = next(s for s in families["compliance_tasks"].samples if s.labels["unit_id"] == "_other")
    assert other.value == 490
    assert families["compliance_units_folded"].samples[0].value == 490
    assert len(families["compliance_unit_info"].samples) == 11


def _task_state():  # type: ignore[no-untyped-def]
    from events.models import TaskStatus
    from rules.state import TaskState

    return TaskState(task_id="T", kind="task", status=TaskStatus.IN_PROGRESS, occurred_at=vn(2024, 7, 1), event_id="e")


def test_the_registry_has_process_metrics_the_pack_version_and_no_created_series() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry, "1.2.3", pack_version="pack-abc")
    metrics.events.labels("compliance.task-status", "accepted").inc()
    metrics.items_loaded.inc(5)
    text = generate_latest(registry).decode()
    assert "_created" not in text
    assert 'compliance_rule_pack_info{version="pack-abc"} 1.0' in text
    assert 'compliance_build_info{version="1.2.3"} 1.0' in text
    for family in ("process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds"):
        assert f"\n{family} " in text, family
    assert "python_gc_collections_total" in text and "python_info" in text
    assert "compliance_state_items_loaded_total 5.0" in text


def test_operator_collector_exposes_lag_per_partition_and_recovery_progress() -> None:
    registry = CollectorRegistry()
    registry.register(
        OperatorCollector(
            lambda: [("compliance.task-status", 1, 7), ("compliance.indicators", 0, 0)],
            lambda: RecoverySnapshot(active=True, expected=1000, remaining=250, last_seconds=None),
        )
    )
    text = generate_latest(registry).decode()
    assert 'compliance_consumer_lag_records{partition="1",topic="compliance.task-status"} 7.0' in text
    assert 'compliance_consumer_lag_records{partition="0",topic="compliance.indicators"} 0.0' in text
    assert "compliance_recovery_active 1.0" in text
    assert "compliance_recovery_records_expected 1000.0" in text
    assert "compliance_recovery_records_remaining 250.0" in text
    assert "compliance_recovery_last_duration_seconds" not in text  # none has completed yet


def test_kinds_and_indicators_no_rule_names_have_no_series_of_their_own(tmp_path: Path) -> None:
    rules = pack(tmp_path, BOTH_RULES)
    now = vn(2024, 7, 25)
    state = None
    for n, kind in enumerate(("task", "made-up-1", "made-up-2")):
        state = apply_event(rules, state, task(now, TaskStatus.IN_PROGRESS, task_id=f"T-{n}", kind=kind), now).state
    for name in ("online_dossier_ratio", "made_up_ratio"):
        state = apply_event(rules, state, indicator(now, 0.4, name=name), now).state
    assert state is not None
    registry = CollectorRegistry()
    registry.register(StateCollector(lambda: [state], rules, lambda: now))
    text = generate_latest(registry).decode()
    assert "made-up" not in text and "made_up_ratio" not in text
    assert 'compliance_tasks{kind="other",status="in_progress",unit_id="VN-40"} 2.0' in text
    assert 'compliance_tasks{kind="task",status="in_progress",unit_id="VN-40"} 1.0' in text
    assert 'compliance_indicator_value{indicator="online_dossier_ratio",unit_id="VN-40"} 0.4' in text
    assert "compliance_indicators_unlisted 1.0" in text


def test_a_missed_unit_deadline_counts_as_overdue_under_its_kind() -> None:
    bundled = load_pack([BUNDLED_PACK])
    now = vn(2024, 7, 25, 9)
    silent = seed(bundled, "VN-HN", now).state
    registry = CollectorRegistry()
    registry.register(StateCollector(lambda: [silent], bundled, lambda: now))
    text = generate_latest(registry).decode()
    assert 'compliance_tasks_overdue{kind="inspection_plan",unit_id="VN-HN"} 1.0' in text


def test_communes_are_counted_by_province_never_one_series_each() -> None:
    from datetime import UTC, datetime

    from tests.integration.test_communes_console import _commune_events

    bundled = load_pack([BUNDLED_PACK])
    now = datetime.now(UTC)
    events, overdue = _commune_events(now)  # one task in each of the 3,321 communes; every seventh overdue
    states = [apply_event(bundled, None, event, now).state for event in events]  # each commune's own state
    registry = CollectorRegistry()
    registry.register(StateCollector(lambda: states, bundled, lambda: now))
    text = generate_latest(registry).decode()
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in registry.collect()
        for sample in family.samples
    }

    def get(name: str, labels: dict[str, str]) -> float | None:
        return samples.get((name, tuple(sorted(labels.items()))))

    communes = {u.id: u.parent for u in bundled.units.in_force(now) if u.level == "commune"}
    assert not any(f'"{unit}"' in text for unit in communes)  # no series names a commune
    provinces = sorted({parent for parent in communes.values() if parent})
    assert len(provinces) == 34
    by_province = {p: float(sum(1 for parent in communes.values() if parent == p)) for p in provinces}
    assert {p: get("compliance_communes_reporting", {"province": p}) for p in provinces} == by_province
    assert get("compliance_communes_reporting", {"province": "VN-22"}) == 130
    in_progress = [
        get("compliance_commune_tasks", {"province": p, "kind": "task", "status": "in_progress"}) for p in provinces
    ]
    assert sum(n or 0 for n in in_progress) == len(communes) == 3321
    late = {p: float(sum(1 for u in overdue if communes[u] == p)) for p in provinces}
    assert {p: get("compliance_commune_tasks_overdue", {"province": p, "kind": "task"}) for p in provinces} == late
    severities = ("critical", "warning", "info")
    alerting = [
        get("compliance_communes_alerting", {"province": p, "severity": s}) for p in provinces for s in severities
    ]
    assert sum(n or 0 for n in alerting) == len(overdue)
    commune_series = [line for line in text.splitlines() if line.startswith("compliance_commune")]
    assert len(commune_series) <= 4 * 34 * 2, len(commune_series)  # bounded by the provinces, not the communes


_BOUNDS = (0.00001, 0.0001, 0.5, 1, 60)


@given(
    st.lists(
        st.one_of(
            st.sampled_from([*_BOUNDS, 0.0, -1.0, float("inf"), float("nan")]),  # on a bound: in its bucket
            st.floats(min_value=-10, max_value=100, allow_nan=False),
        ),
        max_size=40,
    )
)
def test_values_observed_together_read_as_values_observed_one_by_one(values: list[float]) -> None:
    """``observe_all`` reaches into prometheus_client's histogram: the exposition must be what ``observe`` gives."""
    one_by_one, together = CollectorRegistry(), CollectorRegistry()
    first = Histogram("h_seconds", "h", buckets=_BOUNDS, registry=one_by_one)
    for value in values:
        first.observe(value)
    observe_all(Histogram("h_seconds", "h", buckets=_BOUNDS, registry=together), values)

    def exposed(registry: CollectorRegistry) -> list[bytes]:  # but when each was made (``_created``)
        return [line for line in generate_latest(registry).splitlines() if b"_created" not in line]

    assert exposed(together) == exposed(one_by_one)


def test_the_event_loop_s_tasks_are_counted_when_scraped_on_the_loop() -> None:
    registry = CollectorRegistry()
    registry.register(
        OperatorCollector(
            lambda: [], lambda: RecoverySnapshot(active=False, expected=0, remaining=0, last_seconds=None)
        )
    )
    assert "compliance_event_loop_tasks" not in generate_latest(registry).decode(), "no loop here: nothing to count"

    async def scrape() -> str:
        others = [asyncio.create_task(asyncio.sleep(1)) for _ in range(3)]
        try:
            return generate_latest(registry).decode()
        finally:
            for task in others:
                task.cancel()

    assert "compliance_event_loop_tasks 4.0" in asyncio.run(scrape())  # the three, and the one scraping
