"""Stage 4: evaluate the forward chain (or uniform keyframes) and save the predictions (method §6)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sevila.data.batch import QABatch
from sevila.io import write_json
from sevila.metrics.official import write_grounding_files, write_submission
from sevila.errors import SevilaError
from sevila.metrics.windows import GroundingRule
from sevila.model.aggregation import AGGREGATIONS, Aggregation
from sevila.model.keyframes import Selection
from sevila.stages.qa_stage import QAStage, prediction_rows, qa_rows

log = logging.getLogger(__name__)

PREDICTION_KEYS = ("qid", "prediction", "target", "frame_idx", "window")


class Evaluate(QAStage):
    """Nothing trains; `sevila test` writes predictions.json, metrics.json (the benchmark's official table, as
    `sevila metrics` computes it) and, where the benchmark has one, its official submission file into `output_dir`.

    With `data.on_bad_video: skip`, questions whose video cannot be read have no prediction; metrics.json
    counts them in `skipped_videos` and `output_dir/skipped_videos.jsonl` lists them.
    """

    stage_name = "evaluate"
    trains = ()

    def __init__(
        self, *args: Any, selection: Selection = "localizer", aggregation: Aggregation = "concat",
        grounding: GroundingRule = "keyframes", output_dir: str = "results", **kwargs: Any,
    ) -> None:
        """Stage 4 of SeViLA. Zero-shot = no `init_answerer`: the Answerer is BLIP-2's Q-Former as is.

        Args:
            selection: how the k keyframes are picked: `localizer` (its top k of the n frames), `uniform` (k
                frames sampled from the clip) or `all` (all n frames, k = n: BLIP-2^concat over n uniform frames).
            aggregation: how the Answerer reads the keyframes: `concat` (all k in one input, SeViLA's Answerer),
                `vote` (each keyframe alone, then a majority vote: BLIP-2^voting; ties go to the option with the
                higher mean probability, then to the earlier letter) or `oracle` (each alone; right if any one
                keyframe answers right: the paper's upper bound, which reads the gold answers).
            grounding: how each question's evidence window (predictions.json `window`, NExT-GQA) is made of the
                chain: `keyframes` (first to last keyframe, the NExT-GQA authors' rule) or `run` (the run of
                high-scoring frames around the best one; `sevila.metrics.windows`).
            output_dir: folder for predictions.json, metrics.json and the submission files.
        """
        super().__init__(*args, **kwargs)
        if aggregation not in AGGREGATIONS:
            raise SevilaError(f"model.aggregation={aggregation!r}: expected one of {', '.join(AGGREGATIONS)}")
        self.selection = selection
        self.aggregation = aggregation
        self.grounding = grounding
        self.output_dir = Path(output_dir)

    def test_step(self, batch: QABatch, batch_idx: int) -> None:
        self._rows += prediction_rows(batch, self.chain(batch), self.grounding)

    def on_test_epoch_end(self) -> None:
        rows, table = self.collect_rows("test")
        skipped = self.skipped_videos.report(self.output_dir, self.trainer.is_global_zero)
        if not self.trainer.is_global_zero:
            return
        benchmark = self.clip_data.benchmark
        answered = qa_rows(rows)
        metrics = {"num_evaluated": len(rows), **table, "skipped_videos": skipped, "selection": self.selection,
                   "aggregation": self.aggregation, "grounding": self.grounding, "readout": self.readout,
                   "zero_shot": not self.hparams.init_answerer}
        write_json(self.output_dir / "predictions.json", [{key: row[key] for key in PREDICTION_KEYS} for row in rows])
        if benchmark.submission and rows:
            write_submission(benchmark, self.output_dir / benchmark.submission, answered)
        if benchmark.metric == "grounding" and rows:
            windows = {row["qid"]: row["window"] for row in rows if row["window"] is not None}
            write_grounding_files(self.output_dir, answered, windows)
        write_json(self.output_dir / "metrics.json", metrics)
        log.info("evaluate: %s -> %s", metrics, self.output_dir)
