"""Every shell example in ``README.md`` and ``docs/**/*.md`` runs, and does what the page says.

Per page, blocks run in order with bash (``-e -o pipefail``, stdin not a terminal, as in CI),
each in a fresh shell starting in the current scene's directory: a temporary copy of the
directory the page names with ``<!-- doctest: cwd=... -->``, beside Respan and Autumn emulators
this test started and reached through ``RESPAN_BASE_URL``/``RESPAN_API_KEY`` and
``AUTUMN_BASE_URL``/``AUTUMN_SECRET_KEY``, except for a provider whose built-in emulator the
copied ``reconciler.yaml`` configures: that one runs in-process, as for a reader.
Files and live state carry over from block to block; shell variables do not. ``reconciler`` is
this interpreter's, first on ``PATH``. The convention for authors is in ``docs/README.md``; the
parsing is in ``tests/doc_blocks.py``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
from doc_blocks import (
    DocBlock,
    DocTestSyntaxError,
    Scene,
    output_matches,
    parse_page,
)

from reconciler.emulator import EmulatorSettings, RunningEmulator, start_emulator
from reconciler.settings.config import find_config

REPO = Path(__file__).resolve().parent.parent
PAGES = sorted([REPO / "README.md", *(REPO / "docs").rglob("*.md")])
# What ``cwd=.`` copies of the repository root: what pages reach from there.
ROOT_COPIES = ("examples", "schemas")

RESPAN_KEY = "rsp_doc_test_0123456789"
AUTUMN_KEY = "am_sk_test_doc_0123456789"
BLOCK_TIMEOUT = 60.0
OUTPUT_SHOWN_ON_FAILURE = 6000


def page_blocks(page: Path) -> list[DocBlock]:
    """The runnable blocks of ``page``."""
    return parse_page(page.relative_to(REPO).as_posix(), page.read_text(encoding="utf-8"))


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(REPO).as_posix() for p in PAGES])
def test_page_examples_run(page: Path) -> None:
    """Each sh/console block of the page exits as declared and prints what the page shows."""
    try:
        run_page(page)
    except DocTestSyntaxError as exc:
        pytest.fail(str(exc), pytrace=False)


def run_page(page: Path) -> None:
    """Run the page's blocks in order, each scene in a fresh copy with fresh emulators."""
    blocks = page_blocks(page)
    with ExitStack() as stack:
        workdir: Path | None = None
        environ: dict[str, str] = {}
        for block in blocks:
            if block.skip_reason is not None:
                continue
            if block.scene is not None:
                stack.close()
                workdir, environ = stack.enter_context(scene(block.scene))
            if workdir is None:
                raise DocTestSyntaxError(
                    f"{block.where}: no scene yet: put <!-- doctest: cwd=examples/quickstart --> "
                    "(or another directory) above the page's first runnable block"
                )
            code, output = run_block(block, workdir, environ)
            check_block(block, code, output)


def check_block(block: DocBlock, code: int | None, output: str) -> None:
    """Fail naming the block when its exit code or output is not what the page says."""
    problems: list[str] = []
    if code is None:
        problems.append(f"still running after {BLOCK_TIMEOUT:g} s (killed)")
    elif code != block.exit_code:
        problems.append(f"exited {code}, the page expects {block.exit_code} (exit=N)")
    problems.extend(f"output lacks {text!r}" for text in block.expect if text not in output)
    if block.output is not None and not output_matches(block.output, output):
        problems.append("output differs from the transcript (`...` matches anything)")
    if problems:
        shown = (
            output if len(output) <= OUTPUT_SHOWN_ON_FAILURE else output[-OUTPUT_SHOWN_ON_FAILURE:]
        )
        pytest.fail(
            f"{block.where}: " + "; ".join(problems) + f"\n--- ran:\n{block.script}"
            f"--- printed:\n{shown}",
            pytrace=False,
        )


