"""Collect per-process lists across processes; rows count each dataset index once (DDP pads with repeats)."""

from __future__ import annotations

from typing import Any, TypeVar

import torch.distributed as dist

T = TypeVar("T")


def gather_lists(items: list[T]) -> list[T]:
    """All processes' items concatenated in rank order (collective: call on every rank); this list when alone."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        gathered: list[list[T] | None] = [None] * dist.get_world_size()
        dist.all_gather_object(gathered, items)
        return [item for part in gathered for item in part or []]
    return items


def gather_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """All processes' rows, de-duplicated by their `index` and sorted by it."""
    unique = {row["index"]: row for row in reversed(gather_lists(rows))}  # keep the first seen of each index
    return [unique[index] for index in sorted(unique)]
