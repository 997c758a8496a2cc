"""The two query heads' weight names and shapes, from a backbone's config alone: built on the meta device.

Importing the authors' checkpoint only needs to know what the heads look like; loading the 16 GB backbone
for that would cost minutes and memory for nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor
from transformers import Blip2Config, Blip2ForConditionalGeneration

from sevila.errors import SevilaError
from sevila.model.backbone import DEFAULT_BACKBONE, Blip2Parts, parts_from_model
from sevila.model.full_size import full_size_config
from sevila.model.lavis_backbone import read_blip2_config
from sevila.model.lavis_keys import HEAD_SUFFIXES
from sevila.model.query_head import FrameQueryHead


def backbone_config(backbone: str | os.PathLike[str]) -> Blip2Config:
    """The Blip2Config of a backbone folder or hub name (its config.json only); blip2-flan-t5-xl's is bundled."""
    local = Path(backbone).expanduser()
    if local.exists():
        return read_blip2_config(local / "config.json")
    if str(backbone) == DEFAULT_BACKBONE:
        return full_size_config()
    try:
        return Blip2Config.from_pretrained(str(backbone))
    except OSError as error:
        raise SevilaError(
            f"--backbone {backbone}: its config.json is not available offline ({str(error).splitlines()[0]}); pass "
            "the save_pretrained folder of the backbone the checkpoint was trained on"
        ) from error


def head_targets(config: Blip2Config) -> dict[str, Tensor]:
    """Meta tensors named as both heads' weights in a stage output (`localizer.head.*`, `answerer.head.*`)."""
    with torch.device("meta"):
        blip2 = Blip2ForConditionalGeneration(config)
        parts: Blip2Parts = parts_from_model(blip2, tokenizer=None, name="")  # type: ignore[arg-type]
        head = FrameQueryHead.from_blip2(parts)
    return {f"{module}.head.{key}": value for module in HEAD_SUFFIXES for key, value in head.state_dict().items()}