def run_block(block: DocBlock, workdir: Path, environ: dict[str, str]) -> tuple[int | None, str]:
    """Run ``block`` in ``workdir``; its exit code (``None``: timed out) and all it printed.

    Output goes to a file, not a pipe, so that a server a block leaves running cannot hold the
    test up; the block's whole process group is ended afterwards.
    """
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", block.script],
            cwd=workdir,
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        code: int | None
        try:
            code = process.wait(timeout=BLOCK_TIMEOUT)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            end_process_group(process)
        log.seek(0)
        return code, log.read().decode("utf-8", errors="replace")


def end_process_group(process: subprocess.Popen[bytes]) -> None:
    """Terminate whatever the block started (background servers), then reap the shell."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextmanager
def scene(setting: Scene) -> Iterator[tuple[Path, dict[str, str]]]:
    """A fresh copy of the scene's directory and the environment its blocks run with."""
    with tempfile.TemporaryDirectory(prefix="reconciler-docs-") as temporary, ExitStack() as stack:
        base = Path(temporary)
        workdir = base / "work"
        copy_directory(setting.cwd, workdir)
        environ = base_environment(base)
        if setting.emulators:
            config = find_config(workdir)
            for provider, key, chosen in (
                ("respan", RESPAN_KEY, setting.respan_seed),
                ("autumn", AUTUMN_KEY, setting.autumn_seed),
            ):
                configured = config.provider(provider).emulator_seed if config else None
                if configured is not None and not chosen and not setting.external:
                    continue  # reconciler.yaml's built-in emulator, as for a reader
                seed = REPO / chosen if chosen else configured
                emulator: RunningEmulator[Any] = start_emulator(
                    provider, EmulatorSettings(api_key=key, rate_limit=None), seed=seed
                )
                stack.callback(emulator.stop)
                prefix = provider.upper()
                environ[f"{prefix}_BASE_URL"] = emulator.url
                environ["RESPAN_API_KEY" if provider == "respan" else "AUTUMN_SECRET_KEY"] = key
        yield workdir, environ


def copy_directory(cwd: str, workdir: Path) -> None:
    """Copy the repository directory ``cwd`` (``.``: the root's examples and schemas)."""
    if cwd == ".":
        workdir.mkdir()
        for name in ROOT_COPIES:
            shutil.copytree(REPO / name, workdir / name, ignore=_generated)
        return
    source = REPO / cwd
    if not source.is_dir():
        raise DocTestSyntaxError(f"cwd={cwd}: no such directory in the repository")
    shutil.copytree(source, workdir, ignore=_generated)


def _generated(directory: str, names: list[str]) -> list[str]:
    """Leave out what earlier local runs may have left in the examples."""
    return [
        n for n in names if n in ("__pycache__", "reconciler-audit.jsonl") or n.endswith(".torn")
    ]


def base_environment(base: Path) -> dict[str, str]:
    """A small, known environment: none of the caller's credentials or CI variables."""
    home = base / "home"
    home.mkdir()
    return {
        "PATH": os.pathsep.join([str(command_directory(base)), os.environ.get("PATH", os.defpath)]),
        "HOME": str(home),
        "TMPDIR": str(base),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        # Output in the order a terminal would show it, stdout and stderr interleaved.
        "PYTHONUNBUFFERED": "1",
        # The test run's cache (conftest): compiled validators and entry points are found
        # once, not again in every scene's fresh home.
        "RECONCILER_CACHE_DIR": os.environ["RECONCILER_CACHE_DIR"],
    }


def command_directory(base: Path) -> Path:
    """Where ``reconciler`` (and ``python``) of this interpreter's environment are."""
    here = Path(sys.executable).parent
    if (here / "reconciler").is_file():
        return here
    shims = base / "bin"
    shims.mkdir()
    for name, command in (("reconciler", "-m reconciler"), ("python", ""), ("python3", "")):
        shim = shims / name
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" {command} "$@"\n')
        shim.chmod(0o755)
    return shims


# -- the convention itself ---------------------------------------------------------------------


def test_index_lists_every_page() -> None:
    """docs/README.md links every page under docs/, so none is written and then lost."""
    index = (REPO / "docs" / "README.md").read_text(encoding="utf-8")
    pages = sorted(p.relative_to(REPO / "docs").as_posix() for p in (REPO / "docs").rglob("*.md"))
    unlisted = [page for page in pages if page != "README.md" and f"]({page})" not in index]
    assert unlisted == []


