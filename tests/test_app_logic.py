"""What the web app shows, without the browser: checks of uploads and options, and the answered page's parts."""

from __future__ import annotations

import pytest
from PIL import Image
from profile_factory import perturbed_heads
from video_factory import write_audio_only, write_indexed_video, write_random_bytes

from sevila import Pipeline
from sevila.app_logic import answer_upload, check_upload, parse_options
from sevila.errors import SevilaError


def test_parse_options_takes_one_per_line():
    assert parse_options(" red \n\nblue\ngreen\n") == ["red", "blue", "green"]
    with pytest.raises(SevilaError, match=r"^1 answer option\(s\) given; type 2 to 5 options, one per line$"):
        parse_options("red")
    with pytest.raises(SevilaError, match=r"^6 answer option\(s\) given"):
        parse_options("\n".join("abcdef"))


def test_check_upload_names_what_is_wrong_without_server_paths(tmp_path):
    with pytest.raises(SevilaError, match="no video: pick an example or upload a video file"):
        check_upload(None)
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(SevilaError, match="empty.mp4: the upload is empty or missing"):
        check_upload(tmp_path / "empty.mp4")
    for path in (write_random_bytes(tmp_path / "notes.mp4"), write_audio_only(tmp_path / "song.m4a")):
        with pytest.raises(SevilaError, match=rf"^{path.name} is not a video this app can read: ") as caught:
            check_upload(path)
        assert str(tmp_path) not in str(caught.value)


def test_answer_upload_lays_out_the_chain_answer(tmp_path, lively_backbone_dir):
    pipe = Pipeline(perturbed_heads(lively_backbone_dir))
    video = write_indexed_video(tmp_path / "v.mp4", num_frames=40, fps=10, size=(64, 48))
    result = answer_upload(pipe, str(video), " what is the color ", "red\nblue\ngreen", num_frames=8, num_keyframes=3)
    expected = pipe(video, "what is the color", ["red", "blue", "green"], num_frames=8, num_keyframes=3)
    assert result.answer == f"{'ABC'[expected.answer]}. {expected.answer_text}"
    assert result.probabilities == {f"{l}. {o}": p for l, o, p in zip("ABC", ["red", "blue", "green"],
                                                                       expected.option_probs)}
    assert [caption for _, caption in result.keyframes] == [
        f"frame {k.index} at {k.time:.2f} s (score {k.score:.3f})" for k in expected.keyframes]
    assert all(isinstance(image, Image.Image) and image.width >= 192 for image, _ in result.keyframes)
    assert result.keyframe_table.splitlines()[2:] == [
        f"| {n} | {k.index} | {k.time:.2f} | {k.score:.3f} |" for n, k in enumerate(expected.keyframes, start=1)]
    assert list(result.chart.axes[0].get_lines()[0].get_ydata()) == expected.frame_scores
    with pytest.raises(SevilaError, match="the question is empty"):
        answer_upload(pipe, str(video), "  ", "red\nblue")
