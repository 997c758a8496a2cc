"""Which k of the T candidate frames the Answerer sees: the Localizer's top k, k uniform frames (method §4, §7), or
all T (`all`: the paper's BLIP-2^concat baseline over n uniform frames, k = n)."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

Selection = Literal["localizer", "uniform", "all"]
SELECTIONS: tuple[Selection, ...] = ("localizer", "uniform", "all")


def _check(num_keyframes: int, num_candidates: int) -> None:
    if not 0 < num_keyframes <= num_candidates:
        raise ValueError(f"num_keyframes={num_keyframes} must be in 1..{num_candidates} (the candidate frames)")


def top_k_keyframes(scores: Tensor, num_keyframes: int) -> Tensor:
    """Indices (B, K) of the top-k scores (B, T), sorted back into temporal order."""
    _check(num_keyframes, scores.shape[1])
    top = scores.topk(num_keyframes, dim=1).indices  # (B, K), by score
    return top.sort(dim=1).values  # (B, K), by time


def frames_per_clip(selection: Selection, num_frames: int, num_keyframes: int) -> int:
    """How many frames to sample from a clip: the n candidates for the Localizer to choose among, or for
    `uniform` the k keyframes themselves, one per equal segment of the clip, as the original's uniform baseline
    samples them (`n_frms=k`, recipe §6); `uniform_keyframes` then keeps all k. `all` keeps every one of n."""
    return num_keyframes if selection == "uniform" else num_frames


def uniform_keyframes(num_candidates: int, num_keyframes: int, batch_size: int, device: torch.device) -> Tensor:
    """Indices (B, K) of k frames spread evenly over T candidates: midpoints of k equal segments (method §7).

    With T == k (how stages and `sevila predict` sample, `frames_per_clip`) that is every frame.
    """
    _check(num_keyframes, num_candidates)
    bounds = torch.linspace(0, num_candidates, num_keyframes + 1).long()
    midpoints = (bounds[:-1] + bounds[1:]) // 2
    return midpoints.to(device).unsqueeze(0).expand(batch_size, -1)


def all_keyframes(num_candidates: int, batch_size: int, device: torch.device) -> Tensor:
    """Indices (B, T) of every candidate, in temporal order: the Answerer reads all n frames (k = n)."""
    return torch.arange(num_candidates, device=device).unsqueeze(0).expand(batch_size, -1)


def gather_frames(raw: Tensor, indices: Tensor) -> Tensor:
    """raw (B, T, P, D) and indices (B, K) -> (B, K, P, D)."""
    index = indices.view(*indices.shape, 1, 1).expand(-1, -1, *raw.shape[2:])
    return raw.gather(1, index)
