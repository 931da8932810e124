"""fastjsonschema validators compiled once per schema, kept in a cache directory.

``fastjsonschema.compile`` generates about 190 KB of Python for the manifest schema on every
run: some 100 ms, more than the rest of ``reconciler validate`` of a small file. The generated
code depends only on the schema, the options, fastjsonschema's version and Python's, so it is
compiled to a code object once and written to ``<cache>/validators/schema-<hash>.marshal``
(the hash of those four); later runs load that (a millisecond) and run it. Python's bytecode
format is ``marshal``'s, and it works even where writing ``.pyc`` files is turned off. A
schema that changes (an upgrade, another provider's fragment) gets another hash, another file.

``<cache>`` is ``reconciler.cachedir.cache_dir()``. A cache that cannot be written or read only
costs time: the validator is then compiled in memory as before. Files are written whole
(temporary file, then rename), so a crash never leaves half a validator to import.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import marshal
import re
import sys
from collections.abc import Callable, Mapping
from types import CodeType
from typing import Any, TypeGuard

import fastjsonschema

from reconciler.cachedir import cache_dir

Validate = Callable[[Any], Any]

# Validation must never write schema defaults into the document it checks (use_default=False).
_OPTIONS = "use_default=False"
_FIRST_FUNCTION = re.compile(r"^def (\w+)\(", re.MULTILINE)


def schema_key(schema: Mapping[str, Any]) -> str:
    """The hash naming the compiled validator of ``schema`` under the current options."""
    identity = {
        "schema": schema,
        "options": _OPTIONS,
        "fastjsonschema": fastjsonschema.VERSION,
        "python": sys.version,
    }
    text = json.dumps(identity, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:32]


def compiled_validator(schema: Mapping[str, Any]) -> Validate:
    """A fastjsonschema ``validate`` for ``schema``, from the cache when it is there."""
    path = cache_dir() / "validators" / f"schema-{schema_key(schema)}.marshal"
    try:
        cached = marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        cached = None  # not cached yet, or unreadable: compile it again
    if _is_entry(cached):
        name, code = cached
    else:
        source = fastjsonschema.compile_to_code(dict(schema), use_default=False)
        # The generated module defines the root schema's function first, then its parts.
        found = _FIRST_FUNCTION.search(source)
        if found is None:  # pragma: no cover (fastjsonschema always generates one)
            return fastjsonschema.compile(dict(schema), use_default=False)
        name, code = found.group(1), compile(source, f"<fastjsonschema {path.stem}>", "exec")
        from reconciler.atomicfile import write_atomic  # only when the cache is filled
        from reconciler.errors import OutputError

        with contextlib.suppress(OutputError):  # a cache that cannot be written only costs time
            write_atomic(path, marshal.dumps((name, code)), make_parents=True)
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # fastjsonschema's own generated module
    validate: Validate = namespace[name]
    return validate


def _is_entry(value: object) -> TypeGuard[tuple[str, CodeType]]:
    return (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], CodeType)
    )
