"""Fault scenarios on the real embedded broker: each publishes a workload, injects a fault, and checks.

A scenario returns the checker's ``Report``; ``tests/faults/test_faults.py``
runs each once with a small workload in ``make test``, and ``make chaos``
runs each three times at 3,000 tasks and prints a table.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from monitor.devtools.broker import EmbeddedBroker
from monitor.kafka.topics import Topics
from monitor.worker.outbox import GENERATION_HEADER
from rules.language import DeadlineRule
from rules.loading import BUNDLED_PACK, load_pack
from tests.faults.checker import RULE, Report, Workload, check_alerts, check_generations, check_views
from tests.integration.kafka import (
    MonitorProcess,
    alert_records,
    group_positions,
    http_get,
    read_all,
    sample,
    wait_for,
)

__all__ = ["SCENARIOS", "Scenario"]

TOPICS = Topics()
UNITS = [f"VN-{n:02d}" for n in (1, 2, 4, 5, 7, 9, 13, 18, 21, 23)]  # provinces in force today
PARTITIONS = 4


@dataclass(frozen=True)
class Scenario:
    """A named fault, run against a workload of ``items`` tasks."""

    name: str
    run: Callable[[Path, int], Report]


def _worker(
    broker: EmbeddedBroker, workdir: Path, data: Path, env: dict[str, str] | None = None, tick_interval: float = 1.0
) -> MonitorProcess:
    """A worker of the suite: ticking every second unless told otherwise, so that faults are seen quickly."""
    workdir.mkdir(parents=True, exist_ok=True)
    ticks = ["--tick-interval", f"{tick_interval:g}"]
    args = ["worker", "--broker", broker.url, *ticks, "--partitions", str(PARTITIONS)]
    return MonitorProcess([*args, "--data-dir", str(data)], workdir, env)


async def _produce(bootstrap: str, events: list[dict[str, Any]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        sent = [
            await producer.send(TOPICS.task_status, json.dumps(e).encode(), key=e["unit_id"].encode()) for e in events
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


class Publisher:
    """Publishes the workload, one event per record, and remembers what it implies."""

    def __init__(self, broker: EmbeddedBroker, items: int) -> None:
        self.broker = broker
        self.items = items
        self.workload = Workload()
        self.deadline = datetime.now(UTC) - timedelta(days=3)
        self._overdue_at = datetime.now(UTC)
        self._serial = 0
        self._deadlines: dict[tuple[str, str], datetime] = {}

    def _event(
        self, unit: str, task: str, status: str, at: datetime, deadline: datetime | None = None
    ) -> dict[str, Any]:
        self._serial += 1
        return {
            "event_id": f"f-{self._serial}",
            "source": "fault-suite",
            "unit_id": unit,
            "task_id": task,
            "kind": "task",
            "status": status,
            "deadline": (deadline or self.deadline).isoformat(),
            "occurred_at": at.isoformat(),
        }

    def tasks(self) -> list[tuple[str, str]]:
        return [(UNITS[n % len(UNITS)], f"T-{n}") for n in range(self.items)]

    def overdue(self) -> None:
        now = self._overdue_at = datetime.now(UTC)
        events = [self._event(unit, task, "in_progress", now) for unit, task in self.tasks()]
        asyncio.run(_produce(self.broker.bootstrap, events))
        for unit, task in self.tasks():
            self.workload.overdue(unit, task)

    def complete(self, share: float = 0.5) -> None:
        """Complete every other task (or ``share`` of them), late, each at its own instant after it fired."""
        chosen = [t for n, t in enumerate(self.tasks()) if n % round(1 / share) == 0]
        start = max(datetime.now(UTC), self._overdue_at + timedelta(seconds=1))
        events: list[dict[str, Any]] = []
        for unit, task in chosen:
            at = start + timedelta(microseconds=len(events))
            events.append(self._event(unit, task, "completed", at))
            self.workload.completed(unit, task, at)
        asyncio.run(_produce(self.broker.bootstrap, events))

    def spread(self, deadlines: list[datetime]) -> None:
        """Publish every task in progress, the n-th due at ``deadlines[n % len(deadlines)]``."""
        self._deadlines = {task: deadlines[n % len(deadlines)] for n, task in enumerate(self.tasks())}
        self.touch()

    def touch(self) -> None:
        """Publish every task in progress again (a progress report), due when ``spread`` said."""
        now = datetime.now(UTC)
        events = [
            self._event(unit, task, "in_progress", now, self._deadlines[(unit, task)]) for unit, task in self.tasks()
        ]
        asyncio.run(_produce(self.broker.bootstrap, events))
        for unit, task in self.tasks():
            self.workload.overdue(unit, task)

    def trickle(self, rate: float) -> None:
        """Publish every task overdue, then complete every other one, ``rate`` events a second throughout."""
        asyncio.run(self._trickle(rate))

    async def _trickle(self, rate: float) -> None:
        """Each tenth of a second, that slice's events: sent, each acknowledged, before the next slice."""
        producer = AIOKafkaProducer(bootstrap_servers=self.broker.bootstrap, linger_ms=5)
        await producer.start()
        try:
            tasks = self.tasks()
            todo = [*tasks, *tasks[::2]]
            began = time.monotonic()
            for start in range(0, len(todo), max(1, round(rate / 10))):
                await asyncio.sleep(max(0.0, began + start / rate - time.monotonic()))
                sent = []
                for n in range(start, min(start + max(1, round(rate / 10)), len(todo))):
                    unit, task = todo[n]
                    completing = n >= len(tasks)
                    at = datetime.now(UTC)
                    event = self._event(unit, task, "completed" if completing else "in_progress", at)
                    sent.append(await producer.send(TOPICS.task_status, json.dumps(event).encode(), key=unit.encode()))
                    if completing:
                        self.workload.completed(unit, task, at)
                    else:
                        self.workload.overdue(unit, task)
                await asyncio.gather(*sent)
        finally:
            await producer.stop()


