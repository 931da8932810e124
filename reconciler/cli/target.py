"""What a run talks to, said before anything else: provider, environment, API address.

``plan`` and ``apply`` start their output with one such line per provider, and the apply prompt
repeats it: a plan read from the wrong API looks exactly like a plan read from the right one.
Commands that connect also say when a variable overrides the emulator of ``reconciler.yaml``,
and when a set variable looks like a misspelling of one reconciler reads (``RESPAN_URL``
instead of ``RESPAN_BASE_URL`` would otherwise fall back to production without a word).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import click

from reconciler.plan.saved import PLAN_KEY_VARIABLE
from reconciler.settings.connection import ProviderHandle, misspelled_variables


def target_line(handle: ProviderHandle, environments: Sequence[str]) -> str:
    """``Talking to respan, environment prod, at https://api.respan.ai``."""
    noun = "environment" if len(environments) == 1 else "environments"
    listed = " and ".join(environments) if environments else "none"
    return (
        f"Talking to {handle.settings.provider}, {noun} {listed}, at {handle.address}"
        f"{_source(handle)}"
    )


def target_lines(
    handles: Mapping[str, ProviderHandle], environments: Mapping[str, Sequence[str]]
) -> list[str]:
    """One ``target_line`` per provider, in name order."""
    return [target_line(handles[name], environments.get(name, ())) for name in sorted(handles)]


def _source(handle: ProviderHandle) -> str:
    source = handle.settings.source
    if handle.settings.emulator_seed is not None or source in (
        "default",
        "base_url in reconciler.yaml",
    ):
        return ""
    return f" (from {source})"


def connection_notes(handle: ProviderHandle) -> list[str]:
    """Lines for stderr about how ``handle``'s address was chosen, when it surprises."""
    overridden = handle.settings.overrides
    if overridden is None:
        return []
    return [f"Note: {handle.settings.source} is set, so it overrides {overridden}."]


def variable_hints(environ: Mapping[str, str]) -> list[str]:
    """One line per set variable that looks like a misspelling of one reconciler reads."""
    return [
        f"Hint: {name} is set but reconciler does not read it; did you mean {meant}?"
        for name, meant in misspelled_variables(environ, frozenset({PLAN_KEY_VARIABLE}))
    ]


def echo_lines(lines: Sequence[str]) -> None:
    """Print notes and hints to stderr, one per line."""
    for line in lines:
        click.echo(line, err=True)
