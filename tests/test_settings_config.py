"""reconciler.yaml: parsing into Config, defaults, rate limits, and positioned errors."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from reconciler.domain import Policy
from reconciler.errors import ConfigError
from reconciler.settings.config import (
    DEFAULT_AUDIT_LOG,
    Config,
    ProviderSettings,
    find_config,
    load_config,
    parse_rate_limit,
)
from reconciler.settings.ratelimit import RateLimit

FULL = """\
manifests: [customers/, more/extra.yaml]
audit_log: logs/audit.jsonl
rate_limit: 60/min
policy:
  max_deletes: 2
  max_period_budget: 1000
  max_total_budget: 20000.50
  max_increase_pct: 100
  max_decrease_pct: 50
  max_total_budget_change: 5000
  forbid_budget_below_usage: false
  protect: [acme-*, "vip-[0-9]*"]
providers:
  respan:
    base_url: https://api.respan.ai
    api_key_file: secrets/respan.key
    rate_limit: 2/s
    emulator:
      seed: live.json
  autumn:
    base_url: https://api.useautumn.com
    api_version: 2.2.0
"""


def write_config(directory: Path, text: str) -> Path:
    path = directory / "reconciler.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("60/min", RateLimit(60, 60.0)),
        ("60/m", RateLimit(60, 60.0)),
        ("5/s", RateLimit(5, 1.0)),
        ("5/sec", RateLimit(5, 1.0)),
        (" 25 / second ", RateLimit(25, 1.0)),
        ("1/MIN", RateLimit(1, 60.0)),
    ],
)
def test_parse_rate_limit_accepts_per_second_and_per_minute(text: str, expected: RateLimit) -> None:
    """N/s, N/sec, N/min and N/m parse to a count per period."""
    assert parse_rate_limit(text) == expected


@pytest.mark.parametrize(
    "text",
    ["0/s", "60/hour", "sixty/min", "60", "", "-5/s", "1.5/s", "1000001/s", "9" * 23 + "/s"],
)
def test_parse_rate_limit_rejects_other_forms(text: str) -> None:
    """Anything else is a ConfigError naming the value and the accepted forms."""
    with pytest.raises(ConfigError, match=r"write N/s or N/min") as caught:
        parse_rate_limit(text)
    assert repr(text) in str(caught.value)


def test_parse_rate_limit_takes_up_to_a_million_per_period() -> None:
    """1,000,000 per period is the most a pace may allow (beyond it, nothing is paced)."""
    assert parse_rate_limit("1000000/s") == RateLimit(1_000_000, 1.0)


def test_rate_limit_renders_and_converts() -> None:
    """A RateLimit prints as N/s or N/min and knows its per-second rate."""
    assert str(RateLimit(60, 60.0)) == "60/min"
    assert str(RateLimit(5, 1.0)) == "5/s"
    assert RateLimit(60, 60.0).per_second == 1.0


def test_full_config(tmp_path: Path) -> None:
    """Every key is read; paths are made absolute relative to the config file."""
    config = load_config(write_config(tmp_path, FULL))
    root = tmp_path.resolve()
    assert config == Config(
        root=root,
        manifests=(root / "customers", root / "more" / "extra.yaml"),
        audit_log=root / "logs" / "audit.jsonl",
        rate_limit=RateLimit(60, 60.0),
        policy=Policy(
            max_deletes=2,
            max_period_budget=Decimal("1000"),
            max_total_budget=Decimal("20000.5"),
            max_increase_pct=Decimal("100"),
            max_decrease_pct=Decimal("50"),
            max_total_budget_change=Decimal("5000"),
            forbid_budget_below_usage=False,
            protect=("acme-*", "vip-[0-9]*"),
        ),
        providers=config.providers,
    )
    assert dict(config.providers) == {
        "respan": ProviderSettings(
            base_url="https://api.respan.ai",
            api_key_file=root / "secrets" / "respan.key",
            rate_limit=RateLimit(2, 1.0),
            emulator_seed=root / "live.json",
        ),
        "autumn": ProviderSettings(base_url="https://api.useautumn.com", api_version="2.2.0"),
    }
    assert config.rate_limit_for("respan") == RateLimit(2, 1.0)
    assert config.rate_limit_for("autumn") == RateLimit(60, 60.0)


def test_empty_config_gives_defaults(tmp_path: Path) -> None:
    """An empty file means: no manifests, default audit log, default policy, no providers."""
    config = load_config(write_config(tmp_path, "# nothing yet\n"))
    assert config.manifests == ()
    assert config.audit_log == tmp_path.resolve() / DEFAULT_AUDIT_LOG
    assert config.rate_limit is None
    assert config.policy == Policy()
    assert config.provider("respan") == ProviderSettings()


def test_audit_log_null_turns_it_off(tmp_path: Path) -> None:
    """audit_log: null gives None (no audit log)."""
    assert load_config(write_config(tmp_path, "audit_log: null\n")).audit_log is None


def test_policy_nulls_turn_rules_off(tmp_path: Path) -> None:
    """A policy rule set to null is off (None)."""
    config = load_config(write_config(tmp_path, "policy: {max_total_budget: null}\n"))
    assert config.policy.max_total_budget is None


def test_find_config(tmp_path: Path) -> None:
    """find_config reads ./reconciler.yaml, or returns None when there is none."""
    assert find_config(tmp_path) is None
    write_config(tmp_path, "manifests: [a.yaml]\n")
    found = find_config(tmp_path)
    assert found is not None
    assert found.manifests == (tmp_path.resolve() / "a.yaml",)


@pytest.mark.parametrize("beside", [False, True])
def test_a_settings_file_named_reconciler_yml_is_refused_not_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, beside: bool
) -> None:
    """reconciler.yml (alone, or beside reconciler.yaml) is a ConfigError at its first line:
    ignored, its policy and connections would silently not apply."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reconciler.yml").write_text("policy: {max_deletes: 0}\n", encoding="utf-8")
    if beside:
        write_config(tmp_path, "manifests: [a.yaml]\n")
    with pytest.raises(ConfigError) as caught:
        find_config(tmp_path)
    assert "reconciler.yml:1:1: error: reconciler reads its settings from reconciler.yaml" in (
        str(caught.value)
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "manifests: customers/\n",
            "reconciler.yaml:1:12: error: 'manifests' must be a list, not text 'customers/'",
        ),
        (
            "rate_limit: 60/hour\n",
            "reconciler.yaml:1:13: error: 'rate_limit' is not valid: text '60/hour'",
        ),
        (
            "policy:\n  max_delete: 3\n",
            "reconciler.yaml:2:3: error: unknown field 'max_delete' (did you mean 'max_deletes'?)",
        ),
        (
            "policy:\n  max_deletes: -1\n",
            "reconciler.yaml:2:16: error: 'max_deletes' must not be negative",
        ),
        ("providers:\n  stripe: {}\n", "reconciler.yaml:2:3: error: unknown field 'stripe'"),
        ("audit_log: a\naudit_log: b\n", "reconciler.yaml:2:1: error: duplicate key 'audit_log'"),
        ("manifests: [a\n", "reconciler.yaml:2:1: error: YAML syntax error"),
        (
            "manifests: []\n---\nmanifests: []\n",
            "reconciler.yaml:3:1: error: reconciler.yaml holds one",
        ),
        ("- a\n", "reconciler.yaml:1:1: error: the file must be a mapping of settings"),
        (
            "rate_limit: 99999999999999999999999/s\n",
            "reconciler.yaml:1:13: error: 'rate_limit' is not valid",
        ),
        # Addresses no connection would use are placed too (they were found only when
        # plan or apply connected, without a position).
        (
            "providers:\n  respan:\n    base_url: http://api.example.com\n",
            "reconciler.yaml:3:15: error: providers.respan.base_url: refusing plain http://",
        ),
        (
            "providers:\n  autumn:\n    base_url: ftp://api.example.com\n",
            "reconciler.yaml:3:15: error: providers.autumn.base_url: base URL must start with",
        ),
        (
            "providers:\n  respan:\n    base_url: https://user:pw@api.example.com\n",
            "reconciler.yaml:3:15: error: providers.respan.base_url: base URL must not carry",
        ),
    ],
)
def test_errors_name_file_line_and_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, expected: str
) -> None:
    """Every problem in reconciler.yaml is one ConfigError line with its position."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, text))
    assert expected in str(caught.value)


def test_api_key_in_config_is_refused_without_echoing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key written into reconciler.yaml is an error that never repeats the key."""
    monkeypatch.chdir(tmp_path)
    secret = "rsp_live_SECRET0123456789"
    text = f"providers:\n  respan:\n    api_key: {secret}\n"
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, text))
    message = str(caught.value)
    assert "reconciler.yaml:3:5: error: unknown field 'api_key'" in message
    assert "api_key_file" in message
    assert secret not in message


def test_provider_burst_is_read_and_checked(tmp_path: Path) -> None:
    """providers.<name>.burst is a whole number of at least 1; absent, it is None (all)."""
    text = "providers:\n  respan:\n    burst: 10\n  autumn:\n    rate_limit: 5/s\n"
    config = load_config(write_config(tmp_path, text))
    assert config.provider("respan").burst == 10
    whole = load_config(write_config(tmp_path, "providers:\n  respan:\n    burst: 2.0\n"))
    assert type(whole.provider("respan").burst) is int  # 2.0 is a whole number to the schema
    assert config.provider("autumn").burst is None
    with pytest.raises(ConfigError, match=r"reconciler.yaml:3:12"):
        load_config(write_config(tmp_path, "providers:\n  respan:\n    burst: 0\n"))
