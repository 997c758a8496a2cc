"""The optimiser and the lr schedule against the official formula, at NExT-QA stage-2 scale, for 1-8 processes."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from sevila.stages.global_batch import plan_batch
from sevila.stages.optim import OptimizerSettings, build_optimizer, cosine_lr, lr_at, parameter_groups

# NExT-QA stage 2 as run_scripts/sevila/finetune/nexqa_ft.sh runs it: 34,132 training questions, 4 GPUs x 8
# per GPU x accumulation 2, lr 3e-5 from 1e-8, warm-up 1000, 10 epochs (recipe.md §1, §2).
TRAIN, GPUS, PER_GPU, ACCUM, INIT, START, WARMUP, EPOCHS = 34132, 4, 8, 2, 3e-5, 1e-8, 1000, 10
NEXTQA = OptimizerSettings(lr=INIT, warmup_steps=WARMUP, warmup_start_lr=START, recipe_accumulation=ACCUM)


def official_step_lrs(init: float, warmup: int, epochs: int, iters_per_epoch: int, accum: int,
                      start: float = START, min_lr: float = 0.0) -> list[list[float]]:
    """Per epoch, the lr of each optimizer step of the official loop, written out from LAVIS: the scheduler
    is set every micro-batch i before its forward (base_task.py:195-211; optims.py:79-108), and the optimizer
    steps when (i + 1) % accum == 0 (base_task.py:223-229)."""
    epochs_lrs = []
    for epoch in range(epochs):
        lrs = []
        for i in range(iters_per_epoch):
            if epoch == 0:
                lr = min(init, start + (init - start) * i / max(warmup, 1))
            else:
                lr = (init - min_lr) * 0.5 * (1.0 + math.cos(math.pi * epoch / epochs)) + min_lr
            if (i + 1) % accum == 0:
                lrs.append(lr)
        epochs_lrs.append(lrs)
    return epochs_lrs


OFFICIAL_ITERS = math.ceil(TRAIN / GPUS) // PER_GPU  # DistributedSampler pads, the loader drops the last batch
OFFICIAL = official_step_lrs(INIT, WARMUP, EPOCHS, OFFICIAL_ITERS, ACCUM)


def our_steps_per_epoch(world: int) -> int:
    """Optimizer steps per epoch of our run: full per-device batches, Lightning steps on leftover micro-batches."""
    plan = plan_batch(64, world, max_device_batch=PER_GPU)
    batches = math.ceil(TRAIN / world) // plan.device_batch
    return math.ceil(batches / plan.accumulation)


def test_optim_no_decay_on_biases_norms_and_1d():
    head = nn.Module()
    head.proj, head.layernorm = nn.Linear(4, 4), nn.LayerNorm(4)
    head.query_tokens = nn.Parameter(torch.zeros(1, 2, 4))
    head.frozen = nn.Linear(4, 4).requires_grad_(False)
    names = {id(p): n for n, p in head.named_parameters()}
    decay, no_decay = parameter_groups(head, weight_decay=0.05)
    assert {names[id(p)] for p in decay["params"]} == {"proj.weight", "query_tokens"}
    assert {names[id(p)] for p in no_decay["params"]} == {"proj.bias", "layernorm.weight", "layernorm.bias"}
    assert decay["weight_decay"] == 0.05 and no_decay["weight_decay"] == 0.0


@pytest.mark.parametrize(("world", "device_batch", "accumulation"), [(1, 8, 8), (2, 8, 4), (4, 8, 2), (8, 8, 1)])
def test_optim_global_batch_is_the_official_64_on_any_world_size(world, device_batch, accumulation):
    plan = plan_batch(64, world, max_device_batch=PER_GPU)
    assert (plan.device_batch, plan.accumulation) == (device_batch, accumulation)
    assert plan.world_size * plan.device_batch * plan.accumulation == GPUS * PER_GPU * ACCUM == 64


def test_optim_official_shape_on_four_gpus_is_the_official_loop_step_for_step():
    assert OFFICIAL_ITERS == 1066 and our_steps_per_epoch(4) == 533 == len(OFFICIAL[0])
    ours = [lr_at(s, 533, EPOCHS, NEXTQA) for s in range(533 * EPOCHS)]
    assert ours == pytest.approx([lr for epoch in OFFICIAL for lr in epoch], rel=1e-12, abs=0)


@pytest.mark.parametrize("world", [1, 2, 4])
@pytest.mark.parametrize(("epoch", "step"), [(0, 0), (0, 1), (0, 250), (0, 498), (0, 499), (0, 500), (0, 532),
                                             (1, 0), (1, 532), (5, 100), (9, 0), (9, 532)])
def test_optim_lr_at_chosen_steps_equals_the_official_formula(world, epoch, step):
    per_epoch = our_steps_per_epoch(world)
    assert lr_at(epoch * per_epoch + step, per_epoch, EPOCHS, NEXTQA) == pytest.approx(OFFICIAL[epoch][step], rel=1e-12)


@pytest.mark.parametrize("world", [1, 2, 4])
def test_optim_warm_up_covers_the_official_32000_samples(world):
    per_epoch = our_steps_per_epoch(world)
    warming = [s for s in range(per_epoch) if lr_at(s, per_epoch, EPOCHS, NEXTQA) < INIT]
    assert warming == list(range(500))
    official_iterations = [i for i in range(OFFICIAL_ITERS) if START + (INIT - START) * i / WARMUP < INIT]
    assert len(warming) * 64 == len(official_iterations) * GPUS * PER_GPU == 32000


def test_optim_warm_up_longer_than_epoch_zero_is_cut_short():
    # QVHighlights stage 1: ceil(7218 / 4) // 16 = 112 iterations per epoch against a warm-up of 1000.
    qvh = OptimizerSettings(lr=INIT, warmup_steps=1000, warmup_start_lr=START, recipe_accumulation=1)
    official = official_step_lrs(INIT, 1000, 80, 112, 1)
    assert [lr_at(s, 112, 80, qvh) for s in (0, 111, 112, 112 * 79)] == pytest.approx(
        [official[0][0], official[0][111], official[1][0], official[79][0]], rel=1e-12)
    assert official[0][0] == START  # with accumulation 1, step 0 runs at warmup_start_lr
    assert official[0][111] == pytest.approx(1e-8 + (3e-5 - 1e-8) * 111 / 1000)  # about 3.34e-6 at most
    assert official[1][0] == pytest.approx(2.9988e-5, rel=1e-4)  # epoch 1 jumps to the cosine


def test_optim_smooth_cosine_option_reaches_min_lr():
    s = OptimizerSettings(lr=1e-3, warmup_steps=20, warmup_start_lr=0.0, recipe_accumulation=2, schedule="cosine")
    assert [cosine_lr(step, 110, s) for step in (0, 5, 10, 60, 110)] == pytest.approx([0.0, 5e-4, 1e-3, 5e-4, 0.0],
                                                                                   abs=1e-12)


def test_optim_scheduler_drives_adamw_learning_rate():
    head = nn.Linear(4, 4)
    settings = OptimizerSettings(lr=1e-3, warmup_steps=4, warmup_start_lr=0.0, recipe_accumulation=2)
    config = build_optimizer(head, settings, steps_per_epoch=2, max_epochs=2)
    optimizer, scheduler = config["optimizer"], config["lr_scheduler"]["scheduler"]
    assert isinstance(optimizer, torch.optim.AdamW) and optimizer.defaults["betas"] == (0.9, 0.999)
    seen = []
    for _ in range(4):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    # epoch 0: micro-batches 1 and 3 of the warm-up (1/4, 3/4 of the peak); epoch 1 of 2: cos(pi/2) -> half
    assert seen == pytest.approx([2.5e-4, 7.5e-4, 5e-4, 5e-4])
