"""Real fits on 1 and 2 CPU processes (gloo): the global batch, its split and the lr per optimizer step."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import lightning as L
import pytest
import torch
from kill_switch import StepLog
from test_optim import official_step_lrs

from sevila.data.datamodules import DemoQA
from sevila.errors import SevilaError
from sevila.stages import FinetuneAnswerer
from sevila.stages.global_batch import plan_batch

# A recipe in miniature: 4 questions per optimizer step, at most 2 per device, the recipe accumulating 2
# micro-batches (of 2 questions) per step; warm-up 3 micro-batches, 2 epochs, 8 training questions.
RECIPE = dict(global_batch_size=4, max_device_batch_size=2, recipe_accumulation=2, lr=1e-3, warmup_steps=3,
              warmup_start_lr=1e-8)


def _eight_questions(tiny_benchmark: Path, root: Path) -> Path:
    shutil.copytree(tiny_benchmark / "qa", root / "qa")
    train = json.loads((root / "qa" / "train.json").read_text())
    extra = [{**record, "qid": f"{record['qid']}_copy"} for record in train[:2]]
    (root / "qa" / "train.json").write_text(json.dumps(train + extra))
    return root / "qa"


def _fit(tmp_path: Path, backbone: Path, annotations: Path, videos: Path, devices: int, **recipe) -> dict:
    module = FinetuneAnswerer(backbone=str(backbone), num_keyframes=2, **{**RECIPE, **recipe})
    log = tmp_path / f"steps_{devices}.json"
    trainer = L.Trainer(accelerator="cpu", devices=devices, strategy="ddp_spawn" if devices > 1 else "auto",
                        max_epochs=2, logger=False, enable_progress_bar=False, enable_checkpointing=False,
                        limit_val_batches=0, callbacks=[StepLog(str(log))])
    data = DemoQA(str(annotations), str(videos), num_frames=4, batch_size=8, num_workers=0, frame_size=32)
    trainer.fit(module, data)
    return json.loads(log.read_text())


@pytest.mark.parametrize(("devices", "device_batch", "accumulation"), [(1, 2, 2), (2, 2, 1)])
def test_global_batch_fit_steps_on_the_global_batch_with_the_official_lrs(
        tmp_path, tiny_backbone_dir, tiny_benchmark, devices, device_batch, accumulation):
    annotations = _eight_questions(tiny_benchmark, tmp_path / "data")
    record = _fit(tmp_path, tiny_backbone_dir, annotations, tiny_benchmark / "videos", devices)
    steps = record["steps"]
    # data.batch_size (8) is replaced: each process gets its share of 4 in micro-batches of at most 2
    assert {(s["device_batch"], s["accumulation"]) for s in steps} == {(device_batch, accumulation)}
    assert [s["items"] for s in steps] == [4, 4, 4, 4]  # 2 steps per epoch of 8 questions
    # the official loop on the same recipe: 8 / 2 = 4 micro-batches per epoch, a step at every second one
    official = official_step_lrs(1e-3, 3, 2, iters_per_epoch=4, accum=2, start=1e-8)
    assert official == [[1e-8 + (1e-3 - 1e-8) / 3, 1e-3], [5e-4, 5e-4]]
    assert [s["lr"] for s in steps] == pytest.approx([lr for epoch in official for lr in epoch], rel=1e-12)


class FirstGradient(L.Callback):
    """The trained head's query-token gradient at the first optimizer step."""

    def __init__(self) -> None:
        self.grad: torch.Tensor | None = None

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        if self.grad is None:
            self.grad = pl_module.model.answerer.head.query_tokens.grad.clone()


def test_global_batch_loss_is_summed_over_the_recipe_micro_batches(tmp_path, tiny_backbone_dir, tiny_benchmark):
    grads = {}
    for accumulation in (1, 2):
        L.seed_everything(0)
        module = FinetuneAnswerer(backbone=str(tiny_backbone_dir), num_keyframes=2,
                                  **{**RECIPE, "recipe_accumulation": accumulation})
        recorder = FirstGradient()
        trainer = L.Trainer(accelerator="cpu", devices=1, max_steps=1, logger=False, enable_progress_bar=False,
                            enable_checkpointing=False, limit_val_batches=0, callbacks=[recorder])
        trainer.fit(module, DemoQA(str(tiny_benchmark / "qa"), str(tiny_benchmark / "videos"), num_frames=4,
                                   num_workers=0, frame_size=32))
        grads[accumulation] = recorder.grad
    # Lightning averages its 2 micro-batches; the original sums the recipe's 2: twice the mean's gradient
    assert grads[1].abs().sum() > 0
    assert torch.allclose(grads[2], 2 * grads[1], rtol=1e-6, atol=0)


@pytest.mark.parametrize("world", [3, 5, 128])
def test_global_batch_that_does_not_divide_is_one_clear_error(world):
    with pytest.raises(SevilaError, match=rf"^model.global_batch_size is 64 but the run has {world} processes .* use "
                                          r"1, 2, 4, 8, 16, 32, 64 processes or change --model.init_args"):
        plan_batch(64, world, max_device_batch=8)


def test_global_batch_per_device_limit_picks_the_largest_divisor():
    assert plan_batch(64, 1, max_device_batch=6) == plan_batch(64, 1, max_device_batch=4)  # 4 x 16, not 6
    assert (plan_batch(64, 16, 8).device_batch, plan_batch(64, 16, 8).accumulation) == (4, 1)
    assert (plan_batch(64, 2).device_batch, plan_batch(64, 2).accumulation) == (32, 1)  # no limit: all at once


def test_global_batch_larger_than_the_training_split_is_one_clear_error(tmp_path, tiny_backbone_dir, tiny_benchmark):
    module = FinetuneAnswerer(backbone=str(tiny_backbone_dir), num_keyframes=2, global_batch_size=8)
    trainer = L.Trainer(accelerator="cpu", devices=1, max_epochs=1, logger=False, enable_progress_bar=False,
                        enable_checkpointing=False, default_root_dir=str(tmp_path))
    data = DemoQA(str(tiny_benchmark / "qa"), str(tiny_benchmark / "videos"), num_frames=4, num_workers=0,
                  frame_size=32)  # 6 training questions
    with pytest.raises(SevilaError, match=r"^the training split holds no full batch of 8 items per process .* lower "
                                          r"--model.init_args.global_batch_size"):
        trainer.fit(module, data)
