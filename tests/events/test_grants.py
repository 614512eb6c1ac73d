"""The workers' seal on an extension record: only the exact value, under the cluster credential, passes."""

from __future__ import annotations

from events.grants import GRANT_HEADER, grant_seal, is_granted

VALUE = b'{"specversion":"1.0","type":"compliance.extension","id":"x-1"}'
KEY = b"cluster-secret"


def test_a_record_sealed_under_the_key_passes_and_any_change_fails() -> None:
    sealed = [("content-type", b"application/cloudevents+json"), (GRANT_HEADER, grant_seal(KEY, VALUE))]
    assert is_granted(KEY, VALUE, sealed)
    assert is_granted(KEY, VALUE, [(GRANT_HEADER.upper(), grant_seal(KEY, VALUE))])  # header names are not cased
    assert not is_granted(b"another-secret", VALUE, sealed)  # a worker of another cluster
    assert not is_granted(KEY, VALUE.replace(b"x-1", b"x-2"), sealed)  # the value changed after sealing
    assert not is_granted(KEY, VALUE, [])  # no seal
    assert not is_granted(None, VALUE, sealed)  # a worker without the credential grants nothing
    assert not is_granted(KEY, None, sealed)
