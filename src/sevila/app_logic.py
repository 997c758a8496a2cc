"""What the web app shows for one submitted question, without the web framework: checks, texts, pictures, chart."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure
from PIL import Image

from sevila import prompts
from sevila.charts import frame_score_chart
from sevila.data.video import VideoError, probe_video
from sevila.errors import SevilaError
from sevila.pipeline import Pipeline
from sevila.pipeline_types import Answer

MAX_OPTIONS = len(prompts.OPTION_LETTERS)
TILE = 192  # keyframes are shown at least this wide: ViT frames are small (224 px, the demo's 32 px)


@dataclass
class AppResult:
    """Everything the page shows for one question."""

    answer: str  # "B. blue"
    probabilities: dict[str, float]  # "A. red" -> probability
    keyframes: list[tuple[Image.Image, str]]  # the keyframes with captions, in temporal order
    keyframe_table: str  # Markdown: one row per keyframe (frame, time, score)
    chart: Figure  # the Localizer's score of every sampled frame over time


def parse_options(text: str | None) -> list[str]:
    """One option per non-empty line; 2 to 5 of them."""
    options = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if not 2 <= len(options) <= MAX_OPTIONS:
        raise SevilaError(f"{len(options)} answer option(s) given; type 2 to {MAX_OPTIONS} options, one per line")
    return options


def check_upload(video: str | os.PathLike[str] | None) -> Path:
    """The uploaded file, if it is a video PyAV can read; otherwise one sentence saying what is wrong."""
    if not video:
        raise SevilaError("no video: pick an example or upload a video file")
    path = Path(video)
    if not path.is_file() or path.stat().st_size == 0:
        raise SevilaError(f"{path.name}: the upload is empty or missing; upload the video again")
    try:
        info = probe_video(path)
    except VideoError as error:
        raise SevilaError(f"{path.name} is not a video this app can read: {_reason(error, path)}") from None
    if info.num_frames < 1:
        raise SevilaError(f"{path.name}: the video has no frames")
    return path


def _reason(error: VideoError, path: Path) -> str:
    """The decoder's reason without the server-side temp path."""
    return str(error).replace(f"{path}: ", "").replace(str(path), path.name)


def _tile(frame: Image.Image) -> Image.Image:
    scale = max(1, -(-TILE // frame.width))
    return frame.resize((frame.width * scale, frame.height * scale), Image.NEAREST)


def app_result(answer: Answer, options: list[str], question: str) -> AppResult:
    """The page's texts, keyframe pictures and chart of one Answer."""
    letters = [prompts.option_letter(i) for i in range(len(options))]
    probabilities = {f"{letter}. {option}": p for letter, option, p in zip(letters, options, answer.option_probs)}
    pictures, rows = [], ["| keyframe | frame | time (s) | Localizer score |", "|---|---|---|---|"]
    for number, keyframe in enumerate(answer.keyframes, start=1):
        image = Image.fromarray(answer.frames[keyframe.position].permute(1, 2, 0).contiguous().numpy())
        time = "?" if keyframe.time is None else f"{keyframe.time:.2f}"
        score = "-" if keyframe.score is None else f"{keyframe.score:.3f}"
        pictures.append((_tile(image), f"frame {keyframe.index} at {time} s (score {score})"))
        rows.append(f"| {number} | {keyframe.index} | {time} | {score} |")
    times = [t if t is not None else float(i) for t, i in zip(answer.frame_times, answer.frame_indices)]
    chosen = [k.position for k in answer.keyframes]
    chart = frame_score_chart(times, answer.frame_scores or [0.0] * len(times), chosen, f"Localizer: {question}")
    return AppResult(f"{letters[answer.answer]}. {answer.answer_text}", probabilities, pictures, "\n".join(rows),
                     chart)


def answer_upload(
    pipe: Pipeline, video: str | os.PathLike[str] | None, question: str | None, options_text: str | None,
    num_frames: int = 32, num_keyframes: int = 4,
) -> AppResult:
    """Check the submission, run the chain, and lay out the result; every problem is one SevilaError sentence."""
    path = check_upload(video)
    if not (question or "").strip():
        raise SevilaError("the question is empty; type a question about the video")
    options = parse_options(options_text)
    try:
        answer = pipe(path, question.strip(), options, int(num_frames), int(num_keyframes))
    except VideoError as error:
        raise SevilaError(f"{path.name} could not be decoded: {_reason(error, path)}") from None
    return app_result(answer, options, question.strip())
