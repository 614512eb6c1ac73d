"""Silences: which alerts are not delivered, when, who said so and why.

A fixed window, or weekly in the rule pack's time zone. ``model`` and
``book`` do no I/O; the silences topic (``monitor.worker.silences``) carries
them to every worker, and Alertmanager is told of each window
(``monitor.delivery.silences``).
"""

from monitor.silences.book import SilenceBook
from monitor.silences.model import Silence, SilenceMatchers, SilenceRequest, Weekly, Window

__all__ = ["Silence", "SilenceBook", "SilenceMatchers", "SilenceRequest", "Weekly", "Window"]
