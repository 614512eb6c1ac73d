from __future__ import annotations

from monitor.state.ledger import AlertLedger
from tests.rules.fixtures import transition


def test_a_transition_the_topic_ends_with_is_not_new() -> None:
    ledger = AlertLedger()
    firing = transition()
    assert ledger.is_new(firing) and ledger.last(firing.fingerprint) is None
    ledger.observe(firing)
    assert not ledger.is_new(firing)
    assert ledger.last(firing.fingerprint) == ("firing", "overdue", "")
    resolved = transition(status="resolved", ends_at=firing.starts_at)
    assert ledger.is_new(resolved)
    ledger.observe(resolved)
    assert ledger.is_new(firing)  # firing again after a resolution is a new transition
    assert len(ledger) == 1


def test_a_new_warning_step_is_a_new_transition() -> None:
    ledger = AlertLedger()
    week = transition(stage="due_soon", severity="warning", annotations={"summary": "s", "warn_before": "7d"})
    ledger.observe(week)
    day = transition(stage="due_soon", severity="warning", annotations={"summary": "s", "warn_before": "1d"})
    assert ledger.is_new(day) and not ledger.is_new(week)


def test_firing_in_names_only_firing_alerts_of_the_given_units() -> None:
    ledger = AlertLedger()
    ledger.observe(transition(fingerprint="a"))
    ledger.observe(transition(fingerprint="b", labels={"alertname": "x", "unit_id": "VN-40", "severity": "critical"}))
    ledger.observe(transition(fingerprint="c", status="resolved"))
    assert [t.fingerprint for t in ledger.firing_in({"VN-22"})] == ["a"]
