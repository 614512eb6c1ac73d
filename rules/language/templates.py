"""Message templates: ``{field}`` placeholders over a fixed set of fields.

A template can never run code: only bare names from ``TEMPLATE_FIELDS`` are
allowed (no attribute access, indexing or format specs), checked at load.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Annotated

from pydantic import AfterValidator

__all__ = ["TEMPLATE_FIELDS", "Template", "check_template", "render"]

TEMPLATE_FIELDS = frozenset(
    {
        "unit_id",
        "unit_name",
        "task_id",
        "task_title",
        "kind",
        "status",
        "due",
        "days_overdue",
        "indicator",
        "value",
        "target",
        "rule_id",
        "severity",
        "stage",
        "last_report",
        "max_age",
    }
)
_FORMATTER = string.Formatter()


def check_template(text: str) -> str:
    """Return ``text`` if every placeholder is an allowed bare field name.

    Raises:
        ValueError: a placeholder is unknown or uses formatting features.

    """
    try:
        parsed = list(_FORMATTER.parse(text))
    except ValueError as exc:
        raise ValueError(f"template is malformed ({exc}); write fields as {{unit_name}}, braces as {{{{ }}}}") from exc
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in TEMPLATE_FIELDS or spec or conversion:
            allowed = ", ".join(sorted(TEMPLATE_FIELDS))
            raise ValueError(f"template field '{{{name}}}' is not allowed; use one of: {allowed}")
    return text


def render(text: str, fields: Mapping[str, str]) -> str:
    """Fill a checked template; fields without a value render as empty text."""
    out = []
    for literal, name, _spec, _conversion in _FORMATTER.parse(text):
        out.append(literal)
        if name is not None:
            out.append(fields.get(name, ""))
    return "".join(out)


Template = Annotated[str, AfterValidator(check_template)]
