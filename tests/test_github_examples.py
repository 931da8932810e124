"""The GitOps template in examples/gitops: valid manifests and config, safe workflows, and the
apply workflow's audit-branch script run for real against a local git remote."""

from __future__ import annotations

import re
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from github_runner import base_env, load, run_step

from reconciler.audit import AuditContext, AuditLog, verify_log
from reconciler.cli import main
from reconciler.domain import FieldKind
from reconciler.plan.model import Change, FieldChange
from reconciler.settings.config import load_config

ROOT = Path(__file__).resolve().parent.parent
GITOPS = ROOT / "examples" / "gitops"
WORKFLOWS = GITOPS / ".github" / "workflows"
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")
ACTION = "your-org/reconciler@v1"  # the placeholder users replace
PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")


def _steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def test_example_manifests_validate(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`reconciler validate` with no PATH, in the template, checks its manifests and passes."""
    monkeypatch.chdir(GITOPS)
    assert main(["validate"]) == 0
    assert capsys.readouterr().out.startswith("OK: 4 customers in 2 files")


def test_example_config_has_a_policy() -> None:
    """reconciler.yaml loads and sets every money guardrail."""
    config = load_config(GITOPS / "reconciler.yaml")
    policy = config.policy
    assert policy.max_deletes == 0
    assert policy.max_period_budget == Decimal(1000)
    assert None not in (
        policy.max_total_budget,
        policy.max_increase_pct,
        policy.max_decrease_pct,
        policy.max_total_budget_change,
    )


@pytest.mark.parametrize("manifest", sorted(GITOPS.glob("customers/*.yaml")), ids=lambda p: p.name)
def test_example_manifests_carry_a_modeline_to_the_schema(manifest: Path) -> None:
    """The first line points editors at this repository's manifest schema."""
    first = manifest.read_text(encoding="utf-8").splitlines()[0]
    match = MODELINE.match(first)
    assert match, first
    target = (manifest.parent / match.group(1)).resolve()
    assert target == ROOT / "schemas" / "manifest.schema.json"


def test_workflows_pin_third_party_actions_to_commits() -> None:
    """Every action but ours is pinned to a full commit SHA; ours to the v1 tag."""
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for step in _steps(load(path)):
            uses = step.get("uses")
            if uses is None:
                continue
            if uses.split("@")[0].endswith("/reconciler"):
                assert uses == ACTION, (path.name, uses)
            else:
                assert PINNED.match(uses), (path.name, uses)


def test_workflows_take_the_api_key_from_secrets_only() -> None:
    """RESPAN_API_KEY comes from repository secrets into env, and no script mentions it."""
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for step in _steps(load(path)):
            env = step.get("env", {})
            if "RESPAN_API_KEY" in env:
                assert env["RESPAN_API_KEY"] == "${{ secrets.RESPAN_API_KEY }}"
            assert "RESPAN_API_KEY" not in step.get("run", ""), (path.name, step.get("name"))
            assert "secrets." not in step.get("run", "")


def test_apply_never_overlaps_and_is_never_cancelled() -> None:
    """Applies queue on one concurrency group and run on pushes to main."""
    apply = load(WORKFLOWS / "apply.yml")
    assert apply["concurrency"] == {"group": "reconciler-apply", "cancel-in-progress": False}
    assert apply["on"]["push"]["branches"] == ["main"]
    commands = [s["with"]["command"] for s in _steps(apply) if s.get("uses") == ACTION]
    assert commands == ["validate", "apply"]  # validate also installs `reconciler` for the steps
    (action,) = [s for s in _steps(apply) if s.get("id") == "apply"]
    assert "--auto-approve" in action["with"]["args"]


def test_plan_and_drift_use_the_action_as_intended() -> None:
    """plan runs on pull requests with a comment; drift runs on a schedule without one."""
    plan = load(WORKFLOWS / "plan.yml")
    assert "pull_request" in plan["on"]
    assert plan["permissions"]["pull-requests"] == "write"
    commands = [s["with"]["command"] for s in _steps(plan) if s.get("uses") == ACTION]
    assert commands == ["validate", "plan"]
    (planning,) = [s for s in _steps(plan) if s.get("with", {}).get("command") == "plan"]
    # Compared with the pull request's base, the same expression the action defaults to.
    assert planning["with"]["base"] == "${{ github.event.pull_request.base.sha }}"
    action = load(ROOT / "action.yml")
    (run,) = [s for s in action["runs"]["steps"] if s.get("id") == "run"]
    assert run["env"]["PULL_REQUEST_BASE"] == planning["with"]["base"]
    drift = load(WORKFLOWS / "drift.yml")
    assert "schedule" in drift["on"]
    (action,) = [s for s in _steps(drift) if s.get("uses") == ACTION]
    assert action["with"] == {"command": "plan", "comment": "false"}


# --- The apply workflow's audit-branch scripts, run against a local remote ---------------


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, timeout=30
    ).stdout


