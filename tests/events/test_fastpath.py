"""The fast path never changes an outcome: what it builds is what pydantic builds, and it refuses nothing itself.

Hypothesis makes near-valid and invalid bare events (valid values mixed with
wrong types, extra keys, whitespace, boundary lengths, odd timestamps, unicode,
control characters, lone surrogates, huge and non-finite numbers, missing
fields, nulls). For each, the fast path (``fast_event``), the codec and the
codec reading the event's JSON must give pydantic's outcome: the same object
(equal, same types, same ``model_fields_set``, same private state, the same
JSON) or the same reason.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import json
import os
import string
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pydantic_core
import pytest
from hypothesis import currently_in_test_context, event, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError
from pydantic_core import TzInfo

from events import EventKind, IndicatorEvent, TaskStatus, TaskStatusEvent, decode_record
from events.codec import Rejection, decode_object, describe_validation_error, encode_batch, encode_event
from events.fastpath import ENABLED, fast_event
from events.models import MAX_LABEL_NAME_CHARS, MAX_LABEL_VALUE_CHARS, MAX_PERIOD_CHARS, MAX_TITLE_CHARS
from events.text import MAX_IDENTIFIER_CHARS
from tests.events.test_codec import TASK  # the typical task event, as the codec tests send it
from tests.integration.dossiers import dossier_records

Model = type[TaskStatusEvent] | type[IndicatorEvent]
MODELS: dict[EventKind, Model] = {EventKind.TASK_STATUS: TaskStatusEvent, EventKind.INDICATOR: IndicatorEvent}
#: Examples per property test (about 25 s for the module on one core); FASTPATH_EXAMPLES=50000 for a long run.
EXAMPLES = int(os.environ.get("FASTPATH_EXAMPLES", "1500"))

# --- what a perturbed event is made of ---------------------------------------------------------------------

#: Characters pydantic or the fast path might treat apart: whitespace pydantic trims and whitespace it does not
#: (U+001C-U+001F, U+200B, U+FEFF), controls, bidi controls, lone surrogates, non-BMP, digits of other scripts.
ODD = (
    " \t\n\r\x0b\x0c\x1c\x1f\x00\x1b\x7f\x80\x85\x9f\xa0\u1680\u2000\u200a\u200b\u2028\u2029\u202e\u202f"
    "\u205f\u3000\ufeff\ud800\udc80\udfffÀệĐ\u0301🙂\U0010ffff٣Ａ"
)
_chars = st.characters() | st.sampled_from(ODD)
_non_strings = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@st.composite
def _sized(draw: st.DrawFn, limit: int) -> str:
    """Text at the edge of ``limit``, maybe with something odd at an end."""
    size = draw(st.integers(max(0, limit - 2), limit + 2))
    fill = draw(st.sampled_from(["a", "ệ", "🙂", "a b"]))
    text = (fill * size)[:size]
    odd = draw(st.sampled_from(["", "", " ", "\xa0", "\x1f", "\x00", "\ud800", "\u200b"]))
    return draw(st.sampled_from([odd + text, text + odd, text[: max(0, size - 1)] + odd]))


def _strings(limit: int) -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(string.ascii_letters + string.digits + "-_.:/ ", max_size=20),
        st.text(_chars, max_size=8),
        _sized(limit),
    )


def _texts(limit: int) -> st.SearchStrategy[Any]:
    return _strings(limit) | _non_strings


_identifiers = st.one_of(
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,24}", fullmatch=True),
    st.from_regex(r"VN-[0-9]{2}", fullmatch=True),
    st.text(st.characters(exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp")), min_size=1, max_size=12),
    _texts(MAX_IDENTIFIER_CHARS),
)


@st.composite
def _odd_instants(draw: st.DrawFn) -> str:
    """Timestamps in and around the form the fast path reads: each part at and beyond its bounds, other forms."""
    year = draw(st.sampled_from([1, 1899, 1900, 1901, 2024, 2999, 3000, 3001, 9999]) | st.integers(1890, 3010))
    month, day = draw(st.integers(0, 13)), draw(st.integers(0, 32))
    hour, minute, second = draw(st.integers(0, 25)), draw(st.integers(0, 61)), draw(st.integers(0, 61))
    fraction = draw(st.sampled_from(["", "", ".", ","])) + draw(st.text("0123456789", max_size=9))
    separator = draw(st.sampled_from(["T", "T", "T", " ", "t", "_"]))
    offset = draw(
        st.sampled_from(["Z", "z", "+00:00", "-00:00", "+07:00", "+0700", "+07", "", "+07:00:00", "+24:00", " Z"])
        | st.builds("{}{:02d}:{:02d}".format, st.sampled_from("+-"), st.integers(0, 25), st.integers(0, 61))
    )
    width = draw(st.sampled_from([2, 2, 2, 1]))
    text = f"{year:04d}-{month:0{width}d}-{day:02d}{separator}{hour:02d}:{minute:02d}:{second:02d}{fraction}{offset}"
    return draw(st.sampled_from([text, text, text[:10], text[:16] + offset, f" {text}", f"{text}\n"]))


_offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda minutes: timezone(timedelta(minutes=minutes)))
_instants_as_written = st.datetimes(
    min_value=datetime(1899, 12, 25), max_value=datetime(3000, 1, 5), timezones=_offsets | st.just(UTC)
).flatmap(
    lambda at: st.sampled_from(
        [
            at.isoformat(),  # Python, with microseconds when it has them
            at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),  # JavaScript's toISOString
            at.isoformat(timespec="seconds"),
            TypeAdapter(datetime).dump_python(at, mode="json"),  # pydantic's own
        ]
    )
)
_instants = st.one_of(
    _instants_as_written,
    _instants_as_written,
    _odd_instants(),
    st.integers(-(2**40), 2**40),  # Unix time: pydantic reads it
    st.floats(allow_nan=True),
    st.integers(0, 2**40).map(str),
    st.dates(min_value=date(1890, 1, 1), max_value=date(3010, 1, 1)).map(date.isoformat),
    _texts(30),
)
_deadlines = st.one_of(
    st.dates(min_value=date(1890, 1, 1), max_value=date(3010, 1, 1)).map(date.isoformat),
    st.dates(min_value=date(1899, 12, 28), max_value=date(1900, 1, 4)).map(date.isoformat),
    st.dates(min_value=date(2999, 12, 27), max_value=date(3000, 1, 3)).map(date.isoformat),
    st.sampled_from(["2024-02-29", "2023-02-29", "2024-7-1", "20240701", "2024-W27-1", "2024-183", "٢٠٢٤-07-01"]),
    _instants,
)
_numbers = st.one_of(
    st.floats(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-1000, 1000),
    st.sampled_from([0, 0.0, -0.0, 2**53, 2**53 + 1, -(2**53) - 1, 2**64, 10**400, 1e308, 5e-324, True, False]),
    st.sampled_from(["0.5", "1", "nan", "inf", "", None, [1], {"v": 1}]),
)
_labels = st.one_of(
    st.dictionaries(st.sampled_from(["program", "directive", "owner"]), st.sampled_from(["de-an-06", "05", ""])),
    st.dictionaries(_strings(MAX_LABEL_NAME_CHARS), _texts(MAX_LABEL_VALUE_CHARS), max_size=3),
    _non_strings,
)
_statuses = st.sampled_from([*(s.value for s in TaskStatus), "IN_PROGRESS", " completed", "completed\n", "done", ""])
_extra_keys = st.sampled_from(["extra", "Event_id", " source", "unit", "time", "id", "value", "period", "task_id"])

TASK_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "event_id": _identifiers,
    "source": _identifiers,
    "unit_id": _identifiers,
    "occurred_at": _instants,
    "labels": _labels,
    "task_id": _identifiers,
    "kind": _identifiers,
    "status": _statuses,
    "deadline": _deadlines,
    "title": _texts(MAX_TITLE_CHARS),
}
INDICATOR_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "event_id": _identifiers,
    "source": _identifiers,
    "unit_id": _identifiers,
    "occurred_at": _instants,
    "labels": _labels,
    "indicator": _identifiers,
    "value": _numbers,
    "numerator": _numbers,
    "denominator": _numbers,
    "period": _texts(MAX_PERIOD_CHARS),
}
TYPICAL: dict[EventKind, dict[str, Any]] = {
    EventKind.TASK_STATUS: TASK,
    EventKind.INDICATOR: {
        "event_id": "i-1",
        "source": "nghean-dvc",
        "unit_id": "VN-40",
        "indicator": "online_dossier_ratio",
        "value": 0.458,
        "period": "2024-H1",
        "occurred_at": "2024-07-03T02:00:00Z",
    },
}


_valid_identifiers = st.one_of(
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,24}", fullmatch=True),
    st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=30).filter(lambda s: s.strip() == s),
)


def _valid_texts(limit: int) -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(st.characters(), max_size=30).filter(lambda s: s.strip() == s),  # no lone surrogate
        st.sampled_from(["Kế hoạch kiểm tra", "a\x00b", "a\tb", "", "x" * limit, "ệ" * limit]),
    )


_valid_labels = st.dictionaries(_valid_texts(MAX_LABEL_NAME_CHARS), _valid_texts(MAX_LABEL_VALUE_CHARS), max_size=3)
_valid_numbers = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**53), 2**53)
VALID: dict[EventKind, dict[str, st.SearchStrategy[Any]]] = {
    EventKind.TASK_STATUS: {
        "event_id": _valid_identifiers,
        "source": _valid_identifiers,
        "unit_id": _valid_identifiers,
        "occurred_at": _instants_as_written,
        "labels": _valid_labels,
        "task_id": _valid_identifiers,
        "kind": _valid_identifiers,
        "status": st.sampled_from([s.value for s in TaskStatus]),
        "deadline": st.none() | st.dates(date(1890, 1, 1), date(3010, 1, 1)).map(date.isoformat) | _instants_as_written,
        "title": st.none() | _valid_texts(MAX_TITLE_CHARS),
    },
    EventKind.INDICATOR: {
        "event_id": _valid_identifiers,
        "source": _valid_identifiers,
        "unit_id": _valid_identifiers,
        "occurred_at": _instants_as_written,
        "labels": _valid_labels,
        "indicator": _valid_identifiers,
        "value": st.one_of(_valid_numbers, _valid_numbers, _valid_numbers, st.none()),
        "numerator": st.none() | _valid_numbers,
        "denominator": st.none() | _valid_numbers,
        "period": st.none() | _valid_texts(MAX_PERIOD_CHARS),
    },
}
REQUIRED = {"event_id", "source", "unit_id", "occurred_at", "task_id", "status", "indicator"}


@st.composite
def perturbed(draw: st.DrawFn, kind: EventKind) -> dict[str, Any]:
    """A bare event of ``kind``: valid fields (optional ones maybe left out), then some perturbed.

    A third of the events keep every field valid, a third have one field perturbed (drawn from anything, null or
    left out), a third any number; one in ten gets a key the model does not have.
    """
    valid = VALID[kind]
    wild = TASK_FIELDS if kind is EventKind.TASK_STATUS else INDICATOR_FIELDS
    names = draw(st.permutations(list(valid)))
    data = {name: draw(valid[name]) for name in names if name in REQUIRED or draw(st.booleans())}
    mode = draw(st.sampled_from(["valid", "one", "any"]))
    if mode != "valid":
        chosen = [draw(st.sampled_from(names))] if mode == "one" else [n for n in names if draw(st.booleans())]
        for name in chosen:
            how = draw(st.sampled_from(["drawn", "drawn", "drawn", "null", "left out"]))
            if how == "drawn":
                data[name] = draw(wild[name])
            elif how == "null":
                data[name] = None
            else:
                data.pop(name, None)
    if draw(st.integers(0, 9)) == 0:
        data[draw(_extra_keys | st.text(max_size=4))] = draw(st.integers() | st.text(max_size=4) | st.none())
    return data


# --- the same outcome --------------------------------------------------------------------------------------


def pydantic_outcome(kind: EventKind, data: dict[str, Any]) -> TaskStatusEvent | IndicatorEvent | Rejection:
    """What the codec answered before the fast path: pydantic's event, or its reason."""
    try:
        return MODELS[kind].model_validate(copy.deepcopy(data))
    except ValidationError as exc:
        return Rejection(describe_validation_error(exc))


