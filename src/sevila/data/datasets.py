"""Map-style datasets: one sample per QA question or QVHighlights query, and their collate functions.

Randomness: in training each item draws its frames and crop box from a `torch.Generator` seeded by
(seed, epoch, index), so a run is reproducible and every epoch sees new draws. The epoch reaches
DataLoader workers through the key: `datamodules.EpochSampler` yields `(epoch, index)` pairs, which stay right
with persistent workers (whose copy of the dataset never sees `set_epoch`) and under Lightning's
distributed sampler wrapper, which forwards `set_epoch` to it. A plain int key uses `set_epoch`'s value.

Bad videos (`on_bad_video`): "error" raises the VideoError with the record's qid and video path;
"skip" logs a warning, appends (qid, video, reason) to `skipped` and returns the next readable item
(wrapping around) with that item's own frames, text, answer and `index`, so a batch never pairs a
question with another video's frames. `skipped` lives in the process that decoded (each DataLoader
worker fills its own copy), so the returned sample also carries the records skipped while serving it
in its `skipped` field: the batches bring them to the main process (`sevila.stages.skipped_videos`).
"""

from __future__ import annotations

import hashlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Generic, NamedTuple, TypedDict, TypeVar

import torch
from torch import Tensor
from torch.utils.data import Dataset

from sevila.data.annotations import MomentRecord, QARecord
from sevila.data.batch import MomentBatch, QABatch
from sevila.data.transforms import CropResize, normalize, random_resized_crop
from sevila.data.video import SampledFrames, VideoError, sample_frames
from sevila.data.video_paths import video_path
from sevila.prompts import Prompts, event_prompts, moment_prompt, qa_prompts

logger = logging.getLogger(__name__)

BAD_VIDEO_POLICIES = ("error", "skip")

Key = int | tuple[int, int]  # an index, or (epoch, index) from EpochSampler
Span = tuple[float, float] | None  # (start, end) seconds, or None for the whole video
_Record = TypeVar("_Record", QARecord, MomentRecord)
_Sample = TypeVar("_Sample")


class QASample(TypedDict):
    """One question: its T frames (normalised) and texts; `collate_qa` stacks these into a QABatch."""

    frames: Tensor  # (T, 3, S, S) float
    frame_indices: Tensor  # (T,) int64
    fps: float
    answerer_text: str
    localizer_text: str
    answer: int
    num_options: int
    qid: str
    video_file: str
    index: int
    skipped: list[dict[str, str]]  # records left out by on_bad_video="skip" while serving this sample


class MomentSample(TypedDict):
    """One QVHighlights query: its T frames with their times and yes/no labels."""

    frames: Tensor  # (T, 3, S, S) float
    frame_indices: Tensor  # (T,) int64
    timestamps: Tensor  # (T,) float32 seconds
    fps: float
    localizer_text: str
    labels: Tensor  # (T,) bool
    duration: float
    windows: list[tuple[float, float]]
    qid: str
    video_file: str
    index: int
    skipped: list[dict[str, str]]


class SkippedVideo(NamedTuple):
    """A record left out by on_bad_video="skip": its qid, its video file and the decoder's reason."""

    qid: str
    video: str
    reason: str


def question_prompts(
    record: QARecord, localizer_instruction: str | None = None, answerer_instruction: str | None = None
) -> Prompts:
    """Prompts of a multiple-choice question (NExT-QA, STAR, How2QA, TVQA); picklable for workers."""
    return qa_prompts(record.question, record.options, localizer_instruction, answerer_instruction)


def event_record_prompts(
    record: QARecord, localizer_instruction: str | None = None, answerer_instruction: str | None = None
) -> Prompts:
    """Prompts of a VLEP example, which has no question (sevila-method.md §2)."""
    return event_prompts(record.options, localizer_instruction, answerer_instruction)


