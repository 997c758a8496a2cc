"""Score every sampled frame of one video with the Localizer and pick the keyframes (predict, demo report)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import Tensor

from sevila.data.transforms import normalize
from sevila.data.video import sample_frames
from sevila.model.localizer import select_keyframes
from sevila.model.sevila import SeViLA


@dataclass
class LocalizedVideo:
    """The n sampled frames of a video with their Localizer scores and the k keyframes."""

    frames: Tensor  # (T, 3, S, S) uint8 as sampled
    indices: list[int]  # video frame numbers of the T frames
    fps: float
    raw: Tensor  # (1, T, P, Dv) raw ViT features, reusable by the Answerer
    scores: Tensor  # (T,) yes-logits
    keyframes: Tensor  # (K,) positions among the T frames, temporal order


@torch.no_grad()
def localize_video(
    model: SeViLA, path: str | os.PathLike[str], localizer_text: str, num_frames: int,
    span: tuple[float, float] | None = None,
) -> LocalizedVideo:
    """Sample n frames (eval rule, method §7), run the ViT once and the Localizer on each frame."""
    sampled = sample_frames(path, num_frames, span=span, size=model.image_size)
    raw = model.encode_frames(normalize(sampled.frames).unsqueeze(0))  # (1, T, P, Dv)
    scores = model.localizer(raw, [localizer_text])  # (1, T)
    keyframes = select_keyframes(scores, min(model.num_keyframes, scores.shape[1]))
    return LocalizedVideo(sampled.frames, sampled.indices, sampled.fps, raw, scores[0], keyframes[0])
