"""Atomic output: write to a temporary file or folder beside the target, then rename it into place.

An OS refusal while writing (a name too long, a parent that is a file, permission denied, a folder in the
way, a full disk) is a SevilaError naming the target, never the temporary name; `check_output_file` and
`check_output_folder` find most of them before any work is done.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from sevila.errors import PATH_MAX, SevilaError, name_max, os_error_message

_UMASK = os.umask(0)
os.umask(_UMASK)
_TEMP_EXTRA = len(".") + len(".") + 8 + len(".tmp")  # what the temporary name adds: ".NAME.<8 random>.tmp"


def _temp_prefix(target: Path) -> str:
    """`.NAME.`, NAME cut so the temporary name fits wherever the target's name fits."""
    room = max(1, name_max(target.parent) - _TEMP_EXTRA)
    return f".{os.fsencode(target.name)[:room].decode(errors='ignore')}."


def _refused(target: Path, error: OSError) -> SevilaError:
    """The error naming `target`: errors with the temporary name, or none, are about the target."""
    path = error.filename2 or error.filename
    named = target if path is None or Path(os.fsdecode(path)).name.startswith(_temp_prefix(target)) else path
    return SevilaError(os_error_message(error, named))


@contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temp file beside `path`; on success it replaces `path`, on error `path` is untouched."""
    target = Path(path)
    binary = "b" in mode
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=_temp_prefix(target), suffix=".tmp", dir=target.parent)
    except OSError as error:
        raise _refused(target, error) from error
    try:
        with os.fdopen(fd, mode, encoding=None if binary else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; outputs get the usual permissions
        os.replace(tmp_name, target)
    except OSError as error:
        Path(tmp_name).unlink(missing_ok=True)
        if error.filename is not None and error.filename != tmp_name and error.filename2 is None:
            raise  # the body's own error about another path (e.g. an input it reads)
        raise _refused(target, error) from error
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temp folder beside `path` to fill; on success it becomes `path` (absent or empty), on error it is removed."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(target), suffix=".tmp", dir=target.parent))
    except OSError as error:
        raise _refused(target, error) from error
    try:
        yield tmp
        try:
            os.chmod(tmp, 0o777 & ~_UMASK)  # mkdtemp makes 0700 folders
            os.replace(tmp, target)
        except OSError as error:
            raise _refused(target, error) from error
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_json(path: str | os.PathLike[str], payload: Any) -> None:
    """Write `payload` as indented JSON, atomically."""
    with atomic_open(path) as handle:
        json.dump(payload, handle, indent=2)
        handle.write("\n")


def write_jsonl(path: str | os.PathLike[str], rows: list[dict[str, Any]]) -> None:
    """Write one JSON object per line, atomically."""
    with atomic_open(path) as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")


def check_output_file(path: str | os.PathLike[str], option: str, inputs: Sequence[str | os.PathLike[str]] = ()) -> None:
    """Before any work: `path` can become a file (`check_output_folder`), no folder is in its way, it is no input."""
    target = Path(path)
    if os.path.isdir(target):
        _refuse(option, target, errno.EISDIR)
    check_output_folder(target.parent, option, target)
    for given in inputs:
        if os.path.isfile(given) and os.path.isfile(target) and os.path.samefile(given, target):
            raise SevilaError(f"{option} {target}: is also an input ({given}); writing it would replace that "
                              "input: choose another output path")


def check_output_folder(path: str | os.PathLike[str], option: str, named: Path | None = None) -> None:
    """Before any work: every name fits the file system, and the nearest existing ancestor is a folder we can write."""
    folder, shown = Path(path), named or Path(path)
    too_long = len(os.fsencode(os.path.abspath(shown))) + _TEMP_EXTRA >= PATH_MAX
    if too_long or any(len(os.fsencode(part)) > name_max(folder) for part in shown.parts):
        _refuse(option, shown, errno.ENAMETOOLONG)
    existing = next((p for p in (folder, *folder.parents) if os.path.lexists(p)), Path("."))
    if not existing.is_dir():
        _refuse(option, shown, errno.ENOTDIR if existing != folder or named is not None else errno.EEXIST)
    try:  # the one sure test of write access (root, ACLs, read-only and network file systems): try it
        fd, probe = tempfile.mkstemp(prefix=".sevila-check.", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        raise SevilaError(f"{option} {os_error_message(error, shown)}") from error


def _refuse(option: str, path: Path, code: int) -> None:
    raise SevilaError(f"{option} {os_error_message(OSError(code, os.strerror(code)), path)}")
