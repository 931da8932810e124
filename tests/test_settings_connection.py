"""Resolving where a provider lives and opening it: flags, environment, config, emulator."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import run_cli

from reconciler.clients.retry import RetryPolicy
from reconciler.clients.secret import Secret
from reconciler.emulator import RunningEmulator
from reconciler.errors import ConfigError, TransportError
from reconciler.providers.registry import plugin
from reconciler.providers.respan.client import RespanClient
from reconciler.providers.respan.emulator import RespanState
from reconciler.settings.config import Config, load_config
from reconciler.settings.connection import emulator_state_file, open_provider, resolve_settings
from reconciler.settings.ratelimit import RateLimit

Emulators = Callable[..., RunningEmulator[RespanState]]
FAST = RetryPolicy(attempts=2, wait_initial=0.001, wait_max=0.001, wait_jitter=0.0)
SEED = '{"customers": [{"customer_identifier": "acme", "name": "Acme"}]}'


def config(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "reconciler.yaml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def test_base_url_priority_is_flag_then_environment_then_config_then_default(
    tmp_path: Path,
) -> None:
    """--base-url beats RESPAN_BASE_URL, which beats reconciler.yaml, which beats the default."""
    cfg = config(tmp_path, "providers:\n  respan:\n    base_url: https://config.example\n")
    env = {"RESPAN_BASE_URL": "https://env.example", "RESPAN_API_KEY": "k" * 20}

    def url(flag: str | None, environ: dict[str, str], cfg: Config | None) -> str | None:
        settings = resolve_settings("respan", config=cfg, base_url_flag=flag, environ=environ)
        return settings.base_url

    assert url("https://flag.example/", env, cfg) == "https://flag.example"
    assert url(None, env, cfg) == "https://env.example"
    assert url(None, {"RESPAN_API_KEY": "k" * 20}, cfg) == "https://config.example"
    assert url(None, {"RESPAN_API_KEY": "k" * 20}, None) == "https://api.respan.ai"


def test_key_comes_from_the_environment_before_the_key_file(tmp_path: Path) -> None:
    """RESPAN_API_KEY wins; otherwise the configured key file is read (whitespace stripped)."""
    (tmp_path / "respan.key").write_text("  file-key-0123456789\n", encoding="utf-8")
    cfg = config(tmp_path, "providers:\n  respan:\n    api_key_file: respan.key\n")
    from_file = resolve_settings("respan", config=cfg, environ={})
    assert from_file.api_key.reveal() == "file-key-0123456789"
    from_env = resolve_settings("respan", config=cfg, environ={"RESPAN_API_KEY": "env-key"})
    assert from_env.api_key.reveal() == "env-key"
    assert "file-key" not in repr(from_file)


def test_a_key_file_saved_with_a_byte_order_mark_and_crlf_gives_the_key(tmp_path: Path) -> None:
    """Editors that start UTF-8 files with a BOM (Notepad) and end lines with CRLF: the key
    is what follows the mark, not a key refused for a "non-ASCII character"."""
    (tmp_path / "respan.key").write_bytes(b"\xef\xbb\xbffile-key-0123456789\r\n")
    cfg = config(tmp_path, "providers:\n  respan:\n    api_key_file: respan.key\n")
    assert resolve_settings("respan", config=cfg, environ={}).api_key.reveal() == (
        "file-key-0123456789"
    )


def test_missing_key_says_how_to_provide_one() -> None:
    """No key anywhere is a ConfigError naming the variable and the config setting."""
    with pytest.raises(ConfigError) as caught:
        resolve_settings("respan", config=None, environ={})
    assert str(caught.value) == (
        "RESPAN_API_KEY is not set; export it or set providers.respan.api_key_file in "
        "reconciler.yaml"
    )


@pytest.mark.parametrize(("content", "message"), [(None, "cannot read"), ("\n", "is empty")])
def test_unusable_key_file_is_a_config_error(
    tmp_path: Path, content: str | None, message: str
) -> None:
    """A missing or empty key file is named in a ConfigError."""
    if content is not None:
        (tmp_path / "respan.key").write_text(content, encoding="utf-8")
    cfg = config(tmp_path, "providers:\n  respan:\n    api_key_file: respan.key\n")
    with pytest.raises(ConfigError, match=message) as caught:
        resolve_settings("respan", config=cfg, environ={})
    assert "respan.key" in str(caught.value)


def test_plain_http_to_another_host_is_refused_before_anything_else() -> None:
    """A non-loopback http:// base URL is refused, naming where it came from."""
    with pytest.raises(ConfigError, match=r"respan base URL \(from RESPAN_BASE_URL\): refusing"):
        resolve_settings("respan", config=None, environ={"RESPAN_BASE_URL": "http://evil.example"})


