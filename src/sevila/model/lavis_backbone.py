"""A whole LAVIS BLIP-2 / SeViLA state dict -> the frozen backbone as a Hugging Face BLIP-2 `save_pretrained` folder."""

from __future__ import annotations

import json
import logging
import re
import shutil
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import torch
from torch import Tensor
from transformers import AutoTokenizer, Blip2Config, Blip2ForConditionalGeneration, PreTrainedTokenizerBase
from transformers.tokenization_utils_base import ADDED_TOKENS_FILE, SPECIAL_TOKENS_MAP_FILE, TOKENIZER_CONFIG_FILE

from sevila.errors import SevilaError
from sevila.io import atomic_dir
from sevila.model.full_size import full_size_config
from sevila.model.hf_progress import progress_on_terminal
from sevila.model.lavis_keys import backbone_skip_reason, fit_state_dict, log_skipped, rename_backbone_key
from sevila.model.t5_ties import store_untied
from sevila.model.tiny import untie_lm_head

log = logging.getLogger(__name__)

BUNDLED_CONFIG = "src/sevila/model/configs/blip2-flan-t5-xl.json"
_Q_BIAS = re.compile(r"(visual_encoder\.blocks\.\d+\.attn\.)q_bias")
_BACKBONE_HINT = (
    "The backbone needs a whole state dict (model.state_dict(): visual_encoder.*, ln_vision.*, Qformer.*, "
    "query_tokens, t5_proj.*, t5_model.*; a training checkpoint such as sevila_pretrained.pth leaves the frozen "
    "ViT and T5 out) and a --config with its sizes"
)


@dataclass(frozen=True)
class BackboneExport:
    """Where the frozen backbone goes, with which shapes and which tokenizer."""

    output_dir: Path  # a new or empty folder, filled as `save_pretrained` does
    tokenizer: str  # hub name or local folder of the tokenizer the checkpoint was trained with
    config: Path | None = None  # a Blip2Config JSON; None: the bundled blip2-flan-t5-xl config


def read_blip2_config(path: Path | None) -> Blip2Config:
    """The BLIP-2 config to build the backbone with; None gives the bundled blip2-flan-t5-xl config."""
    if path is None:
        return full_size_config()
    if not path.is_file():
        raise SevilaError(f"--config {path}: BLIP-2 config not found; pass a Blip2Config JSON like {BUNDLED_CONFIG}")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as error:  # JSONDecodeError, UnicodeDecodeError, a number too long
        reason = str(error) if not isinstance(error, RecursionError) else "nested too deeply"
        raise SevilaError(f"--config {path}: not valid JSON ({reason}); pass a Blip2Config JSON") from error
    found = payload.get("model_type") if isinstance(payload, dict) else type(payload).__name__
    if found != "blip-2":
        raise SevilaError(f"--config {path}: expected a BLIP-2 config (model_type 'blip-2'), found {found!r}")
    try:
        return Blip2Config.from_dict(payload)
    except (TypeError, ValueError) as error:
        raise SevilaError(f"--config {path}: not a valid Blip2Config ({str(error).splitlines()[0]})") from error


def fuse_eva_qkv_bias(lavis: dict[str, Tensor]) -> dict[str, Tensor]:
    """EVA's `q_bias` and `v_bias` -> one `qkv.bias` = [q, 0, v] as Hugging Face holds it (EVA has no key bias)."""
    fused = dict(lavis)
    for key in lavis:
        match = _Q_BIAS.fullmatch(key)
        if match is not None and f"{match.group(1)}v_bias" in lavis:
            q_bias, v_bias = fused.pop(key), fused.pop(f"{match.group(1)}v_bias")
            fused[f"{match.group(1)}qkv.bias"] = torch.cat([q_bias, torch.zeros_like(q_bias), v_bias])
    return fused


def convert_backbone(lavis: dict[str, Tensor], config: Blip2Config, config_name: str) -> Blip2ForConditionalGeneration:
    """BLIP-2 built from `config` holding the LAVIS frozen ViT, `ln_vision`, unsuffixed Q-Former head and T5.

    Built on the meta device and filled by assignment, so a full-size model costs no second copy of its weights.
    """
    with torch.device("meta"):
        model = Blip2ForConditionalGeneration(config)
        untie_lm_head(model)  # Flan-T5's lm_head is its own matrix (method §10); a fresh T5 ties it
    what = f"BLIP-2 config {config_name}"
    target = model.state_dict()
    converted, skipped = fit_state_dict(
        fuse_eva_qkv_bias(lavis), target, rename_backbone_key, backbone_skip_reason, what, _BACKBONE_HINT
    )
    log_skipped(log, skipped)
    model.load_state_dict(converted, assign=True)
    left = [name for name, t in chain(model.named_parameters(), model.named_buffers()) if t.is_meta]
    assert not left, f"BLIP-2 tensors outside its state dict stayed unset: {left[:5]}"
    store_untied(model)  # T5's matrices as LAVIS holds them, each stored, so loading ties none
    return model.eval()


def load_tokenizer(source: str, config: Blip2Config) -> PreTrainedTokenizerBase:
    """The tokenizer to ship with the backbone; it must fit the language model's vocabulary."""
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as error:
        raise SevilaError(
            f"--tokenizer {source}: no tokenizer there ({str(error).splitlines()[0]}); pass the folder (or hub name) "
            "of the tokenizer the checkpoint was trained with"
        ) from error
    vocab = config.text_config.vocab_size
    if len(tokenizer) > vocab:
        raise SevilaError(
            f"--tokenizer {source}: {len(tokenizer)} tokens, but the language model of the config has {vocab} "
            "embeddings; pass the tokenizer the checkpoint was trained with"
        )
    return tokenizer


def _write_tokenizer(tokenizer: PreTrainedTokenizerBase, source: str, folder: Path) -> None:
    local = Path(source).expanduser()
    if not local.is_dir():
        tokenizer.save_pretrained(folder)
        return
    # Byte for byte: saving again with this transformers version may change how a trailing space is split (method §2).
    names = {*type(tokenizer).vocab_files_names.values(), TOKENIZER_CONFIG_FILE, SPECIAL_TOKENS_MAP_FILE}
    names.add(ADDED_TOKENS_FILE)
    for name in sorted(names):
        if (local / name).is_file():
            shutil.copyfile(local / name, folder / name)


def check_output_dir(out: Path) -> None:
    """The backbone folder must be new or empty: an old backbone is never mixed with or replaced by a new one."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise SevilaError(f"--backbone-output {out}: already exists and is not an empty folder; choose a new folder")


def write_backbone(
    model: Blip2ForConditionalGeneration, tokenizer: PreTrainedTokenizerBase, export: BackboneExport
) -> Path:
    """`save_pretrained` the backbone and its tokenizer into `export.output_dir`, atomically."""
    out = export.output_dir
    check_output_dir(out)
    with atomic_dir(out) as folder, progress_on_terminal():
        model.save_pretrained(folder)
        _write_tokenizer(tokenizer, export.tokenizer, folder)
    log.info("wrote the BLIP-2 backbone (%s) and its tokenizer into %s", type(model).__name__, out)
    return out
