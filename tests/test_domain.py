"""Values shared across the pipeline."""

import copy
import pickle

import pytest

from reconciler.domain import UNKNOWN, FieldKind, FieldSpec, LiveCustomer, Source, field_specs
from reconciler.providers.autumn.fields import AUTUMN
from reconciler.providers.registry import MODELS
from reconciler.providers.respan.fields import RESPAN


def test_unknown_is_a_singleton_that_survives_copy_and_pickle() -> None:
    """UNKNOWN stays the same object through copying and pickling, so ``is`` checks hold."""
    assert copy.deepcopy(UNKNOWN) is UNKNOWN
    assert pickle.loads(pickle.dumps(UNKNOWN)) is UNKNOWN
    assert repr(UNKNOWN) == "UNKNOWN"


def test_live_field_not_returned_is_unknown() -> None:
    """A managed field the API did not return reads as UNKNOWN, never as None."""
    live = LiveCustomer("respan", "prod", "acme", {"period_budget": 250.0, "email": None})
    assert live.get("period_budget") == 250.0
    assert live.get("email") is None
    assert live.get("metadata") is UNKNOWN


def test_source_prints_file_and_line() -> None:
    """A source location prints as ``file:line`` for plans and messages."""
    assert str(Source("customers/acme.yaml", 12, 5)) == "customers/acme.yaml:12"


def test_catalog_marks_respan_detail_only_fields() -> None:
    """The Respan list endpoint lacks metadata, markup and period dates: they cost a retrieve."""
    detail_only = {name for name, spec in RESPAN.fields.items() if not spec.listed}
    assert detail_only == {"metadata", "markup_percentage", "period_start", "period_end"}
    assert set(MODELS) == {"respan", "autumn", "litellm"}
    assert AUTUMN.creates_missing
    assert not RESPAN.creates_missing


def test_field_specs_are_keyed_by_name_in_order_and_read_only() -> None:
    """A model's fields come out by name in the order declared, and cannot be changed."""
    fields = field_specs(FieldSpec("name", FieldKind.TEXT), FieldSpec("limit", FieldKind.MONEY))
    assert list(fields) == ["name", "limit"]
    assert fields["limit"].kind is FieldKind.MONEY
    with pytest.raises(TypeError):
        # Deliberately what the read-only type forbids, to see it refused at run time too.
        fields["name"] = FieldSpec("name", FieldKind.ENUM)  # type: ignore[index]
