"""The precision policy: which dtype each part of SeViLA computes in, whatever autocast surrounds the call.

The original (Yui010206/SeViLA: `convert_weights_to_fp16` in lavis/models/eva_vit.py, the train step of
lavis/tasks/base_task.py, the T5 blocks of lavis/models/sevila_models/sevila.py): the ViT's Linear/Conv weights are
fp16 and it runs under fp16 autocast (its norms and class/position embeddings stay fp32, so its residual stream is
fp32); the whole T5 is bf16 under bf16 autocast; the trainable heads keep fp32 weights and run under the train
step's fp16 autocast (with a GradScaler), but in plain fp32 at evaluation. Each part enters its own autocast here,
so an autocast a trainer opens around the step (Lightning's `*-mixed`) reaches only what no part claims.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

import torch
from torch import Tensor, nn

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(frozen=True)
class PrecisionPolicy:
    """The compute dtype of each part; all float32 (the default, the demo's) is plain fp32 everywhere."""

    vision: torch.dtype = torch.float32  # the ViT's Linear weights and its autocast (paper: float16)
    language: torch.dtype = torch.float32  # every T5 weight and its autocast (paper: bfloat16)
    heads_training: torch.dtype = torch.float32  # the heads' autocast in training (paper: float16); fp32 in eval

    def describe(self) -> dict[str, str]:
        """The policy as strings: what caches built from the model's outputs record."""
        return {"vision_dtype": _name(self.vision), "language_dtype": _name(self.language),
                "heads_training_dtype": _name(self.heads_training)}


def _name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def autocast_to(device: torch.device, dtype: torch.dtype) -> torch.autocast:
    """Autocast to `dtype` on `device`; for float32, autocast off, overriding any the caller opened."""
    if dtype == torch.float32:
        return torch.autocast(device.type, enabled=False)
    return torch.autocast(device.type, dtype=dtype)


def cast_vision(vision_model: nn.Module, dtype: torch.dtype) -> None:
    """The original's `convert_weights_to_fp16`: Linear weights and biases in `dtype`, everything else fp32.

    The patch convolution stays fp32 as well: Hugging Face casts the class and position embeddings to its
    dtype, and autocast runs it in `dtype` all the same, from the same rounded weights.
    """
    vision_model.float()
    for module in vision_model.modules():
        if isinstance(module, nn.Linear):
            module.to(dtype)


def promoted_cat(parts: list[Tensor], dim: int) -> Tensor:
    """`torch.cat` with type promotion (bf16 with fp16 or fp32 gives fp32), as it runs under CUDA autocast.

    CPU autocast instead refuses a mix of float16 and bfloat16 inputs ("Unexpected floating ScalarType").
    """
    dtype = reduce(torch.promote_types, (part.dtype for part in parts))
    return torch.cat([part.to(dtype) for part in parts], dim=dim)
