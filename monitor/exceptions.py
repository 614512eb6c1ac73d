"""Errors raised by the monitor's I/O edge."""

from __future__ import annotations

__all__ = ["BrokerError", "BrokerUnreachable", "Fenced", "MonitorError", "StoreUnavailable"]


class MonitorError(Exception):
    """Root of every error the ``monitor`` package raises."""


class BrokerError(MonitorError):
    """The embedded broker could not be found, started or reached."""


class BrokerUnreachable(MonitorError):
    """The Kafka cluster the settings name did not answer (the command exits with status 3)."""


class StoreUnavailable(MonitorError):
    """State could not be made durable (changelog not acknowledged, local store failing): an outage, not bad input."""


class Fenced(MonitorError):
    """The worker lost its group membership: it must not write or publish until partitions are assigned again."""
