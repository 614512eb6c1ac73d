"""The soak's figures from its samples: memory, files and tasks between the two halves, latency per 5 minutes.

Pure functions over what the run recorded. The run is cut in two halves (its
two hours, for ``make soak``'s 120 minutes); a leak shows as growth between
the end of the first and the end of the second, outside fault windows. A
worker restarted in between (a fault kills it) is not compared across the
restart: its process is another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = [
    "HEAP_PARTS",
    "STORE_PARTS",
    "BrokerSample",
    "Sample",
    "Window",
    "broker_figures",
    "figures",
    "histogram_windows",
    "probe_figures",
    "windows",
]

WINDOW = 300.0  # seconds per latency window
RSS_GROWTH = 0.05  # at most, between the two halves' ends
#: A half's end is judged by its RSS floor over this many seconds before it (outside faults): a review report
#: every minute takes tens of MiB from the C allocator that the worker gives back within a minute, so one
#: sample lands on a report or between two by chance, and swings 10 % either way.
FLOOR_SPAN = 300.0
COUNT_GROWTH = 5  # open files or event loop tasks, at most, between the two halves' ends
LATENCY_FACTOR = 2.0  # a window's p99 against the first half's, outside faults


#: A worker's RocksDB memory, as ``Sample.store``: each part's label in ``compliance_state_store_memory_bytes``,
#: and its name in the figures.
STORE_PARTS = {"write_buffers": "write buffers", "block_cache": "block cache", "table_readers": "table readers"}
#: A worker's heap by allocator, as ``Sample.heap``: each part's label in ``compliance_process_memory_bytes``, and
#: its name in the figures.
HEAP_PARTS = {
    "small_objects": "Python's small objects",
    "small_objects_free": "free in their arenas",
    "malloc_in_use": "C allocator in use",
    "malloc_free": "C allocator free",
}


@dataclass(frozen=True)
class Sample:
    """One worker at one instant (seconds since the load began)."""

    at: float
    worker: str
    pid: int
    rss: float  # MiB
    fds: int
    tasks: float | None  # on its event loop, from its last scrape
    lag: float
    queued: float
    alerts_held: float = 0.0  # alerts whose last record it holds in memory, from its last scrape
    cpu_seconds: float = 0.0  # user and system CPU the process used so far
    store: tuple[float, ...] = (0.0, 0.0, 0.0)  # MiB of its RocksDB, by ``STORE_PARTS``
    heap: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0)  # MiB of its heap, by ``HEAP_PARTS``
    #: Its histograms so far, by name: (upper bound, observations at or below it) for each bucket, in order.
    histograms: dict[str, tuple[tuple[float, float], ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class BrokerSample:
    """The embedded broker at one instant: its CPU seconds so far, its share of a core since the sample before
    (and the whole machine's busy share of all its cores)."""

    at: float
    cpu_seconds: float
    share: float
    rss: float  # MiB
    machine_busy: float = 0.0


def broker_figures(samples: Sequence[BrokerSample], span: float = 600.0) -> list[str]:
    """The broker's mean CPU over the first and the last ``span`` seconds, and its memory at start and end.

    Not a bound of the soak (the broker is the embedded one, not production's): what it cost, to compare runs.
    """
    if len(samples) < 3:
        return ["embedded broker: too few samples"]
    end = samples[-1].at

    def mean_share(begin: float, stop: float) -> float:
        inside = [s for s in samples if begin <= s.at <= stop]
        if len(inside) < 2:
            return 0.0
        return (inside[-1].cpu_seconds - inside[0].cpu_seconds) / (inside[-1].at - inside[0].at)

    first, last = mean_share(0.0, span), mean_share(end - span, end)
    return [
        f"embedded broker: CPU {first * 100:.0f}% of a core over the first {span / 60:.0f} minutes, "
        f"{last * 100:.0f}% over the last; RSS {samples[0].rss:.0f} → {samples[-1].rss:.0f} MiB"
    ]


def report_figures(reports: Sequence[tuple[float, float, int]], seconds: float) -> list[str]:
    """How long the review report took to answer, in each half: median and longest, and its size at the end.

    Not a bound: a report is work beside the events' (its cost grows with the tasks held), told to compare runs.
    """
    if not reports:
        return ["review report: never answered"]
    lines = []
    for name, begin, end in (("first half", 0.0, seconds / 2), ("second half", seconds / 2, float("inf"))):
        took = [t for at, t, _ in reports if begin <= at < end]
        if took:
            lines.append(
                f"review report, {name}: {len(took)} answered, median {_quantile(took, 0.5):.1f} s, "
                f"longest {max(took):.1f} s"
            )
    lines.append(f"review report at the end: {reports[-1][2] / 1e6:.1f} million characters")
    return lines


@dataclass(frozen=True)
class Window:
    """Event → alert times of the overdue tasks sent in one window, and the fault it overlaps, if any."""

    start: float
    count: int
    p50: float
    p99: float
    fault: str


def _quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def _in_fault(at: float, faults: Sequence[tuple[float, float, str]]) -> str:
    return next((name for start, end, name in faults if start <= at < end), "")


def windows(latencies: Sequence[tuple[float, float]], faults: Sequence[tuple[float, float, str]]) -> list[Window]:
    """Per 5 minutes of send times: how many, p50 and p99, and the fault overlapping it ('' for none)."""
    by_window: dict[int, list[float]] = {}
    for sent, seconds in latencies:
        by_window.setdefault(int(sent // WINDOW), []).append(seconds)
    out = []
    for n, values in sorted(by_window.items()):
        start, end = n * WINDOW, (n + 1) * WINDOW
        fault = next((name for f_start, f_end, name in faults if f_start < end and f_end > start), "")
        out.append(Window(start, len(values), _quantile(values, 0.5), _quantile(values, 0.99), fault))
    return out


def histogram_windows(
    samples: Sequence[Sample], name: str, faults: Sequence[tuple[float, float, str]], seconds: float
) -> list[Window]:
    """A worker histogram's observations in each 5-minute window, every worker's together: how many, p50 and p99.

    Each worker's buckets at the window's end less those at its start (a worker restarted within the window
    counts from its start); a quantile is the upper bound of the first bucket that reaches it.
    """
    out = []
    for n in range(int(seconds // WINDOW) + 1):
        start, end = n * WINDOW, (n + 1) * WINDOW
        counts: dict[float, float] = {}
        for worker in sorted({s.worker for s in samples}):
            mine = [s for s in samples if s.worker == worker and name in s.histograms]
            last = next((s for s in reversed(mine) if s.at <= end), None)
            if last is None or last.at <= start:
                continue
            first = next((s for s in reversed(mine) if s.at <= start and s.pid == last.pid), None)
            before = dict(first.histograms[name]) if first is not None else {}
            for bound, count in last.histograms[name]:
                counts[bound] = counts.get(bound, 0.0) + count - before.get(bound, 0.0)
        total = max(counts.values(), default=0.0)
        if total <= 0:
            continue
        fault = next((label for f_start, f_end, label in faults if f_start < end and f_end > start), "")
        out.append(Window(start, int(total), _bucket_quantile(counts, 0.5), _bucket_quantile(counts, 0.99), fault))
    return out


def _bucket_quantile(counts: dict[float, float], q: float) -> float:
    """The upper bound of the first bucket whose cumulative count reaches ``q`` of them all."""
    total = max(counts.values())
    return next(bound for bound in sorted(counts) if counts[bound] >= q * total)


def _at_end(samples: Sequence[Sample], end: float, faults: Sequence[tuple[float, float, str]]) -> Sample | None:
    """The last sample before ``end`` outside fault windows."""
    chosen = [s for s in samples if s.at < end and not _in_fault(s.at, faults)]
    return chosen[-1] if chosen else None


def _floor(samples: Sequence[Sample], last: Sample, faults: Sequence[tuple[float, float, str]]) -> float:
    """The least RSS of ``last``'s process over the ``FLOOR_SPAN`` seconds up to ``last``, outside faults.

    What the worker keeps resident at that end: a leak raises it; memory taken for a moment and given back does not.
    """
    return min(
        s.rss
        for s in samples
        if s.pid == last.pid and last.at - FLOOR_SPAN < s.at <= last.at and not _in_fault(s.at, faults)
    )


def figures(
    samples: Sequence[Sample],
    latencies: Sequence[tuple[float, float]],
    faults: Sequence[tuple[float, float, str]],
    seconds: float,
) -> tuple[list[str], bool]:
    """The summary lines, and whether memory, files, tasks and latency held their bounds."""
    half = seconds / 2
    names = ("hour 1", "hour 2") if abs(seconds - 7200) < 60 else ("first half", "second half")
    lines: list[str] = []
    ok = True
    for worker in sorted({s.worker for s in samples}):
        own = [s for s in samples if s.worker == worker]
        ends = [_at_end(own, half, faults), _at_end(own, seconds + 1, faults)]
        starts = [next((s for s in own if s.at >= begin and not _in_fault(s.at, faults)), None) for begin in (0, half)]
        shown = ", ".join(
            f"{name} {start.rss:.0f} → {end.rss:.0f} MiB"
            for name, start, end in zip(names, starts, ends, strict=True)
            if start is not None and end is not None
        )
        lines.append(f"{worker}: RSS {shown}")
        first, last = ends
        if first is None or last is None:
            lines.append(f"{worker}: too few samples to compare")
            continue
        if first.pid != last.pid:
            lines.append(f"{worker}: restarted between the halves (pid {first.pid} → {last.pid}): not compared")
            continue
        floor_first, floor_last = _floor(own, first, faults), _floor(own, last, faults)
        growth = (floor_last - floor_first) / floor_first
        held = growth <= RSS_GROWTH
        ok &= held
        lines.append(
            f"{worker}: RSS {names[0]} end → {names[1]} end {growth * 100:+.1f}% ({'ok' if held else 'over'} "
            f"{RSS_GROWTH * 100:.0f}%): its least over the last {FLOOR_SPAN / 60:.0f} minutes {floor_first:.0f} → "
            f"{floor_last:.0f} MiB (the last sample {first.rss:.0f} → {last.rss:.0f}); open files {first.fds} → "
            f"{last.fds}; event loop tasks {first.tasks or 0:.0f} → {last.tasks or 0:.0f}"
        )
        for what, names_of, before, after in (
            ("RocksDB", STORE_PARTS, first.store, last.store),
            ("the heap", HEAP_PARTS, first.heap, last.heap),
        ):
            parts = ", ".join(
                f"{part} {a:.0f} → {b:.0f}" for part, a, b in zip(names_of.values(), before, after, strict=True)
            )
            lines.append(f"{worker}: of which {what} (MiB), {names[0]} end → {names[1]} end: {parts}")
        if last.fds - first.fds > COUNT_GROWTH or (last.tasks or 0) - (first.tasks or 0) > COUNT_GROWTH:
            ok = False
            lines.append(f"{worker}: open files or tasks grew by more than {COUNT_GROWTH}")
    spans = windows(latencies, faults)
    quiet_first = [v for sent, v in latencies if sent < half and not _in_fault(sent, faults)]
    baseline = _quantile(quiet_first, 0.99)
    worst = max((w for w in spans if not w.fault), key=lambda w: w.p99, default=None)
    lines.append(
        f"event → alert p99 outside faults, {names[0]}: {baseline * 1000:.0f} ms over {len(quiet_first):,} tasks; "
        f"worst 5-minute window {worst.p99 * 1000 if worst else 0:.0f} ms"
        + (f" at {worst.start / 60:.0f} min" if worst else "")
    )
    for window in spans:
        if not window.fault and baseline and window.p99 > LATENCY_FACTOR * baseline:
            ok = False
            lines.append(f"window at {window.start / 60:.0f} min: p99 {window.p99 * 1000:.0f} ms, over 2× the first")
    return lines, ok


def probe_figures(
    probes: Sequence[tuple[float, float]], faults: Sequence[tuple[float, float, str]], seconds: float
) -> list[str]:
    """The broker's own send → fetch time (a bare consumer's), outside faults: its p99 in each half, its worst window.

    Not a bound: set beside the workers' event → alert, it tells whose time grew, theirs or the broker's.
    """
    half = seconds / 2
    names = ("hour 1", "hour 2") if abs(seconds - 7200) < 60 else ("first half", "second half")
    quiet = [(sent, v) for sent, v in probes if not _in_fault(sent, faults)]
    if not quiet:
        return ["the broker's own send → fetch: nothing fetched"]
    halves = [[v for sent, v in quiet if sent < half], [v for sent, v in quiet if sent >= half]]
    shown = ", ".join(
        f"{name} {_quantile(values, 0.99) * 1000:.0f} ms" for name, values in zip(names, halves, strict=True) if values
    )
    worst = max((w for w in windows(probes, faults) if not w.fault), key=lambda w: w.p99, default=None)
    return [
        f"the broker's own send → fetch outside faults (a bare consumer waiting as a worker does), p99: {shown}"
        + (f"; worst 5-minute window {worst.p99 * 1000:.0f} ms at {worst.start / 60:.0f} min" if worst else "")
    ]
