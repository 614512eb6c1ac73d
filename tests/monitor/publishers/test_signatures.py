"""Signed events: DSSE envelopes from the reference library and the spec's own test vectors, checked by the monitor."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from events.codec import decode_record
from events.signing import PAYLOAD_TYPE
from monitor.kafka.batches import batch_records
from monitor.kafka.topics import Topics
from monitor.publishers import Cause, RegistryFileError, admission, load_registry, registry_changes
from monitor.publishers.signatures import VerifyKey, load_public_key, open_envelope
from rules.loading import BUNDLED_PACK, load_pack
from tests.signers import dssematerial, new_signer, public_pem, signed_structured

BUNDLED = load_pack([BUNDLED_PACK])

# The Verifiability extension's test-vector key (ECDSA P-256, raw r || s signatures) and its case 3 envelope.
SPEC_X = 46950820868899156662930047687818585632848591499744589407958293238635476079160
SPEC_Y = 5640078356564379163099075877009565129882514886557779369047442380624545832820
SPEC_CASE_3 = (
    "eyJwYXlsb2FkVHlwZSI6Imh0dHBzOi8vY2xvdWRldmVudHMuaW8vdmVyaWZpYWJpbGl0eS9kc3NlL3YwLjEiLCJwYXlsb2FkIjoiZXlKamIzSmxJ"
    "am9pZDB0RFlUaHpjVE5rZVdjdk1EQmFhVVJSZVM5aFdFRlpNWFJsY0ZGdWNrdE1ZVFo0VURCWk0wUXZVVDBpZlE9PSIsInNpZ25hdHVyZXMiOlt7"
    "ImtleWlkIjoidGVzdGtleSIsInNpZyI6IlVNcWlOWXA3U1FacTZNSGRtczRkbjJtc0hHaW5MSHZaYVVWM2doY2ovY241QmkzZDVqejBzZmhtOXBa"
    "ODlDY09hK1dXdGpZNmNadmo3Yy90T1dzVFZnPT0ifV19"
)
TASK = '{"task_id": "ke-hoach-kiem-tra", "status": "completed", "unit_id": "VN-22", "occurred_at": "2024-07-15T09:00:00+07:00"}'
ATTRIBUTES = {
    "specversion": "1.0",
    "id": "ev-1",
    "source": "nghean-dvc",
    "type": "compliance.task-status",
    "time": "2024-07-15T09:00:00+07:00",
    "datacontenttype": "application/json",
}


def _spec_key() -> VerifyKey:
    pem = (
        ec.EllipticCurvePublicNumbers(SPEC_X, SPEC_Y, ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return VerifyKey("testkey", load_public_key(pem.decode()))


def test_the_specs_test_vector_verifies_and_a_changed_payload_does_not() -> None:
    envelope = json.loads(base64.b64decode(SPEC_CASE_3))
    opened = open_envelope(envelope, PAYLOAD_TYPE, [_spec_key()], "the spec")
    assert not isinstance(opened, str) and opened.keyid == "testkey"
    payload = opened.payload
    assert json.loads(payload)["core"]
    changed = {**envelope, "payload": base64.b64encode(payload.replace(b'"core"', b'"core" ')).decode()}
    assert "does not verify" in str(open_envelope(changed, PAYLOAD_TYPE, [_spec_key()], "the spec"))
    other = VerifyKey("testkey", load_public_key(public_pem(new_signer("x", ecdsa=True))))
    assert "does not verify" in str(open_envelope(envelope, PAYLOAD_TYPE, [other], "the spec"))
    assert "not one of" in str(open_envelope(envelope, PAYLOAD_TYPE, [VerifyKey("k9", other.key)], "the spec"))


def _registry(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "publishers.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def _signing_registry(tmp_path: Path, pem: str, *, must_sign: bool = True) -> Path:
    indented = "\n".join("          " + line for line in pem.strip().splitlines())
    return _registry(
        tmp_path,
        f"""\
publishers:
  - id: nghean-dvc
    units: [VN-22]
    must_sign: {str(must_sign).lower()}
    keys:
      - id: nghean-2026
        public_key: |
{indented}
  - id: binhthuan-dvc
    units: [VN-40]
