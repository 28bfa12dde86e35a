"""Files written whole or not at all: a temporary file beside the target, flushed to disk,
renamed over it (the annotation files, the strip answers, the adapted models)."""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

__all__ = ["write_atomically"]


def _new_file_mode(path: Path) -> int:
    """The permissions ``path`` has, or a new file would get (0666 less the umask)."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0o22)
        os.umask(umask)
        return 0o666 & ~umask


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp)`` to write a temporary file beside ``path``, flush it to disk and
    rename it over ``path``: ``path`` holds the whole new file or is left as it was. The
    temporary file is removed on any failure (Ctrl-C too)."""
    import tempfile  # noqa: PLC0415

    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        os.chmod(tmp, _new_file_mode(path))  # mkstemp's 0600 is not what open() would give
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename in (name, tmp) and exc.strerror:
            # say the user's file, not the temporary one
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
