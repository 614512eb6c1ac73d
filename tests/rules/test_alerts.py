"""Fingerprints are stable: alerts keep their identity across versions and workers."""

from __future__ import annotations

import hashlib
import json

from hypothesis import given
from hypothesis import strategies as st

from rules.state import fingerprint, identity_fingerprint
from rules.state.alerts import IDENTITY_LABELS


def _documented(identity: dict[str, str]) -> str:
    """The definition: sha256 of the sorted labels' compact JSON (ensure_ascii off), first 16 hex digits."""
    canonical = json.dumps(sorted(identity.items()), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


@given(st.dictionaries(st.text(max_size=12), st.text(max_size=40), max_size=4))
def test_fingerprint_is_the_hash_of_the_sorted_labels_json(identity: dict[str, str]) -> None:
    assert fingerprint(identity) == _documented(identity)


def test_a_known_fingerprint_does_not_change() -> None:
    identity = {"alertname": "p06-task-overdue", "unit_id": "VN-22", "task_id": "KH-2024-07"}
    assert fingerprint(identity) == "9ef3e9f8f39bcf1b"  # as published by every version so far
    assert fingerprint(identity) != fingerprint({**identity, "unit_id": "VN-40"})


@given(st.text(max_size=30), st.text(max_size=12), st.sampled_from((None, *IDENTITY_LABELS)), st.text(max_size=40))
def test_an_identity_fingerprint_is_the_fingerprint_of_its_labels(
    alertname: str, unit_id: str, label: str | None, value: str
) -> None:
    identity = {"alertname": alertname, "unit_id": unit_id}
    if label is not None:
        identity[label] = value
    assert identity_fingerprint(alertname, unit_id, label, value) == _documented(identity)
