"""Progress output for long work: a bar on a terminal, a line every tenth otherwise."""

from __future__ import annotations

import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """Counts work done against a total and reports it on ``stream``."""

    def __init__(self, label: str, total: int, stream: TextIO, *, width: int = 30) -> None:
        self._label = label
        self._total = max(total, 1)
        self._stream = stream
        self._width = width
        self._done = 0
        self._started = time.monotonic()
        self._tty = stream.isatty()
        self._last_tenth = -1
        self._last_draw = 0.0

    def advance(self, count: int = 1) -> None:
        """Record ``count`` more units of work."""
        self._done += count
        if self._tty:
            now = time.monotonic()
            if now - self._last_draw >= 0.1 or self._done >= self._total:
                self._last_draw = now
                self._draw(end="")
        else:
            tenth = self._done * 10 // self._total
            if tenth != self._last_tenth:
                self._last_tenth = tenth
                self._draw(end="\n")

    def _draw(self, end: str) -> None:
        share = min(self._done / self._total, 1.0)
        elapsed = max(time.monotonic() - self._started, 1e-9)
        filled = int(share * self._width)
        bar = "#" * filled + "." * (self._width - filled)
        prefix = "\r" if self._tty else ""
        text = (
            f"{prefix}{self._label} [{bar}] {share:4.0%} {self._done:,}/{self._total:,} ({self._done / elapsed:,.0f}/s)"
        )
        self._stream.write(text + end)
        self._stream.flush()

    def close(self) -> None:
        """End the bar's line."""
        if self._tty:
            self._draw(end="\n")
