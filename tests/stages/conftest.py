"""A tiny benchmark on disk: real h264 videos, SeViLA-format QA and QVHighlights-format moments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from video_factory import write_indexed_video

FPS = 8


def _qa(video: str, i: int, answer: int) -> dict:
    return {"video": video, "qid": f"{'Color' if i % 2 else 'Shape'}_{video}_{i}", "question": "what is the color",
            "num_option": 4, "a0": "red", "a1": "blue", "a2": "green", "a3": "circle", "answer": answer}


def _moment(video: str, i: int) -> dict:
    return {"qid": i, "query": "a red circle", "duration": 3.0, "vid": video, "relevant_windows": [[1.0, 2.0]]}


@pytest.fixture(scope="session")
def tiny_benchmark(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """videos/v{0..3}.mp4 (24 frames at 8 fps), qa/{train,val}.json and moments/{train,val}.json."""
    root = tmp_path_factory.mktemp("tiny_benchmark")
    (root / "videos").mkdir()
    for v in range(4):
        write_indexed_video(root / "videos" / f"v{v}.mp4", num_frames=24, fps=FPS, size=(48, 48))
    splits = {"train": ["v0", "v1", "v2"], "val": ["v3"]}
    for split, videos in splits.items():
        qa = [_qa(v, i, i % 4) for v in videos for i in range(2)]
        moments = [_moment(v, 10 * int(v[1:]) + i) for v in videos for i in range(2)]
        for folder, rows in (("qa", qa), ("moments", moments)):
            (root / folder).mkdir(exist_ok=True)
            (root / folder / f"{split}.json").write_text(json.dumps(rows))
    return root
