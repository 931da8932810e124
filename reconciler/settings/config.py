"""Project settings from ``reconciler.yaml``: manifests, audit log, pacing, policy, providers.

The file is read with the manifests' safe, position-keeping YAML reader and validated against
``schemas/config.schema.json``; every problem is reported as ``file:line:col`` in one
``ConfigError``. Paths in the file are relative to the file's directory. API keys are never in
the file: only ``api_key_file``, a path to a file holding one.

Defaults when a key is absent: ``manifests`` empty, ``audit_log`` ``reconciler-audit.jsonl``
beside the file (``audit_log: null`` turns it off and gives ``None``), ``rate_limit`` ``None``
(use the provider's documented limit), ``policy`` ``Policy()``, ``providers`` empty.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

from reconciler.domain import Policy
from reconciler.errors import ConfigError
from reconciler.manifests.loader import display_path
from reconciler.manifests.resources import CONFIG_SCHEMA
from reconciler.manifests.schema import schema_problems
from reconciler.manifests.yamlfile import YamlDocument, locate, position, read_yaml_file
from reconciler.problems import Problem
from reconciler.settings.ratelimit import RateLimit
from reconciler.settings.urls import check_base_url

CONFIG_FILE_NAME = "reconciler.yaml"  # also in manifests.loader.CONFIG_FILE_NAMES
MISNAMED_CONFIG_FILE = "reconciler.yml"
DEFAULT_AUDIT_LOG = "reconciler-audit.jsonl"

MAX_RATE_COUNT = 1_000_000
"""Most requests a pace allows per period: beyond it nothing is paced, and a pacer keeps one
slot per request of its window (a count of 10^23 overflowed it)."""

_RATE = re.compile(r"\s*([0-9]+)\s*/\s*([a-z]+)\s*", re.IGNORECASE)
_PERIODS = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0}


def parse_rate_limit(text: str) -> RateLimit:
    """``"60/min"`` -> ``RateLimit(60, 60.0)``; accepts ``N/s``, ``N/sec``, ``N/min``, ``N/m``
    with N from 1 to ``MAX_RATE_COUNT``.

    Raises ``ConfigError`` naming the bad value and the accepted forms.
    """
    match = _RATE.fullmatch(text)
    period = _PERIODS.get(match.group(2).lower()) if match else None
    if match is None or period is None or not 1 <= int(match.group(1)) <= MAX_RATE_COUNT:
        raise ConfigError(
            f"invalid rate limit {text!r}: write N/s or N/min with N from 1 to "
            f"{MAX_RATE_COUNT:,}, e.g. 60/min"
        )
    return RateLimit(int(match.group(1)), period)


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """Connection settings for one provider from ``providers:``; paths are absolute."""

    base_url: str | None = None
    api_key_file: Path | None = None
    rate_limit: RateLimit | None = None
    # Requests that may go back to back within one window (``None``: the window's count).
    burst: int | None = None
    api_version: str | None = None
    emulator_seed: Path | None = None


@dataclass(frozen=True, slots=True)
class Config:
    """The settings of one project (the directory holding ``reconciler.yaml``)."""

    root: Path
    manifests: tuple[Path, ...] = ()
    audit_log: Path | None = None
    rate_limit: RateLimit | None = None
    policy: Policy = field(default_factory=Policy)
    providers: Mapping[str, ProviderSettings] = field(default_factory=lambda: MappingProxyType({}))

    def provider(self, name: str) -> ProviderSettings:
        """Settings for provider ``name`` (all unset when the file does not mention it)."""
        return self.providers.get(name, ProviderSettings())

    def rate_limit_for(self, name: str) -> RateLimit | None:
        """The pacing for provider ``name``: its own ``rate_limit``, else the top-level one."""
        return self.provider(name).rate_limit or self.rate_limit


def find_config(cwd: Path) -> Config | None:
    """The configuration in ``cwd`` (``reconciler.yaml``), or ``None`` when there is none.

    A ``reconciler.yml`` there is a ``ConfigError``: read by nothing, its policy and
    connections would silently not apply (a plan against the default API, unguarded).
    """
    misnamed = cwd / MISNAMED_CONFIG_FILE
    if misnamed.is_file():
        problem = Problem(
            display_path(misnamed),
            1,
            1,
            f"reconciler reads its settings from {CONFIG_FILE_NAME}, never {MISNAMED_CONFIG_FILE}",
            f"rename it to {CONFIG_FILE_NAME} (or merge it into the one there) so that its "
            "policy and connections apply",
        )
        raise ConfigError(_describe([problem]))
    path = cwd / CONFIG_FILE_NAME
    return load_config(path) if path.is_file() else None


def project_audit_log(config: Config | None, cwd: Path) -> Path | None:
    """The audit log a project uses: ``audit_log:`` of its reconciler.yaml (``None``: off),
    else ``reconciler-audit.jsonl`` in ``cwd`` when there is no reconciler.yaml."""
    if config is not None:
        return config.audit_log
    return cwd / DEFAULT_AUDIT_LOG


def load_config(path: Path) -> Config:
    """Read and check ``path``; raises ``ConfigError`` listing every problem with its position."""
    display = display_path(path)
    parsed = read_yaml_file(path, display)
    problems = [problem for problem in parsed.problems if problem.severity == "error"]
    documents = [document for document in parsed.documents if document.value is not None]
    if len(documents) > 1:
        line = documents[1].node.start_mark.line + 1
        problems.append(
            Problem(display, line, 1, "reconciler.yaml holds one document", "remove the '---'")
        )
    if not problems and documents:
        problems.extend(schema_problems(documents[0], CONFIG_SCHEMA))
    if not problems and documents:
        problems.extend(_base_url_problems(display, documents[0]))
    if problems:
        raise ConfigError(_describe(problems))
    value: dict[str, Any] = documents[0].value if documents else {}
    return _config(path.resolve().parent, value)


def _base_url_problems(display: str, document: YamlDocument) -> list[Problem]:
    """Each ``providers.NAME.base_url`` that no connection would use (plain http:// to another
    machine, credentials in it, no https://), placed where it is written."""
    problems = []
    for name, settings in (document.value.get("providers") or {}).items():
        url = settings.get("base_url") if isinstance(settings, Mapping) else None
        if not isinstance(url, str):
            continue
        try:
            check_base_url(url)
        except ConfigError as exc:
            line, column = position(locate(document.node, ["providers", name, "base_url"]))
            problems.append(
                Problem(
                    display,
                    line,
                    column,
                    f"providers.{name}.base_url: {exc}",
                    "give the API's https:// address (plain http:// only to this machine)",
                )
            )
    return problems


def _describe(problems: list[Problem]) -> str:
    lines = ["invalid configuration:"]
    for problem in sorted(problems):
        lines.extend(problem.lines())
    return "\n".join(lines)


def _config(root: Path, value: Mapping[str, Any]) -> Config:
    audit_log = value.get("audit_log", DEFAULT_AUDIT_LOG)
    rate_limit = value.get("rate_limit")
    providers = {
        name: _provider_settings(root, settings or {})
        for name, settings in (value.get("providers") or {}).items()
    }
    return Config(
        root=root,
        manifests=tuple(root / entry for entry in value.get("manifests") or ()),
        audit_log=root / audit_log if audit_log is not None else None,
        rate_limit=parse_rate_limit(rate_limit) if rate_limit is not None else None,
        policy=_policy(value.get("policy") or {}),
        providers=MappingProxyType(providers),
    )


def _provider_settings(root: Path, value: Mapping[str, Any]) -> ProviderSettings:
    key_file = value.get("api_key_file")
    rate_limit = value.get("rate_limit")
    seed = (value.get("emulator") or {}).get("seed")
    burst = value.get("burst")
    return ProviderSettings(
        base_url=value.get("base_url"),
        api_key_file=root / key_file if key_file is not None else None,
        rate_limit=parse_rate_limit(rate_limit) if rate_limit is not None else None,
        # JSON Schema's "integer" takes 2.0 too; the pacer counts requests with it.
        burst=int(burst) if burst is not None else None,
        api_version=value.get("api_version"),
        emulator_seed=root / seed if seed is not None else None,
    )


def _policy(value: Mapping[str, Any]) -> Policy:
    defaults = Policy()

    def amount(name: str) -> Decimal | None:
        number = value.get(name, getattr(defaults, name))
        return None if number is None else Decimal(repr(number))

    return Policy(
        max_deletes=int(value.get("max_deletes", defaults.max_deletes)),
        max_period_budget=amount("max_period_budget"),
        max_total_budget=amount("max_total_budget"),
        max_increase_pct=amount("max_increase_pct"),
        max_decrease_pct=amount("max_decrease_pct"),
        max_total_budget_change=amount("max_total_budget_change"),
        forbid_budget_below_usage=bool(
            value.get("forbid_budget_below_usage", defaults.forbid_budget_below_usage)
        ),
        protect=tuple(str(glob) for glob in value.get("protect") or ()),
    )
