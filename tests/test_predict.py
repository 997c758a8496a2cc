"""`sevila predict` on a real encoded video with the tiny backbone."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image
from video_factory import write_indexed_video

from sevila.cli import main
from sevila.pipeline import frozen_dtypes
from sevila.predict import _parser, _pipeline


@pytest.fixture(autouse=True)
def _away_from_the_checkout(tmp_path, monkeypatch):
    """Profile defaults (checkpoints/demo/...) resolve against the cwd: a local `make demo` must not leak in."""
    monkeypatch.chdir(tmp_path)


def _args(tiny_backbone_dir, video, *extra):
    return ["predict", "--video", str(video), "--question", "what is the color", "--option", "red",
            "--option", "blue", "--option", "green", "--backbone", str(tiny_backbone_dir),
            "--num-frames", "6", "--num-keyframes", "2", *extra]


def test_predict_json_has_answer_probabilities_and_ordered_keyframes(tmp_path, tiny_backbone_dir, capsys):
    video = write_indexed_video(tmp_path / "v.mp4", num_frames=30, fps=10, size=(64, 48))
    assert main(_args(tiny_backbone_dir, video, "--json")) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"answer", "answer_text", "option_probs", "keyframes"}
    assert len(result["option_probs"]) == 3 and abs(sum(result["option_probs"]) - 1) < 1e-5
    assert result["answer_text"] == ["red", "blue", "green"][result["answer"]]
    indices = [k["index"] for k in result["keyframes"]]
    assert len(indices) == 2 and indices == sorted(indices)
    assert all(abs(k["time_s"] - k["index"] / 10) < 1e-3 for k in result["keyframes"])


def test_predict_saves_a_contact_sheet_of_all_frames(tmp_path, tiny_backbone_dir, capsys):
    video = write_indexed_video(tmp_path / "v.mp4", num_frames=30, fps=10, size=(64, 48))
    sheet = tmp_path / "sheet.png"
    assert main(_args(tiny_backbone_dir, video, "--save-keyframes", str(sheet))) == 0
    out = capsys.readouterr().out
    assert out.startswith("answer: ") and "keyframes: " in out
    assert Image.open(sheet).size[0] > 0


def test_predict_bad_inputs_exit_2_with_one_line(tmp_path, tiny_backbone_dir, capsys):
    missing = tmp_path / "missing.mp4"
    assert main(_args(tiny_backbone_dir, missing)) == 2
    assert "missing.mp4" in capsys.readouterr().err
    video = write_indexed_video(tmp_path / "v.mp4", num_frames=10, fps=10, size=(64, 48))
    assert main(["predict", "--video", str(video), "--question", "q", "--option", "only one"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "give 2 to 5 answer options" in err


def test_predict_runs_in_the_papers_dtypes_on_request(tmp_path, seeing_backbone, capsys):
    video = write_indexed_video(tmp_path / "v.mp4", num_frames=30, fps=10, size=(64, 48))
    results = {}
    for name, flags in (("default", []), ("fp32", ["--vision-dtype", "float32", "--language-dtype", "float32"]),
                        ("paper", ["--vision-dtype", "float16", "--language-dtype", "bfloat16"])):
        # k = n: every frame is a keyframe, so bf16's different tie-breaking of near-equal scores cannot matter
        assert main(_args(seeing_backbone, video, "--json", "--num-keyframes", "6", *flags)) == 0
        results[name] = json.loads(capsys.readouterr().out)
    assert results["default"] == results["fp32"]  # on CPU the default is float32
    assert results["paper"] != results["fp32"]  # the flags took effect
    assert results["paper"]["option_probs"] == pytest.approx(results["fp32"]["option_probs"], abs=0.01)


def test_predict_dtype_defaults_follow_the_device(tiny_backbone_dir):
    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    assert frozen_dtypes(cpu) == (torch.float32, torch.float32)
    assert frozen_dtypes(gpu) == (torch.float16, torch.bfloat16)  # the paper's, as the original runs on GPU
    assert frozen_dtypes(gpu, "bfloat16") == (torch.bfloat16, torch.bfloat16)
    chosen = _parser().parse_args(["--video", "v", "--question", "q", "--vision-dtype", "bfloat16",
                                   "--backbone", str(tiny_backbone_dir)])
    model = _pipeline(chosen).model  # the flags reach the model
    assert (model.precision.vision, model.precision.language) == (torch.bfloat16, torch.float32)


def test_predict_refuses_an_unknown_dtype_in_one_line(tmp_path, tiny_backbone_dir, capsys):
    video = write_indexed_video(tmp_path / "v.mp4", num_frames=10, fps=10, size=(64, 48))
    assert main(_args(tiny_backbone_dir, video, "--vision-dtype", "fp16")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--vision-dtype: invalid choice: 'fp16'" in err and "float16" in err
