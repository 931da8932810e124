"""Entry points are found once per state of the installation and then read from the cache, which
never hides a distribution installed, removed or edited since."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from reconciler.providers import discovery

GROUP = "reconciler.providers"
AN_HOUR_AGO = time.time() - 3600


def settle(*paths: Path) -> None:
    """Date ``paths`` an hour back, as an installation that has not changed for a while."""
    for path in paths:
        os.utime(path, (AN_HOUR_AGO, AN_HOUR_AGO))


def install(site: Path, distribution: str, entry_points: str) -> Path:
    """A distribution as pip leaves it in ``site``: its ``.dist-info`` with ``entry_points``."""
    info = site / f"{distribution}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 1.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(entry_points, encoding="utf-8")
    return info


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A site directory that is the whole of ``sys.path``, and a cache of the test's own."""
    directory = tmp_path / "site"
    directory.mkdir()
    monkeypatch.setattr(sys, "path", [str(directory)])
    monkeypatch.setenv("RECONCILER_CACHE_DIR", str(tmp_path / "cache"))
    return directory


def test_entry_points_are_those_of_the_installed_distributions(site: Path) -> None:
    """Each distribution's entry points of the group are found, and no other group's."""
    install(site, "acme_provider", "[reconciler.providers]\nacme = acme_provider:PLUGIN\n")
    install(site, "other", "[console_scripts]\nother = other:main\n")
    assert discovery.entry_points(GROUP) == [("acme", "acme_provider:PLUGIN")]


def test_a_settled_installation_is_read_from_the_cache(site: Path) -> None:
    """Once written down, the entry points come from the cache file, not from the
    distributions' metadata (an edit of the file alone shows which was read)."""
    install(site, "acme_provider", "[reconciler.providers]\nacme = acme_provider:PLUGIN\n")
    settle(*site.rglob("*"), site)
    assert discovery.entry_points(GROUP) == [("acme", "acme_provider:PLUGIN")]
    cache = Path(discovery.cache_file(GROUP))
    cache.write_text(cache.read_text("utf-8").replace(":PLUGIN", ":CACHED"), encoding="utf-8")
    assert discovery.entry_points(GROUP) == [("acme", "acme_provider:CACHED")]


def test_a_distribution_installed_after_the_cache_was_written_is_found(site: Path) -> None:
    """Installing a provider changes its site directory, so a stale cache never hides it."""
    settle(site)
    assert discovery.entry_points(GROUP) == []
    assert Path(discovery.cache_file(GROUP)).is_file()
    install(site, "acme_provider", "[reconciler.providers]\nacme = acme_provider:PLUGIN\n")
    assert discovery.entry_points(GROUP) == [("acme", "acme_provider:PLUGIN")]


def test_a_removed_distribution_is_no_longer_listed(site: Path) -> None:
    """Removing a provider changes its site directory, so a stale cache never keeps it."""
    info = install(site, "acme_provider", "[reconciler.providers]\nacme = acme_provider:PLUGIN\n")
    settle(*site.rglob("*"), site)
    assert discovery.entry_points(GROUP) == [("acme", "acme_provider:PLUGIN")]
    shutil.rmtree(info)
    assert discovery.entry_points(GROUP) == []


def test_an_entry_points_file_rewritten_in_place_is_read_again(site: Path) -> None:
    """An ``entry_points.txt`` edited where it is (the site directory unchanged) is noticed by
    its own modification time and size."""
    info = install(site, "acme_provider", "[reconciler.providers]\nacme = acme_provider:PLUGIN\n")
    settle(*site.rglob("*"), site)
    assert discovery.entry_points(GROUP) == [("acme", "acme_provider:PLUGIN")]
    (info / "entry_points.txt").write_text(
        "[reconciler.providers]\nacme = acme_provider.v2:PLUGIN\n", encoding="utf-8"
    )
    settle(site)
    assert discovery.entry_points(GROUP) == [("acme", "acme_provider.v2:PLUGIN")]


