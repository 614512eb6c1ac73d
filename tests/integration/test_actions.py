"""Operators act on alerts on real workers: an acknowledgement taken on one is shown by the other, survives a restart
of both, and is cleared when the alert escalates; a viewer of another province may not act (403). The console is
driven in Chromium: acknowledge, assign, note, and the order changes, on the worker acted on and on the other."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.topics import Topics
from tests.conftest import ARTIFACTS, CHROMIUM_FLAGS, require_tool
from tests.integration.acting import HA_NOI, NGHE_AN, call, two_workers, viewers_file, worker_dirs
from tests.integration.kafka import produce, task_event, wait_for, worker_process
from tests.integration.peers import Alertmanager

pytestmark = pytest.mark.integration
TOPICS = Topics()
ENV_BASE = {"MONITOR_CLUSTER_TOKEN": "cluster-secret", "MONITOR_METRICS_TOKEN": "metrics-secret"}


def _alerts(base: str) -> list[dict[str, Any]] | None:
    status, body = call(base + "/api/v1/alerts?unit_id=VN-22&rule_id=task-overdue", NGHE_AN)
    return body["alerts"] if status == 200 else None


def _the_alert(base: str, task_id: str) -> dict[str, Any] | None:
    return next((a for a in _alerts(base) or [] if a["labels"].get("task_id") == task_id), None)


def test_an_acknowledgement_is_shared_kept_and_cleared_by_an_escalation(broker: EmbeddedBroker, tmp_path: Path) -> None:
    env = {**ENV_BASE, "MONITOR_VIEWERS": str(viewers_file(tmp_path))}
    soon = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    late = (datetime.now(UTC) - timedelta(days=3)).date().isoformat()
    dirs = worker_dirs(tmp_path)
    with two_workers(broker, dirs, env) as (one, two):
        for n, task in enumerate(("NV-1", "NV-2")):  # two due soon: the one acknowledged goes after the other
            event = task_event(f"e-{n}", task, "in_progress", deadline=soon)
            produce(broker.bootstrap, TOPICS.task_status, event, b"VN-22")
        wait_for(
            "both tasks due soon on both workers",
            lambda: all(len(_alerts(w.base_url) or []) == 2 for w in (one, two)),
            timeout=60,
            log=one.log,
        )
        nv1 = _the_alert(one.base_url, "NV-1")
        assert nv1 is not None and nv1["stage"] == "due_soon" and nv1["actions"]["acknowledged"] is None
        order = [a["labels"]["task_id"] for a in _alerts(one.base_url) or []]
        url = f"{one.base_url}/api/v1/alerts/{nv1['fingerprint']}/actions"

        # Who may act: Hà Nội's office may not act on Nghệ An's alert; no credential is asked who it is.
        assert call(url, HA_NOI, {"action": "acknowledge"})[0] == 403
        assert call(url, {}, {"action": "acknowledge"})[0] == 401
        form = {**NGHE_AN, "Content-Type": "text/plain"}  # what a form on another site could send
        assert call(url, form, {"action": "acknowledge"})[0] == 415
        status, answer = call(url, NGHE_AN, {"action": "acknowledge", "note": "Đầu mối Sở đang xử lý"})
        assert status == 201, answer
        assert answer["alert"]["actions"]["acknowledged"]["who"] == "Sở TT&TT Nghệ An"  # the answer shows it
        took = datetime.fromisoformat(answer["action"]["at"]) - datetime.fromisoformat(nv1["starts_at"])
        acted = time.monotonic()
        wait_for(
            "the other worker to show the acknowledgement",
            lambda: (a := _the_alert(two.base_url, "NV-1")) is not None and a["actions"]["acknowledged"] is not None,
            timeout=10,
            log=two.log,
        )
        shown_after = time.monotonic() - acted
        assert shown_after < 1.0, f"shown by the other worker {shown_after:.2f}s after the answer"
        status, answer = call(url, NGHE_AN, {"action": "assign", "owner": "Anh Tuấn"})
        assert status == 201, answer
        after = [a["labels"]["task_id"] for a in _alerts(two.base_url) or []]
        assert after[-1] == "NV-1" and sorted(after) == sorted(order)  # acknowledged: after the other due-soon one

    # Both workers stopped and started again on their data directories: the actions topic is read again.
    with two_workers(broker, dirs, env) as (one, two):
        for worker in (one, two):
            wait_for("the alerts answered again", lambda w=worker: _the_alert(w.base_url, "NV-1"), timeout=60)
            kept = _the_alert(worker.base_url, "NV-1")
            assert kept is not None and kept["actions"]["acknowledged"]["by"] == "nghean-stttt"
            assert kept["actions"]["owner"]["owner"] == "Anh Tuấn"

        # The deadline moved into the past: overdue now, an escalation. Nobody's again, and back at the top.
        produce(broker.bootstrap, TOPICS.task_status, task_event("e-9", "NV-1", "in_progress", deadline=late), b"VN-22")
        wait_for(
            "NV-1 overdue on both workers",
            lambda: all((a := _the_alert(w.base_url, "NV-1")) and a["stage"] == "overdue" for w in (one, two)),
            timeout=60,
            log=one.log,
        )
        for worker in (one, two):
            escalated = _the_alert(worker.base_url, "NV-1")
            assert escalated is not None and escalated["actions"]["acknowledged"] is None
            assert escalated["actions"]["acknowledgement_cleared"]["stage"] == "due_soon"
            assert escalated["actions"]["owner"]["owner"] == "Anh Tuấn"  # an owner outlives the escalation
            assert next(a["labels"]["task_id"] for a in _alerts(worker.base_url) or []) == "NV-1"
        status, trail = call(f"{two.base_url}/api/v1/alerts/{nv1['fingerprint']}/actions", NGHE_AN)
        assert status == 200 and [a["action"] for a in trail["actions"]] == ["acknowledge", "assign"]

        # From a terminal: the same API, as the viewer whose token is in the environment.
        def cli(token: str, *words: str) -> subprocess.CompletedProcess[str]:
            command = [sys.executable, "-m", "monitor", "alerts", *words, "--url", two.base_url]
            environment = {**os.environ, "MONITOR_VIEWER_TOKEN": token}
            return subprocess.run(command, capture_output=True, text=True, timeout=60, env=environment)

        noted = cli("viewer-nghean", "note", nv1["fingerprint"], "Đã gọi điện nhắc")
        assert noted.returncode == 0 and "Sở TT&TT Nghệ An  note  «Đã gọi điện nhắc»" in noted.stdout, noted
        refused = cli("viewer-hanoi", "ack", nv1["fingerprint"])
        assert refused.returncode == 1 and refused.stderr.startswith("error: viewer 'hanoi-stttt' may not act"), refused
        listed = cli("viewer-nghean", "actions", nv1["fingerprint"])
        assert listed.returncode == 0, listed
        lines = listed.stdout.splitlines()
        assert [line.split("  ")[2] for line in lines[:3]] == ["acknowledge", "assign → Anh Tuấn", "note"]
        assert lines[-1] == "now: not acknowledged; owner: Anh Tuấn"

        # The alert's history keeps them with its firing interval.
        status, history = call(f"{one.base_url}/api/v1/alerts/history?unit_id=VN-22&rule_id=task-overdue", NGHE_AN)
        assert status == 200, history
        (interval,) = [i for i in history["intervals"] if i["fingerprint"] == nv1["fingerprint"]]
        assert [a["action"] for a in interval["actions"]] == ["acknowledge", "assign", "note"]

        # The quarter's review report says how fast Nghệ An's alerts were acknowledged: one of two, once.
        status, report = call(f"{two.base_url}/reports?format=json", NGHE_AN)
        assert status == 200, report
        mine = [r for r in report["response"] if r["unit_id"] == "VN-22" and r["alerts"]]
        assert sum(r["alerts"] for r in mine) == 2 and sum(r["acknowledged"] for r in mine) == 1
        (acked,) = [r for r in mine if r["acknowledged"]]
        assert acked["median_to_acknowledge_seconds"] == round(took.total_seconds())  # from the warning's start


def test_the_console_acknowledges_assigns_and_notes_and_another_console_sees_it_live(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    chromium = require_tool("chromium")
    from playwright.sync_api import sync_playwright

    viewers = viewers_file(tmp_path, "anonymous:\n  all: true\n")
    env = {**ENV_BASE, "MONITOR_VIEWERS": str(viewers)}
    soon = [(datetime.now(UTC) + timedelta(days=days)).date().isoformat() for days in (2, 4, 6)]
    dirs = worker_dirs(tmp_path)
    with two_workers(broker, dirs, env) as (one, two):
        for n, deadline in enumerate(soon):  # three due soon, the nearest first in the attention order
            event = task_event(f"c-{n}", f"NV-{n + 1}", "in_progress", deadline=deadline)
            produce(broker.bootstrap, TOPICS.task_status, event, b"VN-22")
        wait_for(
            "three alerts on both workers",
            lambda: all(len(_alerts(w.base_url) or []) == 3 for w in (one, two)),
            timeout=60,
            log=one.log,
        )
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
            try:
                acting = browser.new_page(viewport={"width": 1280, "height": 900})
                watching = browser.new_page(viewport={"width": 1280, "height": 900})
                watching.goto(
                    two.base_url + "/?unit=VN-22&rule=task-overdue"
                )  # anonymous: it reads, with no button to act
                watching.wait_for_selector("#alerts li.alert", timeout=20_000)
                watching.wait_for_selector("#status.live", timeout=15_000)
                assert watching.locator("button.act").count() == 0 and watching.is_visible("#sign-in")
                acting.goto(one.base_url + "/?unit=VN-22&rule=task-overdue")
                acting.wait_for_selector("#sign-in:not([hidden])", timeout=20_000)
                acting.click("#sign-in")
                acting.fill("#signin-token", "viewer-nghean")
                acting.click("#signin-form button")
                acting.wait_for_selector("#alerts li.alert button.act-acknowledge", timeout=20_000)

                def order(page: Any) -> list[str]:
                    return [li.get_attribute("data-subject") for li in page.query_selector_all("#alerts li.alert")]

                assert order(acting) == ["NV-1", "NV-2", "NV-3"]
                top = acting.locator('#alerts li.alert[data-subject="NV-1"]')
                top.locator("button.act-acknowledge").click()
                acting.wait_for_selector('#alerts li.alert[data-subject="NV-1"] .ack', timeout=10_000)
                wait_for("the acknowledged alert to go last", lambda: order(acting) == ["NV-2", "NV-3", "NV-1"])
                acted = acting.locator('#alerts li.alert[data-subject="NV-1"]')
                acted.locator("button.act-assign").click()
                acting.fill("#act-text", "Anh Tuấn, Sở TT&TT")
                acting.click("#act-save")
                acting.wait_for_selector('#alerts li.alert[data-subject="NV-1"] .owner', timeout=10_000)
                acted.locator("button.act-note").click()
                acting.fill("#act-text", "Đã gọi điện nhắc đầu mối")
                acting.click("#act-save")
                acting.wait_for_selector('#alerts li.alert[data-subject="NV-1"] .note', timeout=10_000)
                text = acted.inner_text()
                assert "Đã nhận xử lý: Sở TT&TT Nghệ An" in text and "Phụ trách: Anh Tuấn, Sở TT&TT" in text
                assert "«Đã gọi điện nhắc đầu mối» — Sở TT&TT Nghệ An" in text
                assert acted.locator("button.act-unacknowledge").count() == 1
                acting.screenshot(path=str(ARTIFACTS / "console-actions.png"), full_page=True)
                # The other worker's console, left open, shows it from its stream: no reload.
                watching.wait_for_selector('#alerts li.alert[data-subject="NV-1"] .note', timeout=10_000)
                assert order(watching) == ["NV-2", "NV-3", "NV-1"]
                seen = watching.locator('#alerts li.alert[data-subject="NV-1"]').inner_text()
                assert "Phụ trách: Anh Tuấn, Sở TT&TT" in seen
                watching.screenshot(path=str(ARTIFACTS / "console-actions-other-worker.png"), full_page=True)
                # Taken back: first again.
                acted.locator("button.act-unacknowledge").click()
                wait_for("the alert to come first again", lambda: order(acting) == ["NV-1", "NV-2", "NV-3"])
            finally:
                browser.close()


ESCALATING = """\
groups:
  - name: escalating
    timezone: Asia/Ho_Chi_Minh
    rules:
      - id: task-overdue
        kind: deadline
        severity: warning
        select: {kind: task}
        due_from: deadline
        escalate:
          - {after: 20s, severity: critical, escalate_to: province-chair}
