"""`sevila.Pipeline`: answer multiple-choice questions about your own videos from Python, through the one chain.

    pipe = Pipeline.from_profile("demo")
    result = pipe("clip.mp4", "what color is the vivid shape", ["red", "blue", "green"])
    result.answer_text, result.option_probs, result.keyframes, result.frame_scores

Every answer comes from `sevila.inference.answer_questions`, i.e. `SeViLA.forward`, the chain the stages
evaluate with; questions about the same clip share one decode and one ViT pass.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from sevila.errors import SevilaError
from sevila.inference import answer_questions
from sevila.model.backbone import DEFAULT_BACKBONE, load_blip2
from sevila.model.head_weights import load_all_heads
from sevila.model.keyframes import SELECTIONS, Selection
from sevila.model.sevila import SeViLA
from sevila.pipeline_types import Answer, Question, answer_from_video, check_question

log = logging.getLogger(__name__)

__all__ = ["PROFILES", "Answer", "Pipeline", "Profile", "Question"]

DType = torch.dtype | str | None


@dataclass(frozen=True)
class Profile:
    """Where a profile's backbone and default stage outputs are (relative to the working directory)."""

    backbone: str
    checkpoints: tuple[str, ...]


PROFILES = {
    "demo": Profile(
        "data/demo/backbone",
        ("checkpoints/demo/demo_qa/localizer_refined.safetensors", "checkpoints/demo/demo_qa/answerer.safetensors"),
    ),
    "paper": Profile(DEFAULT_BACKBONE, ("checkpoints/paper/sevila_pretrained.safetensors",)),
}


def _dtype(value: DType, default: torch.dtype) -> torch.dtype:
    """A torch dtype from a dtype, its name (`"bfloat16"`, `"float16"`, `"float32"`) or None (the default)."""
    if value is None:
        return default
    if isinstance(value, torch.dtype):
        return value
    found = getattr(torch, str(value), None)
    if not isinstance(found, torch.dtype) or not found.is_floating_point:
        raise SevilaError(f"dtype {value!r} is not a floating-point torch dtype; expected float32, bfloat16 or float16")
    return found


def frozen_dtypes(
    device: torch.device, vision: DType = None, language: DType = None
) -> tuple[torch.dtype, torch.dtype]:
    """The frozen ViT's and T5's dtypes: the given ones, else float32 on CPU and the original's float16 ViT and
    bfloat16 T5 on a GPU."""
    gpu = device.type == "cuda"
    default_vision, default_language = (torch.float16, torch.bfloat16) if gpu else (torch.float32, torch.float32)
    return _dtype(vision, default_vision), _dtype(language, default_language)


