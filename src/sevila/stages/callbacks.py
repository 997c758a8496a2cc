"""Lightning callbacks of the QA stages: what a person looks at in TensorBoard."""

from __future__ import annotations

from typing import Any

import lightning as L
import numpy
import torch
from lightning.pytorch.loggers import TensorBoardLogger

from sevila.data.transforms import denormalize
from sevila.model.sevila import ChainOutput
from sevila.visualize import contact_sheet


class KeyframeSheets(L.Callback):
    """Each validation: a picture of the first question's n frames, their Localizer scores and the chosen k."""

    def __init__(self, tile: int = 64) -> None:
        """The keyframe picture.

        Args:
            tile: side in pixels of each frame in the picture.
        """
        self.tile = tile

    def on_validation_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if batch_idx != 0 or not trainer.is_global_zero or not isinstance(outputs, ChainOutput):
            return
        if outputs.frame_scores is None:
            return  # uniform keyframes: there are no scores to show
        loggers = [logger for logger in trainer.loggers if isinstance(logger, TensorBoardLogger)]
        if not loggers:
            return
        sheet = contact_sheet(denormalize(batch["frames"][0]).cpu(), outputs.frame_scores[0].tolist(),
                              outputs.keyframe_indices[0].tolist(), title=f"{batch['qid'][0]} step {trainer.global_step}",
                              tile=self.tile)
        image = torch.from_numpy(numpy.array(sheet)).permute(2, 0, 1)  # (3, H, W) uint8, a writable copy
        for logger in loggers:
            logger.experiment.add_image("keyframes", image, trainer.global_step)
