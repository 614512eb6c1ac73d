"""A faust agent that only counts records: the baseline for the worker benchmark."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import faust


def main() -> None:
    broker, topic, count, out, datadir = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]), sys.argv[5]
    app = faust.App(
        "bench-bare",
        broker=broker,
        store="memory://",
        web_enabled=False,
        datadir=datadir,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=10,
        broker_heartbeat_interval=2,
        broker_rebalance_timeout=10,
    )
    source = app.topic(topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    seen = {"n": 0, "first": 0.0}

    @app.agent(source)
    async def count_records(stream):  # type: ignore[no-untyped-def]
        async for _ in stream:
            seen["n"] += 1
            if seen["n"] == 1:
                seen["first"] = time.monotonic()
            if seen["n"] == count:
                out.write_text(f"{time.monotonic() - seen['first']}\n")

    sys.argv = [sys.argv[0], "worker", "-l", "warn"]  # faust's own command line
    app.main()


if __name__ == "__main__":
    main()
