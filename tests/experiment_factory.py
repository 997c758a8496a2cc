"""Tiny experiments: the real stages/ folder copied with its demo data YAMLs pointing at the tiny benchmark,
tiny settings for every stage run, and the flags pointing `sevila experiment` at a test's folders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

REPO_STAGES = Path(__file__).resolve().parents[1] / "stages"
# v3 is the validation video (24 frames): frames 4..8 are its event, so of 2 uniform keyframes (the midpoints of
# the clip's halves, 5 or 6 and 17 or 18) exactly one lies inside.
EVENT_WINDOWS = {"v0": [[0, 11]], "v1": [[12, 23]], "v2": [[4, 19]], "v3": [[4, 8]]}
TINY = {
    "model": {"init_args": {"num_keyframes": 2, "warmup_steps": 1, "global_batch_size": 2, "max_device_batch_size": 2}},
    "data": {"init_args": {"num_frames": 4, "eval_num_frames": 4, "batch_size": 2, "eval_batch_size": 2,
                           "num_workers": 0}},
    "trainer": {"max_epochs": 1, "enable_progress_bar": False, "log_every_n_steps": 1},
}


def tiny_stages(folder: Path, benchmark: Path) -> Path:
    """`folder/stages`: the real stage YAMLs, with the demo data YAMLs pointing at `benchmark`."""
    stages = folder / "stages"
    shutil.copytree(REPO_STAGES, stages)
    for name, sub in (("demo_qa", "qa"), ("demo_moments", "moments")):
        path = stages / "data" / f"{name}.yaml"
        tree = yaml.safe_load(path.read_text())
        tree["data"]["init_args"].update(annotation_dir=str(benchmark / sub), video_dir=str(benchmark / "videos"))
        path.write_text(yaml.safe_dump(tree))
    return stages


def write_tiny_overlay(path: Path, trainer: dict | None = None) -> Path:
    """The tiny settings every stage run of a test gets (`sevila experiment --config`)."""
    tree = json.loads(json.dumps(TINY))
    tree["trainer"].update(trainer or {})
    path.write_text(yaml.safe_dump(tree))
    return path


def experiment_args(root: Path, stages: Path, backbone: Path, overlay: Path) -> list[str]:
    """The flags that point `sevila experiment` at a test's folders, backbone and tiny settings."""
    return ["--stages", str(stages), "--checkpoints", str(root / "checkpoints"), "--results", str(root / "results"),
            "--backbone", str(backbone), "--config", str(overlay)]