def _within(seconds: float, items: int) -> float:
    """A wait's bound: ``seconds`` at the suite's 3,000 items, and a second more per 1,000 items beyond them."""
    return seconds + max(0, items - 3000) / 1000


def _fired(broker: EmbeddedBroker, workload: Workload) -> Callable[[], bool]:
    def check() -> bool:
        records = alert_records(broker.bootstrap)
        fired = {
            (r["labels"]["unit_id"], r["labels"]["task_id"])
            for r in records
            if r["rule_id"] == RULE and r["stage"] == "overdue" and r["status"] == "firing"
        }
        return set(workload.tasks) <= fired

    return check


def _settled(broker: EmbeddedBroker, workload: Workload) -> Callable[[], bool]:
    def check() -> bool:
        records = alert_records(broker.bootstrap)
        resolved = {
            (r["labels"]["unit_id"], r["labels"]["task_id"])
            for r in records
            if r["rule_id"] == RULE and r["status"] == "resolved"
        }
        return _fired(broker, workload)() and set(workload.completed_at) <= resolved

    return check


def _wait_settled(
    broker: EmbeddedBroker, workload: Workload, workers: list[MonitorProcess], timeout: float = 180
) -> None:
    """Wait until every implied firing and resolution is on the topic; if it never is, say what is missing and why."""
    try:
        wait_for("every firing and resolution", _settled(broker, workload), _within(timeout, len(workload.tasks)), 0.5)
    except AssertionError:
        report = check_alerts(workload, _alerts_in_offset_order(broker))
        tail = workers[0].log.read_text(errors="replace")[-3000:] if workers[0].log.exists() else ""
        raise AssertionError(
            "\n".join(["not settled:", *report.detail, *_explain(broker, report, workers), tail])
        ) from None


