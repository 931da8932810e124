"""Load manifest files and directories into desired state, reporting every problem at once."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from yaml.nodes import MappingNode, Node, SequenceNode

from reconciler.domain import DesiredCustomer
from reconciler.errors import ManifestError
from reconciler.manifests.checks import customer_problems, duplicate_problems
from reconciler.manifests.desired import build_customers
from reconciler.manifests.gcpause import cyclic_gc_paused
from reconciler.manifests.positions import FieldPositions, file_digest
from reconciler.manifests.resources import MANIFEST_SCHEMA
from reconciler.manifests.schema import schema_problems
from reconciler.manifests.yamlfile import (
    MAX_FILE_BYTES,
    NodeTree,
    YamlDocument,
    YamlFile,
    locate,
    parse_yaml,
    read_yaml_file,
)
from reconciler.problems import Problem

MANIFEST_SUFFIXES = (".yaml", ".yml")
# A project's settings file sits beside its manifests; a directory scan never reads it as one.
# (reconciler.settings.config names the same file; it imports this module, so the name lives here.)
CONFIG_FILE_NAMES = frozenset({"reconciler.yaml", "reconciler.yml"})


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What the manifests declare.

    ``customers`` in file order; ``warnings`` sorted by file and line; ``files`` as read;
    ``digest`` is the sha256 (hex) over every file's length and bytes in that order, which a
    saved plan records to notice manifests that changed since.
    """

    customers: tuple[DesiredCustomer, ...]
    warnings: tuple[Problem, ...]
    files: tuple[Path, ...]
    digest: str


def display_path(path: Path) -> str:
    """How problems name ``path``: relative to the working directory when it is below it."""
    if path.is_absolute():
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)
    return str(path)


def manifest_files(paths: Sequence[Path | str]) -> tuple[list[Path], list[Problem]]:
    """The files ``paths`` name: files as given, directories searched for ``*.yaml``/``*.yml``
    (sorted, skipping hidden directories and ``reconciler.yaml``). Each file appears once."""
    files: list[Path] = []
    problems: list[Problem] = []
    seen: set[Path] = set()

    def add(path: Path) -> None:
        key = path.resolve()
        if key in seen:
            return
        seen.add(key)
        if not _utf8_name(path):
            problems.append(
                Problem(
                    display_path(path),
                    1,
                    1,
                    "the file name is not valid UTF-8",
                    "rename the file: plans, saved plans and audit records name it as UTF-8 text",
                )
            )
            return
        files.append(path)

    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(_manifests_below(path, problems))
            if not found:
                problems.append(
                    Problem(
                        display_path(path),
                        1,
                        1,
                        "no manifest files (*.yaml, *.yml) in this directory",
                        "check the path, or add manifest files",
                    )
                )
            for file in found:
                add(file)
        elif path.exists():  # a file, or something else its reading will name
            add(path)
        else:
            problems.append(
                Problem(
                    display_path(path),
                    1,
                    1,
                    "no such file or directory",
                    "check the path (relative paths start at the current directory)",
                )
            )
    return files, problems


