"""What a view returns: an ``Answer`` (status, body, type, headers), JSON answers, refusals, pages of a list."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from monitor.http.cluster import RETRY_AFTER_SECONDS

M = TypeVar("M", bound=BaseModel)

__all__ = [
    "JSON",
    "PAGE_DEFAULT",
    "PAGE_MAX",
    "Answer",
    "json_answer",
    "one_page",
    "page_of",
    "page_window",
    "parsed_body",
    "query_param",
    "unavailable",
    "unknown_value",
]

JSON = "application/json; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Answer:
    """What to send back."""

    status: int
    body: bytes
    content_type: str = JSON
    headers: Mapping[str, str] = field(default_factory=dict)


def json_answer(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Answer:
    """JSON with Vietnamese text as UTF-8 rather than escaped."""
    return Answer(status, json.dumps(body, ensure_ascii=False).encode("utf-8"), JSON, headers or {})


def query_param(query: Mapping[str, str], name: str) -> str | None:
    """The query parameter ``name``; ``None`` when it is missing or empty."""
    return query.get(name) or None


def unknown_value(parameter: str, value: str, allowed: Iterable[str]) -> Answer:
    """A 400 for a filter value nothing can have: the message names the allowed ones, as do the fields beside it."""
    allowed = list(allowed)
    return json_answer(
        {
            "error": f"unknown {parameter} '{value}': one of {', '.join(allowed)}",
            "parameter": parameter,
            "value": value,
            "allowed": allowed,
        },
        status=400,
    )


#: Items per page of a list answer by default, and at most (``?limit=``).
PAGE_DEFAULT, PAGE_MAX = 500, 5000


def page_window(query: Mapping[str, str], default: int = PAGE_DEFAULT) -> tuple[int, int] | Answer:
    """The ``limit`` and ``offset`` a list request asks for, or a 400 saying what is wrong with them."""
    try:
        limit = int(query.get("limit") or default)
        offset = int(query.get("offset") or 0)
    except ValueError:
        return json_answer({"error": "limit and offset must be whole numbers"}, status=400)
    if not 1 <= limit <= PAGE_MAX or offset < 0:
        return json_answer({"error": f"limit must be 1 to {PAGE_MAX} and offset 0 or more"}, status=400)
    return limit, offset


def page_of(items: list[Any], count: int, limit: int, offset: int, key: str) -> dict[str, Any]:
    """A page answer: ``items`` (the page) under ``key``, with the total ``count`` and where the next page starts."""
    following = offset + limit
    return {
        "count": count,
        "offset": offset,
        "limit": limit,
        "next_offset": following if following < count else None,
        key: items,
    }


def one_page(query: Mapping[str, str], items: list[Any], key: str) -> dict[str, Any] | Answer:
    """One page of ``items`` under ``key``, with the total and where the next page starts; a 400 for a bad page."""
    window = page_window(query)
    if isinstance(window, Answer):
        return window
    limit, offset = window
    return page_of(items[offset : offset + limit], len(items), limit, offset, key)


def parsed_body(model: type[M], body: bytes, limit: int, what: str, **extra: Any) -> M | Answer:
    """A request's JSON body as ``model``, or the 413 (over ``limit`` bytes) or the 400 naming the first mistake.

    ``what`` names the body in the 413 ("an action"); ``extra`` goes into the 400 (what was expected).
    """
    if len(body) > limit:
        return json_answer({"error": f"{what} is at most {limit:,} bytes"}, status=413)
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"])) or "(body)"
        message = first["msg"].removeprefix("Value error, ")
        return json_answer({"error": f"{where}: {message}", **extra}, status=400)


def unavailable(reason: str) -> Answer:
    """A 503 that says why and when to ask again: the workers are moving partitions between them."""
    return json_answer({"error": reason}, status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
