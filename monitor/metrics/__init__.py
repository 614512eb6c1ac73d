"""Prometheus metrics, declared in one package, each taking a ``CollectorRegistry``.

``instruments``: what the worker updates as it works (``Metrics``, ``DeliveryMetrics``);
``collectors``: the gauges read from state at scrape time (``StateCollector``, ``OperatorCollector``,
``MemoryCollector``).
"""

from monitor.metrics.collectors import (
    OTHER_KINDS,
    OTHER_UNITS,
    ConsumerLag,
    MemoryCollector,
    OperatorCollector,
    RecoverySnapshot,
    StateCollector,
    state_families,
)
from monitor.metrics.instruments import UNREGISTERED, DeliveryMetrics, Metrics, observe_all

__all__ = [
    "OTHER_KINDS",
    "OTHER_UNITS",
    "UNREGISTERED",
    "ConsumerLag",
    "DeliveryMetrics",
    "MemoryCollector",
    "Metrics",
    "OperatorCollector",
    "RecoverySnapshot",
    "StateCollector",
    "observe_all",
    "state_families",
]
