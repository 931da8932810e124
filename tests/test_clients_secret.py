"""The Secret wrapper keeps an API key out of every rendering of it."""

import base64
import copy
import html
import json
import pickle
from urllib.parse import quote

import pytest

from reconciler.clients.secret import Secret, public_url


def test_secret_shows_stars_everywhere_but_reveal() -> None:
    """repr, str and f-strings show ***; only reveal() gives the key."""
    secret = Secret("sk_live_abcdef123456")
    assert repr(secret) == "Secret('***')"
    assert str(secret) == "***"
    assert f"{secret} {[secret]}" == "*** [Secret('***')]"
    assert secret.reveal() == "sk_live_abcdef123456"
    assert secret
    assert not Secret("")


def test_secret_redacts_the_key_from_foreign_text() -> None:
    """Text that echoes the key gets *** instead; very short keys redact nothing."""
    assert Secret("sk_live_abcdef123456").redact("echo sk_live_abcdef123456!") == "echo ***!"
    assert Secret("ab").redact("ab cd") == "ab cd"


def test_secret_refuses_to_be_pickled_but_survives_copies() -> None:
    """A Secret never travels into a pickle; copying settings that hold one still works."""
    secret = Secret("sk_live_abcdef123456")
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(secret)
    assert copy.deepcopy({"key": secret})["key"] is secret
    assert copy.copy(secret) is secret


KEY = "sk_live_SECRETKEY_abcdef0123/+x"


@pytest.mark.parametrize(
    "echo",
    [
        KEY.lower(),
        KEY.upper(),
        KEY.swapcase(),
        "sk_live_SECRETKEY_abcdef0123%2F%2Bx",
        "sk_live_secretkey_abcdef0123%2f%2bx",
        "sk_live_SECRETKEY_abcdef0123%2F%2Bx".lower(),
        "sk_live_SECRETKEY_abcdef0123\\/+x",
    ],
)
def test_secret_masks_echoes_in_other_cases_and_escapes(echo: str) -> None:
    """An echo of the key lower- or upper-cased, percent- or JSON-escaped is masked."""
    assert Secret(KEY).redact(f"invalid key '{echo}'.") == "invalid key '***'."


@pytest.mark.parametrize("prefix", ["", "B", "Be", "Bearer "])
@pytest.mark.parametrize("suffix", ["", "x", "yz"])
def test_secret_masks_the_key_inside_base64_text(prefix: str, suffix: str) -> None:
    """base64 of a text holding the key (an echoed header) loses the key's part, any alignment."""
    import base64

    encoded = base64.b64encode(f"{prefix}{KEY}{suffix}".encode()).decode()
    shown = Secret(KEY).redact(encoded)
    assert "***" in shown
    assert len(shown) < len(encoded) - 30


def test_secret_masks_the_bytes_repr_of_a_key_with_a_newline() -> None:
    """A key holding a newline is masked where an error shows it as escaped bytes."""
    secret = Secret("sk_live_SECRETKEY_abcdef0123\n# comment")
    text = "Illegal header value b'Bearer sk_live_SECRETKEY_abcdef0123\\n# comment'"
    assert secret.redact(text) == "Illegal header value b'Bearer ***'"


def test_secret_leaves_ordinary_text_alone() -> None:
    """Masking is for the key's echoes only: other text is untouched."""
    text = "customer acme-corp: period_budget must be >= 0 (request 0123456789abcdef)"
    assert Secret(KEY).redact(text) == text


def test_public_url_drops_credentials_query_and_fragment() -> None:
    """User info, query and fragment never reach a file; IPv6 hosts keep their brackets."""
    assert public_url("https://user:secret@api.example:8443/v1/?key=x#f") == (
        "https://api.example:8443/v1"
    )
    assert public_url("http://[::1]:8080/") == "http://[::1]:8080"


@pytest.mark.parametrize("key", ["sk-live-abc123DEF456", "!!@@##$$%%^^&&**", "k/+=k/+=k/+=k/+="])
def test_appears_in_finds_every_masked_form_in_the_keys_letter_case(key: str) -> None:
    """Each form redact masks is found in raw bytes, also for keys with no long plain run."""
    secret = Secret(key)
    forms = [
        key,
        quote(key, safe=""),
        json.dumps(key)[1:-1],
        html.escape(key),
        base64.b64encode(f"Bearer {key}".encode()).decode(),
    ]
    for form in forms:
        assert secret.appears_in(f'{{"id": "x{form}y"}}'.encode()), form
    assert not secret.appears_in(b'{"id": "' + key[:-1].encode() + b'"}')
    assert not Secret("abc").appears_in(b"abc")