"""


def test_an_escalation_clears_the_acknowledgement_and_reaches_alertmanager_with_its_new_severity(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(ESCALATING, encoding="utf-8")
    with Alertmanager(tmp_path) as am:
        env = {
            **ENV_BASE,
            "MONITOR_VIEWERS": str(viewers_file(tmp_path)),
            "MONITOR_RULES": str(rules),
            "MONITOR_ALERTMANAGER_URL": am.url,
        }
        with worker_process(broker.url, tmp_path, env=env) as worker:
            worker.wait_ready(timeout=90)
            due = datetime.now(UTC) - timedelta(seconds=2)  # overdue now; 20 s overdue in 18 s
            event = task_event("x-1", "NV-7", "in_progress", deadline=due.isoformat())
            produce(broker.bootstrap, TOPICS.task_status, event, b"VN-22")
            wait_for("the overdue warning", lambda: _the_alert(worker.base_url, "NV-7"), timeout=30, log=worker.log)
            alert = _the_alert(worker.base_url, "NV-7")
            assert alert is not None and alert["severity"] == "warning"
            url = f"{worker.base_url}/api/v1/alerts/{alert['fingerprint']}/actions"
            assert call(url, NGHE_AN, {"action": "acknowledge"})[0] == 201

            def in_am(severity: str) -> list[dict[str, Any]]:
                return [
                    a
                    for a in am.alerts()
                    if a["labels"].get("task_id") == "NV-7" and a["labels"].get("severity") == severity
                ]

            wait_for("the warning in Alertmanager", lambda: in_am("warning"), timeout=30, log=worker.log)
            wait_for(
                "the escalation",
                lambda: (a := _the_alert(worker.base_url, "NV-7")) is not None and a["severity"] == "critical",
                timeout=60,
                log=worker.log,
            )
            escalated = _the_alert(worker.base_url, "NV-7")
            assert escalated is not None and escalated["starts_at"] == alert["starts_at"]
            assert escalated["actions"]["acknowledged"] is None  # a new severity: nobody's again
            assert escalated["actions"]["acknowledgement_cleared"]["severity"] == "warning"
            assert escalated["labels"]["escalate_to"] == "province-chair"
            assert escalated["annotations"]["escalated_after"] == "20s"
            (delivered,) = wait_for(
                "the escalation in Alertmanager", lambda: in_am("critical"), timeout=30, log=worker.log
            )  # type: ignore[misc]
            assert delivered["labels"]["escalate_to"] == "province-chair"
            wait_for("the warning's label set resolved in Alertmanager", lambda: not in_am("warning"), timeout=30)
