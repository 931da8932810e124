"""``reconciler export``: write manifests from live state, or adopt live values into them.

Export: read the live customers of one provider (the API's own filters narrow the read), build
one manifest document per environment, write them (stdout, a file, or a directory with one file
per environment or per customer). Nothing is written until everything was read, and every
file is written atomically.

``--update``: load the manifests, read the live state of the customers they declare, rewrite
the declared fields whose live values differ (keeping comments and formatting), show the
change as a unified diff on stdout, and write it unless ``--dry-run``. ``--add-new FILE``
also adds live customers that no manifest declares.

Exit codes: 0 success, 1 any error (bad filter, unreachable API, unwritable output).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import click

from reconciler.cli.common import ManifestPath, connection_options, manifest_paths, verbose_logging
from reconciler.cli.status import progress_bar, showing_waits
from reconciler.cli.target import connection_notes, echo_lines, variable_hints
from reconciler.clients.retry import RetryPolicy
from reconciler.domain import CustomerKey, DesiredCustomer, LiveCustomer, ProviderModel
from reconciler.errors import OutputError
from reconciler.export import (
    DocumentBuilder,
    ExportNote,
    FileEdit,
    FilterTerm,
    ManifestDocument,
    Origin,
    RoundTripFile,
    add_customers,
    adopt_live,
    check_filters,
    export_reader,
    field_selection,
    parse_filters,
    places,
    plan_outputs,
    render_documents,
    unified_diff,
    write_atomic,
)
from reconciler.export.files import is_directory_target
from reconciler.export.render import DEFAULT_SCHEMA
from reconciler.export.textform import read_text
from reconciler.manifests import display_path, load_manifests, parse_yaml, schema_problems
from reconciler.manifests.resources import MANIFEST_SCHEMA
from reconciler.printable import printable
from reconciler.providers.base import Declared
from reconciler.providers.registry import MODELS, default_provider
from reconciler.settings.config import Config, find_config
from reconciler.settings.connection import ProviderHandle, open_provider

MAX_NOTES = 20  # notes beyond this are counted, not listed
# Retry policy for every request (``None``: the transport's defaults); tests shorten it.
RETRY: RetryPolicy | None = None


@click.command()
@click.argument("paths", nargs=-1, type=ManifestPath())
@click.option(
    "--provider",
    "provider_name",
    type=click.Choice(sorted(MODELS)),
    help="Which provider to export (default: the provider a manifest without provider: means).",
)
@click.option(
    "--environment",
    "environments",
    multiple=True,
    metavar="ENV",
    help="Environment to export (repeatable; default: the provider's default one).",
)
@click.option(
    "--filter",
    "filter_texts",
    multiple=True,
    metavar="FIELD:OPERATOR:VALUE",
    help="Server-side filter, e.g. email:endswith:@acme.example (repeatable; all must hold).",
)
@click.option(
    "-o",
    "--output",
    metavar="PATH",
    help="A file, or a directory (existing, or ending in /); '-' or absent: stdout.",
)
@click.option(
    "--split",
    type=click.Choice(["none", "customer"]),
    default="none",
    show_default=True,
    help="In a directory: one file per environment (none) or per customer.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Let -o replace existing files (by default an existing file is an error, nothing "
    "written: it may hold comments and edits not yet applied).",
)
@click.option("--include-nulls", is_flag=True, help="Also write fields whose live value is null.")
@click.option(
    "--fields",
    "field_list",
    metavar="FIELD,...",
    help="Export only these fields (fields the list endpoint returns need no per-customer read).",
)
@click.option(
    "--schema",
    metavar="PATH|URL",
    help=f"Schema for the editor modeline (default: {DEFAULT_SCHEMA} of the working directory).",
)
@click.option("--update", is_flag=True, help="Adopt live values into the manifests at PATH.")
@click.option(
    "--add-new",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="With --update: add live customers no manifest declares to FILE.",
)
@click.option("--dry-run", is_flag=True, help="With --update: show the diff, write nothing.")
@connection_options()
def export(
    paths: tuple[Path, ...],
    provider_name: str | None,
    environments: tuple[str, ...],
    filter_texts: tuple[str, ...],
    output: str | None,
    split: str,
    force: bool,
    include_nulls: bool,
    field_list: str | None,
    schema: str | None,
    update: bool,
    add_new: Path | None,
    dry_run: bool,
    base_url: str | None,
    rate_limit: str | None,
    verbose: bool,
) -> int:
    """Write manifests from live state (`plan` of what it wrote shows no changes).

    With --update, rewrite the manifests at PATH (files or directories; default: the
    `manifests:` of ./reconciler.yaml) with the live values of the customers they declare,
    keeping comments and formatting, and print the change as a unified diff.
    """
    if output == "":
        # Path("") is the working directory: `-o "$DIR"` with DIR unset would write there.
        raise click.UsageError(
            "an empty -o names nothing (an unset variable?): give a file, a directory, or - "
            "for standard output"
        )
    if not update:
        for flag, given in (("PATH", paths), ("--add-new", add_new), ("--dry-run", dry_run)):
            if given:
                raise click.UsageError(f"{flag} is only used with --update")
    elif output is not None or split != "none":
        raise click.UsageError("--update rewrites manifests in place: drop -o/--split")
    elif add_new is None and (filter_texts or field_list):
        raise click.UsageError("with --update, --filter and --fields choose what --add-new adds")
    model = MODELS[provider_name or default_provider()]
    for environment in environments:
        if environment not in model.environments:
            raise click.UsageError(
                f"{model.name} has no environment {environment!r}: use "
                + " or ".join(model.environments)
            )
    terms = parse_filters(filter_texts)
    if terms:
        check_filters(model.name, terms)
    fields = field_selection(model, _names(field_list))
    config = find_config(Path.cwd())
    context = _Context(config, base_url, rate_limit, verbose)
    with verbose_logging(verbose), showing_waits():
        if update:
            edits = _update(
                paths,
                context,
                provider_name,
                environments,
                terms,
                fields,
                add_new,
                include_nulls,
                schema,
            )
            return _finish_update(edits, dry_run)
        return _export(
            model,
            environments or (model.default_environment,),
            terms,
            fields,
            context,
            output,
            split,
            include_nulls,
            schema,
            force=force,
        )


class _Context:
    """Connection flags and configuration shared by every provider a run opens."""

    def __init__(
        self, config: Config | None, base_url: str | None, rate_limit: str | None, verbose: bool
    ) -> None:
        self.config = config
        self.base_url = base_url
        self.rate_limit = rate_limit
        self.verbose = verbose
        echo_lines(variable_hints(os.environ))

    def open(self, name: str) -> ProviderHandle:
        handle = open_provider(
            name,
            config=self.config,
            base_url_flag=self.base_url,
            rate_limit_flag=self.rate_limit,
            verbose=self.verbose,
            retry=RETRY,
        )
        echo_lines(connection_notes(handle))
        return handle


# -- export ------------------------------------------------------------------------------------


def _export(
    model: ProviderModel,
    environments: Sequence[str],
    terms: Sequence[FilterTerm],
    fields: Sequence[str],
    context: _Context,
    output: str | None,
    split: str,
    include_nulls: bool,
    schema: str | None,
    *,
    force: bool,
) -> int:
    target = None if output in (None, "-") else Path(str(output))
    directory = target is not None and is_directory_target(target, str(output), split)
    if split == "customer" and target is None:
        raise click.UsageError("--split customer writes one file per customer: give -o DIRECTORY")
    if target is not None and not directory and target.is_dir():
        raise OutputError(f"cannot write {target}: it is a directory")
    if target is not None and not directory and not force:
        _refuse_existing([target])  # before any request: the answer cannot change this

    builder = DocumentBuilder(model, include_nulls=include_nulls, fields=fields)
    documents: list[ManifestDocument] = []
    with context.open(model.name) as handle:
        reader = export_reader(handle.provider)
        source = handle.address
        for environment in dict.fromkeys(environments):
            with progress_bar(f"Reading {model.name}/{environment}") as progress:
                read = reader.read(environment, terms, fields, progress=progress)
            _note_read(builder.notes, read.gone, read.unaddressable)
            documents.append(builder.document(environment, read.customers))
    exported_at = datetime.now(UTC)

    outputs = plan_outputs(documents, target, directory=directory, split=split)
    if not force:
        _refuse_existing([planned.path for planned in outputs if planned.path is not None])
    for planned in outputs:
        origin = Origin(model.name, source, exported_at, _schema_ref(schema, planned.path))
        text = render_documents(planned.documents, origin)
        if planned.path is None:
            click.echo(text, nl=False)
        else:
            write_atomic(planned.path, text)
    _print_notes(builder.notes)
    counts = ", ".join(f"{d.environment}: {len(d.customers)}" for d in documents)
    total = sum(len(d.customers) for d in documents)
    if target is None:
        where = "stdout"
    elif len(outputs) == 1 and outputs[0].path is not None:
        where = display_path(outputs[0].path)
    else:
        where = f"{len(outputs)} files under {display_path(target)}"
    click.echo(f"Exported {total} {model.name} customer(s) ({counts}) to {where}.", err=True)
    return 0


def _refuse_existing(paths: Sequence[Path]) -> None:
    """An ``OutputError`` naming the paths that exist: export never overwrites unasked."""
    existing = [display_path(path) for path in paths if path.exists()]
    if not existing:
        return
    more = f" and {len(existing) - 5} more" if len(existing) > 5 else ""
    verb = "exists" if len(existing) == 1 else "exist"
    raise OutputError(
        f"{', '.join(existing[:5])}{more} already {verb}; nothing was written. Export to a new "
        "path, adopt live values into existing manifests with `reconciler export --update`, "
        "or replace the files with --force"
    )


def _note_read(notes: list[ExportNote], gone: Sequence[str], unaddressable: Sequence[str]) -> None:
    for identifier in gone:
        notes.append(ExportNote(identifier, "(customer)", "deleted while it was being read"))
    for identifier in unaddressable:
        reason = "no URL can address this id for a detail read; listed fields only"
        notes.append(ExportNote(identifier, "(detail fields)", reason))


def _schema_ref(schema: str | None, path: Path | None) -> str:
    """The modeline's ``$schema``: a URL as given, a path relative to the written file."""
    if schema is not None and "://" in schema:
        return schema
    location = Path(schema) if schema is not None else Path.cwd() / DEFAULT_SCHEMA
    if path is None:
        return schema if schema is not None else DEFAULT_SCHEMA
    relative = os.path.relpath(location.resolve(), path.parent.resolve())
    return Path(relative).as_posix()


