"""What SIGUSR2 logs: the allocation sites, or the types of live objects, that grew since the last time."""

from __future__ import annotations

import asyncio
import gc
import logging
import resource
import subprocess
import sys
import tracemalloc
from collections import Counter

import pytest

from monitor.worker.memory import (
    MemoryWatch,
    allocators,
    by_type,
    grown_sites,
    grown_types,
    parse_small_objects,
    resident,
    trim,
    trim_slack,
)


class _Kept:
    """Objects a test keeps alive between two reports."""


def _keep(n: int) -> list[bytes]:
    return [bytes(1000) + str(i).encode() for i in range(n)]  # about 1 MiB per thousand


def test_the_sites_that_grew_are_named_largest_first_with_their_growth() -> None:
    tracemalloc.start(5)
    try:
        before = tracemalloc.take_snapshot()
        kept = _keep(3000)
        now = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    lines = grown_sites(before, now, top=3)
    innermost = f"test_memory.py:{_keep.__code__.co_firstlineno + 1} ← "  # file:line, innermost first
    assert lines and innermost in lines[0]
    mib = float(lines[0].split(" MiB")[0])
    assert 2.5 < mib < 4.0 and "+3,0" in lines[0]  # some 3 MiB in some 3,000 blocks
    assert len(kept) == 3000


def test_the_types_that_grew_are_counted_from_the_live_objects() -> None:
    before = by_type([1, "a", _Kept()])
    now = by_type([1, 2, "a", _Kept(), _Kept(), _Kept()])
    assert grown_types(before, now) == [
        "+2 tests.monitor.worker.test_memory._Kept (3 live)",
        "+1 builtins.int (2 live)",
    ]
    assert grown_types(now, now) == [] and grown_types(Counter(), Counter({"x.Y": 0})) == []


def test_each_report_is_against_the_previous_one(caplog: pytest.LogCaptureFixture) -> None:
    watch = MemoryWatch()
    watch.report()  # everything live now
    kept = [_Kept() for _ in range(5000)]
    with caplog.at_level(logging.WARNING, logger="monitor.worker.memory"):
        watch.log_report()
    assert "+5,000 tests.monitor.worker.test_memory._Kept (5,000 live)" in caplog.text
    assert "PYTHONTRACEMALLOC=10" in caplog.text  # not tracing: says how to see where
    assert not any("test_memory._Kept" in line for line in watch.report())  # nothing new since
    assert len(kept) == 5000


def test_the_resident_memory_is_this_process_s_and_the_allocator_can_be_asked_to_give_back() -> None:
    now = resident()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    assert now is not None and 10 << 20 < now <= peak
    held = [bytearray(60_000) for _ in range(1000)]  # 60 MB from the heap (below glibc's mmap threshold)
    grown = resident()
    assert grown is not None and grown - now > 50 << 20
    del held[:-1]  # all but the last: the heap's top stays in use, so nothing is given back on its own
    kept = resident()
    assert kept is not None and kept > grown - (10 << 20)  # free, but still held by the allocator
    assert trim()  # glibc: asked
    after = resident()
    assert after is not None and after < kept - (40 << 20)  # given back to the system
    first = MemoryWatch().report()[0]
    assert first.startswith("resident memory: ") and "Python's small objects" in first and "MiB free" in first


def test_the_small_objects_in_use_and_their_arenas_are_read_from_the_interpreter_s_own_statistics() -> None:
    stats = subprocess.run(
        [sys.executable, "-c", "import sys; kept = [(i, str(i)) for i in range(200_000)]; sys._debugmallocstats()"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    parsed = parse_small_objects(stats)
    assert parsed is not None
    in_use, arenas = parsed
    assert arenas % (1 << 20) == 0 and 20 << 20 < in_use < arenas  # 200,000 tuples and strings: some 25 MB
    assert parse_small_objects("Small block threshold = 512") is None


def test_the_heap_by_allocator_follows_small_objects_kept_and_freed_and_large_ones_from_the_c_allocator() -> None:
    gc.collect()
    before = allocators()
    assert before is not None  # glibc, CPython's allocator
    kept = [(n, str(n)) for n in range(400_000)]  # small objects: some 40 MB in the arenas
    grown = allocators()
    assert grown is not None and grown.small_objects - before.small_objects > 30 << 20
    del kept[::2]  # half of them, spread over every arena: the arenas stay, half empty
    thinned = allocators()
    assert thinned is not None and thinned.small_objects < grown.small_objects - (10 << 20)
    assert thinned.small_objects_free > before.small_objects_free + (10 << 20)
    large = [bytearray(1 << 20) for _ in range(20)] + [bytearray(40 << 20)]  # the C allocator's, in its heap
    native = allocators()  # and mapped (over 32 MiB, glibc's largest threshold: always a mapping of its own)
    assert native is not None and native.malloc_in_use - thinned.malloc_in_use > 55 << 20
    assert set(native.parts()) == {"small_objects", "small_objects_free", "malloc_in_use", "malloc_free"}
    assert len(kept) == 200_000 and len(large) == 21


def test_the_c_allocator_s_slack_goes_back_to_the_system_once_it_passes_the_bound() -> None:
    held = [bytearray(60_000) for _ in range(1000)]  # 60 MB from the heap, then freed but the top
    del held[:-1]
    slack = allocators()
    before = resident()
    assert slack is not None and before is not None and slack.malloc_free > 50 << 20
    assert not asyncio.run(trim_slack(above=slack.malloc_free + (1 << 20)))  # within the bound: kept
    assert asyncio.run(trim_slack(above=16 << 20))
    after = resident()
    assert after is not None and after < before - (40 << 20)  # given back to the system
    assert len(held) == 1