class Pipeline:
    """A SeViLA model on one device, answering questions about video files."""

    def __init__(self, model: SeViLA) -> None:
        self.model = model.eval()

    @property
    def device(self) -> torch.device:
        """Where the model's weights are."""
        return next(self.model.parameters()).device

    @classmethod
    def from_pretrained(
        cls, backbone: str | os.PathLike[str] = DEFAULT_BACKBONE, checkpoints: Iterable[str | os.PathLike[str]] = (),
        *, device: str | torch.device | None = None, dtype: DType = None, vision_dtype: DType = None,
        language_dtype: DType = None, chunk_size: int | None = None,
    ) -> Pipeline:
        """BLIP-2 `backbone` (hub name or folder) with the heads of the given stage outputs (none: zero-shot).

        `device` defaults to CUDA when present. `dtype` casts the frozen ViT and T5 (`vision_dtype` and
        `language_dtype` each one of them); by default float32 on CPU and, on GPU, the original's float16
        ViT and bfloat16 T5. The trained heads stay float32. `chunk_size` bounds the frames per ViT call and the
        (question, frame) pairs per Localizer T5 call (`SeViLA.chunk_size`; none: all at once).
        """
        if chunk_size is not None and chunk_size < 1:
            raise SevilaError(f"chunk_size is {chunk_size}; expected a positive integer or None (all at once)")
        model = SeViLA(load_blip2(backbone))
        model.chunk_size = chunk_size
        for path in checkpoints:
            log.info("loaded %s from %s", ", ".join(load_all_heads(model, path)), path)
        target = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        vision, language = frozen_dtypes(target, vision_dtype or dtype, language_dtype or dtype)
        return cls(model.set_precision(vision, language).to(target))  # cast first: the device holds half as much

    @classmethod
    def from_profile(
        cls, profile: str = "demo", backbone: str | os.PathLike[str] | None = None,
        checkpoints: Iterable[str | os.PathLike[str]] | None = None, **kwargs: Any,
    ) -> Pipeline:
        """A profile's backbone and those of its stage outputs that exist (`make demo`, `make import-checkpoint`);
        `backbone` and `checkpoints` replace the profile's."""
        if profile not in PROFILES:
            raise SevilaError(f"unknown profile {profile!r}; expected one of: {', '.join(PROFILES)}")
        if checkpoints is None:
            checkpoints = [path for path in PROFILES[profile].checkpoints if Path(path).is_file()]
            for path in sorted(set(PROFILES[profile].checkpoints) - set(checkpoints)):
                log.warning("%s not found: that head stays BLIP-2's zero-shot Q-Former", path)
        return cls.from_pretrained(backbone or PROFILES[profile].backbone, checkpoints, **kwargs)

    def __call__(
        self, video: str | os.PathLike[str], question: str, options: Sequence[str], num_frames: int = 32,
        num_keyframes: int = 4, span: tuple[float, float] | None = None, selection: Selection = "localizer",
    ) -> Answer:
        """Answer one question about `video` (or its `span` in seconds) from k keyframes among n frames."""
        return self.answer_clip([Question(video, question, tuple(options), span)], num_frames, num_keyframes,
                                selection)[0]

    def batch(
        self, questions: Iterable[Question], num_frames: int = 32, num_keyframes: int = 4, batch_size: int = 8,
        selection: Selection = "localizer",
    ) -> list[Answer]:
        """Answers in the order of `questions`; those about the same clip share one decode and one ViT pass."""
        questions = list(questions)
        answers: dict[int, Answer] = {}
        for positions in clip_groups(questions):
            found = self.answer_clip([questions[p] for p in positions], num_frames, num_keyframes, selection,
                                     batch_size)
            answers.update(zip(positions, found))
        return [answers[p] for p in range(len(questions))]

    def answer_clip(
        self, questions: Sequence[Question], num_frames: int = 32, num_keyframes: int = 4,
        selection: Selection = "localizer", batch_size: int = 8,
    ) -> list[Answer]:
        """Questions about one clip (the same video and span): one decode, one ViT pass, `batch_size` per chain call.

        Raises `VideoError` (a `SevilaError`) when the video cannot be decoded.
        """
        if not questions:
            return []
        if len({clip_key(q) for q in questions}) != 1:
            raise ValueError("answer_clip needs questions about one clip; `batch` groups them")
        self._check_settings(num_frames, num_keyframes, selection, batch_size)
        for question in questions:
            check_question(question)
        video = Path(questions[0].video)
        if not video.is_file():
            raise SevilaError(f"{video}: no such video file")
        self.model.num_keyframes = num_keyframes  # the chain's k (`SeViLA.select`)
        prompts = [question.prompts() for question in questions]
        found = answer_questions(self.model, video, prompts, [len(q.options) for q in questions], num_frames,
                                 questions[0].span, selection, batch_size)
        return [answer_from_video(question, answered) for question, answered in zip(questions, found)]

    @staticmethod
    def _check_settings(num_frames: int, num_keyframes: int, selection: str, batch_size: int) -> None:
        if not 1 <= num_keyframes <= num_frames:
            raise SevilaError(f"num_keyframes {num_keyframes} must be in 1..num_frames ({num_frames})")
        if selection not in SELECTIONS:
            raise SevilaError(f"selection {selection!r}; expected one of: {', '.join(SELECTIONS)}")
        if batch_size < 1:
            raise SevilaError(f"batch_size is {batch_size}; expected a positive integer")


def clip_key(question: Question) -> tuple[str, tuple[float, float] | None]:
    """What makes two questions share frames: the same video file and span."""
    return str(question.video), question.span


def clip_groups(questions: Sequence[Question]) -> Iterator[list[int]]:
    """Positions of the questions about each clip (video and span), clips in first-seen order."""
    groups: dict[tuple[str, tuple[float, float] | None], list[int]] = {}
    for position, question in enumerate(questions):
        groups.setdefault(clip_key(question), []).append(position)
    yield from groups.values()
