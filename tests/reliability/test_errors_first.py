"""What a user's terminal shows (real stderr, subprocess): a bad input is one line before any weight is loaded,
and a good run prints no warnings and no progress bars when stderr is not a terminal.

All cases of this file run in one `sevila` process (`cli_batch.run_batch`), so the imports are paid once; the
good runs come first, so a transformers warning shown only once per process could not hide in an earlier case.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest
import torch
from cli_batch import run_batch
from video_factory import write_indexed_video, write_random_bytes, write_truncated_copy

ORACLE = Path(__file__).parents[1] / "fixtures" / "oracle"


def _predict(backbone: Path, video: Path, *extra: str) -> list[str]:
    return ["predict", "--video", str(video), "--question", "what is the color", "--option", "red", "--option",
            "blue", "--backbone", str(backbone), "--num-frames", "6", "--num-keyframes", "2", *extra]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory, tiny_backbone_dir: Path) -> dict[str, Any]:
    """Exit code, stdout and stderr of each named case, and the folder of their files under "root"."""
    root = tmp_path_factory.mktemp("errors_first")
    video = write_indexed_video(root / "v.mp4", num_frames=30, fps=10, size=(64, 48))
    streamable = write_indexed_video(root / "streamable.mp4", num_frames=60, fps=10, size=(64, 48), index_first=True)
    write_truncated_copy(video, root / "cut.mp4", 0.6)  # the index at the end is lost
    write_truncated_copy(streamable, root / "cut_streamable.mp4", 0.6)  # opens; the frames at the end are lost
    (root / "empty.mp4").write_bytes(b"")
    (root / "folder.mp4").mkdir()
    write_random_bytes(root / "random.mp4")
    (root / "afile").write_text("x")
    torch.save({"model": {"t5_proj.bias": torch.zeros(4)}}, root / "whole.pth")
    write_truncated_copy(root / "whole.pth", root / "interrupted.pth", 0.5)
    write_random_bytes(root / "random.pth", size=3000, seed=1)
    (root / "objects.pth").write_bytes(pickle.dumps({"a": Path("x")}, protocol=2))  # a pickled object
    (root / "protocol4.pth").write_bytes(pickle.dumps({"a": 1}, protocol=4))  # torch would warn about it, too
    (root / "cut_heads.safetensors").write_bytes(b"\x08\x00")  # an interrupted download: 2 of its bytes
    imported = root / "imported"
    cases = {
        "import a backbone": ["import-checkpoint", "--lavis", str(ORACLE / "state_dict.pt"), "--backbone-output",
                              str(imported), "--config", str(ORACLE / "blip2_config.json"), "--tokenizer",
                              str(ORACLE / "tokenizer")],
        "predict on the imported backbone": _predict(imported, video),
        "predict on the tiny backbone": _predict(tiny_backbone_dir, video),
        **{name: _predict(tiny_backbone_dir, root / name) for name in
           ("empty.mp4", "cut.mp4", "cut_streamable.mp4", "folder.mp4", "random.mp4")},
        "truncated --checkpoint": _predict(tiny_backbone_dir, video, "--checkpoint",
                                           str(root / "cut_heads.safetensors")),
        "--save-keyframes under a file": _predict(tiny_backbone_dir, video, "--save-keyframes",
                                                  str(root / "afile/s.png")),
        **{name: ["import-checkpoint", "--lavis", str(root / name), "--output", str(root / "h.safetensors"),
                  "--backbone", str(tiny_backbone_dir)]
           for name in ("interrupted.pth", "random.pth", "objects.pth", "protocol4.pth")},
    }
    return {name: result for name, result in zip(cases, run_batch(list(cases.values()), root))} | {"root": root}


def test_good_runs_print_no_warning_and_no_progress_bar(results, tiny_backbone_dir: Path) -> None:
    root = results["root"]
    code, _, err = results["import a backbone"]
    assert code == 0 and "tie" not in err and "%|" not in err, err  # no tqdm bar ("Writing model shards")
    for name, backbone in (("predict on the imported backbone", root / "imported"),
                           ("predict on the tiny backbone", tiny_backbone_dir)):
        code, out, err = results[name]
        assert code == 0 and out.startswith("answer: ")
        # no tied-weights warning, no bar; only the profile's missing stage outputs are said (cwd is a fresh folder)
        assert err.splitlines() == [
            f"checkpoints/demo/demo_qa/{name}.safetensors not found: that head stays BLIP-2's zero-shot Q-Former"
            for name in ("answerer", "localizer_refined")
        ] + [f"loaded BLIP-2 backbone from {backbone}"], err


@pytest.mark.parametrize(("case", "message"), [
    ("empty.mp4", "{root}/empty.mp4: file is empty (0 bytes)"),
    ("cut.mp4", "{root}/cut.mp4: no video stream (streams: none)"),
    ("cut_streamable.mp4", "{root}/cut_streamable.mp4: frame 55 could not be decoded: the file holds 1 of its 60 "
                           "declared frames (truncated?)"),
    ("folder.mp4", "{root}/folder.mp4: is a directory, not a video file"),
    ("random.mp4", "{root}/random.mp4: not a readable video ([Errno 1094995529] Invalid data found when processing "
                   "input: '{root}/random.mp4'); is it truncated or another format?"),
    ("truncated --checkpoint", "{root}/cut_heads.safetensors: not a readable safetensors stage output (Error while "
                               "deserializing header: header too small); re-run the stage"),
    ("--save-keyframes under a file", "--save-keyframes {root}/afile/s.png: {root}/afile is a file, not a folder, so "
                                      "nothing can be found or created under it; choose a path inside a folder"),
])
def test_predict_bad_input_is_one_line_before_any_weight(results, case: str, message: str) -> None:
    code, out, err = results[case]
    assert (code, out) == (2, "")
    assert err.splitlines() == ["sevila predict: error: " + message.format(root=results["root"])]


@pytest.mark.parametrize(("case", "reason"), [
    ("interrupted.pth",
     "RuntimeError: PytorchStreamReader failed reading zip archive: failed finding central directory"),
    ("random.pth", "UnpicklingError: weights-only loading refuses its pickled data (damaged, or Python objects, never "
                   "unpickled): Unsupported operand 255"),
    ("objects.pth", "UnpicklingError: weights-only loading refuses its pickled data (damaged, or Python objects, never "
                    "unpickled): Unsupported global: GLOBAL pathlib.PosixPath was not an allowed global by default"),
    ("protocol4.pth", "UnpicklingError: weights-only loading refuses its pickled data (damaged, or Python objects, "
                      "never unpickled): Unsupported operand 149"),
])
def test_import_checkpoint_of_a_damaged_file_is_one_line_without_unsafe_advice(results, case: str, reason: str) -> None:
    code, _, err = results[case]
    path = results["root"] / case
    assert code == 2 and err.splitlines() == [
        f"sevila import-checkpoint: error: {path}: not a readable torch checkpoint ({reason}); is the download "
        "complete? Expected sevila_pretrained.pth (or a LAVIS state dict): download it again"
    ]
    assert "weights_only" not in err and "safe_globals" not in err
    assert not (results["root"] / "h.safetensors").exists()
