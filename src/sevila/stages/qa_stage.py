"""What the QA stages share: the forward chain on a batch, its prediction rows, and accuracy at validation."""

from __future__ import annotations

import logging
from typing import Any

from torch import Tensor

from sevila.data.batch import QABatch
from sevila.errors import SevilaError
from sevila.metrics.accuracy import QARow
from sevila.metrics.official import check_scorable, grounding_table, qa_table
from sevila.metrics.windows import GroundingRule, chain_window, frame_times
from sevila.model.aggregation import Aggregation
from sevila.model.answerer import Readout
from sevila.model.keyframes import Selection, frames_per_clip
from sevila.model.sevila import ChainOutput
from sevila.stages.base import SevilaStage
from sevila.stages.gather import gather_rows

log = logging.getLogger(__name__)


def prediction_rows(batch: QABatch, out: ChainOutput, grounding: GroundingRule = "keyframes") -> list[dict[str, Any]]:
    """One row {index, qid, prediction, target, frame_idx, window} per question: `Evaluate`'s prediction format.

    `window` is the evidence window in seconds that the `grounding` rule makes of the chain (`metrics.windows`);
    None for a video whose frame rate is unknown (it then drops out of the grounding metrics).
    """
    frame_idx = batch["frame_indices"].to(out.keyframe_indices.device).gather(1, out.keyframe_indices)  # (B, K)
    predictions = out.option_logits.argmax(dim=-1)
    rows = []
    for i, qid in enumerate(batch["qid"]):
        fps = float(batch["fps"][i])
        scores = None if out.frame_scores is None else out.frame_scores[i].tolist()
        times = frame_times(batch["frame_indices"][i].tolist(), fps) if fps > 0 else None
        rows.append({
            "index": int(batch["index"][i]),
            "qid": qid,
            "prediction": int(predictions[i]),
            "target": int(batch["answer"][i]),
            "frame_idx": frame_idx[i].tolist(),
            "window": None if times is None else chain_window(grounding, times, out.keyframe_indices[i].tolist(), scores),
        })
    return rows


def qa_rows(rows: list[dict[str, Any]]) -> list[QARow]:
    """Prediction rows as the metrics' answered questions."""
    return [QARow(r["qid"], r["prediction"], r["target"]) for r in rows]


class QAStage(SevilaStage):
    """A stage validated by the forward chain's accuracy: the benchmark's official table (`metrics.official`)."""

    selection: Selection = "localizer"  # how validation and test pick the k keyframes
    aggregation: Aggregation = "concat"  # how the Answerer reads them (`Evaluate` may vote or take the oracle)

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

    @property
    def selection_metric(self) -> str:
        """The benchmark's headline (accuracy; STAR: the mean of its four categories), the original's agg_metrics."""
        return f"val/{self.clip_data.benchmark.headline.lower()}"

    def setup(self, stage: str) -> None:
        """Uniform keyframes are k frames sampled from the clip itself (`frames_per_clip`), not k of n candidates.

        Set on every run, so a DataModule reused after a uniform run samples its n candidates again.
        """
        super().setup(stage)
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
        """Stop before any frame is decoded if k exceeds the n candidate frames a loop will see (`all`: k = n)."""
        if self.selection == "all":
            return
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
        truths = {record.qid: record.windows for record in data.records(split)}
        check_scorable(data.benchmark, truths, str(data.annotation_dir / str(data.files[split])))

    def on_validation_start(self) -> None:
        self.check_split("val")

    def on_test_start(self) -> None:
        self.check_split("test")

    def chain(self, batch: QABatch, answers: Tensor | None = None) -> ChainOutput:
        """The model's forward chain on one batch (`answers` -> with the Answerer's loss; the oracle reads them)."""
        if self.aggregation == "oracle":
            answers = batch["answer"]
        return self.model(self.encode(batch), batch["answerer_text"], batch["localizer_text"], batch["num_options"],
                          selection=self.selection, answers=answers, readout=self.readout,
                          aggregation=self.aggregation)

    def validation_step(self, batch: QABatch, batch_idx: int) -> ChainOutput:
        out = self.chain(batch)
        self._rows += prediction_rows(batch, out)
        return out  # callbacks (`KeyframeSheets`) read it

    def official_table(self, split: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """The benchmark's official table of these prediction rows (`sevila metrics` computes the same)."""
        data = self.clip_data
        if data.benchmark.metric != "grounding":
            return qa_table(data.benchmark, qa_rows(rows))
        truths = {record.qid: record.windows for record in data.records(split)}
        windows = {row["qid"]: row["window"] for row in rows if row["window"] is not None}
        return grounding_table(truths, qa_rows(rows), windows, str(data.annotation_dir / str(data.files[split])))

    def collect_rows(self, split: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Every process's rows of this epoch, each question once, and their official table (logged as `{split}/<key>`)."""
        rows, self._rows = gather_rows(self._rows), []
        table = self.official_table(split, rows) if rows else {}
        for name, value in table.items():
            if isinstance(value, float):  # the percentages; counts and nulls are not logged
                self.log(f"{split}/{name.lower()}", value, prog_bar=name == self.clip_data.benchmark.headline)
        return rows, table

    def on_validation_epoch_end(self) -> None:
        self.collect_rows("val")
