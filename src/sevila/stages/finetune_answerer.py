"""Stage 2: fine-tune the Answerer on the k keyframes the frozen Localizer picks (method §6)."""

from __future__ import annotations

from typing import Any

import torch

from sevila.data.batch import QABatch
from sevila.model.sevila import gather_frames
from sevila.stages.qa_stage import QAStage, choose_keyframes


class FinetuneAnswerer(QAStage):
    """Trains the Answerer's query head on `Option X`; the Localizer runs under no-grad to pick keyframes."""

    stage_name = "finetune_answerer"
    trains = ("answerer",)

    def __init__(self, *args: Any, use_localizer: bool = True, **kwargs: Any) -> None:
        """use_localizer: false trains on k uniform frames instead (the paper's baseline)."""
        super().__init__(*args, **kwargs)
        self.use_localizer = use_localizer

    def keyframe_candidates(self, fitting: bool) -> list[str]:
        """Training also picks keyframes, among the training frames."""
        candidates = super().keyframe_candidates(fitting)
        return ["num_frames", *candidates] if fitting else candidates

    def training_step(self, batch: QABatch, batch_idx: int) -> torch.Tensor:
        raw = self.encode(batch)
        keyframes, _ = choose_keyframes(self.model, raw, batch, self.use_localizer)
        loss, option_logits = self.model.answerer.loss(
            gather_frames(raw, keyframes), batch["answerer_text"], batch["num_options"], batch["answer"]
        )
        accuracy = (option_logits.argmax(dim=-1) == batch["answer"]).float().mean()
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch["qid"]))
        self.log("train/acc", 100 * accuracy, prog_bar=True, batch_size=len(batch["qid"]))
        return loss
