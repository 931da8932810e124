"""Files shipped with reconciler: the JSON Schemas, wherever the package is installed.

An installed wheel carries them as ``reconciler/schemas/`` (pyproject force-includes the source
tree's top-level ``schemas/`` there); a source checkout or editable install reads that top-level
directory directly. Callers ask by file name and never care which of the two they got.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.errors import ReconcilerError

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

MANIFEST_SCHEMA = "manifest.schema.json"
CONFIG_SCHEMA = "config.schema.json"

_PACKAGE = Path(__file__).resolve().parent.parent  # the reconciler package
# reconciler/manifests/resources.py -> reconciler/ -> source tree root
_SOURCE_TREE_SCHEMAS = _PACKAGE.parent / "schemas"


def schemas_dir() -> Traversable:
    """The directory holding the JSON Schemas: inside the package when installed, else the
    source tree's ``schemas/``."""
    # The package is installed as files (a wheel or a source tree): a plain path is enough,
    # and importlib.resources (which loads tempfile, shutil and the compressors) is needed
    # only for a package loaded some other way.
    if (_PACKAGE / "__init__.py").is_file():
        packaged: Traversable = _PACKAGE / "schemas"
    else:  # pragma: no cover - zip imports are not how reconciler is installed
        from importlib import resources

        packaged = resources.files("reconciler") / "schemas"
    if packaged.is_dir():
        return packaged
    return _SOURCE_TREE_SCHEMAS


def schema_file(name: str) -> Traversable:
    """The schema file called ``name`` (e.g. ``manifest.schema.json``)."""
    return schemas_dir() / name


@functools.cache
def load_schema(name: str) -> dict[str, Any]:
    """The parsed JSON Schema ``name``, read once per process.

    The manifest and configuration schemas are assembled for the installed providers (the
    shipped files are those assemblies for the built-in providers, for editors), so a provider
    installed on its own validates like the built-in ones.
    """
    if name in (MANIFEST_SCHEMA, CONFIG_SCHEMA):
        from reconciler.manifests.assembly import config_schema, manifest_schema

        return manifest_schema() if name == MANIFEST_SCHEMA else config_schema()
    try:
        schema = json.loads(schema_file(name).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        # Only a broken installation gets here; say what is missing rather than a traceback.
        raise ReconcilerError(
            f"reconciler's schema file {name} cannot be read ({exc}); reinstall reconciler"
        ) from exc
    if not isinstance(schema, dict):
        raise ReconcilerError(f"reconciler's schema file {name} is not a JSON object")
    return schema
