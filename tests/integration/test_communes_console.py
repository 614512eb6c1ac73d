"""The console with today's structure, in a real headless Chromium: 3,321 communes reporting, paged and searched;
a province drilled down to its communes; a province merged away reached from its successor, with its history.

One worker on the bundled pack holds a state for every commune in force (one task each, every seventh
overdue). Hà Giang's alerts of 2024 are on the alerts topic as a worker of 2024 wrote them (the engine run on
that year's events, each transition keyed and serialised as the outbox does). Screenshots are kept in
``test-artifacts/`` (``communes-*.png``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from events.models import TaskStatus, TaskStatusEvent
from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.topics import Topics
from rules.loading import BUNDLED_PACK, load_pack
from rules.simulation import simulate
from rules.units import Level
from tests.conftest import ARTIFACTS, CHROMIUM_FLAGS, require_tool, vn
from tests.integration.kafka import http_get, produce, publish_events, wait_for, worker_process

pytestmark = pytest.mark.integration
TOPICS = Topics()
FIRST_PAINT_MS = 1000.0
#: Click "next page" and wait, in the page, until the list is drawn again: how long that took, in ms.
TURN_PAGE = """async () => {
  const drawn = performance.getEntriesByName("communes-painted").length;
  const started = performance.now();
  document.getElementById("communes-next").click();
  await new Promise((done) => {
    const look = () => (performance.getEntriesByName("communes-painted").length > drawn ? done() : setTimeout(look, 5));
    look();
  });
  return performance.now() - started;
}"""


def _commune_events(now: datetime) -> tuple[list[TaskStatusEvent], set[str]]:
    """One task per commune in force; every seventh three days overdue. The communes, and those overdue."""
    pack = load_pack([BUNDLED_PACK])
    communes = [u.id for u in pack.units.in_force(now, Level.COMMUNE)]
    events, overdue = [], set()
    for n, unit in enumerate(communes):
        late = n % 7 == 0
        overdue |= {unit} if late else set()
        events.append(
            TaskStatusEvent(
                event_id=f"c-{n}",
                source="xa-dvc",
                unit_id=unit,
                task_id=f"XA-{n}",
                kind="task",
                status=TaskStatus.IN_PROGRESS,
                deadline=now + (timedelta(days=-3) if late else timedelta(days=30)),
                occurred_at=now - timedelta(minutes=5),
                title="Cập nhật dữ liệu dân cư cấp xã",
            )
        )
    return events, overdue


def _ha_giang_2024_alerts() -> list[tuple[bytes, bytes]]:
    """The alert records a worker wrote in 2024 for a Hà Giang task finished 9 days late: (key, value) each."""
    pack = load_pack([BUNDLED_PACK])
    events = [
        TaskStatusEvent(
            event_id=f"hg-{n}",
            source="hagiang-dvc",
            unit_id="VN-03",
            task_id="HG-2024-07",
            kind="task",
            status=status,
            deadline=vn(2024, 6, 1, 17),
            occurred_at=at,
            title="Làm sạch dữ liệu dân cư",
        )
        for n, (status, at) in enumerate(
            [(TaskStatus.IN_PROGRESS, vn(2024, 5, 2, 9)), (TaskStatus.COMPLETED, vn(2024, 6, 10, 9))]
        )
    ]
    _, simulation = simulate(pack, events, until=vn(2024, 6, 30))
    assert simulation is not None
    records = [t for _, t in simulation.transitions if t.labels.get("task_id") == "HG-2024-07"]
    assert {t.status for t in records} == {"firing", "resolved"}  # the script does what the test is about
    return [(t.fingerprint.encode(), t.model_dump_json().encode()) for t in records]


def _communes(base: str, query: str) -> dict[str, Any]:
    status, body = http_get(f"{base}/api/v1/communes?{query}")
    return dict(json.loads(body)) if status == 200 else {}


def _painted(page: Any) -> float:
    """When the communes list was last drawn, in ms since the page's navigation began."""
    return float(page.evaluate("() => performance.getEntriesByName('communes-painted').at(-1).startTime"))


