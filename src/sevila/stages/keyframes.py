"""Which k of the T candidate frames the Answerer sees: the Localizer's choice or a uniform baseline."""

from __future__ import annotations

import torch
from torch import Tensor


def uniform_keyframes(num_candidates: int, num_keyframes: int, batch_size: int, device: torch.device) -> Tensor:
    """Indices (B, K) of k frames spread evenly over T candidates: midpoints of k equal segments (method §7)."""
    if not 0 < num_keyframes <= num_candidates:
        raise ValueError(f"num_keyframes={num_keyframes} must be in 1..{num_candidates} (the candidate frames)")
    bounds = torch.linspace(0, num_candidates, num_keyframes + 1).long()
    midpoints = (bounds[:-1] + bounds[1:]) // 2
    return midpoints.to(device).unsqueeze(0).expand(batch_size, -1)
