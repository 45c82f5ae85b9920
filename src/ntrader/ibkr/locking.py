"""Cross-process locks for the catalog, its manifest and the shared pacing ledger.

Two ``data fetch`` processes writing one Parquet catalog at once leave overlapping files (Nautilus
then returns duplicates) and one of them loses its manifest entries. Every write of the catalog or
the manifest therefore happens under an exclusive ``flock`` on a file beside the catalog. The
kernel drops a ``flock`` when its holder dies, so a crashed writer never leaves the lock behind;
what it may leave half-done on disk is repaired by ``catalog.recover`` under the same lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["LOCK_NAME", "atomic_write", "exclusive"]

LOCK_NAME = ".ntrader-catalog.lock"


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` (created if missing) for the ``with`` block.

    Re-entrant within one process only by not nesting: callers take it once around a write.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so a crash leaves the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