def _same_value(fast: object, slow: object) -> None:
    assert type(fast) is type(slow), (fast, slow)
    assert repr(fast) == repr(slow)
    if isinstance(slow, datetime):
        assert isinstance(fast, datetime)
        assert type(fast.tzinfo) is type(slow.tzinfo) is TzInfo
        assert fast.utcoffset() == slow.utcoffset() and fast.tzname() == slow.tzname()
        assert fast.replace(tzinfo=None) == slow.replace(tzinfo=None) and fast.fold == slow.fold
    if isinstance(slow, dict):
        assert isinstance(fast, dict)
        assert list(fast.items()) == list(slow.items())
        for name, value in slow.items():
            _same_value(next(k for k in fast if k == name), name)
            _same_value(fast[name], value)


def assert_same_event(fast: object, slow: object) -> None:
    """Nothing tells ``fast`` from ``slow`` but identity."""
    assert type(fast) is type(slow)
    assert isinstance(fast, TaskStatusEvent | IndicatorEvent) and isinstance(slow, TaskStatusEvent | IndicatorEvent)
    if not any(value != value for value in slow.__dict__.values()):  # a NaN numerator: no event equals another
        assert fast == slow
    assert list(fast.__dict__) == list(slow.__dict__)
    for name, value in slow.__dict__.items():
        _same_value(fast.__dict__[name], value)
    assert fast.model_fields_set == slow.model_fields_set and type(fast.model_fields_set) is set
    assert fast.__pydantic_extra__ is slow.__pydantic_extra__ is None
    assert fast.__pydantic_private__ == slow.__pydantic_private__
    assert type(fast.__pydantic_private__) is type(slow.__pydantic_private__)
    assert fast.unit_code == slow.unit_code
    assert repr(fast) == repr(slow)
    assert fast.model_dump_json(exclude_unset=True) == slow.model_dump_json(exclude_unset=True)
    assert fast.model_dump_json() == slow.model_dump_json()
    assert repr(fast.model_dump()) == repr(slow.model_dump())
    assert encode_event(fast) == encode_event(slow)
    moved_fast, moved_slow = fast.readdressed("VN-99"), slow.readdressed("VN-99")
    assert encode_event(moved_fast) == encode_event(moved_slow) and moved_fast.unit_code == moved_slow.unit_code
    assert fast.__pydantic_private__ == slow.__pydantic_private__  # readdressing changed neither
    for either in (fast, slow):  # frozen: neither can be changed
        with pytest.raises(ValidationError, match="frozen"):
            either.event_id = "other"
    assert _hash_outcome(fast) == _hash_outcome(slow)


