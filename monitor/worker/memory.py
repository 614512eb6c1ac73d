"""Where a running worker's memory went: ``kill -USR2 PID`` logs what grew since the last time.

For memory that creeps over hours (``make soak`` samples RSS; the
operations guide's "Memory that grows"): with the worker started under
``PYTHONTRACEMALLOC=N`` (Python traces every allocation, N frames deep,
which slows every allocation), each SIGUSR2 logs the allocation sites that
grew most since the previous one (the first: since tracing began). Without
it, each SIGUSR2 logs the live objects by type that grew most (a walk of
the objects the garbage collector tracks, containers and instances, not
strings or numbers: the event loop stands still for it, under a second per
million objects). Each report starts with the resident memory, before and
after asking the C allocator to give its free pages back to the system
(glibc's ``malloc_trim``): what it gives back was free, kept by the
allocator after a peak, not held by anything alive.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import tracemalloc
from collections import Counter
from collections.abc import Iterable

__all__ = ["MemoryWatch", "by_type", "grown_sites", "grown_types", "resident", "trim"]

log = logging.getLogger(__name__)

_TOP = 20
_MIB = 1 << 20


def resident() -> int | None:
    """This process's resident memory, bytes (``None`` where ``/proc`` does not say)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def trim() -> bool:
    """Ask glibc's allocator to give its free memory back to the system; whether it could be asked."""
    try:  # the process's own symbols: glibc's when linked with it (find_library would run ldconfig)
        malloc_trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    except OSError:
        return False
    if malloc_trim is None:
        return False
    malloc_trim(0)
    return True


def _resident_line() -> str:
    before = resident()
    if before is None:
        return "resident memory: unknown here"
    if not trim():
        return f"resident memory: {before / _MIB:.1f} MiB"
    after = resident() or before
    return (
        f"resident memory: {before / _MIB:.1f} MiB; {after / _MIB:.1f} MiB once the allocator gave back "
        f"{(before - after) / _MIB:.1f} MiB it held free"
    )


def grown_sites(before: tracemalloc.Snapshot | None, now: tracemalloc.Snapshot, top: int = _TOP) -> list[str]:
    """The ``top`` allocation sites (their tracebacks) that grew most from ``before`` (``None``: nothing) to ``now``."""
    if before is None:
        stats = [(s.size, s.count, s.traceback) for s in now.statistics("traceback")]
    else:
        stats = [(s.size_diff, s.count_diff, s.traceback) for s in now.compare_to(before, "traceback")]
    stats.sort(key=lambda stat: stat[0], reverse=True)
    return [
        f"{size / _MIB:+.2f} MiB in {count:+,} blocks at {_where(traceback)}"
        for size, count, traceback in stats[:top]
        if size > 0
    ]


def _where(traceback: tracemalloc.Traceback) -> str:
    """Innermost frame first, as the stall log writes stacks."""
    return " ← ".join(f"{frame.filename.rsplit('site-packages/', 1)[-1]}:{frame.lineno}" for frame in traceback)


def by_type(objects: Iterable[object]) -> Counter[str]:
    """How many objects of each type (qualified name)."""
    return Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in objects)


def grown_types(before: Counter[str], now: Counter[str], top: int = _TOP) -> list[str]:
    """The ``top`` types whose live objects grew most in number from ``before`` to ``now``."""
    grown = sorted(((n - before.get(name, 0), name) for name, n in now.items()), reverse=True)
    return [f"{diff:+,} {name} ({now[name]:,} live)" for diff, name in grown[:top] if diff > 0]


class MemoryWatch:
    """What each SIGUSR2 compares with: the previous snapshot or count of objects."""

    def __init__(self) -> None:
        self._snapshot: tracemalloc.Snapshot | None = None
        self._types: Counter[str] = Counter()

    def report(self) -> list[str]:
        """Lines saying what grew since the last report (and keep what they were measured against)."""
        if tracemalloc.is_tracing():
            snapshot = tracemalloc.take_snapshot()
            traced, peak = tracemalloc.get_traced_memory()
            lines = grown_sites(self._snapshot, snapshot)
            self._snapshot = snapshot
            head = f"memory traced: {traced / _MIB:.1f} MiB (peak {peak / _MIB:.1f}); grown most since the last report:"
            return [_resident_line(), head, *lines]
        types = by_type(gc.get_objects())
        lines = grown_types(self._types, types)
        self._types = types
        head = (
            f"live objects: {sum(types.values()):,}; grown most since the last report "
            "(PYTHONTRACEMALLOC=10 at start tells where they were allocated):"
        )
        return [_resident_line(), head, *lines]

    def log_report(self) -> None:
        """``report``, to the log at WARNING (a signal's answer is read where the worker writes)."""
        log.warning("\n  ".join(self.report()))
