"""What the benchmarks share: the emulator key, interleaved timing, and the libyaml baseline."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

BENCH_KEY = "bench-key-0123456789abcdef"


@dataclass(frozen=True)
class Timings:
    """Wall times of one measured thing, in seconds, one per round; ``cpu``: the CPU time this
    process (all its threads, no child process) spent in each round."""

    runs: tuple[float, ...]
    cpu: tuple[float, ...] = ()

    @property
    def best(self) -> float:
        return min(self.runs)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)


def best_of(repeat: int, run: Callable[[], object]) -> float:
    """The shortest of ``repeat`` wall times of ``run()``, in seconds."""
    return interleaved({"run": run}, repeat)["run"].best


def interleaved(runs: Mapping[str, Callable[[], object]], rounds: int) -> dict[str, Timings]:
    """Time every ``runs`` entry once per round, round after round (never in separate blocks).

    On a shared machine the load changes from one second to the next; timing a baseline and
    the thing compared with it side by side, many times, makes both see the same load, so
    their ratio (best of each, or the median of the rounds) means something.
    """
    times: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            started, started_cpu = time.perf_counter(), time.process_time()
            run()
            times[name].append(time.perf_counter() - started)
            cpu[name].append(time.process_time() - started_cpu)
    return {name: Timings(tuple(times[name]), tuple(cpu[name])) for name in runs}


def ratio_line(label: str, timings: Timings, baseline: Timings, target: float | None) -> str:
    """``label  best s  median s  best/best  median/median`` with the target, for reports."""
    best = timings.best / baseline.best
    median = timings.median / baseline.median
    goal = f"  (target <= {target:g})" if target is not None else ""
    return (
        f"{label:<34} best {timings.best:7.3f} s  median {timings.median:7.3f} s  "
        f"ratio best {best:5.2f}x  median {median:5.2f}x{goal}"
    )


def libyaml_alone(paths: Sequence[Path]) -> None:
    """The baseline: ``yaml.load(..., Loader=yaml.CSafeLoader)`` of every file."""
    for path in paths:
        yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)


def child_environment(**extra: str) -> dict[str, str]:
    """The environment for timed child processes: this one, with bytecode caching on (as an
    installed package has it) whatever the caller's ``PYTHONDONTWRITEBYTECODE`` says."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(extra)
    return env


_REPORT_PEAK = """\
import atexit, os


def _report_peak():
    with open("/proc/self/status") as status, open(os.environ["BENCH_PEAK_FILE"], "w") as out:
        out.write(next(line for line in status if line.startswith("VmHWM:")).split()[1])


atexit.register(_report_peak)
"""


def peak_rss_mib(script: str, args: Sequence[str], env: Mapping[str, str]) -> float:
    """The peak resident memory, in MiB, of a fresh ``python -c SCRIPT ARGS`` (output discarded).

    Read from the child's own ``VmHWM`` as it exits (Linux): the ``ru_maxrss`` a parent gets
    from ``wait4`` counts the parent's own memory at fork time, so a large benchmark process
    would inflate every child's figure.
    """
    with tempfile.NamedTemporaryFile("r", suffix=".peak") as peak:
        subprocess.run(
            [sys.executable, "-c", _REPORT_PEAK + script, *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**env, "BENCH_PEAK_FILE": peak.name},
            check=False,
        )
        return int(peak.read() or 0) / 1024  # kB
