"""The loop watch: a loop held by a callback is logged with where it was held; collector passes are timed."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from monitor.metrics import stalls
from monitor.metrics.stalls import LoopWatch


def _hold_the_loop(seconds: float) -> None:
    time.sleep(seconds)  # what a callback doing seconds of work without awaiting does to every other task


async def _watched(watch: LoopWatch, body: float) -> None:
    task = asyncio.get_running_loop().create_task(watch.run())
    try:
        await asyncio.sleep(0.3)
        _hold_the_loop(body)
        await asyncio.sleep(0.3)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _sample(registry: CollectorRegistry, name: str, labels: dict[str, str] | None = None) -> float:
    value = registry.get_sample_value(name, labels or {})
    return 0.0 if value is None else value


async def test_a_loop_held_for_longer_than_report_after_is_logged_with_the_code_that_held_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = CollectorRegistry()
    watch = LoopWatch(registry, interval=0.05, report_after=0.5)
    with caplog.at_level(logging.WARNING, logger="monitor.metrics.stalls"):
        await _watched(watch, 0.9)
    [line] = [r.getMessage() for r in caplog.records]
    assert line.startswith("the event loop stood still for 0.8 s") or line.startswith(
        "the event loop stood still for 0.9 s"
    ), line
    assert "tests/monitor/test_stalls.py" in line and "in _hold_the_loop" in line, line
    assert _sample(registry, "compliance_event_loop_lag_seconds_bucket", {"le": "0.5"}) >= 1  # the quiet beats
    held = _sample(registry, "compliance_event_loop_lag_seconds_count") - _sample(
        registry, "compliance_event_loop_lag_seconds_bucket", {"le": "0.5"}
    )
    assert held == 1


async def test_short_waits_are_measured_but_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    registry = CollectorRegistry()
    watch = LoopWatch(registry, interval=0.05, report_after=0.5)
    with caplog.at_level(logging.WARNING, logger="monitor.metrics.stalls"):
        await _watched(watch, 0.2)
    assert not caplog.records
    assert _sample(registry, "compliance_event_loop_lag_seconds_bucket", {"le": "0.1"}) < _sample(
        registry, "compliance_event_loop_lag_seconds_count"
    )


async def test_collector_passes_are_timed_by_generation_while_the_watch_runs() -> None:
    registry = CollectorRegistry()
    watch = LoopWatch(registry, interval=0.05)
    task = asyncio.get_running_loop().create_task(watch.run())
    await asyncio.sleep(0.1)
    gc.collect(2)
    gc.collect(0)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert _sample(registry, "compliance_gc_pause_seconds_count", {"generation": "2"}) >= 1
    assert _sample(registry, "compliance_gc_pause_seconds_count", {"generation": "0"}) >= 1
    counted = _sample(registry, "compliance_gc_pause_seconds_count", {"generation": "2"})
    gc.collect(2)  # the watch has stopped: its callback is gone
    assert _sample(registry, "compliance_gc_pause_seconds_count", {"generation": "2"}) == counted


def _spin(stop: threading.Event) -> None:
    while not stop.is_set():
        sum(range(1000))  # Python running in another thread: it holds the interpreter lock in turns


async def test_a_stall_names_the_other_threads_running_python_then(caplog: pytest.LogCaptureFixture) -> None:
    stop = threading.Event()
    spinner = threading.Thread(target=_spin, args=(stop,), name="spinner", daemon=True)
    spinner.start()
    try:
        with caplog.at_level(logging.WARNING, logger="monitor.metrics.stalls"):
            await _watched(LoopWatch(CollectorRegistry(), interval=0.05, report_after=0.5), 0.9)
    finally:
        stop.set()
        spinner.join(5)
    [line] = [r.getMessage() for r in caplog.records]
    assert "other threads: " in line and "spinner: tests/monitor/test_stalls.py:" in line and "in _spin" in line, line
    assert "loop-watch" not in line  # the watch's own thread is not named


def test_every_generation_has_its_series_before_its_first_pass() -> None:
    """A series that appears mid-run reads as a change in what is scraped (and counts against a series budget)."""
    registry = CollectorRegistry()
    LoopWatch(registry)
    for generation in ("0", "1", "2"):
        assert _sample(registry, "compliance_gc_pause_seconds_count", {"generation": generation}) == 0
        assert registry.get_sample_value("compliance_gc_pause_seconds_count", {"generation": generation}) == 0.0


def test_a_stall_names_a_package_from_its_own_root_even_in_a_virtual_environment_inside_the_project() -> None:
    root = Path(stalls.__file__).resolve().parents[2]
    assert stalls._short(str(root / ".venv/lib/python3.11/site-packages/aiohttp/http_writer.py")) == (
        "aiohttp/http_writer.py"
    )
    assert stalls._short(str(root / "monitor/http/reports.py")) == "monitor/http/reports.py"
    assert stalls._short("/usr/lib/python3.11/asyncio/selector_events.py") == "selector_events.py"