""",
    )


@pytest.mark.parametrize("ecdsa", [False, True], ids=["ed25519", "ecdsa-p256"])
def test_a_signed_event_is_admitted_and_a_changed_or_unsigned_one_refused(tmp_path: Path, ecdsa: bool) -> None:
    signer = new_signer("nghean-2026", ecdsa=ecdsa)
    admitted = admission(load_registry(_signing_registry(tmp_path, public_pem(signer)), BUNDLED), BUNDLED)

    def verdict(value: bytes, headers: tuple[tuple[str, bytes], ...] = ()) -> Cause | None:
        decoded = decode_record(value, headers, default_kind=None)
        assert not decoded.rejections and decoded.events
        refusals = [admitted.refusal(e.source, e.unit_id, decoded.seal(n)) for n, e in enumerate(decoded.events)]
        causes = {refusal.cause if refusal is not None else None for refusal in refusals}
        assert len(causes) == 1
        return causes.pop()

    signed = signed_structured(ATTRIBUTES, TASK, signer)
    assert verdict(signed.encode()) is None
    assert verdict(("[" + signed + ",\n " + signed + "]").encode()) is None  # a batch: each item's data found
    assert verdict(signed.replace('"completed"', '"in_progress"').encode()) is Cause.BAD_SIGNATURE
    assert verdict(signed.replace('"ev-1"', '"ev-2"').encode()) is Cause.BAD_SIGNATURE
    assert verdict(signed.replace("+07:00", "+08:00", 1).encode()) is Cause.BAD_SIGNATURE  # its time
    assert verdict(json.dumps({**ATTRIBUTES, "data": json.loads(TASK)}).encode()) is Cause.UNSIGNED
    stranger = new_signer("nghean-2026", ecdsa=ecdsa)  # right key id, wrong key
    assert verdict(signed_structured(ATTRIBUTES, TASK, stranger).encode()) is Cause.BAD_SIGNATURE

    # Binary mode: the ce_ headers and the value, the value's bytes as signed.
    material = dssematerial(ATTRIBUTES, TASK.encode(), signer)
    headers = tuple((f"ce_{k}", v.encode()) for k, v in {**ATTRIBUTES, "dssematerial": material}.items())
    assert verdict(TASK.encode(), headers) is None
    assert verdict(TASK.replace(" ", "").encode(), headers) is Cause.BAD_SIGNATURE  # same JSON, other bytes


def test_a_signature_is_checked_after_the_unit_and_only_where_the_registry_has_keys(tmp_path: Path) -> None:
    signer = new_signer("nghean-2026")
    path = _signing_registry(tmp_path, public_pem(signer), must_sign=False)
    admitted = admission(load_registry(path, BUNDLED), BUNDLED)
    unsigned = decode_record(json.dumps({**ATTRIBUTES, "data": json.loads(TASK)}).encode(), default_kind=None)
    assert unsigned.seal(0) is None and admitted.refusal("nghean-dvc", "VN-22") is None  # may sign, need not
    wrong = decode_record(signed_structured(ATTRIBUTES, TASK, new_signer("nghean-2026")).encode(), default_kind=None)
    refused = admitted.refusal("nghean-dvc", "VN-22", wrong.seal(0))
    assert refused is not None and refused.cause is Cause.BAD_SIGNATURE and "nghean-2026" in refused.reason
    elsewhere = admitted.refusal("nghean-dvc", "VN-40", wrong.seal(0))  # another unit: that reason first
    assert elsewhere is not None and elsewhere.cause is Cause.NOT_ITS_UNIT
    # Bình Thuận's system has no key: what it signs is taken as unsigned, as the extension allows.
    binhthuan = {**ATTRIBUTES, "source": "binhthuan-dvc"}
    signed = decode_record(
        signed_structured(binhthuan, TASK.replace("VN-22", "VN-40"), signer).encode(), default_kind=None
    )
    assert admitted.refusal("binhthuan-dvc", "VN-40", signed.seal(0)) is None


def test_a_signed_event_passed_on_over_http_keeps_its_signature(tmp_path: Path) -> None:
    signer = new_signer("nghean-2026")
    admitted = admission(load_registry(_signing_registry(tmp_path, public_pem(signer)), BUNDLED), BUNDLED)
    material = dssematerial(ATTRIBUTES, TASK.encode(), signer)
    headers = tuple((f"ce_{k}", v.encode()) for k, v in {**ATTRIBUTES, "dssematerial": material}.items())
    decoded = decode_record(TASK.encode(), headers, default_kind=None)
    (record,) = batch_records(Topics(), list(decoded.events), decoded.seals)
    again = decode_record(record.value, default_kind=None)  # what the worker owning VN-22 reads
    assert again.events == decoded.events
    assert admitted.refusal("nghean-dvc", "VN-22", again.seal(0)) is None


def test_a_registry_with_a_bad_key_is_refused_with_its_place(tmp_path: Path) -> None:
    path = _registry(
        tmp_path,
        """\
publishers:
  - id: nghean-dvc
    units: [VN-22]
    keys:
      - id: k1
        public_key: not a key
