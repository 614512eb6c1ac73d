"""The common bare event, checked in plain Python and built without pydantic's validation; anything else is left to it.

``model_validate`` (and the private attribute it initialises) is half the cost
of decoding a record. Most events are alike: plain JSON strings and numbers, an
ISO-8601 instant with an offset, an ISO date. ``fast_event`` checks such an
event for everything the model checks and, when it is certain pydantic would
accept it, builds the very object pydantic would: the same field values of the
same types (``TzInfo`` offsets, ``float`` numbers, ``TaskStatus`` members, a
copy of the labels), the fields in the same order, the same
``model_fields_set`` (``encode_event`` dumps with ``exclude_unset``) and the
same private state. Whenever it is not certain it answers ``None`` and the
caller validates with pydantic, so every refusal and its reason come from
pydantic unchanged. Left to pydantic, each for a reason:

- a key the model does not have, a required field missing (a refusal to word);
- a value of any other JSON type than the field's (``null`` for a required
  field, a number as a string, a string as a number, a boolean);
- text with whitespace at either end (pydantic trims it, its own way), a lone
  surrogate, an identifier with a control character, text beyond its limit;
- a timestamp in any form but ``YYYY-MM-DDTHH:MM:SS[.ffffff](Z|±HH:MM)`` and a
  date in any form but ``YYYY-MM-DD``: pydantic also reads a space or ``t``
  for ``T``, ``z``, ``±HHMM``, a comma, more than six fraction digits
  (truncated) and numbers as Unix time, each its own way; an instant within two
  days of 1900 or 3000 (its bounds are compared in pydantic-core);
- a number that is not finite, an integer beyond 2**53 (its conversion), an
  indicator whose value is to be derived but cannot be (no denominator, 0).

Parsed instants and dates are kept per text (a record's events often share
them): equal events share the same immutable ``datetime``, where pydantic
makes one per event. ``tests/events/test_fastpath.py`` holds the fast path to
pydantic's outcome, property by property, and pins the models and the
pydantic-core it was written for: a change to a model's fields, limits or
validators, or another pydantic-core, fails it until this module is checked
against the change.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from math import isfinite
from operator import itemgetter
from typing import Any, Final, TypeVar

from pydantic import BaseModel
from pydantic_core import TzInfo

from events.models import (
    MAX_LABEL_NAME_CHARS,
    MAX_LABEL_VALUE_CHARS,
    MAX_PERIOD_CHARS,
    MAX_TITLE_CHARS,
    EventKind,
    IndicatorEvent,
    TaskStatus,
    TaskStatusEvent,
)
from events.text import CONTROL_CHARACTERS, MAX_IDENTIFIER_CHARS, SURROGATES

__all__ = ["ENABLED", "fast_event"]

#: The fields each model has, in its order (the order of ``__dict__``, which ``model_dump_json`` follows).
_BASE_FIELDS = ("event_id", "source", "unit_id", "occurred_at", "labels")
_TASK_FIELDS: Final = (*_BASE_FIELDS, "task_id", "kind", "status", "deadline", "title")
_INDICATOR_FIELDS: Final = (*_BASE_FIELDS, "indicator", "value", "numerator", "denominator", "period")
_TASK_KEYS = frozenset(_TASK_FIELDS)
_INDICATOR_KEYS = frozenset(_INDICATOR_FIELDS)

# A non-ASCII identifier: no control character, no lone surrogate, 1 to MAX_IDENTIFIER_CHARS characters, no
# whitespace at either end (``\s`` is ``str.isspace``, as ``str.strip`` trims: every character pydantic trims, and
# the four separators U+001C-U+001F).
_IDENTIFIER = re.compile(f"(?!\\s)[^{CONTROL_CHARACTERS}{SURROGATES}]{{1,{MAX_IDENTIFIER_CHARS}}}(?<!\\s)").fullmatch
_SURROGATE = re.compile(f"[{SURROGATES}]").search
_INSTANT = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?"
    r"(Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
).fullmatch
_DATE = re.compile("[0-9]{4}-[0-9]{2}-[0-9]{2}").fullmatch
# Instants on wall-clock dates in this span lie between EARLIEST and LATEST whatever their offset (under 24 h).
_FIRST_SAFE_DAY = "1900-01-03"
_LAST_SAFE_DAY = "2999-12-29"
# Dates a deadline may be (``_deadline_in_range``), compared as text: ISO dates sort as their days do.
_FIRST_DAY = "1900-01-01"
_END_DAY = "3000-01-01"
_EXACT_INTEGER = 2**53
_STATUSES = {status.value: status for status in TaskStatus}
_CACHED = 4096  # parsed instants and dates kept, each (a few hundred kB at most)
_instants: dict[str, datetime] = {}
_dates: dict[str, date] = {}
_offsets: dict[str, TzInfo] = {}
_BAD: Final = object()
_task_required = itemgetter("event_id", "source", "unit_id", "occurred_at", "task_id", "status")
_indicator_required = itemgetter("event_id", "source", "unit_id", "occurred_at", "indicator")
_new = object.__new__
_Event = TypeVar("_Event", TaskStatusEvent, IndicatorEvent)
# BaseModel's slots, set as validation sets them (their descriptors, a little quicker than object.__setattr__).
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def _private_state(model: type[TaskStatusEvent | IndicatorEvent]) -> dict[str, Any] | None:
    """The private state validation leaves (each attribute's default), or ``None`` if this module cannot copy it."""
    state: dict[str, Any] = {}
    for name, attribute in model.__private_attributes__.items():
        if attribute.default_factory is not None or not isinstance(attribute.default, str | int | None):
            return None
        state[name] = attribute.default
    return state or None  # no private attribute: validation leaves None, not {}


_TASK_PRIVATE = _private_state(TaskStatusEvent) or {}
_INDICATOR_PRIVATE = _private_state(IndicatorEvent) or {}
#: Off if the models are not those this module was written for (its tests fail first).
ENABLED: Final = (
    tuple(TaskStatusEvent.model_fields) == _TASK_FIELDS
    and tuple(IndicatorEvent.model_fields) == _INDICATOR_FIELDS
    and _private_state(TaskStatusEvent) is not None
    and _private_state(IndicatorEvent) is not None
)


def fast_event(kind: EventKind, data: dict[str, Any]) -> TaskStatusEvent | IndicatorEvent | None:
    """The event pydantic would make of ``data``, when it is certain to accept it; else ``None`` (validate it).

    Args:
        kind: The kind of event ``data`` is validated as.
        data: A bare event, as parsed from JSON.
    """
    if not ENABLED or type(data) is not dict:
        return None
    if kind is EventKind.TASK_STATUS:
        return _task(data)
    if kind is EventKind.INDICATOR:
        return _indicator(data)
    return None


def _task(data: dict[str, Any]) -> TaskStatusEvent | None:
    given = set(data)
    if not given <= _TASK_KEYS:
        return None
    try:
        event_id, source, unit_id, occurred_at, task_id, status = _task_required(data)
    except KeyError:
        return None
    get = data.get
    kind = get("kind", "task")
    if not (
        type(event_id) is type(source) is type(unit_id) is type(task_id) is type(kind) is str
        and _are_identifiers((event_id, source, unit_id, task_id, kind))
    ):
        return None
    if type(status) is not str or (status := _STATUSES.get(status)) is None:
        return None
    occurred_at = _instant(occurred_at)
    deadline = _deadline(get("deadline"))
    title = get("title")
    labels = _labels(data["labels"]) if "labels" in given else {}
    if (
        occurred_at is None
        or deadline is _BAD
        or labels is None
        or not (title is None or _is_text(title, MAX_TITLE_CHARS))
    ):
        return None
    return _built(
        TaskStatusEvent,
        {
            "event_id": event_id,
            "source": source,
            "unit_id": unit_id,
            "occurred_at": occurred_at,
            "labels": labels,
            "task_id": task_id,
            "kind": kind,
            "status": status,
            "deadline": deadline,
            "title": title,
        },
        given,
        _TASK_PRIVATE,
    )


def _indicator(data: dict[str, Any]) -> IndicatorEvent | None:
    given = set(data)
    if not given <= _INDICATOR_KEYS:
        return None
    try:
        event_id, source, unit_id, occurred_at, indicator = _indicator_required(data)
    except KeyError:
        return None
    if not (
        type(event_id) is type(source) is type(unit_id) is type(indicator) is str
        and _are_identifiers((event_id, source, unit_id, indicator))
    ):
        return None
    get = data.get
    value, numerator, denominator = get("value"), get("numerator"), get("denominator")
    if not (type(value) is float and numerator is None and denominator is None and isfinite(value)):  # the usual
        numbers = _numbers(value, numerator, denominator)
        if numbers is None:
            return None
        value, numerator, denominator = numbers
    occurred_at = _instant(occurred_at)
    period = get("period")
    labels = _labels(data["labels"]) if "labels" in given else {}
    if occurred_at is None or labels is None or not (period is None or _is_text(period, MAX_PERIOD_CHARS)):
        return None
    return _built(
        IndicatorEvent,
        {
            "event_id": event_id,
            "source": source,
            "unit_id": unit_id,
            "occurred_at": occurred_at,
            "labels": labels,
            "indicator": indicator,
            "value": value,
            "numerator": numerator,
            "denominator": denominator,
            "period": period,
        },
        given,
        _INDICATOR_PRIVATE,
    )


def _built(model: type[_Event], values: dict[str, Any], given: set[str], private: dict[str, Any]) -> _Event:
    """A ``model`` holding ``values`` (every field, in its order) as validation leaves it: given fields, private state."""
    event = _new(model)
    _set_dict(event, values)
    _set_fields_set(event, given)
    _set_extra(event, None)
    _set_private(event, private.copy())
    return event


def _are_identifiers(texts: tuple[str, ...]) -> bool:
    """Each 1 to MAX_IDENTIFIER_CHARS characters, none a control character, no whitespace to trim."""
    joined = " ".join(texts)
    if joined.isascii():
        # The ASCII controls are what isprintable refuses, and the space the only whitespace it lets by: a text
        # empty or with a space at either end makes two spaces in a row, or one at either end of the whole.
        return (
            joined.isprintable()
            and "  " not in joined
            and joined[0] != " "
            and joined[-1] != " "
            and (len(joined) <= MAX_IDENTIFIER_CHARS or all(len(text) <= MAX_IDENTIFIER_CHARS for text in texts))
        )
    return all(_IDENTIFIER(text) is not None for text in texts)


def _is_text(text: object, limit: int) -> bool:
    """A string of at most ``limit`` characters, no lone surrogate, no whitespace to trim (``str.strip`` trims more)."""
    return (
        type(text) is str
        and len(text) <= limit
        and text.strip() == text
        and (text.isascii() or _SURROGATE(text) is None)
    )


def _labels(labels: object) -> dict[str, str] | None:
    """A copy of the labels (validation makes a new dict); ``None`` if any needs pydantic."""
    if type(labels) is not dict:
        return None
    for name, value in labels.items():
        if not (
            type(name) is str
            and type(value) is str
            and len(name) <= MAX_LABEL_NAME_CHARS
            and len(value) <= MAX_LABEL_VALUE_CHARS
            and name.strip() == name
            and value.strip() == value
            and (name.isascii() or _SURROGATE(name) is None)
            and (value.isascii() or _SURROGATE(value) is None)
        ):
            return None
    return dict(labels)


def _numbers(value: object, numerator: object, denominator: object) -> tuple[float, float | None, float | None] | None:
    """The three numbers as validated, the value derived as the model's validator derives it; ``None`` for pydantic."""
    value, numerator, denominator = _number(value), _number(numerator), _number(denominator)
    if value is _BAD or numerator is _BAD or denominator is _BAD:
        return None
    if value is None:
        if numerator is None or denominator is None or denominator == 0:
            return None
        value = numerator / denominator  # type: ignore[operator]
        if not isfinite(value):  # type: ignore[arg-type]
            return None
    return value, numerator, denominator  # type: ignore[return-value]


def _number(value: object) -> object:
    """A strict float as validated: a finite float as it is, an integer as its float; ``_BAD`` for pydantic."""
    if value is None:
        return None
    if type(value) is float:
        return value if isfinite(value) else _BAD
    if type(value) is int and -_EXACT_INTEGER <= value <= _EXACT_INTEGER:
        return float(value)
    return _BAD


def _instant(text: object) -> datetime | None:
    """``YYYY-MM-DDTHH:MM:SS[.ffffff](Z|±HH:MM)`` as pydantic reads it, safely inside the bounds; else ``None``."""
    if type(text) is not str:
        return None
    known = _instants.get(text)
    if known is not None:
        return known
    found = _INSTANT(text)
    if found is None or not _FIRST_SAFE_DAY <= text[:10] <= _LAST_SAFE_DAY:
        return None
    year, month, day, hour, minute, second, fraction, offset = found.groups()
    tz = _offsets.get(offset)
    if tz is None:
        seconds = 0 if offset == "Z" else int(offset[1:3]) * 3600 + int(offset[4:6]) * 60
        tz = _offsets[offset] = TzInfo(-seconds if offset[0] == "-" else seconds)
    microsecond = int(fraction.ljust(6, "0")) if fraction else 0
    try:
        parsed = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), microsecond, tz)
    except ValueError:  # no such day or time: pydantic says so
        return None
    if len(_instants) >= _CACHED:
        _instants.clear()
    _instants[text] = parsed
    return parsed


def _deadline(value: object) -> datetime | date | object | None:
    """A deadline as validated (``None`` for null or left out), or ``_BAD`` when pydantic must read it."""
    if value is None:
        return None
    if type(value) is not str:
        return _BAD
    if len(value) != 10:
        return _instant(value) or _BAD
    known = _dates.get(value)
    if known is not None:
        return known
    if _DATE(value) is None or not _FIRST_DAY <= value < _END_DAY:
        return _BAD
    try:
        parsed = date(int(value[:4]), int(value[5:7]), int(value[8:]))
    except ValueError:
        return _BAD
    if len(_dates) >= _CACHED:
        _dates.clear()
    _dates[value] = parsed
    return parsed
