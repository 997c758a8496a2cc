"""A reduced `make demo`: the same commands on 6 synthetic videos, 1 epoch each; every artifact is checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from stage_runner import STAGES

from sevila.cli import main as sevila_main

MODES = ("uniform", "localizer", "refined")


def _stage(verb: str, stage: str, data: str, *flags: str) -> None:
    configs = ["-c", str(STAGES / "data" / f"{data}.yaml"), "-c", str(STAGES / f"{stage}.yaml"),
               "-c", str(STAGES / "profiles" / "demo.yaml")]
    assert sevila_main([verb, *configs, *flags]) == 0


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """Runs data -> backbone -> stages 1-3 -> three evaluations -> report, as the Makefile does."""
    root = tmp_path_factory.mktemp("demo")
    data, ckpt, results = root / "data", root / "checkpoints", root / "results"
    assert sevila_main(["demo-data", "--output", str(data), "--train-videos", "4", "--val-videos", "2"]) == 0
    assert sevila_main(["demo-backbone", "--output", str(data / "backbone"), "--steps", "3"]) == 0
    common = [f"--model.init_args.backbone={data / 'backbone'}", "--trainer.max_epochs=1", "--data.init_args.num_workers=0",
              "--trainer.enable_progress_bar=false", "--model.init_args.global_batch_size=4"]
    qa = [f"--data.init_args.annotation_dir={data / 'qa'}", f"--data.init_args.video_dir={data / 'videos'}"]
    localizer, answerer = ckpt / "demo_moments" / "localizer.safetensors", ckpt / "demo_qa" / "answerer.safetensors"
    refined = ckpt / "demo_qa" / "localizer_refined.safetensors"
    _stage("fit", "pretrain_localizer", "demo_moments", *common, f"--data.init_args.annotation_dir={data / 'moments'}",
           f"--data.init_args.video_dir={data / 'videos'}", f"--model.init_args.export_path={localizer}",
           f"--trainer.default_root_dir={root / 's1'}")
    _stage("fit", "finetune_answerer", "demo_qa", *common, *qa, f"--model.init_args.init_localizer={localizer}",
           f"--model.init_args.export_path={answerer}", f"--trainer.default_root_dir={root / 's2'}")
    _stage("fit", "refine_localizer", "demo_qa", *common, *qa, f"--model.init_args.init_localizer={localizer}",
           f"--model.init_args.init_answerer={answerer}", f"--model.init_args.export_path={refined}",
           f"--model.init_args.cache_dir={ckpt / 'demo_qa' / 'pseudo_labels'}", f"--trainer.default_root_dir={root / 's3'}")
    for mode, weights in (("uniform", localizer), ("localizer", localizer), ("refined", refined)):
        _stage("test", "evaluate", "demo_qa", *common, *qa, f"--model.init_args.selection={'uniform' if mode == 'uniform' else 'localizer'}",
               f"--model.init_args.init_localizer={weights}", f"--model.init_args.init_answerer={answerer}",
               f"--model.init_args.output_dir={results / mode}", f"--trainer.default_root_dir={results / mode}")
    assert sevila_main(["demo-report", "--data", str(data), "--results", str(results), "--checkpoints", str(ckpt),
                        "--backbone", str(data / "backbone")]) == 0
    return results


def test_demo_summary_json_has_every_number(demo):
    summary = json.loads((demo / "summary.json").read_text())
    for mode in MODES:
        assert set(summary[mode]) == {"accuracy", "keyframe_hit_rate", "mIoU", "IoP@0.5", "Acc@GQA"}
        assert all(0 <= value <= 100 for value in summary[mode].values()), summary[mode]
    assert 0 <= summary["pseudo_label_precision"] <= 100
    assert 0 <= summary["pseudo_label_positive_rate"] <= 100


def test_demo_summary_markdown_has_a_row_per_mode(demo):
    text = (demo / "summary.md").read_text()
    assert all(f"| {mode} |" in text for mode in MODES) and "pseudo-label precision" in text


def test_demo_pictures_are_readable_pngs(demo):
    for name in ("summary.png", "keyframes.png"):
        with Image.open(demo / name) as image:
            assert image.format == "PNG" and image.width > 100 and image.height > 100
