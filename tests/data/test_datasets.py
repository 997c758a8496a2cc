"""Tests of VideoQADataset, MomentDataset and their collate functions, on tiny real videos."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from video_factory import read_index, write_indexed_video

from sevila.data.annotations import MomentRecord, QARecord
from sevila.data.batch import MomentBatch, QABatch
from sevila.data.datasets import (
    MomentDataset,
    SkippedVideo,
    VideoQADataset,
    collate_moments,
    collate_qa,
    frame_labels,
    question_prompts,
)
from sevila.data.transforms import CLIP_MEAN, CLIP_STD
from sevila.data.video import VideoError
from sevila.prompts import moment_prompt, qa_prompts

SIZE = 32  # frame side: small enough to keep decoding and resizing fast
FPS = 10
NUM_VIDEO_FRAMES = 40  # 4 s at 10 fps


@pytest.fixture(scope="module")
def video_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("videos")
    write_indexed_video(folder / "clip.mp4", NUM_VIDEO_FRAMES, fps=FPS)
    return folder


def _qa_record(
    qid: str = "CW_clip_0", video: str = "clip", options: int = 5, span: tuple[float, float] | None = None
) -> QARecord:
    start, end = span if span is not None else (None, None)
    texts = tuple(f"option {i}" for i in range(options))
    return QARecord(qid, video, "what happens?", texts, 1, start, end, qid.split("_", 1)[0])


def _qa_dataset(
    video_dir: Path, records: list[QARecord], train: bool = False, seed: int = 0, on_bad_video: str = "error"
) -> VideoQADataset:
    return VideoQADataset(
        records, video_dir, "star", 4, SIZE, train, question_prompts, seed=seed, on_bad_video=on_bad_video
    )


def _decoded_indices(frames: torch.Tensor) -> list[int]:
    """Undo the CLIP normalisation and read each frame's painted index."""
    mean = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    pixels = ((frames * std + mean) * 255).round().clamp(0, 255).to(torch.uint8)
    return [read_index(frame.numpy()) for frame in pixels]


def test_video_qa_dataset_eval_takes_segment_midpoints(video_dir: Path) -> None:
    sample = _qa_dataset(video_dir, [_qa_record()])[0]
    # 40 frames in 4 segments: bounds 0, 10, 20, 30, 40 -> midpoints 5, 15, 25, 35 (method §7).
    assert sample["frame_indices"].tolist() == [5, 15, 25, 35]
    assert _decoded_indices(sample["frames"]) == [5, 15, 25, 35]


def test_video_qa_dataset_span_restricts_frames_to_the_span(video_dir: Path) -> None:
    sample = _qa_dataset(video_dir, [_qa_record(span=(1.0, 2.0))])[0]
    # Seconds 1-2 at 10 fps = frames [10, 20): bounds 10, 12, 15, 17, 20 -> midpoints 11, 13, 16, 18.
    assert sample["frame_indices"].tolist() == [11, 13, 16, 18]
    assert _decoded_indices(sample["frames"]) == [11, 13, 16, 18]


def test_video_qa_dataset_sample_holds_the_question_fields(video_dir: Path) -> None:
    record = _qa_record(options=4)
    sample = _qa_dataset(video_dir, [record])[0]
    prompts = qa_prompts(record.question, record.options)
    assert sample["frames"].shape == (4, 3, SIZE, SIZE) and sample["frames"].dtype == torch.float32
    assert (sample["answerer_text"], sample["localizer_text"]) == (prompts.answerer, prompts.localizer)
    assert (sample["answer"], sample["num_options"], sample["qid"]) == (1, 4, "CW_clip_0")
    assert (Path(sample["video_file"]).name, sample["index"], sample["fps"]) == ("clip.mp4", 0, pytest.approx(FPS))


