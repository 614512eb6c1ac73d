from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from events.models import TaskStatus
from monitor.http.shown import SORTS, attention_order, filter_alerts, newest_order, shown_alert, unit_order
from monitor.http.units import overdue_csv, overdue_items, unit_summary
from monitor.http.views import rules
from monitor.state.packs import PackLog
from rules.engine import advance, apply_event, seed
from rules.language import SEVERITIES, RulePack
from rules.loading import BUNDLED_PACK, load_pack
from rules.state import AlertFilter, UnitState
from tests.conftest import vn
from tests.rules.fixtures import DEADLINE_RULES, pack, task


def _state(tmp_path: Path) -> tuple[object, UnitState]:
    rules = pack(tmp_path, DEADLINE_RULES)
    state = None
    specs = [
        ("NV-27", "Rà soát, cắt giảm thủ tục hành chính", date(2024, 7, 1), TaskStatus.IN_PROGRESS),
        ("NV-03", "Cấp tài khoản định danh điện tử mức 2", date(2024, 7, 10), TaskStatus.NOT_STARTED),
        ("NV-01", "Làm sạch dữ liệu dân cư", date(2024, 7, 1), TaskStatus.COMPLETED),
        ("NV-09", "Khám chữa bệnh bằng căn cước", date(2024, 8, 30), TaskStatus.IN_PROGRESS),
    ]
    for task_id, title, deadline, status in specs:
        event = task(vn(2024, 7, 20), status, unit="VN-22", task_id=task_id, deadline=deadline, title=title)
        state = apply_event(rules, state, event, vn(2024, 7, 20)).state
    assert state is not None
    return rules, state


def test_overdue_list_and_csv_keep_vietnamese_titles(tmp_path: Path) -> None:
    rules, state = _state(tmp_path)
    items = overdue_items(rules, state, vn(2024, 7, 20))  # type: ignore[arg-type]
    assert [(i["task_id"], i["days_overdue"]) for i in items] == [("NV-27", 18), ("NV-03", 9)]
    assert items[0]["due"] == "2024-07-02T00:00:00+07:00"
    body = overdue_csv(items)
    assert body.startswith(b"\xef\xbb\xbf") and b"\r\n" in body  # BOM and CRLF: spreadsheets read UTF-8 right
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0]["title"] == "Rà soát, cắt giảm thủ tục hành chính"
    assert rows[1]["title"] == "Cấp tài khoản định danh điện tử mức 2"


def test_unit_summary(tmp_path: Path) -> None:
    rules, state = _state(tmp_path)
    summary = unit_summary(rules, state)  # type: ignore[arg-type]
    assert summary["tasks"] == {"completed": 1, "in_progress": 2, "not_started": 1}
    assert summary["overdue"] == 2 and summary["alerts_firing"] == 2


def test_filters() -> None:
    alerts = [
        {"unit_id": "VN-22", "rule_id": "a", "severity": "critical", "starts_at": "2024-07-02T00:00:00+07:00"},
        {"unit_id": "VN-22", "rule_id": "b", "severity": "warning", "starts_at": "2024-07-03T00:00:00+07:00"},
        {"unit_id": "VN-02", "rule_id": "a", "severity": "critical", "starts_at": "2024-07-04T00:00:00+07:00"},
    ]
    assert [a["rule_id"] for a in filter_alerts(alerts, AlertFilter(unit_id="VN-22"), "newest")] == ["b", "a"]
    # Newest by instant, whatever offset each was written with: 07:00 in Hanoi is midnight UTC.
    mixed = [
        {**alerts[0], "rule_id": "earlier", "starts_at": "2024-07-03T06:00:00+07:00"},
        {**alerts[0], "rule_id": "later", "starts_at": "2024-07-02T23:30:00Z"},
    ]
    assert [a["rule_id"] for a in filter_alerts(mixed, AlertFilter(), "newest")] == ["later", "earlier"]
    assert len(filter_alerts(alerts, AlertFilter(rule_id="a", severity="critical"))) == 2


def _firing(unit: str, severity: str, stage: str, starts: str, due: str | None = None) -> dict[str, object]:
    annotations = {"due": due} if due else {}
    return {
        "fingerprint": f"{unit}-{stage}-{starts}",
        "status": "firing",
        "unit_id": unit,
        "rule_id": stage,
        "severity": severity,
        "stage": stage,
        "starts_at": starts,
        "annotations": annotations,
    }


