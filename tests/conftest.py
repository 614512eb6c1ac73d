"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn
from zoneinfo import ZoneInfo

import pytest

VN = ZoneInfo("Asia/Ho_Chi_Minh")
REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
#: Headless Chromium in a container, with nothing of its own on the network.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def vn(*args: int) -> datetime:
    """A Vietnamese wall-clock instant."""
    return datetime(*args, tzinfo=VN)  # type: ignore[misc]


def utc(*args: int) -> datetime:
    """A UTC instant."""
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def unavailable(message: str) -> NoReturn:
    """This machine lacks what the test needs: on CI the test fails (a missing install step), elsewhere it skips."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message + "; skipped outside CI only")


def require_tool(name: str) -> str:
    """Path of a command-line tool; on CI a missing tool fails the test instead of skipping it."""
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} is not installed (.ci/run installs it)")
    return path
