"""The trainer's precision plugin decides the trained heads' autocast in training steps (README "Precision")."""

from __future__ import annotations

import torch

from sevila.errors import SevilaError

# `*-mixed` keeps fp32 master weights and autocasts the step; 16-mixed adds the GradScaler the original uses.
HEADS_TRAINING_DTYPES = {"32-true": torch.float32, "16-mixed": torch.float16, "bf16-mixed": torch.bfloat16}


def heads_training_dtype(trainer_precision: str) -> torch.dtype:
    """The heads' autocast dtype in training under Lightning's `trainer.precision`; others are refused."""
    if trainer_precision not in HEADS_TRAINING_DTYPES:
        raise SevilaError(
            f"trainer.precision={trainer_precision!r}: expected one of {sorted(HEADS_TRAINING_DTYPES)}; the trained "
            "heads keep fp32 weights (16-mixed, the paper's: fp16 autocast and a GradScaler in training; the frozen "
            "ViT and T5 take model.vision_dtype and model.language_dtype)"
        )
    return HEADS_TRAINING_DTYPES[trainer_precision]
