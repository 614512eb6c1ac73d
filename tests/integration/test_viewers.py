"""Scoped read access on a real worker: a province's viewer sees its own units in every answer, and nothing else.

Two workers share the units (so answers are gathered and unit questions
forwarded, with the viewer's credentials); Nghệ An's viewer asks both. The
console is driven in Chromium: signed in with the viewer's token, it shows
Nghệ An only, in the feed and in the overview.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.topics import Topics
from monitor.publishers import token_hash
from tests.conftest import ARTIFACTS, CHROMIUM_FLAGS, require_tool
from tests.integration.acting import two_workers, worker_dirs
from tests.integration.kafka import produce, task_event, wait_for

pytestmark = pytest.mark.integration
TOPICS = Topics()
NGHE_AN = {"Authorization": "Bearer viewer-nghean"}
GROUP = {"Authorization": "Bearer viewer-wg"}
CLUSTER = "cluster-secret"


def _viewers(tmp_path: Path) -> Path:
    path = tmp_path / "viewers.yaml"
    path.write_text(
        f"""\
viewers:
  - id: nghean-stttt
    name: Sở TT&TT Nghệ An
    units: [VN-22]
    tokens: [{{sha256: {token_hash("viewer-nghean")}}}]
    users: [ops@nghean.gov.vn]
  - id: to-cong-tac
    name: Tổ công tác Đề án 06
    all: true
    tokens: [{{sha256: {token_hash("viewer-wg")}}}]
""",
        encoding="utf-8",
    )
    return path


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return int(response.status), response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read(), dict(exc.headers)


def _json(url: str, headers: dict[str, str]) -> Any:
    """The answer, asked again while it is a 503 (a worker still reading its partitions or the alert history)."""
    for _ in range(40):
        status, body, _ = _get(url, headers)
        if status != 503:
            break
        time.sleep(0.5)
    assert status == 200, body
    return json.loads(body)


class _Stream:
    """The event stream read in a thread, as a browser would hold it open: the units of every transition sent."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.units: list[str] = []
        self._response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for line in self._response:
                if line.startswith(b"data: ") and b"unit_id" in line:
                    self.units.append(json.loads(line[6:])["labels"]["unit_id"])
        except (OSError, ValueError, AttributeError):  # closed under it (http.client drops its file): done
            pass

    def close(self) -> None:
        self._response.close()


