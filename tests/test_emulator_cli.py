"""``reconciler emulator`` as users run it: a real process, a real port, clean shutdown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from reconciler.cli import main


@contextmanager
def emulator_process(
    *args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Run the emulator command; yield its printed URL and the process."""
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "emulator", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        assert process.stdout is not None
        assert process.stderr is not None
        line = process.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:"), line + process.stderr.read()
        yield line.removeprefix("listening on ").strip(), process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_serves_the_seed_with_the_given_key_and_stops_on_sigterm(tmp_path: Path) -> None:
    """With --seed and --api-key it serves those customers, never prints the key, exits 0."""
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"customers": [{"customer_identifier": "acme", "name": "Acme"}]}))
    key = "rsp_cli_secret_key_42"
    with emulator_process("--provider", "respan", "--seed", str(seed), "--api-key", key) as (
        url,
        process,
    ):
        headers = {"Authorization": f"Bearer {key}"}
        listed = httpx.get(f"{url}/api/users/list/", headers=headers).json()
        stats = httpx.get(f"{url}/_emulator/stats").json()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert process.stderr is not None
        stderr = process.stderr.read()
    assert [c["name"] for c in listed["results"]] == ["Acme"]
    assert stats["requests"] == {"GET /api/users/list/": 1}
    assert key not in stderr
    assert "default emulator key" not in stderr


def test_default_key_and_rate_limit(tmp_path: Path) -> None:
    """Without a key it uses the documented dev key and says so; --rate-limit is enforced."""
    env = {"RESPAN_API_KEY": ""}
    with emulator_process("--rate-limit", "2/min", env=env) as (url, process):
        headers = {"Authorization": "Bearer emulator-key"}
        statuses = [
            httpx.get(f"{url}/api/users/list/", headers=headers).status_code for _ in range(3)
        ]
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        assert process.stderr is not None
        stderr = process.stderr.read()
    assert statuses == [200, 200, 429]
    assert "using the default emulator key (see --api-key)" in stderr


def test_key_from_environment_and_no_rate_limit(tmp_path: Path) -> None:
    """RESPAN_API_KEY is the key when --api-key is not given; --rate-limit off lifts the limit."""
    with (
        emulator_process("--rate-limit", "off", env={"RESPAN_API_KEY": "from-env"}) as (url, _),
        httpx.Client(base_url=url) as api,
    ):
        wrong = api.get("/api/users/list/", headers={"Authorization": "Bearer emulator-key"})
        statuses = {
            api.get("/api/users/list/", headers={"Authorization": "Bearer from-env"}).status_code
            for _ in range(61)  # one more than the default 60/min
        }
    assert wrong.status_code == 401
    assert statuses == {200}


def test_bad_seed_is_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A broken seed file exits 1 with file:line:col and no traceback."""
    seed = tmp_path / "seed.json"
    seed.write_text('{"customers": [\n  {"customer_identifier": }\n]}')
    assert main(["emulator", "--seed", str(seed)]) == 1
    err = capsys.readouterr().err
    assert f"{seed}:2:" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "args",
    [
        ["--rate-limit", "lots"],
        ["--fail-rate", "2"],
        ["--fail-rate", "nan"],
        ["--provider", "stripe"],
        ["--port", "-1"],
        # NaN or an endless delay would hang every request instead of slowing it.
        ["--latency-ms", "nan"],
        ["--latency-ms", "inf"],
        ["--latency-ms", "600001"],
        ["--jitter-ms", "nan"],
        ["--jitter-ms", "-1"],
        # A misspelt field would be served after all, and the run would test nothing.
        ["--omit-fields", "metdata"],
        ["--omit-fields", "metadata,markup"],
        ["--provider", "autumn", "--omit-fields", "metadata"],
        ["--provider", "litellm", "--omit-fields", "spend"],
    ],
)
def test_bad_flags_exit_1(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Invalid flags are usage errors: exit 1 with a message, never a traceback."""
    assert main(["emulator", *args]) == 1
    assert "Traceback" not in capsys.readouterr().err


def test_autumn_provider_with_key_from_environment(tmp_path: Path) -> None:
    """--provider autumn serves Autumn's API with AUTUMN_SECRET_KEY and its seed."""
    seed = tmp_path / "autumn.json"
    seed.write_text(json.dumps({"customers": [{"id": "acme", "env": "live"}]}))
    env = {"AUTUMN_SECRET_KEY": "am_sk_test_from_env"}
    with emulator_process("--provider", "autumn", "--seed", str(seed), env=env) as (url, _):
        headers = {"Authorization": "Bearer am_sk_live_from_env", "x-api-version": "2.5.0"}
        response = httpx.post(f"{url}/v1/customers.list", json={}, headers=headers)
    assert [c["id"] for c in response.json()["list"]] == ["acme"]


def test_litellm_provider_with_key_from_environment(tmp_path: Path) -> None:
    """--provider litellm serves the LiteLLM proxy's customer API with LITELLM_PROXY_API_KEY."""
    seed = tmp_path / "litellm.json"
    seed.write_text(json.dumps({"customers": [{"user_id": "acme"}]}))
    env = {"LITELLM_PROXY_API_KEY": "sk-from-env"}
    with emulator_process("--provider", "litellm", "--seed", str(seed), env=env) as (url, _):
        headers = {"Authorization": "Bearer sk-from-env"}
        response = httpx.get(f"{url}/customer/list", headers=headers)
        refused = httpx.get(f"{url}/customer/list", headers={"Authorization": "Bearer sk-x"})
    assert [c["user_id"] for c in response.json()] == ["acme"]
    assert refused.status_code == 401


def test_reset_without_saved_state_or_configured_emulator_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--reset with nothing saved says where runs start; without an emulator, that there is
    none; without reconciler.yaml it is a usage error (exit 1)."""
    monkeypatch.chdir(tmp_path)
    assert main(["emulator", "--reset"]) == 1
    assert "needs a reconciler.yaml" in capsys.readouterr().err
    (tmp_path / "reconciler.yaml").write_text("manifests: []\n", encoding="utf-8")
    assert main(["emulator", "--reset"]) == 0
    assert "configures no built-in emulator" in capsys.readouterr().out
    (tmp_path / "seed.json").write_text('{"customers": []}', encoding="utf-8")
    (tmp_path / "reconciler.yaml").write_text(
        "providers:\n  respan:\n    emulator:\n      seed: seed.json\n", encoding="utf-8"
    )
    assert main(["emulator", "--reset"]) == 0
    assert capsys.readouterr().out == "respan: no saved state; runs start from seed.json.\n"
