"""Publishers that sign, for the tests: keys and DSSE envelopes made by securesystemslib, the DSSE reference library.

The verification material follows the CloudEvents Verifiability extension's
signing protocol, computed here on its own (hashlib, the spec's steps in
order), not by the monitor's code, so a test that a signature is accepted
checks the monitor against the spec and the reference library.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime

from cryptography.hazmat.primitives import serialization
from securesystemslib.dsse import Envelope
from securesystemslib.signer import CryptoSigner

VERIFIABILITY = "https://cloudevents.io/verifiability/dsse/v0.1"
ATTRIBUTES = ("id", "source", "specversion", "type", "datacontenttype", "dataschema", "subject", "time")


def new_signer(keyid: str, *, ecdsa: bool = False) -> CryptoSigner:
    """A fresh Ed25519 (or ECDSA P-256) signing key named ``keyid``."""
    return CryptoSigner.generate_ecdsa(keyid=keyid) if ecdsa else CryptoSigner.generate_ed25519(keyid=keyid)


def public_pem(signer: CryptoSigner) -> str:
    """The signer's public key as PEM, as a publisher registry gives it."""
    private = serialization.load_pem_private_key(signer.private_bytes, password=None)
    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _digest(value: str | None) -> bytes:
    return hashlib.sha256(b"" if value is None else value.encode("utf-8")).digest()


def material(attributes: dict[str, str], data: bytes) -> bytes:
    """The spec's VERIFICATION_MATERIAL (core only) for these context attributes and data bytes."""
    parts = []
    for name in ATTRIBUTES:
        value = attributes.get(name)
        if name == "time" and value is not None:
            value = datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        parts.append(_digest(value))
    parts.append(hashlib.sha256(data).digest())
    core = hashlib.sha256(b"".join(parts)).digest()
    return json.dumps({"core": base64.b64encode(core).decode()}).encode()


def dssematerial(attributes: dict[str, str], data: bytes, *signers: CryptoSigner) -> str:
    """The ``dssematerial`` attribute: the envelope, signed by each signer, as Base64 of its JSON."""
    envelope = Envelope(payload=material(attributes, data), payload_type=VERIFIABILITY, signatures={})
    for signer in signers:
        envelope.sign(signer)
    return base64.b64encode(json.dumps(envelope.to_dict()).encode()).decode()


def signed_structured(attributes: dict[str, str], data: str, *signers: CryptoSigner) -> str:
    """A signed structured-mode CloudEvent's JSON text, ``data`` (JSON text) kept byte for byte."""
    head = {**attributes, "dssematerial": dssematerial(attributes, data.encode(), *signers)}
    return json.dumps(head, ensure_ascii=False)[:-1] + ', "data": ' + data + "}"
