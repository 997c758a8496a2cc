"""Backbone folders store T5's untied matrices with a config that says so, and load without tying or warnings."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open
from transformers import Blip2ForConditionalGeneration

from sevila.model.backbone import load_blip2
from sevila.model.t5_ties import untied_config
from sevila.model.tiny import tiny_config, untie_lm_head
from sevila.model.tokenizer import build_tokenizer

T5_MATRICES = ("shared", "encoder.embed_tokens", "decoder.embed_tokens", "lm_head")


def _stored(folder: Path) -> set[str]:
    with safe_open(str(folder / "model.safetensors"), framework="pt") as handle:
        return {key for key in handle.keys() if key.startswith("language_model.")}


def test_tiny_backbone_folder_stores_every_t5_matrix_and_says_untied(tiny_backbone_dir: Path) -> None:
    config = json.loads((tiny_backbone_dir / "config.json").read_text())
    assert config["text_config"]["tie_word_embeddings"] is False
    assert {f"language_model.{name}.weight" for name in T5_MATRICES} <= _stored(tiny_backbone_dir)


def test_tiny_backbone_loads_untied_without_a_warning(tiny_backbone_dir: Path, capfd) -> None:
    t5 = load_blip2(tiny_backbone_dir).language_model
    err = capfd.readouterr().err
    assert "tie" not in err and "Loading weights" not in err  # no tied-weights warning; no bar off a terminal
    weights = {name: t5.get_parameter(f"{name}.weight") for name in T5_MATRICES}
    assert len({w.data_ptr() for w in weights.values()}) == 4  # four matrices, none tied to another
    assert torch.equal(weights["encoder.embed_tokens"], weights["shared"])  # as built: copies of the embedding
    assert torch.equal(weights["decoder.embed_tokens"], weights["shared"])
    assert not torch.equal(weights["lm_head"], weights["shared"])  # Flan-T5's own output matrix (method §10)
    assert t5.config.tie_word_embeddings is False and t5.config.scale_decoder_outputs is False


def test_folder_holding_one_shared_embedding_is_tied_as_transformers_ties_it(tmp_path: Path) -> None:
    torch.manual_seed(0)
    tokenizer = build_tokenizer()
    model = Blip2ForConditionalGeneration(tiny_config(len(tokenizer)))
    untie_lm_head(model)
    model.save_pretrained(tmp_path)  # transformers' own save: one embedding, tie_word_embeddings true
    tokenizer.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["text_config"]["tie_word_embeddings"] = False  # says untied, but the file lacks the embedding copies
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert "language_model.encoder.embed_tokens.weight" not in _stored(tmp_path)
    assert untied_config(tmp_path) is None
    t5 = load_blip2(tmp_path).language_model
    assert t5.encoder.embed_tokens.weight.data_ptr() == t5.shared.weight.data_ptr()  # tied, not re-initialised
    assert torch.equal(t5.lm_head.weight, model.language_model.lm_head.weight)
