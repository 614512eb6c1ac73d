"""Rule patterns (``{"=~": regex}``) on RE2: matching takes time linear in the input, whatever the pattern.

Python's ``re`` backtracks: ``(a+)+b`` against 38 ``a``s runs for minutes, in
``rules test`` and in the worker alike. RE2 refuses what it cannot match in
linear time (backreferences, lookaround), so such a pattern is a load error,
not a stall at run time. The ``re2`` module has no type stubs; this module is
its only user and gives the rest of the code a typed surface.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import re2

__all__ = ["MAX_MATCHED_CHARS", "MAX_PATTERN_CHARS", "Pattern", "compile_pattern"]

#: Longest pattern a rule may give: a rule pattern is a selector, not a grammar.
MAX_PATTERN_CHARS = 1000
#: Longest value a pattern is matched against; a longer one never matches (event fields are far shorter).
MAX_MATCHED_CHARS = 4096
#: Memory RE2 may use for one compiled pattern (its default is 8 MiB).
_MAX_PATTERN_MEMORY = 1 << 20


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # the error is reported once, as a rule-file problem; not also logged to stderr
    options.max_mem = _MAX_PATTERN_MEMORY
    return options


@dataclass(frozen=True, slots=True)
class Pattern:
    """A compiled rule pattern; equal to another with the same source."""

    source: str
    _compiled: Any = field(compare=False, repr=False)

    def fullmatch(self, text: str) -> bool:
        """Whether the whole of ``text`` matches (as ``re.fullmatch``); longer than ``MAX_MATCHED_CHARS``: no."""
        if len(text) > MAX_MATCHED_CHARS:
            return False
        return self._compiled.fullmatch(text) is not None

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return compile_pattern, (self.source,)


def compile_pattern(source: str) -> Pattern:
    """Compile a rule pattern with RE2.

    Raises:
        ValueError: the pattern is too long, or RE2 cannot compile it (invalid, a backreference or lookaround,
            or too large); the message says which and what to do.
    """
    if len(source) > MAX_PATTERN_CHARS:
        raise ValueError(f"the pattern is {len(source)} characters long; at most {MAX_PATTERN_CHARS} are allowed")
    try:
        compiled = re2.compile(source, options=_options())
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ValueError(
            f"'{source}' is not a pattern RE2 accepts ({reason}); rule patterns use RE2 syntax, which has no "
            "backreferences or lookaround so that matching stays linear in time"
        ) from None
    return Pattern(source, compiled)
