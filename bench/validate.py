"""How long ``reconciler validate`` takes on 10,000 customers, compared with libyaml alone.

Generates 10,000 Respan customers across 20 manifest files in a temporary directory, then times

- libyaml alone: ``yaml.load(..., Loader=yaml.CSafeLoader)`` of the same files (the baseline);
- in-process: ``check_manifests`` (read, parse with positions, validate, check, build);
- the CLI: ``reconciler validate DIR`` as a subprocess (includes interpreter start-up);

and prints each with its ratio to the baseline (best of ``--repeat`` runs). The in-process
target is a ratio of at most 1.5.

    python bench/validate.py [--customers 10000] [--files 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from benchlib import best_of, libyaml_alone

from reconciler.manifests import check_manifests


def write_manifests(directory: Path, customers: int, files: int) -> list[Path]:
    """Realistic manifests: defaults, flow and block metadata, lifecycle, money with cents."""
    paths: list[Path] = []
    per_file = customers // files
    number = 0
    for index in range(files):
        lines = [
            "# yaml-language-server: $schema=../schemas/manifest.schema.json",
            "provider: respan",
            f"environment: {'prod' if index % 2 == 0 else 'test'}",
            "defaults:",
            "  budget_duration: monthly",
            "  metadata: {owner: sales}",
            "customers:",
        ]
        for _ in range(per_file):
            number += 1
            lines += [
                f"  - customer_identifier: customer-{number:06d}",
                f"    name: Customer {number}",
                f"    email: billing{number}@example.com",
                f"    period_budget: {number % 997 + 1}.{number % 100:02d}",
                f"    total_budget: {number % 20_000 + 1000}",
                "    markup_percentage: 20",
                '    period_start: "2026-11-01T00:00:00Z"',
                "    metadata:",
                f"      tier: {'enterprise' if number % 3 else 'smb'}",
                f"      seats: {number % 50}",
                "    lifecycle:",
                f"      prevent_destroy: {'true' if number % 2 else 'false'}",
                "      ignore_changes: [metadata]",
            ]
        path = directory / f"customers-{index:02d}.yaml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        paths = write_manifests(directory, args.customers, args.files)

        def in_process() -> None:
            report = check_manifests([directory])
            if report.errors or len(report.customers) != args.files * (
                args.customers // args.files
            ):
                raise SystemExit(f"unexpected result: {report.errors[:3]}")

        def cli() -> None:
            command = [sys.executable, "-m", "reconciler", "validate", str(directory)]
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)

        baseline = best_of(args.repeat, lambda: libyaml_alone(paths))
        ours = best_of(args.repeat, in_process)
        whole = best_of(args.repeat, cli)

    print(f"{args.customers} customers in {args.files} files")
    print(f"libyaml alone (CSafeLoader load):  {baseline:6.3f} s   1.00x")
    print(f"validate, in-process:              {ours:6.3f} s   {ours / baseline:4.2f}x")
    print(f"validate, CLI subprocess:          {whole:6.3f} s   {whole / baseline:4.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
