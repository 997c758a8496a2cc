"""The full-size SeViLA on blip2-flan-t5-xl, built from the bundled config on the meta device (shapes, no weights)."""

from __future__ import annotations

import json
from importlib import resources

import torch
from transformers import Blip2Config, Blip2ForConditionalGeneration, PreTrainedTokenizerBase

from sevila.model.backbone import DEFAULT_BACKBONE, parts_from_model
from sevila.model.sevila import SeViLA
from sevila.model.tiny import untie_lm_head


def full_size_config() -> Blip2Config:
    """The config of Salesforce/blip2-flan-t5-xl, bundled so that no download is needed."""
    config_file = resources.files("sevila.model") / "configs" / "blip2-flan-t5-xl.json"
    return Blip2Config.from_dict(json.loads(config_file.read_text()))


def meta_blip2() -> Blip2ForConditionalGeneration:
    """The full-size BLIP-2 on the meta device: nothing is allocated."""
    with torch.device("meta"):
        model = Blip2ForConditionalGeneration(full_size_config())
        # A fresh T5 ties lm_head to the embeddings; from_pretrained of the real checkpoint unties it (method §10).
        untie_lm_head(model)
    return model


def meta_sevila(tokenizer: PreTrainedTokenizerBase, num_keyframes: int = 4) -> SeViLA:
    """The full-size SeViLA on the meta device; `tokenizer` only has to know SeViLA's prompt words."""
    with torch.device("meta"):
        return SeViLA(parts_from_model(meta_blip2(), tokenizer, DEFAULT_BACKBONE), num_keyframes)
