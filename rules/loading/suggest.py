"""Messages for validation errors that name the known choices: "did you mean 'warn_before'?".

Pydantic says "Extra inputs are not permitted" for a misspelt key and lists
the rule kinds for an unknown ``kind``; an author wants the name they meant.
The known keys come from the models themselves, so they cannot drift.
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

__all__ = ["explain", "known_keys"]


def _unwrap(tp: Any) -> Any:
    """Strip ``Annotated`` and ``| None``."""
    while True:
        if get_origin(tp) is Annotated:
            tp = get_args(tp)[0]
            continue
        if get_origin(tp) in (Union, types.UnionType):
            members = [m for m in get_args(tp) if m is not type(None)]
            if len(members) == 1:
                tp = members[0]
                continue
        return tp


def _model_tagged(members: Sequence[Any], tag: str) -> Any:
    """The member of a discriminated union whose ``Literal`` field holds ``tag`` (pydantic puts it in locations)."""
    for member in members:
        if isinstance(member, type) and issubclass(member, BaseModel):
            for field in member.model_fields.values():
                if get_origin(field.annotation) is Literal and tag in get_args(field.annotation):
                    return member
    return None


def _step(tp: Any, part: int | str) -> Any:
    tp = _unwrap(tp)
    origin = get_origin(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(part, str):
        for name, field in tp.model_fields.items():
            if part in (name, field.alias):
                return field.annotation
        return None
    if origin is list and isinstance(part, int):
        return get_args(tp)[0]
    if origin is dict and isinstance(part, str):
        return get_args(tp)[1]
    if origin in (Union, types.UnionType) and isinstance(part, str):
        return _model_tagged(get_args(tp), part)
    return None


def known_keys(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """The keys the mapping at ``loc`` may hold (empty if ``loc`` leads to no model)."""
    tp: Any = model
    for part in loc:
        tp = _step(tp, part)
        if tp is None:
            return []
    tp = _unwrap(tp)
    if not (isinstance(tp, type) and issubclass(tp, BaseModel)):
        return []
    return [field.alias or name for name, field in tp.model_fields.items()]


def _did_you_mean(given: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(given, known, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    return "expected one of: " + ", ".join(f"'{k}'" for k in known)


def explain(model: type[BaseModel], error: ErrorDetails) -> str:
    """The message for one validation error, with the known names where the input named an unknown one."""
    message = error["msg"].removeprefix("Value error, ")
    ctx = error.get("ctx") or {}
    if error["type"] == "extra_forbidden" and error["loc"]:
        key = str(error["loc"][-1])
        known = known_keys(model, error["loc"][:-1])
        return f"unknown field '{key}'; {_did_you_mean(key, known)}" if known else f"unknown field '{key}'"
    if error["type"] == "union_tag_invalid":
        tags = re.findall(r"'([^']*)'", str(ctx.get("expected_tags", "")))
        given = str(ctx.get("tag", ""))
        discriminator = str(ctx.get("discriminator", "kind")).strip("'")
        return f"unknown {discriminator} '{given}'; {_did_you_mean(given, tags)}"
    if error["type"] == "literal_error":
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        close = difflib.get_close_matches(str(error["input"]), choices, n=1, cutoff=0.6)
        return f"{message}; did you mean '{close[0]}'?" if close else message
    return message
