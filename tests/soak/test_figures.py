"""The soak's figures: a leak, a restart, a slow window, each told apart from a clean run."""

from __future__ import annotations

from pathlib import Path

from tests.soak.charts import Series, chart, page
from tests.soak.figures import (
    BrokerSample,
    Sample,
    broker_figures,
    figures,
    histogram_windows,
    probe_figures,
    report_figures,
    windows,
)
from tests.soak.soak import _buckets, _memory_report

HOUR = 3600.0


def _samples(rss: float, growth: float, pid_after: int = 1, fds: int = 40) -> list[Sample]:
    out = []
    for n in range(0, 7200, 60):
        pid = 1 if n < HOUR else pid_after
        store = (16.0, 64.0 * n / 7200, 2.0)  # the block cache fills
        heap = (100.0, 10.0 + 40.0 * n / 7200, 60.0, 5.0)  # the small objects' arenas fragment
        grown = rss * (1 + growth * n / 7200)
        out.append(Sample(float(n), "a", pid, grown, fds, 30.0, 0.0, 0.0, store=store, heap=heap))
    return out


def test_flat_memory_and_even_latency_hold() -> None:
    latencies = [(float(t), 0.05) for t in range(0, 7200, 5)]
    lines, ok = figures(_samples(200, 0.01), latencies, [], 7200)
    assert ok, lines
    assert any("hour 1" in line and "hour 2" in line for line in lines)


def test_memory_that_creeps_fails() -> None:
    lines, ok = figures(_samples(200, 0.2), [], [], 7200)
    assert not ok and any("over 5%" in line for line in lines), lines


def _spiking(floor_after: float) -> list[Sample]:
    """Every 10 s; a review report each minute takes 50 MiB for 30 s, given back after (the floor 400 MiB, then
    ``floor_after`` in hour 2). Hour 1 ends between two reports, hour 2 in the middle of one."""
    out = []
    for n in range(0, 7200, 10):
        floor = 400.0 if n < HOUR else floor_after
        spike = 50.0 if (n % 60 >= 30) == (n >= HOUR) else 0.0
        out.append(Sample(float(n), "a", 1, floor + spike, 40, 30.0, 0.0, 0.0))
    return out


def test_a_report_s_memory_given_back_within_a_minute_is_no_growth_and_a_higher_floor_is() -> None:
    lines, ok = figures(_spiking(400.0), [], [], 7200)
    assert ok, lines
    said = next(line for line in lines if "end →" in line and "RSS" in line)
    assert "+0.0% (ok 5%): its least over the last 5 minutes 400 → 400 MiB (the last sample 400 → 450)" in said
    lines, ok = figures(_spiking(424.0), [], [], 7200)  # 6 % more kept
    assert not ok and any("+6.0% (over 5%)" in line for line in lines), lines


def test_the_store_s_and_the_heap_s_parts_of_the_memory_are_told_at_each_hour_s_end() -> None:
    lines, _ = figures(_samples(200, 0.2), [], [], 7200)
    said = [line for line in lines if "of which" in line]
    assert said == [
        "a: of which RocksDB (MiB), hour 1 end → hour 2 end: write buffers 16 → 16, block cache 31 → 63, "
        "table readers 2 → 2",
        "a: of which the heap (MiB), hour 1 end → hour 2 end: Python's small objects 100 → 100, "
        "free in their arenas 30 → 50, C allocator in use 60 → 60, C allocator free 5 → 5",
    ], lines


def test_a_worker_restarted_between_the_hours_is_not_compared() -> None:
    lines, ok = figures(_samples(200, 0.2, pid_after=2), [], [], 7200)
    assert ok and any("restarted between the halves" in line for line in lines), lines


def test_a_slow_window_fails_outside_a_fault_and_not_inside_one() -> None:
    latencies = [(float(t), 0.05 if t < 6000 or t >= 6300 else 0.5) for t in range(0, 7200, 5)]
    _, ok = figures(_samples(200, 0.0), latencies, [], 7200)
    assert not ok
    _, ok = figures(_samples(200, 0.0), latencies, [(5990.0, 6310.0, "broker paused")], 7200)
    assert ok
    [window] = [w for w in windows(latencies, [(5990.0, 6310.0, "broker paused")]) if w.start == 6000]
    assert window.fault == "broker paused" and window.p99 == 0.5 and window.count == 60


def test_the_page_draws_each_series_and_shades_the_faults() -> None:
    svg = chart("RSS", "MiB", [Series("a", [(0.0, 100.0), (60.0, 110.0)])], [(10.0, 20.0, "A frozen 25 s")])
    assert svg.count("<polyline") == 1 and "<rect" in svg and "A frozen 25 s" in svg
    html = page("soak", ["a: RSS 100 → 110 MiB"], {"RSS": svg})
    assert html.startswith("<!doctype html>") and "a: RSS 100 → 110 MiB" in html


def test_the_brokers_cpu_is_the_mean_over_the_first_and_the_last_ten_minutes() -> None:
    # 20% of a core for the first half hour, then 60%: CPU seconds are the integral
    samples, cpu = [], 0.0
    for n in range(0, 3601, 10):
        samples.append(BrokerSample(float(n), cpu, 0.0, 100.0 + n / 60))
        cpu += 10 * (0.2 if n < 1800 else 0.6)
    (line,) = broker_figures(samples)
    assert "CPU 20% of a core over the first 10 minutes, 60% over the last" in line, line
    assert "RSS 100 → 160 MiB" in line, line


