"""The Secret wrapper keeps an API key out of every rendering of it."""

import copy
import pickle

import pytest

from reconciler.clients.secret import Secret


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
