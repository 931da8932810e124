"""How close ``reconciler apply`` runs to the rate limit's floor, and whether it trips the limit.

Starts the Respan emulator limited to ``--rate`` requests per second, seeds ``--changes``
customers, writes a manifest that changes every one of them, and times ``reconciler apply
--auto-approve --rate-limit RATE/s`` (in-process, output discarded) from start to exit. The
floor is ``changes / rate`` seconds: no client can send that many writes faster without
being refused. Prints the wall time, its ratio to the floor, and the 429s the emulator sent.
Targets: ratio at most 1.1, zero 429s.

    python bench/apply.py [--changes 500] [--rate 50] [--parallelism 4]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib import BENCH_KEY

from reconciler.audit import verify_log
from reconciler.cli import main
from reconciler.emulator import EmulatorSettings, start_emulator


def seed(changes: int) -> dict[str, Any]:
    return {
        "customers": [
            {"customer_identifier": f"c{index:05d}", "name": f"C{index}", "period_budget": 50}
            for index in range(changes)
        ]
    }


def manifest(changes: int) -> str:
    # Budgets only go up: a decrease would make plan read usage first (its policy check).
    lines = ["provider: respan", "environment: prod", "customers:"]
    for index in range(changes):
        lines += [
            f"  - customer_identifier: c{index:05d}",
            f"    period_budget: {index % 900 + 100}.{index % 100:02d}",
        ]
    return "\n".join(lines) + "\n"


def run(changes: int, rate: int, parallelism: int) -> int:
    settings = EmulatorSettings(api_key=BENCH_KEY, rate_limit=(rate, 1.0))
    with (
        tempfile.TemporaryDirectory() as directory,
        start_emulator("respan", settings, seed=seed(changes)) as emulator,
    ):
        project = Path(directory)
        (project / "customers.yaml").write_text(manifest(changes), encoding="utf-8")
        os.chdir(project)
        os.environ.update(RESPAN_BASE_URL=emulator.url, RESPAN_API_KEY=BENCH_KEY)
        args = ["apply", "customers.yaml", "--auto-approve", "--rate-limit", f"{rate}/s"]
        args += ["--parallelism", str(parallelism)]
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = main(args)
        elapsed = time.perf_counter() - started
        stats = emulator.stats()
        audit = verify_log(project / "reconciler-audit.jsonl")
        os.chdir("/")
    floor = changes / rate
    throttled = stats["responses"].get("429", 0)
    print(f"changes:        {changes} at {rate}/s (parallelism {parallelism})")
    print(f"exit code:      {code}")
    print(f"requests:       {stats['total_requests']}")
    print(f"audit records:  {audit.records} ({'intact' if audit.intact else 'BROKEN'})")
    print(f"wall time:      {elapsed:.2f} s (floor {floor:.2f} s)")
    print(f"ratio to floor: {elapsed / floor:.3f} (target <= 1.1)")
    print(f"429s received:  {throttled} (target 0)")
    ok = code == 0 and audit.intact and elapsed / floor <= 1.1 and throttled == 0
    return 0 if ok else 1


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=500)
    parser.add_argument("--rate", type=int, default=50)
    parser.add_argument("--parallelism", type=int, default=4)
    return parser.parse_args(argv)


if __name__ == "__main__":
    options = parse_args(sys.argv[1:])
    sys.exit(run(options.changes, options.rate, options.parallelism))
