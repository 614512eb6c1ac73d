"""Any worker answers for every unit: two workers on the embedded broker with the demo data give the same answers."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.devtools.broker import EmbeddedBroker
from monitor.devtools.demo import demo_events, demo_units
from monitor.state.indexer import HistoryIndexer
from rules.loading import BUNDLED_PACK, load_pack
from rules.review import parse_period
from rules.units import Placed, place
from tests.integration.kafka import MonitorProcess, publish_events, wait_for, worker_process

pytestmark = pytest.mark.integration


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of a GET."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status), dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), dict(exc.headers), exc.read()
    except OSError as exc:  # nothing listens (yet)
        return 0, {}, str(exc).encode()


def _json(url: str) -> Any:
    status, _, body = _get(url)
    assert status == 200, (url, status, body[:500])
    return json.loads(body)


def _all_units(base: str) -> list[dict[str, Any]]:
    """Every page of ``/api/v1/units``."""
    units: list[dict[str, Any]] = []
    offset: int | None = 0
    while offset is not None:
        page = _json(f"{base}/api/v1/units?limit=20&offset={offset}")
        units += page["units"]
        offset = page["next_offset"]
    return units


def _views(base: str, unit_ids: list[str]) -> dict[str, Any]:
    """What a worker says about everything: alerts, units, and every unit's overdue list (JSON and CSV)."""
    views: dict[str, Any] = {
        "alerts": _json(f"{base}/api/v1/alerts?limit=5000"),
        "units": _all_units(base),
        "history": _json(f"{base}/api/v1/alerts/history?limit=5000"),
        "history VN-22": _json(f"{base}/api/v1/alerts/history?unit_id=VN-22&from=2024-01-01"),
    }
    status, _, body = _get(f"{base}/api/v1/alerts/history?format=csv")
    assert status == 200
    views["history.csv"] = body.decode("utf-8")
    for unit in unit_ids:
        views[f"overdue {unit}"] = _json(f"{base}/api/v1/units/{unit}/overdue")
    for unit in ("VN-22", "VN-40"):
        status, _, body = _get(f"{base}/api/v1/units/{unit}/overdue?format=csv")
        assert status == 200
        views[f"overdue.csv {unit}"] = body.decode("utf-8")
        views[f"unit {unit}"] = _json(f"{base}/api/v1/units/{unit}")  # the console's unit view, from its owner
    return views


def _partitions(worker: MonitorProcess) -> list[int]:
    status, _, body = _get(worker.base_url + "/readyz")
    return json.loads(body)["partitions"] if status == 200 else []


#: The credential the workers send each other.
CLUSTER = {"MONITOR_CLUSTER_TOKEN": "cluster-credential-for-tests"}


