"""Untied T5 matrices in a backbone folder: written apart, with a config that says so, and loaded as written.

Flan-T5's lm_head is its own matrix (method §10) and the demo backbone keeps its encoder and decoder embeddings
apart too. transformers 5.24's `T5Config` forces `tie_word_embeddings=True` whatever the saved config says, so
from_pretrained would tie them, find both matrices in the file with different values, warn once per matrix
("... we will NOT tie them") and keep them apart. `store_untied` writes every matrix and
`tie_word_embeddings: false`; `untied_config` gives that value back to the loaded config when the file holds
every matrix the config would tie, so nothing is tied, nothing is re-initialised and nothing is warned about.
"""

from __future__ import annotations

import json
from pathlib import Path

from safetensors import safe_open
from torch import nn
from transformers import Blip2Config, Blip2ForConditionalGeneration
from transformers.models.auto.modeling_auto import MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING

WEIGHTS = "model.safetensors"
WEIGHTS_INDEX = "model.safetensors.index.json"


def store_untied(model: Blip2ForConditionalGeneration) -> None:
    """Before `save_pretrained`: each tied matrix becomes its own copy (same values) and the config says untied."""
    for target, source in model.get_expanded_tied_weights_keys(all_submodels=True).items():
        shared = model.get_parameter(source)
        if model.get_parameter(target).data_ptr() != shared.data_ptr():
            continue  # already its own matrix (Flan-T5's lm_head)
        owner, _, name = target.rpartition(".")
        copy = nn.Parameter(shared.detach().clone(), requires_grad=shared.requires_grad)
        setattr(model.get_submodule(owner), name, copy)
    model.config.text_config.tie_word_embeddings = False
    model.all_tied_weights_keys = model.get_expanded_tied_weights_keys(all_submodels=True)


def untied_config(folder: Path) -> Blip2Config | None:
    """The folder's config with its saved `tie_word_embeddings: false` kept, if its weights hold every matrix."""
    raw = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    text = raw.get("text_config") if isinstance(raw, dict) else None
    if not isinstance(text, dict) or text.get("tie_word_embeddings") is not False:
        return None
    config = Blip2Config.from_pretrained(folder)
    language_class = MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING.get(type(config.text_config), None)
    tied = getattr(language_class, "_tied_weights_keys", None) or {}
    stored = _weight_names(folder)
    if not all(f"language_model.{name}" in stored for name in (*tied, *tied.values())):
        return None  # the file keeps one shared matrix: let transformers tie it
    config.text_config.tie_word_embeddings = False
    return config


def _weight_names(folder: Path) -> set[str]:
    """The tensor names a `save_pretrained` folder's safetensors hold (header only)."""
    if (folder / WEIGHTS_INDEX).is_file():
        return set(json.loads((folder / WEIGHTS_INDEX).read_text(encoding="utf-8")).get("weight_map", {}))
    if not (folder / WEIGHTS).is_file():
        return set()
    with safe_open(str(folder / WEIGHTS), framework="pt") as handle:
        return set(handle.keys())
