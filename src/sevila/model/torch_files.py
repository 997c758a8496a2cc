"""Reading a user's torch file (`.pth`, `.ckpt`) safely: weights only, and every failure one plain reason."""

from __future__ import annotations

import os
import re
import warnings
from typing import Any

import torch

# torch's messages advise re-running with weights_only=False or allow-listing the refused class: for a
# damaged, random or hostile file that is wrong or dangerous, so sentences saying either are dropped.
_ADVICE = re.compile(r"weights_only|safe_globals|trust|file an issue|documentation|internal miniz error|"
                     r"high likelihood|saved properly|transferred", re.IGNORECASE)


class UnreadableTorchFile(ValueError):
    """A file torch.load cannot read with weights_only=True; the message is the reason, without torch's advice."""


def load_weights_only(path: str | os.PathLike[str], mmap: bool = False) -> Any:
    """`torch.load` on CPU with weights_only=True: tensors and plain containers only, no object is unpickled."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "Detected pickle protocol 4": the error below says it all
            return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as error:  # noqa: BLE001 - damaged bytes fail anywhere in the zip reader and unpickler
        # Seen on truncated, bit-flipped and random files: RuntimeError, UnpicklingError, EOFError, ValueError,
        # UnicodeDecodeError, IndexError, KeyError, struct.error, OSError.
        raise UnreadableTorchFile(torch_error_reason(error)) from error


def torch_error_reason(error: BaseException) -> str:
    """torch's reason for refusing a file in one line, without its advice to unpickle it."""
    text = str(error)
    marker = "WeightsUnpickler error:"
    if marker in text:
        detail = next((line.strip() for line in text.split(marker, 1)[1].splitlines() if line.strip()), "")
        text = f"weights-only loading refuses its pickled data (damaged, or Python objects, never unpickled): {detail}"
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    sentences = [s for s in re.split(r"(?<=\.)\s+", first) if not _ADVICE.search(s)]
    reason = " ".join(sentences).strip().rstrip(".")
    return f"{type(error).__name__}: {reason}" if reason else type(error).__name__
