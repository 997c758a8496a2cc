"""Two CPU processes (gloo) fit and evaluate like one: Lightning's DDP, nothing home-made."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import lightning as L

from sevila.data.datamodules import DemoQA
from sevila.stages import Evaluate, FinetuneAnswerer


def _three_question_benchmark(tiny_benchmark: Path, root: Path) -> Path:
    """3 validation questions: 2 processes get 2 each, so Lightning's sampler pads one with a repeat."""
    shutil.copytree(tiny_benchmark / "qa", root / "qa")
    train = json.loads((root / "qa" / "train.json").read_text())
    val = json.loads((root / "qa" / "val.json").read_text())
    (root / "qa" / "val.json").write_text(json.dumps(val + train[:1]))
    return root


def _data(root: Path, videos: Path) -> DemoQA:
    return DemoQA(str(root / "qa"), str(videos), num_frames=4, eval_num_frames=4, batch_size=1, num_workers=0,
                  frame_size=32, test_file="val.json")


def _evaluate(backbone: Path, root: Path, videos: Path, out: Path, devices: int) -> list[dict]:
    module = Evaluate(backbone=str(backbone), num_keyframes=2, output_dir=str(out))
    strategy = "ddp_spawn" if devices > 1 else "auto"
    trainer = L.Trainer(accelerator="cpu", devices=devices, strategy=strategy, logger=False, enable_progress_bar=False)
    trainer.test(module, _data(root, videos))
    return json.loads((out / "predictions.json").read_text())


def test_ddp_evaluation_counts_every_question_once(tmp_path, tiny_backbone_dir, tiny_benchmark):
    root = _three_question_benchmark(tiny_benchmark, tmp_path / "data")
    videos = tiny_benchmark / "videos"
    single = _evaluate(tiny_backbone_dir, root, videos, tmp_path / "one", devices=1)
    double = _evaluate(tiny_backbone_dir, root, videos, tmp_path / "two", devices=2)
    assert len(single) == 3
    assert double == single
    metrics_one = json.loads((tmp_path / "one" / "metrics.json").read_text())
    metrics_two = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert metrics_two == metrics_one


def test_ddp_fit_step_on_two_cpu_processes(tmp_path, tiny_backbone_dir, tiny_benchmark):
    module = FinetuneAnswerer(backbone=str(tiny_backbone_dir), num_keyframes=2, warmup_steps=1,
                              export_path=str(tmp_path / "answerer.safetensors"))
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp_spawn", max_steps=1, logger=False,
                        enable_progress_bar=False, enable_checkpointing=False, limit_val_batches=0)
    data = DemoQA(str(tiny_benchmark / "qa"), str(tiny_benchmark / "videos"), num_frames=4, batch_size=1,
                  num_workers=0, frame_size=32)
    trainer.fit(module, data)
    assert (tmp_path / "answerer.safetensors").is_file()
