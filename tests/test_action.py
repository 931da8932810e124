"""The composite action, run step by step as a GitHub runner would, on a simulated pull request.

The ``run:`` scripts of ``action.yml`` execute with bash in order, with their ``${{ }}``
expressions filled in; ``uses:`` steps (setup-python) and the pip install are skipped because
this virtualenv already has the tool. ``reconciler plan`` talks to the Respan emulator over
loopback HTTP, and ``GITHUB_API_URL`` points at a local recorder standing in for GitHub.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from git_helpers import commit, git, make_repo
from github_recorder import TOKEN, GitHubRecorder, serve_github_recorder
from github_runner import StepResult, base_env, load, run_step, substitute

from reconciler.emulator import RunningEmulator
from reconciler.providers.respan.emulator import RespanState

ROOT = Path(__file__).resolve().parent.parent
ACTION = load(ROOT / "action.yml")
MARKER = "<!-- reconciler-plan -->"
COMMENTS = "/repos/acme/budgets/issues/17/comments"

# Live state for the four customers of examples/gitops: only initrode's budget differs
# (200 -> 250, within the template's policy of at most doubling).
LIVE = [
    {
        "customer_identifier": "initrode",
        "name": "Initrode",
        "email": "billing@initrode.example",
        "period_budget": 200,
        "total_budget": 5000,
        "budget_duration": "monthly",
        "markup_percentage": 20,
        "metadata": {"tier": "enterprise", "owner": "sales-emea"},
    },
    {
        "customer_identifier": "vandelay",
        "name": "Vandelay Industries",
        "email": "finance@vandelay.example",
        "period_budget": 400,
        "total_budget": 9000,
        "budget_duration": "monthly",
        "metadata": {"tier": "enterprise", "owner": "sales-amer"},
    },
    {
        "customer_identifier": "cyberdyne",
        "name": "Cyberdyne Systems",
        "email": "ops@cyberdyne.example",
        "period_budget": 25,
        "budget_duration": "weekly",
        "markup_percentage": 0,
        "metadata": {"tier": "startup", "programme": "2026"},
    },
    {
        "customer_identifier": "hooli-labs",
        "name": "Hooli Labs",
        "email": "ml-platform@hooli.example",
        "period_budget": 40,
        "budget_duration": "weekly",
        "markup_percentage": 0,
        "metadata": {"tier": "startup", "programme": "2026", "owner": "partnerships"},
    },
]


def _live(**acme: Any) -> dict[str, Any]:
    customers = [dict(c) for c in LIVE]
    customers[0].update(acme)
    return {"customers": customers}


@dataclass
class ActionRun:
    """The outcome of one run of the action: its outputs, each step, and what it wrote."""

    outputs: dict[str, str]
    steps: list[StepResult]
    failed_step: str | None
    exit_status: int
    summary: str

    @property
    def log(self) -> str:
        return "".join(step.stdout + step.stderr for step in self.steps)


class Runner:
    """A job on a simulated runner: a workspace copy of the GitOps template and its env."""

    def __init__(self, tmp_path: Path, emulator_url: str, api_key: str, github_url: str) -> None:
        self.tmp_path = tmp_path
        self.workspace = tmp_path / "workspace"
        shutil.copytree(ROOT / "examples" / "gitops", self.workspace)
        # The emulator has no rate limit here; pace the client fast so the tests are too.
        with (self.workspace / "reconciler.yaml").open("a", encoding="utf-8") as config:
            config.write("rate_limit: 1000/s\n")
        self.event_name = "pull_request"
        self.event_path = tmp_path / "event.json"
        self.event: dict[str, Any] = {"pull_request": {"number": 17}}
        self.runs = 0
        self.extra_env = {
            "GITHUB_EVENT_PATH": str(self.event_path),
            "GITHUB_API_URL": github_url,
            "GITHUB_WORKSPACE": str(self.workspace),
            "RESPAN_BASE_URL": emulator_url,
            "RESPAN_API_KEY": api_key,
            "NO_COLOR": "1",
        }

    def run(self, **inputs: str) -> ActionRun:
        """Run every step of action.yml once with ``inputs``; stop at the first failing step."""
        self.runs += 1
        temp = self.tmp_path / f"run{self.runs}"
        temp.mkdir()
        summary = temp / "step-summary.md"
        summary.write_text("", encoding="utf-8")
        self.event_path.write_text(json.dumps(self.event), "utf-8")
        env = base_env(
            temp,
            {
                **self.extra_env,
                "GITHUB_EVENT_NAME": self.event_name,
                "GITHUB_STEP_SUMMARY": str(summary),
                "GITHUB_PATH": str(temp / "path"),
            },
        )
        defaults = {name: spec.get("default", "") for name, spec in ACTION["inputs"].items()}
        context: dict[str, Any] = {
            "github": {"action_path": str(ROOT), "token": TOKEN, "event": self.event},
            "steps": {},
        }
        context["inputs"] = {k: substitute(str(v), context) for k, v in defaults.items()}
        context["inputs"].update(inputs)
        results: list[StepResult] = []
        failed: StepResult | None = None
        for step in ACTION["runs"]["steps"]:
            if "uses" in step:
                assert step["uses"].startswith("actions/setup-python@"), step["uses"]
                context["steps"][step["id"]] = {"outputs": {"python-path": sys.executable}}
                continue
            if step.get("id") == "install":
                assert '"$ACTION_PATH"' in step["run"]
                assert step["env"]["ACTION_PATH"] == "${{ github.action_path }}"
                context["steps"]["install"] = {"outputs": {"bin": str(Path(sys.executable).parent)}}
                continue
            result = run_step(step, context, env, self.workspace, temp)
            results.append(result)
            if result.returncode != 0:
                failed = result
                break
        outputs = {
            name: substitute(spec["value"], context) for name, spec in ACTION["outputs"].items()
        }
        return ActionRun(
            outputs=outputs,
            steps=results,
            failed_step=failed.name if failed else None,
            exit_status=failed.returncode if failed else 0,
            summary=summary.read_text(encoding="utf-8"),
        )


@pytest.fixture
def recorder() -> Iterator[GitHubRecorder]:
    with serve_github_recorder() as state:
        yield state


@pytest.fixture
def start_runner(
    tmp_path: Path,
    recorder: GitHubRecorder,
    respan_emulator: Callable[..., RunningEmulator[RespanState]],
) -> Callable[[Mapping[str, Any]], tuple[Runner, RunningEmulator[RespanState]]]:
    def start(seed: Mapping[str, Any]) -> tuple[Runner, RunningEmulator[RespanState]]:
        emulator = respan_emulator(seed=dict(seed))
        return Runner(tmp_path, emulator.url, emulator.api_key, recorder.url), emulator

    return start


StartRunner = Callable[[Mapping[str, Any]], tuple[Runner, RunningEmulator[RespanState]]]


def test_plan_on_a_pull_request_posts_then_updates_one_comment(
    start_runner: StartRunner, recorder: GitHubRecorder
) -> None:
    """First run POSTs the plan comment; the second PATCHes it; pending changes succeed."""
    runner, emulator = start_runner(_live())
    first = runner.run(command="plan")
    assert first.failed_step is None, first.log
    assert first.outputs["exit-code"] == "2"
    assert first.outputs["has-changes"] == "true"
    saved = json.loads(Path(first.outputs["plan-file"]).read_text(encoding="utf-8"))
    assert [change["id"] for change in saved["changes"]] == ["initrode"]

    # The job summary holds the Markdown plan once; the log holds the text plan.
    assert first.summary.startswith(MARKER)
    assert first.summary.count(MARKER) == 1
    assert "initrode" in first.summary
    run_log = first.steps[0].stdout
    assert "initrode" in run_log
    assert MARKER not in run_log

    (post,) = recorder.writes()
    assert (post.method, post.path) == ("POST", COMMENTS)
    assert post.headers["authorization"] == f"Bearer {TOKEN}"
    assert post.body["body"] == Path(first.outputs["plan-markdown-file"]).read_text("utf-8")

    second = runner.run(command="plan")
    assert second.failed_step is None, second.log
    post_again, patch = recorder.writes()
    assert post_again is post
    assert patch.method == "PATCH"
    assert patch.path == "/repos/acme/budgets/issues/comments/1001"
    assert patch.body["body"].startswith(MARKER)
    assert len(recorder.comments[("acme/budgets", 17)]) == 1
    # Each run keeps its own files, so a job with two plans can use both.
    assert second.outputs["plan-file"] != first.outputs["plan-file"]
    assert Path(first.outputs["plan-file"]).exists()

    everything = first.log + first.summary + second.log + json.dumps(post.body)
    assert emulator.api_key not in everything


def test_two_plans_of_one_pull_request_keep_a_comment_each(
    start_runner: StartRunner, recorder: GitHubRecorder
) -> None:
    """Two plan steps on other manifests (paths or working-directory) post a comment each and
    update their own: neither plan replaces the other, so none is hidden from the reviewer."""
    runner, _ = start_runner(_live())
    for _ in range(2):
        for paths in ("customers/enterprise.yaml", "customers/startups.yaml"):
            assert runner.run(command="plan", paths=paths).failed_step is None
    comments = recorder.comments[("acme/budgets", 17)]
    assert len(comments) == 2
    enterprise, startups = (comment["body"] for comment in comments)
    assert "`respan/prod/initrode`" in enterprise
    assert "Plan for `. customers/enterprise.yaml`" in enterprise
    assert "`respan/prod/initrode`" not in startups
    assert "Plan for `. customers/startups.yaml`" in startups
    assert [w.method for w in recorder.writes()] == ["POST", "POST", "PATCH", "PATCH"]
    # The default inputs keep the comment earlier versions of the action posted.
    assert runner.run(command="plan").failed_step is None
    assert recorder.comments[("acme/budgets", 17)][2]["body"].startswith(MARKER)


def test_plan_without_changes(start_runner: StartRunner, recorder: GitHubRecorder) -> None:
    """Live state equal to the manifests: exit-code 0, has-changes false, still a comment."""
    runner, _ = start_runner(_live(period_budget=250))
    result = runner.run(command="plan")
    assert result.failed_step is None, result.log
    assert result.outputs["exit-code"] == "0"
    assert result.outputs["has-changes"] == "false"
    (post,) = recorder.writes()
    assert post.body["body"].startswith(MARKER)


def test_a_policy_violation_fails_the_step_after_commenting(
    start_runner: StartRunner, recorder: GitHubRecorder
) -> None:
    """A plan breaking policy (100 -> 250 is +150 %) comments the plan, then exits 3."""
    runner, _ = start_runner(_live(period_budget=100))
    result = runner.run(command="plan")
    assert result.outputs["exit-code"] == "3"
    assert result.outputs["has-changes"] == "true"
    assert result.failed_step == "Exit with reconciler's result"
    assert result.exit_status == 3
    (post,) = recorder.writes()
    assert "policy violation" in post.body["body"]
    assert "max\\_increase\\_pct" in post.body["body"]  # Markdown-escaped underscores


def test_a_failed_plan_replaces_the_comment_and_fails(
    start_runner: StartRunner, recorder: GitHubRecorder
) -> None:
    """With a bad API key the plan fails (exit 1): the comment says so; the step fails."""
    runner, _ = start_runner(_live())
    old = recorder.add_comment("acme/budgets", 17, f"{MARKER}\n**Plan: 1 to update**")
    runner.extra_env["RESPAN_API_KEY"] = "rsp_wrong_key"
    result = runner.run(command="plan")
    assert result.outputs["exit-code"] == "1"
    assert result.outputs["has-changes"] == "false"
    assert result.exit_status == 1
    (patch,) = recorder.writes()
    assert patch.path == f"/repos/acme/budgets/issues/comments/{old}"
    assert "plan failed (exit code 1)" in patch.body["body"]
    assert "https://github.test/acme/budgets/actions/runs/4242" in patch.body["body"]
    assert "rsp_wrong_key" not in result.log


def test_no_comment_outside_pull_requests_or_when_disabled(
    start_runner: StartRunner, recorder: GitHubRecorder
) -> None:
    """A push event, or comment: false, writes the summary but never calls GitHub."""
    runner, _ = start_runner(_live())
    assert runner.run(command="plan", comment="false").failed_step is None
    runner.event_name = "push"
    result = runner.run(command="plan")
    assert result.failed_step is None
    assert result.summary.startswith(MARKER)
    assert recorder.requests == []


def test_the_comment_input_reads_true_in_any_case_and_refuses_other_words(
    start_runner: StartRunner, recorder: GitHubRecorder
) -> None:
    """comment: "True" comments as "true" does; a word that is neither true nor false fails
    the step with an error annotation instead of silently posting nothing."""
    runner, _ = start_runner(_live())
    assert runner.run(command="plan", comment="True").failed_step is None
    assert len(recorder.comments[("acme/budgets", 17)]) == 1
    result = runner.run(command="plan", comment="yes")
    assert result.failed_step is not None
    assert "::error title=reconciler action::input 'comment' must be true or false" in result.log


def pull_request_checkout(runner: Runner) -> str:
    """Make the runner's workspace what actions/checkout leaves on a pull request: a clone of
    depth 1 of the head, whose base commit (the template as it is) is not in the clone.
    The pull request raises vandelay 400 -> 450; the base commit's id is returned."""
    origin = runner.tmp_path / "origin"
    shutil.move(runner.workspace, origin)
    make_repo(origin)
    base = commit(origin, {}, "base")
    manifest = origin / "customers" / "enterprise.yaml"
    text = manifest.read_text(encoding="utf-8").replace(
        "period_budget: 400.00", "period_budget: 450"
    )
    commit(origin, {"customers/enterprise.yaml": text}, "raise vandelay")
    git(runner.tmp_path, "clone", "--quiet", "--depth=1", f"file://{origin}", str(runner.workspace))
    runner.event["pull_request"]["base"] = {"sha": base}
    return base


