"""Rules changed while two workers run: ``monitor rules apply`` puts a pack in force on both at once, with a history.

Pack A is applied before the workers start (each evaluates under it from its
first record); events are published; pack B (one rule added with a roster, one
removed, one threshold raised) is refused while its own tests fail or a file is
broken, then applied: within two ticks the added rule fires for every rostered
unit, the removed rule's alert resolves ``rule_removed``, the raised threshold
fires, no worker restarts, no transition is written twice, and ``monitor
replay`` with the topic's pack timeline gives the same transitions.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.devtools.broker import EmbeddedBroker
from monitor.devtools.demo import demo_units
from monitor.kafka.topics import Topics
from rules.loading import BUNDLED_PACK, PublishedPack, content_hash, load_pack, pack_files
from tests.integration.kafka import (
    MonitorProcess,
    alert_records,
    breach_shape,
    http_get,
    produce,
    read_all,
    replay_records,
    sample,
    wait_for,
    worker_process,
)

pytestmark = pytest.mark.integration
TOPICS = Topics()
TICK = 1.0
ADDED = """
      # Added by pack B: every ministry reports on its 2025 plan (due 15/10/2025).
      - id: ministry-report-2025
        kind: deadline
        severity: warning
        select: {kind: ministry_report}
        roster: units/ministries.yaml
        expect_status: [completed]
        due: "2025-10-15T00:00:00+07:00"
        summary: "{unit_name}: chưa gửi báo cáo năm 2025 (hạn {due})"
"""


def _monitor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args], capture_output=True, text=True, timeout=120, env=_env()
    )


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "NO_COLOR": "1"}


def _pack_a(tmp_path: Path) -> Path:
    """The bundled pack with an indicator described anew: a pack of its own, not the bundled one."""
    pack = tmp_path / "pack-a"
    shutil.copytree(BUNDLED_PACK, pack)
    rules = pack / "de-an-06.yaml"
    text = rules.read_text(encoding="utf-8")
    old = 'description: "Share of dossiers submitted online."'
    assert text.count(old) == 1
    rules.write_text(text.replace(old, 'description: "Share of dossiers submitted online (DVC)."'), encoding="utf-8")
    return pack


def _pack_b(pack_a: Path, tmp_path: Path) -> Path:
    """A with the online-dossier target raised to 0.6, the eid rule removed and a ministries' deadline added."""
    pack = tmp_path / "pack-b"
    shutil.copytree(pack_a, pack)
    rules = pack / "de-an-06.yaml"
    text = rules.read_text(encoding="utf-8")
    raised = text.replace(
        'below: 0.5\n        resolve_above: 0.52\n        summary: "{unit_name}: tỷ lệ hồ sơ',
        'below: 0.6\n        resolve_above: 0.62\n        summary: "{unit_name}: tỷ lệ hồ sơ',
    )
    assert raised != text
    start = raised.index("      - id: eid-activation-low")
    end = raised.index("      - id:", start + 10)
    rules.write_text(raised[:start] + ADDED.lstrip("\n") + raised[end:], encoding="utf-8")
    return pack


class _Recorder:
    """Publishes events as a provider does and records them for ``monitor replay``."""

    def __init__(self, broker: EmbeddedBroker, path: Path) -> None:
        self.broker = broker
        self.path = path

    def indicator(self, event_id: str, unit: str, name: str, value: float) -> None:
        event = {
            "event_id": event_id,
            "source": "live-rules-test",
            "unit_id": unit,
            "indicator": name,
            "value": value,
            "occurred_at": datetime.now(UTC).isoformat(),
        }
        data = json.dumps(event, ensure_ascii=False)
        produce(self.broker.bootstrap, TOPICS.indicators, data.encode(), key=unit.encode())
        with self.path.open("a", encoding="utf-8") as recording:
            recording.write(data + "\n")


def _rules(worker: MonitorProcess) -> dict[str, Any]:
    status, body = http_get(worker.base_url + "/api/v1/rules")
    assert status == 200, body
    answer: dict[str, Any] = json.loads(body)
    return answer


def _of(records: list[dict[str, Any]], rule_id: str, unit: str) -> list[tuple[str, str]]:
    return [
        (r["status"], r["annotations"].get("resolution", ""))
        for r in records
        if r["rule_id"] == rule_id and r["labels"].get("unit_id") == unit
    ]


