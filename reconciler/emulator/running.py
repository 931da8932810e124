"""Start an emulator in-process: state from a seed, the provider's app, a server on a socket.

The CLI (``reconciler emulator``) and the test fixtures both go through ``start_emulator``, so
what tests talk to is exactly what users run.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, TypeVar

import httpx

from reconciler.emulator.common import EmulatorSettings, EmulatorStats
from reconciler.emulator.seeds import load_seed_file
from reconciler.emulator.server import EmulatorServer
from reconciler.errors import ConfigError
from reconciler.providers.registry import plugin

StateT = TypeVar("StateT")
Seed = Mapping[str, Any] | str | Path | None


class RunningEmulator(Generic[StateT]):
    """A live emulator: its ``url``, ``api_key``, mutable ``state`` and request ``stats()``."""

    def __init__(
        self,
        provider: str,
        state: StateT,
        settings: EmulatorSettings,
        stats: EmulatorStats,
        server: EmulatorServer,
    ) -> None:
        self.provider = provider
        self.state = state
        self.settings = settings
        self._stats = stats
        self._server = server

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def api_key(self) -> str:
        return self.settings.api_key

    def stats(self) -> dict[str, Any]:
        """The same document ``GET /_emulator/stats`` serves."""
        return self._stats.snapshot()

    def reset_stats(self) -> None:
        self._stats.reset()

    def wait_for_requests(self, route: str, count: int, timeout: float) -> int:
        """Block until ``route`` (``"PATCH /api/users/{customer_identifier}/"``) has had
        ``count`` requests or ``timeout`` seconds passed; return its count (for tests)."""
        return self._stats.wait_for_requests(route, count, timeout)

    def client(
        self,
        *,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
    ) -> httpx.Client:
        """An HTTP client on this emulator sending its key as a Bearer token (``key`` overrides
        it; ``""`` sends no Authorization header). Close it, or use it as a context manager."""
        token = self.api_key if key is None else key
        sent = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(
            base_url=self.url,
            headers={**sent, **(headers or {})},
            timeout=timeout,
            verify=_tls_context(),
        )

    def stop(self, *, wait: bool = True) -> None:
        """Stop the server; ``wait=False`` returns at once (see ``EmulatorServer.stop``)."""
        self._server.stop(wait=wait)

    def join(self) -> None:
        """Wait for a server stopped with ``wait=False`` to have closed."""
        self._server.join()

    def __enter__(self) -> RunningEmulator[StateT]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"RunningEmulator(provider={self.provider!r}, url={self._server._url!r})"


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # httpx builds a verifying TLS context for every client (loading the CA bundle, tens of ms)
    # even for plain-HTTP URLs; one shared context keeps per-test clients cheap.
    return httpx.create_ssl_context()


def read_seed(seed: Seed) -> tuple[Mapping[str, Any] | None, str]:
    """``(seed document, source name for messages)`` from a mapping, a path, or nothing."""
    if seed is None or isinstance(seed, Mapping):
        return seed, "seed"
    document = load_seed_file(seed)
    if not isinstance(document, Mapping):
        raise ConfigError(f"{seed}: a seed file must hold a JSON object")
    return document, str(seed)


def start_emulator(
    provider: str,
    settings: EmulatorSettings,
    *,
    seed: Seed = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> RunningEmulator[Any]:
    """Build ``provider``'s state from ``seed``, serve it, and return once it listens."""
    parts = plugin(provider).emulator_parts()
    document, source = read_seed(seed)
    state = parts.state_from_seed(document, source=source)
    stats = EmulatorStats()
    server = EmulatorServer(parts.create_app(state, settings, stats=stats), host=host, port=port)
    server.start()
    return RunningEmulator(provider, state, settings, stats, server)