def test_a_pull_request_plan_compares_with_its_base_fetched_when_shallow(
    start_runner: StartRunner, recorder: GitHubRecorder
) -> None:
    """A shallow PR checkout: the base is fetched; the comment leads with the PR's change."""
    runner, _ = start_runner(_live())  # initrode drifted live: 250 declared, 200 live
    base = pull_request_checkout(runner)
    with pytest.raises(subprocess.CalledProcessError):
        git(runner.workspace, "cat-file", "-e", f"{base}^{{commit}}")
    result = runner.run(command="plan")
    assert result.failed_step is None, result.log
    assert result.outputs["exit-code"] == "2"
    assert f"Fetching the base {base}" in result.log
    (post,) = recorder.writes()
    body = post.body["body"]
    assert body.startswith(MARKER)
    assert f"1 change in this pull request, 1 drift correction (base: {base}, commit" in body
    mine = body.index("### Changes in this pull request")
    drift = body.index("### Drift that apply would revert")
    assert (
        mine < body.index("`respan/prod/vandelay`") < drift < body.index("`respan/prod/initrode`")
    )
    saved = json.loads(Path(result.outputs["plan-file"]).read_text(encoding="utf-8"))
    assert saved["base"]["commit"] == base
    # A second run finds the base already there and does not fetch again.
    again = runner.run(command="plan")
    assert again.failed_step is None, again.log
    assert "Fetching the base" not in again.log


