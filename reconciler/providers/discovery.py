"""The entry points of a group, found through ``importlib.metadata`` once per state of the
installation and then read back from a small file in the cache directory.

``importlib.metadata.entry_points`` reads the metadata of every installed distribution, loading
the ``email`` parser to do it: some 40 ms, as much as the rest of ``reconciler --help``. What it
finds changes only when distributions are installed, removed or edited, so, as stevedore does,
the answer is kept in ``<cache>/entry-points/`` (``reconciler.cachedir``) beside the state of
the installation it was found in:

- the interpreter and ``sys.path``;
- the modification time of each ``sys.path`` directory: installing or removing a distribution
  adds or removes its ``*.dist-info`` directory there, which changes that time;
- the modification time and size of each ``*.dist-info`` and ``*.egg-info``
  ``entry_points.txt`` there, for a file rewritten in place (``setup.py egg_info``).

Reading that state is a ``stat`` per ``sys.path`` entry and per installed distribution, well
under a millisecond. A cache file whose state is not today's, or that cannot be read, is
ignored: the entry points are found again and the file rewritten. One that cannot be written
costs only that discovery. A state with a directory or file modified in the last
``SETTLING_NS`` is not written down: a second change within the file system's timestamp
granularity would leave the time as it was, so the state could not tell the two apart. Nor is
anything cached while a finder other than the standard one can list distributions: what it
serves is not in the state.

The file is plain lines (a header, the state, a blank line, then ``name=value`` per entry
point), read without ``json`` or ``pathlib`` since ``--help`` loads neither otherwise.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import time
import zlib
from typing import Final

from reconciler.cachedir import cache_dir_name

# Two seconds: the coarsest modification-time granularity of a common file system (FAT).
SETTLING_NS: Final = 2_000_000_000
_HEADER: Final = "reconciler entry-point cache 1"
_METADATA_SUFFIXES: Final = (".dist-info", ".egg-info")


def entry_points(group: str) -> list[tuple[str, str]]:
    """``(name, value)`` of each entry point in ``group``, in ``importlib.metadata``'s order
    (one distribution of each name, the first on ``sys.path``)."""
    if not _distributions_only_on_sys_path():
        return _discover(group)
    state, newest = installation_state()
    path = cache_file(group)
    cached = _read(path, state)
    if cached is not None:
        return cached
    found = _discover(group)
    if newest < time.time_ns() - SETTLING_NS:
        _write(path, state, found)
    return found


def cache_file(group: str) -> str:
    """The file caching ``group`` for this interpreter and ``sys.path`` (one per pair, each
    rewritten when the installation changes, so they do not pile up)."""
    identity = "\0".join([sys.executable, sys.version, *sys.path])
    name = f"{group}-{zlib.crc32(identity.encode('utf-8', 'surrogateescape')):08x}.txt"
    return os.path.join(cache_dir_name(), "entry-points", name)


def installation_state() -> tuple[list[str], int]:
    """The state the entry points depend on (see the module docstring), one line per fact, and
    the newest modification time in it, in nanoseconds since the epoch."""
    state = [sys.executable, sys.version]
    newest = 0
    for entry in sys.path:
        try:
            status = os.stat(entry or ".")
        except OSError:
            state.append(f"{entry}\0absent")
            continue
        # The absolute path: "" (the current directory) names another one in another run.
        state.append(f"{os.path.abspath(entry)}\0{status.st_mtime_ns}")
        newest = max(newest, status.st_mtime_ns)
        if stat.S_ISDIR(status.st_mode):
            for name, found in _entry_point_files(entry or "."):
                state.append(f"{name}\0{found.st_mtime_ns}\0{found.st_size}")
                newest = max(newest, found.st_mtime_ns)
    return state, newest


def _distributions_only_on_sys_path() -> bool:
    """True when every finder that lists distributions reads them from ``sys.path``; the state
    cannot see what another one (a bundler's) serves, so it is not cached."""
    return all(_reads_sys_path(finder) for finder in sys.meta_path)


def _reads_sys_path(finder: object) -> bool:
    from importlib.machinery import PathFinder

    if finder is PathFinder or not hasattr(finder, "find_distributions"):
        return True
    kind = finder if isinstance(finder, type) else type(finder)
    # The importlib_metadata backport, once some package imports it, replaces the standard
    # finder's listing with its own, which reads sys.path the same way.
    return (kind.__module__, kind.__qualname__) == ("importlib_metadata", "MetadataPathFinder")


def _entry_point_files(directory: str) -> list[tuple[str, os.stat_result]]:
    found: list[tuple[str, os.stat_result]] = []
    try:
        listing = os.scandir(directory)
    except OSError:
        return found
    with listing:
        for item in listing:
            if item.name.endswith(_METADATA_SUFFIXES):
                name = os.path.join(item.path, "entry_points.txt")
                try:
                    found.append((name, os.stat(name)))
                except OSError:  # no entry points, or an .egg-info file rather than a directory
                    continue
    return found


def _discover(group: str) -> list[tuple[str, str]]:
    from importlib import metadata  # only on a cache miss: it is the cost this module saves

    return [(point.name, point.value) for point in metadata.entry_points(group=group)]


def _read(path: str, state: list[str]) -> list[tuple[str, str]] | None:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape", newline="\n") as file:
            lines = file.read().split("\n")
    except OSError:
        return None  # not written yet, or unreadable: found again
    expected = [_HEADER, *state, ""]
    if lines[: len(expected)] != expected or lines[-1] != "":
        return None  # another installation's state, or a damaged file
    points = []
    for line in lines[len(expected) : -1]:
        name, equals, value = line.partition("=")
        if not equals:
            return None
        points.append((name, value))
    return points


def _write(path: str, state: list[str], points: list[tuple[str, str]]) -> None:
    lines = [_HEADER, *state, "", *(f"{name}={value}" for name, value in points)]
    if any("\n" in line or "\r" in line for line in lines):
        return  # a path with a line break cannot be written down in this format
    from pathlib import Path  # only on a miss, as is what follows

    from reconciler.atomicfile import write_atomic
    from reconciler.errors import OutputError

    text = "\n".join(lines) + "\n"
    # A cache that cannot be written costs only the discovery, on every run.
    with contextlib.suppress(OutputError, UnicodeEncodeError):
        write_atomic(Path(path), text, what="entry-point cache", make_parents=True)