# -- update ------------------------------------------------------------------------------------


def _update(
    paths: Sequence[Path],
    context: _Context,
    provider_name: str | None,
    environments: Sequence[str],
    terms: Sequence[FilterTerm],
    fields: Sequence[str],
    add_new: Path | None,
    include_nulls: bool,
    schema: str | None,
) -> list[FileEdit]:
    loaded = load_manifests(manifest_paths(paths, context.config))
    for warning in loaded.warnings:
        click.echo(str(warning), err=True)
    texts = {path: read_text(path) for path in loaded.files}
    manifests = {path: RoundTripFile(text, display_path(path)) for path, (text, _) in texts.items()}
    forms = {path: form for path, (_, form) in texts.items()}
    add_to = _add_target(add_new, manifests)
    declared = [c for c in loaded.customers if provider_name is None or c.provider == provider_name]
    wanted = _places_to_read(declared, manifests, provider_name, environments, add_new)
    providers = sorted({provider for provider, _ in wanted})
    several = provider_name is None and len(providers) > 1
    if several and (context.base_url or context.rate_limit or add_new is not None):
        raise click.UsageError(
            "--base-url, --rate-limit and --add-new need --provider when the manifests use "
            f"several providers ({', '.join(providers)})"
        )
    exported_at = datetime.now(UTC)
    read = _read_for_update(
        context,
        wanted,
        declared,
        loaded.customers,
        reading_new=add_to is not None,
        terms=terms,
        fields=fields,
        include_nulls=include_nulls,
    )
    desired = {customer.key: customer for customer in declared}
    edits = _adopt_edits(manifests, desired, read.live, add_to, read.additions)
    for edit in edits:
        if edit.path in forms:  # written back with the file's own mark and line ends
            edit.form = forms[edit.path]
    if add_to is not None and add_to not in {p.resolve() for p in manifests} and read.additions:
        assert add_new is not None
        edits.append(_new_file_edit(add_new, read, exported_at, schema))
    _print_notes([*read.notes, *(note for edit in edits for note in edit.notes)])
    for edit in edits:
        _check_result(edit)
    return edits


