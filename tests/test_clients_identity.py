"""Customer ids at the API boundary: refused before anything is planned or sent."""

from __future__ import annotations

import pytest

from reconciler.clients.identity import listed_id, sent_id
from reconciler.errors import InvalidRequestError, ServerError


def test_an_id_that_no_request_can_carry_is_refused_before_sending() -> None:
    """An empty or non-text id is an ``InvalidRequestError`` naming the endpoint; a text id
    passes unchanged."""
    assert sent_id("acme", "POST /customer") == "acme"
    for bad in ("", None, 7):
        with pytest.raises(InvalidRequestError, match="cannot be addressed") as caught:
            # Deliberately not a str: ids come from outside and are checked at run time.
            sent_id(bad, "POST /customer")  # type: ignore[arg-type]
        assert (caught.value.method, caught.value.path) == ("POST", "/customer")


def test_a_listed_row_without_a_text_id_refuses_the_whole_read() -> None:
    """A list row whose id is not text is a ``ServerError``: it would be planned as a
    customer that does not exist."""
    assert listed_id({"id": "acme"}, "id", "POST /v1/customers.list") == "acme"
    with pytest.raises(ServerError, match="whose id is not an id"):
        listed_id({"id": 7}, "id", "POST /v1/customers.list")