def _hash_outcome(event: object) -> object:
    try:
        return hash(event)
    except TypeError as exc:  # frozen, but its labels are a dict
        return str(exc)


def check(kind: EventKind, data: dict[str, Any]) -> None:
    """The fast path, the codec and the codec reading JSON all give pydantic's outcome for ``data``."""
    expected = pydantic_outcome(kind, data)
    before = copy.deepcopy(data)
    fast = fast_event(kind, data)
    assert data == before or data != data  # nothing changed (NaN is not equal to itself)
    if currently_in_test_context():  # hypothesis counts each (--hypothesis-show-statistics)
        event("fast path" if fast is not None else "pydantic")
    if fast is not None:
        assert not isinstance(expected, Rejection), f"the fast path accepted what pydantic refuses: {expected}"
        assert_same_event(fast, expected)
        if fast.labels:
            assert fast.labels is not data["labels"]  # a copy, as validation makes
    got = decode_object(data, kind)
    if isinstance(expected, Rejection):
        assert got == expected
    else:
        assert_same_event(got, expected)
    try:
        value = json.dumps([data]).encode()
    except (TypeError, ValueError):
        return
    decoded = decode_record(value, default_kind=kind)
    if isinstance(expected, Rejection):
        assert decoded.events == () and decoded.rejections == (Rejection(expected.reason, 0),)
    else:
        assert decoded.rejections == ()
        (only,) = decoded.events
        assert_same_event(only, expected)