def item_seed(seed: int, epoch: int, index: int) -> int:
    """A 64-bit seed for one item in one epoch; hashing keeps nearby (epoch, index) pairs unrelated."""
    digest = hashlib.blake2b(f"{seed}/{epoch}/{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


class _ClipDataset(Dataset[_Sample], Generic[_Record, _Sample], ABC):
    """What both datasets share: per-item seeded randomness, frame loading and the bad-video policy."""

    def __init__(
        self,
        records: Sequence[_Record],
        video_dir: str | Path,
        num_frames: int,
        frame_size: int,
        train: bool,
        seed: int,
        on_bad_video: str,
        crop_resize: CropResize = "smooth",
    ) -> None:
        if on_bad_video not in BAD_VIDEO_POLICIES:
            raise ValueError(f"on_bad_video is {on_bad_video!r}; expected one of {BAD_VIDEO_POLICIES}")
        if num_frames < 1 or frame_size < 1:
            raise ValueError(f"num_frames ({num_frames}) and frame_size ({frame_size}) must be >= 1")
        self.records = list(records)
        self.video_dir = Path(video_dir)
        self.num_frames, self.frame_size, self.train = num_frames, frame_size, train
        self.seed, self.on_bad_video, self.crop_resize = seed, on_bad_video, crop_resize
        self.epoch = 0
        self.skipped: list[SkippedVideo] = []
        self._bad: set[int] = set()

    def __len__(self) -> int:
        return len(self.records)

    def set_epoch(self, epoch: int) -> None:
        """Epoch used by plain int keys (EpochSampler passes it in the key instead)."""
        self.epoch = epoch

    def __getitem__(self, key: Key) -> _Sample:
        epoch, index = key if isinstance(key, tuple) else (self.epoch, key)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} is outside 0..{len(self) - 1}")
        skipped_before = len(self.skipped)
        for offset in range(len(self)):
            candidate = (index + offset) % len(self)
            if candidate in self._bad:
                continue
            try:
                sample = self._load(candidate, epoch)
            except VideoError as error:
                self._reject(candidate, error)
                continue
            sample["skipped"] = [entry._asdict() for entry in self.skipped[skipped_before:]]
            return sample
        raise VideoError(f"no readable video among the {len(self)} records under {self.video_dir}; see the warnings")

    @abstractmethod
    def _load(self, index: int, epoch: int) -> _Sample:
        """One item's sample; raises VideoError for an unreadable video."""

    def _reject(self, index: int, error: VideoError) -> None:
        qid, video = self.records[index].qid, self.records[index].video
        if self.on_bad_video == "error":
            raise VideoError(f"record {index} (qid {qid}, video {video!r}): {error}") from error
        logger.warning("skipping record %d (qid %s, video %r): %s", index, qid, video, error)
        self._bad.add(index)
        self.skipped.append(SkippedVideo(qid, video, str(error)))

    def _clip(self, path: Path, span: Span, index: int, epoch: int) -> tuple[Tensor, SampledFrames]:
        """One clip's normalised frames and sampling: random frames + crop in training, midpoints otherwise (§7)."""
        generator = torch.Generator().manual_seed(item_seed(self.seed, epoch, index)) if self.train else None
        sampled = sample_frames(path, self.num_frames, span, self.train, self.frame_size, generator)
        frames = sampled.frames
        if self.train:
            frames = random_resized_crop(frames, self.frame_size, generator=generator, mode=self.crop_resize)
        return normalize(frames), sampled


class VideoQADataset(_ClipDataset[QARecord, QASample]):
    """Multiple-choice video QA: one sample per question, frames from the whole video or its [start, end]."""

    def __init__(
        self,
        records: Sequence[QARecord],
        video_dir: str | Path,
        dataset: str,
        num_frames: int,
        frame_size: int,
        train: bool,
        prompts: Callable[[QARecord], Prompts],
        video_map: Mapping[str, str] | None = None,
        seed: int = 0,
        on_bad_video: str = "error",
        crop_resize: CropResize = "smooth",
    ) -> None:
        super().__init__(records, video_dir, num_frames, frame_size, train, seed, on_bad_video, crop_resize)
        self.dataset, self.prompts, self.video_map = dataset, prompts, video_map

    def _load(self, index: int, epoch: int) -> QASample:
        record = self.records[index]
        path = video_path(self.dataset, self.video_dir, record.video, self.video_map)
        span = None if record.start is None or record.end is None else (record.start, record.end)
        frames, clip = self._clip(path, span, index, epoch)
        prompts = self.prompts(record)
        return QASample(
            frames=frames,
            frame_indices=torch.tensor(clip.indices, dtype=torch.int64),
            fps=clip.fps,
            answerer_text=prompts.answerer,
            localizer_text=prompts.localizer,
            answer=record.answer,
            num_options=len(record.options),
            qid=record.qid,
            video_file=str(path),
            index=index,
            skipped=[],
        )


