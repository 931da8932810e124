"""How long ``reconciler`` takes to start: ``--help`` and ``validate`` of a one-customer file,
compared with an interpreter that does nothing.

Each round runs, one after the other (interleaved, so that all see the same load on a shared
machine), fresh processes of:

- ``python -c pass`` (the floor: the interpreter alone);
- ``reconciler --help``;
- ``reconciler validate one.yaml`` (one Respan customer);
- ``reconciler --help`` with an empty cache directory: a first run after installing or removing
  a distribution, which finds the providers' entry points through ``importlib.metadata`` and
  writes them down (no target: it happens once per change of the installation);

with bytecode caching on, as an installed package has it, after one warm-up run of each (which
also fills the compiled-validator and entry-point caches, in a temporary
``RECONCILER_CACHE_DIR``). Reports the best and the median of ``--repeat`` rounds and their
ratios to the floor, the same for the processes' CPU time (steadier on a loaded machine), and
whether the entry-point cache was written (it is not while a ``sys.path`` directory changed
in the last two seconds). Target: ``--help`` and ``validate`` at most 5 times the floor (best
of the rounds, wall time). Exits 1 when a target is missed.

    python bench/startup.py [--repeat 20]
    python bench/startup.py --breakdown [--repeat 20]   # where the time goes (CPU, no target)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from benchlib import Timings, child_environment, interleaved, ratio_line

TARGET = 5.0
MANIFEST = """\
provider: respan
environment: prod
customers:
  - customer_identifier: acme
    period_budget: 100
"""


def children_cpu() -> float:
    """User and system CPU seconds of the finished child processes so far (0 where the
    platform does not count them)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return 0.0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="CPU time of the steps a start-up takes (click, plug-ins, YAML...), no target",
    )
    args = parser.parse_args(argv)
    script = shutil.which("reconciler", path=str(Path(sys.executable).parent))
    reconciler = [script] if script else [sys.executable, "-m", "reconciler"]
    if args.breakdown:
        return breakdown(reconciler, args.repeat)
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        (directory / "one.yaml").write_text(MANIFEST, encoding="utf-8")
        env = child_environment(RECONCILER_CACHE_DIR=str(directory / "cache"))

        cpu: dict[str, list[float]] = {}

        def runner(command: Sequence[str], name: str) -> Callable[[], None]:
            def run() -> None:
                before = children_cpu()
                subprocess.run(
                    command, cwd=directory, env=env, stdout=subprocess.DEVNULL, check=True
                )
                cpu.setdefault(name, []).append(children_cpu() - before)

            return run

        cold_cache = directory / "cold-cache"
        cold_env = {**env, "RECONCILER_CACHE_DIR": str(cold_cache)}

        def cold_help() -> None:
            shutil.rmtree(cold_cache, ignore_errors=True)
            subprocess.run(
                [*reconciler, "--help"],
                cwd=directory,
                env=cold_env,
                stdout=subprocess.DEVNULL,
                check=True,
            )

        runs = {
            "floor": runner([sys.executable, "-c", "pass"], "floor"),
            "help": runner([*reconciler, "--help"], "help"),
            "validate": runner([*reconciler, "validate", "one.yaml"], "validate"),
            "cold help": cold_help,
        }
        interleaved(runs, 1)  # warm up
        cpu.clear()
        cached = any((directory / "cache" / "entry-points").glob("*"))
        timings = interleaved(runs, args.repeat)
    floor = timings["floor"]
    print(f"start-up, {args.repeat} interleaved rounds (fresh processes)")
    print(ratio_line("python -c pass", floor, floor, None))
    print(ratio_line("reconciler --help", timings["help"], floor, TARGET))
    print(ratio_line("reconciler validate one.yaml", timings["validate"], floor, TARGET))
    print(ratio_line("reconciler --help, empty cache", timings["cold help"], floor, None))
    if all(cpu.values()):
        # CPU time (user + system) of the same processes: steadier than wall time on a loaded
        # machine, where a process may wait for a core. Shown for reading, not judged.
        cpu_floor = Timings(tuple(cpu["floor"]))
        for name, label in (("help", "--help"), ("validate", "validate one.yaml")):
            print(ratio_line(f"  CPU time, {label}", Timings(tuple(cpu[name])), cpu_floor, None))
    if not cached:
        print("note: the entry-point cache was not written (a sys.path directory changed in")
        print("      the last 2 s): --help and validate paid for finding the providers")
    ok = all(timings[name].best / floor.best <= TARGET for name in ("help", "validate"))
    return 0 if ok else 1


