"""Dashboards and alerting config against the real tools: Prometheus, promtool, amtool."""

from __future__ import annotations

import json
import subprocess
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.devtools.broker import EmbeddedBroker, free_port
from monitor.devtools.grafana import panel_queries
from tests.conftest import REPO, require_tool
from tests.integration.kafka import MonitorProcess, http_get, publish_events, sample, wait_for, worker_process
from tests.integration.peers import WebhookReceiver
from tests.integration.test_communes_console import _commune_events

pytestmark = pytest.mark.integration
DEPLOY = REPO / "deploy"


def _prometheus_config(tmp_path: Path, target: str) -> Path:
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: ['{DEPLOY / 'prometheus' / 'rules' / 'compliance-monitor.rules.yml'}']\n"
        "scrape_configs:\n"
        "  - job_name: compliance-monitor\n"
        f"    static_configs: [{{targets: ['{target}']}}]\n",
        encoding="utf-8",
    )
    return config


@contextmanager
def _prometheus(tmp_path: Path, target: str) -> Iterator[str]:
    """A real Prometheus scraping ``target`` every second, ready: its base URL. Stopped on leaving."""
    prometheus = require_tool("prometheus")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with (tmp_path / "prometheus.log").open("wb") as log:
        server = subprocess.Popen(
            [
                prometheus,
                f"--config.file={_prometheus_config(tmp_path, target)}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for("Prometheus to be ready", lambda: http_get(base + "/-/ready")[0] == 200, timeout=60)
        yield base
    finally:
        server.terminate()
        server.wait(30)


def _query(base: str, expr: str) -> list[dict[str, Any]]:
    status, body = http_get(f"{base}/api/v1/query?query={urllib.parse.quote(expr)}")
    if status != 200:
        raise AssertionError(f"query failed ({status}): {expr}\n{body}")
    return list(json.loads(body)["data"]["result"])


def test_every_dashboard_query_returns_series_from_a_live_monitor(tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    with WebhookReceiver() as hook:
        up = MonitorProcess(
            ["up", "--broker-port", str(free_port()), "--tick-interval", "1", "--data-dir", str(tmp_path / "d")],
            tmp_path,
            env={"MONITOR_WEBHOOK_URL": hook.url},
        )
        with up:
            wait_for(
                "the demo data in /metrics",
                lambda: (
                    sample(up.metrics(), "compliance_tasks", unit_id="VN-22", kind="task", status="completed") == 12
                ),
                log=up.log,
            )
            scraped = up.metrics()
            check = subprocess.run(
                [promtool, "check", "metrics"], input=scraped.encode(), capture_output=True, timeout=60
            )
            assert check.returncode == 0 and not check.stdout.strip() and not check.stderr.strip(), check

            with _prometheus(tmp_path, f"127.0.0.1:{up.web_port}") as base:
                wait_for(
                    "a few scrapes of the monitor",
                    lambda: (
                        len(_query(base, 'count_over_time(up{job="compliance-monitor"}[1m])') or [])
                        and float(_query(base, 'count_over_time(up{job="compliance-monitor"}[1m])')[0]["value"][1]) >= 5
                    ),
                    timeout=60,
                )
                empty = []
                for title, expr in panel_queries():
                    concrete = expr.replace("$unit_id", "VN-22").replace("$__rate_interval", "30s")
                    if not _query(base, concrete):
                        empty.append(f"{title}: {concrete}")
                assert empty == [], "panels with no series:\n" + "\n".join(empty)


def test_promtool_accepts_and_tests_the_alerting_rules() -> None:
    promtool = require_tool("promtool")
    rules = DEPLOY / "prometheus" / "rules"
    for args in (
        ["check", "config", str(DEPLOY / "prometheus" / "prometheus.yml")],
        ["check", "rules", str(rules / "compliance-monitor.rules.yml")],
        ["test", "rules", str(rules / "compliance-monitor.rules.test.yml")],
    ):
        done = subprocess.run([promtool, *args], capture_output=True, timeout=120, cwd=rules)
        assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["severity=critical", "unit_id=VN-22", "alertname=task-overdue"], "provinces-critical"),
        (["severity=critical", "unit_id=BCA", "alertname=inspection-plan-2024"], "ministries-critical"),
        (["severity=warning", "unit_id=VN-22", "alertname=online-dossier-ratio-low"], "provinces"),
        (["severity=critical", "alertname=ComplianceMonitorDown"], "platform-team"),
    ],
)
def test_alertmanager_config_is_valid_and_routes_by_severity_and_unit(labels: list[str], receiver: str) -> None:
    amtool = require_tool("amtool")
    config = str(DEPLOY / "alertmanager" / "alertmanager.yml")
    check = subprocess.run([amtool, "check-config", config], capture_output=True, timeout=60)
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()
    routed = subprocess.run(
        [amtool, "config", "routes", "test", f"--config.file={config}", *labels], capture_output=True, timeout=60
    )
    assert routed.stdout.decode().strip() == receiver


def test_3321_communes_reporting_add_a_bounded_number_of_series_on_a_real_prometheus(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """Every commune reports a task (every seventh overdue): Prometheus holds series by province, none per commune."""
    require_tool("prometheus")
    now = datetime.now(UTC)
    events, overdue = _commune_events(now)
    with worker_process(broker.url, tmp_path) as worker:
        worker.wait_ready()
        before = _series(worker.metrics())
        publish_events(broker.bootstrap, events)
        wait_for(
            "every commune's task counted",
            lambda: (
                sum(
                    value
                    for (name, _), value in _samples(worker.metrics()).items()
                    if name == "compliance_communes_reporting"
                )
                == len(events)
            ),
            timeout=180,
            log=worker.log,
        )
        with _prometheus(tmp_path, f"127.0.0.1:{worker.web_port}") as base:

            def scraped() -> list[dict[str, Any]]:
                return _query(base, 'count({job="compliance-monitor", __name__=~"compliance_.+"})')

            wait_for("a scrape of the monitor", lambda: scraped(), timeout=60)
            total = int(float(scraped()[0]["value"][1]))
            communal = _query(base, 'count({job="compliance-monitor", __name__=~"compliance_communes?_.+"})')
            per_commune = _query(base, 'count({job="compliance-monitor", unit_id=~"VN-[0-9]{5}.*"})')
            alerting = _query(base, "sum(compliance_communes_alerting)")
            print(
                f"series: {before} before the communes reported, {total} with 3,321 reporting "
                f"({int(float(communal[0]['value'][1]))} of them compliance_commune*)"
            )
            assert per_commune == []  # no series of its own for any commune
            assert int(float(communal[0]["value"][1])) <= 34 * 4  # by province: tasks, overdue, reporting, alerting
            assert float(alerting[0]["value"][1]) == len(overdue)
            assert total - before <= 34 * 4 + 10  # the communes add series by province only


def _samples(text: str) -> dict[tuple[str, str], float]:
    """(name, labels) → value of every sample in an exposition."""
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            name, _, labels = key.partition("{")
            found[(name, labels)] = float(value)
    return found


def _series(text: str) -> int:
    """How many compliance_* series an exposition holds."""
    return sum(1 for name, _ in _samples(text) if name.startswith("compliance_"))