def _explain(broker: EmbeddedBroker, report: Report, workers: Sequence[MonitorProcess] = ()) -> list[str]:
    """For each resolution the report finds lost: where the completion is on the topic, and what each worker holds.

    Tells a record the group committed and no worker applied (the task still
    overdue in its owner's list) from a transition lost on its way to the
    alerts topic (the task completed in the state, its alert not resolved).
    """
    lost = report.unresolved[:3]
    if not lost:
        return []
    lines = []
    positions = group_positions(broker.bootstrap, "compliance-monitor", [TOPICS.task_status])
    records = read_all(broker.bootstrap, TOPICS.task_status)
    for unit, task in lost:
        for record in records:
            event = json.loads(record.value)
            if event.get("task_id") == task and event.get("status") == "completed":
                committed, end = positions.get((record.topic, record.partition), (None, None))
                lines.append(
                    f"{task} completed at {record.topic}[{record.partition}]@{record.offset} "
                    f"(committed {committed}, end {end})"
                )
        for worker in workers:
            status, body = http_get(f"{worker.base_url}/api/v1/units/{unit}/overdue?limit=5000")
            if status != 200:
                continue
            held = {item["task_id"]: item["status"] for item in json.loads(body).get("overdue", [])}
            lines.append(
                f"{worker.workdir.name} owns {unit}: "
                + (f"{task} {held[task]}, its alert firing" if task in held else f"{task} has no alert firing")
            )
    return lines


def _views(workers: list[MonitorProcess]) -> list[dict[str, Any]]:
    """Each worker's ``/api/v1/units`` (a 503 — partitions still moving — is asked again, a while)."""
    answers = []
    for worker in workers:
        answered: list[tuple[int, str]] = []

        def answer(worker: MonitorProcess = worker, answered: list[tuple[int, str]] = answered) -> bool:
            answered.append(http_get(worker.base_url + "/api/v1/units?limit=5000"))
            return answered[-1][0] != 503

        wait_for(f"{worker.workdir.name} to answer for every unit", answer, timeout=30, log=worker.log)
        status, body = answered[-1]
        assert status == 200, body
        answers.append(json.loads(body))
    return answers


def _alerts_in_offset_order(broker: EmbeddedBroker) -> list[dict[str, Any]]:
    records = sorted(read_all(broker.bootstrap, TOPICS.alerts), key=lambda r: (r.partition, r.offset))
    return [json.loads(r.value) for r in records if r.value]


def _generations(broker: EmbeddedBroker) -> dict[int, list[int | None]]:
    """The ``monitor-generation`` header of every alert record, by partition, in offset order."""
    by_partition: dict[int, list[int | None]] = {}
    for record in sorted(read_all(broker.bootstrap, TOPICS.alerts), key=lambda r: (r.partition, r.offset)):
        raw = dict(record.headers).get(GENERATION_HEADER)
        by_partition.setdefault(record.partition, []).append(int(raw) if raw else None)
    return by_partition


def _missed_unit_deadlines(units: list[str]) -> dict[str, int]:
    """Per unit, the bundled pack's roster deadlines already past: the workload publishes no task that meets one."""
    pack = load_pack([BUNDLED_PACK])
    now = datetime.now(UTC)
    past = [
        r for r in pack.unit_rules if isinstance(r.rule, DeadlineRule) and r.rule.due is not None and r.rule.due <= now
    ]
    return {unit: sum(1 for r in past if r.covers(unit)) for unit in units}


def _check(broker: EmbeddedBroker, workload: Workload, workers: list[MonitorProcess]) -> Report:
    report = check_alerts(workload, _alerts_in_offset_order(broker))
    check_generations(_generations(broker), report)
    missed = _missed_unit_deadlines(workload.units())
    check_views(workload, _views(workers), report, missed)
    if report.views_wrong and workers:  # a view not caught up yet, or state lost for good? Look again, to say which
        time.sleep(10)
        later = Report()
        check_views(workload, _views(workers), later, missed)
        report.detail.append(
            f"views 10 s later: {later.views_wrong} wrong"
            + (" (read before the worker had caught up: no state lost)" if not later.views_wrong else " (still)")
        )
    report.detail.extend(_explain(broker, report, workers))
    dead = read_all(broker.bootstrap, TOPICS.dead_letter)
    for record in dead:
        report.note("wrong", f"dead-lettered: {dict(record.headers).get('dlq_reason', b'').decode()}")
    return report


