"""The demo looks like the day it starts: this quarter's deadlines, scores that differ, nothing from years ago."""

from __future__ import annotations

from datetime import datetime

import pytest

from monitor.devtools.demo import demo_events, demo_units
from rules.language import RulePack, ThresholdRule
from rules.loading import BUNDLED_PACK, load_pack
from rules.review import quarter_of, scorecard, warned_deadlines
from rules.simulation import Simulation
from rules.state import AlertTransition
from tests.conftest import VN

SCORED = ("VN-22", "VN-02", "VN-35", "VN-HN", "VN-SG")  # VN-35: Lâm Đồng, with Bình Thuận since 2025-07-01


@pytest.fixture(scope="module")
def pack() -> RulePack:
    return load_pack([BUNDLED_PACK])


def _run(pack: RulePack, now: datetime) -> tuple[Simulation, list[AlertTransition]]:
    events = demo_events(now, *demo_units(pack, now))
    assert events and all(e.occurred_at <= now for e in events), "no event from the future"
    simulation = Simulation.start(pack, events[0].occurred_at)
    for event in events:
        simulation.deliver(event, event.occurred_at)
    simulation.run_until(now)
    last: dict[str, AlertTransition] = {}
    for _, transition in simulation.transitions:
        last[transition.fingerprint] = transition
    return simulation, [t for t in last.values() if t.status == "firing"]


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 12, 4, 21, tzinfo=VN),
        datetime(2027, 1, 1, 0, 0, 30, tzinfo=VN),  # thirty seconds into a quarter
        datetime(2027, 1, 3, 10, tzinfo=VN),
        datetime(2027, 3, 31, 23, 59, tzinfo=VN),
    ],
)
def test_the_demo_gives_this_quarter_a_spread_of_scores_and_nothing_due_in_a_past_year(
    pack: RulePack, now: datetime
) -> None:
    simulation, firing = _run(pack, now)
    period = quarter_of(now.date()).bounds(VN)
    scores = []
    for unit in SCORED:
        mine = [t for _, t in simulation.transitions if t.labels.get("unit_id") == unit]
        card = scorecard(pack, unit, simulation.states.get(unit), warned_deadlines(mine), period, now)
        scores.append(card.score)
    assert None not in scores and len(set(scores)) >= 3, scores
    assert [t.annotations["due"] for t in firing if t.annotations.get("due", "9999")[:4] < str(now.year)] == []
    stages = {(t.rule_id, t.stage) for t in firing}
    assert {("task-overdue", "overdue"), ("task-overdue", "due_soon"), ("indicator-stale", "stale")} <= stages
    assert "inspection-plan-2024" not in {t.rule_id for t in firing}


def test_a_task_overdue_by_weeks_and_others_by_days(pack: RulePack) -> None:
    now = datetime(2026, 12, 4, 21, tzinfo=VN)
    _, firing = _run(pack, now)
    overdue = sorted((now - datetime.fromisoformat(t.annotations["due"])).days for t in firing if t.stage == "overdue")
    assert overdue and max(overdue) >= 14 and min(overdue) <= 7, overdue


def test_every_indicator_alert_shows_the_unit_s_latest_report(pack: RulePack) -> None:
    # A firing alert keeps the value it fired with: the demo's console must not show an older figure.
    simulation, firing = _run(pack, datetime(2026, 12, 4, 21, tzinfo=VN))
    shown = [t for t in firing if isinstance(getattr(pack.by_id(t.rule_id), "rule", None), ThresholdRule)]
    assert shown
    for alert in shown:
        latest = simulation.states.get(alert.unit_id).indicators[alert.labels["indicator"]].value
        assert alert.value == pytest.approx(latest), (alert.unit_id, alert.labels["indicator"])


def test_the_demo_has_communes_and_units_that_send_a_national_or_a_former_code(pack: RulePack) -> None:
    simulation, firing = _run(pack, datetime(2026, 12, 4, 21, tzinfo=VN))
    states = simulation.states
    communes = {"VN-16681", "VN-16690", "VN-17920", "VN-16708", "VN-00004", "VN-00070"}
    assert communes <= states.keys()
    assert {pack.units.get(c).parent for c in communes} == {"VN-22", "VN-HN"}  # type: ignore[union-attr]
    assert ("VN-16690", "overdue") in {(t.unit_id, t.stage) for t in firing}  # a ward of Vinh is late
    assert {t.unit_code for t in states["VN-16681"].tasks.values()} == {"16681"}  # its national code, kept
    assert {t.unit_code for t in states["VN-HN"].tasks.values() if t.kind == "task"} == {"01"}
    assert {t.unit_code for t in states["VN-35"].tasks.values() if t.kind == "task"} == {"VN-40"}  # Bình Thuận's