def test_the_base_input_overrides_or_turns_off_the_pull_requests_base(
    start_runner: StartRunner, recorder: GitHubRecorder
) -> None:
    """base: none plans without a base; base: REF plans against REF instead."""
    runner, _ = start_runner(_live())
    pull_request_checkout(runner)
    plain = runner.run(command="plan", base="none")
    assert plain.failed_step is None, plain.log
    assert "Changes in this pull request" not in plain.summary
    # The clone's own head as the base: the raise is not a change of "this" pull request.
    head = runner.run(command="plan", base="HEAD")
    assert head.failed_step is None, head.log
    assert "0 changes in this pull request, 2 drift corrections (base: HEAD" in head.summary


def test_a_base_that_cannot_be_fetched_fails_the_plan_clearly(
    start_runner: StartRunner, recorder: GitHubRecorder
) -> None:
    """A base commit the remote does not have: a warning, then the plan fails (exit 1)."""
    runner, _ = start_runner(_live())
    pull_request_checkout(runner)
    runner.event["pull_request"]["base"] = {"sha": "f" * 40}
    result = runner.run(command="plan")
    assert result.outputs["exit-code"] == "1"
    assert "::warning title=reconciler::could not fetch the base" in result.log
    assert f"--base {'f' * 40}: no such commit in this repository" in result.log


