"""Stage 4: evaluate the forward chain (or uniform keyframes) and save the predictions (method §6)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

from sevila.data.batch import QABatch
from sevila.io import write_json
from sevila.stages.qa_stage import QAStage, accuracy_of

log = logging.getLogger(__name__)


class Evaluate(QAStage):
    """Nothing trains; `sevila test` writes predictions.json and metrics.json into `output_dir`.

    With `data.on_bad_video: skip`, questions whose video cannot be read have no prediction; metrics.json
    counts them in `skipped_videos` and `output_dir/skipped_videos.jsonl` lists them.
    """

    stage_name = "evaluate"
    trains = ()

    def __init__(
        self, *args: Any, mode: Literal["localizer", "uniform"] = "localizer", output_dir: str = "results", **kwargs: Any
    ) -> None:
        """mode: keyframes from the Localizer, or k uniform frames. output_dir: where the files go.
        Zero-shot = no `init_answerer`: the Answerer is BLIP-2's Q-Former as is."""
        super().__init__(*args, **kwargs)
        self.use_localizer = mode == "localizer"
        self.output_dir = Path(output_dir)

    def test_step(self, batch: QABatch, batch_idx: int) -> None:
        self._rows += self.chain_rows(batch, batch_idx)

    def on_test_epoch_end(self) -> None:
        rows = self.collect_rows("test")
        skipped = self.skipped_videos.report(self.output_dir, self.trainer.is_global_zero)
        if not self.trainer.is_global_zero:
            return
        predictions = [{key: row[key] for key in ("qid", "prediction", "target", "frame_idx")} for row in rows]
        metrics = {"mode": self.hparams.mode, "zero_shot": not self.hparams.init_answerer, "count": len(rows)}
        metrics["skipped_videos"] = skipped
        metrics.update(accuracy_of(rows) if rows else {})
        write_json(self.output_dir / "predictions.json", predictions)
        write_json(self.output_dir / "metrics.json", metrics)
        log.info("evaluate: %s -> %s", metrics, self.output_dir)