# --- the property tests ------------------------------------------------------------------------------------


def test_the_fast_path_is_on() -> None:
    assert ENABLED


@settings(max_examples=EXAMPLES, deadline=None)
@given(perturbed(EventKind.TASK_STATUS))
def test_a_task_status_event_gets_pydantics_outcome(data: dict[str, Any]) -> None:
    check(EventKind.TASK_STATUS, data)


@settings(max_examples=EXAMPLES, deadline=None)
@given(perturbed(EventKind.INDICATOR))
def test_an_indicator_event_gets_pydantics_outcome(data: dict[str, Any]) -> None:
    check(EventKind.INDICATOR, data)


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    st.sampled_from(["occurred_at", "deadline"]),
    st.one_of(_instants_as_written, _odd_instants(), _deadlines),
)
def test_a_timestamp_is_read_as_pydantic_reads_it(field: str, text: str) -> None:
    check(EventKind.TASK_STATUS, {**TYPICAL[EventKind.TASK_STATUS], field: text})


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    st.sampled_from(["value", "numerator", "denominator"]),
    _numbers,
    st.sampled_from([{}, {"value": None}, {"numerator": 1, "denominator": 3}, {"value": 2, "numerator": 0}]),
)
def test_an_indicator_number_is_read_as_pydantic_reads_it(field: str, number: object, others: dict[str, Any]) -> None:
    check(EventKind.INDICATOR, {**TYPICAL[EventKind.INDICATOR], **others, field: number})


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    st.sampled_from(["event_id", "source", "unit_id", "task_id", "kind", "title", "labels", "status"]),
    st.one_of(_texts(MAX_IDENTIFIER_CHARS), _texts(MAX_TITLE_CHARS), _labels, _statuses, _identifiers),
)
def test_a_text_is_read_as_pydantic_reads_it(field: str, text: object) -> None:
    check(EventKind.TASK_STATUS, {**TYPICAL[EventKind.TASK_STATUS], field: text})


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("event_id", MAX_IDENTIFIER_CHARS),
        ("title", MAX_TITLE_CHARS),
        ("labels.name", MAX_LABEL_NAME_CHARS),
        ("labels.value", MAX_LABEL_VALUE_CHARS),
        ("period", MAX_PERIOD_CHARS),
    ],
)
@pytest.mark.parametrize("fill", ["a", "ệ", "🙂"])
def test_texts_at_their_limits(field: str, limit: int, fill: str) -> None:
    kind = EventKind.INDICATOR if field == "period" else EventKind.TASK_STATUS
    for size in (limit - 1, limit, limit + 1):
        text = fill * size
        value: object = {text: "x"} if field == "labels.name" else {"x": text} if field == "labels.value" else text
        data = {**TYPICAL[kind], field.split(".")[0]: value}
        check(kind, data)
        assert (fast_event(kind, data) is not None) == (size <= limit)


