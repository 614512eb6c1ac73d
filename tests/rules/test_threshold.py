from __future__ import annotations

from pathlib import Path

import pytest

from rules.language import ThresholdRule, evaluate_threshold, next_target_change
from rules.state import IndicatorState
from tests.conftest import vn
from tests.rules.fixtures import pack

BELOW = ThresholdRule(id="low", kind="threshold", indicator="online_dossier_ratio", below=0.5, resolve_above=0.52)
ABOVE = ThresholdRule(id="high", kind="threshold", indicator="*", above=0.1, resolve_below=0.08)


def _report(value: float) -> IndicatorState:
    return IndicatorState(indicator="online_dossier_ratio", value=value, occurred_at=vn(2024, 7, 3), event_id="e")


@pytest.mark.parametrize(
    ("rule", "value", "firing", "breached"),
    [
        (BELOW, 0.458, False, True),
        (BELOW, 0.5, False, False),  # exactly on the line is not below it
        (BELOW, 0.51, False, False),
        (BELOW, 0.51, True, True),  # hysteresis: still firing until 0.52
        (BELOW, 0.52, True, False),
        (ABOVE, 0.11, False, True),
        (ABOVE, 0.1, False, False),
        (ABOVE, 0.09, True, True),
        (ABOVE, 0.08, True, False),
    ],
)
def test_threshold_with_hysteresis(rule: ThresholdRule, value: float, firing: bool, breached: bool) -> None:
    condition = evaluate_threshold(rule, _report(value), firing, vn(2024, 7, 3))
    assert (condition is not None) is breached
    if condition is not None:
        assert condition.value == value
        assert condition.since == vn(2024, 7, 3)


def test_flapping_around_the_line_fires_once_and_resolves_once() -> None:
    firing = False
    changes = []
    for value in (0.49, 0.505, 0.495, 0.51, 0.49, 0.53, 0.51, 0.50):
        now_firing = evaluate_threshold(BELOW, _report(value), firing, vn(2024, 7, 3)) is not None
        if now_firing != firing:
            changes.append((value, now_firing))
        firing = now_firing
    assert changes == [(0.49, True), (0.53, False)]


def test_wildcard_rule_applies_to_every_indicator() -> None:
    assert ABOVE.applies_to("anything")
    assert not BELOW.applies_to("eid_activation_ratio")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "exactly one of 'below' or 'above'"),
        ({"below": 0.5, "above": 0.9}, "exactly one of"),
        ({"below": 0.5, "resolve_below": 0.4}, "'resolve_below' goes with 'above'"),
        ({"below": 0.5, "resolve_above": 0.4}, "at least 'below'"),
        ({"above": 0.5, "resolve_below": 0.6}, "at most 'above'"),
    ],
)
def test_invalid_threshold_rules(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ThresholdRule.model_validate({"id": "r", "kind": "threshold", "indicator": "x", **fields})


SCHEDULED = ThresholdRule.model_validate(
    {
        "id": "online",
        "kind": "threshold",
        "indicator": "online_dossier_ratio",
        "below": 0.5,
        "schedule": [{"from": "2025-01-01T00:00:00+07:00", "target": 1.0, "resolve": 1.0}],
    }
)


def test_a_scheduled_target_takes_over_on_its_date() -> None:
    report = _report(0.72)
    assert evaluate_threshold(SCHEDULED, report, False, vn(2024, 12, 31, 23, 59)) is None
    condition = evaluate_threshold(SCHEDULED, report, False, vn(2025, 1, 1))
    assert condition is not None and condition.details["target"] == "1"
    assert next_target_change(SCHEDULED, vn(2024, 7, 1)) == vn(2025, 1, 1)
    assert next_target_change(SCHEDULED, vn(2025, 1, 1)) is None


def test_an_indicator_meets_only_its_own_rules_and_those_about_every_indicator(tmp_path: Path) -> None:
    rules = pack(
        tmp_path,
        """
groups:
  - name: test
    timezone: Asia/Ho_Chi_Minh
    rules:
      - {id: any-low, kind: threshold, indicator: "*", below: 0.1}
      - {id: ratio-low, kind: threshold, indicator: online_dossier_ratio, below: 0.5}
      - {id: other-low, kind: threshold, indicator: chip_cards, below: 0.9}
      - {id: ratio-stale, kind: staleness, indicator: online_dossier_ratio, max_age: 30d}
      - {id: unit-silent, kind: staleness, max_age: 30d}
""",
    )
    assert [r.rule.id for r in rules.indicator_rules_for("online_dossier_ratio")] == [
        "any-low",
        "ratio-low",
        "ratio-stale",
    ]
    assert [r.rule.id for r in rules.indicator_rules_for("chip_cards")] == ["any-low", "other-low"]
    assert [r.rule.id for r in rules.indicator_rules_for("unknown")] == ["any-low"]
