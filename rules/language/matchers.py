"""Selection matchers over a subject's fields and labels: ``=``, ``!=``, ``=~``, ``in``.

In YAML a plain value means equality; a one-key mapping names the operator::

    select:
      kind: inspection_plan
      unit_id: {"!=": VN-HN}
      program: {"=~": "de-an-.*"}   # RE2 syntax, whole value
      directive: {in: ["05", "06"]}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, PlainSerializer, PlainValidator, WithJsonSchema

from rules.language.patterns import Pattern, compile_pattern

__all__ = ["Matcher", "Selector", "selects"]

Op = Literal["=", "!=", "=~", "in"]


@dataclass(frozen=True, slots=True)
class Matcher:
    """One test of one field or label."""

    op: Op
    value: str | tuple[str, ...]
    pattern: Pattern | None = None

    def matches(self, have: str | None) -> bool:
        """Whether a subject's value passes; a missing value only passes ``!=``."""
        if self.op == "!=":
            return have != self.value
        if have is None:
            return False
        if self.op == "=":
            return have == self.value
        if self.op == "in":
            return have in self.value
        assert self.pattern is not None
        return self.pattern.fullmatch(have)

    def dump(self) -> Any:
        """The YAML form."""
        if self.op == "=":
            return self.value
        return {self.op: list(self.value) if isinstance(self.value, tuple) else self.value}


def _matcher(raw: Any) -> Matcher:
    if isinstance(raw, Matcher):
        return raw
    if isinstance(raw, str | int | float | bool):
        return Matcher("=", str(raw))
    if isinstance(raw, dict) and len(raw) == 1:
        ((op, value),) = raw.items()
        if op == "in":
            if not isinstance(value, list) or not value:
                raise ValueError("'in' takes a non-empty list of values")
            return Matcher("in", tuple(str(v) for v in value))
        if op in ("=", "!="):
            return Matcher(op, str(value))
        if op == "=~":
            return Matcher("=~", str(value), compile_pattern(str(value)))  # ValueError: a located load error
    raise ValueError('a matcher is a value, or one of {"=": v}, {"!=": v}, {"=~": regex}, {in: [v, ...]}')


def _selector(raw: Any) -> Any:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError("select is a mapping of field or label name to matcher")
    return {str(name): value for name, value in raw.items()}  # each matcher is validated on its own: errors name it


_MATCHER_SCHEMA = {
    "oneOf": [
        {"type": ["string", "number", "boolean"], "description": "equals"},
        {"type": "object", "properties": {"=": {"type": "string"}}, "required": ["="], "additionalProperties": False},
        {"type": "object", "properties": {"!=": {"type": "string"}}, "required": ["!="], "additionalProperties": False},
        {"type": "object", "properties": {"=~": {"type": "string"}}, "required": ["=~"], "additionalProperties": False},
        {
            "type": "object",
            "properties": {"in": {"type": "array", "items": {"type": "string"}, "minItems": 1}},
            "required": ["in"],
            "additionalProperties": False,
        },
    ]
}

Selector = Annotated[
    dict[str, Annotated[Matcher, PlainValidator(_matcher)]],
    BeforeValidator(_selector),
    PlainSerializer(lambda s: {k: m.dump() for k, m in s.items()}, return_type=dict),
    WithJsonSchema({"type": "object", "additionalProperties": _MATCHER_SCHEMA}),
]


def selects(selector: Mapping[str, Matcher], fields: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """Whether every matcher passes on the subject's field (or, failing that, label) of that name."""
    for name, matcher in selector.items():
        have = fields.get(name)
        if have is None:
            have = labels.get(name)
        if not matcher.matches(have):
            return False
    return True
