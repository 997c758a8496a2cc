"""Bad-input catalogue, checkpoints and configs: the real `sevila fit|test` refuses each with one error line."""

from __future__ import annotations

from pathlib import Path

import pytest
from stage_runner import run_dir, run_stage, write_overlay
from video_factory import write_truncated_copy

from sevila.model.tiny import TinySize, build_tiny_backbone


def _run(tmp_path: Path, capsys, verb: str, stage: str, backbone: Path, data_root: Path, *flags: str,
         model: dict | None = None, data: dict | None = None, trainer: dict | None = None) -> str:
    """Run the stage; it must exit 2 without a traceback. Returns the last stderr line (the error)."""
    config = write_overlay(tmp_path / "overlay.yaml", backbone, data_root, "qa", model=model, data=data,
                           trainer={"default_root_dir": str(tmp_path), **(trainer or {})})
    assert run_stage(verb, stage, "demo_qa", config, *flags) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.splitlines()[-1]


def test_truncated_checkpoint_as_ckpt_path(tmp_path, capsys, tiny_backbone_dir, bad_benchmark, answerer_run) -> None:
    cut = write_truncated_copy(run_dir(answerer_run) / "checkpoints" / "last.ckpt", tmp_path / "cut.ckpt", 0.5)
    line = _run(tmp_path, capsys, "fit", "finetune_answerer", tiny_backbone_dir, bad_benchmark, "--ckpt_path", str(cut))
    assert line.startswith(f"sevila fit: error: {cut}: not a readable checkpoint (")
    assert line.endswith("pass an intact last.ckpt, or drop --ckpt_path to start afresh")


def test_truncated_safetensors_as_stage_input(tmp_path, capsys, tiny_backbone_dir, bad_benchmark, answerer_run) -> None:
    cut = write_truncated_copy(answerer_run / "answerer.safetensors", tmp_path / "cut.safetensors", 0.5)
    line = _run(tmp_path, capsys, "test", "evaluate", tiny_backbone_dir, bad_benchmark,
                model={"init_answerer": str(cut), "output_dir": str(tmp_path)})
    assert line.startswith(f"sevila test: error: {cut}: not a readable safetensors stage output (")
    assert line.endswith("re-run the stage")


def test_checkpoint_of_another_stage(tmp_path, capsys, tiny_backbone_dir, bad_benchmark, answerer_run) -> None:
    ckpt = run_dir(answerer_run) / "checkpoints" / "last.ckpt"
    line = _run(tmp_path, capsys, "fit", "refine_localizer", tiny_backbone_dir, bad_benchmark, "--ckpt_path", str(ckpt),
                model={"cache_dir": str(tmp_path / "cache")}, data={"on_bad_video": "skip"})
    assert line == (
        f"sevila fit: error: {ckpt}: checkpoint is from stage 'finetune_answerer', not 'refine_localizer': resume "
        "with the same stage's last.ckpt, or pass the previous stage's .safetensors output as "
        "model.init_localizer/init_answerer"
    )


def test_checkpoint_of_another_backbone(tmp_path, capsys, tiny_backbone_dir, bad_benchmark, answerer_run) -> None:
    wider = build_tiny_backbone(tmp_path / "wider", size=TinySize(qformer_width=48))
    ckpt = run_dir(answerer_run) / "checkpoints" / "last.ckpt"
    line = _run(tmp_path, capsys, "fit", "finetune_answerer", wider, bad_benchmark, "--ckpt_path", str(ckpt),
                data={"on_bad_video": "skip"}, trainer={"max_epochs": 2})
    assert line.startswith(
        f"sevila fit: error: {ckpt}: checkpoint was trained on backbone '{tiny_backbone_dir}' and does not fit "
        f"'{wider}' (first mismatched weights: ['model.answerer.head.query_tokens'"
    )
    assert line.endswith("use a matching model.backbone")


def test_unknown_yaml_key(tmp_path, capsys, tiny_backbone_dir, bad_benchmark) -> None:
    line = _run(tmp_path, capsys, "fit", "finetune_answerer", tiny_backbone_dir, bad_benchmark,
                data={"num_frame": 8})
    assert line == (
        "sevila fit: error: Parser key \"data\": Problem with given class_path 'sevila.data.datamodules.DemoQA': "
        "Option 'num_frame' is not accepted; fix or remove it (`sevila fit -c ... --print_config` lists every "
        "accepted key)"
    )


@pytest.mark.parametrize(("verb", "stage", "flag"), [("fit", "finetune_answerer", "num_frames"),
                                                      ("test", "evaluate", "eval_num_frames")])
def test_more_keyframes_than_frames(tmp_path, capsys, tiny_backbone_dir, bad_benchmark, verb, stage, flag) -> None:
    line = _run(tmp_path, capsys, verb, stage, tiny_backbone_dir, bad_benchmark,
                model={"num_keyframes": 6, **({"output_dir": str(tmp_path)} if stage == "evaluate" else {})})
    assert line == (
        f"sevila {verb}: error: model.num_keyframes is 6 but data.{flag} is 4: the keyframes are chosen among the "
        f"4 frames, so k <= n; lower --model.init_args.num_keyframes or raise --data.init_args.{flag}"
    )


@pytest.mark.parametrize("precision", ["16-true", "bf16-true"])
def test_precision_that_casts_the_trained_heads(tmp_path, capsys, tiny_backbone_dir, bad_benchmark, precision) -> None:
    line = _run(tmp_path, capsys, "fit", "finetune_answerer", tiny_backbone_dir, bad_benchmark,
                trainer={"precision": precision})
    assert line == (
        f"sevila fit: error: trainer.precision='{precision}': expected one of ['16-mixed', '32-true', 'bf16-mixed']; "
        "the trained heads keep fp32 weights (16-mixed, the paper's: fp16 autocast and a GradScaler in training; the "
        "frozen ViT and T5 take model.vision_dtype and model.language_dtype)"
    )