def _change(customer: str, before: int, after: int) -> Change:
    field = FieldChange("period_budget", Decimal(before), Decimal(after), FieldKind.MONEY)
    return Change(
        action="update", provider="respan", environment="prod", id=customer, fields=(field,)
    )


class ApplyJob:
    """One run of the apply job: a fresh clone and runner temp; steps run as GitHub would."""

    def __init__(self, remote: str, base: Path, number: int) -> None:
        self.workspace = base / f"job{number}" / "workspace"
        self.temp = base / f"job{number}" / "temp"
        self.temp.mkdir(parents=True)
        _git(base, "clone", "--quiet", remote, str(self.workspace))
        workflow = load(WORKFLOWS / "apply.yml")
        self.env = base_env(self.temp, {k: str(v) for k, v in workflow["env"].items()})
        self.summary = self.temp / "step-summary.md"
        self.env["GITHUB_STEP_SUMMARY"] = str(self.summary)
        self.steps = {step.get("id", step["name"]): step for step in _steps(workflow)}
        self.context: dict[str, Any] = {"steps": {}}

    def run(self, name: str) -> subprocess.CompletedProcess[str]:
        result = run_step(self.steps[name], self.context, self.env, self.workspace, self.temp)
        return subprocess.CompletedProcess([], result.returncode, result.stdout, result.stderr)

    @property
    def log(self) -> Path:
        return Path(self.context["steps"]["chain"]["outputs"]["log"])

    def apply(self, *changes: Change) -> None:
        """What `reconciler apply --audit-log LOG` does to the log: append chained records."""
        with AuditLog.open(self.log, AuditContext(actor="github-actions")) as audit:
            for change in changes:
                audit.record(change, "applied", http_status=200)


@pytest.fixture
def remote(tmp_path: Path) -> str:
    bare = tmp_path / "remote.git"
    _git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    seed = tmp_path / "seed"
    _git(tmp_path, "clone", "--quiet", f"file://{bare}", str(seed))
    (seed / "customers").mkdir()
    (seed / "customers" / "acme.yaml").write_text("customers: []\n", encoding="utf-8")
    _git(seed, "add", "--all")
    _git(seed, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "init")
    _git(seed, "push", "--quiet", "origin", "HEAD:refs/heads/main")
    return f"file://{bare}"


def _audit_branch(remote: str, tmp_path: Path) -> tuple[list[str], int]:
    """The audit file's lines on the remote's audit branch, and the branch's commit count."""
    check = tmp_path / "check"
    if check.exists():
        _git(check, "fetch", "--quiet", "origin")
    else:
        _git(tmp_path, "clone", "--quiet", remote, str(check))
    text = _git(check, "show", "origin/audit:reconciler-audit.jsonl")
    count = int(_git(check, "rev-list", "--count", "origin/audit").strip())
    return text.splitlines(), count


def test_audit_chain_starts_continues_and_lands_on_the_audit_branch(
    remote: str, tmp_path: Path
) -> None:
    """First apply starts the audit branch; the next continues the same chain on top of it."""
    first = ApplyJob(remote, tmp_path, 1)
    assert first.run("chain").returncode == 0
    assert first.context["steps"]["chain"]["outputs"]["exists"] == "false"
    first.apply(_change("acme-corp", 100, 250), _change("globex", 400, 300))
    result = first.run("Append the audit log to the audit branch")
    assert result.returncode == 0, result.stderr
    assert "OK: 2 records" in result.stdout
    lines, commits = _audit_branch(remote, tmp_path)
    assert (len(lines), commits) == (2, 1)
    # The audit branch holds only the log, not the manifests of main.
    files = _git(tmp_path / "check", "ls-tree", "--name-only", "origin/audit").split()
    assert files == ["reconciler-audit.jsonl"]

    second = ApplyJob(remote, tmp_path, 2)
    assert second.run("chain").returncode == 0
    assert second.context["steps"]["chain"]["outputs"]["exists"] == "true"
    assert len(second.log.read_text(encoding="utf-8").splitlines()) == 2
    second.apply(_change("initech", 25, 30))
    result = second.run("Append the audit log to the audit branch")
    assert result.returncode == 0, result.stderr
    lines, commits = _audit_branch(remote, tmp_path)
    assert (len(lines), commits) == (3, 2)
    fetched = tmp_path / "fetched.jsonl"
    fetched.write_text("\n".join(lines) + "\n", encoding="utf-8")
    verification = verify_log(fetched)
    assert verification.chain_break is None
    assert verification.records == 3


