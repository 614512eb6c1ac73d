"""The publisher registry on a real worker and broker: each system reports its own units, on Kafka and HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.devtools.broker import EmbeddedBroker
from monitor.devtools.demo import DEMO_PUBLISHERS
from monitor.kafka.topics import Topics
from monitor.publishers import token_hash
from tests.conftest import ARTIFACTS, CHROMIUM_FLAGS, require_tool
from tests.integration.kafka import http_get, produce, read_all, sample, task_event, wait_for, worker_process
from tests.integration.test_ingest import _post
from tests.signers import dssematerial, new_signer, public_pem, signed_structured

pytestmark = pytest.mark.integration
TOPICS = Topics()


def _get(url: str, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


def _event(event_id: str, status: str, *, source: str, unit: str = "VN-35") -> bytes:
    event = json.loads(task_event(event_id, "NV-50", status, unit=unit))
    return json.dumps({**event, "source": source}, ensure_ascii=False).encode()


def _reasons(bootstrap: str, topic: str = TOPICS.task_status) -> list[str]:
    """The reasons of the dead letters of records read from ``topic`` (``http``: of refused requests)."""
    letters = [dict(r.headers) for r in read_all(bootstrap, TOPICS.dead_letter)]
    return [h["dlq_reason"].decode() for h in letters if h["dlq_topic"].decode() == topic]


def test_a_publisher_may_report_only_its_own_units_on_kafka_and_over_http(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    env = {"MONITOR_PUBLISHERS": str(DEMO_PUBLISHERS)}
    with worker_process(broker.url, tmp_path, env=env) as worker:
        worker.wait_ready()
        status, body = http_get(worker.base_url + "/readyz")
        assert status == 200 and json.loads(body)["publishers"]["enforced"] is True
        assert sample(worker.metrics(), "compliance_publisher_registry_enforced") == 1

        # Lâm Đồng's own system says its task NV-50 is in progress (and three days overdue).
        produce(broker.bootstrap, TOPICS.task_status, _event("bt-1", "in_progress", source="lamdong-dvc"), b"VN-35")

        def overdue_in_binh_thuan() -> Any:
            status, body = http_get(worker.base_url + "/api/v1/units/VN-35/overdue")
            tasks = {i["task_id"]: i["status"] for i in json.loads(body)["overdue"]} if status == 200 else {}
            return tasks.get("NV-50") == "in_progress"

        wait_for("Lâm Đồng's own report to be applied", overdue_in_binh_thuan, log=worker.log)

        # Nghệ An's system marks it completed: on Kafka, refused to the dead-letter topic with the reason ...
        produce(broker.bootstrap, TOPICS.task_status, _event("na-1", "completed", source="nghean-dvc"), b"VN-35")
        # ... and over HTTP, with Nghệ An's own token: 403, item by item, nothing accepted.
        url = worker.base_url + "/api/v1/events"
        nghe_an = {"Authorization": "Bearer demo-nghean-dvc"}
        status, answer = _post(url, _event("na-2", "completed", source="nghean-dvc"), nghe_an)
        assert status == 403 and answer["errors"][0]["cause"] == "not_its_unit"
        assert "publisher 'nghean-dvc' may not report unit 'VN-35'" in answer["errors"][0]["reason"]
        # Its token with Lâm Đồng's name as the source is refused too.
        status, answer = _post(url, _event("na-3", "completed", source="lamdong-dvc"), nghe_an)
        assert status == 403 and answer["errors"][0]["cause"] == "not_its_source"
        # A made-up unit: refused on both paths, the reason naming the registry.
        produce(broker.bootstrap, TOPICS.task_status, _event("zz-1", "completed", source="nghean-dvc", unit="ZZ-99"))
        status, answer = _post(url, _event("zz-2", "in_progress", source="nghean-dvc", unit="ZZ-99"), nghe_an)
        assert status == 403 and "publisher registry" in answer["errors"][0]["reason"]
        # A token no publisher has.
        status, answer = _post(url, _event("x-1", "completed", source="nghean-dvc"), {"Authorization": "Bearer guess"})
        assert status == 403 and "wrong token" in answer["error"]
        # Its own unit, with its own token: accepted.
        status, answer = _post(url, _event("na-4", "in_progress", source="nghean-dvc", unit="VN-22"), nghe_an)
        assert (status, answer["accepted"]) == (202, 1)

        def both_dead_lettered() -> Any:
            reasons = _reasons(broker.bootstrap)
            return len(reasons) == 2 and reasons

        reasons = wait_for("both Kafka refusals in the dead-letter topic", both_dead_lettered, log=worker.log)
        assert isinstance(reasons, list)
        (other,) = [r for r in reasons if "VN-35" in r]  # the dead-letter topic's partitions come in any order
        (made_up,) = [r for r in reasons if "ZZ-99" in r]
        assert "publisher 'nghean-dvc' may not report unit 'VN-35'" in other
        assert (
            "unit 'ZZ-99' is on no roster of the rule pack nor in its unit registry" in made_up
            and "publisher registry" in made_up
        )

        def counted() -> Any:
            metrics = worker.metrics()
            refused = sample(
                metrics, "compliance_publisher_refusals_total", publisher="nghean-dvc", reason="not_its_unit"
            )
            return refused == 2 and metrics  # one on each path

        metrics = wait_for("the refusals to be counted per publisher", counted, log=worker.log)
        assert isinstance(metrics, str)
        assert sample(metrics, "compliance_publisher_refusals_total", publisher="nghean-dvc", reason="unrostered") == 2
        assert (
            sample(metrics, "compliance_publisher_refusals_total", publisher="nghean-dvc", reason="not_its_source") == 1
        )
        assert (
            sample(metrics, "compliance_publisher_refusals_total", publisher="_unregistered", reason="wrong_token") == 1
        )
        # Lâm Đồng's state is unchanged, and no page exists for the made-up unit.
        assert overdue_in_binh_thuan()
        assert http_get(worker.base_url + "/api/v1/units/ZZ-99")[0] == 404
        # The refused requests are dead letters too, from "http".
        assert len(_reasons(broker.bootstrap, "http")) == 3

        # Nghệ An's system asks what became of its events, with its own token.
        def feedback() -> Any:
            status, body = _get(worker.base_url + "/api/v1/publishers/me", nghe_an)
            told = json.loads(body) if status == 200 else {}
            return told if told.get("last_day", {}).get("refused") == 5 and told["last_day"]["accepted"] == 1 else None

        told = wait_for("Nghệ An's feedback to count its refusals and the event taken", feedback, log=worker.log)
        assert isinstance(told, dict)
        assert told["last_day"]["refused_by_cause"] == {"not_its_source": 1, "not_its_unit": 2, "unrostered": 2}
        topics = sorted(r["topic"] for r in told["refusals"])
        assert topics == ["compliance.task-status"] * 2 + ["http"] * 3
        forged = next(r for r in told["refusals"] if r["topic"] == TOPICS.task_status and "VN-35" in r["reason"])
        assert forged["cause"] == "not_its_unit" and forged["offset"] is not None
        units = {u["unit_id"]: u for u in told["units"]}  # its province, and the four wards of Vinh it reports for
        assert set(units) == {"VN-22", "VN-16681", "VN-16690", "VN-17920", "VN-16708"}
        assert units["VN-22"]["last_report_at"] is not None
        assert _get(worker.base_url + "/api/v1/publishers/me", {"Authorization": "Bearer guess"})[0] == 403
        # Lâm Đồng's system was told of nothing refused.
        status, body = _get(worker.base_url + "/api/v1/publishers/me", {"Authorization": "Bearer demo-lamdong-dvc"})
        assert status == 200 and json.loads(body)["last_day"]["refused"] == 0


def _monitor(broker: EmbeddedBroker, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "MONITOR_BROKER": broker.url}
    env.pop("MONITOR_PUBLISHERS", None)
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args], capture_output=True, text=True, timeout=120, env=env
    )


def _registry(path: Path, *, nghe_an_token: str, binh_thuan_units: str) -> Path:
    """Nghệ An's portal with its token, and Lâm Đồng's reporting the units given."""
    path.write_text(
        "publishers:\n  - id: nghean-dvc\n    units: [VN-22]\n"
        f"    tokens: [{{sha256: {token_hash(nghe_an_token)}}}]\n"
        f"  - id: lamdong-dvc\n    units: [{binh_thuan_units}]\n",
        encoding="utf-8",
    )
    return path


def test_a_registry_applied_while_two_workers_run_is_in_force_on_both_without_a_restart(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    first = _registry(tmp_path / "first.yaml", nghe_an_token="old-token", binh_thuan_units="VN-35")
    applied = _monitor(broker, "publishers", "apply", str(first), "-m", "first registry")
    assert applied.returncode == 0, applied.stderr
    assert "+ nghean-dvc: VN-22" in applied.stdout and "applied registry" in applied.stdout
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with (
        worker_process(broker.url, tmp_path / "a") as one,
        worker_process(broker.url, tmp_path / "b") as two,
    ):
        one.wait_ready()
        two.wait_ready()
        workers = (one, two)
        for worker in workers:
            assert json.loads(http_get(worker.base_url + "/readyz")[1])["publishers"]["enforced"] is True
        url = "/api/v1/events"
        event = _event("na-1", "in_progress", source="nghean-dvc", unit="VN-22")
        for worker in workers:
            assert _post(worker.base_url + url, event, {"Authorization": "Bearer old-token"})[0] == 202
            assert _post(worker.base_url + url, event, {"Authorization": "Bearer new-token"})[0] == 403

        # A broken registry is refused by apply and changes nothing.
        broken = tmp_path / "broken.yaml"
        broken.write_text("publishers:\n  - id: nghean-dvc\n    unit: [VN-22]\n", encoding="utf-8")
        refused = _monitor(broker, "publishers", "apply", str(broken))
        assert refused.returncode == 1 and "broken.yaml:3: field 'publishers.0.unit'" in refused.stderr
        # A record that is no registry, written to the topic by other means, is passed over by both workers.
        produce(broker.bootstrap, TOPICS.publishers, b'{"version": "x"}', b"x")

        # The token rotated and Lâm Đồng's portal given Nghệ An too: both workers, no restart.
        second = _registry(tmp_path / "second.yaml", nghe_an_token="new-token", binh_thuan_units="VN-35, VN-22")
        applied = _monitor(broker, "publishers", "apply", str(second), "-m", "rotate Nghệ An's token")
        assert applied.returncode == 0, applied.stderr
        assert "~ nghean-dvc: tokens: 1 added, 1 removed" in applied.stdout
        assert "~ lamdong-dvc: VN-35 → VN-35, VN-22" in applied.stdout
        version = json.loads(_monitor(broker, "publishers", "list", "--format", "json").stdout)["version"]

        def rotated(worker: Any) -> Any:
            def probe() -> bool:
                body = json.loads(http_get(worker.base_url + "/readyz")[1])
                return body["publishers"].get("registry") == version

            return probe

        for worker in workers:
            wait_for("the new registry on every worker", rotated(worker), log=worker.log)
            assert _post(worker.base_url + url, event, {"Authorization": "Bearer new-token"})[0] == 202
            assert _post(worker.base_url + url, event, {"Authorization": "Bearer old-token"})[0] == 403
        history = _monitor(broker, "publishers", "history")
        assert history.returncode == 0
        assert "first registry" in history.stdout and "rotate Nghệ An's token" in history.stdout
        assert "not used: not a publisher registry" in history.stdout
        assert all("processing failed" not in w.log.read_text() for w in workers)


def test_a_publisher_sees_its_refusals_in_the_console_with_its_own_token(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    chromium = require_tool("chromium")
    from playwright.sync_api import sync_playwright

    env = {"MONITOR_PUBLISHERS": str(DEMO_PUBLISHERS)}
    with worker_process(broker.url, tmp_path, env=env) as worker, sync_playwright() as playwright:
        worker.wait_ready()
        nghe_an = {"Authorization": "Bearer demo-nghean-dvc"}
        url = worker.base_url + "/api/v1/events"
        assert _post(url, _event("na-1", "completed", source="nghean-dvc"), nghe_an)[0] == 403  # Lâm Đồng's task
        assert _post(url, _event("na-2", "in_progress", source="nghean-dvc", unit="VN-22"), nghe_an)[0] == 202

        def told() -> Any:
            status, body = _get(worker.base_url + "/api/v1/publishers/me", nghe_an)
            answer = json.loads(body) if status == 200 else {}
            mine = [u for u in answer.get("units", []) if u["unit_id"] == "VN-22"]
            return answer.get("refusals") and mine and mine[0]["last_report_at"] and answer

        answer = wait_for("the refusal in Nghệ An's feedback", told, log=worker.log)
        assert isinstance(answer, dict)
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            page.goto(worker.base_url + "/?view=publisher")
            page.fill("#publisher-token", "demo-nghean-dvc")
            page.click("#publisher-form button")
            page.wait_for_selector("#publisher-refusals tbody tr", timeout=10_000)
            row = page.inner_text("#publisher-refusals tbody tr")
            assert "không được báo cáo cho đơn vị này" in row and "VN-35" in row and "HTTP" in row
            assert answer["refusals"][0]["display"]["at"] in row  # the API's text, not the page's own
            unit = page.inner_text('#publisher-units tr[data-unit="VN-22"]')
            shown = next(u for u in answer["units"] if u["unit_id"] == "VN-22")
            assert "Nghệ An" in unit and shown["display"]["last_report"] in unit
            stats = page.inner_text("#publisher-stats")
            assert "Bị từ chối trong 24 giờ qua\n1" in stats
            assert page.input_value("#publisher-token") == ""  # the token is not left on the screen
            page.screenshot(path=str(ARTIFACTS / "console-publisher.png"), full_page=True)
            # A token no publisher has is said, and nothing of anyone is shown.
            page.fill("#publisher-token", "guess")
            page.click("#publisher-form button")
            problem = page.wait_for_selector("#problem:not([hidden])", timeout=10_000)
            assert problem is not None and "Mã truy cập không đúng" in problem.inner_text()
            assert page.locator("#publisher-detail").is_hidden()
        finally:
            browser.close()


def test_a_signing_publisher_s_events_count_only_as_signed_on_kafka_and_over_http(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    signer = new_signer("nghean-2026")
    key = "\n".join("          " + line for line in public_pem(signer).strip().splitlines())
    registry = tmp_path / "publishers.yaml"
    registry.write_text(
        f"""\
