"""DSSE signatures: an event's ``dssematerial`` checked against its publisher's keys, and signed documents.

The CloudEvents Verifiability extension wraps ``{"core": ..., "ext": ...,
"signedextattrs": [...]}`` in a DSSE v1.0.2 envelope: the signature is over
``PAE(payloadType, payload)`` (``DSSEv1 <len> <type> <len> <payload>``), made
with any key the verifier trusts for that producer. Keys are Ed25519 or ECDSA
P-256 with SHA-256 (the extension's test vectors use the latter, with the
raw 64-byte ``r || s`` signature; a DER one is accepted too), given as PEM
public keys. The same envelope, with another payload type, signs a rule pack
or a publisher registry record (``DOCUMENT_PAYLOAD_TYPE``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, utils

from events.signing import PAYLOAD_TYPE, Seal

__all__ = [
    "DOCUMENT_PAYLOAD_TYPE",
    "VerifyKey",
    "envelope_problem",
    "load_public_key",
    "pae",
    "seal_problem",
]

#: The DSSE payload type of a signed rule pack or publisher registry: the payload is the document's bytes.
DOCUMENT_PAYLOAD_TYPE = "application/vnd.compliance-monitor.document+yaml"
_MAX_SIGNATURES = 16

PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey


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
                if len(signature) == 64:  # raw r || s, as the extension's test vectors
                    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
                    signature = utils.encode_dss_signature(r, s)
                self.key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            return False
        return True


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


def envelope_problem(envelope: object, payload_type: str, keys: Iterable[VerifyKey], whose: str) -> str | bytes:
    """The envelope's verified payload, or (a ``str``) why it is not verified.

    Args:
        envelope: The parsed DSSE JSON envelope.
        payload_type: The payload type it must carry.
        keys: The keys trusted for this signer.
        whose: Who the keys belong to, for the reason (``publisher 'nghean-dvc'``).
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
    for entry in signatures[:_MAX_SIGNATURES]:
        if not isinstance(entry, dict):
            continue
        keyid = entry.get("keyid")
        signature = _b64(entry.get("sig"))
        candidates = [trusted[keyid]] if isinstance(keyid, str) and keyid in trusted else []
        if not keyid:  # an unset keyid: any trusted key may have made it
            candidates = list(trusted.values())
        named.append(str(keyid)[:40] if keyid else "(no keyid)")
        if signature is not None and any(key.verifies(signature, message) for key in candidates):
            return payload
    if not trusted:
        return f"{whose} has no key to check a signature with"
    known = ", ".join(sorted(trusted))
    if not any(name in trusted or name == "(no keyid)" for name in named):
        return f"signed with key {', '.join(named)}, not one of {whose}'s ({known})"
    return f"the signature does not verify with {whose}'s key ({known})"


def seal_problem(seal: Seal, keys: Iterable[VerifyKey], whose: str) -> str | None:
    """Why a signed event is not what its publisher signed, or ``None`` when its signature holds."""
    try:
        envelope = json.loads(_b64(seal.material) or b"")
    except (ValueError, RecursionError):
        return "its dssematerial is not a Base64 DSSE JSON envelope"
    payload = envelope_problem(envelope, PAYLOAD_TYPE, keys, whose)
    if isinstance(payload, str):
        return payload
    try:
        material = json.loads(payload)
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
