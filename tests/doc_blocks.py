"""The runnable shell examples of a Markdown page, with the doc-test directives that govern them.

The convention (written for authors in ``docs/README.md``):

- A fenced block tagged ``sh`` is a shell script; one tagged ``console`` is a transcript whose
  ``$ `` lines are commands (a line ending in ``\\`` continues on the next) and whose other
  lines are the output they print, stdout and stderr together. Both are executed. Other shell
  tags (``bash``, ``shell``, ...) are refused, so no example escapes the test by its tag.
- ``<!-- doctest: ... -->`` comments right above a block (blank lines between are fine) set
  how it runs: ``cwd=``, ``emulators=none|external``, ``respan-seed=``, ``autumn-seed=`` start a new
  scene; ``exit=N``, ``expect="text"`` (repeatable) check the result; ``skip reason="..."``
  leaves the block out, and a skip without a reason is an error.
- A command line starting with the README's set-up prefix (``python3 -m venv .venv && .
  .venv/bin/activate && pip install ... &&``) runs without it: the test already runs inside
  that installed environment.

This module only parses; ``tests/test_docs.py`` runs the blocks.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

RUNNABLE_TAGS = frozenset({"sh", "console"})
# Shell-like tags that would look runnable to a reader but that the test would not run.
REFUSED_TAGS = frozenset(
    {"bash", "shell", "zsh", "shell-session", "shellsession", "sh-session", "terminal"}
)
SCENE_KEYS = frozenset({"cwd", "emulators", "respan-seed", "autumn-seed"})
CHECK_KEYS = frozenset({"exit", "expect"})
SKIP_KEYS = frozenset({"skip", "reason"})

SETUP_PREFIX = re.compile(
    r"^python3 -m venv \.venv && \. \.venv/bin/activate && pip install \S+ && ", re.MULTILINE
)
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<marker>`{3,}|~{3,})(?P<info>[^`]*)$")
_DIRECTIVE = re.compile(r"^\s*<!--\s*doctest:(?P<body>.*?)-->\s*$")
_ELLIPSIS = "..."


class DocTestSyntaxError(Exception):
    """A page's doc-test markup is wrong; the message names ``file:line``."""


@dataclass(frozen=True, slots=True)
class Scene:
    """Where the blocks from here on run: a fresh copy of ``cwd`` and fresh emulators.

    ``cwd`` is a directory of the repository (``.`` stands for the root: copies of
    ``examples/`` and ``schemas/``). ``emulators`` is False for ``emulators=none``: no test
    emulator, no ``RESPAN_*`` or ``AUTUMN_*`` variable. Seeds are repository paths, or ``None``
    for the one the copied ``reconciler.yaml`` names for its built-in emulator. A provider whose
    built-in emulator ``reconciler.yaml`` configures runs on it, as a reader's would, unless
    ``external`` (``emulators=external``, or a seed given here) puts a test emulator in its
    place (for pages that change live state behind reconciler's back, e.g. with curl).
    """

    cwd: str
    emulators: bool = True
    external: bool = False
    respan_seed: str | None = None
    autumn_seed: str | None = None


@dataclass(frozen=True, slots=True)
class DocBlock:
    """One runnable fenced block: where it is, what to run, and what must come of it.

    ``output`` is the transcript's shown output (``console`` blocks), else ``None``.
    ``scene`` is set when this block starts a new scene.
    """

    path: str
    line: int
    tag: str
    script: str
    output: str | None = None
    scene: Scene | None = None
    exit_code: int = 0
    expect: tuple[str, ...] = ()
    skip_reason: str | None = None

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(slots=True)
class _Pending:
    """Directives read above the next fence."""

    line: int = 0
    settings: dict[str, str] = field(default_factory=dict)
    expect: list[str] = field(default_factory=list)
    skip: bool = False


def parse_page(path: str, text: str) -> list[DocBlock]:
    """The runnable blocks of one Markdown page, in order.

    Raises ``DocTestSyntaxError`` for a refused shell tag, a malformed or misplaced directive,
    a skip without a reason, or a console block without commands.
    """
    blocks: list[DocBlock] = []
    lines = text.splitlines()
    pending: _Pending | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        directive = _DIRECTIVE.match(line)
        fence = _FENCE.match(line)
        if directive:
            pending = pending or _Pending(line=index + 1)
            _read_directive(path, index + 1, directive.group("body"), pending)
            index += 1
            continue
        if fence:
            end = _closing_fence(lines, index, fence.group("marker"))
            tag = (fence.group("info").split() or [""])[0].lower()
            body = [
                _dedent(text_line, len(fence.group("indent")))
                for text_line in lines[index + 1 : end]
            ]
            where = f"{path}:{index + 1}"
            if tag in REFUSED_TAGS:
                raise DocTestSyntaxError(
                    f"{where}: ```{tag} blocks are not run; tag shell examples sh (a script) "
                    "or console (a transcript), or use text for output that is not run"
                )
            if tag in RUNNABLE_TAGS:
                blocks.append(_block(path, index + 1, tag, body, pending or _Pending()))
            elif pending is not None:
                raise DocTestSyntaxError(
                    f"{path}:{pending.line}: a doctest directive must stand right above a sh "
                    f"or console block, not above a ```{tag or 'untagged'} block"
                )
            pending = None
            index = end + 1
            continue
        if pending is not None and line.strip():
            raise DocTestSyntaxError(
                f"{path}:{pending.line}: a doctest directive must stand right above the block it "
                "governs (only blank lines may come between)"
            )
        index += 1
    if pending is not None:
        raise DocTestSyntaxError(f"{path}:{pending.line}: a doctest directive with no block below")
    return blocks


