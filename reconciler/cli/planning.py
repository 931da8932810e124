"""Planning from manifests, shared by ``plan`` and ``apply`` so that apply applies exactly
what plan shows: the selection flags, the connection-flag check, and the sequence
manifests -> live read -> diff -> usage read -> policy."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from reconciler.cli.common import F, manifest_paths
from reconciler.cli.target import connection_notes, echo_lines, variable_hints
from reconciler.domain import CustomerKey, DesiredCustomer, Policy
from reconciler.errors import ConfigError, ManifestError
from reconciler.livestate import environments, read_live, read_usage
from reconciler.manifests import load_manifests
from reconciler.manifests.gitbase import BaseManifests, load_base_manifests
from reconciler.plan.model import BaseRevision, Plan
from reconciler.planner import PlanOptions, build_plan, evaluate_policy
from reconciler.planner.cause import removal_violations, with_causes
from reconciler.planner.planner import GLOB_PREFIX, selector_matches
from reconciler.planner.policy import provider_violation
from reconciler.printable import printable
from reconciler.problems import closest
from reconciler.providers.base import Provider
from reconciler.providers.registry import MODELS
from reconciler.settings.config import Config
from reconciler.settings.connection import ProviderHandle, open_provider

ConnectFn = Callable[[str], ProviderHandle]
"""Open the named provider for the rest of the run."""


@dataclass(frozen=True, slots=True)
class ManifestPlan:
    """A plan made from manifests, with what ``plan`` and ``apply`` need next."""

    plan: Plan
    # The providers the plan involves, open, by name.
    handles: Mapping[str, ProviderHandle]
    # Per provider, the environments whose live state was read.
    environments: Mapping[str, tuple[str, ...]]
    # The manifest files and directories read, and the digest of their contents.
    sources: Sequence[Path]
    digest: str


def selection_options(verb: str) -> Callable[[F], F]:
    """``--target``, ``--exclude`` and ``--provider``: which customers ``plan`` and ``apply``
    take part. ``verb`` ("Plan", "Apply") starts the help of ``--provider``."""

    def decorate(command: F) -> F:
        command = click.option(
            "--provider",
            "provider_name",
            type=click.Choice(sorted(MODELS)),
            help=f"{verb} only this provider's customers; --base-url and --rate-limit apply to it.",
        )(command)
        command = click.option(
            "--exclude",
            "excludes",
            multiple=True,
            metavar="ID",
            help="Leave out the customer with exactly this id; 'glob:PATTERN' leaves out every "
            "id matching the glob (*, ?, [abc]). Repeatable.",
        )(command)
        return click.option(
            "--target",
            "targets",
            multiple=True,
            metavar="ID",
            help="Only the customer with exactly this id; 'glob:PATTERN' takes every id "
            "matching the glob (*, ?, [abc]), e.g. --target 'glob:acme-*'. Repeatable.",
        )(command)

    return decorate


def connector(
    stack: contextlib.ExitStack,
    config: Config | None,
    base_url: str | None,
    rate_limit: str | None,
    verbose: bool,
) -> ConnectFn:
    """Open providers with the run's connection flags, each closed when ``stack`` closes.

    Before the first, hints about misspelled variables; with each, notes on its address."""
    echo_lines(variable_hints(os.environ))

    def connect(name: str) -> ProviderHandle:
        handle = open_provider(
            name,
            config=config,
            base_url_flag=base_url,
            rate_limit_flag=rate_limit,
            verbose=verbose,
        )
        echo_lines(connection_notes(handle))
        return stack.enter_context(handle)

    return connect


def plan_from_manifests(
    paths: Sequence[Path],
    config: Config | None,
    options: PlanOptions,
    *,
    provider_name: str | None,
    connection_flags: bool,
    connect: ConnectFn,
    base_ref: str | None = None,
) -> ManifestPlan:
    """Load the manifests (warnings to stderr), read the live state of the providers they
    use (only ``provider_name``'s when given), diff, and check policy.

    ``base_ref`` (``plan --base``): also read the same manifests as they were at that git
    revision, before any request, and give every change its cause against them.

    ``connection_flags``: ``--base-url`` or ``--rate-limit`` was given, which is ambiguous
    (a usage error) when several providers are involved and ``--provider`` picks none.
    """
    sources = manifest_paths(paths, config)
    loaded = load_manifests(sources)
    for warning in loaded.warnings:
        click.echo(str(warning), err=True)
    # Read before any request: a base that does not load stops the run with nothing sent.
    base = load_base_manifests(base_ref, sources, Path.cwd()) if base_ref is not None else None
    # Only a prune deletes, so only a prune needs what the rest of the project declares.
    project = (
        project_customers(config, loaded.customers, sources, "--prune")
        if options.prune
        else tuple(loaded.customers)
    )
    customers = [
        customer
        for customer in loaded.customers
        if provider_name is None or customer.provider == provider_name
    ]
    names = sorted({customer.provider for customer in customers})
    if connection_flags and provider_name is None and len(names) > 1:
        raise click.UsageError(
            "--base-url and --rate-limit need --provider when the manifests use several "
            f"providers ({', '.join(names)})"
        )
    handles = {name: connect(name) for name in names}
    providers = {name: handle.provider for name, handle in handles.items()}
    wanted = environments(customers)
    live = read_live(providers, wanted, customers, options)
    _check_selectors(options, [c.id for c in customers] + [key[2] for key in live])
    keys = {customer.key for customer in project}
    plan = build_plan(customers, live, MODELS, options, keys)
    plan = with_policy(plan, config, providers, protected(project))
    if base is not None:
        # A protected customer moved to a manifest outside the PATHs planned is still declared.
        declared = (
            project
            if options.prune
            else project_customers(config, loaded.customers, sources, "--base")
        )
        plan = against_base(plan, base, declared)
    return ManifestPlan(plan, handles, wanted, sources, loaded.digest)


def against_base(plan: Plan, base: BaseManifests, declared: Sequence[DesiredCustomer]) -> Plan:
    """``plan`` with the cause of each change against ``base``, and a ``prevent_destroy``
    violation for each protected customer of the base that ``declared`` no longer has."""
    revision = BaseRevision(base.ref, base.commit)
    plan = with_causes(plan, base.customers, MODELS, revision)
    removed = removal_violations(base.customers, (c.key for c in declared), revision)
    return dataclasses.replace(plan, policy_violations=plan.policy_violations + removed)


def _check_selectors(options: PlanOptions, ids: Sequence[str]) -> None:
    """A ``--target``/``--exclude`` that names no declared or live customer is a usage error:
    with exact ids, a typo (or a pattern written without ``glob:``) would otherwise plan
    nothing, silently."""
    for flag, selectors in (("--target", options.targets), ("--exclude", options.excludes)):
        for selector in selectors:
            if not any(selector_matches(selector, identifier) for identifier in ids):
                shown = printable(selector)
                is_glob = selector.startswith(GLOB_PREFIX)
                hint = (
                    ""
                    if is_glob or not any(c in selector for c in "*?[")
                    else f"; for a pattern write {flag} '{GLOB_PREFIX}{shown}'"
                )
                # A glob's prefix is no part of any id: "glob:" alone must not suggest "globex".
                close = closest(selector.removeprefix(GLOB_PREFIX), sorted(set(ids)))
                if not hint and close:
                    hint = f"; did you mean '{printable(close)}'?"
                raise click.UsageError(
                    f"{flag} '{shown}' matches no declared or live customer "
                    f"(ids match exactly){hint}"
                )


def project_customers(
    config: Config | None,
    planned: Sequence[DesiredCustomer],
    sources: Sequence[Path],
    purpose: str,
) -> tuple[DesiredCustomer, ...]:
    """Every customer the project declares: the ``manifests:`` of reconciler.yaml and the
    ``planned`` ones (read from ``sources``). Without ``manifests:``, the planned ones alone.

    Manifests of the project that do not load are a ``ConfigError`` naming ``purpose`` (what
    needs them, e.g. ``--prune``): what they declare is unknown, so nothing may be deleted on
    their account.
    """
    if config is None or not config.manifests or list(sources) == list(config.manifests):
        return tuple(planned)
    try:
        loaded = load_manifests(config.manifests)
    except ManifestError as exc:
        listed = ", ".join(str(path) for path in config.manifests)
        raise ConfigError(
            f"{purpose} is refused: it must know every customer the project declares, but the "
            f"manifests of reconciler.yaml ({listed}) have {len(exc.problems)} problem(s); "
            "run `reconciler validate` and fix them first (nothing was planned for deletion)"
        ) from None
    return (*loaded.customers, *planned)


def protected(customers: Sequence[DesiredCustomer]) -> frozenset[CustomerKey]:
    """The keys of the customers declared with ``lifecycle.prevent_destroy: true``."""
    return frozenset(c.key for c in customers if c.lifecycle.prevent_destroy)


def with_policy(
    plan: Plan,
    config: Config | None,
    providers: Mapping[str, Provider],
    protected_keys: frozenset[CustomerKey] | None = None,
) -> Plan:
    """``plan`` with the violations of the ``policy:`` of reconciler.yaml (else the default
    policy), reading usage only for the customers whose guarded budget goes down.

    ``protected_keys``: the customers declared with ``prevent_destroy``; when not given and
    the plan deletes someone (a saved plan), they are read from the project's manifests,
    which must then load (a ``ConfigError`` otherwise: a delete is never judged blind).
    """
    policy = config.policy if config is not None else Policy()
    if protected_keys is None:
        protected_keys = frozenset()
        if plan.count("delete") and config is not None and config.manifests:
            protected_keys = protected(project_customers(config, (), (), "deleting customers"))
    usage = read_usage(providers, plan)
    violations = evaluate_policy(plan, policy, usage, MODELS, protected=protected_keys)
    refused = tuple(
        provider_violation(reason, change)
        for change in plan.changes
        if change.provider in providers
        and (reason := providers[change.provider].refusal(change)) is not None
    )
    return dataclasses.replace(plan, policy_violations=violations + refused)
