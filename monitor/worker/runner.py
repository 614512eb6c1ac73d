"""The worker process: faust's ``Worker``, with a bounded stop and logging that cannot flood.

- SIGTERM or SIGINT stops the worker in every state within ``stop_timeout``
  seconds: faust's shutdown waits for the broker (commits, flushes), which
  may never answer; past the timeout the process exits anyway (an
  orchestrator's grace period is 30 s by default).
- A message logged over and over (a client retrying against a lost broker
  logs tens of lines a second) is written at most ``burst`` times per
  ``window`` seconds, then with how many were held back. A message that
  says what happened once (a partition read, a worker ready) repeats a few
  times in a rebalance, each time with new figures: the burst lets those through.
- faust, mode and aiokafka write their lines from ``log_level`` up (WARNING
  by default: faust starts a worker in some forty INFO lines); the
  monitor's own lines (``monitor.logorigin``) from INFO up, or DEBUG.
- No log line shows the user info or query string of a URL (a webhook's
  token, a user in a broker URL): ``monitor.redact``.
- SIGHUP reloads the rule files (``on_reload``): the worker goes on under
  the pack it has when the new one does not load or its tests fail.
- SIGUSR2 logs what memory grew since the last SIGUSR2 (``monitor.worker.memory``).
- ``exit_code`` lets a part of the worker that gave up (the broker is gone)
  make the process end non-zero, so the orchestrator restarts it.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

from faust.worker import Worker as FaustWorker

from monitor.logorigin import written_by_monitor
from monitor.redact import RedactingFilter
from monitor.worker.memory import MemoryWatch

__all__ = ["BoundedWorker", "LibraryLevelFilter", "RepeatFilter"]

log = logging.getLogger(__name__)


class RepeatFilter(logging.Filter):
    """Lets a message (same logger, same template) through ``burst`` times per ``window`` seconds.

    Args:
        window: Seconds over which a message is counted.
        burst: Records of one message written per window; the rest are held back and counted.
        monotonic: The clock.
    """

    def __init__(self, window: float = 10.0, burst: int = 3, monotonic: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._window = window
        self._burst = burst
        self._monotonic = monotonic
        self._opened: dict[tuple[str, str], tuple[float, int]] = {}  # key → (window began, records written in it)
        self._held: dict[tuple[str, str], int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        """Whether to write ``record``; the first one of a window says how many were held back in the last."""
        key = (record.name, str(record.msg))
        now = self._monotonic()
        began, written = self._opened.get(key, (None, 0))
        if began is not None and now - began < self._window:
            if written >= self._burst:
                self._held[key] = self._held.get(key, 0) + 1
                return False
            self._opened[key] = (began, written + 1)
            return True
        self._opened[key] = (now, 1)
        held = self._held.pop(key, 0)
        if held and began is not None:
            record.msg = f"{record.msg} ({held} more like this in the last {now - began:.0f}s)"
        if len(self._opened) > 10_000:  # many distinct messages: forget the old ones
            self._opened.clear()
        return True


class LibraryLevelFilter(logging.Filter):
    """Lets the monitor's own records through, and the libraries' (faust, mode, aiokafka, ...) from ``level`` up.

    Args:
        level: The lowest level of a library's record that is written.
    """

    def __init__(self, level: int) -> None:
        super().__init__()
        self._level = level

    def filter(self, record: logging.LogRecord) -> bool:
        """Whether ``record`` is the monitor's own or at ``level`` or above."""
        return record.levelno >= self._level or written_by_monitor(record)


def _level_number(name: str) -> int:
    level = logging.getLevelName(name.upper())
    if not isinstance(level, int):
        raise ValueError(f"not a log level: {name!r}")
    return level


class BoundedWorker(FaustWorker):
    """faust's worker with a bounded stop, and log levels and filters on every log handler.

    Args:
        args: faust's ``Worker`` arguments (the app).
        log_level: The level of faust's, mode's and aiokafka's lines (``warning``, ``info``, ...); the monitor's
            own lines are written from INFO up, or from this level if it is lower.
        kwargs: faust's ``Worker`` keyword arguments but ``loglevel`` (``log_level`` sets it) and ``quiet``.
    """

    stop_timeout = 9.0
    exit_code: int | None = None  # set by a part that gave up: the process exits with it

    def __init__(self, *args: Any, log_level: str = "warning", **kwargs: Any) -> None:
        self.library_level = _level_number(log_level)
        own = min(self.library_level, logging.INFO)
        # quiet: faust's console lines are its spinner's "OK" and "-INT- -INT-" on Ctrl-C, never wanted here.
        super().__init__(*args, loglevel=own, quiet=True, **kwargs)
        self._stopping = False
        #: What SIGHUP does (reload the rule files), set by whoever runs the worker.
        self.on_reload: Callable[[], Coroutine[Any, Any, object]] | None = None
        self._memory = MemoryWatch()

    def install_signal_handlers(self) -> None:
        """Faust's handlers; SIGHUP: reload the rules (as Prometheus does); SIGUSR2: log what memory grew."""
        super().install_signal_handlers()
        self.loop.add_signal_handler(signal.SIGHUP, self._on_sighup)
        self.loop.add_signal_handler(signal.SIGUSR2, self._memory.log_report)

    def _on_sighup(self) -> None:
        if self.on_reload is None or self._stopping:
            return
        log.warning("SIGHUP: reloading the rules")
        self.loop.create_task(self.on_reload(), name="reload-rules")

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        """After faust set up logging: the libraries' level, repeats held back and URLs' secrets redacted."""
        super().on_setup_root_logger(logger, level)
        logging.getLogger("aiokafka").setLevel(self.library_level)  # the entry point holds it at WARNING
        libraries, repeats, redacting = LibraryLevelFilter(self.library_level), RepeatFilter(), RedactingFilter()
        for handler in logger.handlers:
            handler.addFilter(libraries)  # first: a line not written is not counted as a repeat
            handler.addFilter(repeats)
            handler.addFilter(redacting)  # after the repeat filter, which tells messages apart by their template

    def _on_sigterm(self) -> None:
        self._bound_the_stop()
        super()._on_sigterm()

    def _on_sigint(self) -> None:
        self._bound_the_stop()
        super()._on_sigint()

    def give_up(self, code: int, reason: str) -> None:
        """Stop the worker and make the process end with ``code``."""
        log.error("giving up: %s; the process will exit with %d", reason, code)
        type(self).exit_code = code
        self._bound_the_stop()
        self._schedule_shutdown(signal.SIGTERM)  # as SIGTERM would

    def _bound_the_stop(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        timer = threading.Timer(self.stop_timeout, self._force_exit)
        timer.daemon = True
        timer.start()

    def _force_exit(self) -> None:
        log.error("did not stop within %.0fs; exiting now", self.stop_timeout)
        logging.shutdown()
        os._exit(self.exit_code if self.exit_code is not None else 1)