def _status(url: str, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_two_workers_answer_identically_for_every_unit_even_while_rebalancing(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    pack = load_pack([BUNDLED_PACK])
    first = worker_process(broker.url, tmp_path / "a", env=CLUSTER)
    second = worker_process(broker.url, tmp_path / "b", env=CLUSTER)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with first, second:
        first.wait_ready()
        second.wait_ready()
        wait_for(
            "both workers to own a partition",
            lambda: bool(_partitions(first)) and bool(_partitions(second)),
            timeout=60,
        )
        events = demo_events(now := datetime.now(UTC), *demo_units(pack, now))
        publish_events(broker.bootstrap, events)
        reporting = {
            p.event.unit_id for e in events if isinstance(p := place(e, pack.units), Placed)
        }  # where they land

        history_read: dict[str, Any] = {"body": None, "since": 0.0}

        def settled() -> bool:
            # Every unit that reported is listed by both, and both follow the same alerts; their histories are
            # the same, and unchanged for longer than the index takes to read the topic (it reads it every
            # ``HistoryIndexer.rest`` seconds, and both may be equally behind).
            a = _json(first.base_url + "/api/v1/alerts?limit=5000")
            b = _json(second.base_url + "/api/v1/alerts?limit=5000")
            histories = [_get(w.base_url + "/api/v1/alerts/history?limit=5000") for w in (first, second)]
            if any(status != 200 for status, _, _ in histories) or histories[0][2] != histories[1][2]:
                return False
            now = time.monotonic()
            if histories[0][2] != history_read["body"]:
                history_read.update(body=histories[0][2], since=now)
                return False
            units = {u["unit_id"] for u in _all_units(first.base_url) if u["tasks_total"] or u["indicators"]}
            current = now - history_read["since"] > HistoryIndexer.rest + 1
            return a == b and a["count"] > 0 and reporting <= units and current

        wait_for("both workers to show the demo's alerts", settled, timeout=90)
        time.sleep(2)  # ticks have evaluated every rostered unit
        unit_ids = [u["unit_id"] for u in _all_units(first.base_url)]
        assert set(pack.rostered_units) <= set(unit_ids), "every rostered unit is listed, reported or not"
        assert reporting <= set(unit_ids)

        seen_first = _views(first.base_url, unit_ids)
        seen_second = _views(second.base_url, unit_ids)
        assert seen_first == seen_second

        # The review report of a past quarter (judged at its end) is the same from either worker: each
        # made the scorecards of its own units, and the one asked ranked them all.
        reports = [_json(w.base_url + "/reports?period=2024-Q3&format=json") for w in (first, second)]
        for report in reports:
            del report["made_at"]
        assert reports[0] == reports[1]
        start, end = parse_period("2024-Q3").bounds(pack.tz)
        existed = {u for u in unit_ids if (known := pack.units.get(u)) is None or known.overlaps(start, end)}
        assert existed < set(unit_ids)  # the communes of the demo were formed in 2025: not in a 2024 report
        assert {u["unit_id"] for u in reports[0]["units"]} == existed
        plan = [u for u in reports[0]["units"] if any(i["rule_id"] == "inspection-plan-2024" for i in u["items"])]
        assert len(plan) == len(pack.rostered_units), "the 20/7/2024 plan is a deadline of every rostered unit"
        assert reports[0]["totals"]["on_time"] == len(pack.rostered_units)  # the demo's plans were all on time

        # The answers are about the demo, not empty: Nghệ An has overdue tasks, and each worker passed on
        # the other's answer for a unit it does not own.
        assert seen_first["overdue VN-22"]["count"] > 0
        assert seen_first["history"]["count"] >= seen_first["alerts"]["count"], "every firing alert has an interval"
        assert seen_first["history VN-22"]["intervals"] and all(
            i["unit_id"] == "VN-22" for i in seen_first["history VN-22"]["intervals"]
        )
        assert any(a["severity"] == "critical" for a in seen_first["alerts"]["alerts"])
        answered = {
            _get(f"{w.base_url}/api/v1/units/VN-22/overdue")[1]["X-Monitor-Answered-By"] for w in (first, second)
        }
        assert len(answered) == 1, "both workers say the same owner answered"
        # Workers ask each other with the cluster credential (every answer above crossed workers); without it,
        # the internal endpoints answer nobody.
        internal = f"{first.base_url}/api/v1/internal/units?partitions=0"
        assert _status(internal, {}) == 401 and _status(internal, {"X-Monitor-Cluster": "wrong"}) == 401
        assert _status(internal, {"X-Monitor-Cluster": CLUSTER["MONITOR_CLUSTER_TOKEN"]}) in (200, 503)

        # A third worker joins, then the first leaves: while partitions move, an answer is the same or a 503.
        wrong: list[str] = []
        unavailable = 0
        stop = threading.Event()
        (tmp_path / "c").mkdir()
        third = worker_process(broker.url, tmp_path / "c", env=CLUSTER)

        def watch() -> None:
            nonlocal unavailable
            deadline = time.monotonic() + 180
            while not stop.is_set() and time.monotonic() < deadline:
                for worker in (second, third):
                    for path, key in (
                        ("/api/v1/units/VN-22/overdue", "overdue VN-22"),
                        ("/api/v1/units/VN-40/overdue", "overdue VN-40"),
                        ("/api/v1/alerts?limit=5000", "alerts"),
                    ):
                        status, headers, body = _get(worker.base_url + path)
                        if status == 0 and worker is third:
                            continue  # not listening yet
                        if status == 503:
                            assert int(headers["Retry-After"]) > 0
                            assert json.loads(body)["error"]
                            unavailable += 1
                        elif status != 200 or json.loads(body) != seen_first[key]:
                            wrong.append(f"{worker.base_url}{path}: {status} {body[:300]!r}")
                time.sleep(0.05)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            with third:
                third.wait_ready()
                first.stop()
                wait_for(
                    "the first worker's partitions to move to the others",
                    lambda: sorted(_partitions(second) + _partitions(third)) == [0, 1],
                    timeout=90,
                )
                time.sleep(3)
                stop.set()
                watcher.join(30)
                assert not wrong, wrong[:5]
                assert _views(second.base_url, unit_ids) == seen_first
                assert _views(third.base_url, unit_ids) == seen_first
        finally:
            stop.set()
            watcher.join(30)
        print(f"{unavailable} answers were 503 while partitions moved")