def test_3321_communes_page_and_search_fast_and_a_province_drills_down_and_a_merged_one_is_reached(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    chromium = require_tool("chromium")
    from playwright.sync_api import sync_playwright

    now = datetime.now(UTC)
    events, overdue = _commune_events(now)
    for key, value in _ha_giang_2024_alerts():
        produce(broker.bootstrap, TOPICS.alerts, value, key)
    ARTIFACTS.mkdir(exist_ok=True)
    with worker_process(broker.url, tmp_path) as worker:
        worker.wait_ready()
        publish_events(broker.bootstrap, events)
        base = worker.base_url

        def loaded() -> bool:
            page = _communes(base, "limit=5000")
            return bool(page) and all(c["tasks_total"] == 1 for c in page["communes"])

        wait_for("every commune's task on the worker", loaded, timeout=180, log=worker.log)
        wait_for(
            "the overdue communes' alerts",
            lambda: _communes(base, "limit=1").get("by_severity", {}).get("ok") == len(events) - len(overdue),
            timeout=120,
            log=worker.log,
        )

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                # The overview: today's 34 provinces, the former 63 folded away, the communes one click on.
                page.goto(f"{base}/?view=overview")
                page.wait_for_selector("#all-communes")
                current = page.locator("section.roster[data-roster='provinces'] .tile")
                assert current.count() == 34
                assert page.locator("details.roster.former[data-roster='provinces-63'] .tile").count() == 63
                # … and the map of today's 34, each coloured like its tile; Hà Giang's land is Tuyên Quang's.
                drawn = page.eval_on_selector_all(
                    "figure.map[data-map='current'] a",
                    "links => links.map(a => [a.dataset.unit, a.querySelector('path').dataset.province,"
                    " a.querySelector('path').getAttribute('class')])",
                )
                assert len(drawn) == 63 and len({unit for unit, _, _ in drawn}) == 34
                assert ("VN-07", "VN-03") in {(unit, former) for unit, former, _ in drawn}
                tiles = page.eval_on_selector_all(
                    "section.roster[data-roster='provinces'] .tile",
                    "tiles => Object.fromEntries(tiles.map(t => [t.dataset.unit, t.dataset.severity || 'ok']))",
                )
                assert all(shape.split() == ["province", tiles[unit]] for unit, _, shape in drawn)
                assert page.locator("figure.map[data-map='current'] .island text").all_text_contents() == [
                    "Quần đảo Hoàng Sa",
                    "Quần đảo Trường Sa",
                ]
                assert (
                    page.locator("section.roster[data-roster=''] .tile[data-unit^='VN-0']").count() == 0
                )  # no commune
                page.screenshot(path=str(ARTIFACTS / "communes-overview-map.png"))
                # Every commune, a page at a time: the first paint (from the navigation's start), three pages on.
                page.click("#all-communes")
                page.wait_for_selector("#communes tbody tr")
                first = _painted(page)
                assert page.locator("#communes tbody tr").count() == 100
                assert page.inner_text("#communes-page") == "1–100 / 3.321"
                top = page.locator("#communes tbody tr").first
                assert top.get_attribute("data-unit") in overdue  # those with alerts first
                page.screenshot(path=str(ARTIFACTS / "communes-all.png"))
                turns = [float(page.evaluate(TURN_PAGE)) for _ in range(3)]
                assert page.inner_text("#communes-page") == "301–400 / 3.321"
                print(f"communes: first paint {first:.0f} ms; a page on {', '.join(f'{t:.0f}' for t in turns)} ms")
                # Other tests share the machine's two cores: the best of three loads is the page's own figure.
                again = []
                for _ in range(2):
                    page.reload()
                    page.wait_for_selector("#communes tbody tr")
                    again.append(_painted(page))
                print(f"communes: first paint on reloads {', '.join(f'{t:.0f}' for t in again)} ms")
                best = min(first, *again)
                assert best <= FIRST_PAINT_MS, f"first paint {first:.0f}, {again} ms with 3,321 communes"
                assert max(turns) <= FIRST_PAINT_MS, f"a page on took {max(turns):.0f} ms"
                # A search needs no diacritics and starts again from the first page.
                page.fill("#communes-q", "ba dinh")
                page.wait_for_selector("#communes tbody tr[data-unit='VN-00004']")
                assert page.inner_text("#communes-page").startswith("1–")
                assert "q=ba+dinh" in page.url

                # A province drills down to its communes.
                page.goto(f"{base}/?view=unit&unit=VN-22")
                page.click("#to-communes")
                page.wait_for_selector("#communes tbody tr")
                assert page.inner_text("#communes-title") == "Xã, phường của Nghệ An (130)"
                provinces = page.eval_on_selector_all(
                    "#communes tbody tr td:nth-child(2)", "cells => [...new Set(cells.map(c => c.textContent))]"
                )
                assert provinces == ["Nghệ An"]
                page.screenshot(path=str(ARTIFACTS / "communes-nghe-an.png"))
                # Tuyên Quang names Hà Giang, merged into it; Hà Giang's view has its 2024 history.
                page.goto(f"{base}/?view=unit&unit=VN-07")
                page.click("#unit-lineage a[data-unit='VN-03']")
                page.wait_for_selector("#unit-history tbody tr")
                row = page.inner_text("#unit-history tbody tr")
                assert "Làm sạch dữ liệu dân cư" in row and "hoàn thành" in row and "2024" in row
                assert "nay thuộc" in page.inner_text("#unit-lineage") and "Tuyên Quang" in page.inner_text(
                    "#unit-lineage"
                )
                page.screenshot(path=str(ARTIFACTS / "communes-ha-giang.png"), full_page=True)
            finally:
                browser.close()
