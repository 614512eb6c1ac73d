"""The console's texts: computed in Python at answer time, Vietnamese figures, the same for every worker."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

from events.models import TaskStatus
from monitor.http.figures import alert_display, alert_row, indicator_rows, rosters_view, worst_severity
from monitor.http.shown import shown_alert
from monitor.spreadsheet import csv_bytes
from rules.engine import apply_event, seed
from rules.language import RulePack
from rules.loading import BUNDLED_PACK, load_pack
from tests.conftest import vn
from tests.rules.fixtures import DEADLINE_RULES, indicator, pack, task

NBSP = "\u00a0"

DOSSIER_RULES = """
groups:
  - name: test
    timezone: Asia/Ho_Chi_Minh
    rules:
      - id: dossier-overdue
        kind: deadline
        severity: warning
        select: {kind: dossier}
        due_from: deadline
        warn_before: [1wd]
"""


def test_an_overdue_alert_counts_its_days_now_not_when_it_fired(tmp_path: Path) -> None:
    rules = pack(tmp_path, DEADLINE_RULES)
    fired = apply_event(rules, None, task(vn(2024, 7, 1), deadline=date(2024, 7, 19)), vn(2024, 7, 20, 9))
    (alert,) = fired.transitions
    assert alert.stage == "overdue" and alert.annotations["summary"].endswith("(hạn 19/07/2024)")
    # Due at the end of 19/07; on 25/07 at 09:00, five whole days have passed (not six: not rounded up).
    shown = alert_display(alert, rules, vn(2024, 7, 25, 9))
    assert shown["due"] == "19/07/2024"  # a date deadline reads as the date written
    assert shown["days_overdue"] == 5 and shown["overdue"] == "quá hạn 5 ngày"
    assert shown["stage"] == "quá hạn" and shown["starts"] == "20/07/2024 00:00"
    assert alert_display(alert, rules, vn(2024, 7, 20, 9))["overdue"] == "quá hạn dưới 1 ngày"


def test_a_deadline_given_as_an_instant_shows_its_time(tmp_path: Path) -> None:
    rules = pack(tmp_path, DEADLINE_RULES)
    (alert,) = apply_event(rules, None, task(vn(2024, 7, 1), deadline=vn(2024, 7, 19, 17)), vn(2024, 7, 20)).transitions
    assert alert_display(alert, rules, vn(2024, 7, 20))["due"] == "19/07/2024 17:00"


def test_a_working_day_rule_counts_working_days(tmp_path: Path) -> None:
    rules = pack(tmp_path, DOSSIER_RULES)
    # Due at the end of Friday 30/08/2024; 2 and 3 September are holidays, then the weekend before.
    event = task(vn(2024, 8, 20), kind="dossier", deadline=date(2024, 8, 30))
    (alert,) = apply_event(rules, None, event, vn(2024, 8, 31)).transitions
    assert alert.stage == "overdue"
    shown = alert_display(alert, rules, vn(2024, 9, 5, 9))  # Wednesday 04/09 is the first working day past due
    assert shown["due"] == "30/08/2024"
    assert shown["days_overdue"] == 1 and shown["overdue"] == "quá hạn 1 ngày làm việc"
    assert alert_display(alert, rules, vn(2024, 9, 4, 9))["overdue"] == "quá hạn dưới 1 ngày làm việc"


def test_a_ratio_breach_reads_as_percentages() -> None:
    bundled = load_pack([BUNDLED_PACK])
    (alert,) = apply_event(bundled, None, indicator(vn(2024, 7, 3), 0.458, unit="VN-22"), vn(2024, 7, 3)).transitions
    shown = alert_display(alert, bundled, vn(2024, 7, 10))
    assert (shown["value"], shown["target"]) == (f"45,8{NBSP}%", f"50{NBSP}%")
    assert shown["stage"] == "dưới mục tiêu" and "days_overdue" not in shown


def test_a_late_completion_says_how_late(tmp_path: Path) -> None:
    rules = pack(tmp_path, DEADLINE_RULES)
    state = apply_event(rules, None, task(vn(2024, 7, 1), deadline=date(2024, 7, 19)), vn(2024, 7, 21)).state
    done = apply_event(
        rules, state, task(vn(2024, 7, 25, 8), TaskStatus.COMPLETED, deadline=date(2024, 7, 19)), vn(2024, 7, 25, 9)
    )
    (resolved,) = done.transitions
    shown = alert_display(resolved, rules, vn(2024, 8, 1))
    assert shown["resolution"] == "hoàn thành muộn 5 ngày" and shown["late_days"] == 5
    assert shown["ends"] == "25/07/2024 08:00"
    assert "overdue" not in shown  # resolved: no count that keeps growing
    row = alert_row(shown_alert(resolved, rules, vn(2024, 8, 1)))
    assert (row["resolution"], row["late_days"], row["status"]) == ("completed_late", 5, "resolved")


def test_a_stale_unit_shows_when_it_last_reported() -> None:
    bundled = load_pack([BUNDLED_PACK])
    silent = seed(bundled, "VN-HN", vn(2024, 7, 25)).state
    stale = [a for a in silent.alerts.values() if a.stage == "stale"]
    assert stale and alert_display(stale[0], bundled, vn(2024, 7, 25))["last_report"] == "chưa bao giờ"
    reported = apply_event(bundled, silent, indicator(vn(2024, 7, 26), 0.6, unit="VN-HN"), vn(2024, 7, 26))
    (ended,) = [t for t in reported.transitions if t.stage == "stale"]
    assert alert_display(ended, bundled, vn(2024, 7, 26))["resolution"] == "đã có báo cáo mới"


def test_the_shown_view_carries_the_attention_key_and_is_json_plain(tmp_path: Path) -> None:
    rules = pack(tmp_path, DEADLINE_RULES)
    (alert,) = apply_event(rules, None, task(vn(2024, 7, 1), deadline=date(2024, 7, 19)), vn(2024, 7, 20)).transitions
    view = shown_alert(alert, rules, vn(2024, 7, 22))
    assert view["attention"][:3] == [0, 0, 0]  # firing, critical, overdue
    assert view["display"]["overdue"] == "quá hạn 2 ngày"
    assert view["unit_name"] == "VN-40" and view["summary"] == alert.annotations["summary"]


def test_indicators_against_their_targets() -> None:
    bundled = load_pack([BUNDLED_PACK])
    state = None
    for name, value in (("online_dossier_ratio", 0.458), ("dossier_digitisation_ratio", 0.85)):
        state = apply_event(bundled, state, indicator(vn(2024, 7, 3), value, unit="VN-22", name=name), vn(2024, 7, 3))
        state = state.state  # type: ignore[assignment]
    assert state is not None
    rows = {r["indicator"]: r for r in indicator_rows(bundled, state, vn(2024, 7, 10))}  # type: ignore[arg-type]
    online = rows["online_dossier_ratio"]
    assert online["breach"] is True and online["meets"] is False and online["target"] == 0.5
    assert online["display"] == {
        "value": f"45,8{NBSP}%",
        "target": f"≥ 50{NBSP}%",
        "assessment": "dưới mục tiêu",
        "reported": "03/07/2024",
        "reported_by": "test",  # the publisher whose report it is
    }
    assert rows["dossier_digitisation_ratio"]["meets"] is True
    assert rows["dossier_digitisation_ratio"]["display"]["assessment"] == "đạt"
    # Expected by a threshold rule, never reported: listed, without a value.
    assert rows["eid_activation_ratio"]["value"] is None
    assert rows["eid_activation_ratio"]["display"]["value"] == "chưa báo cáo"
    # A scheduled target is the one in effect now.
    services = indicator_rows(bundled, state, vn(2025, 2, 1))  # type: ignore[arg-type]
    assert next(r for r in services if r["indicator"] == "essential_services_online_ratio")["target"] == 1.0


def test_worst_severity_and_rosters() -> None:
    assert worst_severity(["warning", "critical"]) == "critical"
    assert worst_severity(["info"]) == "info" and worst_severity([]) is None
    bundled: RulePack = load_pack([BUNDLED_PACK])
    # In 2024 every roster is of its time, in the pack's order; in 2026 the roster in force comes first (a roster
    # that selects shows the units in force), those of 2024 after it.
    rosters = rosters_view(bundled, vn(2024, 7, 1))
    assert [(r["roster"], len(r["units"]), r["in_force"]) for r in rosters] == [
        ("provinces-63", 63, True),
        ("ministries", 23, True),
        ("provinces", 63, True),
    ]
    assert rosters[0]["units"][0] == {"id": "VN-44", "name": "An Giang", "kind": "province"}
    today = rosters_view(bundled, vn(2026, 12, 4))
    assert [(r["roster"], len(r["units"]), r["in_force"], r["rules"]) for r in today] == [
        ("provinces", 34, True, True),
        ("ministry-in-force", 17, True, False),  # no rule names today's ministries: the overview shows them first
        ("provinces-63", 63, False, True),
        ("ministries", 23, False, True),
    ]
    ministries = {u["id"]: u["name"] for u in today[1]["units"]}
    assert "BTC" in ministries and "BKHDT" not in ministries  # Kế hoạch và Đầu tư went into Tài chính in 2025
    assert today[1]["description"] == "Bộ, cơ quan ngang bộ, cơ quan thuộc Chính phủ (hiện nay)"
    assert len(bundled.rostered_units) == 63 + 23


def test_a_due_that_is_no_aware_instant_is_no_due_and_breaks_no_answer() -> None:
    from rules.state import due_instant

    assert due_instant({"due": "2024-07-20T00:00:00+07:00"}) is not None
    assert due_instant({"due": "2024-05-02"}) is None and due_instant({"due": "soon"}) is None
    assert due_instant({}) is None


def test_an_alert_row_writes_a_whole_target_and_value_without_a_decimal_point() -> None:
    view = {"unit_id": "VN-22", "value": 12.0, "annotations": {"target": "9"}, "labels": {"indicator": "dossiers"}}
    body = csv_bytes(("value", "target", "indicator"), [alert_row(view)])
    (row,) = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert row == {"value": "12", "target": "9", "indicator": "dossiers"}


def test_an_escalated_alert_says_after_how_long_and_to_whom() -> None:
    from datetime import UTC, datetime

    from monitor.http.figures import alert_display
    from rules.loading import BUNDLED_PACK, load_pack
    from tests.rules.fixtures import transition

    bundled = load_pack([BUNDLED_PACK])
    escalated = transition(
        stage="overdue",
        severity="critical",
        labels={"alertname": "task-overdue", "unit_id": "VN-22", "escalate_to": "province-chair"},
        annotations={"summary": "s", "escalated_after": "5wd"},
    )
    shown = alert_display(escalated, bundled, datetime(2024, 8, 1, tzinfo=UTC))
    assert (shown["escalated"], shown["escalated_to"]) == ("nâng mức sau 5 ngày làm việc", "province-chair")
    plain = transition(stage="overdue", labels={"alertname": "task-overdue", "unit_id": "VN-22"})
    assert "escalated" not in alert_display(plain, bundled, datetime(2024, 8, 1, tzinfo=UTC))