@contextmanager
def _broker(workdir: Path) -> Iterator[EmbeddedBroker]:
    with (workdir / "broker.log").open("wb") as log, EmbeddedBroker(log=log) as broker:
        yield broker


def frozen_worker(workdir: Path, items: int, freeze: float = 25.0) -> Report:
    """Worker A frozen (SIGSTOP) beside B while completions arrive, resumed; then B leaves and A holds everything."""
    with _broker(workdir) as broker, ExitStack() as stack:
        a = stack.enter_context(_worker(broker, workdir / "a", workdir / "a" / "data"))
        a.wait_ready()
        b = _worker(broker, workdir / "b", workdir / "b" / "data")
        try:
            b.start().wait_ready(timeout=90)
            publisher = Publisher(broker, items)
            publisher.overdue()
            wait_for("every task to fire", _fired(broker, publisher.workload), timeout=_within(120, items), log=a.log)
            assert a.process is not None
            os.kill(a.process.pid, signal.SIGSTOP)
            try:
                publisher.complete()
                time.sleep(freeze)
            finally:
                os.kill(a.process.pid, signal.SIGCONT)
            _wait_settled(broker, publisher.workload, [b])
        except BaseException:
            b.stop()
            raise
        return _resumed_then_alone(broker, publisher.workload, a, b)


def frozen_worker_while_another_joins(workdir: Path, items: int, freeze: float = 25.0) -> Report:
    """Worker A, holding every partition, frozen (SIGSTOP) while B starts and completions arrive; then resumed.

    B takes the partitions over once A's session expires and resolves what
    was completed. Resumed, A rejoins and gets back some of the partitions it
    held before it froze (every one of them moved on without it); then B
    leaves and A holds them all.
    """
    with _broker(workdir) as broker, ExitStack() as stack:
        a = stack.enter_context(_worker(broker, workdir / "a", workdir / "a" / "data"))
        a.wait_ready()
        publisher = Publisher(broker, items)
        publisher.overdue()
        wait_for("every task to fire", _fired(broker, publisher.workload), timeout=_within(120, items), log=a.log)
        assert a.process is not None
        os.kill(a.process.pid, signal.SIGSTOP)
        b = _worker(broker, workdir / "b", workdir / "b" / "data")
        try:
            try:
                b.start()
                publisher.complete()
                _wait_settled(broker, publisher.workload, [b])
                time.sleep(max(0.0, freeze - 20))
            finally:
                os.kill(a.process.pid, signal.SIGCONT)
        except BaseException:
            b.stop()
            raise
        return _resumed_then_alone(broker, publisher.workload, a, b)


def _resumed_then_alone(broker: EmbeddedBroker, workload: Workload, a: MonitorProcess, b: MonitorProcess) -> Report:
    """A resumed beside B: check both workers' views, then let B leave and check A alone with every partition."""
    try:
        a.wait_ready(timeout=90)
        b.wait_ready(timeout=90)
        time.sleep(5)  # a zombie write, or a stale state re-published, would show by now
        both = _views([a, b])
    finally:
        b.stop()
    a.wait_ready(timeout=90)
    wait_for("A to own every partition", lambda: _owns_all(a), timeout=60, log=a.log)
    time.sleep(5)
    report = _check(broker, workload, [a])
    return check_views(workload, both, report, _missed_unit_deadlines(workload.units()))


def _owns_all(worker: MonitorProcess) -> bool:
    status, body = http_get(worker.base_url + "/readyz")
    return status == 200 and json.loads(body).get("partitions") == list(range(PARTITIONS))