def test_a_province_viewer_sees_only_its_units_in_every_answer(broker: EmbeddedBroker, tmp_path: Path) -> None:
    chromium = require_tool("chromium")
    from playwright.sync_api import sync_playwright

    overdue = (datetime.now(UTC) - timedelta(days=3)).date().isoformat()
    env = {
        "MONITOR_VIEWERS": str(_viewers(tmp_path)),
        "MONITOR_AUTH_PROXY_HEADER": "X-Forwarded-Email",
        "MONITOR_CLUSTER_TOKEN": CLUSTER,
        "MONITOR_METRICS_TOKEN": "metrics-secret",
    }
    dirs = worker_dirs(tmp_path)
    with two_workers(broker, dirs, env) as (one, two):
        base = one.base_url
        for unit, task in (("VN-22", "NV-1"), ("VN-35", "NV-2")):
            produce(
                broker.bootstrap,
                TOPICS.task_status,
                task_event(f"e-{unit}", task, "in_progress", unit=unit, deadline=overdue),
                unit.encode(),
            )

        def both_overdue() -> Any:
            alerts = _json(base + "/api/v1/alerts?rule_id=task-overdue", GROUP)["alerts"]
            return {a["labels"]["unit_id"] for a in alerts} == {"VN-22", "VN-35"}

        wait_for("both units' overdue alerts", both_overdue, timeout=60, log=one.log)

        # No credential: 401 with the challenge; a wrong one: 403. Health stays open.
        status, _, headers = _get(base + "/api/v1/alerts")
        assert status == 401 and headers.get("WWW-Authenticate", "").startswith("Bearer")
        assert _get(base + "/api/v1/units", {"Authorization": "Bearer guess"})[0] == 403
        assert _get(base + "/api/v1/units", {"X-Forwarded-Email": "stranger@example.org"})[0] == 403
        status, body, _ = _get(base + "/readyz")
        assert status == 200 and json.loads(body)["viewers"]["enforced"] is True
        assert _get(base + "/healthz")[0] == 200
        assert _get(base + "/metrics")[0] == 401  # its own token, as Prometheus's scrape config sends it
        assert _get(base + "/metrics", NGHE_AN)[0] == 403
        assert _get(base + "/metrics", {"Authorization": "Bearer metrics-secret"})[0] == 200
        assert _get(base + "/api/v1/internal/units?partitions=0", NGHE_AN)[0] == 401  # workers only

        for worker in (one, two):  # whichever worker is asked, gathering or forwarding
            url = worker.base_url
            alerts = _json(url + "/api/v1/alerts", NGHE_AN)
            assert alerts["alerts"] and {a["labels"]["unit_id"] for a in alerts["alerts"]} == {"VN-22"}
            assert [u["unit_id"] for u in alerts["facets"]["unit"]] == ["VN-22"]
            assert _get(url + "/api/v1/alerts?unit_id=VN-35", NGHE_AN)[0] == 403
            units = _json(url + "/api/v1/units", NGHE_AN)["units"]
            assert [u["unit_id"] for u in units] == ["VN-22"]
            assert len(_json(url + "/api/v1/units?limit=500", GROUP)["units"]) > 60  # the working group: all
            assert _json(url + "/api/v1/units/VN-22", NGHE_AN)["unit_id"] == "VN-22"
            assert _get(url + "/api/v1/units/VN-35", NGHE_AN)[0] == 403
            assert _get(url + "/api/v1/units/VN-35/overdue?format=csv", NGHE_AN)[0] == 403
            status, body, _ = _get(url + "/api/v1/units/VN-22/overdue?format=csv", NGHE_AN)
            rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
            assert status == 200 and [r["task_id"] for r in rows if r["task_id"]] == ["NV-1"]
            assert {r["unit_id"] for r in rows} == {"VN-22"}
            history = wait_for(  # the index reads the alerts topic every 5 s
                "Nghệ An's alert in the history",
                lambda url=url: _json(url + "/api/v1/alerts/history?limit=5000", NGHE_AN)["intervals"],
                timeout=20,
                log=worker.log,
            )
            assert {i["unit_id"] for i in history} == {"VN-22"}  # type: ignore[attr-defined]
            assert _get(url + "/api/v1/alerts/history?unit_id=VN-35", NGHE_AN)[0] == 403
            report = _json(url + "/reports?format=json", NGHE_AN)
            assert [c["unit_id"] for c in report["units"]] == ["VN-22"], report.keys()
            assert _get(url + "/reports?unit=VN-35", NGHE_AN)[0] == 403
            rosters = _json(url + "/api/v1/rosters", NGHE_AN)["rosters"]
            assert {u["id"] for r in rosters for u in r["units"]} == {"VN-22"}
            proxied = _json(url + "/api/v1/units", {"X-Forwarded-Email": "Ops@NgheAn.gov.vn"})["units"]
            assert [u["unit_id"] for u in proxied] == ["VN-22"]

        # The stream: Lâm Đồng's transitions are not sent to Nghệ An's viewer.
        stream = _Stream(base + "/api/v1/alerts/stream", NGHE_AN)
        try:
            later = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
            produce(
                broker.bootstrap,
                TOPICS.task_status,
                task_event("s-40", "NV-3", "in_progress", unit="VN-35", deadline=later),
                b"VN-35",
            )
            produce(
                broker.bootstrap,
                TOPICS.task_status,
                task_event("s-22", "NV-4", "in_progress", unit="VN-22", deadline=later),
                b"VN-22",
            )
            wait_for("Nghệ An's new alert on its stream", lambda: "VN-22" in stream.units, timeout=30, log=one.log)
            wait_for(
                "Lâm Đồng's new alert to be written",
                lambda: any(
                    a["labels"].get("task_id") == "NV-3" for a in _json(base + "/api/v1/alerts", GROUP)["alerts"]
                ),
                timeout=30,
            )
            assert set(stream.units) == {"VN-22"}
        finally:
            stream.close()

        # The console: signed in with the viewer's token, Nghệ An only.
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
            try:
                page = browser.new_page()
                page.goto(base + "/")
                page.wait_for_selector("#signin-view:not([hidden])", timeout=10_000)
                assert page.locator("#alerts li").count() == 0
                page.fill("#signin-token", "guess")
                page.click("#signin-form button")
                problem = page.wait_for_selector("#problem:not([hidden])", timeout=10_000)
                assert problem is not None and "Mã truy cập không đúng" in problem.inner_text()
                page.fill("#signin-token", "viewer-nghean")
                page.click("#signin-form button")
                page.wait_for_selector("#alerts li.alert", timeout=15_000)
                shown = {item.get_attribute("data-unit") for item in page.query_selector_all("#alerts li.alert")}
                assert shown == {"VN-22"}
                assert "Sở TT&TT Nghệ An" in page.inner_text("#viewer")
                page.wait_for_selector("#status.live", timeout=15_000)  # the stream, with the session cookie
                page.screenshot(path=str(ARTIFACTS / "console-viewer.png"), full_page=True)
                page.goto(base + "/?view=overview")
                page.wait_for_selector("#rosters [data-unit]", timeout=15_000)
                tiles = {t.get_attribute("data-unit") for t in page.query_selector_all("#rosters [data-unit]")}
                assert tiles == {"VN-22"}
                page.click("#sign-out")
                page.wait_for_selector("#signin-view:not([hidden])", timeout=10_000)
            finally:
                browser.close()
