"""Silences on a real worker, Alertmanager and webhook: a silenced alert fires and is listed as silenced, is kept in
the history, reaches no webhook (the ledger says why), and Alertmanager holds a silence with the creator and reason;
ended (from the console's list), Alertmanager's silence ends too. Who may silence what is checked (401, 403)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.topics import Topics
from tests.conftest import ARTIFACTS, CHROMIUM_FLAGS, require_tool
from tests.integration.acting import HA_NOI, NGHE_AN, call, viewers_file
from tests.integration.kafka import produce, task_event, wait_for, worker_process
from tests.integration.peers import Alertmanager, WebhookReceiver

pytestmark = pytest.mark.integration
TOPICS = Topics()
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def test_a_weekly_silence_keeps_an_alert_from_the_webhook_and_alertmanager_agrees(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    chromium = require_tool("chromium")
    from playwright.sync_api import sync_playwright

    with Alertmanager(tmp_path) as am, WebhookReceiver() as hook:
        env = {
            "MONITOR_VIEWERS": str(viewers_file(tmp_path)),
            "MONITOR_CLUSTER_TOKEN": "cluster-secret",
            "MONITOR_METRICS_TOKEN": "metrics-secret",
            "MONITOR_ALERTMANAGER_URL": am.url,
            "MONITOR_WEBHOOK_URL": f"ops={hook.url}",
        }
        with worker_process(broker.url, tmp_path, env=env) as worker:
            worker.wait_ready(timeout=90)
            base = worker.base_url + "/api/v1/silences"
            # Begun five minutes ago in the bundled pack's zone (Asia/Ho_Chi_Minh, UTC+7), on that day of the week.
            begun = datetime.now(UTC) + timedelta(hours=7) - timedelta(minutes=5)
            weekly = {
                "matchers": {"unit_id": "VN-22"},
                "schedule": {
                    "kind": "weekly",
                    "days": [DAYS[begun.weekday()]],
                    "start": begun.strftime("%H:%M"),
                    "duration": "1h",
                },
                "reason": "Nâng cấp cổng dịch vụ công tỉnh",
            }
            assert call(base, {}, weekly)[0] == 401
            assert call(base, HA_NOI, weekly)[0] == 403  # Hà Nội's office may not silence Nghệ An
            assert call(base, NGHE_AN, {**weekly, "matchers": {"severity": "critical"}})[0] == 403  # every unit
            status, made = call(base, NGHE_AN, weekly)
            assert status == 201, made
            assert (made["state"], made["who"], made["created_by"]) == ("active", "Sở TT&TT Nghệ An", "nghean-stttt")

            produce(broker.bootstrap, TOPICS.task_status, task_event("s-1", "NV-S", "in_progress"), key=b"VN-22")
            produce(
                broker.bootstrap,
                TOPICS.task_status,
                task_event("s-2", "NV-T", "in_progress", unit="VN-35"),
                key=b"VN-35",
            )

            def listed(unit: str, task: str) -> dict[str, Any] | None:
                status, body = call(
                    f"{worker.base_url}/api/v1/alerts?unit_id={unit}", NGHE_AN if unit == "VN-22" else {}
                )
                if status != 200:
                    return None
                return next((a for a in body["alerts"] if a["labels"].get("task_id") == task), None)

            wait_for("the silenced alert listed", lambda: listed("VN-22", "NV-S"), timeout=60, log=worker.log)
            alert = listed("VN-22", "NV-S")
            assert alert is not None and alert["silenced"]["reason"] == "Nâng cấp cổng dịch vụ công tỉnh"
            # Another unit's alert is delivered: the webhook is there, and hears of it.
            wait_for(
                "Lâm Đồng's alert at the webhook",
                lambda: [a for a in hook.alerts("firing") if a["labels"].get("task_id") == "NV-T"],
                timeout=60,
                log=worker.log,
            )
            assert not [a for a in hook.alerts("firing") if a["labels"].get("task_id") == "NV-S"]

            def am_silence() -> list[dict[str, Any]]:
                return [
                    s
                    for s in json.loads(urllib.request.urlopen(am.url + "/api/v2/silences", timeout=10).read())
                    if made["id"] in s.get("comment", "") and s["status"]["state"] == "active"
                ]

            (held,) = wait_for("Alertmanager's silence", am_silence, timeout=30, log=worker.log)  # type: ignore[misc]
            assert held["createdBy"] == "Sở TT&TT Nghệ An" and held["comment"].startswith("Nâng cấp cổng")
            assert held["matchers"] == [{"name": "unit_id", "value": "VN-22", "isRegex": False, "isEqual": True}]

            # The alert is in the history all the same, and the ledger says why the webhook did not hear of it.
            def indexed() -> list[dict[str, Any]]:
                history = call(f"{worker.base_url}/api/v1/alerts/history?unit_id=VN-22", NGHE_AN)[1]
                return [i for i in history.get("intervals", []) if i["labels"].get("task_id") == "NV-S"]

            (interval,) = wait_for("the alert in the history", indexed, timeout=10, log=worker.log)  # type: ignore[misc]
            told = [(d["sink"], d["outcome"]) for d in interval["deliveries"]]
            assert ("webhook/ops", "silenced") in told, told

            # The console lists it, in force, with who made it and why; Nghệ An's office ends it early there.
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
                try:
                    page = browser.new_page(viewport={"width": 1280, "height": 900})
                    page.goto(worker.base_url + "/?view=silences")
                    page.wait_for_selector("#signin-token", timeout=20_000)
                    page.fill("#signin-token", "viewer-nghean")
                    page.click("#signin-form button")
                    row = page.locator(f'#silences tr[data-id="{made["id"]}"]')
                    row.wait_for(timeout=20_000)
                    text = row.inner_text()
                    assert "đang tắt" in text and "Nghệ An (VN-22)" in text and "trong 1 giờ" in text, text
                    assert "Nâng cấp cổng dịch vụ công tỉnh" in text and "Sở TT&TT Nghệ An" in text, text
                    page.screenshot(path=str(ARTIFACTS / "console-silences.png"))
                    row.locator("button.end-silence").click()
                    page.wait_for_selector(f'#silences tr.expired[data-id="{made["id"]}"]', timeout=10_000)
                    assert row.locator("button.end-silence").count() == 0
                finally:
                    browser.close()
            # Ended early: listed as expired, and Alertmanager's silence ends too.
            status, ended = call(f"{base}/{made['id']}", NGHE_AN)
            assert status == 200 and ended["state"] == "expired" and ended["expired_by"] == "nghean-stttt"
            wait_for("Alertmanager's silence to end", lambda: not am_silence(), timeout=30, log=worker.log)
            status, listed_all = call(f"{base}?state=expired", NGHE_AN)
            assert [s["id"] for s in listed_all["silences"]] == [made["id"]]
            assert call(f"{base}/{made['id']}", NGHE_AN, method="DELETE")[0] == 409
