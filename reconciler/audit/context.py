"""Who applied, from which commit and pull request: the provenance every audit record carries.

Discovered once per run, from GitHub Actions' environment when it is there and from the local
machine otherwise, so a record made on a laptop and one made in CI answer the same questions.
"""

from __future__ import annotations

import contextlib
import getpass
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from reconciler.github.actions import event_pull_request_number

# refs/pull/<number>/merge (or /head): the ref GitHub checks out for a pull_request event.
_PULL_REF = re.compile(r"^refs/pull/(\d+)/(?:merge|head)$")
_SHA = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")
# A git that hangs (a network filesystem, a credential prompt) must not hold up an apply.
_GIT_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class AuditContext:
    """Provenance shared by every record of one run."""

    actor: str
    git_commit: str | None = None
    pull_request: int | None = None
    plan_checksum: str | None = None


def discover_context(
    environ: Mapping[str, str],
    *,
    manifest_dir: Path | None = None,
    plan_checksum: str | None = None,
) -> AuditContext:
    """Build the run's ``AuditContext`` from ``environ`` and the manifests' git checkout.

    ``actor`` is ``GITHUB_ACTOR``, else the OS user; ``git_commit`` is ``GITHUB_SHA``, else
    ``git rev-parse HEAD`` in ``manifest_dir``, else ``None``; ``pull_request`` comes from the
    GitHub event payload or a ``refs/pull/N/merge`` ref, else ``None``.
    """
    return AuditContext(
        actor=_actor(environ),
        git_commit=_git_commit(environ, manifest_dir),
        pull_request=_pull_request(environ),
        plan_checksum=plan_checksum,
    )


def _actor(environ: Mapping[str, str]) -> str:
    github_actor = environ.get("GITHUB_ACTOR", "").strip()
    if github_actor:
        return github_actor
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        # Containers often run as a uid with no passwd entry and no USER variable.
        return "unknown"


def _git_commit(environ: Mapping[str, str], manifest_dir: Path | None) -> str | None:
    github_sha = environ.get("GITHUB_SHA", "").strip().lower()
    if _SHA.match(github_sha):
        return github_sha
    if manifest_dir is None or not manifest_dir.is_dir():
        return None
    try:
        completed = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=manifest_dir,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        # No git installed, or it hung: the record says "unknown commit" rather than failing.
        return None
    sha = completed.stdout.strip().lower()
    return sha if completed.returncode == 0 and _SHA.match(sha) else None


def _pull_request(environ: Mapping[str, str]) -> int | None:
    event_path = environ.get("GITHUB_EVENT_PATH", "")
    if event_path:
        # An unreadable payload must not stop an audited apply: fall back to GITHUB_REF.
        with contextlib.suppress(OSError, UnicodeDecodeError, ValueError):
            number = event_pull_request_number(Path(event_path))
            if number is not None:
                return number
    match = _PULL_REF.match(environ.get("GITHUB_REF", "").strip())
    return int(match.group(1)) if match else None
