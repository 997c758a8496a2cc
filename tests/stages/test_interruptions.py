"""Killed runs resume to the same result; concurrent runs on one folder are refused; stale caches are refused.

The kill tests run the real `sevila fit` (stage YAML + demo profile + a tiny overlay) as a subprocess and
SIGKILL it from inside at a chosen training step (tests/kill_switch.py), then re-run the same command with
`--ckpt_path=last`, as the Makefile does, and compare with an uninterrupted run of the same seed.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from stage_runner import STAGES, run_dir, run_stage, write_overlay

from sevila.errors import SevilaError
from sevila.model.head_weights import read_heads
from sevila.stages.pseudo_labels import PseudoLabelCache
from sevila.stages.run_lock import LOCK_NAME, folder_lock

TESTS = Path(__file__).resolve().parents[1]
STEP_CHECKPOINTS = {"class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
                    "init_args": {"save_last": True, "save_top_k": 0, "every_n_train_steps": 2}}


def _fit(run: Path, stage: str, data: str, folder: str, backbone: Path, benchmark: Path,
         kill_at_step: int | None = None) -> subprocess.CompletedProcess:
    """`sevila fit` of a stage for 3 epochs of 3 steps, last.ckpt every 2 steps, into `run`."""
    model = {"export_path": str(run / "heads.safetensors")}
    if stage == "refine_localizer":
        model.update(cache_dir=str(run / "pseudo_labels"), flush_every=1)
    overlay = write_overlay(run.parent / f"{run.name}.yaml", backbone, benchmark, folder, model=model, data={"num_workers": 1},
                            trainer={"max_epochs": 3, "default_root_dir": str(run), "callbacks": [STEP_CHECKPOINTS]})
    command = [sys.executable, "-m", "sevila.cli", "fit", "-c", str(STAGES / "data" / f"{data}.yaml"),
               "-c", str(STAGES / f"{stage}.yaml"), "-c", str(STAGES / "profiles" / "demo.yaml"), "-c", str(overlay),
               "--ckpt_path=last"]
    if kill_at_step is not None:
        command.append('--trainer.callbacks+={"class_path": "kill_switch.KillAtStep", "init_args": {"step": %d}}'
                       % kill_at_step)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


def _assert_same_heads(resumed: Path, uninterrupted: Path) -> None:
    tensors, _ = read_heads(resumed / "heads.safetensors")
    expected, _ = read_heads(uninterrupted / "heads.safetensors")
    assert tensors.keys() == expected.keys()
    for key in expected:
        assert torch.equal(tensors[key], expected[key]), key  # bit-exact on CPU


def _final_val_metrics(run: Path) -> dict[str, float]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    latest = max((run_dir(run) / "lightning_logs").iterdir(), key=lambda version: int(version.name.split("_")[1]))
    events = EventAccumulator(str(latest))
    events.Reload()
    return {tag: events.Scalars(tag)[-1].value for tag in events.Tags()["scalars"] if tag.startswith("val/")}


@pytest.mark.slow
def test_refine_killed_while_labelling_and_mid_epoch_resumes_to_the_same_result(tmp_path, tiny_backbone_dir,
                                                                                 tiny_benchmark):
    args = ("refine_localizer", "demo_qa", "qa", tiny_backbone_dir, tiny_benchmark)
    assert _fit(tmp_path / "whole", *args).returncode == 0
    run = tmp_path / "killed"
    first = _fit(run, *args, kill_at_step=1)  # epoch 1, after batch 0's pseudo-labels, before batch 1's
    assert first.returncode == -signal.SIGKILL
    assert len(json.loads((run / "pseudo_labels" / "pseudo_labels.rank0.json").read_text())) == 2 * 4
    assert not (run_dir(run) / "checkpoints" / "last.ckpt").exists()
    second = _fit(run, *args, kill_at_step=5)  # epoch 2, one batch after the step-4 checkpoint
    assert second.returncode == -signal.SIGKILL, second.stderr[-2000:]
    assert torch.load(run_dir(run) / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 4
    assert (run_dir(run) / LOCK_NAME).exists()  # left behind by the killed process, and no obstacle to the re-run
    third = _fit(run, *args)
    assert third.returncode == 0, third.stderr[-2000:]
    _assert_same_heads(run, tmp_path / "whole")
    metrics = _final_val_metrics(run)
    assert metrics and metrics == _final_val_metrics(tmp_path / "whole")


@pytest.mark.slow
def test_pretrain_localizer_killed_mid_epoch_resumes_to_the_same_result(tmp_path, tiny_backbone_dir, tiny_benchmark):
    args = ("pretrain_localizer", "demo_moments", "moments", tiny_backbone_dir, tiny_benchmark)
    assert _fit(tmp_path / "whole", *args).returncode == 0
    run = tmp_path / "killed"
    assert _fit(run, *args, kill_at_step=7).returncode == -signal.SIGKILL  # epoch 3, after the step-6 checkpoint
    resumed = _fit(run, *args)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    _assert_same_heads(run, tmp_path / "whole")
    metrics = _final_val_metrics(run)
    assert metrics and metrics == _final_val_metrics(tmp_path / "whole")


def _evaluate(tmp_path: Path, backbone: Path, benchmark: Path, out: Path) -> int:
    overlay = write_overlay(tmp_path / "eval.yaml", backbone, benchmark, "qa",
                            model={"output_dir": str(out)}, trainer={"default_root_dir": str(out)})
    return run_stage("test", "evaluate", "demo_qa", overlay)


def test_run_on_a_locked_folder_is_refused_until_the_lock_is_released(tmp_path, tiny_backbone_dir, tiny_benchmark,
                                                                         capsys):
    out = tmp_path / "results"
    with folder_lock(out):
        assert _evaluate(tmp_path, tiny_backbone_dir, tiny_benchmark, out) == 2
        error = capsys.readouterr().err
        assert f"{out} is in use by another sevila run (pid {os.getpid()}," in error
        assert f"delete {out / LOCK_NAME}" in error
        assert not (out / "predictions.json").exists()
    assert _evaluate(tmp_path, tiny_backbone_dir, tiny_benchmark, out) == 0
    assert (out / "predictions.json").is_file()


def test_lock_of_another_process_is_refused_and_dies_with_it(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from sevila.stages.run_lock import folder_lock\n"
        f"with folder_lock({str(tmp_path)!r}):\n    print('held', flush=True); time.sleep(600)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(SevilaError, match=rf"in use by another sevila run \(pid {holder.pid},"):
            with folder_lock(tmp_path):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with folder_lock(tmp_path) as path:  # the kernel dropped the killed holder's lock
        handle = open(path)
        with pytest.raises(BlockingIOError):
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        handle.close()


PRODUCER = {"backbone": "tiny", "answerer": "abc", "vision_dtype": "float32", "language_dtype": "float32"}


def test_pseudo_label_cache_of_another_answerer_is_refused(tmp_path):
    cache = PseudoLabelCache(tmp_path, PRODUCER)
    cache.store("q1", 3, True)
    cache.store("q1", 9, False)
    cache.flush()
    assert [PseudoLabelCache(tmp_path, PRODUCER).lookup("q1", index) for index in (3, 9, 4)] == [True, False, None]
    with pytest.raises(SevilaError, match=r"made by another model \(answerer differ"):
        PseudoLabelCache(tmp_path, {**PRODUCER, "answerer": "def"})
    (tmp_path / "producer.json").unlink()
    with pytest.raises(SevilaError, match="the Answerer that made it is unknown; delete the folder"):
        PseudoLabelCache(tmp_path, PRODUCER)


def test_refine_refuses_labels_of_a_different_answerer(tmp_path, tiny_backbone_dir, tiny_benchmark, capsys):
    from sevila.model.head_weights import save_heads
    from sevila.stages import FinetuneAnswerer

    answerer = FinetuneAnswerer(backbone=str(tiny_backbone_dir), num_keyframes=2)
    with torch.no_grad():
        answerer.model.answerer.head.query_tokens.add_(1.0)
    save_heads(answerer.model, tmp_path / "answerer.safetensors", ["answerer"], "finetune_answerer")

    def refine(name: str, **model) -> int:
        overlay = write_overlay(tmp_path / f"{name}.yaml", tiny_backbone_dir, tiny_benchmark, "qa",
                                model={"cache_dir": str(tmp_path / "labels"), **model},
                                trainer={"default_root_dir": str(tmp_path / name), "max_steps": 1,
                                         "limit_val_batches": 0})
        return run_stage("fit", "refine_localizer", "demo_qa", overlay)

    assert refine("zero_shot_answerer") == 0
    labels = (tmp_path / "labels" / "pseudo_labels.rank0.json").read_text()
    assert refine("fine_tuned_answerer", init_answerer=str(tmp_path / "answerer.safetensors")) == 2
    assert "labels: pseudo-labels were made by another model (answerer differ" in capsys.readouterr().err
    assert (tmp_path / "labels" / "pseudo_labels.rank0.json").read_text() == labels



def test_checkpoint_save_that_fails_midway_leaves_the_previous_checkpoint(tmp_path):
    from sevila.stages.cli import AtomicCheckpointIO

    target = tmp_path / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"global_step": 4}, target)
    with pytest.raises(Exception):
        AtomicCheckpointIO().save_checkpoint({"global_step": 6, "unpicklable": lambda: None}, target)
    assert torch.load(target, weights_only=False) == {"global_step": 4}
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # no temp file left behind
