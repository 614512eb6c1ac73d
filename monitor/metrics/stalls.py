"""How long the worker's event loop stands still, and how much of it the garbage collector takes.

Everything the worker does runs on one event loop: a callback that holds it
for a second holds every record, tick and HTTP answer for that second. The
loop watch schedules a beat every ``interval`` seconds and records how late
each one ran (``compliance_event_loop_lag_seconds``); the cyclic garbage
collector's passes are timed by generation (``compliance_gc_pause_seconds``).

A beat later than ``report_after`` is logged as a stall, with where the loop
was meanwhile: a thread looks at the stacks once the beat is half that late,
so the log names the code that held the loop, and any other thread running
Python then (which holds the interpreter lock the loop waits for); the
collector's share of the stall is said too.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Histogram

__all__ = ["LoopWatch"]

log = logging.getLogger(__name__)

_LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_GC_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
_FRAMES = 5  # innermost frames named in a stall's log line
_WAITING = frozenset({"wait", "_wait_for_tstate_lock", "select", "poll", "_worker", "get"})  # idle threads' frames
_ROOT = Path(__file__).resolve().parents[2]  # the project's root: ``monitor/`` is in it


class LoopWatch:
    """Beats on the running loop; times the collector; logs a stall with the stack that held the loop.

    Args:
        registry: Where the two histograms are registered.
        interval: Seconds between two beats.
        report_after: A beat this many seconds late is logged as a stall.
        clock: Monotonic seconds (the loop's own clock is used for the beats).
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        interval: float = 0.1,
        report_after: float = 1.0,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.interval = interval
        self.report_after = report_after
        self._clock = clock
        self.lag = Histogram(
            "compliance_event_loop_lag_seconds",
            f"How late the event loop ran a beat scheduled every {interval:g} s: how long it stood still "
            "(a callback holding it, the garbage collector).",
            buckets=_LAG_BUCKETS,
            registry=registry,
        )
        self.gc_pause = Histogram(
            "compliance_gc_pause_seconds",
            "Passes of Python's cyclic garbage collector, by generation (2: a full pass).",
            ["generation"],
            buckets=_GC_BUCKETS,
            registry=registry,
        )
        for generation in range(3):  # each generation's series from the first scrape on, not from its first pass
            self.gc_pause.labels(str(generation))
        self._gc_started = 0.0
        self._gc_seconds = 0.0  # spent in the collector since the process began (read between two beats)
        self._due = 0.0  # the loop time the next beat is due at
        self._stack: str | None = None  # where the loop stood, seen by the thread during the current stall
        self._stopped = threading.Event()

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = self._clock()
            return
        took = self._clock() - self._gc_started
        self._gc_seconds += took
        self.gc_pause.labels(str(info.get("generation", ""))).observe(took)

    def _look(self, loop: asyncio.AbstractEventLoop, loop_thread: int) -> None:
        """In a thread: once a beat is half ``report_after`` overdue, note where the threads are (once a stall)."""
        while not self._stopped.wait(self.interval):
            if self._stack is None and loop.time() - self._due > self.report_after / 2:
                self._stack = _stacks(loop_thread)

    async def run(self) -> None:
        """Beat until cancelled (a task on the worker's loop); the collector is timed meanwhile."""
        loop = asyncio.get_running_loop()
        self._due = loop.time() + self.interval
        looker = threading.Thread(target=self._look, args=(loop, threading.get_ident()), name="loop-watch", daemon=True)
        gc.callbacks.append(self._on_gc)
        self._stopped.clear()
        looker.start()
        try:
            while True:
                gc_before = self._gc_seconds
                await asyncio.sleep(max(0.0, self._due - loop.time()))
                late = max(0.0, loop.time() - self._due)
                self.lag.observe(late)
                if late >= self.report_after:
                    self._report(late, self._gc_seconds - gc_before)
                self._stack = None
                self._due = loop.time() + self.interval
        finally:
            self._stopped.set()
            gc.callbacks.remove(self._on_gc)
            looker.join(1.0)

    def _report(self, late: float, collecting: float) -> None:
        where = self._stack or "(no stack seen)"
        log.warning(
            "the event loop stood still for %.1f s (the garbage collector %.1f s of it); it was at %s",
            late,
            collecting,
            where,
        )


def _stacks(loop_thread: int) -> str:
    """Where the loop's thread is, then where each other thread running Python is (one may hold the interpreter)."""
    frames = sys._current_frames()
    names = {t.ident: t.name for t in threading.enumerate()}
    mine = threading.get_ident()
    loop = frames.get(loop_thread)
    said = [_where(loop) if loop is not None else "(no stack seen)"]
    others = [
        f"{names.get(ident, ident)}: {_where(frame, 2)}"
        for ident, frame in frames.items()
        if ident not in (loop_thread, mine) and frame.f_code.co_name not in _WAITING
    ]
    if others:
        said.append("other threads: " + "; ".join(others))
    return " | ".join(said)


def _where(frame: Any, depth: int = _FRAMES) -> str:
    """The innermost frames of a stack, innermost first: ``file:line in function ← …``."""
    frames = traceback.extract_stack(frame)[-depth:]
    return " ← ".join(f"{_short(f.filename)}:{f.lineno} in {f.name}" for f in reversed(frames))


def _short(filename: str) -> str:
    """A source file as the log names it: from the project's root (``monitor/…``) or a package's (``faust/…``)."""
    path = Path(filename)
    parts = path.parts
    if "site-packages" in parts:  # first: a virtual environment may lie inside the project (``.venv``)
        return "/".join(parts[len(parts) - parts[::-1].index("site-packages") :])
    if path.is_relative_to(_ROOT):
        return path.relative_to(_ROOT).as_posix()
    return path.name
