"""The standard-library-only GitHub Actions helpers."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.github.actions import append_step_summary, event_pull_request_number


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"pull_request": {"number": 17}}, 17),
        ({"issue": {"number": 9, "pull_request": {"url": "x"}}}, 9),
        ({"issue": {"number": 9}}, None),
        ({"pull_request": {"number": True}}, None),
        ({"ref": "refs/heads/main"}, None),
        ([], None),
    ],
)
def test_event_pull_request_number(tmp_path: Path, payload: object, expected: int | None) -> None:
    """Only pull-request events (or comments on one) name a pull request number."""
    event = tmp_path / "event.json"
    event.write_text(json.dumps(payload), encoding="utf-8")
    assert event_pull_request_number(event) == expected


def test_validate_does_not_load_an_http_client() -> None:
    """``reconciler validate`` stays offline and light: httpx is never imported."""
    code = (
        "import sys\n"
        "from reconciler.cli import main\n"
        "main(['validate', 'examples/quickstart/customers'])\n"
        "print('httpx' in sys.modules)\n"
    )
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_step_summaries_of_two_commands_are_separated_by_a_blank_line(tmp_path: Path) -> None:
    """A second command's Markdown starts after a blank line, so it is not swallowed by HTML."""
    summary = tmp_path / "summary.md"
    environ = {"GITHUB_STEP_SUMMARY": str(summary)}
    assert append_step_summary("<details>plan</details>", environ)
    assert append_step_summary("## Apply", environ)
    assert summary.read_text(encoding="utf-8") == "<details>plan</details>\n\n## Apply\n"