def test_an_installation_changed_moments_ago_is_not_written_down(site: Path) -> None:
    """A directory modified within the file system's timestamp granularity could change again
    unnoticed: the entry points are found, but not cached."""
    install(site, "acme_provider", "[reconciler.providers]\nacme = acme_provider:PLUGIN\n")
    assert discovery.entry_points(GROUP) == [("acme", "acme_provider:PLUGIN")]
    assert not Path(discovery.cache_file(GROUP)).exists()


def test_a_damaged_cache_file_is_found_again_and_rewritten(site: Path) -> None:
    """A cache file that is not what this module writes is ignored and replaced."""
    install(site, "acme_provider", "[reconciler.providers]\nacme = acme_provider:PLUGIN\n")
    settle(*site.rglob("*"), site)
    cache = Path(discovery.cache_file(GROUP))
    cache.parent.mkdir(parents=True)
    for damaged in (b"\xff\xfe garbage", b"", b"reconciler entry-point cache 1\n"):
        cache.write_bytes(damaged)
        assert discovery.entry_points(GROUP) == [("acme", "acme_provider:PLUGIN")]
    assert discovery.entry_points(GROUP) == [("acme", "acme_provider:PLUGIN")]
    assert cache.read_text("utf-8").endswith("\n\nacme=acme_provider:PLUGIN\n")


def test_a_cache_that_cannot_be_written_costs_only_the_discovery(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the cache directory blocked by a file, the entry points are still found."""
    install(site, "acme_provider", "[reconciler.providers]\nacme = acme_provider:PLUGIN\n")
    settle(*site.rglob("*"), site)
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("RECONCILER_CACHE_DIR", str(blocker / "cache"))
    assert discovery.entry_points(GROUP) == [("acme", "acme_provider:PLUGIN")]
    assert discovery.entry_points(GROUP) == [("acme", "acme_provider:PLUGIN")]


def test_another_sys_path_has_a_cache_file_of_its_own(site: Path, tmp_path: Path) -> None:
    """Two interpreters or search paths sharing a cache directory do not overwrite each
    other's entry (each would otherwise miss on every other run)."""
    first = discovery.cache_file(GROUP)
    sys.path.append(str(tmp_path / "elsewhere"))
    assert discovery.cache_file(GROUP) != first


class BundledDistributions:
    """A finder serving distributions from elsewhere than ``sys.path``, as bundlers do."""

    def find_spec(self, *args: object) -> None:
        return None

    def find_distributions(self, *args: object) -> list[object]:
        return []


def test_nothing_is_cached_while_another_finder_lists_distributions(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a finder other than the standard one serves is not in the state, so with one
    installed the entry points are found every time and never written down."""
    install(site, "acme_provider", "[reconciler.providers]\nacme = acme_provider:PLUGIN\n")
    settle(*site.rglob("*"), site)
    monkeypatch.setattr(sys, "meta_path", [BundledDistributions(), *sys.meta_path])
    assert discovery.entry_points(GROUP) == [("acme", "acme_provider:PLUGIN")]
    assert not Path(discovery.cache_file(GROUP)).exists()


def test_the_current_directory_is_recorded_as_the_directory_it_is(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty ``sys.path`` entry (``python -c``) means the current directory: another one
    is another state, even with the same modification time."""
    one, other = tmp_path / "one", tmp_path / "other"
    for directory in (one, other):
        directory.mkdir()
    settle(one, other)
    sys.path.insert(0, "")
    monkeypatch.chdir(one)
    state_in_one, _ = discovery.installation_state()
    monkeypatch.chdir(other)
    assert discovery.installation_state()[0] != state_in_one


@pytest.fixture
def backport() -> None:
    """The importlib_metadata backport loaded, as litellm and others load it."""
    pytest.importorskip("importlib_metadata")


def test_the_importlib_metadata_backport_reads_sys_path_too(backport: None, site: Path) -> None:
    """Once a package has loaded the importlib_metadata backport (whose finder then lists the
    distributions in place of the standard one), the cache is still used: that finder reads
    ``sys.path`` like the standard one."""
    install(site, "acme_provider", "[reconciler.providers]\nacme = acme_provider:PLUGIN\n")
    settle(*site.rglob("*"), site)
    assert discovery.entry_points(GROUP) == [("acme", "acme_provider:PLUGIN")]
    assert Path(discovery.cache_file(GROUP)).is_file()
