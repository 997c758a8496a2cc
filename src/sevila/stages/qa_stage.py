"""What the QA stages share: choosing keyframes, answering from them, and chain accuracy at validation."""

from __future__ import annotations

from typing import Any

import numpy
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from torch import Tensor

from sevila.data.batch import QABatch
from sevila.data.transforms import denormalize
from sevila.errors import SevilaError
from sevila.metrics.accuracy import QARow, accuracy_by_type
from sevila.model.localizer import select_keyframes
from sevila.model.sevila import SeViLA, gather_frames
from sevila.stages.base import SevilaStage
from sevila.stages.gather import gather_rows
from sevila.stages.keyframes import uniform_keyframes
from sevila.visualize import contact_sheet


def choose_keyframes(model: SeViLA, raw: Tensor, batch: QABatch, use_localizer: bool) -> tuple[Tensor, Tensor | None]:
    """Keyframe positions (B, K) among the T candidates, and the Localizer scores (B, T) when it chose them."""
    if not use_localizer:
        b, t = raw.shape[:2]
        return uniform_keyframes(t, model.num_keyframes, b, raw.device), None
    with torch.no_grad():
        scores = model.localizer(raw, batch["localizer_text"])
    return select_keyframes(scores, model.num_keyframes), scores


def answer_rows(model: SeViLA, raw: Tensor, batch: QABatch, keyframes: Tensor) -> list[dict[str, Any]]:
    """Answer from the keyframes; one row {index, qid, prediction, target, frame_idx} per question."""
    option_logits = model.answerer(gather_frames(raw, keyframes), batch["answerer_text"], batch["num_options"])
    frame_idx = batch["frame_indices"].to(keyframes.device).gather(1, keyframes)  # (B, K) video frame numbers
    return prediction_rows(batch, option_logits.argmax(dim=-1), frame_idx)


def prediction_rows(batch: QABatch, predictions: Tensor, frame_idx: Tensor) -> list[dict[str, Any]]:
    """Rows in the prediction-file format of `Evaluate`."""
    return [
        {
            "index": int(batch["index"][i]),
            "qid": qid,
            "prediction": int(predictions[i]),
            "target": int(batch["answer"][i]),
            "frame_idx": frame_idx[i].tolist(),
        }
        for i, qid in enumerate(batch["qid"])
    ]


def accuracy_of(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Overall and per-type accuracy (percent) of prediction rows."""
    return accuracy_by_type([QARow(r["qid"], r["prediction"], r["target"]) for r in rows])


class QAStage(SevilaStage):
    """A stage validated by the forward chain's accuracy, overall and per question type."""

    use_localizer: bool = True  # False: the Answerer sees k uniform frames

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rows: list[dict[str, Any]] = []

    def keyframe_candidates(self, fitting: bool) -> list[str]:
        """The data settings naming n, the frames k keyframes are chosen among (evaluation frames here)."""
        return ["eval_num_frames"]

    def check_num_keyframes(self, fitting: bool) -> None:
        """Stop before any frame is decoded if k exceeds the n candidate frames a loop will see."""
        data = getattr(self.trainer, "datamodule", None)
        for flag in self.keyframe_candidates(fitting):
            n = getattr(data, flag, None)
            if n is not None and self.model.num_keyframes > n:
                raise SevilaError(
                    f"model.num_keyframes is {self.model.num_keyframes} but data.{flag} is {n}: the keyframes are "
                    f"chosen among the {n} frames, so k <= n; lower --model.init_args.num_keyframes or raise "
                    f"--data.init_args.{flag}"
                )

    def on_fit_start(self) -> None:
        super().on_fit_start()
        self.check_num_keyframes(fitting=True)

    def on_validation_start(self) -> None:
        self.check_num_keyframes(fitting=False)

    def on_test_start(self) -> None:
        self.check_num_keyframes(fitting=False)

    def chain_rows(self, batch: QABatch, batch_idx: int) -> list[dict[str, Any]]:
        """Forward chain (or uniform keyframes) on one batch -> prediction rows."""
        raw = self.encode(batch)
        keyframes, scores = choose_keyframes(self.model, raw, batch, self.use_localizer)
        if batch_idx == 0 and scores is not None:
            self.log_keyframes(batch, scores, keyframes)
        with torch.no_grad():
            return answer_rows(self.model, raw, batch, keyframes)

    def log_keyframes(self, batch: QABatch, scores: Tensor, keyframes: Tensor) -> None:
        """TensorBoard picture of the first question's n frames, Localizer scores and chosen k (each validation)."""
        if not isinstance(self.logger, TensorBoardLogger) or not self.trainer.is_global_zero:
            return
        sheet = contact_sheet(denormalize(batch["frames"][0]).cpu(), scores[0].tolist(), keyframes[0].tolist(),
                              title=f"{batch['qid'][0]} step {self.global_step}", tile=64)
        image = torch.from_numpy(numpy.array(sheet)).permute(2, 0, 1)  # (3, H, W) uint8, a writable copy
        self.logger.experiment.add_image("keyframes", image, self.global_step)

    def validation_step(self, batch: QABatch, batch_idx: int) -> None:
        self._rows += self.chain_rows(batch, batch_idx)

    def collect_rows(self, split: str) -> list[dict[str, Any]]:
        """Every process's rows of this epoch, each question once; logs `{split}/acc` and per type."""
        rows, self._rows = gather_rows(self._rows), []
        if rows:
            for name, value in accuracy_of(rows).items():
                self.log(f"{split}/{name.lower()}", value, prog_bar=name == "Acc")
        return rows

    def on_validation_epoch_end(self) -> None:
        self.collect_rows("val")
