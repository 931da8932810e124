"""examples/litellm: its manifest fits the assembled schema, differs from its seed exactly as its
comments say, and runs from the CLI with the built-in emulator."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from cli_helpers import Run
from test_providers_litellm_fields import assembled_schema

from reconciler.clients.secret import Secret
from reconciler.emulator import RunningEmulator
from reconciler.providers.litellm.emulator_model import LiteLLMState
from reconciler.providers.litellm.fields import ENVIRONMENT, FIELDS
from reconciler.providers.litellm.provider import LiteLLMProvider
from reconciler.providers.litellm.values import same

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "litellm"
Factory = Callable[..., RunningEmulator[LiteLLMState]]


def declared() -> dict[str, dict[str, Any]]:
    document = yaml.safe_load((EXAMPLE / "customers" / "end-users.yaml").read_text())
    defaults = document.get("defaults", {})
    return {c["user_id"]: {**defaults, **c} for c in document["customers"]}


def test_manifest_fits_the_assembled_schema() -> None:
    """The example manifest validates against the core schema with LiteLLM's fragment."""
    document = yaml.safe_load((EXAMPLE / "customers" / "end-users.yaml").read_text())
    jsonschema.Draft202012Validator(assembled_schema()).validate(document)


def test_manifest_differs_from_the_seed_as_its_comments_say(litellm_emulator: Factory) -> None:
    """One budget raise, one unblock, one create; 100.00 vs 100.0 and model order are equal."""
    emu = litellm_emulator(seed=EXAMPLE / "live.json")
    provider = LiteLLMProvider.open(emu.url, Secret(emu.api_key))
    try:
        live = provider.read_live(ENVIRONMENT, [])
    finally:
        provider.close()
    drift = {}
    for user_id, customer in declared().items():
        if user_id not in live:
            drift[user_id] = "create"
            continue
        changed = sorted(
            name
            for name, value in customer.items()
            if name in FIELDS and not same(name, live[user_id].fields[name], value)
        )
        if changed:
            drift[user_id] = ", ".join(changed)
    assert drift == {"acme-corp": "max_budget", "globex": "blocked", "hooli": "create"}
    assert set(live) - set(declared()) == {"trial-expired-co"}


def test_the_cli_plans_and_applies_the_example(cli: Callable[..., Run], workdir: Path) -> None:
    """In a copy of the example, plan --prune shows the documented changes, apply makes them
    (the built-in emulator of reconciler.yaml, no key), and a create-only change is a
    provider violation that apply refuses (exit 3)."""
    shutil.copytree(EXAMPLE, workdir, dirs_exist_ok=True)
    planned = cli("plan", "--prune")
    assert planned.code == 0, planned.err
    assert "Plan: 1 to create, 2 to update, 1 to delete" in planned.out
    # The built-in emulator starts from live.json on every run: apply succeeds against it.
    applied = cli("apply", "--prune", "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    manifest = workdir / "customers" / "end-users.yaml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace("budget_duration: 30d", "budget_duration: 7d"), "utf-8")
    refused = cli("plan")
    assert refused.code == 3, refused.out + refused.err
    assert "budget_duration can only be set when the customer is created" in refused.out