def _places_to_read(
    declared: Sequence[DesiredCustomer],
    manifests: Mapping[Path, RoundTripFile],
    provider_name: str | None,
    environments: Sequence[str],
    add_new: Path | None,
) -> set[tuple[str, str]]:
    """``(provider, environment)`` pairs to read: where customers are declared, plus, with
    ``--add-new``, where the manifests and ``--environment`` point."""
    wanted = {(c.provider, c.environment) for c in declared}
    if add_new is not None:
        wanted.update(
            place
            for manifest in manifests.values()
            for place in places(manifest)
            if provider_name is None or place[0] == provider_name
        )
        wanted.update((provider_name or default_provider(), env) for env in environments)
    return wanted


@dataclasses.dataclass
class _UpdateRead:
    """What ``export --update`` read: live state of the declared customers, new customers as
    documents (``--add-new``), notes, and each provider's address."""

    live: dict[CustomerKey, LiveCustomer]
    additions: list[ManifestDocument]
    notes: list[ExportNote]
    sources: dict[str, str]


def _read_for_update(
    context: _Context,
    wanted: set[tuple[str, str]],
    declared: Sequence[DesiredCustomer],
    every_declared: Sequence[DesiredCustomer],
    *,
    reading_new: bool,
    terms: Sequence[FilterTerm],
    fields: Sequence[str],
    include_nulls: bool,
) -> _UpdateRead:
    read = _UpdateRead({}, [], [], {})
    with contextlib.ExitStack() as stack:
        for name in sorted({provider for provider, _ in wanted}):
            handle = stack.enter_context(context.open(name))
            read.sources[name] = handle.address
            builder = DocumentBuilder(MODELS[name], include_nulls=include_nulls, fields=fields)
            for _, environment in sorted(p for p in wanted if p[0] == name):
                mine = [Declared.of(c) for c in declared if c.key[:2] == (name, environment)]
                found = handle.provider.read_live(environment, mine)
                read.live.update((customer.key, customer) for customer in found.values())
                if not reading_new:
                    continue
                known = {c.id for c in every_declared if c.key[:2] == (name, environment)}
                reader = export_reader(handle.provider)
                with progress_bar(f"Reading new {name}/{environment}") as progress:
                    new = reader.read(environment, terms, fields, exclude=known, progress=progress)
                _note_read(builder.notes, new.gone, new.unaddressable)
                if new.customers:
                    read.additions.append(builder.document(environment, new.customers))
            read.notes.extend(builder.notes)
    return read


