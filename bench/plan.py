"""How long ``reconciler plan`` takes on 10,000 customers against a slow API, vs libyaml alone.

Generates ``--customers`` Respan customers across ``--files`` manifests and seeds the emulator
with the same customers, ``--drift`` of them with another budget and all amounts as the API's
floats. The emulator runs as its own process (like the real API, it does not share this
process's CPU), answers every request after ``--latency-ms`` and enforces no rate limit; the
client is paced at a rate far above what the run needs, so pacing never waits. Times (best of
``--repeat``):

- libyaml alone: ``yaml.load(..., Loader=yaml.CSafeLoader)`` of the same files (the baseline);
- ``reconciler plan DIR`` in-process, output discarded (manifests, live reads, plan, render);
- its parts: loading the manifests, and ``build_plan`` + policy on the data already read;

and prints the requests the plan made (ceil(customers / 1000) list pages, no retrieves: the
manifests declare only fields the list returns) and each time's ratio to the baseline. Target:
the whole plan at most 1.5 times the baseline.

    python bench/plan.py [--customers 10000] [--files 20] [--drift 0.1] [--latency-ms 20]
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
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchlib import BENCH_KEY, best_of, libyaml_alone

from reconciler.cli import main as cli_main
from reconciler.clients.secret import Secret
from reconciler.domain import Policy
from reconciler.manifests import load_manifests
from reconciler.planner import PlanOptions, build_plan, evaluate_policy
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--drift", type=float, default=0.1)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        paths = write_manifests(directory / "customers", args.customers, args.files)
        seed_file = directory / "seed.json"
        seed_file.write_text(json.dumps(seed(args.customers, args.drift)), encoding="utf-8")
        with serve_emulator(seed_file, args.latency_ms) as url:
            os.environ.update(RESPAN_BASE_URL=url, RESPAN_API_KEY=BENCH_KEY)
            codes: list[int] = []

            def whole_plan() -> None:
                command = ["plan", str(directory / "customers"), "--rate-limit", "100000/s"]
                with (
                    contextlib.redirect_stdout(io.StringIO()),
                    contextlib.redirect_stderr(io.StringIO()),
                ):
                    codes.append(cli_main([*command, "--detailed-exitcode"]))

            baseline = best_of(args.repeat, lambda: libyaml_alone(paths))
            before = emulator_requests(url)
            plan_time = best_of(args.repeat, whole_plan)
            after = emulator_requests(url)
            requests = {
                route: (count - before.get(route, 0)) // args.repeat
                for route, count in after.items()
            }
            load_time = best_of(args.repeat, lambda: load_manifests([directory / "customers"]))
            loaded = load_manifests([directory / "customers"])
            provider = RespanProvider(RespanClient.create(url, Secret(BENCH_KEY), rate_limit=None))
            try:
                started = time.perf_counter()
                found = provider.read_live("prod", loaded.customers)
                read_time = time.perf_counter() - started
            finally:
                provider.close()
            live = {customer.key: customer for customer in found.values()}

            def planner() -> None:
                result = build_plan(loaded.customers, live, MODELS, PlanOptions())
                evaluate_policy(result, Policy(), {}, MODELS)

            planner_time = best_of(args.repeat, planner)
            changes = len(build_plan(loaded.customers, live, MODELS, PlanOptions()).changes)

    ratio = plan_time / baseline
    print(
        f"{args.customers} customers in {args.files} files, {changes} drifted, "
        f"API latency {args.latency_ms:g} ms"
    )
    print(f"exit codes:                        {sorted(set(codes))} (2: changes pending)")
    print(f"requests per plan:                 {requests}")
    print(f"libyaml alone (CSafeLoader load):  {baseline:6.3f} s   1.00x")
    print(f"plan, in-process (whole run):      {plan_time:6.3f} s   {ratio:4.2f}x (target <= 1.5)")
    print(f"  of which loading manifests:      {load_time:6.3f} s   {load_time / baseline:4.2f}x")
    print(f"  of which reading live state:     {read_time:6.3f} s   {read_time / baseline:4.2f}x")
    print(
        f"  of which build_plan + policy:    {planner_time:6.3f} s   "
        f"{planner_time / baseline:4.2f}x"
    )
    return 0 if ratio <= 1.5 and set(codes) == {2} else 1


if __name__ == "__main__":
    sys.exit(main())
