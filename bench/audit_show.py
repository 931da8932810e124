"""How fast ``reconciler audit show`` reads a large audit log, and that memory stays flat.

Writes logs of 100,000 and 1,000,000 records (a valid hash chain, 1,000 customers, three
actors, budgets moving), then, for each, runs ``audit show --customer cust-42 --format csv``
in a fresh process several times and prints the best and median wall time, the records read
per second, and the process's peak RSS. The log is read in one streaming pass, so the peak
should not grow with the log; only the selected records are kept.

    python bench/audit_show.py            # both sizes (about a minute to write the logs)
    python bench/audit_show.py 200000     # one size
"""

from __future__ import annotations

import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GENESIS = "0" * 64
RUNS = 3
PROBE = """
import resource, sys, time
from reconciler.cli import main
started = time.perf_counter()
code = main(["audit", "show", sys.argv[1], "--customer", "cust-42", "--format", "csv"])
elapsed = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"RESULT {code} {elapsed:.4f} {peak}", file=sys.stderr)
"""


def canonical(record: dict[str, object]) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def write_log(path: Path, count: int) -> None:
    """``count`` chained records as the writer lays them out (no fsync: a bench fixture)."""
    previous = GENESIS
    with path.open("w", encoding="utf-8") as out:
        for seq in range(1, count + 1):
            customer = seq % 1_000
            record: dict[str, object] = {
                "time": f"2026-{1 + seq * 12 // (count + 1):02d}-01T00:00:00.000Z",
                "actor": ("github:alice", "github:bob", "github:carol")[seq % 3],
                "git_commit": f"{seq:040x}",
                "pull_request": seq // 50,
                "plan_checksum": "sha256:" + f"{seq // 50:064x}",
                "provider": "respan",
                "environment": "prod",
                "customer_id": f"cust-{customer}",
                "action": "update",
                "fields": [
                    {
                        "path": "period_budget",
                        "before": f"{100 + seq // 1_000}.00",
                        "after": f"{101 + seq // 1_000}.00",
                    }
                ],
                "outcome": "applied",
                "reason": None,
                "http_status": 200,
                "seq": seq,
                "prev_hash": previous,
            }
            body = canonical(record)
            previous = hashlib.sha256(body.encode("utf-8")).hexdigest()
            record["hash"] = previous
            out.write(canonical(record) + "\n")


def measure(path: Path) -> tuple[list[float], int]:
    timings, peaks = [], []
    for _ in range(RUNS):
        done = subprocess.run(
            [sys.executable, "-c", PROBE, str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        line = next(x for x in done.stderr.splitlines() if x.startswith("RESULT "))
        _, code, elapsed, peak = line.split()
        if code != "0":
            raise SystemExit(f"audit show exited {code}: {done.stderr}")
        timings.append(float(elapsed))
        peaks.append(int(peak))
    return timings, max(peaks)


def main() -> None:
    sizes = [int(arg) for arg in sys.argv[1:]] or [100_000, 1_000_000]
    print(
        f"{'records':>10}  {'MB':>6}  {'best s':>7}  {'median s':>8}  {'records/s':>10}  peak RSS"
    )
    with tempfile.TemporaryDirectory() as directory:
        for size in sizes:
            path = Path(directory) / f"audit-{size}.jsonl"
            started = time.perf_counter()
            write_log(path, size)
            written = time.perf_counter() - started
            timings, peak_kib = measure(path)
            best = min(timings)
            print(
                f"{size:>10,}  {path.stat().st_size / 1e6:>6.0f}  {best:>7.2f}  "
                f"{statistics.median(timings):>8.2f}  {size / best:>10,.0f}  "
                f"{peak_kib / 1024:.0f} MiB   (log written in {written:.0f} s)"
            )
            path.unlink()


if __name__ == "__main__":
    main()
