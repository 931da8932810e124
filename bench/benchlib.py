"""What the benchmarks share: the emulator key, best-of timing, and the libyaml baseline."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml

BENCH_KEY = "bench-key-0123456789abcdef"


def best_of(repeat: int, run: Callable[[], object]) -> float:
    """The shortest of ``repeat`` wall times of ``run()``, in seconds."""
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        timings.append(time.perf_counter() - started)
    return min(timings)


def libyaml_alone(paths: Sequence[Path]) -> None:
    """The baseline: ``yaml.load(..., Loader=yaml.CSafeLoader)`` of every file."""
    for path in paths:
        yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)
