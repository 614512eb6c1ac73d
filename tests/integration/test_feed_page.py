"""The live feed page in a real headless Chromium, driven by Playwright."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.topics import Topics
from tests.conftest import ARTIFACTS, require_tool
from tests.integration.kafka import produce, task_event, worker_process

pytestmark = pytest.mark.integration
TOPICS = Topics()
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_feed_page_shows_a_new_alert_live_without_reload(broker: EmbeddedBroker, tmp_path: Path) -> None:
    chromium = require_tool("chromium")
    from playwright.sync_api import sync_playwright

    worker = worker_process(broker.url, tmp_path)
    with worker, sync_playwright() as playwright:
        worker.wait_ready()
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            navigations: list[str] = []
            page.on("framenavigated", lambda frame: navigations.append(frame.url))
            console: list[str] = []
            page.on("console", lambda message: console.append(message.text))
            page.goto(worker.base_url + "/")
            page.wait_for_selector("#status.live", timeout=15_000)
            deadline = (datetime.now(UTC) - timedelta(days=2)).date().isoformat()
            event = task_event(
                "hn-1",
                "NV-12",
                "in_progress",
                unit="VN-HN",
                deadline=deadline,
                title="Triển khai dịch vụ công thiết yếu trực tuyến toàn trình",
            )
            published = time.monotonic()
            produce(broker.bootstrap, TOPICS.task_status, event, key=b"VN-HN")
            row = page.wait_for_selector('li.alert[data-unit="VN-HN"][data-subject="NV-12"]', timeout=5_000)
            elapsed = time.monotonic() - published
            assert row is not None
            text = row.inner_text()
            assert "Hà Nội" in text and "Triển khai dịch vụ công thiết yếu trực tuyến toàn trình" in text
            assert "critical" in (row.get_attribute("class") or "")
            assert navigations == [worker.base_url + "/"], "the page must not reload"
            assert not [m for m in console if "Content Security Policy" in m], console  # nothing blocked
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "feed-page.png"), full_page=False)
            print(f"alert shown {elapsed:.2f}s after publishing")

            # Filtering by severity hides it; by its unit shows only it.
            page.select_option("#severity", "warning")
            assert page.locator('li.alert[data-subject="NV-12"]').count() == 0
            page.select_option("#severity", "")
            page.select_option("#unit", "VN-HN")
            units = page.eval_on_selector_all("li.alert", "rows => rows.map(r => r.dataset.unit)")
            assert units and set(units) == {"VN-HN"}
        finally:
            browser.close()
