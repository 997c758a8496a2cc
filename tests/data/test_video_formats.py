"""Frame sampling from the containers users bring besides plain mp4: MPEG-TS, MPEG-PS, cut mp4s; their errors."""

from __future__ import annotations

import logging
from pathlib import Path

import av
import pytest
import torch
from video_factory import edit_list, read_index, write_indexed_video, write_stream_copy, write_truncated_copy

from sevila.data.video import VideoError, sample_frames, segment_indices

# (file name, codec): MPEG-TS as broadcasts and AVCHD cameras (.m2ts) write it, MPEG-PS as DVDs (.vob) and
# MPEG-1/2 files (.mpg) hold it. MPEG-1/2 take only standard frame rates, hence fps=25 below; REAL_SIZE frames
# are as big as camera frames (one frame per MPEG-PS packet), the default 64x48 ones pack many per packet.
REAL_SIZE = {"size": (160, 120), "grain": 20}
MPEG_CONTAINERS = [
    ("v.ts", "libx264"),
    ("v.ts", "mpeg2video"),
    ("v.m2ts", "libx264"),
    ("v.mpg", "mpeg2video"),
    ("v.mpg", "mpeg1video"),
    ("v.vob", "mpeg2video"),
]
SEEK_LOG = "sevila.data.packet_source"


def shown(result) -> list[int]:
    """The index painted on each returned frame."""
    return [read_index(frame.numpy()) for frame in result.frames]


def first_packets(path: Path, count: int) -> list[av.Packet]:
    """The first `count` video packets of a file, in decode order."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        packets = [packet for packet in container.demux(stream) if packet.size]
    return packets[:count]


def frame_ticks(path: Path) -> int:
    """Time-base units per frame of a constant-rate file."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return round(1 / (stream.average_rate * stream.time_base))


@pytest.mark.parametrize(("name", "codec"), MPEG_CONTAINERS)
def test_sample_frames_mpeg_container_decodes_every_frame(tmp_path: Path, name: str, codec: str):
    video = write_indexed_video(tmp_path / name, 60, fps=25, gop=12, codec=codec, **REAL_SIZE)
    result = sample_frames(video, 60, size=32)
    assert shown(result) == result.indices == list(range(60))


@pytest.mark.parametrize(("name", "codec"), MPEG_CONTAINERS)
def test_sample_frames_mpeg_container_decodes_the_eval_frames_of_a_long_clip(tmp_path: Path, name: str, codec: str):
    # Sparse frames need seeks, and TS and PS seek by decode timestamp: a seek by presentation time lands late.
    video = write_indexed_video(tmp_path / name, 300, fps=25, gop=12, codec=codec, **REAL_SIZE)
    result = sample_frames(video, 8, size=32)
    assert shown(result) == result.indices == segment_indices(0, 300, 8)


@pytest.mark.parametrize(("name", "codec"), [("v.ts", "libx264"), ("v.vob", "mpeg2video")])
def test_sample_frames_mpeg_container_decodes_the_train_frames(tmp_path: Path, name: str, codec: str):
    video = write_indexed_video(tmp_path / name, 240, fps=25, gop=24, codec=codec, **REAL_SIZE)
    result = sample_frames(video, 12, train=True, size=32, generator=torch.Generator().manual_seed(1))
    assert result.indices == segment_indices(0, 240, 12, train=True, generator=torch.Generator().manual_seed(1))
    assert shown(result) == result.indices


def test_sample_frames_mpeg_ts_span_is_timed_from_the_first_frame(tmp_path: Path):
    # MPEG-TS timestamps start at an offset (here 1.4 s of 90 kHz ticks); spans are seconds into the video.
    video = write_indexed_video(tmp_path / "v.ts", 100, fps=25, gop=12)
    result = sample_frames(video, 4, span=(1.0, 2.0), size=32)
    assert shown(result) == result.indices == segment_indices(25, 50, 4, total_frames=100)


def test_sample_frames_mp4_cut_with_an_edit_list_numbers_the_frames_it_shows(tmp_path: Path):
    """The cut `ffmpeg -ss 1.5 -c copy` makes: packets from keyframe 12 on, an edit list starting at frame 15.

    The file's first packet is keyframe 12, its edit list (one entry) hides frames 12-14, which FFmpeg
    flags as discarded packets: 105 frames are shown, frame i painting source index 15 + i.
    """
    source = write_indexed_video(tmp_path / "source.mp4", 120, fps=10, gop=12)
    video = write_stream_copy(source, tmp_path / "cut.mp4", first_packet=12, zero_pts=15 * frame_ticks(source))
    head = first_packets(video, 12)
    assert head[0].is_keyframe and sum(packet.is_discard for packet in head) == 3 and len(edit_list(video)) == 1
    result = sample_frames(video, 105, size=32)
    assert result.indices == list(range(105))
    assert shown(result) == [15 + index for index in result.indices]


