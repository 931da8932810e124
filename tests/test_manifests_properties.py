"""Property-based tests: generated manifests load back to the same desired state, and no input
whatsoever makes ``reconciler validate`` crash."""

from __future__ import annotations

import contextlib
import io
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from manifest_strategies import JSON_LIKE, NON_EMPTY_TEXT, manifest_documents, near_valid_documents

from reconciler.cli import BUG_REPORT_HINT, main
from reconciler.domain import Lifecycle
from reconciler.manifests import load_manifests
from reconciler.providers.registry import MODELS

SLOW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def as_desired(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {key: as_desired(item) for key, item in value.items()}
    return [as_desired(item) for item in value]


def expected_state(documents: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Desired state per the documented merge rules, computed independently of the loader."""
    state = []
    for document in documents:
        model = MODELS[document.get("provider", "respan")]
        environment = document.get("environment", model.default_environment)
        defaults = document.get("defaults", {})
        default_lifecycle = defaults.get("lifecycle", {})
        for customer in document["customers"]:
            fields = {}
            for name in model.fields:
                if name in customer:
                    value = customer[name]
                    if name == "metadata":
                        value = {**defaults.get("metadata", {}), **value}
                elif name in defaults:
                    value = defaults[name]
                else:
                    continue
                fields[name] = as_desired(value)
            own = customer.get("lifecycle", {})
            lifecycle = Lifecycle(
                own.get("prevent_destroy", default_lifecycle.get("prevent_destroy", False)),
                frozenset(own.get("ignore_changes", []))
                | frozenset(default_lifecycle.get("ignore_changes", [])),
            )
            state.append((model.name, environment, customer[model.id_field], fields, lifecycle))
    return state


@st.composite
def manifest_sets(draw: st.DrawFn) -> list[list[dict[str, Any]]]:
    """1-3 files of 1-2 valid documents each, with customer ids unique across all of them."""
    files = draw(
        st.lists(
            st.lists(manifest_documents(st.just("placeholder")), min_size=1, max_size=2),
            min_size=1,
            max_size=3,
        )
    )
    customers = [c for docs in files for doc in docs for c in doc["customers"]]
    ids = draw(
        st.lists(NON_EMPTY_TEXT, min_size=len(customers), max_size=len(customers), unique=True)
    )
    for customer, identifier in zip(customers, ids, strict=True):
        key = "id" if "id" in customer else "customer_identifier"
        customer[key] = identifier
    return files


@SLOW
@given(manifest_sets(), st.booleans(), st.sampled_from([False, True, None]))
def test_dumped_manifests_load_back_to_the_same_desired_state(
    files: list[list[dict[str, Any]]], allow_unicode: bool, flow_style: bool | None
) -> None:
    """yaml.safe_dump'ed valid manifests load to exactly the desired state they describe."""
    with tempfile.TemporaryDirectory() as temporary:
        for index, documents in enumerate(files):
            text = yaml.safe_dump_all(
                documents,
                allow_unicode=allow_unicode,
                default_flow_style=flow_style,
                sort_keys=False,
            )
            Path(temporary, f"m{index}.yaml").write_text(text, encoding="utf-8")
        result = load_manifests([temporary])
    loaded = [(c.provider, c.environment, c.id, c.fields, c.lifecycle) for c in result.customers]
    assert loaded == expected_state([doc for documents in files for doc in documents])
    assert all(problem.severity == "warning" for problem in result.warnings)


def run_validate(data: bytes) -> None:
    """Run ``reconciler validate`` on ``data``; it must exit 0/1 and never crash."""
    out, err = io.StringIO(), io.StringIO()
    with tempfile.TemporaryDirectory() as temporary:
        path = Path(temporary, "manifest.yaml")
        path.write_bytes(data)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["validate", "--format", "json", str(path)])
    assert BUG_REPORT_HINT not in err.getvalue()
    assert "Traceback" not in err.getvalue()
    assert code in (0, 1)
    report = out.getvalue()
    assert ('"valid": true' in report) == (code == 0)


@SLOW
@given(st.binary(max_size=400))
def test_random_bytes_never_crash_validate(data: bytes) -> None:
    """Arbitrary bytes give exit 0 or 1 with problems, never a traceback."""
    run_validate(data)


@SLOW
@given(JSON_LIKE | near_valid_documents(), st.data())
def test_random_yaml_never_crashes_validate(document: Any, data: st.DataObject) -> None:
    """Arbitrary YAML (and YAML with random edits) gives exit 0 or 1, never a traceback."""
    text = yaml.safe_dump(document, allow_unicode=True)
    if data.draw(st.booleans()):
        position = data.draw(st.integers(0, len(text)))
        junk = data.draw(st.text(alphabet="-:[]{}&*!|>'\"#%@` \t\n?,x1", max_size=4))
        text = text[:position] + junk + text[position:]
    run_validate(text.encode("utf-8"))
