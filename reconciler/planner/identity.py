"""Customer ids that collide: the same text in two Unicode normalization forms, or with
invisible characters. Pure.

``café`` typed in a manifest is usually NFC (``caf\\xe9``); an API may hold it decomposed
(NFD, ``cafe\\u0301``). Compared as code points they differ, so the planner would report the
declared customer as missing (or create a twin) and, with ``--prune``, delete the live one. The
two forms look identical to a reviewer, so such a pair is an error naming both spellings, never
a plan. So is ``acme`` beside ``acme\\u200b``: a zero-width space prints as nothing, and a plan
showing "~ acme" would otherwise act on the twin.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable

from reconciler.domain import CustomerKey, DesiredCustomer, folded_id
from reconciler.errors import IdentityError
from reconciler.printable import printable


def check_identities(
    desired: Iterable[DesiredCustomer],
    live: Iterable[CustomerKey],
    project: Collection[CustomerKey] = (),
) -> None:
    """Raise ``IdentityError`` naming every declared id (planned or of the ``project``) that
    another declared or live id of the same provider and environment equals in Unicode
    normalization (NFC) but not exactly."""
    desired = tuple(desired)
    live = tuple(live)
    # Only a non-ASCII id can have another Unicode form (ASCII text is its own NFC), so only
    # the keys such an id folds to are looked at: a plan of ASCII ids allocates nothing here.
    suspects = {
        _folded(key)
        for key in (*(customer.key for customer in desired), *project, *live)
        if not key[2].isascii()
    }
    if not suspects:
        return
    spellings: dict[CustomerKey, dict[str, str]] = defaultdict(dict)
    declared: set[CustomerKey] = set()
    for customer in desired:
        if _folded(customer.key) in suspects:
            _add(spellings, customer.key, f"declared at {customer.source}")
            declared.add(_folded(customer.key))
    for key in project:
        if _folded(key) in suspects:
            _add(spellings, key, "declared in the project")
            declared.add(_folded(key))
    for key in live:
        if _folded(key) in suspects:
            _add(spellings, key, "live")
    messages = [
        _describe(key, forms)
        for key, forms in sorted(spellings.items())
        if len(forms) > 1 and key in declared
    ]
    if messages:
        raise IdentityError("\n".join(messages))


def _folded(key: CustomerKey) -> CustomerKey:
    provider, environment, identifier = key
    return (provider, environment, folded_id(identifier))


def _add(spellings: dict[CustomerKey, dict[str, str]], key: CustomerKey, where: str) -> None:
    forms = spellings[_folded(key)]
    forms.setdefault(key[2], where)


def _describe(key: CustomerKey, forms: dict[str, str]) -> str:
    provider, environment, _ = key
    listed = ", ".join(f"{identifier!a} ({where})" for identifier, where in sorted(forms.items()))
    live = [identifier for identifier, where in forms.items() if where == "live"]
    advice = (
        f"write the id in the manifest exactly as the API has it ({live[0]!a})"
        if len(live) == 1
        else "make the ids differ in more than their Unicode form or invisible characters"
    )
    return printable(
        f"{provider}/{environment}: ids that are the same text in different Unicode forms "
        f"or with invisible characters: {listed}; {advice}"
    )
