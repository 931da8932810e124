"""Ids that are the same text in two Unicode forms: an error, never a missing plus a delete."""

from __future__ import annotations

import unicodedata

import pytest

from reconciler.domain import DesiredCustomer, LiveCustomer, Source
from reconciler.errors import IdentityError
from reconciler.planner import PlanOptions, build_plan
from reconciler.planner.identity import check_identities
from reconciler.providers.registry import MODELS

NFC = unicodedata.normalize("NFC", "café")
NFD = unicodedata.normalize("NFD", "café")


def desired(customer_id: str, environment: str = "prod") -> DesiredCustomer:
    return DesiredCustomer("respan", environment, customer_id, {}, Source("c.yaml", 4))


def live(customer_id: str, environment: str = "prod") -> LiveCustomer:
    return LiveCustomer("respan", environment, customer_id, {})


def test_a_declared_id_and_a_live_id_in_two_forms_are_a_collision() -> None:
    """NFC declared vs NFD live raises, naming both spellings and what to write."""
    found = live(NFD)
    with pytest.raises(IdentityError) as raised:
        build_plan([desired(NFC)], {found.key: found}, MODELS, PlanOptions(prune=True))
    message = str(raised.value)
    assert "respan/prod: ids that are the same text in different Unicode forms" in message
    assert "'caf\\xe9' (declared at c.yaml:4)" in message
    assert "'cafe\\u0301' (live)" in message
    assert "exactly as the API has it ('cafe\\u0301')" in message


def test_a_project_declaration_collides_too() -> None:
    """A key declared elsewhere in the project is checked against live ids as well."""
    with pytest.raises(IdentityError):
        check_identities([], [("respan", "prod", NFD)], [("respan", "prod", NFC)])


def test_same_form_other_environment_and_live_only_pairs_are_fine() -> None:
    """Exact ids, other environments and undeclared live pairs plan as usual."""
    check_identities([desired(NFC)], [("respan", "prod", NFC), ("respan", "test", NFD)])
    check_identities([], [("respan", "prod", NFC), ("respan", "prod", NFD)])
    found = live(NFC)
    plan = build_plan([desired(NFC)], {found.key: found}, MODELS)
    assert plan.unchanged == 1


def test_an_ascii_id_collides_with_a_sign_that_folds_to_it() -> None:
    """A declared ASCII id is still checked against a live non-ASCII one that folds to it
    (KELVIN SIGN is 'K' in NFC), though ASCII-only plans skip the check."""
    found = live("\u212a")
    with pytest.raises(IdentityError, match=r"'K' \(declared at c\.yaml:4\)"):
        build_plan([desired("K")], {found.key: found}, MODELS, PlanOptions())
    plain = live("K2")
    plan = build_plan([desired("K1")], {plain.key: plain}, MODELS, PlanOptions())
    assert [change.action for change in plan.changes] == ["missing"]


@pytest.mark.parametrize(
    ("declared", "twin"),
    [
        ("acme", "acme\u200b"),
        ("acme\u2060", "acme"),
        ("acme", "ac\u00adme"),
        ("acme", "\ufeffacme"),
    ],
)
def test_ids_that_differ_only_by_invisible_characters_are_a_collision(
    declared: str, twin: str
) -> None:
    """A zero-width space, word joiner, soft hyphen or BOM prints as nothing: a plan showing
    "~ acme" must not act on a live "acme\\u200b", so the pair is an error naming both."""
    found = live(twin)
    with pytest.raises(IdentityError) as raised:
        build_plan([desired(declared)], {found.key: found}, MODELS, PlanOptions())
    message = str(raised.value)
    assert f"{declared!a} (declared at c.yaml:4)" in message
    assert f"{twin!a} (live)" in message
    assert "invisible characters" in message