def test_the_default_order_puts_the_longest_overdue_critical_alert_first() -> None:
    alerts = [
        _firing("VN-01", "warning", "breach", "2024-07-25T00:00:00+00:00"),
        _firing("VN-02", "critical", "due_soon", "2024-07-01T00:00:00+00:00"),
        # Became overdue later than it started firing (it warned first): the due instant counts, not the warning.
        _firing("VN-03", "critical", "overdue", "2024-06-01T00:00:00+00:00", due="2024-07-20T00:00:00+07:00"),
        _firing("VN-04", "critical", "overdue", "2024-07-19T00:00:00+00:00", due="2024-07-10T00:00:00+07:00"),
        {**_firing("VN-05", "critical", "overdue", "2024-01-01T00:00:00+00:00"), "status": "resolved"},
    ]
    order = [a["unit_id"] for a in filter_alerts(alerts, AlertFilter())]
    assert order == ["VN-04", "VN-03", "VN-02", "VN-01", "VN-05"]
    by_unit = [a["unit_id"] for a in filter_alerts(list(reversed(alerts)), AlertFilter(), "unit")]
    assert by_unit == sorted(by_unit)
    # Equal in everything the order looks at but the fingerprint: still one order, whatever order they came in.
    twins = [_firing("VN-06", "warning", "breach", "2024-07-25T00:00:00+00:00") for _ in range(2)]
    twins[1]["fingerprint"] = "a"
    assert filter_alerts(twins, AlertFilter()) == filter_alerts(list(reversed(twins)), AlertFilter())


def test_overdue_csv_writes_no_formula_in_title_task_or_unit(tmp_path: Path) -> None:
    rules, state = _state(tmp_path)
    items = overdue_items(rules, state, vn(2024, 7, 20))  # type: ignore[arg-type]
    hostile = {
        "unit_id": "@SUM(1+1)*cmd|' /C calc'!A0",
        "unit_name": "-1+1",
        "task_id": "+cmd|' /C calc'!A0",
        "title": '=HYPERLINK("http://evil.example","bấm")',
        "kind": "\t=1",
    }
    rows = list(csv.DictReader(io.StringIO(overdue_csv([{**items[0], **hostile}]).decode("utf-8-sig"))))
    assert {k: rows[0][k] for k in hostile} == {k: "'" + v for k, v in hostile.items()}
    assert rows[0]["days_overdue"] == "18" and rows[0]["due"] == "2024-07-02T00:00:00+07:00"


def test_a_missed_unit_deadline_is_on_the_unit_s_overdue_list_and_in_its_count() -> None:
    bundled = load_pack([BUNDLED_PACK])
    now = vn(2024, 7, 25, 9)
    silent = seed(bundled, "VN-HN", now).state  # never reported: its 20/7 inspection plan is overdue
    (row,) = overdue_items(bundled, silent, now)
    assert (row["rule_id"], row["kind"], row["status"], row["task_id"]) == (
        "inspection-plan-2024",
        "inspection_plan",
        "not_reported",
        "",
    )
    # Due 20/7 00:00, now 25/7 09:00: five whole days (and nine hours) have passed.
    assert row["days_overdue"] == 5 and row["due"].startswith("2024-07-20T00:00")
    assert unit_summary(bundled, silent)["overdue"] == 1
    reported = task(vn(2024, 7, 2), TaskStatus.IN_PROGRESS, unit="VN-22", task_id="KH-2024", kind="inspection_plan")
    late = advance(bundled, apply_event(bundled, None, reported, now).state, now).state
    (row,) = overdue_items(bundled, late, now)
    assert (row["task_id"], row["status"]) == ("KH-2024", "in_progress")


def test_every_alert_shown_carries_its_key_for_each_order_and_the_keys_sort_as_the_api_does(tmp_path: Path) -> None:
    rules, state = _state(tmp_path)
    advanced = advance(rules, state, vn(2024, 8, 25)).state  # overdue and due-soon alerts of several ages
    shown = [shown_alert(alert, rules, vn(2024, 8, 25)) for alert in advanced.alerts.values()]
    resolved = {**shown[0], "status": "resolved", "ends_at": "2024-08-24T00:00:00+07:00", "fingerprint": "ended"}
    keys = {"attention": attention_order, "newest": newest_order, "unit": unit_order}
    shown.append({**resolved, "order": {sort: list(keys[sort](resolved)) for sort in SORTS}})
    assert len(shown) >= 3
    for sort in SORTS:
        by_key = sorted(shown, key=lambda a, sort=sort: a["order"][sort])  # what the console does
        assert [a["fingerprint"] for a in by_key] == [
            a["fingerprint"] for a in filter_alerts(shown, AlertFilter(), sort)
        ]
    json.dumps(shown, allow_nan=False)  # the keys travel in JSON


@dataclass
class _Packed:
    """What ``/api/v1/rules`` reads of a worker."""

    pack: RulePack = field(default_factory=lambda: load_pack([BUNDLED_PACK]))
    pack_applied_at: datetime = field(default_factory=lambda: vn(2024, 7, 1))
    pack_log: PackLog = field(default_factory=PackLog)


def test_the_rules_answer_names_the_severities_most_urgent_first_and_the_sorts() -> None:
    answer = json.loads(rules(_Packed()).body)  # type: ignore[arg-type]
    assert [s["id"] for s in answer["severities"]] == list(SEVERITIES) == ["critical", "warning", "info"]
    assert [s["text"] for s in answer["severities"]] == ["Nghiêm trọng", "Cảnh báo", "Thông tin"]
    assert [s["id"] for s in answer["sorts"]] == list(SORTS)
