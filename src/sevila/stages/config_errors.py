"""One-line messages for what `sevila fit|validate|test` refuses before a run: config keys and checkpoints."""

from __future__ import annotations

import os
import pickle
from collections.abc import Sequence

import torch

from sevila.errors import SevilaError

_UNION_NOISE = ("Does not validate against any of the Union subtypes", "Subtypes:", "Errors:", "- Expected a <class",
                "Given value type:", "Given value:")


def parse_error_line(parser_output: str, argv: Sequence[str]) -> str:
    """The jsonargparse error (usage block and Union boilerplate dropped) as one line with the fix."""
    message = parser_output.rpartition("error: ")[2].strip() or parser_output.strip()
    lines = [line.strip() for line in message.splitlines()]
    kept = [line.removeprefix("- ") for line in lines if line and not line.startswith(_UNION_NOISE)]
    verb = argv[0] if argv else "fit"
    return " ".join(kept) + f"; fix or remove it (`sevila {verb} -c ... --print_config` lists every accepted key)"


def user_error_in(error: BaseException) -> SevilaError | None:
    """The SevilaError that caused `error` (jsonargparse wraps what a class's __init__ raises), if any."""
    cause = error.__cause__ or error.__context__
    while cause is not None and not isinstance(cause, SevilaError):
        cause = cause.__cause__ or cause.__context__
    return cause


def check_checkpoint_readable(path: str | os.PathLike[str]) -> None:
    """Load a `--ckpt_path` file the way the Trainer will (weights_only=True); a damaged file is a SevilaError."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except (RuntimeError, OSError, EOFError, ValueError, pickle.UnpicklingError) as error:
        # UnpicklingError also means weights_only refused pickled objects: never unpickle a user's file.
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise SevilaError(
            f"{path}: not a readable checkpoint ({reason}); it is truncated, damaged or not a sevila stage's "
            ".ckpt: pass an intact last.ckpt, or drop --ckpt_path to start afresh"
        ) from error
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise SevilaError(f"{path}: not a Lightning checkpoint (no state_dict); pass a stage's last.ckpt")
