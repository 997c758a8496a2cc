"""The original's optimiser: AdamW without decay on biases/norms/1-D, linear warmup then cosine (method §6)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class OptimizerSettings:
    """AdamW and learning-rate schedule settings of one stage."""

    lr: float = 3e-5  # peak learning rate
    weight_decay: float = 0.05  # applied to matrices only
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = 1000  # optimizer steps of linear warmup
    warmup_start_lr: float = 1e-8  # learning rate at step 0
    min_lr: float = 0.0  # end of the cosine


def parameter_groups(module: nn.Module, weight_decay: float) -> list[dict]:
    """Trainable parameters split into decayed matrices and undecayed biases, norms and 1-D tensors."""
    decay, no_decay = [], []
    for name, param in module.named_parameters():
        if not param.requires_grad:
            continue
        exempt = param.ndim < 2 or name.endswith(".bias") or "norm" in name.lower()
        (no_decay if exempt else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def warmup_cosine(step: int, total_steps: int, settings: OptimizerSettings) -> float:
    """Learning rate at an optimizer step: linear from warmup_start_lr to lr, then cosine down to min_lr."""
    if step < settings.warmup_steps:
        return settings.warmup_start_lr + (settings.lr - settings.warmup_start_lr) * step / settings.warmup_steps
    decay_steps = max(1, total_steps - settings.warmup_steps)
    progress = min(1.0, (step - settings.warmup_steps) / decay_steps)
    return settings.min_lr + 0.5 * (settings.lr - settings.min_lr) * (1 + math.cos(math.pi * progress))


def build_optimizer(module: nn.Module, settings: OptimizerSettings, total_steps: int) -> dict:
    """Lightning `configure_optimizers` result: AdamW with a per-step warmup-cosine LambdaLR."""
    optimizer = torch.optim.AdamW(parameter_groups(module, settings.weight_decay), lr=settings.lr, betas=settings.betas)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: warmup_cosine(step, total_steps, settings) / settings.lr
    )
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