def test_two_workers_switch_to_an_applied_pack_together_and_refuse_a_broken_one(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    pack_a = _pack_a(tmp_path)
    pack_b = _pack_b(pack_a, tmp_path)
    version_a, version_b = load_pack([pack_a]).version, load_pack([pack_b]).version
    ministries = demo_units(load_pack([pack_b]), datetime.now(UTC))[1]
    assert len(ministries) > 10

    applied = _monitor("rules", "apply", str(pack_a), "--broker", broker.url, "-m", "pack A", "--by", "ops-a")
    assert applied.returncode == 0, applied.stderr
    assert f"applied pack {version_a}" in applied.stdout

    first, second = tmp_path / "w1", tmp_path / "w2"
    first.mkdir()
    second.mkdir()
    recorder = _Recorder(broker, tmp_path / "history.jsonl")
    with worker_process(broker.url, first) as one, worker_process(broker.url, second) as two:
        workers = (one, two)
        for worker in workers:
            worker.wait_ready(timeout=90)
        pids = [w.process.pid for w in workers if w.process is not None]
        assert [_rules(w)["version"] for w in workers] == [version_a, version_a]
        recorder.indicator("i1", "VN-22", "online_dossier_ratio", 0.55)  # meets A's 0.5, not B's 0.6
        recorder.indicator("i2", "VN-22", "eid_activation_ratio", 0.3)  # below the eid rule B removes
        recorder.indicator("i3", "VN-35", "online_dossier_ratio", 0.3)  # below both targets: fires once only
        wait_for(
            "pack A's alerts",
            lambda: (
                _of(alert_records(broker.bootstrap), "eid-activation-low", "VN-22") == [("firing", "")]
                and _of(alert_records(broker.bootstrap), "online-dossier-ratio-low", "VN-35") == [("firing", "")]
            ),
            timeout=30,
            log=one.log,
        )
        before = alert_records(broker.bootstrap)
        # A worker that started while pack A was on the topic evaluated under it from its first record.
        assert before and all(r["rule_version"].startswith(version_a + "/") for r in before)
        assert _of(before, "online-dossier-ratio-low", "VN-22") == []

        # Pack B as first written: its own rule tests still expect the eid alert → refused, nothing published.
        refused = _monitor("rules", "apply", str(pack_b), "--broker", broker.url)
        assert refused.returncode == 1 and "nothing published" in refused.stderr
        assert "de-an-06.test.yaml" in refused.stderr
        shutil.rmtree(pack_b / "tests")  # the tests go with the rule they tested
        broken = tmp_path / "pack-broken"
        shutil.copytree(pack_b, broken)
        target = broken / "de-an-06.yaml"
        target.write_text(target.read_text(encoding="utf-8").replace("kind: threshold", "kind: thresold", 1))
        refused = _monitor("rules", "apply", str(broken), "--broker", broker.url)
        assert refused.returncode == 1 and "did you mean 'threshold'" in refused.stderr
        assert len(read_all(broker.bootstrap, TOPICS.rules)) == 1, "a refused pack publishes nothing"
        time.sleep(2 * TICK)
        assert [_rules(w)["version"] for w in workers] == [version_a, version_a]

        # The dry run shows the diff and publishes nothing.
        dry = _monitor("rules", "apply", str(pack_b), "--broker", broker.url, "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert (
            "+ rule ministry-report-2025 (added)" in dry.stdout and "- rule eid-activation-low (removed)" in dry.stdout
        )
        assert "~ rule online-dossier-ratio-low (changed)" in dry.stdout and "+below: 0.6" in dry.stdout
        assert "dry run: nothing published" in dry.stdout
        assert len(read_all(broker.bootstrap, TOPICS.rules)) == 1

        applied = _monitor("rules", "apply", str(pack_b), "--broker", broker.url, "-m", "pack B", "--by", "ops-b")
        assert applied.returncode == 0, applied.stderr

        def switched() -> bool:
            records = alert_records(broker.bootstrap)
            return (
                all(_of(records, "ministry-report-2025", m) == [("firing", "")] for m in ministries)
                and _of(records, "eid-activation-low", "VN-22") == [("firing", ""), ("resolved", "rule_removed")]
                and _of(records, "online-dossier-ratio-low", "VN-22") == [("firing", "")]
            )

        wait_for("pack B's alerts", switched, timeout=30, log=two.log)
        time.sleep(2 * TICK)  # two more ticks: nothing else may come
        # Within two ticks of the pack's record, on both workers' partitions.
        pack_record = read_all(broker.bootstrap, TOPICS.rules)[-1]
        added = [
            r
            for r in read_all(broker.bootstrap, TOPICS.alerts)
            if r.value and json.loads(r.value)["rule_id"] == "ministry-report-2025"
        ]
        assert {r.partition for r in added} == {0, 1}
        latest = max(r.timestamp for r in added) - pack_record.timestamp
        assert latest <= 2 * TICK * 1000 + 1000, f"the added rule fired {latest} ms after the pack was applied"
        print(f"the added rule's last alert came {latest} ms after the pack's record (ticks of {TICK:g} s)")

        written = alert_records(broker.bootstrap)
        assert [w.process.pid for w in workers if w.process is not None] == pids, "no worker restarted"
        for worker in workers:
            rules = _rules(worker)
            assert rules["version"] == version_b and rules["applied_by"] == "ops-b" and rules["message"] == "pack B"
            assert TOPICS.rules in rules["source"]
            metrics = worker.metrics()
            assert sample(metrics, "compliance_rule_pack_info", version=version_b) == 1
            assert sample(metrics, "compliance_rule_pack_info", version=version_a) is None
        _, body = http_get(one.base_url + "/api/v1/rules/history")
        history = json.loads(body)
        assert history["active"] == version_b
        newest, previous = history["versions"][0], history["versions"][1]
        assert (newest["version"], newest["active"], newest["message"]) == (version_b, True, "pack B")
        assert newest["changes"]["rules_added"] == ["ministry-report-2025"]
        assert newest["changes"]["rules_removed"] == ["eid-activation-low"]
        assert [c["rule_id"] for c in newest["changes"]["rules_changed"]] == ["online-dossier-ratio-low"]
        assert (previous["version"], previous["active"], previous["applied_by"]) == (version_a, False, "ops-a")
        until = datetime.now(UTC).isoformat()
        # The topic's pack timeline, for monitor replay below.
        timeline = _monitor("rules", "history", "--broker", broker.url, "--format", "jsonl")
        assert timeline.returncode == 0, timeline.stderr
        assert [json.loads(line)["version"] for line in timeline.stdout.splitlines()] == [version_a, version_b]

        # A record no worker can load (put there without rules apply, which would have refused it): each
        # says so in a metric and its history, and goes on under pack B.
        broken_files = dict(pack_files(pack_b))
        broken_files["de-an-06.yaml"] = broken_files["de-an-06.yaml"].replace("kind: threshold", "kind: thresold", 1)
        broken_record = PublishedPack(
            version="not-loadable",
            content=content_hash(broken_files),
            files=broken_files,
            applied_at=datetime.now(UTC),
            applied_by="someone",
        )
        produce(broker.bootstrap, TOPICS.rules, broken_record.model_dump_json().encode(), key=broken_record.key)
        for worker in workers:
            wait_for(
                "the worker to refuse the broken pack",
                lambda w=worker: sample(w.metrics(), "compliance_rule_pack_refused") == 1,
                timeout=15,
                log=worker.log,
            )
            assert _rules(worker)["version"] == version_b
            assert "did you mean 'threshold'" in worker.log.read_text()
        _, body = http_get(two.base_url + "/api/v1/rules/history")
        refused = json.loads(body)["versions"][0]
        assert refused["version"] == "not-loadable" and not refused["active"] and "thresold" in refused["problem"]

    # Every record says which pack it was evaluated under; none is written twice.
    after = written[len(before) :]
    assert after and all(r["rule_version"].startswith(version_b + "/") for r in after)
    keys = [(r["fingerprint"], r["status"], r["stage"], r["starts_at"]) for r in written]
    assert len(keys) == len(set(keys)), "no transition written twice"
    # monitor replay under the topic's pack timeline gives the same transitions.
    packs = tmp_path / "packs.jsonl"
    packs.write_text(timeline.stdout, encoding="utf-8")
    replayed = replay_records(recorder.path, until, packs)
    assert breach_shape(replayed) == breach_shape(written)
