"""Where a provider lives and how to reach it: resolve connection settings, open a provider.

Shared by ``plan``, ``apply``, ``export`` and ``credits``. Highest priority first:

1. flags: ``--base-url``, ``--rate-limit`` (``--provider`` picks which provider this is);
2. environment: the provider's variables for its address and key
   (``ProviderPlugin.connection``, listed on each provider's page in docs/providers/);
3. ``reconciler.yaml``: ``providers.<name>.emulator.seed`` (run the built-in emulator
   in-process), then ``base_url``, ``api_key_file`` and ``rate_limit``;
4. the provider's documented defaults (its public base URL and rate limit).

The API key comes only from the environment or the file the configuration names, never from a
flag, and is held in a ``Secret`` from the moment it is read.

The built-in emulator keeps its state between runs, so that ``apply`` then ``plan`` converges:
it starts from ``.reconciler/emulator-<name>.json`` beside ``reconciler.yaml`` when that file
exists (else from the seed), and writes it back when a run changed anything. The directory
ignores itself for git (a ``.gitignore`` holding ``*``, as pytest's cache does), so the state
never lands in a commit. ``reconciler emulator --reset`` deletes it: the next run starts from
the seed again.

Pacing defaults: each provider's documented rate limits (``ConnectionDefaults.rate_limits``).
A ``--rate-limit`` flag or ``rate_limit:`` setting replaces them. Against the built-in
emulator nothing is paced unless a rate limit is given: it
enforces no limit of its own.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

from reconciler.atomicfile import write_atomic
from reconciler.clients.retry import RetryPolicy
from reconciler.clients.secret import Secret, public_url
from reconciler.errors import ConfigError
from reconciler.problems import closest
from reconciler.providers.base import Provider
from reconciler.providers.parts import OpenRequest
from reconciler.providers.plugin import ConnectionDefaults
from reconciler.providers.registry import plugin, plugins
from reconciler.settings.config import Config, ProviderSettings, parse_rate_limit
from reconciler.settings.ratelimit import RateLimit
from reconciler.settings.urls import check_base_url

if TYPE_CHECKING:
    from reconciler.emulator import RunningEmulator

logger = logging.getLogger("reconciler.settings.connection")


EMULATOR_STATE_DIRECTORY: Final = ".reconciler"
"""Beside ``reconciler.yaml``: what the built-in emulators keep between runs."""


def read_variables() -> frozenset[str]:
    """The connection variables reconciler reads: each installed provider's (their one source,
    ``ProviderPlugin.connection``)."""
    return frozenset(
        name
        for found in plugins().values()
        for name in (found.connection.base_url_variable, found.connection.key_variable)
    )


def misspelled_variables(
    environ: Mapping[str, str], also_read: frozenset[str] = frozenset()
) -> list[tuple[str, str]]:
    """``(set variable, the read variable it resembles)`` for each variable of a provider's
    prefix (``RESPAN_``, ``AUTUMN_``...) that reconciler does not read, when
    the one it resembles is not set: a typo that would otherwise fall back in silence."""
    known = read_variables() | also_read
    prefixes = tuple(f"{name.upper()}_" for name in plugins())
    found = []
    for name in sorted(environ):
        prefix = next((p for p in prefixes if name.startswith(p)), None)
        if name in known or prefix is None:
            continue
        # Only the same provider's variables: AUTUMN_API_KEY means AUTUMN_SECRET_KEY.
        same = sorted(known_name for known_name in known if known_name.startswith(prefix))
        close = closest(name, same)
        if close and not environ.get(close, "").strip():
            found.append((name, close))
    return found


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """Resolved settings for one provider. ``base_url`` is ``None`` when ``emulator_seed`` is
    set (the address is known once the emulator runs). ``rate_limits`` is empty: unpaced."""

    provider: str
    base_url: str | None
    api_key: Secret
    rate_limits: Mapping[str, RateLimit]
    emulator_seed: Path | None = None
    api_version: str | None = None
    # Requests let go back to back per window (``providers.<name>.burst``; ``None``: all).
    burst: int | None = None
    # Where the address came from, for -v output: "--base-url", the variable's name, ...
    source: str = "default"
    # Where the key came from, for messages about the key: its variable, a key file.
    key_source: str = ""
    # Where the built-in emulator keeps its state between runs (with ``emulator_seed``).
    emulator_state: Path | None = None
    # The setting of reconciler.yaml that ``source`` overrides, when one does: a variable
    # left set from another shell must not silently replace the configured emulator.
    overrides: str | None = None


def resolve_settings(
    name: str,
    *,
    config: Config | None,
    base_url_flag: str | None = None,
    rate_limit_flag: RateLimit | str | None = None,
    environ: Mapping[str, str] | None = None,
) -> ConnectionSettings:
    """Combine flags, environment, configuration and defaults (see the module docstring)."""
    defaults = plugin(name).connection
    env = os.environ if environ is None else environ
    configured = config.provider(name) if config is not None else ProviderSettings()

    base_url, source, seed = _address(defaults, configured, base_url_flag, env)
    if base_url is None and seed is None:
        raise ConfigError(
            f"{name} has no public address: set {defaults.base_url_variable}, "
            f"providers.{name}.base_url or providers.{name}.emulator in reconciler.yaml, "
            "or pass --base-url"
        )
    if base_url is not None:
        try:
            base_url = check_base_url(base_url)
        except ConfigError as exc:
            raise ConfigError(f"{name} base URL (from {source}): {exc}") from None
    if seed is not None:
        # A fresh key per run: the in-process emulator accepts only this one (and, where keys
        # name their environment, its twin for the other environment).
        api_key = Secret(defaults.emulator_key_prefix + secrets.token_urlsafe(24))
        key_source = "the built-in emulator's key"
    else:
        api_key = _api_key(name, defaults, configured, env)
        key_source = (
            defaults.key_variable
            if env.get(defaults.key_variable, "").strip()
            else f"the key in providers.{name}.api_key_file"
        )

    rate_limits: Mapping[str, RateLimit]
    if isinstance(rate_limit_flag, str):
        rate_limit_flag = parse_rate_limit(rate_limit_flag)
    chosen = rate_limit_flag or (config.rate_limit_for(name) if config is not None else None)
    if chosen is not None:
        rate_limits = {"default": chosen}
    elif seed is not None:
        rate_limits = {}
    else:
        rate_limits = defaults.rate_limits
    return ConnectionSettings(
        provider=name,
        base_url=base_url,
        api_key=api_key,
        rate_limits=rate_limits,
        emulator_seed=seed,
        api_version=configured.api_version,
        burst=configured.burst,
        source=source,
        key_source=key_source,
        emulator_state=(
            emulator_state_file(config.root, name)
            if seed is not None and config is not None
            else None
        ),
        overrides=(
            f"the built-in emulator of reconciler.yaml (providers.{name}.emulator)"
            if seed is None and configured.emulator_seed is not None
            else None
        ),
    )


def emulator_state_file(root: Path, name: str) -> Path:
    """Where the built-in emulator of ``name`` configured in ``root/reconciler.yaml`` keeps
    its state between runs."""
    return root / EMULATOR_STATE_DIRECTORY / f"emulator-{name}.json"


def _address(
    defaults: ConnectionDefaults,
    configured: ProviderSettings,
    flag: str | None,
    env: Mapping[str, str],
) -> tuple[str | None, str, Path | None]:
    """``(base URL, where it came from, emulator seed)``."""
    if flag:
        return flag, "--base-url", None
    from_env = env.get(defaults.base_url_variable, "").strip()
    if from_env:
        return from_env, defaults.base_url_variable, None
    if configured.emulator_seed is not None:
        return None, "emulator.seed in reconciler.yaml", configured.emulator_seed
    if configured.base_url:
        return configured.base_url, "base_url in reconciler.yaml", None
    return defaults.base_url, "default", None


def _api_key(
    name: str, defaults: ConnectionDefaults, configured: ProviderSettings, env: Mapping[str, str]
) -> Secret:
    from_env = env.get(defaults.key_variable, "").strip()
    if from_env:
        _check_key(from_env, defaults.key_variable)
        return Secret(from_env)
    key_file = configured.api_key_file
    if key_file is None:
        raise ConfigError(
            f"{defaults.key_variable} is not set; export it or set "
            f"providers.{name}.api_key_file in reconciler.yaml"
        )
    try:
        # utf-8-sig: a byte order mark (Notepad writes one) is no part of the key.
        text = key_file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "unreadable"
        raise ConfigError(
            f"cannot read the API key file {key_file} (providers.{name}.api_key_file): {reason}"
        ) from None
    key = text.strip()
    where = f"the API key file {key_file} (providers.{name}.api_key_file)"
    if not key:
        raise ConfigError(f"{where} is empty")
    lines = len(key.splitlines())
    if lines > 1:
        # Never the content: one of these lines is the key.
        raise ConfigError(
            f"{where} has {lines} lines; it must hold only the key, on one line "
            "(move comments out of the file)"
        )
    _check_key(key, where)
    return Secret(key)


def _check_key(key: str, source: str) -> None:
    """Refuse a key no ``Authorization`` header can carry, without showing any of it.

    httpx would otherwise fail on every attempt with an error quoting the header, key included.
    """
    if not all(" " < character < "\x7f" for character in key):
        raise ConfigError(
            f"{source} contains spaces, control or non-ASCII characters; "
            "an API key is one word of printable ASCII: check that the whole key was copied"
        )


@runtime_checkable
class KeptState(Protocol):
    """An emulator state that can be kept between runs: written as a seed it reads back."""

    def to_seed(self) -> dict[str, Any]: ...


class ProviderHandle:
    """An open provider, plus the in-process emulator serving it when the config asks for one.

    Use as a context manager: leaving it closes connections and stops the emulator.
    """

    def __init__(
        self,
        provider: Provider,
        settings: ConnectionSettings,
        *,
        emulator: RunningEmulator[Any] | None = None,
        verbose: bool = False,
    ) -> None:
        self.provider = provider
        self.settings = settings
        self.emulator = emulator
        self.verbose = verbose
        # The emulator's state as it started: written back only when a run changed it.
        self._started_as = (
            emulator.state.to_seed()
            if emulator is not None and isinstance(emulator.state, KeptState)
            else None
        )

    def __repr__(self) -> str:
        return f"ProviderHandle({self.settings.provider!r}, base_url={self.provider.base_url!r})"

    @property
    def address(self) -> str:
        """What this handle talks to, for people: the base URL without credentials, or "the
        built-in emulator"."""
        if self.settings.emulator_seed is not None:
            return "the built-in emulator"
        return public_url(self.provider.base_url)

    def request_counts(self) -> dict[str, int]:
        """Request attempts sent so far, by HTTP method."""
        return dict(self.provider.request_counts())

    def close(self) -> None:
        if self.verbose:
            counts = self.request_counts()
            summary = ", ".join(f"{method} {n}" for method, n in counts.items()) or "none"
            logger.info(
                "%s: %d requests (%s)", self.settings.provider, sum(counts.values()), summary
            )
        try:
            self.provider.close()
        finally:
            if self.emulator is not None:
                try:
                    self._keep_emulator_state(self.emulator)
                finally:
                    self.emulator.stop()
                    self.emulator = None

    def _keep_emulator_state(self, emulator: RunningEmulator[Any]) -> None:
        target = self.settings.emulator_state
        if target is None or not isinstance(emulator.state, KeptState):
            return
        state = emulator.state.to_seed()
        if state == self._started_as:
            return
        write_atomic(
            target.parent / ".gitignore",
            "# reconciler's local state: never commit it\n*\n",
            make_parents=True,
        )
        text = json.dumps(state, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        write_atomic(target, text, what="the built-in emulator's state")

    def __enter__(self) -> ProviderHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_provider(
    name: str,
    *,
    config: Config | None,
    base_url_flag: str | None = None,
    rate_limit_flag: RateLimit | str | None = None,
    verbose: bool = False,
    environ: Mapping[str, str] | None = None,
    retry: RetryPolicy | None = None,
    max_concurrency: int = 8,
) -> ProviderHandle:
    """Resolve ``name``'s settings and open its provider (starting the emulator if configured).

    ``ConfigError`` for missing credentials, an unusable base URL, or an unknown provider.
    """
    settings = resolve_settings(
        name,
        config=config,
        base_url_flag=base_url_flag,
        rate_limit_flag=rate_limit_flag,
        environ=environ,
    )
    emulator = None
    base_url = settings.base_url
    if settings.emulator_seed is not None:
        emulator = _start_emulator(name, settings)
        base_url = emulator.url
    assert base_url is not None
    try:
        provider = _open(name, base_url, settings, retry=retry, max_concurrency=max_concurrency)
    except BaseException:
        if emulator is not None:
            emulator.stop()
        raise
    pacing = ", ".join(f"{k} {v}" for k, v in settings.rate_limits.items()) or "unpaced"
    logger.info("%s: %s (from %s), pacing %s", name, base_url, settings.source, pacing)
    return ProviderHandle(provider, settings, emulator=emulator, verbose=verbose)


def _start_emulator(name: str, settings: ConnectionSettings) -> RunningEmulator[Any]:
    # Imported here: the emulator's server stack is only needed when the config asks for it.
    from reconciler.emulator import EmulatorSettings, start_emulator

    options = EmulatorSettings(api_key=settings.api_key.reveal(), rate_limit=None)
    kept = settings.emulator_state
    if kept is None or not kept.is_file():
        return start_emulator(name, options, seed=settings.emulator_seed)
    try:
        return start_emulator(name, options, seed=kept)
    except ConfigError as exc:
        raise ConfigError(
            f"{exc}; the built-in emulator's saved state is unreadable: "
            "`reconciler emulator --reset` starts it from its seed again"
        ) from None


def _open(
    name: str,
    base_url: str,
    settings: ConnectionSettings,
    *,
    retry: RetryPolicy | None,
    max_concurrency: int,
) -> Provider:
    request = OpenRequest(
        base_url=base_url,
        api_key=settings.api_key,
        rate_limits=settings.rate_limits,
        key_source=settings.key_source,
        api_version=settings.api_version,
        emulated=settings.emulator_seed is not None,
        burst=settings.burst,
        retry=retry,
        max_concurrency=max_concurrency,
    )
    return plugin(name).open(request)
