"""Model selection: `BestEpoch` keeps the best validation epoch, and the stage exports that epoch's heads."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch

from sevila.data.datamodules import DemoQA, QVHighlights
from sevila.model.head_weights import read_heads
from sevila.stages import FinetuneAnswerer, PretrainLocalizer
from sevila.stages.selection import BestEpoch


class EpochRecord(L.Callback):
    """Per validated epoch: the value of `metric`, and the Answerer's weights then."""

    def __init__(self, metric: str) -> None:
        self.metric = metric
        self.scores: list[float] = []
        self.weights: list[dict[str, torch.Tensor]] = []

    def on_validation_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self.scores.append(float(trainer.callback_metrics[self.metric]))
            self.weights.append({k: v.clone() for k, v in pl_module.model.answerer.state_dict().items()})


class ScriptedScore(L.Callback):
    """Logs `test/score` = scores[epoch] at each validation: a metric whose best epoch is known beforehand."""

    def __init__(self, scores: list[float]) -> None:
        self.scores = scores

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        pl_module.log("test/score", self.scores[trainer.current_epoch])


def _fit(tmp_path: Path, module: L.LightningModule, data: L.LightningDataModule, *callbacks: L.Callback) -> L.Trainer:
    trainer = L.Trainer(accelerator="cpu", devices=1, max_epochs=3, logger=False, enable_progress_bar=False,
                        default_root_dir=str(tmp_path), num_sanity_val_steps=0, callbacks=list(callbacks))
    trainer.fit(module, data)
    return trainer


def _qa(root: Path) -> DemoQA:
    return DemoQA(str(root / "qa"), str(root / "videos"), num_frames=4, eval_num_frames=4, batch_size=2,
                  num_workers=0, frame_size=32)


def test_selection_exports_the_best_epoch_not_the_last(tmp_path, tiny_backbone_dir, tiny_benchmark):
    export = tmp_path / "answerer.safetensors"
    module = FinetuneAnswerer(backbone=str(tiny_backbone_dir), num_keyframes=2, warmup_steps=1, lr=1e-3,
                              export_path=str(export))
    record = EpochRecord("test/score")
    best = BestEpoch(monitor="test/score", dirpath=tmp_path / "checkpoints")
    _fit(tmp_path, module, _qa(tiny_benchmark), ScriptedScore([0.2, 0.9, 0.5]), best, record)
    assert record.scores == pytest.approx([0.2, 0.9, 0.5]) and Path(best.best_model_path) == tmp_path / "checkpoints" / "best.ckpt"
    assert torch.load(best.best_model_path, weights_only=True)["epoch"] == 1
    exported, _ = read_heads(export)
    for key, value in record.weights[1].items():
        assert torch.equal(exported[f"answerer.{key}"], value), key  # epoch 1's weights ...
    assert any(not torch.equal(exported[f"answerer.{k}"], v) for k, v in record.weights[2].items())  # ... not the last


def test_selection_metric_of_qa_stages_is_the_benchmark_headline(tmp_path, tiny_backbone_dir, tiny_benchmark):
    module = FinetuneAnswerer(backbone=str(tiny_backbone_dir), num_keyframes=2, warmup_steps=1, lr=1e-3)
    record, best = EpochRecord("val/acc"), BestEpoch(dirpath=tmp_path / "checkpoints")
    _fit(tmp_path, module, _qa(tiny_benchmark), best, record)
    assert best.monitor == "val/acc" and float(best.best_model_score) == max(record.scores)


def test_selection_metric_of_stage_one_is_frame_accuracy(tmp_path, tiny_backbone_dir, tiny_benchmark):
    module = PretrainLocalizer(backbone=str(tiny_backbone_dir), num_keyframes=2, warmup_steps=1)
    data = QVHighlights(str(tiny_benchmark / "moments"), str(tiny_benchmark / "videos"), num_frames=4,
                        eval_num_frames=4, batch_size=2, num_workers=0, frame_size=32)
    best = BestEpoch(dirpath=tmp_path / "checkpoints")
    _fit(tmp_path, module, data, best)
    assert best.monitor == "val/frame_acc" and best.best_model_score is not None