def _accepted(worker: MonitorProcess) -> float:
    return sample(worker.metrics(), "compliance_events_total", topic=TOPICS.task_status, outcome="accepted") or 0.0


def _kill_midway(worker: MonitorProcess, events: int, publish: Callable[[], None]) -> None:
    """Publish in the background and SIGKILL the worker once it has accepted a quarter of the events."""
    before = _accepted(worker)
    thread = threading.Thread(target=publish)
    thread.start()
    try:
        quarter = _within(60, events)
        wait_for("the worker to be a quarter through", lambda: _accepted(worker) - before >= events / 4, quarter, 0.2)
    finally:
        worker.stop(signal.SIGKILL)
        thread.join()


def crash_then_failover(workdir: Path, items: int) -> Report:
    """SIGKILL while firing and again while resolving, restarts on the same data dir, then a fresh worker."""
    with _broker(workdir) as broker:
        data = workdir / "first" / "data"
        worker = _worker(broker, workdir / "first", data)
        try:
            worker.start().wait_ready()
            publisher = Publisher(broker, items)
            _kill_midway(worker, items, publisher.overdue)
            worker.start().wait_ready(timeout=90)
            wait_for(
                "every task to fire", _fired(broker, publisher.workload), timeout=_within(120, items), log=worker.log
            )
            _kill_midway(worker, items // 2, publisher.complete)
            worker.start().wait_ready(timeout=90)
            _wait_settled(broker, publisher.workload, [worker])
        finally:
            worker.stop()
        fresh = _worker(broker, workdir / "second", workdir / "second" / "data")
        with fresh:
            fresh.wait_ready(timeout=90)
            time.sleep(3)
            return _check(broker, publisher.workload, [fresh])


def churn(workdir: Path, items: int, period: float = 10.0) -> Report:
    """Two workers, and a third started and stopped every ``period`` seconds while events arrive steadily.

    Events arrive at up to 50 a second, or in five minutes when there are more
    (``items`` overdue tasks, then every other one completed); each start and each stop of the third worker moves
    partitions between all three. The handoffs must carry complete state:
    afterwards the topic and both remaining workers' views are exact.
    """
    rate = max(min(50.0, max(10.0, items / 20)), items / 200)  # 100,000 tasks: 500 a second, five minutes
    cycles = 6 if items >= 1000 else 2  # two minutes of churn at full size
    with _broker(workdir) as broker, ExitStack() as stack:
        a = stack.enter_context(_worker(broker, workdir / "a", workdir / "a" / "data"))
        a.wait_ready()
        b = stack.enter_context(_worker(broker, workdir / "b", workdir / "b" / "data"))
        b.wait_ready(timeout=90)
        publisher = Publisher(broker, items)
        thread = threading.Thread(target=publisher.trickle, args=(rate,))
        thread.start()
        try:
            for n in itertools.count():
                if not thread.is_alive() and n >= cycles:
                    break
                with _worker(broker, workdir / f"c{n}", workdir / f"c{n}" / "data"):
                    time.sleep(period)
                time.sleep(period)
        finally:
            thread.join()
        for worker in (a, b):
            worker.wait_ready(timeout=90)
        _wait_settled(broker, publisher.workload, [a, b])
        time.sleep(3)
        return _check(broker, publisher.workload, [a, b])


FAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")


# libfaketime 0.9.10 (Debian's) with FAKETIME_DONT_FAKE_MONOTONIC shifts an absolute CLOCK_MONOTONIC deadline
# given to clock_nanosleep as if it were a faked one, and the kernel refuses the result (EINVAL): Python 3.11's
# time.sleep, which sleeps to an absolute monotonic deadline, then raises in every thread that sleeps
# (wolfcw/libfaketime#426, fixed after 0.9.10). Whether the shifted deadline goes negative depends on how long the
# machine has been up, so the scenario passed or failed by the hour. This shim, preloaded before libfaketime, sends
# monotonic sleeps straight to the kernel; the wall clock stays faked.
_SLEEP_FIX = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int clock_nanosleep(clockid_t clock_id, int flags, const struct timespec *request, struct timespec *remain) {
    if (clock_id == CLOCK_MONOTONIC) {
        return syscall(SYS_clock_nanosleep, clock_id, flags, request, remain) == 0 ? 0 : errno;
    }
    static int (*next)(clockid_t, int, const struct timespec *, struct timespec *);
    if (next == NULL) {
        next = dlsym(RTLD_NEXT, "clock_nanosleep");
    }
    return next(clock_id, flags, request, remain);
}
"""


def _monotonic_sleep_fix(workdir: Path) -> Path:
    """The shim above, compiled into ``workdir`` (with the machine's C compiler)."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise AssertionError("no C compiler (cc or gcc) to build the monotonic sleep fix for libfaketime")
    source, library = workdir / "sleepfix.c", workdir / "sleepfix.so"
    source.write_text(_SLEEP_FIX)
    subprocess.run([compiler, "-shared", "-fPIC", "-O2", "-o", str(library), str(source), "-ldl"], check=True)
    return library


def clock_jump(workdir: Path, items: int) -> Report:
    """The worker's wall clock jumps a day ahead, then an hour back: alerts fire once and never flap.

    The clock is moved under the worker process with libfaketime (the
    Debian ``faketime`` package), monotonic time untouched. Tasks are due
    three days ago, in 12 hours and in a day less 30 minutes. A day ahead,
    all are overdue. An hour back, with a progress report for every task,
    the last group would seem not due yet: a worker that followed the clock
    back would resolve them (and fire them again an hour later); it must
    hold still instead (every task fired once, none resolved).
    """
    if not FAKETIME.exists():
        raise AssertionError(f"{FAKETIME} is missing: apt-get install faketime (.ci/run installs it)")
    offset = workdir / "clock-offset"
    offset.write_text("+0\n")
    env = {
        "LD_PRELOAD": f"{_monotonic_sleep_fix(workdir)} {FAKETIME}",
        "FAKETIME_TIMESTAMP_FILE": str(offset),
        # Read the offset file again at most every second (with no cache at all every clock read opens it:
        # 45 times the cost of a read, enough to starve a worker of CPU under 3,000 tasks).
        "FAKETIME_CACHE_DURATION": "1",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }
    with _broker(workdir) as broker:
        worker = _worker(broker, workdir / "w", workdir / "w" / "data", env)
        with worker:
            worker.wait_ready()
            publisher = Publisher(broker, items)
            now = datetime.now(UTC)
            publisher.spread([now - timedelta(days=3), now + timedelta(hours=12), now + timedelta(days=1, minutes=-30)])
            past = Workload(tasks={t: s for n, (t, s) in enumerate(publisher.workload.tasks.items()) if n % 3 == 0})
            wait_for(
                "the tasks due three days ago to fire",
                _fired(broker, past),
                timeout=_within(120, items),
                log=worker.log,
            )
            offset.write_text("+1d\n")
            wait_for(
                "every task to fire a day ahead",
                _fired(broker, publisher.workload),
                timeout=_within(120, items),
                log=worker.log,
            )
            offset.write_text("+23h\n")
            publisher.touch()  # progress reports while the clock is an hour back: evaluated, they must not resolve
            time.sleep(10)  # and ten ticks
            return _check(broker, publisher.workload, [worker])


def disk_full(workdir: Path, items: int) -> Report:
    """The data directory's filesystem fills up while completions arrive; space returns; the worker restarts."""
    mount = workdir / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)], check=True)
    try:
        with _broker(workdir) as broker:
            worker = _worker(broker, workdir / "w", mount / "data")
            try:
                worker.start().wait_ready()
                publisher = Publisher(broker, items)
                publisher.overdue()
                wait_for(
                    "every task to fire",
                    _fired(broker, publisher.workload),
                    timeout=_within(120, items),
                    log=worker.log,
                )
                filler = mount / "filler"
                _fill(filler)
                publisher.complete()

                def failing() -> bool:
                    status, body = http_get(worker.base_url + "/readyz")
                    return status == 503 and "store" in json.loads(body or "{}").get("problems", {})

                wait_for("/readyz to name the failing store", failing, timeout=60, log=worker.log)
                filler.unlink()
                worker.stop()
                worker.start().wait_ready(timeout=90)
                _wait_settled(broker, publisher.workload, [worker])
                time.sleep(3)
                return _check(broker, publisher.workload, [worker])
            finally:
                worker.stop()
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(path: Path) -> None:
    """Write ``path`` until the filesystem has no space left.

    Unbuffered: a buffered file keeps the bytes the full disk refused and
    raises ENOSPC again when it is closed.
    """
    with path.open("wb", buffering=0) as handle:
        chunk = b"\0" * (1 << 16)
        while True:
            try:
                handle.write(chunk)
            except OSError:
                break
    free = shutil.disk_usage(path.parent).free
    assert free < (1 << 17), f"{free} bytes still free"


