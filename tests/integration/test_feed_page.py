"""The ops console in a real headless Chromium, driven by Playwright, on one worker with the demo data.

One broker, one worker and one browser serve every test of this file (a module fixture stops them all);
screenshots are kept in ``test-artifacts/`` (``console-*.png``; ``console-feed.png`` is the README's).
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.devtools.broker import EmbeddedBroker
from monitor.devtools.demo import demo_events, demo_units
from monitor.http.units import OVERDUE_COLUMNS
from monitor.kafka.topics import Topics
from rules.language import RulePack
from rules.loading import BUNDLED_PACK, load_pack
from rules.units import Placed, place
from tests.conftest import ARTIFACTS, CHROMIUM_FLAGS, require_tool
from tests.integration.kafka import (
    MonitorProcess,
    http_get,
    produce,
    publish_events,
    task_event,
    wait_for,
    worker_process,
)

pytestmark = pytest.mark.integration
TOPICS = Topics()
PHONE = 420

# Every alert item the page ever puts in the document, even one removed at once: a flash of the wrong units
# between the first paint and the filter would be recorded here.
RECORD_RENDERED = """
window.__rendered = [];
new MutationObserver((records) => {
  for (const record of records) {
    for (const node of record.addedNodes) {
      if (node.nodeType !== Node.ELEMENT_NODE) continue;
      for (const item of [node, ...node.querySelectorAll("li.alert")]) {
        if (item.matches("li.alert")) window.__rendered.push([item.dataset.unit, item.dataset.severity]);
      }
    }
  }
}).observe(document, { childList: true, subtree: true });
"""


@dataclass
class Console:
    worker: MonitorProcess
    broker: EmbeddedBroker
    browser: Any
    pack: RulePack

    @property
    def base(self) -> str:
        return self.worker.base_url

    def api(self, path: str) -> Any:
        status, body = http_get(self.base + path)
        assert status == 200, (path, status, body[:300])
        return json.loads(body)

    def page(self, width: int = 1280, height: int = 800) -> Any:
        """A new page that records console messages (``page.console``) and script errors (``page.errors``)."""
        page = self.browser.new_page(viewport={"width": width, "height": height}, accept_downloads=True)
        page.console, page.errors = [], []
        page.on("console", lambda message: page.console.append(message.text))
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        return page


def _settled(console: Console, reporting: set[str]) -> bool:
    alerts = console.api("/api/v1/alerts?limit=5000")["alerts"]
    units = console.api("/api/v1/units?limit=5000")["units"]
    listed = {u["unit_id"] for u in units if u["tasks_total"] or u["indicators"]}
    # The silence of a province that stopped reporting is judged by a tick: the demo is in once it fires.
    silent = [a for a in alerts if a["unit_id"] == "VN-04" and a["rule_id"] == "indicator-stale"]
    return bool(silent) and reporting <= listed


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    chromium = require_tool("chromium")
    from playwright.sync_api import sync_playwright

    tmp = tmp_path_factory.mktemp("console")
    pack = load_pack([BUNDLED_PACK])
    with (tmp / "broker.log").open("wb") as log, EmbeddedBroker(log=log) as broker:
        worker = worker_process(broker.url, tmp)
        with worker, sync_playwright() as playwright:
            worker.wait_ready()
            events = demo_events(now := datetime.now(UTC), *demo_units(pack, now))
            publish_events(broker.bootstrap, events)
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
            try:
                running = Console(worker, broker, browser, pack)
                reporting = {
                    p.event.unit_id for e in events if isinstance(p := place(e, pack.units), Placed)
                }  # where they land
                wait_for("the demo's alerts", lambda: _settled(running, reporting), timeout=90, log=worker.log)
                time.sleep(2)  # ticks have evaluated every rostered unit
                ARTIFACTS.mkdir(exist_ok=True)
                yield running
            finally:
                browser.close()
            # Event streams were open a moment ago: the worker still stops at once, not by its 9 s deadline.
            started = time.monotonic()
            assert worker.stop() == 0 and time.monotonic() - started < 8, worker.log.read_text()[-3000:]
            # … and no part of it was left behind on the way (the log would name it, with its stack).
            assert "did not stop within" not in worker.log.read_text(), worker.log.read_text()[-6000:]


def _no_csp_violation(page: Any) -> None:
    assert not [m for m in page.console if "Content Security Policy" in m], page.console
    assert page.errors == []


def _live(page: Any) -> None:
    """The first data is on screen and the event stream has said hello (and its reload is drawn)."""
    page.wait_for_selector("#status.live", timeout=15_000)
    page.wait_for_timeout(500)
    _drawn(page)


def _drawn(page: Any) -> None:
    """The feed drew the API's answer to what its filters ask (it asks again on every change)."""
    page.wait_for_selector('#alerts:not([aria-busy="true"])', state="attached", timeout=10_000)


