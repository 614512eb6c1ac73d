"""Why a worker is not ready: one reason per cause (store, broker, membership), read by ``/readyz``."""

from __future__ import annotations

__all__ = ["Health"]


class Health:
    """The problems a worker has now, by cause; no problem means healthy."""

    def __init__(self) -> None:
        self._problems: dict[str, str] = {}

    def set_problem(self, cause: str, reason: str) -> bool:
        """Record (or update) the problem of ``cause``; return whether it is new."""
        new = cause not in self._problems
        self._problems[cause] = reason
        return new

    def clear_problem(self, cause: str) -> bool:
        """Forget the problem of ``cause``; return whether there was one."""
        return self._problems.pop(cause, None) is not None

    def problems(self) -> dict[str, str]:
        """Every problem now, by cause."""
        return dict(self._problems)
