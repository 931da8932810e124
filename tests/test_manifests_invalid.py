"""The invalid-manifest corpus: each case in tests/invalid/ has exactly one expected problem.

The first line of each case (of the first file, for a directory case) reads
``# expect: [FILE:]LINE:COL: MESSAGE``; the loader must report exactly that one error, with
that position and message, both in-process and through ``reconciler validate``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.errors import ManifestError
from reconciler.manifests import check_manifests, load_manifests

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path("tests", "invalid")
EXPECT = re.compile(r"# expect: (?:(?P<file>[^:]+\.yaml):)?(?P<line>\d+):(?P<col>\d+): (?P<msg>.+)")
CASES = sorted(path.name for path in (ROOT / CORPUS).iterdir())


@pytest.fixture(autouse=True)
def _in_repository_root(monkeypatch: pytest.MonkeyPatch) -> None:
    # Problems name files relative to the working directory; pin it so paths are exact.
    monkeypatch.chdir(ROOT)


def expectation(case: Path) -> tuple[str, int, int, str]:
    first = case if case.is_file() else sorted(case.iterdir())[0]
    header = first.read_bytes().split(b"\n", 1)[0].decode("utf-8")
    match = EXPECT.fullmatch(header)
    assert match, f"{first}: first line must be '# expect: LINE:COL: MESSAGE'"
    path = case / match["file"] if match["file"] else case
    return str(path), int(match["line"]), int(match["col"]), match["msg"]


def test_corpus_is_large_enough() -> None:
    """The corpus keeps at least 30 distinct invalid manifests."""
    assert len(CASES) >= 30


@pytest.mark.parametrize("name", CASES)
def test_invalid_manifest_reports_exactly_the_expected_problem(name: str) -> None:
    """Each invalid manifest yields one error at the exact path:line:col with the message."""
    case = CORPUS / name
    path, line, column, message = expectation(case)
    report = check_manifests([case])
    found = [(p.path, p.line, p.column, p.message, p.severity) for p in report.problems]
    assert found == [(path, line, column, message, "error")]
    assert report.problems[0].hint, "every problem says what to do"


@pytest.mark.parametrize("name", CASES)
def test_invalid_manifest_raises_manifest_error(name: str) -> None:
    """load_manifests raises ManifestError carrying the problem instead of returning."""
    with pytest.raises(ManifestError) as caught:
        load_manifests([CORPUS / name])
    assert len(caught.value.problems) == 1


@pytest.mark.parametrize("name", CASES)
def test_invalid_manifest_fails_validate_with_its_location(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """reconciler validate exits 1 and prints path:line:col: error: message, no traceback."""
    path, line, column, message = expectation(CORPUS / name)
    assert main(["validate", str(CORPUS / name)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == f"{path}:{line}:{column}: error: {message}"
    assert "Traceback" not in out + err