def _adopt_edits(
    manifests: Mapping[Path, RoundTripFile],
    desired: Mapping[CustomerKey, DesiredCustomer],
    live: Mapping[CustomerKey, LiveCustomer],
    add_to: Path | None,
    additions: Sequence[ManifestDocument],
) -> list[FileEdit]:
    """Each manifest with live values adopted (and new customers added to ``add_to``)."""
    edits: list[FileEdit] = []
    for path, manifest in manifests.items():
        edit = adopt_live(display_path(path), manifest, desired, live)
        edit.path = path
        if add_to is not None and add_to == path.resolve():
            edit.added = add_customers(manifest, additions)
        edit.after = manifest.dump() if edit.adopted or edit.added else edit.before
        edits.append(edit)
    return edits


def _new_file_edit(
    add_new: Path, read: _UpdateRead, exported_at: datetime, schema: str | None
) -> FileEdit:
    """The new manifest ``--add-new`` names, holding the customers no manifest declares."""
    provider = read.additions[0].provider
    origin = Origin(provider, read.sources[provider], exported_at, _schema_ref(schema, add_new))
    edit = FileEdit(display_path(add_new), "", render_documents(read.additions, origin))
    edit.new_file = True
    edit.path = add_new
    model = MODELS[provider]
    edit.added = [str(c[model.id_field]) for d in read.additions for c in d.customers]
    return edit


