"""Collect per-question rows across processes; each dataset index counts once (DDP pads with repeats)."""

from __future__ import annotations

from typing import Any

import torch.distributed as dist


def gather_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """All processes' rows, de-duplicated by their `index` and sorted by it."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        gathered: list[list[dict[str, Any]] | None] = [None] * dist.get_world_size()
        dist.all_gather_object(gathered, rows)
        rows = [row for part in gathered for row in part or []]
    unique = {row["index"]: row for row in reversed(rows)}  # keep the first seen of each index
    return [unique[index] for index in sorted(unique)]