def test_rate_limit_priority_and_documented_defaults(tmp_path: Path) -> None:
    """--rate-limit beats rate_limit in the config; without either, the documented limits."""
    env = {"RESPAN_API_KEY": "k", "AUTUMN_SECRET_KEY": "k"}
    cfg = config(tmp_path, "rate_limit: 30/min\nproviders:\n  respan:\n    rate_limit: 2/s\n")
    flagged = resolve_settings("respan", config=cfg, rate_limit_flag="10/s", environ=env)
    assert flagged.rate_limits == {"default": RateLimit(10, 1.0)}
    assert resolve_settings("respan", config=cfg, environ=env).rate_limits == {
        "default": RateLimit(2, 1.0)
    }
    assert resolve_settings("respan", config=None, environ=env).rate_limits == {
        "default": RateLimit(60, 60.0)
    }
    assert resolve_settings("autumn", config=None, environ=env).rate_limits == {
        "list": RateLimit(5, 1.0),
        "write": RateLimit(25, 1.0),
    }
    with pytest.raises(ConfigError, match="invalid rate limit"):
        resolve_settings("respan", config=None, rate_limit_flag="fast", environ=env)


def test_burst_comes_from_the_provider_settings(tmp_path: Path) -> None:
    """providers.<name>.burst reaches the connection settings; absent, it is None (all)."""
    env = {"RESPAN_API_KEY": "k", "AUTUMN_SECRET_KEY": "k"}
    cfg = config(tmp_path, "providers:\n  respan:\n    burst: 1\n")
    assert resolve_settings("respan", config=cfg, environ=env).burst == 1
    assert resolve_settings("autumn", config=cfg, environ=env).burst is None


def test_unknown_provider_is_a_config_error() -> None:
    """A provider name outside the catalog is refused with the known names."""
    with pytest.raises(
        ConfigError, match="unknown provider 'stripe': use one of autumn, litellm, respan"
    ):
        resolve_settings("stripe", config=None, environ={})


def test_open_provider_reads_through_the_environment_connection(
    respan_emulator: Emulators,
) -> None:
    """Environment settings open a working Respan provider against that URL and key."""
    emulator = respan_emulator(seed={"customers": [{"customer_identifier": "acme"}]})
    env = {"RESPAN_BASE_URL": emulator.url, "RESPAN_API_KEY": emulator.api_key}
    with open_provider(
        "respan", config=None, rate_limit_flag="1000/s", environ=env, retry=FAST
    ) as handle:
        assert list(handle.provider.read_live("prod", [])) == ["acme"]
        assert handle.request_counts() == {"POST": 1}
        assert handle.emulator is None
        assert emulator.api_key not in repr(handle)


