"""The DataModule of your own videos and questions (`stages/data/custom.yaml`): one questions file, split by rows."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from sevila.benchmarks import BENCHMARKS
from sevila.data.annotations import QARecord
from sevila.data.custom import CUSTOM_FORMAT, DEFAULT_VAL_FRACTION, assign_splits, read_custom_questions
from sevila.data.datamodules import VideoQADataModule
from sevila.errors import SevilaError

log = logging.getLogger(__name__)


class CustomQA(VideoQADataModule):
    """Your own multiple-choice questions (CSV or JSON Lines, `sevila.data.custom`) about a folder of videos.

    The train, val and test splits are rows of the one questions file (its `split` column, or `val_fraction`
    of the videos for val); with no test rows, testing uses the val split. The `train_file`, `val_file` and
    `test_file` settings of the file-per-split benchmarks are not used.

    Args:
        questions: the questions file (.csv or .jsonl).
        video_dir: folder holding the videos the rows name (with their extension).
        val_fraction: share of the videos held out for validation when the file has no `split` column.
    """

    benchmark = BENCHMARKS["custom"]
    file_format = CUSTOM_FORMAT

    def __init__(self, questions: str, video_dir: str, val_fraction: float = DEFAULT_VAL_FRACTION, **kwargs: Any) -> None:
        if not 0 <= val_fraction < 1:
            raise SevilaError(f"--data.val_fraction is {val_fraction}; expected 0 <= val_fraction < 1")
        path = Path(questions)
        super().__init__(str(path.parent), video_dir, **kwargs)
        self.questions, self.val_fraction = path, val_fraction
        self.files = dict.fromkeys(self.files, path.name)  # every split is rows of the one file
        self._splits: dict[str, list[QARecord]] | None = None

    def _split_records(self, split: str) -> list[QARecord]:
        if self._splits is None:
            questions = read_custom_questions(self.questions)
            self._splits = assign_splits(questions, self.val_fraction, str(self.questions))
            counts = ", ".join(f"{name} {len(records)}" for name, records in self._splits.items())
            log.info("custom: %s: questions per split: %s", self.questions, counts)
        return self._splits[split]

    def _build(self, split: str) -> Dataset[Any]:
        records = self._split_records(split)
        if not records:
            raise SevilaError(
                f"{self.questions}: no {split} questions; give some rows split={split}, or leave out the split "
                "column and keep val_fraction > 0 with two or more videos"
            )
        num_frames = self.num_frames if split == "train" else self.eval_num_frames
        return self._make_dataset(records, num_frames, train=split == "train" and self.random_train_frames)
