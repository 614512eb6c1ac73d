"""Integration fixtures: a real embedded broker per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.devtools.broker import EmbeddedBroker


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    with (tmp_path / "broker.log").open("wb") as log, EmbeddedBroker(log=log) as running:
        yield running