""",
    )
    with pytest.raises(RegistryFileError) as error:
        load_registry(path, BUNDLED)
    assert "publishers.yaml:6:" in str(error.value) and "public_key" in str(error.value) and "PEM" in str(error.value)
    unsigned = _registry(tmp_path, "publishers:\n  - id: nghean-dvc\n    units: [VN-22]\n    must_sign: true\n")
    with pytest.raises(RegistryFileError, match="must sign but has no key"):
        load_registry(unsigned, BUNDLED)


def test_a_key_change_is_named_in_the_diff(tmp_path: Path) -> None:
    first, second = new_signer("k1"), new_signer("k2")
    old = load_registry(_signing_registry(tmp_path, public_pem(first), must_sign=False), BUNDLED)
    new = load_registry(_signing_registry(tmp_path, public_pem(second), must_sign=True), BUNDLED)
    (line,) = [line for line in registry_changes(old, new) if "nghean-dvc" in line]
    assert line.startswith("~ nghean-dvc") and "keys: ~nghean-2026" in line and "must sign" in line


def test_the_signing_example_of_the_docs_makes_an_event_the_monitor_accepts(tmp_path: Path) -> None:
    page = (Path(__file__).parents[3] / "docs" / "publishers.md").read_text(encoding="utf-8")
    example = page.split("## Signed events", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    shown: dict[str, Any] = {}
    exec(example, shown)  # the page's own example, run as a reader would
    admitted = admission(load_registry(_signing_registry(tmp_path, public_pem(shown["signer"])), BUNDLED), BUNDLED)
    headers = tuple((f"ce_{name}", value.encode()) for name, value in shown["attributes"].items())
    decoded = decode_record(shown["data"], headers, default_kind=None)
    assert not decoded.rejections and decoded.seal(0) is not None
    (event,) = decoded.events
    assert (event.source, event.unit_id) == ("nghean-dvc", "VN-22")
    assert admitted.refusal(event.source, event.unit_id, decoded.seal(0)) is None
    changed = decode_record(shown["data"].replace(b"completed", b"cancelled"), headers, default_kind=None)
    refused = admitted.refusal(event.source, event.unit_id, changed.seal(0))
    assert refused is not None and refused.cause is Cause.BAD_SIGNATURE


def test_what_a_signed_event_cannot_carry_is_refused_with_a_reason_and_never_raises(tmp_path: Path) -> None:
    signer = new_signer("nghean-2026")
    # A time whose UTC falls before year 1: refused as an event, not an exception out of the decoder.
    early = {**ATTRIBUTES, "time": "0001-01-01T00:00:00+01:00", "dssematerial": "eA=="}
    decoded = decode_record(json.dumps({**early, "data": json.loads(TASK)}).encode(), default_kind=None)
    assert decoded.seal(0) is not None or decoded.rejections  # decoded, whatever it says: nothing raised
    # A fraction of a second the signature does not cover: the instant is taken to the second.
    fractional = {**ATTRIBUTES, "time": "2024-07-15T09:00:00.100+07:00"}
    no_instant = TASK.replace(', "occurred_at": "2024-07-15T09:00:00+07:00"', "")
    decoded = decode_record(signed_structured(fractional, no_instant, signer).encode(), default_kind=None)
    assert not decoded.rejections and decoded.events[0].occurred_at.isoformat() == "2024-07-15T09:00:00+07:00"
    changed = signed_structured(fractional, no_instant, signer).replace(".100+07:00", ".999+07:00")
    again = decode_record(changed.encode(), default_kind=None)  # the fraction changed: still signed, same instant
    assert again.events[0].occurred_at == decoded.events[0].occurred_at
    # Binary mode with a newline after the JSON (curl --data-binary @file): its copy passed on could not match.
    material = dssematerial(ATTRIBUTES, TASK.encode() + b"\n", signer)
    headers = tuple((f"ce_{k}", v.encode()) for k, v in {**ATTRIBUTES, "dssematerial": material}.items())
    (refused,) = decode_record(TASK.encode() + b"\n", headers, default_kind=None).rejections
    assert "nothing around it" in refused.reason
    # An integer longer than Python converts: a rejection too.
    assert decode_record(b'{"task_id": "x", "n": ' + b"9" * 5000 + b"}", default_kind=None).rejections


def test_a_record_of_forged_signatures_costs_one_check_per_trusted_key(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = [VerifyKey(f"k{n}", load_public_key(public_pem(new_signer(f"k{n}", ecdsa=True)))) for n in range(2)]
    checks: list[str] = []
    real = VerifyKey.verifies
    monkeypatch.setattr(VerifyKey, "verifies", lambda self, sig, msg: checks.append(self.keyid) or real(self, sig, msg))
    payload = base64.b64encode(b'{"core": ""}').decode()
    forged = [{"keyid": "", "sig": base64.b64encode(bytes(64)).decode()} for _ in range(16)]
    problem = open_envelope(
        {"payloadType": PAYLOAD_TYPE, "payload": payload, "signatures": forged}, PAYLOAD_TYPE, keys, "k"
    )
    assert isinstance(problem, str) and len(checks) == len(keys) + 1