def frame_labels(timestamps: Tensor, windows: Sequence[tuple[float, float]]) -> Tensor:
    """Per frame: does its time lie in any window? Both ends count, as in the original's `s <= t <= e` (§6)."""
    labels = torch.zeros(timestamps.shape, dtype=torch.bool)
    for start, end in windows:
        labels |= (timestamps >= start) & (timestamps <= end)
    return labels


class MomentDataset(_ClipDataset[MomentRecord, MomentSample]):
    """QVHighlights queries: one sample per query with the whole video's T frames and per-frame labels."""

    def __init__(
        self,
        records: Sequence[MomentRecord],
        video_dir: str | Path,
        num_frames: int,
        frame_size: int,
        train: bool,
        seed: int = 0,
        on_bad_video: str = "error",
        crop_resize: CropResize = "smooth",
    ) -> None:
        super().__init__(records, video_dir, num_frames, frame_size, train, seed, on_bad_video, crop_resize)

    def _load(self, index: int, epoch: int) -> MomentSample:
        record = self.records[index]
        path = video_path("qvhighlights", self.video_dir, record.video)
        frames, clip = self._clip(path, None, index, epoch)
        if clip.fps <= 0:
            raise VideoError(f"{path}: the frame rate is unknown, so frame times (index / fps) cannot be computed")
        # A frame's time is index / average fps, as the original computes it (§6).
        timestamps = torch.tensor(clip.indices, dtype=torch.float64) / clip.fps
        return MomentSample(
            frames=frames,
            frame_indices=torch.tensor(clip.indices, dtype=torch.int64),
            timestamps=timestamps.to(torch.float32),
            fps=clip.fps,
            localizer_text=moment_prompt(record.query),
            labels=frame_labels(timestamps, record.windows),
            duration=record.duration,
            windows=list(record.windows),
            qid=record.qid,
            video_file=str(path),
            index=index,
            skipped=[],
        )


def collate_qa(samples: Sequence[QASample]) -> QABatch:
    """Stack QA samples into a QABatch; option counts may differ (num_options is per sample)."""
    return QABatch(
        frames=torch.stack([s["frames"] for s in samples]),
        frame_indices=torch.stack([s["frame_indices"] for s in samples]),
        fps=torch.tensor([s["fps"] for s in samples], dtype=torch.float32),
        answerer_text=[s["answerer_text"] for s in samples],
        localizer_text=[s["localizer_text"] for s in samples],
        answer=torch.tensor([s["answer"] for s in samples], dtype=torch.int64),
        num_options=torch.tensor([s["num_options"] for s in samples], dtype=torch.int64),
        qid=[s["qid"] for s in samples],
        video_file=[s["video_file"] for s in samples],
        index=torch.tensor([s["index"] for s in samples], dtype=torch.int64),
        skipped=[entry for s in samples for entry in s["skipped"]],
    )


def collate_moments(samples: Sequence[MomentSample]) -> MomentBatch:
    """Stack QVHighlights samples into a MomentBatch; windows stay per-sample lists."""
    return MomentBatch(
        frames=torch.stack([s["frames"] for s in samples]),
        frame_indices=torch.stack([s["frame_indices"] for s in samples]),
        timestamps=torch.stack([s["timestamps"] for s in samples]),
        fps=torch.tensor([s["fps"] for s in samples], dtype=torch.float32),
        localizer_text=[s["localizer_text"] for s in samples],
        labels=torch.stack([s["labels"] for s in samples]),
        duration=torch.tensor([s["duration"] for s in samples], dtype=torch.float32),
        windows=[s["windows"] for s in samples],
        qid=[s["qid"] for s in samples],
        video_file=[s["video_file"] for s in samples],
        index=torch.tensor([s["index"] for s in samples], dtype=torch.int64),
        skipped=[entry for s in samples for entry in s["skipped"]],
    )
