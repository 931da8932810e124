"""manifests.gitbase: the manifests as they were at a revision, read from real git repositories."""

from __future__ import annotations

from pathlib import Path

import pytest
from git_helpers import commit, git, make_repo

from reconciler.manifests.gitbase import (
    BaseManifestError,
    BaseRevisionError,
    load_base_manifests,
)

ACME = """\
provider: respan
environment: prod
customers:
  - customer_identifier: acme
    period_budget: 200
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository as the working directory."""
    made = make_repo(tmp_path / "repo")
    monkeypatch.chdir(made)
    return made


def test_reads_the_revision_not_the_working_tree(repo: Path) -> None:
    """Customers come from the commit; edits since, committed or not, are not read."""
    first = commit(repo, {"customers/acme.yaml": ACME})
    commit(repo, {"customers/acme.yaml": ACME.replace("200", "250")})
    (repo / "customers" / "acme.yaml").write_text(ACME.replace("200", "300"), "utf-8")
    base = load_base_manifests("HEAD~1", [Path("customers")], repo)
    assert base.commit == first
    assert base.ref == "HEAD~1"
    (customer,) = base.customers
    assert customer.fields["period_budget"] == 200
    assert str(customer.source) == "HEAD~1:customers/acme.yaml:4"
    # Nothing was checked out: the working tree and the index are as they were.
    assert git(repo, "status", "--porcelain") == " M customers/acme.yaml\n"


def test_a_directory_is_scanned_as_on_disk(repo: Path) -> None:
    """*.yaml / *.yml below it, outside hidden directories, never reconciler.yaml."""
    other = ACME.replace("acme", "{}")
    commit(
        repo,
        {
            "customers/a.yaml": other.format("a"),
            "customers/deep/b.yml": other.format("b"),
            "customers/.hidden/c.yaml": other.format("c"),
            "customers/.d.yaml": other.format("d"),
            "customers/reconciler.yaml": "manifests: []\n",
            "customers/notes.txt": "not a manifest",
            "customersx/e.yaml": other.format("e"),
        },
    )
    base = load_base_manifests("HEAD", [Path("customers")], repo)
    assert sorted(c.id for c in base.customers) == ["a", "b"]
    assert base.files == ("HEAD:customers/a.yaml", "HEAD:customers/deep/b.yml")


def link(repo: Path, name: str, target: str) -> None:
    """A symbolic link at ``name`` pointing at ``target`` (committed by the next commit)."""
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.symlink_to(target)
    except OSError:  # pragma: no cover - Windows without the right to make links
        pytest.skip("symbolic links are not available")


def test_a_linked_manifest_is_read_through_its_link_as_on_disk(repo: Path) -> None:
    """A manifest that is a link (to a file elsewhere in the repository, maybe through a linked
    directory) declares at the base what its target declared there, under the link's name,
    and a target also scanned is read once, as the working tree reads it."""
    other = ACME.replace("acme", "{}")
    link(repo, "customers/shared.yaml", "../shared/growth.yaml")
    link(repo, "customers/again.yaml", "../customers/b.yaml")
    link(repo, "via", "shared")
    link(repo, "customers/deep.yaml", "../via/deep/c.yaml")
    commit(
        repo,
        {
            "shared/growth.yaml": other.format("a"),
            "customers/b.yaml": other.format("b"),
            "shared/deep/c.yaml": other.format("c"),
        },
    )
    base = load_base_manifests("HEAD", [Path("customers")], repo)
    assert sorted(c.id for c in base.customers) == ["a", "b", "c"]
    assert "HEAD:customers/shared.yaml" in base.files
    link(repo, "listed.yaml", "shared/growth.yaml")
    link(repo, "shared-dir", "shared")
    commit(repo, {})
    named = load_base_manifests("HEAD", [Path("listed.yaml"), Path("shared-dir")], repo)
    assert sorted(c.id for c in named.customers) == ["a", "c"]


def test_a_link_out_of_the_repository_is_refused(repo: Path, tmp_path: Path) -> None:
    """What a link to a file outside the repository held at the base is unknown: an error, not
    a manifest that declared nothing (its customers' drift would pass for this change's)."""
    (tmp_path / "outside.yaml").write_text(ACME, encoding="utf-8")
    link(repo, "customers/out.yaml", str(tmp_path / "outside.yaml"))
    commit(repo, {})
    with pytest.raises(BaseRevisionError, match=r"customers/out\.yaml.*outside the repository"):
        load_base_manifests("HEAD", [Path("customers")], repo)


