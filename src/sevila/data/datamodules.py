"""One small LightningDataModule per benchmark, over two shared bases: multiple-choice QA and QVHighlights moments.

Training loaders use `EpochSampler`, whose (epoch, index) keys carry the epoch into DataLoader workers
(see `sevila.data.datasets`), so persistent workers still draw new frames and crops every epoch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, Literal

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from sevila.benchmarks import BENCHMARKS, Benchmark
from sevila.data.annotations import (
    MOMENT_FORMAT,
    QA_FORMAT,
    MomentRecord,
    QARecord,
    read_moment_annotations,
    read_qa_annotations,
)
from sevila.data.datasets import (
    MomentDataset,
    VideoQADataset,
    collate_moments,
    collate_qa,
    event_record_prompts,
    item_seed,
    question_prompts,
)
from sevila.data.transforms import CROP_RESIZES, CropResize
from sevila.data.video_paths import load_video_map
from sevila.errors import SevilaError
from sevila.prompts import ANSWERER_WORDINGS, LOCALIZER_WORDINGS, PAPER, wording


class EpochSampler(Sampler[tuple[int, int]]):
    """Yields (epoch, index) keys, shuffled by (seed, epoch) if asked; Lightning calls `set_epoch` each epoch."""

    def __init__(self, num_items: int, shuffle: bool, seed: int = 0) -> None:
        self.num_items, self.shuffle, self.seed = num_items, shuffle, seed
        self.epoch = 0
        self.start = 0  # keys of the epoch to skip once, when resuming mid-epoch

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose order and per-item draws the next iteration yields."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_items

    def __iter__(self) -> Iterator[tuple[int, int]]:
        order = range(self.num_items)
        if self.shuffle:
            generator = torch.Generator().manual_seed(item_seed(self.seed, self.epoch, -1))
            order = torch.randperm(self.num_items, generator=generator).tolist()
        start, self.start = self.start, 0
        return iter([(self.epoch, index) for index in order[start:]])


class ResumableLoader(DataLoader):
    """Training loader whose position (epoch, batches served) Lightning saves in checkpoints and restores.

    Without it Lightning restarts a killed epoch from its first batch. Iteration is lazy: workers start
    fetching at the first batch, after Lightning's `set_epoch`, not when `iter()` is called before it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.served = 0  # batches of the current epoch handed out
        self._resume_at = 0

    def __iter__(self) -> Iterator[Any]:
        self.served, self._resume_at = self._resume_at, 0
        if isinstance(self.sampler, EpochSampler):
            self.sampler.start = self.served * self.batch_size
        for batch in super().__iter__():
            self.served += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        """Where training stands in the epoch, for Lightning's checkpoint."""
        epoch = self.sampler.epoch if isinstance(self.sampler, EpochSampler) else 0
        return {"epoch": epoch, "served": self.served}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continue the saved epoch after its served batches (a single process's EpochSampler only)."""
        if isinstance(self.sampler, EpochSampler) and state["served"] < len(self):
            self.sampler.set_epoch(state["epoch"])
            self._resume_at = state["served"]


def _check_settings(sizes: dict[str, int | None], num_workers: int) -> None:
    """Fail at start, naming the flag, on a size below 1 or a negative worker count."""
    for flag, value in sizes.items():
        if value is not None and value < 1:
            raise SevilaError(f"--data.{flag} is {value}; expected a positive integer")
    if num_workers < 0:
        raise SevilaError(f"--data.num_workers is {num_workers}; expected 0 or more")


class ClipDataModule(L.LightningDataModule, ABC):
    """Reads the split files, builds the datasets per stage and serves their loaders.

    Args:
        annotation_dir: folder holding the split files.
        video_dir: folder holding the videos.
        num_frames: candidate frames per item in training (n); None = the benchmark's (32 for QA; refinement
            sets 4).
        eval_num_frames: frames per item in validation and test; None = num_frames.
        frame_size: frame side in pixels (224 for BLIP-2).
        batch_size: training items (questions or queries) per batch.
        eval_batch_size: items per evaluation batch; None = batch_size.
        num_workers: DataLoader worker processes (0 decodes in the main process).
        train_file: training split file name inside annotation_dir.
        val_file: validation split file name inside annotation_dir.
        test_file: test split file name inside annotation_dir; None = no test split.
        on_bad_video: "error" stops at an unreadable video; "skip" logs it and serves the next item.
        seed: seed of the training order, frame draws and crops (per epoch and item).
        random_train_frames: False trains on the evaluation frames (segment midpoints, no crop), the same
            every epoch, so per-frame results such as stage 3's pseudo-labels can be cached.
        crop_resize: how training crops are resized: "smooth" (antialiased bicubic, rounded) or "official"
            (the original's bicubic without antialias, truncated); both clamp to 0..255, where the original
            wraps around.
    """

    benchmark: ClassVar[Benchmark]  # the facts of the benchmark this module serves (`sevila.benchmarks`)
    answerer_instruction: str | None = None  # a QA module's Answerer wording; None = the paper's (stage 3 keys on it)
    file_format: ClassVar[str]
    collate: ClassVar[Callable[[Sequence[Any]], Any]]

    def __init__(
        self,
        annotation_dir: str,
        video_dir: str,
        num_frames: int | None = None,
        eval_num_frames: int | None = None,
        frame_size: int = 224,
        batch_size: int = 8,
        eval_batch_size: int | None = None,
        num_workers: int = 2,
        train_file: str = "train.json",
        val_file: str = "val.json",
        test_file: str | None = None,
        on_bad_video: Literal["error", "skip"] = "error",
        seed: int = 0,
        random_train_frames: bool = True,
        crop_resize: CropResize = "smooth",
    ) -> None:
        super().__init__()
        if on_bad_video not in ("error", "skip"):
            raise SevilaError(f"--data.on_bad_video is {on_bad_video!r}; expected 'error' or 'skip'")
        if crop_resize not in CROP_RESIZES:
            raise SevilaError(f"--data.crop_resize is {crop_resize!r}; expected one of {', '.join(CROP_RESIZES)}")
        sizes = {"num_frames": num_frames, "eval_num_frames": eval_num_frames, "frame_size": frame_size}
        _check_settings(sizes | {"batch_size": batch_size, "eval_batch_size": eval_batch_size}, num_workers)
        self.annotation_dir, self.video_dir = Path(annotation_dir), Path(video_dir)
        self.num_frames = self.benchmark.train_frames if num_frames is None else num_frames
        self.eval_num_frames = self.num_frames if eval_num_frames is None else eval_num_frames
        self.frame_counts = (self.num_frames, self.eval_num_frames)  # per item in training, in evaluation: this run's
        self.frame_size, self.num_workers, self.seed = frame_size, num_workers, seed
        self.batch_size = batch_size
        self.eval_batch_size = batch_size if eval_batch_size is None else eval_batch_size
        self.files = {"train": train_file, "val": val_file, "test": test_file}
        self.on_bad_video = on_bad_video
        self.random_train_frames, self.crop_resize = random_train_frames, crop_resize
        self.datasets: dict[str, Dataset[Any]] = {}

    @property
    def name(self) -> str:
        """The benchmark's name, for video path rules and messages."""
        return self.benchmark.name

    def setup(self, stage: str) -> None:
        """Build the datasets a stage needs: fit -> train + val, validate -> val, test -> test."""
        splits = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",)}[stage]
        for split in splits:
            if split not in self.datasets:
                self.datasets[split] = self._build(split)

    def train_dataloader(self) -> DataLoader[Any]:
        """Shuffled full training batches (the last partial one is dropped, as the original's loader does);
        frames and crops are redrawn every epoch."""
        dataset = self._dataset("train", "fit")
        sampler = EpochSampler(len(dataset), shuffle=True, seed=self.seed)
        return self._loader(dataset, self.batch_size, sampler, ResumableLoader, drop_last=True)

    def val_dataloader(self) -> DataLoader[Any]:
        """Validation batches in file order, deterministic frames."""
        return self._loader(self._dataset("val", "validate"), self.eval_batch_size)

    def test_dataloader(self) -> DataLoader[Any]:
        """Test batches (test_file) in file order."""
        return self._loader(self._dataset("test", "test"), self.eval_batch_size)

    @abstractmethod
    def _read(self, path: Path) -> list[Any]:
        """The records of one split file."""

    @abstractmethod
    def _make_dataset(self, records: list[Any], num_frames: int, train: bool) -> Dataset[Any]:
        """The dataset serving these records with `num_frames` per item (`train`: random frames and crops)."""

    def _build(self, split: str) -> Dataset[Any]:
        file = self.files[split]
        if file is None:
            raise SevilaError(
                f"{self.name}: no {split} split: set --data.{split}_file to a file in {self.annotation_dir}"
            )
        path = self.annotation_dir / file
        if not path.is_file():
            raise SevilaError(
                f"{path}: {self.name} {split} annotations not found; put {self.file_format} there "
                f"(`sevila prepare {self.name}` converts the official release) or set --data.{split}_file"
            )
        records = self._read(path)
        if not records:
            raise SevilaError(f"{path}: no records; expected {self.file_format}")
        # The training split keeps its own frame count even when it samples frames as evaluation does.
        num_frames = self.frame_counts[split != "train"]
        return self._make_dataset(records, num_frames, train=split == "train" and self.random_train_frames)

    def set_frame_counts(self, num_frames: int, eval_num_frames: int) -> None:
        """This run's frames per item in training and in evaluation (a stage's rule, e.g. k for uniform keyframes),
        also for the datasets `setup` already built; `num_frames` and `eval_num_frames` keep the configured counts."""
        _check_settings({"num_frames": num_frames, "eval_num_frames": eval_num_frames}, self.num_workers)
        self.frame_counts = (num_frames, eval_num_frames)
        for split, dataset in self.datasets.items():
            dataset.num_frames = self.frame_counts[split != "train"]

    def records(self, split: str) -> list[Any]:
        """The records of a split that `setup` has built (`QARecord` or `MomentRecord`)."""
        return self._dataset(split, "the current stage").records

    def _dataset(self, split: str, stage: str) -> Dataset[Any]:
        if split not in self.datasets:
            raise RuntimeError(f"{type(self).__name__}.setup({stage!r}) must run before its {split} dataloader")
        return self.datasets[split]

    def _loader(
        self, dataset: Dataset[Any], batch_size: int, sampler: Sampler[Any] | None = None, kind: type = DataLoader,
        drop_last: bool = False,
    ) -> DataLoader[Any]:
        return kind(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            drop_last=drop_last,
            num_workers=self.num_workers,
            collate_fn=type(self).collate,
            persistent_workers=self.num_workers > 0,
            pin_memory=torch.cuda.is_available(),
        )


class VideoQADataModule(ClipDataModule):
    """Multiple-choice video QA in the SeViLA JSON format (sevila-method.md §8); subclasses name the benchmark.

    Args:
        annotation_dir: folder holding the split files (SeViLA JSON, made by `sevila prepare`).
        video_dir: folder holding the videos (path rules per benchmark: `sevila.data.video_paths`).
        video_map: NExT-QA only: map_vid_vidorID.json for records that hold bare video ids.
        localizer_prompt: the Localizer's yes/no instruction after the question and options: a name of
            `sevila.prompts.LOCALIZER_WORDINGS` (paper, relevant, sufficient, evidence) or a sentence of your own;
            `paper` = the paper's wording for the benchmark.
        answerer_prompt: the Answerer's instruction (after the options; VLEP: before them): a name of
            `sevila.prompts.ANSWERER_WORDINGS` (paper, frames, short) or a sentence of your own.
    """

    file_format = QA_FORMAT
    collate = staticmethod(collate_qa)

    def __init__(
        self, annotation_dir: str, video_dir: str, *, video_map: str | None = None, localizer_prompt: str = PAPER,
        answerer_prompt: str = PAPER, **kwargs: Any,
    ) -> None:
        super().__init__(annotation_dir, video_dir, **kwargs)
        if video_map is not None and self.benchmark.layout != "nextqa":
            raise SevilaError(f"--data.video_map applies to NExT-QA only, not {self.name}; remove it")
        self.video_map = load_video_map(video_map) if video_map is not None else None
        self.localizer_instruction = wording(localizer_prompt, LOCALIZER_WORDINGS, "localizer_prompt")
        self.answerer_instruction = wording(answerer_prompt, ANSWERER_WORDINGS, "answerer_prompt")

    def _read(self, path: Path) -> list[QARecord]:
        records = read_qa_annotations(path)
        for record in records:
            if len(record.options) > self.benchmark.num_options:
                raise SevilaError(
                    f"{path}: qid {record.qid} has {len(record.options)} options but {self.name} questions have "
                    f"{self.benchmark.num_options}; is this the {self.name} annotation file?"
                )
        return records

    def _make_dataset(self, records: list[QARecord], num_frames: int, train: bool) -> VideoQADataset:
        return VideoQADataset(
            records,
            self.video_dir,
            self.name,
            num_frames,
            self.frame_size,
            train,
            partial(event_record_prompts if self.benchmark.task == "event" else question_prompts,
                    localizer_instruction=self.localizer_instruction, answerer_instruction=self.answerer_instruction),
            video_map=self.video_map,
            seed=self.seed,
            on_bad_video=self.on_bad_video,
            crop_resize=self.crop_resize,
        )


class MomentDataModule(ClipDataModule):
    """QVHighlights queries with per-frame yes/no labels (Localizer pre-training, moment retrieval)."""

    file_format = MOMENT_FORMAT
    collate = staticmethod(collate_moments)

    def _read(self, path: Path) -> list[MomentRecord]:
        return read_moment_annotations(path)

    def _make_dataset(self, records: list[MomentRecord], num_frames: int, train: bool) -> MomentDataset:
        return MomentDataset(records, self.video_dir, num_frames, self.frame_size, train, self.seed, self.on_bad_video,
                             self.crop_resize)


class NExTQA(VideoQADataModule):
    """NExT-QA: 5 options, whole-video clips, videos under `<folder>/<id>.mp4`."""

    benchmark = BENCHMARKS["nextqa"]


class NExTGQA(VideoQADataModule):
    """NExT-GQA: NExT-QA questions with evidence windows (`sevila prepare nextgqa`), val and test splits only."""

    benchmark = BENCHMARKS["nextgqa"]


class STAR(VideoQADataModule):
    """STAR: 4 options, clips cut by each question's [start, end]."""

    benchmark = BENCHMARKS["star"]


class How2QA(VideoQADataModule):
    """How2QA: 4 options, clips cut by each question's [start, end]."""

    benchmark = BENCHMARKS["how2qa"]


class TVQA(VideoQADataModule):
    """TVQA: 5 options, clips cut by each question's [start, end] when given."""

    benchmark = BENCHMARKS["tvqa"]


class VLEP(VideoQADataModule):
    """VLEP event prediction: 2 candidate events and no question (event prompts, sevila-method.md §2)."""

    benchmark = BENCHMARKS["vlep"]


class DemoQA(VideoQADataModule):
    """The embedded synthetic benchmark's questions (`sevila demo-data`), 4-5 options, `<video>.mp4`."""

    benchmark = BENCHMARKS["demo"]


class QVHighlights(MomentDataModule):
    """QVHighlights queries: 4 frames per query in training, 75 in evaluation (sevila-method.md §6, §9).

    Args:
        annotation_dir: folder holding the split files (SeViLA JSON list or the official jsonl).
        video_dir: folder holding `<video>.mp4`.
        num_frames: frames per query in training (stage 1 uses n=4).
        eval_num_frames: frames per query in evaluation (the paper uses 75).
    """

    benchmark = BENCHMARKS["qvhighlights"]

    def __init__(
        self, annotation_dir: str, video_dir: str, num_frames: int = benchmark.train_frames,
        eval_num_frames: int = benchmark.eval_frames, **kwargs: Any,
    ) -> None:
        super().__init__(annotation_dir, video_dir, num_frames=num_frames, eval_num_frames=eval_num_frames, **kwargs)
