"""The working group extends a task's deadline on a real worker: the overdue alert resolves ``extended``, the
completion that follows is kept within the extension, and the report lists the decision's reference. Only a viewer
the viewers file lets may grant one; one written to the events topic by anyone else is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from events.grants import GRANT_HEADER
from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.topics import Topics
from monitor.publishers import token_hash
from tests.conftest import ARTIFACTS, CHROMIUM_FLAGS, require_tool
from tests.integration.acting import NGHE_AN, call, viewers_file
from tests.integration.kafka import produce, read_all, task_event, wait_for, worker_process

pytestmark = pytest.mark.integration
TOPICS = Topics()
WORKING_GROUP = {"Authorization": "Bearer viewer-working-group"}
REFERENCE = "125/QĐ-BCĐ06"
_GROUP = f"""\
  - id: to-cong-tac
    name: Tổ công tác Đề án 06
    all: true
    extends: true
    tokens: [{{sha256: {token_hash("viewer-working-group")}}}]
"""


def _alerts(base: str, task_id: str, state: str) -> list[dict[str, Any]]:
    status, body = call(f"{base}/api/v1/alerts?state={state}&unit_id=VN-22&rule_id=task-overdue", NGHE_AN)
    assert status == 200, body
    return [a for a in body["alerts"] if a["labels"].get("task_id") == task_id]


def _read(url: str) -> tuple[int, str]:
    """A report, as the working group reads it."""
    request = urllib.request.Request(url, headers=WORKING_GROUP)
    with urllib.request.urlopen(request, timeout=30) as response:
        return int(response.status), response.read().decode()


def _dead_letters(bootstrap: str) -> list[str]:
    letters = [dict(r.headers) for r in read_all(bootstrap, TOPICS.dead_letter)]
    return [h["dlq_reason"].decode() for h in letters if h["dlq_topic"].decode() == TOPICS.task_status]


def test_an_extension_resolves_the_overdue_alert_and_the_report_counts_it_kept_within_it(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    env = {"MONITOR_VIEWERS": str(viewers_file(tmp_path, _GROUP)), "MONITOR_CLUSTER_TOKEN": "cluster-secret"}
    deadline = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    new_due = (datetime.now(UTC) + timedelta(days=20)).date()
    with worker_process(broker.url, tmp_path, env=env) as worker:
        worker.wait_ready()
        base = worker.base_url
        produce(
            broker.bootstrap, TOPICS.task_status, task_event("e-1", "NV-7", "in_progress", deadline=deadline), b"VN-22"
        )
        wait_for("NV-7 overdue", lambda: _alerts(base, "NV-7", "firing"), log=worker.log)

        url = base + "/api/v1/units/VN-22/extensions"
        grant = {"task_id": "NV-7", "due": new_due.isoformat(), "reference": REFERENCE, "note": "Theo đề nghị của tỉnh"}
        # Nghệ An's own office sees the alert but may not extend its own deadline; nobody is asked who it is.
        status, body = call(url, NGHE_AN, grant)
        assert status == 403 and "extends: true" in body["error"]
        assert call(url, {}, grant)[0] == 401
        assert call(url, WORKING_GROUP, {**grant, "reference": ""})[0] == 400  # a decision without its reference
        status, body = call(url, WORKING_GROUP, grant)
        assert status == 202, body
        assert body["extension"]["granted_by"] == "to-cong-tac" and body["extension"]["reference"] == REFERENCE

        (ended,) = wait_for(  # type: ignore[misc]
            "the overdue alert resolved by the extension", lambda: _alerts(base, "NV-7", "resolved"), log=worker.log
        )
        annotations = ended["annotations"]
        assert annotations["resolution"] == "extended", ended
        assert ended["display"]["resolution"] == "đã được gia hạn"
        assert not _alerts(base, "NV-7", "firing")  # 20 days ahead: not even due soon
        assert (annotations["extended_to"], annotations["extension_reference"]) == (new_due.isoformat(), REFERENCE)
        assert "được gia hạn đến" in annotations["summary"]

        # Kept after its first deadline, before the new one: within the extension, and counted as kept.
        done = task_event("e-2", "NV-7", "completed", deadline=deadline)
        produce(broker.bootstrap, TOPICS.task_status, done, b"VN-22")
        period = f"{new_due.year}-Q{(new_due.month - 1) // 3 + 1}"

        def item() -> dict[str, Any] | None:
            status, text = _read(f"{base}/reports?format=json&unit=VN-22&period={period}")
            assert status == 200, text
            (card,) = [u for u in json.loads(text)["units"] if u["unit_id"] == "VN-22"]
            found = next((i for i in card["items"] if i["task_id"] == "NV-7"), None)
            return found if found is not None and found["outcome"] != "not_yet_due" else None

        kept = wait_for("NV-7 kept within its extension in the report", item, log=worker.log)
        assert isinstance(kept, dict)
        assert kept["outcome"] == "extended" and kept["extension"]["reference"] == REFERENCE
        assert kept["first_due"] == datetime.fromisoformat(deadline).isoformat()
        status, html = _read(f"{base}/reports?unit=VN-22&period={period}")
        assert status == 200 and "Hạn được gia hạn" in html and REFERENCE in html and "trong thời hạn gia hạn" in html

        # Anyone else who writes an extension to the events topic is refused: without the workers' seal, or forged.
        forged = json.dumps(
            {
                "specversion": "1.0",
                "type": "compliance.extension",
                "id": "forged-1",
                "source": "monitor",
                "subject": "VN-22",
                "data": {
                    "event_id": "forged-1",
                    "source": "monitor",
                    "unit_id": "VN-22",
                    "occurred_at": datetime.now(UTC).isoformat(),
                    "task_id": "NV-8",
                    "due": "2099-01-01",
                    "reference": "forged",
                    "granted_by": "to-cong-tac",
                },
            }
        ).encode()
        produce(broker.bootstrap, TOPICS.task_status, forged, b"VN-22")
        produce(broker.bootstrap, TOPICS.task_status, forged, b"VN-22", headers=[(GRANT_HEADER, b"00" * 32)])

        # From a terminal, as the viewer whose token is in the environment: the same API, the same refusals.
        def cli(token: str, *words: str) -> subprocess.CompletedProcess[str]:
            command = [sys.executable, "-m", "monitor", "alerts", "extend", *words, "--url", base]
            environment = {**os.environ, "MONITOR_VIEWER_TOKEN": token}
            return subprocess.run(command, capture_output=True, text=True, timeout=60, env=environment)

        words = ("VN-22", "--task", "NV-404", "--due", new_due.isoformat(), "--reference", REFERENCE)
        refused_cli = cli("viewer-nghean", *words)
        assert refused_cli.returncode == 1 and refused_cli.stderr.startswith("error: viewer 'nghean-stttt' may not"), (
            refused_cli
        )
        granted_cli = cli("viewer-working-group", *words)  # the worker that holds VN-22 says it has no such task
        assert granted_cli.returncode == 0, granted_cli
        assert granted_cli.stdout.startswith(f"VN-22 task NV-404: due {new_due.isoformat()} ({REFERENCE})"), granted_cli

        def refused() -> list[str] | None:
            reasons = _dead_letters(broker.bootstrap)
            return reasons if len(reasons) >= 3 else None

        reasons = wait_for("both forgeries and the unknown task dead-lettered", refused, log=worker.log)
        assert isinstance(reasons, list)
        assert sum("does not carry the workers' seal" in r for r in reasons) == 2, reasons
        assert any("holds no task 'NV-404'" in r for r in reasons), reasons


def test_the_working_group_extends_a_deadline_from_the_console_and_nghe_an_s_office_has_no_such_button(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    chromium = require_tool("chromium")
    from playwright.sync_api import sync_playwright

    env = {"MONITOR_VIEWERS": str(viewers_file(tmp_path, _GROUP)), "MONITOR_CLUSTER_TOKEN": "cluster-secret"}
    deadline = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    new_due = (datetime.now(UTC) + timedelta(days=30)).date()
    with worker_process(broker.url, tmp_path, env=env) as worker, sync_playwright() as playwright:
        worker.wait_ready()
        base = worker.base_url
        produce(
            broker.bootstrap, TOPICS.task_status, task_event("c-1", "NV-9", "in_progress", deadline=deadline), b"VN-22"
        )
        wait_for("NV-9 overdue", lambda: _alerts(base, "NV-9", "firing"), log=worker.log)
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            pages = {}
            for token in ("viewer-nghean", "viewer-working-group"):
                page = browser.new_context().new_page()
                page.set_viewport_size({"width": 1280, "height": 900})
                page.goto(base + "/?unit=VN-22&rule=task-overdue")
                page.wait_for_selector("#signin-token", timeout=20_000)  # no anonymous readers: sign in first
                page.fill("#signin-token", token)
                page.click("#signin-form button")
                page.wait_for_selector('#alerts li.alert[data-subject="NV-9"] button.act-acknowledge', timeout=20_000)
                pages[token] = page
            office = pages["viewer-nghean"].locator('#alerts li.alert[data-subject="NV-9"]')
            assert office.locator("button.act-extend").count() == 0  # acts on its alerts, cannot move its deadline
            group = pages["viewer-working-group"]
            group.locator('#alerts li.alert[data-subject="NV-9"] button.act-extend').click()
            group.fill("#extend-due", new_due.isoformat())
            group.fill("#extend-reference", REFERENCE)
            group.screenshot(path=str(ARTIFACTS / "console-extension.png"))
            group.click("#extend-save")
            group.wait_for_selector('#alerts li.alert[data-subject="NV-9"]', state="detached", timeout=15_000)
            assert REFERENCE in group.inner_text("#announce")
            # Nghệ An's console, left open, loses the alert from its stream: the deadline moved.
            pages["viewer-nghean"].wait_for_selector(
                '#alerts li.alert[data-subject="NV-9"]', state="detached", timeout=15_000
            )
        finally:
            browser.close()
        (ended,) = _alerts(base, "NV-9", "resolved")
        assert ended["annotations"]["resolution"] == "extended"
        assert ended["annotations"]["extended_to"] == new_due.isoformat()