def test_video_qa_dataset_train_draws_one_frame_inside_each_segment(video_dir: Path) -> None:
    dataset = _qa_dataset(video_dir, [_qa_record()], train=True)
    for epoch in range(3):
        indices = dataset[(epoch, 0)]["frame_indices"].tolist()
        assert [index // 10 for index in indices] == [0, 1, 2, 3], indices


def test_video_qa_dataset_train_draws_differ_across_epochs(video_dir: Path) -> None:
    dataset = _qa_dataset(video_dir, [_qa_record()], train=True)
    first, second = dataset[(0, 0)], dataset[(1, 0)]
    assert not torch.equal(first["frames"], second["frames"])


def test_video_qa_dataset_train_draws_repeat_for_the_same_seed_and_epoch(video_dir: Path) -> None:
    first = _qa_dataset(video_dir, [_qa_record()], train=True, seed=3)
    second = _qa_dataset(video_dir, [_qa_record()], train=True, seed=3)
    second.set_epoch(2)
    a, b = first[(2, 0)], second[0]
    assert torch.equal(a["frames"], b["frames"]) and torch.equal(a["frame_indices"], b["frame_indices"])


def test_video_qa_dataset_train_draws_depend_on_the_seed(video_dir: Path) -> None:
    a = _qa_dataset(video_dir, [_qa_record()], train=True, seed=0)[0]
    b = _qa_dataset(video_dir, [_qa_record()], train=True, seed=1)[0]
    assert not torch.equal(a["frames"], b["frames"])


def test_video_qa_dataset_bad_video_error_names_the_qid_and_path(video_dir: Path) -> None:
    dataset = _qa_dataset(video_dir, [_qa_record(qid="CW_gone_3", video="gone")])
    with pytest.raises(VideoError, match=r"qid CW_gone_3.*gone\.mp4: no such file"):
        dataset[0]


def test_video_qa_dataset_bad_video_skip_serves_the_next_item_and_records_the_skip(video_dir: Path) -> None:
    records = [_qa_record(qid="CW_gone_3", video="gone"), _qa_record(qid="CW_clip_4")]
    dataset = _qa_dataset(video_dir, records, on_bad_video="skip")
    sample = dataset[0]
    assert (sample["qid"], sample["index"]) == ("CW_clip_4", 1)
    assert len(dataset.skipped) == 1 and dataset.skipped[0][:2] == ("CW_gone_3", "gone")
    assert isinstance(dataset.skipped[0], SkippedVideo) and "no such file" in dataset.skipped[0].reason


def test_video_qa_dataset_bad_video_skip_records_each_video_once(video_dir: Path) -> None:
    records = [_qa_record(qid="CW_gone_3", video="gone"), _qa_record(qid="CW_clip_4")]
    dataset = _qa_dataset(video_dir, records, on_bad_video="skip")
    dataset[0], dataset[0], dataset[1]
    assert [skip.qid for skip in dataset.skipped] == ["CW_gone_3"]


def test_video_qa_dataset_bad_video_skip_fails_when_no_video_is_readable(video_dir: Path) -> None:
    records = [_qa_record(video="gone"), _qa_record(qid="CW_x_1", video="lost")]
    dataset = _qa_dataset(video_dir, records, on_bad_video="skip")
    with pytest.raises(VideoError, match="no readable video among the 2 records"):
        dataset[1]


def test_video_qa_dataset_rejects_an_unknown_bad_video_policy(video_dir: Path) -> None:
    with pytest.raises(ValueError, match="on_bad_video is 'ignore'"):
        _qa_dataset(video_dir, [_qa_record()], on_bad_video="ignore")


def test_frame_labels_count_both_window_ends() -> None:
    labels = frame_labels(torch.tensor([0.5, 1.0, 1.5, 2.0, 2.5]), [(1.0, 1.5), (2.5, 3.0)])
    assert labels.tolist() == [False, True, True, False, True]


def test_moment_dataset_labels_frames_by_their_timestamps(video_dir: Path) -> None:
    record = MomentRecord("QVHighlight_7", "clip", "a man talks", 4.0, ((1.0, 1.5), (2.5, 3.0)))
    sample = MomentDataset([record], video_dir, 4, SIZE, train=False)[0]
    # Midpoint frames 5, 15, 25, 35 at 10 fps -> 0.5, 1.5, 2.5, 3.5 s; 1.5 and 2.5 are window ends.
    torch.testing.assert_close(sample["timestamps"], torch.tensor([0.5, 1.5, 2.5, 3.5]))
    assert sample["labels"].tolist() == [False, True, True, False]


def test_moment_dataset_sample_holds_the_query_fields(video_dir: Path) -> None:
    record = MomentRecord("QVHighlight_7", "clip", "a man talks", 4.0, ())
    sample = MomentDataset([record], video_dir, 3, SIZE, train=True)[0]
    assert sample["frames"].shape == (3, 3, SIZE, SIZE) and sample["labels"].tolist() == [False] * 3
    assert (sample["localizer_text"], sample["duration"], sample["windows"]) == (moment_prompt("a man talks"), 4.0, [])


def test_collate_qa_stacks_questions_with_different_option_counts(video_dir: Path) -> None:
    records = [_qa_record(qid="VLEP_1", options=2), _qa_record(qid="CW_clip_2", options=5)]
    dataset = _qa_dataset(video_dir, records)
    batch = collate_qa([dataset[0], dataset[1]])
    assert set(batch) == set(QABatch.__required_keys__)
    assert batch["frames"].shape == (2, 4, 3, SIZE, SIZE) and batch["frame_indices"].dtype == torch.int64
    assert batch["num_options"].tolist() == [2, 5] and batch["answer"].dtype == torch.int64
    assert batch["qid"] == ["VLEP_1", "CW_clip_2"] and batch["index"].tolist() == [0, 1]


def test_collate_moments_keeps_windows_per_query(video_dir: Path) -> None:
    records = [
        MomentRecord("QVHighlight_1", "clip", "a dog", 4.0, ((0.0, 1.0),)),
        MomentRecord("QVHighlight_2", "clip", "a cat", 4.0, ((1.0, 2.0), (3.0, 4.0))),
    ]
    dataset = MomentDataset(records, video_dir, 4, SIZE, train=False)
    batch = collate_moments([dataset[0], dataset[1]])
    assert set(batch) == set(MomentBatch.__required_keys__)
    assert batch["windows"] == [[(0.0, 1.0)], [(1.0, 2.0), (3.0, 4.0)]]
    assert batch["labels"].shape == (2, 4) and batch["labels"].dtype == torch.bool
    assert batch["timestamps"].dtype == torch.float32 and batch["duration"].tolist() == [4.0, 4.0]
