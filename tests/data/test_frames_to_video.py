"""frames_to_video on small folders of real png/jpg frames."""

from __future__ import annotations

from pathlib import Path

import pytest
from video_factory import index_image, read_index, write_image

from sevila.data.frames_to_video import frames_to_video, main
from sevila.data.video import probe_video, sample_frames
from sevila.errors import SevilaError


def write_frames(folder: Path, names: list[str], size: tuple[int, int] = (64, 48)) -> Path:
    """Frame i of `names` (in numeric order) shows index i."""
    folder.mkdir()
    for index, name in enumerate(names):
        write_image(folder / name, index_image(index, *size))
    return folder


def test_frames_to_video_orders_frames_by_the_number_in_their_names(tmp_path: Path):
    frames = write_frames(tmp_path / "f", ["img_1.png", "img_2.png", "img_10.png"])
    video = frames_to_video(frames, 3, tmp_path / "v.mp4")
    result = sample_frames(video, 3, size=32)
    assert [read_index(frame.numpy()) for frame in result.frames] == result.indices == [0, 1, 2]


def test_frames_to_video_writes_the_requested_frame_rate(tmp_path: Path):
    frames = write_frames(tmp_path / "f", [f"{i:05d}.jpg" for i in range(1, 7)])
    info = probe_video(frames_to_video(frames, 3, tmp_path / "v.mp4"))
    assert (info.num_frames, info.fps, info.width, info.height) == (6, 3.0, 64, 48)


def test_frames_to_video_crops_odd_sizes_to_even(tmp_path: Path):
    frames = write_frames(tmp_path / "f", ["1.png", "2.png"], size=(65, 49))
    info = probe_video(frames_to_video(frames, 3, tmp_path / "v.mp4"))
    assert (info.width, info.height) == (64, 48)


def test_frames_to_video_empty_folder_raises(tmp_path: Path):
    (tmp_path / "f").mkdir()
    with pytest.raises(SevilaError, match="f: no frames found"):
        frames_to_video(tmp_path / "f", 3, tmp_path / "v.mp4")


def test_frames_to_video_unreadable_image_raises_naming_it(tmp_path: Path):
    frames = write_frames(tmp_path / "f", ["1.png", "2.png"])
    (frames / "3.png").write_bytes(b"not a png")
    with pytest.raises(SevilaError, match=r"3.png: unreadable image"):
        frames_to_video(frames, 3, tmp_path / "v.mp4")


def test_frames_to_video_mixed_sizes_raise_naming_the_odd_frame(tmp_path: Path):
    frames = write_frames(tmp_path / "f", ["1.png", "2.png"])
    write_image(frames / "3.png", index_image(2, 32, 32))
    with pytest.raises(SevilaError, match=r"3.png: frame is 32x32 but 1.png is 64x48"):
        frames_to_video(frames, 3, tmp_path / "v.mp4")


def test_frames_to_video_failure_leaves_the_old_output_untouched(tmp_path: Path):
    frames = write_frames(tmp_path / "f", ["1.png", "2.png"])
    (frames / "3.png").write_bytes(b"")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "v.mp4").write_bytes(b"old")
    with pytest.raises(SevilaError):
        frames_to_video(frames, 3, tmp_path / "out" / "v.mp4")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["v.mp4"]
    assert (tmp_path / "out" / "v.mp4").read_bytes() == b"old"


def test_frames_to_video_main_parses_its_flags(tmp_path: Path):
    frames = write_frames(tmp_path / "f", ["1.jpg", "2.jpg", "3.jpg"])
    assert main(["--frames", str(frames), "--fps", "3", "--output", str(tmp_path / "v.mp4")]) == 0
    assert probe_video(tmp_path / "v.mp4").num_frames == 3
