"""`sevila fit` re-runs: one run folder per configuration; resume only an unfinished run of the same one.

Each test runs the real stage YAMLs through `sevila fit` (in-process) on the tiny benchmark: 2 epochs of
3 steps, last.ckpt every 2 steps, as the Makefile runs them (`--ckpt_path=last`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch
from stage_runner import run_dir, run_stage, write_overlay

from sevila.model.head_weights import read_heads
from sevila.stages.runs import FINISHED_FILE, LAST

CALLBACKS = [{"class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
              "init_args": {"save_last": True, "save_top_k": 0, "every_n_train_steps": 2}},
             {"class_path": "sevila.stages.selection.BestEpoch"}]


def _fit(tmp_path: Path, backbone: Path, benchmark: Path, lr: float, *flags: str, fail_at: int | None = None,
         log: Path | None = None) -> int:
    """finetune_answerer into tmp_path/stage at this lr (export tmp_path/answerer.safetensors)."""
    callbacks = list(CALLBACKS)
    if fail_at is not None:
        callbacks.append({"class_path": "kill_switch.FailAtStep", "init_args": {"step": fail_at}})
    if log is not None:
        callbacks.append({"class_path": "kill_switch.StepLog", "init_args": {"path": str(log)}})
    overlay = write_overlay(tmp_path / "overlay.yaml", backbone, benchmark, "qa",
                            model={"lr": lr, "export_path": str(tmp_path / "answerer.safetensors")},
                            trainer={"default_root_dir": str(tmp_path / "stage"), "max_epochs": 2,
                                     "limit_val_batches": 0, "callbacks": callbacks})
    return run_stage("fit", "finetune_answerer", "demo_qa", overlay, *flags)


def _heads(tmp_path: Path) -> dict[str, torch.Tensor]:
    return read_heads(tmp_path / "answerer.safetensors")[0]


def _other_run(stage: Path, known: Path) -> Path:
    (other,) = [run for run in stage.glob("run-*") if run != known]
    return other


def test_rerun_of_a_finished_stage_with_another_lr_trains_in_a_new_folder(tmp_path, tiny_backbone_dir, tiny_benchmark):
    args = (tmp_path, tiny_backbone_dir, tiny_benchmark)
    assert _fit(*args, 1e-3, "--ckpt_path=last") == 0
    first, first_heads = run_dir(tmp_path / "stage"), _heads(tmp_path)
    finished = (first / FINISHED_FILE).read_text()
    assert json.loads(finished)["global_step"] == 6
    assert _fit(*args, 1e-4, "--ckpt_path=last", log=tmp_path / "steps.json") == 0
    second = _other_run(tmp_path / "stage", first)
    steps = json.loads((tmp_path / "steps.json").read_text())
    assert steps["start_step"] == 0 and len(steps["steps"]) == 6  # trained from the start, all 6 steps
    assert json.loads((second / FINISHED_FILE).read_text())["global_step"] == 6
    assert all(not torch.equal(value, first_heads[key]) for key, value in _heads(tmp_path).items())
    assert (first / FINISHED_FILE).read_text() == finished  # the first run is left as it was


def test_rerun_of_a_finished_configuration_stops_naming_its_folder(tmp_path, tiny_backbone_dir, tiny_benchmark, capsys):
    args = (tmp_path, tiny_backbone_dir, tiny_benchmark)
    assert _fit(*args, 1e-3, "--ckpt_path=last") == 0
    run, heads = run_dir(tmp_path / "stage"), _heads(tmp_path)
    capsys.readouterr()
    assert _fit(*args, 1e-3, "--ckpt_path=last") == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"sevila fit: error: {run} has already trained this configuration to the end; remove {run} to train it "
        "again, or change a setting (another configuration trains in a folder of its own)")
    assert all(torch.equal(value, heads[key]) for key, value in _heads(tmp_path).items())


def test_rerun_with_a_changed_configuration_leaves_the_unfinished_run_alone(tmp_path, tiny_backbone_dir, tiny_benchmark,
                                                                           caplog):
    args = (tmp_path, tiny_backbone_dir, tiny_benchmark)
    with pytest.raises(RuntimeError, match="FailAtStep: crashed at step 4"):
        _fit(*args, 1e-3, "--ckpt_path=last", fail_at=4)
    crashed = run_dir(tmp_path / "stage")
    assert torch.load(crashed / LAST, weights_only=False)["global_step"] == 4
    with caplog.at_level(logging.INFO, logger="sevila.stages.runs"):
        assert _fit(*args, 1e-4, "--ckpt_path=last", log=tmp_path / "changed.json") == 0
    assert json.loads((tmp_path / "changed.json").read_text())["start_step"] == 0  # not resumed from step 4
    assert (f"note: {crashed} holds an unfinished run of another configuration (model.init_args.lr: 0.001 -> "
            "0.0001); it is not resumed") in caplog.messages
    assert torch.load(crashed / LAST, weights_only=False)["global_step"] == 4 and not (crashed / FINISHED_FILE).exists()
    # the first configuration again resumes its own unfinished run where it stopped
    assert _fit(*args, 1e-3, "--ckpt_path=last", log=tmp_path / "resumed.json") == 0
    assert json.loads((tmp_path / "resumed.json").read_text())["start_step"] == 4
    assert json.loads((crashed / FINISHED_FILE).read_text())["global_step"] == 6


def test_rerun_of_an_unfinished_run_without_ckpt_path_names_the_flag(tmp_path, tiny_backbone_dir, tiny_benchmark,
                                                                     capsys):
    args = (tmp_path, tiny_backbone_dir, tiny_benchmark)
    with pytest.raises(RuntimeError, match="FailAtStep"):
        _fit(*args, 1e-3, fail_at=2)
    run = run_dir(tmp_path / "stage")
    capsys.readouterr()
    assert _fit(*args, 1e-3) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"sevila fit: error: {run} holds an unfinished run of this configuration; pass --ckpt_path=last to resume "
        f"it, or remove {run} to start it over")