def test_a_base_input_that_looks_like_an_option_is_refused(start_runner: StartRunner) -> None:
    """base: --upload-pack=... never reaches git as an option."""
    runner, _ = start_runner(_live())
    result = runner.run(command="plan", base="--upload-pack=touch /tmp/owned")
    assert result.outputs["exit-code"] == "1"
    assert "input 'base' must be a git revision" in result.log


def test_a_plan_refused_before_it_ran_still_replaces_the_old_comment(
    start_runner: StartRunner, recorder: GitHubRecorder
) -> None:
    """A plan the action refuses to start (a bad base input) leaves no earlier plan looking
    current: the sticky comment says the plan failed."""
    runner, _ = start_runner(_live())
    old = recorder.add_comment("acme/budgets", 17, f"{MARKER}\n**Plan: 1 to update**")
    result = runner.run(command="plan", base="-x")
    assert result.outputs["exit-code"] == "1"
    assert "could not comment" not in result.log
    (patch,) = recorder.writes()
    assert patch.path == f"/repos/acme/budgets/issues/comments/{old}"
    assert "plan failed (exit code 1)" in patch.body["body"]


def test_a_comment_github_refuses_is_only_a_warning(
    start_runner: StartRunner, recorder: GitHubRecorder
) -> None:
    """A token without pull-requests: write does not fail the plan; the log warns."""
    runner, _ = start_runner(_live())
    recorder.fail_with = 403
    result = runner.run(command="plan")
    assert result.failed_step is None
    assert result.outputs["exit-code"] == "2"
    assert "::warning title=reconciler::could not comment the plan" in result.log


