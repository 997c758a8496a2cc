"""Stage 1: pre-train the Localizer on QVHighlights frame relevance (yes/no per frame, method §6)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from sevila.data.batch import MomentBatch
from sevila.io import write_json
from sevila.metrics.exports import write_moment_submission
from sevila.metrics.moments import frame_scores_to_moments, moment_retrieval_metrics
from sevila.stages.base import SevilaStage
from sevila.stages.gather import gather_rows


class PretrainLocalizer(SevilaStage):
    """Trains the Localizer's query head; reports frame accuracy and moment retrieval at validation.

    `sevila test` with this stage evaluates a Localizer on QVHighlights moment retrieval and writes the
    Moment-DETR submission (`moments.jsonl`) and `metrics.json` into `output_dir`.
    """

    stage_name = "pretrain_localizer"
    trains = ("localizer",)

    def __init__(self, *args: Any, max_gap: int = 6, output_dir: str = "results", **kwargs: Any) -> None:
        """Stage 1 of SeViLA.

        Args:
            max_gap: most consecutive `no` frames a predicted moment may bridge (the paper's span threshold).
            output_dir: where `sevila test` writes moments.jsonl and metrics.json.
        """
        super().__init__(*args, **kwargs)
        self.max_gap = max_gap
        self.output_dir = Path(output_dir)
        self._moments: list[dict[str, Any]] = []

    @property
    def selection_metric(self) -> str:
        """Frame yes/no accuracy, what the original selects stage 1 by (moment retrieval is logged beside it)."""
        return "val/frame_acc"

    def _step(self, batch: MomentBatch, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        raw = self.encode(batch)
        loss, yes_no = self.model.localizer.loss(raw, batch["localizer_text"], batch["labels"])  # (B, T, 2)
        frame_acc = ((yes_no[..., 0] > yes_no[..., 1]) == batch["labels"]).float().mean()
        size = len(batch["qid"])
        self.log(f"{split}/loss", loss, prog_bar=True, batch_size=size, sync_dist=split != "train")
        self.log(f"{split}/frame_acc", frame_acc, prog_bar=True, batch_size=size, sync_dist=split != "train")
        return loss, yes_no

    def training_step(self, batch: MomentBatch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")[0]

    def validation_step(self, batch: MomentBatch, batch_idx: int) -> None:
        _, yes_no = self._step(batch, "test" if self.trainer.testing else "val")
        yes_prob = yes_no.softmax(dim=-1)[..., 0]  # (B, T); yes > no  <=>  prob > 0.5
        for i, qid in enumerate(batch["qid"]):
            times = batch["timestamps"][i].tolist()
            rate = len(times) / max(float(batch["duration"][i]), 1e-6)  # each sampled frame covers 1/rate s
            moments = frame_scores_to_moments(yes_prob[i].tolist(), rate, timestamps=times, max_gap=self.max_gap)
            windows = [tuple(w) for w in batch["windows"][i]]
            self._moments.append({"index": int(batch["index"][i]), "qid": qid, "moments": moments, "windows": windows})

    def _moment_metrics(self, split: str) -> tuple[list[dict[str, Any]], dict[str, float]]:
        rows, self._moments = gather_rows(self._moments), []
        scored = [row for row in rows if row["windows"]]  # the test split has no windows to score
        if not scored:
            return rows, {}
        metrics = moment_retrieval_metrics(
            {row["qid"]: row["moments"] for row in scored}, {row["qid"]: row["windows"] for row in scored}
        )
        for name, value in metrics.items():
            self.log(f"{split}/{name}", value)
        return rows, metrics

    def on_validation_epoch_end(self) -> None:
        self._moment_metrics("val")

    def test_step(self, batch: MomentBatch, batch_idx: int) -> None:
        self.validation_step(batch, batch_idx)

    def on_test_epoch_end(self) -> None:
        rows, metrics = self._moment_metrics("test")
        skipped = self.skipped_videos.report(self.output_dir, self.trainer.is_global_zero)
        if self.trainer.is_global_zero:
            moments = {row["qid"]: row["moments"] for row in rows}
            write_moment_submission(self.output_dir / self.clip_data.benchmark.submission, moments)
            write_json(self.output_dir / "metrics.json", {**metrics, "num_evaluated": len(rows), "skipped_videos": skipped})
