"""The cache directory is where the environment says."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.cachedir import cache_dir


def test_the_cache_directory_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """RECONCILER_CACHE_DIR, else XDG_CACHE_HOME/reconciler, else ~/.cache/reconciler."""
    monkeypatch.setenv("RECONCILER_CACHE_DIR", "/somewhere")
    assert cache_dir() == Path("/somewhere")
    monkeypatch.delenv("RECONCILER_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", "/xdg")
    assert cache_dir() == Path("/xdg/reconciler")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative")
    assert cache_dir() == Path.home() / ".cache" / "reconciler"