def _utf8_name(path: Path) -> bool:
    """Whether ``path`` is UTF-8 text (bytes that are not arrive as lone surrogates)."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _manifests_below(directory: Path, problems: list[Problem]) -> Iterable[Path]:
    def unreadable(error: OSError) -> None:
        # os.walk skips a directory it cannot list without a word; its customers would be
        # undeclared (and --prune deletes those), so it is an error.
        where = Path(error.filename) if error.filename else directory
        problems.append(
            Problem(
                display_path(where),
                1,
                1,
                f"cannot read directory: {error.strerror or error}",
                "check its permissions (reconciler must read every manifest below a PATH)",
            )
        )

    for root, dirnames, filenames in os.walk(directory, onerror=unreadable):
        # Hidden directories (.git, .github) never hold manifests; don't descend into them.
        dirnames[:] = [name for name in dirnames if not name.startswith(".")]
        for name in dirnames:
            if os.path.islink(os.path.join(root, name)):
                # Not followed (it may loop, or lead outside the PATH), and not skipped in
                # silence either: its customers would be undeclared, and --prune deletes those.
                problems.append(
                    Problem(
                        display_path(Path(root, name)),
                        1,
                        1,
                        "a symbolic link to a directory is not followed",
                        "name the directory it points to as a PATH (or in manifests: of "
                        "reconciler.yaml), or put the directory itself here",
                    )
                )
        for name in filenames:
            if (
                name.endswith(MANIFEST_SUFFIXES)
                and not name.startswith(".")
                and name not in CONFIG_FILE_NAMES
            ):
                yield Path(root, name)


@dataclass(frozen=True, slots=True)
class ManifestReport:
    """Everything one run found, valid or not (what ``reconciler validate`` prints).

    ``problems`` holds errors and warnings sorted by file, line and column; ``customers`` the
    customers of the documents that were valid.
    """

    customers: tuple[DesiredCustomer, ...]
    problems: tuple[Problem, ...]
    files: tuple[Path, ...]
    digest: str

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(problem for problem in self.problems if problem.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(problem for problem in self.problems if problem.severity == "warning")


def check_manifests(paths: Sequence[Path | str], *, strict: bool = False) -> ManifestReport:
    """Load and check every manifest below ``paths``, collecting problems instead of raising.

    With ``strict=True`` warnings are reported as errors.
    """
    with cyclic_gc_paused():
        return _check(paths, strict)


def _check(paths: Sequence[Path | str], strict: bool) -> ManifestReport:
    files, problems = manifest_files(paths)
    if not paths:
        problems.append(
            Problem(".", 1, 1, "no manifest paths given", "name manifest files or directories")
        )
    parsed = (read_yaml_file(file, display_path(file)) for file in files)
    by_display = {display_path(file): file for file in files}
    return _report(
        parsed, files, problems, strict, lambda display: by_display[display].read_bytes()
    )


def check_manifest_data(
    sources: Sequence[tuple[str, bytes]], *, strict: bool = False
) -> ManifestReport:
    """Check manifests given as ``(display name, bytes)`` pairs (files read elsewhere, e.g. from
    a git revision) exactly as ``check_manifests`` checks files: the same parser, schema and
    checks, with problems and sources naming each display name."""
    with cyclic_gc_paused():
        parsed = (_parse_data(display, data) for display, data in sources)
        files = [Path(display) for display, _ in sources]
        given = dict(sources)
        return _report(parsed, files, [], strict, given.__getitem__)


def load_manifest_data(sources: Sequence[tuple[str, bytes]], *, strict: bool = False) -> LoadResult:
    """``load_manifests`` for ``(display name, bytes)`` pairs; raises ``ManifestError``."""
    return _loaded(check_manifest_data(sources, strict=strict))


def _parse_data(display: str, data: bytes) -> YamlFile:
    if len(data) > MAX_FILE_BYTES:
        # The same bound as for files on disk (read_yaml_file), with its wording.
        return YamlFile(display, b"", (), (_too_large(display),))
    return parse_yaml(data, display)


def _too_large(display: str) -> Problem:
    return Problem(
        display,
        1,
        1,
        f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB",
        "split the customers into several manifest files in one directory",
    )


def _report(
    parsed_files: Iterable[YamlFile],
    files: Sequence[Path],
    problems: list[Problem],
    strict: bool,
    reread: Callable[[str], bytes],
) -> ManifestReport:
    digest = hashlib.sha256()
    customers: list[DesiredCustomer] = []
    # Display name -> digest of what was read: field positions are found again (through
    # ``reread``) only for a file with a problem, and only from the same bytes.
    digests: dict[str, str] = {}
    for parsed in parsed_files:
        digest.update(len(parsed.data).to_bytes(8, "big"))
        digest.update(parsed.data)
        digests[parsed.path] = file_digest(parsed.data)
        problems.extend(parsed.problems)
        # No document, or only empty ones (a lone '---'): nothing is declared either way.
        if not parsed.problems and all(d.value is None for d in parsed.documents):
            problems.append(
                Problem(
                    parsed.path,
                    1,
                    1,
                    "the file declares no customers",
                    "add a 'customers:' list, or remove the file",
                    "warning",
                )
            )
        for document in parsed.documents:
            if document.value is None:
                continue  # an empty document (e.g. a trailing '---') declares nothing
            found = schema_problems(document, MANIFEST_SCHEMA)
            if found or document.broken:
                # A value YAML could not give (already reported) may hide more schema errors;
                # desired state is only ever built from a fully valid document.
                problems.extend(found)
                if not document.broken:
                    problems.extend(_problems_of_valid_customers(document, found))
                continue
            declared, node_problems = build_customers(document)
            problems.extend(node_problems)
            customers.extend(declared)
    positions = FieldPositions(digests, reread)
    for customer in customers:
        problems.extend(customer_problems(customer, positions.source))
    problems.extend(duplicate_problems(customers))
    if strict:
        problems = [replace(problem, severity="error") for problem in problems]
    return ManifestReport(
        customers=tuple(customers),
        problems=tuple(sorted(set(problems))),
        files=tuple(files),
        digest=digest.hexdigest(),
    )


def _problems_of_valid_customers(
    document: YamlDocument, errors: Sequence[Problem]
) -> list[Problem]:
    """The problems (warnings above all) of the customers of a schema-invalid document whose
    own entries hold no schema error: an error elsewhere in the file must not hide them.

    Found by checking the document with only those entries, which must then be valid (an error
    in ``provider:`` or ``defaults:`` leaves nothing to check). Nothing is built from it.
    """
    value, items = document.value, locate(document.node, ["customers"])
    if not (
        isinstance(value, dict)
        and isinstance(value.get("customers"), list)
        and isinstance(items, SequenceNode)
        and len(items.value) == len(value["customers"])
        and items.value
    ):
        return []
    starts = [node.start_mark.line + 1 for node in items.value]
    ends = [*starts[1:], float("inf")]
    error_lines = [problem.line for problem in errors]
    kept = [
        index
        for index, (start, end) in enumerate(zip(starts, ends, strict=True))
        if not any(start <= line < end for line in error_lines)
    ]
    if not kept or len(kept) == len(starts):
        return []
    reduced = YamlDocument(
        document.path,
        NodeTree(_with_items(document.node, items, [items.value[index] for index in kept])),
        {**value, "customers": [value["customers"][index] for index in kept]},
        document.broken,
    )
    if schema_problems(reduced, MANIFEST_SCHEMA):
        return []
    declared, found = build_customers(reduced)
    return [*found, *(problem for customer in declared for problem in customer_problems(customer))]


def _with_items(root: Node, items: SequenceNode, kept: list[Node]) -> Node:
    """``root`` (a mapping) with its ``customers:`` sequence holding only ``kept``."""
    assert isinstance(root, MappingNode)
    shorter = SequenceNode(items.tag, kept, items.start_mark, items.end_mark, items.flow_style)
    pairs = [(key, shorter if node is items else node) for key, node in root.value]
    return MappingNode(root.tag, pairs, root.start_mark, root.end_mark, root.flow_style)


def load_manifests(paths: Sequence[Path | str], *, strict: bool = False) -> LoadResult:
    """Load every manifest below ``paths`` into desired customers.

    Raises ``ManifestError`` carrying every problem (errors and warnings, sorted) when any error
    is found; with ``strict=True`` warnings count as errors.
    """
    return _loaded(check_manifests(paths, strict=strict))


def _loaded(report: ManifestReport) -> LoadResult:
    if report.errors:
        raise ManifestError(report.problems)
    return LoadResult(
        customers=report.customers,
        warnings=report.problems,
        files=report.files,
        digest=report.digest,
    )
