"""Schema files are found in a source checkout and shipped inside the built wheel."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from reconciler.errors import ReconcilerError
from reconciler.manifests import resources
from reconciler.manifests.resources import CONFIG_SCHEMA, MANIFEST_SCHEMA, load_schema, schema_file

ROOT = Path(__file__).resolve().parent.parent


def test_schemas_are_found_in_the_source_tree() -> None:
    """Without a packaged copy, the source tree's top-level schemas/ is used."""
    for name in (MANIFEST_SCHEMA, CONFIG_SCHEMA):
        assert schema_file(name).read_text(encoding="utf-8") == (ROOT / "schemas" / name).read_text(
            encoding="utf-8"
        )
        assert load_schema(name)["title"]


def test_missing_schema_is_a_clean_error() -> None:
    """A schema file that cannot be read is a ReconcilerError, not a traceback."""
    with pytest.raises(ReconcilerError, match="reinstall reconciler"):
        resources.load_schema("no-such.schema.json")


@pytest.mark.timeout(60)
def test_wheel_ships_the_schemas(tmp_path: Path) -> None:
    """The built wheel carries schemas/ as reconciler/schemas/, byte for byte, the schema
    pieces they are assembled from, and the built-in providers' entry points."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "hatchling",
            "build",
            "--target",
            "wheel",
            "--directory",
            str(tmp_path),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("reconciler-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        for name in (MANIFEST_SCHEMA, CONFIG_SCHEMA):
            shipped = archive.read(f"reconciler/schemas/{name}")
            assert shipped == (ROOT / "schemas" / name).read_bytes()
            assert json.loads(shipped)["$id"]
        names = archive.namelist()
        for piece in ("manifests/manifest.core.json", "manifests/config.core.json"):
            assert f"reconciler/{piece}" in names
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        declared = archive.read(entry_points).decode()
        for provider in ("respan", "autumn", "litellm"):
            assert f"reconciler/providers/{provider}/schema.json" in names
            assert f"reconciler/providers/{provider}/sample_seed.json" in names
            target = f"{provider} = reconciler.providers.{provider}.plugin:PLUGIN"
            assert target in declared.split("[reconciler.providers]", 1)[1]
