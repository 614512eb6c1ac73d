"""A background task stops when cancelled; one that will not is left behind, named, and the stop goes on."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from monitor.background import Background, bounded


async def test_a_task_stops_when_cancelled() -> None:
    ended = asyncio.Event()

    async def work() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            ended.set()

    task = Background("sleeper", work)
    task.start()
    await asyncio.sleep(0)
    assert task.running
    assert await task.stop() is True
    assert ended.is_set() and not task.running


async def test_a_task_that_swallows_its_cancellation_is_left_behind_with_its_stack(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                continue  # as a library that loses a cancellation does

    task = Background("stubborn", stubborn)
    task.start()
    await asyncio.sleep(0)
    started = time.monotonic()
    try:
        with caplog.at_level(logging.ERROR):
            assert await task.stop(timeout=0.2) is False
    finally:
        release.set()  # it ends at its next cancellation (the test loop's, when it closes)
    assert time.monotonic() - started < 2
    message = caplog.text
    assert "background task stubborn did not stop within 0.2s" in message and "in stubborn" in message  # its stack


async def test_a_part_that_failed_is_said_and_the_stop_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    async def failing() -> None:
        raise RuntimeError("the broker is gone")

    with caplog.at_level(logging.ERROR):
        assert await bounded("alert ledger", failing()) is True
    assert "alert ledger ended with RuntimeError('the broker is gone')" in caplog.text


async def test_a_task_that_died_before_its_stop_does_not_fail_the_stop(caplog: pytest.LogCaptureFixture) -> None:
    async def dies() -> None:
        raise ValueError("bad record")

    task = Background("dies", dies)
    task.start()
    await asyncio.sleep(0.01)
    with caplog.at_level(logging.ERROR):
        assert await task.stop() is True
    assert "background task dies ended with ValueError('bad record')" in caplog.text
