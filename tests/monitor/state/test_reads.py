"""The store seen with staged writes laid over it (``Overlaid``): what a unit read again after a fault is read from."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from monitor.state.reads import Overlaid, scan
from tests.monitor.state.fixtures import DictItemLog

_KEYS = st.binary(min_size=1, max_size=3)
_END = b"\xff" * 4


@given(
    st.dictionaries(_KEYS, st.binary(max_size=2)),
    st.dictionaries(_KEYS, st.none() | st.binary(max_size=2)),
    _KEYS,
)
def test_the_overlaid_store_reads_as_the_store_would_once_the_staged_writes_are_made(
    stored: dict[bytes, bytes], staged: dict[bytes, bytes | None], start: bytes
) -> None:
    store = DictItemLog(dict(stored))
    written = {**dict(scan(store, 0, b"", _END)), **staged}
    expected = sorted((k, v) for k, v in written.items() if v is not None and k >= start)
    view = Overlaid(store, 0, staged)
    assert list(scan(view, 0, start, _END)) == expected
    for key in written:
        assert view.get(0, key) == written[key]
