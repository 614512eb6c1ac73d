"""Deployment files: parsed and schema-checked (no Docker engine or cluster is available here)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from monitor.settings import Settings
from tests.conftest import REPO, require_tool

DEPLOY = REPO / "deploy"


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text(encoding="utf-8")))


def _manifests() -> list[dict[str, Any]]:
    docs = []
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        docs += [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]
    return docs


def test_compose_file_matches_the_compose_specification() -> None:
    schema = json.loads((REPO / "tests" / "data" / "compose-spec.schema.json").read_text(encoding="utf-8"))
    compose = _compose()
    jsonschema.validate(compose, schema)
    services = compose["services"]
    assert {"kafka", "monitor-1", "monitor-2", "prometheus", "alertmanager", "grafana"} <= set(services)
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper
    for worker in ("monitor-1", "monitor-2"):
        assert services[worker]["environment"]["MONITOR_BROKER"] == "kafka://kafka:9092"
    broken = {**compose, "services": {**services, "grafana": {**services["grafana"], "portz": ["3000:3000"]}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_compose_mounts_exist() -> None:
    for service in _compose()["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert (DEPLOY / "compose" / source).resolve().exists(), volume


def test_kubernetes_core_objects_match_the_kubernetes_schemas() -> None:
    version = kubernetes_validate.latest_version()
    kinds = []
    for doc in _manifests():
        kinds.append(doc["kind"])
        if doc["apiVersion"].startswith("monitoring.coreos.com"):
            continue  # Prometheus Operator CRDs: checked below
        kubernetes_validate.validate(doc, version, strict=True)
    assert {"Deployment", "Service", "ConfigMap", "ServiceMonitor", "PrometheusRule"} <= set(kinds)


def test_service_monitor_selects_the_service_and_its_port() -> None:
    docs = {doc["kind"]: doc for doc in _manifests()}
    service, monitor = docs["Service"], docs["ServiceMonitor"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    ports = {p["name"] for p in service["spec"]["ports"]}
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= ports
    assert docs["Deployment"]["spec"]["template"]["metadata"]["labels"].items() >= service["spec"]["selector"].items()


def test_prometheus_rule_is_the_checked_rules_file(tmp_path: Path) -> None:
    rule = next(doc for doc in _manifests() if doc["kind"] == "PrometheusRule")
    rules_file = DEPLOY / "prometheus" / "rules" / "compliance-monitor.rules.yml"
    assert rule["spec"] == yaml.safe_load(rules_file.read_text(encoding="utf-8"))
    promtool = require_tool("promtool")
    extracted = tmp_path / "rules.yml"
    extracted.write_text(yaml.safe_dump(rule["spec"]), encoding="utf-8")
    done = subprocess.run([promtool, "check", "rules", str(extracted)], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()


def test_dockerfile_runs_the_worker_as_a_non_root_user() -> None:
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11", text, re.M)
    assert re.search(r"^USER monitor$", text, re.M)
    assert 'ENTRYPOINT ["monitor"]' in text and 'CMD ["worker"]' in text
    for source in re.findall(r"^COPY (?!--from)(\S+)", text, re.M):
        assert (REPO / source).exists(), source


def _worker_environments() -> list[tuple[str, dict[str, str]]]:
    """The ``MONITOR_*`` environment of every monitor worker the deployment files run."""
    found = [
        (f"compose {name}", {k: str(v) for k, v in service.get("environment", {}).items()})
        for name, service in _compose()["services"].items()
        if name.startswith("monitor")
    ]
    for doc in _manifests():
        if doc["kind"] == "Deployment":
            for container in doc["spec"]["template"]["spec"]["containers"]:
                env = {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
                found.append((f"kubernetes {doc['metadata']['name']}", env))
    return found


def test_every_deployed_worker_links_alerts_to_a_reachable_url() -> None:
    environments = _worker_environments()
    assert any(where.startswith("kubernetes") for where, _ in environments)
    for where, env in environments:
        settings = Settings(
            **{k.removeprefix("MONITOR_").lower(): v for k, v in env.items() if k.startswith("MONITOR_")}
        )
        assert settings.unreachable_links is None, f"{where}: {settings.unreachable_links}"
