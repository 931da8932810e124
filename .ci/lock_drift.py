"""Print how the installed packages differ from the lock, for ``.ci/newest``.

Lines: ``moved NAME LOCKED -> INSTALLED``, ``new NAME VERSION`` (not in the lock), and
``held back NAME: NEWEST available, pyproject.toml allows SPEC`` for a dependency whose upper
bound keeps a newer release out (asked of the package index with ``pip index versions``).
Always exits 0: this is a report, not a gate.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)")


def locked() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / ".ci" / "constraints.txt").read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match:
            pins[canonicalize_name(match[1])] = match[2]
    return pins


def installed() -> dict[str, str]:
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and canonicalize_name(name) not in {"pip", "setuptools", "wheel", "reconciler"}:
            found[canonicalize_name(name)] = dist.version
    return found


def newest_release(name: str) -> Version | None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "index", "versions", name],
        capture_output=True,
        text=True,
        check=False,
    )
    match = re.search(r"\(([^)]+)\)", done.stdout)
    try:
        return Version(match[1]) if match else None
    except InvalidVersion:
        return None


def held_back() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = []
    for text in project["dependencies"]:
        requirement = Requirement(text)
        if not any(spec.operator in {"<", "<=", "~=", "=="} for spec in requirement.specifier):
            continue
        newest = newest_release(requirement.name)
        if newest is not None and newest not in requirement.specifier:
            lines.append(
                f"held back {requirement.name}: {newest} available, "
                f"pyproject.toml allows {requirement.specifier}"
            )
    return lines


def main() -> int:
    pins, now = locked(), installed()
    lines = [
        f"moved {name} {pins[name]} -> {version}"
        for name, version in sorted(now.items())
        if name in pins and pins[name] != version
    ]
    lines += [f"new {name} {version}" for name, version in sorted(now.items()) if name not in pins]
    lines += held_back()
    print("\n".join(lines) if lines else "every installed package is at its locked version")
    return 0


if __name__ == "__main__":
    sys.exit(main())
