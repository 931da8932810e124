"""The manifests as they were at a git revision (``plan --base REF``), read straight from git.

Nothing is checked out: ``git rev-parse`` names the commit, ``git ls-tree`` lists the files
the same PATHs held at that commit, and one ``git cat-file --batch`` streams their bytes into
the manifests' own loader (``check_manifest_data``), so a base is parsed and checked exactly
like the working tree and its problems name ``REF:path:line:column``. The ``git`` command is
used rather than a library (GitPython, dulwich, pygit2): it is already on every CI runner
that checked the repository out, it reads every object format and repository layout git
itself does (packs, alternates, worktrees, shallow clones, partial clones), and three plumbing
commands are all this needs.

Which files: for a PATH that is a file, that file; for a directory, every ``*.yaml`` /
``*.yml`` below it outside hidden directories, except ``reconciler.yaml`` (as
``manifest_files`` does on disk). A PATH that did not exist at REF declared nothing there:
a pull request may add a manifest or a directory. Symbolic links are followed as the working
tree follows them, through the commit's own tree: a linked manifest declares what its target
declared at REF (skipped, its customers would look new, and their drift would pass for this
change's edits); a link out of the repository is an error, since what it held then is unknown.
"""

from __future__ import annotations

import os
import posixpath
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from reconciler.domain import DesiredCustomer
from reconciler.errors import ConfigError, ManifestError
from reconciler.manifests.loader import (
    CONFIG_FILE_NAMES,
    MANIFEST_SUFFIXES,
    display_path,
    load_manifest_data,
)
from reconciler.printable import printable
from reconciler.problems import Problem

_GIT_TIMEOUT_SECONDS = 60
# Git's file modes of a regular file and of a symbolic link (a submodule, 160000, is skipped).
_REGULAR_FILES = frozenset({"100644", "100755"})
_LINK = "120000"
_MAX_LINKS = 40  # as the operating system's limit on links in one path (ELOOP)


class BaseRevisionError(ConfigError):
    """``--base REF`` names no commit of the repository, or git cannot be run."""


class BaseManifestError(ManifestError):
    """The manifests at the base revision do not load; ``problems`` name ``REF:path``."""

    def __init__(self, problems: Sequence[Problem], ref: str, commit: str) -> None:
        super().__init__(problems)
        self.ref = ref
        self.commit = commit

    def __str__(self) -> str:
        return (
            f"{len(self.problems)} problem(s) in the manifests at --base {printable(self.ref)} "
            f"(commit {self.commit[:12]}): fix the base, or plan against another revision"
        )


@dataclass(frozen=True, slots=True)
class BaseManifests:
    """What the manifests declared at ``ref``: the commit it names and its customers."""

    ref: str
    commit: str
    customers: tuple[DesiredCustomer, ...]
    files: tuple[str, ...]


