"""The worker: faust app, processor, takeover, ticks, outbox."""

from monitor.worker.worker import Worker

__all__ = ["Worker"]
