"""How long a pull request's worth of changes takes to apply under Respan's documented limit,
with default settings.

Starts the Respan emulator enforcing Respan's 60 requests per minute (a sliding window),
seeds ``--changes`` customers, writes a manifest that changes every one of them, and times
``reconciler apply --auto-approve`` in-process with no ``--rate-limit``: the client paces
itself at the documented default. Prints the wall time, the requests and the 429s the emulator
sent. Targets: at most 3 s and zero 429s for 30 changes. Exits 1 when a target is missed.

    python bench/small_apply.py [--changes 30] [--repeat 3]
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

from apply import manifest, seed
from benchlib import BENCH_KEY

from reconciler.cli import main as cli_main
from reconciler.emulator import EmulatorSettings, start_emulator

TIME_TARGET = 3.0
RESPAN_LIMIT = (60, 60.0)


def run_once(changes: int) -> tuple[float, int, int, int]:
    """One apply against a fresh emulator: (seconds, exit code, requests, 429s)."""
    settings = EmulatorSettings(api_key=BENCH_KEY, rate_limit=RESPAN_LIMIT)
    with (
        tempfile.TemporaryDirectory() as directory,
        start_emulator("respan", settings, seed=seed(changes)) as emulator,
    ):
        project = Path(directory)
        (project / "customers.yaml").write_text(manifest(changes), encoding="utf-8")
        previous = Path.cwd()
        os.chdir(project)
        os.environ.update(RESPAN_BASE_URL=emulator.url, RESPAN_API_KEY=BENCH_KEY)
        try:
            started = time.perf_counter()
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
            ):
                code = cli_main(["apply", "customers.yaml", "--auto-approve"])
            elapsed = time.perf_counter() - started
        finally:
            os.chdir(previous)
        stats = emulator.stats()
    return elapsed, code, stats["total_requests"], stats["responses"].get("429", 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--changes", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    runs = [run_once(args.changes) for _ in range(args.repeat)]
    times = sorted(run[0] for run in runs)
    throttled = sum(run[3] for run in runs)
    print(f"{args.changes} changes, Respan's 60/min enforced, default pacing, {args.repeat} runs")
    print(f"exit codes:     {sorted({run[1] for run in runs})}")
    print(f"requests/run:   {sorted({run[2] for run in runs})}")
    print(f"wall time:      best {times[0]:.2f} s, median {times[len(times) // 2]:.2f} s")
    print(f"                (target <= {TIME_TARGET:g} s)")
    print(f"429s received:  {throttled} in all runs (target 0)")
    ok = times[0] <= TIME_TARGET and throttled == 0 and {run[1] for run in runs} == {0}
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
