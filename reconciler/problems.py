"""Problems found in manifests or configuration, each pinned to ``path:line:col``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from reconciler.printable import printable

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """One problem in an input file: where it is, what is wrong, and what to do about it.

    Lines and columns are 1-based, as editors show them. Ordering sorts by file, line, column.
    """

    path: str
    line: int
    column: int
    message: str
    hint: str = ""
    severity: Severity = "error"

    def lines(self) -> list[str]:
        """How every command prints a problem: ``path:line:col: severity: message``, then
        ``  hint: what to do`` when there is a hint."""
        # Messages quote the file's own text, which may hold control characters.
        where = f"{self.path}:{self.line}:{self.column}"
        if self.path.lstrip().startswith("::"):
            # A GitHub runner takes any log line starting with "::" for a workflow command
            # (add-mask, stop-commands, a fake annotation); file names come from pull requests.
            where = f"./{where}"
        shown = [printable(f"{where}: {self.severity}: {self.message}")]
        if self.hint:
            shown.append(f"  hint: {printable(self.hint)}")
        return shown

    def __str__(self) -> str:
        return "\n".join(self.lines())


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The one of ``choices`` that ``word`` most likely misspells, for a "did you mean" hint
    (``None``: none is close). difflib is imported here: only a problem needs it."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return close[0] if close else None