def load_base_manifests(ref: str, paths: Sequence[Path], cwd: Path) -> BaseManifests:
    """The customers ``paths`` (as the working tree names them) declared at revision ``ref``.

    Raises ``BaseRevisionError`` when ``cwd`` is not in a git repository, ``ref`` is no commit
    of it, or a PATH lies outside it; ``BaseManifestError`` when the base does not load.
    """
    if not ref or ref.startswith("-"):
        # Never let a revision be read as an option of git.
        raise BaseRevisionError(f"--base {printable(ref)!r} is not a git revision")
    top = Path(_git(cwd, "rev-parse", "--show-toplevel").strip())
    found = _git(cwd, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    commit = found.strip()
    if not commit:
        raise BaseRevisionError(
            f"--base {printable(ref)}: no such commit in this repository; check the name, and "
            "in a shallow clone fetch it first (git fetch --depth=1 origin REVISION)"
        )
    sources: list[tuple[str, bytes]] = []
    blobs: list[tuple[str, str]] = []
    seen: set[str] = set()
    tree = _Tree(top, commit, ref)
    for path in paths:
        inside = _inside(top, cwd, path)
        real_inside = inside
        entries = _tree_entries(top, commit, inside)
        if not entries or [(mode, name) for mode, _, name in entries] == [(_LINK, inside)]:
            # The PATH itself, or a directory on its way, may be a link.
            resolved = tree.real(inside)
            if resolved is None:
                continue  # not there at REF: it declared nothing
            real_inside = resolved
            entries = _tree_entries(top, commit, real_inside)
        for mode, oid, name in entries:
            if name != real_inside and not _is_manifest_below(name, real_inside):
                continue
            # As the working tree names it: below the PATH as given, whatever links led there.
            below = name[len(real_inside) :].lstrip("/") if real_inside else name
            shown = "/".join(part for part in (inside, below) if part)
            real: str | None = name
            if mode == _LINK:
                real = tree.real(name)  # a link that leads nowhere at REF declared nothing
                target = tree.entry(real) if real is not None else None
                if target is None or target[0] not in _REGULAR_FILES:
                    continue  # nothing there, or a linked directory (which the scan refuses)
                mode, oid = target
            if real is None or real in seen or mode not in _REGULAR_FILES:
                continue
            seen.add(real)  # a file reached by two names is read once, as on disk
            blobs.append((f"{ref}:{display_path(top / shown)}", oid))
    for (display, _), data in zip(blobs, _read_blobs(top, [oid for _, oid in blobs]), strict=True):
        sources.append((display, data))
    try:
        loaded = load_manifest_data(sources)
    except ManifestError as exc:
        raise BaseManifestError(exc.problems, ref, commit) from None
    return BaseManifests(ref, commit, loaded.customers, tuple(name for name, _ in sources))


class _Tree:
    """The commit's tree, asked one path at a time: entries, and links followed to where
    they lead."""

    def __init__(self, top: Path, commit: str, ref: str) -> None:
        self._top = top
        self._commit = commit
        self._ref = ref
        self._entries: dict[str, tuple[str, str] | None] = {}

    def entry(self, name: str) -> tuple[str, str] | None:
        """``(mode, object id)`` of ``name`` in the commit (a file, link or directory)."""
        if name not in self._entries:
            listing = _git(
                self._top, "ls-tree", "-z", "--full-tree", self._commit, "--", name, literal=True
            )
            found = None
            for record in listing.split("\0"):
                meta, _, listed = record.partition("\t")
                if listed == name:
                    mode, _, oid = meta.split(" ")
                    found = (mode, oid)
            self._entries[name] = found
        return self._entries[name]

    def real(self, name: str) -> str | None:
        """``name`` with every link on its way followed (``""``: the repository's root), or
        ``None`` when nothing is there. Raises ``BaseRevisionError`` for a link out of the
        repository, or too many links (a loop)."""
        parts = [part for part in name.split("/") if part]
        done: list[str] = []
        followed = 0
        while parts:
            candidate = "/".join([*done, parts[0]])
            found = self.entry(candidate)
            if found is None:
                return None
            mode, oid = found
            if mode != _LINK:
                done.append(parts.pop(0))
                continue
            followed += 1
            if followed > _MAX_LINKS:
                raise BaseRevisionError(
                    f"--base: {printable(name)} at {printable(self._ref)} goes through more "
                    f"than {_MAX_LINKS} links (a loop?)"
                )
            (data,) = _read_blobs(self._top, [oid])
            target = os.fsdecode(data)
            joined = self._within(target, "/".join(done))
            if joined is None:
                raise BaseRevisionError(
                    f"--base: {printable(candidate)} at {printable(self._ref)} is a link to "
                    f"{printable(target)}, outside the repository: what it held then is unknown"
                )
            parts = [part for part in joined.split("/") if part not in ("", ".")] + parts[1:]
            done = []
        return "/".join(done)

    def _within(self, target: str, directory: str) -> str | None:
        """Link ``target`` (written in ``directory``) relative to the root, if inside it."""
        if PurePosixPath(target).is_absolute():
            try:
                target = Path(target).relative_to(self._top).as_posix()
            except ValueError:
                return None
            directory = ""
        joined = posixpath.normpath(posixpath.join(directory, target))
        return None if joined == ".." or joined.startswith("../") else joined


def _inside(top: Path, cwd: Path, path: Path) -> str:
    """``path`` relative to the repository root, with ``/`` separators (``""``: the root)."""
    absolute = Path(os.path.abspath(cwd / path))
    try:
        relative = absolute.relative_to(top)
    except ValueError:
        try:
            relative = absolute.resolve().relative_to(top.resolve())
        except ValueError:
            raise BaseRevisionError(
                f"--base: {printable(str(path))} is outside the git repository at {top}"
            ) from None
    return relative.as_posix() if relative.parts else ""


def _tree_entries(top: Path, commit: str, inside: str) -> list[tuple[str, str, str]]:
    """``(mode, object id, path)`` of every file at or below ``inside`` in ``commit``."""
    arguments = ["ls-tree", "-r", "-z", "--full-tree", commit]
    if inside:
        arguments += ["--", inside]
    listing = _git(top, *arguments, literal=True)
    entries: list[tuple[str, str, str]] = []
    for record in listing.split("\0"):
        if not record:
            continue
        meta, _, name = record.partition("\t")
        mode, kind, oid = meta.split(" ")
        if kind == "blob":
            entries.append((mode, oid, name))
    return entries


def _is_manifest_below(name: str, directory: str) -> bool:
    """A file of a directory scan: a manifest suffix, no hidden part below ``directory``, not
    the project's settings file (the rules of ``manifest_files``)."""
    if directory and not name.startswith(directory.rstrip("/") + "/"):
        return False
    below = PurePosixPath(name[len(directory) :].lstrip("/") if directory else name)
    return (
        below.name.endswith(MANIFEST_SUFFIXES)
        and below.name not in CONFIG_FILE_NAMES
        and not any(part.startswith(".") for part in below.parts)
    )


def _read_blobs(top: Path, oids: Sequence[str]) -> list[bytes]:
    """The contents of ``oids``, in order, through one ``git cat-file --batch``."""
    if not oids:
        return []
    stdin = "".join(f"{oid}\n" for oid in oids).encode("ascii")
    output = _run(top, ["cat-file", "--batch"], stdin)
    contents: list[bytes] = []
    offset = 0
    for oid in oids:
        end = output.index(b"\n", offset)
        header = output[offset:end].decode("ascii").split(" ")
        if len(header) != 3 or header[0] != oid:
            raise BaseRevisionError(f"git cat-file did not return object {oid}")
        size = int(header[2])
        start = end + 1
        contents.append(output[start : start + size])
        offset = start + size + 1  # the content is followed by a newline
    return contents


def _git(cwd: Path, *arguments: str, literal: bool = False) -> str:
    prefix = ["--literal-pathspecs"] if literal else []
    return _run(cwd, [*prefix, *arguments], None).decode("utf-8", "surrogateescape")


def _run(cwd: Path, arguments: list[str], stdin: bytes | None) -> bytes:
    command = ["git", "-c", "core.quotePath=false", *arguments]
    try:
        completed = subprocess.run(
            command,
            cwd=cwd,
            input=stdin,
            capture_output=True,
            timeout=_GIT_TIMEOUT_SECONDS,
            check=False,
            # Git must not ask for anything (a credential, a pager); messages in English, as
            # the one this module recognizes ("not a git repository").
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "LC_ALL": "C"},
        )
    except FileNotFoundError:
        raise BaseRevisionError(
            "--base needs git, which is not installed (or not on PATH)"
        ) from None
    except subprocess.TimeoutExpired:
        raise BaseRevisionError(
            f"--base: git {arguments[0]} did not finish within {_GIT_TIMEOUT_SECONDS} s"
        ) from None
    # rev-parse --verify --quiet answers an unknown revision with exit 1 and no output.
    if completed.returncode != 0 and not (
        "--verify" in arguments and completed.returncode == 1 and not completed.stderr
    ):
        detail = completed.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = detail[-1] if detail else f"exit {completed.returncode}"
        if "not a git repository" in reason:
            raise BaseRevisionError(
                f"--base needs a git repository, and {cwd} is not in one ({printable(reason)})"
            )
        raise BaseRevisionError(f"--base: git {arguments[0]} failed: {printable(reason)}")
    return completed.stdout
