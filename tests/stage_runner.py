"""Run the real stage YAMLs through `sevila fit|test` with a small overlay pointing at tiny data."""

from __future__ import annotations

from pathlib import Path

import yaml

from sevila.cli import main as sevila_main

STAGES = Path(__file__).resolve().parents[1] / "stages"


def write_overlay(
    path: Path, backbone: Path, data_root: Path, folder: str,
    model: dict | None = None, data: dict | None = None, trainer: dict | None = None,
) -> Path:
    """An overlay YAML pointing a stage at the tiny backbone and benchmark, with tiny settings."""
    overlay = {
        "model": {"init_args": {"backbone": str(backbone), "num_keyframes": 2, "warmup_steps": 1, "global_batch_size": 2,
                                "max_device_batch_size": 2, **(model or {})}},
        "data": {"init_args": {"annotation_dir": str(data_root / folder), "video_dir": str(data_root / "videos"),
                               "num_frames": 4, "eval_num_frames": 4, "batch_size": 2, "eval_batch_size": 2,
                               "num_workers": 0, **(data or {})}},
        "trainer": {"max_epochs": 1, "enable_progress_bar": False, "log_every_n_steps": 1, **(trainer or {})},
    }
    path.write_text(yaml.safe_dump(overlay))
    return path


def run_stage(verb: str, stage: str, data: str, overlay: Path, *flags: str, profile: str = "demo") -> int:
    """`sevila VERB -c stages/data/DATA.yaml -c stages/STAGE.yaml -c stages/profiles/PROFILE.yaml -c OVERLAY`."""
    configs = [STAGES / "data" / f"{data}.yaml", STAGES / f"{stage}.yaml", STAGES / "profiles" / f"{profile}.yaml",
               overlay]
    args = [verb]
    for config in configs:
        args += ["-c", str(config)]
    return sevila_main([*args, *flags])


def run_dir(stage_folder: Path) -> Path:
    """The one run folder (`run-<digest>`) `sevila fit` made inside a stage folder (`--trainer.default_root_dir`)."""
    runs = sorted(stage_folder.glob("run-*"))
    assert len(runs) == 1, f"expected one run folder in {stage_folder}, found {[r.name for r in runs]}"
    return runs[0]
