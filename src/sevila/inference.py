"""The forward chain on one video file: sample n frames, run the ViT once, then the model's chain for one or more
questions about it (the Pipeline, `sevila predict`, the demo report)."""

from __future__ import annotations

import os
from collections.abc import Sequence
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


def _row(chain: ChainOutput, i: int) -> ChainOutput:
    """Question i of a chain output over B questions, as a batch of one."""
    scores = None if chain.frame_scores is None else chain.frame_scores[i : i + 1]
    return ChainOutput(chain.option_logits[i : i + 1], chain.keyframe_indices[i : i + 1], scores)


@torch.no_grad()
def answer_questions(
    model: SeViLA, path: str | os.PathLike[str], prompts: Sequence[Prompts], num_options: Sequence[int],
    num_frames: int, span: tuple[float, float] | None = None, selection: Selection = "localizer",
    batch_size: int = 8,
) -> list[VideoAnswer]:
    """Questions about one clip: its n frames are decoded and run through the ViT once, then the model's forward
    chain answers them on those raw features, `batch_size` questions per call (evaluation frames, method §7;
    for uniform keyframes the k frames themselves, `frames_per_clip`)."""
    count = frames_per_clip(selection, num_frames, model.num_keyframes)
    sampled = sample_frames(path, count, span=span, size=model.image_size)
    raw = model.encode_frames(normalize(sampled.frames).unsqueeze(0))  # (1, T, P, Dv)
    answers = []
    for start in range(0, len(prompts), batch_size):
        chunk, counts = prompts[start : start + batch_size], num_options[start : start + batch_size]
        features = raw.expand(len(chunk), *raw.shape[1:])  # (B, T, P, Dv): the same features for every question
        chain = model(features, [p.answerer for p in chunk], [p.localizer for p in chunk], torch.tensor(counts),
                      selection=selection)
        answers += [VideoAnswer(sampled.frames, sampled.indices, sampled.fps, count, _row(chain, i))
                    for i, count in enumerate(counts)]
    return answers


def answer_video(
    model: SeViLA, path: str | os.PathLike[str], prompts: Prompts, num_options: int, num_frames: int,
    span: tuple[float, float] | None = None, selection: Selection = "localizer",
) -> VideoAnswer:
    """One question about one clip: `answer_questions` for a batch of one."""
    return answer_questions(model, path, [prompts], [num_options], num_frames, span, selection)[0]
