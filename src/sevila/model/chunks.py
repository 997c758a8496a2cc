"""Row chunks: how the frozen passes bound their memory (`SeViLA.chunk_size`), one setting for the ViT and T5."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def row_slices(rows: int, chunk_size: int | None) -> list[slice]:
    """Consecutive slices covering `rows` rows, `chunk_size` each (the last may be shorter); None: one slice."""
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"chunk_size={chunk_size}; expected a positive integer or None (all rows at once)")
    step = rows if chunk_size is None else chunk_size
    return [slice(start, start + step) for start in range(0, rows, max(step, 1))] or [slice(0, 0)]


def over_chunks(fn: Callable[..., Tensor], rows: int, chunk_size: int | None, *tensors: Tensor) -> Tensor:
    """`fn` on the same rows of every tensor, `chunk_size` rows per call, concatenated; one call needs no copy."""
    parts = [fn(*(tensor[rows_] for tensor in tensors)) for rows_ in row_slices(rows, chunk_size)]
    return parts[0] if len(parts) == 1 else torch.cat(parts)