def test_the_feed_puts_the_longest_overdue_critical_alert_first_as_the_api_orders_them(console: Console) -> None:
    page = console.page()
    page.goto(console.base + "/")
    _live(page)
    api = console.api("/api/v1/alerts?limit=5000")["alerts"]
    # The header says which rule pack is in force.
    assert page.locator("#pack").get_attribute("data-version") == console.api("/api/v1/rules")["version"]
    first = page.locator("li.alert").first
    assert (first.get_attribute("data-severity"), first.get_attribute("data-stage")) == ("critical", "overdue")
    rendered = page.eval_on_selector_all("li.alert", "items => items.map(i => i.dataset.fingerprint)")
    assert rendered == [a["fingerprint"] for a in api]  # the API's attention order, every alert
    # Its figures are the API's texts: days overdue counted now, the due date as written.
    text = first.inner_text()
    assert api[0]["display"]["overdue"] in text and f"hạn {api[0]['display']['due']}" in text
    assert "Nghiêm trọng".upper() in text.upper()  # severity in words, not colour alone
    # Counts per severity and per unit are on screen.
    critical = sum(a["severity"] == "critical" for a in api)
    assert page.inner_text("#counts .count.critical .n") == str(critical)
    chips = page.eval_on_selector_all(
        "#unit-counts .chip", "cs => cs.map(c => [c.dataset.unit, c.querySelector('.n').textContent])"
    )
    by_unit = {unit: str(sum(a["unit_id"] == unit for a in api)) for unit in {a["unit_id"] for a in api}}
    assert dict(chips) == by_unit
    # A ratio reads 45,8 % (with a no-break space), as the API wrote it.
    nghe_an = page.locator('li.alert[data-unit="VN-22"][data-subject="online_dossier_ratio"]')
    assert "45,8\u00a0% · mục tiêu 50\u00a0%" in nghe_an.inner_text()
    # Bình Thuận's system still sends its former code: the overdue task is Lâm Đồng's, and says so.
    sent = next(a for a in api if a["unit_id"] == "VN-35" and a["stage"] == "overdue" and a.get("reported_as"))
    assert sent["reported_as"] == "VN-40"
    card = page.locator(f'li.alert[data-fingerprint="{sent["fingerprint"]}"]')
    assert "gửi theo mã VN-40" in card.inner_text()
    page.screenshot(path=str(ARTIFACTS / "console-feed.png"))

    # Grouped by unit: every unit's alerts under its heading, units in the API's order.
    page.select_option("#sort", "unit")
    _drawn(page)
    groups = page.eval_on_selector_all("li.group", "gs => gs.map(g => g.dataset.unit)")
    assert groups == sorted(groups) and set(groups) == {a["unit_id"] for a in api}
    assert "sort=unit" in page.url
    _no_csp_violation(page)
    page.close()


def test_a_filter_link_shows_only_its_unit_from_the_first_paint(console: Console) -> None:
    page = console.page()
    page.add_init_script(RECORD_RENDERED)
    page.goto(console.base + "/?unit=VN-22&severity=critical")
    _live(page)
    rendered = page.evaluate("window.__rendered")
    expected = console.api("/api/v1/alerts?unit_id=VN-22&severity=critical")["alerts"]
    assert rendered and expected
    assert {unit for unit, _ in rendered} == {"VN-22"}, "another unit's alert was on screen"
    assert {severity for _, severity in rendered} == {"critical"}
    shown = page.eval_on_selector_all("li.alert", "items => items.map(i => i.dataset.fingerprint)")
    assert shown == [a["fingerprint"] for a in expected]
    assert page.input_value("#unit") == "VN-22" and page.input_value("#severity") == "critical"
    assert page.locator("#problem").is_hidden()
    _no_csp_violation(page)

    # A typo is said, with the values that exist, and lists nothing; the API answers 400 with the same values.
    for path, words in (
        ("/?severity=urgent", ["urgent", "critical", "warning"]),
        ("/?rule=task-overdu", ["task-overdu", "task-overdue"]),
        ("/?sort=oldest", ["oldest", "attention", "newest"]),
        ("/?unit=VN-99", ["VN-99"]),
        ("/?view=map", ["map", "overview"]),
        ("/?view=unit&unit=VN-99", ["VN-99"]),
    ):
        page.goto(console.base + path)
        problem = page.wait_for_selector("#problem:not([hidden])", timeout=10_000)
        assert problem is not None and problem.is_visible()
        message = problem.inner_text()
        assert all(word in message for word in words), (path, message)
        assert page.locator("li.alert").count() == 0, path
    status, body = http_get(console.base + "/api/v1/alerts?severity=urgent")
    assert status == 400 and json.loads(body)["allowed"] == ["info", "warning", "critical"]
    _no_csp_violation(page)
    page.close()


