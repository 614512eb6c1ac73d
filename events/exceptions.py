"""Errors raised by the event contract."""

from __future__ import annotations

__all__ = ["EventError"]


class EventError(Exception):
    """Root of every error the ``events`` package raises."""