def test_sample_frames_mp4_cut_mid_gop_starts_at_its_first_keyframe(tmp_path: Path):
    """A stream copy from packet 16 (inside the GOP of keyframe 12): its first packet is no keyframe.

    Frames before keyframe 24 lack their references, so FFmpeg never shows them and they are not
    counted: 96 frames, frame i painting source index 24 + i. mp4 refuses (EPERM) seeks before frame 24.
    """
    source = write_indexed_video(tmp_path / "source.mp4", 120, fps=10, gop=12)
    video = write_stream_copy(source, tmp_path / "cut.mp4", first_packet=16)
    assert [packet.is_keyframe for packet in first_packets(video, 9)] == [False] * 8 + [True]
    every = sample_frames(video, 96, size=32)
    assert shown(every) == [24 + index for index in every.indices] == list(range(24, 120))
    sparse = sample_frames(video, 8, size=32)
    assert shown(sparse) == [24 + index for index in segment_indices(0, 96, 8)]


def test_sample_frames_plain_mp4_decodes_every_run_after_a_seek(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    # The fast path: no run of an ordinary file is read forward from the file start.
    video = write_indexed_video(tmp_path / "v.mp4", 300, gop=12)
    with caplog.at_level(logging.DEBUG, logger=SEEK_LOG):
        result = sample_frames(video, 8, size=32, threads=2)
    assert shown(result) == result.indices
    assert not [record for record in caplog.records if record.name == SEEK_LOG]


def test_sample_frames_mpeg_ps_of_small_frames_reads_forward_where_seeks_mislabel(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    # 64x48 frames share MPEG-PS packets; after a seek FFmpeg gives packets their neighbours' timestamps
    # (the sampler before these checks returned frames 84 and 109 for 87 and 112). After 3 missed runs,
    # more than landed, the rest is read forward without trying more seeks.
    video = write_indexed_video(tmp_path / "v.vob", 200, fps=25, gop=12, codec="mpeg2video")
    with caplog.at_level(logging.DEBUG, logger=SEEK_LOG):
        result = sample_frames(video, 8, size=32, threads=1)
    assert shown(result) == result.indices == segment_indices(0, 200, 8)
    assert sum("no seek landed" in record.getMessage() for record in caplog.records) == 3


def test_sample_frames_mpeg_ps_with_colliding_timestamps_numbers_frames_as_decoded(tmp_path: Path):
    # In this small-frame file FFmpeg guesses two packets' timestamps onto others' (near frame 285), so
    # timestamps cannot order the frames; the decoder's output order does.
    video = write_indexed_video(tmp_path / "v.mpg", 300, fps=25, gop=12, codec="mpeg2video")
    with av.open(str(video)) as container:
        stamps = [packet.pts for packet in container.demux(container.streams.video[0]) if packet.size]
    assert (len(stamps), len(set(stamps))) == (300, 298)
    assert shown(sample_frames(video, 300, size=32)) == list(range(300))
    sparse = sample_frames(video, 8, span=(2.0, 12.0), size=32)
    assert shown(sparse) == sparse.indices == segment_indices(50, 300, 8, total_frames=300)


def test_sample_frames_directory_raises_video_error(tmp_path: Path):
    (tmp_path / "clip.mp4").mkdir()
    with pytest.raises(VideoError, match=r"clip.mp4: is a directory, not a video file$"):
        sample_frames(tmp_path / "clip.mp4", 4)


def test_sample_frames_truncated_mpeg_ps_raises_video_error(tmp_path: Path):
    # Cut inside a packet: the last frame present cannot be decoded, and is never replaced by another.
    video = write_indexed_video(tmp_path / "v.mpg", 100, fps=25, gop=12, codec="mpeg2video")
    with pytest.raises(VideoError, match=r"cut.mpg: frame \d+ could not be decoded"):
        sample_frames(write_truncated_copy(video, tmp_path / "cut.mpg", 0.5), 100, size=32)
