"""Model selection as the original's runner does it: keep the best validation epoch, export it at the end."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

log = logging.getLogger(__name__)


class BestEpoch(ModelCheckpoint):
    """`ModelCheckpoint` of the epoch with the highest validation metric, as `<run>/checkpoints/best.ckpt`.

    The stage exports this epoch's heads when training ends (`SevilaStage.on_fit_end`); the original saves
    `checkpoint_best.pth` on a strictly higher `agg_metrics` and reloads it after the last epoch.
    """

    def __init__(self, monitor: str | None = None, filename: str = "best", **kwargs: Any) -> None:
        """The best validation epoch.

        Args:
            monitor: the logged metric to maximise; none = the stage's official selection metric
                (`selection_metric`: the benchmark's headline for QA stages, frame accuracy for stage 1).
            filename: checkpoint name inside the run's checkpoints folder.
        """
        super().__init__(monitor=monitor, mode="max", save_top_k=1, filename=filename, save_last=False,
                         auto_insert_metric_name=False, **kwargs)

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if self.monitor is None:
            self.monitor = getattr(pl_module, "selection_metric")
        super().setup(trainer, pl_module, stage)


def best_checkpoint(trainer: L.Trainer) -> tuple[Path, float] | None:
    """The best epoch's checkpoint and score if a `BestEpoch` of this trainer saved one, else None."""
    for callback in trainer.callbacks:
        if isinstance(callback, BestEpoch) and callback.best_model_path and Path(callback.best_model_path).is_file():
            return Path(callback.best_model_path), float(callback.best_model_score)
    return None


def load_best_weights(module: L.LightningModule, path: Path) -> int:
    """Load the trained weights of a stage checkpoint into `module`; returns the checkpoint's epoch."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    unexpected = module.load_state_dict(checkpoint["state_dict"], strict=False).unexpected_keys
    assert not unexpected, f"{path}: weights this stage does not have: {unexpected[:3]}"
    return int(checkpoint["epoch"])
