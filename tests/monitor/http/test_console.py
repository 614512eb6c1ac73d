"""The console's answers: a unit in full, the rosters, alert lists as CSV, filter typos named."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any

from events.models import TaskStatus
from monitor.actions import ActionBook
from monitor.http.console import rosters, unit_detail
from monitor.http.shown import alert_view, filter_alerts
from monitor.http.units import overdue_items
from monitor.http.views import alerts, overdue
from monitor.silences import SilenceBook
from monitor.turns import SLICE, one_turn
from rules.engine import apply_event, seed
from rules.language import RulePack
from rules.loading import BUNDLED_PACK, load_pack
from rules.state import AlertFilter, AlertTransition, UnitState
from tests.conftest import vn
from tests.rules.fixtures import indicator, task

BUNDLED = load_pack([BUNDLED_PACK])
NOW = vn(2024, 7, 25, 9)


@dataclass
class _Worker:
    """What the answers read of a worker."""

    pack: RulePack
    states: dict[str, UnitState]
    firing: list[AlertTransition]
    resolved: list[AlertTransition] = field(default_factory=list)
    operators: Any = field(default_factory=lambda: SimpleNamespace(book=ActionBook(), current=True))
    silences: Any = field(
        default_factory=lambda: SimpleNamespace(
            book=SilenceBook(),
            current=True,
            calendar=BUNDLED.rules[0].calendar,
            silencing=lambda labels, now=None: None,
        )
    )

    def now(self) -> datetime:
        return NOW

    async def yield_to_records(self) -> None:
        await one_turn()

    def unit_state(self, unit_id: str) -> UnitState | None:
        return self.states.get(unit_id)

    @property
    def alerts_topic(self) -> Any:
        """The alerts topic as read: what ``firing`` and ``resolved`` hold now."""
        return SimpleNamespace(
            current=True,
            firing=lambda: self.firing,
            resolved=lambda limit=1000: self.resolved[:limit],
            last_record=lambda fp: next((a for a in [*self.firing, *self.resolved] if a.fingerprint == fp), None),
        )


def _nghe_an() -> _Worker:
    events = [
        task(vn(2024, 7, 1), unit="VN-22", task_id="NV-27", deadline=date(2024, 7, 19), title="Rà soát thủ tục"),
        task(vn(2024, 7, 2), unit="VN-22", task_id="KH-2024", kind="inspection_plan"),
        indicator(vn(2024, 7, 3), 0.458, unit="VN-22"),
    ]
    firing: dict[str, AlertTransition] = {}  # what the alerts topic says is firing

    def follow(transitions: tuple[AlertTransition, ...]) -> None:
        for t in transitions:
            if t.status == "resolved":
                firing.pop(t.fingerprint, None)
            else:
                firing[t.fingerprint] = t

    seeded = seed(BUNDLED, "VN-22", NOW)  # as the worker does for a rostered unit: its roster deadline is evaluated
    state = seeded.state
    follow(seeded.transitions)
    for event in events:
        result = apply_event(BUNDLED, state, event, NOW)
        state = result.state
        follow(result.transitions)
    silent = seed(BUNDLED, "VN-HN", NOW)
    follow(silent.transitions)
    return _Worker(BUNDLED, {"VN-22": state, "VN-HN": silent.state}, list(firing.values()))


def _body(answer: Any) -> Any:
    return json.loads(answer.body)


def test_a_unit_in_full_holds_its_summary_overdue_list_and_indicators() -> None:
    worker = _nghe_an()
    answer = unit_detail(worker, "VN-22")  # type: ignore[arg-type]
    assert answer.status == 200
    unit = _body(answer)
    assert (unit["unit_name"], unit["rosters"]) == ("Nghệ An", ["provinces-63", "provinces"])
    assert unit["summary"]["worst_severity"] == "critical" and unit["summary"]["overdue"] == 2
    # The overdue rows are the API's (/overdue), with their texts beside them.
    listed = _body(overdue(worker, "VN-22", {}))["overdue"]  # type: ignore[arg-type]
    assert [{k: v for k, v in row.items() if k != "display"} for row in unit["overdue"]] == listed
    plan, late = unit["overdue"]
    assert plan["display"] == {
        "overdue": "quá hạn 5 ngày",
        "status": "đang thực hiện",
        "due": "20/07/2024 00:00",  # the roster deadline is an instant
        "reported": "test, 02/07/2024 00:00",  # who reported the plan's status, and when
    }
    assert (plan["reported_by"], plan["reported_at"]) == ("test", "2024-07-02T00:00:00+07:00")
    assert late["display"]["due"] == "19/07/2024" and late["display"]["overdue"] == "quá hạn 5 ngày"
    online = next(r for r in unit["indicators"] if r["indicator"] == "online_dossier_ratio")
    assert online["display"]["value"] == "45,8\u00a0%" and online["breach"] is True
    assert online["reported_by"] == online["display"]["reported_by"] == "test"
    assert unit["downloads"] == {
        "overdue_csv": "/api/v1/units/VN-22/overdue?format=csv",
        "alerts_csv": "/api/v1/alerts?unit_id=VN-22&format=csv",
        "history_csv": "/api/v1/alerts/history?unit_id=VN-22&format=csv",
    }


def test_a_rostered_unit_that_never_reported_has_a_unit_view_and_an_unknown_one_is_404() -> None:
    worker = _nghe_an()
    silent = _body(unit_detail(worker, "VN-HN"))  # type: ignore[arg-type]
    assert silent["summary"]["tasks_total"] == 0 and [r["status"] for r in silent["overdue"]] == ["not_reported"]
    assert silent["overdue"][0]["display"]["status"] == "chưa báo cáo"
    assert unit_detail(worker, "VN-99").status == 404  # type: ignore[arg-type]
    assert unit_detail(worker, "VN-\n22").status == 400  # type: ignore[arg-type]
    never = _Worker(BUNDLED, {}, [])
    assert _body(unit_detail(never, "BCA"))["overdue"] == []  # type: ignore[arg-type]


def test_the_rosters_answer_lists_every_rostered_unit_in_order() -> None:
    body = _body(rosters(_nghe_an()))  # type: ignore[arg-type]
    assert [r["roster"] for r in body["rosters"]] == ["provinces-63", "ministries", "provinces"]
    assert {u["id"] for r in body["rosters"] for u in r["units"]} == set(BUNDLED.rostered_units)
    assert body["communes_in_force"] == 10035  # July 2024: the communes before the 2025 reform, not the 3,321


async def test_alerts_carry_display_texts_and_come_as_csv() -> None:
    worker = _nghe_an()
    page = _body(await alerts(worker, {"unit_id": "VN-22"}))  # type: ignore[arg-type]
    first = page["alerts"][0]
    assert first["severity"] == "critical" and first["stage"] == "overdue"
    assert first["display"]["overdue"] == "quá hạn 5 ngày" and first["attention"][:3] == [0, 0, 0]
    answer = await alerts(worker, {"unit_id": "VN-22", "format": "csv"})  # type: ignore[arg-type]
    assert answer.content_type.startswith("text/csv") and "alerts-VN-22.csv" in answer.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.body.decode("utf-8-sig"))))
    assert [r["fingerprint"] for r in rows] == [a["fingerprint"] for a in page["alerts"]]
    assert rows[0]["days_overdue"] == "5" and rows[0]["due"] == first["annotations"]["due"]


async def test_a_search_finds_alerts_as_shown_without_diacritics_and_the_counts_leave_out_their_own_filter() -> None:
    worker = _nghe_an()
    every = _body(await alerts(worker, {}))["alerts"]  # type: ignore[arg-type]
    # Typed without diacritics, as on a phone: the unit's name, and the stage as the console words it.
    found = _body(await alerts(worker, {"q": "Nghe An"}))  # type: ignore[arg-type]
    assert found["alerts"] and {a["unit_id"] for a in found["alerts"]} == {"VN-22"}
    assert found["count"] == sum(a["unit_name"] == "Nghệ An" for a in every)
    below = _body(await alerts(worker, {"q": "DUOI MUC TIEU"}))["alerts"]  # type: ignore[arg-type]
    assert [a["display"]["stage"] for a in below] == ["dưới mục tiêu"]
    assert _body(await alerts(worker, {"q": "kế hoạch kiểm tra", "unit_id": "VN-HN"}))["count"] == 1  # type: ignore[arg-type]
    # Per severity: every filter but the severity; per unit: every filter but the unit.
    chosen = _body(await alerts(worker, {"q": "nghe an", "severity": "warning"}))  # type: ignore[arg-type]
    assert chosen["count"] == 1
    by_severity = chosen["facets"]["severity"]
    assert by_severity == {s: sum(a["severity"] == s for a in found["alerts"]) for s in ("critical", "warning", "info")}
    (nghe_an,) = chosen["facets"]["unit"]
    assert (nghe_an["unit_id"], nghe_an["total"], nghe_an["warning"], nghe_an["critical"]) == ("VN-22", 1, 1, 0)
    rows = _body(await alerts(worker, {"unit_id": "VN-HN"}))["facets"]["unit"]  # type: ignore[arg-type]
    assert [(r["unit_id"], r["total"]) for r in rows] == sorted(
        (u, sum(a["unit_id"] == u for a in every)) for u in {a["unit_id"] for a in every}
    )


async def test_an_unknown_filter_value_is_a_400_naming_the_allowed_ones() -> None:
    worker = _nghe_an()
    for query, parameter in (
        ({"severity": "urgent"}, "severity"),
        ({"rule_id": "task-overdu"}, "rule_id"),
        ({"sort": "oldest"}, "sort"),
        ({"format": "xlsx"}, "format"),
        ({"state": "open"}, "state"),
    ):
        answer = await alerts(worker, query)  # type: ignore[arg-type]
        assert answer.status == 400
        body = _body(answer)
        assert body["parameter"] == parameter and body["value"] == query[parameter]
        assert body["allowed"] and all(value in body["error"] for value in body["allowed"])
    assert _body(await alerts(worker, {"severity": "urgent"}))["allowed"] == ["info", "warning", "critical"]  # type: ignore[arg-type]


def test_the_overdue_csv_and_the_unit_view_agree() -> None:
    worker = _nghe_an()
    state = worker.states["VN-22"]
    rows = list(csv.DictReader(io.StringIO(overdue(worker, "VN-22", {"format": "csv"}).body.decode("utf-8-sig"))))  # type: ignore[arg-type]
    assert [r["task_id"] for r in rows] == [i["task_id"] for i in overdue_items(BUNDLED, state, NOW)]
    assert [r["task_id"] for r in rows] == [r["task_id"] for r in _body(unit_detail(worker, "VN-22"))["overdue"]]  # type: ignore[arg-type]
    assert TaskStatus.IN_PROGRESS.value in {r["status"] for r in rows}


async def test_a_list_of_many_alerts_lets_the_event_loop_turn_at_least_every_slice_and_orders_them_all() -> None:
    worker = _nghe_an()
    base = worker.firing
    many = 3 * SLICE + 17
    worker.firing = [
        a.model_copy(update={"fingerprint": f"{n:016x}", "labels": {**a.labels, "task_id": f"HS-{n}"}})
        for n in range(many)
        for a in (base[n % len(base)],)
    ]
    looked = [0]  # alerts looked at so far (each is asked once whether a silence covers it)
    worker.silences.silencing = lambda labels, now=None: looked.__setitem__(0, looked[0] + 1)
    seen: list[int] = []  # alerts looked at, at each turn of the event loop

    async def turns() -> None:
        while True:
            seen.append(looked[0])
            await asyncio.sleep(0)

    watcher = asyncio.get_running_loop().create_task(turns())
    await asyncio.sleep(0)
    try:
        answer = await alerts(worker, {"format": "csv"})  # type: ignore[arg-type]
    finally:
        watcher.cancel()
    steps = [b - a for a, b in itertools.pairwise(seen)]
    assert looked[0] == many and max(steps) <= SLICE, f"at most {SLICE} alerts between two turns, not {max(steps)}"
    rows = list(csv.DictReader(io.StringIO(answer.body.decode("utf-8-sig"))))
    views = [alert_view(a, BUNDLED.unit_names, worker.operators.book) for a in worker.firing]
    assert [r["fingerprint"] for r in rows] == [v["fingerprint"] for v in filter_alerts(views, AlertFilter())]
