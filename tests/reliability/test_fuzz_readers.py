"""Seeded fuzzing of every reader a user hands files to: each variant reads correctly or is one error line.

Variants are truncated, bit-flipped, random and (text files) spliced copies of real files (tests/fixtures and
files the project writes); `fuzzing.py` states the rule they must obey. The readers run in-process through
`sevila.cli.main` where a verb reads the file without loading a model; the video and stage-output readers,
which only a model-loading verb reaches, are called as those verbs call them. Counts are per reader.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from fuzzing import fuzz, run_cli
from video_factory import write_indexed_video

from sevila.cli import main
from sevila.data.annotations import qa_record_from_dict
from sevila.data.video import VideoError, sample_frames
from sevila.errors import SevilaError
from sevila.model.backbone import load_blip2
from sevila.model.head_weights import load_all_heads, read_heads, save_heads
from sevila.model.sevila import SeViLA
from sevila.stages.config_errors import check_checkpoint_readable

FIXTURES = Path(__file__).parents[1] / "fixtures"
STAGES = Path(__file__).parents[2] / "stages"
ORACLE = FIXTURES / "oracle"
PREVIOUS = b"an output written by an earlier run\n"
SEED = 16
TEXT_VARIANTS = 240
VIDEO_VARIANTS = 90  # for each of 3 containers
TORCH_VARIANTS = 120
SAFETENSORS_VARIANTS = 240
YAML_VARIANTS = 30  # each parse builds LightningCLI's parser (0.2-0.5 s); the other readers take milliseconds


def _output(tmp_path: Path, name: str) -> Path:
    """An output file that exists before the command, as a previous run leaves it."""
    path = tmp_path / name
    path.write_bytes(PREVIOUS)
    return path


def _fuzz_file(tmp_path: Path, real: Path, count: int, check: Callable[[Path], str], text: bool = True,
               refused_at_least: int | None = None) -> None:
    """Fuzz `count` variants of the real file; most must be refused and some still read."""
    tally = fuzz(tmp_path, real.read_bytes(), count, SEED, real.suffix, check, text)
    least = count // 2 if refused_at_least is None else refused_at_least
    assert tally.total("refused") >= least and tally.total("read") > 0, tally.outcomes


def _outcome(code: int) -> str:
    return "read" if code == 0 else "refused"


def test_fuzz_annotation_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def check(path: Path) -> str:
        code, out = run_cli(capsys, ["data", "check", "star", "--annotations", str(path)], path)
        assert code == 2 or out.startswith(f"{path}: ")
        return _outcome(code)

    _fuzz_file(tmp_path, FIXTURES / "star" / "sevila_val_sample.json", TEXT_VARIANTS, check)


@pytest.mark.parametrize(("dataset", "release", "extra"), [
    ("nextqa", FIXTURES / "nextqa" / "val_sample.csv",
     ["--video-map", str(FIXTURES / "nextqa" / "map_vid_vidorID_sample.json")]),
    ("tvqa", FIXTURES / "tvqa" / "tvqa_labelled_sample.jsonl", []),
], ids=["csv", "jsonl"])
def test_fuzz_official_release(tmp_path, capsys, dataset: str, release: Path, extra: list[str]) -> None:
    out = _output(tmp_path, "val.json")

    def check(path: Path) -> str:
        code, _ = run_cli(capsys, ["prepare", dataset, "--input", str(path), *extra, "--output", str(out)], path, [out])
        if code == 0:
            records = json.loads(out.read_text())
            assert records and all(qa_record_from_dict(record) for record in records)
            out.write_bytes(PREVIOUS)
        return _outcome(code)

    _fuzz_file(tmp_path, release, TEXT_VARIANTS, check)


def test_fuzz_qa_predictions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export, answers = _output(tmp_path, "submission.json"), FIXTURES / "metrics" / "nextqa_val.csv"

    def check(path: Path) -> str:
        argv = ["metrics", "nextqa", "--predictions", str(path), "--annotations", str(answers), "--export", str(export)]
        code, out = run_cli(capsys, argv, path, [export])
        if code == 0:
            assert json.loads(out)["num_evaluated"] == len(json.loads(export.read_text())) > 0
            export.write_bytes(PREVIOUS)
        return _outcome(code)

    _fuzz_file(tmp_path, FIXTURES / "metrics" / "nextqa_hga_results.json", TEXT_VARIANTS, check)


def test_fuzz_moment_predictions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    truth = FIXTURES / "metrics" / "qvhighlights_val.jsonl"

    def check(path: Path) -> str:
        argv = ["metrics", "qvhighlights", "--predictions", str(path), "--annotations", str(truth)]
        code, out = run_cli(capsys, argv, path)
        assert code == 2 or json.loads(out)["num_evaluated"] > 0
        return _outcome(code)

    _fuzz_file(tmp_path, FIXTURES / "metrics" / "qvhighlights_moment_detr_preds.jsonl", TEXT_VARIANTS, check)


@pytest.mark.parametrize("kind", ["mp4", "faststart mp4", "mpeg-ts"])
def test_fuzz_video(tmp_path: Path, capfd: pytest.CaptureFixture[str], kind: str) -> None:
    def check(path: Path) -> str:
        try:
            sampled = sample_frames(path, 4, size=16, threads=1)
        except VideoError as error:
            assert str(path) in str(error) and "\n" not in str(error), str(error)
            return "refused"
        finally:
            assert capfd.readouterr().err == ""  # FFmpeg's own log stays silent
        assert sampled.frames.shape == (4, 3, 16, 16) and sampled.frames.dtype == torch.uint8
        assert sampled.indices == sorted(sampled.indices) and sampled.indices[0] >= 0
        return "read"

    name, options = {"mp4": ("real.mp4", {}), "faststart mp4": ("real.mp4", {"index_first": True}),
                     "mpeg-ts": ("real.ts", {})}[kind]
    real = write_indexed_video(tmp_path / name, num_frames=24, fps=8, size=(32, 32), gop=6, **options)
    _fuzz_file(tmp_path, real, VIDEO_VARIANTS, check, text=False, refused_at_least=VIDEO_VARIANTS // 3)


@pytest.fixture(scope="module")
def oracle_backbone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The backbone of the official tiny state dict, written by `sevila import-checkpoint --backbone-output`."""
    folder = tmp_path_factory.mktemp("oracle") / "backbone"
    argv = ["import-checkpoint", "--lavis", str(ORACLE / "state_dict.pt"), "--backbone-output", str(folder),
            "--config", str(ORACLE / "blip2_config.json"), "--tokenizer", str(ORACLE / "tokenizer")]
    assert main(argv) == 0
    return folder


