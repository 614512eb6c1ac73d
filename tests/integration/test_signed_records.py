"""Who may change the rules and the registry: with trusted keys, two workers put in force only what the keys signed.

The working group's key is made with openssl, as an operator would; the
records the test forges are signed with securesystemslib (the DSSE reference
library) by a key the workers do not trust, or carry no signature at all.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from securesystemslib.dsse import Envelope
from securesystemslib.signer import CryptoSigner, SSlibKey

from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.topics import Topics
from monitor.publishers import PublishedRegistry, load_registry
from rules.loading import BUNDLED_PACK, PublishedPack, load_pack, pack_files
from tests.conftest import require_tool
from tests.integration.kafka import http_get, produce, read_all, sample, wait_for, worker_process

pytestmark = pytest.mark.integration
TOPICS = Topics()
REGISTRY = """\
publishers:
  - id: nghean-dvc
    units: [VN-22]
  - id: binhthuan-dvc
    units: [VN-40]
"""


def _openssl_key(directory: Path, name: str) -> tuple[Path, str]:
    """A new Ed25519 key pair made by openssl: the private key's file, and the public key's PEM."""
    openssl = require_tool("openssl")
    private = directory / f"{name}.pem"
    subprocess.run([openssl, "genpkey", "-algorithm", "ed25519", "-out", str(private)], check=True, timeout=30)
    public = subprocess.run(
        [openssl, "pkey", "-in", str(private), "-pubout"], check=True, capture_output=True, text=True, timeout=30
    )
    return private, public.stdout


def _monitor(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1", **env},
    )


def _forged_header(private: Path, keyid: str, kind: str, key: bytes, value: bytes) -> list[tuple[str, bytes]]:
    """A DSSE envelope made by securesystemslib over the record, as the applier signs one, with ``private``."""
    pem = serialization.load_pem_private_key(private.read_bytes(), password=None)
    signer = CryptoSigner(pem, SSlibKey.from_crypto(pem.public_key(), keyid=keyid))  # type: ignore[arg-type]
    statement = json.dumps(
        {"kind": kind, "key": key.decode(), "sha256": hashlib.sha256(value).hexdigest()}, separators=(",", ":")
    )
    envelope = Envelope(statement.encode(), "application/vnd.compliance-monitor.record+json", {})
    envelope.sign(signer)
    return [("dsse", json.dumps(envelope.to_dict()).encode())]


def _rules(worker: Any) -> dict[str, Any]:
    status, body = http_get(worker.base_url + "/api/v1/rules")
    assert status == 200
    return dict(json.loads(body))


def test_two_workers_put_in_force_only_the_packs_and_registries_the_trusted_keys_signed(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    trusted_key, trusted_pem = _openssl_key(tmp_path, "wg-2026")
    stranger_key, _ = _openssl_key(tmp_path, "stranger")
    keys = tmp_path / "trusted-keys.yaml"
    indented = "\n".join("      " + line for line in trusted_pem.strip().splitlines())
    keys.write_text(f"keys:\n  - id: wg-2026\n    public_key: |\n{indented}\n", encoding="utf-8")
    env = {"MONITOR_TRUSTED_KEYS": str(keys), "MONITOR_BROKER": broker.url}

    pack = tmp_path / "pack"
    shutil.copytree(BUNDLED_PACK, pack)
    rules = pack / "de-an-06.yaml"
    rules.write_text(rules.read_text(encoding="utf-8").replace("Share of dossiers", "Share of all dossiers", 1))
    signed_version = load_pack([pack]).version

    # Unsigned, the applier is stopped before anything is published.
    unsigned = _monitor(env, "rules", "apply", str(pack))
    assert unsigned.returncode == 2 and "give --sign-key FILE" in unsigned.stderr, unsigned.stderr
    assert len(unsigned.stderr.strip().splitlines()) == 1 and "Traceback" not in unsigned.stderr
    untrusted = _monitor(env, "rules", "apply", str(pack), "--sign-key", str(stranger_key))
    assert untrusted.returncode == 2 and "not one of the trusted keys" in untrusted.stderr
    applied = _monitor(env, "rules", "apply", str(pack), "--sign-key", str(trusted_key), "-m", "signed")
    assert applied.returncode == 0 and "signed with key 'wg-2026'" in applied.stdout, applied.stderr
    assert len(read_all(broker.bootstrap, TOPICS.rules)) == 1  # the refused applies published nothing

    first, second = tmp_path / "w1", tmp_path / "w2"
    first.mkdir()
    second.mkdir()
    with (
        worker_process(broker.url, first, env={"MONITOR_TRUSTED_KEYS": str(keys)}) as one,
        worker_process(broker.url, second, env={"MONITOR_TRUSTED_KEYS": str(keys)}) as two,
    ):
        workers = (one, two)
        for worker in workers:
            worker.wait_ready(timeout=90)
        assert [_rules(w)["version"] for w in workers] == [signed_version, signed_version]

        # Anyone who can write to the rules topic writes a pack: unsigned, and signed by a key nobody trusts.
        forged_pack = tmp_path / "forged"
        shutil.copytree(pack, forged_pack)
        forged_rules = forged_pack / "de-an-06.yaml"
        forged_rules.write_text(forged_rules.read_text(encoding="utf-8").replace("below: 0.5", "below: 0.1", 1))
        record = PublishedPack.of(
            load_pack([forged_pack]),
            pack_files(forged_pack),
            applied_at=datetime.now(UTC),
            applied_by="intruder",
            message="",
        )
        value = record.model_dump_json().encode()
        produce(broker.bootstrap, TOPICS.rules, value, record.key)
        produce(
            broker.bootstrap,
            TOPICS.rules,
            value,
            record.key,
            _forged_header(stranger_key, "wg-2026", "rule pack", record.key, value),
        )
        # ... and a registry record, signed by the stranger too.
        published = _monitor(env, "publishers", "apply", str(_registry(tmp_path)), "--sign-key", str(trusted_key))
        assert published.returncode == 0 and "signed with key 'wg-2026'" in published.stdout, published.stderr
        (good,) = read_all(broker.bootstrap, TOPICS.publishers)
        lax = load_registry(_registry(tmp_path)).model_copy(update={"allow_unrostered": True})
        forged_registry = PublishedRegistry.of(lax, applied_at=datetime.now(UTC), applied_by="intruder", message="")
        forged_value = forged_registry.model_dump_json().encode()
        produce(
            broker.bootstrap,
            TOPICS.publishers,
            forged_value,
            good.key,
            _forged_header(stranger_key, "wg-2026", "publisher registry", good.key, forged_value),
        )
        # The trusted key's own signature, moved onto another record, does not carry over.
        produce(broker.bootstrap, TOPICS.publishers, forged_value, good.key, list(good.headers))

        def refused_everywhere() -> Any:
            counts = [
                (
                    sample(w.metrics(), "compliance_signature_refused_records", topic="rules"),
                    sample(w.metrics(), "compliance_signature_refused_records", topic="publishers"),
                )
                for w in workers
            ]
            return counts == [(2, 2), (2, 2)]

        wait_for("both workers to refuse the forged records", refused_everywhere, timeout=30, log=one.log)
        time.sleep(2)  # two ticks: a forged pack in force would show by now
        for worker in workers:
            assert _rules(worker)["version"] == signed_version
            _, body = http_get(worker.base_url + "/readyz")
            assert json.loads(body)["publishers"]["enforced"] is True
            history = json.loads(http_get(worker.base_url + "/api/v1/rules/history")[1])["versions"]
            problems = [v.get("problem") or "" for v in history if v["applied_by"] == "intruder"]
            assert len(problems) == 2 and all(p.startswith("signature refused") for p in problems), problems
            assert any("not signed" in p for p in problems) and any("does not verify" in p for p in problems)
            # The forged registry would let any unit be reported: refused, the signed one stays in force.
            assert sample(worker.metrics(), "compliance_publisher_registry_enforced") == 1

        # A newer pack, signed, goes in force; the first signed record published again (its signature still
        # holds) must not put the older pack back.
        newer = tmp_path / "newer"
        shutil.copytree(pack, newer)
        newer_rules = newer / "de-an-06.yaml"
        newer_rules.write_text(
            newer_rules.read_text(encoding="utf-8").replace("Share of all dossiers", "Share of every dossier", 1)
        )
        newer_version = load_pack([newer]).version
        applied = _monitor(env, "rules", "apply", str(newer), "--sign-key", str(trusted_key), "-m", "newer")
        assert applied.returncode == 0, applied.stderr
        wait_for(
            "both workers on the newer pack",
            lambda: [_rules(w)["version"] for w in workers] == [newer_version, newer_version],
            timeout=30,
            log=one.log,
        )
        first_record = read_all(broker.bootstrap, TOPICS.rules)[0]
        produce(broker.bootstrap, TOPICS.rules, first_record.value, first_record.key, list(first_record.headers))
        wait_for(
            "both workers to refuse the replay",
            lambda: all(
                sample(w.metrics(), "compliance_signature_refused_records", topic="rules") == 3 for w in workers
            ),
            timeout=30,
            log=one.log,
        )
        time.sleep(2)
        assert [_rules(w)["version"] for w in workers] == [newer_version, newer_version]
        replayed = json.loads(http_get(one.base_url + "/api/v1/rules/history")[1])["versions"][0]
        assert replayed["version"] == signed_version and "an old record published again" in replayed["problem"]

        history = _monitor(env, "rules", "history")
        assert history.returncode == 0, history.stderr
        assert history.stdout.count("signature refused") == 3 and "signed with key 'wg-2026'" in history.stdout
        listed = _monitor(env, "publishers", "history")
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.count("not used: signature refused") == 2
        assert "the signature is not over this record" in listed.stdout


def _registry(tmp_path: Path) -> Path:
    path = tmp_path / "publishers.yaml"
    path.write_text(REGISTRY, encoding="utf-8")
    return path


def test_a_trusted_keys_file_with_a_mistake_is_named_with_its_line(tmp_path: Path) -> None:
    keys = tmp_path / "trusted-keys.yaml"
    keys.write_text("keys:\n  - id: wg\n    public_key: |\n      not a key\n", encoding="utf-8")
    pack = tmp_path / "pack"
    shutil.copytree(BUNDLED_PACK, pack)
    refused = _monitor(
        {"MONITOR_TRUSTED_KEYS": str(keys)}, "rules", "apply", str(pack), "--broker", "kafka://127.0.0.1:9"
    )
    assert (
        refused.returncode == 2 and f"{keys}:3: field 'keys.0.public_key'" in refused.stderr and "PEM" in refused.stderr
    ), refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr
