"""The shipped examples stay valid: manifests validate, configs load, editor modelines resolve,
and the quickstart plans exactly the changes its files describe."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.providers.respan.emulator import RespanState
from reconciler.settings.config import load_config

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
QUICKSTART = EXAMPLES / "quickstart"
MODELINE = re.compile(r"#\s*yaml-language-server:\s*\$schema=(\S+)")
CONFIGS = sorted(EXAMPLES.rglob("reconciler.yaml"))
MANIFESTS = sorted(
    path
    for path in EXAMPLES.rglob("*.y*ml")
    if "manifest.schema.json" in path.read_text(encoding="utf-8").split("\n", 1)[0]
)
PROJECTS = sorted(path for path in EXAMPLES.iterdir() if path.is_dir())


def test_examples_exist() -> None:
    """There are example projects and manifests to check."""
    assert QUICKSTART / "reconciler.yaml" in CONFIGS
    assert len(MANIFESTS) >= 3


@pytest.mark.parametrize("config_path", CONFIGS, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_example_project_validates(
    config_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """In each example project, `reconciler validate` with no PATH exits 0."""
    monkeypatch.chdir(config_path.parent)
    code = main(["validate", "--strict"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.startswith("OK: ")


def test_all_examples_validate_together(capsys: pytest.CaptureFixture[str]) -> None:
    """The example projects validate in one run: settings files are skipped, no customer twice."""
    paths = [str(path) for path in PROJECTS]
    assert main(["validate", "--strict", *paths]) == 0, capsys.readouterr().out


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_example_manifest_validates(manifest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every example manifest validates on its own, strictly."""
    assert main(["validate", "--strict", str(manifest)]) == 0, capsys.readouterr().out


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_manifest_modelines_resolve(path: Path) -> None:
    """Each manifest's yaml-language-server modeline points at the source tree's schema."""
    match = MODELINE.search(path.read_text(encoding="utf-8").split("\n", 1)[0])
    assert match, f"{path} starts with a '# yaml-language-server: $schema=...' line"
    target = (path.parent / match.group(1)).resolve()
    assert target == EXAMPLES.parent / "schemas" / "manifest.schema.json"


def test_quickstart_config_modeline_resolves() -> None:
    """The quickstart's reconciler.yaml modeline points at the config schema."""
    path = QUICKSTART / "reconciler.yaml"
    match = MODELINE.search(path.read_text(encoding="utf-8").split("\n", 1)[0])
    assert match
    target = (path.parent / match.group(1)).resolve()
    assert target == EXAMPLES.parent / "schemas" / "config.schema.json"


def test_quickstart_config_and_seed() -> None:
    """The quickstart config runs Respan in-process from live.json, which the emulator accepts."""
    config = load_config(QUICKSTART / "reconciler.yaml")
    seed_path = config.provider("respan").emulator_seed
    assert seed_path == (QUICKSTART / "live.json").resolve()
    seed = json.loads(seed_path.read_text(encoding="utf-8"))
    RespanState.from_seed(seed)
    assert len(seed["customers"]) == 11
    assert len(seed["credit_transactions"]) == 4


def test_quickstart_plan_shows_exactly_the_intended_drift(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Planning the quickstart: one increase, one decrease, one metadata key, one missing;
    float noise and 250 vs 250.00 are unchanged; the undeclared live customer is left alone."""
    monkeypatch.chdir(QUICKSTART)
    code = main(["plan", "--format", "json"])
    plan = json.loads(capsys.readouterr().out)
    assert code == 0
    assert plan["summary"] == {"create": 0, "update": 3, "delete": 0, "missing": 1, "unchanged": 7}
    changes = {
        change["id"]: [(f["path"], f["before"], f["after"]) for f in change["fields"]]
        for change in plan["changes"]
        if change["action"] == "update"
    }
    assert changes == {
        "acme-corp": [("period_budget", 200, 250)],
        "globex": [("period_budget", 500, 400)],
        "pied-piper": [("metadata.tier", "startup", "growth")],
    }
    missing = [c["id"] for c in plan["changes"] if c["action"] == "missing"]
    assert missing == ["stark-industries"]


@pytest.mark.parametrize("example", ["quickstart", "autumn", "litellm"])
def test_example_apply_then_plan_converges_and_reset_restores_the_seed(
    example: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """In a copy of the example, apply then plan shows no changes (the built-in emulator kept
    its state in a git-ignored .reconciler/), and `emulator --reset` brings the changes back."""
    project = tmp_path / example
    shutil.copytree(EXAMPLES / example, project)
    monkeypatch.chdir(project)
    for name in ("RESPAN_BASE_URL", "RESPAN_API_KEY", "AUTUMN_BASE_URL", "AUTUMN_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert main(["plan", "--detailed-exitcode"]) == 2
    assert not (project / ".reconciler").exists()  # a plan alone changes nothing to keep
    assert main(["apply", "--auto-approve"]) == 0
    assert (project / ".reconciler" / ".gitignore").read_text(encoding="utf-8").endswith("*\n")
    capsys.readouterr()
    assert main(["plan", "--detailed-exitcode"]) == 0
    assert "Talking to" in capsys.readouterr().out
    assert main(["emulator", "--reset"]) == 0
    assert "removed .reconciler/emulator-" in capsys.readouterr().out
    assert main(["plan", "--detailed-exitcode"]) == 2


def test_an_export_from_the_built_in_emulator_says_so_in_its_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The header names the built-in emulator, not the loopback port it happened to get."""
    project = tmp_path / "quickstart"
    shutil.copytree(EXAMPLES / "quickstart", project)
    monkeypatch.chdir(project)
    for name in ("RESPAN_BASE_URL", "RESPAN_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert main(["export", "--provider", "respan", "--environment", "prod"]) == 0
    header = capsys.readouterr().out.splitlines()[2]
    assert header == "# from respan at the built-in emulator (environment prod)."
