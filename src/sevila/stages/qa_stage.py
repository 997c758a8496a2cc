"""What the QA stages share: the forward chain on a batch, its prediction rows, and accuracy at validation."""

from __future__ import annotations

import logging
from typing import Any

from torch import Tensor

from sevila.data.batch import QABatch
from sevila.errors import SevilaError
from sevila.metrics.accuracy import QARow
from sevila.metrics.official import check_scorable, qa_table
from sevila.model.answerer import Readout
from sevila.model.keyframes import Selection, frames_per_clip
from sevila.model.sevila import ChainOutput
from sevila.stages.base import SevilaStage
from sevila.stages.gather import gather_rows

log = logging.getLogger(__name__)


def prediction_rows(batch: QABatch, out: ChainOutput) -> list[dict[str, Any]]:
    """One row {index, qid, prediction, target, frame_idx} per question: the prediction-file format of `Evaluate`."""
    frame_idx = batch["frame_indices"].to(out.keyframe_indices.device).gather(1, out.keyframe_indices)  # (B, K)
    predictions = out.option_logits.argmax(dim=-1)
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


def qa_rows(rows: list[dict[str, Any]]) -> list[QARow]:
    """Prediction rows as the metrics' answered questions."""
    return [QARow(r["qid"], r["prediction"], r["target"]) for r in rows]


class QAStage(SevilaStage):
    """A stage validated by the forward chain's accuracy: the benchmark's official table (`metrics.official`)."""

    selection: Selection = "localizer"  # how validation and test pick the k keyframes

    def __init__(self, *args: Any, readout: Readout = "official", **kwargs: Any) -> None:
        """A stage validated (or evaluated) by the forward chain's answers.

        Args:
            readout: how validation and test read the Answerer's letters: `official` (step 1 of greedy decoding
                after its first token, the original's `generate().scores[1]`) or `teacher_forced` (after a
                forced `Option`); the same whenever the first token is `Option`. Training always teacher-forces.
        """
        super().__init__(*args, **kwargs)
        self.readout = readout
        self._rows: list[dict[str, Any]] = []

    def setup(self, stage: str) -> None:
        """Uniform keyframes are k frames sampled from the clip itself (`frames_per_clip`), not k of n candidates.

        Set on every run, so a DataModule reused after a uniform run samples its n candidates again.
        """
        data, k = self.clip_data, self.model.num_keyframes
        configured = (data.num_frames, data.eval_num_frames)
        counts = (frames_per_clip(self.selection, configured[0], k), frames_per_clip(self.selection, configured[1], k))
        if counts != configured:
            log.info("%s: selection %s samples the k=%d keyframes from each clip (frames per item %s, not %s)",
                     self.stage_name, self.selection, k, counts, configured)
        data.set_frame_counts(*counts)

    def keyframe_candidates(self, fitting: bool) -> dict[str, int]:
        """The data settings naming n, the frames k keyframes are chosen among (evaluation frames here)."""
        return {"eval_num_frames": self.clip_data.frame_counts[1]}

    def check_num_keyframes(self, fitting: bool) -> None:
        """Stop before any frame is decoded if k exceeds the n candidate frames a loop will see."""
        for flag, n in self.keyframe_candidates(fitting).items():
            if self.model.num_keyframes > n:
                raise SevilaError(
                    f"model.num_keyframes is {self.model.num_keyframes} but data.{flag} is {n}: the keyframes are "
                    f"chosen among the {n} frames, so k <= n; lower --model.init_args.num_keyframes or raise "
                    f"--data.init_args.{flag}"
                )

    def on_fit_start(self) -> None:
        super().on_fit_start()
        self.check_num_keyframes(fitting=True)

    def check_split(self, split: str) -> None:
        """Stop before any frame is decoded if k > n, or if the split's questions cannot fill the official table."""
        self.check_num_keyframes(fitting=False)
        data = self.clip_data
        qids = [record.qid for record in data.records(split)]
        check_scorable(data.benchmark, qids, str(data.annotation_dir / str(data.files[split])))

    def on_validation_start(self) -> None:
        self.check_split("val")

    def on_test_start(self) -> None:
        self.check_split("test")

    def chain(self, batch: QABatch, answers: Tensor | None = None) -> ChainOutput:
        """The model's forward chain on one batch (`answers` -> with the Answerer's loss)."""
        return self.model(self.encode(batch), batch["answerer_text"], batch["localizer_text"], batch["num_options"],
                          selection=self.selection, answers=answers, readout=self.readout)

    def validation_step(self, batch: QABatch, batch_idx: int) -> ChainOutput:
        out = self.chain(batch)
        self._rows += prediction_rows(batch, out)
        return out  # callbacks (`KeyframeSheets`) read it

    def collect_rows(self, split: str) -> list[dict[str, Any]]:
        """Every process's rows of this epoch, each question once; logs the official table as `{split}/<key>`."""
        rows, self._rows = gather_rows(self._rows), []
        if rows:
            for name, value in qa_table(self.clip_data.benchmark, qa_rows(rows)).items():
                self.log(f"{split}/{name.lower()}", value, prog_bar=name == self.clip_data.benchmark.headline)
        return rows

    def on_validation_epoch_end(self) -> None:
        self.collect_rows("val")
