"""The installed version of the monitor."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["VERSION"]

try:
    VERSION = version("compliance-monitor")
except PackageNotFoundError:  # running from a source tree
    VERSION = "0.0.0+source"
