"""The embedded demo benchmark: short clips whose answer lives only in a few frames, in SeViLA's formats.

Layout written by `generate_benchmark(root, settings)`:
  videos/<video>.mp4                     h264/yuv420p clips (train0000.., val0000..)
  qa/{train,val}.json                    SeViLA-format QA (qid types Color and Shape, 5 options; the
                                         `count` variant: Count, options one..five)
  moments/{train,val}.json               QVHighlights-format queries (`a red circle appears`) of the moment
                                         clips (videos/moments_train0000..): no QA clip is among them
  raw/val.csv, raw/map_vid_vidorID.json  the val questions in the official NExT-QA layout
  event_windows.json                     QA video -> [[first_frame, last_frame], ...] of its events (scoring only)
  complete                               the settings, written last: present = all of the above is done
"""

from __future__ import annotations

import csv
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sevila.demo.render import COLOURS, SHAPES, encode_video, render_frame, sample_scene
from sevila.demo.world import (
    NUM_OPTIONS,
    QUESTIONS,
    SPLITS,
    SyntheticSettings,
    VideoPlan,
    ask,
    plan_moments,
    plan_split,
    vocabulary,
)
from sevila.io import atomic_open, write_json

__all__ = ["BenchmarkFiles", "FrameExample", "SyntheticSettings", "frame_examples", "generate_benchmark", "vocabulary"]

logger = logging.getLogger(__name__)

NEXTQA_HEADER = ("video", "frame_count", "width", "height", "question", "answer", "qid", "type",
                 *(f"a{i}" for i in range(NUM_OPTIONS)))
_FORMAT_VERSION = 5  # bump when the generator changes what it writes, so old outputs are regenerated


@dataclass(frozen=True)
class BenchmarkFiles:
    """Paths of one generated benchmark."""

    root: Path
    videos: Path
    qa: dict[str, Path]
    moments: dict[str, Path]
    raw_csv: Path
    raw_video_map: Path
    event_windows: Path
    marker: Path

    @classmethod
    def at(cls, root: str | Path) -> BenchmarkFiles:
        """The layout under `root` (nothing is created)."""
        root = Path(root)
        return cls(
            root=root,
            videos=root / "videos",
            qa={split: root / "qa" / f"{split}.json" for split in SPLITS},
            moments={split: root / "moments" / f"{split}.json" for split in SPLITS},
            raw_csv=root / "raw" / "val.csv",
            raw_video_map=root / "raw" / "map_vid_vidorID.json",
            event_windows=root / "event_windows.json",
            marker=root / "complete",
        )

    def video(self, name: str) -> Path:
        """The file of one clip."""
        return self.videos / f"{name}.mp4"


@dataclass(frozen=True)
class FrameExample:
    """One rendered frame with a question about the event; only event frames show the answer.

    `colour` is the vivid shape's colour (None on a distractor frame); `hue` and `shape` are what the frame
    shows (the pale shape's on a distractor frame). `answer` always indexes the event's true answer.
    """

    image: torch.Tensor  # (3, size, size) uint8
    question: str
    options: tuple[str, ...]
    answer: int
    qtype: str
    event: bool
    colour: str | None
    hue: str
    shape: str


def generate_benchmark(output_dir: str | Path, settings: SyntheticSettings) -> BenchmarkFiles:
    """Write the whole benchmark under `output_dir`, or nothing if a complete one with these settings is there."""
    files = BenchmarkFiles.at(output_dir)
    stamp = _stamp(settings)
    if files.marker.is_file() and json.loads(files.marker.read_text(encoding="utf-8")) == stamp:
        logger.info("%s: demo benchmark already complete; skipping", files.root)
        return files
    files.marker.unlink(missing_ok=True)
    started = time.perf_counter()
    plans = {split: plan_split(settings, split) for split in SPLITS}
    moments = {split: plan_moments(settings, split) for split in SPLITS}
    for plan in [*plans["train"], *plans["val"], *moments["train"], *moments["val"]]:
        encode_video(files.video(plan.name), plan.frames(), plan.fps)
    for split in SPLITS:
        write_json(files.qa[split], [r.to_json() for plan in plans[split] for r in plan.qa_records()])
        write_json(files.moments[split], [plan.moment_record().to_json() for plan in moments[split]])
    _write_nextqa(files, plans["val"], settings.size)
    write_json(files.event_windows, {plan.name: plan.windows() for plan in plans["train"] + plans["val"]})
    write_json(files.marker, stamp)
    count = sum(map(len, [*plans.values(), *moments.values()]))
    logger.info("%s: wrote %d clips in %.1f s", files.root, count, time.perf_counter() - started)
    return files


def frame_examples(settings: SyntheticSettings, count: int, seed: int) -> list[FrameExample]:
    """`count` single frames drawn as the clips' frames are, about half of them event frames, with questions."""
    rng = np.random.default_rng([seed, len(SPLITS)])  # a stream no split's clips use
    examples = []
    for _ in range(count):
        colour, shape = str(rng.choice(list(COLOURS))), str(rng.choice(SHAPES))
        scene = sample_scene(rng, settings.size, colour, shape)
        index = int(rng.integers(settings.max_seconds * settings.fps))
        event = bool(rng.random() < 0.5)
        question = ask(rng, str(rng.choice(list(QUESTIONS))), scene)
        image = torch.from_numpy(render_frame(scene, index, event)).permute(2, 0, 1).contiguous()
        text, options = question.prepared()
        examples.append(FrameExample(
            image=image,
            question=text,
            options=options,
            answer=question.answer,
            qtype=question.qtype,
            event=event,
            colour=colour if event else None,
            hue=colour if event else scene.distractor_hue,
            shape=shape if event else scene.distractor_shape,
        ))
    return examples


def _stamp(settings: SyntheticSettings) -> dict[str, Any]:
    """What the completion marker holds: a round-trip through JSON makes tuples lists, as when read back."""
    fields = asdict(settings)
    if settings.variant == "event":  # the default world's marker from before the variant existed stays valid
        del fields["variant"]
    return json.loads(json.dumps({"version": _FORMAT_VERSION, "settings": fields}))


def _write_nextqa(files: BenchmarkFiles, plans: list[VideoPlan], size: int) -> None:
    """The clips' questions as the official NExT-QA val.csv + map_vid_vidorID.json (videos at the root)."""
    with atomic_open(files.raw_csv) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(NEXTQA_HEADER)
        for plan in plans:
            for index, question in enumerate(plan.questions):
                meta = [plan.name, plan.num_frames, size, size, question.text, question.answer, index, question.qtype]
                writer.writerow(meta + list(question.options))
    write_json(files.raw_video_map, {plan.name: plan.name for plan in plans})