def breakdown(reconciler: Sequence[str], repeat: int) -> int:
    """Where start-up goes: the CPU time of processes doing ever more of it, best of
    ``repeat`` interleaved rounds, against the bare interpreter."""
    python = [sys.executable, "-c"]
    steps = {
        "python -c pass": [*python, "pass"],
        "import click": [*python, "import click"],
        "import reconciler.cli": [*python, "import reconciler.cli"],
        "... and the providers' plug-ins": [
            *python,
            "import reconciler.cli\nfrom reconciler.providers.registry import plugins\nplugins()",
        ],
        "reconciler --help": [*reconciler, "--help"],
        "import click, yaml": [*python, "import click, yaml"],
        "... and validate's other libraries": [
            *python,
            "import click, yaml, fastjsonschema, hashlib, json, pathlib, decimal, dataclasses",
        ],
        # The same libraries with the standard library's argparse in click's place: what
        # validate would start from without click (its own modules and classes come on top).
        "... with argparse in place of click": [
            *python,
            "import argparse, yaml, fastjsonschema, hashlib, json, pathlib, decimal, dataclasses",
        ],
        "import reconciler.cli.validate": [*python, "import reconciler.cli.validate"],
        "reconciler validate one.yaml": [*reconciler, "validate", "one.yaml"],
    }
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary) / "work"
        work.mkdir()
        (work / "one.yaml").write_text(MANIFEST, encoding="utf-8")
        # ``python -c`` puts the working directory on sys.path: one settled for an hour, so
        # the entry-point cache holds for those processes too.
        an_hour_ago = time.time() - 3600
        os.utime(work, (an_hour_ago, an_hour_ago))
        env = child_environment(RECONCILER_CACHE_DIR=str(Path(temporary) / "cache"))
        cpu: dict[str, list[float]] = {name: [] for name in steps}
        for round_number in range(repeat + 1):  # the first round warms the caches up
            for name, command in steps.items():
                before = children_cpu()
                subprocess.run(command, cwd=work, env=env, stdout=subprocess.DEVNULL, check=True)
                if round_number:
                    cpu[name].append(children_cpu() - before)
    floor = min(cpu["python -c pass"])
    print(f"start-up breakdown, CPU time, best of {repeat} interleaved rounds")
    for name, times in cpu.items():
        print(f"{name:<36} {min(times) * 1000:7.1f} ms  {min(times) / floor:5.2f}x")
    print(dataclass_cost(env))
    return 0


# Times what ``dataclasses`` spends making each class (generating and compiling its methods)
# while ``reconciler.cli.validate`` is imported. It wraps a private function of the standard
# library, so it only reports where that function exists (CPython 3.10 to 3.13).
_DATACLASS_COST = """import dataclasses, time
made = []
if hasattr(dataclasses, "_process_class"):
    process = dataclasses._process_class
    def timed(cls, *args, **kwargs):
        start = time.process_time()
        try:
            return process(cls, *args, **kwargs)
        finally:
            made.append(time.process_time() - start)
    dataclasses._process_class = timed
    import reconciler.cli.validate
    print(f"of which dataclasses making validate's {len(made)} classes: "
          f"{sum(made) * 1000:.1f} ms (one run)")
else:
    print("dataclasses' class making cannot be timed on this Python")
"""


def dataclass_cost(env: dict[str, str]) -> str:
    """What defining the classes ``validate`` imports costs (one run, CPU time)."""
    done = subprocess.run(
        [sys.executable, "-c", _DATACLASS_COST],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
