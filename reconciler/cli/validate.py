"""``reconciler validate``: load and check manifests offline (no network, no API key)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from reconciler.cli.common import ManifestPath, manifest_paths
from reconciler.github.actions import workflow_command
from reconciler.manifests import ManifestReport, check_manifests
from reconciler.problems import Problem
from reconciler.settings.config import find_config


@click.command()
@click.argument("paths", nargs=-1, type=ManifestPath())
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="text for people, json for programs, github for inline pull-request annotations.",
)
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
def validate(paths: tuple[Path, ...], output_format: str, strict: bool) -> int:
    """Check manifests: YAML, schema, duplicates and values. Exits 1 on any error.

    PATH is a manifest file or a directory (every *.yaml / *.yml below it). Without PATH, the
    `manifests:` of ./reconciler.yaml are checked.
    """
    targets = manifest_paths(paths, None if paths else find_config(Path.cwd()))
    report = check_manifests(targets, strict=strict)
    if output_format == "json":
        click.echo(render_json(report))
    elif output_format == "github":
        for line in render_github(report):
            click.echo(line)
    else:
        for line in render_text(report):
            click.echo(line)
    return 1 if report.errors else 0


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def summary(report: ManifestReport) -> str:
    """``2 errors, 1 warning in 3 files`` or ``OK: 12 customers in 3 files``."""
    files = _plural(len(report.files), "file")
    errors, warnings = len(report.errors), len(report.warnings)
    if errors:
        return f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')} in {files}"
    text = f"OK: {_plural(len(report.customers), 'customer')} in {files}"
    return f"{text}, {_plural(warnings, 'warning')}" if warnings else text


def render_text(report: ManifestReport) -> list[str]:
    """One ``path:line:col: severity: message`` line per problem, its hint, then a summary."""
    lines: list[str] = []
    for problem in report.problems:
        lines.extend(problem.lines())
    lines.append(summary(report))
    return lines


def _problem_json(problem: Problem) -> dict[str, object]:
    return {
        "path": problem.path,
        "line": problem.line,
        "column": problem.column,
        "severity": problem.severity,
        "message": problem.message,
        "hint": problem.hint,
    }


def render_json(report: ManifestReport) -> str:
    """``{"valid", "errors", "warnings", "customers", "files"}`` as one JSON document."""
    document = {
        "valid": not report.errors,
        "errors": [_problem_json(problem) for problem in report.errors],
        "warnings": [_problem_json(problem) for problem in report.warnings],
        "customers": len(report.customers),
        "files": len(report.files),
    }
    return json.dumps(document, indent=2)


def render_github(report: ManifestReport) -> list[str]:
    """``::error file=...,line=...,col=...::message`` workflow commands, then a summary."""
    lines = [
        workflow_command(
            problem.severity,
            problem.message + (f"\nhint: {problem.hint}" if problem.hint else ""),
            problem.path,
            problem.line,
            problem.column,
        )
        for problem in report.problems
    ]
    lines.append(summary(report))
    return lines
