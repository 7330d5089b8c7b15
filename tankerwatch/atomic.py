"""Atomic file writes: a reader sees the old file or the new one, never half of either.

Every file tankerwatch rewrites in place (manifests, the fetch state, the published schema,
gate documents) goes through here: the bytes are written to a temporary file in the same
directory, flushed to disk, renamed over the target, and the directory entry is flushed too.
A crash at any point leaves the previous file intact and at most a hidden temporary file,
whose name (`prefix`, `suffix`) each caller chooses so its own tidy-up can find it.

This module imports nothing from tankerwatch, so any module may use it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

# A freshly made temporary file is private (0600); a file others read should look like any
# file the process would have created with open().
_DEFAULT_MODE = 0o666


def fsync_path(path: str | os.PathLike[str]) -> None:
    """Flush a file or a directory to disk; an error is raised, for callers that must know."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """Flush a directory's entries, so a rename inside it survives a power cut.

    Not every platform or file system lets a directory be opened or flushed; there the
    rename is as durable as the system makes it, which is no reason to fail the write.
    """
    with contextlib.suppress(OSError):
        fsync_path(folder)


def replace(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Rename `source` over `target` in one step and make the rename durable."""
    os.replace(source, target)
    fsync_dir(Path(target).parent)


def _umask() -> int:
    # Setting the umask to read it would, for a moment, change it for every thread of the
    # process; Linux shows it without that.
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_writer(
    path: str | os.PathLike[str],
    *,
    binary: bool = False,
    encoding: str = "utf-8",
    prefix: str | None = None,
    suffix: str = ".tmp",
    mode: int | None = None,
    durable: bool = True,
    before_replace: Callable[[], None] | None = None,
) -> Iterator[IO[Any]]:
    """Open a temporary file beside `path` for writing; on a clean exit it replaces `path`.

    For writers that stream (a download, a large JSON). If the body raises, or anything up to
    the rename fails, the temporary file is removed and `path` is untouched. `before_replace`
    runs after the data is on disk and before the rename (a fault point, a last check).
    The temporary file is named `<prefix><random><suffix>`, by default `.<name>.<random>.tmp`.
    The new file gets `mode`, by default the permissions open() would have given it.
    `durable=False` skips the flushes to disk, for files that are cheap to write again (a crash
    may then lose the new file, but still never leaves half of one).
    """
    path = Path(path)
    if prefix is None:
        prefix = f".{path.name}."
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=suffix)
    try:
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding=encoding) as handle:
            yield handle
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(tmp_name, _DEFAULT_MODE & ~_umask() if mode is None else mode)
        if before_replace is not None:
            before_replace()
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    if durable:
        fsync_dir(path.parent)


def write_bytes(path: str | os.PathLike[str], data: bytes, **options: Any) -> Path:
    """Replace `path` with `data` atomically (see `atomic_writer` for the options); return the path."""
    with atomic_writer(path, binary=True, **options) as handle:
        handle.write(data)
    return Path(path)


def write_text(path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8", **options: Any) -> Path:
    """Replace `path` with `text` atomically (see `atomic_writer` for the options); return the path."""
    with atomic_writer(path, encoding=encoding, **options) as handle:
        handle.write(text)
    return Path(path)
