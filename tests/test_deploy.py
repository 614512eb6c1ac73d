"""Deployment files: parsed and schema-checked (no Docker engine or cluster is available here)."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from monitor.devtools.lockfile import requirements_lock, runtime_dependencies
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
    assert {"StatefulSet", "Service", "Secret", "ServiceMonitor", "PrometheusRule"} <= set(kinds)


def _named(kind: str, name: str) -> dict[str, Any]:
    return next(doc for doc in _manifests() if doc["kind"] == kind and doc["metadata"]["name"] == name)


def test_service_monitor_selects_the_service_and_its_port() -> None:
    service, monitor = _named("Service", "compliance-monitor"), _named("ServiceMonitor", "compliance-monitor")
    workers = _named("StatefulSet", "compliance-monitor")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    ports = {p["name"] for p in service["spec"]["ports"]}
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= ports
    assert workers["spec"]["template"]["metadata"]["labels"].items() >= service["spec"]["selector"].items()
    # Only the one Service is scraped: the headless one gives each worker its DNS name, not a second target.
    selected = [
        doc
        for doc in _manifests()
        if doc["kind"] == "Service"
        and monitor["spec"]["selector"]["matchLabels"].items() <= doc["metadata"]["labels"].items()
    ]
    assert selected == [service]


def _worker() -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """The StatefulSet, its worker container and the container's plain environment."""
    workers = _named("StatefulSet", "compliance-monitor")
    container = next(c for c in workers["spec"]["template"]["spec"]["containers"] if c["name"] == "worker")
    return workers, container, _container_env(container)


def _container_env(container: dict[str, Any]) -> dict[str, str]:
    """A container's environment as Kubernetes gives it: the secrets its envFrom names, then its own values."""
    env = {
        name: str(value)
        for source in container.get("envFrom", [])
        if "secretRef" in source
        for name, value in _named("Secret", source["secretRef"]["name"]).get("stringData", {}).items()
    }
    return env | {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}


