"""``reconciler emulator``: serve a local emulator of a provider's API until interrupted."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

import click

from reconciler.emulator.common import EmulatorSettings
from reconciler.errors import ConfigError
from reconciler.manifests import display_path
from reconciler.providers.registry import default_provider, plugin, plugins
from reconciler.settings.config import find_config, parse_rate_limit
from reconciler.settings.connection import emulator_state_file


def _probability(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not 0.0 <= value <= 1.0:  # false for NaN too
        raise click.BadParameter("must be between 0 and 1")
    return value


# A delay longer than any client waits for an answer is a hung server, not a slow one.
MAX_DELAY_MS = 600_000.0


def _delay_ms(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not 0.0 <= value <= MAX_DELAY_MS:  # false for NaN too, which click's FloatRange lets by
        raise click.BadParameter(f"must be between 0 and {MAX_DELAY_MS:,.0f} (10 minutes)")
    return value


@click.command("emulator")
@click.option(
    "--provider",
    type=click.Choice(sorted(plugins())),
    default=default_provider(),
    show_default=True,
    help="Which provider's API to serve.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port to listen on; 0 picks a free one (printed at start).",
)
@click.option(
    "--seed",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A JSON seed document in the API's own shapes (see the provider's page in docs/).",
)
@click.option(
    "--api-key",
    metavar="KEY",
    help="Key clients must send. Default: the provider's key variable, else its documented "
    "dev key (see the provider's page in docs/).",
)
@click.option(
    "--latency-ms", type=float, default=0.0, callback=_delay_ms, help="Delay per request."
)
@click.option(
    "--jitter-ms",
    type=float,
    default=0.0,
    callback=_delay_ms,
    help="Extra random delay, up to N.",
)
@click.option(
    "--rate-limit",
    metavar="N/s|N/min|off",
    help="Requests allowed per organization. Default: the provider's documented limit.",
)
@click.option(
    "--fail-rate", type=float, default=0.0, callback=_probability, help="Share of injected 500s."
)
@click.option(
    "--drop-rate",
    type=float,
    default=0.0,
    callback=_probability,
    help="Share of connections closed before a complete response.",
)
@click.option(
    "--throttle-rate",
    type=float,
    default=0.0,
    callback=_probability,
    help="Share of injected 429s (retry_after 1 s).",
)
@click.option(
    "--retry-after-header", is_flag=True, help="Also send a Retry-After header with each 429."
)
@click.option(
    "--omit-fields",
    metavar="A,B",
    default="",
    help="Leave these fields out of single-customer answers (Respan only, e.g. "
    "metadata,markup_percentage); a field those answers do not carry is an error.",
)
@click.option("--fault-seed", type=int, help="Seed of the fault RNG, for repeatable faults.")
@click.option(
    "--reset",
    is_flag=True,
    help="Serve nothing: delete the state the built-in emulators of ./reconciler.yaml kept "
    "between runs, so that the next plan or apply starts from their seed again.",
)
def emulator(
    provider: str,
    host: str,
    port: int,
    seed: Path | None,
    api_key: str | None,
    latency_ms: float,
    jitter_ms: float,
    rate_limit: str | None,
    fail_rate: float,
    drop_rate: float,
    throttle_rate: float,
    retry_after_header: bool,
    omit_fields: str,
    fault_seed: int | None,
    reset: bool,
) -> int:
    """Run a local emulator of the provider's API, for trying plans and applies safely.

    Prints "listening on http://HOST:PORT" once it accepts connections and serves until
    interrupted (Ctrl-C or SIGTERM). GET /_emulator/stats shows request counts.

    The built-in emulator that reconciler.yaml configures (providers.NAME.emulator.seed) is
    another one: plan and apply run it themselves and keep its state in .reconciler/ beside
    reconciler.yaml; `reconciler emulator --reset` restores its seed.
    """
    if reset:
        return _reset()
    from reconciler.emulator.running import start_emulator

    chosen = plugin(provider)
    parts = chosen.emulator_parts()
    key_variable = chosen.connection.key_variable
    key = api_key or os.environ.get(key_variable) or parts.default_api_key
    settings = EmulatorSettings(
        api_key=key,
        rate_limit=_rate_limit(rate_limit) if rate_limit else parts.default_rate_limit,
        retry_after_header=retry_after_header,
        latency_ms=latency_ms,
        jitter_ms=jitter_ms,
        fail_rate=fail_rate,
        drop_rate=drop_rate,
        rate_limit_429_rate=throttle_rate,
        seed=fault_seed,
        omit_fields=_omitted(omit_fields, parts.omittable_fields, provider),
    )
    if host not in {"127.0.0.1", "localhost", "::1"}:
        click.echo(f"warning: serving on {host}, reachable beyond this machine", err=True)
    running = start_emulator(provider, settings, seed=seed, host=host, port=port)
    try:
        if not api_key and not os.environ.get(key_variable):
            click.echo("using the default emulator key (see --api-key)", err=True)
        click.echo(f"listening on {running.url}")
        sys.stdout.flush()
        _wait_for_interrupt()
    finally:
        running.stop()
    click.echo("emulator stopped", err=True)
    return 0


def _omitted(text: str, omittable: frozenset[str], provider: str) -> frozenset[str]:
    """The names of ``--omit-fields``; a name the emulator cannot omit is a usage error (a
    typo would otherwise serve the field and test nothing)."""
    names = frozenset(name.strip() for name in text.split(",") if name.strip())
    unknown = sorted(names - omittable)
    if unknown and not omittable:
        message = f"the {provider} emulator leaves no fields out"
    elif unknown:
        known = ", ".join(sorted(omittable))
        message = f"{', '.join(unknown)}: not a field the {provider} emulator answers ({known})"
    else:
        return names
    raise click.BadParameter(message, param_hint="'--omit-fields'")


def _reset() -> int:
    """Delete the saved state of every built-in emulator of ./reconciler.yaml."""
    config = find_config(Path.cwd())
    if config is None:
        raise click.UsageError("--reset needs a reconciler.yaml in this directory")
    seeded = {
        name: settings.emulator_seed
        for name, settings in sorted(config.providers.items())
        if settings.emulator_seed is not None
    }
    if not seeded:
        click.echo("reconciler.yaml configures no built-in emulator: nothing to reset.")
        return 0
    for name, seed in seeded.items():
        state = emulator_state_file(config.root, name)
        seed_name = display_path(seed)
        if state.is_file():
            state.unlink()
            click.echo(
                f"{name}: removed {display_path(state)}; the next run starts from {seed_name}."
            )
        else:
            click.echo(f"{name}: no saved state; runs start from {seed_name}.")
    return 0


def _rate_limit(text: str) -> tuple[int, float] | None:
    """``N/s`` or ``N/min`` as ``(count, seconds)``; ``off`` serves without a limit."""
    if text.strip().lower() == "off":
        return None
    limit = parse_rate_limit(text)
    return limit.count, limit.per_seconds


def _wait_for_interrupt() -> None:
    """Block until SIGINT or SIGTERM arrives."""
    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    try:
        previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError as exc:  # not the main thread: signals cannot be caught here
        raise ConfigError("the emulator must run on the main thread") from exc
    try:
        while not stop.wait(timeout=1.0):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
