"""Decoding benchmark: a record of 500 typical events, as a provider's batch arrives; prints figures, asserts nothing.

Run: ``python -m tests.benchmarks.decode``. Each record is decoded many times
(``decode_record``: JSON parse, validation, the ``Decoded``); the best of
several rounds is printed as µs per event: a record of 500 in-progress
dossiers (``tests.integration.dossiers``: date deadlines, a ``+00:00``
instant with microseconds), and one of 500 indicator reports.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime

from events.codec import decode_record
from events.models import EventKind
from tests.integration.dossiers import BATCH, dossier_records


def indicator_record(now: datetime) -> bytes:
    return json.dumps(
        [
            {
                "event_id": f"ind-{n}",
                "source": "bench",
                "unit_id": "VN-01",
                "indicator": f"ty-le-{n % 20}",
                "value": n / BATCH,
                "period": "2026-H2",
                "labels": {"program": "de-an-06"},
                "occurred_at": now.isoformat(),
            }
            for n in range(BATCH)
        ]
    ).encode()


def per_event(value: bytes, kind: EventKind, rounds: int, repeat: int) -> float:
    """The best round's µs per event."""
    count = len(decode_record(value, default_kind=kind).events)
    assert count == BATCH, count
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(repeat):
            decode_record(value, default_kind=kind)
        best = min(best, (time.perf_counter() - started) / (repeat * count))
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    now = datetime(2026, 12, 5, 8, 30, 15, 123456, tzinfo=UTC)
    _, dossiers = next(dossier_records(BATCH, now, units=["VN-01"]))
    for name, value, kind in (
        ("dossiers (task-status)", dossiers, EventKind.TASK_STATUS),
        ("indicator reports", indicator_record(now), EventKind.INDICATOR),
    ):
        print(
            f"decode, a record of {BATCH} {name}: {per_event(value, kind, args.rounds, args.repeat):.2f} µs per event"
        )


if __name__ == "__main__":
    main()