def test_configured_emulator_runs_in_process_and_stops_on_close(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """emulator.seed starts the built-in emulator with a fresh key; closing stops it."""
    (tmp_path / "seed.json").write_text(SEED, encoding="utf-8")
    cfg = config(tmp_path, "providers:\n  respan:\n    emulator:\n      seed: seed.json\n")
    caplog.set_level(logging.DEBUG)
    env = {"RESPAN_API_KEY": "env-key-must-not-be-used"}
    handle = open_provider("respan", config=cfg, verbose=True, environ=env, retry=FAST)
    with handle:
        assert handle.emulator is not None
        assert handle.settings.rate_limits == {}
        assert handle.settings.api_key.reveal() != "env-key-must-not-be-used"
        live = handle.provider.read_live("prod", [])
        assert live["acme"].get("name") == "Acme"
        key = handle.settings.api_key.reveal()
        url = handle.provider.base_url
    assert handle.emulator is None
    assert "respan: 1 requests (POST 1)" in caplog.text
    assert key not in caplog.text
    with (
        RespanClient.create(url, Secret(key), rate_limit=None, retry=FAST) as client,
        pytest.raises(TransportError),
    ):
        client.list_customers("prod")


def test_environment_base_url_overrides_the_configured_emulator(
    tmp_path: Path, respan_emulator: Emulators
) -> None:
    """RESPAN_BASE_URL wins over emulator.seed: no in-process emulator is started."""
    emulator = respan_emulator()
    (tmp_path / "seed.json").write_text(SEED, encoding="utf-8")
    cfg = config(tmp_path, "providers:\n  respan:\n    emulator:\n      seed: seed.json\n")
    env = {"RESPAN_BASE_URL": emulator.url, "RESPAN_API_KEY": emulator.api_key}
    with open_provider("respan", config=cfg, environ=env, retry=FAST) as handle:
        assert handle.emulator is None
        assert handle.provider.base_url == emulator.url
        assert handle.provider.read_live("prod", []) == {}


def test_bad_emulator_seed_is_a_config_error(tmp_path: Path) -> None:
    """A seed file that does not exist is a ConfigError, not a traceback."""
    cfg = config(tmp_path, "providers:\n  respan:\n    emulator:\n      seed: missing.json\n")
    with pytest.raises(ConfigError, match=r"missing\.json"):
        open_provider("respan", config=cfg, environ={})


KEY_LINE = "sk_live_SECRETKEY_abcdef0123"


@pytest.mark.parametrize(
    ("content", "lines"),
    [(f"{KEY_LINE}\n# rotated 2026-11\n", 2), (f"# respan\n{KEY_LINE}\n\nold-key\n", 4)],
)
def test_key_file_with_more_than_the_key_is_refused_without_showing_it(
    tmp_path: Path, content: str, lines: int
) -> None:
    """A key file with a comment line is refused naming the file and its line count, not content."""
    (tmp_path / "respan.key").write_text(content, encoding="utf-8")
    cfg = config(tmp_path, "providers:\n  respan:\n    api_key_file: respan.key\n")
    with pytest.raises(ConfigError) as caught:
        resolve_settings("respan", config=cfg, environ={})
    message = str(caught.value)
    assert "respan.key" in message
    assert f"has {lines} lines" in message
    assert not [secret for secret in (KEY_LINE, "rotated", "old-key") if secret in message]


@pytest.mark.parametrize(
    "key", [f"{KEY_LINE} x", f"{KEY_LINE}\tx", f"{KEY_LINE}é", f"{KEY_LINE}\x00"]
)
def test_key_that_no_header_can_carry_is_refused_without_showing_it(
    tmp_path: Path, key: str
) -> None:
    """A key with spaces, control or non-ASCII characters is refused by name, from env or file."""
    (tmp_path / "respan.key").write_text(key, encoding="utf-8")
    cfg = config(tmp_path, "providers:\n  respan:\n    api_key_file: respan.key\n")
    for environ, named in (({}, "respan.key"), ({"RESPAN_API_KEY": key}, "RESPAN_API_KEY")):
        with pytest.raises(ConfigError) as caught:
            resolve_settings("respan", config=cfg, environ=environ)
        assert named in str(caught.value)
        assert KEY_LINE not in str(caught.value)


def test_plan_with_a_commented_key_file_names_the_file_not_the_key(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """reconciler plan refuses a two-line key file with one message and no key in any output."""
    (workdir / "respan.key").write_text(f"{KEY_LINE}\n# rotated 2026-11\n", encoding="utf-8")
    (workdir / "reconciler.yaml").write_text(
        "providers:\n  respan:\n    api_key_file: respan.key\n    base_url: http://127.0.0.1:9\n",
        encoding="utf-8",
    )
    (workdir / "c.yaml").write_text(
        "customers:\n  - customer_identifier: acme\n    period_budget: 5\n", encoding="utf-8"
    )
    run = run_cli(capsys, "plan", "c.yaml")
    assert run.code == 1
    assert "respan.key" in run.err
    assert "has 2 lines" in run.err
    assert KEY_LINE not in run.out + run.err
    assert run.err.count("\n") == 1


@pytest.mark.parametrize("name", ["respan", "litellm"])
def test_an_api_version_for_an_api_without_versions_is_refused(name: str, tmp_path: Path) -> None:
    """providers.<name>.api_version for an API that has no versions is refused before any
    request, rather than ignored."""
    (tmp_path / "reconciler.yaml").write_text(
        f"providers:\n  {name}:\n    api_version: '2'\n    base_url: https://billing.example\n"
    )
    config = load_config(tmp_path / "reconciler.yaml")
    variable = plugin(name).connection.key_variable
    with pytest.raises(ConfigError, match=f"providers.{name}.api_version: the {name} API has no"):
        open_provider(name, config=config, environ={variable: "sk-0123456789"})


def test_a_self_hosted_provider_needs_an_address() -> None:
    """LiteLLM has no public address: without a URL, the message names where to set one."""
    with pytest.raises(ConfigError, match="litellm has no public address: set LITELLM_PROXY_URL"):
        resolve_settings("litellm", config=None, environ={"LITELLM_PROXY_API_KEY": "sk-1"})


def test_unreadable_emulator_state_names_the_reset_command(tmp_path: Path) -> None:
    """A damaged saved state of the built-in emulator is refused with the way back to the seed."""
    (tmp_path / "seed.json").write_text('{"customers": []}', encoding="utf-8")
    (tmp_path / "reconciler.yaml").write_text(
        "providers:\n  respan:\n    emulator:\n      seed: seed.json\n", encoding="utf-8"
    )
    state = emulator_state_file(tmp_path, "respan")
    state.parent.mkdir()
    state.write_text("{not json", encoding="utf-8")
    config = load_config(tmp_path / "reconciler.yaml")
    with pytest.raises(ConfigError, match=r"reconciler emulator --reset"):
        open_provider("respan", config=config, environ={})
