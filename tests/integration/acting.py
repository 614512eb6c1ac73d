"""What the tests of viewers who act share: Nghệ An's and Hà Nội's viewers, and a JSON call to a worker's API."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from monitor.devtools.broker import EmbeddedBroker
from monitor.publishers import token_hash
from tests.integration.kafka import MonitorProcess, http_get, wait_for, worker_process

__all__ = ["HA_NOI", "NGHE_AN", "call", "two_workers", "viewers_file", "worker_dirs"]

NGHE_AN = {"Authorization": "Bearer viewer-nghean"}
HA_NOI = {"Authorization": "Bearer viewer-hanoi"}


def viewers_file(tmp_path: Path, more: str = "") -> Path:
    """A viewers file: Nghệ An's office (VN-22) and Hà Nội's (VN-HN), then ``more`` (e.g. an ``anonymous`` part)."""
    path = tmp_path / "viewers.yaml"
    path.write_text(
        f"""\
viewers:
  - id: nghean-stttt
    name: Sở TT&TT Nghệ An
    units: [VN-22]
    tokens: [{{sha256: {token_hash("viewer-nghean")}}}]
  - id: hanoi-stttt
    name: Sở TT&TT Hà Nội
    units: [VN-HN]
    tokens: [{{sha256: {token_hash("viewer-hanoi")}}}]
{more}""",
        encoding="utf-8",
    )
    return path


def call(url: str, headers: dict[str, str], body: Any = None, method: str | None = None) -> tuple[int, Any]:
    """The status and JSON answer of a request (a ``POST`` of ``body`` as JSON, when given)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json", **headers}, method=method
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), json.loads(exc.read() or b"{}")


def worker_dirs(tmp_path: Path) -> tuple[Path, Path]:
    """Two workers' own directories (made), kept across their restarts."""
    dirs = tmp_path / "w1", tmp_path / "w2"
    for path in dirs:
        path.mkdir(exist_ok=True)
    return dirs


@contextmanager
def two_workers(
    broker: EmbeddedBroker, dirs: tuple[Path, Path], env: dict[str, str]
) -> Iterator[tuple[MonitorProcess, MonitorProcess]]:
    """Two workers of one group in ``dirs``, both ready; stopped on leaving, one after the other.

    The second is stopped once the first holds every partition again: the
    embedded broker (Tansu 0.6.0) keeps naming a leader that left while its
    group was forming again, so when both leave at once (the follower first)
    the next two workers of the group join as followers of a member long gone
    and never become ready (seen once in CI: each rejoined every 13 s for
    90 s). A group re-formed around the first, then left, names no leader.

    faust's own lines from INFO up: a worker that does not become ready after a restart says which step it reached.
    """
    env = {"MONITOR_LOG_LEVEL": "info", **env}
    with worker_process(broker.url, dirs[0], env=env) as one, worker_process(broker.url, dirs[1], env=env) as two:
        one.wait_ready(timeout=90)
        two.wait_ready(timeout=90)
        yield one, two
        two.stop()
        wait_for("the first worker to hold every partition", lambda: _holds(one, [0, 1]), timeout=60, log=one.log)


def _holds(worker: MonitorProcess, partitions: list[int]) -> bool:
    """Whether the worker is ready and owns exactly ``partitions``."""
    status, body = http_get(worker.base_url + "/readyz")
    return status == 200 and json.loads(body).get("partitions") == partitions