@pytest.mark.parametrize(
    ("text", "taken"),
    [
        ("2024-07-01T10:00:00Z", True),
        ("2024-07-01T10:00:00+07:00", True),
        ("2024-07-01T10:00:00-00:00", True),
        ("2024-07-01T10:00:00-23:59", True),
        ("2024-07-01T10:00:00.5Z", True),
        ("2024-07-01T10:00:00.123+00:00", True),
        ("2024-07-01T10:00:00.123456-03:30", True),
        ("2024-07-01T00:00:00+07:00", True),  # midnight: a date would also read it, but the instant comes first
        ("2024-07-01", True),  # an instant it is not (no offset): a deadline's date; an occurred_at refused
        ("2024-02-29", True),
        ("2024-07-01T10:00:00.1234567Z", False),  # pydantic truncates to microseconds
        ("2024-07-01 10:00:00Z", False),
        ("2024-07-01t10:00:00Z", False),
        ("2024-07-01T10:00:00z", False),
        ("2024-07-01T10:00:00+0700", False),
        ("2024-07-01T10:00:00,5Z", False),
        ("2024-07-01T10:00Z", False),
        ("2024-07-01T00:00:00", False),  # naive: no instant, but a deadline's date
        ("1720000000", False),  # Unix time
        ("1900-01-02T12:00:00+00:00", False),  # within a day of the bounds: compared by pydantic-core
        ("2999-12-31T23:00:00-00:30", False),
        ("2023-02-29", False),
        ("2024-02-30T10:00:00Z", False),
        ("2024-07-01T24:00:00Z", False),
        ("2024-07-01T23:59:60Z", False),
        ("2024-07-01T10:00:00+24:00", False),
        (" 2024-07-01T10:00:00Z", False),
        ("٢٠٢٤-07-01T10:00:00Z", False),
    ],
)
@pytest.mark.parametrize("field", ["occurred_at", "deadline"])
def test_timestamps_pydantic_reads_its_own_way_are_left_to_it(text: str, taken: bool, field: str) -> None:
    data = {**TYPICAL[EventKind.TASK_STATUS], field: text}
    check(EventKind.TASK_STATUS, data)
    is_date = len(text) == 10
    assert (fast_event(EventKind.TASK_STATUS, data) is not None) == (taken and not (is_date and field == "occurred_at"))


# --- the fast path is taken, and written for these models --------------------------------------------------


