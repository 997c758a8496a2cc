"""One run per output folder: an OS lock (flock) that the kernel drops when its process ends, even by SIGKILL."""

from __future__ import annotations

import fcntl
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sevila.errors import SevilaError

LOCK_NAME = "sevila.lock"


@contextmanager
def folder_lock(folder: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold `<folder>/sevila.lock` while the block runs; a folder another process holds is a SevilaError."""
    path = Path(folder) / LOCK_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")  # "a+": the holder's note stays readable until we own the lock
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "a process that has not written its pid yet"
        handle.close()
        raise SevilaError(
            f"{path.parent} is in use by another sevila run ({holder}); wait for it to finish or give this run "
            f"other output folders. The lock is released when that process exits, even if it is killed; if no "
            f"such process is running (a stale lock, e.g. on a network file system), delete {path}"
        ) from None
    try:
        handle.truncate(0)
        handle.write(f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}: {' '.join(sys.argv)}\n")
        handle.flush()
        yield path
    finally:
        handle.close()  # closing the last descriptor releases the flock