def lost_broker(workdir: Path, items: int) -> Report:
    """The broker is killed and restarted empty: the worker says so, does not spin, gives up, stops when told."""
    report = Report()
    with _broker(workdir) as broker:
        env = {"MONITOR_BROKER_LOSS_TIMEOUT": "20"}
        worker = _worker(broker, workdir / "w", workdir / "w" / "data", env)
        try:
            worker.start().wait_ready()
            publisher = Publisher(broker, items)
            publisher.overdue()
            wait_for(
                "every task to fire", _fired(broker, publisher.workload), timeout=_within(120, items), log=worker.log
            )
            lines_before = len(worker.log.read_text(errors="replace").splitlines())
            assert broker.pid is not None
            os.kill(broker.pid, signal.SIGKILL)
            broker.stop()
            lost_at = time.monotonic()
            wait_for("/readyz to name the lost broker", lambda: _problem(worker, "broker"), 15, 0.2, worker.log)
            if time.monotonic() - lost_at > 10:
                report.note("views_wrong", f"/readyz took {time.monotonic() - lost_at:.0f}s to fail")
            broker.start()  # the same address, empty: the monitor's topics are gone
            wait_for("/readyz to name the missing topics", lambda: _problem(worker, "topics missing"), 30, 0.5)
            assert worker.process is not None
            code = worker.process.wait(timeout=60)
            if code != 3:
                report.note("wrong", f"the worker exited with {code}, not 3, after giving up on the broker")
            lines = len(worker.log.read_text(errors="replace").splitlines()) - lines_before
            if lines > 400:
                report.note("wrong", f"{lines} log lines in the {time.monotonic() - lost_at:.0f}s without a broker")
            worker.process = None
            # Restarted, the worker recreates its topics; told to stop while the broker is gone, it stops within 10 s.
            worker.start().wait_ready(timeout=90)
            assert broker.pid is not None
            os.kill(broker.pid, signal.SIGKILL)
            broker.stop()
            time.sleep(5)
            began = time.monotonic()
            worker.stop(signal.SIGTERM, timeout=15)
            if time.monotonic() - began > 10:
                report.note("wrong", f"SIGTERM took {time.monotonic() - began:.1f}s without a broker")
        finally:
            worker.stop(signal.SIGKILL)
    return report


def _problem(worker: MonitorProcess, text: str) -> bool:
    status, body = http_get(worker.base_url + "/readyz")
    return status == 503 and text in json.dumps(json.loads(body or "{}").get("problems", {}))


SCENARIOS = (
    Scenario("frozen worker", frozen_worker),
    Scenario("frozen, another joins", frozen_worker_while_another_joins),
    Scenario("crash then failover", crash_then_failover),
    Scenario("churn", churn),
    Scenario("clock jump", clock_jump),
    Scenario("disk full", disk_full),
    Scenario("lost broker", lost_broker),
)