def _csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def test_the_overview_has_every_rostered_unit_and_opens_a_unit_view_whose_csv_matches_the_api(
    console: Console,
) -> None:
    page = console.page()
    page.goto(console.base + "/?view=overview")
    _live(page)
    tiles = page.eval_on_selector_all(
        "a.tile", "ts => ts.map(t => [t.dataset.unit, t.dataset.severity, Number(t.dataset.overdue)])"
    )
    shown = console.api("/api/v1/rosters")["rosters"]
    rostered = [unit["id"] for roster in shown for unit in roster["units"]]
    assert [unit for unit, _, _ in tiles] == rostered  # today's 34 provinces and 17 ministries, then those of 2024
    assert [(r["roster"], len(r["units"])) for r in shown] == [
        ("provinces", 34),
        ("ministry-in-force", 17),
        ("provinces-63", 63),
        ("ministries", 23),
    ]
    today = {unit["id"] for unit in shown[1]["units"]}
    assert set(rostered) == set(console.pack.rostered_units) | today and len(console.pack.rostered_units) == 63 + 23
    # The 34 are open; the structures of 2024 are one click away.
    assert page.locator('section.roster[data-roster="provinces"] a.tile').count() == 34
    assert page.locator('details.roster[data-roster="provinces-63"]').get_attribute("open") is None
    summaries = {u["unit_id"]: u for u in console.api("/api/v1/units?limit=5000")["units"]}
    for unit, severity, overdue in tiles:
        summary = summaries.get(unit, {"worst_severity": None, "overdue": 0})  # a ministry formed in 2025: no state
        assert severity == (summary["worst_severity"] or ""), unit
        assert overdue == summary["overdue"], unit
    assert page.locator('section.roster a.tile[data-unit="VN-22"] .state').inner_text() == "Nghiêm trọng"
    page.screenshot(path=str(ARTIFACTS / "console-overview.png"))

    page.click('section.roster a.tile[data-unit="VN-22"]')
    page.wait_for_selector("#overdue tbody tr")
    _live(page)
    assert page.url.endswith("/?view=unit&unit=VN-22")
    listed = console.api("/api/v1/units/VN-22/overdue")["overdue"]
    unit = console.api("/api/v1/units/VN-22")
    rows = page.eval_on_selector_all(
        "#overdue tbody tr",
        "rs => rs.map(r => [r.dataset.task, r.querySelector('[data-label=\"Quá hạn\"]').textContent,"
        " r.querySelector('[data-label=\"Hạn\"]').textContent])",
    )
    assert [task for task, _, _ in rows] == [row["task_id"] for row in listed]
    assert [(text, due) for _, text, due in rows] == [
        (row["display"]["overdue"], row["display"]["due"]) for row in unit["overdue"]
    ]
    assert all(text == f"quá hạn {row['days_overdue']} ngày" for (_, text, _), row in zip(rows, listed, strict=True))
    online = page.locator('#indicators tr[data-indicator="online_dossier_ratio"]').inner_text()
    assert "45,8\u00a0%" in online and "≥ 50\u00a0%" in online
    open_alerts = page.eval_on_selector_all("#unit-alerts li.alert", "items => items.map(i => i.dataset.fingerprint)")
    assert open_alerts == [a["fingerprint"] for a in console.api("/api/v1/alerts?unit_id=VN-22")["alerts"]]
    page.screenshot(path=str(ARTIFACTS / "console-unit.png"), full_page=True)

    # The download is the API's list: the same rows, column for column, as the JSON answer.
    with page.expect_download() as download_info:
        page.click("#export-overdue")
    download = download_info.value
    assert download.suggested_filename == "overdue-VN-22.csv"
    saved = Path(download.path()).read_bytes()
    with urllib.request.urlopen(console.base + "/api/v1/units/VN-22/overdue?format=csv", timeout=10) as response:
        assert saved == response.read()
    assert _csv_rows(saved) == [{k: str(row[k]) for k in OVERDUE_COLUMNS} for row in listed]
    with page.expect_download() as download_info:
        page.click("#export-alerts")
    alerts_csv = _csv_rows(Path(download_info.value.path()).read_bytes())
    assert [r["fingerprint"] for r in alerts_csv] == open_alerts
    _no_csp_violation(page)
    page.close()