def _add_target(add_new: Path | None, manifests: Mapping[Path, RoundTripFile]) -> Path | None:
    """``--add-new FILE`` resolved: one of the manifests being updated, or a new file."""
    if add_new is None:
        return None
    resolved = add_new.resolve()
    if resolved in {path.resolve() for path in manifests} or not add_new.exists():
        return resolved
    raise click.UsageError(
        f"--add-new {add_new}: the file exists but is not among the manifests being updated; "
        "pass it (or its directory) as PATH too"
    )


def _check_result(edit: FileEdit) -> None:
    """Refuse to write a file that would no longer load as a valid manifest."""
    if not edit.changed:
        return
    parsed = parse_yaml(edit.after.encode("utf-8"), edit.display)
    problems = [p for p in parsed.problems if p.severity == "error"]
    for document in parsed.documents:
        if document.value is not None:
            problems.extend(schema_problems(document, MANIFEST_SCHEMA))
    if problems:
        first = problems[0]
        raise OutputError(
            f"refusing to write {edit.display}: the updated text would not be a valid manifest "
            f"(line {first.line}: {first.message}); this is a bug in reconciler, please report it"
        )


def _finish_update(edits: Sequence[FileEdit], dry_run: bool) -> int:
    changed = [edit for edit in edits if edit.changed]
    for edit in changed:
        diff = unified_diff(edit.display, edit.before, edit.after, new_file=edit.new_file)
        click.echo(diff, nl=False)
    if not dry_run:
        for edit in changed:
            assert edit.path is not None
            write_atomic(edit.path, edit.form.encode(edit.after))
    adopted = sum(len(edit.adopted) for edit in edits)
    customers = len({a.key for edit in edits for a in edit.adopted})
    added = sum(len(edit.added) for edit in edits)
    if not changed:
        click.echo("No changes: the manifests already match live state.", err=True)
        return 0
    verb = "Would update" if dry_run else "Updated"
    done = []
    if adopted:
        done.append(f"{adopted} field(s) of {customers} customer(s) adopted from live state")
    if added:
        done.append(f"{added} customer(s) added")
    click.echo(
        f"{verb} {len(changed)} file(s): {', '.join(done)}."
        + (" Nothing was written (--dry-run)." if dry_run else ""),
        err=True,
    )
    return 0


# -- output helpers ----------------------------------------------------------------------------


def _names(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [name.strip() for name in text.split(",") if name.strip()]


def _print_notes(notes: Sequence[ExportNote | str]) -> None:
    for note in notes[:MAX_NOTES]:
        click.echo(f"Note: {printable(str(note))}", err=True)
    if len(notes) > MAX_NOTES:
        click.echo(f"Note: ... and {len(notes) - MAX_NOTES} more like these.", err=True)
