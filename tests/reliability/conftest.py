"""A tiny benchmark with one unreadable video, and a trained stage checkpoint, for the bad-input catalogue."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from stage_runner import run_stage, write_overlay
from video_factory import write_indexed_video, write_random_bytes


def qa_record(video: str, i: int) -> dict:
    """A 4-option SeViLA-format question about `video`."""
    return {"video": video, "qid": f"Color_{video}_{i}", "question": "what is the color", "num_option": 4,
            "a0": "red", "a1": "blue", "a2": "green", "a3": "circle", "answer": i % 4}


@pytest.fixture(scope="session")
def bad_benchmark(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """videos/v{0,1,2}.mp4 readable, videos/broken.mp4 random bytes; qa/train.json and qa/val.json use all four."""
    root = tmp_path_factory.mktemp("bad_benchmark")
    (root / "videos").mkdir()
    for v in range(3):
        write_indexed_video(root / "videos" / f"v{v}.mp4", num_frames=16, fps=8, size=(48, 48))
    write_random_bytes(root / "videos" / "broken.mp4")
    (root / "qa").mkdir()
    (root / "qa" / "train.json").write_text(json.dumps([qa_record(v, 0) for v in ("v0", "broken", "v1")]))
    (root / "qa" / "val.json").write_text(json.dumps([qa_record(v, 1) for v in ("v2", "broken", "v0")]))
    return root


@pytest.fixture(scope="session")
def answerer_run(tmp_path_factory: pytest.TempPathFactory, tiny_backbone_dir: Path, bad_benchmark: Path) -> Path:
    """One finetune_answerer epoch with on_bad_video: skip: run-*/checkpoints/last.ckpt and answerer.safetensors."""
    run = tmp_path_factory.mktemp("answerer_run")
    overlay = write_overlay(run / "overlay.yaml", tiny_backbone_dir, bad_benchmark, "qa",
                            model={"export_path": str(run / "answerer.safetensors")},
                            data={"on_bad_video": "skip"},
                            trainer={"default_root_dir": str(run), "limit_val_batches": 0})
    assert run_stage("fit", "finetune_answerer", "demo_qa", overlay) == 0
    return run
