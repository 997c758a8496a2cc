"""Tests of `sevila data check`: counts per question type, and missing or unreadable videos."""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import numpy as np
import pytest

from sevila.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
STAR_VAL = FIXTURES / "star" / "sevila_val_sample.json"


def _write_tiny_video(path: Path, num_frames: int = 4) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=4)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for index in range(num_frames):
            image = np.full((32, 32, 3), 60 * index, dtype=np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())


def test_data_check_counts_records_per_question_type(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "check", "star", "--annotations", str(STAR_VAL)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{STAR_VAL}: 4 star records"
    counts = [line.split() for line in lines[1:]]
    assert counts == [["Feasibility", "1"], ["Interaction", "1"], ["Prediction", "1"], ["Sequence", "1"]]


def test_data_check_reports_a_missing_video(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write_tiny_video(tmp_path / "6H78U.mp4")
    assert main(["data", "check", "star", "--annotations", str(STAR_VAL), "--videos", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert "videos: 2 checked, 1 missing, 0 unreadable" in captured.out
    assert f"  missing: {tmp_path / 'K7VCU.mp4'}" in captured.out.splitlines()
    assert captured.err == "sevila data check: 1 missing and 0 unreadable video(s)\n"


def test_data_check_reports_an_unreadable_video(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write_tiny_video(tmp_path / "6H78U.mp4")
    (tmp_path / "K7VCU.mp4").write_bytes(b"not a video at all")
    assert main(["data", "check", "star", "--annotations", str(STAR_VAL), "--videos", str(tmp_path)]) == 2
    assert f"  unreadable: {tmp_path / 'K7VCU.mp4'}: " in capsys.readouterr().out


def test_data_check_passes_when_every_video_is_readable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write_tiny_video(tmp_path / "6H78U.mp4")
    shutil.copy(tmp_path / "6H78U.mp4", tmp_path / "K7VCU.mp4")
    assert main(["data", "check", "star", "--annotations", str(STAR_VAL), "--videos", str(tmp_path)]) == 0
    assert "videos: 2 checked, 0 missing, 0 unreadable" in capsys.readouterr().out


def test_data_check_counts_qvhighlights_queries(capsys: pytest.CaptureFixture[str]) -> None:
    path = FIXTURES / "qvhighlights" / "highlight_val_sample.jsonl"
    assert main(["data", "check", "qvhighlights", "--annotations", str(path)]) == 0
    assert capsys.readouterr().out.splitlines()[1].split() == ["QVHighlight", "2"]


def test_data_check_invalid_annotations_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "val.json"
    path.write_text('{"video": "x"}', encoding="utf-8")
    assert main(["data", "check", "star", "--annotations", str(path)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"sevila data: error: {path}: the top-level JSON value is an object; expected a JSON list of QA records "
        "{video, qid, question, num_option, a0..a4, answer, start?, end?}"
    ]
