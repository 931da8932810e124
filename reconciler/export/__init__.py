"""Export: live customers -> manifests, and ``--update`` adopting live values into manifests.

Flow (the CLI in ``reconciler.cli.export`` drives it)::

    filters.parse_filters(texts) -> FilterTerm...     --filter FIELD:OPERATOR:VALUE
    live.export_reader(provider).read(env, filters, fields) -> ExportRead
    document.DocumentBuilder(model).document(env, customers) -> ManifestDocument
    files.plan_outputs(documents, target, ...) -> OutputFile...
    render.render_documents(documents, origin) -> YAML text
    files.write_atomic(path, text)

    update.adopt_live(display, RoundTripFile(text), desired, live) -> FileEdit
    update.add_customers(manifest, documents)
"""

from reconciler.export.document import DocumentBuilder, ExportNote, ManifestDocument
from reconciler.export.files import OutputFile, plan_outputs, write_atomic
from reconciler.export.filters import FilterTerm, check_filters, parse_filters
from reconciler.export.live import ExportRead, ExportReader, export_reader, field_selection
from reconciler.export.render import Origin, render_documents
from reconciler.export.roundtrip import RoundTripFile, unified_diff
from reconciler.export.update import FileEdit, add_customers, adopt_live, places

__all__ = [
    "DocumentBuilder",
    "ExportNote",
    "ExportRead",
    "ExportReader",
    "FileEdit",
    "FilterTerm",
    "ManifestDocument",
    "Origin",
    "OutputFile",
    "RoundTripFile",
    "add_customers",
    "adopt_live",
    "check_filters",
    "export_reader",
    "field_selection",
    "parse_filters",
    "places",
    "plan_outputs",
    "render_documents",
    "unified_diff",
    "write_atomic",
]
