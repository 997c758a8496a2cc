"""The one project error type for bad user input (files, records, settings), and what an OS refusal says."""

from __future__ import annotations

import errno
import os
from pathlib import Path

PATH_MAX = 4096  # Linux; a longer path is refused whatever its names
_FIXES = {
    errno.EACCES: "permission denied; choose a path this user may read and write, or change its permissions",
    errno.EPERM: "operation not permitted; choose a path this user may read and write, or change its permissions",
    errno.EISDIR: "is a folder, not a file; give a file path",
    errno.ENOENT: "no such file or folder; check the path",
    errno.EEXIST: "already exists and is not a folder; choose another path or move it away",
    errno.ENOTEMPTY: "is a folder that is not empty; choose a new folder or move it away",
    errno.ENOSPC: "no space left on the device; free some space or write elsewhere",
    errno.EDQUOT: "disk quota exceeded; free some space or write elsewhere",
    errno.EROFS: "the file system is read-only; write elsewhere",
    errno.ELOOP: "too many levels of symbolic links (a link loop?); fix the links",
    errno.EIO: "input/output error; the disk or network file system failed: check it, or use a copy",
}


class SevilaError(Exception):
    """Bad user input; the message names the file/record/field, what was found and the fix."""


def os_error_message(error: OSError, path: str | os.PathLike[str] | None = None) -> str:
    """One line for what the operating system refused: the path, what is wrong with it, and the fix."""
    named = path if path is not None else error.filename
    reason = _fix(error.errno, Path(os.fsdecode(named))) if named is not None else None
    reason = reason or (error.strerror or str(error)).rstrip(".")
    return f"{os.fsdecode(named)}: {reason}" if named is not None else reason


def _fix(code: int | None, path: Path) -> str | None:
    if code == errno.ENOTDIR:
        blocker = next((p for p in (*reversed(path.parents), path) if _kind(p) == "file"), None)
        what = f"{blocker} is a file, not a folder" if blocker is not None else "a part of the path is not a folder"
        return f"{what}, so nothing can be found or created under it; choose a path inside a folder"
    if code == errno.ENAMETOOLONG:
        return _too_long(path)
    return _FIXES.get(code) if code is not None else None


def _too_long(path: Path) -> str:
    limit = name_max(path)
    longest = max(path.parts, key=lambda part: len(os.fsencode(part)), default="")
    size = len(os.fsencode(longest))
    if size > limit:
        return (f"the name '{longest[:24]}...' is {size} bytes, longer than the file system allows ({limit}); "
                "choose a shorter name")
    size = len(os.fsencode(path))
    return f"the path is {size} bytes, longer than the system allows ({PATH_MAX}); choose a shorter one"


def name_max(path: Path) -> int:
    """The longest file name (bytes) the file system holding `path` (or its nearest existing folder) allows."""
    folder = next((p for p in (path, *path.parents) if _kind(p) == "folder"), Path("."))
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def _kind(path: Path) -> str | None:
    """"folder", "file" (anything else that exists) or None, for any path: a name too long is None too."""
    try:
        return "folder" if path.is_dir() else "file" if path.exists() else None
    except OSError:
        return None
