"""Fingerprints are stable: alerts keep their identity across versions and workers."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from rules.state import AlertTransition, fingerprint, identity_fingerprint
from rules.state.alerts import IDENTITY_LABELS, encode_transition


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


_INSTANTS = st.datetimes(
    timezones=st.one_of(
        st.just(UTC),
        st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59))
        .map(lambda offset: timedelta(minutes=offset // timedelta(minutes=1)))
        .map(timezone),
    )
)
_TEXT = st.text(max_size=20)  # every code point: controls, quotes, backslashes, Vietnamese, astral


@given(
    st.builds(
        AlertTransition,
        fingerprint=_TEXT,
        status=st.sampled_from(["firing", "resolved"]),
        stage=_TEXT,
        rule_id=_TEXT,
        severity=_TEXT,
        labels=st.dictionaries(_TEXT, _TEXT, max_size=4),
        annotations=st.dictionaries(_TEXT, _TEXT, max_size=4),
        starts_at=_INSTANTS,
        ends_at=st.none() | _INSTANTS,
        value=st.none() | st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(2**53), 2**53).map(float),
        event_ids=st.lists(_TEXT, max_size=3),
        rule_version=_TEXT,
        reported_by=st.none() | _TEXT,
        reported_at=st.none() | _INSTANTS,
        reported_as=st.none() | _TEXT,
    )
)
def test_a_transition_is_encoded_to_the_bytes_pydantic_writes(transition: AlertTransition) -> None:
    """Byte for byte, but for a float from 1e16 on: ``1e16`` where pydantic writes ``1e+16``, the same number."""
    ours, pydantics = encode_transition(transition), transition.model_dump_json().encode("utf-8")
    assert json.loads(ours) == json.loads(pydantics)
    if transition.value is None or not math.isfinite(transition.value) or abs(transition.value) < 1e16:
        assert ours == pydantics