def test_nothing_new_records_nothing(remote: str, tmp_path: Path) -> None:
    """An apply that changed nothing (or refused) pushes no audit commit."""
    job = ApplyJob(remote, tmp_path, 1)
    assert job.run("chain").returncode == 0
    result = job.run("Append the audit log to the audit branch")
    assert result.returncode == 0
    assert "No new audit records." in result.stdout
    assert _git(tmp_path / "job1" / "workspace", "ls-remote", "--heads", "origin", "audit") == ""


def test_a_rewritten_audit_log_is_refused(remote: str, tmp_path: Path) -> None:
    """If the old chain is not an exact prefix of the new log, nothing is pushed."""
    first = ApplyJob(remote, tmp_path, 1)
    first.run("chain")
    first.apply(_change("acme-corp", 100, 250))
    assert first.run("Append the audit log to the audit branch").returncode == 0

    second = ApplyJob(remote, tmp_path, 2)
    second.run("chain")
    second.apply(_change("globex", 400, 300))
    text = second.log.read_text(encoding="utf-8")
    second.log.write_text(text.replace("acme-corp", "acme-c0rp", 1), encoding="utf-8")
    result = second.run("Append the audit log to the audit branch")
    assert result.returncode == 1
    assert "::error::the audit log was rewritten" in result.stdout
    lines, commits = _audit_branch(remote, tmp_path)
    assert (len(lines), commits) == (1, 1)


def test_a_broken_chain_is_not_pushed(remote: str, tmp_path: Path) -> None:
    """A log whose new records do not chain (edited after writing) fails audit verify."""
    job = ApplyJob(remote, tmp_path, 1)
    job.run("chain")
    job.apply(_change("acme-corp", 100, 250), _change("globex", 400, 300))
    first, second = job.log.read_text(encoding="utf-8").splitlines()
    job.log.write_text(f"{first}\n{second.replace('300', '3000', 1)}\n", encoding="utf-8")
    result = job.run("Append the audit log to the audit branch")
    assert result.returncode == 1
    assert "FAILED" in result.stderr
    assert _git(job.workspace, "ls-remote", "--heads", "origin", "audit") == ""


def _push_to_audit_branch(remote: str, tmp_path: Path, lines: list[str], message: str) -> None:
    """Someone with push access commits ``lines`` as the log on the audit branch."""
    other = tmp_path / "someone"
    _git(tmp_path, "clone", "--quiet", "--branch", "audit", remote, str(other))
    (other / "reconciler-audit.jsonl").write_text("".join(f"{line}\n" for line in lines))
    _git(other, "-c", "user.name=m", "-c", "user.email=m@m", "commit", "-qam", message)
    _git(other, "push", "--quiet", "origin", "HEAD:refs/heads/audit")


def test_the_head_is_kept_outside_the_log_and_a_cut_log_is_refused(
    remote: str, tmp_path: Path
) -> None:
    """The audit commit and the step summary carry the head; the next run refuses to apply on a
    log cut short, whether or not the commit that cut it copied the old head."""
    first = ApplyJob(remote, tmp_path, 1)
    assert first.run("chain").returncode == 0
    first.apply(_change("acme-corp", 100, 250), _change("globex", 400, 300))
    assert first.run("Append the audit log to the audit branch").returncode == 0
    head = verify_log(first.log).head
    check = tmp_path / "check"
    _git(tmp_path, "clone", "--quiet", "--branch", "audit", remote, str(check))
    assert _git(check, "log", "-1", "--format=%B").strip().splitlines()[-1] == f"Audit-Head: {head}"
    assert f"the chain's head is now `{head}`" in first.summary.read_text(encoding="utf-8")

    second = ApplyJob(remote, tmp_path, 2)
    assert second.run("chain").returncode == 0  # the log ends at the recorded head

    lines, _ = _audit_branch(remote, tmp_path)
    _push_to_audit_branch(remote, tmp_path, lines[:1], "tidy the log")
    third = ApplyJob(remote, tmp_path, 3)
    result = third.run("chain")
    assert result.returncode == 1
    assert "records no Audit-Head" in result.stdout

    (tmp_path / "again").mkdir()
    _push_to_audit_branch(remote, tmp_path / "again", [], f"tidy\n\nAudit-Head: {head}")
    fourth = ApplyJob(remote, tmp_path, 4)
    result = fourth.run("chain")
    assert result.returncode == 1
    assert f"does not end at the recorded head {head}" in result.stdout
    assert "records were cut off its end" in result.stderr