def test_the_worker_pod_meets_the_restricted_pod_security_standard() -> None:
    workers, container, env = _worker()
    pod = workers["spec"]["template"]["spec"]["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] > 0 and pod["seccompProfile"] == {"type": "RuntimeDefault"}
    box = container["securityContext"]
    assert box["allowPrivilegeEscalation"] is False and box["readOnlyRootFilesystem"] is True
    assert box["capabilities"] == {"drop": ["ALL"]}
    # A read-only root: the state directory and /tmp are the writable volumes, nothing else is written.
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert env["MONITOR_DATA_DIR"] in mounts and not mounts[env["MONITOR_DATA_DIR"]].get("readOnly", False)
    assert "/tmp" in mounts


def test_each_worker_keeps_its_state_on_a_volume_of_its_own() -> None:
    workers, container, env = _worker()
    data = next(m for m in container["volumeMounts"] if m["mountPath"] == env["MONITOR_DATA_DIR"])
    claims = {t["metadata"]["name"] for t in workers["spec"]["volumeClaimTemplates"]}
    assert data["name"] in claims  # a persistent volume per worker, not an emptyDir
    assert env["MONITOR_RECOVERY_CONSISTENCY_CHECK"] == "true"  # a real Kafka cluster: faust's check on
    headless = _named("Service", workers["spec"]["serviceName"])  # a StatefulSet's stable network identity
    assert headless["spec"]["clusterIP"] == "None"


def _mebibytes(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    number, unit = re.fullmatch(r"(\d+)(Ki|Mi|Gi)", quantity).groups()  # type: ignore[union-attr]
    return int(number) * units[unit]


def test_worker_memory_is_sized_from_the_measured_bytes_per_item() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    measured = re.search(r"memory per tracked item \| ([\d,]+) bytes resident, RSS ([\d,]+) MiB", readme)
    assert measured is not None, "the README's bench-scale memory figure"
    per_item, base = (int(g.replace(",", "")) for g in measured.groups())
    workers, container, _ = _worker()
    items = int(workers["metadata"]["annotations"]["compliance-monitor/items-per-worker"])
    needed = base + per_item * items / 2**20
    resources = container["resources"]
    request, limit = _mebibytes(resources["requests"]["memory"]), _mebibytes(resources["limits"]["memory"])
    assert needed <= request <= limit, (needed, request, limit)
    assert request <= 1.5 * needed  # not a blanket over-allocation either


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
    uid = re.search(r"^RUN useradd .*--uid (\d+) .* monitor$", text, re.M)
    assert uid is not None and int(uid.group(1)) > 0
    # Numeric, so Kubernetes' runAsNonRoot can check it; the user the image creates.
    assert re.findall(r"^USER (\S+)$", text, re.M) == [f"{uid.group(1)}:{uid.group(1)}"]
    assert 'ENTRYPOINT ["monitor"]' in text and 'CMD ["worker"]' in text
    assert re.search(r"^HEALTHCHECK .*/healthz", text, re.M)
    for source in re.findall(r"^COPY (?!--from)(\S+)", text, re.M):
        assert (REPO / source).exists(), source


def test_dockerfile_installs_the_hash_checked_lock_before_copying_the_sources() -> None:
    build = (REPO / "Dockerfile").read_text(encoding="utf-8").split("\nFROM ")[1].splitlines()  # the build stage
    install = next(n for n, line in enumerate(build) if "--require-hashes" in line)
    assert "-r requirements.lock" in build[install] and "--no-deps" in build[install]
    copies = [n for n, line in enumerate(build) if line.startswith("COPY ")]
    lock_copy = next(n for n in copies if "requirements.lock" in build[n])
    assert lock_copy < install < min(n for n in copies if n != lock_copy)


def _lock() -> dict[str, tuple[str, list[str]]]:
    """requirements.lock as name → (version, hashes)."""
    entries: dict[str, tuple[str, list[str]]] = {}
    text = (REPO / "requirements.lock").read_text(encoding="utf-8").replace("\\\n", " ")
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        pin, *hashes = line.split()
        name, version = pin.split("==")
        entries[canonicalize_name(name)] = (version, [h.removeprefix("--hash=sha256:") for h in hashes])
    return entries


def test_the_lock_pins_every_runtime_dependency_with_a_hash() -> None:
    lock = _lock()
    assert lock and all(hashes and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes) for _, hashes in lock.values())
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    for dependency in map(Requirement, runtime_dependencies(pyproject)):
        name = canonicalize_name(dependency.name)
        assert name in lock, f"{dependency} is not in requirements.lock: run make lock"
        assert dependency.specifier.contains(lock[name][0], prereleases=True), f"{dependency} vs {lock[name][0]}"


def test_the_lock_holds_every_dependency_of_what_it_locks() -> None:
    lock = _lock()
    environment = {"extra": ""}
    checked = 0
    for name, (version, _) in lock.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        if installed != version:
            continue  # another version here: its requirements may differ from the locked one's
        checked += 1
        for text in metadata.requires(name) or []:
            requirement = Requirement(text)
            if requirement.marker is not None and not requirement.marker.evaluate(environment):
                continue
            assert canonicalize_name(requirement.name) in lock, f"{name} needs {requirement}, not in requirements.lock"
    assert checked >= len(lock) // 2  # most of the lock is what this environment runs


def test_requirements_lock_is_written_from_pip_lock_output() -> None:
    pylock = {
        "packages": [
            {"name": "zeta", "version": "1.0", "wheels": [{"name": "z.whl", "hashes": {"sha256": "b" * 64}}]},
            {"name": "Alpha", "version": "2.1", "wheels": [{"name": "a.whl", "hashes": {"sha256": "a" * 64}}]},
        ]
    }
    text = requirements_lock(pylock)
    assert text.index("Alpha==2.1 \\\n    --hash=sha256:" + "a" * 64) < text.index("zeta==1.0")
    with pytest.raises(ValueError, match=r"sdist-only 0\.1: no wheel"):
        requirements_lock({"packages": [{"name": "sdist-only", "version": "0.1", "sdists": [{"name": "s.tar.gz"}]}]})


def _worker_environments() -> list[tuple[str, dict[str, str]]]:
    """The ``MONITOR_*`` environment of every monitor worker the deployment files run."""
    found = [
        (f"compose {name}", {k: str(v) for k, v in service.get("environment", {}).items()})
        for name, service in _compose()["services"].items()
        if name.startswith("monitor")
    ]
    for doc in _manifests():
        if doc["kind"] in ("Deployment", "StatefulSet"):
            for container in doc["spec"]["template"]["spec"]["containers"]:
                found.append((f"kubernetes {doc['metadata']['name']}", _container_env(container)))
    return found


def test_every_deployed_worker_links_alerts_to_a_reachable_url() -> None:
    environments = _worker_environments()
    assert any(where.startswith("kubernetes") for where, _ in environments)
    for where, env in environments:
        settings = Settings(
            **{k.removeprefix("MONITOR_").lower(): v for k, v in env.items() if k.startswith("MONITOR_")}
        )
        assert settings.unreachable_links is None, f"{where}: {settings.unreachable_links}"


def test_every_deployed_worker_advertises_a_url_of_its_own_that_the_others_reach() -> None:
    """Any worker answers for every unit by asking the owner at the URL it advertises: unique, and resolvable."""
    compose = {
        where: env["MONITOR_ADVERTISED_URL"]
        for where, env in _worker_environments()
        if where.startswith("compose") and "MONITOR_ADVERTISED_URL" in env
    }
    services = _compose()["services"]
    assert len(compose) == sum(1 for name in services if name.startswith("monitor")), "every compose worker sets one"
    assert len(set(compose.values())) == len(compose), compose
    for where, url in compose.items():
        assert re.fullmatch(rf"http://{re.escape(where.removeprefix('compose '))}:6066", url), (where, url)

    workers, container, env = _worker()
    assert env["MONITOR_ADVERTISED_URL"] == f"http://$(POD_NAME).{workers['spec']['serviceName']}:6066"
    pod_name = next(e for e in container["env"] if e["name"] == "POD_NAME")
    assert pod_name["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    names = [e["name"] for e in container["env"]]
    assert names.index("POD_NAME") < names.index("MONITOR_ADVERTISED_URL"), "$(POD_NAME) expands only if set before"
    headless = _named("Service", workers["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    settings = Settings(**{k.removeprefix("MONITOR_").lower(): v for k, v in env.items() if k.startswith("MONITOR_")})
    assert settings.unreachable_peers is None
