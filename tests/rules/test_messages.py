"""Summaries: the template fields as Vietnamese readers read them, and what each default summary says."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from rules.engine import advance, apply_event
from rules.loading import BUNDLED_PACK, load_pack
from tests.conftest import vn
from tests.rules.fixtures import indicator, pack, task

NBSP = "\u00a0"

RATIO_RULES = """
indicators:
  essential_services_online_ratio: {min: 0, max: 1}
  dossiers_received: {min: 0}
groups:
  - name: test
    rules:
      - id: essential-low
        kind: threshold
        indicator: essential_services_online_ratio
        below: 0.9
        schedule:
          - {from: "2025-01-01T00:00:00+07:00", target: 1.0}
      - id: dossiers-high
        kind: threshold
        indicator: dossiers_received
        above: 1000
      - id: overdue-share
        kind: aggregate
        select: {kind: task}
        measure: overdue_ratio
        above: 0.2
        min_tasks: 2
      - id: open-count
        kind: aggregate
        select: {kind: task}
        measure: open_count
        above: 2
"""


def test_a_value_that_rounds_to_its_target_shows_the_decimals_that_tell_them_apart(tmp_path: Path) -> None:
    rules = pack(tmp_path, RATIO_RULES)
    report = indicator(vn(2024, 12, 3), 0.9996, name="essential_services_online_ratio")
    state = apply_event(rules, None, report, vn(2024, 12, 3)).state
    (firing,) = advance(rules, state, vn(2025, 1, 1)).transitions  # the 2025 target: 100 %
    assert (
        firing.annotations["summary"] == f"VN-40: essential_services_online_ratio = 99,96{NBSP}%, mục tiêu 100{NBSP}%"
    )
    assert firing.annotations["target"] == "1"


def test_a_number_that_is_not_a_ratio_is_grouped_in_thousands(tmp_path: Path) -> None:
    rules = pack(tmp_path, RATIO_RULES)
    report = indicator(vn(2024, 7, 3), 1234.5, name="dossiers_received")
    (firing,) = apply_event(rules, None, report, vn(2024, 7, 3)).transitions
    assert firing.annotations["summary"] == "VN-40: dossiers_received = 1.234,5, mục tiêu 1.000"


def test_an_aggregate_ratio_is_a_percentage_and_a_count_a_number(tmp_path: Path) -> None:
    rules = pack(tmp_path, RATIO_RULES)
    state = None
    for task_id, deadline in (("A", date(2024, 7, 1)), ("B", date(2024, 7, 30)), ("C", date(2024, 8, 30))):
        state = apply_event(
            rules, state, task(vn(2024, 6, 1), task_id=task_id, deadline=deadline), vn(2024, 6, 1)
        ).state
    assert state is not None
    transitions = advance(rules, state, vn(2024, 7, 3)).transitions
    summaries = {t.rule_id: t.annotations["summary"] for t in transitions}
    assert summaries == {
        "overdue-share": f"VN-40: overdue-share = 33,3{NBSP}%, ngưỡng 20{NBSP}%",
        "open-count": "VN-40: open-count = 3, ngưỡng 2",
    }


def test_days_overdue_in_a_custom_template_are_those_at_the_instant_the_alert_fires(tmp_path: Path) -> None:
    rules = pack(
        tmp_path,
        """
groups:
  - name: test
    rules:
      - id: task-overdue
        kind: deadline
        select: {kind: task}
        due_from: deadline
        summary: "{unit_name}: {task_title} quá hạn {days_overdue} ngày (hạn {due})"
""",
    )
    # Reported three days and a few hours after its due instant (the end of 19/07): fires as 3 days overdue.
    late = apply_event(rules, None, task(vn(2024, 7, 23, 9), deadline=date(2024, 7, 19)), vn(2024, 7, 23, 9))
    (firing,) = late.transitions
    assert firing.annotations["summary"] == "VN-40: T-1 quá hạn 3 ngày (hạn 19/07/2024)"
    # On time for the engine's clock: fires the moment it is due, with no day over yet.
    state = apply_event(rules, None, task(vn(2024, 7, 1), task_id="T-2", deadline=date(2024, 7, 19)), vn(2024, 7, 1))
    (firing,) = advance(rules, state.state, vn(2024, 7, 20)).transitions
    assert firing.annotations["summary"] == "VN-40: T-2 quá hạn 0 ngày (hạn 19/07/2024)"


def test_the_last_report_is_a_vietnamese_date_and_time_and_the_longest_silence_vietnamese_words(tmp_path: Path) -> None:
    rules = pack(
        tmp_path,
        """
groups:
  - name: test
    rules:
      - id: stale
        kind: staleness
        indicator: online_dossier_ratio
        max_age: 30d
""",
    )
    state = apply_event(rules, None, indicator(vn(2024, 7, 3, 9), 0.5), vn(2024, 7, 3, 9)).state
    (firing,) = advance(rules, state, vn(2024, 8, 3)).transitions
    assert firing.annotations["summary"] == (
        "VN-40: chưa có báo cáo online_dossier_ratio mới (lần cuối: 03/07/2024 09:00; tối đa 30 ngày)"
    )
    assert firing.annotations["last_report"] == "2024-07-03T09:00:00+07:00"
    assert firing.annotations["max_age"] == "30d"  # machine-readable, as the rule file writes it


def test_a_staleness_value_is_an_age_in_days_even_for_a_ratio_indicator(tmp_path: Path) -> None:
    rules = pack(
        tmp_path,
        """
indicators:
  online_dossier_ratio: {min: 0, max: 1}
groups:
  - name: test
    rules:
      - id: stale
        kind: staleness
        indicator: online_dossier_ratio
        max_age: 30d
        summary: "{unit_name}: {indicator} im lặng {value} ngày"
""",
    )
    state = apply_event(rules, None, indicator(vn(2024, 7, 3), 0.5), vn(2024, 7, 3)).state
    (firing,) = advance(rules, state, vn(2024, 8, 2, 12)).transitions
    assert firing.annotations["summary"] == "VN-40: online_dossier_ratio im lặng 30,5 ngày"


def test_the_bundled_pack_says_how_long_a_province_may_stay_silent_in_words() -> None:
    bundled = load_pack([BUNDLED_PACK])
    state = apply_event(bundled, None, indicator(vn(2024, 7, 29, 17), 0.66, unit="VN-HN"), vn(2024, 7, 29, 17)).state
    stale = [t for t in advance(bundled, state, vn(2024, 8, 29, 17)).transitions if t.stage == "stale"]
    assert [t.annotations["summary"] for t in stale] == [
        "Hà Nội: chưa có báo cáo online_dossier_ratio mới (lần cuối: 29/07/2024 17:00; tối đa 30 ngày)"
    ]
    assert stale[0].annotations["max_age"] == "30d"
