"""DSSE signatures: an event's ``dssematerial`` checked against its publisher's keys, and signed documents.

The CloudEvents Verifiability extension wraps ``{"core": ..., "ext": ...,
"signedextattrs": [...]}`` in a DSSE v1.0.2 envelope: the signature is over
``PAE(payloadType, payload)`` (``DSSEv1 <len> <type> <len> <payload>``), made
with any key the verifier trusts for that producer. Keys are Ed25519 or ECDSA
P-256 with SHA-256 (the extension's test vectors use the latter, with the
raw 64-byte ``r || s`` signature; a DER one is accepted too), given as PEM
public keys. The same envelope, with another payload type, signs a record of
the rules or publishers topic (``sign_record``): its payload names the kind
of record and the SHA-256 of its value, so a signed registry cannot pass for
a pack, nor a changed record for the one signed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, utils

from events.signing import PAYLOAD_TYPE, Seal

__all__ = [
    "RECORD_PAYLOAD_TYPE",
    "Opened",
    "SignKey",
    "VerifyKey",
    "load_private_key",
    "load_public_key",
    "open_envelope",
    "pae",
    "record_signer",
    "seal_problem",
    "sign_record",
]

#: The DSSE payload type of a signed record of the rules or publishers topic.
RECORD_PAYLOAD_TYPE = "application/vnd.compliance-monitor.record+json"
_MAX_SIGNATURES = 16

PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey
PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey


def load_public_key(pem: str) -> PublicKey:
    """A PEM public key as the registry gives it; ``ValueError`` naming what is wrong unless Ed25519 or P-256."""
    try:
        key = serialization.load_pem_public_key(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError, UnsupportedAlgorithm):
        raise ValueError(
            "not a PEM public key: give the block from '-----BEGIN PUBLIC KEY-----' to its END line"
        ) from None
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    raise ValueError(f"a {type(key).__name__.removeprefix('_')} key; use Ed25519 or ECDSA P-256")


@dataclass(frozen=True, slots=True)
class VerifyKey:
    """A trusted public key and the id signatures name it by (the envelope's ``keyid``)."""

    keyid: str
    key: PublicKey

    def verifies(self, signature: bytes, message: bytes) -> bool:
        """Whether ``signature`` is this key's over ``message``."""
        try:
            if isinstance(self.key, ed25519.Ed25519PublicKey):
                self.key.verify(signature, message)
            else:
                return any(self._ecdsa(form, message) for form in _ecdsa_forms(signature))
        except (InvalidSignature, ValueError):
            return False
        return True

    def _ecdsa(self, signature: bytes, message: bytes) -> bool:
        assert isinstance(self.key, ec.EllipticCurvePublicKey)
        try:
            self.key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            return False
        return True


def _ecdsa_forms(signature: bytes) -> list[bytes]:
    """An ECDSA signature in the forms to try, as DER.

    64 bytes are read as raw ``r || s`` (the extension's vectors), and as DER too only if they parse as DER.
    """
    if len(signature) != 64:
        return [signature]
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    forms = [utils.encode_dss_signature(r, s)]
    try:
        utils.decode_dss_signature(signature)
    except ValueError:
        return forms
    return [*forms, signature]


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what a signature is over."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def _b64(value: object) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value.replace("-", "+").replace("_", "/") + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class Opened:
    """A DSSE envelope whose signature holds: its payload, and the id of the trusted key that made it."""

    payload: bytes
    keyid: str


def open_envelope(envelope: object, payload_type: str, keys: Iterable[VerifyKey], whose: str) -> Opened | str:
    """The envelope's verified payload and the key that signed it, or (a ``str``) why it is not verified.

    Args:
        envelope: The parsed DSSE JSON envelope.
        payload_type: The payload type it must carry.
        keys: The keys trusted for this signer.
        whose: The keys, for the reason (``the keys of publisher 'nghean-dvc'``).
    """
    if not isinstance(envelope, dict):
        return "the DSSE envelope is not a JSON object"
    if envelope.get("payloadType") != payload_type:
        return f"the DSSE payloadType is {str(envelope.get('payloadType'))[:80]!r}, not {payload_type!r}"
    payload = _b64(envelope.get("payload"))
    if payload is None:
        return "the DSSE payload is not Base64"
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or not signatures:
        return "the DSSE envelope has no signature"
    trusted = {key.keyid: key for key in keys}
    message = pae(payload_type, payload)
    named: list[str] = []
    budget = len(trusted) + 1  # checks per envelope: a record of forged signatures costs no more than one each
    for entry in signatures[:_MAX_SIGNATURES]:
        if not isinstance(entry, dict):
            continue
        keyid = entry.get("keyid")
        signature = _b64(entry.get("sig"))
        candidates = [trusted[keyid]] if isinstance(keyid, str) and keyid in trusted else []
        if not keyid:  # an unset keyid: any trusted key may have made it
            candidates = list(trusted.values())
        named.append(str(keyid)[:40] if keyid else "(no keyid)")
        if signature is None:
            continue
        for key in candidates:
            if budget <= 0:
                break
            budget -= 1
            if key.verifies(signature, message):
                return Opened(payload, key.keyid)
    if not trusted:
        return f"no key to check it with ({whose}: none)"
    known = ", ".join(sorted(trusted))
    if not any(name in trusted or name == "(no keyid)" for name in named):
        return f"signed with key {', '.join(named)}, not one of {whose} ({known})"
    return f"the signature does not verify with {whose} ({known})"


def seal_problem(seal: Seal, keys: Iterable[VerifyKey], whose: str) -> str | None:
    """Why a signed event is not what its publisher signed, or ``None`` when its signature holds."""
    try:
        envelope = json.loads(_b64(seal.material) or b"")
    except (ValueError, RecursionError):
        return "its dssematerial is not a Base64 DSSE JSON envelope"
    opened = open_envelope(envelope, PAYLOAD_TYPE, keys, whose)
    if isinstance(opened, str):
        return opened
    try:
        material = json.loads(opened.payload)
    except (ValueError, RecursionError):
        return "the signed verification material is not JSON"
    if not isinstance(material, Mapping):
        return "the signed verification material is not a JSON object"
    core = _b64(material.get("core"))
    if core is None or len(core) != 32:
        return "the signed verification material has no 32-byte 'core' digest"
    if ("ext" in material) != ("signedextattrs" in material):
        return "the signed verification material gives one of 'ext' and 'signedextattrs' without the other"
    if core != seal.core:
        return "the event differs from what was signed (its attributes or data were changed after signing)"
    return None


@dataclass(frozen=True, slots=True)
class SignKey:
    """A private key that signs records, and the id the workers' trusted keys know its public half by."""

    keyid: str
    key: PrivateKey

    def sign(self, message: bytes) -> bytes:
        """The signature over ``message`` (ECDSA: DER)."""
        if isinstance(self.key, ed25519.Ed25519PrivateKey):
            return self.key.sign(message)
        return self.key.sign(message, ec.ECDSA(hashes.SHA256()))


def load_private_key(pem: bytes, keyid: str) -> SignKey:
    """An unencrypted PEM private key (``openssl genpkey -algorithm ed25519``); ``ValueError`` saying what is wrong."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except TypeError:
        raise ValueError(
            "the private key is encrypted; give it unencrypted (keep the file readable only by you)"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise ValueError(
            "not a PEM private key: give the block from '-----BEGIN PRIVATE KEY-----' to its END line"
        ) from None
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return SignKey(keyid, key)
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return SignKey(keyid, key)
    raise ValueError(f"a {type(key).__name__.removeprefix('_')} key; use Ed25519 or ECDSA P-256")


def _statement(kind: str, key: bytes | None, value: bytes) -> bytes:
    """What a record's signature is over: its kind, its key and the SHA-256 of its value."""
    shown_key = key.decode("utf-8", "replace") if key is not None else ""
    digest = hashlib.sha256(value).hexdigest()
    return json.dumps({"kind": kind, "key": shown_key, "sha256": digest}, separators=(",", ":")).encode("utf-8")


def sign_record(kind: str, key: bytes | None, value: bytes, signer: SignKey) -> bytes:
    """The DSSE envelope (JSON) that signs a record (its ``key`` and ``value``) as one of ``kind`` ("rule pack")."""
    payload = _statement(kind, key, value)
    signature = signer.sign(pae(RECORD_PAYLOAD_TYPE, payload))
    envelope = {
        "payload": base64.b64encode(payload).decode("ascii"),
        "payloadType": RECORD_PAYLOAD_TYPE,
        "signatures": [{"keyid": signer.keyid, "sig": base64.b64encode(signature).decode("ascii")}],
    }
    return json.dumps(envelope, separators=(",", ":")).encode("utf-8")


def record_signer(
    kind: str, key: bytes | None, value: bytes, envelope: bytes | None, trusted: Iterable[VerifyKey]
) -> tuple[str, bool]:
    """Who signed a record, or why it is not trusted: ``(keyid, True)`` or ``(problem, False)``."""
    if envelope is None:
        return "not signed (workers here take only records signed by a trusted key)", False
    try:
        parsed = json.loads(envelope)
    except (ValueError, RecursionError):
        return "its signature is not a DSSE JSON envelope", False
    opened = open_envelope(parsed, RECORD_PAYLOAD_TYPE, trusted, "the trusted keys")
    if isinstance(opened, str):
        return opened, False
    if opened.payload != _statement(kind, key, value):
        return f"the signature is not over this record (another {kind}, or the record changed since)", False
    return opened.keyid, True