def test_sh_block_carries_its_directives() -> None:
    """Directives above a block set its scene, exit code and expected output."""
    text = (
        "Intro.\n\n"
        '<!-- doctest: cwd=examples/gitops respan-seed=tests/x.json exit=2 expect="a b" -->\n'
        "\n"
        "```sh\nreconciler plan\n```\n\n"
        "```sh\necho next\n```\n"
    )
    first, second = parse_page("page.md", text)
    assert first.where == "page.md:5"
    assert first.scene == Scene("examples/gitops", respan_seed="tests/x.json")
    assert (first.exit_code, first.expect, first.script) == (2, ("a b",), "reconciler plan\n")
    assert (second.scene, second.exit_code, second.expect) == (None, 0, ())


def test_console_block_splits_commands_from_output() -> None:
    """A transcript runs its `$ ` lines (with continuations) and expects the rest as output."""
    text = "```console\n$ reconciler plan \\\n    --prune\nPlan: 1\n$ echo done\ndone\n```\n"
    (block,) = parse_page("page.md", text)
    assert block.script == "reconciler plan \\\n    --prune\necho done\n"
    assert block.output == "Plan: 1\ndone"


def test_setup_prefix_is_left_to_the_environment() -> None:
    """The README's venv-and-install prefix is dropped; the rest of the line runs."""
    text = (
        "```sh\npython3 -m venv .venv && . .venv/bin/activate && pip install . && "
        "cd examples/quickstart && reconciler plan\n```\n"
    )
    (block,) = parse_page("README.md", text)
    assert block.script == "cd examples/quickstart && reconciler plan\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<!-- doctest: skip -->\n```sh\npip install x\n```\n", "skip needs a reason"),
        ('<!-- doctest: skip reason="" -->\n```sh\nx\n```\n', "skip needs a reason"),
        ('<!-- doctest: reason="why" -->\n```sh\nx\n```\n', "reason= without skip"),
        ("```bash\nreconciler plan\n```\n", "```bash blocks are not run"),
        ("```shell\nreconciler plan\n```\n", "```shell blocks are not run"),
        ("<!-- doctest: exit=3 -->\n\nSome prose.\n\n```sh\nx\n```\n", "right above"),
        ("<!-- doctest: exit=3 -->\n```yaml\na: 1\n```\n", "not above a ```yaml block"),
        ("<!-- doctest: exit=3 -->\n", "with no block below"),
        ("<!-- doctest: exit=two -->\n```sh\nx\n```\n", "exit= takes an exit code"),
        ("<!-- doctest: cwd=/etc -->\n```sh\nx\n```\n", "inside the repository"),
        ("<!-- doctest: respan-seed=a.json -->\n```sh\nx\n```\n", "add cwd="),
        ("<!-- doctest: emulators=some cwd=. -->\n```sh\nx\n```\n", "takes only none or external"),
        ("<!-- doctest: timeout=5 -->\n```sh\nx\n```\n", "unknown doctest setting"),
        ("```console\njust output\n```\n", "at least one '$ ' command"),
    ],
)
def test_markup_mistakes_are_refused(text: str, message: str) -> None:
    """A skip without a reason, an unrun shell tag or a stray directive fails, naming the line."""
    with pytest.raises(DocTestSyntaxError, match=re.escape(message)):
        parse_page("page.md", text)


def test_skip_keeps_its_reason() -> None:
    """A skipped block is parsed with the reason the page gives for it."""
    text = '<!-- doctest: skip reason="pushes to GitHub" -->\n```sh\ngit push\n```\n'
    (block,) = parse_page("page.md", text)
    assert block.skip_reason == "pushes to GitHub"


def test_skips_are_rare_and_explained() -> None:
    """Across all pages, a handful of blocks at most are skipped, each with its reason."""
    skipped = [
        block for page in PAGES for block in page_blocks(page) if block.skip_reason is not None
    ]
    assert all(block.skip_reason and block.skip_reason.strip() for block in skipped)
    assert len(skipped) <= 5, [block.where for block in skipped]


