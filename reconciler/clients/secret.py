"""A wrapper that keeps an API key out of every repr, str, log line and error message."""

from __future__ import annotations

from typing import Final, final

REDACTED: Final = "***"


@final
class Secret:
    """An API key. ``repr()`` and ``str()`` show ``***``; only ``reveal()`` gives the value.

    The transport calls ``reveal()`` in exactly one place: when it installs the
    ``Authorization`` header on an outgoing request.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})"

    def __str__(self) -> str:
        return REDACTED

    def __bool__(self) -> bool:
        return bool(self._value)

    def __copy__(self) -> Secret:
        return self  # immutable: a copy may share it

    def __deepcopy__(self, memo: dict[int, object]) -> Secret:
        return self

    def __reduce__(self) -> str:
        # Pickling would write the key to wherever the pickle goes; nothing needs it.
        raise TypeError("a Secret cannot be pickled")

    def reveal(self) -> str:
        """The key itself: only for the ``Authorization`` header."""
        return self._value

    def redact(self, text: str) -> str:
        """``text`` with every occurrence of the key replaced by ``***``.

        For text that came from elsewhere (an error body that echoes the request, say) and is
        about to end up in a message or a log.
        """
        if len(self._value) < 4:
            # A key this short would redact ordinary words; there is nothing real to hide.
            return text
        return text.replace(self._value, REDACTED)