def test_fuzz_lavis_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str], oracle_backbone: Path) -> None:
    state = torch.load(ORACLE / "state_dict.pt", weights_only=True)
    heads = {k: v for k, v in state.items() if not k.startswith(("visual_encoder.", "t5_model."))}
    torch.save({"model": heads}, tmp_path / "sevila_pretrained.pth")  # what the authors' release holds
    out = _output(tmp_path, "heads.safetensors")

    def check(path: Path) -> str:
        argv = ["import-checkpoint", "--lavis", str(path), "--output", str(out), "--backbone", str(oracle_backbone)]
        code, _ = run_cli(capsys, argv, path, [out])
        if code == 0:
            assert {key.split(".")[0] for key in read_heads(out)[0]} == {"localizer", "answerer"}
            out.write_bytes(PREVIOUS)
        return _outcome(code)

    _fuzz_file(tmp_path, tmp_path / "sevila_pretrained.pth", TORCH_VARIANTS, check, text=False)


def test_fuzz_resume_checkpoint(tmp_path: Path, answerer_run: Path) -> None:
    def check(path: Path) -> str:  # what `sevila fit|test --ckpt_path` runs before anything is built
        try:
            check_checkpoint_readable(path)
        except SevilaError as error:
            assert str(path) in str(error) and "\n" not in str(error) and "weights_only" not in str(error)
            return "refused"
        return "read"

    (last,) = answerer_run.glob("run-*/checkpoints/last.ckpt")
    _fuzz_file(tmp_path, last, TORCH_VARIANTS, check, text=False)


def test_fuzz_stage_output(tmp_path: Path, tiny_backbone_dir: Path) -> None:
    model = SeViLA(load_blip2(tiny_backbone_dir), num_keyframes=2)
    save_heads(model, tmp_path / "real.safetensors", ["localizer", "answerer"], stage="finetune_answerer")

    def check(path: Path) -> str:
        try:
            loaded = load_all_heads(model, path)
        except SevilaError as error:
            assert str(path) in str(error) and "\n" not in str(error), str(error)
            return "refused"
        tensors, _ = read_heads(path)
        state = model.state_dict()
        assert loaded and all(torch.equal(state[key], value) for key, value in tensors.items())
        return "read"

    _fuzz_file(tmp_path, tmp_path / "real.safetensors", SAFETENSORS_VARIANTS, check, text=False)


def test_fuzz_stage_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def check(path: Path) -> str:
        argv = ["fit", "-c", str(STAGES / "data" / "demo_qa.yaml"), "-c", str(path), "--print_config"]
        try:
            run_cli(capsys, argv, None)
        except SystemExit as exit_:  # --print_config prints the parsed config and exits 0
            assert exit_.code in (0, None) and "model:" in capsys.readouterr().out
            return "read"
        return "refused"

    _fuzz_file(tmp_path, STAGES / "finetune_answerer.yaml", YAML_VARIANTS, check, refused_at_least=1)
