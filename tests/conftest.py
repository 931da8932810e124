"""Shared fixtures: provider emulators served over real loopback HTTP.

``respan_emulator(seed=..., **settings)`` (likewise ``autumn_emulator`` and ``litellm_emulator``)
starts one and returns a ``RunningEmulator`` with ``.url``, ``.api_key``, ``.state`` and
``.stats()``; every emulator a test starts is stopped when the test ends. Tests get no rate
limit and no faults unless they ask for them. ``seed`` is the data (a mapping or a JSON file);
the fault RNG's seed is passed as ``fault_seed``.

``cli(*args)`` runs the CLI in-process and returns a ``cli_helpers.Run``; ``workdir`` is an empty
working directory with no provider, GitHub or colour settings; ``no_backoff`` retries at once.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import stamina
from cli_helpers import Run, isolate, run_cli

from reconciler.emulator import EmulatorSettings, RunningEmulator, start_emulator
from reconciler.emulator.running import Seed
from reconciler.providers.autumn.emulator import AutumnState
from reconciler.providers.litellm.emulator_model import LiteLLMState
from reconciler.providers.respan.emulator import RespanState

# Compiled schema validators go to a directory of this test run, not the user's cache.
os.environ.setdefault("RECONCILER_CACHE_DIR", tempfile.mkdtemp(prefix="reconciler-test-cache-"))

RESPAN_TEST_KEY = "rsp_test_key_0123456789abcdef"
AUTUMN_TEST_KEY = "am_sk_test_0123456789abcdef"
LITELLM_TEST_KEY = "sk-litellm-master-0123456789abcdef"
"""Sandbox key; its live twin ``am_sk_live_0123456789abcdef`` reaches the live environment."""

EmulatorFactory = Callable[..., RunningEmulator[Any]]


_STOPPING: list[RunningEmulator[Any]] = []


@pytest.fixture(scope="session", autouse=True)
def _emulators_closed_by_the_end() -> Iterator[None]:
    """Tests stop their emulators without waiting (uvicorn's shutdown takes 0.1 s each, over
    hundreds of tests); the session waits for all of them once, at its end."""
    yield
    for emulator in _STOPPING:
        emulator.join()


def stop_all(running: list[RunningEmulator[Any]]) -> None:
    """Stop ``running`` now and wait for them once, at the end of the session."""
    for emulator in running:
        emulator.stop(wait=False)
        _STOPPING.append(emulator)


def _factory(provider: str, api_key: str) -> Iterator[EmulatorFactory]:
    running: list[RunningEmulator[Any]] = []

    def start(
        seed: Seed = None, *, fault_seed: int | None = None, **overrides: Any
    ) -> RunningEmulator[Any]:
        options: dict[str, Any] = {"api_key": api_key, "rate_limit": None, **overrides}
        if fault_seed is not None:
            options["seed"] = fault_seed
        emulator = start_emulator(provider, EmulatorSettings(**options), seed=seed)
        running.append(emulator)
        return emulator

    yield start
    stop_all(running)


@pytest.fixture
def respan_emulator() -> Iterator[Callable[..., RunningEmulator[RespanState]]]:
    """Start Respan emulators: ``respan_emulator(seed={...} or path, **settings_overrides)``."""
    yield from _factory("respan", RESPAN_TEST_KEY)


@pytest.fixture
def autumn_emulator() -> Iterator[Callable[..., RunningEmulator[AutumnState]]]:
    """Start Autumn emulators: ``autumn_emulator(seed={...} or path, **settings_overrides)``."""
    yield from _factory("autumn", AUTUMN_TEST_KEY)


@pytest.fixture
def litellm_emulator() -> Iterator[Callable[..., RunningEmulator[LiteLLMState]]]:
    """Start LiteLLM proxy emulators: ``litellm_emulator(seed=..., **settings_overrides)``."""
    yield from _factory("litellm", LITELLM_TEST_KEY)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    """``cli(*args)`` runs ``reconciler`` in-process and captures what it printed."""
    return lambda *args: run_cli(capsys, *args)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project directory as the working directory, without outside settings."""
    return isolate(monkeypatch, tmp_path)


@pytest.fixture
def no_backoff() -> Iterator[None]:
    """Retries without waiting (stamina's testing mode), so injected faults cost no time."""
    with stamina.set_testing(True, attempts=20):
        yield
