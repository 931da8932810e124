"""Manifests (format v1) -> desired state: loading, schema validation and checks.

Public API::

    load_manifests(paths, *, strict=False) -> LoadResult
        paths: manifest files and/or directories (every *.yaml / *.yml below, sorted).
        LoadResult.customers  tuple[DesiredCustomer, ...]  in file order, defaults merged
        LoadResult.warnings   tuple[Problem, ...]          sorted by file, line, column
        LoadResult.files      tuple[Path, ...]             the files read, in order
        LoadResult.digest     str                          sha256 over the files' bytes
        Raises ManifestError(problems) when any error is found; its ``problems`` hold every
        error *and* warning of the run, sorted. ``strict=True`` turns warnings into errors.

    check_manifests(paths, *, strict=False) -> ManifestReport
        The same run without raising: ``problems`` (errors and warnings), ``customers`` of the
        valid documents, ``files``, ``digest``. What ``reconciler validate`` reports.

    manifest_files(paths) -> (files, problems)   the files ``paths`` name, without reading them
    display_path(path) -> str                    how problems name a file (cwd-relative)

Lower layers, also used for ``reconciler.yaml``:

    read_yaml_file(path, display) / parse_yaml(data, display) -> YamlFile   safe YAML + positions
    locate(node, json_path, key=False) -> Node                             node at a JSON path
    schema_problems(document, schema_name) -> list[Problem]                validation, worded

Every ``Problem`` names ``path:line:column`` (1-based) and says what to do. Values in
``DesiredCustomer.fields`` are JSON-like with every number a ``Decimal``; timestamps stay the
text as written; a customer's ``source`` is its list item, and a problem about one of its
fields names where that field's key is written (found again from the file only then, see
``manifests.positions``). Merging of ``defaults``: the customer's value wins,
``metadata`` merges key by key, ``lifecycle.ignore_changes`` is the union of both lists.
"""

from reconciler.manifests.loader import (
    MANIFEST_SUFFIXES,
    LoadResult,
    ManifestReport,
    check_manifests,
    display_path,
    load_manifests,
    manifest_files,
)
from reconciler.manifests.schema import schema_problems
from reconciler.manifests.yamlfile import (
    MAX_ALIAS_NODES,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    YamlDocument,
    YamlFile,
    locate,
    parse_yaml,
    read_yaml_file,
)

__all__ = [
    "MANIFEST_SUFFIXES",
    "MAX_ALIAS_NODES",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "LoadResult",
    "ManifestReport",
    "YamlDocument",
    "YamlFile",
    "check_manifests",
    "display_path",
    "load_manifests",
    "locate",
    "manifest_files",
    "parse_yaml",
    "read_yaml_file",
    "schema_problems",
]