def _usual_events() -> list[tuple[EventKind, dict[str, Any]]]:
    now = datetime(2026, 12, 5, 8, 30, 15, 123456, tzinfo=UTC)
    _, dossiers = next(dossier_records(3, now, units=["VN-01"]))
    written = TaskStatusEvent(  # as the engine benchmark and every forwarded event are encoded
        event_id="e-1",
        source="bench",
        unit_id="VN-01",
        task_id="T-1",
        kind="dossier",
        status=TaskStatus.COMPLETED,
        deadline=now,
        occurred_at=now,
        title="Nhiệm vụ 1",
        labels={"chương trình": "đề án 06"},
    )
    return [
        *((EventKind.TASK_STATUS, item) for item in json.loads(dossiers)),
        *((EventKind.TASK_STATUS, item) for item in json.loads(encode_batch([written]))),
        *TYPICAL.items(),
        (EventKind.INDICATOR, {**TYPICAL[EventKind.INDICATOR], "value": None, "numerator": 3, "denominator": 8}),
        (EventKind.TASK_STATUS, {**TYPICAL[EventKind.TASK_STATUS], "deadline": None, "title": None, "labels": {}}),
    ]


@pytest.mark.parametrize(("kind", "data"), _usual_events())
def test_the_usual_provider_event_takes_the_fast_path(kind: EventKind, data: dict[str, Any]) -> None:
    assert fast_event(kind, data) is not None
    check(kind, data)


def test_the_codec_decodes_a_provider_batch_without_pydantic(monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime(2026, 12, 5, 8, 30, 15, 123456, tzinfo=UTC)
    _, record = next(dossier_records(500, now, units=["VN-01"]))
    expected = decode_record(record, default_kind=EventKind.TASK_STATUS).events

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("pydantic validated a usual event")

    monkeypatch.setattr(TaskStatusEvent, "model_validate", refuse)
    decoded = decode_record(record, default_kind=EventKind.TASK_STATUS)
    assert len(decoded.events) == 500 and decoded.events == expected
    first, second = decoded.events[:2]
    # Each event has its own fields set, private state and labels, as validation gives it.
    assert first.__pydantic_private__ is not second.__pydantic_private__
    assert first.model_fields_set is not second.model_fields_set
    assert first.labels is not second.labels


def test_pydantic_trims_no_character_the_fast_path_leaves() -> None:
    """Every character pydantic-core trims is one ``str.strip`` trims (the fast path leaves anything it trims)."""
    characters = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
    trimmed = TypeAdapter(list[str], config={"str_strip_whitespace": True}).validate_python(
        [f"a{c}" for c in characters]
    )
    assert [c for c, text in zip(characters, trimmed, strict=True) if text == "a" and c.strip()] == []


def _fingerprint() -> str:
    def bare(schema: object) -> object:
        if isinstance(schema, dict):
            return {k: bare(v) for k, v in schema.items() if k not in ("description", "title")}
        if isinstance(schema, list):
            return [bare(v) for v in schema]
        return schema

    parts = []
    for model in (TaskStatusEvent, IndicatorEvent):
        parts.append(json.dumps(bare(model.model_json_schema()), sort_keys=True))
        parts.append(repr(sorted(model.model_config.items())))
        parts.append(repr({name: (p.default, p.default_factory) for name, p in model.__private_attributes__.items()}))
        parts.extend(inspect.getsource(v.func) for v in model.__pydantic_decorators__.model_validators.values())
    parts.extend(
        inspect.getsource(getattr(m, "func", m))
        for m in TaskStatusEvent.model_fields["deadline"].metadata
        if hasattr(m, "func")
    )
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def test_the_fast_path_was_written_for_this_pydantic_core() -> None:
    """Its reading of timestamps, trimming and strict floats is pydantic-core's, as of this version (the lock's).

    After an upgrade: read pydantic-core's changes to datetime and date parsing, ``str_strip_whitespace``, string
    constraints and strict floats against events/fastpath.py, run this module with FASTPATH_EXAMPLES=50000, then
    put the new version here.
    """
    assert pydantic_core.__version__ == "2.50.5"


def test_the_fast_path_was_written_for_these_models() -> None:
    """A change to the models' fields, limits, patterns, defaults, config or validators fails this test.

    events/fastpath.py checks what the models check: review it against the change (and extend these tests to
    what changed), then put the new fingerprint here.
    """
    assert _fingerprint() == "11b5c0a6efbc32eb"
