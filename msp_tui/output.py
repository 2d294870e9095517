"""Writing a command's output (`--out`/`--output`) without ever changing what the path is.

A regular file, or a path that does not exist yet, is written whole or not at all: a temp file
beside it, renamed into place (an existing file keeps its permissions). A FIFO, a device or a
terminal is written through, as `>` would; a symlink is followed to what it points at. A path
that cannot be written is a message naming it, never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from pathlib import Path


class OutputError(Exception):
    """The output could not be written; the message names the path and says why."""


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def write_text(path: Path | None, text: str) -> None:
    """`text` to `path` (None or "-": standard output)."""
    if path is None or str(path) == "-":
        sys.stdout.write(text)
        return
    target = Path(os.path.realpath(path))  # through a symlink, to what it names
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {_why(exc)}") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise OutputError(f"cannot write {path}: it is a directory; name a file in it")
    if mode is not None and not stat.S_ISREG(mode):  # a FIFO, a device: write through it
        try:
            with open(target, "w", encoding="utf-8", newline="") as stream:
                stream.write(text)
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {_why(exc)}") from None
        return
    _replace(path, target, text, None if mode is None else stat.S_IMODE(mode))


def _replace(shown: Path, target: Path, text: str, keep_mode: int | None) -> None:
    if not target.parent.is_dir():
        raise OutputError(f"cannot write {shown}: the folder {target.parent} does not exist")
    import tempfile  # here: a command that writes no file does not import it

    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise OutputError(f"cannot write {shown}: {_why(exc)}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        if keep_mode is None:  # a new file: what the umask allows, as `>` would make it
            umask = os.umask(0)
            os.umask(umask)
            keep_mode = 0o666 & ~umask
        os.chmod(tmp, keep_mode)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise OutputError(f"cannot write {shown}: {_why(exc)}") from None
