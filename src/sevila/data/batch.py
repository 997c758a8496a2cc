"""The batches the DataModules yield and the stages consume: TypedDicts with stable keys."""

from __future__ import annotations

from typing import TypedDict

from torch import Tensor


class QABatch(TypedDict):
    """B multiple-choice questions, each with T candidate frames of its video."""

    frames: Tensor  # (B, T, 3, S, S) float, CLIP-normalised
    frame_indices: Tensor  # (B, T) int64 frame numbers in the video (presentation order)
    fps: Tensor  # (B,) float average frame rate of each video
    answerer_text: list[str]  # the Answerer prompt (method §2)
    localizer_text: list[str]  # the Localizer prompt (method §2)
    answer: Tensor  # (B,) int64 gold option index
    num_options: Tensor  # (B,) int64, 2..5
    qid: list[str]  # carries the question type as its prefix before the first `_`
    video_file: list[str]  # the decoded file of each video (keys the feature cache)
    index: Tensor  # (B,) int64 position of the question in its dataset (de-duplicates DDP padding)
    skipped: list[dict[str, str]]  # {qid, video, reason} of records on_bad_video="skip" left out for this batch


class MomentBatch(TypedDict):
    """B QVHighlights queries, each with T frames and a yes/no label per frame."""

    frames: Tensor  # (B, T, 3, S, S) float, CLIP-normalised
    frame_indices: Tensor  # (B, T) int64
    timestamps: Tensor  # (B, T) float seconds of each frame (index / fps)
    fps: Tensor  # (B,) float
    localizer_text: list[str]  # moment_prompt(query)
    labels: Tensor  # (B, T) bool: the frame's timestamp lies in a relevant window
    duration: Tensor  # (B,) float seconds
    windows: list[list[tuple[float, float]]]  # ground-truth windows (empty on the test split)
    qid: list[str]
    video_file: list[str]  # the decoded file of each video (keys the feature cache)
    index: Tensor  # (B,) int64
    skipped: list[dict[str, str]]  # {qid, video, reason}, as in QABatch
