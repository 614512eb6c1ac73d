"""``make chaos``: every fault scenario ``--runs`` times at ``--items`` tasks; a table of what went wrong.

Prints, per scenario and run: lost, duplicated and wrong transitions, wrong
views and zombie writes (each must be 0), and how long the run took. A run
that does not finish is a failed run, with its reason. Exits non-zero if any
run failed; the logs (broker, workers) of a failed run are kept and named.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from tests.faults.scenarios import SCENARIOS


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=3000, help="tasks per run (default 3,000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per scenario (default 3)")
    parser.add_argument("--only", help="run only the scenarios whose name contains this")
    args = parser.parse_args()
    # Stopped with SIGTERM (a CI timeout, kill): unwind like Ctrl-C, so every broker and worker started is stopped.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    chosen = [s for s in SCENARIOS if not args.only or args.only in s.name]
    header = (
        f"{'scenario':<22} {'run':>3} {'lost':>5} {'dup':>5} {'wrong':>5} {'views':>5} {'zombie':>6} {'seconds':>8}"
    )
    rows = [header, "-" * len(header)]
    print(header, flush=True)
    failed = 0
    for scenario in chosen:
        for run in range(1, args.runs + 1):
            began = time.monotonic()
            slug = scenario.name.replace(" ", "-").replace(",", "")
            scratch = Path(tempfile.mkdtemp(prefix=f"chaos-{slug}-{run}-"))
            try:
                report = scenario.run(scratch, args.items)
            except Exception as exc:  # a scenario that could not finish is a failed run, with its reason
                print(f"{scenario.name} run {run}: did not finish: {exc}", file=sys.stderr)
                print(f"    logs kept in {scratch}", file=sys.stderr)
                rows.append(f"{scenario.name:<22} {run:>3} did not finish (logs in {scratch})")
                failed += 1
                continue
            row = (
                f"{scenario.name:<22} {run:>3} {report.lost:>5} {report.duplicated:>5} {report.wrong:>5} "
                f"{report.views_wrong:>5} {report.zombie:>6} {time.monotonic() - began:>8.0f}"
            )
            rows.append(row)
            print(row, flush=True)
            for line in report.detail[:10]:
                print(f"    {line}", flush=True)
            if report.clean:
                shutil.rmtree(scratch, ignore_errors=True)
            else:
                print(f"    logs kept in {scratch}", flush=True)
                failed += 1
    print("\n".join(["", *rows]))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
