"""How long ``reconciler plan`` takes on 10,000 and 100,000 customers against a slow API, and
how much memory it needs, compared with libyaml parsing the same files.

For each ``--customers`` size, generates the customers across ``--files`` manifests and seeds
the emulator with the same customers, ``--drift`` of them with another budget and all amounts
as the API's floats. The emulator runs as its own process (like the real API, it does not
share this process's CPU), answers every request after ``--latency-ms`` and enforces no rate
limit; the client is paced at a rate far above what the run needs, so pacing never waits.

Then ``--repeat`` rounds, each timing one after the other (interleaved, so that both see the
same load on a shared machine):

- libyaml alone: ``yaml.load(..., Loader=yaml.CSafeLoader)`` of the same files (the floor);
- loading the manifests (``load_manifests``);
- ``reconciler plan DIR`` in-process, output discarded (manifests, live reads, plan, render);

and reports the best and the median of each and their ratios to the floor (wall time, and
the CPU time this process spent, which a loaded machine hardly changes); then the peak
resident memory of ``reconciler plan`` and of libyaml alone, each as a fresh process. Targets:
the whole plan at most 1.3 times the floor, both best to best and median to median (one lucky
round is not enough), and at most 300 MiB of memory at 100,000 customers. Exits 1 when a target
is missed.

The emulator keeps each customer's list JSON until the customer changes, as an API's own
caches would; the untimed warm-up run fills it, so every timed round waits for the configured
latency and not for the emulator writing JSON on the same (possibly shared) CPUs.

    python bench/plan.py [--customers 10000 100000] [--files 20] [--drift 0.1]
                         [--latency-ms 20] [--repeat 5]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchlib import (
    BENCH_KEY,
    Timings,
    child_environment,
    interleaved,
    libyaml_alone,
    peak_rss_mib,
    ratio_line,
)

from reconciler.cli import main as cli_main
from reconciler.clients.secret import Secret
from reconciler.manifests import load_manifests
from reconciler.planner import PlanOptions, build_plan
from reconciler.providers.base import Declared
from reconciler.providers.registry import MODELS
from reconciler.providers.respan.client import RespanClient
from reconciler.providers.respan.provider import RespanProvider


def budget(number: int) -> str:
    return f"{number % 997 + 1}.{number % 100:02d}"  # from $1.00: a drifted one stays positive


def write_manifests(directory: Path, customers: int, files: int) -> list[Path]:
    """Manifests declaring only listed fields, so the plan needs no per-customer reads."""
    directory.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    per_file = math.ceil(customers / files)
    for index in range(files):
        lines = ["provider: respan", "environment: prod", "customers:"]
        for number in range(index * per_file, min(customers, (index + 1) * per_file)):
            lines += [
                f"  - customer_identifier: customer-{number:06d}",
                f"    name: Customer {number}",
                f"    email: billing{number}@example.com",
                f"    period_budget: {budget(number)}",
                f"    total_budget: {number % 20_000 + 1000}",
                "    budget_duration: monthly",
            ]
        path = directory / f"customers-{index:02d}.yaml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def seed(customers: int, drift: float) -> dict[str, Any]:
    """The same customers as the API holds them; every ``1/drift``-th budget lower by $0.50.

    Drift is downwards live, so the plan raises those budgets: a budget the plan lowers would
    add one usage read per customer (the policy's below-usage check), measured separately.
    """
    every = max(1, round(1 / drift)) if drift > 0 else 0

    def drifted(number: int) -> bool:
        return every > 0 and number % every == 0

    return {
        "customers": [
            {
                "customer_identifier": f"customer-{number:06d}",
                "name": f"Customer {number}",
                "email": f"billing{number}@example.com",
                "period_budget": float(budget(number)) - (0.5 if drifted(number) else 0),
                "total_budget": float(number % 20_000 + 1000),
                "budget_duration": "monthly",
            }
            for number in range(customers)
        ]
    }


@contextlib.contextmanager
def serve_emulator(seed_file: Path, latency_ms: float) -> Iterator[str]:
    """``reconciler emulator`` as a child process; yields its URL, stops it on exit."""
    command = [sys.executable, "-m", "reconciler", "emulator", "--provider", "respan"]
    command += ["--seed", str(seed_file), "--api-key", BENCH_KEY, "--rate-limit", "off"]
    command += ["--latency-ms", str(latency_ms)]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("listening on "):
            raise SystemExit(f"emulator did not start: {line!r}")
        yield line.removeprefix("listening on ").strip()
    finally:
        process.terminate()
        process.wait(timeout=10)


def emulator_requests(url: str) -> dict[str, int]:
    """Requests served so far by route, from the emulator's stats endpoint."""
    with urllib.request.urlopen(f"{url}/_emulator/stats", timeout=10) as answer:
        return dict(json.load(answer)["requests"])


TIME_TARGET = 1.3
MEMORY_TARGET_MIB = 300.0
MEMORY_TARGET_FROM = 100_000  # customers


def measure(args: argparse.Namespace, customers: int) -> bool:
    """Time and measure one size; print the report; True when the targets are met."""
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        paths = write_manifests(directory / "customers", customers, args.files)
        seed_file = directory / "seed.json"
        seed_file.write_text(json.dumps(seed(customers, args.drift)), encoding="utf-8")
        command = ["plan", str(directory / "customers"), "--rate-limit", "100000/s"]
        command += ["--detailed-exitcode"]
        with serve_emulator(seed_file, args.latency_ms) as url:
            os.environ.update(RESPAN_BASE_URL=url, RESPAN_API_KEY=BENCH_KEY)
            codes: list[int] = []

            def whole_plan() -> None:
                with (
                    contextlib.redirect_stdout(io.StringIO()),
                    contextlib.redirect_stderr(io.StringIO()),
                ):
                    codes.append(cli_main(command))

            whole_plan()  # warm up: imports, the cached schema validator
            before = emulator_requests(url)
            timings = interleaved(
                {
                    "floor": lambda: libyaml_alone(paths),
                    "load": lambda: load_manifests([directory / "customers"]),
                    "plan": whole_plan,
                },
                args.repeat,
            )
            after = emulator_requests(url)
            requests = {
                route: (count - before.get(route, 0)) // args.repeat
                for route, count in after.items()
            }
            changes = len(build_plan_for(directory, url).changes)
            env = child_environment(RESPAN_BASE_URL=url, RESPAN_API_KEY=BENCH_KEY)
            plan_rss = peak_rss_mib(CLI_SCRIPT, command, env)
            floor_rss = peak_rss_mib(LIBYAML_SCRIPT, [str(path) for path in paths], env)

    floor, plan = timings["floor"], timings["plan"]
    print(
        f"{customers} customers in {args.files} files, {changes} drifted, "
        f"API latency {args.latency_ms:g} ms, {args.repeat} interleaved rounds"
    )
    print(f"exit codes:      {sorted(set(codes))} (2: changes pending)")
    print(f"requests/plan:   {requests}")
    print(ratio_line("libyaml alone (CSafeLoader load)", floor, floor, None))
    print(ratio_line("loading the manifests", timings["load"], floor, None))
    print(ratio_line("plan, in-process (whole run)", plan, floor, TIME_TARGET))
    # CPU time of this process, all its threads (the emulator is another process): a loaded
    # machine moves it much less than wall time.
    cpu = {name: Timings(measured.cpu) for name, measured in timings.items()}
    print(ratio_line("  CPU time, libyaml alone", cpu["floor"], cpu["floor"], None))
    print(ratio_line("  CPU time, loading the manifests", cpu["load"], cpu["floor"], None))
    print(ratio_line("  CPU time, plan (all threads)", cpu["plan"], cpu["floor"], None))
    memory_target = MEMORY_TARGET_MIB if customers >= MEMORY_TARGET_FROM else None
    shown = f" (target <= {memory_target:g} MiB)" if memory_target else ""
    print(f"peak RSS: plan {plan_rss:.0f} MiB, libyaml alone {floor_rss:.0f} MiB{shown}")
    print()
    fast = max(plan.best / floor.best, plan.median / floor.median) <= TIME_TARGET
    ok = fast and set(codes) == {2}
    return ok and (memory_target is None or plan_rss <= memory_target)


CLI_SCRIPT = "import sys; from reconciler.cli import main; sys.exit(main(sys.argv[1:]))"
LIBYAML_SCRIPT = (
    "import sys, yaml\n"
    "for path in sys.argv[1:]:\n"
    "    yaml.load(open(path, 'rb').read(), Loader=yaml.CSafeLoader)\n"
)


def build_plan_for(directory: Path, url: str) -> Any:
    """The plan itself, built from its parts, to count the changes it holds."""
    loaded = load_manifests([directory / "customers"])
    provider = RespanProvider(RespanClient.create(url, Secret(BENCH_KEY), rate_limit=None))
    try:
        found = provider.read_live("prod", [Declared.of(c) for c in loaded.customers])
    finally:
        provider.close()
    live = {customer.key: customer for customer in found.values()}
    return build_plan(loaded.customers, live, MODELS, PlanOptions())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--drift", type=float, default=0.1)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    results = [measure(args, customers) for customers in args.customers]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
