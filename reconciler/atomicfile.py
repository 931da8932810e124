"""Writing a file so that no reader, crash or full disk ever leaves half of it: the one helper
for every file reconciler writes whole (exported manifests, saved plans, emulator state, the
cache of compiled validators and entry points).

The text goes to a temporary file in the destination's directory, is flushed and fsynced, and
is renamed over the destination (``os.replace``, atomic on POSIX and Windows); the directory is
then fsynced so the rename itself survives a crash. After a failure the destination is the old
file or the new one, never a torn one, and the temporary file is removed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from reconciler.errors import OutputError

_DEFAULT_MODE = 0o666  # less the umask, as any new file


def write_atomic(
    path: Path,
    text: str | bytes,
    *,
    mode: int | None = None,
    what: str = "",
    make_parents: bool = False,
) -> None:
    """Replace ``path`` with ``text`` (UTF-8, ``\\n`` line ends; bytes as they are) atomically.

    ``mode`` sets the file's permissions (``0o600`` for owner-only files such as saved plans);
    without it a new file gets 0666 less the umask and an existing one keeps its mode.
    ``make_parents`` creates missing directories. ``what`` names the file in errors
    ("cannot write saved plan PATH: …"). Raises ``OutputError`` when it cannot write.
    """
    if make_parents:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(
                f"cannot create the directory {path.parent}: {_reason(exc)}"
            ) from None
    failed = f"cannot write {what + ' ' if what else ''}{path}"
    if path.is_dir():
        raise OutputError(f"{failed}: it is a directory")
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        final = mode if mode is not None else _existing_mode(path)
        descriptor = os.open(
            temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, final or _DEFAULT_MODE
        )
    except OSError as exc:
        raise OutputError(f"{failed}: {_reason(exc)}") from None
    try:
        data = text.encode("utf-8") if isinstance(text, str) else text
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if final is not None:
            os.chmod(temporary, final)  # exactly, whatever the umask
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise OutputError(f"{failed}: {_reason(exc)}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    _sync_directory(path.parent)


def _existing_mode(path: Path) -> int | None:
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        return None


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable where the platform allows it."""
    with contextlib.suppress(OSError, AttributeError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__
