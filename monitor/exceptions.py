"""Errors raised by the monitor's I/O edge."""

from __future__ import annotations

__all__ = ["BrokerError", "MonitorError"]


class MonitorError(Exception):
    """Root of every error the ``monitor`` package raises."""


class BrokerError(MonitorError):
    """The embedded broker could not be found, started or reached."""