def test_validate_annotates_and_fails_on_a_bad_manifest(
    start_runner: StartRunner, recorder: GitHubRecorder
) -> None:
    """command: validate prints workflow-command annotations and fails the step with 1."""
    runner, _ = start_runner(_live())
    assert runner.run(command="validate").failed_step is None
    bad = runner.workspace / "customers" / "startups.yaml"
    bad.write_text(bad.read_text("utf-8").replace("period_budget: 25", "period_budget: -25"))
    result = runner.run(command="validate", paths="customers/startups.yaml")
    assert result.exit_status == 1
    assert result.outputs["exit-code"] == "1"
    assert "::error file=customers/startups.yaml,line=" in result.log
    assert recorder.requests == []


def test_inputs_are_data_not_shell(start_runner: StartRunner) -> None:
    """Paths and args are split into words but never evaluated by the shell."""
    runner, _ = start_runner(_live())
    marker = runner.tmp_path / "pwned"
    result = runner.run(command="validate", args=f"$(touch {marker}) ; touch {marker}")
    assert result.outputs["exit-code"] == "1"  # click refuses the unknown arguments
    assert not marker.exists()


def test_an_unknown_command_fails_clearly(start_runner: StartRunner) -> None:
    """Anything but validate, plan or apply is an error annotation and exit code 1."""
    runner, _ = start_runner(_live())
    result = runner.run(command="destroy")
    assert result.outputs["exit-code"] == "1"
    assert result.exit_status == 1
    assert "::error title=reconciler action::input 'command' must be" in result.log


def test_apply_then_plan_converges(start_runner: StartRunner, recorder: GitHubRecorder) -> None:
    """command: apply with --auto-approve changes live state; a plan after it has nothing left."""
    runner, emulator = start_runner(_live())
    audit_log = runner.tmp_path / "audit.jsonl"
    applied = runner.run(command="apply", args=f"--auto-approve --audit-log {audit_log}")
    assert applied.failed_step is None, applied.log
    assert applied.outputs["exit-code"] == "0"
    assert applied.outputs["plan-file"] == ""
    assert "initrode" in applied.summary
    assert len(audit_log.read_text(encoding="utf-8").splitlines()) == 2  # pending, then applied
    assert emulator.api_key not in applied.log + audit_log.read_text(encoding="utf-8")
    replanned = runner.run(command="plan")
    assert replanned.outputs["exit-code"] == "0", replanned.log
    assert replanned.outputs["has-changes"] == "false"


FAKE_PYTHON = """#!/bin/bash
# Stands in for setup-python's interpreter: records calls; 'pip install' makes the script.
echo "$0 $*" >> "$CALLS"
if [ "$1 $2" = "-m venv" ]; then mkdir -p "$3/bin"; cp "$0" "$3/bin/python"; fi
if [ "$1 $2 $3" = "-m pip install" ]; then
  printf '#!/bin/bash\\necho reconciler\\n' > "$(dirname "$0")/reconciler"
  chmod +x "$(dirname "$0")/reconciler"
fi
"""


def test_install_step_builds_a_private_environment_once(tmp_path: Path) -> None:
    """The tool is pip-installed from the action's checkout into its own venv, only once per
    job, and only the reconciler command joins PATH."""
    (step,) = [s for s in ACTION["runs"]["steps"] if s.get("id") == "install"]
    python = tmp_path / "python"
    python.write_text(FAKE_PYTHON, encoding="utf-8")
    python.chmod(0o755)
    calls = tmp_path / "calls"
    env = base_env(tmp_path, {"CALLS": str(calls), "GITHUB_PATH": str(tmp_path / "path")})
    context: dict[str, Any] = {
        "github": {"action_path": str(tmp_path / "action checkout")},
        "steps": {"python": {"outputs": {"python-path": str(python)}}},
    }
    for _ in range(2):
        assert run_step(step, context, env, tmp_path, tmp_path).returncode == 0
    lines = calls.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2  # venv + pip install, the second run reused them
    assert lines[0].startswith(f"{python} -m venv {tmp_path}/reconciler-venv-")
    assert lines[1].endswith(
        f"-m pip install --disable-pip-version-check --quiet {tmp_path}/action checkout"
    )
    bin_dir = Path(context["steps"]["install"]["outputs"]["bin"])
    assert (bin_dir / "reconciler").exists()
    path_dirs = set((tmp_path / "path").read_text(encoding="utf-8").split())
    assert path_dirs == {str(tmp_path / "reconciler-bin")}
    assert [p.name for p in (tmp_path / "reconciler-bin").iterdir()] == ["reconciler"]
