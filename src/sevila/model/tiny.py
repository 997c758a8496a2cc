"""Build a tiny random BLIP-2 (+ local tokenizer) and save it, for tests and the demo's starting point."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from transformers import Blip2Config, Blip2ForConditionalGeneration, T5Config

from sevila.model.hf_progress import progress_on_terminal
from sevila.model.t5_ties import store_untied
from sevila.model.tokenizer import build_tokenizer


@dataclass(frozen=True)
class TinySize:
    """Dimensions of a tiny BLIP-2; defaults follow the house style (2-layer ViT of width 32, 4 queries)."""

    image_size: int = 32
    patch_size: int = 8
    vision_width: int = 32
    vision_layers: int = 2
    qformer_width: int = 32
    qformer_layers: int = 2
    num_query_tokens: int = 4
    text_width: int = 32
    text_layers: int = 2
    heads: int = 4


def tiny_config(vocab_size: int, size: TinySize = TinySize()) -> Blip2Config:
    """A BLIP-2 config shaped like blip2-flan-t5-xl (exact GELU, untied lm_head) but tiny."""
    text_config = T5Config(
        vocab_size=vocab_size,
        d_model=size.text_width,
        d_kv=size.text_width // size.heads,
        d_ff=size.text_width * 2,
        num_layers=size.text_layers,
        num_heads=size.heads,
        feed_forward_proj="gated-gelu",
        dense_act_fn="gelu",  # BLIP-2's Flan-T5 uses exact GELU, not the tanh default (method §10)
        tie_word_embeddings=False,
        decoder_start_token_id=0,
        dropout_rate=0.0,
    )
    vision_config = dict(
        hidden_size=size.vision_width,
        intermediate_size=size.vision_width * 4,
        num_hidden_layers=size.vision_layers,
        num_attention_heads=size.heads,
        image_size=size.image_size,
        patch_size=size.patch_size,
        layer_norm_eps=1e-6,
    )
    qformer_config = dict(
        hidden_size=size.qformer_width,
        intermediate_size=size.qformer_width * 4,
        num_hidden_layers=size.qformer_layers,
        num_attention_heads=size.heads,
        encoder_hidden_size=size.vision_width,
        cross_attention_frequency=1,
    )
    return Blip2Config(
        vision_config=vision_config,
        qformer_config=qformer_config,
        text_config=text_config.to_dict(),
        num_query_tokens=size.num_query_tokens,
    )


def untie_lm_head(model: Blip2ForConditionalGeneration) -> None:
    """Give T5 its own output matrix: a fresh T5 ties lm_head to the input embeddings, Flan-T5 does not (§10)."""
    language_model = model.language_model
    width = language_model.config.d_model
    # Untied T5 skips the d_model^-0.5 output rescaling, so the head itself starts at that scale.
    weight = torch.empty_like(language_model.shared.weight).normal_(std=width**-0.5)
    language_model.lm_head.weight = nn.Parameter(weight)


def build_tiny_backbone(
    output_dir: str | os.PathLike[str], extra_words: Iterable[str] = (), size: TinySize = TinySize(), seed: int = 0
) -> Path:
    """Create a random tiny BLIP-2 and its tokenizer, and `save_pretrained` both into `output_dir`."""
    torch.manual_seed(seed)
    tokenizer = build_tokenizer(extra_words)
    model = Blip2ForConditionalGeneration(tiny_config(len(tokenizer), size))
    untie_lm_head(model)
    store_untied(model)
    out = Path(output_dir)
    with progress_on_terminal():
        model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
