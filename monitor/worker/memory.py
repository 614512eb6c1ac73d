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
allocator after a peak, not held by anything alive, then where the heap is
(``allocators``).

``allocators`` splits the heap by allocator, each part in use or held free:
Python's small objects (512 bytes or less, in arenas of 1 MiB that go back
to the system only once empty: a few live objects keep a whole arena) and
the C allocator's chunks (Python's larger objects, RocksDB, SQLite, the
Rust and C libraries). Memory that grows as "free" is the allocators'
slack, not something alive; growth "in use" of small objects is Python
objects, of the C allocator anything allocated natively. ``/metrics`` has
it as ``compliance_process_memory_bytes``.

The worker gives the C allocator's slack back on a timer (``trim_slack``,
every ``TRIM_EVERY`` seconds, once it keeps more than ``TRIM_ABOVE`` free):
after a burst the allocator kept the pages the burst's records and writes
had used, and the worker's resident memory grew by each new peak's
leftovers.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import gc
import logging
import os
import re
import tracemalloc
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

__all__ = [
    "Allocators",
    "MemoryWatch",
    "allocators",
    "by_type",
    "grown_sites",
    "grown_types",
    "heap_parts",
    "parse_small_objects",
    "resident",
    "trim",
    "trim_slack",
]

log = logging.getLogger(__name__)

_TOP = 20
#: Seconds between two looks at the C allocator's slack.
TRIM_EVERY = 60.0
#: Free memory the C allocator may keep; past it, it is asked to give its free pages back (bytes).
TRIM_ABOVE = 16 << 20
_MIB = 1 << 20


def resident() -> int | None:
    """This process's resident memory, bytes (``None`` where ``/proc`` does not say)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


@functools.cache
def _c_function(name: str) -> Any:
    """A function of the C library the process is linked with (``None`` if it has none of that name).

    Looked up once: the process's own symbols, glibc's when linked with it (``find_library`` would run ldconfig).
    """
    try:
        return getattr(ctypes.CDLL(None), name, None)
    except OSError:
        return None


def trim() -> bool:
    """Ask glibc's allocator to give its free memory back to the system; whether it could be asked."""
    malloc_trim = _c_function("malloc_trim")
    if malloc_trim is None:
        return False
    malloc_trim(0)
    return True


@dataclass(frozen=True, slots=True)
class Allocators:
    """The process's heap by allocator, in use or held free (bytes): ``compliance_process_memory_bytes``'s parts."""

    small_objects: int  #: Python's blocks of 512 bytes or less in use
    small_objects_free: int  #: the rest of the arenas those blocks are in: free blocks, empty pools, headers
    malloc_in_use: int  #: the C allocator's chunks in use, mapped ones included
    malloc_free: int  #: free chunks the C allocator keeps, resident or not (``trim`` gives their whole pages back)

    def parts(self) -> dict[str, int]:
        """The parts by name (the metric's ``part`` label)."""
        return asdict(self)


_MALLINFO2 = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"
_ARENAS = re.compile(r"^\d+ arenas \* \d+ bytes/arena\s*=\s*([\d,]+)$", re.MULTILINE)
_ALLOCATED = re.compile(r"^# bytes in allocated blocks\s*=\s*([\d,]+)$", re.MULTILINE)


def parse_small_objects(stats: str) -> tuple[int, int] | None:
    """Bytes of Python's small-object blocks in use, and of the arenas holding them, from its allocator's statistics.

    ``stats`` is what ``sys._debugmallocstats`` prints; ``None`` if it says neither.
    """
    arenas, allocated = _ARENAS.search(stats), _ALLOCATED.search(stats)
    if arenas is None or allocated is None:
        return None
    return int(allocated.group(1).replace(",", "")), int(arenas.group(1).replace(",", ""))


class _MallInfo2(ctypes.Structure):
    """glibc's ``struct mallinfo2``."""

    _fields_ = [(name, ctypes.c_size_t) for name in _MALLINFO2.split()]  # ctypes reads it here


def _small_object_stats() -> str | None:
    """``sys._debugmallocstats``'s text, written to memory rather than to standard error (other threads log there)."""
    write_stats = getattr(ctypes.pythonapi, "_PyObject_DebugMallocStats", None)
    open_memstream, fclose, free = (_c_function(name) for name in ("open_memstream", "fclose", "free"))
    if write_stats is None or open_memstream is None or fclose is None or free is None:
        return None
    open_memstream.restype = ctypes.c_void_p
    write_stats.argtypes, fclose.argtypes, free.argtypes = [ctypes.c_void_p], [ctypes.c_void_p], [ctypes.c_void_p]
    buffer, size = ctypes.c_void_p(), ctypes.c_size_t()
    stream = open_memstream(ctypes.byref(buffer), ctypes.byref(size))
    if not stream:
        return None
    try:
        write_stats(stream)
    finally:
        fclose(stream)  # sets buffer and size
    try:
        return ctypes.string_at(buffer.value, size.value).decode("utf-8", "replace") if buffer.value else None
    finally:
        free(buffer)


def _mallinfo2() -> _MallInfo2 | None:
    """Glibc's ``mallinfo2()`` (2.33 and later), ``None`` without it."""
    mallinfo2 = _c_function("mallinfo2")
    if mallinfo2 is None:
        return None
    mallinfo2.restype = _MallInfo2
    info: _MallInfo2 = mallinfo2()
    return info


def allocators() -> Allocators | None:
    """The heap by allocator now (``None`` where the interpreter or the C library does not say: not glibc).

    Under a millisecond with half a gigabyte of small objects: read at every scrape.
    """
    info = _mallinfo2()
    text = _small_object_stats()
    small = parse_small_objects(text) if text is not None else None
    if small is None or info is None:
        return None
    in_use, arenas = small
    return Allocators(in_use, arenas - in_use, info.uordblks + info.hblkhd, info.fordblks)


async def trim_slack(above: int = TRIM_ABOVE) -> bool:
    """Ask the C allocator to give its free pages back if it keeps more than ``above`` free; whether it was asked.

    In a thread: it walks every free chunk, the event loop goes on meanwhile.
    """
    info = _mallinfo2()  # the C allocator's figures alone: no walk of Python's arenas
    if info is None or info.fordblks <= above:
        return False
    return await asyncio.to_thread(trim)


def heap_parts() -> dict[str, int] | None:
    """``allocators`` by part (``compliance_process_memory_bytes``); ``None`` where it cannot tell."""
    heap = allocators()
    return heap.parts() if heap is not None else None


def _resident_line() -> str:
    before = resident()
    if before is None:
        return "resident memory: unknown here"
    if not trim():
        return f"resident memory: {before / _MIB:.1f} MiB"
    after = resident() or before
    line = (
        f"resident memory: {before / _MIB:.1f} MiB; {after / _MIB:.1f} MiB once the allocator gave back "
        f"{(before - after) / _MIB:.1f} MiB it held free"
    )
    heap = allocators()
    if heap is None:
        return line
    return line + (
        f"; Python's small objects {heap.small_objects / _MIB:.1f} MiB in use and {heap.small_objects_free / _MIB:.1f}"
        f" MiB free in their arenas, the C allocator {heap.malloc_in_use / _MIB:.1f} MiB in use and"
        f" {heap.malloc_free / _MIB:.1f} MiB free"
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
