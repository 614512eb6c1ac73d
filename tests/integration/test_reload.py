"""SIGHUP reloads the rule files: a new pack takes over at once, a broken one is refused and the old one stays."""

from __future__ import annotations

import json
import shutil
import signal
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.topics import Topics
from rules.loading import BUNDLED_PACK
from tests.integration.kafka import MonitorProcess, alert_records, http_get, produce, sample, wait_for

pytestmark = pytest.mark.integration
TOPICS = Topics()


def _indicator(event_id: str, name: str, value: float) -> bytes:
    return json.dumps(
        {
            "event_id": event_id,
            "source": "test",
            "unit_id": "VN-22",
            "indicator": name,
            "value": value,
            "occurred_at": datetime.now(UTC).isoformat(),
        }
    ).encode()


def test_sighup_puts_a_new_pack_in_force_and_refuses_a_broken_one(broker: EmbeddedBroker, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(BUNDLED_PACK, rules)
    pack_file = rules / "de-an-06.yaml"
    worker = MonitorProcess(
        [
            "worker",
            "--broker",
            broker.url,
            "--tick-interval",
            "1",
            "--partitions",
            "2",
            "--rules",
            str(rules),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        tmp_path,
    )

    def records(rule_id: str) -> list[tuple[str, str]]:
        """(status, resolution) of each record of Nghệ An's alerts of ``rule_id``, in order."""
        return [
            (r["status"], r["annotations"].get("resolution", ""))
            for r in alert_records(broker.bootstrap)
            if r["rule_id"] == rule_id and r["labels"].get("unit_id") == "VN-22"
        ]

    def version() -> str:
        return str(json.loads(http_get(worker.base_url + "/api/v1/rules")[1])["version"])

    with worker:
        worker.wait_ready()
        produce(broker.bootstrap, TOPICS.indicators, _indicator("i1", "online_dossier_ratio", 0.55), b"VN-22")
        produce(broker.bootstrap, TOPICS.indicators, _indicator("i2", "eid_activation_ratio", 0.3), b"VN-22")
        wait_for("the eid alert to fire", lambda: records("eid-activation-low") == [("firing", "")], timeout=30)
        assert records("online-dossier-ratio-low") == [], "0.55 meets the target of 0.5"
        first = version()

        # The online-dossier target rises to 0.6; the eid rule goes.
        text = pack_file.read_text(encoding="utf-8")
        raised = text.replace(
            'below: 0.5\n        resolve_above: 0.52\n        summary: "{unit_name}: tỷ lệ hồ sơ',
            'below: 0.6\n        resolve_above: 0.62\n        summary: "{unit_name}: tỷ lệ hồ sơ',
        )
        start = raised.index("      - id: eid-activation-low")
        end = raised.index("      - id:", start + 10)
        pack_file.write_text(raised[:start] + raised[end:], encoding="utf-8")
        assert worker.process is not None
        # The pack's own tests still expect the eid alert: the new pack is refused, the old one stays.
        worker.process.send_signal(signal.SIGHUP)
        wait_for("the refusal to be logged", lambda: "pack " + first + " stays in force" in worker.log.read_text())
        assert "de-an-06.test.yaml" in worker.log.read_text() and version() == first
        assert records("eid-activation-low") == [("firing", "")]
        shutil.rmtree(rules / "tests")  # the tests go with the rule they tested
        worker.process.send_signal(signal.SIGHUP)
        wait_for(
            "the new target to fire and the removed rule's alert to resolve",
            lambda: (
                records("online-dossier-ratio-low") == [("firing", "")]
                and records("eid-activation-low") == [("firing", ""), ("resolved", "rule_removed")]
            ),
            timeout=10,  # within two ticks of 1 s, and the time to load the pack and run its tests
        )
        second = version()
        assert second != first
        applied = datetime.fromisoformat(json.loads(http_get(worker.base_url + "/api/v1/rules")[1])["applied_at"])
        assert (datetime.now(UTC) - applied).total_seconds() < 15, "applied at the reload, not at start"
        metrics = worker.metrics()
        assert sample(metrics, "compliance_rule_pack_info", version=second) == 1
        assert sample(metrics, "compliance_rule_pack_info", version=first) is None

        # A broken file is refused, and the pack in force stays.
        pack_file.write_text(pack_file.read_text(encoding="utf-8").replace("kind: threshold", "kind: thresold", 1))
        worker.process.send_signal(signal.SIGHUP)
        wait_for("the refusal to be logged", lambda: "pack " + second + " stays in force" in worker.log.read_text())
        assert version() == second
        produce(broker.bootstrap, TOPICS.indicators, _indicator("i3", "online_dossier_ratio", 0.7), b"VN-22")
        wait_for(
            "the worker to go on under the pack in force",
            lambda: records("online-dossier-ratio-low") == [("firing", ""), ("resolved", "recovered")],
            timeout=15,
        )
        # SIGUSR2 is the other signal an operator sends a running worker: it logs what memory grew.
        worker.process.send_signal(signal.SIGUSR2)
        wait_for("the memory report", lambda: "live objects: " in worker.log.read_text(errors="replace"))
        assert "resident memory: " in worker.log.read_text(errors="replace")
        assert version() == second  # and the worker goes on
    log = worker.log.read_text(errors="replace")
    assert "did you mean 'threshold'" in log
    every = alert_records(broker.bootstrap)
    keys = [(r["fingerprint"], r["status"], r["stage"], r["starts_at"]) for r in every]
    assert len(keys) == len(set(keys)), "no transition written twice"
