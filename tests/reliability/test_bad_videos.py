"""Bad-input catalogue, videos: what a dataset item (and so a training or evaluation run) does with each."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import av
import pytest
from video_factory import (
    read_index,
    write_audio_only,
    write_indexed_video,
    write_random_bytes,
    write_stream_copy,
    write_truncated_copy,
)

from sevila.data.annotations import QARecord
from sevila.data.datasets import VideoQADataset, question_prompts
from sevila.data.transforms import denormalize
from sevila.data.video import VideoError, sample_frames
from sevila.data.video_file import read_errors

RECORD = QARecord("Color_x_0", "x", "what is the color", ("red", "blue"), 0, None, None, "Color")


def _dataset(video_dir: Path, num_frames: int = 4, span: tuple[float, float] | None = None) -> VideoQADataset:
    record = RECORD if span is None else replace(RECORD, start=span[0], end=span[1])
    return VideoQADataset([record], video_dir, "demo", num_frames, 32, False, question_prompts)


def _shown(sample: dict) -> list[int]:
    return [read_index(frame) for frame in denormalize(sample["frames"]).numpy()]


def _zero_bytes(path: Path) -> None:
    path.touch()


def _truncated_at_open(path: Path) -> None:
    write_truncated_copy(write_indexed_video(path.with_name("whole.mp4"), 100), path, 0.5)  # index at the end: cut off


def _truncated_halfway(path: Path) -> None:
    write_truncated_copy(write_indexed_video(path.with_name("whole.mp4"), 200, index_first=True), path, 0.5)


def _audio_only(path: Path) -> None:
    write_audio_only(path)


BAD_VIDEOS: dict[str, tuple[Callable[[Path], object], str]] = {
    "missing file": (lambda path: None, "x.mp4: no such file"),
    "zero-byte file": (_zero_bytes, r"x.mp4: file is empty \(0 bytes\)"),
    "random bytes": (write_random_bytes, "x.mp4: not a readable video .*; is it truncated or another format"),
    "truncated, fails at open": (_truncated_at_open, "x.mp4: not a readable video .*; is it truncated"),
    "truncated, fails halfway through the frames": (
        _truncated_halfway, r"x.mp4: frame \d+ could not be decoded: the file holds \d+ of its 200 declared frames"),
    "audio-only file": (_audio_only, r"x.mp4: no video stream \(streams: audio\)"),
    "a directory": (Path.mkdir, r"x.mp4: is a directory, not a video file$"),
}


@pytest.mark.parametrize("case", BAD_VIDEOS)
def test_bad_video_error_names_the_record_path_and_reason(tmp_path: Path, case: str) -> None:
    make, reason = BAD_VIDEOS[case]
    make(tmp_path / "x.mp4")
    with pytest.raises(VideoError, match=rf"^record 0 \(qid Color_x_0, video 'x'\): {tmp_path}/{reason}"):
        _dataset(tmp_path)[0]


def test_mp4_cut_mid_gop_is_read_from_its_first_keyframe(tmp_path: Path) -> None:
    # Once a bare "[Errno 1] Operation not permitted" (mp4 refusing a seek before its first keyframe).
    source = write_indexed_video(tmp_path / "source.mp4", 60, gop=12)
    write_stream_copy(source, tmp_path / "x.mp4", first_packet=16)  # frames 24..59 can be shown
    sample = _dataset(tmp_path)[0]
    assert _shown(sample) == [24 + index for index in sample["frame_indices"].tolist()] == [28, 37, 46, 55]


def test_ffmpeg_error_while_reading_becomes_one_video_error(tmp_path: Path) -> None:
    # FFmpeg's bare -1 (EPERM), here mp4 refusing a seek before its first keyframe, is PyAV's PermissionError.
    source = write_indexed_video(tmp_path / "source.mp4", 60, gop=12)
    video = write_stream_copy(source, tmp_path / "x.mp4", first_packet=16)
    with pytest.raises(VideoError, match=r"x.mp4: decoding failed \(PermissionError: .*Operation not permitted\)"):
        with read_errors(video), av.open(str(video)) as container:
            container.seek(0, stream=container.streams.video[0])


def test_one_frame_video_repeats_its_frame(tmp_path: Path) -> None:
    write_indexed_video(tmp_path / "x.mp4", 1)
    sample = _dataset(tmp_path)[0]
    assert sample["frame_indices"].tolist() == _shown(sample) == [0, 0, 0, 0]


def test_fewer_frames_than_n_pads_with_the_last_frame(tmp_path: Path) -> None:
    write_indexed_video(tmp_path / "x.mp4", 3)
    sample = _dataset(tmp_path, num_frames=5)[0]
    assert sample["frame_indices"].tolist() == _shown(sample) == [0, 1, 2, 2, 2]


def test_variable_frame_rate_span_picks_frames_by_timestamp(tmp_path: Path) -> None:
    times = [0.0, 0.1, 0.15, 0.5, 0.55, 0.6, 1.0, 1.5, 1.6, 1.7, 2.0, 2.05, 2.1, 3.0, 3.1]
    write_indexed_video(tmp_path / "x.mp4", len(times), vfr_pts=times)
    sample = _dataset(tmp_path, num_frames=3, span=(1.0, 2.0))[0]
    # Frames 6..9 are on screen from 1.0 s to 2.0 s (the average fps would say 4..8); midpoints of 3 segments.
    assert sample["frame_indices"].tolist() == _shown(sample) == [6, 7, 9]


def test_4k_video_is_decoded_straight_to_the_frame_size(tmp_path: Path) -> None:
    video = write_indexed_video(tmp_path / "x.mp4", 2, size=(3840, 2160), gop=2, bframes=0)
    result = sample_frames(video, 2, size=32)
    assert tuple(result.frames.shape) == (2, 3, 32, 32) and [read_index(f.numpy()) for f in result.frames] == [0, 1]


def test_span_outside_the_video_uses_its_last_frame_and_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_indexed_video(tmp_path / "x.mp4", 20, fps=10)  # 2 s
    with caplog.at_level(logging.WARNING, logger="sevila.data.video"):
        sample = _dataset(tmp_path, num_frames=2, span=(5.0, 6.0))[0]
    assert _shown(sample) == [19, 19]
    assert "span (5.0, 6.0) starts after the video's last frame (20 frames); using its last frame" in caplog.text