def test_fenced_example_of_a_directive_is_not_a_directive() -> None:
    """Markup shown inside a longer fence (as in docs/README.md) is text, not a directive."""
    text = "````markdown\n<!-- doctest: cwd=. -->\n```console\n$ false\n```\n````\n"
    assert parse_page("page.md", text) == []


@pytest.mark.parametrize(
    ("shown", "actual", "matches"),
    [
        ("Plan: 1 to update\n", "Plan: 1 to update\n", True),
        ("Plan: 1 to update", "\nPlan: 1 to update   \n\n", True),
        ("Plan: 1 to update", "Plan: 2 to update", False),
        ("Plan: 1 to update", "Plan: 1 to update\nmore", False),
        (
            "Saved the plan to plan.json (sha256:...).",
            "Saved the plan to plan.json (sha256:ab12).",
            True,
        ),
        ("first\n...\nlast", "first\na\nb\nlast", True),
        ("first\n...\nlast", "first\nlast", True),
        ("first\n...\nlast", "first\na\nlast\nextra", False),
        ("a...", "a\nb", False),
    ],
)
def test_transcript_output_comparison(shown: str, actual: str, matches: bool) -> None:
    """Output compares line by line; `...` spans text in a line, or whole lines on its own."""
    assert output_matches(shown, actual) is matches


_LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")
_FENCED = re.compile(r"^ {0,3}(`{3,}|~{3,}).*?^ {0,3}\1\s*$", re.MULTILINE | re.DOTALL)
_HEADING = re.compile(r"^#{1,6}\s+(?P<title>.+?)\s*#*\s*$", re.MULTILINE)


def heading_anchors(text: str) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown text (``## A `b` c`` -> ``a-b-c``)."""
    anchors = set()
    for match in _HEADING.finditer(_FENCED.sub("", text)):
        title = match.group("title").lower().replace("`", "")
        anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(REPO).as_posix() for p in PAGES])
def test_relative_links_resolve(page: Path) -> None:
    """Every relative link of the page names a file that exists, and a heading that does."""
    text = page.read_text(encoding="utf-8")
    broken = []
    for match in _LINK.finditer(_FENCED.sub("", text)):
        target = match.group("target")
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path_part, _, anchor = target.partition("#")
        linked = (page.parent / path_part).resolve() if path_part else page
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif (
            anchor
            and linked.suffix == ".md"
            and anchor not in heading_anchors(linked.read_text(encoding="utf-8"))
        ):
            broken.append(f"{target}: no heading with that anchor")
    assert broken == []


def test_heading_anchors_follow_github() -> None:
    """Anchors drop code marks and punctuation, keep underscores and hyphens."""
    text = "## Live but not declared: prune and `prevent_destroy`\n### `apply` refuses a plan\n"
    assert heading_anchors(text) == {
        "live-but-not-declared-prune-and-prevent_destroy",
        "apply-refuses-a-plan",
    }


def test_ci_runs_the_readme_test_command() -> None:
    """.ci/run installs and tests exactly as the README's test command says (same lock)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    (command,) = [line for line in readme.splitlines() if line.endswith("python -m pytest -n 2")]
    steps = [step.strip() for step in command.split("&&")]
    install = next(step for step in steps if step.startswith("pip install"))
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert f"python -m {install}".replace("pip install", "pip install --quiet") in ci
    assert steps[-1] in ci
    assert "-c .ci/constraints.txt" in install


def test_ci_type_checks_every_directory_it_lints() -> None:
    """Bare ``mypy``, as .ci/run calls it, checks strictly each directory CI lints, and those
    are all the directories holding Python code: package, tests, benchmarks, CI scripts."""
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    (lint,) = [line for line in ci if line.startswith("ruff check ")]
    linted = set(lint.split()[2:])
    assert "mypy" in ci
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    mypy = pyproject["tool"]["mypy"]
    assert mypy["strict"] is True
    assert set(mypy["files"]) == linted
    with_python = {
        path.name
        for path in REPO.iterdir()
        if path.is_dir() and any(path.glob("*.py")) and not (path / "pyvenv.cfg").exists()
    }
    assert with_python <= linted
