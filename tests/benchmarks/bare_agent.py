"""A faust agent that only counts records: the baseline for the worker benchmark.

With a sixth argument ``write``, it also writes each record to a RocksDB
table (one changelog-backed write per record, the least durable state costs):
the second baseline, separating faust's own cost of state from the monitor's.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import faust

PARTITIONS = 4  # as the worker benchmark creates the topic


def main() -> None:
    broker, topic, count, out, datadir = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]), sys.argv[5]
    write = sys.argv[6:] == ["write"]
    app = faust.App(
        "bench-bare-write" if write else "bench-bare",
        broker=broker,
        store="rocksdb://",
        web_enabled=False,
        datadir=datadir,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=10,
        broker_heartbeat_interval=2,
        broker_rebalance_timeout=10,
    )
    source = app.topic(topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    table = app.Table("records", key_type=bytes, value_type=bytes, partitions=PARTITIONS)
    seen = {"n": 0, "first": 0.0}

    @app.agent(source)
    async def count_records(stream):  # type: ignore[no-untyped-def]
        async for value in stream:
            if write:
                table[b"%d" % seen["n"]] = value
            seen["n"] += 1
            if seen["n"] == 1:
                seen["first"] = time.monotonic()
            if seen["n"] == count:
                out.write_text(f"{time.monotonic() - seen['first']}\n")

    sys.argv = [sys.argv[0], "worker", "-l", "warn"]  # faust's own command line
    app.main()


if __name__ == "__main__":
    main()
