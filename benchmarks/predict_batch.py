"""Questions per second of `sevila predict --questions` against one `sevila predict` per question, demo-sized model.

usage: python benchmarks/predict_batch.py [--videos 6] [--questions-per-video 2] [--repeat 2]

Generates a few demo clips (`sevila demo-data`, validation questions: 2 per clip) and a random BLIP-2 of the demo
backbone's size (`sevila.demo.backbone.BackboneTraining.size`), then measures on CPU, in this run:
(a) end to end, as a user runs them: one `sevila predict --video ... --json` process per question against one
`sevila predict --questions FILE --output preds.jsonl` process (both load the model once per process);
(b) in one process, model loaded: `Pipeline.__call__` per question against `Pipeline.batch` (one decode and one
ViT pass per clip, the clip's questions in one chain call), best of `--repeat` interleaved rounds.
`--questions-per-video` above 2 repeats each clip's questions with the options rotated (NExT-QA has ~10 per clip).
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from sevila.data.annotations import read_qa_annotations
from sevila.demo.backbone import BackboneTraining
from sevila.demo.benchmark import SyntheticSettings, generate_benchmark
from sevila.demo.world import vocabulary
from sevila.model.tiny import build_tiny_backbone
from sevila.pipeline import Pipeline
from sevila.pipeline_types import Question


def _questions(root: Path, videos: int, per_video: int) -> list[dict]:
    """Rows of the custom schema: the demo's val questions, repeated with rotated options up to `per_video`."""
    files = generate_benchmark(root / "demo", SyntheticSettings(num_train_videos=1, num_val_videos=videos))
    rows = []
    by_video: dict[str, list] = {}
    for record in read_qa_annotations(files.qa["val"]):
        by_video.setdefault(record.video, []).append(record)
    for video, records in by_video.items():
        for i in range(per_video):
            record = records[i % len(records)]
            shift = i // len(records)
            options = list(record.options[shift:] + record.options[:shift])
            rows.append({"qid": f"{video}_{i}", "video": f"{video}.mp4", "question": record.question,
                         "options": options, "answer": options.index(record.options[record.answer])})
    return rows


def _sevila(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "sevila.cli", *args], check=True, capture_output=True, text=True)


def end_to_end(rows: list[dict], videos: Path, backbone: Path, work: Path) -> tuple[float, float]:
    """Seconds for one process per question, and for one `--questions` process."""
    start = time.perf_counter()
    for row in rows:
        options = [arg for option in row["options"] for arg in ("--option", option)]
        _sevila("predict", "--video", str(videos / row["video"]), "--question", row["question"], *options,
                "--backbone", str(backbone), "--json")
    single = time.perf_counter() - start
    questions = work / "questions.jsonl"
    questions.write_text("".join(json.dumps(row) + "\n" for row in rows))
    output = work / "preds.jsonl"
    output.unlink(missing_ok=True)
    start = time.perf_counter()
    _sevila("predict", "--questions", str(questions), "--video-dir", str(videos), "--output", str(output),
            "--backbone", str(backbone))
    batch = time.perf_counter() - start
    assert len(output.read_text().splitlines()) == len(rows)
    return single, batch


def in_process(rows: list[dict], videos: Path, backbone: Path, repeat: int) -> tuple[float, float]:
    """Best seconds of Pipeline calls one question at a time, and of one Pipeline.batch."""
    pipe = Pipeline.from_pretrained(backbone, device="cpu")
    questions = [Question(videos / r["video"], r["question"], r["options"], qid=r["qid"]) for r in rows]
    single, batch = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        alone = [pipe(q.video, q.question, q.options) for q in questions]
        single.append(time.perf_counter() - start)
        start = time.perf_counter()
        together = pipe.batch(questions)
        batch.append(time.perf_counter() - start)
        assert [a.answer for a in alone] == [a.answer for a in together]
    return min(single), min(batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=6)
    parser.add_argument("--questions-per-video", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows = _questions(work, args.videos, args.questions_per_video)
        backbone = build_tiny_backbone(work / "backbone", vocabulary(), BackboneTraining.size)
        videos = work / "demo" / "videos"
        n = len(rows)
        print(f"{n} questions about {args.videos} demo clips, n=32 frames, k=4; demo-sized random BLIP-2; "
              f"{torch.get_num_threads()} threads")
        single, batch = in_process(rows, videos, backbone, args.repeat)
        print(f"in one process:  per question {n / single:6.2f} q/s | batch {n / batch:6.2f} q/s | "
              f"ratio {single / batch:.2f}x")
        single, batch = end_to_end(rows, videos, backbone, work)
        print(f"end to end:      one `sevila predict` per question {n / single:6.2f} q/s ({single:.1f} s) | "
              f"`--questions` {n / batch:6.2f} q/s ({batch:.1f} s) | ratio {single / batch:.2f}x")


if __name__ == "__main__":
    main()
