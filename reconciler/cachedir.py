"""Where reconciler keeps what it can rebuild: compiled schema validators, the list of installed
providers' entry points.

``$RECONCILER_CACHE_DIR``, else ``$XDG_CACHE_HOME/reconciler``, else ``~/.cache/reconciler``.
Everything in it is derived, so deleting the directory is always safe; a directory that cannot
be written only costs the time of rebuilding on every run.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


def cache_dir() -> Path:
    """The cache directory the environment names (see the module docstring)."""
    from pathlib import Path  # not at import: the entry-point cache is read without pathlib

    return Path(cache_dir_name())


def cache_dir_name() -> str:
    """``cache_dir()`` as a string, for callers that start before ``pathlib`` is loaded."""
    explicit = os.environ.get("RECONCILER_CACHE_DIR")
    if explicit:
        return explicit
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = xdg if xdg and os.path.isabs(xdg) else os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "reconciler")
