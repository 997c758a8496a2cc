"""The original's optimiser: AdamW without decay on biases/norms/1-D, and its `linear_warmup_cosine_lr`.

The official scheduler (LAVIS `lavis/common/optims.py`, stepped by `lavis/tasks/base_task.py` once per
micro-batch) warms up linearly per micro-batch inside epoch 0 only, stays flat at the peak for the rest of
epoch 0, then holds `min + (peak - min) * 0.5 * (1 + cos(pi * e / E))` constant through each epoch e >= 1.
Here the lr is set per optimizer step of the global batch, from the micro-batch that step ends with in the
recipe (`recipe_accumulation` micro-batches per step), so every world size sees the official values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

Schedule = Literal["official", "cosine"]


@dataclass
class OptimizerSettings:
    """AdamW and learning-rate schedule settings of one stage."""

    lr: float = 3e-5  # peak learning rate
    weight_decay: float = 0.05  # applied to matrices only
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = 1000  # warm-up iterations: micro-batches of the recipe, as the official scheduler counts
    warmup_start_lr: float = 1e-8  # learning rate of iteration 0
    min_lr: float = 0.0  # the cosine's floor
    recipe_accumulation: int = 1  # micro-batches per optimizer step in the recipe the schedule comes from
    schedule: Schedule = "official"  # "official": per-epoch cosine; "cosine": smooth per-step cosine to min_lr


def parameter_groups(module: nn.Module, weight_decay: float) -> list[dict]:
    """Trainable parameters split into decayed matrices and undecayed biases, norms and 1-D tensors."""
    decay, no_decay = [], []
    for name, param in module.named_parameters():
        if not param.requires_grad:
            continue
        exempt = param.ndim < 2 or name.endswith(".bias") or "norm" in name.lower()
        (no_decay if exempt else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def warmup_lr(iteration: int, settings: OptimizerSettings) -> float:
    """The official warm-up at one micro-batch of epoch 0: linear from warmup_start_lr, capped at the peak."""
    rise = (settings.lr - settings.warmup_start_lr) * iteration / max(settings.warmup_steps, 1)
    return min(settings.lr, settings.warmup_start_lr + rise)


def official_lr(step: int, steps_per_epoch: int, max_epochs: int, settings: OptimizerSettings) -> float:
    """lr of optimizer step `step` (from 0): the official value at the last recipe micro-batch of that step."""
    epoch, step_in_epoch = divmod(step, steps_per_epoch)
    if epoch == 0:  # warm-up counts micro-batches and restarts never: epoch 0 only, cut short if it is longer
        return warmup_lr(settings.recipe_accumulation * (step_in_epoch + 1) - 1, settings)
    return settings.min_lr + (settings.lr - settings.min_lr) * 0.5 * (1 + math.cos(math.pi * epoch / max_epochs))


def cosine_lr(step: int, total_steps: int, settings: OptimizerSettings) -> float:
    """The smooth alternative: the same warm-up over optimizer steps, then a per-step cosine down to min_lr."""
    warmup = settings.warmup_steps / settings.recipe_accumulation  # optimizer steps
    if step < warmup:
        return warmup_lr(step * settings.recipe_accumulation, settings)
    progress = min(1.0, (step - warmup) / max(1.0, total_steps - warmup))
    return settings.min_lr + 0.5 * (settings.lr - settings.min_lr) * (1 + math.cos(math.pi * progress))


def lr_at(step: int, steps_per_epoch: int, max_epochs: int, settings: OptimizerSettings) -> float:
    """lr of optimizer step `step` under the settings' schedule."""
    if settings.schedule == "official":
        return official_lr(step, steps_per_epoch, max_epochs, settings)
    return cosine_lr(step, steps_per_epoch * max_epochs, settings)


def build_optimizer(module: nn.Module, settings: OptimizerSettings, steps_per_epoch: int, max_epochs: int) -> dict:
    """Lightning `configure_optimizers` result: AdamW with the schedule as a per-optimizer-step LambdaLR."""
    optimizer = torch.optim.AdamW(parameter_groups(module, settings.weight_decay), lr=settings.lr, betas=settings.betas)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_at(step, steps_per_epoch, max_epochs, settings) / settings.lr
    )
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
