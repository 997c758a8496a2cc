"""Load the frozen BLIP-2 parts (EVA ViT, Q-Former init, query tokens, projection, Flan-T5, tokenizer)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from torch import nn
from transformers import AutoTokenizer, Blip2ForConditionalGeneration, PreTrainedTokenizerBase

from sevila.errors import SevilaError
from sevila.model.hf_progress import progress_on_terminal
from sevila.model.t5_ties import untied_config

log = logging.getLogger(__name__)

DEFAULT_BACKBONE = "Salesforce/blip2-flan-t5-xl"
VISION_NORM_EPS = 1e-5  # LAVIS `ln_vision` eps; HF's post_layernorm carries the ViT's 1e-6 (method §10)


@dataclass
class Blip2Parts:
    """The pieces of one BLIP-2 checkpoint that SeViLA wires together."""

    vision_model: nn.Module  # Blip2VisionModel; SeViLA reads its features before `post_layernorm`
    vision_norm: nn.LayerNorm  # BLIP-2's `ln_vision`: initialises both modules' own norms
    qformer: nn.Module  # Blip2QFormerModel: initialises both Q-Formers
    query_tokens: nn.Parameter  # (1, Q, Dq)
    language_projection: nn.Linear  # Dq -> Dt
    language_model: nn.Module  # T5ForConditionalGeneration, shared by both modules and frozen
    tokenizer: PreTrainedTokenizerBase
    name: str  # where the weights came from, stored in checkpoints to detect a backbone mismatch


def _offline_hint(name: str) -> str:
    return (
        f"BLIP-2 weights {name!r} are not available: pass a local directory holding a "
        f"`save_pretrained` copy, or download it on a machine with network "
        f"(`huggingface-cli download {name}`) and copy the Hugging Face cache (HF_HOME) here"
    )


def _vision_norm(post_layernorm: nn.LayerNorm) -> nn.LayerNorm:
    norm = nn.LayerNorm(post_layernorm.normalized_shape, eps=VISION_NORM_EPS)
    norm.load_state_dict(post_layernorm.state_dict())
    return norm


def load_blip2(name_or_dir: str | os.PathLike[str] = DEFAULT_BACKBONE) -> Blip2Parts:
    """Load BLIP-2 with `from_pretrained` (a hub name or a local directory), in fp32 on CPU."""
    name = str(name_or_dir)
    local = Path(name).expanduser()
    if local.exists() and not (local / "config.json").is_file():
        raise SevilaError(f"{local}: no config.json; expected a directory written by `save_pretrained`")
    try:
        config = untied_config(local) if local.exists() else None
        with progress_on_terminal():
            model = Blip2ForConditionalGeneration.from_pretrained(
                name, config=config, dtype=torch.float32, low_cpu_mem_usage=True, attn_implementation="sdpa"
            )
        tokenizer = AutoTokenizer.from_pretrained(name)
    except OSError as error:
        raise SevilaError(f"{_offline_hint(name)} ({error.__class__.__name__}: {str(error).splitlines()[0]})") from error
    except (ValueError, SafetensorError) as error:  # a damaged config.json or weights file; JSONDecodeError too
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise SevilaError(
            f"{name}: not a readable BLIP-2 folder ({reason}); write it again (`save_pretrained`, "
            "`sevila import-checkpoint --backbone-output`) or pass another --backbone"
        ) from error
    log.info("loaded BLIP-2 backbone from %s", name)
    return parts_from_model(model, tokenizer, name)


def parts_from_model(model: Blip2ForConditionalGeneration, tokenizer: PreTrainedTokenizerBase, name: str) -> Blip2Parts:
    """Split a loaded BLIP-2 into the parts SeViLA uses."""
    return Blip2Parts(
        vision_model=model.vision_model,
        vision_norm=_vision_norm(model.vision_model.post_layernorm),
        qformer=model.qformer,
        query_tokens=model.query_tokens,
        language_projection=model.language_projection,
        language_model=model.language_model,
        tokenizer=tokenizer,
        name=name,
    )
