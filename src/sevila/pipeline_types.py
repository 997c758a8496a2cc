"""What the Pipeline takes and gives: a question about a clip, and the chain's answer with what it looked at."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor

from sevila import prompts
from sevila.errors import SevilaError
from sevila.inference import VideoAnswer


@dataclass(frozen=True)
class Question:
    """One multiple-choice question about a video file, or about its `span` (start, end) in seconds."""

    video: str | os.PathLike[str]
    question: str
    options: tuple[str, ...]
    span: tuple[float, float] | None = None
    qid: str | None = None  # carried into the answer, for files of many questions

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", tuple(self.options))  # a list is welcome too

    def prompts(self) -> prompts.Prompts:
        """The Answerer's and the Localizer's texts (sevila-method.md §2)."""
        return prompts.qa_prompts(self.question, self.options)


def check_question(question: Question) -> None:
    """A question needs text and 2-5 non-empty options; the message names the qid when there is one."""
    where = f"question {question.qid!r}: " if question.qid is not None else ""
    count, most = len(question.options), len(prompts.OPTION_LETTERS)
    if not question.question.strip():
        raise SevilaError(f"{where}the question is empty; ask a question about the video")
    if not 2 <= count <= most:
        raise SevilaError(f"{where}{count} options; give 2 to {most} answer options")
    if any(not isinstance(option, str) or not option.strip() for option in question.options):
        raise SevilaError(f"{where}an option is empty; every answer option needs text")


@dataclass(frozen=True)
class Keyframe:
    """One frame the Answerer read: where it is among the n sampled frames and in the video, its time and score."""

    position: int  # among the n sampled frames, 0..n-1
    index: int  # frame number in the video
    time: float | None  # seconds (index / average fps); None when the video does not say its frame rate
    score: float | None  # the Localizer's yes-logit; None when the keyframes were uniform


@dataclass
class Answer:
    """The forward chain's answer to one question, and what it looked at."""

    qid: str | None
    answer: int  # index of the chosen option
    answer_text: str
    option_probs: list[float]  # softmax over the question's options
    keyframes: list[Keyframe]  # in temporal order
    frame_indices: list[int]  # the n sampled frames' numbers in the video
    frame_times: list[float | None]
    frame_scores: list[float] | None  # every sampled frame's Localizer score; None with uniform keyframes
    frames: Tensor = field(repr=False)  # (T, 3, S, S) uint8, the sampled frames as the ViT saw them

    def to_json(self) -> dict[str, Any]:
        """A JSON object of everything but the pixels."""
        return {
            "qid": self.qid, "answer": self.answer, "answer_text": self.answer_text,
            "option_probs": [round(p, 6) for p in self.option_probs],
            "keyframes": [{"position": k.position, "index": k.index, "time_s": k.time, "score": k.score}
                          for k in self.keyframes],
            "frame_indices": self.frame_indices, "frame_times": self.frame_times,
            "frame_scores": None if self.frame_scores is None else [round(s, 6) for s in self.frame_scores],
        }


def answer_from_video(question: Question, answered: VideoAnswer) -> Answer:
    """The Answer of one question from `answer_questions`' result for it."""
    probs = answered.option_probs
    choice = max(range(len(probs)), key=probs.__getitem__)
    scores = None if answered.chain.frame_scores is None else answered.scores.float().tolist()
    times = [round(i / answered.fps, 3) if answered.fps > 0 else None for i in answered.indices]
    keyframes = [
        Keyframe(k, answered.indices[k], times[k], None if scores is None else round(scores[k], 4))
        for k in answered.keyframes.tolist()
    ]
    return Answer(question.qid, choice, question.options[choice], probs, keyframes, list(answered.indices), times,
                  scores, answered.frames)
