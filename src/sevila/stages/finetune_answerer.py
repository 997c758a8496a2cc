"""Stage 2: fine-tune the Answerer on the k keyframes the frozen Localizer picks (method §6)."""

from __future__ import annotations

from typing import Any

import torch

from sevila.data.batch import QABatch
from sevila.model.keyframes import Selection
from sevila.stages.qa_stage import QAStage


class FinetuneAnswerer(QAStage):
    """Trains the Answerer's query head on `Option X`; the Localizer runs under no-grad to pick keyframes."""

    stage_name = "finetune_answerer"
    trains = ("answerer",)

    def __init__(self, *args: Any, selection: Selection = "localizer", **kwargs: Any) -> None:
        """Stage 2 of SeViLA.

        Args:
            selection: how the k keyframes are picked, in training and validation: `localizer` (the frozen
                Localizer's top k), `uniform` (k uniform frames, the paper's baseline) or `all` (all n frames).
        """
        super().__init__(*args, **kwargs)
        self.selection = selection

    def keyframe_candidates(self, fitting: bool) -> dict[str, int]:
        """Training also picks keyframes, among the training frames."""
        candidates = super().keyframe_candidates(fitting)
        return {"num_frames": self.clip_data.frame_counts[0], **candidates} if fitting else candidates

    def training_step(self, batch: QABatch, batch_idx: int) -> torch.Tensor:
        out = self.chain(batch, answers=batch["answer"])
        accuracy = (out.option_logits.argmax(dim=-1) == batch["answer"]).float().mean()
        self.log("train/loss", out.loss, prog_bar=True, batch_size=len(batch["qid"]))
        self.log("train/acc", 100 * accuracy, prog_bar=True, batch_size=len(batch["qid"]))
        return out.loss