def test_a_file_path_is_read_as_given(repo: Path) -> None:
    """A PATH naming a file reads just that file, whatever its name."""
    commit(repo, {"acme.manifest": ACME, "other.yaml": ACME.replace("acme", "other")})
    base = load_base_manifests("HEAD", [Path("acme.manifest")], repo)
    assert [c.id for c in base.customers] == ["acme"]


def test_a_path_new_since_the_base_declared_nothing_there(repo: Path) -> None:
    """A manifest or directory this change adds is simply empty at the base."""
    commit(repo, {"README.md": "budgets\n"})
    (repo / "customers").mkdir()
    (repo / "customers" / "acme.yaml").write_text(ACME, "utf-8")
    base = load_base_manifests("HEAD", [Path("customers"), Path("new.yaml")], repo)
    assert base.customers == ()


def test_paths_are_relative_to_the_working_directory(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run from a subdirectory, PATHs name files there; sources name them as on disk."""
    commit(repo, {"budgets/customers/acme.yaml": ACME, "customers/other.yaml": ACME})
    monkeypatch.chdir(repo / "budgets")
    base = load_base_manifests("HEAD", [Path("customers")], repo / "budgets")
    (customer,) = base.customers
    assert customer.source.file == "HEAD:customers/acme.yaml"


def test_an_unknown_revision_is_a_clear_error(repo: Path) -> None:
    """A REF that names no commit: the REF, and how to fetch one in a shallow clone."""
    commit(repo, {"customers/acme.yaml": ACME})
    with pytest.raises(BaseRevisionError) as raised:
        load_base_manifests("origin/nope", [Path("customers")], repo)
    assert "--base origin/nope: no such commit" in str(raised.value)
    assert "git fetch --depth=1 origin" in str(raised.value)


def test_a_revision_that_looks_like_an_option_is_refused(repo: Path) -> None:
    """A REF starting with '-' is never handed to git, where it would be an option."""
    commit(repo, {"customers/acme.yaml": ACME})
    with pytest.raises(BaseRevisionError, match="is not a git revision"):
        load_base_manifests("--output=/tmp/x", [Path("customers")], repo)


def test_outside_a_repository_is_a_clear_error(tmp_path: Path) -> None:
    """No repository around the working directory: said so, no traceback."""
    (tmp_path / "plain").mkdir()
    with pytest.raises(BaseRevisionError, match="needs a git repository"):
        load_base_manifests("HEAD", [Path("customers")], tmp_path / "plain")


def test_a_path_outside_the_repository_is_refused(repo: Path, tmp_path: Path) -> None:
    """A PATH the repository does not hold cannot have a base."""
    commit(repo, {"customers/acme.yaml": ACME})
    with pytest.raises(BaseRevisionError, match="outside the git repository"):
        load_base_manifests("HEAD", [tmp_path / "elsewhere"], repo)


def test_a_base_that_does_not_parse_names_ref_path_line_and_column(repo: Path) -> None:
    """Bad YAML at the base: every problem as REF:path:line:column, and the REF's commit."""
    first = commit(repo, {"customers/acme.yaml": ACME + "  - customer_identifier: [\n"})
    commit(repo, {"customers/acme.yaml": ACME})
    with pytest.raises(BaseManifestError) as raised:
        load_base_manifests("HEAD~1", [Path("customers")], repo)
    (problem,) = raised.value.problems
    assert str(problem).startswith("HEAD~1:customers/acme.yaml:7:1: error: YAML syntax error")
    assert str(raised.value) == (
        f"1 problem(s) in the manifests at --base HEAD~1 (commit {first[:12]}): fix the base, "
        "or plan against another revision"
    )


def test_a_base_is_checked_like_the_working_tree(repo: Path) -> None:
    """Schema errors at the base are found and placed as on disk."""
    commit(repo, {"customers/acme.yaml": ACME.replace("period_budget", "period_budgets")})
    with pytest.raises(BaseManifestError) as raised:
        load_base_manifests("HEAD", [Path("customers")], repo)
    (problem,) = raised.value.problems
    assert (problem.path, problem.line, problem.column) == ("HEAD:customers/acme.yaml", 5, 5)
    assert "period_budgets" in problem.message