def test_the_console_fits_a_phone(console: Console) -> None:
    page = console.page(PHONE, 860)
    for path, shown in (
        ("/", "li.alert"),
        ("/?view=overview", "a.tile"),
        ("/?view=unit&unit=VN-22", "#overdue tbody tr"),
    ):
        page.goto(console.base + path)
        _live(page)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE, f"{path}: the page is {width} px wide on a {PHONE} px screen"
        first = page.locator(shown).first
        first.scroll_into_view_if_needed()
        box = first.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE, (path, box)
        name = {"/": "feed", "/?view=overview": "overview"}.get(path, "unit")
        page.screenshot(path=str(ARTIFACTS / f"console-{name}-{PHONE}px.png"))
    # The filters are there to use on the phone.
    page.goto(console.base + "/")
    _live(page)
    assert page.locator("#severity").is_visible() and page.locator("#search").is_visible()
    page.select_option("#severity", "warning")
    _drawn(page)
    severities = page.eval_on_selector_all("li.alert", "items => items.map(i => i.dataset.severity)")
    assert severities and set(severities) == {"warning"}
    page.fill("#search", "Nghe An")  # without diacritics, as typed on a phone
    _drawn(page)
    units = page.eval_on_selector_all("li.alert", "items => items.map(i => i.dataset.unit)")
    assert units and set(units) == {"VN-22"}
    assert "severity=warning" in page.url and "q=Nghe+An" in page.url
    _no_csp_violation(page)
    page.close()


def test_a_headless_screenshot_with_virtual_time_returns_with_the_page_drawn(console: Console) -> None:
    # Virtual time does not pass while a request is open: the event stream must not hold the page.
    chromium = require_tool("chromium")
    shot = ARTIFACTS / "console-virtual-time.png"
    shot.unlink(missing_ok=True)
    common = [chromium, "--headless", *CHROMIUM_FLAGS, "--virtual-time-budget=5000", "--window-size=1280,800"]
    started = time.monotonic()
    subprocess.run([*common, f"--screenshot={shot}", console.base + "/"], capture_output=True, timeout=60, check=True)
    assert time.monotonic() - started < 30 and shot.stat().st_size > 10_000
    dom = subprocess.run([*common, "--dump-dom", console.base + "/"], capture_output=True, timeout=60, check=True)
    count = console.api("/api/v1/alerts?limit=1")["count"]
    assert dom.stdout.decode().count('class="alert ') == count


def test_a_new_alert_appears_live_without_reload(console: Console) -> None:
    page = console.page()
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    page.goto(console.base + "/")
    _live(page)
    page.evaluate("window.__same_document = true")
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
    produce(console.broker.bootstrap, TOPICS.task_status, event, key=b"VN-HN")
    row = page.wait_for_selector('li.alert[data-unit="VN-HN"][data-subject="NV-12"]', timeout=5_000)
    elapsed = time.monotonic() - published
    assert row is not None
    text = row.inner_text()
    assert "Hà Nội" in text and "Triển khai dịch vụ công thiết yếu trực tuyến toàn trình" in text
    assert "critical" in (row.get_attribute("class") or "")
    # Due at the end of the day before yesterday: at least one whole day overdue, counted by the API.
    assert "quá hạn 1 ngày" in text or "quá hạn 2 ngày" in text, text
    assert navigations == [console.base + "/"], "the page must not reload"
    _no_csp_violation(page)
    print(f"alert shown {elapsed:.2f}s after publishing")

    # Filtering by severity hides it; by its unit shows only it.
    page.select_option("#severity", "warning")
    _drawn(page)
    assert page.locator('li.alert[data-subject="NV-12"]').count() == 0
    page.select_option("#severity", "")
    _drawn(page)
    page.select_option("#unit", "VN-HN")
    _drawn(page)
    units = page.eval_on_selector_all("li.alert", "rows => rows.map(r => r.dataset.unit)")
    assert units and set(units) == {"VN-HN"}

    # Completed late: it leaves the list without reload, and the list of alerts that ended says how late.
    title = "Triển khai dịch vụ công thiết yếu trực tuyến toàn trình"
    done = task_event("hn-2", "NV-12", "completed", unit="VN-HN", deadline=deadline, title=title)
    produce(console.broker.bootstrap, TOPICS.task_status, done, key=b"VN-HN")
    page.wait_for_selector('li.alert[data-subject="NV-12"]', state="detached", timeout=5_000)
    page.select_option("#state", "resolved")
    ended = page.wait_for_selector('li.alert[data-status="resolved"][data-subject="NV-12"]', timeout=10_000)
    assert ended is not None
    resolved = console.api("/api/v1/alerts?state=resolved&unit_id=VN-HN")["alerts"]
    (record,) = [a for a in resolved if a["labels"].get("task_id") == "NV-12"]
    assert record["annotations"]["resolution"] == "completed_late"
    late = int(record["annotations"]["late_days"])
    assert record["display"]["resolution"] == f"hoàn thành muộn {late} ngày" and late >= 1
    assert f"đã kết thúc: hoàn thành muộn {late} ngày" in ended.inner_text()
    assert "state=resolved" in page.url
    assert page.evaluate("window.__same_document") is True, "the page must not reload"  # (filters rewrite the URL)
    _no_csp_violation(page)
    page.close()
