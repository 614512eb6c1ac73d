"""The faust app class with the monitor's own web front: no faust index, router or table pages.

Faust mounts a JSON index at ``/`` and pages that expose raw table contents;
the monitor serves its feed page at ``/`` and its own API instead.
"""

from __future__ import annotations

from typing import Any, ClassVar

import faust
from faust.web.drivers.aiohttp import Web as AiohttpWeb

__all__ = ["MonitorApp"]


class _MonitorWeb(AiohttpWeb):
    default_blueprints: ClassVar[list[Any]] = []
    production_blueprints: ClassVar[list[Any]] = []
    debug_blueprints: ClassVar[list[Any]] = []


class MonitorApp(faust.App):
    """A faust app whose web server carries only the monitor's routes."""

    def _new_web(self) -> Any:
        return _MonitorWeb(self)