def test_report_times_are_told_per_half_with_the_last_size() -> None:
    reports = [(60.0 * n, 0.5 if n < 60 else 2.0 + n / 100, 1_000_000 + n) for n in range(1, 120)]
    lines = report_figures(reports, 7200)
    assert lines[0] == "review report, first half: 59 answered, median 0.5 s, longest 0.5 s"
    assert lines[1] == "review report, second half: 60 answered, median 2.9 s, longest 3.2 s"
    assert lines[2] == "review report at the end: 1.0 million characters"
    assert report_figures([], 7200) == ["review report: never answered"]


def test_the_last_memory_report_in_a_worker_s_log_is_read_whole(tmp_path: Path) -> None:
    log = tmp_path / "monitor-1.log"
    log.write_text(
        "[2026-12-06 17:56:58,699] [1] [WARNING] resident memory: 203.1 MiB; 196.8 MiB once the allocator gave back\n"
        "  live objects: 340,958; grown most since the last report:\n"
        "  +66,813 builtins.tuple (66,813 live)\n"
        "[2026-12-06 18:02:58,769] [1] [WARNING] resident memory: 264.5 MiB; 256.6 MiB once the allocator gave back\n"
        "  live objects: 410,616; grown most since the last report:\n"
        "  +23,890 builtins.list (88,647 live)\n"
        "  +11,962 monitor.state.history._Open (20,083 live)\n"
        "[2026-12-06 18:02:59,000] [1] [INFO] a line after it\n",
        encoding="utf-8",
    )
    assert _memory_report(log, top=1) == [
        "resident memory: 264.5 MiB; 256.6 MiB once the allocator gave back",
        "live objects: 410,616; grown most since the last report:",
        "+23,890 builtins.list (88,647 live)",
    ]
    assert _memory_report(tmp_path / "none.log") == []


def test_the_broker_s_own_time_is_told_by_half_outside_faults_with_its_worst_window() -> None:
    # 10 ms in hour 1, 40 ms in hour 2, 900 ms while the broker is paused (not counted), 70 ms at 100 minutes.
    probes = [(float(t), 0.010 if t < HOUR else 0.040) for t in range(0, 7200)]
    probes += [(float(t), 0.9) for t in range(3000, 3060)] + [(6000.0 + t / 10, 0.070) for t in range(200)]
    (line,) = probe_figures(probes, [(2990.0, 3070.0, "broker paused 60 s")], 7200)
    assert line.endswith("p99: hour 1 10 ms, hour 2 70 ms; worst 5-minute window 70 ms at 100 min"), line
    assert probe_figures([], [], 7200) == ["the broker's own send → fetch: nothing fetched"]


_SCRAPE = """# HELP compliance_record_wait_seconds ...
compliance_record_wait_seconds_bucket{le="0.01",topic="compliance.task-status"} 90.0
compliance_record_wait_seconds_bucket{le="0.1",topic="compliance.task-status"} 99.0
compliance_record_wait_seconds_bucket{le="+Inf",topic="compliance.task-status"} 100.0
compliance_record_wait_seconds_bucket{le="0.01",topic="compliance.ticks"} 5.0
compliance_record_wait_seconds_bucket{le="0.1",topic="compliance.ticks"} 5.0
compliance_record_wait_seconds_bucket{le="+Inf",topic="compliance.ticks"} 5.0
compliance_record_wait_seconds_count{topic="compliance.task-status"} 100.0
"""


def test_a_histogram_s_buckets_are_read_from_a_scrape_for_the_labels_asked() -> None:
    assert _buckets(_SCRAPE, "compliance_record_wait_seconds", topic="compliance.task-status") == (
        (0.01, 90.0),
        (0.1, 99.0),
        (float("inf"), 100.0),
    )
    assert _buckets(_SCRAPE, "compliance_record_wait_seconds")[0] == (0.01, 95.0), "every topic's, summed"


def _waits(worker: str, pid: int, at: float, fast: float, slow: float) -> Sample:
    buckets = ((0.01, fast), (0.5, fast + slow), (float("inf"), fast + slow))
    return Sample(at, worker, pid, 100.0, 40, 30.0, 0.0, 0.0, histograms={"waits": buckets})


def test_a_worker_histogram_s_quantiles_per_window_count_what_each_worker_observed_in_it() -> None:
    samples = [
        _waits("a", 1, 0.0, 0, 0),
        _waits("b", 2, 0.0, 0, 0),
        _waits("a", 1, 299.0, 1000, 0),  # window 1: 2,000 fast, none slow
        _waits("b", 2, 299.0, 1000, 0),
        _waits("a", 1, 599.0, 1980, 20),  # window 2: a 980 fast and 20 slow; b restarted: all it counts is new
        _waits("b", 3, 599.0, 990, 10),
    ]
    first, second = histogram_windows(samples, "waits", [(400.0, 460.0, "freeze")], 600.0)
    assert (first.count, first.p50, first.p99, first.fault) == (2000, 0.01, 0.01, "")
    assert (second.count, second.p99, second.fault) == (2000, 0.5, "freeze"), "30 slow of 2,000 pass the 99th"
    assert histogram_windows(samples, "other", [], 600.0) == []
