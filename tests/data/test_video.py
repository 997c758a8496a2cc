"""Frame sampling on small real h264 files: the index rule, the decoded pixels, and every error."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from video_factory import (
    read_index,
    write_audio_only,
    write_corrupted_copy,
    write_indexed_video,
    write_random_bytes,
    write_truncated_copy,
)

from sevila.data.video import VideoError, probe_video, sample_frames, segment_indices


def shown(result) -> list[int]:
    """The index painted on each returned frame."""
    return [read_index(frame.numpy()) for frame in result.frames]


def test_segment_indices_eval_takes_segment_midpoints():
    assert segment_indices(0, 100, 4) == [12, 37, 62, 87]


def test_segment_indices_boundaries_are_truncated_linspace():
    # linspace(5, 12, 4) = 5, 7.33, 9.67, 12 -> boundaries 5, 7, 9, 12
    assert segment_indices(5, 12, 3) == [6, 8, 10]


def test_segment_indices_train_picks_one_frame_inside_each_segment():
    for seed in range(50):
        picks = segment_indices(0, 100, 4, train=True, generator=torch.Generator().manual_seed(seed))
        assert [pick // 25 for pick in picks] == [0, 1, 2, 3]


def test_segment_indices_train_is_reproducible_with_a_generator():
    first = segment_indices(0, 1000, 8, train=True, generator=torch.Generator().manual_seed(3))
    again = segment_indices(0, 1000, 8, train=True, generator=torch.Generator().manual_seed(3))
    assert first == again


def test_segment_indices_short_video_repeats_the_last_index():
    assert segment_indices(0, 3, 8) == [0, 1, 2, 2, 2, 2, 2, 2]


def test_segment_indices_short_span_in_long_video_repeats_evenly():
    # The original caps the segment count at the whole video's frame count, not the span's.
    assert segment_indices(10, 13, 8, total_frames=100) == [10, 10, 10, 11, 11, 11, 12, 12]


def test_segment_indices_rejects_an_empty_range():
    with pytest.raises(ValueError, match="lo < hi"):
        segment_indices(5, 5, 4)


def test_sample_frames_returns_uint8_frames_of_the_requested_size(tmp_path: Path):
    video = write_indexed_video(tmp_path / "v.mp4", 30)
    result = sample_frames(video, 8, size=40)
    assert (result.frames.shape, result.frames.dtype, result.fps) == ((8, 3, 40, 40), torch.uint8, 10.0)


def test_sample_frames_long_gop_decodes_the_eval_frames(tmp_path: Path):
    video = write_indexed_video(tmp_path / "v.mp4", 200, gop=60)
    result = sample_frames(video, 16, size=32)
    assert result.indices == segment_indices(0, 200, 16)
    assert shown(result) == result.indices


def test_sample_frames_short_gop_decodes_the_eval_frames(tmp_path: Path):
    video = write_indexed_video(tmp_path / "v.mp4", 120, gop=4)
    result = sample_frames(video, 32, size=32)
    assert shown(result) == result.indices == segment_indices(0, 120, 32)


def test_sample_frames_decodes_every_frame_of_reordered_open_gops(tmp_path: Path):
    video = write_indexed_video(tmp_path / "v.mp4", 60, gop=8, bframes=3, open_gop=True)
    assert shown(sample_frames(video, 60, size=32)) == list(range(60))


def test_sample_frames_train_decodes_the_random_frames(tmp_path: Path):
    video = write_indexed_video(tmp_path / "v.mp4", 150, gop=60)
    result = sample_frames(video, 8, train=True, size=32, generator=torch.Generator().manual_seed(0))
    assert result.indices == segment_indices(0, 150, 8, train=True, generator=torch.Generator().manual_seed(0))
    assert shown(result) == result.indices


def test_sample_frames_span_converts_seconds_with_the_fps(tmp_path: Path):
    video = write_indexed_video(tmp_path / "v.mp4", 100, fps=10)
    result = sample_frames(video, 4, span=(2.0, 4.05), size=32)
    assert shown(result) == result.indices == segment_indices(20, 40, 4, total_frames=100)


def test_sample_frames_span_is_clamped_to_the_video(tmp_path: Path):
    video = write_indexed_video(tmp_path / "v.mp4", 50, fps=10)
    assert sample_frames(video, 4, span=(-3.0, 99.0), size=32).indices == segment_indices(0, 50, 4)


def test_sample_frames_span_after_the_end_takes_the_last_frame(tmp_path: Path):
    video = write_indexed_video(tmp_path / "v.mp4", 50, fps=10)
    assert shown(sample_frames(video, 3, span=(7.0, 8.0), size=32)) == [49, 49, 49]


def test_sample_frames_variable_frame_rate_span_uses_timestamps(tmp_path: Path):
    times = [0.0, 0.1, 0.15, 0.5, 0.55, 0.6, 1.0, 1.5, 1.6, 1.7, 2.0, 2.05, 2.1, 3.0, 3.1]
    video = write_indexed_video(tmp_path / "v.mp4", len(times), vfr_pts=times)
    # On screen at 0.5 s: frame 3; at 2.0 s: frame 10 (average fps would say 2 and 9).
    result = sample_frames(video, 7, span=(0.5, 2.0), size=32)
    assert shown(result) == result.indices == [3, 4, 5, 6, 7, 8, 9]


def test_sample_frames_one_frame_video_repeats_it(tmp_path: Path):
    video = write_indexed_video(tmp_path / "v.mp4", 1)
    result = sample_frames(video, 4, size=32)
    assert shown(result) == result.indices == [0, 0, 0, 0]


def test_sample_frames_fewer_frames_than_requested_pads_with_the_last(tmp_path: Path):
    video = write_indexed_video(tmp_path / "v.mp4", 5)
    result = sample_frames(video, 8, size=32)
    assert shown(result) == result.indices == [0, 1, 2, 3, 4, 4, 4, 4]


def test_sample_frames_counts_frames_of_a_container_without_a_count(tmp_path: Path):
    video = write_indexed_video(tmp_path / "v.mkv", 90, gop=30)
    result = sample_frames(video, 6, size=32)
    assert shown(result) == result.indices == segment_indices(0, 90, 6)


def test_probe_video_reads_the_header(tmp_path: Path):
    info = probe_video(write_indexed_video(tmp_path / "v.mp4", 25, fps=5, size=(64, 48)))
    assert (info.num_frames, info.fps, info.duration, info.width, info.height) == (25, 5.0, 5.0, 64, 48)


def test_sample_frames_missing_file_raises_video_error(tmp_path: Path):
    with pytest.raises(VideoError, match="nope.mp4: no such file"):
        sample_frames(tmp_path / "nope.mp4", 4)


def test_sample_frames_empty_file_raises_video_error(tmp_path: Path):
    (tmp_path / "empty.mp4").touch()
    with pytest.raises(VideoError, match=r"empty.mp4: file is empty \(0 bytes\)"):
        sample_frames(tmp_path / "empty.mp4", 4)


def test_sample_frames_random_bytes_raise_video_error(tmp_path: Path):
    with pytest.raises(VideoError, match="noise.mp4: not a readable video"):
        sample_frames(write_random_bytes(tmp_path / "noise.mp4"), 4)


def test_sample_frames_audio_only_file_raises_video_error(tmp_path: Path):
    with pytest.raises(VideoError, match=r"sound.m4a: no video stream \(streams: audio\)"):
        sample_frames(write_audio_only(tmp_path / "sound.m4a"), 4)


def test_sample_frames_file_truncated_before_its_index_raises_video_error(tmp_path: Path):
    video = write_indexed_video(tmp_path / "v.mp4", 100)  # index (moov) at the end: cut off
    with pytest.raises(VideoError, match="cut.mp4: not a readable video"):
        sample_frames(write_truncated_copy(video, tmp_path / "cut.mp4", 0.5), 4)


def test_sample_frames_file_truncated_halfway_raises_instead_of_returning_wrong_frames(tmp_path: Path):
    video = write_indexed_video(tmp_path / "v.mp4", 200, index_first=True)  # index first: opens
    with pytest.raises(VideoError, match=r"cut.mp4: frame \d+ could not be decoded.* of its 200 declared frames"):
        sample_frames(write_truncated_copy(video, tmp_path / "cut.mp4", 0.5), 8)


def test_sample_frames_reversed_span_raises_video_error(tmp_path: Path):
    video = write_indexed_video(tmp_path / "v.mp4", 20)
    with pytest.raises(VideoError, match=r"span \(1.5, 0.5\) is not \(start_s, end_s\) seconds"):
        sample_frames(video, 4, span=(1.5, 0.5))


def test_sample_frames_decodes_open_gop_leading_frames_from_the_gop_before(tmp_path: Path):
    # Frames 5-7 show before keyframe 8 but are decoded after it, from references in GOP 0..4.
    video = write_indexed_video(tmp_path / "v.mp4", 40, fps=10, gop=8, bframes=3, open_gop=True)
    result = sample_frames(video, 3, span=(0.5, 0.8), size=32)
    assert shown(result) == result.indices == [5, 6, 7]


def test_sample_frames_skips_frames_an_edit_list_hides(tmp_path: Path):
    video = write_indexed_video(tmp_path / "v.mp4", 30, gop=12, hidden_lead=3)
    result = sample_frames(video, 27, size=32)
    assert result.indices == list(range(27))
    assert shown(result) == [index + 3 for index in result.indices]


def test_sample_frames_one_decoder_thread_decodes_the_same_frames(tmp_path: Path):
    video = write_indexed_video(tmp_path / "v.mp4", 90, gop=10)
    assert shown(sample_frames(video, 9, size=32, threads=1)) == segment_indices(0, 90, 9)


def test_sample_frames_more_threads_than_cores_decode_the_same_frames(tmp_path: Path):
    video = write_indexed_video(tmp_path / "v.mp4", 90, gop=10)
    assert shown(sample_frames(video, 9, size=32, threads=5)) == segment_indices(0, 90, 9)


def test_sample_frames_corrupt_packets_raise_instead_of_returning_damaged_frames(tmp_path: Path):
    video = write_indexed_video(tmp_path / "v.mp4", 120, gop=30)
    with pytest.raises(VideoError, match=r"bad.mp4: frame \d+ could not be decoded"):
        sample_frames(write_corrupted_copy(video, tmp_path / "bad.mp4", at=0.5), 120, size=32)


def test_sample_frames_concealed_decode_errors_raise_instead_of_returning_damaged_frames(tmp_path: Path):
    # These damaged bytes decode to frames patched by error concealment, flagged corrupt by FFmpeg.
    video = write_indexed_video(tmp_path / "v.mp4", 120, gop=30, index_first=True)
    with pytest.raises(VideoError, match=r"bad.mp4: frame \d+ could not be decoded"):
        sample_frames(write_corrupted_copy(video, tmp_path / "bad.mp4", at=0.75, length=20), 120, size=32)


def test_sample_frames_file_cut_after_its_front_index_raises_video_error(tmp_path: Path):
    video = write_indexed_video(tmp_path / "v.mkv", 90, gop=10, index_first=True)  # no frame count declared
    with pytest.raises(VideoError, match="cut.mkv: truncated file: its index points past its end"):
        sample_frames(write_truncated_copy(video, tmp_path / "cut.mkv", 0.6), 8)
