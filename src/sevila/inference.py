"""The forward chain on one video file: sample n frames, run the ViT once, then the model's chain (predict, demo)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import Tensor

from sevila.data.transforms import normalize
from sevila.data.video import sample_frames
from sevila.model.keyframes import Selection, frames_per_clip
from sevila.model.sevila import ChainOutput, SeViLA
from sevila.prompts import Prompts


@dataclass
class VideoAnswer:
    """One question about one video: the n sampled frames and what the chain made of them."""

    frames: Tensor  # (T, 3, S, S) uint8 as sampled
    indices: list[int]  # video frame numbers of the T frames
    fps: float
    num_options: int
    chain: ChainOutput  # for a batch of this one question

    @property
    def scores(self) -> Tensor:
        """(T,) Localizer yes-logits of the sampled frames."""
        assert self.chain.frame_scores is not None, "the Localizer chose the keyframes"
        return self.chain.frame_scores[0]

    @property
    def keyframes(self) -> Tensor:
        """(K,) positions of the keyframes among the T frames, in temporal order."""
        return self.chain.keyframe_indices[0]

    @property
    def option_probs(self) -> list[float]:
        """Softmax over the question's options of the Answerer's letter logits."""
        return self.chain.option_logits[0, : self.num_options].softmax(dim=-1).tolist()


@torch.no_grad()
def answer_video(
    model: SeViLA, path: str | os.PathLike[str], prompts: Prompts, num_options: int, num_frames: int,
    span: tuple[float, float] | None = None, selection: Selection = "localizer",
) -> VideoAnswer:
    """Sample n frames (evaluation rule, method §7; k for uniform keyframes), encode each once, run the chain."""
    sampled = sample_frames(path, frames_per_clip(selection, num_frames, model.num_keyframes), span=span,
                            size=model.image_size)
    raw = model.encode_frames(normalize(sampled.frames).unsqueeze(0))  # (1, T, P, Dv)
    chain = model(raw, [prompts.answerer], [prompts.localizer], torch.tensor([num_options]), selection=selection)
    return VideoAnswer(sampled.frames, sampled.indices, sampled.fps, num_options, chain)
