"""Tests of the per-benchmark video path rule and its guard against paths leaving the video folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from sevila.data.video_paths import load_video_map, video_path
from sevila.errors import SevilaError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_video_path_nextqa_maps_a_bare_id_through_the_video_map() -> None:
    video_map = load_video_map(FIXTURES / "nextqa" / "map_vid_vidorID_sample.json")
    assert video_path("nextqa", "/videos", "4010069381", video_map) == Path("/videos/1106/4010069381.mp4")


def test_video_path_nextqa_keeps_a_prepared_folder_and_id() -> None:
    assert video_path("nextqa", "/videos", "1106/4010069381") == Path("/videos/1106/4010069381.mp4")


def test_video_path_nextqa_rejects_an_id_missing_from_the_map() -> None:
    with pytest.raises(SevilaError, match="video '1106/4010069381' is not in the video id map"):
        video_path("nextqa", "/videos", "1106/4010069381", {"4010069381": "1106/4010069381"})


def test_video_path_vlep_youtube_clip_keeps_its_full_name() -> None:
    name = "lg0ldbwZhPQ_subs_003_00:04:00_00:05:00_ep"
    assert video_path("vlep", "/videos", name) == Path(f"/videos/youtube/{name}.mp4")


def test_video_path_vlep_tv_clip_is_the_tvqa_clip_without_ep() -> None:
    path = video_path("vlep", "/videos", "friends_s03e09_seg02_clip_07_ep")
    assert path == Path("/videos/tvqa/friends_s03e09_seg02_clip_07.mp4")


def test_video_path_other_benchmarks_use_the_name_as_is() -> None:
    assert video_path("star", "/videos", "6H78U") == Path("/videos/6H78U.mp4")


@pytest.mark.parametrize("name", ["../secret", "a/../../b", "/etc/passwd", "C:\\videos\\x", ""])
def test_video_path_rejects_names_leaving_the_video_folder(name: str) -> None:
    with pytest.raises(SevilaError, match="would resolve outside the video folder"):
        video_path("tvqa", "/videos", name)


def test_video_path_rejects_map_entries_leaving_the_video_folder() -> None:
    with pytest.raises(SevilaError, match="would resolve outside the video folder"):
        video_path("nextqa", "/videos", "1", {"1": "../../1"})


def test_load_video_map_rejects_a_list(tmp_path: Path) -> None:
    path = tmp_path / "map.json"
    path.write_text("[]", encoding="utf-8")
    with pytest.raises(SevilaError, match="expected a JSON object mapping video id"):
        load_video_map(path)