def _closing_fence(lines: list[str], start: int, marker: str) -> int:
    closing = re.compile(rf"^ {{0,3}}{re.escape(marker[0])}{{{len(marker)},}}\s*$")
    for index in range(start + 1, len(lines)):
        if closing.match(lines[index]):
            return index
    return len(lines)  # an unclosed fence runs to the end of the page, as in CommonMark


def _dedent(line: str, indent: int) -> str:
    stripped = len(line) - len(line.lstrip(" "))
    return line[min(indent, stripped) :]


def _read_directive(path: str, line: int, body: str, pending: _Pending) -> None:
    where = f"{path}:{line}"
    try:
        words = shlex.split(body)
    except ValueError as exc:
        raise DocTestSyntaxError(f"{where}: unreadable doctest directive: {exc}") from None
    if not words:
        raise DocTestSyntaxError(f"{where}: empty doctest directive")
    for word in words:
        key, sep, value = word.partition("=")
        if key == "skip" and not sep:
            pending.skip = True
            continue
        known = SCENE_KEYS | CHECK_KEYS | SKIP_KEYS
        if not sep or key not in known:
            names = ", ".join(sorted(known))
            raise DocTestSyntaxError(f"{where}: unknown doctest setting {word!r} (known: {names})")
        if key == "expect":
            if not value:
                raise DocTestSyntaxError(f"{where}: expect= needs the text to look for")
            pending.expect.append(value)
        elif key in pending.settings:
            raise DocTestSyntaxError(f"{where}: {key}= given twice for one block")
        else:
            pending.settings[key] = value


def _block(path: str, line: int, tag: str, body: list[str], pending: _Pending) -> DocBlock:
    where = f"{path}:{line}"
    settings = pending.settings
    reason = settings.get("reason", "").strip()
    if pending.skip and not reason:
        raise DocTestSyntaxError(f'{where}: skip needs a reason="..." saying why it cannot run')
    if reason and not pending.skip:
        raise DocTestSyntaxError(f"{where}: reason= without skip")
    if tag == "console":
        script, output = _transcript(where, body)
    else:
        script, output = "\n".join(body) + "\n", None
    return DocBlock(
        path=path,
        line=line,
        tag=tag,
        script=SETUP_PREFIX.sub("", script),
        output=output,
        scene=_scene(where, settings),
        exit_code=_exit_code(where, settings.get("exit", "0")),
        expect=tuple(pending.expect),
        skip_reason=reason if pending.skip else None,
    )


def _scene(where: str, settings: dict[str, str]) -> Scene | None:
    given = SCENE_KEYS.intersection(settings)
    if not given:
        return None
    if "cwd" not in given:
        raise DocTestSyntaxError(f"{where}: {', '.join(sorted(given))} start a scene: add cwd=")
    emulators = settings.get("emulators", "")
    if emulators not in ("", "none", "external"):
        raise DocTestSyntaxError(f"{where}: emulators= takes only none or external")
    cwd = settings["cwd"].rstrip("/") or "."
    if cwd.startswith("/") or ".." in cwd.split("/"):
        raise DocTestSyntaxError(f"{where}: cwd= names a directory inside the repository")
    return Scene(
        cwd=cwd,
        emulators=emulators != "none",
        external=emulators == "external",
        respan_seed=settings.get("respan-seed") or None,
        autumn_seed=settings.get("autumn-seed") or None,
    )


def _exit_code(where: str, text: str) -> int:
    if not text.isdigit() or int(text) > 255:
        raise DocTestSyntaxError(f"{where}: exit= takes an exit code 0-255, not {text!r}")
    return int(text)


def _transcript(where: str, body: list[str]) -> tuple[str, str]:
    """``$ `` commands (with ``\\`` continuations) and the output lines around them."""
    commands: list[str] = []
    output: list[str] = []
    continued = False
    for text_line in body:
        if continued:
            commands.append(text_line)
        elif text_line.startswith("$ "):
            commands.append(text_line[2:])
        else:
            output.append(text_line)
            continue
        continued = text_line.endswith("\\")
    if not commands:
        raise DocTestSyntaxError(f"{where}: a console block needs at least one '$ ' command")
    return "\n".join(commands) + "\n", "\n".join(output)


def output_matches(shown: str, actual: str) -> bool:
    """True when ``actual`` output is what a transcript shows.

    Lines compare whole, trailing spaces and leading or trailing blank lines aside. ``...``
    inside a line stands for any text; a line that is only ``...`` for any number of lines.
    """
    pattern = "".join(_line_pattern(line) for line in _trimmed(shown))
    return re.fullmatch(pattern, "".join(line + "\n" for line in _trimmed(actual))) is not None


def _line_pattern(line: str) -> str:
    if line.strip() == _ELLIPSIS:
        return r"(?:[^\n]*\n)*?"
    return ".*?".join(re.escape(part) for part in line.split(_ELLIPSIS)) + r"\n"


def _trimmed(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return lines
