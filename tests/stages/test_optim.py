from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from sevila.stages.optim import OptimizerSettings, build_optimizer, parameter_groups, warmup_cosine


class Head(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(4, 4)
        self.layernorm = nn.LayerNorm(4)
        self.query_tokens = nn.Parameter(torch.zeros(1, 2, 4))
        self.frozen = nn.Linear(4, 4).requires_grad_(False)


def test_optim_no_decay_on_biases_norms_and_1d():
    head = Head()
    names = {id(p): n for n, p in head.named_parameters()}
    decay, no_decay = parameter_groups(head, weight_decay=0.05)
    assert {names[id(p)] for p in decay["params"]} == {"proj.weight", "query_tokens"}
    assert {names[id(p)] for p in no_decay["params"]} == {"proj.bias", "layernorm.weight", "layernorm.bias"}
    assert decay["weight_decay"] == 0.05 and no_decay["weight_decay"] == 0.0


def test_optim_warmup_is_linear_from_start_lr():
    s = OptimizerSettings(lr=1e-3, warmup_steps=10, warmup_start_lr=1e-8)
    assert warmup_cosine(0, 100, s) == pytest.approx(1e-8)
    assert warmup_cosine(5, 100, s) == pytest.approx(1e-8 + (1e-3 - 1e-8) * 0.5)


def test_optim_cosine_reaches_min_lr_at_the_end():
    s = OptimizerSettings(lr=1e-3, warmup_steps=10, min_lr=0.0)
    assert warmup_cosine(10, 110, s) == pytest.approx(1e-3)
    assert warmup_cosine(60, 110, s) == pytest.approx(0.5e-3)
    assert warmup_cosine(110, 110, s) == pytest.approx(0.0, abs=1e-12)


def test_optim_scheduler_drives_adamw_learning_rate():
    head = Head()
    settings = OptimizerSettings(lr=1e-3, warmup_steps=2, warmup_start_lr=0.0, betas=(0.9, 0.999))
    config = build_optimizer(head, settings, total_steps=4)
    optimizer, scheduler = config["optimizer"], config["lr_scheduler"]["scheduler"]
    assert isinstance(optimizer, torch.optim.AdamW) and optimizer.defaults["betas"] == (0.9, 0.999)
    seen = []
    for _ in range(4):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert seen == pytest.approx([0.0, 5e-4, 1e-3, 1e-3 * 0.5 * (1 + math.cos(math.pi * 0.5))])