publishers:
  - id: nghean-dvc
    units: [VN-22]
    tokens: [{{sha256: {token_hash("token-nghean")}}}]
    must_sign: true
    keys:
      - id: nghean-2026
        public_key: |
{key}
""",
        encoding="utf-8",
    )
    deadline = (datetime.now(UTC) - timedelta(days=3)).isoformat()

    def attributes(event_id: str) -> dict[str, str]:
        return {
            "specversion": "1.0",
            "id": event_id,
            "source": "nghean-dvc",
            "type": "compliance.task-status",
            "subject": "VN-22",
            "time": datetime.now(UTC).isoformat(),
            "datacontenttype": "application/json",
        }

    def data(status: str) -> str:
        return json.dumps({"task_id": "NV-51", "kind": "task", "status": status, "deadline": deadline})

    with worker_process(broker.url, tmp_path, env={"MONITOR_PUBLISHERS": str(registry)}) as worker:
        worker.wait_ready()

        def status_of_nv51() -> Any:
            status, body = http_get(worker.base_url + "/api/v1/units/VN-22/overdue")
            tasks = {i["task_id"]: i["status"] for i in json.loads(body)["overdue"]} if status == 200 else {}
            return tasks.get("NV-51", "none")

        # Signed on Kafka (structured mode): applied.
        signed = signed_structured(attributes("na-s1"), data("in_progress"), signer)
        produce(broker.bootstrap, TOPICS.task_status, signed.encode(), b"VN-22")
        wait_for("the signed event to be applied", lambda: status_of_nv51() == "in_progress", log=worker.log)
        # The same, its status changed after signing; and one not signed at all: refused.
        produce(broker.bootstrap, TOPICS.task_status, signed.replace("in_progress", "completed").encode(), b"VN-22")
        unsigned = json.dumps({**attributes("na-u1"), "data": json.loads(data("completed"))})
        produce(broker.bootstrap, TOPICS.task_status, unsigned.encode(), b"VN-22")

        def two_refused() -> Any:
            reasons = _reasons(broker.bootstrap)
            return len(reasons) == 2 and reasons

        reasons = wait_for("both to be dead-lettered", two_refused, log=worker.log)
        assert isinstance(reasons, list)
        assert any("signature refused" in r and "differs from what was signed" in r for r in reasons), reasons
        assert any("must sign its events" in r for r in reasons), reasons
        assert status_of_nv51() == "in_progress"

        # Over HTTP, binary mode with its token: unsigned and changed are 403, signed is taken.
        url = worker.base_url + "/api/v1/events"
        token = {"Authorization": "Bearer token-nghean"}

        def binary(event_id: str, body: str, *signers: Any) -> dict[str, str]:
            ce = attributes(event_id)
            if signers:
                ce["dssematerial"] = dssematerial(ce, body.encode(), *signers)
            return {**token, **{f"ce-{name}": value for name, value in ce.items()}}

        status, answer = _post(url, data("completed").encode(), binary("na-h1", data("completed")))
        assert status == 403 and answer["errors"][0]["cause"] == "unsigned"
        status, answer = _post(url, data("cancelled").encode(), binary("na-h2", data("completed"), signer))
        assert status == 403 and answer["errors"][0]["cause"] == "bad_signature"
        assert status_of_nv51() == "in_progress"
        status, answer = _post(url, data("completed").encode(), binary("na-h3", data("completed"), signer))
        assert (status, answer["accepted"]) == (202, 1), answer
        # Passed on to the events topic as signed, and checked again there: applied.
        wait_for("the signed HTTP event to be applied", lambda: status_of_nv51() == "none", log=worker.log)

        metrics = worker.metrics()
        assert sample(metrics, "compliance_publisher_refusals_total", publisher="nghean-dvc", reason="unsigned") == 2
        assert (
            sample(metrics, "compliance_publisher_refusals_total", publisher="nghean-dvc", reason="bad_signature") == 2
        )
